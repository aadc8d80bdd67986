"""Values as a person (or a file) gives them: profile field values, custom fields, whole numbers.

What a field takes comes from the table of fields (``tim_py.fields``: its kind, its
enum and the Web SDK's strings); whether a value is in range is judged by the
package's own checker of that field (``tim_py._core.PROFILE_FIELDS``), so the
command line refuses exactly what the Python API refuses, with the option named.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional

from .._core import PROFILE_FIELDS
from ..fields import BY_NAME, ENUM, STRING, UINT32, Field
from . import EXIT_USAGE, CLIError
from .render import is_utf8, shown


def _checked(name: str, value: Any, label: str) -> Any:
    """``value`` for profile field ``name``, judged by the package's own checker; a refusal is
    a ValueError naming ``label``."""
    try:
        return PROFILE_FIELDS[name].check(label, value)
    except (TypeError, ValueError) as e:
        raise ValueError(str(e)) from None


def text_value(label: str, raw: str) -> str:
    """Text for the library: UTF-8 (an argument's bytes may not be) and no NUL (a file's may have one)."""
    if not is_utf8(raw):
        raise ValueError(f"{label} is not valid UTF-8: {shown(raw)}")
    if "\x00" in raw:
        raise ValueError(f"{label} contains a NUL character: {shown(raw)}")
    return raw


def enum_value(f: Field, raw: Any, label: str) -> int:
    """male / Gender_Type_Male / 1 -> 1 (the same for every enum field)."""
    members = list(f.enum or ())
    if isinstance(raw, str):
        word = raw.strip().lower().replace("-", "_")
        for m in members:
            if word in (m.name.lower(), str(int(m))):
                return int(m)
        if raw not in f.values:
            choices = "|".join(m.name.lower() for m in members)
            raise ValueError(f"{label}: expected one of {choices}, got {shown(raw)}")
    return int(_checked(f.name, raw, label))


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
    raise ValueError(f"{label}: expected an integer, got {shown(raw)}")


def field_value(name: str, raw: Any, label: Optional[str] = None) -> Any:
    """Convert one value given by a person (or a file) for profile field ``name``; ValueError if bad.

    ``label`` names the value in messages (``--level``; default the field's name).  The custom
    fields are not one value: see ``parse_custom`` and the import's rows.
    """
    label = label or name
    f = BY_NAME.get(name)
    if f is None or f.item is None or f.kind not in (STRING, UINT32, ENUM):
        raise ValueError(f"unknown field {name!r}")
    if f.kind == STRING:
        if not isinstance(raw, str):
            raise ValueError(f"{label}: expected a string, got {shown(raw)}")
        return _checked(name, text_value(label, raw), label)
    if f.kind == UINT32:
        return _checked(name, int_value(label, raw), label)
    return enum_value(f, raw, label)


def parse_custom(items: Iterable[str]) -> List[Dict[str, str]]:
    """``--custom KEY=VALUE`` (``KEY=`` removes the field)."""
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CLIError(f"--custom takes KEY=VALUE (KEY= removes the field), got {shown(item)}",
                           EXIT_USAGE)
        try:
            out.append({"key": text_value("--custom KEY", key),
                        "value": text_value(f"--custom {key}", value)})
        except ValueError as e:
            raise CLIError(str(e), EXIT_USAGE) from None
    return out


def whole_number(text: str, lo: int, hi: int) -> Optional[int]:
    """``text`` as a number from ``lo`` to ``hi``, written in decimal digits only (no sign, space
    or underscore); None when it is not one."""
    if not (text.isascii() and text.isdigit()) or len(text.lstrip("0")) > len(str(hi)):
        return None
    n = int(text, 10)
    return n if lo <= n <= hi else None
