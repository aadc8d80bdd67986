"""The tim-py command, driven as a user would: ``python -m tim_py ...`` in a subprocess."""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from tim_py.cli import main

from .conftest import APP_ID, ROOT, run_python

T = 30  # seconds for any one command


def _env(world, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIM_PY_")}
    if world is not None:
        env["TIM_PY_DATA_DIR"] = str(world)
    env.update(extra)
    return env


def cli(world, *args: str, input: str = None, env: dict = None) -> subprocess.CompletedProcess:
    """Run ``python -m tim_py ARGS`` with TIM_PY_DATA_DIR=world (None: unset)."""
    return subprocess.run([sys.executable, "-m", "tim_py", *args], capture_output=True, text=True,
                          input=input, timeout=T, cwd=str(ROOT), env=env or _env(world))


def popen(world, *args: str) -> subprocess.Popen:
    # SIGINT back to its default, in case this test runs in the background of a shell (which
    # ignores it there, and an ignored SIGINT stays ignored across exec).
    return subprocess.Popen([sys.executable, "-m", "tim_py", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT),
                            env=_env(world),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


class Lines:
    """A child's stdout, line by line, with timeouts."""

    def __init__(self, proc: subprocess.Popen, stream=None) -> None:
        self.proc = proc
        self.stream = stream if stream is not None else proc.stdout
        self.q: "queue.Queue[str]" = queue.Queue()
        self.all: list = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.stream:
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def next(self, timeout: float = 10) -> str:
        try:
            line = self.q.get(timeout=timeout)
        except queue.Empty:
            self.proc.kill()
            pytest.fail(f"no output within {timeout} s; so far: {self.all}")
        if line is None:
            pytest.fail(f"the command ended early (output so far {self.all})")
        self.all.append(line)
        return line

    def until(self, pred, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.next(max(deadline - time.monotonic(), 0.01))
            if pred(line):
                return line


@pytest.fixture
def world(tmp_path):
    return tmp_path / "world"



def jdoc(r: subprocess.CompletedProcess):
    assert r.stdout, r.stderr
    return json.loads(r.stdout)


# ---- help, usage, the world ------------------------------------------------------------------

COMMANDS = [[], ["user"], ["user", "create"], ["user", "import"], ["user", "delete"], ["profile"],
            ["profile", "show"], ["profile", "set"], ["status"], ["status", "show"], ["status", "set"],
            ["watch"], ["gen-usersig"], ["demo"]]


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "tim-py")
def test_help_on_every_command(cmd, capsys):
    with pytest.raises(SystemExit) as e:
        main(cmd + ["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: tim-py") and "--help" in out


def test_module_help():
    r = run_python("import runpy, sys; sys.argv = ['tim-py', '--help']; runpy.run_module('tim_py', run_name='__main__')")
    assert r.returncode == 0
    for word in ("demo", "gen-usersig", "user", "profile", "status", "watch", "TIM_PY_DATA_DIR",
                 "TIM_PY_SDK_APP_ID", "exit codes"):
        assert word in r.stdout, word


def test_no_command_prints_help():
    r = run_python("from tim_py.cli import main; raise SystemExit(main([]))")
    assert r.returncode == 2 and "usage" in r.stdout


def test_group_without_subcommand_is_a_usage_error(capsys):
    assert main(["profile"]) == 2
    assert "show" in capsys.readouterr().out


def test_data_dir_is_required():
    r = cli(None, "user", "create", "bob")
    assert r.returncode == 2
    assert "--data-dir" in r.stderr and "TIM_PY_DATA_DIR" in r.stderr


def test_reading_a_world_that_is_not_there(tmp_path):
    r = cli(tmp_path / "nowhere", "profile", "show", "bob")
    assert r.returncode == 3
    assert "no world" in r.stderr and "--data-dir" in r.stderr
    assert not (tmp_path / "nowhere").exists()  # no empty world created by a typo


def test_app_id_option_and_env(world):
    assert cli(world, "user", "create", "bob").returncode == 0
    assert (world / f"timref-{APP_ID}.db").exists()
    r = cli(world, "user", "create", "eve", env=_env(world, TIM_PY_SDK_APP_ID="1400000002"))
    assert r.returncode == 0, r.stderr
    assert (world / "timref-1400000002.db").exists()
    # bob lives in the default app's world only
    assert cli(world, "--app-id", "1400000002", "status", "show", "bob").returncode == 3
    assert cli(world, "status", "show", "bob", "--app-id", str(APP_ID)).returncode == 0
    r = cli(world, "status", "show", "bob", env=_env(world, TIM_PY_SDK_APP_ID="x"))
    assert r.returncode == 2 and "TIM_PY_SDK_APP_ID" in r.stderr


def test_options_before_or_after_the_command(tmp_path):
    w = str(tmp_path / "w")
    assert cli(None, "--data-dir", w, "user", "create", "bob").returncode == 0
    r = cli(None, "status", "show", "bob", "--data-dir", w, "--json")
    assert r.returncode == 0, r.stderr
    assert jdoc(r)[0]["user_id"] == "bob"


# ---- user create / delete, profile, status -------------------------------------------------------


def test_user_create_profile_and_status(world):
    r = cli(world, "user", "create", "bob", "--nick", "Bob", "--avatar", "https://x/bob.png")
    assert (r.returncode, r.stdout.strip()) == (0, "created bob")
    r = cli(world, "--json", "user", "create", "bob", "--nick", "Bobby")
    assert jdoc(r) == {"user_id": "bob", "created": False}

    r = cli(world, "profile", "set", "bob", "--gender", "male", "--signature", "hi there", "--location",
            "Lisbon", "--level", "7", "--allow-type", "need_confirm", "--custom", "Hobby=chess",
            "--custom", "City=Porto")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("bob: set ")
    [p] = jdoc(cli(world, "profile", "show", "bob", "--json"))
    assert p["nick"] == "Bobby" and p["avatar"] == "https://x/bob.png"
    assert (p["gender"], p["self_signature"], p["location"], p["level"], p["allow_type"]) == \
        ("male", "hi there", "Lisbon", 7, "need_confirm")
    assert p["profile_custom_field"] == [{"key": "Tag_Profile_Custom_City", "value": "Porto"},
                                         {"key": "Tag_Profile_Custom_Hobby", "value": "chess"}]
    r = cli(world, "profile", "show", "bob")
    assert r.returncode == 0 and "custom.Hobby" in r.stdout and "Lisbon" in r.stdout
    # KEY= removes a custom field
    assert cli(world, "profile", "set", "bob", "--custom", "City=").returncode == 0
    [p] = jdoc(cli(world, "profile", "show", "bob", "--json"))
    assert [c["key"] for c in p["profile_custom_field"]] == ["Tag_Profile_Custom_Hobby"]

    r = cli(world, "status", "set", "bob", "online", "--custom", "at lunch")
    assert r.returncode == 0, r.stderr
    [s] = jdoc(cli(world, "--json", "status", "show", "bob"))
    assert s == {"user_id": "bob", "status": "online", "status_type": 1, "custom_status": "at lunch",
                 "online_devices": ["Linux"]}
    assert cli(world, "status", "set", "bob", "offline").returncode == 0
    r = cli(world, "status", "show", "bob")
    assert r.returncode == 0 and r.stdout.split()[:2] == ["bob", "offline"]


def test_not_found_exit_3(world):
    cli(world, "user", "create", "bob")
    r = cli(world, "profile", "show", "bob", "ghost", "--json")
    assert r.returncode == 3
    assert [p["user_id"] for p in json.loads(r.stdout)] == ["bob"]  # what exists is still shown
    assert "no such user: ghost" in r.stderr
    r = cli(world, "status", "show", "ghost")
    assert r.returncode == 3 and "ghost" in r.stderr
    r = cli(world, "profile", "set", "ghost", "--nick", "G")
    assert r.returncode == 3 and "40003" in r.stderr
    r = cli(world, "status", "set", "ghost", "online")
    assert r.returncode == 3 and "70107" in r.stderr
    r = cli(world, "user", "delete", "bob", "ghost")
    assert r.returncode == 3
    assert r.stdout.strip() == "deleted bob" and "no such user: ghost" in r.stderr
    assert cli(world, "status", "show", "bob").returncode == 3


def test_usage_errors_exit_2(world):
    cli(world, "user", "create", "bob")
    for args, needle in [
        (["profile", "set", "bob", "--gender", "robot"], "unknown|male|female"),
        (["profile", "set", "bob"], "nothing to set"),
        (["profile", "set", "bob", "--level", "high"], "level"),
        (["profile", "set", "bob", "--custom", "novalue"], "KEY=VALUE"),
        (["status", "set", "bob", "dancing"], "invalid choice"),
        (["user", "delete"], "required"),
        (["watch", "tim-py-watch"], "--as"),
    ]:
        r = cli(world, *args)
        assert r.returncode == 2, (args, r.stderr)
        assert needle in r.stderr, (args, r.stderr)


def test_library_errors_exit_1_with_code_and_desc(world):
    cli(world, "user", "create", "bob")
    r = cli(world, "profile", "set", "bob", "--nick", "x" * 501)
    assert r.returncode == 1
    assert "[40601]" in r.stderr and "Tag_Profile_IM_Nick" in r.stderr
    r = cli(world, "profile", "set", "bob", "--custom", "bad key=1")
    assert r.returncode == 1 and "[9001]" in r.stderr
    r = cli(world, "status", "set", "bob", "online", "--custom", "y" * 101)
    assert r.returncode == 1 and "[6017]" in r.stderr
    r = cli(world, "profile", "show", "not a valid id because it is far too long")
    assert r.returncode == 1 and "[7003]" in r.stderr


# ---- import ------------------------------------------------------------------------------------------

JSONL = "\n".join([
    '{"user_id": "u1", "nick": "One", "gender": "female", "custom": {"Hobby": "go"}}',
    '{"user_id": "u2", "nick": "Two", "level": 5, "signature": "sig", "allow_type": "deny_any"}',
    '',
    'not json',
    '{"user_id": "u3", "gender": "robot"}',
    '{"user_id": "u4", "nick": "' + "n" * 501 + '"}',
    '{"user_id": "has spaces and is longer than thirty-two bytes"}',
    '{"user_id": "u5", "shoe_size": 44}',
    '{"nick": "nobody"}',
    '[1, 2]',
    '{"user_id": "u6"}',
]) + "\n"


def test_import_jsonl_with_bad_rows(world, tmp_path):
    f = tmp_path / "users.jsonl"
    f.write_text(JSONL)
    r = cli(world, "user", "import", str(f))
    assert r.returncode == 1, r.stderr
    assert r.stdout.startswith("imported 3, failed 7 (accounts: 3 created, 0 updated)"), r.stdout
    err = r.stderr
    for line, needle in [(4, "not JSON"), (5, "robot"), (6, "[40601]"), (7, "refused the identifier"),
                         (8, "unknown field 'shoe_size'"), (9, "no user_id"), (10, "not a JSON object")]:
        assert f"users.jsonl:{line}" in err and needle in err, (line, needle, err)

    r = cli(world, "profile", "show", "u1", "u2", "u6", "--json")
    assert r.returncode == 0, r.stderr
    u1, u2, u6 = json.loads(r.stdout)
    assert (u1["nick"], u1["gender"], u1["profile_custom_field"]) == \
        ("One", "female", [{"key": "Tag_Profile_Custom_Hobby", "value": "go"}])
    assert (u2["nick"], u2["level"], u2["self_signature"], u2["allow_type"]) == ("Two", 5, "sig", "deny_any")
    assert u6["nick"] == ""
    # a row the library refused is not imported: no half-made account is left behind
    r = cli(world, "status", "show", "u3", "u4", "u5")
    assert r.returncode == 3 and "u3, u4, u5" in r.stderr


def test_import_csv_from_stdin_json_summary(world):
    text = ("user_id,nick,gender,level,custom.Hobby\n"
            "c1,Cee,male,2,chess\n"
            "c2,,,,\n"
            "c3,X,robot,,\n"
            "c4,Y,female,lots,\n"
            "c5,Z,female,1,,extra\n"
            ",nobody,,,\n")
    r = cli(world, "--json", "user", "import", "-", input=text)
    assert r.returncode == 1
    s = json.loads(r.stdout)
    assert (s["imported"], s["failed"], s["created"], s["updated"]) == (2, 4, 2, 0)
    assert [(f["line"], f["user_id"]) for f in s["failures"]] == [(4, "c3"), (5, "c4"), (6, "c5"), (7, None)]
    assert "robot" in s["failures"][0]["reason"] and "level" in s["failures"][1]["reason"]
    [c1, c2] = jdoc(cli(world, "profile", "show", "c1", "c2", "--json"))
    assert (c1["nick"], c1["gender"], c1["level"], c1["profile_custom_field"][0]["value"]) == \
        ("Cee", "male", 2, "chess")
    assert c2["nick"] == ""  # an empty cell sets nothing


def test_import_updates_and_round_trips(world):
    cli(world, "user", "create", "bob", "--nick", "Bob")
    cli(world, "profile", "set", "bob", "--gender", "male", "--custom", "Hobby=chess", "--level", "3")
    shown = cli(world, "profile", "show", "bob", "--json").stdout
    # what profile show --json prints, one object a line, imports into another world as is
    lines = "".join(json.dumps(p) + "\n" for p in json.loads(shown))
    other = world.parent / "other"
    r = cli(other, "user", "import", "-", input=lines)
    assert r.returncode == 0, r.stderr
    assert "imported 1, failed 0" in r.stdout
    [a] = json.loads(shown)
    [b] = jdoc(cli(other, "profile", "show", "bob", "--json"))
    a.pop("last_updated_time"), b.pop("last_updated_time")
    assert a == b
    r = cli(other, "user", "import", "-", "--format", "jsonl", input='{"user_id": "bob", "nick": "B2"}\n')
    assert "(accounts: 0 created, 1 updated)" in r.stdout


def test_import_file_errors(world, tmp_path):
    r = cli(world, "user", "import", str(tmp_path / "missing.csv"))
    assert r.returncode == 2 and "cannot read" in r.stderr
    r = cli(world, "user", "import", "-", "--format", "csv", input="nick,avatar\nx,y\n")
    assert r.returncode == 2 and "user_id column" in r.stderr


def test_import_many_in_batches(world):
    rows = "".join(json.dumps({"user_id": f"m{i}", "nick": f"M{i}"}) + "\n" for i in range(1200))
    r = cli(world, "--json", "user", "import", "-", "--batch", "500", input=rows)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert (s["imported"], s["failed"], s["created"]) == (1200, 0, 1200)
    assert r.stderr == ""  # no progress bar when stderr is not a terminal
    got = jdoc(cli(world, "profile", "show", "m0", "m599", "m1199", "--json"))
    assert [p["nick"] for p in got] == ["M0", "M599", "M1199"]


# ---- watch ---------------------------------------------------------------------------------------------


def test_watch_prints_changes_made_by_other_commands(world, children):
    cli(world, "user", "create", "bob", "--nick", "Bob")
    w = popen(world, "watch", "bob", "ghost", "--json", "--count", "3", "--seconds", "20")
    children.append(w)
    out = Lines(w)
    first = [json.loads(out.next()), json.loads(out.next())]  # the current state first
    assert [(e["event"], e["initial"]) for e in first] == [("status", True), ("profile", True)]
    assert first[0]["status"] == "unlogined" and first[1]["nick"] == "Bob"
    assert cli(world, "status", "set", "bob", "online", "--custom", "hi").returncode == 0
    assert cli(world, "profile", "set", "bob", "--nick", "Robert").returncode == 0
    assert cli(world, "user", "create", "ghost", "--nick", "Boo").returncode == 0  # watched before it existed
    assert w.wait(T) == 0, w.stderr.read()
    events = [json.loads(out.next()) for _ in range(3)]
    assert [(e["event"], e["user_id"], e["initial"]) for e in events] == \
        [("status", "bob", False), ("profile", "bob", False), ("profile", "ghost", False)]
    assert (events[0]["status"], events[0]["custom_status"], events[0]["online_devices"]) == \
        ("online", "hi", ["Linux"])
    assert events[1]["nick"] == "Robert" and events[2]["nick"] == "Boo"
    assert "no account 'ghost' yet" in w.stderr.read()


BOB_SCRIPT = """
import sys, time, tim_py
with tim_py.TIM(int(sys.argv[1]), sys.argv[2]) as tim:
    tim.login("bob", "any-sig").result(10)
    tim.set_self_status("typing...").result(10)
    tim.update_my_profile(nick="Bob (terminal 2)").result(10)
"""


def test_two_terminals(world, children):
    """docs/cli.md: 'tim-py watch bob' in one terminal, a script logged in as bob in another."""
    w = popen(world, "watch", "bob", "--count", "5", "--seconds", "20")
    children.append(w)
    out, err = Lines(w), Lines(w, w.stderr)
    assert "has no store for app" in err.next()  # a new world: nobody has used it yet
    assert err.next() == "tim-py: note: no account 'bob' yet; watching it anyway"
    assert "watching bob" in err.next()  # subscribed: bob may start now
    r = run_python(BOB_SCRIPT, str(APP_ID), str(world), timeout=T)
    assert r.returncode == 0, r.stderr
    assert w.wait(T) == 0
    lines = [out.next().split("  ", 1)[1] for _ in range(5)]  # without the time stamps
    assert lines == [
        "bob  status  online  devices=Linux",             # his login (which created his account:)
        "bob  profile  new account  nick=''",
        "bob  status  online  custom_status='typing...'  devices=Linux",
        "bob  profile  nick='Bob (terminal 2)'",
        "bob  status  unlogined",                         # his script closed its client
    ]


def test_watch_ends_on_ctrl_c_and_logs_out(world, children):
    cli(world, "user", "create", "bob")
    w = popen(world, "watch", "bob")
    children.append(w)
    out = Lines(w)
    out.until(lambda line: "bob  status" in line)
    [s] = jdoc(cli(world, "status", "show", "tim-py-watch", "--json"))
    assert s["status"] == "online"
    w.send_signal(signal.SIGINT)
    assert w.wait(T) == 0
    [s] = jdoc(cli(world, "status", "show", "tim-py-watch", "--json"))
    assert s["status"] == "unlogined"


def test_watch_seconds_and_count(world):
    cli(world, "user", "create", "bob")
    t0 = time.monotonic()
    r = cli(world, "watch", "bob", "--as", "someone", "--seconds", "0.5")
    assert r.returncode == 0 and "bob  status  unlogined" in r.stdout
    r = cli(world, "watch", "bob", "--count", "1", "--seconds", "0.5")
    assert r.returncode == 1 and "0 of 1 change" in r.stderr
    assert time.monotonic() - t0 < 10


def test_interrupted_exit_130(world, children):
    p = subprocess.Popen([sys.executable, "-m", "tim_py", "user", "import", "-"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT),
                         env=_env(world), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    children.append(p)
    p.stdin.write('{"user_id": "x"}\n')
    p.stdin.flush()  # and keep stdin open: the import waits for the rest
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    assert p.wait(T) == 130
    assert "interrupted" in p.stderr.read()


# ---- gen-usersig, demo --------------------------------------------------------------------------------


def test_gen_usersig_json(world):
    r = cli(None, "gen-usersig", str(APP_ID), "key", "bob", "--expire", "60")
    assert r.returncode == 0 and r.stdout.strip()
    r = cli(None, "--json", "gen-usersig", str(APP_ID), "key", "bob", "--expire", "60")
    d = jdoc(r)
    assert (d["user_id"], d["sdk_app_id"], d["expire"]) == ("bob", APP_ID, 60) and d["user_sig"]
    r = cli(None, "gen-usersig", str(APP_ID), "key", "bob", "--expire", "-1")
    assert r.returncode == 2 and "expire" in r.stderr


def test_demo():
    r = subprocess.run([sys.executable, "-m", "tim_py", "demo"], capture_output=True, text=True,
                       timeout=60, cwd=str(ROOT), env=_env(None))
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    for needle in ("logged in as 'alice'", "Hobby='go'", "bob: nick='Bob'", "bob is ONLINE",
                   "custom_status='at the beach'", "bob is OFFLINE", "login user: ''", "Done.",
                   # the two-process part
                   "[bob's process, pid", "custom_status='hello from another process'",
                   "nick='Bobby'", "status bob: OFFLINE"):
        assert needle in out, needle
    two = out[out.index("7. Two processes"):]
    assert two.index("hello from another process") < two.index("nick='Bobby'") < \
        two.rindex("bob is OFFLINE")
