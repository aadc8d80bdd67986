"""``tim-py world export|import|reset``, driven as a user would: round trips, the question of
reset, bad snapshots, kills and Ctrl-C in the middle, progress on a terminal, and 10^5 accounts."""
from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from .conftest import ROOT
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


def _big_world(world, tmp_path, n: int) -> None:
    rows = "".join(json.dumps({"user_id": f"u{i:06d}", "nick": f"User {i}", "custom": {"Hobby": "x" * 40}}) + "\n"
                   for i in range(n))
    f = tmp_path / "rows.jsonl"
    f.write_text(rows)
    r = cli(world, "user", "import", str(f))
    assert r.returncode == 0, r.stderr


def test_kill_during_export_leaves_the_old_file(world, tmp_path):
    """SIGKILL at several moments of an export over an existing snapshot: the file is always either
    the old snapshot, whole, or the new one, whole."""
    _big_world(world, tmp_path, 20000)
    target = tmp_path / "out" / "world.json"
    target.parent.mkdir()
    target.write_bytes(b'{"old": "snapshot"}\n')
    old = target.read_bytes()
    new = None
    outcomes = set()
    for delay in (0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.2):
        p = subprocess.Popen([sys.executable, "-m", "tim_py", "world", "export", str(target)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(ROOT), env=env_for(world))
        time.sleep(delay)
        p.kill()
        p.wait(T)
        got = target.read_bytes()
        if got == old:
            outcomes.add("old")
            continue
        doc = json.loads(got)  # whole: it parses, every account is there
        assert len(doc["Accounts"]) == 20000
        new = new or got
        assert got == new
        outcomes.add("new")
        target.write_bytes(old)
    assert "old" in outcomes  # at least one kill landed before the rename
    # what the killed runs left beside it is never taken for the snapshot: the directory holds the file
    # and, at most, the temporary files of killed runs
    assert target.read_bytes() == old


def test_ctrl_c_during_export(world, tmp_path):
    """Ctrl-C at several moments of an export: exit 130 and a message that says so, no traceback;
    the file is the old one or the complete new one."""
    _big_world(world, tmp_path, 20000)
    target = tmp_path / "w.json"
    for delay in (0.2, 0.5, 0.8):
        target.write_text("{}\n")
        p = subprocess.Popen([sys.executable, "-m", "tim_py", "world", "export", str(target)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT),
                             env=env_for(world), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        time.sleep(delay)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=T)
        assert "Traceback" not in err
        text = target.read_text()
        if p.returncode == 0:  # it had finished
            assert len(json.loads(text)["Accounts"]) == 20000
            continue
        assert p.returncode == 130, err
        if text == "{}\n":
            assert "was not partly written" in err, err
        else:
            assert len(json.loads(text)["Accounts"]) == 20000
            assert "was not partly written" in err or "had been written, complete" in err, err
    assert list(tmp_path.glob(".w.json.*.tmp")) == []  # Ctrl-C (unlike a kill) leaves no temporary file


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
    populate(world)
    seed = tmp_path / "seed.json"
    doc = json.loads(export_bytes(world, seed))
    [alice] = [e for e in doc["Accounts"] if e["UserID"] == "alice"]
    accounts = []
    for i in range(100000):
        e = copy.deepcopy(alice)
        e["UserID"] = f"user{i:06d}"
        e["Profile"]["Tag_Profile_IM_Nick"] = f"User {i}"
        accounts.append(e)
    doc["Accounts"] = accounts
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
