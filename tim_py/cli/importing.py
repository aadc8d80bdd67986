"""``tim-py user import``: accounts and their profiles from JSON Lines or CSV, in batches.

Rows are read and checked first (the fields a row may set, and their aliases,
come from the table of fields, ``tim_py.fields``); then each batch creates its
accounts in one call and sets every row's fields, all in flight at once, a row
all or nothing.  Ctrl-C (or SIGTERM) stops once the rows in flight are answered
and says how many rows were committed; a second one stops at once.
"""
from __future__ import annotations

import argparse
import csv
import io
import signal
import sys
import time
from types import FrameType
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple

import orjson

from ..admin import FIELD_TAGS
from ..client import TIM
from ..errors import TIMError
from ..fields import FIELDS
from ..types import CUSTOM_PREFIX
from . import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CLIError, T, Terminated
from .progress import Bars
from .render import err, is_utf8, json_doc, out, shown
from .values import field_value, text_value
from .world import chunks, existing, id_looks_valid, open_world, unique

#: other names of fields a row may use -> the field's
FIELD_ALIASES = {alias: f.name for f in FIELDS for alias in f.aliases}
#: what a row may hold but does not set: its ID, and the read-only fields (as 'profile show --json' prints them)
_NOT_SET = frozenset(f.name for f in FIELDS if f.item is None)


class Row:
    """One row of an import file: where it is, what it sets, and how far it got."""

    __slots__ = ("line", "user_id", "fields", "error", "state")
    PENDING, SENT, DONE = 0, 1, 2  # not sent yet; sent to the library; answered (or failed)

    def __init__(self, line: int, user_id: str, fields: Dict[str, Any], error: Optional[str] = None) -> None:
        """``user_id`` is "" when the row has none."""
        self.line, self.user_id, self.fields, self.error = line, user_id, fields, error
        self.state = Row.DONE if error is not None else Row.PENDING


def _row_fields(record: Dict[str, Any], from_csv: bool) -> Tuple[str, Dict[str, Any]]:
    """One record of an import file -> (user_id, set_portrait keyword arguments); ValueError if bad."""
    uid = record.get("user_id")
    if uid is None or uid == "":
        raise ValueError("no user_id")
    if not isinstance(uid, str):
        raise ValueError(f"user_id must be a string, got {shown(uid)}")
    text_value("user_id", uid)
    fields: Dict[str, Any] = {}
    custom: List[Dict[str, str]] = []
    for key, raw in record.items():
        if key in _NOT_SET:
            continue
        if key is None:  # csv: more cells than header columns
            raise ValueError(f"{len(raw)} cell(s) more than the header has columns")
        if raw is None or (from_csv and raw == ""):
            continue  # not set
        name = FIELD_ALIASES.get(key, key)
        if name in ("custom", "profile_custom_field"):
            if isinstance(raw, dict) and name == "custom":
                pairs = list(raw.items())
            elif isinstance(raw, list):
                pairs = []
                for e in raw:
                    if not isinstance(e, dict) or set(e) != {"key", "value"}:
                        raise ValueError(f"{key}: expected a list of {{\"key\", \"value\"}}, got {shown(e)}")
                    pairs.append((e["key"], e["value"]))
            else:
                raise ValueError(f"{key}: expected an object of KEY: VALUE, got {shown(raw)}")
            for k, v in pairs:
                if not isinstance(k, str):
                    raise ValueError(f"{key}: expected string keys, got {shown(k)}")
                if not isinstance(v, str):
                    raise ValueError(f"custom field {shown(k)}: expected a string, got {shown(v)}")
                custom.append({"key": text_value("custom field key", k),
                               "value": text_value(f"custom field {shown(k)}", v)})
            continue
        for prefix in ("custom.", "custom:", CUSTOM_PREFIX):
            if name.startswith(prefix) and len(name) > len(prefix):
                if not isinstance(raw, str):
                    raise ValueError(f"{key}: expected a string, got {shown(raw)}")
                custom.append({"key": text_value(key, name[len(prefix):]),
                               "value": text_value(key, raw)})
                break
        else:
            if name not in FIELD_TAGS:
                raise ValueError(f"unknown field {shown(key)} (fields: user_id, {', '.join(FIELD_TAGS)}, "
                                 "custom.KEY)")
            if name == "allow_type" and raw in (0, "unknown", "0"):
                continue  # "unknown" is what an account has before anyone sets it: nothing to set
            fields[name] = field_value(name, raw)
    if custom:
        fields["profile_custom_field"] = custom
    return uid, fields


def _detect_format(path: str, text: str, forced: Optional[str]) -> str:
    if forced:
        return forced
    low = path.lower()
    if low.endswith(".csv"):
        return "csv"
    if low.endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    return "jsonl" if text.lstrip().startswith("{") else "csv"


def parse_import(text: str, fmt: str, name: str = "-") -> List[Row]:
    """The rows of an import file (``name`` is for messages); each row is checked, not sent."""
    rows: List[Row] = []
    if fmt == "jsonl":
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError as e:
                rows.append(Row(n, "", {}, f"not JSON: {e}"))
                continue
            if not isinstance(rec, dict):
                rows.append(Row(n, "", {}, "not a JSON object"))
                continue
            given = rec.get("user_id")
            uid = given if isinstance(given, str) else ""
            try:
                uid, fields = _row_fields(rec, from_csv=False)
                rows.append(Row(n, uid, fields))
            except ValueError as e:
                rows.append(Row(n, uid, {}, str(e)))
        return rows
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames or []
        if "user_id" not in header:
            raise CLIError("the CSV header row must have a user_id column (e.g. 'user_id,nick,avatar'); "
                           f"got {shown(header)}", EXIT_USAGE)
        for rec in reader:
            n = reader.line_num
            uid = rec.get("user_id") or ""
            try:
                uid, fields = _row_fields(rec, from_csv=True)
                rows.append(Row(n, uid, fields))
            except ValueError as e:
                rows.append(Row(n, uid, {}, str(e)))
    except csv.Error as e:  # a cell over csv.field_size_limit(), for one
        # (line_num counts the lines read before the one that failed)
        raise CLIError(f"{name}:{reader.line_num + 1}: not CSV: {e} (nothing was imported)",
                       EXIT_USAGE) from None
    return rows


def _read_input(path: str) -> str:
    named = path if is_utf8(path) and path.isprintable() else shown(path)
    try:
        if path == "-":
            return sys.stdin.buffer.read().decode("utf-8-sig")
        with open(path, "rb") as f:
            return f.read().decode("utf-8-sig")
    except OSError as e:
        raise CLIError(f"cannot read {named}: {e.strerror}", EXIT_USAGE) from None
    except UnicodeDecodeError as e:
        raise CLIError(f"{named} is not UTF-8 text: {e}", EXIT_USAGE) from None


class StopSignals:
    """While an import runs: the first SIGINT (Ctrl-C) or SIGTERM asks it to stop once the rows
    in flight are answered; a second one interrupts at once.  Calling the object says whether
    a stop was asked."""

    def __init__(self) -> None:
        self.signum = 0
        self._previous: Dict[int, Any] = {}

    def __enter__(self) -> "StopSignals":
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                if signal.getsignal(sig) is signal.SIG_IGN:
                    continue  # e.g. SIGINT of a background job: it stays ignored
                self._previous[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not the main thread
                pass
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: Optional[FrameType]) -> None:
        if self.signum:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise Terminated()
        self.signum = signum

    def __call__(self) -> bool:
        return self.signum != 0


def cmd_user_import(args: argparse.Namespace) -> int:
    try:
        text = _read_input(args.file)
        rows = parse_import(text, _detect_format(args.file, text, args.format), args.file)
    except KeyboardInterrupt:
        raise CLIError(f"interrupted while reading {args.file}: nothing imported (0 rows committed)",
                       EXIT_INTERRUPTED) from None
    good = [r for r in rows if r.error is None]
    progress = Bars(enabled=not args.no_progress and len(rows) >= 200)
    progress.phase("importing", total=len(rows))
    progress.advance(len(rows) - len(good))
    created: Set[str] = set()
    updated: Set[str] = set()
    ok_users: Set[str] = set()
    stop = StopSignals()
    current: Sequence[Row] = ()  # the batch in progress
    broken: Optional[BaseException] = None  # what ended the import early, other than a stop
    t0 = time.monotonic()
    try:
        with stop, open_world(args, must_exist=False) as tim:
            for batch in chunks(good, args.batch):
                if stop():
                    break
                current = batch
                _import_batch(tim, batch, created, updated, ok_users, progress, stop)
                current = ()
    except (KeyboardInterrupt, Terminated, TIMError, TimeoutError) as e:
        broken = e
    finally:
        progress.close()
    elapsed = time.monotonic() - t0
    failed = [r for r in rows if r.error is not None]
    imported = sum(1 for r in rows if r.state == Row.DONE and r.error is None)
    left = [r for r in rows if r.state != Row.DONE]
    if args.json:
        json_doc({"imported": imported, "failed": len(failed), "created": len(created),
                  "updated": len(updated), "seconds": round(elapsed, 3),
                  "failures": [{"line": r.line, "user_id": r.user_id or None, "reason": r.error}
                               for r in failed],
                  "interrupted": stop() or isinstance(broken, (KeyboardInterrupt, Terminated)),
                  "not_imported": len(left)})
    else:
        for r in failed:
            uid = r.user_id if id_looks_valid(r.user_id) else shown(r.user_id)
            who = f" ({uid})" if r.user_id else ""
            err(f"{args.file}:{r.line}{who}: {r.error}")
        out(f"imported {imported}, failed {len(failed)} (accounts: {len(created)} created, "
            f"{len(updated)} updated) in {elapsed:.2f} s")
    # What happened to every row is known, except for those of a batch cut short by a second
    # Ctrl-C or by an error: say so.
    committed = f"{imported} row{'s' if imported != 1 else ''} committed"
    unsure = broken is not None and bool(current)
    rest = f"; {len(left)} not {'confirmed' if unsure else 'imported'}, from {args.file}:{left[0].line} on" \
        if left else ""
    if unsure:
        lines = f"{args.file}:{current[0].line} to {current[-1].line}"
        rest += f" (the batch in progress, {lines}, may be partly applied)"
    if isinstance(broken, (KeyboardInterrupt, Terminated)):
        err(f"interrupted: {committed}{rest}")
        return EXIT_INTERRUPTED if isinstance(broken, KeyboardInterrupt) else 128 + signal.SIGTERM
    if broken is not None:
        what = f"error [{broken.code}] {broken.desc}" if isinstance(broken, TIMError) else \
            f"no answer from the library within {T:g} s"
        err(f"{what}; the import stopped: {committed}{rest}")
        return EXIT_FAILED
    if stop():
        err(f"interrupted: {committed}{rest}")
        return EXIT_INTERRUPTED if stop.signum == signal.SIGINT else 128 + stop.signum
    return EXIT_FAILED if failed else EXIT_OK


def _import_batch(tim: TIM, batch: Sequence[Row], created: Set[str], updated: Set[str], ok_users: Set[str],
                  progress: Bars, stop: Callable[[], bool]) -> None:
    """Import one batch: its accounts in one call, then every row's fields, all in flight at once.

    A row is all or nothing; once ``stop()`` says so no further row is sent, the rows sent are
    waited for, and the accounts this batch created for rows not imported are deleted again.
    """
    ids = unique(r.user_id for r in batch)
    existed = existing(tim, ids)
    fail = set(tim.admin.import_accounts(ids).result(T))
    new_here = {i for i in ids if i not in existed and i not in fail and i not in ok_users}
    pending: List[Tuple[Row, Any]] = []
    for r in batch:
        if stop():
            break
        r.state = Row.SENT
        if r.user_id in fail:
            r.error = "the library refused the identifier (1 to 32 printable ASCII characters)"
        elif not r.fields:
            pending.append((r, None))
            continue
        else:
            try:
                pending.append((r, tim.admin.set_portrait(r.user_id, **r.fields)))
                continue
            except (TIMError, TypeError, ValueError) as e:  # refused at the call
                r.error = str(e)
        r.state = Row.DONE
        progress.advance()
    for r, fut in pending:
        if fut is not None:
            try:
                fut.result(T)
            except TIMError as e:
                r.error = f"[{e.code}] {e.desc}"
        if r.error is None:
            ok_users.add(r.user_id)
        r.state = Row.DONE
        progress.advance()
    # A row whose fields were refused, or that was not sent, is not imported: remove the
    # account that it alone created.
    undo = [i for i in new_here if i not in ok_users]
    if undo:
        tim.admin.delete_accounts(undo).result(T)
    for i in ids:
        if i in ok_users and i not in created and i not in updated:
            (created if i in new_here else updated).add(i)
