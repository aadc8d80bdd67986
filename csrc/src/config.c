/*
 * config.c - the library's configuration and its life: TIMInit's config read
 * into the context (tr_g, defined here), the store opened and the feed
 * started; and TIMUninit's undoing of all that.  Both run on the logic thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_internal.h"

tr_ctx tr_g;

/* The store URI (timref_config_store_url); read here, kept only until the store is open. */
static char* g_store_url;

static void free_url(void) {
    if (g_store_url) explicit_bzero(g_store_url, strlen(g_store_url)); /* it may hold a password */
    free(g_store_url);
    g_store_url = NULL;
}

static void free_config(void) {
    free_url();
    free(tr_g.dir);
    free(tr_g.secret_key);
    free(tr_g.device);
    for (size_t i = 0; i < tr_g.n_allowed; i++) free(tr_g.allowed_keys[i]);
    free(tr_g.allowed_keys);
    tr_g.dir = tr_g.secret_key = tr_g.device = NULL;
    tr_g.allowed_keys = NULL;
    tr_g.n_allowed = 0;
}

/* A config key's value is of the wrong kind: TIM_ERR_PARAM, saying what it must be. */
static int bad_config(const char* key, const char* must) {
    return tr_refuse(TIM_ERR_PARAM, "TIMInit config: %s must be %s", key, must);
}

/*
 * A string key (absent and null: nothing to do): must be a string, and an
 * identifier when `id`; copied into *out (when out is given) unless "".
 */
static int read_string(const json_t* cfg, const char* key, const char* must, bool id, char** out) {
    const json_t* v = json_object_get(cfg, key);
    if (!v || json_is_null(v)) return TIM_SUCC;
    if (!json_is_string(v) || (id && !tr_id_valid(json_string_value(v), json_string_length(v))))
        return bad_config(key, must);
    if (!out || json_string_length(v) == 0) return TIM_SUCC;
    return (*out = strdup(json_string_value(v))) ? TIM_SUCC : tr_refuse_oom();
}

/* The custom keys the app allows, in their full form. */
static int read_allowed_keys(const json_t* cfg) {
    const json_t* v = json_object_get(cfg, kTIMRefConfigCustomProfileKeys);
    if (!v || json_is_null(v)) return TIM_SUCC;
    if (!json_is_array(v)) return bad_config(kTIMRefConfigCustomProfileKeys, "an array of custom keys");
    size_t n = json_array_size(v);
    tr_g.allowed_keys = calloc(n ? n : 1, sizeof(char*));
    if (!tr_g.allowed_keys) return tr_refuse_oom();
    for (size_t i = 0; i < n; i++) {
        const json_t* k = json_array_get(v, i);
        char full[TR_CUSTOM_KEY_SIZE];
        if (!json_is_string(k) || !tr_custom_key_full(json_string_value(k), full))
            return tr_refuse(TIM_ERR_PARAM, "TIMInit config: %s[%zu] is not a custom key (" TR_CUSTOM_KEY_RULE ")",
                             kTIMRefConfigCustomProfileKeys, i);
        if (!(tr_g.allowed_keys[tr_g.n_allowed] = strdup(full))) return tr_refuse_oom();
        tr_g.n_allowed++;
    }
    return TIM_SUCC;
}

/* The longest URI taken (a libpq URI is short; this bounds what is parsed and kept). */
#define STORE_URL_MAX 4096

/* timref_config_store_url: a postgresql:// or postgres:// URI (checked by the engine when it
 * opens); *url points into cfg, NULL when absent. */
static int store_url(const json_t* cfg, const char** url) {
    *url = NULL;
    const json_t* v = json_object_get(cfg, kTIMRefConfigStoreUrl);
    if (!v || json_is_null(v)) return TIM_SUCC;
    const char* must = "a PostgreSQL connection URI (postgresql://user:password@host:port/dbname)";
    if (!json_is_string(v)) return bad_config(kTIMRefConfigStoreUrl, must);
    const char* s = json_string_value(v);
    size_t n = json_string_length(v);
    if (strlen(s) != n || (strncmp(s, "postgresql://", 13) != 0 && strncmp(s, "postgres://", 11) != 0))
        return bad_config(kTIMRefConfigStoreUrl, must);
    if (n > STORE_URL_MAX)
        return tr_refuse(TIM_ERR_PARAM, "TIMInit config: %s is longer than %d bytes", kTIMRefConfigStoreUrl,
                         STORE_URL_MAX);
    *url = s;
    return TIM_SUCC;
}

static int read_store_url(const json_t* cfg) {
    const char* url;
    int rc = store_url(cfg, &url);
    if (rc != TIM_SUCC || !url) return rc;
    return (g_store_url = strdup(url)) ? TIM_SUCC : tr_refuse_oom();
}

int tr_config_store(const json_t* cfg, tr_store_config* out) {
    out->dir = out->url = NULL;
    int rc = read_string(cfg, kTIMSdkConfigConfigFilePath, "a string (a directory)", false, NULL);
    if (rc == TIM_SUCC) rc = store_url(cfg, &out->url);
    /* With a URI, the directory is no store (as in tr_init_on_logic). */
    const char* dir = json_string_value(json_object_get(cfg, kTIMSdkConfigConfigFilePath));
    if (rc == TIM_SUCC && !out->url && dir && dir[0]) out->dir = dir;
    return rc;
}

/* Read the config object into tr_g; TIM_ERR_PARAM on a value of the wrong kind. */
static int read_config(const json_t* cfg) {
    int rc = read_string(cfg, kTIMSdkConfigConfigFilePath, "a string (a directory)", false, &tr_g.dir);
    if (rc == TIM_SUCC) rc = read_string(cfg, kTIMSdkConfigLogFilePath, "a string", false, NULL);
    if (rc == TIM_SUCC) rc = read_string(cfg, kTIMRefConfigSecretKey, "a string", false, &tr_g.secret_key);
    if (rc == TIM_SUCC)
        rc = read_string(cfg, kTIMRefConfigDeviceName, "a string of 1..32 printable ASCII bytes", true, &tr_g.device);
    if (rc == TIM_SUCC) rc = read_allowed_keys(cfg);
    if (rc == TIM_SUCC) rc = read_store_url(cfg);
    if (rc == TIM_SUCC && !tr_g.device && !(tr_g.device = strdup("Linux")))
        rc = tr_refuse_oom();
    return rc;
}

bool tr_custom_key_allowed(const char* full_key) {
    if (!tr_g.allowed_keys) return true;
    for (size_t i = 0; i < tr_g.n_allowed; i++)
        if (strcmp(tr_g.allowed_keys[i], full_key) == 0) return true;
    return false;
}

void tr_init_on_logic(void* p) {
    tr_init_args* a = p;
    if (tr_g.initialized) { /* twice without TIMUninit: nothing changes */
        a->rc = TIM_SUCC;
        return;
    }
    a->rc = read_config(a->cfg);
    if (a->rc == TIM_SUCC) {
        char err[TR_REASON_SIZE];
        /* With a URI, the directory is no store (the vendor's SDK keeps its own files there). */
        tr_store_config sc = {.dir = g_store_url ? NULL : tr_g.dir, .url = g_store_url};
        if (tr_store_open(&tr_g.store, a->app_id, &sc, err, sizeof err) != TR_OK)
            a->rc = tr_refuse(TIM_ERR_PARAM, "%s", err);
        free_url();
    }
    if (a->rc != TIM_SUCC) {
        snprintf(a->why, sizeof a->why, "%s", TIMRefGetLastError());
        free_config();
        return;
    }
    tr_g.app_id = a->app_id;
    tr_g.initialized = true;
    tr_feed_start();
}

void tr_uninit_on_logic(void* unused) {
    (void)unused;
    if (!tr_g.initialized) return;
    tr_result r = {0};
    tr_session_end(&r);
    free(r.json);
    tr_feed_run(); /* deliver what is due before the store goes */
    tr_feed_stop();
    tr_profile_cache_reset();
    tr_status_cache_reset();
    tr_store_close(tr_g.store);
    tr_g.store = NULL;
    free_config();
    tr_g.initialized = false;
    tr_session_forget();
}
