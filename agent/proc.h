/*
 * proc.h - child processes of swimd (event handlers) and swimctl (`run`):
 * started with posix_spawn, watched through a pidfd, stopped gently.
 *
 * Model.  proc_spawn() starts a program with posix_spawn(p): the child gets
 * the descriptors it is given as 0, 1 and 2 (file actions), optionally its
 * own process group, a chosen signal mask and default signal dispositions,
 * and, when asked, no other descriptor (every descriptor swimd and swimctl
 * open is close-on-exec anyway; this also covers ones inherited from
 * outside).  An exec failure is reported by proc_spawn() itself (errno),
 * never by a child that runs on.  The handle's pidfd (pidfd_open, Linux 5.3)
 * becomes readable when the child exits, so a caller polls it beside its
 * other descriptors instead of polling waitpid(); proc_reap() then collects
 * the status.  Until it is reaped, the child's pid (and group) cannot be
 * reused, so signals can never reach a stranger.
 *
 * A struct proc is a plain value owned by the caller; one thread uses it at
 * a time.  Errors are 0 or a negative ERR_* code (errno says why for
 * ERR_SYS).
 */
#ifndef AGENT_PROC_H
#define AGENT_PROC_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

struct proc {
    pid_t pid;
    int fd;    /* pidfd: readable once the child has exited; -1 once reaped */
    int group; /* signals go to the child's process group */
};

struct proc_spec {
    const char *path;     /* the program; looked up in PATH when search is set */
    int search;           /* posix_spawnp() instead of posix_spawn() */
    char *const *argv;    /* NULL-terminated */
    char *const *envp;    /* NULL: this process's environment */
    int in, out, err;     /* the child's 0, 1 and 2; -1 keeps this process's */
    int own_group;        /* the child leads a new process group (see proc_signal) */
    int close_others;     /* close every descriptor above 2 in the child */
    const sigset_t *mask; /* the child's signal mask; NULL: the calling thread's */
    int default_signals;  /* every signal back to its default disposition */
};

/*
 * Start spec->path.  0 (*p filled, the child running or already exited), or
 * ERR_SYS with errno set: the program could not be executed (ENOENT,
 * EACCES, ...), or no process or pidfd could be made (a child that started
 * without a pidfd is killed and reaped first).
 */
int proc_spawn(struct proc *p, const struct proc_spec *spec);
/* Send sig to the child, or to its whole group when it has its own.
 * 0 or ERR_SYS (already reaped). */
int proc_signal(const struct proc *p, int sig);
/*
 * Wait up to timeout_ms (negative: no limit) for the child to exit, then
 * reap it: 0 with its wait status in *status (may be NULL) and the pidfd
 * closed, or ERR_TIMEOUT (still running; 0 ms just looks).
 */
int proc_wait(struct proc *p, int timeout_ms, int *status);
/*
 * SIGTERM (to the group, see proc_signal), up to grace_ms for the child to
 * exit, then SIGKILL, and reap it: 0 with its wait status in *status (may
 * be NULL), or ERR_SYS when it cannot be reaped.
 */
int proc_stop(struct proc *p, uint32_t grace_ms, int *status);
/* Give up on a child that cannot be reaped: close the pidfd; the child stays
 * a zombie until this process exits.  Never fails. */
void proc_abandon(struct proc *p);

#endif /* AGENT_PROC_H */
