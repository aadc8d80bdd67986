"""The private PostgreSQL cluster of the tests (scripts/pg-cluster.sh), seen from Python.

``Cluster.from_env()`` takes the one named by TIMREF_TEST_PG_URL and TIMREF_TEST_PG_DIR (as
``scripts/pg-cluster.sh run`` and ``make test-pg`` set them); ``Cluster.start()`` starts one in a
temporary directory.  Its methods stop and start the server (the outage tests), run SQL as the
cluster's superuser, and hand out app IDs no other test uses.
"""
from __future__ import annotations

import os
import secrets
import subprocess
import tempfile
from pathlib import Path
from typing import List, Optional

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "pg-cluster.sh"
URL_ENV = "TIMREF_TEST_PG_URL"
DIR_ENV = "TIMREF_TEST_PG_DIR"


def _script(*args: str, timeout: float = 120) -> str:
    # this process owns what it starts: a later start removes it if this process died first
    env = dict(os.environ, PG_CLUSTER_OWNER=str(os.getpid()))
    r = subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"scripts/pg-cluster.sh {args[0]} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


class Cluster:
    def __init__(self, url: str, directory: str, owned: bool) -> None:
        self.url = url
        self.dir = directory
        self.owned = owned  # started here: stopped and removed by stop()

    @classmethod
    def from_env(cls) -> Optional["Cluster"]:
        url, d = os.environ.get(URL_ENV), os.environ.get(DIR_ENV)
        if url and d:
            return cls(url, d, owned=False)
        return None

    @classmethod
    def start(cls, listen: Optional[str] = None) -> "Cluster":
        d = tempfile.mkdtemp(prefix="timref-pg.")
        args = ["start", d] + (["--listen", listen] if listen else [])
        try:
            url = _script(*args).strip()
        except BaseException:
            subprocess.run([str(SCRIPT), "stop", d], capture_output=True, timeout=120)
            raise
        return cls(url, d, owned=True)

    def stop(self) -> None:
        if self.owned:
            _script("stop", self.dir)

    # ---- the outage tests ----
    def server_stop(self) -> None:
        _script("server-stop", self.dir)

    def server_start(self) -> None:
        _script("server-start", self.dir)

    def sql(self, statement: str, db: Optional[str] = None) -> List[str]:
        """Run ``statement`` as the superuser in the tests' database (or ``db``); the rows, one
        line each."""
        out = _script("psql", self.dir, "-q", "-tA", "-v", "ON_ERROR_STOP=1", *(["-d", db] if db else []),
                      "-c", statement)
        return [line for line in out.splitlines() if line]

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1].split("/", 1)[0])

    @property
    def password(self) -> str:
        return self.url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]

    def url_via(self, host: str) -> str:
        """The URL with another host (the namespace tests reach the server on the bridge)."""
        return self.url.replace("@127.0.0.1:", f"@{host}:", 1)


def fresh_app_id() -> int:
    """An SDKAppID no other test (nor an earlier run on a reused cluster) has used."""
    return 2_000_000_000 + secrets.randbelow(2**40)


# The bounds the tests hold the library to (docs/behaviour.md, "PostgreSQL", states them; the
# margins are for a loaded 2-core test machine).
#: psql's idle connection from a vanished host, dropped by the server with the cluster's settings
#: (scripts/pg-cluster.sh: keepalives 1 s idle + 3 probes 1 s apart; tcp_user_timeout 3 s)
KEEPALIVE_BOUND = 8.0
#: a cut host's users are Offline for everyone: timref's connections end about 8 s after the host
#: vanished (the keepalives it sets: 5 s idle + 3 probes 1 s apart), then the others' liveness sweep
CUT_OFFLINE_BOUND = 12.0
#: a call made while the database is unreachable has failed through its callback
OUTAGE_CALL_BOUND = 10.0


def pg_bin(name: str) -> str:
    """A PostgreSQL program (psql, ...) of the newest installed server."""
    import glob

    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if not found:
        raise RuntimeError(f"no {name} under /usr/lib/postgresql/*/bin (scripts/pg-cluster.sh installs it)")
    return found[-1]
