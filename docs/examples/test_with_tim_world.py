"""Testing a program that uses tim_py, with the ``tim_world`` fixture (docs/pytest.md).

Copy this file among your tests and run ``pytest``: the plugin comes with tim_py, nothing
needs registering.  The async test needs pytest-asyncio (``pip install pytest-asyncio``).

Each test gets a world of its own, removed after it: a temporary directory, or with
``pytest --tim-store postgresql://...`` an app of its own on that database.  In it,
``tim_world.client(user)`` is this process's client logged in as ``user`` (one per process,
as the C SDK), ``tim_world.spawn(user)`` another user in a process of its own.  Whatever
happens, the clients are closed and the processes ended when the test ends.
"""
from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List

import pytest

from tim_py import EVENT, TIM, Event, Gender, UserStatus, UserStatusType
from tim_py.pytest_plugin import TIMWorld

T = 10  # seconds: how long any one wait may take

# A world to start from: a snapshot document (docs/snapshots.md; `tim-py world export FILE`
# writes one from a world you have).  Profile tags as the REST API names them; a Status makes
# the user look logged in from the devices named.
SEED: Dict[str, Any] = {
    "Format": "timref-world", "Version": 1, "SDKAppID": 0,
    "Accounts": [
        {"UserID": "bob", "Profile": {"Tag_Profile_IM_Nick": "Bob", "Tag_Profile_Custom_Hobby": "chess"}},
        {"UserID": "carol", "Profile": {"Tag_Profile_IM_Nick": "Carol"},
         "CustomStatus": "away", "Status": {"Type": "Online", "Devices": ["Phone"]}},
    ],
}


def first_status(events: Iterable[Event], match: Callable[[UserStatus], bool]) -> UserStatus:
    """The first status in ``events`` that ``match``es (the events of ``TIM.events(timeout=...)``
    end when none comes in time)."""
    for event in events:
        status: UserStatus
        for status in event.data:
            if match(status):
                return status
    raise AssertionError("no such status came in time")


def test_presence_between_processes(tim_world: TIMWorld) -> None:
    alice = tim_world.client("alice")            # this process
    bob = tim_world.spawn("bob")                 # another process, logged in
    alice.subscribe_user_status(["bob"]).result(T)

    with alice.events(EVENT.USER_STATUS_UPDATED, timeout=T) as events:
        bob.set_self_status("in a meeting")
        s = first_status(events, lambda s: s.user_id == "bob" and s.custom_status == "in a meeting")
        assert s.status_type is UserStatusType.ONLINE

        bob.kill()                               # a crash: the library notices the dead session
        s = first_status(events, lambda s: s.user_id == "bob" and s.status_type is not UserStatusType.ONLINE)
        assert s.status_type is UserStatusType.OFFLINE

    [s] = alice.get_user_status(["bob"]).result(T)
    assert s.status_type is UserStatusType.OFFLINE


def test_profile_notification_to_another_process(tim_world: TIMWorld) -> None:
    bob = tim_world.spawn("bob")
    alice = tim_world.client("alice")
    bob.subscribe_user_info(["alice"])

    alice.update_my_profile(nick="Alice", gender=Gender.FEMALE).result(T)

    seen = bob.wait_event(EVENT.PROFILE_UPDATED, lambda p: p.user_id == "alice" and p.nick == "Alice")
    assert seen.gender is Gender.FEMALE
    # the peer's calls return their results, as the client's futures would
    [profile] = bob.get_user_profile(["alice"])
    assert profile.nick == "Alice"


def test_a_client_shared_by_threads(tim_world: TIMWorld) -> None:
    alice = tim_world.client("alice")
    peers = [tim_world.spawn(f"user{i}") for i in range(3)]
    errors: List[BaseException] = []

    def work(i: int) -> None:  # each thread drives one peer and uses alice's client
        try:
            peers[i].set_self_status(f"status {i}")
            [s] = alice.get_user_status([f"user{i}"]).result(T)
            assert (s.status_type, s.custom_status) == (UserStatusType.ONLINE, f"status {i}")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(T)
    assert not errors, errors


@pytest.mark.asyncio
async def test_asyncio(tim_world: TIMWorld) -> None:
    alice = await tim_world.async_client("alice")
    carol = tim_world.spawn("carol")
    await alice.subscribe_user_status(["carol"])

    events = alice.events(EVENT.USER_STATUS_UPDATED)
    # a peer's calls wait for their answer: in a coroutine, run them in a thread
    await asyncio.to_thread(carol.set_self_status, "on the loop")

    async def carols_status() -> UserStatus:
        async for event in events:
            s: UserStatus
            for s in event.data:
                if s.user_id == "carol" and s.custom_status == "on the loop":
                    return s
        raise AssertionError("the stream ended")

    s = await asyncio.wait_for(carols_status(), T)
    assert s.status_type is UserStatusType.ONLINE


def test_seeded_world(tim_world: TIMWorld, tmp_path: Path) -> None:
    assert tim_world.seed(SEED) == 2             # seed first: the import replaces the world
    alice = tim_world.client("alice")
    [bob] = alice.get_user_profile(["bob"]).result(T)
    assert (bob.nick, bob.custom("Hobby")) == ("Bob", "chess")
    [carol] = alice.get_user_status(["carol"]).result(T)
    assert (carol.status_type, carol.custom_status, carol.online_devices) == \
        (UserStatusType.ONLINE, "away", ("Phone",))

    # or from a file; with a client open, seed() goes through it
    path = tmp_path / "world.json"
    path.write_text(json.dumps({**SEED, "Accounts": SEED["Accounts"][:1] + [{"UserID": "alice"}]}))
    assert tim_world.seed(path) == 2
    assert alice.admin.check_accounts(["alice", "bob", "carol"]).result(T) == \
        {"alice": True, "bob": True, "carol": False}


def test_worlds_are_separate(tim_world: TIMWorld) -> None:
    # nothing of the other tests is here: no accounts but the ones this test makes
    alice = tim_world.client("alice")
    assert alice.admin.check_accounts(["alice", "bob", "carol"]).result(T) == \
        {"alice": True, "bob": False, "carol": False}


def own_client_example(tim_world: TIMWorld) -> TIM:
    """A client opened by hand on the world (close it yourself): what the helpers do for you."""
    tim = TIM(tim_world.sdk_app_id, tim_world.data_dir, secret_key=tim_world.secret_key)
    tim.login("dave", tim_world.user_sig("dave")).result(T)
    return tim
