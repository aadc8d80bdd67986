"""``tim-py world export|import|reset``: the whole world as a snapshot file, and back.

The library does the work, each in one call: ``ref/world_export`` reads the world in
one consistent read, ``ref/world_import`` replaces it in one transaction (a bad
snapshot changes nothing; its message names the first bad entry), ``ref/world_reset``
removes every account in one transaction (``tim.admin.world_*``).  The file is
written atomically and read by ``tim_py.snapshot`` (docs/snapshots.md): a kill in
the middle of an export leaves the old file as it was.

What the command adds: the checks of its arguments before anything is opened, the
progress bars (real ones for the bytes of the file written or read; a "working" bar
while the library works, for it reports nothing until it is done), the question
that ``reset`` asks on a terminal, and what Ctrl-C means at each step.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from typing import Any, Dict, Optional

from . import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CLIError, T, Terminated
from .importing import StopSignals
from .progress import Bars
from .render import err, is_utf8, json_doc, out, shown
from .world import app_id, data_dir, open_world, where_shown

#: seconds to wait for the library's one call on a whole world (10^5 accounts take seconds)
WORLD_T = 600.0


def _named(path: str) -> str:
    return path if is_utf8(path) and path.isprintable() else shown(path)


def _check_target(path: str) -> None:
    """Where an export may write: a file (new or not) in an existing directory."""
    if not path:
        raise CLIError("FILE must not be empty", EXIT_USAGE)
    if os.path.isdir(path):
        raise CLIError(f"{_named(path)} is a directory; name the snapshot file to write", EXIT_USAGE)
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise CLIError(f"cannot write {_named(path)}: the directory {_named(parent)} does not exist", EXIT_USAGE)


def cmd_world_export(args: argparse.Namespace) -> int:
    from .. import snapshot

    path = args.file
    _check_target(path)
    t0 = time.monotonic()
    size = -1  # the bytes written, once snapshot.write has returned
    try:
        with open_world(args, must_exist=True) as tim, Bars(enabled=not args.no_progress) as bars:
            bars.phase("exporting (the library reads the world)")
            doc: Dict[str, Any] = tim.admin.world_export(include_status=args.include_status).result(WORLD_T)
            bars.phase(f"writing {_named(path)}", unit="bytes")
            try:
                size = snapshot.write(path, doc, bars.reporter())
            except OSError as e:  # a full disk, no permission: the old file is as it was
                raise CLIError(f"cannot write {_named(path)}: {e.strerror or e} (the file is as it was)") from None
    except (KeyboardInterrupt, Terminated) as e:
        if size >= 0:
            err(f"interrupted while closing: {_named(path)} had been written, complete")
        else:  # snapshot.write replaces the file in one rename: it is the old one or the whole new one
            err(f"interrupted: the export did not finish; {_named(path)} was not partly written (it is as it "
                "was, or else the complete new snapshot)")
        return EXIT_INTERRUPTED if isinstance(e, KeyboardInterrupt) else 128 + signal.SIGTERM
    elapsed = time.monotonic() - t0
    n = len(doc["Accounts"])
    if args.json:
        json_doc({"file": path, "accounts": n, "bytes": size, "include_status": bool(args.include_status),
                  "seconds": round(elapsed, 3)})
    else:
        out(f"exported {n} account{'s' if n != 1 else ''} to {_named(path)} ({size:,} bytes) in {elapsed:.2f} s")
    return EXIT_OK


def cmd_world_import(args: argparse.Namespace) -> int:
    from .. import snapshot

    path = args.file
    t0 = time.monotonic()
    stop = StopSignals()
    sent = False
    try:
        with Bars(enabled=not args.no_progress) as bars:
            bars.phase(f"reading {_named(path)}", unit="bytes")
            try:
                doc = snapshot.read(path, bars.reporter())
            except OSError as e:
                raise CLIError(f"cannot read {_named(path)}: {e.strerror or e}", EXIT_USAGE) from None
            except ValueError as e:  # not JSON, not a snapshot, another version: nothing was sent
                raise CLIError(f"{e} (nothing changed)", EXIT_USAGE) from None
            with open_world(args, must_exist=False) as tim:
                with stop:  # from here a first Ctrl-C waits for the library's answer
                    bars.phase("importing (the library, one transaction)")
                    fut = tim.admin.world_import(doc)
                    sent = True
                    n: int = fut.result(WORLD_T)
    except (KeyboardInterrupt, Terminated) as e:
        code = EXIT_INTERRUPTED if isinstance(e, KeyboardInterrupt) else 128 + signal.SIGTERM
        if not sent:
            err("interrupted before the import was sent: nothing changed")
        else:  # a second Ctrl-C: the transaction was left to finish or not
            err("interrupted while the library was importing: the world is either as it was or the "
                "snapshot's (one transaction); check with 'tim-py world export'")
        return code
    elapsed = time.monotonic() - t0
    if stop():
        err(f"interrupted too late: the import had been sent and was committed ({n} accounts)")
        return EXIT_INTERRUPTED if stop.signum == signal.SIGINT else 128 + stop.signum
    if args.json:
        json_doc({"file": path, "accounts": n, "seconds": round(elapsed, 3)})
    else:
        out(f"imported {n} account{'s' if n != 1 else ''} from {_named(path)} in {elapsed:.2f} s "
            "(the world is now the snapshot's)")
    return EXIT_OK


def _ask(question: str) -> bool:
    """Ask on the terminal (the question on stderr, the answer from stdin); yes or no."""
    sys.stderr.write(question)
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except UnicodeDecodeError:
        return False
    if not answer:  # end of input (Ctrl-D)
        sys.stderr.write("\n")
    return answer.strip().lower() in ("y", "yes")


def cmd_world_reset(args: argparse.Namespace) -> int:
    where, app = data_dir(args), app_id(args)
    if not args.yes and not sys.stdin.isatty():
        raise CLIError("world reset removes every account of the world, and stdin is not a terminal to ask "
                       "on: add --yes to reset without asking", EXIT_USAGE)
    with open_world(args, must_exist=True) as tim:
        if not args.yes:
            total: Optional[int] = tim.admin.list_accounts(limit=1).result(T).total
            if not _ask(f"Remove all {total} accounts of app {app} in {where_shown(where)}? Their profiles "
                        "and status go too; this cannot be undone. [y/N] "):
                err("not confirmed: nothing changed")
                return EXIT_FAILED
        n: int = tim.admin.world_reset().result(WORLD_T)
    if args.json:
        json_doc({"removed": n})
    else:
        out(f"removed {n} account{'s' if n != 1 else ''}")
    return EXIT_OK
