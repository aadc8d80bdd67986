"""What the proposed Python-layer changes would buy, measured by monkeypatching tim_py.

    TIM_PY_LIBRARY=build/bench/lib/libtimref.so python bench/experiments/py_layer.py [VARIANT...]

Not a benchmark of record (bench/run.py is): this is the evidence behind the
proposals in docs/bench.md.  Each variant runs in its own process and patches
tim_py in memory only; nothing in tim_py/ is changed.  Variants (cumulative
where it says "+"):

  base        tim_py as it is
  fastfut     + AsyncTIM._new_future skips asyncio.get_running_loop() (a getpid()
                syscall per call in CPython 3.11) when the bound loop is running
                in this thread (loop._thread_id == threading.get_ident())
  slots       + Profile built by a plain __slots__ class __init__ (normal attribute
                stores) instead of the frozen dataclass __init__ (object.__setattr__
                per field); same fields, still read-only afterwards
  lazy        + instead of slots: Profile keeps the decoded dict and reads fields on
                access (properties); construction is one attribute store
  raw         + no typed results at all: the decoded JSON (what the ctypes peer returns);
                the floor of the bridge design
  nogc        base with gc.freeze() after set-up and gc.disable() while measuring
                (to size the garbage collector's share)
"""
from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

VARIANTS = ["base", "fastfut", "slots", "lazy", "raw", "nogc"]


def patch(variant: str) -> None:
    import tim_py._core as core
    import tim_py.aio as aio
    from tim_py import types as T

    if variant in ("fastfut", "slots", "lazy", "raw"):
        get_ident = threading.get_ident
        orig = aio.AsyncTIM._new_future

        def _new_future(self):
            loop = self._loop
            if loop is not None and getattr(loop, "_thread_id", None) == get_ident():
                return loop.create_future()
            return orig(self)

        aio.AsyncTIM._new_future = _new_future

    if variant == "slots":
        class FastProfile:
            __slots__ = T.Profile.__slots__

            def __init__(s, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o):
                s.user_id = a; s.nick = b; s.avatar = c; s.gender = d; s.self_signature = e
                s.allow_type = f; s.birthday = g; s.location = h; s.language = i
                s.message_settings = j; s.admin_forbid_type = k; s.level = l; s.role = m
                s.profile_custom_field = n; s.last_updated_time = o

        T.Profile = FastProfile  # profile_from_json looks Profile up as a global

    if variant == "lazy":
        GB, AB, FB = T._GENDER_BY_VALUE, T._ALLOW_BY_VALUE, T._FORBID_BY_VALUE

        class LazyProfile:
            __slots__ = ("_d",)

            def __init__(self, d):
                self._d = d

            @property
            def user_id(self):
                return self._d.get("user_profile_identifier", "")

            @property
            def nick(self):
                return self._d.get("user_profile_nick_name", "")

            @property
            def gender(self):
                g = self._d.get("user_profile_gender", 0)
                return GB.get(g, g)
            # (the other fields alike)

        def profiles(data):
            if data is None:
                return []
            if isinstance(data, dict):
                return [LazyProfile(data)]
            return list(map(LazyProfile, data))

        core.profiles_from_json = profiles

    if variant == "raw":
        core.profiles_from_json = lambda data: data


def worker(variant: str, kind: str, n: int, window: int, accounts: int) -> dict:
    patch(variant)
    from tim_py.aio import AsyncTIM

    async def main():
        tim = AsyncTIM(1400000001)
        ids = [f"u{i:07d}" for i in range(accounts)]
        await tim.admin.import_accounts(ids)
        await tim.login("u0000000", "sig")
        reqs = ([[i] for i in ids] if kind == "get1"
                else [[ids[(r * 100 + k) % accounts] for k in range(100)] for r in range(64)])
        get = tim.get_user_profile

        async def run(count):
            t0 = time.perf_counter()
            i = 0
            while i < count:
                b = min(window, count - i)
                res = await asyncio.gather(*[get(reqs[(i + k) % len(reqs)]) for k in range(b)])
                i += b
            return time.perf_counter() - t0, res

        _, res = await run(window)
        if variant == "lazy":
            assert res[0][0].user_id.startswith("u")
        if variant == "nogc":
            gc.freeze()
            gc.disable()
        dt, _ = await run(n)
        await tim.close()
        return dt

    dt = asyncio.run(main())
    per = 1 if kind == "get1" else 100
    return {"variant": variant, "kind": kind, "ops_per_s": n / dt, "profiles_per_s": n * per / dt}


def main(argv):
    if argv and argv[0] == "--worker":
        v, kind, n, w, a = argv[1], argv[2], int(argv[3]), int(argv[4]), int(argv[5])
        print(json.dumps(worker(v, kind, n, w, a)))
        return
    variants = argv or VARIANTS
    rounds = 3
    results = {}
    for _ in range(rounds):  # interleaved rounds, median
        for v in variants:
            for kind, n, w in (("get1", 150_000, 2000), ("get100", 2_000, 100)):
                out = subprocess.run([sys.executable, __file__, "--worker", v, kind, str(n), str(w), "1000"],
                                     capture_output=True, text=True, check=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                results.setdefault((v, kind), []).append(r["profiles_per_s"])
    print(f"{'variant':<10} {'get1 ops/s':>12} {'get100 profiles/s':>18}")
    for v in variants:
        g1 = sorted(results[(v, "get1")])[rounds // 2]
        g100 = sorted(results[(v, "get100")])[rounds // 2]
        print(f"{v:<10} {g1:>12,.0f} {g100:>18,.0f}")


if __name__ == "__main__":
    main(sys.argv[1:])
