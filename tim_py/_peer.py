"""A peer: another user of a world, logged in from a process of its own (``tim_world.spawn``).

The test process drives the peer through two pipes with
``multiprocessing.connection.Connection`` (pickled messages, so results and
errors come back as the same ``Profile``, ``UserStatus``, ``Event`` and
``TIMError`` objects a ``TIM`` gives).  The peer's side is :func:`main`, run
as ``python -m tim_py._peer READ_FD WRITE_FD``; the test's side is
:class:`Peer`.  Both ends are this package, in processes of one user: the
pickles never come from anywhere else.

Messages, test -> peer: the configuration (a dict), then ``(id, method, args,
kwargs)``, ``method`` one of :data:`METHODS` or ``"admin.<name>"``, or
``(id, "exit", (), {})``.  Peer -> test: ``("ready", pid)`` or ``("failed",
error)`` once, then ``("reply", id, ok, value_or_error)`` per request and
``("event", Event)`` for each event, as it comes.  The peer ends when told,
or when the test process is gone (its pipe closes); it ignores SIGINT, so a
Ctrl-C in the terminal leaves its ending to the test process's teardown.
"""
from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from typing import IO, Any, Callable, Dict, List, Optional, Sequence, Tuple

from .errors import TIMError
from .types import EVENT_NAMES, Event, Profile, UserStatus

__all__ = ["Peer", "PeerError", "METHODS"]

#: The client methods a peer runs for the test (each returns a future there; the peer waits for it).
METHODS = frozenset((
    "login", "logout", "get_my_profile", "get_user_profile", "update_my_profile",
    "get_user_status", "set_self_status", "subscribe_user_status", "unsubscribe_user_status",
    "subscribe_user_info", "unsubscribe_user_info",
))

_EXIT = "exit"


class PeerError(RuntimeError):
    """A peer could not start, died, or did not answer in time; the text says which, with the
    end of what the peer wrote to its stderr."""


def _portable(e: BaseException) -> BaseException:
    """``e`` if it survives pickling, else a RuntimeError that says what it was."""
    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:
        return RuntimeError(f"{type(e).__name__}: {e}")


# ---------------------------------------------------------------------------
# The peer's side
# ---------------------------------------------------------------------------


def _run(tim: Any, method: str, args: Tuple[Any, ...], kwargs: Dict[str, Any], timeout: float) -> Any:
    if method in METHODS:
        target = getattr(tim, method)
    elif method.startswith("admin.") and not method[6:].startswith("_") and hasattr(tim.admin, method[6:]):
        target = getattr(tim.admin, method[6:])
    else:
        raise ValueError(f"a peer runs the client methods {sorted(METHODS)} and admin.<method>, "
                         f"not {method!r}")
    return target(*args, **kwargs).result(timeout)


def main(argv: Optional[Sequence[str]] = None) -> int:
    from .client import TIM

    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or not all(a.isdigit() for a in args):
        print("usage: python -m tim_py._peer READ_FD WRITE_FD (run by tim_world.spawn)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    inbox = Connection(int(args[0]), writable=False)
    outbox = Connection(int(args[1]), readable=False)
    send_lock = threading.Lock()

    def send(msg: Tuple[Any, ...]) -> None:
        with send_lock:
            try:
                outbox.send(msg)
            except (OSError, ValueError):  # the test process is gone: nobody to tell
                pass

    try:
        cfg: Dict[str, Any] = inbox.recv()
    except EOFError:
        return 0
    timeout = float(cfg["timeout"])
    try:
        tim = TIM(cfg["sdk_app_id"], cfg["data_dir"], secret_key=cfg["secret_key"],
                  device_name=cfg["device_name"])
    except Exception as e:
        send(("failed", _portable(e)))
        return 1
    with tim:
        def forward(event: Event) -> None:
            send(("event", event))

        for name in sorted(EVENT_NAMES):
            tim.on(name, forward)
        try:
            tim.login(cfg["user_id"], cfg["user_sig"]).result(timeout)
        except Exception as e:
            send(("failed", _portable(e)))
            return 1
        send(("ready", os.getpid()))
        while True:
            try:
                ident, method, a, kw = inbox.recv()
            except EOFError:
                break
            if method == _EXIT:
                break
            try:
                value = _run(tim, method, a, kw, timeout)
            except Exception as e:
                send(("reply", ident, False, _portable(e)))
            else:
                try:
                    send(("reply", ident, True, value))
                except Exception as e:  # a value that does not pickle
                    send(("reply", ident, False, _portable(e)))
    return 0


# ---------------------------------------------------------------------------
# The test's side
# ---------------------------------------------------------------------------


def _package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Peer:
    """Another user, logged in from a process of its own; made by ``tim_world.spawn(user_id)``.

    Its methods are the client's, by the same names, but they wait and return the result
    (``peer.set_self_status("away")``, ``peer.get_user_status(["alice"])`` -> ``[UserStatus]``)
    and raise the same ``TIMError``.  The events the peer receives are kept in ``events``;
    ``wait_event`` waits for one.  ``exit()`` ends it the clean way (its client closes, its user
    turns UnLogined), ``kill()`` the hard way (SIGKILL, as a crash).  Safe to use from several
    threads; each call waits at most ``timeout`` seconds (PeerError beyond).
    """

    def __init__(self, user_id: str, proc: "subprocess.Popen[bytes]", to_peer: Connection,
                 from_peer: Connection, stderr: IO[bytes], timeout: float) -> None:
        self.user_id = user_id
        self.pid = proc.pid
        self.timeout = timeout
        #: every event the peer received so far, in order (filled while the test waits on it)
        self.events: List[Event] = []
        self._proc = proc
        self._to = to_peer
        self._from: Optional[Connection] = from_peer
        self._stderr = stderr
        self._lock = threading.RLock()
        self._next = 0

    # ---- starting ---------------------------------------------------------------------

    @classmethod
    def start(cls, config: Dict[str, Any], timeout: float) -> "Peer":
        """Start a peer with ``config`` (sdk_app_id, data_dir, secret_key, device_name, user_id,
        user_sig) and wait until it is logged in; PeerError (its stderr attached) when it
        cannot, with the process already ended."""
        stderr = tempfile.TemporaryFile(prefix="tim-peer-")
        r1, w1 = os.pipe()
        try:
            r2, w2 = os.pipe()
        except BaseException:
            os.close(r1)
            os.close(w1)
            stderr.close()
            raise
        env = dict(os.environ)
        root = _package_root()  # the child imports this tim_py, installed or not
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tim_py._peer", str(r1), str(w2)], pass_fds=(r1, w2),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
        except BaseException:
            for fd in (r1, w1, r2, w2):
                os.close(fd)
            stderr.close()
            raise
        os.close(r1)
        os.close(w2)
        peer = cls(str(config["user_id"]), proc, Connection(w1, readable=False),
                   Connection(r2, writable=False), stderr, timeout)
        try:
            peer._to.send({**config, "timeout": timeout})
            msg = peer._receive(time.monotonic() + timeout + 5, "start")
            if msg[0] == "failed":
                raise msg[1]
            if msg[0] != "ready":  # pragma: no cover - the protocol says ready or failed first
                raise PeerError(f"peer {peer.user_id}: unexpected first message {msg[0]!r}")
        except BaseException:
            peer.kill()
            raise
        return peer

    # ---- the pipe -----------------------------------------------------------------------

    def _describe(self, what: str) -> str:
        rc = self._proc.poll()
        state = f"exited with {rc}" if rc is not None else "still running"
        err = self.stderr.strip()
        tail = "\n".join(err.splitlines()[-20:])
        return f"peer {self.user_id} (pid {self.pid}, {state}): {what}" + (f"; its stderr:\n{tail}" if tail else "")

    def _receive(self, deadline: float, what: str) -> Tuple[Any, ...]:
        """The next message that is not an event (events go to ``events``)."""
        while True:
            conn = self._from
            if conn is None:
                raise PeerError(self._describe(f"{what}: the peer has ended"))
            left = deadline - time.monotonic()
            try:
                if left <= 0 or not conn.poll(left):
                    raise PeerError(self._describe(f"{what}: no answer within {self.timeout} s"))
                msg: Tuple[Any, ...] = conn.recv()
            except (EOFError, OSError):
                try:
                    self._proc.wait(self.timeout)
                except subprocess.TimeoutExpired:
                    pass
                raise PeerError(self._describe(f"{what}: the peer ended")) from None
            if msg[0] == "event":
                self.events.append(msg[1])
            else:
                return msg

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Run ``method`` (a client method's name, or ``"admin.<name>"``) in the peer and return
        its result, or raise its error."""
        with self._lock:
            self._next += 1
            ident = self._next
            try:
                self._to.send((ident, method, args, kwargs))
            except (OSError, ValueError):
                raise PeerError(self._describe(f"{method}: the peer has ended")) from None
            deadline = time.monotonic() + self.timeout + 5  # the peer's own wait, then ours
            while True:
                msg = self._receive(deadline, method)
                if msg[0] == "reply" and msg[1] == ident:
                    if msg[2]:
                        return msg[3]
                    raise msg[3]

    # ---- the client's methods, waited for ---------------------------------------------------

    def login(self, user_id: str, user_sig: str) -> None:
        self.call("login", user_id, user_sig)

    def logout(self) -> None:
        self.call("logout")

    def get_my_profile(self) -> Profile:
        p: Profile = self.call("get_my_profile")
        return p

    def get_user_profile(self, user_id_list: Sequence[str]) -> List[Profile]:
        p: List[Profile] = self.call("get_user_profile", list(user_id_list))
        return p

    def update_my_profile(self, **fields: Any) -> Profile:
        p: Profile = self.call("update_my_profile", **fields)
        return p

    def get_user_status(self, user_id_list: Sequence[str]) -> List[UserStatus]:
        s: List[UserStatus] = self.call("get_user_status", list(user_id_list))
        return s

    def set_self_status(self, custom_status: str) -> None:
        self.call("set_self_status", custom_status)

    def subscribe_user_status(self, user_id_list: Sequence[str]) -> None:
        self.call("subscribe_user_status", list(user_id_list))

    def unsubscribe_user_status(self, user_id_list: Optional[Sequence[str]] = None) -> None:
        self.call("unsubscribe_user_status", None if user_id_list is None else list(user_id_list))

    def subscribe_user_info(self, user_id_list: Sequence[str]) -> None:
        self.call("subscribe_user_info", list(user_id_list))

    def unsubscribe_user_info(self, user_id_list: Optional[Sequence[str]] = None) -> None:
        self.call("unsubscribe_user_info", None if user_id_list is None else list(user_id_list))

    # ---- events -----------------------------------------------------------------------------

    def wait_event(self, name: str, match: Optional[Callable[[Any], bool]] = None,
                   timeout: Optional[float] = None) -> Any:
        """The first item of an event ``name`` the peer received (a ``UserStatus`` of
        EVENT.USER_STATUS_UPDATED, a ``Profile`` of EVENT.PROFILE_UPDATED, the data of
        EVENT.KICKED_OUT) for which ``match(item)`` is true, among those already received and
        then those to come; PeerError when none comes within ``timeout`` seconds (default: the
        peer's).  Events are kept, not consumed: match on what is new (a custom status, a nick)."""
        if name not in EVENT_NAMES:
            raise ValueError(f"name must be one of {sorted(EVENT_NAMES)}, got {name!r}")
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        with self._lock:
            seen = 0
            while True:
                for event in self.events[seen:]:
                    if event.name != name:
                        continue
                    items = event.data if isinstance(event.data, list) else [event.data]
                    for item in items:
                        if match is None or match(item):
                            return item
                seen = len(self.events)
                conn = self._from
                if conn is not None:  # what the pipe holds counts, even past the deadline
                    try:
                        if conn.poll(max(0.0, deadline - time.monotonic())):
                            msg = conn.recv()
                            if msg[0] == "event":
                                self.events.append(msg[1])
                            continue
                    except (EOFError, OSError):
                        self._close_pipes()
                        continue
                raise PeerError(self._describe(
                    f"no {name} event matching within {wait} s; received {self.events!r}"))

    # ---- ending -----------------------------------------------------------------------------

    @property
    def returncode(self) -> Optional[int]:
        """None while the peer runs; its exit status after (negative: the signal that ended it)."""
        return self._proc.poll()

    @property
    def stderr(self) -> str:
        """What the peer wrote to its stderr so far."""
        with self._lock:
            f = self._stderr
            if f.closed:
                return ""
            f.seek(0)
            return f.read().decode("utf-8", "replace")

    def _close_pipes(self) -> None:
        conn, self._from = self._from, None
        for c in (self._to, conn):
            if c is not None and not c.closed:
                c.close()

    def exit(self, timeout: Optional[float] = None) -> int:
        """Tell the peer to close its client and end; returns its exit status.  Events it
        receives until then are still added to ``events``.  A peer that does not end within
        ``timeout`` seconds is killed (PeerError)."""
        wait = self.timeout if timeout is None else timeout
        with self._lock:
            if self._proc.poll() is None and self._from is not None:
                try:
                    self._to.send((0, _EXIT, (), {}))
                except (OSError, ValueError):
                    pass
                deadline = time.monotonic() + wait
                conn = self._from
                try:
                    while True:  # read to the end: the peer may be writing events
                        left = deadline - time.monotonic()
                        if left <= 0 or not conn.poll(left):
                            break
                        msg = conn.recv()
                        if msg[0] == "event":
                            self.events.append(msg[1])
                except (EOFError, OSError):
                    pass
                try:
                    self._proc.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self.kill()
                    raise PeerError(self._describe(f"did not end within {wait} s of exit(): killed")) from None
            return self._end()

    def kill(self) -> int:
        """End the peer with SIGKILL, as a crash (its user turns Offline when the library notices
        the dead session); returns its exit status."""
        with self._lock:
            if self._proc.poll() is None:
                try:
                    self._proc.kill()
                except ProcessLookupError:  # pragma: no cover - reaped meanwhile
                    pass
            return self._end()

    def _end(self) -> int:
        rc = self._proc.wait()
        self._close_pipes()
        self._stderr.close()
        return rc

    def __repr__(self) -> str:
        rc = self._proc.poll()
        state = "running" if rc is None else f"exited {rc}"
        return f"<Peer {self.user_id!r} pid={self.pid} {state}>"


if __name__ == "__main__":
    sys.exit(main())
