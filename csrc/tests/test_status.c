/*
 * test_status.c - docs/contract.md 3.5 (user status, status and profile
 * subscriptions) and docs/behaviour.md "Identifiers and lists" / "Status".
 */
#include <stdlib.h>

#include "th_util.h"

#define APPID 1404
#define DEVICE "TestBox"
#define SID "user_status_identifier"
#define PID "user_profile_identifier"
#define CS "user_status_custom_status"

static tu_ev ev_st, ev_info;

static void check_status_obj_at(int line, json_t* o, const char* id, int type, const char* custom, int online) {
    th_check(json_is_object(o), __FILE__, line, "status object", NULL);
    const char* got = tu_jstr(o, SID);
    th_check(got && !strcmp(got, id), __FILE__, line, "status identifier", "\"%s\" want \"%s\"",
             got ? got : "(null)", id);
    th_check(tu_jint(o, "user_status_status_type") == type, __FILE__, line, "status type", "%s: %lld want %d", id,
             tu_jint(o, "user_status_status_type"), type);
    if (custom) {
        const char* cs = tu_jstr(o, CS);
        th_check(cs && !strcmp(cs, custom), __FILE__, line, "custom status", "%s: \"%s\" want \"%s\"", id,
                 cs ? cs : "(null)", custom);
    }
    json_t* dev = json_object_get(o, "user_status_online_devices");
    th_check(json_is_array(dev), __FILE__, line, "online devices is an array", "%s", id);
    if (online) {
        th_check(json_array_size(dev) >= 1, __FILE__, line, "online devices listed", "%s: %zu", id,
                 json_array_size(dev));
        int has = 0;
        for (size_t i = 0; i < json_array_size(dev); i++)
            if (json_is_string(json_array_get(dev, i)) && !strcmp(json_string_value(json_array_get(dev, i)), DEVICE))
                has = 1;
        th_check(has, __FILE__, line, "device name is the configured one", "%s", id);
    } else {
        th_check(json_array_size(dev) == 0, __FILE__, line, "no online devices when not Online", "%s: %zu", id,
                 json_array_size(dev));
    }
}
#define CHECK_STATUS(o, id, type, custom, online) check_status_obj_at(__LINE__, (o), (id), (type), (custom), (online))

static void expect_status_at(int line, const char* id, int type, const char* custom, int online) {
    int code;
    json_t* s = tu_get_status(id, &code);
    th_check(code == 0, __FILE__, line, "TIMGetUserStatus", "%s: code %d", id, code);
    if (s) check_status_obj_at(line, s, id, type, custom, online);
    json_decref(s);
}
#define EXPECT_STATUS(id, type, custom, online) expect_status_at(__LINE__, (id), (type), (custom), (online))

/* Wait for the event (since base) about id whose key equals sval (or ival); check it came, as a
 * one-element array.  Returns its index (-1 when it did not come). */
static long wait_one_at(int line, tu_ev* e, const char* idkey, size_t base, const char* id, const char* key,
                        const char* sval, long long ival) {
    int one = 0;
    long idx = tu_ev_wait(e, base, idkey, id, key, sval, ival, &one, 5000);
    th_check(idx >= 0, __FILE__, line, "the change was reported", "%s", id);
    th_check(one, __FILE__, line, "as a one-element array", "%s", id);
    return idx;
}
#define WAIT_ONE_STATUS(base, id, key, sval, ival) \
    wait_one_at(__LINE__, &ev_st, SID, (base), (id), (key), (sval), (ival))
#define WAIT_ONE_INFO(base, id, key, sval) wait_one_at(__LINE__, &ev_info, PID, (base), (id), (key), (sval), 0)

/* The status event at idx (when it came) carries this one status. */
static void check_status_event_at(int line, long idx, const char* id, int type, const char* custom, int online) {
    if (idx < 0) return;
    json_t* d = tu_ev_doc(&ev_st, (size_t)idx);
    check_status_obj_at(line, json_array_get(d, 0), id, type, custom, online);
    json_decref(d);
}
#define CHECK_STATUS_EVENT(idx, id, type, custom, online) \
    check_status_event_at(__LINE__, (idx), (id), (type), (custom), (online))

static char* uid(int i) {
    char* s = malloc(16);
    if (!s) abort();
    snprintf(s, 16, "u%03d", i);
    return s;
}

/* ["u<from>" .. "u<to-1>"] */
static char* id_range(int from, int to) {
    json_t* a = json_array();
    for (int i = from; i < to; i++) {
        char* s = uid(i);
        json_array_append_new(a, json_string(s));
        free(s);
    }
    return tu_dump(a);
}

/* seen[i]++ for every event element (since base) about u<i> whose key equals sval */
static void collect(tu_ev* e, size_t base, const char* idkey, const char* key, const char* sval, int* seen, int n) {
    size_t cnt = tu_ev_count(e);
    for (size_t k = base; k < cnt; k++) {
        json_t* d = tu_ev_doc(e, k);
        for (size_t j = 0; j < json_array_size(d); j++) {
            json_t* o = json_array_get(d, j);
            const char* id = tu_jstr(o, idkey);
            const char* v = tu_jstr(o, key);
            if (!id || !v || id[0] != 'u' || strcmp(v, sval) != 0) continue;
            int num = atoi(id + 1);
            if (num >= 0 && num < n) seen[num]++;
        }
        json_decref(d);
    }
}

/* TIMSetSelfStatus of {"user_status_custom_status": value}: code want (a refusal names the key). */
static void set_custom_at(int line, const char* value, int want) {
    char* p = tu_dump(json_pack("{s:s}", CS, value));
    th_call* c = tu_run(TIMSetSelfStatus, p);
    tu_expect_at(__FILE__, line, "TIMSetSelfStatus", c, want, want ? CS : NULL);
    th_call_free(c);
    free(p);
}
#define SET_CUSTOM(value, want) set_custom_at(__LINE__, (value), (want))

/* A self-status change whose event proves earlier events were delivered. */
static long self_sentinel(const char* value) {
    size_t base = tu_ev_count(&ev_st);
    SET_CUSTOM(value, 0);
    long idx = TU_STATUS_WAIT(&ev_st, base, "me", CS, value, 0);
    th_check(idx >= 0, __FILE__, __LINE__, "own status change reported", "%s", value);
    return idx;
}

/* ---------------------------------------------------------------------------
 * TIMGetUserStatus
 * ------------------------------------------------------------------------- */

static void test_get_status(void) {
    EXPECT_STATUS("me", 1, "", 1);
    EXPECT_STATUS("u000", 3, "", 0);
    TU_EXPECT(TIMGetUserStatus, "[]", 6017, NULL);
    TU_EXPECT(TIMGetUserStatus, "[\"nobody\"]", 40003, NULL);
    TU_EXPECT(TIMGetUserStatus, "[\"nobody\",\"nobody2\"]", 40003, NULL);
    th_call* c = tu_run(TIMGetUserStatus, "[\"nobody\",\"u001\",\"me\",\"u001\"]");
    CHECK_INT(c->code, 0);
    json_t* a = tu_parse(c->json);
    CHECK(json_is_array(a));
    CHECK_INT(json_array_size(a), 2);
    if (json_array_size(a) == 2) {
        CHECK_STATUS(json_array_get(a, 0), "u001", 3, "", 0);
        CHECK_STATUS(json_array_get(a, 1), "me", 1, "", 1);
    }
    json_decref(a);
    th_call_free(c);
    /* 500 limit */
    json_t* ids = json_array();
    for (int i = 0; i < 499; i++) {
        char id[16];
        snprintf(id, sizeof id, "x%03d", i);
        json_array_append_new(ids, json_string(id));
    }
    json_array_append_new(ids, json_string("u000"));
    char* p500 = tu_dump(json_incref(ids));
    c = tu_run(TIMGetUserStatus, p500);
    CHECK_INT(c->code, 0);
    a = tu_parse(c->json);
    CHECK_INT(json_array_size(a), 1);
    CHECK_STR(tu_jstr(json_array_get(a, 0), SID), "u000");
    json_decref(a);
    th_call_free(c);
    free(p500);
    json_array_set_new(ids, 499, json_string("x499"));
    json_array_append_new(ids, json_string("u000"));
    json_array_append_new(ids, json_integer(7));
    json_array_append_new(ids, json_string(""));
    char* p501 = tu_dump(ids);
    TU_EXPECT(TIMGetUserStatus, p501, 40003, NULL);
    free(p501);
}

/* ---------------------------------------------------------------------------
 * TIMSetSelfStatus
 * ------------------------------------------------------------------------- */

static void test_set_self_status(void) {
    char* s100 = tu_repeat('s', 100);
    char* s101 = tu_repeat('t', 101);
    SET_CUSTOM(s100, 0);
    EXPECT_STATUS("me", 1, s100, 1);
    SET_CUSTOM(s101, 6017);
    EXPECT_STATUS("me", 1, s100, 1);
    free(s100);
    free(s101);
    /* bytes, not characters */
    char e50[101], eu34[103];
    for (int i = 0; i < 50; i++) memcpy(e50 + 2 * i, "\xc3\xa9", 2);
    e50[100] = 0;
    for (int i = 0; i < 34; i++) memcpy(eu34 + 3 * i, "\xe2\x82\xac", 3);
    eu34[102] = 0;
    SET_CUSTOM(e50, 0);
    EXPECT_STATUS("me", 1, e50, 1);
    SET_CUSTOM(eu34, 6017);
    TU_EXPECT(TIMSetSelfStatus, "{}", 6017, CS);
    TU_EXPECT(TIMSetSelfStatus, "{\"user_status_custom_status\":5}", 6017, CS);
    TU_EXPECT(TIMSetSelfStatus, "{\"user_status_custom_status\":null}", 6017, CS);
    TU_EXPECT(TIMSetSelfStatus, "{\"other\":\"x\"}", 6017, CS);
    EXPECT_STATUS("me", 1, e50, 1);
    /* other keys ignored */
    TU_EXPECT(TIMSetSelfStatus,
              "{\"user_status_custom_status\":\"busy\",\"user_status_status_type\":2,\"user_status_identifier\":\"u001\","
              "\"junk\":[1,2]}",
              0, NULL);
    EXPECT_STATUS("me", 1, "busy", 1);
    EXPECT_STATUS("u001", 3, "", 0);
    /* "" clears */
    TU_EXPECT(TIMSetSelfStatus, "{\"user_status_custom_status\":\"\"}", 0, NULL);
    EXPECT_STATUS("me", 1, "", 1);

    /* the own change is reported, as a one-element array, before the completion */
    tu_order_probe pr;
    tu_order_probe_init(&pr, &ev_st, SID, "me", CS, "hello");
    size_t base = pr.base;
    CHECK_INT(TIMSetSelfStatus("{\"user_status_custom_status\":\"hello\"}", tu_order_probe_cb, &pr), TIM_SUCC);
    long idx = WAIT_ONE_STATUS(base, "me", CS, "hello", 0);
    TU_ORDER_PROBE_CHECK(&pr);
    CHECK_STATUS_EVENT(idx, "me", 1, "hello", 1);
    /* a refused change is not reported */
    base = tu_ev_count(&ev_st);
    TU_EXPECT(TIMSetSelfStatus, "{\"user_status_custom_status\":7}", 6017, NULL);
    self_sentinel("after-refused");
    CHECK_INT(tu_ev_count(&ev_st), base + 1);
}

/* ---------------------------------------------------------------------------
 * TIMSubscribeUserStatus / TIMUnsubscribeUserStatus
 * ------------------------------------------------------------------------- */

static void test_subscribe_rules(tu_fn sub, tu_fn unsub) {
    TU_EXPECT(sub, "[\"me\"]", 6017, NULL);
    TU_EXPECT(sub, "[\"u001\",\"me\"]", 6017, NULL);
    TU_EXPECT(sub, "[]", 6017, NULL);
    TU_EXPECT(sub, "[1]", 6017, NULL);
    TU_EXPECT(sub, "[\"u001\",null]", 6017, NULL);
    TU_EXPECT(sub, "[\"\"]", 7003, NULL);
    TU_EXPECT(sub, "[\"u001\",\"\"]", 7003, NULL);
    TU_EXPECT(sub, "[\"u001\",\"123456789012345678901234567890123\"]", 7003, NULL);
    TU_EXPECT(sub, "[\"u001\",\"a\\u0007\"]", 7003, NULL);
    TU_EXPECT(unsub, "[\"u299\"]", 0, NULL); /* not subscribed: not an error */
    TU_EXPECT(unsub, "[\"never-existed\"]", 0, NULL);
}

static void test_status_subscriptions(void) {
    test_subscribe_rules(TIMSubscribeUserStatus, TIMUnsubscribeUserStatus);
    /* the refused calls above subscribed nobody: u001 is not reported */
    size_t base = tu_ev_count(&ev_st);
    CHECK_INT(tu_set_status("u001", 1, "refused-sub"), 0);
    self_sentinel("s1");
    CHECK(tu_ev_find(&ev_st, base, SID, "u001", NULL, NULL, 0, NULL) < 0);
    CHECK_INT(tu_set_status("u001", 3, ""), 0);

    /* every kind of change of a subscribed user, one-element arrays */
    TU_EXPECT(TIMSubscribeUserStatus, "[\"u003\"]", 0, NULL);
    base = tu_ev_count(&ev_st);
    CHECK_INT(tu_set_status("u003", 1, "c3"), 0);
    long idx = WAIT_ONE_STATUS(base, "u003", "user_status_status_type", NULL, 1);
    CHECK_STATUS_EVENT(idx, "u003", 1, "c3", 1);
    EXPECT_STATUS("u003", 1, "c3", 1);
    CHECK_INT(tu_set_status("u003", 1, "c3b"), 0); /* custom status only */
    WAIT_ONE_STATUS(base, "u003", CS, "c3b", 0);
    CHECK_INT(tu_set_status("u003", 2, NULL), 0); /* offline; custom status left as it is */
    idx = WAIT_ONE_STATUS(base, "u003", "user_status_status_type", NULL, 2);
    CHECK_STATUS_EVENT(idx, "u003", 2, "c3b", 0);
    EXPECT_STATUS("u003", 2, "c3b", 0);
    CHECK_INT(tu_set_status("u003", 3, "gone"), 0);
    WAIT_ONE_STATUS(base, "u003", "user_status_status_type", NULL, 3);
    EXPECT_STATUS("u003", 3, "gone", 0);

    /* the admin acting on my own user: reported to me; my real session keeps me Online */
    base = tu_ev_count(&ev_st);
    CHECK_INT(tu_set_status("me", 1, "fromadmin"), 0);
    idx = TU_STATUS_WAIT(&ev_st, base, "me", CS, "fromadmin", 0);
    CHECK(idx >= 0);
    CHECK_INT(tu_set_status("me", 3, NULL), 0);
    EXPECT_STATUS("me", 1, "fromadmin", 1);
    CHECK_INT(tu_set_status("me", 2, NULL), 0);
    EXPECT_STATUS("me", 1, NULL, 1);

    /* unsubscribe one */
    TU_EXPECT(TIMSubscribeUserStatus, "[\"u004\"]", 0, NULL);
    TU_EXPECT(TIMUnsubscribeUserStatus, "[\"u003\"]", 0, NULL);
    base = tu_ev_count(&ev_st);
    CHECK_INT(tu_set_status("u003", 1, "unsub"), 0);
    CHECK_INT(tu_set_status("u004", 1, "still"), 0);
    CHECK(TU_STATUS_WAIT(&ev_st, base, "u004", CS, "still", 0) >= 0);
    CHECK(tu_ev_find(&ev_st, base, SID, "u003", NULL, NULL, 0, NULL) < 0);

    /* unsubscribe all: NULL, "" and "[]" */
    const char* all[] = {NULL, "", "[]"};
    for (int k = 0; k < 3; k++) {
        TU_EXPECT(TIMSubscribeUserStatus, "[\"u010\",\"u011\"]", 0, NULL);
        TU_EXPECT(TIMUnsubscribeUserStatus, all[k], 0, NULL);
        base = tu_ev_count(&ev_st);
        char v[16];
        snprintf(v, sizeof v, "all%d", k);
        CHECK_INT(tu_set_status("u010", 1, v), 0);
        CHECK_INT(tu_set_status("u011", 1, v), 0);
        CHECK_INT(tu_set_status("u004", 1, v), 0);
        self_sentinel(v);
        th_check(tu_ev_find(&ev_st, base, SID, "u010", NULL, NULL, 0, NULL) < 0 &&
                     tu_ev_find(&ev_st, base, SID, "u011", NULL, NULL, 0, NULL) < 0 &&
                     tu_ev_find(&ev_st, base, SID, "u004", NULL, NULL, 0, NULL) < 0,
                 __FILE__, __LINE__, "unsubscribe all", "variant %d", k);
    }

    /* an unknown account may be subscribed, and is watched once created */
    TU_EXPECT(TIMSubscribeUserStatus, "[\"later1\"]", 0, NULL);
    tu_import("later1");
    base = tu_ev_count(&ev_st);
    CHECK_INT(tu_set_status("later1", 1, "born"), 0);
    CHECK(TU_STATUS_WAIT(&ev_st, base, "later1", CS, "born", 0) >= 0);
    TU_EXPECT(TIMUnsubscribeUserStatus, NULL, 0, NULL);
}

/* 250 subscribed in one call: the last 200 remain. */
static void test_status_eviction(void) {
    TU_EXPECT(TIMUnsubscribeUserStatus, NULL, 0, NULL);
    char* ids = id_range(0, 250);
    TU_EXPECT(TIMSubscribeUserStatus, ids, 0, NULL);
    free(ids);
    size_t base = tu_ev_count(&ev_st);
    for (int i = 0; i < 250; i++) {
        char* id = uid(i);
        CHECK_INT(tu_set_status(id, 1, "e1"), 0);
        free(id);
    }
    CHECK(TU_STATUS_WAIT(&ev_st, base, "u249", CS, "e1", 0) >= 0);
    self_sentinel("evict1");
    int seen[250] = {0};
    collect(&ev_st, base, SID, CS, "e1", seen, 250);
    int early = 0, late_missing = 0, late_dup = 0;
    for (int i = 0; i < 50; i++) early += seen[i];
    for (int i = 50; i < 250; i++) {
        if (seen[i] == 0) late_missing++;
        if (seen[i] > 1) late_dup++;
    }
    CHECK_INT(early, 0);
    CHECK_INT(late_missing, 0);
    CHECK_INT(late_dup, 0);

    /* re-subscribing keeps the place; the 201st evicts the earliest */
    TU_EXPECT(TIMUnsubscribeUserStatus, "[]", 0, NULL);
    ids = id_range(0, 200);
    TU_EXPECT(TIMSubscribeUserStatus, ids, 0, NULL);
    free(ids);
    TU_EXPECT(TIMSubscribeUserStatus, "[\"u000\"]", 0, NULL);
    TU_EXPECT(TIMSubscribeUserStatus, "[\"u200\"]", 0, NULL);
    base = tu_ev_count(&ev_st);
    CHECK_INT(tu_set_status("u000", 1, "e2"), 0);
    CHECK_INT(tu_set_status("u001", 1, "e2"), 0);
    CHECK_INT(tu_set_status("u199", 1, "e2"), 0);
    CHECK_INT(tu_set_status("u200", 1, "e2"), 0);
    CHECK(TU_STATUS_WAIT(&ev_st, base, "u200", CS, "e2", 0) >= 0);
    self_sentinel("evict2");
    CHECK(tu_ev_find(&ev_st, base, SID, "u000", NULL, NULL, 0, NULL) < 0);
    CHECK(tu_ev_find(&ev_st, base, SID, "u001", CS, "e2", 0, NULL) >= 0);
    CHECK(tu_ev_find(&ev_st, base, SID, "u199", CS, "e2", 0, NULL) >= 0);
    TU_EXPECT(TIMUnsubscribeUserStatus, NULL, 0, NULL);
}

/* Subscriptions end with logout; own login/logout are not reported; logout clears custom status. */
static void test_logout_ends_subscriptions(void) {
    TU_EXPECT(TIMSubscribeUserStatus, "[\"u020\"]", 0, NULL);
    TU_EXPECT(TIMSubscribeUserInfo, "[\"u020\"]", 0, NULL);
    TU_EXPECT(TIMSetSelfStatus, "{\"user_status_custom_status\":\"keepme\"}", 0, NULL);
    self_sentinel("before-logout");
    size_t base = tu_ev_count(&ev_st);
    size_t ibase = tu_ev_count(&ev_info);
    TU_LOGOUT_OK();
    TU_LOGIN_OK("me");
    EXPECT_STATUS("me", 1, "", 1);
    CHECK_INT(tu_set_status("u020", 1, "after"), 0);
    CHECK_INT(tu_portrait_set_str("u020", "Tag_Profile_IM_Nick", "after"), 0);
    long idx = self_sentinel("sent-after");
    CHECK(tu_ev_find(&ev_st, base, SID, "u020", NULL, NULL, 0, NULL) < 0);
    /* the first event about me after the relogin is the sentinel */
    CHECK_INT(tu_ev_find(&ev_st, base, SID, "me", NULL, NULL, 0, NULL), idx);
    /* info: subscribe another user, change both, wait for that one */
    TU_EXPECT(TIMSubscribeUserInfo, "[\"u021\"]", 0, NULL);
    CHECK_INT(tu_portrait_set_str("u020", "Tag_Profile_IM_Nick", "after2"), 0);
    CHECK_INT(tu_portrait_set_str("u021", "Tag_Profile_IM_Nick", "after2"), 0);
    CHECK(tu_ev_wait(&ev_info, ibase, PID, "u021", "user_profile_nick_name", "after2", 0, NULL, 5000) >= 0);
    CHECK(tu_ev_find(&ev_info, ibase, PID, "u020", NULL, NULL, 0, NULL) < 0);
    TU_EXPECT(TIMUnsubscribeUserInfo, NULL, 0, NULL);
}

/* ---------------------------------------------------------------------------
 * TIMSubscribeUserInfo / TIMUnsubscribeUserInfo
 * ------------------------------------------------------------------------- */

static long info_sentinel(const char* value) {
    /* u299 is kept subscribed during these tests as the sentinel */
    size_t base = tu_ev_count(&ev_info);
    CHECK_INT(tu_portrait_set_str("u299", "Tag_Profile_IM_Nick", value), 0);
    long idx = tu_ev_wait(&ev_info, base, PID, "u299", "user_profile_nick_name", value, 0, NULL, 5000);
    th_check(idx >= 0, __FILE__, __LINE__, "sentinel profile change reported", "%s", value);
    return idx;
}

static void test_info_subscriptions(void) {
    test_subscribe_rules(TIMSubscribeUserInfo, TIMUnsubscribeUserInfo);
    TU_EXPECT(TIMSubscribeUserInfo, "[\"u030\"]", 0, NULL);
    size_t base = tu_ev_count(&ev_info);
    CHECK_INT(tu_portrait_set_str("u030", "Tag_Profile_IM_Nick", "Nick30"), 0);
    WAIT_ONE_INFO(base, "u030", "user_profile_nick_name", "Nick30");
    /* status changes do not reach the info callback, profile changes do not reach the status callback */
    size_t sbase = tu_ev_count(&ev_st);
    CHECK_INT(tu_set_status("u030", 1, "st30"), 0);
    CHECK_INT(tu_portrait_set_str("u030", "Tag_Profile_IM_Nick", "Nick30b"), 0);
    CHECK(tu_ev_wait(&ev_info, base, PID, "u030", "user_profile_nick_name", "Nick30b", 0, NULL, 5000) >= 0);
    self_sentinel("info-vs-status");
    CHECK(tu_ev_find(&ev_st, sbase, SID, "u030", NULL, NULL, 0, NULL) < 0);
    /* unsubscribe one */
    TU_EXPECT(TIMSubscribeUserInfo, "[\"u299\"]", 0, NULL);
    TU_EXPECT(TIMUnsubscribeUserInfo, "[\"u030\"]", 0, NULL);
    base = tu_ev_count(&ev_info);
    CHECK_INT(tu_portrait_set_str("u030", "Tag_Profile_IM_Nick", "Nick30c"), 0);
    info_sentinel("s1");
    CHECK(tu_ev_find(&ev_info, base, PID, "u030", NULL, NULL, 0, NULL) < 0);
    /* unsubscribe all: NULL, "" and "[]" (the sentinel comes from the status side) */
    const char* all[] = {NULL, "", "[]"};
    for (int k = 0; k < 3; k++) {
        TU_EXPECT(TIMSubscribeUserInfo, "[\"u031\"]", 0, NULL);
        TU_EXPECT(TIMUnsubscribeUserInfo, all[k], 0, NULL);
        TU_EXPECT(TIMSubscribeUserInfo, "[\"u299\"]", 0, NULL);
        base = tu_ev_count(&ev_info);
        char v[16];
        snprintf(v, sizeof v, "iall%d", k);
        CHECK_INT(tu_portrait_set_str("u031", "Tag_Profile_IM_Nick", v), 0);
        info_sentinel(v);
        th_check(tu_ev_find(&ev_info, base, PID, "u031", NULL, NULL, 0, NULL) < 0, __FILE__, __LINE__,
                 "info unsubscribe all", "variant %d", k);
    }
    /* 250 in one call: the last 200 remain */
    TU_EXPECT(TIMUnsubscribeUserInfo, NULL, 0, NULL);
    char* ids = id_range(0, 250);
    TU_EXPECT(TIMSubscribeUserInfo, ids, 0, NULL);
    free(ids);
    base = tu_ev_count(&ev_info);
    for (int i = 0; i < 250; i++) {
        char* id = uid(i);
        CHECK_INT(tu_portrait_set_str(id, "Tag_Profile_IM_Nick", "n1"), 0);
        free(id);
    }
    CHECK(tu_ev_wait(&ev_info, base, PID, "u249", "user_profile_nick_name", "n1", 0, NULL, 5000) >= 0);
    self_sentinel("info-evict");
    int seen[250] = {0};
    collect(&ev_info, base, PID, "user_profile_nick_name", "n1", seen, 250);
    int early = 0, late_missing = 0;
    for (int i = 0; i < 50; i++) early += seen[i];
    for (int i = 50; i < 250; i++)
        if (seen[i] != 1) late_missing++;
    CHECK_INT(early, 0);
    CHECK_INT(late_missing, 0);
    TU_EXPECT(TIMUnsubscribeUserInfo, NULL, 0, NULL);
}

int main(void) {
    tu_ev_init(&ev_st);
    tu_ev_init(&ev_info);
    CHECK_INT(TIMInit(APPID, "{\"timref_config_device_name\":\"" DEVICE "\"}"), TIM_SUCC);
    TIMSetUserStatusChangedCallback(tu_ev_cb, &ev_st);
    TIMSetUserInfoChangedCallback(tu_ev_cb, &ev_info);
    tu_import_range("u", 0, 300);
    TU_LOGIN_OK("me");

    test_get_status();
    test_set_self_status();
    test_status_subscriptions();
    test_status_eviction();
    test_logout_ends_subscriptions();
    test_info_subscriptions();

    CHECK_INT(ev_st.on_main + ev_info.on_main, 0);
    CHECK_INT(TIMUninit(), TIM_SUCC);
    TIMSetUserStatusChangedCallback(NULL, NULL);
    TIMSetUserInfoChangedCallback(NULL, NULL);
    tu_ev_free(&ev_st);
    tu_ev_free(&ev_info);
    return th_finish();
}
