"""The README's complete examples run as written and print what the README says.

Every ```python or ```c block of README.md that is followed (after at most a
short paragraph) by a ```text block is a complete program, and the text block
is its output: the program is run (the C one compiled against timref) in a
fresh directory, and what it prints must match.  Only the profile's
last-updated time, a timestamp, may differ.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\s*$")
TIMESTAMP = re.compile(r'("user_profile_last_updated_time":)\d+')


def blocks(text: str) -> list:
    """[(lang, code, first line number, prose lines since the previous block)]"""
    out, lang, start, body, prose = [], None, 0, [], 0
    for n, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if lang is None:
            if m:
                lang, start, body = m.group(1), n + 1, []
            elif line.strip():
                prose += 1
        elif m and not m.group(1):
            out.append((lang, "\n".join(body) + "\n", start, prose))
            lang, prose = None, 0
        else:
            body.append(line)
    return out


def examples() -> list:
    bs = blocks(README.read_text(encoding="utf-8"))
    pairs = []
    for (lang, code, line, _), (nlang, expected, _l, prose) in zip(bs, bs[1:]):
        if lang in ("python", "c") and nlang == "text" and prose <= 3:
            pairs.append(pytest.param(lang, code, expected, id=f"README.md:{line}:{lang}"))
    return pairs


def test_the_readme_shows_its_examples_output():
    langs = [p.values[0] for p in examples()]
    assert langs.count("python") >= 2 and langs.count("c") >= 1, langs


def _run_python(code: str, cwd: Path) -> str:
    src = cwd / "example.py"
    src.write_text(code, encoding="utf-8")
    env = dict(os.environ)
    env.pop("TIM_PY_LIBRARY", None)
    r = subprocess.run([sys.executable, str(src)], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _run_c(code: str, cwd: Path) -> str:
    native = ROOT / "build" / "native"
    assert (native / "libtimref.so").exists(), "build timref first (make native)"
    src, exe = cwd / "example.c", cwd / "example"
    src.write_text(code, encoding="utf-8")
    cc = shutil.which("cc") or "gcc"
    subprocess.run([cc, "-std=c11", "-Wall", "-Werror", str(src), "-o", str(exe), "-I", str(ROOT / "csrc" / "include"),
                    "-L", str(native), "-ltimref", f"-Wl,-rpath,{native}", "-pthread"], check=True, timeout=120)
    r = subprocess.run([str(exe)], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("lang, code, expected", examples())
def test_readme_example_prints_what_the_readme_says(lang, code, expected, tmp_path):
    out = _run_python(code, tmp_path) if lang == "python" else _run_c(code, tmp_path)
    assert TIMESTAMP.sub(r"\g<1>0", out) == TIMESTAMP.sub(r"\g<1>0", expected)
