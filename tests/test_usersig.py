"""gen_user_sig: round trip through TIMLogin with a secret key, and the rejection codes."""
from __future__ import annotations

import base64
import json
import time
import zlib

import pytest

from tim_py import TIM, UserSigError, gen_user_sig

from .conftest import APP_ID, KEY, run_python

T = 5


def decode(sig: str) -> dict:
    raw = base64.b64decode(sig.translate(str.maketrans("*-_", "+/=")))
    return json.loads(zlib.decompress(raw))


def test_format():
    sig = gen_user_sig(APP_ID, KEY, "alice", 3600, now=1_700_000_000)
    doc = decode(sig)
    assert doc["TLS.ver"] == "2.0" and doc["TLS.identifier"] == "alice"
    assert doc["TLS.sdkappid"] == APP_ID and doc["TLS.time"] == 1_700_000_000 and doc["TLS.expire"] == 3600
    assert len(base64.b64decode(doc["TLS.sig"])) == 32
    assert "TLS.userbuf" not in doc
    assert not set(sig) & set("+/=")
    # deterministic for a given time
    assert sig == gen_user_sig(APP_ID, KEY, "alice", 3600, now=1_700_000_000)
    assert decode(gen_user_sig(APP_ID, KEY, "a", userbuf=b"\x01\x02"))["TLS.userbuf"] == "AQI="
    assert decode(gen_user_sig(APP_ID, KEY, "a", userbuf="text"))["TLS.userbuf"] == "text"


def test_argument_checks():
    with pytest.raises(TypeError):
        gen_user_sig("1", KEY, "a")
    with pytest.raises(ValueError):
        gen_user_sig(-1, KEY, "a")
    with pytest.raises(TypeError):
        gen_user_sig(APP_ID, 3, "a")
    with pytest.raises(TypeError):
        gen_user_sig(APP_ID, KEY, None)
    with pytest.raises(ValueError):
        gen_user_sig(APP_ID, KEY, "a", expire=-5)
    with pytest.raises(TypeError):
        gen_user_sig(APP_ID, KEY, "a", userbuf=5)


@pytest.fixture
def secured(tmp_path):
    t = TIM(APP_ID, tmp_path, secret_key=KEY)
    yield t
    t.close()


def test_round_trip(secured):
    secured.login("alice", gen_user_sig(APP_ID, KEY, "alice")).result(T)
    assert secured.login_user_id == "alice"
    secured.logout().result(T)
    secured.login("bob", gen_user_sig(APP_ID, KEY.encode(), "bob", 60, userbuf=b"xyz")).result(T)
    assert secured.login_user_id == "bob"


@pytest.mark.parametrize("make, code", [
    (lambda: gen_user_sig(APP_ID, KEY, "alice", 10, now=int(time.time()) - 100), 70001),
    (lambda: gen_user_sig(APP_ID, "wrong key", "alice"), 70003),
    (lambda: "not a usersig", 70003),
    (lambda: gen_user_sig(APP_ID, KEY, "bob"), 70013),
    (lambda: gen_user_sig(APP_ID + 1, KEY, "alice"), 70014),
    (lambda: "", 70002),
])
def test_rejections(secured, make, code):
    with pytest.raises(UserSigError) as ei:
        secured.login("alice", make()).result(T)
    assert ei.value.code == code
    assert secured.login_user_id == ""


def test_cli_gen_usersig():
    r = run_python("from tim_py.cli import main; raise SystemExit(main())", "gen-usersig", str(APP_ID), KEY,
                   "alice", "--expire", "60")
    assert r.returncode == 0, r.stderr
    doc = decode(r.stdout.strip())
    assert doc["TLS.identifier"] == "alice" and doc["TLS.expire"] == 60
