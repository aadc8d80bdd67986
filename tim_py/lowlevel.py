"""The low-level layer: call any C function by name with raw JSON keys.

``tim.raw.call("TIMProfileGetUserProfileList",
{"friendship_getprofilelist_param_identifier_array": ["bob"]})`` returns a
future (an awaitable on ``AsyncTIM``) of the decoded ``json_params`` (None when
it is ""), keys untouched.  A non-zero callback code raises ``TIMError`` with
the decoded ``json_params`` in ``err.json``; a non-zero return value raises at
the call.  Arguments: a dict or list is sent as JSON (orjson), a str as UTF-8
text, bytes as they are, None as NULL.

Synchronous functions (``TIMGetSDKVersion``, ``TIMGetServerTime``,
``TIMGetLoginUserID``, ``TIMGetLoginStatus``) return their value directly.
``TIMInit`` / ``TIMUninit`` belong to the client (open and close it), and the
event setters to ``on()`` / ``events()``.

``tim_py.lowlevel.call(...)`` does the same through the client open in this
process.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, overload

import orjson

from . import _bridge
from ._ffi import ffi, lib
from .errors import NotInitializedError, UnsupportedError

__all__ = ["Raw", "call", "ASYNC_FUNCTIONS", "SYNC_FUNCTIONS"]

#: asynchronous functions -> number of arguments before the callback
ASYNC_FUNCTIONS = {
    "TIMLogin": 2,
    "TIMLogout": 0,
    "TIMProfileGetUserProfileList": 1,
    "TIMProfileModifySelfUserProfile": 1,
    "TIMGetUserStatus": 1,
    "TIMSetSelfStatus": 1,
    "TIMSubscribeUserStatus": 1,
    "TIMUnsubscribeUserStatus": 1,
    "TIMSubscribeUserInfo": 1,
    "TIMUnsubscribeUserInfo": 1,
    "TIMRefAdminRequest": 2,
}
SYNC_FUNCTIONS = frozenset(("TIMGetSDKVersion", "TIMGetServerTime", "TIMGetLoginUserID",
                            "TIMGetLoginStatus"))
_CFUNCS = {name: getattr(lib, "tp_" + name) for name in ASYNC_FUNCTIONS}


def _arg(i: int, v: Any) -> Any:
    if v is None:
        return ffi.NULL
    if isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("utf-8", "surrogatepass")
    if isinstance(v, (dict, list, tuple, int, float, bool)):
        try:
            return orjson.dumps(v)
        except orjson.JSONEncodeError as e:
            raise ValueError(f"argument {i} cannot be sent as JSON: {e}") from None
    raise TypeError(f"argument {i} must be a dict, list, str, bytes or None, got {type(v).__name__}")


def _identity(data: Any) -> Any:
    return data


class Raw:
    """``client.raw``: the C functions by name."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def call(self, name: str, *args: Any) -> Any:
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {type(name).__name__}")
        if name in SYNC_FUNCTIONS:
            if args:
                raise TypeError(f"{name} takes no arguments")
            if name == "TIMGetSDKVersion":
                return ffi.string(lib.tp_TIMGetSDKVersion()).decode("utf-8", "replace")
            if name == "TIMGetServerTime":
                return int(lib.tp_TIMGetServerTime())
            if name == "TIMGetLoginStatus":
                return int(lib.tp_TIMGetLoginStatus())
            buf = ffi.new("char[]", 256)
            lib.tp_TIMGetLoginUserID(buf)
            return ffi.string(buf).decode("utf-8", "replace")
        nargs = ASYNC_FUNCTIONS.get(name)
        if nargs is None:
            if name in ("TIMInit", "TIMUninit"):
                raise ValueError(f"{name} belongs to the client: open or close a TIM / AsyncTIM instead")
            raise ValueError(
                f"unknown function {name!r}; one of {', '.join(sorted(ASYNC_FUNCTIONS) + sorted(SYNC_FUNCTIONS))}"
            )
        if len(args) != nargs:
            # one-JSON-argument functions may be called without it (NULL)
            if not (nargs == 1 and not args):
                raise TypeError(f"{name} takes {nargs} argument(s), got {len(args)}")
            args = (None,)
        if name == "TIMRefAdminRequest" and not lib.tp_has_admin():
            raise UnsupportedError("the loaded library does not have TIMRefAdminRequest (timref only)")
        cargs = tuple(_arg(i, a) for i, a in enumerate(args))
        return self._client._call(_CFUNCS[name], cargs, _identity, name)


if TYPE_CHECKING:
    _F = TypeVar("_F")

    class _TypedRaw(Raw, Generic[_F]):
        """``client.raw`` as type checkers see it: ``_F`` is the client's future
        (``Future[Any]`` for TIM, ``asyncio.Future[Any]`` for AsyncTIM)."""

        # The synchronous functions return their value, the others a future.
        @overload
        def call(self, name: Literal["TIMGetSDKVersion", "TIMGetLoginUserID"]) -> str: ...
        @overload
        def call(self, name: Literal["TIMGetServerTime", "TIMGetLoginStatus"]) -> int: ...
        @overload
        def call(self, name: str, *args: Any) -> _F: ...
        def call(self, name: str, *args: Any) -> Any: ...


def call(name: str, *args: Any) -> Any:
    """``Raw.call`` through the client open in this process."""
    client = _bridge.current()
    if client is None or client.closed:
        raise NotInitializedError(lib.ERR_SDK_NOT_INITIALIZED, "no tim_py client is open: open a TIM or AsyncTIM first")
    return client.raw.call(name, *args)
