/*
 * api.c - the exported functions.  Each checks what it must refuse at once
 * (NULL, "", not JSON), copies its arguments into a job and queues it; the
 * job runs on the logic thread.  Init, uninit, login and logout live here.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "tr_internal.h"

tr_ctx tr_g;

/* ---- login snapshot, readable from any thread ---------------------------- */

static pthread_mutex_t g_snap_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_snap_id[TR_MAX_ID_LEN + 1];

void tr_snapshot_set(const char* id) {
    pthread_mutex_lock(&g_snap_mu);
    snprintf(g_snap_id, sizeof g_snap_id, "%s", id ? id : "");
    pthread_mutex_unlock(&g_snap_mu);
}

/* ---- helpers ---------------------------------------------------------------- */

/*
 * Check and copy a call's JSON argument into a new job (not yet queued).
 * `optional`: NULL/"" mean "no argument" instead of TIM_ERR_PARAM.  Returns
 * TIM_SUCC with *out, or the synchronous refusal.
 */
static int json_job(const char* text, int shape, bool optional, tr_run_fn run, unsigned needs,
                    const char* err_json, TIMCommCallback cb, const void* ud, tr_job** out) {
    json_t* arg = NULL;
    int pre = 0;
    *out = NULL;
    if (!text || !*text) {
        if (!optional) return tr_refuse(TIM_ERR_PARAM, "the JSON argument is %s", text ? "\"\"" : "NULL");
    } else {
        size_t len = strnlen(text, (size_t)TR_MAX_JSON_LEN + 1);
        if (len > TR_MAX_JSON_LEN) {
            pre = ERR_SDK_NET_PKG_SIZE_LIMIT;
        } else {
            int rc = tr_json_parse(text, len, shape, &arg);
            if (rc != TIM_SUCC) return rc;
        }
    }
    tr_job* j = tr_job_new(run, needs, cb, ud);
    if (!j) {
        json_decref(arg);
        return tr_refuse(TIM_ERR_PARAM, "out of memory");
    }
    j->arg = arg;
    j->pre_code = pre;
    j->err_json = err_json;
    *out = j;
    return TIM_SUCC;
}

/* Queue a call taking one JSON argument. */
static int submit_json(const char* text, int shape, bool optional, tr_run_fn run, unsigned needs,
                       const char* err_json, TIMCommCallback cb, const void* ud) {
    tr_job* j;
    int rc = json_job(text, shape, optional, run, needs, err_json, cb, ud, &j);
    if (rc == TIM_SUCC) tr_submit(j);
    return rc;
}

/* ---- init / uninit ---------------------------------------------------------- */

typedef struct init_args {
    uint64_t app_id;
    json_t* cfg;
    int rc;
    char why[TR_REASON_SIZE]; /* the refusal's reason, from the logic thread */
} init_args;

static void free_config(void) {
    free(tr_g.dir);
    free(tr_g.secret_key);
    free(tr_g.device);
    for (size_t i = 0; i < tr_g.n_allowed; i++) free(tr_g.allowed_keys[i]);
    free(tr_g.allowed_keys);
    tr_g.dir = tr_g.secret_key = tr_g.device = NULL;
    tr_g.allowed_keys = NULL;
    tr_g.n_allowed = 0;
}

/* A config key's value is of the wrong kind: TIM_ERR_PARAM, saying what it must be. */
static int bad_config(const char* key, const char* must) {
    return tr_refuse(TIM_ERR_PARAM, "TIMInit config: %s must be %s", key, must);
}

/* Read the config object into tr_g; TIM_ERR_PARAM on a value of the wrong kind. */
static int read_config(const json_t* cfg) {
    const json_t* v;
    if ((v = json_object_get(cfg, kTIMSdkConfigConfigFilePath)) && !json_is_null(v)) {
        if (!json_is_string(v)) return bad_config(kTIMSdkConfigConfigFilePath, "a string (a directory)");
        if (json_string_length(v) && !(tr_g.dir = strdup(json_string_value(v))))
            return tr_refuse(TIM_ERR_PARAM, "out of memory");
    }
    if ((v = json_object_get(cfg, kTIMSdkConfigLogFilePath)) && !json_is_null(v) && !json_is_string(v))
        return bad_config(kTIMSdkConfigLogFilePath, "a string");
    if ((v = json_object_get(cfg, kTIMRefConfigSecretKey)) && !json_is_null(v)) {
        if (!json_is_string(v)) return bad_config(kTIMRefConfigSecretKey, "a string");
        if (json_string_length(v) && !(tr_g.secret_key = strdup(json_string_value(v))))
            return tr_refuse(TIM_ERR_PARAM, "out of memory");
    }
    if ((v = json_object_get(cfg, kTIMRefConfigDeviceName)) && !json_is_null(v)) {
        if (!json_is_string(v) || !tr_id_valid(json_string_value(v), json_string_length(v)))
            return bad_config(kTIMRefConfigDeviceName, "a string of 1..32 printable ASCII bytes");
        if (!(tr_g.device = strdup(json_string_value(v)))) return tr_refuse(TIM_ERR_PARAM, "out of memory");
    }
    if ((v = json_object_get(cfg, kTIMRefConfigCustomProfileKeys)) && !json_is_null(v)) {
        if (!json_is_array(v)) return bad_config(kTIMRefConfigCustomProfileKeys, "an array of custom keys");
        size_t n = json_array_size(v);
        tr_g.allowed_keys = calloc(n ? n : 1, sizeof(char*));
        if (!tr_g.allowed_keys) return tr_refuse(TIM_ERR_PARAM, "out of memory");
        for (size_t i = 0; i < n; i++) {
            const json_t* k = json_array_get(v, i);
            char full[TR_CUSTOM_KEY_SIZE];
            if (!json_is_string(k) || !tr_custom_key_full(json_string_value(k), full))
                return tr_refuse(TIM_ERR_PARAM,
                                 "TIMInit config: %s[%zu] is not a custom key (" TR_CUSTOM_KEY_RULE ")",
                                 kTIMRefConfigCustomProfileKeys, i);
            tr_g.allowed_keys[tr_g.n_allowed] = strdup(full);
            if (!tr_g.allowed_keys[tr_g.n_allowed]) return tr_refuse(TIM_ERR_PARAM, "out of memory");
            tr_g.n_allowed++;
        }
    }
    if (!tr_g.device) tr_g.device = strdup("Linux");
    if (!tr_g.device) return tr_refuse(TIM_ERR_PARAM, "out of memory");
    return TIM_SUCC;
}

static void init_on_logic(void* p) {
    init_args* a = p;
    if (tr_g.initialized) { /* twice without TIMUninit: nothing changes */
        a->rc = TIM_SUCC;
        return;
    }
    a->rc = read_config(a->cfg);
    if (a->rc == TIM_SUCC) {
        char err[TR_REASON_SIZE];
        if (tr_store_open(&tr_g.store, a->app_id, tr_g.dir, err, sizeof err) != TR_OK)
            a->rc = tr_refuse(TIM_ERR_PARAM, "%s", err);
    }
    if (a->rc != TIM_SUCC) {
        snprintf(a->why, sizeof a->why, "%s", TIMRefGetLastError());
        free_config();
        return;
    }
    tr_g.app_id = a->app_id;
    tr_g.initialized = true;
    tr_feed_start();
}

TIM_DECL int TIMInit(uint64_t sdk_app_id, const char* json_sdk_config) {
    init_args a = {.app_id = sdk_app_id, .cfg = NULL, .rc = TIM_SUCC};
    if (json_sdk_config && *json_sdk_config) {
        size_t len = strnlen(json_sdk_config, (size_t)TR_MAX_JSON_LEN + 1);
        if (len > TR_MAX_JSON_LEN)
            return tr_refuse(TIM_ERR_PARAM, "TIMInit config: longer than %d bytes", TR_MAX_JSON_LEN);
        int rc = tr_json_parse(json_sdk_config, len, TR_JSON_OBJECT, &a.cfg);
        if (rc != TIM_SUCC) {
            char why[TR_REASON_SIZE];
            snprintf(why, sizeof why, "%s", TIMRefGetLastError());
            return tr_refuse(rc, "TIMInit config: %s", why);
        }
    } else {
        a.cfg = json_object();
        if (!a.cfg) return tr_refuse(TIM_ERR_PARAM, "out of memory");
    }
    tr_run_sync(init_on_logic, &a);
    json_decref(a.cfg);
    if (a.rc != TIM_SUCC) {
        /* init ran on the logic thread: its reason is that thread's; bring it here */
        if (!tr_on_logic_thread()) tr_refuse(a.rc, "%s", a.why);
        fprintf(stderr, "timref: TIMInit: %s\n", TIMRefGetLastError());
    }
    return a.rc;
}

/* End this process's session in the store (logout and uninit). */
static int end_session(tr_result* r) {
    if (!tr_g.logged_in) return ERR_SUCC;
    tr_store* st = tr_g.store;
    int n = 0;
    int rc = tr_store_begin(st);
    if (rc == TR_OK) rc = tr_store_session_remove(st, tr_g.token);
    if (rc == TR_OK) tr_store_slot_release(st, tr_g.slot);
    if (rc == TR_OK) rc = tr_store_session_count(st, tr_g.user_id, &n);
    if (rc == TR_OK && n == 0) {
        rc = tr_store_status_set(st, tr_g.user_id, kTIMUserStatusType_UnLogined, "");
        if (rc == TR_NOTFOUND) rc = TR_OK; /* the admin deleted the account meanwhile */
    }
    if (rc == TR_OK) rc = tr_store_event_add(st, TR_EVT_PRESENCE, tr_g.user_id, tr_g.token);
    if (rc == TR_OK) rc = tr_store_commit(st);
    if (rc != TR_OK) {
        tr_store_rollback(st);
        return tr_fail(r, ERR_IO_OPERATION_FAILED, "store: %s", tr_store_errmsg(st));
    }
    tr_feed_mark();
    tr_g.logged_in = false;
    tr_g.user_id[0] = '\0';
    tr_g.status_subs.n = 0;
    tr_g.info_subs.n = 0;
    tr_snapshot_set(NULL);
    return ERR_SUCC;
}

static void uninit_on_logic(void* unused) {
    (void)unused;
    if (!tr_g.initialized) return;
    tr_result r = {0};
    end_session(&r);
    free(r.json);
    tr_feed_run();   /* deliver what is due before the store goes */
    tr_feed_stop();
    tr_profile_cache_reset();
    tr_status_cache_reset();
    tr_store_close(tr_g.store);
    tr_g.store = NULL;
    free_config();
    tr_g.initialized = false;
    tr_g.logged_in = false;
    tr_snapshot_set(NULL);
}

TIM_DECL int TIMUninit(void) {
    tr_interrupt_pending();
    if (tr_on_logic_thread()) {
        tr_drain_interrupted();
        uninit_on_logic(NULL);
    } else {
        tr_run_sync(uninit_on_logic, NULL);
        tr_engine_stop(); /* its thread-local state (OpenSSL's) goes with it */
    }
    return TIM_SUCC;
}

/* At unload (or exit) without TIMUninit: log out and stop the thread.  A
 * library never used has no thread, and nothing to do. */
__attribute__((destructor)) static void api_unload(void) {
    if (!tr_on_logic_thread() && tr_engine_running()) TIMUninit();
}

TIM_DECL const char* TIMGetSDKVersion(void) { return "timref " TIMREF_VERSION; }

TIM_DECL uint64_t TIMGetServerTime(void) { return (uint64_t)time(NULL); }

/* ---- login / logout ------------------------------------------------------- */

static void job_login(tr_job* j, tr_result* r) {
    const char* id = j->s1;
    const char* sig = j->s2;
    if (!tr_id_valid(id, strlen(id)))
        return (void)tr_fail(r, ERR_SDK_COMM_INVALID_IDENTIFIER,
                             "invalid user_id (1..32 printable ASCII bytes)");
    if (!sig || !*sig) return (void)tr_fail(r, ERR_SVR_ACCOUNT_USERSIG_EMPTY, "user_sig is empty");
    if (tr_g.secret_key) {
        char why[128];
        int rc = tr_usersig_verify(sig, tr_g.app_id, id, tr_g.secret_key, (uint64_t)time(NULL), why,
                                   sizeof why);
        if (rc != 0) return (void)tr_fail(r, rc, "%s", why);
    }
    if (tr_g.logged_in) {
        if (strcmp(tr_g.user_id, id) == 0) return tr_succeed(r, NULL);
        return (void)tr_fail(r, ERR_SDK_INVALID_OPERATION,
                             "already logged in as \"%s\": log out first", tr_g.user_id);
    }
    unsigned char rnd[8] = {0};
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        memcpy(rnd, &ts.tv_nsec, sizeof ts.tv_nsec < 8 ? sizeof ts.tv_nsec : 8);
    }
    snprintf(tr_g.token, sizeof tr_g.token, "s:%ld:%02x%02x%02x%02x%02x%02x%02x%02x", (long)getpid(),
             rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    tr_store* st = tr_g.store;
    bool created = false;
    int slot = -1;
    tr_feed_reap(); /* free the slots of dead processes first */
    int rc = tr_store_begin(st);
    if (rc == TR_OK) rc = tr_store_account_ensure(st, id, &created);
    if (rc == TR_OK) rc = tr_store_slot_acquire(st, &slot);
    if (rc == TR_OK) rc = tr_store_session_add(st, tr_g.token, id, tr_g.device, false, slot);
    if (rc == TR_OK) rc = tr_store_event_add(st, TR_EVT_PRESENCE, id, tr_g.token);
    if (rc == TR_OK && created) rc = tr_store_event_add(st, TR_EVT_PROFILE, id, tr_g.token);
    if (rc == TR_OK) rc = tr_store_commit(st);
    if (rc != TR_OK) {
        tr_store_rollback(st);
        tr_store_slot_release(st, slot);
        return (void)tr_fail(r, ERR_IO_OPERATION_FAILED, "store: %s", tr_store_errmsg(st));
    }
    tr_feed_mark();
    tr_g.slot = slot;
    tr_g.logged_in = true;
    snprintf(tr_g.user_id, sizeof tr_g.user_id, "%s", id);
    tr_g.status_subs.n = 0;
    tr_g.info_subs.n = 0;
    tr_snapshot_set(id);
    tr_succeed(r, NULL);
}

TIM_DECL int TIMLogin(const char* user_id, const char* user_sig, TIMCommCallback cb,
                      const void* user_data) {
    if (!user_id) return tr_refuse(TIM_ERR_PARAM, "user_id is NULL");
    tr_job* j = tr_job_new(job_login, TR_NEED_INIT, cb, user_data);
    if (!j) return tr_refuse(TIM_ERR_PARAM, "out of memory");
    /* Copy at most what can be valid (+1 to see it is too long). */
    j->s1 = strndup(user_id, TR_MAX_ID_LEN + 1);
    j->s2 = user_sig ? strndup(user_sig, TR_USERSIG_MAX_LEN + 1) : NULL;
    if (!j->s1 || (user_sig && !j->s2)) {
        tr_job_free(j);
        return tr_refuse(TIM_ERR_PARAM, "out of memory");
    }
    tr_submit(j);
    return TIM_SUCC;
}

static void job_logout(tr_job* j, tr_result* r) {
    (void)j;
    if (end_session(r) == ERR_SUCC) tr_succeed(r, NULL);
}

TIM_DECL int TIMLogout(TIMCommCallback cb, const void* user_data) {
    tr_job* j = tr_job_new(job_logout, TR_NEED_INIT, cb, user_data);
    if (!j) return tr_refuse(TIM_ERR_PARAM, "out of memory");
    tr_submit(j);
    return TIM_SUCC;
}

TIM_DECL int TIMGetLoginUserID(char* user_id_buffer) {
    if (!user_id_buffer) return tr_refuse(TIM_ERR_PARAM, "user_id_buffer is NULL");
    pthread_mutex_lock(&g_snap_mu);
    memcpy(user_id_buffer, g_snap_id, strlen(g_snap_id) + 1);
    pthread_mutex_unlock(&g_snap_mu);
    return TIM_SUCC;
}

TIM_DECL enum TIMLoginStatus TIMGetLoginStatus(void) {
    pthread_mutex_lock(&g_snap_mu);
    bool in = g_snap_id[0] != '\0';
    pthread_mutex_unlock(&g_snap_mu);
    return in ? kTIMLoginStatus_Logined : kTIMLoginStatus_UnLogined;
}

/* ---- profile and status entry points --------------------------------------- */

TIM_DECL int TIMProfileGetUserProfileList(const char* json, TIMCommCallback cb, const void* ud) {
    return submit_json(json, TR_JSON_OBJECT, false, tr_job_get_profiles,
                       TR_NEED_INIT | TR_NEED_LOGIN, "", cb, ud);
}

TIM_DECL int TIMProfileModifySelfUserProfile(const char* json, TIMCommCallback cb,
                                             const void* ud) {
    return submit_json(json, TR_JSON_OBJECT, false, tr_job_modify_profile,
                       TR_NEED_INIT | TR_NEED_LOGIN, "", cb, ud);
}

TIM_DECL int TIMGetUserStatus(const char* json, TIMCommCallback cb, const void* ud) {
    return submit_json(json, TR_JSON_ARRAY, false, tr_job_get_status, TR_NEED_INIT | TR_NEED_LOGIN,
                       "[]", cb, ud);
}

TIM_DECL int TIMSetSelfStatus(const char* json, TIMCommCallback cb, const void* ud) {
    return submit_json(json, TR_JSON_OBJECT, false, tr_job_set_self_status,
                       TR_NEED_INIT | TR_NEED_LOGIN, "", cb, ud);
}

TIM_DECL int TIMSubscribeUserStatus(const char* json, TIMCommCallback cb, const void* ud) {
    return submit_json(json, TR_JSON_ARRAY, false, tr_job_subscribe_status,
                       TR_NEED_INIT | TR_NEED_LOGIN, "", cb, ud);
}

TIM_DECL int TIMUnsubscribeUserStatus(const char* json, TIMCommCallback cb, const void* ud) {
    return submit_json(json, TR_JSON_ARRAY, true, tr_job_unsubscribe_status,
                       TR_NEED_INIT | TR_NEED_LOGIN, "", cb, ud);
}

TIM_DECL int TIMSubscribeUserInfo(const char* json, TIMCommCallback cb, const void* ud) {
    return submit_json(json, TR_JSON_ARRAY, false, tr_job_subscribe_info,
                       TR_NEED_INIT | TR_NEED_LOGIN, "", cb, ud);
}

TIM_DECL int TIMUnsubscribeUserInfo(const char* json, TIMCommCallback cb, const void* ud) {
    return submit_json(json, TR_JSON_ARRAY, true, tr_job_unsubscribe_info,
                       TR_NEED_INIT | TR_NEED_LOGIN, "", cb, ud);
}

TIM_DECL void TIMSetSelfInfoUpdatedCallback(TIMSelfInfoUpdatedCallback cb, const void* ud) {
    tr_event_set(TR_EV_SELF_INFO, (void*)cb, ud);
}

TIM_DECL void TIMSetUserStatusChangedCallback(TIMUserStatusChangedCallback cb, const void* ud) {
    tr_event_set(TR_EV_USER_STATUS, (void*)cb, ud);
}

TIM_DECL void TIMSetUserInfoChangedCallback(TIMUserInfoChangedCallback cb, const void* ud) {
    tr_event_set(TR_EV_USER_INFO, (void*)cb, ud);
}

TIM_DECL int TIMRefAdminRequest(const char* api, const char* json_body, TIMCommCallback cb,
                                const void* ud) {
    if (!api || !*api) return tr_refuse(TIM_ERR_PARAM, "api is %s", api ? "\"\"" : "NULL");
    tr_job* j;
    int rc = json_job(json_body, TR_JSON_OBJECT, false, tr_job_admin, TR_NEED_INIT, "", cb, ud, &j);
    if (rc != TIM_SUCC) return rc;
    if (!(j->s1 = strndup(api, 128))) {
        tr_job_free(j);
        return tr_refuse(TIM_ERR_PARAM, "out of memory");
    }
    tr_submit(j);
    return TIM_SUCC;
}
