"""tim_py: a Python client for the Tencent Cloud IM C interface (profiles and user status).

By default it drives timref, the offline reference implementation compiled
into ``tim_py._tim``; ``library=`` (or ``TIM_PY_LIBRARY``) points it at another
build of the C interface, such as a vendor ``libImSDK.so``.

* ``tim_py.TIM``: calls return ``concurrent.futures.Future``;
* ``tim_py.aio.AsyncTIM``: calls return awaitables;
* ``tim_py.gen_user_sig``: make a UserSig;
* ``tim_py.remove_world``: remove an app's world from its store entirely;
* ``tim_py.lowlevel``: the C functions by name, raw JSON keys.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from .client import TIM, EventIterator, Future
from .errors import (
    AdminError,
    CallInterrupted,
    ClientOpenError,
    InternalError,
    InvalidIdentifierError,
    InvalidOperationError,
    InvalidParameterError,
    NotInitializedError,
    NotLoggedInError,
    ProfileError,
    SizeLimitError,
    StoreError,
    TIMError,
    UnsupportedError,
    UserSigError,
    error_for,
)
from .types import (
    EVENT,
    TYPES,
    AllowType,
    CustomField,
    Event,
    ForbidType,
    Gender,
    LoginStatus,
    Profile,
    UserStatus,
    UserStatusType,
)
from .usersig import gen_user_sig
from .world import remove_world

if TYPE_CHECKING:
    from .aio import AsyncTIM

    __version__: str  # read on first use: see _version()

__all__ = [
    "TIM", "AsyncTIM", "Future", "EventIterator", "gen_user_sig", "remove_world",
    "Profile", "UserStatus", "CustomField", "Event",
    "Gender", "AllowType", "ForbidType", "UserStatusType", "LoginStatus", "TYPES", "EVENT",
    "TIMError", "NotInitializedError", "NotLoggedInError", "InvalidParameterError",
    "InvalidIdentifierError", "CallInterrupted", "InvalidOperationError", "InternalError",
    "ProfileError", "UserSigError", "SizeLimitError", "StoreError", "AdminError",
    "UnsupportedError", "ClientOpenError", "error_for",
]


def _version() -> str:
    """The version, stated once, in the file VERSION at the top of the source tree: as the
    installed distribution's metadata has it (pyproject.toml reads it from that file), else,
    from a source tree that is not installed, that file itself."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tim_py")
    except PackageNotFoundError:
        pass
    try:
        with open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "VERSION"),
                  encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "AsyncTIM":  # tim_py.AsyncTIM without importing asyncio up front
        from .aio import AsyncTIM

        return AsyncTIM
    if name == "__version__":  # importlib.metadata takes some 20 ms to import: not up front either
        globals()["__version__"] = v = _version()
        return v
    raise AttributeError(f"module 'tim_py' has no attribute {name!r}")
