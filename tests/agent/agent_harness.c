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
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../proc_cpu.h"
#include "cli.h"

/* A swimd under ASan starts in well under a second; allow for a loaded CI. */
#define HARNESS_START_MS 10000
/* Each control request's deadline. */
#define HARNESS_CALL_MS 5000
/* How much of a log goes into a failure message. */
#define HARNESS_TAIL_BYTES 1500

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
    const char *argv[HARNESS_WRAP_MAX + 16 + HARNESS_ARGS_MAX];
    int argc = 0;
    for (int i = 0; h->wrap[i] != NULL && i < HARNESS_WRAP_MAX; i++)
        argv[argc++] = h->wrap[i];
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
        struct rlimit nofile = {h->nofile, h->nofile};
        if (h->nofile > 0 && setrlimit(RLIMIT_NOFILE, &nofile) != 0)
            _exit(126);
        int fd = open(nd->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(fd, STDOUT_FILENO);
        }
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    nd->pid = pid;
    uint64_t deadline = clock_mono_ms() + HARNESS_START_MS;
    while (clock_mono_ms() < deadline) {
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

void harness_start_node(struct harness *h, size_t idx, const char *bind_host,
                        const char *const *extra)
{
    int rc = harness_start(h, idx, NULL, bind_host, extra);
    ck_assert_msg(rc == 0, "node %zu did not start: %s", idx + 1, harness_log_tail(&h->nodes[idx]));
}

void harness_start_joiner(struct harness *h, size_t idx, const char *bind_host,
                          const char *const *more)
{
    const char *extra[HARNESS_ARGS_MAX + 1];
    int k = 0;
    for (int j = 0; more != NULL && more[j] != NULL && k < HARNESS_ARGS_MAX - 2; j++)
        extra[k++] = more[j];
    extra[k++] = "--join";
    extra[k++] = h->nodes[0].addr;
    extra[k] = NULL;
    harness_start_node(h, idx, bind_host, extra);
}

void harness_start_cluster(struct harness *h, size_t n, const char *bind_host,
                           const char *const *common)
{
    harness_start_node(h, 0, bind_host, common);
    for (size_t i = 1; i < n; i++)
        harness_start_joiner(h, i, bind_host, common);
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

int harness_converged(struct harness *h, size_t n, int want)
{
    for (size_t i = 0; i < n; i++) {
        struct harness_node *nd = &h->nodes[i];
        if (harness_count(nd, "alive") != want || harness_count(nd, NULL) != want)
            return 0;
    }
    return 1;
}

int harness_all_see(struct harness *h, size_t n, size_t skip, const char *name, const char *status)
{
    for (size_t i = 0; i < n; i++) {
        if (i == skip || h->nodes[i].pid == 0)
            continue;
        char buf[16];
        int dups;
        const char *st = harness_status(&h->nodes[i], name, buf, sizeof(buf), &dups);
        if (st == NULL || strcmp(st, status) != 0 || dups != 1)
            return 0;
    }
    return 1;
}

int harness_sees(struct harness *h, size_t i, const char *name, const char *status)
{
    char buf[16];
    int dups;
    const char *st = harness_status(&h->nodes[i], name, buf, sizeof(buf), &dups);
    return st != NULL && strcmp(st, status) == 0;
}

struct swim_config harness_local_profile(void)
{
    struct swim_config c;
    ck_assert_int_eq(swim_config_profile(&c, "local"), 0);
    return c;
}

void harness_signal(struct harness_node *nd, int sig)
{
    if (nd->pid > 0)
        kill(nd->pid, sig);
}

/* Reap pid if it exits within ms: 0 (*status set) or -1. */
static int harness_reap(pid_t pid, int *status, uint64_t ms)
{
    uint64_t deadline = clock_mono_ms() + ms;
    for (;;) {
        if (waitpid(pid, status, WNOHANG) == pid)
            return 0;
        if (clock_mono_ms() >= deadline)
            return -1;
        usleep(10000);
    }
}

int harness_wait_exit(struct harness_node *nd, int timeout_ms)
{
    if (nd->pid <= 0)
        return 0;
    if (harness_reap(nd->pid, &nd->exit_status, (uint64_t)timeout_ms) != 0)
        return -1;
    nd->pid = 0;
    return 0;
}

long long harness_cpu_ms(pid_t pid)
{
    long long ticks = proc_cpu_ticks(pid);
    long hz = sysconf(_SC_CLK_TCK);
    return ticks >= 0 && hz > 0 ? ticks * 1000 / hz : -1;
}

int harness_fd_count(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
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

char *harness_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0;
    if (f != NULL) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = malloc((size_t)(size > 0 ? size : 0) + 1);
        len = buf != NULL ? fread(buf, 1, (size_t)(size > 0 ? size : 0), f) : 0;
        fclose(f);
    } else {
        buf = malloc(1);
    }
    ck_assert_ptr_nonnull(buf);
    buf[len] = '\0';
    return buf;
}

int harness_count_in_file(const char *path, const char *what)
{
    char *s = harness_slurp(path);
    int n = 0;
    for (char *p = strstr(s, what); p != NULL; p = strstr(p + 1, what))
        n++;
    free(s);
    return n;
}

void harness_spawn_ctl(struct harness *h, struct harness_proc *p, struct harness_node *nd,
                       const char *tag, const char *const *args)
{
    const char *argv[40];
    int argc = 0;
    argv[argc++] = h->swimctl;
    argv[argc++] = "--socket";
    argv[argc++] = nd->sock;
    for (int i = 0; args[i] != NULL && argc < 39; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    snprintf(p->out, sizeof(p->out), "%.60s/%.30s.out", h->dir, tag);
    snprintf(p->err, sizeof(p->err), "%.60s/%.30s.err", h->dir, tag);
    pid_t parent = getpid();
    p->pid = fork();
    ck_assert_int_ge(p->pid, 0);
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int o = open(p->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(p->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(o, STDOUT_FILENO);
        dup2(e, STDERR_FILENO);
        execv(h->swimctl, (char *const *)argv);
        _exit(127);
    }
}

int harness_wait_proc(struct harness_proc *p, uint64_t ms)
{
    if (harness_reap(p->pid, &p->status, ms) != 0)
        return -1;
    p->pid = 0;
    return 0;
}

int harness_proc_exit_code(const struct harness_proc *p)
{
    return WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
}

void harness_kill_proc(struct harness_proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
}

int harness_run_ctl(struct harness *h, struct harness_node *nd, const char *tag,
                    const char *const *args, struct harness_proc *p)
{
    harness_spawn_ctl(h, p, nd, tag, args);
    if (harness_wait_proc(p, HARNESS_CTL_EXIT_MS) != 0) {
        harness_kill_proc(p);
        ck_abort_msg("swimctl %s did not exit", args[0]);
    }
    return harness_proc_exit_code(p);
}

int harness_swimctl(struct harness *h, struct harness_node *nd, const char *const *args, char **out)
{
    struct harness_proc p;
    harness_spawn_ctl(h, &p, nd, "swimctl", args);
    if (harness_wait_proc(&p, HARNESS_CTL_EXIT_MS) != 0) {
        harness_kill_proc(&p);
        *out = NULL;
        return -1;
    }
    *out = harness_slurp(p.out);
    return harness_proc_exit_code(&p);
}

void harness_write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
    size_t len = strlen(text);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
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

/* The fixture's harness: Check's fixtures take no argument, so the test
 * running in this process reaches its harness through harness_world(). */
static struct harness harness_the_world;

struct harness *harness_world(void)
{
    return &harness_the_world;
}

static void harness_setup(void)
{
    ck_assert_int_eq(harness_create(&harness_the_world), 0);
}

static void harness_teardown(void)
{
    harness_destroy(&harness_the_world);
}

int harness_run_cases(const char *suite, const struct harness_case *cases, size_t n)
{
    Suite *s = suite_create(suite);
    TCase *last = NULL;
    const char *last_name = "";
    for (size_t i = 0; i < n; i++) {
        if (strcmp(cases[i].name, last_name) != 0) {
            last = tcase_create(cases[i].name);
            tcase_add_checked_fixture(last, harness_setup, harness_teardown);
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
