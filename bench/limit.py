"""The Python limit: the least work any Python binding of this completion queue can do per call.

A bench/run.py contender beside tim_py (bench/py_bench.py): the same library,
the same completion queue of tim_py's compiled module, the same workloads and
pipelined loops (bench_common), but the Python side does only what no binding
can avoid:

* per request, one C call of ``tp_TIMProfileGetUserProfileList(json, token)``
  with a JSON argument encoded before timing (no argument checking, no
  encoding), made as tim_py makes it, holding the GIL (``tim_py._decode.call``:
  cffi's call lets the GIL go and takes it back, which on the futures flavour
  hands it to the draining thread at every call), and its future put in a plain
  ``{token: future}`` dict;
* per result, one decoding by the cheapest decoder there is and one future
  resolved: ``tim_py._decode.profiles`` (the answer's text straight to Profile
  tuples in C: less work than even ``orjson.loads``, which builds a dict per
  profile), with ``orjson.loads`` for an answer of another shape; asyncio
  (``loop.create_future`` + ``set_result``), drained on the loop through
  ``loop.add_reader`` on ``lib.tp_eventfd()`` as AsyncTIM does; or the lightest
  ``concurrent.futures.Future`` there is, tim_py's (``tim_py.client.Future``, a
  subclass made and resolved with less work), resolved by one thread blocking in
  ``os.read(eventfd)`` as tim_py's Dispatcher does.

No events (the library's event callbacks are left off), no closed-client
checks, no error types beyond a RuntimeError for a failed set-up call.

``python bench/limit.py MODE N WINDOW ACCOUNTS`` prints one JSON object;
MODE is get1_async, get1_sync, get100_async or get100_sync.  The library is
``TIM_PY_LIBRARY`` when set (run.py sets it as for tim_py), else the
compiled-in timref.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import os
import sys
import threading

import orjson

from bench_common import ids_of, pipelined_async, pipelined_sync, python_cpu_ns, requests
import tim_py.fields  # noqa: F401 - configures tim_py._decode with the table of fields
from tim_py import _decode
from tim_py._ffi import ffi, lib
from tim_py.client import Future

APP = 1400000001
KEY_IDS = "friendship_getprofilelist_param_identifier_array"


class Limit:
    """TIMInit, a token->future dict, the drain; ``get(json_bytes)`` returns a future."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        path = os.environ.get("TIM_PY_LIBRARY")
        err = ffi.new("char[]", 512)
        if lib.tp_load(os.fsencode(path) if path else ffi.NULL, err, 512) != 0:
            raise OSError(f"cannot load {path}: {ffi.string(err).decode()}")
        if lib.tp_TIMInit(APP, b"{}") != 0:
            raise RuntimeError("TIMInit failed")
        self.pending: dict = {}
        self.fd = lib.tp_eventfd()
        self.loop = loop
        self.thread: threading.Thread | None = None
        self.stopping = False
        token = itertools.count(1).__next__
        pending = self.pending
        held, address = _decode.call, int(ffi.cast("uintptr_t", ffi.addressof(lib, "tp_TIMProfileGetUserProfileList")))
        if loop is not None:
            new = loop.create_future
            loop.add_reader(self.fd, self._on_readable)
        else:
            new = Future
            self.thread = threading.Thread(target=self._dispatch, daemon=True)
            self.thread.start()

        def get(arg: bytes):
            fut = new()
            t = token()
            pending[t] = fut
            if held(address, arg, t):
                raise RuntimeError("TIMProfileGetUserProfileList refused the call")
            return fut

        self.get = get
        self._token = token

    # ---- the drain: one loads and one set_result per completion -------------------------

    def drain(self) -> None:
        pp = ffi.new("tp_item **")
        n = lib.tp_drain(pp)
        if not n:
            return
        pop, loads, unpack, profiles = self.pending.pop, orjson.loads, ffi.unpack, _decode.profiles
        first = item = pp[0]
        for _ in range(n):
            fut = pop(item.token)
            if item.code:
                fut.set_exception(RuntimeError(f"code {item.code}"))
            elif item.json_len:
                text = unpack(item.json, item.json_len)
                value = profiles(text)
                fut.set_result(value if value is not None else loads(text))
            else:
                fut.set_result(None)
            item = item.next
        lib.tp_free_items(first)

    def _on_readable(self) -> None:  # asyncio: on the loop, as AsyncTIM._on_readable
        try:
            os.read(self.fd, 8)
        except BlockingIOError:
            pass
        self.drain()

    def _dispatch(self) -> None:  # futures: one thread, as tim_py's Dispatcher
        fd, read, drain = self.fd, os.read, self.drain
        while True:
            read(fd, 8)
            if self.stopping:
                return
            drain()

    # ---- set-up calls (not timed) ---------------------------------------------------------

    def _other(self, cfunc, *args):
        fut = self.loop.create_future() if self.loop is not None else concurrent.futures.Future()
        t = self._token()
        self.pending[t] = fut
        if cfunc(*args, t):
            del self.pending[t]
            raise RuntimeError(f"{cfunc} refused the call")
        return fut

    def import_accounts(self, ids: list):
        return self._other(lib.tp_TIMRefAdminRequest, b"v4/im_open_login_svc/multiaccount_import",
                           orjson.dumps({"Accounts": ids}))

    def login(self, user_id: str):
        return self._other(lib.tp_TIMLogin, user_id.encode(), b"sig")

    def close(self) -> None:
        if self.loop is not None:
            self.loop.remove_reader(self.fd)
        else:
            self.stopping = True
            lib.tp_wake()
            assert self.thread is not None
            self.thread.join()
        lib.tp_TIMUninit()


def prebuilt(kind: str, accounts: int) -> list:
    """The requests of bench_common.requests, each encoded once, before timing."""
    return [orjson.dumps({KEY_IDS: ids}) for ids in requests(kind, accounts)]


def run_sync(kind: str, n: int, window: int, accounts: int) -> tuple:
    lim = Limit()
    ids = ids_of(accounts)
    for s in range(0, accounts, 100):
        lim.import_accounts(ids[s:s + 100]).result()
    lim.login("u0000000").result()
    reqs = prebuilt(kind, accounts)
    pipelined_sync(lim.get, reqs, min(window, n), window)  # warm-up
    cpu = python_cpu_ns()
    dt = pipelined_sync(lim.get, reqs, n, window)
    cpu = python_cpu_ns() - cpu
    lim.close()
    return dt, cpu


def run_async(kind: str, n: int, window: int, accounts: int) -> tuple:
    async def main() -> tuple:
        lim = Limit(asyncio.get_running_loop())
        ids = ids_of(accounts)
        for s in range(0, accounts, 100):
            await lim.import_accounts(ids[s:s + 100])
        await lim.login("u0000000")
        reqs = prebuilt(kind, accounts)
        await pipelined_async(lim.get, reqs, min(window, n), window)  # warm-up
        cpu = python_cpu_ns()
        dt = await pipelined_async(lim.get, reqs, n, window)
        cpu = python_cpu_ns() - cpu
        lim.close()
        return dt, cpu

    return asyncio.run(main())


def main(argv: list) -> None:
    mode, n, window, accounts = argv[0], int(argv[1]), int(argv[2]), int(argv[3])
    kind, flavour = mode.split("_")
    if kind not in ("get1", "get100") or flavour not in ("async", "sync"):
        raise SystemExit(f"unknown mode {mode}")
    dt, cpu = (run_async if flavour == "async" else run_sync)(kind, n, window, accounts)
    per = 100 if kind == "get100" else 1
    print(json.dumps({"mode": mode, "ops_per_s": n / dt, "profiles_per_s": n * per / dt,
                      "n": n, "window": window, "seconds": dt, "py_cpu_us_per_call": cpu / n / 1e3}))


if __name__ == "__main__":
    main(sys.argv[1:])
