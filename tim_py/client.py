"""``TIM``: the client whose calls return ``concurrent.futures.Future``.

Completions are delivered by one daemon thread that tim_py owns (the
dispatcher); event handlers run on it too, never on the C library's logic
thread.  Do not block on another call's result inside a handler or a future's
done-callback: they run on the dispatcher, which would then wait for itself
(``result()`` raises RuntimeError there instead of hanging).  ``events()`` is
a blocking iterator of events, for a thread of the program's own.
"""
from __future__ import annotations

import collections
import concurrent.futures
import concurrent.futures._base as _cf_base
import math
import threading
from typing import (
    TYPE_CHECKING,
    Any,
    Deque,
    Dict,
    FrozenSet,
    List,
    Literal,
    Optional,
    Sequence,
    TypeVar,
    Union,
    overload,
)

from ._bridge import Dispatcher, drain
from ._core import _Core, _EventQueue, type_name
from .types import Event

if TYPE_CHECKING:
    from .admin import AccountPage, Admin, EventPage
    from .lowlevel import _TypedRaw
    from .types import Options, Profile, UserStatus

__all__ = ["TIM", "Future", "EventIterator"]

_T = TypeVar("_T")

_dispatcher_ident: List[Optional[int]] = [None]
_get_ident = threading.get_ident
_RLock = threading.RLock
_deque = collections.deque

_DEADLOCK = ("waiting for a tim_py result on the dispatcher thread (inside an event handler or "
             "a done-callback) would deadlock; use add_done_callback instead")


class _Condition(threading.Condition):
    """The condition of a tim_py ``Future``: a ``threading.Condition`` over a new ``RLock``.

    ``threading.Condition.__init__`` binds five of its lock's methods onto every instance
    (``acquire``, ``release``, ``_release_save``, ``_acquire_restore``, ``_is_owned``): five
    objects for the garbage collector and about 0.4 us per future, which a stream of calls
    makes one of per call.  Here they are found through the class instead: each property
    gives the very bound method the attribute would hold, so the condition behaves the same.
    """

    def __init__(self) -> None:  # no super().__init__(): what it binds is the cost saved
        self._lock = _RLock()
        self._waiters: Deque[Any] = _deque()

    acquire = property(lambda self: self._lock.acquire)
    release = property(lambda self: self._lock.release)
    _release_save = property(lambda self: self._lock._release_save)
    _acquire_restore = property(lambda self: self._lock._acquire_restore)
    _is_owned = property(lambda self: self._lock._is_owned)


_PENDING, _FINISHED = _cf_base.PENDING, _cf_base.FINISHED
_RESOLVED = frozenset((_cf_base.CANCELLED, _cf_base.CANCELLED_AND_NOTIFIED, _cf_base.FINISHED))

# The state concurrent.futures.Future.__init__ sets, which Future.__init__ below sets itself
# (with the lighter condition); on a Python whose Future holds anything else, Future keeps the
# standard __init__ and set_result (tests/test_call_path.py checks which one runs here).
_FUTURE_STATE = ("_condition", "_state", "_result", "_exception", "_waiters", "_done_callbacks")
LEAN_FUTURE = tuple(concurrent.futures.Future().__dict__) == _FUTURE_STATE


class Future(concurrent.futures.Future[_T]):
    """A ``concurrent.futures.Future`` that refuses to deadlock its own dispatcher.

    It is made and resolved with less work than the standard one (one of each per call):
    its condition binds no methods (``_Condition``), and ``set_result`` skips the
    notification and the callbacks' loop when nobody waits and no callback is set.  What it
    does is the same: the same state, the same waiters told, the same callbacks, the same
    errors.
    """

    if LEAN_FUTURE:
        def __init__(self) -> None:  # concurrent.futures.Future.__init__, with _Condition
            self._condition = _Condition()
            self._state = _PENDING
            self._result = None
            self._exception = None
            self._waiters: List[Any] = []
            self._done_callbacks: List[Any] = []

        def set_result(self, result: _T) -> None:
            """``concurrent.futures.Future.set_result``, without the calls that do nothing."""
            cond = self._condition
            with cond:
                if self._state in _RESOLVED:
                    raise concurrent.futures.InvalidStateError(f"{self._state}: {self!r}")
                self._result = result
                self._state = _FINISHED
                for waiter in self._waiters:
                    waiter.add_result(self)
                if cond._waiters:  # type: ignore[attr-defined]
                    cond.notify_all()
            if self._done_callbacks:
                self._invoke_callbacks()  # type: ignore[attr-defined]

    def result(self, timeout: Optional[float] = None) -> _T:
        if self._state == _FINISHED and self._exception is None:
            # Resolved for good (a finished future never changes, and its result is set
            # before its state): nothing to wait for, no lock to take.
            return self._result  # type: ignore[return-value]
        if _get_ident() == _dispatcher_ident[0] and not self.done():
            raise RuntimeError(_DEADLOCK)
        return super().result(timeout)

    def cancel(self) -> bool:
        """Cancel a pending call's future: its result is dropped when it arrives.

        Waiters (``concurrent.futures.wait``, ``as_completed``) are told at once.
        """
        if not super().cancel():
            return False
        self.set_running_or_notify_cancel()
        return True

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        if _get_ident() == _dispatcher_ident[0] and not self.done():
            raise RuntimeError(
                "waiting for a tim_py result on the dispatcher thread would deadlock"
            )
        return super().exception(timeout)


class EventIterator(_EventQueue):
    """A blocking iterator of ``Event`` with a bounded queue (``TIM.events()``).

    When more than ``maxsize`` events wait, the oldest are dropped and counted
    in ``dropped``.  Iteration ends (StopIteration: the ``for`` loop ends) when
    the client closes, after ``close()``, or when no event came within
    ``timeout`` seconds; after a timeout the iterator still collects events, and
    iterating it again goes on with them.  ``with tim.events() as events:``
    closes it on exit.
    """

    def __init__(self, client: "TIM", names: FrozenSet[str], maxsize: int,
                 timeout: Optional[float]) -> None:
        super().__init__(client, names, maxsize)
        self.timeout = timeout
        self._cond = threading.Condition(threading.Lock())

    def _put(self, event: Event) -> None:
        with self._cond:
            super()._put(event)

    def _end(self) -> None:
        with self._cond:
            super()._end()

    def _wake(self) -> None:  # with the lock held
        self._cond.notify_all()

    def _ready(self) -> bool:
        return bool(self._queue) or self._ended

    def __iter__(self) -> "EventIterator":
        return self

    def __next__(self) -> Event:
        with self._cond:
            if not self._queue and not self._ended:
                if _get_ident() == _dispatcher_ident[0]:
                    raise RuntimeError("waiting for an event on the dispatcher thread (inside an "
                                       "event handler or a done-callback) would deadlock")
                self._cond.wait_for(self._ready, self.timeout)
            if self._queue:
                return self._queue.popleft()
        raise StopIteration

    def close(self) -> None:
        """Stop collecting events: those already collected still come, then the iteration ends."""
        self._close()

    def __enter__(self) -> "EventIterator":
        return self

    def __exit__(self, *exc: Any) -> None:
        self._close()


class TIM(_Core):
    """The IM client with futures.

    ``TIM(sdk_app_id, data_dir=None, *, secret_key=None, device_name=None,
    custom_profile_keys=None, library=None)`` calls ``TIMInit``; ``data_dir`` is
    a directory, or a ``postgresql://`` URI for a world in that database (shown
    without its password as ``store_url``).  ``close()``
    (also on ``with`` exit and at interpreter exit) calls ``TIMUninit``.  One
    open client per process.  Every method returns a ``Future``; a callback
    error code raises from ``future.result()`` as a ``TIMError``.
    """

    _dispatcher: Optional[Dispatcher] = None

    def _start(self) -> None:
        d = Dispatcher(self._on_event)
        d.start()
        _dispatcher_ident[0] = d.ident
        self._dispatcher = d

    _new_future = Future

    def _stop_delivery(self) -> None:
        d = self._dispatcher
        if d is not None:
            d.stop()
            if _dispatcher_ident[0] == d.ident:  # a later thread may get the same ident
                _dispatcher_ident[0] = None

    def _final_drain(self) -> None:
        while drain(self._on_event):
            pass

    def close(self) -> None:
        """``TIMUninit``: pending calls complete (with CallInterrupted), then the dispatcher stops."""
        self._close_impl()

    def __enter__(self) -> "TIM":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def events(self, *names: str, maxsize: int = 1024, timeout: Optional[float] = None) -> EventIterator:
        """A blocking iterator of events (all of them, or only ``names``).

        ``for event in tim.events(timeout=5): ...`` -- the iterator is registered
        when this is called, so events after this point are not missed.  At most
        ``maxsize`` events wait; beyond that the oldest are dropped (see
        ``EventIterator.dropped``).  The iteration ends (``next()`` raises
        StopIteration: the ``for`` loop ends) when the client closes, or when no
        event arrives within ``timeout`` seconds (None: wait for ever); after a
        timeout, iterating again goes on with the events that arrived since.
        """
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
                raise TypeError(f"timeout must be a number of seconds or None, got {type_name(timeout)}")
            if not timeout >= 0 or math.isinf(timeout):
                raise ValueError(f"timeout must be a finite number of seconds >= 0, got {timeout}")
        stream = EventIterator(self, self._event_names(names, maxsize), maxsize, timeout)
        self._add_stream(stream)
        return stream

    # What each method returns, for type checkers (the methods are _Core's).
    if TYPE_CHECKING:
        admin: _FutureAdmin
        raw: _TypedRaw[Future[Any]]

        def login(self, user_id: str, user_sig: str) -> Future[None]: ...
        def logout(self) -> Future[None]: ...
        def get_my_profile(self) -> Future[Profile]: ...
        def get_user_profile(self, user_id_list: Union[Sequence[str], Options]) -> Future[List[Profile]]: ...
        def update_my_profile(self, options: Optional[Options] = None, /, **fields: Any) -> Future[Profile]: ...
        def get_user_status(self, user_id_list: Union[Sequence[str], Options]) -> Future[List[UserStatus]]: ...
        def set_self_status(self, custom_status: Union[str, Options]) -> Future[None]: ...
        def subscribe_user_status(self, user_id_list: Union[Sequence[str], Options]) -> Future[None]: ...
        def unsubscribe_user_status(
            self, user_id_list: Union[Sequence[str], Options, None] = None) -> Future[None]: ...
        def subscribe_user_info(self, user_id_list: Union[Sequence[str], Options]) -> Future[None]: ...
        def unsubscribe_user_info(
            self, user_id_list: Union[Sequence[str], Options, None] = None) -> Future[None]: ...


if TYPE_CHECKING:
    class _FutureAdmin(Admin):
        def request(self, api: str, body: Dict[str, Any]) -> Future[Dict[str, Any]]: ...
        def request_raw(self, api: str, body: bytes) -> Future[bytes]: ...
        def import_account(self, user_id: str, nick: Optional[str] = None,
                           avatar: Optional[str] = None) -> Future[None]: ...
        def import_accounts(self, user_ids: Sequence[str]) -> Future[List[str]]: ...
        def delete_accounts(self, user_ids: Sequence[str]) -> Future[Dict[str, int]]: ...
        def get_portrait(self, user_ids: Sequence[str],
                         tags: Sequence[str]) -> Future[Dict[str, Dict[str, Any]]]: ...
        def set_portrait(self, user_id: str, tags: Optional[Dict[str, Any]] = None,
                         **fields: Any) -> Future[None]: ...
        @overload
        def query_online_status(
            self, user_ids: Sequence[str], detail: Literal[False] = False,
            custom_status: Literal[False] = False) -> Future[Dict[str, str]]: ...
        @overload
        def query_online_status(self, user_ids: Sequence[str], detail: bool = False,
                                custom_status: bool = False) -> Future[Dict[str, Dict[str, Any]]]: ...
        def query_online_status(self, user_ids: Sequence[str], detail: bool = False,
                                custom_status: bool = False) -> Any: ...
        def check_accounts(self, user_ids: Sequence[str]) -> Future[Dict[str, bool]]: ...
        def kick(self, user_id: str) -> Future[None]: ...
        def check_usersig(self, user_id: str, user_sig: str) -> Future[None]: ...
        def set_user_status(self, user_id: str, status_type: Any,
                            custom_status: Optional[str] = None) -> Future[None]: ...
        def list_accounts(self, match: Optional[str] = None, after: Optional[str] = None,
                          limit: int = 100) -> Future[AccountPage]: ...
        def events(self, after: Optional[int] = None, limit: int = 100) -> Future[EventPage]: ...
        def world_export(self, include_status: bool = False) -> Future[Dict[str, Any]]: ...
        def world_import(
            self, snapshot: Union[Dict[str, Any], bytes, bytearray, memoryview]) -> Future[int]: ...
        def world_reset(self) -> Future[int]: ...
