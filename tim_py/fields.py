"""The one table of profile fields, and the decoder of profiles derived from it.

Every row of ``FIELDS`` says all there is to say about one field of ``Profile``:
its names (ours, the Web SDK's), its keys (the C interface's UserProfileItem key
to change it, its UserProfile key in results, the REST tag of the admin
surface), its kind and range (with the enum and the Web SDK's strings for an
enum), and its ``tim-py profile set`` option.  Everything else is derived:

* ``tim_py._core``: the argument checks and the C JSON of ``update_my_profile``
  (``PROFILE_FIELDS``, ``PROFILE_FIELD_NAMES``, ``profile_items``);
* here: ``profile_from_json``, from precomputed tuples of keys and converters;
* ``tim_py.admin``: ``FIELD_TAGS`` and the enum strings of ``get_portrait``;
* ``tim_py.cli``: the ``profile set`` options, the rendering of profiles and the
  fields of ``user import`` rows (aliases included).

Adding a field is one row here and its typed line in ``tim_py.types.Profile``
(a type checker needs that class written out); the two must list the same
fields in the same order, which is checked at import.
"""
from __future__ import annotations

from enum import IntEnum
from operator import itemgetter
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple, Type

import orjson

from . import _decode
from .types import AllowType, CustomField, ForbidType, Gender, Profile

__all__ = ["Field", "FIELDS", "BY_NAME", "STRING", "UINT32", "ENUM", "CUSTOM", "UINT32_MAX",
           "profile_from_json", "profiles_from_json"]

UINT32_MAX = 0xFFFFFFFF

# Kinds of field (what a value is; how it is checked, decoded and typed in)
STRING = "string"  # str
UINT32 = "uint32"  # int, 0..hi
ENUM = "enum"  # an IntEnum: the member, its int value, or the Web SDK's string
CUSTOM = "custom"  # the custom fields: a list of {"key", "value"}

#: The C keys of one custom field, in ``user_profile_custom_string_array`` (read) and
#: ``user_profile_item_custom_string_array`` (write).
CUSTOM_KEY = "user_profile_custom_string_info_key"
CUSTOM_VALUE = "user_profile_custom_string_info_value"


class Field(NamedTuple):
    """One profile field (a row of ``FIELDS``)."""

    name: str  # ours, snake_case: the Profile attribute
    web: str  # the Web SDK's name (camelCase), accepted wherever fields are given
    kind: str  # STRING, UINT32, ENUM or CUSTOM
    key: str  # the C UserProfile key, in results (user_profile_...)
    item: Optional[str] = None  # the C UserProfileItem key that changes it; None: read-only
    tag: Optional[str] = None  # the admin surface's REST tag (Tag_Profile_IM_...), when it has one
    enum: Optional[Type[IntEnum]] = None  # ENUM: the class
    values: Mapping[str, IntEnum] = {}  # ENUM: the Web SDK's strings -> members
    hi: int = UINT32_MAX  # UINT32: values are 0..hi
    flag: Optional[str] = None  # its `tim-py profile set` option (None: none)
    metavar: Optional[str] = None  # ... the option's metavar (None: argparse's)
    help: Optional[str] = None  # ... the option's help; "{range}" stands for "0 to <hi>"
    aliases: Tuple[str, ...] = ()  # other names a `tim-py user import` row may use


#: The profile fields, in the order of ``Profile``'s.
FIELDS: Tuple[Field, ...] = (
    Field("user_id", "userID", STRING, "user_profile_identifier"),
    Field("nick", "nick", STRING, "user_profile_nick_name", "user_profile_item_nick_name",
          "Tag_Profile_IM_Nick", flag="--nick"),
    Field("avatar", "avatar", STRING, "user_profile_face_url", "user_profile_item_face_url",
          "Tag_Profile_IM_Image", flag="--avatar", metavar="URL", aliases=("face_url",)),
    Field("gender", "gender", ENUM, "user_profile_gender", "user_profile_item_gender",
          "Tag_Profile_IM_Gender", enum=Gender,
          values={"Gender_Type_Unknown": Gender.UNKNOWN, "Gender_Type_Male": Gender.MALE,
                  "Gender_Type_Female": Gender.FEMALE},
          flag="--gender", help="male|female|unknown"),
    Field("self_signature", "selfSignature", STRING, "user_profile_self_signature",
          "user_profile_item_self_signature", "Tag_Profile_IM_SelfSignature",
          flag="--signature", metavar="TEXT", aliases=("signature",)),
    Field("allow_type", "allowType", ENUM, "user_profile_add_permission", "user_profile_item_add_permission",
          "Tag_Profile_IM_AllowType", enum=AllowType,
          values={"AllowType_Type_Unknown": AllowType.UNKNOWN, "AllowType_Type_AllowAny": AllowType.ALLOW_ANY,
                  "AllowType_Type_NeedConfirm": AllowType.NEED_CONFIRM,
                  "AllowType_Type_DenyAny": AllowType.DENY_ANY},
          flag="--allow-type", help="allow_any|need_confirm|deny_any"),
    Field("birthday", "birthday", UINT32, "user_profile_birthday", "user_profile_item_birthday",
          "Tag_Profile_IM_BirthDay", flag="--birthday", metavar="N", help="e.g. 19900101 ({range})"),
    Field("location", "location", STRING, "user_profile_location", "user_profile_item_location",
          "Tag_Profile_IM_Location", flag="--location"),
    Field("language", "language", UINT32, "user_profile_language", "user_profile_item_language",
          "Tag_Profile_IM_Language", flag="--language", metavar="N", help="{range}"),
    Field("message_settings", "messageSettings", UINT32, "user_profile_message_settings",
          "user_profile_item_message_settings", "Tag_Profile_IM_MsgSettings", hi=1,
          flag="--message-settings", metavar="0|1", help="0 receive, 1 do not receive"),
    Field("admin_forbid_type", "adminForbidType", ENUM, "user_profile_admin_forbid_type",
          "user_profile_item_admin_forbid_type", "Tag_Profile_IM_AdminForbidType", enum=ForbidType,
          values={"AdminForbid_Type_None": ForbidType.NONE, "AdminForbid_Type_SendOut": ForbidType.SEND_OUT},
          flag="--forbid-type", help="none|send_out", aliases=("forbid_type",)),
    Field("level", "level", UINT32, "user_profile_level", "user_profile_item_level",
          "Tag_Profile_IM_Level", flag="--level", metavar="N", help="{range}"),
    Field("role", "role", UINT32, "user_profile_role", "user_profile_item_role",
          "Tag_Profile_IM_Role", flag="--role", metavar="N", help="{range}"),
    # custom fields: each is its own REST tag, Tag_Profile_Custom_<key> (types.CUSTOM_PREFIX)
    Field("profile_custom_field", "profileCustomField", CUSTOM, "user_profile_custom_string_array",
          "user_profile_item_custom_string_array", flag="--custom", metavar="KEY=VALUE",
          help="a custom field (repeat for more; KEY= removes it)"),
    Field("last_updated_time", "lastUpdatedTime", UINT32, "user_profile_last_updated_time"),
)

#: our name -> Field
BY_NAME: Dict[str, Field] = {f.name: f for f in FIELDS}

if tuple(BY_NAME) != Profile._fields:  # pragma: no cover - a row added here but not to Profile
    raise RuntimeError(f"tim_py.fields.FIELDS {tuple(BY_NAME)} and tim_py.types.Profile {Profile._fields} "
                      "must list the same fields in the same order")


# ---------------------------------------------------------------------------
# Decoding the C JSON (precomputed at import; per profile, one C-level lookup of
# every key, then the enums and the custom fields)
# ---------------------------------------------------------------------------

_new = tuple.__new__
_EMPTY: Tuple[Any, ...] = ()
_KEYS = tuple(f.key for f in FIELDS)
_DEFAULTS = tuple(None if f.kind == CUSTOM else "" if f.kind == STRING else 0 for f in FIELDS)
_ALL_KEYS = itemgetter(*_KEYS)  # timref's profiles have every key: KeyError only from another library
#: (position, {int value: member}) of each enum field
_ENUMS: Tuple[Tuple[int, Dict[Any, Any]], ...] = tuple(
    (i, {int(m): m for m in f.enum}) for i, f in enumerate(FIELDS) if f.enum is not None)
[_CUSTOM_AT] = [i for i, f in enumerate(FIELDS) if f.kind == CUSTOM]


def _slow_profile(d: Dict[str, Any]) -> Profile:
    """A profile without every key (only from another library): the missing ones get their
    field's zero value."""
    v = list(map(d.get, _KEYS, _DEFAULTS))
    for i, by_value in _ENUMS:
        x = v[i]
        v[i] = by_value.get(x, x)
    v[_CUSTOM_AT] = _customs(v[_CUSTOM_AT])
    return _new(Profile, v)


def _customs(custom: Any) -> Tuple[CustomField, ...]:
    return tuple(
        _new(CustomField, (c.get(CUSTOM_KEY, ""), c.get(CUSTOM_VALUE, ""))) for c in custom
    ) if custom else _EMPTY


def _make_decoders() -> Any:
    """``profile_from_json`` and ``profiles_from_json``, written out from FIELDS: a profile's
    values are unpacked into locals and its tuple built in one expression (no list, no
    per-field Python loop).  Generated, so that the table stays the one place that says
    which field is where and what it decodes to."""
    names = [f"v{i}" for i in range(len(FIELDS))]
    items = []
    for i, f in enumerate(FIELDS):
        if f.enum is not None:
            items.append(f"_e{i}({names[i]}, {names[i]})")
        elif f.kind == CUSTOM:
            items.append(f"(_customs({names[i]}) if {names[i]} else _EMPTY)")
        else:
            items.append(names[i])
    src = (
        "def profile_from_json(d):\n"
        "    try:\n"
        f"        {', '.join(names)}, = _ALL_KEYS(d)\n"
        "    except KeyError:\n"
        "        return _slow_profile(d)\n"
        f"    return _new(Profile, ({', '.join(items)},))\n"
        "\n"
        "def profiles_from_json(data):\n"
        "    if type(data) is list:\n"
        "        return [profile_from_json(d) for d in data]\n"
        "    if data is None:\n"
        "        return []\n"
        "    if isinstance(data, dict):  # one profile (TIMSelfInfoUpdatedCallback)\n"
        "        return [profile_from_json(data)]\n"
        "    return [profile_from_json(d) for d in data]\n"
    )
    env: Dict[str, Any] = {"_ALL_KEYS": _ALL_KEYS, "_slow_profile": _slow_profile, "_new": _new,
                           "Profile": Profile, "_customs": _customs, "_EMPTY": _EMPTY}
    for i, by_value in _ENUMS:
        env[f"_e{i}"] = by_value.get
    exec(compile(src, "<tim_py.fields decoders>", "exec"), env)
    return env["profile_from_json"], env["profiles_from_json"]


#: A C UserProfile object -> Profile (a missing key: the field's zero value; an enum value the
#: enum does not know: the plain int).
profile_from_json: Callable[[Dict[str, Any]], Profile]
#: A C UserProfile array (or one object, or None) -> a list of Profile.
profiles_from_json: Callable[[Any], List[Profile]]
profile_from_json, profiles_from_json = _make_decoders()

# The answer's text straight to Profile tuples (tim_py._decode, in C), told the fields once.
_decode.configure(
    tuple(k.encode() for k in _KEYS),
    tuple(1 if f.enum is not None else 2 if f.kind == CUSTOM else 0 for f in FIELDS),
    tuple(dict(_ENUMS)[i] if f.enum is not None else None for i, f in enumerate(FIELDS)),
    Profile, CustomField, CUSTOM_KEY.encode(), CUSTOM_VALUE.encode())
_fast_profiles = _decode.profiles
_loads = orjson.loads


def profiles_from_text(text: bytes) -> List[Profile]:
    """A profile answer's JSON text -> a list of Profile: what ``profiles_from_json(orjson.loads(
    text))`` gives (or raises), decoded in C without the generic objects when the text has the
    common shape (tim_py._decode says which), else that way.  ``b""`` -> []."""
    if text:
        got = _fast_profiles(text)
        if got is not None:
            return got
        return profiles_from_json(_loads(text))
    return []
