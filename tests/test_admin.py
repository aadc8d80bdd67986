"""The admin surface: request() and the friendly methods, with their error codes."""
from __future__ import annotations

import pytest

from tim_py import AdminError, Gender, InvalidParameterError, ProfileError, TIMError, UserStatusType

T = 5


def test_request_returns_the_answer(tim):
    ans = tim.admin.request("v4/im_open_login_svc/account_import", {"UserID": "bob", "Nick": "Bob"}).result(T)
    assert ans["ActionStatus"] == "OK" and ans["ErrorCode"] == 0
    ans = tim.admin.request("v4/profile/portrait_get",
                            {"To_Account": ["bob"], "TagList": ["Tag_Profile_IM_Nick"]}).result(T)
    assert ans["UserProfileItem"][0]["ProfileItem"] == [{"Tag": "Tag_Profile_IM_Nick", "Value": "Bob"}]


def test_request_error_carries_the_answer(tim):
    with pytest.raises(TIMError) as ei:
        tim.admin.request("v4/im_open_login_svc/account_import", {"UserID": ""}).result(T)
    assert ei.value.code == 70402 and isinstance(ei.value, AdminError)
    assert ei.value.answer["ActionStatus"] == "FAIL" and ei.value.answer["ErrorCode"] == 70402
    with pytest.raises(InvalidParameterError) as ei:
        tim.admin.request("v4/no/such_api", {}).result(T)
    assert ei.value.code == 6017 and "unknown api" in ei.value.desc


def test_request_argument_checks(tim):
    with pytest.raises(TypeError, match="api"):
        tim.admin.request(3, {})
    with pytest.raises(TypeError, match="body"):
        tim.admin.request("v4/profile/portrait_get", [])
    with pytest.raises(InvalidParameterError) as ei:  # TIM_ERR_PARAM: "" api refused at the call
        tim.admin.request("", {})
    assert ei.value.code == -4


def test_import_and_delete_accounts(tim):
    assert tim.admin.import_account("bob", nick="Bob", avatar="http://a/b.png").result(T) is None
    assert tim.admin.import_accounts(["carol", "dave", "x" * 40]).result(T) == ["x" * 40]
    assert isinstance(tim.admin.delete_accounts(["dave", "nobody"]).result(T), dict)
    tim.login("alice", "sig").result(T)
    ps = tim.get_user_profile(["bob", "carol", "dave"]).result(T)
    assert [(p.user_id, p.nick, p.avatar) for p in ps] == [("bob", "Bob", "http://a/b.png"), ("carol", "", "")]


def test_portraits(tim):
    tim.admin.import_account("bob").result(T)
    tim.admin.set_portrait("bob", nick="Bob", gender=Gender.MALE, level=3,
                           profile_custom_field=[{"key": "Hobby", "value": "chess"}]).result(T)
    tim.admin.set_portrait("bob", tags={"Tag_Profile_IM_Location": "Porto",
                                        "Tag_Profile_IM_AllowType": "AllowType_Type_DenyAny"}).result(T)
    got = tim.admin.get_portrait(["bob", "nobody"], ["nick", "gender", "Tag_Profile_IM_Gender", "level",
                                                     "Tag_Profile_Custom_Hobby", "location"]).result(T)
    assert got == {"bob": {"nick": "Bob", "gender": Gender.MALE, "Tag_Profile_IM_Gender": "Gender_Type_Male",
                           "level": 3, "Tag_Profile_Custom_Hobby": "chess", "location": "Porto"}}


def test_portrait_custom_keys_with_digits_and_underscores(tim):
    tim.admin.import_account("bob").result(T)
    tim.admin.set_portrait("bob", tags={"Tag_Profile_Custom_Test1": "one", "Tag_Profile_Custom_a_2": "two"}).result(T)
    got = tim.admin.get_portrait(["bob"], ["Tag_Profile_Custom_Test1", "Tag_Profile_Custom_a_2"]).result(T)
    assert got == {"bob": {"Tag_Profile_Custom_Test1": "one", "Tag_Profile_Custom_a_2": "two"}}
    with pytest.raises(ProfileError) as ei:
        tim.admin.set_portrait("bob", tags={"Tag_Profile_Custom_Te-st": "x"}).result(T)
    assert ei.value.code == 9001 and "Te-st" in ei.value.desc


def test_portrait_errors(tim):
    tim.admin.import_account("bob").result(T)
    with pytest.raises(ProfileError) as ei:
        tim.admin.set_portrait("nobody", nick="x").result(T)
    assert ei.value.code == 40003
    with pytest.raises(ProfileError) as ei:
        tim.admin.set_portrait("bob", tags={"Tag_Profile_IM_Nope": 1}).result(T)
    assert ei.value.code == 40009
    with pytest.raises(ProfileError) as ei:
        tim.admin.set_portrait("bob", nick="x" * 501).result(T)
    assert ei.value.code == 40601
    with pytest.raises(ProfileError) as ei:
        tim.admin.get_portrait(["bob"], ["Tag_Profile_IM_Nope"]).result(T)
    assert ei.value.code == 40009
    with pytest.raises(TypeError, match="unexpected field"):
        tim.admin.set_portrait("bob", nickname="x")
    with pytest.raises(ValueError, match="at least one"):
        tim.admin.set_portrait("bob")
    with pytest.raises(TypeError, match="tags"):
        tim.admin.set_portrait("bob", tags=[("a", 1)])


def test_online_status_and_set_user_status(tim):
    tim.admin.import_accounts(["bob", "carol"]).result(T)
    tim.login("alice", "sig").result(T)
    tim.admin.set_user_status("bob", UserStatusType.ONLINE, "hello").result(T)
    assert tim.admin.query_online_status(["alice", "bob", "carol", "nobody"]).result(T) == {
        "alice": "Online", "bob": "Online", "carol": "Offline"}
    st = {s.user_id: s for s in tim.get_user_status(["bob", "carol"]).result(T)}
    assert st["bob"].status_type is UserStatusType.ONLINE and st["bob"].custom_status == "hello"
    tim.admin.set_user_status("bob", "Offline").result(T)
    assert tim.get_user_status(["bob"]).result(T)[0].status_type is UserStatusType.OFFLINE
    tim.admin.set_user_status("bob", 3).result(T)
    assert tim.get_user_status(["bob"]).result(T)[0].status_type is UserStatusType.UNLOGINED
    with pytest.raises(AdminError) as ei:
        tim.admin.set_user_status("nobody", 1).result(T)
    assert ei.value.code == 70107
    with pytest.raises(ValueError, match="status_type"):
        tim.admin.set_user_status("bob", 0)
    with pytest.raises(ValueError, match="status_type"):
        tim.admin.set_user_status("bob", 9)
    with pytest.raises(InvalidParameterError) as ei:
        tim.admin.set_user_status("bob", 1, "x" * 101).result(T)
    assert ei.value.code == 6017


def test_admin_needs_init_not_login(tim):
    assert not tim.login_user_id
    assert tim.admin.import_account("bob").result(T) is None


def test_delete_accounts_result_items(tim):
    tim.admin.import_account("dave").result(T)
    assert tim.admin.delete_accounts(["dave", "nobody"]).result(T) == {"dave": 0, "nobody": 70107}
