/*
 * th_store_many.h - the check of profile_load_many and status_load_many that
 * runs against every engine (test_store.c: SQLite, test_store_pg.c:
 * PostgreSQL): the order asked, unknown IDs, an ID asked twice, IDs that SQL
 * quoting would mind, and what each found entry holds.  Included once by each
 * test program, after th_util.h and tr_internal.h.
 */
#ifndef TH_STORE_MANY_H
#define TH_STORE_MANY_H

/* st: an open store; the accounts it creates start with "many_". */
static void th_check_load_many(tr_store* st) {
    const char* mk[] = {"many_a", "many_b", "many_q\"\\{,}"};
    CHECK_INT(tr_store_begin(st), TR_OK);
    for (size_t i = 0; i < 3; i++) {
        CHECK_INT(tr_store_account_ensure(st, mk[i], NULL), TR_OK);
        tr_profile p;
        tr_profile_init(&p, mk[i]);
        for (int f = 0; f < TR_F_COUNT; f++)
            if (tr_fields[f].is_string) p.str[f] = tu_strdup("");
        free(p.str[TR_F_NICK]);
        p.str[TR_F_NICK] = tu_strdup(mk[i] + 5); /* "a", "b", ... */
        p.num[TR_F_LEVEL] = (uint32_t)(i + 7);
        p.last_updated = 1000 + (int64_t)i;
        p.n_custom = 1;
        snprintf(p.custom[0].key, sizeof p.custom[0].key, "Tag_Profile_Custom_k");
        p.custom[0].value = tu_strdup(mk[i]);
        CHECK_INT(tr_store_profile_save(st, &p), TR_OK);
        tr_profile_clear(&p);
    }
    CHECK_INT(tr_store_status_set(st, "many_b", kTIMUserStatusType_Offline, "away"), TR_OK);
    CHECK_INT(tr_store_session_add(st, "many_tok", "many_a", "Phone", true, -1), TR_OK);
    CHECK_INT(tr_store_commit(st), TR_OK);

    const char* ask[] = {"many_b", "many_nobody", "many_a", "many_q\"\\{,}", "many_b", "many_\"", ""};
    enum { N = sizeof ask / sizeof ask[0] };
    const bool want[N] = {true, false, true, true, true, false, false};
    tr_profile p[N];
    bool found[N];
    CHECK_INT(tr_store_profile_load_many(st, ask, N, p, found), TR_OK);
    for (size_t i = 0; i < N; i++) {
        th_check(found[i] == want[i], __FILE__, __LINE__, "found as expected", "%s: %d", ask[i], found[i]);
        CHECK_STR(p[i].id, ask[i]);
        if (!found[i]) {
            th_check(p[i].str[TR_F_NICK] == NULL && p[i].n_custom == 0, __FILE__, __LINE__, "unknown: empty",
                     "%s", ask[i]);
        } else {
            CHECK_STR(p[i].str[TR_F_NICK], ask[i] + 5);
            CHECK_INT(p[i].n_custom, 1);
            if (p[i].n_custom == 1) CHECK_STR(p[i].custom[0].value, ask[i]);
            /* the same as profile_load says */
            tr_profile one;
            CHECK_INT(tr_store_profile_load(st, ask[i], &one), TR_OK);
            CHECK_INT(p[i].num[TR_F_LEVEL], one.num[TR_F_LEVEL]);
            CHECK_INT(p[i].last_updated, one.last_updated);
            tr_profile_clear(&one);
        }
        tr_profile_clear(&p[i]);
    }
    /* none asked, none found */
    CHECK_INT(tr_store_profile_load_many(st, ask, 0, p, found), TR_OK);
    const char* none[] = {"many_x", "many_y"};
    CHECK_INT(tr_store_profile_load_many(st, none, 2, p, found), TR_OK);
    CHECK(!found[0] && !found[1]);
    tr_profile_clear(&p[0]);
    tr_profile_clear(&p[1]);

    tr_status s[N];
    CHECK_INT(tr_store_status_load_many(st, ask, N, s, found), TR_OK);
    for (size_t i = 0; i < N; i++) {
        th_check(found[i] == want[i], __FILE__, __LINE__, "status found as expected", "%s: %d", ask[i], found[i]);
        CHECK_STR(s[i].id, ask[i]);
        if (found[i]) {
            tr_status one;
            CHECK_INT(tr_store_status_load(st, ask[i], &one), TR_OK);
            CHECK_INT(s[i].type, one.type);
            CHECK_STR(s[i].custom, one.custom);
            CHECK_INT(s[i].n_devices, one.n_devices);
            tr_status_clear(&one);
        }
    }
    CHECK_INT(s[0].type, kTIMUserStatusType_Offline);
    CHECK_STR(s[0].custom ? s[0].custom : "(null)", "away");
    CHECK_INT(s[2].type, kTIMUserStatusType_Online);
    CHECK_INT(s[2].n_devices, 1);
    if (s[2].n_devices == 1) CHECK_STR(s[2].devices[0], "Phone");
    for (size_t i = 0; i < N; i++) tr_status_clear(&s[i]);

    /* leave the store as it was */
    CHECK_INT(tr_store_begin(st), TR_OK);
    for (size_t i = 0; i < 3; i++) CHECK_INT(tr_store_account_delete(st, mk[i]), TR_OK);
    CHECK_INT(tr_store_commit(st), TR_OK);
}

#endif
