/*
 * bench_get.c - timref driven from C alone: the ceiling the bindings are
 * compared with.  bench/run.py compiles it against build/native/libtimref.so
 * and runs one mode per process; each mode prints one JSON object on stdout.
 *
 *   bench_get get1   N WINDOW ACCOUNTS      pipelined single-profile gets
 *   bench_get get100 N WINDOW ACCOUNTS      pipelined gets of 100 profiles (N batches)
 *   bench_get serial N ACCOUNTS             one get at a time: latency percentiles
 *   bench_get import DIR COUNT BATCH        create COUNT accounts u0000000.. (multiaccount_import,
 *                                           BATCH at most 100 a request, the vendor's limit)
 *   bench_get scale  DIR COUNT ROUNDS       batches of 100 random distinct ids, cold caches
 *   bench_get modify DIR N WINDOW           durable profile updates
 *
 * The in-memory modes (get1, get100, serial) import ACCOUNTS accounts first.
 * "Pipelined" means: issue WINDOW calls, wait until all of them completed,
 * repeat (the same scheme the Python drivers use).  Only the library's own
 * public functions are called (TIMCloud.h, TIMRef.h for the admin import).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "TIMCloud.h"
#include "TIMRef.h"

#define APP_ID 1400000001ULL

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static atomic_long g_done;
static atomic_long g_errors;
static long g_target;  /* wake the waiter when g_done reaches this */
static int g_last_code;
static char g_last_desc[256];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_done(int32_t code, const char* desc, const char* json, const void* ud) {
    (void)ud;
    if (code != 0 || !json || !json[0]) {
        atomic_fetch_add(&g_errors, 1);
        pthread_mutex_lock(&g_mu);
        g_last_code = code;
        snprintf(g_last_desc, sizeof g_last_desc, "%s", desc ? desc : "");
        pthread_mutex_unlock(&g_mu);
    }
    long d = atomic_fetch_add(&g_done, 1) + 1;
    if (d >= __atomic_load_n(&g_target, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&g_mu);
        pthread_cond_signal(&g_cv);
        pthread_mutex_unlock(&g_mu);
    }
}

/* For calls whose json_params may be "" on success (login, modify). */
static void on_done_any(int32_t code, const char* desc, const char* json, const void* ud) {
    (void)json;
    on_done(code, desc, code == 0 ? "ok" : json, ud);
}

static void wait_for(long target) {
    __atomic_store_n(&g_target, target, __ATOMIC_RELEASE);
    pthread_mutex_lock(&g_mu);
    while (atomic_load(&g_done) < target) pthread_cond_wait(&g_cv, &g_mu);
    pthread_mutex_unlock(&g_mu);
}

static void check_errors(const char* what) {
    if (atomic_load(&g_errors)) {
        fprintf(stderr, "bench_get: %s: %ld errors, last %d %s\n", what, atomic_load(&g_errors),
                g_last_code, g_last_desc);
        exit(1);
    }
}

/* One call of `issue` and wait for its callback. */
#define CALL_AND_WAIT(expr)                                              \
    do {                                                                 \
        long t_ = atomic_load(&g_done) + 1;                              \
        int rc_ = (expr);                                                \
        if (rc_ != 0) {                                                  \
            fprintf(stderr, "bench_get: %s returned %d\n", #expr, rc_);  \
            exit(1);                                                     \
        }                                                                \
        wait_for(t_);                                                    \
    } while (0)

static void id_of(long i, char out[24]) { snprintf(out, 24, "u%07ld", i); }

static void import_accounts(long count, long batch) {
    size_t cap = (size_t)batch * 12 + 64;
    char* body = malloc(cap);
    char id[24];
    for (long start = 0; start < count; start += batch) {
        long end = start + batch < count ? start + batch : count;
        size_t w = (size_t)snprintf(body, cap, "{\"Accounts\":[");
        for (long i = start; i < end; i++) {
            id_of(i, id);
            w += (size_t)snprintf(body + w, cap - w, "%s\"%s\"", i > start ? "," : "", id);
        }
        snprintf(body + w, cap - w, "]}");
        CALL_AND_WAIT(TIMRefAdminRequest("v4/im_open_login_svc/multiaccount_import", body, on_done, NULL));
    }
    free(body);
    check_errors("import");
}

static void init_and_login(const char* dir) {
    char cfg[1024];
    /* a postgresql:// URI names a world on PostgreSQL (bench/pg.py), anything else a directory */
    int url = dir && (!strncmp(dir, "postgresql://", 13) || !strncmp(dir, "postgres://", 11));
    if (dir)
        snprintf(cfg, sizeof cfg, "{\"%s\":\"%s\"}", url ? "timref_config_store_url" : "sdk_config_config_file_path",
                 dir);
    else snprintf(cfg, sizeof cfg, "{}");
    if (TIMInit(APP_ID, cfg) != 0) {
        fprintf(stderr, "bench_get: TIMInit failed\n");
        exit(1);
    }
}

static void login(const char* user) {
    CALL_AND_WAIT(TIMLogin(user, "sig", on_done_any, NULL));
    check_errors("login");
}

/* get1 requests, one per account */
static char** make_get1(long accounts) {
    char** req = malloc(sizeof *req * (size_t)accounts);
    char id[24];
    for (long i = 0; i < accounts; i++) {
        id_of(i, id);
        req[i] = malloc(96);
        snprintf(req[i], 96, "{\"friendship_getprofilelist_param_identifier_array\":[\"%s\"]}", id);
    }
    return req;
}

/* a get of 100 ids: ids[0..99] */
static char* make_get100(const long* ids) {
    size_t cap = 100 * 12 + 96;
    char* s = malloc(cap);
    size_t w = (size_t)snprintf(s, cap, "{\"friendship_getprofilelist_param_identifier_array\":[");
    char id[24];
    for (int k = 0; k < 100; k++) {
        id_of(ids[k], id);
        w += (size_t)snprintf(s + w, cap - w, "%s\"%s\"", k ? "," : "", id);
    }
    snprintf(s + w, cap - w, "]}");
    return s;
}

static int cmp_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return x < y ? -1 : x > y;
}

static double pct(double* v, long n, double p) {
    long k = (long)(p / 100.0 * (double)(n - 1) + 0.5);
    return v[k];
}

static uint64_t g_rng = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void) { /* xorshift64* */
    g_rng ^= g_rng >> 12;
    g_rng ^= g_rng << 25;
    g_rng ^= g_rng >> 27;
    return g_rng * 2685821657736338717ULL;
}

/* n calls issue(i, ctx), i = 0..n-1, pipelined: WINDOW calls, wait for all of them, repeat.
 * Returns the seconds. */
static double run_windowed(long n, long window, void (*issue)(long i, void* ctx), void* ctx) {
    long issued = 0;
    double t0 = now_s();
    while (issued < n) {
        long burst = n - issued < window ? n - issued : window;
        long base = atomic_load(&g_done);
        for (long k = 0; k < burst; k++, issued++) issue(issued, ctx);
        wait_for(base + burst);
    }
    return now_s() - t0;
}

typedef struct get_reqs {
    char** reqs;
    long nreq;
} get_reqs;

static void issue_get(long i, void* ctx) {
    const get_reqs* g = ctx;
    int rc = TIMProfileGetUserProfileList(g->reqs[i % g->nreq], on_done, NULL);
    if (rc != 0) {
        fprintf(stderr, "bench_get: get returned %d\n", rc);
        exit(1);
    }
}

static double run_pipelined(char** reqs, long nreq, long n, long window) {
    get_reqs g = {reqs, nreq};
    return run_windowed(n, window, issue_get, &g);
}

static void issue_modify(long i, void* ctx) {
    (void)ctx;
    char req[128];
    snprintf(req, sizeof req, "{\"user_profile_item_nick_name\":\"nick %ld\"}", i);
    if (TIMProfileModifySelfUserProfile(req, on_done_any, NULL) != 0) exit(1);
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: see the comment at the top of bench_get.c\n");
        return 2;
    }
    const char* mode = argv[1];
    if (!strcmp(mode, "get1") || !strcmp(mode, "get100")) {
        long n = atol(argv[2]), window = atol(argv[3]), accounts = atol(argv[4]);
        init_and_login(NULL);
        import_accounts(accounts, 100);
        login("u0000000");
        char** reqs;
        long nreq;
        if (!strcmp(mode, "get1")) {
            reqs = make_get1(accounts);
            nreq = accounts;
        } else {
            nreq = 64;
            reqs = malloc(sizeof *reqs * (size_t)nreq);
            long ids[100];
            for (long r = 0; r < nreq; r++) {
                for (int k = 0; k < 100; k++) ids[k] = (r * 100 + k) % accounts;
                reqs[r] = make_get100(ids);
            }
        }
        run_pipelined(reqs, nreq, window < n ? window : n, window); /* warm-up: caches filled */
        double dt = run_pipelined(reqs, nreq, n, window);
        check_errors(mode);
        if (!strcmp(mode, "get1"))
            printf("{\"ops_per_s\": %.1f, \"n\": %ld, \"window\": %ld, \"seconds\": %.4f}\n", n / dt, n,
                   window, dt);
        else
            printf("{\"batches_per_s\": %.1f, \"profiles_per_s\": %.1f, \"n\": %ld, \"window\": %ld, "
                   "\"seconds\": %.4f}\n", n / dt, n * 100 / dt, n, window, dt);
        TIMUninit();
        return 0;
    }
    if (!strcmp(mode, "serial")) {
        long n = atol(argv[2]), accounts = atol(argv[3]);
        init_and_login(NULL);
        import_accounts(accounts, 100);
        login("u0000000");
        char** reqs = make_get1(accounts);
        for (long i = 0; i < accounts; i++) CALL_AND_WAIT(TIMProfileGetUserProfileList(reqs[i], on_done, NULL));
        double* lat = malloc(sizeof *lat * (size_t)n);
        for (long i = 0; i < n; i++) {
            double t0 = now_s();
            CALL_AND_WAIT(TIMProfileGetUserProfileList(reqs[i % accounts], on_done, NULL));
            lat[i] = (now_s() - t0) * 1e6;
        }
        check_errors("serial");
        qsort(lat, (size_t)n, sizeof *lat, cmp_double);
        printf("{\"p50_us\": %.2f, \"p99_us\": %.2f, \"n\": %ld}\n", pct(lat, n, 50), pct(lat, n, 99), n);
        TIMUninit();
        return 0;
    }
    if (!strcmp(mode, "import")) {
        const char* dir = argv[2];
        long count = atol(argv[3]), batch = atol(argv[4]);
        init_and_login(dir);
        double t0 = now_s();
        import_accounts(count, batch);
        double dt = now_s() - t0;
        TIMUninit();
        printf("{\"accounts\": %ld, \"seconds\": %.3f, \"accounts_per_s\": %.1f}\n", count, dt, count / dt);
        return 0;
    }
    if (!strcmp(mode, "scale")) {
        /* ROUNDS rounds of: TIMInit (empty caches), login, 10 batches of 100
         * distinct random ids, each timed alone, TIMUninit.  Over a round no id
         * is asked twice, so every profile comes from the store. */
        const char* dir = argv[2];
        long count = atol(argv[3]), rounds = atol(argv[4]);
        long nb = rounds * 10;
        double* lat = malloc(sizeof *lat * (size_t)nb);
        long* perm = malloc(sizeof *perm * (size_t)count);
        long b = 0;
        for (long r = 0; r < rounds; r++) {
            /* 1000 distinct random ids: a partial Fisher-Yates shuffle */
            for (long i = 0; i < count; i++) perm[i] = i;
            for (long i = 0; i < 1000 && i < count; i++) {
                long j = i + (long)(rnd() % (uint64_t)(count - i));
                long t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            init_and_login(dir);
            login("bench-reader");
            for (int k = 0; k < 10; k++) {
                char* req = make_get100(perm + (k * 100) % (count >= 1000 ? 1000 : count));
                double t0 = now_s();
                CALL_AND_WAIT(TIMProfileGetUserProfileList(req, on_done, NULL));
                lat[b++] = (now_s() - t0) * 1e3;
                free(req);
            }
            TIMUninit();
        }
        check_errors("scale");
        qsort(lat, (size_t)nb, sizeof *lat, cmp_double);
        double sum = 0;
        for (long i = 0; i < nb; i++) sum += lat[i];
        printf("{\"get100_ms_p50\": %.4f, \"get100_ms_mean\": %.4f, \"get100_ms_p90\": %.4f, \"batches\": %ld}\n",
               pct(lat, nb, 50), sum / nb, pct(lat, nb, 90), nb);
        return 0;
    }
    if (!strcmp(mode, "modify")) {
        const char* dir = argv[2];
        long n = atol(argv[3]), window = atol(argv[4]);
        init_and_login(dir);
        login("bench-writer");
        double dt = run_windowed(n, window, issue_modify, NULL);
        check_errors("modify");
        TIMUninit();
        printf("{\"ops_per_s\": %.1f, \"n\": %ld, \"window\": %ld, \"seconds\": %.4f}\n", n / dt, n, window, dt);
        return 0;
    }
    fprintf(stderr, "bench_get: unknown mode %s\n", mode);
    return 2;
}
