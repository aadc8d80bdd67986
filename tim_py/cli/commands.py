"""The short commands: ``user create|delete``, ``profile show|set``, ``status show|set``, ``gen-usersig``
(and ``demo``, which starts the tour of ``cli.demo``).

Each takes the parsed arguments and returns the exit code; what fails is raised
(``CLIError``, ``TIMError``) for ``main`` to report.
"""
from __future__ import annotations

import argparse
from typing import Any, Callable, Dict, List

from .. import TIM, gen_user_sig
from .._storeurl import redact
from ..errors import REST_ERR_NO_ACCOUNT, TIMError
from ..fields import CUSTOM, FIELDS
from ..types import Profile, UserStatus, UserStatusType
from . import EXIT_FAILED, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, CLIError, T
from .render import (
    enum_word,
    err,
    json_doc,
    out,
    profile_dict,
    profile_lines,
    profile_table,
    short_key,
    show,
    shown,
    status_dict,
    status_line,
    status_table,
    status_text,
    terminal,
)
from .values import field_value, parse_custom
from .world import (
    DEFAULT_ADMIN,
    ENV_DATA_DIR,
    ENV_SECRET_KEY,
    app_id,
    check_dir,
    given,
    existing,
    id_looks_valid,
    load_errors,
    login,
    missing,
    open_world,
    read_profiles,
    read_statuses,
    unique,
)

# ---------------------------------------------------------------------------
# user create | delete
# ---------------------------------------------------------------------------


def cmd_user_create(args: argparse.Namespace) -> int:
    with open_world(args, must_exist=False) as tim:
        existed = existing(tim, [args.user_id])
        try:
            tim.admin.import_account(args.user_id, nick=args.nick, avatar=args.avatar).result(T)
        except TIMError:
            raise
        except (TypeError, ValueError) as e:
            raise CLIError(str(e), EXIT_USAGE) from None
        created = args.user_id not in existed
        if args.json:
            json_doc({"user_id": args.user_id, "created": created})
        elif created:
            out(f"created {args.user_id}")
        else:
            changed = [n for n, v in (("nick", args.nick), ("avatar", args.avatar)) if v is not None]
            out(f"{args.user_id} already existed" + (f"; set {', '.join(changed)}" if changed else ""))
    return EXIT_OK


def cmd_user_delete(args: argparse.Namespace) -> int:
    ids = unique(args.user_ids)
    with open_world(args, must_exist=True) as tim:
        results = tim.admin.delete_accounts(ids).result(T)
    absent = [i for i in ids if results.get(i, 0) == REST_ERR_NO_ACCOUNT]
    others = {i: c for i, c in results.items() if c not in (0, REST_ERR_NO_ACCOUNT)}
    deleted = [i for i in ids if results.get(i, 0) == 0]
    if args.json:
        json_doc({"deleted": deleted, "not_found": absent,
                  "failed": [{"user_id": i, "code": c} for i, c in others.items()]})
    else:
        for i in deleted:
            out(f"deleted {i}")
    for i, c in others.items():
        err(f"could not delete {i}: code {c}")
    if others:
        return EXIT_FAILED
    if absent:
        err(f"no such user: {', '.join(absent)}")
        return EXIT_NOT_FOUND
    return EXIT_OK


#: IDs a list request asks for (the library's largest page)
LIST_PAGE = 1000


def cmd_user_list(args: argparse.Namespace) -> int:
    """The world's account IDs in byte order, page by page (admin ``ref/account_list``)."""
    ids: List[str] = []
    after = args.after
    with open_world(args, must_exist=True) as tim:
        while True:
            want = LIST_PAGE if args.limit is None else min(LIST_PAGE, args.limit - len(ids))
            page = tim.admin.list_accounts(match=args.match, after=after, limit=want).result(T)
            ids += page.user_ids
            after = page.next
            if after is None or (args.limit is not None and len(ids) >= args.limit):
                break
    if args.json:
        json_doc({"user_ids": ids, "total": page.total, "next": after})
        return EXIT_OK
    console = terminal()
    if console is None:
        for i in ids:
            out(i)
        return EXIT_OK
    from rich.columns import Columns

    matching = f" matching {args.match!r}" if args.match else ""
    more = f"; more after {after!r} (--after)" if after is not None else ""
    console.print(Columns(ids, padding=(0, 2)))
    console.print(f"{len(ids)} of {page.total} account{'s' if page.total != 1 else ''}{matching}{more}",
                  style="dim")
    return EXIT_OK


# ---------------------------------------------------------------------------
# profile show | set
# ---------------------------------------------------------------------------


def _show(args: argparse.Namespace, command: str, read: Callable[[TIM, List[str]], Dict[str, Any]],
          as_dict: Callable[[Any], Dict[str, Any]], as_text: Callable[[List[Any]], None]) -> int:
    """``profile show`` and ``status show``: read what exists among the IDs, logged in as
    ``--as``; print it as JSON or as text; exit 3 if any ID is not an account."""
    ids = unique(args.user_ids)
    with open_world(args, must_exist=True) as tim:
        login(tim, args.as_user, f"'{command}'")
        found = read(tim, ids)
        tim.logout().result(T)
    items = [found[i] for i in ids if i in found]
    if args.json:
        json_doc([as_dict(x) for x in items])
    else:
        as_text(items)
    return missing(ids, found)


def _read_profiles(tim: TIM, ids: List[str]) -> Dict[str, Any]:
    found = read_profiles(tim, ids)
    # The SDK shows the add permission (allow_type) to its owner only: another user's reads
    # "unknown".  The admin surface sees it as the server does.
    if found:
        allow = tim.admin.get_portrait(list(found), ["allow_type"]).result(T)
        for uid, p in found.items():
            a = allow.get(uid, {}).get("allow_type")
            if a is not None:
                found[uid] = p._replace(allow_type=a)
    return found


def _profiles_as_text(profiles: List[Profile]) -> None:
    console = terminal()
    if console is not None:
        for p in profiles:
            show(profile_table(p), console)
        return
    for n, p in enumerate(profiles):
        if n:
            out()
        for line in profile_lines(p):
            out(line)


def cmd_profile_show(args: argparse.Namespace) -> int:
    return _show(args, "profile show", _read_profiles, profile_dict, _profiles_as_text)


#: the fields `profile set` has an option for, one value each (the custom fields: --custom)
SET_OPTIONS = tuple(f for f in FIELDS if f.flag is not None and f.kind != CUSTOM)


def cmd_profile_set(args: argparse.Namespace) -> int:
    fields: Dict[str, Any] = {}
    try:
        for f in SET_OPTIONS:
            raw = getattr(args, f.name)
            if raw is not None:
                fields[f.name] = field_value(f.name, raw, f.flag)
    except ValueError as e:
        raise CLIError(str(e), EXIT_USAGE) from None
    if args.profile_custom_field:
        fields["profile_custom_field"] = parse_custom(args.profile_custom_field)
    if not fields:
        raise CLIError("nothing to set: give at least one of --nick, --avatar, --gender, --signature, "
                       "--location, --level, ..., --custom KEY=VALUE (see 'tim-py profile set --help')",
                       EXIT_USAGE)
    with open_world(args, must_exist=True) as tim:
        tim.admin.set_portrait(args.user_id, **fields).result(T)
    names = [n for n in fields if n != "profile_custom_field"]
    names += [f"custom.{short_key(c['key'])}" for c in fields.get("profile_custom_field", [])]
    if args.json:
        json_doc({"user_id": args.user_id, "set": names})
    else:
        out(f"{args.user_id}: set {', '.join(names)}")
    return EXIT_OK


# ---------------------------------------------------------------------------
# status show | set
# ---------------------------------------------------------------------------


def _statuses_as_text(statuses: List[UserStatus]) -> None:
    console = terminal()
    if console is not None:
        if statuses:
            show(status_table(statuses), console)
        return
    width = max((len(s.user_id) for s in statuses), default=0)
    for s in statuses:
        out(status_line(s, width))


def cmd_status_show(args: argparse.Namespace) -> int:
    return _show(args, "status show", read_statuses, status_dict, _statuses_as_text)


STATUS_WORDS = {"online": UserStatusType.ONLINE, "offline": UserStatusType.OFFLINE,
                "unlogined": UserStatusType.UNLOGINED}


def cmd_status_set(args: argparse.Namespace) -> int:
    """Set the status, then print what the store holds (read back through the SDK, as
    'status show' does): without --custom the custom status stays as it was, and a live
    session of the user keeps it online."""
    st = STATUS_WORDS[args.status]
    if args.as_user == args.user_id:
        raise CLIError(f"cannot read the status of {shown(args.user_id)} back while logged in as it; pick "
                       "another account with --as", EXIT_USAGE)
    with open_world(args, must_exist=True) as tim:
        tim.admin.set_user_status(args.user_id, st, args.custom).result(T)
        try:
            login(tim, args.as_user, "'status set'")
            found = read_statuses(tim, [args.user_id])
            tim.logout().result(T)
        except (CLIError, TIMError) as e:
            raise CLIError(f"{args.user_id} was set {args.status}, but reading the status back failed: "
                           f"{e}") from None
    s = found.get(args.user_id)
    if s is None:  # deleted meanwhile
        raise CLIError(f"{args.user_id} was set {args.status}, but no longer exists", EXIT_NOT_FOUND)
    if args.json:
        json_doc(status_dict(s))
    else:
        extra = f" (custom status {s.custom_status!r})" if s.custom_status else ""
        console = terminal()
        if console is not None:
            from rich.text import Text

            console.print(Text.assemble(f"{s.user_id}: ", status_text(s), extra))
        else:
            out(f"{s.user_id}: {enum_word(s.status_type)}{extra}")
    if s.status_type != st:
        why = "; a live session of theirs keeps it online" if s.status_type == UserStatusType.ONLINE else ""
        err(f"note: {s.user_id} is {enum_word(s.status_type)}, not {args.status}{why}")
    return EXIT_OK


# ---------------------------------------------------------------------------
# gen-usersig, demo
# ---------------------------------------------------------------------------


def cmd_gen_usersig(args: argparse.Namespace) -> int:
    if not args.key:
        raise CLIError("KEY (the app's secret key) must not be empty", EXIT_USAGE)
    if not id_looks_valid(args.user_id):
        raise CLIError(f"USER_ID must be 1 to 32 printable ASCII characters (the identifier rule: no "
                       f"login accepts another), got {shown(args.user_id)}", EXIT_USAGE)
    try:
        sig = gen_user_sig(args.sdk_app_id, args.key, args.user_id, args.expire, userbuf=args.userbuf)
    except (TypeError, ValueError) as e:
        raise CLIError(str(e), EXIT_USAGE) from None
    if args.json:
        json_doc({"user_id": args.user_id, "sdk_app_id": args.sdk_app_id, "expire": args.expire,
                  "user_sig": sig})
    else:
        out(sig)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """``tim-py serve``: the REST API over HTTP until SIGINT or SIGTERM (docs/rest.md)."""
    import importlib.util

    if importlib.util.find_spec("aiohttp") is None:
        raise CLIError("tim-py serve needs aiohttp, which is not installed: pip install 'tim_py[server]'",
                       EXIT_USAGE)
    d, source = given(args, "data_dir", "--data-dir", ENV_DATA_DIR)
    where = check_dir(d, source) if d is not None else None
    app = app_id(args)
    admins = unique(args.admins or [DEFAULT_ADMIN])
    for name in admins:
        if not id_looks_valid(name):
            raise CLIError(f"--admin must be 1 to 32 printable ASCII characters (an identifier), got "
                           f"{shown(name)}", EXIT_USAGE)
    if args.secret_key is not None and not args.secret_key:
        raise CLIError("--secret-key must not be empty (leave it out to accept any non-empty usersig)",
                       EXIT_USAGE)
    key, _source = given(args, "secret_key", "--secret-key", ENV_SECRET_KEY)
    from ..server.serve import ListenError, run

    with load_errors():
        try:
            return run(args.host, args.port, where, app, key, admins)
        except ListenError as e:
            raise CLIError(str(e)) from None
        except TIMError as e:
            shown_where = f" in {redact(where)}" if where else ""
            raise CLIError(f"cannot open the world{shown_where}: [{e.code}] {e.desc}") from None


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import demo  # only when asked for: the tour brings tempfile and more

    data_dir = getattr(args, "data_dir", None)
    if data_dir is not None:
        check_dir(data_dir, "--data-dir")
    with load_errors():
        return demo(data_dir)
