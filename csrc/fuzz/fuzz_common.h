/*
 * fuzz_common.h - shared by the libFuzzer targets of the C API (header only).
 *
 * The targets call the public functions exactly as a program would and
 * check the callback rules of docs/contract.md 3.2 on every input:
 *   - a call that returned TIM_SUCC calls back exactly once,
 *   - a call that returned anything else never calls back,
 *   - desc and json_params are never NULL,
 *   - the callback runs within FZ_TIMEOUT_S (else: a hang, abort).
 * Calls complete in order, so a "fence" call made after the call under test
 * proves that no callback of it is still to come.  Any violation abort()s,
 * which libFuzzer reports as a crash with the input saved.
 */
#ifndef TIMREF_FUZZ_COMMON_H
#define TIMREF_FUZZ_COMMON_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "TIMCloud.h"
#include "TIMRef.h"

#define FZ_TIMEOUT_S 60

typedef struct fz_call {
    int fired;
    int32_t code;
    char* desc; /* copies (malloc'd), freed by fz_reset */
    char* json;
} fz_call;

static pthread_mutex_t fz_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t fz_cv = PTHREAD_COND_INITIALIZER;

static inline void fz_die(const char* what) {
    fprintf(stderr, "fuzz: contract violation: %s\n", what);
    abort();
}

static inline void fz_cb(int32_t code, const char* desc, const char* json, const void* ud) {
    fz_call* c = (fz_call*)ud;
    if (!desc) fz_die("desc is NULL");
    if (!json) fz_die("json_params is NULL");
    pthread_mutex_lock(&fz_mu);
    c->fired++;
    if (c->fired == 1) {
        c->code = code;
        c->desc = strdup(desc);
        c->json = strdup(json);
        if (!c->desc || !c->json) fz_die("out of memory in the harness");
    }
    pthread_cond_broadcast(&fz_cv);
    pthread_mutex_unlock(&fz_mu);
}

static inline void fz_reset(fz_call* c) {
    free(c->desc);
    free(c->json);
    memset(c, 0, sizeof *c);
}

/* Wait until c fired at least once; abort after FZ_TIMEOUT_S. */
static inline void fz_wait(fz_call* c) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += FZ_TIMEOUT_S;
    pthread_mutex_lock(&fz_mu);
    while (!c->fired) {
        if (pthread_cond_timedwait(&fz_cv, &fz_mu, &ts) == ETIMEDOUT) {
            pthread_mutex_unlock(&fz_mu);
            fz_die("no callback within the timeout (hang)");
        }
    }
    pthread_mutex_unlock(&fz_mu);
}

static inline int fz_fired(fz_call* c) {
    pthread_mutex_lock(&fz_mu);
    int n = c->fired;
    pthread_mutex_unlock(&fz_mu);
    return n;
}

/* A call made after the others: when it completes, all earlier ones have. */
static inline void fz_fence(void) {
    fz_call f = {0};
    if (TIMGetUserStatus("[\"fuzzer\"]", fz_cb, &f) != TIM_SUCC) fz_die("fence refused");
    fz_wait(&f);
    fz_reset(&f);
}

/* Check the outcome of a call that returned rc, with c as its user_data. */
static inline void fz_settle(int rc, fz_call* c) {
    if (rc == TIM_SUCC) fz_wait(c);
    fz_fence();
    int n = fz_fired(c);
    if (rc == TIM_SUCC && n != 1) fz_die("a call that returned TIM_SUCC did not call back exactly once");
    if (rc != TIM_SUCC && n != 0) fz_die("a refused call called back");
    if (rc != TIM_SUCC && rc != TIM_ERR_PARAM && rc != TIM_ERR_JSON) fz_die("unexpected return code");
}

/* NUL-terminated copy of the input (the API takes C strings). */
static inline char* fz_cstr(const uint8_t* data, size_t size) {
    char* s = malloc(size + 1);
    if (!s) fz_die("out of memory in the harness");
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Run one call synchronously (for setup and snapshots); returns the code. */
typedef int (*fz_fn)(const char*, TIMCommCallback, const void*);
static inline int fz_run(fz_fn f, const char* arg, char** json_out) {
    fz_call c = {0};
    int rc = f(arg, fz_cb, &c);
    fz_settle(rc, &c);
    int code = rc == TIM_SUCC ? c.code : rc;
    if (json_out) *json_out = rc == TIM_SUCC ? strdup(c.json) : strdup("");
    fz_reset(&c);
    return code;
}

static inline int fz_admin(const char* api, const char* body) {
    fz_call c = {0};
    int rc = TIMRefAdminRequest(api, body, fz_cb, &c);
    fz_settle(rc, &c);
    int code = rc == TIM_SUCC ? c.code : rc;
    fz_reset(&c);
    return code;
}

/* Initialize (in-memory store), import a few users and log in as "fuzzer". */
static inline void fz_setup(void) {
    if (TIMInit(1400000001, NULL) != TIM_SUCC) fz_die("TIMInit failed");
    if (fz_admin("v4/im_open_login_svc/multiaccount_import", "{\"Accounts\":[\"a\",\"b\",\"c\"]}") != 0)
        fz_die("import failed");
    fz_call c = {0};
    int rc = TIMLogin("fuzzer", "sig", fz_cb, &c);
    fz_settle(rc, &c);
    if (c.code != 0) fz_die("login failed");
    fz_reset(&c);
}

/* The LLVMFuzzerInitialize of the targets that run against fz_setup()'s session. */
#define FZ_INITIALIZE_WITH_SETUP()                        \
    int LLVMFuzzerInitialize(int* argc, char*** argv) {   \
        (void)argc;                                       \
        (void)argv;                                       \
        fz_setup();                                       \
        return 0;                                         \
    }

/*
 * The observable state a refused call must leave as it was: the profiles
 * and statuses of the fuzzer and the imported users (callback code and full
 * JSON text).  Caller frees.
 */
static inline char* fz_snapshot(void) {
    char *p = NULL, *s = NULL;
    int pc = fz_run(TIMProfileGetUserProfileList,
                    "{\"friendship_getprofilelist_param_identifier_array\":[\"fuzzer\",\"a\",\"b\",\"c\"]}", &p);
    int sc = fz_run(TIMGetUserStatus, "[\"fuzzer\",\"a\",\"b\",\"c\"]", &s);
    size_t n = strlen(p) + strlen(s) + 64;
    char* out = malloc(n);
    if (!out) fz_die("out of memory in the harness");
    snprintf(out, n, "%d %s | %d %s", pc, p, sc, s);
    free(p);
    free(s);
    return out;
}

/*
 * A call that failed (returned rc, or called back c with an error code) must
 * have left fz_snapshot() as `before` was; frees before.  `api` (when not
 * NULL) is printed with the states.
 */
static inline void fz_check_unchanged(char* before, int rc, const fz_call* c, const char* api,
                                      const char* violation) {
    char* after = fz_snapshot();
    if ((rc != TIM_SUCC || c->code != 0) && strcmp(before, after) != 0) {
        if (api) fprintf(stderr, "api %s\n", api);
        fprintf(stderr, "before: %s\nafter:  %s\ncode %d desc %s\n", before, after,
                rc == TIM_SUCC ? c->code : rc, c->desc ? c->desc : "");
        fz_die(violation);
    }
    free(before);
    free(after);
}

#endif
