"""The compiled module, imported in one place (build_ffi.py builds it from csrc/bridge and timref).

cffi builds ``_tim`` without type information: ``ffi`` and ``lib`` are ``Any``
to a type checker.
"""
from ._tim import ffi, lib  # type: ignore[import-not-found]  # noqa: F401

__all__ = ["ffi", "lib"]
