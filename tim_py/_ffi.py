"""The compiled module, imported in one place (see build_ffi.py).

cffi builds ``_tim`` without type information: ``ffi`` and ``lib`` are ``Any``
to a type checker.
"""
from ._tim import ffi, lib  # type: ignore[import-not-found]  # noqa: F401

__all__ = ["ffi", "lib"]
