/*
 * test_world.c - timref's own admin commands about the whole world (docs/contract.md 3.8,
 * docs/snapshots.md): ref/account_list (byte order, keyset paging, a case-sensitive match),
 * ref/events (the tail of the change log), and ref/world_export / ref/world_import /
 * ref/world_reset: exact round trips, every kind of bad snapshot refused with the world
 * unchanged and the first bad entry named, the import's own size limit, and the live
 * sessions of removed accounts kicked, in this process and in another.
 *
 * The program runs itself (via /proc/self/exe and posix_spawn) with a mode argument to play
 * the other process.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "th_util.h"

#define APPID 1411
#define LIST "ref/account_list"
#define EVENTS "ref/events"
#define EXPORT "ref/world_export"
#define IMPORT "ref/world_import"
#define RESET "ref/world_reset"
#define PSET "v4/profile/portrait_set"
#define MIMPORT "v4/im_open_login_svc/multiaccount_import"

/* ---- helpers ---------------------------------------------------------------------- */

static void init_at(int line, const char* dir, const char* device) {
    json_t* o = json_object();
    if (dir) json_object_set_new(o, "sdk_config_config_file_path", json_string(dir));
    if (device) json_object_set_new(o, "timref_config_device_name", json_string(device));
    char* cfg = tu_dump(o);
    int rc = TIMInit(APPID, cfg);
    th_check(rc == TIM_SUCC, __FILE__, line, "TIMInit", "%d: %s", rc, TIMRefGetLastError());
    free(cfg);
}
#define INIT(dir, device) init_at(__LINE__, (dir), (device))

/* The world's snapshot as text (with the live status when asked). */
static char* export_at(int line, bool with_status) {
    json_t* a = tu_admin_answer_at(__FILE__, line, EXPORT, with_status ? "{\"IncludeStatus\":true}" : "{}", 0, NULL);
    json_t* snap = json_object_get(a, "Snapshot");
    th_check(json_is_object(snap), __FILE__, line, "the answer has a Snapshot", NULL);
    char* text = json_dumps(snap, JSON_COMPACT);
    json_decref(a);
    return text ? text : tu_strdup("");
}
#define EXPORT_TEXT(with_status) export_at(__LINE__, (with_status))

/* {"Snapshot": snapshot text} */
static char* import_body(const char* snapshot) {
    char* b = NULL;
    if (asprintf(&b, "{\"Snapshot\":%s}", snapshot) < 0) abort();
    return b;
}

/* Import a snapshot given as text; check the code (and desc); returns Accounts (or -1). */
static long long import_at(int line, const char* snapshot, int want, const char* desc_has) {
    char* body = import_body(snapshot);
    json_t* a = tu_admin_answer_at(__FILE__, line, IMPORT, body, want, desc_has);
    long long n = json_is_integer(json_object_get(a, "Accounts")) ? tu_jint(a, "Accounts") : -1;
    json_decref(a);
    free(body);
    return n;
}
#define IMPORT_SNAP(snap, want, desc_has) import_at(__LINE__, (snap), (want), (desc_has))

/* A snapshot of the given Accounts array text. */
static char* snap_of(const char* accounts) {
    char* s = NULL;
    if (asprintf(&s, "{\"Format\":\"timref-world\",\"Version\":1,\"Accounts\":%s}", accounts) < 0) abort();
    return s;
}

/* Whether the account exists (account_check). */
static bool exists_at(int line, const char* id) {
    char* body = tu_dump(json_pack("{s[{ss}]}", "CheckItem", "UserID", id));
    json_t* a = tu_admin_answer_at(__FILE__, line, "v4/im_open_login_svc/account_check", body, 0, NULL);
    const char* st = tu_jstr(json_array_get(json_object_get(a, "ResultItem"), 0), "AccountStatus");
    bool yes = st && !strcmp(st, "Imported");
    json_decref(a);
    free(body);
    return yes;
}
#define exists(id) exists_at(__LINE__, (id))

/* "Online" or "Offline" (query_online_status), in a static buffer. */
static const char* online_status(const char* id) {
    static char out[16];
    char* body = tu_dump(json_pack("{s[s]}", "To_Account", id));
    json_t* a = ADMIN("v4/openim/query_online_status", body, 0, NULL);
    const char* st = tu_jstr(json_array_get(json_object_get(a, "QueryResult"), 0), "Status");
    snprintf(out, sizeof out, "%s", st ? st : "");
    json_decref(a);
    free(body);
    return out;
}

/* One page of ref/account_list: the answer (caller decrefs). */
static json_t* list_page(const char* body) { return ADMIN(LIST, body, 0, NULL); }

/* ---- listing ------------------------------------------------------------------------------ */

static void test_account_list(void) {
    INIT(NULL, NULL);
    tu_import_range("u", 0, 250); /* u000 .. u249 */
    const char* odd[] = {"Alice", "alice", "x%y", "x_y", "b c"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) tu_import(odd[i]);

    /* every account, in pages of 100, each ID once and in byte order */
    char after[64] = "";
    size_t seen = 0, pages = 0;
    char prev[64] = "";
    for (;;) {
        json_t* body = json_pack("{si}", "Limit", 100);
        if (*after) json_object_set_new(body, "After", json_string(after));
        char* text = tu_dump(body);
        json_t* a = list_page(text);
        free(text);
        pages++;
        CHECK_INT(tu_jint(a, "Total"), 255);
        json_t* ids = json_object_get(a, "UserIDs");
        size_t i;
        json_t* v;
        json_array_foreach(ids, i, v) {
            CHECK(strcmp(prev, json_string_value(v)) < 0);
            snprintf(prev, sizeof prev, "%s", json_string_value(v));
            seen++;
        }
        const char* next = tu_jstr(a, "Next");
        if (!next) {
            CHECK_INT(json_array_size(ids), 55);
            json_decref(a);
            break;
        }
        CHECK_INT(json_array_size(ids), 100);
        CHECK_STR(next, json_string_value(json_array_get(ids, 99)));
        snprintf(after, sizeof after, "%s", next);
        json_decref(a);
        if (pages > 10) break;
    }
    CHECK_INT(seen, 255);
    CHECK_INT(pages, 3);

    /* byte order: upper case before lower, space before letters */
    json_t* a = list_page("{\"Limit\":3}");
    CHECK_STR(json_string_value(json_array_get(json_object_get(a, "UserIDs"), 0)), "Alice");
    CHECK_STR(json_string_value(json_array_get(json_object_get(a, "UserIDs"), 1)), "alice");
    CHECK_STR(json_string_value(json_array_get(json_object_get(a, "UserIDs"), 2)), "b c");
    json_decref(a);

    /* the match is a case-sensitive substring; % and _ are plain characters */
    a = list_page("{\"Match\":\"lice\"}");
    CHECK_INT(tu_jint(a, "Total"), 2);
    CHECK_INT(json_array_size(json_object_get(a, "UserIDs")), 2);
    CHECK(json_object_get(a, "Next") == NULL);
    json_decref(a);
    a = list_page("{\"Match\":\"Ali\"}");
    CHECK_INT(tu_jint(a, "Total"), 1);
    CHECK_STR(json_string_value(json_array_get(json_object_get(a, "UserIDs"), 0)), "Alice");
    json_decref(a);
    a = list_page("{\"Match\":\"%\"}");
    CHECK_INT(tu_jint(a, "Total"), 1);
    CHECK_STR(json_string_value(json_array_get(json_object_get(a, "UserIDs"), 0)), "x%y");
    json_decref(a);
    a = list_page("{\"Match\":\"_\"}");
    CHECK_INT(tu_jint(a, "Total"), 1);
    json_decref(a);
    a = list_page("{\"Match\":\"u1\",\"Limit\":5,\"After\":\"u15\"}"); /* u150 u151 ... */
    CHECK_INT(tu_jint(a, "Total"), 100); /* u100 .. u199 */
    CHECK_STR(json_string_value(json_array_get(json_object_get(a, "UserIDs"), 0)), "u150");
    CHECK_STR(tu_jstr(a, "Next"), "u154");
    json_decref(a);
    a = list_page("{\"Match\":\"nobody\"}");
    CHECK_INT(tu_jint(a, "Total"), 0);
    CHECK_INT(json_array_size(json_object_get(a, "UserIDs")), 0);
    json_decref(a);
    a = list_page("{\"After\":\"zzz\"}"); /* past the end */
    CHECK_INT(json_array_size(json_object_get(a, "UserIDs")), 0);
    CHECK_INT(tu_jint(a, "Total"), 255);
    json_decref(a);
    a = list_page("{\"Limit\":1000}");
    CHECK_INT(json_array_size(json_object_get(a, "UserIDs")), 255);
    json_decref(a);

    /* bad bodies, each named */
    ADMIN_CODE(LIST, "{\"Limit\":0}", 70402, "Limit");
    ADMIN_CODE(LIST, "{\"Limit\":1001}", 70402, "Limit");
    ADMIN_CODE(LIST, "{\"Limit\":\"5\"}", 70402, "Limit");
    ADMIN_CODE(LIST, "{\"After\":5}", 70402, "After");
    ADMIN_CODE(LIST, "{\"Match\":[\"a\"]}", 70402, "Match");
    ADMIN_CODE(LIST, "{\"Match\":\"123456789012345678901234567890123\"}", 70402, "Match");
    TIMUninit();
}

/* ---- the events' tail ------------------------------------------------------------------ */

static void test_events(void) {
    INIT(NULL, NULL);
    json_t* a = ADMIN(EVENTS, "{}", 0, NULL);
    CHECK_INT(json_array_size(json_object_get(a, "Events")), 0);
    CHECK_INT(tu_jint(a, "Last"), 0);
    json_decref(a);

    tu_import("ev1");                                                      /* profile */
    CHECK_INT(tu_portrait_set_str("ev1", "Tag_Profile_IM_Nick", "One"), 0); /* profile */
    CHECK_INT(tu_set_status("ev1", kTIMUserStatusType_Online, "here"), 0); /* status */
    TU_LOGIN_OK("ev2");                                                     /* presence (and profile: created) */

    a = ADMIN(EVENTS, "{\"Limit\":2}", 0, NULL); /* the last two */
    json_t* ev = json_object_get(a, "Events");
    CHECK_INT(json_array_size(ev), 2);
    long long last = tu_jint(a, "Last");
    CHECK_INT(tu_jint(json_array_get(ev, 1), "Seq"), last);
    CHECK_INT(tu_jint(json_array_get(ev, 0), "Seq"), last - 1);
    CHECK(json_object_get(a, "Gap") == json_false());
    json_decref(a);

    a = ADMIN(EVENTS, "{\"After\":0,\"Limit\":1000}", 0, NULL);
    ev = json_object_get(a, "Events");
    CHECK(json_array_size(ev) >= 4);
    CHECK_INT(tu_jint(a, "Last"), last);
    for (size_t i = 0; i < json_array_size(ev); i++) CHECK_INT(tu_jint(json_array_get(ev, i), "Seq"), (long long)i + 1);
    json_t* e0 = json_array_get(ev, 0);
    CHECK_STR(tu_jstr(e0, "Type"), "profile");
    CHECK_STR(tu_jstr(e0, "UserID"), "ev1");
    CHECK_STR(tu_jstr(e0, "Origin"), "admin");
    json_t* e1 = json_array_get(ev, 1);
    CHECK_STR(tu_jstr(json_object_get(e1, "Data"), "user_profile_nick_name"), "One");
    json_t* e2 = json_array_get(ev, 2);
    CHECK_STR(tu_jstr(e2, "Type"), "status");
    CHECK_STR(tu_jstr(json_object_get(e2, "Data"), "user_status_custom_status"), "here");
    bool presence = false;
    for (size_t i = 3; i < json_array_size(ev); i++)
        if (!strcmp(tu_jstr(json_array_get(ev, i), "Type"), "presence") &&
            !strcmp(tu_jstr(json_array_get(ev, i), "UserID"), "ev2"))
            presence = true;
    CHECK(presence);
    json_decref(a);

    /* following the tail: After = Last gives what came since */
    char body[64];
    snprintf(body, sizeof body, "{\"After\":%lld}", last);
    a = ADMIN(EVENTS, body, 0, NULL);
    CHECK_INT(json_array_size(json_object_get(a, "Events")), 0);
    CHECK_INT(tu_jint(a, "Last"), last);
    json_decref(a);
    char* kick = tu_dump(json_pack("{ss}", "UserID", "ev1"));
    ADMIN_CODE("v4/im_open_login_svc/kick", kick, 0, NULL); /* ev1's simulated session: kick + presence */
    free(kick);
    a = ADMIN(EVENTS, body, 0, NULL);
    ev = json_object_get(a, "Events");
    CHECK_INT(json_array_size(ev), 2);
    CHECK_STR(tu_jstr(json_array_get(ev, 0), "Type"), "kick");
    CHECK(json_is_array(json_object_get(json_object_get(json_array_get(ev, 0), "Data"), "tokens")));
    CHECK_STR(tu_jstr(json_array_get(ev, 1), "Type"), "presence");
    CHECK_INT(tu_jint(a, "Last"), last + 2);
    json_decref(a);
    /* After beyond the end (a new store): nothing, and Last says where the end is */
    a = ADMIN(EVENTS, "{\"After\":1000000}", 0, NULL);
    CHECK_INT(json_array_size(json_object_get(a, "Events")), 0);
    CHECK_INT(tu_jint(a, "Last"), last + 2);
    json_decref(a);

    ADMIN_CODE(EVENTS, "{\"After\":-1}", 70402, "After");
    ADMIN_CODE(EVENTS, "{\"After\":\"1\"}", 70402, "After");
    ADMIN_CODE(EVENTS, "{\"Limit\":0}", 70402, "Limit");
    ADMIN_CODE(EVENTS, "{\"Limit\":1001}", 70402, "Limit");
    TU_LOGOUT_OK();
    TIMUninit();
}

/* ---- snapshots: round trips --------------------------------------------------------------- */

/* A world with something of everything: standard fields (enums too), custom fields, custom
 * status, the three status types, a live session of this process. */
static void make_world(void) {
    tu_import("plain");
    tu_import("full");
    ADMIN_CODE(PSET,
               "{\"From_Account\":\"full\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\",\"Value\":\"Full \\u00e9\"},"
               "{\"Tag\":\"Tag_Profile_IM_Gender\",\"Value\":\"Gender_Type_Female\"},"
               "{\"Tag\":\"Tag_Profile_IM_Image\",\"Value\":\"https://x/f.png\"},"
               "{\"Tag\":\"Tag_Profile_IM_SelfSignature\",\"Value\":\"sig\"},"
               "{\"Tag\":\"Tag_Profile_IM_AllowType\",\"Value\":\"AllowType_Type_DenyAny\"},"
               "{\"Tag\":\"Tag_Profile_IM_Location\",\"Value\":\"Earth\"},"
               "{\"Tag\":\"Tag_Profile_IM_Language\",\"Value\":7},"
               "{\"Tag\":\"Tag_Profile_IM_BirthDay\",\"Value\":19991231},"
               "{\"Tag\":\"Tag_Profile_IM_Level\",\"Value\":4294967295},"
               "{\"Tag\":\"Tag_Profile_IM_Role\",\"Value\":3},"
               "{\"Tag\":\"Tag_Profile_IM_MsgSettings\",\"Value\":1},"
               "{\"Tag\":\"Tag_Profile_IM_AdminForbidType\",\"Value\":\"AdminForbid_Type_SendOut\"},"
               "{\"Tag\":\"Tag_Profile_Custom_Hobby\",\"Value\":\"chess\"},"
               "{\"Tag\":\"Tag_Profile_Custom_A_1\",\"Value\":\"1\"}]}",
               0, NULL);
    tu_import("offline");
    CHECK_INT(tu_set_status("offline", kTIMUserStatusType_Offline, "gone fishing"), 0);
    tu_import("online");
    CHECK_INT(tu_set_status("online", kTIMUserStatusType_Online, "at work"), 0);
    tu_import("Zed");
}

static void test_round_trip(void) {
    INIT(NULL, "Box");
    make_world();
    TU_LOGIN_OK("me"); /* a live session: Online on device Box */

    char* e1 = EXPORT_TEXT(true);
    char* p1 = EXPORT_TEXT(false);
    json_t* s = tu_parse(e1);
    CHECK_STR(tu_jstr(s, "Format"), "timref-world");
    CHECK_INT(tu_jint(s, "Version"), 1);
    CHECK_INT(tu_jint(s, "SDKAppID"), APPID);
    json_t* acc = json_object_get(s, "Accounts");
    CHECK_INT(json_array_size(acc), 6);
    /* sorted by UserID in byte order */
    CHECK_STR(tu_jstr(json_array_get(acc, 0), "UserID"), "Zed");
    CHECK_STR(tu_jstr(json_array_get(acc, 1), "UserID"), "full");
    json_t* full = json_array_get(acc, 1);
    json_t* prof = json_object_get(full, "Profile");
    CHECK_INT(json_object_size(prof), 14); /* twelve standard fields, two custom */
    CHECK_STR(tu_jstr(prof, "Tag_Profile_IM_Gender"), "Gender_Type_Female");
    CHECK_STR(tu_jstr(prof, "Tag_Profile_Custom_Hobby"), "chess");
    CHECK_INT(tu_jint(prof, "Tag_Profile_IM_Level"), 4294967295LL);
    CHECK(tu_jint(full, "LastUpdated") > 0);
    CHECK_STR(tu_jstr(json_object_get(full, "Status"), "Type"), "UnLogined");
    json_t* me = json_array_get(acc, 2);
    CHECK_STR(tu_jstr(me, "UserID"), "me");
    CHECK_STR(tu_jstr(json_object_get(me, "Status"), "Type"), "Online");
    CHECK_STR(json_string_value(json_array_get(json_object_get(json_object_get(me, "Status"), "Devices"), 0)), "Box");
    json_t* plain = json_array_get(acc, 5);
    CHECK_STR(tu_jstr(plain, "UserID"), "plain");
    CHECK_INT(json_object_size(json_object_get(plain, "Profile")), 0); /* defaults are left out */
    CHECK(json_object_get(plain, "CustomStatus") == NULL);
    CHECK_STR(tu_jstr(json_array_get(acc, 3), "CustomStatus"), "gone fishing");
    json_decref(s);
    /* the same world exports the same text */
    char* again = EXPORT_TEXT(true);
    CHECK_STR(again, e1);
    free(again);

    /* reset: every account gone, this session kicked */
    TU_LOGOUT_OK();
    json_t* a = ADMIN(RESET, "{}", 0, NULL);
    CHECK_INT(tu_jint(a, "Accounts"), 6);
    json_decref(a);
    a = list_page("{}");
    CHECK_INT(tu_jint(a, "Total"), 0);
    json_decref(a);
    CHECK(!exists("full"));
    /* import, export: the same document */
    CHECK_INT(IMPORT_SNAP(e1, 0, NULL), 6);
    char* e2 = EXPORT_TEXT(true);
    CHECK_STR(e2, e1);
    char* p2 = EXPORT_TEXT(false);
    CHECK_STR(p2, p1);
    /* the profile as the server side reads it */
    a = ADMIN("v4/profile/portrait_get",
              "{\"To_Account\":[\"full\"],\"TagList\":[\"Tag_Profile_IM_Nick\",\"Tag_Profile_IM_Level\"]}", 0, NULL);
    json_t* items = json_object_get(json_array_get(json_object_get(a, "UserProfileItem"), 0), "ProfileItem");
    CHECK_STR(tu_jstr(json_array_get(items, 0), "Value"), "Full \xc3\xa9");
    CHECK_INT(tu_jint(json_array_get(items, 1), "Value"), 4294967295LL);
    json_decref(a);
    CHECK_STR(online_status("me"), "Online"); /* a simulated session, on device Box */
    CHECK_STR(online_status("offline"), "Offline");

    /* without the live status: the custom status survives, everyone is UnLogined */
    ADMIN_CODE(RESET, "{}", 0, NULL);
    CHECK_INT(IMPORT_SNAP(p1, 0, NULL), 6);
    char* p3 = EXPORT_TEXT(false);
    CHECK_STR(p3, p1);
    CHECK_STR(online_status("me"), "Offline");
    CHECK_STR(online_status("online"), "Offline");

    /* import replaces: an account not in the snapshot goes, one in it is rewritten whole */
    tu_import("extra");
    CHECK_INT(tu_portrait_set_str("plain", "Tag_Profile_IM_Nick", "changed"), 0);
    CHECK_INT(IMPORT_SNAP(p1, 0, NULL), 6);
    CHECK(!exists("extra"));
    char* p4 = EXPORT_TEXT(false);
    CHECK_STR(p4, p1);

    /* an empty snapshot is an empty world */
    char* empty = snap_of("[]");
    CHECK_INT(IMPORT_SNAP(empty, 0, NULL), 0);
    a = list_page("{}");
    CHECK_INT(tu_jint(a, "Total"), 0);
    json_decref(a);
    a = ADMIN(RESET, "{}", 0, NULL);
    CHECK_INT(tu_jint(a, "Accounts"), 0);
    json_decref(a);
    free(empty);
    ADMIN_CODE(EXPORT, "{\"IncludeStatus\":1}", 70402, "IncludeStatus");

    free(e1);
    free(e2);
    free(p1);
    free(p2);
    free(p3);
    free(p4);
    TIMUninit();
}

/* Subscribers learn of the import's changes through the usual callbacks. */
static void test_import_notifies(void) {
    INIT(NULL, NULL);
    tu_import("friend");
    TU_LOGIN_OK("watch");
    tu_ev info;
    tu_ev_init(&info);
    TIMSetUserInfoChangedCallback(tu_ev_cb, &info);
    TU_EXPECT(TIMSubscribeUserInfo, "[\"friend\"]", 0, NULL);
    char* snap = snap_of("[{\"UserID\":\"friend\",\"Profile\":{\"Tag_Profile_IM_Nick\":\"New\"}},{\"UserID\":\"watch\"}]");
    CHECK_INT(IMPORT_SNAP(snap, 0, NULL), 2);
    CHECK(tu_ev_wait(&info, 0, "user_profile_identifier", "friend", "user_profile_nick_name", "New", 0, NULL, 5000) >= 0);
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_Logined); /* watch stays: its session goes on */
    TIMSetUserInfoChangedCallback(NULL, NULL);
    tu_ev_free(&info);
    free(snap);
    TU_LOGOUT_OK();
    TIMUninit();
}

/* ---- snapshots: bad ones change nothing ------------------------------------------------------ */

typedef struct bad_case {
    const char* accounts; /* the Accounts array text, or NULL: `whole` is the snapshot */
    const char* whole;
    int code;
    const char* desc_has;
} bad_case;

static const bad_case k_bad[] = {
    {NULL, "{\"Format\":\"other\",\"Version\":1,\"Accounts\":[]}", 70402, "Format"},
    {NULL, "{\"Version\":1,\"Accounts\":[]}", 70402, "Format"},
    {NULL, "{\"Format\":\"timref-world\",\"Version\":2,\"Accounts\":[]}", 70402, "Version"},
    {NULL, "{\"Format\":\"timref-world\",\"Version\":\"1\",\"Accounts\":[]}", 70402, "Version"},
    {NULL, "{\"Format\":\"timref-world\",\"Version\":1}", 70402, "Accounts"},
    {NULL, "{\"Format\":\"timref-world\",\"Version\":1,\"Accounts\":{}}", 70402, "Accounts"},
    {NULL, "{\"Format\":\"timref-world\",\"Version\":1,\"Accounts\":[],\"Extra\":1}", 70402, "Extra"},
    {NULL, "{\"Format\":\"timref-world\",\"Version\":1,\"SDKAppID\":-1,\"Accounts\":[]}", 70402, "SDKAppID"},
    {NULL, "[]", 70402, "Snapshot"},
    {"[{\"UserID\":\"ok\"},7]", NULL, 70402, "Accounts[1]: not an object"},
    {"[{\"UserID\":\"ok\"},{\"UserID\":\"\"}]", NULL, 70402, "Accounts[1]: UserID"},
    {"[{\"UserID\":\"ok\"},{\"UserID\":\"123456789012345678901234567890123\"}]", NULL, 70402, "Accounts[1]"},
    {"[{\"Profile\":{}}]", NULL, 70402, "Accounts[0]: UserID"},
    {"[{\"UserID\":\"a\",\"Nick\":\"x\"}]", NULL, 70402, "Accounts[0] (UserID \"a\"): unknown key \"Nick\""},
    {"[{\"UserID\":\"a\",\"Profile\":[]}]", NULL, 70402, "Profile must be an object"},
    {"[{\"UserID\":\"a\"},{\"UserID\":\"b\",\"Profile\":{\"Tag_Profile_IM_Gender\":7}}]", NULL, 40605,
     "Accounts[1] (UserID \"b\"): Tag_Profile_IM_Gender"},
    {"[{\"UserID\":\"a\",\"Profile\":{\"Tag_Profile_IM_Gender\":\"Gender_Type_Robot\"}}]", NULL, 40605, "Robot"},
    {"[{\"UserID\":\"a\",\"Profile\":{\"Tag_Profile_IM_AllowType\":0}}]", NULL, 40605, "AllowType"},
    {"[{\"UserID\":\"a\",\"Profile\":{\"Tag_Profile_IM_Level\":4294967296}}]", NULL, 40605, "Level"},
    {"[{\"UserID\":\"a\",\"Profile\":{\"Tag_Profile_IM_Nick\":5}}]", NULL, 40610, "Tag_Profile_IM_Nick"},
    {"[{\"UserID\":\"a\",\"Profile\":{\"Tag_Profile_IM_Level\":\"3\"}}]", NULL, 40610, "Tag_Profile_IM_Level"},
    {"[{\"UserID\":\"a\",\"Profile\":{\"Tag_Profile_IM_Bogus\":\"x\"}}]", NULL, 40009, "Tag_Profile_IM_Bogus"},
    {"[{\"UserID\":\"a\",\"Profile\":{\"Tag_Profile_Custom_TooLongKey\":\"x\"}}]", NULL, 9001, "TooLongKey"},
    {"[{\"UserID\":\"a\",\"Profile\":{\"Tag_Profile_Custom_X\":3}}]", NULL, 40610, "Accounts[0]"},
    {"[{\"UserID\":\"a\",\"LastUpdated\":-1}]", NULL, 70402, "LastUpdated"},
    {"[{\"UserID\":\"a\",\"LastUpdated\":1.5}]", NULL, 70402, "LastUpdated"},
    {"[{\"UserID\":\"a\",\"CustomStatus\":7}]", NULL, 6017, "CustomStatus"},
    {"[{\"UserID\":\"a\",\"Status\":{\"Type\":\"Away\"}}]", NULL, 70402, "Status.Type"},
    {"[{\"UserID\":\"a\",\"Status\":\"Online\"}]", NULL, 70402, "Status"},
    {"[{\"UserID\":\"a\",\"Status\":{\"Type\":\"Online\"}}]", NULL, 70402, "Devices"},
    {"[{\"UserID\":\"a\",\"Status\":{\"Type\":\"Online\",\"Devices\":[\"\"]}}]", NULL, 70402, "Devices[0]"},
    {"[{\"UserID\":\"a\",\"Status\":{\"Type\":\"Offline\",\"Devices\":[\"x\"]}}]", NULL, 70402, "Devices"},
    {"[{\"UserID\":\"a\",\"Status\":{\"Type\":\"Online\",\"Devices\":[\"x\"],\"More\":1}}]", NULL, 70402, "Status"},
    {"[{\"UserID\":\"a\"},{\"UserID\":\"b\"},{\"UserID\":\"a\"}]", NULL, 70402,
     "Accounts[2] (UserID \"a\"): UserID given twice (first at Snapshot.Accounts[0])"},
    /* the first bad entry is named, whichever kind it is */
    {"[{\"UserID\":\"a\"},{\"UserID\":\"a\"},{\"UserID\":\"c\",\"Profile\":{\"Tag_Profile_IM_Gender\":9}}]", NULL,
     70402, "Accounts[1]"},
    {"[{\"UserID\":\"a\"},{\"UserID\":\"c\",\"Profile\":{\"Tag_Profile_IM_Gender\":9}},{\"UserID\":\"a\"}]", NULL,
     40605, "Accounts[1]"},
};

static void test_bad_snapshots(void) {
    INIT(NULL, NULL);
    make_world();
    char* before = EXPORT_TEXT(true);
    long long events = 0;
    json_t* a = ADMIN(EVENTS, "{\"Limit\":1}", 0, NULL);
    events = tu_jint(a, "Last");
    json_decref(a);
    for (size_t i = 0; i < sizeof k_bad / sizeof k_bad[0]; i++) {
        char* snap = k_bad[i].accounts ? snap_of(k_bad[i].accounts) : tu_strdup(k_bad[i].whole);
        char* body = import_body(snap);
        th_call* c = tu_admin(IMPORT, body);
        char what[96];
        snprintf(what, sizeof what, "bad snapshot %zu", i);
        tu_expect_at(__FILE__, __LINE__, what, c, k_bad[i].code, k_bad[i].desc_has);
        th_call_free(c);
        free(body);
        free(snap);
    }
    /* 21 custom fields: one more than a user may hold */
    json_t* prof = json_object();
    for (int k = 0; k < 21; k++) {
        char key[40];
        snprintf(key, sizeof key, "Tag_Profile_Custom_K%d", k);
        json_object_set_new(prof, key, json_string("v"));
    }
    char* acc = tu_dump(json_pack("[{sssO}]", "UserID", "many", "Profile", prof));
    json_decref(prof);
    char* snap = snap_of(acc);
    IMPORT_SNAP(snap, 6017, "Accounts[0] (UserID \"many\")");
    free(snap);
    free(acc);
    /* a value over 500 bytes, and a custom status over 100 */
    char* longv = tu_repeat('n', 501);
    acc = tu_dump(json_pack("[{s:s},{s:s,s:{s:s}}]", "UserID", "fine", "UserID", "long", "Profile",
                            "Tag_Profile_Custom_Bio", longv));
    snap = snap_of(acc);
    IMPORT_SNAP(snap, 40601, "Accounts[1] (UserID \"long\")");
    free(snap);
    free(acc);
    longv[101] = 0;
    acc = tu_dump(json_pack("[{s:s,s:s}]", "UserID", "st", "CustomStatus", longv));
    snap = snap_of(acc);
    IMPORT_SNAP(snap, 6017, "CustomStatus");
    free(snap);
    free(acc);
    free(longv);
    /* no Snapshot at all */
    ADMIN_CODE(IMPORT, "{}", 70402, "Snapshot");
    /* JSON the library refuses whole: too deep, a key twice */
    char* deep = NULL;
    char* open = tu_repeat('[', 70);
    char* close = tu_repeat(']', 70);
    if (asprintf(&deep, "{\"Snapshot\":%s%s}", open, close) < 0) abort();
    th_call* c = tu_admin(IMPORT, deep);
    CHECK_INT(c->code, TIM_ERR_JSON);
    th_call_free(c);
    free(deep);
    free(open);
    free(close);
    c = tu_admin(IMPORT, "{\"Snapshot\":{\"Format\":\"timref-world\",\"Format\":\"timref-world\"}}");
    CHECK_INT(c->code, TIM_ERR_JSON);
    th_call_free(c);

    /* nothing changed: the same world, no event */
    char* after = EXPORT_TEXT(true);
    CHECK_STR(after, before);
    a = ADMIN(EVENTS, "{\"Limit\":1}", 0, NULL);
    CHECK_INT(tu_jint(a, "Last"), events);
    json_decref(a);
    free(after);
    free(before);
    TIMUninit();
}

/* ---- the import's own size limit ------------------------------------------------------------- */

static void test_import_size(void) {
    INIT(NULL, NULL);
    /* a snapshot of over 1 MiB, the limit of every other body, is taken */
    size_t n = 1100;
    json_t* accounts = json_array();
    char* bio = tu_repeat('b', 500);
    for (size_t i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "big%05zu", i);
        json_array_append_new(accounts, json_pack("{sss{ssss}}", "UserID", id, "Profile", "Tag_Profile_Custom_Bio",
                                                  bio, "Tag_Profile_IM_SelfSignature", bio));
    }
    free(bio);
    char* acc = tu_dump(accounts);
    char* snap = snap_of(acc);
    free(acc);
    CHECK(strlen(snap) > (size_t)1 << 20);
    CHECK_INT(IMPORT_SNAP(snap, 0, NULL), (long long)n);
    json_t* a = list_page("{\"Limit\":1}");
    CHECK_INT(tu_jint(a, "Total"), (long long)n);
    json_decref(a);
    char* out = EXPORT_TEXT(false);
    CHECK(strlen(out) > (size_t)1 << 20);
    free(out);
    /* every other command keeps the 1 MiB limit */
    char* body = import_body(snap);
    th_call* c = tu_admin(MIMPORT, body);
    CHECK_INT(c->code, ERR_SDK_NET_PKG_SIZE_LIMIT);
    th_call_free(c);
    free(body);
    free(snap);
    /* beyond the import's own limit: 9522 naming it, nothing read */
    size_t big = (size_t)TIMREF_WORLD_IMPORT_MAX_LEN + 16;
    char* huge = malloc(big + 1);
    if (!huge) abort();
    memset(huge, ' ', big);
    memcpy(huge, "{\"Snapshot\":", 12);
    huge[big - 1] = '}';
    huge[big] = 0;
    c = tu_admin(IMPORT, huge);
    CHECK_INT(c->code, ERR_SDK_NET_PKG_SIZE_LIMIT);
    CHECK_HAS(c->desc, "256 MiB");
    th_call_free(c);
    free(huge);
    a = list_page("{\"Limit\":1}");
    CHECK_INT(tu_jint(a, "Total"), (long long)n);
    json_decref(a);
    TIMUninit();
}

/* ---- live sessions of removed accounts, in another process ------------------------------------ */

static int g_kicked;
static pthread_mutex_t g_kick_mu = PTHREAD_MUTEX_INITIALIZER;

static void on_kicked(const void* ud) {
    (void)ud;
    pthread_mutex_lock(&g_kick_mu);
    g_kicked++;
    pthread_mutex_unlock(&g_kick_mu);
}

static int kicked(void) {
    pthread_mutex_lock(&g_kick_mu);
    int n = g_kicked;
    pthread_mutex_unlock(&g_kick_mu);
    return n;
}

static int wait_kicked(int n, int timeout_ms) {
    for (int w = 0; w < timeout_ms && kicked() < n; w += 5) th_sleep_ms(5);
    return kicked();
}

static bool wait_file(const char* path, int timeout_ms) {
    for (int w = 0; w < timeout_ms; w += 5) {
        if (access(path, F_OK) == 0) return true;
        th_sleep_ms(5);
    }
    return access(path, F_OK) == 0;
}

static char* ready_path(const char* dir, const char* id) {
    char* p = NULL;
    if (asprintf(&p, "%s.ready-%s", dir, id) < 0) abort();
    return p;
}

/* child DIR ID: log in as ID, say so, and wait to be kicked (then logged out here too). */
static int child_main(const char* dir, const char* id) {
    INIT(dir, "ChildBox");
    TIMSetKickedOfflineCallback(on_kicked, NULL);
    TU_LOGIN_OK(id);
    char* ready = ready_path(dir, id);
    FILE* f = fopen(ready, "w");
    if (f) fclose(f);
    free(ready);
    CHECK_INT(wait_kicked(1, 30000), 1);
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_UnLogined);
    TIMSetKickedOfflineCallback(NULL, NULL);
    TIMUninit();
    return th_finish();
}

static pid_t start_child(const char* dir, const char* id) {
    pid_t pid = tu_spawn_child("child", dir, id);
    char* ready = ready_path(dir, id);
    CHECK(wait_file(ready, 30000));
    free(ready);
    return pid;
}

static void check_child_at(int line, pid_t pid) {
    int st = tu_wait_child(pid, 60000);
    th_check(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, __FILE__, line, "the child passed",
             "wait status %d", st);
}

static void test_sessions_kicked(void) {
    char* dir = th_tempdir("world-kick");
    INIT(dir, "ParentBox");
    TIMSetKickedOfflineCallback(on_kicked, NULL);
    tu_import("keep");

    /* import: the other process's user is not in the snapshot: its session ends there */
    pid_t pid = start_child(dir, "gone");
    TU_LOGIN_OK("keep");
    char* snap = snap_of("[{\"UserID\":\"keep\",\"Profile\":{\"Tag_Profile_IM_Nick\":\"K\"}}]");
    CHECK_INT(IMPORT_SNAP(snap, 0, NULL), 1);
    check_child_at(__LINE__, pid);
    CHECK(!exists("gone"));
    CHECK_INT(kicked(), 0); /* keep stays logged in here */
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_Logined);
    TU_EXPECT_STATUS_TYPE("keep", kTIMUserStatusType_Online);

    /* reset: every session ends, the other process's and this one's */
    pid = start_child(dir, "other");
    json_t* a = ADMIN(RESET, "{}", 0, NULL);
    CHECK_INT(tu_jint(a, "Accounts"), 2);
    json_decref(a);
    check_child_at(__LINE__, pid);
    CHECK_INT(wait_kicked(1, 10000), 1);
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_UnLogined);
    a = list_page("{}");
    CHECK_INT(tu_jint(a, "Total"), 0);
    json_decref(a);
    free(snap);
    TIMSetKickedOfflineCallback(NULL, NULL);
    TIMUninit();
    th_rmdir(dir);
    free(dir);
}

int main(int argc, char** argv) {
    if (argc >= 4 && !strcmp(argv[1], "child")) return child_main(argv[2], argv[3]);
    test_account_list();
    test_events();
    test_round_trip();
    test_import_notifies();
    test_bad_snapshots();
    test_import_size();
    test_sessions_kicked();
    return th_finish();
}
