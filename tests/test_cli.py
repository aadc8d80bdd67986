"""The tim-py command, driven as a user would: ``python -m tim_py ...`` in a subprocess."""
from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

import tim_py
from tim_py.cli import main

from .conftest import APP_ID, ROOT, run_python, sigint_default

T = 30  # seconds for any one command


def _env(world, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIM_PY_")}
    if world is not None:
        env["TIM_PY_DATA_DIR"] = str(world)
    env.update(extra)
    return env


def cli(world, *args: str, input: str = None, env: dict = None) -> subprocess.CompletedProcess:
    # (an argument may hold surrogates, os.fsdecode(b"\xff"): it is passed as those bytes)
    """Run ``python -m tim_py ARGS`` with TIM_PY_DATA_DIR=world (None: unset)."""
    return subprocess.run([sys.executable, "-m", "tim_py", *args], capture_output=True, text=True,
                          input=input, timeout=T, cwd=str(ROOT), env=env or _env(world))


def popen(world, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tim_py", *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(ROOT),
                            env=_env(world),
                            preexec_fn=sigint_default)


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
            ["watch"], ["gen-usersig"], ["demo"], ["world"], ["world", "export"], ["world", "import"],
            ["world", "reset"], ["completion"], ["user", "list"]]


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


def test_version():
    r = cli(None, "--version")
    assert r.returncode == 0, r.stderr
    version = re.escape(tim_py.__version__)
    assert re.fullmatch(rf"tim-py {version} \(library: timref \d+\.\d+\.\d+\)\n", r.stdout), r.stdout
    # the library named by TIM_PY_LIBRARY, or why it cannot be loaded
    r = cli(None, "--version", env=_env(None, TIM_PY_LIBRARY="/nonexistent.so"))
    assert r.returncode == 0 and r.stdout.startswith(f"tim-py {tim_py.__version__} (library /nonexistent.so: "
                                                     "cannot load: ")


def test_version_of_another_build(native_lib):
    r = cli(None, "--version", env=_env(None, TIM_PY_LIBRARY=native_lib))
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith(f" from {native_lib})\n") and "(library: timref " in r.stdout


# ---- hostile input: a message naming the bad thing, the documented exit code, never a traceback -------

BAD = os.fsdecode(b"b\xffd")  # an argument whose bytes are not UTF-8 (Python holds "b\udcffd")
APP = str(APP_ID)

# (command line, exit code, what stderr must say, options: env (added), world (instead of the
# module's), input).  {file} is a regular file, {dir} a directory.
HOSTILE = [
    # profile values out of range or malformed: the package's own checkers judge them
    (["profile", "set", "bob", "--level", "-1"], 2, ["--level", "between 0 and 4294967295", "-1"], {}),
    (["profile", "set", "bob", "--level", "99999999999"], 2, ["--level", "99999999999"], {}),
    (["profile", "set", "bob", "--message-settings", "2"], 2, ["--message-settings", "between 0 and 1"], {}),
    (["profile", "set", "bob", "--birthday", "-5"], 2, ["--birthday", "-5"], {}),
    (["profile", "set", "bob", "--language", "x"], 2, ["--language", "'x'"], {}),
    (["profile", "set", "bob", "--role", "4294967296"], 2, ["--role", "4294967296"], {}),
    (["profile", "set", "bob", "--gender", "3"], 2, ["--gender", "unknown|male|female"], {}),
    (["profile", "set", "bob", "--level", "1" * 5000], 2, ["--level", "(5000 characters)"], {}),
    (["profile", "set", "bob", "--nick", "ok", "--level", "-1"], 2, ["--level"], {}),  # all or nothing
    # text that is not UTF-8, empty IDs
    (["profile", "set", "bob", "--nick", BAD], 2, ["--nick", "not valid UTF-8", "'b\\xffd'"], {}),
    (["profile", "set", "bob", "--custom", "Hobby=" + BAD], 2, ["--custom Hobby", "UTF-8"], {}),
    (["profile", "set", "bob", "--custom", BAD + "=x"], 2, ["--custom KEY", "UTF-8"], {}),
    (["profile", "set", BAD, "--nick", "x"], 2, ["ID", "UTF-8"], {}),
    (["profile", "show", ""], 2, ["argument ID", "must not be empty"], {}),
    (["profile", "show", "bob", "--as", ""], 2, ["--as", "must not be empty"], {}),
    (["status", "show", BAD], 2, ["argument ID", "UTF-8"], {}),
    (["status", "set", "", "online"], 2, ["argument ID", "must not be empty"], {}),
    (["status", "set", "bob", "online", "--custom", BAD], 2, ["--custom", "UTF-8"], {}),
    (["status", "set", "tim-py-cli", "online"], 2, ["'tim-py-cli'", "--as"], {}),
    (["user", "create", ""], 2, ["argument ID", "must not be empty"], {}),
    (["user", "create", BAD], 2, ["argument ID", "UTF-8"], {}),
    (["user", "create", "carol", "--nick", BAD], 2, ["--nick", "UTF-8"], {}),
    (["user", "delete", "bob", ""], 2, ["argument ID", "must not be empty"], {}),
    (["watch", "", "--seconds", "1"], 2, ["argument ID", "must not be empty"], {}),
    (["watch", "bob", "--as", BAD], 2, ["--as", "UTF-8"], {}),
    (["watch", "bob", "--seconds", "nan"], 2, ["--seconds", "'nan'"], {}),
    (["watch", "bob", "--seconds", "-1"], 2, ["--seconds", "'-1'"], {}),
    (["watch", "bob", "--count", "0"], 2, ["--count", "'0'"], {}),
    # IDs the library refuses (over 32 bytes, not printable ASCII): its code, exit 1
    (["user", "create", "a" * 33], 1, ["[70402]", "UserID"], {}),
    (["user", "create", "h\u00e9"], 1, ["[70402]"], {}),
    (["status", "show", "x" * 100000], 1, ["[7003]"], {}),
    (["profile", "set", "bob", "--nick", "n" * 100000], 1, ["[40601]", "Tag_Profile_IM_Nick"], {}),
    (["profile", "show", "bob", "--as", "a" * 33], 1, ["cannot log in as", "--as", "[7003]"], {}),
    # the world: app id, data directory, library
    (["--app-id", "0", "status", "show", "bob"], 2, ["--app-id", "'0'"], {}),
    (["--app-id", "-1", "status", "show", "bob"], 2, ["--app-id", "'-1'"], {}),
    (["--app-id", "abc", "status", "show", "bob"], 2, ["--app-id", "'abc'"], {}),
    (["--app-id", "18446744073709551616", "status", "show", "bob"], 2, ["--app-id"], {}),
    (["status", "show", "bob"], 2, ["TIM_PY_SDK_APP_ID", "'1_400'"], {"env": {"TIM_PY_SDK_APP_ID": "1_400"}}),
    (["--data-dir", "{file}", "status", "show", "bob"], 2, ["--data-dir", "not a directory"], {}),
    (["--data-dir", "{file}", "user", "create", "carol"], 2, ["--data-dir", "not a directory"], {}),
    (["--data-dir", "", "user", "create", "carol"], 2, ["--data-dir", "must not be empty"], {}),
    (["--data-dir", BAD, "user", "create", "carol"], 2, ["--data-dir", "UTF-8", "'b\\xffd'"], {}),
    (["user", "create", "carol"], 2, ["TIM_PY_DATA_DIR", "UTF-8"],
     {"world": None, "env": {"TIM_PY_DATA_DIR": BAD}}),
    (["status", "show", "bob"], 2, ["/nonexistent.so", "No such file", "TIM_PY_LIBRARY"],
     {"env": {"TIM_PY_LIBRARY": "/nonexistent.so"}}),
    (["user", "create", "carol"], 2, ["{file}", "TIM_PY_LIBRARY"], {"env": {"TIM_PY_LIBRARY": "{file}"}}),
    (["demo"], 2, ["/nonexistent.so", "TIM_PY_LIBRARY"], {"env": {"TIM_PY_LIBRARY": "/nonexistent.so"}}),
    (["demo", "--data-dir", "{file}"], 2, ["--data-dir", "not a directory"], {}),
    # user import
    (["user", "import", "{dir}"], 2, ["cannot read", "Is a directory"], {}),
    (["user", "import", "-", "--batch", "0"], 2, ["--batch", "'0'"], {"input": '{"user_id": "x"}\n'}),
    (["user", "import", "-", "--batch", "-5"], 2, ["--batch", "'-5'"], {"input": '{"user_id": "x"}\n'}),
    (["user", "import", "-", "--format", "csv"], 2, ["-:3: not CSV", "field larger than field limit"],
     {"input": "user_id,nick\nc1,x\nc2," + "x" * 200000 + "\n"}),
    # world export | import | reset
    (["world", "export", "{dir}"], 2, ["{dir}", "is a directory"], {}),
    (["world", "export", "/nonexistent-dir/w.json"], 2, ["/nonexistent-dir", "does not exist"], {}),
    (["world", "export", ""], 2, ["FILE", "must not be empty"], {}),
    (["world", "export", BAD], 2, ["FILE", "UTF-8"], {}),
    (["world", "export", "w.json", "--include-status=yes"], 2, ["--include-status"], {}),
    (["world", "export", "/proc/w.json"], 1, ["cannot write /proc/w.json", "the file is as it was"], {}),
    (["world", "import", "/nonexistent.json"], 2, ["cannot read /nonexistent.json", "No such file"], {}),
    (["world", "import", "{dir}"], 2, ["cannot read", "Is a directory"], {}),
    (["world", "import", "{file}"], 2, ["not valid JSON", "nothing changed"], {}),
    (["world", "import", "/dev/null"], 2, ["/dev/null", "not valid JSON", "nothing changed"], {}),
    (["world", "reset"], 2, ["stdin is not a terminal", "--yes"], {"input": ""}),
    (["world", "reset", "--yes", "now"], 2, ["unrecognized arguments: now"], {}),
    (["world", "reset", "--yes"], 3, ["no world"], {"world": "{dir}/none"}),
    (["world", "export", "{dir}/x.json"], 3, ["no world"], {"world": "{dir}/none"}),
    (["completion", "tcsh"], 2, ["invalid choice: 'tcsh'"], {}),
    # gen-usersig
    (["gen-usersig", APP, "", "bob"], 2, ["KEY", "must not be empty"], {}),
    (["gen-usersig", APP, BAD, "bob"], 2, ["KEY", "UTF-8"], {}),
    (["gen-usersig", APP, "key", ""], 2, ["USER_ID", "1 to 32 printable ASCII"], {}),
    (["gen-usersig", APP, "key", "a" * 33], 2, ["USER_ID", "1 to 32 printable ASCII"], {}),
    (["gen-usersig", APP, "key", BAD], 2, ["USER_ID", "UTF-8"], {}),
    (["gen-usersig", "0", "key", "bob"], 2, ["SDKAPPID", "'0'"], {}),
    (["gen-usersig", "abc", "key", "bob"], 2, ["SDKAPPID", "'abc'"], {}),
    (["gen-usersig", APP, "key", "bob", "--expire", "0"], 2, ["--expire", "'0'"], {}),
    (["gen-usersig", APP, "key", "bob", "--expire", "-5"], 2, ["--expire", "'-5'"], {}),
    (["gen-usersig", APP, "key", "bob", "--expire", str(2 ** 63)], 2, ["--expire", str(2 ** 63)], {}),
    (["gen-usersig", APP, "key", "bob", "--userbuf", BAD], 2, ["--userbuf", "UTF-8"], {}),
]


@pytest.fixture(scope="module")
def bob_world(tmp_path_factory):
    world = tmp_path_factory.mktemp("hostile") / "world"
    r = cli(world, "user", "create", "bob", "--nick", "Bob")
    assert r.returncode == 0, r.stderr
    return world


def _files(world) -> dict:
    return {p.name: p.read_bytes() for p in sorted(world.iterdir())}


def _case_id(case) -> str:
    text = " ".join(a if len(a) < 20 else f"{a[:8]}...({len(a)})" for a in case[0])
    return text.encode("ascii", "backslashreplace").decode() + "".join(f" {k}" for k in case[3])


@pytest.mark.parametrize("argv, code, needles, opts", HOSTILE, ids=[_case_id(c) for c in HOSTILE])
def test_hostile_input(bob_world, tmp_path, argv, code, needles, opts):
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory, not a library\n")
    paths = {"{file}": str(a_file), "{dir}": str(tmp_path)}
    def sub(text: str) -> str:
        for k, v in paths.items():
            text = text.replace(k, v)
        return text
    world = opts.get("world", bob_world)
    if isinstance(world, str):
        world = sub(world)
    env = _env(world, **{k: sub(v) for k, v in opts.get("env", {}).items()})
    before = _files(bob_world)
    r = cli(world, *map(sub, argv), env=env, input=opts.get("input"))
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == code, r.stderr
    for needle in needles:
        assert sub(needle) in r.stderr, (needle, r.stderr)
    if code == 2:  # refused before anything was opened: the world is as it was, byte for byte
        assert _files(bob_world) == before
    # (and the bob of the world is still the bob it was)
    if "profile" in argv and "set" in argv:
        [p] = jdoc(cli(bob_world, "profile", "show", "bob", "--json"))
        assert (p["nick"], p["level"]) == ("Bob", 0)


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


def test_user_list(world):
    for uid in ("bob", "Bob", "alice", "bot-1", "bot-2"):
        assert cli(world, "user", "create", uid).returncode == 0
    r = cli(world, "user", "list")
    assert (r.returncode, r.stdout) == (0, "Bob\nalice\nbob\nbot-1\nbot-2\n"), r.stderr  # byte order
    assert cli(world, "user", "list", "--match", "bot").stdout == "bot-1\nbot-2\n"
    assert cli(world, "user", "list", "--match", "BOT").stdout == ""  # case-sensitive
    assert jdoc(cli(world, "--json", "user", "list", "--limit", "2")) == \
        {"user_ids": ["Bob", "alice"], "total": 5, "next": "alice"}
    assert jdoc(cli(world, "--json", "user", "list", "--after", "alice")) == \
        {"user_ids": ["bob", "bot-1", "bot-2"], "total": 5, "next": None}
    r = cli(world, "user", "list", "--limit", "0")
    assert r.returncode == 2 and "--limit" in r.stderr
    r = cli(world, "user", "list", "--match", "x" * 40)
    assert r.returncode == 1 and "[70402]" in r.stderr and "Match" in r.stderr


def test_user_list_pages_through_thousands(world):
    rows = "".join(json.dumps({"user_id": f"m{i:05d}"}) + "\n" for i in range(2500))
    assert cli(world, "user", "import", "-", input=rows).returncode == 0
    r = cli(world, "user", "list")
    assert r.stdout.split() == [f"m{i:05d}" for i in range(2500)]
    d = jdoc(cli(world, "--json", "user", "list", "--limit", "1500", "--match", "m0"))
    assert (len(d["user_ids"]), d["total"], d["next"]) == (1500, 2500, "m01499")


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


def test_status_set_prints_what_is_stored(world, children):
    """status set reads the status back: without --custom the custom status stays as it was, and
    its output agrees with status show's, in text and in JSON."""
    cli(world, "user", "create", "bob")
    r = cli(world, "status", "set", "bob", "online", "--custom", "at lunch")
    assert (r.returncode, r.stdout, r.stderr) == (0, "bob: online (custom status 'at lunch')\n", "")
    r = cli(world, "status", "set", "bob", "offline", "--json")
    assert r.returncode == 0, r.stderr
    [shown] = jdoc(cli(world, "status", "show", "bob", "--json"))
    assert jdoc(r) == shown == {"user_id": "bob", "status": "offline", "status_type": 2,
                                "custom_status": "at lunch", "online_devices": []}
    r = cli(world, "status", "set", "bob", "unlogined")
    assert r.stdout == "bob: unlogined (custom status 'at lunch')\n"
    r = cli(world, "status", "set", "bob", "online", "--custom", "")  # '' clears it
    assert r.stdout == "bob: online\n"
    assert cli(world, "status", "show", "bob").stdout.split() == ["bob", "online", "devices=Linux"]
    # a live session of bob keeps him online, whatever status set says: it reports so
    bob = subprocess.Popen([sys.executable, "-c", BOB_STAYS, str(APP_ID), str(world)], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, cwd=str(ROOT))
    children.append(bob)
    assert bob.stdout.readline() == "logged in\n"
    r = cli(world, "--json", "status", "set", "bob", "offline")
    assert r.returncode == 0, r.stderr
    assert jdoc(r)["status"] == "online" == jdoc(cli(world, "status", "show", "bob", "--json"))[0]["status"]
    assert "note: bob is online, not offline; a live session of theirs keeps it online" in r.stderr
    bob.communicate("", timeout=T)


BOB_STAYS = """
import sys, tim_py
with tim_py.TIM(int(sys.argv[1]), sys.argv[2]) as tim:
    tim.login("bob", "sig").result(10)
    print("logged in", flush=True)
    sys.stdin.read()
"""


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


def test_import_rows_with_nul_or_out_of_range_fail_alone(world, tmp_path):
    """A NUL in any text, a value out of its range: that row fails, the others are imported."""
    rows = [{"user_id": "a\u0000b"}, {"user_id": "n1", "nick": "x\u0000y"},
            {"user_id": "n2", "custom": {"Hobby": "g\u0000o"}}, {"user_id": "n3", "level": -1},
            {"user_id": "n4", "message_settings": 2}, {"user_id": "n5", "level": 2 ** 32},
            {"user_id": "n6", "gender": 7}, {"user_id": "ok", "nick": "Fine", "level": 4294967295}]
    f = tmp_path / "rows.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = cli(world, "user", "import", str(f))
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stdout.startswith("imported 1, failed 7 (accounts: 1 created"), r.stdout
    for line, needle in [(1, "user_id contains a NUL character"), (2, "nick contains a NUL character"),
                         (3, "contains a NUL character"), (4, "level must be between 0 and 4294967295"),
                         (5, "message_settings must be between 0 and 1"), (6, "level must be between"),
                         (7, "gender")]:
        assert re.search(rf"rows.jsonl:{line} .*{re.escape(needle)}", r.stderr), (line, needle, r.stderr)
    [p] = jdoc(cli(world, "profile", "show", "ok", "--json"))
    assert (p["nick"], p["level"]) == ("Fine", 4294967295)
    r = cli(world, "status", "show", "n1", "n2", "n3", "n4", "n5", "n6")
    assert r.returncode == 3 and "no such user: n1, n2, n3, n4, n5, n6" in r.stderr


def test_ctrl_c_during_import_says_how_many_rows_were_committed(world, tmp_path, children):
    """Ctrl-C: the rows in flight are answered, the rest is not sent; the count is the truth."""
    n = 20000
    f = tmp_path / "many.jsonl"
    f.write_text("".join(json.dumps({"user_id": f"u{i}", "nick": f"U{i}"}) + "\n" for i in range(n)))
    p = popen(world, "user", "import", str(f), "--batch", "200")
    children.append(p)
    deadline = time.monotonic() + T
    while True:  # until the first row is in (its nick set: it was sent, so it will count)
        r = cli(world, "profile", "show", "u0", "--json")
        if r.returncode == 0 and json.loads(r.stdout)[0]["nick"] == "U0":
            break
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < deadline, "u0 never appeared"
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=T)
    assert p.returncode == 130, err
    m = re.fullmatch(r"tim-py: interrupted: (\d+) rows committed; (\d+) not imported, from (\S+):(\d+) on\n",
                     err)
    assert m, err
    committed = int(m[1])
    assert 0 < committed < n, "the import ended before Ctrl-C: make the file longer"
    assert (int(m[2]), m[3], int(m[4])) == (n - committed, str(f), committed + 1)
    assert out.startswith(f"imported {committed}, failed 0 (accounts: {committed} created, 0 updated)")
    # exactly those rows are in, each whole: the first `committed` users, with their nick
    r = cli(world, "profile", "show", *[f"u{i}" for i in range(n)], "--json")
    assert r.returncode == 3
    got = json.loads(r.stdout)
    assert [q["user_id"] for q in got] == [f"u{i}" for i in range(committed)]
    assert all(q["nick"] == "U" + q["user_id"][1:] for q in got)


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
                         env=_env(world), preexec_fn=sigint_default)
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
