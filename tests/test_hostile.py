"""Hostile values into what tests/test_properties.py does not reach (docs/security.md).

test_properties.py feeds random values to the TIM methods, the admin
helpers and three raw functions.  Here, with hypothesis too: AsyncTIM's
methods, every raw function by name (and names that are not functions),
tim_py.lowlevel.call, gen_user_sig, update_my_profile with any keyword,
every admin helper with any arguments, and the client constructor.  Only
TypeError, ValueError or TIMError may come out, and every future resolves
within its timeout (a hang fails the test: concurrent.futures.TimeoutError
and asyncio.TimeoutError are not among the allowed errors).
"""
from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tim_py
from tim_py import TIM, TIMError, gen_user_sig, lowlevel
from tim_py.aio import AsyncTIM

from .conftest import APP_ID

OK = (TypeError, ValueError, TIMError)
T = 10

scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-2**70, max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=40) | st.binary(max_size=20)
           | st.sampled_from(["", "\x00", "a\x00b", "\ud800", "'; DROP TABLE account; --", "Robert'); --",
                              "x" * 600, "bob", "alice", "Tag_Profile_Custom_Hobby", "Gender_Type_Male"]))
anything = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10) | st.sampled_from(
        ["friendship_getprofilelist_param_identifier_array", "user_profile_item_nick_name",
         "user_status_custom_status", "UserID", "Accounts", "To_Account", "TagList", "ProfileItem",
         "From_Account", "StatusType", "DeleteItem"]), c, max_size=4) | st.tuples(c) | st.frozensets(
        st.integers(), max_size=2),
    max_leaves=10,
)
FUNCS = sorted(lowlevel.ASYNC_FUNCTIONS) + sorted(lowlevel.SYNC_FUNCTIONS) + [
    "TIMInit", "TIMUninit", "TIMSetUserStatusChangedCallback", "nope", "", "TIMLogin\x00"]
names = st.sampled_from(FUNCS) | st.text(max_size=20)
APIS = ["v4/im_open_login_svc/account_import", "v4/im_open_login_svc/multiaccount_import",
        "v4/im_open_login_svc/account_delete", "v4/profile/portrait_get", "v4/profile/portrait_set",
        "v4/openim/query_online_status", "ref/set_user_status"]
kwnames = st.sampled_from(["nick", "avatar", "gender", "self_signature", "allow_type", "birthday", "location",
                           "language", "message_settings", "admin_forbid_type", "level", "role",
                           "profile_custom_field", "user_id", "last_updated_time"]) | st.text(max_size=12)

PROP = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def settle(make, client=None):
    try:
        fut = make()
    except OK:
        return
    if hasattr(fut, "result"):
        try:
            fut.result(T)
        except OK:
            pass


def keep_alice(client):
    if client.login_user_id != "alice":
        client.logout().result(T)
        client.login("alice", "sig").result(T)


@pytest.fixture(scope="class")
def client(tmp_path_factory):
    t = TIM(APP_ID, tmp_path_factory.mktemp("hostile"))
    t.admin.import_accounts(["bob"]).result(T)
    t.login("alice", "sig").result(T)
    yield t
    t.close()


@pytest.fixture(autouse=True)
def no_pending_futures():  # a module-scoped client: futures are checked per call (settle)
    yield


class TestSync:
    """One client (store on disk) for the class."""

    @PROP
    @given(name=names, args=st.lists(anything, max_size=3))
    def test_raw_any_function(self, client, name, args):
        settle(lambda: client.raw.call(name, *args))
        settle(lambda: lowlevel.call(name, *args))
        keep_alice(client)


    @PROP
    @given(name=st.sampled_from(sorted(lowlevel.ASYNC_FUNCTIONS)), arg=st.text(max_size=200) | st.binary(max_size=200))
    def test_raw_text_and_bytes(self, client, name, arg):
        """Strings and bytes go to C as they are: not JSON, invalid UTF-8, NUL inside."""
        nargs = lowlevel.ASYNC_FUNCTIONS[name]
        if name == "TIMRefAdminRequest":
            settle(lambda: client.raw.call(name, APIS[len(arg) % len(APIS)], arg))
        else:
            settle(lambda: client.raw.call(name, *([arg] * nargs)))
        keep_alice(client)


    @PROP
    @given(fields=st.dictionaries(kwnames, anything, max_size=4))
    def test_update_any_keywords(self, client, fields):
        settle(lambda: client.update_my_profile(**fields))
        settle(lambda: client.admin.set_portrait("bob", **fields))
        settle(lambda: client.admin.set_portrait("bob", fields))
        assert client.get_my_profile().result(T).user_id == "alice"


    @PROP
    @given(a=anything, b=anything, c=anything, api=st.sampled_from(APIS) | st.text(max_size=30))
    def test_admin_helpers(self, client, a, b, c, api):
        adm = client.admin
        for make in (lambda: adm.request(api, a), lambda: adm.request(api, {"UserID": a, "StatusType": b}),
                     lambda: adm.import_account(a, b, c), lambda: adm.import_accounts(a),
                     lambda: adm.get_portrait(a, b), lambda: adm.set_portrait(a, b),
                     lambda: adm.query_online_status(a), lambda: adm.set_user_status(a, b, c),
                     lambda: adm.set_user_status("bob", b, c), lambda: adm.delete_accounts(["scratch", a])
                     if a not in ("alice", "bob") and not (isinstance(a, (list, tuple)) and
                                                          ("alice" in a or "bob" in a)) else None):
            settle(make)


@PROP
@given(sdk=anything | st.integers(min_value=-1, max_value=2**65), key=anything, uid=anything, exp=anything,
       ub=anything, now=anything)
def test_gen_user_sig(sdk, key, uid, exp, ub, now):
    try:
        s = gen_user_sig(sdk, key, uid, exp, userbuf=ub, now=now)
    except (TypeError, ValueError):
        return
    assert isinstance(s, str) and s


@settings(max_examples=40, deadline=None)
@given(sdk=st.integers(min_value=-1, max_value=2**65) | anything, data_dir=st.none() | st.just("") | st.text(max_size=10).map(lambda s: "\x00" + s),
       secret=anything, device=anything, keys=anything)
def test_constructor(sdk, data_dir, secret, device, keys):
    try:
        t = TIM(sdk, data_dir, secret_key=secret, device_name=device, custom_profile_keys=keys)
    except OK:
        return
    t.close()


@pytest.fixture(scope="class")
def aloop():
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="class")
def aclient(aloop):
    async def make():
        t = AsyncTIM(APP_ID)
        await t.admin.import_accounts(["bob"])
        await t.login("alice", "sig")
        return t

    t = aloop.run_until_complete(make())
    yield t
    aloop.run_until_complete(t.close())


async def asettle(make):
    try:
        aw = make()
    except OK:
        return
    try:
        await asyncio.wait_for(aw, T)
    except OK:
        pass


class TestAsync:
    """One AsyncTIM on one loop for the class."""

    @PROP
    @given(a=anything, b=anything, fields=st.dictionaries(kwnames, anything, max_size=3))
    def test_async_methods(self, aloop, aclient, a, b, fields):
        t = aclient

        async def run():
            for make in (lambda: t.get_user_profile(a), lambda: t.get_user_status(a),
                         lambda: t.subscribe_user_status(a), lambda: t.unsubscribe_user_status(a),
                         lambda: t.subscribe_user_info(a), lambda: t.unsubscribe_user_info(a),
                         lambda: t.set_self_status(b), lambda: t.update_my_profile(**fields),
                         lambda: t.raw.call("TIMGetUserStatus", a), lambda: t.admin.request(b, a),
                         lambda: t.admin.set_user_status(a, b), lambda: t.login(a, b)):
                await asettle(make)
            if t.login_user_id != "alice":
                await t.logout()
                await t.login("alice", "sig")
            assert (await t.get_my_profile()).user_id == "alice"

        aloop.run_until_complete(run())


def test_closed_client_refuses_everything():
    t = TIM(APP_ID)
    t.close()
    for make in (lambda: t.login("a", "b"), lambda: t.get_my_profile(), lambda: t.get_user_status(["a"]),
                 lambda: t.admin.import_account("x"), lambda: t.raw.call("TIMGetUserStatus", ["a"])):
        try:
            fut = make()
        except OK:
            continue
        with pytest.raises(OK):
            fut.result(T)
    assert tim_py._bridge.current() is None
