/*
 * world.c - removing a world entirely (TIMRefRemoveWorld, whose entry point is
 * in api.c): the store a TIMInit config names (config.c reads it), removed by
 * its engine (tr_store_remove), which refuses while any process has it open.
 * Runs on the caller's thread: it touches no state of the library's.
 */
#include <stdio.h>

#include "tr_internal.h"

int tr_world_remove(uint64_t app_id, const json_t* cfg) {
    tr_store_config sc;
    int rc = tr_config_store(cfg, &sc);
    if (rc != TIM_SUCC) return rc;
    if (!sc.dir && !sc.url)
        return tr_refuse(TIM_ERR_PARAM,
                         "TIMRefRemoveWorld: the config names no store (%s or %s): a world in memory ends with "
                         "its process",
                         kTIMSdkConfigConfigFilePath, kTIMRefConfigStoreUrl);
    char err[TR_REASON_SIZE] = "";
    if (tr_store_remove(app_id, &sc, err, sizeof err) != TR_OK) return tr_refuse(TIM_ERR_PARAM, "%s", err);
    return TIM_SUCC;
}
