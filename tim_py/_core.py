"""The core shared by ``TIM`` (futures) and ``AsyncTIM`` (asyncio).

``_Core`` does everything but make the future: it checks arguments (TypeError
for a wrong type, ValueError for a bad value, naming the argument), builds the
C JSON with orjson from precomputed key maps, registers the call and makes it,
and raises at the call when the C function refuses it.  The subclasses only
say what a call returns (``_new_future``) and how completions are delivered
(a dispatcher thread, or the event loop); ``_EventQueue`` is the bounded,
filtered queue behind both clients' ``events()``.

The methods here are typed ``-> Any``: what a call returns depends on the
client, so ``TIM`` and ``AsyncTIM`` restate their signatures for type checkers
only (``if TYPE_CHECKING:``), at no cost at run time.
"""
from __future__ import annotations

import collections
import logging
import os
import threading
import weakref
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Deque,
    Dict,
    FrozenSet,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
    overload,
)

import orjson

from . import _bridge, _decode
from ._bridge import STEP, next_token, registry
from ._ffi import ffi, lib
from .errors import CallInterrupted, NotInitializedError, error_for, error_for_return
from ._storeurl import is_store_url, redact, scrub
from .fields import (
    CUSTOM,
    CUSTOM_KEY,
    CUSTOM_VALUE,
    ENUM,
    FIELDS,
    STRING,
    UINT32_MAX,
    Field,
    profile_from_json,
    profiles_from_json,
    profiles_from_text,
)
from .types import (
    EVENT,
    EVENT_NAMES,
    TYPES,
    CustomField,
    Event,
    LoginStatus,
    Options,
    Profile,
    statuses_from_json,
)

if TYPE_CHECKING:
    from .admin import Admin
    from .lowlevel import Raw

log = logging.getLogger("tim_py")

UINT64_MAX = 0xFFFFFFFFFFFFFFFF

_dumps = orjson.dumps
#: tp_TIMProfileGetUserProfileList, called holding the GIL (tim_py._decode.call says why)
_GET_PROFILE_LIST = int(ffi.cast("uintptr_t", ffi.addressof(lib, "tp_TIMProfileGetUserProfileList")))
_held_call = _decode.call

# ---------------------------------------------------------------------------
# Argument checks (module functions: also used by the admin and raw layers)
# ---------------------------------------------------------------------------


def type_name(v: Any) -> str:
    return type(v).__name__


def check_str(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type_name(value)}")
    return value


def check_c_str(name: str, value: Any) -> bytes:
    """A str passed to C as ``const char*``: UTF-8, no NUL inside."""
    text = check_str(name, value)
    if "\x00" in text:
        raise ValueError(f"{name} must not contain NUL characters")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(f"{name} is not encodable as UTF-8: {e.reason}") from None


def check_uint(name: str, value: Any, lo: int = 0, hi: int = UINT32_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type_name(value)}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be between {lo} and {hi}, got {value}")
    return int(value)


def check_enum(name: str, value: Any, names: Mapping[str, Any], enum_cls: Any) -> int:
    """An enum value given as the enum, its int value, or the Web SDK's string."""
    if isinstance(value, str):
        try:
            return int(names[value])
        except KeyError:
            raise ValueError(
                f"{name} must be a {enum_cls.__name__}, one of {sorted(names)}, got {value!r}"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a {enum_cls.__name__}, an int or a str, got {type_name(value)}")
    try:
        return int(enum_cls(value))
    except ValueError:
        raise ValueError(
            f"{name} must be one of {[int(m) for m in enum_cls]} ({enum_cls.__name__}), got {value}"
        ) from None


def check_id_list(name: str, value: Any) -> List[str]:
    """A list (or tuple) of str; its contents are the library's to judge (codes 7003, 40002...)."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of str, got {type_name(value)}")
    for i, v in enumerate(value):
        if type(v) is not str and not isinstance(v, str):
            raise TypeError(f"{name} must be a list of str, got {type_name(v)} at index {i}")
    return value if type(value) is list else list(value)


def last_error() -> str:
    """Why the library refused this thread's last call outright ("" when it cannot say)."""
    text: str = ffi.string(lib.tp_TIMRefGetLastError()).decode("utf-8", "replace")
    return text


def dumps(name: str, value: Any) -> bytes:
    try:
        return _dumps(value)
    except orjson.JSONEncodeError as e:
        raise ValueError(f"{name} cannot be sent as JSON: {e}") from None


def check_custom_fields(name: str, value: Any) -> List[Dict[str, str]]:
    """``profile_custom_field``: a list of {"key", "value"} (or CustomField) -> C entries."""
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of {{'key': str, 'value': str}}, got {type_name(value)}")
    out = []
    for i, item in enumerate(value):
        if isinstance(item, CustomField):
            key, val = item.key, item.value
        elif isinstance(item, dict):
            extra = set(item) - {"key", "value"}
            if extra:
                raise ValueError(f"{name}[{i}] has unknown keys {sorted(map(str, extra))}; use 'key' and 'value'")
            if "key" not in item or "value" not in item:
                raise ValueError(f"{name}[{i}] needs both 'key' and 'value'")
            key, val = item["key"], item["value"]
        else:
            raise TypeError(
                f"{name} must be a list of {{'key': str, 'value': str}}, got {type_name(item)} at index {i}"
            )
        if not isinstance(key, str):
            raise TypeError(f"{name}[{i}]['key'] must be a str, got {type_name(key)}")
        if not isinstance(val, str):
            raise TypeError(f"{name}[{i}]['value'] must be a str, got {type_name(val)}")
        out.append({CUSTOM_KEY: key, CUSTOM_VALUE: val})
    return out


class ProfileField(NamedTuple):
    """A field that can be changed: its Web SDK name, its C item key, and the checker of its
    value (``check(name_given, value)`` -> the value for C, or TypeError / ValueError)."""

    web: str
    key: str
    check: Callable[[str, Any], Any]


def _checker(f: Field) -> Callable[[str, Any], Any]:
    """The check of a field's value, from its kind (and range, or enum)."""
    if f.kind == STRING:
        return check_str
    if f.kind == CUSTOM:
        return check_custom_fields
    if f.kind == ENUM:
        names, cls = f.values, f.enum
        return lambda name, v: check_enum(name, v, names, cls)
    hi = f.hi
    return lambda name, v: check_uint(name, v, 0, hi)


#: The fields that can be changed (tim_py.fields.FIELDS but user_id and last_updated_time):
#: our name -> ProfileField(the Web SDK's name, the C item key, checker).
#: Both names are accepted wherever fields are given.
PROFILE_FIELDS: Dict[str, ProfileField] = {
    f.name: ProfileField(f.web, f.item, _checker(f)) for f in FIELDS if f.item is not None}

#: Either name -> our name.
PROFILE_FIELD_NAMES: Dict[str, str] = {
    **{n: n for n in PROFILE_FIELDS}, **{f.web: n for n, f in PROFILE_FIELDS.items()}}

_FIELD_LIST = ", ".join(n if f.web == n else f"{n} ({f.web})" for n, f in PROFILE_FIELDS.items())
_C_KEYS = {name: (PROFILE_FIELDS[n].key, PROFILE_FIELDS[n].check) for name, n in PROFILE_FIELD_NAMES.items()}


def profile_items(fields: Mapping[str, Any], what: str = "update_my_profile()") -> Dict[str, Any]:
    """Profile fields (either name) -> the C UserProfileItem object."""
    out = {}
    for name, value in fields.items():
        spec = _C_KEYS.get(name)
        if spec is None:
            raise TypeError(f"{what} got an unexpected field {name!r}; fields are {_FIELD_LIST}")
        key, check = spec
        out[key] = check(name, value)
    if len(out) != len(fields):  # both names of one field
        seen: Dict[str, str] = {}
        for name in fields:
            ours = PROFILE_FIELD_NAMES[name]
            if ours in seen:
                raise TypeError(f"{what} got both {seen[ours]!r} and {name!r}, which are the same field")
            seen[ours] = name
    return out


_ABSENT: Any = object()


def option(what: str, options: Mapping[Any, Any], web: str, name: str,
           default: Any = _ABSENT) -> Tuple[str, Any]:
    """The one entry of a Web SDK options object such as ``{"userIDList": [...]}``.

    ``web`` is the Web SDK's key, ``name`` ours (also accepted); returns (the key
    given, its value), or (``web``, ``default``) when the object is empty.  An
    unknown key is refused like an unknown keyword argument (TypeError).
    """
    for k in options:
        if k != web and k != name:
            raise TypeError(f"{what} got an unexpected option {k!r}; its options object takes {web!r}")
    if len(options) > 1:
        raise TypeError(f"{what} got both {web!r} and {name!r}, which are the same option")
    if not options:
        if default is _ABSENT:
            raise TypeError(f"{what} needs {web!r} in its options object")
        return web, default
    [(key, value)] = options.items()
    return key, value


def _ids_option(what: str, options: Mapping[Any, Any]) -> List[str]:
    """``{"userIDList": [...]}`` -> the checked list."""
    return check_id_list(*option(what, options, "userIDList", "user_id_list"))


def _id_list(what: str, value: Any) -> List[str]:
    """The argument of the functions that take a list of ids, or ``{"userIDList": [...]}``: the checked list."""
    if type(value) is not list and isinstance(value, dict):
        return _ids_option(what, value)
    return check_id_list("user_id_list", value)


def _optional_ids(what: str, value: Any) -> Any:
    """The argument of the unsubscribe functions: NULL (everyone) or a JSON list."""
    if value is not None and type(value) is not list and isinstance(value, dict):
        name, value = option(what, value, "userIDList", "user_id_list", None)
    else:
        name = "user_id_list"
    if value is None:
        return ffi.NULL
    return dumps(name, check_id_list(name, value))


# ---------------------------------------------------------------------------
# Decoders (json_params -> typed result)
# ---------------------------------------------------------------------------


def closed_before_completion() -> CallInterrupted:
    """What a call still pending when its client closes resolves to."""
    return CallInterrupted(lib.ERR_SDK_COMM_INTERRUPT, "the client was closed before the call completed")



def _first_profile(data: Any) -> Profile:
    if not data:
        raise error_for(lib.ERR_SVR_PROFILE_ACCOUNT_NOT_FOUND, "the logged-in user's account does not exist")
    return profile_from_json(data[0])


# ---------------------------------------------------------------------------
# The core
# ---------------------------------------------------------------------------

_KEY_PROFILE_IDS = "friendship_getprofilelist_param_identifier_array"
_PROFILE_REQUEST_HEAD = '{"' + _KEY_PROFILE_IDS + '":["'


def profile_request(ids: List[str]) -> bytes:
    """The C JSON of a profile get: ``{"friendship_getprofilelist_param_identifier_array": ids}``.

    Ids that JSON writes as they are (printable ASCII without ``"`` or ``\\``) are joined
    straight into the text, the very bytes ``orjson.dumps`` writes, without
    building the dict (and without orjson's 1 KiB output buffer, a C ``malloc`` per call); any
    other list goes through orjson.
    """
    if ids:
        text = "".join(ids)
        # one pass in C over the bytes: deleting every byte JSON writes as it is leaves nothing
        if text.isascii() and not text.encode().translate(None, _JSON_PLAIN_BYTES):
            return _PROFILE_REQUEST_HEAD_B + '","'.join(ids).encode() + b'"]}'
    return dumps("user_id_list", {_KEY_PROFILE_IDS: ids})


#: The bytes JSON writes as they are in a string: printable ASCII but ``"`` and ``\``.
_JSON_PLAIN_BYTES = bytes(b for b in range(0x20, 0x7F) if b not in b'"\\')
_PROFILE_REQUEST_HEAD_B = _PROFILE_REQUEST_HEAD.encode()


_H = TypeVar("_H", bound=Callable[[Event], Any])


class _EventQueue:
    """What ``TIM.events()`` and ``AsyncTIM.events()`` share: a bounded queue of the
    events named (the oldest dropped and counted in ``dropped`` when it is full),
    ended when the client closes.  Subclasses wait for it (``_wake``)."""

    def __init__(self, client: "_Core", names: FrozenSet[str], maxsize: int) -> None:
        self._client = client
        self._names = names
        self._queue: Deque[Event] = collections.deque(maxlen=maxsize)
        self._ended = False
        self.dropped = 0

    def _put(self, event: Event) -> None:
        if self._ended or event.name not in self._names:
            return
        q = self._queue
        if len(q) == q.maxlen:
            self.dropped += 1
        q.append(event)
        self._wake()

    def _end(self) -> None:
        self._ended = True
        self._wake()

    def _wake(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _close(self) -> None:
        """End the stream and stop feeding it."""
        self._end()
        self._client._remove_stream(self)


class _Core:
    """Shared by TIM and AsyncTIM: arguments, JSON, the C call, events, close."""

    _closed = True  # until __init__ succeeds
    admin: "Admin"
    raw: "Raw"

    def __init__(
        self,
        sdk_app_id: int,
        data_dir: Optional["os.PathLike[str] | str"] = None,
        *,
        secret_key: Optional[str] = None,
        device_name: Optional[str] = None,
        custom_profile_keys: Optional[Iterable[str]] = None,
        library: Optional[str] = None,
    ) -> None:
        check_uint("sdk_app_id", sdk_app_id, 0, UINT64_MAX)
        config: Dict[str, Any] = {}
        if data_dir is not None:
            if not isinstance(data_dir, (str, os.PathLike)):
                raise TypeError(f"data_dir must be a str or a path, got {type_name(data_dir)}")
            path = os.fspath(data_dir)
            if not isinstance(path, str):
                raise TypeError("data_dir must be a str path, not bytes")
            check_c_str("data_dir", path)
            # a postgresql:// URI puts the world in that database (docs/postgresql.md)
            config["timref_config_store_url" if is_store_url(path) else "sdk_config_config_file_path"] = path
        if secret_key is not None:
            check_c_str("secret_key", secret_key)
            config["timref_config_secret_key"] = secret_key
        if device_name is not None:
            check_c_str("device_name", device_name)
            config["timref_config_device_name"] = device_name
        if custom_profile_keys is not None:
            if isinstance(custom_profile_keys, (str, bytes)) or not isinstance(custom_profile_keys, Iterable):
                raise TypeError(
                    f"custom_profile_keys must be a list of str, got {type_name(custom_profile_keys)}"
                )
            config["timref_config_custom_profile_keys"] = check_id_list(
                "custom_profile_keys", list(custom_profile_keys))
        if library is not None:
            if not isinstance(library, (str, os.PathLike)):
                raise TypeError(f"library must be a str or a path, got {type_name(library)}")
            library = os.fspath(library)

        self.sdk_app_id = sdk_app_id
        self.data_dir = config.get("sdk_config_config_file_path")
        #: the PostgreSQL world's URI, its password shown as *** (None for a directory or memory)
        url = config.get("timref_config_store_url")
        self.store_url = redact(url) if url is not None else None
        self._handlers: Dict[str, Tuple[Callable[[Event], Any], ...]] = {n: () for n in EVENT_NAMES}
        # Replaced, never changed in place: the dispatcher iterates it while another
        # thread may add a stream (events()).
        self._streams: "weakref.WeakSet[_EventQueue]" = weakref.WeakSet()
        self._close_lock = threading.Lock()

        _bridge.acquire(self, library)
        try:
            self.library = library if library is not None else os.environ.get("TIM_PY_LIBRARY") or None
            rc = lib.tp_TIMInit(sdk_app_id, _dumps(config))
            if rc != 0:
                raise error_for_return(rc, "TIMInit", scrub(last_error(), url) if url else last_error())
            self._closed = False
            lib.tp_set_event_callbacks(1)
            self._start()
        except BaseException:
            if not self._closed:
                self._closed = True
                lib.tp_TIMUninit()
                lib.tp_set_event_callbacks(0)
            _bridge.release(self)
            raise

        from .admin import Admin
        from .lowlevel import Raw

        self.admin = Admin(self)
        self.raw = Raw(self)

    # ---- what subclasses provide --------------------------------------------

    def _start(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _new_future(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _stop_delivery(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _final_drain(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _deliver(self, handler: Callable[[Event], Any], event: Event) -> None:
        handler(event)

    # ---- the call ---------------------------------------------------------------

    def _call(self, cfunc: Any, args: Tuple[Any, ...], decode: Optional[Callable[[Any], Any]],
              name: str) -> Any:
        if self._closed:
            raise NotInitializedError(lib.ERR_SDK_NOT_INITIALIZED, "the client is closed")
        fut = self._new_future()
        token = next_token()
        registry[token] = (fut, decode)
        rc = cfunc(*args, token)
        if rc:
            registry.pop(token, None)
            raise error_for_return(rc, name, last_error())
        if self._closed:  # closed while we were calling: close() may have missed this one
            self._interrupted(token)
        return fut

    def _then(self, fut: Any, cfunc: Any, args: Tuple[Any, ...], decode: Callable[[Any], Any],
              name: str) -> None:
        """Queue a second C call that resolves ``fut`` (a call made with decode=STEP).

        The library runs calls in order, so the second one runs right after the
        first; if the first fails, its error resolves ``fut`` and the second's
        result is dropped.
        """
        token = next_token()
        registry[token] = (fut, decode)
        rc = cfunc(*args, token)
        if rc:
            registry.pop(token, None)
            try:
                fut.set_exception(error_for_return(rc, name, last_error()))
            except _bridge.GONE:
                pass
        elif self._closed:
            self._interrupted(token)

    @staticmethod
    def _interrupted(token: int) -> None:
        entry = registry.pop(token, None)
        if entry is not None:
            try:
                entry[0].set_exception(
                    CallInterrupted(lib.ERR_SDK_COMM_INTERRUPT, "the client was closed during the call"))
            except _bridge.GONE:
                pass

    # ---- login ------------------------------------------------------------------

    def login(self, user_id: str, user_sig: str) -> Any:
        """Log in as ``user_id`` (the account is created on first login)."""
        uid = check_c_str("user_id", user_id)
        sig = check_c_str("user_sig", user_sig)
        return self._call(lib.tp_TIMLogin, (uid, sig), None, "TIMLogin")

    def logout(self) -> Any:
        """Log out (succeeds also when not logged in); ends every subscription."""
        return self._call(lib.tp_TIMLogout, (), None, "TIMLogout")

    @property
    def login_user_id(self) -> str:
        """The logged-in user ID, "" when logged out."""
        buf = ffi.new("char[]", 256)
        lib.tp_TIMGetLoginUserID(buf)
        text: str = ffi.string(buf).decode("utf-8", "replace")
        return text

    @property
    def login_status(self) -> LoginStatus:
        """A LoginStatus (a value the enum does not know, from another library, as a plain int)."""
        v = lib.tp_TIMGetLoginStatus()
        try:
            return LoginStatus(v)
        except ValueError:
            return v  # type: ignore[no-any-return]

    @property
    def sdk_version(self) -> str:
        text: str = ffi.string(lib.tp_TIMGetSDKVersion()).decode("utf-8", "replace")
        return text

    @property
    def server_time(self) -> int:
        return int(lib.tp_TIMGetServerTime())

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def has_admin(self) -> bool:
        """Whether the loaded library has timref's admin surface."""
        return bool(lib.tp_has_admin())

    # ---- profiles -----------------------------------------------------------------

    def _my_profile_arg(self) -> bytes:
        me = self.login_user_id if not self._closed else ""
        return _dumps({_KEY_PROFILE_IDS: [me] if me else []})

    def get_my_profile(self) -> Any:
        """The logged-in user's Profile."""
        return self._call(lib.tp_TIMProfileGetUserProfileList, (self._my_profile_arg(),), _first_profile,
                          "TIMProfileGetUserProfileList")

    def get_user_profile(self, user_id_list: Union[Sequence[str], Options]) -> Any:
        """Profiles of the users in ``user_id_list`` (unknown accounts are left out).

        Also takes the Web SDK's options object, ``{"userIDList": [...]}``.
        """
        ids = user_id_list
        if type(ids) is list:  # the common shape: skip the general checks when every id is a str
            for v in ids:
                if type(v) is not str:
                    ids = check_id_list("user_id_list", ids)
                    break
        else:
            ids = _id_list("get_user_profile()", ids)
        # _call, written out: the call every stream of gets makes, without a frame and an
        # argument tuple more per call (what _call does, in the same order).
        text = profile_request(ids)
        if self._closed:
            raise NotInitializedError(lib.ERR_SDK_NOT_INITIALIZED, "the client is closed")
        fut = self._new_future()
        token = next_token()
        registry[token] = (fut, profiles_from_text)
        rc = _held_call(_GET_PROFILE_LIST, text, token)
        if rc:
            registry.pop(token, None)
            raise error_for_return(rc, "TIMProfileGetUserProfileList", last_error())
        if self._closed:  # closed while we were calling: close() may have missed this one
            self._interrupted(token)
        return fut

    def update_my_profile(self, options: Optional[Options] = None, /, **fields: Any) -> Any:
        """Change fields of your profile, all or nothing.

        Give the fields as keywords (``nick="Alice", self_signature="hi"``) or as the
        Web SDK's options object, passed as it is (``{"nick": "Alice", "selfSignature":
        "hi"}``), not both (TypeError).  Either way a field may be named the Web
        SDK's way (selfSignature, allowType, messageSettings, adminForbidType,
        profileCustomField) or ours (self_signature, ...); an unknown name raises
        TypeError.  See ``PROFILE_FIELDS`` (from the table ``tim_py.fields.FIELDS``).
        Resolves to your new ``Profile``, as the Web SDK's updateMyProfile does.
        """
        if options is not None:
            if not isinstance(options, dict):
                raise TypeError(
                    f"update_my_profile() takes a dict of fields (the Web SDK's options object), "
                    f"got {type_name(options)}")
            if fields:
                raise TypeError("update_my_profile() takes the fields either as one options object "
                                f"or as keywords, not both (got {', '.join(fields)} beside the object)")
            fields = options
        items = profile_items(fields)
        fut = self._call(lib.tp_TIMProfileModifySelfUserProfile,
                         (dumps("fields", items),), STEP, "TIMProfileModifySelfUserProfile")
        # Like the Web SDK's updateMyProfile, resolve to the new profile: read right behind the change.
        self._then(fut, lib.tp_TIMProfileGetUserProfileList, (self._my_profile_arg(),), _first_profile,
                   "TIMProfileGetUserProfileList")
        return fut

    # ---- status ---------------------------------------------------------------------

    def get_user_status(self, user_id_list: Union[Sequence[str], Options]) -> Any:
        """UserStatus of the users in ``user_id_list`` (your own ID allowed), or ``{"userIDList": [...]}``."""
        ids = _id_list("get_user_status()", user_id_list)
        return self._call(lib.tp_TIMGetUserStatus, (dumps("user_id_list", ids),),
                          statuses_from_json, "TIMGetUserStatus")

    def set_self_status(self, custom_status: Union[str, Options]) -> Any:
        """Set your custom status (at most 100 bytes; "" clears it), or ``{"customStatus": "..."}``."""
        name = "custom_status"
        if type(custom_status) is not str and isinstance(custom_status, dict):
            name, custom_status = option("set_self_status()", custom_status, "customStatus", name)
        check_str(name, custom_status)
        return self._call(lib.tp_TIMSetSelfStatus,
                          (dumps(name, {"user_status_custom_status": custom_status}),),
                          None, "TIMSetSelfStatus")

    def subscribe_user_status(self, user_id_list: Union[Sequence[str], Options]) -> Any:
        """Receive EVENT.USER_STATUS_UPDATED for these users (at most 200 are kept).

        Also takes ``{"userIDList": [...]}``.
        """
        ids = _id_list("subscribe_user_status()", user_id_list)
        return self._call(lib.tp_TIMSubscribeUserStatus, (dumps("user_id_list", ids),), None,
                          "TIMSubscribeUserStatus")

    def unsubscribe_user_status(self, user_id_list: Union[Sequence[str], Options, None] = None) -> Any:
        """Stop status events for these users; None (the default), [] or ``{}`` for everyone.

        Also takes ``{"userIDList": [...]}``.
        """
        return self._call(lib.tp_TIMUnsubscribeUserStatus,
                          (_optional_ids("unsubscribe_user_status()", user_id_list),), None,
                          "TIMUnsubscribeUserStatus")

    def subscribe_user_info(self, user_id_list: Union[Sequence[str], Options]) -> Any:
        """Receive EVENT.PROFILE_UPDATED when these users change their profile.

        Also takes ``{"userIDList": [...]}``.
        """
        ids = _id_list("subscribe_user_info()", user_id_list)
        return self._call(lib.tp_TIMSubscribeUserInfo, (dumps("user_id_list", ids),), None,
                          "TIMSubscribeUserInfo")

    def unsubscribe_user_info(self, user_id_list: Union[Sequence[str], Options, None] = None) -> Any:
        """Stop profile events for these users; None (the default), [] or ``{}`` for everyone.

        Also takes ``{"userIDList": [...]}``.
        """
        return self._call(lib.tp_TIMUnsubscribeUserInfo,
                          (_optional_ids("unsubscribe_user_info()", user_id_list),), None,
                          "TIMUnsubscribeUserInfo")

    # ---- events ------------------------------------------------------------------------

    @overload
    def on(self, event: str) -> Callable[[_H], _H]: ...

    @overload
    def on(self, event: str, handler: _H) -> _H: ...

    def on(self, event: str, handler: Optional[_H] = None) -> Any:
        """Call ``handler(event)`` for each ``event`` (an EVENT value); handlers run on
        tim_py's dispatcher thread (TIM) or the event loop (AsyncTIM).

        Returns ``handler``.  Without one, a decorator that registers the function
        it decorates and returns it unchanged::

            @tim.on(EVENT.PROFILE_UPDATED)
            def changed(event): ...
        """
        self._check_event(event)
        if handler is None:
            def register(func: _H) -> _H:
                return self.on(event, func)
            return register
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {type_name(handler)}")
        self._handlers[event] = self._handlers[event] + (handler,)
        return handler

    def off(self, event: str, handler: Optional[Callable[[Event], Any]] = None) -> None:
        """Remove ``handler`` from ``event`` (every handler of it when None)."""
        self._check_event(event)
        if handler is None:
            self._handlers[event] = ()
        else:
            hs = list(self._handlers[event])
            try:
                hs.remove(handler)
            except ValueError:
                return
            self._handlers[event] = tuple(hs)

    @staticmethod
    def _check_event(event: Any) -> None:
        if not isinstance(event, str):
            raise TypeError(f"event must be a str (an EVENT value), got {type_name(event)}")
        if event not in EVENT_NAMES:
            raise ValueError(f"event must be one of {sorted(EVENT_NAMES)}, got {event!r}")

    def _event_names(self, names: Tuple[str, ...], maxsize: int) -> FrozenSet[str]:
        """Check the arguments of ``events()``; the names it delivers."""
        for n in names:
            self._check_event(n)
        check_uint("maxsize", maxsize, 1, 1 << 30)
        if self._closed:
            raise NotInitializedError(lib.ERR_SDK_NOT_INITIALIZED, "the client is closed")
        return frozenset(names) if names else EVENT_NAMES

    def _add_stream(self, stream: _EventQueue) -> None:
        with self._close_lock:
            streams = weakref.WeakSet(self._streams)
            streams.add(stream)
            self._streams = streams
            closed = self._closed
        if closed:  # closed since events() checked: close() may not have seen it
            stream._end()

    def _remove_stream(self, stream: _EventQueue) -> None:
        with self._close_lock:
            streams = weakref.WeakSet(self._streams)
            streams.discard(stream)
            self._streams = streams

    def _on_event(self, kind: int, raw: bytes) -> None:
        if self._closed:
            # After close() no handler runs; also, a handler that closes the client is not
            # re-entered by the final drain of what was still queued.
            return
        if kind == _bridge.KIND_KICKED_OFFLINE:
            name = EVENT.KICKED_OUT
        else:
            name = EVENT.USER_STATUS_UPDATED if kind == _bridge.KIND_USER_STATUS else EVENT.PROFILE_UPDATED
        handlers = self._handlers[name]
        streams = list(self._streams)
        if not handlers and not streams:
            return
        if name == EVENT.KICKED_OUT:
            # timref kicks only through its admin surface (the REST API's kick); a vendor
            # library's TIMKickedOfflineCallback means another device logged in.
            event = Event(name, {"type": TYPES.KICKED_OUT_REST_API if lib.tp_has_admin()
                                 else TYPES.KICKED_OUT_MULT_DEVICE})
        else:
            data = orjson.loads(raw) if raw else None
            event = Event(name, statuses_from_json(data) if name == EVENT.USER_STATUS_UPDATED
                          else profiles_from_json(data))
        for s in streams:
            s._put(event)
        for h in handlers:
            try:
                self._deliver(h, event)
            except Exception:
                log.exception("tim_py: %s handler %r raised", name, h)

    # ---- close ---------------------------------------------------------------------------

    def _close_impl(self) -> bool:
        with self._close_lock:
            if self._closed:
                return False
            self._closed = True
        try:
            lib.tp_TIMUninit()  # completes every pending call (7009) before returning
            lib.tp_set_event_callbacks(0)
        finally:
            try:
                self._stop_delivery()
                self._final_drain()
            finally:
                _bridge.fail_pending(closed_before_completion)
                for s in list(self._streams):
                    s._end()
                _bridge.release(self)
        return True

    def _close_at_exit(self) -> None:
        self._close_impl()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        lib_ = f", library={self.library!r}" if getattr(self, "library", None) else ""
        store = f", store_url={self.store_url!r}" if getattr(self, "store_url", None) else ""
        return f"<{type(self).__name__} sdk_app_id={self.sdk_app_id}{store}{lib_} {state}>"
