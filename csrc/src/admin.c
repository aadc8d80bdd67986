/*
 * admin.c - the admin surface (TIMRefAdminRequest): what the vendor's server
 * does through its REST API, done here against the store.  Each API reports
 * through the job's tr_result like any call; tr_job_admin then turns that
 * result into the REST answer.  Changes notify like any other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tr_internal.h"

/* REST error codes (the vendor's) used by the account and presence APIs. */
#define REST_ERR_PARAM 70402
#define REST_ERR_NO_ACCOUNT 70107

/*
 * An API: reads its body, reports failure through r (tr_fail and the rest)
 * and, on success, may set *extra to the answer's fields beyond the status.
 */
typedef void (*api_fn)(const json_t* body, tr_result* r, json_t** extra);

/* A valid identifier from body[key], or NULL (r says why, with `code`). */
static const char* get_id(const json_t* body, const char* key, int code, tr_result* r) {
    const json_t* v = json_object_get(body, key);
    if (!json_is_string(v)) {
        tr_fail(r, code, "%s must be a string", key);
        return NULL;
    }
    if (!tr_id_valid(json_string_value(v), json_string_length(v))) {
        tr_fail(r, code, "%s is not a valid identifier (1..32 printable ASCII bytes)", key);
        return NULL;
    }
    return json_string_value(v);
}

/* body[key] if it is a non-empty array, or NULL (r says so, with `code`; `of`
 * tells what the array holds, or is ""). */
static const json_t* get_array(const json_t* body, const char* key, const char* of, int code, tr_result* r) {
    const json_t* v = json_object_get(body, key);
    if (json_is_array(v) && json_array_size(v) > 0) return v;
    tr_fail(r, code, "%s must be a non-empty array%s", key, of);
    return NULL;
}

/* ---- accounts ------------------------------------------------------------------ */

static void account_import(const json_t* body, tr_result* r, json_t** extra) {
    (void)extra;
    const char* id = get_id(body, "UserID", REST_ERR_PARAM, r);
    if (!id) return;
    static const char* const names[2] = {"Nick", "FaceUrl"};
    static const int fields[2] = {TR_F_NICK, TR_F_FACE_URL};
    const json_t* vals[2] = {json_object_get(body, names[0]), json_object_get(body, names[1])};
    for (int i = 0; i < 2; i++) {
        if (!vals[i]) continue;
        if (!json_is_string(vals[i])) return (void)tr_fail(r, REST_ERR_PARAM, "%s must be a string", names[i]);
        if (json_string_length(vals[i]) > TR_MAX_VALUE_LEN)
            return (void)tr_fail(r, REST_ERR_PARAM, "%s is longer than %d bytes", names[i], TR_MAX_VALUE_LEN);
    }
    bool named = vals[0] || vals[1], created = false;
    tr_store* st = tr_g.store;
    int rc = tr_store_begin(st);
    if (rc == TR_OK) rc = tr_store_account_ensure(st, id, &created);
    if (rc == TR_OK && named) { /* the profile as stored, read in this transaction */
        tr_profile p;
        rc = tr_store_profile_load(st, id, &p);
        for (int i = 0; i < 2 && rc == TR_OK; i++)
            if (vals[i]) rc = tr_profile_set_str(&p, fields[i], json_string_value(vals[i]));
        p.last_updated = (int64_t)time(NULL);
        if (rc == TR_OK) rc = tr_store_profile_save(st, &p);
        tr_profile_clear(&p);
    }
    if (rc == TR_OK && (created || named)) rc = tr_store_event_add(st, TR_EVT_PROFILE, id, TR_ORIGIN_ADMIN);
    tr_commit(rc, r);
}

static void multiaccount_import(const json_t* body, tr_result* r, json_t** extra) {
    const json_t* arr = get_array(body, "Accounts", " of identifiers", REST_ERR_PARAM, r);
    if (!arr) return;
    size_t i;
    const json_t* v;
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v)) return (void)tr_fail(r, REST_ERR_PARAM, "Accounts[%zu] is not a string", i);
    }
    json_t* fail = json_array();
    if (!fail) return (void)tr_store_fail(r, TR_ENOMEM);
    tr_store* st = tr_g.store;
    int rc = tr_store_begin(st);
    for (i = 0; rc == TR_OK && i < json_array_size(arr); i++) {
        v = json_array_get(arr, i);
        const char* id = json_string_value(v);
        if (!tr_id_valid(id, json_string_length(v))) { /* reported, not imported */
            json_array_append_new(fail, json_string(id));
            continue;
        }
        bool created;
        rc = tr_store_account_ensure(st, id, &created);
        if (rc == TR_OK && created) rc = tr_store_event_add(st, TR_EVT_PROFILE, id, TR_ORIGIN_ADMIN);
    }
    if (tr_commit(rc, r) == ERR_SUCC) *extra = json_pack("{so}", "FailAccounts", fail);
    else json_decref(fail);
}

static void account_delete(const json_t* body, tr_result* r, json_t** extra) {
    const json_t* arr = get_array(body, "DeleteItem", " of {\"UserID\"}", REST_ERR_PARAM, r);
    if (!arr) return;
    size_t i;
    const json_t* item;
    json_array_foreach(arr, i, item) {
        const json_t* id = json_object_get(item, "UserID");
        if (!json_is_string(id) || !tr_id_valid(json_string_value(id), json_string_length(id)))
            return (void)tr_fail(r, REST_ERR_PARAM, "DeleteItem[%zu].UserID is not a valid identifier", i);
    }
    json_t* results = json_array();
    if (!results) return (void)tr_store_fail(r, TR_ENOMEM);
    tr_store* st = tr_g.store;
    int rc = tr_store_begin(st);
    for (i = 0; rc == TR_OK && i < json_array_size(arr); i++) {
        const char* id = json_string_value(json_object_get(json_array_get(arr, i), "UserID"));
        rc = tr_store_account_delete(st, id);
        bool deleted = rc == TR_OK;
        if (deleted) rc = tr_store_event_add(st, TR_EVT_PROFILE, id, TR_ORIGIN_ADMIN);
        if (deleted && rc == TR_OK) rc = tr_store_event_add(st, TR_EVT_STATUS, id, TR_ORIGIN_ADMIN);
        if (rc == TR_NOTFOUND) rc = TR_OK; /* answered in its item */
        json_array_append_new(results, json_pack("{sissss}", "ResultCode", deleted ? 0 : REST_ERR_NO_ACCOUNT,
                                                 "ResultInfo", deleted ? "" : "account does not exist", "UserID", id));
    }
    if (tr_commit(rc, r) == ERR_SUCC) *extra = json_pack("{so}", "ResultItem", results);
    else json_decref(results);
}

/* ---- profiles ------------------------------------------------------------------ */

/* REST value of a field: enum names as strings, numbers, strings. */
static json_t* tag_value(const tr_profile* p, const tr_field_desc* d) {
    if (d->is_string) return json_string(p->str[d->field] ? p->str[d->field] : "");
    uint32_t v = p->num[d->field];
    if (d->names) {
        size_t n = 0;
        while (d->names[n]) n++;
        return json_string(v < n ? d->names[v] : d->names[0]);
    }
    return json_integer(v);
}

/* Set a REST tag's value in the profile: the SDK's checks, enum names allowed. */
static int set_tag(tr_profile* p, const char* tag, const json_t* v, tr_result* r) {
    const tr_field_desc* d = tr_field_find(tag, true);
    if (d) return tr_field_set(p, d, v, tag, true, r);
    if (strncmp(tag, TR_CUSTOM_PREFIX, TR_CUSTOM_PREFIX_LEN) != 0)
        return tr_fail(r, ERR_SVR_PROFILE_TAG_NOT_FOUND, "unknown tag %.64s", tag);
    /* A custom tag: through a one-entry list, as the SDK call would send it. */
    json_t* one = json_pack("[{sssO}]", "user_profile_custom_string_info_key", tag,
                            "user_profile_custom_string_info_value", v);
    int rc = one ? tr_profile_apply_custom(p, one, tag, r) : tr_store_fail(r, TR_ENOMEM);
    json_decref(one);
    return rc;
}

static void portrait_set(const json_t* body, tr_result* r, json_t** extra) {
    (void)extra;
    const char* id = get_id(body, "From_Account", ERR_SVR_PROFILE_INVALID_PARAMETERS, r);
    if (!id) return;
    const json_t* items = get_array(body, "ProfileItem", "", ERR_SVR_PROFILE_INVALID_PARAMETERS, r);
    if (!items) return;
    const tr_profile* cur;
    int rc = tr_profile_get(id, &cur);
    if (rc == TR_NOTFOUND)
        return (void)tr_fail(r, ERR_SVR_PROFILE_ACCOUNT_NOT_FOUND, "account %s does not exist", id);
    tr_profile p;
    if (rc != TR_OK || (rc = tr_profile_copy(&p, cur)) != TR_OK) return (void)tr_store_fail(r, rc);
    for (size_t i = 0; rc == ERR_SUCC && i < json_array_size(items); i++) {
        const json_t* item = json_array_get(items, i);
        const json_t* tag = json_object_get(item, "Tag");
        const json_t* val = json_object_get(item, "Value");
        if (!json_is_string(tag) || !val)
            rc = tr_fail(r, ERR_SVR_PROFILE_INVALID_PARAMETERS, "ProfileItem[%zu] needs Tag (string) and Value", i);
        else
            rc = set_tag(&p, json_string_value(tag), val, r);
    }
    if (rc == ERR_SUCC) {
        p.last_updated = (int64_t)time(NULL);
        tr_profile_commit(&p, false, TR_ORIGIN_ADMIN, r);
    }
    tr_profile_clear(&p);
}

/* The ProfileItem list of one account: the tags asked, unset custom fields left out. */
static json_t* tag_items(const tr_profile* p, const json_t* tags) {
    json_t* items = json_array();
    size_t k;
    const json_t* t;
    json_array_foreach(tags, k, t) {
        const char* s = json_string_value(t);
        const tr_field_desc* d = tr_field_find(s, true);
        json_t* v = NULL;
        if (d) v = tag_value(p, d);
        for (size_t c = 0; !d && !v && c < p->n_custom; c++)
            if (strcmp(p->custom[c].key, s) == 0) v = json_string(p->custom[c].value);
        if (v) json_array_append_new(items, json_pack("{ssso}", "Tag", s, "Value", v));
    }
    return items;
}

static void portrait_get(const json_t* body, tr_result* r, json_t** extra) {
    const json_t* to = get_array(body, "To_Account", "", ERR_SVR_PROFILE_INVALID_PARAMETERS, r);
    const json_t* tags = to ? get_array(body, "TagList", "", ERR_SVR_PROFILE_INVALID_PARAMETERS, r) : NULL;
    if (!tags) return;
    size_t i;
    const json_t* t;
    json_array_foreach(tags, i, t) {
        if (!json_is_string(t))
            return (void)tr_fail(r, ERR_SVR_PROFILE_INVALID_PARAMETERS, "TagList[%zu] is not a string", i);
        const char* s = json_string_value(t);
        char full[TR_CUSTOM_KEY_SIZE];
        bool custom = strncmp(s, TR_CUSTOM_PREFIX, TR_CUSTOM_PREFIX_LEN) == 0 && tr_custom_key_full(s, full);
        if (!tr_field_find(s, true) && !custom)
            return (void)tr_fail(r, ERR_SVR_PROFILE_TAG_NOT_FOUND, "unknown tag %.64s", s);
    }
    json_t* out = json_array();
    if (!out) tr_store_fail(r, TR_ENOMEM);
    for (i = 0; r->code == ERR_SUCC && i < json_array_size(to); i++) {
        const json_t* a = json_array_get(to, i);
        const char* id = json_string_value(a);
        const tr_profile* p = NULL;
        int rc = TR_OK;
        if (!id || !tr_id_valid(id, json_string_length(a)))
            tr_fail(r, ERR_SVR_PROFILE_INVALID_PARAMETERS, "To_Account[%zu] is not a valid identifier", i);
        else if ((rc = tr_profile_get(id, &p)) != TR_OK && rc != TR_NOTFOUND)
            tr_store_fail(r, rc);
        else
            json_array_append_new(out, json_pack("{sssosiss}", "To_Account", id, "ProfileItem",
                                                 rc == TR_OK ? tag_items(p, tags) : json_array(), "ResultCode",
                                                 rc == TR_OK ? 0 : ERR_SVR_PROFILE_ACCOUNT_NOT_FOUND, "ResultInfo",
                                                 rc == TR_OK ? "" : "account does not exist"));
    }
    if (r->code != ERR_SUCC) {
        json_decref(out);
        return;
    }
    *extra = json_pack("{so}", "UserProfileItem", out);
}

/* ---- presence ------------------------------------------------------------------- */

static void query_online_status(const json_t* body, tr_result* r, json_t** extra) {
    const json_t* to = get_array(body, "To_Account", "", REST_ERR_PARAM, r);
    if (!to) return;
    json_t* res = json_array();
    json_t* errs = json_array();
    if (!res || !errs) tr_store_fail(r, TR_ENOMEM);
    for (size_t i = 0; r->code == ERR_SUCC && i < json_array_size(to); i++) {
        const json_t* a = json_array_get(to, i);
        const char* id = json_string_value(a);
        tr_status s;
        int rc = TR_OK;
        if (!id || !tr_id_valid(id, json_string_length(a)))
            tr_fail(r, REST_ERR_PARAM, "To_Account[%zu] is not a valid identifier", i);
        else if ((rc = tr_store_status_load(tr_g.store, id, &s)) == TR_NOTFOUND)
            json_array_append_new(errs, json_pack("{sssi}", "To_Account", id, "ErrorCode", REST_ERR_NO_ACCOUNT));
        else if (rc != TR_OK)
            tr_store_fail(r, rc);
        else {
            json_array_append_new(res, json_pack("{ssss}", "To_Account", id, "Status",
                                                 s.type == kTIMUserStatusType_Online ? "Online" : "Offline"));
            tr_status_clear(&s);
        }
    }
    if (r->code != ERR_SUCC) {
        json_decref(res);
        json_decref(errs);
        return;
    }
    *extra = json_pack("{soso}", "QueryResult", res, "ErrorList", errs);
}

static void set_user_status(const json_t* body, tr_result* r, json_t** extra) {
    (void)extra;
    const char* id = get_id(body, "UserID", ERR_INVALID_PARAMETERS, r);
    if (!id) return;
    const json_t* type = json_object_get(body, "StatusType");
    const json_t* custom = json_object_get(body, "CustomStatus");
    if (!json_is_integer(type) || json_integer_value(type) < 1 || json_integer_value(type) > 3)
        return (void)tr_fail(r, ERR_INVALID_PARAMETERS, "StatusType must be 1 (Online), 2 (Offline) or 3 (UnLogined)");
    if (custom && tr_custom_status_check(custom, "CustomStatus", r) != ERR_SUCC) return;
    int t = (int)json_integer_value(type);
    tr_store* st = tr_g.store;
    char token[64];
    snprintf(token, sizeof token, "admin:%s", id);
    int rc = tr_store_begin(st);
    if (rc == TR_OK) rc = tr_store_account_exists(st, id);
    if (rc == TR_NOTFOUND) {
        tr_store_rollback(st);
        return (void)tr_fail(r, REST_ERR_NO_ACCOUNT, "account %s does not exist", id);
    }
    if (rc == TR_OK) {
        if (t == kTIMUserStatusType_Online) rc = tr_store_session_add(st, token, id, tr_g.device, true, -1);
        else rc = tr_store_session_remove_simulated(st, id);
    }
    /* Online comes from the session; 2 and 3 are stored.  Custom status only when given. */
    if (rc == TR_OK && (t != kTIMUserStatusType_Online || custom))
        rc = tr_store_status_set(st, id, t == kTIMUserStatusType_Online ? -1 : t,
                                 custom ? json_string_value(custom) : NULL);
    if (rc == TR_OK) rc = tr_store_event_add(st, TR_EVT_STATUS, id, TR_ORIGIN_ADMIN);
    tr_commit(rc, r);
}

/* ---- dispatch and answer ------------------------------------------------------------ */

static const struct {
    const char* api;
    api_fn fn;
} k_apis[] = {
    {"v4/im_open_login_svc/account_import", account_import},
    {"v4/im_open_login_svc/multiaccount_import", multiaccount_import},
    {"v4/im_open_login_svc/account_delete", account_delete},
    {"v4/profile/portrait_get", portrait_get},
    {"v4/profile/portrait_set", portrait_set},
    {"v4/openim/query_online_status", query_online_status},
    {"ref/set_user_status", set_user_status},
};

/*
 * The REST answer of a result: {"ActionStatus", "ErrorCode", "ErrorInfo"}
 * from r's code and desc, then the extra fields of a success (stolen), as
 * json_params; code and desc stay r's.
 */
static void rest_answer(tr_result* r, json_t* extra) {
    json_t* o = json_pack("{sssiss}", "ActionStatus", r->code ? "FAIL" : "OK", "ErrorCode", r->code, "ErrorInfo",
                          r->desc);
    if (o && extra && r->code == ERR_SUCC) json_object_update(o, extra);
    json_decref(extra);
    char* text = o ? tr_json_dump(o) : NULL;
    json_decref(o);
    if (!text) return (void)tr_store_fail(r, TR_ENOMEM);
    free(r->json);
    r->json = text;
}

void tr_job_admin(tr_job* j, tr_result* r) {
    const char* api = j->s1;
    if (*api == '/') api++;
    size_t i = 0, n = sizeof k_apis / sizeof k_apis[0];
    while (i < n && strcmp(k_apis[i].api, api) != 0) i++;
    json_t* extra = NULL;
    if (i < n) k_apis[i].fn(j->arg, r, &extra);
    else tr_fail(r, ERR_INVALID_PARAMETERS, "unknown api \"%.64s\"", api);
    rest_answer(r, extra);
}
