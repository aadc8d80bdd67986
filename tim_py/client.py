"""``TIM``: the client whose calls return ``concurrent.futures.Future``.

Completions are delivered by one daemon thread that tim_py owns (the
dispatcher); event handlers run on it too, never on the C library's logic
thread.  Do not block on another call's result inside a handler or a future's
done-callback: they run on the dispatcher, which would then wait for itself
(``result()`` raises RuntimeError there instead of hanging).
"""
from __future__ import annotations

import concurrent.futures
import threading
from typing import Any, Optional

from ._bridge import Dispatcher, drain
from ._core import _Core

__all__ = ["TIM", "Future"]

_dispatcher_ident: list = [None]
_get_ident = threading.get_ident


class Future(concurrent.futures.Future):
    """A ``concurrent.futures.Future`` that refuses to deadlock its own dispatcher."""

    def result(self, timeout: Optional[float] = None) -> Any:
        if _get_ident() == _dispatcher_ident[0] and not self.done():
            raise RuntimeError(
                "waiting for a tim_py result on the dispatcher thread (inside an event handler or "
                "a done-callback) would deadlock; use add_done_callback instead"
            )
        return super().result(timeout)

    def cancel(self) -> bool:
        """Cancel a pending call's future: its result is dropped when it arrives.

        Waiters (``concurrent.futures.wait``, ``as_completed``) are told at once.
        """
        if not super().cancel():
            return False
        self.set_running_or_notify_cancel()
        return True

    def exception(self, timeout: Optional[float] = None) -> Any:
        if _get_ident() == _dispatcher_ident[0] and not self.done():
            raise RuntimeError(
                "waiting for a tim_py result on the dispatcher thread would deadlock"
            )
        return super().exception(timeout)


class TIM(_Core):
    """The IM client with futures.

    ``TIM(sdk_app_id, data_dir=None, *, secret_key=None, device_name=None,
    custom_profile_keys=None, library=None)`` calls ``TIMInit``; ``close()``
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
