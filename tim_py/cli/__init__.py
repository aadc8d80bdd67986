"""The ``tim-py`` command (also ``python -m tim_py``): ``main``, its exit codes and its errors.

A *world* is a data directory shared by every process that opens it (timref's
SQLite store ``timref-<sdk_app_id>.db``).  Commands:

``tim-py user create|import|list|delete``  accounts (the admin surface, as the app's server would)
``tim-py profile show|set``           profiles
``tim-py status show|set``            user status
``tim-py watch ID...``                subscribe and print changes live
``tim-py world export|import|reset``  the whole world as a snapshot file, and back
``tim-py gen-usersig``                print a UserSig
``tim-py serve``                      the vendor's REST API over HTTP (docs/rest.md; aiohttp)
``tim-py completion bash|zsh|fish``   a shell completion script
``tim-py demo``                       a short tour, two processes included

Exit codes: 0 ok, 1 the operation failed (a TIMError: code and desc are
printed), 2 usage error (a bad option, argument or environment variable,
TIM_PY_LIBRARY that cannot be loaded included), 3 not found, 130 interrupted
(Ctrl-C).  Whatever a user types, the command prints a message, never a
traceback.  See docs/cli.md.

The modules: ``parser`` (the arguments), ``world`` (the data directory, the
app and the client), ``values`` (profile values as typed), ``render`` (text,
tables in colour on a terminal, and JSON output), ``progress`` (progress bars),
``commands`` (user create/list/delete, profile, status, gen-usersig),
``importing`` (user import), ``watch``, ``world_commands`` (world export,
import, reset), ``completion`` (shell completion scripts from the parser) and
``demo``.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType
from typing import Any, Callable, List, Optional

from .._ffi import lib
from ..errors import REST_ERR_NO_ACCOUNT, TIMError

__all__ = ["main", "CLIError", "EXIT_OK", "EXIT_FAILED", "EXIT_USAGE", "EXIT_NOT_FOUND", "EXIT_INTERRUPTED"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
#: no such account (profile / account APIs)
NOT_FOUND_CODES = frozenset((lib.ERR_SVR_PROFILE_ACCOUNT_NOT_FOUND, REST_ERR_NO_ACCOUNT))
T = 30.0  # seconds to wait for any one call: the library answers in milliseconds


class CLIError(Exception):
    """An error the command reports on stderr, with its exit code."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


class Terminated(BaseException):
    """SIGTERM, raised in the main thread (so that the client logs out and closes)."""


def main(argv: Optional[List[str]] = None) -> int:
    """Run the command line; returns the exit code (argparse exits itself: 0 for --help and
    --version, 2 for a usage error it finds)."""
    try:  # Ctrl-C while the modules load or in --version (which loads the library): no traceback
        from .parser import build_parser
        from .render import err

        encoding = (getattr(sys.stdout, "encoding", None) or "utf-8").lower().replace("-", "")
        if encoding != "utf8" and hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(errors="backslashreplace")  # a nick the terminal cannot show: B\xf3b
        parser = build_parser()
        args = parser.parse_args(argv)
    except KeyboardInterrupt:
        sys.stderr.write("tim-py: interrupted\n")
        return EXIT_INTERRUPTED
    func: Optional[Callable[[argparse.Namespace], int]] = getattr(args, "func", None)
    if func is None:
        group: argparse.ArgumentParser = getattr(args, "group", parser)
        group.print_help()
        return EXIT_USAGE
    previous: Any = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: Optional[FrameType]) -> None:
        raise Terminated()

    try:
        signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # not the main thread
        previous = None
    try:
        return func(args)
    except CLIError as e:
        err(str(e))
        return e.code
    except TIMError as e:
        err(f"error [{e.code}] {e.desc}")
        return EXIT_NOT_FOUND if e.code in NOT_FOUND_CODES else EXIT_FAILED
    except KeyboardInterrupt:
        err("interrupted")
        return EXIT_INTERRUPTED
    except Terminated:
        return 128 + signal.SIGTERM
    except BrokenPipeError:
        # the reader went away (tim-py watch bob | head -1): quietly, as a killed pipe writer
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return 128 + signal.SIGPIPE
    except TimeoutError:
        err(f"no answer from the library within {T:g} s")
        return EXIT_FAILED
    except OSError as e:  # the system refused something: a full disk, a closed terminal...
        err(f"error: {e}")
        return EXIT_FAILED
    except Exception as e:  # a bug: still no traceback, but say what and where to look
        err(f"internal error, please report it: {type(e).__name__}: {e}")
        return EXIT_FAILED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)

