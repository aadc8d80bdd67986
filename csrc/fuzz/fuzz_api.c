/*
 * fuzz_api.c - one libFuzzer target per JSON-taking API call, chosen at
 * compile time with -DFZ_TARGET=n (see CMakeLists.txt):
 *   1 TIMProfileGetUserProfileList   2 TIMProfileModifySelfUserProfile
 *   3 TIMGetUserStatus               4 TIMSetSelfStatus
 *   5 TIMSubscribeUserStatus         6 TIMUnsubscribeUserStatus
 *   7 TIMSubscribeUserInfo           8 TIMUnsubscribeUserInfo
 *
 * Once: TIMInit (in-memory store), import a, b, c, log in as "fuzzer".
 * Per input: make the call with the input as its JSON argument and wait for
 * the callback (fuzz_common.h checks the callback rules).  Beyond that:
 *   - a successful lookup answers a JSON array;
 *   - a call that changes state (modify, set status) and fails leaves the
 *     profiles and statuses exactly as they were (full JSON compared);
 *   - the session stays logged in as "fuzzer".
 */
#include <jansson.h>

#include "fuzz_common.h"

#ifndef FZ_TARGET
#error "define FZ_TARGET"
#endif

#if FZ_TARGET == 1
#define FZ_FN TIMProfileGetUserProfileList
#define FZ_ANSWERS_ARRAY 1
#elif FZ_TARGET == 2
#define FZ_FN TIMProfileModifySelfUserProfile
#define FZ_CHANGES_STATE 1
#elif FZ_TARGET == 3
#define FZ_FN TIMGetUserStatus
#define FZ_ANSWERS_ARRAY 1
#elif FZ_TARGET == 4
#define FZ_FN TIMSetSelfStatus
#define FZ_CHANGES_STATE 1
#elif FZ_TARGET == 5
#define FZ_FN TIMSubscribeUserStatus
#elif FZ_TARGET == 6
#define FZ_FN TIMUnsubscribeUserStatus
#elif FZ_TARGET == 7
#define FZ_FN TIMSubscribeUserInfo
#elif FZ_TARGET == 8
#define FZ_FN TIMUnsubscribeUserInfo
#else
#error "FZ_TARGET out of range"
#endif

FZ_INITIALIZE_WITH_SETUP()

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    char* arg = fz_cstr(data, size);
#ifdef FZ_CHANGES_STATE
    char* before = fz_snapshot();
#endif
    fz_call c = {0};
    int rc = FZ_FN(arg, fz_cb, &c);
    fz_settle(rc, &c);
#ifdef FZ_ANSWERS_ARRAY
    if (rc == TIM_SUCC && c.code == 0) {
        json_t* j = json_loads(c.json, 0, NULL);
        if (!json_is_array(j) || json_array_size(j) == 0) fz_die("a successful lookup did not answer an array");
        json_decref(j);
    }
#endif
    if (rc == TIM_SUCC && c.code != 0 && c.desc[0] == '\0') fz_die("an error callback with an empty desc");
#ifdef FZ_CHANGES_STATE
    fz_check_unchanged(before, rc, &c, NULL, "a refused call changed the state");
#endif
    char who[128] = "";
    TIMGetLoginUserID(who);
    if (strcmp(who, "fuzzer") != 0) fz_die("the session was lost");
    fz_reset(&c);
    free(arg);
    return 0;
}
