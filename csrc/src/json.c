/*
 * json.c - reading the calls' JSON arguments (parsing, identifiers, custom
 * keys, id lists) and writing JSON answers (tr_buf, tr_answer_texts).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_internal.h"

char* tr_json_dump(const json_t* j) {
    return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

/* Deepest nesting of arrays and objects, strings skipped; stops past limit. */
static int exceeds_depth(const char* s, size_t len, int limit) {
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) return 1;
        } else if (c == ']' || c == '}') {
            depth--;
        }
    }
    return 0;
}

/*
 * A copy of the text with every number too large for jansson clamped: an
 * integer literal beyond 64 bits becomes the 64-bit extreme of its sign, a
 * real beyond double range +-1e300.  Both stay outside every range the calls
 * accept, so they are refused for their value (40605, tr_field_set, which
 * does not print such an extreme: the caller did not send it), not as "not
 * JSON".  NULL when memory runs out.
 */
static char* clamp_numbers(const char* s, size_t len, size_t* out_len) {
    tr_buf b = {0};
    size_t i = 0, from = 0;
    bool in_str = false;
    while (i < len) {
        char c = s[i];
        if (in_str) {
            if (c == '\\') i++;
            else if (c == '"') in_str = false;
            i++;
            continue;
        }
        if (c == '"') {
            in_str = true;
            i++;
            continue;
        }
        if (c != '-' && !(c >= '0' && c <= '9')) {
            i++;
            continue;
        }
        size_t start = i;
        bool neg = c == '-', real = false;
        if (neg) i++;
        size_t digits = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') i++, digits++;
        while (i < len && (s[i] == '.' || s[i] == 'e' || s[i] == 'E' || s[i] == '+' || s[i] == '-' ||
                           (s[i] >= '0' && s[i] <= '9')))
            i++, real = true;
        const char* repl = NULL;
        if (!real && digits > 18) {
            errno = 0;
            (void)strtoll(s + start, NULL, 10); /* the token ends where strtoll stops */
            if (errno == ERANGE) repl = neg ? "-9223372036854775808" : "9223372036854775807";
        } else if (real) {
            char tmp[512];
            size_t n = i - start < sizeof tmp - 1 ? i - start : sizeof tmp - 1;
            memcpy(tmp, s + start, n);
            tmp[n] = '\0';
            errno = 0;
            double d = strtod(tmp, NULL);
            if (errno == ERANGE && (d > 1.0 || d < -1.0)) repl = neg ? "-1e300" : "1e300";
        }
        if (repl) {
            if (!tr_buf_add(&b, s + from, start - from) || !tr_buf_add(&b, repl, strlen(repl))) {
                free(b.p);
                return NULL;
            }
            from = i;
        }
    }
    if (!tr_buf_add(&b, s + from, len - from)) {
        free(b.p);
        return NULL;
    }
    *out_len = b.len;
    return b.p;
}

/*
 * The arguments tim_py and most callers send, read without jansson's parser: an array of strings
 * (`["a","b"]`), or an object of one key whose value is one (`{"k":["a"]}`), written compactly,
 * every string printable ASCII without '"' or '\\'.  Such a text is JSON that the parser accepts
 * into exactly the tree built here (no escape, no duplicate key, valid UTF-8, depth 2), so only
 * the parse's cost changes: the lexer, its buffer and its checks, on the caller's thread.
 * Returns the tree, or NULL for any other text (and when memory runs out: the parser then
 * reports it as it always did).
 */
static const char* plain_string(const char* p, const char* end, const char** s, size_t* n) {
    if (p >= end || *p != '"') return NULL;
    const char* start = ++p;
    for (; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *s = start;
            *n = (size_t)(p - start);
            return p + 1;
        }
        if (c < 0x20 || c > 0x7e || c == '\\') return NULL;
    }
    return NULL;
}

static json_t* plain_tree(const char* text, size_t len, int shape) {
    const char *p = text, *end = text + len, *s, *key = NULL;
    size_t n, key_len = 0;
    if (shape == TR_JSON_OBJECT) {
        if (p >= end || *p != '{') return NULL;
        p = plain_string(p + 1, end, &key, &key_len);
        if (!p || p >= end || *p++ != ':') return NULL;
    } else if (shape != TR_JSON_ARRAY) {
        return NULL;
    }
    if (p >= end || *p++ != '[') return NULL;
    json_t* arr = json_array();
    if (!arr) return NULL;
    if (p < end && *p == ']') {
        p++;
    } else {
        for (;;) {
            p = plain_string(p, end, &s, &n);
            if (!p || json_array_append_new(arr, json_stringn_nocheck(s, n)) != 0) goto fail;
            if (p < end && *p == ',') {
                p++;
                continue;
            }
            if (p < end && *p == ']') {
                p++;
                break;
            }
            goto fail;
        }
    }
    if (shape == TR_JSON_ARRAY) {
        if (p != end) goto fail;
        return arr;
    }
    if (p >= end || *p++ != '}' || p != end) goto fail;
    json_t* obj = json_object();
    char* k = obj ? strndup(key, key_len) : NULL; /* jansson's keys are NUL-terminated */
    if (!k) {
        json_decref(obj);
        goto fail;
    }
    int rc = json_object_set_new_nocheck(obj, k, arr); /* takes arr, even when it fails */
    free(k);
    if (rc != 0) {
        json_decref(obj);
        return NULL;
    }
    return obj;
fail:
    json_decref(arr);
    return NULL;
}

int tr_json_parse(const char* text, size_t len, int shape, json_t** out) {
    *out = NULL;
    if ((*out = plain_tree(text, len, shape))) return TIM_SUCC;
    if (exceeds_depth(text, len, TR_MAX_DEPTH))
        return tr_refuse(TIM_ERR_JSON, "JSON nested deeper than %d levels", TR_MAX_DEPTH);
    json_error_t err;
    json_t* j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!j && json_error_code(&err) == json_error_numeric_overflow) {
        size_t n;
        char* clamped = clamp_numbers(text, len, &n);
        if (clamped) j = json_loadb(clamped, n, JSON_REJECT_DUPLICATES, &err);
        free(clamped);
    }
    if (!j)
        return tr_refuse(TIM_ERR_JSON, "not valid JSON%s: %s at line %d, column %d",
                         json_error_code(&err) == json_error_invalid_utf8 ? " (invalid UTF-8)" : "", err.text,
                         err.line, err.column);
    if ((shape == TR_JSON_OBJECT && !json_is_object(j)) ||
        (shape == TR_JSON_ARRAY && !json_is_array(j))) {
        const char* got = json_is_object(j) ? "an object" : json_is_array(j) ? "an array" : "a scalar";
        json_decref(j);
        return tr_refuse(TIM_ERR_JSON, "expected a JSON %s, got %s",
                         shape == TR_JSON_OBJECT ? "object" : "array", got);
    }
    *out = j;
    return TIM_SUCC;
}

bool tr_id_valid(const char* s, size_t len) {
    if (len == 0 || len > TR_MAX_ID_LEN) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c > 0x7e) return false;
    }
    return true;
}

bool tr_custom_key_full(const char* key, char out[TR_CUSTOM_KEY_SIZE]) {
    const char* name = key;
    if (strncmp(key, TR_CUSTOM_PREFIX, TR_CUSTOM_PREFIX_LEN) == 0) name += TR_CUSTOM_PREFIX_LEN;
    size_t n = strlen(name);
    if (n == 0 || n > TR_MAX_CUSTOM_NAME) return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    }
    memcpy(out, TR_CUSTOM_PREFIX, TR_CUSTOM_PREFIX_LEN);
    memcpy(out + TR_CUSTOM_PREFIX_LEN, name, n + 1);
    return true;
}

/* Print an identifier safely into a desc: printable ASCII kept, the rest escaped. */
static void quote_id(char* buf, size_t size, const char* s, size_t len) {
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < size; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c <= 0x7e && c != '"' && c != '\\') buf[o++] = (char)c;
        else o += (size_t)snprintf(buf + o, size - o, "\\x%02x", c);
        if (i == 40) {
            o += (size_t)snprintf(buf + o, size - o, "...");
            break;
        }
    }
    buf[o] = '\0';
}

static uint32_t hash_bytes(const char* s, size_t len) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

/* Slots of the duplicate filter: a power of two, at least twice the ids it holds. */
#define DEDUPE_SLOTS 1024

int tr_id_list(const json_t* arr, size_t max, bool dedupe, const char*** ids, size_t* n, tr_result* r) {
    size_t total = json_array_size(arr);
    if (total > max) total = max;
    if (dedupe && total > DEDUPE_SLOTS / 2) return tr_fail(r, ERR_SDK_INTERNAL_ERROR, "identifier list too long");
    int16_t seen[DEDUPE_SLOTS]; /* index into *ids, -1 free: open addressing */
    if (dedupe) memset(seen, 0xff, sizeof seen);
    *n = 0;
    *ids = calloc(total ? total : 1, sizeof **ids);
    if (!*ids) return tr_store_fail(r, TR_ENOMEM);
    for (size_t i = 0; i < total; i++) {
        const json_t* v = json_array_get(arr, i);
        if (!json_is_string(v)) {
            free(*ids);
            *ids = NULL;
            return tr_fail(r, ERR_INVALID_PARAMETERS, "entry %zu of the identifier array is not a string", i);
        }
        const char* s = json_string_value(v);
        size_t len = json_string_length(v);
        if (!tr_id_valid(s, len) || strlen(s) != len) {
            char q[200];
            quote_id(q, sizeof q, s, len);
            free(*ids);
            *ids = NULL;
            return tr_fail(r, ERR_SDK_COMM_INVALID_IDENTIFIER,
                           "invalid identifier \"%s\" at entry %zu (1..32 printable ASCII bytes)", q, i);
        }
        if (dedupe) {
            uint32_t k = hash_bytes(s, len) & (DEDUPE_SLOTS - 1);
            while (seen[k] >= 0 && strcmp((*ids)[seen[k]], s) != 0) k = (k + 1) & (DEDUPE_SLOTS - 1);
            if (seen[k] >= 0) continue; /* asked before */
            seen[k] = (int16_t)*n;
        }
        (*ids)[(*n)++] = s;
    }
    return ERR_SUCC;
}

bool tr_buf_add(tr_buf* b, const char* s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        char* p = realloc(b->p, cap);
        if (!p) return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

void tr_answer_texts(tr_result* r, const char** ids, size_t n, int (*text_of)(const char*, const char**)) {
    /* Each text is copied out at once: a later lookup may evict an earlier entry. */
    tr_buf out = {0};
    size_t found = 0;
    int rc = TR_OK;
    for (size_t i = 0; i < n; i++) {
        const char* t;
        rc = text_of(ids[i], &t);
        if (rc == TR_NOTFOUND) continue;
        if (rc == TR_OK && !(tr_buf_add(&out, found ? "," : "[", 1) && tr_buf_add(&out, t, strlen(t))))
            rc = TR_ENOMEM;
        if (rc != TR_OK) break;
        found++;
    }
    if (rc == TR_OK || rc == TR_NOTFOUND) {
        if (!found) {
            free(out.p);
            tr_fail(r, ERR_SVR_PROFILE_ACCOUNT_NOT_FOUND, "none of the requested accounts exists");
            return;
        }
        if (tr_buf_add(&out, "]", 1)) {
            tr_succeed(r, out.p);
            return;
        }
        rc = TR_ENOMEM;
    }
    free(out.p);
    tr_store_fail(r, rc);
}
