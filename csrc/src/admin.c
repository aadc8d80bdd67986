/*
 * admin.c - the admin surface (TIMRefAdminRequest): what the vendor's server
 * does through its REST API, done here against the store.  Each API reports
 * through the job's tr_result like any call; tr_job_admin then turns that
 * result into the REST answer.  Changes notify like any other.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tr_internal.h"

/* REST error codes (the vendor's) used by the account and presence APIs. */
#define REST_ERR_PARAM 70402
#define REST_ERR_NO_ACCOUNT 70107
#define REST_ERR_TOO_MANY_TO_ACCOUNT 90011 /* query_online_status: more than 500 To_Account */

/*
 * An API: reads its body, reports failure through r (tr_fail and the rest)
 * and may set *extra to the answer's fields beyond the status (on success, or
 * on a failure that still answers them, query_online_status's).
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

/* A per-call limit, checked once the entries are well formed: ERR_SUCC, or `code`. */
static int check_count(const json_t* arr, const char* key, size_t max, int code, tr_result* r) {
    size_t n = json_array_size(arr);
    if (n <= max) return ERR_SUCC;
    return tr_fail(r, code, "%s has %zu entries: at most %zu per call", key, n, max);
}

/* Every entry of arr a string that is an identifier: ERR_SUCC, or `code` naming the first
 * that is not. */
static int check_ids(const json_t* arr, const char* key, int code, tr_result* r) {
    size_t i;
    const json_t* v;
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v) || !tr_id_valid(json_string_value(v), json_string_length(v)))
            return tr_fail(r, code, "%s[%zu] is not a valid identifier", key, i);
    }
    return ERR_SUCC;
}

/* Every entry of arr an object {"UserID": identifier}: ERR_SUCC, or 70402 naming the first
 * that is not. */
static int check_user_items(const json_t* arr, const char* key, tr_result* r) {
    size_t i;
    const json_t* item;
    json_array_foreach(arr, i, item) {
        const json_t* id = json_object_get(item, "UserID");
        if (!json_is_string(id) || !tr_id_valid(json_string_value(id), json_string_length(id)))
            return tr_fail(r, REST_ERR_PARAM, "%s[%zu].UserID is not a valid identifier", key, i);
    }
    return ERR_SUCC;
}

static const char* item_id(const json_t* arr, size_t i) {
    return json_string_value(json_object_get(json_array_get(arr, i), "UserID"));
}

/* ---- accounts ------------------------------------------------------------------ */

/* The profile values an import may carry, in o: Nick and FaceUrl. */
static const char* const k_import_names[2] = {"Nick", "FaceUrl"};
static const int k_import_fields[2] = {TR_F_NICK, TR_F_FACE_URL};

/* Read Nick / FaceUrl of o into vals (NULL when absent): each a string of at most 500
 * bytes, or 70402 naming `where` (a prefix such as "AccountList[2].") and the key. */
static int import_values(const json_t* o, const char* where, const json_t* vals[2], tr_result* r) {
    for (int i = 0; i < 2; i++) {
        vals[i] = json_object_get(o, k_import_names[i]);
        if (!vals[i]) continue;
        if (!json_is_string(vals[i]))
            return tr_fail(r, REST_ERR_PARAM, "%s%s must be a string", where, k_import_names[i]);
        if (json_string_length(vals[i]) > TR_MAX_VALUE_LEN)
            return tr_fail(r, REST_ERR_PARAM, "%s%s is longer than %d bytes", where, k_import_names[i],
                           TR_MAX_VALUE_LEN);
    }
    return ERR_SUCC;
}

/*
 * Inside the caller's transaction: create the account when missing and set the values
 * given (an existing account gets them too), with a profile event when the account was
 * created or given values.
 */
static int import_one(tr_store* st, const char* id, const json_t* const vals[2]) {
    bool named = vals[0] || vals[1], created = false;
    int rc = tr_store_account_ensure(st, id, &created);
    if (rc == TR_OK && named) { /* the profile as stored, read in this transaction */
        tr_profile p;
        rc = tr_store_profile_load(st, id, &p);
        for (int i = 0; i < 2 && rc == TR_OK; i++)
            if (vals[i]) rc = tr_profile_set_str(&p, k_import_fields[i], json_string_value(vals[i]));
        p.last_updated = (int64_t)time(NULL);
        if (rc == TR_OK) rc = tr_store_profile_save(st, &p);
        tr_profile_clear(&p);
    }
    if (rc == TR_OK && (created || named)) rc = tr_store_event_add(st, TR_EVT_PROFILE, id, TR_ORIGIN_ADMIN);
    return rc;
}

static void account_import(const json_t* body, tr_result* r, json_t** extra) {
    (void)extra;
    const char* id = get_id(body, "UserID", REST_ERR_PARAM, r);
    const json_t* vals[2];
    if (!id || import_values(body, "", vals, r) != ERR_SUCC) return;
    tr_store* st = tr_g.store;
    int rc = tr_store_begin(st);
    if (rc == TR_OK) rc = import_one(st, id, vals);
    tr_commit(rc, r);
}

/*
 * Both forms: {"Accounts": [ids]} and {"AccountList": [{"UserID", "Nick"?, "FaceUrl"?}]}.
 * The body is judged whole before anything is written; entries whose UserID is a string but
 * not an identifier are not imported and are answered in FailAccounts.
 */
static void multiaccount_import(const json_t* body, tr_result* r, json_t** extra) {
    const json_t* accounts = json_object_get(body, "Accounts");
    const json_t* list = json_object_get(body, "AccountList");
    if (accounts && list)
        return (void)tr_fail(r, REST_ERR_PARAM, "give Accounts or AccountList, not both");
    const char* key = list ? "AccountList" : "Accounts";
    const json_t* arr = list ? get_array(body, key, " of {\"UserID\", \"Nick\"?, \"FaceUrl\"?}", REST_ERR_PARAM, r)
                             : get_array(body, key, " of identifiers", REST_ERR_PARAM, r);
    if (!arr) return;
    size_t i, n = json_array_size(arr);
    const json_t* v;
    json_array_foreach(arr, i, v) {
        if (!list) {
            if (!json_is_string(v)) return (void)tr_fail(r, REST_ERR_PARAM, "Accounts[%zu] is not a string", i);
            continue;
        }
        char where[48];
        snprintf(where, sizeof where, "AccountList[%zu].", i);
        const json_t* vals[2];
        if (!json_is_object(v)) return (void)tr_fail(r, REST_ERR_PARAM, "AccountList[%zu] is not an object", i);
        if (!json_is_string(json_object_get(v, "UserID")))
            return (void)tr_fail(r, REST_ERR_PARAM, "AccountList[%zu].UserID must be a string", i);
        if (import_values(v, where, vals, r) != ERR_SUCC) return;
    }
    if (check_count(arr, key, TR_MAX_REST_ACCOUNTS, REST_ERR_PARAM, r) != ERR_SUCC) return;
    json_t* fail = json_array();
    if (!fail) return (void)tr_store_fail(r, TR_ENOMEM);
    tr_store* st = tr_g.store;
    int rc = tr_store_begin(st);
    for (i = 0; rc == TR_OK && i < n; i++) {
        const json_t* e = json_array_get(arr, i);
        const json_t* idv = list ? json_object_get(e, "UserID") : e;
        const char* id = json_string_value(idv);
        if (!tr_id_valid(id, json_string_length(idv))) { /* reported, not imported */
            if (json_array_append_new(fail, json_string(id)) != 0) rc = TR_ENOMEM;
            continue;
        }
        const json_t* vals[2] = {NULL, NULL};
        if (list) import_values(e, "", vals, r); /* checked above: cannot fail */
        rc = import_one(st, id, vals);
    }
    if (tr_commit(rc, r) == ERR_SUCC) *extra = json_pack("{so}", "FailAccounts", fail);
    else json_decref(fail);
}

static void account_delete(const json_t* body, tr_result* r, json_t** extra) {
    const json_t* arr = get_array(body, "DeleteItem", " of {\"UserID\"}", REST_ERR_PARAM, r);
    if (!arr || check_user_items(arr, "DeleteItem", r) != ERR_SUCC ||
        check_count(arr, "DeleteItem", TR_MAX_REST_ACCOUNTS, REST_ERR_PARAM, r) != ERR_SUCC)
        return;
    json_t* results = json_array();
    if (!results) return (void)tr_store_fail(r, TR_ENOMEM);
    tr_store* st = tr_g.store;
    int rc = tr_store_begin(st);
    for (size_t i = 0; rc == TR_OK && i < json_array_size(arr); i++) {
        const char* id = item_id(arr, i);
        rc = tr_store_account_delete(st, id);
        bool deleted = rc == TR_OK;
        if (deleted) rc = tr_store_event_add(st, TR_EVT_PROFILE, id, TR_ORIGIN_ADMIN);
        if (deleted && rc == TR_OK) rc = tr_store_event_add(st, TR_EVT_STATUS, id, TR_ORIGIN_ADMIN);
        if (rc == TR_NOTFOUND) rc = TR_OK; /* answered in its item */
        if (json_array_append_new(results, json_pack("{sissss}", "ResultCode", deleted ? 0 : REST_ERR_NO_ACCOUNT,
                                                     "ResultInfo", deleted ? "" : "account does not exist",
                                                     "UserID", id)) != 0 && rc == TR_OK)
            rc = TR_ENOMEM;
    }
    if (tr_commit(rc, r) == ERR_SUCC) *extra = json_pack("{so}", "ResultItem", results);
    else json_decref(results);
}

/* {"CheckItem": [{"UserID"}]}: whether each account exists; an account that does not is no
 * error (ResultCode 0, "NotImported"). */
static void account_check(const json_t* body, tr_result* r, json_t** extra) {
    const json_t* arr = get_array(body, "CheckItem", " of {\"UserID\"}", REST_ERR_PARAM, r);
    if (!arr || check_user_items(arr, "CheckItem", r) != ERR_SUCC ||
        check_count(arr, "CheckItem", TR_MAX_REST_ACCOUNTS, REST_ERR_PARAM, r) != ERR_SUCC)
        return;
    json_t* results = json_array();
    if (!results) return (void)tr_store_fail(r, TR_ENOMEM);
    for (size_t i = 0; r->code == ERR_SUCC && i < json_array_size(arr); i++) {
        const char* id = item_id(arr, i);
        int rc = tr_store_account_exists(tr_g.store, id);
        if (rc != TR_OK && rc != TR_NOTFOUND) tr_store_fail(r, rc);
        else if (json_array_append_new(results, json_pack("{sssissss}", "UserID", id, "ResultCode", 0, "ResultInfo",
                                                          "", "AccountStatus",
                                                          rc == TR_OK ? "Imported" : "NotImported")) != 0)
            tr_store_fail(r, TR_ENOMEM);
    }
    if (r->code == ERR_SUCC) *extra = json_pack("{so}", "ResultItem", results);
    else json_decref(results);
}

/*
 * {"UserID"}: end every live session of the user, in every process (real ones and the
 * simulated one), and invalidate the UserSigs issued before now.  One transaction: the
 * kick time, the sessions removed, the user UnLogined with the custom status cleared (as
 * after a logout), the kick event naming the sessions (each one's process ends it and
 * fires TIMKickedOfflineCallback, feed.c), then the presence event for the others.
 */
static void kick(const json_t* body, tr_result* r, json_t** extra) {
    (void)extra;
    const char* id = get_id(body, "UserID", REST_ERR_PARAM, r);
    if (!id) return;
    tr_store* st = tr_g.store;
    json_t* tokens = NULL;
    int rc = tr_store_begin(st);
    if (rc == TR_OK) rc = tr_store_kick(st, id, (int64_t)time(NULL), &tokens);
    if (rc == TR_NOTFOUND) {
        tr_store_rollback(st);
        return (void)tr_fail(r, REST_ERR_NO_ACCOUNT, "account %s does not exist", id);
    }
    if (rc == TR_OK && json_array_size(tokens) > 0) {
        rc = tr_store_status_set(st, id, kTIMUserStatusType_UnLogined, "");
        json_t* data = rc == TR_OK ? json_pack("{sO}", "tokens", tokens) : NULL;
        char* text = data ? tr_json_dump(data) : NULL;
        json_decref(data);
        if (rc == TR_OK && !text) rc = TR_ENOMEM;
        if (rc == TR_OK) rc = tr_store_event_add_data(st, TR_EVT_KICK, id, TR_ORIGIN_ADMIN, text);
        if (rc == TR_OK) rc = tr_store_event_add(st, TR_EVT_PRESENCE, id, TR_ORIGIN_ADMIN);
        free(text);
    }
    json_decref(tokens);
    tr_commit(rc, r);
}

/* {"UserID", "UserSig"}: would TIMLogin accept this UserSig for this user (tr_usersig_check:
 * the app's secret key, the kicks)?  The HTTP server authenticates requests with it. */
static void check_usersig(const json_t* body, tr_result* r, json_t** extra) {
    (void)extra;
    const char* id = get_id(body, "UserID", REST_ERR_PARAM, r);
    if (!id) return;
    const json_t* sig = json_object_get(body, "UserSig");
    if (sig && !json_is_string(sig)) return (void)tr_fail(r, REST_ERR_PARAM, "UserSig must be a string");
    tr_usersig_check(id, sig ? json_string_value(sig) : NULL, r);
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
    const json_t* to = json_object_get(body, "To_Account");
    if (!to || (json_is_array(to) && json_array_size(to) == 0))
        return (void)tr_fail(r, ERR_SVR_PROFILE_ACCOUNT_MISS, "To_Account is missing or empty: no account to read");
    to = get_array(body, "To_Account", "", ERR_SVR_PROFILE_INVALID_PARAMETERS, r);
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
    if (check_ids(to, "To_Account", ERR_SVR_PROFILE_INVALID_PARAMETERS, r) != ERR_SUCC ||
        check_count(to, "To_Account", TR_MAX_PROFILE_IDS, ERR_SVR_PROFILE_INVALID_PARAMETERS, r) != ERR_SUCC)
        return;
    json_t* out = json_array();
    json_t* fail = json_array();
    if (!out || !fail) tr_store_fail(r, TR_ENOMEM);
    for (i = 0; r->code == ERR_SUCC && i < json_array_size(to); i++) {
        const char* id = json_string_value(json_array_get(to, i));
        const tr_profile* p = NULL;
        int rc = tr_profile_get(id, &p);
        if (rc != TR_OK && rc != TR_NOTFOUND) {
            tr_store_fail(r, rc);
            break;
        }
        json_t* item = json_pack("{sssosiss}", "To_Account", id, "ProfileItem",
                                 rc == TR_OK ? tag_items(p, tags) : json_array(), "ResultCode",
                                 rc == TR_OK ? 0 : ERR_SVR_PROFILE_ACCOUNT_NOT_FOUND, "ResultInfo",
                                 rc == TR_OK ? "" : "account does not exist");
        if (item && rc == TR_NOTFOUND) json_object_del(item, "ProfileItem"); /* the vendor's: none */
        if (json_array_append_new(out, item) != 0 ||
            (rc == TR_NOTFOUND && json_array_append_new(fail, json_string(id)) != 0))
            tr_store_fail(r, TR_ENOMEM);
    }
    if (r->code != ERR_SUCC) {
        json_decref(out);
        json_decref(fail);
        return;
    }
    /* Fail_Account (the vendor's spelling) only when some account failed. */
    if (json_array_size(fail) > 0) *extra = json_pack("{soso}", "UserProfileItem", out, "Fail_Account", fail);
    else {
        json_decref(fail);
        *extra = json_pack("{so}", "UserProfileItem", out);
    }
}

/* ---- presence ------------------------------------------------------------------- */

/* An optional 0/1 flag of the body (absent: 0); -1 after failing with 70402. */
static int get_flag(const json_t* body, const char* key, tr_result* r) {
    const json_t* v = json_object_get(body, key);
    if (!v) return 0;
    if (json_is_integer(v) && (json_integer_value(v) == 0 || json_integer_value(v) == 1))
        return (int)json_integer_value(v);
    tr_fail(r, REST_ERR_PARAM, "%s must be 0 or 1", key);
    return -1;
}

/* One QueryResult entry: Status, and Detail (a live session each, IsNeedDetail) and
 * CustomStatus (IsReturnCustomStatus) when asked. */
static json_t* query_entry(const tr_status* s, bool detail, bool custom) {
    bool online = s->type == kTIMUserStatusType_Online;
    json_t* e = json_pack("{ssss}", "To_Account", s->id, "Status", online ? "Online" : "Offline");
    if (e && detail && s->n_devices > 0) {
        json_t* d = json_array();
        for (size_t k = 0; d && k < s->n_devices; k++)
            if (json_array_append_new(d, json_pack("{ssss}", "Platform", s->devices[k], "Status", "Online")) != 0) {
                json_decref(d);
                d = NULL;
            }
        if (!d || json_object_set_new(e, "Detail", d) != 0) {
            json_decref(e);
            return NULL;
        }
    }
    if (e && custom && json_object_set_new(e, "CustomStatus", json_string(s->custom)) != 0) {
        json_decref(e);
        return NULL;
    }
    return e;
}

static void query_online_status(const json_t* body, tr_result* r, json_t** extra) {
    const json_t* to = get_array(body, "To_Account", "", REST_ERR_PARAM, r);
    if (!to) return;
    int detail = get_flag(body, "IsNeedDetail", r);
    int custom = detail < 0 ? -1 : get_flag(body, "IsReturnCustomStatus", r);
    if (custom < 0 || check_ids(to, "To_Account", REST_ERR_PARAM, r) != ERR_SUCC ||
        check_count(to, "To_Account", TR_MAX_STATUS_IDS, REST_ERR_TOO_MANY_TO_ACCOUNT, r) != ERR_SUCC)
        return;
    json_t* res = json_array();
    json_t* errs = json_array();
    if (!res || !errs) tr_store_fail(r, TR_ENOMEM);
    for (size_t i = 0; r->code == ERR_SUCC && i < json_array_size(to); i++) {
        const char* id = json_string_value(json_array_get(to, i));
        tr_status s;
        int rc = tr_store_status_load(tr_g.store, id, &s);
        json_t* e = NULL;
        if (rc == TR_NOTFOUND) {
            e = json_pack("{sssi}", "To_Account", id, "ErrorCode", REST_ERR_NO_ACCOUNT);
            if (json_array_append_new(errs, e) != 0) tr_store_fail(r, TR_ENOMEM);
        } else if (rc != TR_OK) {
            tr_store_fail(r, rc);
        } else {
            e = query_entry(&s, detail, custom);
            tr_status_clear(&s);
            if (json_array_append_new(res, e) != 0) tr_store_fail(r, TR_ENOMEM);
        }
    }
    if (r->code != ERR_SUCC) {
        json_decref(res);
        json_decref(errs);
        return;
    }
    /* The answer's ErrorCode is 0 when any account could be queried (the vendor's rule). */
    if (json_array_size(res) == 0)
        tr_fail(r, REST_ERR_NO_ACCOUNT, "none of the %zu accounts asked for exists", json_array_size(errs));
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

/* ---- timref's own: listing the world, its events, its snapshots ------------------------ */

#define LIST_DEFAULT 100   /* ref/account_list's Limit when absent */
#define LIST_MAX 1000      /* and at most */
#define EVENTS_DEFAULT 100 /* ref/events' Limit when absent */
#define EVENTS_MAX 1000    /* and at most */

/* An optional integer body[key] in lo..hi (absent: def); -1 after failing with 70402. */
static int64_t get_count(const json_t* body, const char* key, int64_t def, int64_t lo, int64_t hi, tr_result* r) {
    const json_t* v = json_object_get(body, key);
    if (!v) return def;
    if (json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi) return json_integer_value(v);
    tr_fail(r, REST_ERR_PARAM, "%s must be an integer from %lld to %lld", key, (long long)lo, (long long)hi);
    return -1;
}

/* An optional string body[key] of at most max bytes (*out NULL when absent): ERR_SUCC or 70402. */
static int get_text(const json_t* body, const char* key, size_t max, const char** out, tr_result* r) {
    const json_t* v = json_object_get(body, key);
    *out = NULL;
    if (!v) return ERR_SUCC;
    if (!json_is_string(v)) return tr_fail(r, REST_ERR_PARAM, "%s must be a string", key);
    if (json_string_length(v) > max)
        return tr_fail(r, REST_ERR_PARAM, "%s is %zu bytes: an identifier has at most %zu", key,
                       json_string_length(v), max);
    *out = json_string_value(v);
    return ERR_SUCC;
}

/*
 * {"After"?, "Match"?, "Limit"?}: a page of account IDs in byte order, after the ID After,
 * containing Match (case-sensitive), at most Limit (1..1000, default 100); Total counts every
 * match, Next (present when more follow) is the After of the next page.
 */
static void account_list(const json_t* body, tr_result* r, json_t** extra) {
    const char *after, *match;
    if (get_text(body, "After", TR_MAX_ID_LEN, &after, r) != ERR_SUCC ||
        get_text(body, "Match", TR_MAX_ID_LEN, &match, r) != ERR_SUCC)
        return;
    int64_t limit = get_count(body, "Limit", LIST_DEFAULT, 1, LIST_MAX, r);
    if (limit < 0) return;
    json_t* ids = json_array();
    int64_t total = 0;
    /* One more than asked tells whether another page follows. */
    int rc = ids ? tr_store_account_list(tr_g.store, after, match, (size_t)limit + 1, ids) : TR_ENOMEM;
    if (rc == TR_OK) rc = tr_store_account_count(tr_g.store, match, &total);
    bool more = rc == TR_OK && json_array_size(ids) > (size_t)limit;
    char next[TR_MAX_ID_LEN + 1] = "";
    if (more) {
        snprintf(next, sizeof next, "%s", json_string_value(json_array_get(ids, (size_t)limit - 1)));
        json_array_remove(ids, (size_t)limit);
    }
    json_t* o = rc == TR_OK ? json_pack("{sOsI}", "UserIDs", ids, "Total", (json_int_t)total) : NULL;
    json_decref(ids);
    if (o && more && json_object_set_new(o, "Next", json_string(next)) != 0) {
        json_decref(o);
        o = NULL;
    }
    if (!o) return (void)tr_store_fail(r, rc == TR_OK ? TR_ENOMEM : rc);
    *extra = o;
}

/* The events' Type names, by enum tr_event_type. */
static const char* const k_event_names[] = {
    [TR_EVT_PROFILE] = "profile", [TR_EVT_PRESENCE] = "presence", [TR_EVT_STATUS] = "status", [TR_EVT_KICK] = "kick"};

typedef struct event_tail {
    json_t* events; /* the first `max` events read */
    size_t max, seen;
    bool oom;
} event_tail;

static void tail_one(void* arg, int type, const char* id, const char* origin, const char* data) {
    event_tail* t = arg;
    if (t->seen++ >= t->max || t->oom) return;
    const char* name = type > 0 && type <= TR_EVT_KICK ? k_event_names[type] : "unknown";
    json_t* e = json_pack("{sIssss}", "Seq", (json_int_t)0, "Type", name, "UserID", id);
    if (e && *origin && json_object_set_new(e, "Origin", json_string(origin)) != 0) e = (json_decref(e), NULL);
    json_t* d = data ? json_loads(data, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (e && json_is_object(d)) {
        if (json_object_set(e, "Data", d) != 0) e = (json_decref(e), NULL);
    }
    json_decref(d);
    if (!e || json_array_append_new(t->events, e) != 0) t->oom = true;
}

/*
 * {"After"?, "Limit"?}: the events after the sequence number After (absent: the last Limit
 * events), at most Limit (1..1000, default 100), oldest first; Last is the After of the next
 * call; Gap tells that events after After were pruned before they could be read.
 */
static void events(const json_t* body, tr_result* r, json_t** extra) {
    const json_t* a = json_object_get(body, "After");
    int64_t limit = get_count(body, "Limit", EVENTS_DEFAULT, 1, EVENTS_MAX, r);
    if (limit < 0) return;
    int64_t last = tr_store_event_last(tr_g.store);
    int64_t after = last > limit ? last - limit : 0;
    if (a) {
        if (!json_is_integer(a) || json_integer_value(a) < 0)
            return (void)tr_fail(r, REST_ERR_PARAM, "After must be an integer, 0 or more (an event's Seq)");
        /* Beyond the last event (a new store): from the end. */
        after = json_integer_value(a) > last ? last : json_integer_value(a);
    }
    event_tail t = {.events = json_array(), .max = (size_t)limit};
    if (!t.events) return (void)tr_store_fail(r, TR_ENOMEM);
    int64_t seq = after;
    bool gap = false;
    int rc = tr_store_event_scan(tr_g.store, &seq, tail_one, &t, &gap);
    if (rc == TR_OK && t.oom) rc = TR_ENOMEM;
    if (rc != TR_OK) {
        json_decref(t.events);
        return (void)tr_store_fail(r, rc);
    }
    /* Sequence numbers are consecutive (store.h): the events read are seq - seen + 1 .. seq. */
    size_t n = json_array_size(t.events);
    int64_t first = seq - (int64_t)t.seen + 1;
    for (size_t i = 0; i < n; i++)
        json_object_set_new(json_array_get(t.events, i), "Seq", json_integer(first + (int64_t)i));
    int64_t end = n > 0 ? first + (int64_t)n - 1 : seq;
    *extra = json_pack("{sosIsb}", "Events", t.events, "Last", (json_int_t)end, "Gap", gap);
    if (!*extra) tr_store_fail(r, TR_ENOMEM);
}

/*
 * ---- world snapshots (docs/snapshots.md) ----
 * A snapshot: {"Format": "timref-world", "Version": 1, "SDKAppID", "Accounts": [account...]},
 * accounts sorted by UserID, each {"UserID", "Profile": {tag: value} (the standard tags not
 * at their default, then the custom tags, sorted), "LastUpdated", "CustomStatus"? (when not
 * ""), "Status"? (IncludeStatus: {"Type", "Devices"?})}.  Import replaces the world with it,
 * in one transaction, after checking every entry with the rules of portrait_set.
 */
#define WORLD_FORMAT "timref-world"
#define WORLD_VERSION 1
#define WORLD_SESSION_PREFIX "world:" /* the simulated sessions an imported Status makes */

static const char* const k_status_names[] = {[kTIMUserStatusType_Online] = "Online",
                                             [kTIMUserStatusType_Offline] = "Offline",
                                             [kTIMUserStatusType_UnLogined] = "UnLogined"};

/* One account of a snapshot. */
static json_t* world_account(const tr_profile* p, const tr_status* s, bool with_status) {
    json_t* prof = json_object();
    json_t* o = json_pack("{ss}", "UserID", p->id);
    bool bad = !prof || !o;
    for (int f = 0; !bad && f < TR_F_COUNT; f++) {
        const tr_field_desc* d = &tr_fields[f];
        bool is_default = d->is_string ? !p->str[f] || !*p->str[f] : p->num[f] == 0;
        if (!is_default) bad = json_object_set_new(prof, d->tag, tag_value(p, d)) != 0;
    }
    for (size_t i = 0; !bad && i < p->n_custom; i++)
        bad = json_object_set_new(prof, p->custom[i].key, json_string(p->custom[i].value)) != 0;
    if (!bad) bad = json_object_set_new(o, "Profile", prof) != 0;
    else json_decref(prof);
    if (!bad) bad = json_object_set_new(o, "LastUpdated", json_integer(p->last_updated)) != 0;
    if (!bad && s->custom[0]) bad = json_object_set_new(o, "CustomStatus", json_string(s->custom)) != 0;
    if (!bad && with_status) {
        /* status_load gives 1..3 (store.h); anything else reads as never logged in */
        bool known = s->type >= kTIMUserStatusType_Online && s->type <= kTIMUserStatusType_UnLogined;
        json_t* st = json_pack("{ss}", "Type", k_status_names[known ? s->type : kTIMUserStatusType_UnLogined]);
        json_t* dev = s->n_devices ? json_array() : NULL;
        for (size_t i = 0; dev && i < s->n_devices; i++)
            if (json_array_append_new(dev, json_string(s->devices[i])) != 0) dev = (json_decref(dev), NULL);
        bad = !st || (s->n_devices && (!dev || json_object_set_new(st, "Devices", dev) != 0));
        if (!bad) bad = json_object_set_new(o, "Status", st) != 0;
        else json_decref(st);
    }
    if (bad) json_decref(o);
    return bad ? NULL : o;
}

/* {"IncludeStatus"?: bool}: {"Snapshot": the world, as one consistent read}. */
static void world_export(const json_t* body, tr_result* r, json_t** extra) {
    const json_t* inc = json_object_get(body, "IncludeStatus");
    if (inc && !json_is_boolean(inc)) return (void)tr_fail(r, REST_ERR_PARAM, "IncludeStatus must be true or false");
    bool with_status = json_is_true(inc);
    tr_store* st = tr_g.store;
    json_t* ids = json_array();
    json_t* accounts = json_array();
    /* A write transaction, only read and rolled back: no commit lands in the middle. */
    int rc = ids && accounts ? tr_store_begin(st) : TR_ENOMEM;
    bool open = rc == TR_OK;
    if (rc == TR_OK) rc = tr_store_account_list(st, NULL, NULL, SIZE_MAX, ids);
    for (size_t i = 0; rc == TR_OK && i < json_array_size(ids); i++) {
        const char* id = json_string_value(json_array_get(ids, i));
        tr_profile p;
        tr_status s;
        rc = tr_store_profile_load(st, id, &p);
        if (rc != TR_OK) break;
        rc = tr_store_status_load(st, id, &s);
        if (rc == TR_OK) {
            if (json_array_append_new(accounts, world_account(&p, &s, with_status)) != 0) rc = TR_ENOMEM;
            tr_status_clear(&s);
        }
        tr_profile_clear(&p);
    }
    if (open) tr_store_rollback(st);
    json_decref(ids);
    json_t* snap = rc == TR_OK ? json_pack("{sssisIso}", "Format", WORLD_FORMAT, "Version", WORLD_VERSION, "SDKAppID",
                                           (json_int_t)tr_g.app_id, "Accounts", accounts)
                               : (json_decref(accounts), NULL);
    if (!snap) return (void)tr_store_fail(r, rc == TR_OK ? TR_ENOMEM : rc);
    *extra = json_pack("{so}", "Snapshot", snap);
    if (!*extra) tr_store_fail(r, TR_ENOMEM);
}

/*
 * {"UserIDs": [ids], 1..100}: each account as a snapshot writes it, with its status
 * ({"UserID", "Profile", "LastUpdated", "CustomStatus"?, "Status": {"Type", "Devices"?}}), in
 * the order asked, in "Users"; the ids that are no account in "ErrorList" ({"UserID",
 * "ErrorCode": 70107}).  What the vendor's queries cannot say: every custom field without
 * naming it, and UnLogined apart from Offline (the dashboard of tim-py serve reads users so).
 */
static void user_get(const json_t* body, tr_result* r, json_t** extra) {
    const json_t* ids = get_array(body, "UserIDs", "", REST_ERR_PARAM, r);
    if (!ids || check_ids(ids, "UserIDs", REST_ERR_PARAM, r) != ERR_SUCC ||
        check_count(ids, "UserIDs", TR_MAX_REST_ACCOUNTS, REST_ERR_PARAM, r) != ERR_SUCC)
        return;
    json_t* users = json_array();
    json_t* errs = json_array();
    int rc = users && errs ? TR_OK : TR_ENOMEM;
    for (size_t i = 0; rc == TR_OK && i < json_array_size(ids); i++) {
        const char* id = json_string_value(json_array_get(ids, i));
        tr_profile p;
        tr_status s;
        rc = tr_store_profile_load(tr_g.store, id, &p);
        if (rc == TR_NOTFOUND) {
            rc = json_array_append_new(errs, json_pack("{sssi}", "UserID", id, "ErrorCode", REST_ERR_NO_ACCOUNT)) == 0
                     ? TR_OK
                     : TR_ENOMEM;
            continue;
        }
        if (rc != TR_OK) break;
        rc = tr_store_status_load(tr_g.store, id, &s);
        if (rc == TR_OK) {
            if (json_array_append_new(users, world_account(&p, &s, true)) != 0) rc = TR_ENOMEM;
            tr_status_clear(&s);
        }
        tr_profile_clear(&p);
    }
    json_t* o = rc == TR_OK ? json_pack("{sOsO}", "Users", users, "ErrorList", errs) : NULL;
    json_decref(users);
    json_decref(errs);
    if (!o) return (void)tr_store_fail(r, rc == TR_OK ? TR_ENOMEM : rc);
    *extra = o;
}

/* An account as an import writes it: its profile, stored status and simulated devices. */
typedef struct world_entry {
    tr_profile p;
    int type;               /* the stored status type (Online: the devices' sessions) */
    const char* custom;     /* custom status (in the document) */
    const json_t* devices;  /* the devices of an Online Status, or NULL */
} world_entry;

/* Fail with the code of `why` and its text, prefixed with the entry it is about. */
static int entry_fail(tr_result* r, size_t i, const char* id, int code, const char* why) {
    if (id) return tr_fail(r, code, "Snapshot.Accounts[%zu] (UserID \"%s\"): %s", i, id, why);
    return tr_fail(r, code, "Snapshot.Accounts[%zu]: %s", i, why);
}

/*
 * Read Accounts[i] into w (w->p initialized in every case: clear it), with the rules of
 * portrait_set (tr_field_set, tr_profile_apply_custom) and of set_user_status: ERR_SUCC, or
 * the first problem's code with a desc naming the entry (index, UserID) and what is wrong.
 */
static int world_read_entry(const json_t* e, size_t i, world_entry* w, tr_result* r) {
    tr_result why = {0};
    memset(w, 0, sizeof *w);
    tr_profile_init(&w->p, "");
    w->type = kTIMUserStatusType_UnLogined;
    w->custom = "";
    if (!json_is_object(e)) return entry_fail(r, i, NULL, REST_ERR_PARAM, "not an object");
    const json_t* idv = json_object_get(e, "UserID");
    if (!json_is_string(idv) || !tr_id_valid(json_string_value(idv), json_string_length(idv)))
        return entry_fail(r, i, NULL, REST_ERR_PARAM, "UserID must be an identifier (1..32 printable ASCII bytes)");
    const char* id = json_string_value(idv);
    snprintf(w->p.id, sizeof w->p.id, "%s", id);
    const char* key;
    const json_t* v;
    json_object_foreach((json_t*)e, key, v) {
        if (strcmp(key, "UserID") && strcmp(key, "Profile") && strcmp(key, "LastUpdated") &&
            strcmp(key, "CustomStatus") && strcmp(key, "Status")) {
            tr_fail(&why, REST_ERR_PARAM, "unknown key \"%.40s\"", key);
            return entry_fail(r, i, id, why.code, why.desc);
        }
    }
    const json_t* prof = json_object_get(e, "Profile");
    if (prof && !json_is_object(prof)) return entry_fail(r, i, id, REST_ERR_PARAM, "Profile must be an object");
    json_t* custom = json_array();
    if (!custom) return tr_store_fail(r, TR_ENOMEM);
    int rc = ERR_SUCC;
    json_object_foreach((json_t*)prof, key, v) {
        if (strncmp(key, TR_CUSTOM_PREFIX, TR_CUSTOM_PREFIX_LEN) == 0) {
            if (json_array_append_new(custom, json_pack("{sssO}", "user_profile_custom_string_info_key", key,
                                                        "user_profile_custom_string_info_value", v)) != 0)
                rc = tr_store_fail(&why, TR_ENOMEM);
        } else {
            rc = set_tag(&w->p, key, v, &why);
        }
        if (rc != ERR_SUCC) break;
    }
    if (rc == ERR_SUCC && json_array_size(custom) > 0) rc = tr_profile_apply_custom(&w->p, custom, "Profile", &why);
    json_decref(custom);
    if (rc != ERR_SUCC) return entry_fail(r, i, id, why.code, why.desc);
    const json_t* lu = json_object_get(e, "LastUpdated");
    if (lu && (!json_is_integer(lu) || json_integer_value(lu) < 0 || json_integer_value(lu) == INT64_MAX))
        return entry_fail(r, i, id, REST_ERR_PARAM, "LastUpdated must be an integer, 0 or more (seconds)");
    w->p.last_updated = lu ? json_integer_value(lu) : 0;
    const json_t* cs = json_object_get(e, "CustomStatus");
    if (cs) {
        if (tr_custom_status_check(cs, "CustomStatus", &why) != ERR_SUCC)
            return entry_fail(r, i, id, why.code, why.desc);
        w->custom = json_string_value(cs);
    }
    const json_t* status = json_object_get(e, "Status");
    if (!status) return ERR_SUCC;
    const json_t* type = json_object_get(status, "Type");
    const json_t* dev = json_object_get(status, "Devices");
    if (!json_is_object(status) || json_object_size(status) != (size_t)(1 + (dev != NULL)) || !json_is_string(type))
        return entry_fail(r, i, id, REST_ERR_PARAM, "Status must be {\"Type\", \"Devices\"?}");
    w->type = 0;
    for (int t = kTIMUserStatusType_Online; t <= kTIMUserStatusType_UnLogined; t++)
        if (strcmp(json_string_value(type), k_status_names[t]) == 0) w->type = t;
    if (!w->type) return entry_fail(r, i, id, REST_ERR_PARAM, "Status.Type must be \"Online\", \"Offline\" or \"UnLogined\"");
    if (w->type != kTIMUserStatusType_Online) {
        if (dev) return entry_fail(r, i, id, REST_ERR_PARAM, "Status.Devices is only for an Online Status");
        return ERR_SUCC;
    }
    if (!json_is_array(dev) || json_array_size(dev) == 0)
        return entry_fail(r, i, id, REST_ERR_PARAM, "an Online Status needs Devices, a non-empty array of device names");
    size_t k;
    json_array_foreach(dev, k, v) {
        if (!json_is_string(v) || !tr_id_valid(json_string_value(v), json_string_length(v))) {
            tr_fail(&why, REST_ERR_PARAM, "Status.Devices[%zu] is not a device name (1..32 printable ASCII bytes)", k);
            return entry_fail(r, i, id, why.code, why.desc);
        }
    }
    w->devices = dev;
    w->type = kTIMUserStatusType_UnLogined; /* stored under the sessions: what shows when they end */
    return ERR_SUCC;
}

static int cmp_str_ptr(const void* a, const void* b) {
    return strcmp(*(const char* const*)a, *(const char* const*)b);
}

/* Whether id is in the sorted array of n ids. */
static bool in_sorted(const char* const* ids, size_t n, const char* id) {
    return bsearch(&id, ids, n, sizeof *ids, cmp_str_ptr) != NULL;
}

/* A snapshot's UserID and where it is: sorted by both, a UserID given twice is found. */
typedef struct id_at {
    const char* id;
    size_t at;
} id_at;

static int cmp_id_at(const void* a, const void* b) {
    const id_at *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->at > y->at) - (x->at < y->at);
}

/*
 * Inside the caller's transaction: remove every account not in keep (sorted, n_keep), each
 * with its sessions (recorded as kicked: {"id", "tokens"} appended to kicks when it had some)
 * and its profile and status events; *removed counts them.
 */
static int world_remove(tr_store* st, const char* const* keep, size_t n_keep, json_t* kicks, size_t* removed) {
    json_t* ids = json_array();
    int rc = ids ? tr_store_account_list(st, NULL, NULL, SIZE_MAX, ids) : TR_ENOMEM;
    int64_t now = (int64_t)time(NULL);
    *removed = 0;
    for (size_t i = 0; rc == TR_OK && i < json_array_size(ids); i++) {
        const char* id = json_string_value(json_array_get(ids, i));
        if (keep && in_sorted(keep, n_keep, id)) continue;
        json_t* tokens = NULL;
        rc = tr_store_kick(st, id, now, &tokens);
        if (rc == TR_OK && json_array_size(tokens) > 0 &&
            json_array_append_new(kicks, json_pack("{ssso}", "id", id, "tokens", tokens)) != 0)
            rc = TR_ENOMEM;
        else if (rc == TR_OK && json_array_size(tokens) == 0)
            json_decref(tokens);
        if (rc == TR_OK) rc = tr_store_account_delete(st, id);
        /* The account is gone: events without a snapshot, as account_delete's. */
        if (rc == TR_OK) rc = tr_store_event_add_data(st, TR_EVT_PROFILE, id, TR_ORIGIN_ADMIN, NULL);
        if (rc == TR_OK) rc = tr_store_event_add_data(st, TR_EVT_STATUS, id, TR_ORIGIN_ADMIN, NULL);
        if (rc == TR_OK) (*removed)++;
    }
    json_decref(ids);
    return rc;
}

/* Last in the transaction (so that a reader that falls behind the pruned log still finds
 * them): each kick's event naming the sessions ended, then its presence event. */
static int world_kick_events(tr_store* st, const json_t* kicks) {
    int rc = TR_OK;
    size_t i;
    const json_t* k;
    json_array_foreach(kicks, i, k) {
        const char* id = json_string_value(json_object_get(k, "id"));
        json_t* data = json_pack("{sO}", "tokens", json_object_get(k, "tokens"));
        char* text = data ? tr_json_dump(data) : NULL;
        json_decref(data);
        rc = text ? tr_store_event_add_data(st, TR_EVT_KICK, id, TR_ORIGIN_ADMIN, text) : TR_ENOMEM;
        free(text);
        if (rc == TR_OK) rc = tr_store_event_add(st, TR_EVT_PRESENCE, id, TR_ORIGIN_ADMIN);
        if (rc != TR_OK) break;
    }
    return rc;
}

/* Write one checked entry (inside the caller's transaction), with its events. */
static int world_write(tr_store* st, const world_entry* w) {
    const char* id = w->p.id;
    int rc = tr_store_account_ensure(st, id, NULL);
    if (rc == TR_OK) rc = tr_store_profile_save(st, &w->p);
    if (rc == TR_OK) rc = tr_store_session_remove_simulated(st, id);
    if (rc == TR_OK) rc = tr_store_status_set(st, id, w->type, w->custom);
    for (size_t k = 0; rc == TR_OK && k < json_array_size(w->devices); k++) {
        char token[TR_TOKEN_SIZE];
        snprintf(token, sizeof token, WORLD_SESSION_PREFIX "%s:%04zu", id, k);
        rc = tr_store_session_add(st, token, id, json_string_value(json_array_get(w->devices, k)), true, -1);
    }
    if (rc == TR_OK) {
        json_t* j = tr_profile_json(&w->p, true);
        char* text = j ? tr_json_dump(j) : NULL;
        json_decref(j);
        rc = text ? tr_store_event_add_data(st, TR_EVT_PROFILE, id, TR_ORIGIN_ADMIN, text) : TR_ENOMEM;
        free(text);
    }
    if (rc == TR_OK) rc = tr_store_event_add(st, TR_EVT_STATUS, id, TR_ORIGIN_ADMIN);
    return rc;
}

/* Check the document's head: ERR_SUCC with *accounts, or 70402 naming what is wrong. */
static int world_head(const json_t* snap, const json_t** accounts, tr_result* r) {
    if (!json_is_object(snap)) return tr_fail(r, REST_ERR_PARAM, "Snapshot must be an object (a world snapshot)");
    const char* key;
    const json_t* v;
    json_object_foreach((json_t*)snap, key, v) {
        if (strcmp(key, "Format") && strcmp(key, "Version") && strcmp(key, "SDKAppID") && strcmp(key, "Accounts"))
            return tr_fail(r, REST_ERR_PARAM, "Snapshot: unknown key \"%.40s\"", key);
    }
    const json_t* f = json_object_get(snap, "Format");
    if (!json_is_string(f) || strcmp(json_string_value(f), WORLD_FORMAT) != 0)
        return tr_fail(r, REST_ERR_PARAM, "Snapshot.Format must be \"" WORLD_FORMAT "\"");
    const json_t* ver = json_object_get(snap, "Version");
    if (!json_is_integer(ver) || json_integer_value(ver) != WORLD_VERSION)
        return tr_fail(r, REST_ERR_PARAM, "Snapshot.Version must be %d (this timref reads version %d)", WORLD_VERSION,
                       WORLD_VERSION);
    const json_t* app = json_object_get(snap, "SDKAppID");
    if (app && (!json_is_integer(app) || json_integer_value(app) < 0))
        return tr_fail(r, REST_ERR_PARAM, "Snapshot.SDKAppID must be an integer, 0 or more");
    *accounts = json_object_get(snap, "Accounts");
    if (!json_is_array(*accounts)) return tr_fail(r, REST_ERR_PARAM, "Snapshot.Accounts must be an array");
    return ERR_SUCC;
}

/*
 * {"Snapshot": {...}}: make the world the snapshot's, in one transaction: every entry checked
 * first (the first bad one, or the first UserID given twice, refuses the whole document and
 * nothing changes); then the accounts not in it removed (their live sessions kicked), and
 * each of its accounts written whole.  Live sessions of accounts it keeps go on.
 */
static void world_import(const json_t* body, tr_result* r, json_t** extra) {
    if (!body)
        return (void)tr_fail(r, ERR_SDK_NET_PKG_SIZE_LIMIT, "request larger than %d MiB, the limit of ref/world_import",
                             TIMREF_WORLD_IMPORT_MAX_LEN >> 20);
    const json_t* accounts = NULL;
    if (world_head(json_object_get(body, "Snapshot"), &accounts, r) != ERR_SUCC) return;
    size_t n = json_array_size(accounts);
    size_t bad = n; /* the first entry that is bad (n: none) */
    world_entry w;
    for (size_t i = 0; i < n && bad == n; i++) {
        if (world_read_entry(json_array_get(accounts, i), i, &w, r) != ERR_SUCC) bad = i;
        tr_profile_clear(&w.p);
    }
    /* Every UserID once: the good entries' UserIDs sorted with their places, the second place
     * of one given twice is bad too; the first bad place is the one named. */
    id_at* ids = malloc((bad ? bad : 1) * sizeof *ids);
    if (!ids) return (void)tr_store_fail(r, TR_ENOMEM);
    for (size_t i = 0; i < bad; i++)
        ids[i] = (id_at){json_string_value(json_object_get(json_array_get(accounts, i), "UserID")), i};
    qsort(ids, bad, sizeof *ids, cmp_id_at);
    size_t dup = bad, first = 0;
    for (size_t i = 1; i < bad; i++)
        if (strcmp(ids[i - 1].id, ids[i].id) == 0 && ids[i].at < dup) {
            dup = ids[i].at;
            size_t k = i - 1;
            while (k > 0 && strcmp(ids[k - 1].id, ids[i].id) == 0) k--;
            first = ids[k].at;
        }
    if (dup < bad) {
        char why[96];
        snprintf(why, sizeof why, "UserID given twice (first at Snapshot.Accounts[%zu])", first);
        entry_fail(r, dup, json_string_value(json_object_get(json_array_get(accounts, dup), "UserID")),
                   REST_ERR_PARAM, why);
    }
    if (dup < n) return free(ids); /* an entry is bad: r says which and why */
    /* The sorted ids, as the array of strings world_remove's in_sorted reads. */
    const char** keep = malloc((n ? n : 1) * sizeof *keep);
    if (!keep) {
        free(ids);
        return (void)tr_store_fail(r, TR_ENOMEM);
    }
    for (size_t i = 0; i < n; i++) keep[i] = ids[i].id;
    free(ids);
    tr_store* st = tr_g.store;
    json_t* kicks = json_array();
    size_t removed = 0;
    int rc = kicks ? tr_store_begin(st) : TR_ENOMEM;
    if (rc == TR_OK) rc = world_remove(st, keep, n, kicks, &removed);
    for (size_t i = 0; rc == TR_OK && i < n; i++) {
        tr_result again = {0}; /* checked above: cannot fail but for memory */
        if (world_read_entry(json_array_get(accounts, i), i, &w, &again) != ERR_SUCC) rc = TR_ENOMEM;
        else rc = world_write(st, &w);
        tr_profile_clear(&w.p);
    }
    if (rc == TR_OK) rc = world_kick_events(st, kicks);
    json_decref(kicks);
    free(keep);
    if (tr_commit(rc, r) == ERR_SUCC) *extra = json_pack("{sI}", "Accounts", (json_int_t)n);
}

/* {}: remove every account, their live sessions kicked, in one transaction. */
static void world_reset(const json_t* body, tr_result* r, json_t** extra) {
    (void)body;
    tr_store* st = tr_g.store;
    json_t* kicks = json_array();
    size_t removed = 0;
    int rc = kicks ? tr_store_begin(st) : TR_ENOMEM;
    if (rc == TR_OK) rc = world_remove(st, NULL, 0, kicks, &removed);
    if (rc == TR_OK) rc = world_kick_events(st, kicks);
    json_decref(kicks);
    if (tr_commit(rc, r) == ERR_SUCC) *extra = json_pack("{sI}", "Accounts", (json_int_t)removed);
}

/* ---- dispatch and answer ------------------------------------------------------------ */

static const struct {
    const char* api;
    api_fn fn;
    bool error_display; /* the profile APIs answer "ErrorDisplay" too (the vendor's) */
} k_apis[] = {
    {"v4/im_open_login_svc/account_import", account_import, false},
    {"v4/im_open_login_svc/multiaccount_import", multiaccount_import, false},
    {"v4/im_open_login_svc/account_delete", account_delete, false},
    {"v4/im_open_login_svc/account_check", account_check, false},
    {"v4/im_open_login_svc/kick", kick, false},
    {"v4/profile/portrait_get", portrait_get, true},
    {"v4/profile/portrait_set", portrait_set, true},
    {"v4/openim/query_online_status", query_online_status, false},
    {"ref/set_user_status", set_user_status, false},
    {"ref/check_usersig", check_usersig, false},
    {"ref/account_list", account_list, false},
    {"ref/events", events, false},
    {"ref/world_export", world_export, false},
    {"ref/world_import", world_import, false},
    {"ref/world_reset", world_reset, false},
    {"ref/user_get", user_get, false},
};

/*
 * The REST answer of a result: {"ActionStatus", "ErrorCode", "ErrorInfo"}
 * from r's code and desc ("ErrorDisplay": "" too when asked), then the extra
 * fields the API gave (stolen), as json_params; code and desc stay r's.
 */
static void rest_answer(tr_result* r, json_t* extra, bool error_display) {
    json_t* o = json_pack("{sssiss}", "ActionStatus", r->code ? "FAIL" : "OK", "ErrorCode", r->code, "ErrorInfo",
                          r->desc);
    if (o && error_display && json_object_set_new(o, "ErrorDisplay", json_string("")) != 0) {
        json_decref(o);
        o = NULL;
    }
    if (o && extra && json_object_update(o, extra) != 0) {
        json_decref(o);
        o = NULL;
    }
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
    rest_answer(r, extra, i < n && k_apis[i].error_display);
}
