"""Web SDK options objects, passed as they are: updateMyProfile({...}), getUserProfile({userIDList}), ..."""
from __future__ import annotations

import pytest

from tim_py import EVENT, TYPES, AllowType, ForbidType, Gender, InvalidParameterError, UserStatusType
from tim_py._core import PROFILE_FIELDS

T = 5

# updateMyProfile's options as a Web SDK program writes them
WEB_PROFILE = {
    "nick": "Alice", "avatar": "https://example.com/a.png", "gender": "Gender_Type_Female",
    "selfSignature": "hi", "allowType": "AllowType_Type_DenyAny", "birthday": 19900101,
    "location": "Lisbon", "language": 2, "messageSettings": 1, "adminForbidType": "AdminForbid_Type_SendOut",
    "level": 7, "role": 9, "profileCustomField": [{"key": "Tag_Profile_Custom_Test1", "value": "chess"}],
}
SNAKE_PROFILE = {
    "nick": "Alice", "avatar": "https://example.com/a.png", "gender": Gender.FEMALE,
    "self_signature": "hi", "allow_type": AllowType.DENY_ANY, "birthday": 19900101,
    "location": "Lisbon", "language": 2, "message_settings": 1, "admin_forbid_type": ForbidType.SEND_OUT,
    "level": 7, "role": 9, "profile_custom_field": [{"key": "Test1", "value": "chess"}],
}
LIST_METHODS = ["get_user_profile", "get_user_status", "subscribe_user_status", "unsubscribe_user_status",
                "subscribe_user_info", "unsubscribe_user_info"]


def fields_of(p):
    return p._replace(user_id="", last_updated_time=0)


def test_one_table_has_every_web_sdk_name():
    assert sorted(f.web for f in PROFILE_FIELDS.values()) == sorted(WEB_PROFILE)


def test_update_my_profile_options_object_is_the_keyword_form(alice):
    alice.update_my_profile(WEB_PROFILE).result(T)
    by_object = alice.get_my_profile().result(T)
    assert (by_object.nick, by_object.gender, by_object.self_signature, by_object.allow_type,
            by_object.message_settings, by_object.admin_forbid_type, by_object.level, by_object.role) == (
        "Alice", Gender.FEMALE, "hi", AllowType.DENY_ANY, 1, ForbidType.SEND_OUT, 7, 9)
    assert by_object.custom("Test1") == "chess"
    alice.logout().result(T)
    alice.login("bob", "sig").result(T)
    alice.update_my_profile(**SNAKE_PROFILE).result(T)
    by_keywords = alice.get_my_profile().result(T)
    assert fields_of(by_object) == fields_of(by_keywords)
    # snake_case names in the object, and camelCase ones as keywords, work the same
    alice.update_my_profile({"self_signature": "s1", "allow_type": TYPES.ALLOW_TYPE_NEED_CONFIRM}).result(T)
    alice.update_my_profile(messageSettings=0, adminForbidType=0).result(T)
    p = alice.get_my_profile().result(T)
    assert (p.self_signature, p.allow_type, p.message_settings, p.admin_forbid_type) == (
        "s1", AllowType.NEED_CONFIRM, 0, ForbidType.NONE)


def test_update_my_profile_options_object_refusals(alice):
    with pytest.raises(TypeError, match="unexpected field 'nickname'"):
        alice.update_my_profile(nickname="x")
    with pytest.raises(TypeError, match="unexpected field 'nickname'"):
        alice.update_my_profile({"nickname": "x"})
    with pytest.raises(TypeError, match="unexpected field 'selfsignature'.*self_signature \\(selfSignature\\)"):
        alice.update_my_profile({"selfsignature": "x"})
    with pytest.raises(TypeError, match="unexpected field 1"):
        alice.update_my_profile({1: "x"})
    with pytest.raises(TypeError, match="takes a dict of fields.*got list"):
        alice.update_my_profile([("nick", "x")])
    with pytest.raises(TypeError, match="takes a dict of fields.*got str"):
        alice.update_my_profile("Alice")
    with pytest.raises(TypeError, match="not both.*level"):
        alice.update_my_profile({"nick": "x"}, level=3)
    with pytest.raises(TypeError, match="'selfSignature' and 'self_signature'"):
        alice.update_my_profile({"selfSignature": "a", "self_signature": "b"})
    with pytest.raises(TypeError, match="got both"):
        alice.update_my_profile(allowType=1, allow_type=2)
    # a bad value is named as it was given
    with pytest.raises(TypeError, match="selfSignature must be a str, got int"):
        alice.update_my_profile({"selfSignature": 3})
    with pytest.raises(ValueError, match="messageSettings"):
        alice.update_my_profile({"messageSettings": 2})
    with pytest.raises(ValueError, match="allowType"):
        alice.update_my_profile({"allowType": "AllowType_Type_Maybe"})
    with pytest.raises(TypeError, match=r"profileCustomField\[0\]\['value'\]"):
        alice.update_my_profile({"profileCustomField": [{"key": "a", "value": 1}]})
    # the options keyword is not the positional object
    with pytest.raises(TypeError, match="unexpected field 'options'"):
        alice.update_my_profile(options={"nick": "x"})
    # an empty object is an empty update, as with no keywords
    with pytest.raises(InvalidParameterError) as ei:
        alice.update_my_profile({}).result(T)
    assert ei.value.code == 6017
    assert alice.get_my_profile().result(T).nick == ""


def test_update_my_profile_takes_a_dict_subclass(alice):
    class Opts(dict):
        pass

    alice.update_my_profile(Opts(selfSignature="sub")).result(T)
    assert alice.get_my_profile().result(T).self_signature == "sub"


def test_id_list_options_objects(alice):
    alice.admin.set_portrait("bob", nick="Bob").result(T)
    assert alice.get_user_profile({"userIDList": ["bob", "alice"]}).result(T) == \
        alice.get_user_profile(["bob", "alice"]).result(T)
    assert [p.nick for p in alice.get_user_profile({"user_id_list": ("bob",)}).result(T)] == ["Bob"]
    st = alice.get_user_status({"userIDList": ["alice", "bob"]}).result(T)
    assert [(s.user_id, s.status_type) for s in st] == [("alice", UserStatusType.ONLINE),
                                                        ("bob", UserStatusType.UNLOGINED)]
    alice.set_self_status({"customStatus": "lunch"}).result(T)
    assert alice.get_user_status({"userIDList": ["alice"]}).result(T)[0].custom_status == "lunch"
    # the library still judges the contents: an empty list is refused as in the list form
    with pytest.raises(InvalidParameterError) as ei:
        alice.get_user_status({"userIDList": []}).result(T)
    assert ei.value.code == 6017


def test_subscription_options_objects(alice):
    got = []
    alice.on(EVENT.USER_STATUS_UPDATED, got.append)
    alice.on(EVENT.PROFILE_UPDATED, got.append)
    alice.subscribe_user_status({"userIDList": ["bob"]}).result(T)
    alice.subscribe_user_info({"userIDList": ["carol"]}).result(T)
    alice.admin.set_user_status("bob", UserStatusType.ONLINE).result(T)
    alice.admin.set_portrait("carol", nick="C").result(T)
    assert [(e.name, e.data[0].user_id) for e in got] == [
        (EVENT.USER_STATUS_UPDATED, "bob"), (EVENT.PROFILE_UPDATED, "carol")]
    alice.unsubscribe_user_status({"userIDList": ["bob"]}).result(T)
    alice.unsubscribe_user_info({"userIDList": ["carol"]}).result(T)
    alice.admin.set_user_status("bob", UserStatusType.OFFLINE).result(T)
    alice.admin.set_portrait("carol", nick="C2").result(T)
    assert len(got) == 2
    # {} (no userIDList) ends every subscription, as no argument does
    alice.subscribe_user_status({"userIDList": ["bob", "carol"]}).result(T)
    alice.subscribe_user_info({"userIDList": ["bob"]}).result(T)
    alice.unsubscribe_user_status({}).result(T)
    alice.unsubscribe_user_info({"userIDList": None}).result(T)
    alice.admin.set_user_status("carol", UserStatusType.ONLINE).result(T)
    alice.admin.set_portrait("bob", nick="B").result(T)
    assert len(got) == 2


@pytest.mark.parametrize("method", LIST_METHODS)
def test_id_list_options_refusals(alice, method):
    m = getattr(alice, method)
    with pytest.raises(TypeError, match=rf"{method}\(\) got an unexpected option 'userIdList'.*'userIDList'"):
        m({"userIdList": ["bob"]})
    with pytest.raises(TypeError, match="unexpected option 'extra'"):
        m({"userIDList": ["bob"], "extra": 1})
    with pytest.raises(TypeError, match="'userIDList' and 'user_id_list'"):
        m({"userIDList": ["bob"], "user_id_list": ["bob"]})
    with pytest.raises(TypeError, match="userIDList must be a list of str, got str"):
        m({"userIDList": "bob"})
    with pytest.raises(TypeError, match="userIDList must be a list of str, got int at index 1"):
        m({"userIDList": ["bob", 1]})
    if not method.startswith("unsubscribe"):
        with pytest.raises(TypeError, match=rf"{method}\(\) needs 'userIDList'"):
            m({})
        with pytest.raises(TypeError, match="userIDList must be a list of str, got NoneType"):
            m({"userIDList": None})


def test_set_self_status_options_refusals(alice):
    with pytest.raises(TypeError, match="unexpected option 'status'.*'customStatus'"):
        alice.set_self_status({"status": "x"})
    with pytest.raises(TypeError, match="needs 'customStatus'"):
        alice.set_self_status({})
    with pytest.raises(TypeError, match="customStatus must be a str, got int"):
        alice.set_self_status({"customStatus": 1})
    alice.set_self_status({"custom_status": "snake"}).result(T)
    assert alice.get_user_status(["alice"]).result(T)[0].custom_status == "snake"


def test_admin_takes_web_sdk_field_names(alice):
    alice.admin.set_portrait("bob", selfSignature="sig", allowType="AllowType_Type_DenyAny").result(T)
    got = alice.admin.get_portrait(["bob"], ["selfSignature", "allowType", "allow_type"]).result(T)
    assert got == {"bob": {"selfSignature": "sig", "allowType": AllowType.DENY_ANY,
                           "allow_type": AllowType.DENY_ANY}}
    with pytest.raises(TypeError, match="unexpected field 'selfsignature'"):
        alice.admin.set_portrait("bob", selfsignature="x")


async def test_async_client_takes_options_objects(atim):
    await atim.admin.import_account("bob", nick="Bob")
    await atim.login("alice", "sig")
    await atim.update_my_profile(WEB_PROFILE)
    me = await atim.get_my_profile()
    assert (me.self_signature, me.allow_type, me.custom("Test1")) == ("hi", AllowType.DENY_ANY, "chess")
    assert [p.nick for p in await atim.get_user_profile({"userIDList": ["bob"]})] == ["Bob"]
    await atim.set_self_status({"customStatus": "async"})
    [st] = await atim.get_user_status({"userIDList": ["alice"]})
    assert st.custom_status == "async"
    stream = atim.events(EVENT.USER_STATUS_UPDATED)
    await atim.subscribe_user_status({"userIDList": ["bob"]})
    await atim.admin.set_user_status("bob", UserStatusType.ONLINE)
    assert (await stream.__anext__()).data[0].user_id == "bob"
    await atim.unsubscribe_user_status({})
    with pytest.raises(TypeError, match="unexpected field 'nickname'"):
        atim.update_my_profile({"nickname": "x"})
    with pytest.raises(TypeError, match="unexpected option 'ids'"):
        atim.subscribe_user_info({"ids": ["bob"]})
