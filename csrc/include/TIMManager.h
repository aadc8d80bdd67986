/*
 * TIMManager.h - init, login, profile and user-status functions (timref).
 *
 * Rules every asynchronous function follows:
 *
 *  - It returns TIM_SUCC when it accepted the call; the callback then fires
 *    exactly once.  Any other return value means the callback never fires.
 *  - A required JSON argument that is NULL or "" returns TIM_ERR_PARAM; text
 *    that is not JSON, JSON of the wrong top-level type, JSON nested deeper
 *    than 64 levels, an object with a duplicated key, invalid UTF-8 or \u0000
 *    inside a string returns TIM_ERR_JSON.  A JSON argument over 1 MiB is
 *    refused through the callback with ERR_SDK_NET_PKG_SIZE_LIMIT (9522).
 *  - Everything else is reported through the callback: before TIMInit or
 *    after TIMUninit the code is ERR_SDK_NOT_INITIALIZED (6013, "not
 *    initialized"); without a login, profile and status calls get
 *    ERR_SDK_NOT_LOGGED_IN (6014, "not login").  On those two errors
 *    json_params is "[]" for TIMGetUserStatus and "" for the others.
 *  - Callbacks run on the library's logic thread, never inside the API call
 *    and never on the caller's thread, in the order the calls were made.
 *  - Every input string is copied before the function returns.
 *  - Every function may be called from any thread, including from inside a
 *    callback.
 */
#ifndef TIM_MANAGER_H
#define TIM_MANAGER_H

#include "TIMCloudComm.h"
#include "TIMCloudDef.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------
 * Init and uninit
 * ------------------------------------------------------------------------- */

/*
 * Initialize the library for the app sdk_app_id.
 *
 * json_sdk_config may be NULL, "" or a JSON object; every key is optional.
 * kTIMSdkConfigConfigFilePath names the directory of the local store (created
 * 0700 if missing; the database inside is 0600).  Without it the store lives
 * in memory and belongs to this process alone.  See TIMRef.h for timref's own
 * keys.
 *
 * Returns TIM_SUCC; TIM_ERR_JSON when the config is not a JSON object;
 * TIM_ERR_PARAM when a config value has the wrong type or the store cannot be
 * opened.  Calling it again without TIMUninit returns TIM_SUCC and changes
 * nothing.  Synchronous: no callback.
 */
TIM_DECL int TIMInit(uint64_t sdk_app_id, const char* json_sdk_config);

/*
 * Log out (if logged in), complete every pending call with
 * ERR_SDK_COMM_INTERRUPT (7009) and close the store.  When it returns, no
 * callback of a call made before it will fire.  Returns TIM_SUCC, also when
 * not initialized.
 */
TIM_DECL int TIMUninit(void);

/* The library's version string, e.g. "timref 1.0.0".  Never NULL. */
TIM_DECL const char* TIMGetSDKVersion(void);

/* The current time in seconds since the epoch (the "server" is this machine). */
TIM_DECL uint64_t TIMGetServerTime(void);

/* ---------------------------------------------------------------------------
 * Login and logout
 * ------------------------------------------------------------------------- */

/*
 * Log in as user_id with user_sig.
 *
 * NULL user_id returns TIM_ERR_PARAM.  Through the callback: an invalid
 * user_id (empty, over 32 bytes, not printable ASCII) gives
 * ERR_SDK_COMM_INVALID_IDENTIFIER (7003); NULL or "" user_sig gives 70002.
 * When a secret key is configured the UserSig is verified (70003 malformed or
 * bad signature, 70013 other user, 70014 other app, 70001 expired).  The
 * account is created on first login.  Logging in again as the same user
 * succeeds; as another user while logged in gives ERR_SDK_INVALID_OPERATION
 * (7014).
 */
TIM_DECL int TIMLogin(const char* user_id, const char* user_sig, TIMCommCallback cb,
                      const void* user_data);

/* Log out.  Succeeds also when not logged in.  Ends every subscription. */
TIM_DECL int TIMLogout(TIMCommCallback cb, const void* user_data);

/*
 * Copy the logged-in user ID, NUL-terminated, into user_id_buffer, which must
 * hold at least 128 bytes; "" when logged out.  Returns TIM_SUCC, or
 * TIM_ERR_PARAM for a NULL buffer.
 */
TIM_DECL int TIMGetLoginUserID(char* user_id_buffer);

/* kTIMLoginStatus_Logined when logged in, kTIMLoginStatus_UnLogined otherwise. */
TIM_DECL enum TIMLoginStatus TIMGetLoginStatus(void);

/* ---------------------------------------------------------------------------
 * Profiles
 * ------------------------------------------------------------------------- */

/*
 * Read user profiles.
 *
 * Parameter: an object with kTIMFriendShipGetProfileListParamIdentifierArray
 * (array of user IDs).  Missing or empty array: 40002; a non-string entry:
 * 6017; an invalid ID: 7003.  The first 100 IDs are used; duplicates are
 * returned once, in the order asked; unknown accounts are left out, and if
 * none exists the code is 40003.  On success json_params is an array of
 * UserProfile objects with every key present.  Another user's add permission
 * reads kTIMProfileAddPermission_Unknown.
 */
TIM_DECL int TIMProfileGetUserProfileList(const char* json_get_user_profile_list_param,
                                          TIMCommCallback cb, const void* user_data);

/*
 * Change fields of the logged-in user's profile, all or nothing.
 *
 * Parameter: an object of UserProfileItem keys (kTIMUserProfileItem...).
 * Errors name the offending key in desc: empty object or unknown key 6017;
 * wrong JSON type 40610; string over 500 bytes 40601; value out of range
 * 40605; malformed custom key 9001; custom key the app does not allow 40009;
 * more than 20 custom entries, a key twice, or more than 20 custom keys held
 * by the user 6017.  On success json_params is "", and the user's sessions
 * get the TIMSelfInfoUpdatedCallback, subscribers the
 * TIMUserInfoChangedCallback.
 */
TIM_DECL int TIMProfileModifySelfUserProfile(const char* json_modify_self_user_profile_param,
                                             TIMCommCallback cb, const void* user_data);

/* ---------------------------------------------------------------------------
 * User status
 * ------------------------------------------------------------------------- */

/*
 * Read the status of users.  Parameter: a JSON array of user IDs (the first
 * 500 are used; empty: 6017).  Unknown accounts are left out; if none exists
 * the code is 40003.  On success json_params is an array of UserStatus
 * objects.
 */
TIM_DECL int TIMGetUserStatus(const char* json_identifier_array, TIMCommCallback cb,
                              const void* user_data);

/*
 * Set the logged-in user's custom status.  Parameter: an object with
 * kTIMUserStatusCustomStatus (string, at most 100 bytes; other keys are
 * ignored).  The user's sessions and subscribers get the
 * TIMUserStatusChangedCallback.
 */
TIM_DECL int TIMSetSelfStatus(const char* json_current_user_status, TIMCommCallback cb,
                              const void* user_data);

/*
 * Subscribe to the status of users (JSON array of IDs, not empty, not your
 * own).  The list holds at most 200 users; adding more evicts the earliest.
 * Subscriptions end at logout.
 */
TIM_DECL int TIMSubscribeUserStatus(const char* json_identifier_array, TIMCommCallback cb,
                                    const void* user_data);

/* Unsubscribe from users' status; NULL, "" or "[]" removes every subscription. */
TIM_DECL int TIMUnsubscribeUserStatus(const char* json_identifier_array, TIMCommCallback cb,
                                      const void* user_data);

/* Subscribe to profile changes of users; same rules as TIMSubscribeUserStatus. */
TIM_DECL int TIMSubscribeUserInfo(const char* json_user_id_list, TIMCommCallback cb,
                                  const void* user_data);

/* Unsubscribe from profile changes; NULL, "" or "[]" removes every subscription. */
TIM_DECL int TIMUnsubscribeUserInfo(const char* json_user_id_list, TIMCommCallback cb,
                                    const void* user_data);

/* ---------------------------------------------------------------------------
 * Event callbacks.  Each runs on the logic thread; NULL removes it.
 * ------------------------------------------------------------------------- */

/* Own profile changed (by this or another session, or by the admin surface). */
TIM_DECL void TIMSetSelfInfoUpdatedCallback(TIMSelfInfoUpdatedCallback cb, const void* user_data);

/* Status of a subscribed user, or of the logged-in user, changed. */
TIM_DECL void TIMSetUserStatusChangedCallback(TIMUserStatusChangedCallback cb,
                                              const void* user_data);

/* Profile of a user subscribed with TIMSubscribeUserInfo changed. */
TIM_DECL void TIMSetUserInfoChangedCallback(TIMUserInfoChangedCallback cb, const void* user_data);

/*
 * This session was kicked offline (TIMKickedOfflineCallback, TIMCloudComm.h): it has ended
 * before the callback runs, and the user turned UnLogined when it was their last session.
 */
TIM_DECL void TIMSetKickedOfflineCallback(TIMKickedOfflineCallback cb, const void* user_data);

#ifdef __cplusplus
}
#endif

#endif /* TIM_MANAGER_H */
