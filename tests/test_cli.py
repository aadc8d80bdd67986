"""The tim-py command."""
from __future__ import annotations

from .conftest import run_python


def test_demo():
    r = run_python("from tim_py.cli import main; raise SystemExit(main())", "demo", timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for needle in ("logged in as 'alice'", "Hobby='go'", "bob: nick='Bob'", "bob is ONLINE",
                   "custom_status='at the beach'", "bob is OFFLINE", "login user: ''", "Done."):
        assert needle in out, needle


def test_module_help():
    r = run_python("import runpy, sys; sys.argv = ['tim-py', '--help']; runpy.run_module('tim_py', run_name='__main__')")
    assert r.returncode == 0
    assert "demo" in r.stdout and "gen-usersig" in r.stdout


def test_no_command_prints_help():
    r = run_python("from tim_py.cli import main; raise SystemExit(main([]))")
    assert r.returncode == 2 and "usage" in r.stdout
