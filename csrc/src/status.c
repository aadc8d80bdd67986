/* status.c - user status: its cache, get, set own custom status, and subscriptions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_internal.h"

json_t* tr_status_json(const tr_status* s) {
    json_t* dev = json_array();
    for (size_t i = 0; dev && i < s->n_devices; i++)
        if (json_array_append_new(dev, json_string(s->devices[i])) != 0) {
            json_decref(dev);
            dev = NULL;
        }
    if (!dev) return NULL;
    /* "o" takes over the reference to dev, also when packing fails. */
    return json_pack("{sssissso}", "user_status_identifier", s->id, "user_status_status_type", s->type,
                     "user_status_custom_status", s->custom ? s->custom : "",
                     "user_status_online_devices", dev);
}

/* ---- cache: id -> status JSON text ----------------------------------------------- */

typedef struct sentry {
    tr_map_entry base;
    char* text;
} sentry;

#define STATUS_CACHE_MAX_BYTES (16u << 20)

static void sentry_free(tr_map_entry* base) {
    free(((sentry*)base)->text);
    free(base);
}

static tr_map g_cache = TR_MAP_INIT(STATUS_CACHE_MAX_BYTES, sentry_free);

void tr_status_cache_forget(const char* id) { tr_map_del(&g_cache, id); }
void tr_status_cache_reset(void) { tr_map_clear(&g_cache); }

/* Put a loaded status in the cache (its text in *out). */
static int cache_put(const tr_status* st, const char** out) {
    json_t* j = tr_status_json(st);
    char* text = j ? tr_json_dump(j) : NULL;
    json_decref(j);
    sentry* e = text ? calloc(1, sizeof *e) : NULL;
    if (!e) {
        free(text);
        return TR_ENOMEM;
    }
    e->text = text;
    snprintf(e->base.key, sizeof e->base.key, "%s", st->id);
    e->base.bytes = sizeof *e + strlen(text) + 1;
    if (!tr_map_put(&g_cache, &e->base)) {
        sentry_free(&e->base);
        return TR_ENOMEM;
    }
    if (out) *out = e->text;
    return TR_OK;
}

int tr_status_text(const char* id, const char** out) {
    sentry* e = (sentry*)tr_map_get(&g_cache, id);
    if (e) {
        *out = e->text;
        return TR_OK;
    }
    tr_status st;
    int rc = tr_store_status_load(tr_g.store, id, &st);
    if (rc != TR_OK) return rc;
    rc = cache_put(&st, out);
    tr_status_clear(&st);
    return rc;
}

/*
 * The cache misses among ids, read from the store at once (one round trip on a
 * server) and put in the cache; ids is then left with the IDs that have an
 * account, in their order (*n shrinks).
 */
static int cache_fill(const char** ids, size_t* n) {
    if (*n == 0) return TR_OK;
    const char** miss = malloc(*n * sizeof *miss);
    tr_status* got = calloc(*n, sizeof *got);
    bool* found = calloc(*n, sizeof *found);
    size_t m = 0;
    int rc = miss && got && found ? TR_OK : TR_ENOMEM;
    for (size_t i = 0; rc == TR_OK && i < *n; i++)
        if (!tr_map_get(&g_cache, ids[i])) miss[m++] = ids[i];
    if (rc == TR_OK && m > 0) rc = tr_store_status_load_many(tr_g.store, miss, m, got, found);
    for (size_t i = 0; rc == TR_OK && i < m; i++)
        if (found[i]) rc = cache_put(&got[i], NULL);
    if (rc == TR_OK && m > 0) { /* drop the IDs without an account */
        size_t k = 0, mi = 0;
        for (size_t i = 0; i < *n; i++) {
            bool missing = mi < m && miss[mi] == ids[i] && !found[mi++];
            if (!missing) ids[k++] = ids[i];
        }
        *n = k;
    }
    for (size_t i = 0; got && i < m; i++) tr_status_clear(&got[i]);
    free(miss);
    free(got);
    free(found);
    return rc;
}

void tr_job_get_status(tr_job* j, tr_result* r) {
    if (json_array_size(j->arg) == 0)
        return (void)tr_fail(r, ERR_INVALID_PARAMETERS, "the identifier array is empty");
    const char** ids;
    size_t n;
    if (tr_id_list(j->arg, TR_MAX_STATUS_IDS, true, &ids, &n, r) != ERR_SUCC) return;
    int rc = cache_fill(ids, &n);
    if (rc != TR_OK) tr_store_fail(r, rc);
    else tr_answer_texts(r, ids, n, tr_status_text);
    free(ids);
}

int tr_custom_status_check(const json_t* v, const char* name, tr_result* r) {
    if (!v) return tr_fail(r, ERR_INVALID_PARAMETERS, "%s is missing", name);
    if (!json_is_string(v)) return tr_fail(r, ERR_INVALID_PARAMETERS, "%s must be a string", name);
    if (json_string_length(v) > TR_MAX_CUSTOM_STATUS_LEN)
        return tr_fail(r, ERR_INVALID_PARAMETERS, "%s: %zu bytes, at most %d", name, json_string_length(v),
                       TR_MAX_CUSTOM_STATUS_LEN);
    return ERR_SUCC;
}

void tr_job_set_self_status(tr_job* j, tr_result* r) {
    const json_t* v = json_object_get(j->arg, "user_status_custom_status");
    if (tr_custom_status_check(v, "user_status_custom_status", r) != ERR_SUCC) return;
    tr_store* st = tr_g.store;
    int rc = tr_store_begin(st);
    if (rc == TR_OK) rc = tr_store_status_set(st, tr_g.user_id, -1, json_string_value(v));
    if (rc == TR_NOTFOUND) { /* account deleted by the admin while logged in */
        rc = tr_store_account_ensure(st, tr_g.user_id, NULL);
        if (rc == TR_OK) rc = tr_store_status_set(st, tr_g.user_id, -1, json_string_value(v));
    }
    if (rc == TR_OK) rc = tr_store_event_add(st, TR_EVT_STATUS, tr_g.user_id, tr_origin_self());
    if (tr_commit(rc, r) == ERR_SUCC) tr_succeed(r, NULL);
}

/* ---- subscriptions ------------------------------------------------------------ */

bool tr_sublist_has(const tr_sublist* l, const char* id) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->ids[i], id) == 0) return true;
    return false;
}

static void sublist_remove_at(tr_sublist* l, size_t i) {
    memmove(l->ids[i], l->ids[i + 1], (l->n - i - 1) * sizeof l->ids[0]);
    l->n--;
}

static void subscribe(tr_sublist* l, tr_job* j, tr_result* r) {
    if (json_array_size(j->arg) == 0)
        return (void)tr_fail(r, ERR_INVALID_PARAMETERS, "the identifier array is empty");
    const char** ids;
    size_t n;
    if (tr_id_list(j->arg, (size_t)-1, false, &ids, &n, r) != ERR_SUCC) return;
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], tr_g.user_id) == 0) {
            free(ids);
            return (void)tr_fail(r, ERR_INVALID_PARAMETERS, "cannot subscribe to yourself (%s)", tr_g.user_id);
        }
    for (size_t i = 0; i < n; i++) {
        if (tr_sublist_has(l, ids[i])) continue;
        if (l->n == TR_MAX_SUBS) sublist_remove_at(l, 0); /* evict the earliest */
        snprintf(l->ids[l->n++], sizeof l->ids[0], "%s", ids[i]);
    }
    free(ids);
    tr_succeed(r, NULL);
}

static void unsubscribe(tr_sublist* l, tr_job* j, tr_result* r) {
    if (!j->arg || json_array_size(j->arg) == 0) {
        l->n = 0;
        return tr_succeed(r, NULL);
    }
    const char** ids;
    size_t n;
    if (tr_id_list(j->arg, (size_t)-1, false, &ids, &n, r) != ERR_SUCC) return;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < l->n; k++)
            if (strcmp(l->ids[k], ids[i]) == 0) {
                sublist_remove_at(l, k);
                break;
            }
    free(ids);
    tr_succeed(r, NULL);
}

void tr_job_subscribe_status(tr_job* j, tr_result* r) { subscribe(&tr_g.status_subs, j, r); }
void tr_job_unsubscribe_status(tr_job* j, tr_result* r) { unsubscribe(&tr_g.status_subs, j, r); }
void tr_job_subscribe_info(tr_job* j, tr_result* r) { subscribe(&tr_g.info_subs, j, r); }
void tr_job_unsubscribe_info(tr_job* j, tr_result* r) { unsubscribe(&tr_g.info_subs, j, r); }
