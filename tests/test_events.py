"""Events: own profile, subscribed user info, status; on/off; handler threads."""
from __future__ import annotations

import threading

import pytest

from tim_py import EVENT, TIM, Event, Gender, NotInitializedError, Profile, UserStatus, UserStatusType

from .conftest import APP_ID

T = 5


def collect(tim, name):
    got = []
    threads = set()

    def handler(event):
        threads.add(threading.current_thread().name)
        got.append(event)

    tim.on(name, handler)
    return got, threads, handler


def test_own_profile_event(alice):
    got, threads, _ = collect(alice, EVENT.PROFILE_UPDATED)
    alice.update_my_profile(nick="Alice", gender=Gender.FEMALE).result(T)
    # events a call causes are delivered before the call completes
    assert len(got) == 1
    ev = got[0]
    assert isinstance(ev, Event) and ev.name == "onProfileUpdated"
    assert isinstance(ev.data, list) and isinstance(ev.data[0], Profile)
    assert ev.data[0].user_id == "alice" and ev.data[0].nick == "Alice"
    assert threads == {"tim_py-dispatcher"}


def test_own_profile_event_from_admin(alice):
    got, _, _ = collect(alice, EVENT.PROFILE_UPDATED)
    alice.admin.set_portrait("alice", nick="Set by admin").result(T)
    assert [e.data[0].nick for e in got] == ["Set by admin"]


def test_subscribed_user_info_event(alice):
    got, _, _ = collect(alice, EVENT.PROFILE_UPDATED)
    alice.admin.set_portrait("bob", nick="Bob0").result(T)
    assert got == []  # not subscribed yet
    alice.subscribe_user_info(["bob"]).result(T)
    alice.admin.set_portrait("bob", nick="Bob1", profile_custom_field=[{"key": "Hobby", "value": "go"}]).result(T)
    assert len(got) == 1
    p = got[0].data[0]
    assert p.user_id == "bob" and p.nick == "Bob1" and p.custom("Hobby") == "go"
    alice.unsubscribe_user_info(["bob"]).result(T)
    alice.admin.set_portrait("bob", nick="Bob2").result(T)
    assert len(got) == 1


def test_status_events(alice):
    got, threads, _ = collect(alice, EVENT.USER_STATUS_UPDATED)
    alice.subscribe_user_status(["bob"]).result(T)
    alice.admin.set_user_status("bob", UserStatusType.ONLINE).result(T)
    alice.admin.set_user_status("bob", UserStatusType.ONLINE, "busy").result(T)
    alice.admin.set_user_status("bob", UserStatusType.OFFLINE).result(T)
    alice.admin.set_user_status("carol", UserStatusType.ONLINE).result(T)  # not subscribed
    seen = [(e.data[0].user_id, e.data[0].status_type, e.data[0].custom_status) for e in got]
    assert seen == [("bob", UserStatusType.ONLINE, ""), ("bob", UserStatusType.ONLINE, "busy"),
                    ("bob", UserStatusType.OFFLINE, "busy")]
    assert all(isinstance(s, UserStatus) for e in got for s in e.data)
    assert got[0].data[0].online_devices == ("Linux",)
    assert threads == {"tim_py-dispatcher"}
    alice.unsubscribe_user_status().result(T)
    alice.admin.set_user_status("bob", UserStatusType.ONLINE).result(T)
    assert len(got) == 3


def test_own_custom_status_event(alice):
    got, _, _ = collect(alice, EVENT.USER_STATUS_UPDATED)
    alice.set_self_status("lunch").result(T)
    assert [(e.data[0].user_id, e.data[0].custom_status) for e in got] == [("alice", "lunch")]


def test_on_off(alice):
    a, b = [], []
    alice.on(EVENT.PROFILE_UPDATED, a.append)
    alice.on(EVENT.PROFILE_UPDATED, b.append)
    alice.update_my_profile(nick="1").result(T)
    alice.off(EVENT.PROFILE_UPDATED, a.append)  # a different bound method object: equal, removed
    alice.update_my_profile(nick="2").result(T)
    alice.off(EVENT.PROFILE_UPDATED, lambda e: None)  # not registered: ignored
    alice.off(EVENT.PROFILE_UPDATED)
    alice.update_my_profile(nick="3").result(T)
    assert [e.data[0].nick for e in a] == ["1"]
    assert [e.data[0].nick for e in b] == ["1", "2"]


def test_on_argument_checks(tim):
    with pytest.raises(ValueError, match="event"):
        tim.on("onMessageReceived", print)
    with pytest.raises(TypeError, match="event"):
        tim.on(3, print)
    with pytest.raises(TypeError, match="handler"):
        tim.on(EVENT.PROFILE_UPDATED, "not callable")
    with pytest.raises(ValueError):
        tim.off("nope")


@pytest.mark.logs_errors
def test_handler_exception_does_not_stop_delivery(alice, caplog):
    got = []

    def bad(event):
        raise RuntimeError("boom")

    alice.on(EVENT.PROFILE_UPDATED, bad)
    alice.on(EVENT.PROFILE_UPDATED, got.append)
    alice.update_my_profile(nick="x").result(T)
    assert len(got) == 1
    assert "boom" in caplog.text
    assert alice.get_my_profile().result(T).nick == "x"


def test_events_in_memory_store_first_client(tmp_path):
    """The in-memory store delivers events, in the first client of a process and after re-init."""
    import subprocess
    import sys

    code = (
        "import tim_py\n"
        "t = tim_py.TIM(1)\n"
        "got = []\n"
        "t.on(tim_py.EVENT.PROFILE_UPDATED, got.append)\n"
        "t.login('alice', 's').result(5)\n"
        "t.update_my_profile(nick='N').result(5)\n"
        "assert [e.data[0].nick for e in got][-1] == 'N', got\n"
        "t.close()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_inmemory_reinit_events():
    for i in range(2):
        with TIM(APP_ID) as t:
            got = []
            t.on(EVENT.PROFILE_UPDATED, got.append)
            t.login("alice", "sig").result(T)
            t.update_my_profile(nick=f"n{i}").result(T)
            assert got and got[-1].data[0].nick == f"n{i}", f"round {i}: no event"


def test_no_handler_runs_after_close_nor_nested_in_one():
    """close() from a handler: the handler is not re-entered by the final drain, and no handler
    runs once close() has been called."""
    import threading

    t = TIM(1400000001)
    t.login("alice", "sig").result(T)
    depth = [0]
    seen = {"max_depth": 0, "after_close": 0, "calls": 0}
    closed = threading.Event()

    def handler(event):
        if closed.is_set():
            seen["after_close"] += 1
        depth[0] += 1
        seen["max_depth"] = max(seen["max_depth"], depth[0])
        seen["calls"] += 1
        try:
            if seen["calls"] == 1:
                t.close()
                closed.set()
        finally:
            depth[0] -= 1

    t.on(EVENT.PROFILE_UPDATED, handler)
    futs = []
    for k in range(200):
        try:
            futs.append(t.update_my_profile(nick=f"n{k}"))
        except NotInitializedError:  # the handler closed the client meanwhile
            break
    assert closed.wait(T)
    for f in futs:
        try:
            f.result(T)
        except Exception:
            pass  # interrupted by the close: resolved either way
    assert seen["max_depth"] == 1
    assert seen["after_close"] == 0
    assert t.closed


def test_on_as_a_decorator(alice):
    seen = []

    @alice.on(EVENT.PROFILE_UPDATED)
    def changed(event):
        seen.append(event.data[0].nick)

    assert callable(changed) and changed.__name__ == "changed"  # the function, unchanged
    alice.update_my_profile(nick="deco").result(T)
    assert seen == ["deco"]
    changed(Event(EVENT.PROFILE_UPDATED, [alice.get_my_profile().result(T)]))  # still callable directly
    assert seen == ["deco", "deco"]
    alice.off(EVENT.PROFILE_UPDATED, changed)
    alice.update_my_profile(nick="off").result(T)
    assert seen == ["deco", "deco"]
    # the two-argument form returns the handler too
    assert alice.on(EVENT.PROFILE_UPDATED, seen.append) == seen.append
    with pytest.raises(ValueError, match="event"):
        alice.on("onNope")  # checked when the decorator is made
    with pytest.raises(TypeError, match="handler must be callable"):
        alice.on(EVENT.PROFILE_UPDATED)("not callable")


async def test_on_as_a_decorator_async(atim):
    import asyncio

    await atim.login("alice", "sig")
    seen = []

    @atim.on(EVENT.PROFILE_UPDATED)
    async def changed(event):
        seen.append(event.data[0].nick)

    assert asyncio.iscoroutinefunction(changed)
    await atim.update_my_profile(nick="deco")
    for _ in range(100):
        if seen:
            break
        await asyncio.sleep(0.01)
    assert seen == ["deco"]
