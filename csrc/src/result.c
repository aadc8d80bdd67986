/*
 * result.c - how outcomes are reported: a job's tr_result (code, desc,
 * json_params) for its callback, tr_refuse for a call refused at once, and
 * the one mapping of store failures to the vendor's codes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "tr_internal.h"

/*
 * A text cut short (a value printed with %.64s, or the whole text at its
 * buffer's size) may end a UTF-8 sequence early: mark each byte of a broken
 * sequence '?', so that what is reported stays valid UTF-8 (a JSON answer
 * could not hold it otherwise).  The values come from parsed JSON, valid
 * UTF-8, so the only breaks are such cuts.
 */
static void mend_utf8(char* s) {
    unsigned char* p = (unsigned char*)s;
    while (*p) {
        size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
        size_t k = 1;
        while (k < n && (p[k] & 0xc0) == 0x80) k++;
        if (n == 0 || k < n) *p++ = '?';
        else p += n;
    }
}

int tr_fail(tr_result* r, int code, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->desc, sizeof r->desc, fmt, ap);
    va_end(ap);
    mend_utf8(r->desc);
    r->code = code;
    free(r->json);
    r->json = NULL;
    return code;
}

void tr_succeed(tr_result* r, char* json) {
    r->code = ERR_SUCC;
    r->desc[0] = '\0';
    free(r->json);
    r->json = json;
}

int tr_succeed_json(tr_result* r, json_t* j) {
    char* text = j ? tr_json_dump(j) : NULL;
    json_decref(j);
    if (!text) return tr_store_fail(r, TR_ENOMEM);
    tr_succeed(r, text);
    return ERR_SUCC;
}

int tr_store_fail(tr_result* r, int rc) {
    if (rc == TR_ENOMEM) return tr_fail(r, ERR_OUT_OF_MEMORY, "out of memory");
    return tr_fail(r, ERR_IO_OPERATION_FAILED, "store: %s",
                   rc == TR_NOTFOUND ? "a record is missing" : tr_store_errmsg(tr_g.store));
}

int tr_commit(int rc, tr_result* r) {
    if (rc == TR_OK) rc = tr_store_commit(tr_g.store);
    if (rc == TR_OK) return ERR_SUCC;
    tr_store_fail(r, rc); /* before the rollback, which would replace SQLite's message */
    tr_store_rollback(tr_g.store);
    return r->code;
}

/* Why the last call on this thread was refused at once (TIMRefGetLastError). */
static _Thread_local char g_last_error[TR_REASON_SIZE];

int tr_refuse(int rc, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_last_error, sizeof g_last_error, fmt, ap);
    va_end(ap);
    mend_utf8(g_last_error);
    return rc;
}

int tr_refuse_oom(void) { return tr_refuse(TIM_ERR_PARAM, "out of memory"); }

TIM_DECL const char* TIMRefGetLastError(void) { return g_last_error; }
