/*
 * monitor_test.c - integration: member links on real swimd processes.
 * `swimctl monitor` exits when a named member fails (10) or leaves (11) and
 * at once for an unknown one (12); `swimctl run --peer` stops its command
 * when the peer is killed; this node's own name is a member, never
 * "unknown" (tests/agent/agent_harness.h).
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_harness.h"

/* Monitor clients node nd serves now. */
static long long monitors(struct harness_node *nd)
{
    return harness_info_int(nd, "monitors");
}

/* The bridge has applied every event the node has published, so a monitor
 * opened now sees the member links as the member table is. */
static int bridge_caught_up(struct harness_node *nd)
{
    json_t *r = harness_call(nd, json_pack("{s:s}", "cmd", "info"));
    int ok = r != NULL && json_integer_value(json_object_get(r, "bridge_position")) >=
                              json_integer_value(json_object_get(r, "event_clock"));
    json_decref(r);
    return ok;
}

START_TEST(monitor_test_exits_on_failure_then_on_leave)
{
    struct harness *h = harness_world();
    struct swim_config c = harness_local_profile();
    harness_start_node(h, 0, "127.0.0.1", NULL);
    harness_start_joiner(h, 1, "127.0.0.1", NULL);
    harness_start_joiner(h, 2, "127.0.0.1", NULL);
    ck_assert(HARNESS_WAIT_UNTIL(harness_converged(h, 3, 3), HARNESS_CONVERGE_MS));
    struct harness_proc mon, p;
    /* An unknown name is reported at once. */
    ck_assert_int_eq(harness_run_ctl(h, &h->nodes[0], "ghost",
                                     (const char *const[]){"monitor", "ghost", NULL}, &p),
                     12);
    ck_assert_int_eq(harness_count_in_file(p.out, "ghost unknown"), 1);
    ck_assert(HARNESS_WAIT_UNTIL(monitors(&h->nodes[0]) == 0, HARNESS_CTL_EXIT_MS));
    /* kill -9: "n3 failed", exit 10. */
    const char *args[] = {"monitor", "n3", NULL};
    harness_spawn_ctl(h, &mon, &h->nodes[0], "mon1", args);
    ck_assert(HARNESS_WAIT_UNTIL(monitors(&h->nodes[0]) == 1, HARNESS_CTL_EXIT_MS));
    ck_assert_int_ne(harness_wait_proc(&mon, 0), 0); /* still waiting */
    harness_signal(&h->nodes[2], SIGKILL);
    ck_assert_int_eq(harness_wait_exit(&h->nodes[2], 5000), 0);
    ck_assert_msg(harness_wait_proc(&mon, harness_detection_bound_ms(3)) == 0,
                  "monitor did not exit: %s", harness_log_tail(&h->nodes[0]));
    ck_assert_int_eq(harness_proc_exit_code(&mon), 10);
    ck_assert_int_eq(harness_count_in_file(mon.out, "n3 failed"), 1);
    /* n3 comes back; SIGTERM makes it leave: "n3 left", exit 11. */
    harness_start_joiner(h, 2, "127.0.0.1", NULL);
    ck_assert(HARNESS_WAIT_UNTIL(harness_converged(h, 3, 3), HARNESS_CONVERGE_MS));
    ck_assert(HARNESS_WAIT_UNTIL(harness_sees(h, 0, "n3", "alive"), HARNESS_CONVERGE_MS));
    /* The bridge applies the join a loop turn after the core. */
    ck_assert(HARNESS_WAIT_UNTIL(bridge_caught_up(&h->nodes[0]), HARNESS_CTL_EXIT_MS));
    ck_assert(HARNESS_WAIT_UNTIL(monitors(&h->nodes[0]) == 0, HARNESS_CTL_EXIT_MS));
    harness_spawn_ctl(h, &mon, &h->nodes[0], "mon2", args);
    ck_assert(HARNESS_WAIT_UNTIL(monitors(&h->nodes[0]) == 1, HARNESS_CTL_EXIT_MS));
    ck_assert_int_ne(harness_wait_proc(&mon, 0), 0);
    harness_signal(&h->nodes[2], SIGTERM);
    ck_assert_msg(harness_wait_proc(&mon, c.leave_linger_ms + 5u * c.probe_interval_ms +
                                              HARNESS_SLACK_MS) == 0,
                  "monitor did not see the leave: %s", harness_log_tail(&h->nodes[0]));
    ck_assert_int_eq(harness_proc_exit_code(&mon), 11);
    ck_assert_int_eq(harness_count_in_file(mon.out, "n3 left"), 1);
}
END_TEST

/* The first child of pid (Linux /proc), or 0. */
static pid_t child_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    int c = 0;
    if (f != NULL) {
        if (fscanf(f, "%d", &c) != 1)
            c = 0;
        fclose(f);
    }
    return (pid_t)c;
}

START_TEST(monitor_test_run_kills_child_when_peer_is_killed)
{
    struct harness *h = harness_world();
    harness_start_node(h, 0, "127.0.0.1", NULL);
    harness_start_joiner(h, 1, "127.0.0.1", NULL);
    harness_start_joiner(h, 2, "127.0.0.1", NULL);
    ck_assert(HARNESS_WAIT_UNTIL(harness_converged(h, 3, 3), HARNESS_CONVERGE_MS));
    struct harness_proc run, p;
    char marker[HARNESS_PATH_MAX];
    snprintf(marker, sizeof(marker), "%s/started", h->dir);
    /* A peer that does not exist: CMD never starts. */
    ck_assert_int_eq(harness_run_ctl(h, &h->nodes[0], "ghost",
                                     (const char *const[]){"run", "--peer", "ghost", "--", "touch",
                                                           marker, NULL},
                                     &p),
                     12);
    ck_assert_int_ne(access(marker, F_OK), 0);
    /* CMD exits first: its status. */
    ck_assert_int_eq(harness_run_ctl(h, &h->nodes[0], "exit7",
                                     (const char *const[]){"run", "--peer", "n2", "--", "sh", "-c",
                                                           "exit 7", NULL},
                                     &p),
                     7);
    /* The peer is killed: SIGTERM to CMD, exit 10, CMD gone. */
    const char *args[] = {"run", "--peer", "n3", "--grace", "2", "--", "sleep", "60", NULL};
    harness_spawn_ctl(h, &run, &h->nodes[0], "run", args);
    pid_t child = 0;
    ck_assert(HARNESS_WAIT_UNTIL((child = child_of(run.pid)) > 0, 5000));
    harness_signal(&h->nodes[2], SIGKILL);
    ck_assert_int_eq(harness_wait_exit(&h->nodes[2], 5000), 0);
    ck_assert_msg(harness_wait_proc(&run, harness_detection_bound_ms(3) + 2000) == 0,
                  "run did not exit: %s", harness_log_tail(&h->nodes[0]));
    ck_assert_int_eq(harness_proc_exit_code(&run), 10);
    ck_assert_int_eq(harness_count_in_file(run.out, "n3 failed"), 1);
    /* swimctl reaped it: the pid no longer exists. */
    ck_assert_int_ne(kill(child, 0), 0);
    ck_assert_int_eq(errno, ESRCH);
}
END_TEST

/* Monitoring this node's own name used to report it "unknown" at once. */
START_TEST(monitor_test_own_name_is_a_member)
{
    struct harness *h = harness_world();
    harness_start_node(h, 0, "127.0.0.1", NULL);
    int fd = harness_raw_client(&h->nodes[0], 5);
    const char *req = "{\"cmd\":\"monitor\",\"names\":[\"n1\",\"ghost\"]}\n";
    harness_send_all(fd, req, strlen(req));
    char buf[1024] = "";
    size_t len = 0;
    uint64_t deadline = clock_mono_ms() + 3000;
    /* The reply, then the one immediate report: ghost, not n1. */
    while (clock_mono_ms() < deadline) {
        ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
        if (r > 0)
            len += (size_t)r;
        buf[len] = '\0';
        if (strstr(buf, "ghost") != NULL)
            break;
        usleep(20000);
    }
    usleep(300 * 1000);
    ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
    if (r > 0)
        len += (size_t)r;
    buf[len] = '\0';
    ck_assert_msg(strstr(buf, "\"immediate\":1") != NULL, "got: %s", buf);
    ck_assert_msg(strstr(buf, "{\"member\":\"ghost\",\"reason\":\"unknown\"}") != NULL, "got: %s",
                  buf);
    ck_assert_msg(strstr(buf, "\"member\":\"n1\"") == NULL, "got: %s", buf);
    /* A name that is not a member name is refused. */
    const char *bad = "{\"cmd\":\"monitor\",\"names\":[\"a b\"]}\n";
    harness_send_all(fd, bad, strlen(bad));
    close(fd);
    const char *args[] = {"monitor", "n1", NULL};
    struct harness_proc p;
    harness_spawn_ctl(h, &p, &h->nodes[0], "self", args);
    ck_assert_int_ne(harness_wait_proc(&p, 1000), 0); /* still waiting: n1 is alive */
    harness_kill_proc(&p);
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"monitor", monitor_test_exits_on_failure_then_on_leave, 90},
        {"run", monitor_test_run_kills_child_when_peer_is_killed, 60},
        {"self", monitor_test_own_name_is_a_member, 30},
    };
    return harness_run_cases("monitor", cases, sizeof(cases) / sizeof(cases[0]));
}
