"""`tim-py serve`'s commands about the whole world (docs/rest.md, docs/snapshots.md), over real
HTTP: /ref/account_list and /ref/events, and /ref/world_export, /ref/world_import and
/ref/world_reset, whose changes an SDK client in this process sees (a reset kicks it); and the
import's own body limit, 256 MiB where every other command takes 1 MiB."""
from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Iterator

import pytest

pytest.importorskip("aiohttp")

from tim_py import EVENT, TIM, TYPES, Gender  # noqa: E402
from tim_py._ffi import lib  # noqa: E402
from tim_py.server.app import MAX_BODY, body_limit  # noqa: E402

from .conftest import APP_ID  # noqa: E402
from .rest_helper import RestServer, check_envelope, closed_by_peer, read_answer, request_bytes, wait_until  # noqa: E402

T = 10
LIST = "ref/account_list"
EVENTS = "ref/events"
EXPORT = "ref/world_export"
IMPORT = "ref/world_import"
RESET = "ref/world_reset"
MULTIACCOUNT_IMPORT = "v4/im_open_login_svc/multiaccount_import"
PORTRAIT_SET = "v4/profile/portrait_set"


@pytest.fixture
def world(tmp_path: Path) -> Path:
    return tmp_path / "world"


@pytest.fixture
def server(world: Path) -> Iterator[RestServer]:
    with RestServer(world) as srv:
        yield srv


def test_snapshot_round_trip_over_http(server: RestServer, world: Path) -> None:
    c = server.client()
    c.ok(MULTIACCOUNT_IMPORT, {"Accounts": ["bob", "carol", "dave"]})
    c.ok(PORTRAIT_SET, {"From_Account": "bob", "ProfileItem": [
        {"Tag": "Tag_Profile_IM_Nick", "Value": "Bob"}, {"Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Male"},
        {"Tag": "Tag_Profile_Custom_Hobby", "Value": "chess"}]})
    c.ok("ref/set_user_status", {"UserID": "carol", "StatusType": 2, "CustomStatus": "away"})
    with TIM(APP_ID, world) as tim:
        tim.login("dave", "sig").result(T)
        kicked = []
        tim.on(EVENT.KICKED_OUT, kicked.append)
        snap = c.ok(EXPORT, {"IncludeStatus": True})["Snapshot"]
        assert [a["UserID"] for a in snap["Accounts"]] == ["bob", "carol", "dave"]
        assert snap["Accounts"][2]["Status"] == {"Type": "Online", "Devices": ["Linux"]}
        # the same world, the same bytes
        assert c.post(EXPORT, {"IncludeStatus": True}).body == c.post(EXPORT, {"IncludeStatus": True}).body
        assert c.ok(RESET, {})["Accounts"] == 3
        wait_until("dave's session ended", lambda: kicked)  # dave's session, in this process, ended
        assert kicked[0].data == {"type": TYPES.KICKED_OUT_REST_API}
        assert c.ok(LIST, {})["Total"] == 0
        assert c.ok(IMPORT, {"Snapshot": snap})["Accounts"] == 3
        assert c.ok(EXPORT, {"IncludeStatus": True})["Snapshot"] == snap
        tim.login("bob", "sig").result(T)
        me = tim.get_my_profile().result(T)
        assert (me.nick, me.gender) == ("Bob", Gender.MALE)
        assert [(f.key, f.value) for f in me.profile_custom_field] == [("Tag_Profile_Custom_Hobby", "chess")]
        tim.logout().result(T)


def test_a_bad_snapshot_is_refused_whole(server: RestServer) -> None:
    c = server.client()
    c.ok(MULTIACCOUNT_IMPORT, {"Accounts": ["bob"]})
    before = c.ok(EXPORT, {})["Snapshot"]
    bad = dict(before, Accounts=[{"UserID": "new1"}, {"UserID": "new2", "Profile": {"Tag_Profile_IM_Level": -1}}])
    a = c.call(IMPORT, {"Snapshot": bad})
    assert a["ErrorCode"] == 40605
    assert a["ErrorInfo"].startswith('Snapshot.Accounts[1] (UserID "new2"): Tag_Profile_IM_Level')
    assert c.call(IMPORT, {"Snapshot": dict(before, Version=9)})["ErrorCode"] == 70402
    assert c.call(IMPORT, {})["ErrorCode"] == 70402
    assert c.ok(EXPORT, {})["Snapshot"] == before


def test_listing_and_events_over_http(server: RestServer) -> None:
    c = server.client()
    ids = [f"user{i:03d}" for i in range(150)]
    for i in range(0, 150, 100):
        c.ok(MULTIACCOUNT_IMPORT, {"Accounts": ids[i:i + 100]})
    page = c.ok(LIST, {"Limit": 100})
    assert page["Total"] == 150 and page["UserIDs"] == ids[:100] and page["Next"] == "user099"
    page = c.ok(LIST, {"Limit": 100, "After": page["Next"]})
    assert page["UserIDs"] == ids[100:] and "Next" not in page
    assert c.ok(LIST, {"Match": "user14"})["UserIDs"] == ids[140:150]
    assert c.call(LIST, {"Limit": 0})["ErrorCode"] == 70402
    tail = c.ok(EVENTS, {"Limit": 3})
    assert [e["UserID"] for e in tail["Events"]] == ids[-3:] and tail["Last"] == 150 and tail["Gap"] is False
    assert all(e["Type"] == "profile" and e["Origin"] == "admin" for e in tail["Events"])
    c.ok(PORTRAIT_SET, {"From_Account": "user000", "ProfileItem": [{"Tag": "Tag_Profile_IM_Nick", "Value": "Zero"}]})
    more = c.ok(EVENTS, {"After": tail["Last"]})
    assert [(e["Seq"], e["UserID"], e["Data"]["user_profile_nick_name"]) for e in more["Events"]] == [
        (151, "user000", "Zero")]
    assert c.call(EVENTS, {"After": "x"})["ErrorCode"] == 70402


def test_the_import_takes_more_than_1_mib(server: RestServer) -> None:
    assert body_limit(IMPORT) == lib.TIMREF_WORLD_IMPORT_MAX_LEN == 256 << 20
    assert body_limit(MULTIACCOUNT_IMPORT) == MAX_BODY == 1 << 20
    c = server.client()
    bio = "b" * 500
    accounts = [{"UserID": f"big{i:05d}", "Profile": {"Tag_Profile_IM_SelfSignature": bio,
                                                      "Tag_Profile_Custom_Bio": bio}, "LastUpdated": 0}
                for i in range(1100)]
    snap = {"Format": "timref-world", "Version": 1, "Accounts": accounts}
    body = json.dumps({"Snapshot": snap}).encode()
    assert len(body) > MAX_BODY
    a = c.post(IMPORT, body, timeout=60)
    assert check_envelope(a)["ErrorCode"] == 0 and a.json["Accounts"] == 1100
    exported = c.post(EXPORT, {})
    assert len(exported.body) > MAX_BODY
    assert check_envelope(exported)["Snapshot"]["Accounts"] == sorted(accounts, key=lambda x: x["UserID"])
    # every other command keeps its 1 MiB
    assert check_envelope(c.post(MULTIACCOUNT_IMPORT, b'{"Accounts": ["' + b"x" * MAX_BODY + b'"]}'))[
        "ErrorCode"] == 60002
    # beyond the import's own limit: refused before the body is sent, and the connection closed
    url = c.url(IMPORT)
    target = url[len(server.url):]
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as s:
        s.sendall(request_bytes("POST", target, b"", {"Content-Length": str(body_limit(IMPORT) + 1)}, server.port))
        r = read_answer(s)
        assert r is not None and check_envelope(r)["ErrorCode"] == 60002
        assert str(body_limit(IMPORT)) in r.json["ErrorInfo"]
        assert closed_by_peer(s)
