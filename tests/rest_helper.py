"""`tim-py serve` as a child process, and the clients the HTTP tests talk to it with (docs/rest.md).

:class:`RestServer` starts ``python -m tim_py serve --host 127.0.0.1 --port 0 ARGS...``, waits for
the base URL it prints on stdout once it accepts connections, and offers a plain HTTP client over
http.client (a new connection per request unless a connection is given; the query string is
GOOD_QUERY).  ``stop()`` sends SIGTERM (or the signal given) and waits; the process is killed if it
does not exit in time.  Leaving ``with RestServer(...)`` stops it and asserts exit code 0.

:class:`RestClient` is a small REST client written from the vendor's documentation (RESTful API
Overview): ``POST https://<domain>/v4/<servicename>/<command>?sdkappid=<SDKAppID>&identifier=<admin>
&usersig=<UserSig>&random=<0..4294967295>&contenttype=json`` with a JSON body; every answer is HTTP
200 with ``ActionStatus``, ``ErrorCode`` and ``ErrorInfo``.  It builds exactly that URL with
``urllib.parse.urlencode`` and sends it with ``urllib.request``, a plain HTTP client that knows
nothing of tim_py.  :func:`send` and :func:`read_answer` speak HTTP/1.1 over a raw socket for what
urllib will not send (other methods, broken requests).

Not a test module.
"""
from __future__ import annotations

import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import weakref
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "tim_py" / "server" / "openapi.json"
APP_ID = 1400000001
ADMIN = "administrator"

#: The five query parameters of a valid request (docs/rest.md, The protocol), in order.
GOOD_QUERY: Dict[str, Any] = {"sdkappid": APP_ID, "identifier": ADMIN, "usersig": "x", "random": 99999999,
                              "contenttype": "json"}

ACCOUNT_IMPORT = "/v4/im_open_login_svc/account_import"
MULTIACCOUNT_IMPORT = "/v4/im_open_login_svc/multiaccount_import"
ACCOUNT_DELETE = "/v4/im_open_login_svc/account_delete"
ACCOUNT_CHECK = "/v4/im_open_login_svc/account_check"
KICK = "/v4/im_open_login_svc/kick"
PORTRAIT_GET = "/v4/profile/portrait_get"
PORTRAIT_SET = "/v4/profile/portrait_set"
QUERY_ONLINE_STATUS = "/v4/openim/query_online_status"
SET_USER_STATUS = "/ref/set_user_status"

#: Every standard profile tag (contract.md 3.8).
STANDARD_TAGS = [
    "Tag_Profile_IM_Nick", "Tag_Profile_IM_Gender", "Tag_Profile_IM_BirthDay", "Tag_Profile_IM_Location",
    "Tag_Profile_IM_SelfSignature", "Tag_Profile_IM_AllowType", "Tag_Profile_IM_Language",
    "Tag_Profile_IM_Image", "Tag_Profile_IM_MsgSettings", "Tag_Profile_IM_AdminForbidType",
    "Tag_Profile_IM_Level", "Tag_Profile_IM_Role",
]


def query_string(params: Optional[Iterable[Tuple[str, Any]]] = None, **over: Any) -> str:
    """The query string of GOOD_QUERY with ``over`` applied (a value of None drops the parameter),
    or exactly ``params`` (pairs, repeats allowed) when given."""
    if params is None:
        merged = dict(GOOD_QUERY)
        merged.update(over)
        params = [(k, v) for k, v in merged.items() if v is not None]
    return urllib.parse.urlencode([(k, str(v)) for k, v in params])


class Answer:
    """An HTTP answer: status, headers (lower-case names), the body as sent, and it decoded as JSON
    (or None)."""

    def __init__(self, status: int, headers: Dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json: Any = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def code(self) -> Optional[int]:
        return self.json.get("ErrorCode") if isinstance(self.json, dict) else None

    def __repr__(self) -> str:
        return f"Answer({self.status}, {self.body[:400]!r})"


def check_envelope(a: Answer) -> Dict[str, Any]:
    """Assert the protocol's envelope (HTTP 200, a JSON object sent as application/json with
    ActionStatus, ErrorCode, ErrorInfo, OK exactly when 0) and return the object."""
    assert a.status == 200, a
    content_type = next((v for k, v in a.headers.items() if k.lower() == "content-type"), "")
    assert content_type.startswith("application/json"), a.headers
    assert isinstance(a.json, dict), a
    d = a.json
    assert isinstance(d.get("ActionStatus"), str) and isinstance(d.get("ErrorInfo"), str), a
    assert isinstance(d.get("ErrorCode"), int) and not isinstance(d.get("ErrorCode"), bool), a
    assert d["ActionStatus"] == ("OK" if d["ErrorCode"] == 0 else "FAIL"), a
    return d


class _Calls:
    """``call`` and ``ok`` over a ``post(path, body, **kw) -> Answer``."""

    def post(self, path: str, body: Any, **kw: Any) -> Answer:
        raise NotImplementedError

    def call(self, path: str, body: Any, **kw: Any) -> Dict[str, Any]:
        """POST and check the envelope; returns the answer's object."""
        return check_envelope(self.post(path, body, **kw))

    def ok(self, path: str, body: Any) -> Dict[str, Any]:
        """POST and require ErrorCode 0."""
        d = self.call(path, body)
        assert d["ErrorCode"] == 0 and d["ActionStatus"] == "OK", d
        return d


class RestClient(_Calls):
    """The app server's side: an admin calling the REST API of ``base_url`` with urllib."""

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
                                  "usersig": self.usersig, "random": random.randint(0, 4294967295)}
        params.update(over)
        return f"{self.base_url}/{command.lstrip('/')}?{query_string(**params)}"

    def post(self, command: str, body: Any, timeout: float = 30, **over: Any) -> Answer:  # type: ignore[override]
        """POST ``body`` (a dict or list is sent as JSON, bytes as they are)."""
        data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url(command, **over), data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())


# ---- raw HTTP -------------------------------------------------------------------------------------

_leftover: "weakref.WeakKeyDictionary[socket.socket, bytes]" = weakref.WeakKeyDictionary()


def read_answer(s: socket.socket, timeout: float = 15, skip_continue: bool = False) -> Optional[Answer]:
    """The next HTTP answer on ``s`` (Content-Length framed; what follows it is kept for the next
    call; a 100 Continue skipped when ``skip_continue``), or None when the connection closed (or
    was reset) before a whole answer came."""
    s.settimeout(timeout)
    buf = _leftover.pop(s, b"")
    try:
        while True:
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(65536)
                if not chunk:
                    return None
                buf += chunk
            head, rest = buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            if not (skip_continue and status == 100):
                break
            buf = rest
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0"))
        while len(rest) < n:
            chunk = s.recv(65536)
            if not chunk:
                return None
            rest += chunk
        _leftover[s] = rest[n:]
        return Answer(status, headers, rest[:n])
    except (ConnectionResetError, BrokenPipeError):
        return None


def wait_until(what: str, pred: Callable[[], Any], timeout: float = 10, every: float = 0.02) -> Any:
    """Poll ``pred`` until it gives a true value, which is returned; the test fails, naming
    ``what``, when that takes longer than ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(every)


def closed_by_peer(s: socket.socket, timeout: float = 5) -> bool:
    """Whether the peer closes ``s`` (EOF or reset) within ``timeout`` s; what it sends before
    is read and dropped."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        s.settimeout(max(0.01, end - time.monotonic()))
        try:
            if not s.recv(65536):
                return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def send(port: int, raw: bytes, timeout: float = 15) -> Optional[Answer]:
    """Send ``raw`` bytes as they are to 127.0.0.1:``port``; the answer (a 100 Continue skipped;
    None when the connection closed before one came)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        return read_answer(s, timeout, skip_continue=True)


def request_bytes(method: str, target: str, body: bytes = b"", headers: Optional[Dict[str, str]] = None,
                  port: int = 0) -> bytes:
    """An HTTP/1.1 request as bytes, Content-Length set unless ``headers`` frame it otherwise."""
    h = {"Host": f"127.0.0.1:{port}", "Content-Type": "application/json"}
    if headers is None or "Transfer-Encoding" not in headers:
        h["Content-Length"] = str(len(body))
    h.update(headers or {})
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    return head.encode("latin-1") + body


# ---- the server -----------------------------------------------------------------------------------


class RestServer(_Calls):
    """One ``tim-py serve`` child process on ``data_dir`` (in memory when None)."""

    def __init__(self, data_dir: Optional[os.PathLike] = None, *args: str, start_timeout: float = 60,
                 env: Optional[Dict[str, str]] = None) -> None:
        cmd = [sys.executable, "-m", "tim_py", "serve", "--host", "127.0.0.1", "--port", "0"]
        if data_dir is not None:
            cmd += ["--data-dir", str(data_dir)]
        cmd += list(args)
        e = dict(os.environ)
        e.pop("TIM_PY_DATA_DIR", None)
        e.pop("TIM_PY_SDK_APP_ID", None)
        e.pop("TIM_PY_SECRET_KEY", None)
        if env:
            e.update(env)
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._stderr, stdin=subprocess.DEVNULL,
                                     cwd=str(ROOT), env=e)
        self.pid = self.proc.pid
        self.stdout_lines: List[str] = []
        first = threading.Event()

        def pump() -> None:  # the first line is the URL; the rest is drained so the pipe never fills
            assert self.proc.stdout is not None
            for raw in self.proc.stdout:
                self.stdout_lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                first.set()
            first.set()

        threading.Thread(target=pump, daemon=True).start()
        if not first.wait(start_timeout) or not self.stdout_lines:
            self.stop(timeout=5)
            raise RuntimeError(f"tim-py serve printed no URL within {start_timeout} s (exit {self.proc.returncode}); "
                               f"stderr: {self.stderr()[-2000:]}")
        m = re.search(r"http://127\.0\.0\.1:(\d+)", self.stdout_lines[0])
        if not m:
            self.stop(timeout=5)
            raise RuntimeError(f"tim-py serve's first line is not its URL: {self.stdout_lines[0]!r}")
        self.host = "127.0.0.1"
        self.port = int(m.group(1))
        self.url = f"http://{self.host}:{self.port}"

    # ---- the process ----------------------------------------------------------------

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stderr(self, since: int = 0) -> str:
        """What the server wrote on stderr (from byte ``since`` on)."""
        self._stderr.seek(since)
        return self._stderr.read().decode("utf-8", "replace")

    def stderr_size(self) -> int:
        self._stderr.seek(0, os.SEEK_END)
        return self._stderr.tell()

    def assert_no_errors_logged(self, since: int) -> None:
        """The server logged no error (a traceback: a bug answered 70500) after byte ``since``."""
        text = self.stderr(since)
        assert "Traceback" not in text and "internal error" not in text, text[-3000:]

    def rss_kib(self) -> int:
        """The server's resident set size (VmRSS), in KiB."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> Optional[int]:
        """Send ``sig``, then wait; SIGKILL if it did not exit in ``timeout`` s. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)

    def __enter__(self) -> "RestServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        """Stop, and require a clean exit (code 0)."""
        code = self.stop()
        assert code == 0, f"tim-py serve exited {code}; stderr:\n{self.stderr()[-3000:]}"

    # ---- HTTP -------------------------------------------------------------------------

    def client(self, **kw: Any) -> RestClient:
        """A :class:`RestClient` of this server (urllib, the vendor's query string)."""
        return RestClient(self.url, **kw)

    def connection(self, timeout: float = 15) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method: str, target: str, body: Any = None, headers: Optional[Dict[str, str]] = None,
                conn: Optional[http.client.HTTPConnection] = None, timeout: float = 15) -> Answer:
        """Send one request (``target`` is the path with its query string) and read the answer."""
        own = conn is None
        c = conn or self.connection(timeout)
        try:
            c.request(method, target, body=body, headers=headers or {})
            r = c.getresponse()
            data = r.read()
            return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            if own:
                c.close()

    def post(self, path: str, body: Any, conn: Optional[http.client.HTTPConnection] = None,  # type: ignore[override]
             **query: Any) -> Answer:
        """POST ``body`` (a dict/list is sent as JSON; bytes and str as they are) to ``path`` with the
        good query string, ``query`` applied."""
        if not isinstance(body, (bytes, str)) and body is not None:
            body = json.dumps(body)
        return self.request("POST", f"{path}?{query_string(**query)}", body,
                            {"Content-Type": "application/json"}, conn=conn)
