/*
 * notify_it_test.c - integration: swimd under a stand-in for systemd.  The
 * test binds a Unix datagram socket, names it in NOTIFY_SOCKET with a
 * WATCHDOG_USEC, and starts a real swimd (tests/agent/agent_harness.h):
 * READY=1 comes once the control socket answers (the first request made on
 * receiving it must succeed), STATUS= names the node, WATCHDOG=1 pings come
 * at the interval asked for, and SIGTERM brings STOPPING=1, then exit 0.
 */
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_harness.h"
#include "cli.h"

/* systemd's WatchdogSec as WATCHDOG_USEC: pings every half of it. */
#define NOTIFY_WATCHDOG_USEC 400000
#define NOTIFY_PING_MS (NOTIFY_WATCHDOG_USEC / 1000 / 2)
/* Pings counted to call the watchdog working. */
#define NOTIFY_PINGS 5
/* Longer than any datagram swimd sends (SDN_MESSAGE_MAX). */
#define NOTIFY_DGRAM_MAX 1024

/* The stand-in for systemd's notify socket. */
static int notify_listen(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_un sun = {0};
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    return fd;
}

/* The next datagram within ms, NUL-terminated in buf; 0, or -1 on timeout. */
static int notify_recv(int fd, char *buf, size_t cap, int ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, ms) != 1)
        return -1;
    ssize_t n = recv(fd, buf, cap - 1, 0);
    ck_assert_int_ge(n, 0);
    buf[n] = '\0';
    return 0;
}

/* Read datagrams until one equals `want`, within ms; counts in *pings
 * (may be NULL) the WATCHDOG=1 pings read on the way.  0 or -1. */
static int notify_until(int fd, const char *want, int ms, int *pings)
{
    uint64_t deadline = clock_mono_ms() + (uint64_t)ms;
    char buf[NOTIFY_DGRAM_MAX];
    while (clock_mono_ms() < deadline) {
        if (notify_recv(fd, buf, sizeof(buf), (int)(deadline - clock_mono_ms())) != 0)
            return -1;
        if (strcmp(buf, want) == 0)
            return 0;
        if (pings != NULL && strcmp(buf, "WATCHDOG=1") == 0)
            (*pings)++;
    }
    return -1;
}

/* What the waiting thread saw: READY=1, and the control socket's answer
 * to the request made right after it. */
struct waiter {
    int fd;
    const char *sock;
    int ready; /* 0: READY=1 came */
    int pings; /* WATCHDOG=1 before it */
    json_t *info;
    char msg[CLI_ERR_MAX];
};

static void *notify_wait_ready(void *arg)
{
    struct waiter *w = arg;
    w->ready = notify_until(w->fd, "READY=1", 20000, &w->pings);
    if (w->ready == 0) {
        json_t *req = json_pack("{s:s}", "cmd", "info");
        cli_call(w->sock, req, &w->info, 5000, w->msg, sizeof(w->msg));
        json_decref(req);
    }
    return NULL;
}

START_TEST(notify_it_test_ready_watchdog_stopping)
{
    struct harness *h = harness_world();
    char path[HARNESS_PATH_MAX], sock[HARNESS_PATH_MAX], usec[32];
    snprintf(path, sizeof(path), "%s/notify", h->dir);
    snprintf(sock, sizeof(sock), "%s/n1.sock", h->dir); /* the harness's name for node 0 */
    int fd = notify_listen(path);
    snprintf(usec, sizeof(usec), "%d", NOTIFY_WATCHDOG_USEC);
    setenv("NOTIFY_SOCKET", path, 1);
    setenv("WATCHDOG_USEC", usec, 1);

    /* A thread waits for READY=1 and asks the control socket at once,
     * while this one starts the node (the harness polls the control socket
     * until it answers; the node must be started from this thread, whose
     * end kills it: PR_SET_PDEATHSIG). */
    struct waiter w = {.fd = fd, .sock = sock, .ready = -1};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, notify_wait_ready, &w), 0);
    int started = harness_start(h, 0, NULL, "127.0.0.1", NULL);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    struct harness_node *nd = &h->nodes[0];
    ck_assert_msg(started == 0, "node did not start: %s", harness_log_tail(nd));
    ck_assert_msg(w.ready == 0, "no READY=1: %s", harness_log_tail(nd));
    ck_assert_msg(w.info != NULL, "READY=1 came before the control socket answered: %s", w.msg);
    ck_assert(json_is_true(json_object_get(w.info, "ok")));
    json_decref(w.info);
    ck_assert_msg(w.pings == 0, "%d watchdog pings before READY=1", w.pings);

    /* STATUS= names the node; pings keep coming at the interval. */
    ck_assert_int_eq(
        notify_until(fd, "STATUS=n1: 1 alive, 0 suspect, 0 failed, 0 left", 5000, NULL), 0);
    uint64_t t0 = clock_mono_ms();
    for (int i = 0; i < NOTIFY_PINGS; i++)
        ck_assert_msg(notify_until(fd, "WATCHDOG=1", 4 * NOTIFY_PING_MS + HARNESS_SLACK_MS, NULL) ==
                          0,
                      "ping %d did not come", i + 1);
    uint64_t took = clock_mono_ms() - t0;
    ck_assert_msg(took >= (NOTIFY_PINGS - 1) * NOTIFY_PING_MS / 2,
                  "%d pings in %llu ms: faster than asked", NOTIFY_PINGS, (unsigned long long)took);

    /* SIGTERM: STOPPING=1, then a clean exit. */
    harness_signal(nd, SIGTERM);
    ck_assert_msg(notify_until(fd, "STOPPING=1", 10000, NULL) == 0, "no STOPPING=1: %s",
                  harness_log_tail(nd));
    ck_assert_int_eq(harness_wait_exit(nd, 10000), 0);
    ck_assert(WIFEXITED(nd->exit_status));
    ck_assert_int_eq(WEXITSTATUS(nd->exit_status), 0);
    /* Nothing but status lines and pings after STOPPING=1: no second READY. */
    char buf[NOTIFY_DGRAM_MAX];
    while (notify_recv(fd, buf, sizeof(buf), 0) == 0)
        ck_assert_msg(strcmp(buf, "READY=1") != 0 && strcmp(buf, "STOPPING=1") != 0,
                      "\"%s\" after STOPPING=1", buf);
    close(fd);
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"ready_watchdog_stopping", notify_it_test_ready_watchdog_stopping, 60},
    };
    return harness_run_cases("notify_it", cases, sizeof(cases) / sizeof(cases[0]));
}
