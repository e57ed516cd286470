/*
 * resolver_test.c - integration: a DNS server that never answers does not
 * stall swimd.  While a --join name (and a control "join" name) waits for
 * its lookup, the node keeps probing its peer and answers its control
 * socket promptly.
 *
 * The world: a network namespace this test creates (`ip netns add`), with
 * loopback up and /etc/netns/NAME/resolv.conf naming 127.0.0.1 as the only
 * nameserver, where a UDP socket bound to port 53 inside the namespace reads
 * nothing (queries are swallowed: no answer, no ICMP refusal).  swimd runs
 * there through `ip netns exec`, which binds that resolv.conf over
 * /etc/resolv.conf.  The namespace and the file are removed at the end, also
 * when an assertion fails (atexit).  Needs root: skipped, with the reason
 * printed, otherwise.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_harness.h"

/* How long the test watches the node while the lookup is pending. */
#define RESOLVER_WINDOW_MS 3000
/* A control round trip that is "prompt": far below a resolver timeout,
 * generous for ASan on a loaded machine. */
#define RESOLVER_PROMPT_MS 1000
/* The resolver's timeout, longer than the whole test: every lookup stays
 * pending while the test looks. */
#define RESOLVER_DNS_TIMEOUT_S 60
/* The names looked up (nothing in /etc/hosts has them). */
#define RESOLVER_SEED_NAME "pending-seed.swimd.test"
#define RESOLVER_JOIN_NAME "pending-join.swimd.test"

extern char **environ;

/* The namespace of this process's test, for the atexit cleanup. */
static char resolver_ns[32];

/* Run argv to completion (the commands used are quick).  Its exit code, or
 * -1 when it could not run or was killed. */
static int run_cmd(const char *const *argv)
{
    pid_t pid;
    int st;
    if (posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ) != 0)
        return -1;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void resolver_cleanup(void)
{
    char path[96];
    if (resolver_ns[0] == '\0')
        return;
    run_cmd((const char *const[]){"ip", "netns", "del", resolver_ns, NULL});
    snprintf(path, sizeof(path), "/etc/netns/%s/resolv.conf", resolver_ns);
    unlink(path);
    snprintf(path, sizeof(path), "/etc/netns/%s", resolver_ns);
    rmdir(path);
    resolver_ns[0] = '\0';
}

/* Why this machine cannot run the test, or NULL when it can. */
static const char *resolver_skip_reason(void)
{
    if (geteuid() != 0)
        return "needs root to create a network namespace";
    if (run_cmd((const char *const[]){"ip", "netns", "list", NULL}) != 0)
        return "`ip netns` is not available";
    return NULL;
}

/* The namespace with loopback up and a resolv.conf naming 127.0.0.1. */
static void resolver_make_netns(void)
{
    char path[96];
    snprintf(resolver_ns, sizeof(resolver_ns), "swimd-dns-%d", (int)getpid());
    atexit(resolver_cleanup);
    ck_assert_int_eq(run_cmd((const char *const[]){"ip", "netns", "add", resolver_ns, NULL}), 0);
    ck_assert_int_eq(
        run_cmd((const char *const[]){"ip", "-n", resolver_ns, "link", "set", "lo", "up", NULL}),
        0);
    mkdir("/etc/netns", 0755);
    snprintf(path, sizeof(path), "/etc/netns/%s", resolver_ns);
    ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s", path, strerror(errno));
    char conf[96];
    snprintf(path, sizeof(path), "/etc/netns/%s/resolv.conf", resolver_ns);
    snprintf(conf, sizeof(conf), "nameserver 127.0.0.1\noptions timeout:%d attempts:1\n",
             RESOLVER_DNS_TIMEOUT_S);
    harness_write_file(path, conf);
}

/* A UDP socket on 127.0.0.1:53 inside the namespace that is never read:
 * queries arrive and are never answered. */
static int resolver_swallower(void)
{
    char path[64];
    snprintf(path, sizeof(path), "/var/run/netns/%s", resolver_ns);
    int target = open(path, O_RDONLY | O_CLOEXEC);
    int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(target, 0);
    ck_assert_int_ge(home, 0);
    ck_assert_int_eq(setns(target, CLONE_NEWNET), 0);
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in in = {0};
    in.sin_family = AF_INET;
    in.sin_port = htons(53);
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = fd >= 0 ? bind(fd, (struct sockaddr *)&in, sizeof(in)) : -1;
    ck_assert_int_eq(setns(home, CLONE_NEWNET), 0);
    close(target);
    close(home);
    ck_assert_msg(rc == 0, "bind 127.0.0.1:53 in %s: %s", resolver_ns, strerror(errno));
    return fd;
}

/* `info` from nd within RESOLVER_PROMPT_MS, or fail the test.  A new reference. */
static json_t *prompt_info(struct harness_node *nd)
{
    uint64_t t0 = clock_mono_ms();
    json_t *r = harness_call(nd, json_pack("{s:s}", "cmd", "info"));
    uint64_t took = clock_mono_ms() - t0;
    ck_assert_msg(r != NULL, "info did not answer: %s", harness_log_tail(nd));
    ck_assert_msg(took < RESOLVER_PROMPT_MS, "info took %llu ms while a lookup was pending",
                  (unsigned long long)took);
    return r;
}

static long long info_int(json_t *info, const char *key)
{
    return (long long)json_integer_value(json_object_get(info, key));
}

START_TEST(resolver_test_silent_dns_does_not_stall_probing_or_control)
{
    const char *why = resolver_skip_reason();
    if (why != NULL) {
        printf("SKIP resolver_test_silent_dns_does_not_stall_probing_or_control: %s\n", why);
        return;
    }
    struct harness *h = harness_world();
    resolver_make_netns();
    int swallower = resolver_swallower();
    const char *wrap[] = {"ip", "netns", "exec", resolver_ns, NULL};
    memcpy(h->wrap, wrap, sizeof(wrap));

    /* n2 joins n1 by address and a name whose lookup never ends. */
    harness_start_node(h, 0, "127.0.0.1", NULL);
    const char *more[] = {"--join", RESOLVER_SEED_NAME, NULL};
    harness_start_joiner(h, 1, "127.0.0.1", more);
    struct harness_node *nd = &h->nodes[1];
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_converged(h, 2, 2), HARNESS_CONVERGE_MS),
                  "no convergence beside a pending lookup: %s", harness_log_tail(nd));
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_info_int(nd, "resolving") >= 1, HARNESS_CTL_EXIT_MS),
                  "the seed name is not being looked up: %s", harness_log_tail(nd));

    /* A control join by name waits for its lookup: its reply is deferred,
     * not the loop. */
    int fd = harness_raw_client(nd, 1);
    const char *join = "{\"cmd\":\"join\",\"addrs\":[\"" RESOLVER_JOIN_NAME "\"]}\n";
    harness_send_all(fd, join, strlen(join));

    /* Meanwhile: every control call is prompt, probes go on, the peer stays
     * alive, and the lookups are still pending at the end. */
    json_t *first = prompt_info(nd);
    long long probes0 = info_int(first, "probes");
    json_decref(first);
    uint64_t end = clock_mono_ms() + RESOLVER_WINDOW_MS;
    json_t *last = NULL;
    while (clock_mono_ms() < end) {
        json_decref(last);
        last = prompt_info(nd);
        ck_assert(harness_sees(h, 1, "n1", "alive"));
        usleep(HARNESS_POLL_MS * 1000);
    }
    ck_assert_msg(info_int(last, "probes") >= probes0 + 2, "probes %lld -> %lld", probes0,
                  info_int(last, "probes"));
    ck_assert_int_ge(info_int(last, "resolving"), 2); /* the seed's and the join's */
    json_decref(last);
    char buf[256];
    ssize_t got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    int e = errno;
    ck_assert_msg(got < 0 && (e == EAGAIN || e == EWOULDBLOCK), "the join answered: %zd", got);
    close(fd);

    /* A graceful stop with lookups in flight: they are cancelled and end. */
    harness_signal(nd, SIGTERM);
    struct swim_config c = harness_local_profile();
    ck_assert_int_eq(harness_wait_exit(nd, (int)(c.leave_linger_ms + 2000 + HARNESS_SLACK_MS)), 0);
    ck_assert_msg(WIFEXITED(nd->exit_status) && WEXITSTATUS(nd->exit_status) == 0,
                  "swimd did not exit cleanly: %s", harness_log_tail(nd));
    harness_destroy(h); /* n1 too, before the namespace goes */
    close(swallower);
    resolver_cleanup();
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"silent_dns", resolver_test_silent_dns_does_not_stall_probing_or_control, 90},
    };
    return harness_run_cases("resolver", cases, sizeof(cases) / sizeof(cases[0]));
}
