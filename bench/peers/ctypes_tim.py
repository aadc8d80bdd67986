"""The peer: timref through plain ctypes, as a user without tim_py would bind it.

``libtimref.so`` is loaded with ``ctypes.CDLL``; every asynchronous call gets a
token as ``user_data`` and one ``CFUNCTYPE`` callback, which ctypes runs on the
library's logic thread (taking the GIL): it decodes ``json_params`` and
resolves the call's future.

* ``CtypesTIM(..., loop=None)``: ``concurrent.futures.Future`` resolved
  directly in the callback.
* ``CtypesTIM(..., loop=loop)``: an asyncio future, resolved on the loop
  through ``loop.call_soon_threadsafe``.

Written to be fair: one shared callback object (no per-call ``CFUNCTYPE``),
argtypes declared once, orjson for decoding when it is installed (as tim_py
uses), requests encoded once per call.  Results are the decoded JSON (lists of
dicts); no typed objects are built, which is less work than tim_py does.

Run as a script, it is a benchmark worker (see bench/run.py):
``python ctypes_tim.py LIBPATH MODE N WINDOW ACCOUNTS`` prints one JSON object.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import itertools
import json
import os
import sys
import threading

# bench/: the measurement scaffolding this worker shares with py_bench.py (not the binding)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench_common import ids_of, pipelined_async, pipelined_sync, requests  # noqa: E402

try:  # the same decoder tim_py uses, when available
    import orjson

    _loads = orjson.loads
    _dumps = orjson.dumps
except ImportError:  # pragma: no cover
    _loads = json.loads

    def _dumps(v):  # type: ignore[no-redef]
        return json.dumps(v, separators=(",", ":")).encode()

COMM_CB = ctypes.CFUNCTYPE(None, ctypes.c_int32, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p)


class TIMError(Exception):
    def __init__(self, code: int, desc: str) -> None:
        super().__init__(f"{code}: {desc}")
        self.code = code
        self.desc = desc


class CtypesTIM:
    def __init__(self, libpath: str, sdk_app_id: int, config: dict | None = None, loop=None) -> None:
        lib = ctypes.CDLL(libpath)
        for name, args in [
            ("TIMInit", [ctypes.c_uint64, ctypes.c_char_p]),
            ("TIMUninit", []),
            ("TIMLogin", [ctypes.c_char_p, ctypes.c_char_p, COMM_CB, ctypes.c_void_p]),
            ("TIMProfileGetUserProfileList", [ctypes.c_char_p, COMM_CB, ctypes.c_void_p]),
            ("TIMProfileModifySelfUserProfile", [ctypes.c_char_p, COMM_CB, ctypes.c_void_p]),
            ("TIMRefAdminRequest", [ctypes.c_char_p, ctypes.c_char_p, COMM_CB, ctypes.c_void_p]),
        ]:
            f = getattr(lib, name)
            f.argtypes = args
            f.restype = ctypes.c_int
        self._lib = lib
        self._loop = loop
        self._pending: dict = {}
        self._token = itertools.count(1).__next__
        self._cb = COMM_CB(self._on_done_async if loop is not None else self._on_done_sync)
        rc = lib.TIMInit(sdk_app_id, _dumps(config or {}))
        if rc != 0:
            raise TIMError(rc, "TIMInit")

    # ---- callbacks (on the library's logic thread) ------------------------------

    @staticmethod
    def _decode(code: int, desc: bytes, json_params: bytes):
        if code != 0:
            return TIMError(code, desc.decode("utf-8", "replace") if desc else "")
        return _loads(json_params) if json_params else None

    def _on_done_sync(self, code, desc, json_params, user_data):
        fut = self._pending.pop(user_data, None)
        if fut is None:
            return
        value = self._decode(code, desc, json_params)
        if isinstance(value, TIMError):
            fut.set_exception(value)
        else:
            fut.set_result(value)

    def _on_done_async(self, code, desc, json_params, user_data):
        fut = self._pending.pop(user_data, None)
        if fut is None:
            return
        value = self._decode(code, desc, json_params)
        if isinstance(value, TIMError):
            self._loop.call_soon_threadsafe(_set_exception, fut, value)
        else:
            self._loop.call_soon_threadsafe(_set_result, fut, value)

    # ---- calls ---------------------------------------------------------------------

    def _call(self, fn, *args):
        token = self._token()
        fut = self._loop.create_future() if self._loop is not None else concurrent.futures.Future()
        self._pending[token] = fut
        rc = fn(*args, self._cb, token)
        if rc != 0:
            self._pending.pop(token, None)
            raise TIMError(rc, fn.__name__)
        return fut

    def login(self, user_id: str, user_sig: str):
        return self._call(self._lib.TIMLogin, user_id.encode(), user_sig.encode())

    def get_user_profile(self, ids):
        return self._call(self._lib.TIMProfileGetUserProfileList,
                          _dumps({"friendship_getprofilelist_param_identifier_array": ids}))

    def update_my_profile(self, items: dict):
        return self._call(self._lib.TIMProfileModifySelfUserProfile, _dumps(items))

    def admin(self, api: str, body: dict):
        return self._call(self._lib.TIMRefAdminRequest, api.encode(), _dumps(body))

    def close(self) -> None:
        self._lib.TIMUninit()


def _set_result(fut, value):
    if not fut.done():
        fut.set_result(value)


def _set_exception(fut, exc):
    if not fut.done():
        fut.set_exception(exc)


# ---------------------------------------------------------------------------
# Benchmark worker
# ---------------------------------------------------------------------------

def _run_sync(libpath: str, mode: str, n: int, window: int, accounts: int) -> float:
    tim = CtypesTIM(libpath, 1400000001)
    ids = ids_of(accounts)
    for s in range(0, accounts, 100):
        tim.admin("v4/im_open_login_svc/multiaccount_import", {"Accounts": ids[s:s + 100]}).result()
    tim.login("u0000000", "sig").result()
    reqs = requests(mode.split("_")[0], accounts)
    pipelined_sync(tim.get_user_profile, reqs, min(window, n), window)  # warm-up
    dt = pipelined_sync(tim.get_user_profile, reqs, n, window)
    tim.close()
    return dt


def _run_async(libpath: str, mode: str, n: int, window: int, accounts: int) -> float:
    async def main() -> float:
        tim = CtypesTIM(libpath, 1400000001, loop=asyncio.get_running_loop())
        ids = ids_of(accounts)
        for s in range(0, accounts, 100):
            await tim.admin("v4/im_open_login_svc/multiaccount_import", {"Accounts": ids[s:s + 100]})
        await tim.login("u0000000", "sig")
        reqs = requests(mode.split("_")[0], accounts)
        await pipelined_async(tim.get_user_profile, reqs, min(window, n), window)  # warm-up
        dt = await pipelined_async(tim.get_user_profile, reqs, n, window)
        tim.close()
        return dt

    return asyncio.run(main())


def main(argv: list) -> None:
    libpath, mode, n, window, accounts = argv[0], argv[1], int(argv[2]), int(argv[3]), int(argv[4])
    runner = _run_async if mode.endswith("_async") else _run_sync
    dt = runner(libpath, mode, n, window, accounts)
    per = 100 if mode.startswith("get100") else 1
    print(json.dumps({"mode": mode, "ops_per_s": n / dt, "profiles_per_s": n * per / dt,
                      "n": n, "window": window, "seconds": dt}))


if __name__ == "__main__":
    main(sys.argv[1:])
