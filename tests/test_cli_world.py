"""``tim-py world export|import|reset``, driven as a user would: round trips, the question of
reset, bad snapshots, kills and Ctrl-C in the middle, progress on a terminal, and 10^5 accounts."""
from __future__ import annotations

import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from .conftest import ROOT, sigint_default
from .test_cli import cli, jdoc
from .test_cli_terminal import ANY_SGR, Pty, env_for

T = 30


@pytest.fixture
def world(tmp_path):
    return tmp_path / "world"


def populate(world) -> None:
    for args in (["user", "create", "alice", "--nick", "Alice", "--avatar", "https://x/a.png"],
                 ["profile", "set", "alice", "--gender", "female", "--level", "7", "--custom", "Hobby=go",
                  "--custom", "City=Porto", "--allow-type", "need_confirm", "--signature", "hi \u00e9"],
                 ["status", "set", "alice", "online", "--custom", "at lunch"],
                 ["user", "create", "bob", "--nick", "Bob"],
                 ["status", "set", "bob", "offline", "--custom", "away"],
                 ["user", "create", "carol"]):
        r = cli(world, *args)
        assert r.returncode == 0, (args, r.stderr)


def export_bytes(world, path) -> bytes:
    r = cli(world, "world", "export", str(path))
    assert r.returncode == 0, r.stderr
    return path.read_bytes()


def test_round_trip_is_exact(world, tmp_path):
    """export, reset, import, export: the same bytes; profiles and custom status as they were."""
    populate(world)
    before = jdoc(cli(world, "profile", "show", "alice", "bob", "carol", "--json"))
    a = tmp_path / "a.json"
    r = cli(world, "--json", "world", "export", str(a))
    assert r.returncode == 0, r.stderr
    summary = jdoc(r)
    # (tim-py-cli: the account 'status set' reads the status back as)
    assert (summary["file"], summary["accounts"], summary["bytes"], summary["include_status"]) == \
        (str(a), 4, a.stat().st_size, False)
    doc = json.loads(a.read_bytes())
    assert [e["UserID"] for e in doc["Accounts"]] == ["alice", "bob", "carol", "tim-py-cli"]

    r = cli(world, "world", "reset", "--yes")
    assert (r.returncode, r.stdout) == (0, "removed 4 accounts\n"), r.stderr
    assert cli(world, "status", "show", "alice").returncode == 3

    r = cli(world, "world", "import", str(a))
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("imported 4 accounts from ") and "the world is now the snapshot's" in r.stdout
    assert export_bytes(world, tmp_path / "c.json") == a.read_bytes()
    after = jdoc(cli(world, "profile", "show", "alice", "bob", "carol", "--json"))
    assert after == before
    [s] = jdoc(cli(world, "status", "show", "bob", "--json"))
    assert s["custom_status"] == "away"


def test_import_replaces_and_json_outputs(world, tmp_path):
    populate(world)
    snap = tmp_path / "snap.json"
    export_bytes(world, snap)
    assert cli(world, "user", "create", "dave").returncode == 0  # not in the snapshot
    r = cli(world, "--json", "world", "import", str(snap))
    assert r.returncode == 0, r.stderr
    s = jdoc(r)
    assert (s["file"], s["accounts"]) == (str(snap), 4) and s["seconds"] >= 0
    r = cli(world, "status", "show", "dave")
    assert r.returncode == 3  # the world is the snapshot's: dave is gone
    # into a world that is not there yet: it is created
    other = tmp_path / "other"
    assert cli(other, "world", "import", str(snap)).returncode == 0
    assert export_bytes(other, tmp_path / "o.json") == snap.read_bytes()
    r = cli(world, "--json", "world", "reset", "--yes")
    assert jdoc(r) == {"removed": 4}


def test_a_bad_snapshot_changes_nothing_and_names_its_first_bad_entry(world, tmp_path):
    populate(world)
    good = tmp_path / "good.json"
    original = export_bytes(world, good)
    doc = json.loads(original)
    for n, (mutate, code, needles) in enumerate([
        # entries the library refuses (exit 1): its message names the first bad one
        (lambda d: d["Accounts"][1]["Profile"].__setitem__("Tag_Profile_IM_Nick", "n" * 501), 1,
         ["error [", "Accounts[1]", '"bob"', "Tag_Profile_IM_Nick"]),
        (lambda d: d["Accounts"].append(copy.deepcopy(d["Accounts"][0])), 1, ["error [", "Accounts[4]", "alice"]),
        (lambda d: d["Accounts"][2].__setitem__("UserID", "x" * 40), 1, ["error [", "Accounts[2]"]),
        (lambda d: d["Accounts"][0]["Profile"].__setitem__("Tag_Profile_IM_Gender", "Gender_Type_Robot"), 1,
         ["error [", "Accounts[0]", "alice", "Gender"]),
        # not a snapshot of this version at all: found before anything is sent (exit 2)
        (lambda d: d.__setitem__("Version", 99), 2, ["version 99", "nothing changed"]),
        (lambda d: d.__setitem__("Format", "something-else"), 2, ["not a world snapshot", "nothing changed"]),
        ("{not json", 2, ["not valid JSON", "nothing changed"]),
    ]):
        f = tmp_path / f"bad{n}.json"
        if isinstance(mutate, str):
            f.write_text(mutate)
        else:
            bad = copy.deepcopy(doc)
            mutate(bad)
            f.write_text(json.dumps(bad))
        r = cli(world, "world", "import", str(f))
        assert r.returncode == code, (n, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.startswith("tim-py: ") and r.stdout == ""
        for needle in needles:
            assert needle in r.stderr, (n, needle, r.stderr)
        assert export_bytes(world, tmp_path / "now.json") == original, n


def test_import_of_a_file_too_large_or_no_file(world, tmp_path):
    from tim_py import snapshot

    populate(world)
    original = export_bytes(world, tmp_path / "before.json")
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as f:  # sparse: no disk used
        f.truncate(snapshot.MAX_FILE + 1)
    (tmp_path / "adir").mkdir()
    for path, code, needle in ((huge, 2, f"larger than {snapshot.MAX_FILE} bytes"),
                               (tmp_path / "adir", 2, "Is a directory"),
                               (tmp_path / "missing.json", 2, "No such file")):
        t0 = time.monotonic()
        r = cli(world, "world", "import", str(path))
        assert time.monotonic() - t0 < T
        assert r.returncode == code, r.stderr
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr and r.stdout == ""
        assert needle in r.stderr and str(path) in r.stderr, r.stderr
    assert export_bytes(world, tmp_path / "after.json") == original


def test_reset_refuses_without_a_terminal_and_asks_on_one(world, tmp_path, children):
    populate(world)
    snap = export_bytes(world, tmp_path / "s.json")
    r = subprocess.run([sys.executable, "-m", "tim_py", "world", "reset"], capture_output=True, text=True,
                       timeout=T, cwd=str(ROOT), env=env_for(world), stdin=subprocess.DEVNULL)
    assert r.returncode == 2 and "--yes" in r.stderr and "stdin is not a terminal" in r.stderr, r.stderr
    assert export_bytes(world, tmp_path / "t.json") == snap

    for answer, code in (("n\n", 1), ("\n", 1), ("yes\n", 0)):
        p = Pty(world, "world", "reset", stdin_tty=True)
        children.append(p.proc)
        p.read_until(lambda t: "[y/N]" in t)
        assert "Remove all 4 accounts of app" in p.text
        os.write(p.master, answer.encode())
        assert p.wait() == code, p.text
        if code:
            assert "not confirmed: nothing changed" in p.text
            assert export_bytes(world, tmp_path / "t.json") == snap
        else:
            assert "removed 4 accounts" in ANY_SGR.sub("", p.text)
            assert cli(world, "status", "show", "alice").returncode == 3


def test_reading_commands_refuse_a_world_that_is_not_there(tmp_path):
    r = cli(tmp_path / "nowhere", "world", "export", str(tmp_path / "x.json"))
    assert r.returncode == 3 and "no world" in r.stderr
    r = cli(tmp_path / "nowhere", "world", "reset", "--yes")
    assert r.returncode == 3 and "no world" in r.stderr
    assert not (tmp_path / "nowhere").exists() and not (tmp_path / "x.json").exists()


BIG = 20000  # accounts of the worlds that kills and Ctrl-C hit in the middle of their work


def many(seed_world, tmp_path, n: int):
    """A snapshot document of ``n`` accounts, each like alice of ``populate`` (a nick of its own,
    her profile and custom fields, her custom status), made from a real export."""
    populate(seed_world)
    doc = json.loads(export_bytes(seed_world, tmp_path / "seed.json"))
    [alice] = [e for e in doc["Accounts"] if e["UserID"] == "alice"]
    accounts = []
    for i in range(n):
        e = copy.deepcopy(alice)
        e["UserID"] = f"user{i:06d}"
        e["Profile"]["Tag_Profile_IM_Nick"] = f"User {i}"
        accounts.append(e)
    doc["Accounts"] = accounts
    return doc


@pytest.fixture(scope="module")
def big_template(tmp_path_factory):
    """A world of BIG accounts, made once (by world import); tests copy it."""
    base = tmp_path_factory.mktemp("big")
    f = base / "big.json"
    f.write_text(json.dumps(many(base / "seed", base, BIG)))
    r = cli(base / "world", "world", "import", str(f))
    assert r.returncode == 0, r.stderr
    return base / "world"


@pytest.fixture
def big_world(big_template, tmp_path):
    w = tmp_path / "world"
    shutil.copytree(big_template, w)
    return w


def _start(world, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tim_py", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=str(ROOT), env=env_for(world),
                            preexec_fn=sigint_default)


def _when(p: subprocess.Popen, cond, what: str) -> bool:
    """Wait until ``cond()`` (True), or until ``p`` ended first (False)."""
    deadline = time.monotonic() + T
    while not cond():
        if p.poll() is not None:
            return False
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.002)
    return True


def _temp_files(target):
    """The temporary files tim_py.snapshot.write makes beside ``target`` (``.NAME.XXXX.tmp``)."""
    return list(target.parent.glob(f".{target.name}.*.tmp"))


def test_kill_during_export_leaves_the_old_file(big_world, tmp_path):
    """SIGKILL while the new snapshot is being written beside the old one, and at other moments: the
    file is always either the old snapshot, whole, or the new one, whole."""
    target = tmp_path / "out" / "world.json"
    target.parent.mkdir()
    old = b'{"old": "snapshot"}\n'
    hits = 0
    for n, delay in enumerate((None, None, None, 0.3, 0.6, 1.0)):
        target.write_bytes(old)
        for t in _temp_files(target):
            t.unlink()
        p = _start(big_world, "world", "export", str(target))
        if delay is None:  # the moment that matters: the new file is being written
            writing = _when(p, lambda: _temp_files(target), "the temporary file")
        else:
            time.sleep(delay)
            writing = None
        p.kill()
        p.communicate(timeout=T)
        got = target.read_bytes()
        if writing:
            assert got == old, n  # killed before the rename: the old file, untouched
            hits += 1
        elif got != old:
            assert len(json.loads(got)["Accounts"]) == BIG  # the new one, whole
    assert hits >= 1, "no kill landed while the snapshot was being written"
    for t in _temp_files(target):  # what the kills left (snapshot.write's docstring: safe to delete)
        t.unlink()
    assert cli(big_world, "world", "export", str(target)).returncode == 0
    assert _temp_files(target) == []  # a run that ends normally leaves none behind


def _writing(target) -> bool:
    """Whether the new snapshot is being written: its temporary file has bytes in it."""
    try:
        return any(t.stat().st_size > 0 for t in _temp_files(target))
    except OSError:  # renamed meanwhile
        return False


def test_ctrl_c_during_export(big_world, tmp_path):
    """Ctrl-C while the snapshot is written: exit 130, the message says the file was not partly
    written, and it was not; the temporary file is removed."""
    target = tmp_path / "w.json"
    target.write_text("{}\n")
    intact = 0
    for _ in range(3):
        p = _start(big_world, "world", "export", str(target))
        if not _when(p, lambda: _writing(target), "the temporary file being written"):
            continue  # it finished before we saw it
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=T)
        assert "Traceback" not in err
        if p.returncode == 0:  # the write had just finished
            assert len(json.loads(target.read_bytes())["Accounts"]) == BIG
            target.write_text("{}\n")
            continue
        assert p.returncode == 130, err
        text = target.read_text()
        if "was not partly written" in err:
            assert text == "{}\n" or len(json.loads(text)["Accounts"]) == BIG
            intact += text == "{}\n"
        else:
            assert "had been written, complete" in err and len(json.loads(text)["Accounts"]) == BIG
        assert _temp_files(target) == []  # Ctrl-C (unlike a kill) leaves no temporary file
        target.write_text("{}\n")
    assert intact >= 1, "no Ctrl-C landed while the snapshot was being written"


def test_ctrl_c_during_import_leaves_one_world_or_the_other(big_world, tmp_path):
    """Ctrl-C while the snapshot file is read: nothing changes (or, when the import had already
    been sent, the command waits for its one transaction and says it was committed). Never a mix."""
    world = big_world
    old = export_bytes(world, tmp_path / "old.json")
    doc = json.loads(old)
    for e in doc["Accounts"]:
        e["Profile"]["Tag_Profile_IM_Nick"] = "renamed"
    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps(doc))
    assert cli(tmp_path / "w2", "world", "import", str(snap)).returncode == 0
    new = export_bytes(tmp_path / "w2", tmp_path / "new.json")
    assert new != old
    for _ in range(3):
        p = _start(world, "world", "import", str(snap))

        def reading() -> bool:
            try:
                return any(os.readlink(f"/proc/{p.pid}/fd/{fd}") == str(snap)
                           for fd in os.listdir(f"/proc/{p.pid}/fd"))
            except OSError:
                return False
        _when(p, reading, "the snapshot file open")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=T)
        assert "Traceback" not in err
        now = export_bytes(world, tmp_path / "now.json")
        if p.returncode == 0:
            assert now == new
        else:
            assert p.returncode == 130, err
            if "nothing changed" in err:
                assert now == old, err
            else:
                assert "interrupted too late" in err and now == new, err
        if now == new:  # back to the old world for the next round
            assert cli(world, "world", "import", str(tmp_path / "old.json")).returncode == 0


def test_progress_on_a_terminal(world, tmp_path):
    populate(world)
    f = tmp_path / "p.json"
    p = Pty(world, "world", "export", str(f))
    assert p.wait() == 0, p.text
    text = ANY_SGR.sub("", p.text)
    assert "exporting (the library reads the world)" in text and "exported 4 accounts" in text
    p = Pty(world, "world", "import", str(f))
    assert p.wait() == 0, p.text
    text = ANY_SGR.sub("", p.text)
    assert "reading " in text and " MB" in text and "importing (the library, one transaction)" in text
    assert "imported 4 accounts" in text
    p = Pty(world, "world", "import", str(f), "--no-progress")
    assert p.wait() == 0 and "reading" not in p.text
    r = cli(world, "world", "import", str(f))  # piped: no bar
    assert r.returncode == 0 and r.stderr == ""


@pytest.mark.slow
def test_100k_accounts_export_and_import_in_seconds(world, tmp_path):
    """10^5 accounts with a nick and two custom fields each: world import, then world export, timed
    (the figures are printed; docs/cli.md quotes them)."""
    doc = many(tmp_path / "seed", tmp_path, 100000)
    big = tmp_path / "big.json"
    big.write_text(json.dumps(doc))
    t0 = time.monotonic()
    r = cli(world, "--json", "world", "import", str(big))
    t_import = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert jdoc(r)["accounts"] == 100000
    out = tmp_path / "out.json"
    t0 = time.monotonic()
    r = cli(world, "--json", "world", "export", str(out))
    t_export = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    got = json.loads(out.read_bytes())
    assert len(got["Accounts"]) == 100000 and got["Accounts"][99999]["Profile"]["Tag_Profile_IM_Nick"] == "User 99999"
    print(f"\n10^5 accounts ({big.stat().st_size / 1e6:.1f} MB): world import {t_import:.2f} s, "
          f"world export {t_export:.2f} s (each a whole tim-py command)")
    assert t_import < 30 and t_export < 30
