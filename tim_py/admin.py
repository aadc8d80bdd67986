"""The admin surface (timref only): what the vendor's server does through its REST API.

``client.admin.request(api, body)`` sends any request and returns the decoded
answer (``{"ActionStatus", "ErrorCode", "ErrorInfo", ...}``); a non-zero
``ErrorCode`` raises ``TIMError`` with the answer attached (``err.answer``).
The friendlier methods beside it build the bodies and shape the answers.
Like every other method they return a future (``TIM``) or an awaitable
(``AsyncTIM``).  They need an initialized client, not a login.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from ._core import (
    PROFILE_FIELD_NAMES,
    PROFILE_FIELDS,
    check_c_str,
    check_custom_fields,
    check_enum,
    check_id_list,
    check_str,
    dumps,
    type_name,
)
from ._ffi import lib
from .errors import UnsupportedError
from .fields import CUSTOM_KEY, CUSTOM_VALUE, FIELDS
from .types import CUSTOM_PREFIX, UserStatusType

__all__ = ["Admin", "FIELD_TAGS"]

#: Profile field name -> REST profile tag (the Web SDK's camelCase names are
#: accepted too, through PROFILE_FIELD_NAMES); from tim_py.fields.FIELDS
FIELD_TAGS: Dict[str, str] = {f.name: f.tag for f in FIELDS if f.tag is not None}
#: Enum field name -> {the REST string (the Web SDK's): enum member}
_ENUM_FROM_REST: Dict[str, Mapping[str, Any]] = {f.name: f.values for f in FIELDS if f.values}


def _answer(data: Any) -> Any:
    return data


def _none(data: Any) -> None:
    return None


def _fail_accounts(data: Any) -> List[str]:
    return list((data or {}).get("FailAccounts", []))


def _delete_results(data: Any) -> Dict[str, int]:
    return {r.get("UserID", ""): r.get("ResultCode", 0) for r in (data or {}).get("ResultItem", [])}


def _online(data: Any) -> Dict[str, str]:
    return {r.get("To_Account", ""): r.get("Status", "") for r in (data or {}).get("QueryResult", [])}


class Admin:
    """``client.admin``: timref's admin surface (``TIMRefAdminRequest``)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def _send(self, api: str, body: Dict[str, Any], decode: Any) -> Any:
        if not lib.tp_has_admin():
            raise UnsupportedError(
                "the admin surface (TIMRefAdminRequest) is timref-only; the loaded library "
                f"{self._client.library!r} does not have it"
            )
        return self._client._call(lib.tp_TIMRefAdminRequest,
                                  (check_c_str("api", api), dumps("body", body)),
                                  decode, "TIMRefAdminRequest")

    def request(self, api: str, body: Dict[str, Any]) -> Any:
        """Send ``body`` to ``api`` (e.g. "v4/profile/portrait_get"); resolves to the decoded answer."""
        check_str("api", api)
        if not isinstance(body, dict):
            raise TypeError(f"body must be a dict, got {type_name(body)}")
        return self._send(api, body, _answer)

    # ---- accounts -------------------------------------------------------------

    def import_account(self, user_id: str, nick: Optional[str] = None, avatar: Optional[str] = None) -> Any:
        """Create ``user_id`` (and set its nick and avatar when given)."""
        body: Dict[str, Any] = {"UserID": check_str("user_id", user_id)}
        if nick is not None:
            body["Nick"] = check_str("nick", nick)
        if avatar is not None:
            body["FaceUrl"] = check_str("avatar", avatar)
        return self._send("v4/im_open_login_svc/account_import", body, _none)

    def import_accounts(self, user_ids: Sequence[str]) -> Any:
        """Create several accounts; resolves to the list of IDs that could not be imported."""
        ids = check_id_list("user_ids", user_ids)
        return self._send("v4/im_open_login_svc/multiaccount_import", {"Accounts": ids}, _fail_accounts)

    def delete_accounts(self, user_ids: Sequence[str]) -> Any:
        """Delete accounts; resolves to {user_id: ResultCode} (0 deleted, 70107 no such account:
        errors.REST_ERR_NO_ACCOUNT)."""
        ids = check_id_list("user_ids", user_ids)
        return self._send("v4/im_open_login_svc/account_delete",
                          {"DeleteItem": [{"UserID": i} for i in ids]}, _delete_results)

    # ---- profiles ---------------------------------------------------------------

    def get_portrait(self, user_ids: Sequence[str], tags: Sequence[str]) -> Any:
        """Read profile tags of users; resolves to {user_id: {tag: value}} for existing accounts.

        ``tags`` holds REST tags ("Tag_Profile_IM_Nick", "Tag_Profile_Custom_Hobby") or profile
        field names ("nick", "gender", "selfSignature"); the answer uses the names asked.  Enum fields asked by
        field name come back as enums (Gender...), by tag as the REST strings.
        """
        ids = check_id_list("user_ids", user_ids)
        names = check_id_list("tags", tags)
        ours = [PROFILE_FIELD_NAMES.get(n, n) for n in names]
        rest = [FIELD_TAGS.get(n, n) for n in ours]
        back: Dict[str, List[Tuple[str, str]]] = {}  # tag -> [(name asked, our name)]
        for tag, n, o in zip(rest, names, ours):
            back.setdefault(tag, []).append((n, o))

        def decode(data: Any) -> Dict[str, Dict[str, Any]]:
            out: Dict[str, Dict[str, Any]] = {}
            for user in (data or {}).get("UserProfileItem", []):
                if user.get("ResultCode", 0) != 0:
                    continue
                values: Dict[str, Any] = {}
                for item in user.get("ProfileItem", []):
                    tag = item.get("Tag")
                    for name, our in back.get(tag, ((tag, tag),)):
                        value = item.get("Value")
                        members = _ENUM_FROM_REST.get(our)
                        if members is not None and isinstance(value, str) and value in members:
                            value = members[value]
                        values[name] = value
                out[user.get("To_Account", "")] = values
            return out

        return self._send("v4/profile/portrait_get", {"To_Account": ids, "TagList": rest}, decode)

    def set_portrait(self, user_id: str, tags: Optional[Dict[str, Any]] = None, **fields: Any) -> Any:
        """Set profile fields of ``user_id`` as its server would, all or nothing.

        Give profile fields as keyword arguments (``nick="Bob", gender=TYPES.GENDER_MALE,
        profile_custom_field=[{"key": "Hobby", "value": "chess"}]``) and/or raw REST tags in
        ``tags`` (``{"Tag_Profile_IM_Nick": "Bob"}``); a field may also be named the Web SDK's
        way (``selfSignature=...``).  Subscribers are notified.
        """
        check_str("user_id", user_id)
        items: List[Dict[str, Any]] = []
        if tags is not None:
            if not isinstance(tags, dict):
                raise TypeError(f"tags must be a dict of tag -> value, got {type_name(tags)}")
            for tag, value in tags.items():
                check_str("tags key", tag)
                items.append({"Tag": tag, "Value": value})
        for name, value in fields.items():
            our = PROFILE_FIELD_NAMES.get(name)
            if our == "profile_custom_field":
                for entry in check_custom_fields(name, value):
                    key = entry[CUSTOM_KEY]
                    if not key.startswith(CUSTOM_PREFIX):
                        key = CUSTOM_PREFIX + key
                    items.append({"Tag": key, "Value": entry[CUSTOM_VALUE]})
                continue
            field_tag = FIELD_TAGS.get(our) if our is not None else None
            if our is None or field_tag is None:
                raise TypeError(
                    f"set_portrait() got an unexpected field {name!r}; fields are {', '.join(PROFILE_FIELDS)}"
                )
            items.append({"Tag": field_tag, "Value": PROFILE_FIELDS[our].check(name, value)})
        if not items:
            raise ValueError("set_portrait() needs at least one field or tag")
        return self._send("v4/profile/portrait_set", {"From_Account": user_id, "ProfileItem": items}, _none)

    # ---- presence --------------------------------------------------------------------

    def query_online_status(self, user_ids: Sequence[str]) -> Any:
        """Resolves to {user_id: "Online" | "Offline"} for the existing accounts."""
        ids = check_id_list("user_ids", user_ids)
        return self._send("v4/openim/query_online_status", {"To_Account": ids}, _online)

    def set_user_status(self, user_id: str, status_type: Any, custom_status: Optional[str] = None) -> Any:
        """Make ``user_id`` Online (1), Offline (2) or UnLogined (3), as if a client of theirs did it."""
        check_str("user_id", user_id)
        st = check_enum("status_type", status_type, _STATUS_NAMES, UserStatusType)
        if st == UserStatusType.UNKNOWN:
            raise ValueError("status_type must be ONLINE, OFFLINE or UNLOGINED, got UNKNOWN")
        body: Dict[str, Any] = {"UserID": user_id, "StatusType": st}
        if custom_status is not None:
            body["CustomStatus"] = check_str("custom_status", custom_status)
        return self._send("ref/set_user_status", body, _none)


_STATUS_NAMES = {
    "Online": UserStatusType.ONLINE,
    "Offline": UserStatusType.OFFLINE,
    "UnLogined": UserStatusType.UNLOGINED,
}
