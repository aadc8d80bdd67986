"""TIM.events(): the blocking iterator of events (bounded queue, filter, timeout, close)."""
from __future__ import annotations

import threading
import time

import pytest

from tim_py import EVENT, TIM, EventIterator, NotInitializedError, UserStatusType

from .conftest import APP_ID

T = 5


def test_events_iterator(alice):
    events = alice.events(timeout=T)
    only_status = alice.events(EVENT.USER_STATUS_UPDATED, timeout=T)
    assert isinstance(events, EventIterator)
    alice.subscribe_user_status(["bob"]).result(T)
    alice.update_my_profile(nick="A").result(T)
    alice.admin.set_user_status("bob", UserStatusType.ONLINE, "here").result(T)
    got = [next(events), next(events)]
    assert [e.name for e in got] == [EVENT.PROFILE_UPDATED, EVENT.USER_STATUS_UPDATED]
    assert got[0].data[0].nick == "A" and got[1].data[0].custom_status == "here"
    ev = next(only_status)
    assert ev.name == EVENT.USER_STATUS_UPDATED and ev.data[0].user_id == "bob"
    only_status.close()
    with pytest.raises(StopIteration):
        next(only_status)
    alice.update_my_profile(nick="B").result(T)
    assert next(events).data[0].nick == "B"


def test_events_registered_at_the_call(alice):
    """An event between events() and the first next() is not missed, nor one from another thread."""
    events = alice.events(EVENT.PROFILE_UPDATED, timeout=T)
    alice.update_my_profile(nick="before-iterating").result(T)
    later = threading.Thread(target=lambda: (time.sleep(0.05), alice.update_my_profile(nick="later").result(T)))
    later.start()
    nicks = []
    for ev in events:
        nicks.append(ev.data[0].nick)
        if len(nicks) == 2:
            break
    later.join(T)
    assert nicks == ["before-iterating", "later"]


def test_events_bounded_queue(alice):
    events = alice.events(maxsize=3, timeout=0)
    for i in range(6):
        alice.update_my_profile(nick=f"n{i}").result(T)
    assert events.dropped == 3
    assert [ev.data[0].nick for ev in events] == ["n3", "n4", "n5"]  # then the timeout ends it


def test_events_timeout_ends_the_loop_not_the_iterator(alice):
    events = alice.events(timeout=0.2)
    t0 = time.monotonic()
    assert list(events) == []
    assert 0.15 <= time.monotonic() - t0 < T
    alice.update_my_profile(nick="again").result(T)
    assert [ev.data[0].nick for ev in events] == ["again"]


def test_events_end_when_closed():
    t = TIM(APP_ID)
    events = t.events()  # no timeout: only the close ends it
    got = []
    consumer = threading.Thread(target=lambda: got.extend(events))
    consumer.start()
    time.sleep(0.05)
    t.close()
    consumer.join(T)
    assert not consumer.is_alive() and got == []
    with pytest.raises(NotInitializedError):
        t.events()


def test_events_with_block_stops_collecting(alice):
    """Leaving the block (close()) stops collecting; what was collected can still be read."""
    with alice.events(timeout=T) as events:
        alice.update_my_profile(nick="in").result(T)
    alice.update_my_profile(nick="out").result(T)
    t0 = time.monotonic()
    assert [ev.data[0].nick for ev in events] == ["in"]
    assert time.monotonic() - t0 < T / 2  # ended, not timed out
    assert events not in alice._streams


def test_events_argument_checks(tim):
    with pytest.raises(ValueError, match="event"):
        tim.events("nope")
    with pytest.raises(TypeError, match="event"):
        tim.events(3)
    with pytest.raises(ValueError, match="maxsize"):
        tim.events(maxsize=0)
    with pytest.raises(TypeError, match="timeout must be a number"):
        tim.events(timeout="5")
    with pytest.raises(TypeError, match="timeout"):
        tim.events(timeout=True)
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="timeout"):
            tim.events(timeout=bad)
    assert not tim._streams  # nothing half-registered


def test_waiting_for_an_event_inside_a_handler_refuses(alice):
    events = alice.events(EVENT.USER_STATUS_UPDATED)
    seen = []

    def handler(event):
        try:
            next(events)
        except RuntimeError as e:
            seen.append(str(e))

    alice.on(EVENT.PROFILE_UPDATED, handler)
    alice.update_my_profile(nick="x").result(T)
    assert seen and "deadlock" in seen[0]
