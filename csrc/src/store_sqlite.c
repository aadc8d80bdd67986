/*
 * store_sqlite.c - the SQLite engine of the store (store.h): accounts with
 * their profile and status, sessions, and the log of change events other
 * sessions learn from.  On disk (a directory), the database runs in WAL mode
 * with synchronous=FULL beside two files of its own: the notify file, written
 * after each commit that added events and watched with inotify by the other
 * processes, and the lock file, whose bytes are the liveness slots (an OFD
 * lock per live session).  In memory, the store is private to the process.
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
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tr_internal.h"

enum {
    Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_READ_BEGIN, Q_SAVEPOINT, Q_RELEASE, Q_ROLLBACK_TO,
    Q_ACC_INSERT, Q_ACC_EXISTS, Q_ACC_DELETE, Q_ACC_DEL_SESSIONS, Q_ACC_KICK, Q_ACC_KICKED,
    Q_ACC_LIST, Q_ACC_COUNT, Q_ACC_COUNT_ALL,
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
    [Q_SAVEPOINT] = "SAVEPOINT job",
    [Q_RELEASE] = "RELEASE job",
    [Q_ROLLBACK_TO] = "ROLLBACK TO job",
    [Q_ACC_INSERT] = "INSERT OR IGNORE INTO account(id, created) VALUES (?1, ?2)",
    [Q_ACC_EXISTS] = "SELECT 1 FROM account WHERE id = ?1",
    [Q_ACC_DELETE] = "DELETE FROM account WHERE id = ?1",
    [Q_ACC_DEL_SESSIONS] = "DELETE FROM session WHERE user_id = ?1 AND simulated = 1",
    [Q_ACC_KICK] = "UPDATE account SET kicked = ?2 WHERE id = ?1",
    [Q_ACC_KICKED] = "SELECT kicked FROM account WHERE id = ?1",
    /* A range scan of the primary key (BINARY: byte order) from ?1; instr on blobs is a
     * byte-exact, case-sensitive substring test ('' matches every id). */
    [Q_ACC_LIST] = "SELECT id FROM account WHERE id > ?1 "
                   "AND instr(CAST(id AS BLOB), CAST(?2 AS BLOB)) > 0 ORDER BY id LIMIT ?3",
    [Q_ACC_COUNT] = "SELECT count(*) FROM account WHERE instr(CAST(id AS BLOB), CAST(?1 AS BLOB)) > 0",
    /* No match: SQLite counts the b-tree without reading each row (10^6 accounts: under a
     * millisecond in memory, where the instr above takes some 100 ms). */
    [Q_ACC_COUNT_ALL] = "SELECT count(*) FROM account",
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

typedef struct sq_store {
    tr_store base;     /* first: a tr_store* is a sq_store* */
    sqlite3* db;
    sqlite3_stmt* q[Q_COUNT];
    char* path;        /* NULL for memory */
    char* notify_path; /* written after each commit that added events; other processes watch it */
    int notify_fd;
    int lock_fd;       /* each live session holds a lock on its slot's byte */
    int watch_fd;      /* inotify on notify_path (watch_start), or -1 */
    int64_t last_event;  /* seq of the last event this connection wrote */
    int64_t prune_mark;  /* prune when last_event reaches it */
} sq_store;

#define SQ(b) ((sq_store*)(b))

static const struct tr_store_ops k_sqlite_ops;

static const char* sq_errmsg(tr_store* base) {
    sq_store* st = SQ(base);
    return st->db ? sqlite3_errmsg(st->db) : "no store";
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

static int status_load(sq_store* st, const char* id, tr_status* out);

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

/* The store's files in its directory: timref-<app_id> and these endings (SQLite's own
 * beside the database: DB_FILE "-wal" and DB_FILE "-shm"). */
#define DB_FILE ".db"
#define NOTIFY_FILE ".notify"
#define LOCK_FILE ".locks"

/* The byte of the lock file on which every process with the store open holds a read lock
 * (the slots are bytes 0, 1, ...; far below this); removing the store (tr_store_sqlite_remove)
 * takes a write lock on the whole file, so it fails while any process has the store open. */
#define OPEN_BYTE ((off_t)INT32_MAX)

static void sq_close(tr_store* base);
static int64_t sq_event_last(tr_store* base);

int tr_store_sqlite_open(tr_store** out, uint64_t app_id, const char* dir, char* err, size_t errlen) {
    *out = NULL;
    sq_store* st = calloc(1, sizeof *st);
    if (!st) return snprintf(err, errlen, "out of memory"), TR_ENOMEM;
    st->base.ops = &k_sqlite_ops;
    st->base.shared = dir != NULL; /* in memory: this connection is the only writer */
    st->notify_fd = -1;
    st->lock_fd = -1;
    st->watch_fd = -1;
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
        snprintf(st->path, n, "%s/timref-%" PRIu64 DB_FILE, dir, app_id);
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
        snprintf(st->notify_path, n, "%s/timref-%" PRIu64 NOTIFY_FILE, dir, app_id);
        st->notify_fd = open_private(st->notify_path, err, errlen);
        if (st->notify_fd < 0) {
            free(st->notify_path);
            free(st->path);
            free(st);
            return TR_EIO;
        }
        char* lock_path = malloc(n);
        if (lock_path) {
            snprintf(lock_path, n, "%s/timref-%" PRIu64 LOCK_FILE, dir, app_id);
            st->lock_fd = open_private(lock_path, err, errlen);
            free(lock_path);
        }
        /* This process has the store open (waiting while a removal is under way); a lock file
         * that a removal unlinked meanwhile is no store any more. */
        struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = OPEN_BYTE, .l_len = 1};
        struct stat lsb;
        if (st->lock_fd >= 0 && (fcntl(st->lock_fd, F_OFD_SETLKW, &fl) != 0 || fstat(st->lock_fd, &lsb) != 0 ||
                                 lsb.st_nlink == 0)) {
            snprintf(err, errlen, "the store in %s was removed while it was being opened", dir);
            close(st->lock_fd);
            st->lock_fd = -1;
        } else if (!lock_path) {
            snprintf(err, errlen, "out of memory");
        }
        if (st->lock_fd < 0) {
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
            sq_close(&st->base);
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
        sq_close(&st->base);
        return TR_EIO;
    }
    st->last_event = sq_event_last(&st->base);
    st->prune_mark = st->last_event + EVENT_PRUNE_STEP;
    *out = &st->base;
    return TR_OK;
}

/*
 * Remove the store of app_id in dir: its files, the lock file last, while this
 * holds a write lock on the whole lock file, which fails while any process has
 * the store open (its read lock on OPEN_BYTE; a live session's slot too); an
 * opener that waited on it finds its lock file unlinked and fails.  Nothing to do
 * when there is no such store.
 */
int tr_store_sqlite_remove(uint64_t app_id, const char* dir, char* err, size_t errlen) {
    static const char* const k_files[] = {DB_FILE, DB_FILE "-wal", DB_FILE "-shm", NOTIFY_FILE, LOCK_FILE};
    char path[4200];
    if (snprintf(path, sizeof path, "%s/timref-%" PRIu64 LOCK_FILE, dir, app_id) >= (int)sizeof path)
        return snprintf(err, errlen, "the store path is too long"), TR_EIO;
    int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT)
        return snprintf(err, errlen, "cannot remove the store in %s: cannot open %s: %s", dir, path,
                        strerror(errno)), TR_EIO;
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0};
    if (fd >= 0 && fcntl(fd, F_OFD_SETLK, &fl) != 0) {
        int e = errno;
        close(fd);
        if (e == EAGAIN || e == EACCES)
            return snprintf(err, errlen,
                            "cannot remove the store of app %" PRIu64 " in %s: a process has it open (TIMUninit first)",
                            app_id, dir), TR_EIO;
        return snprintf(err, errlen, "cannot remove the store in %s: cannot lock %s: %s", dir, path, strerror(e)),
               TR_EIO;
    }
    int rc = TR_OK;
    for (size_t i = 0; i < sizeof k_files / sizeof k_files[0]; i++) {
        snprintf(path, sizeof path, "%s/timref-%" PRIu64 "%s", dir, app_id, k_files[i]);
        if (unlink(path) != 0 && errno != ENOENT) { /* the lock file stays: the store is still one */
            snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
            rc = TR_EIO;
            break;
        }
    }
    if (fd >= 0) close(fd);
    return rc;
}

static void sq_close(tr_store* base) {
    sq_store* st = SQ(base);
    if (st->watch_fd >= 0) close(st->watch_fd);
    for (int i = 0; i < Q_COUNT; i++) sqlite3_finalize(st->q[i]);
    sqlite3_close(st->db);
    if (st->notify_fd >= 0) close(st->notify_fd);
    if (st->lock_fd >= 0) close(st->lock_fd); /* releases this process's slots */
    free(st->notify_path);
    free(st->path);
    free(st);
}

static int sq_begin(tr_store* base) {
    return exec_q(SQ(base)->q[Q_BEGIN]);
}

/* COMMIT; when it added events, the other processes are woken through the notify file. */
static int sq_commit(tr_store* base, bool wake) {
    sq_store* st = SQ(base);
    int rc = exec_q(st->q[Q_COMMIT]);
    if (rc == TR_OK && wake) {
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

static void sq_rollback(tr_store* base) {
    sq_store* st = SQ(base);
    if (!sqlite3_get_autocommit(st->db)) exec_q(st->q[Q_ROLLBACK]);
}

/* A savepoint only inside the batch's transaction: outside one, SQLite would open a
 * transaction of its own, and its release would commit on its own. */
static int sq_savepoint(tr_store* base) {
    sq_store* st = SQ(base);
    if (sqlite3_get_autocommit(st->db)) return TR_EIO;
    return exec_q(st->q[Q_SAVEPOINT]);
}

static int sq_release(tr_store* base) {
    return exec_q(SQ(base)->q[Q_RELEASE]);
}

static void sq_rollback_to(tr_store* base) {
    sq_store* st = SQ(base);
    if (sqlite3_get_autocommit(st->db)) return; /* the whole transaction is gone already */
    if (exec_q(st->q[Q_ROLLBACK_TO]) == TR_OK) exec_q(st->q[Q_RELEASE]);
}

static int sq_account_ensure(tr_store* base, const char* id, bool* created) {
    sq_store* st = SQ(base);
    sqlite3_stmt* s = st->q[Q_ACC_INSERT];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 2, now_s());
    int rc = exec_q(s);
    if (created) *created = rc == TR_OK && sqlite3_changes(st->db) > 0;
    return rc;
}

static int sq_account_exists(tr_store* base, const char* id) {
    sq_store* st = SQ(base);
    sqlite3_stmt* s = st->q[Q_ACC_EXISTS];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    finish(s);
    return rc == SQLITE_ROW ? TR_OK : rc == SQLITE_DONE ? TR_NOTFOUND : TR_EIO;
}

static int sq_account_delete(tr_store* base, const char* id) {
    sq_store* st = SQ(base);
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

static int sq_kick(tr_store* base, const char* id, int64_t at, json_t** tokens) {
    sq_store* st = SQ(base);
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

static int sq_account_kicked(tr_store* base, const char* id, int64_t* at) {
    sq_store* st = SQ(base);
    *at = 0;
    sqlite3_stmt* s = st->q[Q_ACC_KICKED];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) *at = sqlite3_column_int64(s, 0);
    finish(s);
    return rc == SQLITE_ROW ? TR_OK : rc == SQLITE_DONE ? TR_NOTFOUND : TR_EIO;
}

static int sq_account_list(tr_store* base, const char* after, const char* match, size_t limit, json_t* ids) {
    sq_store* st = SQ(base);
    if (limit == 0) return TR_OK;
    sqlite3_stmt* s = st->q[Q_ACC_LIST];
    sqlite3_bind_text(s, 1, after ? after : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, match ? match : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
    int rc = TR_OK, step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        const char* id = (const char*)sqlite3_column_text(s, 0);
        if (json_array_append_new(ids, json_string(id ? id : "")) != 0) {
            rc = TR_ENOMEM;
            break;
        }
    }
    if (rc == TR_OK && step != SQLITE_DONE) rc = step == SQLITE_NOMEM ? TR_ENOMEM : TR_EIO;
    finish(s);
    return rc;
}

static int sq_account_count(tr_store* base, const char* match, int64_t* n) {
    sq_store* st = SQ(base);
    bool all = !match || !*match;
    sqlite3_stmt* s = st->q[all ? Q_ACC_COUNT_ALL : Q_ACC_COUNT];
    if (!all) sqlite3_bind_text(s, 1, match, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    finish(s);
    return rc == SQLITE_ROW ? TR_OK : rc == SQLITE_NOMEM ? TR_ENOMEM : TR_EIO;
}

/* ---- profiles --------------------------------------------------------------- */


static int sq_profile_load(tr_store* base, const char* id, tr_profile* out) {
    sq_store* st = SQ(base);
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
    if (res == TR_OK) res = tr_profile_custom_load(out, (const char*)sqlite3_column_text(s, TR_F_COUNT));
    out->last_updated = sqlite3_column_int64(s, TR_F_COUNT + 1);
    finish(s);
    if (res != TR_OK) tr_profile_clear(out);
    return res;
}

static int sq_profile_save(tr_store* base, const tr_profile* p) {
    sq_store* st = SQ(base);
    char* custom = tr_profile_custom_dump(p);
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

/* Each profile in turn by its prepared statement (cheap here: no round trip), in one read
 * transaction when none is open, so that no other process's commit lands between them. */
static int sq_profile_load_many(tr_store* base, const char* const* ids, size_t n, tr_profile* out, bool* found) {
    sq_store* st = SQ(base);
    for (size_t i = 0; i < n; i++) tr_profile_init(&out[i], ids[i]);
    bool own_txn = sqlite3_get_autocommit(st->db) && exec_q(st->q[Q_READ_BEGIN]) == TR_OK;
    int rc = TR_OK;
    for (size_t i = 0; i < n && rc == TR_OK; i++) {
        rc = sq_profile_load(base, ids[i], &out[i]);
        found[i] = rc == TR_OK;
        if (rc == TR_NOTFOUND) rc = TR_OK;
    }
    if (own_txn) exec_q(st->q[Q_COMMIT]);
    if (rc != TR_OK)
        for (size_t i = 0; i < n; i++) tr_profile_clear(&out[i]);
    return rc;
}

/* ---- status and sessions ---------------------------------------------------- */

static int sq_status_load(tr_store* base, const char* id, tr_status* out) {
    sq_store* st = SQ(base);
    /* Two statements: read them in one transaction, so a commit from another
     * process cannot land between them. */
    bool own_txn = sqlite3_get_autocommit(st->db) && exec_q(st->q[Q_READ_BEGIN]) == TR_OK;
    int rc = status_load(st, id, out);
    if (own_txn) exec_q(st->q[Q_COMMIT]);
    return rc;
}

static int status_load(sq_store* st, const char* id, tr_status* out) {
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

static int sq_status_load_many(tr_store* base, const char* const* ids, size_t n, tr_status* out, bool* found) {
    sq_store* st = SQ(base);
    memset(out, 0, n * sizeof *out);
    for (size_t i = 0; i < n; i++) snprintf(out[i].id, sizeof out[i].id, "%s", ids[i]);
    bool own_txn = sqlite3_get_autocommit(st->db) && exec_q(st->q[Q_READ_BEGIN]) == TR_OK;
    int rc = TR_OK;
    for (size_t i = 0; i < n && rc == TR_OK; i++) {
        rc = status_load(st, ids[i], &out[i]);
        found[i] = rc == TR_OK;
        if (rc == TR_NOTFOUND) rc = TR_OK;
    }
    if (own_txn) exec_q(st->q[Q_COMMIT]);
    if (rc != TR_OK)
        for (size_t i = 0; i < n; i++) tr_status_clear(&out[i]);
    return rc;
}

static int sq_status_set(tr_store* base, const char* id, int type, const char* custom) {
    sq_store* st = SQ(base);
    sqlite3_stmt* s = st->q[custom ? Q_STATUS_SET : Q_STATUS_SET_TYPE];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, type);
    if (custom) sqlite3_bind_text(s, 3, custom, -1, SQLITE_STATIC);
    int rc = exec_q(s);
    return rc == TR_OK && sqlite3_changes(st->db) == 0 ? TR_NOTFOUND : rc;
}

static int sq_session_add(tr_store* base, const char* token, const char* id, const char* device,
                         bool simulated, int slot) {
    sq_store* st = SQ(base);
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

static int sq_slot_acquire(tr_store* base, int* slot) {
    sq_store* st = SQ(base);
    *slot = -1;
    if (st->lock_fd < 0) return TR_OK; /* in memory: one process, nothing to watch */
    sqlite3_stmt* s = st->q[Q_SESS_SLOTS];
    int want = 0, used = 0, rc = SQLITE_DONE;
    bool have = false, more = true; /* have: `used` is a row's slot not passed yet */
    /* The lowest slot no session row claims (rows come sorted).  A free slot may still be
     * locked by a process between its lock and its commit elsewhere, or whose session just
     * ended: move on to the next one no row claims (a slot a dead session's row names would
     * make that session look alive). */
    for (int tries = 0; tries < 4096; tries++, want++) {
        for (;;) {
            if (!have && more) {
                rc = sqlite3_step(s);
                more = rc == SQLITE_ROW;
                if (more) used = sqlite3_column_int(s, 0), have = true;
            }
            if (!have || used > want) break;
            if (used == want) want++;
            have = false;
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) break;
        if (slot_lock(st->lock_fd, F_OFD_SETLK, F_WRLCK, want) == 0) {
            finish(s);
            *slot = want;
            return TR_OK;
        }
        if (errno != EAGAIN && errno != EACCES) break;
    }
    finish(s);
    return TR_EIO;
}

static void sq_slot_release(tr_store* base, int slot) {
    sq_store* st = SQ(base);
    if (st->lock_fd >= 0 && slot >= 0) slot_lock(st->lock_fd, F_OFD_SETLK, F_UNLCK, slot);
}

/*
 * The sessions of others whose slot nobody holds any more: their process is
 * gone (the lock went with it).
 */
static int sq_dead_sessions(tr_store* base, const char* own_token, tr_dead_session* out, size_t max, size_t* n) {
    sq_store* st = SQ(base);
    *n = 0;
    if (st->lock_fd < 0) return TR_OK; /* in memory: one process */
    sqlite3_stmt* s = st->q[Q_SESS_OTHERS];
    sqlite3_bind_text(s, 1, own_token ? own_token : "", -1, SQLITE_STATIC);
    int step = SQLITE_DONE;
    while (*n < max && (step = sqlite3_step(s)) == SQLITE_ROW) {
        int slot = sqlite3_column_int(s, 2);
        if (slot_lock(st->lock_fd, F_OFD_GETLK, F_WRLCK, slot) == F_UNLCK) {
            snprintf(out[*n].token, sizeof out[*n].token, "%s", (const char*)sqlite3_column_text(s, 0));
            snprintf(out[*n].id, sizeof out[*n].id, "%s", (const char*)sqlite3_column_text(s, 1));
            (*n)++;
        }
    }
    finish(s);
    /* a busy or failing store is no "nobody died": the sweep tries again */
    return step == SQLITE_ROW || step == SQLITE_DONE ? TR_OK : TR_EIO;
}

static int sq_session_remove(tr_store* base, const char* token, bool* removed) {
    sq_store* st = SQ(base);
    sqlite3_stmt* s = st->q[Q_SESS_REMOVE];
    sqlite3_bind_text(s, 1, token, -1, SQLITE_STATIC);
    int rc = exec_q(s);
    if (removed) *removed = rc == TR_OK && sqlite3_changes(st->db) > 0;
    return rc;
}

static int sq_session_remove_simulated(tr_store* base, const char* id) {
    sq_store* st = SQ(base);
    sqlite3_stmt* s = st->q[Q_SESS_REMOVE_SIM];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    return exec_q(s);
}

static int sq_session_count(tr_store* base, const char* id, int* n) {
    sq_store* st = SQ(base);
    sqlite3_stmt* s = st->q[Q_SESS_COUNT];
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    *n = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    finish(s);
    return rc == SQLITE_ROW ? TR_OK : TR_EIO;
}

/* ---- events -------------------------------------------------------------------- */

static int sq_event_add(tr_store* base, int type, const char* id, const char* origin, const char* data) {
    sq_store* st = SQ(base);
    sqlite3_stmt* s = st->q[Q_EV_ADD];
    sqlite3_bind_int(s, 1, type);
    sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, origin, -1, SQLITE_STATIC);
    if (data) sqlite3_bind_text(s, 4, data, -1, SQLITE_STATIC);
    else sqlite3_bind_null(s, 4);
    int rc = exec_q(s);
    if (rc == TR_OK) st->last_event = sqlite3_last_insert_rowid(st->db);
    return rc;
}

static int64_t sq_data_version(tr_store* base) {
    sq_store* st = SQ(base);
    sqlite3_stmt* s = st->q[Q_DATA_VERSION];
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    finish(s);
    return v;
}

static int64_t sq_event_last(tr_store* base) {
    sq_store* st = SQ(base);
    sqlite3_stmt* s = st->q[Q_EV_LAST];
    int64_t v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    finish(s);
    return v;
}

static int sq_event_scan(tr_store* base, int64_t* seq,
                        void (*fn)(void* arg, int type, const char* id, const char* origin,
                                   const char* data),
                        void* arg, bool* gap) {
    sq_store* st = SQ(base);
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

/* ---- the watch: inotify on the notify file ------------------------------------------- */

static int sq_watch_start(tr_store* base, int* fd, char* err, size_t errlen) {
    sq_store* st = SQ(base);
    *fd = -1;
    if (!st->notify_path) return snprintf(err, errlen, "a store in memory is not shared"), TR_EIO;
    st->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (st->watch_fd < 0 || inotify_add_watch(st->watch_fd, st->notify_path, IN_MODIFY) < 0) {
        snprintf(err, errlen, "cannot watch %s (%s)", st->notify_path, strerror(errno));
        if (st->watch_fd >= 0) close(st->watch_fd);
        st->watch_fd = -1;
        return TR_EIO;
    }
    *fd = st->watch_fd;
    return TR_OK;
}

/* The watcher thread: it reads only the inotify descriptor. */
static void sq_watch_drain(tr_store* base) {
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (read(SQ(base)->watch_fd, buf, sizeof buf) > 0) {
    }
}

static void sq_watch_stop(tr_store* base) {
    sq_store* st = SQ(base);
    if (st->watch_fd >= 0) close(st->watch_fd);
    st->watch_fd = -1;
}

static const struct tr_store_ops k_sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .errmsg = sq_errmsg,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .savepoint = sq_savepoint,
    .release = sq_release,
    .rollback_to = sq_rollback_to,
    .account_ensure = sq_account_ensure,
    .account_exists = sq_account_exists,
    .account_delete = sq_account_delete,
    .kick = sq_kick,
    .account_kicked = sq_account_kicked,
    .account_list = sq_account_list,
    .account_count = sq_account_count,
    .profile_load = sq_profile_load,
    .profile_save = sq_profile_save,
    .status_load = sq_status_load,
    .profile_load_many = sq_profile_load_many,
    .status_load_many = sq_status_load_many,
    .status_set = sq_status_set,
    .session_add = sq_session_add,
    .session_remove = sq_session_remove,
    .session_remove_simulated = sq_session_remove_simulated,
    .session_count = sq_session_count,
    .slot_acquire = sq_slot_acquire,
    .slot_release = sq_slot_release,
    .dead_sessions = sq_dead_sessions,
    .event_add = sq_event_add,
    .event_scan = sq_event_scan,
    .event_last = sq_event_last,
    .data_version = sq_data_version,
    .watch_start = sq_watch_start,
    .watch_drain = sq_watch_drain,
    .watch_stop = sq_watch_stop,
};
