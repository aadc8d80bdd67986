"""The dashboard of ``tim-py serve``: a page at ``/``, its JSON routes and its live feed
(docs/dashboard.md is its contract).

What it serves, beside the REST API (``RestService`` hands it every request first; it answers
only its own paths and leaves the rest, and so docs/rest.md's table, untouched):

* ``GET /``, ``GET /ref/dashboard/static/<file>``: the page, files of this package
  (``static/``), read once at start; plain HTML, CSS and a JS module, no build step.
* ``GET /ref/dashboard/info``, ``/users``, ``/user``, ``/export``: reads composed of admin
  commands (a page of users is ``ref/account_list``, then ``ref/user_get`` of those ids).
* ``POST /ref/dashboard/call/<command>``: any command the REST API serves (``COMMANDS``), the
  body as bytes to ``admin.request_raw`` and its answer back as it is: the one set of rules.
* ``GET /ref/dashboard/events``: server-sent events from the world's change feed (``ref/events``).
  While no page listens nothing runs; while some do, one reader task polls the feed for all of
  them and offers each event to every client's bounded queue; a client whose queue is full is
  cut off (its browser reconnects and reloads), so a slow client never holds the others.

Who may use it (docs/dashboard.md, "Security"): without a secret key the REST API takes any
usersig, and the dashboard is as open; with one, its data routes need the token that
``tim-py serve`` prints on stderr (a cookie once the printed URL is opened).  On a loopback
address the ``Host`` header must name a loopback host (no DNS rebinding), and every POST must
carry the ``X-TIM-Dashboard`` header and no foreign ``Origin`` (no cross-site requests).
"""
from __future__ import annotations

import asyncio
import hmac
import importlib.resources
import ipaddress
import logging
import re
import secrets
import time
import urllib.parse
from typing import Any, Callable, Dict, FrozenSet, List, Mapping, Optional, Set, Tuple

import orjson
from aiohttp import web

from .. import snapshot
from ..aio import AsyncTIM
from ..errors import TIMError
from ..fields import FIELDS
from .app import RestService, body_limit

__all__ = ["Dashboard", "PREFIX", "MAX_CLIENTS", "QUEUE_SIZE", "KEEPALIVE", "POLL", "PAGE_MAX"]

log = logging.getLogger("tim_py.server")

#: Every dashboard path but the page itself starts so: under timref's own ``/ref/``, and with
#: a second segment, which no REST command has (docs/rest.md's paths are untouched).
PREFIX = "/ref/dashboard/"
#: Live-feed connections at once; one more is answered 503.
MAX_CLIENTS = 64
#: Events waiting for one live-feed client; a client that falls this far behind is cut off.
QUEUE_SIZE = 512
#: Seconds between keep-alive comments on an idle live feed.
KEEPALIVE = 15.0
#: Seconds between two reads of the change feed while a page listens (well under the one
#: second a change may take to show).
POLL = 0.2
#: Events read from the feed at once.
BATCH = 500
#: Users on one page, at most (portrait_get's limit per request).
PAGE_MAX = 100
#: The cookie that carries the token.
COOKIE = "tim_dashboard"
#: The header every POST must carry (a cross-site form cannot send it).
CSRF_HEADER = "X-TIM-Dashboard"

# The REST codes the dashboard answers with (docs/rest.md's), and the HTTP status beside them.
HTTP_ERROR = 60002
NOT_ALLOWED = 60010
NO_SUCH = 60009
BUSY = 70500
ERR_NO_ACCOUNT = 70107  # ref/user_get's, for an id that is no account

NICK_TAG = next(f.tag for f in FIELDS if f.name == "nick")
IMAGE_TAG = next(f.tag for f in FIELDS if f.name == "avatar")
#: Each standard field's tag and its value when unset (a snapshot leaves those out).
DEFAULTS: Dict[str, Any] = {f.tag: "" if f.kind == "string" else next(iter(f.values)) if f.values else 0
                            for f in FIELDS if f.tag is not None}

_STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png"}
_STATIC_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
#: The page may load and connect to this server alone, and be framed by no one.
CSP = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


def _field_table() -> List[Dict[str, Any]]:
    """What the page's edit form needs of each field: derived from ``tim_py.fields.FIELDS``."""
    out: List[Dict[str, Any]] = []
    for f in FIELDS:
        if f.tag is None:
            continue
        row: Dict[str, Any] = {"Name": f.name, "Tag": f.tag, "Kind": f.kind}
        if f.values:
            row["Values"] = list(f.values)
        if f.kind == "uint32":
            row["Max"] = f.hi
        out.append(row)
    return out


def _load_static() -> Dict[str, Tuple[bytes, str]]:
    """The page's files, name -> (content, content type), from this package's ``static/``."""
    files: Dict[str, Tuple[bytes, str]] = {}
    root = importlib.resources.files(__package__ or "tim_py.server").joinpath("static")
    try:
        entries = list(root.iterdir())
    except (FileNotFoundError, NotADirectoryError, OSError):
        return files
    for entry in entries:
        name = entry.name
        ext = name[name.rfind("."):] if "." in name else ""
        if entry.is_file() and ext in _STATIC_TYPES and _STATIC_NAME.fullmatch(name):
            files[name] = (entry.read_bytes(), _STATIC_TYPES[ext])
    return files


def is_loopback(host: str) -> bool:
    """Whether ``host`` (as given to ``--host``) is a loopback address or ``localhost``."""
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _fail(status: int, code: int, info: str) -> web.Response:
    body = orjson.dumps({"ActionStatus": "FAIL", "ErrorCode": code, "ErrorInfo": info})
    return web.Response(status=status, body=body, content_type="application/json",
                        headers={"Cache-Control": "no-store"})


def _ok(doc: Mapping[str, Any]) -> web.Response:
    body = orjson.dumps({"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": "", **doc})
    return web.Response(body=body, content_type="application/json", headers={"Cache-Control": "no-store"})


class _Bad(Exception):
    """A request the dashboard refuses: its HTTP status, code and reason."""

    def __init__(self, status: int, code: int, info: str) -> None:
        super().__init__(info)
        self.status = status
        self.code = code
        self.info = info


class _Client:
    """One live-feed connection: its bounded queue of frames (None: end the stream), and how
    to drop it (``abort``: close its connection at once, whatever is still unsent)."""

    def __init__(self, abort: Optional[Callable[[], None]] = None) -> None:
        self.queue: asyncio.Queue[Optional[bytes]] = asyncio.Queue(QUEUE_SIZE + 1)
        self.cut = False
        self._abort = abort

    def offer(self, frame: Optional[bytes]) -> None:
        """Queue ``frame``; None ends the stream once what is queued is sent.  A client
        QUEUE_SIZE frames behind is cut off: its connection is aborted (its handler, perhaps
        waiting on a full socket, wakes with an error) and nothing more is queued for it."""
        if self.cut:
            return
        if frame is None:
            self.cut = True
            self.queue.put_nowait(None)
        elif self.queue.qsize() >= QUEUE_SIZE:
            self.cut = True
            self.queue.put_nowait(None)  # the one slot kept free
            if self._abort is not None:
                self._abort()
        else:
            self.queue.put_nowait(frame)


class Dashboard:
    """The page, its routes and its live feed, over the server's one ``AsyncTIM``.

    ``host`` is the address the server listens on; ``secret_key``: the server's (with one, the
    data routes need ``token``); ``commands``: what ``/ref/dashboard/call/`` may call (the REST
    API's ``COMMANDS``), each body read as the REST API reads it, within its limit."""

    def __init__(self, tim: AsyncTIM, app_id: int, host: str, secret_key: Optional[str],
                 commands: FrozenSet[str], token: Optional[str] = None) -> None:
        self.tim = tim
        self.app_id = app_id
        self.commands = commands
        self.check_host = is_loopback(host)
        #: None: the data routes are open (no secret key: the REST API is open too)
        self.token: Optional[str] = (token or secrets.token_urlsafe(24)) if secret_key else None
        self.static = _load_static()
        self.fields = _field_table()
        self._clients: Set[_Client] = set()
        self._reader: Optional[asyncio.Task[None]] = None
        self._wake = asyncio.Event()
        self._last: Optional[int] = None
        self._closed = False

    # ---- what serve.py prints and calls ---------------------------------------------------

    def url(self, base: str) -> str:
        """The page's URL (with the token when one is needed)."""
        return f"{base}/?token={self.token}" if self.token else f"{base}/"

    @property
    def clients(self) -> int:
        return len(self._clients)

    @property
    def reading(self) -> bool:
        return self._reader is not None and not self._reader.done()

    async def close(self) -> None:
        """End every live feed (before the server stops: they would hold its shutdown)."""
        self._closed = True
        for c in list(self._clients):
            c.offer(None)
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass
            self._reader = None

    # ---- routing ---------------------------------------------------------------------------

    async def route(self, request: web.BaseRequest) -> Optional[web.StreamResponse]:
        """The answer to a dashboard request; None for any other request (the REST API's)."""
        path = request.rel_url.raw_path
        if path == "/":
            if request.method not in ("GET", "HEAD"):
                return None  # POST / is the REST API's 60002, as before
        elif not path.startswith(PREFIX):
            return None
        try:
            self._check_origin(request)
            if path == "/":
                return self._page(request)
            rest = path[len(PREFIX):]
            if rest.startswith("static/"):
                return self._file(request, rest[len("static/"):])
            self._check_token(request)
            if rest.startswith("call/"):
                self._require(request, "POST")
                return await self._call(request, urllib.parse.unquote(rest[len("call/"):]))
            self._require(request, "GET", "HEAD")
            query = self._query(request)
            if rest == "info":
                return _ok(await self._info())
            if rest == "users":
                return _ok(await self._users(query))
            if rest == "user":
                return _ok(await self._user(query))
            if rest == "export":
                return await self._export(query)
            if rest == "events":
                self._require(request, "GET")
                return await self._events(request)
            raise _Bad(404, NO_SUCH, f"no dashboard route {path[:80]!r}")
        except _Bad as b:
            return _fail(b.status, b.code, b.info)

    @staticmethod
    def _require(request: web.BaseRequest, *methods: str) -> None:
        if request.method not in methods:
            raise _Bad(405, HTTP_ERROR, f"the method must be {' or '.join(methods)}, got {request.method[:16]!r}")

    def foreign(self, request: web.BaseRequest, write: bool) -> Optional[str]:
        """Why ``request`` may come from a page of another site, None if it cannot: a Host that
        is no loopback name on a loopback server (DNS rebinding), or, for a ``write``, an
        ``Origin`` that is not this server's.  (The REST API asks this of every request that
        carries an Origin: REST clients send none, browsers always do on a POST.)"""
        host = request.headers.get("Host", "")
        if self.check_host:
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if not is_loopback(name.lower()):  # a name, or any loopback address (--host 127.0.0.2)
                return ("the Host header must name a loopback host (localhost, or a loopback address "
                        "such as 127.0.0.1 or [::1]) on a server listening on a loopback address")
        if write:
            origin = request.headers.get("Origin")
            if origin is not None and origin != f"http://{host}":
                return "cross-origin requests are refused"
        return None

    def _check_origin(self, request: web.BaseRequest) -> None:
        """No DNS rebinding (the Host of a loopback server is a loopback name), no cross-site
        writes (a POST carries our header, and no Origin but this server's)."""
        write = request.method not in ("GET", "HEAD")
        why = self.foreign(request, write=False)
        if why is None and write:
            if request.headers.get(CSRF_HEADER) != "1":
                raise _Bad(403, NOT_ALLOWED, f"a dashboard POST must carry the header {CSRF_HEADER}: 1")
            why = self.foreign(request, write=True)
        if why is not None:
            raise _Bad(403, NOT_ALLOWED, why)

    def _check_token(self, request: web.BaseRequest) -> None:
        if self.token is None:
            return
        given = request.cookies.get(COOKIE, "")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode("ascii")):
            raise _Bad(401, NOT_ALLOWED, "this server has a secret key: open the dashboard through the URL "
                                         "with the token that tim-py serve printed on stderr")

    @staticmethod
    def _query(request: web.BaseRequest) -> Dict[str, str]:
        try:
            pairs = urllib.parse.parse_qsl(request.rel_url.raw_query_string, keep_blank_values=True,
                                           encoding="utf-8", errors="strict", max_num_fields=16)
        except (UnicodeDecodeError, ValueError):
            raise _Bad(400, HTTP_ERROR, "the query string is not UTF-8, or has more than 16 parameters") from None
        query: Dict[str, str] = {}
        for k, v in pairs:
            if k in query:
                raise _Bad(400, HTTP_ERROR, f"the query parameter {k[:32]!r} is given twice")
            if "\x00" in v:
                raise _Bad(400, HTTP_ERROR, f"the query parameter {k[:32]!r} holds a NUL character")
            query[k] = v
        return query

    # ---- the page -----------------------------------------------------------------------------

    def _page(self, request: web.BaseRequest) -> web.StreamResponse:
        query = self._query(request)
        given = query.get("token")
        if given is not None:
            if self.token is None or not hmac.compare_digest(given.encode("utf-8"), self.token.encode("ascii")):
                raise _Bad(403, NOT_ALLOWED, "wrong dashboard token")
            resp = web.Response(status=303, headers={"Location": "/", "Cache-Control": "no-store"})
            resp.set_cookie(COOKIE, self.token, httponly=True, samesite="Strict", path="/")
            return resp
        return self._file(request, "index.html")

    def _file(self, request: web.BaseRequest, name: str) -> web.StreamResponse:
        self._require(request, "GET", "HEAD")
        found = self.static.get(name)
        if found is None:
            raise _Bad(404, NO_SUCH, f"no dashboard file {name[:64]!r}"
                       + ("" if self.static else " (this installation has no tim_py/server/static/)"))
        body, ctype = found
        return web.Response(body=body, headers={"Content-Type": ctype, "Cache-Control": "no-cache",
                                                "X-Content-Type-Options": "nosniff",
                                                "Content-Security-Policy": CSP,
                                                "Referrer-Policy": "no-referrer"})

    # ---- reads ---------------------------------------------------------------------------------

    async def _admin(self, api: str, body: Dict[str, Any]) -> Dict[str, Any]:
        """An admin command's answer; its failure answered as it is (HTTP 200, its code)."""
        try:
            answer: Dict[str, Any] = await self.tim.admin.request(api, body)
            return answer
        except TIMError as e:
            raise _Bad(200, e.code, e.desc) from None

    async def _info(self) -> Dict[str, Any]:
        last = await self._admin("ref/events", {"Limit": 1})
        return {"AppID": self.app_id, "Fields": self.fields, "Commands": sorted(self.commands),
                "Last": last.get("Last", 0), "Clients": self.clients, "Reading": self.reading,
                "Limits": {"Page": PAGE_MAX, "Queue": QUEUE_SIZE, "Clients": MAX_CLIENTS}}

    @staticmethod
    def _limit(query: Mapping[str, str], default: int, most: int) -> int:
        text = query.get("limit")
        if text is None:
            return default
        if re.fullmatch(r"[0-9]{1,9}", text) is None or not 1 <= int(text) <= most:  # ASCII digits only
            raise _Bad(400, HTTP_ERROR, f"limit must be a whole number from 1 to {most}, got {text[:16]!r}")
        return int(text)

    async def _accounts(self, ids: List[str]) -> Dict[str, Dict[str, Any]]:
        """``ref/user_get`` of ``ids``: each account that exists (as a snapshot writes it, with
        its status), by id."""
        got = await self._admin("ref/user_get", {"UserIDs": ids})
        return {a["UserID"]: a for a in got.get("Users", [])}

    @staticmethod
    def _status(account: Mapping[str, Any]) -> Dict[str, Any]:
        status = account.get("Status") or {}
        return {"Status": status.get("Type", "Offline"), "CustomStatus": account.get("CustomStatus", ""),
                "Devices": list(status.get("Devices", []))}

    async def _users(self, query: Mapping[str, str]) -> Dict[str, Any]:
        """One page of users: ids (keyset paging), their nick and avatar, their status."""
        body: Dict[str, Any] = {"Limit": self._limit(query, 50, PAGE_MAX)}
        if query.get("after"):
            body["After"] = query["after"]
        if query.get("match"):
            body["Match"] = query["match"]
        page = await self._admin("ref/account_list", body)
        ids: List[str] = list(page.get("UserIDs", []))
        accounts = await self._accounts(ids) if ids else {}
        users: List[Dict[str, Any]] = []
        for i in ids:
            a = accounts.get(i)
            if a is None:  # removed between the listing and now
                users.append({"UserID": i, "Deleted": True})
                continue
            profile = a.get("Profile", {})
            users.append({"UserID": i, "Nick": profile.get(NICK_TAG, ""), "Image": profile.get(IMAGE_TAG, ""),
                          **self._status(a)})
        out: Dict[str, Any] = {"Users": users, "Total": page.get("Total", len(ids))}
        if page.get("Next") is not None:
            out["Next"] = page["Next"]
        return out

    async def _user(self, query: Mapping[str, str]) -> Dict[str, Any]:
        """A user's whole profile (every standard field, every custom one) and status."""
        user_id = query.get("id")
        if not user_id:
            raise _Bad(400, HTTP_ERROR, "the query parameter id (a UserID) is missing or empty")
        account = (await self._accounts([user_id])).get(user_id)
        if account is None:
            raise _Bad(200, ERR_NO_ACCOUNT, f"account {user_id} does not exist")
        return {"UserID": user_id, "Profile": {**DEFAULTS, **account.get("Profile", {})},
                "LastUpdated": account.get("LastUpdated", 0), **self._status(account)}

    async def _export(self, query: Mapping[str, str]) -> web.Response:
        status = query.get("status", "0")
        if status not in ("0", "1"):
            raise _Bad(400, HTTP_ERROR, f"status must be 0 or 1, got {status[:16]!r}")
        answer = await self._admin("ref/world_export", {"IncludeStatus": status == "1"})
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        return web.Response(body=snapshot.dumps(answer["Snapshot"]), headers={
            "Content-Type": "application/json",
            "Content-Disposition": f'attachment; filename="world-{self.app_id}-{stamp}.json"',
            "Cache-Control": "no-store"})

    # ---- writes: the REST API's commands -----------------------------------------------------------

    async def _call(self, request: web.BaseRequest, api: str) -> web.Response:
        if api not in self.commands:
            raise _Bad(404, NO_SUCH, f"no command {api[:80]!r} (the dashboard calls those the REST API serves)")
        limit = body_limit(api)
        body = await RestService._body(request, limit)
        if body is None:
            raise _Bad(413, HTTP_ERROR, f"the body is larger than {limit} bytes, the limit of {api}")
        if not body:
            raise _Bad(400, 60003, "the body is empty (send {} for a command that needs no field)")
        try:
            text: bytes = await self.tim.admin.request_raw(api, body)
        except TIMError as e:
            if e.raw:
                return web.Response(body=e.raw, content_type="application/json")
            return _fail(200, 60003 if e.code < 0 else e.code, e.reason or e.desc)
        self._wake.set()  # a write: read the feed now rather than at the next poll
        return web.Response(body=text, content_type="application/json", headers={"Cache-Control": "no-store"})

    # ---- the live feed ---------------------------------------------------------------------------

    async def _events(self, request: web.BaseRequest) -> web.StreamResponse:
        if self._closed:
            raise _Bad(503, BUSY, "the server is stopping")
        if len(self._clients) >= MAX_CLIENTS:
            raise _Bad(503, BUSY, f"{MAX_CLIENTS} live feeds are open already")

        def abort() -> None:
            if request.transport is not None:
                request.transport.abort()

        client = _Client(abort)
        self._clients.add(client)  # counted at once: feeds asked together stay within the limit
        try:
            if not self.reading:  # a new reader starts from the feed's end (no page saw what came before)
                last = int((await self._admin("ref/events", {"Limit": 1})).get("Last", 0))
                if not self.reading:
                    self._last = last
        except BaseException:
            self._clients.discard(client)
            raise
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
        if self._closed:  # the stop began while this feed was being set up
            client.offer(None)
        try:
            await resp.prepare(request)
            hello = orjson.dumps({"Last": self._last, "AppID": self.app_id})
            await resp.write(b"retry: 1000\nevent: hello\ndata: " + hello + b"\n\n")
            if self._reader is None or self._reader.done():
                self._reader = asyncio.get_running_loop().create_task(self._read())
            idle = 0.0
            while True:
                try:
                    frame = await asyncio.wait_for(client.queue.get(), 1.0)
                except asyncio.TimeoutError:
                    if self._gone(request):
                        break
                    idle += 1.0
                    if idle < KEEPALIVE:
                        continue
                    frame = b": keep-alive\n\n"
                if frame is None:
                    break  # cut off (too slow), or the server is stopping
                idle = 0.0
                await resp.write(frame)
        except ConnectionError:
            pass  # the client left while a frame was written
        finally:
            self._clients.discard(client)
        if not self._gone(request):
            try:
                await resp.write_eof()
            except ConnectionError:
                pass
        return resp

    @staticmethod
    def _gone(request: web.BaseRequest) -> bool:
        """Whether the client has left: the connection is closed, or the client closed its
        sending side (which an EventSource never does while it listens)."""
        transport = request.transport
        return transport is None or transport.is_closing() or bool(getattr(request.protocol, "eof", False))

    async def _read(self) -> None:
        """The one reader: while any page listens, the events after the last seen, to all."""
        while self._clients and not self._closed:
            try:
                answer = await self.tim.admin.request("ref/events", {"After": self._last or 0, "Limit": BATCH})
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the store failing, say: the pages wait, the reader tries again
                log.warning("tim-py serve: the dashboard cannot read the change feed: %s", e)
                await asyncio.sleep(1.0)
                continue
            events = answer.get("Events", [])
            last = answer.get("Last")
            if answer.get("Gap") or (isinstance(last, int) and self._last is not None and last < self._last):
                # events were pruned before they were read, or the feed restarted (a new world):
                # the pages reload what they show
                for c in list(self._clients):
                    c.offer(b"event: gap\ndata: {}\n\n")
                if isinstance(last, int) and not events:
                    self._last = last
            for ev in events:
                seq = int(ev.get("Seq", 0))
                frame = b"id: %d\nevent: change\ndata: %s\n\n" % (seq, orjson.dumps(ev))
                for c in list(self._clients):
                    c.offer(frame)
                self._last = max(self._last or 0, seq)
            if len(events) >= BATCH:
                continue
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), POLL)
            except asyncio.TimeoutError:
                pass
