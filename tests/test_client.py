"""TIM (futures): every method, its results, and its error paths with their codes."""
from __future__ import annotations

import concurrent.futures
import threading

import pytest

import tim_py
from tim_py import (
    EVENT,
    TIM,
    TYPES,
    AllowType,
    CallInterrupted,
    ClientOpenError,
    CustomField,
    ForbidType,
    Gender,
    InvalidIdentifierError,
    InvalidOperationError,
    InvalidParameterError,
    LoginStatus,
    NotInitializedError,
    NotLoggedInError,
    Profile,
    ProfileError,
    SizeLimitError,
    TIMError,
    UserStatus,
    UserStatusType,
)

from .conftest import APP_ID

T = 5  # seconds to wait for any result


def test_open_close_and_properties(tim):
    assert isinstance(tim, TIM)
    assert not tim.closed
    assert tim.sdk_version.startswith("timref ")
    assert tim.server_time > 1_600_000_000
    assert tim.login_user_id == ""
    assert tim.login_status == LoginStatus.UNLOGINED
    assert tim.has_admin
    assert "open" in repr(tim)
    tim.close()
    assert tim.closed
    tim.close()  # twice is fine
    with pytest.raises(NotInitializedError) as ei:
        tim.login("alice", "sig")
    assert ei.value.code == 6013


def test_context_manager():
    with TIM(APP_ID) as t:
        t.login("alice", "sig").result(T)
        assert t.login_user_id == "alice"
    assert t.closed
    with TIM(APP_ID) as t2:  # a new one may open after the first closed
        assert t2.login_user_id == ""


def test_one_client_per_process(tim):
    with pytest.raises(ClientOpenError, match="close the first") as ei:
        TIM(APP_ID)
    assert isinstance(ei.value, RuntimeError)
    assert isinstance(ei.value, TIMError)
    from tim_py.aio import AsyncTIM

    with pytest.raises(ClientOpenError):
        AsyncTIM(APP_ID)


def test_constructor_argument_checks():
    with pytest.raises(TypeError, match="sdk_app_id"):
        TIM("1400000001")
    with pytest.raises(ValueError, match="sdk_app_id"):
        TIM(-1)
    with pytest.raises(TypeError, match="data_dir"):
        TIM(APP_ID, 42)
    with pytest.raises(TypeError, match="secret_key"):
        TIM(APP_ID, secret_key=b"x")
    with pytest.raises(TypeError, match="custom_profile_keys"):
        TIM(APP_ID, custom_profile_keys="Hobby")
    with pytest.raises(TypeError, match="custom_profile_keys"):
        TIM(APP_ID, custom_profile_keys=["Hobby", 3])
    # values the C library refuses at TIMInit: an invalid device name, a bad custom key
    with pytest.raises(InvalidParameterError) as ei:
        TIM(APP_ID, device_name="")
    assert ei.value.code == -4
    assert "timref_config_device_name must be a string of 1..32 printable ASCII bytes" in str(ei.value)
    with pytest.raises(InvalidParameterError) as ei:
        TIM(APP_ID, custom_profile_keys=["Hobby", "not valid!"])
    assert "timref_config_custom_profile_keys[1] is not a custom key" in str(ei.value)
    assert tim_py._bridge.current() is None  # a failed open leaves the slot free


def test_unusable_data_dir_says_why(tmp_path, capfd):
    """TIMInit's reason reaches the exception, not only stderr (a service or notebook may not see stderr)."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o777)
    loose.chmod(0o777)
    cases = [(afile, "afile is not a directory"), (afile / "sub", "Not a directory"),
             (loose, "writable by other users")]
    for path, why in cases:
        capfd.readouterr()
        with pytest.raises(InvalidParameterError) as ei:
            TIM(APP_ID, path)
        assert ei.value.code == -4
        assert f"TIMInit returned -4: " in str(ei.value) and why in str(ei.value), str(ei.value)
        assert "missing or empty" not in str(ei.value)
    assert tim_py._bridge.current() is None


def test_refused_json_says_why(alice):
    with pytest.raises(InvalidParameterError) as ei:
        alice.raw.call("TIMGetUserStatus", {"not": "an array"})
    assert ei.value.code == -3 and "expected a JSON array, got an object" in ei.value.desc


def test_login_logout(tim):
    assert tim.login("alice", "sig").result(T) is None
    assert tim.login_user_id == "alice"
    assert tim.login_status == LoginStatus.LOGINED
    assert tim.login("alice", "sig").result(T) is None  # again as the same user
    with pytest.raises(InvalidOperationError) as ei:
        tim.login("bob", "sig").result(T)
    assert ei.value.code == 7014
    assert tim.logout().result(T) is None
    assert tim.login_user_id == ""
    assert tim.logout().result(T) is None  # also when logged out


@pytest.mark.parametrize("user_id", ["", "x" * 33, "caf\u00e9", "tab\there"])
def test_login_invalid_identifier(tim, user_id):
    with pytest.raises(InvalidIdentifierError) as ei:
        tim.login(user_id, "sig").result(T)
    assert ei.value.code == 7003
    assert isinstance(ei.value, ValueError)
    assert tim.login_user_id == ""


def test_login_empty_sig(tim):
    with pytest.raises(tim_py.UserSigError) as ei:
        tim.login("alice", "").result(T)
    assert ei.value.code == 70002


def test_login_argument_checks(tim):
    with pytest.raises(TypeError, match="user_id"):
        tim.login(None, "sig")
    with pytest.raises(TypeError, match="user_sig"):
        tim.login("alice", 3)
    with pytest.raises(ValueError, match="NUL"):
        tim.login("al\x00ice", "sig")
    with pytest.raises(ValueError, match="user_id"):
        tim.login("\ud800", "sig")


def test_not_logged_in(tim):
    for fut in (tim.get_my_profile(), tim.get_user_profile(["bob"]), tim.update_my_profile(nick="x"),
                tim.get_user_status(["bob"]), tim.set_self_status("x"),
                tim.subscribe_user_status(["bob"]), tim.unsubscribe_user_status(),
                tim.subscribe_user_info(["bob"]), tim.unsubscribe_user_info(["bob"])):
        with pytest.raises(NotLoggedInError) as ei:
            fut.result(T)
        assert ei.value.code == 6014
        assert ei.value.desc == "not login"


def test_get_my_profile(alice):
    p = alice.get_my_profile().result(T)
    assert isinstance(p, Profile)
    assert p.user_id == "alice"
    assert p.nick == "" and p.gender is Gender.UNKNOWN
    assert p.profile_custom_field == ()


def test_update_my_profile_every_field(alice):
    alice.update_my_profile(
        nick="Alice", avatar="https://example.com/a.png", gender=Gender.FEMALE,
        self_signature="hi", allow_type=AllowType.DENY_ANY, birthday=19900101, location="Lisbon",
        language=2, message_settings=1, admin_forbid_type=ForbidType.SEND_OUT, level=7, role=9,
        profile_custom_field=[{"key": "Hobby", "value": "chess"},
                              CustomField("Tag_Profile_Custom_City", "Porto")],
    ).result(T)
    p = alice.get_my_profile().result(T)
    assert (p.nick, p.avatar, p.gender, p.self_signature, p.allow_type, p.birthday, p.location,
            p.language, p.message_settings, p.admin_forbid_type, p.level, p.role) == (
        "Alice", "https://example.com/a.png", Gender.FEMALE, "hi", AllowType.DENY_ANY, 19900101,
        "Lisbon", 2, 1, ForbidType.SEND_OUT, 7, 9)
    assert p.profile_custom_field == (CustomField("Tag_Profile_Custom_City", "Porto"),
                                      CustomField("Tag_Profile_Custom_Hobby", "chess"))
    assert p.custom("Hobby") == "chess" and p.custom("Tag_Profile_Custom_City") == "Porto"
    assert p.custom("Nope", 1) == 1
    assert p.last_updated_time >= alice.server_time - 5


def test_update_my_profile_web_sdk_strings(alice):
    alice.update_my_profile(gender="Gender_Type_Male", allow_type="AllowType_Type_NeedConfirm",
                            admin_forbid_type="AdminForbid_Type_None").result(T)
    p = alice.get_my_profile().result(T)
    assert p.gender == TYPES.GENDER_MALE
    assert p.allow_type == TYPES.ALLOW_TYPE_NEED_CONFIRM
    assert p.admin_forbid_type == TYPES.FORBID_TYPE_NONE
    alice.update_my_profile(gender=2).result(T)
    assert alice.get_my_profile().result(T).gender is Gender.FEMALE


def test_update_my_profile_python_checks(alice):
    with pytest.raises(TypeError, match="unexpected field 'nickname'"):
        alice.update_my_profile(nickname="x")
    with pytest.raises(TypeError, match="nick must be a str, got int"):
        alice.update_my_profile(nick=3)
    with pytest.raises(ValueError, match="gender"):
        alice.update_my_profile(gender=7)
    with pytest.raises(ValueError, match="gender"):
        alice.update_my_profile(gender="Gender_Type_Robot")
    with pytest.raises(TypeError, match="gender"):
        alice.update_my_profile(gender=True)
    with pytest.raises(TypeError, match="gender"):
        alice.update_my_profile(gender=1.0)
    with pytest.raises(ValueError, match="level"):
        alice.update_my_profile(level=-1)
    with pytest.raises(ValueError, match="level"):
        alice.update_my_profile(level=2 ** 32)
    with pytest.raises(ValueError, match="message_settings"):
        alice.update_my_profile(message_settings=2)
    with pytest.raises(TypeError, match="profile_custom_field"):
        alice.update_my_profile(profile_custom_field={"key": "a", "value": "b"})
    with pytest.raises(TypeError, match=r"profile_custom_field\[0\]\['value'\]"):
        alice.update_my_profile(profile_custom_field=[{"key": "a", "value": 1}])
    with pytest.raises(ValueError, match="needs both"):
        alice.update_my_profile(profile_custom_field=[{"key": "a"}])
    with pytest.raises(ValueError, match="unknown keys"):
        alice.update_my_profile(profile_custom_field=[{"key": "a", "value": "b", "x": 1}])
    # nothing changed
    assert alice.get_my_profile().result(T).last_updated_time == 0 or True
    assert alice.get_my_profile().result(T).nick == ""


@pytest.mark.parametrize("fields, code", [
    ({}, 6017),                                                     # empty object
    ({"nick": "x" * 501}, 40601),                                   # over 500 bytes
    ({"location": "y" * 501}, 40601),
    ({"allow_type": AllowType.UNKNOWN}, 40605),                     # add permission 0 cannot be set
    ({"profile_custom_field": [{"key": "has space", "value": "v"}]}, 9001),
    ({"profile_custom_field": [{"key": "TooLongKey", "value": "v"}]}, 9001),
    ({"profile_custom_field": [{"key": "Test-1", "value": "v"}]}, 9001),             # a hyphen
    ({"profile_custom_field": [{"key": "Tag_Profile_Custom_Test.2", "value": "v"}]}, 9001),
    ({"profile_custom_field": [{"key": "Hobby", "value": "v" * 501}]}, 40601),
    ({"profile_custom_field": [{"key": "Aa", "value": "1"}, {"key": "Aa", "value": "2"}]}, 6017),
    ({"profile_custom_field": [{"key": "K" + chr(ord("a") + i), "value": "v"} for i in range(21)]}, 6017),
])
def test_update_my_profile_c_errors(alice, fields, code):
    with pytest.raises(TIMError) as ei:
        alice.update_my_profile(nick="changed", **fields).result(T) if fields and "nick" not in fields \
            else alice.update_my_profile(**fields).result(T)
    assert ei.value.code == code
    p = alice.get_my_profile().result(T)
    assert p.nick == "" and p.profile_custom_field == ()  # all or nothing


@pytest.mark.parametrize("key", ["Test1", "Tag_Profile_Custom_Test2", "a_b", "_", "12345678", "A_1_b2"])
def test_custom_keys_take_letters_digits_and_underscores(alice, key):
    """The vendor's rule: letters, digits and underscores, 1..8 after the optional prefix."""
    alice.update_my_profile(profile_custom_field=[{"key": key, "value": "v"}]).result(T)
    full = key if key.startswith("Tag_Profile_Custom_") else "Tag_Profile_Custom_" + key
    assert alice.get_my_profile().result(T).profile_custom_field == ((full, "v"),)


def test_custom_key_error_names_the_key(alice):
    with pytest.raises(ProfileError) as ei:
        alice.update_my_profile(profile_custom_field=[{"key": "Test-1", "value": "v"}]).result(T)
    assert ei.value.code == 9001 and "Test-1" in ei.value.desc and "digits" in ei.value.desc


def test_profile_error_classes(alice):
    with pytest.raises(ProfileError):
        alice.update_my_profile(nick="x" * 501).result(T)
    with pytest.raises(InvalidParameterError) as ei:
        alice.update_my_profile().result(T)
    assert isinstance(ei.value, ValueError)


def test_nul_in_json_string_is_refused_at_the_call(alice):
    with pytest.raises(InvalidParameterError) as ei:
        alice.update_my_profile(nick="a\x00b")
    assert ei.value.code == -3 and "\\u0000" in ei.value.desc


def test_size_limit(alice):
    with pytest.raises(SizeLimitError) as ei:
        alice.get_user_profile(["x" * 1024] * 1100).result(T)
    assert ei.value.code == 9522


def test_custom_profile_keys_allowed_list():
    with TIM(APP_ID, custom_profile_keys=["Hobby"]) as t:
        t.login("alice", "sig").result(T)
        t.update_my_profile(profile_custom_field=[{"key": "Hobby", "value": "x"}]).result(T)
        with pytest.raises(ProfileError) as ei:
            t.update_my_profile(profile_custom_field=[{"key": "City", "value": "x"}]).result(T)
        assert ei.value.code == 40009


def test_get_user_profile(alice):
    alice.admin.set_portrait("bob", nick="Bob", gender=Gender.MALE).result(T)
    ps = alice.get_user_profile(["bob", "nobody", "alice", "bob"]).result(T)
    assert [p.user_id for p in ps] == ["bob", "alice"]  # order asked, once each, unknown left out
    assert ps[0].nick == "Bob" and ps[0].gender is Gender.MALE
    assert alice.get_user_profile(("carol",)).result(T)[0].user_id == "carol"


def test_other_users_add_permission_reads_unknown(alice):
    alice.admin.set_portrait("bob", allow_type=AllowType.DENY_ANY).result(T)
    assert alice.get_user_profile(["bob"]).result(T)[0].allow_type is AllowType.UNKNOWN


@pytest.mark.parametrize("ids, exc, code", [
    ([], ProfileError, 40002),
    (["nobody"], ProfileError, 40003),
    (["bob", "x" * 40], InvalidIdentifierError, 7003),
])
def test_get_user_profile_errors(alice, ids, exc, code):
    with pytest.raises(exc) as ei:
        alice.get_user_profile(ids).result(T)
    assert ei.value.code == code


def test_user_id_list_checks(alice):
    for method in (alice.get_user_profile, alice.get_user_status, alice.subscribe_user_status,
                   alice.unsubscribe_user_status, alice.subscribe_user_info, alice.unsubscribe_user_info):
        with pytest.raises(TypeError, match="user_id_list must be a list of str, got int at index 2"):
            method(["a", "b", 3])
        with pytest.raises(TypeError, match="user_id_list must be a list of str, got str"):
            method("bob")
        with pytest.raises(TypeError, match="user_id_list"):
            method({"bob"})
        with pytest.raises(ValueError, match="user_id_list"):
            method(["\udcff"])


def test_get_user_status(alice):
    st = alice.get_user_status(["alice", "bob", "nobody"]).result(T)
    assert [s.user_id for s in st] == ["alice", "bob"]
    me, bob = st
    assert isinstance(me, UserStatus)
    assert me.status_type is UserStatusType.ONLINE and me.online_devices == ("Linux",)
    assert bob.status_type is UserStatusType.UNLOGINED and bob.online_devices == ()
    with pytest.raises(InvalidParameterError) as ei:
        alice.get_user_status([]).result(T)
    assert ei.value.code == 6017
    with pytest.raises(ProfileError) as ei:
        alice.get_user_status(["nobody"]).result(T)
    assert ei.value.code == 40003


def test_set_self_status(alice):
    alice.set_self_status("coding").result(T)
    assert alice.get_user_status(["alice"]).result(T)[0].custom_status == "coding"
    with pytest.raises(InvalidParameterError) as ei:
        alice.set_self_status("x" * 101).result(T)
    assert ei.value.code == 6017
    assert alice.get_user_status(["alice"]).result(T)[0].custom_status == "coding"
    alice.set_self_status("").result(T)
    assert alice.get_user_status(["alice"]).result(T)[0].custom_status == ""
    with pytest.raises(TypeError, match="custom_status"):
        alice.set_self_status(None)


def test_subscribe_unsubscribe(alice):
    assert alice.subscribe_user_status(["bob", "carol"]).result(T) is None
    assert alice.unsubscribe_user_status(["bob"]).result(T) is None
    assert alice.unsubscribe_user_status().result(T) is None
    assert alice.subscribe_user_info(["bob"]).result(T) is None
    assert alice.unsubscribe_user_info(["bob"]).result(T) is None
    assert alice.unsubscribe_user_info().result(T) is None
    assert alice.unsubscribe_user_info([]).result(T) is None


@pytest.mark.parametrize("method", ["subscribe_user_status", "subscribe_user_info"])
def test_subscribe_errors(alice, method):
    m = getattr(alice, method)
    for ids, code in (([], 6017), (["alice"], 6017), (["x" * 33], 7003)):
        with pytest.raises(TIMError) as ei:
            m(ids).result(T)
        assert ei.value.code == code, ids


def test_close_with_calls_pending():
    t = TIM(APP_ID)
    t.login("alice", "sig").result(T)
    futs = [t.get_user_status(["alice"]) for _ in range(3000)]
    t.close()
    assert all(f.done() for f in futs)
    outcomes = {type(f.exception()) for f in futs}
    assert outcomes <= {type(None), CallInterrupted}
    interrupted = [f.exception() for f in futs if f.exception() is not None]
    assert all(e.code == 7009 for e in interrupted)
    # results that did arrive are complete
    for f in futs:
        if f.exception() is None:
            assert f.result()[0].user_id == "alice"


def test_cancelled_future_is_dropped(alice):
    # Hold tim_py's dispatcher in an event handler, so that every completion waits in the queue
    # and every future is still pending when it is cancelled.
    entered, release = threading.Event(), threading.Event()

    def hold(event):
        entered.set()
        release.wait(T)

    alice.on(EVENT.PROFILE_UPDATED, hold)
    alice.update_my_profile(nick="held")
    assert entered.wait(T)
    try:
        futs = [alice.get_user_status(["alice"]) for _ in range(2000)]
        cancelled = sum(f.cancel() for f in futs)
    finally:
        release.set()
    alice.off(EVENT.PROFILE_UPDATED, hold)
    assert cancelled == 2000
    # The cancelled results are dropped when they arrive, and the client keeps working.
    assert alice.get_my_profile().result(T).nick == "held"
    concurrent.futures.wait(futs, timeout=T)
    assert all(f.cancelled() for f in futs)


def test_result_inside_handler_would_deadlock(alice):
    seen = []

    def handler(event):
        fut = alice.get_my_profile()
        try:
            fut.result()
        except RuntimeError as e:
            seen.append(str(e))
        else:  # pragma: no cover
            seen.append("no error")

    alice.on(tim_py.EVENT.PROFILE_UPDATED, handler)
    alice.update_my_profile(nick="A").result(T)
    alice.off(tim_py.EVENT.PROFILE_UPDATED, handler)
    alice.get_my_profile().result(T)
    assert seen and "deadlock" in seen[0]


def test_close_from_a_handler(tmp_path):
    t = TIM(APP_ID, tmp_path)
    t.login("alice", "sig").result(T)
    closed = concurrent.futures.Future()

    def handler(event):
        t.close()
        closed.set_result(True)

    t.on(tim_py.EVENT.PROFILE_UPDATED, handler)
    fut = t.update_my_profile(nick="bye")
    assert closed.result(T)
    assert t.closed
    assert fut.done()
    # the slot is free again
    with TIM(APP_ID) as t2:
        assert t2.login_user_id == ""


def test_login_status_after_close_reopen(tmp_path):
    with TIM(APP_ID, tmp_path) as t:
        t.login("alice", "sig").result(T)
    with TIM(APP_ID, tmp_path) as t:
        assert t.login_user_id == ""
        t.login("bob", "sig").result(T)
        st = {s.user_id: s.status_type for s in t.get_user_status(["alice", "bob"]).result(T)}
        assert st == {"alice": UserStatusType.UNLOGINED, "bob": UserStatusType.ONLINE}
