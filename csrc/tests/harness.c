#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int g_passed, g_failed;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

void th_check(int ok, const char* file, int line, const char* expr, const char* fmt, ...) {
    pthread_mutex_lock(&g_mu);
    if (ok) {
        g_passed++;
    } else {
        g_failed++;
        fprintf(stderr, "FAIL %s:%d: %s", file, line, expr);
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            fputs(" (", stderr);
            vfprintf(stderr, fmt, ap);
            fputs(")", stderr);
            va_end(ap);
        }
        fputc('\n', stderr);
    }
    pthread_mutex_unlock(&g_mu);
}

int th_finish(void) {
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed ? 1 : 0;
}

th_call* th_call_new(void) {
    th_call* c = calloc(1, sizeof *c);
    if (!c) abort();
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->code = -12345;
    return c;
}

void th_call_free(th_call* c) {
    if (!c) return;
    pthread_mutex_lock(&c->mu);
    int fired = c->fired;
    pthread_mutex_unlock(&c->mu);
    /* A call that timed out (a failure already counted) may still call back into this record:
     * keep it rather than free memory the library is about to write. */
    if (!fired && c->timed_out) return;
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c->desc);
    free(c->json);
    free(c);
}

void th_cb(int32_t code, const char* desc, const char* json_params, const void* user_data) {
    th_call* c = (th_call*)user_data;
    pthread_mutex_lock(&c->mu);
    c->fired++;
    if (c->fired == 1) {
        c->code = code;
        c->desc = strdup(desc ? desc : "(null)");
        c->json = strdup(json_params ? json_params : "(null)");
        c->thread = pthread_self();
    }
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* How long a call may take: 10 s, or TIMREF_TEST_WAIT_SECONDS (slow runs: valgrind). */
static int wait_seconds(void) {
    const char* s = getenv("TIMREF_TEST_WAIT_SECONDS");
    int n = s ? atoi(s) : 0;
    return n > 0 ? n : 10;
}

int th_wait(th_call* c) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += wait_seconds();
    pthread_mutex_lock(&c->mu);
    while (!c->fired) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT) break;
    }
    int fired = c->fired;
    if (!fired) c->timed_out = 1;
    pthread_t t = c->thread;
    pthread_mutex_unlock(&c->mu);
    th_check(fired == 1, __FILE__, __LINE__, "callback fired once", "fired %d times", fired);
    if (fired) th_check(!pthread_equal(t, pthread_self()), __FILE__, __LINE__,
                        "callback ran off the caller's thread", NULL);
    if (!c->desc) c->desc = strdup("(no callback)");
    if (!c->json) c->json = strdup("(no callback)");
    return fired == 1;
}

void th_expect_no_callback(th_call* c) {
    th_sleep_ms(20);
    pthread_mutex_lock(&c->mu);
    int fired = c->fired;
    pthread_mutex_unlock(&c->mu);
    th_check(fired == 0, __FILE__, __LINE__, "no callback after a refused call", "fired %d", fired);
    if (!c->desc) c->desc = strdup("");
    if (!c->json) c->json = strdup("");
}

char* th_tempdir(const char* tag) {
    const char* base = getenv("TIMREF_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    mkdir(base, 0700);
    size_t n = strlen(base) + strlen(tag) + 32;
    char* path = malloc(n);
    if (!path) abort();
    snprintf(path, n, "%s/%s-XXXXXX", base, tag);
    if (!mkdtemp(path)) {
        perror("mkdtemp");
        abort();
    }
    return path;
}

static void rm_tree(const char* path) {
    DIR* d = opendir(path);
    if (d) {
        struct dirent* e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            size_t n = strlen(path) + strlen(e->d_name) + 2;
            char* p = malloc(n);
            if (!p) abort();
            snprintf(p, n, "%s/%s", path, e->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) rm_tree(p);
            else unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(path);
}

void th_rmdir(const char* path) {
    if (path) rm_tree(path);
}

void th_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}
