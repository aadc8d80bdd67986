"""A client process driven by JSON lines: the multi-host tests and the benchmark run it in a
network namespace (``python tests/netns_agent.py APP_ID WHERE``).

Each line on stdin is a command; each answer and each event is a JSON line on stdout, with
``t``, this machine's monotonic clock (the same in every namespace) when it happened:

  {"op": "login", "user": U}              -> {"op": "login", "ok": true, "t"}
  {"op": "status", "custom": S}           set_self_status(S)
  {"op": "nick", "nick": N}               update_my_profile(nick=N)
  {"op": "subscribe", "users": [U...]}    status and profile of U...
  {"op": "get_status", "users": [U...]}   -> {"op", "ok", "statuses": [[U, type, custom]...]}
  {"op": "import", "users": [U...]}       admin.import_accounts
  {"op": "quit"}                          close the client and exit 0

A failed call answers {"op", "ok": false, "code", "desc", "seconds"} (how long it took to fail).
Events: {"event": "status", "user", "type", "custom", "t"}, {"event": "profile", "user", "nick", "t"}.
"""
from __future__ import annotations

import json
import sys
import threading
import time

from tim_py import EVENT, TIM
from tim_py.errors import TIMError

T = 30
_out = threading.Lock()


def emit(obj: dict) -> None:
    line = json.dumps(obj)
    with _out:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def main() -> int:
    app_id, where = int(sys.argv[1]), sys.argv[2]
    tim = TIM(app_id, where)

    def on_status(event) -> None:
        t = time.monotonic()
        for s in event.data:
            emit({"event": "status", "user": s.user_id, "type": int(s.status_type), "custom": s.custom_status,
                  "t": t})

    def on_profile(event) -> None:
        t = time.monotonic()
        for p in event.data:
            emit({"event": "profile", "user": p.user_id, "nick": p.nick, "t": t})

    tim.on(EVENT.USER_STATUS_UPDATED, on_status)
    tim.on(EVENT.PROFILE_UPDATED, on_profile)
    emit({"op": "ready", "ok": True, "t": time.monotonic()})
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        if op == "quit":
            break
        t0 = time.monotonic()
        try:
            answer: dict = {}
            if op == "login":
                tim.login(cmd["user"], "sig").result(T)
            elif op == "status":
                tim.set_self_status(cmd["custom"]).result(T)
            elif op == "nick":
                tim.update_my_profile(nick=cmd["nick"]).result(T)
            elif op == "subscribe":
                tim.subscribe_user_status(cmd["users"]).result(T)
                tim.subscribe_user_info(cmd["users"]).result(T)
            elif op == "get_status":
                got = tim.get_user_status(cmd["users"]).result(T)
                answer["statuses"] = [[s.user_id, int(s.status_type), s.custom_status] for s in got]
            elif op == "import":
                tim.admin.import_accounts(cmd["users"]).result(T)
            else:
                raise ValueError(f"unknown op {op!r}")
        except TIMError as e:
            emit({"op": op, "ok": False, "code": e.code, "desc": e.desc, "seconds": time.monotonic() - t0,
                  "t": time.monotonic()})
            continue
        emit({"op": op, "ok": True, "t0": t0, "t": time.monotonic(), **answer})
    tim.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
