"""bench/rest.py (`make bench-rest`) runs: its --smoke mode, end to end (the server started and
stopped, both workloads measured over HTTP and in process), prints its table and writes its JSON.
The figures of a smoke run mean nothing; only that they are there."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("aiohttp")

ROOT = Path(__file__).resolve().parent.parent


def test_bench_rest_smoke(tmp_path):
    out = tmp_path / "rest.json"
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "rest.py"), "--smoke", "--json", str(out)],
                       capture_output=True, text=True, timeout=180, cwd=str(ROOT))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "query_online_status of 100 accounts: requests/s" in r.stdout
    assert "portrait_set of one nick: p99 latency (ms)" in r.stdout
    res = json.loads(out.read_text())
    assert res["smoke"] is True and res["sizes"]["clients"] == 64
    for key in ("query_http", "query_admin", "set_http", "set_admin", "query1_http", "query1_admin"):
        fig = res["results"][key]
        assert fig["rps"] > 0 and 0 < fig["p50_ms"] <= fig["p99_ms"], (key, fig)
    assert set(res["ratios"]) == {"query_http_over_admin_rps", "set_http_over_admin_rps",
                                  "query1_http_over_admin_rps"}
