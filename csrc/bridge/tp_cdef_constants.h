/*
 * tp_cdef_constants.h - the integer constants of the C interface that Python reads as lib.NAME:
 * cffi cdef text only (build_ffi.py), never included by C.
 *
 * C cannot include this file: each name is already an enumerator of TIMCloudComm.h,
 * TIMCloudDef.h, TIMErrorCode.h or TIMRef.h.  It cannot drift from those headers either: cffi's generated
 * C evaluates every name here against them (set_source includes tp_bridge.h, which includes
 * TIMCloud.h and TIMRef.h), so a name that is not a constant there fails the build, and the
 * values always come from the headers.  Add a name here to make it lib.NAME.
 */

/* enum TIMResult (TIMCloudComm.h) */
static const int TIM_SUCC;
static const int TIM_ERR_SDKUNINIT;
static const int TIM_ERR_NOTLOGIN;
static const int TIM_ERR_JSON;
static const int TIM_ERR_PARAM;
static const int TIM_ERR_CONV;
static const int TIM_ERR_GROUP;

/* the enums of TIMCloudDef.h */
static const int kTIMGenderType_Unknown;
static const int kTIMGenderType_Male;
static const int kTIMGenderType_Female;
static const int kTIMProfileAddPermission_Unknown;
static const int kTIMProfileAddPermission_AllowAny;
static const int kTIMProfileAddPermission_NeedConfirm;
static const int kTIMProfileAddPermission_DenyAny;
static const int kTIMUserStatusType_Unkown;
static const int kTIMUserStatusType_Online;
static const int kTIMUserStatusType_Offline;
static const int kTIMUserStatusType_UnLogined;
static const int kTIMLoginStatus_Logined;
static const int kTIMLoginStatus_Logining;
static const int kTIMLoginStatus_UnLogined;
static const int kTIMLoginStatus_Logouting;

/* enum TIMErrCode (TIMErrorCode.h) */
static const int ERR_SUCC;
static const int ERR_SDK_NOT_INITIALIZED;
static const int ERR_SDK_NOT_LOGGED_IN;
static const int ERR_INVALID_PARAMETERS;
static const int ERR_IO_OPERATION_FAILED;
static const int ERR_INVALID_JSON;
static const int ERR_OUT_OF_MEMORY;
static const int ERR_SDK_NET_PKG_SIZE_LIMIT;
static const int ERR_SDK_COMM_INVALID_IDENTIFIER;
static const int ERR_SDK_COMM_INTERRUPT;
static const int ERR_SDK_INTERNAL_ERROR;
static const int ERR_SDK_INVALID_OPERATION;
static const int ERR_SDK_FRIENDSHIP_INVALID_PROFILE_KEY;
static const int ERR_SVR_PROFILE_INVALID_PARAMETERS;
static const int ERR_SVR_PROFILE_ACCOUNT_MISS;
static const int ERR_SVR_PROFILE_ACCOUNT_NOT_FOUND;
static const int ERR_SVR_PROFILE_TAG_NOT_FOUND;
static const int ERR_SVR_PROFILE_SIZE_LIMIT;
static const int ERR_SVR_PROFILE_VALUE_ERROR;
static const int ERR_SVR_PROFILE_INVALID_VALUE_FORMAT;
static const int ERR_SVR_ACCOUNT_USERSIG_EXPIRED;
static const int ERR_SVR_ACCOUNT_USERSIG_EMPTY;
static const int ERR_SVR_ACCOUNT_USERSIG_CHECK_FAILED;
static const int ERR_SVR_ACCOUNT_USERSIG_MISMATCH_ID;
static const int ERR_SVR_ACCOUNT_USERSIG_MISMATCH_SDKAPPID;

/* timref's own (TIMRef.h) */
static const int TIMREF_WORLD_IMPORT_MAX_LEN;
