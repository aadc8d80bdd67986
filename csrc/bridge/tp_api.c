/*
 * tp_api.c - the library in use: the function table, generated from TP_FUNCTIONS (tp_bridge.h);
 * the table of the compiled-in timref; tp_load, which fills a table from another library with
 * dlopen + dlsym; and the thin wrappers tp_TIM...() that every Python call goes through.
 *
 * Every wrapper reads the current table once and calls through it, so one switch (tp_load)
 * moves every call, and a call costs one indirect call more than calling timref directly.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_bridge.h"
#include "tp_internal.h"

#define TP_UNPAREN(...) __VA_ARGS__

/* ---- the function table --------------------------------------------------------------------- */

#define TP_FIELD_SYNC(need, ret, wret, name, params, args, missing) ret(*name) params;
#define TP_FIELD_ASYNC(need, name, params, args) \
    int (*name)(TP_UNPAREN params TIMCommCallback cb, const void* user_data);
#define TP_FIELD_EVENT(need, name, cbtype) void (*name)(cbtype cb, const void* user_data);

struct tp_api {
    TP_FUNCTIONS(TP_FIELD_SYNC, TP_FIELD_ASYNC, TP_FIELD_EVENT)
};

/* The compiled-in timref.  Initialising the typed fields with the real functions makes the
 * compiler check every type of TP_FUNCTIONS against TIMManager.h and TIMRef.h. */
#define TP_BUILTIN_SYNC(need, ret, wret, name, params, args, missing) .name = name,
#define TP_BUILTIN_ASYNC(need, name, params, args) .name = name,
#define TP_BUILTIN_EVENT(need, name, cbtype) .name = name,

static const struct tp_api tp_builtin = {
    TP_FUNCTIONS(TP_BUILTIN_SYNC, TP_BUILTIN_ASYNC, TP_BUILTIN_EVENT)
};
/* The table in use: the built-in one, or one filled by tp_load.  A loaded table is never
 * freed nor changed once published (a thread may still be calling through an older one), and
 * it is published with release order, read with acquire order (a plain load on x86). */
static const struct tp_api* tp_cur_table = &tp_builtin;
#define tp_cur (__atomic_load_n(&tp_cur_table, __ATOMIC_ACQUIRE))

/* Every table tp_load filled, kept (never freed) and reachable from here. */
struct tp_loaded {
    struct tp_loaded* next;
    struct tp_api api;
};
static struct tp_loaded* tp_loaded_tables; /* tp_load's callers take turns (tim_py's client slot) */

/* ---- choosing the library ------------------------------------------------------------------- */

/* 1 for a function tp_load must find, 0 for an optional one */
#define TP_NEEDED_REQ 1
#define TP_NEEDED_OPT 0

int tp_load(const char* path, char* err, size_t errlen) {
    if (!path || !*path) {
        __atomic_store_n(&tp_cur_table, &tp_builtin, __ATOMIC_RELEASE);
        return 0;
    }
    void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, errlen, "%s", dlerror());
        return -1;
    }
    struct tp_loaded* node = calloc(1, sizeof *node);
    if (!node) {
        snprintf(err, errlen, "out of memory");
        dlclose(h);
        return -1;
    }
    struct tp_api* api = &node->api;
    /* dlsym returns an object pointer; memcpy moves it into the typed function pointer
     * without a conversion ISO C leaves undefined.  A missing optional function stays NULL. */
#define TP_SYM(name, required)                                                                     \
    do {                                                                                           \
        dlerror();                                                                                 \
        void* sym = dlsym(h, #name);                                                               \
        if (!sym && (required)) {                                                                  \
            snprintf(err, errlen, "%s does not export %s", path, #name);                           \
            free(node);                                                                            \
            dlclose(h);                                                                            \
            return -1;                                                                             \
        }                                                                                          \
        memcpy(&api->name, &sym, sizeof sym);                                                      \
    } while (0);
#define TP_LOAD_SYNC(need, ret, wret, name, params, args, missing) TP_SYM(name, TP_NEEDED_##need)
#define TP_LOAD_ASYNC(need, name, params, args) TP_SYM(name, TP_NEEDED_##need)
#define TP_LOAD_EVENT(need, name, cbtype) TP_SYM(name, TP_NEEDED_##need)
    TP_FUNCTIONS(TP_LOAD_SYNC, TP_LOAD_ASYNC, TP_LOAD_EVENT)
#undef TP_SYM
    node->next = tp_loaded_tables;
    tp_loaded_tables = node;
    __atomic_store_n(&tp_cur_table, api, __ATOMIC_RELEASE);
    return 0;
}

int tp_has_admin(void) { return tp_cur->TIMRefAdminRequest != NULL; }

int tp_is_builtin(void) { return tp_cur == &tp_builtin; }

void tp_set_event_callbacks(int on) {
    tp_cur->TIMSetSelfInfoUpdatedCallback(on ? tp_on_self_info : NULL, NULL);
    tp_cur->TIMSetUserStatusChangedCallback(on ? tp_on_user_status : NULL, NULL);
    tp_cur->TIMSetUserInfoChangedCallback(on ? tp_on_user_info : NULL, NULL);
    if (tp_cur->TIMSetKickedOfflineCallback) /* optional: a library may not have it */
        tp_cur->TIMSetKickedOfflineCallback(on ? tp_on_kicked_offline : NULL, NULL);
}

/* ---- the wrappers: every Python call goes through the table ---------------------------------
 *
 * A REQ function is called straight through the table; an OPT one first checks that the
 * library has it (TP_GUARD_OPT).  The prototypes are those of tp_cdef.h. */

#define TP_GUARD_REQ(name, missing)
#define TP_GUARD_OPT(name, missing) \
    if (!tp_cur->name) return missing;

#define TP_WRAP_SYNC(need, ret, wret, name, params, args, missing) \
    wret tp_##name params {                                        \
        TP_GUARD_##need(name, missing)                             \
        return (wret)tp_cur->name args;                            \
    }
#define TP_WRAP_ASYNC(need, name, params, args)                                                \
    int tp_##name(TP_UNPAREN params uint64_t token) {                                          \
        TP_GUARD_##need(name, TP_ERR_UNSUPPORTED)                                              \
        return tp_cur->name(TP_UNPAREN args tp_on_complete, (const void*)(uintptr_t)token);    \
    }
#define TP_WRAP_EVENT(need, name, cbtype)

TP_FUNCTIONS(TP_WRAP_SYNC, TP_WRAP_ASYNC, TP_WRAP_EVENT)
