/*
 * test_vendor_samples.c - twins of the vendor's C API documentation samples.
 *
 * Each twin does what one documented sample does (same function, same JSON
 * keys through the header constants, same values) and checks what the vendor
 * documentation promises for it: callback code 0 (ERR_SUCC), json_params
 * shaped as documented (an array of UserProfile or UserStatus objects), the
 * event callbacks, and that nothing arrives when nothing should.  The samples
 * build their argument with a JSON library's styled (indented) output; the
 * twins send indented JSON too.
 */
#include <stdlib.h>

#include "th_util.h"

#define APPID 1420
#define ME "sample_me"

static tu_ev ev_self;   /* TIMSelfInfoUpdatedCallback: one UserProfile object per event   */
static tu_ev ev_status; /* TIMUserStatusChangedCallback: an array of UserStatus per event  */

/* The argument as the samples produce it: styled JSON text (caller frees). */
static char* styled(json_t* j) {
    char* s = json_dumps(j, JSON_INDENT(3) | JSON_ENCODE_ANY);
    json_decref(j);
    if (!s) abort();
    return s;
}

/* ["a", "b", ...] */
static json_t* id_list(const char* const* ids, size_t n) {
    json_t* a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_string(ids[i]));
    return a;
}

/* Run f(arg), free arg, check ERR_SUCC; returns the decoded json_params (or NULL). */
static json_t* run_ok_at(int line, const char* what, tu_fn f, char* arg) {
    th_call* c = tu_run(f, arg);
    free(arg);
    th_check(c->code == ERR_SUCC, __FILE__, line, what, "code %d desc \"%s\"", (int)c->code,
             c->desc ? c->desc : "");
    json_t* out = c->code == ERR_SUCC ? tu_parse(c->json) : NULL;
    th_call_free(c);
    return out;
}
#define RUN_OK(f, arg) run_ok_at(__LINE__, #f, (f), (arg))

/* Run f(arg), free arg, check ERR_SUCC and json_params "" (calls that have no result). */
static void run_ok_empty_at(int line, const char* what, tu_fn f, char* arg) {
    th_call* c = tu_run(f, arg);
    free(arg);
    th_check(c->code == ERR_SUCC, __FILE__, line, what, "code %d desc \"%s\"", (int)c->code,
             c->desc ? c->desc : "");
    th_check(c->json && c->json[0] == 0, __FILE__, line, what, "json_params \"%s\", want \"\"",
             c->json ? c->json : "(null)");
    th_call_free(c);
}
#define RUN_OK_EMPTY(f, arg) run_ok_empty_at(__LINE__, #f, (f), (arg))

/* One entry of kTIMUserProfileItemCustomStringArray, written with the alias keys. */
static json_t* custom_entry(const char* key, const char* value) {
    json_t* c = json_object();
    json_object_set_new(c, kTIMUserProfileCustemStringInfoKey, json_string(key));
    json_object_set_new(c, kTIMUserProfileCustemStringInfoValue, json_string(value));
    return c;
}

/* The value of custom key `full_key` in a UserProfile's custom array, read with the alias keys. */
static const char* custom_value(json_t* profile, const char* full_key, int* count) {
    json_t* arr = json_object_get(profile, kTIMUserProfileCustomStringArray);
    const char* found = NULL;
    int n = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t* e = json_array_get(arr, i);
        const char* k = tu_jstr(e, kTIMUserProfileCustemStringInfoKey);
        if (k && strcmp(k, full_key) == 0) {
            found = tu_jstr(e, kTIMUserProfileCustemStringInfoValue);
            n++;
        }
    }
    if (count) *count = n;
    return found;
}

/* Every UserProfile key the vendor documents, with its JSON type. */
static void check_profile_shape_at(int line, json_t* p) {
    const char* const strs[] = {kTIMUserProfileIdentifier,    kTIMUserProfileNickName,
                                       kTIMUserProfileFaceUrl,       kTIMUserProfileSelfSignature,
                                       kTIMUserProfileLocation};
    const char* const ints[] = {kTIMUserProfileGender,   kTIMUserProfileAddPermission,
                                       kTIMUserProfileLanguage, kTIMUserProfileBirthDay,
                                       kTIMUserProfileLevel,    kTIMUserProfileRole};
    th_check(json_is_object(p), __FILE__, line, "a UserProfile object", NULL);
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        th_check(json_is_string(json_object_get(p, strs[i])), __FILE__, line, "string key", "%s", strs[i]);
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        th_check(json_is_integer(json_object_get(p, ints[i])), __FILE__, line, "integer key", "%s", ints[i]);
    th_check(json_is_array(json_object_get(p, kTIMUserProfileCustomStringArray)), __FILE__, line,
             "custom string array", NULL);
}
#define CHECK_PROFILE_SHAPE(p) check_profile_shape_at(__LINE__, (p))

/* A UserStatus object: identifier, type, custom status, online devices (an array). */
static void check_status_at(int line, json_t* s, const char* id, int type, const char* custom) {
    th_check(json_is_object(s), __FILE__, line, "a UserStatus object", NULL);
    const char* got = tu_jstr(s, kTIMUserStatusIdentifier);
    th_check(got && strcmp(got, id) == 0, __FILE__, line, "user_status_identifier", "\"%s\" want \"%s\"",
             got ? got : "(null)", id);
    th_check(tu_jint(s, kTIMUserStatusStatusType) == type, __FILE__, line, "user_status_status_type",
             "%s: %lld want %d", id, tu_jint(s, kTIMUserStatusStatusType), type);
    const char* cs = tu_jstr(s, kTIMUserStatusCustomStatus);
    th_check(cs && strcmp(cs, custom) == 0, __FILE__, line, "user_status_custom_status", "%s: \"%s\" want \"%s\"",
             id, cs ? cs : "(null)", custom);
    json_t* dev = json_object_get(s, KTIMUserStatusOnlineDevices);
    th_check(json_is_array(dev), __FILE__, line, "user_status_online_devices is an array", "%s", id);
    if (type == kTIMUserStatusType_Online)
        th_check(json_array_size(dev) >= 1, __FILE__, line, "an Online user lists a device", "%s", id);
    else
        th_check(json_array_size(dev) == 0, __FILE__, line, "no devices when not Online", "%s", id);
}
#define CHECK_STATUS(s, id, type, custom) check_status_at(__LINE__, (s), (id), (type), (custom))

/* The status event at idx came: an array of UserStatus whose element about id is (id, type, custom). */
static void check_status_event_at(int line, long idx, const char* id, int type, const char* custom) {
    th_check(idx >= 0, __FILE__, line, "the status change was reported", "%s", id);
    if (idx < 0) return;
    json_t* d = tu_ev_doc(&ev_status, (size_t)idx);
    th_check(json_is_array(d), __FILE__, line, "an array of UserStatus", "%s", id);
    for (size_t i = 0; i < json_array_size(d); i++) {
        json_t* s = json_array_get(d, i);
        if (tu_obj_match(s, kTIMUserStatusIdentifier, id, NULL, NULL, 0)) check_status_at(line, s, id, type, custom);
    }
    json_decref(d);
}
#define CHECK_STATUS_EVENT(idx, id, type, custom) check_status_event_at(__LINE__, (idx), (id), (type), (custom))

/* My own custom status change; its event proves every earlier event was delivered. */
static void status_sentinel(const char* value) {
    size_t base = tu_ev_count(&ev_status);
    RUN_OK_EMPTY(TIMSetSelfStatus, styled(json_pack("{s:s}", kTIMUserStatusCustomStatus, value)));
    long idx = TU_STATUS_WAIT(&ev_status, base, ME, kTIMUserStatusCustomStatus, value, 0);
    th_check(idx >= 0, __FILE__, __LINE__, "own status change reported", "%s", value);
}

/* Was anything about `id` reported since base? */
static int status_reported(size_t base, const char* id) {
    return tu_ev_find(&ev_status, base, kTIMUserStatusIdentifier, id, NULL, NULL, 0, NULL) >= 0;
}

/* ---------------------------------------------------------------------------
 * Profiles
 * ------------------------------------------------------------------------- */

/* TIMProfileGetUserProfileList sample: the profiles of user1 and user2, force_update false. */
static void twin_get_user_profile_list(void) {
    CHECK_INT(tu_portrait_set_str("user1", "Tag_Profile_IM_Nick", "User One"), 0);
    CHECK_INT(tu_portrait_set_str("user2", "Tag_Profile_IM_Nick", "User Two"), 0);

    json_t* param = json_object();
    json_object_set_new(param, kTIMFriendShipGetProfileListParamForceUpdate, json_false());
    const char* ids[] = {"user1", "user2"};
    json_object_set_new(param, kTIMFriendShipGetProfileListParamIdentifierArray, id_list(ids, 2));
    json_t* arr = RUN_OK(TIMProfileGetUserProfileList, styled(param));

    CHECK(json_is_array(arr));
    CHECK_INT(json_array_size(arr), 2);
    int seen1 = 0, seen2 = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t* p = json_array_get(arr, i);
        CHECK_PROFILE_SHAPE(p);
        const char* id = tu_jstr(p, kTIMUserProfileIdentifier);
        const char* nick = tu_jstr(p, kTIMUserProfileNickName);
        if (id && strcmp(id, "user1") == 0) {
            seen1++;
            CHECK_STR(nick, "User One");
        } else if (id && strcmp(id, "user2") == 0) {
            seen2++;
            CHECK_STR(nick, "User Two");
        } else {
            th_check(0, __FILE__, __LINE__, "only the users asked for", "got \"%s\"", id ? id : "(null)");
        }
        /* no custom field was set: none is returned */
        CHECK_INT(json_array_size(json_object_get(p, kTIMUserProfileCustomStringArray)), 0);
    }
    CHECK_INT(seen1, 1);
    CHECK_INT(seen2, 1);
    json_decref(arr);

    /* the note under the sample: anyone's profile, your own included */
    json_t* mine = json_object();
    json_object_set_new(mine, kTIMFriendShipGetProfileListParamForceUpdate, json_false());
    const char* me[] = {ME};
    json_object_set_new(mine, kTIMFriendShipGetProfileListParamIdentifierArray, id_list(me, 1));
    arr = RUN_OK(TIMProfileGetUserProfileList, styled(mine));
    CHECK_INT(json_array_size(arr), 1);
    CHECK_PROFILE_SHAPE(json_array_get(arr, 0));
    CHECK_STR(tu_jstr(json_array_get(arr, 0), kTIMUserProfileIdentifier), ME);
    json_decref(arr);
}

/* Read my own profile back (new reference). */
static json_t* my_profile(void) { return TU_PROFILE(ME, ERR_SUCC); }

/*
 * TIMProfileModifySelfUserProfile sample: nick, gender female, add permission
 * NeedConfirm and the custom field "Str" written with the alias keys
 * kTIMUserProfileCustemStringInfoKey/Value, the key without its prefix.
 */
static void twin_modify_self_user_profile(void) {
    json_t* modify_item = json_object();
    json_object_set_new(modify_item, kTIMUserProfileItemNickName, json_string("change my nick name"));
    json_object_set_new(modify_item, kTIMUserProfileItemGender, json_integer(kTIMGenderType_Female));
    json_object_set_new(modify_item, kTIMUserProfileItemAddPermission,
                        json_integer(kTIMProfileAddPermission_NeedConfirm));
    json_t* customs = json_array();
    json_array_append_new(customs, custom_entry("Str", "my define data"));
    json_object_set_new(modify_item, kTIMUserProfileItemCustomStringArray, customs);

    size_t base = tu_ev_count(&ev_self);
    RUN_OK_EMPTY(TIMProfileModifySelfUserProfile, styled(modify_item));

    /* TIMSelfInfoUpdatedCallback: my new profile, one UserProfile object */
    long idx = tu_ev_wait(&ev_self, base, kTIMUserProfileIdentifier, ME, kTIMUserProfileNickName,
                          "change my nick name", 0, NULL, 5000);
    CHECK(idx >= 0);
    if (idx >= 0) {
        json_t* ev = tu_ev_doc(&ev_self, (size_t)idx);
        CHECK_PROFILE_SHAPE(ev);
        CHECK_INT(tu_jint(ev, kTIMUserProfileGender), kTIMGenderType_Female);
        CHECK_INT(tu_jint(ev, kTIMUserProfileAddPermission), kTIMProfileAddPermission_NeedConfirm);
        CHECK_STR(custom_value(ev, "Tag_Profile_Custom_Str", NULL), "my define data");
        json_decref(ev);
    }

    /* read back: the custom key comes back with its Tag_Profile_Custom_ prefix */
    json_t* p = my_profile();
    CHECK_PROFILE_SHAPE(p);
    CHECK_STR(tu_jstr(p, kTIMUserProfileNickName), "change my nick name");
    CHECK_INT(tu_jint(p, kTIMUserProfileGender), kTIMGenderType_Female);
    CHECK_INT(tu_jint(p, kTIMUserProfileAddPermission), kTIMProfileAddPermission_NeedConfirm);
    int n = 0;
    CHECK_STR(custom_value(p, "Tag_Profile_Custom_Str", &n), "my define data");
    CHECK_INT(n, 1);
    json_decref(p);

    /* the note under the sample: the key may be given with its prefix too; same field */
    json_t* again = json_object();
    json_t* a2 = json_array();
    json_array_append_new(a2, custom_entry("Tag_Profile_Custom_Str", "my define data 2"));
    json_object_set_new(again, kTIMUserProfileItemCustomStringArray, a2);
    RUN_OK_EMPTY(TIMProfileModifySelfUserProfile, styled(again));
    p = my_profile();
    CHECK_STR(custom_value(p, "Tag_Profile_Custom_Str", &n), "my define data 2");
    CHECK_INT(n, 1);
    CHECK_INT(json_array_size(json_object_get(p, kTIMUserProfileCustomStringArray)), 1);
    CHECK_STR(tu_jstr(p, kTIMUserProfileNickName), "change my nick name"); /* untouched */
    json_decref(p);
}

/*
 * TIMProfileModifySelfUserProfile sample, given the custom keys of the Web SDK
 * updateMyProfile sample (Tag_Profile_Custom_Test1 and Tag_Profile_Custom_Test2)
 * with a nick: letters, digits and underscores are valid in a custom key.
 */
static void twin_modify_with_web_sample_keys(void) {
    json_t* item = json_object();
    json_object_set_new(item, kTIMUserProfileItemNickName, json_string("My profile"));
    json_t* customs = json_array();
    const char* keys[] = {"Tag_Profile_Custom_Test1", "Tag_Profile_Custom_Test2"};
    const char* vals[] = {"My custom profile 1", "My custom profile 2"};
    for (int i = 0; i < 2; i++) json_array_append_new(customs, custom_entry(keys[i], vals[i]));
    json_object_set_new(item, kTIMUserProfileItemCustomStringArray, customs);

    size_t base = tu_ev_count(&ev_self);
    RUN_OK_EMPTY(TIMProfileModifySelfUserProfile, styled(item));
    long idx = tu_ev_wait(&ev_self, base, kTIMUserProfileIdentifier, ME, kTIMUserProfileNickName, "My profile", 0,
                          NULL, 5000);
    CHECK(idx >= 0);
    if (idx >= 0) {
        json_t* ev = tu_ev_doc(&ev_self, (size_t)idx);
        CHECK_STR(custom_value(ev, keys[0], NULL), vals[0]);
        CHECK_STR(custom_value(ev, keys[1], NULL), vals[1]);
        json_decref(ev);
    }
    json_t* p = my_profile();
    CHECK_STR(tu_jstr(p, kTIMUserProfileNickName), "My profile");
    CHECK_STR(custom_value(p, keys[0], NULL), vals[0]);
    CHECK_STR(custom_value(p, keys[1], NULL), vals[1]);
    json_decref(p);
}

/* ---------------------------------------------------------------------------
 * User status
 * ------------------------------------------------------------------------- */

/* TIMGetUserStatus sample: the status of user1 and user2. */
static void twin_get_user_status(void) {
    const char* ids[] = {"user1", "user2"};
    json_t* arr = RUN_OK(TIMGetUserStatus, styled(id_list(ids, 2)));
    CHECK(json_is_array(arr));
    CHECK_INT(json_array_size(arr), 2);
    int seen1 = 0, seen2 = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t* s = json_array_get(arr, i);
        const char* id = tu_jstr(s, kTIMUserStatusIdentifier);
        if (id && strcmp(id, "user1") == 0) seen1++;
        else if (id && strcmp(id, "user2") == 0) seen2++;
        /* never logged in: UnLogined */
        CHECK_STATUS(s, id ? id : "(null)", kTIMUserStatusType_UnLogined, "");
    }
    CHECK_INT(seen1, 1);
    CHECK_INT(seen2, 1);
    json_decref(arr);

    /* the note under the sample: pass your own ID to read your own status */
    const char* me[] = {ME};
    arr = RUN_OK(TIMGetUserStatus, styled(id_list(me, 1)));
    CHECK_INT(json_array_size(arr), 1);
    CHECK_STATUS(json_array_get(arr, 0), ME, kTIMUserStatusType_Online, "");
    json_decref(arr);
}

/* TIMSetSelfStatus sample: set my custom status to "custom status". */
static void twin_set_self_status(void) {
    size_t base = tu_ev_count(&ev_status);
    json_t* st = json_object();
    json_object_set_new(st, kTIMUserStatusCustomStatus, json_string("custom status"));
    RUN_OK_EMPTY(TIMSetSelfStatus, styled(st));

    /* my own custom status change reaches TIMUserStatusChangedCallback, an array of UserStatus */
    long idx = tu_ev_wait(&ev_status, base, kTIMUserStatusIdentifier, ME, kTIMUserStatusCustomStatus,
                          "custom status", 0, NULL, 5000);
    CHECK_STATUS_EVENT(idx, ME, kTIMUserStatusType_Online, "custom status");
    json_t* s = TU_STATUS(ME, ERR_SUCC);
    if (s) CHECK_STATUS(s, ME, kTIMUserStatusType_Online, "custom status");
    json_decref(s);
}

/* TIMSubscribeUserStatus sample: subscribe to user1 and user2, then watch their changes. */
static void twin_subscribe_user_status(void) {
    const char* ids[] = {"user1", "user2"};
    RUN_OK_EMPTY(TIMSubscribeUserStatus, styled(id_list(ids, 2)));

    /* user1 comes online with a custom status, user2 changes its custom status */
    size_t base = tu_ev_count(&ev_status);
    CHECK_INT(tu_set_status("user1", kTIMUserStatusType_Online, "at lunch"), 0);
    long idx = tu_ev_wait(&ev_status, base, kTIMUserStatusIdentifier, "user1", kTIMUserStatusStatusType, NULL,
                          kTIMUserStatusType_Online, NULL, 5000);
    CHECK_STATUS_EVENT(idx, "user1", kTIMUserStatusType_Online, "at lunch");
    CHECK_INT(tu_set_status("user2", kTIMUserStatusType_UnLogined, "away"), 0);
    CHECK(TU_STATUS_WAIT(&ev_status, base, "user2", kTIMUserStatusCustomStatus, "away", 0) >= 0);
    /* user1 goes offline */
    CHECK_INT(tu_set_status("user1", kTIMUserStatusType_Offline, NULL), 0);
    CHECK(tu_ev_wait(&ev_status, base, kTIMUserStatusIdentifier, "user1", kTIMUserStatusStatusType, NULL,
                     kTIMUserStatusType_Offline, NULL, 5000) >= 0);

    /* a user nobody subscribed to is not reported */
    base = tu_ev_count(&ev_status);
    CHECK_INT(tu_set_status("user3", kTIMUserStatusType_Online, "unwatched"), 0);
    status_sentinel("after-user3");
    CHECK(!status_reported(base, "user3"));

    /* the notes: subscribing to yourself is not supported */
    const char* me[] = {ME};
    char* self_arg = styled(id_list(me, 1));
    th_call* c = tu_run(TIMSubscribeUserStatus, self_arg);
    free(self_arg);
    CHECK(c->code != ERR_SUCC);
    th_call_free(c);

    /* the notes: at most 200 are kept; beyond that the earliest subscribed is dropped */
    RUN_OK_EMPTY(TIMUnsubscribeUserStatus, NULL);
    json_t* many = json_array();
    for (int i = 0; i < 200; i++) {
        char id[16];
        snprintf(id, sizeof id, "sub%03d", i);
        json_array_append_new(many, json_string(id));
    }
    RUN_OK_EMPTY(TIMSubscribeUserStatus, styled(many));
    const char* one_more[] = {"sub200"};
    RUN_OK_EMPTY(TIMSubscribeUserStatus, styled(id_list(one_more, 1)));
    base = tu_ev_count(&ev_status);
    CHECK_INT(tu_set_status("sub000", kTIMUserStatusType_Online, "evicted"), 0);
    CHECK_INT(tu_set_status("sub001", kTIMUserStatusType_Online, "kept"), 0);
    CHECK_INT(tu_set_status("sub200", kTIMUserStatusType_Online, "newest"), 0);
    CHECK(TU_STATUS_WAIT(&ev_status, base, "sub001", kTIMUserStatusCustomStatus, "kept", 0) >= 0);
    CHECK(TU_STATUS_WAIT(&ev_status, base, "sub200", kTIMUserStatusCustomStatus, "newest", 0) >= 0);
    status_sentinel("after-evict");
    CHECK(!status_reported(base, "sub000"));
    RUN_OK_EMPTY(TIMUnsubscribeUserStatus, NULL);
}

/* TIMUnsubscribeUserStatus sample: unsubscribe from user1 and user2; nothing more arrives. */
static void twin_unsubscribe_user_status(void) {
    const char* ids[] = {"user1", "user2"};
    RUN_OK_EMPTY(TIMSubscribeUserStatus, styled(id_list(ids, 2)));
    size_t base = tu_ev_count(&ev_status);
    CHECK_INT(tu_set_status("user1", kTIMUserStatusType_Online, "before"), 0);
    CHECK(TU_STATUS_WAIT(&ev_status, base, "user1", kTIMUserStatusCustomStatus, "before", 0) >= 0);

    RUN_OK_EMPTY(TIMUnsubscribeUserStatus, styled(id_list(ids, 2)));
    base = tu_ev_count(&ev_status);
    CHECK_INT(tu_set_status("user1", kTIMUserStatusType_Online, "after"), 0);
    CHECK_INT(tu_set_status("user2", kTIMUserStatusType_Online, "after"), 0);
    CHECK_INT(tu_set_status("user1", kTIMUserStatusType_UnLogined, NULL), 0);
    status_sentinel("after-unsubscribe");
    CHECK(!status_reported(base, "user1"));
    CHECK(!status_reported(base, "user2"));

    /* the note: an empty list or nullptr cancels every subscription */
    const char* all[] = {NULL, "[]", ""};
    for (int k = 0; k < 3; k++) {
        RUN_OK_EMPTY(TIMSubscribeUserStatus, styled(id_list(ids, 2)));
        th_call* c = tu_run(TIMUnsubscribeUserStatus, all[k]);
        th_check(c->code == ERR_SUCC, __FILE__, __LINE__, "unsubscribe all", "variant %d: code %d", k,
                 (int)c->code);
        th_call_free(c);
        base = tu_ev_count(&ev_status);
        char v[16];
        snprintf(v, sizeof v, "all%d", k);
        CHECK_INT(tu_set_status("user1", kTIMUserStatusType_Online, v), 0);
        CHECK_INT(tu_set_status("user2", kTIMUserStatusType_Online, v), 0);
        status_sentinel(v);
        th_check(!status_reported(base, "user1") && !status_reported(base, "user2"), __FILE__, __LINE__,
                 "nothing after unsubscribing everyone", "variant %d", k);
    }
}

int main(void) {
    tu_ev_init(&ev_self);
    tu_ev_init(&ev_status);
    CHECK_INT(TIMInit(APPID, NULL), TIM_SUCC);
    TIMSetSelfInfoUpdatedCallback(tu_ev_cb, &ev_self);
    TIMSetUserStatusChangedCallback(tu_ev_cb, &ev_status);
    tu_import("user1");
    tu_import("user2");
    tu_import("user3");
    tu_import_range("sub", 0, 201);
    TU_LOGIN_OK(ME);

    twin_get_user_profile_list();
    twin_modify_self_user_profile();
    twin_modify_with_web_sample_keys();
    twin_get_user_status();
    twin_set_self_status();
    twin_subscribe_user_status();
    twin_unsubscribe_user_status();

    CHECK_INT(ev_self.on_main + ev_status.on_main, 0);
    TU_LOGOUT_OK();
    CHECK_INT(TIMUninit(), TIM_SUCC);
    TIMSetSelfInfoUpdatedCallback(NULL, NULL);
    TIMSetUserStatusChangedCallback(NULL, NULL);
    tu_ev_free(&ev_self);
    tu_ev_free(&ev_status);
    return th_finish();
}
