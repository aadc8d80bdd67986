/*
 * profile.c - profile fields (their table and the one check of a value), the
 * profile cache, profile writes and the two profile calls.
 *
 * Reads far outnumber writes, so each cached profile keeps its JSON text
 * ready to send (one text for the user's own view, one for others'); a
 * lookup of many profiles is then a concatenation.  A change event for a user
 * (from this process or another) drops that user's entry.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tr_internal.h"

static const char* const k_gender_names[] = {"Gender_Type_Unknown", "Gender_Type_Male",
                                             "Gender_Type_Female", NULL};
static const char* const k_allow_names[] = {"AllowType_Type_Unknown", "AllowType_Type_AllowAny",
                                            "AllowType_Type_NeedConfirm", "AllowType_Type_DenyAny",
                                            NULL};
static const char* const k_forbid_names[] = {"AdminForbid_Type_None", "AdminForbid_Type_SendOut",
                                             NULL};

#define STR_FIELD(f, item, prof, tag) {f, item, prof, tag, true, 0, 0, NULL}
#define NUM_FIELD(f, item, prof, tag, lo, hi, names) {f, item, prof, tag, false, lo, hi, names}

const tr_field_desc tr_fields[TR_F_COUNT] = {
    STR_FIELD(TR_F_NICK, "user_profile_item_nick_name", "user_profile_nick_name", "Tag_Profile_IM_Nick"),
    NUM_FIELD(TR_F_GENDER, "user_profile_item_gender", "user_profile_gender", "Tag_Profile_IM_Gender",
              0, 2, k_gender_names),
    STR_FIELD(TR_F_FACE_URL, "user_profile_item_face_url", "user_profile_face_url", "Tag_Profile_IM_Image"),
    STR_FIELD(TR_F_SIGNATURE, "user_profile_item_self_signature", "user_profile_self_signature",
              "Tag_Profile_IM_SelfSignature"),
    NUM_FIELD(TR_F_ALLOW_TYPE, "user_profile_item_add_permission", "user_profile_add_permission",
              "Tag_Profile_IM_AllowType", 1, 3, k_allow_names),
    STR_FIELD(TR_F_LOCATION, "user_profile_item_location", "user_profile_location",
              "Tag_Profile_IM_Location"),
    NUM_FIELD(TR_F_LANGUAGE, "user_profile_item_language", "user_profile_language",
              "Tag_Profile_IM_Language", 0, UINT32_MAX, NULL),
    NUM_FIELD(TR_F_BIRTHDAY, "user_profile_item_birthday", "user_profile_birthday",
              "Tag_Profile_IM_BirthDay", 0, UINT32_MAX, NULL),
    NUM_FIELD(TR_F_LEVEL, "user_profile_item_level", "user_profile_level", "Tag_Profile_IM_Level", 0,
              UINT32_MAX, NULL),
    NUM_FIELD(TR_F_ROLE, "user_profile_item_role", "user_profile_role", "Tag_Profile_IM_Role", 0,
              UINT32_MAX, NULL),
    NUM_FIELD(TR_F_MSG_SETTINGS, "user_profile_item_message_settings", "user_profile_message_settings",
              "Tag_Profile_IM_MsgSettings", 0, 1, NULL),
    NUM_FIELD(TR_F_FORBID, "user_profile_item_admin_forbid_type", "user_profile_admin_forbid_type",
              "Tag_Profile_IM_AdminForbidType", 0, 1, k_forbid_names),
};

const tr_field_desc* tr_field_find(const char* name, bool by_tag) {
    for (int f = 0; f < TR_F_COUNT; f++)
        if (strcmp(by_tag ? tr_fields[f].tag : tr_fields[f].item_key, name) == 0) return &tr_fields[f];
    return NULL;
}

int tr_profile_set_str(tr_profile* p, int field, const char* value) {
    char* s = strdup(value);
    if (!s) return TR_ENOMEM;
    free(p->str[field]);
    p->str[field] = s;
    return TR_OK;
}

/* The number an enum name stands for, or -1. */
static json_int_t name_value(const tr_field_desc* d, const char* s) {
    for (int k = 0; d->names[k]; k++)
        if (strcmp(d->names[k], s) == 0) return k;
    return -1;
}

int tr_field_set(tr_profile* p, const tr_field_desc* d, const json_t* v, const char* name, bool names_ok,
                 tr_result* r) {
    if (d->is_string) {
        if (!json_is_string(v)) return tr_fail(r, ERR_SVR_PROFILE_INVALID_VALUE_FORMAT, "%s: expected a string", name);
        if (json_string_length(v) > TR_MAX_VALUE_LEN)
            return tr_fail(r, ERR_SVR_PROFILE_SIZE_LIMIT, "%s: %zu bytes, at most %d", name, json_string_length(v),
                           TR_MAX_VALUE_LEN);
        int rc = tr_profile_set_str(p, d->field, json_string_value(v));
        return rc == TR_OK ? ERR_SUCC : tr_store_fail(r, rc);
    }
    bool by_name = names_ok && d->names;
    json_int_t x;
    if (by_name && json_is_string(v)) {
        if ((x = name_value(d, json_string_value(v))) < 0)
            return tr_fail(r, ERR_SVR_PROFILE_VALUE_ERROR, "%s: unknown value %.64s", name, json_string_value(v));
    } else if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (by_name) {
        return tr_fail(r, ERR_SVR_PROFILE_INVALID_VALUE_FORMAT, "%s: expected a name such as \"%s\" or an integer",
                       name, d->names[d->min]);
    } else {
        return tr_fail(r, ERR_SVR_PROFILE_INVALID_VALUE_FORMAT, "%s: expected an integer", name);
    }
    if (x < (json_int_t)d->min || x > (json_int_t)d->max) {
        /* The parser clamps an integer beyond 64 bits to these (json.c): print no
         * value the caller may never have sent. */
        if (x == INT64_MAX || x == INT64_MIN)
            return tr_fail(r, ERR_SVR_PROFILE_VALUE_ERROR, "%s: a number at or beyond the 64-bit limit is outside %u..%u",
                           name, d->min, d->max);
        return tr_fail(r, ERR_SVR_PROFILE_VALUE_ERROR, "%s: %lld is outside %u..%u", name, (long long)x, d->min,
                       d->max);
    }
    p->num[d->field] = (uint32_t)x;
    return ERR_SUCC;
}

#define CUSTOM_ITEM_KEY "user_profile_item_custom_string_array"
#define CUSTOM_KEY_KEY "user_profile_custom_string_info_key"
#define CUSTOM_VALUE_KEY "user_profile_custom_string_info_value"

/* ---- JSON ------------------------------------------------------------------- */

json_t* tr_profile_json(const tr_profile* p, bool self) {
    json_t* o = json_object();
    json_t* custom = json_array();
    if (!o || !custom) {
        json_decref(o);
        json_decref(custom);
        return NULL;
    }
    int bad = json_object_set_new(o, "user_profile_identifier", json_string(p->id));
    for (int f = 0; f < TR_F_COUNT; f++) {
        const tr_field_desc* d = &tr_fields[f];
        json_t* v;
        if (d->is_string) v = json_string(p->str[f] ? p->str[f] : "");
        else v = json_integer(f == TR_F_ALLOW_TYPE && !self ? 0 : (json_int_t)p->num[f]);
        bad |= json_object_set_new(o, d->profile_key, v);
        if (f == TR_F_FACE_URL) bad |= json_object_set_new(o, "user_profile_friend_remark", json_string(""));
    }
    for (size_t i = 0; i < p->n_custom; i++)
        bad |= json_array_append_new(custom, json_pack("{ssss}", CUSTOM_KEY_KEY, p->custom[i].key,
                                                       CUSTOM_VALUE_KEY, p->custom[i].value));
    bad |= json_object_set_new(o, "user_profile_custom_string_array", custom);
    bad |= json_object_set_new(o, "user_profile_last_updated_time", json_integer(p->last_updated));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- cache: id -> profile and its JSON texts ---------------------------------- */

typedef struct entry {
    tr_map_entry base; /* first: the map's part */
    tr_profile p;
    char* text[2];     /* [0] others' view, [1] own view; rendered on first use */
} entry;

/* Profiles kept in memory, with their JSON; beyond this, the least recently
 * inserted go (in clock order). */
#define CACHE_MAX_BYTES (64u << 20)

static void entry_free(tr_map_entry* base) {
    entry* e = (entry*)base;
    tr_profile_clear(&e->p);
    free(e->text[0]);
    free(e->text[1]);
    free(e);
}

static tr_map g_cache = TR_MAP_INIT(CACHE_MAX_BYTES, entry_free);

static size_t profile_bytes(const tr_profile* p) {
    size_t n = sizeof(entry);
    for (int f = 0; f < TR_F_COUNT; f++)
        if (p->str[f]) n += strlen(p->str[f]) + 1;
    for (size_t i = 0; i < p->n_custom; i++) n += strlen(p->custom[i].value) + 1;
    return n;
}

void tr_profile_cache_reset(void) { tr_map_clear(&g_cache); }

void tr_profile_cache_forget(const char* id) { tr_map_del(&g_cache, id); }

/* Look up, loading from the store on a miss. */
static int cache_get(const char* id, entry** out) {
    entry* e = (entry*)tr_map_get(&g_cache, id);
    if (e) {
        *out = e;
        return TR_OK;
    }
    e = calloc(1, sizeof *e);
    if (!e) return TR_ENOMEM;
    int rc = tr_store_profile_load(tr_g.store, id, &e->p);
    if (rc != TR_OK) {
        free(e);
        return rc;
    }
    snprintf(e->base.key, sizeof e->base.key, "%s", id);
    e->base.bytes = profile_bytes(&e->p);
    if (!tr_map_put(&g_cache, &e->base)) {
        entry_free(&e->base);
        return TR_ENOMEM;
    }
    *out = e;
    return TR_OK;
}

/*
 * The cache misses among ids, read from the store at once (one round trip on a
 * server) and put in the cache; ids is then left with the IDs that have an
 * account, in their order (*n shrinks).  What a lookup sees after this is what
 * looking each one up would have seen.
 */
static int cache_fill(const char** ids, size_t* n) {
    if (*n == 0) return TR_OK;
    const char** miss = malloc(*n * sizeof *miss);
    tr_profile* got = calloc(*n, sizeof *got);
    bool* found = calloc(*n, sizeof *found);
    size_t m = 0;
    int rc = miss && got && found ? TR_OK : TR_ENOMEM;
    for (size_t i = 0; rc == TR_OK && i < *n; i++)
        if (!tr_map_get(&g_cache, ids[i])) miss[m++] = ids[i];
    if (rc == TR_OK && m > 0) rc = tr_store_profile_load_many(tr_g.store, miss, m, got, found);
    for (size_t i = 0; rc == TR_OK && i < m; i++) {
        if (!found[i]) continue;
        entry* e = calloc(1, sizeof *e);
        if (!e) {
            rc = TR_ENOMEM;
            break;
        }
        e->p = got[i];
        memset(&got[i], 0, sizeof got[i]); /* the entry owns it now */
        snprintf(e->base.key, sizeof e->base.key, "%s", e->p.id);
        e->base.bytes = profile_bytes(&e->p);
        if (!tr_map_put(&g_cache, &e->base)) {
            entry_free(&e->base);
            rc = TR_ENOMEM;
        }
    }
    if (rc == TR_OK && m > 0) { /* drop the IDs without an account */
        size_t k = 0, mi = 0;
        for (size_t i = 0; i < *n; i++) {
            bool missing = mi < m && miss[mi] == ids[i] && !found[mi++];
            if (!missing) ids[k++] = ids[i];
        }
        *n = k;
    }
    for (size_t i = 0; got && i < m; i++) tr_profile_clear(&got[i]);
    free(miss);
    free(got);
    free(found);
    return rc;
}

int tr_profile_get(const char* id, const tr_profile** out) {
    entry* e;
    int rc = cache_get(id, &e);
    if (rc == TR_OK) *out = &e->p;
    return rc;
}

int tr_profile_text(const char* id, bool self, const char** out) {
    entry* e;
    int rc = cache_get(id, &e);
    if (rc != TR_OK) return rc;
    if (!e->text[self]) {
        json_t* j = tr_profile_json(&e->p, self);
        e->text[self] = j ? tr_json_dump(j) : NULL;
        json_decref(j);
        if (!e->text[self]) return TR_ENOMEM;
        tr_map_add_bytes(&g_cache, &e->base, strlen(e->text[self]) + 1);
    }
    *out = e->text[self];
    return TR_OK;
}

/* ---- custom fields -------------------------------------------------------------- */

static int cmp_custom(const void* a, const void* b) {
    return strcmp(((const tr_custom*)a)->key, ((const tr_custom*)b)->key);
}

int tr_profile_apply_custom(tr_profile* p, const json_t* arr, const char* key_name, tr_result* r) {
    if (!json_is_array(arr))
        return tr_fail(r, ERR_SVR_PROFILE_INVALID_VALUE_FORMAT, "%s: expected an array", key_name);
    size_t n = json_array_size(arr);
    if (n > TR_MAX_CUSTOM)
        return tr_fail(r, ERR_INVALID_PARAMETERS, "%s: %zu entries, at most %d in one call", key_name, n,
                       TR_MAX_CUSTOM);
    char keys[TR_MAX_CUSTOM][TR_CUSTOM_KEY_SIZE];
    const char* values[TR_MAX_CUSTOM];
    for (size_t i = 0; i < n; i++) {
        const json_t* e = json_array_get(arr, i);
        if (!json_is_object(e))
            return tr_fail(r, ERR_SVR_PROFILE_INVALID_VALUE_FORMAT, "%s[%zu]: expected an object", key_name, i);
        const json_t* k = json_object_get(e, CUSTOM_KEY_KEY);
        const json_t* v = json_object_get(e, CUSTOM_VALUE_KEY);
        if (!k) return tr_fail(r, ERR_INVALID_PARAMETERS, "%s[%zu]: " CUSTOM_KEY_KEY " is missing", key_name, i);
        if (!v) return tr_fail(r, ERR_INVALID_PARAMETERS, "%s[%zu]: " CUSTOM_VALUE_KEY " is missing", key_name, i);
        if (!json_is_string(k))
            return tr_fail(r, ERR_SVR_PROFILE_INVALID_VALUE_FORMAT, "%s[%zu]: " CUSTOM_KEY_KEY " must be a string",
                           key_name, i);
        if (!json_is_string(v))
            return tr_fail(r, ERR_SVR_PROFILE_INVALID_VALUE_FORMAT,
                           "%s[%zu]: " CUSTOM_VALUE_KEY " must be a string", key_name, i);
        const char* ks = json_string_value(k);
        if (strlen(ks) >= 64 || !tr_custom_key_full(ks, keys[i]))
            return tr_fail(r, ERR_SDK_FRIENDSHIP_INVALID_PROFILE_KEY,
                           "%s[%zu]: invalid custom key \"%.64s\" (" TR_CUSTOM_KEY_RULE ")", key_name, i, ks);
        if (!tr_custom_key_allowed(keys[i]))
            return tr_fail(r, ERR_SVR_PROFILE_TAG_NOT_FOUND, "%s[%zu]: custom key %s is not allowed by the app",
                           key_name, i, keys[i]);
        for (size_t k2 = 0; k2 < i; k2++)
            if (strcmp(keys[k2], keys[i]) == 0)
                return tr_fail(r, ERR_INVALID_PARAMETERS, "%s: custom key %s given twice", key_name, keys[i]);
        if (json_string_length(v) > TR_MAX_VALUE_LEN)
            return tr_fail(r, ERR_SVR_PROFILE_SIZE_LIMIT, "%s: value of %s is %zu bytes, at most %d", key_name,
                           keys[i], json_string_length(v), TR_MAX_VALUE_LEN);
        values[i] = json_string_value(v);
    }
    /* Merge into a scratch list first, so p changes only on success. */
    tr_custom merged[2 * TR_MAX_CUSTOM];
    size_t m = 0;
    for (size_t i = 0; i < p->n_custom; i++) {
        merged[m] = p->custom[i];
        merged[m++].value = p->custom[i].value;
    }
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < m && strcmp(merged[k].key, keys[i]) != 0) k++;
        if (k == m) {
            memcpy(merged[m].key, keys[i], sizeof merged[m].key);
            m++;
        }
        merged[k].value = (char*)values[i]; /* borrowed for now */
    }
    size_t live = 0;
    for (size_t k = 0; k < m; k++)
        if (merged[k].value[0]) live++;
    if (live > TR_MAX_CUSTOM)
        return tr_fail(r, ERR_INVALID_PARAMETERS, "%s: a user holds at most %d custom fields (this would make %zu)",
                       key_name, TR_MAX_CUSTOM, live);
    /* Commit: build the new list with owned copies. */
    tr_custom out[TR_MAX_CUSTOM];
    size_t o = 0;
    for (size_t k = 0; k < m; k++) {
        if (!merged[k].value[0]) continue;
        out[o] = merged[k];
        out[o].value = strdup(merged[k].value);
        if (!out[o].value) {
            for (size_t x = 0; x < o; x++) free(out[x].value);
            return tr_store_fail(r, TR_ENOMEM);
        }
        o++;
    }
    for (size_t i = 0; i < p->n_custom; i++) free(p->custom[i].value);
    qsort(out, o, sizeof out[0], cmp_custom);
    memcpy(p->custom, out, o * sizeof out[0]);
    p->n_custom = o;
    return ERR_SUCC;
}

/* ---- writes ------------------------------------------------------------------------ */

int tr_profile_commit(const tr_profile* p, bool create, const char* origin, tr_result* r) {
    tr_store* st = tr_g.store;
    int rc = tr_store_begin(st);
    if (rc == TR_OK && create) rc = tr_store_account_ensure(st, p->id, NULL);
    if (rc == TR_OK) rc = tr_store_profile_save(st, p);
    if (rc == TR_NOTFOUND) {
        tr_store_rollback(st);
        return tr_fail(r, ERR_SVR_PROFILE_ACCOUNT_NOT_FOUND, "account %s does not exist", p->id);
    }
    if (rc == TR_OK) rc = tr_store_event_add(st, TR_EVT_PROFILE, p->id, origin);
    return tr_commit(rc, r);
}

/* ---- the calls ------------------------------------------------------------------------ */

/* A profile's text as the logged-in user sees it (own add permission only). */
static int viewed_profile_text(const char* id, const char** out) {
    return tr_profile_text(id, tr_g.logged_in && strcmp(id, tr_g.user_id) == 0, out);
}

void tr_job_get_profiles(tr_job* j, tr_result* r) {
    const json_t* arr = json_object_get(j->arg, "friendship_getprofilelist_param_identifier_array");
    if (!arr || (json_is_array(arr) && json_array_size(arr) == 0))
        return (void)tr_fail(r, ERR_SVR_PROFILE_ACCOUNT_MISS,
                             "friendship_getprofilelist_param_identifier_array is missing or empty");
    if (!json_is_array(arr))
        return (void)tr_fail(r, ERR_INVALID_PARAMETERS,
                             "friendship_getprofilelist_param_identifier_array must be an array");
    const char** ids;
    size_t n;
    if (tr_id_list(arr, TR_MAX_PROFILE_IDS, true, &ids, &n, r) != ERR_SUCC) return;
    int rc = cache_fill(ids, &n);
    if (rc != TR_OK) tr_store_fail(r, rc);
    else tr_answer_texts(r, ids, n, viewed_profile_text);
    free(ids);
}

void tr_job_modify_profile(tr_job* j, tr_result* r) {
    if (json_object_size(j->arg) == 0)
        return (void)tr_fail(r, ERR_INVALID_PARAMETERS, "nothing to modify: the object is empty");
    const tr_profile* cur;
    tr_profile p;
    int rc = tr_profile_get(tr_g.user_id, &cur);
    /* Deleted by the admin while logged in: a successful change recreates it. */
    bool create = rc == TR_NOTFOUND;
    if (create) tr_profile_init(&p, tr_g.user_id);
    else if (rc != TR_OK || (rc = tr_profile_copy(&p, cur)) != TR_OK) return (void)tr_store_fail(r, rc);
    const char* key;
    json_t* v;
    json_object_foreach(j->arg, key, v) {
        const tr_field_desc* d;
        if (strcmp(key, CUSTOM_ITEM_KEY) == 0) rc = tr_profile_apply_custom(&p, v, key, r);
        else if ((d = tr_field_find(key, false))) rc = tr_field_set(&p, d, v, key, false, r);
        else rc = tr_fail(r, ERR_INVALID_PARAMETERS, "unknown key \"%.64s\"", key);
        if (rc != ERR_SUCC) break;
    }
    if (rc == ERR_SUCC) {
        p.last_updated = (int64_t)time(NULL);
        if (tr_profile_commit(&p, create, tr_origin_self(), r) == ERR_SUCC) tr_succeed(r, NULL);
    }
    tr_profile_clear(&p);
}
