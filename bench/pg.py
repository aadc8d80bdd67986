"""The PostgreSQL column of bench/run.py: the same world on a PostgreSQL server, beside SQLite
on disk, measured in the same run (docs/bench.md, "PostgreSQL").

The benchmark starts its own private cluster with scripts/pg-cluster.sh (fsync on, as in the
tests) and, as root, two hosts in network namespaces (tests/netns_helper.py) so that the notify
latency is taken between processes on different hosts, over a virtual network; without root the
two processes share this host, and the figures say so (``pg_notify_between``).  Every world is
a database of its own on the cluster.

    python bench/pg.py [--quick | --smoke] [--json PATH]    the PostgreSQL column alone

Figures (keys of the JSON): single gets and gets of 100 through tim_py AsyncTIM, pipelined,
on PostgreSQL and on SQLite on disk (``pg_*`` and ``sqlite_disk_*``); durable profile updates/s
(tim_py and C, in flight and one at a time); notify latency p50/p99 between the hosts; get100
from the store (cold caches, C) with 10^3 and with the scale store's accounts.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Callable, List

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _helpers():
    """The tests' cluster and namespace helpers (tests/pg_helper.py, tests/netns_helper.py: the
    same code, one place), loaded from their files under a name of their own: the source tree is
    never put on sys.path (the benchmark measures tim_py as installed)."""
    import importlib
    import importlib.util

    name = "_timref_test_helpers"
    if name not in sys.modules:
        d = os.path.join(ROOT, "tests")
        spec = importlib.util.spec_from_file_location(name, os.path.join(d, "__init__.py"),
                                                      submodule_search_locations=[d])
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return importlib.import_module(name + ".netns_helper"), importlib.import_module(name + ".pg_helper")

#: the benchmark cluster's shared_buffers (the tests' cluster keeps 128MB, PostgreSQL's default).
#: A server is sized to its data: with 128MB the scale store (about 400 MB with its index) is
#: mostly outside the server's buffers, and a cold get of 100 random ids then pays about 100 page
#: reads from the OS page cache, which is what its time over the 1k store's would measure.
#: ``--shared-buffers 128MB`` measures that case.
SHARED_BUFFERS = "512MB"

#: Whether the server's buffer pool is in huge pages: "auto" when the machine has them or, as
#: root, can be given them for the run (vm.nr_hugepages, put back at the end); "off" never.
#: PostgreSQL's documentation recommends them for a large shared_buffers ("Linux Huge Pages"):
#: on a virtual machine every TLB miss is a walk of two page tables, and with 4 KiB pages a
#: lookup among 10^6 accounts (about 4 pages of the buffer pool, each in a page of its own)
#: pays one per page, where the 1k store's few pages stay in the TLB.  The scale figure is
#: taken both ways when huge pages are on (``pg_*_4k_pages``: the server restarted without).
HUGE_PAGES = "auto"
NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages"

# (full, quick, smoke) sizes of the PostgreSQL column
SIZES = {
    "pg_accounts": (1000, 1000, 100),
    "pg_get1_n": (20_000, 5_000, 200),
    "pg_get100_n": (1_000, 300, 10),
    "pg_rounds": (3, 2, 1),
}

TARGETS = [
    ("target_pg_notify_p50_le_2ms", "PostgreSQL: notify p50 <= 2 ms across hosts", "pg_notify_latency_ms_p50",
     "<=", 2.0),
    ("target_pg_notify_p99_le_10ms", "PostgreSQL: notify p99 <= 10 ms across hosts", "pg_notify_latency_ms_p99",
     "<=", 10.0),
    ("target_pg_get100_within_3x_sqlite", "PostgreSQL: get100 from the store within 3x of SQLite",
     "ratio_pg_over_sqlite_get100_ms", "<=", 3.0),
    ("target_pg_scale_within_1_5x", "PostgreSQL: get100 with the big store within 1.5x of 1k",
     "pg_scale_ratio_big_over_1k", "<=", 1.5),
]


def _db(cluster, name: str) -> str:
    """A fresh database on the cluster; its URL, without the password (the workers get it from
    PGPASSWORD, so that it is not in their command lines)."""
    cluster.sql(f"DROP DATABASE IF EXISTS {name}")
    cluster.sql(f"CREATE DATABASE {name} OWNER timref")
    return cluster.url.rsplit("/", 1)[0].replace(f":{cluster.password}@", "@", 1) + "/" + name


def _check_used(cluster, db: str) -> None:
    """The library really kept the world in ``db``: a build without the PostgreSQL engine would
    ignore timref_config_store_url and measure its in-memory store instead."""
    out = cluster.sql(f"SELECT count(*) FROM pg_database WHERE datname = '{db}'")
    n = subprocess.run([_helpers()[1].pg_bin("psql"), "-X", "-tA", cluster.url.rsplit("/", 1)[0] + "/" + db, "-c",
                        "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'timref_%'"],
                       capture_output=True, text=True, timeout=60)
    if out != ["1"] or n.returncode != 0 or n.stdout.strip() in ("", "0"):
        raise RuntimeError(f"the world was not in the database {db}: is the library measured built with the "
                           "PostgreSQL engine? (bench/run.py measures build/native/libtimref.so)")


def measure(r, S: dict, res: dict, log: Callable[[str], None], q: int) -> None:
    """Add the PostgreSQL figures to ``res``.  ``r`` is run.py's Runner (its interpreter,
    environment and C program); ``S`` its sizes (modify, notify, scale); ``q`` 0 full, 1 quick,
    2 smoke."""
    P = {k: v[q] for k, v in SIZES.items()}
    netns, pgh = _helpers()
    why = netns.unavailable()
    net = None
    pool = HugePagePool()
    tmp = tempfile.mkdtemp(prefix="timref-bench-pg-")
    # a SIGTERM unwinds like Ctrl-C: the namespaces go, the machine's huge page pool is put back
    prev = signal.signal(signal.SIGTERM, _terminate)
    try:
        if why is None:
            net = netns.Net()
            hosts = [net.add_host(), net.add_host()]
            cluster = net.start_cluster()
        else:
            log(f"PostgreSQL: no network namespaces ({why}); notify between processes on this host")
            cluster = pgh.Cluster.start()
        if cluster.sql("SHOW shared_buffers")[0] != SHARED_BUFFERS:
            cluster.sql(f"ALTER SYSTEM SET shared_buffers = '{SHARED_BUFFERS}'")
            cluster.server_stop()  # the pages needed are those of the new size
            cluster.server_start()
        res["pg_huge_pages"] = _huge_pages(cluster, pool, HUGE_PAGES == "auto", log)
        res["pg_shared_buffers"] = cluster.sql("SHOW shared_buffers")[0]
        saved = r.env.get("PGPASSWORD")
        r.env["PGPASSWORD"] = cluster.password
        try:
            res["pg_server_version"] = cluster.sql("SHOW server_version")[0]
            _gets(r, P, res, log, cluster, tmp)
            _check_used(cluster, "bench_gets")
            _writes(r, S, res, log, cluster)
            _notify(r, S, res, log, cluster, net, hosts if net else None)
            _scale(r, S, res, log, cluster, pool)
        finally:
            if saved is None:
                r.env.pop("PGPASSWORD", None)
            else:
                r.env["PGPASSWORD"] = saved
            if net is None:
                cluster.stop()
    finally:
        if net is not None:
            net.close()
        shutil.rmtree(tmp, ignore_errors=True)
        pool.restore(log)  # after the server that used the pages has stopped
        signal.signal(signal.SIGTERM, prev)
    ratios(res)


def _terminate(signum, _frame) -> None:
    raise SystemExit(128 + signum)


def ratios(res: dict) -> None:
    res["ratio_sqlite_over_pg_get1"] = res["sqlite_disk_get1_ops_per_s"] / res["pg_get1_ops_per_s"]
    res["ratio_sqlite_over_pg_get100"] = (res["sqlite_disk_get100_profiles_per_s"]
                                         / res["pg_get100_profiles_per_s"])
    res["ratio_pg_over_sqlite_get100_ms"] = res["pg_get100_ms_1k"] / res["get100_ms_1k"]
    if "modify_ops_per_s" in res:
        res["ratio_pg_over_sqlite_modify"] = res["pg_modify_ops_per_s"] / res["modify_ops_per_s"]
    ops = {"<=": lambda a, b: a <= b}
    for key, _desc, metric, op, bound in TARGETS:
        res[key] = bool(ops[op](res[metric], bound))


def _gets(r, P: dict, res: dict, log, cluster, tmp: str) -> None:
    A = P["pg_accounts"]
    worlds = {"pg": _db(cluster, "bench_gets"), "sqlite_disk": os.path.join(tmp, "gets")}
    samples: dict = {}
    for rnd in range(P["pg_rounds"]):
        log(f"PostgreSQL: pipelined gets beside SQLite on disk, round {rnd + 1}/{P['pg_rounds']}")
        for engine, where in worlds.items():  # interleaved
            one = r.tim_py("get1_async", P["pg_get1_n"], 64, A, where)["ops_per_s"]
            hundred = r.tim_py("get100_async", P["pg_get100_n"], 8, A, where)["profiles_per_s"]
            samples.setdefault(f"{engine}_get1_ops_per_s", []).append(one)
            samples.setdefault(f"{engine}_get100_profiles_per_s", []).append(hundred)
    for k, v in samples.items():
        res[k] = statistics.median(v)


def _writes(r, S: dict, res: dict, log, cluster) -> None:
    log("PostgreSQL: durable profile updates")
    w = S["modify_window"]
    res["pg_modify_ops_per_s"] = r.tim_py("modify", _db(cluster, "bench_modify"), S["modify_n"], w)["ops_per_s"]
    res["pg_c_modify_ops_per_s"] = r.c("modify", _db(cluster, "bench_cmodify"), S["modify_n"], w)["ops_per_s"]
    res["pg_modify1_ops_per_s"] = r.tim_py("modify", _db(cluster, "bench_modify1"), S["modify1_n"], 1)["ops_per_s"]
    res["pg_c_modify1_ops_per_s"] = r.c("modify", _db(cluster, "bench_cmodify1"), S["modify1_n"], 1)["ops_per_s"]


def _notify(r, S: dict, res: dict, log, cluster, net, hosts) -> None:
    """bench/py_bench.py's notify_rx and notify_tx, on two hosts when there are namespaces."""
    url = _db(cluster, "bench_notify")
    bench = os.path.join(HERE, "py_bench.py")

    def cmd(host, *args) -> List[str]:
        argv = [r.py, bench, *map(str, args)]
        return ["ip", "netns", "exec", host.ns, *argv] if host is not None else argv

    rx_host, tx_host = (hosts[0], hosts[1]) if hosts else (None, None)
    if net is not None:
        url = url.replace("@127.0.0.1:", f"@{net.server}:", 1)
    res["pg_notify_between"] = "two network namespaces (veth, bridge)" if net else "two processes on one host"
    log(f"PostgreSQL: notify latency, {res['pg_notify_between']}")
    rx = subprocess.Popen(cmd(rx_host, "notify_rx", url, S["notify_n"]), env=r.env, stdout=subprocess.PIPE,
                          text=True)
    try:
        assert rx.stdout is not None
        ready = rx.stdout.readline()
        if "ready" not in ready:
            raise RuntimeError(f"PostgreSQL notify receiver did not start: {ready!r}")
        tx = r.run(cmd(tx_host, "notify_tx", url, S["notify_n"], S["notify_spacing_ms"]))
        rest, _ = rx.communicate(timeout=180)
    finally:
        if rx.poll() is None:
            rx.kill()
            rx.wait(10)
    rxres = json.loads([ln for ln in rest.splitlines() if ln.startswith("{")][-1])
    if rx.returncode != 0 or "error" in rxres:
        raise RuntimeError(f"PostgreSQL notify receiver failed: {rxres}")
    res["pg_notify_latency_ms_p50"], res["pg_notify_latency_ms_p99"] = rxres["p50_ms"], rxres["p99_ms"]
    res["pg_notify_latency_ms_max"], res["pg_notify_samples"] = rxres["max_ms"], rxres["n"]
    res["pg_notify_sender_ack_ms_p50"], res["pg_notify_sender_ack_ms_p99"] = tx["ack_p50_ms"], tx["ack_p99_ms"]


def _scale(r, S: dict, res: dict, log, cluster, pool: "HugePagePool") -> None:
    n_big = S["scale_accounts"]
    log(f"PostgreSQL: scale, importing 1,000 and {n_big:,} accounts")
    dbs = ("bench_s1k", "bench_sbig")
    small, big = (_db(cluster, name) for name in dbs)
    r.c("import", small, 1000, 100)
    imp = r.c("import", big, n_big, 100)
    _check_used(cluster, "bench_sbig")
    res["pg_import_accounts_per_s"] = imp["accounts_per_s"]
    res["pg_scale_accounts"] = n_big

    def batches(suffix: str) -> None:
        # the server sized to its data holds what a get reads (the account table and its key) in
        # its buffers; a restart empties them.  Not the event log: an import of 10^6 accounts
        # leaves it about as big as the buffers (pruned events are dead rows until a vacuum)
        for name in dbs:
            cluster.sql("CREATE EXTENSION IF NOT EXISTS pg_prewarm; SELECT pg_prewarm(c.oid) FROM pg_class c "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 'timref\\_%' "
                        "AND c.relname IN ('account', 'account_pkey')", db=name)
        s1, sb = [], []
        for _ in range(2):
            s1.append(r.c("scale", small, 1000, S["scale_rounds"] // 2 or 1)["get100_ms_p50"])
            sb.append(r.c("scale", big, n_big, S["scale_rounds"] // 2 or 1)["get100_ms_p50"])
        m1, mb = statistics.median(s1), statistics.median(sb)
        res[f"pg_get100_ms_1k{suffix}"], res[f"pg_get100_ms_big{suffix}"] = m1, mb
        res[f"pg_scale_ratio_big_over_1k{suffix}"] = mb / m1

    log(f"PostgreSQL: scale, batches of 100 random ids, cold caches (huge pages {res['pg_huge_pages']})")
    batches("")
    if res["pg_huge_pages"].startswith("on"):
        log("PostgreSQL: scale again, the server restarted with 4 KiB pages")
        _huge_pages(cluster, pool, False, log)
        batches("_4k_pages")


class HugePagePool:
    """The kernel's pool of huge pages (vm.nr_hugepages): raised for the run when it is short
    and this process may (root), and put back by restore()."""

    def __init__(self) -> None:
        self.saved = None  # the pool's size before the run, when raised

    @staticmethod
    def _meminfo(key: str) -> int:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def provide(self, need: int) -> str:
        """Have ``need`` huge pages free for a server about to start; "" or why not."""
        free = self._meminfo("HugePages_Free") - self._meminfo("HugePages_Rsvd")
        if free >= need:
            return ""
        if os.geteuid() != 0 or not os.path.exists(NR_HUGEPAGES):
            return f"{free} free huge pages of the {need} needed, and raising vm.nr_hugepages needs root"
        with open(NR_HUGEPAGES) as f:
            total = int(f.read())
        if self.saved is None:
            self.saved = total
        with open(NR_HUGEPAGES, "w") as f:
            f.write(str(total + need - free))
        got = self._meminfo("HugePages_Free") - self._meminfo("HugePages_Rsvd")
        return "" if got >= need else f"the kernel gave {got} of the {need} huge pages needed"

    def restore(self, log) -> None:
        if self.saved is not None:
            with open(NR_HUGEPAGES, "w") as f:
                f.write(str(self.saved))
            log(f"PostgreSQL: vm.nr_hugepages put back to {self.saved}")
            self.saved = None


def _huge_pages(cluster, pool: HugePagePool, want: bool, log) -> str:
    """Restart the server with its buffer pool in huge pages (``want``, when they can be had) or
    in 4 KiB pages; what it runs with, "on (N pages of 2048 kB)" or "off (why)"."""
    why = "not asked for"
    if want:
        need = int(cluster.sql("SHOW shared_memory_size_in_huge_pages")[0])
        why = pool.provide(need) if need > 0 else "the kernel has no huge pages"
    cluster.sql(f"ALTER SYSTEM SET huge_pages = '{'off' if why else 'try'}'")
    cluster.server_stop()
    cluster.server_start()
    if why:
        return f"off ({why})"
    size = _postmaster_page_kb(cluster)
    if size is None:
        log("PostgreSQL: the server started without huge pages")
        return "off (the server started without them)"
    return f"on ({need} pages of {size} kB)"


def _postmaster_page_kb(cluster):
    """The page size of the postmaster's huge mapping (its shared memory), or None."""
    with open(os.path.join(cluster.dir, "data", "postmaster.pid")) as f:
        pid = f.readline().strip()
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if line.startswith("KernelPageSize:") and int(line.split()[1]) > 4:
                return int(line.split()[1])
    return None


# Rows of run.py's table (label, key or keys); None: a heading.
ROWS = [
    ("PostgreSQL (private cluster; SQLite on disk beside it, same run)", None),
    ("  single gets/s, AsyncTIM: PostgreSQL / SQLite on disk", ("pg_get1_ops_per_s", "sqlite_disk_get1_ops_per_s")),
    ("  gets of 100, profiles/s: PostgreSQL / SQLite on disk",
     ("pg_get100_profiles_per_s", "sqlite_disk_get100_profiles_per_s")),
    ("  durable updates/s in flight (tim_py / C)", ("pg_modify_ops_per_s", "pg_c_modify_ops_per_s")),
    ("  durable updates/s one at a time (tim_py / C)", ("pg_modify1_ops_per_s", "pg_c_modify1_ops_per_s")),
    ("  notify latency ms p50 / p99", ("pg_notify_latency_ms_p50", "pg_notify_latency_ms_p99")),
    ("    between", "pg_notify_between"),
    ("  get100 ms from the store, 1k: PostgreSQL / SQLite", ("pg_get100_ms_1k", "get100_ms_1k")),
    ("  get100 ms, big store (PostgreSQL)", "pg_get100_ms_big"),
    ("  ratio big / 1k (PostgreSQL)", "pg_scale_ratio_big_over_1k"),
    ("  the same, 4 KiB pages: 1k / big (ms), ratio",
     ("pg_get100_ms_1k_4k_pages", "pg_get100_ms_big_4k_pages", "pg_scale_ratio_big_over_1k_4k_pages")),
    ("  import, accounts/s (PostgreSQL)", "pg_import_accounts_per_s"),
    ("  the server's shared_buffers", "pg_shared_buffers"),
    ("  its buffer pool in huge pages", "pg_huge_pages"),
]


def main() -> None:
    """The PostgreSQL column alone, with the SQLite figures it is compared with (get100 from the
    store, durable updates) taken here in the same run."""
    global SHARED_BUFFERS, HUGE_PAGES
    import run  # bench/run.py: its Runner, sizes, build and table helpers

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--smoke", action="store_true", help="tiny counts: only checks that it runs")
    ap.add_argument("--json", metavar="PATH")
    ap.add_argument("--shared-buffers", metavar="SIZE", default=SHARED_BUFFERS,
                    help=f"the cluster's shared_buffers (default {SHARED_BUFFERS}; the tests' cluster: 128MB)")
    ap.add_argument("--huge-pages", choices=("auto", "off"), default=HUGE_PAGES,
                    help="the server's buffer pool in huge pages: auto (when the machine has them or, as root, "
                         "can give them for the run) or off")
    args = ap.parse_args()
    SHARED_BUFFERS, HUGE_PAGES = args.shared_buffers, args.huge_pages
    q = 2 if args.smoke else 1 if args.quick else 0
    S = {k: v[q] for k, v in run.SIZES.items()}
    t0 = time.monotonic()
    run.build()
    r = run.Runner(builtin=False)
    res: dict = {"mode": ["full", "quick", "smoke"][q]}
    tmp = tempfile.mkdtemp(prefix="timref-bench-sq-")
    try:
        run.log("SQLite on disk: durable updates and get100 from the store (1k accounts)")
        res["modify_ops_per_s"] = r.tim_py("modify", os.path.join(tmp, "m"), S["modify_n"],
                                           S["modify_window"])["ops_per_s"]
        small = os.path.join(tmp, "s1k")
        r.c("import", small, 1000, 100)
        res["get100_ms_1k"] = statistics.median(
            r.c("scale", small, 1000, S["scale_rounds"] // 2 or 1)["get100_ms_p50"] for _ in range(2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    measure(r, S, res, run.log, q)
    res["wall_seconds"] = round(time.monotonic() - t0, 1)
    for label, key in ROWS:
        print(run.row(label, key, res))
    for t in TARGETS:
        print(run.target_line(res, *t))
    print(f"({res['wall_seconds']} s)")
    if args.json:
        run.save_json(args.json, res)


if __name__ == "__main__":
    main()
