/*
 * test_usersig.c - UserSig (docs/contract.md 3.7): tr_usersig_verify and
 * tr_usersig_make.
 *
 * The helpers here decode and encode UserSigs with OpenSSL's EVP base64 and
 * zlib's one-shot functions, not with usersig.c's code, and a known-answer
 * vector computed with Python's standard library (hmac, hashlib, zlib,
 * base64) pins the format down independently.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include "harness.h"
#include "usersig.h"

enum {
    OK = 0,
    EXPIRED = 70001,
    FAILED = 70003,
    OTHER_ID = 70013,
    OTHER_APP = 70014,
};

static const char* const KEY = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e";
static const uint64_t APP = 1400000000;
static const uint64_t T0 = 1700000000;
static const uint64_t EXP = 86400;

/*
 * Known-answer vectors, from Python 3's standard library:
 *
 *   msg = "TLS.identifier:alice\nTLS.sdkappid:1400000000\nTLS.time:1700000000\n"
 *         "TLS.expire:86400\n"   (+ "TLS.userbuf:cm9vbTo0Mg==\n" for the second)
 *   sig = base64.b64encode(hmac.new(KEY.encode(), msg.encode(), hashlib.sha256).digest())
 *   obj = {"TLS.ver": "2.0", "TLS.identifier": "alice", "TLS.sdkappid": 1400000000,
 *          "TLS.time": 1700000000, "TLS.expire": 86400, ["TLS.userbuf": "cm9vbTo0Mg==",]
 *          "TLS.sig": sig}
 *   usersig = base64.b64encode(zlib.compress(json.dumps(obj, separators=(",", ":")).encode()))
 *             with "+" -> "*", "/" -> "-", "=" -> "_"
 */
static const char* const KAT_SIG = "6GmjjJlI0ZfvdjC0qJyFjHknLqIVerI6rpJOgWxfg1k=";
static const char* const KAT_USERSIG =
    "eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwok5mcmpUInilOzEgoLMFCUrQxMDKIDIlGTmpgJFzVFFUysKMouA4h"
    "ZmJjCh4sx0oKFm7rlZWV45ngZRaWUpWc4GhV6Vblke2Xk*hZ5hqUWeZkUFXv7p4RVp6YbZtkq1AJcSMWk_";
static const char* const KAT_USERBUF = "cm9vbTo0Mg=="; /* base64 of "room:42" */
static const char* const KAT_SIG_UB = "vLJhyNfQIPqmJe2AGjV5lTEHkfWHQ5l9mSULii/iqJE=";
static const char* const KAT_USERSIG_UB =
    "eJyrVgrxCdYrSy1SslIy0jNQ0gHzM1NS80oy0zLBwok5mcmpUInilOzEgoLMFCUrQxMDKIDIlGTmpgJFzVFFUysKMouA4h"
    "ZmJjCh0uLUoqTSNKDBybmWZUkh*Qa*6ba2MPMz04ESZT5eGZV*aYGeAYW5XqlGju5ZYaY5Ia4e2WnhHoGmOZa5waE*mZn6"
    "mYVerrZKtQCPBDm7";

/* ------------------------------------------------------------------------ */
/* independent helpers (OpenSSL EVP base64, zlib one-shot) */

static void* xmalloc(size_t n) {
    void* p = malloc(n ? n : 1);
    if (!p) abort();
    return p;
}

static void map_chars(char* s, const char* from, const char* to) {
    for (; *s; s++) {
        const char* f = strchr(from, *s);
        if (f) *s = to[f - from];
    }
}

/* Standard base64 (padded) of n bytes; caller frees. */
static char* b64(const unsigned char* in, size_t n) {
    char* out = xmalloc((n + 2) / 3 * 4 + 1);
    EVP_EncodeBlock((unsigned char*)out, in, (int)n);
    return out;
}

/* Url-safe base64 (UserSig's alphabet) of n bytes; caller frees. */
static char* b64url(const unsigned char* in, size_t n) {
    char* s = b64(in, n);
    map_chars(s, "+/=", "*-_");
    return s;
}

/* Url-safe base64 of the zlib compression of `len` bytes; caller frees. */
static char* pack_bytes(const char* text, size_t len, int level) {
    uLongf zlen = compressBound((uLong)len);
    unsigned char* z = xmalloc(zlen);
    if (compress2(z, &zlen, (const Bytef*)text, (uLong)len, level) != Z_OK) abort();
    char* s = b64url(z, zlen);
    free(z);
    return s;
}

static char* pack(const char* text) {
    return pack_bytes(text, strlen(text), Z_DEFAULT_COMPRESSION);
}

static char* pack_obj(const json_t* obj) {
    char* text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!text) abort();
    char* s = pack(text);
    free(text);
    return s;
}

/* The inflated text of a UserSig (NULL when it does not decode); caller frees. */
static char* unpack(const char* sig) {
    size_t n = strlen(sig);
    if (n % 4 != 0) return NULL;
    char* std = xmalloc(n + 1);
    memcpy(std, sig, n + 1);
    map_chars(std, "*-_", "+/=");
    unsigned char* raw = xmalloc(n / 4 * 3 + 1);
    int rlen = EVP_DecodeBlock(raw, (const unsigned char*)std, (int)n);
    if (rlen >= 0 && n >= 1 && std[n - 1] == '=') rlen--;
    if (rlen >= 0 && n >= 2 && std[n - 2] == '=') rlen--;
    free(std);
    char* text = NULL;
    if (rlen >= 0) {
        uLongf tlen = 65536;
        text = xmalloc(tlen + 1);
        if (uncompress((Bytef*)text, &tlen, raw, (uLong)rlen) == Z_OK) {
            text[tlen] = '\0';
        } else {
            free(text);
            text = NULL;
        }
    }
    free(raw);
    return text;
}

static json_t* unpack_obj(const char* sig) {
    char* text = unpack(sig);
    if (!text) return NULL;
    json_t* obj = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    free(text);
    return obj;
}

/* Standard base64 of HMAC-SHA256(key, content); caller frees. */
static char* hmac_b64(const char* key, const char* content) {
    unsigned char mac[32];
    unsigned int mlen = 0;
    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char*)content, strlen(content), mac,
         &mlen);
    if (mlen != 32) abort();
    return b64(mac, 32);
}

/* Set obj's TLS.sig from HMAC(key, content) and pack it; caller frees. */
static char* forge(json_t* obj, const char* key, const char* content) {
    char* s = hmac_b64(key, content);
    json_object_set_new(obj, "TLS.sig", json_string(s));
    free(s);
    return pack_obj(obj);
}

/* A fresh object like make's, without TLS.sig. */
static json_t* base_obj(const char* id, uint64_t app, uint64_t t, uint64_t exp) {
    return json_pack("{s:s, s:s, s:I, s:I, s:I}", "TLS.ver", "2.0", "TLS.identifier", id,
                     "TLS.sdkappid", (json_int_t)app, "TLS.time", (json_int_t)t, "TLS.expire",
                     (json_int_t)exp);
}

static char* content_of(const char* id, const char* app, const char* t, const char* exp,
                        const char* ub) {
    size_t n = strlen(id) + strlen(app) + strlen(t) + strlen(exp) + (ub ? strlen(ub) : 0) + 128;
    char* s = xmalloc(n);
    int k = snprintf(s, n, "TLS.identifier:%s\nTLS.sdkappid:%s\nTLS.time:%s\nTLS.expire:%s\n", id,
                     app, t, exp);
    if (ub) snprintf(s + k, n - (size_t)k, "TLS.userbuf:%s\n", ub);
    return s;
}

/* verify with a desc buffer kept for inspection */
static char g_desc[256];
static int V(const char* sig, uint64_t app, const char* id, uint64_t now) {
    memset(g_desc, 'x', sizeof g_desc);
    return tr_usersig_verify(sig, app, id, KEY, now, g_desc, sizeof g_desc);
}

/* V(sig, APP, "alice", T0), then free sig. */
static int V_free(char* sig) {
    int rc = V(sig, APP, "alice", T0);
    free(sig);
    return rc;
}

/* A good sig for alice with userbuf "ub" (*good, caller frees) and its decoded object; NULL
 * (and nothing to free) when it does not decode. */
static json_t* good_sig_obj(char** good) {
    *good = tr_usersig_make(APP, KEY, "alice", T0, EXP, "ub");
    json_t* orig = unpack_obj(*good);
    CHECK(orig != NULL);
    if (!orig) {
        free(*good);
        *good = NULL;
    }
    return orig;
}

/* Verify, as (app, id) at T0, the sig packed from a copy of orig whose key is set to value
 * (taking the reference) or, when value is NULL, deleted. */
static int V_changed(const json_t* orig, const char* key, json_t* value, uint64_t app, const char* id) {
    json_t* o = json_deep_copy(orig);
    if (value) json_object_set_new(o, key, value);
    else json_object_del(o, key);
    char* s = pack_obj(o);
    int rc = V(s, app, id, T0);
    free(s);
    json_decref(o);
    return rc;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------------ */

static void test_known_answer(void) {
    CHECK_INT(V(KAT_USERSIG, APP, "alice", T0 + 1), OK);
    CHECK_STR(g_desc, "");
    CHECK_INT(V(KAT_USERSIG_UB, APP, "alice", T0 + 1), OK);

    /* make for the same inputs carries the same TLS.sig */
    char* s = tr_usersig_make(APP, KEY, "alice", T0, EXP, NULL);
    CHECK(s != NULL);
    json_t* o = s ? unpack_obj(s) : NULL;
    CHECK(o != NULL);
    if (o) {
        CHECK_STR(json_string_value(json_object_get(o, "TLS.sig")), KAT_SIG);
        CHECK_STR(json_string_value(json_object_get(o, "TLS.ver")), "2.0");
        CHECK_STR(json_string_value(json_object_get(o, "TLS.identifier")), "alice");
        CHECK(json_is_integer(json_object_get(o, "TLS.sdkappid")));
        CHECK_INT(json_integer_value(json_object_get(o, "TLS.sdkappid")), APP);
        CHECK_INT(json_integer_value(json_object_get(o, "TLS.time")), T0);
        CHECK_INT(json_integer_value(json_object_get(o, "TLS.expire")), EXP);
        CHECK(json_object_get(o, "TLS.userbuf") == NULL);
    }
    json_decref(o);
    free(s);

    s = tr_usersig_make(APP, KEY, "alice", T0, EXP, KAT_USERBUF);
    o = s ? unpack_obj(s) : NULL;
    CHECK(o != NULL);
    if (o) {
        CHECK_STR(json_string_value(json_object_get(o, "TLS.sig")), KAT_SIG_UB);
        CHECK_STR(json_string_value(json_object_get(o, "TLS.userbuf")), KAT_USERBUF);
    }
    json_decref(o);
    free(s);

    /* the vector's signature, checked with this file's own HMAC too */
    char* c = content_of("alice", "1400000000", "1700000000", "86400", NULL);
    char* h = hmac_b64(KEY, c);
    CHECK_STR(h, KAT_SIG);
    free(h);
    free(c);
}

static void test_round_trip(void) {
    char* s = tr_usersig_make(APP, KEY, "alice", T0, EXP, NULL);
    CHECK(s != NULL);
    CHECK(s && strlen(s) <= TR_USERSIG_MAX_LEN);
    CHECK(s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-_") ==
                   strlen(s));
    CHECK_INT(V(s, APP, "alice", T0), OK);
    CHECK_STR(g_desc, "");
    CHECK_INT(V(s, APP, "alice", T0 + 100), OK);
    /* a sig made for the future still verifies (no "not yet valid" check) */
    CHECK_INT(V(s, APP, "alice", 0), OK);
    free(s);

    s = tr_usersig_make(APP, KEY, "alice", T0, EXP, "some opaque buffer");
    CHECK_INT(V(s, APP, "alice", T0), OK);
    free(s);

    s = tr_usersig_make(APP, KEY, "alice", T0, EXP, "");
    CHECK_INT(V(s, APP, "alice", T0), OK);
    json_t* o = unpack_obj(s);
    CHECK(o && json_is_string(json_object_get(o, "TLS.userbuf")));
    json_decref(o);
    free(s);

    /* identifiers that need JSON escaping, and UTF-8 */
    const char* ids[] = {"a\"b\\c/d", "user with spaces", "\xe4\xbd\xa0\xe5\xa5\xbd", "x"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        s = tr_usersig_make(APP, KEY, ids[i], T0, EXP, NULL);
        CHECK(s != NULL);
        CHECK_INT(V(s, APP, ids[i], T0), OK);
        free(s);
    }

    /* zero time and expire: valid only at now 0 */
    s = tr_usersig_make(7, KEY, "z", 0, 0, NULL);
    CHECK_INT(V(s, 7, "z", 0), OK);
    CHECK_INT(V(s, 7, "z", 1), EXPIRED);
    free(s);

    /* NULL arguments */
    CHECK(tr_usersig_make(APP, NULL, "alice", T0, EXP, NULL) == NULL);
    CHECK(tr_usersig_make(APP, KEY, NULL, T0, EXP, NULL) == NULL);
    /* invalid UTF-8 cannot go into the JSON */
    CHECK(tr_usersig_make(APP, KEY, "\xff\xfe", T0, EXP, NULL) == NULL);
    CHECK(tr_usersig_make(APP, KEY, "a", T0, EXP, "\xc3") == NULL);
    /* numbers a JSON integer cannot carry */
    CHECK(tr_usersig_make(APP, KEY, "a", (uint64_t)INT64_MAX + 1, EXP, NULL) == NULL);
    CHECK(tr_usersig_make(APP, KEY, "a", T0, UINT64_MAX, NULL) == NULL);
    CHECK(tr_usersig_make(UINT64_MAX, KEY, "a", T0, EXP, NULL) == NULL);

    CHECK_INT(tr_usersig_verify(NULL, APP, "alice", KEY, T0, g_desc, sizeof g_desc), FAILED);
    s = tr_usersig_make(APP, KEY, "alice", T0, EXP, NULL);
    CHECK_INT(tr_usersig_verify(s, APP, NULL, KEY, T0, g_desc, sizeof g_desc), FAILED);
    CHECK_INT(tr_usersig_verify(s, APP, "alice", NULL, T0, g_desc, sizeof g_desc), FAILED);
    free(s);
}

static void test_desc(void) {
    char* s = tr_usersig_make(APP, KEY, "alice", T0, EXP, NULL);
    /* no desc buffer at all */
    CHECK_INT(tr_usersig_verify(s, APP, "alice", KEY, T0 + EXP + 1, NULL, 0), EXPIRED);
    CHECK_INT(tr_usersig_verify("!", APP, "alice", KEY, T0, NULL, 0), FAILED);
    /* truncated, still terminated */
    char small[8];
    memset(small, 'x', sizeof small);
    CHECK_INT(tr_usersig_verify(s, APP, "alice", KEY, T0 + EXP + 1, small, sizeof small), EXPIRED);
    CHECK_INT(strlen(small), sizeof small - 1);
    char one[1] = {'x'};
    CHECK_INT(tr_usersig_verify("!", APP, "alice", KEY, T0, one, 1), FAILED);
    CHECK_INT(one[0], '\0');
    free(s);
}

static void test_wrong_key(void) {
    char* s = tr_usersig_make(APP, "another key", "alice", T0, EXP, NULL);
    CHECK_INT(V(s, APP, "alice", T0), FAILED);
    CHECK_HAS(g_desc, "bad signature");
    free(s);
    s = tr_usersig_make(APP, KEY, "alice", T0, EXP, NULL);
    CHECK_INT(tr_usersig_verify(s, APP, "alice", "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5f",
                                T0, g_desc, sizeof g_desc),
              FAILED);
    CHECK_INT(tr_usersig_verify(s, APP, "alice", "", T0, g_desc, sizeof g_desc), FAILED);
    free(s);
    /* a forged sig for another user and app still says only 70003 */
    s = tr_usersig_make(APP + 1, "another key", "bob", T0, EXP, NULL);
    CHECK_INT(V(s, APP, "alice", T0 + EXP * 10), FAILED);
    free(s);
}

static void test_tampered_text(void) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-";
    const char* sigs[] = {KAT_USERSIG, KAT_USERSIG_UB};
    for (size_t k = 0; k < 2; k++) {
        size_t n = strlen(sigs[k]);
        char* s = xmalloc(n + 1);
        int tried = 0, refused = 0;
        for (size_t i = 0; i < n; i++) {
            /* three different replacements at every position, '_' included */
            const char repl[3] = {alphabet[(i * 7 + 1) % 64], alphabet[(i * 13 + 29) % 64], '_'};
            for (size_t r = 0; r < 3; r++) {
                memcpy(s, sigs[k], n + 1);
                if (s[i] == repl[r]) continue;
                s[i] = repl[r];
                tried++;
                if (V(s, APP, "alice", T0) == FAILED) refused++;
                else fprintf(stderr, "  tampered sig accepted: position %zu -> '%c'\n", i, repl[r]);
            }
        }
        CHECK(tried > 100);
        CHECK_INT(refused, tried);
        /* a character dropped, a character added */
        memcpy(s, sigs[k], n + 1);
        s[n - 5] = '\0';
        CHECK_INT(V(s, APP, "alice", T0), FAILED);
        free(s);
        s = xmalloc(n + 5);
        snprintf(s, n + 5, "%sAAAA", sigs[k]);
        CHECK_INT(V(s, APP, "alice", T0), FAILED);
        snprintf(s, n + 5, "A%s", sigs[k]);
        CHECK_INT(V(s, APP, "alice", T0), FAILED);
        /* stray whitespace */
        snprintf(s, n + 5, "%s\n", sigs[k]);
        CHECK_INT(V(s, APP, "alice", T0), FAILED);
        snprintf(s, n + 5, " %s", sigs[k]);
        CHECK_INT(V(s, APP, "alice", T0), FAILED);
        /* standard alphabet instead of the url-safe one */
        memcpy(s, sigs[k], n + 1);
        map_chars(s, "*-_", "+/=");
        CHECK_INT(V(s, APP, "alice", T0), FAILED);
        CHECK_HAS(g_desc, "base64");
        free(s);
    }
    /* the padding may be left off; nothing else about it may change */
    size_t n = strlen(KAT_USERSIG);
    CHECK(KAT_USERSIG[n - 1] == '_' && KAT_USERSIG[n - 2] != '_');
    char* s = xmalloc(n + 3);
    memcpy(s, KAT_USERSIG, n - 1);
    s[n - 1] = '\0';
    CHECK_INT(V(s, APP, "alice", T0), OK);
    memcpy(s, KAT_USERSIG, n + 1);
    strcat(s, "_");
    CHECK_INT(V(s, APP, "alice", T0), FAILED);
    strcat(s, "_");
    CHECK_INT(V(s, APP, "alice", T0), FAILED);
    /* non-zero unused bits in the last character (…k_ -> …l_): same bytes, refused */
    memcpy(s, KAT_USERSIG, n + 1);
    CHECK(s[n - 2] == 'k');
    s[n - 2] = 'l';
    CHECK_INT(V(s, APP, "alice", T0), FAILED);
    CHECK_HAS(g_desc, "base64");
    free(s);

    /* the same with two padding characters: find a sig whose text ends in "__" */
    char id[32];
    s = NULL;
    for (int i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "user%d", i);
        s = tr_usersig_make(APP, KEY, id, T0, EXP, NULL);
        n = s ? strlen(s) : 0;
        if (n > 3 && s[n - 1] == '_' && s[n - 2] == '_') break;
        free(s);
        s = NULL;
    }
    CHECK(s != NULL);
    if (s) {
        CHECK_INT(V(s, APP, id, T0), OK);
        const char* p = strchr(alphabet, s[n - 3]);
        CHECK(p != NULL && (p - alphabet) % 16 == 0);
        s[n - 3] = alphabet[(p - alphabet) | 1];
        CHECK_INT(V(s, APP, id, T0), FAILED);
        CHECK_HAS(g_desc, "base64");
        s[n - 3] = *p;
        s[n - 2] = '\0'; /* unpadded */
        CHECK_INT(V(s, APP, id, T0), OK);
        free(s);
    }
}

static void test_tampered_json(void) {
    char* good;
    json_t* orig = good_sig_obj(&good);
    if (!orig) return;
    /* recompressed unchanged: still fine (the test's own packing works) */
    char* s = pack_obj(orig);
    CHECK_INT(V(s, APP, "alice", T0), OK);
    free(s);

    struct {
        const char* key;
        json_t* value; /* NULL: delete */
        const char* verify_as;
        uint64_t app;
    } cases[] = {
        {"TLS.time", json_integer((json_int_t)T0 + 1), "alice", APP},
        {"TLS.expire", json_integer((json_int_t)EXP * 365), "alice", APP},
        {"TLS.identifier", json_string("bob"), "bob", APP},
        {"TLS.identifier", json_string("alice "), "alice ", APP},
        {"TLS.sdkappid", json_integer((json_int_t)APP + 1), "alice", APP + 1},
        {"TLS.userbuf", json_string("uB"), "alice", APP},
        {"TLS.userbuf", NULL, "alice", APP},
        {"TLS.sig", json_string("6GmjjJlI0ZfvdjC0qJyFjHknLqIVerI6rpJOgWxfg1k="), "alice", APP},
        {"TLS.sig", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), "alice", APP},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = V_changed(orig, cases[i].key, cases[i].value, cases[i].app, cases[i].verify_as);
        th_check(rc == FAILED, __FILE__, __LINE__, "tampered field refused", "case %zu (%s): %d",
                 i, cases[i].key, rc);
        CHECK_HAS(g_desc, "bad signature");
    }
    /* a userbuf added to a sig made without one */
    char* plain = tr_usersig_make(APP, KEY, "alice", T0, EXP, NULL);
    json_t* o = unpack_obj(plain);
    json_object_set_new(o, "TLS.userbuf", json_string(""));
    s = pack_obj(o);
    CHECK_INT(V(s, APP, "alice", T0), FAILED);
    free(s);
    json_decref(o);
    free(plain);

    /* unknown extra keys do not matter (they are not signed) */
    o = json_deep_copy(orig);
    json_object_set_new(o, "TLS.extra", json_true());
    s = pack_obj(o);
    CHECK_INT(V(s, APP, "alice", T0), OK);
    free(s);
    json_decref(o);

    json_decref(orig);
    free(good);
}

static void test_identity_and_app(void) {
    char* s = tr_usersig_make(APP, KEY, "bob", T0, EXP, NULL);
    CHECK_INT(V(s, APP, "alice", T0), OTHER_ID);
    CHECK_HAS(g_desc, "identifier");
    CHECK_INT(V(s, APP, "bob", T0), OK);
    CHECK_INT(V(s, APP, "bo", T0), OTHER_ID);
    CHECK_INT(V(s, APP, "bobb", T0), OTHER_ID);
    CHECK_INT(V(s, APP, "", T0), OTHER_ID);
    free(s);

    s = tr_usersig_make(APP + 1, KEY, "alice", T0, EXP, NULL);
    CHECK_INT(V(s, APP, "alice", T0), OTHER_APP);
    CHECK_HAS(g_desc, "1400000001");
    free(s);

    /* another user of another app, expired too: the identifier is checked first */
    s = tr_usersig_make(APP + 1, KEY, "bob", T0, EXP, NULL);
    CHECK_INT(V(s, APP, "alice", T0 + EXP + 1), OTHER_ID);
    free(s);
    /* another app, expired: the app id before the expiry */
    s = tr_usersig_make(APP + 1, KEY, "alice", T0, EXP, NULL);
    CHECK_INT(V(s, APP, "alice", T0 + EXP + 1), OTHER_APP);
    free(s);
}

static void test_expiry(void) {
    char* s = tr_usersig_make(APP, KEY, "alice", T0, EXP, NULL);
    CHECK_INT(V(s, APP, "alice", T0 + EXP - 1), OK);
    CHECK_INT(V(s, APP, "alice", T0 + EXP), OK); /* now == time + expire: still valid */
    CHECK_INT(V(s, APP, "alice", T0 + EXP + 1), EXPIRED);
    CHECK_HAS(g_desc, "expired at 1700086400");
    CHECK_INT(V(s, APP, "alice", UINT64_MAX), EXPIRED);
    free(s);

    CHECK_INT(V(KAT_USERSIG, APP, "alice", T0 + EXP), OK);
    CHECK_INT(V(KAT_USERSIG, APP, "alice", T0 + EXP + 1), EXPIRED);

    /* the largest numbers make can write: the sum fits in uint64 */
    s = tr_usersig_make(APP, KEY, "alice", (uint64_t)INT64_MAX, (uint64_t)INT64_MAX, NULL);
    CHECK(s != NULL);
    CHECK_INT(V(s, APP, "alice", UINT64_MAX - 1), OK);
    CHECK_INT(V(s, APP, "alice", UINT64_MAX), EXPIRED);
    free(s);
    s = tr_usersig_make(APP, KEY, "alice", 0, (uint64_t)INT64_MAX, NULL);
    CHECK_INT(V(s, APP, "alice", (uint64_t)INT64_MAX), OK);
    CHECK_INT(V(s, APP, "alice", (uint64_t)INT64_MAX + 1), EXPIRED);
    free(s);
}

static void test_numbers_as_strings(void) {
    /* decimal strings are accepted, in canonical form only */
    json_t* o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "TLS.ver", "2.0", "TLS.identifier", "alice",
                          "TLS.sdkappid", "1400000000", "TLS.time", "1700000000", "TLS.expire",
                          "86400");
    char* c = content_of("alice", "1400000000", "1700000000", "86400", NULL);
    char* s = forge(o, KEY, c);
    CHECK_INT(V(s, APP, "alice", T0), OK);
    CHECK_INT(V(s, APP, "alice", T0 + EXP + 1), EXPIRED);
    free(s);
    free(c);
    json_decref(o);

    /* time + expire past UINT64_MAX never expires (no wrap-around) */
    o = json_pack("{s:s, s:s, s:I, s:s, s:s}", "TLS.ver", "2.0", "TLS.identifier", "alice",
                  "TLS.sdkappid", (json_int_t)APP, "TLS.time", "18446744073709551615",
                  "TLS.expire", "18446744073709551615");
    c = content_of("alice", "1400000000", "18446744073709551615", "18446744073709551615", NULL);
    s = forge(o, KEY, c);
    CHECK_INT(V(s, APP, "alice", UINT64_MAX), OK);
    CHECK_INT(V(s, APP, "alice", 0), OK);
    free(s);
    free(c);
    json_decref(o);
    o = json_pack("{s:s, s:s, s:I, s:s, s:I}", "TLS.ver", "2.0", "TLS.identifier", "alice",
                  "TLS.sdkappid", (json_int_t)APP, "TLS.time", "18446744073709551615",
                  "TLS.expire", (json_int_t)1);
    c = content_of("alice", "1400000000", "18446744073709551615", "1", NULL);
    s = forge(o, KEY, c);
    CHECK_INT(V(s, APP, "alice", UINT64_MAX), OK);
    free(s);
    free(c);
    json_decref(o);

    /* non-canonical or out-of-range strings: refused even when signed as written */
    const char* bad[] = {"01700000000", "+1700000000", "-1", "", "17e8", " 1700000000",
                         "18446744073709551616", "99999999999999999999999", "1700000000 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o = base_obj("alice", APP, T0, EXP);
        json_object_set_new(o, "TLS.time", json_string(bad[i]));
        c = content_of("alice", "1400000000", bad[i], "86400", NULL);
        s = forge(o, KEY, c);
        int rc = V(s, APP, "alice", T0);
        th_check(rc == FAILED, __FILE__, __LINE__, "bad number string refused", "\"%s\": %d",
                 bad[i], rc);
        CHECK_HAS(g_desc, "TLS.time");
        free(s);
        free(c);
        json_decref(o);
    }
}

static void test_malformed_layers(void) {
    CHECK_INT(V("", APP, "alice", T0), FAILED);
    CHECK_HAS(g_desc, "empty");
    const char* not_b64[] = {"!!!!", "eJy", "eJyr\x80", "eJyr_", "eJyr____", "eJyrV___",
                             "eJyrVg_", "eJyrVgr__", "e_Jy", "eJ yr", "eJyr=", "eJyrVg==",
                             "\xc3\xa9\xc3\xa9", "eJyrVgrxCdYr+y1S", "eJyrVgrxCdYr/y1S"};
    for (size_t i = 0; i < sizeof not_b64 / sizeof not_b64[0]; i++) {
        CHECK_INT(V(not_b64[i], APP, "alice", T0), FAILED);
        CHECK_HAS(g_desc, "bad base64");
    }

    /* base64 of data that is not zlib */
    const unsigned char plain[] = "{\"TLS.ver\":\"2.0\"}";
    CHECK_INT(V_free(b64url(plain, sizeof plain - 1)), FAILED);
    CHECK_HAS(g_desc, "zlib");
    /* a zlib stream cut short, one with bytes after it, and raw deflate / gzip */
    char* good = tr_usersig_make(APP, KEY, "alice", T0, EXP, NULL);
    char* text = unpack(good);
    CHECK(text != NULL);
    if (text) {
        size_t tl = strlen(text);
        uLongf zlen = compressBound((uLong)tl) + 8;
        unsigned char* z = xmalloc(zlen);
        CHECK_INT(compress2(z, &zlen, (const Bytef*)text, (uLong)tl, 6), Z_OK);
        for (size_t cut = 1; cut <= 6; cut++) {
            CHECK_INT(V_free(b64url(z, zlen - cut)), FAILED);
            CHECK_HAS(g_desc, "zlib");
        }
        z[zlen] = 0x00;
        CHECK_INT(V_free(b64url(z, zlen + 1)), FAILED);
        CHECK_HAS(g_desc, "zlib");
        /* a flipped adler32 byte */
        z[zlen - 1] ^= 1;
        CHECK_INT(V_free(b64url(z, zlen)), FAILED);
        z[zlen - 1] ^= 1;
        /* gzip and raw deflate wrappers */
        for (int wbits = -15; wbits <= 31; wbits += 46) {
            z_stream zs;
            memset(&zs, 0, sizeof zs);
            CHECK_INT(deflateInit2(&zs, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY), Z_OK);
            unsigned char out[4096];
            zs.next_in = (Bytef*)text;
            zs.avail_in = (uInt)tl;
            zs.next_out = out;
            zs.avail_out = sizeof out;
            CHECK_INT(deflate(&zs, Z_FINISH), Z_STREAM_END);
            char* s = b64url(out, zs.total_out);
            deflateEnd(&zs);
            CHECK_INT(V_free(s), FAILED);
            CHECK_HAS(g_desc, "zlib");
        }
        free(z);
    }
    free(text);
    free(good);

    /* zlib of things that are not the JSON object */
    const char* not_json[] = {"hello, world", "", "[1,2,3]", "\"TLS.ver\"", "42", "null",
                              "{\"TLS.ver\":\"2.0\"", "{\"TLS.ver\":\"2.0\"} x",
                              "{\"TLS.ver\":\"2.0\",\"TLS.ver\":\"2.0\"}", "{'a':1}",
                              "{\"TLS.identifier\":\"\xff\"}"};
    for (size_t i = 0; i < sizeof not_json / sizeof not_json[0]; i++) {
        CHECK_INT(V_free(pack(not_json[i])), FAILED);
        CHECK_HAS(g_desc, "usersig: ");
        size_t dl = strlen(g_desc);
        size_t printable = 0;
        for (size_t k = 0; k < dl; k++) printable += g_desc[k] >= 0x20 && g_desc[k] <= 0x7e;
        th_check(printable == dl, __FILE__, __LINE__, "desc is printable ASCII", "\"%s\"", g_desc);
    }
    /* a NUL byte inside the inflated text */
    const char nul_text[] = "{\"TLS.ver\":\"2.0\"}\0";
    CHECK_INT(V_free(pack_bytes(nul_text, sizeof nul_text - 1, 6)), FAILED);
    CHECK_HAS(g_desc, "bad json");

    /* a valid, signed sig with a duplicated key is still refused */
    char* content = content_of("alice", "1400000000", "1700000000", "86400", NULL);
    char* mac = hmac_b64(KEY, content);
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\"TLS.ver\":\"2.0\",\"TLS.identifier\":\"alice\",\"TLS.sdkappid\":1400000000,"
             "\"TLS.time\":1700000000,\"TLS.expire\":86400,\"TLS.expire\":86400,\"TLS.sig\":\"%s\"}",
             mac);
    CHECK_INT(V_free(pack(buf)), FAILED);
    CHECK_HAS(g_desc, "bad json");
    /* ... and without the duplicate, the same text is accepted */
    snprintf(buf, sizeof buf,
             "  {\"TLS.sig\":\"%s\", \"TLS.expire\":86400,\"TLS.time\":1700000000,"
             "\"TLS.sdkappid\":1400000000,\"TLS.identifier\":\"alice\",\"TLS.ver\":\"2.0\"}\n",
             mac);
    CHECK_INT(V_free(pack(buf)), OK);
    /* \u0000 inside the identifier */
    snprintf(buf, sizeof buf,
             "{\"TLS.ver\":\"2.0\",\"TLS.identifier\":\"alice\\u0000x\",\"TLS.sdkappid\":1400000000,"
             "\"TLS.time\":1700000000,\"TLS.expire\":86400,\"TLS.sig\":\"%s\"}",
             mac);
    CHECK_INT(V_free(pack(buf)), FAILED);
    free(mac);
    free(content);
}

static void test_fields(void) {
    char* good;
    json_t* orig = good_sig_obj(&good);
    if (!orig) return;
    /* each required field missing */
    const char* required[] = {"TLS.ver", "TLS.identifier", "TLS.sdkappid", "TLS.time",
                              "TLS.expire", "TLS.sig"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        int rc = V_changed(orig, required[i], NULL, APP, "alice");
        th_check(rc == FAILED, __FILE__, __LINE__, "missing field refused", "%s: %d", required[i],
                 rc);
        CHECK_HAS(g_desc, required[i]);
    }
    /* wrong types and values */
    struct {
        const char* key;
        json_t* value;
    } cases[] = {
        {"TLS.ver", json_string("1.0")},
        {"TLS.ver", json_real(2.0)},
        {"TLS.ver", json_string("2.0 ")},
        {"TLS.identifier", json_integer(5)},
        {"TLS.identifier", json_null()},
        {"TLS.identifier", json_pack("[s]", "alice")},
        {"TLS.sdkappid", json_string("abc")},
        {"TLS.sdkappid", json_real(1400000000.0)},
        {"TLS.sdkappid", json_integer(-1)},
        {"TLS.sdkappid", json_true()},
        {"TLS.time", json_null()},
        {"TLS.time", json_real(1.5)},
        {"TLS.time", json_integer(-1700000000)},
        {"TLS.expire", json_false()},
        {"TLS.expire", json_pack("{}")},
        {"TLS.expire", json_integer(-1)},
        {"TLS.userbuf", json_integer(1)},
        {"TLS.userbuf", json_null()},
        {"TLS.sig", json_integer(1)},
        {"TLS.sig", json_null()},
        /* TLS.sig not base64 of 32 bytes */
        {"TLS.sig", json_string("")},
        {"TLS.sig", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==")}, /* 31 bytes */
        {"TLS.sig", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==")}, /* 34 */
        {"TLS.sig", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")}, /* 33 */
        {"TLS.sig", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")},  /* unpadded */
        {"TLS.sig", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*")},
        {"TLS.sig", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA!=")},
        {"TLS.sig", json_string("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=")}, /* stray bits */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int rc = V_changed(orig, cases[i].key, cases[i].value, APP, "alice");
        th_check(rc == FAILED, __FILE__, __LINE__, "bad field refused", "case %zu (%s): %d", i,
                 cases[i].key, rc);
        CHECK_HAS(g_desc, cases[i].key);
    }
    /* an integer beyond 64 bits does not even parse */
    char* text = unpack(good);
    if (text) {
        char* p = strstr(text, "1700000000");
        CHECK(p != NULL);
        if (p) {
            size_t n = strlen(text) + 32;
            char* t2 = xmalloc(n);
            snprintf(t2, n, "%.*s99999999999999999999999%s", (int)(p - text), text, p + 10);
            char* s = pack(t2);
            CHECK_INT(V(s, APP, "alice", T0), FAILED);
            free(s);
            free(t2);
        }
    }
    free(text);
    json_decref(orig);
    free(good);
}

static void test_size_limits(void) {
    /* longer than TR_USERSIG_MAX_LEN: refused before decoding */
    char* s = xmalloc(TR_USERSIG_MAX_LEN + 2);
    memset(s, 'A', TR_USERSIG_MAX_LEN + 1);
    s[TR_USERSIG_MAX_LEN + 1] = '\0';
    CHECK_INT(V(s, APP, "alice", T0), FAILED);
    CHECK_HAS(g_desc, "longer than");
    s[TR_USERSIG_MAX_LEN] = '\0'; /* exactly at the limit: decoded, then refused as not zlib */
    CHECK_INT(V(s, APP, "alice", T0), FAILED);
    CHECK_HAS(g_desc, "zlib");
    free(s);

    /* a genuine sig that is too long */
    static const char b64chars[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t ub_len = 6000; /* incompressible enough to pass the length limit, inflates below it */
    char* ub = xmalloc(ub_len + 1);
    uint64_t x = 88172645463325252u;
    for (size_t i = 0; i < ub_len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        ub[i] = b64chars[x % 64];
    }
    ub[ub_len] = '\0';
    s = tr_usersig_make(APP, KEY, "alice", T0, EXP, ub);
    CHECK(s && strlen(s) > TR_USERSIG_MAX_LEN);
    CHECK_INT(V(s, APP, "alice", T0), FAILED);
    CHECK_HAS(g_desc, "longer than");
    free(s);
    free(ub);

    /* inflated JSON of exactly TR_USERSIG_MAX_JSON bytes is fine; one more is not */
    char* content = content_of("alice", "1400000000", "1700000000", "86400", NULL);
    char* mac = hmac_b64(KEY, content);
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "{\"TLS.ver\":\"2.0\",\"TLS.identifier\":\"alice\",\"TLS.sdkappid\":1400000000,"
                      "\"TLS.time\":1700000000,\"TLS.expire\":86400,\"TLS.sig\":\"%s\"",
                      mac);
    for (size_t total = TR_USERSIG_MAX_JSON - 1; total <= TR_USERSIG_MAX_JSON + 1; total++) {
        char* t = xmalloc(total + 1);
        memcpy(t, head, (size_t)hl);
        memset(t + hl, ' ', total - (size_t)hl - 1);
        t[total - 1] = '}';
        t[total] = '\0';
        s = pack(t);
        int rc = V(s, APP, "alice", T0);
        if (total <= TR_USERSIG_MAX_JSON) {
            th_check(rc == OK, __FILE__, __LINE__, "JSON within the limit", "%zu bytes: %d (%s)",
                     total, rc, g_desc);
        } else {
            th_check(rc == FAILED, __FILE__, __LINE__, "JSON over the limit", "%zu bytes: %d",
                     total, rc);
            CHECK_HAS(g_desc, "inflates beyond");
        }
        free(s);
        free(t);
    }
    free(mac);
    free(content);

    /* a zip bomb: 1 MiB of spaces inside a JSON string */
    size_t big = 1u << 20;
    const char* pre = "{\"TLS.ver\":\"2.0\",\"TLS.identifier\":\"";
    const char* post = "\",\"TLS.sdkappid\":1400000000,\"TLS.time\":1700000000,"
                       "\"TLS.expire\":86400,\"TLS.sig\":\"6GmjjJlI0ZfvdjC0qJyFjHknLqIVerI6rpJOgWxfg1k=\"}";
    size_t pl = strlen(pre), ql = strlen(post);
    char* bomb = xmalloc(pl + big + ql + 1);
    memcpy(bomb, pre, pl);
    memset(bomb + pl, ' ', big);
    memcpy(bomb + pl + big, post, ql + 1);
    s = pack_bytes(bomb, pl + big + ql, 9);
    free(bomb);
    CHECK(strlen(s) <= TR_USERSIG_MAX_LEN); /* gets past the length check */
    double t0 = now_s();
    CHECK_INT(V(s, APP, "alice", T0), FAILED);
    double dt = now_s() - t0;
    CHECK_HAS(g_desc, "inflates beyond");
    th_check(dt < 0.5, __FILE__, __LINE__, "zip bomb refused quickly", "%.3f s", dt);
    free(s);
}

#define N_THREADS 4
#define N_ROUNDS 200

static void* verify_thread(void* arg) {
    const char* sig = arg;
    long bad = 0;
    char desc[64];
    for (int i = 0; i < N_ROUNDS; i++) {
        if (tr_usersig_verify(sig, APP, "alice", KEY, T0, desc, sizeof desc) != 0) bad++;
        if (tr_usersig_verify(sig, APP, "bob", KEY, T0, desc, sizeof desc) != OTHER_ID) bad++;
        char* m = tr_usersig_make(APP, KEY, "alice", T0 + (uint64_t)i, EXP, NULL);
        if (!m || tr_usersig_verify(m, APP, "alice", KEY, T0 + (uint64_t)i, desc, sizeof desc) != 0)
            bad++;
        free(m);
    }
    return (void*)bad;
}

static void test_threads(void) {
    char* s = tr_usersig_make(APP, KEY, "alice", T0, EXP, "threads");
    pthread_t th[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) CHECK_INT(pthread_create(&th[i], NULL, verify_thread, s), 0);
    long bad = 0;
    for (int i = 0; i < N_THREADS; i++) {
        void* r = NULL;
        pthread_join(th[i], &r);
        bad += (long)r;
    }
    CHECK_INT(bad, 0);
    free(s);
}

int main(void) {
    test_known_answer();
    test_round_trip();
    test_desc();
    test_wrong_key();
    test_tampered_text();
    test_tampered_json();
    test_identity_and_app();
    test_expiry();
    test_numbers_as_strings();
    test_malformed_layers();
    test_fields();
    test_size_limits();
    test_threads();
    return th_finish();
}
