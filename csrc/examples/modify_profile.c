/*
 * modify_profile.c - log in, change your own profile, and read it back.
 *
 * Usage:
 *   modify_profile DATA_DIR SDK_APP_ID USER_ID USER_SIG [OPTIONS]
 *
 *   DATA_DIR    the directory holding the local store (sdk_config_config_file_path).
 *               Programs that pass the same directory and SDK_APP_ID share one
 *               world.  "" keeps the store in memory, private to this process.
 *   SDK_APP_ID  the app's SDKAppID, a positive integer.
 *   USER_ID     the user to log in as (created on first login).
 *   USER_SIG    that user's UserSig.
 *
 * Options (each has a default, so none is needed):
 *   --nick TEXT                        nickname            (default "Example Nick")
 *   --gender unknown|male|female       gender              (default female)
 *   --signature TEXT                   self signature      (default "Hello from modify_profile")
 *   --add-permission any|confirm|deny  who may add you     (default confirm)
 *   --custom KEY=VALUE                 a custom field; give it up to 20 times
 *                                      (default: city=Paris and hobby=chess).  KEY is
 *                                      1..8 letters, digits or underscores; the
 *                                      "Tag_Profile_Custom_" prefix is
 *                                      added when missing.  The app may have to allow
 *                                      the key first (the IM console does that).
 *
 * The program sets all of these in one TIMProfileModifySelfUserProfile call
 * (all or nothing), waits for the call and for the TIMSelfInfoUpdatedCallback
 * that announces the new profile, then reads the profile back with
 * TIMProfileGetUserProfileList and prints it:
 *
 *   self info updated: nick Example Nick
 *   user alice
 *     nick: Example Nick
 *     gender: Female
 *     signature: Hello from modify_profile
 *     add permission: NeedConfirm
 *     custom: Tag_Profile_Custom_city = Paris
 *     custom: Tag_Profile_Custom_hobby = chess
 *
 * Exit status: 0 on success, 1 when a call failed, 2 on bad arguments.
 *
 * Only the vendor interface (TIMCloud.h) is used, so this program builds
 * unchanged against the vendor's SDK.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "TIMCloud.h"

#define CUSTOM_PREFIX "Tag_Profile_Custom_"
#define MAX_CUSTOM 20
#define EVENT_TIMEOUT_SECONDS 10

/* ---------------------------------------------------------------------------
 * Waiting for one asynchronous call
 * ------------------------------------------------------------------------- */

/* The outcome of one call, filled in by on_call_done on the library's thread. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int32_t code;
    char* desc; /* copies: the library's strings live only during the callback */
    char* json;
} Call;

static void call_init(Call* c) {
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->done = 0;
    c->code = 0;
    c->desc = NULL;
    c->json = NULL;
}

static void call_destroy(Call* c) {
    free(c->desc);
    free(c->json);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
}

static char* copy_str(const char* s) {
    return strdup(s ? s : "");
}

/* The TIMCommCallback: copy the results, then wake the waiting thread. */
static void on_call_done(int32_t code, const char* desc, const char* json_params,
                         const void* user_data) {
    Call* c = (Call*)user_data;
    pthread_mutex_lock(&c->mu);
    c->code = code;
    c->desc = copy_str(desc);
    c->json = copy_str(json_params);
    c->done = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/*
 * Wait for the call whose API function returned rc.  The callback fires only
 * when rc is TIM_SUCC, so any other rc is reported at once.  Returns 1 when
 * the call succeeded (code 0), 0 after printing why it did not.
 */
static int call_wait(Call* c, int rc, const char* what) {
    if (rc != TIM_SUCC) {
        fprintf(stderr, "%s: refused (return value %d)\n", what, rc);
        return 0;
    }
    pthread_mutex_lock(&c->mu);
    while (!c->done) pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    if (c->code != ERR_SUCC) {
        fprintf(stderr, "%s: failed with code %" PRId32 ": %s\n", what, c->code, c->desc);
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------------------
 * Waiting for the TIMSelfInfoUpdatedCallback event
 * ------------------------------------------------------------------------- */

/* Events are not tied to a call, so they are counted: wait for the count to grow. */
typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* uses CLOCK_MONOTONIC, for the timed wait */
    int count;         /* events seen so far */
    char* json;        /* the last event's UserProfile object */
} SelfInfoEvents;

static void events_init(SelfInfoEvents* e) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&e->cv, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&e->mu, NULL);
    e->count = 0;
    e->json = NULL;
}

static void events_destroy(SelfInfoEvents* e) {
    free(e->json);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
}

/* The TIMSelfInfoUpdatedCallback: runs on the library's thread. */
static void on_self_info_updated(const char* json_user_profile, const void* user_data) {
    SelfInfoEvents* e = (SelfInfoEvents*)user_data;
    pthread_mutex_lock(&e->mu);
    free(e->json);
    e->json = copy_str(json_user_profile);
    e->count++;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

/* Wait until more than `seen` events arrived; returns a copy of the last one, or NULL. */
static char* events_wait(SelfInfoEvents* e, int seen, int timeout_seconds) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_seconds;
    char* json = NULL;
    pthread_mutex_lock(&e->mu);
    int rc = 0;
    while (e->count <= seen && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&e->cv, &e->mu, &deadline);
    if (e->count > seen) json = copy_str(e->json);
    pthread_mutex_unlock(&e->mu);
    return json;
}

/* ---------------------------------------------------------------------------
 * Profiles
 * ------------------------------------------------------------------------- */

static const char* str_field(json_t* obj, const char* key) {
    const char* s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static const char* gender_name(json_int_t gender) {
    switch (gender) {
    case kTIMGenderType_Male: return "Male";
    case kTIMGenderType_Female: return "Female";
    default: return "Unknown";
    }
}

static const char* add_permission_name(json_int_t permission) {
    switch (permission) {
    case kTIMProfileAddPermission_AllowAny: return "AllowAny";
    case kTIMProfileAddPermission_NeedConfirm: return "NeedConfirm";
    case kTIMProfileAddPermission_DenyAny: return "DenyAny";
    default: return "Unknown";
    }
}

static void print_profile(json_t* profile) {
    printf("user %s\n", str_field(profile, kTIMUserProfileIdentifier));
    printf("  nick: %s\n", str_field(profile, kTIMUserProfileNickName));
    printf("  gender: %s\n",
           gender_name(json_integer_value(json_object_get(profile, kTIMUserProfileGender))));
    printf("  signature: %s\n", str_field(profile, kTIMUserProfileSelfSignature));
    /* Only your own profile shows your add permission. */
    printf("  add permission: %s\n",
           add_permission_name(
               json_integer_value(json_object_get(profile, kTIMUserProfileAddPermission))));
    size_t i;
    json_t* item;
    json_array_foreach(json_object_get(profile, kTIMUserProfileCustomStringArray), i, item) {
        printf("  custom: %s = %s\n", str_field(item, kTIMUserProfileCustomStringInfoKey),
               str_field(item, kTIMUserProfileCustomStringInfoValue));
    }
}

/* What to change; filled from the command line. */
typedef struct {
    const char* nick;
    int gender;         /* enum TIMGenderType */
    const char* signature;
    int add_permission; /* enum TIMProfileAddPermission */
    json_t* custom;     /* array of {key, value} objects */
} Changes;

/*
 * The TIMProfileModifySelfUserProfile parameter, a UserProfileItem object:
 * {"user_profile_item_nick_name": "...", "user_profile_item_gender": 2, ...,
 *  "user_profile_item_custom_string_array": [{"user_profile_custom_string_info_key":
 *      "Tag_Profile_Custom_city", "user_profile_custom_string_info_value": "Paris"}, ...]}
 */
static char* modify_param(const Changes* ch) {
    /* "O" adds a reference to ch->custom (which the caller still owns). */
    json_t* item = json_pack("{s:s, s:i, s:s, s:i, s:O}",
                             kTIMUserProfileItemNickName, ch->nick,
                             kTIMUserProfileItemGender, ch->gender,
                             kTIMUserProfileItemSelfSignature, ch->signature,
                             kTIMUserProfileItemAddPermission, ch->add_permission,
                             kTIMUserProfileItemCustomStringArray, ch->custom);
    char* text = json_dumps(item, JSON_COMPACT);
    json_decref(item);
    return text; /* NULL when a text was not valid UTF-8 */
}

/* ---------------------------------------------------------------------------
 * The calls this program makes, each waited for
 * ------------------------------------------------------------------------- */

static int login(const char* user_id, const char* user_sig) {
    Call c;
    call_init(&c);
    int ok = call_wait(&c, TIMLogin(user_id, user_sig, on_call_done, &c), "TIMLogin");
    call_destroy(&c);
    return ok;
}

static int logout(void) {
    Call c;
    call_init(&c);
    int ok = call_wait(&c, TIMLogout(on_call_done, &c), "TIMLogout");
    call_destroy(&c);
    return ok;
}

static int modify_self(const Changes* ch) {
    char* param = modify_param(ch);
    if (!param) {
        fprintf(stderr, "a profile text is not valid UTF-8\n");
        return 0;
    }
    Call c;
    call_init(&c);
    /* The library copies param before the call returns: free it at once. */
    int rc = TIMProfileModifySelfUserProfile(param, on_call_done, &c);
    free(param);
    int ok = call_wait(&c, rc, "TIMProfileModifySelfUserProfile");
    call_destroy(&c);
    return ok;
}

/* Read one user's profile: {"friendship_getprofilelist_param_identifier_array": [id]}. */
static json_t* get_profile(const char* user_id) {
    json_t* param = json_pack("{s:[s]}", kTIMFriendShipGetProfileListParamIdentifierArray, user_id);
    char* param_text = json_dumps(param, JSON_COMPACT);
    json_decref(param);
    if (!param_text) return NULL;

    Call c;
    call_init(&c);
    int rc = TIMProfileGetUserProfileList(param_text, on_call_done, &c);
    free(param_text);
    json_t* profile = NULL;
    if (call_wait(&c, rc, "TIMProfileGetUserProfileList")) {
        json_error_t error;
        json_t* profiles = json_loads(c.json, 0, &error); /* an array of UserProfile */
        profile = json_incref(json_array_get(profiles, 0));
        json_decref(profiles);
        if (!json_is_object(profile)) fprintf(stderr, "unexpected result: %s\n", c.json);
    }
    call_destroy(&c);
    return profile;
}

/* ---------------------------------------------------------------------------
 * Command line
 * ------------------------------------------------------------------------- */

static void usage(const char* argv0) {
    fprintf(stderr,
            "usage: %s DATA_DIR SDK_APP_ID USER_ID USER_SIG [OPTIONS]\n"
            "  DATA_DIR    directory of the local store, shared by programs that use it\n"
            "              (\"\" keeps the store in memory)\n"
            "  SDK_APP_ID  the app's SDKAppID (a positive integer)\n"
            "  USER_ID     the user to log in as\n"
            "  USER_SIG    that user's UserSig\n"
            "options:\n"
            "  --nick TEXT                        (default \"Example Nick\")\n"
            "  --gender unknown|male|female       (default female)\n"
            "  --signature TEXT                   (default \"Hello from modify_profile\")\n"
            "  --add-permission any|confirm|deny  (default confirm)\n"
            "  --custom KEY=VALUE                 custom field, up to %d times\n"
            "                                     (default city=Paris hobby=chess)\n",
            argv0, MAX_CUSTOM);
}

static int parse_app_id(const char* text, uint64_t* out) {
    char* end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end != '\0' || v == 0 || text[0] == '-') return 0;
    *out = (uint64_t)v;
    return 1;
}

/* Add {"user_profile_custom_string_info_key": KEY, "..._value": VALUE} for "KEY=VALUE". */
static int add_custom(json_t* custom, const char* key_value) {
    const char* eq = strchr(key_value, '=');
    if (!eq || eq == key_value) return 0;
    int key_len = (int)(eq - key_value);
    int has_prefix = strncmp(key_value, CUSTOM_PREFIX, strlen(CUSTOM_PREFIX)) == 0;
    char key[128];
    if (snprintf(key, sizeof key, "%s%.*s", has_prefix ? "" : CUSTOM_PREFIX, key_len, key_value) >=
        (int)sizeof key)
        return 0;
    json_t* entry = json_pack("{s:s, s:s}", kTIMUserProfileCustomStringInfoKey, key,
                              kTIMUserProfileCustomStringInfoValue, eq + 1);
    return entry && json_array_append_new(custom, entry) == 0;
}

/* Parse the options after the four arguments; returns 0 on a bad option. */
static int parse_options(int argc, char** argv, Changes* ch) {
    for (int i = 5; i < argc; i += 2) {
        const char* opt = argv[i];
        const char* val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val) return 0;
        if (strcmp(opt, "--nick") == 0) {
            ch->nick = val;
        } else if (strcmp(opt, "--signature") == 0) {
            ch->signature = val;
        } else if (strcmp(opt, "--gender") == 0) {
            if (strcmp(val, "unknown") == 0) ch->gender = kTIMGenderType_Unknown;
            else if (strcmp(val, "male") == 0) ch->gender = kTIMGenderType_Male;
            else if (strcmp(val, "female") == 0) ch->gender = kTIMGenderType_Female;
            else return 0;
        } else if (strcmp(opt, "--add-permission") == 0) {
            if (strcmp(val, "any") == 0) ch->add_permission = kTIMProfileAddPermission_AllowAny;
            else if (strcmp(val, "confirm") == 0)
                ch->add_permission = kTIMProfileAddPermission_NeedConfirm;
            else if (strcmp(val, "deny") == 0) ch->add_permission = kTIMProfileAddPermission_DenyAny;
            else return 0;
        } else if (strcmp(opt, "--custom") == 0) {
            if (json_array_size(ch->custom) >= MAX_CUSTOM || !add_custom(ch->custom, val)) return 0;
        } else {
            return 0;
        }
    }
    if (json_array_size(ch->custom) == 0) { /* the defaults */
        add_custom(ch->custom, "city=Paris");
        add_custom(ch->custom, "hobby=chess");
    }
    return 1;
}

/* ---------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------- */

int main(int argc, char** argv) {
    uint64_t sdk_app_id;
    Changes ch = {"Example Nick", kTIMGenderType_Female, "Hello from modify_profile",
                  kTIMProfileAddPermission_NeedConfirm, json_array()};
    if (argc < 5 || !parse_app_id(argv[2], &sdk_app_id) || !parse_options(argc, argv, &ch)) {
        usage(argv[0]);
        json_decref(ch.custom);
        return 2;
    }
    const char* data_dir = argv[1];
    const char* user_id = argv[3];
    const char* user_sig = argv[4];

    /* {"sdk_config_config_file_path": DATA_DIR} */
    json_t* config = json_pack("{s:s}", kTIMSdkConfigConfigFilePath, data_dir);
    char* config_text = json_dumps(config, JSON_COMPACT);
    json_decref(config);
    if (!config_text) {
        fprintf(stderr, "DATA_DIR is not valid UTF-8\n");
        json_decref(ch.custom);
        return 2;
    }
    int rc = TIMInit(sdk_app_id, config_text);
    free(config_text);
    if (rc != TIM_SUCC) {
        fprintf(stderr, "TIMInit failed (return value %d)\n", rc);
        json_decref(ch.custom);
        return 1;
    }

    /* Register the event callback before making the change it reports. */
    SelfInfoEvents events;
    events_init(&events);
    TIMSetSelfInfoUpdatedCallback(on_self_info_updated, &events);

    int status = 1;
    if (login(user_id, user_sig)) {
        pthread_mutex_lock(&events.mu);
        int seen = events.count;
        pthread_mutex_unlock(&events.mu);

        if (modify_self(&ch)) {
            /* The call's own callback fires first, then the event with the new profile. */
            char* updated = events_wait(&events, seen, EVENT_TIMEOUT_SECONDS);
            json_error_t error;
            json_t* event_profile = updated ? json_loads(updated, 0, &error) : NULL;
            free(updated);
            if (!event_profile) {
                fprintf(stderr, "no TIMSelfInfoUpdatedCallback within %d s\n",
                        EVENT_TIMEOUT_SECONDS);
            } else {
                printf("self info updated: nick %s\n",
                       str_field(event_profile, kTIMUserProfileNickName));
                json_decref(event_profile);

                /* Read the profile back, as any user would see it (plus add permission). */
                json_t* profile = get_profile(user_id);
                if (json_is_object(profile)) {
                    print_profile(profile);
                    status = 0;
                }
                json_decref(profile);
            }
        }
        if (!logout()) status = 1;
    }

    /* After TIMUninit no callback fires, so the event state may go only then. */
    TIMSetSelfInfoUpdatedCallback(NULL, NULL);
    TIMUninit();
    events_destroy(&events);
    json_decref(ch.custom);
    return status;
}
