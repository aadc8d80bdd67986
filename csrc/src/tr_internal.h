/*
 * tr_internal.h - timref's internal interfaces.  Everything here is hidden
 * (-fvisibility=hidden) and prefixed tr_.
 *
 * Threads: the API functions run on the caller's thread and only check and
 * copy their arguments; every job then runs, in order, on one logic thread
 * (engine.c), which owns the context below, the store and the caches.  Only
 * the small snapshot of the login state (TIMGetLoginUserID) and the event
 * callback registrations are shared, each behind its own mutex.
 */
#ifndef TR_INTERNAL_H
#define TR_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "TIMCloud.h"
#include "TIMRef.h"

/* ---- limits (docs/contract.md 3) ----------------------------------------- */
#define TR_MAX_ID_LEN 32              /* identifier bytes                       */
#define TR_MAX_JSON_LEN (1024 * 1024) /* JSON argument bytes (9522 beyond)      */
#define TR_MAX_DEPTH 64               /* JSON nesting (TIM_ERR_JSON beyond)     */
#define TR_MAX_PROFILE_IDS 100        /* ids examined by a profile lookup       */
#define TR_MAX_STATUS_IDS 500         /* ids examined by a status lookup        */
#define TR_MAX_REST_ACCOUNTS 100      /* accounts per multiaccount_import, account_delete, account_check */
#define TR_MAX_VALUE_LEN 500          /* profile string values                  */
#define TR_MAX_CUSTOM_STATUS_LEN 100  /* custom status                          */
#define TR_MAX_SUBS 200               /* users in one subscription list         */
#define TR_MAX_CUSTOM 20              /* custom fields per call and per user    */
#define TR_CUSTOM_PREFIX "Tag_Profile_Custom_"
#define TR_CUSTOM_PREFIX_LEN 19
#define TR_MAX_CUSTOM_NAME 8
#define TR_CUSTOM_KEY_SIZE (TR_CUSTOM_PREFIX_LEN + TR_MAX_CUSTOM_NAME + 1)
/* The custom key rule, as error texts state it (checked by tr_custom_key_full). */
#define TR_CUSTOM_KEY_RULE "1..8 letters, digits or underscores after an optional " TR_CUSTOM_PREFIX
#define TR_DESC_SIZE 256
#define TR_REASON_SIZE 1024 /* a refusal's reason (TIMRefGetLastError): paths included */

/* ---- result.c: how outcomes are reported ----------------------------------- */

/*
 * What a job reports through its callback.  Every layer above the store
 * reports this way (the admin surface too: its REST answer is built from it).
 */
typedef struct tr_result {
    int code;
    char desc[TR_DESC_SIZE];
    char* json; /* malloc'd json_params; NULL means "" (or the job's err_json) */
} tr_result;

/* Set an error (code, printf-style desc); returns code. */
int tr_fail(tr_result* r, int code, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
/* Set success with json_params taken over from `json` (may be NULL). */
void tr_succeed(tr_result* r, char* json);
/*
 * Refuse a call at once: record why for TIMRefGetLastError (this thread's
 * reason, printf-style) and return rc, the call's non-zero return value.
 */
int tr_refuse(int rc, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
/* Refuse a call because memory ran out while copying its arguments (TIM_ERR_PARAM). */
int tr_refuse_oom(void);
/* Serialize `j` compactly into r->json (steals the reference); 6028 on failure. */
int tr_succeed_json(tr_result* r, json_t* j);
/*
 * The one mapping of a failed tr_store_rc to the vendor's codes: TR_ENOMEM
 * (memory ran out, anywhere) gives 6028 "out of memory"; TR_EIO, and
 * TR_NOTFOUND where a record had to be there, 6022 "store: <why>".  Returns
 * the code.
 */
int tr_store_fail(tr_result* r, int rc);
/*
 * Finish the transaction open on the store, whose work so far gave rc: commit
 * it when rc is TR_OK (see tr_store_commit for what follows a commit);
 * otherwise, or when the commit fails, roll it back and report through
 * tr_store_fail.  Returns ERR_SUCC or the code reported.
 */
int tr_commit(int rc, tr_result* r);

/* ---- json.c -------------------------------------------------------------- */

enum tr_json_shape { TR_JSON_OBJECT = 1, TR_JSON_ARRAY = 2 };
/*
 * Parse an API argument: depth <= 64, no duplicated keys, valid UTF-8, no
 * \u0000, top level of the given shape.  Returns TIM_SUCC (with *out) or
 * TIM_ERR_JSON (refused with tr_refuse: the reason says where and what).  The caller has already checked NULL, "" and the size.
 */
int tr_json_parse(const char* text, size_t len, int shape, json_t** out);
/* A growing text buffer (p NUL-terminated once anything was added). */
typedef struct tr_buf {
    char* p;
    size_t len, cap;
} tr_buf;
/* Append n bytes; false when memory runs out (b unchanged). */
bool tr_buf_add(tr_buf* b, const char* s, size_t n);
/*
 * Answer a lookup of many users: a JSON array of text_of(id) for each id, in
 * order, unknown accounts (TR_NOTFOUND) left out; 40003 when none exists,
 * 6028 / 6022 when memory or the store fails.
 */
void tr_answer_texts(tr_result* r, const char** ids, size_t n, int (*text_of)(const char* id, const char** text));
/* Dump compactly (keys in insertion order); NULL on allocation failure. */
char* tr_json_dump(const json_t* j);
/* An identifier is 1..32 bytes of printable ASCII (0x20-0x7e). */
bool tr_id_valid(const char* s, size_t len);
/*
 * Check a custom profile key ("Tag_Profile_Custom_" optional, then 1..8
 * letters, digits or underscores) and write its full form into out.  Returns
 * false when malformed.
 */
bool tr_custom_key_full(const char* key, char out[TR_CUSTOM_KEY_SIZE]);
/*
 * Read an id array (json array of strings), examining at most `max` entries:
 * non-strings give 6017, invalid ids 7003 (desc names the entry).  Writes the
 * ids, in order (each once when `dedupe`: meant for short lists), to *ids
 * (pointers into `arr`, valid while it lives; free the array).
 */
int tr_id_list(const json_t* arr, size_t max, bool dedupe, const char*** ids, size_t* n, tr_result* r);

/* ---- map.c: the caches' hash map ------------------------------------------ */

/* Put first in a cached struct; key and bytes are the caller's to fill. */
typedef struct tr_map_entry {
    struct tr_map_entry* next;
    size_t bytes; /* what the entry holds, for the budget */
    char key[TR_MAX_ID_LEN + 1];
} tr_map_entry;

typedef struct tr_map {
    tr_map_entry** buckets;
    size_t nbuckets, count, bytes, max_bytes, sweep;
    void (*free_fn)(tr_map_entry* e);
} tr_map;

/* A map's static initializer: empty, its table allocated on the first put. */
#define TR_MAP_INIT(max_bytes_, free_fn_) {.max_bytes = (max_bytes_), .free_fn = (free_fn_)}
tr_map_entry* tr_map_get(tr_map* m, const char* key);
/*
 * Insert (replacing an entry of the same key), then evict others while over
 * budget; `e` itself is never evicted by its own insertion.  Entries returned
 * earlier by tr_map_get may be freed: do not hold them across a put.
 * Returns false (e not inserted, not freed) when memory runs out.
 */
bool tr_map_put(tr_map* m, tr_map_entry* e);
/* Account bytes added to an entry later (and evict others if needed). */
void tr_map_add_bytes(tr_map* m, tr_map_entry* e, size_t bytes);
void tr_map_del(tr_map* m, const char* key);
void tr_map_clear(tr_map* m);

/* ---- engine.c ------------------------------------------------------------ */

typedef struct tr_job tr_job;
typedef void (*tr_run_fn)(tr_job* job, tr_result* res);

enum tr_needs {
    TR_NEED_INIT = 1,  /* 6013 unless initialized */
    TR_NEED_LOGIN = 2  /* 6014 unless logged in   */
};

struct tr_job {
    tr_job* next;
    tr_run_fn run;
    unsigned needs;
    int pre_code;         /* non-zero: complete with this code, do not run   */
    const char* err_json; /* json_params of error completions: "" or "[]"     */
    json_t* arg;          /* parsed argument (owned), or NULL                 */
    char* s1;             /* copied strings (owned), or NULL                  */
    char* s2;
    TIMCommCallback cb;   /* user callback, or NULL for internal jobs         */
    const void* ud;
    /* internal synchronous jobs (TIMInit / TIMUninit / destructor) */
    void (*sync_fn)(void* arg);
    void* sync_arg;
    int* sync_done;
};

/* A new job, or NULL when memory runs out. */
tr_job* tr_job_new(tr_run_fn run, unsigned needs, TIMCommCallback cb, const void* ud);
void tr_job_free(tr_job* job);
/* Queue a job (takes ownership).  Starts the logic thread if needed. */
void tr_submit(tr_job* job);
/* Run fn(arg) on the logic thread and wait for it (inline when already there). */
void tr_run_sync(void (*fn)(void*), void* arg);
/* Mark every queued user call as interrupted (7009); used by TIMUninit. */
void tr_interrupt_pending(void);
/* On the logic thread: complete the interrupted jobs now (TIMUninit from a callback). */
void tr_drain_interrupted(void);
bool tr_on_logic_thread(void);
/* Stop the logic thread after what is queued, and join it (TIMUninit). */
void tr_engine_stop(void);
/* Whether a logic thread exists (while initialized, one always does). */
bool tr_engine_running(void);

/* Event callback registrations (any thread). */
enum tr_event_kind { TR_EV_SELF_INFO, TR_EV_USER_STATUS, TR_EV_USER_INFO, TR_EV_KICKED, TR_EV_COUNT };
void tr_event_set(int kind, void* fn, const void* ud);
/* Deliver an event to its registered callback, if any (logic thread only); TR_EV_KICKED
 * (TIMKickedOfflineCallback) takes no JSON (json is ignored). */
void tr_event_fire(int kind, const char* json);

/* ---- the context, owned by the logic thread (config.c, session.c) ---------- */

typedef struct tr_store tr_store;

typedef struct tr_sublist {
    size_t n;
    char ids[TR_MAX_SUBS][TR_MAX_ID_LEN + 1]; /* oldest first */
} tr_sublist;

typedef struct tr_ctx {
    bool initialized;
    uint64_t app_id;
    char* dir;            /* store directory, NULL for memory */
    char* secret_key;     /* NULL: any non-empty sig accepted */
    char* device;         /* device name of this process's sessions */
    char** allowed_keys;  /* full custom keys the app allows, NULL: any */
    size_t n_allowed;
    tr_store* store;
    /* the session */
    bool logged_in;
    char user_id[TR_MAX_ID_LEN + 1];
    char token[64];       /* this session's identity in the store */
    int slot;             /* its liveness slot (-1: none) */
    tr_sublist status_subs;
    tr_sublist info_subs;
} tr_ctx;

extern tr_ctx tr_g;

/* ---- config.c: TIMInit's config, init and uninit ----------------------------- */

/* TIMInit's work, done on the logic thread (tr_run_sync). */
typedef struct tr_init_args {
    uint64_t app_id;
    json_t* cfg;               /* the config object (never NULL) */
    int rc;                    /* out: TIM_SUCC or the refusal */
    char why[TR_REASON_SIZE];  /* out: the refusal's reason, from the logic thread */
} tr_init_args;
void tr_init_on_logic(void* init_args);
/* TIMUninit's work: end the session, deliver what is due, close the store. */
void tr_uninit_on_logic(void* unused);
/* Check the custom key against the app's allowed list. */
bool tr_custom_key_allowed(const char* full_key);

/* ---- session.c: login, logout, the login snapshot ----------------------------- */

/* Publish the login state for TIMGetLoginUserID / TIMGetLoginStatus. */
void tr_snapshot_set(const char* user_id_or_null);
/* Read it (any thread): copies the user ID ("" when logged out) into buf when
 * given (at least TR_MAX_ID_LEN + 1 bytes); true when logged in. */
bool tr_snapshot_get(char* buf);
/* The origin string of changes made by this session. */
const char* tr_origin_self(void);
/* End this process's session in the store (logout, uninit); ERR_SUCC or the code in r. */
int tr_session_end(tr_result* r);
/* Forget the session here, whatever the store says (uninit). */
void tr_session_forget(void);
/*
 * The one check of a UserSig (TIMLogin, the admin's ref/check_usersig): 70002 when sig is
 * NULL or ""; with a secret key, tr_usersig_verify's 70003 / 70013 / 70014 / 70001, and 70001
 * when it was issued (TLS.time) before the last kick of `id` (the account's kick time).
 * Without a key any non-empty sig passes.  ERR_SUCC or the code set in r.
 */
int tr_usersig_check(const char* id, const char* sig, tr_result* r);
/* The admin kicked this session (feed.c read the kick event naming its token): forget it
 * here and release its liveness slot; its session row is already gone. */
void tr_session_kicked(void);
/* The store reconnected (tr_store.reconnected) and feed.c has read the events it missed: when
 * still logged in, put this session back (its row, a fresh liveness slot; a presence event when
 * another process had ended it meanwhile).  A session whose account was deleted ends here. */
void tr_session_restore(void);
void tr_job_login(tr_job* job, tr_result* r);
void tr_job_logout(tr_job* job, tr_result* r);

/* ---- store.h: the store interface (store.c) and its engines (store_sqlite.c) ---- */
#include "store.h"

/* The store a TIMInit config names (pointing into cfg; both NULL: in memory); TIM_ERR_PARAM
 * (refused, the reason set) for a value of the wrong kind.  (config.c) */
int tr_config_store(const json_t* cfg, tr_store_config* out);
/* TIMRefRemoveWorld's work, on the caller's thread: TIM_SUCC or refused.  (world.c) */
int tr_world_remove(uint64_t app_id, const json_t* cfg);

/* ---- profile.c ------------------------------------------------------------ */

/* The profile field table: JSON keys, REST tag, kind and range. */
typedef struct tr_field_desc {
    int field;
    const char* item_key;    /* user_profile_item_... */
    const char* profile_key; /* user_profile_...      */
    const char* tag;         /* Tag_Profile_IM_...    */
    bool is_string;
    uint32_t min, max;       /* numbers */
    const char* const* names;/* REST string values by number (enums), or NULL */
} tr_field_desc;
extern const tr_field_desc tr_fields[TR_F_COUNT];
/* The field of an item key (user_profile_item_...) or, by_tag, a REST tag; NULL if none. */
const tr_field_desc* tr_field_find(const char* name, bool by_tag);
/*
 * The one check of a field's value, setting it in p when good: 40610 of the
 * wrong JSON type, 40601 a string over 500 bytes, 40605 a number out of range
 * (or, names_ok, an unknown enum name); desc starts with `name`, the key or
 * tag as the caller gave it.  names_ok: enum names ("Gender_Type_Male") are
 * accepted besides numbers (the REST tags).
 */
int tr_field_set(tr_profile* p, const tr_field_desc* d, const json_t* v, const char* name, bool names_ok,
                 tr_result* r);
/* Replace a string field with a copy of value; TR_OK or TR_ENOMEM. */
int tr_profile_set_str(tr_profile* p, int field, const char* value);

/* JSON of a profile; self: show own add permission. */
json_t* tr_profile_json(const tr_profile* p, bool self);
/*
 * Cached profile of id (logic thread).  TR_OK, TR_NOTFOUND, TR_EIO.  The
 * pointer is valid until the next cache lookup: copy what you keep.
 */
int tr_profile_get(const char* id, const tr_profile** out);
/* Cached compact JSON text of the profile (self or other view); same validity. */
int tr_profile_text(const char* id, bool self, const char** out);
void tr_profile_cache_forget(const char* id);
void tr_profile_cache_reset(void);
/*
 * Validate a custom-string entry list and merge it into p (all or nothing):
 * codes 40610, 40601, 9001, 40009, 6017 with the key named.
 */
int tr_profile_apply_custom(tr_profile* p, const json_t* arr, const char* key_name, tr_result* r);
/*
 * Persist p with its change event, in a transaction of its own (creating the
 * account first when `create`): 40003 when the account does not exist.
 */
int tr_profile_commit(const tr_profile* p, bool create, const char* origin, tr_result* r);

void tr_job_get_profiles(tr_job* job, tr_result* r);
void tr_job_modify_profile(tr_job* job, tr_result* r);

/* ---- status.c ------------------------------------------------------------- */

json_t* tr_status_json(const tr_status* s);
/* A custom status value: a string of at most 100 bytes (6017 naming `name`). */
int tr_custom_status_check(const json_t* v, const char* name, tr_result* r);
/* Cached JSON text of a user's status (valid until the next lookup). */
int tr_status_text(const char* id, const char** out);
void tr_status_cache_forget(const char* id);
void tr_status_cache_reset(void);
void tr_job_get_status(tr_job* job, tr_result* r);
void tr_job_set_self_status(tr_job* job, tr_result* r);
void tr_job_subscribe_status(tr_job* job, tr_result* r);
void tr_job_unsubscribe_status(tr_job* job, tr_result* r);
void tr_job_subscribe_info(tr_job* job, tr_result* r);
void tr_job_unsubscribe_info(tr_job* job, tr_result* r);
bool tr_sublist_has(const tr_sublist* l, const char* id);

/* ---- feed.c: change events -> caches and event callbacks ------------------ */

/* The origin string of changes made by the admin surface. */
#define TR_ORIGIN_ADMIN "admin"
/* Note that the store may hold new events: only tr_store_commit and the
 * watcher's poll job call this. */
void tr_feed_mark(void);
/* Deliver pending events (logic thread; after each job). */
void tr_feed_run(void);
/* Group commit (engine.c): while a batch is open, events are read for the caches only;
 * mark: how many of the batch's events there are after the job just run; after the
 * batch's commit, deliver [from, to) before each job's completion, then done; abort
 * when the batch was rolled back. */
void tr_feed_batch_begin(void);
size_t tr_feed_batch_mark(void);
void tr_feed_batch_commit(void);
void tr_feed_batch_abort(void);
void tr_feed_batch_deliver(size_t from, size_t to);
void tr_feed_batch_done(void);
/*
 * Before a job: if another process committed since the feed last looked,
 * read its events now, so the job sees (and the caches hold) every write
 * that was acknowledged before the job started.
 */
void tr_feed_sync(void);
/* Start / stop watching the store for other processes' commits. */
int tr_feed_start(void);
void tr_feed_stop(void);
/* Turn the sessions of dead processes Offline (logic thread). */
void tr_feed_reap(void);

/* ---- admin.c -------------------------------------------------------------- */

void tr_job_admin(tr_job* job, tr_result* r);

/* ---- usersig.c -------------------------------------------------------------- */
#include "usersig.h"

#endif
