/*
 * api.c - the exported functions, and nothing else.  Each checks what it must
 * refuse at once (NULL, "", not JSON), copies its arguments into a job and
 * queues it; the job runs on the logic thread (config.c, session.c,
 * profile.c, status.c, admin.c do the work).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tr_internal.h"

/* ---- helpers ---------------------------------------------------------------- */

/*
 * Check and copy a call's JSON argument into a new job (not yet queued).
 * `optional`: NULL/"" mean "no argument" instead of TIM_ERR_PARAM.  Returns
 * TIM_SUCC with *out, or the synchronous refusal.
 */
static int json_job(const char* text, size_t max_len, int shape, bool optional, tr_run_fn run, unsigned needs,
                    const char* err_json, TIMCommCallback cb, const void* ud, tr_job** out) {
    json_t* arg = NULL;
    int pre = 0;
    *out = NULL;
    if (!text || !*text) {
        if (!optional) return tr_refuse(TIM_ERR_PARAM, "the JSON argument is %s", text ? "\"\"" : "NULL");
    } else {
        size_t len = strnlen(text, max_len + 1);
        if (len > max_len) {
            pre = ERR_SDK_NET_PKG_SIZE_LIMIT;
        } else {
            int rc = tr_json_parse(text, len, shape, &arg);
            if (rc != TIM_SUCC) return rc;
        }
    }
    tr_job* j = tr_job_new(run, needs, cb, ud);
    if (!j) {
        json_decref(arg);
        return tr_refuse_oom();
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
    int rc = json_job(text, TR_MAX_JSON_LEN, shape, optional, run, needs, err_json, cb, ud, &j);
    if (rc == TIM_SUCC) tr_submit(j);
    return rc;
}

/* ---- init / uninit ---------------------------------------------------------- */

TIM_DECL int TIMInit(uint64_t sdk_app_id, const char* json_sdk_config) {
    tr_init_args a = {.app_id = sdk_app_id, .cfg = NULL, .rc = TIM_SUCC};
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
        if (!a.cfg) return tr_refuse_oom();
    }
    tr_run_sync(tr_init_on_logic, &a);
    json_decref(a.cfg);
    if (a.rc != TIM_SUCC) {
        /* init ran on the logic thread: its reason is that thread's; bring it here */
        if (!tr_on_logic_thread()) tr_refuse(a.rc, "%s", a.why);
        fprintf(stderr, "timref: TIMInit: %s\n", TIMRefGetLastError());
    }
    return a.rc;
}

TIM_DECL int TIMUninit(void) {
    tr_interrupt_pending();
    if (tr_on_logic_thread()) {
        tr_drain_interrupted();
        tr_uninit_on_logic(NULL);
    } else {
        tr_run_sync(tr_uninit_on_logic, NULL);
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

TIM_DECL int TIMLogin(const char* user_id, const char* user_sig, TIMCommCallback cb,
                      const void* user_data) {
    if (!user_id) return tr_refuse(TIM_ERR_PARAM, "user_id is NULL");
    tr_job* j = tr_job_new(tr_job_login, TR_NEED_INIT, cb, user_data);
    if (!j) return tr_refuse_oom();
    /* Copy at most what can be valid (+1 to see it is too long). */
    j->s1 = strndup(user_id, TR_MAX_ID_LEN + 1);
    j->s2 = user_sig ? strndup(user_sig, TR_USERSIG_MAX_LEN + 1) : NULL;
    if (!j->s1 || (user_sig && !j->s2)) {
        tr_job_free(j);
        return tr_refuse_oom();
    }
    tr_submit(j);
    return TIM_SUCC;
}

TIM_DECL int TIMLogout(TIMCommCallback cb, const void* user_data) {
    tr_job* j = tr_job_new(tr_job_logout, TR_NEED_INIT, cb, user_data);
    if (!j) return tr_refuse_oom();
    tr_submit(j);
    return TIM_SUCC;
}

TIM_DECL int TIMGetLoginUserID(char* user_id_buffer) {
    if (!user_id_buffer) return tr_refuse(TIM_ERR_PARAM, "user_id_buffer is NULL");
    tr_snapshot_get(user_id_buffer);
    return TIM_SUCC;
}

TIM_DECL enum TIMLoginStatus TIMGetLoginStatus(void) {
    return tr_snapshot_get(NULL) ? kTIMLoginStatus_Logined : kTIMLoginStatus_UnLogined;
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

TIM_DECL void TIMSetKickedOfflineCallback(TIMKickedOfflineCallback cb, const void* ud) {
    tr_event_set(TR_EV_KICKED, (void*)cb, ud);
}

TIM_DECL int TIMRefAdminRequest(const char* api, const char* json_body, TIMCommCallback cb,
                                const void* ud) {
    if (!api || !*api) return tr_refuse(TIM_ERR_PARAM, "api is %s", api ? "\"\"" : "NULL");
    tr_job* j;
    /* One body may be larger than the 1 MiB of every other: a world snapshot's.  Beyond its
     * own limit, the job runs with no body and answers 9522 naming that limit. */
    bool world = strcmp(api + (*api == '/'), "ref/world_import") == 0;
    int rc = json_job(json_body, world ? (size_t)TIMREF_WORLD_IMPORT_MAX_LEN : (size_t)TR_MAX_JSON_LEN,
                      TR_JSON_OBJECT, false, tr_job_admin, TR_NEED_INIT, "", cb, ud, &j);
    if (rc == TIM_SUCC && world && j->pre_code == ERR_SDK_NET_PKG_SIZE_LIMIT) j->pre_code = 0;
    if (rc != TIM_SUCC) return rc;
    if (!(j->s1 = strndup(api, 128))) {
        tr_job_free(j);
        return tr_refuse_oom();
    }
    tr_submit(j);
    return TIM_SUCC;
}

TIM_DECL int TIMRefRemoveWorld(uint64_t sdk_app_id, const char* json_config) {
    if (!json_config || !*json_config)
        return tr_refuse(TIM_ERR_PARAM, "TIMRefRemoveWorld: the config is %s (it names the store)",
                         json_config ? "\"\"" : "NULL");
    size_t len = strnlen(json_config, (size_t)TR_MAX_JSON_LEN + 1);
    if (len > TR_MAX_JSON_LEN)
        return tr_refuse(TIM_ERR_PARAM, "TIMRefRemoveWorld config: longer than %d bytes", TR_MAX_JSON_LEN);
    json_t* cfg = NULL;
    int rc = tr_json_parse(json_config, len, TR_JSON_OBJECT, &cfg);
    if (rc != TIM_SUCC) {
        char why[TR_REASON_SIZE];
        snprintf(why, sizeof why, "%s", TIMRefGetLastError());
        return tr_refuse(rc, "TIMRefRemoveWorld config: %s", why);
    }
    rc = tr_world_remove(sdk_app_id, cfg);
    json_decref(cfg);
    return rc;
}
