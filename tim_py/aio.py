"""``AsyncTIM``: the client whose calls are awaitable (asyncio).

Completions are drained on the event loop itself: the loop watches the
bridge's eventfd (``loop.add_reader``) and resolves the futures directly, with
no thread hop per result.  The client binds to the running loop when it is
created inside one (or at its first call / ``async with``); calls must then
come from that loop.
"""
from __future__ import annotations

import asyncio
import inspect
import os
import threading
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Dict,
    FrozenSet,
    List,
    Literal,
    Optional,
    Sequence,
    Set,
    Union,
    overload,
)

from ._bridge import drain, fail_pending
from ._core import _Core, _EventQueue, closed_before_completion
from ._ffi import lib
from .types import Event

if TYPE_CHECKING:
    from .admin import AccountPage, Admin, EventPage
    from .lowlevel import _TypedRaw
    from .types import Options, Profile, UserStatus

__all__ = ["AsyncTIM", "EventStream"]

_get_running_loop = asyncio.get_running_loop
_get_ident = threading.get_ident


class EventStream(_EventQueue):
    """An async iterator of ``Event`` with a bounded queue (``AsyncTIM.events()``).

    When more than ``maxsize`` events wait, the oldest are dropped and counted
    in ``dropped``.  The stream ends when the client closes or on ``aclose()``.
    """

    _client: "AsyncTIM"

    def __init__(self, client: "AsyncTIM", names: FrozenSet[str], maxsize: int) -> None:
        super().__init__(client, names, maxsize)
        self._waiter: Optional[asyncio.Future[None]] = None

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            try:
                w.set_result(None)
            except RuntimeError:  # its loop has closed
                pass

    def __aiter__(self) -> "EventStream":
        return self

    async def __anext__(self) -> Event:
        while True:
            if self._queue:
                return self._queue.popleft()
            if self._ended:
                raise StopAsyncIteration
            self._client._ensure_loop()
            self._waiter = _get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def aclose(self) -> None:
        self._close()

    async def __aenter__(self) -> "EventStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()


class AsyncTIM(_Core):
    """The IM client for asyncio: the same methods as ``TIM``, returning awaitables.

    ``async with AsyncTIM(sdk_app_id, data_dir) as tim: await tim.login(...)``;
    ``data_dir`` may be a ``postgresql://`` URI, as for ``TIM``.
    ``await tim.close()`` calls ``TIMUninit``; pending calls then raise
    ``CallInterrupted``.  Handlers given to ``on()`` run on the event loop (a
    coroutine function's coroutine is scheduled as a task).  ``events()`` is an
    async iterator of events.
    """

    _loop: Optional[asyncio.AbstractEventLoop] = None

    def _start(self) -> None:
        self._fd = lib.tp_eventfd()
        self._tasks: Set[asyncio.Task[Any]] = set()
        try:
            loop = _get_running_loop()
        except RuntimeError:
            return  # bind at the first call
        self._bind(loop)

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is None:
            self._loop = loop
            loop.add_reader(self._fd, self._on_readable)
            loop.call_soon(self._drain)  # anything queued before we were watching
        elif self._loop is not loop:
            raise RuntimeError(
                "this AsyncTIM is bound to another event loop; use it from the loop it was first "
                "used in, or close it and open a new client"
            )

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        loop = _get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        return loop

    def _new_future(self) -> asyncio.Future[Any]:
        loop = self._loop
        # The common case, the bound loop calling from its own thread, without
        # get_running_loop() (which costs a getpid() system call per call).
        if loop is not None and getattr(loop, "_thread_id", None) == _get_ident():
            return loop.create_future()
        try:
            loop = _get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "AsyncTIM methods must be called from a coroutine running in an asyncio event loop; "
                "use tim_py.TIM outside asyncio"
            ) from None
        if loop is not self._loop:
            self._bind(loop)
        return loop.create_future()

    def _on_readable(self) -> None:
        try:
            os.read(self._fd, 8)
        except BlockingIOError:  # pragma: no cover
            pass
        drain(self._on_event)

    def _drain(self) -> None:
        drain(self._on_event)

    def _deliver(self, handler: Callable[[Event], Any], event: Event) -> None:
        r = handler(event)
        if inspect.isawaitable(r):
            task = asyncio.ensure_future(r)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    # ---- close -------------------------------------------------------------------

    def _stop_delivery(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            try:
                loop.remove_reader(self._fd)
            except Exception:  # a loop being torn down
                pass

    def _final_drain(self) -> None:
        loop = self._loop
        on_loop = loop is None or asyncio._get_running_loop() is loop
        if not on_loop and loop is not None and loop.is_running() and not loop.is_closed():
            # The loop runs in another thread: resolve its futures there.
            done = threading.Event()

            def run() -> None:
                try:
                    while drain(self._on_event):
                        pass
                    fail_pending(closed_before_completion)
                finally:
                    done.set()

            try:
                loop.call_soon_threadsafe(run)
            except RuntimeError:
                pass
            else:
                if done.wait(10):
                    return
        while drain(self._on_event):
            pass

    async def close(self) -> None:
        """``TIMUninit``: pending calls raise CallInterrupted, the loop stops watching."""
        self._close_impl()

    async def aclose(self) -> None:
        """Alias of ``close()``."""
        self._close_impl()

    async def __aenter__(self) -> "AsyncTIM":
        self._ensure_loop()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._close_impl()

    # ---- events --------------------------------------------------------------------

    def events(self, *names: str, maxsize: int = 1024) -> EventStream:
        """An async iterator of events (all of them, or only ``names``).

        ``async for event in tim.events(): ...`` -- the stream is registered
        when this is called, so events after this point are not missed.  At
        most ``maxsize`` events wait; beyond that the oldest are dropped (see
        ``EventStream.dropped``).
        """
        stream = EventStream(self, self._event_names(names, maxsize), maxsize)
        self._add_stream(stream)
        return stream

    # What each method returns, for type checkers (the methods are _Core's).
    if TYPE_CHECKING:
        admin: _AsyncAdmin
        raw: _TypedRaw[asyncio.Future[Any]]

        def login(self, user_id: str, user_sig: str) -> asyncio.Future[None]: ...
        def logout(self) -> asyncio.Future[None]: ...
        def get_my_profile(self) -> asyncio.Future[Profile]: ...
        def get_user_profile(
            self, user_id_list: Union[Sequence[str], Options]) -> asyncio.Future[List[Profile]]: ...
        def update_my_profile(
            self, options: Optional[Options] = None, /, **fields: Any) -> asyncio.Future[Profile]: ...
        def get_user_status(
            self, user_id_list: Union[Sequence[str], Options]) -> asyncio.Future[List[UserStatus]]: ...
        def set_self_status(self, custom_status: Union[str, Options]) -> asyncio.Future[None]: ...
        def subscribe_user_status(self, user_id_list: Union[Sequence[str], Options]) -> asyncio.Future[None]: ...
        def unsubscribe_user_status(
            self, user_id_list: Union[Sequence[str], Options, None] = None) -> asyncio.Future[None]: ...
        def subscribe_user_info(self, user_id_list: Union[Sequence[str], Options]) -> asyncio.Future[None]: ...
        def unsubscribe_user_info(
            self, user_id_list: Union[Sequence[str], Options, None] = None) -> asyncio.Future[None]: ...


if TYPE_CHECKING:
    class _AsyncAdmin(Admin):
        def request(self, api: str, body: Dict[str, Any]) -> asyncio.Future[Dict[str, Any]]: ...
        def request_raw(self, api: str, body: bytes) -> asyncio.Future[bytes]: ...
        def import_account(self, user_id: str, nick: Optional[str] = None,
                           avatar: Optional[str] = None) -> asyncio.Future[None]: ...
        def import_accounts(self, user_ids: Sequence[str]) -> asyncio.Future[List[str]]: ...
        def delete_accounts(self, user_ids: Sequence[str]) -> asyncio.Future[Dict[str, int]]: ...
        def get_portrait(self, user_ids: Sequence[str],
                         tags: Sequence[str]) -> asyncio.Future[Dict[str, Dict[str, Any]]]: ...
        def set_portrait(self, user_id: str, tags: Optional[Dict[str, Any]] = None,
                         **fields: Any) -> asyncio.Future[None]: ...
        @overload
        def query_online_status(
            self, user_ids: Sequence[str], detail: Literal[False] = False,
            custom_status: Literal[False] = False) -> asyncio.Future[Dict[str, str]]: ...
        @overload
        def query_online_status(self, user_ids: Sequence[str], detail: bool = False,
                                custom_status: bool = False) -> asyncio.Future[Dict[str, Dict[str, Any]]]: ...
        def query_online_status(self, user_ids: Sequence[str], detail: bool = False,
                                custom_status: bool = False) -> Any: ...
        def check_accounts(self, user_ids: Sequence[str]) -> asyncio.Future[Dict[str, bool]]: ...
        def kick(self, user_id: str) -> asyncio.Future[None]: ...
        def check_usersig(self, user_id: str, user_sig: str) -> asyncio.Future[None]: ...
        def set_user_status(self, user_id: str, status_type: Any,
                            custom_status: Optional[str] = None) -> asyncio.Future[None]: ...
        def list_accounts(self, match: Optional[str] = None, after: Optional[str] = None,
                          limit: int = 100) -> asyncio.Future[AccountPage]: ...
        def events(self, after: Optional[int] = None, limit: int = 100) -> asyncio.Future[EventPage]: ...
        def world_export(self, include_status: bool = False) -> asyncio.Future[Dict[str, Any]]: ...
        def world_import(
            self, snapshot: Union[Dict[str, Any], bytes, bytearray, memoryview]) -> asyncio.Future[int]: ...
        def world_reset(self) -> asyncio.Future[int]: ...
