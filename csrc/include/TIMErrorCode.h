/*
 * TIMErrorCode.h - codes reported through the completion callback (timref).
 *
 * Names and values are those of the vendor SDK.  Only the codes timref can
 * report are listed.
 */
#ifndef TIM_ERROR_CODE_H
#define TIM_ERROR_CODE_H

enum TIMErrCode {
    ERR_SUCC = 0,

    /* Local (SDK) errors */
    ERR_SDK_NOT_INITIALIZED = 6013,   /* called before TIMInit or after TIMUninit        */
    ERR_SDK_NOT_LOGGED_IN = 6014,     /* the call needs a logged-in user                  */
    ERR_INVALID_PARAMETERS = 6017,    /* a parameter is missing, of the wrong kind or
                                         outside its limits                              */
    ERR_IO_OPERATION_FAILED = 6022,   /* the local store could not be read or written     */
    ERR_INVALID_JSON = 6027,          /* a JSON value could not be understood             */
    ERR_OUT_OF_MEMORY = 6028,         /* memory ran out                                   */
    ERR_SDK_NET_PKG_SIZE_LIMIT = 9522, /* a JSON argument is larger than 1 MiB            */

    ERR_SDK_COMM_INVALID_IDENTIFIER = 7003, /* a user ID is empty, too long (over 32
                                               bytes) or not printable ASCII             */
    ERR_SDK_COMM_INTERRUPT = 7009,    /* the call was pending when TIMUninit ran          */
    ERR_SDK_INTERNAL_ERROR = 7012,    /* an internal error                                */
    ERR_SDK_INVALID_OPERATION = 7014, /* the operation is not allowed in this state       */

    ERR_SDK_FRIENDSHIP_INVALID_PROFILE_KEY = 9001, /* a custom profile key is malformed  */

    /* Server-side profile errors */
    ERR_SVR_PROFILE_INVALID_PARAMETERS = 40001,
    ERR_SVR_PROFILE_ACCOUNT_MISS = 40002,      /* no account was named                    */
    ERR_SVR_PROFILE_ACCOUNT_NOT_FOUND = 40003, /* none of the named accounts exists       */
    ERR_SVR_PROFILE_TAG_NOT_FOUND = 40009,     /* a custom key the app does not allow     */
    ERR_SVR_PROFILE_SIZE_LIMIT = 40601,        /* a value is longer than 500 bytes        */
    ERR_SVR_PROFILE_VALUE_ERROR = 40605,       /* a value is out of its range             */
    ERR_SVR_PROFILE_INVALID_VALUE_FORMAT = 40610, /* a value has the wrong JSON type      */

    /* Server-side account (UserSig) errors */
    ERR_SVR_ACCOUNT_USERSIG_EXPIRED = 70001,
    ERR_SVR_ACCOUNT_USERSIG_EMPTY = 70002,
    ERR_SVR_ACCOUNT_USERSIG_CHECK_FAILED = 70003,
    ERR_SVR_ACCOUNT_USERSIG_MISMATCH_ID = 70013,
    ERR_SVR_ACCOUNT_USERSIG_MISMATCH_SDKAPPID = 70014
};

#endif /* TIM_ERROR_CODE_H */
