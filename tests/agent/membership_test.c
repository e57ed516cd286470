/*
 * membership_test.c - integration: real swimd processes on loopback find
 * each other, detect a kill, see a graceful leave, retry a join, join by
 * name, do all of it over IPv6 too, time the probes (round trips in
 * the members reply), and answer members with the fields asked for
 * (tests/agent/agent_harness.h).
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

/* nd's "members" for a request with `fields` (taken; NULL: without it). */
static json_t *members_of(struct harness_node *nd, json_t *fields)
{
    json_t *req = json_pack("{s:s}", "cmd", "members");
    if (fields != NULL)
        json_object_set_new(req, "fields", fields);
    json_t *r = harness_call(nd, req);
    json_t *m = json_incref(json_object_get(r, "members"));
    json_decref(r);
    return m;
}

/* The table's fields, as swimctl asks for them. */
static json_t *table_fields(void)
{
    return json_pack("[s,s,s,s]", "name", "addr", "status", "tags");
}

/* Whole members cut down to `fields` (and tags_malformed with tags), in
 * the reply's order: what a request for those fields must answer. */
static json_t *cut_down(json_t *members, json_t *fields)
{
    json_t *out = json_array(), *m, *v, *f;
    size_t i, j;
    const char *key;
    json_array_foreach(members, i, m)
    {
        json_t *o = json_object();
        json_object_foreach(m, key, v)
        {
            int keep = 0;
            json_array_foreach(fields, j, f) keep |=
                strcmp(key, json_string_value(f)) == 0 ||
                (strcmp(key, "tags_malformed") == 0 && strcmp(json_string_value(f), "tags") == 0);
            if (keep)
                json_object_set(o, key, v);
        }
        json_array_append_new(out, o);
    }
    return out;
}

/* A request for the table's fields (twice: the second from n1's kept list)
 * and the whole reply cut down to them are the same bytes. */
static int fields_match_whole(struct harness_node *nd)
{
    json_t *fields = table_fields();
    json_t *a = members_of(nd, json_incref(fields));
    json_t *whole = members_of(nd, NULL);
    json_t *b = members_of(nd, json_incref(fields));
    json_t *cut = cut_down(whole, fields);
    char *da = json_dumps(a, JSON_COMPACT), *db = json_dumps(b, JSON_COMPACT);
    char *dc = json_dumps(cut, JSON_COMPACT);
    int same = a != NULL && da != NULL && db != NULL && dc != NULL && strcmp(da, db) == 0 &&
               strcmp(da, dc) == 0;
    if (!same)
        fprintf(stderr, "fields: %s\nagain:  %s\nwhole:  %s\n", da, db, dc);
    free(da);
    free(db);
    free(dc);
    json_decref(a);
    json_decref(b);
    json_decref(whole);
    json_decref(cut);
    json_decref(fields);
    return same;
}

/* name's status and tag `key` in nd's reply for the table's fields. */
static int table_shows(struct harness_node *nd, const char *name, const char *status,
                       const char *key, const char *value)
{
    json_t *ms = members_of(nd, table_fields()), *m;
    size_t i;
    int found = 0;
    json_array_foreach(ms, i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "name")), name) != 0)
            continue;
        const char *v = json_string_value(json_object_get(json_object_get(m, "tags"), key));
        found = strcmp(json_string_value(json_object_get(m, "status")), status) == 0 &&
                (key == NULL || (v != NULL && strcmp(v, value) == 0));
    }
    json_decref(ms);
    return found;
}

/* members answers only the fields a request names; the list it keeps for
 * such a request is sent again only while nothing in it has changed: a
 * tag changed here or on a peer, a member failed, a member joined each
 * show at once or as soon as this node learns of them, and every answer is
 * the whole reply cut down, byte for byte. */
START_TEST(membership_test_members_fields_and_kept_list)
{
    struct harness *h = harness_world();
    const char *tagged[] = {"--tag", "role=web", NULL};
    harness_start_cluster(h, 3, "127.0.0.1", tagged);
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_converged(h, 3, 3), HARNESS_CONVERGE_MS),
                  "no convergence: %s", harness_log_tail(&h->nodes[0]));
    struct harness_node *n1 = &h->nodes[0];
    ck_assert(HARNESS_WAIT_UNTIL(fields_match_whole(n1), HARNESS_CONVERGE_MS));

    /* Only the fields asked for, in the reply's order; none is {}. */
    json_t *ms = members_of(n1, json_pack("[s,s]", "rtt_ms", "name")), *m;
    size_t i;
    ck_assert_uint_eq(json_array_size(ms), 3);
    json_array_foreach(ms, i, m)
    {
        ck_assert_uint_eq(json_object_size(m), 2);
        ck_assert_str_eq(json_object_iter_key(json_object_iter(m)), "name");
        ck_assert_ptr_nonnull(json_object_get(m, "rtt_ms"));
    }
    json_decref(ms);
    ms = members_of(n1, json_array());
    json_array_foreach(ms, i, m) ck_assert_uint_eq(json_object_size(m), 0);
    json_decref(ms);
    json_t *r = harness_call(n1, json_pack("{s:s,s:[s]}", "cmd", "members", "fields", "nope"));
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r, "error")), "unknown field"));
    json_decref(r);
    r = harness_call(n1, json_pack("{s:s,s:s}", "cmd", "members", "fields", "name"));
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r, "error")), "array"));
    json_decref(r);

    /* This node's own tags: at once. */
    r = harness_call(n1, json_pack("{s:s,s:{s:s}}", "cmd", "tags-set", "tags", "role", "db"));
    ck_assert(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    ck_assert(table_shows(n1, "n1", "alive", "role", "db"));
    ck_assert(fields_match_whole(n1));

    /* A peer's tags: once they reach n1. */
    r = harness_call(&h->nodes[1],
                     json_pack("{s:s,s:{s:s}}", "cmd", "tags-set", "tags", "role", "cache"));
    json_decref(r);
    ck_assert_msg(
        HARNESS_WAIT_UNTIL(table_shows(n1, "n2", "alive", "role", "cache"), HARNESS_CONVERGE_MS),
        "n2's new tag not shown: %s", harness_log_tail(n1));
    ck_assert(HARNESS_WAIT_UNTIL(fields_match_whole(n1), HARNESS_CONVERGE_MS));

    /* A failure. */
    harness_signal(&h->nodes[2], SIGKILL);
    ck_assert_int_eq(harness_wait_exit(&h->nodes[2], 5000), 0);
    ck_assert_msg(HARNESS_WAIT_UNTIL(table_shows(n1, "n3", "failed", NULL, NULL),
                                     harness_detection_bound_ms(3)),
                  "n3 not failed in the table's fields: %s", harness_log_tail(n1));
    ck_assert(fields_match_whole(n1));

    /* A join. */
    harness_start_joiner(h, 3, "127.0.0.1", NULL);
    ck_assert_msg(
        HARNESS_WAIT_UNTIL(table_shows(n1, "n4", "alive", NULL, NULL), HARNESS_CONVERGE_MS),
        "n4 not shown: %s", harness_log_tail(n1));
    ck_assert(HARNESS_WAIT_UNTIL(fields_match_whole(n1), HARNESS_CONVERGE_MS));
}
END_TEST

/*
 * The members list gives this node first, then the others sorted by name,
 * whatever order the core's table is in (it reshuffles every probe round):
 * with five others, an unsorted table would pass by chance once in 120.
 */
START_TEST(membership_test_members_sorted_by_name)
{
    struct harness *h = harness_world();
    harness_start_cluster(h, 6, "127.0.0.1", NULL);
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_converged(h, 6, 6), HARNESS_CONVERGE_MS),
                  "no convergence: %s", harness_log_tail(&h->nodes[0]));
    for (size_t at = 0; at < 2; at++) {
        json_t *ms = members_of(&h->nodes[at], json_pack("[s]", "name"));
        ck_assert_uint_eq(json_array_size(ms), 6);
        char self[8];
        snprintf(self, sizeof(self), "n%zu", at + 1);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(ms, 0), "name")), self);
        for (size_t i = 2; i < json_array_size(ms); i++) {
            const char *a = json_string_value(json_object_get(json_array_get(ms, i - 1), "name"));
            const char *b = json_string_value(json_object_get(json_array_get(ms, i), "name"));
            ck_assert_msg(strcmp(a, b) < 0, "%s before %s in %s's list", a, b, self);
        }
        json_decref(ms);
    }
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
        {"members_fields", membership_test_members_fields_and_kept_list, 90},
        {"members_sorted", membership_test_members_sorted_by_name, 60},
    };
    return harness_run_cases("membership", cases, sizeof(cases) / sizeof(cases[0]));
}
