/*
 * agent_harness.c - see agent_harness.h.
 */
#include "agent_harness.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "swim.h"

/* A swimd under ASan starts in well under a second; allow for a loaded CI. */
#define HARNESS_START_MS 10000
/* Each control request's deadline. */
#define HARNESS_CALL_MS 5000
/* How much of a log goes into a failure message. */
#define HARNESS_TAIL_BYTES 1500

uint64_t harness_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int harness_create(struct harness *h)
{
    memset(h, 0, sizeof(*h));
    h->swimd = getenv("SWIMD");
    h->swimctl = getenv("SWIMCTL");
    if (h->swimd == NULL || h->swimctl == NULL) {
        fprintf(stderr, "harness: SWIMD and SWIMCTL must name the built binaries\n");
        return -1;
    }
    snprintf(h->dir, sizeof(h->dir), "/tmp/swimd-it-XXXXXX");
    if (mkdtemp(h->dir) == NULL)
        return -1;
    return 0;
}

void harness_destroy(struct harness *h)
{
    for (size_t i = 0; i < HARNESS_NODES_MAX; i++) {
        struct harness_node *nd = &h->nodes[i];
        if (nd->pid > 0) {
            kill(nd->pid, SIGKILL);
            waitpid(nd->pid, NULL, 0);
            nd->pid = 0;
        }
    }
    if (getenv("HARNESS_KEEP") != NULL) { /* debugging: keep logs and sockets */
        fprintf(stderr, "harness: kept %s\n", h->dir);
        return;
    }
    DIR *d = opendir(h->dir);
    if (d != NULL) {
        struct dirent *e;
        char p[HARNESS_PATH_MAX + 256];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            snprintf(p, sizeof(p), "%s/%s", h->dir, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(h->dir);
}

json_t *harness_call(struct harness_node *nd, json_t *req)
{
    char msg[CLI_ERR_MAX];
    json_t *resp = NULL;
    int rc = cli_call(nd->sock, req, &resp, HARNESS_CALL_MS, msg, sizeof(msg));
    json_decref(req);
    return rc == 0 ? resp : NULL;
}

int harness_start(struct harness *h, size_t idx, const char *name, const char *bind_host,
                  const char *const *extra)
{
    if (idx >= HARNESS_NODES_MAX)
        return -1;
    struct harness_node *nd = &h->nodes[idx];
    if (nd->pid > 0)
        return -1;
    if (name != NULL)
        snprintf(nd->name, sizeof(nd->name), "%s", name);
    else
        snprintf(nd->name, sizeof(nd->name), "n%zu", idx + 1);
    char dir[sizeof(h->dir)];
    memcpy(dir, h->dir, sizeof(dir));
    char nm[sizeof(nd->name)];
    memcpy(nm, nd->name, sizeof(nm));
    snprintf(nd->sock, sizeof(nd->sock), "%.60s/%.30s.sock", dir, nm);
    snprintf(nd->log, sizeof(nd->log), "%.60s/%.30s.log", dir, nm);
    if (idx + 1 > h->n)
        h->n = idx + 1;
    char bind[80];
    if (strchr(bind_host, ':') != NULL)
        snprintf(bind, sizeof(bind), "[%s]:0", bind_host);
    else
        snprintf(bind, sizeof(bind), "%s:0", bind_host);
    const char *argv[16 + HARNESS_ARGS_MAX];
    int argc = 0;
    argv[argc++] = h->swimd;
    argv[argc++] = "--name";
    argv[argc++] = nd->name;
    argv[argc++] = "--bind";
    argv[argc++] = bind;
    argv[argc++] = "--socket";
    argv[argc++] = nd->sock;
    argv[argc++] = "--profile";
    argv[argc++] = "local";
    argv[argc++] = "--log-level";
    argv[argc++] = "debug";
    for (int i = 0; extra != NULL && extra[i] != NULL && i < HARNESS_ARGS_MAX; i++)
        argv[argc++] = extra[i];
    argv[argc] = NULL;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127); /* the test already died */
        int fd = open(nd->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(fd, STDOUT_FILENO);
        }
        execv(h->swimd, (char *const *)argv);
        _exit(127);
    }
    nd->pid = pid;
    uint64_t deadline = harness_now_ms() + HARNESS_START_MS;
    while (harness_now_ms() < deadline) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            nd->pid = 0;
            nd->exit_status = st;
            return -1;
        }
        json_t *info = harness_call(nd, json_pack("{s:s}", "cmd", "info"));
        if (info != NULL) {
            const char *a =
                json_string_value(json_object_get(json_object_get(info, "self"), "addr"));
            snprintf(nd->addr, sizeof(nd->addr), "%s", a != NULL ? a : "");
            json_decref(info);
            return 0;
        }
        usleep(20000);
    }
    return -1;
}

const char *harness_status(struct harness_node *nd, const char *name, char *buf, size_t cap,
                           int *dups)
{
    *dups = 0;
    json_t *r = harness_call(nd, json_pack("{s:s}", "cmd", "members"));
    if (r == NULL)
        return NULL;
    const char *found = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(r, "members"), i, m)
    {
        const char *n = json_string_value(json_object_get(m, "name"));
        if (n != NULL && strcmp(n, name) == 0) {
            (*dups)++;
            snprintf(buf, cap, "%s", json_string_value(json_object_get(m, "status")));
            found = buf;
        }
    }
    json_decref(r);
    return found;
}

int harness_count(struct harness_node *nd, const char *status)
{
    json_t *r = harness_call(nd, json_pack("{s:s}", "cmd", "members"));
    if (r == NULL)
        return -1;
    int n = 0;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(r, "members"), i, m)
    {
        const char *s = json_string_value(json_object_get(m, "status"));
        if (status == NULL || (s != NULL && strcmp(s, status) == 0))
            n++;
    }
    json_decref(r);
    return n;
}

long long harness_info_int(struct harness_node *nd, const char *key)
{
    json_t *r = harness_call(nd, json_pack("{s:s}", "cmd", "info"));
    if (r == NULL)
        return -1;
    json_t *v = json_object_get(r, key);
    long long x = json_is_integer(v) ? (long long)json_integer_value(v) : -1;
    json_decref(r);
    return x;
}

void harness_signal(struct harness_node *nd, int sig)
{
    if (nd->pid > 0)
        kill(nd->pid, sig);
}

int harness_wait_exit(struct harness_node *nd, int timeout_ms)
{
    uint64_t deadline = harness_now_ms() + (uint64_t)timeout_ms;
    while (nd->pid > 0) {
        int st;
        pid_t r = waitpid(nd->pid, &st, WNOHANG);
        if (r == nd->pid) {
            nd->exit_status = st;
            nd->pid = 0;
            return 0;
        }
        if (harness_now_ms() >= deadline)
            return -1;
        usleep(10000);
    }
    return 0;
}

const char *harness_log_tail(struct harness_node *nd)
{
    static char tail[HARNESS_TAIL_BYTES + 1];
    tail[0] = '\0';
    FILE *f = fopen(nd->log, "r");
    if (f == NULL)
        return "(no log)";
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, size > HARNESS_TAIL_BYTES ? size - HARNESS_TAIL_BYTES : 0, SEEK_SET);
    size_t n = fread(tail, 1, HARNESS_TAIL_BYTES, f);
    tail[n] = '\0';
    fclose(f);
    return tail;
}

int harness_swimctl(struct harness *h, struct harness_node *nd, const char *const *args, char **out)
{
    int p[2];
    *out = NULL;
    if (pipe(p) != 0)
        return -1;
    const char *argv[32];
    int argc = 0;
    argv[argc++] = h->swimctl;
    argv[argc++] = "--socket";
    argv[argc++] = nd->sock;
    for (int i = 0; args[i] != NULL && argc < 31; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(p[1], STDOUT_FILENO);
        close(p[0]);
        close(p[1]);
        execv(h->swimctl, (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    ssize_t r;
    while (buf != NULL && (r = read(p[0], buf + len, cap - len - 1)) > 0) {
        len += (size_t)r;
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL)
                break;
            buf = nb;
            cap *= 2;
        }
    }
    close(p[0]);
    if (buf != NULL)
        buf[len] = '\0';
    *out = buf;
    int st;
    waitpid(pid, &st, 0); /* swimctl bounds its own wait (CLI_TIMEOUT_MS) */
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

uint64_t harness_detection_bound_ms(size_t n)
{
    struct swim_config c;
    ck_assert_int_eq(swim_config_profile(&c, "local"), 0);
    double lg = log10((double)n);
    double mult = lg > 1.0 ? lg : 1.0;
    uint64_t suspicion =
        (uint64_t)((double)c.suspicion_max_mult * c.suspicion_mult * mult * c.probe_interval_ms);
    return 2 * (uint64_t)(n - 1) * c.probe_interval_ms + c.probe_interval_ms + suspicion +
           4u * c.gossip_interval_ms + HARNESS_SLACK_MS;
}

int harness_raw_client(struct harness_node *nd, int timeout_s)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {0};
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", nd->sock);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    struct timeval tv = {timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

void harness_send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        ck_assert_msg(w > 0, "send: %s", strerror(errno));
        p += w;
        len -= (size_t)w;
    }
}

int harness_run_cases(const char *suite, const struct harness_case *cases, size_t n,
                      void (*setup)(void), void (*teardown)(void))
{
    Suite *s = suite_create(suite);
    TCase *last = NULL;
    const char *last_name = "";
    for (size_t i = 0; i < n; i++) {
        if (strcmp(cases[i].name, last_name) != 0) {
            last = tcase_create(cases[i].name);
            tcase_add_checked_fixture(last, setup, teardown);
            tcase_set_timeout(last, cases[i].timeout_s);
            suite_add_tcase(s, last);
            last_name = cases[i].name;
        }
        tcase_add_test(last, cases[i].test);
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    int ran = srunner_ntests_run(sr);
    srunner_free(sr);
    if (ran == 0) {
        fprintf(stderr, "%s: no test ran (CK_RUN_CASE=%s)\n", suite,
                getenv("CK_RUN_CASE") ? getenv("CK_RUN_CASE") : "");
        return EXIT_FAILURE;
    }
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
