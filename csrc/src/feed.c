/*
 * feed.c - change events to caches and event callbacks.
 *
 * Every write appends an event (type, user, origin) to the store in the same
 * transaction, and committing it marks the feed (tr_store_commit, the one
 * after-commit path).  After each job the logic thread reads the events it has
 * not seen, drops the changed users from the profile and status caches and
 * delivers the event callbacks this session is due.  With a shared store,
 * that commit also wakes the other processes (how is the engine's business:
 * store.h, commit's wake); a watcher thread blocks on the descriptor the
 * engine gives (watch_start), a commit by another process wakes it, and it
 * queues a feed job.  Nothing polls.  The watcher also schedules the liveness
 * sweep (tr_feed_reap), which ends the sessions the engine finds dead.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "tr_internal.h"

/* logic-thread state */
static bool g_dirty;
static int64_t g_seq;
static unsigned g_generation; /* bumped by every start: stale dispatches stop */
static int64_t g_data_version; /* the store's data_version when the feed last looked */

/* watcher */
static pthread_t g_watcher;
static bool g_watching;
static tr_store* g_watched; /* the store the watcher drains (set before it starts, read-only then) */
static int g_watch = -1, g_wake = -1;
static atomic_bool g_poll_queued;
/* The watcher was woken since the logic thread last looked: another process committed events. */
static atomic_bool g_woken;

void tr_feed_mark(void) { g_dirty = true; }

typedef struct ev {
    int type;
    char id[TR_MAX_ID_LEN + 1];
    char origin[64];
    char* data; /* the state the change left, as JSON (owned), or NULL */
} ev;

typedef struct ev_list {
    ev* v;
    size_t n, cap;
    bool oom;
} ev_list;

/* A snapshot as stored is passed on to callbacks only if it is a JSON object (a store file
 * written by something else must not feed them garbage). */
static bool snapshot_ok(const char* data) {
    json_t* j = json_loads(data, JSON_REJECT_DUPLICATES, NULL);
    bool ok = json_is_object(j);
    json_decref(j);
    return ok;
}

static void collect(void* arg, int type, const char* id, const char* origin, const char* data) {
    ev_list* l = arg;
    if (data && !snapshot_ok(data)) data = NULL; /* dropped: as if the account were gone */
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        ev* v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = true;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    ev* e = &l->v[l->n++];
    e->type = type;
    snprintf(e->id, sizeof e->id, "%s", id);
    snprintf(e->origin, sizeof e->origin, "%s", origin);
    e->data = data ? strdup(data) : NULL;
    if (data && !e->data) l->oom = true;
}

/* "[" text "]" */
static char* one_element_array(const char* text) {
    size_t n = strlen(text);
    char* arr = malloc(n + 3);
    if (!arr) return NULL;
    arr[0] = '[';
    memcpy(arr + 1, text, n);
    arr[n + 1] = ']';
    arr[n + 2] = '\0';
    return arr;
}

static void fire_profile(const ev* e) {
    if (!e->data) return; /* the account is gone */
    if (strcmp(e->id, tr_g.user_id) == 0) {
        tr_event_fire(TR_EV_SELF_INFO, e->data);
        return;
    }
    if (!tr_sublist_has(&tr_g.info_subs, e->id)) return;
    /* The snapshot is the owner's view: others do not see the add permission. */
    json_t* p = json_loads(e->data, 0, NULL);
    if (!p || json_object_set_new(p, "user_profile_add_permission", json_integer(0)) != 0) {
        json_decref(p);
        return;
    }
    json_t* a = json_array();
    char* text = a && json_array_append_new(a, p) == 0 ? tr_json_dump(a) : (json_decref(p), NULL);
    json_decref(a);
    if (text) tr_event_fire(TR_EV_USER_INFO, text);
    free(text);
}

static void fire_status(const ev* e) {
    if (!e->data) return;
    bool mine = strcmp(e->id, tr_g.user_id) == 0;
    if (mine && e->type == TR_EVT_PRESENCE && strcmp(e->origin, tr_g.token) == 0) return;
    if (!mine && !tr_sublist_has(&tr_g.status_subs, e->id)) return;
    char* text = one_element_array(e->data);
    if (text) tr_event_fire(TR_EV_USER_STATUS, text);
    free(text);
}

/* A kick event naming this session's token: the session ends here (its row is gone), then
 * TIMKickedOfflineCallback.  The presence event that follows tells the others; this session
 * is not told of its own end, as it is not of its logout. */
static void kick_self(const ev* e) {
    if (!e->data || strcmp(e->id, tr_g.user_id) != 0) return;
    json_t* d = json_loads(e->data, 0, NULL);
    const json_t* tokens = json_object_get(d, "tokens");
    bool mine = false;
    size_t i;
    const json_t* t;
    json_array_foreach(tokens, i, t) {
        if (json_is_string(t) && strcmp(json_string_value(t), tr_g.token) == 0) mine = true;
    }
    json_decref(d);
    if (!mine) return;
    tr_session_kicked();
    tr_event_fire(TR_EV_KICKED, NULL);
}

void tr_feed_sync(void) {
    if (!tr_g.initialized || !tr_g.store->shared) return; /* a store in memory has one writer: us */
    if (atomic_exchange(&g_woken, false)) {
        /* Woken: another process committed events, so the scan below reads them at once (one
         * query instead of two on a server).  g_data_version stays as it was: the next job's
         * check finds it changed and reads again, so that job sees every commit before it. */
        g_dirty = true;
    } else {
        int64_t v = tr_store_data_version(tr_g.store);
        if (v != g_data_version) {
            g_data_version = v;
            g_dirty = true;
        }
    }
    if (tr_g.store->reconnected) {
        /* The connection came back: the events missed meanwhile first (a kick among them
         * ends the session), then the session is put back. */
        tr_g.store->reconnected = false;
        g_dirty = true;
        tr_feed_run();
        tr_session_restore();
    }
    tr_feed_run();
}

/* Drop the caches of the users these events changed (all of them when the read was partial). */
static void forget(const ev_list* l, size_t from, bool partial) {
    if (partial) {
        /* Could not read every event (or fell behind the log): trust nothing cached. */
        tr_profile_cache_reset();
        tr_status_cache_reset();
    }
    for (size_t i = from; i < l->n; i++) {
        if (l->v[i].type == TR_EVT_PROFILE) tr_profile_cache_forget(l->v[i].id);
        else tr_status_cache_forget(l->v[i].id);
    }
}

/* Deliver events [from, to) of l to this session's callbacks. */
static void deliver(const ev_list* l, size_t from, size_t to, unsigned gen) {
    /* A callback may log out, uninit or init again: check before each one. */
    for (size_t i = from; i < to && tr_g.initialized && tr_g.logged_in && gen == g_generation; i++) {
        if (l->v[i].type == TR_EVT_PROFILE) fire_profile(&l->v[i]);
        else if (l->v[i].type == TR_EVT_KICK) kick_self(&l->v[i]);
        else fire_status(&l->v[i]);
    }
}

static void ev_list_free(ev_list* l) {
    for (size_t i = 0; i < l->n; i++) free(l->v[i].data);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- group commit: a batch's events ----------------------------------------------------
 * While a batch's transaction is open nothing is delivered (nothing is durable yet); the
 * events each job commits to the batch are read at once into g_pend, so that the caches
 * forget the users they change (a later job of the batch reads what the earlier wrote),
 * and delivered after the batch's commit, each job's before its completion. */
static bool g_batch;
static ev_list g_pend;
static int64_t g_bseq; /* the batch's reading position; g_seq moves to it at commit */
static unsigned g_bgen; /* the generation the batch committed in */

static void batch_scan(void) {
    if (!g_dirty || !tr_g.initialized || !tr_g.store) return;
    g_dirty = false;
    size_t from = g_pend.n;
    bool gap = false;
    int rc = tr_store_event_scan(tr_g.store, &g_bseq, collect, &g_pend, &gap);
    forget(&g_pend, from, rc != TR_OK || g_pend.oom || gap);
}

void tr_feed_batch_begin(void) {
    g_batch = true;
    g_bseq = g_seq;
}

size_t tr_feed_batch_mark(void) {
    batch_scan();
    return g_pend.n;
}

void tr_feed_batch_commit(void) {
    batch_scan();
    g_batch = false;
    g_seq = g_bseq;
    g_bgen = g_generation;
}

void tr_feed_batch_abort(void) {
    /* The batch's transaction was rolled back: its events are gone, and the caches
     * may hold what only it had written. */
    g_batch = false;
    g_dirty = false;
    ev_list_free(&g_pend);
    tr_profile_cache_reset();
    tr_status_cache_reset();
}

void tr_feed_batch_deliver(size_t from, size_t to) {
    if (to > g_pend.n) to = g_pend.n;
    deliver(&g_pend, from, to, g_bgen);
}

void tr_feed_batch_done(void) { ev_list_free(&g_pend); }

void tr_feed_run(void) {
    if (g_batch) {
        batch_scan();
        return;
    }
    if (!g_dirty || !tr_g.initialized || !tr_g.store) return;
    g_dirty = false;
    ev_list l = {0};
    bool gap = false;
    int rc = tr_store_event_scan(tr_g.store, &g_seq, collect, &l, &gap);
    forget(&l, 0, rc != TR_OK || l.oom || gap);
    deliver(&l, 0, l.n, g_generation);
    ev_list_free(&l);
}

/* ---- watcher ------------------------------------------------------------------ */

/* The job the watcher queues: tr_feed_sync, which runs before every job, has read the events
 * (g_woken).  A wake-up that came after that read and before the flag below was cleared queued
 * no job: it is read after this one (tr_feed_run); a later one queues a job of its own. */
static void job_feed_poll(tr_job* j, tr_result* r) {
    (void)j;
    (void)r;
    atomic_store(&g_poll_queued, false);
    if (atomic_exchange(&g_woken, false)) tr_feed_mark();
}

/* How often the sessions of other processes are checked for life. */
#define REAP_INTERVAL_MS 1000

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* At most this many dead sessions are ended per sweep (the next sweep ends more). */
#define REAP_BATCH 64

/*
 * End the sessions of other processes the engine finds dead (other than ours):
 * in one transaction, each user left with no session turns Offline, with a
 * presence event; its commit marks the feed.  A session another process ended
 * first is skipped.
 */
void tr_feed_reap(void) {
    if (!tr_g.initialized || !tr_g.store || !tr_g.store->shared) return;
    tr_store* st = tr_g.store;
    tr_dead_session dead[REAP_BATCH];
    size_t n = 0;
    int rc = tr_store_dead_sessions(st, tr_g.logged_in ? tr_g.token : NULL, dead, REAP_BATCH, &n);
    if (rc != TR_OK || n == 0) return;
    if (tr_store_begin(st) != TR_OK) return;
    /* Read again under the write lock: a session restored since the first read (its row
     * now naming a slot its process holds, same token) is alive, and must stay. */
    rc = tr_store_dead_sessions(st, tr_g.logged_in ? tr_g.token : NULL, dead, REAP_BATCH, &n);
    for (size_t i = 0; i < n && rc == TR_OK; i++) {
        bool removed = false;
        rc = tr_store_session_remove(st, dead[i].token, &removed);
        if (rc != TR_OK || !removed) continue; /* another process reaped it */
        int left = 0;
        rc = tr_store_session_count(st, dead[i].id, &left);
        if (rc == TR_OK && left == 0) {
            rc = tr_store_status_set(st, dead[i].id, kTIMUserStatusType_Offline, "");
            if (rc == TR_NOTFOUND) rc = TR_OK;
        }
        if (rc == TR_OK) rc = tr_store_event_add(st, TR_EVT_PRESENCE, dead[i].id, "reaper");
    }
    if (rc == TR_OK) rc = tr_store_commit(st);
    if (rc != TR_OK) tr_store_rollback(st);
}

static atomic_bool g_reap_queued;

static void job_reap(tr_job* j, tr_result* r) {
    (void)j;
    (void)r;
    atomic_store(&g_reap_queued, false);
    tr_feed_reap();
}

/* Queue an internal job once (flag says one is already queued). */
static void queue_once(atomic_bool* flag, tr_run_fn fn) {
    if (atomic_exchange(flag, true)) return;
    tr_job* j = tr_job_new(fn, 0, NULL, NULL);
    if (j) tr_submit(j);
    else atomic_store(flag, false);
}

static void* watcher_main(void* unused) {
    (void)unused;
    struct pollfd fds[2] = {{.fd = g_watch, .events = POLLIN}, {.fd = g_wake, .events = POLLIN}};
    int64_t next_reap = now_ms() + REAP_INTERVAL_MS;
    for (;;) {
        int64_t wait = next_reap - now_ms();
        int n = poll(fds, 2, wait > 0 ? (int)wait : 0);
        if (n < 0 && errno != EINTR) break;
        /* On schedule, however busy the store is: a world that commits all the
         * time must still notice its dead. */
        if (now_ms() >= next_reap) {
            queue_once(&g_reap_queued, job_reap);
            next_reap = now_ms() + REAP_INTERVAL_MS;
        }
        if (n <= 0) continue;
        if (fds[1].revents) break;
        if (fds[0].revents & POLLIN) {
            tr_store_watch_drain(g_watched);
            atomic_store(&g_woken, true);
            queue_once(&g_poll_queued, job_feed_poll);
        }
    }
    return NULL;
}

int tr_feed_start(void) {
    g_generation++;
    g_dirty = false;
    g_seq = tr_store_event_last(tr_g.store);
    g_data_version = tr_store_data_version(tr_g.store);
    if (!tr_g.store->shared) return TR_OK;
    char err[TR_REASON_SIZE] = "";
    g_watched = tr_g.store;
    g_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (g_wake < 0) snprintf(err, sizeof err, "cannot make an eventfd (%s)", strerror(errno));
    if (g_wake < 0 || tr_store_watch_start(g_watched, &g_watch, err, sizeof err) != TR_OK) {
        fprintf(stderr, "timref: %s: changes from other processes will not be seen\n", err);
        tr_feed_stop();
        return TR_EIO;
    }
    atomic_store(&g_poll_queued, false);
    atomic_store(&g_reap_queued, false);
    atomic_store(&g_woken, false);
    tr_feed_reap(); /* sessions left by processes that died before we came */
    if (pthread_create(&g_watcher, NULL, watcher_main, NULL) != 0) {
        tr_feed_stop();
        return TR_EIO;
    }
    g_watching = true;
    return TR_OK;
}

void tr_feed_stop(void) {
    if (g_watching) {
        uint64_t one = 1;
        if (write(g_wake, &one, sizeof one) < 0) { /* the thread also ends on poll error */
        }
        pthread_join(g_watcher, NULL);
        g_watching = false;
    }
    if (g_watch >= 0) tr_store_watch_stop(g_watched); /* after the join: the watcher is gone */
    if (g_wake >= 0) close(g_wake);
    g_watch = g_wake = -1;
    g_watched = NULL;
    g_generation++;
}
