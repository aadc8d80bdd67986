/*
 * th_util.h - helpers shared by the native test programs (header only, so
 * that every test_*.c stays one program linked with harness.c).
 *
 *  - tu_run(): run one call that takes (const char*, cb, ud) and return its
 *    th_call; when the call was refused synchronously, code holds the return
 *    value (negative) and the harness has checked that no callback fired.
 *    tu_admin(), tu_login() and tu_logout() do the same for the calls that take
 *    two strings or none (all through tu_call()).
 *  - TU_EXPECT(): run one call and check its code (and a substring of desc).
 *  - TU_PROFILE() / TU_STATUS(): read one user's profile or status and check
 *    the code; TU_EXPECT_STATUS_TYPE(), TU_EXPECT_PROFILE_INT() and
 *    TU_EXPECT_NO_ACCOUNT() check one field (or that there is no account).
 *  - tu_ev: a recorder for the event callbacks, with waits that poll up to a
 *    timeout and matchers on the decoded JSON; tu_order_probe: a completion
 *    callback that checks the change's event came first.
 *  - tu_spawn_child() / tu_wait_child(): run this test program again (via
 *    /proc/self/exe and posix_spawn) with a mode argument, to play another
 *    process; wait for it with a timeout.
 */
#ifndef TIMREF_TEST_UTIL_H
#define TIMREF_TEST_UTIL_H

#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

typedef int (*tu_fn)(const char*, TIMCommCallback, const void*);
/* The calls that take two strings: TIMLogin(id, sig, ...), TIMRefAdminRequest(api, body, ...). */
typedef int (*tu_fn2)(const char*, const char*, TIMCommCallback, const void*);

/* Run f(a, ...) or, when f2 is not NULL, f2(a, b, ...) (see tu_run). */
static inline th_call* tu_call(tu_fn f, tu_fn2 f2, const char* a, const char* b) {
    th_call* c;
    int rc;
    TH_RUN(rc, c, f2 ? f2(a, b, th_cb, cb_ud) : f(a, th_cb, cb_ud));
    if (rc != TIM_SUCC) c->code = rc;
    return c;
}

static inline th_call* tu_run(tu_fn f, const char* arg) { return tu_call(f, NULL, arg, NULL); }

static inline th_call* tu_admin(const char* api, const char* body) {
    return tu_call(NULL, TIMRefAdminRequest, api, body);
}

static inline th_call* tu_login(const char* id, const char* sig) { return tu_call(NULL, TIMLogin, id, sig); }

/* TIMLogout as a tu_fn (its argument is not used). */
static inline int tu_logout_fn(const char* unused, TIMCommCallback cb, const void* ud) {
    (void)unused;
    return TIMLogout(cb, ud);
}

static inline th_call* tu_logout(void) { return tu_run(tu_logout_fn, NULL); }

/* Check a finished call's code, and that desc contains desc_has (when not NULL). */
static inline void tu_expect_at(const char* file, int line, const char* what, th_call* c, int want,
                                const char* desc_has) {
    th_check(c->code == want, file, line, what, "code %d, want %d; desc \"%s\" json \"%.200s\"",
             (int)c->code, want, c->desc ? c->desc : "", c->json ? c->json : "");
    if (desc_has)
        th_check(c->desc && strstr(c->desc, desc_has) != NULL, file, line, what,
                 "desc \"%s\" lacks \"%s\"", c->desc ? c->desc : "(null)", desc_has);
}

/* Run f(arg) and check the code (and desc substring); frees the call. */
#define TU_EXPECT(f, arg, want, desc_has)                                  \
    do {                                                                   \
        th_call* tu_c_ = tu_run((f), (arg));                               \
        tu_expect_at(__FILE__, __LINE__, #f "(" #arg ")", tu_c_, (want), (desc_has)); \
        th_call_free(tu_c_);                                               \
    } while (0)

#define TU_ADMIN_EXPECT(api, body, want)                                   \
    do {                                                                   \
        th_call* tu_c_ = tu_admin((api), (body));                          \
        tu_expect_at(__FILE__, __LINE__, "admin " #api, tu_c_, (want), NULL); \
        th_call_free(tu_c_);                                               \
    } while (0)

#define TU_LOGIN_OK(id)                                                    \
    do {                                                                   \
        th_call* tu_c_ = tu_login((id), "sig");                            \
        tu_expect_at(__FILE__, __LINE__, "login " #id, tu_c_, 0, NULL);    \
        th_call_free(tu_c_);                                               \
    } while (0)

#define TU_LOGOUT_OK()                                                     \
    do {                                                                   \
        th_call* tu_c_ = tu_logout();                                      \
        tu_expect_at(__FILE__, __LINE__, "logout", tu_c_, 0, NULL);        \
        th_call_free(tu_c_);                                               \
    } while (0)

/* desc contains at least one of the NULL-terminated list of needles. */
static inline void tu_has_any_at(const char* file, int line, const char* desc, ...) {
    va_list ap;
    va_start(ap, desc);
    int ok = 0;
    char wanted[512] = "";
    for (const char* n = va_arg(ap, const char*); n; n = va_arg(ap, const char*)) {
        if (desc && strstr(desc, n)) ok = 1;
        if (strlen(wanted) + strlen(n) + 4 < sizeof wanted) {
            strcat(wanted, n);
            strcat(wanted, " | ");
        }
    }
    va_end(ap);
    th_check(ok, file, line, "desc names the offending key", "desc \"%s\" lacks any of %s",
             desc ? desc : "(null)", wanted);
}
#define TU_HAS_ANY(desc, ...) tu_has_any_at(__FILE__, __LINE__, (desc), __VA_ARGS__, (const char*)NULL)

/* Parse JSON text (NULL when it is not JSON). */
static inline json_t* tu_parse(const char* s) {
    if (!s) return NULL;
    json_error_t err;
    return json_loads(s, JSON_DECODE_ANY, &err);
}

/* Serialize a json_t and drop the reference (returns malloc'd text). */
static inline char* tu_dump(json_t* j) {
    char* s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    if (!s) abort();
    return s;
}

static inline char* tu_strdup(const char* s) {
    char* r = strdup(s);
    if (!r) abort();
    return r;
}

/* A string of n copies of ch (malloc'd). */
static inline char* tu_repeat(char ch, size_t n) {
    char* s = malloc(n + 1);
    if (!s) abort();
    memset(s, ch, n);
    s[n] = 0;
    return s;
}

/* {"friendship_getprofilelist_param_identifier_array": [ids...]} */
static inline char* tu_profile_param(const char* const* ids, size_t n) {
    json_t* a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_string(ids[i]));
    return tu_dump(json_pack("{s:o}", "friendship_getprofilelist_param_identifier_array", a));
}

/* A bare JSON array of ids. */
static inline char* tu_id_array(const char* const* ids, size_t n) {
    json_t* a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_string(ids[i]));
    return tu_dump(a);
}

/*
 * Call f with param (freed here) for one user; returns the one object of the
 * answer's array (new reference) or NULL, and the code in *code.
 */
static inline json_t* tu_get_one(tu_fn f, char* param, int* code) {
    th_call* c = tu_run(f, param);
    free(param);
    if (code) *code = c->code;
    json_t* out = NULL;
    if (c->code == 0) {
        json_t* arr = tu_parse(c->json);
        if (json_is_array(arr) && json_array_size(arr) == 1) out = json_incref(json_array_get(arr, 0));
        json_decref(arr);
    }
    th_call_free(c);
    return out;
}

/* Read one user's profile through TIMProfileGetUserProfileList (object or NULL). */
static inline json_t* tu_get_profile(const char* id, int* code) {
    const char* ids[1] = {id};
    return tu_get_one(TIMProfileGetUserProfileList, tu_profile_param(ids, 1), code);
}

/* Read one user's status through TIMGetUserStatus (object, new reference, or NULL). */
static inline json_t* tu_get_status(const char* id, int* code) {
    const char* ids[1] = {id};
    return tu_get_one(TIMGetUserStatus, tu_id_array(ids, 1), code);
}

static inline const char* tu_jstr(json_t* o, const char* key) {
    json_t* v = json_object_get(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static inline long long tu_jint(json_t* o, const char* key) {
    json_t* v = json_object_get(o, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : -999999;
}

/*
 * Run an admin request; check its code, that desc holds desc_has (when given), and, when
 * the call got an answer (code >= 0), that json_params is the REST answer of that code.
 * Returns the decoded answer (caller decrefs).
 */
static inline json_t* tu_admin_answer_at(const char* file, int line, const char* api, const char* body, int want,
                                         const char* desc_has) {
    th_call* c = tu_admin(api, body);
    tu_expect_at(file, line, api, c, want, desc_has);
    json_t* a = tu_parse(c->json);
    if (c->code >= 0) {
        th_check(json_is_object(a), file, line, "the answer is a JSON object", "%.200s", c->json);
        th_check(tu_jint(a, "ErrorCode") == c->code, file, line, "the answer's ErrorCode", "%.200s", c->json);
        const char* st = tu_jstr(a, "ActionStatus");
        th_check(st && strcmp(st, c->code ? "FAIL" : "OK") == 0, file, line, "the answer's ActionStatus", "%.200s",
                 c->json);
        th_check(json_is_string(json_object_get(a, "ErrorInfo")), file, line, "the answer's ErrorInfo", "%.200s",
                 c->json);
    }
    th_call_free(c);
    return a;
}
#define ADMIN(api, body, want, desc_has) tu_admin_answer_at(__FILE__, __LINE__, (api), (body), (want), (desc_has))
#define ADMIN_CODE(api, body, want, desc_has) json_decref(ADMIN((api), (body), (want), (desc_has)))

/* Read id's profile (TU_PROFILE) or status (TU_STATUS) and check the call's code is want;
 * returns the object (new reference) or NULL. */
static inline json_t* tu_read_at(const char* file, int line, json_t* (*get)(const char*, int*), const char* id,
                                 int want) {
    int code;
    json_t* o = get(id, &code);
    th_check(code == want, file, line, get == tu_get_status ? "TIMGetUserStatus" : "TIMProfileGetUserProfileList",
             "%s: code %d, want %d", id, code, want);
    return o;
}
#define TU_PROFILE(id, want) tu_read_at(__FILE__, __LINE__, tu_get_profile, (id), (want))
#define TU_STATUS(id, want) tu_read_at(__FILE__, __LINE__, tu_get_status, (id), (want))

/* id's status reads (code 0) with this user_status_status_type. */
static inline void tu_expect_status_type_at(const char* file, int line, const char* id, int type) {
    json_t* s = tu_read_at(file, line, tu_get_status, id, 0);
    th_check(tu_jint(s, "user_status_status_type") == type, file, line, "user_status_status_type",
             "%s: %lld, want %d", id, tu_jint(s, "user_status_status_type"), type);
    json_decref(s);
}
#define TU_EXPECT_STATUS_TYPE(id, type) tu_expect_status_type_at(__FILE__, __LINE__, (id), (type))

/* id's profile reads (code 0) with this integer field. */
static inline void tu_expect_profile_int_at(const char* file, int line, const char* id, const char* key,
                                            long long want) {
    json_t* p = tu_read_at(file, line, tu_get_profile, id, 0);
    th_check(tu_jint(p, key) == want, file, line, key, "%s: %lld, want %lld", id, tu_jint(p, key), want);
    json_decref(p);
}
#define TU_EXPECT_PROFILE_INT(id, key, want) tu_expect_profile_int_at(__FILE__, __LINE__, (id), (key), (want))

/* No account id: reading its profile fails with 40003. */
#define TU_EXPECT_NO_ACCOUNT(id) json_decref(TU_PROFILE((id), 40003))

/* Import accounts through the admin surface, 100 per request. */
static inline void tu_import_range(const char* prefix, int from, int to) {
    for (int i = from; i < to;) {
        json_t* a = json_array();
        for (int k = 0; k < 100 && i < to; k++, i++) {
            char id[64];
            snprintf(id, sizeof id, "%s%03d", prefix, i);
            json_array_append_new(a, json_string(id));
        }
        char* body = tu_dump(json_pack("{s:o}", "Accounts", a));
        th_call* c = tu_admin("v4/im_open_login_svc/multiaccount_import", body);
        th_check(c->code == 0, __FILE__, __LINE__, "multiaccount_import", "code %d desc %s",
                 (int)c->code, c->desc);
        th_call_free(c);
        free(body);
    }
}

static inline void tu_import(const char* id) {
    char* body = tu_dump(json_pack("{s:s}", "UserID", id));
    th_call* c = tu_admin("v4/im_open_login_svc/account_import", body);
    th_check(c->code == 0, __FILE__, __LINE__, "account_import", "%s: code %d desc %s", id,
             (int)c->code, c->desc);
    th_call_free(c);
    free(body);
}

/* ref/set_user_status for id; custom may be NULL (left as it is). Returns the code. */
static inline int tu_set_status(const char* id, int type, const char* custom) {
    json_t* b = json_pack("{s:s,s:i}", "UserID", id, "StatusType", type);
    if (custom) json_object_set_new(b, "CustomStatus", json_string(custom));
    char* body = tu_dump(b);
    th_call* c = tu_admin("ref/set_user_status", body);
    int code = c->code;
    th_call_free(c);
    free(body);
    return code;
}

/* v4/profile/portrait_set of one tag with a string value. Returns the code. */
static inline int tu_portrait_set_str(const char* id, const char* tag, const char* value) {
    char* body = tu_dump(json_pack("{s:s,s:[{s:s,s:s}]}", "From_Account", id, "ProfileItem", "Tag",
                                   tag, "Value", value));
    th_call* c = tu_admin("v4/profile/portrait_set", body);
    int code = c->code;
    th_call_free(c);
    free(body);
    return code;
}

/* ---------------------------------------------------------------------------
 * Event recorder
 * ------------------------------------------------------------------------- */

typedef struct tu_ev {
    pthread_mutex_t mu;
    char** v;
    size_t n, cap;
    pthread_t main_thread;
    int on_main; /* events that ran on main_thread (must stay 0) */
} tu_ev;

static inline void tu_ev_init(tu_ev* e) {
    memset(e, 0, sizeof *e);
    pthread_mutex_init(&e->mu, NULL);
    e->main_thread = pthread_self();
}

static inline void tu_ev_cb(const char* json, const void* ud) {
    tu_ev* e = (tu_ev*)ud;
    char* copy = tu_strdup(json ? json : "(null)");
    pthread_mutex_lock(&e->mu);
    if (pthread_equal(pthread_self(), e->main_thread)) e->on_main++;
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 64;
        e->v = realloc(e->v, e->cap * sizeof *e->v);
        if (!e->v) abort();
    }
    e->v[e->n++] = copy;
    pthread_mutex_unlock(&e->mu);
}

static inline void tu_ev_clear(tu_ev* e) {
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->n; i++) free(e->v[i]);
    e->n = 0;
    pthread_mutex_unlock(&e->mu);
}

static inline void tu_ev_free(tu_ev* e) {
    tu_ev_clear(e);
    free(e->v);
    e->v = NULL;
    e->cap = 0;
    pthread_mutex_destroy(&e->mu);
}

static inline size_t tu_ev_count(tu_ev* e) {
    pthread_mutex_lock(&e->mu);
    size_t n = e->n;
    pthread_mutex_unlock(&e->mu);
    return n;
}

/* A decoded copy of event i (new reference, or NULL). */
static inline json_t* tu_ev_doc(tu_ev* e, size_t i) {
    pthread_mutex_lock(&e->mu);
    char* s = i < e->n ? tu_strdup(e->v[i]) : NULL;
    pthread_mutex_unlock(&e->mu);
    json_t* j = tu_parse(s);
    free(s);
    return j;
}

static inline int tu_obj_match(json_t* o, const char* idkey, const char* id, const char* key,
                               const char* sval, long long ival) {
    if (!json_is_object(o)) return 0;
    const char* got = tu_jstr(o, idkey);
    if (!got || strcmp(got, id) != 0) return 0;
    if (!key) return 1;
    json_t* v = json_object_get(o, key);
    if (sval) return json_is_string(v) && strcmp(json_string_value(v), sval) == 0;
    return json_is_integer(v) && json_integer_value(v) == ival;
}

/*
 * Index (>= from) of the first event holding an object whose idkey is id and,
 * when key is not NULL, whose key equals sval (string) or ival (integer when
 * sval is NULL); -1 when none.  *one_elem tells whether that event was a
 * one-element array.
 */
static inline long tu_ev_find(tu_ev* e, size_t from, const char* idkey, const char* id,
                              const char* key, const char* sval, long long ival, int* one_elem) {
    size_t n = tu_ev_count(e);
    for (size_t i = from; i < n; i++) {
        json_t* d = tu_ev_doc(e, i);
        int hit = 0;
        if (json_is_array(d)) {
            for (size_t k = 0; k < json_array_size(d); k++)
                if (tu_obj_match(json_array_get(d, k), idkey, id, key, sval, ival)) hit = 1;
            if (hit && one_elem) *one_elem = json_array_size(d) == 1;
        } else if (tu_obj_match(d, idkey, id, key, sval, ival)) {
            hit = 1;
            if (one_elem) *one_elem = 0;
        }
        json_decref(d);
        if (hit) return (long)i;
    }
    return -1;
}

static inline long tu_ev_wait(tu_ev* e, size_t from, const char* idkey, const char* id,
                              const char* key, const char* sval, long long ival, int* one_elem,
                              int timeout_ms) {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    size_t scanned = from;
    for (;;) {
        size_t n = tu_ev_count(e);
        if (n > scanned) {
            long r = tu_ev_find(e, scanned, idkey, id, key, sval, ival, one_elem);
            if (r >= 0) return r;
            scanned = n;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms > timeout_ms) return -1;
        th_sleep_ms(2);
    }
}

/* Wait until at least n events were recorded; returns 1 when they were. */
static inline int tu_ev_wait_count(tu_ev* e, size_t n, int timeout_ms) {
    for (int waited = 0; waited <= timeout_ms; waited += 2) {
        if (tu_ev_count(e) >= n) return 1;
        th_sleep_ms(2);
    }
    return tu_ev_count(e) >= n;
}

/*
 * A completion callback that notes whether the change's event (the first event
 * since base in ev whose idkey is id and whose key is sval) had already been
 * delivered when it ran: the event comes before the completion.
 */
typedef struct tu_order_probe {
    pthread_mutex_t mu;
    int fired, code;
    tu_ev* ev;
    size_t base;
    const char *idkey, *id, *key, *sval;
    long event_at_completion; /* index of the change's event when the completion ran, -1 if none yet */
} tu_order_probe;

static inline void tu_order_probe_init(tu_order_probe* o, tu_ev* ev, const char* idkey, const char* id,
                                       const char* key, const char* sval) {
    memset(o, 0, sizeof *o);
    pthread_mutex_init(&o->mu, NULL);
    o->ev = ev;
    o->base = tu_ev_count(ev);
    o->idkey = idkey;
    o->id = id;
    o->key = key;
    o->sval = sval;
}

static inline void tu_order_probe_cb(int32_t code, const char* desc, const char* json, const void* ud) {
    (void)desc;
    (void)json;
    tu_order_probe* o = (tu_order_probe*)ud;
    long idx = tu_ev_find(o->ev, o->base, o->idkey, o->id, o->key, o->sval, 0, NULL);
    pthread_mutex_lock(&o->mu);
    o->fired++;
    o->code = code;
    o->event_at_completion = idx;
    pthread_mutex_unlock(&o->mu);
}

/* Wait (5 s) for the probe's completion; check it fired once, with code 0, after the event.  Destroys it. */
static inline void tu_order_probe_check_at(const char* file, int line, tu_order_probe* o) {
    for (int w = 0; w < 5000; w += 2) {
        pthread_mutex_lock(&o->mu);
        int f = o->fired;
        pthread_mutex_unlock(&o->mu);
        if (f) break;
        th_sleep_ms(2);
    }
    pthread_mutex_lock(&o->mu);
    th_check(o->fired == 1, file, line, "the completion fired once", "%d times", o->fired);
    th_check(o->code == 0, file, line, "the completion's code", "%d", o->code);
    /* behaviour.md: the event fires before the completion */
    th_check(o->event_at_completion >= 0, file, line, "the event came before the completion", "%s %s",
             o->id, o->sval);
    pthread_mutex_unlock(&o->mu);
    pthread_mutex_destroy(&o->mu);
}
#define TU_ORDER_PROBE_CHECK(o) tu_order_probe_check_at(__FILE__, __LINE__, (o))

#define TU_STATUS_WAIT(e, from, id, key, sval, ival) \
    tu_ev_wait((e), (from), "user_status_identifier", (id), (key), (sval), (ival), NULL, 5000)

/* ---- other processes ------------------------------------------------------ */

extern char** environ;

/* Run this program again as "exe mode dir [id]" (id NULL: left out); the child's pid, or -1
 * (checked) when it could not be started. */
static inline pid_t tu_spawn_child(const char* mode, const char* dir, const char* id) {
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) abort();
    exe[n] = 0;
    char* argv[] = {exe, (char*)mode, (char*)dir, (char*)id, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, exe, NULL, NULL, argv, environ);
    th_check(rc == 0, __FILE__, __LINE__, "posix_spawn", "%d", rc);
    return rc == 0 ? pid : -1;
}

/* Wait for the child; returns its wait status, or -1 on timeout (the child is then killed). */
static inline int tu_wait_child(pid_t pid, int timeout_ms) {
    if (pid <= 0) return -1;
    int st;
    for (int w = 0; w < timeout_ms; w += 5) {
        if (waitpid(pid, &st, WNOHANG) == pid) return st;
        th_sleep_ms(5);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

#endif
