"""bench/run.py measures tim_py as installed, editable or not.

A plain ``pip install .`` leaves no compiled module in the source tree, so the
benchmark must import tim_py from where it was installed, never from the tree
it runs from.  This builds a plain (non-editable) install of the current
sources into a directory of its own and runs the benchmark's smoke mode
against it, from a copy of the tree that has no compiled module.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tree_files() -> list:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                         capture_output=True, check=True).stdout
    return [f for f in out.decode().split("\0") if f]


def test_bench_runs_against_a_plain_install(tmp_path):
    src, site = tmp_path / "src", tmp_path / "site"
    for rel in _tree_files():
        if rel.endswith((".so", ".pyd")) or not (ROOT / rel).is_file():
            continue
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, src / rel)
    assert not list(src.glob("tim_py/_tim*")), "the copied tree must hold no compiled module"
    # the native library and tools are built once by `make native`; the copy borrows them
    (src / "build").mkdir()
    os.symlink(ROOT / "build" / "native", src / "build" / "native")

    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                        "--target", str(site), str(src)], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert list(site.glob("tim_py/_tim*.so"))

    env = dict(os.environ, PYTHONPATH=str(site))
    env.pop("TIM_PY_LIBRARY", None)
    out = tmp_path / "bench.json"
    r = subprocess.run([sys.executable, str(src / "bench" / "run.py"), "--smoke", "--json", str(out)],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["mode"] == "smoke"
    assert res["tim_py_module"].startswith(str(site)), res["tim_py_module"]
    for key in ("py_async_get1_ops_per_s", "py_sync_get1_ops_per_s", "c_get1_ops_per_s",
                "ctypes_get1_ops_per_s", "notify_latency_ms_p50",
                # the Python limit (bench/limit.py) and tim_py as a fraction of it
                "limit_async_get1_ops_per_s", "limit_sync_get1_ops_per_s",
                "limit_async_get100_profiles_per_s", "limit_sync_get100_profiles_per_s",
                "ratio_py_async_get1_vs_limit", "ratio_py_sync_get1_vs_limit",
                "ratio_py_async_get100_vs_limit", "ratio_py_sync_get100_vs_limit"):
        assert res[key] > 0, key
    for key in ("target_py_async_get1_0_8_of_limit", "target_py_sync_get1_0_8_of_limit",
                "target_py_async_get100_0_8_of_limit", "target_py_sync_get100_0_8_of_limit"):
        assert isinstance(res[key], bool), key  # reported, met or not
