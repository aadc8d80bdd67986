/*
 * usersig.h - UserSig (version 2) verification and generation.
 *
 * A UserSig is the text of a JSON object, zlib-compressed, base64-encoded with
 * '+', '/', '=' replaced by '*', '-', '_'.  See SPEC 3.7.
 */
#ifndef TR_USERSIG_H
#define TR_USERSIG_H

#include <stddef.h>
#include <stdint.h>

/* Longest UserSig text accepted; longer ones are refused before decoding. */
#define TR_USERSIG_MAX_LEN 4096
/* Largest inflated JSON accepted; inflating stops (and fails) beyond it. */
#define TR_USERSIG_MAX_JSON 8192

/*
 * Verify `sig` for (sdk_app_id, user_id) with the app's secret `key` at time
 * `now` (seconds since the epoch).
 *
 * Returns 0 when valid, else the vendor code: 70003 (ERR_SVR_ACCOUNT_USERSIG_
 * CHECK_FAILED: malformed at any layer, or bad signature), 70013 (issued for
 * another identifier), 70014 (for another sdkappid), 70001 (expired:
 * now > time + expire).  On failure a short reason is written to desc
 * (NUL-terminated, truncated to desc_len).  Never reads beyond the bounds
 * above; the signature is compared in constant time.
 */
int tr_usersig_verify(const char* sig, uint64_t sdk_app_id, const char* user_id, const char* key,
                      uint64_t now, char* desc, size_t desc_len);

/*
 * Make a UserSig.  userbuf may be NULL (no TLS.userbuf).  Returns a malloc'd
 * NUL-terminated string, or NULL when memory runs out or an argument is NULL.
 */
char* tr_usersig_make(uint64_t sdk_app_id, const char* key, const char* user_id, uint64_t time,
                      uint64_t expire, const char* userbuf);

#endif
