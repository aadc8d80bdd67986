/*
 * test_login.c - docs/contract.md 3.3 (login, logout, identifiers) and 3.7
 * (UserSig).
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <time.h>
#include <zlib.h>

#include "th_util.h"
#include "usersig.h"

#define APPID 1402
#define KEY "timref-test-secret-key-0123456789"

static void login_expect_at(int line, const char* id, const char* sig, int want) {
    th_call* c = tu_login(id, sig);
    char what[200];
    snprintf(what, sizeof what, "login \"%.60s\"", id ? id : "(null)");
    tu_expect_at(__FILE__, line, what, c, want, NULL);
    if (want != 0 && want > 0)
        th_check(c->desc && *c->desc, __FILE__, line, "error desc not empty", "code %d", want);
    if (c->code == 0) th_check(c->json && !strcmp(c->json, ""), __FILE__, line, "login json_params \"\"",
                               "got \"%s\"", c->json ? c->json : "(null)");
    th_call_free(c);
}
#define LOGIN_EXPECT(id, sig, want) login_expect_at(__LINE__, (id), (sig), (want))

static void check_logged_in_as(int line, const char* id) {
    char buf[128];
    memset(buf, 'z', sizeof buf);
    th_check(TIMGetLoginUserID(buf) == TIM_SUCC, __FILE__, line, "TIMGetLoginUserID", NULL);
    buf[127] = 0;
    th_check(strcmp(buf, id) == 0, __FILE__, line, "login user id", "\"%s\" want \"%s\"", buf, id);
    int want = *id ? kTIMLoginStatus_Logined : kTIMLoginStatus_UnLogined;
    th_check((int)TIMGetLoginStatus() == want, __FILE__, line, "login status", "%d want %d",
             (int)TIMGetLoginStatus(), want);
}
#define LOGGED_IN_AS(id) check_logged_in_as(__LINE__, (id))

/* ---------------------------------------------------------------------------
 * An independent UserSig v2 encoder (docs/contract.md 3.7), to cross-check the library
 * ------------------------------------------------------------------------- */

static char* b64(const unsigned char* data, size_t n) {
    char* out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out) abort();
    EVP_EncodeBlock((unsigned char*)out, data, (int)n);
    return out;
}

/* zlib-compress text and base64 it with + / = replaced by * - _ */
static char* pack_sig(const char* text) {
    uLongf cap = compressBound((uLong)strlen(text));
    unsigned char* z = malloc(cap);
    if (!z) abort();
    if (compress2(z, &cap, (const unsigned char*)text, (uLong)strlen(text), Z_BEST_COMPRESSION) != Z_OK) abort();
    char* s = b64(z, cap);
    free(z);
    for (char* p = s; *p; p++) {
        if (*p == '+') *p = '*';
        else if (*p == '/') *p = '-';
        else if (*p == '=') *p = '_';
    }
    return s;
}

/* The HMAC-SHA256 signature of docs/contract.md 3.7 (standard base64). */
static char* hmac_sig(const char* key, const char* id, uint64_t appid, uint64_t t, uint64_t expire,
                      const char* userbuf) {
    char text[1024];
    int n = snprintf(text, sizeof text,
                     "TLS.identifier:%s\nTLS.sdkappid:%llu\nTLS.time:%llu\nTLS.expire:%llu\n", id,
                     (unsigned long long)appid, (unsigned long long)t, (unsigned long long)expire);
    if (userbuf) snprintf(text + n, sizeof text - (size_t)n, "TLS.userbuf:%s\n", userbuf);
    unsigned char mac[32];
    unsigned int maclen = sizeof mac;
    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char*)text, strlen(text), mac, &maclen);
    return b64(mac, maclen);
}

/*
 * Build a UserSig from parts.  flags: 1 drop TLS.sig, 2 sign a different
 * expire than the one written, 4 TLS.ver "1.0", 8 garbage sig text.
 */
static char* my_sig(const char* key, const char* id, uint64_t appid, uint64_t t, uint64_t expire,
                    const char* userbuf, int flags) {
    char* sig = hmac_sig(key, id, appid, t, (flags & 2) ? expire + 1 : expire, userbuf);
    json_t* o = json_object();
    json_object_set_new(o, "TLS.ver", json_string((flags & 4) ? "1.0" : "2.0"));
    json_object_set_new(o, "TLS.identifier", json_string(id));
    json_object_set_new(o, "TLS.sdkappid", json_integer((json_int_t)appid));
    json_object_set_new(o, "TLS.expire", json_integer((json_int_t)expire));
    json_object_set_new(o, "TLS.time", json_integer((json_int_t)t));
    if (userbuf) json_object_set_new(o, "TLS.userbuf", json_string(userbuf));
    if (!(flags & 1)) json_object_set_new(o, "TLS.sig", json_string((flags & 8) ? "AAAA" : sig));
    free(sig);
    char* text = tu_dump(o);
    char* out = pack_sig(text);
    free(text);
    return out;
}

/* ---------------------------------------------------------------------------
 * Without a secret key
 * ------------------------------------------------------------------------- */

static void test_identifiers(void) {
    th_call* c = tu_login(NULL, "sig");
    CHECK_INT(c->code, TIM_ERR_PARAM);
    th_call_free(c);
    LOGIN_EXPECT("", "sig", 7003);
    char* id33 = tu_repeat('a', 33);
    char* id32 = tu_repeat('b', 32);
    LOGIN_EXPECT(id33, "sig", 7003);
    LOGGED_IN_AS("");
    LOGIN_EXPECT("a\x01z", "sig", 7003);
    LOGIN_EXPECT("a\tz", "sig", 7003);
    LOGIN_EXPECT("a\nz", "sig", 7003);
    LOGIN_EXPECT("a\x7fz", "sig", 7003);
    LOGIN_EXPECT("caf\xc3\xa9", "sig", 7003); /* valid UTF-8, not ASCII */
    LOGIN_EXPECT("\xff", "sig", 7003);
    LOGGED_IN_AS("");
    LOGIN_EXPECT(id32, "sig", 0);
    LOGGED_IN_AS(id32);
    TU_LOGOUT_OK();
    LOGGED_IN_AS("");
    /* every printable ASCII character is allowed, quotes and backslash included */
    const char* odd = " \"\\/{}[]:,~!@#$%^&*()=+'`<>?|;.";
    CHECK(strlen(odd) <= 32);
    LOGIN_EXPECT(odd, "sig", 0);
    LOGGED_IN_AS(odd);
    json_t* st = TU_STATUS(odd, 0);
    CHECK_STR(tu_jstr(st, "user_status_identifier"), odd);
    CHECK_INT(tu_jint(st, "user_status_status_type"), 1);
    json_decref(st);
    json_t* p = TU_PROFILE(odd, 0);
    CHECK_STR(tu_jstr(p, "user_profile_identifier"), odd);
    json_decref(p);
    TU_LOGOUT_OK();
    free(id33);
    free(id32);
}

static void test_sig_empty_and_any(void) {
    LOGIN_EXPECT("alice", NULL, 70002);
    LOGIN_EXPECT("alice", "", 70002);
    LOGGED_IN_AS("");
    LOGIN_EXPECT("alice", "anything at all", 0); /* no key: any non-empty sig */
    LOGGED_IN_AS("alice");
}

static void test_relogin_and_switch(void) {
    /* logged in as alice from the previous test */
    LOGIN_EXPECT("alice", "again", 0);
    LOGGED_IN_AS("alice");
    LOGIN_EXPECT("bob", "sig", 7014);
    LOGGED_IN_AS("alice");
    TU_EXPECT_STATUS_TYPE("alice", 1);
    /* bob was not created by the refused login */
    TU_EXPECT_NO_ACCOUNT("bob");
    TU_LOGOUT_OK();
    LOGGED_IN_AS("");
    TU_LOGOUT_OK(); /* logout when logged out */
    LOGGED_IN_AS("");
    /* logging in created the accounts */
    TU_LOGIN_OK("bob");
    LOGGED_IN_AS("bob");
    json_t* alice = TU_PROFILE("alice", 0);
    CHECK_STR(tu_jstr(alice, "user_profile_identifier"), "alice");
    json_decref(alice);
    TU_EXPECT_STATUS_TYPE("alice", 3);
    TU_LOGOUT_OK();
    /* after a logout the profile/status calls say "not login" */
    th_call* c = tu_run(TIMGetUserStatus, "[\"alice\"]");
    CHECK_INT(c->code, 6014);
    th_call_free(c);
}

/* ---------------------------------------------------------------------------
 * With a secret key
 * ------------------------------------------------------------------------- */

static void test_usersig(void) {
    CHECK_INT(TIMUninit(), TIM_SUCC);
    CHECK_INT(TIMInit(APPID, "{\"timref_config_secret_key\":\"" KEY "\"}"), TIM_SUCC);
    uint64_t now = (uint64_t)time(NULL);

    char* good = tr_usersig_make(APPID, KEY, "alice", now, 86400, NULL);
    CHECK(good != NULL);
    LOGIN_EXPECT("alice", good, 0);
    LOGGED_IN_AS("alice");
    TU_LOGOUT_OK();

    char* with_buf = tr_usersig_make(APPID, KEY, "alice", now, 86400, "some-user-buf");
    LOGIN_EXPECT("alice", with_buf, 0);
    TU_LOGOUT_OK();

    /* the independent encoder agrees with the library */
    char* mine = my_sig(KEY, "carol", APPID, now, 3600, NULL, 0);
    LOGIN_EXPECT("carol", mine, 0);
    TU_LOGOUT_OK();
    char* mine_buf = my_sig(KEY, "carol", APPID, now, 3600, "ub", 0);
    LOGIN_EXPECT("carol", mine_buf, 0);
    TU_LOGOUT_OK();

    /* other identifier, other app, expired, other key */
    char* for_bob = tr_usersig_make(APPID, KEY, "bob", now, 86400, NULL);
    LOGIN_EXPECT("alice", for_bob, 70013);
    char* other_app = tr_usersig_make(APPID + 1, KEY, "alice", now, 86400, NULL);
    LOGIN_EXPECT("alice", other_app, 70014);
    char* expired = tr_usersig_make(APPID, KEY, "alice", now - 1000, 100, NULL);
    LOGIN_EXPECT("alice", expired, 70001);
    char* still_valid = tr_usersig_make(APPID, KEY, "alice", now - 100, 300, NULL);
    LOGIN_EXPECT("alice", still_valid, 0);
    TU_LOGOUT_OK();
    char* other_key = tr_usersig_make(APPID, "another-key", "alice", now, 86400, NULL);
    LOGIN_EXPECT("alice", other_key, 70003);
    LOGGED_IN_AS("");

    /* malformed at every layer */
    LOGIN_EXPECT("alice", "garbage", 70003);
    LOGIN_EXPECT("alice", "!!!!", 70003);
    char* not_zlib = tu_strdup("eJzLSM3JyQcABiwCFQ__");
    not_zlib[3] = 'A'; /* corrupt the zlib stream */
    LOGIN_EXPECT("alice", not_zlib, 70003);
    char* packed_text = pack_sig("this is not json");
    LOGIN_EXPECT("alice", packed_text, 70003);
    char* packed_array = pack_sig("[1,2,3]");
    LOGIN_EXPECT("alice", packed_array, 70003);
    char* no_sig = my_sig(KEY, "alice", APPID, now, 3600, NULL, 1);
    LOGIN_EXPECT("alice", no_sig, 70003);
    char* tampered = my_sig(KEY, "alice", APPID, now, 3600, NULL, 2);
    LOGIN_EXPECT("alice", tampered, 70003);
    char* garbage_sig = my_sig(KEY, "alice", APPID, now, 3600, NULL, 8);
    LOGIN_EXPECT("alice", garbage_sig, 70003);
    char* huge = tu_repeat('A', 100000);
    LOGIN_EXPECT("alice", huge, 70003);
    /* a zlib bomb: 4 MB of spaces compress to a few KB */
    {
        size_t n = 4 * 1024 * 1024;
        char* spaces = tu_repeat(' ', n);
        spaces[0] = '{';
        spaces[n - 1] = '}';
        char* bomb = pack_sig(spaces);
        LOGIN_EXPECT("alice", bomb, 70003);
        free(bomb);
        free(spaces);
    }
    /* flip characters of a good sig: never accepted, never crashes */
    size_t glen = strlen(good);
    for (size_t i = 0; i + 4 < glen; i += 7) { /* not the padding end */
        char* t = tu_strdup(good);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        th_call* c = tu_login("alice", t);
        th_check(c->code != 0, __FILE__, __LINE__, "a flipped sig is refused", "pos %zu code %d", i,
                 (int)c->code);
        if (c->code == 0) {
            th_call* lo = tu_logout();
            th_call_free(lo);
        }
        th_call_free(c);
        free(t);
    }
    /* a truncated sig */
    char* trunc = tu_strdup(good);
    trunc[glen / 2] = 0;
    LOGIN_EXPECT("alice", trunc, 70003);
    LOGGED_IN_AS("");
    /* 7003 is still checked before the sig */
    LOGIN_EXPECT("", good, 7003);

    free(good);
    free(with_buf);
    free(mine);
    free(mine_buf);
    free(for_bob);
    free(other_app);
    free(expired);
    free(still_valid);
    free(other_key);
    free(not_zlib);
    free(packed_text);
    free(packed_array);
    free(no_sig);
    free(tampered);
    free(garbage_sig);
    free(huge);
    free(trunc);

    /* an empty secret key means no verification */
    CHECK_INT(TIMUninit(), TIM_SUCC);
    CHECK_INT(TIMInit(APPID, "{\"timref_config_secret_key\":\"\"}"), TIM_SUCC);
    LOGIN_EXPECT("alice", "not a usersig", 0);
    TU_LOGOUT_OK();
}

static void test_uninit_logs_out(void) {
    TU_LOGIN_OK("dave");
    LOGGED_IN_AS("dave");
    CHECK_INT(TIMUninit(), TIM_SUCC);
    LOGGED_IN_AS("");
    CHECK_INT(TIMInit(APPID, NULL), TIM_SUCC);
    LOGGED_IN_AS("");
    /* a fresh in-memory store: dave is gone, and logging in works again */
    TU_LOGIN_OK("erin");
    TU_EXPECT_NO_ACCOUNT("dave");
    TU_LOGOUT_OK();
}

int main(void) {
    CHECK_INT(TIMInit(APPID, NULL), TIM_SUCC);
    LOGGED_IN_AS("");
    test_identifiers();
    test_sig_empty_and_any();
    test_relogin_and_switch();
    test_usersig();
    test_uninit_logs_out();
    CHECK_INT(TIMUninit(), TIM_SUCC);
    return th_finish();
}
