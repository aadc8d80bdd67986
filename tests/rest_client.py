"""A small REST client written from the vendor's documentation, and `tim-py serve` as a child.

The vendor's request (RESTful API Overview): ``POST https://<domain>/v4/<servicename>/<command>
?sdkappid=<SDKAppID>&identifier=<admin>&usersig=<UserSig>&random=<0..4294967295>&contenttype=json``
with a JSON body; every answer is HTTP 200 with ``ActionStatus``, ``ErrorCode`` and ``ErrorInfo``.
:class:`RestClient` builds exactly that URL with ``urllib.parse.urlencode`` and sends it with
``urllib.request``, a plain HTTP client that knows nothing of tim_py.  :func:`send` speaks HTTP/1.1
over a raw socket for what urllib will not send (other methods, broken requests).

:class:`ServerProcess` runs ``python -m tim_py serve --port 0`` and reads the base URL it prints.
Not a test module.
"""
from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
APP_ID = 1400000001
ADMIN = "administrator"


class Answer:
    """An HTTP answer: status, headers (lower-case names), the body as sent, and it decoded."""

    def __init__(self, status: int, headers: Dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json: Any = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def code(self) -> Any:
        return self.json.get("ErrorCode") if isinstance(self.json, dict) else None

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.body[:400]!r})"


class RestClient:
    """The app server's side: an admin calling the REST API of ``base_url``."""

    def __init__(self, base_url: str, sdkappid: int = APP_ID, identifier: str = ADMIN,
                 usersig: str = "any-sig") -> None:
        self.base_url = base_url.rstrip("/")
        self.sdkappid = sdkappid
        self.identifier = identifier
        self.usersig = usersig

    def url(self, command: str, **over: Any) -> str:
        """``command`` ("v4/im_open_login_svc/account_import") with the documented query string;
        ``over`` replaces a parameter (None leaves it out)."""
        params: Dict[str, Any] = {"sdkappid": self.sdkappid, "identifier": self.identifier,
                                  "usersig": self.usersig, "random": random.randint(0, 4294967295),
                                  "contenttype": "json"}
        params.update(over)
        query = urllib.parse.urlencode([(k, str(v)) for k, v in params.items() if v is not None])
        return f"{self.base_url}/{command.lstrip('/')}?{query}"

    def post(self, command: str, body: Any, timeout: float = 30, **over: Any) -> Answer:
        """POST ``body`` (a dict or list is sent as JSON, bytes as they are)."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url(command, **over), data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())

    def call(self, command: str, body: Any, **over: Any) -> Dict[str, Any]:
        """POST, check the envelope the vendor documents, return the answer's object."""
        a = self.post(command, body, **over)
        return envelope(a)

    def ok(self, command: str, body: Any) -> Dict[str, Any]:
        d = self.call(command, body)
        assert d["ErrorCode"] == 0 and d["ActionStatus"] == "OK", d
        return d


def envelope(a: Answer) -> Dict[str, Any]:
    """HTTP 200, JSON, ``{"ActionStatus", "ErrorCode", "ErrorInfo", ...}`` with OK exactly for 0."""
    assert a.status == 200, a
    assert a.headers.get("content-type", "").startswith("application/json"), a.headers
    d = a.json
    assert isinstance(d, dict), a
    assert isinstance(d.get("ErrorCode"), int) and isinstance(d.get("ErrorInfo"), str), a
    assert d.get("ActionStatus") == ("OK" if d["ErrorCode"] == 0 else "FAIL"), a
    return d


def send(port: int, raw: bytes, timeout: float = 15) -> Optional[Answer]:
    """Send ``raw`` bytes as they are to 127.0.0.1:``port``; the answer (None when the
    connection closed before one came)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        return read_answer(s)


def read_answer(s: socket.socket) -> Optional[Answer]:
    """One HTTP answer from ``s`` (Content-Length framed; a 100 Continue skipped), or None when
    the peer closed (or reset) the connection before a whole one came."""
    buf = b""
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    return None
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            if status != 100:
                break
        headers = {k.strip().lower(): v.strip()
                   for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
        n = int(headers.get("content-length", "0"))
        while len(buf) < n:
            chunk = s.recv(65536)
            if not chunk:
                return None
            buf += chunk
    except ConnectionResetError:
        return None
    return Answer(status, headers, buf[:n])


def closed_by_peer(s: socket.socket, timeout: float = 5) -> bool:
    """Whether the peer closes ``s`` (EOF or reset) within ``timeout`` seconds, reading and
    dropping what else comes."""
    s.settimeout(timeout)
    try:
        while True:
            if not s.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except (socket.timeout, TimeoutError):
        return False


def request_bytes(method: str, target: str, body: bytes = b"", headers: Optional[Dict[str, str]] = None,
                  port: int = 0) -> bytes:
    """An HTTP/1.1 request as bytes, Content-Length set unless ``headers`` frame it otherwise."""
    h = {"Host": f"127.0.0.1:{port}", "Content-Type": "application/json"}
    if headers is None or "Transfer-Encoding" not in headers:
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    return head.encode("latin-1") + body


class ServerProcess:
    """``python -m tim_py serve --port 0 ARGS...`` on ``data_dir``; ``url`` is what it printed."""

    def __init__(self, data_dir: Optional[Path], *args: str, timeout: float = 60) -> None:
        cmd = [sys.executable, "-m", "tim_py", "serve", "--port", "0", *args]
        if data_dir is not None:
            cmd += ["--data-dir", str(data_dir)]
        env = {k: v for k, v in os.environ.items() if k not in ("TIM_PY_DATA_DIR", "TIM_PY_SDK_APP_ID")}
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self.err,
                                     cwd=str(ROOT), env=env)
        self.lines: List[str] = []
        got = threading.Event()

        def pump() -> None:
            assert self.proc.stdout is not None
            for line in self.proc.stdout:
                self.lines.append(line.decode("utf-8", "replace").rstrip("\n"))
                got.set()
            got.set()

        threading.Thread(target=pump, daemon=True).start()
        if not got.wait(timeout) or not self.lines:
            self.kill()
            raise AssertionError(f"tim-py serve printed no URL in {timeout} s: {self.stderr()}")
        self.url = self.lines[0]
        assert self.url.startswith("http://127.0.0.1:"), self.lines
        self.port = int(self.url.rsplit(":", 1)[1])

    def client(self, **kw: Any) -> RestClient:
        return RestClient(self.url, **kw)

    def stderr(self) -> str:
        self.err.seek(0)
        return self.err.read().decode("utf-8", "replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``sig`` and wait for the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
