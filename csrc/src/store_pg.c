/*
 * store_pg.c - the PostgreSQL engine of the store (store.h), through libpq.
 *
 * One database serves several apps: each app's tables live in a schema of its
 * own, timref_<sdk_app_id>, which timref creates and upgrades itself (its
 * `meta` table holds the schema version), and a registry, timref.app, gives
 * each app a small integer, its lock key, unique in the database.  Creating and
 * upgrading are serialized by a transaction-level advisory lock.
 *
 * Two connections per process:
 *  - the logic connection (the logic thread's): every query, every
 *    transaction, and the session-level advisory locks that are the liveness
 *    slots: (lock key, slot + 1).  Writers exclude each other with the
 *    transaction-level lock (lock key, 0).  When this connection ends (the
 *    process died, or its host vanished and the server's keepalives gave up),
 *    its locks end with it and the others' liveness sweep finds its sessions
 *    dead.
 *  - the watch connection (the watcher thread's): it only LISTENs on the
 *    app's channel.  A libpq connection must not be used by two threads at
 *    once, and a notification that arrived while the logic thread was inside
 *    a query would be read into libpq's buffer with the socket left silent: an
 *    idle process would sleep through its wake-up.  The descriptor the watcher
 *    polls is an epoll set holding the watch connection's socket (and a timer
 *    for its reconnection), so it stays the same across reconnections.
 *
 * Every query runs in non-blocking mode with a hard deadline (QUERY_DEADLINE_MS):
 * a call never waits longer than that for a server that vanished.  A broken
 * connection is reconnected before the next operation outside a transaction,
 * with a backoff; the code above learns of it through tr_store.reconnected.
 *
 * Messages name the server as host:port/dbname only: never the URI (it may hold
 * the password) and never libpq's own text about a connection (which may echo
 * parts of the URI).
 */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "tr_internal.h"

/* The schema this build writes; a newer one is refused, an older one upgraded (k_upgrade). */
#define SCHEMA_VERSION 1

/* Events kept for readers that lag, as in every engine (store.h: at least 10,000). */
#define EVENT_KEEP 10000
#define EVENT_PRUNE_STEP 1000
#define EVENT_BATCH 512

/* Bounds (docs/behaviour.md, "PostgreSQL"). */
#define QUERY_DEADLINE_MS 6000    /* the client's hard limit on one query's answer */
#define STATEMENT_TIMEOUT_MS 5000 /* the server's (lock waits included) */
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
#define SLOT_TRIES 4096 /* slots tried past the lowest one no session row claims */

/* What timref adds to the user's connection parameters when the URI does not set them. */
static const char* const k_conn_defaults[][2] = {
    {"connect_timeout", "3"},      /* seconds, per host tried */
    {"keepalives", "1"},
    {"keepalives_idle", "5"},
    {"keepalives_interval", "1"},
    {"keepalives_count", "3"},
    {"tcp_user_timeout", "5000"},  /* ms: unacknowledged data ends the connection */
    {"application_name", "timref"},
};

/* What every connection sets on the server's side: its backend then ends, and this process's
 * locks with it, about 8 s after this host vanished (5 s idle + 3 probes 1 s apart). */
#define SESSION_SETUP                                                                        \
    "SET statement_timeout = " TR_STR(STATEMENT_TIMEOUT_MS) "; SET tcp_keepalives_idle = 5; " \
    "SET tcp_keepalives_interval = 1; SET tcp_keepalives_count = 3; "                        \
    "SET tcp_user_timeout = 5000; SET client_encoding = 'UTF8'; "                            \
    "SET idle_in_transaction_session_timeout = 0"
#define TR_STR_(x) #x
#define TR_STR(x) TR_STR_(x)

/* The key of the transaction-level lock that serializes creating and upgrading schemas
 * (the one-argument form: it never meets the two-argument locks of the apps). */
#define SCHEMA_LOCK "7310611"

/* The second key of the session-level lock (lock key, OPEN_LOCK) that the logic
 * connection of every process with the world open holds shared; removing the world
 * (tr_store_pg_remove) takes it exclusively, so it fails while any process has the
 * world open.  Apart from the writers' 0 and the slots' slot + 1 (>= 1). */
#define OPEN_LOCK "-1"
/* The same key as pg_locks shows it (objid, an oid: -1 as unsigned 32 bits). */
#define OPEN_LOCK_OBJID "4294967295"

enum {
    Q_ACC_INSERT, Q_ACC_EXISTS, Q_ACC_DELETE, Q_ACC_DEL_SIM, Q_ACC_KICK, Q_KICK_SESSIONS, Q_ACC_KICKED,
    Q_ACC_LIST, Q_ACC_COUNT,
    Q_PROF_LOAD, Q_PROF_LOAD_MANY, Q_PROF_SAVE, Q_STATUS_LOAD, Q_STATUS_LOAD_MANY, Q_STATUS_SET, Q_STATUS_SET_TYPE,
    Q_SESS_ADD, Q_SESS_REMOVE, Q_SESS_REMOVE_SIM, Q_SESS_COUNT, Q_SESS_SLOTS, Q_SLOT_LOCK, Q_SLOT_UNLOCK,
    Q_DEAD, Q_EV_ADD, Q_EV_SCAN, Q_EV_LAST, Q_EV_PRUNE,
    Q_COUNT
};

/* $k: the app's lock key where a statement needs it. */
static const char* const k_sql[Q_COUNT] = {
    [Q_ACC_INSERT] = "INSERT INTO account(id, created) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    [Q_ACC_EXISTS] = "SELECT 1 FROM account WHERE id = $1",
    [Q_ACC_DELETE] = "DELETE FROM account WHERE id = $1",
    [Q_ACC_DEL_SIM] = "DELETE FROM session WHERE user_id = $1 AND simulated",
    [Q_ACC_KICK] = "UPDATE account SET kicked = $2 WHERE id = $1",
    [Q_KICK_SESSIONS] = "WITH d AS (DELETE FROM session WHERE user_id = $1 RETURNING token, started) "
                        "SELECT token FROM d ORDER BY started, token",
    [Q_ACC_KICKED] = "SELECT kicked FROM account WHERE id = $1",
    /* byte order (COLLATE "C"), a range scan of the primary key from $1; strpos: a plain substring */
    [Q_ACC_LIST] = "SELECT id FROM account WHERE id > $1 AND strpos(id, $2) > 0 ORDER BY id LIMIT $3",
    [Q_ACC_COUNT] = "SELECT count(*) FROM account WHERE strpos(id, $1) > 0",
    [Q_PROF_LOAD] = "SELECT nick, gender, face_url, signature, allow_type, location, language, "
                    "birthday, level, role, msg_settings, forbid, custom, last_updated "
                    "FROM account WHERE id = $1",
    /* the same columns, then the (1-based) place of the ID in the array $1 */
    [Q_PROF_LOAD_MANY] = "SELECT a.nick, a.gender, a.face_url, a.signature, a.allow_type, a.location, "
                         "a.language, a.birthday, a.level, a.role, a.msg_settings, a.forbid, a.custom, "
                         "a.last_updated, q.i FROM unnest($1::text[]) WITH ORDINALITY AS q(id, i) "
                         "JOIN account a ON a.id = q.id",
    [Q_PROF_SAVE] = "UPDATE account SET nick = $1, gender = $2, face_url = $3, signature = $4, "
                    "allow_type = $5, location = $6, language = $7, birthday = $8, level = $9, "
                    "role = $10, msg_settings = $11, forbid = $12, custom = $13, "
                    "last_updated = $14 WHERE id = $15",
    /* one statement, so one snapshot: the account row and its sessions' devices */
    [Q_STATUS_LOAD] = "SELECT status, custom_status, coalesce((SELECT json_agg(device ORDER BY started, token) "
                      "FROM session WHERE user_id = $1)::text, '[]') FROM account WHERE id = $1",
    [Q_STATUS_LOAD_MANY] = "SELECT a.status, a.custom_status, coalesce((SELECT json_agg(device ORDER BY started, "
                           "token) FROM session WHERE user_id = a.id)::text, '[]'), q.i "
                           "FROM unnest($1::text[]) WITH ORDINALITY AS q(id, i) JOIN account a ON a.id = q.id",
    [Q_STATUS_SET] = "UPDATE account SET status = CASE WHEN $2::int < 0 THEN status ELSE $2::int END, "
                     "custom_status = $3 WHERE id = $1",
    [Q_STATUS_SET_TYPE] = "UPDATE account SET status = $2 WHERE id = $1",
    [Q_SESS_ADD] = "INSERT INTO session(token, user_id, device, simulated, pid, started, slot) "
                   "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (token) DO UPDATE SET "
                   "user_id = EXCLUDED.user_id, device = EXCLUDED.device, simulated = EXCLUDED.simulated, "
                   "pid = EXCLUDED.pid, started = EXCLUDED.started, slot = EXCLUDED.slot",
    [Q_SESS_REMOVE] = "DELETE FROM session WHERE token = $1",
    [Q_SESS_REMOVE_SIM] = "DELETE FROM session WHERE user_id = $1 AND simulated",
    [Q_SESS_COUNT] = "SELECT count(*) FROM session WHERE user_id = $1",
    [Q_SESS_SLOTS] = "SELECT slot FROM session WHERE slot IS NOT NULL ORDER BY slot",
    [Q_SLOT_LOCK] = "SELECT pg_try_advisory_lock($1::int, $2::int)",
    [Q_SLOT_UNLOCK] = "SELECT pg_advisory_unlock($1::int, $2::int)",
    /* sessions whose slot lock no backend of this database holds (pg_locks read once) */
    [Q_DEAD] = "WITH held AS MATERIALIZED (SELECT l.objid FROM pg_catalog.pg_locks l "
               "WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted AND l.classid = $2::int::oid "
               "AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())) "
               "SELECT s.token, s.user_id FROM session s WHERE s.slot IS NOT NULL AND s.token <> $1 "
               "AND (s.slot + 1)::oid NOT IN (SELECT objid FROM held) ORDER BY s.started LIMIT $3",
    /* consecutive numbers: writers are serialized by the app's write lock */
    [Q_EV_ADD] = "INSERT INTO event(seq, type, user_id, origin, data) "
                 "SELECT coalesce(max(seq), 0) + 1, $1, $2, $3, $4 FROM event RETURNING seq",
    [Q_EV_SCAN] = "SELECT seq, type, user_id, origin, data FROM event WHERE seq > $1 ORDER BY seq LIMIT "
                  TR_STR(EVENT_BATCH),
    [Q_EV_LAST] = "SELECT coalesce(max(seq), 0) FROM event",
    [Q_EV_PRUNE] = "DELETE FROM event WHERE seq < $1",
};

/* The app's tables (in its schema, which is first on search_path). */
static const char k_schema[] =
    "CREATE TABLE IF NOT EXISTS account("
    "  id text COLLATE \"C\" PRIMARY KEY,"
    "  nick text NOT NULL DEFAULT '', gender bigint NOT NULL DEFAULT 0,"
    "  face_url text NOT NULL DEFAULT '', signature text NOT NULL DEFAULT '',"
    "  allow_type bigint NOT NULL DEFAULT 0, location text NOT NULL DEFAULT '',"
    "  language bigint NOT NULL DEFAULT 0, birthday bigint NOT NULL DEFAULT 0,"
    "  level bigint NOT NULL DEFAULT 0, role bigint NOT NULL DEFAULT 0,"
    "  msg_settings bigint NOT NULL DEFAULT 0, forbid bigint NOT NULL DEFAULT 0,"
    "  custom text NOT NULL DEFAULT '[]', last_updated bigint NOT NULL DEFAULT 0,"
    "  status int NOT NULL DEFAULT 3, custom_status text NOT NULL DEFAULT '',"
    "  created bigint NOT NULL DEFAULT 0, kicked bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS session("
    "  token text COLLATE \"C\" PRIMARY KEY, user_id text COLLATE \"C\" NOT NULL, device text NOT NULL,"
    "  simulated boolean NOT NULL DEFAULT false, pid bigint NOT NULL DEFAULT 0,"
    "  started bigint NOT NULL DEFAULT 0, slot int);"
    "CREATE INDEX IF NOT EXISTS session_by_user ON session(user_id);"
    "CREATE TABLE IF NOT EXISTS event("
    "  seq bigint PRIMARY KEY, type int NOT NULL, user_id text COLLATE \"C\" NOT NULL,"
    "  origin text NOT NULL, data text);";

/* What turns a schema of version v (index) into one of version v + 1 (none yet). */
static const char* const k_upgrade[SCHEMA_VERSION] = {NULL};

typedef struct pg_store {
    tr_store base; /* first: a tr_store* is a pg_store* */
    uint64_t app_id;
    int lock_key;          /* the app's key in timref.app */
    char schema[32];       /* timref_<app_id> */
    char where[200];       /* host:port/dbname, for messages */
    char user[64];         /* the role, for messages */
    const char** keys;     /* the connection parameters (values hold the password: never printed) */
    const char** vals;
    size_t n_params;
    char sql_setup[512];   /* search_path and SESSION_SETUP */
    char sql_begin[160];
    char sql_commit_wake[96];
    char err[768];

    /* the logic connection (logic thread) */
    PGconn* conn;
    bool txn;              /* a transaction is open (begin .. commit/rollback) */
    bool ever_connected;
    int64_t next_try;      /* reconnect not before (monotonic ms) */
    int backoff;
    int64_t last_event, prune_mark;

    /* the watch (watcher thread after watch_start) */
    PGconn* wconn;
    int epfd, timerfd, wsock;
    int wbackoff;
} pg_store;

#define PG(b) ((pg_store*)(b))

static const struct tr_store_ops k_pg_ops;

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- connections ------------------------------------------------------------ */

/* Only printable ASCII of a parameter goes into a message. */
static void printable(char* dst, size_t n, const char* src) {
    size_t j = 0;
    for (size_t i = 0; src && src[i] && j + 1 < n; i++) dst[j++] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
    dst[j] = '\0';
}

static const char* param(const pg_store* st, const char* key) {
    for (size_t i = 0; i < st->n_params; i++)
        if (strcmp(st->keys[i], key) == 0) return st->vals[i];
    return NULL;
}

/*
 * Why a connection failed, in words of our own: libpq's message is only
 * classified, never copied (it may quote parts of the URI).
 */
static const char* connect_why(const char* libpq_msg, char* buf, size_t n, const pg_store* st) {
    const char* m = libpq_msg ? libpq_msg : "";
    if (strstr(m, "password authentication failed") || strstr(m, "authentication failed"))
        snprintf(buf, n, "authentication failed for user \"%s\"", st->user);
    else if (strstr(m, "no password supplied"))
        snprintf(buf, n, "the server wants a password for user \"%s\" and none was given", st->user);
    else if (strstr(m, "role") && strstr(m, "does not exist"))
        snprintf(buf, n, "the role \"%s\" does not exist", st->user);
    else if (strstr(m, "database") && strstr(m, "does not exist"))
        snprintf(buf, n, "the database does not exist");
    else if (strstr(m, "Connection refused")) snprintf(buf, n, "connection refused");
    else if (strstr(m, "timeout expired")) snprintf(buf, n, "no answer within the connect timeout");
    else if (strstr(m, "translate host name")) snprintf(buf, n, "unknown host name");
    else if (strstr(m, "No route to host") || strstr(m, "Network is unreachable"))
        snprintf(buf, n, "network unreachable");
    else if (strstr(m, "No such file or directory")) snprintf(buf, n, "no server at that socket");
    else if (strstr(m, "too many") || strstr(m, "remaining connection slots"))
        snprintf(buf, n, "the server accepts no more connections");
    else if (strstr(m, "not permitted") || strstr(m, "pg_hba.conf"))
        snprintf(buf, n, "the server does not accept this connection (pg_hba.conf)");
    else if (strstr(m, "SSL")) snprintf(buf, n, "SSL negotiation failed");
    else if (strstr(m, "invalid")) snprintf(buf, n, "a parameter of the URI has an invalid value");
    else if (strstr(m, "starting up") || strstr(m, "shutting down") || strstr(m, "recovery"))
        snprintf(buf, n, "the server is starting up or shutting down");
    else if (strstr(m, "closed the connection")) snprintf(buf, n, "the server closed the connection");
    else snprintf(buf, n, "cannot connect");
    return buf;
}

/* Wait for the socket (readable, or writable too when `out`) until deadline: 1 ready, 0 timeout, -1 error. */
static int wait_sock(PGconn* c, bool out, int64_t deadline) {
    struct pollfd p = {.fd = PQsocket(c), .events = POLLIN | (out ? POLLOUT : 0)};
    if (p.fd < 0) return -1;
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0) return 0;
        int n = poll(&p, 1, (int)left);
        if (n > 0) return 1;
        if (n < 0 && errno != EINTR) return -1;
    }
}

static bool res_ok(const PGresult* r) {
    ExecStatusType s = PQresultStatus(r);
    return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

/* The server's error, by SQLSTATE and its primary message (a statement of ours: no secret in it). */
static void server_error(pg_store* st, const PGresult* r) {
    const char* code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char* msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    char m[300];
    printable(m, sizeof m, msg ? msg : "error");
    snprintf(st->err, sizeof st->err, "PostgreSQL at %s: %s (SQLSTATE %s)", st->where, m, code ? code : "?");
}

/*
 * Wait for the answer to the query just sent on c, within the deadline.  Returns
 * the result (the first failed one, else the last) or NULL with st->err set; on a
 * lost connection or no answer in time, *lost is set (the caller drops c).
 */
static PGresult* collect(pg_store* st, PGconn* c, bool* lost) {
    int64_t deadline = now_ms() + QUERY_DEADLINE_MS;
    *lost = false;
    int w;
    for (;;) {
        int f = PQflush(c);
        if (f == 0) break;
        if (f < 0) goto broken;
        if ((w = wait_sock(c, true, deadline)) <= 0) goto waited;
        if (!PQconsumeInput(c)) goto broken;
    }
    PGresult* keep = NULL;
    for (;;) {
        while (PQisBusy(c)) {
            if ((w = wait_sock(c, false, deadline)) <= 0) {
                PQclear(keep);
                goto waited;
            }
            if (!PQconsumeInput(c)) {
                PQclear(keep);
                goto broken;
            }
        }
        PGresult* r = PQgetResult(c);
        if (!r) break;
        if (keep && !res_ok(keep)) PQclear(r); /* the first failure is the one to tell */
        else {
            PQclear(keep);
            keep = r;
        }
    }
    if (PQstatus(c) == CONNECTION_BAD) {
        PQclear(keep);
        goto broken;
    }
    if (!keep) {
        snprintf(st->err, sizeof st->err, "PostgreSQL at %s: no result", st->where);
        return NULL;
    }
    if (!res_ok(keep)) {
        server_error(st, keep);
        PQclear(keep);
        return NULL;
    }
    return keep;
waited:
    if (w == 0) {
        snprintf(st->err, sizeof st->err, "PostgreSQL at %s: no answer within %d ms (connection dropped)",
                 st->where, QUERY_DEADLINE_MS);
        *lost = true;
        return NULL;
    }
broken:
    snprintf(st->err, sizeof st->err, "PostgreSQL at %s: the connection was lost", st->where);
    *lost = true;
    return NULL;
}

/* Run SQL text (one or several statements, no parameters) on c. */
static PGresult* run_text(pg_store* st, PGconn* c, const char* sql, bool* lost) {
    *lost = false;
    if (!PQsendQuery(c, sql)) {
        snprintf(st->err, sizeof st->err, "PostgreSQL at %s: the connection was lost", st->where);
        *lost = PQstatus(c) == CONNECTION_BAD;
        if (!*lost) snprintf(st->err, sizeof st->err, "PostgreSQL at %s: cannot send a query", st->where);
        return NULL;
    }
    return collect(st, c, lost);
}

static void quiet(void* arg, const char* message) {
    (void)arg;
    (void)message;
}

/* Make a connection (blocking, bounded by connect_timeout) and set it up; NULL with st->err set. */
static PGconn* connect_one(pg_store* st, bool prepare) {
    PGconn* c = PQconnectdbParams(st->keys, st->vals, 0);
    char why[160];
    if (!c || PQstatus(c) != CONNECTION_OK) {
        snprintf(st->err, sizeof st->err, "cannot connect to PostgreSQL at %s: %s", st->where,
                 c ? connect_why(PQerrorMessage(c), why, sizeof why, st) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet, NULL); /* the server's notices and warnings are not printed */
    bool lost = false;
    PGresult* r = PQsetnonblocking(c, 1) == 0 ? run_text(st, c, st->sql_setup, &lost) : NULL;
    bool ok = r != NULL;
    PQclear(r);
    for (int i = 0; ok && prepare && i < Q_COUNT; i++) {
        char name[8];
        snprintf(name, sizeof name, "q%d", i);
        ok = PQsendPrepare(c, name, k_sql[i], 0, NULL) && (r = collect(st, c, &lost)) != NULL;
        PQclear(r);
    }
    if (ok && prepare && st->lock_key > 0) { /* the logic connection: this process has the world open */
        char sql[256];
        /* then, under that lock, the world is still the one opened: removed while this process
         * was disconnected (and maybe made again, with another key), it is not reopened */
        snprintf(sql, sizeof sql,
                 "SELECT pg_advisory_lock_shared(%d, " OPEN_LOCK "); "
                 "SELECT 1 FROM timref.app WHERE app_id = %" PRIu64 " AND lock_key = %d",
                 st->lock_key, st->app_id, st->lock_key);
        ok = (r = run_text(st, c, sql, &lost)) != NULL;
        if (ok && PQntuples(r) != 1) {
            snprintf(st->err, sizeof st->err,
                     "PostgreSQL at %s: the world of app %" PRIu64 " was removed while this process was "
                     "disconnected (TIMUninit, then TIMInit)",
                     st->where, st->app_id);
            ok = false;
        }
        PQclear(r);
    }
    if (!ok) {
        PQfinish(c);
        return NULL;
    }
    return c;
}

static void drop_conn(pg_store* st) {
    PQfinish(st->conn);
    st->conn = NULL;
    st->next_try = 0; /* the first reconnection at once, then the backoff */
}

/*
 * The logic connection, reconnected when it broke and no transaction of it is
 * open (a transaction lost with its connection fails until rolled back).
 */
static bool ensure(pg_store* st) {
    if (st->conn && PQstatus(st->conn) == CONNECTION_OK) return true;
    if (st->conn) drop_conn(st);
    if (st->txn) {
        snprintf(st->err, sizeof st->err, "PostgreSQL at %s: the connection was lost in a transaction", st->where);
        return false;
    }
    int64_t now = now_ms();
    if (now < st->next_try) return false; /* st->err still says why the last attempt failed */
    st->conn = connect_one(st, true);
    if (!st->conn) {
        st->backoff = st->backoff ? st->backoff * 2 : BACKOFF_MIN_MS;
        if (st->backoff > BACKOFF_MAX_MS) st->backoff = BACKOFF_MAX_MS;
        st->next_try = now_ms() + st->backoff;
        return false;
    }
    st->backoff = 0;
    if (st->ever_connected) st->base.reconnected = true;
    st->ever_connected = true;
    return true;
}

/* Run prepared statement q with n text parameters on the logic connection; NULL on failure. */
static PGresult* run(pg_store* st, int q, int n, const char* const* vals) {
    if (!ensure(st)) return NULL;
    char name[8];
    snprintf(name, sizeof name, "q%d", q);
    bool lost = false;
    PGresult* r = NULL;
    if (!PQsendQueryPrepared(st->conn, name, n, vals, NULL, NULL, 0)) {
        snprintf(st->err, sizeof st->err, "PostgreSQL at %s: the connection was lost", st->where);
        lost = true;
    } else {
        r = collect(st, st->conn, &lost);
    }
    if (lost) drop_conn(st);
    return r;
}

static int run_cmd(pg_store* st, const char* sql) {
    if (!ensure(st)) return TR_EIO;
    bool lost = false;
    PGresult* r = run_text(st, st->conn, sql, &lost);
    if (lost) drop_conn(st);
    int rc = r ? TR_OK : TR_EIO;
    PQclear(r);
    return rc;
}

/* Rows a command changed. */
static long changed(const PGresult* r) { return strtol(PQcmdTuples((PGresult*)r), NULL, 10); }

/* ---- opening ----------------------------------------------------------------- */

static void pg_close(tr_store* base);
static int64_t last_seq(pg_store* st);
static void watch_close(pg_store* st);

/*
 * Whether a '@' or '/' was written raw in the URI's user name or password: libpq ends the
 * authority at the first '/' and the user part at the first '@', so part of the password
 * would become the host, the port or the database, which messages name.  Such a URI has
 * two '@' before its first '/', or none there and one in the database name.
 */
static bool raw_userinfo(const char* url) {
    const char* a = strstr(url, "://");
    if (!a) return false;
    a += 3;
    size_t auth = strcspn(a, "/"), path = auth + strcspn(a + auth, "?");
    size_t in_auth = 0, in_path = 0;
    for (size_t i = 0; i < path; i++)
        if (a[i] == '@') *(i < auth ? &in_auth : &in_path) += 1;
    return in_auth > 1 || (in_auth == 0 && in_path > 0);
}

/* The connection parameters: the URI's, then timref's defaults for those it does not set. */
static int parse_url(pg_store* st, const char* url, char* err, size_t errlen) {
    if (raw_userinfo(url)) {
        snprintf(err, errlen,
                 "TIMInit config: %s: a '@' or '/' in its user name, password or database name must be "
                 "percent-encoded (%%40, %%2F)",
                 kTIMRefConfigStoreUrl);
        return TR_EIO;
    }
    char* perr = NULL;
    PQconninfoOption* opts = PQconninfoParse(url, &perr);
    PQfreemem(perr); /* its text may quote the URI: not shown */
    if (!opts) {
        snprintf(err, errlen, "TIMInit config: %s is not a valid PostgreSQL connection URI", kTIMRefConfigStoreUrl);
        return TR_EIO;
    }
    size_t n = 0, n_def = sizeof k_conn_defaults / sizeof k_conn_defaults[0];
    for (PQconninfoOption* o = opts; o->keyword; o++) n++;
    st->keys = calloc(n + n_def + 1, sizeof *st->keys);
    st->vals = calloc(n + n_def + 1, sizeof *st->vals);
    bool oom = !st->keys || !st->vals;
    for (PQconninfoOption* o = opts; !oom && o->keyword; o++) {
        if (!o->val) continue;
        st->keys[st->n_params] = strdup(o->keyword);
        st->vals[st->n_params] = strdup(o->val);
        oom = !st->keys[st->n_params] || !st->vals[st->n_params];
        st->n_params++;
    }
    PQconninfoFree(opts);
    for (size_t i = 0; !oom && i < n_def; i++) {
        if (param(st, k_conn_defaults[i][0])) continue;
        st->keys[st->n_params] = strdup(k_conn_defaults[i][0]);
        st->vals[st->n_params] = strdup(k_conn_defaults[i][1]);
        oom = !st->keys[st->n_params] || !st->vals[st->n_params];
        st->n_params++;
    }
    if (oom) {
        snprintf(err, errlen, "out of memory");
        return TR_ENOMEM;
    }
    char host[80], port[16], db[80];
    const char* h = param(st, "host") ? param(st, "host") : param(st, "hostaddr");
    printable(host, sizeof host, h ? h : "localhost");
    printable(port, sizeof port, param(st, "port") ? param(st, "port") : "5432");
    const char* u = param(st, "user");
    printable(st->user, sizeof st->user, u ? u : getenv("PGUSER") ? getenv("PGUSER") : "(default)");
    const char* d = param(st, "dbname");
    printable(db, sizeof db, d ? d : st->user);
    snprintf(st->where, sizeof st->where, "%s:%s/%s", host, port, db);
    return TR_OK;
}

/* Create or upgrade the app's schema and read its lock key, in one transaction. */
static int prepare_schema(pg_store* st, char* err, size_t errlen) {
    char sql[1024];
    snprintf(sql, sizeof sql,
             "BEGIN; SELECT pg_advisory_xact_lock(" SCHEMA_LOCK ");"
             "CREATE SCHEMA IF NOT EXISTS timref;"
             "CREATE TABLE IF NOT EXISTS timref.app(app_id numeric(20) PRIMARY KEY,"
             " lock_key int GENERATED ALWAYS AS IDENTITY UNIQUE);"
             "INSERT INTO timref.app(app_id) VALUES (%" PRIu64 ") ON CONFLICT DO NOTHING;"
             "CREATE SCHEMA IF NOT EXISTS %s;"
             "CREATE TABLE IF NOT EXISTS %s.meta(key text PRIMARY KEY, value text NOT NULL);"
             "SELECT (SELECT lock_key FROM timref.app WHERE app_id = %" PRIu64 "),"
             " coalesce((SELECT value::int FROM %s.meta WHERE key = 'schema_version'), 0)",
             st->app_id, st->schema, st->schema, st->app_id, st->schema);
    bool lost = false;
    PGresult* r = run_text(st, st->conn, sql, &lost);
    if (!r || PQntuples(r) != 1) goto fail;
    st->lock_key = atoi(PQgetvalue(r, 0, 0));
    int version = atoi(PQgetvalue(r, 0, 1));
    PQclear(r);
    r = NULL;
    if (version > SCHEMA_VERSION) {
        run_cmd(st, "ROLLBACK");
        snprintf(err, errlen, "the PostgreSQL world of app %" PRIu64 " at %s has schema %d, newer than this timref's (%d)",
                 st->app_id, st->where, version, SCHEMA_VERSION);
        return TR_EIO;
    }
    for (int v = version; v > 0 && v < SCHEMA_VERSION; v++)
        if (k_upgrade[v] && run_cmd(st, k_upgrade[v]) != TR_OK) goto fail;
    /* The open lock, taken while the schema lock is held: no removal can come between
     * this transaction and the logic connection's own open lock (tr_store_pg_open). */
    snprintf(sql, sizeof sql,
             "INSERT INTO meta(key, value) VALUES ('schema_version', '%d') "
             "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value; "
             "SELECT pg_advisory_lock_shared(%d, " OPEN_LOCK "); COMMIT",
             SCHEMA_VERSION, st->lock_key);
    if (run_cmd(st, k_schema) != TR_OK || run_cmd(st, sql) != TR_OK) goto fail;
    return TR_OK;
fail:
    PQclear(r);
    if (st->conn && PQstatus(st->conn) == CONNECTION_OK) run_cmd(st, "ROLLBACK");
    snprintf(err, errlen, "cannot prepare the PostgreSQL world of app %" PRIu64 ": %s", st->app_id, st->err);
    return TR_EIO;
}

/* A store of app_id at url, not connected yet; NULL with err set. */
static pg_store* pg_new(uint64_t app_id, const char* url, char* err, size_t errlen) {
    pg_store* st = calloc(1, sizeof *st);
    if (!st) return snprintf(err, errlen, "out of memory"), NULL;
    st->base.ops = &k_pg_ops;
    st->base.shared = true;
    st->app_id = app_id;
    st->epfd = st->timerfd = st->wsock = -1;
    snprintf(st->schema, sizeof st->schema, "timref_%" PRIu64, app_id);
    snprintf(st->sql_setup, sizeof st->sql_setup, "SET search_path = %s; %s", st->schema, SESSION_SETUP);
    if (parse_url(st, url, err, errlen) != TR_OK) {
        pg_close(&st->base);
        return NULL;
    }
    return st;
}

int tr_store_pg_open(tr_store** out, uint64_t app_id, const char* url, char* err, size_t errlen) {
    *out = NULL;
    pg_store* st = pg_new(app_id, url, err, errlen);
    if (!st) return TR_EIO;
    /* The schema first (search_path names it; statements are prepared against it after). */
    st->conn = connect_one(st, false);
    if (!st->conn) {
        snprintf(err, errlen, "%s", st->err);
        pg_close(&st->base);
        return TR_EIO;
    }
    if (prepare_schema(st, err, errlen) != TR_OK) {
        pg_close(&st->base);
        return TR_EIO;
    }
    /* The first connection keeps its open lock until the logic connection holds its own. */
    PGconn* first = st->conn;
    st->conn = connect_one(st, true);
    PQfinish(first);
    if (!st->conn) {
        snprintf(err, errlen, "%s", st->err);
        pg_close(&st->base);
        return TR_EIO;
    }
    st->ever_connected = true;
    snprintf(st->sql_begin, sizeof st->sql_begin, "BEGIN; SELECT pg_advisory_xact_lock(%d, 0)", st->lock_key);
    snprintf(st->sql_commit_wake, sizeof st->sql_commit_wake, "NOTIFY %s; COMMIT", st->schema);
    last_seq(st);
    st->prune_mark = st->last_event + EVENT_PRUNE_STEP;
    *out = &st->base;
    return TR_OK;
}

/*
 * Remove the world of app_id: its schema and its row in timref.app, in one
 * transaction under the schema lock (a TIMInit of the same app waits for it,
 * then makes a new world).  Refused while any process holds the world's open
 * lock (it has the world open, so its live sessions too); nothing to do when
 * there is no such world.
 */
int tr_store_pg_remove(uint64_t app_id, const char* url, char* err, size_t errlen) {
    pg_store* st = pg_new(app_id, url, err, errlen);
    if (!st) return TR_EIO;
    int rc = TR_EIO;
    char sql[512];
    bool lost = false;
    PGresult* r = NULL;
    if (!(st->conn = connect_one(st, false))) goto fail;
    snprintf(sql, sizeof sql,
             "BEGIN; SELECT pg_advisory_xact_lock(" SCHEMA_LOCK ");"
             "SELECT to_regclass('timref.app') IS NOT NULL, to_regnamespace('%s') IS NOT NULL",
             st->schema);
    if (!(r = run_text(st, st->conn, sql, &lost)) || PQntuples(r) != 1) goto fail;
    bool registry = PQgetvalue(r, 0, 0)[0] == 't', schema = PQgetvalue(r, 0, 1)[0] == 't';
    PQclear(r);
    r = NULL;
    if (registry) {
        snprintf(sql, sizeof sql, "SELECT lock_key FROM timref.app WHERE app_id = %" PRIu64, app_id);
        if (!(r = run_text(st, st->conn, sql, &lost))) goto fail;
        st->lock_key = PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : 0;
        PQclear(r);
        r = NULL;
    }
    if (st->lock_key > 0) {
        snprintf(sql, sizeof sql,
                 "SELECT pg_try_advisory_xact_lock(%d, " OPEN_LOCK "), (SELECT count(DISTINCT pid) "
                 "FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND classid = %d AND objid = " OPEN_LOCK_OBJID
                 " AND objsubid = 2 AND granted AND database = (SELECT oid FROM pg_catalog.pg_database "
                 "WHERE datname = current_database()))",
                 st->lock_key, st->lock_key);
        if (!(r = run_text(st, st->conn, sql, &lost)) || PQntuples(r) != 1) goto fail;
        if (PQgetvalue(r, 0, 0)[0] != 't') {
            long n = strtol(PQgetvalue(r, 0, 1), NULL, 10);
            snprintf(err, errlen,
                     "cannot remove the world of app %" PRIu64 " at %s: %ld process%s %s it open "
                     "(TIMUninit first)",
                     app_id, st->where, n, n == 1 ? "" : "es", n == 1 ? "has" : "have");
            PQclear(r);
            run_cmd(st, "ROLLBACK");
            pg_close(&st->base);
            return TR_EIO;
        }
        PQclear(r);
        r = NULL;
    }
    if (schema) {
        snprintf(sql, sizeof sql, "DROP SCHEMA %s CASCADE", st->schema);
        if (run_cmd(st, sql) != TR_OK) goto fail;
    }
    if (registry) {
        snprintf(sql, sizeof sql, "DELETE FROM timref.app WHERE app_id = %" PRIu64, app_id);
        if (run_cmd(st, sql) != TR_OK) goto fail;
    }
    if (!(r = run_text(st, st->conn, "COMMIT", &lost)) || strcmp(PQcmdStatus(r), "COMMIT") != 0) goto fail;
    rc = TR_OK;
    PQclear(r);
    pg_close(&st->base);
    return rc;
fail:
    PQclear(r);
    snprintf(err, errlen, "cannot remove the world of app %" PRIu64 ": %s", app_id, st->err);
    if (st->conn && PQstatus(st->conn) == CONNECTION_OK && PQtransactionStatus(st->conn) != PQTRANS_IDLE)
        run_cmd(st, "ROLLBACK");
    pg_close(&st->base);
    return TR_EIO;
}

static void pg_close(tr_store* base) {
    pg_store* st = PG(base);
    watch_close(st);
    PQfinish(st->conn); /* ends this process's liveness locks */
    for (size_t i = 0; i < st->n_params; i++) {
        free((char*)st->keys[i]);
        if (st->vals[i]) explicit_bzero((char*)st->vals[i], strlen(st->vals[i]));
        free((char*)st->vals[i]);
    }
    free(st->keys);
    free(st->vals);
    free(st);
}

static const char* pg_errmsg(tr_store* base) { return PG(base)->err[0] ? PG(base)->err : "no error"; }

/* ---- transactions ------------------------------------------------------------ */

static int pg_begin(tr_store* base) {
    pg_store* st = PG(base);
    if (st->txn) {
        snprintf(st->err, sizeof st->err, "PostgreSQL at %s: a transaction is already open", st->where);
        return TR_EIO;
    }
    int rc = run_cmd(st, st->sql_begin);
    if (rc == TR_OK) st->txn = true;
    else if (st->conn && PQtransactionStatus(st->conn) != PQTRANS_IDLE) run_cmd(st, "ROLLBACK");
    return rc;
}

/* COMMIT (with NOTIFY inside when wake); COMMIT of a failed transaction is no success. */
static int pg_commit(tr_store* base, bool wake) {
    pg_store* st = PG(base);
    if (!st->txn || !st->conn) {
        snprintf(st->err, sizeof st->err, "PostgreSQL at %s: no transaction to commit", st->where);
        return TR_EIO;
    }
    bool lost = false;
    PGresult* r = run_text(st, st->conn, wake ? st->sql_commit_wake : "COMMIT", &lost);
    int rc = TR_EIO;
    if (r && strcmp(PQcmdStatus(r), "COMMIT") == 0) rc = TR_OK;
    else if (r) snprintf(st->err, sizeof st->err, "PostgreSQL at %s: the transaction was rolled back", st->where);
    PQclear(r);
    if (lost) drop_conn(st);
    if (!lost && st->conn && PQtransactionStatus(st->conn) != PQTRANS_IDLE) {
        PQclear(run_text(st, st->conn, "ROLLBACK", &lost));
        if (lost) drop_conn(st);
    }
    st->txn = false;
    if (rc == TR_OK && st->last_event >= st->prune_mark) {
        /* housekeeping: its failure is not the commit's */
        char v[24];
        snprintf(v, sizeof v, "%" PRId64, st->last_event - EVENT_KEEP);
        const char* p[1] = {v};
        PQclear(run(st, Q_EV_PRUNE, 1, p));
        st->prune_mark = st->last_event + EVENT_PRUNE_STEP;
    }
    return rc;
}

static void pg_rollback(tr_store* base) {
    pg_store* st = PG(base);
    if (st->conn && PQstatus(st->conn) == CONNECTION_OK && PQtransactionStatus(st->conn) != PQTRANS_IDLE) {
        bool lost = false;
        PQclear(run_text(st, st->conn, "ROLLBACK", &lost));
        if (lost) drop_conn(st);
    }
    st->txn = false;
}

static int pg_savepoint(tr_store* base) {
    pg_store* st = PG(base);
    if (!st->txn || !st->conn || PQtransactionStatus(st->conn) != PQTRANS_INTRANS) {
        snprintf(st->err, sizeof st->err, "PostgreSQL at %s: the transaction is gone", st->where);
        return TR_EIO;
    }
    return run_cmd(st, "SAVEPOINT job");
}

static int pg_release(tr_store* base) {
    pg_store* st = PG(base);
    if (!st->txn || !st->conn) {
        snprintf(st->err, sizeof st->err, "PostgreSQL at %s: the transaction is gone", st->where);
        return TR_EIO;
    }
    return run_cmd(st, "RELEASE SAVEPOINT job");
}

static void pg_rollback_to(tr_store* base) {
    pg_store* st = PG(base);
    if (!st->txn || !st->conn || PQtransactionStatus(st->conn) == PQTRANS_IDLE) return;
    run_cmd(st, "ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job");
}

/* ---- accounts ------------------------------------------------------------------ */

static int pg_account_ensure(tr_store* base, const char* id, bool* created) {
    pg_store* st = PG(base);
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)time(NULL));
    const char* p[2] = {id, now};
    PGresult* r = run(st, Q_ACC_INSERT, 2, p);
    if (created) *created = r && changed(r) > 0;
    int rc = r ? TR_OK : TR_EIO;
    PQclear(r);
    return rc;
}

/* A query whose answer is "a row or none". */
static int row_or_none(pg_store* st, int q, const char* id) {
    const char* p[1] = {id};
    PGresult* r = run(st, q, 1, p);
    int rc = !r ? TR_EIO : PQntuples(r) > 0 ? TR_OK : TR_NOTFOUND;
    PQclear(r);
    return rc;
}

static int pg_account_exists(tr_store* base, const char* id) { return row_or_none(PG(base), Q_ACC_EXISTS, id); }

static int pg_account_delete(tr_store* base, const char* id) {
    pg_store* st = PG(base);
    const char* p[1] = {id};
    PGresult* r = run(st, Q_ACC_DELETE, 1, p);
    if (!r) return TR_EIO;
    long deleted = changed(r);
    PQclear(r);
    r = run(st, Q_ACC_DEL_SIM, 1, p);
    if (!r) return TR_EIO;
    PQclear(r);
    return deleted ? TR_OK : TR_NOTFOUND;
}

static int pg_kick(tr_store* base, const char* id, int64_t at, json_t** tokens) {
    pg_store* st = PG(base);
    *tokens = NULL;
    char t[24];
    snprintf(t, sizeof t, "%" PRId64, at);
    const char* p[2] = {id, t};
    PGresult* r = run(st, Q_ACC_KICK, 2, p);
    if (!r) return TR_EIO;
    long n = changed(r);
    PQclear(r);
    if (n == 0) return TR_NOTFOUND;
    if (!(r = run(st, Q_KICK_SESSIONS, 1, p))) return TR_EIO;
    json_t* a = json_array();
    int rc = a ? TR_OK : TR_ENOMEM;
    for (int i = 0; rc == TR_OK && i < PQntuples(r); i++)
        if (json_array_append_new(a, json_string(PQgetvalue(r, i, 0))) != 0) rc = TR_ENOMEM;
    PQclear(r);
    if (rc != TR_OK) {
        json_decref(a);
        return rc;
    }
    *tokens = a;
    return TR_OK;
}

static int pg_account_kicked(tr_store* base, const char* id, int64_t* at) {
    pg_store* st = PG(base);
    *at = 0;
    const char* p[1] = {id};
    PGresult* r = run(st, Q_ACC_KICKED, 1, p);
    if (!r) return TR_EIO;
    int rc = PQntuples(r) > 0 ? TR_OK : TR_NOTFOUND;
    if (rc == TR_OK) *at = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return rc;
}

static int pg_account_list(tr_store* base, const char* after, const char* match, size_t limit, json_t* ids) {
    if (limit == 0) return TR_OK;
    char l[24];
    snprintf(l, sizeof l, "%zu", limit > INT64_MAX ? (size_t)INT64_MAX : limit);
    const char* p[3] = {after ? after : "", match ? match : "", l};
    PGresult* r = run(PG(base), Q_ACC_LIST, 3, p);
    if (!r) return TR_EIO;
    int rc = TR_OK;
    for (int i = 0; rc == TR_OK && i < PQntuples(r); i++)
        if (json_array_append_new(ids, json_string(PQgetvalue(r, i, 0))) != 0) rc = TR_ENOMEM;
    PQclear(r);
    return rc;
}

static int pg_account_count(tr_store* base, const char* match, int64_t* n) {
    const char* p[1] = {match ? match : ""};
    PGresult* r = run(PG(base), Q_ACC_COUNT, 1, p);
    *n = r && PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    int rc = r ? TR_OK : TR_EIO;
    PQclear(r);
    return rc;
}

/* ---- profiles ---------------------------------------------------------------- */


/* Fill out (initialized) from row `row` of r (Q_PROF_LOAD's columns); cleared on failure. */
static int fill_profile(const PGresult* r, int row, tr_profile* out) {
    int res = TR_OK;
    for (int f = 0; f < TR_F_COUNT; f++) {
        const char* v = PQgetvalue(r, row, f);
        if (tr_fields[f].is_string) {
            if (!(out->str[f] = strdup(v))) res = TR_ENOMEM;
        } else {
            long long n = strtoll(v, NULL, 10);
            out->num[f] = n < 0 ? 0 : n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
        }
    }
    if (res == TR_OK) res = tr_profile_custom_load(out, PQgetvalue(r, row, TR_F_COUNT));
    out->last_updated = strtoll(PQgetvalue(r, row, TR_F_COUNT + 1), NULL, 10);
    if (res != TR_OK) tr_profile_clear(out);
    return res;
}

static int pg_profile_load(tr_store* base, const char* id, tr_profile* out) {
    pg_store* st = PG(base);
    tr_profile_init(out, id);
    const char* p[1] = {id};
    PGresult* r = run(st, Q_PROF_LOAD, 1, p);
    if (!r) return TR_EIO;
    int res = PQntuples(r) == 0 ? TR_NOTFOUND : fill_profile(r, 0, out);
    PQclear(r);
    return res;
}

/* The text form of a text[] holding ids: {"a","b"} with '"' and '\\' escaped; NULL: no memory. */
static char* text_array(const char* const* ids, size_t n) {
    size_t len = 3;
    for (size_t i = 0; i < n; i++) len += 2 * strlen(ids[i]) + 3;
    char* a = malloc(len);
    if (!a) return NULL;
    char* w = a;
    *w++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i) *w++ = ',';
        *w++ = '"';
        for (const char* c = ids[i]; *c; c++) {
            if (*c == '"' || *c == '\\') *w++ = '\\';
            *w++ = *c;
        }
        *w++ = '"';
    }
    *w++ = '}';
    *w = '\0';
    return a;
}

/* Run q (a *_MANY query) for ids; its last column is the 1-based place of the row's ID. */
static PGresult* run_many(pg_store* st, int q, const char* const* ids, size_t n) {
    char* arr = text_array(ids, n);
    if (!arr) {
        snprintf(st->err, sizeof st->err, "out of memory");
        return NULL;
    }
    const char* p[1] = {arr};
    PGresult* r = run(st, q, 1, p);
    free(arr);
    return r;
}

/* The index into ids of row `row` of a *_MANY result (n when out of range). */
static size_t many_index(const PGresult* r, int row, size_t n) {
    long long i = strtoll(PQgetvalue(r, row, PQnfields(r) - 1), NULL, 10);
    return i >= 1 && (unsigned long long)i <= n ? (size_t)(i - 1) : n;
}

static int pg_profile_load_many(tr_store* base, const char* const* ids, size_t n, tr_profile* out, bool* found) {
    pg_store* st = PG(base);
    for (size_t i = 0; i < n; i++) {
        tr_profile_init(&out[i], ids[i]);
        found[i] = false;
    }
    if (n == 0) return TR_OK;
    PGresult* r = run_many(st, Q_PROF_LOAD_MANY, ids, n);
    if (!r) return TR_EIO;
    int res = TR_OK;
    for (int row = 0; res == TR_OK && row < PQntuples(r); row++) {
        size_t i = many_index(r, row, n);
        if (i == n || found[i]) continue;
        res = fill_profile(r, row, &out[i]);
        found[i] = res == TR_OK;
    }
    PQclear(r);
    if (res != TR_OK)
        for (size_t i = 0; i < n; i++) tr_profile_clear(&out[i]);
    return res;
}

static int pg_profile_save(tr_store* base, const tr_profile* p) {
    pg_store* st = PG(base);
    char* custom = tr_profile_custom_dump(p);
    if (!custom) return TR_ENOMEM;
    char nums[TR_F_COUNT][16], last[24];
    const char* v[TR_F_COUNT + 3];
    for (int f = 0; f < TR_F_COUNT; f++) {
        if (tr_fields[f].is_string) v[f] = p->str[f] ? p->str[f] : "";
        else {
            snprintf(nums[f], sizeof nums[f], "%" PRIu32, p->num[f]);
            v[f] = nums[f];
        }
    }
    snprintf(last, sizeof last, "%" PRId64, p->last_updated);
    v[TR_F_COUNT] = custom;
    v[TR_F_COUNT + 1] = last;
    v[TR_F_COUNT + 2] = p->id;
    PGresult* r = run(st, Q_PROF_SAVE, TR_F_COUNT + 3, v);
    free(custom);
    int rc = !r ? TR_EIO : changed(r) == 0 ? TR_NOTFOUND : TR_OK;
    PQclear(r);
    return rc;
}

/* ---- status and sessions --------------------------------------------------------- */

/* Fill out (its id set, the rest zero) from row `row` of r (Q_STATUS_LOAD's columns); cleared on failure. */
static int fill_status(const PGresult* r, int row, tr_status* out) {
    out->type = atoi(PQgetvalue(r, row, 0));
    out->custom = strdup(PQgetvalue(r, row, 1));
    json_t* devs = json_loads(PQgetvalue(r, row, 2), 0, NULL);
    int res = out->custom ? TR_OK : TR_ENOMEM;
    size_t n = json_array_size(devs);
    if (res == TR_OK && n > 0 && !(out->devices = calloc(n, sizeof(char*)))) res = TR_ENOMEM;
    for (size_t i = 0; res == TR_OK && i < n; i++) {
        const char* d = json_string_value(json_array_get(devs, i));
        if (!(out->devices[i] = strdup(d ? d : ""))) res = TR_ENOMEM;
        else out->n_devices++;
    }
    json_decref(devs);
    if (res != TR_OK) {
        tr_status_clear(out);
        return res;
    }
    if (out->n_devices > 0) out->type = kTIMUserStatusType_Online;
    else if (out->type == kTIMUserStatusType_Online || out->type <= 0 || out->type > 3)
        out->type = kTIMUserStatusType_UnLogined;
    return TR_OK;
}

static int pg_status_load(tr_store* base, const char* id, tr_status* out) {
    pg_store* st = PG(base);
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", id);
    const char* p[1] = {id};
    PGresult* r = run(st, Q_STATUS_LOAD, 1, p);
    if (!r) return TR_EIO;
    int res = PQntuples(r) == 0 ? TR_NOTFOUND : fill_status(r, 0, out);
    PQclear(r);
    return res;
}

static int pg_status_load_many(tr_store* base, const char* const* ids, size_t n, tr_status* out, bool* found) {
    pg_store* st = PG(base);
    memset(out, 0, n * sizeof *out);
    for (size_t i = 0; i < n; i++) {
        snprintf(out[i].id, sizeof out[i].id, "%s", ids[i]);
        found[i] = false;
    }
    if (n == 0) return TR_OK;
    PGresult* r = run_many(st, Q_STATUS_LOAD_MANY, ids, n);
    if (!r) return TR_EIO;
    int res = TR_OK;
    for (int row = 0; res == TR_OK && row < PQntuples(r); row++) {
        size_t i = many_index(r, row, n);
        if (i == n || found[i]) continue;
        res = fill_status(r, row, &out[i]);
        found[i] = res == TR_OK;
    }
    PQclear(r);
    if (res != TR_OK)
        for (size_t i = 0; i < n; i++) tr_status_clear(&out[i]);
    return res;
}

static int pg_status_set(tr_store* base, const char* id, int type, const char* custom) {
    pg_store* st = PG(base);
    char t[16];
    snprintf(t, sizeof t, "%d", type);
    const char* p[3] = {id, t, custom};
    PGresult* r = run(st, custom ? Q_STATUS_SET : Q_STATUS_SET_TYPE, custom ? 3 : 2, p);
    int rc = !r ? TR_EIO : changed(r) == 0 ? TR_NOTFOUND : TR_OK;
    PQclear(r);
    return rc;
}

static int pg_session_add(tr_store* base, const char* token, const char* id, const char* device, bool simulated,
                          int slot) {
    pg_store* st = PG(base);
    char pid[24], started[24], s[16];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    snprintf(started, sizeof started, "%lld", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
    snprintf(s, sizeof s, "%d", slot);
    const char* p[7] = {token, id, device, simulated ? "true" : "false", pid, started, slot >= 0 ? s : NULL};
    PGresult* r = run(st, Q_SESS_ADD, 7, p);
    int rc = r ? TR_OK : TR_EIO;
    PQclear(r);
    return rc;
}

static int pg_session_remove(tr_store* base, const char* token, bool* removed) {
    pg_store* st = PG(base);
    const char* p[1] = {token};
    PGresult* r = run(st, Q_SESS_REMOVE, 1, p);
    if (removed) *removed = r && changed(r) > 0;
    int rc = r ? TR_OK : TR_EIO;
    PQclear(r);
    return rc;
}

static int pg_session_remove_simulated(tr_store* base, const char* id) {
    const char* p[1] = {id};
    PGresult* r = run(PG(base), Q_SESS_REMOVE_SIM, 1, p);
    int rc = r ? TR_OK : TR_EIO;
    PQclear(r);
    return rc;
}

static int pg_session_count(tr_store* base, const char* id, int* n) {
    const char* p[1] = {id};
    PGresult* r = run(PG(base), Q_SESS_COUNT, 1, p);
    *n = r && PQntuples(r) == 1 ? atoi(PQgetvalue(r, 0, 0)) : 0;
    int rc = r ? TR_OK : TR_EIO;
    PQclear(r);
    return rc;
}

/* ---- liveness: session-level advisory locks (lock key, slot + 1) ------------------ */

static int slot_lock(pg_store* st, int q, int slot, bool* got) {
    char k[16], s[16];
    snprintf(k, sizeof k, "%d", st->lock_key);
    snprintf(s, sizeof s, "%d", slot + 1);
    const char* p[2] = {k, s};
    PGresult* r = run(st, q, 2, p);
    if (got) *got = r && PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
    int rc = r ? TR_OK : TR_EIO;
    PQclear(r);
    return rc;
}

static int pg_slot_acquire(tr_store* base, int* slot) {
    pg_store* st = PG(base);
    *slot = -1;
    PGresult* r = run(st, Q_SESS_SLOTS, 0, NULL);
    if (!r) return TR_EIO;
    /* The lowest slot no session row claims (the rows are in order).  A free slot may still be
     * held by a process whose session was just ended: move on to the next one no row claims
     * (a slot a dead session's row names would make that session look alive). */
    int want = 0, rows = PQntuples(r), at = 0;
    for (int tries = 0; tries < SLOT_TRIES; tries++, want++) {
        for (; at < rows; at++) {
            int used = atoi(PQgetvalue(r, at, 0));
            if (used > want) break;
            if (used == want) want++;
        }
        if (want >= INT32_MAX - 1) break;
        bool got = false;
        if (slot_lock(st, Q_SLOT_LOCK, want, &got) != TR_OK) {
            PQclear(r);
            return TR_EIO;
        }
        if (got) {
            PQclear(r);
            *slot = want;
            return TR_OK;
        }
    }
    PQclear(r);
    snprintf(st->err, sizeof st->err, "PostgreSQL at %s: no free liveness slot", st->where);
    return TR_EIO;
}

static void pg_slot_release(tr_store* base, int slot) {
    pg_store* st = PG(base);
    /* Without a connection there is nothing to release: the lock ended with it. */
    if (slot >= 0 && st->conn && PQstatus(st->conn) == CONNECTION_OK) slot_lock(st, Q_SLOT_UNLOCK, slot, NULL);
}

static int pg_dead_sessions(tr_store* base, const char* own_token, tr_dead_session* out, size_t max, size_t* n) {
    pg_store* st = PG(base);
    *n = 0;
    char k[16], m[24];
    snprintf(k, sizeof k, "%d", st->lock_key);
    snprintf(m, sizeof m, "%zu", max);
    const char* p[3] = {own_token ? own_token : "", k, m};
    PGresult* r = run(st, Q_DEAD, 3, p);
    if (!r) return TR_EIO;
    for (int i = 0; i < PQntuples(r) && *n < max; i++) {
        snprintf(out[*n].token, sizeof out[*n].token, "%s", PQgetvalue(r, i, 0));
        snprintf(out[*n].id, sizeof out[*n].id, "%s", PQgetvalue(r, i, 1));
        (*n)++;
    }
    PQclear(r);
    return TR_OK;
}

/* ---- events ---------------------------------------------------------------------- */

static int pg_event_add(tr_store* base, int type, const char* id, const char* origin, const char* data) {
    pg_store* st = PG(base);
    char t[16];
    snprintf(t, sizeof t, "%d", type);
    const char* p[4] = {t, id, origin, data};
    PGresult* r = run(st, Q_EV_ADD, 4, p);
    if (!r) return TR_EIO;
    if (PQntuples(r) == 1) st->last_event = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return TR_OK;
}

/* The number of the last event, read now; -1 when the server cannot say. */
static int64_t last_seq(pg_store* st) {
    PGresult* r = run(st, Q_EV_LAST, 0, NULL);
    int64_t v = r && PQntuples(r) == 1 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    if (v > st->last_event) st->last_event = v;
    return v;
}

/* Unreachable: the last number known here (never 0, which would replay the whole log). */
static int64_t pg_event_last(tr_store* base) {
    int64_t v = last_seq(PG(base));
    return v >= 0 ? v : PG(base)->last_event;
}

/* The last event's number: every change another process commits appends an event, so this
 * read (one round trip) tells whether anything was committed since, and reads after it see
 * what the others acknowledged.  -1 while the server is unreachable. */
static int64_t pg_data_version(tr_store* base) { return last_seq(PG(base)); }

static int pg_event_scan(tr_store* base, int64_t* seq,
                         void (*fn)(void* arg, int type, const char* id, const char* origin, const char* data),
                         void* arg, bool* gap) {
    pg_store* st = PG(base);
    *gap = false;
    bool first = true;
    for (;;) {
        char s[24];
        snprintf(s, sizeof s, "%" PRId64, *seq);
        const char* p[1] = {s};
        PGresult* r = run(st, Q_EV_SCAN, 1, p);
        if (!r) return TR_EIO;
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++) {
            int64_t got = strtoll(PQgetvalue(r, i, 0), NULL, 10);
            if (first && got != *seq + 1) *gap = true; /* pruned before it was read */
            first = false;
            *seq = got;
            fn(arg, atoi(PQgetvalue(r, i, 1)), PQgetvalue(r, i, 2), PQgetvalue(r, i, 3),
               PQgetisnull(r, i, 4) ? NULL : PQgetvalue(r, i, 4));
        }
        PQclear(r);
        if (rows < EVENT_BATCH) return TR_OK;
    }
}

/* ---- the watch: a connection of its own that LISTENs ---------------------------------- */

/* Connect the watch connection and LISTEN (watcher thread, or logic thread in watch_start). */
static bool watch_connect(pg_store* st) {
    /* st->err belongs to the logic thread: the watch has its own scratch store for messages */
    pg_store scratch = {.n_params = 0};
    memcpy(scratch.where, st->where, sizeof scratch.where);
    memcpy(scratch.user, st->user, sizeof scratch.user);
    memcpy(scratch.sql_setup, st->sql_setup, sizeof scratch.sql_setup);
    scratch.keys = st->keys;
    scratch.vals = st->vals;
    scratch.n_params = st->n_params;
    PGconn* c = connect_one(&scratch, false);
    if (c) {
        char sql[64];
        snprintf(sql, sizeof sql, "LISTEN %s", st->schema);
        bool lost = false;
        PGresult* r = run_text(&scratch, c, sql, &lost);
        if (!r) {
            PQfinish(c);
            c = NULL;
        }
        PQclear(r);
    }
    if (!c) return false;
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.fd = PQsocket(c);
    if (epoll_ctl(st->epfd, EPOLL_CTL_ADD, PQsocket(c), &ev) != 0) {
        PQfinish(c);
        return false;
    }
    st->wconn = c;
    st->wsock = PQsocket(c);
    st->wbackoff = 0;
    return true;
}

static void watch_drop(pg_store* st) {
    if (st->wconn) {
        epoll_ctl(st->epfd, EPOLL_CTL_DEL, st->wsock, NULL);
        PQfinish(st->wconn);
    }
    st->wconn = NULL;
    st->wsock = -1;
}

/* Arm the timer for the next attempt at the watch connection, backing off. */
static void watch_retry_later(pg_store* st) {
    st->wbackoff = st->wbackoff ? st->wbackoff * 2 : BACKOFF_MIN_MS;
    if (st->wbackoff > BACKOFF_MAX_MS) st->wbackoff = BACKOFF_MAX_MS;
    struct itimerspec its = {.it_value = {.tv_sec = st->wbackoff / 1000, .tv_nsec = (st->wbackoff % 1000) * 1000000L}};
    timerfd_settime(st->timerfd, 0, &its, NULL);
}

static void watch_close(pg_store* st) {
    watch_drop(st);
    if (st->timerfd >= 0) close(st->timerfd);
    if (st->epfd >= 0) close(st->epfd);
    st->timerfd = st->epfd = -1;
}

static int pg_watch_start(tr_store* base, int* fd, char* err, size_t errlen) {
    pg_store* st = PG(base);
    *fd = -1;
    st->epfd = epoll_create1(EPOLL_CLOEXEC);
    st->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    ev.data.fd = st->timerfd;
    if (st->epfd < 0 || st->timerfd < 0 || epoll_ctl(st->epfd, EPOLL_CTL_ADD, st->timerfd, &ev) != 0) {
        snprintf(err, errlen, "cannot set up the watch (%s)", strerror(errno));
        watch_close(st);
        return TR_EIO;
    }
    /* A watch connection refused now (the server's connection limit, a network blip: the
     * logic connection was just made) is retried by the watcher with the backoff of a lost one. */
    if (!watch_connect(st)) watch_retry_later(st);
    *fd = st->epfd;
    return TR_OK;
}

/* The watcher thread: consume the notifications; reconnect (with backoff) when the connection broke. */
static void pg_watch_drain(tr_store* base) {
    pg_store* st = PG(base);
    uint64_t ticks;
    bool timer = read(st->timerfd, &ticks, sizeof ticks) == (ssize_t)sizeof ticks;
    if (st->wconn) {
        if (PQconsumeInput(st->wconn) && PQstatus(st->wconn) == CONNECTION_OK) {
            PGnotify* n;
            while ((n = PQnotifies(st->wconn))) PQfreemem(n);
            return;
        }
        watch_drop(st);
        timer = true; /* the first attempt at once */
    }
    if (!timer) return;
    if (watch_connect(st)) return; /* feed.c queues a feed job after this drain: missed wake-ups caught */
    watch_retry_later(st);
}

static void pg_watch_stop(tr_store* base) { watch_close(PG(base)); }

static const struct tr_store_ops k_pg_ops = {
    .name = "postgresql",
    .close = pg_close,
    .errmsg = pg_errmsg,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .savepoint = pg_savepoint,
    .release = pg_release,
    .rollback_to = pg_rollback_to,
    .account_ensure = pg_account_ensure,
    .account_exists = pg_account_exists,
    .account_delete = pg_account_delete,
    .kick = pg_kick,
    .account_kicked = pg_account_kicked,
    .account_list = pg_account_list,
    .account_count = pg_account_count,
    .profile_load = pg_profile_load,
    .profile_save = pg_profile_save,
    .status_load = pg_status_load,
    .profile_load_many = pg_profile_load_many,
    .status_load_many = pg_status_load_many,
    .status_set = pg_status_set,
    .session_add = pg_session_add,
    .session_remove = pg_session_remove,
    .session_remove_simulated = pg_session_remove_simulated,
    .session_count = pg_session_count,
    .slot_acquire = pg_slot_acquire,
    .slot_release = pg_slot_release,
    .dead_sessions = pg_dead_sessions,
    .event_add = pg_event_add,
    .event_scan = pg_event_scan,
    .event_last = pg_event_last,
    .data_version = pg_data_version,
    .watch_start = pg_watch_start,
    .watch_drain = pg_watch_drain,
    .watch_stop = pg_watch_stop,
};
