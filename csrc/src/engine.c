/*
 * engine.c - the logic thread: one FIFO of jobs, run in order, each
 * completed with exactly one callback; and the event callback registry.
 *
 * The thread starts with the first job and ends in TIMUninit (called off the
 * logic thread) or when the library is unloaded; a call made afterwards
 * starts a new one, so calls before TIMInit or after TIMUninit are answered
 * from it too.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_internal.h"

/* Adaptive: a caller queueing a job and the logic thread taking one each hold g_mu for a few
 * instructions, so a thread that finds it taken spins a little instead of sleeping in the
 * kernel (which costs the other a futex wake-up system call when it unlocks). */
static pthread_mutex_t g_mu = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
static pthread_cond_t g_work = PTHREAD_COND_INITIALIZER;  /* a job was queued     */
static pthread_cond_t g_sync = PTHREAD_COND_INITIALIZER;  /* a sync job finished  */
static tr_job *g_head, *g_tail;
/* Jobs ever queued (tr_submit), read without g_mu by the logic thread's short wait below. */
static unsigned long g_queued;
static bool g_running, g_stop;
static pthread_t g_thread;
static bool g_joinable; /* g_thread was created and nobody has taken it to join */
static _Thread_local bool t_logic;

static pthread_mutex_t g_ev_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    void* fn;
    const void* ud;
} g_ev[TR_EV_COUNT];

tr_job* tr_job_new(tr_run_fn run, unsigned needs, TIMCommCallback cb, const void* ud) {
    tr_job* j = calloc(1, sizeof *j);
    if (!j) return NULL;
    j->run = run;
    j->needs = needs;
    j->cb = cb;
    j->ud = ud;
    j->err_json = "";
    return j;
}

void tr_job_free(tr_job* j) {
    if (!j) return;
    json_decref(j->arg);
    free(j->s1);
    free(j->s2);
    free(j);
}

bool tr_on_logic_thread(void) { return t_logic; }

bool tr_engine_running(void) {
    pthread_mutex_lock(&g_mu);
    bool running = g_running;
    pthread_mutex_unlock(&g_mu);
    return running;
}

/* Run one job (not a sync one): its outcome goes to r. */
static void run_job(tr_job* j, tr_result* r) {
    if (j->pre_code) {
        r->code = j->pre_code;
        snprintf(r->desc, sizeof r->desc, "%s",
                 j->pre_code == ERR_SDK_COMM_INTERRUPT ? "interrupted by TIMUninit"
                 : j->pre_code == ERR_SDK_NET_PKG_SIZE_LIMIT ? "request larger than 1 MiB"
                                                              : "refused");
    } else if ((j->needs & TR_NEED_INIT) && !tr_g.initialized) {
        tr_fail(r, ERR_SDK_NOT_INITIALIZED, "not initialized");
    } else {
        /* Other processes' commits first: a kick read here ends the session before the
         * login check. */
        tr_feed_sync();
        if ((j->needs & TR_NEED_LOGIN) && !tr_g.logged_in) tr_fail(r, ERR_SDK_NOT_LOGGED_IN, "not login");
        else j->run(j, r);
    }
}

/* Deliver a job's completion and free it. */
static void complete(tr_job* j, tr_result* r) {
    if (j->cb) {
        const char* params = r->json ? r->json : (r->code == ERR_SUCC ? "" : j->err_json);
        j->cb(r->code, r->desc, params, j->ud);
    }
    free(r->json);
    r->json = NULL;
    tr_job_free(j);
}

/* Run one job and deliver its completion. */
static void process(tr_job* j) {
    if (j->sync_fn) {
        j->sync_fn(j->sync_arg);
        pthread_mutex_lock(&g_mu);
        *j->sync_done = 1;
        pthread_cond_broadcast(&g_sync);
        pthread_mutex_unlock(&g_mu);
        free(j);
        return;
    }
    tr_result r = {.code = 0, .desc = "", .json = NULL};
    run_job(j, &r);
    /* Events this job caused go first: when a call completes, what it set off
     * in this process has been delivered. */
    tr_feed_run();
    complete(j, &r);
}

/*
 * Group commit.  When a write job is taken and more are queued behind it, the
 * consecutive queued writes (at most BATCH_MAX) run in one transaction of the
 * store (tr_store_batch_begin: each job's own transaction becomes a savepoint,
 * so a failing job undoes only its own part), which is committed once (one
 * fsync) before any of them completes.  Then, in order, each job's events and
 * its completion, as if they had run one by one.  When that commit fails, no
 * write of the batch was kept: each job that had succeeded reports the store
 * failure.  Only writes that call nobody back while they run (and the reads
 * between them) are batched; any
 * other job (init, uninit, login, logout, the feed's, interrupted ones) ends
 * the batch before it.
 */
#define BATCH_MAX 64

static bool batch_write(const tr_job* j) {
    return j && !j->sync_fn && !j->pre_code && j->cb &&
           (j->run == tr_job_modify_profile || j->run == tr_job_set_self_status);
}

/* What may join a batch a write opened: the writes, and the profile read tim_py's
 * update_my_profile queues behind each of them (it sees the batch's earlier writes:
 * same transaction, and the caches forget what each job changed). */
static bool batchable(const tr_job* j) {
    return batch_write(j) || (j && !j->sync_fn && !j->pre_code && j->cb && j->run == tr_job_get_profiles);
}

typedef struct batch_done {
    tr_job* j;
    tr_result r;
    size_t ev_to; /* the batch's events up to this job's (tr_feed_batch_mark) */
} batch_done;

/* The committed batch's completions not yet delivered (logic thread only). */
static batch_done g_done[BATCH_MAX];
static size_t g_done_n, g_done_i;

/* Deliver, in order, the batch's completions not delivered yet, each after its events.
 * Reentrant: a completion callback calling TIMUninit delivers the rest first. */
static void flush_batch(void) {
    while (g_done_i < g_done_n) {
        size_t from = g_done_i ? g_done[g_done_i - 1].ev_to : 0;
        batch_done* d = &g_done[g_done_i++];
        tr_feed_batch_deliver(from, d->ev_to);
        complete(d->j, &d->r);
    }
}

static void run_batch(tr_job* j) {
    tr_store* st = tr_g.store;
    tr_feed_sync(); /* other processes' commits first, as before any job */
    if (tr_store_batch_begin(st) != TR_OK) {
        process(j);
        return;
    }
    tr_feed_batch_begin();
    g_done_n = g_done_i = 0;
    while (j) {
        batch_done* d = &g_done[g_done_n++];
        d->j = j;
        d->r = (tr_result){.code = 0, .desc = "", .json = NULL};
        run_job(j, &d->r);
        d->ev_to = tr_feed_batch_mark();
        j = NULL;
        if (g_done_n == BATCH_MAX || !tr_g.initialized || tr_g.store != st) break;
        pthread_mutex_lock(&g_mu);
        if (batchable(g_head)) {
            j = g_head;
            g_head = j->next;
            if (!g_head) g_tail = NULL;
        }
        pthread_mutex_unlock(&g_mu);
    }
    int rc = tr_store_batch_commit(st);
    if (rc == TR_OK) {
        tr_feed_batch_commit();
    } else {
        tr_result e = {.code = 0, .desc = "", .json = NULL};
        tr_store_fail(&e, rc); /* before the rollback, which would replace the engine's message */
        tr_store_batch_rollback(st);
        tr_feed_batch_abort();
        for (size_t i = 0; i < g_done_n; i++) {
            if (g_done[i].r.code != ERR_SUCC) continue; /* its own failure stands */
            free(g_done[i].r.json);
            g_done[i].r = e;
        }
    }
    flush_batch();
    tr_feed_batch_done();
}

/*
 * With g_mu held and nothing queued: before sleeping on g_work, yield the CPU a few times
 * (about IDLE_YIELDS system calls, tens of microseconds) in case a caller is queueing a stream
 * of calls.  A caller that queues while the logic thread sleeps pays a futex wake-up in
 * pthread_cond_signal and then waits for the thread to be scheduled (tens of microseconds
 * on another CPU of a VM); one that queues while it is still looking pays neither.  Yielding,
 * not spinning: on one CPU, the caller runs meanwhile.  Only after a job, so an idle client
 * costs nothing.
 */
#define IDLE_YIELDS 32

static void wait_briefly_locked(void) {
    unsigned long seen = __atomic_load_n(&g_queued, __ATOMIC_ACQUIRE);
    pthread_mutex_unlock(&g_mu);
    for (int i = 0; i < IDLE_YIELDS && __atomic_load_n(&g_queued, __ATOMIC_ACQUIRE) == seen; i++)
        sched_yield();
    pthread_mutex_lock(&g_mu);
}

static void* logic_main(void* unused) {
    (void)unused;
    t_logic = true;
    for (;;) {
        pthread_mutex_lock(&g_mu);
        if (!g_head && !g_stop) wait_briefly_locked();
        while (!g_head && !g_stop) pthread_cond_wait(&g_work, &g_mu);
        tr_job* j = g_head;
        if (!j) { /* stopping and idle: the next submit starts a new thread */
            g_running = false;
            pthread_mutex_unlock(&g_mu);
            break;
        }
        g_head = j->next;
        if (!g_head) g_tail = NULL;
        bool batch = batch_write(j) && batchable(g_head); /* a batch starts with a write */
        pthread_mutex_unlock(&g_mu);
        if (batch && tr_g.initialized && tr_g.store) run_batch(j);
        else process(j);
        tr_feed_run();
    }
    return NULL;
}

/* With g_mu held: make sure the thread runs. */
static void ensure_thread_locked(void) {
    if (g_running) return;
    int rc = pthread_create(&g_thread, NULL, logic_main, NULL);
    if (rc != 0) {
        fprintf(stderr, "timref: cannot start the logic thread: %s\n", strerror(rc));
        abort();
    }
    g_running = true;
    g_joinable = true;
    g_stop = false;
}

void tr_submit(tr_job* j) {
    j->next = NULL;
    pthread_mutex_lock(&g_mu);
    ensure_thread_locked();
    if (g_tail) g_tail->next = j;
    else g_head = j;
    g_tail = j;
    __atomic_add_fetch(&g_queued, 1, __ATOMIC_RELEASE);
    pthread_cond_signal(&g_work);
    pthread_mutex_unlock(&g_mu);
}


void tr_run_sync(void (*fn)(void*), void* arg) {
    if (t_logic) {
        fn(arg);
        return;
    }
    tr_job* j = calloc(1, sizeof *j);
    int done = 0;
    if (!j) {
        /* No memory for a job: run here, serialized against nothing better. */
        fn(arg);
        return;
    }
    j->sync_fn = fn;
    j->sync_arg = arg;
    j->sync_done = &done;
    tr_submit(j);
    pthread_mutex_lock(&g_mu);
    while (!done) pthread_cond_wait(&g_sync, &g_mu);
    pthread_mutex_unlock(&g_mu);
}

void tr_interrupt_pending(void) {
    pthread_mutex_lock(&g_mu);
    for (tr_job* j = g_head; j; j = j->next)
        if (j->cb && !j->sync_fn && !j->pre_code) j->pre_code = ERR_SDK_COMM_INTERRUPT;
    pthread_mutex_unlock(&g_mu);
}

void tr_drain_interrupted(void) {
    /* A committed batch's completions come first: they were queued before. */
    flush_batch();
    /* Complete, in order, every queued job marked interrupted. */
    for (;;) {
        pthread_mutex_lock(&g_mu);
        tr_job *prev = NULL, *j = g_head;
        while (j && j->pre_code != ERR_SDK_COMM_INTERRUPT) {
            prev = j;
            j = j->next;
        }
        if (j) {
            if (prev) prev->next = j->next;
            else g_head = j->next;
            if (g_tail == j) g_tail = prev;
        }
        pthread_mutex_unlock(&g_mu);
        if (!j) break;
        process(j);
    }
}

void tr_event_set(int kind, void* fn, const void* ud) {
    pthread_mutex_lock(&g_ev_mu);
    g_ev[kind].fn = fn;
    g_ev[kind].ud = fn ? ud : NULL;
    pthread_mutex_unlock(&g_ev_mu);
}

void tr_event_fire(int kind, const char* json) {
    pthread_mutex_lock(&g_ev_mu);
    void* fn = g_ev[kind].fn;
    const void* ud = g_ev[kind].ud;
    pthread_mutex_unlock(&g_ev_mu);
    if (!fn) return;
    switch (kind) {
    case TR_EV_SELF_INFO: ((TIMSelfInfoUpdatedCallback)fn)(json, ud); break;
    case TR_EV_USER_STATUS: ((TIMUserStatusChangedCallback)fn)(json, ud); break;
    case TR_EV_USER_INFO: ((TIMUserInfoChangedCallback)fn)(json, ud); break;
    case TR_EV_KICKED: ((TIMKickedOfflineCallback)fn)(ud); break;
    default: break;
    }
}

/* A forked child has no logic thread: start afresh (the parent's jobs are not ours). */
static void atfork_child(void) {
    pthread_mutex_init(&g_mu, NULL);
    pthread_cond_init(&g_work, NULL);
    pthread_cond_init(&g_sync, NULL);
    pthread_mutex_init(&g_ev_mu, NULL);
    g_head = g_tail = NULL;
    g_running = false;
    g_joinable = false;
    g_stop = false;
    t_logic = false;
    memset(&tr_g, 0, sizeof tr_g); /* the parent's store and session stay the parent's */
    tr_snapshot_set(NULL);
}

static void atfork_prepare(void) { pthread_mutex_lock(&g_mu); }
static void atfork_parent(void) { pthread_mutex_unlock(&g_mu); }

__attribute__((constructor)) static void engine_load(void) {
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Stop the logic thread once what is queued is done, and join it. */
void tr_engine_stop(void) {
    pthread_mutex_lock(&g_mu);
    if (!g_joinable || t_logic) {
        pthread_mutex_unlock(&g_mu);
        return;
    }
    pthread_t t = g_thread;
    g_joinable = false; /* this caller joins it; a concurrent one returns */
    g_stop = true;
    pthread_cond_signal(&g_work);
    pthread_mutex_unlock(&g_mu);
    pthread_join(t, NULL);
}
