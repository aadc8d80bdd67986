/*
 * get_profiles.c - log in and print the profiles of some users.
 *
 * Usage:
 *   get_profiles DATA_DIR SDK_APP_ID USER_ID USER_SIG PEER_ID [PEER_ID...]
 *
 *   DATA_DIR    the directory holding the local store (sdk_config_config_file_path).
 *               Programs that pass the same directory and SDK_APP_ID share one
 *               world: the same accounts, profiles and status.  "" keeps the
 *               store in memory, private to this process.
 *   SDK_APP_ID  the app's SDKAppID, a positive integer.
 *   USER_ID     the user to log in as (created on first login).
 *   USER_SIG    that user's UserSig.
 *   PEER_ID     the users whose profiles to read (at most 100).
 *
 * For each user found it prints
 *
 *   user alice
 *     nick: Alice
 *     gender: Female
 *     signature: Hello
 *     custom: Tag_Profile_Custom_city = Paris
 *
 * and for each user that does not exist "user NAME: not found".
 *
 * Exit status: 0 when it printed the profiles, 1 when a call failed, 2 on bad
 * arguments.
 *
 * Only the vendor interface (TIMCloud.h) is used, so this program builds
 * unchanged against the vendor's SDK.  Every asynchronous call reports on the
 * library's own thread; the program waits for it with a mutex and a condition
 * variable.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "TIMCloud.h"

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
 * Printing a profile
 * ------------------------------------------------------------------------- */

static const char* gender_name(json_int_t gender) {
    switch (gender) {
    case kTIMGenderType_Male: return "Male";
    case kTIMGenderType_Female: return "Female";
    default: return "Unknown";
    }
}

static const char* str_field(json_t* obj, const char* key) {
    const char* s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

static void print_profile(json_t* profile) {
    printf("user %s\n", str_field(profile, kTIMUserProfileIdentifier));
    printf("  nick: %s\n", str_field(profile, kTIMUserProfileNickName));
    printf("  gender: %s\n",
           gender_name(json_integer_value(json_object_get(profile, kTIMUserProfileGender))));
    printf("  signature: %s\n", str_field(profile, kTIMUserProfileSelfSignature));

    /* Custom fields: an array of {key, value} objects; keys carry the
     * "Tag_Profile_Custom_" prefix. */
    size_t i;
    json_t* item;
    json_array_foreach(json_object_get(profile, kTIMUserProfileCustomStringArray), i, item) {
        printf("  custom: %s = %s\n", str_field(item, kTIMUserProfileCustomStringInfoKey),
               str_field(item, kTIMUserProfileCustomStringInfoValue));
    }
}

/* Is id among the profiles returned? */
static int profile_listed(json_t* profiles, const char* id) {
    size_t i;
    json_t* profile;
    json_array_foreach(profiles, i, profile) {
        if (strcmp(str_field(profile, kTIMUserProfileIdentifier), id) == 0) return 1;
    }
    return 0;
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

/* Read the profiles of n users; returns the array of UserProfile objects, or NULL. */
static json_t* get_profiles(char** ids, int n) {
    /* {"friendship_getprofilelist_param_identifier_array": ["alice", "bob"]} */
    json_t* id_array = json_array();
    for (int i = 0; i < n; i++) {
        if (json_array_append_new(id_array, json_string(ids[i])) != 0) {
            fprintf(stderr, "user id %s is not valid UTF-8\n", ids[i]);
            json_decref(id_array);
            return NULL;
        }
    }
    /* "o" hands our reference to id_array over to the new object. */
    json_t* param = json_pack("{s:o}", kTIMFriendShipGetProfileListParamIdentifierArray, id_array);
    char* param_text = json_dumps(param, JSON_COMPACT);
    json_decref(param);
    if (!param_text) return NULL;

    Call c;
    call_init(&c);
    /* The library copies param_text before the call returns: free it at once. */
    int rc = TIMProfileGetUserProfileList(param_text, on_call_done, &c);
    free(param_text);
    json_t* profiles = NULL;
    if (call_wait(&c, rc, "TIMProfileGetUserProfileList")) {
        /* json_params: an array of UserProfile objects, in the order asked. */
        json_error_t error;
        profiles = json_loads(c.json, 0, &error);
        if (!json_is_array(profiles)) {
            fprintf(stderr, "unexpected result: %s\n", c.json);
            json_decref(profiles);
            profiles = NULL;
        }
    }
    call_destroy(&c);
    return profiles;
}

/* ---------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------- */

static void usage(const char* argv0) {
    fprintf(stderr,
            "usage: %s DATA_DIR SDK_APP_ID USER_ID USER_SIG PEER_ID [PEER_ID...]\n"
            "  DATA_DIR    directory of the local store, shared by programs that use it\n"
            "              (\"\" keeps the store in memory)\n"
            "  SDK_APP_ID  the app's SDKAppID (a positive integer)\n"
            "  USER_ID     the user to log in as\n"
            "  USER_SIG    that user's UserSig\n"
            "  PEER_ID     the users whose profiles to print (at most 100)\n",
            argv0);
}

static int parse_app_id(const char* text, uint64_t* out) {
    char* end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end != '\0' || v == 0 || text[0] == '-') return 0;
    *out = (uint64_t)v;
    return 1;
}

int main(int argc, char** argv) {
    uint64_t sdk_app_id;
    if (argc < 6 || !parse_app_id(argv[2], &sdk_app_id)) {
        usage(argv[0]);
        return 2;
    }
    const char* data_dir = argv[1];
    const char* user_id = argv[3];
    const char* user_sig = argv[4];
    char** peer_ids = argv + 5;
    int peer_count = argc - 5;

    /* TIMInit takes its configuration as a JSON object:
     * {"sdk_config_config_file_path": DATA_DIR} */
    json_t* config = json_pack("{s:s}", kTIMSdkConfigConfigFilePath, data_dir);
    char* config_text = json_dumps(config, JSON_COMPACT);
    json_decref(config);
    if (!config_text) {
        fprintf(stderr, "DATA_DIR is not valid UTF-8\n");
        return 2;
    }
    int rc = TIMInit(sdk_app_id, config_text);
    free(config_text);
    if (rc != TIM_SUCC) {
        fprintf(stderr, "TIMInit failed (return value %d)\n", rc);
        return 1;
    }

    int status = 1;
    if (login(user_id, user_sig)) {
        json_t* profiles = get_profiles(peer_ids, peer_count);
        if (profiles) {
            size_t i;
            json_t* profile;
            json_array_foreach(profiles, i, profile) print_profile(profile);
            /* Unknown users are simply left out of the result. */
            for (int a = 0; a < peer_count; a++) {
                if (!profile_listed(profiles, peer_ids[a]))
                    printf("user %s: not found\n", peer_ids[a]);
            }
            json_decref(profiles);
            status = 0;
        }
        if (!logout()) status = 1;
    }

    /* TIMUninit waits for the library's thread: no callback fires after it. */
    TIMUninit();
    return status;
}
