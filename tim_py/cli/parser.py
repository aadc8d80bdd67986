"""The arguments of ``tim-py``: the parser of every command, its option types, and ``--version``.

A bad value is a usage error naming the argument (argparse exits with 2).  The
options of ``profile set`` come from the table of fields (``tim_py.fields``): its
flag, metavar and help, a text type for text fields.
"""
from __future__ import annotations

import argparse
import math
import os
from typing import Any, Callable, Dict, NoReturn, Optional, Sequence

from .._core import UINT64_MAX
from ..fields import CUSTOM, ENUM, FIELDS, STRING
from . import EXIT_OK
from .commands import (
    STATUS_WORDS,
    cmd_demo,
    cmd_gen_usersig,
    cmd_profile_set,
    cmd_profile_show,
    cmd_serve,
    cmd_status_set,
    cmd_status_show,
    cmd_user_create,
    cmd_user_delete,
    cmd_user_list,
)
from .completion import COMPLETE_WORDS, SHELLS, cmd_completion
from .importing import cmd_user_import
from .render import is_utf8, out, shown
from .values import whole_number
from .watch import cmd_watch
from .world_commands import cmd_world_export, cmd_world_import, cmd_world_reset
from .world import DEFAULT_APP_ID, DEFAULT_READER, DEFAULT_WATCHER, ENV_APP_ID, ENV_DATA_DIR, ENV_SECRET_KEY

#: the largest --expire: TLS.expire is a JSON integer, at most 2**63 - 1
MAX_EXPIRE = (1 << 63) - 1

#: what --data-dir (and TIM_PY_DATA_DIR) takes
DATA_DIR_HELP = "the world's data directory, or its PostgreSQL URI: postgresql://..."

EPILOG = f"""\
environment:
  {ENV_DATA_DIR}    {DATA_DIR_HELP} (instead of --data-dir)
  {ENV_APP_ID}  the SDKAppID (instead of --app-id; default {DEFAULT_APP_ID})

exit codes: 0 ok, 1 the operation failed (TIMError code and desc on stderr),
            2 usage error (a bad option, argument, value or environment variable,
            a TIM_PY_LIBRARY that cannot be loaded), 3 not found, 130 interrupted (Ctrl-C)
see docs/cli.md for examples"""


# argparse types: a bad value is a usage error naming the argument ("argument --batch: ...").


def _text_arg(text: str) -> str:
    """Text, which must be UTF-8: an argument's bytes may not be (Python then holds surrogates)."""
    if not is_utf8(text):
        raise argparse.ArgumentTypeError(f"not valid UTF-8: {shown(text)}")
    return text


def _id_arg(text: str) -> str:
    """A user ID: not empty, UTF-8; the library judges the rest (1 to 32 printable ASCII characters)."""
    if not text:
        raise argparse.ArgumentTypeError("a user ID must not be empty")
    return _text_arg(text)


def _number_arg(hi: int, what: str) -> Callable[[str], int]:
    """The type of an option that takes a whole number from 1 to ``hi`` (``what`` it must be)."""
    def number(text: str) -> int:
        n = whole_number(text, 1, hi)
        if n is None:
            raise argparse.ArgumentTypeError(f"must be {what}, got {shown(text)}")
        return n
    return number


_count_arg = _number_arg(UINT64_MAX, "a whole number, at least 1")
_app_id_arg = _number_arg(UINT64_MAX, f"an SDKAppID between 1 and {UINT64_MAX}")
_expire_arg = _number_arg(MAX_EXPIRE, f"a number of seconds between 1 and {MAX_EXPIRE}")


def _seconds_arg(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not 0 < v < math.inf:  # nan fails too
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {shown(text)} (leave "
                                         "it out to watch until Ctrl-C)")
    return v


def _port_arg(text: str) -> int:
    n = whole_number(text, 0, 65535)
    if n is None:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to 65535 (0: any free port), got "
                                         f"{shown(text)}")
    return n


def _host_arg(text: str) -> str:
    if not text or not is_utf8(text) or any(c.isspace() or not c.isprintable() for c in text):
        raise argparse.ArgumentTypeError(f"must be a host name or an IP address, got {shown(text)}")
    return text


def version_text() -> str:
    """tim_py's version and the library's (TIMGetSDKVersion needs no TIMInit)."""
    from .. import __version__, _bridge  # (the version: read on first use)
    from .._ffi import ffi, lib

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
        out(version_text())
        parser.exit(EXIT_OK)


def _field_options(parser: argparse.ArgumentParser) -> None:
    """An option for each field that has a flag (the custom fields': repeatable), its value
    left to ``values.field_value`` (text fields: checked as text here already)."""
    for f in FIELDS:
        if f.flag is None:
            continue
        kw: Dict[str, Any] = {"dest": f.name}
        if f.kind == STRING:
            kw["type"] = _text_arg
        elif f.kind == CUSTOM:
            kw["action"] = "append"
        if f.metavar is not None:
            kw["metavar"] = f.metavar
        if f.help is not None:
            kw["help"] = f.help.format(range=f"0 to {f.hi}")
        action = parser.add_argument(f.flag, **kw)
        if f.kind == ENUM and f.enum is not None:
            # the words the value takes, for shell completion (values.enum_value judges the value)
            setattr(action, COMPLETE_WORDS, tuple(m.name.lower() for m in f.enum))


def _world_options(parser: argparse.ArgumentParser, json_help: str = "print JSON") -> None:
    g = parser.add_argument_group("world options")
    g.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS,
                   help=f"{DATA_DIR_HELP} (default: ${ENV_DATA_DIR})")
    g.add_argument("--app-id", metavar="SDKAPPID", default=argparse.SUPPRESS,
                   help=f"the SDKAppID (default: ${ENV_APP_ID}, else {DEFAULT_APP_ID})")
    g.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=json_help)


def _no_progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar (drawn only when stderr is an interactive terminal)")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tim-py", formatter_class=_Formatter, epilog=EPILOG,
        description="Work with a local timref world: accounts, profiles, user status, live changes.")
    p.add_argument("--data-dir", metavar="DIR", help=f"{DATA_DIR_HELP} (default: ${ENV_DATA_DIR})")
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

    def group(name: str, help_: str, description: Optional[str] = None) -> Any:
        """A command with subcommands (alone, it prints its help: exit 2)."""
        g = sub.add_parser(name, help=help_, description=description or help_[0].upper() + help_[1:] + ".")
        subs = g.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")
        g.set_defaults(func=None, group=g)
        return subs

    def reader(sp: argparse.ArgumentParser, what: str = "read as") -> None:
        sp.add_argument("--as", dest="as_user", metavar="READER", default=DEFAULT_READER, type=_id_arg,
                        help=f"the account to {what} (default {DEFAULT_READER})")

    # user
    usub = group("user", "create, import, list and delete accounts",
                 "Create, import, list and delete accounts (admin surface).")
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
    _no_progress(i)
    _world_options(i)
    ls = add(usub, "list", "list the world's account IDs", cmd_user_list,
             description="List the world's account IDs in byte order (upper case before lower case), all of "
                         "them or\nthose containing --match (case-sensitive), from after --after, at most "
                         "--limit.",
             epilog="examples:\n  tim-py user list --match bot\n  tim-py user list --limit 100 --json")
    ls.add_argument("--match", metavar="TEXT", type=_text_arg, help="only the IDs that contain TEXT")
    ls.add_argument("--after", metavar="ID", type=_text_arg, help="start after this ID (a page's 'next')")
    ls.add_argument("--limit", metavar="N", type=_count_arg, help="at most N IDs (default: all)")
    _world_options(ls)
    d = add(usub, "delete", "delete accounts", cmd_user_delete, epilog="example: tim-py user delete bob carol")
    d.add_argument("user_ids", metavar="ID", nargs="+", type=_id_arg)
    _world_options(d)

    # profile
    psub = group("profile", "show and set profiles")
    s = add(psub, "show", "show profiles", cmd_profile_show,
            description=f"Show profiles. Reads through the SDK, logged in as {DEFAULT_READER!r} "
                        "(or --as) for the moment it takes.",
            epilog="example: tim-py profile show bob carol --json")
    s.add_argument("user_ids", metavar="ID", nargs="+", type=_id_arg)
    reader(s)
    _world_options(s)
    s = add(psub, "set", "set profile fields as the server would (portrait_set)", cmd_profile_set,
            description="Set profile fields of ID as the app's server would (admin portrait_set): all or "
                        "nothing; subscribers are told.",
            epilog="example: tim-py profile set bob --nick Bob --gender male --custom Hobby=chess")
    s.add_argument("user_id", metavar="ID", type=_id_arg)
    _field_options(s)
    _world_options(s)

    # status
    ssub = group("status", "show and set user status")
    s = add(ssub, "show", "show users' status", cmd_status_show,
            description=f"Show users' status (online, offline, unlogined, custom status, devices). Reads "
                        f"through the SDK, logged in as {DEFAULT_READER!r} (or --as).",
            epilog="example: tim-py status show bob carol")
    s.add_argument("user_ids", metavar="ID", nargs="+", type=_id_arg)
    reader(s)
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
    s.add_argument("status", choices=tuple(STATUS_WORDS), metavar="STATUS", help="online|offline|unlogined")
    s.add_argument("--custom", metavar="TEXT", type=_text_arg,
                   help="custom status (at most 100 bytes; '' clears it; default: leave it as it is)")
    reader(s, "read the status back as")
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

    # world
    wsub = group("world", "export, import and reset the whole world (snapshots)",
                 "Export the whole world to a snapshot file, import one (the world becomes the "
                 "snapshot's), or reset it.\nSee docs/snapshots.md for the file's format.")
    e = add(wsub, "export", "write the whole world to a snapshot file (atomically)", cmd_world_export,
            description="Write the world (accounts, profiles with their custom fields, custom status) to FILE, "
                        "as one\nJSON document read in one consistent read. FILE is replaced in one rename: "
                        "a kill in the\nmiddle leaves the old file as it was.",
            epilog="example: tim-py world export world.json")
    e.add_argument("file", metavar="FILE", type=_text_arg, help="the snapshot file to write")
    e.add_argument("--include-status", action="store_true",
                   help="also write each user's live status (online, devices)")
    _no_progress(e)
    _world_options(e)
    m = add(wsub, "import", "make the world a snapshot's, in one transaction", cmd_world_import,
            description="Replace the world with the snapshot in FILE, in one transaction: every entry is "
                        "checked first,\nand a bad one changes nothing (the error names the first bad entry). "
                        "Accounts not in the\nsnapshot are removed; their live sessions are kicked.",
            epilog="example: tim-py world import world.json")
    m.add_argument("file", metavar="FILE", type=_text_arg, help="the snapshot file to read")
    _no_progress(m)
    _world_options(m)
    r = add(wsub, "reset", "remove every account of the world (asks first)", cmd_world_reset,
            description="Remove every account of the world, with its profile and status, in one transaction; "
                        "live\nsessions are kicked. On a terminal it asks first; elsewhere it needs --yes.",
            epilog="example: tim-py world reset --yes")
    r.add_argument("--yes", action="store_true", help="do not ask (needed when stdin is not a terminal)")
    _world_options(r)

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
    v = add(sub, "serve", "serve the vendor's REST API over HTTP for the world (docs/rest.md)", cmd_serve,
            description="Serve the vendor's REST API (POST /v4/<service>/<command>?sdkappid=..&identifier=.."
                        "&usersig=..\n&random=..&contenttype=json) for the world, so that an app's server "
                        "code runs against it\nby changing its base URL. The base URL is printed on stdout "
                        "once connections are accepted;\nSIGINT or SIGTERM stops the server cleanly (exit "
                        "0). Needs aiohttp: pip install 'tim_py[server]'.",
            epilog="example: tim-py serve --data-dir ./im-data --port 8080 --secret-key my-key\n"
                   "see docs/rest.md")
    v.add_argument("--host", type=_host_arg, default="127.0.0.1",
                   help="the address to listen on (default 127.0.0.1)")
    v.add_argument("--port", type=_port_arg, default=8080, help="the port (default 8080; 0: any free port)")
    v.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS,
                   help=f"{DATA_DIR_HELP} (default: ${ENV_DATA_DIR}, else a world in memory "
                        "that lives as long as the server)")
    v.add_argument("--app-id", metavar="SDKAPPID", default=argparse.SUPPRESS,
                   help=f"the only sdkappid served (default: ${ENV_APP_ID}, else {DEFAULT_APP_ID})")
    v.add_argument("--secret-key", metavar="KEY", type=_text_arg,
                   help="the app's secret key: every usersig must then be a valid UserSig of its "
                        "identifier (without it any non-empty usersig passes). Other users can read a "
                        f"process's arguments: ${ENV_SECRET_KEY} keeps the key out of them")
    v.add_argument("--admin", metavar="NAME", action="append", type=_id_arg, dest="admins",
                   help="an app admin, the only identifiers a request may name (repeatable; default "
                        "administrator)")
    c = add(sub, "completion", "print the shell completion script for bash, zsh or fish", cmd_completion,
            description="Print the completion script of tim-py for a shell, made from this parser: "
                        "subcommands,\noptions, their choices, files and directories complete on Tab.",
            epilog="install:\n"
                   "  bash: eval \"$(tim-py completion bash)\"              (in ~/.bashrc)\n"
                   "  zsh:  tim-py completion zsh > \"${fpath[1]}/_tim-py\"  (then restart zsh)\n"
                   "  fish: tim-py completion fish > ~/.config/fish/completions/tim-py.fish")
    c.add_argument("shell", metavar="SHELL", choices=SHELLS, help="|".join(SHELLS))
    d = add(sub, "demo", "a short tour: profiles, status, and two processes talking", cmd_demo,
            description="A short tour of the API, ending with a second process (logged in as bob) "
                        "whose changes this one is told about.")
    d.add_argument("--data-dir", metavar="DIR", default=argparse.SUPPRESS,
                   help="keep the store in this directory (default: a temporary one; "
                        f"{ENV_DATA_DIR} is not used)")
    return p
