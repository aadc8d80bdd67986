"""``tim-py demo``: a short tour of the profile and status API, ending with two processes.

Steps 1-6 run in this process; step 7 starts a second Python process on the
same data directory, logged in as bob, and prints what this process (alice)
is told about it: bob coming online, his custom status, his new profile, and,
when his process ends without logging out, bob turning Offline.  Step 8 starts
``tim-py serve`` on the same directory (when aiohttp is installed), makes one
``portrait_set`` call over HTTP as an app's server would, and prints the
profile event this process gets from it.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import urllib.request
from typing import Any, List, Optional

from .. import EVENT, TYPES, TIM, UserStatusType, gen_user_sig
from .._storeurl import redact
from ..types import CUSTOM_PREFIX, Event
from .world import DEFAULT_APP_ID

DEMO_APP_ID = DEFAULT_APP_ID
DEMO_KEY = "timref-demo-secret-key"
WAIT = 15.0  # seconds to wait for an event from the other process before giving up

# What bob's process runs (python -c BOB_PROCESS APP_ID KEY DATA_DIR).
BOB_PROCESS = """\
import os, sys, time
from tim_py import TIM, gen_user_sig
app_id, key, data_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
tim = TIM(app_id, data_dir, secret_key=key)

def step(text, call):
    print(f"   [bob's process, pid {os.getpid()}] {text}", flush=True)
    call().result(10)
    time.sleep(0.1)  # give alice a moment to print what she is told

step("logging in as bob", lambda: tim.login("bob", gen_user_sig(app_id, key, "bob", 600)))
step("setting my custom status", lambda: tim.set_self_status("hello from another process"))
step("updating my profile", lambda: tim.update_my_profile(nick="Bobby", self_signature="written by bob's process"))
print(f"   [bob's process, pid {os.getpid()}] exiting without logging out, as if it crashed", flush=True)
os._exit(0)
"""


def _say(text: str) -> None:
    print(text, flush=True)


def _show_profile(p: Any) -> str:
    custom = ", ".join(f"{f.key[len(CUSTOM_PREFIX):]}={f.value!r}" for f in p.profile_custom_field)
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


def demo(data_dir: Optional[str] = None) -> int:
    with tempfile.TemporaryDirectory(prefix="tim-py-demo-") as tmp:
        where = data_dir or tmp
        _say(f"1. Open a client (timref, store in {redact(where)}) with a secret key, so UserSigs are checked.")
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
            _say("   bob's client goes away (offline):")
            tim.admin.set_user_status("bob", TYPES.USER_STATUS_OFFLINE).result()

            ok = _two_processes(tim, where)

            for s in tim.get_user_status(["alice", "bob", "carol"]).result():
                _say(f"   status {s.user_id}: {s.status_type.name}")

            ok = _rest_api(tim, where) and ok

            _say("9. Log out.")
            tim.logout().result()
            _say(f"   login user: {tim.login_user_id!r}")
    _say("Done." if ok else "Done, but bob's process did not behave as expected (see above).")
    return 0 if ok else 1


def _two_processes(tim: TIM, where: str) -> bool:
    _say("7. Two processes, one store: a second Python process logs in as bob on the same")
    _say("   data directory; this process (alice) subscribes to bob's status and profile.")
    offline = threading.Event()
    profile_seen = threading.Event()

    def watch_status(event: Event) -> None:
        if any(s.user_id == "bob" and s.status_type is UserStatusType.OFFLINE for s in event.data):
            offline.set()

    def watch_profile(event: Event) -> None:
        _on_profile(event)
        if any(p.user_id == "bob" and p.nick == "Bobby" for p in event.data):
            profile_seen.set()

    tim.on(EVENT.USER_STATUS_UPDATED, watch_status)
    tim.on(EVENT.PROFILE_UPDATED, watch_profile)
    tim.subscribe_user_info(["bob"]).result()
    cmd = [sys.executable, "-c", BOB_PROCESS, str(DEMO_APP_ID), DEMO_KEY, where]
    _say("   starting bob's process (its script is BOB_PROCESS in tim_py/cli/demo.py):")
    try:
        proc = subprocess.run(cmd, timeout=60, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    except subprocess.TimeoutExpired:
        _say("   bob's process did not finish within 60 s")
        return False
    if proc.returncode != 0:
        _say(f"   bob's process failed (exit code {proc.returncode})")
        return False
    got_profile = profile_seen.wait(WAIT)
    _say("   bob's process is gone; its lock went with it. Within about a second this process")
    _say("   notices and turns bob Offline:")
    got_offline = offline.wait(WAIT)
    tim.off(EVENT.USER_STATUS_UPDATED, watch_status)
    tim.off(EVENT.PROFILE_UPDATED, watch_profile)
    if not got_profile:
        _say(f"   (no profile event from bob's process within {WAIT:g} s)")
    if not got_offline:
        _say(f"   (bob was not turned Offline within {WAIT:g} s)")
    return got_profile and got_offline


REST_NICK = "Bob (set over HTTP)"


def _rest_api(tim: TIM, where: str) -> bool:
    """Step 8: ``tim-py serve`` on this data directory, one portrait_set call over HTTP, and
    the profile event this process (subscribed to bob's profile) gets from it."""
    _say("8. The vendor's REST API over HTTP: 'tim-py serve' on the same data directory, and one")
    _say("   portrait_set call as an app's server would make it; this process is told.")
    if importlib.util.find_spec("aiohttp") is None:
        _say("   (skipped: 'tim-py serve' needs aiohttp; pip install 'tim_py[server]' to see this step)")
        return True
    seen = threading.Event()
    told: List[Event] = []  # printed after the answer: the event may come before the answer is read

    def watch_profile(event: Event) -> None:
        told.append(event)
        if any(p.user_id == "bob" and p.nick == REST_NICK for p in event.data):
            seen.set()

    tim.on(EVENT.PROFILE_UPDATED, watch_profile)
    cmd = [sys.executable, "-m", "tim_py", "serve", "--data-dir", where, "--port", "0",
           "--app-id", str(DEMO_APP_ID), "--secret-key", DEMO_KEY]
    server = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    try:
        first: List[str] = []
        reader = threading.Thread(target=lambda: first.append(server.stdout.readline() if server.stdout else ""),
                                  daemon=True)
        reader.start()
        reader.join(30)
        url = first[0].strip() if first else ""
        if not url.startswith("http://"):
            _say("   the server did not start (run 'tim-py serve --port 0' to see why)")
            return False
        _say(f"   tim-py serve --data-dir {redact(where)} --port 0 --secret-key ...   prints {url}")
        query = urllib.parse.urlencode({
            "sdkappid": DEMO_APP_ID, "identifier": "administrator", "random": 7, "contenttype": "json",
            "usersig": gen_user_sig(DEMO_APP_ID, DEMO_KEY, "administrator", 600)})
        body = {"From_Account": "bob", "ProfileItem": [{"Tag": "Tag_Profile_IM_Nick", "Value": REST_NICK},
                                                       {"Tag": "Tag_Profile_IM_Location", "Value": "Porto"}]}
        _say(f"   POST /v4/profile/portrait_set?sdkappid={DEMO_APP_ID}&identifier=administrator&usersig=...")
        _say(f"        {json.dumps(body)}")
        request = urllib.request.Request(f"{url}/v4/profile/portrait_set?{query}", data=json.dumps(body).encode())
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            _say(f"   answer: {response.read().decode()}")
        got = seen.wait(WAIT)
        for event in list(told):
            _on_profile(event)
        if not got:
            _say(f"   (no profile event for bob within {WAIT:g} s)")
        return got
    except OSError as e:
        _say(f"   the HTTP call failed: {e}")
        return False
    finally:
        tim.off(EVENT.PROFILE_UPDATED, watch_profile)
        server.terminate()  # SIGTERM: a clean stop
        try:
            code = server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            code = server.wait()
        _say(f"   the server stopped on SIGTERM (exit code {code})")
