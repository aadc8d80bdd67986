"""What the command prints: lines and messages, JSON documents and lines, profiles and statuses.

A profile is rendered field by field from the table of fields (``tim_py.fields``):
enums as the words the command line also takes (``male``, ``need_confirm``).
"""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, Dict, List

import orjson

from ..fields import CUSTOM, ENUM, FIELDS
from ..types import CUSTOM_PREFIX, Profile, UserStatus


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def err(text: str) -> None:
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
        out(data.decode())


def json_doc(obj: Any) -> None:
    """One JSON document on stdout."""
    _write_json(orjson.dumps(obj, option=orjson.OPT_INDENT_2))


def json_line(obj: Any) -> None:
    """One line of a JSON Lines stream on stdout."""
    _write_json(orjson.dumps(obj))


def shown(value: Any, limit: int = 60) -> str:
    """``value`` quoted for a message: bytes that are not UTF-8 as \\xNN, long text cut short."""
    if isinstance(value, str) and not is_utf8(value) and _only_escapes(value):
        text = repr(value.encode("utf-8", "surrogateescape"))[1:]  # b'a\\xff' -> 'a\\xff'
    else:
        text = repr(value)
    if len(text) > limit:
        text = f"{text[:limit - 4]}...{text[-1]} ({len(value) if isinstance(value, str) else len(text)} " \
               "characters)"
    return text


def is_utf8(text: str) -> bool:
    """False for a str holding surrogates: an argument or a variable whose bytes are not UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _only_escapes(text: str) -> bool:
    return all(not "\ud800" <= c <= "\udfff" or "\udc80" <= c <= "\udcff" for c in text)


def enum_word(v: Any) -> Any:
    """Gender.MALE -> "male": the words the command line takes as input, too."""
    return v.name.lower() if hasattr(v, "name") else v


def _custom_list(fields: Any) -> Any:
    return [{"key": f.key, "value": f.value} for f in fields]


def _same(v: Any) -> Any:
    return v


#: how a field's value is shown in JSON, by kind
_AS_JSON: Dict[str, Callable[[Any], Any]] = {ENUM: enum_word, CUSTOM: _custom_list}
_SHOW = tuple((f.name, _AS_JSON.get(f.kind, _same)) for f in FIELDS)
#: the fields ``profile_lines`` shows one a line (not the ID, the custom fields, the time)
_LINES = tuple(f.name for f in FIELDS if f.item is not None and f.kind != CUSTOM)


def profile_dict(p: Profile) -> Dict[str, Any]:
    return {name: show(value) for (name, show), value in zip(_SHOW, p)}


def status_dict(s: UserStatus) -> Dict[str, Any]:
    return {"user_id": s.user_id, "status": enum_word(s.status_type), "status_type": int(s.status_type),
            "custom_status": s.custom_status, "online_devices": list(s.online_devices)}


def short_key(key: str) -> str:
    return key[len(CUSTOM_PREFIX):] if key.startswith(CUSTOM_PREFIX) else key


def profile_lines(p: Profile) -> List[str]:
    d = profile_dict(p)
    rows = [(k, d[k]) for k in _LINES]
    rows += [(f"custom.{short_key(f.key)}", f.value) for f in p.profile_custom_field]
    if p.last_updated_time:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(p.last_updated_time))
        rows.append(("last_updated_time", f"{p.last_updated_time} ({when})"))
    width = max(len(k) for k, _ in rows)
    return [p.user_id] + [f"  {k.ljust(width)}  {v}" for k, v in rows]


def status_line(s: UserStatus, width: int = 0) -> str:
    text = f"{s.user_id.ljust(width)}  {enum_word(s.status_type)}"
    if s.custom_status:
        text += f"  custom_status={s.custom_status!r}"
    if s.online_devices:
        text += f"  devices={','.join(s.online_devices)}"
    return text
