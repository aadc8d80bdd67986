"""The vendor's REST commands on the admin surface (docs/contract.md 3.8): kick and
EVENT.KICKED_OUT (both clients, another process), the UserSigs a kick invalidates,
account_check, the per-call limits and the friendly methods that split beyond them,
multiaccount_import's AccountList form, query_online_status's detail, custom status and
ErrorList, portrait_get's Fail_Account, ref/check_usersig."""
from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

from tim_py import EVENT, TIM, TYPES, LoginStatus, UserStatusType, gen_user_sig
from tim_py.aio import AsyncTIM
from tim_py.errors import (
    REST_ERR_NO_ACCOUNT,
    REST_ERR_PARAM,
    REST_ERR_TOO_MANY_ACCOUNTS,
    AdminError,
    NotLoggedInError,
    ProfileError,
    UserSigError,
)

from .conftest import APP_ID, KEY, ROOT, read_line, spawn

T = 10  # seconds for any one call or event


# ---- kick in this process ------------------------------------------------------------------


def test_kick_reaches_kicked_out_and_logs_out(tim):
    tim.admin.import_accounts(["watcher"]).result(T)
    tim.login("bob", "sig").result(T)
    tim.set_self_status("here").result(T)
    seen = []
    tim.on(EVENT.KICKED_OUT, lambda e: seen.append((e, tim.login_status, tim.login_user_id)))
    stream = tim.events(EVENT.KICKED_OUT, timeout=T)
    assert tim.admin.kick("bob").result(T) is None
    # the event came before the kick's completion, with the session already over
    assert len(seen) == 1
    event, status, uid = seen[0]
    assert event.name == EVENT.KICKED_OUT == "kickedOut"
    assert event.data == {"type": TYPES.KICKED_OUT_REST_API}
    assert TYPES.KICKED_OUT_REST_API == "REST_API_Kick"
    assert (status, uid) == (LoginStatus.UNLOGINED, "")
    assert next(stream) == event
    stream.close()
    assert tim.login_status is LoginStatus.UNLOGINED
    with pytest.raises(NotLoggedInError):
        tim.set_self_status("again").result(T)
    # the user is UnLogined with the custom status cleared, as after a logout
    tim.login("watcher", "sig").result(T)
    [s] = tim.get_user_status(["bob"]).result(T)
    assert (s.status_type, s.custom_status, s.online_devices) == (UserStatusType.UNLOGINED, "", ())
    # a kick of someone else leaves this session alone
    assert tim.login_status is LoginStatus.LOGINED
    tim.admin.kick("bob").result(T)
    assert len(seen) == 1 and tim.login_status is LoginStatus.LOGINED


def test_kick_of_a_simulated_session_tells_subscribers(alice):
    alice.admin.set_user_status("bob", UserStatusType.ONLINE, "sim").result(T)
    got = []
    alice.on(EVENT.USER_STATUS_UPDATED, lambda e: got.extend(e.data))
    kicked = []
    alice.on(EVENT.KICKED_OUT, kicked.append)
    alice.subscribe_user_status(["bob"]).result(T)
    alice.admin.kick("bob").result(T)
    assert [(s.user_id, s.status_type, s.custom_status) for s in got] == [("bob", UserStatusType.UNLOGINED, "")]
    assert kicked == [] and alice.login_status is LoginStatus.LOGINED
    assert alice.admin.query_online_status(["bob"]).result(T) == {"bob": "Offline"}


def test_kick_errors(tim):
    with pytest.raises(AdminError) as ei:
        tim.admin.kick("nobody").result(T)
    assert ei.value.code == REST_ERR_NO_ACCOUNT and "nobody" in ei.value.desc
    assert ei.value.answer["ActionStatus"] == "FAIL"
    for body in ({}, {"UserID": 5}, {"UserID": ""}, {"Identifier": "bob"}):
        with pytest.raises(AdminError) as ei:
            tim.admin.request("v4/im_open_login_svc/kick", body).result(T)
        assert ei.value.code == REST_ERR_PARAM
    with pytest.raises(TypeError):
        tim.admin.kick(5)


async def test_kick_reaches_kicked_out_async(atim):
    await atim.login("bob", "sig")
    seen = []
    atim.on(EVENT.KICKED_OUT, lambda e: seen.append((e, atim.login_status)))
    stream = atim.events(EVENT.KICKED_OUT)
    await atim.admin.kick("bob")
    [(event, status)] = seen  # before the kick's completion, the session already over
    assert (event.name, event.data, status) == (EVENT.KICKED_OUT, {"type": TYPES.KICKED_OUT_REST_API},
                                                LoginStatus.UNLOGINED)
    assert (await stream.__anext__()).name == EVENT.KICKED_OUT
    await stream.aclose()
    with pytest.raises(NotLoggedInError):
        await atim.set_self_status("x")
    await atim.login("bob", "sig")  # without a secret key: at once
    assert atim.login_status is LoginStatus.LOGINED


# ---- kick across processes -------------------------------------------------------------------

KICKED_CHILD = """
import sys, tim_py
from tim_py import EVENT
with tim_py.TIM(int(sys.argv[1]), sys.argv[2], device_name="ChildBox") as t:
    events = t.events(EVENT.KICKED_OUT, timeout=20)
    t.login(sys.argv[3], "sig").result(10)
    print("ready", flush=True)
    for e in events:
        print(e.data["type"], int(t.login_status), flush=True)
        try:
            t.set_self_status("x").result(10)
        except tim_py.NotLoggedInError:
            print("not logged in", flush=True)
        break
    else:
        print("no event", flush=True)
"""

KICKING_CHILD = """
import sys, tim_py
with tim_py.TIM(int(sys.argv[1]), sys.argv[2]) as t:
    t.admin.kick(sys.argv[3]).result(10)
    print("kicked", flush=True)
"""


#: How long a kick child may take to print a line.
LINE_TIMEOUT = 20


def test_kick_reaches_another_process(tmp_path, children):
    with TIM(APP_ID, tmp_path) as tim:
        tim.login("watcher", "sig").result(T)
        statuses = []
        tim.on(EVENT.USER_STATUS_UPDATED, lambda e: statuses.extend(e.data))
        tim.subscribe_user_status(["far"]).result(T)
        child = spawn(KICKED_CHILD, APP_ID, tmp_path, "far")
        children.append(child)
        assert read_line(child, LINE_TIMEOUT) == "ready"
        detail = tim.admin.query_online_status(["far"], detail=True).result(T)["far"]
        assert detail["Detail"] == [{"Platform": "ChildBox", "Status": "Online"}]
        tim.admin.kick("far").result(T)
        assert read_line(child, LINE_TIMEOUT) == f"{TYPES.KICKED_OUT_REST_API} {int(LoginStatus.UNLOGINED)}"
        assert read_line(child, LINE_TIMEOUT) == "not logged in"
        assert child.wait(T) == 0
        deadline = time.monotonic() + T
        while not any(s.status_type is UserStatusType.UNLOGINED for s in statuses):
            assert time.monotonic() < deadline, statuses
            time.sleep(0.01)
        assert tim.login_status is LoginStatus.LOGINED  # the watcher was not kicked
        assert tim.admin.query_online_status(["far"]).result(T) == {"far": "Offline"}


def test_kicked_by_another_process(tmp_path, children):
    with TIM(APP_ID, tmp_path) as tim:
        tim.login("here", "sig").result(T)
        stream = tim.events(EVENT.KICKED_OUT, timeout=T)
        child = spawn(KICKING_CHILD, APP_ID, tmp_path, "here")
        children.append(child)
        assert read_line(child, LINE_TIMEOUT) == "kicked"
        assert child.wait(T) == 0
        event = next(stream)  # told without a call of its own (the store's notify file)
        assert event.data == {"type": TYPES.KICKED_OUT_REST_API}
        assert tim.login_status is LoginStatus.UNLOGINED
        stream.close()


# ---- UserSigs ----------------------------------------------------------------------------------


def test_kick_invalidates_earlier_usersigs_and_check_usersig():
    now = int(time.time())
    with TIM(APP_ID, secret_key=KEY) as tim:
        old = gen_user_sig(APP_ID, KEY, "ku", now=now - 100)
        tim.login("ku", old).result(T)
        assert tim.admin.check_usersig("ku", old).result(T) is None
        tim.admin.kick("ku").result(T)
        with pytest.raises(UserSigError) as ei:
            tim.login("ku", old).result(T)
        assert ei.value.code == 70001 and "kick" in ei.value.desc
        with pytest.raises(UserSigError) as ei:
            tim.admin.check_usersig("ku", old).result(T)
        assert ei.value.code == 70001 and "kick" in ei.value.desc
        assert ei.value.answer["ErrorCode"] == 70001
        fresh = gen_user_sig(APP_ID, KEY, "ku")
        assert tim.admin.check_usersig("ku", fresh).result(T) is None
        tim.login("ku", fresh).result(T)
        assert tim.login_status is LoginStatus.LOGINED
        # the login's checks, in its order
        cases = [("", 70002), ("garbage", 70003), (gen_user_sig(APP_ID, "other key", "ku"), 70003),
                 (gen_user_sig(APP_ID, KEY, "other"), 70013), (gen_user_sig(APP_ID + 1, KEY, "ku"), 70014),
                 (gen_user_sig(APP_ID, KEY, "ku", expire=10, now=now - 1000), 70001)]
        for sig, code in cases:
            with pytest.raises(UserSigError) as ei:
                tim.admin.check_usersig("ku", sig).result(T)
            assert ei.value.code == code, (sig, ei.value)
        # the app admin needs no account
        assert tim.admin.check_usersig("administrator", gen_user_sig(APP_ID, KEY, "administrator")).result(T) is None
        with pytest.raises(AdminError) as ei:
            tim.admin.request("ref/check_usersig", {"UserSig": "x"}).result(T)
        assert ei.value.code == REST_ERR_PARAM
    with TIM(APP_ID) as tim:  # without a key, any non-empty UserSig passes
        assert tim.admin.check_usersig("ku", "anything").result(T) is None
        with pytest.raises(UserSigError):
            tim.admin.check_usersig("ku", "").result(T)


# ---- accounts --------------------------------------------------------------------------------


def test_check_accounts(tim):
    tim.admin.import_accounts(["bob", "carol"]).result(T)
    assert tim.admin.check_accounts(["bob", "nobody", "carol"]).result(T) == {
        "bob": True, "nobody": False, "carol": True}
    ans = tim.admin.request("v4/im_open_login_svc/account_check",
                            {"CheckItem": [{"UserID": "bob"}, {"UserID": "nobody"}]}).result(T)
    assert ans["ResultItem"] == [
        {"UserID": "bob", "ResultCode": 0, "ResultInfo": "", "AccountStatus": "Imported"},
        {"UserID": "nobody", "ResultCode": 0, "ResultInfo": "", "AccountStatus": "NotImported"}]
    for body in ({}, {"CheckItem": []}, {"CheckItem": ["bob"]}, {"CheckItem": [{"UserID": ""}]}):
        with pytest.raises(AdminError) as ei:
            tim.admin.request("v4/im_open_login_svc/account_check", body).result(T)
        assert ei.value.code == REST_ERR_PARAM
    with pytest.raises(AdminError):
        tim.admin.check_accounts(["x" * 40]).result(T)


def test_account_limits_and_the_methods_that_split(tim):
    ids = [f"u{i:03d}" for i in range(250)]
    # a request: at most 100
    for api, body in (("v4/im_open_login_svc/multiaccount_import", {"Accounts": ids[:101]}),
                      ("v4/im_open_login_svc/multiaccount_import",
                       {"AccountList": [{"UserID": i} for i in ids[:101]]}),
                      ("v4/im_open_login_svc/account_delete", {"DeleteItem": [{"UserID": i} for i in ids[:101]]}),
                      ("v4/im_open_login_svc/account_check", {"CheckItem": [{"UserID": i} for i in ids[:101]]})):
        with pytest.raises(AdminError) as ei:
            tim.admin.request(api, body).result(T)
        assert ei.value.code == REST_ERR_PARAM and "at most 100" in ei.value.desc, api
    assert not any(tim.admin.check_accounts(ids).result(T).values())
    # the methods: any number, in requests of 100
    assert tim.admin.import_accounts(ids + ["x" * 40, "\x01"]).result(T) == ["x" * 40, "\x01"]
    assert all(tim.admin.check_accounts(ids).result(T).values())
    with pytest.raises(ProfileError) as ei:
        tim.admin.request("v4/profile/portrait_get", {"To_Account": ids[:101], "TagList": ["Tag_Profile_IM_Nick"]}
                          ).result(T)
    assert ei.value.code == 40001 and "at most 100" in ei.value.desc
    assert set(tim.admin.get_portrait(ids, ["nick"]).result(T)) == set(ids)
    deleted = tim.admin.delete_accounts(ids[:150] + ["nobody"]).result(T)
    assert len(deleted) == 151 and deleted["nobody"] == REST_ERR_NO_ACCOUNT
    assert all(deleted[i] == 0 for i in ids[:150])
    left = tim.admin.check_accounts(ids).result(T)
    assert [i for i in ids if left[i]] == ids[150:]


def test_multiaccount_import_account_list(alice):
    changed = []
    alice.on(EVENT.PROFILE_UPDATED, lambda e: changed.extend(e.data))
    ans = alice.admin.request("v4/im_open_login_svc/multiaccount_import", {"AccountList": [
        {"UserID": "dave", "Nick": "Dave", "FaceUrl": "http://x/d.png"},
        {"UserID": "alice", "Nick": "Alice"},
        {"UserID": "", "Nick": "nobody"},
    ]}).result(T)
    assert ans["FailAccounts"] == [""]
    got = alice.admin.get_portrait(["dave", "alice"], ["nick", "avatar"]).result(T)
    assert got == {"dave": {"nick": "Dave", "avatar": "http://x/d.png"}, "alice": {"nick": "Alice", "avatar": ""}}
    assert [p.nick for p in changed if p.user_id == "alice"] == ["Alice"]  # an existing account, updated
    with pytest.raises(AdminError) as ei:
        alice.admin.request("v4/im_open_login_svc/multiaccount_import",
                            {"Accounts": ["erin"], "AccountList": [{"UserID": "erin"}]}).result(T)
    assert ei.value.code == REST_ERR_PARAM
    assert alice.admin.check_accounts(["erin"]).result(T) == {"erin": False}


# ---- presence and profiles ----------------------------------------------------------------------


def test_query_online_status_detail_custom_status_and_errors():
    with TIM(APP_ID, device_name="PyBox") as tim:
        tim.admin.import_accounts(["bob", "carol"]).result(T)
        tim.login("alice", "sig").result(T)
        tim.set_self_status("hi").result(T)
        tim.admin.set_user_status("bob", UserStatusType.ONLINE, "busy").result(T)
        ids = ["alice", "bob", "carol", "nobody"]
        assert tim.admin.query_online_status(ids).result(T) == {"alice": "Online", "bob": "Online",
                                                                "carol": "Offline"}
        got = tim.admin.query_online_status(ids, detail=True).result(T)
        assert got["alice"] == {"To_Account": "alice", "Status": "Online",
                                "Detail": [{"Platform": "PyBox", "Status": "Online"}]}
        assert got["carol"] == {"To_Account": "carol", "Status": "Offline"}
        got = tim.admin.query_online_status(ids, custom_status=True).result(T)
        assert [got[i]["CustomStatus"] for i in ("alice", "bob", "carol")] == ["hi", "busy", ""]
        assert "Detail" not in got["alice"]
        got = tim.admin.query_online_status(ids, detail=True, custom_status=True).result(T)
        assert set(got["bob"]) == {"To_Account", "Status", "Detail", "CustomStatus"}
        ans = tim.admin.request("v4/openim/query_online_status", {"To_Account": ids}).result(T)
        assert ans["ErrorCode"] == 0 and ans["ErrorList"] == [{"To_Account": "nobody", "ErrorCode": 70107}]
        # every account failed: the answer fails (70107), with its ErrorList; the method says {}
        with pytest.raises(AdminError) as ei:
            tim.admin.request("v4/openim/query_online_status", {"To_Account": ["nobody"]}).result(T)
        assert ei.value.code == REST_ERR_NO_ACCOUNT
        assert ei.value.answer["ErrorList"] == [{"To_Account": "nobody", "ErrorCode": 70107}]
        assert tim.admin.query_online_status(["nobody"]).result(T) == {}
        assert tim.admin.query_online_status(["nobody"], detail=True).result(T) == {}
        # at most 500 a request (90011); the method splits
        many = [f"z{i:03d}" for i in range(600)] + ["alice"]
        with pytest.raises(AdminError) as ei:
            tim.admin.request("v4/openim/query_online_status", {"To_Account": many[:501]}).result(T)
        assert ei.value.code == REST_ERR_TOO_MANY_ACCOUNTS == 90011 and "at most 500" in ei.value.desc
        assert tim.admin.query_online_status(many).result(T) == {"alice": "Online"}
        for flag in (2, "1", True):
            with pytest.raises(AdminError):
                tim.admin.request("v4/openim/query_online_status",
                                  {"To_Account": ["alice"], "IsNeedDetail": flag}).result(T)
        with pytest.raises(TypeError):
            tim.admin.query_online_status(["alice"], detail=1)


def test_portrait_get_fail_account(alice):
    ans = alice.admin.request("v4/profile/portrait_get",
                              {"To_Account": ["bob", "nobody"], "TagList": ["Tag_Profile_IM_Nick"]}).result(T)
    assert ans["Fail_Account"] == ["nobody"] and ans["ErrorDisplay"] == ""
    assert ans["UserProfileItem"][1] == {"To_Account": "nobody", "ResultCode": 40003,
                                         "ResultInfo": "account does not exist"}
    ans = alice.admin.request("v4/profile/portrait_get",
                              {"To_Account": ["bob"], "TagList": ["Tag_Profile_IM_Nick"]}).result(T)
    assert "Fail_Account" not in ans
    with pytest.raises(ProfileError) as ei:
        alice.admin.request("v4/profile/portrait_get", {"TagList": ["Tag_Profile_IM_Nick"]}).result(T)
    assert ei.value.code == 40002


# ---- the command line keeps working past 100 --------------------------------------------------------


def test_cli_import_and_delete_past_the_limit(tmp_path):
    world = tmp_path / "world"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIM_PY_")}
    env["TIM_PY_DATA_DIR"] = str(world)

    def cli(*args, input=None):
        return subprocess.run([sys.executable, "-m", "tim_py", *args], capture_output=True, text=True,
                              input=input, timeout=60, cwd=str(ROOT), env=env)

    rows = "".join(json.dumps({"user_id": f"m{i}"}) + "\n" for i in range(250))
    r = cli("--json", "user", "import", "-", input=rows)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["created"] == 250
    r = cli("--json", "user", "delete", *[f"m{i}" for i in range(180)])
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)["deleted"]) == 180
    with TIM(APP_ID, world) as tim:
        left = tim.admin.check_accounts([f"m{i}" for i in range(250)]).result(T)
    assert sum(left.values()) == 70


def test_async_friendly_methods():
    async def main() -> None:
        async with AsyncTIM(APP_ID) as t:
            ids = [f"a{i:03d}" for i in range(205)]
            assert await t.admin.import_accounts(ids) == []
            assert all((await t.admin.check_accounts(ids)).values())
            assert await t.admin.query_online_status(["nobody"]) == {}
            assert len(await t.admin.delete_accounts(ids)) == 205

    asyncio.run(main())
