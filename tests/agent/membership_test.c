/*
 * membership_test.c - integration: real swimd processes on loopback find
 * each other, detect a kill, see a graceful leave, retry a join, join by
 * name, do all of it over IPv6 too, and time the probes (round trips in
 * the members reply) (tests/agent/agent_harness.h).
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_harness.h"

START_TEST(membership_test_five_nodes_detect_kill_and_restart)
{
    struct harness *h = harness_world();
    const size_t n = 5;
    harness_start_cluster(h, n, "127.0.0.1", NULL);
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_converged(h, n, 5), HARNESS_CONVERGE_MS),
                  "no convergence to 5 alive: %s", harness_log_tail(&h->nodes[0]));

    /* kill -9 the last node: every other node must call it failed in time. */
    uint64_t bound = harness_detection_bound_ms(n);
    uint64_t t0 = clock_mono_ms();
    harness_signal(&h->nodes[4], SIGKILL);
    ck_assert_int_eq(harness_wait_exit(&h->nodes[4], 5000), 0);
    int ok = HARNESS_WAIT_UNTIL(harness_all_see(h, n, 4, "n5", "failed"), bound);
    uint64_t took = clock_mono_ms() - t0;
    ck_assert_msg(ok, "n5 not failed everywhere within %llu ms: %s", (unsigned long long)bound,
                  harness_log_tail(&h->nodes[0]));
    fprintf(stderr, "detection took %llu ms (bound %llu ms)\n", (unsigned long long)took,
            (unsigned long long)bound);

    /* Restart under the same name and address (a new generation): alive
     * everywhere, listed once. */
    char bind[80];
    snprintf(bind, sizeof(bind), "--bind=%s", h->nodes[4].addr);
    const char *extra[] = {bind, "--join", h->nodes[0].addr, NULL};
    harness_start_node(h, 4, "127.0.0.1", extra);
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_all_see(h, n, SIZE_MAX, "n5", "alive") &&
                                         harness_converged(h, n, 5),
                                     HARNESS_CONVERGE_MS),
                  "restarted n5 not alive everywhere without duplicates: %s",
                  harness_log_tail(&h->nodes[4]));
}
END_TEST

START_TEST(membership_test_sigterm_shows_left_everywhere)
{
    struct harness *h = harness_world();
    const size_t n = 3;
    struct swim_config c = harness_local_profile();
    harness_start_cluster(h, n, "127.0.0.1", NULL);
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_converged(h, n, 3), HARNESS_CONVERGE_MS),
                  "no convergence: %s", harness_log_tail(&h->nodes[0]));
    harness_signal(&h->nodes[2], SIGTERM);
    /* swimd exits 0 once the leave has spread (bounded by the linger). */
    int exited =
        harness_wait_exit(&h->nodes[2], (int)(c.leave_linger_ms + 2000 + HARNESS_SLACK_MS));
    ck_assert_msg(exited == 0, "swimd did not exit after SIGTERM: %s",
                  harness_log_tail(&h->nodes[2]));
    ck_assert(WIFEXITED(h->nodes[2].exit_status));
    ck_assert_int_eq(WEXITSTATUS(h->nodes[2].exit_status), 0);
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_all_see(h, n, 2, "n3", "left"),
                                     5u * c.probe_interval_ms + HARNESS_SLACK_MS),
                  "n3 not left everywhere: %s", harness_log_tail(&h->nodes[0]));
}
END_TEST

/* A UDP port that was free a moment ago (the kernel's pick for port 0). */
static int free_udp_port(void)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in in = {0};
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(in);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&in, sizeof(in)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&in, &len), 0);
    close(fd);
    return ntohs(in.sin_port);
}

START_TEST(membership_test_join_retried_until_seed_appears)
{
    struct harness *h = harness_world();
    struct swim_config c = harness_local_profile();
    char seed[32], bind[48];
    int port = free_udp_port();
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", port);
    snprintf(bind, sizeof(bind), "--bind=%s", seed);
    /* n1 joins a seed that is not there yet: its first attempts find nobody. */
    const char *joiner[] = {"--join", seed, NULL};
    harness_start_node(h, 0, "127.0.0.1", joiner);
    ck_assert(HARNESS_WAIT_UNTIL(harness_info_int(&h->nodes[0], "join_attempts") >= 2,
                                 4u * c.probe_interval_ms + HARNESS_SLACK_MS));
    ck_assert_int_eq(harness_count(&h->nodes[0], NULL), 1);
    /* ... the seed starts later: the retries (backoff 1, 2, 4 ... periods) find it. */
    const char *late[] = {bind, NULL};
    harness_start_node(h, 1, "127.0.0.1", late);
    ck_assert_msg(
        HARNESS_WAIT_UNTIL(harness_converged(h, 2, 2), 8u * c.probe_interval_ms + HARNESS_SLACK_MS),
        "the join was not retried: %s", harness_log_tail(&h->nodes[0]));
}
END_TEST

/* "localhost:PORT" for node nd (which listens on 127.0.0.1). */
static void localhost_of(const struct harness_node *nd, char *out, size_t cap)
{
    const char *colon = strrchr(nd->addr, ':');
    ck_assert_ptr_nonnull(colon);
    snprintf(out, cap, "localhost%s", colon);
}

START_TEST(membership_test_join_by_name_over_flags_and_control)
{
    struct harness *h = harness_world();
    char name[64];
    harness_start_node(h, 0, "127.0.0.1", NULL);
    localhost_of(&h->nodes[0], name, sizeof(name));
    /* --join with a name: looked up on the loop (/etc/hosts), then announced. */
    const char *by_flag[] = {"--join", name, NULL};
    harness_start_node(h, 1, "127.0.0.1", by_flag);
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_converged(h, 2, 2), HARNESS_CONVERGE_MS),
                  "no join by name: %s", harness_log_tail(&h->nodes[1]));
    /* The control "join" with a name answers with the addresses announced to. */
    harness_start_node(h, 2, "127.0.0.1", NULL);
    json_t *r = harness_call(&h->nodes[2], json_pack("{s:s,s:[s]}", "cmd", "join", "addrs", name));
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(json_integer_value(json_object_get(r, "announced")) >= 1, "join reply: %s",
                  json_string_value(json_object_get(r, "error")));
    json_decref(r);
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_converged(h, 3, 3), HARNESS_CONVERGE_MS),
                  "no join by name over the control socket: %s", harness_log_tail(&h->nodes[2]));
    ck_assert_int_eq(harness_info_int(&h->nodes[2], "resolving"), 0);
}
END_TEST

START_TEST(membership_test_ipv6_three_nodes_converge)
{
    struct harness *h = harness_world();
    harness_start_cluster(h, 3, "::1", NULL);
    ck_assert_msg(h->nodes[0].addr[0] == '[', "advertised %s", h->nodes[0].addr);
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_converged(h, 3, 3), HARNESS_CONVERGE_MS),
                  "no IPv6 convergence: %s", harness_log_tail(&h->nodes[0]));
}
END_TEST

/* name's rtt_ms in nd's members reply: 1 and *ms when a number, 0 when
 * null, -1 when missing (or the call failed). */
static int rtt_in_members(struct harness_node *nd, const char *name, double *ms)
{
    json_t *r = harness_call(nd, json_pack("{s:s}", "cmd", "members"));
    int got = -1;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(r, "members"), i, m)
    {
        const char *n = json_string_value(json_object_get(m, "name"));
        json_t *rtt = json_object_get(m, "rtt_ms");
        if (n != NULL && strcmp(n, name) == 0 && rtt != NULL) {
            got = json_is_number(rtt) ? 1 : json_is_null(rtt) ? 0 : -1;
            *ms = json_number_value(rtt);
        }
    }
    json_decref(r);
    return got;
}

/* Probe acks between two real nodes give the peer a round trip (a small
 * one on loopback); self has none. */
START_TEST(membership_test_probe_acks_give_rtt)
{
    struct harness *h = harness_world();
    harness_start_cluster(h, 2, "127.0.0.1", NULL);
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_converged(h, 2, 2), HARNESS_CONVERGE_MS),
                  "no convergence: %s", harness_log_tail(&h->nodes[0]));
    double ms = -1;
    ck_assert_msg(
        HARNESS_WAIT_UNTIL(rtt_in_members(&h->nodes[0], "n2", &ms) == 1, HARNESS_CONVERGE_MS),
        "n1 has no RTT for n2: %s", harness_log_tail(&h->nodes[0]));
    ck_assert_msg(ms >= 0 && ms < 1000, "RTT %.1f ms on loopback", ms);
    ck_assert_int_eq(rtt_in_members(&h->nodes[0], "n1", &ms), 0);
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"failure_restart", membership_test_five_nodes_detect_kill_and_restart, 120},
        {"graceful_leave", membership_test_sigterm_shows_left_everywhere, 60},
        {"join_retry", membership_test_join_retried_until_seed_appears, 60},
        {"join_by_name", membership_test_join_by_name_over_flags_and_control, 60},
        {"ipv6", membership_test_ipv6_three_nodes_converge, 60},
        {"rtt", membership_test_probe_acks_give_rtt, 60},
    };
    return harness_run_cases("membership", cases, sizeof(cases) / sizeof(cases[0]));
}
