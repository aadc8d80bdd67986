/*
 * fuzz_init.c - libFuzzer target for TIMInit's JSON configuration.
 *
 * Per input: TIMInit(appid, input).  On TIM_SUCC: a second TIMInit returns
 * TIM_SUCC, a login and a lookup call back exactly once, then TIMUninit.
 * Otherwise the library must stay uninitialized (a call answers 6013).
 *
 * The store directory named by sdk_config_config_file_path is created for
 * real, so the target works in a scratch directory of its own (removed at
 * exit) and skips inputs naming an absolute path or "..".
 */
#include <ftw.h>
#include <jansson.h>
#include <unistd.h>

#include "fuzz_common.h"

static char g_scratch[] = "/tmp/timref-fuzz-init-XXXXXX";

static int rm_one(const char* path, const struct stat* sb, int flag, struct FTW* ftw) {
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void cleanup(void) {
    TIMUninit();
    nftw(g_scratch, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int* argc, char*** argv) {
    (void)argc;
    (void)argv;
    if (!mkdtemp(g_scratch) || chdir(g_scratch) != 0) fz_die("cannot make a scratch directory");
    atexit(cleanup);
    return 0;
}

/* Whether the input names a store path outside the scratch directory. */
static int unsafe_path(const char* text) {
    json_t* j = json_loads(text, JSON_DECODE_ANY, NULL);
    json_t* v = json_object_get(j, "sdk_config_config_file_path");
    int bad = 0;
    if (json_is_string(v)) {
        const char* p = json_string_value(v);
        bad = p[0] == '/' || strstr(p, "..") != NULL;
    }
    if (!j && strstr(text, "sdk_config_config_file_path")) bad = 1; /* cannot judge: skip */
    json_decref(j);
    return bad;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    char* cfg = fz_cstr(data, size);
    if (unsafe_path(cfg)) {
        free(cfg);
        return 0;
    }
    int rc = TIMInit(1400000002, cfg);
    if (rc != TIM_SUCC && rc != TIM_ERR_PARAM && rc != TIM_ERR_JSON) fz_die("TIMInit: unexpected return code");
    if (rc == TIM_SUCC) {
        if (TIMInit(1400000002, cfg) != TIM_SUCC) fz_die("a second TIMInit did not return TIM_SUCC");
        fz_call c = {0};
        int lrc = TIMLogin("fuzzer", "sig", fz_cb, &c);
        fz_settle(lrc, &c);
        fz_reset(&c);
        fz_run(TIMProfileGetUserProfileList, "{\"friendship_getprofilelist_param_identifier_array\":[\"fuzzer\"]}",
               NULL);
        TIMUninit();
    }
    /* Uninitialized now, whatever happened. */
    fz_call c = {0};
    int grc = TIMGetUserStatus("[\"fuzzer\"]", fz_cb, &c);
    if (grc != TIM_SUCC) fz_die("GetUserStatus refused");
    fz_wait(&c);
    if (c.code != 6013) fz_die("not 6013 after a failed TIMInit or after TIMUninit");
    fz_reset(&c);
    free(cfg);
    return 0;
}
