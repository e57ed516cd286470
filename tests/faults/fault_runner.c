/*
 * fault_runner.c - see fault_runner.h.
 */
#include "fault_runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_cluster.h"
#include "fault_net.h"

/* The four fault scenarios, with room. */
#define FAULT_RUNNER_JOBS_MAX 8

/* The signal that interrupted fault_runner_run(), 0 if none: a signal
 * handler's only way to tell the loop, hence static. */
static volatile sig_atomic_t fault_runner_signal;

static void fault_runner_on_signal(int sig)
{
    fault_runner_signal = sig;
}

/* Remove the files directly in dir, then dir (unless FAULTS_KEEP is set). */
static void fault_runner_remove(const char *dir)
{
    if (getenv("FAULTS_KEEP") != NULL) {
        fprintf(stderr, "faults: kept %s\n", dir);
        return;
    }
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[FAULT_DIR_MAX + 2 + sizeof(e->d_name)];
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(p, sizeof(p), "%.*s/%s", FAULT_DIR_MAX, dir, e->d_name);
            unlink(p);
        }
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
}

int fault_runner_privileged(void)
{
    if (geteuid() != 0)
        return 0;
    /* Root without CAP_SYS_ADMIN (some containers) cannot: try it. */
    pid_t pid = fork();
    if (pid == 0)
        _exit(unshare(CLONE_NEWNET) == 0 ? 0 : 1);
    int st = 0;
    return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

const char *fault_runner_swimd(void)
{
    const char *swimd = getenv("SWIMD");
    if (swimd == NULL || access(swimd, X_OK) != 0) {
        fprintf(stderr, "faults: SWIMD must name the swimd binary\n");
        return NULL;
    }
    return swimd;
}

/* The child's side: never returns. */
static void fault_runner_child(struct fault_job *job, const char *dir, int fd, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    struct fault_status *st = job->out;
    if (fault_net_enter(st->error, sizeof(st->error)) == 0)
        job->fn(job->arg, dir, job->out);
    const char *p = job->out;
    size_t left = job->out_size;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            _exit(1);
        p += w;
        left -= (size_t)w;
    }
    _exit(0);
}

size_t fault_runner_run(struct fault_job *jobs, size_t n, uint64_t timeout_ms)
{
    pid_t pid[FAULT_RUNNER_JOBS_MAX];
    struct pollfd pfd[FAULT_RUNNER_JOBS_MAX];
    char *buf[FAULT_RUNNER_JOBS_MAX];
    size_t got[FAULT_RUNNER_JOBS_MAX];
    char dir[FAULT_RUNNER_JOBS_MAX][FAULT_DIR_MAX];
    if (n > FAULT_RUNNER_JOBS_MAX)
        n = FAULT_RUNNER_JOBS_MAX;
    struct sigaction sa, old_term, old_int;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = fault_runner_on_signal; /* no SA_RESTART: poll returns EINTR */
    sigemptyset(&sa.sa_mask);
    fault_runner_signal = 0;
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGINT, &sa, &old_int);
    fflush(NULL); /* nothing buffered is written twice */
    pid_t self = getpid();
    for (size_t i = 0; i < n; i++) {
        struct fault_status *st = jobs[i].out;
        memset(jobs[i].out, 0, jobs[i].out_size);
        snprintf(st->error, sizeof(st->error), "no result (crashed or timed out)");
        pid[i] = -1;
        pfd[i].fd = -1;
        pfd[i].events = POLLIN;
        got[i] = 0;
        buf[i] = malloc(jobs[i].out_size);
        snprintf(dir[i], sizeof(dir[i]), "/tmp/swimfault-XXXXXX");
        int p[2];
        if (buf[i] == NULL || mkdtemp(dir[i]) == NULL) {
            dir[i][0] = '\0';
            continue;
        }
        if (pipe2(p, O_CLOEXEC) != 0)
            continue;
        pid[i] = fork();
        if (pid[i] == 0) {
            close(p[0]);
            fault_runner_child(&jobs[i], dir[i], p[1], self);
        }
        close(p[1]);
        if (pid[i] < 0)
            close(p[0]);
        else
            pfd[i].fd = p[0];
    }
    uint64_t deadline = fault_now_ms() + timeout_ms;
    for (;;) {
        size_t open = 0;
        for (size_t i = 0; i < n; i++)
            open += pfd[i].fd >= 0;
        uint64_t now = fault_now_ms();
        if (open == 0 || now >= deadline || fault_runner_signal != 0)
            break;
        if (poll(pfd, (nfds_t)n, (int)(deadline - now)) <= 0)
            continue;
        for (size_t i = 0; i < n; i++) {
            if (pfd[i].fd < 0 || pfd[i].revents == 0)
                continue;
            ssize_t r = read(pfd[i].fd, buf[i] + got[i], jobs[i].out_size - got[i]);
            if (r < 0 && errno == EINTR)
                continue;
            if (r > 0)
                got[i] += (size_t)r;
            if (r <= 0 || got[i] == jobs[i].out_size) {
                close(pfd[i].fd);
                pfd[i].fd = -1;
            }
        }
    }
    size_t completed = 0;
    for (size_t i = 0; i < n; i++) {
        if (pfd[i].fd >= 0)
            close(pfd[i].fd);
        if (pid[i] > 0) {
            kill(pid[i], SIGKILL); /* a no-op for a child that already exited */
            waitpid(pid[i], NULL, 0);
        }
        if (got[i] == jobs[i].out_size)
            memcpy(jobs[i].out, buf[i], jobs[i].out_size);
        free(buf[i]);
        if (dir[i][0] != '\0')
            fault_runner_remove(dir[i]);
        completed += ((struct fault_status *)jobs[i].out)->ok != 0;
    }
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGINT, &old_int, NULL);
    if (fault_runner_signal != 0)
        raise(fault_runner_signal); /* now with the caller's disposition */
    return completed;
}
