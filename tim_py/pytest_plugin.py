"""The pytest plugin shipped with tim_py: a fresh world for each test (docs/pytest.md).

Installed with the package (entry point ``pytest11``: ``tim_py``), it gives tests the
``tim_world`` fixture: a world of its own for one test, removed after it, with helpers to open
a client logged in as a user (``tim_world.client``, ``tim_world.async_client``) and to run other
users in processes of their own (``tim_world.spawn``).  Whatever the test does, at its end
every client it got is closed, every peer process ended and reaped, and the world removed,
also when the test fails, errors or is interrupted.

Where the worlds live:

* by default, each in a temporary directory of its own (removed after the test), with the app
  id :data:`DEFAULT_APP_ID`;
* with ``--tim-store URI`` (or the ini option ``tim_store``), a PostgreSQL URI, all on that
  database, each test with an app id of its own (:class:`AppIds`); its world is removed after
  the test, schema and all (:func:`tim_py.remove_world`).
"""
from __future__ import annotations

import itertools
import os
import secrets
import shutil
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Union

import pytest

from ._peer import Peer, PeerError
from ._storeurl import is_store_url, redact
from .client import TIM
from .errors import ClientOpenError, InvalidParameterError
from .usersig import gen_user_sig

if TYPE_CHECKING:
    from .aio import AsyncTIM

__all__ = ["TIMWorld", "Peer", "PeerError", "DEFAULT_APP_ID", "AppIds"]

#: the app id of a world in a temporary directory (a directory holds one world: any id will do)
DEFAULT_APP_ID = 1400000001
#: seconds a helper waits for a call, a login, a peer's answer or its end
DEFAULT_TIMEOUT = 10.0
#: how long a user's UserSig made by the world is valid, in seconds
SIG_EXPIRE = 86400
_APP_ID_BASE = 1 << 52
_RUN_BITS = 31
_TEST_BITS = 20


class AppIds:
    """The app ids of one test run's worlds on a shared store: ``2**52 + run * 2**20 + n`` for
    the n-th world of the run, ``run`` a random number of 31 bits drawn once per process (so
    the processes of ``pytest -n`` and runs on other hosts do not meet).  Below 2**53: a JSON
    number any reader keeps exact."""

    def __init__(self) -> None:
        self._base = _APP_ID_BASE + (secrets.randbits(_RUN_BITS) << _TEST_BITS)
        self._next = itertools.count(1)
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            n = next(self._next)
        if n >= 1 << _TEST_BITS:
            raise RuntimeError(f"tim_world: more than {(1 << _TEST_BITS) - 1} worlds in one run")
        return self._base + n


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tim_py", "tim_py worlds (tim_world fixture)")
    group.addoption(
        "--tim-store", metavar="URI", default=None,
        help="put every test's world on this PostgreSQL store (postgresql://...), each with an app "
             "id of its own; default: a temporary directory per test")
    parser.addini("tim_store", "the PostgreSQL store URI of --tim-store, when it is not given", default="")


_STORE = pytest.StashKey[Optional[str]]()
_IDS = pytest.StashKey[AppIds]()


def pytest_configure(config: pytest.Config) -> None:
    store = config.getoption("tim_store", None)
    source = "--tim-store"
    if store is None:
        store = str(config.getini("tim_store") or "") or None
        source = "the ini option tim_store"
    if store is not None and not is_store_url(store):
        raise pytest.UsageError(
            f"{source} takes a PostgreSQL URI (postgresql://user:password@host:port/db), got "
            f"{redact(store)!r}; without it every test gets a temporary directory of its own")
    config.stash[_STORE] = store
    config.stash[_IDS] = AppIds()


def pytest_report_header(config: pytest.Config) -> Optional[str]:
    store = config.stash.get(_STORE, None)
    return f"tim_world: store {redact(store)}" if store else None


class TIMWorld:
    """A world for one test (the ``tim_world`` fixture).

    ``data_dir`` is what a client opens (a directory, or the store's URI), ``sdk_app_id`` the
    app, ``secret_key`` the app's key: every client the world opens checks UserSigs with it, and
    ``user_sig(user_id)`` makes one.  ``client(user_id)`` / ``await async_client(user_id)`` give
    this process's client logged in as a user (one per process, as the C SDK); ``spawn(user_id)``
    runs another user in a process of its own.  ``seed(snapshot)`` fills the world.
    """

    def __init__(self, sdk_app_id: int, data_dir: str, *, store: Optional[str] = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.sdk_app_id = sdk_app_id
        self.data_dir = data_dir
        #: the shared store's URI, or None for a world in a temporary directory of its own
        self.store = store
        self.secret_key = secrets.token_hex(16)
        #: seconds each helper waits (a call, a login, a peer's answer or its end)
        self.timeout = timeout
        self._lock = threading.Lock()
        self._clients: List[Any] = []
        self._peers: List[Peer] = []
        self._ended = False

    def __repr__(self) -> str:
        return f"<TIMWorld sdk_app_id={self.sdk_app_id} data_dir={redact(self.data_dir)!r}>"

    # ---- users ---------------------------------------------------------------------

    def user_sig(self, user_id: str, expire: int = SIG_EXPIRE) -> str:
        """A UserSig of ``user_id`` for this world's app and key."""
        return gen_user_sig(self.sdk_app_id, self.secret_key, user_id, expire)

    def _check_open(self) -> None:
        if self._ended:
            raise RuntimeError("this tim_world has ended (its test is over)")

    def _options(self, device_name: Optional[str]) -> Dict[str, Any]:
        return {"secret_key": self.secret_key, "device_name": device_name}

    @staticmethod
    def _one_per_process(e: ClientOpenError) -> ClientOpenError:
        return ClientOpenError(f"{e.desc}; tim_world.spawn(user_id) runs another user in a process of its own")

    def client(self, user_id: str, *, device_name: Optional[str] = None) -> TIM:
        """A ``TIM`` on this world, logged in as ``user_id`` (created on first login), closed
        at the end of the test (closing it earlier is fine).  One per process, as the C SDK:
        close it before asking for another."""
        self._check_open()
        try:
            tim = TIM(self.sdk_app_id, self.data_dir, **self._options(device_name))
        except ClientOpenError as e:
            raise self._one_per_process(e) from None
        with self._lock:
            self._clients.append(tim)
        try:
            tim.login(user_id, self.user_sig(user_id)).result(self.timeout)
        except BaseException:
            tim.close()
            raise
        return tim

    async def async_client(self, user_id: str, *, device_name: Optional[str] = None) -> "AsyncTIM":
        """An ``AsyncTIM`` on this world bound to the running loop, logged in as ``user_id``,
        closed at the end of the test; ``client()``'s rules otherwise."""
        import asyncio

        from .aio import AsyncTIM

        self._check_open()
        try:
            tim = AsyncTIM(self.sdk_app_id, self.data_dir, **self._options(device_name))
        except ClientOpenError as e:
            raise self._one_per_process(e) from None
        with self._lock:
            self._clients.append(tim)
        try:
            await asyncio.wait_for(tim.login(user_id, self.user_sig(user_id)), self.timeout)
        except BaseException:
            await tim.close()
            raise
        return tim

    def spawn(self, user_id: str, *, device_name: Optional[str] = None) -> Peer:
        """Another user: a process of its own with a client on this world, logged in as
        ``user_id`` when this returns.  Drive it with the client's methods (they wait and return
        the result), read the events it receives (``events``, ``wait_event``), end it with
        ``exit()`` or ``kill()``; it is ended at the end of the test in any case."""
        self._check_open()
        config = {"sdk_app_id": self.sdk_app_id, "data_dir": self.data_dir, "user_id": user_id,
                  "user_sig": self.user_sig(user_id), **self._options(device_name)}
        peer = Peer.start(config, self.timeout)
        with self._lock:
            self._peers.append(peer)
        return peer

    # ---- the world's contents ---------------------------------------------------------

    def seed(self, snapshot: Union[str, "os.PathLike[str]", Dict[str, Any]]) -> int:
        """Make the world the snapshot's: a snapshot document (a dict, docs/snapshots.md) or the
        path of a snapshot file (``tim-py world export FILE`` writes one); returns the number of
        accounts it holds.  The import replaces the world: accounts the snapshot does not hold
        are removed (their sessions kicked), so seed first, then open clients and peers.

        It goes through this world's open ``TIM`` when the test has one (from ``client()``),
        else through a client opened for the import and closed after it.  A bad snapshot
        changes nothing and raises what ``admin.world_import`` raises (the entry named), or
        ValueError / OSError for a file that is not a snapshot."""
        from . import snapshot as snapshots

        self._check_open()
        if isinstance(snapshot, dict):
            doc = snapshot
        elif isinstance(snapshot, (str, os.PathLike)):
            doc = snapshots.read(snapshot)
        else:
            raise TypeError(f"seed() takes a snapshot (a dict) or the path of a snapshot file, "
                            f"got {type(snapshot).__name__}")
        with self._lock:
            open_clients = [c for c in self._clients if not c.closed]
        if open_clients and not isinstance(open_clients[0], TIM):
            raise RuntimeError(
                "seed() cannot wait on this world's AsyncTIM from its own loop: seed before "
                "async_client(), or await tim.admin.world_import(tim_py.snapshot.read(path))")
        if open_clients:
            n: int = open_clients[0].admin.world_import(doc).result(self.timeout)
            return n
        try:
            tim = TIM(self.sdk_app_id, self.data_dir, secret_key=self.secret_key)
        except ClientOpenError as e:
            raise ClientOpenError(f"{e.desc}; seed() opens a client of its own when the test has "
                                  "none open: seed before opening one") from None
        with tim:
            n = tim.admin.world_import(doc).result(self.timeout)
            return n

    # ---- the end ---------------------------------------------------------------------------

    def _teardown(self, temp_dir: Optional[str]) -> None:
        """End everything the test got, in order: peers, clients, the world.  Every step runs;
        the first failure is raised after the last."""
        self._ended = True
        errors: List[BaseException] = []
        with self._lock:
            peers, self._peers = self._peers, []
            clients, self._clients = self._clients, []
        for peer in peers:
            try:
                peer.exit()
            except BaseException as e:
                errors.append(e)
        for client in clients:
            try:
                client._close_impl()  # TIM and AsyncTIM alike, from this (synchronous) teardown
            except BaseException as e:
                errors.append(e)
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
            if os.path.exists(temp_dir):
                errors.append(OSError(f"tim_world: cannot remove {temp_dir}"))
        else:
            try:
                self._remove()
            except BaseException as e:
                errors.append(e)
        if errors:
            raise errors[0]

    def _remove(self) -> None:
        """Remove the world from the store.  A peer that was just ended may still hold it open
        for a moment (the server ends its connection when it sees the socket closed): retried
        within the timeout while the refusal says the world is open."""
        from .world import remove_world

        deadline = time.monotonic() + self.timeout
        while True:
            try:
                remove_world(self.sdk_app_id, self.data_dir)
                return
            except InvalidParameterError as e:
                if "has it open" not in (e.reason or "") or time.monotonic() >= deadline:
                    raise
            time.sleep(0.02)


@pytest.fixture
def tim_world(request: pytest.FixtureRequest) -> Iterator[TIMWorld]:
    """A fresh world for one test, removed after it (docs/pytest.md)."""
    store = request.config.stash.get(_STORE, None)
    if store is not None:
        world = TIMWorld(request.config.stash[_IDS].take(), store, store=store)
        temp_dir = None
    else:
        temp_dir = tempfile.mkdtemp(prefix="tim-world-")
        world = TIMWorld(DEFAULT_APP_ID, temp_dir)
    try:
        yield world
    finally:
        world._teardown(temp_dir)
