/*
 * proc.c - see proc.h.
 *
 * posix_spawn() in glibc runs the child on a vfork-style clone that shares
 * nothing with our threads' locks, and does the file actions, process group,
 * mask and dispositions there before exec; when exec fails it reaps the
 * child and returns the error, so every failure is the caller's to report.
 */
#include "proc.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"

#define PROC_MS_PER_S 1000
#define PROC_NS_PER_MS 1000000L

extern char **environ;

static int64_t proc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * PROC_MS_PER_S + ts.tv_nsec / PROC_NS_PER_MS;
}

/* pidfd_open(2) through syscall(): glibc has a wrapper only since 2.36.  The
 * descriptor is close-on-exec. */
static int proc_pidfd_open(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* The file actions and attributes of spec, or an errno value. */
static int proc_prepare(const struct proc_spec *spec, posix_spawn_file_actions_t *fa,
                        posix_spawnattr_t *attr)
{
    const int fds[3] = {spec->in, spec->out, spec->err};
    short flags = 0;
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++)
        if (fds[i] >= 0)
            rc = posix_spawn_file_actions_adddup2(fa, fds[i], i);
    if (rc == 0 && spec->close_others)
        rc = posix_spawn_file_actions_addclosefrom_np(fa, 3);
    if (rc == 0 && spec->own_group) {
        flags |= POSIX_SPAWN_SETPGROUP;
        rc = posix_spawnattr_setpgroup(attr, 0);
    }
    if (rc == 0 && spec->mask != NULL) {
        flags |= POSIX_SPAWN_SETSIGMASK;
        rc = posix_spawnattr_setsigmask(attr, spec->mask);
    }
    if (rc == 0 && spec->default_signals) {
        sigset_t all;
        sigfillset(&all);
        flags |= POSIX_SPAWN_SETSIGDEF;
        rc = posix_spawnattr_setsigdefault(attr, &all);
    }
    if (rc == 0)
        rc = posix_spawnattr_setflags(attr, flags);
    return rc;
}

int proc_spawn(struct proc *p, const struct proc_spec *spec)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    p->pid = -1;
    p->fd = -1;
    p->group = spec->own_group;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0) {
        errno = rc;
        return ERR_SYS;
    }
    rc = posix_spawnattr_init(&attr);
    if (rc == 0) {
        rc = proc_prepare(spec, &fa, &attr);
        char *const *envp = spec->envp != NULL ? spec->envp : environ;
        if (rc == 0 && spec->search)
            rc = posix_spawnp(&p->pid, spec->path, &fa, &attr, spec->argv, envp);
        else if (rc == 0)
            rc = posix_spawn(&p->pid, spec->path, &fa, &attr, spec->argv, envp);
        posix_spawnattr_destroy(&attr);
    }
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        errno = rc;
        return ERR_SYS;
    }
    p->fd = proc_pidfd_open(p->pid);
    if (p->fd < 0) {
        int saved = errno;
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR) {
        }
        errno = saved;
        return ERR_SYS;
    }
    return 0;
}

int proc_signal(const struct proc *p, int sig)
{
    if (p->fd < 0)
        return ERR_SYS;
    return kill(p->group ? -p->pid : p->pid, sig) == 0 ? 0 : ERR_SYS;
}

int proc_wait(struct proc *p, int timeout_ms, int *status)
{
    if (p->fd < 0)
        return ERR_STATE;
    int64_t deadline = proc_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    /* Each pass ends on the pidfd, the deadline or a signal; a signal only
     * shortens the wait that is left. */
    for (;;) {
        int wait = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - proc_now_ms();
            wait = left > 0 ? (int)left : 0;
        }
        struct pollfd pfd = {p->fd, POLLIN, 0};
        int n = poll(&pfd, 1, wait);
        if (n > 0)
            break;
        if (n == 0)
            return ERR_TIMEOUT;
        if (errno != EINTR)
            return ERR_SYS;
    }
    int st = 0;
    pid_t w;
    while ((w = waitpid(p->pid, &st, 0)) < 0 && errno == EINTR) {
    }
    int saved = errno;
    proc_abandon(p); /* reaped (or reaped by someone else: ECHILD) */
    if (w != p->pid) {
        errno = saved;
        return ERR_SYS;
    }
    if (status != NULL)
        *status = st;
    return 0;
}

int proc_stop(struct proc *p, uint32_t grace_ms, int *status)
{
    proc_signal(p, SIGTERM);
    int rc = proc_wait(p, grace_ms < INT_MAX ? (int)grace_ms : INT_MAX, status);
    if (rc != ERR_TIMEOUT)
        return rc;
    proc_signal(p, SIGKILL);
    return proc_wait(p, -1, status);
}

void proc_abandon(struct proc *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}
