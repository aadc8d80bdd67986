/*
 * test_profile.c - docs/contract.md 3.4 (TIMProfileGetUserProfileList,
 * TIMProfileModifySelfUserProfile) and docs/behaviour.md "Profiles".
 */
#include <stdlib.h>
#include <time.h>

#include "th_util.h"

#define APPID 1403
#define ARR_KEY "friendship_getprofilelist_param_identifier_array"
#define CUSTOM "user_profile_item_custom_string_array"
#define CKEY "user_profile_custom_string_info_key"
#define CVAL "user_profile_custom_string_info_value"

static tu_ev ev_self, ev_info;
static char* g_me = NULL; /* who is logged in */

/* ---------------------------------------------------------------------------
 * helpers
 * ------------------------------------------------------------------------- */

static json_t* my_profile(void) { return TU_PROFILE(g_me, 0); }

static void login_as(const char* id) {
    if (g_me) {
        TU_LOGOUT_OK();
        free(g_me);
    }
    g_me = tu_strdup(id);
    TU_LOGIN_OK(id);
}

/* Modify with `param`; must succeed. */
static void mod_ok_at(int line, const char* param) {
    th_call* c = tu_run(TIMProfileModifySelfUserProfile, param);
    tu_expect_at(__FILE__, line, "modify", c, 0, NULL);
    if (c->code != 0) fprintf(stderr, "  param was %.300s\n", param);
    th_check(c->json && !strcmp(c->json, ""), __FILE__, line, "modify json_params \"\"", "\"%s\"",
             c->json ? c->json : "(null)");
    th_call_free(c);
}
#define MOD_OK(param) mod_ok_at(__LINE__, (param))

/*
 * Modify with `param`; must fail with `code`, name `key` in desc (when not
 * NULL) or else, when any_a is not NULL, any of any_a, any_b or the custom
 * array's key (custom-entry errors), and change nothing (the profile read
 * before equals the one after).
 */
static void mod_reject_at(int line, const char* param, int code, const char* key, const char* any_a,
                          const char* any_b) {
    json_t* before = my_profile();
    th_call* c = tu_run(TIMProfileModifySelfUserProfile, param);
    char what[160];
    snprintf(what, sizeof what, "modify %.120s", param);
    tu_expect_at(__FILE__, line, what, c, code, key);
    if (any_a) tu_has_any_at(__FILE__, line, c->desc, any_a, any_b, CUSTOM, (const char*)NULL);
    th_call_free(c);
    json_t* after = my_profile();
    th_check(before && after && json_equal(before, after), __FILE__, line, "rejected modify changed nothing",
             "%.100s", param);
    json_decref(before);
    json_decref(after);
}
#define MOD_REJECT(param, code, key) mod_reject_at(__LINE__, (param), (code), (key), NULL, NULL)
/* Like MOD_REJECT, but desc may name any of several words (custom-entry errors). */
#define MOD_REJECT_ANY(param, code, a, b) mod_reject_at(__LINE__, (param), (code), NULL, (a), (b))

/* {"<key>": <value json>} */
static char* one_item(const char* key, json_t* value) {
    json_t* o = json_object();
    json_object_set_new(o, key, value);
    return tu_dump(o);
}

/* Modify the integer item to v; must succeed, and my profile's field reads v. */
static void mod_int_ok_at(int line, const char* item, const char* field, long long v) {
    char* s = one_item(item, json_integer(v));
    mod_ok_at(line, s);
    json_t* p = my_profile();
    th_check(tu_jint(p, field) == v, __FILE__, line, field, "%lld, want %lld", tu_jint(p, field), v);
    json_decref(p);
    free(s);
}
#define MOD_INT_OK(item, field, v) mod_int_ok_at(__LINE__, (item), (field), (v))

/* Modify the integer item to v; must fail with 40605 (out of range), naming the item. */
static void mod_int_out_of_range_at(int line, const char* item, long long v) {
    char* s = one_item(item, json_integer(v));
    mod_reject_at(line, s, 40605, item, NULL, NULL);
    free(s);
}
#define MOD_INT_OUT_OF_RANGE(item, v) mod_int_out_of_range_at(__LINE__, (item), (v))

/* {"user_profile_item_custom_string_array":[{key,value}]} */
static char* custom1(const char* key, const char* value) {
    return tu_dump(json_pack("{s:[{s:s,s:s}]}", CUSTOM, CKEY, key, CVAL, value));
}

static void check_full_profile_at(int line, json_t* p) {
    static const char* strs[] = {"user_profile_identifier", "user_profile_nick_name", "user_profile_face_url",
                                 "user_profile_friend_remark", "user_profile_self_signature",
                                 "user_profile_location"};
    static const char* ints[] = {"user_profile_gender",           "user_profile_add_permission",
                                 "user_profile_language",         "user_profile_birthday",
                                 "user_profile_level",            "user_profile_role",
                                 "user_profile_message_settings", "user_profile_admin_forbid_type",
                                 "user_profile_last_updated_time"};
    th_check(json_is_object(p), __FILE__, line, "profile is an object", NULL);
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        th_check(json_is_string(json_object_get(p, strs[i])), __FILE__, line, "string key present", "%s",
                 strs[i]);
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        th_check(json_is_integer(json_object_get(p, ints[i])), __FILE__, line, "integer key present", "%s",
                 ints[i]);
    th_check(json_is_array(json_object_get(p, "user_profile_custom_string_array")), __FILE__, line,
             "custom array present", NULL);
    th_check(tu_jstr(p, "user_profile_friend_remark") && !strcmp(tu_jstr(p, "user_profile_friend_remark"), ""),
             __FILE__, line, "friend remark is \"\"", NULL);
}
#define CHECK_FULL_PROFILE(p) check_full_profile_at(__LINE__, (p))

/* value of custom key (full key) in a profile, or NULL */
static const char* custom_value(json_t* p, const char* full_key) {
    json_t* arr = json_object_get(p, "user_profile_custom_string_array");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t* e = json_array_get(arr, i);
        const char* k = tu_jstr(e, CKEY);
        if (k && !strcmp(k, full_key)) return tu_jstr(e, CVAL);
    }
    return NULL;
}

static size_t custom_count(json_t* p) {
    return json_array_size(json_object_get(p, "user_profile_custom_string_array"));
}

/* Run GetUserProfileList with `param`; returns the call. */
static th_call* get_list(const char* param) { return tu_run(TIMProfileGetUserProfileList, param); }

/* GetUserProfileList with `param` succeeds, and json_params lists exactly the ids, in order. */
static void expect_list_at(int line, const char* param, const char* const* ids, size_t n) {
    th_call* c = get_list(param);
    th_check(c->code == 0, __FILE__, line, "GetUserProfileList", "code %d desc \"%s\"", (int)c->code,
             c->desc ? c->desc : "");
    const char* json = c->json;
    json_t* a = tu_parse(json);
    th_check(json_is_array(a), __FILE__, line, "result is an array", "%.100s", json ? json : "");
    th_check(json_array_size(a) == n, __FILE__, line, "result size", "%zu want %zu", json_array_size(a), n);
    for (size_t i = 0; i < n && i < json_array_size(a); i++) {
        const char* got = tu_jstr(json_array_get(a, i), "user_profile_identifier");
        th_check(got && !strcmp(got, ids[i]), __FILE__, line, "result id", "#%zu \"%s\" want \"%s\"", i,
                 got ? got : "(null)", ids[i]);
        check_full_profile_at(line, json_array_get(a, i));
    }
    json_decref(a);
    th_call_free(c);
}
#define EXPECT_LIST(param, ...)                                                    \
    do {                                                                           \
        const char* want_[] = {__VA_ARGS__};                                       \
        expect_list_at(__LINE__, (param), want_, sizeof want_ / sizeof *want_);    \
    } while (0)

/* ---------------------------------------------------------------------------
 * TIMProfileGetUserProfileList
 * ------------------------------------------------------------------------- */

static void test_get_list(void) {
    TU_EXPECT(TIMProfileGetUserProfileList, "{}", 40002, NULL);
    TU_EXPECT(TIMProfileGetUserProfileList, "{\"" ARR_KEY "\":[]}", 40002, NULL);
    TU_EXPECT(TIMProfileGetUserProfileList, "{\"" ARR_KEY "\":[1]}", 6017, NULL);
    TU_EXPECT(TIMProfileGetUserProfileList, "{\"" ARR_KEY "\":[\"bob\",null]}", 6017, NULL);
    TU_EXPECT(TIMProfileGetUserProfileList, "{\"" ARR_KEY "\":[\"bob\",{}]}", 6017, NULL);
    TU_EXPECT(TIMProfileGetUserProfileList, "{\"" ARR_KEY "\":[\"\"]}", 7003, NULL);
    TU_EXPECT(TIMProfileGetUserProfileList, "{\"" ARR_KEY "\":[\"bob\",\"a\\u0001\"]}", 7003, NULL);
    TU_EXPECT(TIMProfileGetUserProfileList, "{\"" ARR_KEY "\":[\"123456789012345678901234567890123\"]}", 7003,
              NULL);
    TU_EXPECT(TIMProfileGetUserProfileList, "{\"" ARR_KEY "\":[\"caf\xc3\xa9\"]}", 7003, NULL);
    {
        th_call* c = get_list("{\"" ARR_KEY "\":\"bob\"}");
        th_check(c->code != 0, __FILE__, __LINE__, "identifier array of the wrong type refused", "code %d",
                 (int)c->code);
        th_call_free(c);
    }
    TU_EXPECT(TIMProfileGetUserProfileList, "{\"" ARR_KEY "\":[\"nobody\"]}", 40003, NULL);
    TU_EXPECT(TIMProfileGetUserProfileList, "{\"" ARR_KEY "\":[\"nobody\",\"nobody2\"]}", 40003, NULL);

    EXPECT_LIST("{\"" ARR_KEY "\":[\"nobody\",\"bob\"]}", "bob");
    EXPECT_LIST("{\"" ARR_KEY "\":[\"bob\",\"alice\",\"bob\",\"alice\"]}", "bob", "alice");
    EXPECT_LIST("{\"" ARR_KEY "\":[\"alice\",\"bob\"],\"friendship_getprofilelist_param_force_update\":true}", "alice",
                "bob");

    /* the 100 limit: the 100th is looked up, the 101st dropped unseen */
    const char* ids[102];
    char names[101][16];
    for (int i = 0; i < 101; i++) {
        snprintf(names[i], sizeof names[i], "ghost%03d", i);
        ids[i] = names[i];
    }
    ids[99] = "bob";
    char* p100 = tu_profile_param(ids, 100);
    EXPECT_LIST(p100, "bob");
    free(p100);
    ids[99] = names[99];
    ids[100] = "bob";
    char* p101 = tu_profile_param(ids, 101);
    TU_EXPECT(TIMProfileGetUserProfileList, p101, 40003, NULL);
    free(p101);
    /* invalid entries past 100 are not examined */
    json_t* arr = json_array();
    for (int i = 0; i < 99; i++) json_array_append_new(arr, json_string(names[i]));
    json_array_append_new(arr, json_string("bob"));
    json_array_append_new(arr, json_integer(5));
    json_array_append_new(arr, json_string(""));
    char* p_bad = tu_dump(json_pack("{s:o}", ARR_KEY, arr));
    EXPECT_LIST(p_bad, "bob");
    free(p_bad);

    /* defaults of a fresh account */
    json_t* bob = TU_PROFILE("bob", 0);
    CHECK_FULL_PROFILE(bob);
    CHECK_STR(tu_jstr(bob, "user_profile_nick_name"), "Bob");
    CHECK_STR(tu_jstr(bob, "user_profile_face_url"), "");
    CHECK_STR(tu_jstr(bob, "user_profile_self_signature"), "");
    CHECK_STR(tu_jstr(bob, "user_profile_location"), "");
    CHECK_INT(tu_jint(bob, "user_profile_gender"), 0);
    CHECK_INT(tu_jint(bob, "user_profile_add_permission"), 0);
    CHECK_INT(tu_jint(bob, "user_profile_level"), 0);
    CHECK_INT(tu_jint(bob, "user_profile_role"), 0);
    CHECK_INT(tu_jint(bob, "user_profile_language"), 0);
    CHECK_INT(tu_jint(bob, "user_profile_birthday"), 0);
    CHECK_INT(tu_jint(bob, "user_profile_message_settings"), 0);
    CHECK_INT(tu_jint(bob, "user_profile_admin_forbid_type"), 0);
    CHECK_INT(custom_count(bob), 0);
    json_decref(bob);
    json_t* me = my_profile();
    CHECK_FULL_PROFILE(me);
    CHECK_STR(tu_jstr(me, "user_profile_identifier"), "alice");
    CHECK_STR(tu_jstr(me, "user_profile_nick_name"), "");
    CHECK_INT(tu_jint(me, "user_profile_add_permission"), 0);
    json_decref(me);
}

/* ---------------------------------------------------------------------------
 * TIMProfileModifySelfUserProfile: checks and limits
 * ------------------------------------------------------------------------- */

static void test_modify_strings(void) {
    static const char* items[] = {"user_profile_item_nick_name", "user_profile_item_face_url",
                                  "user_profile_item_self_signature", "user_profile_item_location"};
    static const char* fields[] = {"user_profile_nick_name", "user_profile_face_url",
                                   "user_profile_self_signature", "user_profile_location"};
    char* s500 = tu_repeat('x', 500);
    char* s501 = tu_repeat('y', 501);
    for (size_t i = 0; i < 4; i++) {
        char* ok = one_item(items[i], json_string(s500));
        MOD_OK(ok);
        json_t* p = my_profile();
        CHECK_STR(tu_jstr(p, fields[i]), s500);
        json_decref(p);
        char* over = one_item(items[i], json_string(s501));
        MOD_REJECT(over, 40601, items[i]);
        free(ok);
        free(over);
        char* wrong = one_item(items[i], json_integer(5));
        MOD_REJECT(wrong, 40610, items[i]);
        free(wrong);
    }
    /* 500 bytes, not characters */
    char e250[501], e251[503];
    for (int i = 0; i < 250; i++) memcpy(e250 + 2 * i, "\xc3\xa9", 2);
    e250[500] = 0;
    memcpy(e251, e250, 500);
    memcpy(e251 + 500, "\xc3\xa9", 2);
    e251[502] = 0;
    char* ok = one_item("user_profile_item_nick_name", json_string(e250));
    MOD_OK(ok);
    json_t* p = my_profile();
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), e250);
    json_decref(p);
    char* over = one_item("user_profile_item_nick_name", json_string(e251));
    MOD_REJECT(over, 40601, "user_profile_item_nick_name");
    free(ok);
    free(over);
    /* several fields at once; "" allowed */
    MOD_OK("{\"user_profile_item_nick_name\":\"Alice\",\"user_profile_item_face_url\":\"http://a/b.png\","
           "\"user_profile_item_self_signature\":\"\",\"user_profile_item_location\":\"Shenzhen\"}");
    p = my_profile();
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), "Alice");
    CHECK_STR(tu_jstr(p, "user_profile_face_url"), "http://a/b.png");
    CHECK_STR(tu_jstr(p, "user_profile_self_signature"), "");
    CHECK_STR(tu_jstr(p, "user_profile_location"), "Shenzhen");
    json_decref(p);
    free(s500);
    free(s501);
}

static void test_modify_types_and_ranges(void) {
    MOD_REJECT("{}", 6017, NULL);
    MOD_REJECT("{\"foo\":1}", 6017, "foo");
    MOD_REJECT("{\"user_profile_nick_name\":\"x\"}", 6017, "user_profile_nick_name"); /* result key, not item key */
    MOD_REJECT("{\"user_profile_item_nick_name\":\"x\",\"bar\":1}", 6017, "bar");

    /* wrong JSON types */
    MOD_REJECT("{\"user_profile_item_nick_name\":null}", 40610, "user_profile_item_nick_name");
    MOD_REJECT("{\"user_profile_item_nick_name\":[\"x\"]}", 40610, "user_profile_item_nick_name");
    MOD_REJECT("{\"user_profile_item_nick_name\":true}", 40610, "user_profile_item_nick_name");
    MOD_REJECT("{\"user_profile_item_gender\":\"1\"}", 40610, "user_profile_item_gender");
    MOD_REJECT("{\"user_profile_item_gender\":1.5}", 40610, "user_profile_item_gender");
    MOD_REJECT("{\"user_profile_item_gender\":true}", 40610, "user_profile_item_gender");
    MOD_REJECT("{\"user_profile_item_add_permission\":\"AllowAny\"}", 40610, "user_profile_item_add_permission");
    MOD_REJECT("{\"user_profile_item_level\":\"5\"}", 40610, "user_profile_item_level");
    MOD_REJECT("{\"user_profile_item_role\":{}}", 40610, "user_profile_item_role");
    MOD_REJECT("{\"user_profile_item_language\":0.5}", 40610, "user_profile_item_language");
    MOD_REJECT("{\"user_profile_item_birthday\":false}", 40610, "user_profile_item_birthday");
    MOD_REJECT("{\"user_profile_item_message_settings\":\"0\"}", 40610, "user_profile_item_message_settings");
    MOD_REJECT("{\"user_profile_item_admin_forbid_type\":[]}", 40610, "user_profile_item_admin_forbid_type");
    MOD_REJECT("{\"" CUSTOM "\":\"x\"}", 40610, CUSTOM);
    MOD_REJECT("{\"" CUSTOM "\":{}}", 40610, CUSTOM);
    MOD_REJECT_ANY("{\"" CUSTOM "\":[\"x\"]}", 40610, CUSTOM, CUSTOM);
    MOD_REJECT_ANY("{\"" CUSTOM "\":[{\"" CKEY "\":\"abc\",\"" CVAL "\":5}]}", 40610, CVAL, "abc");
    MOD_REJECT_ANY("{\"" CUSTOM "\":[{\"" CKEY "\":5,\"" CVAL "\":\"v\"}]}", 40610, CKEY, CKEY);

    /* ranges */
    for (int g = 0; g <= 2; g++) MOD_INT_OK("user_profile_item_gender", "user_profile_gender", g);
    MOD_REJECT("{\"user_profile_item_gender\":3}", 40605, "user_profile_item_gender");
    MOD_REJECT("{\"user_profile_item_gender\":-1}", 40605, "user_profile_item_gender");
    for (int a = 1; a <= 3; a++) MOD_INT_OK("user_profile_item_add_permission", "user_profile_add_permission", a);
    MOD_REJECT("{\"user_profile_item_add_permission\":0}", 40605, "user_profile_item_add_permission");
    MOD_REJECT("{\"user_profile_item_add_permission\":4}", 40605, "user_profile_item_add_permission");
    static const char* bin_items[] = {"user_profile_item_message_settings", "user_profile_item_admin_forbid_type"};
    static const char* bin_fields[] = {"user_profile_message_settings", "user_profile_admin_forbid_type"};
    for (int i = 0; i < 2; i++) {
        for (int v = 1; v >= 0; v--) MOD_INT_OK(bin_items[i], bin_fields[i], v);
        MOD_INT_OUT_OF_RANGE(bin_items[i], 2);
        MOD_INT_OUT_OF_RANGE(bin_items[i], -1);
    }
    static const char* u32_items[] = {"user_profile_item_language", "user_profile_item_birthday",
                                      "user_profile_item_level", "user_profile_item_role"};
    static const char* u32_fields[] = {"user_profile_language", "user_profile_birthday", "user_profile_level",
                                       "user_profile_role"};
    for (int i = 0; i < 4; i++) {
        MOD_INT_OK(u32_items[i], u32_fields[i], 4294967295LL);
        MOD_INT_OUT_OF_RANGE(u32_items[i], 4294967296LL);
        MOD_INT_OUT_OF_RANGE(u32_items[i], -1);
        char* s = one_item(u32_items[i], json_integer(0));
        MOD_OK(s);
        free(s);
        MOD_INT_OK(u32_items[i], u32_fields[i], 20000101);
    }
}

static void test_custom_keys(void) {
    /* letters, digits and underscores (the vendor's own sample uses Test1 and Test2) */
    static const char* good[] = {"a", "abcdefgh", "ABCdefXY", "Tag_Profile_Custom_xyz", "Tag_Profile_Custom_Qwertyui",
                                 "Test1", "Tag_Profile_Custom_Test2", "a_b", "_", "12345678", "A_1_b2"};
    static const char* good_full[] = {"Tag_Profile_Custom_a", "Tag_Profile_Custom_abcdefgh",
                                      "Tag_Profile_Custom_ABCdefXY", "Tag_Profile_Custom_xyz",
                                      "Tag_Profile_Custom_Qwertyui", "Tag_Profile_Custom_Test1",
                                      "Tag_Profile_Custom_Test2", "Tag_Profile_Custom_a_b", "Tag_Profile_Custom__",
                                      "Tag_Profile_Custom_12345678", "Tag_Profile_Custom_A_1_b2"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        char* s = custom1(good[i], "v1");
        MOD_OK(s);
        free(s);
        json_t* p = my_profile();
        const char* v = custom_value(p, good_full[i]);
        th_check(v && !strcmp(v, "v1"), __FILE__, __LINE__, "custom key stored with prefix", "%s", good_full[i]);
        json_decref(p);
    }
    static const char* bad[] = {"",      "abcdefghi", "ab-1",        "a.b",  "Test 1", "a$",
                                "a b",   "Tag_Profile_Custom_", "Tag_Profile_Custom_abcdefghi",
                                "Tag_Profile_IM_Nick", "caf\xc3\xa9", "Tag_Profile_Custom_a-1", "tag_profile_custom_abc",
                                "Tag_Profile_Custom_123456789"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char* s = custom1(bad[i], "v");
        json_t* before = my_profile();
        th_call* c = tu_run(TIMProfileModifySelfUserProfile, s);
        th_check(c->code == 9001, __FILE__, __LINE__, "malformed custom key -> 9001", "key \"%s\": %d (%s)",
                 bad[i], (int)c->code, c->desc);
        if (*bad[i]) TU_HAS_ANY(c->desc, bad[i], CKEY);
        th_call_free(c);
        json_t* after = my_profile();
        CHECK(json_equal(before, after));
        json_decref(before);
        json_decref(after);
        free(s);
    }
    /* value limit */
    char* v500 = tu_repeat('v', 500);
    char* v501 = tu_repeat('w', 501);
    char* s = custom1("big", v500);
    MOD_OK(s);
    free(s);
    s = custom1("big", v501);
    MOD_REJECT_ANY(s, 40601, CVAL, "big");
    free(s);
    json_t* p = my_profile();
    CHECK_STR(custom_value(p, "Tag_Profile_Custom_big"), v500);
    json_decref(p);
    free(v500);
    free(v501);
    /* missing key or value */
    MOD_REJECT_ANY("{\"" CUSTOM "\":[{\"" CVAL "\":\"v\"}]}", 6017, CKEY, CKEY);
    MOD_REJECT_ANY("{\"" CUSTOM "\":[{\"" CKEY "\":\"abc\"}]}", 6017, CVAL, "abc");
    /* one key twice in a call, also with and without the prefix */
    MOD_REJECT_ANY("{\"" CUSTOM "\":[{\"" CKEY "\":\"dup\",\"" CVAL "\":\"1\"},{\"" CKEY "\":\"dup\",\"" CVAL
                   "\":\"2\"}]}",
                   6017, "dup", CKEY);
    MOD_REJECT_ANY("{\"" CUSTOM "\":[{\"" CKEY "\":\"dup\",\"" CVAL "\":\"1\"},{\"" CKEY
                   "\":\"Tag_Profile_Custom_dup\",\"" CVAL "\":\"2\"}]}",
                   6017, "dup", CKEY);
    /* sorted by key, each with the prefix */
    p = my_profile();
    json_t* arr = json_object_get(p, "user_profile_custom_string_array");
    int sorted = 1, prefixed = 1;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const char* k = tu_jstr(json_array_get(arr, i), CKEY);
        if (!k || strncmp(k, "Tag_Profile_Custom_", 19) != 0) prefixed = 0;
        if (i > 0) {
            const char* prev = tu_jstr(json_array_get(arr, i - 1), CKEY);
            if (!prev || !k || strcmp(prev, k) >= 0) sorted = 0;
        }
    }
    CHECK(sorted);
    CHECK(prefixed);
    CHECK_INT(json_array_size(arr), 12); /* the good keys above, and "big" */
    json_decref(p);
}

/* A user holds at most 20 custom keys; a call carries at most 20 entries. */
static void test_custom_counts(void) {
    login_as("carol");
    json_t* a = json_array();
    for (int i = 0; i < 20; i++) {
        char k[16];
        snprintf(k, sizeof k, "key%c", 'a' + i);
        json_array_append_new(a, json_pack("{s:s,s:s}", CKEY, k, CVAL, "v"));
    }
    char* s20 = tu_dump(json_pack("{s:O}", CUSTOM, a));
    json_array_append_new(a, json_pack("{s:s,s:s}", CKEY, "keyz", CVAL, "v"));
    char* s21 = tu_dump(json_pack("{s:O}", CUSTOM, a));
    json_decref(a);
    MOD_REJECT_ANY(s21, 6017, CUSTOM, CUSTOM); /* 21 entries in one call */
    MOD_OK(s20);                              /* 20 entries */
    json_t* p = my_profile();
    CHECK_INT(custom_count(p), 20);
    json_decref(p);
    char* s = custom1("keyu", "v");
    MOD_REJECT_ANY(s, 6017, "keyu", CUSTOM); /* a 21st key held */
    free(s);
    s = custom1("keya", "changed"); /* updating a held key is fine */
    MOD_OK(s);
    free(s);
    s = custom1("keyb", ""); /* "" removes */
    MOD_OK(s);
    free(s);
    p = my_profile();
    CHECK_INT(custom_count(p), 19);
    CHECK(custom_value(p, "Tag_Profile_Custom_keyb") == NULL);
    CHECK_STR(custom_value(p, "Tag_Profile_Custom_keya"), "changed");
    json_decref(p);
    s = custom1("keyu", "v");
    MOD_OK(s);
    free(s);
    p = my_profile();
    CHECK_INT(custom_count(p), 20);
    json_decref(p);
    /* removing a key that is not held is harmless */
    s = custom1("nokey", "");
    json_t* before = my_profile();
    th_call* c = tu_run(TIMProfileModifySelfUserProfile, s);
    th_check(c->code == 0, __FILE__, __LINE__, "removing an absent key", "code %d %s", (int)c->code, c->desc);
    th_call_free(c);
    json_t* after = my_profile();
    CHECK_INT(custom_count(after), 20);
    json_decref(before);
    json_decref(after);
    free(s);
    free(s20);
    free(s21);
    /* others see carol's custom fields */
    login_as("alice");
    json_t* carol = TU_PROFILE("carol", 0);
    CHECK_INT(custom_count(carol), 20);
    CHECK_STR(custom_value(carol, "Tag_Profile_Custom_keya"), "changed");
    json_decref(carol);
}

static void test_all_or_nothing(void) {
    MOD_OK("{\"user_profile_item_nick_name\":\"Stable\",\"user_profile_item_gender\":1}");
    MOD_REJECT("{\"user_profile_item_nick_name\":\"Changed\",\"user_profile_item_gender\":9}", 40605,
               "user_profile_item_gender");
    MOD_REJECT("{\"user_profile_item_gender\":2,\"user_profile_item_level\":-5}", 40605, "user_profile_item_level");
    MOD_REJECT("{\"user_profile_item_nick_name\":\"Changed\",\"" CUSTOM "\":[{\"" CKEY "\":\"okkey\",\"" CVAL
               "\":\"v\"},{\"" CKEY "\":\"bad-1\",\"" CVAL "\":\"v\"}]}",
               9001, NULL);
    MOD_REJECT("{\"" CUSTOM "\":[{\"" CKEY "\":\"okkey\",\"" CVAL "\":\"v\"}],\"user_profile_item_role\":\"x\"}",
               40610, "user_profile_item_role");
    MOD_REJECT("{\"user_profile_item_nick_name\":\"Changed\",\"nope\":1}", 6017, "nope");
    json_t* p = my_profile();
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), "Stable");
    CHECK_INT(tu_jint(p, "user_profile_gender"), 1);
    CHECK(custom_value(p, "Tag_Profile_Custom_okkey") == NULL);
    json_decref(p);
}

static void test_add_permission_hidden_and_time(void) {
    MOD_OK("{\"user_profile_item_add_permission\":3}");
    json_t* p = my_profile();
    CHECK_INT(tu_jint(p, "user_profile_add_permission"), 3);
    long long t = tu_jint(p, "user_profile_last_updated_time");
    long long now = (long long)time(NULL);
    th_check(t >= now - 3 && t <= now + 3, __FILE__, __LINE__, "last_updated_time is now", "%lld vs %lld", t,
             now);
    json_decref(p);
    login_as("bob");
    MOD_OK("{\"user_profile_item_add_permission\":2}");
    TU_EXPECT_PROFILE_INT("alice", "user_profile_add_permission", 0);
    TU_EXPECT_PROFILE_INT("bob", "user_profile_add_permission", 2);
    login_as("alice");
    TU_EXPECT_PROFILE_INT("bob", "user_profile_add_permission", 0);
    TU_EXPECT_PROFILE_INT("alice", "user_profile_add_permission", 3);
}

/* ---------------------------------------------------------------------------
 * Events
 * ------------------------------------------------------------------------- */

static void test_events(void) {
    /* SelfInfoUpdated: the new profile, delivered before the completion callback */
    tu_order_probe o;
    tu_order_probe_init(&o, &ev_self, "user_profile_identifier", "alice", "user_profile_nick_name", "EvNick");
    size_t base = o.base;
    CHECK_INT(TIMProfileModifySelfUserProfile("{\"user_profile_item_nick_name\":\"EvNick\",\"user_profile_item_level\":7}",
                                              tu_order_probe_cb, &o),
              TIM_SUCC);
    long idx = tu_ev_wait(&ev_self, base, "user_profile_identifier", "alice", "user_profile_nick_name", "EvNick", 0,
                          NULL, 5000);
    CHECK(idx >= 0);
    TU_ORDER_PROBE_CHECK(&o);
    if (idx >= 0) {
        json_t* d = tu_ev_doc(&ev_self, (size_t)idx);
        CHECK(json_is_object(d));
        CHECK_FULL_PROFILE(d);
        CHECK_INT(tu_jint(d, "user_profile_level"), 7);
        CHECK_INT(tu_jint(d, "user_profile_add_permission"), 3); /* own profile: own permission */
        json_decref(d);
    }

    /* rejected changes fire nothing; the sentinel's event is the only one */
    base = tu_ev_count(&ev_self);
    MOD_REJECT("{\"user_profile_item_nick_name\":\"NoEvent\",\"user_profile_item_gender\":7}", 40605, NULL);
    MOD_REJECT("{\"zzz\":1}", 6017, "zzz");
    MOD_OK("{\"user_profile_item_nick_name\":\"Sentinel1\"}");
    idx = tu_ev_wait(&ev_self, base, "user_profile_identifier", "alice", "user_profile_nick_name", "Sentinel1", 0,
                     NULL, 5000);
    CHECK(idx >= 0);
    CHECK_INT(tu_ev_count(&ev_self), base + 1);

    /* NULL removes the callback */
    TIMSetSelfInfoUpdatedCallback(NULL, NULL);
    MOD_OK("{\"user_profile_item_nick_name\":\"Unheard\"}");
    TIMSetSelfInfoUpdatedCallback(tu_ev_cb, &ev_self);
    MOD_OK("{\"user_profile_item_nick_name\":\"Heard\"}");
    idx = tu_ev_wait(&ev_self, base, "user_profile_identifier", "alice", "user_profile_nick_name", "Heard", 0, NULL,
                     5000);
    CHECK(idx >= 0);
    CHECK(tu_ev_find(&ev_self, base, "user_profile_identifier", "alice", "user_profile_nick_name", "Unheard", 0,
                     NULL) < 0);

    /* the admin surface changing my profile reaches SelfInfoUpdated */
    base = tu_ev_count(&ev_self);
    CHECK_INT(tu_portrait_set_str("alice", "Tag_Profile_IM_Nick", "AdminNick"), 0);
    idx = tu_ev_wait(&ev_self, base, "user_profile_identifier", "alice", "user_profile_nick_name", "AdminNick", 0,
                     NULL, 5000);
    CHECK(idx >= 0);

    /* UserInfoChanged for a subscribed user, as a one-element array */
    TU_EXPECT(TIMSubscribeUserInfo, "[\"bob\"]", 0, NULL);
    size_t ibase = tu_ev_count(&ev_info);
    CHECK_INT(tu_portrait_set_str("bob", "Tag_Profile_IM_Nick", "BobNew"), 0);
    int one = 0;
    idx = tu_ev_wait(&ev_info, ibase, "user_profile_identifier", "bob", "user_profile_nick_name", "BobNew", 0, &one,
                     5000);
    CHECK(idx >= 0);
    CHECK(one);
    if (idx >= 0) {
        json_t* d = tu_ev_doc(&ev_info, (size_t)idx);
        CHECK_FULL_PROFILE(json_array_get(d, 0));
        CHECK_INT(tu_jint(json_array_get(d, 0), "user_profile_add_permission"), 0); /* hidden from others */
        json_decref(d);
    }
    /* carol is not subscribed: her change is not reported, bob's next one is */
    ibase = tu_ev_count(&ev_info);
    CHECK_INT(tu_portrait_set_str("carol", "Tag_Profile_IM_Nick", "CarolX"), 0);
    CHECK_INT(tu_portrait_set_str("bob", "Tag_Profile_IM_Nick", "BobNext"), 0);
    idx = tu_ev_wait(&ev_info, ibase, "user_profile_identifier", "bob", "user_profile_nick_name", "BobNext", 0, NULL,
                     5000);
    CHECK(idx >= 0);
    CHECK(tu_ev_find(&ev_info, ibase, "user_profile_identifier", "carol", NULL, NULL, 0, NULL) < 0);
    /* my own change does not reach UserInfoChanged (I cannot subscribe to myself) */
    CHECK(tu_ev_find(&ev_info, 0, "user_profile_identifier", "alice", NULL, NULL, 0, NULL) < 0);
    TU_EXPECT(TIMUnsubscribeUserInfo, NULL, 0, NULL);
    CHECK_INT(ev_self.on_main + ev_info.on_main, 0);
}

/* ---------------------------------------------------------------------------
 * The app's allowed custom keys
 * ------------------------------------------------------------------------- */

static void test_allowed_keys(void) {
    TU_LOGOUT_OK();
    free(g_me);
    g_me = NULL;
    CHECK_INT(TIMUninit(), TIM_SUCC);
    CHECK_INT(TIMInit(APPID, "{\"timref_config_custom_profile_keys\":[\"Tag_Profile_Custom_color\",\"size\"]}"),
              TIM_SUCC);
    login_as("dora");
    char* s = custom1("color", "red");
    MOD_OK(s);
    free(s);
    s = custom1("Tag_Profile_Custom_size", "XL");
    MOD_OK(s);
    free(s);
    s = custom1("other", "x");
    MOD_REJECT_ANY(s, 40009, "other", CKEY);
    free(s);
    MOD_REJECT_ANY("{\"" CUSTOM "\":[{\"" CKEY "\":\"color\",\"" CVAL "\":\"blue\"},{\"" CKEY "\":\"weight\",\"" CVAL
                   "\":\"9\"}]}",
                   40009, "weight", CKEY);
    s = custom1("bad-1", "x");
    MOD_REJECT_ANY(s, 9001, "bad-1", CKEY);
    free(s);
    json_t* p = my_profile();
    CHECK_STR(custom_value(p, "Tag_Profile_Custom_color"), "red");
    CHECK_STR(custom_value(p, "Tag_Profile_Custom_size"), "XL");
    CHECK_INT(custom_count(p), 2);
    json_decref(p);
}

int main(void) {
    tu_ev_init(&ev_self);
    tu_ev_init(&ev_info);
    CHECK_INT(TIMInit(APPID, NULL), TIM_SUCC);
    TIMSetSelfInfoUpdatedCallback(tu_ev_cb, &ev_self);
    TIMSetUserInfoChangedCallback(tu_ev_cb, &ev_info);
    TU_ADMIN_EXPECT("v4/im_open_login_svc/account_import", "{\"UserID\":\"bob\",\"Nick\":\"Bob\"}", 0);
    TU_ADMIN_EXPECT("v4/im_open_login_svc/account_import", "{\"UserID\":\"carol\"}", 0);
    login_as("alice");

    test_get_list();
    test_modify_strings();
    test_modify_types_and_ranges();
    test_custom_keys();
    test_custom_counts();
    test_all_or_nothing();
    test_add_permission_hidden_and_time();
    test_events();
    test_allowed_keys();

    CHECK_INT(TIMUninit(), TIM_SUCC);
    TIMSetSelfInfoUpdatedCallback(NULL, NULL);
    TIMSetUserInfoChangedCallback(NULL, NULL);
    free(g_me);
    tu_ev_free(&ev_self);
    tu_ev_free(&ev_info);
    return th_finish();
}
