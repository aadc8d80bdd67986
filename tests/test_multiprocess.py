"""Several processes on one world (docs/contract.md 3.6, 3.9), with real subprocesses.

Every test runs on both engines (the ``world`` fixture): a data directory
(SQLite) and a fresh app in the private PostgreSQL cluster.  The pytest process
is one of the processes (a TIM client on the world); the others are small Python
scripts run with ``sys.executable -c``.  Every wait has a timeout, and every
subprocess is killed if a test fails.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time

import pytest

from tim_py import EVENT, TIM, Gender, UserStatusType

from .conftest import read_line, spawn

T = 10  # seconds for any one call or event


class Recorder:
    """Collects events; ``wait_for(pred)`` blocks until one matches."""

    def __init__(self, tim: TIM) -> None:
        self.items: list = []
        self.cond = threading.Condition()
        tim.on(EVENT.USER_STATUS_UPDATED, self._add)
        tim.on(EVENT.PROFILE_UPDATED, self._add)

    def _add(self, event) -> None:
        with self.cond:
            now = time.monotonic()
            self.items.extend((now, event.name, x) for x in event.data)
            self.cond.notify_all()

    def wait_for(self, pred, timeout: float = T):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for when, name, x in self.items:
                    if pred(name, x):
                        return when, x
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no matching event within {timeout} s; got {self.items}")
                self.cond.wait(left)


def watch(tim: TIM, me: str, users: list, info: bool = False) -> Recorder:
    """Log in as ``me``, record events, and subscribe to the status (and, with ``info``,
    the profile) of ``users``."""
    tim.login(me, "sig").result(T)
    rec = Recorder(tim)
    tim.subscribe_user_status(users).result(T)
    if info:
        tim.subscribe_user_info(users).result(T)
    return rec


# --------------------------------------------------------------------------------------

BOB = """
import sys, tim_py
with tim_py.TIM(int(sys.argv[1]), sys.argv[2]) as t:
    t.login("bob", "sig").result(10)
    t.set_self_status("hello from the child").result(10)
    t.update_my_profile(nick="Bob", self_signature="from the child", gender="Gender_Type_Male",
                        profile_custom_field=[{"key": "Hobby", "value": "chess"}]).result(10)
    print("done", flush=True)
"""


def test_told_of_another_process_changes(world, children):
    with TIM(world.app_id, world.where) as tim:
        tim.admin.import_account("bob").result(T)
        rec = watch(tim, "alice", ["bob"], info=True)
        child = spawn(BOB, world.app_id, world.where)
        children.append(child)
        assert read_line(child) == "done"
        assert child.wait(T) == 0

        st = EVENT.USER_STATUS_UPDATED
        rec.wait_for(lambda n, s: n == st and s.status_type is UserStatusType.ONLINE)
        rec.wait_for(lambda n, s: n == st and s.custom_status == "hello from the child"
                     and s.status_type is UserStatusType.ONLINE and s.online_devices == ("Linux",))
        _, p = rec.wait_for(lambda n, p: n == EVENT.PROFILE_UPDATED and p.nick == "Bob")
        assert (p.user_id, p.self_signature, p.gender, p.custom("Hobby")) == \
            ("bob", "from the child", Gender.MALE, "chess")
        # it closed its client: logged out, UnLogined, custom status cleared
        _, s = rec.wait_for(lambda n, s: n == st and s.status_type is UserStatusType.UNLOGINED)
        assert s.custom_status == ""
        names = [n for _, n, x in rec.items if x.user_id == "bob"]
        assert names.count(EVENT.PROFILE_UPDATED) == 1, rec.items
        [s] = tim.get_user_status(["bob"]).result(T)
        assert s.status_type is UserStatusType.UNLOGINED


VICTIM = """
import sys, time, tim_py
t = tim_py.TIM(int(sys.argv[1]), sys.argv[2])
t.login("victim", "sig").result(10)
t.set_self_status("about to die").result(10)
print("ready", flush=True)
time.sleep(60)
"""


def test_kill_9_turns_user_offline(world, children):
    with TIM(world.app_id, world.where) as tim:
        tim.admin.import_account("victim").result(T)
        rec = watch(tim, "watcher", ["victim"])
        child = spawn(VICTIM, world.app_id, world.where)
        children.append(child)
        assert read_line(child) == "ready"
        [s] = tim.get_user_status(["victim"]).result(T)
        assert (s.status_type, s.custom_status) == (UserStatusType.ONLINE, "about to die")

        child.send_signal(signal.SIGKILL)
        child.wait(T)
        killed = time.monotonic()
        when, s = rec.wait_for(lambda n, s: s.status_type is UserStatusType.OFFLINE, timeout=5)
        assert s.user_id == "victim" and s.online_devices == ()
        latency = when - killed
        assert latency < 3, f"Offline noticed {latency:.2f} s after kill -9"
        [s] = tim.get_user_status(["victim"]).result(T)
        assert s.status_type is UserStatusType.OFFLINE and s.online_devices == ()
        print(f"kill -9 -> Offline event in {latency * 1000:.0f} ms")


WRITER = """
import json, sys, time, tim_py
app_id, data_dir, me, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
with tim_py.TIM(app_id, data_dir) as t:
    t.login(me, "sig").result(10)
    t0 = time.monotonic()
    futs = []
    for k in range(n):  # as fast as it can: every call in flight at once, completed in order
        futs.append(("nick", f"{me}-{k}", t.update_my_profile(nick=f"{me}-{k}", level=k)))
        futs.append(("status", f"{me}-s{k}", t.set_self_status(f"{me}-s{k}")))
    acked, errors, last = 0, [], {}
    for kind, value, f in futs:
        try:
            f.result(60)
        except Exception as e:
            errors.append(repr(e))
        else:
            acked += 1
            last[kind] = value
    print(json.dumps({"user": me, "acked": acked, "errors": errors[:5], "last": last,
                      "seconds": time.monotonic() - t0}), flush=True)
    sys.stdin.readline()  # stay logged in while the test checks the store
"""


def test_six_writers_lose_nothing(world, children):
    """Six processes write as fast as they can; this one watches them all."""
    n = 200
    users = [f"writer{i}" for i in range(6)]
    with TIM(world.app_id, world.where) as tim:
        tim.admin.import_accounts(users).result(T)
        tim.login("checker", "sig").result(T)
        told = {u: {"status": [], "nick": []} for u in users}

        def on_status(event):
            for s in event.data:
                if s.custom_status:
                    told[s.user_id]["status"].append(s.custom_status)

        def on_profile(event):
            for p in event.data:
                told[p.user_id]["nick"].append(p.nick)

        tim.on(EVENT.USER_STATUS_UPDATED, on_status)
        tim.on(EVENT.PROFILE_UPDATED, on_profile)
        tim.subscribe_user_status(users).result(T)
        tim.subscribe_user_info(users).result(T)

        procs = [spawn(WRITER, world.app_id, world.where, u, n, stdin=True) for u in users]
        children.extend(procs)
        reports = {}
        for p in procs:
            r = json.loads(read_line(p, timeout=45))
            reports[r["user"]] = r
        slowest = max(r["seconds"] for r in reports.values())
        print(f"6 writers: {12 * n} acknowledged writes in {slowest:.2f} s ({12 * n / slowest:.0f}/s)")
        for u, r in reports.items():
            assert r["errors"] == [], (u, r["errors"])
            assert r["acked"] == 2 * n, r
            assert r["last"] == {"nick": f"{u}-{n - 1}", "status": f"{u}-s{n - 1}"}

        profiles = {p.user_id: p for p in tim.get_user_profile(users).result(T)}
        statuses = {s.user_id: s for s in tim.get_user_status(users).result(T)}
        for u in users:
            assert (profiles[u].nick, profiles[u].level) == (reports[u]["last"]["nick"], n - 1)
            assert statuses[u].status_type is UserStatusType.ONLINE
            assert statuses[u].custom_status == reports[u]["last"]["status"]
        # every write reached this process, once and in order
        deadline = time.monotonic() + T
        want = {u: {"status": [f"{u}-s{k}" for k in range(n)], "nick": [f"{u}-{k}" for k in range(n)]}
                for u in users}
        while told != want and time.monotonic() < deadline:
            time.sleep(0.05)
        for u in users:
            for kind in ("status", "nick"):
                got = told[u][kind]
                assert got == want[u][kind], (u, kind, len(got), got[:3], got[-3:])
        tim.logout().result(T)
    for p in procs:
        p.stdin.close()
    for p in procs:
        assert p.wait(T) == 0, p.stderr.read()
    if world.engine == "sqlite":
        db = sqlite3.connect(os.path.join(world.where, f"timref-{world.app_id}.db"))
        try:
            assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        finally:
            db.close()


PAIR_WRITER = """
import sys, time, tim_py
app_id, data_dir, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
with tim_py.TIM(app_id, data_dir) as t:
    t.login("pair", "sig").result(10)
    t.update_my_profile(nick="v0", self_signature="v0").result(10)
    print("started", flush=True)
    k, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        k += 1
        t.update_my_profile(nick=f"v{k}", self_signature=f"v{k}").result(10)
    print(k, flush=True)
"""


def test_reader_never_sees_half_a_write(world, children):
    """nick and signature are written together; a reader in another process always sees both."""
    with TIM(world.app_id, world.where) as tim:
        tim.login("reader", "sig").result(T)
        writer = spawn(PAIR_WRITER, world.app_id, world.where, 1.5)
        children.append(writer)
        assert read_line(writer) == "started"
        seen, reads, torn = set(), 0, []
        while writer.poll() is None:
            [p] = tim.get_user_profile(["pair"]).result(T)  # through the SDK (profile cache)
            got = tim.admin.get_portrait(["pair"], ["nick", "self_signature"]).result(T)["pair"]
            for nick, sig in ((p.nick, p.self_signature), (got["nick"], got["self_signature"])):
                reads += 1
                seen.add(nick)
                if nick != sig:
                    torn.append((nick, sig))
        writes = int(read_line(writer))
        assert writer.wait(T) == 0
        assert not torn, f"{len(torn)} torn reads of {reads}, e.g. {torn[:5]}"
        assert len(seen) >= 5, f"the reader saw only {sorted(seen)} during {writes} writes"
        print(f"reader: {reads} reads, {len(seen)} distinct values, {writes} writes, none torn")
        [p] = tim.get_user_profile(["pair"]).result(T)
        assert p.nick == p.self_signature == f"v{writes}"


CHATTER = """
import sys, time, tim_py
with tim_py.TIM(int(sys.argv[1]), sys.argv[2]) as t:
    t.login("chatter", "sig").result(10)
    print("ready", flush=True)
    k = 0
    while True:  # a busy world: a commit every 0.3 s
        k += 1
        t.set_self_status(f"k{k}").result(10)
        time.sleep(0.3)
"""


def test_kill_9_noticed_in_a_busy_world(world, children):
    with TIM(world.app_id, world.where) as tim:
        tim.admin.import_accounts(["victim", "chatter"]).result(T)
        rec = watch(tim, "watcher", ["victim"])
        victim = spawn(VICTIM, world.app_id, world.where)
        chatter = spawn(CHATTER, world.app_id, world.where)
        children.extend([victim, chatter])
        assert read_line(victim) == "ready" and read_line(chatter) == "ready"
        victim.send_signal(signal.SIGKILL)
        victim.wait(T)
        rec.wait_for(lambda n, s: s.status_type is UserStatusType.OFFLINE, timeout=4)
