/*
 * store.c - the store interface's own part (store.h): choosing the engine,
 * and what is the same whatever the engine: the after-commit path, the
 * snapshot an event carries, and the records' helpers.  The engines are in
 * store_<engine>.c.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_internal.h"

int tr_store_open(tr_store** out, uint64_t app_id, const tr_store_config* cfg, char* err, size_t errlen) {
    *out = NULL;
    /* The one choice of engine: a URI names a PostgreSQL world, else SQLite. */
    if (cfg->url) return tr_store_pg_open(out, app_id, cfg->url, err, errlen);
    return tr_store_sqlite_open(out, app_id, cfg->dir, err, errlen);
}

int tr_store_remove(uint64_t app_id, const tr_store_config* cfg, char* err, size_t errlen) {
    if (cfg->url) return tr_store_pg_remove(app_id, cfg->url, err, errlen);
    return tr_store_sqlite_remove(app_id, cfg->dir, err, errlen);
}

/*
 * The one path after a commit: when the transaction added change events, the
 * feed of this process is marked (it delivers them, and forgets the changed
 * users' cached entries, before the job completes), and the engine wakes the
 * other processes.  Writers do nothing more.
 */
static atomic_ulong g_commits;

unsigned long tr_store_commits(void) { return atomic_load(&g_commits); }

int tr_store_begin(tr_store* st) {
    st->txn_events = false;
    if (!st->batch) return st->ops->begin(st);
    if (st->sp_open) return TR_EIO; /* a job's begin inside its own open savepoint: a bug */
    int rc = st->ops->savepoint(st);
    st->sp_open = rc == TR_OK;
    return rc;
}

int tr_store_commit(tr_store* st) {
    bool events = st->txn_events;
    if (st->batch) {
        if (!st->sp_open) return TR_EIO;
        int rc = st->ops->release(st);
        if (rc == TR_OK) {
            st->sp_open = false;
            st->txn_events = false;
            if (events) {
                st->batch_events = true;
                tr_feed_mark(); /* feed.c reads them now for its caches, delivers them after the batch */
            }
        }
        return rc;
    }
    int rc = st->ops->commit(st, events);
    if (rc == TR_OK) atomic_fetch_add(&g_commits, 1);
    if (rc == TR_OK && events) {
        st->txn_events = false;
        tr_feed_mark();
    }
    return rc;
}

void tr_store_rollback(tr_store* st) {
    st->txn_events = false;
    if (!st->batch) {
        st->ops->rollback(st);
        return;
    }
    if (st->sp_open) st->ops->rollback_to(st);
    st->sp_open = false;
}

int tr_store_batch_begin(tr_store* st) {
    st->txn_events = false;
    st->batch_events = false;
    st->sp_open = false;
    int rc = st->ops->begin(st);
    st->batch = rc == TR_OK;
    return rc;
}

int tr_store_batch_commit(tr_store* st) {
    if (st->sp_open) { /* a job left its savepoint open: undo its part */
        st->ops->rollback_to(st);
        st->sp_open = false;
    }
    int rc = st->ops->commit(st, st->batch_events);
    if (rc == TR_OK) {
        atomic_fetch_add(&g_commits, 1);
        st->batch = false;
        st->batch_events = false;
    }
    return rc;
}

void tr_store_batch_rollback(tr_store* st) {
    st->ops->rollback(st);
    st->batch = false;
    st->sp_open = false;
    st->batch_events = false;
    st->txn_events = false;
}

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
        if (tr_store_status_load(st, id, &s) == TR_OK) {
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

/* ---- the records ------------------------------------------------------------- */

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

int tr_profile_custom_load(tr_profile* p, const char* text) {
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

char* tr_profile_custom_dump(const tr_profile* p) {
    json_t* a = json_array();
    for (size_t i = 0; a && i < p->n_custom; i++)
        if (json_array_append_new(a, json_pack("[ss]", p->custom[i].key, p->custom[i].value)) != 0) {
            json_decref(a);
            a = NULL;
        }
    char* text = a ? tr_json_dump(a) : NULL;
    json_decref(a);
    return text;
}

void tr_status_clear(tr_status* s) {
    free(s->custom);
    for (size_t i = 0; i < s->n_devices; i++) free(s->devices[i]);
    free(s->devices);
    memset(s, 0, sizeof *s);
}
