"""Build the compiled modules: tim_py._tim with cffi (see build_ffi.py), and tim_py._decode, the
decoder of profile answers (csrc/python/tp_decode.c, CPython's limited API).

Everything else about the package is in pyproject.toml.
"""
from setuptools import Extension, setup

setup(
    cffi_modules=["build_ffi.py:ffibuilder"],
    ext_modules=[
        Extension("tim_py._decode", ["csrc/python/tp_decode.c"], py_limited_api=True,
                  extra_compile_args=["-std=c11", "-O2", "-fvisibility=hidden"]),
    ],
)
