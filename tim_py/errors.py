"""Errors: one base class, ``TIMError``, with ``.code`` and ``.desc``; subclasses by kind.

Every code the C interface reports, whether as a call's return value or in a
callback, becomes an exception through one function, :func:`error_for`, so a
caller never has to guess which class a code maps to.

Some kinds also derive from a built-in exception so that plain Python code can
catch them naturally: a refused parameter is a ``ValueError`` too, an
interrupted call an ``InterruptedError``-like ``CallInterrupted``, and the
"one client per process" rule a ``RuntimeError``.

The codes are the C headers' (``lib.ERR_*`` of TIMErrorCode.h, ``lib.TIM_ERR_*`` of
the ``TIMResult`` enum), as the compiled module exposes them; the REST codes of
the admin surface that no header defines are named here (``REST_ERR_*``).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Type

from ._ffi import lib

__all__ = [
    "TIMError",
    "NotInitializedError",
    "NotLoggedInError",
    "InvalidParameterError",
    "InvalidIdentifierError",
    "CallInterrupted",
    "InvalidOperationError",
    "InternalError",
    "ProfileError",
    "UserSigError",
    "SizeLimitError",
    "StoreError",
    "AdminError",
    "UnsupportedError",
    "ClientOpenError",
    "error_for",
    "error_for_return",
    "REST_ERR_NO_ACCOUNT",
    "REST_ERR_PARAM",
    "REST_ERR_TOO_MANY_ACCOUNTS",
]

#: The admin surface's REST code for an account that does not exist (timref's admin.c, alike).
REST_ERR_NO_ACCOUNT = 70107
#: The admin surface's REST code for a malformed request body.
REST_ERR_PARAM = 70402
#: query_online_status's REST code for more than 500 accounts in To_Account.
REST_ERR_TOO_MANY_ACCOUNTS = 90011


class TIMError(Exception):
    """An error reported by the IM C interface (or by tim_py on its behalf).

    ``code`` is the vendor's error code (a callback code such as 6014, or a
    negative ``TIMResult`` returned by the call itself); ``desc`` its text.
    ``json`` holds the decoded ``json_params`` that came with the error, when
    there were any (the admin surface's whole answer, for instance); ``raw``
    holds them undecoded, as the library wrote them, for ``admin.request_raw``.
    """

    #: the answer's JSON text as the library wrote it (``admin.request_raw`` only), else None
    raw: Optional[bytes] = None
    #: for a call refused outright (a non-zero return): the library's reason, else None
    reason: Optional[str] = None

    def __init__(self, code: int, desc: str = "", json: Any = None) -> None:
        super().__init__(code, desc)
        self.code = code
        self.desc = desc
        self.json = json

    @property
    def answer(self) -> Any:
        """The admin surface's decoded answer (same as ``json``)."""
        return self.json

    def __str__(self) -> str:
        return f"[{self.code}] {self.desc}" if self.desc else f"[{self.code}]"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.desc!r})"

    def __reduce__(self) -> Tuple[Any, ...]:  # picklable across processes
        return (type(self), (self.code, self.desc, self.json))


class NotInitializedError(TIMError):
    """6013: called before ``TIMInit`` or after ``TIMUninit`` (or on a closed client)."""


class NotLoggedInError(TIMError):
    """6014: the call needs a logged-in user."""


class InvalidParameterError(TIMError, ValueError):
    """6017, 6027, or a refused argument (``TIM_ERR_PARAM`` -4, ``TIM_ERR_JSON`` -3)."""


class InvalidIdentifierError(TIMError, ValueError):
    """7003: a user ID is empty, longer than 32 bytes or not printable ASCII."""


class CallInterrupted(TIMError):
    """7009: the call was still pending when the client closed (``TIMUninit``)."""


class InvalidOperationError(TIMError):
    """7014: not allowed in this state (e.g. logging in as another user without logging out)."""


class InternalError(TIMError):
    """7012 (internal error) or 6028 (out of memory)."""


class ProfileError(TIMError):
    """40001..40610 (profile server codes) and 9001 (malformed custom profile key)."""


class UserSigError(TIMError):
    """70001..70014: the UserSig is empty, malformed, expired or for another user or app."""


class SizeLimitError(TIMError):
    """9522: a JSON argument is larger than 1 MiB."""


class StoreError(TIMError):
    """6022: the local store could not be read or written."""


class AdminError(TIMError):
    """A REST-style error code from the admin surface (70107 no such account, 70402 bad parameter...).

    (``REST_ERR_NO_ACCOUNT``, ``REST_ERR_PARAM``)
    """


class UnsupportedError(TIMError, NotImplementedError):
    """The feature needs timref (the admin surface) but the loaded library does not have it."""

    def __init__(self, desc: str) -> None:
        super().__init__(lib.ERR_SDK_INVALID_OPERATION, desc)

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.desc,))


class ClientOpenError(TIMError, RuntimeError):
    """A second client was opened while one is open: the C SDK is one per process."""

    def __init__(self, desc: str) -> None:
        super().__init__(lib.ERR_SDK_INVALID_OPERATION, desc)

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.desc,))


_BY_CODE: Dict[int, Type[TIMError]] = {
    lib.ERR_SDK_NOT_INITIALIZED: NotInitializedError,
    lib.ERR_SDK_NOT_LOGGED_IN: NotLoggedInError,
    lib.ERR_INVALID_PARAMETERS: InvalidParameterError,
    lib.ERR_INVALID_JSON: InvalidParameterError,
    lib.TIM_ERR_JSON: InvalidParameterError,
    lib.TIM_ERR_PARAM: InvalidParameterError,
    lib.ERR_SDK_COMM_INVALID_IDENTIFIER: InvalidIdentifierError,
    lib.ERR_SDK_COMM_INTERRUPT: CallInterrupted,
    lib.ERR_SDK_INTERNAL_ERROR: InternalError,
    lib.ERR_OUT_OF_MEMORY: InternalError,
    lib.ERR_SDK_INVALID_OPERATION: InvalidOperationError,
    lib.ERR_SDK_FRIENDSHIP_INVALID_PROFILE_KEY: ProfileError,
    lib.ERR_SDK_NET_PKG_SIZE_LIMIT: SizeLimitError,
    lib.ERR_IO_OPERATION_FAILED: StoreError,
    REST_ERR_TOO_MANY_ACCOUNTS: AdminError,
}
#: Blocks of codes, (first, last, class): the profile server's codes, the UserSig codes, and
#: the rest of the account / REST block (to 70999) for the admin surface.
_RANGES: Tuple[Tuple[int, int, Type[TIMError]], ...] = (
    (lib.ERR_SVR_PROFILE_INVALID_PARAMETERS, lib.ERR_SVR_PROFILE_INVALID_VALUE_FORMAT, ProfileError),
    (lib.ERR_SVR_ACCOUNT_USERSIG_EXPIRED, lib.ERR_SVR_ACCOUNT_USERSIG_MISMATCH_SDKAPPID, UserSigError),
    (lib.ERR_SVR_ACCOUNT_USERSIG_MISMATCH_SDKAPPID + 1, 70999, AdminError),
)


def _class_for(code: int) -> Type[TIMError]:
    cls = _BY_CODE.get(code)
    if cls is not None:
        return cls
    for first, last, cls in _RANGES:
        if first <= code <= last:
            return cls
    return TIMError


def error_for(code: int, desc: str = "", json: Any = None) -> TIMError:
    """The exception for a non-zero code (a callback code or a return value)."""
    return _class_for(code)(code, desc, json)


_RETURN_TEXT = {
    lib.TIM_ERR_SDKUNINIT: "the SDK is not initialized",
    lib.TIM_ERR_NOTLOGIN: "not logged in",
    lib.TIM_ERR_JSON: "TIM_ERR_JSON, an argument is not JSON of the expected shape",
    lib.TIM_ERR_PARAM: "TIM_ERR_PARAM, an argument was refused",
    lib.TIM_ERR_CONV: "conversation error",
    lib.TIM_ERR_GROUP: "group error",
    lib.TP_ERR_UNSUPPORTED: "the loaded library does not have this function",
}


def error_for_return(rc: int, function: str, reason: Optional[str] = None) -> TIMError:
    """The exception for a C call that returned ``rc`` != TIM_SUCC (its callback never fires).

    ``reason`` is the library's own account of the refusal (timref's
    ``TIMRefGetLastError``); without one, the code's generic meaning is given.
    """
    desc = f"{function} returned {rc}: {reason or _RETURN_TEXT.get(rc, 'refused')}"
    err = UnsupportedError(desc) if rc == lib.TP_ERR_UNSUPPORTED else error_for(rc, desc)
    err.reason = reason or None
    return err
