"""Measurement scaffolding shared by the Python benchmarks.

bench/py_bench.py (tim_py) and bench/peers/ctypes_tim.py (the independent
ctypes peer) measure the same workload the same way: the account ids, the
requests, and the pipelined loop (issue WINDOW calls, wait until all of them
completed, repeat; the scheme bench/c/bench_get.c uses too).  Only this
scaffolding is shared; each worker keeps its own binding and set-up.

The drivers, bench/run.py and bench/rest.py, share how they find an
interpreter for their workers (:func:`python_exe`) and how they describe the
machine (:func:`machine`).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import os
import platform
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def python_exe(modules: tuple, missing: str) -> str:
    """An interpreter that can import ``modules`` (this one, else the project's .venv); exits with
    ``missing`` when neither can."""
    try:
        for name in modules:
            importlib.import_module(name)
        return sys.executable
    except ImportError:
        venv = os.path.join(ROOT, ".venv", "bin", "python")
        if os.path.exists(venv):
            return venv
        raise SystemExit(missing)


def machine() -> dict:
    """The CPUs, Python, kernel and date of the run."""
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "kernel": platform.release(), "date": time.strftime("%Y-%m-%d %H:%M:%S %z")}


def python_cpu_ns() -> int:
    """CPU time, in ns, of this process's Python threads (the main thread, tim_py's dispatcher),
    without the library's logic thread: the Python work per call, which a busy machine slows
    down but does not add to, unlike wall-clock time (/proc/self/task/<tid>/schedstat)."""
    total = 0
    for t in {threading.main_thread(), *threading.enumerate()}:
        if t.native_id is None:
            continue
        try:
            with open(f"/proc/self/task/{t.native_id}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def ids_of(accounts: int) -> list:
    """The ids the workers import: u0000000, u0000001, ..."""
    return [f"u{i:07d}" for i in range(accounts)]


def requests(kind: str, accounts: int) -> list:
    """The id lists to get: one per account ("get1"), or 64 lists of 100 ids ("get100")."""
    ids = ids_of(accounts)
    if kind == "get1":
        return [[i] for i in ids]
    return [[ids[(r * 100 + k) % accounts] for k in range(100)] for r in range(64)]


def pipelined_sync(get, reqs: list, count: int, window: int) -> float:
    """``count`` calls of ``get`` (returning concurrent futures) over ``reqs``, in windows; seconds."""
    wait = concurrent.futures.wait
    nreq = len(reqs)
    t0 = time.perf_counter()
    i = 0
    while i < count:
        burst = min(window, count - i)
        futs = [get(reqs[(i + k) % nreq]) for k in range(burst)]
        wait(futs)
        for f in futs:
            f.result()
        i += burst
    return time.perf_counter() - t0


async def pipelined_async(get, reqs: list, count: int, window: int) -> float:
    """``count`` calls of ``get`` (returning awaitables) over ``reqs``, in windows; seconds."""
    gather = asyncio.gather
    nreq = len(reqs)
    t0 = time.perf_counter()
    i = 0
    while i < count:
        burst = min(window, count - i)
        await gather(*[get(reqs[(i + k) % nreq]) for k in range(burst)])
        i += burst
    return time.perf_counter() - t0
