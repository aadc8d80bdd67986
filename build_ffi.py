"""cffi builder for tim_py._tim (API mode, out of line).

The compiled module holds two things:

* timref itself: every C file listed in csrc/sources.txt (the same list CMake
  reads), so ``pip install`` needs no separate native build;
* a small C bridge (prefix ``tp_``) that Python talks to instead of the TIM*
  functions directly:

  - ``struct tp_api``, a table of pointers to every TIM* function of
    TIMManager.h plus TIMRefAdminRequest.  By default it points at the
    compiled-in timref; ``tp_load(path)`` fills it from another build of the C
    interface (a vendor ``libImSDK.so``, or ``build/native/libtimref.so``)
    with dlopen + dlsym.  Every Python call goes through a thin wrapper
    ``tp_TIMLogin(...)`` etc. that calls through the table, so one switch
    moves every call.
  - the completion queue.  The C callbacks given to the library copy
    (kind, token, code, desc, json) into a node of a mutex-protected singly
    linked list and write to an eventfd only when the list goes from empty to
    non-empty.  ``user_data`` is an integer token, never a Python object, and
    no Python code ever runs on the library's logic thread.  Python takes the
    whole list at once with ``tp_drain`` and frees it with ``tp_free_items``.

The cdef declares only what Python needs.  Because set_source includes the
real headers and assigns the real functions to the typed table, the C
compiler checks our prototypes against the headers.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
CSRC = os.path.join(HERE, "csrc")


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
    with open(os.path.join(CSRC, "CMakeLists.txt"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"project\s*\(\s*\w+[^)]*?\bVERSION\s+([0-9][0-9A-Za-z.\-]*)", text)
    if not m:
        raise RuntimeError("cannot find project(... VERSION x.y.z) in csrc/CMakeLists.txt")
    return m.group(1)


def link_flags() -> tuple[list[str], list[str], list[str], list[str]]:
    """(include_dirs, library_dirs, libraries, extra_link_args) for the dependencies."""
    libraries = ["jansson", "sqlite3", "z", "crypto", "pthread"]
    include_dirs: list[str] = []
    library_dirs: list[str] = []
    extra: list[str] = []
    pkg = shutil.which("pkg-config")
    if pkg:
        try:
            out = subprocess.run(
                [pkg, "--cflags", "--libs", "jansson", "sqlite3", "zlib", "libcrypto"],
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


# ---------------------------------------------------------------------------
# The function table: name, return type, parameters.  "CB" marks the
# (TIMCommCallback cb, const void* user_data) pair, which the Python-facing
# wrapper replaces by a uint64_t token; "EV:<type>" marks an event setter.
# ---------------------------------------------------------------------------

FUNCTIONS = [
    ("TIMInit", "int", ["uint64_t sdk_app_id", "const char* json_sdk_config"]),
    ("TIMUninit", "int", []),
    ("TIMGetSDKVersion", "const char*", []),
    ("TIMGetServerTime", "uint64_t", []),
    ("TIMLogin", "int", ["const char* user_id", "const char* user_sig", "CB"]),
    ("TIMLogout", "int", ["CB"]),
    ("TIMGetLoginUserID", "int", ["char* user_id_buffer"]),
    ("TIMGetLoginStatus", "enum TIMLoginStatus", []),
    ("TIMProfileGetUserProfileList", "int", ["const char* json", "CB"]),
    ("TIMProfileModifySelfUserProfile", "int", ["const char* json", "CB"]),
    ("TIMGetUserStatus", "int", ["const char* json", "CB"]),
    ("TIMSetSelfStatus", "int", ["const char* json", "CB"]),
    ("TIMSubscribeUserStatus", "int", ["const char* json", "CB"]),
    ("TIMUnsubscribeUserStatus", "int", ["const char* json", "CB"]),
    ("TIMSubscribeUserInfo", "int", ["const char* json", "CB"]),
    ("TIMUnsubscribeUserInfo", "int", ["const char* json", "CB"]),
    ("TIMSetSelfInfoUpdatedCallback", "void", ["EV:TIMSelfInfoUpdatedCallback"]),
    ("TIMSetUserStatusChangedCallback", "void", ["EV:TIMUserStatusChangedCallback"]),
    ("TIMSetUserInfoChangedCallback", "void", ["EV:TIMUserInfoChangedCallback"]),
    ("TIMRefAdminRequest", "int", ["const char* api", "const char* json_body", "CB"]),
    ("TIMRefGetLastError", "const char*", []),
]
# timref only: NULL in the table when a loaded library lacks them; their wrappers
# then answer TP_ERR_UNSUPPORTED (int) or "" (text).
OPTIONAL = {"TIMRefAdminRequest", "TIMRefGetLastError"}


def _c_params(params: list[str]) -> list[str]:
    out = []
    for p in params:
        if p == "CB":
            out += ["TIMCommCallback cb", "const void* user_data"]
        elif p.startswith("EV:"):
            out += [p[3:] + " cb", "const void* user_data"]
        else:
            out.append(p)
    return out or ["void"]


def _argname(p: str) -> str:
    return re.split(r"[\s*]+", p.strip())[-1]


# The queue's node: one text for the C source and for the cdef.
TP_ITEM = """
typedef struct tp_item {
    struct tp_item* next;
    uint64_t token;
    int kind;
    int code;
    size_t desc_len;
    size_t json_len;
    const char* desc;
    const char* json;
} tp_item;
"""


def _bridge_source() -> tuple[str, str]:
    """(C source of the bridge, cdef text for the wrappers)."""
    fields, builtin, loads, wrappers, cdefs = [], [], [], [], []
    for name, ret, params in FUNCTIONS:
        fields.append(f"    {ret} (*{name})({', '.join(_c_params(params))});")
        builtin.append(f"    {name},")
        required = "0" if name in OPTIONAL else "1"
        loads.append(f'    TP_SYM({name}, {required});')
        if any(p.startswith("EV:") for p in params):
            continue  # event setters are driven by tp_set_event_callbacks
        py_params, call_args = [], []
        for p in params:
            if p == "CB":
                py_params.append("uint64_t token")
                call_args += ["tp_on_complete", "(const void*)(uintptr_t)token"]
            else:
                py_params.append(p)
                call_args.append(_argname(p))
        py_ret = "int" if ret == "enum TIMLoginStatus" else ret
        sig = f"{py_ret} tp_{name}({', '.join(py_params) or 'void'})"
        if name in OPTIONAL:
            missing = '""' if ret == "const char*" else "TP_ERR_UNSUPPORTED"
            body = (f"    if (!tp_cur->{name}) return {missing};\n"
                    f"    return tp_cur->{name}({', '.join(call_args)});")
        elif ret == "void":
            body = f"    tp_cur->{name}({', '.join(call_args)});"
        else:
            body = f"    return ({py_ret})tp_cur->{name}({', '.join(call_args)});"
        wrappers.append(f"{sig} {{\n{body}\n}}")
        cdefs.append(sig + ";")

    src = r"""
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "TIMCloud.h"
#include "TIMRef.h"

#define TP_KIND_CALL 0
#define TP_KIND_SELF_INFO 1
#define TP_KIND_USER_STATUS 2
#define TP_KIND_USER_INFO 3
#define TP_ERR_UNSUPPORTED (-100)

/* One completion or event, copied out of the library's callback. */
%(item)s

/* ---- the function table ------------------------------------------------- */

struct tp_api {
%(fields)s
};

static const struct tp_api tp_builtin = {
%(builtin)s
};
static struct tp_api tp_loaded;
static const struct tp_api* tp_cur = &tp_builtin;

/* ---- the completion queue ------------------------------------------------ */

static pthread_mutex_t tp_mu = PTHREAD_MUTEX_INITIALIZER;
static tp_item* tp_head;
static tp_item* tp_tail;
static int tp_count;
static int tp_efd = -1;
static pthread_once_t tp_efd_once = PTHREAD_ONCE_INIT;
static tp_item tp_oom_item; /* static fallback node, see tp_push */
static int tp_oom_used;

static void tp_make_eventfd(void) {
    tp_efd = eventfd(0, EFD_CLOEXEC);
    if (tp_efd < 0) {
        fprintf(stderr, "tim_py: eventfd failed: %%s\n", strerror(errno));
    }
}

int tp_eventfd(void) {
    pthread_once(&tp_efd_once, tp_make_eventfd);
    return tp_efd;
}

static void tp_wake_fd(void) {
    uint64_t one = 1;
    int fd = tp_eventfd();
    if (fd < 0) return;
    while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

/* Wake whoever waits on the eventfd without queuing anything. */
void tp_wake(void) { tp_wake_fd(); }

static void tp_push(int kind, uint64_t token, int code, const char* desc, const char* json) {
    size_t dl = desc ? strlen(desc) : 0;
    size_t jl = json ? strlen(json) : 0;
    tp_item* it = malloc(sizeof *it + dl + 1 + jl + 1);
    if (it) {
        char* d = (char*)(it + 1);
        char* j = d + dl + 1;
        if (dl) memcpy(d, desc, dl);
        d[dl] = 0;
        if (jl) memcpy(j, json, jl);
        j[jl] = 0;
        it->desc = d;
        it->json = j;
        it->desc_len = dl;
        it->json_len = jl;
        it->code = code;
    } else {
        /* Out of memory: a completion must still arrive, or a future would
         * wait forever (an event may be lost).  Try a bare node, then the one
         * static node. */
        if (kind != TP_KIND_CALL) return;
        it = malloc(sizeof *it);
        if (!it) {
            pthread_mutex_lock(&tp_mu);
            int used = tp_oom_used;
            tp_oom_used = 1;
            pthread_mutex_unlock(&tp_mu);
            if (used) {
                fprintf(stderr, "tim_py: out of memory in the completion queue\n");
                abort();
            }
            it = &tp_oom_item;
        }
        it->desc = "out of memory";
        it->json = "";
        it->desc_len = strlen(it->desc);
        it->json_len = 0;
        it->code = ERR_OUT_OF_MEMORY;
    }
    it->next = NULL;
    it->kind = kind;
    it->token = token;
    pthread_mutex_lock(&tp_mu);
    int was_empty = tp_head == NULL;
    if (tp_tail) tp_tail->next = it;
    else tp_head = it;
    tp_tail = it;
    tp_count++;
    pthread_mutex_unlock(&tp_mu);
    if (was_empty) tp_wake_fd();
}

/* Take the whole list (oldest first); returns how many items it holds. */
int tp_drain(tp_item** out) {
    pthread_mutex_lock(&tp_mu);
    *out = tp_head;
    int n = tp_count;
    tp_head = tp_tail = NULL;
    tp_count = 0;
    pthread_mutex_unlock(&tp_mu);
    return n;
}

void tp_free_items(tp_item* it) {
    while (it) {
        tp_item* next = it->next;
        if (it == &tp_oom_item) {
            pthread_mutex_lock(&tp_mu);
            tp_oom_used = 0;
            pthread_mutex_unlock(&tp_mu);
        } else {
            free(it);
        }
        it = next;
    }
}

static void tp_on_complete(int32_t code, const char* desc, const char* json, const void* ud) {
    tp_push(TP_KIND_CALL, (uint64_t)(uintptr_t)ud, code, desc, json);
}
static void tp_on_self_info(const char* json, const void* ud) {
    (void)ud;
    tp_push(TP_KIND_SELF_INFO, 0, 0, NULL, json);
}
static void tp_on_user_status(const char* json, const void* ud) {
    (void)ud;
    tp_push(TP_KIND_USER_STATUS, 0, 0, NULL, json);
}
static void tp_on_user_info(const char* json, const void* ud) {
    (void)ud;
    tp_push(TP_KIND_USER_INFO, 0, 0, NULL, json);
}

/* Install (on != 0) or remove the three event callbacks in the current library. */
void tp_set_event_callbacks(int on) {
    tp_cur->TIMSetSelfInfoUpdatedCallback(on ? tp_on_self_info : NULL, NULL);
    tp_cur->TIMSetUserStatusChangedCallback(on ? tp_on_user_status : NULL, NULL);
    tp_cur->TIMSetUserInfoChangedCallback(on ? tp_on_user_info : NULL, NULL);
}

/* ---- choosing the library ------------------------------------------------ */

/*
 * path NULL or "": the compiled-in timref.  Otherwise dlopen(path) and look up
 * every function; returns 0, or -1 with a message in err.  A library once
 * loaded is never unloaded (its threads may outlive a client).
 */
int tp_load(const char* path, char* err, size_t errlen) {
    if (!path || !*path) {
        tp_cur = &tp_builtin;
        return 0;
    }
    void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errlen, "%%s", dlerror());
        return -1;
    }
    struct tp_api api;
    memset(&api, 0, sizeof api);
#define TP_SYM(name, required)                                                              \
    do {                                                                                    \
        dlerror();                                                                          \
        void* sym = dlsym(h, #name);                                                        \
        if (!sym && required) {                                                             \
            snprintf(err, errlen, "%%s does not export %%s", path, #name);                  \
            return -1;                                                                      \
        }                                                                                   \
        memcpy(&api.name, &sym, sizeof sym);                                                \
    } while (0)
%(loads)s
#undef TP_SYM
    tp_loaded = api;
    tp_cur = &tp_loaded;
    return 0;
}

/* 1 when the current library has the timref admin surface. */
int tp_has_admin(void) { return tp_cur->TIMRefAdminRequest != NULL; }

/* 1 when the compiled-in timref is in use. */
int tp_is_builtin(void) { return tp_cur == &tp_builtin; }

/* ---- thin wrappers: every Python call goes through the table ------------- */

%(wrappers)s
""" % {
        "fields": "\n".join(fields),
        "builtin": "\n".join(builtin),
        "loads": "\n".join(loads),
        "wrappers": "\n\n".join(wrappers),
        "item": TP_ITEM,
    }
    return src, "\n".join(cdefs)


CONSTANTS = [
    # enum TIMResult
    "TIM_SUCC", "TIM_ERR_SDKUNINIT", "TIM_ERR_NOTLOGIN", "TIM_ERR_JSON", "TIM_ERR_PARAM",
    "TIM_ERR_CONV", "TIM_ERR_GROUP",
    # enums of TIMCloudDef.h
    "kTIMGenderType_Unknown", "kTIMGenderType_Male", "kTIMGenderType_Female",
    "kTIMProfileAddPermission_Unknown", "kTIMProfileAddPermission_AllowAny",
    "kTIMProfileAddPermission_NeedConfirm", "kTIMProfileAddPermission_DenyAny",
    "kTIMUserStatusType_Unkown", "kTIMUserStatusType_Online", "kTIMUserStatusType_Offline",
    "kTIMUserStatusType_UnLogined",
    "kTIMLoginStatus_Logined", "kTIMLoginStatus_Logining", "kTIMLoginStatus_UnLogined",
    "kTIMLoginStatus_Logouting",
    # TIMErrorCode.h
    "ERR_SUCC", "ERR_SDK_NOT_INITIALIZED", "ERR_SDK_NOT_LOGGED_IN", "ERR_INVALID_PARAMETERS",
    "ERR_IO_OPERATION_FAILED", "ERR_INVALID_JSON", "ERR_OUT_OF_MEMORY",
    "ERR_SDK_NET_PKG_SIZE_LIMIT", "ERR_SDK_COMM_INVALID_IDENTIFIER", "ERR_SDK_COMM_INTERRUPT",
    "ERR_SDK_INTERNAL_ERROR", "ERR_SDK_INVALID_OPERATION",
    "ERR_SDK_FRIENDSHIP_INVALID_PROFILE_KEY", "ERR_SVR_PROFILE_INVALID_PARAMETERS",
    "ERR_SVR_PROFILE_ACCOUNT_MISS", "ERR_SVR_PROFILE_ACCOUNT_NOT_FOUND",
    "ERR_SVR_PROFILE_TAG_NOT_FOUND", "ERR_SVR_PROFILE_SIZE_LIMIT", "ERR_SVR_PROFILE_VALUE_ERROR",
    "ERR_SVR_PROFILE_INVALID_VALUE_FORMAT", "ERR_SVR_ACCOUNT_USERSIG_EXPIRED",
    "ERR_SVR_ACCOUNT_USERSIG_EMPTY", "ERR_SVR_ACCOUNT_USERSIG_CHECK_FAILED",
    "ERR_SVR_ACCOUNT_USERSIG_MISMATCH_ID", "ERR_SVR_ACCOUNT_USERSIG_MISMATCH_SDKAPPID",
    # the bridge
    "TP_KIND_CALL", "TP_KIND_SELF_INFO", "TP_KIND_USER_STATUS", "TP_KIND_USER_INFO",
    "TP_ERR_UNSUPPORTED",
]

CDEF_HEAD = TP_ITEM + """

int tp_eventfd(void);
void tp_wake(void);
int tp_drain(tp_item** out);
void tp_free_items(tp_item* items);
void tp_set_event_callbacks(int on);
int tp_load(const char* path, char* err, size_t errlen);
int tp_has_admin(void);
int tp_is_builtin(void);
"""


def make_builder() -> FFI:
    bridge, wrapper_cdefs = _bridge_source()
    ffi = FFI()
    ffi.cdef(CDEF_HEAD + wrapper_cdefs + "\n" +
             "\n".join(f"static const int {c};" for c in CONSTANTS))
    inc, libdirs, libs, extra_link = link_flags()
    ffi.set_source(
        "tim_py._tim",
        bridge,
        sources=read_sources(),
        include_dirs=[_rel(os.path.join(CSRC, "include")), _rel(os.path.join(CSRC, "src"))] + inc,
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
