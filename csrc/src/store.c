/*
 * store.c - the SQLite store: accounts with their profile and status,
 * sessions, and the log of change events other sessions learn from.
 *
 * Every statement is prepared once at open and reused; values are always
 * bound, never written into SQL text.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tr_internal.h"

enum {
    Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_READ_BEGIN,
    Q_ACC_INSERT, Q_ACC_EXISTS, Q_ACC_DELETE, Q_ACC_DEL_SESSIONS, Q_ACC_KICK, Q_ACC_KICKED,
    Q_PROF_LOAD, Q_PROF_SAVE,
    Q_STATUS_LOAD, Q_STATUS_SET, Q_STATUS_SET_TYPE, Q_DEVICES,
    Q_SESS_ADD, Q_SESS_REMOVE, Q_SESS_REMOVE_SIM, Q_SESS_COUNT, Q_SESS_SLOTS, Q_SESS_OTHERS,
    Q_SESS_TOKENS, Q_SESS_REMOVE_USER,
    Q_EV_ADD, Q_EV_SCAN, Q_EV_LAST, Q_EV_PRUNE, Q_DATA_VERSION,
    Q_COUNT
};

static const char* const k_sql[Q_COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_READ_BEGIN] = "BEGIN",
    [Q_ACC_INSERT] = "INSERT OR IGNORE INTO account(id, created) VALUES (?1, ?2)",
    [Q_ACC_EXISTS] = "SELECT 1 FROM account WHERE id = ?1",
    [Q_ACC_DELETE] = "DELETE FROM account WHERE id = ?1",
    [Q_ACC_DEL_SESSIONS] = "DELETE FROM session WHERE user_id = ?1 AND simulated = 1",
    [Q_ACC_KICK] = "UPDATE account SET kicked = ?2 WHERE id = ?1",
    [Q_ACC_KICKED] = "SELECT kicked FROM account WHERE id = ?1",
    [Q_PROF_LOAD] = "SELECT nick, gender, face_url, signature, allow_type, location, language, "
                    "birthday, level, role, msg_settings, forbid, custom, last_updated "
                    "FROM account WHERE id = ?1",
    [Q_PROF_SAVE] = "UPDATE account SET nick = ?1, gender = ?2, face_url = ?3, signature = ?4, "
                    "allow_type = ?5, location = ?6, language = ?7, birthday = ?8, level = ?9, "
                    "role = ?10, msg_settings = ?11, forbid = ?12, custom = ?13, "
                    "last_updated = ?14 WHERE id = ?15",
    [Q_STATUS_LOAD] = "SELECT status, custom_status FROM account WHERE id = ?1",
    [Q_STATUS_SET] = "UPDATE account SET status = CASE WHEN ?2 < 0 THEN status ELSE ?2 END, "
                     "custom_status = ?3 WHERE id = ?1",
    [Q_STATUS_SET_TYPE] = "UPDATE account SET status = ?2 WHERE id = ?1",
    [Q_DEVICES] = "SELECT device FROM session WHERE user_id = ?1 ORDER BY started, token",
    [Q_SESS_ADD] = "INSERT OR REPLACE INTO session(token, user_id, device, simulated, pid, started, slot) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [Q_SESS_REMOVE] = "DELETE FROM session WHERE token = ?1",
    [Q_SESS_REMOVE_SIM] = "DELETE FROM session WHERE user_id = ?1 AND simulated = 1",
    [Q_SESS_COUNT] = "SELECT count(*) FROM session WHERE user_id = ?1",
    [Q_SESS_SLOTS] = "SELECT slot FROM session WHERE slot IS NOT NULL ORDER BY slot",
    [Q_SESS_OTHERS] = "SELECT token, user_id, slot FROM session WHERE slot IS NOT NULL AND token != ?1",
    [Q_SESS_TOKENS] = "SELECT token FROM session WHERE user_id = ?1 ORDER BY started, token",
    [Q_SESS_REMOVE_USER] = "DELETE FROM session WHERE user_id = ?1",
    [Q_EV_ADD] = "INSERT INTO event(type, user_id, origin, data) VALUES (?1, ?2, ?3, ?4)",
    [Q_EV_SCAN] = "SELECT seq, type, user_id, origin, data FROM event WHERE seq > ?1 ORDER BY seq LIMIT 512",  /* EVENT_BATCH */
    [Q_EV_LAST] = "SELECT coalesce(max(seq), 0) FROM event",
    [Q_EV_PRUNE] = "DELETE FROM event WHERE seq < ?1",
    [Q_DATA_VERSION] = "PRAGMA data_version",
};

static const char k_schema[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS account("
    "  id TEXT PRIMARY KEY,"
    "  nick TEXT NOT NULL DEFAULT '', gender INTEGER NOT NULL DEFAULT 0,"
    "  face_url TEXT NOT NULL DEFAULT '', signature TEXT NOT NULL DEFAULT '',"
    "  allow_type INTEGER NOT NULL DEFAULT 0, location TEXT NOT NULL DEFAULT '',"
    "  language INTEGER NOT NULL DEFAULT 0, birthday INTEGER NOT NULL DEFAULT 0,"
    "  level INTEGER NOT NULL DEFAULT 0, role INTEGER NOT NULL DEFAULT 0,"
    "  msg_settings INTEGER NOT NULL DEFAULT 0, forbid INTEGER NOT NULL DEFAULT 0,"
    "  custom TEXT NOT NULL DEFAULT '[]', last_updated INTEGER NOT NULL DEFAULT 0,"
    "  status INTEGER NOT NULL DEFAULT 3, custom_status TEXT NOT NULL DEFAULT '',"
    "  created INTEGER NOT NULL DEFAULT 0,"
    "  kicked INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS session("
    "  token TEXT PRIMARY KEY, user_id TEXT NOT NULL, device TEXT NOT NULL,"
    "  simulated INTEGER NOT NULL DEFAULT 0, pid INTEGER NOT NULL DEFAULT 0,"
    "  started INTEGER NOT NULL DEFAULT 0, slot INTEGER) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS session_user ON session(user_id);"
    "CREATE TABLE IF NOT EXISTS event("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT, type INTEGER NOT NULL,"
    "  user_id TEXT NOT NULL, origin TEXT NOT NULL, data TEXT);"
    "PRAGMA user_version = 2;";

/*
 * The schema this build writes; a store of a newer schema is refused, an older one is
 * upgraded in place when opened (k_upgrade, then k_schema), in the transaction that reads
 * its version.  Version 1 had no account.kicked (the time of the last admin kick, version 2).
 */
#define SCHEMA_VERSION 2

/* What turns a store of version v (index) into one of version v + 1. */
static const char* const k_upgrade[SCHEMA_VERSION] = {
    [1] = "ALTER TABLE account ADD COLUMN kicked INTEGER NOT NULL DEFAULT 0;",
};

/* Events kept for readers that lag (a reader further behind drops its caches);
 * older ones are pruned every EVENT_PRUNE_STEP events. */
#define EVENT_KEEP 10000
#define EVENT_PRUNE_STEP 1000
#define EVENT_BATCH 512 /* the LIMIT of Q_EV_SCAN */

struct tr_store {
    sqlite3* db;
    sqlite3_stmt* q[Q_COUNT];
    char* path;        /* NULL for memory */
    char* notify_path; /* written after each commit that added events; other processes watch it */
    int notify_fd;
    int lock_fd;       /* each live session holds a lock on its slot's byte */
    bool txn_events;     /* the open transaction added change events */
    int64_t last_event;  /* seq of the last event this connection wrote */
    int64_t prune_mark;  /* prune when last_event reaches it */
};

const char* tr_store_notify_path(tr_store* st) { return st->notify_path; }

const char* tr_store_errmsg(tr_store* st) {
    return st && st->db ? sqlite3_errmsg(st->db) : "no store";
}

static int64_t now_s(void) { return (int64_t)time(NULL); }

/* Step a statement that returns no rows, then reset it. */
static int exec_q(sqlite3_stmt* s) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? TR_OK : (rc == SQLITE_NOMEM ? TR_ENOMEM : TR_EIO);
}

static void finish(sqlite3_stmt* s) {
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

static int status_load(tr_store* st, const char* id, tr_status* out);

/* mkdir -p with mode 0700 for the directories it creates. */
static int make_dirs(const char* dir, char* err, size_t errlen) {
    char* p = strdup(dir);
    if (!p) return snprintf(err, errlen, "out of memory"), -1;
    for (char* s = p + 1;; s++) {
        char c = *s;
        if (c == '/' || c == '\0') {
            *s = '\0';
            if (mkdir(p, 0700) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create directory %s: %s", p, strerror(errno));
                free(p);
                return -1;
            }
            *s = c;
        }
        if (c == '\0') break;
    }
    free(p);
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s is not a directory", dir);
        return -1;
    }
    return 0;
}

/*
 * Open (creating, 0600) one of the store's own files: never through a symbolic
 * link, and only a regular file owned by this user.  Returns the fd or -1.
 */
static int open_private(const char* path, char* err, size_t errlen) {
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s%s", path, strerror(errno),
                 errno == ELOOP ? " (it is a symbolic link: remove it)" : "");
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_uid != geteuid()) {
        snprintf(err, errlen, "%s is not a regular file owned by this user: remove it", path);
        close(fd);
        return -1;
    }
    if ((sb.st_mode & 077) != 0 && fchmod(fd, 0600) != 0) {
        snprintf(err, errlen, "cannot make %s private: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* SQLite's own files beside the database: if present, regular and ours. */
static int check_sidecar(const char* db_path, const char* suffix, char* err, size_t errlen) {
    char path[4200];
    if (snprintf(path, sizeof path, "%s%s", db_path, suffix) >= (int)sizeof path) {
        snprintf(err, errlen, "the store path is too long");
        return -1;
    }
    struct stat sb;
    if (lstat(path, &sb) != 0) return 0; /* absent: SQLite creates it like the database */
    if (!S_ISREG(sb.st_mode) || sb.st_uid != geteuid()) {
        snprintf(err, errlen, "%s is not a regular file owned by this user: remove it", path);
        return -1;
    }
    return 0;
}

/* The directory must not let other users plant or swap the store's files. */
static int check_dir(const char* dir, char* err, size_t errlen) {
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "%s is not a directory", dir);
        return -1;
    }
    if (sb.st_uid != geteuid() || (sb.st_mode & 022) != 0) {
        snprintf(err, errlen,
                 "%s is %s: use a directory only this user can write (e.g. chmod 700), or a new path",
                 dir, sb.st_uid != geteuid() ? "owned by another user" : "writable by other users");
        return -1;
    }
    return 0;
}

int tr_store_open(tr_store** out, uint64_t app_id, const char* dir, char* err, size_t errlen) {
    *out = NULL;
    tr_store* st = calloc(1, sizeof *st);
    if (!st) return snprintf(err, errlen, "out of memory"), TR_ENOMEM;
    st->notify_fd = -1;
    st->lock_fd = -1;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    const char* path = ":memory:";
    if (dir) {
        if (make_dirs(dir, err, errlen) != 0 || check_dir(dir, err, errlen) != 0) {
            free(st);
            return TR_EIO;
        }
        size_t n = strlen(dir) + 48;
        st->path = malloc(n);
        if (!st->path) {
            free(st);
            return snprintf(err, errlen, "out of memory"), TR_ENOMEM;
        }
        snprintf(st->path, n, "%s/timref-%" PRIu64 ".db", dir, app_id);
        /* Create the file ourselves, private, refusing to follow a planted link. */
        int fd = open_private(st->path, err, errlen);
        if (fd < 0 || check_sidecar(st->path, "-wal", err, errlen) != 0 ||
            check_sidecar(st->path, "-shm", err, errlen) != 0) {
            if (fd >= 0) close(fd);
            free(st->path);
            free(st);
            return TR_EIO;
        }
        close(fd);
        st->notify_path = malloc(n);
        if (!st->notify_path) {
            free(st->path);
            free(st);
            return snprintf(err, errlen, "out of memory"), TR_ENOMEM;
        }
        snprintf(st->notify_path, n, "%s/timref-%" PRIu64 ".notify", dir, app_id);
        st->notify_fd = open_private(st->notify_path, err, errlen);
        if (st->notify_fd < 0) {
            free(st->notify_path);
            free(st->path);
            free(st);
            return TR_EIO;
        }
        char* lock_path = malloc(n);
        if (lock_path) {
            snprintf(lock_path, n, "%s/timref-%" PRIu64 ".locks", dir, app_id);
            st->lock_fd = open_private(lock_path, err, errlen);
            free(lock_path);
        }
        if (st->lock_fd < 0) {
            if (!lock_path) snprintf(err, errlen, "out of memory");
            close(st->notify_fd);
            free(st->notify_path);
            free(st->path);
            free(st);
            return TR_EIO;
        }
        flags |= SQLITE_OPEN_NOFOLLOW;
        path = st->path;
    }
    int rc = sqlite3_open_v2(path, &st->db, flags, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(st->db, 1);
        sqlite3_busy_timeout(st->db, 10000);
        rc = sqlite3_exec(st->db,
                          dir ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                              : "PRAGMA synchronous=OFF;",
                          NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    int version = 0;
    if (rc == SQLITE_OK) {
        sqlite3_stmt* v = NULL;
        if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &v, NULL) == SQLITE_OK &&
            sqlite3_step(v) == SQLITE_ROW)
            version = sqlite3_column_int(v, 0);
        sqlite3_finalize(v);
        if (version > SCHEMA_VERSION) {
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            snprintf(err, errlen, "the store %s has schema %d, newer than this timref's (%d)", path, version,
                     SCHEMA_VERSION);
            tr_store_close(st);
            return TR_EIO;
        }
    }
    /* An older store: its upgrades, one version after the other (a new store has version 0
     * and no tables: k_schema creates them as they are now). */
    for (int v = version; rc == SQLITE_OK && v > 0 && v < SCHEMA_VERSION; v++)
        if (k_upgrade[v]) rc = sqlite3_exec(st->db, k_upgrade[v], NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(st->db, k_schema, NULL, NULL, NULL);
        rc = sqlite3_exec(st->db, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK
                 ? rc : SQLITE_ERROR;
    }
    for (int i = 0; rc == SQLITE_OK && i < Q_COUNT; i++)
        rc = sqlite3_prepare_v3(st->db, k_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &st->q[i], NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open the store %s: %s", path,
                 st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
        tr_store_close(st);
        return TR_EIO;
    }
    st->last_event = tr_store_event_last(st);
    st->prune_mark = st->last_event + EVENT_PRUNE_STEP;
    *out = st;
    return TR_OK;
}

void tr_store_close(tr_store* st) {
    if (!st) return;
    for (int i = 0; i < Q_COUNT; i++) sqlite3_finalize(st->q[i]);
    sqlite3_close(st->db);
    if (st->notify_fd >= 0) close(st->notify_fd);
    if (st->lock_fd >= 0) close(st->lock_fd); /* releases this process's slots */
    free(st->notify_path);
    free(st->path);
    free(st);
}

int tr_store_begin(tr_store* st) {
    st->txn_events = false;
    return exec_q(st->q[Q_BEGIN]);
}

/*
 * The one path after a commit: when the transaction added change events, the
 * feed of this process is marked (it delivers them, and forgets the changed
 * users' cached entries, before the job completes), and the other processes
 * are woken through the notify file.  Writers do nothing more.
 */
int tr_store_commit(tr_store* st) {
    int rc = exec_q(st->q[Q_COMMIT]);
    if (rc == TR_OK && st->txn_events) {
        st->txn_events = false;
        tr_feed_mark();
        /* Now the commit is visible to readers: wake the other processes.  (Watching
         * the WAL itself would wake them before the WAL index shows the commit.) */
        if (st->notify_fd >= 0 && pwrite(st->notify_fd, "", 1, 0) < 0) {
            /* a missed wake-up is caught by the next */
        }
    }
    if (rc == TR_OK && st->last_event >= st->prune_mark) {
        /* Pruning is housekeeping: its failure is no failure of the commit. */
        sqlite3_bind_int64(st->q[Q_EV_PRUNE], 1, st->last_event - EVENT_KEEP);
        exec_q(st->q[Q_EV_PRUNE]);
        st->prune_mark = st->last_event + EVENT_PRUNE_STEP;
    }
    return rc;
}

void tr_store_rollback(tr_store* st) {
    st->txn_events = false;
    if (!sqlite3_get_autocommit(st->db)) exec_q(st->q[Q_ROLLBACK]);
}

int tr_store_account_ensure(tr_store* st, const char* id, bool* created) {
    sqlite3_stmt* s = st->q[Q_ACC_INSERT];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_s());
    int rc = exec_q(s);
    if (created) *created = rc == TR_OK && sqlite3_changes(st->db) > 0;
    return rc;
}

int tr_store_account_exists(tr_store* st, const char* id) {
    sqlite3_stmt* s = st->q[Q_ACC_EXISTS];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    finish(s);
    return rc == SQLITE_ROW ? TR_OK : rc == SQLITE_DONE ? TR_NOTFOUND : TR_EIO;
}

int tr_store_account_delete(tr_store* st, const char* id) {
    sqlite3_stmt* s = st->q[Q_ACC_DELETE];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = exec_q(s);
    if (rc != TR_OK) return rc;
    int deleted = sqlite3_changes(st->db);
    s = st->q[Q_ACC_DEL_SESSIONS];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    rc = exec_q(s);
    return rc != TR_OK ? rc : deleted ? TR_OK : TR_NOTFOUND;
}

int tr_store_kick(tr_store* st, const char* id, int64_t at, json_t** tokens) {
    *tokens = NULL;
    sqlite3_stmt* s = st->q[Q_ACC_KICK];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, at);
    int rc = exec_q(s);
    if (rc != TR_OK) return rc;
    if (sqlite3_changes(st->db) == 0) return TR_NOTFOUND;
    json_t* a = json_array();
    if (!a) return TR_ENOMEM;
    s = st->q[Q_SESS_TOKENS];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int step;
    while (rc == TR_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
        const unsigned char* t = sqlite3_column_text(s, 0);
        if (json_array_append_new(a, json_string(t ? (const char*)t : "")) != 0) rc = TR_ENOMEM;
    }
    if (rc == TR_OK && step != SQLITE_DONE) rc = TR_EIO;
    finish(s);
    if (rc == TR_OK) {
        s = st->q[Q_SESS_REMOVE_USER];
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        rc = exec_q(s);
    }
    if (rc != TR_OK) {
        json_decref(a);
        return rc;
    }
    *tokens = a;
    return TR_OK;
}

int tr_store_account_kicked(tr_store* st, const char* id, int64_t* at) {
    *at = 0;
    sqlite3_stmt* s = st->q[Q_ACC_KICKED];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) *at = sqlite3_column_int64(s, 0);
    finish(s);
    return rc == SQLITE_ROW ? TR_OK : rc == SQLITE_DONE ? TR_NOTFOUND : TR_EIO;
}

/* ---- profiles --------------------------------------------------------------- */

void tr_profile_init(tr_profile* p, const char* id) {
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
}

void tr_profile_clear(tr_profile* p) {
    for (int i = 0; i < TR_F_COUNT; i++) free(p->str[i]);
    for (size_t i = 0; i < p->n_custom; i++) free(p->custom[i].value);
    memset(p, 0, sizeof *p);
}

int tr_profile_copy(tr_profile* dst, const tr_profile* src) {
    *dst = *src;
    for (int i = 0; i < TR_F_COUNT; i++) dst->str[i] = NULL;
    for (size_t i = 0; i < src->n_custom; i++) dst->custom[i].value = NULL;
    bool ok = true;
    for (int i = 0; i < TR_F_COUNT; i++)
        if (src->str[i] && !(dst->str[i] = strdup(src->str[i]))) ok = false;
    for (size_t i = 0; i < src->n_custom; i++)
        if (!(dst->custom[i].value = strdup(src->custom[i].value))) ok = false;
    if (!ok) {
        tr_profile_clear(dst);
        return TR_ENOMEM;
    }
    return TR_OK;
}

/* Parse the stored custom list [[key, value], ...]. */
static int load_custom(tr_profile* p, const char* text) {
    json_t* a = json_loads(text ? text : "[]", 0, NULL);
    if (!json_is_array(a)) {
        json_decref(a);
        return TR_EIO;
    }
    size_t i;
    json_t* kv;
    json_array_foreach(a, i, kv) {
        const char* k = json_string_value(json_array_get(kv, 0));
        const char* v = json_string_value(json_array_get(kv, 1));
        if (!k || !v || p->n_custom >= TR_MAX_CUSTOM || strlen(k) >= TR_CUSTOM_KEY_SIZE) continue;
        tr_custom* c = &p->custom[p->n_custom];
        snprintf(c->key, sizeof c->key, "%s", k);
        if (!(c->value = strdup(v))) {
            json_decref(a);
            return TR_ENOMEM;
        }
        p->n_custom++;
    }
    json_decref(a);
    return TR_OK;
}

int tr_store_profile_load(tr_store* st, const char* id, tr_profile* out) {
    tr_profile_init(out, id);
    sqlite3_stmt* s = st->q[Q_PROF_LOAD];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        finish(s);
        return rc == SQLITE_DONE ? TR_NOTFOUND : TR_EIO;
    }
    int res = TR_OK;
    for (int f = 0; f < TR_F_COUNT; f++) {
        if (tr_fields[f].is_string) {
            const unsigned char* t = sqlite3_column_text(s, f);
            if (!(out->str[f] = strdup(t ? (const char*)t : ""))) res = TR_ENOMEM;
        } else {
            sqlite3_int64 v = sqlite3_column_int64(s, f);
            out->num[f] = v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
        }
    }
    if (res == TR_OK) res = load_custom(out, (const char*)sqlite3_column_text(s, TR_F_COUNT));
    out->last_updated = sqlite3_column_int64(s, TR_F_COUNT + 1);
    finish(s);
    if (res != TR_OK) tr_profile_clear(out);
    return res;
}

int tr_store_profile_save(tr_store* st, const tr_profile* p) {
    json_t* a = json_array();
    for (size_t i = 0; a && i < p->n_custom; i++)
        if (json_array_append_new(a, json_pack("[ss]", p->custom[i].key, p->custom[i].value)) != 0) {
            json_decref(a);
            a = NULL;
        }
    char* custom = a ? tr_json_dump(a) : NULL;
    json_decref(a);
    if (!custom) return TR_ENOMEM;
    sqlite3_stmt* s = st->q[Q_PROF_SAVE];
    for (int f = 0; f < TR_F_COUNT; f++) {
        if (tr_fields[f].is_string) sqlite3_bind_text(s, f + 1, p->str[f] ? p->str[f] : "", -1, SQLITE_STATIC);
        else sqlite3_bind_int64(s, f + 1, p->num[f]);
    }
    sqlite3_bind_text(s, TR_F_COUNT + 1, custom, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, TR_F_COUNT + 2, p->last_updated);
    sqlite3_bind_text(s, TR_F_COUNT + 3, p->id, -1, SQLITE_STATIC);
    int rc = exec_q(s);
    free(custom);
    if (rc == TR_OK && sqlite3_changes(st->db) == 0) rc = TR_NOTFOUND;
    return rc;
}

/* ---- status and sessions ---------------------------------------------------- */

void tr_status_clear(tr_status* s) {
    free(s->custom);
    for (size_t i = 0; i < s->n_devices; i++) free(s->devices[i]);
    free(s->devices);
    memset(s, 0, sizeof *s);
}

int tr_store_status_load(tr_store* st, const char* id, tr_status* out) {
    /* Two statements: read them in one transaction, so a commit from another
     * process cannot land between them. */
    bool own_txn = sqlite3_get_autocommit(st->db) && exec_q(st->q[Q_READ_BEGIN]) == TR_OK;
    int rc = status_load(st, id, out);
    if (own_txn) exec_q(st->q[Q_COMMIT]);
    return rc;
}

static int status_load(tr_store* st, const char* id, tr_status* out) {
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", id);
    sqlite3_stmt* s = st->q[Q_STATUS_LOAD];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        finish(s);
        return rc == SQLITE_DONE ? TR_NOTFOUND : TR_EIO;
    }
    out->type = sqlite3_column_int(s, 0);
    const unsigned char* c = sqlite3_column_text(s, 1);
    out->custom = strdup(c ? (const char*)c : "");
    finish(s);
    if (!out->custom) return TR_ENOMEM;
    s = st->q[Q_DEVICES];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int res = TR_OK;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        char** grown = realloc(out->devices, (out->n_devices + 1) * sizeof(char*));
        if (!grown) {
            res = TR_ENOMEM;
            break;
        }
        out->devices = grown;
        const unsigned char* d = sqlite3_column_text(s, 0);
        if (!(out->devices[out->n_devices] = strdup(d ? (const char*)d : ""))) {
            res = TR_ENOMEM;
            break;
        }
        out->n_devices++;
    }
    if (res == TR_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) res = TR_EIO;
    finish(s);
    if (res != TR_OK) {
        tr_status_clear(out);
        return res;
    }
    if (out->n_devices > 0) out->type = kTIMUserStatusType_Online;
    else if (out->type == kTIMUserStatusType_Online || out->type <= 0 || out->type > 3)
        out->type = kTIMUserStatusType_UnLogined;
    return TR_OK;
}

int tr_store_status_set(tr_store* st, const char* id, int type, const char* custom) {
    sqlite3_stmt* s = st->q[custom ? Q_STATUS_SET : Q_STATUS_SET_TYPE];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, type);
    if (custom) sqlite3_bind_text(s, 3, custom, -1, SQLITE_STATIC);
    int rc = exec_q(s);
    return rc == TR_OK && sqlite3_changes(st->db) == 0 ? TR_NOTFOUND : rc;
}

int tr_store_session_add(tr_store* st, const char* token, const char* id, const char* device,
                         bool simulated, int slot) {
    sqlite3_stmt* s = st->q[Q_SESS_ADD];
    sqlite3_bind_text(s, 1, token, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, device, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, simulated ? 1 : 0);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)getpid());
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sqlite3_bind_int64(s, 6, (sqlite3_int64)ts.tv_sec * 1000000000 + ts.tv_nsec);
    if (slot >= 0) sqlite3_bind_int(s, 7, slot);
    else sqlite3_bind_null(s, 7);
    return exec_q(s);
}

/* ---- liveness: slot locks ------------------------------------------------------ */

static int slot_lock(int fd, int cmd, short type, int slot) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = slot, .l_len = 1, .l_pid = 0};
    if (fcntl(fd, cmd, &fl) != 0) return -1;
    return cmd == F_OFD_GETLK ? fl.l_type : 0;
}

int tr_store_slot_acquire(tr_store* st, int* slot) {
    *slot = -1;
    if (st->lock_fd < 0) return TR_OK; /* in memory: one process, nothing to watch */
    sqlite3_stmt* s = st->q[Q_SESS_SLOTS];
    int want = 0, rc;
    /* The lowest slot no session row claims (rows come sorted). */
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int used = sqlite3_column_int(s, 0);
        if (used == want) want++;
        else if (used > want) break;
    }
    finish(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return TR_EIO;
    /* A free slot may still be locked by a process between its lock and its
     * commit elsewhere: move on. */
    for (int tries = 0; tries < 4096; tries++, want++) {
        if (slot_lock(st->lock_fd, F_OFD_SETLK, F_WRLCK, want) == 0) {
            *slot = want;
            return TR_OK;
        }
        if (errno != EAGAIN && errno != EACCES) return TR_EIO;
    }
    return TR_EIO;
}

void tr_store_slot_release(tr_store* st, int slot) {
    if (st->lock_fd >= 0 && slot >= 0) slot_lock(st->lock_fd, F_OFD_SETLK, F_UNLCK, slot);
}

int tr_store_reap(tr_store* st, const char* own_token, int* reaped) {
    *reaped = 0;
    if (st->lock_fd < 0) return TR_OK;
    typedef struct {
        char token[64];
        char id[TR_MAX_ID_LEN + 1];
    } dead_t;
    dead_t dead[64];
    size_t n = 0;
    sqlite3_stmt* s = st->q[Q_SESS_OTHERS];
    sqlite3_bind_text(s, 1, own_token ? own_token : "", -1, SQLITE_STATIC);
    int rc;
    while (n < 64 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        int slot = sqlite3_column_int(s, 2);
        /* Nobody holds the slot: its process is gone. */
        if (slot_lock(st->lock_fd, F_OFD_GETLK, F_WRLCK, slot) == F_UNLCK) {
            snprintf(dead[n].token, sizeof dead[n].token, "%s", (const char*)sqlite3_column_text(s, 0));
            snprintf(dead[n].id, sizeof dead[n].id, "%s", (const char*)sqlite3_column_text(s, 1));
            n++;
        }
    }
    finish(s);
    if (n == 0) return TR_OK;
    if ((rc = tr_store_begin(st)) != TR_OK) return rc;
    for (size_t i = 0; i < n && rc == TR_OK; i++) {
        rc = tr_store_session_remove(st, dead[i].token);
        if (rc != TR_OK || sqlite3_changes(st->db) == 0) continue; /* another process reaped it */
        int left = 0;
        rc = tr_store_session_count(st, dead[i].id, &left);
        if (rc == TR_OK && left == 0) {
            rc = tr_store_status_set(st, dead[i].id, kTIMUserStatusType_Offline, "");
            if (rc == TR_NOTFOUND) rc = TR_OK;
        }
        if (rc == TR_OK) rc = tr_store_event_add(st, TR_EVT_PRESENCE, dead[i].id, "reaper");
        if (rc == TR_OK) (*reaped)++;
    }
    if (rc == TR_OK) rc = tr_store_commit(st);
    if (rc != TR_OK) {
        tr_store_rollback(st);
        *reaped = 0;
    }
    return rc;
}

int tr_store_session_remove(tr_store* st, const char* token) {
    sqlite3_stmt* s = st->q[Q_SESS_REMOVE];
    sqlite3_bind_text(s, 1, token, -1, SQLITE_STATIC);
    return exec_q(s);
}

int tr_store_session_remove_simulated(tr_store* st, const char* id) {
    sqlite3_stmt* s = st->q[Q_SESS_REMOVE_SIM];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    return exec_q(s);
}

int tr_store_session_count(tr_store* st, const char* id, int* n) {
    sqlite3_stmt* s = st->q[Q_SESS_COUNT];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *n = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    finish(s);
    return rc == SQLITE_ROW ? TR_OK : TR_EIO;
}

/* ---- events -------------------------------------------------------------------- */

/* The user's state as the transaction now sees it, as JSON text (NULL: no account). */
static char* snapshot(tr_store* st, int type, const char* id) {
    json_t* j = NULL;
    if (type == TR_EVT_PROFILE) {
        tr_profile p;
        if (tr_store_profile_load(st, id, &p) == TR_OK) {
            j = tr_profile_json(&p, true);
            tr_profile_clear(&p);
        }
    } else {
        tr_status s;
        if (status_load(st, id, &s) == TR_OK) {
            j = tr_status_json(&s);
            tr_status_clear(&s);
        }
    }
    char* text = j ? tr_json_dump(j) : NULL;
    json_decref(j);
    return text;
}

int tr_store_event_add(tr_store* st, int type, const char* id, const char* origin) {
    char* data = snapshot(st, type, id);
    int rc = tr_store_event_add_data(st, type, id, origin, data);
    free(data);
    return rc;
}

int tr_store_event_add_data(tr_store* st, int type, const char* id, const char* origin, const char* data) {
    sqlite3_stmt* s = st->q[Q_EV_ADD];
    sqlite3_bind_int(s, 1, type);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, origin, -1, SQLITE_STATIC);
    if (data) sqlite3_bind_text(s, 4, data, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, 4);
    int rc = exec_q(s);
    if (rc == TR_OK) {
        st->last_event = sqlite3_last_insert_rowid(st->db);
        st->txn_events = true;
    }
    return rc;
}

int64_t tr_store_data_version(tr_store* st) {
    sqlite3_stmt* s = st->q[Q_DATA_VERSION];
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    finish(s);
    return v;
}

int64_t tr_store_event_last(tr_store* st) {
    sqlite3_stmt* s = st->q[Q_EV_LAST];
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    finish(s);
    return v;
}

int tr_store_event_scan(tr_store* st, int64_t* seq,
                        void (*fn)(void* arg, int type, const char* id, const char* origin,
                                   const char* data),
                        void* arg, bool* gap) {
    sqlite3_stmt* s = st->q[Q_EV_SCAN];
    *gap = false;
    bool first = true;
    for (;;) { /* batches of EVENT_BATCH, so a backlog is read in pieces */
        sqlite3_bind_int64(s, 1, *seq);
        int rc, rows = 0;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            rows++;
            int64_t got = sqlite3_column_int64(s, 0);
            /* Sequence numbers are consecutive: a jump means events were pruned unread. */
            if (first && got != *seq + 1) *gap = true;
            first = false;
            *seq = got;
            const char* id = (const char*)sqlite3_column_text(s, 2);
            const char* origin = (const char*)sqlite3_column_text(s, 3);
            fn(arg, sqlite3_column_int(s, 1), id ? id : "", origin ? origin : "",
               (const char*)sqlite3_column_text(s, 4));
        }
        finish(s);
        if (rc != SQLITE_DONE) return TR_EIO;
        if (rows < EVENT_BATCH) return TR_OK;
    }
}
