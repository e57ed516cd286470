/*
 * fault_cluster.c - see fault_cluster.h.
 */
#include "fault_cluster.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../proc_cpu.h"

/* A release swimd answers in milliseconds; ASan on a loaded 2-core box takes
 * longer. */
#define FAULT_START_MS 15000
/* Poll period while an agent starts or the cluster converges. */
#define FAULT_POLL_MS 50
/* Convergence checks every agent at most this often (100 agents * info). */
#define FAULT_CONVERGE_POLL_MS 500
/* Largest control reply read (a 128-member `members` is ~30 KiB). */
#define FAULT_REPLY_MAX (1024 * 1024)

uint64_t fault_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int fault_ctl_connect(const struct fault_node *nd)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", nd->sock);
    struct timeval tv = {FAULT_CALL_MS / 1000, (FAULT_CALL_MS % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

json_t *fault_ctl_call(const struct fault_node *nd, const char *cmd)
{
    int fd = fault_ctl_connect(nd);
    if (fd < 0)
        return NULL;
    char req[96];
    int len = snprintf(req, sizeof(req), "{\"cmd\":\"%s\"}\n", cmd);
    json_t *reply = NULL;
    size_t used = 0, size = 4096;
    char *buf = malloc(size);
    uint64_t deadline = fault_now_ms() + FAULT_CALL_MS;
    if (buf == NULL || send(fd, req, (size_t)len, MSG_NOSIGNAL) != len)
        goto out;
    while (fault_now_ms() < deadline) {
        if (size - used < 2) {
            if (size >= FAULT_REPLY_MAX)
                goto out;
            char *nb = realloc(buf, size * 2);
            if (nb == NULL)
                goto out;
            buf = nb;
            size *= 2;
        }
        ssize_t r = recv(fd, buf + used, size - used - 1, 0);
        if (r <= 0)
            goto out; /* EOF, or the socket timeout */
        used += (size_t)r;
        buf[used] = '\0';
        if (memchr(buf, '\n', used) != NULL) {
            reply = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
            break;
        }
    }
    if (reply != NULL && json_object_get(reply, "ok") != json_true()) {
        json_decref(reply);
        reply = NULL;
    }
out:
    free(buf);
    close(fd);
    return reply;
}

/* Fork and exec node i; its stdout and stderr go to its log. */
static int fault_cluster_spawn(struct fault_cluster *c, size_t i)
{
    struct fault_node *nd = &c->nodes[i];
    snprintf(nd->name, sizeof(nd->name), "n%zu", i + 1);
    snprintf(nd->host, sizeof(nd->host), "127.0.0.%zu", i + 1);
    snprintf(nd->sock, sizeof(nd->sock), "%.32s/%s.sock", c->dir, nd->name);
    snprintf(nd->log, sizeof(nd->log), "%.32s/%s.log", c->dir, nd->name);
    char bind[32], seed[32];
    snprintf(bind, sizeof(bind), "%s:%d", nd->host, FAULT_PORT);
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", FAULT_PORT);
    const char *argv[] = {c->swimd, "--name",      nd->name, "--bind",
                          bind,     "--socket",    nd->sock, "--profile",
                          "lan",    "--log-level", "info",   i > 0 ? "--join" : NULL,
                          seed,     NULL};
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127); /* the runner already died */
        int fd = open(nd->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(fd, STDOUT_FILENO);
        }
        execv(c->swimd, (char *const *)argv);
        _exit(127);
    }
    nd->pid = pid;
    return 0;
}

/* Wait until node i answers `info`; 0, or -1 when it exited or timed out. */
static int fault_cluster_wait_up(struct fault_node *nd)
{
    uint64_t deadline = fault_now_ms() + FAULT_START_MS;
    while (fault_now_ms() < deadline) {
        if (waitpid(nd->pid, NULL, WNOHANG) == nd->pid) {
            nd->pid = 0;
            return -1;
        }
        json_t *info = fault_ctl_call(nd, "info");
        if (info != NULL) {
            json_decref(info);
            return 0;
        }
        usleep(FAULT_POLL_MS * 1000);
    }
    return -1;
}

/* Start agents n1..nN one by one.  0, or -1 with err. */
static int fault_cluster_start(struct fault_cluster *c, size_t n, char *err, size_t cap)
{
    for (size_t i = 0; i < n; i++) {
        c->n = i + 1;
        if (fault_cluster_spawn(c, i) != 0 || fault_cluster_wait_up(&c->nodes[i]) != 0) {
            snprintf(err, cap, "agent n%zu did not start (log %s)", i + 1, c->nodes[i].log);
            return -1;
        }
    }
    return 0;
}

/* Members node nd counts alive (itself included), or -1. */
static long long fault_node_alive(const struct fault_node *nd)
{
    json_t *info = fault_ctl_call(nd, "info");
    if (info == NULL)
        return -1;
    json_t *v = json_object_get(json_object_get(info, "counts"), "alive");
    long long alive = json_is_integer(v) ? (long long)json_integer_value(v) : -1;
    json_decref(info);
    return alive;
}

/* Wait until every running agent counts `alive` members alive.  0, or -1
 * with err naming a laggard. */
static int fault_cluster_converge(struct fault_cluster *c, size_t alive, uint64_t timeout_ms,
                                  char *err, size_t cap)
{
    uint64_t deadline = fault_now_ms() + timeout_ms;
    long long seen = -1;
    size_t i = 0; /* the first agent that does not count `alive` yet */
    for (;;) {
        i = 0;
        while (i < c->n && (c->nodes[i].pid == 0 ||
                            (seen = fault_node_alive(&c->nodes[i])) == (long long)alive))
            i++;
        if (i == c->n)
            return 0;
        if (fault_now_ms() >= deadline)
            break;
        usleep(FAULT_CONVERGE_POLL_MS * 1000);
    }
    snprintf(err, cap, "no convergence in %llu ms: %s counts %lld of %zu alive",
             (unsigned long long)timeout_ms, c->nodes[i].name, seen, alive);
    return -1;
}

long long fault_node_accusations(const struct fault_node *nd, int *from_accusations)
{
    json_t *info = fault_ctl_call(nd, "info");
    if (info == NULL)
        return -1;
    json_t *v = json_object_get(info, "accusations");
    *from_accusations = json_is_integer(v);
    if (!*from_accusations)
        v = json_object_get(info, "probe_failures");
    long long x = json_is_integer(v) ? (long long)json_integer_value(v) : -1;
    json_decref(info);
    return x;
}

long long fault_node_cpu_ticks(const struct fault_node *nd)
{
    return proc_cpu_ticks(nd->pid);
}

int fault_cluster_find(const struct fault_cluster *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->nodes[i].name, name) == 0)
            return (int)i;
    return -1;
}

void fault_cluster_delete(struct fault_cluster *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        struct fault_node *nd = &c->nodes[i];
        if (nd->pid > 0) {
            kill(nd->pid, SIGKILL);
            waitpid(nd->pid, NULL, 0);
            nd->pid = 0;
        }
    }
    free(c);
}

struct fault_cluster *fault_cluster_new(const char *swimd, const char *dir, size_t n,
                                        uint64_t converge_ms, char *err, size_t cap)
{
    if (n < 1 || n > FAULT_NODES_MAX) {
        snprintf(err, cap, "1 to %d agents, not %zu", FAULT_NODES_MAX, n);
        return NULL;
    }
    struct fault_cluster *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    c->swimd = swimd;
    c->dir = dir;
    if (fault_cluster_start(c, n, err, cap) != 0 ||
        fault_cluster_converge(c, n, converge_ms, err, cap) != 0) {
        fault_cluster_delete(c);
        return NULL;
    }
    return c;
}
