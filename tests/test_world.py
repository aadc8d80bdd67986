"""The world as a whole: tim.admin's list_accounts, events, world_export / world_import /
world_reset, and tim_py.snapshot's files (written atomically, read back checked)."""
from __future__ import annotations

import os
import signal
import stat
import time

import orjson
import pytest

from tim_py import EVENT, TIM, AdminError, Gender, InvalidParameterError, LoginStatus, ProfileError, UserStatusType, snapshot
from tim_py.admin import AccountPage, EventPage, WorldEvent
from tim_py.aio import AsyncTIM

from .conftest import APP_ID, read_line, spawn

T = 30


def make_world(tim: TIM) -> None:
    tim.admin.import_accounts(["plain", "full", "away", "here"]).result(T)
    tim.admin.set_portrait("full", nick="Full \u00e9", gender=Gender.FEMALE, level=4294967295, location="Porto",
                           profile_custom_field=[{"key": "Hobby", "value": "chess"},
                                                 {"key": "Tag_Profile_Custom_A_1", "value": "1"}]).result(T)
    tim.admin.set_user_status("away", UserStatusType.OFFLINE, "gone fishing").result(T)
    tim.admin.set_user_status("here", UserStatusType.ONLINE, "at work").result(T)


# ---- snapshots through tim.admin -------------------------------------------------------------

def test_round_trip_is_exact(tim):
    make_world(tim)
    with_status = tim.admin.world_export(include_status=True).result(T)
    without = tim.admin.world_export().result(T)
    assert with_status["Format"] == "timref-world" and with_status["Version"] == 1
    assert with_status["SDKAppID"] == APP_ID
    ids = [a["UserID"] for a in with_status["Accounts"]]
    assert ids == sorted(ids, key=lambda s: s.encode()) == ["away", "full", "here", "plain"]
    full = with_status["Accounts"][1]
    assert full["Profile"]["Tag_Profile_IM_Nick"] == "Full \u00e9"
    assert full["Profile"]["Tag_Profile_IM_Gender"] == "Gender_Type_Female"
    assert full["Profile"]["Tag_Profile_Custom_Hobby"] == "chess"
    assert full["Profile"]["Tag_Profile_IM_Level"] == 4294967295
    assert with_status["Accounts"][2]["Status"] == {"Type": "Online", "Devices": ["Linux"]}
    assert with_status["Accounts"][0]["CustomStatus"] == "gone fishing"
    assert "Status" not in without["Accounts"][0]

    assert tim.admin.world_reset().result(T) == 4
    assert tim.admin.list_accounts().result(T) == AccountPage([], 0, None)
    assert tim.admin.world_import(with_status).result(T) == 4
    assert tim.admin.world_export(include_status=True).result(T) == with_status
    # the JSON text as bytes goes as it is
    assert tim.admin.world_import(orjson.dumps(without)).result(T) == 4
    assert tim.admin.world_export().result(T) == without
    tim.login("full", "sig").result(T)
    me = tim.get_my_profile().result(T)
    assert (me.nick, me.gender, me.level) == ("Full \u00e9", Gender.FEMALE, 4294967295)
    tim.logout().result(T)


def test_import_replaces_the_world(tim):
    make_world(tim)
    snap = tim.admin.world_export().result(T)
    tim.admin.import_accounts(["extra"]).result(T)
    tim.admin.set_portrait("plain", nick="changed").result(T)
    assert tim.admin.world_import(snap).result(T) == 4
    assert tim.admin.check_accounts(["extra", "plain"]).result(T) == {"extra": False, "plain": True}
    assert tim.admin.world_export().result(T) == snap


def test_bad_snapshot_changes_nothing(tim):
    make_world(tim)
    before = tim.admin.world_export(include_status=True).result(T)
    last = tim.admin.events(limit=1).result(T).last
    bad = dict(before, Accounts=before["Accounts"] + [{"UserID": "new", "Profile": {"Tag_Profile_IM_Gender": 7}}])
    with pytest.raises(ProfileError) as ei:
        tim.admin.world_import(bad).result(T)
    assert ei.value.code == 40605
    assert 'Snapshot.Accounts[4] (UserID "new"): Tag_Profile_IM_Gender' in str(ei.value)
    twice = dict(before, Accounts=before["Accounts"] + [before["Accounts"][1]])
    with pytest.raises(AdminError, match=r"Accounts\[4\] .*given twice \(first at Snapshot.Accounts\[1\]\)"):
        tim.admin.world_import(twice).result(T)
    with pytest.raises(AdminError, match="Version"):
        tim.admin.world_import(dict(before, Version=2)).result(T)
    with pytest.raises(AdminError, match="Format"):
        tim.admin.world_import({"Accounts": []}).result(T)
    with pytest.raises(InvalidParameterError):  # not JSON: refused at the call
        tim.admin.world_import(b"{not json")
    with pytest.raises(InvalidParameterError, match="NUL"):
        tim.admin.world_import(b'{"Format":"timref-world\x00"}')
    with pytest.raises(TypeError, match="snapshot"):
        tim.admin.world_import([before])
    assert tim.admin.world_export(include_status=True).result(T) == before
    assert tim.admin.events(limit=1).result(T).last == last


def test_reset_kicks_this_process_and_tells_subscribers(tim):
    tim.admin.import_accounts(["friend"]).result(T)
    tim.login("me", "sig").result(T)
    tim.subscribe_user_info(["friend"]).result(T)
    stream = tim.events(timeout=5)
    snap = {"Format": "timref-world", "Version": 1,
            "Accounts": [{"UserID": "friend", "Profile": {"Tag_Profile_IM_Nick": "New"}}, {"UserID": "me"}]}
    assert tim.admin.world_import(snap).result(T) == 2
    infos = []
    for ev in stream:
        if ev.name == EVENT.PROFILE_UPDATED:
            infos.extend(ev.data)
            break
    assert [p.nick for p in infos if p.user_id == "friend"] == ["New"]
    assert tim.login_status == LoginStatus.LOGINED  # "me" stays: its session goes on
    assert tim.admin.world_reset().result(T) == 2
    for ev in stream:
        if ev.name == EVENT.KICKED_OUT:
            break
    else:
        pytest.fail("no kickedOut event after world_reset")
    assert tim.login_status == LoginStatus.UNLOGINED


# ---- listing and the event tail ------------------------------------------------------------

def test_list_accounts_pages_by_key(tim):
    ids = [f"u{i:03d}" for i in range(250)] + ["Alice", "alice", "x%y"]
    tim.admin.import_accounts(ids).result(T)
    seen, after, pages = [], None, 0
    while True:
        page = tim.admin.list_accounts(after=after, limit=100).result(T)
        assert isinstance(page, AccountPage) and page.total == 253
        seen += page.user_ids
        pages += 1
        if page.next is None:
            break
        assert page.next == page.user_ids[-1]
        after = page.next
    assert pages == 3 and seen == sorted(ids, key=lambda s: s.encode())
    assert tim.admin.list_accounts(match="lice").result(T) == AccountPage(["Alice", "alice"], 2, None)
    assert tim.admin.list_accounts(match="Ali").result(T).user_ids == ["Alice"]
    assert tim.admin.list_accounts(match="%").result(T).user_ids == ["x%y"]
    page = tim.admin.list_accounts(match="u2", limit=10).result(T)
    assert (page.total, page.user_ids[0], page.next) == (50, "u200", "u209")
    with pytest.raises(AdminError, match="Limit") as ei:
        tim.admin.list_accounts(limit=1001).result(T)
    assert ei.value.code == 70402
    with pytest.raises(AdminError, match="Match"):
        tim.admin.list_accounts(match="m" * 33).result(T)
    with pytest.raises(TypeError, match="limit"):
        tim.admin.list_accounts(limit=True)
    with pytest.raises(TypeError, match="match"):
        tim.admin.list_accounts(match=3)


def test_events_tail(tim):
    assert tim.admin.events().result(T) == EventPage([], 0, False)
    tim.admin.import_account("ev1").result(T)
    tim.admin.set_portrait("ev1", nick="One").result(T)
    tim.admin.set_user_status("ev1", UserStatusType.ONLINE, "here").result(T)
    page = tim.admin.events().result(T)
    assert [(e.seq, e.type, e.user_id, e.origin) for e in page.events] == [
        (1, "profile", "ev1", "admin"), (2, "profile", "ev1", "admin"), (3, "status", "ev1", "admin")]
    assert isinstance(page.events[0], WorldEvent)
    assert page.events[1].data["user_profile_nick_name"] == "One"
    assert page.events[2].data["user_status_custom_status"] == "here"
    assert page.last == 3 and not page.gap
    assert tim.admin.events(limit=1).result(T).events[0].seq == 3
    assert tim.admin.events(after=3).result(T) == EventPage([], 3, False)
    tim.admin.kick("ev1").result(T)
    follow = tim.admin.events(after=page.last).result(T)
    assert [e.type for e in follow.events] == ["kick", "presence"] and follow.last == 5
    with pytest.raises(AdminError, match="After"):
        tim.admin.events(after=-1).result(T)
    with pytest.raises(TypeError, match="after"):
        tim.admin.events(after="1")


async def test_async_client(tmp_path):
    async with AsyncTIM(APP_ID) as atim:
        await atim.admin.import_accounts(["a1", "a2"])
        page = await atim.admin.list_accounts()
        assert page == AccountPage(["a1", "a2"], 2, None)
        snap = await atim.admin.world_export()
        assert await atim.admin.world_reset() == 2
        assert await atim.admin.world_import(snap) == 2
        assert (await atim.admin.events(limit=1)).events[0].user_id == "a2"


# ---- files ---------------------------------------------------------------------------------

def test_snapshot_file_round_trip(tim, tmp_path):
    make_world(tim)
    path = tmp_path / "world.json"
    doc = tim.admin.world_export(include_status=True).result(T)
    calls = []
    n = snapshot.write(path, doc, progress=lambda done, total: calls.append((done, total)))
    assert n == path.stat().st_size and calls[-1] == (n, n)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_bytes()
    assert first.endswith(b"\n") and first == snapshot.dumps(doc)
    assert snapshot.read(path) == doc
    tim.admin.world_reset().result(T)
    assert tim.admin.world_import(snapshot.read(path)).result(T) == 4
    snapshot.write(path, tim.admin.world_export(include_status=True).result(T))
    assert path.read_bytes() == first  # the same world, the same bytes
    os.chmod(path, 0o640)
    snapshot.write(path, doc)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # a replaced file keeps its mode
    assert [p.name for p in tmp_path.iterdir()] == ["world.json"]  # no temporary file left


def test_snapshot_read_refuses_what_is_not_one(tmp_path):
    p = tmp_path / "x.json"
    p.write_bytes(b"{oops")
    with pytest.raises(ValueError, match="x.json: not valid JSON"):
        snapshot.read(p)
    p.write_bytes(b'{"Format": "other", "Version": 1, "Accounts": []}')
    with pytest.raises(ValueError, match="not a world snapshot"):
        snapshot.read(p)
    p.write_bytes(b'{"Format": "timref-world", "Version": 2, "Accounts": []}')
    with pytest.raises(ValueError, match="version 2"):
        snapshot.read(p)
    with pytest.raises(FileNotFoundError):
        snapshot.read(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="not a world snapshot"):
        snapshot.write(tmp_path / "y.json", {"Accounts": []})
    assert sorted(q.name for q in tmp_path.iterdir()) == ["x.json"]


def test_snapshot_read_stops_at_its_bound(tmp_path, monkeypatch):
    # a file too large to be a snapshot the library takes is refused before it is held in
    # memory: by its size when it has one, else (a device, a pipe) once the bound is read
    monkeypatch.setattr(snapshot, "MAX_FILE", 3 << 20)
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate((3 << 20) + 1)
    seen = []
    with pytest.raises(ValueError, match=r"big.json: larger than 3145728 bytes"):
        snapshot.read(big, lambda done, total: seen.append(done))
    assert seen == []  # nothing was read
    with pytest.raises(ValueError, match=r"/dev/zero: larger than 3145728 bytes"):
        snapshot.read("/dev/zero", lambda done, total: seen.append(done))
    assert max(seen) <= (3 << 20) + 1


def test_snapshot_write_through_a_symlink_and_never_over_a_device(tim, tmp_path):
    doc = tim.admin.world_export().result(T)
    real = tmp_path / "real.json"
    real.write_bytes(b"old")
    link = tmp_path / "link.json"
    link.symlink_to(real)
    snapshot.write(link, doc)  # the file the link names is replaced; the link stays a link
    assert link.is_symlink() and snapshot.read(real) == doc
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # as a device node would (/dev/null, written by root): never replaced by a file
    with pytest.raises(OSError, match="not a regular file"):
        snapshot.write(fifo, doc)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(q.name for q in tmp_path.iterdir()) == ["fifo", "link.json", "real.json"]


KILLED_WRITER = r"""
import sys, time
from tim_py import TIM, snapshot
path = sys.argv[1]
with TIM(1400000001) as tim:
    tim.admin.import_accounts([f"user{i:05d}" for i in range(3000)]).result(60)
    for i in range(3000):
        tim.admin.set_portrait(f"user{i:05d}", nick="N" * 400, self_signature="S" * 400).result(60)
    doc = tim.admin.world_export().result(60)
    def stall(done, total):
        print("writing", done, total, flush=True)
        time.sleep(120)  # killed here, in the middle of the file
    snapshot.write(path, doc, progress=stall)
"""


def test_a_killed_export_leaves_the_old_file(tmp_path, children):
    path = tmp_path / "world.json"
    old = snapshot.dumps({"Format": "timref-world", "Version": 1, "Accounts": [{"UserID": "old"}]})
    path.write_bytes(old)
    writer = spawn(KILLED_WRITER, path)
    children.append(writer)
    line = read_line(writer, timeout=60).split()
    assert line[0] == "writing" and 0 < int(line[1]) < int(line[2])  # part of the file is written
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(10)
    assert path.read_bytes() == old
    assert snapshot.read(path)["Accounts"] == [{"UserID": "old"}]
    leftovers = [p for p in tmp_path.iterdir() if p.name != "world.json"]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".world.json.")
    assert 0 < leftovers[0].stat().st_size < int(line[2])


# ---- on both engines, with another process -------------------------------------------------

LOGGED_IN = """
import sys, tim_py
from tim_py import EVENT
t = tim_py.TIM(int(sys.argv[1]), sys.argv[2])
t.login(sys.argv[3], "sig").result(10)
events = t.events(EVENT.KICKED_OUT, timeout=30)
print("ready", flush=True)
for ev in events:
    print("kicked", t.login_status.name, flush=True)
    break
else:
    print("not kicked", flush=True)
t.close()
"""


SUBSCRIBER = """
import sys, tim_py
from tim_py import EVENT
t = tim_py.TIM(int(sys.argv[1]), sys.argv[2])
t.login(sys.argv[3], "sig").result(10)
t.subscribe_user_info([sys.argv[4]]).result(10)
events = t.events(EVENT.PROFILE_UPDATED, timeout=30)
print("ready", flush=True)
for ev in events:
    told = [p for p in ev.data if p.user_id == sys.argv[4]]
    if told:
        print("told", told[0].user_id, told[0].nick, flush=True)
        break
else:
    print("not told", flush=True)
t.close()
"""


def test_world_commands_on_each_engine(world, children):
    """Byte order, the case-sensitive match without wildcards, keyset paging, the event tail, an
    exact round trip, a refused snapshot, and the sessions of removed accounts kicked in another
    process: the same on SQLite and PostgreSQL."""
    with TIM(world.app_id, world.where) as tim:
        ids = ["Alice", "alice", "b%c", "b_c", "bob", "B"] + [f"u{i:03d}" for i in range(120)]
        tim.admin.import_accounts(ids).result(T)
        seen, after = [], None
        while True:
            page = tim.admin.list_accounts(after=after, limit=50).result(T)
            assert page.total == len(ids)
            seen += page.user_ids
            if page.next is None:
                break
            after = page.next
        assert seen == sorted(ids, key=lambda s: s.encode())
        assert tim.admin.list_accounts(match="lice").result(T).user_ids == ["Alice", "alice"]
        assert tim.admin.list_accounts(match="%").result(T).user_ids == ["b%c"]
        assert tim.admin.list_accounts(match="_").result(T).user_ids == ["b_c"]
        assert tim.admin.list_accounts(match="B").result(T).user_ids == ["B"]
        page = tim.admin.list_accounts(match="u1", after="u105", limit=5).result(T)
        assert (page.total, page.user_ids, page.next) == (20, ["u106", "u107", "u108", "u109", "u110"], "u110")

        make_world(tim)
        tail = tim.admin.events(limit=2).result(T)
        assert [(e.type, e.user_id) for e in tail.events] == [("status", "away"), ("status", "here")]
        assert tail.events[1].seq == tail.last and tail.events[0].seq == tail.last - 1
        snap = tim.admin.world_export(include_status=True).result(T)
        with pytest.raises(ProfileError, match=r'Snapshot.Accounts\[1\] \(UserID "x"\)'):
            tim.admin.world_import({"Format": "timref-world", "Version": 1, "Accounts": [
                {"UserID": "ok"}, {"UserID": "x", "Profile": {"Tag_Profile_IM_Nick": 1}}]}).result(T)
        assert tim.admin.world_export(include_status=True).result(T) == snap

        child = spawn(LOGGED_IN, world.app_id, world.where, "u007")
        children.append(child)
        assert read_line(child, timeout=30) == "ready"
        assert tim.admin.world_reset().result(T) == len(ids) + 4
        assert read_line(child, timeout=30) == "kicked UNLOGINED"
        assert tim.admin.world_import(snap).result(T) == len(snap["Accounts"])
        assert tim.admin.world_export(include_status=True).result(T) == snap

        # a subscriber in another process is told of the profile an import changed
        tim.admin.import_account("watcher").result(T)
        child = spawn(SUBSCRIBER, world.app_id, world.where, "watcher", "plain")
        children.append(child)
        assert read_line(child, timeout=30) == "ready"
        changed = tim.admin.world_export().result(T)
        for a in changed["Accounts"]:
            if a["UserID"] == "plain":
                a["Profile"] = {"Tag_Profile_IM_Nick": "Imported"}
        assert tim.admin.world_import(changed).result(T) == len(changed["Accounts"])
        assert read_line(child, timeout=30) == "told plain Imported"


def test_the_file_module_reads_the_librarys_format(tim):
    """tim_py.snapshot checks the head the library writes: the same Format and Version."""
    doc = tim.admin.world_export().result(T)
    assert (doc["Format"], doc["Version"]) == (snapshot.FORMAT, snapshot.VERSION)
    assert snapshot.loads(snapshot.dumps(doc)) == doc


KILLED_IMPORTER = r"""
import sys
from tim_py import TIM
n = int(sys.argv[2])
doc = {"Format": "timref-world", "Version": 1, "Accounts": [
    {"UserID": f"new{i:06d}", "Profile": {"Tag_Profile_IM_Nick": "N" * 100, "Tag_Profile_Custom_A": "a" * 100}}
    for i in range(n)]}
with TIM(1400000001, sys.argv[1]) as tim:
    fut = tim.admin.world_import(doc)
    print("importing", flush=True)
    fut.result(600)
    print("imported", flush=True)
"""


def test_a_killed_import_leaves_the_world_whole(tmp_path, children):
    """A process killed while its import runs leaves the old world or the new one, never a mix."""
    data = tmp_path / "store"
    with TIM(APP_ID, data) as tim:
        make_world(tim)
        before = tim.admin.world_export().result(T)
    n = 30000
    importer = spawn(KILLED_IMPORTER, data, n)
    children.append(importer)
    assert read_line(importer, timeout=60) == "importing"
    time.sleep(0.3)  # the library is inside the import's transaction (it takes seconds)
    os.kill(importer.pid, signal.SIGKILL)
    importer.wait(10)
    with TIM(APP_ID, data) as tim:
        after = tim.admin.world_export().result(60)
        page = tim.admin.list_accounts(limit=1).result(T)
    if after == before:
        print("killed inside the transaction: the old world")
    else:  # it had committed before the kill
        assert page.total == n and [a["UserID"] for a in after["Accounts"]][:1] == ["new000000"]
        print("killed after the commit: the new world")
