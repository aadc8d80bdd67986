"""Typed values: enums with the C values, result objects, Web SDK names.

``Profile`` and ``UserStatus`` are immutable named tuples, built from the C
library's JSON by precomputed key maps (``tuple.__new__``: no Python
``__init__`` per result; a profile's keys come from the table of fields,
``tim_py.fields``, which must list ``Profile``'s fields in its order);
``TYPES`` and ``EVENT`` mirror the Web SDK's ``TIM.TYPES`` and ``TIM.EVENT``.
"""
from __future__ import annotations

from enum import IntEnum
from typing import Any, Dict, List, NamedTuple, Tuple

__all__ = [
    "Gender",
    "AllowType",
    "ForbidType",
    "UserStatusType",
    "LoginStatus",
    "CustomField",
    "Profile",
    "UserStatus",
    "Event",
    "TYPES",
    "EVENT",
    "CUSTOM_PREFIX",
    "Options",
]

CUSTOM_PREFIX = "Tag_Profile_Custom_"


class Gender(IntEnum):
    """``TIMGenderType``."""

    UNKNOWN = 0
    MALE = 1
    FEMALE = 2


class AllowType(IntEnum):
    """``TIMProfileAddPermission``: who may add this user as a friend."""

    UNKNOWN = 0
    ALLOW_ANY = 1
    NEED_CONFIRM = 2
    DENY_ANY = 3


class ForbidType(IntEnum):
    """timref's ``user_profile_admin_forbid_type``: 0 none, 1 the admin forbids sending."""

    NONE = 0
    SEND_OUT = 1


class UserStatusType(IntEnum):
    """``TIMUserStatusType`` (the vendor spells the first one "Unkown")."""

    UNKNOWN = 0
    ONLINE = 1
    OFFLINE = 2
    UNLOGINED = 3


class LoginStatus(IntEnum):
    """``TIMLoginStatus``, as ``TIMGetLoginStatus`` reports it."""

    LOGINED = 1
    LOGINING = 2
    UNLOGINED = 3
    LOGOUTING = 4


class TYPES:
    """The Web SDK's ``TIM.TYPES`` names, with the C values."""

    GENDER_UNKNOWN = Gender.UNKNOWN
    GENDER_MALE = Gender.MALE
    GENDER_FEMALE = Gender.FEMALE
    ALLOW_TYPE_ALLOW_ANY = AllowType.ALLOW_ANY
    ALLOW_TYPE_NEED_CONFIRM = AllowType.NEED_CONFIRM
    ALLOW_TYPE_DENY_ANY = AllowType.DENY_ANY
    FORBID_TYPE_NONE = ForbidType.NONE
    FORBID_TYPE_SEND_OUT = ForbidType.SEND_OUT
    USER_STATUS_UNKNOWN = UserStatusType.UNKNOWN
    USER_STATUS_ONLINE = UserStatusType.ONLINE
    USER_STATUS_OFFLINE = UserStatusType.OFFLINE
    USER_STATUS_UNLOGINED = UserStatusType.UNLOGINED
    # The Web SDK's names for the message-receive option.
    MSG_REMIND_ACPT_AND_NOTE = 0
    MSG_REMIND_DISCARD = 1
    # Why EVENT.KICKED_OUT came (its data["type"]), with the Web SDK's string values.
    KICKED_OUT_MULT_ACCOUNT = "multipleAccount"
    KICKED_OUT_MULT_DEVICE = "multipleDevice"
    KICKED_OUT_USERSIG_EXPIRED = "userSigExpired"
    KICKED_OUT_REST_API = "REST_API_Kick"


class EVENT:
    """The Web SDK's ``TIM.EVENT`` names used here."""

    PROFILE_UPDATED = "onProfileUpdated"
    USER_STATUS_UPDATED = "onUserStatusUpdated"
    KICKED_OUT = "kickedOut"


EVENT_NAMES = frozenset((EVENT.PROFILE_UPDATED, EVENT.USER_STATUS_UPDATED, EVENT.KICKED_OUT))

#: A Web SDK options object, passed as it is: ``{"userIDList": [...]}``,
#: ``{"nick": ..., "selfSignature": ...}``, ``{"customStatus": ...}``.
Options = Dict[str, Any]


class CustomField(NamedTuple):
    """One custom profile field; ``key`` as the library returns it (with its prefix)."""

    key: str
    value: str


class Profile(NamedTuple):
    """A user profile (Web SDK field names, in snake_case).

    An immutable named tuple: read fields by name, derive a changed copy with
    ``profile._replace(nick="...")``.  Its fields are the rows of
    ``tim_py.fields.FIELDS``, in the same order (checked at import).
    """

    user_id: str
    nick: str
    avatar: str
    gender: Gender
    self_signature: str
    allow_type: AllowType
    birthday: int
    location: str
    language: int
    message_settings: int
    admin_forbid_type: ForbidType
    level: int
    role: int
    profile_custom_field: Tuple[CustomField, ...]
    last_updated_time: int

    def custom(self, key: str, default: Any = None) -> Any:
        """The value of custom field ``key`` (with or without the prefix), or ``default``."""
        if not key.startswith(CUSTOM_PREFIX):
            key = CUSTOM_PREFIX + key
        for f in self.profile_custom_field:
            if f.key == key:
                return f.value
        return default


class UserStatus(NamedTuple):
    """A user's status (an immutable named tuple)."""

    user_id: str
    status_type: UserStatusType
    custom_status: str
    online_devices: Tuple[str, ...]


class Event(NamedTuple):
    """An event as the Web SDK delivers it: ``name`` (an ``EVENT`` value) and ``data``.

    ``data`` is a list of ``Profile`` for ``EVENT.PROFILE_UPDATED``, a list of
    ``UserStatus`` for ``EVENT.USER_STATUS_UPDATED``, and for ``EVENT.KICKED_OUT`` a
    dict ``{"type": TYPES.KICKED_OUT_REST_API}`` (the session has ended when it comes).
    """

    name: str
    data: Any


# ---------------------------------------------------------------------------
# Decoding the C JSON of a status (a profile's: tim_py.fields, from its table)
# ---------------------------------------------------------------------------

_STATUS_BY_VALUE = {int(m): m for m in UserStatusType}

_EMPTY: Tuple[Any, ...] = ()


_new = tuple.__new__


def status_from_json(d: Dict[str, Any]) -> UserStatus:
    g = d.get
    st = g("user_status_status_type", 0)
    devices = g("user_status_online_devices")
    return _new(UserStatus, (
        g("user_status_identifier", ""),
        _STATUS_BY_VALUE.get(st, st),
        g("user_status_custom_status", ""),
        tuple(devices) if devices else _EMPTY,
    ))


def statuses_from_json(data: Any) -> List[UserStatus]:
    if data is None:
        return []
    if isinstance(data, dict):
        return [status_from_json(data)]
    return [status_from_json(d) for d in data]
