"""`tim-py serve` as a child process, for the HTTP tests (docs/rest.md).

``RestServer(data_dir)`` starts ``python -m tim_py serve --port 0`` on 127.0.0.1, waits for the base
URL it prints on stdout once it accepts connections, and offers a plain HTTP client over
http.client (a new connection per request unless a connection is given).  ``stop()`` sends SIGTERM
and waits; the process is killed if it does not exit in time.  Not a test module.
"""
from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

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
    """An HTTP answer: status, headers, raw body, and the body decoded as JSON (or None)."""

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
        return f"Answer({self.status}, {self.body[:300]!r})"


def check_envelope(a: Answer) -> Dict[str, Any]:
    """Assert the protocol's envelope (HTTP 200, a JSON object with ActionStatus, ErrorCode,
    ErrorInfo, OK exactly when 0) and return the object."""
    assert a.status == 200, a
    assert isinstance(a.json, dict), a
    d = a.json
    assert isinstance(d.get("ActionStatus"), str) and isinstance(d.get("ErrorInfo"), str), a
    assert isinstance(d.get("ErrorCode"), int) and not isinstance(d.get("ErrorCode"), bool), a
    assert d["ActionStatus"] == ("OK" if d["ErrorCode"] == 0 else "FAIL"), a
    return d


class RestServer:
    """One ``tim-py serve`` child process."""

    def __init__(self, data_dir: Optional[os.PathLike] = None, *args: str, start_timeout: float = 60,
                 env: Optional[Dict[str, str]] = None) -> None:
        cmd = [sys.executable, "-m", "tim_py", "serve", "--host", "127.0.0.1", "--port", "0"]
        if data_dir is not None:
            cmd += ["--data-dir", str(data_dir)]
        cmd += list(args)
        e = dict(os.environ)
        e.pop("TIM_PY_DATA_DIR", None)
        e.pop("TIM_PY_SDK_APP_ID", None)
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

    def stop(self, timeout: float = 15) -> Optional[int]:
        """SIGTERM, then wait; SIGKILL if it did not exit in ``timeout`` s. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    # ---- HTTP -------------------------------------------------------------------------

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

    def post(self, path: str, body: Any, conn: Optional[http.client.HTTPConnection] = None, **query: Any) -> Answer:
        """POST ``body`` (a dict/list is sent as JSON; bytes and str as they are) to ``path`` with the
        good query string, ``query`` applied."""
        if not isinstance(body, (bytes, str)) and body is not None:
            body = json.dumps(body)
        return self.request("POST", f"{path}?{query_string(**query)}", body,
                            {"Content-Type": "application/json"}, conn=conn)

    def call(self, path: str, body: Any, **query: Any) -> Dict[str, Any]:
        """POST and check the envelope; returns the answer's object."""
        return check_envelope(self.post(path, body, **query))

    def ok(self, path: str, body: Any) -> Dict[str, Any]:
        """POST and require ErrorCode 0."""
        d = self.call(path, body)
        assert d["ErrorCode"] == 0, d
        return d

    def __enter__(self) -> "RestServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def wait_until(pred, timeout: float, interval: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(interval)
    return bool(pred())
