/*
 * test_hostile.c - hostile input (docs/contract.md 3.2: no input crashes the
 * library, corrupts the store or changes any state; docs/security.md).
 *
 * Every refused input is checked three ways: the code is the documented one
 * (synchronous TIM_ERR_PARAM / TIM_ERR_JSON, or the callback's code), desc
 * names the offending key or value (callback refusals), and the profiles and
 * statuses of every user read before and after are the same JSON text.
 * Inputs whose value is legal (SQL text as a nick, as a user id) are accepted
 * and read back verbatim.  The store is on disk, so the last part can open it
 * with SQLite itself and run PRAGMA integrity_check, and the symlink part can
 * plant links where timref's files go.
 */
#include <fcntl.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "th_util.h"

#define APPID 1410
#define GP "friendship_getprofilelist_param_identifier_array"
#define CUSTOM "user_profile_item_custom_string_array"
#define CKEY "user_profile_custom_string_info_key"
#define CVAL "user_profile_custom_string_info_value"
#define SQL1 "'; DROP TABLE account; --"
#define SQL2 "Robert'); --"

#define IMPORT "v4/im_open_login_svc/account_import"
#define MIMPORT "v4/im_open_login_svc/multiaccount_import"
#define DELETE "v4/im_open_login_svc/account_delete"
#define PGET "v4/profile/portrait_get"
#define PSET "v4/profile/portrait_set"
#define QUERY "v4/openim/query_online_status"
#define SETST "ref/set_user_status"

static char* g_base; /* temp dir */
static char* g_dir;  /* the store */
static char* g_cfg;
static long g_refused; /* refused inputs checked */
static long g_accepted; /* legal hostile-looking inputs accepted and read back */

/* ---------------------------------------------------------------------------
 * state snapshots and the refusal check
 * ------------------------------------------------------------------------- */

/* Profiles and statuses of every user the test knows, as the API shows them. */
static char* snapshot(void) {
    static const char* const ids[] = {"me", "bob", "carol", SQL1, SQL2};
    char* gp = tu_profile_param(ids, 5);
    char* gs = tu_id_array(ids, 5);
    th_call* p = tu_run(TIMProfileGetUserProfileList, gp);
    th_call* s = tu_run(TIMGetUserStatus, gs);
    size_t n = strlen(p->json) + strlen(s->json) + 64;
    char* out = malloc(n);
    if (!out) abort();
    snprintf(out, n, "P%d %s | S%d %s", (int)p->code, p->json, (int)s->code, s->json);
    th_call_free(p);
    th_call_free(s);
    free(gp);
    free(gs);
    return out;
}

static void check_unchanged_at(int line, const char* what, const char* before) {
    char* after = snapshot();
    th_check(strcmp(before, after) == 0, __FILE__, line, what, "state changed:\n  before %.600s\n  after  %.600s",
             before, after);
    free(after);
}

/*
 * f(arg) (or the admin api with body when api is set) must give `want`
 * (a negative synchronous code or a callback code), with desc containing
 * `needle` when given, and change nothing.
 */
static void refuse_at(int line, const char* label, tu_fn f, const char* api, const char* arg, int want,
                      const char* needle) {
    char* before = snapshot();
    th_call* c = api ? tu_admin(api, arg) : tu_run(f, arg);
    char what[160];
    snprintf(what, sizeof what, "%s refused with %d", label, want);
    th_check(c->code == want, __FILE__, line, what, "code %d, desc \"%.200s\", arg \"%.120s\"", (int)c->code,
             c->desc ? c->desc : "", arg ? arg : "(null)");
    if (needle && want > 0)
        th_check(c->desc && strstr(c->desc, needle) != NULL, __FILE__, line, "desc names what was wrong",
                 "%s: desc \"%.200s\" lacks \"%s\"", label, c->desc ? c->desc : "", needle);
    th_call_free(c);
    check_unchanged_at(line, label, before);
    free(before);
    g_refused++;
}

#define REFUSE(f, arg, want, needle) refuse_at(__LINE__, #f, (f), NULL, (arg), (want), (needle))
#define AREFUSE(api, body, want, needle) refuse_at(__LINE__, api, NULL, (api), (body), (want), (needle))

/* The eight JSON-taking SDK calls. */
static const struct {
    const char* name;
    tu_fn fn;
    int is_array; /* takes a bare array */
    int optional; /* NULL / "" mean "all" */
} k_calls[] = {
    {"TIMProfileGetUserProfileList", TIMProfileGetUserProfileList, 0, 0},
    {"TIMProfileModifySelfUserProfile", TIMProfileModifySelfUserProfile, 0, 0},
    {"TIMGetUserStatus", TIMGetUserStatus, 1, 0},
    {"TIMSetSelfStatus", TIMSetSelfStatus, 0, 0},
    {"TIMSubscribeUserStatus", TIMSubscribeUserStatus, 1, 0},
    {"TIMUnsubscribeUserStatus", TIMUnsubscribeUserStatus, 1, 1},
    {"TIMSubscribeUserInfo", TIMSubscribeUserInfo, 1, 0},
    {"TIMUnsubscribeUserInfo", TIMUnsubscribeUserInfo, 1, 1},
};
#define N_CALLS (sizeof k_calls / sizeof k_calls[0])

/* Wrap `inner` (JSON text) where each call takes it: [inner] or {"k": inner}. */
static char* wrap(int is_array, const char* key, const char* inner) {
    size_t n = strlen(inner) + strlen(key) + 16;
    char* s = malloc(n);
    if (!s) abort();
    if (is_array) snprintf(s, n, "[%s]", inner);
    else snprintf(s, n, "{\"%s\":%s}", key, inner);
    return s;
}

/* The key each object call reads (where a value goes to be looked at). */
static const char* main_key(size_t i) {
    switch (i) {
    case 0: return GP;
    case 1: return "user_profile_item_nick_name";
    case 3: return "user_status_custom_status";
    default: return "";
    }
}

/* fmt with its one "%s" replaced by v (malloc'd; no printf: fmt is data here) */
static char* subst(const char* fmt, const char* v) {
    const char* at = strstr(fmt, "%s");
    if (!at) abort();
    size_t a = (size_t)(at - fmt), lv = strlen(v), lr = strlen(at + 2);
    char* s = malloc(a + lv + lr + 1);
    if (!s) abort();
    memcpy(s, fmt, a);
    memcpy(s + a, v, lv);
    memcpy(s + a + lv, at + 2, lr + 1);
    return s;
}

/* ---------------------------------------------------------------------------
 * setup
 * ------------------------------------------------------------------------- */

static void setup(void) {
    g_base = th_tempdir("hostile");
    size_t n = strlen(g_base) + 16;
    g_dir = malloc(n);
    if (!g_dir) abort();
    snprintf(g_dir, n, "%s/db", g_base);
    g_cfg = tu_dump(json_pack("{s:s}", "sdk_config_config_file_path", g_dir));
    CHECK_INT(TIMInit(APPID, g_cfg), TIM_SUCC);
    tu_import("bob");
    tu_import("carol");
    TU_LOGIN_OK("me");
    TU_EXPECT(TIMProfileModifySelfUserProfile,
              "{\"user_profile_item_nick_name\":\"Me\",\"user_profile_item_self_signature\":\"base\","
              "\"user_profile_item_gender\":1,\"user_profile_item_add_permission\":2,"
              "\"user_profile_item_custom_string_array\":[{\"" CKEY "\":\"Hobby\",\"" CVAL "\":\"chess\"}]}",
              0, NULL);
    TU_EXPECT(TIMSetSelfStatus, "{\"user_status_custom_status\":\"base status\"}", 0, NULL);
    CHECK_INT(tu_portrait_set_str("bob", "Tag_Profile_IM_Nick", "Bob"), 0);
    CHECK_INT(tu_set_status("carol", 1, "carol here"), 0);
    TU_EXPECT(TIMSubscribeUserStatus, "[\"bob\"]", 0, NULL);
    TU_EXPECT(TIMSubscribeUserInfo, "[\"bob\"]", 0, NULL);
}

/* ---------------------------------------------------------------------------
 * NULL, "", not JSON, wrong top level
 * ------------------------------------------------------------------------- */

static void test_null_empty_not_json(void) {
    static const char* const not_json[] = {"not json", "{", "[", "}", "]", "{\"a\"}", "[1,]", "{'a':1}",
                                           "nul", "tru", "[\"a\"] [\"b\"]", "\xef\xbb\xbf[\"bob\"]",
                                           "[\"bob\"]\x01", "[01]", "[.5]", "[NaN]", "[Infinity]", "[-]"};
    for (size_t i = 0; i < N_CALLS; i++) {
        if (!k_calls[i].optional) {
            refuse_at(__LINE__, k_calls[i].name, k_calls[i].fn, NULL, NULL, TIM_ERR_PARAM, NULL);
            refuse_at(__LINE__, k_calls[i].name, k_calls[i].fn, NULL, "", TIM_ERR_PARAM, NULL);
        }
        for (size_t k = 0; k < sizeof not_json / sizeof *not_json; k++)
            refuse_at(__LINE__, k_calls[i].name, k_calls[i].fn, NULL, not_json[k], TIM_ERR_JSON, NULL);
        /* the other top-level shape, and scalars */
        refuse_at(__LINE__, k_calls[i].name, k_calls[i].fn, NULL, k_calls[i].is_array ? "{}" : "[]",
                  TIM_ERR_JSON, NULL);
        refuse_at(__LINE__, k_calls[i].name, k_calls[i].fn, NULL, "\"bob\"", TIM_ERR_JSON, NULL);
        refuse_at(__LINE__, k_calls[i].name, k_calls[i].fn, NULL, "42", TIM_ERR_JSON, NULL);
        refuse_at(__LINE__, k_calls[i].name, k_calls[i].fn, NULL, "null", TIM_ERR_JSON, NULL);
    }
    AREFUSE(IMPORT, NULL, TIM_ERR_PARAM, NULL);
    AREFUSE(IMPORT, "", TIM_ERR_PARAM, NULL);
    for (size_t k = 0; k < sizeof not_json / sizeof *not_json; k++) AREFUSE(PSET, not_json[k], TIM_ERR_JSON, NULL);
    AREFUSE(PSET, "[]", TIM_ERR_JSON, NULL);
    {
        char* before = snapshot();
        TU_ADMIN_EXPECT("", "{}", TIM_ERR_PARAM);
        TU_ADMIN_EXPECT(NULL, "{}", TIM_ERR_PARAM);
        /* an unknown api, also one with SQL or control characters in it */
        AREFUSE("v4/nothing", "{}", 6017, "unknown api");
        AREFUSE(SQL1, "{}", 6017, "unknown api");
        AREFUSE("ref/set_user_status\x01", "{\"UserID\":\"bob\",\"StatusType\":2}", 6017, "unknown api");
        check_unchanged_at(__LINE__, "empty api", before);
        free(before);
    }
    /* Login: NULL user id is TIM_ERR_PARAM; "" 7003; no sig 70002 */
    {
        th_call* c = tu_login(NULL, "sig");
        CHECK_INT(c->code, TIM_ERR_PARAM);
        th_call_free(c);
        c = tu_login("me", NULL);
        CHECK_INT(c->code, 70002);
        th_call_free(c);
        c = tu_login("me", "");
        CHECK_INT(c->code, 70002);
        th_call_free(c);
    }
}

/* ---------------------------------------------------------------------------
 * nesting, duplicated keys, invalid UTF-8, \u0000
 * ------------------------------------------------------------------------- */

static char* nested(int depth) {
    char* s = malloc((size_t)depth * 2 + 1);
    if (!s) abort();
    memset(s, '[', (size_t)depth);
    memset(s + depth, ']', (size_t)depth);
    s[depth * 2] = 0;
    return s;
}

/* {"a":{"a":...{}...}} with `depth` objects */
static char* nested_objects(int depth) {
    size_t n = (size_t)depth * 6 + 8;
    char* s = malloc(n);
    if (!s) abort();
    size_t p = 0;
    for (int i = 1; i < depth; i++) p += (size_t)sprintf(s + p, "{\"a\":");
    p += (size_t)sprintf(s + p, "{}");
    for (int i = 1; i < depth; i++) s[p++] = '}';
    s[p] = 0;
    return s;
}

static void test_nesting(void) {
    static const int depths[] = {65, 1000, 100000};
    for (size_t d = 0; d < 3; d++) {
        for (size_t i = 0; i < N_CALLS; i++) {
            /* the whole argument `depth` levels deep (the wrapper counts as one) */
            char* inner = nested(depths[d] - 1);
            char* arg = wrap(k_calls[i].is_array, main_key(i), inner);
            refuse_at(__LINE__, k_calls[i].name, k_calls[i].fn, NULL, arg, TIM_ERR_JSON, NULL);
            free(arg);
            free(inner);
            inner = nested_objects(depths[d] - 1);
            arg = wrap(k_calls[i].is_array, "x", inner);
            refuse_at(__LINE__, k_calls[i].name, k_calls[i].fn, NULL, arg, TIM_ERR_JSON, NULL);
            free(arg);
            free(inner);
        }
        char* inner = nested(depths[d] - 1);
        char* body = wrap(0, "ProfileItem", inner);
        AREFUSE(PSET, body, TIM_ERR_JSON, NULL);
        free(body);
        free(inner);
        /* brackets inside strings do not count: a 100000-byte string of '[' is a plain value */
    }
    {
        char* brackets = tu_repeat('[', 400);
        char* arg = tu_dump(json_pack("{s:s}", "user_status_custom_status", brackets));
        REFUSE(TIMSetSelfStatus, arg, 6017, "user_status_custom_status"); /* too long, not too deep */
        free(arg);
        free(brackets);
    }
}

static void test_duplicates_utf8_nul(void) {
    /* duplicated keys at the top and deep inside */
    REFUSE(TIMProfileGetUserProfileList, "{\"" GP "\":[\"bob\"],\"" GP "\":[\"carol\"]}", TIM_ERR_JSON, NULL);
    REFUSE(TIMProfileGetUserProfileList, "{\"" GP "\":[\"bob\"],\"x\":{\"y\":1,\"y\":1}}", TIM_ERR_JSON, NULL);
    REFUSE(TIMProfileModifySelfUserProfile,
           "{\"user_profile_item_nick_name\":\"A\",\"user_profile_item_nick_name\":\"A\"}", TIM_ERR_JSON, NULL);
    REFUSE(TIMProfileModifySelfUserProfile,
           "{\"" CUSTOM "\":[{\"" CKEY "\":\"Hobby\",\"" CVAL "\":\"x\",\"" CVAL "\":\"y\"}]}", TIM_ERR_JSON, NULL);
    REFUSE(TIMSetSelfStatus, "{\"user_status_custom_status\":\"a\",\"z\":[{\"q\":1,\"q\":2}]}", TIM_ERR_JSON, NULL);
    for (size_t i = 0; i < N_CALLS; i++) {
        if (!k_calls[i].is_array) continue;
        refuse_at(__LINE__, k_calls[i].name, k_calls[i].fn, NULL, "[\"bob\",{\"k\":1,\"k\":1}]", TIM_ERR_JSON, NULL);
    }
    AREFUSE(PSET, "{\"From_Account\":\"bob\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\",\"Tag\":\"x\","
                  "\"Value\":\"v\"}]}", TIM_ERR_JSON, NULL);
    AREFUSE(SETST, "{\"UserID\":\"bob\",\"UserID\":\"carol\",\"StatusType\":1}", TIM_ERR_JSON, NULL);

    /* invalid UTF-8 and \u0000, in values and in keys, in every call */
    static const char* const bad[] = {"\"\xff\"",          "\"a\xc3\"",         "\"\xc0\xaf\"",
                                      "\"\xed\xa0\x80\"",  "\"\xf4\x90\x80\x80\"", "\"\xe2\x82\"",
                                      "\"\\u0000\"",       "\"bob\\u0000\"",    "\"\\ud800\"",
                                      "\"\\udc00x\""};
    for (size_t b = 0; b < sizeof bad / sizeof *bad; b++) {
        for (size_t i = 0; i < N_CALLS; i++) {
            const char* key = main_key(i);
            char* arg;
            if (i == 0) { /* inside the id array */
                size_t n = strlen(bad[b]) + 64;
                arg = malloc(n);
                if (!arg) abort();
                snprintf(arg, n, "{\"" GP "\":[%s]}", bad[b]);
            } else {
                arg = wrap(k_calls[i].is_array, key, bad[b]);
            }
            refuse_at(__LINE__, k_calls[i].name, k_calls[i].fn, NULL, arg, TIM_ERR_JSON, NULL);
            free(arg);
            if (!k_calls[i].is_array) { /* as a key */
                size_t n = strlen(bad[b]) + 8;
                arg = malloc(n);
                if (!arg) abort();
                snprintf(arg, n, "{%s:1}", bad[b]);
                refuse_at(__LINE__, k_calls[i].name, k_calls[i].fn, NULL, arg, TIM_ERR_JSON, NULL);
                free(arg);
            }
        }
        char* body = wrap(0, "UserID", bad[b]);
        AREFUSE(IMPORT, body, TIM_ERR_JSON, NULL);
        free(body);
    }
    /* a custom entry's key and value */
    REFUSE(TIMProfileModifySelfUserProfile, "{\"" CUSTOM "\":[{\"" CKEY "\":\"Ho\\u0000bby\",\"" CVAL "\":\"x\"}]}",
           TIM_ERR_JSON, NULL);
    REFUSE(TIMProfileModifySelfUserProfile, "{\"" CUSTOM "\":[{\"" CKEY "\":\"Hobby\",\"" CVAL "\":\"\xfe\"}]}",
           TIM_ERR_JSON, NULL);
}

/* ---------------------------------------------------------------------------
 * numbers and wrong types at every key
 * ------------------------------------------------------------------------- */

static const char* const k_str_items[] = {"user_profile_item_nick_name", "user_profile_item_face_url",
                                          "user_profile_item_self_signature", "user_profile_item_location"};
static const struct {
    const char* key;
    const char* extra_bad; /* an integer just outside the range, or NULL */
    const char* extra_bad2;
} k_num_items[] = {
    {"user_profile_item_gender", "3", NULL},
    {"user_profile_item_add_permission", "0", "4"},
    {"user_profile_item_language", NULL, NULL},
    {"user_profile_item_birthday", NULL, NULL},
    {"user_profile_item_level", NULL, NULL},
    {"user_profile_item_role", NULL, NULL},
    {"user_profile_item_message_settings", "2", NULL},
    {"user_profile_item_admin_forbid_type", "2", NULL},
};

/* JSON values of every type; the expected refusal depends on the key. */
static const char* const k_types[] = {"null", "true", "false", "0", "7", "1.5", "-1", "\"s\"", "\"1\"", "[]",
                                      "[\"bob\"]", "{}", "{\"a\":1}"};
#define N_TYPES (sizeof k_types / sizeof k_types[0])

static int is_int_text(const char* t) { return !strcmp(t, "0") || !strcmp(t, "7") || !strcmp(t, "-1"); }

static void modify_one(int line, const char* key, const char* value, int want) {
    size_t n = strlen(key) + strlen(value) + 8;
    char* arg = malloc(n);
    if (!arg) abort();
    snprintf(arg, n, "{\"%s\":%s}", key, value);
    refuse_at(line, key, TIMProfileModifySelfUserProfile, NULL, arg, want, key);
    free(arg);
}

static void test_numbers_and_types(void) {
    /* string items: every non-string is 40610 */
    for (size_t k = 0; k < sizeof k_str_items / sizeof *k_str_items; k++)
        for (size_t t = 0; t < N_TYPES; t++)
            if (k_types[t][0] != '"') modify_one(__LINE__, k_str_items[k], k_types[t], 40610);
    /* number items: non-integers 40610; out of range 40605 */
    static const char* const out_of_range[] = {"-1", "4294967296", "-4294967296", "9223372036854775807",
                                               "-9223372036854775808"};
    static const char* const not_integers[] = {"1.5", "1e300", "-1e300", "0.0", "1E2", "4294967295.0", "-0.5"};
    for (size_t k = 0; k < sizeof k_num_items / sizeof *k_num_items; k++) {
        const char* key = k_num_items[k].key;
        for (size_t t = 0; t < N_TYPES; t++)
            if (!is_int_text(k_types[t])) modify_one(__LINE__, key, k_types[t], 40610);
        for (size_t v = 0; v < sizeof out_of_range / sizeof *out_of_range; v++)
            modify_one(__LINE__, key, out_of_range[v], 40605);
        for (size_t v = 0; v < sizeof not_integers / sizeof *not_integers; v++)
            modify_one(__LINE__, key, not_integers[v], 40610);
        if (k_num_items[k].extra_bad) modify_one(__LINE__, key, k_num_items[k].extra_bad, 40605);
        if (k_num_items[k].extra_bad2) modify_one(__LINE__, key, k_num_items[k].extra_bad2, 40605);
    }
    /* the custom array: the array, an entry, its key and value */
    for (size_t t = 0; t < N_TYPES; t++) {
        if (k_types[t][0] == '[') continue;
        modify_one(__LINE__, CUSTOM, k_types[t], 40610);
        if (k_types[t][0] != '{') {
            char v[128];
            snprintf(v, sizeof v, "[%s]", k_types[t]);
            modify_one(__LINE__, CUSTOM, v, 40610);
        }
        if (k_types[t][0] != '"') {
            char v[256];
            snprintf(v, sizeof v, "[{\"" CKEY "\":%s,\"" CVAL "\":\"x\"}]", k_types[t]);
            modify_one(__LINE__, CUSTOM, v, 40610);
            snprintf(v, sizeof v, "[{\"" CKEY "\":\"Hobby\",\"" CVAL "\":%s}]", k_types[t]);
            modify_one(__LINE__, CUSTOM, v, 40610);
        }
    }
    modify_one(__LINE__, CUSTOM, "[{\"" CVAL "\":\"x\"}]", 6017);
    modify_one(__LINE__, CUSTOM, "[{\"" CKEY "\":\"Hobby\"}]", 6017);
    /* valid fields before a bad one: all or nothing */
    REFUSE(TIMProfileModifySelfUserProfile,
           "{\"user_profile_item_nick_name\":\"Changed\",\"user_profile_item_level\":4294967296}", 40605,
           "user_profile_item_level");
    REFUSE(TIMProfileModifySelfUserProfile,
           "{\"user_profile_item_gender\":2,\"" CUSTOM "\":[{\"" CKEY "\":\"Hobby\",\"" CVAL "\":\"go\"},"
           "{\"" CKEY "\":\"bad key\",\"" CVAL "\":\"x\"}]}",
           9001, "bad key");
    /* unknown keys, also SQL and control characters as keys */
    REFUSE(TIMProfileModifySelfUserProfile, "{\"user_profile_item_nick\":\"x\"}", 6017, "user_profile_item_nick");
    REFUSE(TIMProfileModifySelfUserProfile, "{\"" SQL1 "\":\"x\"}", 6017, "DROP TABLE");
    REFUSE(TIMProfileModifySelfUserProfile, "{\"\\u0001\\t\":\"x\"}", 6017, "unknown key");
    REFUSE(TIMProfileModifySelfUserProfile, "{}", 6017, "empty");

    /* GetUserProfileList: the array and its entries */
    for (size_t t = 0; t < N_TYPES; t++) {
        char arg[256];
        if (k_types[t][0] != '[') {
            snprintf(arg, sizeof arg, "{\"" GP "\":%s}", k_types[t]);
            REFUSE(TIMProfileGetUserProfileList, arg, 6017, GP);
        }
        if (k_types[t][0] != '"') {
            snprintf(arg, sizeof arg, "{\"" GP "\":[\"bob\",%s]}", k_types[t]);
            REFUSE(TIMProfileGetUserProfileList, arg, 6017, "entry 1");
        }
    }
    REFUSE(TIMProfileGetUserProfileList, "{\"" GP "\":[]}", 40002, GP);
    REFUSE(TIMProfileGetUserProfileList, "{\"other\":[\"bob\"]}", 40002, GP);
    REFUSE(TIMProfileGetUserProfileList, "{\"" GP "\":[\"nobody\"]}", 40003, "none");

    /* arrays of ids: GetUserStatus and the subscription calls */
    for (size_t i = 0; i < N_CALLS; i++) {
        if (!k_calls[i].is_array) continue;
        for (size_t t = 0; t < N_TYPES; t++) {
            if (k_types[t][0] == '"') continue;
            char arg[128];
            snprintf(arg, sizeof arg, "[\"bob\",%s]", k_types[t]);
            refuse_at(__LINE__, k_calls[i].name, k_calls[i].fn, NULL, arg, 6017, "entry 1");
        }
    }
    REFUSE(TIMGetUserStatus, "[]", 6017, "empty");
    REFUSE(TIMSubscribeUserStatus, "[]", 6017, "empty");
    REFUSE(TIMSubscribeUserInfo, "[]", 6017, "empty");
    REFUSE(TIMSubscribeUserStatus, "[\"carol\",\"me\"]", 6017, "yourself");
    REFUSE(TIMSubscribeUserInfo, "[\"carol\",\"me\"]", 6017, "yourself");
    REFUSE(TIMGetUserStatus, "[\"nobody\"]", 40003, "none");

    /* SetSelfStatus */
    for (size_t t = 0; t < N_TYPES; t++)
        if (k_types[t][0] != '"') {
            char arg[128];
            snprintf(arg, sizeof arg, "{\"user_status_custom_status\":%s}", k_types[t]);
            REFUSE(TIMSetSelfStatus, arg, 6017, "user_status_custom_status");
        }
    REFUSE(TIMSetSelfStatus, "{}", 6017, "user_status_custom_status");
    REFUSE(TIMSetSelfStatus, "{\"user_status_status_type\":1}", 6017, "user_status_custom_status");
}

/*
 * Integers beyond 64 bits are valid JSON (RFC 8259 sets no limit) and, as
 * numbers outside uint32, are documented as 40605 naming the key (docs/contract.md 3.4,
 * docs/behaviour.md).  jansson cannot hold them; timref re-reads them clamped
 * so that they are refused for their value, not as "not JSON".
 */
static void test_numbers_beyond_int64(void) {
    static const char* const huge[] = {"18446744073709551616", "-18446744073709551616",
                                       "100000000000000000000000000000"};
    for (size_t k = 0; k < sizeof k_num_items / sizeof *k_num_items; k++)
        for (size_t v = 0; v < sizeof huge / sizeof *huge; v++) modify_one(__LINE__, k_num_items[k].key, huge[v], 40605);
    for (size_t v = 0; v < sizeof huge / sizeof *huge; v++) {
        char* body = subst("{\"From_Account\":\"bob\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Level\",\"Value\":%s}]}",
                           huge[v]);
        AREFUSE(PSET, body, 40605, "Tag_Profile_IM_Level");
        free(body);
    }
    /* desc says the number is out of range, never printing the 64-bit extreme it was
     * clamped to (a value the caller did not send) */
    static const struct {
        const char* api; /* NULL: TIMProfileModifySelfUserProfile */
        const char* arg;
        const char* desc;
    } said[] = {
        {NULL, "{\"user_profile_item_level\":18446744073709551616}",
         "user_profile_item_level: a number at or beyond the 64-bit limit is outside 0..4294967295"},
        {NULL, "{\"user_profile_item_gender\":-100000000000000000000000000000}",
         "user_profile_item_gender: a number at or beyond the 64-bit limit is outside 0..2"},
        {PSET, "{\"From_Account\":\"bob\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Role\",\"Value\":"
               "18446744073709551616}]}",
         "Tag_Profile_IM_Role: a number at or beyond the 64-bit limit is outside 0..4294967295"},
        /* a number the caller did send is named */
        {NULL, "{\"user_profile_item_level\":4294967296}", "user_profile_item_level: 4294967296 is outside 0..4294967295"},
    };
    for (size_t i = 0; i < sizeof said / sizeof *said; i++) {
        th_call* c = said[i].api ? tu_admin(said[i].api, said[i].arg) : tu_run(TIMProfileModifySelfUserProfile, said[i].arg);
        CHECK_INT(c->code, 40605);
        CHECK_STR(c->desc, said[i].desc);
        CHECK(c->desc && !strstr(c->desc, "922337203685477580"));
        th_call_free(c);
    }
}

/*
 * A value named in desc is cut at 64 bytes; cut inside a UTF-8 sequence, desc
 * must still be UTF-8 (and the admin answer, JSON, still be the error's own).
 */
static void test_cut_utf8_in_desc(void) {
    char name[80];
    memset(name, 'a', 63);
    snprintf(name + 63, sizeof name - 63, "\xc3\xa9zz"); /* the cut falls inside the e-acute */
    char* body = subst("{\"From_Account\":\"bob\",\"ProfileItem\":[{\"Tag\":\"%s\",\"Value\":1}]}", name);
    char* arg = subst("{\"%s\":1}", name);
    AREFUSE(PSET, body, 40009, "unknown tag aaa");
    REFUSE(TIMProfileModifySelfUserProfile, arg, 6017, "unknown key");
    th_call* calls[2] = {tu_admin(PSET, body), tu_run(TIMProfileModifySelfUserProfile, arg)};
    for (int i = 0; i < 2; i++) {
        json_t* d = json_string(calls[i]->desc ? calls[i]->desc : "");
        CHECK(d != NULL); /* valid UTF-8 */
        json_decref(d);
        th_call_free(calls[i]);
    }
    free(body);
    free(arg);
}

/* The admin surface: every key of every body with every wrong type. */
static void test_admin_types(void) {
    struct {
        const char* api;
        const char* fmt; /* %s: the value under test */
        int want;
        const char* needle;
        int want_string; /* 1: strings are the right type (skip them), 2: arrays, 3: objects, 4: integers */
    } cases[] = {
        {IMPORT, "{\"UserID\":%s}", 70402, "UserID", 1},
        {IMPORT, "{\"UserID\":\"newbie\",\"Nick\":%s}", 70402, "Nick", 1},
        {IMPORT, "{\"UserID\":\"newbie\",\"FaceUrl\":%s}", 70402, "FaceUrl", 1},
        {MIMPORT, "{\"Accounts\":%s}", 70402, "Accounts", 2},
        {MIMPORT, "{\"Accounts\":[\"newbie\",%s]}", 70402, "Accounts[1]", 1},
        {DELETE, "{\"DeleteItem\":%s}", 70402, "DeleteItem", 2},
        {DELETE, "{\"DeleteItem\":[{\"UserID\":\"bob\"},%s]}", 70402, "DeleteItem[1]", 3},
        {DELETE, "{\"DeleteItem\":[{\"UserID\":\"bob\"},{\"UserID\":%s}]}", 70402, "DeleteItem[1]", 1},
        {PGET, "{\"To_Account\":%s,\"TagList\":[\"Tag_Profile_IM_Nick\"]}", 40001, "To_Account", 2},
        {PGET, "{\"To_Account\":[\"bob\",%s],\"TagList\":[\"Tag_Profile_IM_Nick\"]}", 40001, "To_Account[1]", 1},
        {PGET, "{\"To_Account\":[\"bob\"],\"TagList\":%s}", 40001, "TagList", 2},
        {PGET, "{\"To_Account\":[\"bob\"],\"TagList\":[\"Tag_Profile_IM_Nick\",%s]}", 40001, "TagList[1]", 1},
        {PSET, "{\"From_Account\":%s,\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\",\"Value\":\"x\"}]}", 40001,
         "From_Account", 1},
        {PSET, "{\"From_Account\":\"bob\",\"ProfileItem\":%s}", 40001, "ProfileItem", 2},
        {PSET, "{\"From_Account\":\"bob\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\",\"Value\":\"ok\"},%s]}",
         40001, "ProfileItem[1]", 3},
        {PSET, "{\"From_Account\":\"bob\",\"ProfileItem\":[{\"Tag\":%s,\"Value\":\"x\"}]}", 40001, "ProfileItem[0]", 1},
        {PSET, "{\"From_Account\":\"bob\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\",\"Value\":%s}]}", 40610,
         "Tag_Profile_IM_Nick", 1},
        {PSET, "{\"From_Account\":\"bob\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Level\",\"Value\":%s}]}", 40610,
         "Tag_Profile_IM_Level", 4},
        {PSET, "{\"From_Account\":\"bob\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_Custom_Hobby\",\"Value\":%s}]}",
         40610, "Tag_Profile_Custom_Hobby", 1},
        {QUERY, "{\"To_Account\":%s}", 70402, "To_Account", 2},
        {QUERY, "{\"To_Account\":[\"bob\",%s]}", 70402, "To_Account[1]", 1},
        {SETST, "{\"UserID\":%s,\"StatusType\":1}", 6017, "UserID", 1},
        {SETST, "{\"UserID\":\"bob\",\"StatusType\":%s}", 6017, "StatusType", 4},
        {SETST, "{\"UserID\":\"bob\",\"StatusType\":1,\"CustomStatus\":%s}", 6017, "CustomStatus", 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t t = 0; t < N_TYPES; t++) {
            const char* v = k_types[t];
            int kind = v[0] == '"' ? 1 : v[0] == '[' ? 2 : v[0] == '{' ? 3 : is_int_text(v) ? 4 : 0;
            if (kind == cases[c].want_string) continue;
            /* integers given to enum-or-integer tags are checked for range, not type */
            if (cases[c].want_string == 4 && kind == 4) continue;
            char* body = subst(cases[c].fmt, v);
            refuse_at(__LINE__, cases[c].api, NULL, cases[c].api, body, cases[c].want, cases[c].needle);
            free(body);
        }
    }
    /* numbers out of range and fractional in the admin bodies */
    static const char* const nums[] = {"-1", "4294967296", "1.5", "1e300", "0", "4"};
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"UserID\":\"bob\",\"StatusType\":%s}", nums[i]);
        AREFUSE(SETST, body, 6017, "StatusType");
        snprintf(body, sizeof body,
                 "{\"From_Account\":\"bob\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Gender\",\"Value\":%s}]}",
                 nums[i]);
        if (strcmp(nums[i], "0") != 0)
            AREFUSE(PSET, body, strchr(nums[i], '.') || strchr(nums[i], 'e') ? 40610 : 40605, "Tag_Profile_IM_Gender");
    }
    AREFUSE(PSET, "{\"From_Account\":\"bob\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Gender\",\"Value\":"
                  "\"Gender_Type_Robot\"}]}", 40605, "Tag_Profile_IM_Gender");
    AREFUSE(PSET, "{\"From_Account\":\"bob\",\"ProfileItem\":[{\"Tag\":\"" SQL1 "\",\"Value\":\"x\"}]}", 40009,
            "DROP TABLE");
    AREFUSE(PSET, "{\"From_Account\":\"bob\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_Custom_" SQL2 "\",\"Value\":\"x\"}]}",
            9001, "Robert");
    AREFUSE(PSET, "{\"From_Account\":\"nobody\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\",\"Value\":\"x\"}]}",
            40003, "nobody");
    AREFUSE(SETST, "{\"UserID\":\"nobody\",\"StatusType\":1}", 70107, "nobody");
    AREFUSE(IMPORT, "{}", 70402, "UserID");
    AREFUSE(MIMPORT, "{\"Accounts\":[]}", 70402, "Accounts");
    AREFUSE(PGET, "{\"To_Account\":[\"bob\"],\"TagList\":[\"Tag_Profile_IM_Nick\",\"Tag_Bogus\"]}", 40009, "Tag_Bogus");
}

/* ---------------------------------------------------------------------------
 * huge strings and arrays, custom entry counts, control characters
 * ------------------------------------------------------------------------- */

#define BIG ((size_t)1048576 - 256) /* a value that keeps the argument under 1 MiB */

static char* json_with_string(const char* fmt, size_t len, char ch) {
    char* v = tu_repeat(ch, len);
    char* s = subst(fmt, v);
    free(v);
    return s;
}

/* refuse_at() of fmt with its %s replaced by len copies of ch. */
static void refuse_filled_at(int line, const char* label, tu_fn f, const char* api, const char* fmt, size_t len,
                             char ch, int want, const char* needle) {
    char* s = json_with_string(fmt, len, ch);
    refuse_at(line, label, f, api, s, want, needle);
    free(s);
}
#define REFUSE_FILLED(f, fmt, len, ch, want, needle) \
    refuse_filled_at(__LINE__, #f, (f), NULL, (fmt), (len), (ch), (want), (needle))
#define AREFUSE_FILLED(api, fmt, len, ch, want, needle) \
    refuse_filled_at(__LINE__, api, NULL, (api), (fmt), (len), (ch), (want), (needle))

static void test_huge(void) {
    for (size_t k = 0; k < sizeof k_str_items / sizeof *k_str_items; k++) {
        char fmt[128];
        snprintf(fmt, sizeof fmt, "{\"%s\":\"%%s\"}", k_str_items[k]); /* -> {"key":"%s"} */
        refuse_filled_at(__LINE__, k_str_items[k], TIMProfileModifySelfUserProfile, NULL, fmt, BIG, 'n', 40601,
                         k_str_items[k]);
        refuse_filled_at(__LINE__, k_str_items[k], TIMProfileModifySelfUserProfile, NULL, fmt, 501, 'n', 40601,
                         k_str_items[k]); /* just over */
    }
    REFUSE_FILLED(TIMProfileModifySelfUserProfile, "{\"" CUSTOM "\":[{\"" CKEY "\":\"Hobby\",\"" CVAL "\":\"%s\"}]}",
                  BIG, 'v', 40601, "Hobby");
    REFUSE_FILLED(TIMProfileModifySelfUserProfile, "{\"" CUSTOM "\":[{\"" CKEY "\":\"%s\",\"" CVAL "\":\"v\"}]}",
                  BIG, 'K', 9001, "invalid custom key");
    REFUSE_FILLED(TIMProfileModifySelfUserProfile, "{\"%s\":1}", BIG, 'k', 6017, "unknown key");
    REFUSE_FILLED(TIMSetSelfStatus, "{\"user_status_custom_status\":\"%s\"}", BIG, 'c', 6017,
                  "user_status_custom_status");
    REFUSE_FILLED(TIMProfileGetUserProfileList, "{\"" GP "\":[\"%s\"]}", BIG, 'i', 7003, "iiii");
    for (size_t i = 0; i < N_CALLS; i++) {
        if (!k_calls[i].is_array) continue;
        refuse_filled_at(__LINE__, k_calls[i].name, k_calls[i].fn, NULL, "[\"%s\"]", BIG, 'i', 7003, "iiii");
    }
    AREFUSE_FILLED(IMPORT, "{\"UserID\":\"bob\",\"Nick\":\"%s\"}", BIG, 'n', 70402, "Nick");
    AREFUSE_FILLED(IMPORT, "{\"UserID\":\"%s\"}", BIG, 'u', 70402, "UserID");
    AREFUSE_FILLED(PSET,
                   "{\"From_Account\":\"bob\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\",\"Value\":\"%s\"}]}", BIG,
                   'n', 40601, "Tag_Profile_IM_Nick");
    /* over 1 MiB: 9522 */
    REFUSE_FILLED(TIMProfileModifySelfUserProfile, "{\"user_profile_item_nick_name\":\"%s\"}", (size_t)1048576, 'n',
                  9522, "1 MiB");
    /* a huge user id and user sig at login */
    {
        char* before = snapshot();
        char* id = tu_repeat('u', BIG);
        th_call* c = tu_login(id, "sig");
        CHECK_INT(c->code, 7003);
        th_call_free(c);
        free(id);
        char* sig = tu_repeat('s', BIG);
        c = tu_login("me", sig); /* no secret key: any sig; "me" is already logged in */
        CHECK_INT(c->code, 0);
        th_call_free(c);
        free(sig);
        check_unchanged_at(__LINE__, "huge login", before);
        free(before);
    }
}

static char* id_array_n(size_t n, const char* first, const char* last, const char* prefix) {
    json_t* a = json_array();
    for (size_t i = 0; i < n; i++) {
        char id[64];
        if (i == 0 && first) snprintf(id, sizeof id, "%s", first);
        else if (i == n - 1 && last) snprintf(id, sizeof id, "%s", last);
        else snprintf(id, sizeof id, "%s%zu", prefix, i);
        json_array_append_new(a, json_string(id));
    }
    return tu_dump(a);
}

static void test_huge_arrays(void) {
    /* Lookups examine the first 100 / 500 entries: 100000 ids with an invalid one at the end pass */
    char* ids = id_array_n(100000, "bob", "bad\tid", "x");
    size_t n = strlen(ids) + 64;
    char* gp = malloc(n);
    if (!gp) abort();
    snprintf(gp, n, "{\"" GP "\":%s}", ids);
    char* before = snapshot();
    th_call* c = tu_run(TIMProfileGetUserProfileList, gp);
    CHECK_INT(c->code, 0);
    CHECK_HAS(c->json, "\"user_profile_identifier\":\"bob\"");
    th_call_free(c);
    c = tu_run(TIMGetUserStatus, ids);
    CHECK_INT(c->code, 0);
    CHECK_HAS(c->json, "\"user_status_identifier\":\"bob\"");
    th_call_free(c);
    check_unchanged_at(__LINE__, "100000-id lookups", before);
    free(before);
    /* Subscriptions examine every entry: the invalid last one refuses the whole call */
    REFUSE(TIMSubscribeUserStatus, ids, 7003, "entry 99999");
    REFUSE(TIMSubscribeUserInfo, ids, 7003, "entry 99999");
    REFUSE(TIMUnsubscribeUserStatus, ids, 7003, "entry 99999");
    REFUSE(TIMUnsubscribeUserInfo, ids, 7003, "entry 99999");
    /* ... so the earlier subscription to bob is still there: his change reaches us */
    {
        tu_ev ev;
        tu_ev_init(&ev);
        TIMSetUserStatusChangedCallback(tu_ev_cb, &ev);
        CHECK_INT(tu_set_status("bob", 1, "still subscribed"), 0);
        CHECK(TU_STATUS_WAIT(&ev, 0, "bob", "user_status_custom_status", "still subscribed", 0) >= 0);
        CHECK_INT(tu_set_status("bob", 3, ""), 0);
        CHECK(TU_STATUS_WAIT(&ev, 0, "bob", "user_status_status_type", NULL, 3) >= 0);
        TIMSetUserStatusChangedCallback(NULL, NULL);
        tu_ev_free(&ev);
    }
    free(ids);
    free(gp);
    /* 100000 valid ids: accepted, the last 200 stay subscribed (not observable here beyond success) */
    ids = id_array_n(100000, NULL, NULL, "s");
    c = tu_run(TIMSubscribeUserInfo, ids);
    CHECK_INT(c->code, 0);
    th_call_free(c);
    c = tu_run(TIMUnsubscribeUserInfo, ids);
    CHECK_INT(c->code, 0);
    th_call_free(c);
    free(ids);
    TU_EXPECT(TIMSubscribeUserInfo, "[\"bob\"]", 0, NULL);
    /* admin: an invalid id at the end of a long list refuses the whole call */
    ids = id_array_n(2000, "bob", "bad\x01id", "q");
    n = strlen(ids) + 64;
    char* body = malloc(n);
    if (!body) abort();
    snprintf(body, n, "{\"To_Account\":%s}", ids);
    AREFUSE(QUERY, body, 70402, "To_Account[1999]");
    snprintf(body, n, "{\"To_Account\":%s,\"TagList\":[\"Tag_Profile_IM_Nick\"]}", ids);
    AREFUSE(PGET, body, 40001, "To_Account[1999]");
    free(body);
    free(ids);
}

static void test_custom_counts(void) {
    /* 21 entries in one call */
    json_t* a = json_array();
    for (int i = 0; i < 21; i++) {
        char k[8] = {'K', (char)('a' + i), 0};
        json_array_append_new(a, json_pack("{s:s,s:s}", CKEY, k, CVAL, "v"));
    }
    char* s = tu_dump(json_pack("{s:o}", CUSTOM, a));
    REFUSE(TIMProfileModifySelfUserProfile, s, 6017, CUSTOM);
    free(s);
    /* the same key twice */
    REFUSE(TIMProfileModifySelfUserProfile,
           "{\"" CUSTOM "\":[{\"" CKEY "\":\"Twice\",\"" CVAL "\":\"1\"},{\"" CKEY "\":\"Tag_Profile_Custom_Twice\",\""
           CVAL "\":\"2\"}]}", 6017, "Twice");
    /* fill up to 20 (Hobby + 19), then one more is refused */
    a = json_array();
    for (int i = 0; i < 19; i++) {
        char k[8] = {'F', (char)('a' + i), 0};
        json_array_append_new(a, json_pack("{s:s,s:s}", CKEY, k, CVAL, "v"));
    }
    s = tu_dump(json_pack("{s:o}", CUSTOM, a));
    TU_EXPECT(TIMProfileModifySelfUserProfile, s, 0, NULL);
    free(s);
    REFUSE(TIMProfileModifySelfUserProfile, "{\"" CUSTOM "\":[{\"" CKEY "\":\"Extra\",\"" CVAL "\":\"v\"}]}", 6017,
           "at most 20");
    AREFUSE(PSET, "{\"From_Account\":\"me\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_Custom_Extra\",\"Value\":\"v\"}]}",
            6017, "at most 20");
    /* bad custom keys */
    static const char* const bad_keys[] = {"", "Tag_Profile_Custom_", "toolongkey", "a-1", "a b", "a\\tb", "\\u00e9",
                                           SQL1, SQL2, "Tag_Profile_Custom_" SQL2, "Tag_Profile_IM_Nick"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof *bad_keys; i++) {
        char arg[256];
        snprintf(arg, sizeof arg, "{\"" CUSTOM "\":[{\"" CKEY "\":\"%s\",\"" CVAL "\":\"v\"}]}", bad_keys[i]);
        REFUSE(TIMProfileModifySelfUserProfile, arg, 9001, "invalid custom key");
    }
}

static void test_control_ids(void) {
    static const char* const bad_ids[] = {"a\\tb", "a\\u0001b", "\\u007f", "a\\nb", "\\u001b[31m", "",
                                          "\\u00e9", "\\u2028", "123456789012345678901234567890123"};
    for (size_t b = 0; b < sizeof bad_ids / sizeof *bad_ids; b++) {
        char arg[256], what[64];
        snprintf(arg, sizeof arg, "{\"" GP "\":[\"bob\",\"%s\"]}", bad_ids[b]);
        REFUSE(TIMProfileGetUserProfileList, arg, 7003, "entry 1");
        for (size_t i = 0; i < N_CALLS; i++) {
            if (!k_calls[i].is_array) continue;
            snprintf(arg, sizeof arg, "[\"bob\",\"%s\"]", bad_ids[b]);
            refuse_at(__LINE__, k_calls[i].name, k_calls[i].fn, NULL, arg, 7003, "entry 1");
        }
        snprintf(arg, sizeof arg, "{\"UserID\":\"%s\"}", bad_ids[b]);
        AREFUSE(IMPORT, arg, 70402, "UserID");
        snprintf(arg, sizeof arg, "{\"UserID\":\"%s\",\"StatusType\":1}", bad_ids[b]);
        AREFUSE(SETST, arg, 6017, "UserID");
        snprintf(arg, sizeof arg, "{\"DeleteItem\":[{\"UserID\":\"%s\"}]}", bad_ids[b]);
        AREFUSE(DELETE, arg, 70402, "DeleteItem[0]");
        /* multiaccount_import reports them in FailAccounts and imports nothing for them */
        snprintf(arg, sizeof arg, "{\"Accounts\":[\"%s\"]}", bad_ids[b]);
        {
            char* before = snapshot();
            th_call* c = tu_admin(MIMPORT, arg);
            CHECK_INT(c->code, 0);
            CHECK_HAS(c->json, "\"FailAccounts\":[\"");
            th_call_free(c);
            snprintf(what, sizeof what, "multiaccount_import of bad id %zu", b);
            check_unchanged_at(__LINE__, what, before);
            free(before);
        }
    }
    /* login as an invalid id: 7003, still logged in as me */
    static const char* const raw_bad[] = {"a\tb", "a\x01", "\x7f", "a\nb", "\x1b[31m", "", "caf\xc3\xa9",
                                          "123456789012345678901234567890123"};
    for (size_t b = 0; b < sizeof raw_bad / sizeof *raw_bad; b++) {
        char* before = snapshot();
        th_call* c = tu_login(raw_bad[b], "sig");
        CHECK_INT(c->code, 7003);
        CHECK_HAS(c->desc, "user_id");
        th_call_free(c);
        char who[128];
        TIMGetLoginUserID(who);
        CHECK_STR(who, "me");
        check_unchanged_at(__LINE__, "login with a bad id", before);
        free(before);
    }
}

/* ---------------------------------------------------------------------------
 * SQL as data: accepted and stored verbatim where the value is legal
 * ------------------------------------------------------------------------- */

static void test_sql_as_data(void) {
    int code;
    TU_EXPECT(TIMProfileModifySelfUserProfile,
              "{\"user_profile_item_nick_name\":\"" SQL1 "\",\"user_profile_item_self_signature\":\"" SQL2 "\","
              "\"user_profile_item_location\":\"\\\"; SELECT * FROM session; --\","
              "\"" CUSTOM "\":[{\"" CKEY "\":\"Hobby\",\"" CVAL "\":\"" SQL1 "\"}]}",
              0, NULL);
    json_t* p = tu_get_profile("me", &code);
    CHECK_INT(code, 0);
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), SQL1);
    CHECK_STR(tu_jstr(p, "user_profile_self_signature"), SQL2);
    CHECK_STR(tu_jstr(p, "user_profile_location"), "\"; SELECT * FROM session; --");
    char* dump = tu_dump(json_incref(json_object_get(p, "user_profile_custom_string_array")));
    CHECK_HAS(dump, "\"Tag_Profile_Custom_Hobby\"");
    CHECK_HAS(dump, "DROP TABLE account");
    free(dump);
    json_decref(p);
    TU_EXPECT(TIMSetSelfStatus, "{\"user_status_custom_status\":\"" SQL2 "\"}", 0, NULL);
    json_t* st = tu_get_status("me", &code);
    CHECK_STR(tu_jstr(st, "user_status_custom_status"), SQL2);
    json_decref(st);
    g_accepted += 5;

    /* as user ids (both are legal identifiers: printable ASCII, at most 32 bytes) */
    TU_ADMIN_EXPECT(IMPORT, "{\"UserID\":\"" SQL1 "\",\"Nick\":\"" SQL2 "\"}", 0);
    tu_import(SQL2);
    CHECK_INT(tu_portrait_set_str(SQL2, "Tag_Profile_IM_Nick", SQL1), 0);
    p = tu_get_profile(SQL1, &code);
    CHECK_INT(code, 0);
    CHECK_STR(tu_jstr(p, "user_profile_identifier"), SQL1);
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), SQL2);
    json_decref(p);
    p = tu_get_profile(SQL2, &code);
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), SQL1);
    json_decref(p);
    CHECK_INT(tu_set_status(SQL1, 1, SQL1), 0);
    st = tu_get_status(SQL1, &code);
    CHECK_INT(tu_jint(st, "user_status_status_type"), 1);
    CHECK_STR(tu_jstr(st, "user_status_custom_status"), SQL1);
    json_decref(st);
    CHECK_INT(tu_set_status(SQL1, 3, ""), 0);
    TU_EXPECT(TIMSubscribeUserStatus, "[\"" SQL1 "\",\"" SQL2 "\"]", 0, NULL);
    g_accepted += 6;
    /* the other accounts are all still there */
    p = tu_get_profile("bob", &code);
    CHECK_INT(code, 0);
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), "Bob");
    json_decref(p);
    p = tu_get_profile("carol", &code);
    CHECK_INT(code, 0);
    json_decref(p);

    /* log in as one of them, write, and come back */
    TU_LOGOUT_OK();
    TU_LOGIN_OK(SQL2);
    TU_EXPECT(TIMProfileModifySelfUserProfile, "{\"user_profile_item_self_signature\":\"" SQL1 "\"}", 0, NULL);
    p = tu_get_profile(SQL2, &code);
    CHECK_STR(tu_jstr(p, "user_profile_self_signature"), SQL1);
    json_decref(p);
    TU_LOGOUT_OK();
    TU_LOGIN_OK("me");
    TU_EXPECT(TIMSubscribeUserStatus, "[\"bob\"]", 0, NULL);
    TU_EXPECT(TIMSubscribeUserInfo, "[\"bob\"]", 0, NULL);
    g_accepted += 2;
}

/* ---------------------------------------------------------------------------
 * TIMInit: hostile configs leave the library uninitialized; the store intact
 * ------------------------------------------------------------------------- */

/* The refusal's reason (TIMRefGetLastError) names its cause. */
static void expect_reason_at(int line, const char* text) {
    th_check(strstr(TIMRefGetLastError(), text) != NULL, __FILE__, line, "TIMInit says why",
             "want \"%s\" in \"%s\"", text, TIMRefGetLastError());
}

static void expect_uninitialized_at(int line) {
    th_call* c = tu_run(TIMGetUserStatus, "[\"me\"]");
    th_check(c->code == 6013, __FILE__, line, "still not initialized", "code %d", (int)c->code);
    th_call_free(c);
}

static void test_init_configs(void) {
    /* While initialized, TIMInit still refuses what it cannot parse, and changes nothing. */
    char* before = snapshot();
    char* deep = nested(100000);
    CHECK_INT(TIMInit(APPID, deep), TIM_ERR_JSON);
    CHECK_INT(TIMInit(APPID, "not json"), TIM_ERR_JSON);
    CHECK_INT(TIMInit(APPID, "{\"a\":1,\"a\":1}"), TIM_ERR_JSON);
    CHECK_INT(TIMInit(APPID, "{\"sdk_config_config_file_path\":\"\xff\"}"), TIM_ERR_JSON);
    CHECK_INT(TIMInit(APPID, "[]"), TIM_ERR_JSON);
    CHECK_INT(TIMInit(APPID, "{\"sdk_config_config_file_path\":\"/elsewhere\"}"), TIM_SUCC); /* no change */
    check_unchanged_at(__LINE__, "TIMInit while initialized", before);
    free(before);

    /* Profiles as they are, to compare after the hostile configs. */
    const char* ids[] = {"me", "bob", "carol"};
    char* gp = tu_profile_param(ids, 3);
    th_call* c = tu_run(TIMProfileGetUserProfileList, gp);
    char* profiles = tu_strdup(c->json);
    th_call_free(c);
    CHECK_INT(TIMUninit(), TIM_SUCC);

    static const char* const bad_json[] = {"not json", "{", "[]", "1", "{\"a\":1,\"a\":2}",
                                           "{\"sdk_config_config_file_path\":\"a\\u0000b\"}",
                                           "{\"timref_config_device_name\":\"\xc3\"}"};
    static const char* const bad_json_why[] = {"not valid JSON", "not valid JSON", "expected a JSON object",
                                               "not valid JSON", "duplicate", "\\u0000", "UTF-8"};
    for (size_t i = 0; i < sizeof bad_json / sizeof *bad_json; i++) {
        CHECK_INT(TIMInit(APPID, bad_json[i]), TIM_ERR_JSON);
        expect_reason_at(__LINE__, "TIMInit config: ");
        expect_reason_at(__LINE__, bad_json_why[i]);
        expect_uninitialized_at(__LINE__);
    }
    CHECK_INT(TIMInit(APPID, deep), TIM_ERR_JSON);
    expect_reason_at(__LINE__, "nested deeper than 64");
    expect_uninitialized_at(__LINE__);
    free(deep);
    /* wrong types at every key, bad device names, bad custom keys */
    static const char* const keys[] = {"sdk_config_config_file_path", "sdk_config_log_file_path",
                                       "timref_config_secret_key", "timref_config_device_name",
                                       "timref_config_custom_profile_keys"};
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        for (size_t t = 0; t < N_TYPES; t++) {
            const char* v = k_types[t];
            int is_str = v[0] == '"', is_arr = v[0] == '[';
            if (!strcmp(v, "null")) continue; /* null: as if absent */
            if (k < 4 && is_str) continue;
            if (k == 4 && is_arr) continue;
            char cfg[512];
            snprintf(cfg, sizeof cfg, "{\"sdk_config_config_file_path\":\"%s\",\"%s\":%s}", g_dir, keys[k], v);
            if (k == 0) snprintf(cfg, sizeof cfg, "{\"%s\":%s}", keys[k], v);
            int rc = TIMInit(APPID, cfg);
            th_check(rc == TIM_ERR_PARAM, __FILE__, __LINE__, "TIMInit wrong type", "%s -> %d", cfg, rc);
            if (rc == TIM_SUCC) TIMUninit();
            else expect_reason_at(__LINE__, keys[k]);
            expect_uninitialized_at(__LINE__);
        }
    }
    static const char* const bad_values[] = {
        "{\"timref_config_device_name\":\"\"}", "{\"timref_config_device_name\":\"a\\tb\"}",
        "{\"timref_config_device_name\":\"123456789012345678901234567890123\"}",
        "{\"timref_config_custom_profile_keys\":[\"bad key\"]}", "{\"timref_config_custom_profile_keys\":[1]}",
        "{\"timref_config_custom_profile_keys\":[\"" SQL1 "\"]}"};
    static const char* const bad_values_why[] = {
        "timref_config_device_name must be", "timref_config_device_name must be",
        "timref_config_device_name must be", "timref_config_custom_profile_keys[0] is not a custom key",
        "timref_config_custom_profile_keys[0]", "timref_config_custom_profile_keys[0]"};
    for (size_t i = 0; i < sizeof bad_values / sizeof *bad_values; i++) {
        CHECK_INT(TIMInit(APPID, bad_values[i]), TIM_ERR_PARAM);
        expect_reason_at(__LINE__, bad_values_why[i]);
        expect_uninitialized_at(__LINE__);
    }
    /* a file where the directory should be, a path through a file */
    {
        char path[4096], cfg[4200];
        snprintf(path, sizeof path, "%s/afile", g_base);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        CHECK(fd >= 0);
        if (fd >= 0) close(fd);
        snprintf(cfg, sizeof cfg, "{\"sdk_config_config_file_path\":\"%s\"}", path);
        CHECK_INT(TIMInit(APPID, cfg), TIM_ERR_PARAM);
        expect_reason_at(__LINE__, "afile is not a directory");
        expect_uninitialized_at(__LINE__);
        snprintf(cfg, sizeof cfg, "{\"sdk_config_config_file_path\":\"%s/sub\"}", path);
        CHECK_INT(TIMInit(APPID, cfg), TIM_ERR_PARAM);
        expect_reason_at(__LINE__, "Not a directory");
        expect_uninitialized_at(__LINE__);
    }

    /* back, and every profile is as it was */
    CHECK_INT(TIMInit(APPID, g_cfg), TIM_SUCC);
    TU_LOGIN_OK("me");
    c = tu_run(TIMProfileGetUserProfileList, gp);
    CHECK_INT(c->code, 0);
    CHECK_STR(c->json, profiles);
    th_call_free(c);
    free(profiles);
    free(gp);
}

/* ---------------------------------------------------------------------------
 * the files: symlinks planted where the store goes; integrity
 * ------------------------------------------------------------------------- */

static char* read_file(const char* path) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    char* buf = calloc(1, 4096);
    if (!buf) abort();
    size_t n = fread(buf, 1, 4095, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_symlinks(void) {
    static const char* const suffixes[] = {".db", ".notify", ".locks"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        for (int dangling = 0; dangling <= 1; dangling++) {
            char dir[4096], target[4096], link[4200], cfg[4200];
            snprintf(dir, sizeof dir, "%s/link%zu-%d", g_base, i, dangling);
            snprintf(target, sizeof target, "%s/precious%zu-%d", g_base, i, dangling);
            CHECK_INT(mkdir(dir, 0700), 0);
            if (!dangling) {
                FILE* f = fopen(target, "w");
                CHECK(f != NULL);
                if (f) {
                    fputs("precious", f);
                    fclose(f);
                }
                chmod(target, 0644);
            }
            snprintf(link, sizeof link, "%s/timref-%d%s", dir, APPID + 1, suffixes[i]);
            CHECK_INT(symlink(target, link), 0);
            snprintf(cfg, sizeof cfg, "{\"sdk_config_config_file_path\":\"%s\"}", dir);
            int rc = TIMInit(APPID + 1, cfg);
            th_check(rc == TIM_ERR_PARAM, __FILE__, __LINE__, "TIMInit refuses a planted symlink",
                     "%s (dangling %d) -> %d", suffixes[i], dangling, rc);
            if (rc == TIM_SUCC) TIMUninit();
            struct stat sb;
            if (!dangling) {
                char* text = read_file(target);
                CHECK_STR(text, "precious");
                free(text);
                CHECK_INT(stat(target, &sb), 0);
                CHECK_INT(sb.st_mode & 07777, 0644);
            } else {
                th_check(lstat(target, &sb) != 0, __FILE__, __LINE__, "dangling symlink target not created",
                         "%s", target);
            }
            CHECK_INT(lstat(link, &sb), 0);
            CHECK(S_ISLNK(sb.st_mode));
        }
    }
    /* the same with the store's WAL and shared-memory files (SQLite opens them itself) */
    static const char* const sqlite_suffixes[] = {".db-wal", ".db-shm", ".db-journal"};
    for (size_t i = 0; i < sizeof sqlite_suffixes / sizeof *sqlite_suffixes; i++) {
        char dir[4096], target[4096], link[4200], cfg[4200];
        snprintf(dir, sizeof dir, "%s/wlink%zu", g_base, i);
        snprintf(target, sizeof target, "%s/wprecious%zu", g_base, i);
        CHECK_INT(mkdir(dir, 0700), 0);
        FILE* f = fopen(target, "w");
        if (f) {
            fputs("precious", f);
            fclose(f);
        }
        snprintf(link, sizeof link, "%s/timref-%d%s", dir, APPID + 1, sqlite_suffixes[i]);
        CHECK_INT(symlink(target, link), 0);
        snprintf(cfg, sizeof cfg, "{\"sdk_config_config_file_path\":\"%s\"}", dir);
        int rc = TIMInit(APPID + 1, cfg);
        if (rc == TIM_SUCC) {
            TU_LOGIN_OK("w");
            TU_EXPECT(TIMProfileModifySelfUserProfile, "{\"user_profile_item_nick_name\":\"W\"}", 0, NULL);
            TIMUninit();
        }
        char* text = read_file(target);
        th_check(text && strcmp(text, "precious") == 0, __FILE__, __LINE__,
                 "a symlink planted as an SQLite side file does not get its target written",
                 "%s: TIMInit %d, target now holds \"%.20s\"", sqlite_suffixes[i], rc, text ? text : "(gone)");
        free(text);
    }
}

static void test_integrity(void) {
    /* the store after all of the above: SQLite's own check, and the tables all there */
    char path[4096];
    snprintf(path, sizeof path, "%s/timref-%d.db", g_dir, APPID);
    sqlite3* db = NULL;
    CHECK_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_stmt* s = NULL;
    CHECK_INT(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK);
    CHECK_INT(sqlite3_step(s), SQLITE_ROW);
    CHECK_STR((const char*)sqlite3_column_text(s, 0), "ok");
    sqlite3_finalize(s);
    CHECK_INT(sqlite3_prepare_v2(db, "SELECT count(*) FROM account WHERE id IN ('me','bob','carol',?1,?2)", -1, &s,
                                 NULL),
              SQLITE_OK);
    sqlite3_bind_text(s, 1, SQL1, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, SQL2, -1, SQLITE_STATIC);
    CHECK_INT(sqlite3_step(s), SQLITE_ROW);
    CHECK_INT(sqlite3_column_int(s, 0), 5);
    sqlite3_finalize(s);
    sqlite3_close(db);
}

int main(void) {
    umask(022);
    setup();
    test_null_empty_not_json();
    test_nesting();
    test_duplicates_utf8_nul();
    test_numbers_and_types();
    test_admin_types();
    test_numbers_beyond_int64();
    test_cut_utf8_in_desc();
    test_huge();
    test_huge_arrays();
    test_custom_counts();
    test_control_ids();
    test_sql_as_data();
    test_init_configs();
    TIMUninit();
    test_symlinks();
    test_integrity();
    printf("hostile: %ld refused inputs checked (code, desc, state unchanged), %ld legal ones read back\n",
           g_refused, g_accepted);
    th_rmdir(g_base);
    free(g_base);
    free(g_dir);
    free(g_cfg);
    return th_finish();
}
