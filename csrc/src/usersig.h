/*
 * usersig.h - UserSig (version 2) verification and generation.
 *
 * A UserSig is the text of a JSON object, zlib-compressed, base64-encoded with
 * '+', '/', '=' replaced by '*', '-', '_'.  See docs/contract.md 3.7.
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
 * CHECK_FAILED: malformed at any layer, bad signature, or a NULL argument),
 * 70013 (issued for another identifier), 70014 (for another sdkappid), 70001
 * (expired: now > time + expire; a sum past UINT64_MAX never expires).  The
 * signature is checked first, in constant time; only a genuine sig can get
 * 70013, then 70014, then 70001.  desc receives a short printable reason,
 * "" on success (desc may be NULL, desc_len 0).  Never reads beyond the
 * bounds above.
 *
 * Accepted forms: the outer base64 with or without its trailing '_' padding;
 * TLS.ver exactly "2.0"; TLS.sdkappid, TLS.time and TLS.expire as JSON
 * integers or canonical decimal strings; TLS.userbuf, when present, a string;
 * keys outside the signed set are ignored.
 */
int tr_usersig_verify(const char* sig, uint64_t sdk_app_id, const char* user_id, const char* key,
                      uint64_t now, char* desc, size_t desc_len);
/* The same, also giving the TLS.time of a valid sig in *issued (0 otherwise; issued may be NULL). */
int tr_usersig_verify_issued(const char* sig, uint64_t sdk_app_id, const char* user_id, const char* key,
                             uint64_t now, uint64_t* issued, char* desc, size_t desc_len);

/*
 * Make a UserSig.  userbuf may be NULL (no TLS.userbuf).  Returns a malloc'd
 * NUL-terminated string, or NULL when memory runs out, key or user_id is
 * NULL, a number is above INT64_MAX, or a string is not valid UTF-8.  A very
 * long user_id or userbuf can make a sig longer than TR_USERSIG_MAX_LEN,
 * which tr_usersig_verify refuses.
 */
char* tr_usersig_make(uint64_t sdk_app_id, const char* key, const char* user_id, uint64_t time,
                      uint64_t expire, const char* userbuf);

#endif
