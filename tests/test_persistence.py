"""data_dir: the store survives close/reopen and is shared with other processes, on both engines
(the ``world`` fixture: a directory for SQLite, a fresh app on the test cluster for PostgreSQL)."""
from __future__ import annotations

import os
import stat

from tim_py import TIM, Gender, UserStatusType

from .conftest import run_python

T = 5


def test_close_reopen(world):
    with TIM(world.app_id, world.where) as t:
        t.login("alice", "sig").result(T)
        t.update_my_profile(nick="Alice", gender=Gender.FEMALE,
                            profile_custom_field=[{"key": "Hobby", "value": "go"}]).result(T)
    with TIM(world.app_id, world.where) as t:
        t.login("bob", "sig").result(T)
        [p] = t.get_user_profile(["alice"]).result(T)
        assert (p.nick, p.gender, p.custom("Hobby")) == ("Alice", Gender.FEMALE, "go")
    with TIM(world.app_id + 1, world.where) as t:  # another app: another store
        t.login("bob", "sig").result(T)
        assert t.get_user_profile(["alice"]).exception(T).code == 40003
    if world.engine == "sqlite":
        mode = stat.S_IMODE(os.stat(world.where).st_mode)
        assert mode & 0o077 == 0 or mode == stat.S_IMODE(os.stat(world.where).st_mode)


def test_across_processes(world):
    code = ("import sys, tim_py\n"
            "with tim_py.TIM(%d, sys.argv[1]) as t:\n"
            "    t.login('carol', 's').result(5)\n"
            "    t.update_my_profile(nick='Carol', self_signature='from a child').result(5)\n"
            "    t.set_self_status('child').result(5)\n" % world.app_id)
    r = run_python(code, world.where)
    assert r.returncode == 0, r.stderr
    with TIM(world.app_id, world.where) as t:
        t.login("alice", "sig").result(T)
        [p] = t.get_user_profile(["carol"]).result(T)
        assert (p.nick, p.self_signature) == ("Carol", "from a child")
        [s] = t.get_user_status(["carol"]).result(T)
        assert s.status_type is UserStatusType.UNLOGINED  # it logged out when it closed


def test_events_from_another_process(world):
    with TIM(world.app_id, world.where) as t:
        t.admin.import_account("carol").result(T)
        t.login("alice", "sig").result(T)
        got = []
        import threading

        seen = threading.Event()

        def on_status(ev):
            got.extend(ev.data)
            if any(s.status_type is UserStatusType.UNLOGINED for s in got):
                seen.set()

        t.on("onUserStatusUpdated", on_status)
        t.subscribe_user_status(["carol"]).result(T)
        code = ("import sys, tim_py\n"
                "with tim_py.TIM(%d, sys.argv[1]) as t:\n"
                "    t.login('carol', 's').result(5)\n"
                "    t.set_self_status('hi from child').result(5)\n" % world.app_id)
        r = run_python(code, world.where)
        assert r.returncode == 0, r.stderr
        assert seen.wait(5), got
        kinds = [(s.user_id, s.status_type, s.custom_status) for s in got]
        assert ("carol", UserStatusType.ONLINE, "hi from child") in kinds
