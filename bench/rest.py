#!/usr/bin/env python3
"""timref's REST API over HTTP (`tim-py serve`, docs/rest.md) beside the same work in process.

    python bench/rest.py [--smoke] [--json PATH] [--rounds N] [--clients N]

Three workloads, each measured both ways in one run on one machine:

  query_online_status   of 100 accounts (all imported), the same body every time
  portrait_set          one account's nick (100 accounts in turn): a durable write each
  query_online_status   of 1 account (100 in turn): little work per request, so what a request
                        itself costs, over HTTP and in process

  HTTP        `tim-py serve` on 127.0.0.1 (a child process, its world in a temporary directory), and
              64 clients on loopback, each with its own HTTP/1.1 keep-alive connection sending a
              request and waiting for its answer (raw asyncio streams: the least client overhead
              Python offers), in one client process
  in process  `tim.admin.request` of an AsyncTIM in one process on the same world, 64 in flight
              (64 coroutines, each awaiting its answer): what the server itself does per request,
              without HTTP

Each measurement runs in its own process (the server is idle meanwhile: an idle timref process
does no work), in interleaved rounds (HTTP, in process, HTTP, ...); the median round is reported.
Every answer is decoded and checked for ErrorCode 0 on both sides.  The figures that matter are the
ratios taken in the run: absolute numbers drift on a shared machine, and on a 2-CPU machine the
HTTP client process competes with the server for the CPUs.  --smoke only proves that everything
runs: its figures mean nothing.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional

import bench_common

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
APP_ID = 1400000001
QUERY = "sdkappid=%d&identifier=administrator&usersig=x&random=%d&contenttype=json"
ACCOUNTS = 100

# Sizes: (full, smoke).
SIZES = {
    "query_n": (20_000, 300),   # query_online_status requests per measurement
    "query1_n": (40_000, 300),  # query_online_status of one account: the cost of the request itself
    "set_n": (4_000, 200),      # portrait_set requests per measurement
    "warmup": (500, 20),        # requests before the clock starts (connections, caches)
    "rounds": (3, 1),
}

WORKLOADS = {
    "query": ("v4/openim/query_online_status", "query_online_status of 100 accounts"),
    "set": ("v4/profile/portrait_set", "portrait_set of one nick"),
    "query1": ("v4/openim/query_online_status", "query_online_status of 1 account"),
}


def log(msg: str) -> None:
    print(f"[bench-rest {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def ids() -> List[str]:
    return [f"u{i:03d}" for i in range(ACCOUNTS)]


def body_of(workload: str, i: int) -> bytes:
    """The JSON body of request i of a workload (the same text on both sides)."""
    if workload == "query":
        return json.dumps({"To_Account": ids()}).encode()
    if workload == "query1":
        return json.dumps({"To_Account": [ids()[i % ACCOUNTS]]}).encode()
    who = ids()[i % ACCOUNTS]
    return json.dumps({"From_Account": who, "ProfileItem": [{"Tag": "Tag_Profile_IM_Nick",
                                                             "Value": f"nick {i}"}]}).encode()


def pct(values: List[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(p / 100.0 * (len(v) - 1) + 0.5))]


def summary(lat: List[float], seconds: float) -> Dict[str, float]:
    return {"n": len(lat), "seconds": seconds, "rps": len(lat) / seconds,
            "p50_ms": pct(lat, 50) * 1e3, "p99_ms": pct(lat, 99) * 1e3}


# ---------------------------------------------------------------------------
# Workers: one measurement per process; each prints one JSON line
# ---------------------------------------------------------------------------

class _Requests:
    """Requests 0 .. warmup+n-1 of a workload, handed out in turn to concurrent clients; the clock
    starts at request ``warmup``, and the latency of each later one is kept."""

    def __init__(self, n: int, warmup: int) -> None:
        self.n = n
        self.warmup = warmup
        self.next_i = 0
        self.lat: List[float] = []
        self.started = 0.0

    async def client(self, prepare: Callable[[int], Any], send: Callable[[Any], Awaitable[Dict[str, Any]]]) -> None:
        """One client: take the next request, ``prepare(i)`` it (not timed), time ``send`` of it until
        its decoded answer, check for ErrorCode 0; until none is left."""
        while True:
            i = self.next_i
            if i >= self.warmup + self.n:
                return
            self.next_i = i + 1
            if i == self.warmup:
                self.started = time.perf_counter()
            request = prepare(i)
            t0 = time.perf_counter()
            answer = await send(request)
            t1 = time.perf_counter()
            if answer["ErrorCode"] != 0:
                raise RuntimeError(f"request {i} failed: {answer}")
            if i >= self.warmup:
                self.lat.append(t1 - t0)

    def summary(self) -> Dict[str, float]:
        return summary(self.lat, time.perf_counter() - self.started)


async def _http_worker(host: str, port: int, workload: str, n: int, clients: int, warmup: int) -> Dict[str, Any]:
    import orjson

    api = WORKLOADS[workload][0]
    requests = _Requests(n, warmup)

    def prepare(i: int) -> bytes:
        body = body_of(workload, i)
        return (f"POST /{api}?{QUERY % (APP_ID, i)} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)

        async def send(request: bytes) -> Dict[str, Any]:
            writer.write(request)
            header = await reader.readuntil(b"\r\n\r\n")
            m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", header)
            if not header.startswith(b"HTTP/1.1 200") or m is None:
                raise RuntimeError(f"unexpected answer: {header[:200]!r}")
            answer: Dict[str, Any] = orjson.loads(await reader.readexactly(int(m.group(1))))
            return answer

        try:
            await requests.client(prepare, send)
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return requests.summary()


async def _admin_worker(data_dir: str, workload: str, n: int, clients: int, warmup: int) -> Dict[str, Any]:
    from tim_py.aio import AsyncTIM

    api = WORKLOADS[workload][0]
    requests = _Requests(n, warmup)

    def prepare(i: int) -> Dict[str, Any]:
        body: Dict[str, Any] = json.loads(body_of(workload, i))  # request() takes a dict: it encodes it
        return body

    async with AsyncTIM(APP_ID, data_dir) as tim:
        async def send(body: Dict[str, Any]) -> Dict[str, Any]:
            return await tim.admin.request(api, body)  # decoded; a non-zero ErrorCode raises

        await asyncio.gather(*(requests.client(prepare, send) for _ in range(clients)))
        return requests.summary()


def worker(argv: List[str]) -> None:
    kind = argv[0]
    if kind == "http":
        host, port, workload, n, clients, warmup = argv[1], int(argv[2]), argv[3], int(argv[4]), int(argv[5]), int(argv[6])
        res = asyncio.run(_http_worker(host, port, workload, n, clients, warmup))
    elif kind == "admin":
        data_dir, workload, n, clients, warmup = argv[1], argv[2], int(argv[3]), int(argv[4]), int(argv[5])
        res = asyncio.run(_admin_worker(data_dir, workload, n, clients, warmup))
    else:
        raise SystemExit(f"unknown worker {kind}")
    print(json.dumps(res), flush=True)


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------

def python_exe() -> str:
    """An interpreter that can import tim_py and aiohttp (the project's .venv when this one cannot)."""
    return bench_common.python_exe(("aiohttp", "tim_py._tim"),
                                   "bench-rest: tim_py (with aiohttp) is not importable; run `make venv` first")


class Server:
    def __init__(self, py: str, data_dir: str) -> None:
        env = dict(os.environ)
        env.pop("TIM_PY_DATA_DIR", None)
        env.pop("TIM_PY_SDK_APP_ID", None)
        self.proc = subprocess.Popen([py, "-m", "tim_py", "serve", "--host", "127.0.0.1", "--port", "0",
                                      "--data-dir", data_dir, "--app-id", str(APP_ID)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                     env=env, text=True)
        line: List[str] = []
        got = threading.Event()

        def first() -> None:
            assert self.proc.stdout is not None
            line.append(self.proc.stdout.readline())
            got.set()
            for _ in self.proc.stdout:  # drained, so the pipe never fills
                pass

        threading.Thread(target=first, daemon=True).start()
        if not got.wait(60) or not re.match(r"http://127\.0\.0\.1:\d+", line[0]):
            self.stop()
            raise SystemExit(f"bench-rest: tim-py serve did not start: {line} {self.stderr_tail()}")
        self.url = line[0].strip()
        self.port = int(self.url.rsplit(":", 1)[1])
        threading.Thread(target=lambda: self.proc.stderr and self.proc.stderr.read(), daemon=True).start()

    def stderr_tail(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read()[-2000:]

    def post(self, api: str, body: Dict[str, Any]) -> Dict[str, Any]:
        import http.client

        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            c.request("POST", f"/{api}?{QUERY % (APP_ID, 1)}", json.dumps(body))
            answer = json.loads(c.getresponse().read())
        finally:
            c.close()
        if answer.get("ErrorCode") != 0:
            raise SystemExit(f"bench-rest: {api} failed: {answer}")
        return answer

    def stop(self) -> Optional[int]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------

def run_worker(py: str, args: List[Any], timeout: float = 900) -> Dict[str, Any]:
    argv = [py, os.path.abspath(__file__), "--worker", *map(str, args)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    return json.loads([ln for ln in p.stdout.splitlines() if ln.startswith("{")][-1])


def measure(args: argparse.Namespace) -> Dict[str, Any]:
    k = 1 if args.smoke else 0
    sizes = {name: v[k] for name, v in SIZES.items()}
    if args.rounds:
        sizes["rounds"] = args.rounds
    sizes["clients"] = args.clients
    sizes["accounts"] = ACCOUNTS
    py = python_exe()
    tmp = tempfile.mkdtemp(prefix="tim-bench-rest-")
    data_dir = os.path.join(tmp, "world")
    rounds: Dict[str, List[Dict[str, Any]]] = {f"{w}_{how}": [] for w in WORKLOADS for how in ("http", "admin")}
    server = Server(py, data_dir)
    try:
        log(f"tim-py serve at {server.url}, world {data_dir}")
        server.post("v4/im_open_login_svc/multiaccount_import", {"Accounts": ids()})
        for r in range(sizes["rounds"]):
            for w in WORKLOADS:
                n = sizes[f"{w}_n"]
                for how in ("http", "admin"):
                    if how == "http":
                        res = run_worker(py, ["http", "127.0.0.1", server.port, w, n, args.clients, sizes["warmup"]])
                    else:
                        res = run_worker(py, ["admin", data_dir, w, n, args.clients, sizes["warmup"]])
                    rounds[f"{w}_{how}"].append(res)
                    log(f"round {r + 1}/{sizes['rounds']}: {w} {how}: {res['rps']:,.0f} requests/s, "
                        f"p50 {res['p50_ms']:.2f} ms, p99 {res['p99_ms']:.2f} ms")
        if server.proc.poll() is not None:
            raise SystemExit(f"bench-rest: the server died: {server.stderr_tail()}")
    finally:
        code = server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    if code != 0:
        raise SystemExit(f"bench-rest: tim-py serve exited {code}")
    results: Dict[str, Any] = {}
    for key, rs in rounds.items():
        mid = sorted(rs, key=lambda x: x["rps"])[len(rs) // 2]  # the median round
        results[key] = {"rps": mid["rps"], "p50_ms": mid["p50_ms"], "p99_ms": mid["p99_ms"],
                        "rps_rounds": [x["rps"] for x in rs]}
    ratios = {f"{w}_http_over_admin_rps": results[f"{w}_http"]["rps"] / results[f"{w}_admin"]["rps"]
              for w in WORKLOADS}
    return {"sizes": sizes, "results": results, "ratios": ratios, "machine": bench_common.machine(),
            "smoke": args.smoke}


def table(res: Dict[str, Any]) -> str:
    r = res["results"]
    c = res["sizes"]["clients"]
    rows = [f"| figure | HTTP ({c} clients, keep-alive) | tim.admin in process ({c} in flight) | HTTP / in process |",
            "| --- | --- | --- | --- |"]
    for w, (_, name) in WORKLOADS.items():
        h, a = r[f"{w}_http"], r[f"{w}_admin"]
        rows.append(f"| {name}: requests/s | {h['rps']:,.0f} | {a['rps']:,.0f} | {h['rps'] / a['rps']:.2f} |")
        rows.append(f"| {name}: p50 latency (ms) | {h['p50_ms']:.2f} | {a['p50_ms']:.2f} | "
                    f"{h['p50_ms'] / a['p50_ms']:.2f} |")
        rows.append(f"| {name}: p99 latency (ms) | {h['p99_ms']:.2f} | {a['p99_ms']:.2f} | "
                    f"{h['p99_ms'] / a['p99_ms']:.2f} |")
    m = res["machine"]
    rows.append("")
    rows.append(f"{m['nproc']} CPUs ({m['cpu_model']}), Python {m['python']}, {m['date']}; median of "
                f"{res['sizes']['rounds']} round(s)" + (" (--smoke: the figures mean nothing)" if res["smoke"] else ""))
    return "\n".join(rows)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="a few requests: proves it runs, the figures mean nothing")
    ap.add_argument("--json", metavar="PATH", help="write the results as JSON to PATH")
    ap.add_argument("--rounds", type=int, default=0, help="rounds (default 3, 1 with --smoke)")
    ap.add_argument("--clients", type=int, default=64, help="concurrent clients / requests in flight (default 64)")
    args = ap.parse_args()
    if args.clients < 1 or args.rounds < 0:
        ap.error("--clients must be at least 1 and --rounds at least 0")
    res = measure(args)
    print(table(res))
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2, sort_keys=True)
        log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
