/*
 * fuzz_admin.c - libFuzzer target for TIMRefAdminRequest.
 *
 * The first byte picks the api (mod 13): 0..6 and 8..12 one of the twelve known
 * apis, 7 an api read from the input (the bytes up to the first '\n').  The rest
 * is the body.  Checks the callback rules (fuzz_common.h), that json_params of
 * a completed admin call is a JSON object carrying ErrorCode equal to the
 * callback's code, and that a failed call changed nothing.
 */
#include <jansson.h>

#include "fuzz_common.h"

static const char* const k_apis[] = {
    "v4/im_open_login_svc/account_import", "v4/im_open_login_svc/multiaccount_import",
    "v4/im_open_login_svc/account_delete", "v4/profile/portrait_get",
    "v4/profile/portrait_set",             "v4/openim/query_online_status",
    "ref/set_user_status",
    /* first bytes 8..12 (7 reads the api from the input) */
    "ref/account_list",                    "ref/events",
    "ref/world_export",                    "ref/world_import",
    "ref/world_reset",
};
#define N_APIS (sizeof k_apis / sizeof k_apis[0])
#define OWN_API 7 /* the first byte that reads the api from the input */

FZ_INITIALIZE_WITH_SETUP()

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    unsigned pick = data[0] % (N_APIS + 1);
    char* rest = fz_cstr(data + 1, size - 1);
    char* api;
    char* body;
    if (pick != OWN_API) {
        api = strdup(k_apis[pick < OWN_API ? pick : pick - 1]);
        body = strdup(rest);
    } else {
        char* nl = strchr(rest, '\n');
        if (nl) *nl = '\0';
        api = strdup(rest);
        body = strdup(nl ? nl + 1 : "");
    }
    if (!api || !body) fz_die("out of memory in the harness");
    char* before = fz_snapshot();
    fz_call c = {0};
    int rc = TIMRefAdminRequest(api, body, fz_cb, &c);
    fz_settle(rc, &c);
    if (rc == TIM_SUCC && c.code != 6013 && c.code != 6028) {
        json_t* j = json_loads(c.json, 0, NULL);
        json_t* ec = json_object_get(j, "ErrorCode");
        if (!json_is_object(j) || !json_is_integer(ec) || json_integer_value(ec) != c.code)
            fz_die("admin answer is not an object with ErrorCode equal to the callback code");
        json_decref(j);
    }
    fz_check_unchanged(before, rc, &c, api, "a failed admin call changed the state");
    fz_reset(&c);
    free(api);
    free(body);
    free(rest);
    return 0;
}
