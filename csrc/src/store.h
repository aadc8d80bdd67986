/*
 * store.h - the store: accounts with their profile and status, sessions, the
 * log of change events, and how processes sharing a store learn of each
 * other's commits and deaths.  Included by tr_internal.h (after its limits and
 * before the layers that use the types below); not to be included alone.
 *
 * The code above the store (the jobs in profile.c, status.c, admin.c and
 * session.c; feed.c's feed, watcher and liveness sweep) sees only this
 * interface: the tr_store_* functions, which dispatch through the engine's
 * table of operations (struct tr_store_ops) or, where the logic is the same
 * for every engine, do it here once (store.c).  tr_store_open chooses the
 * engine: SQLite (store_sqlite.c) or PostgreSQL (store_pg.c).
 *
 * For an engine writer, what every operation must guarantee:
 *
 *  - Threads.  Every operation is called on the logic thread, one at a time,
 *    except watch_drain, which the watcher thread calls while the logic
 *    thread goes on using the store: it may touch only the watch's own state.
 *  - Results.  TR_OK; TR_NOTFOUND where the operation says so; TR_EIO for
 *    any failure of the engine (errmsg then says why); TR_ENOMEM when memory
 *    ran out.  tr_store_fail (result.c) is the one mapping to the vendor's
 *    codes.
 *  - Transactions.  begin opens a write transaction that excludes every other
 *    writer, in this process and in the others, until commit or rollback
 *    (SQLite: BEGIN IMMEDIATE).  The data operations run inside the caller's
 *    transaction when one is open, or as a transaction of their own (each
 *    reading operation sees one consistent state).  A commit that returned
 *    TR_OK is durable: it survives the process, or the machine, dying the next
 *    instant (SQLite: WAL, synchronous=FULL on disk).
 *  - Pointers given to an operation (ids, tokens, texts) are the caller's and
 *    are valid only for the duration of the call.
 */
#ifndef TR_STORE_H
#define TR_STORE_H

/* ---- the records -------------------------------------------------------------- */

enum tr_field {
    TR_F_NICK, TR_F_GENDER, TR_F_FACE_URL, TR_F_SIGNATURE, TR_F_ALLOW_TYPE, TR_F_LOCATION,
    TR_F_LANGUAGE, TR_F_BIRTHDAY, TR_F_LEVEL, TR_F_ROLE, TR_F_MSG_SETTINGS, TR_F_FORBID,
    TR_F_COUNT
};

typedef struct tr_custom {
    char key[TR_CUSTOM_KEY_SIZE]; /* full key, prefix included */
    char* value;
} tr_custom;

typedef struct tr_profile {
    char id[TR_MAX_ID_LEN + 1];
    char* str[TR_F_COUNT];   /* string fields (others NULL), never NULL for them */
    uint32_t num[TR_F_COUNT];/* number fields */
    int64_t last_updated;
    size_t n_custom;
    tr_custom custom[TR_MAX_CUSTOM]; /* sorted by key */
} tr_profile;

typedef struct tr_status {
    char id[TR_MAX_ID_LEN + 1];
    int type;                /* TIMUserStatusType */
    char* custom;            /* never NULL */
    size_t n_devices;
    char** devices;
} tr_status;

void tr_profile_init(tr_profile* p, const char* id);
void tr_profile_clear(tr_profile* p);
int tr_profile_copy(tr_profile* dst, const tr_profile* src);
/*
 * The stored form of a profile's custom fields, the same in every engine: a JSON array of
 * [key, value] pairs.  custom_load appends the pairs of text (NULL: none) to p, skipping malformed
 * ones (TR_EIO when text is not an array); custom_dump gives a new text (free it), NULL when memory
 * ran out.  (store.c)
 */
int tr_profile_custom_load(tr_profile* p, const char* text);
char* tr_profile_custom_dump(const tr_profile* p);
void tr_status_clear(tr_status* s);

enum tr_store_rc { TR_OK = 0, TR_NOTFOUND = 1, TR_EIO = -1, TR_ENOMEM = -2 };
/* Change events: a profile changed; presence changed (login, logout, offline);
 * the custom status changed (or the admin set the status); the admin kicked the user's
 * sessions (its data: {"tokens": [the session tokens ended]}, written before the presence
 * event of the same kick). */
enum tr_event_type { TR_EVT_PROFILE = 1, TR_EVT_PRESENCE = 2, TR_EVT_STATUS = 3, TR_EVT_KICK = 4 };

/* The size of a session token, NUL included (session.c makes them). */
#define TR_TOKEN_SIZE 64

/* A session whose holder died (dead_sessions). */
typedef struct tr_dead_session {
    char token[TR_TOKEN_SIZE];
    char id[TR_MAX_ID_LEN + 1];
} tr_dead_session;

/* ---- opening: which store, which engine ----------------------------------------- */

/*
 * Where the store is: `url`, a libpq connection URI (postgresql://...), names
 * a world on PostgreSQL (store_pg.c), which processes on any host share;
 * otherwise `dir`, a directory (the SQLite store on disk, shared by the
 * processes of this machine that open it with the same app ID), or NULL
 * (SQLite in memory, private to this process).  tr_store_open is the one
 * place that chooses.
 */
typedef struct tr_store_config {
    const char* dir;
    const char* url;
} tr_store_config;

/*
 * Open the store of app_id that cfg names, creating what is missing and
 * upgrading an older schema in place; refuse a newer one.  On failure, err
 * holds the reason TIMInit reports (paths included) and *out is NULL.
 */
int tr_store_open(tr_store** out, uint64_t app_id, const tr_store_config* cfg, char* err, size_t errlen);

/*
 * Remove the world of app_id that cfg names, entirely (store.c chooses the
 * engine like tr_store_open): on PostgreSQL its schema and its row in the
 * registry, on SQLite its files in the directory.  Refused (TR_EIO, err says
 * why) while any process, this one included, has the world open: every open
 * store holds an open lock that removing takes exclusively (a live session's
 * process has the world open).  Simulated sessions hold nothing and go with
 * the world.  TR_OK also when there was no such world.  cfg->dir and cfg->url
 * both NULL (a store in memory) is the caller's refusal, not this one's.
 */
int tr_store_remove(uint64_t app_id, const tr_store_config* cfg, char* err, size_t errlen);

/* ---- the engine's operations --------------------------------------------------------- */

/*
 * The base of every engine's store (its own struct starts with it).  `ops` and
 * `shared` are set by the engine's open; `txn_events` belongs to the
 * dispatchers below.
 */
struct tr_store {
    const struct tr_store_ops* ops;
    /* Other processes may write this store: the feed watches it (watch_*), checks
     * data_version before each job and sweeps dead sessions.  False (a store in
     * memory): this connection is the only writer and none of that happens. */
    bool shared;
    bool txn_events; /* the open transaction added change events */
    /* Group commit (store.c, tr_store_batch_*): while a batch is open, begin /
     * commit / rollback work on a savepoint inside the batch's one transaction. */
    bool batch;        /* a batch transaction is open */
    bool sp_open;      /* a job's savepoint is open inside it */
    bool batch_events; /* a released savepoint added change events */
    /*
     * The engine's connection to a server was lost and made again (set by the
     * engine, on the logic thread, inside whatever operation reconnected;
     * cleared by feed.c, tr_feed_sync, before the next job).  What the lost
     * connection held is gone: this process's liveness slot (the others may
     * have ended its session meanwhile) and the wake-ups sent while it was
     * away.  feed.c then reads the events it missed and session.c restores the
     * live session (tr_session_restore).  An engine without a server (SQLite)
     * never sets it.
     */
    bool reconnected;
};

struct tr_store_ops {
    const char* name; /* "sqlite" */

    /* ---- life ---- */
    /* Close the connection and free the store; releases every liveness slot this
     * process holds (the others then see its sessions as dead).  The watch is
     * stopped first (watch_stop) if it is still running. */
    void (*close)(tr_store* st);
    /* Why the last operation failed (for 6022 "store: <why>"); never NULL. */
    const char* (*errmsg)(tr_store* st);

    /* ---- transactions ---- */
    /* Open a write transaction (see the header comment). */
    int (*begin)(tr_store* st);
    /*
     * Commit the open transaction, durably.  wake: it added change events; the
     * engine must then wake the other processes' watches (watch_start) so that
     * a reader woken sees the commit (SQLite: one byte written to the notify
     * file after COMMIT; a later engine may NOTIFY inside the transaction).  A
     * missed wake-up is tolerated (the next one, or the reader's data_version
     * check before its next job, catches up); a failed commit wakes nobody.
     * Housekeeping (pruning old events) may follow; its failure is not the
     * commit's.
     */
    int (*commit)(tr_store* st, bool wake);
    /* Roll the open transaction back; nothing when none is open. */
    void (*rollback)(tr_store* st);
    /*
     * Savepoints inside the open transaction (group commit: one job's part of a
     * batch).  savepoint opens one (TR_EIO when no transaction is open any more,
     * e.g. the engine rolled it back after an error); release keeps its changes
     * in the transaction (nothing is durable before commit); rollback_to undoes
     * its changes only and closes it.
     */
    int (*savepoint)(tr_store* st);
    int (*release)(tr_store* st);
    void (*rollback_to)(tr_store* st);

    /* ---- accounts ---- */
    /* Create the account (empty profile, status UnLogined) when missing; *created
     * (may be NULL) tells whether it did. */
    int (*account_ensure)(tr_store* st, const char* id, bool* created);
    int (*account_exists)(tr_store* st, const char* id); /* TR_OK / TR_NOTFOUND */
    /* Delete the account and its simulated sessions; TR_NOTFOUND when there was none. */
    int (*account_delete)(tr_store* st, const char* id);
    /*
     * Kick (inside the caller's transaction): record `at` as the account's kick
     * time and remove every session of the user, real and simulated; *tokens
     * receives a new JSON array of the tokens removed (oldest session first).
     * TR_NOTFOUND when the account does not exist.
     */
    int (*kick)(tr_store* st, const char* id, int64_t at, json_t** tokens);
    /* The account's last kick time (0: never kicked); TR_NOTFOUND when there is no account. */
    int (*account_kicked)(tr_store* st, const char* id, int64_t* at);
    /*
     * List account IDs, appending them as JSON strings to the array `ids`: at
     * most `limit` of them, in byte order (unsigned bytes compared like memcmp,
     * a shorter prefix first: SQLite's BINARY collation, PostgreSQL's COLLATE
     * "C"), each greater than `after` (NULL: from the first account), and each
     * containing `match` as a substring, case-sensitive, byte for byte (NULL or
     * "": every account; no wildcards: '%' and '_' are ordinary bytes).  Paging
     * is by key: the caller passes the last ID of one page as `after` of the
     * next, so a page costs a range scan of the ID index from `after` (never an
     * OFFSET), fast with 10^6 accounts.  limit 0 appends nothing.  TR_ENOMEM
     * when an append fails (ids then holds what was appended before).
     */
    int (*account_list)(tr_store* st, const char* after, const char* match, size_t limit, json_t* ids);
    /* How many accounts contain `match` (the same rule as account_list; NULL or
     * "": all of them), in *n. */
    int (*account_count)(tr_store* st, const char* match, int64_t* n);

    /* ---- profiles and status ---- */
    /* Load the profile (out is initialized in every case, and cleared on failure);
     * TR_NOTFOUND when there is no account.  Custom entries come sorted by key. */
    int (*profile_load)(tr_store* st, const char* id, tr_profile* out);
    /* Replace the account's profile with p; TR_NOTFOUND when there is no account. */
    int (*profile_save)(tr_store* st, const tr_profile* p);
    /*
     * Load the status as one consistent read (the account row and its sessions'
     * devices, oldest session first): Online when any session exists, else the
     * stored type (UnLogined when it is Online or invalid).  TR_NOTFOUND when there
     * is no account.
     */
    int (*status_load)(tr_store* st, const char* id, tr_status* out);
    /*
     * Load the profiles (profile_load_many) or the statuses (status_load_many) of
     * n accounts as one consistent read, in one round trip on a server: the cache
     * misses of one get call.  out[i] is initialized for every i in every case
     * (as profile_load / status_load would leave it), found[i] tells whether
     * ids[i] has an account (out[i] stays empty when not); an ID may appear more
     * than once.  On failure every out[i] is cleared.
     */
    int (*profile_load_many)(tr_store* st, const char* const* ids, size_t n, tr_profile* out, bool* found);
    int (*status_load_many)(tr_store* st, const char* const* ids, size_t n, tr_status* out, bool* found);
    /* Set the stored (not-online) status and the custom status: type < 0 keeps the
     * type (custom must then be given), custom NULL keeps the custom status.
     * TR_NOTFOUND when the account does not exist. */
    int (*status_set)(tr_store* st, const char* id, int type, const char* custom);

    /* ---- sessions ---- */
    /* Add (or replace) a session row; slot: its liveness slot (slot_acquire), -1 for none
     * (simulated sessions, stores in memory). */
    int (*session_add)(tr_store* st, const char* token, const char* id, const char* device, bool simulated,
                       int slot);
    /* Remove a session; *removed (may be NULL) tells whether a row was there. */
    int (*session_remove)(tr_store* st, const char* token, bool* removed);
    /* Remove the user's simulated sessions. */
    int (*session_remove_simulated)(tr_store* st, const char* id);
    /* Number of sessions of a user. */
    int (*session_count)(tr_store* st, const char* id, int* n);

    /*
     * ---- liveness ----
     * A live session holds a liveness slot, which the engine ties to this
     * process (or its connection) so that it is released when the process dies,
     * however it dies (SQLite: an OFD lock on one byte of the lock file; a later
     * engine: an advisory lock held by the session's connection).
     */
    /* Claim a free slot for a new session, inside its write transaction (the slot
     * goes into its row with session_add); *slot = -1 when the store is not shared. */
    int (*slot_acquire)(tr_store* st, int* slot);
    /* Give up a slot this process holds (logout, kick); nothing for -1. */
    void (*slot_release)(tr_store* st, int slot);
    /*
     * List (outside any transaction) at most max sessions, other than own_token
     * (may be NULL), whose slot nobody holds any more: their process died.  The
     * caller ends them (feed.c, tr_feed_reap), tolerating that another process
     * ends them first.  *n = 0 when the store is not shared.
     */
    int (*dead_sessions)(tr_store* st, const char* own_token, tr_dead_session* out, size_t max, size_t* n);

    /* ---- change events ---- */
    /* Append an event (inside the caller's transaction); data: a JSON object's
     * text or NULL.  Sequence numbers increase by one per event. */
    int (*event_add)(tr_store* st, int type, const char* id, const char* origin, const char* data);
    /*
     * Visit the events after *seq in order, advancing *seq (data: the snapshot or
     * NULL).  The engine may keep a statement open while fn runs: fn must copy,
     * not use the store.  *gap tells that events after *seq were pruned before
     * they could be read (the engine keeps at least the last 10,000).
     */
    int (*event_scan)(tr_store* st, int64_t* seq,
                      void (*fn)(void* arg, int type, const char* id, const char* origin, const char* data),
                      void* arg, bool* gap);
    /* The sequence number of the last event (0: none). */
    int64_t (*event_last)(tr_store* st);
    /* A value that changes whenever another connection (process) has committed
     * since the last call; cheap, as it is asked before every job of a shared store. */
    int64_t (*data_version)(tr_store* st);

    /*
     * ---- watching other processes' commits (shared stores only) ----
     * watch_start (logic thread, once after open): set up the watch and give the
     * descriptor the watcher thread polls; it becomes readable (POLLIN) after
     * another process's commit woke it (commit's wake).  TR_EIO with the reason
     * in err when it cannot.
     * watch_drain (the watcher thread, after the descriptor polled readable):
     * consume what made it readable, so that the next poll blocks until the next
     * wake-up.  It must not touch the state the logic thread uses.
     * watch_stop (logic thread, after the watcher thread is joined): release it.
     */
    int (*watch_start)(tr_store* st, int* fd, char* err, size_t errlen);
    void (*watch_drain)(tr_store* st);
    void (*watch_stop)(tr_store* st);
};

/* The engines (their open functions; tr_store_open chooses). */
int tr_store_sqlite_open(tr_store** out, uint64_t app_id, const char* dir, char* err, size_t errlen);
/* url: a libpq connection URI; err never holds its password (store_pg.c). */
int tr_store_pg_open(tr_store** out, uint64_t app_id, const char* url, char* err, size_t errlen);
/* The engines' tr_store_remove. */
int tr_store_sqlite_remove(uint64_t app_id, const char* dir, char* err, size_t errlen);
int tr_store_pg_remove(uint64_t app_id, const char* url, char* err, size_t errlen);

/* ---- what the code above calls ---------------------------------------------------- */

static inline void tr_store_close(tr_store* st) {
    if (st) st->ops->close(st);
}
static inline const char* tr_store_errmsg(tr_store* st) { return st ? st->ops->errmsg(st) : "no store"; }

/* BEGIN; inside a batch, a savepoint of the batch's transaction.  (store.c) */
int tr_store_begin(tr_store* st);
/*
 * COMMIT.  The one after-commit path: when the transaction added events
 * (tr_store_event_add), the feed is marked (its events reach this process's
 * caches and callbacks before the job completes) and the engine wakes the
 * other processes.  Writers use tr_commit.  (store.c)
 */
int tr_store_commit(tr_store* st);
/* ROLLBACK; inside a batch, back to the job's savepoint only.  (store.c) */
void tr_store_rollback(tr_store* st);

/*
 * Group commit.  batch_begin opens one write transaction (begin) in which the
 * following jobs run: each job's begin / commit / rollback becomes a savepoint,
 * its release, its rollback.  batch_commit commits them all at once, durably
 * (one commit, one fsync), waking the others when any job added events; on
 * failure nothing of the batch is kept (the caller then calls batch_rollback).
 * The feed is not marked by a batch: feed.c reads the batch's events itself
 * (tr_feed_batch_*).
 */
int tr_store_batch_begin(tr_store* st);
int tr_store_batch_commit(tr_store* st);
void tr_store_batch_rollback(tr_store* st);
/* For tests: how many real commits (durable transactions) succeeded so far. */
unsigned long tr_store_commits(void);

static inline int tr_store_account_ensure(tr_store* st, const char* id, bool* created) {
    return st->ops->account_ensure(st, id, created);
}
static inline int tr_store_account_exists(tr_store* st, const char* id) { return st->ops->account_exists(st, id); }
static inline int tr_store_account_delete(tr_store* st, const char* id) { return st->ops->account_delete(st, id); }
static inline int tr_store_kick(tr_store* st, const char* id, int64_t at, json_t** tokens) {
    return st->ops->kick(st, id, at, tokens);
}
static inline int tr_store_account_kicked(tr_store* st, const char* id, int64_t* at) {
    return st->ops->account_kicked(st, id, at);
}
static inline int tr_store_account_list(tr_store* st, const char* after, const char* match, size_t limit,
                                        json_t* ids) {
    return st->ops->account_list(st, after, match, limit, ids);
}
static inline int tr_store_account_count(tr_store* st, const char* match, int64_t* n) {
    return st->ops->account_count(st, match, n);
}
static inline int tr_store_profile_load(tr_store* st, const char* id, tr_profile* out) {
    return st->ops->profile_load(st, id, out);
}
static inline int tr_store_profile_save(tr_store* st, const tr_profile* p) { return st->ops->profile_save(st, p); }
static inline int tr_store_status_load(tr_store* st, const char* id, tr_status* out) {
    return st->ops->status_load(st, id, out);
}
static inline int tr_store_profile_load_many(tr_store* st, const char* const* ids, size_t n, tr_profile* out,
                                             bool* found) {
    return st->ops->profile_load_many(st, ids, n, out, found);
}
static inline int tr_store_status_load_many(tr_store* st, const char* const* ids, size_t n, tr_status* out,
                                            bool* found) {
    return st->ops->status_load_many(st, ids, n, out, found);
}
static inline int tr_store_status_set(tr_store* st, const char* id, int type, const char* custom) {
    return st->ops->status_set(st, id, type, custom);
}
static inline int tr_store_session_add(tr_store* st, const char* token, const char* id, const char* device,
                                       bool simulated, int slot) {
    return st->ops->session_add(st, token, id, device, simulated, slot);
}
/* removed may be NULL. */
static inline int tr_store_session_remove(tr_store* st, const char* token, bool* removed) {
    return st->ops->session_remove(st, token, removed);
}
static inline int tr_store_session_remove_simulated(tr_store* st, const char* id) {
    return st->ops->session_remove_simulated(st, id);
}
static inline int tr_store_session_count(tr_store* st, const char* id, int* n) {
    return st->ops->session_count(st, id, n);
}
static inline int tr_store_slot_acquire(tr_store* st, int* slot) { return st->ops->slot_acquire(st, slot); }
static inline void tr_store_slot_release(tr_store* st, int slot) { st->ops->slot_release(st, slot); }
static inline int tr_store_dead_sessions(tr_store* st, const char* own_token, tr_dead_session* out, size_t max,
                                         size_t* n) {
    return st->ops->dead_sessions(st, own_token, out, max, n);
}
/* Append a change event with the given data (a JSON object's text, or NULL). */
static inline int tr_store_event_add_data(tr_store* st, int type, const char* id, const char* origin,
                                          const char* data) {
    int rc = st->ops->event_add(st, type, id, origin, data);
    if (rc == TR_OK) st->txn_events = true;
    return rc;
}
/*
 * Append a change event (inside the caller's transaction), with a snapshot of
 * the user's new state: the profile (own view) for TR_EVT_PROFILE, the status
 * otherwise; no snapshot when the account no longer exists.  (store.c)
 */
int tr_store_event_add(tr_store* st, int type, const char* id, const char* origin);
static inline int tr_store_event_scan(tr_store* st, int64_t* seq,
                                      void (*fn)(void* arg, int type, const char* id, const char* origin,
                                                 const char* data),
                                      void* arg, bool* gap) {
    return st->ops->event_scan(st, seq, fn, arg, gap);
}
static inline int64_t tr_store_event_last(tr_store* st) { return st->ops->event_last(st); }
static inline int64_t tr_store_data_version(tr_store* st) { return st->ops->data_version(st); }
static inline int tr_store_watch_start(tr_store* st, int* fd, char* err, size_t errlen) {
    return st->ops->watch_start(st, fd, err, errlen);
}
static inline void tr_store_watch_drain(tr_store* st) { st->ops->watch_drain(st); }
static inline void tr_store_watch_stop(tr_store* st) { st->ops->watch_stop(st); }

#endif
