/*
 * test_api_rules.c - docs/contract.md 3.2 (rules every call follows) and the
 * parts of 3.3 about init/uninit, plus docs/behaviour.md "Calls and callbacks".
 */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "th_util.h"

#define APPID 1401

/* ---------------------------------------------------------------------------
 * 6013 / 6014 for every asynchronous function
 * ------------------------------------------------------------------------- */

static void expect_gate(const char* what, th_call* c, int code, const char* desc, const char* json) {
    th_check(c->code == code, __FILE__, __LINE__, what, "code %d want %d", (int)c->code, code);
    th_check(c->desc && strcmp(c->desc, desc) == 0, __FILE__, __LINE__, what, "desc \"%s\" want \"%s\"",
             c->desc ? c->desc : "(null)", desc);
    th_check(c->json && strcmp(c->json, json) == 0, __FILE__, __LINE__, what,
             "json_params \"%s\" want \"%s\"", c->json ? c->json : "(null)", json);
    th_call_free(c);
}

static const char* k_profile_param = "{\"friendship_getprofilelist_param_identifier_array\":[\"me\"]}";
static const char* k_modify_param = "{\"user_profile_item_nick_name\":\"x\"}";
static const char* k_status_param = "{\"user_status_custom_status\":\"x\"}";

/* The profile and status calls, with valid arguments, must all give `code`. */
static void check_profile_status_calls(int code, const char* desc, const char* when) {
    char what[128];
#define GATE(fn, arg, json)                                                   \
    do {                                                                      \
        snprintf(what, sizeof what, "%s: " #fn, when);                        \
        expect_gate(what, tu_run(fn, arg), code, desc, json);                 \
    } while (0)
    GATE(TIMProfileGetUserProfileList, k_profile_param, "");
    GATE(TIMProfileModifySelfUserProfile, k_modify_param, "");
    GATE(TIMGetUserStatus, "[\"me\"]", "[]");
    GATE(TIMSetSelfStatus, k_status_param, "");
    GATE(TIMSubscribeUserStatus, "[\"other\"]", "");
    GATE(TIMUnsubscribeUserStatus, "[\"other\"]", "");
    GATE(TIMUnsubscribeUserStatus, NULL, "");
    GATE(TIMSubscribeUserInfo, "[\"other\"]", "");
    GATE(TIMUnsubscribeUserInfo, "[\"other\"]", "");
    GATE(TIMUnsubscribeUserInfo, NULL, "");
#undef GATE
}

static void check_all_6013(const char* when) {
    char what[128];
    check_profile_status_calls(6013, "not initialized", when);
    snprintf(what, sizeof what, "%s: TIMLogin", when);
    expect_gate(what, tu_login("me", "sig"), 6013, "not initialized", "");
    snprintf(what, sizeof what, "%s: TIMLogout", when);
    expect_gate(what, tu_logout(), 6013, "not initialized", "");
    snprintf(what, sizeof what, "%s: TIMRefAdminRequest", when);
    expect_gate(what, tu_admin("v4/im_open_login_svc/account_import", "{\"UserID\":\"x\"}"), 6013,
                "not initialized", "");
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_UnLogined);
    char buf[128];
    memset(buf, 'z', sizeof buf);
    CHECK_INT(TIMGetLoginUserID(buf), TIM_SUCC);
    CHECK_STR(buf, "");
}

/* ---------------------------------------------------------------------------
 * Synchronous argument rules
 * ------------------------------------------------------------------------- */

static void test_null_and_empty(void) {
    tu_fn required[] = {TIMProfileGetUserProfileList, TIMProfileModifySelfUserProfile,
                        TIMGetUserStatus,             TIMSetSelfStatus,
                        TIMSubscribeUserStatus,       TIMSubscribeUserInfo};
    const char* names[] = {"GetUserProfileList", "ModifySelfUserProfile", "GetUserStatus",
                           "SetSelfStatus",      "SubscribeUserStatus",   "SubscribeUserInfo"};
    for (size_t i = 0; i < sizeof required / sizeof *required; i++) {
        th_call* c = tu_run(required[i], NULL);
        th_check(c->code == TIM_ERR_PARAM, __FILE__, __LINE__, names[i], "NULL: %d", (int)c->code);
        th_call_free(c);
        c = tu_run(required[i], "");
        th_check(c->code == TIM_ERR_PARAM, __FILE__, __LINE__, names[i], "\"\": %d", (int)c->code);
        th_call_free(c);
    }
    /* NULL user id */
    th_call* c = tu_login(NULL, "sig");
    CHECK_INT(c->code, TIM_ERR_PARAM);
    th_call_free(c);
    /* admin: NULL / "" api or body */
    TU_ADMIN_EXPECT(NULL, "{\"UserID\":\"a\"}", TIM_ERR_PARAM);
    TU_ADMIN_EXPECT("", "{\"UserID\":\"a\"}", TIM_ERR_PARAM);
    TU_ADMIN_EXPECT("v4/im_open_login_svc/account_import", NULL, TIM_ERR_PARAM);
    TU_ADMIN_EXPECT("v4/im_open_login_svc/account_import", "", TIM_ERR_PARAM);
    /* unsubscribe: NULL and "" mean "all" (accepted) */
    TU_EXPECT(TIMUnsubscribeUserStatus, NULL, 0, NULL);
    TU_EXPECT(TIMUnsubscribeUserStatus, "", 0, NULL);
    TU_EXPECT(TIMUnsubscribeUserStatus, "[]", 0, NULL);
    TU_EXPECT(TIMUnsubscribeUserInfo, NULL, 0, NULL);
    TU_EXPECT(TIMUnsubscribeUserInfo, "", 0, NULL);
    TU_EXPECT(TIMUnsubscribeUserInfo, "[]", 0, NULL);
    CHECK_INT(TIMGetLoginUserID(NULL), TIM_ERR_PARAM);
}

static void test_json_rules(void) {
    /* not JSON */
    const char* not_json[] = {"not json", "[\"me\"", "[\"me\"] x", "[\"me\"],", "{", "[1,]", "'a'",
                              "[\"a\" \"b\"]", "nul"};
    for (size_t i = 0; i < sizeof not_json / sizeof *not_json; i++) {
        th_call* c = tu_run(TIMGetUserStatus, not_json[i]);
        th_check(c->code == TIM_ERR_JSON, __FILE__, __LINE__, "GetUserStatus not JSON",
                 "%s -> %d", not_json[i], (int)c->code);
        th_call_free(c);
    }
    TU_EXPECT(TIMProfileGetUserProfileList, "not json", TIM_ERR_JSON, NULL);
    TU_EXPECT(TIMProfileModifySelfUserProfile, "{\"user_profile_item_nick_name\":}", TIM_ERR_JSON, NULL);
    TU_EXPECT(TIMSetSelfStatus, "{user_status_custom_status: 1}", TIM_ERR_JSON, NULL);
    TU_EXPECT(TIMSubscribeUserStatus, "[me]", TIM_ERR_JSON, NULL);
    TU_EXPECT(TIMUnsubscribeUserStatus, "[me]", TIM_ERR_JSON, NULL);
    TU_EXPECT(TIMSubscribeUserInfo, "[me]", TIM_ERR_JSON, NULL);
    TU_EXPECT(TIMUnsubscribeUserInfo, "[me]", TIM_ERR_JSON, NULL);

    /* wrong top-level type */
    const char* not_array[] = {"{}", "\"me\"", "1", "null", "true",
                               "{\"friendship_getprofilelist_param_identifier_array\":[\"me\"]}"};
    for (size_t i = 0; i < sizeof not_array / sizeof *not_array; i++) {
        tu_fn fns[] = {TIMGetUserStatus, TIMSubscribeUserStatus, TIMUnsubscribeUserStatus,
                       TIMSubscribeUserInfo, TIMUnsubscribeUserInfo};
        for (size_t k = 0; k < sizeof fns / sizeof *fns; k++) {
            th_call* c = tu_run(fns[k], not_array[i]);
            th_check(c->code == TIM_ERR_JSON, __FILE__, __LINE__, "array function, wrong type",
                     "fn #%zu %s -> %d", k, not_array[i], (int)c->code);
            th_call_free(c);
        }
    }
    const char* not_object[] = {"[]", "[\"me\"]", "\"x\"", "1", "null"};
    for (size_t i = 0; i < sizeof not_object / sizeof *not_object; i++) {
        tu_fn fns[] = {TIMProfileGetUserProfileList, TIMProfileModifySelfUserProfile, TIMSetSelfStatus};
        for (size_t k = 0; k < sizeof fns / sizeof *fns; k++) {
            th_call* c = tu_run(fns[k], not_object[i]);
            th_check(c->code == TIM_ERR_JSON, __FILE__, __LINE__, "object function, wrong type",
                     "fn #%zu %s -> %d", k, not_object[i], (int)c->code);
            th_call_free(c);
        }
        th_call* c = tu_admin("v4/im_open_login_svc/account_import", not_object[i]);
        th_check(c->code == TIM_ERR_JSON, __FILE__, __LINE__, "admin body wrong type", "%s -> %d",
                 not_object[i], (int)c->code);
        th_call_free(c);
    }
    TU_ADMIN_EXPECT("v4/im_open_login_svc/account_import", "not json", TIM_ERR_JSON);

    /* duplicated keys */
    TU_EXPECT(TIMProfileGetUserProfileList,
              "{\"friendship_getprofilelist_param_identifier_array\":[\"me\"],"
              "\"friendship_getprofilelist_param_identifier_array\":[\"me\"]}",
              TIM_ERR_JSON, NULL);
    TU_EXPECT(TIMProfileModifySelfUserProfile,
              "{\"user_profile_item_nick_name\":\"a\",\"user_profile_item_nick_name\":\"b\"}",
              TIM_ERR_JSON, NULL);
    TU_EXPECT(TIMProfileModifySelfUserProfile,
              "{\"user_profile_item_custom_string_array\":[{\"user_profile_custom_string_info_key\":\"a\","
              "\"user_profile_custom_string_info_key\":\"b\",\"user_profile_custom_string_info_value\":\"v\"}]}",
              TIM_ERR_JSON, NULL);
    TU_EXPECT(TIMSetSelfStatus, "{\"user_status_custom_status\":\"a\",\"user_status_custom_status\":\"b\"}",
              TIM_ERR_JSON, NULL);
    TU_EXPECT(TIMGetUserStatus, "[{\"a\":1,\"a\":2}]", TIM_ERR_JSON, NULL);
    TU_ADMIN_EXPECT("v4/im_open_login_svc/account_import", "{\"UserID\":\"d1\",\"UserID\":\"d2\"}", TIM_ERR_JSON);

    /* invalid UTF-8 and \u0000 */
    const char* bad_text[] = {"[\"\xff\"]",         "[\"a\xc3\"]",      "[\"\xc0\xaf\"]",
                              "[\"\xed\xa0\x80\"]", "[\"\xf8\x88\x80\x80\x80\"]",
                              "[\"a\\u0000b\"]",    "[\"\\u0000\"]"};
    for (size_t i = 0; i < sizeof bad_text / sizeof *bad_text; i++) {
        th_call* c = tu_run(TIMGetUserStatus, bad_text[i]);
        th_check(c->code == TIM_ERR_JSON, __FILE__, __LINE__, "bad text in GetUserStatus",
                 "case %zu -> %d", i, (int)c->code);
        th_call_free(c);
    }
    TU_EXPECT(TIMProfileModifySelfUserProfile, "{\"user_profile_item_nick_name\":\"\xfe\"}", TIM_ERR_JSON, NULL);
    TU_EXPECT(TIMProfileModifySelfUserProfile, "{\"user_profile_item_nick_name\":\"a\\u0000\"}", TIM_ERR_JSON,
              NULL);
    TU_EXPECT(TIMProfileModifySelfUserProfile, "{\"\xff\":1}", TIM_ERR_JSON, NULL);
    TU_EXPECT(TIMProfileModifySelfUserProfile, "{\"a\\u0000b\":1}", TIM_ERR_JSON, NULL);
    TU_EXPECT(TIMSetSelfStatus, "{\"user_status_custom_status\":\"\\u0000\"}", TIM_ERR_JSON, NULL);
    /* a valid escaped non-ASCII character is fine as JSON (ids are then checked by the callback) */
    {
        th_call* c = tu_run(TIMSetSelfStatus, "{\"user_status_custom_status\":\"\\u00e9t\\u00e9 \xe2\x82\xac\"}");
        CHECK_INT(c->code, 0);
        th_call_free(c);
    }
}

/* "[" * depth + "]" * depth, or an object holding it */
static char* nested_array(int depth) {
    char* s = malloc((size_t)depth * 2 + 1);
    if (!s) abort();
    for (int i = 0; i < depth; i++) s[i] = '[';
    for (int i = 0; i < depth; i++) s[depth + i] = ']';
    s[depth * 2] = 0;
    return s;
}

static void test_depth(void) {
    /* arrays only: 64 levels pass the JSON rule, 65 do not */
    char* a64 = nested_array(64);
    char* a65 = nested_array(65);
    th_call* c = tu_run(TIMGetUserStatus, a64);
    th_check(c->code >= 0, __FILE__, __LINE__, "64 nested arrays accepted", "code %d", (int)c->code);
    th_call_free(c);
    TU_EXPECT(TIMGetUserStatus, a65, TIM_ERR_JSON, NULL);
    free(a64);
    free(a65);
    /* object + 63 arrays = 64 levels; object + 64 arrays = 65 */
    for (int extra = 0; extra <= 1; extra++) {
        char* inner = nested_array(63 + extra);
        size_t n = strlen(inner) + 128;
        char* doc = malloc(n);
        if (!doc) abort();
        snprintf(doc, n, "{\"friendship_getprofilelist_param_identifier_array\":[\"me\"],\"x\":%s}", inner);
        c = tu_run(TIMProfileGetUserProfileList, doc);
        if (extra == 0)
            th_check(c->code >= 0, __FILE__, __LINE__, "object at depth 64 accepted", "code %d", (int)c->code);
        else
            th_check(c->code == TIM_ERR_JSON, __FILE__, __LINE__, "object at depth 65 refused", "code %d",
                     (int)c->code);
        th_call_free(c);
        free(doc);
        free(inner);
    }
    /* objects nested: {"a":{"a":...}} 64 and 65 levels, in SetSelfStatus (other keys are ignored) */
    for (int depth = 64; depth <= 65; depth++) {
        size_t n = (size_t)depth * 6 + 64;
        char* doc = malloc(n);
        if (!doc) abort();
        size_t p = 0;
        p += (size_t)sprintf(doc + p, "{\"user_status_custom_status\":\"d\",\"z\":");
        for (int i = 1; i < depth - 1; i++) p += (size_t)sprintf(doc + p, "{\"a\":");
        p += (size_t)sprintf(doc + p, "{}");
        for (int i = 1; i < depth; i++) doc[p++] = '}';
        doc[p] = 0;
        c = tu_run(TIMSetSelfStatus, doc);
        if (depth == 64)
            th_check(c->code == 0, __FILE__, __LINE__, "objects at depth 64 accepted", "code %d", (int)c->code);
        else
            th_check(c->code == TIM_ERR_JSON, __FILE__, __LINE__, "objects at depth 65 refused", "code %d",
                     (int)c->code);
        th_call_free(c);
        free(doc);
    }
    /* hostile depth: must not crash */
    char* deep = nested_array(200000);
    TU_EXPECT(TIMGetUserStatus, deep, TIM_ERR_JSON, NULL);
    free(deep);
}

/* JSON text of exactly len bytes: head (an unclosed array or object), spaces, then close. */
static char* padded(const char* head, char close, size_t len) {
    char* s = tu_repeat(' ', len);
    memcpy(s, head, strlen(head));
    s[len - 1] = close;
    return s;
}

/* ["me"] padded with spaces to exactly `len` bytes */
static char* padded_array(size_t len) { return padded("[\"me\"", ']', len); }

static void test_size_limit(void) {
    const size_t MiB = 1048576;
    char* ok = padded_array(MiB);
    char* over = padded_array(MiB + 1);
    CHECK_INT(strlen(ok), MiB);
    TU_EXPECT(TIMGetUserStatus, ok, 0, NULL);
    TU_EXPECT(TIMGetUserStatus, over, 9522, NULL);
    TU_EXPECT(TIMSubscribeUserStatus, over, 9522, NULL);
    TU_EXPECT(TIMUnsubscribeUserStatus, over, 9522, NULL);
    TU_EXPECT(TIMSubscribeUserInfo, over, 9522, NULL);
    TU_EXPECT(TIMUnsubscribeUserInfo, over, 9522, NULL);
    free(ok);
    free(over);

    /* objects: {"user_profile_item_nick_name":"big"} padded with spaces */
    char* m_ok = padded("{\"user_profile_item_nick_name\":\"SizeOk\"", '}', MiB);
    TU_EXPECT(TIMProfileModifySelfUserProfile, m_ok, 0, NULL);
    char* m_over = padded("{\"user_profile_item_nick_name\":\"SizeOver\"", '}', MiB + 1);
    TU_EXPECT(TIMProfileModifySelfUserProfile, m_over, 9522, NULL);
    json_t* p = TU_PROFILE("me", 0);
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), "SizeOk");
    json_decref(p);
    free(m_ok);
    free(m_over);

    /* a profile-list param and a status param, and an admin body, over the limit */
    const char* gp = "{\"friendship_getprofilelist_param_identifier_array\":[\"me\"]";
    char* g_over = padded(gp, '}', MiB + 1);
    TU_EXPECT(TIMProfileGetUserProfileList, g_over, 9522, NULL);
    free(g_over);
    char* g_ok = padded(gp, '}', MiB);
    TU_EXPECT(TIMProfileGetUserProfileList, g_ok, 0, NULL);
    free(g_ok);
    char* s_over = padded("{\"user_status_custom_status\":\"x\"", '}', MiB + 1);
    TU_EXPECT(TIMSetSelfStatus, s_over, 9522, NULL);
    free(s_over);
    char* a_over = padded("{\"UserID\":\"sizeuser\"", '}', MiB + 1);
    TU_ADMIN_EXPECT("v4/im_open_login_svc/account_import", a_over, 9522);
    free(a_over);
    /* the refused import created nothing */
    TU_EXPECT_NO_ACCOUNT("sizeuser");
}

/* Every input string is copied before the call returns: scribble over and free it at once. */
static void scribble_free(char* s) {
    memset(s, 'X', strlen(s));
    free(s);
}

/*
 * Call f(a) (or f2(a, b)) on copies of the strings, scribbled over and freed as soon as it returned;
 * check it was accepted and succeeded.  Returns the call (caller frees).
 */
static th_call* run_copied_at(int line, const char* what, tu_fn f, tu_fn2 f2, const char* a, const char* b) {
    th_call* c = th_call_new();
    char* ca = tu_strdup(a);
    char* cb = b ? tu_strdup(b) : NULL;
    int rc = f2 ? f2(ca, cb, th_cb, c) : f(ca, th_cb, c);
    th_check(rc == TIM_SUCC, __FILE__, line, what, "returned %d", rc);
    scribble_free(ca);
    if (cb) scribble_free(cb);
    th_wait(c);
    th_check(c->code == 0, __FILE__, line, what, "code %d desc \"%s\"", (int)c->code, c->desc ? c->desc : "");
    return c;
}
#define RUN_COPIED(f, a) run_copied_at(__LINE__, #f, (f), NULL, (a), NULL)
#define RUN_COPIED2(f2, a, b) run_copied_at(__LINE__, #f2, NULL, (f2), (a), (b))

static void test_inputs_copied(void) {
    th_call_free(RUN_COPIED(TIMSetSelfStatus, "{\"user_status_custom_status\":\"copied\"}"));
    int code;
    json_t* st = tu_get_status("me", &code);
    CHECK_STR(tu_jstr(st, "user_status_custom_status"), "copied");
    json_decref(st);

    th_call_free(RUN_COPIED(TIMProfileModifySelfUserProfile, "{\"user_profile_item_nick_name\":\"CopiedNick\"}"));

    th_call* c = RUN_COPIED(TIMProfileGetUserProfileList, k_profile_param);
    json_t* a = tu_parse(c->json);
    CHECK_STR(tu_jstr(json_array_get(a, 0), "user_profile_nick_name"), "CopiedNick");
    json_decref(a);
    th_call_free(c);

    th_call_free(RUN_COPIED(TIMGetUserStatus, "[\"me\"]"));
    th_call_free(RUN_COPIED2(TIMLogin, "me", "sig"));
    th_call_free(RUN_COPIED2(TIMRefAdminRequest, "v4/im_open_login_svc/account_import", "{\"UserID\":\"copied1\"}"));
    json_decref(TU_PROFILE("copied1", 0));

    const char* subs[] = {"[\"copied1\"]"};
    tu_fn fns[] = {TIMSubscribeUserStatus, TIMUnsubscribeUserStatus, TIMSubscribeUserInfo, TIMUnsubscribeUserInfo};
    for (size_t i = 0; i < 4; i++) th_call_free(RUN_COPIED(fns[i], subs[0]));
}

/* ---------------------------------------------------------------------------
 * Order of completion
 * ------------------------------------------------------------------------- */

typedef struct seqrec {
    pthread_mutex_t mu;
    int n;          /* completions so far */
    int cap;
    int* order;     /* order[k] = index of the k-th completed call */
    int* codes;     /* codes[idx] */
    int* fired;     /* fired[idx] */
    int closed;     /* set once TIMUninit returned */
    int late;       /* callbacks after closed */
    int on_caller;  /* callbacks on the caller's thread */
    pthread_t caller;
} seqrec;

static seqrec g_seq;

static void seq_init(int cap) {
    memset(&g_seq, 0, sizeof g_seq);
    pthread_mutex_init(&g_seq.mu, NULL);
    g_seq.cap = cap;
    g_seq.order = calloc((size_t)cap, sizeof(int));
    g_seq.codes = calloc((size_t)cap, sizeof(int));
    g_seq.fired = calloc((size_t)cap, sizeof(int));
    if (!g_seq.order || !g_seq.codes || !g_seq.fired) abort();
    g_seq.caller = pthread_self();
}

static void seq_free(void) {
    free(g_seq.order);
    free(g_seq.codes);
    free(g_seq.fired);
    pthread_mutex_destroy(&g_seq.mu);
}

static void seq_cb(int32_t code, const char* desc, const char* json, const void* ud) {
    (void)desc;
    (void)json;
    int idx = (int)(intptr_t)ud;
    pthread_mutex_lock(&g_seq.mu);
    if (g_seq.closed) g_seq.late++;
    if (pthread_equal(pthread_self(), g_seq.caller)) g_seq.on_caller++;
    if (idx >= 0 && idx < g_seq.cap) {
        g_seq.fired[idx]++;
        g_seq.codes[idx] = code;
    }
    if (g_seq.n < g_seq.cap) g_seq.order[g_seq.n] = idx;
    g_seq.n++;
    pthread_mutex_unlock(&g_seq.mu);
}

static int seq_wait(int n, int timeout_ms) {
    for (int w = 0; w <= timeout_ms; w += 2) {
        pthread_mutex_lock(&g_seq.mu);
        int got = g_seq.n;
        pthread_mutex_unlock(&g_seq.mu);
        if (got >= n) return 1;
        th_sleep_ms(2);
    }
    return 0;
}

static void test_order(void) {
    enum { N = 1000 };
    seq_init(N);
    int accepted = 0;
    for (int i = 0; i < N; i++) {
        int rc;
        void* ud = (void*)(intptr_t)i;
        switch (i % 5) {
        case 0: rc = TIMGetUserStatus("[\"me\"]", seq_cb, ud); break;
        case 1: rc = TIMProfileGetUserProfileList(k_profile_param, seq_cb, ud); break;
        case 2: rc = TIMSetSelfStatus(k_status_param, seq_cb, ud); break;
        case 3: rc = TIMGetUserStatus("[]", seq_cb, ud); break; /* 6017 through the callback */
        default:
            rc = TIMRefAdminRequest("v4/openim/query_online_status", "{\"To_Account\":[\"me\"]}", seq_cb, ud);
            break;
        }
        if (rc == TIM_SUCC) accepted++;
    }
    CHECK_INT(accepted, N);
    CHECK(seq_wait(N, 20000));
    pthread_mutex_lock(&g_seq.mu);
    int in_order = 1, once = 1, codes_ok = 1;
    for (int k = 0; k < N && k < g_seq.n; k++)
        if (g_seq.order[k] != k) in_order = 0;
    for (int i = 0; i < N; i++) {
        if (g_seq.fired[i] != 1) once = 0;
        int want = (i % 5 == 3) ? 6017 : 0;
        if (g_seq.codes[i] != want) codes_ok = 0;
    }
    int n = g_seq.n, on_caller = g_seq.on_caller;
    pthread_mutex_unlock(&g_seq.mu);
    CHECK_INT(n, N);
    CHECK(in_order);
    CHECK(once);
    CHECK(codes_ok);
    CHECK_INT(on_caller, 0);
    seq_free();
}

/* ---------------------------------------------------------------------------
 * Calls from inside a callback
 * ------------------------------------------------------------------------- */

typedef struct inner_ctx {
    th_call* inner[20];
    int rcs[20];
    int login_status;
    char uid[128];
    uint64_t server_time;
    const char* version;
    pthread_mutex_t mu;
    int done;
} inner_ctx;

static void outer_cb(int32_t code, const char* desc, const char* json, const void* ud) {
    (void)code;
    (void)desc;
    (void)json;
    inner_ctx* x = (inner_ctx*)ud;
    int rcs[20];
    for (int i = 0; i < 20; i++) {
        switch (i % 4) {
        case 0: rcs[i] = TIMGetUserStatus("[\"me\"]", th_cb, x->inner[i]); break;
        case 1: rcs[i] = TIMProfileGetUserProfileList(k_profile_param, th_cb, x->inner[i]); break;
        case 2: rcs[i] = TIMSetSelfStatus(k_status_param, th_cb, x->inner[i]); break;
        default:
            rcs[i] = TIMRefAdminRequest("v4/openim/query_online_status", "{\"To_Account\":[\"me\"]}", th_cb,
                                        x->inner[i]);
            break;
        }
    }
    int ls = TIMGetLoginStatus();
    char uid[128];
    TIMGetLoginUserID(uid);
    uint64_t t = TIMGetServerTime();
    const char* v = TIMGetSDKVersion();
    /* re-registering event callbacks from a callback must not deadlock either */
    TIMSetUserStatusChangedCallback(NULL, NULL);
    TIMSetSelfInfoUpdatedCallback(NULL, NULL);
    TIMSetUserInfoChangedCallback(NULL, NULL);
    pthread_mutex_lock(&x->mu);
    memcpy(x->rcs, rcs, sizeof rcs);
    x->login_status = ls;
    memcpy(x->uid, uid, sizeof uid);
    x->server_time = t;
    x->version = v;
    x->done = 1;
    pthread_mutex_unlock(&x->mu);
}

static void test_calls_from_callback(void) {
    inner_ctx x;
    memset(&x, 0, sizeof x);
    pthread_mutex_init(&x.mu, NULL);
    for (int i = 0; i < 20; i++) x.inner[i] = th_call_new();
    CHECK_INT(TIMGetUserStatus("[\"me\"]", outer_cb, &x), TIM_SUCC);
    for (int i = 0; i < 20; i++) {
        th_wait(x.inner[i]);
        CHECK_INT(x.inner[i]->code, 0);
    }
    int done = 0;
    for (int w = 0; w < 5000 && !done; w += 2) {
        pthread_mutex_lock(&x.mu);
        done = x.done;
        pthread_mutex_unlock(&x.mu);
        if (!done) th_sleep_ms(2);
    }
    CHECK(done);
    pthread_mutex_lock(&x.mu);
    for (int i = 0; i < 20; i++) CHECK_INT(x.rcs[i], TIM_SUCC);
    CHECK_INT(x.login_status, kTIMLoginStatus_Logined);
    CHECK_STR(x.uid, "me");
    CHECK(x.server_time > 1600000000ULL);
    CHECK(x.version != NULL);
    pthread_mutex_unlock(&x.mu);
    for (int i = 0; i < 20; i++) th_call_free(x.inner[i]);
    pthread_mutex_destroy(&x.mu);
}

/* ---------------------------------------------------------------------------
 * Calls from 8 threads at once
 * ------------------------------------------------------------------------- */

enum { TH_THREADS = 8, TH_CALLS = 250 };

typedef struct worker {
    pthread_mutex_t mu;
    int id;
    int accepted;
    int n;                   /* completions */
    int order[TH_CALLS];     /* completion order */
    int fired[TH_CALLS];
    int codes[TH_CALLS];
    int on_own_thread;
    pthread_t self;
    struct slot { struct worker* w; int idx; } slots[TH_CALLS];
} worker;

static void worker_cb(int32_t code, const char* desc, const char* json, const void* ud) {
    (void)desc;
    (void)json;
    const struct slot* s = (const struct slot*)ud;
    worker* w = s->w;
    pthread_mutex_lock(&w->mu);
    if (pthread_equal(pthread_self(), w->self)) w->on_own_thread++;
    if (w->n < TH_CALLS) w->order[w->n] = s->idx;
    w->n++;
    w->fired[s->idx]++;
    w->codes[s->idx] = code;
    pthread_mutex_unlock(&w->mu);
}

static void* worker_main(void* arg) {
    worker* w = (worker*)arg;
    pthread_mutex_lock(&w->mu);
    w->self = pthread_self();
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; i < TH_CALLS; i++) {
        w->slots[i].w = w;
        w->slots[i].idx = i;
        int rc;
        if (i % 3 == 0) rc = TIMGetUserStatus("[\"me\"]", worker_cb, &w->slots[i]);
        else if (i % 3 == 1) rc = TIMProfileGetUserProfileList(k_profile_param, worker_cb, &w->slots[i]);
        else rc = TIMSetSelfStatus(k_status_param, worker_cb, &w->slots[i]);
        (void)TIMGetLoginStatus();
        if (rc == TIM_SUCC) {
            pthread_mutex_lock(&w->mu);
            w->accepted++;
            pthread_mutex_unlock(&w->mu);
        }
    }
    return NULL;
}

static void test_threads(void) {
    worker* ws = calloc(TH_THREADS, sizeof *ws);
    pthread_t tids[TH_THREADS];
    if (!ws) abort();
    for (int t = 0; t < TH_THREADS; t++) {
        pthread_mutex_init(&ws[t].mu, NULL);
        ws[t].id = t;
    }
    for (int t = 0; t < TH_THREADS; t++) pthread_create(&tids[t], NULL, worker_main, &ws[t]);
    for (int t = 0; t < TH_THREADS; t++) pthread_join(tids[t], NULL);
    for (int t = 0; t < TH_THREADS; t++) {
        int done = 0;
        for (int w = 0; w < 20000 && !done; w += 2) {
            pthread_mutex_lock(&ws[t].mu);
            done = ws[t].n >= TH_CALLS;
            pthread_mutex_unlock(&ws[t].mu);
            if (!done) th_sleep_ms(2);
        }
        pthread_mutex_lock(&ws[t].mu);
        CHECK_INT(ws[t].accepted, TH_CALLS);
        CHECK_INT(ws[t].n, TH_CALLS);
        int in_order = 1, once = 1, ok = 1;
        for (int i = 0; i < TH_CALLS && i < ws[t].n; i++)
            if (ws[t].order[i] != i) in_order = 0;
        for (int i = 0; i < TH_CALLS; i++) {
            if (ws[t].fired[i] != 1) once = 0;
            if (ws[t].codes[i] != 0) ok = 0;
        }
        th_check(in_order, __FILE__, __LINE__, "per-thread completion order", "thread %d", t);
        th_check(once, __FILE__, __LINE__, "each callback once", "thread %d", t);
        th_check(ok, __FILE__, __LINE__, "all succeeded", "thread %d", t);
        CHECK_INT(ws[t].on_own_thread, 0);
        pthread_mutex_unlock(&ws[t].mu);
    }
    for (int t = 0; t < TH_THREADS; t++) pthread_mutex_destroy(&ws[t].mu);
    free(ws);
}

/* ---------------------------------------------------------------------------
 * TIMUninit with calls in flight
 * ------------------------------------------------------------------------- */

static void test_uninit_in_flight(void) {
    enum { N = 2000 };
    /* a heavy-ish call: 100 ids per lookup */
    json_t* a = json_array();
    json_array_append_new(a, json_string("me"));
    for (int i = 1; i < 100; i++) {
        char id[32];
        snprintf(id, sizeof id, "ghost%d", i);
        json_array_append_new(a, json_string(id));
    }
    char* param = tu_dump(json_pack("{s:o}", "friendship_getprofilelist_param_identifier_array", a));
    seq_init(N);
    int accepted = 0;
    for (int i = 0; i < N; i++) {
        int rc = (i % 2) ? TIMProfileGetUserProfileList(param, seq_cb, (void*)(intptr_t)i)
                         : TIMProfileModifySelfUserProfile(k_modify_param, seq_cb, (void*)(intptr_t)i);
        if (rc == TIM_SUCC) accepted++;
    }
    CHECK_INT(accepted, N);
    CHECK_INT(TIMUninit(), TIM_SUCC);
    pthread_mutex_lock(&g_seq.mu);
    g_seq.closed = 1;
    int n = g_seq.n;
    int in_order = 1, once = 1, prefix = 1, seen_7009 = 0, n7009 = 0, other = 0;
    for (int k = 0; k < N && k < n; k++)
        if (g_seq.order[k] != k) in_order = 0;
    for (int i = 0; i < N; i++) {
        if (g_seq.fired[i] != 1) once = 0;
        int c = g_seq.codes[i];
        if (c == 7009) {
            seen_7009 = 1;
            n7009++;
        } else if (c == 0) {
            if (seen_7009) prefix = 0;
        } else {
            other++;
        }
    }
    pthread_mutex_unlock(&g_seq.mu);
    CHECK_INT(n, N);
    CHECK(in_order);
    CHECK(once);
    CHECK(prefix);
    CHECK_INT(other, 0);
    printf("uninit in flight: %d of %d calls interrupted with 7009\n", n7009, N);
    th_sleep_ms(100);
    pthread_mutex_lock(&g_seq.mu);
    CHECK_INT(g_seq.late, 0);
    CHECK_INT(g_seq.n, N);
    CHECK_INT(g_seq.on_caller, 0);
    pthread_mutex_unlock(&g_seq.mu);
    seq_free();
    free(param);
}

/* Threads keep calling while TIMUninit runs: every accepted call completes once. */
enum { RACE_THREADS = 4, RACE_CALLS = 300 };
typedef struct race {
    pthread_mutex_t mu;
    int accepted;
    int fired[RACE_CALLS];
    int rcs[RACE_CALLS];
    int codes[RACE_CALLS];
    struct rslot { struct race* r; int idx; } slots[RACE_CALLS];
} race;

static void race_cb(int32_t code, const char* desc, const char* json, const void* ud) {
    (void)desc;
    (void)json;
    const struct rslot* s = (const struct rslot*)ud;
    pthread_mutex_lock(&s->r->mu);
    s->r->fired[s->idx]++;
    s->r->codes[s->idx] = code;
    pthread_mutex_unlock(&s->r->mu);
}

static void* race_main(void* arg) {
    race* r = (race*)arg;
    for (int i = 0; i < RACE_CALLS; i++) {
        r->slots[i].r = r;
        r->slots[i].idx = i;
        int rc = TIMGetUserStatus("[\"me\"]", race_cb, &r->slots[i]);
        pthread_mutex_lock(&r->mu);
        r->rcs[i] = rc;
        if (rc == TIM_SUCC) r->accepted++;
        pthread_mutex_unlock(&r->mu);
        if (i % 50 == 0) th_sleep_ms(1);
    }
    return NULL;
}

static void test_uninit_race(void) {
    race* rs = calloc(RACE_THREADS, sizeof *rs);
    if (!rs) abort();
    pthread_t tids[RACE_THREADS];
    for (int t = 0; t < RACE_THREADS; t++) pthread_mutex_init(&rs[t].mu, NULL);
    for (int t = 0; t < RACE_THREADS; t++) pthread_create(&tids[t], NULL, race_main, &rs[t]);
    th_sleep_ms(3);
    CHECK_INT(TIMUninit(), TIM_SUCC);
    for (int t = 0; t < RACE_THREADS; t++) pthread_join(tids[t], NULL);
    for (int t = 0; t < RACE_THREADS; t++) {
        int all = 0;
        for (int w = 0; w < 10000 && !all; w += 2) {
            all = 1;
            pthread_mutex_lock(&rs[t].mu);
            for (int i = 0; i < RACE_CALLS; i++)
                if (rs[t].rcs[i] == TIM_SUCC && rs[t].fired[i] == 0) all = 0;
            pthread_mutex_unlock(&rs[t].mu);
            if (!all) th_sleep_ms(2);
        }
        th_sleep_ms(20);
        pthread_mutex_lock(&rs[t].mu);
        int once = 1, codes = 1, refused = 0;
        for (int i = 0; i < RACE_CALLS; i++) {
            if (rs[t].rcs[i] != TIM_SUCC) {
                refused++;
                if (rs[t].fired[i] != 0) once = 0;
                continue;
            }
            if (rs[t].fired[i] != 1) once = 0;
            int c = rs[t].codes[i];
            if (c != 0 && c != 7009 && c != 6013) codes = 0;
        }
        th_check(once, __FILE__, __LINE__, "racing uninit: each accepted call fired once", "thread %d", t);
        th_check(codes, __FILE__, __LINE__, "racing uninit: codes 0, 7009 or 6013", "thread %d", t);
        CHECK_INT(refused, 0);
        pthread_mutex_unlock(&rs[t].mu);
    }
    for (int t = 0; t < RACE_THREADS; t++) pthread_mutex_destroy(&rs[t].mu);
    free(rs);
}

/* TIMUninit from inside a callback. */
typedef struct uic {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int go, done, rc, bs_fired, bs_7009;
    th_call* bs[10];
} uic;

static void uninit_cb(int32_t code, const char* desc, const char* json, const void* ud) {
    (void)code;
    (void)desc;
    (void)json;
    uic* u = (uic*)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 5;
    pthread_mutex_lock(&u->mu);
    while (!u->go)
        if (pthread_cond_timedwait(&u->cv, &u->mu, &ts) != 0) break;
    pthread_mutex_unlock(&u->mu);
    int rc = TIMUninit();
    int fired = 0, n7009 = 0;
    for (int i = 0; i < 10; i++) {
        pthread_mutex_lock(&u->bs[i]->mu);
        if (u->bs[i]->fired == 1) fired++;
        if (u->bs[i]->fired && u->bs[i]->code == 7009) n7009++;
        pthread_mutex_unlock(&u->bs[i]->mu);
    }
    pthread_mutex_lock(&u->mu);
    u->rc = rc;
    u->bs_fired = fired;
    u->bs_7009 = n7009;
    u->done = 1;
    pthread_cond_broadcast(&u->cv);
    pthread_mutex_unlock(&u->mu);
}

static void test_uninit_in_callback(void) {
    uic u;
    memset(&u, 0, sizeof u);
    pthread_mutex_init(&u.mu, NULL);
    pthread_cond_init(&u.cv, NULL);
    for (int i = 0; i < 10; i++) u.bs[i] = th_call_new();
    CHECK_INT(TIMGetUserStatus("[\"me\"]", uninit_cb, &u), TIM_SUCC);
    for (int i = 0; i < 10; i++) CHECK_INT(TIMGetUserStatus("[\"me\"]", th_cb, u.bs[i]), TIM_SUCC);
    pthread_mutex_lock(&u.mu);
    u.go = 1;
    pthread_cond_broadcast(&u.cv);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    while (!u.done)
        if (pthread_cond_timedwait(&u.cv, &u.mu, &ts) != 0) break;
    int done = u.done, rc = u.rc, fired = u.bs_fired, n7009 = u.bs_7009;
    pthread_mutex_unlock(&u.mu);
    CHECK(done);
    CHECK_INT(rc, TIM_SUCC);
    CHECK_INT(fired, 10);
    CHECK_INT(n7009, 10);
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_UnLogined);
    th_sleep_ms(20);
    for (int i = 0; i < 10; i++) {
        pthread_mutex_lock(&u.bs[i]->mu);
        CHECK_INT(u.bs[i]->fired, 1);
        pthread_mutex_unlock(&u.bs[i]->mu);
        th_call_free(u.bs[i]);
    }
    pthread_cond_destroy(&u.cv);
    pthread_mutex_destroy(&u.mu);
}

/* ---------------------------------------------------------------------------
 * Init / login state basics
 * ------------------------------------------------------------------------- */

static void test_init_config(void) {
    CHECK_INT(TIMInit(APPID, "[]"), TIM_ERR_JSON);
    CHECK_INT(TIMInit(APPID, "not json"), TIM_ERR_JSON);
    CHECK_INT(TIMInit(APPID, "{\"sdk_config_config_file_path\":5}"), TIM_ERR_PARAM);
    CHECK_INT(TIMInit(APPID, "{\"timref_config_custom_profile_keys\":\"abc\"}"), TIM_ERR_PARAM);
    /* a refused TIMInit leaves the library uninitialized */
    th_call* c = tu_run(TIMGetUserStatus, "[\"me\"]");
    CHECK_INT(c->code, 6013);
    th_call_free(c);
    CHECK_INT(TIMInit(APPID, NULL), TIM_SUCC);
    CHECK_INT(TIMUninit(), TIM_SUCC);
    CHECK_INT(TIMInit(APPID, ""), TIM_SUCC);
    CHECK_INT(TIMUninit(), TIM_SUCC);
    CHECK_INT(TIMInit(APPID, "{\"sdk_config_config_file_path\":\"\",\"sdk_config_log_file_path\":\"/nonexistent\"}"),
              TIM_SUCC);
    CHECK_INT(TIMUninit(), TIM_SUCC);
    CHECK_INT(TIMUninit(), TIM_SUCC); /* uninit twice */
    CHECK_INT(TIMInit(APPID, "{}"), TIM_SUCC);
}

static void test_not_logged_in(void) {
    check_profile_status_calls(6014, "not login", "not logged in");
    TU_LOGOUT_OK(); /* logout while logged out succeeds */
    /* the admin surface needs no login */
    TU_ADMIN_EXPECT("v4/im_open_login_svc/account_import", "{\"UserID\":\"other\"}", 0);
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_UnLogined);
}

static void test_login_state_and_time(void) {
    const char* v = TIMGetSDKVersion();
    CHECK(v != NULL);
    CHECK(v && *v);
    uint64_t t = TIMGetServerTime();
    uint64_t now = (uint64_t)time(NULL);
    th_check(t + 2 >= now && t <= now + 2, __FILE__, __LINE__, "TIMGetServerTime near time(NULL)",
             "%llu vs %llu", (unsigned long long)t, (unsigned long long)now);
    TU_LOGIN_OK("me");
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_Logined);
    char buf[128];
    CHECK_INT(TIMGetLoginUserID(buf), TIM_SUCC);
    CHECK_STR(buf, "me");

    /* TIMInit again: TIM_SUCC, nothing changes (still logged in, old device name) */
    CHECK_INT(TIMInit(APPID + 1, "{\"timref_config_device_name\":\"OtherBox\"}"), TIM_SUCC);
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_Logined);
    CHECK_INT(TIMGetLoginUserID(buf), TIM_SUCC);
    CHECK_STR(buf, "me");
    int code;
    json_t* st = tu_get_status("me", &code);
    CHECK_INT(code, 0);
    json_t* dev = json_object_get(st, "user_status_online_devices");
    CHECK(json_is_array(dev) && json_array_size(dev) == 1);
    CHECK_STR(json_string_value(json_array_get(dev, 0)), "Linux");
    json_decref(st);
    json_t* other = tu_get_profile("other", &code); /* imported before the second TIMInit */
    CHECK_INT(code, 0);
    json_decref(other);
}

/* ---------------------------------------------------------------------------
 * TIMRefGetLastError: each refusal says why, on the refusing thread only
 * ------------------------------------------------------------------------- */

#define REASON_HAS(text) \
    th_check(strstr(TIMRefGetLastError(), (text)) != NULL, __FILE__, __LINE__, "reason names the cause", \
             "want \"%s\" in \"%s\"", (text), TIMRefGetLastError())

static void* refuse_elsewhere(void* unused) {
    (void)unused;
    th_call* c = tu_run(TIMGetUserStatus, "{\"not\": \"an array\"}");
    CHECK_INT(c->code, TIM_ERR_JSON);
    th_call_free(c);
    REASON_HAS("expected a JSON array, got an object");
    return NULL;
}

static void test_last_error(void) {
    CHECK(TIMRefGetLastError() != NULL);
    th_call* c = tu_run(TIMProfileGetUserProfileList, NULL);
    CHECK_INT(c->code, TIM_ERR_PARAM);
    th_call_free(c);
    REASON_HAS("the JSON argument is NULL");
    c = tu_run(TIMSetSelfStatus, "");
    CHECK_INT(c->code, TIM_ERR_PARAM);
    th_call_free(c);
    REASON_HAS("the JSON argument is \"\"");
    c = tu_run(TIMProfileModifySelfUserProfile, "{\"user_profile_item_nick_name\":}");
    CHECK_INT(c->code, TIM_ERR_JSON);
    th_call_free(c);
    REASON_HAS("not valid JSON");
    REASON_HAS("line 1, column");
    c = tu_run(TIMProfileModifySelfUserProfile, "{\"a\":1,\"a\":2}");
    th_call_free(c);
    REASON_HAS("duplicate");
    c = tu_run(TIMSubscribeUserStatus, "{}");
    th_call_free(c);
    REASON_HAS("expected a JSON array, got an object");
    c = tu_login(NULL, "sig");
    th_call_free(c);
    REASON_HAS("user_id is NULL");
    c = tu_admin("", "{}");
    th_call_free(c);
    REASON_HAS("api is");
    /* a call that succeeds leaves the reason as it was */
    TU_EXPECT(TIMUnsubscribeUserStatus, NULL, 0, NULL);
    REASON_HAS("api is");
    /* another thread's refusal is its own */
    pthread_t t;
    CHECK_INT(pthread_create(&t, NULL, refuse_elsewhere, NULL), 0);
    pthread_join(t, NULL);
    REASON_HAS("api is");
    /* TIMInit's reasons reach the caller, whichever thread runs the init */
    CHECK_INT(TIMInit(APPID, "{\"timref_config_device_name\": 7}"), TIM_SUCC); /* initialized: no change */
    CHECK_INT(TIMInit(APPID, "not json"), TIM_ERR_JSON);
    REASON_HAS("TIMInit config: not valid JSON");
}

int main(void) {
    /* before TIMInit */
    CHECK(TIMGetSDKVersion() != NULL);
    CHECK_INT(TIMUninit(), TIM_SUCC);
    check_all_6013("before TIMInit");
    CHECK_INT(TIMGetLoginUserID(NULL), TIM_ERR_PARAM);

    test_init_config();
    test_not_logged_in();
    test_login_state_and_time();
    test_inputs_copied();
    test_null_and_empty();
    test_last_error();
    test_json_rules();
    test_depth();
    test_size_limit();
    test_order();
    test_calls_from_callback();
    test_threads();
    test_uninit_in_flight();
    check_all_6013("after TIMUninit");

    CHECK_INT(TIMInit(APPID, NULL), TIM_SUCC);
    TU_LOGIN_OK("me");
    test_uninit_race();
    check_all_6013("after racing TIMUninit");

    CHECK_INT(TIMInit(APPID, NULL), TIM_SUCC);
    TU_LOGIN_OK("me");
    test_uninit_in_callback();
    check_all_6013("after TIMUninit in a callback");

    CHECK_INT(TIMUninit(), TIM_SUCC);
    return th_finish();
}
