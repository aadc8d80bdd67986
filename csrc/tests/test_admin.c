/*
 * test_admin.c - docs/contract.md 3.8 (TIMRefAdminRequest) and docs/behaviour.md
 * "Admin surface".
 */
#include <stdlib.h>

#include "th_util.h"

#define APPID 1405
#define IMPORT "v4/im_open_login_svc/account_import"
#define MIMPORT "v4/im_open_login_svc/multiaccount_import"
#define DELETE "v4/im_open_login_svc/account_delete"
#define PSET "v4/profile/portrait_set"
#define PGET "v4/profile/portrait_get"
#define QUERY "v4/openim/query_online_status"
#define SETST "ref/set_user_status"

/*
 * Run an admin request; check the answer's shape (ActionStatus, ErrorCode,
 * ErrorInfo; code == ErrorCode) and whether it succeeded.  Returns the
 * decoded answer (caller decrefs).
 */
static json_t* admin_at(int line, const char* api, const char* body, int want_ok) {
    th_call* c = tu_admin(api, body);
    json_t* a = tu_parse(c->json);
    char what[160];
    snprintf(what, sizeof what, "%s %.100s", api, body);
    if (want_ok)
        th_check(c->code == 0, __FILE__, line, what, "code %d desc \"%s\" json %.200s", (int)c->code, c->desc,
                 c->json);
    else
        th_check(c->code > 0, __FILE__, line, what, "want a failure, got code %d", (int)c->code);
    if (c->code >= 0) {
        th_check(json_is_object(a), __FILE__, line, "answer is an object", "%s: %.200s", what, c->json);
        const char* st = tu_jstr(a, "ActionStatus");
        th_check(st && !strcmp(st, c->code == 0 ? "OK" : "FAIL"), __FILE__, line, "ActionStatus", "%s: %s",
                 what, st ? st : "(missing)");
        th_check(json_is_integer(json_object_get(a, "ErrorCode")) && tu_jint(a, "ErrorCode") == c->code,
                 __FILE__, line, "ErrorCode equals the callback code", "%s: %lld vs %d", what,
                 tu_jint(a, "ErrorCode"), (int)c->code);
        th_check(json_is_string(json_object_get(a, "ErrorInfo")), __FILE__, line, "ErrorInfo is a string", "%s",
                 what);
        if (c->code != 0)
            th_check(strlen(tu_jstr(a, "ErrorInfo") ? tu_jstr(a, "ErrorInfo") : "") > 0 || strlen(c->desc) > 0,
                     __FILE__, line, "a failure says why", "%s", what);
    }
    th_call_free(c);
    return a;
}
#define ADMIN_OK(api, body) json_decref(admin_at(__LINE__, (api), (body), 1))
#define ADMIN_FAIL(api, body) json_decref(admin_at(__LINE__, (api), (body), 0))

/* Does the account exist?  Its profile reads with code 0, or 40003 when it does not. */
#define EXPECT_EXISTS(id, yes) json_decref(TU_PROFILE((id), (yes) ? 0 : 40003))

static json_t* profile(const char* id) { return TU_PROFILE(id, 0); }

/*
 * id's status reads (code 0) with this type and custom status, and lists exactly the one
 * device `device`, or none when device is NULL.
 */
static void expect_status_at(int line, const char* id, int type, const char* custom, const char* device) {
    json_t* s = tu_read_at(__FILE__, line, tu_get_status, id, 0);
    th_check(tu_jint(s, "user_status_status_type") == type, __FILE__, line, "user_status_status_type",
             "%s: %lld, want %d", id, tu_jint(s, "user_status_status_type"), type);
    const char* cs = tu_jstr(s, "user_status_custom_status");
    th_check(cs && !strcmp(cs, custom), __FILE__, line, "user_status_custom_status", "%s: \"%s\", want \"%s\"", id,
             cs ? cs : "(null)", custom);
    json_t* dev = json_object_get(s, "user_status_online_devices");
    if (device) {
        th_check(json_is_array(dev) && json_array_size(dev) == 1, __FILE__, line, "one online device", "%s", id);
        const char* d = json_string_value(json_array_get(dev, 0));
        th_check(d && !strcmp(d, device), __FILE__, line, "the device", "%s: \"%s\", want \"%s\"", id,
                 d ? d : "(null)", device);
    } else {
        th_check(json_array_size(dev) == 0, __FILE__, line, "no online devices", "%s: %zu", id,
                 json_array_size(dev));
    }
    json_decref(s);
}
#define EXPECT_STATUS(id, type, custom, device) expect_status_at(__LINE__, (id), (type), (custom), (device))

static void test_import(void) {
    ADMIN_OK(IMPORT, "{\"UserID\":\"a1\",\"Nick\":\"A One\",\"FaceUrl\":\"http://x/a.png\"}");
    ADMIN_OK(IMPORT, "{\"UserID\":\"a2\"}");
    ADMIN_FAIL(IMPORT, "{}");
    ADMIN_FAIL(IMPORT, "{\"UserID\":\"\"}");
    ADMIN_FAIL(IMPORT, "{\"UserID\":5}");
    ADMIN_FAIL(IMPORT, "{\"UserID\":\"123456789012345678901234567890123\"}");
    ADMIN_FAIL(IMPORT, "{\"UserID\":\"caf\xc3\xa9\"}");
    ADMIN_FAIL(IMPORT, "{\"UserID\":\"bad1\",\"Nick\":5}");
    char* n501 = tu_repeat('n', 501);
    char* body = tu_dump(json_pack("{s:s,s:s}", "UserID", "bad2", "Nick", n501));
    ADMIN_FAIL(IMPORT, body);
    free(body);
    free(n501);
    ADMIN_OK(MIMPORT, "{\"Accounts\":[\"m1\",\"m2\",\"m3\",\"m4\"]}");
    ADMIN_FAIL(MIMPORT, "{}");
    ADMIN_FAIL(MIMPORT, "{\"Accounts\":\"m5\"}");
    ADMIN_FAIL(MIMPORT, "{\"Accounts\":[5]}");
}

static void test_import_results(void) {
    EXPECT_EXISTS("a1", 1);
    EXPECT_EXISTS("a2", 1);
    EXPECT_EXISTS("m1", 1);
    EXPECT_EXISTS("m4", 1);
    EXPECT_EXISTS("bad1", 0);
    EXPECT_EXISTS("bad2", 0);
    EXPECT_EXISTS("m5", 0);
    json_t* p = profile("a1");
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), "A One");
    CHECK_STR(tu_jstr(p, "user_profile_face_url"), "http://x/a.png");
    json_decref(p);
    /* never logged in: UnLogined, no devices */
    TU_EXPECT_STATUS_TYPE("m1", 3);
}

static void test_portrait_set(void) {
    ADMIN_OK(PSET, "{\"From_Account\":\"m2\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\",\"Value\":\"M Two\"},"
                   "{\"Tag\":\"Tag_Profile_IM_Gender\",\"Value\":\"Gender_Type_Female\"}]}");
    json_t* p = profile("m2");
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), "M Two");
    CHECK_INT(tu_jint(p, "user_profile_gender"), 2);
    json_decref(p);
    ADMIN_OK(PSET, "{\"From_Account\":\"m2\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Gender\",\"Value\":\"Gender_Type_Male\"}]}");
    p = profile("m2");
    CHECK_INT(tu_jint(p, "user_profile_gender"), 1);
    json_decref(p);
    /* one tag at a time, so that each failure names its tag */
    struct {
        const char* tag;
        const char* value_json;
        const char* field;
        const char* sval;
        long long ival;
    } cases[] = {
        {"Tag_Profile_IM_Image", "\"http://x/m2.png\"", "user_profile_face_url", "http://x/m2.png", 0},
        {"Tag_Profile_IM_SelfSignature", "\"hello there\"", "user_profile_self_signature", "hello there", 0},
        {"Tag_Profile_IM_Location", "\"Earth\"", "user_profile_location", "Earth", 0},
        {"Tag_Profile_IM_Level", "7", "user_profile_level", NULL, 7},
        {"Tag_Profile_IM_Role", "3", "user_profile_role", NULL, 3},
        {"Tag_Profile_IM_BirthDay", "20000101", "user_profile_birthday", NULL, 20000101},
        {"Tag_Profile_IM_Language", "1", "user_profile_language", NULL, 1},
        {"Tag_Profile_IM_MsgSettings", "1", "user_profile_message_settings", NULL, 1},
        {"Tag_Profile_IM_AdminForbidType", "\"AdminForbid_Type_SendOut\"", "user_profile_admin_forbid_type", NULL, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"From_Account\":\"m2\",\"ProfileItem\":[{\"Tag\":\"%s\",\"Value\":%s}]}",
                 cases[i].tag, cases[i].value_json);
        json_decref(admin_at(__LINE__, PSET, body, 1));
        p = profile("m2");
        if (cases[i].sval) {
            const char* got = tu_jstr(p, cases[i].field);
            th_check(got && !strcmp(got, cases[i].sval), __FILE__, __LINE__, "portrait_set tag applied",
                     "%s -> %s = \"%s\"", cases[i].tag, cases[i].field, got ? got : "(null)");
        } else {
            th_check(tu_jint(p, cases[i].field) == cases[i].ival, __FILE__, __LINE__, "portrait_set tag applied",
                     "%s -> %s = %lld", cases[i].tag, cases[i].field, tu_jint(p, cases[i].field));
        }
        json_decref(p);
    }
    /* AllowType: hidden from other users, visible through portrait_get */
    ADMIN_OK(PSET, "{\"From_Account\":\"m2\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_AllowType\",\"Value\":\"AllowType_Type_DenyAny\"}]}");
    p = profile("m2");
    CHECK_INT(tu_jint(p, "user_profile_add_permission"), 0);
    json_decref(p);
    /* custom tag */
    ADMIN_OK(PSET, "{\"From_Account\":\"m2\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_Custom_abc\",\"Value\":\"cv\"}]}");
    p = profile("m2");
    json_t* arr = json_object_get(p, "user_profile_custom_string_array");
    int found = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t* e = json_array_get(arr, i);
        const char* k = tu_jstr(e, "user_profile_custom_string_info_key");
        const char* v = tu_jstr(e, "user_profile_custom_string_info_value");
        if (k && v && !strcmp(k, "Tag_Profile_Custom_abc") && !strcmp(v, "cv")) found = 1;
    }
    CHECK(found);
    json_decref(p);

    /* bad bodies: refused, nothing changed */
    ADMIN_FAIL(PSET, "{\"From_Account\":\"nobody\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\",\"Value\":\"x\"}]}");
    EXPECT_EXISTS("nobody", 0);
    ADMIN_FAIL(PSET, "{\"From_Account\":\"m2\"}");
    ADMIN_FAIL(PSET, "{\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\",\"Value\":\"x\"}]}");
    ADMIN_FAIL(PSET, "{\"From_Account\":\"m2\",\"ProfileItem\":\"x\"}");
    ADMIN_FAIL(PSET, "{\"From_Account\":\"m2\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Bogus\",\"Value\":\"x\"}]}");
    ADMIN_FAIL(PSET, "{\"From_Account\":\"m2\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\",\"Value\":\"Changed\"},"
                     "{\"Tag\":\"Tag_Profile_IM_Gender\",\"Value\":\"Gender_Type_Bad\"}]}");
    ADMIN_FAIL(PSET, "{\"From_Account\":\"m2\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Nick\",\"Value\":5}]}");
    ADMIN_FAIL(PSET, "{\"From_Account\":\"m2\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_Custom_bad-1\",\"Value\":\"x\"}]}");
    ADMIN_FAIL(PSET, "{\"From_Account\":\"m2\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Level\",\"Value\":-1}]}");
    char* n501 = tu_repeat('n', 501);
    char* body = tu_dump(json_pack("{s:s,s:[{s:s,s:s}]}", "From_Account", "m2", "ProfileItem", "Tag",
                                   "Tag_Profile_IM_Nick", "Value", n501));
    ADMIN_FAIL(PSET, body);
    free(body);
    free(n501);
    p = profile("m2");
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), "M Two");
    CHECK_INT(tu_jint(p, "user_profile_gender"), 1);
    CHECK_INT(tu_jint(p, "user_profile_level"), 7);
    json_decref(p);
}

static const char* item_value_str(json_t* items, const char* tag) {
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t* e = json_array_get(items, i);
        const char* t = tu_jstr(e, "Tag");
        if (t && !strcmp(t, tag)) {
            json_t* v = json_object_get(e, "Value");
            return json_is_string(v) ? json_string_value(v) : "(not a string)";
        }
    }
    return NULL;
}

static void test_portrait_get(void) {
    json_t* a = admin_at(__LINE__, PGET,
                         "{\"To_Account\":[\"m2\",\"a1\"],\"TagList\":[\"Tag_Profile_IM_Nick\","
                         "\"Tag_Profile_IM_AllowType\",\"Tag_Profile_IM_Gender\"]}",
                         1);
    json_t* items = json_object_get(a, "UserProfileItem");
    CHECK(json_is_array(items));
    CHECK_INT(json_array_size(items), 2);
    for (size_t i = 0; i < json_array_size(items); i++) {
        json_t* it = json_array_get(items, i);
        const char* who = tu_jstr(it, "To_Account");
        CHECK(who != NULL);
        CHECK_INT(tu_jint(it, "ResultCode"), 0);
        CHECK(json_is_string(json_object_get(it, "ResultInfo")));
        json_t* pi = json_object_get(it, "ProfileItem");
        CHECK(json_is_array(pi));
        if (who && !strcmp(who, "m2")) {
            CHECK_STR(item_value_str(pi, "Tag_Profile_IM_Nick"), "M Two");
            CHECK_STR(item_value_str(pi, "Tag_Profile_IM_AllowType"), "AllowType_Type_DenyAny");
            CHECK_STR(item_value_str(pi, "Tag_Profile_IM_Gender"), "Gender_Type_Male");
        } else if (who) {
            CHECK_STR(who, "a1");
            CHECK_STR(item_value_str(pi, "Tag_Profile_IM_Nick"), "A One");
        }
    }
    if (json_array_size(items) == 2) {
        CHECK_STR(tu_jstr(json_array_get(items, 0), "To_Account"), "m2");
        CHECK_STR(tu_jstr(json_array_get(items, 1), "To_Account"), "a1");
    }
    json_decref(a);
    /* an unknown account is reported as not found (per item or for the whole call) */
    th_call* c = tu_admin(PGET, "{\"To_Account\":[\"nobody\"],\"TagList\":[\"Tag_Profile_IM_Nick\"]}");
    json_t* ans = tu_parse(c->json);
    json_t* it0 = json_array_get(json_object_get(ans, "UserProfileItem"), 0);
    th_check(c->code != 0 || (it0 && tu_jint(it0, "ResultCode") != 0), __FILE__, __LINE__,
             "portrait_get of an unknown account", "code %d json %.200s", (int)c->code, c->json);
    json_decref(ans);
    th_call_free(c);
    ADMIN_FAIL(PGET, "{}");
    ADMIN_FAIL(PGET, "{\"To_Account\":\"m2\",\"TagList\":[\"Tag_Profile_IM_Nick\"]}");
}

static const char* online_of(json_t* ans, const char* id) {
    json_t* r = json_object_get(ans, "QueryResult");
    for (size_t i = 0; i < json_array_size(r); i++) {
        const char* who = tu_jstr(json_array_get(r, i), "To_Account");
        if (who && !strcmp(who, id)) return tu_jstr(json_array_get(r, i), "Status");
    }
    return NULL;
}

/* query_online_status of id alone answers `state`. */
static void expect_online_at(int line, const char* id, const char* state) {
    char* body = tu_dump(json_pack("{s:[s]}", "To_Account", id));
    json_t* a = admin_at(line, QUERY, body, 1);
    const char* got = online_of(a, id);
    th_check(got && !strcmp(got, state), __FILE__, line, "query_online_status", "%s: \"%s\", want \"%s\"", id,
             got ? got : "(null)", state);
    json_decref(a);
    free(body);
}
#define EXPECT_ONLINE(id, state) expect_online_at(__LINE__, (id), (state))

static void test_status_admin(void) {
    /* viewer is logged in */
    json_t* a = admin_at(__LINE__, QUERY, "{\"To_Account\":[\"viewer\",\"m1\"]}", 1);
    CHECK(json_is_array(json_object_get(a, "QueryResult")));
    CHECK_STR(online_of(a, "viewer"), "Online");
    CHECK_STR(online_of(a, "m1"), "Offline");
    json_decref(a);
    ADMIN_FAIL(QUERY, "{}");
    ADMIN_FAIL(QUERY, "{\"To_Account\":\"m1\"}");

    ADMIN_OK(SETST, "{\"UserID\":\"m1\",\"StatusType\":1,\"CustomStatus\":\"hi\"}");
    EXPECT_STATUS("m1", 1, "hi", "Linux");
    EXPECT_ONLINE("m1", "Online");

    ADMIN_OK(SETST, "{\"UserID\":\"m1\",\"StatusType\":3}");
    EXPECT_STATUS("m1", 3, "hi", NULL); /* custom status absent: left as it is */
    EXPECT_ONLINE("m1", "Offline");

    ADMIN_OK(SETST, "{\"UserID\":\"m1\",\"StatusType\":2,\"CustomStatus\":\"bye\"}");
    EXPECT_STATUS("m1", 2, "bye", NULL);

    ADMIN_FAIL(SETST, "{\"UserID\":\"m1\",\"StatusType\":0}");
    ADMIN_FAIL(SETST, "{\"UserID\":\"m1\",\"StatusType\":4}");
    ADMIN_FAIL(SETST, "{\"UserID\":\"m1\",\"StatusType\":\"1\"}");
    ADMIN_FAIL(SETST, "{\"UserID\":\"m1\"}");
    ADMIN_FAIL(SETST, "{\"StatusType\":1}");
    ADMIN_FAIL(SETST, "{\"UserID\":\"\",\"StatusType\":1}");
    ADMIN_FAIL(SETST, "{\"UserID\":\"m1\",\"StatusType\":1,\"CustomStatus\":5}");
    char* c101 = tu_repeat('c', 101);
    char* body = tu_dump(json_pack("{s:s,s:i,s:s}", "UserID", "m1", "StatusType", 1, "CustomStatus", c101));
    ADMIN_FAIL(SETST, body);
    free(body);
    free(c101);
    EXPECT_STATUS("m1", 2, "bye", NULL);

    /* a real session keeps its user Online whatever the admin says */
    ADMIN_OK(SETST, "{\"UserID\":\"viewer\",\"StatusType\":3,\"CustomStatus\":\"x\"}");
    TU_EXPECT_STATUS_TYPE("viewer", 1);
}

static void test_delete(void) {
    /* the answer lists each item with its result, in order */
    json_t* a = admin_at(__LINE__, DELETE, "{\"DeleteItem\":[{\"UserID\":\"m3\"},{\"UserID\":\"nobody9\"}]}", 1);
    json_t* items = json_object_get(a, "ResultItem");
    CHECK_INT(json_array_size(items), 2);
    CHECK_STR(tu_jstr(json_array_get(items, 0), "UserID"), "m3");
    CHECK_INT(tu_jint(json_array_get(items, 0), "ResultCode"), 0);
    CHECK_STR(tu_jstr(json_array_get(items, 1), "UserID"), "nobody9");
    CHECK_INT(tu_jint(json_array_get(items, 1), "ResultCode"), 70107);
    json_decref(a);
    ADMIN_OK(DELETE, "{\"DeleteItem\":[{\"UserID\":\"m3\"},{\"UserID\":\"m4\"}]}");
    EXPECT_EXISTS("m3", 0);
    EXPECT_EXISTS("m4", 0);
    json_decref(TU_STATUS("m3", 40003));
    ADMIN_FAIL(DELETE, "{}");
    ADMIN_FAIL(DELETE, "{\"DeleteItem\":\"m1\"}");
    EXPECT_EXISTS("m1", 1);
    /* re-import brings the account back */
    ADMIN_OK(IMPORT, "{\"UserID\":\"m3\"}");
    EXPECT_EXISTS("m3", 1);

    /* deleting the logged-in user ends nothing, but hides the account until re-import */
    ADMIN_OK(DELETE, "{\"DeleteItem\":[{\"UserID\":\"viewer\"}]}");
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_Logined);
    char buf[128];
    TIMGetLoginUserID(buf);
    CHECK_STR(buf, "viewer");
    EXPECT_EXISTS("viewer", 0);
    json_decref(TU_STATUS("viewer", 40003));
    ADMIN_OK(IMPORT, "{\"UserID\":\"viewer\"}");
    EXPECT_EXISTS("viewer", 1);
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_Logined);
}

static void test_unknown_api_and_bodies(void) {
    ADMIN_FAIL("v4/nope/nothing", "{}");
    ADMIN_FAIL("ref/unknown", "{\"UserID\":\"m1\"}");
    ADMIN_FAIL("v4/profile/portrait_set/", "{}");
    TU_ADMIN_EXPECT(IMPORT, "[]", TIM_ERR_JSON);
    TU_ADMIN_EXPECT(IMPORT, "{\"UserID\":", TIM_ERR_JSON);
    TU_ADMIN_EXPECT(NULL, "{}", TIM_ERR_PARAM);
    TU_ADMIN_EXPECT(IMPORT, NULL, TIM_ERR_PARAM);
}

/* Imported account keeps its profile when it logs in. */
static void test_login_of_imported(void) {
    TU_LOGOUT_OK();
    TU_LOGIN_OK("a1");
    json_t* p = profile("a1");
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), "A One");
    json_decref(p);
    TU_LOGOUT_OK();
}

/* ref/user_get: whole profiles (custom fields unnamed) and the exact status, in the order asked. */
static void test_user_get(void) {
    ADMIN_OK(IMPORT, "{\"UserID\":\"ug1\",\"Nick\":\"One\"}");
    ADMIN_OK(IMPORT, "{\"UserID\":\"ug2\"}");
    ADMIN_OK(PSET, "{\"From_Account\":\"ug1\",\"ProfileItem\":[{\"Tag\":\"Tag_Profile_IM_Level\",\"Value\":3},"
                   "{\"Tag\":\"Tag_Profile_Custom_Pet\",\"Value\":\"cat\"}]}");
    ADMIN_OK(SETST, "{\"UserID\":\"ug1\",\"StatusType\":3,\"CustomStatus\":\"away\"}");
    ADMIN_OK(SETST, "{\"UserID\":\"ug2\",\"StatusType\":1}");
    json_t* a = admin_at(__LINE__, "ref/user_get", "{\"UserIDs\":[\"ug2\",\"nobody\",\"ug1\"]}", 1);
    json_t* users = json_object_get(a, "Users");
    CHECK(json_array_size(users) == 2);
    json_t* u2 = json_array_get(users, 0);
    json_t* u1 = json_array_get(users, 1);
    CHECK_STR(tu_jstr(u2, "UserID"), "ug2");
    CHECK_STR(tu_jstr(json_object_get(u2, "Status"), "Type"), "Online");
    CHECK_STR(json_string_value(json_array_get(json_object_get(json_object_get(u2, "Status"), "Devices"), 0)),
              "Linux");
    CHECK_STR(tu_jstr(u1, "UserID"), "ug1");
    CHECK_STR(tu_jstr(json_object_get(u1, "Status"), "Type"), "UnLogined");
    CHECK(json_object_get(json_object_get(u1, "Status"), "Devices") == NULL);
    CHECK_STR(tu_jstr(u1, "CustomStatus"), "away");
    json_t* prof = json_object_get(u1, "Profile");
    CHECK_STR(tu_jstr(prof, "Tag_Profile_IM_Nick"), "One");
    CHECK(tu_jint(prof, "Tag_Profile_IM_Level") == 3);
    CHECK_STR(tu_jstr(prof, "Tag_Profile_Custom_Pet"), "cat");
    json_t* errs = json_object_get(a, "ErrorList");
    CHECK(json_array_size(errs) == 1);
    CHECK_STR(tu_jstr(json_array_get(errs, 0), "UserID"), "nobody");
    CHECK(tu_jint(json_array_get(errs, 0), "ErrorCode") == 70107);
    json_decref(a);

    ADMIN_FAIL("ref/user_get", "{}");
    ADMIN_FAIL("ref/user_get", "{\"UserIDs\":[]}");
    ADMIN_FAIL("ref/user_get", "{\"UserIDs\":\"ug1\"}");
    ADMIN_FAIL("ref/user_get", "{\"UserIDs\":[\"ug1\",5]}");
    ADMIN_FAIL("ref/user_get", "{\"UserIDs\":[\"\"]}");
    json_t* many = json_array();
    for (int i = 0; i < 101; i++) json_array_append_new(many, json_string("ug1"));
    char* body = tu_dump(json_pack("{so}", "UserIDs", many));
    ADMIN_FAIL("ref/user_get", body);
    free(body);
}

int main(void) {
    TU_ADMIN_EXPECT(IMPORT, "{\"UserID\":\"early\"}", 6013);
    CHECK_INT(TIMInit(APPID, NULL), TIM_SUCC);
    /* no login needed for the admin surface */
    test_import();
    test_unknown_api_and_bodies();
    TU_LOGIN_OK("viewer");
    test_import_results();
    test_portrait_set();
    test_portrait_get();
    test_status_admin();
    test_delete();
    test_login_of_imported();
    test_user_get();
    CHECK_INT(TIMUninit(), TIM_SUCC);
    return th_finish();
}
