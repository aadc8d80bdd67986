"""World snapshots and listing at scale: ``python bench/world.py [ACCOUNTS]`` (default 100000).

Builds a snapshot of ACCOUNTS accounts (a nick, a gender, a level, three custom fields, and for
two in three a custom status), then, on a store on disk in a temporary directory, times each
operation of docs/snapshots.md in CPU seconds (every thread of the process: the library's logic
thread included) and wall seconds, and checks that the round trips are exact.  A measurement,
not a test: it prints, it does not judge.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tim_py import TIM, snapshot  # noqa: E402

APP_ID = 1400000001


def make_snapshot(n: int) -> Dict[str, Any]:
    accounts: List[Dict[str, Any]] = []
    for i in range(n):
        a: Dict[str, Any] = {
            "UserID": f"user{i:06d}",
            "Profile": {"Tag_Profile_IM_Nick": f"Nick {i}", "Tag_Profile_IM_Gender": "Gender_Type_Male",
                        "Tag_Profile_IM_Level": i + 1, "Tag_Profile_Custom_City": "Porto",
                        "Tag_Profile_Custom_Hobby": "chess", "Tag_Profile_Custom_Team": f"t{i % 97}"},
            "LastUpdated": 1764400000 + i,
        }
        if i % 3:
            a["CustomStatus"] = "ok"
        accounts.append(a)
    return {"Format": "timref-world", "Version": 1, "SDKAppID": APP_ID, "Accounts": accounts}


def timed(label: str, f: Callable[[], Any]) -> Any:
    cpu, wall = time.process_time(), time.perf_counter()
    result = f()
    print(f"{label:<58} {time.process_time() - cpu:7.2f} s CPU {time.perf_counter() - wall:7.2f} s wall",
          flush=True)
    return result


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    doc = make_snapshot(n)
    where = tempfile.mkdtemp(prefix="tim-world-bench-")
    try:
        path = os.path.join(where, "world.json")
        with TIM(APP_ID, os.path.join(where, "store")) as tim:
            print(f"{n} accounts, load average {os.getloadavg()[0]:.1f}")
            timed("world_import(doc) into an empty world", lambda: tim.admin.world_import(doc).result(3600))
            timed("world_import(doc) over the same world", lambda: tim.admin.world_import(doc).result(3600))
            out = timed("world_export() to a dict", lambda: tim.admin.world_export().result(3600))
            assert out == doc, "the round trip is not exact"
            raw = timed("  the library alone: ref/world_export as JSON text",
                        lambda: tim.admin.request_raw("ref/world_export", b"{}").result(3600))
            size = timed("snapshot.write", lambda: snapshot.write(path, out))
            back = timed("snapshot.read", lambda: snapshot.read(path))
            removed = timed("world_reset()", lambda: tim.admin.world_reset().result(3600))
            assert removed == n
            timed("world_import(the file's doc) into the empty world", lambda: tim.admin.world_import(back).result(3600))
            assert tim.admin.world_export().result(3600) == doc
            last = f"user{max(n - 150, 0):06d}"
            timed("list_accounts(after=...), a page near the end", lambda: tim.admin.list_accounts(after=last).result(60))
            page = timed("list_accounts(match='99') with its total", lambda: tim.admin.list_accounts(match="99").result(60))
            timed("events(), the last 100", lambda: tim.admin.events().result(60))
            print(f"document {len(raw) / 1e6:.1f} MB as the library writes it, {size / 1e6:.1f} MB as a file; "
                  f"{page.total} IDs contain '99'")
    finally:
        shutil.rmtree(where, ignore_errors=True)


if __name__ == "__main__":
    main()
