/*
 * map.c - a string-keyed hash map for the caches, with a byte budget.
 *
 * Entries are intrusive (a tr_map_entry first in the caller's struct).  When
 * the bytes held pass the budget, whole bucket chains are evicted in clock
 * order until the map fits again: cheap, and close enough to fair for caches
 * whose misses cost one indexed SQLite read.  Logic thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "tr_internal.h"

static uint64_t hash_key(const char* s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

tr_map_entry* tr_map_get(tr_map* m, const char* key) {
    if (!m->buckets) return NULL;
    for (tr_map_entry* e = m->buckets[hash_key(key) & (m->nbuckets - 1)]; e; e = e->next)
        if (strcmp(e->key, key) == 0) return e;
    return NULL;
}

static void unlink_free(tr_map* m, tr_map_entry** pp) {
    tr_map_entry* e = *pp;
    *pp = e->next;
    m->count--;
    m->bytes -= e->bytes;
    m->free_fn(e);
}

void tr_map_del(tr_map* m, const char* key) {
    if (!m->buckets) return;
    tr_map_entry** pp = &m->buckets[hash_key(key) & (m->nbuckets - 1)];
    while (*pp && strcmp((*pp)->key, key) != 0) pp = &(*pp)->next;
    if (*pp) unlink_free(m, pp);
}

void tr_map_clear(tr_map* m) {
    for (size_t i = 0; i < m->nbuckets; i++)
        while (m->buckets[i]) unlink_free(m, &m->buckets[i]);
    free(m->buckets);
    m->buckets = NULL;
    m->nbuckets = m->count = m->bytes = m->sweep = 0;
}

static void grow(tr_map* m) {
    size_t n = m->nbuckets ? m->nbuckets * 2 : 256;
    tr_map_entry** b = calloc(n, sizeof *b);
    if (!b) return; /* keep the old table: chains just get longer */
    for (size_t i = 0; i < m->nbuckets; i++) {
        tr_map_entry* e = m->buckets[i];
        while (e) {
            tr_map_entry* next = e->next;
            size_t k = hash_key(e->key) & (n - 1);
            e->next = b[k];
            b[k] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    m->sweep = 0;
}

/* Evict chains in clock order (sparing `keep`) until the budget holds. */
static void evict(tr_map* m, const tr_map_entry* keep) {
    size_t visited = 0;
    while (m->bytes > m->max_bytes && visited++ < m->nbuckets) {
        tr_map_entry** pp = &m->buckets[m->sweep];
        m->sweep = (m->sweep + 1) & (m->nbuckets - 1);
        while (*pp) {
            if (*pp == keep) pp = &(*pp)->next;
            else unlink_free(m, pp);
        }
    }
}

bool tr_map_put(tr_map* m, tr_map_entry* e) {
    if (m->count >= m->nbuckets) grow(m);
    if (!m->buckets) return false;
    tr_map_del(m, e->key);
    tr_map_entry** head = &m->buckets[hash_key(e->key) & (m->nbuckets - 1)];
    e->next = *head;
    *head = e;
    m->count++;
    m->bytes += e->bytes;
    evict(m, e);
    return true;
}

void tr_map_add_bytes(tr_map* m, tr_map_entry* e, size_t bytes) {
    e->bytes += bytes;
    m->bytes += bytes;
    evict(m, e);
}
