"""The pytest plugin (tim_py/pytest_plugin.py, docs/pytest.md): the entry point, the tim_world
fixture and its helpers, separate worlds, teardown whatever the test did, --tim-store.

The helpers are tested here directly (the plugin is installed with tim_py, so this session has
the fixture); what is about a whole pytest run (the entry point, failures, interruptions, the
example file users copy, --tim-store) runs pytest in a subprocess on generated test files and
checks, from a hook that runs after the run's last teardown, that nothing was left behind.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tim_py import (
    EVENT,
    AdminError,
    ClientOpenError,
    InvalidIdentifierError,
    ProfileError,
    UserSigError,
    UserStatusType,
)
from tim_py.pytest_plugin import DEFAULT_APP_ID, Peer, PeerError, TIMWorld

from .conftest import ROOT

pytest_plugins = ["pytester"]

T = 10
EXAMPLE = ROOT / "docs" / "examples" / "test_with_tim_world.py"
# What an inner run is given: warnings that reveal a leak (an unclosed pipe or file, a process
# never waited for) or an exception nobody saw fail it; the configuration users have by default.
INNER_ARGS = ["-p", "no:schemathesis", "-p", "no:cacheprovider", "-q",
              "-o", "asyncio_default_fixture_loop_scope=function",
              "-W", "error::ResourceWarning",
              "-W", "error::pytest.PytestUnraisableExceptionWarning",
              "-W", "error::pytest.PytestUnhandledThreadExceptionWarning"]


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended and been reaped (a zombie is not gone)."""
    return not os.path.exists(f"/proc/{pid}")


def no_children() -> bool:
    """Whether this process has no child left, running or unreaped."""
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


# ---- the helpers, in this session --------------------------------------------------------------


def test_world_attributes_and_a_logged_in_client(tim_world: TIMWorld) -> None:
    assert tim_world.sdk_app_id == DEFAULT_APP_ID and tim_world.store is None
    assert os.path.isdir(tim_world.data_dir) and os.listdir(tim_world.data_dir) == []
    tim = tim_world.client("alice")
    assert (tim.login_user_id, tim.sdk_app_id, tim.data_dir) == ("alice", tim_world.sdk_app_id, tim_world.data_dir)
    assert os.listdir(tim_world.data_dir)  # the world is on disk, where other processes meet it
    # the world's key is enforced: a UserSig made with another key is refused
    tim.logout().result(T)
    with pytest.raises(UserSigError):
        tim.login("alice", "not a usersig").result(T)
    tim.login("bob", tim_world.user_sig("bob")).result(T)
    # one client per process: the error says how to get another user
    with pytest.raises(ClientOpenError, match="tim_world.spawn"):
        tim_world.client("carol")
    tim.close()  # closing it early is fine; then the next one opens
    assert tim_world.client("carol").login_user_id == "carol"


async def test_async_client(tim_world: TIMWorld) -> None:
    tim = await tim_world.async_client("alice", device_name="Pad")
    bob = tim_world.spawn("bob")
    [s] = bob.get_user_status(["alice"])
    assert (s.status_type, s.online_devices) == (UserStatusType.ONLINE, ("Pad",))
    assert (await tim.get_my_profile()).user_id == "alice"


def test_a_client_whose_login_fails_is_closed(tim_world: TIMWorld) -> None:
    with pytest.raises(InvalidIdentifierError):
        tim_world.client("")
    assert tim_world.client("alice").login_user_id == "alice"  # the slot is free again


def test_peer_calls_events_and_errors(tim_world: TIMWorld) -> None:
    alice = tim_world.client("alice")
    bob = tim_world.spawn("bob", device_name="Phone")
    assert isinstance(bob, Peer) and not gone(bob.pid) and bob.returncode is None
    [s] = alice.get_user_status(["bob"]).result(T)
    assert (s.status_type, s.online_devices) == (UserStatusType.ONLINE, ("Phone",))

    bob.subscribe_user_status(["alice"])
    bob.subscribe_user_info(["alice"])
    alice.set_self_status("here").result(T)
    alice.update_my_profile(nick="Alice").result(T)
    st = bob.wait_event(EVENT.USER_STATUS_UPDATED, lambda s: s.custom_status == "here")
    assert (st.user_id, st.status_type) == ("alice", UserStatusType.ONLINE)
    assert bob.wait_event(EVENT.PROFILE_UPDATED, lambda p: p.nick == "Alice").user_id == "alice"
    assert {e.name for e in bob.events} == {EVENT.USER_STATUS_UPDATED, EVENT.PROFILE_UPDATED}
    # timeout=0: a look at what has come, the pipe included
    alice.set_self_status("again").result(T)
    deadline = time.monotonic() + T
    while True:
        try:
            bob.wait_event(EVENT.USER_STATUS_UPDATED, lambda s: s.custom_status == "again", timeout=0)
            break
        except PeerError:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    assert bob.update_my_profile(nick="Bob").nick == "Bob"
    assert bob.get_my_profile().nick == "Bob"
    assert bob.call("admin.check_accounts", ["alice", "zed"]) == {"alice": True, "zed": False}

    # the peer's errors are the client's, raised here; the peer goes on
    with pytest.raises(ProfileError) as e:
        bob.get_user_profile(["nobody"])
    assert e.value.code == 40003
    with pytest.raises(TypeError, match="nick"):
        bob.update_my_profile(nick=5)
    with pytest.raises(ValueError, match="not '_close_impl'"):
        bob.call("_close_impl")
    with pytest.raises(ValueError, match="must be one of"):
        bob.wait_event("onNothing")
    with pytest.raises(PeerError, match="no onProfileUpdated event matching within 0.2 s"):
        bob.wait_event(EVENT.PROFILE_UPDATED, lambda p: p.nick == "never", timeout=0.2)

    # exit: its client closes (its user turns UnLogined), the process ends and is reaped
    assert bob.exit() == 0 and gone(bob.pid)
    [s] = alice.get_user_status(["bob"]).result(T)
    assert s.status_type is UserStatusType.UNLOGINED
    with pytest.raises(PeerError, match="has ended"):
        bob.set_self_status("late")
    assert bob.exit() == 0 and bob.kill() == 0  # again: nothing more to do


def test_peer_kicked(tim_world: TIMWorld) -> None:
    bob = tim_world.spawn("bob")
    carol = tim_world.spawn("carol")
    carol.call("admin.kick", "bob")
    assert bob.wait_event(EVENT.KICKED_OUT) == {"type": "REST_API_Kick"}
    assert [s.status_type for s in carol.get_user_status(["bob"])] == [UserStatusType.UNLOGINED]
    assert bob.exit() == 0


def test_peer_kill_is_a_crash(tim_world: TIMWorld) -> None:
    alice = tim_world.client("alice")
    bob = tim_world.spawn("bob")
    alice.subscribe_user_status(["bob"]).result(T)
    with alice.events(EVENT.USER_STATUS_UPDATED, timeout=T) as events:
        assert bob.kill() == -signal.SIGKILL and gone(bob.pid)
        for event in events:
            [s] = event.data
            assert s.user_id == "bob"
            if s.status_type is not UserStatusType.ONLINE:
                assert s.status_type is UserStatusType.OFFLINE
                break
        else:
            pytest.fail(f"bob was not turned Offline within {T} s")


def test_a_peer_that_does_not_end_is_killed(tim_world: TIMWorld) -> None:
    bob = tim_world.spawn("bob")
    os.kill(bob.pid, signal.SIGSTOP)  # it can no longer answer, nor end by itself
    t0 = time.monotonic()
    with pytest.raises(PeerError, match=r"peer bob \(pid \d+, exited with -9\): did not end within 0.3 s"):
        bob.exit(timeout=0.3)
    assert time.monotonic() - t0 < 3 and gone(bob.pid) and bob.returncode == -signal.SIGKILL


def test_a_peer_that_cannot_log_in_is_ended(tim_world: TIMWorld) -> None:
    with pytest.raises(InvalidIdentifierError):
        tim_world.spawn("x" * 40)
    assert no_children()


def test_peers_driven_from_threads(tim_world: TIMWorld) -> None:
    import threading

    peers = [tim_world.spawn(f"u{i}") for i in range(3)]
    bob = peers[0]
    errors: list = []

    def work(i: int) -> None:
        try:
            for n in range(5):  # every thread also calls the one shared peer
                peers[i].set_self_status(f"{i}.{n}")
                assert [s.user_id for s in bob.get_user_status([f"u{i}"])] == [f"u{i}"]
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sorted(s.custom_status for s in bob.get_user_status(["u0", "u1", "u2"])) == ["0.4", "1.4", "2.4"]


def snapshot(*accounts: dict) -> dict:
    return {"Format": "timref-world", "Version": 1, "SDKAppID": 0, "Accounts": list(accounts)}


def test_seed(tim_world: TIMWorld, tmp_path: Path) -> None:
    bob = {"UserID": "bob", "Profile": {"Tag_Profile_IM_Nick": "Bob"}}
    assert tim_world.seed(snapshot(bob, {"UserID": "carol"})) == 2  # through a client of its own
    # a bad entry: refused whole, named, nothing changed
    with pytest.raises(ProfileError, match=r"Accounts\[1\] \(UserID \"zed\"\): Tag_Profile_IM_Gender"):
        tim_world.seed(snapshot({"UserID": "dave"}, {"UserID": "zed", "Profile": {"Tag_Profile_IM_Gender": 7}}))
    bad = tmp_path / "bad.json"
    bad.write_text('{"Format": "something else"}')
    with pytest.raises(ValueError, match="not a world snapshot"):
        tim_world.seed(bad)
    with pytest.raises(AdminError, match="UserID"):
        tim_world.seed(snapshot({"Profile": {}}))
    with pytest.raises(FileNotFoundError):
        tim_world.seed(tmp_path / "missing.json")
    with pytest.raises(TypeError, match="snapshot"):
        tim_world.seed(b"{}")  # type: ignore[arg-type]
    alice = tim_world.client("alice")  # now through this one
    assert alice.admin.check_accounts(["bob", "carol", "dave"]).result(T) == \
        {"bob": True, "carol": True, "dave": False}
    good = tmp_path / "good.json"
    good.write_text(json.dumps(snapshot(bob, {"UserID": "alice"})))
    assert tim_world.seed(good) == 2
    assert alice.admin.check_accounts(["bob", "carol"]).result(T) == {"bob": True, "carol": False}
    assert alice.get_my_profile().result(T).user_id == "alice"  # her session went on


async def test_seed_with_an_async_client_open(tim_world: TIMWorld) -> None:
    tim = await tim_world.async_client("alice")
    with pytest.raises(RuntimeError, match="seed before async_client"):
        tim_world.seed(snapshot())
    assert await tim.admin.world_import(snapshot({"UserID": "alice"}, {"UserID": "bob"})) == 2


# ---- whole runs, in a subprocess ---------------------------------------------------------------


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytester, whose runs put their temporary directories (the worlds') in its ``tmp``, to be
    found (or not) afterwards."""
    tmp = pytester.path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    return pytester


def run_inner(inner: pytest.Pytester, *args: str) -> pytest.RunResult:
    return inner.runpytest_subprocess(*INNER_ARGS, *args, timeout=120)


# Records what each test got (pids, directories) and, after the run's last teardown, what is
# left of it: a hook that runs after pytest's own sessionfinish, which ends the fixtures.
RECORDER = """
import json, os, pytest, tim_py._bridge

RECORD = {"pids": [], "dirs": []}


@pytest.fixture
def record():
    return RECORD


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    def alive(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] != "Z" or "zombie"
        except FileNotFoundError:
            return False
    left = {"pids": [p for p in RECORD["pids"] if alive(p)],
            "dirs": [d for d in RECORD["dirs"] if os.path.exists(d)],
            "client": repr(tim_py._bridge.current()) if tim_py._bridge.current() else None,
            "tmp": sorted(os.listdir(os.environ["TMPDIR"])),
            "recorded": RECORD}
    with open(os.path.join(str(session.config.rootpath), "left.json"), "w") as f:
        json.dump(left, f)
"""


def leftovers(inner: pytest.Pytester) -> dict:
    left = json.loads((inner.path / "left.json").read_text())
    assert left["recorded"]["pids"], left  # the run did record its processes
    return left


def assert_nothing_left(left: dict) -> None:
    assert (left["pids"], left["dirs"], left["client"], left["tmp"]) == ([], [], None, []), left


def test_entry_point_installed(tmp_path: Path) -> None:
    from importlib.metadata import entry_points

    assert [e.value for e in entry_points(group="pytest11") if e.name == "tim_py"] == ["tim_py.pytest_plugin"]
    # a fresh pytest, in a directory with no configuration, no -p: the plugin is there
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:schemathesis", "--help"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "--tim-store=URI" in r.stdout and "tim_store (string)" in r.stdout
    # (the runs below give no -p either: their tim_world comes through the entry point)


def doc_tests() -> dict:
    """The tests the docs show: every ```python block of docs/pytest.md and of the README's
    section on the plugin, as test files."""
    from .test_typing import python_blocks

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Testing with tim_py"):]
    section = section[:section.index("\n## ", 1)]
    blocks = python_blocks("docs/pytest.md", (ROOT / "docs" / "pytest.md").read_text(encoding="utf-8"))
    blocks += python_blocks("README.md", section)
    return {f"test_doc_{i}": b.code for i, b in enumerate(blocks)}


def test_the_example_file_as_users_copy_it(inner: pytest.Pytester) -> None:
    inner.makeconftest(RECORDER)
    shutil.copy(EXAMPLE, inner.path / EXAMPLE.name)
    docs = doc_tests()
    assert len(docs) == 4
    inner.makepyfile(**docs)
    # the example as it is, then one more test of this run that records the worlds' pids and
    # directories (the example's own were ended by then: the check covers every test)
    inner.makepyfile(test_zz_record="""
        def test_record(tim_world, record):
            peer = tim_world.spawn("z")
            record["pids"].append(peer.pid)
            record["dirs"].append(tim_world.data_dir)
    """)
    r = run_inner(inner)
    r.assert_outcomes(passed=7 + 4)
    assert_nothing_left(leftovers(inner))


FAILING = """
import os, signal, pytest
from tim_py import TIM


def note(world, record, *peers):
    record["pids"].extend(p.pid for p in peers)
    record["dirs"].append(world.data_dir)


def test_fails(tim_world, record):
    alice = tim_world.client("alice")
    note(tim_world, record, tim_world.spawn("bob"), tim_world.spawn("carol"))
    alice.admin.import_account("dora").result(10)
    assert False, "fails on purpose"


def test_second_world_is_new(tim_world, record):
    # the first test's client was closed (else: one per process) and its world is not this one
    alice = tim_world.client("alice")
    note(tim_world, record, tim_world.spawn("bob"))
    assert alice.admin.check_accounts(["dora"]).result(10) == {"dora": False}
    assert len(record["dirs"]) == 2 and record["dirs"][0] != record["dirs"][1]
    assert not os.path.exists(record["dirs"][0])


@pytest.fixture
def half_way(tim_world, record):
    note(tim_world, record, tim_world.spawn("eve"))
    tim_world.client("alice")
    raise RuntimeError("setup fails half-way on purpose")


def test_setup_errors(half_way):
    pass


def test_errors_with_a_stuck_call(tim_world, record):
    tim = tim_world.client("alice")
    note(tim_world, record, tim_world.spawn("frank"))
    tim.get_user_status(["frank"])  # left pending: the teardown still closes the client
    raise KeyError("errors on purpose")


async def test_async_fails(tim_world, record):
    tim = await tim_world.async_client("alice")
    note(tim_world, record, tim_world.spawn("gina"))
    tim.get_my_profile()  # never awaited
    assert False, "fails on purpose"
"""


def test_teardown_after_failures_and_errors(inner: pytest.Pytester) -> None:
    inner.makeconftest(RECORDER)
    inner.makepyfile(test_failing=FAILING)
    r = run_inner(inner, "-o", "asyncio_mode=auto")
    r.assert_outcomes(passed=1, failed=3, errors=1)
    out = r.stdout.str()
    assert "fails on purpose" in out and "setup fails half-way on purpose" in out and "errors on purpose" in out
    left = leftovers(inner)
    assert len(left["recorded"]["pids"]) == 6
    assert_nothing_left(left)


INTERRUPTED = """
import os, signal, time


def test_interrupted(tim_world, record):
    tim_world.client("alice")
    record["pids"].append(tim_world.spawn("bob").pid)
    record["dirs"].append(tim_world.data_dir)
    # as Ctrl-C in the terminal (Python's handler first: a shell running the tests in its
    # background left SIGINT ignored, and the inner pytest inherited that)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(30)


def test_never_runs(tim_world):
    pass
"""


def test_teardown_when_interrupted(inner: pytest.Pytester) -> None:
    inner.makeconftest(RECORDER)
    inner.makepyfile(test_interrupted=INTERRUPTED)
    r = run_inner(inner)
    assert r.ret == pytest.ExitCode.INTERRUPTED
    r.stdout.fnmatch_lines(["*KeyboardInterrupt*"])
    assert_nothing_left(leftovers(inner))


KILLED = """
import os, signal


def test_killed(tim_world):
    peer = tim_world.spawn("bob")
    with open(os.path.join(os.environ["TMPDIR"], "..", "pid"), "w") as f:
        f.write(str(peer.pid))
    os.kill(os.getpid(), signal.SIGKILL)  # no teardown at all
"""


def test_peers_end_when_pytest_is_killed(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_killed=KILLED)
    r = run_inner(inner)
    assert r.ret == -signal.SIGKILL
    pid = int((inner.path / "pid").read_text())
    deadline = time.monotonic() + T
    while not gone(pid) and time.monotonic() < deadline:  # its pipe closed: it ends on its own
        time.sleep(0.05)
    assert gone(pid)
    for d in (inner.path / "tmp").iterdir():  # the world's directory: nothing removed it
        shutil.rmtree(d)


def test_tim_store_must_be_a_store_uri(inner: pytest.Pytester) -> None:
    inner.makepyfile(test_x="def test_x(): pass")
    r = run_inner(inner, "--tim-store", "/some/dir")
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines(["*--tim-store takes a PostgreSQL URI*got '/some/dir'*"])
    inner.makeini("[pytest]\ntim_store = sqlite:///x\n")
    r = run_inner(inner)
    assert r.ret == pytest.ExitCode.USAGE_ERROR
    r.stderr.fnmatch_lines(["*the ini option tim_store takes a PostgreSQL URI*"])


STORE_RECORD = """
def test_record(tim_world, record):
    record["pids"].append(tim_world.spawn("zed").pid)
    record.setdefault("apps", []).append(tim_world.sdk_app_id)
    assert tim_world.data_dir == tim_world.store
"""


@pytest.mark.pg
def test_tim_store_on_postgresql(inner: pytest.Pytester, pg_cluster) -> None:
    inner.makeconftest(RECORDER + """
@pytest.fixture(autouse=True)
def _apps(tim_world, record):
    record.setdefault("apps", []).append(tim_world.sdk_app_id)
""")
    shutil.copy(EXAMPLE, inner.path / EXAMPLE.name)
    inner.makepyfile(test_zz_record=STORE_RECORD)
    r = run_inner(inner, "--tim-store", pg_cluster.url, "-v")
    r.assert_outcomes(passed=7)
    # the password is never shown
    assert pg_cluster.password not in r.stdout.str() + r.stderr.str()
    r.stdout.fnmatch_lines(["tim_world: store postgresql://timref:***@*"])
    left = leftovers(inner)
    assert_nothing_left(left)  # no temporary directory either
    apps = left["recorded"]["apps"]
    assert len(set(apps)) == 7, apps  # a world of its own for each test (the last one counted twice)
    # each world removed after its test (tim_py.remove_world): the cluster's catalog holds
    # neither its schema nor its row in the registry
    schemas = ", ".join(f"'timref_{a}'" for a in set(apps))
    assert pg_cluster.sql(f"SELECT count(*) FROM pg_namespace WHERE nspname IN ({schemas})") == ["0"]
    ids = ", ".join(str(a) for a in set(apps))
    assert pg_cluster.sql(f"SELECT count(*) FROM timref.app WHERE app_id IN ({ids})") == ["0"]
