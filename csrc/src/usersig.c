/*
 * usersig.c - UserSig (version 2) verification and generation.  See usersig.h
 * and docs/contract.md 3.7.
 *
 * Layers, outside in: url-safe base64 ('*', '-', '_' for '+', '/', '=') of a
 * zlib stream of the text of a JSON object.  The object's TLS.sig is the
 * standard base64 of HMAC-SHA256(key, content), where content is
 *   "TLS.identifier:" id "\n" "TLS.sdkappid:" appid "\n" "TLS.time:" time "\n"
 *   "TLS.expire:" expire "\n" [ "TLS.userbuf:" userbuf "\n" ]
 * with the numbers in decimal.
 *
 * Verification bounds every length before it works on the data: the text is
 * at most TR_USERSIG_MAX_LEN bytes, the inflated JSON at most
 * TR_USERSIG_MAX_JSON bytes (inflating into a fixed buffer and failing when it
 * would overflow).  The signature is checked (in constant time) before the
 * identifier, app id and expiry, so a forged sig learns nothing but 70003.
 *
 * No global state: every call works on its own buffers, so both functions are
 * safe to call from any thread.
 */
#include "usersig.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include "TIMErrorCode.h"

#define TR_US_CHECK_FAILED ERR_SVR_ACCOUNT_USERSIG_CHECK_FAILED
#define TR_US_EXPIRED ERR_SVR_ACCOUNT_USERSIG_EXPIRED
#define TR_US_MISMATCH_ID ERR_SVR_ACCOUNT_USERSIG_MISMATCH_ID
#define TR_US_MISMATCH_APP ERR_SVR_ACCOUNT_USERSIG_MISMATCH_SDKAPPID

/* The largest json_int_t: JSON numbers are signed 64-bit in jansson. */
#if JSON_INTEGER_IS_LONG_LONG
#define TR_US_JSON_INT_MAX LLONG_MAX
#else
#define TR_US_JSON_INT_MAX LONG_MAX
#endif

#define TR_US_HMAC_LEN 32
/* Standard base64 of the 32-byte HMAC: 44 characters with one '='. */
#define TR_US_SIG_B64_LEN 44

/* The 62nd and 63rd characters of each alphabet, and its padding. */
static const char tr_us_std_extra[3] = {'+', '/', '='};
static const char tr_us_url_extra[3] = {'*', '-', '_'};

/* ------------------------------------------------------------------------ */
/* desc */

static void tr_us_desc(char* desc, size_t desc_len, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void tr_us_desc(char* desc, size_t desc_len, const char* fmt, ...) {
    if (!desc || desc_len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(desc, desc_len, fmt, ap);
    va_end(ap);
    if (n < 0) desc[0] = '\0';
    /* Parser messages may quote the input: keep desc printable ASCII. */
    for (char* p = desc; *p; p++) {
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) *p = '?';
    }
}

/* ------------------------------------------------------------------------ */
/* base64, either alphabet (extra = the 62nd, 63rd and padding characters) */

static int tr_us_b64_value(unsigned char c, const char extra[3]) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == (unsigned char)extra[0]) return 62;
    if (c == (unsigned char)extra[1]) return 63;
    return -1;
}

/* Bytes that decoding `len` characters can produce at most. */
static size_t tr_us_b64_max_decoded(size_t len) {
    return len / 4 * 3 + 2;
}

/*
 * Decode `len` characters of `in` into `out` (room for `cap` bytes).  Padding
 * is optional, but when present it must be exactly what the length calls for
 * and sit only at the end; unused bits of the last character must be zero, so
 * every byte string has one accepted encoding.  Returns 0, or -1 on any bad
 * character, bad length or bad padding.
 */
static int tr_us_b64_decode(const char* in, size_t len, const char extra[3], unsigned char* out,
                            size_t cap, size_t* out_len) {
    size_t pad = 0;
    while (pad < len && in[len - 1 - pad] == extra[2]) pad++;
    size_t n = len - pad; /* data characters */
    size_t rem = n % 4;
    if (rem == 1) return -1;
    if (pad) {
        if (len % 4 != 0) return -1;
        if (pad != (rem == 2 ? 2u : rem == 3 ? 1u : 0u)) return -1; /* also catches pad > 2 */
    }
    size_t need = n / 4 * 3 + (rem == 2 ? 1 : rem == 3 ? 2 : 0);
    if (need > cap) return -1;

    size_t o = 0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        int a = tr_us_b64_value((unsigned char)in[i], extra);
        int b = tr_us_b64_value((unsigned char)in[i + 1], extra);
        int c = tr_us_b64_value((unsigned char)in[i + 2], extra);
        int d = tr_us_b64_value((unsigned char)in[i + 3], extra);
        if (a < 0 || b < 0 || c < 0 || d < 0) return -1;
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        out[o++] = (unsigned char)(v >> 16);
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    if (rem == 2) {
        int a = tr_us_b64_value((unsigned char)in[i], extra);
        int b = tr_us_b64_value((unsigned char)in[i + 1], extra);
        if (a < 0 || b < 0 || (b & 0x0f) != 0) return -1;
        out[o++] = (unsigned char)((uint32_t)a << 2 | (uint32_t)b >> 4);
    } else if (rem == 3) {
        int a = tr_us_b64_value((unsigned char)in[i], extra);
        int b = tr_us_b64_value((unsigned char)in[i + 1], extra);
        int c = tr_us_b64_value((unsigned char)in[i + 2], extra);
        if (a < 0 || b < 0 || c < 0 || (c & 0x03) != 0) return -1;
        uint32_t v = (uint32_t)a << 10 | (uint32_t)b << 4 | (uint32_t)c >> 2;
        out[o++] = (unsigned char)(v >> 8);
        out[o++] = (unsigned char)v;
    }
    *out_len = o;
    return 0;
}

/* Encode with padding; returns a malloc'd NUL-terminated string or NULL. */
static char* tr_us_b64_encode(const unsigned char* in, size_t len, const char extra[3]) {
    static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    if (len > (SIZE_MAX - 1) / 4 * 3 - 3) return NULL;
    char* out = malloc((len + 2) / 3 * 4 + 1);
    if (!out) return NULL;
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | (uint32_t)in[i + 2];
        for (int k = 3; k >= 0; k--) {
            unsigned d = (v >> (6 * k)) & 0x3f;
            out[o++] = d < 62 ? digits[d] : extra[d - 62];
        }
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        unsigned d0 = (v >> 18) & 0x3f, d1 = (v >> 12) & 0x3f;
        out[o++] = d0 < 62 ? digits[d0] : extra[d0 - 62];
        out[o++] = d1 < 62 ? digits[d1] : extra[d1 - 62];
        out[o++] = extra[2];
        out[o++] = extra[2];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        unsigned d0 = (v >> 18) & 0x3f, d1 = (v >> 12) & 0x3f, d2 = (v >> 6) & 0x3f;
        out[o++] = d0 < 62 ? digits[d0] : extra[d0 - 62];
        out[o++] = d1 < 62 ? digits[d1] : extra[d1 - 62];
        out[o++] = d2 < 62 ? digits[d2] : extra[d2 - 62];
        out[o++] = extra[2];
    }
    out[o] = '\0';
    return out;
}

/* ------------------------------------------------------------------------ */
/* zlib */

/*
 * Inflate one complete zlib stream of `in_len` bytes into `out`, which has
 * room for cap + 1 bytes (the extra byte shows an over-long result as such).
 * Returns 0 with *out_len set; -1 when the stream is not zlib, is corrupt or
 * truncated, or is followed by other bytes; -2 when it inflates to more than
 * `cap` bytes; -3 when zlib runs out of memory.  Inflating stops as soon as
 * the buffer is full, whatever the stream would still produce.
 */
static int tr_us_inflate(const unsigned char* in, size_t in_len, unsigned char* out, size_t cap,
                         size_t* out_len) {
    if (in_len > UINT_MAX || cap >= UINT_MAX) return -1;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    zs.next_in = (Bytef*)(uintptr_t)in; /* zlib does not write through next_in */
    zs.avail_in = (uInt)in_len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap + 1;
    int rc = inflateInit(&zs);
    if (rc != Z_OK) return rc == Z_MEM_ERROR ? -3 : -1;
    int result;
    for (;;) {
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            if (zs.total_out > cap) result = -2;
            else result = zs.avail_in == 0 ? 0 : -1; /* bytes after the stream */
            break;
        }
        if (rc == Z_MEM_ERROR) {
            result = -3;
            break;
        }
        if (rc != Z_OK) { /* Z_DATA_ERROR, Z_NEED_DICT, Z_BUF_ERROR (truncated), ... */
            result = -1;
            break;
        }
        if (zs.avail_out == 0) { /* cap + 1 bytes out and the stream goes on */
            result = -2;
            break;
        }
    }
    if (result == 0) *out_len = zs.total_out;
    inflateEnd(&zs);
    return result;
}

/* ------------------------------------------------------------------------ */
/* the signed content and its HMAC */

/*
 * HMAC-SHA256 of the content over the given fields, into mac (32 bytes).
 * Returns 0, or -1 when memory runs out or OpenSSL fails.
 */
static int tr_us_hmac(const char* key, const char* id, uint64_t appid, uint64_t time,
                      uint64_t expire, const char* userbuf, unsigned char mac[TR_US_HMAC_LEN]) {
    size_t id_len = strlen(id);
    size_t ub_len = userbuf ? strlen(userbuf) : 0;
    /* Fixed text, three numbers of at most 20 digits, the strings. */
    size_t cap = 128 + 3 * 20 + id_len + ub_len;
    if (cap < id_len || cap < ub_len) return -1;
    char* msg = malloc(cap);
    if (!msg) return -1;
    int n = snprintf(msg, cap,
                     "TLS.identifier:%s\nTLS.sdkappid:%" PRIu64 "\nTLS.time:%" PRIu64
                     "\nTLS.expire:%" PRIu64 "\n",
                     id, appid, time, expire);
    if (n < 0 || (size_t)n >= cap) {
        free(msg);
        return -1;
    }
    size_t len = (size_t)n;
    if (userbuf) {
        int m = snprintf(msg + len, cap - len, "TLS.userbuf:%s\n", userbuf);
        if (m < 0 || (size_t)m >= cap - len) {
            free(msg);
            return -1;
        }
        len += (size_t)m;
    }
    size_t key_len = strlen(key);
    if (key_len > INT_MAX) {
        free(msg);
        return -1;
    }
    unsigned int mac_len = 0;
    unsigned char* r = HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char*)msg, len, mac,
                            &mac_len);
    OPENSSL_cleanse(msg, cap);
    free(msg);
    return (r && mac_len == TR_US_HMAC_LEN) ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* verify */

/*
 * A non-negative whole number: a JSON integer, or a string of decimal digits
 * in canonical form (no sign, no leading zero, fits in uint64).  Canonical,
 * so that the text that was signed is the number printed back.
 */
static int tr_us_get_uint(const json_t* v, uint64_t* out) {
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0) return -1;
        *out = (uint64_t)i;
        return 0;
    }
    if (json_is_string(v)) {
        const char* s = json_string_value(v);
        size_t len = json_string_length(v);
        if (len == 0 || len > 20 || strlen(s) != len) return -1;
        if (len > 1 && s[0] == '0') return -1;
        uint64_t x = 0;
        for (size_t i = 0; i < len; i++) {
            if (s[i] < '0' || s[i] > '9') return -1;
            unsigned d = (unsigned)(s[i] - '0');
            if (x > (UINT64_MAX - d) / 10) return -1;
            x = x * 10 + d;
        }
        *out = x;
        return 0;
    }
    return -1;
}

/* A JSON string without embedded NUL; returns its text or NULL. */
static const char* tr_us_get_str(const json_t* v) {
    if (!json_is_string(v)) return NULL;
    const char* s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) return NULL;
    return s;
}

int tr_usersig_verify(const char* sig, uint64_t sdk_app_id, const char* user_id, const char* key,
                      uint64_t now, char* desc, size_t desc_len) {
    return tr_usersig_verify_issued(sig, sdk_app_id, user_id, key, now, NULL, desc, desc_len);
}

int tr_usersig_verify_issued(const char* sig, uint64_t sdk_app_id, const char* user_id, const char* key,
                             uint64_t now, uint64_t* issued, char* desc, size_t desc_len) {
    if (issued) *issued = 0;
    tr_us_desc(desc, desc_len, "%s", "");
    if (!sig || !user_id || !key) {
        tr_us_desc(desc, desc_len, "usersig: %s is NULL", !sig ? "sig" : !user_id ? "user id" : "key");
        return TR_US_CHECK_FAILED;
    }

    /* 1. Length, before anything reads further. */
    size_t sig_len = strnlen(sig, (size_t)TR_USERSIG_MAX_LEN + 1);
    if (sig_len == 0) {
        tr_us_desc(desc, desc_len, "usersig: empty");
        return TR_US_CHECK_FAILED;
    }
    if (sig_len > TR_USERSIG_MAX_LEN) {
        tr_us_desc(desc, desc_len, "usersig: longer than %d bytes", TR_USERSIG_MAX_LEN);
        return TR_US_CHECK_FAILED;
    }

    int code = TR_US_CHECK_FAILED;
    unsigned char* raw = NULL;
    unsigned char* text = NULL;
    json_t* root = NULL;

    /* 2. url-safe base64. */
    size_t raw_cap = tr_us_b64_max_decoded(sig_len);
    size_t raw_len = 0;
    raw = malloc(raw_cap);
    if (!raw) {
        tr_us_desc(desc, desc_len, "usersig: out of memory");
        goto out;
    }
    if (tr_us_b64_decode(sig, sig_len, tr_us_url_extra, raw, raw_cap, &raw_len) != 0) {
        tr_us_desc(desc, desc_len, "usersig: bad base64");
        goto out;
    }

    /* 3. zlib, bounded output. */
    text = malloc((size_t)TR_USERSIG_MAX_JSON + 1);
    if (!text) {
        tr_us_desc(desc, desc_len, "usersig: out of memory");
        goto out;
    }
    size_t text_len = 0;
    int zr = tr_us_inflate(raw, raw_len, text, TR_USERSIG_MAX_JSON, &text_len);
    if (zr == -2) {
        tr_us_desc(desc, desc_len, "usersig: inflates beyond %d bytes", TR_USERSIG_MAX_JSON);
        goto out;
    }
    if (zr == -3) {
        tr_us_desc(desc, desc_len, "usersig: out of memory");
        goto out;
    }
    if (zr != 0) {
        tr_us_desc(desc, desc_len, "usersig: bad zlib data");
        goto out;
    }

    /* 4. JSON object. */
    json_error_t jerr;
    root = json_loadb((const char*)text, text_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        tr_us_desc(desc, desc_len, "usersig: bad json: %s", jerr.text);
        goto out;
    }
    if (!json_is_object(root)) {
        tr_us_desc(desc, desc_len, "usersig: json is not an object");
        goto out;
    }

    /* 5. Required fields, of the right types. */
    const char* ver = tr_us_get_str(json_object_get(root, "TLS.ver"));
    if (!ver || strcmp(ver, "2.0") != 0) {
        tr_us_desc(desc, desc_len, "usersig: TLS.ver missing or not \"2.0\"");
        goto out;
    }
    const char* ident = tr_us_get_str(json_object_get(root, "TLS.identifier"));
    if (!ident) {
        tr_us_desc(desc, desc_len, "usersig: TLS.identifier missing or not a string");
        goto out;
    }
    uint64_t appid = 0, t = 0, expire = 0;
    if (tr_us_get_uint(json_object_get(root, "TLS.sdkappid"), &appid) != 0) {
        tr_us_desc(desc, desc_len, "usersig: TLS.sdkappid missing or not a non-negative integer");
        goto out;
    }
    if (tr_us_get_uint(json_object_get(root, "TLS.time"), &t) != 0) {
        tr_us_desc(desc, desc_len, "usersig: TLS.time missing or not a non-negative integer");
        goto out;
    }
    if (tr_us_get_uint(json_object_get(root, "TLS.expire"), &expire) != 0) {
        tr_us_desc(desc, desc_len, "usersig: TLS.expire missing or not a non-negative integer");
        goto out;
    }
    const char* userbuf = NULL;
    json_t* ub = json_object_get(root, "TLS.userbuf");
    if (ub) {
        userbuf = tr_us_get_str(ub);
        if (!userbuf) {
            tr_us_desc(desc, desc_len, "usersig: TLS.userbuf not a string");
            goto out;
        }
    }
    json_t* sigv = json_object_get(root, "TLS.sig");
    const char* sig_b64 = tr_us_get_str(sigv);
    if (!sig_b64) {
        tr_us_desc(desc, desc_len, "usersig: TLS.sig missing or not a string");
        goto out;
    }
    unsigned char got[TR_US_HMAC_LEN + 3];
    size_t got_len = 0;
    size_t sig_b64_len = json_string_length(sigv);
    if (sig_b64_len != TR_US_SIG_B64_LEN ||
        tr_us_b64_decode(sig_b64, sig_b64_len, tr_us_std_extra, got, sizeof got, &got_len) != 0 ||
        got_len != TR_US_HMAC_LEN) {
        tr_us_desc(desc, desc_len, "usersig: TLS.sig is not base64 of %d bytes", TR_US_HMAC_LEN);
        goto out;
    }

    /* 6. Signature, in constant time, before anything else is believed. */
    unsigned char want[TR_US_HMAC_LEN];
    if (tr_us_hmac(key, ident, appid, t, expire, userbuf, want) != 0) {
        tr_us_desc(desc, desc_len, "usersig: cannot compute hmac");
        goto out;
    }
    int differ = CRYPTO_memcmp(want, got, TR_US_HMAC_LEN);
    OPENSSL_cleanse(want, sizeof want);
    if (differ != 0) {
        tr_us_desc(desc, desc_len, "usersig: bad signature");
        goto out;
    }

    /* 7. Whom and which app it was issued for. */
    if (strcmp(ident, user_id) != 0) {
        tr_us_desc(desc, desc_len, "usersig: issued for another identifier");
        code = TR_US_MISMATCH_ID;
        goto out;
    }
    if (appid != sdk_app_id) {
        tr_us_desc(desc, desc_len, "usersig: issued for sdkappid %" PRIu64, appid);
        code = TR_US_MISMATCH_APP;
        goto out;
    }

    /* 8. Expiry: now > time + expire, where a sum past UINT64_MAX never expires. */
    if (expire <= UINT64_MAX - t && now > t + expire) {
        tr_us_desc(desc, desc_len, "usersig: expired at %" PRIu64, t + expire);
        code = TR_US_EXPIRED;
        goto out;
    }

    if (issued) *issued = t;
    code = 0;
out:
    json_decref(root);
    free(text);
    free(raw);
    return code;
}

/* ------------------------------------------------------------------------ */
/* make */

char* tr_usersig_make(uint64_t sdk_app_id, const char* key, const char* user_id, uint64_t time,
                      uint64_t expire, const char* userbuf) {
    if (!key || !user_id) return NULL;
    /* JSON integers are signed 64-bit here (and in verify). */
    if (sdk_app_id > (uint64_t)TR_US_JSON_INT_MAX || time > (uint64_t)TR_US_JSON_INT_MAX ||
        expire > (uint64_t)TR_US_JSON_INT_MAX)
        return NULL;

    char* result = NULL;
    char* sig_b64 = NULL;
    char* text = NULL;
    unsigned char* packed = NULL;
    json_t* root = NULL;

    unsigned char mac[TR_US_HMAC_LEN];
    if (tr_us_hmac(key, user_id, sdk_app_id, time, expire, userbuf, mac) != 0) goto out;
    sig_b64 = tr_us_b64_encode(mac, sizeof mac, tr_us_std_extra);
    OPENSSL_cleanse(mac, sizeof mac);
    if (!sig_b64) goto out;

    root = json_object();
    if (!root) goto out;
    /* json_string* fail on invalid UTF-8, and set_new on a NULL value fails. */
    if (json_object_set_new(root, "TLS.ver", json_string("2.0")) != 0 ||
        json_object_set_new(root, "TLS.identifier", json_string(user_id)) != 0 ||
        json_object_set_new(root, "TLS.sdkappid", json_integer((json_int_t)sdk_app_id)) != 0 ||
        json_object_set_new(root, "TLS.time", json_integer((json_int_t)time)) != 0 ||
        json_object_set_new(root, "TLS.expire", json_integer((json_int_t)expire)) != 0)
        goto out;
    if (userbuf && json_object_set_new(root, "TLS.userbuf", json_string(userbuf)) != 0) goto out;
    if (json_object_set_new(root, "TLS.sig", json_string(sig_b64)) != 0) goto out;

    text = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) goto out;
    size_t text_len = strlen(text);
    uLong bound = compressBound((uLong)text_len);
    packed = malloc(bound);
    if (!packed) goto out;
    uLongf packed_len = bound;
    if (compress2(packed, &packed_len, (const Bytef*)text, (uLong)text_len, Z_BEST_COMPRESSION) !=
        Z_OK)
        goto out;
    result = tr_us_b64_encode(packed, packed_len, tr_us_url_extra);

out:
    free(packed);
    free(text);
    json_decref(root);
    free(sig_b64);
    return result;
}
