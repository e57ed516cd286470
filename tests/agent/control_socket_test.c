/*
 * control_socket_test.c - integration: the control socket as local users
 * meet it (tests/agent/agent_harness.h).  Only one swimd owns a path, and
 * it removes only what it made; the peer's credentials, not the file mode,
 * decide who gets in; idle connections cannot keep the owner out; running
 * out of descriptors pauses accepting instead of spinning on it.
 */
#include <check.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <fcntl.h>

#include "agent_harness.h"
#include "ctl.h"

/* An unprivileged user and groups for the access checks. */
#define OTHER_UID 65534
#define SOCKET_GID 4242
#define OTHER_GID 4243

static int exit_code(const struct harness_node *nd)
{
    return WIFEXITED(nd->exit_status) ? WEXITSTATUS(nd->exit_status) : -1;
}

static int answers(struct harness_node *nd)
{
    json_t *info = harness_call(nd, json_pack("{s:s}", "cmd", "info"));
    json_decref(info);
    return info != NULL;
}

/* The reproduction: A on x.sock; x.sock removed; B on x.sock;
 * SIGTERM A.  B must not start while A holds the path, and once the path
 * is really free, A's end must not take B's socket with it. */
START_TEST(control_socket_test_one_owner_per_path)
{
    struct harness *h = harness_world();
    harness_start_node(h, 0, "127.0.0.1", NULL);
    char lock[HARNESS_PATH_MAX + 8];
    snprintf(lock, sizeof(lock), "%s" CTL_LOCK_SUFFIX, h->nodes[0].sock);
    ck_assert_int_eq(access(lock, F_OK), 0);
    ck_assert_int_eq(unlink(h->nodes[0].sock), 0);
    /* Same path (the same name gives the same socket): refused. */
    ck_assert_int_ne(harness_start(h, 1, "n1", "127.0.0.1", NULL), 0);
    ck_assert_int_eq(exit_code(&h->nodes[1]), 1);
    ck_assert_msg(strstr(harness_log_tail(&h->nodes[1]), "in use") != NULL, "%s",
                  harness_log_tail(&h->nodes[1]));
    /* A careless operator removes the lock too: now B may start ... */
    ck_assert_int_eq(unlink(lock), 0);
    ck_assert_int_eq(harness_start(h, 1, "n1", "127.0.0.1", NULL), 0);
    /* ... and A's graceful exit leaves B's socket and lock file alone. */
    harness_signal(&h->nodes[0], SIGTERM);
    ck_assert_int_eq(harness_wait_exit(&h->nodes[0], 10000), 0);
    ck_assert_int_eq(exit_code(&h->nodes[0]), 0);
    ck_assert_int_eq(access(h->nodes[1].sock, F_OK), 0);
    ck_assert_int_eq(access(lock, F_OK), 0);
    ck_assert(answers(&h->nodes[1]));
    const char *args[] = {"info", NULL};
    char *out = NULL;
    ck_assert_int_eq(harness_swimctl(h, &h->nodes[1], args, &out), 0);
    free(out);
    /* B's own end removes both. */
    harness_signal(&h->nodes[1], SIGTERM);
    ck_assert_int_eq(harness_wait_exit(&h->nodes[1], 10000), 0);
    ck_assert_int_ne(access(h->nodes[1].sock, F_OK), 0);
    ck_assert_int_ne(access(lock, F_OK), 0);
}
END_TEST

/* Start swimd on `sock` without waiting (as two operators racing). */
static pid_t spawn_swimd(struct harness *h, const char *name, const char *sock, const char *log)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        FILE *f = freopen(log, "w", stderr);
        (void)f;
        execl(h->swimd, h->swimd, "--name", name, "--bind", "127.0.0.1:0", "--socket", sock,
              "--profile", "local", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Two swimds started at once on one path: exactly one keeps it. */
START_TEST(control_socket_test_racing_starts_one_wins)
{
    struct harness *h = harness_world();
    for (int round = 0; round < 3; round++) {
        char sock[HARNESS_PATH_MAX], log_a[HARNESS_PATH_MAX], log_b[HARNESS_PATH_MAX];
        snprintf(sock, sizeof(sock), "%.60s/race%d.sock", h->dir, round);
        snprintf(log_a, sizeof(log_a), "%.60s/race%d-a.log", h->dir, round);
        snprintf(log_b, sizeof(log_b), "%.60s/race%d-b.log", h->dir, round);
        pid_t a = spawn_swimd(h, "a", sock, log_a);
        pid_t b = spawn_swimd(h, "b", sock, log_b);
        /* One exits (in use); the other answers. */
        int status = 0;
        pid_t gone = 0;
        uint64_t deadline = clock_mono_ms() + 10000;
        while (gone <= 0 && clock_mono_ms() < deadline) {
            gone = waitpid(-1, &status, WNOHANG);
            if (gone <= 0)
                usleep(20000);
        }
        ck_assert_msg(gone == a || gone == b, "neither racer gave up the path");
        ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
        pid_t winner = gone == a ? b : a;
        struct harness_node nd = {.pid = winner};
        snprintf(nd.sock, sizeof(nd.sock), "%s", sock);
        ck_assert(HARNESS_WAIT_UNTIL(answers(&nd), 10000));
        kill(winner, SIGTERM);
        ck_assert_int_eq(waitpid(winner, &status, 0), winner);
        ck_assert_int_ne(access(sock, F_OK), 0);
    }
}
END_TEST

/* Run swimctl args... against nd as OTHER_UID with primary group gid;
 * returns its exit code, its stderr in err (malloc'd). */
static int swimctl_as(struct harness *h, struct harness_node *nd, gid_t gid,
                      const char *const *args, char **err)
{
    char errpath[HARNESS_PATH_MAX + 16];
    snprintf(errpath, sizeof(errpath), "%.60s/as-%u.err", h->dir, (unsigned)gid);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        FILE *f = freopen(errpath, "w", stderr);
        FILE *o = freopen("/dev/null", "w", stdout);
        (void)f;
        (void)o;
        gid_t g[1] = {gid};
        if (setgroups(1, g) != 0 || setgid(gid) != 0 || setuid(OTHER_UID) != 0)
            _exit(90);
        const char *argv[16] = {h->swimctl, "--socket", nd->sock};
        for (int i = 0; args[i] != NULL && i < 12; i++)
            argv[3 + i] = args[i];
        execv(h->swimctl, (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    *err = harness_slurp(errpath);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Whatever the socket's mode, only root, swimd's user and members of
 * --socket-group get in; a refusal is logged. */
START_TEST(control_socket_test_credentials_decide_who_gets_in)
{
    struct harness *h = harness_world();
    if (geteuid() != 0)
        return; /* needs another user to test against */
    ck_assert_int_eq(chmod(h->dir, 0755), 0);
    const char *open_mode[] = {"--socket-mode", "0666", NULL};
    harness_start_node(h, 0, "127.0.0.1", open_mode);
    const char *members[] = {"members", NULL};
    char *err = NULL;
    ck_assert_int_ne(swimctl_as(h, &h->nodes[0], SOCKET_GID, members, &err), 0);
    ck_assert_msg(strstr(err, "permission denied") != NULL, "swimctl said: %s", err);
    free(err);
    ck_assert(HARNESS_WAIT_UNTIL(
        harness_count_in_file(h->nodes[0].log, "ctl refused a client") == 1, 5000));
    ck_assert_int_eq(harness_info_int(&h->nodes[0], "clients_refused"), 1);
    /* With --socket-group, its members are in; others are still not. */
    const char *grouped[] = {"--socket-mode", "0660", "--socket-group", "4242", NULL};
    harness_start_node(h, 1, "127.0.0.1", grouped);
    struct stat st;
    ck_assert_int_eq(stat(h->nodes[1].sock, &st), 0);
    ck_assert_uint_eq(st.st_gid, SOCKET_GID);
    ck_assert_int_eq(swimctl_as(h, &h->nodes[1], SOCKET_GID, members, &err), 0);
    free(err);
    ck_assert_int_eq(chmod(h->nodes[1].sock, 0666), 0); /* a careless chmod changes nothing */
    ck_assert_int_ne(swimctl_as(h, &h->nodes[1], OTHER_GID, members, &err), 0);
    ck_assert_msg(strstr(err, "permission denied") != NULL, "swimctl said: %s", err);
    free(err);
}
END_TEST

/* 64 idle connections used to lock every swimctl out for as long as they
 * stayed: the owner now gets in regardless. */
START_TEST(control_socket_test_idle_connections_do_not_lock_out_the_owner)
{
    struct harness *h = harness_world();
    harness_start_node(h, 0, "127.0.0.1", NULL);
    struct harness_node *nd = &h->nodes[0];
    int fds[CTL_CLIENTS_MAX];
    for (int i = 0; i < CTL_CLIENTS_MAX; i++)
        fds[i] = harness_raw_client(nd, 5);
    ck_assert(HARNESS_WAIT_UNTIL(harness_info_int(nd, "clients") >= CTL_CLIENTS_MAX - 1, 5000));
    const char *args[] = {"members", NULL};
    char *out = NULL;
    ck_assert_int_eq(harness_swimctl(h, nd, args, &out), 0);
    ck_assert_ptr_nonnull(strstr(out, "n1"));
    free(out);
    ck_assert_int_ge(harness_info_int(nd, "clients_evicted"), 1);
    ck_assert_int_eq(harness_info_int(nd, "clients_max"), CTL_CLIENTS_MAX);
    for (int i = 0; i < CTL_CLIENTS_MAX; i++)
        close(fds[i]);
}
END_TEST

/* The descriptor limit of the starved swimd, clients tried at most, and the
 * CPU window and share as in metrics_it_test.c. */
#define DESC_NOFILE 64
#define DESC_CLIENTS_TRIED 100
#define DESC_CPU_WINDOW_MS 2000
#define DESC_CPU_MAX_PERCENT 25

/* A control client that connects without waiting: its socket, or -1 when
 * the server's queue is full (EAGAIN) or the connect fails. */
static int desc_client(struct harness_node *nd)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", nd->sock);
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Local clients that take every descriptor swimd has left made its loop
 * spin on accept() failing with EMFILE (libevent logs each failure); now it
 * pauses accepting, stays idle and answers again once they go. */
START_TEST(control_socket_test_descriptors_exhausted_pause_accepting)
{
    struct harness *h = harness_world();
    h->nofile = DESC_NOFILE;
    harness_start_node(h, 0, "127.0.0.1", NULL);
    struct harness_node *nd = &h->nodes[0];
    int fds[DESC_CLIENTS_TRIED];
    int opened = 0;
    for (int i = 0; i < DESC_CLIENTS_TRIED; i++)
        if ((fds[opened] = desc_client(nd)) >= 0)
            opened++;
    usleep(300 * 1000);
    long long before = harness_cpu_ms(nd->pid);
    usleep(DESC_CPU_WINDOW_MS * 1000);
    long long after = harness_cpu_ms(nd->pid);
    printf("%d clients open, swimd holds %d descriptors, %lld ms of CPU in %d ms\n", opened,
           harness_fd_count(nd->pid), after - before, DESC_CPU_WINDOW_MS);
    fflush(stdout);
    ck_assert(before >= 0 && after >= 0);
    ck_assert_msg((after - before) * 100 / DESC_CPU_WINDOW_MS < DESC_CPU_MAX_PERCENT,
                  "swimd used %lld ms of CPU in %d ms", after - before, DESC_CPU_WINDOW_MS);
    int paused = harness_count_in_file(nd->log, "not accepting");
    printf("pause lines in the log: %d\n", paused);
    fflush(stdout);
    ck_assert_int_ge(paused, 1);
    ck_assert_int_le(paused, 5);
    for (int i = 0; i < opened; i++)
        close(fds[i]);
    ck_assert(HARNESS_WAIT_UNTIL(answers(nd), 10000));
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"ownership", control_socket_test_one_owner_per_path, 60},
        {"ownership", control_socket_test_racing_starts_one_wins, 60},
        {"access", control_socket_test_credentials_decide_who_gets_in, 60},
        {"idle_clients", control_socket_test_idle_connections_do_not_lock_out_the_owner, 60},
        {"descriptors", control_socket_test_descriptors_exhausted_pause_accepting, 60},
    };
    return harness_run_cases("control_socket", cases, sizeof(cases) / sizeof(cases[0]));
}
