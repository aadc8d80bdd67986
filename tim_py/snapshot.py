"""World snapshots as files: written atomically, read back checked.

A snapshot is the document ``client.admin.world_export()`` returns and
``client.admin.world_import()`` takes (docs/snapshots.md).  ``write`` saves one
so that a reader, or a crash at any moment, sees either the old file whole or
the new one whole, never a mix; ``read`` loads one and checks that it is a
snapshot this version reads.  The library checks every account when the
snapshot is imported; ``read`` checks only the head.

The command line (``tim-py world``), the pytest plugin and the dashboard use
these two functions, so a snapshot file is written and read in one way.
"""
from __future__ import annotations

import errno
import os
import stat
import tempfile
from typing import Any, Callable, Dict, Optional, Union

import orjson

__all__ = ["FORMAT", "VERSION", "MAX_FILE", "write", "read", "dumps", "loads", "Progress"]

#: The document's "Format" and the "Version" this tim_py reads and writes.
FORMAT = "timref-world"
VERSION = 1

#: The largest file ``read`` takes, in bytes: four times the library's limit for an import
#: (256 MiB of JSON; an exported file is that JSON indented, well under twice as long), so a
#: file that cannot be a snapshot the library takes is refused before it is held in memory.
MAX_FILE = 1 << 30

#: ``progress(done, total)``: bytes written or read so far, of ``total``.
Progress = Callable[[int, int], None]

#: Bytes per write or read, and per progress report.
_CHUNK = 1 << 20

PathLike = Union[str, "os.PathLike[str]"]


def _check_head(doc: Any, where: str) -> Dict[str, Any]:
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: a snapshot is a JSON object, got {type(doc).__name__}")
    if doc.get("Format") != FORMAT:
        raise ValueError(f"{where}: not a world snapshot (\"Format\" is {doc.get('Format')!r}, "
                         f"not {FORMAT!r})")
    version = doc.get("Version")
    if version != VERSION or isinstance(version, bool):
        raise ValueError(f"{where}: snapshot version {version!r}; this tim_py reads version {VERSION}")
    if not isinstance(doc.get("Accounts"), list):
        raise ValueError(f"{where}: \"Accounts\" must be a list")
    return doc


def dumps(doc: Dict[str, Any]) -> bytes:
    """The file's bytes for a snapshot: JSON indented by two spaces, keys in the document's
    order (the library's: accounts sorted by ID), a final newline.  The same document
    always gives the same bytes, so that snapshots compare and diff well."""
    _check_head(doc, "snapshot")
    try:
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError as e:
        raise ValueError(f"snapshot cannot be written as JSON: {e}") from None


def loads(data: Union[bytes, bytearray, memoryview, str], where: str = "snapshot") -> Dict[str, Any]:
    """A snapshot from its JSON text; ValueError naming ``where`` when it is not JSON or not a
    snapshot of this version."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise ValueError(f"{where}: not valid JSON: {e}") from None
    return _check_head(doc, where)


def write(path: PathLike, doc: Dict[str, Any], progress: Optional[Progress] = None) -> int:
    """Write the snapshot ``doc`` to ``path`` atomically; returns the bytes written.

    The text goes to a new file in the same directory (``.NAME.XXXX.tmp``), which is
    flushed to disk (fsync) and then renamed over ``path``; the directory is fsynced too,
    so the rename survives a power cut.  Until the rename, ``path`` is the old file,
    untouched: a process killed in the middle leaves it whole (and may leave its temporary
    file behind, which is safe to delete).  On an error the temporary file is removed and
    the error raised (OSError, or ValueError when ``doc`` is not a snapshot).

    A new file is private to its owner (mode 0600, like the store's files); a file that
    is replaced keeps its mode.  When ``path`` is a symlink, the file it names is replaced
    (the link stays); when it names something other than a regular file (a device, a pipe,
    a directory), OSError, and nothing is written.  ``progress(done, total)`` is called after each MiB
    written and at the end.
    """
    data = dumps(doc)
    # a symlink: the file it names is replaced, the link stays (the temporary file goes beside it)
    target = os.path.realpath(os.fspath(path))
    directory = os.path.dirname(target)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        mode: Optional[int] = None
    else:
        if not stat.S_ISREG(st.st_mode):  # a device (/dev/null), a pipe: never replaced by a file
            raise OSError(errno.EINVAL, f"{os.fspath(path)} exists and is not a regular file")
        mode = st.st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            view = memoryview(data)
            total = len(data)
            done = 0
            while done < total:
                done += f.write(view[done:done + _CHUNK])
                if progress is not None:
                    progress(done, total)
            if total == 0 and progress is not None:
                progress(0, 0)
            f.flush()
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return len(data)


def read(path: PathLike, progress: Optional[Progress] = None) -> Dict[str, Any]:
    """Read the snapshot at ``path``: the document, ready for ``admin.world_import``.

    Raises OSError when the file cannot be read, ValueError (naming the file) when it is
    larger than ``MAX_FILE``, not JSON, not a world snapshot, or of another version.  ``progress(done, total)`` is
    called after each MiB read and at the end.
    """
    target = os.fspath(path)
    too_large = f"{target}: larger than {MAX_FILE} bytes, more than a snapshot the library takes"
    with open(target, "rb") as f:
        total = os.fstat(f.fileno()).st_size
        if total > MAX_FILE:
            raise ValueError(too_large)
        buf = bytearray()
        while True:
            chunk = f.read(min(_CHUNK, MAX_FILE + 1 - len(buf)))
            if not chunk:
                break
            buf += chunk
            if len(buf) > MAX_FILE:  # not a regular file (a device, a pipe): its size was unknown
                raise ValueError(too_large)
            if progress is not None:
                progress(len(buf), max(total, len(buf)))
        if not buf and progress is not None:
            progress(0, 0)
    return loads(buf, target)
