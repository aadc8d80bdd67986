"""``tim-py serve``: the REST server's life, from listening to a clean stop.

:func:`run` opens one ``AsyncTIM`` on the world, listens, prints the base URL on stdout once
connections are accepted, and on SIGINT or SIGTERM stops accepting, lets the requests in flight
be answered, closes the client and returns 0.
"""
from __future__ import annotations

import asyncio
import signal
import sys
from typing import Optional, Sequence

from aiohttp import web

from .._storeurl import redact
from ..aio import AsyncTIM
from .app import READ_TIMEOUT, RestService, make_server, openapi_document
from .dashboard import Dashboard

__all__ = ["run", "base_url", "ListenError", "SHUTDOWN_TIMEOUT", "BACKLOG"]

#: Seconds the requests in flight have to finish once a stop is asked (a body still arriving
#: has READ_TIMEOUT; the library answers in milliseconds).
SHUTDOWN_TIMEOUT = READ_TIMEOUT + 5.0
#: Connections waiting to be accepted (the kernel caps it at net.core.somaxconn).
BACKLOG = 1024


class ListenError(OSError):
    """The server could not listen on the host and port asked (in use, no such address...)."""


def base_url(host: str, port: int) -> str:
    """``http://HOST:PORT`` (an IPv6 address in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _raise_fd_limit() -> None:
    """Let the process hold as many connections as the hard limit allows (a soft limit of 1024
    would be reached by 1,000 clients plus the store's files)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        return
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        if soft != resource.RLIM_INFINITY and soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError):  # pragma: no cover - not allowed: keep the soft limit
        pass


async def _serve(host: str, port: int, data_dir: Optional[str], app_id: int, secret_key: Optional[str],
                 admins: Sequence[str]) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):  # from now on a signal asks for a clean stop
        loop.add_signal_handler(sig, stop.set)
    try:
        tim = AsyncTIM(app_id, data_dir, secret_key=secret_key)
    except BaseException:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        raise
    try:
        service = RestService(tim, app_id, admins, secret_key, openapi_document())
        service.dashboard = dashboard = Dashboard(tim, app_id, host, secret_key, service.commands)
        runner = web.ServerRunner(make_server(service), shutdown_timeout=SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port, backlog=BACKLOG)
            try:
                await site.start()
            except OSError as e:
                raise ListenError(e.errno, f"cannot listen on {host} port {port}: {e.strerror or e}") from None
            bound = runner.addresses[0][1] if runner.addresses else port
            print(base_url(host, bound), flush=True)
            print(f"tim-py serve: app {app_id}, admins {', '.join(admins)}, "
                  f"{'UserSigs checked with the secret key' if secret_key else 'any non-empty usersig'}, "
                  f"world {redact(data_dir) if data_dir is not None else 'in memory'}; "
                  "SIGINT or SIGTERM stops it", file=sys.stderr, flush=True)
            print(f"tim-py serve: dashboard at {dashboard.url(base_url(host, bound))}", file=sys.stderr, flush=True)
            await stop.wait()
        finally:
            await dashboard.close()  # its live feeds would hold the stop below
            # Stop accepting, close idle connections, let the requests in flight be answered.
            await runner.cleanup()
    finally:
        await tim.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    return 0


def run(host: str, port: int, data_dir: Optional[str], app_id: int, secret_key: Optional[str],
        admins: Sequence[str]) -> int:
    """Serve the REST API of the world in ``data_dir`` (None: in memory) until SIGINT or
    SIGTERM; returns 0 after a clean stop.  Raises ``ListenError`` when it cannot listen, and
    what ``AsyncTIM`` raises when the world cannot be opened."""
    _raise_fd_limit()
    if not admins:
        raise ValueError("at least one admin is needed")
    return asyncio.run(_serve(host, port, data_dir, app_id, secret_key, list(admins)))
