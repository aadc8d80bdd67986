"""``tim-py watch``: print users' status and profile, then every change, live.

Logs in as a watcher account, subscribes to the status and profile of every ID,
prints them, then each change as it happens (text, or JSON Lines), until Ctrl-C,
``--count`` changes or ``--seconds``.  On an interactive terminal the text is a
table, one row a user, redrawn in place at each change (rich's Live); piped, it
is a line a change.
"""
from __future__ import annotations

import argparse
import contextlib
import queue
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple

from .. import EVENT
from ..errors import TIMError
from ..types import Event, Profile, UserStatus
from . import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CLIError, T, Terminated
from .render import (
    err,
    interactive,
    json_line,
    out,
    profile_dict,
    short_key,
    shown,
    status_dict,
    status_line,
    status_text,
)
from .world import (app_id, chunks, data_dir, has_world, login, open_world, read_profiles, read_statuses,
                    unique)

if TYPE_CHECKING:
    from rich.console import Console
    from rich.live import Live
    from rich.table import Table


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
            json_line({"time": _iso(time.time()), "event": "status", "initial": initial, **status_dict(s)})
        else:
            out(f"{_stamp()}  {s.user_id}  status  {status_line(s)[len(s.user_id) + 2:]}")

    def show_profile(self, p: Profile, initial: bool) -> None:
        old = self.profile.get(p.user_id)
        self.profile[p.user_id] = p
        if self.as_json:
            json_line({"time": _iso(time.time()), "event": "profile", "initial": initial, **profile_dict(p)})
            return
        out(f"{_stamp()}  {p.user_id}  profile  {_profile_change(old, p, initial)}")

    def same_status(self, s: UserStatus) -> bool:
        return self.status.get(s.user_id) == s

    def same_profile(self, p: Profile) -> bool:
        return self.profile.get(p.user_id) == p


class LiveTable(Watcher):
    """The watch as a table on an interactive terminal: a row a user (status, custom status,
    devices, nick, and the last change with its time), redrawn in place at each change."""

    def __init__(self, ids: Sequence[str], console: "Console") -> None:
        from rich.live import Live

        super().__init__(ids, False)
        self.order = list(ids)
        self.last: Dict[str, str] = {}
        self.live: "Live" = Live(console=console, auto_refresh=False, transient=False,
                                 redirect_stdout=False, redirect_stderr=False)
        self.started = False

    def __enter__(self) -> "LiveTable":
        self.live.start()
        self.started = True
        self._draw()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.stop()

    def show_status(self, s: UserStatus, initial: bool) -> None:
        self.status[s.user_id] = s
        if not initial:
            self.last[s.user_id] = f"{_stamp()}  status {status_line(s)[len(s.user_id) + 2:]}"
        self._draw()

    def show_profile(self, p: Profile, initial: bool) -> None:
        old = self.profile.get(p.user_id)
        self.profile[p.user_id] = p
        if not initial:
            self.last[p.user_id] = f"{_stamp()}  profile {_profile_change(old, p, initial)}"
        self._draw()

    def _table(self) -> "Table":
        from rich import box
        from rich.table import Table
        from rich.text import Text

        t = Table(box=box.ROUNDED, header_style="bold", caption=f"{_stamp()}  Ctrl-C to stop",
                  caption_justify="left")
        t.add_column("user", style="cyan", no_wrap=True)
        t.add_column("status")
        t.add_column("custom status", overflow="fold")
        t.add_column("devices")
        t.add_column("nick", overflow="fold")
        t.add_column("last change", overflow="fold")
        for i in self.order:
            s, p = self.status.get(i), self.profile.get(i)
            if s is None and p is None:
                t.add_row(i, Text("no account yet", style="dim"), "", "", "", self.last.get(i, ""))
                continue
            t.add_row(i, status_text(s) if s is not None else "", s.custom_status if s else "",
                      ",".join(s.online_devices) if s else "", p.nick if p else "", self.last.get(i, ""))
        return t

    def _draw(self) -> None:
        if self.started:
            self.live.update(self._table(), refresh=True)


def _profile_change(old: Optional[Profile], p: Profile, initial: bool) -> str:
    """What a profile line of watch says: the fields that changed since ``old`` (all the set
    ones when there is no ``old``), ``new account`` first when the account just appeared."""
    new = _flat(p)
    if old is None:
        changed = {k: v for k, v in new.items() if v not in ("", 0, "unknown", "none") or k == "nick"}
    else:
        before = _flat(old)
        changed = {k: v for k, v in new.items() if before.get(k) != v}
        changed.update({k: "" for k in before if k not in new})  # a custom field removed
    text = "  ".join(f"{k}={v!r}" for k, v in changed.items()) or "(no visible change)"
    if old is None and not initial:
        text = "new account  " + text
    return text


def _flat(p: Profile) -> Dict[str, Any]:
    d = profile_dict(p)
    custom = d.pop("profile_custom_field")
    d.pop("user_id")
    d.pop("last_updated_time")
    d.update({f"custom.{short_key(c['key'])}": c["value"] for c in custom})
    return d


def cmd_watch(args: argparse.Namespace) -> int:
    ids = unique(args.user_ids)
    if args.as_user in ids:
        raise CLIError(f"cannot watch {shown(args.as_user)} while logged in as it; pick another watcher "
                       "account with --as", EXIT_USAGE)
    where, app = data_dir(args), app_id(args)
    if not has_world(where, app):
        err(f"note: {where} has no store for app {app} yet; watching a new, empty world")
    events: "queue.Queue[Tuple[int, str, List[Any]]]" = queue.Queue()
    received = [0]

    def on(kind: str) -> Callable[[Event], None]:
        def handler(event: Event) -> None:
            received[0] += 1
            events.put((received[0], kind, event.data))
        return handler

    console = None if args.json else interactive()
    w = Watcher(ids, args.json) if console is None else LiveTable(ids, console)
    changes = 0
    interrupted = False
    deadline = time.monotonic() + args.seconds if args.seconds is not None else None
    with open_world(args, must_exist=False) as tim:
        tim.on(EVENT.USER_STATUS_UPDATED, on("status"))
        tim.on(EVENT.PROFILE_UPDATED, on("profile"))
        login(tim, args.as_user, "'watch'")
        for part in chunks(ids, 200):
            tim.subscribe_user_status(list(part)).result(T)
            tim.subscribe_user_info(list(part)).result(T)
        if len(ids) > 200:
            err("note: only the last 200 users stay subscribed (the SDK's limit)")
        statuses = read_statuses(tim, ids)
        profiles = read_profiles(tim, ids)
        barrier = received[0]  # events that arrived before the reads above
        for i in ids:
            if i not in statuses and i not in profiles:
                err(f"note: no account {i!r} yet; watching it anyway")
                continue
            if i in statuses:
                w.show_status(statuses[i], True)
            if i in profiles:
                w.show_profile(profiles[i], True)
        err(f"watching {', '.join(ids)} as {args.as_user!r}; Ctrl-C to stop")
        live = w if isinstance(w, LiveTable) else contextlib.nullcontext()
        try:
            with live:  # the table (on a terminal) is drawn from here on, with everyone's current state
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
        except (KeyboardInterrupt, Terminated):
            interrupted = True  # the normal way to end a watch: exit 0 after logging out
        try:
            tim.logout().result(T)
        except TIMError:
            pass
    if args.count is not None and changes < args.count and not interrupted:
        err(f"{args.seconds:g} s passed with {changes} of {args.count} change(s)")
        return EXIT_FAILED
    return EXIT_OK
