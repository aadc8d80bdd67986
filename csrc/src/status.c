/* status.c - user status: get, set own custom status, and subscriptions. */
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

static int store_error(tr_result* r, int rc) {
    if (rc == TR_ENOMEM) return tr_fail(r, ERR_OUT_OF_MEMORY, "out of memory");
    return tr_fail(r, ERR_IO_OPERATION_FAILED, "store: %s", tr_store_errmsg(tr_g.store));
}

void tr_job_get_status(tr_job* j, tr_result* r) {
    if (json_array_size(j->arg) == 0)
        return (void)tr_fail(r, ERR_INVALID_PARAMETERS, "the identifier array is empty");
    const char** ids;
    size_t n;
    if (tr_id_list(j->arg, TR_MAX_STATUS_IDS, true, &ids, &n, r) != ERR_SUCC) return;
    json_t* out = json_array();
    if (!out) {
        free(ids);
        return (void)tr_fail(r, ERR_OUT_OF_MEMORY, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        tr_status s;
        int rc = tr_store_status_load(tr_g.store, ids[i], &s);
        if (rc == TR_NOTFOUND) continue;
        if (rc != TR_OK) {
            free(ids);
            json_decref(out);
            return (void)store_error(r, rc);
        }
        json_t* o = tr_status_json(&s);
        tr_status_clear(&s);
        if (!o || json_array_append_new(out, o) != 0) {
            free(ids);
            json_decref(out);
            return (void)tr_fail(r, ERR_OUT_OF_MEMORY, "out of memory");
        }
    }
    free(ids);
    if (json_array_size(out) == 0) {
        json_decref(out);
        return (void)tr_fail(r, ERR_SVR_PROFILE_ACCOUNT_NOT_FOUND, "none of the requested accounts exists");
    }
    tr_succeed_json(r, out);
}

void tr_job_set_self_status(tr_job* j, tr_result* r) {
    const json_t* v = json_object_get(j->arg, "user_status_custom_status");
    if (!v) return (void)tr_fail(r, ERR_INVALID_PARAMETERS, "user_status_custom_status is missing");
    if (!json_is_string(v))
        return (void)tr_fail(r, ERR_INVALID_PARAMETERS, "user_status_custom_status must be a string");
    if (json_string_length(v) > TR_MAX_CUSTOM_STATUS_LEN)
        return (void)tr_fail(r, ERR_INVALID_PARAMETERS, "user_status_custom_status: %zu bytes, at most %d",
                             json_string_length(v), TR_MAX_CUSTOM_STATUS_LEN);
    tr_store* st = tr_g.store;
    int rc = tr_store_begin(st);
    if (rc == TR_OK) rc = tr_store_status_set(st, tr_g.user_id, -1, json_string_value(v));
    if (rc == TR_NOTFOUND) { /* account deleted by the admin while logged in */
        bool created;
        rc = tr_store_account_ensure(st, tr_g.user_id, &created);
        if (rc == TR_OK) rc = tr_store_status_set(st, tr_g.user_id, -1, json_string_value(v));
    }
    if (rc == TR_OK) rc = tr_store_event_add(st, TR_EVT_STATUS, tr_g.user_id, tr_origin_self());
    if (rc == TR_OK) rc = tr_store_commit(st);
    if (rc != TR_OK) {
        tr_store_rollback(st);
        return (void)store_error(r, rc);
    }
    tr_feed_mark();
    tr_succeed(r, NULL);
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
