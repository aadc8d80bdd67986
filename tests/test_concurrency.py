"""Threads, close and exit with calls in flight."""
from __future__ import annotations

import concurrent.futures
import threading
import time

from tim_py import CallInterrupted, TIMError

from .conftest import run_python

T = 10


def test_sixteen_threads(alice):
    n_threads, per_thread = 16, 300
    barrier = threading.Barrier(n_threads)
    results = [None] * n_threads

    def worker(i):
        barrier.wait()
        futs = []
        for k in range(per_thread):
            if k % 3 == 0:
                futs.append(alice.get_user_status(["alice", "bob"]))
            elif k % 3 == 1:
                futs.append(alice.get_user_profile(["bob"]))
            else:
                futs.append(alice.set_self_status(f"t{i}"))
        results[i] = [f.result(T) for f in futs]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for r in results:
        assert r is not None and len(r) == per_thread
        assert r[0][0].user_id == "alice" and r[1][0].user_id == "bob" and r[2] is None


def test_close_while_threads_call(tmp_path):
    from tim_py import TIM

    t = TIM(1, tmp_path)
    t.login("alice", "sig").result(T)
    stop = threading.Event()
    futs, errors = [], []

    def worker():
        while not stop.is_set():
            try:
                futs.append(t.get_user_status(["alice"]))
            except TIMError as e:  # after close: raised at the call
                errors.append(e)
                return

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for th in threads:
        th.start()
    time.sleep(0.2)
    t.close()
    stop.set()
    for th in threads:
        th.join(10)
    done, not_done = concurrent.futures.wait(futs, timeout=T)
    assert not not_done
    for f in futs:
        e = f.exception()
        assert e is None or isinstance(e, CallInterrupted) or e.code == 6013


EXIT_SCRIPT = r"""
import sys, tim_py
from tim_py.aio import AsyncTIM
mode = sys.argv[1]
if mode == "sync":
    t = tim_py.TIM(1)
    t.login("alice", "sig").result(5)
    futs = [t.get_user_status(["alice"]) for _ in range(20000)]
    futs += [t.update_my_profile(nick="n%d" % i) for i in range(2000)]
    t.on(tim_py.EVENT.PROFILE_UPDATED, lambda e: None)
    print("started", len(futs), flush=True)
    # exit with everything in flight: atexit closes the client
elif mode == "async":
    import asyncio
    async def main():
        t = AsyncTIM(1)
        await t.login("alice", "sig")
        futs = [t.get_user_status(["alice"]) for _ in range(20000)]
        print("started", len(futs), flush=True)
    asyncio.run(main())
elif mode == "exception":
    t = tim_py.TIM(1)
    futs = [t.get_user_status(["alice"]) for _ in range(5000)]
    raise SystemExit(0)
"""


def test_exit_with_calls_pending_sync():
    t0 = time.monotonic()
    r = run_python(EXIT_SCRIPT, "sync", timeout=60)
    assert r.returncode == 0, r.stderr
    assert "started" in r.stdout
    assert r.stderr == ""
    assert time.monotonic() - t0 < 30


def test_exit_with_calls_pending_async():
    r = run_python(EXIT_SCRIPT, "async", timeout=60)
    assert r.returncode == 0, r.stderr
    assert "started" in r.stdout


def test_exit_via_system_exit():
    r = run_python(EXIT_SCRIPT, "exception", timeout=60)
    assert r.returncode == 0, r.stderr
