/*
 * tp_queue.c - the completion queue: the C callbacks copy each completion and event into a node
 * of one mutex-protected list and signal an eventfd; Python takes the whole list with tp_drain.
 *
 * Why this shape: the library calls its callbacks on its own logic thread.  Running Python
 * there would take the GIL on that thread for every completion and let a slow Python handler
 * stall the library, so the callbacks only copy (the library's desc and json are valid only
 * while the callback runs) and link the copy in; the process's reader (tim_py's dispatcher
 * thread, or the asyncio loop) wakes on the eventfd and delivers a whole batch per wake-up.
 * The eventfd is written only when the list goes from empty to non-empty: one write per batch,
 * not per item.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tp_bridge.h"
#include "tp_internal.h"

/* The allocator of nodes.  A macro so that csrc/tests/test_bridge.c can compile this file with
 * one that fails on demand (to reach the out-of-memory path); the bridge always uses malloc. */
#ifndef TP_NODE_ALLOC
#define TP_NODE_ALLOC malloc
#endif

static pthread_mutex_t tp_mu = PTHREAD_MUTEX_INITIALIZER;
static tp_item* tp_head; /* oldest; tp_mu guards the list and the two fields below */
static tp_item* tp_tail;
static int tp_count;
static int tp_efd = -1;
static pthread_once_t tp_efd_once = PTHREAD_ONCE_INIT;
/* The static fallback node (see tp_push) and whether it is in a list now (guarded by tp_mu). */
static tp_item tp_oom_item;
static int tp_oom_used;

static void tp_make_eventfd(void) {
    tp_efd = eventfd(0, EFD_CLOEXEC);
    if (tp_efd < 0) {
        fprintf(stderr, "tim_py: eventfd failed: %s\n", strerror(errno));
    }
}

int tp_eventfd(void) {
    pthread_once(&tp_efd_once, tp_make_eventfd);
    return tp_efd;
}

static void tp_wake_fd(void) {
    uint64_t one = 1;
    int fd = tp_eventfd();
    if (fd < 0) return;
    while (write(fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

void tp_wake(void) { tp_wake_fd(); }

/* Copy one completion or event into a new node at the tail of the list. */
static void tp_push(int kind, uint64_t token, int code, const char* desc, const char* json) {
    size_t dl = desc ? strlen(desc) : 0;
    size_t jl = json ? strlen(json) : 0;
    /* one allocation: the node, then desc and json, each NUL-terminated */
    tp_item* it = TP_NODE_ALLOC(sizeof *it + dl + 1 + jl + 1);
    if (it) {
        char* d = (char*)(it + 1);
        char* j = d + dl + 1;
        if (dl) memcpy(d, desc, dl);
        d[dl] = 0;
        if (jl) memcpy(j, json, jl);
        j[jl] = 0;
        it->desc = d;
        it->json = j;
        it->desc_len = dl;
        it->json_len = jl;
        it->code = code;
    } else {
        /* Out of memory: a completion must still arrive, or its future would wait forever
         * (an event may be lost: nobody waits for one).  Try a bare node that reports
         * ERR_OUT_OF_MEMORY, then the one static node, which needs no memory at all; only
         * when that node is still in a list (undrained, or drained and not yet freed) too is
         * there nothing left but to abort. */
        if (kind != TP_KIND_CALL) return;
        it = TP_NODE_ALLOC(sizeof *it);
        if (!it) {
            pthread_mutex_lock(&tp_mu);
            int used = tp_oom_used;
            tp_oom_used = 1;
            pthread_mutex_unlock(&tp_mu);
            if (used) {
                fprintf(stderr, "tim_py: out of memory in the completion queue\n");
                abort();
            }
            it = &tp_oom_item;
        }
        it->desc = "out of memory";
        it->json = "";
        it->desc_len = strlen(it->desc);
        it->json_len = 0;
        it->code = ERR_OUT_OF_MEMORY;
    }
    it->next = NULL;
    it->kind = kind;
    it->token = token;
    pthread_mutex_lock(&tp_mu);
    int was_empty = tp_head == NULL;
    if (tp_tail) tp_tail->next = it;
    else tp_head = it;
    tp_tail = it;
    tp_count++;
    pthread_mutex_unlock(&tp_mu);
    if (was_empty) tp_wake_fd();
}

int tp_drain(tp_item** out) {
    pthread_mutex_lock(&tp_mu);
    *out = tp_head;
    int n = tp_count;
    tp_head = tp_tail = NULL;
    tp_count = 0;
    pthread_mutex_unlock(&tp_mu);
    return n;
}

void tp_free_items(tp_item* it) {
    while (it) {
        tp_item* next = it->next;
        if (it == &tp_oom_item) {
            pthread_mutex_lock(&tp_mu);
            tp_oom_used = 0;
            pthread_mutex_unlock(&tp_mu);
        } else {
            free(it);
        }
        it = next;
    }
}

/* ---- the callbacks given to the library (tp_internal.h) -------------------------------------
 *
 * user_data is the wrapper's integer token, never a pointer to a Python object: a completion
 * that arrives after its client is gone (or twice, from a broken library) can then never touch
 * freed memory; Python looks the token up in its registry and ignores one it does not know. */

void tp_on_complete(int32_t code, const char* desc, const char* json, const void* user_data) {
    tp_push(TP_KIND_CALL, (uint64_t)(uintptr_t)user_data, code, desc, json);
}

void tp_on_self_info(const char* json, const void* user_data) {
    (void)user_data;
    tp_push(TP_KIND_SELF_INFO, 0, 0, NULL, json);
}

void tp_on_user_status(const char* json, const void* user_data) {
    (void)user_data;
    tp_push(TP_KIND_USER_STATUS, 0, 0, NULL, json);
}

void tp_on_user_info(const char* json, const void* user_data) {
    (void)user_data;
    tp_push(TP_KIND_USER_INFO, 0, 0, NULL, json);
}

void tp_on_kicked_offline(const void* user_data) {
    (void)user_data;
    tp_push(TP_KIND_KICKED_OFFLINE, 0, 0, NULL, NULL);
}
