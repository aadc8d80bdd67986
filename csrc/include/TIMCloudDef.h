/*
 * TIMCloudDef.h - enumerations and JSON keys of the IM C interface (timref).
 *
 * Every JSON argument and result of the interface is an object or an array of
 * objects whose keys are the strings below.  Names and values are the vendor
 * SDK's, so a program written against the vendor headers uses them unchanged.
 */
#ifndef TIM_CLOUD_DEF_H
#define TIM_CLOUD_DEF_H

#include "TIMCloudComm.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------
 * Enumerations
 * ------------------------------------------------------------------------- */

/* Gender of a user profile (user_profile_gender). */
enum TIMGenderType {
    kTIMGenderType_Unknown = 0,
    kTIMGenderType_Male = 1,
    kTIMGenderType_Female = 2
};

/* Who may add this user as a friend (user_profile_add_permission). */
enum TIMProfileAddPermission {
    kTIMProfileAddPermission_Unknown = 0,
    kTIMProfileAddPermission_AllowAny = 1,
    kTIMProfileAddPermission_NeedConfirm = 2,
    kTIMProfileAddPermission_DenyAny = 3
};

/* Status of a user (user_status_status_type).  "Unkown" is the vendor's spelling. */
enum TIMUserStatusType {
    kTIMUserStatusType_Unkown = 0,
    kTIMUserStatusType_Online = 1,     /* has a live session                          */
    kTIMUserStatusType_Offline = 2,    /* its process went away without logging out   */
    kTIMUserStatusType_UnLogined = 3   /* logged out, or never logged in              */
};

/* State of this process's session, as TIMGetLoginStatus reports it. */
enum TIMLoginStatus {
    kTIMLoginStatus_Logined = 1,
    kTIMLoginStatus_Logining = 2,
    kTIMLoginStatus_UnLogined = 3,
    kTIMLoginStatus_Logouting = 4
};

/* ---------------------------------------------------------------------------
 * Event callbacks (see TIMSet...Callback in TIMManager.h)
 * ------------------------------------------------------------------------- */

/* Own profile changed: json_user_profile is one UserProfile object. */
typedef void (*TIMSelfInfoUpdatedCallback)(const char* json_user_profile, const void* user_data);

/* Status of subscribed users (or of this user) changed: an array of UserStatus. */
typedef void (*TIMUserStatusChangedCallback)(const char* json_user_status_array,
                                             const void* user_data);

/* Profile of subscribed users changed: an array of UserProfile objects. */
typedef void (*TIMUserInfoChangedCallback)(const char* json_user_info_array,
                                           const void* user_data);

/* ---------------------------------------------------------------------------
 * TIMInit configuration (json_sdk_config object)
 * ------------------------------------------------------------------------- */

/* string: directory holding the local store; absent or "" keeps it in memory */
static const char* kTIMSdkConfigConfigFilePath TIM_KEY_ATTR = "sdk_config_config_file_path";
/* string: directory for log files (accepted; timref writes no log files) */
static const char* kTIMSdkConfigLogFilePath TIM_KEY_ATTR = "sdk_config_log_file_path";

/* ---------------------------------------------------------------------------
 * TIMProfileGetUserProfileList parameter (object)
 * ------------------------------------------------------------------------- */

/* array of strings: the user IDs to look up (the first 100 are used) */
static const char* kTIMFriendShipGetProfileListParamIdentifierArray TIM_KEY_ATTR =
    "friendship_getprofilelist_param_identifier_array";
/* bool: ask the server rather than a cache (accepted, ignored) */
static const char* kTIMFriendShipGetProfileListParamForceUpdate TIM_KEY_ATTR =
    "friendship_getprofilelist_param_force_update";

/* ---------------------------------------------------------------------------
 * UserStatus object
 * ------------------------------------------------------------------------- */

static const char* kTIMUserStatusIdentifier TIM_KEY_ATTR = "user_status_identifier";       /* string */
static const char* kTIMUserStatusStatusType TIM_KEY_ATTR = "user_status_status_type";      /* TIMUserStatusType */
static const char* kTIMUserStatusCustomStatus TIM_KEY_ATTR = "user_status_custom_status";  /* string */
/* array of strings: device names of the user's live sessions (capital K: vendor spelling) */
static const char* KTIMUserStatusOnlineDevices TIM_KEY_ATTR = "user_status_online_devices";

/* ---------------------------------------------------------------------------
 * UserProfile object (results)
 * ------------------------------------------------------------------------- */

static const char* kTIMUserProfileIdentifier TIM_KEY_ATTR = "user_profile_identifier";         /* string */
static const char* kTIMUserProfileNickName TIM_KEY_ATTR = "user_profile_nick_name";            /* string */
static const char* kTIMUserProfileGender TIM_KEY_ATTR = "user_profile_gender";                 /* TIMGenderType */
static const char* kTIMUserProfileFaceUrl TIM_KEY_ATTR = "user_profile_face_url";              /* string */
static const char* kTIMUserProfileFriendRemark TIM_KEY_ATTR = "user_profile_friend_remark";    /* string */
static const char* kTIMUserProfileSelfSignature TIM_KEY_ATTR = "user_profile_self_signature";  /* string */
static const char* kTIMUserProfileAddPermission TIM_KEY_ATTR = "user_profile_add_permission";  /* TIMProfileAddPermission */
static const char* kTIMUserProfileLocation TIM_KEY_ATTR = "user_profile_location";             /* string */
static const char* kTIMUserProfileLanguage TIM_KEY_ATTR = "user_profile_language";             /* uint32 */
static const char* kTIMUserProfileBirthDay TIM_KEY_ATTR = "user_profile_birthday";             /* uint32 */
static const char* kTIMUserProfileLevel TIM_KEY_ATTR = "user_profile_level";                   /* uint32 */
static const char* kTIMUserProfileRole TIM_KEY_ATTR = "user_profile_role";                     /* uint32 */
/* array of UserProfileCustomStringInfo objects */
static const char* kTIMUserProfileCustomStringArray TIM_KEY_ATTR = "user_profile_custom_string_array";

/* ---------------------------------------------------------------------------
 * UserProfileItem object (TIMProfileModifySelfUserProfile parameter)
 * ------------------------------------------------------------------------- */

static const char* kTIMUserProfileItemNickName TIM_KEY_ATTR = "user_profile_item_nick_name";             /* string, <= 500 bytes */
static const char* kTIMUserProfileItemGender TIM_KEY_ATTR = "user_profile_item_gender";                  /* TIMGenderType */
static const char* kTIMUserProfileItemFaceUrl TIM_KEY_ATTR = "user_profile_item_face_url";               /* string, <= 500 bytes */
static const char* kTIMUserProfileItemSelfSignature TIM_KEY_ATTR = "user_profile_item_self_signature";   /* string, <= 500 bytes */
static const char* kTIMUserProfileItemAddPermission TIM_KEY_ATTR = "user_profile_item_add_permission";   /* TIMProfileAddPermission, 1..3 */
static const char* kTIMUserProfileItemLocation TIM_KEY_ATTR = "user_profile_item_location";              /* string, <= 500 bytes */
static const char* kTIMUserProfileItemLanguage TIM_KEY_ATTR = "user_profile_item_language";              /* uint32 */
static const char* kTIMUserProfileItemBirthDay TIM_KEY_ATTR = "user_profile_item_birthday";              /* uint32 */
static const char* kTIMUserProfileItemLevel TIM_KEY_ATTR = "user_profile_item_level";                    /* uint32 */
static const char* kTIMUserProfileItemRole TIM_KEY_ATTR = "user_profile_item_role";                      /* uint32 */
/* array of UserProfileCustomStringInfo objects, at most 20 */
static const char* kTIMUserProfileItemCustomStringArray TIM_KEY_ATTR = "user_profile_item_custom_string_array";

/* ---------------------------------------------------------------------------
 * UserProfileCustomStringInfo object
 * ------------------------------------------------------------------------- */

/* string: "Tag_Profile_Custom_" (optional on input) + 1..8 letters, digits or underscores */
static const char* kTIMUserProfileCustomStringInfoKey TIM_KEY_ATTR = "user_profile_custom_string_info_key";
/* string: <= 500 bytes */
static const char* kTIMUserProfileCustomStringInfoValue TIM_KEY_ATTR = "user_profile_custom_string_info_value";
/* the vendor's older spellings of the two keys above */
static const char* kTIMUserProfileCustemStringInfoKey TIM_KEY_ATTR = "user_profile_custom_string_info_key";
static const char* kTIMUserProfileCustemStringInfoValue TIM_KEY_ATTR = "user_profile_custom_string_info_value";

#ifdef __cplusplus
}
#endif

#endif /* TIM_CLOUD_DEF_H */
