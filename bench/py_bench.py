"""tim_py benchmark workers: one measurement per process (the C SDK is one per process).

``python bench/py_bench.py MODE [ARGS...]`` prints one JSON object on stdout.
bench/run.py starts these; they are not meant to be run by hand, but can be.

The library: tim_py's compiled-in timref, unless ``TIM_PY_LIBRARY`` names a
build (run.py points it at the same libtimref.so the C program and the ctypes
peer use, so all of them run the same library code).

Modes
  get1_async N WINDOW ACCOUNTS     AsyncTIM, windows of WINDOW single-profile gets
  get1_sync N WINDOW ACCOUNTS      TIM (futures), the same
  get100_async N WINDOW ACCOUNTS   AsyncTIM, windows of WINDOW gets of 100 profiles
  get100_sync N WINDOW ACCOUNTS    TIM, the same
  serial_sync N ACCOUNTS           TIM: get, result(), repeat; latency percentiles
  serial_async N ACCOUNTS          AsyncTIM: await get, repeat
  modify DIR N WINDOW              AsyncTIM: durable profile updates (store in DIR)
  rss N WINDOW ACCOUNTS            AsyncTIM: resident size before and after N pipelined gets
  notify_rx DIR N                  subscribe to "bench-tx", timestamp N status events
  notify_tx DIR N SPACING_MS       set_self_status(str(time.time_ns())) N times
  idle DIR                         log in, subscribe, then sleep (for idle CPU)
"""
from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import threading
import time

from bench_common import ids_of, pipelined_async, pipelined_sync, python_cpu_ns, requests
from tim_py import EVENT, TIM
from tim_py.aio import AsyncTIM

APP = 1400000001


def out(**kw) -> None:
    print(json.dumps(kw), flush=True)


def pct(values: list, p: float) -> float:
    v = sorted(values)
    return v[int(p / 100.0 * (len(v) - 1) + 0.5)]


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


# ---- async ------------------------------------------------------------------------

async def _async_setup(accounts: int, data_dir=None, user="u0000000") -> AsyncTIM:
    tim = AsyncTIM(APP, data_dir)
    ids = ids_of(accounts)
    for s in range(0, accounts, 10000):
        await tim.admin.import_accounts(ids[s:s + 10000])
    await tim.login(user, "sig")
    return tim


def get_async(kind: str, n: int, window: int, accounts: int, where=None) -> None:
    """``where``: a data directory or postgresql:// URI (bench/pg.py); None: the in-memory store."""
    async def main() -> None:
        tim = await _async_setup(accounts, where)
        reqs = requests(kind, accounts)
        await pipelined_async(tim.get_user_profile, reqs, min(window, n), window)  # warm-up
        cpu = python_cpu_ns()
        dt = await pipelined_async(tim.get_user_profile, reqs, n, window)
        cpu = python_cpu_ns() - cpu
        await tim.close()
        per = 1 if kind == "get1" else 100
        out(ops_per_s=n / dt, profiles_per_s=n * per / dt, n=n, window=window, seconds=dt,
            py_cpu_us_per_call=cpu / n / 1e3)

    asyncio.run(main())


def serial_async(n: int, accounts: int) -> None:
    async def main() -> None:
        tim = await _async_setup(accounts)
        reqs = requests("get1", accounts)
        get = tim.get_user_profile
        for r in reqs:
            await get(r)
        lat = []
        clock = time.perf_counter_ns
        for i in range(n):
            t0 = clock()
            await get(reqs[i % accounts])
            lat.append((clock() - t0) / 1e3)
        await tim.close()
        out(p50_us=pct(lat, 50), p99_us=pct(lat, 99), n=n)

    asyncio.run(main())


def modify(data_dir: str, n: int, window: int) -> None:
    async def main() -> None:
        tim = AsyncTIM(APP, data_dir)
        await tim.login("bench-py-writer", "sig")
        upd = tim.update_my_profile
        t0 = time.perf_counter()
        i = 0
        while i < n:
            burst = min(window, n - i)
            await asyncio.gather(*[upd(nick=f"nick {i + k}") for k in range(burst)])
            i += burst
        dt = time.perf_counter() - t0
        await tim.close()
        out(ops_per_s=n / dt, n=n, window=window, seconds=dt)

    asyncio.run(main())


def rss(n: int, window: int, accounts: int) -> None:
    async def main() -> None:
        tim = await _async_setup(accounts)
        reqs = requests("get1", accounts)
        warm = min(n, max(20 * window, 2 * accounts))
        await pipelined_async(tim.get_user_profile, reqs, warm, window)  # caches, pools, the registry
        gc.collect()
        before = rss_mb()
        dt = await pipelined_async(tim.get_user_profile, reqs, n, window)
        gc.collect()
        after = rss_mb()
        await tim.close()
        out(rss_before_mb=before, rss_after_mb=after, rss_growth_mb=after - before, calls=n,
            warmup_calls=warm, window=window, seconds=dt)

    asyncio.run(main())


# ---- futures ---------------------------------------------------------------------------

def _sync_setup(accounts: int) -> TIM:
    tim = TIM(APP)
    ids = ids_of(accounts)
    for s in range(0, accounts, 10000):
        tim.admin.import_accounts(ids[s:s + 10000]).result()
    tim.login("u0000000", "sig").result()
    return tim


def get_sync(kind: str, n: int, window: int, accounts: int) -> None:
    tim = _sync_setup(accounts)
    reqs = requests(kind, accounts)
    pipelined_sync(tim.get_user_profile, reqs, min(window, n), window)  # warm-up
    cpu = python_cpu_ns()
    dt = pipelined_sync(tim.get_user_profile, reqs, n, window)
    cpu = python_cpu_ns() - cpu
    tim.close()
    per = 1 if kind == "get1" else 100
    out(ops_per_s=n / dt, profiles_per_s=n * per / dt, n=n, window=window, seconds=dt,
        py_cpu_us_per_call=cpu / n / 1e3)


def serial_sync(n: int, accounts: int) -> None:
    tim = _sync_setup(accounts)
    reqs = requests("get1", accounts)
    get = tim.get_user_profile
    for r in reqs:
        get(r).result()
    lat = []
    clock = time.perf_counter_ns
    for i in range(n):
        t0 = clock()
        get(reqs[i % accounts]).result()
        lat.append((clock() - t0) / 1e3)
    tim.close()
    out(p50_us=pct(lat, 50), p99_us=pct(lat, 99), n=n)


# ---- two processes -------------------------------------------------------------------------

def notify_rx(data_dir: str, n: int) -> None:
    """Receiver: prints {"ready": true} once subscribed, then one JSON line with the deltas."""
    deltas = []
    done = threading.Event()

    def on_status(event) -> None:
        now = time.time_ns()
        for st in event.data:
            if st.user_id == "bench-tx" and st.custom_status.startswith("t="):
                deltas.append((now - int(st.custom_status[2:])) / 1e6)
                if len(deltas) >= n:
                    done.set()

    with TIM(APP, data_dir) as tim:
        tim.admin.import_account("bench-tx").result()
        tim.login("bench-rx", "sig").result()
        tim.on(EVENT.USER_STATUS_UPDATED, on_status)
        tim.subscribe_user_status(["bench-tx"]).result()
        out(ready=True)
        ok = done.wait(120)
        tim.logout().result()
    if not ok:
        out(error=f"only {len(deltas)} of {n} events arrived")
        sys.exit(1)
    out(p50_ms=pct(deltas, 50), p99_ms=pct(deltas, 99), max_ms=max(deltas), n=len(deltas))


def notify_tx(data_dir: str, n: int, spacing_ms: float) -> None:
    with TIM(APP, data_dir) as tim:
        tim.login("bench-tx", "sig").result()
        time.sleep(0.2)  # let the receiver take the login event
        acks = []
        for _ in range(n):
            t0 = time.time_ns()
            tim.set_self_status(f"t={t0}").result()
            acks.append((time.time_ns() - t0) / 1e6)  # the sender's own call: commit (fsync) included
            time.sleep(spacing_ms / 1e3)
        tim.logout().result()
    out(sent=n, ack_p50_ms=pct(acks, 50), ack_p99_ms=pct(acks, 99), ack_max_ms=max(acks))


def idle(data_dir: str) -> None:
    with TIM(APP, data_dir) as tim:
        tim.admin.import_account("bench-tx").result()
        tim.login("bench-idle", "sig").result()
        tim.subscribe_user_status(["bench-tx"]).result()
        out(ready=True)
        sys.stdin.read()  # until run.py closes our stdin
        tim.logout().result()


def main(argv: list) -> None:
    mode, args = argv[0], argv[1:]
    if mode in ("get1_async", "get100_async"):
        get_async(mode.split("_")[0], int(args[0]), int(args[1]), int(args[2]), *args[3:4])
    elif mode in ("get1_sync", "get100_sync"):
        get_sync(mode.split("_")[0], int(args[0]), int(args[1]), int(args[2]))
    elif mode == "serial_sync":
        serial_sync(int(args[0]), int(args[1]))
    elif mode == "serial_async":
        serial_async(int(args[0]), int(args[1]))
    elif mode == "modify":
        modify(args[0], int(args[1]), int(args[2]))
    elif mode == "rss":
        rss(int(args[0]), int(args[1]), int(args[2]))
    elif mode == "notify_rx":
        notify_rx(args[0], int(args[1]))
    elif mode == "notify_tx":
        notify_tx(args[0], int(args[1]), float(args[2]))
    elif mode == "idle":
        idle(args[0])
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main(sys.argv[1:])
