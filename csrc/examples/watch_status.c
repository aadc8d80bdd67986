/*
 * watch_status.c - log in, subscribe to some users' status and print each change.
 *
 * Usage:
 *   watch_status DATA_DIR SDK_APP_ID USER_ID USER_SIG [--count N] [--seconds S] PEER_ID...
 *
 *   DATA_DIR    the directory holding the local store (sdk_config_config_file_path).
 *               Programs that pass the same directory and SDK_APP_ID share one
 *               world, so this one sees the users that other processes log in,
 *               log out or give a custom status.  "" keeps the store in memory.
 *   SDK_APP_ID  the app's SDKAppID, a positive integer.
 *   USER_ID     the user to log in as (created on first login).
 *   USER_SIG    that user's UserSig.
 *   --count N   stop after printing N changes (default: no limit).
 *   --seconds S stop after S seconds (default: 60).
 *   PEER_ID     the users to watch (not USER_ID itself).
 *
 * It first prints each watched user's current status, then one line per
 * change until it stops:
 *
 *   status bob: UnLogined, custom status "", devices []
 *   change bob: Online, custom status "at lunch", devices [Linux]
 *   done: 1 changes
 *
 * Then it unsubscribes, logs out and calls TIMUninit.  stdout is line
 * buffered, so each line can be read at once through a pipe.
 *
 * Exit status: 0 when it stopped normally (N changes printed, or the time ran
 * out and no --count was given), 3 when the time ran out before N changes,
 * 1 when a call failed, 2 on bad arguments.
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
 * the call succeeded (code 0), 0 otherwise; quiet_code is an error code the
 * caller handles itself (0 for none), the others are printed.
 */
static int call_wait(Call* c, int rc, const char* what, int32_t quiet_code) {
    if (rc != TIM_SUCC) {
        fprintf(stderr, "%s: refused (return value %d)\n", what, rc);
        return 0;
    }
    pthread_mutex_lock(&c->mu);
    while (!c->done) pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    if (c->code != ERR_SUCC) {
        if (c->code != quiet_code)
            fprintf(stderr, "%s: failed with code %" PRId32 ": %s\n", what, c->code, c->desc);
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------------------
 * Status changes: queued by the callback, printed by the main thread
 * ------------------------------------------------------------------------- */

/* One TIMUserStatusChangedCallback, as received. */
typedef struct Change {
    struct Change* next;
    char* json; /* an array of UserStatus objects */
} Change;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* uses CLOCK_MONOTONIC, for the timed wait */
    Change* head;
    Change* tail;
} ChangeQueue;

static void queue_init(ChangeQueue* q) {
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&q->mu, NULL);
    q->head = q->tail = NULL;
}

static void queue_destroy(ChangeQueue* q) {
    while (q->head) {
        Change* next = q->head->next;
        free(q->head->json);
        free(q->head);
        q->head = next;
    }
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
}

/*
 * The TIMUserStatusChangedCallback.  It runs on the library's thread, so it
 * does as little as possible: copy the JSON, queue it, wake the main thread.
 */
static void on_user_status_changed(const char* json_user_status_array, const void* user_data) {
    ChangeQueue* q = (ChangeQueue*)user_data;
    Change* ch = (Change*)malloc(sizeof *ch);
    if (!ch) return;
    ch->next = NULL;
    ch->json = copy_str(json_user_status_array);
    pthread_mutex_lock(&q->mu);
    if (q->tail) q->tail->next = ch;
    else q->head = ch;
    q->tail = ch;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* Take the oldest change, waiting until the deadline; NULL when none came. */
static Change* queue_pop(ChangeQueue* q, const struct timespec* deadline) {
    pthread_mutex_lock(&q->mu);
    int rc = 0;
    while (!q->head && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&q->cv, &q->mu, deadline);
    Change* ch = q->head;
    if (ch) {
        q->head = ch->next;
        if (!q->head) q->tail = NULL;
    }
    pthread_mutex_unlock(&q->mu);
    return ch;
}

/* ---------------------------------------------------------------------------
 * Printing a UserStatus object
 * ------------------------------------------------------------------------- */

static const char* status_name(json_int_t type) {
    switch (type) {
    case kTIMUserStatusType_Online: return "Online";
    case kTIMUserStatusType_Offline: return "Offline";
    case kTIMUserStatusType_UnLogined: return "UnLogined";
    default: return "Unknown";
    }
}

static const char* str_field(json_t* obj, const char* key) {
    const char* s = json_string_value(json_object_get(obj, key));
    return s ? s : "";
}

/* "<label> bob: Online, custom status "at lunch", devices [Linux]" */
static void print_status(const char* label, json_t* status) {
    printf("%s %s: %s, custom status \"%s\", devices [", label,
           str_field(status, kTIMUserStatusIdentifier),
           status_name(json_integer_value(json_object_get(status, kTIMUserStatusStatusType))),
           str_field(status, kTIMUserStatusCustomStatus));
    size_t i;
    json_t* device;
    json_array_foreach(json_object_get(status, KTIMUserStatusOnlineDevices), i, device) {
        printf("%s%s", i ? ", " : "", json_string_value(device) ? json_string_value(device) : "");
    }
    printf("]\n");
}

/* ---------------------------------------------------------------------------
 * The calls this program makes, each waited for
 * ------------------------------------------------------------------------- */

static int login(const char* user_id, const char* user_sig) {
    Call c;
    call_init(&c);
    int ok = call_wait(&c, TIMLogin(user_id, user_sig, on_call_done, &c), "TIMLogin", 0);
    call_destroy(&c);
    return ok;
}

static int logout(void) {
    Call c;
    call_init(&c);
    int ok = call_wait(&c, TIMLogout(on_call_done, &c), "TIMLogout", 0);
    call_destroy(&c);
    return ok;
}

/* TIMSubscribeUserStatus or TIMUnsubscribeUserStatus with a JSON array of IDs. */
static int subscription(int (*fn)(const char*, TIMCommCallback, const void*), const char* what,
                        const char* id_array_text) {
    Call c;
    call_init(&c);
    int ok = call_wait(&c, fn(id_array_text, on_call_done, &c), what, 0);
    call_destroy(&c);
    return ok;
}

/* Print the current status of the watched users (TIMGetUserStatus). */
static int print_current_status(const char* id_array_text, json_t* ids) {
    Call c;
    call_init(&c);
    int rc = TIMGetUserStatus(id_array_text, on_call_done, &c);
    int ok = call_wait(&c, rc, "TIMGetUserStatus", ERR_SVR_PROFILE_ACCOUNT_NOT_FOUND);
    json_error_t error;
    json_t* statuses = ok ? json_loads(c.json, 0, &error) : json_array();
    if (rc == TIM_SUCC && c.code == ERR_SVR_PROFILE_ACCOUNT_NOT_FOUND) ok = 1; /* none exists yet */
    call_destroy(&c);
    if (!ok) {
        json_decref(statuses);
        return 0;
    }

    /* json_params: an array of UserStatus objects; unknown accounts are left out. */
    size_t i, j;
    json_t *id, *status;
    json_array_foreach(ids, i, id) {
        int found = 0;
        json_array_foreach(statuses, j, status) {
            if (strcmp(str_field(status, kTIMUserStatusIdentifier), json_string_value(id)) == 0) {
                print_status("status", status);
                found = 1;
                break;
            }
        }
        /* A user may be watched before the account exists. */
        if (!found) printf("status %s: not found\n", json_string_value(id));
    }
    json_decref(statuses);
    return 1;
}

/*
 * Print the changes as they come, until `count` were printed (0: no limit) or
 * `seconds` passed.  Returns how many were printed.  A change that came
 * between the subscription and TIMGetUserStatus is printed after the status
 * lines.  Besides the users watched, the callback also reports changes made
 * to the logged-in user by others.
 */
static unsigned long long print_changes(ChangeQueue* q, unsigned long long count, time_t seconds) {
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += seconds;
    unsigned long long printed = 0;
    while (count == 0 || printed < count) {
        Change* ch = queue_pop(q, &deadline);
        if (!ch) break; /* time is up */
        json_error_t error;
        json_t* statuses = json_loads(ch->json, 0, &error);
        size_t i;
        json_t* st;
        json_array_foreach(statuses, i, st) { /* usually a single UserStatus */
            print_status("change", st);
            printed++;
        }
        json_decref(statuses);
        free(ch->json);
        free(ch);
    }
    return printed;
}

/* ---------------------------------------------------------------------------
 * Command line
 * ------------------------------------------------------------------------- */

static void usage(const char* argv0) {
    fprintf(stderr,
            "usage: %s DATA_DIR SDK_APP_ID USER_ID USER_SIG [--count N] [--seconds S] PEER_ID...\n"
            "  DATA_DIR    directory of the local store, shared by programs that use it\n"
            "              (\"\" keeps the store in memory)\n"
            "  SDK_APP_ID  the app's SDKAppID (a positive integer)\n"
            "  USER_ID     the user to log in as\n"
            "  USER_SIG    that user's UserSig\n"
            "  --count N   stop after N changes (default: no limit)\n"
            "  --seconds S stop after S seconds (default: 60)\n"
            "  PEER_ID     the users to watch\n",
            argv0);
}

static int parse_number(const char* text, unsigned long long* out) {
    char* end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end != '\0' || text[0] == '-') return 0;
    *out = v;
    return 1;
}

/* ---------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------- */

int main(int argc, char** argv) {
    /* Line buffered: each line reaches a pipe (or a terminal) when printed. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    unsigned long long sdk_app_id = 0, count = 0, seconds = 60;
    json_t* ids = json_array(); /* the users to watch */
    int bad = argc < 6 || !parse_number(argv[2], &sdk_app_id) || sdk_app_id == 0;
    for (int i = 5; i < argc && !bad; i++) {
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc)
            bad = !parse_number(argv[++i], &count);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            bad = !parse_number(argv[++i], &seconds) || seconds > 365ULL * 86400;
        else if (strncmp(argv[i], "--", 2) == 0)
            bad = 1;
        else
            bad = json_array_append_new(ids, json_string(argv[i])) != 0; /* not UTF-8 */
    }
    char* ids_text = json_dumps(ids, JSON_COMPACT); /* ["bob", "carol"] */
    if (bad || json_array_size(ids) == 0 || !ids_text) {
        usage(argv[0]);
        json_decref(ids);
        free(ids_text);
        return 2;
    }
    const char* data_dir = argv[1];
    const char* user_id = argv[3];
    const char* user_sig = argv[4];

    /* {"sdk_config_config_file_path": DATA_DIR} */
    json_t* config = json_pack("{s:s}", kTIMSdkConfigConfigFilePath, data_dir);
    char* config_text = json_dumps(config, JSON_COMPACT);
    json_decref(config);
    int rc = config_text ? TIMInit((uint64_t)sdk_app_id, config_text) : TIM_ERR_PARAM;
    free(config_text);
    if (rc != TIM_SUCC) {
        fprintf(stderr, "TIMInit failed (return value %d)\n", rc);
        json_decref(ids);
        free(ids_text);
        return 1;
    }

    /* Register the event callback before subscribing, so that no change is missed. */
    ChangeQueue queue;
    queue_init(&queue);
    TIMSetUserStatusChangedCallback(on_user_status_changed, &queue);

    int status = 1;
    if (login(user_id, user_sig)) {
        if (subscription(TIMSubscribeUserStatus, "TIMSubscribeUserStatus", ids_text)) {
            if (print_current_status(ids_text, ids)) {
                unsigned long long printed = print_changes(&queue, count, (time_t)seconds);
                printf("done: %llu changes\n", printed);
                status = (count > 0 && printed < count) ? 3 : 0;
            }
            if (!subscription(TIMUnsubscribeUserStatus, "TIMUnsubscribeUserStatus", ids_text))
                status = 1;
        }
        if (!logout()) status = 1;
    }

    /* After TIMUninit no callback fires, so the queue may go only then. */
    TIMSetUserStatusChangedCallback(NULL, NULL);
    TIMUninit();
    queue_destroy(&queue);
    json_decref(ids);
    free(ids_text);
    return status;
}
