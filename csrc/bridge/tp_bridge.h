/*
 * tp_bridge.h - the tp_ bridge between tim_py and a library of the IM C interface: what Python
 * (and csrc/tests/test_bridge.c) uses, and the one list of the C functions the bridge calls.
 *
 * Python never calls a TIM* function directly.  It calls
 *  - the wrappers tp_TIMLogin(..., uint64_t token) etc., which call through a table of function
 *    pointers (struct tp_api, tp_api.c) that points at the compiled-in timref by default and at
 *    another build of the C interface after tp_load (a vendor libImSDK.so, or
 *    build/native/libtimref.so): one switch moves every call;
 *  - the completion queue (tp_queue.c): the C callbacks given to the library copy each
 *    completion and event into a node of one list and signal an eventfd; Python takes the whole
 *    list at once with tp_drain.  user_data is an integer token, never a Python object, and no
 *    Python code ever runs on the library's logic thread.
 *
 * The declarations with their contracts are in tp_cdef.h, included below: that file is also
 * cffi's cdef, so it holds no preprocessor directive.  Nothing here needs Python.
 */
#ifndef TP_BRIDGE_H
#define TP_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "TIMCloud.h"
#include "TIMRef.h"

#include "tp_cdef.h"

/*
 * TP_FUNCTIONS(SYNC, ASYNC, EVENT): every function of the C interface the bridge calls, in one
 * place.  tp_api.c generates from it the table struct tp_api, the table of the compiled-in
 * timref, the dlsym loading of tp_load and the wrappers; tp_cdef.h declares the wrappers for
 * Python.  Each entry is one of
 *
 *   SYNC(need, ret, wret, name, (params), (args), missing)
 *       a function without callback: ret name(params).  Its wrapper wret tp_<name>(params)
 *       returns the result converted to wret (they differ only where cffi would need a type of
 *       the TIM headers: TIMGetLoginStatus's enum is returned as int).
 *   ASYNC(need, name, (params,), (args,))
 *       int name(params, TIMCommCallback cb, const void* user_data): params and args are those
 *       before the (cb, user_data) pair, each followed by a comma, "()" when there is none.  Its
 *       wrapper int tp_<name>(params, uint64_t token) passes the bridge's completion callback
 *       and the token as user_data.
 *   EVENT(need, name, cbtype)
 *       void name(cbtype cb, const void* user_data), an event setter: no wrapper, it is driven
 *       by tp_set_event_callbacks.
 *
 * need is REQ, or OPT for a function a library may lack: timref-only functions (TIMRef.h), and
 * TIMSetKickedOfflineCallback, which the bridge installs only where the library has it.
 * tp_load accepts a library without an OPT function, the table then holds NULL and the wrapper
 * returns `missing` (for ASYNC always TP_ERR_UNSUPPORTED) without calling anything; an OPT
 * event setter is then skipped by tp_set_event_callbacks.  A REQ entry's `missing` is never
 * used (`_`).
 *
 * The compiler checks the list: the compiled-in table is initialised with the real functions
 * (a parameter or return type that differs from TIMManager.h or TIMRef.h does not compile),
 * and every wrapper is defined with its tp_cdef.h prototype in scope.
 */
#define TP_FUNCTIONS(SYNC, ASYNC, EVENT)                                                           \
    SYNC(REQ, int, int, TIMInit, (uint64_t sdk_app_id, const char* json_sdk_config),               \
         (sdk_app_id, json_sdk_config), _)                                                         \
    SYNC(REQ, int, int, TIMUninit, (void), (), _)                                                  \
    SYNC(REQ, const char*, const char*, TIMGetSDKVersion, (void), (), _)                           \
    SYNC(REQ, uint64_t, uint64_t, TIMGetServerTime, (void), (), _)                                 \
    ASYNC(REQ, TIMLogin, (const char* user_id, const char* user_sig, ), (user_id, user_sig, ))     \
    ASYNC(REQ, TIMLogout, (), ())                                                                  \
    SYNC(REQ, int, int, TIMGetLoginUserID, (char* user_id_buffer), (user_id_buffer), _)            \
    SYNC(REQ, enum TIMLoginStatus, int, TIMGetLoginStatus, (void), (), _)                          \
    ASYNC(REQ, TIMProfileGetUserProfileList, (const char* json, ), (json, ))                       \
    ASYNC(REQ, TIMProfileModifySelfUserProfile, (const char* json, ), (json, ))                    \
    ASYNC(REQ, TIMGetUserStatus, (const char* json, ), (json, ))                                   \
    ASYNC(REQ, TIMSetSelfStatus, (const char* json, ), (json, ))                                   \
    ASYNC(REQ, TIMSubscribeUserStatus, (const char* json, ), (json, ))                             \
    ASYNC(REQ, TIMUnsubscribeUserStatus, (const char* json, ), (json, ))                           \
    ASYNC(REQ, TIMSubscribeUserInfo, (const char* json, ), (json, ))                               \
    ASYNC(REQ, TIMUnsubscribeUserInfo, (const char* json, ), (json, ))                             \
    EVENT(REQ, TIMSetSelfInfoUpdatedCallback, TIMSelfInfoUpdatedCallback)                          \
    EVENT(REQ, TIMSetUserStatusChangedCallback, TIMUserStatusChangedCallback)                      \
    EVENT(REQ, TIMSetUserInfoChangedCallback, TIMUserInfoChangedCallback)                          \
    EVENT(OPT, TIMSetKickedOfflineCallback, TIMKickedOfflineCallback)                              \
    ASYNC(OPT, TIMRefAdminRequest, (const char* api, const char* json_body, ), (api, json_body, )) \
    SYNC(OPT, const char*, const char*, TIMRefGetLastError, (void), (), "")                        \
    SYNC(OPT, int, int, TIMRefRemoveWorld, (uint64_t sdk_app_id, const char* json_config),          \
         (sdk_app_id, json_config), TP_ERR_UNSUPPORTED)

#endif
