"""library= / TIM_PY_LIBRARY: drive another build of the C interface."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from tim_py import TIM, UnsupportedError, _bridge
from tim_py._ffi import lib

from .conftest import APP_ID, KEY, run_python

T = 5


def test_native_library(native_lib, tmp_path):
    with TIM(APP_ID, tmp_path, library=native_lib, secret_key=KEY) as t:
        assert not lib.tp_is_builtin()
        assert t.library == native_lib
        assert t.sdk_version.startswith("timref ")
        assert t.has_admin
        t.admin.import_account("bob", nick="Bob").result(T)
        from tim_py import gen_user_sig

        t.login("alice", gen_user_sig(APP_ID, KEY, "alice")).result(T)
        got = []
        t.on("onProfileUpdated", got.append)
        t.update_my_profile(nick="Alice").result(T)
        assert got[-1].data[0].nick == "Alice"
        assert [p.nick for p in t.get_user_profile(["alice", "bob"]).result(T)] == ["Alice", "Bob"]
        futs = [t.get_user_status(["alice"]) for _ in range(500)]
    assert all(f.done() for f in futs)
    # back to the compiled-in timref, which never saw this store's session
    with TIM(APP_ID, tmp_path) as t:
        assert lib.tp_is_builtin()
        assert t.get_user_profile(["alice"]).exception(T).code == 6014
        t.login("bob", "x").result(T)
        assert t.get_user_profile(["alice"]).result(T)[0].nick == "Alice"


def test_env_variable(native_lib):
    code = ("import tim_py; from tim_py._ffi import lib\n"
            "with tim_py.TIM(1) as t:\n"
            "    assert not lib.tp_is_builtin()\n"
            "    t.login('a', 's').result(5)\n"
            "    print(t.library)\n")
    r = run_python(code, env={"TIM_PY_LIBRARY": native_lib})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == native_lib


def test_bad_library_path(tmp_path):
    with pytest.raises(OSError, match="cannot load"):
        TIM(APP_ID, library=str(tmp_path / "nope.so"))
    assert _bridge.current() is None


@pytest.fixture(scope="session")
def vendor_like_lib(native_lib, tmp_path_factory):
    """A library with every TIM* function but not TIMRefAdminRequest (like a vendor build)."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("vendor")
    names = ["TIMInit", "TIMUninit", "TIMGetSDKVersion", "TIMGetServerTime", "TIMLogin", "TIMLogout",
             "TIMGetLoginUserID", "TIMGetLoginStatus", "TIMProfileGetUserProfileList",
             "TIMProfileModifySelfUserProfile", "TIMGetUserStatus", "TIMSetSelfStatus",
             "TIMSubscribeUserStatus", "TIMUnsubscribeUserStatus", "TIMSubscribeUserInfo",
             "TIMUnsubscribeUserInfo", "TIMSetSelfInfoUpdatedCallback", "TIMSetUserStatusChangedCallback",
             "TIMSetUserInfoChangedCallback"]
    # Re-export timref's functions through a thin shim that lacks the admin surface.
    src = ["#include <dlfcn.h>", "#include <stdlib.h>", "static void* h;",
           "static void* f(const char* n) { if (!h) h = dlopen(\"%s\", RTLD_NOW | RTLD_LOCAL); "
           "return dlsym(h, n); }" % native_lib]
    protos = {
        "TIMInit": ("int", "unsigned long long a, const char* b", "a, b"),
        "TIMUninit": ("int", "void", ""),
        "TIMGetSDKVersion": ("const char*", "void", ""),
        "TIMGetServerTime": ("unsigned long long", "void", ""),
        "TIMLogin": ("int", "const char* a, const char* b, void* c, const void* d", "a, b, c, d"),
        "TIMLogout": ("int", "void* c, const void* d", "c, d"),
        "TIMGetLoginUserID": ("int", "char* a", "a"),
        "TIMGetLoginStatus": ("int", "void", ""),
    }
    for n in names:
        ret, params, args = protos.get(n, ("int", "const char* a, void* c, const void* d", "a, c, d"))
        if n.startswith("TIMSet") and n.endswith("Callback"):
            ret, params, args = "void", "void* c, const void* d", "c, d"
        ptr_params = params if params != "void" else "void"
        src.append(f"__attribute__((visibility(\"default\"))) {ret} {n}({params}) "
                   f"{{ {ret} (*p)({ptr_params}) = ({ret} (*)({ptr_params}))f(\"{n}\"); "
                   f"{'return ' if ret != 'void' else ''}p({args}); }}")
    c = d / "vendorlike.c"
    c.write_text("\n".join(src) + "\n")
    so = d / "libvendorlike.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(so), str(c), "-ldl"], check=True)
    return str(so)


def test_library_without_admin_surface(vendor_like_lib, tmp_path):
    with TIM(APP_ID, tmp_path, library=vendor_like_lib) as t:
        assert not t.has_admin
        with pytest.raises(UnsupportedError, match="timref-only"):
            t.admin.import_account("bob")
        with pytest.raises(UnsupportedError):
            t.raw.call("TIMRefAdminRequest", "v4/profile/portrait_get", {})
        # everything else works
        t.login("alice", "sig").result(T)
        assert t.get_my_profile().result(T).user_id == "alice"
