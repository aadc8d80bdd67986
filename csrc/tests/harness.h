/*
 * harness.h - a small test harness for timref's native tests.
 *
 * Checks record a failure and go on; th_finish() prints the tally as
 * "N passed, N failed" and returns the exit status.  Asynchronous calls are
 * made synchronous with a th_call: pass th_cb and the th_call as callback and
 * user_data, then th_wait() for the one callback.  th_wait() also checks that
 * the callback ran on another thread and fired exactly once.
 */
#ifndef TIMREF_TEST_HARNESS_H
#define TIMREF_TEST_HARNESS_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "TIMCloud.h"
#include "TIMRef.h"

void th_check(int ok, const char* file, int line, const char* expr, const char* fmt, ...)
    __attribute__((format(printf, 5, 6)));
int th_finish(void);

#define CHECK(cond) th_check(!!(cond), __FILE__, __LINE__, #cond, NULL)
#define CHECK_INT(a, b)                                                                  \
    do {                                                                                 \
        long long th_a_ = (long long)(a), th_b_ = (long long)(b);                        \
        th_check(th_a_ == th_b_, __FILE__, __LINE__, #a " == " #b, "%lld != %lld", th_a_, \
                 th_b_);                                                                 \
    } while (0)
#define CHECK_STR(a, b)                                                                        \
    do {                                                                                       \
        const char *th_a_ = (a), *th_b_ = (b);                                                 \
        th_check(th_a_ && th_b_ && strcmp(th_a_, th_b_) == 0, __FILE__, __LINE__, #a " == " #b, \
                 "\"%s\" != \"%s\"", th_a_ ? th_a_ : "(null)", th_b_ ? th_b_ : "(null)");      \
    } while (0)
/* desc (or any string) contains the substring */
#define CHECK_HAS(hay, needle)                                                               \
    do {                                                                                     \
        const char *th_h_ = (hay), *th_n_ = (needle);                                        \
        th_check(th_h_ && strstr(th_h_, th_n_) != NULL, __FILE__, __LINE__, #hay " has " #needle, \
                 "\"%s\" lacks \"%s\"", th_h_ ? th_h_ : "(null)", th_n_);                     \
    } while (0)

/* One asynchronous call's outcome. */
typedef struct th_call {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fired;          /* how many times the callback ran */
    int32_t code;
    char* desc;         /* copies, freed by th_call_free */
    char* json;
    pthread_t thread;   /* the thread the callback ran on */
    int timed_out;      /* th_wait gave up: th_call_free keeps the record */
} th_call;

th_call* th_call_new(void);
void th_call_free(th_call* c);
/* The TIMCommCallback to pass with a th_call as user_data. */
void th_cb(int32_t code, const char* desc, const char* json_params, const void* user_data);
/* Wait (10 s, or TIMREF_TEST_WAIT_SECONDS) for the callback; check it fired once, off the
 * caller's thread. */
int th_wait(th_call* c);

/*
 * Convenience: run one call and return its outcome (caller frees).  `rc`
 * receives the synchronous return value; when it is not TIM_SUCC the call's
 * callback must not fire, which is checked too.
 */
#define TH_RUN(rc, c, expr_with_cb_ud)                                  \
    do {                                                                \
        (c) = th_call_new();                                            \
        th_call* cb_ud = (c);                                           \
        (rc) = (expr_with_cb_ud);                                       \
        if ((rc) == TIM_SUCC) th_wait(c);                               \
        else th_expect_no_callback(c);                                  \
    } while (0)
void th_expect_no_callback(th_call* c);

/* A fresh, empty directory under $TIMREF_TEST_TMP (or /tmp); caller frees. */
char* th_tempdir(const char* tag);
/* rm -rf of a directory made by th_tempdir. */
void th_rmdir(const char* path);

/* Sleep for ms milliseconds. */
void th_sleep_ms(int ms);

#endif
