/*
 * admin.c - the admin surface (TIMRefAdminRequest): what the vendor's server
 * does through its REST API, done here against the store.  Bodies and
 * answers follow the REST API's shapes; changes notify like any other.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tr_internal.h"

/* REST error codes (the vendor's) used by the account and presence APIs. */
#define REST_ERR_PARAM 70402
#define REST_ERR_NO_ACCOUNT 70107

/* Answer: {"ActionStatus","ErrorCode","ErrorInfo", ...extra}; steals extra. */
static void answer(tr_result* r, int code, json_t* extra, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void answer(tr_result* r, int code, json_t* extra, const char* fmt, ...) {
    char info[TR_DESC_SIZE] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(info, sizeof info, fmt, ap);
        va_end(ap);
    }
    json_t* o = json_pack("{sssiss}", "ActionStatus", code ? "FAIL" : "OK", "ErrorCode", code, "ErrorInfo", info);
    if (o && extra) json_object_update(o, extra);
    json_decref(extra);
    char* text = o ? tr_json_dump(o) : NULL;
    json_decref(o);
    r->code = code;
    snprintf(r->desc, sizeof r->desc, "%s", info);
    free(r->json);
    r->json = text;
    if (!text) tr_fail(r, ERR_OUT_OF_MEMORY, "out of memory");
}

static int store_failed(tr_result* r) {
    tr_store_rollback(tr_g.store);
    answer(r, ERR_IO_OPERATION_FAILED, NULL, "store: %s", tr_store_errmsg(tr_g.store));
    return -1;
}

/* A valid identifier from body[key], or NULL (answering the error). */
static const char* get_id(const json_t* body, const char* key, int code, tr_result* r) {
    const json_t* v = json_object_get(body, key);
    if (!json_is_string(v)) {
        answer(r, code, NULL, "%s must be a string", key);
        return NULL;
    }
    if (!tr_id_valid(json_string_value(v), json_string_length(v))) {
        answer(r, code, NULL, "%s is not a valid identifier (1..32 printable ASCII bytes)", key);
        return NULL;
    }
    return json_string_value(v);
}

/* ---- accounts ------------------------------------------------------------------ */

static void account_import(const json_t* body, tr_result* r) {
    const char* id = get_id(body, "UserID", REST_ERR_PARAM, r);
    if (!id) return;
    const json_t* nick = json_object_get(body, "Nick");
    const json_t* face = json_object_get(body, "FaceUrl");
    const json_t* vals[2] = {nick, face};
    const char* names[2] = {"Nick", "FaceUrl"};
    for (int i = 0; i < 2; i++) {
        if (!vals[i]) continue;
        if (!json_is_string(vals[i])) return answer(r, REST_ERR_PARAM, NULL, "%s must be a string", names[i]);
        if (json_string_length(vals[i]) > TR_MAX_VALUE_LEN)
            return answer(r, REST_ERR_PARAM, NULL, "%s is longer than %d bytes", names[i], TR_MAX_VALUE_LEN);
    }
    tr_store* st = tr_g.store;
    bool created;
    if (tr_store_begin(st) != TR_OK || tr_store_account_ensure(st, id, &created) != TR_OK) {
        store_failed(r);
        return;
    }
    if (nick || face) {
        tr_profile p;
        if (tr_store_profile_load(st, id, &p) != TR_OK) {
            store_failed(r);
            return;
        }
        char* ns = nick ? strdup(json_string_value(nick)) : NULL;
        char* fs = face ? strdup(json_string_value(face)) : NULL;
        if ((nick && !ns) || (face && !fs)) {
            free(ns);
            free(fs);
            tr_profile_clear(&p);
            tr_store_rollback(st);
            return answer(r, ERR_OUT_OF_MEMORY, NULL, "out of memory");
        }
        if (ns) free(p.str[TR_F_NICK]), p.str[TR_F_NICK] = ns;
        if (fs) free(p.str[TR_F_FACE_URL]), p.str[TR_F_FACE_URL] = fs;
        p.last_updated = (int64_t)time(NULL);
        int rc = tr_store_profile_save(st, &p);
        tr_profile_clear(&p);
        if (rc != TR_OK) {
            store_failed(r);
            return;
        }
    }
    if ((created || nick || face) && tr_store_event_add(st, TR_EVT_PROFILE, id, TR_ORIGIN_ADMIN) != TR_OK) {
        store_failed(r);
        return;
    }
    if (tr_store_commit(st) != TR_OK) {
        store_failed(r);
        return;
    }
    tr_profile_cache_forget(id);
    tr_feed_mark();
    answer(r, 0, NULL, NULL);
}

static void multiaccount_import(const json_t* body, tr_result* r) {
    const json_t* arr = json_object_get(body, "Accounts");
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return answer(r, REST_ERR_PARAM, NULL, "Accounts must be a non-empty array of identifiers");
    size_t i;
    const json_t* v;
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v)) return answer(r, REST_ERR_PARAM, NULL, "Accounts[%zu] is not a string", i);
    }
    json_t* fail = json_array();
    if (!fail) return answer(r, ERR_OUT_OF_MEMORY, NULL, "out of memory");
    tr_store* st = tr_g.store;
    if (tr_store_begin(st) != TR_OK) {
        json_decref(fail);
        store_failed(r);
        return;
    }
    json_array_foreach(arr, i, v) {
        if (!tr_id_valid(json_string_value(v), json_string_length(v))) { /* reported, not imported */
            json_array_append_new(fail, json_string(json_string_value(v)));
            continue;
        }
        bool created;
        const char* id = json_string_value(v);
        if (tr_store_account_ensure(st, id, &created) != TR_OK ||
            (created && tr_store_event_add(st, TR_EVT_PROFILE, id, TR_ORIGIN_ADMIN) != TR_OK)) {
            json_decref(fail);
            store_failed(r);
            return;
        }
    }
    if (tr_store_commit(st) != TR_OK) {
        json_decref(fail);
        store_failed(r);
        return;
    }
    tr_feed_mark();
    answer(r, 0, json_pack("{so}", "FailAccounts", fail), NULL);
}

static void account_delete(const json_t* body, tr_result* r) {
    const json_t* arr = json_object_get(body, "DeleteItem");
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return answer(r, REST_ERR_PARAM, NULL, "DeleteItem must be a non-empty array of {\"UserID\"}");
    size_t i;
    const json_t* item;
    json_array_foreach(arr, i, item) {
        const json_t* id = json_object_get(item, "UserID");
        if (!json_is_string(id) || !tr_id_valid(json_string_value(id), json_string_length(id)))
            return answer(r, REST_ERR_PARAM, NULL, "DeleteItem[%zu].UserID is not a valid identifier", i);
    }
    json_t* results = json_array();
    if (!results) return answer(r, ERR_OUT_OF_MEMORY, NULL, "out of memory");
    tr_store* st = tr_g.store;
    if (tr_store_begin(st) != TR_OK) {
        json_decref(results);
        store_failed(r);
        return;
    }
    json_array_foreach(arr, i, item) {
        const char* id = json_string_value(json_object_get(item, "UserID"));
        int rc = tr_store_account_delete(st, id);
        if (rc == TR_OK)
            rc = tr_store_event_add(st, TR_EVT_PROFILE, id, TR_ORIGIN_ADMIN) == TR_OK &&
                         tr_store_event_add(st, TR_EVT_STATUS, id, TR_ORIGIN_ADMIN) == TR_OK
                     ? TR_OK
                     : TR_EIO;
        if (rc == TR_EIO || rc == TR_ENOMEM) {
            json_decref(results);
            store_failed(r);
            return;
        }
        json_array_append_new(results, json_pack("{sissss}", "ResultCode", rc == TR_OK ? 0 : REST_ERR_NO_ACCOUNT,
                                                 "ResultInfo", rc == TR_OK ? "" : "account does not exist",
                                                 "UserID", id));
    }
    if (tr_store_commit(st) != TR_OK) {
        json_decref(results);
        store_failed(r);
        return;
    }
    json_array_foreach(arr, i, item) tr_profile_cache_forget(json_string_value(json_object_get(item, "UserID")));
    tr_feed_mark();
    answer(r, 0, json_pack("{so}", "ResultItem", results), NULL);
}

/* ---- profiles ------------------------------------------------------------------ */

static int field_by_tag(const char* tag) {
    for (int f = 0; f < TR_F_COUNT; f++)
        if (strcmp(tr_fields[f].tag, tag) == 0) return f;
    return -1;
}

/* REST value of a field: enum names as strings, numbers, strings. */
static json_t* tag_value(const tr_profile* p, int f) {
    const tr_field_desc* d = &tr_fields[f];
    if (d->is_string) return json_string(p->str[f] ? p->str[f] : "");
    if (d->names) {
        uint32_t v = p->num[f];
        size_t n = 0;
        while (d->names[n]) n++;
        return json_string(v < n ? d->names[v] : d->names[0]);
    }
    return json_integer(p->num[f]);
}

/* Parse a REST value into the profile; 0 or an answer code with r set. */
static int set_tag(tr_profile* p, const char* tag, const json_t* v, tr_result* r) {
    int f = field_by_tag(tag);
    if (f < 0) {
        if (strncmp(tag, TR_CUSTOM_PREFIX, TR_CUSTOM_PREFIX_LEN) != 0) {
            answer(r, ERR_SVR_PROFILE_TAG_NOT_FOUND, NULL, "unknown tag %.64s", tag);
            return -1;
        }
        /* A custom tag: reuse the SDK's checks through a one-entry list. */
        json_t* one = json_pack("[{sssO}]", "user_profile_custom_string_info_key", tag,
                                "user_profile_custom_string_info_value", v);
        tr_result rr = {0};
        int rc = one ? tr_profile_apply_custom(p, one, tag, &rr) : ERR_OUT_OF_MEMORY;
        json_decref(one);
        if (rc != ERR_SUCC) {
            answer(r, rc, NULL, "%s", rr.desc);
            free(rr.json);
            return -1;
        }
        return 0;
    }
    const tr_field_desc* d = &tr_fields[f];
    if (d->is_string) {
        if (!json_is_string(v)) {
            answer(r, ERR_SVR_PROFILE_INVALID_VALUE_FORMAT, NULL, "%s: expected a string", tag);
            return -1;
        }
        if (json_string_length(v) > TR_MAX_VALUE_LEN) {
            answer(r, ERR_SVR_PROFILE_SIZE_LIMIT, NULL, "%s: longer than %d bytes", tag, TR_MAX_VALUE_LEN);
            return -1;
        }
        char* s = strdup(json_string_value(v));
        if (!s) {
            answer(r, ERR_OUT_OF_MEMORY, NULL, "out of memory");
            return -1;
        }
        free(p->str[f]);
        p->str[f] = s;
        return 0;
    }
    json_int_t x;
    if (json_is_string(v) && d->names) {
        x = -1;
        for (int k = 0; d->names[k]; k++)
            if (strcmp(d->names[k], json_string_value(v)) == 0) x = k;
        if (x < 0) {
            answer(r, ERR_SVR_PROFILE_VALUE_ERROR, NULL, "%s: unknown value %.64s", tag, json_string_value(v));
            return -1;
        }
    } else if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else {
        answer(r, ERR_SVR_PROFILE_INVALID_VALUE_FORMAT, NULL, "%s: expected %s", tag,
               d->names ? "a name such as " "\"Gender_Type_Male\" or an integer" : "an integer");
        return -1;
    }
    if (x < (json_int_t)d->min || x > (json_int_t)d->max) {
        answer(r, ERR_SVR_PROFILE_VALUE_ERROR, NULL, "%s: %lld is outside %u..%u", tag, (long long)x, d->min, d->max);
        return -1;
    }
    p->num[f] = (uint32_t)x;
    return 0;
}

static void portrait_set(const json_t* body, tr_result* r) {
    const char* id = get_id(body, "From_Account", ERR_SVR_PROFILE_INVALID_PARAMETERS, r);
    if (!id) return;
    const json_t* items = json_object_get(body, "ProfileItem");
    if (!json_is_array(items) || json_array_size(items) == 0)
        return answer(r, ERR_SVR_PROFILE_INVALID_PARAMETERS, NULL, "ProfileItem must be a non-empty array");
    const tr_profile* cur;
    int rc = tr_profile_get(id, &cur);
    if (rc == TR_NOTFOUND) return answer(r, ERR_SVR_PROFILE_ACCOUNT_NOT_FOUND, NULL, "account %s does not exist", id);
    tr_profile p;
    if (rc != TR_OK || tr_profile_copy(&p, cur) != TR_OK)
        return answer(r, ERR_IO_OPERATION_FAILED, NULL, "cannot read the profile of %s", id);
    size_t i;
    const json_t* item;
    json_array_foreach(items, i, item) {
        const json_t* tag = json_object_get(item, "Tag");
        const json_t* val = json_object_get(item, "Value");
        if (!json_is_string(tag) || !val) {
            answer(r, ERR_SVR_PROFILE_INVALID_PARAMETERS, NULL, "ProfileItem[%zu] needs Tag (string) and Value", i);
            tr_profile_clear(&p);
            return;
        }
        if (set_tag(&p, json_string_value(tag), val, r) != 0) {
            tr_profile_clear(&p);
            return;
        }
    }
    p.last_updated = (int64_t)time(NULL);
    tr_result cr = {0};
    if (tr_profile_commit(&p, TR_ORIGIN_ADMIN, &cr) == ERR_SUCC) answer(r, 0, NULL, NULL);
    else answer(r, cr.code, NULL, "%s", cr.desc);
    free(cr.json);
    tr_profile_clear(&p);
}

static void portrait_get(const json_t* body, tr_result* r) {
    const json_t* to = json_object_get(body, "To_Account");
    const json_t* tags = json_object_get(body, "TagList");
    if (!json_is_array(to) || json_array_size(to) == 0)
        return answer(r, ERR_SVR_PROFILE_INVALID_PARAMETERS, NULL, "To_Account must be a non-empty array");
    if (!json_is_array(tags) || json_array_size(tags) == 0)
        return answer(r, ERR_SVR_PROFILE_INVALID_PARAMETERS, NULL, "TagList must be a non-empty array");
    size_t i, k;
    const json_t* t;
    json_array_foreach(tags, k, t) {
        if (!json_is_string(t)) return answer(r, ERR_SVR_PROFILE_INVALID_PARAMETERS, NULL, "TagList[%zu] is not a string", k);
        const char* s = json_string_value(t);
        char full[TR_CUSTOM_KEY_SIZE];
        bool custom = strncmp(s, TR_CUSTOM_PREFIX, TR_CUSTOM_PREFIX_LEN) == 0 && tr_custom_key_full(s, full);
        if (field_by_tag(s) < 0 && !custom)
            return answer(r, ERR_SVR_PROFILE_TAG_NOT_FOUND, NULL, "unknown tag %.64s", s);
    }
    json_t* out = json_array();
    if (!out) return answer(r, ERR_OUT_OF_MEMORY, NULL, "out of memory");
    const json_t* a;
    json_array_foreach(to, i, a) {
        const char* id = json_string_value(a);
        if (!id || !tr_id_valid(id, json_string_length(a))) {
            json_decref(out);
            return answer(r, ERR_SVR_PROFILE_INVALID_PARAMETERS, NULL, "To_Account[%zu] is not a valid identifier", i);
        }
        const tr_profile* p;
        int rc = tr_profile_get(id, &p);
        if (rc != TR_OK && rc != TR_NOTFOUND) {
            json_decref(out);
            return answer(r, ERR_IO_OPERATION_FAILED, NULL, "store: %s", tr_store_errmsg(tr_g.store));
        }
        json_t* items = json_array();
        if (rc == TR_OK) {
            json_array_foreach(tags, k, t) {
                const char* s = json_string_value(t);
                int f = field_by_tag(s);
                json_t* v = NULL;
                if (f >= 0) {
                    v = tag_value(p, f);
                } else {
                    for (size_t c = 0; c < p->n_custom && !v; c++)
                        if (strcmp(p->custom[c].key, s) == 0) v = json_string(p->custom[c].value);
                    if (!v) continue; /* unset custom fields are left out */
                }
                json_array_append_new(items, json_pack("{ssso}", "Tag", s, "Value", v));
            }
        }
        json_array_append_new(out, json_pack("{sssosiss}", "To_Account", id, "ProfileItem", items, "ResultCode",
                                             rc == TR_OK ? 0 : ERR_SVR_PROFILE_ACCOUNT_NOT_FOUND, "ResultInfo",
                                             rc == TR_OK ? "" : "account does not exist"));
    }
    answer(r, 0, json_pack("{so}", "UserProfileItem", out), NULL);
}

/* ---- presence ------------------------------------------------------------------- */

static void query_online_status(const json_t* body, tr_result* r) {
    const json_t* to = json_object_get(body, "To_Account");
    if (!json_is_array(to) || json_array_size(to) == 0)
        return answer(r, REST_ERR_PARAM, NULL, "To_Account must be a non-empty array");
    json_t* res = json_array();
    json_t* errs = json_array();
    if (!res || !errs) {
        json_decref(res);
        json_decref(errs);
        return answer(r, ERR_OUT_OF_MEMORY, NULL, "out of memory");
    }
    size_t i;
    const json_t* a;
    json_array_foreach(to, i, a) {
        const char* id = json_string_value(a);
        if (!id || !tr_id_valid(id, json_string_length(a))) {
            json_decref(res);
            json_decref(errs);
            return answer(r, REST_ERR_PARAM, NULL, "To_Account[%zu] is not a valid identifier", i);
        }
        tr_status s;
        int rc = tr_store_status_load(tr_g.store, id, &s);
        if (rc == TR_NOTFOUND) {
            json_array_append_new(errs, json_pack("{sssi}", "To_Account", id, "ErrorCode", REST_ERR_NO_ACCOUNT));
            continue;
        }
        if (rc != TR_OK) {
            json_decref(res);
            json_decref(errs);
            return answer(r, ERR_IO_OPERATION_FAILED, NULL, "store: %s", tr_store_errmsg(tr_g.store));
        }
        json_array_append_new(res, json_pack("{ssss}", "To_Account", id, "Status",
                                             s.type == kTIMUserStatusType_Online ? "Online" : "Offline"));
        tr_status_clear(&s);
    }
    answer(r, 0, json_pack("{soso}", "QueryResult", res, "ErrorList", errs), NULL);
}

static void set_user_status(const json_t* body, tr_result* r) {
    const char* id = get_id(body, "UserID", ERR_INVALID_PARAMETERS, r);
    if (!id) return;
    const json_t* type = json_object_get(body, "StatusType");
    const json_t* custom = json_object_get(body, "CustomStatus");
    if (!json_is_integer(type) || json_integer_value(type) < 1 || json_integer_value(type) > 3)
        return answer(r, ERR_INVALID_PARAMETERS, NULL, "StatusType must be 1 (Online), 2 (Offline) or 3 (UnLogined)");
    if (custom && !json_is_string(custom))
        return answer(r, ERR_INVALID_PARAMETERS, NULL, "CustomStatus must be a string");
    if (custom && json_string_length(custom) > TR_MAX_CUSTOM_STATUS_LEN)
        return answer(r, ERR_INVALID_PARAMETERS, NULL, "CustomStatus is longer than %d bytes", TR_MAX_CUSTOM_STATUS_LEN);
    int t = (int)json_integer_value(type);
    tr_store* st = tr_g.store;
    char token[64];
    snprintf(token, sizeof token, "admin:%s", id);
    if (tr_store_begin(st) != TR_OK) {
        store_failed(r);
        return;
    }
    int rc = tr_store_account_exists(st, id);
    if (rc == TR_NOTFOUND) {
        tr_store_rollback(st);
        return answer(r, REST_ERR_NO_ACCOUNT, NULL, "account %s does not exist", id);
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
    if (rc != TR_OK || tr_store_commit(st) != TR_OK) {
        store_failed(r);
        return;
    }
    tr_feed_mark();
    answer(r, 0, NULL, NULL);
}

/* ---- dispatch ---------------------------------------------------------------------- */

static const struct {
    const char* api;
    void (*fn)(const json_t* body, tr_result* r);
} k_apis[] = {
    {"v4/im_open_login_svc/account_import", account_import},
    {"v4/im_open_login_svc/multiaccount_import", multiaccount_import},
    {"v4/im_open_login_svc/account_delete", account_delete},
    {"v4/profile/portrait_get", portrait_get},
    {"v4/profile/portrait_set", portrait_set},
    {"v4/openim/query_online_status", query_online_status},
    {"ref/set_user_status", set_user_status},
};

void tr_job_admin(tr_job* j, tr_result* r) {
    const char* api = j->s1;
    if (*api == '/') api++;
    for (size_t i = 0; i < sizeof k_apis / sizeof k_apis[0]; i++)
        if (strcmp(k_apis[i].api, api) == 0) return k_apis[i].fn(j->arg, r);
    answer(r, ERR_INVALID_PARAMETERS, NULL, "unknown api \"%.64s\"", api);
}
