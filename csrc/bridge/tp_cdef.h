/*
 * tp_cdef.h - the declarations of the tp_ bridge that Python calls: read verbatim by cffi's cdef
 * (build_ffi.py) and included verbatim by tp_bridge.h, so that the C compiler checks this very
 * text against the bridge's definitions.
 *
 * Rules of this file, because cffi reads it:
 *  - no preprocessor directive of any kind (cffi cannot parse them): it is included by
 *    tp_bridge.h after <stddef.h> and <stdint.h>, inside tp_bridge.h's include guard;
 *  - only types cffi knows (int, size_t, uint64_t, char) and the ones declared here.
 *
 * It cannot drift from the C side: every wrapper tp_TIM...() is defined in tp_api.c from the one
 * list TP_FUNCTIONS (tp_bridge.h) with this file's prototype in scope, so a prototype that does
 * not match its definition is a "conflicting types" error, and a function of the list missing
 * here is a -Wmissing-prototypes error in the CMake build (timref_bridge).  A prototype here with
 * no definition makes `import tim_py` fail ("undefined symbol").  The integer constants of the
 * TIM headers are declared apart, in tp_cdef_constants.h (C cannot include that file).
 *
 * Threads: every function may be called from any thread unless its comment says otherwise.
 */

/* The kinds of tp_item.  TP_KIND_CALL is a completion (its token is the call's); the other
 * four are events (token 0), one per event callback of the C interface.  TP_KIND_KICKED_OFFLINE
 * (TIMKickedOfflineCallback) carries no JSON: its json is "". */
enum tp_kind {
    TP_KIND_CALL = 0,
    TP_KIND_SELF_INFO = 1,
    TP_KIND_USER_STATUS = 2,
    TP_KIND_USER_INFO = 3,
    TP_KIND_KICKED_OFFLINE = 4
};

/* What a wrapper of a timref-only function (TIMRefAdminRequest) returns when the current
 * library does not export it (a vendor build). */
enum tp_unsupported { TP_ERR_UNSUPPORTED = -100 };

/*
 * One completion or event, copied out of the library's callback.  desc and json point into the
 * node itself (or at static text when memory ran out, see tp_queue.c), are NUL-terminated and
 * are never NULL: a NULL desc or json from the library arrives as "".  desc_len and json_len are
 * their strlen.  code is the callback's code (0 for events).  next links the list that tp_drain
 * returns.
 */
typedef struct tp_item {
    struct tp_item* next;
    uint64_t token;
    int kind;
    int code;
    size_t desc_len;
    size_t json_len;
    const char* desc;
    const char* json;
} tp_item;

/* ---- the completion queue (tp_queue.c) ----------------------------------------------------- */

/*
 * The queue's eventfd, created on first use (-1, with a message on stderr, when eventfd(2)
 * fails).  The bridge writes to it when the queue goes from empty to non-empty and in tp_wake;
 * the reader reads it (8 bytes, resetting the counter) and then calls tp_drain.  Never closed.
 */
int tp_eventfd(void);

/* Make the eventfd readable without queuing anything (to wake a reader that must stop). */
void tp_wake(void);

/*
 * Take every queued item at once, oldest first: *out receives the head of the list (NULL when
 * empty) and the result is how many items it holds.  The queue is empty afterwards.  The caller
 * owns the list and must give it back to tp_free_items.
 */
int tp_drain(tp_item** out);

/* Free a list returned by tp_drain (NULL is fine).  The items must not be used afterwards. */
void tp_free_items(tp_item* items);

/* ---- the library in use (tp_api.c) --------------------------------------------------------- */

/*
 * Choose the library every wrapper calls.  path NULL or "": the compiled-in timref.  Otherwise
 * dlopen(path) and look up every function of TP_FUNCTIONS: returns 0, or -1 with a one-line
 * reason in err (errlen bytes, NUL-terminated) and the current library unchanged.  A function
 * the list marks optional may be missing.  A library once loaded is never unloaded (its threads
 * may outlive a client).  Not thread-safe: call it while no call is in flight (tim_py calls it
 * when a client opens, before TIMInit).
 */
int tp_load(const char* path, char* err, size_t errlen);

/* 1 when the current library has the timref admin surface (TIMRefAdminRequest), else 0. */
int tp_has_admin(void);

/* 1 when the compiled-in timref is in use, else 0. */
int tp_is_builtin(void);

/*
 * Install (on != 0) or remove (on == 0) the bridge's event callbacks in the current library:
 * each event is then queued with its kind (TP_KIND_SELF_INFO, _USER_STATUS, _USER_INFO,
 * _KICKED_OFFLINE), token 0, code 0, desc "" and the event's JSON ("" for a kick).  The
 * kicked-offline callback is installed only when the library has TIMSetKickedOfflineCallback.
 */
void tp_set_event_callbacks(int on);

/*
 * ---- the wrappers (tp_api.c) ----------------------------------------------------------------
 *
 * One per function of TP_FUNCTIONS except the event setters: each calls the function of that
 * name in the current library with the same arguments and returns its result.  Where the C
 * function takes (TIMCommCallback cb, const void* user_data), the wrapper takes a token instead:
 * the call's callback queues a TP_KIND_CALL item carrying that token, so the completion comes
 * back through tp_drain.  TIMGetLoginStatus's enum is returned as an int.  When the current
 * library lacks an optional function, tp_TIMRefAdminRequest and tp_TIMRefRemoveWorld return
 * TP_ERR_UNSUPPORTED and tp_TIMRefGetLastError returns "".
 */
int tp_TIMInit(uint64_t sdk_app_id, const char* json_sdk_config);
int tp_TIMUninit(void);
const char* tp_TIMGetSDKVersion(void);
uint64_t tp_TIMGetServerTime(void);
int tp_TIMLogin(const char* user_id, const char* user_sig, uint64_t token);
int tp_TIMLogout(uint64_t token);
int tp_TIMGetLoginUserID(char* user_id_buffer);
int tp_TIMGetLoginStatus(void);
int tp_TIMProfileGetUserProfileList(const char* json, uint64_t token);
int tp_TIMProfileModifySelfUserProfile(const char* json, uint64_t token);
int tp_TIMGetUserStatus(const char* json, uint64_t token);
int tp_TIMSetSelfStatus(const char* json, uint64_t token);
int tp_TIMSubscribeUserStatus(const char* json, uint64_t token);
int tp_TIMUnsubscribeUserStatus(const char* json, uint64_t token);
int tp_TIMSubscribeUserInfo(const char* json, uint64_t token);
int tp_TIMUnsubscribeUserInfo(const char* json, uint64_t token);
int tp_TIMRefAdminRequest(const char* api, const char* json_body, uint64_t token);
const char* tp_TIMRefGetLastError(void);
int tp_TIMRefRemoveWorld(uint64_t sdk_app_id, const char* json_config);
