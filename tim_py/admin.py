"""The admin surface (timref only): what the vendor's server does through its REST API.

``client.admin.request(api, body)`` sends any request and returns the decoded
answer (``{"ActionStatus", "ErrorCode", "ErrorInfo", ...}``); a non-zero
``ErrorCode`` raises ``TIMError`` with the answer attached (``err.answer``).
The friendlier methods beside it build the bodies and shape the answers.
Like every other method they return a future (``TIM``) or an awaitable
(``AsyncTIM``).  They need an initialized client, not a login.

Beyond the vendor's commands, timref's own (``ref/...``) see the whole world:
``list_accounts`` pages through the account IDs, ``events`` reads the tail of the
change log, and ``world_export`` / ``world_import`` / ``world_reset`` take and
restore snapshots of the world (docs/snapshots.md; ``tim_py.snapshot`` writes
and reads them as files).

The vendor limits how many accounts one request may carry (100 for
multiaccount_import, account_delete, account_check and portrait_get, 500 for
query_online_status); ``request`` sends what it is given, and the library
answers a body beyond the limit with the vendor's code.  The friendly methods
take any number: more than a request's limit go as several requests, queued
together in order, whose answers are merged into one result.  Each request is
judged on its own: when one fails (the first failure in order raises), the
others have still been made.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

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
from ._bridge import GONE, RAW
from ._ffi import lib
from .errors import REST_ERR_NO_ACCOUNT, TIMError, UnsupportedError, error_for_return
from .fields import CUSTOM_KEY, CUSTOM_VALUE, FIELDS
from .types import CUSTOM_PREFIX, UserStatusType

__all__ = ["Admin", "FIELD_TAGS", "AccountPage", "WorldEvent", "EventPage"]

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


def _online_detail(data: Any) -> Dict[str, Dict[str, Any]]:
    return {r.get("To_Account", ""): r for r in (data or {}).get("QueryResult", [])}


def _checked(data: Any) -> Dict[str, bool]:
    return {r.get("UserID", ""): r.get("AccountStatus") == "Imported" for r in (data or {}).get("ResultItem", [])}


class AccountPage(NamedTuple):
    """One page of ``list_accounts``."""

    #: account IDs in byte order (upper case before lower case)
    user_ids: List[str]
    #: how many accounts match, in all pages
    total: int
    #: the ``after`` of the next page; None on the last page
    next: Optional[str]


class WorldEvent(NamedTuple):
    """One change event of the world (``events``)."""

    #: its sequence number: consecutive, increasing
    seq: int
    #: "profile", "presence" (login, logout, a session's end), "status" (custom status, or
    #: the admin's set_user_status) or "kick"
    type: str
    user_id: str
    #: who made it: "admin", "reaper" (a dead process's session ended) or a session's token;
    #: None when the store recorded none
    origin: Optional[str]
    #: the state the change left: the profile (user_profile_* keys) for "profile", the status
    #: (user_status_* keys) for "presence" and "status", {"tokens": [...]} for "kick"; None
    #: when the account no longer exists
    data: Optional[Dict[str, Any]]


class EventPage(NamedTuple):
    """What ``events`` returns."""

    events: List[WorldEvent]
    #: pass it as ``after`` to read what comes next
    last: int
    #: events after ``after`` were pruned before they could be read (the store keeps at
    #: least the last 10,000): this page does not follow on without a hole
    gap: bool


def _account_page(data: Any) -> AccountPage:
    return AccountPage(list(data.get("UserIDs", [])), int(data.get("Total", 0)), data.get("Next"))


def _event_page(data: Any) -> EventPage:
    return EventPage([WorldEvent(e["Seq"], e["Type"], e["UserID"], e.get("Origin"), e.get("Data"))
                      for e in data.get("Events", [])], int(data.get("Last", 0)), bool(data.get("Gap", False)))


def _snapshot(data: Any) -> Dict[str, Any]:
    snap: Dict[str, Any] = data["Snapshot"]
    return snap


def _accounts(data: Any) -> int:
    return int(data["Accounts"])


def _opt_str(name: str, value: Any) -> Optional[str]:
    return None if value is None else check_str(name, value)


def _count(name: str, value: Any) -> int:
    """An int the library judges (its range is the library's rule)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type_name(value)}")
    return value


#: Accounts per request: the vendor's limits (the library refuses more).
MAX_ACCOUNTS = 100       # multiaccount_import, account_delete, account_check, portrait_get
MAX_QUERY_ACCOUNTS = 500  # query_online_status


def _parts(ids: List[str], size: int) -> List[List[str]]:
    """``ids`` in lists of at most ``size`` (one empty list for none: the library judges it)."""
    return [ids[i:i + size] for i in range(0, len(ids), size)] or [ids]


def _merge_lists(parts: List[Any]) -> List[Any]:
    return [x for p in parts for x in p]


def _merge_dicts(parts: List[Any]) -> Dict[Any, Any]:
    out: Dict[Any, Any] = {}
    for p in parts:
        out.update(p)
    return out


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

    def _batches(self, api: str, bodies: List[Dict[str, Any]], decode: Callable[[Any], Any],
                 merge: Callable[[List[Any]], Any],
                 tolerate: Optional[Callable[[TIMError], bool]] = None) -> Any:
        """Send every body now (the library runs them in order) and resolve one future to
        ``merge([decode(answer) ...])``.  The first failure in order raises instead, unless
        ``tolerate(error)`` says its answer is to be decoded as a success."""
        if len(bodies) == 1 and tolerate is None:
            return self._send(api, bodies[0], lambda data: merge([decode(data)]))
        parts = [self._send(api, b, _answer) for b in bodies]
        outer = self._client._new_future()
        lock = threading.Lock()
        left = [len(parts)]

        def finish() -> None:
            try:
                values = []
                for p in parts:
                    if p.cancelled():
                        outer.cancel()
                        return
                    e = p.exception()
                    if e is None:
                        values.append(decode(p.result()))
                    elif tolerate is not None and isinstance(e, TIMError) and tolerate(e):
                        values.append(decode(e.answer))
                    else:
                        outer.set_exception(e)
                        return
                outer.set_result(merge(values))
            except GONE:  # the caller cancelled the outer future, or its loop closed
                pass
            except Exception as e:  # an answer we cannot read: say so
                try:
                    outer.set_exception(e)
                except GONE:
                    pass

        def done(_: Any) -> None:
            with lock:
                left[0] -= 1
                last = left[0] == 0
            if last:
                finish()

        for p in parts:
            p.add_done_callback(done)
        return outer

    def request(self, api: str, body: Dict[str, Any]) -> Any:
        """Send ``body`` to ``api`` (e.g. "v4/profile/portrait_get"); resolves to the decoded answer."""
        check_str("api", api)
        if not isinstance(body, dict):
            raise TypeError(f"body must be a dict, got {type_name(body)}")
        return self._send(api, body, _answer)

    def request_raw(self, api: str, body: bytes) -> Any:
        """Send ``body``, JSON text as bytes, to ``api`` as it is; resolves to the answer's JSON
        text as the library wrote it (bytes), undecoded.

        Python neither parses nor re-encodes either side: the library's one set of JSON
        rules judges the body (nesting, duplicated keys, UTF-8, ``\\u0000``; a NUL byte, which a
        C string cannot carry, is refused here the same way).  A body the library refuses
        outright raises ``InvalidParameterError`` at the call (``TIM_ERR_PARAM`` -4 for an
        empty one, ``TIM_ERR_JSON`` -3 otherwise, with the library's reason); a non-zero
        ``ErrorCode`` raises ``TIMError`` with the decoded answer in ``json`` and its text in
        ``raw``.  ``tim-py serve`` sends HTTP bodies through this.
        """
        api_c = check_c_str("api", api)
        if not isinstance(body, (bytes, bytearray, memoryview)):
            raise TypeError(f"body must be bytes (JSON text), got {type_name(body)}")
        data = bytes(body)
        nul = data.find(b"\0")
        if nul >= 0:  # a C string cannot carry it: refused as the library refuses bad JSON
            raise error_for_return(lib.TIM_ERR_JSON, "TIMRefAdminRequest",
                                   f"not valid JSON: a NUL byte at offset {nul}")
        if not lib.tp_has_admin():
            raise UnsupportedError(
                "the admin surface (TIMRefAdminRequest) is timref-only; the loaded library "
                f"{self._client.library!r} does not have it"
            )
        return self._client._call(lib.tp_TIMRefAdminRequest, (api_c, data), RAW, "TIMRefAdminRequest")

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
        """Create several accounts; resolves to the list of IDs that could not be imported.

        Any number: more than 100 (the vendor's limit per multiaccount_import) are sent as
        requests of 100 each.
        """
        ids = check_id_list("user_ids", user_ids)
        return self._batches("v4/im_open_login_svc/multiaccount_import",
                             [{"Accounts": p} for p in _parts(ids, MAX_ACCOUNTS)], _fail_accounts, _merge_lists)

    def delete_accounts(self, user_ids: Sequence[str]) -> Any:
        """Delete accounts; resolves to {user_id: ResultCode} (0 deleted, 70107 no such account:
        errors.REST_ERR_NO_ACCOUNT).

        Any number: more than 100 (the vendor's limit per account_delete) are sent as requests
        of 100 each; a request with an ID that is not an identifier is refused whole (70402).
        """
        ids = check_id_list("user_ids", user_ids)
        return self._batches("v4/im_open_login_svc/account_delete",
                             [{"DeleteItem": [{"UserID": i} for i in p]} for p in _parts(ids, MAX_ACCOUNTS)],
                             _delete_results, _merge_dicts)

    def check_accounts(self, user_ids: Sequence[str]) -> Any:
        """Which accounts exist (account_check): resolves to {user_id: True if imported}.

        Any number: more than 100 are sent as requests of 100 each.
        """
        ids = check_id_list("user_ids", user_ids)
        return self._batches("v4/im_open_login_svc/account_check",
                             [{"CheckItem": [{"UserID": i} for i in p]} for p in _parts(ids, MAX_ACCOUNTS)],
                             _checked, _merge_dicts)

    def kick(self, user_id: str) -> Any:
        """End every session of ``user_id``, in every process, and invalidate the UserSigs
        issued before now (the vendor's kick).  Each kicked session gets EVENT.KICKED_OUT and
        is logged out; raises AdminError 70107 when the account does not exist."""
        check_str("user_id", user_id)
        return self._send("v4/im_open_login_svc/kick", {"UserID": user_id}, _none)

    def check_usersig(self, user_id: str, user_sig: str) -> Any:
        """Whether ``TIMLogin(user_id, user_sig)`` would accept the UserSig (timref's
        ``ref/check_usersig``): resolves to None, or raises UserSigError (70001 expired or
        issued before a kick, 70002 empty, 70003 malformed, 70013 / 70014 made for another
        user or app)."""
        check_str("user_id", user_id)
        check_str("user_sig", user_sig)
        return self._send("ref/check_usersig", {"UserID": user_id, "UserSig": user_sig}, _none)

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

        return self._batches("v4/profile/portrait_get",
                             [{"To_Account": p, "TagList": rest} for p in _parts(ids, MAX_ACCOUNTS)],
                             decode, _merge_dicts)

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

    def query_online_status(self, user_ids: Sequence[str], detail: bool = False,
                            custom_status: bool = False) -> Any:
        """Resolves to {user_id: "Online" | "Offline"} for the existing accounts.

        With ``detail`` or ``custom_status`` it resolves to {user_id: the answer's QueryResult
        entry} instead, each entry ``{"To_Account", "Status", "Detail"?, "CustomStatus"?}``:
        ``detail`` adds ``"Detail": [{"Platform": device name, "Status": "Online"}]`` for each
        live session (left out for a user without one), ``custom_status`` the user's
        ``"CustomStatus"``.  Any number of IDs: more than 500 (the vendor's limit) are sent as
        requests of 500 each.
        """
        ids = check_id_list("user_ids", user_ids)
        if not isinstance(detail, bool):
            raise TypeError(f"detail must be a bool, got {type_name(detail)}")
        if not isinstance(custom_status, bool):
            raise TypeError(f"custom_status must be a bool, got {type_name(custom_status)}")
        extra: Dict[str, Any] = {}
        if detail:
            extra["IsNeedDetail"] = 1
        if custom_status:
            extra["IsReturnCustomStatus"] = 1
        # A request none of whose accounts exists fails (70107) with its ErrorList: no result.
        return self._batches("v4/openim/query_online_status",
                             [{"To_Account": p, **extra} for p in _parts(ids, MAX_QUERY_ACCOUNTS)],
                             _online_detail if extra else _online, _merge_dicts,
                             tolerate=lambda e: e.code == REST_ERR_NO_ACCOUNT and isinstance(e.answer, dict))

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


    # ---- the world (timref's own) ------------------------------------------------------

    def list_accounts(self, match: Optional[str] = None, after: Optional[str] = None,
                      limit: int = 100) -> Any:
        """One page of the world's account IDs (``ref/account_list``); resolves to an
        ``AccountPage(user_ids, total, next)``.

        IDs come in byte order (``"Bob" < "alice" < "bob"``), at most ``limit`` (1..1000)
        of them, each greater than ``after`` (None: from the first).  ``match`` keeps the IDs
        that contain it, case-sensitively (None or "": all; ``%`` and ``_`` are ordinary
        characters).  ``total`` counts every match; ``next`` is the ``after`` of the next
        page, None on the last.  Paging is by key, so a page costs the same at the end of
        10^5 accounts as at the start::

            page = tim.admin.list_accounts(match="bot").result()
            while page.next is not None:
                page = tim.admin.list_accounts(match="bot", after=page.next).result()

        A bad value (limit out of range, after or match longer than an ID's 32 bytes) raises
        AdminError 70402 naming it.
        """
        body: Dict[str, Any] = {"Limit": _count("limit", limit)}
        m = _opt_str("match", match)
        a = _opt_str("after", after)
        if m is not None:
            body["Match"] = m
        if a is not None:
            body["After"] = a
        return self._send("ref/account_list", body, _account_page)

    def events(self, after: Optional[int] = None, limit: int = 100) -> Any:
        """The tail of the world's change log (``ref/events``); resolves to an
        ``EventPage(events, last, gap)``, its events (``WorldEvent``) oldest first.

        ``after`` None gives the last ``limit`` (1..1000) events; a sequence number gives
        at most ``limit`` events after it.  To follow the log, pass ``last`` as the next
        call's ``after``.  Every process sharing the store writes to the one log, so this
        shows the changes of all of them.
        """
        body: Dict[str, Any] = {"Limit": _count("limit", limit)}
        if after is not None:
            body["After"] = _count("after", after)
        return self._send("ref/events", body, _event_page)

    def world_export(self, include_status: bool = False) -> Any:
        """The world as a snapshot (``ref/world_export``): resolves to the snapshot document,
        a dict ``{"Format": "timref-world", "Version": 1, "SDKAppID", "Accounts": [...]}``
        (docs/snapshots.md gives every key).

        Each account carries its profile (standard and custom fields), profile time and
        custom status; ``include_status`` adds its live status (Online with its devices,
        Offline, UnLogined).  The accounts come sorted by ID and read in one transaction, so
        the same world always gives the same document.  ``tim_py.snapshot.write`` saves it
        to a file atomically.
        """
        if not isinstance(include_status, bool):
            raise TypeError(f"include_status must be a bool, got {type_name(include_status)}")
        return self._send("ref/world_export", {"IncludeStatus": include_status}, _snapshot)

    def world_import(self, snapshot: Union[Dict[str, Any], bytes, bytearray, memoryview]) -> Any:
        """Make the world the snapshot's (``ref/world_import``); resolves to the number of
        accounts it holds.

        ``snapshot`` is the document (a dict, as ``world_export`` and
        ``tim_py.snapshot.read`` give it) or its JSON text as bytes, sent as it is.  The
        library checks every entry first, with the rules of set_portrait: the first bad entry
        (or the second place of a UserID given twice) fails the whole import with its code
        (AdminError, or the profile error of the field) and a message naming it
        (``Snapshot.Accounts[12] (UserID "bob"): Tag_Profile_IM_Gender: 7 is outside 0..2``),
        and nothing changes.  Otherwise, in one transaction: the accounts the snapshot does
        not hold are removed (their live sessions, in every process, are kicked), and each
        of its accounts is written whole.  Live sessions of accounts it holds go on.
        Subscribers are told of every change.  The body may be up to
        ``lib.TIMREF_WORLD_IMPORT_MAX_LEN`` (256 MiB), not the 1 MiB of other requests.
        """
        api = b"ref/world_import"
        if isinstance(snapshot, dict):
            data = dumps("snapshot", {"Snapshot": snapshot})
        elif isinstance(snapshot, (bytes, bytearray, memoryview)):
            data = b'{"Snapshot":' + bytes(snapshot) + b"}"
            nul = data.find(b"\0")
            if nul >= 0:  # a C string cannot carry it: refused as the library refuses bad JSON
                raise error_for_return(lib.TIM_ERR_JSON, "TIMRefAdminRequest",
                                       f"not valid JSON: a NUL byte at offset {nul - 12} of the snapshot")
        else:
            raise TypeError(f"snapshot must be a dict or JSON text as bytes, got {type_name(snapshot)}")
        if not lib.tp_has_admin():
            raise UnsupportedError(
                "the admin surface (TIMRefAdminRequest) is timref-only; the loaded library "
                f"{self._client.library!r} does not have it"
            )
        return self._client._call(lib.tp_TIMRefAdminRequest, (api, data), _accounts, "TIMRefAdminRequest")

    def world_reset(self) -> Any:
        """Remove every account (``ref/world_reset``), in one transaction; their live
        sessions, in every process, are kicked (EVENT.KICKED_OUT).  Resolves to the number of
        accounts removed."""
        return self._send("ref/world_reset", {}, _accounts)


_STATUS_NAMES = {
    "Online": UserStatusType.ONLINE,
    "Offline": UserStatusType.OFFLINE,
    "UnLogined": UserStatusType.UNLOGINED,
}
