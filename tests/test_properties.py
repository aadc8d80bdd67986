"""Hypothesis: random values into every method raise only TypeError, ValueError or TIMError."""
from __future__ import annotations


import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tim_py import TIM, TIMError

from .conftest import APP_ID

anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40)
    | st.binary(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    | st.tuples(children),
    max_leaves=8,
)
ids = st.lists(st.text(max_size=40), max_size=5)
values = anything | ids | st.sampled_from(["Gender_Type_Male", "AllowType_Type_DenyAny", "AdminForbid_Type_None"])
FIELDS = ["nick", "avatar", "gender", "self_signature", "allow_type", "birthday", "location", "language",
          "message_settings", "admin_forbid_type", "level", "role", "profile_custom_field", "bogus"]

OK = (TypeError, ValueError, TIMError)


def settle(client, make):
    """Call; then wait for the future.  Only the allowed exceptions may come out."""
    try:
        fut = make()
    except OK:
        return
    try:
        fut.result(5)
    except OK:
        pass


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    t = TIM(APP_ID, tmp_path_factory.mktemp("prop"))
    t.admin.import_accounts(["bob"]).result(5)
    t.login("alice", "sig").result(5)
    yield t
    t.close()


@pytest.fixture(autouse=True)
def no_pending_futures():  # the module's client spans tests: check futures per example instead
    yield


PROP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROP
@given(a=anything | ids, b=anything)
def test_login_and_lists(client, a, b):
    settle(client, lambda: client.login(a, b))
    if client.login_user_id != "alice":
        client.logout().result(5)
        client.login("alice", "sig").result(5)
    for m in (client.get_user_profile, client.get_user_status, client.subscribe_user_status,
              client.unsubscribe_user_status, client.subscribe_user_info, client.unsubscribe_user_info):
        settle(client, lambda: m(a))
    settle(client, lambda: client.set_self_status(b))


@PROP
@given(fields=st.dictionaries(st.sampled_from(FIELDS), values, max_size=4))
def test_update_my_profile(client, fields):
    settle(client, lambda: client.update_my_profile(**fields))
    settle(client, lambda: client.admin.set_portrait("bob", **fields))
    assert client.get_my_profile().result(5).user_id == "alice"


@PROP
@given(a=anything | ids, b=anything, c=anything)
def test_admin_and_raw(client, a, b, c):
    for make in (lambda: client.admin.request(a, b), lambda: client.admin.import_account(a, b, c),
                 lambda: client.admin.import_accounts(a), lambda: client.admin.get_portrait(a, b),
                 lambda: client.admin.query_online_status(a), lambda: client.admin.set_user_status(a, b, c),
                 lambda: client.raw.call("TIMGetUserStatus", a),
                 lambda: client.raw.call("TIMProfileGetUserProfileList", a),
                 lambda: client.raw.call("TIMSetSelfStatus", b)):
        settle(client, make)
    # never delete alice or bob from here; only a scratch account
    settle(client, lambda: client.admin.delete_accounts(["scratch"]))


@PROP
@given(a=anything, b=anything)
def test_events_and_on(client, a, b):
    try:
        client.on(a, b)
    except OK:
        pass
    else:
        client.off(a, b)
