/*
 * TIMRef.h - what only timref has: configuration keys, profile extensions and
 * the admin surface.  A program that must also build against the vendor SDK
 * does not include this header.
 */
#ifndef TIM_REF_H
#define TIM_REF_H

#include "TIMCloud.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------
 * TIMInit configuration keys
 * ------------------------------------------------------------------------- */

/*
 * string: the app's secret key.  When set (and not ""), TIMLogin verifies the
 * UserSig against it (HMAC-SHA256, UserSig version 2).  Without it any
 * non-empty UserSig is accepted.
 */
static const char* kTIMRefConfigSecretKey TIM_KEY_ATTR = "timref_config_secret_key";
/* string: the device name listed in user_status_online_devices (default "Linux"). */
static const char* kTIMRefConfigDeviceName TIM_KEY_ATTR = "timref_config_device_name";
/*
 * array of strings: the custom profile keys the app allows, with or without
 * the "Tag_Profile_Custom_" prefix.  Absent: any valid key is allowed.
 */
static const char* kTIMRefConfigCustomProfileKeys TIM_KEY_ATTR = "timref_config_custom_profile_keys";
/*
 * string: a libpq connection URI (postgresql://... or postgres://...) naming a
 * world on PostgreSQL, which processes on any host share; several apps share
 * one database, each in a schema of its own that timref creates and upgrades.
 * With it, sdk_config_config_file_path is not a store (it is ignored).  A
 * refusal (TIMRefGetLastError) names host:port/dbname, never the password.
 * docs/behaviour.md ("PostgreSQL") gives the connections, bounds and codes.
 */
static const char* kTIMRefConfigStoreUrl TIM_KEY_ATTR = "timref_config_store_url";

/* ---------------------------------------------------------------------------
 * Profile extensions (returned in every UserProfile object)
 * ------------------------------------------------------------------------- */

/* uint32: 0 receive messages, 1 do not receive */
static const char* kTIMRefUserProfileMessageSettings TIM_KEY_ATTR = "user_profile_message_settings";
/* uint32: 0 none, 1 the admin forbids sending */
static const char* kTIMRefUserProfileAdminForbidType TIM_KEY_ATTR = "user_profile_admin_forbid_type";
/* uint64: seconds since the epoch of the last change of the profile */
static const char* kTIMRefUserProfileLastUpdatedTime TIM_KEY_ATTR = "user_profile_last_updated_time";

/* Item keys for TIMProfileModifySelfUserProfile */
static const char* kTIMRefUserProfileItemMessageSettings TIM_KEY_ATTR =
    "user_profile_item_message_settings"; /* 0..1 */
static const char* kTIMRefUserProfileItemAdminForbidType TIM_KEY_ATTR =
    "user_profile_item_admin_forbid_type"; /* 0..1 */

/* ---------------------------------------------------------------------------
 * Admin surface
 * ------------------------------------------------------------------------- */

/*
 * Do what the vendor's server does through its REST API, so that a program
 * can set up other users and act for them.  Needs TIMInit, not a login.
 *
 * api:       "v4/im_open_login_svc/account_import", ".../multiaccount_import",
 *            ".../account_delete", ".../account_check", ".../kick",
 *            "v4/profile/portrait_get", "v4/profile/portrait_set",
 *            "v4/openim/query_online_status", "ref/set_user_status",
 *            "ref/check_usersig", "ref/account_list", "ref/events",
 *            "ref/world_export", "ref/world_import" or "ref/world_reset"
 *            (docs/contract.md; the world snapshot: docs/snapshots.md).
 * json_body: the request body as the REST API shapes it, within the vendor's
 *            per-call limits (100 accounts, 500 for query_online_status),
 *            at most 1 MiB (9522 beyond), except ref/world_import's
 *            (TIMREF_WORLD_IMPORT_MAX_LEN).
 *            A kick ends the user's sessions in every process: each one's
 *            TIMKickedOfflineCallback fires (TIMManager.h).
 *
 * Returns like the other asynchronous functions (TIM_ERR_PARAM for NULL or
 * "" api or body, TIM_ERR_JSON for a body that is not a JSON object).  The
 * callback's code is the answer's ErrorCode and json_params the whole answer
 * ({"ActionStatus", "ErrorCode", "ErrorInfo", ...}).  Changes notify
 * subscribers like any other change.  See the README for each body.
 */
TIM_DECL int TIMRefAdminRequest(const char* api, const char* json_body, TIMCommCallback cb,
                                const void* user_data);

/* The largest body ref/world_import takes, in bytes (a world snapshot of some
 * 10^5 accounts is far beyond the 1 MiB every other JSON argument may have). */
enum { TIMREF_WORLD_IMPORT_MAX_LEN = 256 * 1024 * 1024 };

/* ---------------------------------------------------------------------------
 * Removing a world
 * ------------------------------------------------------------------------- */

/*
 * Remove the world of sdk_app_id entirely: every account, profile, status,
 * session and event of it.  json_config is a config as TIMInit takes it (other
 * keys are ignored): with timref_config_store_url, the app's schema
 * timref_<sdk_app_id> and its row in the registry timref.app are dropped in one
 * transaction, serialized with a TIMInit of the same app (which then makes a
 * new, empty world); else, with sdk_config_config_file_path, the app's store
 * files in that directory (timref-<sdk_app_id>.*) are removed.
 *
 * Synchronous; needs no TIMInit.  Returns TIM_SUCC (also when there was no such
 * world) or TIM_ERR_PARAM with the reason in TIMRefGetLastError (which names a
 * PostgreSQL server as host:port/dbname, never with its password): a config
 * that names no store, a value of the wrong kind, an unreachable server, or a
 * world that some process has open (TIMInit without TIMUninit), this one or
 * another, on any host; a process with a live session has its world open.
 * Simulated sessions (ref/set_user_status) belong to no process and go with
 * the world.  A process whose connection to the server is down holds nothing
 * meanwhile: its world can be removed under it, and its calls then fail.
 */
TIM_DECL int TIMRefRemoveWorld(uint64_t sdk_app_id, const char* json_config);

/* ---------------------------------------------------------------------------
 * Why a call was refused
 * ------------------------------------------------------------------------- */

/*
 * Why the most recent call made on this thread returned a non-zero code
 * (TIM_ERR_PARAM, TIM_ERR_JSON) instead of TIM_SUCC: one line of text naming
 * what was wrong, e.g. "TIMInit config: timref_config_device_name must be a
 * string of 1..32 printable ASCII bytes", or the reason the store directory
 * cannot be used.  Read it right after the refused call, on the same thread:
 * the text is this thread's own and stays valid until this thread's next
 * refused call.  A call that succeeds leaves it as it was; "" when no call on
 * this thread was ever refused.  Never NULL.
 */
TIM_DECL const char* TIMRefGetLastError(void);

#ifdef __cplusplus
}
#endif

#endif /* TIM_REF_H */
