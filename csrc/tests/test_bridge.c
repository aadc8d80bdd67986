/*
 * test_bridge.c - tim_py's C bridge (csrc/bridge): calls through the wrappers complete through
 * the completion queue, events are queued by kind, the eventfd protocol, the queue under many
 * threads, tp_load (libtimref.so, a vendor-like build, bad paths) and the out-of-memory
 * fallback.
 *
 * The queue (tp_queue.c) is compiled into this program, with an allocator that fails on demand
 * so that the out-of-memory path can be reached; the rest (tp_api.c) is the timref_bridge
 * library.  TB_LIBTIMREF and TB_VENDORLIKE (CMake) are the paths of the shared libraries.
 */
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "tp_bridge.h"

/* 0: allocations succeed; 1: those larger than a bare node fail; 2: all fail */
static atomic_int tb_fail;

static void* tb_alloc(size_t n) {
    int mode = atomic_load_explicit(&tb_fail, memory_order_relaxed);
    if (mode == 2 || (mode == 1 && n > sizeof(tp_item))) return NULL;
    return malloc(n);
}

#define TP_NODE_ALLOC tb_alloc
#include "tp_queue.c"

#define APPID 1404

/* ---- collecting what the queue delivers -------------------------------------------------- */

typedef struct tb_rec {
    int kind;
    uint64_t token;
    int code;
    char* desc;
    char* json;
} tb_rec;

static tb_rec* recs;
static size_t nrecs, caprecs;

static void tb_clear(void) {
    for (size_t i = 0; i < nrecs; i++) {
        free(recs[i].desc);
        free(recs[i].json);
    }
    nrecs = 0;
}

static char* tb_strdup(const char* s) {
    char* p = strdup(s);
    if (!p) abort();
    return p;
}

/* tp_drain, check every item's lengths, copy the items to recs, tp_free_items; returns n. */
static int tb_take(void) {
    tp_item* head = NULL;
    int n = tp_drain(&head);
    int seen = 0;
    for (tp_item* it = head; it; it = it->next) {
        seen++;
        CHECK(it->desc && it->json);
        CHECK_INT(strlen(it->desc), it->desc_len);
        CHECK_INT(strlen(it->json), it->json_len);
        if (nrecs == caprecs) {
            caprecs = caprecs ? 2 * caprecs : 64;
            recs = realloc(recs, caprecs * sizeof *recs);
            if (!recs) abort();
        }
        recs[nrecs++] = (tb_rec){it->kind, it->token, it->code, tb_strdup(it->desc), tb_strdup(it->json)};
    }
    CHECK_INT(seen, n);
    tp_free_items(head);
    return n;
}

static int tb_readable(int ms) {
    struct pollfd p = {.fd = tp_eventfd(), .events = POLLIN};
    return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* Read the eventfd (only when it is readable: the read would block otherwise). */
static void tb_read_fd(void) {
    uint64_t v = 0;
    CHECK_INT(read(tp_eventfd(), &v, sizeof v), (long long)sizeof v);
    CHECK(v >= 1);
}

static int tb_wait_seconds(void) {
    const char* s = getenv("TIMREF_TEST_WAIT_SECONDS");
    int n = s ? atoi(s) : 0;
    return n > 0 ? n : 10;
}

static long long tb_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t tb_count_kind(int kind) {
    size_t n = 0;
    for (size_t i = 0; i < nrecs; i++) n += recs[i].kind == kind;
    return n;
}

/* As a reader does: wait on the eventfd, read it, drain; until `calls` completions are in recs.
 * The wait on the eventfd has no shorter timeout: a lost wake-up fails the test. */
static void tb_collect_calls(size_t calls) {
    long long deadline = tb_now_ms() + 1000LL * tb_wait_seconds();
    while (tb_count_kind(TP_KIND_CALL) < calls) {
        long long left = deadline - tb_now_ms();
        if (left <= 0 || !tb_readable((int)left)) break;
        tb_read_fd();
        tb_take();
    }
    CHECK_INT(tb_count_kind(TP_KIND_CALL), calls);
}

static long tb_find_call(uint64_t token) {
    for (size_t i = 0; i < nrecs; i++)
        if (recs[i].kind == TP_KIND_CALL && recs[i].token == token) return (long)i;
    return -1;
}

/* Index of the first item of `kind` whose json contains `has`, or -1. */
static long tb_find_event(int kind, const char* has) {
    for (size_t i = 0; i < nrecs; i++)
        if (recs[i].kind == kind && strstr(recs[i].json, has)) return (long)i;
    return -1;
}

#define CHECK_CALL(i, tok, want_code, want_desc)                                                   \
    do {                                                                                           \
        CHECK_INT(recs[i].kind, TP_KIND_CALL);                                                     \
        CHECK_INT(recs[i].token, (tok));                                                           \
        CHECK_INT(recs[i].code, (want_code));                                                      \
        if (want_desc) CHECK_STR(recs[i].desc, (const char*)(want_desc));                          \
    } while (0)

static const void* tok(uint64_t t) { return (const void*)(uintptr_t)t; }

/* ---- the queue and its eventfd --------------------------------------------------------------- */

static void test_queue_and_eventfd(void) {
    int fd = tp_eventfd();
    CHECK(fd >= 0);
    CHECK_INT(tp_eventfd(), fd);
    tp_item* head = (tp_item*)&head;
    CHECK_INT(tp_drain(&head), 0);
    CHECK(head == NULL);
    tp_free_items(NULL);
    CHECK(!tb_readable(0));

    /* empty -> non-empty signals the eventfd once */
    tp_on_complete(17, "desc one", "{\"a\":1}", tok(1));
    CHECK(tb_readable(0));
    tb_read_fd();
    CHECK(!tb_readable(0));
    tp_on_complete(0, NULL, NULL, tok(UINTPTR_MAX));
    tp_on_user_status("[\"status\"]", tok(99));
    CHECK(!tb_readable(0));  /* the list was not empty: no second signal */
    CHECK_INT(tb_take(), 3); /* the whole list, oldest first */
    CHECK(!tb_readable(0));
    CHECK_INT(nrecs, 3);
    CHECK_CALL(0, 1, 17, "desc one");
    CHECK_STR(recs[0].json, "{\"a\":1}");
    CHECK_CALL(1, UINTPTR_MAX, 0, ""); /* the whole token comes back; NULL arrives as "" */
    CHECK_STR(recs[1].json, "");
    CHECK_INT(recs[2].kind, TP_KIND_USER_STATUS); /* events: token 0, code 0, desc "" */
    CHECK_INT(recs[2].token, 0);
    CHECK_INT(recs[2].code, 0);
    CHECK_STR(recs[2].desc, "");
    CHECK_STR(recs[2].json, "[\"status\"]");
    tb_clear();

    /* empty again: the next item signals again */
    tp_on_self_info("{\"self\":1}", NULL);
    tp_on_user_info("[\"info\"]", NULL);
    CHECK(tb_readable(0));
    tb_read_fd();
    CHECK_INT(tb_take(), 2);
    CHECK_INT(recs[0].kind, TP_KIND_SELF_INFO);
    CHECK_INT(recs[1].kind, TP_KIND_USER_INFO);
    CHECK_STR(recs[1].json, "[\"info\"]");
    tb_clear();

    /* tp_wake makes the eventfd readable without queuing anything */
    tp_wake();
    CHECK(tb_readable(0));
    tb_read_fd();
    CHECK_INT(tp_drain(&head), 0);
    CHECK(!tb_readable(0));

    /* desc and json are copies: the caller's buffers may change at once */
    size_t big = 1024 * 1024 + 1;
    char* json = malloc(big + 1);
    char desc[] = "a desc";
    if (!json) abort();
    memset(json, 'x', big);
    json[big] = 0;
    tp_on_complete(-5, desc, json, tok(7));
    memset(json, 'y', big);
    desc[0] = 'X';
    tb_read_fd();
    CHECK_INT(tb_take(), 1);
    CHECK_CALL(0, 7, -5, "a desc");
    memset(json, 'x', big);
    CHECK(strlen(recs[0].json) == big && memcmp(recs[0].json, json, big) == 0);
    free(json);
    tb_clear();
}

/* ---- out of memory ------------------------------------------------------------------------- */

static void test_out_of_memory(void) {
    /* no room for the copies: a bare node reports ERR_OUT_OF_MEMORY; an event is dropped */
    atomic_store(&tb_fail, 1);
    tp_on_complete(0, "fine", "{\"big\":1}", tok(42));
    tp_on_self_info("{}", NULL);
    atomic_store(&tb_fail, 0);
    tb_read_fd();
    tp_item* head = NULL;
    CHECK_INT(tp_drain(&head), 1);
    if (head) {
        CHECK(head != &tp_oom_item);
        CHECK_INT(head->token, 42);
        CHECK_INT(head->kind, TP_KIND_CALL);
        CHECK_INT(head->code, ERR_OUT_OF_MEMORY);
        CHECK_STR(head->desc, "out of memory");
        CHECK_STR(head->json, "");
        CHECK_INT(head->json_len, 0);
    }
    tp_free_items(head);

    /* no memory at all: the static node, which is free again once its list is freed */
    for (uint64_t t = 43; t <= 44; t++) {
        atomic_store(&tb_fail, 2);
        tp_on_complete(0, "fine", "[]", tok(t));
        atomic_store(&tb_fail, 0);
        tb_read_fd();
        head = NULL;
        CHECK_INT(tp_drain(&head), 1);
        CHECK(head == &tp_oom_item);
        if (head) {
            CHECK_INT(head->token, t);
            CHECK_INT(head->code, ERR_OUT_OF_MEMORY);
            CHECK_STR(head->desc, "out of memory");
        }
        tp_free_items(head);
    }

    /* the static node still in a list and no memory: nothing left but abort (in a child;
     * "out of memory in the completion queue" on stderr is expected) */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        atomic_store(&tb_fail, 2);
        tp_on_complete(0, "", "", tok(1));
        tp_on_complete(0, "", "", tok(2));
        _exit(0);
    }
    CHECK(pid > 0);
    int st = 0;
    CHECK_INT(waitpid(pid, &st, 0), pid);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

/* ---- calls through the wrappers (the compiled-in timref) ------------------------------------ */

static uint64_t next_token = 1000;

static void test_wrappers(void) {
    CHECK(tp_is_builtin());
    CHECK(tp_has_admin());
    CHECK(strncmp(tp_TIMGetSDKVersion(), "timref ", 7) == 0);
    CHECK(tp_TIMRefGetLastError() != NULL);

    /* refused at once: no completion; the reason through the wrapper */
    CHECK_INT(tp_TIMGetUserStatus("{", next_token++), TIM_ERR_JSON);
    CHECK(tp_TIMRefGetLastError()[0] != 0);
    CHECK_INT(tp_TIMLogin(NULL, "sig", next_token++), TIM_ERR_PARAM);
    CHECK_INT(tp_drain(&(tp_item*){NULL}), 0);

    /* before TIMInit: accepted, completes with 6013 */
    uint64_t t0 = next_token++;
    CHECK_INT(tp_TIMGetUserStatus("[\"bob\"]", t0), TIM_SUCC);
    tb_collect_calls(1);
    CHECK_CALL(0, t0, ERR_SDK_NOT_INITIALIZED, "not initialized");
    CHECK_STR(recs[0].json, "[]");
    tb_clear();

    CHECK_INT(tp_TIMInit(APPID, NULL), TIM_SUCC);
    CHECK(tp_TIMGetServerTime() > 0);
    CHECK_INT(tp_TIMGetLoginStatus(), kTIMLoginStatus_UnLogined);

    /* calls complete in the order they were made, each with its token, code, desc and json */
    uint64_t t[8];
    for (int i = 0; i < 8; i++) t[i] = next_token++;
    CHECK_INT(tp_TIMRefAdminRequest("v4/im_open_login_svc/account_import",
                                    "{\"UserID\":\"bob\",\"Nick\":\"Bob\"}", t[0]), TIM_SUCC);
    CHECK_INT(tp_TIMGetUserStatus("[\"bob\"]", t[1]), TIM_SUCC);
    CHECK_INT(tp_TIMProfileGetUserProfileList(
                  "{\"friendship_getprofilelist_param_identifier_array\":[\"bob\"]}", t[2]), TIM_SUCC);
    CHECK_INT(tp_TIMRefAdminRequest("v4/no_such_api", "{}", t[3]), TIM_SUCC);
    CHECK_INT(tp_TIMLogin("alice", "any sig", t[4]), TIM_SUCC);
    CHECK_INT(tp_TIMProfileGetUserProfileList(
                  "{\"friendship_getprofilelist_param_identifier_array\":[\"bob\"]}", t[5]), TIM_SUCC);
    CHECK_INT(tp_TIMSetSelfStatus("{\"user_status_custom_status\":\"busy\"}", t[6]), TIM_SUCC);
    CHECK_INT(tp_TIMGetUserStatus("[\"alice\"]", t[7]), TIM_SUCC);
    tb_collect_calls(8);
    CHECK_INT(nrecs, 8);
    if (nrecs == 8) {
        for (int i = 0; i < 8; i++) CHECK_INT(recs[i].token, t[i]);
        CHECK_CALL(0, t[0], 0, NULL);
        CHECK_HAS(recs[0].json, "\"ActionStatus\"");
        CHECK_CALL(1, t[1], ERR_SDK_NOT_LOGGED_IN, "not login");
        CHECK_STR(recs[1].json, "[]");
        CHECK_CALL(2, t[2], ERR_SDK_NOT_LOGGED_IN, "not login");
        CHECK_STR(recs[2].json, "");
        CHECK_CALL(3, t[3], ERR_INVALID_PARAMETERS, NULL);
        CHECK_CALL(4, t[4], 0, NULL);
        CHECK_CALL(5, t[5], 0, NULL);
        CHECK_HAS(recs[5].json, "\"Bob\"");
        CHECK_CALL(6, t[6], 0, NULL);
        CHECK_CALL(7, t[7], 0, NULL);
        CHECK_HAS(recs[7].json, "busy");
    }
    tb_clear();
    char id[128] = "";
    CHECK_INT(tp_TIMGetLoginUserID(id), TIM_SUCC);
    CHECK_STR(id, "alice");
    CHECK_INT(tp_TIMGetLoginStatus(), kTIMLoginStatus_Logined);
}

/* ---- events, queued by kind ------------------------------------------------------------------- */

static void check_event_before(int kind, const char* has, uint64_t call_token) {
    long e = tb_find_event(kind, has), c = tb_find_call(call_token);
    th_check(e >= 0 && c >= 0 && e < c, __FILE__, __LINE__, "event queued before its call's completion",
             "kind %d with \"%s\": at %ld, the call at %ld", kind, has, e, c);
    if (e >= 0) {
        CHECK_INT(recs[e].token, 0);
        CHECK_INT(recs[e].code, 0);
        CHECK_STR(recs[e].desc, "");
    }
}

static void test_events(void) {
    tp_set_event_callbacks(1);
    uint64_t t[6];
    for (int i = 0; i < 6; i++) t[i] = next_token++;
    CHECK_INT(tp_TIMProfileModifySelfUserProfile("{\"user_profile_item_nick_name\":\"AliceNick\"}", t[0]),
              TIM_SUCC);
    CHECK_INT(tp_TIMSubscribeUserStatus("[\"bob\"]", t[1]), TIM_SUCC);
    CHECK_INT(tp_TIMRefAdminRequest("ref/set_user_status",
                                    "{\"UserID\":\"bob\",\"StatusType\":1,\"CustomStatus\":\"bobstatus\"}",
                                    t[2]), TIM_SUCC);
    CHECK_INT(tp_TIMSubscribeUserInfo("[\"bob\"]", t[3]), TIM_SUCC);
    CHECK_INT(tp_TIMRefAdminRequest("v4/profile/portrait_set",
                                    "{\"From_Account\":\"bob\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\","
                                    "\"Value\":\"BobbyNick\"}]}",
                                    t[4]), TIM_SUCC);
    tb_collect_calls(5);
    for (int i = 0; i < 5; i++) {
        long c = tb_find_call(t[i]);
        CHECK(c >= 0);
        if (c >= 0) CHECK_INT(recs[c].code, 0);
    }
    check_event_before(TP_KIND_SELF_INFO, "AliceNick", t[0]);
    check_event_before(TP_KIND_USER_STATUS, "bobstatus", t[2]);
    check_event_before(TP_KIND_USER_INFO, "BobbyNick", t[4]);
    tb_clear();

    /* removed: the change still happens, no event is queued */
    tp_set_event_callbacks(0);
    CHECK_INT(tp_TIMProfileModifySelfUserProfile("{\"user_profile_item_nick_name\":\"AliceOff\"}", t[5]),
              TIM_SUCC);
    tb_collect_calls(1);
    CHECK_INT(nrecs, 1);
    CHECK_CALL(0, t[5], 0, NULL);
    tb_clear();
}

/* ---- the queue under many threads ----------------------------------------------------------- */

#define PUSHERS 4
#define PER_PUSHER 4000
#define EVENT_EVERY 8
#define WRAPPED 300
#define SRC_SHIFT 40

static void* pusher(void* arg) {
    uint64_t src = (uint64_t)(uintptr_t)arg;
    char json[32];
    for (uint64_t i = 0; i < PER_PUSHER; i++) {
        snprintf(json, sizeof json, "[%llu]", (unsigned long long)i);
        tp_on_complete((int32_t)src, "pushed", json, tok(src << SRC_SHIFT | i));
        if (i % EVENT_EVERY == 0) tp_on_user_info(json, NULL);
    }
    return NULL;
}

/* Calls through the wrappers at the same time: the library's logic thread pushes too. */
static void* caller(void* arg) {
    uint64_t src = (uint64_t)(uintptr_t)arg;
    for (uint64_t i = 0; i < WRAPPED; i++)
        CHECK_INT(tp_TIMGetUserStatus("[\"bob\"]", src << SRC_SHIFT | i), TIM_SUCC);
    return NULL;
}

static void test_concurrency(void) {
    pthread_t th[PUSHERS + 1];
    uint64_t next[PUSHERS + 2] = {0}; /* per source: the sequence number due next */
    size_t calls = 0, events = 0, bad = 0;
    const size_t want_calls = (size_t)PUSHERS * PER_PUSHER + WRAPPED;
    const size_t want_events = (size_t)PUSHERS * ((PER_PUSHER + EVENT_EVERY - 1) / EVENT_EVERY);
    for (uintptr_t s = 1; s <= PUSHERS; s++) CHECK_INT(pthread_create(&th[s - 1], NULL, pusher, (void*)s), 0);
    CHECK_INT(pthread_create(&th[PUSHERS], NULL, caller, (void*)(uintptr_t)(PUSHERS + 1)), 0);

    /* this thread drains meanwhile, as tim_py's reader does */
    long long deadline = tb_now_ms() + 1000LL * tb_wait_seconds();
    while (calls < want_calls || events < want_events) {
        long long left = deadline - tb_now_ms();
        if (left <= 0 || !tb_readable((int)left)) break;
        tb_read_fd();
        tp_item* head = NULL;
        int n = tp_drain(&head), seen = 0;
        for (tp_item* it = head; it; it = it->next, seen++) {
            if (it->kind == TP_KIND_USER_INFO) {
                events++;
                continue;
            }
            uint64_t src = it->token >> SRC_SHIFT, seq = it->token & ((1ULL << SRC_SHIFT) - 1);
            if (it->kind != TP_KIND_CALL || src < 1 || src > PUSHERS + 1 || seq != next[src]) {
                bad++;
                continue;
            }
            next[src]++;
            calls++;
            if (src <= PUSHERS) {
                char json[32];
                snprintf(json, sizeof json, "[%llu]", (unsigned long long)seq);
                if (it->code != (int)src || strcmp(it->desc, "pushed") || strcmp(it->json, json)) bad++;
            } else if (it->code != 0) {
                bad++;
            }
        }
        CHECK_INT(seen, n);
        tp_free_items(head);
    }
    for (int i = 0; i <= PUSHERS; i++) pthread_join(th[i], NULL);
    CHECK_INT(calls, want_calls);
    CHECK_INT(events, want_events);
    CHECK_INT(bad, 0);
    CHECK_INT(tp_drain(&(tp_item*){NULL}), 0);
}

/* ---- choosing the library --------------------------------------------------------------------- */

static void test_load(void) {
    char err[512];

    /* libtimref.so: every call goes to it, completions and events come through the queue */
    err[0] = 0;
    CHECK_INT(tp_load(TB_LIBTIMREF, err, sizeof err), 0);
    CHECK_STR(err, "");
    CHECK(!tp_is_builtin());
    CHECK(tp_has_admin());
    CHECK(strncmp(tp_TIMGetSDKVersion(), "timref ", 7) == 0);
    CHECK_INT(tp_TIMGetLoginStatus(), kTIMLoginStatus_UnLogined); /* its own state, not builtin's */
    tp_set_event_callbacks(1);
    CHECK_INT(tp_TIMInit(APPID, NULL), TIM_SUCC);
    uint64_t t[4];
    for (int i = 0; i < 4; i++) t[i] = next_token++;
    CHECK_INT(tp_TIMRefAdminRequest("v4/im_open_login_svc/account_import", "{\"UserID\":\"carol\"}", t[0]),
              TIM_SUCC);
    CHECK_INT(tp_TIMLogin("dave", "sig", t[1]), TIM_SUCC);
    CHECK_INT(tp_TIMProfileModifySelfUserProfile("{\"user_profile_item_nick_name\":\"DaveNick\"}", t[2]),
              TIM_SUCC);
    tb_collect_calls(3);
    for (int i = 0; i < 3; i++) {
        long c = tb_find_call(t[i]);
        CHECK_INT(c >= 0 ? recs[c].code : -1, 0);
    }
    check_event_before(TP_KIND_SELF_INFO, "DaveNick", t[2]);
    tb_clear();
    char id[128] = "";
    CHECK_INT(tp_TIMGetLoginUserID(id), TIM_SUCC);
    CHECK_STR(id, "dave");
    tp_set_event_callbacks(0);
    CHECK_INT(tp_TIMUninit(), TIM_SUCC);
    CHECK_INT(tp_TIMGetUserStatus("[\"carol\"]", t[3]), TIM_SUCC);
    tb_collect_calls(1);
    CHECK_CALL(0, t[3], ERR_SDK_NOT_INITIALIZED, "not initialized");
    tb_clear();

    /* a library without timref's own functions: the optional ones answer for it */
    CHECK_INT(tp_load(TB_VENDORLIKE, err, sizeof err), 0);
    CHECK(!tp_is_builtin());
    CHECK(!tp_has_admin());
    CHECK(strncmp(tp_TIMGetSDKVersion(), "timref ", 7) == 0);
    CHECK_INT(tp_TIMRefAdminRequest("v4/im_open_login_svc/account_import", "{}", next_token++),
              TP_ERR_UNSUPPORTED);
    CHECK_STR(tp_TIMRefGetLastError(), "");
    CHECK_INT(tp_drain(&(tp_item*){NULL}), 0);

    /* failures leave the current library in place and say why */
    CHECK_INT(tp_load("/nonexistent/libnope.so", err, sizeof err), -1);
    CHECK_HAS(err, "/nonexistent/libnope.so");
    CHECK_INT(tp_load("libc.so.6", err, sizeof err), -1);
    CHECK_STR(err, "libc.so.6 does not export TIMInit");
    CHECK_INT(tp_load("/nonexistent/libnope.so", err, 8), -1); /* truncated, terminated */
    CHECK_INT(strlen(err), 7);
    CHECK(!tp_is_builtin());
    CHECK(!tp_has_admin());

    /* NULL or "": the compiled-in timref again */
    CHECK_INT(tp_load("", err, sizeof err), 0);
    CHECK(tp_is_builtin());
    CHECK_INT(tp_load(TB_LIBTIMREF, err, sizeof err), 0);
    CHECK_INT(tp_load(NULL, err, sizeof err), 0);
    CHECK(tp_is_builtin());
    CHECK(tp_has_admin());
}

int main(void) {
    /* first, while this process has no other thread (the out-of-memory test forks) */
    test_queue_and_eventfd();
    test_out_of_memory();
    test_wrappers();
    test_events();
    test_concurrency();
    CHECK_INT(tp_TIMUninit(), TIM_SUCC);
    test_load();
    tb_clear();
    free(recs);
    return th_finish();
}
