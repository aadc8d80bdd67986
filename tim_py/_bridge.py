"""The completion queue, seen from Python.

The C bridge (csrc/bridge/) turns every completion and event of the library
into a node of one C list and writes to an eventfd when the list goes from
empty to non-empty.  This module owns:

* the registry ``{token: (future, decoder)}``.  A call takes the next token,
  registers its future and passes the token as ``user_data``; when its
  completion is drained the entry is popped before anything else happens.
* :func:`drain`, which takes the whole C list at once, decodes each
  ``json_params`` with one ``orjson.loads`` (only when non-empty), builds the
  typed result and resolves the future (dropping the result of a cancelled
  future or of a future whose loop has closed);
* :class:`Dispatcher`, the one thread tim_py owns for the futures client: it
  blocks in ``os.read(eventfd)`` (without the GIL) and drains a batch per
  wake-up.  The asyncio client drains on its loop instead (``add_reader``);
* the process's one client slot (the C SDK is one per process) and the
  ``atexit`` handler that closes a client still open at exit.
"""
from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import itertools
import logging
import os
import threading
from typing import Any, Callable, Dict, Optional, Tuple

import orjson

from ._ffi import ffi, lib
from .errors import ClientOpenError, error_for
from .fields import profiles_from_text

log = logging.getLogger("tim_py")

KIND_CALL = lib.TP_KIND_CALL
KIND_SELF_INFO = lib.TP_KIND_SELF_INFO
KIND_USER_STATUS = lib.TP_KIND_USER_STATUS
KIND_USER_INFO = lib.TP_KIND_USER_INFO
KIND_KICKED_OFFLINE = lib.TP_KIND_KICKED_OFFLINE

#: token -> (future, decoder or None).  Tokens only increase, so a late
#: completion can never be taken for another call's.
registry: Dict[int, Tuple[Any, Optional[Callable[[Any], Any]]]] = {}
next_token = itertools.count(1).__next__

# What resolving a future may raise when nobody wants the result any more:
# a cancelled future (InvalidStateError) or an asyncio future whose loop has
# closed (RuntimeError from call_soon).
GONE = (concurrent.futures.InvalidStateError, asyncio.InvalidStateError, RuntimeError)


def STEP(data: Any) -> Any:  # pragma: no cover - never called: drain() tests for it by identity
    """The decoder of a call whose success leaves its future to the call queued behind it."""
    raise AssertionError("STEP is a marker")


def RAW(data: Any) -> Any:  # pragma: no cover - never called: drain() tests for it by identity
    """The decoder of a call whose future resolves to the answer's JSON text, undecoded (bytes);
    on a non-zero code the TIMError keeps that text in ``raw`` too (``Admin.request_raw``)."""
    raise AssertionError("RAW is a marker")

#: Decoders that read the answer's JSON text themselves (bytes, b"" for none) instead of
#: what orjson.loads makes of it (None for none).
TEXT_DECODERS = frozenset((profiles_from_text,))

_loads = orjson.loads
_unpack = ffi.unpack
_pop = registry.pop


def _error(item: Any, keep_raw: bool = False) -> BaseException:
    desc = _unpack(item.desc, item.desc_len).decode("utf-8", "replace") if item.desc_len else ""
    data = raw = None
    if item.json_len:
        raw = _unpack(item.json, item.json_len)
        try:
            data = _loads(raw)
        except orjson.JSONDecodeError:
            data = raw.decode("utf-8", "replace")
    err = error_for(item.code, desc, data)
    if keep_raw:
        err.raw = raw
    return err


def drain(on_event: Optional[Callable[[int, bytes], None]]) -> int:
    """Take every queued completion and event and deliver them; returns how many.

    The common case, a successful call with a decoder, is tested first and reads each
    field of the C node once (every read of a cdata field is an attribute lookup)."""
    pp = ffi.new("tp_item **")
    n: int = lib.tp_drain(pp)
    if not n:
        return 0
    first = item = pp[0]
    try:
        for _ in range(n):
            if item.kind != KIND_CALL:
                if on_event is not None:
                    try:
                        on_event(item.kind, _unpack(item.json, item.json_len))
                    except Exception:
                        log.exception("tim_py: event delivery failed")
                item = item.next
                continue
            entry = _pop(item.token, None)
            if entry is None:  # closed, or already failed: nobody waits for it
                item = item.next
                continue
            fut, decode = entry
            if item.code != 0:
                try:
                    fut.set_exception(_error(item, decode is RAW))
                except GONE:
                    pass
            elif decode is STEP:
                pass  # the call queued behind this one resolves fut (_Core._then)
            elif decode is RAW:
                size = item.json_len
                try:
                    fut.set_result(_unpack(item.json, size) if size else b"")
                except GONE:
                    pass
            else:
                size = item.json_len
                try:
                    if decode is None:
                        value = None
                    elif decode in TEXT_DECODERS:
                        value = decode(_unpack(item.json, size) if size else b"")
                    else:
                        value = decode(_loads(_unpack(item.json, size)) if size else None)
                except Exception as e:  # a result we cannot read: say so
                    try:
                        fut.set_exception(e)
                    except GONE:
                        pass
                else:
                    try:
                        fut.set_result(value)
                    except GONE:
                        pass
            item = item.next
    finally:
        lib.tp_free_items(first)
    return n


def fail_pending(exc_factory: Callable[[], BaseException]) -> int:
    """Resolve every future still in the registry with an error (used by close)."""
    n = 0
    while registry:
        try:
            _token, (fut, _decode) = registry.popitem()
        except KeyError:
            break
        n += 1
        try:
            fut.set_exception(exc_factory())
        except GONE:
            pass
    return n


class Dispatcher(threading.Thread):
    """The futures client's thread: wait on the eventfd, drain, repeat."""

    def __init__(self, on_event: Callable[[int, bytes], None]) -> None:
        super().__init__(name="tim_py-dispatcher", daemon=True)
        self._on_event = on_event
        self.stopping = False

    def run(self) -> None:
        fd = lib.tp_eventfd()
        read = os.read
        while not self.stopping:
            try:
                read(fd, 8)
            except OSError:  # pragma: no cover - the eventfd is never closed
                log.exception("tim_py: reading the eventfd failed")
                return
            if self.stopping:
                break
            try:
                drain(self._on_event)
            except Exception:  # pragma: no cover - drain catches per item
                log.exception("tim_py: dispatcher error")

    def stop(self) -> None:
        """Ask the thread to end and wait for it (unless called from it)."""
        self.stopping = True
        lib.tp_wake()
        if threading.current_thread() is not self and self.is_alive():
            self.join()


# ---------------------------------------------------------------------------
# The process's one client
# ---------------------------------------------------------------------------

_slot_lock = threading.Lock()
_open_client: Any = None


def acquire(client: Any, library: Optional[str]) -> None:
    """Take the process's client slot and point the bridge at ``library``."""
    global _open_client
    with _slot_lock:
        if _open_client is not None:
            raise ClientOpenError(
                f"a tim_py client is already open in this process ({_open_client!r}); the C SDK "
                "is one per process: close the first client (close() or leave its with block) "
                "before opening another"
            )
        path = library if library is not None else os.environ.get("TIM_PY_LIBRARY") or None
        err = ffi.new("char[]", 512)
        if lib.tp_load(os.fsencode(path) if path else ffi.NULL, err, 512) != 0:
            raise OSError(f"tim_py: cannot load {path}: {ffi.string(err).decode('utf-8', 'replace')}")
        _open_client = client


def release(client: Any) -> None:
    global _open_client
    with _slot_lock:
        if _open_client is client:
            _open_client = None


def current() -> Any:
    """The open client, or None."""
    return _open_client


@atexit.register
def _close_at_exit() -> None:
    client = _open_client
    if client is not None:
        try:
            client._close_at_exit()
        except Exception:  # pragma: no cover - nothing sensible to do at exit
            log.exception("tim_py: closing the client at exit failed")
