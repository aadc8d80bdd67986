"""Types: ``mypy --strict`` passes on the package, on every Python example of the docs, and
sees each method's real return type (``Future[Profile]``, ``await`` -> ``Profile``, ...).

One mypy run checks everything (the package, each ```python block of README.md and
docs/*.md written to a file of its own, and the snippets below); the tests read its
report.  The blocks are read when the tests run, so edited examples are checked as
they are.
"""
from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict, List, NamedTuple, Tuple

import pytest

from .conftest import ROOT


class Block(NamedTuple):
    source: str  # the Markdown file, relative to the repository
    line: int    # the line of its opening fence
    code: str


def python_blocks(source: str, text: str) -> List[Block]:
    """The ```python fenced blocks of a Markdown text (indented fences too)."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)```+\s*python3?\s*$", lines[i])
        if m:
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            blocks.append(Block(source, start, textwrap.dedent("\n".join(body)) + "\n"))
        i += 1
    return blocks


def doc_blocks() -> List[Block]:
    out = []
    for md in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        out += python_blocks(str(md.relative_to(ROOT)), md.read_text(encoding="utf-8"))
    return out


# A block with a known error: the harness must report it, at the right line of its file.
SELFTEST_MD = """# Self-test

```python
x: int = 1
y: int = "not an int"
```
"""

# What each method returns, as mypy sees it.  assert_type fails on Any, so this fails when a
# method is untyped; "# type: ignore[...]" lines must be errors (--strict warns on unused ones).
API_SNIPPET = '''
from typing import Any, Dict, List
from typing_extensions import assert_type

from tim_py import EVENT, TIM, Event, EventIterator, Future, Profile, UserStatus, snapshot
from tim_py.admin import AccountPage, EventPage
from tim_py.aio import AsyncTIM, EventStream


def sync_client(tim: TIM) -> None:
    assert_type(tim.login("alice", "sig"), Future[None])
    assert_type(tim.logout(), Future[None])
    assert_type(tim.get_my_profile(), Future[Profile])
    assert_type(tim.get_my_profile().result(), Profile)
    assert_type(tim.get_user_profile(["bob"]), Future[List[Profile]])
    assert_type(tim.get_user_profile({"userIDList": ["bob"]}), Future[List[Profile]])
    assert_type(tim.update_my_profile(nick="A"), Future[Profile])
    assert_type(tim.update_my_profile({"nick": "A", "selfSignature": "hi"}), Future[Profile])
    assert_type(tim.get_user_status(["bob"]), Future[List[UserStatus]])
    assert_type(tim.set_self_status({"customStatus": "x"}), Future[None])
    assert_type(tim.subscribe_user_status(["bob"]), Future[None])
    assert_type(tim.unsubscribe_user_status(), Future[None])
    assert_type(tim.subscribe_user_info({"userIDList": ["bob"]}), Future[None])
    assert_type(tim.unsubscribe_user_info(["bob"]), Future[None])
    assert_type(tim.admin.request("v4/x", {}), Future[Dict[str, Any]])
    assert_type(tim.admin.import_account("bob"), Future[None])
    assert_type(tim.admin.import_accounts(["bob"]), Future[List[str]])
    assert_type(tim.admin.delete_accounts(["bob"]), Future[Dict[str, int]])
    assert_type(tim.admin.get_portrait(["bob"], ["nick"]), Future[Dict[str, Dict[str, Any]]])
    assert_type(tim.admin.set_portrait("bob", nick="B"), Future[None])
    assert_type(tim.admin.query_online_status(["bob"]), Future[Dict[str, str]])
    assert_type(tim.admin.set_user_status("bob", 1), Future[None])
    assert_type(tim.admin.list_accounts(match="b"), Future[AccountPage])
    assert_type(tim.admin.events(after=3), Future[EventPage])
    assert_type(tim.admin.world_export(), Future[Dict[str, Any]])
    assert_type(tim.admin.world_import(b"{}"), Future[int])
    assert_type(tim.admin.world_reset(), Future[int])
    assert_type(snapshot.read("world.json"), Dict[str, Any])
    assert_type(tim.raw.call("TIMGetSDKVersion"), str)
    assert_type(tim.raw.call("TIMGetServerTime"), int)
    assert_type(tim.raw.call("TIMLogout"), Future[Any])
    events = tim.events(EVENT.PROFILE_UPDATED, timeout=1.5)
    assert_type(events, EventIterator)
    for event in events:
        assert_type(event, Event)

    @tim.on(EVENT.PROFILE_UPDATED)
    def changed(event: Event) -> int:
        return 1

    assert_type(changed(event), int)  # the decorator keeps the function's type
    assert_type(tim.on(EVENT.PROFILE_UPDATED, changed)(event), int)
    nick: int = tim.get_my_profile().result().nick  # type: ignore[assignment]
    tim.get_user_profile("bob", "carol")  # type: ignore[call-arg]


async def async_client(tim: AsyncTIM) -> None:
    assert_type(await tim.login("alice", "sig"), None)
    assert_type(await tim.get_my_profile(), Profile)
    assert_type(await tim.get_user_profile({"userIDList": ["bob"]}), List[Profile])
    assert_type(await tim.update_my_profile({"nick": "A"}), Profile)
    assert_type(await tim.get_user_status(["bob"]), List[UserStatus])
    assert_type(await tim.set_self_status("x"), None)
    assert_type(await tim.unsubscribe_user_status({}), None)
    assert_type(await tim.admin.import_accounts(["bob"]), List[str])
    assert_type(await tim.admin.delete_accounts(["bob"]), Dict[str, int])
    assert_type(await tim.admin.query_online_status(["bob"]), Dict[str, str])
    assert_type(await tim.admin.list_accounts(), AccountPage)
    assert_type(await tim.admin.world_import({}), int)
    assert_type(await tim.raw.call("TIMLogout"), Any)
    assert_type(tim.raw.call("TIMGetLoginUserID"), str)
    stream = tim.events()
    assert_type(stream, EventStream)
    async for event in stream:
        assert_type(event, Event)

    @tim.on(EVENT.USER_STATUS_UPDATED)
    async def status(event: Event) -> None:
        pass

    assert_type(await status(event), None)
    me: str = await tim.get_my_profile()  # type: ignore[assignment]
'''


class Report(NamedTuple):
    errors: Dict[str, List[Tuple[int, str]]]  # file -> [(line, message)]
    files: Dict[str, Block]                   # snippet file -> its block
    output: str


@pytest.fixture(scope="module")
def mypy_report(tmp_path_factory) -> Report:
    d = tmp_path_factory.mktemp("typing")
    blocks = doc_blocks() + python_blocks("SELFTEST.md", SELFTEST_MD) + [Block("API_SNIPPET", 0, API_SNIPPET)]
    files: Dict[str, Block] = {}
    for b in blocks:
        stem = re.sub(r"\W", "_", Path(b.source).stem).lower()
        path = d / f"doc_{stem}_{b.line}.py"
        path.write_text(b.code, encoding="utf-8")
        files[str(path)] = b
    cmd = [sys.executable, "-m", "mypy", "--strict", "--show-absolute-path", "--no-pretty",
           "--no-color-output", "--cache-dir", str(d / ".mypy_cache"), "tim_py", *files]
    # From the repository: an editable install's import hook is invisible to mypy.
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode in (0, 1), (f"mypy failed to run ({r.returncode}; it is in the test extra: "
                                    f"pip install -e '.[test]'):\n{r.stdout}\n{r.stderr}")
    errors: Dict[str, List[Tuple[int, str]]] = {}
    for m in re.finditer(r"^(.+?):(\d+): error: (.*)$", r.stdout, re.M):
        errors.setdefault(m.group(1), []).append((int(m.group(2)), m.group(3)))
    return Report(errors, files, r.stdout)


def located(report: Report, path: str) -> List[str]:
    """mypy's errors in a snippet file, at their line in the Markdown file."""
    b = report.files[path]
    return [f"{b.source}:{b.line + line}: {msg}" for line, msg in report.errors.get(path, [])]


def test_the_package_passes_mypy_strict(mypy_report):
    pkg = str(ROOT / "tim_py")
    found = [f"{Path(p).relative_to(ROOT)}:{line}: {msg}"
             for p, errs in mypy_report.errors.items() if p.startswith(pkg + "/") for line, msg in errs]
    assert not found, "mypy --strict tim_py:\n" + "\n".join(found)


def test_doc_examples_pass_mypy_strict(mypy_report):
    docs = [p for p, b in mypy_report.files.items() if b.source.endswith(".md") and b.source != "SELFTEST.md"]
    assert any(mypy_report.files[p].source == "README.md" for p in docs), "no ```python block found in README.md"
    found = [e for p in docs for e in located(mypy_report, p)]
    assert not found, "mypy --strict on the Python examples of the docs:\n" + "\n".join(found)


def test_methods_have_their_real_types(mypy_report):
    [path] = [p for p, b in mypy_report.files.items() if b.source == "API_SNIPPET"]
    found = [f"line {line}: {msg}" for line, msg in mypy_report.errors.get(path, [])]
    assert not found, "the API as mypy sees it:\n" + "\n".join(found)


def test_the_check_finds_an_error_and_its_line(mypy_report):
    [path] = [p for p, b in mypy_report.files.items() if b.source == "SELFTEST.md"]
    found = located(mypy_report, path)
    assert len(found) == 1 and found[0].startswith("SELFTEST.md:5: Incompatible types"), found


def test_python_blocks_extraction():
    text = "a\n```python\nx = 1\n```\n\n- item\n\n  ```python\n  y = 2\n  ```\n```sh\nls\n```\n"
    assert python_blocks("t.md", text) == [Block("t.md", 2, "x = 1\n"), Block("t.md", 8, "y = 2\n")]
