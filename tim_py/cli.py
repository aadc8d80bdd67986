"""The ``tim-py`` command (also ``python -m tim_py``).

``tim-py demo``         a short tour of the profile and status API in one process
``tim-py gen-usersig``  print a UserSig
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from typing import List, Optional

from . import EVENT, TYPES, TIM, gen_user_sig
from .types import Event

DEMO_APP_ID = 1400000001
DEMO_KEY = "timref-demo-secret-key"


def _say(text: str) -> None:
    print(text, flush=True)


def _show_profile(p) -> str:
    custom = ", ".join(f"{f.key[len('Tag_Profile_Custom_'):]}={f.value!r}" for f in p.profile_custom_field)
    return (f"{p.user_id}: nick={p.nick!r} gender={p.gender.name.lower()} "
            f"signature={p.self_signature!r} location={p.location!r}"
            + (f" custom[{custom}]" if custom else ""))


def _on_status(event: Event) -> None:
    for s in event.data:
        extra = f" custom_status={s.custom_status!r}" if s.custom_status else ""
        devices = f" devices={list(s.online_devices)}" if s.online_devices else ""
        _say(f"    event {event.name}: {s.user_id} is {s.status_type.name}{extra}{devices}")


def _on_profile(event: Event) -> None:
    for p in event.data:
        _say(f"    event {event.name}: {_show_profile(p)}")


def demo(data_dir: Optional[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="tim-py-demo-") as tmp:
        where = data_dir or tmp
        _say(f"1. Open a client (timref, store in {where}) with a secret key, so UserSigs are checked.")
        with TIM(DEMO_APP_ID, where, secret_key=DEMO_KEY) as tim:
            _say(f"   {tim.sdk_version}")

            _say("2. As the app's server would (admin surface): import bob and carol with profiles.")
            tim.admin.import_account("bob", nick="Bob").result()
            tim.admin.import_account("carol", nick="Carol").result()
            tim.admin.set_portrait("bob", gender=TYPES.GENDER_MALE, location="Lisbon",
                                   profile_custom_field=[{"key": "Hobby", "value": "chess"}]).result()
            tim.admin.set_portrait("carol", gender="Gender_Type_Female", self_signature="hello!").result()

            _say("3. Log in as alice with a UserSig made by gen_user_sig.")
            sig = gen_user_sig(DEMO_APP_ID, DEMO_KEY, "alice", 3600)
            tim.login("alice", sig).result()
            _say(f"   logged in as {tim.login_user_id!r}")

            _say("4. Update my profile, custom fields included, and read it back.")
            tim.on(EVENT.PROFILE_UPDATED, _on_profile)
            tim.update_my_profile(nick="Alice", gender=TYPES.GENDER_FEMALE, self_signature="Just testing",
                                  allow_type=TYPES.ALLOW_TYPE_NEED_CONFIRM,
                                  profile_custom_field=[{"key": "Tag_Profile_Custom_Hobby", "value": "go"},
                                                        {"key": "City", "value": "Porto"}]).result()
            tim.off(EVENT.PROFILE_UPDATED)
            me = tim.get_my_profile().result()
            _say(f"   me: {_show_profile(me)} allow_type={me.allow_type.name}")

            _say("5. Read the others' profiles.")
            for p in tim.get_user_profile(["bob", "carol"]).result():
                _say(f"   {_show_profile(p)}")

            _say("6. Subscribe to bob's status; the admin surface plays bob's client.")
            tim.on(EVENT.USER_STATUS_UPDATED, _on_status)
            tim.subscribe_user_status(["bob"]).result()
            _say("   bob comes online:")
            tim.admin.set_user_status("bob", TYPES.USER_STATUS_ONLINE).result()
            _say("   bob sets a custom status:")
            tim.admin.set_user_status("bob", TYPES.USER_STATUS_ONLINE, "at the beach").result()
            _say("   bob's process goes away (offline):")
            tim.admin.set_user_status("bob", TYPES.USER_STATUS_OFFLINE).result()
            for s in tim.get_user_status(["alice", "bob", "carol"]).result():
                _say(f"   status {s.user_id}: {s.status_type.name}")

            _say("7. Log out.")
            tim.logout().result()
            _say(f"   login user: {tim.login_user_id!r}")
    _say("Done.")
    return 0


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tim-py", description="tim_py command line")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser("demo", help="a short tour of the profile and status API in one process")
    d.add_argument("--data-dir", help="keep the store in this directory (default: a temporary one)")
    g = sub.add_parser("gen-usersig", help="print a UserSig (SPEC 3.7)")
    g.add_argument("sdk_app_id", type=int, help="the app's SDKAppID")
    g.add_argument("key", help="the app's secret key")
    g.add_argument("user_id", help="the user the UserSig is for")
    g.add_argument("--expire", type=int, default=86400 * 180, help="validity in seconds (default 180 days)")
    g.add_argument("--userbuf", help="optional TLS.userbuf text")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.data_dir)
    if args.command == "gen-usersig":
        try:
            print(gen_user_sig(args.sdk_app_id, args.key, args.user_id, args.expire, userbuf=args.userbuf))
        except (TypeError, ValueError) as e:
            parser.error(str(e))
        return 0
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
