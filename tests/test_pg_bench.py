"""bench/pg.py (the PostgreSQL column of bench/run.py) runs end to end: its own cluster, the
hosts in namespaces when root, the buffer pool in huge pages when root (the machine's pool put back
afterwards), every figure present.  The figures of a smoke run mean nothing."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = pytest.mark.pg

NR_HUGEPAGES = "/proc/sys/vm/nr_hugepages"


def _nr_hugepages():
    try:
        return Path(NR_HUGEPAGES).read_text()
    except OSError:
        return None


def test_bench_pg_smoke(tmp_path, native_lib):
    out = tmp_path / "pg.json"
    pool = _nr_hugepages()
    # a small buffer pool: as root the run raises vm.nr_hugepages for it (then puts it back)
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "pg.py"), "--smoke", "--shared-buffers", "64MB",
                        "--json", str(out)], cwd=str(ROOT / "bench"), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert _nr_hugepages() == pool  # the machine's pool as it was
    res = json.loads(out.read_text())
    assert res["pg_shared_buffers"] == "64MB"
    if os.geteuid() == 0 and pool is not None:
        # the server really ran on huge pages, and the scale figure was taken again without
        assert res["pg_huge_pages"].startswith("on ("), res["pg_huge_pages"]
        for key in ("pg_get100_ms_1k_4k_pages", "pg_get100_ms_big_4k_pages", "pg_scale_ratio_big_over_1k_4k_pages"):
            assert res[key] > 0, key
    else:
        assert res["pg_huge_pages"].startswith(("on (", "off (")), res["pg_huge_pages"]
    for key in ("pg_get1_ops_per_s", "pg_get100_profiles_per_s", "sqlite_disk_get1_ops_per_s",
                "pg_modify_ops_per_s", "pg_c_modify1_ops_per_s", "pg_notify_latency_ms_p50",
                "pg_notify_latency_ms_p99", "pg_get100_ms_1k", "pg_get100_ms_big", "get100_ms_1k",
                "ratio_pg_over_sqlite_get100_ms", "pg_scale_ratio_big_over_1k"):
        assert res[key] > 0, key
    for key in ("target_pg_notify_p50_le_2ms", "target_pg_notify_p99_le_10ms",
                "target_pg_get100_within_3x_sqlite", "target_pg_scale_within_1_5x"):
        assert isinstance(res[key], bool), key  # reported, met or not
    assert "PostgreSQL" in r.stdout
