"""Removing a world entirely: :func:`remove_world` (timref's ``TIMRefRemoveWorld``).

A world is an app's accounts, profiles, statuses, sessions and events in one store: a data
directory (the files ``timref-<sdk_app_id>.*``) or, for a ``postgresql://`` URI, the schema
``timref_<sdk_app_id>`` and its row in ``timref.app``.  ``admin.world_reset`` empties a world
through an open client; this removes it, with no client open (docs/postgresql.md).
"""
from __future__ import annotations

import os
from typing import Any, Dict

from ._core import _dumps, check_c_str, check_uint, last_error, type_name
from ._ffi import lib
from ._storeurl import is_store_url, scrub
from .errors import error_for_return

__all__ = ["remove_world"]

_UINT64_MAX = 0xFFFFFFFFFFFFFFFF


def remove_world(sdk_app_id: int, data_dir: "os.PathLike[str] | str") -> None:
    """Remove the world of ``sdk_app_id`` in ``data_dir`` entirely.

    ``data_dir`` is what ``TIM`` takes: a directory, or a ``postgresql://`` (``postgres://``)
    URI.  Synchronous; no client needs to be open.  A world that does not exist is no error.

    Refused, with :class:`~tim_py.InvalidParameterError` whose ``reason`` says why (a server
    named as ``host:port/dbname``, never with its password), while any process has the world
    open (a ``TIM`` or ``AsyncTIM`` of that app and store, this process's included; a user
    logged in anywhere means an open client), or when the server cannot be reached.
    Simulated sessions (``admin.set_user_status``) belong to no process: they go with the
    world.  Raises :class:`~tim_py.UnsupportedError` when the loaded C library is not timref.
    """
    check_uint("sdk_app_id", sdk_app_id, 0, _UINT64_MAX)
    if not isinstance(data_dir, (str, os.PathLike)):
        raise TypeError(f"data_dir must be a str or a path, got {type_name(data_dir)}")
    path = os.fspath(data_dir)
    if not isinstance(path, str):
        raise TypeError("data_dir must be a str path, not bytes")
    check_c_str("data_dir", path)
    if not path:
        raise ValueError("data_dir must name a directory or a postgresql:// URI, got ''")
    url = path if is_store_url(path) else None
    config: Dict[str, Any] = {"timref_config_store_url" if url else "sdk_config_config_file_path": path}
    rc = lib.tp_TIMRefRemoveWorld(sdk_app_id, _dumps(config))
    if rc != 0:
        raise error_for_return(rc, "TIMRefRemoveWorld", scrub(last_error(), url) if url else last_error())
