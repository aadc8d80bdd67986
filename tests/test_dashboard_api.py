"""The dashboard's routes and live feed without a browser (docs/dashboard.md): the SSE framing,
one reader for many clients and none for none, disconnects, a slow client, the stop, bad input,
and who may use it (the token with a secret key, the Host and Origin checks).

Most tests talk to a real ``tim-py serve`` child process over raw HTTP; the two that need the
feed's limits small (keep-alive, a slow client) run the server in this process.
"""
from __future__ import annotations

import asyncio
import http.client
import json
import re
import socket
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from tim_py.aio import AsyncTIM
from tim_py.server import dashboard as dash
from tim_py.server.app import RestService, make_server

from .rest_helper import APP_ID, RestClient, RestServer, wait_until

MULTI = "v4/im_open_login_svc/multiaccount_import"
SET_STATUS = "ref/set_user_status"
PORTRAIT_SET = "v4/profile/portrait_set"
T = 10


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestServer]:
    with RestServer(tmp_path_factory.mktemp("dash-api")) as s:
        RestClient(s.url).ok(MULTI, {"Accounts": [f"u{i}" for i in range(30)]})
        yield s


def get(port: int, path: str, headers: Optional[Dict[str, str]] = None, method: str = "GET",
        body: Optional[bytes] = None) -> Tuple[int, Dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=T)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def doc(port: int, path: str, **kw: Any) -> Tuple[int, Dict[str, Any]]:
    status, _h, body = get(port, path, **kw)
    return status, json.loads(body)


def info(port: int, **kw: Any) -> Dict[str, Any]:
    status, d = doc(port, "/ref/dashboard/info", **kw)
    assert status == 200 and d["ErrorCode"] == 0, d
    return d


def post(port: int, command: str, body: Any, headers: Optional[Dict[str, str]] = None) -> Tuple[int, Dict[str, Any]]:
    h = {"X-TIM-Dashboard": "1", "Content-Type": "application/json"}
    h.update(headers or {})
    return doc(port, "/ref/dashboard/call/" + command, method="POST", headers=h,
               body=body if isinstance(body, bytes) else json.dumps(body).encode())


class Feed:
    """One live-feed connection over a raw socket (HTTP/1.1, chunked): its frames, parsed."""

    def __init__(self, port: int, headers: str = "", rcvbuf: Optional[int] = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.sock.settimeout(T)
        self.sock.sendall(f"GET /ref/dashboard/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}\r\n".encode())
        self.buf = b""
        head = self._until(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:] if x)}
        self.text = ""  # the body's text not yet parsed into frames
        self.eof = False

    def _until(self, sep: bytes) -> bytes:
        while sep not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the server closed the feed")
            self.buf += chunk
        head, self.buf = self.buf.split(sep, 1)
        return head

    def _chunk(self) -> None:
        size = int(self._until(b"\r\n"), 16)
        if size == 0:
            self.eof = True
            return
        while len(self.buf) < size + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the server closed the feed amid a chunk")
            self.buf += chunk
        self.text += self.buf[:size].decode()
        self.buf = self.buf[size + 2:]

    def frame(self, timeout: float = T) -> Dict[str, Any]:
        """The next frame: its fields (a comment is {"comment": text})."""
        self.sock.settimeout(timeout)
        while "\n\n" not in self.text:
            if self.eof:
                raise EOFError("the feed ended")
            self._chunk()
        raw, self.text = self.text.split("\n\n", 1)
        out: Dict[str, Any] = {}
        for line in raw.split("\n"):
            name, _, value = line.partition(":")
            out[name or "comment"] = value[1:] if value.startswith(" ") else value
        if "data" in out:
            out["json"] = json.loads(out["data"])
        return out

    def change(self, timeout: float = T) -> Dict[str, Any]:
        """The next change event (comments skipped)."""
        while True:
            f = self.frame(timeout)
            if f.get("event") == "change":
                return f

    def ended(self, timeout: float = T) -> bool:
        """Whether the server ends the feed within ``timeout`` (frames before the end are read)."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                self.frame(max(0.05, deadline - time.monotonic()))
        except (EOFError, ConnectionError):
            return True
        except socket.timeout:
            return False
        return False

    def close(self) -> None:
        self.sock.close()



def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    import os

    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- the feed -------------------------------------------------------------------------------------


def test_sse_framing(srv: RestServer) -> None:
    feed = Feed(srv.port)
    try:
        assert feed.status == 200
        assert feed.headers["content-type"] == "text/event-stream"
        assert feed.headers["cache-control"] == "no-store"
        hello = feed.frame()
        assert hello["retry"] == "1000" and hello["event"] == "hello"
        assert hello["json"]["AppID"] == APP_ID and isinstance(hello["json"]["Last"], int)
        RestClient(srv.url).ok(SET_STATUS, {"UserID": "u1", "StatusType": 1, "CustomStatus": "framed"})
        f = feed.change()
        ev = f["json"]
        assert int(f["id"]) == ev["Seq"] == hello["json"]["Last"] + 1
        assert ev["Type"] in ("status", "presence") and ev["UserID"] == "u1" and ev["Origin"] == "admin"
        assert ev["Data"]["user_status_custom_status"] == "framed" and ev["Data"]["user_status_status_type"] == 1
        assert set(f) == {"id", "event", "data", "json"}
        RestClient(srv.url).ok(PORTRAIT_SET, {"From_Account": "u1", "ProfileItem": [
            {"Tag": "Tag_Profile_IM_Nick", "Value": "line\nbreak"}]})
        g = feed.change()  # a newline in the data is escaped: one data line per frame
        assert g["json"]["Seq"] > ev["Seq"] and g["json"]["Data"]["user_profile_nick_name"] == "line\nbreak"
    finally:
        feed.close()


def test_many_clients_share_one_reader_and_leave(srv: RestServer) -> None:
    wait_until("the feeds of earlier tests dropped", lambda: info(srv.port)["Clients"] == 0, timeout=5)
    feeds = [Feed(srv.port) for _ in range(40)]
    try:
        for f in feeds:
            assert f.frame()["event"] == "hello"
        d = info(srv.port)
        assert d["Clients"] == 40 and d["Reading"] is True
        RestClient(srv.url).ok(SET_STATUS, {"UserID": "u2", "StatusType": 1, "CustomStatus": "to all"})
        got = [f.change()["json"] for f in feeds]
        assert all(g == got[0] for g in got) and got[0]["UserID"] == "u2"
    finally:
        for f in feeds:
            f.close()
    # closed connections are dropped, the reader stops, and the server does nothing
    wait_until("every client dropped", lambda: info(srv.port)["Clients"] == 0, timeout=5)
    wait_until("the reader stopped", lambda: info(srv.port)["Reading"] is False, timeout=5)
    before = cpu_seconds(srv.pid)
    time.sleep(2.0)
    used = cpu_seconds(srv.pid) - before
    assert used < 0.1, f"idle server used {used:.3f} s of CPU in 2 s"


def test_a_feed_beyond_the_limit_is_refused(srv: RestServer) -> None:
    feeds = [Feed(srv.port) for _ in range(dash.MAX_CLIENTS)]
    try:
        for f in feeds:
            assert f.status == 200
        extra = Feed(srv.port)
        assert extra.status == 503
        extra.close()
    finally:
        for f in feeds:
            f.close()
    wait_until("every client dropped", lambda: info(srv.port)["Clients"] == 0, timeout=5)


def test_feeds_asked_all_at_once_stay_within_the_limit(srv: RestServer) -> None:
    # every request sent before any is answered: the limit must hold while the first feeds are
    # still being set up (no reader yet), not only once they are counted
    wait_until("the feeds of earlier tests dropped", lambda: info(srv.port)["Clients"] == 0, timeout=5)
    socks = []
    try:
        for _ in range(dash.MAX_CLIENTS + 30):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=T)
            socks.append(s)
        for s in socks:
            s.sendall(f"GET /ref/dashboard/events HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n\r\n".encode())
        statuses = []
        for s in socks:
            head = b""
            while b"\r\n" not in head:
                chunk = s.recv(4096)
                assert chunk, "the server closed a feed without an answer"
                head += chunk
            statuses.append(int(head.split(b" ", 2)[1]))
        assert statuses.count(200) == dash.MAX_CLIENTS and statuses.count(503) == 30, statuses
        assert info(srv.port)["Clients"] == dash.MAX_CLIENTS
    finally:
        for s in socks:
            s.close()
    wait_until("every client dropped", lambda: info(srv.port)["Clients"] == 0, timeout=5)


def test_stop_ends_the_feeds_promptly(tmp_path: Any) -> None:
    s = RestServer(tmp_path / "w")
    feeds = [Feed(s.port) for _ in range(3)]
    for f in feeds:
        f.frame()
    t0 = time.monotonic()
    assert s.stop() == 0
    assert time.monotonic() - t0 < 5
    for f in feeds:
        assert f.ended(2)
        f.close()


# ---- reads and calls --------------------------------------------------------------------------------


def test_users_pages_and_search(srv: RestServer) -> None:
    c = RestClient(srv.url)
    c.ok(SET_STATUS, {"UserID": "u12", "StatusType": 3, "CustomStatus": "gone home"})
    c.ok(SET_STATUS, {"UserID": "u13", "StatusType": 1})
    status, d = doc(srv.port, "/ref/dashboard/users?limit=7&match=u1")
    assert status == 200 and d["Total"] == 11  # u1, u10..u19
    assert [u["UserID"] for u in d["Users"]] == ["u1", "u10", "u11", "u12", "u13", "u14", "u15"]
    assert d["Next"] == "u15"
    status, d2 = doc(srv.port, "/ref/dashboard/users?limit=7&match=u1&after=u15")
    assert [u["UserID"] for u in d2["Users"]] == ["u16", "u17", "u18", "u19"] and "Next" not in d2
    by_id = {u["UserID"]: u for u in d["Users"]}
    assert (by_id["u12"]["Status"], by_id["u12"]["CustomStatus"], by_id["u12"]["Devices"]) == \
        ("UnLogined", "gone home", [])  # not Offline: the exact status
    assert (by_id["u13"]["Status"], by_id["u13"]["Devices"]) == ("Online", ["Linux"])
    assert by_id["u14"]["Status"] == "UnLogined" and by_id["u14"]["Nick"] == ""  # never logged in


def test_a_users_whole_profile(srv: RestServer) -> None:
    RestClient(srv.url).ok(PORTRAIT_SET, {"From_Account": "u3", "ProfileItem": [
        {"Tag": "Tag_Profile_IM_Level", "Value": 5}, {"Tag": "Tag_Profile_Custom_Pet", "Value": "cat"}]})
    status, d = doc(srv.port, "/ref/dashboard/user?id=u3")
    assert status == 200 and d["ErrorCode"] == 0, d
    assert d["Profile"]["Tag_Profile_IM_Level"] == 5 and d["Profile"]["Tag_Profile_Custom_Pet"] == "cat"
    assert len([t for t in d["Profile"] if t.startswith("Tag_Profile_IM_")]) == 12
    assert d["Profile"]["Tag_Profile_IM_Gender"] == "Gender_Type_Unknown"  # unset: its default
    assert d["Status"] == "UnLogined" and d["Devices"] == []
    status, d = doc(srv.port, "/ref/dashboard/user?id=nobody")
    assert status == 200 and d["ErrorCode"] == 70107, d


def test_calls_go_through_the_library(srv: RestServer) -> None:
    status, d = post(srv.port, SET_STATUS, {"UserID": "u4", "StatusType": 3, "CustomStatus": "gone"})
    assert status == 200 and d["ErrorCode"] == 0, d
    status, d = post(srv.port, SET_STATUS, {"UserID": "u4", "StatusType": 9})
    assert d["ErrorCode"] != 0 and "StatusType" in d["ErrorInfo"]
    status, d = post(srv.port, "ref/events", {"Limit": 2})
    assert d["ErrorCode"] == 0 and len(d["Events"]) == 2
    for bad in (b"", b"[", b'{"a":1,"a":2}', b'{"UserID": "u\\u0000"}'):
        status, d = post(srv.port, SET_STATUS, bad)
        assert d["ErrorCode"] != 0, bad


def test_export_downloads_the_snapshot(srv: RestServer) -> None:
    status, h, body = get(srv.port, "/ref/dashboard/export")
    assert status == 200 and re.fullmatch(rf'attachment; filename="world-{APP_ID}-\d{{8}}-\d{{6}}\.json"',
                                          h["content-disposition"])
    snap = json.loads(body)
    assert snap["Format"] == "timref-world" and len(snap["Accounts"]) >= 30
    assert body.endswith(b"\n")
    status, h, body = get(srv.port, "/ref/dashboard/export?status=1")
    assert status == 200 and all("Status" in a for a in json.loads(body)["Accounts"])


@pytest.mark.parametrize("method,path,headers,status,code", [
    ("GET", "/ref/dashboard/nope", {}, 404, 60009),
    ("GET", "/ref/dashboard/static/nope.js", {}, 404, 60009),
    ("GET", "/ref/dashboard/static/../app.py", {}, 404, 60009),
    ("POST", "/ref/dashboard/info", {"X-TIM-Dashboard": "1"}, 405, 60002),
    ("GET", "/ref/dashboard/call/ref/events", {}, 405, 60002),
    ("POST", "/ref/dashboard/events", {"X-TIM-Dashboard": "1"}, 405, 60002),
    ("POST", "/ref/dashboard/call/ref/check_usersig", {"X-TIM-Dashboard": "1"}, 404, 60009),
    ("POST", "/ref/dashboard/call/ref/set_user_status", {}, 403, 60010),
    ("POST", "/ref/dashboard/call/ref/set_user_status", {"X-TIM-Dashboard": "1", "Origin": "http://evil.example"},
     403, 60010),
    ("GET", "/ref/dashboard/info", {"Host": "evil.example"}, 403, 60010),
    ("GET", "/ref/dashboard/users?limit=0", {}, 400, 60002),
    ("GET", "/ref/dashboard/users?limit=101", {}, 400, 60002),
    ("GET", "/ref/dashboard/users?limit=x", {}, 400, 60002),
    ("GET", "/ref/dashboard/users?limit=%C2%B2", {}, 400, 60002),  # a digit to str.isdigit, not to int()
    ("GET", "/ref/dashboard/users?limit=%D9%A3", {}, 400, 60002),  # an Arabic-Indic 3
    ("GET", "/ref/dashboard/users?limit=" + "1" * 5000, {}, 400, 60002),  # beyond int()'s digits
    ("GET", "/ref/dashboard/users?limit=1&limit=2", {}, 400, 60002),
    ("GET", "/ref/dashboard/users?match=%FF", {}, 400, 60002),
    ("GET", "/ref/dashboard/user", {}, 400, 60002),
    ("GET", "/ref/dashboard/user?id=a%00b", {}, 400, 60002),
    ("GET", "/ref/dashboard/export?status=2", {}, 400, 60002),
    ("GET", "/?token=x", {}, 403, 60010),
])
def test_bad_requests_are_refused_clearly(srv: RestServer, method: str, path: str, headers: Dict[str, str],
                                          status: int, code: int) -> None:
    before = info(srv.port)["Last"]
    got, h, body = get(srv.port, path, headers=headers, method=method, body=b'{"UserID": "u5", "StatusType": 1}'
                       if method == "POST" else None)
    d = json.loads(body)
    assert (got, d["ErrorCode"], d["ActionStatus"]) == (status, code, "FAIL"), d
    assert d["ErrorInfo"]
    assert info(srv.port)["Last"] == before  # nothing changed


def test_any_loopback_address_it_listens_on_is_a_host_it_answers(tmp_path: Any) -> None:
    # --host 127.0.0.2 prints http://127.0.0.2:PORT/: the browser's Host is that address
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "tim_py", "serve", "--host", "127.0.0.2", "--port", "0",
                             "--data-dir", str(tmp_path / "w")], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        m = re.fullmatch(r"http://127\.0\.0\.2:(\d+)", base)
        assert m, base
        port = int(m.group(1))
        conn = http.client.HTTPConnection("127.0.0.2", port, timeout=T)
        try:
            conn.request("GET", "/ref/dashboard/info")
            r = conn.getresponse()
            d = json.loads(r.read())
            assert (r.status, d["ErrorCode"]) == (200, 0), d
            conn.request("GET", "/ref/dashboard/info", headers={"Host": f"evil.example:{port}"})
            r = conn.getresponse()
            assert (r.status, json.loads(r.read())["ErrorCode"]) == (403, 60010)
        finally:
            conn.close()
    finally:
        proc.terminate()
        assert proc.wait(T) == 0
        proc.stdout.close()  # type: ignore[union-attr]


def test_library_refusals_of_reads(srv: RestServer) -> None:
    status, d = doc(srv.port, "/ref/dashboard/users?match=" + "x" * 40)
    assert status == 200 and d["ErrorCode"] == 70402 and "Match" in d["ErrorInfo"], d


def test_the_rest_api_is_unchanged_beside_it(srv: RestServer) -> None:
    status, h, body = get(srv.port, "/")
    assert status == 200 and h["content-type"].startswith("text/html") and b"timref world" in body
    assert "default-src 'self'" in h["content-security-policy"]
    for path in ("/dashboard.js", "/static/dashboard.js", "/ref/dashboard"):
        status, h, body = get(srv.port, path)
        assert json.loads(body)["ErrorCode"] == 60002, path  # not POST: the REST API's answer
    status, h, body = get(srv.port, "/?sdkappid=1", method="POST", body=b"{}")
    assert json.loads(body)["ErrorCode"] == 60002
    status, h, body = get(srv.port, "/ref/dashboard/static/dashboard.js")
    assert status == 200 and h["content-type"].startswith("text/javascript") and b"EventSource" in body


# ---- who may use it -----------------------------------------------------------------------------------


def test_with_a_secret_key_the_dashboard_needs_the_printed_token(tmp_path: Any) -> None:
    with RestServer(tmp_path / "w", "--secret-key", "k" * 32) as s:
        m = wait_until("the dashboard URL on stderr",
                     lambda: re.search(r"dashboard at (http://127\.0\.0\.1:\d+)/\?token=([\w-]+)", s.stderr()))
        token = m.group(2)
        status, h, body = get(s.port, "/")
        assert status == 200  # the page itself holds no data
        status, d = doc(s.port, "/ref/dashboard/info")
        assert status == 401 and d["ErrorCode"] == 60010 and "token" in d["ErrorInfo"]
        refused = Feed(s.port)
        assert refused.status == 401
        refused.close()
        status, d = post(s.port, "ref/events", {"Limit": 1})
        assert status == 401
        status, h, body = get(s.port, "/?token=" + token[:-1] + "A")
        assert status == 403
        status, h, body = get(s.port, "/?token=" + token)
        assert status == 303 and h["location"] == "/"
        cookie = h["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
        jar = {"Cookie": cookie.split(";", 1)[0]}
        assert info(s.port, headers=jar)["AppID"] == APP_ID
        status, d = post(s.port, "ref/events", {"Limit": 1}, headers=jar)
        assert status == 200 and d["ErrorCode"] == 0
        f = Feed(s.port, headers=f"Cookie: {jar['Cookie']}\r\n")
        assert f.status == 200 and f.frame()["event"] == "hello"
        f.close()


# ---- the feed's limits, in this process ------------------------------------------------------------------


async def _serve_here() -> Tuple[AsyncTIM, Any, dash.Dashboard, int]:
    from aiohttp import web

    tim = AsyncTIM(APP_ID, None)  # in memory: no disk writes to wait for
    service = RestService(tim, APP_ID, ["administrator"])
    board = dash.Dashboard(tim, APP_ID, "127.0.0.1", None, service.commands)
    service.dashboard = board
    runner = web.ServerRunner(make_server(service))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return tim, runner, board, runner.addresses[0][1]


async def test_keep_alive_comments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dash, "KEEPALIVE", 1.0)
    tim, runner, board, port = await _serve_here()
    try:
        feed = await asyncio.to_thread(Feed, port)
        assert (await asyncio.to_thread(feed.frame))["event"] == "hello"
        t0 = time.monotonic()
        f = await asyncio.to_thread(feed.frame, 5)
        assert f == {"comment": "keep-alive"} and 0.9 < time.monotonic() - t0 < 3
        feed.close()
    finally:
        await board.close()
        await runner.cleanup()
        await tim.close()


async def test_a_slow_client_is_cut_off_and_holds_no_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dash, "QUEUE_SIZE", 32)
    tim, runner, board, port = await _serve_here()
    try:
        await tim.admin.request(MULTI, {"Accounts": ["s"]})
        slow = await asyncio.to_thread(Feed, port, "", 4096)  # reads nothing after its headers
        fast = await asyncio.to_thread(Feed, port)
        assert (await asyncio.to_thread(fast.frame))["event"] == "hello"
        # small kernel buffers on the server's side of both connections (without them, loopback
        # TCP would buffer megabytes before the slow client's writes wait)
        for conn in runner.server.connections:
            conn.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        sig = "x" * 400
        received = 0
        for r in range(100):  # rounds of 10 changes, each read by the fast client before the next
            for i in range(10):
                await tim.admin.request(PORTRAIT_SET, {"From_Account": "s", "ProfileItem": [
                    {"Tag": "Tag_Profile_IM_SelfSignature", "Value": f"{sig}{r}-{i}"}]})
            for _ in range(10):
                f = await asyncio.to_thread(fast.change, 5)
                received += 1
                assert f["json"]["Data"]["user_profile_self_signature"].startswith(sig)
            if board.clients == 1:
                break
        assert board.clients == 1, "the slow client was never cut off"
        assert received == (r + 1) * 10  # the fast one saw every change, in time
        slow.close()
        fast.close()
    finally:
        await board.close()
        await runner.cleanup()
        await tim.close()


async def test_a_gap_in_the_feed_tells_the_pages_to_reload() -> None:
    """An import of 12,000 accounts writes more events at once than the store keeps (10,000):
    the reader finds the ones after its last pruned, and tells every page to reload."""
    tim, runner, board, port = await _serve_here()
    try:
        feed = await asyncio.to_thread(Feed, port)
        assert (await asyncio.to_thread(feed.frame))["event"] == "hello"
        snap = {"Format": "timref-world", "Version": 1, "SDKAppID": APP_ID,
                "Accounts": [{"UserID": f"g{i:05d}", "Profile": {}, "LastUpdated": 0} for i in range(12000)]}
        await tim.admin.world_import(snap)

        def first_gap() -> Dict[str, Any]:
            while True:
                f = feed.frame()
                if f.get("event") == "gap":
                    return f
        assert (await asyncio.to_thread(first_gap))["data"] == "{}"
        feed.close()
    finally:
        await board.close()
        await runner.cleanup()
        await tim.close()


def test_the_client_queue_policy() -> None:
    """A client more than QUEUE_SIZE frames behind gets the end of its stream and nothing more."""
    async def run() -> List[Optional[bytes]]:
        c = dash._Client()
        for i in range(dash.QUEUE_SIZE + 5):
            c.offer(b"%d" % i)
        out = []
        while not c.queue.empty():
            out.append(c.queue.get_nowait())
        return out

    out = asyncio.run(run())
    assert out[:-1] == [b"%d" % i for i in range(dash.QUEUE_SIZE)] and out[-1] is None


# ---- at scale -------------------------------------------------------------------------------------------


def test_paging_and_search_stay_fast_with_100000_users(tmp_path: Any) -> None:
    """10^5 accounts (imported as one snapshot): every page, near the start, the middle or the
    end, and a search, answers in well under a second (about 35 ms here on 2 cores)."""
    n = 100_000
    snap = {"Format": "timref-world", "Version": 1, "SDKAppID": APP_ID,
            "Accounts": [{"UserID": f"user{i:06d}", "Profile": {"Tag_Profile_IM_Nick": f"User {i}"}, "LastUpdated": 0}
                         for i in range(n)]}
    with RestServer(tmp_path / "big") as s:
        a = RestClient(s.url).post("ref/world_import", {"Snapshot": snap}, timeout=300)
        assert a.json["ErrorCode"] == 0 and a.json["Accounts"] == n, a
        slowest = 0.0
        for path, first, count, total in [
            ("users?limit=50", "user000000", 50, n),
            ("users?limit=50&after=user050000", "user050001", 50, n),
            ("users?limit=100&after=user099950", "user099951", 49, n),
            ("users?limit=50&match=777", "user000777", 50, 280),
            ("users?limit=50&match=7777&after=user077770", "user077771", 11, 19),
        ]:
            t0 = time.monotonic()
            status, d = doc(s.port, "/ref/dashboard/" + path)
            slowest = max(slowest, time.monotonic() - t0)
            assert status == 200 and d["ErrorCode"] == 0, d
            assert (d["Users"][0]["UserID"], len(d["Users"]), d["Total"]) == (first, count, total), path
            assert d["Users"][0]["Nick"] == "User " + str(int(first[4:]))
        assert slowest < 1.0, f"a page took {slowest:.3f} s"
