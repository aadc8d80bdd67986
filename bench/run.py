#!/usr/bin/env python3
"""timref / tim_py benchmarks: what users feel, beside the peers they would otherwise pick.

    python bench/run.py [--quick | --smoke] [--json PATH] [--builtin] [--rounds N] [--no-pg]

Everything is measured in one run on one machine, and the figures that matter
are the ratios between the contenders taken in that run (absolute numbers
drift on a shared machine).  Every measurement runs in its own process (the C
SDK is one per process): the C program bench/c/bench_get.c, tim_py
(bench/py_bench.py), the Python limit (bench/limit.py: the least Python work
per call through tim_py's own completion queue) and a plain ctypes binding
(bench/peers/ctypes_tim.py).  The throughput figures are taken in interleaved
rounds (C, tim_py, limit, ctypes, C, tim_py, limit, ctypes, ...) and the
median of the rounds is reported.

All contenders drive the same library file: build/native/libtimref.so is
copied to build/bench/lib/ at the start (so a concurrent rebuild cannot change
it under the run); the C program links that copy, the ctypes peer loads it,
and tim_py and the limit are pointed at it with TIM_PY_LIBRARY (unless --builtin, which
measures tim_py's compiled-in timref instead).

See docs/bench.md for what each figure means.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import bench_common
import pg

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NATIVE = os.path.join(ROOT, "build", "native")
OUT = os.path.join(ROOT, "build", "bench")
LIBDIR = os.path.join(OUT, "lib")
LIB = os.path.join(LIBDIR, "libtimref.so")
CBENCH = os.path.join(OUT, "bench_get")

# Sizes: (full, quick, smoke).  --smoke only proves that every contender runs: its figures mean nothing.
SIZES = {
    "accounts": (1000, 1000, 100),        # accounts in the in-memory store of the get benchmarks
    "window1": (2000, 2000, 100),         # single gets in flight
    "window100": (100, 100, 10),          # batches of 100 in flight (10,000 profiles)
    "c_get1_n": (600_000, 200_000, 2_000),
    "c_get100_n": (10_000, 3_000, 50),
    "py_get1_n": (200_000, 50_000, 1_000),
    "py_get100_n": (3_000, 800, 20),
    "ct_get1_n": (60_000, 20_000, 500),
    "ct_get100_n": (2_000, 500, 10),
    "rounds": (5, 2, 1),
    "c_serial_n": (100_000, 20_000, 200),
    "py_serial_n": (20_000, 4_000, 100),
    "modify_n": (2_000, 500, 50),
    "modify_window": (64, 64, 8),
    "modify1_n": (500, 150, 20),              # one update at a time (window 1)
    "notify_n": (500, 200, 20),
    "notify_spacing_ms": (10, 10, 5),
    "idle_s": (5, 5, 1),
    "scale_accounts": (1_000_000, 100_000, 2_000),
    "scale_rounds": (40, 20, 2),
    "rss_calls": (1_000_000, 200_000, 2_000),
}

TARGETS = [
    # key, description, (metric, op, bound)
    ("target_async_5x_ctypes", "asyncio >= 5x ctypes (single gets)", "ratio_py_async_vs_ctypes_get1", ">=", 5.0),
    ("target_futures_2_5x_ctypes", "futures >= 2.5x ctypes (single gets)", "ratio_py_sync_vs_ctypes_get1", ">=", 2.5),
    ("target_async_get100_0_25_of_c", "asyncio batches of 100 >= 0.25 of C (profiles/s)",
     "ratio_py_async_get100_vs_c", ">=", 0.25),
    ("target_py_async_get1_0_8_of_limit", "asyncio >= 0.8 of the Python limit (single gets)",
     "ratio_py_async_get1_vs_limit", ">=", 0.8),
    ("target_py_sync_get1_0_8_of_limit", "futures >= 0.8 of the Python limit (single gets)",
     "ratio_py_sync_get1_vs_limit", ">=", 0.8),
    ("target_py_async_get100_0_8_of_limit", "asyncio >= 0.8 of the Python limit (gets of 100)",
     "ratio_py_async_get100_vs_limit", ">=", 0.8),
    ("target_py_sync_get100_0_8_of_limit", "futures >= 0.8 of the Python limit (gets of 100)",
     "ratio_py_sync_get100_vs_limit", ">=", 0.8),
    ("target_scale_1m_within_1_5x", "get100 with 1M accounts within 1.5x of 1k", "scale_ratio_1m_over_1k", "<=", 1.5),
    ("target_rss_growth_lt_5mb", "RSS growth < 5 MB over 1M calls", "rss_growth_mb", "<", 5.0),
    ("target_group_commit_5x", "durable updates: 64 in flight >= 5x one at a time (C)",
     "ratio_c_modify_window_vs_1", ">=", 5.0),
    ("target_notify_p50_le_2ms", "notify p50 <= 2 ms", "notify_latency_ms_p50", "<=", 2.0),
    ("target_notify_p99_le_10ms", "notify p99 <= 10 ms", "notify_latency_ms_p99", "<=", 10.0),
]


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def python_exe() -> str:
    """An interpreter that can import tim_py, compiled module included (the project's .venv when
    this one cannot).  tim_py is taken as installed, editable or not: the source tree is not put
    on the path, since a plain install leaves no compiled module in it."""
    return bench_common.python_exe(("tim_py._tim",),
                                   "bench: tim_py is not importable; run `make venv` (or pip install -e .) first")


# ---------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------

def build() -> None:
    if not os.path.exists(os.path.join(NATIVE, "libtimref.so")):
        log("building build/native (libtimref.so is missing)")
        subprocess.run(["cmake", "-S", os.path.join(ROOT, "csrc"), "-B", NATIVE,
                        "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["cmake", "--build", NATIVE, "-j", str(os.cpu_count() or 2)], check=True,
                       stdout=subprocess.DEVNULL)
    os.makedirs(LIBDIR, exist_ok=True)
    # A private copy: the other contenders and the C program all use this file.
    # Every name of the library (libtimref.so, and the SONAME libtimref.so.1 the
    # C program looks up at run time) becomes a private copy of the same file.
    real = os.path.realpath(os.path.join(NATIVE, "libtimref.so"))
    for name in os.listdir(NATIVE):
        if re.fullmatch(r"libtimref\.so(\.[0-9]+)*", name):
            tmp = os.path.join(LIBDIR, name + ".tmp")
            shutil.copy2(real, tmp)
            os.replace(tmp, os.path.join(LIBDIR, name))
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-O2", "-std=c11", "-Wall", "-Wextra", "-I", os.path.join(ROOT, "csrc", "include"),
                    os.path.join(HERE, "c", "bench_get.c"), "-o", CBENCH, "-L", LIBDIR, "-ltimref",
                    f"-Wl,-rpath,{LIBDIR}", "-pthread"], check=True)


# ---------------------------------------------------------------------------
# Running workers
# ---------------------------------------------------------------------------

class Runner:
    def __init__(self, builtin: bool) -> None:
        self.py = python_exe()
        self.env = dict(os.environ)
        self.env.pop("TIM_PY_LIBRARY", None)
        if not builtin:
            self.env["TIM_PY_LIBRARY"] = LIB

    def run(self, argv: list, timeout: float = 600) -> dict:
        p = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, argv))} failed ({p.returncode}):\n{p.stderr[-3000:]}")
        lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
        if not lines:
            raise RuntimeError(f"{' '.join(map(str, argv))} printed no result:\n{p.stdout}\n{p.stderr}")
        return json.loads(lines[-1])

    def c(self, *args, pin: bool = False) -> dict:
        return self.run(self.pin(pin) + [CBENCH, *map(str, args)])

    def tim_py(self, *args, pin: bool = False) -> dict:
        return self.run(self.pin(pin) + [self.py, os.path.join(HERE, "py_bench.py"), *map(str, args)])

    @staticmethod
    def pin(on: bool) -> list:
        """taskset -c 0: every thread of the process on one CPU (no cross-CPU wake-ups)."""
        return ["taskset", "-c", "0"] if on and shutil.which("taskset") else []

    def tim_py_module(self) -> str:
        """Where the measured tim_py was imported from."""
        return subprocess.run([self.py, "-c", "import tim_py; print(tim_py.__file__)"], env=self.env,
                              capture_output=True, text=True, check=True).stdout.strip()

    def limit(self, *args) -> dict:
        """bench/limit.py: the Python limit, on tim_py's compiled module (the same library)."""
        return self.run([self.py, os.path.join(HERE, "limit.py"), *map(str, args)])

    def ctypes(self, *args) -> dict:
        return self.run([self.py, os.path.join(HERE, "peers", "ctypes_tim.py"), LIB, *map(str, args)])

    def popen_tim_py(self, *args, stdin=None) -> subprocess.Popen:
        return subprocess.Popen([self.py, os.path.join(HERE, "py_bench.py"), *map(str, args)], env=self.env,
                                stdout=subprocess.PIPE, stdin=stdin, text=True)


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)


def cpu_ns(pid: int) -> int:
    """CPU time of every thread of pid, in ns (/proc/<pid>/task/*/schedstat, first field)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def dir_bytes(path: str) -> int:
    return sum(os.path.getsize(os.path.join(path, n)) for n in os.listdir(path)
               if ".db" in n and not n.endswith("-shm"))


def table_bytes(db: str) -> dict:
    """Bytes per table (SQLite's dbstat), when the sqlite3 module has it."""
    try:
        import sqlite3

        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
            free = con.execute("PRAGMA freelist_count").fetchone()[0] * con.execute("PRAGMA page_size").fetchone()[0]
            events = con.execute("SELECT count(*) FROM event").fetchone()[0]
        finally:
            con.close()
        return {"tables": dict(rows), "freelist": free, "event_rows": events}
    except Exception as e:  # pragma: no cover - no dbstat
        return {"error": str(e)}


# ---------------------------------------------------------------------------
# The measurements
# ---------------------------------------------------------------------------

def measure(args: argparse.Namespace) -> dict:
    q = 2 if args.smoke else 1 if args.quick else 0
    S = {k: v[q] for k, v in SIZES.items()}
    if args.rounds:
        S["rounds"] = args.rounds
    r = Runner(args.builtin)
    res: dict = {}
    A, W1, W100 = S["accounts"], S["window1"], S["window100"]

    # ---- pipelined gets: interleaved rounds, median --------------------------------------
    # The Python threads' CPU per call of tim_py and the limit (bench_common.python_cpu_ns), by
    # contender: what each costs in Python, whatever else the machine is doing.
    cpu: dict = {}

    def with_cpu(key: str, d: dict, field: str) -> float:
        cpu.setdefault(key, []).append(d["py_cpu_us_per_call"])
        return d[field]

    contenders = [
        ("c_get1_ops_per_s", lambda: r.c("get1", S["c_get1_n"], W1, A)["ops_per_s"]),
        ("py_async_get1_ops_per_s", lambda: with_cpu(
            "py_async_get1", r.tim_py("get1_async", S["py_get1_n"], W1, A), "ops_per_s")),
        ("py_sync_get1_ops_per_s", lambda: with_cpu(
            "py_sync_get1", r.tim_py("get1_sync", S["py_get1_n"], W1, A), "ops_per_s")),
        ("limit_async_get1_ops_per_s", lambda: with_cpu(
            "limit_async_get1", r.limit("get1_async", S["py_get1_n"], W1, A), "ops_per_s")),
        ("limit_sync_get1_ops_per_s", lambda: with_cpu(
            "limit_sync_get1", r.limit("get1_sync", S["py_get1_n"], W1, A), "ops_per_s")),
        ("ctypes_async_get1_ops_per_s", lambda: r.ctypes("get1_async", S["ct_get1_n"], W1, A)["ops_per_s"]),
        ("ctypes_sync_get1_ops_per_s", lambda: r.ctypes("get1_sync", S["ct_get1_n"], W1, A)["ops_per_s"]),
        ("c_get100_profiles_per_s", lambda: r.c("get100", S["c_get100_n"], W100, A)["profiles_per_s"]),
        ("py_async_get100_profiles_per_s", lambda: with_cpu(
            "py_async_get100", r.tim_py("get100_async", S["py_get100_n"], W100, A), "profiles_per_s")),
        ("py_sync_get100_profiles_per_s", lambda: with_cpu(
            "py_sync_get100", r.tim_py("get100_sync", S["py_get100_n"], W100, A), "profiles_per_s")),
        ("limit_async_get100_profiles_per_s", lambda: with_cpu(
            "limit_async_get100", r.limit("get100_async", S["py_get100_n"], W100, A), "profiles_per_s")),
        ("limit_sync_get100_profiles_per_s", lambda: with_cpu(
            "limit_sync_get100", r.limit("get100_sync", S["py_get100_n"], W100, A), "profiles_per_s")),
        ("ctypes_async_get100_profiles_per_s",
         lambda: r.ctypes("get100_async", S["ct_get100_n"], W100, A)["profiles_per_s"]),
        ("ctypes_sync_get100_profiles_per_s",
         lambda: r.ctypes("get100_sync", S["ct_get100_n"], W100, A)["profiles_per_s"]),
    ]
    samples: dict = {k: [] for k, _ in contenders}
    for rnd in range(S["rounds"]):
        log(f"pipelined gets, round {rnd + 1}/{S['rounds']}")
        for key, fn in contenders:
            samples[key].append(fn())
    for key, vals in samples.items():
        res[key] = statistics.median(vals)
        res.setdefault("rounds_detail", {})[key] = [round(v, 1) for v in vals]
    for key, vals in cpu.items():
        res[f"{key}_py_cpu_us_per_call"] = statistics.median(vals)
    for flavour in ("async", "sync"):
        for kind in ("get1", "get100"):
            ours = res[f"py_{flavour}_{kind}_py_cpu_us_per_call"]
            if ours > 0:  # a --smoke run's few calls may use less CPU than the clock shows: no ratio then
                res[f"ratio_py_{flavour}_{kind}_vs_limit_cpu"] = (res[f"limit_{flavour}_{kind}_py_cpu_us_per_call"]
                                                                 / ours)
    # The ctypes figure the ratios use: the better of its two flavours (asyncio, futures).
    res["ctypes_get1_ops_per_s"] = max(res["ctypes_async_get1_ops_per_s"], res["ctypes_sync_get1_ops_per_s"])
    res["ctypes_get100_profiles_per_s"] = max(res["ctypes_async_get100_profiles_per_s"],
                                              res["ctypes_sync_get100_profiles_per_s"])

    # ---- serial latency ------------------------------------------------------------------
    log("serial latency")
    c = r.c("serial", S["c_serial_n"], A)
    res["c_serial_latency_us_p50"], res["c_serial_latency_us_p99"] = c["p50_us"], c["p99_us"]
    p = r.tim_py("serial_sync", S["py_serial_n"], A)
    res["py_sync_serial_latency_us_p50"], res["py_sync_serial_latency_us_p99"] = p["p50_us"], p["p99_us"]
    p = r.tim_py("serial_async", S["py_serial_n"], A)
    res["py_async_serial_latency_us_p50"], res["py_async_serial_latency_us_p99"] = p["p50_us"], p["p99_us"]
    if shutil.which("taskset"):
        # The same with every thread of the process on one CPU: on this kind of
        # machine (a VM) waking a thread on the other, idle vCPU costs tens of us,
        # and a serial call wakes one twice.  See docs/bench.md.
        log("serial latency, pinned to one CPU")
        c = r.c("serial", S["c_serial_n"], A, pin=True)
        res["c_serial_latency_us_p50_one_cpu"], res["c_serial_latency_us_p99_one_cpu"] = c["p50_us"], c["p99_us"]
        for flavour in ("sync", "async"):
            p = r.tim_py(f"serial_{flavour}", S["py_serial_n"], A, pin=True)
            res[f"py_{flavour}_serial_latency_us_p50_one_cpu"] = p["p50_us"]
            res[f"py_{flavour}_serial_latency_us_p99_one_cpu"] = p["p99_us"]

    tmp = tempfile.mkdtemp(prefix="timref-bench-")
    try:
        # ---- durable writes ----------------------------------------------------------------
        log("durable profile updates")
        d = os.path.join(tmp, "modify")
        res["modify_ops_per_s"] = r.tim_py("modify", d, S["modify_n"], S["modify_window"])["ops_per_s"]
        res["c_modify_ops_per_s"] = r.c("modify", d, S["modify_n"], S["modify_window"])["ops_per_s"]
        res["modify_window"] = S["modify_window"]
        # the same with one update in flight at a time: each waits for its own commit
        d = os.path.join(tmp, "modify1")
        res["c_modify1_ops_per_s"] = r.c("modify", d, S["modify1_n"], 1)["ops_per_s"]
        res["modify1_ops_per_s"] = r.tim_py("modify", d, S["modify1_n"], 1)["ops_per_s"]
        res["ratio_modify_window_vs_1"] = res["modify_ops_per_s"] / res["modify1_ops_per_s"]
        res["ratio_c_modify_window_vs_1"] = res["c_modify_ops_per_s"] / res["c_modify1_ops_per_s"]

        # ---- notify latency across processes, idle CPU -----------------------------------------
        log("notify latency (two processes)")
        d = os.path.join(tmp, "notify")
        rx = r.popen_tim_py("notify_rx", d, S["notify_n"])
        assert rx.stdout is not None
        ready = rx.stdout.readline()
        if "ready" not in ready:
            raise RuntimeError(f"notify receiver did not start: {ready!r}")
        tx = r.tim_py("notify_tx", d, S["notify_n"], S["notify_spacing_ms"])
        rest, _ = rx.communicate(timeout=120)
        rxres = json.loads([ln for ln in rest.splitlines() if ln.startswith("{")][-1])
        if rx.returncode != 0 or "error" in rxres:
            raise RuntimeError(f"notify receiver failed: {rxres}")
        res["notify_latency_ms_p50"], res["notify_latency_ms_p99"] = rxres["p50_ms"], rxres["p99_ms"]
        res["notify_latency_ms_max"], res["notify_samples"] = rxres["max_ms"], rxres["n"]
        res["notify_spacing_ms"] = S["notify_spacing_ms"]
        # How long the sender's own set_self_status took (its durable commit included):
        # the part of the delay spent before the other process could possibly know.
        res["notify_sender_ack_ms_p50"], res["notify_sender_ack_ms_p99"] = tx["ack_p50_ms"], tx["ack_p99_ms"]
        res["notify_sender_ack_ms_max"] = tx["ack_max_ms"]

        log(f"idle CPU ({S['idle_s']} s)")
        idle = r.popen_tim_py("idle", d, stdin=subprocess.PIPE)
        assert idle.stdout is not None and idle.stdin is not None
        if "ready" not in idle.stdout.readline():
            raise RuntimeError("idle process did not start")
        time.sleep(1.0)  # let start-up work settle
        t0, c0, n0 = time.monotonic(), cpu_ticks(idle.pid), cpu_ns(idle.pid)
        time.sleep(S["idle_s"])
        t1, c1, n1 = time.monotonic(), cpu_ticks(idle.pid), cpu_ns(idle.pid)
        idle.stdin.close()
        idle.wait(30)
        hz = os.sysconf("SC_CLK_TCK")
        res["idle_cpu_percent"] = 100.0 * (c1 - c0) / hz / (t1 - t0)
        res["idle_seconds"] = round(t1 - t0, 2)
        # the same from the scheduler's nanosecond counters (stat counts 1/CLK_TCK s ticks)
        res["idle_cpu_percent_schedstat"] = 100.0 * (n1 - n0) / 1e9 / (t1 - t0)

        # ---- scale --------------------------------------------------------------------------
        n_big = S["scale_accounts"]
        res["scale_accounts"] = n_big
        log(f"scale: importing 1,000 and {n_big:,} accounts")
        small, big = os.path.join(tmp, "s1k"), os.path.join(tmp, "sbig")
        r.c("import", small, 1000, 100)
        imp = r.c("import", big, n_big, 100)
        res["import_accounts_per_s"] = imp["accounts_per_s"]
        res["import_seconds"] = imp["seconds"]
        log("scale: batches of 100 random ids, cold caches")
        s1, sb = [], []
        for _ in range(2):  # interleaved
            s1.append(r.c("scale", small, 1000, S["scale_rounds"] // 2)["get100_ms_p50"])
            sb.append(r.c("scale", big, n_big, S["scale_rounds"] // 2)["get100_ms_p50"])
        res["get100_ms_1k"] = statistics.median(s1)
        res["get100_ms_1m"] = statistics.median(sb)
        res["scale_ratio_1m_over_1k"] = res["get100_ms_1m"] / res["get100_ms_1k"]
        res["store_bytes_per_account"] = dir_bytes(big) / n_big
        tb = table_bytes(os.path.join(big, "timref-1400000001.db"))
        if "tables" in tb:
            res["store_account_table_bytes_per_account"] = tb["tables"].get("account", 0) / n_big
            res["store_event_log_bytes"] = tb["tables"].get("event", 0)
            res["store_event_rows"] = tb["event_rows"]
            res["store_freelist_bytes"] = tb["freelist"]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    # ---- memory ---------------------------------------------------------------------------------
    log(f"memory: {S['rss_calls']:,} calls through tim_py AsyncTIM")
    m = r.tim_py("rss", S["rss_calls"], W1, A)
    res["rss_before_mb"], res["rss_after_mb"], res["rss_growth_mb"] = (
        m["rss_before_mb"], m["rss_after_mb"], m["rss_growth_mb"])
    res["rss_calls"] = m["calls"]
    res["rss_process"] = "python (tim_py AsyncTIM, pipelined window %d)" % W1

    # ---- the PostgreSQL column (bench/pg.py): its own cluster, beside the SQLite figures above ------
    if not args.no_pg:
        pg.measure(r, S, res, log, q)

    # ---- ratios and targets ------------------------------------------------------------------------
    res["ratio_py_async_vs_ctypes_get1"] = res["py_async_get1_ops_per_s"] / res["ctypes_get1_ops_per_s"]
    res["ratio_py_sync_vs_ctypes_get1"] = res["py_sync_get1_ops_per_s"] / res["ctypes_get1_ops_per_s"]
    res["ratio_py_async_get100_vs_c"] = res["py_async_get100_profiles_per_s"] / res["c_get100_profiles_per_s"]
    res["ratio_py_async_get1_vs_c"] = res["py_async_get1_ops_per_s"] / res["c_get1_ops_per_s"]
    res["ratio_py_async_get100_vs_ctypes"] = (res["py_async_get100_profiles_per_s"]
                                              / res["ctypes_get100_profiles_per_s"])
    # tim_py as a fraction of the Python limit, flavour for flavour
    for flavour in ("async", "sync"):
        res[f"ratio_py_{flavour}_get1_vs_limit"] = (res[f"py_{flavour}_get1_ops_per_s"]
                                                    / res[f"limit_{flavour}_get1_ops_per_s"])
        res[f"ratio_py_{flavour}_get100_vs_limit"] = (res[f"py_{flavour}_get100_profiles_per_s"]
                                                      / res[f"limit_{flavour}_get100_profiles_per_s"])
    ops = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b}
    for key, _desc, metric, op, bound in TARGETS:
        res[key] = bool(ops[op](res[metric], bound))
    res["targets_met"] = all(res[k] for k, *_ in TARGETS + (pg.TARGETS if not args.no_pg else []))

    res["mode"] = "smoke" if args.smoke else "quick" if args.quick else "full"
    res["tim_py_module"] = r.tim_py_module()
    res["sizes"] = S
    res["machine"] = bench_common.machine()
    res["tim_py_library"] = "compiled-in" if args.builtin else LIB
    return res


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

def fmt(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.3g}" if abs(v) < 1 else f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def row(label: str, key, res: dict) -> str:
    """A line of the table: a heading (key None), one figure, or several (a tuple of keys)."""
    if key is None:
        return label
    if isinstance(key, tuple):
        return f"{label:<50} {' / '.join(fmt(res.get(k)) for k in key):>20}"
    return f"{label:<50} {fmt(res[key]):>20}"


def target_line(res: dict, key: str, desc: str, metric: str, op: str, bound: float) -> str:
    return f"  {desc:<48} {fmt(res[key]):>5}  ({metric} = {fmt(res[metric])}, {op} {bound})"


def table(res: dict) -> str:
    rows = [
        ("Single-profile gets, pipelined (ops/s)", None),
        ("  C alone", "c_get1_ops_per_s"),
        ("  tim_py AsyncTIM", "py_async_get1_ops_per_s"),
        ("  tim_py TIM (futures)", "py_sync_get1_ops_per_s"),
        ("  Python limit, asyncio", "limit_async_get1_ops_per_s"),
        ("  Python limit, futures", "limit_sync_get1_ops_per_s"),
        ("  ctypes (best of the two below)", "ctypes_get1_ops_per_s"),
        ("    ctypes + asyncio", "ctypes_async_get1_ops_per_s"),
        ("    ctypes + futures", "ctypes_sync_get1_ops_per_s"),
        ("Gets of 100 profiles, pipelined (profiles/s)", None),
        ("  C alone", "c_get100_profiles_per_s"),
        ("  tim_py AsyncTIM", "py_async_get100_profiles_per_s"),
        ("  tim_py TIM (futures)", "py_sync_get100_profiles_per_s"),
        ("  Python limit, asyncio", "limit_async_get100_profiles_per_s"),
        ("  Python limit, futures", "limit_sync_get100_profiles_per_s"),
        ("  ctypes (best)", "ctypes_get100_profiles_per_s"),
        ("Python threads' CPU per call (us; the library's thread not counted)", None),
        ("  single gets: tim_py / limit, asyncio", ("py_async_get1_py_cpu_us_per_call",
                                                    "limit_async_get1_py_cpu_us_per_call")),
        ("  single gets: tim_py / limit, futures", ("py_sync_get1_py_cpu_us_per_call",
                                                    "limit_sync_get1_py_cpu_us_per_call")),
        ("  gets of 100: tim_py / limit, asyncio", ("py_async_get100_py_cpu_us_per_call",
                                                    "limit_async_get100_py_cpu_us_per_call")),
        ("  gets of 100: tim_py / limit, futures", ("py_sync_get100_py_cpu_us_per_call",
                                                    "limit_sync_get100_py_cpu_us_per_call")),
        ("Serial latency, one call at a time (us)", None),
        ("  C alone p50 / p99", ("c_serial_latency_us_p50", "c_serial_latency_us_p99")),
        ("  tim_py TIM p50 / p99", ("py_sync_serial_latency_us_p50", "py_sync_serial_latency_us_p99")),
        ("  tim_py AsyncTIM p50 / p99", ("py_async_serial_latency_us_p50", "py_async_serial_latency_us_p99")),
        ("  pinned to one CPU (taskset -c 0):", None),
        ("    C alone p50 / p99", ("c_serial_latency_us_p50_one_cpu", "c_serial_latency_us_p99_one_cpu")),
        ("    tim_py TIM p50 / p99", ("py_sync_serial_latency_us_p50_one_cpu", "py_sync_serial_latency_us_p99_one_cpu")),
        ("    tim_py AsyncTIM p50 / p99",
         ("py_async_serial_latency_us_p50_one_cpu", "py_async_serial_latency_us_p99_one_cpu")),
        ("Writes and notifications", None),
        ("  durable profile updates/s (tim_py)", "modify_ops_per_s"),
        ("  durable profile updates/s (C)", "c_modify_ops_per_s"),
        ("  durable profile updates/s (tim_py), one at a time", "modify1_ops_per_s"),
        ("  durable profile updates/s (C), one at a time", "c_modify1_ops_per_s"),
        ("  ratio in flight / one at a time (tim_py)", "ratio_modify_window_vs_1"),
        ("  ratio in flight / one at a time (C)", "ratio_c_modify_window_vs_1"),
        ("  notify latency ms p50 / p99", ("notify_latency_ms_p50", "notify_latency_ms_p99")),
        ("    sender's own call (commit) ms p50 / p99", ("notify_sender_ack_ms_p50", "notify_sender_ack_ms_p99")),
        ("  idle CPU of a logged-in process (%)", "idle_cpu_percent"),
        ("    the same from schedstat (ns counters) (%)", "idle_cpu_percent_schedstat"),
        ("Scale (C, batches of 100 random ids, cold caches)", None),
        ("  accounts in the big store", "scale_accounts"),
        ("  get100 ms, 1k accounts", "get100_ms_1k"),
        ("  get100 ms, big store", "get100_ms_1m"),
        ("  ratio big / 1k", "scale_ratio_1m_over_1k"),
        ("  store bytes per account", "store_bytes_per_account"),
        ("    of which the account table", "store_account_table_bytes_per_account"),
        ("  import, accounts/s", "import_accounts_per_s"),
        ("Memory (tim_py AsyncTIM)", None),
        ("  calls", "rss_calls"),
        ("  RSS before / after MB", ("rss_before_mb", "rss_after_mb")),
        ("  RSS growth MB", "rss_growth_mb"),
        ("Ratios", None),
        ("  asyncio / ctypes, single gets", "ratio_py_async_vs_ctypes_get1"),
        ("  futures / ctypes, single gets", "ratio_py_sync_vs_ctypes_get1"),
        ("  asyncio / C, batches of 100", "ratio_py_async_get100_vs_c"),
        ("  asyncio / C, single gets", "ratio_py_async_get1_vs_c"),
        ("  tim_py asyncio / limit, single gets", "ratio_py_async_get1_vs_limit"),
        ("  tim_py futures / limit, single gets", "ratio_py_sync_get1_vs_limit"),
        ("  tim_py asyncio / limit, batches of 100", "ratio_py_async_get100_vs_limit"),
        ("  tim_py futures / limit, batches of 100", "ratio_py_sync_get100_vs_limit"),
        ("  the same by CPU per call (limit's / tim_py's):", None),
        ("    asyncio, single gets", "ratio_py_async_get1_vs_limit_cpu"),
        ("    futures, single gets", "ratio_py_sync_get1_vs_limit_cpu"),
        ("    asyncio, batches of 100", "ratio_py_async_get100_vs_limit_cpu"),
        ("    futures, batches of 100", "ratio_py_sync_get100_vs_limit_cpu"),
    ]
    targets = list(TARGETS)
    if "pg_get1_ops_per_s" in res:
        rows += pg.ROWS
        targets += pg.TARGETS
    lines = []
    for label, key in rows:
        if key is None or isinstance(key, tuple) or key in res:
            lines.append(row(label, key, res))
    lines.append("Targets")
    for t in targets:
        lines.append(target_line(res, *t))
    m = res["machine"]
    lines.append(f"mode {res['mode']}; scale store {res['scale_accounts']:,} accounts; "
                 f"{m['nproc']} CPUs, {m['cpu_model']}; Python {m['python']}; tim_py library: "
                 f"{res['tim_py_library']}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="smaller counts (scale store of 100,000 accounts, 200,000 calls for memory)")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny counts: only checks that every contender runs (the figures mean nothing)")
    ap.add_argument("--json", metavar="PATH", help="write every figure to PATH as JSON")
    ap.add_argument("--builtin", action="store_true",
                    help="measure tim_py's compiled-in timref instead of build/native/libtimref.so")
    ap.add_argument("--rounds", type=int, default=0, help="rounds of the throughput benchmarks")
    ap.add_argument("--no-pg", action="store_true",
                    help="leave out the PostgreSQL column (bench/pg.py; it starts a private cluster)")
    args = ap.parse_args()
    t0 = time.monotonic()
    build()
    res = measure(args)
    res["wall_seconds"] = round(time.monotonic() - t0, 1)
    print(table(res))
    print(f"({res['wall_seconds']} s)")
    if args.json:
        save_json(args.json, res)


def save_json(path: str, res: dict) -> None:
    """Every figure of a run, as the --json option of run.py and pg.py writes them."""
    with open(path, "w") as f:
        json.dump(res, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
