"""Hosts of one world as Linux network namespaces (the multi-host tests and the benchmark).

``Net()`` makes a bridge on this machine with the address ``net.server`` (10.213.X.1/24, X
one that no other run uses) and, for each ``net.add_host()``, a
namespace with a veth pair: its end ``eth0`` in the namespace (10.213.X.10+i), the other on the
bridge.  A private PostgreSQL cluster listening on ``net.server`` is the world's database
(:meth:`Net.start_cluster`); processes run in a host with :meth:`Host.popen`.  ``host.cut()``
takes the host's link down on the bridge side: its packets are dropped silently, as when a
cable is pulled or a machine vanishes, and its processes see no error until a timeout.
``net.close()`` kills every process left in the namespaces and removes them, the bridge and
the cluster, also after a failure (the fixtures call it in ``finally``).

It needs root (``ip netns``); :func:`unavailable` says why it cannot run, or None.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Tuple
from urllib.parse import unquote

from .pg_helper import ROOT, Cluster

PREFIX = "trh"  # namespaces trh<pid>h<i>, bridge trb<pid>, host-side links trv<pid>h<i>


def unavailable() -> Optional[str]:
    if os.geteuid() != 0:
        return ("needs root for network namespaces (ip netns): run as root, e.g. "
                "sudo .venv/bin/pytest -q tests/test_multihost.py (make test runs as root)")
    if shutil.which("ip") is None:
        subprocess.run([str(ROOT / "scripts" / "ensure-deps.sh"), "iproute2"], check=False)
        if shutil.which("ip") is None:
            return "the ip command (iproute2) is missing and could not be installed"
    return None


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")
    return r


def _remove_stale() -> None:
    """Namespaces and bridges left by runs whose process is gone (killed before cleaning up)."""
    names = [line.split()[0] for line in ip("netns", "list", check=False).stdout.splitlines() if line]
    links = [line.split()[0].split("@")[0] for line in ip("-br", "link", check=False).stdout.splitlines()]
    for name in names + links:
        if not name.startswith((PREFIX, "trb", "trv")):
            continue
        digits = name[3:].split("h")[0]
        if digits.isdigit() and not os.path.exists(f"/proc/{digits}"):
            if name in names:
                _kill_in(name)
                ip("netns", "del", name, check=False)
            else:
                ip("link", "del", name, check=False)


def _kill_in(ns: str) -> None:
    for pid in ip("netns", "pids", ns, check=False).stdout.split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


class Host:
    def __init__(self, net: "Net", i: int) -> None:
        self.net = net
        self.ns = f"{PREFIX}{os.getpid()}h{i}"
        self.link = f"trv{os.getpid()}h{i}"
        self.addr = f"{net.prefix}.{10 + i}"
        ip("netns", "add", self.ns)
        ip("link", "add", self.link, "type", "veth", "peer", "name", "eth0", "netns", self.ns)
        ip("link", "set", self.link, "master", net.bridge, "up")
        ip("-n", self.ns, "addr", "add", f"{self.addr}/24", "dev", "eth0")
        ip("-n", self.ns, "link", "set", "eth0", "up")
        ip("-n", self.ns, "link", "set", "lo", "up")

    def popen(self, argv: List[str], **kw) -> subprocess.Popen:
        """``argv`` run inside this host (``ip netns exec``), from the repository's root."""
        kw.setdefault("cwd", str(ROOT))
        return subprocess.Popen(["ip", "netns", "exec", self.ns, *argv], **kw)

    def python(self, script: str, *args: str, **kw) -> subprocess.Popen:
        """``python script args`` inside this host, with text pipes on stdin, stdout, stderr."""
        return self.popen([sys.executable, script, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, bufsize=1, **kw)

    def cut(self) -> None:
        """Take the link down on the bridge side: the host is cut off without a word."""
        ip("link", "set", self.link, "down")

    def restore(self) -> None:
        """The link up again; the neighbour entries that failed while it was down forgotten."""
        ip("link", "set", self.link, "up")
        ip("-n", self.ns, "neigh", "flush", "all", check=False)
        ip("neigh", "flush", "dev", self.net.bridge, check=False)


class Net:
    def __init__(self) -> None:
        _remove_stale()
        pid = os.getpid()
        used = ip("-br", "addr", check=False).stdout
        for k in range(250):  # a /24 no other run (another test process, the benchmark) has
            x = (pid + k) % 250 + 1
            if f" 10.213.{x}." not in used:
                break
        self.prefix = f"10.213.{x}"
        self.server = f"{self.prefix}.1"
        self.bridge = f"trb{pid}"
        self.hosts: List[Host] = []
        self.cluster: Optional[Cluster] = None
        ip("link", "add", self.bridge, "type", "bridge")
        try:
            ip("addr", "add", f"{self.server}/24", "dev", self.bridge)
            ip("link", "set", self.bridge, "up")
        except BaseException:
            self.close()
            raise

    def add_host(self) -> Host:
        h = Host(self, len(self.hosts) + 1)
        self.hosts.append(h)
        return h

    def start_cluster(self) -> Cluster:
        """A private cluster listening on 127.0.0.1 and on the bridge; its URL reaches it from the
        hosts through ``cluster.url_via(net.server)``."""
        self.cluster = Cluster.start(listen=self.server)
        return self.cluster

    def url(self) -> str:
        assert self.cluster is not None
        return self.cluster.url_via(self.server)

    def close(self) -> None:
        for h in self.hosts:
            _kill_in(h.ns)
        deadline = time.monotonic() + 5
        for h in self.hosts:
            while ip("netns", "pids", h.ns, check=False).stdout.split() and time.monotonic() < deadline:
                time.sleep(0.05)
            # the link first: a socket left retransmitting into a cut link would keep the
            # namespace, and so the link, alive after `ip netns del`
            ip("link", "del", h.link, check=False)
            ip("netns", "del", h.ns, check=False)
        self.hosts = []
        ip("link", "del", self.bridge, check=False)
        if self.cluster is not None:
            self.cluster.stop()
            self.cluster = None


def split_password(where: str) -> Tuple[str, Optional[str]]:
    """A store URI without the password of its user part, and that password (percent-decoded,
    as PGPASSWORD takes it); anything else unchanged, None."""
    scheme, sep, rest = where.partition("://")
    if not sep or not scheme.lower().startswith("postgres"):
        return where, None
    user_part, at, host_part = rest.partition("@")
    if not at or "/" in user_part or ":" not in user_part:
        return where, None
    user, _, password = user_part.partition(":")
    return f"{scheme}://{user}@{host_part}", unquote(password)


class Agent:
    """A tests/netns_agent.py process (in a host, or here when ``host`` is None), its answers and
    events read by a thread: ``call(op, ...)`` sends a command and returns its answer;
    ``wait_event(pred)`` returns the first event (a dict) matching ``pred``."""

    SCRIPT = str(ROOT / "tests" / "netns_agent.py")

    def __init__(self, host: Optional[Host], app_id: int, where: str) -> None:
        # the password reaches the agent through its environment, never its command line (ps)
        where, password = split_password(where)
        env: Dict[str, str] = dict(os.environ)
        if password is not None:
            env["PGPASSWORD"] = password
        args = [self.SCRIPT, str(app_id), where]
        if host is None:
            self.proc = subprocess.Popen([sys.executable, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True, bufsize=1, cwd=str(ROOT), env=env)
        else:
            self.proc = host.python(*args, env=env)
        self.answers: List[dict] = []
        self.events: List[dict] = []
        self.cond = threading.Condition()
        self.stderr: List[str] = []
        self.eof = False
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()
        self._next("ready", 30)

    def _read(self) -> None:
        for line in self.proc.stdout:
            obj = json.loads(line)
            with self.cond:
                (self.events if "event" in obj else self.answers).append(obj)
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def _wait(self, find, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = find()
                if got is not None:
                    return got
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    why = "the agent exited" if self.eof else f"nothing within {timeout} s"
                    raise AssertionError(f"{what}: {why}; events {self.events[-5:]}; "
                                         f"stderr {''.join(self.stderr)[-2000:]}")
                self.cond.wait(min(left, 0.5))

    def _next(self, op: str, timeout: float) -> dict:
        def find():
            for i, a in enumerate(self.answers):
                if a["op"] == op:
                    return self.answers.pop(i)
            return None
        return self._wait(find, timeout, f"answer to {op}")

    def send(self, op: str, **kw) -> None:
        self.proc.stdin.write(json.dumps({"op": op, **kw}) + "\n")
        self.proc.stdin.flush()

    def call(self, op: str, timeout: float = 60, **kw) -> dict:
        self.send(op, **kw)
        return self._next(op, timeout)

    def ok(self, op: str, timeout: float = 60, **kw) -> dict:
        a = self.call(op, timeout, **kw)
        assert a["ok"], a
        return a

    def wait_event(self, pred, timeout: float = 10, since: int = 0) -> dict:
        """The first event from index ``since`` on matching ``pred``."""
        def find():
            for e in self.events[since:]:
                if pred(e):
                    return e
            return None
        return self._wait(find, timeout, "event")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
                self.proc.wait(15)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)
