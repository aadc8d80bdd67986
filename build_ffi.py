"""cffi builder for tim_py._tim (API mode, out of line).

The compiled module holds two things:

* timref itself: every C file listed in csrc/sources.txt (the same list CMake
  reads), so ``pip install`` needs no separate native build;
* the C bridge of csrc/bridge (prefix ``tp_``) that Python talks to instead of
  the TIM* functions: the function table, the loader (``tp_load``) and the
  thin wrappers ``tp_TIMLogin(..., token)`` (tp_api.c), and the completion
  queue with its eventfd (tp_queue.c).  csrc/bridge/tp_bridge.h says how it
  works; CMake builds the same files (timref_bridge) and
  csrc/tests/test_bridge.c tests them.

This file only points cffi at those files.  The cdef is read from two headers:
csrc/bridge/tp_cdef.h (the bridge's declarations; tp_bridge.h includes it, so
the C compiler checks that very text against the definitions) and
csrc/bridge/tp_cdef_constants.h (the ERR_*, TIM_* and k* constants, which
cffi's generated C evaluates against the TIM headers).
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(HERE, "csrc")
BRIDGE = os.path.join(CSRC, "bridge")


def _rel(path: str) -> str:
    """Paths relative to the current directory when possible (setuptools likes them)."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive
        return path
    return path if rel.startswith("..") else rel


def read_sources() -> list[str]:
    out = []
    with open(os.path.join(CSRC, "sources.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(_rel(os.path.join(CSRC, line)))
    if not out:
        raise RuntimeError("csrc/sources.txt lists no C files")
    return out


def read_version() -> str:
    """The version, stated once in the VERSION file (CMake and pyproject.toml read it too)."""
    with open(os.path.join(HERE, "VERSION"), encoding="utf-8") as f:
        return f.read().strip()


def link_flags() -> tuple[list[str], list[str], list[str], list[str]]:
    """(include_dirs, library_dirs, libraries, extra_link_args) for the dependencies."""
    libraries = ["jansson", "sqlite3", "pq", "z", "crypto", "pthread"]
    include_dirs: list[str] = []
    library_dirs: list[str] = []
    extra: list[str] = []
    pkg = shutil.which("pkg-config")
    if pkg:
        try:
            out = subprocess.run(
                [pkg, "--cflags", "--libs", "jansson", "sqlite3", "libpq", "zlib", "libcrypto"],
                check=True, capture_output=True, text=True,
            ).stdout
        except (OSError, subprocess.CalledProcessError):
            out = ""
        for flag in shlex.split(out):
            if flag.startswith("-I"):
                include_dirs.append(flag[2:])
            elif flag.startswith("-L"):
                library_dirs.append(flag[2:])
            elif flag.startswith("-l"):
                if flag[2:] not in libraries:
                    libraries.append(flag[2:])
            elif flag:
                extra.append(flag)
    return include_dirs, library_dirs, libraries, extra


# What cffi reads: both files hold plain declarations, no preprocessor directive.
CDEF_HEADERS = ("tp_cdef.h", "tp_cdef_constants.h")


def read_cdef() -> str:
    parts = []
    for name in CDEF_HEADERS:
        with open(os.path.join(BRIDGE, name), encoding="utf-8") as f:
            parts.append(f.read())
    return "\n".join(parts)


def bridge_sources() -> list[str]:
    """Every C file of csrc/bridge (CMake's timref_bridge globs the same)."""
    out = sorted(_rel(os.path.join(BRIDGE, n)) for n in os.listdir(BRIDGE) if n.endswith(".c"))
    if not out:
        raise RuntimeError("csrc/bridge holds no C files")
    return out


def make_builder() -> FFI:
    ffi = FFI()
    ffi.cdef(read_cdef())
    inc, libdirs, libs, extra_link = link_flags()
    ffi.set_source(
        "tim_py._tim",
        '#include "tp_bridge.h"\n',
        sources=bridge_sources() + read_sources(),
        include_dirs=[_rel(BRIDGE), _rel(os.path.join(CSRC, "include")),
                      _rel(os.path.join(CSRC, "src"))] + inc,
        define_macros=[("_GNU_SOURCE", None), ("TIMREF_VERSION", '"%s"' % read_version())],
        extra_compile_args=["-std=c11", "-fvisibility=hidden", "-O2",
                            "-Werror=incompatible-pointer-types",
                            "-Werror=implicit-function-declaration"],
        library_dirs=libdirs,
        libraries=libs + ["dl"],
        extra_link_args=extra_link,
    )
    return ffi


ffibuilder = make_builder()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
