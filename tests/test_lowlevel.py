"""The raw layer: C functions by name, raw JSON keys."""
from __future__ import annotations

import pytest

from tim_py import InvalidParameterError, NotInitializedError, NotLoggedInError, TIMError, lowlevel

T = 5


def test_raw_calls(tim):
    raw = tim.raw
    assert raw.call("TIMGetLoginStatus") == 3
    assert raw.call("TIMGetSDKVersion").startswith("timref")
    assert raw.call("TIMGetServerTime") > 0
    assert raw.call("TIMLogin", "alice", "sig").result(T) is None
    assert raw.call("TIMGetLoginUserID") == "alice"
    raw.call("TIMRefAdminRequest", "v4/im_open_login_svc/account_import", {"UserID": "bob"}).result(T)
    got = lowlevel.call("TIMProfileGetUserProfileList",
                        {"friendship_getprofilelist_param_identifier_array": ["bob"]}).result(T)
    assert got[0]["user_profile_identifier"] == "bob" and "user_profile_custom_string_array" in got[0]
    assert raw.call("TIMGetUserStatus", ["bob"]).result(T)[0]["user_status_status_type"] == 3
    assert raw.call("TIMProfileModifySelfUserProfile", b'{"user_profile_item_level": 4}').result(T) is None
    assert raw.call("TIMUnsubscribeUserStatus").result(T) is None  # NULL: everyone
    assert raw.call("TIMSetSelfStatus", {"user_status_custom_status": "raw"}).result(T) is None
    assert raw.call("TIMLogout").result(T) is None


def test_raw_errors(tim):
    raw = tim.raw
    with pytest.raises(InvalidParameterError) as ei:
        raw.call("TIMProfileGetUserProfileList", "not json")
    assert ei.value.code == -3
    with pytest.raises(InvalidParameterError) as ei:
        raw.call("TIMProfileGetUserProfileList", None)
    assert ei.value.code == -4
    with pytest.raises(InvalidParameterError) as ei:
        raw.call("TIMGetUserStatus", {"not": "an array"})
    assert ei.value.code == -3
    with pytest.raises(NotLoggedInError) as ei:
        raw.call("TIMGetUserStatus", ["bob"]).result(T)
    assert ei.value.json == []  # json_params "[]" on this error
    with pytest.raises(ValueError, match="unknown function"):
        raw.call("TIMNope")
    with pytest.raises(ValueError, match="belongs to the client"):
        raw.call("TIMInit", 1, "{}")
    with pytest.raises(TypeError):
        raw.call("TIMLogin", "alice")
    with pytest.raises(TypeError):
        raw.call("TIMGetSDKVersion", 1)
    with pytest.raises(TypeError):
        raw.call("TIMSetSelfStatus", object())
    with pytest.raises(TypeError):
        raw.call(3)
    # a duplicated key, a too deep document
    with pytest.raises(InvalidParameterError):
        raw.call("TIMSetSelfStatus", b'{"a":1,"a":2}')
    with pytest.raises(InvalidParameterError):
        raw.call("TIMGetUserStatus", b"[" * 65 + b"]" * 65)


def test_lowlevel_needs_an_open_client():
    with pytest.raises(NotInitializedError):
        lowlevel.call("TIMLogout")


def test_error_codes_match_the_headers():
    from tim_py._ffi import lib
    from tim_py.errors import _class_for
    from tim_py.types import AllowType, Gender, LoginStatus, UserStatusType

    assert (lib.kTIMGenderType_Male, lib.kTIMGenderType_Female) == (Gender.MALE, Gender.FEMALE)
    assert lib.kTIMProfileAddPermission_DenyAny == AllowType.DENY_ANY
    assert lib.kTIMUserStatusType_UnLogined == UserStatusType.UNLOGINED
    assert lib.kTIMLoginStatus_Logouting == LoginStatus.LOGOUTING
    assert (lib.TIM_ERR_JSON, lib.TIM_ERR_PARAM) == (-3, -4)
    expected = {
        lib.ERR_SDK_NOT_INITIALIZED: "NotInitializedError", lib.ERR_SDK_NOT_LOGGED_IN: "NotLoggedInError",
        lib.ERR_INVALID_PARAMETERS: "InvalidParameterError", lib.ERR_IO_OPERATION_FAILED: "StoreError",
        lib.ERR_SDK_NET_PKG_SIZE_LIMIT: "SizeLimitError",
        lib.ERR_SDK_COMM_INVALID_IDENTIFIER: "InvalidIdentifierError",
        lib.ERR_SDK_COMM_INTERRUPT: "CallInterrupted", lib.ERR_SDK_INVALID_OPERATION: "InvalidOperationError",
        lib.ERR_SDK_FRIENDSHIP_INVALID_PROFILE_KEY: "ProfileError",
        lib.ERR_SVR_PROFILE_ACCOUNT_MISS: "ProfileError", lib.ERR_SVR_PROFILE_INVALID_VALUE_FORMAT: "ProfileError",
        lib.ERR_SVR_ACCOUNT_USERSIG_EXPIRED: "UserSigError",
        lib.ERR_SVR_ACCOUNT_USERSIG_MISMATCH_SDKAPPID: "UserSigError",
        lib.ERR_SDK_INTERNAL_ERROR: "InternalError", lib.ERR_OUT_OF_MEMORY: "InternalError",
    }
    for code, name in expected.items():
        assert _class_for(code).__name__ == name, code
    assert _class_for(12345) is TIMError
    e = TIMError(6013, "x")
    import pickle

    assert pickle.loads(pickle.dumps(e)).code == 6013
    assert str(e) == "[6013] x"


def test_raw_profile_value_errors(tim):
    tim.login("alice", "sig").result(5)
    for item, code in (({"user_profile_item_gender": "x"}, 40610), ({"user_profile_item_level": -1}, 40605),
                       ({"user_profile_item_level": 1.5}, 40610), ({"user_profile_item_nope": 1}, 6017)):
        with pytest.raises(TIMError) as ei:
            tim.raw.call("TIMProfileModifySelfUserProfile", item).result(5)
        assert ei.value.code == code, item
        assert ei.value.desc  # names the key
