"""SIGKILL at random moments (docs/contract.md 3.6: every acknowledged write survives the
process being killed the next instant; docs/security.md).

A child process writes profile updates, nick and signature set together to
the same counter value, and prints each counter once its future resolved
(acknowledged).  The parent kills it with SIGKILL at a random moment (while
it starts, logs in, or writes), then checks the store with Python's sqlite3:
PRAGMA integrity_check is ok, the stored counter is at least the last
acknowledged one, and nick == signature (written together, found together).
The next child starts on the same store and goes on from the stored counter.

TIM_CRASH_KILLS sets the number of kills (30 by default; e.g. 1000 for a
longer run: TIM_CRASH_KILLS=1000 .venv/bin/pytest -q tests/test_crash.py).
"""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from tim_py import TIM

from .conftest import ROOT

APP = 1400000077
KILLS = int(os.environ.get("TIM_CRASH_KILLS", "30"))

WRITER = r"""
import sys, tim_py
data_dir = sys.argv[1]
t = tim_py.TIM(%d, data_dir)
t.login("writer", "sig").result(10)
n = int(t.get_my_profile().result(10).nick or "0")
print("start", n, flush=True)
while True:
    n += 1
    t.update_my_profile(nick=str(n), self_signature=str(n),
                        profile_custom_field=[{"key": "Count", "value": str(n)}]).result(10)
    print(n, flush=True)
""" % APP


def read_store(db_path):
    con = sqlite3.connect(db_path, timeout=10)
    try:
        (check,) = con.execute("PRAGMA integrity_check").fetchone()
        row = con.execute("SELECT nick, signature, custom FROM account WHERE id = 'writer'").fetchone()
    finally:
        con.close()
    return check, row


def kill_writer(script, data_dir, pause):
    """Run a writer child on data_dir, SIGKILL it after ``pause()`` (which may wait for its first
    acknowledgement), and return (the store's value it started from or None, the values it
    acknowledged, in order)."""
    p = subprocess.Popen([sys.executable, "-c", script, str(data_dir)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd=str(ROOT))
    acked = []
    start = []

    def reader():
        for line in p.stdout:
            w = line.split()
            if w and w[0] == "start":
                start.append(int(w[1]))
            elif w:
                acked.append(int(w[0]))

    th = threading.Thread(target=reader)
    th.start()
    pause(p, acked)
    p.send_signal(signal.SIGKILL)
    p.wait(30)
    th.join(30)
    err = p.stderr.read()
    p.stderr.close()
    assert p.returncode == -signal.SIGKILL, (p.returncode, err[-2000:])
    if acked:
        assert acked == list(range(acked[0], acked[0] + len(acked))), "acknowledged out of order"
    return (start[0] if start else None), acked


def wait_for_ack(p, acked, limit=30):
    t0 = time.monotonic()
    while not acked and p.poll() is None and time.monotonic() - t0 < limit:
        time.sleep(0.001)


def test_kill_while_writing(tmp_path):
    rnd = random.Random(int(os.environ.get("TIM_CRASH_SEED", "0")) or None)
    data_dir = tmp_path / "store"
    db_path = data_dir / f"timref-{APP}.db"
    last_acked = 0
    acked_total = 0
    killed_writing = 0
    for k in range(KILLS):
        def pause(p, acked, k=k):
            if k % 3 == 0:
                time.sleep(rnd.uniform(0.0, 0.25))  # anywhere: import, TIMInit, login, first writes
            else:
                wait_for_ack(p, acked)
                time.sleep(rnd.uniform(0.0, 0.05))  # in the middle of writing

        start, acked = kill_writer(WRITER, data_dir, pause)
        if start is not None:
            # the child read back what the store held: never behind an acknowledged write
            assert start >= last_acked, (k, start, last_acked)
        if acked:
            killed_writing += 1
            acked_total += len(acked)
            last_acked = acked[-1]
        if not db_path.exists():
            assert last_acked == 0
            continue
        check, row = read_store(str(db_path))
        assert check == "ok", (k, check)
        if row is None:
            assert last_acked == 0, (k, "the account is gone")
            continue
        nick, sig, custom = row
        assert nick == sig, (k, "fields written together were split", nick, sig)
        stored = int(nick or "0")
        assert stored >= last_acked, (k, "an acknowledged write was lost", stored, last_acked)
        assert stored <= last_acked + 1, (k, "more than one unacknowledged write", stored, last_acked)
        if nick:
            assert f'"{nick}"' in custom, (k, custom)
        last_acked = stored  # an unacknowledged write may have landed: the next child goes on from it

    # the store opens normally afterwards, the dead sessions are reaped, and reads agree
    with TIM(APP, data_dir) as t:
        t.login("reader", "sig").result(10)
        p = t.get_user_profile(["writer"]).result(10)[0]
        assert p.nick == p.self_signature == (str(last_acked) if last_acked else "")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            st = t.get_user_status(["writer"]).result(10)[0]
            if st.status_type != 1:
                break
            time.sleep(0.2)
        assert st.status_type == 2, st  # Offline: its process died
    print(f"\ncrash: {KILLS} kills ({killed_writing} while writing), {acked_total} acknowledged writes, "
          f"last counter {last_acked}, integrity ok every time")
    assert killed_writing >= KILLS // 2


WRITER64 = r"""
import sys, collections, tim_py
data_dir = sys.argv[1]
t = tim_py.TIM(%d, data_dir)
t.login("writer64", "sig").result(10)
n = int(t.get_my_profile().result(10).nick or "0")
print("start", n, flush=True)
inflight = collections.deque()
while True:
    while len(inflight) < 64:
        n += 1
        inflight.append((n, t.update_my_profile(nick=str(n), self_signature=str(n))))
    v, f = inflight.popleft()
    f.result(10)
    print(v, flush=True)
""" % APP


def test_kill_with_64_in_flight(tmp_path):
    """64 updates in flight (committed in groups): no acknowledged write is lost."""
    rnd = random.Random(int(os.environ.get("TIM_CRASH_SEED", "0")) or None)
    data_dir = tmp_path / "store64"
    db_path = data_dir / f"timref-{APP}.db"
    last_acked = 0
    killed_writing = 0
    kills = max(10, KILLS // 2)
    for k in range(kills):
        def pause(p, acked):
            wait_for_ack(p, acked)
            time.sleep(rnd.uniform(0.0, 0.1))  # in the middle of writing, 64 in flight

        start, acked = kill_writer(WRITER64, data_dir, pause)
        if start is not None:
            assert start >= last_acked, (k, start, last_acked)
        if acked:
            killed_writing += 1
            last_acked = acked[-1]
        con = sqlite3.connect(str(db_path), timeout=10)
        try:
            (check,) = con.execute("PRAGMA integrity_check").fetchone()
            row = con.execute("SELECT nick, signature FROM account WHERE id = 'writer64'").fetchone()
        finally:
            con.close()
        assert check == "ok", (k, check)
        assert row is not None
        nick, sig = row
        assert nick == sig, (k, "fields written together were split", nick, sig)
        stored = int(nick or "0")
        assert stored >= last_acked, (k, "an acknowledged write was lost", stored, last_acked)
        assert stored <= last_acked + 64, (k, "more writes than were in flight", stored, last_acked)
        last_acked = stored
    assert killed_writing >= kills // 2
