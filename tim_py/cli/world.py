"""The world a command works on: its data directory and app, the client on it, and reads.

The data directory (or a ``postgresql://`` URI: a world in that database) and the
SDKAppID come from an option or else an environment variable; a client is opened
on them (its failures become ``CLIError``s), logged in as a helper account where
reading needs it, and asked for profiles, statuses and which accounts exist, in
calls of a size the library takes.
"""
from __future__ import annotations

import argparse
import contextlib
import os
from typing import Any, Callable, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple, TypeVar

from .. import TIM
from .._core import UINT64_MAX
from .._storeurl import is_store_url, redact
from .._ffi import lib
from ..errors import TIMError
from ..types import Profile, UserStatus
from . import EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, CLIError, T
from .render import err, is_utf8, shown
from .values import whole_number

ENV_DATA_DIR = "TIM_PY_DATA_DIR"
ENV_APP_ID = "TIM_PY_SDK_APP_ID"
#: the app's secret key for ``serve``: the environment keeps it out of the process list
ENV_SECRET_KEY = "TIM_PY_SECRET_KEY"
DEFAULT_APP_ID = 1400000001
#: the account ``profile show`` and ``status show`` log in as (reading others' status needs a login)
DEFAULT_READER = "tim-py-cli"
#: the account ``watch`` logs in as
DEFAULT_WATCHER = "tim-py-watch"
#: the app admin ``serve`` accepts when none is named (the vendor's default admin account)
DEFAULT_ADMIN = "administrator"
_T = TypeVar("_T")


def given(args: argparse.Namespace, attr: str, option: str, env: str) -> Tuple[Optional[str], str]:
    """The value of ``option``, else of the environment variable ``env`` (unset or empty: None),
    and the one it came from."""
    v = getattr(args, attr, None)
    if v is not None:
        return v, option
    return os.environ.get(env) or None, env


def data_dir(args: argparse.Namespace) -> str:
    d, source = given(args, "data_dir", "--data-dir", ENV_DATA_DIR)
    if d is None:
        raise CLIError(
            f"no data directory: give --data-dir DIR or set {ENV_DATA_DIR}=DIR "
            "(the directory every process of the world opens; it is created when missing; "
            "or a postgresql:// URI)", EXIT_USAGE)
    return check_dir(d, source)


def check_dir(d: str, source: str) -> str:
    """A data directory: a UTF-8 path (the library takes UTF-8) to a directory, or to nothing yet;
    or a postgresql:// URI (shown only through :func:`where_shown`)."""
    if not d:
        raise CLIError(f"{source} must not be empty", EXIT_USAGE)
    if not is_utf8(d) or "\x00" in d:
        raise CLIError(f"{source} must be a UTF-8 path (the library takes UTF-8), got {shown(redact(d))}",
                       EXIT_USAGE)
    if is_store_url(d):
        return d
    if os.path.exists(d) and not os.path.isdir(d):
        raise CLIError(f"{source} {d}: not a directory", EXIT_USAGE)
    return d


def positive_int(text: str, source: str, what: str, hi: int = UINT64_MAX) -> int:
    n = whole_number(text, 1, hi)
    if n is None:
        raise CLIError(f"{source} must be {what} between 1 and {hi}, got {shown(text)}", EXIT_USAGE)
    return n


def app_id(args: argparse.Namespace) -> int:
    v, source = given(args, "app_id", "--app-id", ENV_APP_ID)
    if v is None:
        return DEFAULT_APP_ID
    return positive_int(v, source, f"an SDKAppID (such as {DEFAULT_APP_ID})")


def store_path(data_dir: str, app_id: int) -> str:
    return os.path.join(data_dir, f"timref-{app_id}.db")


def where_shown(where: str) -> str:
    """A data directory as messages show it: a URI without its password."""
    return redact(where)


def has_world(where: str, app_id: int) -> bool:
    """Whether ``where`` holds a world for the app.  A database is taken as holding one: it is
    reached only by opening a client, whose failure says what is wrong."""
    return is_store_url(where) or os.path.exists(store_path(where, app_id))


def is_load_error(e: OSError) -> bool:
    return str(e).startswith("tim_py: cannot load")


def library_error(e: OSError) -> CLIError:
    """TIM_PY_LIBRARY names a file the loader refused: say which and why (usage error, exit 2)."""
    text = str(e)
    text = text[len("tim_py: "):] if text.startswith("tim_py: ") else text
    return CLIError(f"{text} (the library named by TIM_PY_LIBRARY; unset it to use the compiled-in timref)",
                    EXIT_USAGE)


@contextlib.contextmanager
def load_errors() -> Iterator[None]:
    """The loader refusing TIM_PY_LIBRARY's file (an OSError) raised as :func:`library_error`;
    any other OSError as it is."""
    try:
        yield
    except OSError as e:
        if is_load_error(e):
            raise library_error(e) from None
        raise


def open_client(app_id: int, data_dir: str, **kw: Any) -> TIM:
    """``TIM(app_id, data_dir, ...)``, its failures as CLIErrors."""
    with load_errors():
        try:
            return TIM(app_id, data_dir, **kw)
        except TIMError as e:
            raise CLIError(f"cannot open the store in {where_shown(data_dir)}: [{e.code}] {e.desc}") from None
        except (TypeError, ValueError) as e:
            raise CLIError(str(e), EXIT_USAGE) from None


def open_world(args: argparse.Namespace, must_exist: bool) -> TIM:
    """A client on the world of ``--data-dir``/``--app-id``.

    ``must_exist``: refuse (exit 3) when the directory has no store for this app, instead
    of creating an empty world because of a typo.
    """
    where_dir = data_dir(args)
    app = app_id(args)
    if must_exist and not has_world(where_dir, app):
        where = "does not exist" if not os.path.isdir(where_dir) else f"has no timref-{app}.db"
        raise CLIError(
            f"no world for app {app} in {where_dir} (the directory {where}); check --data-dir/"
            f"{ENV_DATA_DIR} and --app-id/{ENV_APP_ID}, or create users first with "
            "'tim-py user create'", EXIT_NOT_FOUND)
    return open_client(app, where_dir)


def login(tim: TIM, user_id: str, what: str) -> None:
    try:
        tim.login(user_id, "tim-py-cli").result(T)
    except TIMError as e:
        raise CLIError(f"cannot log in as {shown(user_id)} (the account {what} uses; pick another with "
                       f"--as): [{e.code}] {e.desc}") from None


def chunks(items: Sequence[_T], n: int) -> Iterator[Sequence[_T]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def unique(ids: Iterable[str]) -> List[str]:
    return list(dict.fromkeys(ids))


def _read(get: Callable[[List[str]], Any], ids: Sequence[str], per_call: int) -> Dict[str, Any]:
    """{user_id: result} of the existing accounts among ``ids`` (any number; ``per_call`` a call)."""
    found: Dict[str, Any] = {}
    for part in chunks(ids, per_call):
        try:
            for x in get(list(part)).result(T):
                found[x.user_id] = x
        except TIMError as e:
            if e.code != lib.ERR_SVR_PROFILE_ACCOUNT_NOT_FOUND:
                raise
    return found


def read_profiles(tim: TIM, ids: Sequence[str]) -> Dict[str, Profile]:
    """Profiles of the existing accounts among ``ids`` (any number; 100 per call)."""
    return _read(tim.get_user_profile, ids, 100)


def read_statuses(tim: TIM, ids: Sequence[str]) -> Dict[str, UserStatus]:
    return _read(tim.get_user_status, ids, 500)


def missing(ids: Sequence[str], found: Dict[str, Any]) -> int:
    absent = [i for i in ids if i not in found]
    if absent:
        err(f"no such user: {', '.join(absent)}")
        return EXIT_NOT_FOUND
    return EXIT_OK


def id_looks_valid(user_id: str) -> bool:
    """The identifier rule: 1 to 32 characters, each printable ASCII (space to tilde).

    The library is the judge of the IDs it is given; the command line uses this only to keep
    a bad ID out of a batched lookup, and for gen-usersig, which has no library to ask.
    """
    return 0 < len(user_id) <= 32 and all(" " <= c <= "~" for c in user_id)


def existing(tim: TIM, ids: Sequence[str]) -> Set[str]:
    """Which of ``ids`` are existing accounts (account_check, 100 IDs a request)."""
    ids = [i for i in unique(ids) if id_looks_valid(i)]
    if not ids:
        return set()
    return {i for i, imported in tim.admin.check_accounts(ids).result(T).items() if imported}
