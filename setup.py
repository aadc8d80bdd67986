"""Build the compiled module tim_py._tim with cffi (see build_ffi.py).

Everything else about the package is in pyproject.toml.
"""
from setuptools import setup

setup(cffi_modules=["build_ffi.py:ffibuilder"])
