"""The dashboard of `tim-py serve` (docs/dashboard.md) in a real headless Chromium.

The server is a real ``tim-py serve`` child process on a data directory; SDK clients are other
child processes on the same directory; the browser is Debian's ``chromium`` driven through
Debian's ``chromedriver`` by Selenium (no browser download).  Without them these tests fail
(``scripts/ensure-deps.sh chromium chromium-driver`` installs them): they are never skipped.

The screenshot test writes ``docs/dashboard.png``, the image the README shows.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import time
from pathlib import Path
from typing import Any, Iterator, List

import pytest

from .conftest import read_line, spawn
from .rest_helper import ROOT, RestClient, RestServer, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOT = ROOT / "docs" / "dashboard.png"

MULTI = "v4/im_open_login_svc/multiaccount_import"
SET_STATUS = "ref/set_user_status"
PORTRAIT_SET = "v4/profile/portrait_set"
PORTRAIT_GET = "v4/profile/portrait_get"
QUERY = "v4/openim/query_online_status"


def _browser() -> Any:
    """A headless Chromium under Selenium; fails the test (never skips) when one cannot start."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run scripts/ensure-deps.sh chromium chromium-driver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: pip install -e '.[test]'")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1360,1040", "--force-device-scale-factor=1", "--hide-scrollbars",
              "--font-render-hinting=none", "--lang=en-US"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    driver = _browser()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RestServer]:
    """One server for the module's tests, on a data directory other processes open too."""
    data = tmp_path_factory.mktemp("dashboard-world")
    with RestServer(data) as srv:
        srv.data_dir = data  # type: ignore[attr-defined]
        yield srv


def rest(srv: RestServer) -> RestClient:
    return RestClient(srv.url)



def js(driver: Any, code: str, *args: Any) -> Any:
    return driver.execute_script(code, *args)


def open_page(driver: Any, srv: RestServer) -> None:
    driver.get(srv.url + "/")
    wait_until("the page is ready", lambda: js(driver, "return document.body.dataset.ready === '1'"))
    wait_until("the live feed is connected", lambda: js(driver, "return document.getElementById('live')"
                                                                ".classList.contains('on')"))


def row(driver: Any, user: str) -> Any:
    """The row of ``user``: {status, custom, devices, nick, deleted}, or None when not listed."""
    return js(driver, """
        const tr = document.querySelector(`tr[data-user="${CSS.escape(arguments[0])}"]`);
        if (!tr) return null;
        return {status: tr.querySelector('[data-field=status] .badge').dataset.status,
                custom: tr.querySelector('[data-field=custom]').textContent,
                devices: [...tr.querySelectorAll('.device')].map(d => d.textContent),
                nick: tr.querySelector('[data-field=nick]').textContent,
                deleted: tr.classList.contains('deleted')};""", user)


def listed(driver: Any) -> List[str]:
    return js(driver, "return [...document.querySelectorAll('#users tr')].map(t => t.dataset.user)")


def click(driver: Any, css: str) -> None:
    driver.find_element("css selector", css).click()


def open_user(driver: Any, user: str) -> None:
    click(driver, f'tr[data-user="{user}"]')
    wait_until(f"{user}'s profile opens", lambda: js(driver, "return document.getElementById('detail-id')"
                                                             ".textContent") == user
               and not js(driver, "return document.getElementById('detail').hidden"))


def confirm(driver: Any) -> None:
    wait_until("the confirmation dialog opens", lambda: js(driver, "return document.getElementById('confirm').open"))
    click(driver, "#confirm-ok")


# ---- the page --------------------------------------------------------------------------------------


def test_the_page_loads_and_lists_users(world: RestServer, browser: Any) -> None:
    rest(world).ok(MULTI, {"AccountList": [{"UserID": "ann", "Nick": "Ann"}, {"UserID": "ben", "Nick": "Ben"}]})
    rest(world).ok(SET_STATUS, {"UserID": "ben", "StatusType": 3, "CustomStatus": "signed out"})
    open_page(browser, world)
    users = listed(browser)
    assert "ann" in users and "ben" in users and users == sorted(users)
    assert row(browser, "ann")["nick"] == "Ann"
    assert row(browser, "ann")["status"] == "UnLogined"  # never logged in
    assert (row(browser, "ben")["status"], row(browser, "ben")["custom"]) == ("UnLogined", "signed out")
    assert browser.title.startswith("timref world")
    # what the page shows comes from the page's module and stylesheet, served by the package
    assert js(browser, "return getComputedStyle(document.querySelector('.top')).display") == "flex"


def test_accounts_made_and_removed_elsewhere_come_and_go(world: RestServer, browser: Any) -> None:
    c = rest(world)
    open_page(browser, world)
    total = js(browser, "return document.getElementById('total').textContent")
    c.ok(MULTI, {"AccountList": [{"UserID": "aaf-new", "Nick": "New"}]})
    wait_until("the new account listed", lambda: (row(browser, "aaf-new") or {}).get("nick") == "New")
    assert js(browser, "return document.getElementById('total').textContent") != total
    c.ok("v4/im_open_login_svc/account_delete", {"DeleteItem": [{"UserID": "aaf-new"}]})
    wait_until("the removed account gone", lambda: "aaf-new" not in listed(browser))
    assert js(browser, "return document.getElementById('total').textContent") == total


def test_keyboard_and_labels(world: RestServer, browser: Any) -> None:
    """Every control has an accessible name, and a row opens with the keyboard."""
    rest(world).ok(MULTI, {"Accounts": ["aae-keys"]})
    open_page(browser, world)
    open_user(browser, "aae-keys")  # the form's inputs exist
    unnamed = js(browser, """
        return [...document.querySelectorAll('input, select, button, a')].filter(e => {
            const label = (e.labels && [...e.labels].map(l => l.textContent.trim()).join('')) ||
                          e.getAttribute('aria-label') || e.textContent.trim();
            return !label;
        }).map(e => e.outerHTML.slice(0, 80));""")
    assert unnamed == []
    from selenium.webdriver.common.keys import Keys

    js(browser, "document.querySelector('tr[data-user=\"ann\"]').focus()")
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    wait_until("ann's profile opens from the keyboard",
               lambda: js(browser, "return document.getElementById('detail-id').textContent") == "ann")
    assert js(browser, "return document.querySelector('tr[aria-current=true]').dataset.user") == "ann"


def test_search_and_keyset_paging(world: RestServer, browser: Any) -> None:
    c = rest(world)
    ids = [f"pg{i:03d}" for i in range(120)]
    for i in range(0, len(ids), 100):
        c.ok(MULTI, {"Accounts": ids[i:i + 100]})
    open_page(browser, world)
    search = browser.find_element("css selector", "#search")
    search.send_keys("pg1")
    wait_until("the search's 20 matches", lambda: listed(browser) == [f"pg1{i:02d}" for i in range(20)])
    assert js(browser, "return document.getElementById('total').textContent") == "(20)"
    assert js(browser, "return document.getElementById('next').disabled")
    search.clear()
    search.send_keys("pg")
    wait_until("the first page of 50", lambda: listed(browser) == ids[:50])
    assert js(browser, "return document.getElementById('range').textContent") == "1–50 of 120"
    click(browser, "#next")
    wait_until("the second page", lambda: listed(browser) == ids[50:100])
    click(browser, "#next")
    wait_until("the last page", lambda: listed(browser) == ids[100:])
    assert js(browser, "return document.getElementById('next').disabled")
    click(browser, "#prev")
    wait_until("back to the second page", lambda: listed(browser) == ids[50:100])
    search.clear()
    search.send_keys("no-such-user")
    wait_until("no match", lambda: listed(browser) == [] and
               not js(browser, "return document.getElementById('users-empty').hidden"))


# A client in another process: logs in as argv[2] on the world argv[1], says "in" once logged in
# with its custom status set, then waits for a line on stdin and logs out.
LOGIN = r"""
import sys
from tim_py import TIM
with TIM(1400000001, sys.argv[1]) as tim:
    tim.login(sys.argv[2], "sig").result(10)
    tim.set_self_status("on the train").result(10)
    print("in", flush=True)
    sys.stdin.readline()
    tim.logout().result(10)
    print("out", flush=True)
"""


def test_a_status_change_in_another_process_shows_within_one_second(world: RestServer, browser: Any) -> None:
    rest(world).ok(MULTI, {"Accounts": ["aaa-live"]})
    open_page(browser, world)
    assert row(browser, "aaa-live")["status"] == "UnLogined"
    child = spawn(LOGIN, world.data_dir, "aaa-live", stdin=True)  # type: ignore[attr-defined]
    try:
        assert read_line(child, 30) == "in"
        t0 = time.monotonic()
        wait_until("Online on the page", lambda: (row(browser, "aaa-live") or {}).get("custom") == "on the train",
                   timeout=5)
        shown = time.monotonic() - t0
        r = row(browser, "aaa-live")
        assert r["status"] == "Online" and r["devices"] == ["Linux"], r
        assert shown < 1.0, f"the change took {shown:.3f} s to show"
        child.stdin.write("\n")
        child.stdin.flush()
        assert read_line(child, 30) == "out"
        t0 = time.monotonic()
        wait_until("logged out on the page", lambda: (row(browser, "aaa-live") or {}).get("status") != "Online",
                   timeout=5)
        assert time.monotonic() - t0 < 1.0
        assert row(browser, "aaa-live")["devices"] == []
    finally:
        child.kill()
        child.wait(10)


# A client in another process logged in as argv[2]: prints each profile update it is told of.
PROFILE_WATCHER = r"""
import sys, json
from tim_py import TIM, EVENT
with TIM(1400000001, sys.argv[1]) as tim:
    def told(event):
        for p in event.data:
            print(json.dumps({"user": p.user_id, "nick": p.nick, "level": p.level,
                              "custom": [[c.key, c.value] for c in p.profile_custom_field]}), flush=True)
    tim.on(EVENT.PROFILE_UPDATED, told)
    tim.login(sys.argv[2], "sig").result(10)
    print("in", flush=True)
    sys.stdin.readline()
"""


def test_an_edit_on_the_page_reaches_an_sdk_client(world: RestServer, browser: Any) -> None:
    rest(world).ok(MULTI, {"AccountList": [{"UserID": "aab-edit", "Nick": "Before"}]})
    child = spawn(PROFILE_WATCHER, world.data_dir, "aab-edit", stdin=True)  # type: ignore[attr-defined]
    try:
        assert read_line(child, 30) == "in"
        open_page(browser, world)
        open_user(browser, "aab-edit")
        nick = browser.find_element("css selector", "#f-nick")
        assert nick.get_attribute("value") == "Before"
        nick.clear()
        nick.send_keys("After")
        level = browser.find_element("css selector", "#f-level")
        level.clear()
        level.send_keys("7")
        browser.find_element("css selector", "#custom-key").send_keys("Hobby")
        browser.find_element("css selector", "#custom-value").send_keys("chess")
        click(browser, "#save")
        told = json.loads(read_line(child, 10))
        assert told == {"user": "aab-edit", "nick": "After", "level": 7, "custom": [["Tag_Profile_Custom_Hobby", "chess"]]}, told
        # the page shows the saved profile, custom field included, and the row its new nick
        wait_until("the custom field on the page",
                   lambda: js(browser, "const i = document.getElementById('c-Hobby'); return i && i.value") == "chess")
        wait_until("the new nick in the row", lambda: row(browser, "aab-edit")["nick"] == "After")
        # a value out of range is stopped by the form; one the library refuses is shown with its
        # reason; nothing changes either way
        level = browser.find_element("css selector", "#f-level")
        level.clear()
        level.send_keys("99999999999")
        click(browser, "#save")
        assert js(browser, "return document.getElementById('profile-form').checkValidity()") is False
        level.clear()
        level.send_keys("8")
        browser.find_element("css selector", "#custom-key").send_keys("no-such")
        browser.find_element("css selector", "#custom-value").send_keys("x")
        click(browser, "#save")
        toast = wait_until("the refusal", lambda: js(browser, """const t = document.getElementById('toast');
            return t.classList.contains('error') && t.textContent;"""))
        assert toast.startswith("Not saved:") and "no-such" in toast, toast
        got = rest(world).ok(PORTRAIT_GET, {"To_Account": ["aab-edit"], "TagList": ["Tag_Profile_IM_Level"]})
        assert got["UserProfileItem"][0]["ProfileItem"] == [{"Tag": "Tag_Profile_IM_Level", "Value": 7}]
    finally:
        child.kill()
        child.wait(10)


def test_simulate_a_status(world: RestServer, browser: Any) -> None:
    rest(world).ok(MULTI, {"Accounts": ["aac-sim"]})
    open_page(browser, world)
    open_user(browser, "aac-sim")
    from selenium.webdriver.support.ui import Select

    Select(browser.find_element("css selector", "#status-type")).select_by_visible_text("Online")
    browser.find_element("css selector", "#status-custom").send_keys("in a meeting")
    click(browser, "#apply-status")
    wait_until("Online in the row", lambda: row(browser, "aac-sim")["status"] == "Online")
    assert row(browser, "aac-sim")["custom"] == "in a meeting"
    got = rest(world).ok(QUERY, {"To_Account": ["aac-sim"], "IsReturnCustomStatus": 1})["QueryResult"][0]
    assert got["Status"] == "Online" and got["CustomStatus"] == "in a meeting"
    Select(browser.find_element("css selector", "#status-type")).select_by_visible_text("UnLogined")
    click(browser, "#apply-status")
    wait_until("UnLogined in the row", lambda: row(browser, "aac-sim")["status"] == "UnLogined")
    assert js(browser, "return document.querySelector('#detail-status .badge').dataset.status") == "UnLogined"


def test_the_events_tail(world: RestServer, browser: Any) -> None:
    c = rest(world)
    c.ok(MULTI, {"Accounts": ["aad-tail"]})
    open_page(browser, world)
    before = js(browser, "return document.querySelectorAll('#events li').length")
    assert before > 0  # the tail read at load: the world has had events
    c.ok(PORTRAIT_SET, {"From_Account": "aad-tail", "ProfileItem": [{"Tag": "Tag_Profile_IM_Nick", "Value": "Tail"}]})
    top = "const li = document.querySelector('#events li'); return li && [li.dataset.user, li.dataset.type, li.textContent];"
    wait_until("the event at the top of the tail", lambda: "Tail" in (js(browser, top) or ["", "", ""])[2])
    user, kind, text = js(browser, top)
    assert (user, kind) == ("aad-tail", "profile") and "admin" in text, text
    seqs = js(browser, "return [...document.querySelectorAll('#events li')].map(l => Number(l.dataset.seq))")
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == len(seqs)


def test_export_reset_and_import_from_the_page(tmp_path: Path, browser: Any) -> None:
    with RestServer(tmp_path / "world") as srv:
        c = rest(srv)
        c.ok(MULTI, {"AccountList": [{"UserID": f"w{i}", "Nick": f"W {i}"} for i in range(5)]})
        c.ok(PORTRAIT_SET, {"From_Account": "w1", "ProfileItem": [{"Tag": "Tag_Profile_Custom_Team", "Value": "red"}]})
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        open_page(browser, srv)
        click(browser, "#export")
        files = wait_until("the snapshot downloaded", lambda: [p for p in downloads.iterdir()
                                                               if p.suffix == ".json"])
        snap_path = files[0]
        snap = json.loads(snap_path.read_text())
        assert snap["Format"] == "timref-world" and [a["UserID"] for a in snap["Accounts"]] == [f"w{i}" for i in range(5)]
        assert snap["Accounts"][1]["Profile"]["Tag_Profile_Custom_Team"] == "red"

        click(browser, "#reset")
        confirm(browser)
        wait_until("an empty world on the page", lambda: listed(browser) == [])
        assert js(browser, "return document.getElementById('total').textContent") == "(0)"
        assert c.call(QUERY, {"To_Account": ["w0"]})["ErrorCode"] == 70107

        browser.find_element("css selector", "#import-file").send_keys(str(snap_path))
        confirm(browser)
        wait_until("the imported users on the page", lambda: listed(browser) == [f"w{i}" for i in range(5)])
        got = c.ok(PORTRAIT_GET, {"To_Account": ["w1"], "TagList": ["Tag_Profile_IM_Nick", "Tag_Profile_Custom_Team"]})
        assert got["UserProfileItem"][0]["ProfileItem"] == [{"Tag": "Tag_Profile_IM_Nick", "Value": "W 1"},
                                                             {"Tag": "Tag_Profile_Custom_Team", "Value": "red"}]

        # a reset that is cancelled changes nothing
        click(browser, "#reset")
        wait_until("the dialog", lambda: js(browser, "return document.getElementById('confirm').open"))
        click(browser, "#confirm-cancel")
        time.sleep(0.3)
        assert c.ok(QUERY, {"To_Account": ["w0"]})["QueryResult"][0]["To_Account"] == "w0"
        assert listed(browser) == [f"w{i}" for i in range(5)]


def test_the_page_reconnects_to_a_restarted_server(tmp_path: Path, browser: Any) -> None:
    data = tmp_path / "world"
    with RestServer(data) as first:
        rest(first).ok(MULTI, {"Accounts": ["rc"]})
        port = first.port
        open_page(browser, first)
    wait_until("the page sees the server gone",
               lambda: js(browser, "return document.getElementById('live').classList.contains('off')"))
    with RestServer(data, "--port", str(port)) as second:  # the same address, the same world
        wait_until("the page reconnected", lambda: js(browser, "return document.getElementById('live')"
                                                               ".classList.contains('on')"), timeout=15)
        rest(second).ok(SET_STATUS, {"UserID": "rc", "StatusType": 1, "CustomStatus": "back"})
        wait_until("a change after the restart", lambda: (row(browser, "rc") or {}).get("custom") == "back")


def test_with_a_secret_key_the_printed_address_opens_it(tmp_path: Path, browser: Any) -> None:
    import re

    with RestServer(tmp_path / "world", "--secret-key", "k" * 32) as srv:
        RestClient(srv.url, usersig=_admin_sig()).ok(MULTI, {"Accounts": ["keyed"]})
        browser.delete_all_cookies()
        browser.get(srv.url + "/")
        wait_until("the page says it has no access",
                   lambda: js(browser, "return document.getElementById('live-text').textContent") == "no access")
        assert listed(browser) == []
        url = wait_until("the address on stderr", lambda: re.search(r"dashboard at (\S+)", srv.stderr())).group(1)
        assert "?token=" in url
        browser.get(url)
        wait_until("the page is ready", lambda: js(browser, "return document.body.dataset.ready === '1'"))
        assert js(browser, "return location.search") == ""  # the token left the address bar
        assert listed(browser) == ["keyed"]
        wait_until("the live feed", lambda: js(browser, "return document.getElementById('live').classList.contains('on')"))
        browser.delete_all_cookies()


def _admin_sig() -> str:
    from tim_py.usersig import gen_user_sig

    return gen_user_sig(1400000001, "k" * 32, "administrator", 3600)


def _png_size(data: bytes) -> tuple:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_screenshot_for_the_readme(tmp_path: Path, browser: Any) -> None:
    """docs/dashboard.png: the page with a few users, one profile open, the live tail."""
    with RestServer(tmp_path / "world") as srv:
        c = rest(srv)
        people = [("alice", "Alice Chen"), ("bob", "Bob Martin"), ("carol", "Carol Diaz"), ("dave", "Dave Kim"),
                  ("erin", "Erin Walsh"), ("frank", "Frank Osei"), ("grace", "Grace Liu")]
        c.ok(MULTI, {"AccountList": [{"UserID": u, "Nick": n} for u, n in people]})
        c.ok(PORTRAIT_SET, {"From_Account": "alice", "ProfileItem": [
            {"Tag": "Tag_Profile_IM_Gender", "Value": "Gender_Type_Female"},
            {"Tag": "Tag_Profile_IM_Location", "Value": "Lisbon"},
            {"Tag": "Tag_Profile_IM_SelfSignature", "Value": "Shipping the mobile app"},
            {"Tag": "Tag_Profile_IM_Level", "Value": 12},
            {"Tag": "Tag_Profile_Custom_Team", "Value": "mobile"}]})
        open_page(browser, srv)
        for user, kind, text in [("alice", 1, "reviewing PRs"), ("bob", 1, ""), ("carol", 3, ""),
                                 ("erin", 1, "in a meeting"), ("grace", 2, "back at 3pm")]:
            c.ok(SET_STATUS, {"UserID": user, "StatusType": kind, "CustomStatus": text})
        wait_until("the statuses on the page", lambda: (row(browser, "erin") or {}).get("status") == "Online"
                   and row(browser, "grace")["custom"] == "back at 3pm")
        open_user(browser, "alice")
        time.sleep(1.5)  # the rows' highlight fades
        png = browser.get_screenshot_as_png()
        assert _png_size(png)[0] == 1360
        SCREENSHOT.parent.mkdir(exist_ok=True)
        if not SCREENSHOT.exists() or SCREENSHOT.read_bytes() != png:
            tmp = SCREENSHOT.with_suffix(".png.tmp")
            tmp.write_bytes(png)
            shutil.move(str(tmp), str(SCREENSHOT))
