"""The REST server's one handler (``tim-py serve``; docs/rest.md is its contract).

Every request goes through :meth:`RestService.handle`: docs/rest.md's checks, in its table's
order, then the body, undecoded, to the admin surface (``tim.admin.request_raw``), whose answer's
JSON text is the HTTP body as it is.  Python parses no request JSON: the library's one set of
JSON rules judges it (depth 64, duplicated keys, invalid UTF-8, ``\\u0000``), as it does for every
SDK call.

The server is aiohttp's low-level one (``web.Server``: a handler, no router): one handler is all
it has, and the connection class (:class:`_Connection`) adds what aiohttp leaves to its user: a
deadline for a new connection's first request headers, the documented JSON answer (not a
text/plain 400) for a request aiohttp cannot parse, and answers to a client that half-closes
after its requests.  docs/rest.md ("How it is built") says why aiohttp and what each limit is.
"""
from __future__ import annotations

import asyncio
import logging
import re
import urllib.parse
from typing import TYPE_CHECKING, Any, Dict, FrozenSet, Iterable, List, Optional, Tuple

import orjson
from aiohttp import web

from .._ffi import lib
from ..aio import AsyncTIM
from ..errors import InvalidParameterError, TIMError

if TYPE_CHECKING:
    from .dashboard import Dashboard

__all__ = ["COMMANDS", "MAX_BODY", "MAX_BODY_OF", "body_limit", "READ_TIMEOUT", "RestService", "make_server",
           "openapi_document"]

log = logging.getLogger("tim_py.server")

#: What the server serves: the admin surface's APIs, named by their path without the leading
#: slash (which is also the name ``TIMRefAdminRequest`` takes).  The one list of them: a path
#: of the right shape that is not here is 60009; the OpenAPI file describes these.
COMMANDS: Tuple[str, ...] = (
    "v4/im_open_login_svc/account_import",
    "v4/im_open_login_svc/multiaccount_import",
    "v4/im_open_login_svc/account_delete",
    "v4/im_open_login_svc/account_check",
    "v4/im_open_login_svc/kick",
    "v4/profile/portrait_get",
    "v4/profile/portrait_set",
    "v4/openim/query_online_status",
    "ref/set_user_status",
    "ref/account_list",
    "ref/events",
    "ref/world_export",
    "ref/world_import",
    "ref/world_reset",
)

#: The largest body taken (the library's limit for a JSON argument); one byte more is 60002.
MAX_BODY = 1 << 20
#: The commands that take larger bodies, with their limit (the library's): a world snapshot.
#: ``body_limit`` is the one place that says what a command's limit is.
MAX_BODY_OF: Dict[str, int] = {"ref/world_import": lib.TIMREF_WORLD_IMPORT_MAX_LEN}


def body_limit(api: str) -> int:
    """The largest body ``api`` takes, in bytes; one byte more is 60002."""
    return MAX_BODY_OF.get(api, MAX_BODY)

#: Seconds a client has to send a request's headers (from connecting, or from the previous
#: answer on a kept-alive connection) and, separately, its body; then the connection is closed.
READ_TIMEOUT = 10.0
#: Seconds spent reading and dropping the rest of a body that was answered without being read
#: (too large, or refused before it): long enough for the client to read the answer before the
#: connection closes, short enough that nobody holds a connection with it.
LINGER = 2.0

# The REST codes of docs/rest.md's table.
HTTP_ERROR = 60002  # URL format (method, path, query string), or a body over MAX_BODY
JSON_ERROR = 60003  # the body is not a JSON object the library takes
NO_SDKAPPID = 60012
BAD_SDKAPPID = 60006
NO_IDENTIFIER = 60004
NOT_ADMIN = 60010
EMPTY_USERSIG = 70002
BAD_USERSIG = 70003
NO_SUCH_COMMAND = 60009
INTERNAL = 70500  # the vendor's "internal server error": a bug here, never an expected answer

_PATH = re.compile(r"/(v4/[^/]+/[^/]+|ref/[^/]+)")
_RANDOM = re.compile(r"[0-9]{1,10}")
_DECIMAL = re.compile(r"[0-9]{1,20}")
_RANDOM_MAX = 0xFFFFFFFF
_MAX_QUERY_FIELDS = 64
_JSON = "application/json"


def _shown(text: str, limit: int = 80) -> str:
    """``text`` for an ErrorInfo: ASCII, non-printables escaped, at most ``limit`` characters."""
    s = repr(text[:limit + 1])[1:-1].encode("ascii", "backslashreplace").decode("ascii")
    return s if len(s) <= limit else s[:limit] + "..."


def answer(code: int, info: str, close: bool = False) -> web.Response:
    """A REST answer of our own: ``{"ActionStatus", "ErrorCode", "ErrorInfo"}``, HTTP 200;
    ``close``: the connection closes after it."""
    body = orjson.dumps({"ActionStatus": "OK" if code == 0 else "FAIL", "ErrorCode": code,
                         "ErrorInfo": info})
    resp = web.Response(body=body, content_type=_JSON)
    if close:
        resp.force_close()
    return resp


class _Refused(Exception):
    """A check failed: its answer (``close``: then close the connection)."""

    def __init__(self, code: int, info: str, close: bool = False) -> None:
        super().__init__(code, info)
        self.code = code
        self.info = info
        self.close = close


def openapi_document() -> Optional[bytes]:
    """The OpenAPI description shipped in this package (openapi.json), or None without one."""
    import importlib.resources

    try:
        return importlib.resources.files(__package__ or "tim_py.server").joinpath("openapi.json").read_bytes()
    except (FileNotFoundError, NotADirectoryError, OSError):
        return None


class RestService:
    """The checks and the call: one AsyncTIM, this app, these admins, a key or none."""

    def __init__(self, tim: AsyncTIM, app_id: int, admins: Iterable[str],
                 secret_key: Optional[str] = None, openapi: Optional[bytes] = None) -> None:
        self.tim = tim
        self.app_id = app_id
        self.admins: FrozenSet[str] = frozenset(admins)
        self.secret_key = secret_key
        self.openapi = openapi
        self.commands: FrozenSet[str] = frozenset(COMMANDS)
        #: the page at / and its routes under /ref/dashboard/ (docs/dashboard.md); None: not served
        self.dashboard: Optional["Dashboard"] = None

    # ---- the handler ---------------------------------------------------------------------

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        proto = request.protocol
        conn = proto if isinstance(proto, _Connection) else None
        if conn is not None:
            conn.request_seen = True
            conn.current = request
        try:
            resp = await self._respond(request)
        finally:
            if conn is not None:
                conn.current = None
        if conn is not None and conn.eof and not conn.queued():
            resp.force_close()  # the client has closed its side and this was its last request
        return resp

    async def _respond(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            return await self._handle(request)
        except _Refused as r:
            return answer(r.code, r.info, r.close)
        except ConnectionError:  # the client left, or was cut off: nobody to answer
            request.protocol.force_close()
            return web.Response()  # not sent: aiohttp drops it quietly
        except Exception as e:  # a bug: answered, logged, and the server goes on
            log.exception("tim-py serve: internal error on %s %s", request.method, _shown(request.path))
            return answer(INTERNAL, f"internal error: {type(e).__name__}", close=True)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        raw_path = request.rel_url.raw_path
        if self.dashboard is not None:  # its own paths only: GET /, /ref/dashboard/...
            page = await self.dashboard.route(request)
            if page is not None:
                return page
        if self.dashboard is not None and "Origin" in request.headers:  # a browser: only this server's pages
            why = self.dashboard.foreign(request, write=True)
            if why is not None:
                raise _Refused(NOT_ADMIN, f"a browser's request from another origin: {why}")
        if request.method in ("GET", "HEAD") and raw_path == "/openapi.json":
            if self.openapi is None:
                raise _Refused(NO_SUCH_COMMAND, "this installation has no OpenAPI description "
                                                "(tim_py/server/openapi.json is missing)")
            return web.Response(body=self.openapi, content_type=_JSON)
        # 60002: the method, the path, the query string
        if request.method != "POST":
            raise _Refused(HTTP_ERROR, f"HTTP parsing error: the method must be POST, got "
                                       f"{_shown(request.method)}")
        m = _PATH.fullmatch(raw_path)
        if m is None:
            raise _Refused(HTTP_ERROR, "HTTP parsing error: the path must be /v4/<service>/<command> "
                                       f"(or /ref/<command>), got {_shown(raw_path)}")
        api = m.group(1)
        query = self._query(request.rel_url.raw_query_string)
        await self._authenticate(query)
        # 60009: a command the server does not have
        if api not in self.commands:
            raise _Refused(NO_SUCH_COMMAND, f"request resource error: no command /{_shown(api)}")
        limit = body_limit(api)
        body = await self._body(request, limit)
        if body is None:  # too large: answered, and the connection closes
            raise _Refused(HTTP_ERROR, f"HTTP parsing error: the body is larger than {limit} bytes",
                           close=True)
        return await self._call(api, body)

    # ---- the query string -------------------------------------------------------------------

    @staticmethod
    def _query(raw: str) -> Dict[str, str]:
        try:
            pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True, strict_parsing=False,
                                           encoding="utf-8", errors="strict",
                                           max_num_fields=_MAX_QUERY_FIELDS)
        except UnicodeDecodeError:
            raise _Refused(HTTP_ERROR, "HTTP parsing error: the query string is not UTF-8") from None
        except ValueError:
            raise _Refused(HTTP_ERROR, f"HTTP parsing error: more than {_MAX_QUERY_FIELDS} query "
                                       "parameters") from None
        query: Dict[str, str] = {}
        for k, v in pairs:
            if k in query:
                raise _Refused(HTTP_ERROR, f"HTTP parsing error: the query parameter {_shown(k)} is "
                                           "given twice")
            query[k] = v
        random = query.get("random")
        if random is None:
            raise _Refused(HTTP_ERROR, "HTTP parsing error: the query parameter random is missing")
        if _RANDOM.fullmatch(random) is None or int(random) > _RANDOM_MAX:
            raise _Refused(HTTP_ERROR, "HTTP parsing error: random must be a whole number from 0 to "
                                       f"{_RANDOM_MAX}, got {_shown(random)}")
        contenttype = query.get("contenttype")
        if contenttype is None:
            raise _Refused(HTTP_ERROR, "HTTP parsing error: the query parameter contenttype is missing")
        if contenttype != "json":
            raise _Refused(HTTP_ERROR, f"HTTP parsing error: contenttype must be json, got "
                                       f"{_shown(contenttype)}")
        return query

    # ---- who asks -------------------------------------------------------------------------------

    async def _authenticate(self, query: Dict[str, str]) -> None:
        sdkappid = query.get("sdkappid")
        if sdkappid is None:
            raise _Refused(NO_SDKAPPID, "the query parameter sdkappid is missing")
        if _DECIMAL.fullmatch(sdkappid) is None or int(sdkappid) != self.app_id:
            raise _Refused(BAD_SDKAPPID, f"invalid sdkappid {_shown(sdkappid)}: this server serves app "
                                         f"{self.app_id}")
        identifier = query.get("identifier")
        if identifier is None:
            raise _Refused(NO_IDENTIFIER, "the query parameter identifier is missing")
        if identifier not in self.admins:
            raise _Refused(NOT_ADMIN, f"identifier {_shown(identifier)} is not an app admin: the request "
                                      "needs app admin permission")
        usersig = query.get("usersig")
        if not usersig:
            raise _Refused(EMPTY_USERSIG, "the query parameter usersig is missing or empty")
        if self.secret_key is None:
            return  # without a key any non-empty usersig passes, as on the SDK side
        try:
            await self.tim.admin.request("ref/check_usersig", {"UserID": identifier, "UserSig": usersig})
        except InvalidParameterError as e:
            if e.code < 0:  # refused at the call (a NUL in it, say): not a usersig at all
                raise _Refused(BAD_USERSIG, "usersig is malformed") from None
            raise _Refused(e.code, e.desc) from None
        except TIMError as e:
            raise _Refused(e.code, e.desc) from None

    # ---- the body ----------------------------------------------------------------------------

    @staticmethod
    async def _body(request: web.BaseRequest, limit: int) -> Optional[bytes]:
        """The body, at most ``limit`` bytes; None when there is more (nothing beyond
        ``limit`` + 1 bytes is read).  A client too slow to send it loses its connection."""
        length = request.content_length
        if length is not None and length > limit:
            return None  # said so before sending it: not read at all
        if request.headers.get("Expect", "").lower() == "100-continue" and request.version >= (1, 1):
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        chunks: List[bytes] = []
        size = 0

        async def read() -> None:
            nonlocal size
            while size <= limit:
                chunk = await request.content.read(limit + 1 - size)
                if not chunk:
                    return
                chunks.append(chunk)
                size += len(chunk)

        try:
            await asyncio.wait_for(read(), READ_TIMEOUT)
        except asyncio.TimeoutError:  # no answer: the connection is closed
            raise ConnectionResetError("the body did not arrive in time") from None
        except ConnectionError:
            raise
        except Exception as e:  # aiohttp's payload errors: a broken chunked encoding...
            raise _Refused(HTTP_ERROR, f"HTTP parsing error: the body cannot be read: {_shown(str(e))}",
                           close=True) from None
        if size > limit:
            return None
        return b"".join(chunks)

    # ---- the call -------------------------------------------------------------------------------

    async def _call(self, api: str, body: bytes) -> web.Response:
        if not body:
            raise _Refused(JSON_ERROR, "JSON parsing error of the HTTP request body: the body is empty "
                                       "(send {} for a command that needs no field)")
        try:
            fut = self.tim.admin.request_raw(api, body)
        except InvalidParameterError as e:  # refused at the call: the library's reason
            raise _Refused(JSON_ERROR, f"JSON parsing error of the HTTP request body: {e.reason or e.desc}") from None
        try:
            text: bytes = await fut  # (a client leaving does not cancel it: handler_cancellation)
        except TIMError as e:
            if e.raw:
                return web.Response(body=e.raw, content_type=_JSON)
            raise _Refused(e.code, e.desc) from None
        return web.Response(body=text, content_type=_JSON)


# ---- the connection -------------------------------------------------------------------------


class _Connection(web.RequestHandler):
    """aiohttp's connection handler with a deadline for the first request's headers (later
    requests' are the keep-alive timeout's), JSON answers for requests it cannot parse, and
    answers for a client that closes its sending side.  (``_waiter`` and ``_messages`` are
    aiohttp's own state: pending while idle, the requests parsed and not yet handled.)"""

    request_seen = False
    #: the client has closed its side of the connection
    eof = False
    #: the request being handled (its body still arriving, perhaps), else None
    current: Optional[web.BaseRequest] = None
    _deadline: Optional[asyncio.TimerHandle] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._deadline = asyncio.get_running_loop().call_later(READ_TIMEOUT, self._first_request_deadline)

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)

    def eof_received(self) -> bool:  # type: ignore[override]  # asyncio.Protocol: bool | None
        """The client closed its side (it may still read): answer the requests it sent whole,
        then close.  (aiohttp's own closes the connection at once, the answers unsent.)"""
        self.eof = True
        waiter = self._waiter  # pending: idle, or amid headers (aiohttp's own test of that)
        if waiter is not None and not waiter.done():
            self.force_close()
            return False
        # A body that will never end (the current request's, or the last one queued): its
        # request gets no answer.
        bodies = [self.current.content] if self.current is not None else []
        bodies += [payload for _msg, payload in self._messages]
        for body in bodies:
            if not body.is_eof():
                body.set_exception(ConnectionResetError("the client closed its side before the body's end"))
        if self.current is None and not self.queued():
            self.close()  # the answer being written is the last
        return True  # keep the transport: answers are still to be written

    def queued(self) -> bool:
        """Whether requests received whole wait behind the current one (pipelined)."""
        return bool(self._messages)

    def _first_request_deadline(self) -> None:
        self._deadline = None
        if not self.request_seen:
            self.force_close()

    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: Optional[BaseException] = None,
                     message: Optional[str] = None) -> web.StreamResponse:
        if status >= 500:
            log.error("tim-py serve: internal error", exc_info=exc)
            return answer(INTERNAL, "internal error", close=True)
        if request.writer.output_size > 0:
            raise ConnectionError("an answer was sent already")
        first = message.strip().splitlines()[0] if message and message.strip() else ""
        why = f": {_shown(first)}" if first else ""
        return answer(HTTP_ERROR, f"HTTP parsing error{why}", close=True)


class _Server(web.Server):
    """``web.Server`` whose connections are :class:`_Connection`."""

    def __call__(self) -> web.RequestHandler:
        return _Connection(self, loop=self._loop, **self._kwargs)


def make_server(service: RestService) -> web.Server:
    """The aiohttp server (for ``web.ServerRunner``) of ``service``."""
    kw: Dict[str, Any] = dict(
        keepalive_timeout=READ_TIMEOUT,  # idle, or sending the next request's headers
        lingering_time=LINGER,
        auto_decompress=False,  # a compressed body is not JSON: 60003, never a decompression bomb
        access_log=None,
        handler_cancellation=False,  # a client leaving does not cancel its call
    )
    return _Server(service.handle, **kw)
