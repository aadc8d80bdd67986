/*
 * test_store.c - persistence and sharing (docs/contract.md 3.3 config path,
 * 3.6 store and several processes): data survives TIMUninit/TIMInit and a
 * fresh process; directory 0700, database files 0600; in-memory store without
 * a path;
 * notifications across processes; a killed process turns its user Offline;
 * an acknowledged write survives an immediate kill.
 *
 * The program runs itself (via /proc/self/exe and posix_spawn) with a mode
 * argument to play the other processes.
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>
#include <stdbool.h>

#include "th_util.h"
#include "tr_internal.h"
#include "th_store_many.h"

#define APPID 1406

static char* config_for(const char* dir) {
    return tu_dump(json_pack("{s:s}", "sdk_config_config_file_path", dir));
}

/* Create (or truncate) the file at path, holding `content`. */
static void write_file_at(int line, const char* path, const char* content) {
    FILE* f = fopen(path, "w");
    th_check(f != NULL, __FILE__, line, "fopen", "%s", path);
    if (f) {
        fputs(content, f);
        fclose(f);
    }
}
#define WRITE_FILE(path, content) write_file_at(__LINE__, (path), (content))

/* ---------------------------------------------------------------------------
 * children
 * ------------------------------------------------------------------------- */

static void kill_self_cb(int32_t code, const char* desc, const char* json, const void* ud) {
    (void)desc;
    (void)json;
    (void)ud;
    if (code == 0) kill(getpid(), SIGKILL);
    fprintf(stderr, "child-durable: modify failed with %d\n", (int)code);
    _exit(3);
}

/* child-durable64: 64 modifies queued at once; SIGKILL inside the 64th completion. */
static int g_d64_seen;
static void kill64_cb(int32_t code, const char* desc, const char* json, const void* ud) {
    (void)desc;
    (void)json;
    int i = (int)(intptr_t)ud;
    if (code != 0 || i != g_d64_seen) {
        fprintf(stderr, "child-durable64: modify %d completed %d-th with %d\n", i, g_d64_seen, (int)code);
        _exit(3);
    }
    if (++g_d64_seen == 64) kill(getpid(), SIGKILL);
}

static int child_main(const char* mode, const char* dir) {
    char* cfg = config_for(dir);
    if (TIMInit(APPID, cfg) != TIM_SUCC) {
        fprintf(stderr, "child %s: TIMInit failed\n", mode);
        free(cfg);
        return 2;
    }
    free(cfg);
    if (!strcmp(mode, "child-read")) {
        TU_LOGIN_OK("c1");
        json_t* p = TU_PROFILE("p1", 0);
        CHECK_STR(tu_jstr(p, "user_profile_nick_name"), "Persist");
        json_decref(p);
        TU_EXPECT_STATUS_TYPE("p3", 1); /* the parent's live session */
        TU_LOGOUT_OK();
    } else if (!strcmp(mode, "child-act")) {
        TU_LOGIN_OK("c2");
        TU_EXPECT(TIMSetSelfStatus, "{\"user_status_custom_status\":\"fromchild\"}", 0, NULL);
        TU_EXPECT(TIMProfileModifySelfUserProfile, "{\"user_profile_item_nick_name\":\"ChildNick\"}", 0, NULL);
        /* stay logged in until the parent has seen both changes (it creates <dir>.go) */
        char* go = NULL;
        if (asprintf(&go, "%s.go", dir) < 0) abort();
        int seen = 0;
        for (int w = 0; w < 30000 && !seen; w += 5) {
            seen = access(go, F_OK) == 0;
            if (!seen) th_sleep_ms(5);
        }
        CHECK(seen);
        free(go);
        TU_LOGOUT_OK();
    } else if (!strcmp(mode, "child-hold")) {
        /* logged in (it says so with <dir>.held) until the parent creates <dir>.go */
        TU_LOGIN_OK("h1");
        char *held = NULL, *go = NULL;
        if (asprintf(&held, "%s.held", dir) < 0 || asprintf(&go, "%s.go", dir) < 0) abort();
        FILE* f = fopen(held, "w");
        if (f) fclose(f);
        for (int w = 0; w < 30000 && access(go, F_OK) != 0; w += 5) th_sleep_ms(5);
        free(held);
        free(go);
        TU_LOGOUT_OK();
    } else if (!strcmp(mode, "child-burst")) {
        /* changes in quick succession, then gone: each must reach the parent with its own state */
        TU_LOGIN_OK("c4");
        TU_EXPECT(TIMSetSelfStatus, "{\"user_status_custom_status\":\"burst1\"}", 0, NULL);
        TU_EXPECT(TIMSetSelfStatus, "{\"user_status_custom_status\":\"burst2\"}", 0, NULL);
        TU_EXPECT(TIMProfileModifySelfUserProfile, "{\"user_profile_item_nick_name\":\"Burst1\"}", 0, NULL);
        TU_EXPECT(TIMProfileModifySelfUserProfile, "{\"user_profile_item_nick_name\":\"Burst2\"}", 0, NULL);
        TU_LOGOUT_OK();
    } else if (!strcmp(mode, "child-die")) {
        TU_LOGIN_OK("c3");
        fflush(NULL);
        kill(getpid(), SIGKILL);
    } else if (!strcmp(mode, "child-durable")) {
        TU_LOGIN_OK("k1");
        fflush(NULL);
        if (TIMProfileModifySelfUserProfile("{\"user_profile_item_nick_name\":\"Durable\"}", kill_self_cb, NULL) !=
            TIM_SUCC)
            return 4;
        th_sleep_ms(10000);
        return 5;
    } else if (!strcmp(mode, "child-durable64")) {
        TU_LOGIN_OK("k64");
        fflush(NULL);
        for (int i = 0; i < 64; i++) {
            char arg[128];
            snprintf(arg, sizeof arg, "{\"user_profile_item_nick_name\":\"D%d\"}", i);
            if (TIMProfileModifySelfUserProfile(arg, kill64_cb, (const void*)(intptr_t)i) != TIM_SUCC) return 4;
        }
        th_sleep_ms(10000);
        return 5;
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    TIMUninit();
    return th_finish();
}

/* ---------------------------------------------------------------------------
 * parent helpers
 * ------------------------------------------------------------------------- */

/* id's session was ended (logout or TIMUninit): UnLogined, custom status cleared. */
static void expect_logged_out_at(int line, const char* id) {
    json_t* s = tu_read_at(__FILE__, line, tu_get_status, id, 0);
    th_check(tu_jint(s, "user_status_status_type") == 3, __FILE__, line, "UnLogined", "%s: %lld", id,
             tu_jint(s, "user_status_status_type"));
    const char* cs = tu_jstr(s, "user_status_custom_status");
    th_check(cs && !strcmp(cs, ""), __FILE__, line, "custom status cleared", "%s: \"%s\"", id, cs ? cs : "(null)");
    json_decref(s);
}
#define EXPECT_LOGGED_OUT(id) expect_logged_out_at(__LINE__, (id))

/* every regular file in dir has exactly mode 0600; returns how many files */
static int check_file_modes_at(int line, const char* dir) {
    DIR* d = opendir(dir);
    th_check(d != NULL, __FILE__, line, "store directory exists", "%s", dir);
    if (!d) return 0;
    int files = 0;
    struct dirent* e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        files++;
        th_check((st.st_mode & 07777) == 0600, __FILE__, line, "store file mode 0600", "%s: %o", e->d_name,
                 (unsigned)(st.st_mode & 07777));
    }
    closedir(d);
    return files;
}
#define CHECK_FILE_MODES(dir) check_file_modes_at(__LINE__, (dir))

/* ---------------------------------------------------------------------------
 * parent tests
 * ------------------------------------------------------------------------- */

static void test_persistence(const char* dir, const char* cfg) {
    CHECK_INT(TIMInit(APPID, cfg), TIM_SUCC);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
    th_check((st.st_mode & 07777) == 0700, __FILE__, __LINE__, "store directory mode 0700", "%o",
             (unsigned)(st.st_mode & 07777));
    TU_LOGIN_OK("p1");
    TU_EXPECT(TIMProfileModifySelfUserProfile,
              "{\"user_profile_item_nick_name\":\"Persist\",\"user_profile_item_level\":42,"
              "\"user_profile_item_custom_string_array\":[{\"user_profile_custom_string_info_key\":\"color\","
              "\"user_profile_custom_string_info_value\":\"blue\"}]}",
              0, NULL);
    TU_EXPECT(TIMSetSelfStatus, "{\"user_status_custom_status\":\"cs\"}", 0, NULL);
    TU_ADMIN_EXPECT("v4/im_open_login_svc/account_import", "{\"UserID\":\"p2\",\"Nick\":\"Two\"}", 0);
    CHECK(CHECK_FILE_MODES(dir) >= 1);
    TU_LOGOUT_OK();
    CHECK_INT(TIMUninit(), TIM_SUCC);
    CHECK(CHECK_FILE_MODES(dir) >= 1);

    CHECK_INT(TIMInit(APPID, cfg), TIM_SUCC);
    TU_LOGIN_OK("p3");
    json_t* p = TU_PROFILE("p1", 0);
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), "Persist");
    CHECK_INT(tu_jint(p, "user_profile_level"), 42);
    json_t* cu = json_array_get(json_object_get(p, "user_profile_custom_string_array"), 0);
    CHECK_STR(tu_jstr(cu, "user_profile_custom_string_info_key"), "Tag_Profile_Custom_color");
    CHECK_STR(tu_jstr(cu, "user_profile_custom_string_info_value"), "blue");
    json_decref(p);
    p = TU_PROFILE("p2", 0);
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), "Two");
    json_decref(p);
    EXPECT_LOGGED_OUT("p1");

    /* TIMUninit logs the session out: the user is UnLogined afterwards */
    TU_LOGOUT_OK();
    TU_LOGIN_OK("p4");
    TU_EXPECT(TIMSetSelfStatus, "{\"user_status_custom_status\":\"p4cs\"}", 0, NULL);
    CHECK_INT(TIMUninit(), TIM_SUCC);
    CHECK_INT(TIMInit(APPID, cfg), TIM_SUCC);
    TU_LOGIN_OK("p3");
    EXPECT_LOGGED_OUT("p4");
    TU_LOGOUT_OK();
    CHECK_INT(TIMUninit(), TIM_SUCC);

    /* one store per (sdk_app_id, directory) */
    CHECK_INT(TIMInit(APPID + 100, cfg), TIM_SUCC);
    TU_LOGIN_OK("q1");
    TU_EXPECT_NO_ACCOUNT("p1");
    TU_LOGOUT_OK();
    CHECK_INT(TIMUninit(), TIM_SUCC);
    CHECK(CHECK_FILE_MODES(dir) >= 1);
}

static void test_processes(const char* dir, const char* cfg, tu_ev* ev_st, tu_ev* ev_info) {
    CHECK_INT(TIMInit(APPID, cfg), TIM_SUCC);
    TIMSetUserStatusChangedCallback(tu_ev_cb, ev_st);
    TIMSetUserInfoChangedCallback(tu_ev_cb, ev_info);
    TU_LOGIN_OK("p3");

    /* a fresh process sees the data, and this process's live session */
    pid_t pid = tu_spawn_child("child-read", dir, NULL);
    int st = tu_wait_child(pid, 60000);
    th_check(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, __FILE__, __LINE__, "child-read passed",
             "wait status %d", st);

    /* another process's changes reach this one's callbacks */
    TU_EXPECT(TIMSubscribeUserStatus, "[\"c2\",\"c3\"]", 0, NULL);
    TU_EXPECT(TIMSubscribeUserInfo, "[\"c2\"]", 0, NULL);
    size_t sb = tu_ev_count(ev_st), ib = tu_ev_count(ev_info);
    pid = tu_spawn_child("child-act", dir, NULL);
    CHECK(tu_ev_wait(ev_st, sb, "user_status_identifier", "c2", "user_status_status_type", NULL, 1, NULL, 10000) >= 0);
    CHECK(tu_ev_wait(ev_st, sb, "user_status_identifier", "c2", "user_status_custom_status", "fromchild", 0, NULL,
                     10000) >= 0);
    CHECK(tu_ev_wait(ev_info, ib, "user_profile_identifier", "c2", "user_profile_nick_name", "ChildNick", 0, NULL,
                     10000) >= 0);
    char* go = NULL;
    if (asprintf(&go, "%s.go", dir) < 0) abort();
    WRITE_FILE(go, "");
    free(go);
    st = tu_wait_child(pid, 60000);
    th_check(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, __FILE__, __LINE__, "child-act passed",
             "wait status %d", st);
    CHECK(tu_ev_wait(ev_st, sb, "user_status_identifier", "c2", "user_status_status_type", NULL, 3, NULL, 5000) >= 0);
    TU_EXPECT_STATUS_TYPE("c2", 3);
    int code;
    json_t* p = tu_get_profile("c2", &code);
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), "ChildNick");
    json_decref(p);

    /* a burst of changes by a process that then logs out: every intermediate state is told */
    TU_EXPECT(TIMSubscribeUserStatus, "[\"c4\"]", 0, NULL);
    TU_EXPECT(TIMSubscribeUserInfo, "[\"c4\"]", 0, NULL);
    sb = tu_ev_count(ev_st);
    ib = tu_ev_count(ev_info);
    TU_ADMIN_EXPECT("v4/im_open_login_svc/account_import", "{\"UserID\":\"c4\"}", 0);
    json_t* warm = tu_get_profile("c4", &code); /* now cached here */
    json_decref(warm);
    warm = tu_get_status("c4", &code);
    json_decref(warm);
    pid = tu_spawn_child("child-burst", dir, NULL);
    st = tu_wait_child(pid, 60000);
    th_check(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, __FILE__, __LINE__, "child-burst passed",
             "wait status %d", st);
    /* what another process acknowledged is read at once, whatever was cached */
    warm = tu_get_profile("c4", &code);
    CHECK_STR(tu_jstr(warm, "user_profile_nick_name"), "Burst2");
    json_decref(warm);
    TU_EXPECT_STATUS_TYPE("c4", 3);
    CHECK(tu_ev_wait(ev_st, sb, "user_status_identifier", "c4", "user_status_custom_status", "burst1", 0, NULL,
                     10000) >= 0);
    CHECK(tu_ev_wait(ev_st, sb, "user_status_identifier", "c4", "user_status_custom_status", "burst2", 0, NULL,
                     10000) >= 0);
    CHECK(tu_ev_wait(ev_st, sb, "user_status_identifier", "c4", "user_status_status_type", NULL, 3, NULL, 10000) >= 0);
    CHECK(tu_ev_wait(ev_info, ib, "user_profile_identifier", "c4", "user_profile_nick_name", "Burst1", 0, NULL,
                     10000) >= 0);
    CHECK(tu_ev_wait(ev_info, ib, "user_profile_identifier", "c4", "user_profile_nick_name", "Burst2", 0, NULL,
                     10000) >= 0);

    /* a process killed without logging out: its user turns Offline, subscribers are told */
    sb = tu_ev_count(ev_st);
    pid = tu_spawn_child("child-die", dir, NULL);
    st = tu_wait_child(pid, 60000);
    th_check(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, __FILE__, __LINE__, "child-die was killed",
             "wait status %d", st);
    CHECK(tu_ev_wait(ev_st, sb, "user_status_identifier", "c3", "user_status_status_type", NULL, 2, NULL, 10000) >= 0);
    json_t* s = TU_STATUS("c3", 0);
    CHECK_INT(tu_jint(s, "user_status_status_type"), 2);
    CHECK_INT(json_array_size(json_object_get(s, "user_status_online_devices")), 0);
    json_decref(s);

    /* an acknowledged write survives a kill the next instant */
    pid = tu_spawn_child("child-durable", dir, NULL);
    st = tu_wait_child(pid, 60000);
    th_check(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, __FILE__, __LINE__,
             "child-durable was killed in its callback", "wait status %d", st);
    p = TU_PROFILE("k1", 0);
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), "Durable");
    json_decref(p);

    /* 64 writes queued at once (committed together): every acknowledged one is in the
     * store after a kill inside the last completion, each with its event */
    pid = tu_spawn_child("child-durable64", dir, NULL);
    st = tu_wait_child(pid, 60000);
    th_check(st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, __FILE__, __LINE__,
             "child-durable64 was killed in its 64th callback", "wait status %d", st);
    p = TU_PROFILE("k64", 0);
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), "D63");
    json_decref(p);
    {
        char* dbpath = NULL;
        if (asprintf(&dbpath, "%s/timref-%d.db", dir, APPID) < 0) abort();
        sqlite3* db = NULL;
        CHECK_INT(sqlite3_open(dbpath, &db), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        for (int i = 0; i < 64; i++) {
            sqlite3_stmt* q = NULL;
            char nick[16];
            snprintf(nick, sizeof nick, "D%d", i);
            CHECK_INT(sqlite3_prepare_v2(db,
                                         "SELECT count(*) FROM event WHERE type = 1 AND user_id = 'k64' AND "
                                         "json_extract(data, '$.user_profile_nick_name') = ?1",
                                         -1, &q, NULL),
                      SQLITE_OK);
            sqlite3_bind_text(q, 1, nick, -1, SQLITE_TRANSIENT);
            CHECK_INT(sqlite3_step(q), SQLITE_ROW);
            th_check(sqlite3_column_int(q, 0) == 1, __FILE__, __LINE__, "acknowledged write stored", "%s: %d", nick,
                     sqlite3_column_int(q, 0));
            sqlite3_finalize(q);
        }
        sqlite3_stmt* q = NULL;
        CHECK_INT(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, NULL), SQLITE_OK);
        CHECK_INT(sqlite3_step(q), SQLITE_ROW);
        CHECK_STR((const char*)sqlite3_column_text(q, 0), "ok");
        sqlite3_finalize(q);
        sqlite3_close(db);
        free(dbpath);
    }

    /* this process's own state is intact */
    CHECK_INT(TIMGetLoginStatus(), kTIMLoginStatus_Logined);
    TU_EXPECT_STATUS_TYPE("p3", 1);
    CHECK_INT(ev_st->on_main + ev_info->on_main, 0);
    CHECK_INT(TIMUninit(), TIM_SUCC);
    TIMSetUserStatusChangedCallback(NULL, NULL);
    TIMSetUserInfoChangedCallback(NULL, NULL);
    CHECK(CHECK_FILE_MODES(dir) >= 1);
}

/* ---------------------------------------------------------------------------
 * group commit: the writes queued together are committed together
 * ------------------------------------------------------------------------- */

unsigned long tr_store_commits(void); /* store.c, for tests */

typedef struct gc_log {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int go, n_done;
    char entries[512][48]; /* "E:<nick>" for a self-info event, "C<i>:<code>" for a completion */
    int n;
} gc_log;

static void gc_add(gc_log* g, const char* text) {
    pthread_mutex_lock(&g->mu);
    if (g->n < 512) snprintf(g->entries[g->n++], sizeof g->entries[0], "%s", text);
    pthread_mutex_unlock(&g->mu);
}

static void gc_self_cb(const char* json, const void* ud) {
    json_t* p = tu_parse(json);
    char e[48];
    const char* nick = p ? tu_jstr(p, "user_profile_nick_name") : NULL;
    snprintf(e, sizeof e, "E:%s", nick ? nick : "?");
    json_decref(p);
    gc_add((gc_log*)ud, e);
}

/* The blocker: holds the logic thread until everything is queued. */
static void gc_block_cb(int32_t code, const char* desc, const char* json, const void* ud) {
    (void)code;
    (void)desc;
    (void)json;
    gc_log* g = (gc_log*)ud;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    pthread_mutex_lock(&g->mu);
    while (!g->go)
        if (pthread_cond_timedwait(&g->cv, &g->mu, &ts) != 0) break;
    pthread_mutex_unlock(&g->mu);
}

typedef struct gc_call {
    gc_log* g;
    int i;
} gc_call;

static void gc_done_cb(int32_t code, const char* desc, const char* json, const void* ud) {
    (void)desc;
    (void)json;
    const gc_call* c = (const gc_call*)ud;
    char e[48];
    snprintf(e, sizeof e, "C%d:%d", c->i, (int)code);
    gc_add(c->g, e);
    pthread_mutex_lock(&c->g->mu);
    c->g->n_done++;
    pthread_cond_broadcast(&c->g->cv);
    pthread_mutex_unlock(&c->g->mu);
}

/* Queue args[0..n) behind a blocker, release it, wait for every completion; returns the
 * number of store commits they took. */
static unsigned long gc_run(gc_log* g, char** args, int n, gc_call* calls) {
    g->go = 0;
    g->n_done = 0;
    g->n = 0;
    CHECK_INT(TIMGetUserStatus("[\"gc\"]", gc_block_cb, g), TIM_SUCC);
    unsigned long c0 = tr_store_commits();
    for (int i = 0; i < n; i++) {
        calls[i].g = g;
        calls[i].i = i;
        CHECK_INT(TIMProfileModifySelfUserProfile(args[i], gc_done_cb, &calls[i]), TIM_SUCC);
    }
    pthread_mutex_lock(&g->mu);
    g->go = 1;
    pthread_cond_broadcast(&g->cv);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 30;
    while (g->n_done < n)
        if (pthread_cond_timedwait(&g->cv, &g->mu, &ts) != 0) break;
    int done = g->n_done;
    pthread_mutex_unlock(&g->mu);
    CHECK_INT(done, n);
    return tr_store_commits() - c0;
}

static void test_group_commit(const char* dir) {
    char* cfg = config_for(dir);
    CHECK_INT(TIMInit(APPID, cfg), TIM_SUCC);
    free(cfg);
    TU_LOGIN_OK("gc");
    static gc_log g;
    static gc_call calls[64];
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    TIMSetSelfInfoUpdatedCallback(gc_self_cb, &g);

    /* 64 modifies queued at once: all acknowledged, in order, in far fewer commits */
    char* args[64];
    for (int i = 0; i < 64; i++) {
        char a[96];
        snprintf(a, sizeof a, "{\"user_profile_item_nick_name\":\"N%d\"}", i);
        args[i] = tu_strdup(a);
    }
    unsigned long commits = gc_run(&g, args, 64, calls);
    th_check(commits >= 1 && commits <= 4, __FILE__, __LINE__, "64 writes in a few commits", "%lu commits",
             commits);
    /* each write's event before its completion, in order */
    CHECK_INT(g.n, 128);
    for (int i = 0; i < 64 && g.n == 128; i++) {
        char e[48], c[48];
        snprintf(e, sizeof e, "E:N%d", i);
        snprintf(c, sizeof c, "C%d:0", i);
        CHECK_STR(g.entries[2 * i], e);
        CHECK_STR(g.entries[2 * i + 1], c);
    }
    json_t* p = TU_PROFILE("gc", 0);
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), "N63");
    json_decref(p);
    for (int i = 0; i < 64; i++) free(args[i]);

    /* a failing job in the middle fails alone; the later jobs read the earlier writes */
    char* mixed[] = {
        "{\"user_profile_item_nick_name\":\"M0\"}",
        "{\"user_profile_item_self_signature\":\"sig\"}",
        "{\"user_profile_item_nick_name\":\"M2\",\"user_profile_item_gender\":99}",
        "{\"user_profile_item_nick_name\":\"M3\"}",
    };
    commits = gc_run(&g, mixed, 4, calls);
    th_check(commits == 1, __FILE__, __LINE__, "one commit for the batch", "%lu commits", commits);
    const char* want[] = {"E:M0", "C0:0", "E:M0", "C1:0", "C2:40605", "E:M3", "C3:0"};
    CHECK_INT(g.n, 7);
    for (int i = 0; i < 7 && g.n == 7; i++) CHECK_STR(g.entries[i], want[i]);
    p = TU_PROFILE("gc", 0);
    CHECK_STR(tu_jstr(p, "user_profile_nick_name"), "M3");
    CHECK_STR(tu_jstr(p, "user_profile_self_signature"), "sig");
    CHECK_INT(tu_jint(p, "user_profile_gender"), 0);
    json_decref(p);

    TIMSetSelfInfoUpdatedCallback(NULL, NULL);
    CHECK_INT(TIMUninit(), TIM_SUCC);
}

static void test_in_memory(void) {
    CHECK_INT(TIMInit(APPID, NULL), TIM_SUCC);
    TU_LOGIN_OK("mem1");
    TU_EXPECT(TIMProfileModifySelfUserProfile, "{\"user_profile_item_nick_name\":\"Mem\"}", 0, NULL);
    TU_EXPECT_NO_ACCOUNT("p1"); /* the file store is not this one */
    CHECK_INT(TIMUninit(), TIM_SUCC);
    CHECK_INT(TIMInit(APPID, "{\"sdk_config_config_file_path\":\"\"}"), TIM_SUCC);
    TU_LOGIN_OK("mem2");
    TU_EXPECT_NO_ACCOUNT("mem1");
    /* events work in every new in-memory store, not only the first */
    tu_ev ev;
    tu_ev_init(&ev);
    TIMSetSelfInfoUpdatedCallback(tu_ev_cb, &ev);
    TU_EXPECT(TIMProfileModifySelfUserProfile, "{\"user_profile_item_nick_name\":\"Mem2\"}", 0, NULL);
    CHECK(tu_ev_wait(&ev, 0, "user_profile_identifier", "mem2", "user_profile_nick_name", "Mem2", 0, NULL, 5000) >=
          0);
    CHECK_INT(TIMUninit(), TIM_SUCC);
    TIMSetSelfInfoUpdatedCallback(NULL, NULL);
    tu_ev_free(&ev);
}

static void test_bad_path(const char* base) {
    char path[4096];
    snprintf(path, sizeof path, "%s/plainfile", base);
    WRITE_FILE(path, "");
    char* cfg = config_for(path);
    CHECK_INT(TIMInit(APPID, cfg), TIM_ERR_PARAM);
    free(cfg);
    th_call* c = tu_run(TIMGetUserStatus, "[\"x\"]");
    CHECK_INT(c->code, 6013);
    th_call_free(c);
    TIMUninit();
}

/* TIMInit on dir must be refused, and leave `victim` (if any) as it was. */
static void expect_refused_at(int line, const char* dir, const char* victim, const char* why) {
    char* cfg = config_for(dir);
    int rc = TIMInit(APPID, cfg);
    th_check(rc == TIM_ERR_PARAM, __FILE__, line, why, "TIMInit returned %d", rc);
    if (rc == TIM_SUCC) TIMUninit();
    free(cfg);
    if (victim) {
        struct stat sb;
        th_check(stat(victim, &sb) == 0 && sb.st_size == 6, __FILE__, line, "the link's target is untouched", NULL);
    }
}
#define EXPECT_REFUSED(dir, victim, why) expect_refused_at(__LINE__, (dir), (victim), (why))

/* Paths that would let someone else plant or read the store's files. */
static void test_unsafe_paths(const char* base) {
    char dir[4096], path[4200], victim[4200];
    snprintf(victim, sizeof victim, "%s/victim", base);
    WRITE_FILE(victim, "intact");
    char dbname[64];
    snprintf(dbname, sizeof dbname, "timref-%d.db", APPID);

    /* a directory other users may write */
    snprintf(dir, sizeof dir, "%s/open", base);
    CHECK(mkdir(dir, 0700) == 0);
    CHECK(chmod(dir, 0777) == 0);
    EXPECT_REFUSED(dir, NULL, "a world-writable directory is refused");
    CHECK(chmod(dir, 0770) == 0);
    EXPECT_REFUSED(dir, NULL, "a group-writable directory is refused");
    CHECK(chmod(dir, 0700) == 0);

    /* symbolic links planted in place of each file */
    const char* names[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(dir, sizeof dir, "%s/planted%d", base, i);
        CHECK(mkdir(dir, 0700) == 0);
        snprintf(path, sizeof path, "%s/%s%s", dir, dbname, names[i]);
        CHECK(symlink(victim, path) == 0);
        EXPECT_REFUSED(dir, victim, "a symbolic link in place of a store file is refused");
    }
    const char* others[] = {"notify", "locks"};
    for (int i = 0; i < 2; i++) {
        snprintf(dir, sizeof dir, "%s/planted-%s", base, others[i]);
        CHECK(mkdir(dir, 0700) == 0);
        snprintf(path, sizeof path, "%s/timref-%d.%s", dir, APPID, others[i]);
        CHECK(symlink(victim, path) == 0);
        EXPECT_REFUSED(dir, victim, "a symbolic link in place of the notify or lock file is refused");
    }

    /* a store file that belongs to someone else (only root can arrange that) */
    if (geteuid() == 0) {
        snprintf(dir, sizeof dir, "%s/foreign", base);
        CHECK(mkdir(dir, 0700) == 0);
        snprintf(path, sizeof path, "%s/%s", dir, dbname);
        WRITE_FILE(path, "");
        CHECK(chown(path, 65534, 65534) == 0);
        EXPECT_REFUSED(dir, NULL, "a store file owned by another user is refused");
    }

    /* a private directory works, and a pre-existing loose file mode is tightened */
    snprintf(dir, sizeof dir, "%s/tight", base);
    CHECK(mkdir(dir, 0700) == 0);
    snprintf(path, sizeof path, "%s/%s", dir, dbname);
    WRITE_FILE(path, "");
    CHECK(chmod(path, 0644) == 0);
    char* cfg = config_for(dir);
    CHECK_INT(TIMInit(APPID, cfg), TIM_SUCC);
    free(cfg);
    TIMUninit();
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
}

/* Every recorded event is a JSON array of objects (array) or one object. */
static void check_events_well_formed(int line, tu_ev* ev, bool array) {
    for (size_t i = 0; i < tu_ev_count(ev); i++) {
        json_t* j = tu_ev_doc(ev, i);
        bool ok = array ? json_is_array(j) && json_array_size(j) == 1 && json_is_object(json_array_get(j, 0))
                        : json_is_object(j);
        th_check(ok, __FILE__, line, "an event callback got well-formed JSON", "event %zu", i);
        json_decref(j);
    }
}

/* Snapshots in the store that are not JSON objects (a file written by something else) never reach
 * a callback: they are dropped, and later events still arrive. */
static void test_bad_snapshots(const char* dir, const char* cfg) {
    tu_ev ev_st, ev_info, ev_self;
    tu_ev_init(&ev_st);
    tu_ev_init(&ev_info);
    tu_ev_init(&ev_self);
    CHECK_INT(TIMInit(APPID, cfg), TIM_SUCC);
    TIMSetUserStatusChangedCallback(tu_ev_cb, &ev_st);
    TIMSetUserInfoChangedCallback(tu_ev_cb, &ev_info);
    TIMSetSelfInfoUpdatedCallback(tu_ev_cb, &ev_self);
    tu_import("snap_bob");
    TU_LOGIN_OK("snap_me");
    TU_EXPECT(TIMSubscribeUserStatus, "[\"snap_bob\"]", 0, NULL);
    TU_EXPECT(TIMSubscribeUserInfo, "[\"snap_bob\"]", 0, NULL);

    char path[4200];
    snprintf(path, sizeof path, "%s/timref-%d.db", dir, APPID);
    sqlite3* db = NULL;
    CHECK_INT(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* err = NULL;
    int rc = sqlite3_exec(db,
                          "INSERT INTO event(type, user_id, origin, data) VALUES"
                          " (3, 'snap_bob', 'x', '{garbage'),"
                          " (2, 'snap_bob', 'x', '[1, 2]'),"
                          " (1, 'snap_bob', 'x', 'not json'),"
                          " (1, 'snap_me', 'x', '{\"a\": 1, \"a\": 2}'),"
                          " (1, 'snap_me', 'x', '\"a string\"')",
                          NULL, NULL, &err);
    th_check(rc == SQLITE_OK, __FILE__, __LINE__, "planted malformed snapshots", "%s", err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);

    /* a real change after them: it arrives, and nothing malformed came before it */
    size_t sb = tu_ev_count(&ev_st);
    CHECK_INT(tu_set_status("snap_bob", 1, "after"), 0);
    CHECK(tu_ev_wait(&ev_st, sb, "user_status_identifier", "snap_bob", "user_status_custom_status", "after", 0, NULL,
                     10000) >= 0);
    check_events_well_formed(__LINE__, &ev_st, true);
    check_events_well_formed(__LINE__, &ev_info, true);
    check_events_well_formed(__LINE__, &ev_self, false);
    TIMSetUserStatusChangedCallback(NULL, NULL);
    TIMSetUserInfoChangedCallback(NULL, NULL);
    TIMSetSelfInfoUpdatedCallback(NULL, NULL);
    CHECK_INT(TIMUninit(), TIM_SUCC);
    tu_ev_free(&ev_st);
    tu_ev_free(&ev_info);
    tu_ev_free(&ev_self);
}

/* How many of the store files of app in dir exist. */
static int store_files(const char* dir, unsigned app) {
    static const char* const ends[] = {".db", ".db-wal", ".db-shm", ".notify", ".locks"};
    int n = 0;
    for (size_t i = 0; i < sizeof ends / sizeof ends[0]; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/timref-%u%s", dir, app, ends[i]);
        n += access(path, F_OK) == 0;
    }
    return n;
}

/* TIMRefRemoveWorld on SQLite: refused while open here or logged in elsewhere; removed; bad configs. */
static void test_remove(const char* base) {
    char dir[4096], held[4200], go[4200];
    snprintf(dir, sizeof dir, "%s/rm", base);
    snprintf(held, sizeof held, "%s.held", dir);
    snprintf(go, sizeof go, "%s.go", dir);
    char* cfg = config_for(dir);
    CHECK_INT(TIMInit(APPID + 2, cfg), TIM_SUCC); /* another app in the same directory */
    TIMUninit();
    CHECK_INT(TIMInit(APPID, cfg), TIM_SUCC);
    CHECK_INT(TIMRefRemoveWorld(APPID, cfg), TIM_ERR_PARAM);
    CHECK(strstr(TIMRefGetLastError(), "has it open") != NULL);
    TIMUninit();
    CHECK(store_files(dir, APPID) >= 3);

    pid_t pid = tu_spawn_child("child-hold", dir, NULL);
    for (int w = 0; w < 30000 && access(held, F_OK) != 0; w += 5) th_sleep_ms(5);
    CHECK(access(held, F_OK) == 0);
    CHECK_INT(TIMRefRemoveWorld(APPID, cfg), TIM_ERR_PARAM);
    CHECK(strstr(TIMRefGetLastError(), "has it open") != NULL);
    FILE* f = fopen(go, "w");
    if (f) fclose(f);
    CHECK_INT(tu_wait_child(pid, 30000), 0);
    CHECK(store_files(dir, APPID) >= 3);

    CHECK_INT(TIMRefRemoveWorld(APPID, cfg), TIM_SUCC);
    CHECK_INT(store_files(dir, APPID), 0);
    CHECK(store_files(dir, APPID + 2) >= 3); /* the other app's: untouched */
    CHECK_INT(TIMRefRemoveWorld(APPID, cfg), TIM_SUCC); /* nothing left: success */
    /* the next TIMInit makes a new, empty world */
    CHECK_INT(TIMInit(APPID, cfg), TIM_SUCC);
    th_call* c = tu_admin("v4/im_open_login_svc/account_check", "{\"CheckItem\":[{\"UserID\":\"h1\"}]}");
    CHECK(c->json && strstr(c->json, "\"NotImported\"") != NULL); /* the holder's account is gone */
    th_call_free(c);
    TIMUninit();
    CHECK_INT(TIMRefRemoveWorld(APPID, cfg), TIM_SUCC);
    CHECK_INT(TIMRefRemoveWorld(APPID + 2, cfg), TIM_SUCC);
    CHECK_INT(store_files(dir, APPID + 2), 0);
    free(cfg);

    CHECK_INT(TIMRefRemoveWorld(APPID, NULL), TIM_ERR_PARAM);
    CHECK_INT(TIMRefRemoveWorld(APPID, "[]"), TIM_ERR_JSON);
    CHECK_INT(TIMRefRemoveWorld(APPID, "{\"sdk_config_log_file_path\":\"/tmp\"}"), TIM_ERR_PARAM);
    CHECK(strstr(TIMRefGetLastError(), "names no store") != NULL);
    CHECK_INT(TIMRefRemoveWorld(APPID, "{\"sdk_config_config_file_path\":7}"), TIM_ERR_PARAM);
    CHECK(strstr(TIMRefGetLastError(), "sdk_config_config_file_path") != NULL);
    unlink(held);
    unlink(go);
}

/* profile_load_many and status_load_many on SQLite, on disk and in memory */
static void test_load_many(const char* base) {
    char dir[4096], err[TR_REASON_SIZE] = "";
    snprintf(dir, sizeof dir, "%s/many", base);
    tr_store_config on_disk = {.dir = dir}, in_memory = {0};
    const tr_store_config* cfgs[] = {&on_disk, &in_memory};
    for (size_t i = 0; i < 2; i++) {
        tr_store* st = NULL;
        CHECK_INT(tr_store_open(&st, APPID + 1, cfgs[i], err, sizeof err), TR_OK);
        if (!st) {
            fprintf(stderr, "cannot open: %s\n", err);
            continue;
        }
        th_check_load_many(st);
        tr_store_close(st);
    }
}

/* A new session never takes a slot a session row still names: the lowest free slot is held
 * (a session ending in another process: its row gone, its lock not yet released) and the
 * next one is named by a dead session's row the sweep has not reached yet. */
static void test_slot_named_by_dead_row(const char* base) {
    char dir[4096], err[TR_REASON_SIZE] = "";
    snprintf(dir, sizeof dir, "%s/slots", base);
    tr_store_config cfg = {.dir = dir};
    tr_store *ending = NULL, *st = NULL;
    CHECK_INT(tr_store_open(&ending, APPID + 2, &cfg, err, sizeof err), TR_OK);
    CHECK_INT(tr_store_open(&st, APPID + 2, &cfg, err, sizeof err), TR_OK);
    if (!ending || !st) {
        fprintf(stderr, "cannot open: %s\n", err);
        if (ending) tr_store_close(ending);
        if (st) tr_store_close(st);
        return;
    }
    int held = -1, slot = -1;
    CHECK_INT(tr_store_slot_acquire(ending, &held), TR_OK);
    CHECK_INT(held, 0);
    CHECK_INT(tr_store_begin(st), TR_OK);
    CHECK_INT(tr_store_session_add(st, "s:dead", "ghost", "d", false, 1), TR_OK); /* nobody holds slot 1 */
    CHECK_INT(tr_store_commit(st), TR_OK);
    CHECK_INT(tr_store_begin(st), TR_OK);
    CHECK_INT(tr_store_slot_acquire(st, &slot), TR_OK);
    CHECK_INT(tr_store_commit(st), TR_OK);
    CHECK_INT(slot, 2);
    tr_store_slot_release(st, slot);
    tr_store_slot_release(ending, held);
    tr_store_close(st);
    tr_store_close(ending);
}

int main(int argc, char** argv) {
    if (argc >= 3) return child_main(argv[1], argv[2]);
    umask(022);
    char* base = th_tempdir("store");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/db", base);
    char* cfg = config_for(dir);
    tu_ev ev_st, ev_info;
    tu_ev_init(&ev_st);
    tu_ev_init(&ev_info);

    test_persistence(dir, cfg);
    test_processes(dir, cfg, &ev_st, &ev_info);
    test_bad_snapshots(dir, cfg);
    {
        char gdir[4096];
        snprintf(gdir, sizeof gdir, "%s/gc", base);
        test_group_commit(gdir);
    }
    test_in_memory();
    test_load_many(base);
    test_remove(base);
    test_slot_named_by_dead_row(base);
    test_bad_path(base);
    test_unsafe_paths(base);

    tu_ev_free(&ev_st);
    tu_ev_free(&ev_info);
    free(cfg);
    th_rmdir(base);
    free(base);
    return th_finish();
}
