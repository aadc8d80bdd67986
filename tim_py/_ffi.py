"""The compiled module, imported in one place (see build_ffi.py)."""
from ._tim import ffi, lib  # noqa: F401

__all__ = ["ffi", "lib"]
