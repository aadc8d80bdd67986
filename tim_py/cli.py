"""The ``tim-py`` command (also ``python -m tim_py``): work with a local world.

A *world* is a data directory shared by every process that opens it (timref's
SQLite store ``timref-<sdk_app_id>.db``).  Commands:

``tim-py user create|import|delete``  accounts (the admin surface, as the app's server would)
``tim-py profile show|set``           profiles
``tim-py status show|set``            user status
``tim-py watch ID...``                subscribe and print changes live
``tim-py gen-usersig``                print a UserSig
``tim-py demo``                       a short tour, two processes included

Exit codes: 0 ok, 1 the operation failed (a TIMError: code and desc are
printed), 2 usage error (a bad option, argument or environment variable,
TIM_PY_LIBRARY that cannot be loaded included), 3 not found, 130 interrupted
(Ctrl-C).  Whatever a user types, the command prints a message, never a
traceback.  See docs/cli.md.
"""
from __future__ import annotations

import argparse
import csv
import io
import math
import os
import queue
import signal
import sys
import time
from types import FrameType
from typing import (Any, Callable, Dict, Iterable, Iterator, List, NoReturn, Optional, Sequence, Set,
                    Tuple, TypeVar)

import orjson

from . import EVENT, TIM, __version__, gen_user_sig
from ._core import PROFILE_FIELDS, UINT64_MAX
from .admin import FIELD_TAGS
from .errors import TIMError
from .types import (ALLOW_TYPE_NAMES, CUSTOM_PREFIX, FORBID_TYPE_NAMES, GENDER_NAMES, AllowType, Event,
                    ForbidType, Gender, Profile, UserStatus, UserStatusType)

ENV_DATA_DIR = "TIM_PY_DATA_DIR"
ENV_APP_ID = "TIM_PY_SDK_APP_ID"
DEFAULT_APP_ID = 1400000001
#: the account ``profile show`` and ``status show`` log in as (reading others' status needs a login)
DEFAULT_READER = "tim-py-cli"
#: the account ``watch`` logs in as
DEFAULT_WATCHER = "tim-py-watch"

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
NOT_FOUND_CODES = frozenset((40003, 70107))  # no such account (profile / account APIs)
T = 30.0  # seconds to wait for any one call: the library answers in milliseconds
#: the largest --expire: TLS.expire is a JSON integer, at most 2**63 - 1
MAX_EXPIRE = (1 << 63) - 1
_T = TypeVar("_T")


class CLIError(Exception):
    """An error the command reports on stderr, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread (so that the client logs out and closes)."""


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _err(text: str) -> None:
    sys.stderr.write(f"tim-py: {text}\n")
    sys.stderr.flush()


def _write_json(data: bytes) -> None:
    """JSON is UTF-8 whatever the terminal's encoding (PYTHONIOENCODING=ascii, say)."""
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is not None:
        buffer.write(data + b"\n")
        buffer.flush()
    else:
        _out(data.decode())


def _json_doc(obj: Any) -> None:
    """One JSON document on stdout."""
    _write_json(orjson.dumps(obj, option=orjson.OPT_INDENT_2))


def _json_line(obj: Any) -> None:
    """One line of a JSON Lines stream on stdout."""
    _write_json(orjson.dumps(obj))


def _shown(value: Any, limit: int = 60) -> str:
    """``value`` quoted for a message: bytes that are not UTF-8 as \\xNN, long text cut short."""
    if isinstance(value, str) and not _is_utf8(value) and _only_escapes(value):
        text = repr(value.encode("utf-8", "surrogateescape"))[1:]  # b'a\\xff' -> 'a\\xff'
    else:
        text = repr(value)
    if len(text) > limit:
        text = f"{text[:limit - 4]}...{text[-1]} ({len(value) if isinstance(value, str) else len(text)} " \
               "characters)"
    return text


def _is_utf8(text: str) -> bool:
    """False for a str holding surrogates: an argument or a variable whose bytes are not UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _only_escapes(text: str) -> bool:
    return all(not "\ud800" <= c <= "\udfff" or "\udc80" <= c <= "\udcff" for c in text)


def _enum_word(v: Any) -> Any:
    """Gender.MALE -> "male": the words the command line takes as input, too."""
    return v.name.lower() if hasattr(v, "name") else v


def profile_dict(p: Profile) -> Dict[str, Any]:
    return {
        "user_id": p.user_id, "nick": p.nick, "avatar": p.avatar, "gender": _enum_word(p.gender),
        "self_signature": p.self_signature, "allow_type": _enum_word(p.allow_type),
        "birthday": p.birthday, "location": p.location, "language": p.language,
        "message_settings": p.message_settings, "admin_forbid_type": _enum_word(p.admin_forbid_type),
        "level": p.level, "role": p.role,
        "profile_custom_field": [{"key": f.key, "value": f.value} for f in p.profile_custom_field],
        "last_updated_time": p.last_updated_time,
    }


def status_dict(s: UserStatus) -> Dict[str, Any]:
    return {"user_id": s.user_id, "status": _enum_word(s.status_type), "status_type": int(s.status_type),
            "custom_status": s.custom_status, "online_devices": list(s.online_devices)}


def _short_key(key: str) -> str:
    return key[len(CUSTOM_PREFIX):] if key.startswith(CUSTOM_PREFIX) else key


def profile_lines(p: Profile) -> List[str]:
    d = profile_dict(p)
    rows = [(k, d[k]) for k in ("nick", "avatar", "gender", "self_signature", "allow_type", "birthday",
                                "location", "language", "message_settings", "admin_forbid_type",
                                "level", "role")]
    rows += [(f"custom.{_short_key(f.key)}", f.value) for f in p.profile_custom_field]
    if p.last_updated_time:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(p.last_updated_time))
        rows.append(("last_updated_time", f"{p.last_updated_time} ({when})"))
    width = max(len(k) for k, _ in rows)
    return [p.user_id] + [f"  {k.ljust(width)}  {v}" for k, v in rows]


def status_line(s: UserStatus, width: int = 0) -> str:
    text = f"{s.user_id.ljust(width)}  {_enum_word(s.status_type)}"
    if s.custom_status:
        text += f"  custom_status={s.custom_status!r}"
    if s.online_devices:
        text += f"  devices={','.join(s.online_devices)}"
    return text


# ---------------------------------------------------------------------------
# Field values (command line options and import rows)
# ---------------------------------------------------------------------------

STRING_FIELDS = ("nick", "avatar", "self_signature", "location")
INT_FIELDS = ("birthday", "language", "level", "role", "message_settings")
ENUM_FIELDS: Dict[str, Any] = {"gender": Gender, "allow_type": AllowType, "admin_forbid_type": ForbidType}
_WEB_NAMES: Dict[str, Dict[str, Any]] = {"gender": GENDER_NAMES, "allow_type": ALLOW_TYPE_NAMES,
                                         "admin_forbid_type": FORBID_TYPE_NAMES}
FIELD_ALIASES = {"signature": "self_signature", "face_url": "avatar", "forbid_type": "admin_forbid_type"}
READ_ONLY_FIELDS = ("last_updated_time",)


def _checked(name: str, value: Any, label: str) -> Any:
    """``value`` for profile field ``name``, judged by the package's own checker.

    The ranges (message_settings 0..1, the others 0..2**32-1) and the enum values live
    in one place, tim_py._core.PROFILE_FIELDS; a refusal is a ValueError naming ``label``.
    """
    check = PROFILE_FIELDS[name][-1]  # (..., C key, checker)
    try:
        return check(label, value)
    except (TypeError, ValueError) as e:
        raise ValueError(str(e)) from None


def text_value(label: str, raw: str) -> str:
    """Text for the library: UTF-8 (an argument's bytes may not be) and no NUL (a file's may have one)."""
    if not _is_utf8(raw):
        raise ValueError(f"{label} is not valid UTF-8: {_shown(raw)}")
    if "\x00" in raw:
        raise ValueError(f"{label} contains a NUL character: {_shown(raw)}")
    return raw


def enum_value(name: str, raw: Any, label: Optional[str] = None) -> int:
    """male / Gender_Type_Male / 1 -> 1 (the same for allow_type and admin_forbid_type)."""
    label = label or name
    cls = ENUM_FIELDS[name]
    if isinstance(raw, str):
        word = raw.strip().lower().replace("-", "_")
        for m in cls:
            if word in (m.name.lower(), str(int(m))):
                return int(m)
        if raw not in _WEB_NAMES[name]:
            raise ValueError(f"{label}: expected one of {_enum_choices(cls)}, got {_shown(raw)}")
    return int(_checked(name, raw, label))


def _enum_choices(cls: Any) -> str:
    return "|".join(m.name.lower() for m in cls)


def int_value(label: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"{label}: expected an integer, got {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw.strip(), 10)
        except ValueError:
            pass
    raise ValueError(f"{label}: expected an integer, got {_shown(raw)}")


def field_value(name: str, raw: Any, label: Optional[str] = None) -> Any:
    """Convert one value given by a person (or a file) for profile field ``name``; ValueError if bad.

    ``label`` names the value in messages (``--level``; default the field's name).
    """
    label = label or name
    if name in STRING_FIELDS:
        if not isinstance(raw, str):
            raise ValueError(f"{label}: expected a string, got {_shown(raw)}")
        return _checked(name, text_value(label, raw), label)
    if name in INT_FIELDS:
        return _checked(name, int_value(label, raw), label)
    if name in ENUM_FIELDS:
        return enum_value(name, raw, label)
    raise ValueError(f"unknown field {name!r}")


def parse_custom(items: Iterable[str]) -> List[Dict[str, str]]:
    """``--custom KEY=VALUE`` (``KEY=`` removes the field)."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CLIError(f"--custom takes KEY=VALUE (KEY= removes the field), got {_shown(item)}",
                           EXIT_USAGE)
        try:
            out.append({"key": text_value("--custom KEY", key),
                        "value": text_value(f"--custom {key}", value)})
        except ValueError as e:
            raise CLIError(str(e), EXIT_USAGE) from None
    return out


# ---------------------------------------------------------------------------
# The world: data directory, app id, client
# ---------------------------------------------------------------------------


def _data_dir(args: argparse.Namespace) -> str:
    d = getattr(args, "data_dir", None)
    source = "--data-dir"
    if d is None:
        d = os.environ.get(ENV_DATA_DIR) or None
        source = ENV_DATA_DIR
    if d is None:
        raise CLIError(
            f"no data directory: give --data-dir DIR or set {ENV_DATA_DIR}=DIR "
            "(the directory every process of the world opens; it is created when missing)", EXIT_USAGE)
    return check_dir(d, source)


def check_dir(d: str, source: str) -> str:
    """A data directory: a UTF-8 path (the library takes UTF-8) to a directory, or to nothing yet."""
    if not d:
        raise CLIError(f"{source} must not be empty", EXIT_USAGE)
    if not _is_utf8(d) or "\x00" in d:
        raise CLIError(f"{source} must be a UTF-8 path (the library takes UTF-8), got {_shown(d)}",
                       EXIT_USAGE)
    if os.path.exists(d) and not os.path.isdir(d):
        raise CLIError(f"{source} {d}: not a directory", EXIT_USAGE)
    return d


def whole_number(text: str, lo: int, hi: int) -> Optional[int]:
    """``text`` as a number from ``lo`` to ``hi``, written in decimal digits only (no sign, space
    or underscore); None when it is not one."""
    if not (text.isascii() and text.isdigit()) or len(text.lstrip("0")) > len(str(hi)):
        return None
    n = int(text, 10)
    return n if lo <= n <= hi else None


def positive_int(text: str, source: str, what: str, hi: int = UINT64_MAX) -> int:
    n = whole_number(text, 1, hi)
    if n is None:
        raise CLIError(f"{source} must be {what} between 1 and {hi}, got {_shown(text)}", EXIT_USAGE)
    return n


def _app_id(args: argparse.Namespace) -> int:
    v = getattr(args, "app_id", None)
    source = "--app-id"
    if v is None:
        v = os.environ.get(ENV_APP_ID) or None
        source = ENV_APP_ID
    if v is None:
        return DEFAULT_APP_ID
    return positive_int(v, source, f"an SDKAppID (such as {DEFAULT_APP_ID})")


def store_path(data_dir: str, app_id: int) -> str:
    return os.path.join(data_dir, f"timref-{app_id}.db")


def _is_load_error(e: OSError) -> bool:
    return str(e).startswith("tim_py: cannot load")


def library_error(e: OSError) -> CLIError:
    """TIM_PY_LIBRARY names a file the loader refused: say which and why (usage error, exit 2)."""
    text = str(e)
    text = text[len("tim_py: "):] if text.startswith("tim_py: ") else text
    return CLIError(f"{text} (the library named by TIM_PY_LIBRARY; unset it to use the compiled-in timref)",
                    EXIT_USAGE)


def open_client(app_id: int, data_dir: str, **kw: Any) -> TIM:
    """``TIM(app_id, data_dir, ...)``, its failures as CLIErrors."""
    try:
        return TIM(app_id, data_dir, **kw)
    except TIMError as e:
        raise CLIError(f"cannot open the store in {data_dir}: [{e.code}] {e.desc}") from None
    except OSError as e:
        if _is_load_error(e):
            raise library_error(e) from None
        raise
    except (TypeError, ValueError) as e:
        raise CLIError(str(e), EXIT_USAGE) from None


def open_world(args: argparse.Namespace, must_exist: bool) -> TIM:
    """A client on the world of ``--data-dir``/``--app-id``.

    ``must_exist``: refuse (exit 3) when the directory has no store for this app, instead
    of creating an empty world because of a typo.
    """
    data_dir = _data_dir(args)
    app_id = _app_id(args)
    if must_exist and not os.path.exists(store_path(data_dir, app_id)):
        where = "does not exist" if not os.path.isdir(data_dir) else f"has no timref-{app_id}.db"
        raise CLIError(
            f"no world for app {app_id} in {data_dir} (the directory {where}); check --data-dir/"
            f"{ENV_DATA_DIR} and --app-id/{ENV_APP_ID}, or create users first with "
            "'tim-py user create'", EXIT_NOT_FOUND)
    return open_client(app_id, data_dir)


def _login(tim: TIM, user_id: str, what: str) -> None:
    try:
        tim.login(user_id, "tim-py-cli").result(T)
    except TIMError as e:
        raise CLIError(f"cannot log in as {_shown(user_id)} (the account {what} uses; pick another with "
                       f"--as): [{e.code}] {e.desc}") from None


def _chunks(items: Sequence[_T], n: int) -> Iterator[Sequence[_T]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def _unique(ids: Iterable[str]) -> List[str]:
    return list(dict.fromkeys(ids))


def read_profiles(tim: TIM, ids: Sequence[str]) -> Dict[str, Profile]:
    """Profiles of the existing accounts among ``ids`` (any number; 100 per call)."""
    found: Dict[str, Profile] = {}
    for part in _chunks(ids, 100):
        try:
            for p in tim.get_user_profile(list(part)).result(T):
                found[p.user_id] = p
        except TIMError as e:
            if e.code != 40003:
                raise
    return found


def read_statuses(tim: TIM, ids: Sequence[str]) -> Dict[str, UserStatus]:
    found: Dict[str, UserStatus] = {}
    for part in _chunks(ids, 500):
        try:
            for s in tim.get_user_status(list(part)).result(T):
                found[s.user_id] = s
        except TIMError as e:
            if e.code != 40003:
                raise
    return found


def _missing(ids: Sequence[str], found: Dict[str, Any]) -> int:
    missing = [i for i in ids if i not in found]
    if missing:
        _err(f"no such user: {', '.join(missing)}")
        return EXIT_NOT_FOUND
    return EXIT_OK


# ---------------------------------------------------------------------------
# user create | import | delete
# ---------------------------------------------------------------------------


def cmd_user_create(args: argparse.Namespace) -> int:
    with open_world(args, must_exist=False) as tim:
        existed = _exists(tim, [args.user_id])
        try:
            tim.admin.import_account(args.user_id, nick=args.nick, avatar=args.avatar).result(T)
        except TIMError:
            raise
        except (TypeError, ValueError) as e:
            raise CLIError(str(e), EXIT_USAGE) from None
        created = args.user_id not in existed
        if args.json:
            _json_doc({"user_id": args.user_id, "created": created})
        elif created:
            _out(f"created {args.user_id}")
        else:
            changed = [n for n, v in (("nick", args.nick), ("avatar", args.avatar)) if v is not None]
            _out(f"{args.user_id} already existed" + (f"; set {', '.join(changed)}" if changed else ""))
    return EXIT_OK


def id_looks_valid(user_id: str) -> bool:
    """The identifier rule: 1 to 32 characters, each printable ASCII (space to tilde).

    The library is the judge of the IDs it is given; the command line uses this only to keep
    a bad ID out of a batched lookup, and for gen-usersig, which has no library to ask.
    """
    return 0 < len(user_id) <= 32 and all(" " <= c <= "~" for c in user_id)


def _exists(tim: TIM, ids: Sequence[str]) -> Set[str]:
    """Which of ``ids`` are existing accounts (portrait_get answers per account)."""
    ids = [i for i in _unique(ids) if id_looks_valid(i)]
    out: Set[str] = set()
    for part in _chunks(ids, 1000):
        ans = tim.admin.request("v4/profile/portrait_get",
                                {"To_Account": list(part), "TagList": ["Tag_Profile_IM_Nick"]}).result(T)
        for item in ans.get("UserProfileItem", []):
            if item.get("ResultCode", 0) == 0:
                out.add(item.get("To_Account"))
    return out


class Progress:
    """A one-line progress bar on stderr (only when stderr is a terminal)."""

    def __init__(self, total: int, label: str, enabled: bool) -> None:
        self.total, self.label, self.enabled = total, label, enabled
        self.done = 0
        self.start = self._last = time.monotonic()
        self._drawn = False

    def advance(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last >= 0.1 or self.done >= self.total:
            self._last = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        width = 30
        frac = self.done / self.total if self.total else 1.0
        filled = int(frac * width)
        rate = self.done / max(now - self.start, 1e-6)
        bar = "#" * filled + "." * (width - filled)
        sys.stderr.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {frac:4.0%} {rate:,.0f}/s ")
        sys.stderr.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


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
        raise ValueError(f"user_id must be a string, got {_shown(uid)}")
    text_value("user_id", uid)
    fields: Dict[str, Any] = {}
    custom: List[Dict[str, str]] = []
    for key, raw in record.items():
        if key == "user_id" or key in READ_ONLY_FIELDS:
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
                        raise ValueError(f"{key}: expected a list of {{\"key\", \"value\"}}, got {_shown(e)}")
                    pairs.append((e["key"], e["value"]))
            else:
                raise ValueError(f"{key}: expected an object of KEY: VALUE, got {_shown(raw)}")
            for k, v in pairs:
                if not isinstance(k, str):
                    raise ValueError(f"{key}: expected string keys, got {_shown(k)}")
                if not isinstance(v, str):
                    raise ValueError(f"custom field {_shown(k)}: expected a string, got {_shown(v)}")
                custom.append({"key": text_value("custom field key", k),
                               "value": text_value(f"custom field {_shown(k)}", v)})
            continue
        for prefix in ("custom.", "custom:", CUSTOM_PREFIX):
            if name.startswith(prefix) and len(name) > len(prefix):
                if not isinstance(raw, str):
                    raise ValueError(f"{key}: expected a string, got {_shown(raw)}")
                custom.append({"key": text_value(key, name[len(prefix):]),
                               "value": text_value(key, raw)})
                break
        else:
            if name not in FIELD_TAGS:
                raise ValueError(f"unknown field {_shown(key)} (fields: user_id, {', '.join(FIELD_TAGS)}, "
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
                           f"got {_shown(header)}", EXIT_USAGE)
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
    shown = path if _is_utf8(path) and path.isprintable() else _shown(path)
    try:
        if path == "-":
            return sys.stdin.buffer.read().decode("utf-8-sig")
        with open(path, "rb") as f:
            return f.read().decode("utf-8-sig")
    except OSError as e:
        raise CLIError(f"cannot read {shown}: {e.strerror}", EXIT_USAGE) from None
    except UnicodeDecodeError as e:
        raise CLIError(f"{shown} is not UTF-8 text: {e}", EXIT_USAGE) from None


class _StopSignals:
    """While an import runs: the first SIGINT (Ctrl-C) or SIGTERM asks it to stop once the rows
    in flight are answered; a second one interrupts at once.  Calling the object says whether
    a stop was asked."""

    def __init__(self) -> None:
        self.signum = 0
        self._previous: Dict[int, Any] = {}

    def __enter__(self) -> "_StopSignals":
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
            raise _Terminated()
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
    progress = Progress(len(rows), "importing", enabled=not args.no_progress and sys.stderr.isatty()
                        and len(rows) >= 200)
    progress.advance(len(rows) - len(good))
    created: Set[str] = set()
    updated: Set[str] = set()
    ok_users: Set[str] = set()
    stop = _StopSignals()
    current: Sequence[Row] = ()  # the batch in progress
    broken: Optional[BaseException] = None  # what ended the import early, other than a stop
    t0 = time.monotonic()
    try:
        with stop, open_world(args, must_exist=False) as tim:
            for batch in _chunks(good, args.batch):
                if stop():
                    break
                current = batch
                _import_batch(tim, batch, created, updated, ok_users, progress, stop)
                current = ()
    except (KeyboardInterrupt, _Terminated, TIMError, TimeoutError) as e:
        broken = e
    finally:
        progress.close()
    elapsed = time.monotonic() - t0
    failed = [r for r in rows if r.error is not None]
    imported = sum(1 for r in rows if r.state == Row.DONE and r.error is None)
    left = [r for r in rows if r.state != Row.DONE]
    if args.json:
        _json_doc({"imported": imported, "failed": len(failed), "created": len(created),
                   "updated": len(updated), "seconds": round(elapsed, 3),
                   "failures": [{"line": r.line, "user_id": r.user_id or None, "reason": r.error}
                                for r in failed],
                   "interrupted": stop() or isinstance(broken, (KeyboardInterrupt, _Terminated)),
                   "not_imported": len(left)})
    else:
        for r in failed:
            uid = r.user_id if id_looks_valid(r.user_id) else _shown(r.user_id)
            who = f" ({uid})" if r.user_id else ""
            _err(f"{args.file}:{r.line}{who}: {r.error}")
        _out(f"imported {imported}, failed {len(failed)} (accounts: {len(created)} created, "
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
    if isinstance(broken, (KeyboardInterrupt, _Terminated)):
        _err(f"interrupted: {committed}{rest}")
        return EXIT_INTERRUPTED if isinstance(broken, KeyboardInterrupt) else 128 + signal.SIGTERM
    if broken is not None:
        what = f"error [{broken.code}] {broken.desc}" if isinstance(broken, TIMError) else \
            f"no answer from the library within {T:g} s"
        _err(f"{what}; the import stopped: {committed}{rest}")
        return EXIT_FAILED
    if stop():
        _err(f"interrupted: {committed}{rest}")
        return EXIT_INTERRUPTED if stop.signum == signal.SIGINT else 128 + stop.signum
    return EXIT_FAILED if failed else EXIT_OK


def _import_batch(tim: TIM, batch: Sequence[Row], created: Set[str], updated: Set[str], ok_users: Set[str],
                  progress: Progress, stop: Callable[[], bool]) -> None:
    """Import one batch: its accounts in one call, then every row's fields, all in flight at once.

    A row is all or nothing; once ``stop()`` says so no further row is sent, the rows sent are
    waited for, and the accounts this batch created for rows not imported are deleted again.
    """
    ids = _unique(r.user_id for r in batch)
    existed = _exists(tim, ids)
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


def cmd_user_delete(args: argparse.Namespace) -> int:
    ids = _unique(args.user_ids)
    with open_world(args, must_exist=True) as tim:
        results = tim.admin.delete_accounts(ids).result(T)
    missing = [i for i in ids if results.get(i, 0) == 70107]
    others = {i: c for i, c in results.items() if c not in (0, 70107)}
    deleted = [i for i in ids if results.get(i, 0) == 0]
    if args.json:
        _json_doc({"deleted": deleted, "not_found": missing,
                   "failed": [{"user_id": i, "code": c} for i, c in others.items()]})
    else:
        for i in deleted:
            _out(f"deleted {i}")
    for i, c in others.items():
        _err(f"could not delete {i}: code {c}")
    if others:
        return EXIT_FAILED
    if missing:
        _err(f"no such user: {', '.join(missing)}")
        return EXIT_NOT_FOUND
    return EXIT_OK


# ---------------------------------------------------------------------------
# profile show | set
# ---------------------------------------------------------------------------


def cmd_profile_show(args: argparse.Namespace) -> int:
    ids = _unique(args.user_ids)
    with open_world(args, must_exist=True) as tim:
        _login(tim, args.as_user, "'profile show'")
        found = read_profiles(tim, ids)
        # The SDK shows the add permission (allow_type) to its owner only: another user's reads
        # "unknown".  The admin surface sees it as the server does.
        if found:
            allow = tim.admin.get_portrait(list(found), ["allow_type"]).result(T)
            for uid, p in found.items():
                a = allow.get(uid, {}).get("allow_type")
                if a is not None:
                    found[uid] = p._replace(allow_type=a)
        tim.logout().result(T)
    profiles = [found[i] for i in ids if i in found]
    if args.json:
        _json_doc([profile_dict(p) for p in profiles])
    else:
        for n, p in enumerate(profiles):
            if n:
                _out()
            for line in profile_lines(p):
                _out(line)
    return _missing(ids, found)


_SET_OPTIONS = ("nick", "avatar", "gender", "self_signature", "location", "level", "birthday",
                "language", "role", "allow_type", "message_settings", "admin_forbid_type")
_OPTION_NAMES = {"self_signature": "--signature", "admin_forbid_type": "--forbid-type"}


def cmd_profile_set(args: argparse.Namespace) -> int:
    fields: Dict[str, Any] = {}
    try:
        for name in _SET_OPTIONS:
            raw = getattr(args, name)
            if raw is not None:
                label = _OPTION_NAMES.get(name, "--" + name.replace("_", "-"))
                fields[name] = field_value(name, raw, label)
    except ValueError as e:
        raise CLIError(str(e), EXIT_USAGE) from None
    if args.custom:
        fields["profile_custom_field"] = parse_custom(args.custom)
    if not fields:
        raise CLIError("nothing to set: give at least one of --nick, --avatar, --gender, --signature, "
                       "--location, --level, ..., --custom KEY=VALUE (see 'tim-py profile set --help')",
                       EXIT_USAGE)
    with open_world(args, must_exist=True) as tim:
        tim.admin.set_portrait(args.user_id, **fields).result(T)
    names = [n for n in fields if n != "profile_custom_field"]
    names += [f"custom.{_short_key(c['key'])}" for c in fields.get("profile_custom_field", [])]
    if args.json:
        _json_doc({"user_id": args.user_id, "set": names})
    else:
        _out(f"{args.user_id}: set {', '.join(names)}")
    return EXIT_OK


# ---------------------------------------------------------------------------
# status show | set
# ---------------------------------------------------------------------------


def cmd_status_show(args: argparse.Namespace) -> int:
    ids = _unique(args.user_ids)
    with open_world(args, must_exist=True) as tim:
        _login(tim, args.as_user, "'status show'")
        found = read_statuses(tim, ids)
        tim.logout().result(T)
    statuses = [found[i] for i in ids if i in found]
    if args.json:
        _json_doc([status_dict(s) for s in statuses])
    else:
        width = max((len(s.user_id) for s in statuses), default=0)
        for s in statuses:
            _out(status_line(s, width))
    return _missing(ids, found)


_STATUS_WORDS = {"online": UserStatusType.ONLINE, "offline": UserStatusType.OFFLINE,
                 "unlogined": UserStatusType.UNLOGINED}


def cmd_status_set(args: argparse.Namespace) -> int:
    """Set the status, then print what the store holds (read back through the SDK, as
    'status show' does): without --custom the custom status stays as it was, and a live
    session of the user keeps it online."""
    st = _STATUS_WORDS[args.status]
    if args.as_user == args.user_id:
        raise CLIError(f"cannot read the status of {_shown(args.user_id)} back while logged in as it; pick "
                       "another account with --as", EXIT_USAGE)
    with open_world(args, must_exist=True) as tim:
        tim.admin.set_user_status(args.user_id, st, args.custom).result(T)
        try:
            _login(tim, args.as_user, "'status set'")
            found = read_statuses(tim, [args.user_id])
            tim.logout().result(T)
        except (CLIError, TIMError) as e:
            raise CLIError(f"{args.user_id} was set {args.status}, but reading the status back failed: "
                           f"{e}") from None
    s = found.get(args.user_id)
    if s is None:  # deleted meanwhile
        raise CLIError(f"{args.user_id} was set {args.status}, but no longer exists", EXIT_NOT_FOUND)
    if args.json:
        _json_doc(status_dict(s))
    else:
        extra = f" (custom status {s.custom_status!r})" if s.custom_status else ""
        _out(f"{s.user_id}: {_enum_word(s.status_type)}{extra}")
    if s.status_type != st:
        why = "; a live session of theirs keeps it online" if s.status_type == UserStatusType.ONLINE else ""
        _err(f"note: {s.user_id} is {_enum_word(s.status_type)}, not {args.status}{why}")
    return EXIT_OK


# ---------------------------------------------------------------------------
# watch
# ---------------------------------------------------------------------------


def _stamp() -> str:
    t = time.time()
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}"


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t)) + f".{int(t * 1000) % 1000:03d}" + \
        time.strftime("%z", time.localtime(t))


class Watcher:
    """Prints the watched users' status and profile, then every change."""

    def __init__(self, ids: Sequence[str], as_json: bool) -> None:
        self.ids = set(ids)
        self.as_json = as_json
        self.status: Dict[str, UserStatus] = {}
        self.profile: Dict[str, Profile] = {}

    def show_status(self, s: UserStatus, initial: bool) -> None:
        self.status[s.user_id] = s
        if self.as_json:
            _json_line({"time": _iso(time.time()), "event": "status", "initial": initial, **status_dict(s)})
        else:
            _out(f"{_stamp()}  {s.user_id}  status  {status_line(s)[len(s.user_id) + 2:]}")

    def show_profile(self, p: Profile, initial: bool) -> None:
        old = self.profile.get(p.user_id)
        self.profile[p.user_id] = p
        if self.as_json:
            _json_line({"time": _iso(time.time()), "event": "profile", "initial": initial, **profile_dict(p)})
            return
        new = _flat(p)
        if old is None:
            shown = {k: v for k, v in new.items() if v not in ("", 0, "unknown", "none") or k == "nick"}
        else:
            before = _flat(old)
            shown = {k: v for k, v in new.items() if before.get(k) != v}
            shown.update({k: "" for k in before if k not in new})  # a custom field removed
        text = "  ".join(f"{k}={v!r}" for k, v in shown.items()) or "(no visible change)"
        if old is None and not initial:
            text = "new account  " + text
        _out(f"{_stamp()}  {p.user_id}  profile  {text}")

    def same_status(self, s: UserStatus) -> bool:
        return self.status.get(s.user_id) == s

    def same_profile(self, p: Profile) -> bool:
        return self.profile.get(p.user_id) == p


def _flat(p: Profile) -> Dict[str, Any]:
    d = profile_dict(p)
    custom = d.pop("profile_custom_field")
    d.pop("user_id")
    d.pop("last_updated_time")
    d.update({f"custom.{_short_key(c['key'])}": c["value"] for c in custom})
    return d


def cmd_watch(args: argparse.Namespace) -> int:
    ids = _unique(args.user_ids)
    if args.as_user in ids:
        raise CLIError(f"cannot watch {_shown(args.as_user)} while logged in as it; pick another watcher "
                       "account with --as", EXIT_USAGE)
    data_dir, app_id = _data_dir(args), _app_id(args)
    if not os.path.exists(store_path(data_dir, app_id)):
        _err(f"note: {data_dir} has no store for app {app_id} yet; watching a new, empty world")
    events: "queue.Queue[Tuple[int, str, List[Any]]]" = queue.Queue()
    received = [0]

    def on(kind: str) -> Callable[[Event], None]:
        def handler(event: Event) -> None:
            received[0] += 1
            events.put((received[0], kind, event.data))
        return handler

    w = Watcher(ids, args.json)
    changes = 0
    interrupted = False
    deadline = time.monotonic() + args.seconds if args.seconds is not None else None
    with open_world(args, must_exist=False) as tim:
        tim.on(EVENT.USER_STATUS_UPDATED, on("status"))
        tim.on(EVENT.PROFILE_UPDATED, on("profile"))
        _login(tim, args.as_user, "'watch'")
        for part in _chunks(ids, 200):
            tim.subscribe_user_status(list(part)).result(T)
            tim.subscribe_user_info(list(part)).result(T)
        if len(ids) > 200:
            _err("note: only the last 200 users stay subscribed (the SDK's limit)")
        statuses = read_statuses(tim, ids)
        profiles = read_profiles(tim, ids)
        barrier = received[0]  # events that arrived before the reads above
        for i in ids:
            if i not in statuses and i not in profiles:
                _err(f"note: no account {i!r} yet; watching it anyway")
                continue
            if i in statuses:
                w.show_status(statuses[i], True)
            if i in profiles:
                w.show_profile(profiles[i], True)
        _err(f"watching {', '.join(ids)} as {args.as_user!r}; Ctrl-C to stop")
        try:
            while args.count is None or changes < args.count:
                wait = 0.5
                if deadline is not None:
                    wait = deadline - time.monotonic()
                    if wait <= 0:
                        break
                try:
                    n, kind, data = events.get(timeout=min(wait, 0.5))
                except queue.Empty:
                    continue
                for item in data:
                    if item.user_id not in w.ids:
                        continue  # our own status or profile
                    if kind == "status":
                        if n <= barrier and w.same_status(item):
                            continue
                        w.show_status(item, False)
                    else:
                        if n <= barrier and w.same_profile(item):
                            continue
                        w.show_profile(item, False)
                    changes += 1
        except (KeyboardInterrupt, _Terminated):
            interrupted = True  # the normal way to end a watch: exit 0 after logging out
        try:
            tim.logout().result(T)
        except TIMError:
            pass
    if args.count is not None and changes < args.count and not interrupted:
        _err(f"{args.seconds:g} s passed with {changes} of {args.count} change(s)")
        return EXIT_FAILED
    return EXIT_OK


# ---------------------------------------------------------------------------
# gen-usersig, demo
# ---------------------------------------------------------------------------


def cmd_gen_usersig(args: argparse.Namespace) -> int:
    if not args.key:
        raise CLIError("KEY (the app's secret key) must not be empty", EXIT_USAGE)
    if not id_looks_valid(args.user_id):
        raise CLIError(f"USER_ID must be 1 to 32 printable ASCII characters (the identifier rule: no "
                       f"login accepts another), got {_shown(args.user_id)}", EXIT_USAGE)
    try:
        sig = gen_user_sig(args.sdk_app_id, args.key, args.user_id, args.expire, userbuf=args.userbuf)
    except (TypeError, ValueError) as e:
        raise CLIError(str(e), EXIT_USAGE) from None
    if args.json:
        _json_doc({"user_id": args.user_id, "sdk_app_id": args.sdk_app_id, "expire": args.expire,
                   "user_sig": sig})
    else:
        _out(sig)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from ._demo import demo

    data_dir = getattr(args, "data_dir", None)
    if data_dir is not None:
        check_dir(data_dir, "--data-dir")
    try:
        return demo(data_dir)
    except OSError as e:
        if _is_load_error(e):
            raise library_error(e) from None
        raise


# ---------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------

EPILOG = f"""\
environment:
  {ENV_DATA_DIR}    the world's data directory (instead of --data-dir)
  {ENV_APP_ID}  the SDKAppID (instead of --app-id; default {DEFAULT_APP_ID})

exit codes: 0 ok, 1 the operation failed (TIMError code and desc on stderr),
            2 usage error (a bad option, argument, value or environment variable,
            a TIM_PY_LIBRARY that cannot be loaded), 3 not found, 130 interrupted (Ctrl-C)
see docs/cli.md for examples"""


# argparse types: a bad value is a usage error naming the argument ("argument --batch: ...").


def _text_arg(text: str) -> str:
    """Text, which must be UTF-8: an argument's bytes may not be (Python then holds surrogates)."""
    if not _is_utf8(text):
        raise argparse.ArgumentTypeError(f"not valid UTF-8: {_shown(text)}")
    return text


def _id_arg(text: str) -> str:
    """A user ID: not empty, UTF-8; the library judges the rest (1 to 32 printable ASCII characters)."""
    if not text:
        raise argparse.ArgumentTypeError("a user ID must not be empty")
    return _text_arg(text)


def _count_arg(text: str) -> int:
    n = whole_number(text, 1, UINT64_MAX)
    if n is None:
        raise argparse.ArgumentTypeError(f"must be a whole number, at least 1, got {_shown(text)}")
    return n


def _app_id_arg(text: str) -> int:
    n = whole_number(text, 1, UINT64_MAX)
    if n is None:
        raise argparse.ArgumentTypeError(f"must be an SDKAppID between 1 and {UINT64_MAX}, "
                                         f"got {_shown(text)}")
    return n


def _expire_arg(text: str) -> int:
    n = whole_number(text, 1, MAX_EXPIRE)
    if n is None:
        raise argparse.ArgumentTypeError(f"must be a number of seconds between 1 and {MAX_EXPIRE}, "
                                         f"got {_shown(text)}")
    return n


def _seconds_arg(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not 0 < v < math.inf:  # nan fails too
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {_shown(text)} (leave "
                                         "it out to watch until Ctrl-C)")
    return v


def version_text() -> str:
    """tim_py's version and the library's (TIMGetSDKVersion needs no TIMInit)."""
    from . import _bridge
    from ._ffi import ffi, lib

    path = os.environ.get("TIM_PY_LIBRARY") or None
    if _bridge.current() is None:  # no client: choosing the library disturbs nobody
        err = ffi.new("char[]", 512)
        if lib.tp_load(os.fsencode(path) if path else ffi.NULL, err, 512) != 0:
            reason = ffi.string(err).decode("utf-8", "replace")
            return f"tim-py {__version__} (library {path}: cannot load: {reason})"
    library = ffi.string(lib.tp_TIMGetSDKVersion()).decode("utf-8", "replace")
    where = f" from {path}" if path else ""
    return f"tim-py {__version__} (library: {library}{where})"


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, **kw: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kw)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> NoReturn:
        _out(version_text())
        parser.exit(EXIT_OK)


def _world_options(parser: argparse.ArgumentParser, json_help: str = "print JSON") -> None:
    g = parser.add_argument_group("world options")
    g.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS,
                   help=f"the world's data directory (default: ${ENV_DATA_DIR})")
    g.add_argument("--app-id", metavar="SDKAPPID", default=argparse.SUPPRESS,
                   help=f"the SDKAppID (default: ${ENV_APP_ID}, else {DEFAULT_APP_ID})")
    g.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=json_help)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tim-py", formatter_class=_Formatter, epilog=EPILOG,
        description="Work with a local timref world: accounts, profiles, user status, live changes.")
    p.add_argument("--data-dir", metavar="DIR", help=f"the world's data directory (default: ${ENV_DATA_DIR})")
    p.add_argument("--app-id", metavar="SDKAPPID",
                   help=f"the SDKAppID (default: ${ENV_APP_ID}, else {DEFAULT_APP_ID})")
    p.add_argument("--json", action="store_true", help="print JSON (one document; JSON Lines for watch)")
    p.add_argument("--version", action=_VersionAction,
                   help="print the version of tim-py and of the library, and exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def add(parent: Any, name: str, help_: str, func: Any, **kw: Any) -> argparse.ArgumentParser:
        description = kw.pop("description", help_[0].upper() + help_[1:] + ".")
        sp: argparse.ArgumentParser = parent.add_parser(name, help=help_, description=description,
                                                        formatter_class=_Formatter,
                                                        epilog=kw.pop("epilog", None), **kw)
        sp.set_defaults(func=func)
        return sp

    # user
    user = sub.add_parser("user", help="create, import and delete accounts",
                          description="Create, import and delete accounts (admin surface).")
    usub = user.add_subparsers(dest="user_command", metavar="SUBCOMMAND")
    user.set_defaults(func=None, group=user)
    c = add(usub, "create", "create an account (or set nick/avatar of an existing one)", cmd_user_create,
            epilog="example: tim-py user create bob --nick Bob")
    c.add_argument("user_id", metavar="ID", type=_id_arg)
    c.add_argument("--nick", type=_text_arg, help="nickname")
    c.add_argument("--avatar", metavar="URL", type=_text_arg, help="avatar URL")
    _world_options(c)
    i = add(usub, "import", "import accounts with their profiles from JSON Lines or CSV", cmd_user_import,
            description="Import accounts with their profiles.\n\n"
                        "JSON Lines: one object a line, {\"user_id\": \"bob\", \"nick\": \"Bob\", "
                        "\"gender\": \"male\",\n  \"custom\": {\"Hobby\": \"chess\"}} (any profile "
                        "field; the output of 'profile show --json' works too).\n"
                        "CSV: a header row, user_id first: user_id,nick,avatar,gender,custom.Hobby\n"
                        "  (an empty cell sets nothing).\n"
                        "Rows that fail are reported on stderr and not imported; the exit code is 1 "
                        "if any failed.\n"
                        "Ctrl-C stops the import once the rows in flight are answered and says how "
                        "many rows\n  were committed (exit 130); a second Ctrl-C stops it at once.",
            epilog="examples:\n  tim-py user import users.jsonl\n  cat users.csv | tim-py user import - "
                   "--format csv")
    i.add_argument("file", metavar="FILE", help="the file, or - for stdin")
    i.add_argument("--format", choices=("jsonl", "csv"),
                   help="default: from the extension (.csv, .jsonl), else from the first character")
    i.add_argument("--batch", type=_count_arg, default=500, metavar="N",
                   help="accounts per batch (default 500)")
    i.add_argument("--no-progress", action="store_true", help="no progress bar (shown only on a terminal)")
    _world_options(i)
    d = add(usub, "delete", "delete accounts", cmd_user_delete, epilog="example: tim-py user delete bob carol")
    d.add_argument("user_ids", metavar="ID", nargs="+", type=_id_arg)
    _world_options(d)

    # profile
    prof = sub.add_parser("profile", help="show and set profiles",
                          description="Show and set profiles.")
    psub = prof.add_subparsers(dest="profile_command", metavar="SUBCOMMAND")
    prof.set_defaults(func=None, group=prof)
    s = add(psub, "show", "show profiles", cmd_profile_show,
            description=f"Show profiles. Reads through the SDK, logged in as {DEFAULT_READER!r} "
                        "(or --as) for the moment it takes.",
            epilog="example: tim-py profile show bob carol --json")
    s.add_argument("user_ids", metavar="ID", nargs="+", type=_id_arg)
    s.add_argument("--as", dest="as_user", metavar="READER", default=DEFAULT_READER, type=_id_arg,
                   help=f"the account to read as (default {DEFAULT_READER})")
    _world_options(s)
    s = add(psub, "set", "set profile fields as the server would (portrait_set)", cmd_profile_set,
            description="Set profile fields of ID as the app's server would (admin portrait_set): all or "
                        "nothing; subscribers are told.",
            epilog="example: tim-py profile set bob --nick Bob --gender male --custom Hobby=chess")
    s.add_argument("user_id", metavar="ID", type=_id_arg)
    s.add_argument("--nick", type=_text_arg)
    s.add_argument("--avatar", metavar="URL", type=_text_arg)
    s.add_argument("--gender", help="male|female|unknown")
    s.add_argument("--signature", dest="self_signature", metavar="TEXT", type=_text_arg)
    s.add_argument("--location", type=_text_arg)
    s.add_argument("--level", metavar="N", help="0 to 4294967295")
    s.add_argument("--birthday", metavar="N", help="e.g. 19900101 (0 to 4294967295)")
    s.add_argument("--language", metavar="N", help="0 to 4294967295")
    s.add_argument("--role", metavar="N", help="0 to 4294967295")
    s.add_argument("--allow-type", help="allow_any|need_confirm|deny_any")
    s.add_argument("--message-settings", metavar="0|1", help="0 receive, 1 do not receive")
    s.add_argument("--forbid-type", dest="admin_forbid_type", help="none|send_out")
    s.add_argument("--custom", action="append", metavar="KEY=VALUE",
                   help="a custom field (repeat for more; KEY= removes it)")
    _world_options(s)

    # status
    st = sub.add_parser("status", help="show and set user status",
                        description="Show and set user status.")
    ssub = st.add_subparsers(dest="status_command", metavar="SUBCOMMAND")
    st.set_defaults(func=None, group=st)
    s = add(ssub, "show", "show users' status", cmd_status_show,
            description=f"Show users' status (online, offline, unlogined, custom status, devices). Reads "
                        f"through the SDK, logged in as {DEFAULT_READER!r} (or --as).",
            epilog="example: tim-py status show bob carol")
    s.add_argument("user_ids", metavar="ID", nargs="+", type=_id_arg)
    s.add_argument("--as", dest="as_user", metavar="READER", default=DEFAULT_READER, type=_id_arg,
                   help=f"the account to read as (default {DEFAULT_READER})")
    _world_options(s)
    s = add(ssub, "set", "set a user's status as if a client of theirs did (ref/set_user_status)",
            cmd_status_set,
            description="Set ID's status as if a client of theirs did (admin ref/set_user_status): online "
                        "gives ID a\nsimulated session; offline and unlogined end it. Subscribers are told.\n"
                        "Then print the status as stored, read back through the SDK like 'status show' "
                        f"(logged in\nas {DEFAULT_READER!r}, or --as): without --custom the custom status "
                        "stays as it was.",
            epilog="example: tim-py status set bob online --custom 'at lunch'")
    s.add_argument("user_id", metavar="ID", type=_id_arg)
    s.add_argument("status", choices=tuple(_STATUS_WORDS), metavar="STATUS", help="online|offline|unlogined")
    s.add_argument("--custom", metavar="TEXT", type=_text_arg,
                   help="custom status (at most 100 bytes; '' clears it; default: leave it as it is)")
    s.add_argument("--as", dest="as_user", metavar="READER", default=DEFAULT_READER, type=_id_arg,
                   help=f"the account to read the status back as (default {DEFAULT_READER})")
    _world_options(s)

    # watch
    w = add(sub, "watch", "print users' status and profile, then every change, live", cmd_watch,
            description=f"Log in as a watcher account ({DEFAULT_WATCHER!r}, or --as), subscribe to the "
                        "status and profile of every ID, print them, then print each change as it "
                        "happens, until Ctrl-C (exit 0), --count changes or --seconds.",
            epilog="example: tim-py watch bob carol --json --count 5")
    w.add_argument("user_ids", metavar="ID", nargs="+", type=_id_arg)
    w.add_argument("--as", dest="as_user", metavar="WATCHER", default=DEFAULT_WATCHER, type=_id_arg,
                   help=f"the account to log in as (default {DEFAULT_WATCHER})")
    w.add_argument("--count", type=_count_arg, metavar="N", help="stop after N changes (exit 1 if --seconds "
                                                                 "runs out first)")
    w.add_argument("--seconds", type=_seconds_arg, metavar="S", help="stop after S seconds")
    _world_options(w, "print JSON Lines, one object per status or profile")

    # gen-usersig, demo
    g = add(sub, "gen-usersig", "print a UserSig, the login credential the app's server hands out",
            cmd_gen_usersig,
            description="Print a UserSig for USER_ID: the text of a JSON object (TLS.ver 2.0, identifier, "
                        "sdkappid,\ntime, expire, sig: an HMAC-SHA256 keyed with KEY), zlib-compressed and "
                        "base64-encoded\nwith +/= written *-_. A client with KEY as its secret key "
                        "accepts it until it expires.",
            epilog="example: tim-py gen-usersig 1400000001 my-secret-key bob --expire 3600")
    g.add_argument("sdk_app_id", metavar="SDKAPPID", type=_app_id_arg, help="the app's SDKAppID")
    g.add_argument("key", metavar="KEY", type=_text_arg, help="the app's secret key")
    g.add_argument("user_id", metavar="USER_ID", type=_text_arg,
                   help="the user the UserSig is for (1 to 32 printable ASCII characters)")
    g.add_argument("--expire", metavar="S", type=_expire_arg, default=86400 * 180,
                   help="validity in seconds (default 180 days)")
    g.add_argument("--userbuf", metavar="TEXT", type=_text_arg, help="optional TLS.userbuf text")
    g.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    d = add(sub, "demo", "a short tour: profiles, status, and two processes talking", cmd_demo,
            description="A short tour of the API, ending with a second process (logged in as bob) "
                        "whose changes this one is told about.")
    d.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS,
                   help="keep the store in this directory (default: a temporary one; "
                        f"{ENV_DATA_DIR} is not used)")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit code (argparse exits itself: 0 for --help and
    --version, 2 for a usage error it finds)."""
    encoding = (getattr(sys.stdout, "encoding", None) or "utf-8").lower().replace("-", "")
    if encoding != "utf8" and hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")  # a nick the terminal cannot show: B\xf3b
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except KeyboardInterrupt:  # in --version, which loads the library
        _err("interrupted")
        return EXIT_INTERRUPTED
    func: Optional[Callable[[argparse.Namespace], int]] = getattr(args, "func", None)
    if func is None:
        group: argparse.ArgumentParser = getattr(args, "group", parser)
        group.print_help()
        return EXIT_USAGE
    previous: Any = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: Optional[FrameType]) -> None:
        raise _Terminated()

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        previous = None
    try:
        return func(args)
    except CLIError as e:
        _err(str(e))
        return e.code
    except TIMError as e:
        _err(f"error [{e.code}] {e.desc}")
        return EXIT_NOT_FOUND if e.code in NOT_FOUND_CODES else EXIT_FAILED
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except _Terminated:
        return 128 + signal.SIGTERM
    except BrokenPipeError:
        # the reader went away (tim-py watch bob | head -1): quietly, as a killed pipe writer
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return 128 + signal.SIGPIPE
    except TimeoutError:
        _err(f"no answer from the library within {T:g} s")
        return EXIT_FAILED
    except OSError as e:  # the system refused something: a full disk, a closed terminal...
        _err(f"error: {e}")
        return EXIT_FAILED
    except Exception as e:  # a bug: still no traceback, but say what and where to look
        _err(f"internal error, please report it: {type(e).__name__}: {e}")
        return EXIT_FAILED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
