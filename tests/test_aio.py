"""AsyncTIM: the same vocabulary, awaitable; events(); cancellation; close."""
from __future__ import annotations

import asyncio

import pytest

from tim_py import (
    EVENT,
    CallInterrupted,
    ClientOpenError,
    Gender,
    InvalidIdentifierError,
    InvalidOperationError,
    NotInitializedError,
    NotLoggedInError,
    Profile,
    ProfileError,
    UserStatusType,
)
from tim_py.aio import AsyncTIM

from .conftest import APP_ID


async def test_every_method(atim):
    assert await atim.admin.import_accounts(["bob", "carol"]) == []
    with pytest.raises(NotLoggedInError):
        await atim.get_my_profile()
    assert await atim.login("alice", "sig") is None
    assert atim.login_user_id == "alice"
    await atim.update_my_profile(nick="Alice", gender="Gender_Type_Female",
                                 profile_custom_field=[{"key": "Hobby", "value": "go"}])
    me = await atim.get_my_profile()
    assert isinstance(me, Profile) and me.nick == "Alice" and me.gender is Gender.FEMALE
    assert me.custom("Hobby") == "go"
    assert [p.user_id for p in await atim.get_user_profile(["carol", "bob"])] == ["carol", "bob"]
    await atim.set_self_status("async")
    [st] = await atim.get_user_status(["alice"])
    assert st.status_type is UserStatusType.ONLINE and st.custom_status == "async"
    assert await atim.subscribe_user_status(["bob"]) is None
    assert await atim.unsubscribe_user_status(["bob"]) is None
    assert await atim.unsubscribe_user_status() is None
    assert await atim.subscribe_user_info(["bob"]) is None
    assert await atim.unsubscribe_user_info() is None
    with pytest.raises(InvalidOperationError):
        await atim.login("bob", "sig")
    with pytest.raises(InvalidIdentifierError):
        await atim.get_user_profile(["x" * 33])
    with pytest.raises(ProfileError) as ei:
        await atim.get_user_profile(["nobody"])
    assert ei.value.code == 40003
    with pytest.raises(TypeError, match="user_id_list"):
        atim.get_user_status([1])
    assert await atim.logout() is None


async def test_async_with(tmp_path):
    async with AsyncTIM(APP_ID, tmp_path) as t:
        await t.login("alice", "sig")
        with pytest.raises(ClientOpenError):
            AsyncTIM(APP_ID)
    assert t.closed
    with pytest.raises(NotInitializedError):
        await t.logout()


def test_created_outside_a_loop_binds_on_first_use(tmp_path):
    t = AsyncTIM(APP_ID, tmp_path)
    try:
        with pytest.raises(RuntimeError, match="event loop"):
            t.logout()

        async def main():
            await t.login("alice", "sig")
            return (await t.get_my_profile()).user_id

        assert asyncio.run(main()) == "alice"

        async def other_loop():
            with pytest.raises(RuntimeError, match="another event loop"):
                t.logout()

        asyncio.run(other_loop())
    finally:
        t._close_impl()


async def test_handlers_run_on_the_loop(atim):
    loop = asyncio.get_running_loop()
    await atim.login("alice", "sig")
    seen = []

    def handler(event):
        seen.append((event.name, asyncio.get_running_loop() is loop))

    async def coro_handler(event):
        await asyncio.sleep(0)
        seen.append(("coro", event.data[0].nick))

    atim.on(EVENT.PROFILE_UPDATED, handler)
    atim.on(EVENT.PROFILE_UPDATED, coro_handler)
    await atim.update_my_profile(nick="N")
    await asyncio.sleep(0.01)
    assert ("onProfileUpdated", True) in seen and ("coro", "N") in seen
    atim.off(EVENT.PROFILE_UPDATED)


async def test_events_iterator(atim):
    await atim.admin.import_account("bob")
    await atim.login("alice", "sig")
    stream = atim.events()
    only_status = atim.events(EVENT.USER_STATUS_UPDATED)
    await atim.subscribe_user_status(["bob"])
    await atim.update_my_profile(nick="A")
    await atim.admin.set_user_status("bob", 1, "here")
    got = [await asyncio.wait_for(stream.__anext__(), 5) for _ in range(2)]
    assert [e.name for e in got] == [EVENT.PROFILE_UPDATED, EVENT.USER_STATUS_UPDATED]
    assert got[0].data[0].nick == "A" and got[1].data[0].custom_status == "here"
    ev = await asyncio.wait_for(only_status.__anext__(), 5)
    assert ev.name == EVENT.USER_STATUS_UPDATED
    await only_status.aclose()
    with pytest.raises(StopAsyncIteration):
        await only_status.__anext__()


async def test_events_bounded_queue(atim):
    await atim.login("alice", "sig")
    stream = atim.events(maxsize=3)
    for i in range(6):
        await atim.update_my_profile(nick=f"n{i}")
    assert stream.dropped == 3
    nicks = []
    async for ev in stream:
        nicks.append(ev.data[0].nick)
        if len(nicks) == 3:
            break
    assert nicks == ["n3", "n4", "n5"]


async def test_events_end_when_closed(tmp_path):
    t = AsyncTIM(APP_ID, tmp_path)
    stream = t.events()

    async def consume():
        return [e async for e in stream]

    task = asyncio.ensure_future(consume())
    await asyncio.sleep(0.01)
    await t.close()
    assert await asyncio.wait_for(task, 5) == []
    with pytest.raises(NotInitializedError):
        t.events()


async def test_events_argument_checks(atim):
    with pytest.raises(ValueError):
        atim.events("nope")
    with pytest.raises(ValueError):
        atim.events(maxsize=0)


async def test_cancellation_keeps_client_working(atim):
    await atim.login("alice", "sig")
    futs = [atim.get_user_status(["alice"]) for _ in range(300)]
    tasks = [asyncio.ensure_future(f) for f in futs[:100]]
    for f in futs[100:200]:
        f.cancel()
    for t in tasks[:50]:
        t.cancel()
    await asyncio.gather(*tasks, *futs[200:], return_exceptions=True)
    assert (await atim.get_my_profile()).user_id == "alice"
    # a cancelled wait_for
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(atim.get_user_status(["alice"]), 0)
    assert (await atim.get_user_status(["alice"]))[0].user_id == "alice"
    await asyncio.sleep(0.05)
    assert all(f.done() for f in futs)


async def test_close_with_calls_pending(tmp_path):
    t = AsyncTIM(APP_ID, tmp_path)
    await t.login("alice", "sig")
    futs = [t.get_user_status(["alice"]) for _ in range(3000)]
    await t.close()
    assert all(f.done() for f in futs)
    errs = [f.exception() for f in futs if f.exception() is not None]
    assert all(isinstance(e, CallInterrupted) and e.code == 7009 for e in errs)


async def test_gather_many(atim):
    await atim.login("alice", "sig")
    res = await asyncio.gather(*(atim.get_user_status(["alice"]) for _ in range(2000)))
    assert len(res) == 2000 and all(r[0].user_id == "alice" for r in res)


def test_result_for_a_closed_loop_is_dropped(tmp_path):
    t = AsyncTIM(APP_ID, tmp_path)
    holder = {}

    async def main():
        await t.login("alice", "sig")
        holder["futs"] = [t.get_user_status(["alice"]) for _ in range(500)]
        # leave without awaiting: the loop closes with calls in flight

    asyncio.run(main())
    t._close_impl()  # what atexit does: must not raise
    assert all(f.done() for f in holder["futs"])
