"""What the command prints: lines and messages, JSON documents and lines, profiles and statuses.

A profile is rendered field by field from the table of fields (``tim_py.fields``):
enums as the words the command line also takes (``male``, ``need_confirm``).

Two forms of the same content: plain lines when stdout is not a terminal (what
scripts and the tests read; unchanged since before colour came), and tables in
colour, drawn by rich, when it is one.  Whether a stream is a terminal, and
whether it takes colour, is rich's judgement in one place (``terminal``):
``NO_COLOR``, ``FORCE_COLOR``, ``TTY_COMPATIBLE`` and ``TERM=dumb`` as rich reads
them.  ``--json`` output never passes through rich.
"""
from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence

import orjson

from ..fields import CUSTOM, ENUM, FIELDS
from ..types import CUSTOM_PREFIX, Profile, UserStatus, UserStatusType

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.table import Table


def terminal(stderr: bool = False) -> "Optional[Console]":
    """A rich console on stdout (or stderr) when rich judges it a terminal, else None: then the
    command writes plain text.  Made anew for each use, so that it follows ``sys.stdout`` as it is
    now (tests swap it)."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    c = Console(file=stream, highlight=False, markup=False, emoji=False, soft_wrap=False)
    return c if c.is_terminal else None


def interactive(stderr: bool = False) -> "Optional[Console]":
    """``terminal`` when it can also redraw in place (not ``TERM=dumb``): for progress bars and the
    live table of ``watch``."""
    c = terminal(stderr)
    return c if c is not None and c.is_interactive else None


def out(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def err(text: str) -> None:
    c = terminal(stderr=True)
    if c is None:
        sys.stderr.write(f"tim-py: {text}\n")
        sys.stderr.flush()
        return
    from rich.text import Text

    line = Text()
    line.append("tim-py:", style="bold")
    word, sep, rest = text.partition(" ")
    if word in ("error", "interrupted:", "interrupted") or word.startswith("error"):
        line.append(" " + word, style="bold red")
        line.append(sep + rest)
    elif word == "note:":
        line.append(" " + word, style="yellow")
        line.append(sep + rest)
    else:
        line.append(" " + text)
    c.print(line, soft_wrap=True)


def show(renderable: "RenderableType", console: "Console") -> None:
    """Print what rich draws (a table) on ``console``."""
    console.print(renderable)


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


# ---- the terminal's form: tables in colour (rich) ------------------------------------------------

#: the style of each status word on a terminal
STATUS_STYLE = {UserStatusType.ONLINE: "bold green", UserStatusType.OFFLINE: "yellow",
                UserStatusType.UNLOGINED: "dim", UserStatusType.UNKNOWN: "dim"}


def status_text(s: UserStatus) -> Any:
    """The status word of ``s``, in its colour."""
    from rich.text import Text

    return Text(str(enum_word(s.status_type)), style=STATUS_STYLE.get(s.status_type, ""))


def _cell(v: Any) -> Any:
    from rich.text import Text

    if v in ("", 0, "unknown", "none"):
        return Text(str(v) if v != "" else "-", style="dim")
    return Text(str(v))


def profile_table(p: Profile) -> "Table":
    """One profile as a table: a row per field (the rows of ``profile_lines``), the ID as its title."""
    from rich import box
    from rich.table import Table

    t = Table(title=p.user_id, title_style="bold", title_justify="left", box=box.ROUNDED,
              show_header=False)
    t.add_column("field", style="cyan", no_wrap=True)
    t.add_column("value", overflow="fold")
    d = profile_dict(p)
    for k in _LINES:
        t.add_row(k, _cell(d[k]))
    for f in p.profile_custom_field:
        t.add_row(f"custom.{short_key(f.key)}", _cell(f.value), style="magenta")
    if p.last_updated_time:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(p.last_updated_time))
        t.add_row("last_updated_time", f"{p.last_updated_time} ({when})")
    return t


def status_table(statuses: Sequence[UserStatus]) -> "Table":
    """Statuses as a table: user, status (in its colour), custom status, devices."""
    from rich import box
    from rich.table import Table

    t = Table(box=box.ROUNDED, header_style="bold")
    t.add_column("user", style="cyan", no_wrap=True)
    t.add_column("status")
    t.add_column("custom status", overflow="fold")
    t.add_column("devices")
    for s in statuses:
        t.add_row(s.user_id, status_text(s), s.custom_status, ",".join(s.online_devices))
    return t
