"""Twins of the vendor's Web SDK profile documentation samples.

Each twin does what one documented sample does, with the Web SDK's options
object written as a Python dict (the sample's keys: ``userIDList``, ``nick``,
``selfSignature``, ``profileCustomField`` ...), and checks what the vendor
documentation promises: the result holds the profile(s) asked for,
``EVENT.PROFILE_UPDATED`` carries the new profile, a later ``getMyProfile``
shows the new values, custom keys come back with their ``Tag_Profile_Custom_``
prefix, and ``getUserProfile`` queries only the first 100 IDs of a longer list.

Web SDK values map to tim_py as README.md says: ``TYPES.GENDER_MALE`` is
``Gender.MALE``, a ``Profile`` has the Web SDK's fields in snake_case, and a
future resolves to what the Web SDK puts in ``IMResponse.data``.
"""
from __future__ import annotations

import threading
import time

import pytest

from tim_py import EVENT, TYPES, CustomField, Profile

T = 5  # seconds to wait for any result
ME = "sample_me"


class ProfileEvents:
    """Records every EVENT.PROFILE_UPDATED the client delivers."""

    def __init__(self, tim) -> None:
        self._lock = threading.Lock()
        self._events: list = []
        tim.on(EVENT.PROFILE_UPDATED, self)

    def __call__(self, event) -> None:
        with self._lock:
            self._events.append(event)

    def events(self) -> list:
        with self._lock:
            return list(self._events)

    def wait_for_mine(self, nick: str) -> Profile:
        """The first profile of mine in an event whose nick is ``nick`` (fails after T s)."""
        deadline = time.monotonic() + T
        while True:
            for event in self.events():
                assert event.name == EVENT.PROFILE_UPDATED
                assert isinstance(event.data, list)
                for p in event.data:
                    assert isinstance(p, Profile)
                    if p.user_id == ME and p.nick == nick:
                        return p
            if time.monotonic() > deadline:
                pytest.fail(f"no EVENT.PROFILE_UPDATED with my profile and nick {nick!r}; "
                            f"got {self.events()!r}")
            time.sleep(0.005)


@pytest.fixture
def web(tim):
    """A client logged in as ME, with user1 and user2 imported (the samples' users)."""
    assert tim.admin.import_accounts(["user1", "user2"]).result(T) == []
    tim.login(ME, "sig").result(T)
    return tim


# Web SDK getMyProfile: read your own profile
def test_web_get_my_profile(web):
    me = web.get_my_profile().result(T)
    assert isinstance(me, Profile)
    assert me.user_id == ME
    # nothing custom was set: no custom profile content comes back
    assert me.profile_custom_field == ()
    web.admin.set_portrait(ME, nick="My profile", self_signature="My personal signature",
                           gender=TYPES.GENDER_MALE).result(T)
    me = web.get_my_profile().result(T)
    assert isinstance(me, Profile)
    assert (me.user_id, me.nick, me.self_signature, me.gender) == (
        ME, "My profile", "My personal signature", TYPES.GENDER_MALE)


# Web SDK getUserProfile: the profiles of user1 and user2 by userIDList
def test_web_get_user_profile(web):
    web.admin.set_portrait("user1", nick="User one").result(T)
    web.admin.set_portrait("user2", nick="User two", gender=TYPES.GENDER_FEMALE).result(T)
    profiles = web.get_user_profile({"userIDList": ["user1", "user2"]}).result(T)
    assert isinstance(profiles, list)
    assert all(isinstance(p, Profile) for p in profiles)
    assert len(profiles) == 2
    by_id = {p.user_id: p for p in profiles}
    assert set(by_id) == {"user1", "user2"}
    assert by_id["user1"].nick == "User one"
    assert (by_id["user2"].nick, by_id["user2"].gender) == ("User two", TYPES.GENDER_FEMALE)
    # custom fields neither configured nor set: none come back
    assert all(p.profile_custom_field == () for p in profiles)
    # the sample's note: a single user is still given as an array
    one = web.get_user_profile({"userIDList": ["user1"]}).result(T)
    assert [p.user_id for p in one] == ["user1"]


# Web SDK getUserProfile: a userIDList longer than 100 queries only the first 100
def test_web_get_user_profile_first_100(web):
    ids = [f"user{i:03d}" for i in range(150)]
    assert web.admin.import_accounts(ids).result(T) == []
    profiles = web.get_user_profile({"userIDList": ids}).result(T)
    got = [p.user_id for p in profiles]
    assert len(got) == 100
    assert set(got) == set(ids[:100])  # all 150 exist: the last 50 were discarded


# Web SDK updateMyProfile: the standard fields of the sample (nick, avatar, gender, selfSignature, allowType)
def test_web_update_my_profile_standard(web):
    events = ProfileEvents(web)
    web.update_my_profile({
        "nick": "My profile",
        "avatar": "http(s)://url/to/image.jpg",
        "gender": TYPES.GENDER_MALE,
        "selfSignature": "My personal signature",
        "allowType": TYPES.ALLOW_TYPE_ALLOW_ANY,
    }).result(T)
    want = (ME, "My profile", "http(s)://url/to/image.jpg", TYPES.GENDER_MALE, "My personal signature",
            TYPES.ALLOW_TYPE_ALLOW_ANY)
    ev = events.wait_for_mine("My profile")
    assert (ev.user_id, ev.nick, ev.avatar, ev.gender, ev.self_signature, ev.allow_type) == want
    me = web.get_my_profile().result(T)
    assert (me.user_id, me.nick, me.avatar, me.gender, me.self_signature, me.allow_type) == want


# Web SDK updateMyProfile: every option of the documented options table
def test_web_update_my_profile_every_option(web):
    events = ProfileEvents(web)
    web.update_my_profile({
        "nick": "Every option",
        "avatar": "https://example.com/avatar.png",
        "gender": TYPES.GENDER_FEMALE,
        "selfSignature": "signed",
        "allowType": TYPES.ALLOW_TYPE_NEED_CONFIRM,
        "birthday": 20000101,
        "location": "1.2.3.4",
        "language": 2,
        "messageSettings": 1,
        "adminForbidType": TYPES.FORBID_TYPE_NONE,
        "level": 7,
        "role": 9,
    }).result(T)

    def fields(p):
        return (p.user_id, p.nick, p.avatar, p.gender, p.self_signature, p.allow_type, p.birthday,
                p.location, p.language, p.message_settings, p.admin_forbid_type, p.level, p.role)

    want = (ME, "Every option", "https://example.com/avatar.png", TYPES.GENDER_FEMALE, "signed",
            TYPES.ALLOW_TYPE_NEED_CONFIRM, 20000101, "1.2.3.4", 2, 1, TYPES.FORBID_TYPE_NONE, 7, 9)
    assert fields(events.wait_for_mine("Every option")) == want
    assert fields(web.get_my_profile().result(T)) == want


# Web SDK updateMyProfile: one custom field, Tag_Profile_Custom_Test1
def test_web_update_my_profile_one_custom_field(web):
    web.update_my_profile({"nick": "before"}).result(T)
    events = ProfileEvents(web)
    web.update_my_profile({
        "profileCustomField": [{"key": "Tag_Profile_Custom_Test1", "value": "My custom profile 1"}],
    }).result(T)
    want = (CustomField("Tag_Profile_Custom_Test1", "My custom profile 1"),)
    ev = events.wait_for_mine("before")
    assert ev.profile_custom_field == want
    me = web.get_my_profile().result(T)
    assert me.profile_custom_field == want
    assert me.custom("Tag_Profile_Custom_Test1") == "My custom profile 1"
    assert me.nick == "before"  # fields not given are left as they were


# Web SDK updateMyProfile: a standard field and two custom fields, Tag_Profile_Custom_Test1 and Test2
def test_web_update_my_profile_standard_and_two_custom_fields(web):
    events = ProfileEvents(web)
    web.update_my_profile({
        "nick": "My profile",
        "profileCustomField": [
            {"key": "Tag_Profile_Custom_Test1", "value": "My custom profile 1"},
            {"key": "Tag_Profile_Custom_Test2", "value": "My custom profile 2"},
        ],
    }).result(T)
    want = {"Tag_Profile_Custom_Test1": "My custom profile 1",
            "Tag_Profile_Custom_Test2": "My custom profile 2"}
    ev = events.wait_for_mine("My profile")
    assert {f.key: f.value for f in ev.profile_custom_field} == want
    me = web.get_my_profile().result(T)
    assert me.nick == "My profile"
    assert len(me.profile_custom_field) == 2
    assert {f.key: f.value for f in me.profile_custom_field} == want
    assert all(f.key.startswith("Tag_Profile_Custom_") for f in me.profile_custom_field)


# Web SDK updateMyProfile: the promise resolves to the user's new profile (IMResponse.data)
def test_web_update_my_profile_resolves_to_new_profile(web):
    data = web.update_my_profile({
        "nick": "My profile",
        "gender": TYPES.GENDER_MALE,
        "profileCustomField": [{"key": "Tag_Profile_Custom_Test1", "value": "My custom profile 1"}],
    }).result(T)
    assert isinstance(data, Profile), f"updateMyProfile resolved to {data!r}, not the new profile"
    assert (data.user_id, data.nick, data.gender) == (ME, "My profile", TYPES.GENDER_MALE)
    assert data.custom("Tag_Profile_Custom_Test1") == "My custom profile 1"
