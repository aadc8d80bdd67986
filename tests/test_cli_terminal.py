"""tim-py on a terminal: tables and colour, NO_COLOR and friends, the live watch table, progress
bars, and shell completion; and the same commands piped, whose output must not change.

A terminal is a real pseudo-terminal (``pty.openpty``) holding the command's stdout and stderr,
120 columns wide; "piped" is a pipe, as ``subprocess`` gives.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
import tty

import pytest

from tim_py.cli.completion import SHELLS, command_tree, script
from tim_py.cli.parser import build_parser

from .conftest import ROOT, sigint_default

T = 30
#: an SGR sequence that sets a colour (foreground or background; 16, 256 or true colour)
COLOUR = re.compile(r"\x1b\[[0-9;]*(?:3[0-8]|4[0-8]|9[0-7]|10[0-7])(?:;[0-9;]*)?m")
ANY_SGR = re.compile(r"\x1b\[[0-9;]*m")
#: rich's Live redraw: erase the line, move the cursor up
REDRAW = "\x1b[2K\x1b[1A"
#: variables by which rich (or a user) decides about terminals and colour: none leaks in from outside
_TERMINAL_VARS = ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "COLUMNS", "LINES",
                  "CLICOLOR", "CLICOLOR_FORCE", "TERM")


def env_for(world, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIM_PY_") and k not in _TERMINAL_VARS}
    env["TERM"] = "xterm-256color"
    if world is not None:
        env["TIM_PY_DATA_DIR"] = str(world)
    env.update(extra)
    return env


def piped(world, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tim_py", *args], capture_output=True, text=True,
                          timeout=T, cwd=str(ROOT), env=env_for(world, **env), stdin=subprocess.DEVNULL)


class Pty:
    """A command whose stdout and stderr (and stdin, if asked) are one pseudo-terminal (raw: no
    newline translation)."""

    def __init__(self, world, *args: str, stdin_tty: bool = False, **env: str) -> None:
        """``stdin_tty``: stdin is the terminal too (else /dev/null)."""
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        tty.setraw(slave)
        self.proc = subprocess.Popen([sys.executable, "-m", "tim_py", *args],
                                     stdin=slave if stdin_tty else subprocess.DEVNULL,
                                     stdout=slave, stderr=slave, cwd=str(ROOT), env=env_for(world, **env),
                                     preexec_fn=sigint_default)
        os.close(slave)
        self.data = b""

    def read_until(self, pred, timeout: float = 10) -> str:
        """Read until ``pred(text so far)`` holds; the text so far."""
        deadline = time.monotonic() + timeout
        while not pred(self.text):
            left = deadline - time.monotonic()
            if left <= 0:
                self.proc.kill()
                pytest.fail(f"not seen within {timeout} s; output so far: {self.text!r}")
            if not self._read(left):
                pytest.fail(f"the command ended first; output: {self.text!r}")
        return self.text

    def _read(self, timeout: float) -> bool:
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the other side is closed
            chunk = b""
        self.data += chunk
        return bool(chunk)

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")

    def wait(self, timeout: float = T) -> int:
        deadline = time.monotonic() + timeout
        while self._read(max(deadline - time.monotonic(), 0.01)) and time.monotonic() < deadline:
            pass
        code = self.proc.wait(max(deadline - time.monotonic(), 0.1))
        os.close(self.master)
        return code


def on_pty(world, *args: str, **env: str) -> "tuple[int, str]":
    p = Pty(world, *args, **env)
    code = p.wait()
    return code, p.text


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = tmp_path_factory.mktemp("terminal") / "world"
    for args in (["user", "create", "bob", "--nick", "Bob"],
                 ["profile", "set", "bob", "--gender", "male", "--custom", "Hobby=chess", "--level", "3"],
                 ["status", "set", "bob", "online", "--custom", "at lunch"],
                 ["user", "create", "carol", "--nick", "Carol"]):
        r = piped(w, *args)
        assert r.returncode == 0, r.stderr
    return w


# ---- tables and colour on a terminal; plain text piped ----------------------------------------------


def test_colour_and_tables_only_on_a_terminal(world):
    code, text = on_pty(world, "status", "show", "bob", "carol")
    assert code == 0, text
    assert COLOUR.search(text), text  # online in its colour
    assert "\u2502" in text and "custom status" in text  # a table with a header
    plain = ANY_SGR.sub("", text)
    assert re.search(r"bob\s+\u2502 online\s+\u2502 at lunch\s+\u2502 Linux", plain), plain
    assert re.search(r"carol\s+\u2502 unlogined", plain), plain

    code, text = on_pty(world, "profile", "show", "bob")
    assert code == 0, text
    assert COLOUR.search(text)
    plain = ANY_SGR.sub("", text)
    for row in (r"nick\s+\u2502 Bob", r"gender\s+\u2502 male", r"level\s+\u2502 3", r"custom\.Hobby\s+\u2502 chess"):
        assert re.search(row, plain), (row, plain)

    # piped: the plain lines, as before colour came, not one escape sequence
    r = piped(world, "status", "show", "bob", "carol")
    assert (r.returncode, r.stdout) == (0, "bob    online  custom_status='at lunch'  devices=Linux\n"
                                           "carol  unlogined\n")
    r = piped(world, "profile", "show", "bob")
    assert r.returncode == 0 and "\x1b" not in r.stdout
    lines = r.stdout.splitlines()
    assert lines[0] == "bob" and "  nick               Bob" in lines and "  custom.Hobby       chess" in lines


def test_user_list_in_columns_on_a_terminal(world):
    code, text = on_pty(world, "user", "list")
    assert code == 0, text
    plain = ANY_SGR.sub("", text)
    assert re.search(r"bob\s+carol\s+tim-py-cli", plain) and "3 of 3 accounts" in plain, plain
    assert piped(world, "user", "list").stdout == "bob\ncarol\ntim-py-cli\n"


def test_no_color_keeps_the_table_without_colour(world):
    code, text = on_pty(world, "status", "show", "bob", NO_COLOR="1")
    assert code == 0, text
    assert not COLOUR.search(text), text
    assert "\u2502" in text and "online" in text  # still a table: NO_COLOR is about colour only


def test_term_dumb_has_no_colour(world):
    code, text = on_pty(world, "status", "show", "bob", TERM="dumb")
    assert code == 0, text
    assert not COLOUR.search(text), text


def test_force_color_draws_even_when_piped(world):
    r = piped(world, "status", "show", "bob", FORCE_COLOR="1")
    assert r.returncode == 0
    assert COLOUR.search(r.stdout) and "\u2502" in r.stdout
    r = piped(world, "status", "show", "bob", TTY_COMPATIBLE="0", FORCE_COLOR="1")  # rich: 0 wins
    assert r.stdout == "bob  online  custom_status='at lunch'  devices=Linux\n"


def test_errors_on_a_terminal_in_colour_and_plain_when_piped(world):
    code, text = on_pty(world, "status", "show", "ghost")
    assert code == 3
    assert "tim-py:" in text and "no such user: ghost" in ANY_SGR.sub("", text) and "\x1b[" in text
    r = piped(world, "status", "show", "ghost")
    assert (r.returncode, r.stderr) == (3, "tim-py: no such user: ghost\n")


@pytest.mark.parametrize("args", [["status", "show", "bob", "carol"], ["profile", "show", "bob"],
                                  ["status", "set", "carol", "offline"], ["user", "create", "bob"]],
                         ids=" ".join)
def test_json_is_the_same_on_a_terminal_and_piped(world, args):
    """--json never passes through rich: the same bytes on a terminal as in a pipe (time stamps aside)."""
    code, text = on_pty(world, "--json", *args)
    r = piped(world, "--json", *args)
    assert code == r.returncode == 0, (text, r.stderr)
    assert "\x1b" not in text
    strip = lambda t: re.sub(r'"last_updated_time": \d+', "", t)  # noqa: E731
    assert strip(text) == strip(r.stdout)
    json.loads(text)


# ---- watch: a table updated in place on a terminal; lines when piped ----------------------------------


def test_watch_is_a_table_updated_in_place(world, children):
    w = Pty(world, "watch", "bob", "carol", "--as", "pty-watcher")
    children.append(w.proc)
    w.read_until(lambda t: "watching bob, carol" in t and "Ctrl-C to stop" in t and "Carol" in t)
    first = len(w.text)
    # a change made by another process shows in the table, redrawn where it was
    r = piped(world, "status", "set", "carol", "online", "--custom", "on the phone")
    assert r.returncode == 0, r.stderr
    text = w.read_until(lambda t: "on the phone" in t[first:])
    update = text[first:]
    assert REDRAW in update, update  # the old table erased, line by line, and drawn again
    plain = ANY_SGR.sub("", update)
    assert re.search(r"carol\s+\u2502 online\s+\u2502 on the phone", plain), plain
    assert re.search(r"bob\s+\u2502 online\s+\u2502 at lunch", plain), plain  # the other row kept
    assert "status online" in plain  # the last change, said in its column
    w.proc.send_signal(signal.SIGINT)
    assert w.wait() == 0
    assert "Traceback" not in w.text
    assert piped(world, "status", "set", "carol", "unlogined").returncode == 0


def test_watch_piped_or_dumb_is_a_line_per_change(world):
    r = piped(world, "watch", "bob", "--seconds", "0.3")
    assert r.returncode == 0 and "\x1b" not in r.stdout
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}  bob  status  online  custom_status='at lunch'  devices=Linux\n"
                        r"\d\d:\d\d:\d\d\.\d{3}  bob  profile  nick='Bob'  gender='male'  level=3  "
                        r"custom\.Hobby='chess'\n", r.stdout), r.stdout
    code, text = on_pty(world, "watch", "bob", "--seconds", "0.3", TERM="dumb")  # no redrawing there
    assert code == 0 and REDRAW not in text and "bob  status  online" in text


# ---- progress bars ------------------------------------------------------------------------------------


def test_import_progress_bar_on_a_terminal_only(tmp_path):
    rows = "".join(json.dumps({"user_id": f"p{i}", "nick": f"P{i}"}) + "\n" for i in range(600))
    f = tmp_path / "people.jsonl"
    f.write_text(rows)
    code, text = on_pty(tmp_path / "w1", "user", "import", str(f), "--batch", "100")
    assert code == 0, text
    plain = ANY_SGR.sub("", text)
    assert "importing" in plain and re.search(r"\d+/600", plain) and "600/600 100%" in plain, plain
    assert plain.rstrip().endswith("s") and "imported 600, failed 0" in plain
    code, text = on_pty(tmp_path / "w2", "user", "import", str(f), "--no-progress")
    assert code == 0 and "importing" not in text and "imported 600, failed 0" in text
    r = piped(tmp_path / "w3", "user", "import", str(f))
    assert r.returncode == 0 and r.stderr == ""


# ---- shell completion ---------------------------------------------------------------------------------


def test_completion_tree_follows_the_parser():
    tree = command_tree(build_parser())
    assert ("user", "import") in tree and ("completion",) in tree
    assert [n for n, _ in tree[()].subcommands][:3] == ["user", "profile", "status"]
    opts = {s: a for a in tree[("user", "import")].options for s in a.strings}
    assert (opts["--format"].kind, opts["--format"].choices) == ("choices", ("jsonl", "csv"))
    assert opts["--data-dir"].kind == "dir" and opts["--no-progress"].kind == "flag"
    assert tree[("user", "import")].positionals[0].kind == "file"
    gender = {s: a for a in tree[("profile", "set")].options for s in a.strings}["--gender"]
    assert gender.choices == ("unknown", "male", "female")


def test_completion_command_prints_each_script():
    for shell in SHELLS:
        r = piped(None, "completion", shell)
        assert r.returncode == 0 and r.stdout == script(shell), shell
        assert "tim-py" in r.stdout and "user" in r.stdout
    r = piped(None, "completion", "tcsh")
    assert r.returncode == 2 and "invalid choice: 'tcsh'" in r.stderr


BASH_CHECK = r"""
source <("$TIM_PY" completion bash) || exit 9
complete -p tim-py
t() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _tim_py
      echo "[$*] ${COMPREPLY[*]}"; }
t tim-py ''
t tim-py us
t tim-py user ''
t tim-py user import --fo
t tim-py user import --format ''
t tim-py --data-dir "$DIR/" user i
t tim-py --json --app-id 5 status set bob ''
t tim-py status set ''
t tim-py profile set bob --gender f
t tim-py user import "$DIR/wor"
t tim-py --data-dir "$DIR/wo"
t tim-py completion ''
"""


def test_bash_completion_loads_and_completes(tmp_path):
    bash = shutil.which("bash")
    assert bash, "bash is part of Debian's essential set"
    (tmp_path / "world.json").write_text("{}")
    (tmp_path / "worlds").mkdir()
    exe = _exe(tmp_path)
    r = subprocess.run([bash, "--norc", "--noprofile", "-c", BASH_CHECK], capture_output=True, text=True,
                       timeout=T, cwd=str(ROOT), env={**env_for(None), "TIM_PY": str(exe), "DIR": str(tmp_path)})
    assert r.returncode == 0 and r.stderr == "", r.stderr
    d = str(tmp_path)
    # (files come in the directory's order)
    got = [line if "/wor]" not in line else line.split("] ")[0] + "] " + " ".join(sorted(line.split("] ")[1].split()))
           for line in r.stdout.splitlines()]
    assert got == [
        "complete -F _tim_py tim-py",
        "[tim-py ] user profile status " + " ".join(n for n, _ in command_tree(build_parser())[()].subcommands[3:]),
        "[tim-py us] user",
        "[tim-py user ] create import list delete",
        "[tim-py user import --fo] --format",
        "[tim-py user import --format ] jsonl csv",
        f"[tim-py --data-dir {d}/ user i] import",
        "[tim-py --json --app-id 5 status set bob ] online offline unlogined",
        "[tim-py status set ] ",  # the ID: no shell can know the accounts
        "[tim-py profile set bob --gender f] female",
        f"[tim-py user import {d}/wor] {d}/world.json {d}/worlds",
        f"[tim-py --data-dir {d}/wo] {d}/worlds",  # directories only
        "[tim-py completion ] bash zsh fish",
    ], r.stdout


def _shell(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: make completion-deps (scripts/ensure-deps.sh zsh fish)"
    return path


ZSH_CHECK = r"""
compdef() { :; }                                       # what compinit provides, stubbed
compadd() { [[ $1 == -- ]] && shift; print -r -- "$*"; }
_describe() { print -r -- "${(j: :)${(@)${(P)4}%%:*}}"; }
_files() { print -r -- "FILES $*"; }
source <("$TIM_PY" completion zsh) || exit 9
t() { words=("$@"); CURRENT=${#words}; print -rn -- "[$*] "; _tim_py; }
t tim-py ''
t tim-py user ''
t tim-py user import --format ''
t tim-py --json status set bob ''
t tim-py user import x
t tim-py --data-dir ''
t tim-py profile set bob --gender ''
"""


def test_zsh_completion_loads_and_completes(tmp_path):
    """zsh: the script (loaded as ~/.zshrc would) completes with compadd, _describe and _files,
    stubbed here to print what they are given (the completion system needs a terminal)."""
    zsh = _shell("zsh")
    exe = _exe(tmp_path)
    r = subprocess.run([zsh, "-f", "-c", ZSH_CHECK], capture_output=True, text=True, timeout=T,
                       env={**env_for(None), "TIM_PY": str(exe)})
    assert r.returncode == 0 and r.stderr == "", r.stderr
    subs = " ".join(n for n, _ in command_tree(build_parser())[()].subcommands)
    assert r.stdout.splitlines() == [
        f"[tim-py ] {subs}",
        "[tim-py user ] create import list delete",
        "[tim-py user import --format ] jsonl csv",
        "[tim-py --json status set bob ] online offline unlogined",
        "[tim-py user import x] FILES ",
        "[tim-py --data-dir ] FILES -/",
        "[tim-py profile set bob --gender ] unknown male female",
    ], r.stdout


def test_fish_completion_loads_and_completes(tmp_path):
    fish = _shell("fish")
    exe = _exe(tmp_path)
    (tmp_path / "world.json").write_text("{}")
    (tmp_path / "worlds").mkdir()
    d = str(tmp_path)
    check = f"""
"$TIM_PY" completion fish | source; or exit 9
function tim-py; end
for line in 'tim-py ' 'tim-py user ' 'tim-py user import --format ' 'tim-py status set bob ' \\
            'tim-py status set ' 'tim-py profile set bob --gen' 'tim-py user import {d}/wor' \\
            'tim-py --data-dir {d}/wor'
    echo "[$line]" (complete -C"$line" | string replace -r '\\t.*' '' | sort)
end
"""
    r = subprocess.run([fish, "--no-config", "-c", check], capture_output=True, text=True, timeout=T,
                       env={**env_for(None), "TIM_PY": str(exe), "HOME": str(tmp_path)})
    assert r.returncode == 0 and r.stderr == "", r.stderr
    subs = " ".join(sorted(n for n, _ in command_tree(build_parser())[()].subcommands))
    assert r.stdout.splitlines() == [
        f"[tim-py ] {subs}",
        "[tim-py user ] create delete import list",
        "[tim-py user import --format ] csv jsonl",
        "[tim-py status set bob ] offline online unlogined",
        "[tim-py status set ]",  # an ID: nothing, not even files
        "[tim-py profile set bob --gen] --gender",
        f"[tim-py user import {d}/wor] {d}/world.json {d}/worlds/",
        f"[tim-py --data-dir {d}/wor] {d}/worlds/",
    ], r.stdout


def _exe(tmp_path) -> "os.PathLike[str]":
    """A ``tim-py`` for this interpreter, as the console script would be."""
    exe = tmp_path / "tim-py"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} -m tim_py \"$@\"\n")
    exe.chmod(0o755)
    return exe
