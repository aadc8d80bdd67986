/*
 * test_rest_commands.c - the vendor's REST commands on the admin surface (docs/contract.md 3.8):
 * multiaccount_import in both forms and its limit, account_delete's limit, account_check,
 * kick (TIMKickedOfflineCallback, in this process and in others, the UserSigs it invalidates),
 * query_online_status's limit, detail and custom status, portrait_get's limit and
 * Fail_Account, ref/check_usersig; and the store's upgrade from the schema before kicks.
 *
 * The program runs itself (via /proc/self/exe and posix_spawn) with a mode argument to play
 * the other processes.
 */
#include <signal.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "th_util.h"
#include "usersig.h"

#define APPID 1407
#define KEY "rest-commands-key"

#define MIMPORT "v4/im_open_login_svc/multiaccount_import"
#define DELETE "v4/im_open_login_svc/account_delete"
#define CHECK_API "v4/im_open_login_svc/account_check"
#define KICK "v4/im_open_login_svc/kick"
#define PGET "v4/profile/portrait_get"
#define PSET "v4/profile/portrait_set"
#define QUERY "v4/openim/query_online_status"
#define SETST "ref/set_user_status"
#define CHECKSIG "ref/check_usersig"

/* ---------------------------------------------------------------------------
 * helpers
 * ------------------------------------------------------------------------- */

/* {"<key>": [n ids "<prefix>NNN" (or {"UserID": ...} objects when items)], <more>} */
static char* ids_body(const char* key, const char* prefix, int n, bool items, const char* more) {
    json_t* a = json_array();
    for (int i = 0; i < n; i++) {
        char id[64];
        snprintf(id, sizeof id, "%s%03d", prefix, i);
        json_array_append_new(a, items ? json_pack("{ss}", "UserID", id) : json_string(id));
    }
    json_t* o = json_pack("{so}", key, a);
    if (more) {
        json_t* m = tu_parse(more);
        json_object_update(o, m);
        json_decref(m);
    }
    return tu_dump(o);
}

/* AccountStatus of one account through account_check: 1 Imported, 0 NotImported, -1 neither. */
static int imported_at(int line, const char* id) {
    char* body = tu_dump(json_pack("{s[{ss}]}", "CheckItem", "UserID", id));
    json_t* a = tu_admin_answer_at(__FILE__, line, CHECK_API, body, 0, NULL);
    free(body);
    const char* st = tu_jstr(json_array_get(json_object_get(a, "ResultItem"), 0), "AccountStatus");
    int r = st && !strcmp(st, "Imported") ? 1 : st && !strcmp(st, "NotImported") ? 0 : -1;
    json_decref(a);
    return r;
}
#define IMPORTED(id) imported_at(__LINE__, (id))

/* The value of tag in a portrait_get answer's item for id (a string), or NULL. */
static const char* pget_str(json_t* ans, const char* id, const char* tag) {
    json_t* items = json_object_get(ans, "UserProfileItem");
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t* it = json_array_get(items, i);
        if (!tu_jstr(it, "To_Account") || strcmp(tu_jstr(it, "To_Account"), id) != 0) continue;
        json_t* pi = json_object_get(it, "ProfileItem");
        for (size_t k = 0; k < json_array_size(pi); k++)
            if (tu_jstr(json_array_get(pi, k), "Tag") && !strcmp(tu_jstr(json_array_get(pi, k), "Tag"), tag))
                return tu_jstr(json_array_get(pi, k), "Value");
    }
    return NULL;
}

static json_t* pget(int line, const char* id) {
    char* body = tu_dump(json_pack("{s[s]s[ss]}", "To_Account", id, "TagList", "Tag_Profile_IM_Nick",
                                   "Tag_Profile_IM_Image"));
    json_t* a = tu_admin_answer_at(__FILE__, line, PGET, body, 0, NULL);
    free(body);
    return a;
}

/* The QueryResult entry of id in a query_online_status answer, or NULL. */
static json_t* query_entry(json_t* ans, const char* id) {
    json_t* r = json_object_get(ans, "QueryResult");
    for (size_t i = 0; i < json_array_size(r); i++)
        if (tu_jstr(json_array_get(r, i), "To_Account") && !strcmp(tu_jstr(json_array_get(r, i), "To_Account"), id))
            return json_array_get(r, i);
    return NULL;
}

static char* config_json(const char* dir, const char* key, const char* device) {
    json_t* o = json_object();
    if (dir) json_object_set_new(o, "sdk_config_config_file_path", json_string(dir));
    if (key) json_object_set_new(o, "timref_config_secret_key", json_string(key));
    if (device) json_object_set_new(o, "timref_config_device_name", json_string(device));
    return tu_dump(o);
}

static void init_at(int line, const char* dir, const char* key, const char* device) {
    char* cfg = config_json(dir, key, device);
    int rc = TIMInit(APPID, cfg);
    th_check(rc == TIM_SUCC, __FILE__, line, "TIMInit", "%d: %s", rc, TIMRefGetLastError());
    free(cfg);
}
#define INIT(dir, key, device) init_at(__LINE__, (dir), (key), (device))

/* ---- TIMKickedOfflineCallback recorder ---- */

typedef struct kick_rec {
    pthread_mutex_t mu;
    int n;               /* callbacks so far */
    int status_in_cb;    /* TIMGetLoginStatus() inside the last one */
    char id_in_cb[128];  /* TIMGetLoginUserID() inside the last one */
    const void* ud;      /* the user_data it received */
} kick_rec;

static kick_rec g_kick = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void on_kicked(const void* ud) {
    kick_rec* k = (kick_rec*)ud;
    int st = (int)TIMGetLoginStatus();
    char id[128];
    TIMGetLoginUserID(id);
    pthread_mutex_lock(&k->mu);
    k->n++;
    k->status_in_cb = st;
    snprintf(k->id_in_cb, sizeof k->id_in_cb, "%s", id);
    k->ud = ud;
    pthread_mutex_unlock(&k->mu);
}

static int kicks(void) {
    pthread_mutex_lock(&g_kick.mu);
    int n = g_kick.n;
    pthread_mutex_unlock(&g_kick.mu);
    return n;
}

static int wait_kicks(int n, int timeout_ms) {
    for (int w = 0; w < timeout_ms && kicks() < n; w += 5) th_sleep_ms(5);
    return kicks();
}

/* A completion that notes how many kicks had been reported when it ran. */
typedef struct kick_probe {
    th_call* c;
    int kicks_at_completion;
} kick_probe;

static void kick_probe_cb(int32_t code, const char* desc, const char* json, const void* ud) {
    kick_probe* p = (kick_probe*)ud;
    p->kicks_at_completion = kicks();
    th_cb(code, desc, json, p->c);
}

/* Kick id through the admin surface; returns the number of kicks reported before its completion. */
static int kick_at(int line, const char* id, int want) {
    char* body = tu_dump(json_pack("{ss}", "UserID", id));
    kick_probe p = {.c = th_call_new(), .kicks_at_completion = -1};
    int rc = TIMRefAdminRequest(KICK, body, kick_probe_cb, &p);
    th_check(rc == TIM_SUCC, __FILE__, line, "kick accepted", "%d", rc);
    if (rc == TIM_SUCC) th_wait(p.c);
    tu_expect_at(__FILE__, line, "kick", p.c, want, NULL);
    th_call_free(p.c);
    free(body);
    return p.kicks_at_completion;
}
#define KICK_OK(id) kick_at(__LINE__, (id), 0)

static int set_status_code(const char* json) {
    th_call* c = tu_run(TIMSetSelfStatus, json);
    int code = c->code;
    th_call_free(c);
    return code;
}

/* ---------------------------------------------------------------------------
 * multiaccount_import, account_delete, account_check
 * ------------------------------------------------------------------------- */

static void test_multiaccount_import(void) {
    INIT(NULL, NULL, NULL);
    /* the Accounts form: invalid ids answered in FailAccounts, duplicates fine */
    json_t* a = ADMIN(MIMPORT, "{\"Accounts\":[\"a1\",\"a2\",\"\\u0001x\",\"a1\"]}", 0, NULL);
    json_t* fail = json_object_get(a, "FailAccounts");
    CHECK_INT(json_array_size(fail), 1);
    CHECK_STR(json_string_value(json_array_get(fail, 0)), "\x01x");
    json_decref(a);
    CHECK_INT(IMPORTED("a1"), 1);
    CHECK_INT(IMPORTED("a2"), 1);

    /* the AccountList form: new accounts with Nick/FaceUrl, an existing one updated (its session
     * told), an invalid id in FailAccounts, a repeated UserID applied in order */
    TU_LOGIN_OK("a1");
    tu_ev self;
    tu_ev_init(&self);
    TIMSetSelfInfoUpdatedCallback(tu_ev_cb, &self);
    a = ADMIN(MIMPORT,
              "{\"AccountList\":[{\"UserID\":\"n1\",\"Nick\":\"N One\",\"FaceUrl\":\"http://f/1\"},"
              "{\"UserID\":\"a1\",\"Nick\":\"A One\"},{\"UserID\":\"\",\"Nick\":\"x\"},{\"UserID\":\"n2\"},"
              "{\"UserID\":\"n2\",\"Nick\":\"Second\"}]}",
              0, NULL);
    fail = json_object_get(a, "FailAccounts");
    CHECK_INT(json_array_size(fail), 1);
    CHECK_STR(json_string_value(json_array_get(fail, 0)), "");
    json_decref(a);
    CHECK(tu_ev_find(&self, 0, "user_profile_identifier", "a1", "user_profile_nick_name", "A One", 0, NULL) >= 0);
    TIMSetSelfInfoUpdatedCallback(NULL, NULL);
    tu_ev_free(&self);
    a = pget(__LINE__, "n1");
    CHECK_STR(pget_str(a, "n1", "Tag_Profile_IM_Nick"), "N One");
    CHECK_STR(pget_str(a, "n1", "Tag_Profile_IM_Image"), "http://f/1");
    json_decref(a);
    a = pget(__LINE__, "a1");
    CHECK_STR(pget_str(a, "a1", "Tag_Profile_IM_Nick"), "A One");
    json_decref(a);
    a = pget(__LINE__, "n2");
    CHECK_STR(pget_str(a, "n2", "Tag_Profile_IM_Nick"), "Second");
    json_decref(a);

    /* both forms in one body, or a malformed one: 70402, nothing imported */
    ADMIN_CODE(MIMPORT, "{\"Accounts\":[\"both1\"],\"AccountList\":[{\"UserID\":\"both2\"}]}", 70402, "not both");
    CHECK_INT(IMPORTED("both1"), 0);
    CHECK_INT(IMPORTED("both2"), 0);
    ADMIN_CODE(MIMPORT, "{}", 70402, "Accounts");
    ADMIN_CODE(MIMPORT, "{\"AccountList\":[]}", 70402, "AccountList");
    ADMIN_CODE(MIMPORT, "{\"AccountList\":{\"UserID\":\"ok1\"}}", 70402, "AccountList");
    ADMIN_CODE(MIMPORT, "{\"AccountList\":[{\"UserID\":\"ok1\"},5]}", 70402, "AccountList[1]");
    ADMIN_CODE(MIMPORT, "{\"AccountList\":[{\"UserID\":\"ok1\"},{\"Nick\":\"x\"}]}", 70402, "AccountList[1].UserID");
    ADMIN_CODE(MIMPORT, "{\"AccountList\":[{\"UserID\":\"ok1\",\"Nick\":5}]}", 70402, "AccountList[0].Nick");
    ADMIN_CODE(MIMPORT, "{\"AccountList\":[{\"UserID\":\"ok1\",\"FaceUrl\":null}]}", 70402, "AccountList[0].FaceUrl");
    char* nick = tu_repeat('n', 501);
    char* body = tu_dump(json_pack("{s[{ssss}]}", "AccountList", "UserID", "ok1", "Nick", nick));
    ADMIN_CODE(MIMPORT, body, 70402, "AccountList[0].Nick");
    free(body);
    free(nick);
    CHECK_INT(IMPORTED("ok1"), 0);

    /* at most 100 accounts a call, in either form */
    body = ids_body("Accounts", "lim", 101, false, NULL);
    ADMIN_CODE(MIMPORT, body, 70402, "at most 100");
    free(body);
    CHECK_INT(IMPORTED("lim000"), 0);
    body = ids_body("AccountList", "lim", 101, true, NULL);
    ADMIN_CODE(MIMPORT, body, 70402, "at most 100");
    free(body);
    CHECK_INT(IMPORTED("lim000"), 0);
    body = ids_body("AccountList", "lim", 100, true, NULL);
    a = ADMIN(MIMPORT, body, 0, NULL);
    CHECK_INT(json_array_size(json_object_get(a, "FailAccounts")), 0);
    json_decref(a);
    free(body);
    CHECK_INT(IMPORTED("lim099"), 1);
    body = ids_body("Accounts", "acc", 100, false, NULL);
    ADMIN_CODE(MIMPORT, body, 0, NULL);
    free(body);
    CHECK_INT(IMPORTED("acc099"), 1);
    TIMUninit();
}

static void test_account_delete_limit(void) {
    INIT(NULL, NULL, NULL);
    tu_import_range("d", 0, 101);
    char* body = ids_body("DeleteItem", "d", 101, true, NULL);
    ADMIN_CODE(DELETE, body, 70402, "at most 100");
    free(body);
    CHECK_INT(IMPORTED("d000"), 1);
    CHECK_INT(IMPORTED("d100"), 1);
    body = ids_body("DeleteItem", "d", 100, true, NULL);
    json_t* a = ADMIN(DELETE, body, 0, NULL);
    free(body);
    json_t* items = json_object_get(a, "ResultItem");
    CHECK_INT(json_array_size(items), 100);
    CHECK_INT(tu_jint(json_array_get(items, 99), "ResultCode"), 0);
    json_decref(a);
    CHECK_INT(IMPORTED("d000"), 0);
    CHECK_INT(IMPORTED("d100"), 1);
    TIMUninit();
}

static void test_account_check(void) {
    INIT(NULL, NULL, NULL);
    tu_import("c1");
    tu_import("c3");
    json_t* a = ADMIN(CHECK_API, "{\"CheckItem\":[{\"UserID\":\"c1\"},{\"UserID\":\"c2\"},{\"UserID\":\"c3\"}]}", 0,
                      NULL);
    json_t* items = json_object_get(a, "ResultItem");
    CHECK_INT(json_array_size(items), 3);
    static const char* const ids[3] = {"c1", "c2", "c3"};
    static const char* const want[3] = {"Imported", "NotImported", "Imported"};
    for (size_t i = 0; i < 3; i++) {
        json_t* it = json_array_get(items, i);
        CHECK_STR(tu_jstr(it, "UserID"), ids[i]);
        CHECK_INT(tu_jint(it, "ResultCode"), 0);
        CHECK_STR(tu_jstr(it, "ResultInfo"), "");
        CHECK_STR(tu_jstr(it, "AccountStatus"), want[i]);
        CHECK_INT(json_object_size(it), 4);
    }
    json_decref(a);
    /* malformed */
    ADMIN_CODE(CHECK_API, "{}", 70402, "CheckItem");
    ADMIN_CODE(CHECK_API, "{\"CheckItem\":[]}", 70402, "CheckItem");
    ADMIN_CODE(CHECK_API, "{\"CheckItem\":{\"UserID\":\"c1\"}}", 70402, "CheckItem");
    ADMIN_CODE(CHECK_API, "{\"CheckItem\":[\"c1\"]}", 70402, "CheckItem[0].UserID");
    ADMIN_CODE(CHECK_API, "{\"CheckItem\":[{\"UserID\":\"c1\"},{}]}", 70402, "CheckItem[1].UserID");
    ADMIN_CODE(CHECK_API, "{\"CheckItem\":[{\"UserID\":5}]}", 70402, "CheckItem[0].UserID");
    ADMIN_CODE(CHECK_API, "{\"CheckItem\":[{\"UserID\":\"\"}]}", 70402, "CheckItem[0].UserID");
    /* at most 100 a call */
    char* body = ids_body("CheckItem", "k", 101, true, NULL);
    ADMIN_CODE(CHECK_API, body, 70402, "at most 100");
    free(body);
    body = ids_body("CheckItem", "k", 100, true, NULL);
    a = ADMIN(CHECK_API, body, 0, NULL);
    CHECK_INT(json_array_size(json_object_get(a, "ResultItem")), 100);
    json_decref(a);
    free(body);
    TIMUninit();
}

/* ---------------------------------------------------------------------------
 * query_online_status, portrait_get
 * ------------------------------------------------------------------------- */

static void test_query_online_status(void) {
    INIT(NULL, NULL, "RestBox");
    tu_import("q2");
    tu_import("q3");
    TU_LOGIN_OK("q1"); /* a real session */
    CHECK_INT(tu_set_status("q2", 1, "busy"), 0); /* a simulated one */
    CHECK_INT(set_status_code("{\"user_status_custom_status\":\"mine\"}"), 0);

    json_t* a = ADMIN(QUERY, "{\"To_Account\":[\"q1\",\"q2\",\"q3\",\"nobody\"]}", 0, NULL);
    CHECK_INT(json_array_size(json_object_get(a, "QueryResult")), 3);
    CHECK_STR(tu_jstr(query_entry(a, "q1"), "Status"), "Online");
    CHECK_STR(tu_jstr(query_entry(a, "q2"), "Status"), "Online");
    CHECK_STR(tu_jstr(query_entry(a, "q3"), "Status"), "Offline");
    CHECK(json_object_get(query_entry(a, "q1"), "Detail") == NULL);
    CHECK(json_object_get(query_entry(a, "q1"), "CustomStatus") == NULL);
    json_t* errs = json_object_get(a, "ErrorList");
    CHECK_INT(json_array_size(errs), 1);
    CHECK_STR(tu_jstr(json_array_get(errs, 0), "To_Account"), "nobody");
    CHECK_INT(tu_jint(json_array_get(errs, 0), "ErrorCode"), 70107);
    json_decref(a);

    /* IsNeedDetail: one {"Platform", "Status"} per live session; none for a user without one */
    a = ADMIN(QUERY, "{\"To_Account\":[\"q1\",\"q2\",\"q3\"],\"IsNeedDetail\":1}", 0, NULL);
    json_t* d = json_object_get(query_entry(a, "q1"), "Detail");
    CHECK_INT(json_array_size(d), 1);
    CHECK_STR(tu_jstr(json_array_get(d, 0), "Platform"), "RestBox");
    CHECK_STR(tu_jstr(json_array_get(d, 0), "Status"), "Online");
    CHECK_INT(json_array_size(json_object_get(query_entry(a, "q2"), "Detail")), 1);
    CHECK(json_object_get(query_entry(a, "q3"), "Detail") == NULL);
    CHECK(json_object_get(query_entry(a, "q1"), "CustomStatus") == NULL);
    json_decref(a);
    /* IsReturnCustomStatus */
    a = ADMIN(QUERY, "{\"To_Account\":[\"q1\",\"q2\",\"q3\"],\"IsReturnCustomStatus\":1,\"IsNeedDetail\":0}", 0,
              NULL);
    CHECK_STR(tu_jstr(query_entry(a, "q1"), "CustomStatus"), "mine");
    CHECK_STR(tu_jstr(query_entry(a, "q2"), "CustomStatus"), "busy");
    CHECK_STR(tu_jstr(query_entry(a, "q3"), "CustomStatus"), "");
    CHECK(json_object_get(query_entry(a, "q1"), "Detail") == NULL);
    json_decref(a);
    /* two sessions of one user: two details, oldest first */
    TU_LOGOUT_OK();
    TU_LOGIN_OK("q2");
    a = ADMIN(QUERY, "{\"To_Account\":[\"q2\"],\"IsNeedDetail\":1}", 0, NULL);
    CHECK_INT(json_array_size(json_object_get(query_entry(a, "q2"), "Detail")), 2);
    json_decref(a);

    /* every account failed: the answer fails with 70107, and still lists them */
    a = ADMIN(QUERY, "{\"To_Account\":[\"nobody\",\"nobody2\"]}", 70107, NULL);
    CHECK_INT(json_array_size(json_object_get(a, "ErrorList")), 2);
    CHECK_INT(json_array_size(json_object_get(a, "QueryResult")), 0);
    json_decref(a);

    /* flags must be 0 or 1 */
    ADMIN_CODE(QUERY, "{\"To_Account\":[\"q1\"],\"IsNeedDetail\":2}", 70402, "IsNeedDetail");
    ADMIN_CODE(QUERY, "{\"To_Account\":[\"q1\"],\"IsNeedDetail\":\"1\"}", 70402, "IsNeedDetail");
    ADMIN_CODE(QUERY, "{\"To_Account\":[\"q1\"],\"IsReturnCustomStatus\":true}", 70402, "IsReturnCustomStatus");
    /* at most 500 a call: 90011 */
    char* body = ids_body("To_Account", "z", 501, false, NULL);
    ADMIN_CODE(QUERY, body, 90011, "at most 500");
    free(body);
    body = ids_body("To_Account", "z", 499, false, NULL);
    json_t* o = tu_parse(body);
    json_array_append_new(json_object_get(o, "To_Account"), json_string("q1"));
    free(body);
    body = tu_dump(o);
    a = ADMIN(QUERY, body, 0, NULL);
    CHECK_INT(json_array_size(json_object_get(a, "ErrorList")), 499);
    CHECK_INT(json_array_size(json_object_get(a, "QueryResult")), 1);
    json_decref(a);
    free(body);
    TIMUninit();
}

static void test_portrait_get(void) {
    INIT(NULL, NULL, NULL);
    tu_import("p1");
    /* Fail_Account only when an account failed; its item has no ProfileItem */
    json_t* a = ADMIN(PGET, "{\"To_Account\":[\"p1\",\"nobody\"],\"TagList\":[\"Tag_Profile_IM_Nick\"]}", 0, NULL);
    json_t* fail = json_object_get(a, "Fail_Account");
    CHECK_INT(json_array_size(fail), 1);
    CHECK_STR(json_string_value(json_array_get(fail, 0)), "nobody");
    json_t* items = json_object_get(a, "UserProfileItem");
    CHECK_INT(tu_jint(json_array_get(items, 1), "ResultCode"), 40003);
    CHECK(json_object_get(json_array_get(items, 1), "ProfileItem") == NULL);
    CHECK(json_is_array(json_object_get(json_array_get(items, 0), "ProfileItem")));
    CHECK_STR(tu_jstr(a, "ErrorDisplay"), "");
    json_decref(a);
    a = ADMIN(PGET, "{\"To_Account\":[\"p1\"],\"TagList\":[\"Tag_Profile_IM_Nick\"]}", 0, NULL);
    CHECK(json_object_get(a, "Fail_Account") == NULL);
    json_decref(a);
    /* To_Account missing or empty: 40002; of another type: 40001 */
    ADMIN_CODE(PGET, "{\"TagList\":[\"Tag_Profile_IM_Nick\"]}", 40002, "To_Account");
    ADMIN_CODE(PGET, "{\"To_Account\":[],\"TagList\":[\"Tag_Profile_IM_Nick\"]}", 40002, "To_Account");
    ADMIN_CODE(PGET, "{\"To_Account\":\"p1\",\"TagList\":[\"Tag_Profile_IM_Nick\"]}", 40001, "To_Account");
    /* at most 100 a call: 40001 */
    char* body = ids_body("To_Account", "p", 101, false, "{\"TagList\":[\"Tag_Profile_IM_Nick\"]}");
    a = ADMIN(PGET, body, 40001, "at most 100");
    CHECK_STR(tu_jstr(a, "ErrorDisplay"), "");
    json_decref(a);
    free(body);
    body = ids_body("To_Account", "p", 100, false, "{\"TagList\":[\"Tag_Profile_IM_Nick\"]}");
    a = ADMIN(PGET, body, 0, NULL);
    CHECK_INT(json_array_size(json_object_get(a, "UserProfileItem")), 100);
    CHECK_INT(json_array_size(json_object_get(a, "Fail_Account")), 100); /* p000 .. p099: none exists */
    json_decref(a);
    free(body);
    /* portrait_set answers ErrorDisplay too */
    a = ADMIN(PSET, "{\"From_Account\":\"p1\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\",\"Value\":\"P\"}]}", 0,
              NULL);
    CHECK_STR(tu_jstr(a, "ErrorDisplay"), "");
    json_decref(a);
    a = ADMIN(PSET, "{\"From_Account\":\"nobody\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\",\"Value\":\"P\"}]}",
              40003, NULL);
    CHECK_STR(tu_jstr(a, "ErrorDisplay"), "");
    json_decref(a);
    TIMUninit();
}

/* ---------------------------------------------------------------------------
 * kick in this process
 * ------------------------------------------------------------------------- */

static void test_kick_local(void) {
    INIT(NULL, NULL, NULL);
    TIMSetKickedOfflineCallback(on_kicked, &g_kick);
    int base = kicks();
    tu_import("kw");
    /* malformed, or no such account */
    ADMIN_CODE(KICK, "{}", 70402, "UserID");
    ADMIN_CODE(KICK, "{\"UserID\":5}", 70402, "UserID");
    ADMIN_CODE(KICK, "{\"UserID\":\"\"}", 70402, "UserID");
    ADMIN_CODE(KICK, "{\"Identifier\":\"kw\"}", 70402, "UserID");
    ADMIN_CODE(KICK, "{\"UserID\":\"nobody\"}", 70107, "nobody");
    CHECK_INT(kicks(), base);

    /* the logged-in user: the session ends, the callback fires before the kick completes */
    TU_LOGIN_OK("kme");
    CHECK_INT(set_status_code("{\"user_status_custom_status\":\"here\"}"), 0);
    CHECK_INT(KICK_OK("kme"), base + 1);
    CHECK_INT(kicks(), base + 1);
    pthread_mutex_lock(&g_kick.mu);
    CHECK_INT(g_kick.status_in_cb, kTIMLoginStatus_UnLogined);
    CHECK_STR(g_kick.id_in_cb, "");
    CHECK(g_kick.ud == &g_kick);
    pthread_mutex_unlock(&g_kick.mu);
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_UnLogined);
    CHECK_INT(set_status_code("{\"user_status_custom_status\":\"x\"}"), ERR_SDK_NOT_LOGGED_IN);
    TU_EXPECT(TIMGetUserStatus, "[\"kme\"]", ERR_SDK_NOT_LOGGED_IN, NULL);
    TU_LOGOUT_OK(); /* logging out when not logged in succeeds */
    json_t* a = ADMIN(QUERY, "{\"To_Account\":[\"kme\"],\"IsReturnCustomStatus\":1}", 0, NULL);
    CHECK_STR(tu_jstr(query_entry(a, "kme"), "Status"), "Offline");
    CHECK_STR(tu_jstr(query_entry(a, "kme"), "CustomStatus"), "");
    json_decref(a);

    /* a simulated session: ended, the user UnLogined, subscribers told as for a logout; this
     * process's own session (another user) is not kicked */
    TU_LOGIN_OK("kw");
    tu_ev st;
    tu_ev_init(&st);
    TIMSetUserStatusChangedCallback(tu_ev_cb, &st);
    CHECK_INT(tu_set_status("kme", 1, "sim here"), 0);
    TU_EXPECT(TIMSubscribeUserStatus, "[\"kme\"]", 0, NULL);
    size_t from = tu_ev_count(&st);
    CHECK_INT(KICK_OK("kme"), base + 1);
    CHECK(tu_ev_wait(&st, from, "user_status_identifier", "kme", "user_status_status_type", NULL,
                     kTIMUserStatusType_UnLogined, NULL, 5000) >= 0);
    CHECK_INT(kicks(), base + 1);
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_Logined);
    int code;
    json_t* s = tu_get_status("kme", &code);
    CHECK_INT(code, 0);
    CHECK_INT(tu_jint(s, "user_status_status_type"), kTIMUserStatusType_UnLogined);
    CHECK_STR(tu_jstr(s, "user_status_custom_status"), "");
    CHECK_INT(json_array_size(json_object_get(s, "user_status_online_devices")), 0);
    json_decref(s);
    /* kicking a user without a session changes nothing that anyone is told */
    from = tu_ev_count(&st);
    CHECK_INT(KICK_OK("kme"), base + 1);
    th_sleep_ms(50);
    CHECK(tu_ev_find(&st, from, "user_status_identifier", "kme", NULL, NULL, 0, NULL) < 0);
    TIMSetUserStatusChangedCallback(NULL, NULL);
    tu_ev_free(&st);

    /* without a secret key the user logs in again at once; NULL removes the callback */
    TU_LOGOUT_OK();
    TU_LOGIN_OK("kme");
    TIMSetKickedOfflineCallback(NULL, NULL);
    KICK_OK("kme");
    CHECK_INT(kicks(), base + 1);
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_UnLogined);
    TIMUninit();
}

/* ---------------------------------------------------------------------------
 * UserSigs: a kick invalidates those issued before it; ref/check_usersig
 * ------------------------------------------------------------------------- */

static char* sig_for(const char* key, uint64_t app, const char* id, uint64_t t, uint64_t expire) {
    char* s = tr_usersig_make(app, key, id, t, expire, NULL);
    if (!s) abort();
    return s;
}

static void check_sig_at(int line, const char* id, const char* sig, int want, const char* desc_has) {
    char* body = tu_dump(json_pack("{ssss}", "UserID", id, "UserSig", sig));
    json_decref(tu_admin_answer_at(__FILE__, line, CHECKSIG, body, want, desc_has));
    free(body);
}
#define CHECK_SIG(id, sig, want, desc_has) check_sig_at(__LINE__, (id), (sig), (want), (desc_has))

static void login_at(int line, const char* id, const char* sig, int want, const char* desc_has) {
    th_call* c = tu_login(id, sig);
    tu_expect_at(__FILE__, line, "login", c, want, desc_has);
    th_call_free(c);
}
#define LOGIN(id, sig, want, desc_has) login_at(__LINE__, (id), (sig), (want), (desc_has))

static void test_kick_usersig(void) {
    INIT(NULL, KEY, NULL);
    TIMSetKickedOfflineCallback(on_kicked, &g_kick);
    int base = kicks();
    uint64_t now = (uint64_t)time(NULL);
    char* old = sig_for(KEY, APPID, "ku", now - 100, 86400);
    LOGIN("ku", old, 0, NULL);
    CHECK_SIG("ku", old, 0, NULL);
    CHECK_INT(KICK_OK("ku"), base + 1);
    /* the UserSig issued before the kick no longer logs in; one issued after does */
    LOGIN("ku", old, ERR_SVR_ACCOUNT_USERSIG_EXPIRED, "kick");
    CHECK_SIG("ku", old, ERR_SVR_ACCOUNT_USERSIG_EXPIRED, "kick");
    char* fresh = sig_for(KEY, APPID, "ku", (uint64_t)time(NULL), 86400);
    CHECK_SIG("ku", fresh, 0, NULL);
    LOGIN("ku", fresh, 0, NULL);
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_Logined);
    TU_LOGOUT_OK();
    /* a kick without a live session invalidates the old UserSigs too */
    tu_import("kz");
    char* old_kz = sig_for(KEY, APPID, "kz", now - 100, 86400);
    CHECK_SIG("kz", old_kz, 0, NULL);
    CHECK_INT(KICK_OK("kz"), base + 1);
    LOGIN("kz", old_kz, ERR_SVR_ACCOUNT_USERSIG_EXPIRED, "kick");

    /* ref/check_usersig: the login's checks, in its order */
    char* other_id = sig_for(KEY, APPID, "other", now, 86400);
    char* other_app = sig_for(KEY, APPID + 1, "ku", now, 86400);
    char* other_key = sig_for("another key", APPID, "ku", now, 86400);
    char* expired = sig_for(KEY, APPID, "ku", now - 1000, 10);
    CHECK_SIG("ku", "", ERR_SVR_ACCOUNT_USERSIG_EMPTY, NULL);
    ADMIN_CODE(CHECKSIG, "{\"UserID\":\"ku\"}", ERR_SVR_ACCOUNT_USERSIG_EMPTY, NULL);
    CHECK_SIG("ku", "garbage", ERR_SVR_ACCOUNT_USERSIG_CHECK_FAILED, "usersig");
    CHECK_SIG("ku", other_key, ERR_SVR_ACCOUNT_USERSIG_CHECK_FAILED, "signature");
    CHECK_SIG("ku", other_id, ERR_SVR_ACCOUNT_USERSIG_MISMATCH_ID, "identifier");
    CHECK_SIG("ku", other_app, ERR_SVR_ACCOUNT_USERSIG_MISMATCH_SDKAPPID, NULL);
    CHECK_SIG("ku", expired, ERR_SVR_ACCOUNT_USERSIG_EXPIRED, "expired");
    CHECK_SIG("other", other_id, 0, NULL); /* no account needed: the app admin may have none */
    ADMIN_CODE(CHECKSIG, "{\"UserSig\":\"x\"}", 70402, "UserID");
    ADMIN_CODE(CHECKSIG, "{\"UserID\":\"\",\"UserSig\":\"x\"}", 70402, "UserID");
    ADMIN_CODE(CHECKSIG, "{\"UserID\":\"ku\",\"UserSig\":5}", 70402, "UserSig");
    TIMUninit();
    /* without a secret key any non-empty UserSig passes, kicked or not */
    INIT(NULL, NULL, NULL);
    CHECK_SIG("ku", "anything", 0, NULL);
    CHECK_SIG("ku", old, 0, NULL);
    CHECK_SIG("ku", "", ERR_SVR_ACCOUNT_USERSIG_EMPTY, NULL);
    TIMSetKickedOfflineCallback(NULL, NULL);
    TIMUninit();
    free(old);
    free(fresh);
    free(old_kz);
    free(other_id);
    free(other_app);
    free(other_key);
    free(expired);
}

/* ---------------------------------------------------------------------------
 * kick across processes
 * ------------------------------------------------------------------------- */

static char* path_with(const char* dir, const char* suffix) {
    char* p = NULL;
    if (asprintf(&p, "%s%s", dir, suffix) < 0) abort();
    return p;
}

static bool wait_file(const char* path, int timeout_ms) {
    for (int w = 0; w < timeout_ms; w += 5) {
        if (access(path, F_OK) == 0) return true;
        th_sleep_ms(5);
    }
    return access(path, F_OK) == 0;
}

static void touch(const char* path) {
    FILE* f = fopen(path, "w");
    if (f) fclose(f);
}

/*
 * child-kicked DIR ID: log in as ID, say so (DIR.ready-ID), wait to be kicked; then the
 * session is over here too.  child-kick DIR ID: kick ID as the admin, from this process.
 */
static int child_main(const char* mode, const char* dir, const char* id) {
    char* cfg = config_json(dir, NULL, "ChildBox");
    if (TIMInit(APPID, cfg) != TIM_SUCC) {
        fprintf(stderr, "child %s: TIMInit failed: %s\n", mode, TIMRefGetLastError());
        free(cfg);
        return 2;
    }
    free(cfg);
    if (!strcmp(mode, "child-kicked")) {
        TIMSetKickedOfflineCallback(on_kicked, &g_kick);
        th_call* c = tu_login(id, "sig");
        CHECK_INT(c->code, 0);
        th_call_free(c);
        char* ready = path_with(dir, ".ready-");
        char* full = NULL;
        if (asprintf(&full, "%s%s", ready, id) < 0) abort();
        touch(full);
        free(full);
        free(ready);
        CHECK_INT(wait_kicks(1, 30000), 1);
        pthread_mutex_lock(&g_kick.mu);
        CHECK_INT(g_kick.status_in_cb, kTIMLoginStatus_UnLogined);
        pthread_mutex_unlock(&g_kick.mu);
        CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_UnLogined);
        CHECK_INT(set_status_code("{\"user_status_custom_status\":\"x\"}"), ERR_SDK_NOT_LOGGED_IN);
        th_sleep_ms(50);
        CHECK_INT(kicks(), 1); /* once */
    } else if (!strcmp(mode, "child-kick")) {
        char* body = tu_dump(json_pack("{ss}", "UserID", id));
        ADMIN_CODE(KICK, body, 0, NULL);
        free(body);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    TIMUninit();
    return th_finish();
}

static void check_child_at(int line, const char* what, pid_t pid) {
    int st = tu_wait_child(pid, 60000);
    th_check(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, __FILE__, line, what, "wait status %d", st);
}

/* Start child-kicked as id and wait until it is logged in. */
static pid_t start_kicked_child(const char* dir, const char* id) {
    char* ready = path_with(dir, ".ready-");
    char* full = NULL;
    if (asprintf(&full, "%s%s", ready, id) < 0) abort();
    pid_t pid = tu_spawn_child("child-kicked", dir, id);
    CHECK(wait_file(full, 30000));
    free(full);
    free(ready);
    return pid;
}

static void test_kick_across_processes(void) {
    char* dir = th_tempdir("rest-kick");
    INIT(dir, NULL, "ParentBox");
    TIMSetKickedOfflineCallback(on_kicked, &g_kick);
    int base = kicks();

    /* 1. the same user in two processes: both sessions end, each process told */
    TU_LOGIN_OK("dup");
    pid_t pid = start_kicked_child(dir, "dup");
    json_t* a = ADMIN(QUERY, "{\"To_Account\":[\"dup\"],\"IsNeedDetail\":1}", 0, NULL);
    CHECK_INT(json_array_size(json_object_get(query_entry(a, "dup"), "Detail")), 2);
    json_decref(a);
    CHECK_INT(KICK_OK("dup"), base + 1);
    check_child_at(__LINE__, "child-kicked dup passed", pid);
    CHECK_INT(kicks(), base + 1);
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_UnLogined);
    a = ADMIN(QUERY, "{\"To_Account\":[\"dup\"],\"IsNeedDetail\":1}", 0, NULL);
    CHECK_STR(tu_jstr(query_entry(a, "dup"), "Status"), "Offline");
    CHECK(json_object_get(query_entry(a, "dup"), "Detail") == NULL);
    json_decref(a);

    /* 2. a subscriber here is told of the other process's user turning UnLogined */
    TU_LOGIN_OK("watcher");
    tu_ev st;
    tu_ev_init(&st);
    TIMSetUserStatusChangedCallback(tu_ev_cb, &st);
    TU_EXPECT(TIMSubscribeUserStatus, "[\"far\"]", 0, NULL);
    pid = start_kicked_child(dir, "far");
    CHECK(tu_ev_wait(&st, 0, "user_status_identifier", "far", "user_status_status_type", NULL,
                     kTIMUserStatusType_Online, NULL, 10000) >= 0);
    size_t from = tu_ev_count(&st);
    KICK_OK("far");
    CHECK(tu_ev_wait(&st, from, "user_status_identifier", "far", "user_status_status_type", NULL,
                     kTIMUserStatusType_UnLogined, NULL, 10000) >= 0);
    check_child_at(__LINE__, "child-kicked far passed", pid);
    CHECK_INT(kicks(), base + 1);
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_Logined); /* watcher was not kicked */
    int code;
    json_t* s = tu_get_status("far", &code);
    CHECK_INT(tu_jint(s, "user_status_status_type"), kTIMUserStatusType_UnLogined);
    json_decref(s);
    TIMSetUserStatusChangedCallback(NULL, NULL);
    tu_ev_free(&st);
    TU_LOGOUT_OK();

    /* 3. the admin of another process kicks this one's user: told without a call of its own */
    TU_LOGIN_OK("here");
    pid = tu_spawn_child("child-kick", dir, "here");
    check_child_at(__LINE__, "child-kick here passed", pid);
    CHECK_INT(wait_kicks(base + 2, 10000), base + 2);
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_UnLogined);
    CHECK_INT(set_status_code("{\"user_status_custom_status\":\"x\"}"), ERR_SDK_NOT_LOGGED_IN);
    TU_LOGIN_OK("here"); /* no secret key: logs in again */
    TU_LOGOUT_OK();

    TIMSetKickedOfflineCallback(NULL, NULL);
    TIMUninit();
    th_rmdir(dir);
    free(dir);
}

/* ---------------------------------------------------------------------------
 * the store of the schema before kicks (version 1) is upgraded in place
 * ------------------------------------------------------------------------- */

/* The version-1 schema as it shipped, frozen here on purpose: the store's own (current) schema
 * moves on, this one must not. */
static const char k_schema_v1[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE account("
    "  id TEXT PRIMARY KEY,"
    "  nick TEXT NOT NULL DEFAULT '', gender INTEGER NOT NULL DEFAULT 0,"
    "  face_url TEXT NOT NULL DEFAULT '', signature TEXT NOT NULL DEFAULT '',"
    "  allow_type INTEGER NOT NULL DEFAULT 0, location TEXT NOT NULL DEFAULT '',"
    "  language INTEGER NOT NULL DEFAULT 0, birthday INTEGER NOT NULL DEFAULT 0,"
    "  level INTEGER NOT NULL DEFAULT 0, role INTEGER NOT NULL DEFAULT 0,"
    "  msg_settings INTEGER NOT NULL DEFAULT 0, forbid INTEGER NOT NULL DEFAULT 0,"
    "  custom TEXT NOT NULL DEFAULT '[]', last_updated INTEGER NOT NULL DEFAULT 0,"
    "  status INTEGER NOT NULL DEFAULT 3, custom_status TEXT NOT NULL DEFAULT '',"
    "  created INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE TABLE session("
    "  token TEXT PRIMARY KEY, user_id TEXT NOT NULL, device TEXT NOT NULL,"
    "  simulated INTEGER NOT NULL DEFAULT 0, pid INTEGER NOT NULL DEFAULT 0,"
    "  started INTEGER NOT NULL DEFAULT 0, slot INTEGER) WITHOUT ROWID;"
    "CREATE INDEX session_user ON session(user_id);"
    "CREATE TABLE event("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT, type INTEGER NOT NULL,"
    "  user_id TEXT NOT NULL, origin TEXT NOT NULL, data TEXT);"
    "INSERT INTO account(id, nick, custom_status, created) VALUES ('old1', 'Old One', '', 1);"
    "INSERT INTO event(type, user_id, origin, data) VALUES (1, 'old1', 'admin', NULL);"
    "PRAGMA user_version = 1;";

static long long db_int(const char* path, const char* sql) {
    sqlite3* db = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_stmt* s = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
            v = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    sqlite3_close(db);
    return v;
}

static void db_exec(const char* path, const char* sql) {
    sqlite3* db = NULL;
    CHECK_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
    char* err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    th_check(rc == SQLITE_OK, __FILE__, __LINE__, "sqlite3_exec", "%s", err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
}

static void test_store_upgrade(void) {
    char* dir = th_tempdir("rest-upgrade");
    char* db = NULL;
    if (asprintf(&db, "%s/timref-%d.db", dir, APPID) < 0) abort();
    db_exec(db, k_schema_v1);
    chmod(db, 0600);
    CHECK_INT(db_int(db, "PRAGMA user_version"), 1);
    CHECK_INT(db_int(db, "SELECT count(*) FROM pragma_table_info('account') WHERE name = 'kicked'"), 0);

    INIT(dir, KEY, NULL);
    CHECK_INT(db_int(db, "PRAGMA user_version"), 2);
    CHECK_INT(db_int(db, "SELECT count(*) FROM pragma_table_info('account') WHERE name = 'kicked'"), 1);
    /* the data of the old store is there, and every new command works on it */
    CHECK_INT(IMPORTED("old1"), 1);
    json_t* a = pget(__LINE__, "old1");
    CHECK_STR(pget_str(a, "old1", "Tag_Profile_IM_Nick"), "Old One");
    json_decref(a);
    uint64_t now = (uint64_t)time(NULL);
    char* old = sig_for(KEY, APPID, "old1", now - 100, 86400);
    LOGIN("old1", old, 0, NULL);
    KICK_OK("old1");
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_UnLogined);
    LOGIN("old1", old, ERR_SVR_ACCOUNT_USERSIG_EXPIRED, "kick");
    free(old);
    TIMUninit();
    CHECK(db_int(db, "SELECT kicked FROM account WHERE id = 'old1'") >= (long long)now);

    /* opened again: already upgraded, the kick remembered */
    INIT(dir, KEY, NULL);
    old = sig_for(KEY, APPID, "old1", now - 100, 86400);
    LOGIN("old1", old, ERR_SVR_ACCOUNT_USERSIG_EXPIRED, "kick");
    free(old);
    TIMUninit();
    CHECK_INT(db_int(db, "PRAGMA user_version"), 2);

    /* a store of a newer schema is refused */
    db_exec(db, "PRAGMA user_version = 3;");
    char* cfg = config_json(dir, NULL, NULL);
    CHECK_INT(TIMInit(APPID, cfg), TIM_ERR_PARAM);
    CHECK_HAS(TIMRefGetLastError(), "newer");
    free(cfg);
    TIMUninit();
    free(db);
    th_rmdir(dir);
    free(dir);
}

int main(int argc, char** argv) {
    if (argc >= 4) return child_main(argv[1], argv[2], argv[3]);
    test_multiaccount_import();
    test_account_delete_limit();
    test_account_check();
    test_query_online_status();
    test_portrait_get();
    test_kick_local();
    test_kick_usersig();
    test_kick_across_processes();
    test_store_upgrade();
    return th_finish();
}
