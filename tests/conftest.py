"""Shared fixtures.

Every test opens and closes its own client (one per process is allowed).  The
autouse ``no_pending_futures`` fixture records every future a client hands out
and fails the test if any is still pending at teardown, or if a client was
left open.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import NamedTuple

import pytest
import pytest_asyncio

from tim_py import TIM, _bridge
from tim_py._core import _Core

ROOT = Path(__file__).resolve().parent.parent


def sigint_default() -> None:
    """``preexec_fn`` of a child that a test interrupts with SIGINT: its default disposition
    back, in case the tests run in the background of a shell (which ignores SIGINT there, and
    an ignored SIGINT stays ignored across exec, so Python would never raise KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
APP_ID = 1400000001
KEY = "test-secret-key"

_handed_out: list = []
_handed_lock = threading.Lock()
_orig_call = _Core._call


def _recording_call(self, cfunc, args, decode, name):
    fut = _orig_call(self, cfunc, args, decode, name)
    with _handed_lock:
        _handed_out.append(fut)
    return fut


_Core._call = _recording_call


class _ErrorRecords(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def no_swallowed_errors(request):
    """Fail a test when tim_py or asyncio logged an error (a handler that raised, an exception
    never retrieved, ...): an exception that went unraised.  Tests that provoke such errors on
    purpose say so with @pytest.mark.logs_errors."""
    handler = _ErrorRecords()
    loggers = [logging.getLogger("tim_py"), logging.getLogger("asyncio")]
    for lg in loggers:
        lg.addHandler(handler)
    yield handler
    for lg in loggers:
        lg.removeHandler(handler)
    if handler.records and request.node.get_closest_marker("logs_errors") is None:
        lines = "\n".join(f"{r.name}: {r.getMessage()}" for r in handler.records[:5])
        pytest.fail(f"{len(handler.records)} error(s) logged during the test:\n{lines}")


@pytest.fixture(autouse=True)
def no_pending_futures():
    with _handed_lock:
        _handed_out.clear()
    yield
    client = _bridge.current()
    if client is not None:
        client._close_impl()
        pytest.fail(f"a client was left open: {client!r}")
    with _handed_lock:
        pending = [f for f in _handed_out if not f.done()]
        _handed_out.clear()
    assert not pending, f"{len(pending)} future(s) left pending at teardown"
    assert not _bridge.registry, f"{len(_bridge.registry)} registry entries left"


# The clients of the tests use the default in-memory store, a new one per test;
# the tests about the store on disk make their own in tmp_path.
@pytest.fixture
def tim():
    client = TIM(APP_ID)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def alice(tim):
    """A client logged in as alice, with bob and carol imported."""
    tim.admin.import_accounts(["bob", "carol"]).result(5)
    tim.login("alice", "sig").result(5)
    return tim


@pytest_asyncio.fixture
async def atim():
    from tim_py.aio import AsyncTIM

    client = AsyncTIM(APP_ID)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def children():
    """Processes a test starts (append them); killed at teardown if still running."""
    started: list = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        try:
            p.communicate(timeout=10)
        except Exception:
            pass


def spawn(code: str, *args, stdin: bool = False) -> subprocess.Popen:
    """``python -c code args...`` as a child with text pipes for stdout and stderr (and stdin when
    ``stdin``); read its lines with :func:`read_line`."""
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], cwd=str(ROOT),
                            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_line(proc: subprocess.Popen, timeout: float = 10) -> str:
    """The next line of a child's stdout, stripped; the child is killed and the test fails (with
    its stderr) when none comes within ``timeout`` seconds."""
    box: list = []
    t = threading.Thread(target=lambda: box.append(proc.stdout.readline()), daemon=True)
    t.start()
    t.join(timeout)
    if not box or not box[0]:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"no line from the child within {timeout} s; stderr:\n{err}")
    return box[0].strip()


def run_python(code: str, *args: str, timeout: float = 60, env: dict = None) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=timeout, env=e, cwd=str(ROOT))


@pytest.fixture(scope="session")
def native_lib() -> str:
    """build/native/libtimref.so, built with cmake when missing."""
    lib = ROOT / "build" / "native" / "libtimref.so"
    if not lib.exists():
        if shutil.which("cmake") is None:
            pytest.skip("cmake is not installed: cannot build build/native/libtimref.so")
        subprocess.run(["cmake", "-S", "csrc", "-B", "build/native"], cwd=ROOT, check=True,
                       capture_output=True)
        subprocess.run(["cmake", "--build", "build/native", "--target", "timref", "-j4"], cwd=ROOT,
                       check=True, capture_output=True)
    assert lib.exists()
    return str(lib)


# ---- the engines: SQLite in a directory, PostgreSQL on the private cluster ------------------------
# The PostgreSQL tests (marked pg) use the cluster named by TIMREF_TEST_PG_URL/TIMREF_TEST_PG_DIR
# (scripts/pg-cluster.sh run, make test-pg), or else one this session starts with the script and
# stops at its end: they never pass for want of a server.


def pytest_configure(config):
    config.addinivalue_line("markers", "pg: runs against the private PostgreSQL cluster "
                                       "(scripts/pg-cluster.sh)")


@pytest.fixture(scope="session")
def pg_cluster():
    from .pg_helper import Cluster

    c = Cluster.from_env()
    if c is not None:
        yield c
        return
    c = Cluster.start()
    try:
        yield c
    finally:
        c.stop()


class World(NamedTuple):
    """Where the processes of a test meet: ``TIM(world.app_id, world.where)``."""
    engine: str
    app_id: int
    where: str


ENGINES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)]


@pytest.fixture(params=ENGINES)
def world(request, tmp_path):
    """A fresh world on each engine: a new directory for SQLite, a new app ID (so a world of
    its own) in the cluster's database for PostgreSQL."""
    if request.param == "sqlite":
        return World("sqlite", APP_ID, str(tmp_path))
    from .pg_helper import fresh_app_id

    return World("postgresql", fresh_app_id(), request.getfixturevalue("pg_cluster").url)


@pytest.fixture
def agents():
    """tests/netns_agent.py processes a test starts (append them); closed, or killed, at teardown."""
    started: list = []
    yield started
    for a in started:
        try:
            a.close()
        except Exception:
            a.proc.kill()
