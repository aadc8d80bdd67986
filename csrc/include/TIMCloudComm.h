/*
 * TIMCloudComm.h - common definitions of the IM C interface (timref).
 *
 * Declares the export macro, the result codes every API function returns
 * synchronously and the completion callback type shared by asynchronous calls.
 */
#ifndef TIM_CLOUD_COMM_H
#define TIM_CLOUD_COMM_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define TIM_DECL __declspec(dllexport)
#else
#define TIM_DECL __attribute__((visibility("default")))
#endif

/*
 * The JSON key constants are `static const char*` as in the vendor headers;
 * this attribute keeps compilers quiet about the ones a program does not use.
 */
#if defined(__GNUC__) || defined(__clang__)
#define TIM_KEY_ATTR __attribute__((unused))
#else
#define TIM_KEY_ATTR
#endif

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Synchronous return value of the API functions.
 *
 * TIM_SUCC means the call was accepted: its callback will fire exactly once,
 * on the library's logic thread.  Any other value means the call was refused
 * outright and its callback never fires.
 */
enum TIMResult {
    TIM_SUCC = 0,            /* accepted; the callback reports the outcome        */
    TIM_ERR_SDKUNINIT = -1,  /* reserved by the vendor interface                  */
    TIM_ERR_NOTLOGIN = -2,   /* reserved by the vendor interface                  */
    TIM_ERR_JSON = -3,       /* argument is not JSON, or JSON of the wrong shape  */
    TIM_ERR_PARAM = -4,      /* a required argument is NULL or ""                 */
    TIM_ERR_CONV = -5,       /* reserved by the vendor interface                  */
    TIM_ERR_GROUP = -6       /* reserved by the vendor interface                  */
};

/*
 * Completion callback of an asynchronous call.
 *
 * code:        0 on success, otherwise a value from TIMErrorCode.h.
 * desc:        a human-readable description ("" on success).
 * json_params: the call's result as JSON text ("" when the call has none).
 * user_data:   the pointer given to the call, passed back untouched.
 *
 * desc and json_params are valid only while the callback runs.
 */
typedef void (*TIMCommCallback)(int32_t code, const char* desc, const char* json_params,
                                const void* user_data);

/*
 * Event callback: this session was kicked offline (TIMSetKickedOfflineCallback, TIMManager.h).
 * When it runs the session has already ended: TIMGetLoginStatus returns kTIMLoginStatus_UnLogined
 * and the calls that need a login complete with ERR_SDK_NOT_LOGGED_IN until the next TIMLogin.
 * In timref the only cause is the admin's kick of the logged-in user (v4/im_open_login_svc/kick,
 * TIMRefAdminRequest), made in this process or in another one on the same store.
 *
 * user_data: the pointer given to TIMSetKickedOfflineCallback, passed back untouched.
 */
typedef void (*TIMKickedOfflineCallback)(const void* user_data);

#ifdef __cplusplus
}
#endif

#endif /* TIM_CLOUD_COMM_H */
