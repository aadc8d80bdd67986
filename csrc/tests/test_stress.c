/*
 * test_stress.c - 16 threads call everything at once, for a bounded time
 * (TIMREF_STRESS_SECONDS, default 5), with login, logout, event callback
 * changes and TIMUninit/TIMInit interleaved, and callbacks that make new calls.
 *
 * Checks (docs/contract.md 3.2): every call that returned TIM_SUCC called back exactly
 * once and every refused call never did (checked after the last TIMUninit,
 * when nothing may still be pending); no callback ran on the thread that made
 * its call; desc and json_params were never NULL.  A watchdog aborts the
 * program if the whole run has not ended after TIMREF_STRESS_WATCHDOG seconds
 * (default 120): a deadlock fails the test instead of hanging it.  The TSan
 * and valgrind configurations run it too; the time bound keeps them short.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "th_util.h"

#define APPID 1411
#define N_THREADS 16
#define MAX_OUTSTANDING 32 /* per thread: bounds the queue */

typedef struct worker worker;

typedef struct rec {
    worker* w;
    pthread_t caller;
    int nested; /* made from inside a callback (on the logic thread) */
    int rc;     /* what the call returned */
    int fired;  /* callbacks seen, under w->mu */
} rec;

struct worker {
    int id;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    long outstanding; /* calls accepted and not yet called back */
    rec** recs;
    size_t n, cap;
    unsigned seed;
    long calls, refused;
};

static worker g_w[N_THREADS];
static atomic_bool g_stop;
static atomic_bool g_done;
static atomic_long g_violations;
static atomic_long g_events;
static atomic_long g_nested;
static atomic_long g_reinits;
static atomic_long g_cb_count;
static atomic_long g_codes[8]; /* 0, 6013, 6014, 7009, other callback errors, sync refusals, logins, logouts */

static void violation(const char* what) {
    atomic_fetch_add(&g_violations, 1);
    fprintf(stderr, "stress: violation: %s\n", what);
}

static rec* rec_new(worker* w, int nested) {
    rec* r = calloc(1, sizeof *r);
    if (!r) abort();
    r->w = w;
    r->caller = pthread_self();
    r->nested = nested;
    pthread_mutex_lock(&w->mu);
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 1024;
        w->recs = realloc(w->recs, w->cap * sizeof *w->recs);
        if (!w->recs) abort();
    }
    w->recs[w->n++] = r;
    w->outstanding++;
    pthread_mutex_unlock(&w->mu);
    return r;
}

/* After the call returned rc. */
static void rec_returned(rec* r, int rc) {
    worker* w = r->w;
    pthread_mutex_lock(&w->mu);
    r->rc = rc;
    if (rc != TIM_SUCC) {
        w->outstanding--;
        w->refused++;
    }
    w->calls++;
    pthread_mutex_unlock(&w->mu);
    if (rc != TIM_SUCC) atomic_fetch_add(&g_codes[5], 1);
}

static void issue_nested(worker* w);

static void cb(int32_t code, const char* desc, const char* json, const void* ud) {
    rec* r = (rec*)ud;
    worker* w = r->w;
    if (!desc || !json) violation("desc or json_params is NULL");
    if (!r->nested && pthread_equal(pthread_self(), r->caller)) violation("callback on the caller's thread");
    int k = code == 0 ? 0 : code == 6013 ? 1 : code == 6014 ? 2 : code == 7009 ? 3 : 4;
    atomic_fetch_add(&g_codes[k], 1);
    int nest = 0;
    pthread_mutex_lock(&w->mu);
    r->fired++;
    if (r->fired > 1) violation("a callback fired twice");
    w->outstanding--;
    /* now and then, a new call from inside the callback (while the run goes on) */
    if (!r->nested && !atomic_load(&g_stop) && atomic_fetch_add(&g_cb_count, 1) % 16 == 0) nest = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (nest) issue_nested(w);
}

static void issue_nested(worker* w) {
    atomic_fetch_add(&g_nested, 1);
    rec* r = rec_new(w, 1);
    rec_returned(r, TIMGetUserStatus("[\"s0\",\"s1\"]", cb, r));
}

static void ev_cb(const char* json, const void* ud) {
    (void)ud;
    if (!json) violation("event json is NULL");
    atomic_fetch_add(&g_events, 1);
}

typedef int (*json_fn)(const char*, TIMCommCallback, const void*);

static void call_json(worker* w, json_fn f, const char* arg) {
    rec* r = rec_new(w, 0);
    rec_returned(r, f(arg, cb, r));
}

static void one_op(worker* w) {
    char buf[256];
    unsigned x = (unsigned)rand_r(&w->seed);
    unsigned op = x % 100;
    rec* r;
    if (op < 20) {
        snprintf(buf, sizeof buf, "[\"s%u\",\"s%u\",\"stress\"]", x % 7, (x >> 8) % 7);
        call_json(w, TIMGetUserStatus, buf);
    } else if (op < 35) {
        snprintf(buf, sizeof buf, "{\"friendship_getprofilelist_param_identifier_array\":[\"s%u\",\"stress\"]}",
                 x % 7);
        call_json(w, TIMProfileGetUserProfileList, buf);
    } else if (op < 45) {
        snprintf(buf, sizeof buf,
                 "{\"user_profile_item_nick_name\":\"n%d-%u\",\"user_profile_item_custom_string_array\":"
                 "[{\"user_profile_custom_string_info_key\":\"T%c\",\"user_profile_custom_string_info_value\":\"%u\"}]}",
                 w->id, x, 'a' + (char)(x % 20), x);
        call_json(w, TIMProfileModifySelfUserProfile, buf);
    } else if (op < 53) {
        snprintf(buf, sizeof buf, "{\"user_status_custom_status\":\"t%d-%u\"}", w->id, x % 1000);
        call_json(w, TIMSetSelfStatus, buf);
    } else if (op < 60) {
        snprintf(buf, sizeof buf, "[\"s%u\",\"s%u\"]", x % 7, (x >> 4) % 7);
        call_json(w, (x >> 12) % 2 ? TIMSubscribeUserStatus : TIMSubscribeUserInfo, buf);
    } else if (op < 64) {
        call_json(w, (x >> 12) % 2 ? TIMUnsubscribeUserStatus : TIMUnsubscribeUserInfo, (x >> 13) % 2 ? NULL : "[\"s1\"]");
    } else if (op < 76) {
        r = rec_new(w, 0);
        if ((x >> 10) % 3 == 0) {
            snprintf(buf, sizeof buf, "{\"Accounts\":[\"s0\",\"s1\",\"s2\",\"s3\",\"s4\",\"s5\",\"s6\"]}");
            rec_returned(r, TIMRefAdminRequest("v4/im_open_login_svc/multiaccount_import", buf, cb, r));
        } else if ((x >> 10) % 3 == 1) {
            snprintf(buf, sizeof buf, "{\"UserID\":\"s%u\",\"StatusType\":%u,\"CustomStatus\":\"a%u\"}", x % 7,
                     1 + (x >> 12) % 3, x % 100);
            rec_returned(r, TIMRefAdminRequest("ref/set_user_status", buf, cb, r));
        } else {
            snprintf(buf, sizeof buf,
                     "{\"From_Account\":\"s%u\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\",\"Value\":\"v%u\"}]}",
                     x % 7, x);
            rec_returned(r, TIMRefAdminRequest("v4/profile/portrait_set", buf, cb, r));
        }
    } else if (op < 82) {
        /* refused at the call: never a callback */
        static const char* const bad[] = {"not json", "", "[1,", "{\"a\":1,\"a\":2}"};
        call_json(w, (x >> 9) % 2 ? TIMGetUserStatus : TIMSetSelfStatus, bad[(x >> 10) % 4]);
    } else if (op < 88) {
        r = rec_new(w, 0);
        atomic_fetch_add(&g_codes[6], 1);
        /* one user for all threads (same user again succeeds); now and then another, 7014 */
        rec_returned(r, TIMLogin((x >> 9) % 8 ? "stress" : "other", "sig", cb, r));
    } else if (op < 92) {
        r = rec_new(w, 0);
        atomic_fetch_add(&g_codes[7], 1);
        rec_returned(r, TIMLogout(cb, r));
    } else if (op < 96) {
        switch ((x >> 9) % 6) {
        case 0: TIMSetUserStatusChangedCallback(ev_cb, w); break;
        case 1: TIMSetUserStatusChangedCallback(NULL, NULL); break;
        case 2: TIMSetSelfInfoUpdatedCallback(ev_cb, w); break;
        case 3: TIMSetSelfInfoUpdatedCallback(NULL, NULL); break;
        case 4: TIMSetUserInfoChangedCallback(ev_cb, w); break;
        default: TIMSetUserInfoChangedCallback(NULL, NULL); break;
        }
        char who[128];
        if (TIMGetLoginUserID(who) != TIM_SUCC) violation("TIMGetLoginUserID failed");
        enum TIMLoginStatus s = TIMGetLoginStatus();
        if (s != kTIMLoginStatus_Logined && s != kTIMLoginStatus_UnLogined) violation("bad login status");
        (void)TIMGetServerTime();
    } else if (op < 99 || (x >> 16) % 32) {
        snprintf(buf, sizeof buf, "[\"s%u\"]", x % 7);
        call_json(w, TIMGetUserStatus, buf);
    } else {
        /* rarely: uninit (pending calls complete with 7009) and init again */
        atomic_fetch_add(&g_reinits, 1);
        if (TIMUninit() != TIM_SUCC) violation("TIMUninit failed");
        if (TIMInit(APPID, NULL) != TIM_SUCC) violation("TIMInit failed");
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void* worker_main(void* arg) {
    worker* w = arg;
    while (!atomic_load(&g_stop)) {
        one_op(w);
        /* keep at most MAX_OUTSTANDING of this thread's calls in flight */
        pthread_mutex_lock(&w->mu);
        while (w->outstanding > MAX_OUTSTANDING) pthread_cond_wait(&w->cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

static double g_watchdog_s;

static void* watchdog_main(void* unused) {
    (void)unused;
    double t0 = now_s();
    while (!atomic_load(&g_done)) {
        if (now_s() - t0 > g_watchdog_s) {
            fprintf(stderr, "stress: watchdog: not done after %.0f s: deadlock?\n", g_watchdog_s);
            for (int i = 0; i < N_THREADS; i++)
                fprintf(stderr, "  worker %d: %ld calls, %ld outstanding\n", i, g_w[i].calls, g_w[i].outstanding);
            abort();
        }
        th_sleep_ms(100);
    }
    return NULL;
}

static double env_num(const char* name, double dflt) {
    const char* v = getenv(name);
    if (!v || !*v) return dflt;
    double d = atof(v);
    return d > 0 ? d : dflt;
}

int main(void) {
    double seconds = env_num("TIMREF_STRESS_SECONDS", 5);
    g_watchdog_s = env_num("TIMREF_STRESS_WATCHDOG", 120);
    pthread_t dog;
    pthread_create(&dog, NULL, watchdog_main, NULL);

    CHECK_INT(TIMInit(APPID, NULL), TIM_SUCC);
    TU_ADMIN_EXPECT("v4/im_open_login_svc/multiaccount_import",
                    "{\"Accounts\":[\"s0\",\"s1\",\"s2\",\"s3\",\"s4\",\"s5\",\"s6\"]}", 0);
    TU_LOGIN_OK("stress");
    unsigned base = (unsigned)time(NULL);
    for (int i = 0; i < N_THREADS; i++) {
        worker* w = &g_w[i];
        w->id = i;
        w->seed = base * 31u + (unsigned)i;
        pthread_mutex_init(&w->mu, NULL);
        pthread_cond_init(&w->cv, NULL);
    }
    printf("stress: seed base %u, %.1f s, %d threads\n", base, seconds, N_THREADS);
    double t0 = now_s();
    for (int i = 0; i < N_THREADS; i++) pthread_create(&g_w[i].thread, NULL, worker_main, &g_w[i]);
    while (now_s() - t0 < seconds) th_sleep_ms(50);
    atomic_store(&g_stop, true);
    for (int i = 0; i < N_THREADS; i++) pthread_join(g_w[i].thread, NULL);
    /* nested calls may still be coming: the last uninit completes whatever is left */
    CHECK_INT(TIMUninit(), TIM_SUCC);
    double elapsed = now_s() - t0;

    long total = 0, refused = 0, bad_once = 0, bad_never = 0;
    for (int i = 0; i < N_THREADS; i++) {
        worker* w = &g_w[i];
        pthread_mutex_lock(&w->mu);
        for (size_t k = 0; k < w->n; k++) {
            rec* r = w->recs[k];
            total++;
            if (r->rc == TIM_SUCC && r->fired != 1) bad_once++;
            if (r->rc != TIM_SUCC) {
                refused++;
                if (r->fired != 0) bad_never++;
            }
            free(r);
        }
        CHECK_INT(w->outstanding, 0);
        pthread_mutex_unlock(&w->mu);
        free(w->recs);
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
    }
    th_check(bad_once == 0, __FILE__, __LINE__, "every accepted call called back exactly once", "%ld did not",
             bad_once);
    th_check(bad_never == 0, __FILE__, __LINE__, "no refused call called back", "%ld did", bad_never);
    CHECK_INT(atomic_load(&g_violations), 0);
    CHECK(total > N_THREADS);
    printf("stress: %ld calls in %.1f s (%ld refused at the call, %ld made from callbacks), %ld reinits, "
           "%ld events; callbacks: %ld ok, %ld 6013, %ld 6014, %ld 7009, %ld other errors\n",
           total, elapsed, refused, atomic_load(&g_nested), atomic_load(&g_reinits), atomic_load(&g_events),
           atomic_load(&g_codes[0]), atomic_load(&g_codes[1]), atomic_load(&g_codes[2]), atomic_load(&g_codes[3]),
           atomic_load(&g_codes[4]));
    TIMSetUserStatusChangedCallback(NULL, NULL);
    TIMSetSelfInfoUpdatedCallback(NULL, NULL);
    TIMSetUserInfoChangedCallback(NULL, NULL);
    atomic_store(&g_done, true);
    pthread_join(dog, NULL);
    return th_finish();
}
