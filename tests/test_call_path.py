"""The fast paths of a profile get keep the general paths' results and errors.

* ``profile_request``: the request text of ``get_user_profile``, joined directly for plain ids,
  must be the very bytes ``orjson.dumps`` writes (and refuse what it refuses);
* ``profiles_from_text`` (``tim_py._decode``, in C): the answer's text to Profile tuples, must
  give what ``profiles_from_json(orjson.loads(text))`` gives, or fail as it fails; and it must
  really take the common shape itself (else the speed it exists for is gone unnoticed).
"""
from __future__ import annotations

import asyncio
import gc

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tim_py import _decode
from tim_py._core import _KEY_PROFILE_IDS, profile_request
from tim_py.fields import CUSTOM_KEY, CUSTOM_VALUE, FIELDS, profiles_from_json, profiles_from_text
from tim_py.errors import ProfileError
from tim_py.types import Profile

APP = 1400000001

# ---- the request -------------------------------------------------------------------------------

ids_st = st.lists(st.one_of(st.text(max_size=12), st.text(alphabet="ab\"\\ \x7f\x1fé", max_size=6)),
                  max_size=5)


@given(ids_st)
def test_profile_request_is_orjsons_text(ids):
    try:
        want = orjson.dumps({_KEY_PROFILE_IDS: ids})
    except orjson.JSONEncodeError:
        with pytest.raises(ValueError):
            profile_request(ids)
        return
    assert profile_request(ids) == want


def test_profile_request_refuses_a_lone_surrogate():
    with pytest.raises(ValueError, match="user_id_list"):
        profile_request(["ok", "\ud800"])


# ---- the answer ----------------------------------------------------------------------------------

def plain_profile(i: int = 0) -> dict:
    return {f.key: ([] if f.kind == "custom" else f"u{i:07d}" if f.name == "user_id"
                    else "" if f.kind == "string" else 0) for f in FIELDS}


def generic(text: bytes):
    """What the general path makes of an answer: its value, or the type of what it raises."""
    try:
        return profiles_from_json(orjson.loads(text)) if text else []
    except Exception as e:  # noqa: BLE001 - compared, not swallowed
        return type(e)


def fast(text: bytes):
    try:
        return profiles_from_text(text)
    except Exception as e:  # noqa: BLE001
        return type(e)


def test_the_common_shape_is_decoded_in_c():
    p = plain_profile(1)
    p["user_profile_nick_name"] = "Zoë ✓"
    p["user_profile_gender"] = 2
    p["user_profile_add_permission"] = 9  # not an AllowType: stays an int
    p["user_profile_custom_string_array"] = [{CUSTOM_KEY: "Tag_Profile_Custom_a", CUSTOM_VALUE: "1"},
                                             {CUSTOM_VALUE: "v"}]
    q = plain_profile(2)
    q = {"user_profile_friend_remark": "", **dict(reversed(q.items())), "other": [], "more": None}
    text = orjson.dumps([p, q, p, q])
    got = _decode.profiles(text)
    assert got is not None, "the common shape fell back to the generic path"
    assert got == profiles_from_json(orjson.loads(text))
    assert all(type(x) is Profile for x in got)
    assert type(got[0].gender).__name__ == "Gender" and got[0].allow_type == 9
    assert got[0].profile_custom_field[1] == ("", "v")
    # left out of the garbage collector's lists (they can never be part of a cycle)
    assert not any(gc.is_tracked(p) for p in got)
    assert not gc.is_tracked(got[0].profile_custom_field[0])
    assert _decode.profiles(b" [ ] ") == [] and profiles_from_text(b"") == []


def test_numbers_and_enum_values_of_every_range_decode_as_the_generic_path():
    # the decoder's tables (the small ints, each enum's members below 16) and the values past
    # them, negative ones, and an enum value written with spaces around it
    enums = [f.key for f in FIELDS if f.kind == "enum"]
    ints = [f.key for f in FIELDS if f.kind == "uint32"]
    assert enums and ints
    profiles = []
    for n in [0, 1, 2, 3, 5, 15, 16, 17, 255, 256, 4294967295, -1]:
        p = plain_profile(n if n >= 0 else 9)
        for k in enums + ints:
            p[k] = n
        profiles.append(p)
    text = orjson.dumps(profiles)
    got = _decode.profiles(text)
    assert got is not None and got == generic(text)
    assert [type(x) for x in got[1]] == [type(x) for x in generic(text)[1]]
    assert [type(x) for x in got[7]] == [type(x) for x in generic(text)[7]]
    spaced = text.replace(b'"user_profile_gender":2,', b'"user_profile_gender": 2 ,')
    assert spaced != text and fast(spaced) == generic(spaced)
    assert type(fast(spaced)[2].gender) is type(generic(spaced)[2].gender)


@pytest.mark.parametrize("text", [
    b'[{"user_profile_identifier":"a\\"b"}]',  # an escape: generic path
    b"[1]", b"{}", b"[]x", b"[", b"", b"null", b'[{"x":1}]', b"[{}]",
    b'[{"user_profile_identifier":"\xff"}]',  # invalid UTF-8
    b'[{"user_profile_identifier":"a\x01"}]',  # a raw control character
])
def test_other_shapes_decode_or_fail_as_the_generic_path(text):
    assert fast(text) == generic(text)


field_value = st.one_of(st.text(max_size=8), st.integers(-2**63, 2**64 - 1), st.floats(allow_nan=False),
                        st.none(), st.booleans())
custom_entry = st.dictionaries(st.sampled_from([CUSTOM_KEY, CUSTOM_VALUE, "other"]),
                               st.one_of(st.text(max_size=6), st.integers(0, 9)), max_size=3)


@st.composite
def answers(draw):
    """A profile answer, mostly of the common shape, with every kind of deviation drawn in."""
    out = []
    for i in range(draw(st.integers(0, 3))):
        p = plain_profile(i)
        for f in FIELDS:
            if draw(st.integers(0, 4)) == 0:
                p[f.key] = (draw(st.lists(custom_entry, max_size=2)) if f.kind == "custom"
                            else draw(field_value))
        if draw(st.integers(0, 6)) == 0:
            p.pop(draw(st.sampled_from([f.key for f in FIELDS])))
        if draw(st.integers(0, 8)) == 0:
            p["unknown"] = 1
        keys = draw(st.permutations(list(p)))
        out.append({k: p[k] for k in keys})
    text = orjson.dumps(out)
    if draw(st.integers(0, 5)) == 0:  # whitespace, as another library may write it
        text = orjson.dumps(out, option=orjson.OPT_INDENT_2)
    if draw(st.integers(0, 8)) == 0:  # a cut answer
        text = text[:draw(st.integers(0, max(0, len(text) - 1)))]
    return text


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(answers())
def test_any_answer_decodes_as_the_generic_path(text):
    assert fast(text) == generic(text)


def test_a_duplicate_key_is_left_to_the_generic_path():
    text = orjson.dumps([plain_profile(3)])
    dup = text.replace(b'"user_profile_nick_name":""', b'"user_profile_nick_name":"a","user_profile_nick_name":"b"')
    assert _decode.profiles(dup) is None
    assert fast(dup) == generic(dup) and fast(dup)[0].nick == "b"


# ---- through the client ----------------------------------------------------------------------------

async def test_get_user_profile_gives_the_generic_decoding_of_the_same_answer(tmp_path):
    from tim_py.aio import AsyncTIM

    async with AsyncTIM(APP, tmp_path) as tim:
        await tim.admin.import_accounts(["ann", "bob"])
        await tim.login("ann", "sig")
        await tim.update_my_profile(nick='Ann "A" \\ ✓', gender="Gender_Type_Female")
        got = await tim.get_user_profile(["ann", "bob", "nobody"])
        raw = await tim.raw.call("TIMProfileGetUserProfileList", {_KEY_PROFILE_IDS: ["ann", "bob", "nobody"]})
        assert got == profiles_from_json(raw)
        # the library's own answer (its keys, in its order, and one that is not a field) is of
        # the shape decoded in C, but for ann's nick, which has escapes (the generic path's)
        assert _decode.profiles(orjson.dumps(raw)) is None
        assert _decode.profiles(orjson.dumps(raw[1:])) == got[1:]
        assert [p.user_id for p in got] == ["ann", "bob"] and got[0].nick == 'Ann "A" \\ ✓'
        # many calls in flight: each its own result, in the order they complete
        futs = [tim.get_user_profile([u]) for u in ["bob", "ann"] * 50]
        results = await asyncio.gather(*futs)
        assert [r[0].user_id for r in results] == ["bob", "ann"] * 50


# ---- order, under a stream of calls ------------------------------------------------------------------

def _mixed_stream(tim, resolved, seen_events):
    """Gets (single, of 100, of an account that does not exist: an error) interleaved with profile
    changes, each future noting when it resolves and how many events its client had delivered by
    then."""
    futs = []
    for i in range(300):
        if i % 50 == 25:
            f = tim.update_my_profile(nick=f"n{i}")
        elif i % 10 == 3:
            f = tim.get_user_profile([f"u{k:03d}" for k in range(100)])
        elif i % 10 == 7:
            f = tim.get_user_profile(["nobody"])
        else:
            f = tim.get_user_profile([f"u{i % 100:03d}"])
        f.add_done_callback(lambda _f, i=i: resolved.append((i, len(seen_events))))
        futs.append(f)
    return futs


def _check_stream(futs_results, resolved, seen_events):
    assert [i for i, _ in resolved] == list(range(300)), "futures resolved out of call order"
    for i, delivered in resolved:
        if i % 50 == 25:  # each change's own event came before the change completed
            assert any(e.data[0].nick == f"n{i}" for e in seen_events[:delivered])
    for i, r in enumerate(futs_results):
        if i % 50 == 25:
            assert r.nick == f"n{i}"
        elif i % 10 == 3:
            assert [p.user_id for p in r] == [f"u{k:03d}" for k in range(100)]
        elif i % 10 == 7:  # its own error, among successes
            assert isinstance(r, ProfileError) and r.code == 40003
        else:
            assert [p.user_id for p in r] == [f"u{i % 100:03d}"]


async def test_asyncio_calls_resolve_in_order_with_their_events_first():
    from tim_py import EVENT
    from tim_py.aio import AsyncTIM

    async with AsyncTIM(APP) as tim:
        await tim.admin.import_accounts([f"u{k:03d}" for k in range(100)])
        await tim.login("u000", "sig")
        seen, resolved = [], []
        tim.on(EVENT.PROFILE_UPDATED, seen.append)
        futs = _mixed_stream(tim, resolved, seen)
        results = await asyncio.gather(*futs, return_exceptions=True)
        _check_stream(results, resolved, seen)


def test_futures_calls_resolve_in_order_with_their_events_first():
    # the exact check of "events first": a concurrent future runs its done-callbacks inside
    # set_result, on the dispatcher, so each one sees the events delivered before it resolved
    # (asyncio schedules them, and the count above may include a few later ones)
    import concurrent.futures

    from tim_py import EVENT, TIM

    with TIM(APP) as tim:
        tim.admin.import_accounts([f"u{k:03d}" for k in range(100)]).result()
        tim.login("u000", "sig").result()
        seen, resolved = [], []
        tim.on(EVENT.PROFILE_UPDATED, seen.append)
        futs = _mixed_stream(tim, resolved, seen)
        concurrent.futures.wait(futs)
        _check_stream([f.exception() or f.result() for f in futs], resolved, seen)


# ---- the call made holding the GIL ---------------------------------------------------------------

def test_a_held_call_refuses_what_cffi_would_not_pass():
    from tim_py._core import _GET_PROFILE_LIST

    with pytest.raises(ValueError, match="NULL"):
        _decode.call(0, b"{}", 1)
    with pytest.raises(TypeError):
        _decode.call(_GET_PROFILE_LIST, "not bytes", 1)
    with pytest.raises(ValueError):  # a NUL inside: C would see a shorter text
        _decode.call(_GET_PROFILE_LIST, b'{"a":1}\x00x', 1)
    with pytest.raises(OverflowError):
        _decode.call(_GET_PROFILE_LIST, b"{}", -1)


def test_a_held_call_is_the_wrappers_own_answer():
    # text that is not JSON is refused at the call (no completion queued): the same code through
    # either route, and the client raises it as before
    from tim_py import TIM
    from tim_py._core import _GET_PROFILE_LIST
    from tim_py._ffi import lib
    from tim_py.errors import TIMError

    with TIM(APP) as tim:
        rc = _decode.call(_GET_PROFILE_LIST, b"not json", 1)
        assert rc == lib.tp_TIMProfileGetUserProfileList(b"not json", 1) == lib.TIM_ERR_JSON
        tim.admin.import_accounts(["u000"]).result()
        tim.login("u000", "sig").result()
        assert tim.get_user_profile(["u000"]).result()[0].user_id == "u000"
        with pytest.raises(TIMError):
            tim.get_user_profile(["x" * 100_000]).result()


def test_a_stream_of_gets_lets_other_threads_run():
    # the call keeps the GIL only while the library queues it: a thread that waits for the GIL
    # still runs while another makes thousands of gets (the interpreter's switch interval)
    import threading

    from tim_py import TIM

    with TIM(APP) as tim:
        tim.admin.import_accounts(["u000"]).result()
        tim.login("u000", "sig").result()
        ticks = []
        stop = threading.Event()

        def other():
            while not stop.is_set():
                ticks.append(1)

        t = threading.Thread(target=other)
        t.start()
        try:
            futs = [tim.get_user_profile(["u000"]) for _ in range(20000)]
        finally:
            stop.set()
            t.join()
        assert len(ticks) > 0
        assert all(f.result()[0].user_id == "u000" for f in futs)


# ---- the futures client's Future ------------------------------------------------------------------

def test_the_lean_future_runs_here_and_holds_what_the_standard_one_holds():
    import concurrent.futures

    from tim_py.client import LEAN_FUTURE, Future

    assert LEAN_FUTURE, "concurrent.futures.Future's state changed: Future falls back to the standard one"
    assert list(Future().__dict__) == list(concurrent.futures.Future().__dict__)


def test_the_lean_future_behaves_as_the_standard_one():
    import concurrent.futures
    import threading

    from tim_py.client import Future

    for cls in (Future, concurrent.futures.Future):
        # a result, once; set twice is refused as the standard one refuses it
        f = cls()
        calls = []
        f.add_done_callback(lambda x: calls.append(x.result()))
        f.set_result(7)
        assert f.done() and f.result() == 7 and f.result(timeout=0) == 7 and calls == [7]
        with pytest.raises(concurrent.futures.InvalidStateError):
            f.set_result(8)
        assert f.result() == 7
        # an error raises from result(), not the fast path
        f = cls()
        f.set_exception(KeyError("k"))
        with pytest.raises(KeyError):
            f.result()
        # a pending future times out, and a cancelled one raises CancelledError
        f = cls()
        with pytest.raises(concurrent.futures.TimeoutError):
            f.result(timeout=0.01)
        assert f.cancel()
        with pytest.raises(concurrent.futures.CancelledError):
            f.result()
        with pytest.raises(concurrent.futures.InvalidStateError):
            f.set_result(1)
        # waiters in other threads are woken: result(), wait(), as_completed()
        fs = [cls() for _ in range(3)]
        got = []
        t = threading.Thread(target=lambda: got.append(fs[0].result(timeout=5)))
        t.start()
        threading.Timer(0.05, lambda: [x.set_result(i) for i, x in enumerate(fs)]).start()
        done, pending = concurrent.futures.wait(fs, timeout=5)
        t.join(5)
        assert len(done) == 3 and not pending and got == [0]
        assert sorted(x.result() for x in concurrent.futures.as_completed(fs, timeout=5)) == [0, 1, 2]
        # the condition: owned only inside with, notify outside refused, wait times out
        cond = cls()._condition
        assert not cond._is_owned()
        with pytest.raises(RuntimeError):
            cond.notify_all()
        with cond:
            assert cond._is_owned() and cond.wait(0.01) is False
        assert repr(cond).startswith("<Condition(")


def test_the_futures_result_still_refuses_to_deadlock_its_dispatcher():
    from tim_py import EVENT, TIM

    errors = []
    with TIM(APP) as tim:
        tim.admin.import_accounts(["u000", "u001"]).result()
        tim.login("u000", "sig").result()

        def handler(event):
            pending = tim.get_user_profile(["u001"])
            try:
                pending.result()
            except RuntimeError as e:
                errors.append(e)

        tim.on(EVENT.PROFILE_UPDATED, handler)
        tim.update_my_profile(nick="x").result()
        deadline = __import__("time").monotonic() + 5
        while not errors and __import__("time").monotonic() < deadline:
            __import__("time").sleep(0.01)
    assert errors and "deadlock" in str(errors[0])
