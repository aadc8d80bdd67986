"""`tim-py serve` (docs/rest.md), driven as an app server would drive the vendor's REST API.

The server is a real child process (``python -m tim_py serve --port 0``) on a temporary world;
the requests go over HTTP on loopback with a plain client (tests/rest_helper.py, urllib); what
they change is checked as an SDK client sees it from another process: this one, a ``TIM`` on
the same data directory.  Then each row of docs/rest.md's table of checks, one test per row, in
the table's order, each also showing that the row comes before the rows below it; then a clean
stop with a request in flight.
"""
from __future__ import annotations

import json
import signal
import socket
import sqlite3
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

pytest.importorskip("aiohttp")

from tim_py import EVENT, TIM, TYPES, Gender, UserStatusType, gen_user_sig  # noqa: E402
from tim_py.errors import InvalidParameterError, ProfileError, TIMError  # noqa: E402

from .conftest import APP_ID, KEY  # noqa: E402
from .rest_helper import (  # noqa: E402
    ROOT,
    Answer,
    RestClient,
    RestServer,
    check_envelope,
    closed_by_peer,
    read_answer,
    request_bytes,
    send,
)

T = 10  # seconds for a call or an event

ACCOUNT_IMPORT = "v4/im_open_login_svc/account_import"
MULTIACCOUNT_IMPORT = "v4/im_open_login_svc/multiaccount_import"
ACCOUNT_DELETE = "v4/im_open_login_svc/account_delete"
ACCOUNT_CHECK = "v4/im_open_login_svc/account_check"
KICK = "v4/im_open_login_svc/kick"
PORTRAIT_GET = "v4/profile/portrait_get"
PORTRAIT_SET = "v4/profile/portrait_set"
QUERY_ONLINE_STATUS = "v4/openim/query_online_status"
SET_USER_STATUS = "ref/set_user_status"
MIB = 1 << 20
OK = {"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}


@pytest.fixture
def world(tmp_path: Path) -> Path:
    return tmp_path / "world"


@pytest.fixture
def server(world: Path) -> Iterator[RestServer]:
    """A server on ``world`` (no secret key); it must stop cleanly at the end."""
    with RestServer(world) as srv:
        yield srv


@pytest.fixture(scope="module")
def shared() -> Iterator[RestServer]:
    """One server with an in-memory world, for the checks that change nothing; it must stop cleanly."""
    with RestServer(None) as srv:
        yield srv


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestServer]:
    """A server that checks UserSigs with KEY; it must stop cleanly."""
    with RestServer(tmp_path_factory.mktemp("keyed") / "world", "--secret-key", KEY) as srv:
        yield srv


class Recorder:
    """Events of a TIM client; ``wait_for(pred)`` blocks until one matches."""

    def __init__(self, tim: TIM, *names: str) -> None:
        self.items: List[Any] = []
        self.cond = threading.Condition()
        for n in names:
            tim.on(n, self._add)

    def _add(self, event: Any) -> None:
        with self.cond:
            self.items.append(event)
            self.cond.notify_all()

    def wait_for(self, pred: Any, timeout: float = T) -> Any:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.items:
                    if pred(e):
                        return e
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no matching event within {timeout} s; got {self.items}")
                self.cond.wait(left)


def profiles(world: Path, ids: List[str]) -> Dict[str, Any]:
    """The profiles an SDK client on ``world`` reads, by user ID."""
    with TIM(APP_ID, world) as tim:
        tim.login("reader", "sig").result(T)
        try:
            return {p.user_id: p for p in tim.get_user_profile(ids).result(T)}
        except ProfileError as e:
            if e.code != 40003:  # none of them exists
                raise
            return {}


# ---- the commands, and what an SDK client sees of them ---------------------------------------


def test_account_import(server: RestServer, world: Path) -> None:
    c = server.client()
    assert c.call(ACCOUNT_IMPORT, {"UserID": "bob", "Nick": "Bob", "FaceUrl": "http://x/bob.png"}) == OK
    p = profiles(world, ["bob"])["bob"]
    assert (p.nick, p.avatar) == ("Bob", "http://x/bob.png")
    # importing again updates Nick and FaceUrl, and nothing else
    assert c.call(ACCOUNT_IMPORT, {"UserID": "bob", "Nick": "Bobby"}) == OK
    p = profiles(world, ["bob"])["bob"]
    assert (p.nick, p.avatar) == ("Bobby", "http://x/bob.png")
    d = c.call(ACCOUNT_IMPORT, {"UserID": "x" * 33})
    assert d["ErrorCode"] == 70402 and "UserID" in d["ErrorInfo"], d


def test_multiaccount_import_accounts(server: RestServer, world: Path) -> None:
    c = server.client()
    d = c.ok(MULTIACCOUNT_IMPORT, {"Accounts": ["a1", "a2", "x" * 33]})
    assert d["FailAccounts"] == ["x" * 33]
    assert set(profiles(world, ["a1", "a2"])) == {"a1", "a2"}
    d = c.call(MULTIACCOUNT_IMPORT, {"Accounts": [f"u{i}" for i in range(101)]})
    assert d["ErrorCode"] == 70402, d  # at most 100
    assert profiles(world, ["u0"]) == {}


def test_multiaccount_import_account_list(server: RestServer, world: Path) -> None:
    c = server.client()
    d = c.ok(MULTIACCOUNT_IMPORT, {"AccountList": [{"UserID": "n1", "Nick": "One"},
                                                   {"UserID": "n2", "FaceUrl": "http://x/2.png"},
                                                   {"UserID": "", "Nick": "Nobody"}]})
    assert d["FailAccounts"] == [""]
    got = profiles(world, ["n1", "n2"])
    assert (got["n1"].nick, got["n2"].avatar) == ("One", "http://x/2.png")
    # an existing account is updated with what is given
    c.ok(MULTIACCOUNT_IMPORT, {"AccountList": [{"UserID": "n1", "Nick": "Uno"}]})
    assert profiles(world, ["n1"])["n1"].nick == "Uno"


def test_account_delete(server: RestServer, world: Path) -> None:
    c = server.client()
    c.ok(MULTIACCOUNT_IMPORT, {"Accounts": ["bob", "carol"]})
    d = c.ok(ACCOUNT_DELETE, {"DeleteItem": [{"UserID": "bob"}, {"UserID": "ghost"}]})
    assert d["ResultItem"][0] == {"ResultCode": 0, "ResultInfo": "", "UserID": "bob"}
    assert (d["ResultItem"][1]["UserID"], d["ResultItem"][1]["ResultCode"]) == ("ghost", 70107)
    assert set(profiles(world, ["bob", "carol"])) == {"carol"}


def test_account_check(server: RestServer, world: Path) -> None:
    c = server.client()
    with TIM(APP_ID, world) as tim:  # an account made by an SDK login in another process
        tim.login("dave", "sig").result(T)
        d = c.ok(ACCOUNT_CHECK, {"CheckItem": [{"UserID": "dave"}, {"UserID": "ghost"}]})
    assert d["ResultItem"] == [
        {"UserID": "dave", "ResultCode": 0, "ResultInfo": "", "AccountStatus": "Imported"},
        {"UserID": "ghost", "ResultCode": 0, "ResultInfo": "", "AccountStatus": "NotImported"},
    ]


def test_portrait_set_reaches_a_subscriber(server: RestServer, world: Path) -> None:
    c = server.client()
    c.ok(ACCOUNT_IMPORT, {"UserID": "bob"})
    with TIM(APP_ID, world) as tim:
        tim.login("alice", "sig").result(T)
        rec = Recorder(tim, EVENT.PROFILE_UPDATED)
        tim.subscribe_user_info(["bob"]).result(T)
        assert c.call(PORTRAIT_SET, {"From_Account": "bob", "ProfileItem": [
            {"Tag": "Tag_Profile_IM_Nick", "Value": "Bob"},
            {"Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Male"},
            {"Tag": "Tag_Profile_IM_Level", "Value": 7},
            {"Tag": "Tag_Profile_Custom_Hobby", "Value": "chess"}]}) == {**OK, "ErrorDisplay": ""}
        e = rec.wait_for(lambda e: any(p.user_id == "bob" and p.nick == "Bob" for p in e.data))
        [p] = [p for p in e.data if p.user_id == "bob"]
        assert (p.gender, p.level, p.custom("Hobby")) == (Gender.MALE, 7, "chess")
    # all or nothing: one bad item, nothing set
    d = c.call(PORTRAIT_SET, {"From_Account": "bob", "ProfileItem": [
        {"Tag": "Tag_Profile_IM_Nick", "Value": "Robert"}, {"Tag": "Tag_Profile_IM_Gender", "Value": "Tall"}]})
    assert d["ErrorCode"] == 40605, d
    assert profiles(world, ["bob"])["bob"].nick == "Bob"
    assert c.call(PORTRAIT_SET, {"From_Account": "ghost", "ProfileItem": [
        {"Tag": "Tag_Profile_IM_Nick", "Value": "G"}]})["ErrorCode"] == 40003


def test_portrait_get(server: RestServer, world: Path) -> None:
    c = server.client()
    with TIM(APP_ID, world) as tim:  # a profile written through the SDK, read over HTTP
        tim.login("bob", "sig").result(T)
        tim.update_my_profile(nick="Bob", location="Lisbon", allow_type=TYPES.ALLOW_TYPE_DENY_ANY,
                              profile_custom_field=[{"key": "Hobby", "value": "chess"}]).result(T)
    d = c.ok(PORTRAIT_GET, {"To_Account": ["bob", "ghost"], "TagList": [
        "Tag_Profile_IM_Nick", "Tag_Profile_IM_Location", "Tag_Profile_IM_AllowType", "Tag_Profile_Custom_Hobby"]})
    bob, ghost = d["UserProfileItem"]
    assert bob == {"To_Account": "bob", "ResultCode": 0, "ResultInfo": "", "ProfileItem": [
        {"Tag": "Tag_Profile_IM_Nick", "Value": "Bob"}, {"Tag": "Tag_Profile_IM_Location", "Value": "Lisbon"},
        {"Tag": "Tag_Profile_IM_AllowType", "Value": "AllowType_Type_DenyAny"},
        {"Tag": "Tag_Profile_Custom_Hobby", "Value": "chess"}]}
    assert (ghost["To_Account"], ghost["ResultCode"]) == ("ghost", 40003)
    assert d["Fail_Account"] == ["ghost"]
    assert c.call(PORTRAIT_GET, {"To_Account": ["bob"], "TagList": ["Tag_Nope"]})["ErrorCode"] == 40009


def test_kick_ends_a_session(server: RestServer, world: Path) -> None:
    c = server.client()
    with TIM(APP_ID, world) as tim:
        tim.login("bob", "sig").result(T)
        rec = Recorder(tim, EVENT.KICKED_OUT)
        assert c.ok(QUERY_ONLINE_STATUS, {"To_Account": ["bob"]})["QueryResult"][0]["Status"] == "Online"
        assert c.call(KICK, {"UserID": "bob"}) == OK
        e = rec.wait_for(lambda e: True)
        assert e.data == {"type": TYPES.KICKED_OUT_REST_API}
        assert tim.login_user_id == ""
        assert c.ok(QUERY_ONLINE_STATUS, {"To_Account": ["bob"]})["QueryResult"][0]["Status"] == "Offline"
    assert c.call(KICK, {"UserID": "ghost"})["ErrorCode"] == 70107
    assert c.call(KICK, {})["ErrorCode"] == 70402


def test_query_online_status(server: RestServer, world: Path) -> None:
    c = server.client()
    c.ok(ACCOUNT_IMPORT, {"UserID": "bob"})
    with TIM(APP_ID, world, device_name="iPhone") as tim:
        tim.login("carol", "sig").result(T)
        tim.set_self_status("in a meeting").result(T)
        d = c.ok(QUERY_ONLINE_STATUS, {"To_Account": ["carol", "bob", "ghost"], "IsNeedDetail": 1,
                                       "IsReturnCustomStatus": 1})
        assert d["QueryResult"] == [
            {"To_Account": "carol", "Status": "Online", "Detail": [{"Platform": "iPhone", "Status": "Online"}],
             "CustomStatus": "in a meeting"},
            {"To_Account": "bob", "Status": "Offline", "CustomStatus": ""},
        ]
        assert d["ErrorList"] == [{"To_Account": "ghost", "ErrorCode": 70107}]
        d = c.ok(QUERY_ONLINE_STATUS, {"To_Account": ["carol"]})  # no flags: Status alone
        assert d["QueryResult"] == [{"To_Account": "carol", "Status": "Online"}] and d["ErrorList"] == []
        tim.logout().result(T)
    d = c.ok(QUERY_ONLINE_STATUS, {"To_Account": ["carol"], "IsNeedDetail": 1})
    assert d["QueryResult"] == [{"To_Account": "carol", "Status": "Offline"}]
    d = c.call(QUERY_ONLINE_STATUS, {"To_Account": ["ghost"]})
    assert d["ErrorCode"] == 70107  # every account failed
    assert c.call(QUERY_ONLINE_STATUS, {"To_Account": ["bob"], "IsNeedDetail": 2})["ErrorCode"] == 70402


def test_ref_set_user_status(server: RestServer, world: Path) -> None:
    c = server.client()
    c.ok(ACCOUNT_IMPORT, {"UserID": "bob"})
    with TIM(APP_ID, world) as tim:
        tim.login("alice", "sig").result(T)
        rec = Recorder(tim, EVENT.USER_STATUS_UPDATED)
        tim.subscribe_user_status(["bob"]).result(T)
        assert c.call(SET_USER_STATUS, {"UserID": "bob", "StatusType": 1, "CustomStatus": "at lunch"}) == OK
        rec.wait_for(lambda e: any(s.user_id == "bob" and s.status_type is UserStatusType.ONLINE
                                   and s.custom_status == "at lunch" for s in e.data))
        [s] = tim.get_user_status(["bob"]).result(T)
        assert (s.status_type, s.custom_status) == (UserStatusType.ONLINE, "at lunch")
        assert c.ok(QUERY_ONLINE_STATUS, {"To_Account": ["bob"]})["QueryResult"][0]["Status"] == "Online"
        c.ok(SET_USER_STATUS, {"UserID": "bob", "StatusType": 2})
        rec.wait_for(lambda e: any(s.user_id == "bob" and s.status_type is UserStatusType.OFFLINE
                                   for s in e.data))
    assert c.call(SET_USER_STATUS, {"UserID": "ghost", "StatusType": 1})["ErrorCode"] == 70107


def test_answer_is_the_librarys_text(shared: RestServer) -> None:
    """The answer's JSON text is sent as the library wrote it: the admin surface's answer to
    the same body, byte for byte (compact, its key order)."""
    a = shared.client().post(ACCOUNT_CHECK, {"CheckItem": [{"UserID": "nobody"}]})
    check_envelope(a)
    assert a.body == (b'{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","ResultItem":[{"UserID":"nobody",'
                      b'"ResultCode":0,"ResultInfo":"","AccountStatus":"NotImported"}]}')


def test_admin_request_raw(tim: TIM) -> None:
    """What the server sends bodies through: bytes in, the library's JSON text out."""
    body = b'{"CheckItem": [{"UserID": "nobody"}]}'
    assert tim.admin.request_raw(ACCOUNT_CHECK, body).result(T) == (
        b'{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","ResultItem":[{"UserID":"nobody",'
        b'"ResultCode":0,"ResultInfo":"","AccountStatus":"NotImported"}]}')
    with pytest.raises(TIMError) as ei:  # a FAIL answer: the error keeps its text and its object
        tim.admin.request_raw(ACCOUNT_IMPORT, b'{"UserID": 5}').result(T)
    assert ei.value.code == 70402 and ei.value.raw is not None
    assert json.loads(ei.value.raw) == ei.value.json and ei.value.json["ErrorCode"] == 70402
    for bad, rc in ((b"", -4), (b"[]", -3), (b'{"a": 1, "a": 2}', -3), (b'{"UserID": "bob"}\x00', -3)):
        with pytest.raises(InvalidParameterError) as pe:  # refused at the call, with the reason
            tim.admin.request_raw(ACCOUNT_IMPORT, bad)
        assert pe.value.code == rc and pe.value.desc.startswith(f"TIMRefAdminRequest returned {rc}: "), bad
    with pytest.raises(TypeError):
        tim.admin.request_raw(ACCOUNT_IMPORT, "{}")  # type: ignore[arg-type]


# ---- the checks, one test per row of docs/rest.md's table, in its order --------------------


def http(srv: RestServer, method: str, target: str, body: bytes = b"{}",
         headers: Dict[str, str] = None) -> Answer:
    """One request as raw bytes (any method, any target); the answer."""
    a = send(srv.port, request_bytes(method, target, body, headers, srv.port))
    assert a is not None, "the connection closed without an answer"
    return a


def target(srv: RestServer, command: str, **over: Any) -> str:
    """The path and query string of ``command`` (the vendor's form, ``over`` applied)."""
    url = srv.client().url(command, **over)
    return url[len(srv.url):]


def code_of(a: Answer) -> int:
    code: int = check_envelope(a)["ErrorCode"]
    return code


#: Everything a later row checks, wrong: a row's code must come first.
LATER_WRONG: Dict[str, Any] = {"sdkappid": None, "identifier": None, "usersig": None}


def test_row_60002_method_path_query(shared: RestServer) -> None:
    good = target(shared, PORTRAIT_GET)
    for method in ("GET", "PUT", "DELETE", "PATCH", "OPTIONS"):
        assert code_of(http(shared, method, good)) == 60002, method
    query = good.split("?", 1)[1]
    for path in ("/v5/profile/portrait_get", "/v4/profile", "/v4/profile/portrait_get/x", "/ref",
                 "/ref/set_user_status/x", "/", "/v4//portrait_get", "/profile/portrait_get"):
        assert code_of(http(shared, "POST", f"{path}?{query}", b"not json")) == 60002, path
    for dup in ("random=1", "sdkappid=1400000001", "contenttype=json", "usersig=x"):
        assert code_of(http(shared, "POST", f"{good}&{dup}")) == 60002, dup
    for random in (None, "", "-1", "4294967296", "1.5", "abc", "+1", " 1", "99999999999"):
        assert code_of(http(shared, "POST", target(shared, PORTRAIT_GET, random=random, **LATER_WRONG),
                            b"[")) == 60002, random
    for contenttype in (None, "", "JSON", "xml"):
        assert code_of(http(shared, "POST", target(shared, PORTRAIT_GET, contenttype=contenttype,
                                                   **LATER_WRONG), b"[")) == 60002, contenttype
    # the edges of random pass
    for random in ("0", "4294967295", "0000000007"):
        assert code_of(http(shared, "POST", target(shared, ACCOUNT_CHECK, random=random),
                            b'{"CheckItem": [{"UserID": "x"}]}')) == 0, random


def test_row_60012_sdkappid_missing(shared: RestServer) -> None:
    a = http(shared, "POST", target(shared, PORTRAIT_GET, **LATER_WRONG), b"[")
    assert code_of(a) == 60012


def test_row_60006_sdkappid_not_this_app(shared: RestServer) -> None:
    for sdkappid in ("1400000002", "", "abc", "-1400000001", "1400000001x"):
        a = http(shared, "POST", target(shared, "v4/no/such", sdkappid=sdkappid, identifier=None, usersig=None),
                 b"[")
        assert code_of(a) == 60006, sdkappid


def test_row_60004_identifier_missing(shared: RestServer) -> None:
    a = http(shared, "POST", target(shared, "v4/no/such", identifier=None, usersig=None), b"[")
    assert code_of(a) == 60004


def test_row_60010_identifier_not_an_admin(shared: RestServer) -> None:
    for identifier in ("bob", "", "Administrator", "administrator "):
        a = http(shared, "POST", target(shared, "v4/no/such", identifier=identifier, usersig=None), b"[")
        assert code_of(a) == 60010, identifier


def test_row_60010_admins_named_with_admin_option(tmp_path: Path) -> None:
    srv = RestServer(None, "--admin", "ops", "--admin", "backend")
    try:
        c = RestClient(srv.url, identifier="ops")
        assert c.call(ACCOUNT_CHECK, {"CheckItem": [{"UserID": "x"}]})["ErrorCode"] == 0
        assert RestClient(srv.url, identifier="backend").call(ACCOUNT_CHECK, {"CheckItem": [
            {"UserID": "x"}]})["ErrorCode"] == 0
        assert srv.client().call(ACCOUNT_CHECK, {"CheckItem": [{"UserID": "x"}]})["ErrorCode"] == 60010
    finally:
        assert srv.stop() == 0


def test_row_70002_usersig_missing_or_empty(shared: RestServer) -> None:
    for usersig in (None, ""):
        a = http(shared, "POST", target(shared, "v4/no/such", usersig=usersig), b"[")
        assert code_of(a) == 70002, usersig
    # without --secret-key any non-empty usersig passes
    assert code_of(http(shared, "POST", target(shared, ACCOUNT_CHECK, usersig="anything"),
                        b'{"CheckItem": [{"UserID": "x"}]}')) == 0


def test_row_70001_70014_usersig_not_valid(keyed: RestServer) -> None:
    admin = "administrator"
    good = gen_user_sig(APP_ID, KEY, admin, 3600)
    check = (ACCOUNT_CHECK, {"CheckItem": [{"UserID": "x"}]})
    assert RestClient(keyed.url, usersig=good).call(*check)["ErrorCode"] == 0
    cases = {
        "not a UserSig": 70003,
        gen_user_sig(APP_ID, "another-key", admin, 3600): 70003,  # bad signature
        gen_user_sig(APP_ID, KEY, admin, 10, now=int(time.time()) - 1000): 70001,  # expired
        gen_user_sig(APP_ID, KEY, "bob", 3600): 70013,  # made for another identifier
        gen_user_sig(APP_ID + 1, KEY, admin, 3600): 70014,  # made for another app
    }
    for sig, code in cases.items():
        d = RestClient(keyed.url, usersig=sig).call(*check)
        assert d["ErrorCode"] == code and d["ErrorInfo"], (sig, d)
        # before the command and the body are looked at
        a = http(keyed, "POST", target(keyed, "v4/no/such", usersig=sig), b"[")
        assert code_of(a) == code
    # a UserSig issued before a kick of its identifier is expired
    c = RestClient(keyed.url, usersig=good)
    c.ok(ACCOUNT_IMPORT, {"UserID": admin})
    time.sleep(1.1)  # the kick is later than the UserSig, by the second
    c.ok(KICK, {"UserID": admin})
    assert c.call(*check)["ErrorCode"] == 70001
    time.sleep(1.1)
    fresh = gen_user_sig(APP_ID, KEY, admin, 3600)
    assert RestClient(keyed.url, usersig=fresh).call(*check)["ErrorCode"] == 0


def test_secret_key_from_the_environment(tmp_path: Path) -> None:
    """TIM_PY_SECRET_KEY gives the key without putting it in the process's arguments."""
    with RestServer(tmp_path / "world", env={"TIM_PY_SECRET_KEY": KEY}) as srv:
        check = (ACCOUNT_CHECK, {"CheckItem": [{"UserID": "x"}]})
        good = gen_user_sig(APP_ID, KEY, "administrator", 3600)
        assert RestClient(srv.url, usersig=good).call(*check)["ErrorCode"] == 0
        assert RestClient(srv.url, usersig="any-non-empty-sig").call(*check)["ErrorCode"] == 70003
        assert KEY not in " ".join(srv.proc.args)


def test_row_60009_no_such_command(shared: RestServer) -> None:
    for command in ("v4/profile/portrait_nope", "v4/nope/portrait_get", "v4/openim/sendmsg", "ref/nope",
                    "ref/check_usersig", "v4/profile/Portrait_get"):
        a = http(shared, "POST", target(shared, command), b"not json")
        d = check_envelope(a)
        assert d["ErrorCode"] == 60009, (command, d)
    assert code_of(http(shared, "POST", target(shared, "v4/im_open_login_svc/kick%5F"), b"{}")) == 60009


def depth(n: int) -> bytes:
    """A JSON object nested ``n`` deep: {"a": {"a": ... 1}}."""
    return b'{"a":' * n + b"1" + b"}" * n


def test_row_60003_body_not_a_json_object(shared: RestServer) -> None:
    bad = [b"", b"not json", b"[]", b'"bob"', b"1", b"null", b"{", b'{"UserID": "bob"} trailing',
           depth(65), b'{"UserID": "bob", "UserID": "carol"}', b'{"UserID": "b\xffb"}',
           b'{"UserID": "b\\u0000b"}', b'{"UserID": "bob"}\x00', b'\x00{"UserID": "bob"}',
           b'{"UserID": "\xed\xa0\x80"}']
    for body in bad:
        d = check_envelope(http(shared, "POST", target(shared, ACCOUNT_IMPORT), body))
        assert d["ErrorCode"] == 60003 and d["ErrorInfo"], (body[:40], d)
    # 64 deep is JSON the library takes: the command's own check answers
    assert code_of(http(shared, "POST", target(shared, ACCOUNT_IMPORT), depth(64))) == 70402
    # the body is read as JSON whatever the Content-Type says
    a = http(shared, "POST", target(shared, ACCOUNT_CHECK), b'{"CheckItem": [{"UserID": "x"}]}',
             {"Content-Type": "text/plain"})
    assert code_of(a) == 0


def test_row_60002_body_over_1_mib(shared: RestServer) -> None:
    over = b'{"UserID": "' + b"x" * (MIB + 1 - 14) + b'"}'
    assert len(over) == MIB + 1
    for headers in (None, {"Transfer-Encoding": "chunked"}):
        with socket.create_connection(("127.0.0.1", shared.port), timeout=15) as s:
            if headers is None:
                s.sendall(request_bytes("POST", target(shared, ACCOUNT_IMPORT), over, None, shared.port))
            else:
                s.sendall(request_bytes("POST", target(shared, ACCOUNT_IMPORT), b"", headers, shared.port))
                for i in range(0, len(over), 65536):
                    part = over[i:i + 65536]
                    s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
                s.sendall(b"0\r\n\r\n")
            a = read_answer(s)
            assert a is not None and code_of(a) == 60002, (headers, a)
            assert a.headers.get("connection", "").lower() == "close"
            assert closed_by_peer(s), "the connection stayed open"
    # said by Content-Length: answered before the body is sent, and closed
    with socket.create_connection(("127.0.0.1", shared.port), timeout=15) as s:
        s.sendall(request_bytes("POST", target(shared, ACCOUNT_IMPORT), b"", {"Content-Length": str(100 * MIB)},
                                shared.port))
        a = read_answer(s)
        assert a is not None and code_of(a) == 60002
        assert closed_by_peer(s)
    # exactly 1 MiB is taken (and judged by the command: a Nick over 500 bytes)
    body = b'{"UserID": "bob", "Nick": "' + b"n" * (MIB - 29) + b'"}'
    assert len(body) == MIB
    assert code_of(http(shared, "POST", target(shared, ACCOUNT_IMPORT), body)) == 70402


def test_row_then_the_commands_own_checks(shared: RestServer) -> None:
    c = shared.client()
    assert c.call(ACCOUNT_IMPORT, {"UserID": 5})["ErrorCode"] == 70402
    assert c.call(ACCOUNT_DELETE, {"DeleteItem": [{"UserID": f"u{i}"} for i in range(101)]})["ErrorCode"] == 70402
    assert c.call(PORTRAIT_SET, {"From_Account": "bob"})["ErrorCode"] == 40001
    assert c.call(SET_USER_STATUS, {"UserID": "bob", "StatusType": 7})["ErrorCode"] == 6017
    assert c.call(QUERY_ONLINE_STATUS, {"To_Account": [f"u{i}" for i in range(501)]})["ErrorCode"] == 90011


# ---- the server's life ------------------------------------------------------------------------


def test_openapi_json(shared: RestServer) -> None:
    with urllib.request.urlopen(f"{shared.url}/openapi.json", timeout=T) as r:
        assert r.status == 200
        doc = json.loads(r.read())
    assert doc["openapi"].startswith("3.")
    from tim_py.server.app import COMMANDS

    paths = {p.lstrip("/") for p in doc["paths"] if p != "/openapi.json"}
    assert paths == set(COMMANDS), "the OpenAPI file and the server's list of commands differ"


def test_sigterm_answers_the_request_in_flight(server: RestServer, world: Path) -> None:
    c = server.client()
    c.ok(ACCOUNT_IMPORT, {"UserID": "bob"})
    # Hold the store's write lock, so that the next write waits in the library (its busy
    # timeout is 10 s): that request is in flight when SIGTERM comes.
    db = sqlite3.connect(world / f"timref-{APP_ID}.db", isolation_level=None, timeout=10)
    db.execute("BEGIN IMMEDIATE")
    box: List[Any] = []
    t = threading.Thread(target=lambda: box.append(c.post(ACCOUNT_IMPORT, {"UserID": "late", "Nick": "Late"})))
    t.start()
    try:
        time.sleep(0.5)
        assert not box, "answered while the store was locked"
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert server.proc.poll() is None, "exited with a request in flight"
        with pytest.raises(OSError):  # no longer accepting
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    finally:
        db.execute("ROLLBACK")
        db.close()
    t.join(T)
    assert box and check_envelope(box[0]) == OK, box
    assert server.proc.wait(T) == 0, server.stderr()
    assert profiles(world, ["late"])["late"].nick == "Late"


def test_sigint_stops_cleanly(world: Path) -> None:
    srv = RestServer(world)
    srv.client().ok(ACCOUNT_IMPORT, {"UserID": "bob"})
    assert srv.stop(signal.SIGINT) == 0, srv.stderr()
    assert "bob" in profiles(world, ["bob"])


# ---- the command line ---------------------------------------------------------------------------


def run_cli(*args: str, code: str = "") -> Any:
    import subprocess
    import sys

    prog = code or "import sys; from tim_py.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", prog, *args], capture_output=True, text=True, timeout=60,
                          cwd=str(ROOT))


@pytest.mark.parametrize("args, needle", [
    (["--port", "65536"], "--port"),
    (["--port", "http"], "--port"),
    (["--admin", "x" * 33], "--admin"),
    (["--admin", ""], "--admin"),
    (["--secret-key", ""], "--secret-key"),
    (["--app-id", "0"], "--app-id"),
    (["--host", ""], "--host"),
])
def test_serve_usage_errors_exit_2(args: List[str], needle: str) -> None:
    r = run_cli("serve", *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert needle in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert r.stdout == ""


def test_serve_without_aiohttp_says_how_to_get_it() -> None:
    r = run_cli("serve", code="import sys; sys.modules['aiohttp'] = None\n"
                              "from tim_py.cli import main; sys.exit(main(sys.argv[1:]))")
    assert r.returncode == 2, r.stderr
    assert "pip install 'tim_py[server]'" in r.stderr


def test_serve_port_in_use_exits_1(shared: RestServer) -> None:
    r = run_cli("serve", "--port", str(shared.port))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert f"port {shared.port}" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert r.stdout == ""


def test_demo_shows_a_rest_call_reaching_an_sdk_client() -> None:
    r = run_cli("demo")
    assert r.returncode == 0, r.stdout + r.stderr
    step = r.stdout[r.stdout.index("8. The vendor's REST API"):]
    assert "prints http://127.0.0.1:" in step
    assert 'answer: {"ActionStatus":"OK","ErrorCode":0' in step
    assert "event onProfileUpdated: bob: nick='Bob (set over HTTP)'" in step
    assert "the server stopped on SIGTERM (exit code 0)" in step
