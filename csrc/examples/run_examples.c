/*
 * run_examples.c - the ctest driver of the example programs.
 *
 * Usage: run_examples GET_PROFILES MODIFY_PROFILE WATCH_STATUS
 *   (the paths of the three example binaries; CMake passes them)
 *
 * It makes a fresh data directory (under $TIMREF_TEST_TMP, else /tmp), sets
 * up users "alice" and "bob" there through the admin surface (TIMRef.h),
 * runs the examples against that directory as separate processes, reads
 * their stdout through a pipe and checks it.  For watch_status the driver
 * stays initialized on the same directory and changes bob's status while the
 * example watches: the change is committed to the shared store by this
 * process, and the example, another process, must be told.
 *
 * Prints one line per check and "N passed, N failed"; exits 1 on a failure.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "TIMCloud.h"
#include "TIMRef.h"

#define APP_ID 1400000001ULL
#define APP_ID_TEXT "1400000001"
#define DEVICE "driver-device"
#define SIG "any-sig" /* no secret key is configured: any non-empty sig logs in */

static int passed, failed;

static void check(int ok, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("%s: ", ok ? "ok" : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
    if (ok) passed++;
    else failed++;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------------------
 * Admin requests, made synchronous
 * ------------------------------------------------------------------------- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
    int32_t code;
    char* json;
} Call;

static void on_done(int32_t code, const char* desc, const char* json_params, const void* ud) {
    Call* c = (Call*)ud;
    (void)desc;
    pthread_mutex_lock(&c->mu);
    c->code = code;
    c->json = strdup(json_params ? json_params : "");
    c->done = 1;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Run one admin request; returns the callback code (-1000 - rc if refused). */
static int32_t admin(const char* api, const char* body, json_t** answer) {
    Call c = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, NULL};
    int rc = TIMRefAdminRequest(api, body, on_done, &c);
    if (rc != TIM_SUCC) {
        fprintf(stderr, "%s refused: %d\n", api, rc);
        return -1000 - rc;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 10;
    pthread_mutex_lock(&c.mu);
    while (!c.done) {
        if (pthread_cond_timedwait(&c.cv, &c.mu, &deadline) == ETIMEDOUT) {
            /* The callback may still come and touch c: do not return. */
            fprintf(stderr, "%s: no callback within 10 s\n", api);
            _exit(1);
        }
    }
    pthread_mutex_unlock(&c.mu);
    if (c.code != 0) fprintf(stderr, "%s %s -> %d %s\n", api, body, c.code, c.json);
    if (answer) {
        json_error_t error;
        *answer = json_loads(c.json, 0, &error);
    }
    free(c.json);
    return c.code;
}

static int32_t admin_pack(const char* api, json_t** answer, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    json_error_t error;
    json_t* body = json_vpack_ex(&error, 0, fmt, ap);
    va_end(ap);
    if (!body) {
        fprintf(stderr, "json_pack: %s\n", error.text);
        return -1;
    }
    char* text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    int32_t code = admin(api, text, answer);
    free(text);
    return code;
}

static int init_world(const char* data_dir) {
    json_t* config = json_pack("{s:s, s:s}", kTIMSdkConfigConfigFilePath, data_dir,
                               kTIMRefConfigDeviceName, DEVICE);
    char* text = json_dumps(config, JSON_COMPACT);
    json_decref(config);
    int rc = TIMInit(APP_ID, text);
    free(text);
    return rc;
}

/* "Online" or "Offline" as v4/openim/query_online_status reports user_id. */
static const char* online_status(const char* user_id, char* buf, size_t size) {
    json_t* answer = NULL;
    snprintf(buf, size, "?");
    if (admin_pack("v4/openim/query_online_status", &answer, "{s:[s]}", "To_Account", user_id) == 0) {
        json_t* first = json_array_get(json_object_get(answer, "QueryResult"), 0);
        const char* s = json_string_value(json_object_get(first, "Status"));
        if (s) snprintf(buf, size, "%s", s);
    }
    json_decref(answer);
    return buf;
}

/* ---------------------------------------------------------------------------
 * Child processes
 * ------------------------------------------------------------------------- */

typedef struct {
    pid_t pid;
    int fd;       /* read end of the child's stdout */
    char* out;    /* everything read so far, NUL-terminated */
    size_t len, cap;
    int eof;
    int status;   /* from waitpid, once reaped */
} Child;

static int spawn(Child* ch, char* const argv[]) {
    int p[2];
    memset(ch, 0, sizeof *ch);
    if (pipe2(p, O_CLOEXEC) != 0) return 0;
    fflush(stdout);
    ch->pid = fork();
    if (ch->pid < 0) return 0;
    if (ch->pid == 0) {
        dup2(p[1], STDOUT_FILENO); /* stderr stays the driver's, so ctest shows it */
        execv(argv[0], argv);
        perror(argv[0]);
        _exit(127);
    }
    close(p[1]);
    ch->fd = p[0];
    ch->cap = 4096;
    ch->out = calloc(1, ch->cap);
    return ch->out != NULL;
}

/* Read more output, waiting at most until the deadline; 0 at EOF or timeout. */
static int read_some(Child* ch, double deadline) {
    if (ch->eof) return 0;
    double left = deadline - now();
    if (left <= 0) return 0;
    struct pollfd pfd = {ch->fd, POLLIN, 0};
    int n = poll(&pfd, 1, (int)(left * 1000) + 1);
    if (n <= 0) return n < 0 && errno == EINTR;
    if (ch->len + 1024 + 1 > ch->cap) {
        ch->cap *= 2;
        ch->out = realloc(ch->out, ch->cap);
    }
    ssize_t r = read(ch->fd, ch->out + ch->len, ch->cap - ch->len - 1);
    if (r <= 0) {
        ch->eof = 1;
        return 0;
    }
    ch->len += (size_t)r;
    ch->out[ch->len] = '\0';
    return 1;
}

/* Wait until the output contains needle; 1 when it does. */
static int wait_for(Child* ch, const char* needle, double seconds) {
    double deadline = now() + seconds;
    while (!strstr(ch->out, needle)) {
        if (!read_some(ch, deadline)) return strstr(ch->out, needle) != NULL;
    }
    return 1;
}

/* Read to EOF and reap the child; kill it if it outlives the deadline. Returns its exit code. */
static int finish(Child* ch, double seconds) {
    double deadline = now() + seconds;
    while (read_some(ch, deadline)) {
    }
    if (!ch->eof) {
        fprintf(stderr, "child %d still running after %.0f s: killing it\n", (int)ch->pid, seconds);
        kill(ch->pid, SIGKILL);
    }
    close(ch->fd);
    waitpid(ch->pid, &ch->status, 0);
    if (WIFEXITED(ch->status)) return WEXITSTATUS(ch->status);
    return 128 + (WIFSIGNALED(ch->status) ? WTERMSIG(ch->status) : 0);
}

static void child_free(Child* ch) {
    free(ch->out);
    ch->out = NULL;
}

/* Run a program to completion; returns its exit code, output in ch->out. */
static int run(Child* ch, char* const argv[]) {
    if (!spawn(ch, argv)) {
        perror("spawn");
        return -1;
    }
    return finish(ch, 30);
}

static void show_output(const char* name, const Child* ch) {
    printf("--- %s output ---\n%s--- end ---\n", name, ch->out ? ch->out : "");
}

/* ---------------------------------------------------------------------------
 * The checks
 * ------------------------------------------------------------------------- */

static void test_get_profiles(const char* exe, char* data) {
    Child ch;
    char* argv1[] = {(char*)exe, data, APP_ID_TEXT, "carol", SIG, "alice", "bob", "nobody", NULL};
    int rc = run(&ch, argv1);
    show_output("get_profiles", &ch);
    check(rc == 0, "get_profiles exits 0 (got %d)", rc);
    check(strstr(ch.out, "user alice\n"
                         "  nick: Alice\n"
                         "  gender: Female\n"
                         "  signature: Hello, I am Alice\n"
                         "  custom: Tag_Profile_Custom_city = Paris\n") != NULL,
          "get_profiles prints alice's profile with her custom field");
    check(strstr(ch.out, "user bob\n"
                         "  nick: Bob\n"
                         "  gender: Male\n"
                         "  signature: Bob here\n") != NULL,
          "get_profiles prints bob's profile");
    check(strstr(ch.out, "user nobody: not found\n") != NULL, "get_profiles reports an unknown user");
    char* alice = strstr(ch.out, "user alice\n");
    char* bob = strstr(ch.out, "user bob\n");
    check(alice && bob && alice < bob, "get_profiles prints in the order asked");
    child_free(&ch);

    char* argv2[] = {(char*)exe, data, APP_ID_TEXT, "carol", SIG, "ghost", NULL};
    rc = run(&ch, argv2);
    check(rc == 1, "get_profiles exits 1 when no user exists (got %d)", rc);
    child_free(&ch);

    char* argv3[] = {(char*)exe, NULL};
    rc = run(&ch, argv3);
    check(rc == 2, "get_profiles exits 2 on a bad command line (got %d)", rc);
    child_free(&ch);
}

static void test_modify_profile(const char* exe, const char* get_exe, char* data) {
    Child ch;
    char* argv1[] = {(char*)exe, data, APP_ID_TEXT, "alice", SIG,
                     "--nick", "Alice Cooper", "--gender", "female",
                     "--signature", "Updated signature", "--add-permission", "deny",
                     "--custom", "food=pasta", "--custom", "Tag_Profile_Custom_city=Berlin", NULL};
    int rc = run(&ch, argv1);
    show_output("modify_profile", &ch);
    check(rc == 0, "modify_profile exits 0 (got %d)", rc);
    check(strstr(ch.out, "self info updated: nick Alice Cooper\n") != NULL,
          "modify_profile receives TIMSelfInfoUpdatedCallback with the new nick");
    /* Custom fields are listed sorted by key (docs/behaviour.md). */
    check(strstr(ch.out, "user alice\n"
                         "  nick: Alice Cooper\n"
                         "  gender: Female\n"
                         "  signature: Updated signature\n"
                         "  add permission: DenyAny\n"
                         "  custom: Tag_Profile_Custom_city = Berlin\n"
                         "  custom: Tag_Profile_Custom_food = pasta\n") != NULL,
          "modify_profile reads back the modified profile");
    child_free(&ch);

    /* The defaults, for a new user. */
    char* argv2[] = {(char*)exe, data, APP_ID_TEXT, "dave", SIG, NULL};
    rc = run(&ch, argv2);
    check(rc == 0, "modify_profile with defaults exits 0 (got %d)", rc);
    check(strstr(ch.out, "user dave\n"
                         "  nick: Example Nick\n"
                         "  gender: Female\n"
                         "  signature: Hello from modify_profile\n"
                         "  add permission: NeedConfirm\n"
                         "  custom: Tag_Profile_Custom_city = Paris\n"
                         "  custom: Tag_Profile_Custom_hobby = chess\n") != NULL,
          "modify_profile applies its defaults");
    child_free(&ch);

    /* A rejected change: gender out of range is refused by argument parsing (2). */
    char* argv3[] = {(char*)exe, data, APP_ID_TEXT, "alice", SIG, "--gender", "robot", NULL};
    rc = run(&ch, argv3);
    check(rc == 2, "modify_profile exits 2 on a bad option (got %d)", rc);
    child_free(&ch);

    /* A change the library refuses (a custom key with a hyphen: 9001): exit 1. */
    char* argv4[] = {(char*)exe, data, APP_ID_TEXT, "alice", SIG, "--custom", "bad-key=1", NULL};
    rc = run(&ch, argv4);
    check(rc == 1, "modify_profile exits 1 when the library refuses the change (got %d)", rc);
    child_free(&ch);

    /* Another process sees the change, which outlived the process that made it. */
    char* argv5[] = {(char*)get_exe, data, APP_ID_TEXT, "bob", SIG, "alice", NULL};
    rc = run(&ch, argv5);
    show_output("get_profiles after modify_profile", &ch);
    check(rc == 0 &&
              strstr(ch.out, "user alice\n"
                             "  nick: Alice Cooper\n"
                             "  gender: Female\n"
                             "  signature: Updated signature\n"
                             "  custom: Tag_Profile_Custom_city = Berlin\n"
                             "  custom: Tag_Profile_Custom_food = pasta\n") != NULL,
          "another process reads the modified profile");
    child_free(&ch);
}

static void test_watch_status(const char* exe, char* data) {
    char buf[64];
    int rc = init_world(data);
    check(rc == TIM_SUCC, "driver TIMInit on the shared directory (got %d)", rc);
    if (rc != TIM_SUCC) return;

    Child ch;
    char* argv[] = {(char*)exe, data, APP_ID_TEXT, "carol", SIG,
                    "--count", "2", "--seconds", "20", "bob", NULL};
    if (!spawn(&ch, argv)) {
        check(0, "spawn watch_status");
        TIMUninit();
        return;
    }
    int initial = wait_for(&ch, "status bob: ", 15) && wait_for(&ch, "]\n", 5);
    check(initial, "watch_status prints bob's initial status");
    check(strstr(ch.out, "status bob: UnLogined, custom status \"\", devices []\n") != NULL,
          "bob's initial status is UnLogined");
    check(strcmp(online_status("carol", buf, sizeof buf), "Online") == 0,
          "the driver sees the watcher's user carol Online (got %s)", buf);

    if (initial) {
        /* Bob comes online (a simulated session of this process) with a custom status. */
        int32_t code = admin_pack("ref/set_user_status", NULL, "{s:s, s:i, s:s}", "UserID", "bob",
                                  "StatusType", kTIMUserStatusType_Online, "CustomStatus",
                                  "in a meeting");
        check(code == 0, "ref/set_user_status bob Online (code %d)", code);
        double t0 = now();
        int seen = wait_for(&ch, "change bob: Online, custom status \"in a meeting\", devices ["
                                 DEVICE "]\n", 10);
        check(seen, "watch_status prints bob's change to Online made by another process (%.1f ms)",
              (now() - t0) * 1000);

        code = admin_pack("ref/set_user_status", NULL, "{s:s, s:i, s:s}", "UserID", "bob",
                          "StatusType", kTIMUserStatusType_UnLogined, "CustomStatus", "");
        check(code == 0, "ref/set_user_status bob UnLogined (code %d)", code);
        seen = wait_for(&ch, "change bob: UnLogined, custom status \"\", devices []\n", 10);
        check(seen, "watch_status prints bob's change to UnLogined");
    }
    rc = finish(&ch, 30);
    show_output("watch_status", &ch);
    check(rc == 0, "watch_status exits 0 after --count 2 (got %d)", rc);
    check(strstr(ch.out, "done: 2 changes\n") != NULL, "watch_status stops after 2 changes");
    check(strcmp(online_status("carol", buf, sizeof buf), "Offline") == 0,
          "carol is no longer online after watch_status logged out (got %s)", buf);
    child_free(&ch);

    /* --seconds with nothing happening: it stops on time, exit 3 as --count was not reached. */
    char* argv2[] = {(char*)exe, data, APP_ID_TEXT, "carol", SIG,
                     "--count", "1", "--seconds", "1", "bob", "newcomer", NULL};
    double t0 = now();
    rc = run(&ch, argv2);
    double took = now() - t0;
    show_output("watch_status --seconds 1", &ch);
    check(rc == 3, "watch_status exits 3 when the time runs out first (got %d)", rc);
    check(took < 10, "watch_status stops after about 1 s (took %.1f s)", took);
    check(strstr(ch.out, "status newcomer: not found\n") != NULL &&
              strstr(ch.out, "done: 0 changes\n") != NULL,
          "watch_status reports a user without an account, and no change");
    child_free(&ch);

    TIMUninit();
}

static int remove_entry(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(int argc, char** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s GET_PROFILES MODIFY_PROFILE WATCH_STATUS\n", argv[0]);
        return 2;
    }
    const char* base = getenv("TIMREF_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    mkdir(base, 0700);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/examples-XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror(dir);
        return 1;
    }
    char data[4200];
    snprintf(data, sizeof data, "%s/data", dir);
    printf("data directory: %s\n", data);

    /* Set up the world: alice and bob with profiles, then let it go. */
    int rc = init_world(data);
    check(rc == TIM_SUCC, "driver TIMInit (got %d)", rc);
    if (rc != TIM_SUCC) return 1;
    check(admin_pack("v4/im_open_login_svc/account_import", NULL, "{s:s, s:s}", "UserID", "alice",
                     "Nick", "Alice") == 0,
          "import alice");
    check(admin_pack("v4/im_open_login_svc/account_import", NULL, "{s:s, s:s}", "UserID", "bob",
                     "Nick", "Bob") == 0,
          "import bob");
    check(admin_pack("v4/profile/portrait_set", NULL, "{s:s, s:[{s:s, s:s}, {s:s, s:s}, {s:s, s:s}]}",
                     "From_Account", "alice", "ProfileItem",
                     "Tag", "Tag_Profile_IM_Gender", "Value", "Gender_Type_Female",
                     "Tag", "Tag_Profile_IM_SelfSignature", "Value", "Hello, I am Alice",
                     "Tag", "Tag_Profile_Custom_city", "Value", "Paris") == 0,
          "set alice's profile");
    check(admin_pack("v4/profile/portrait_set", NULL, "{s:s, s:[{s:s, s:s}, {s:s, s:s}]}",
                     "From_Account", "bob", "ProfileItem",
                     "Tag", "Tag_Profile_IM_Gender", "Value", "Gender_Type_Male",
                     "Tag", "Tag_Profile_IM_SelfSignature", "Value", "Bob here") == 0,
          "set bob's profile");
    TIMUninit();

    test_get_profiles(argv[1], data);
    test_modify_profile(argv[2], argv[1], data);
    test_watch_status(argv[3], data);

    printf("%d passed, %d failed\n", passed, failed);
    if (failed == 0) {
        /* Leave the directory behind only when something failed, to look at. */
        if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) perror(dir);
    }
    return failed ? 1 : 0;
}
