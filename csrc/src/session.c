/*
 * session.c - the session's life: login (its token, its liveness slot, the
 * account created when new), logout and its end at TIMUninit, and the
 * snapshot of the login state that TIMGetLoginUserID reads from any thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "tr_internal.h"

/* ---- login snapshot, readable from any thread ---------------------------- */

static pthread_mutex_t g_snap_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_snap_id[TR_MAX_ID_LEN + 1];

void tr_snapshot_set(const char* id) {
    pthread_mutex_lock(&g_snap_mu);
    snprintf(g_snap_id, sizeof g_snap_id, "%s", id ? id : "");
    pthread_mutex_unlock(&g_snap_mu);
}

bool tr_snapshot_get(char* buf) {
    pthread_mutex_lock(&g_snap_mu);
    bool in = g_snap_id[0] != '\0';
    if (buf) memcpy(buf, g_snap_id, strlen(g_snap_id) + 1);
    pthread_mutex_unlock(&g_snap_mu);
    return in;
}

/* ---- the session ----------------------------------------------------------- */

const char* tr_origin_self(void) { return tr_g.logged_in ? tr_g.token : "-"; }

/* Record the session as started (id) or ended (NULL): fresh lists, the snapshot. */
static void session_set(const char* id, int slot) {
    tr_g.logged_in = id != NULL;
    snprintf(tr_g.user_id, sizeof tr_g.user_id, "%s", id ? id : "");
    tr_g.slot = slot;
    tr_g.status_subs.n = 0;
    tr_g.info_subs.n = 0;
    tr_snapshot_set(id);
}

void tr_session_forget(void) { session_set(NULL, -1); }

/* A new session's identity in the store: this process and 64 random bits. */
static void new_token(void) {
    unsigned char rnd[8] = {0};
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        memcpy(rnd, &ts.tv_nsec, sizeof ts.tv_nsec < 8 ? sizeof ts.tv_nsec : 8);
    }
    snprintf(tr_g.token, sizeof tr_g.token, "s:%ld:%02x%02x%02x%02x%02x%02x%02x%02x", (long)getpid(), rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
}

int tr_usersig_check(const char* id, const char* sig, tr_result* r) {
    if (!sig || !*sig) return tr_fail(r, ERR_SVR_ACCOUNT_USERSIG_EMPTY, "user_sig is empty");
    if (!tr_g.secret_key) return ERR_SUCC;
    char why[128];
    uint64_t issued = 0;
    int rc = tr_usersig_verify_issued(sig, tr_g.app_id, id, tr_g.secret_key, (uint64_t)time(NULL), &issued, why,
                                      sizeof why);
    if (rc != 0) return tr_fail(r, rc, "%s", why);
    /* A kick invalidates every UserSig issued before it (the vendor's kick API). */
    int64_t kicked = 0;
    rc = tr_store_account_kicked(tr_g.store, id, &kicked);
    if (rc != TR_OK && rc != TR_NOTFOUND) return tr_store_fail(r, rc);
    if (rc == TR_OK && kicked > 0 && issued < (uint64_t)kicked)
        return tr_fail(r, ERR_SVR_ACCOUNT_USERSIG_EXPIRED,
                       "usersig: invalidated by a kick of %s at %lld (it was issued at %llu): generate a new one", id,
                       (long long)kicked, (unsigned long long)issued);
    return ERR_SUCC;
}

void tr_session_kicked(void) {
    if (!tr_g.logged_in) return;
    tr_store_slot_release(tr_g.store, tr_g.slot);
    tr_session_forget();
}

void tr_session_restore(void) {
    if (!tr_g.logged_in) return;
    tr_store* st = tr_g.store;
    tr_store_slot_release(st, tr_g.slot); /* held by the lost connection, if anything */
    tr_g.slot = -1;
    int slot = -1;
    bool had = false;
    int rc = tr_store_begin(st);
    if (rc == TR_OK) rc = tr_store_account_exists(st, tr_g.user_id);
    if (rc == TR_NOTFOUND) { /* the admin deleted the account meanwhile: the session is over */
        tr_store_rollback(st);
        tr_session_forget();
        return;
    }
    if (rc == TR_OK) rc = tr_store_session_remove(st, tr_g.token, &had);
    if (rc == TR_OK) rc = tr_store_slot_acquire(st, &slot);
    if (rc == TR_OK) rc = tr_store_session_add(st, tr_g.token, tr_g.user_id, tr_g.device, false, slot);
    /* Others saw it end (a reaper removed the row): they see it come back, and so does this
     * session, which was told of its end (the origin is not its token). */
    if (rc == TR_OK && !had) rc = tr_store_event_add(st, TR_EVT_PRESENCE, tr_g.user_id, "restore");
    if (rc == TR_OK) rc = tr_store_commit(st);
    if (rc != TR_OK) {
        tr_store_rollback(st);
        tr_store_slot_release(st, slot);
        st->reconnected = true; /* try again before the next job */
        return;
    }
    tr_g.slot = slot;
}

void tr_job_login(tr_job* j, tr_result* r) {
    const char* id = j->s1;
    const char* sig = j->s2;
    if (!tr_id_valid(id, strlen(id)))
        return (void)tr_fail(r, ERR_SDK_COMM_INVALID_IDENTIFIER, "invalid user_id (1..32 printable ASCII bytes)");
    if (tr_usersig_check(id, sig, r) != ERR_SUCC) return;
    if (tr_g.logged_in) {
        if (strcmp(tr_g.user_id, id) == 0) return tr_succeed(r, NULL);
        return (void)tr_fail(r, ERR_SDK_INVALID_OPERATION, "already logged in as \"%s\": log out first",
                             tr_g.user_id);
    }
    new_token();
    tr_store* st = tr_g.store;
    bool created = false;
    int slot = -1;
    tr_feed_reap(); /* free the slots of dead processes first */
    int rc = tr_store_begin(st);
    if (rc == TR_OK) rc = tr_store_account_ensure(st, id, &created);
    if (rc == TR_OK) rc = tr_store_slot_acquire(st, &slot);
    if (rc == TR_OK) rc = tr_store_session_add(st, tr_g.token, id, tr_g.device, false, slot);
    if (rc == TR_OK) rc = tr_store_event_add(st, TR_EVT_PRESENCE, id, tr_g.token);
    if (rc == TR_OK && created) rc = tr_store_event_add(st, TR_EVT_PROFILE, id, tr_g.token);
    if (tr_commit(rc, r) != ERR_SUCC) {
        tr_store_slot_release(st, slot);
        return;
    }
    session_set(id, slot);
    tr_succeed(r, NULL);
}

int tr_session_end(tr_result* r) {
    if (!tr_g.logged_in) return ERR_SUCC;
    tr_store* st = tr_g.store;
    int n = 0;
    int rc = tr_store_begin(st);
    if (rc == TR_OK) rc = tr_store_session_remove(st, tr_g.token, NULL);
    if (rc == TR_OK) rc = tr_store_session_count(st, tr_g.user_id, &n);
    if (rc == TR_OK && n == 0) {
        rc = tr_store_status_set(st, tr_g.user_id, kTIMUserStatusType_UnLogined, "");
        if (rc == TR_NOTFOUND) rc = TR_OK; /* the admin deleted the account meanwhile */
    }
    if (rc == TR_OK) rc = tr_store_event_add(st, TR_EVT_PRESENCE, tr_g.user_id, tr_g.token);
    if (tr_commit(rc, r) != ERR_SUCC) return r->code; /* still logged in: the slot stays held */
    /* Only now: a lock released before a failed commit would let the others reap a live session. */
    tr_store_slot_release(st, tr_g.slot);
    tr_session_forget();
    return ERR_SUCC;
}

void tr_job_logout(tr_job* j, tr_result* r) {
    (void)j;
    if (tr_session_end(r) == ERR_SUCC) tr_succeed(r, NULL);
}
