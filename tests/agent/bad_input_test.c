/*
 * bad_input_test.c - integration: hostile control clients (malformed,
 * oversized and pipelined lines, abrupt disconnects) and bad flags do not
 * disturb a running cluster or start a misconfigured node
 * (tests/agent/agent_harness.h).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "agent_harness.h"
#include "wire.h"

/* Socket timeouts of raw control clients. */
#define RAW_TIMEOUT_S 5

static void send_str(int fd, const char *s)
{
    harness_send_all(fd, s, strlen(s));
}

/* Read exactly `lines` response lines; returns how many contained "error". */
static int read_lines(int fd, int lines)
{
    static char buf[1 << 16];
    size_t len = 0;
    int got = 0, errors = 0;
    while (got < lines) {
        ssize_t r = recv(fd, buf + len, sizeof(buf) - len, 0);
        ck_assert_msg(r > 0, "recv after %d lines: %s", got, r == 0 ? "eof" : strerror(errno));
        len += (size_t)r;
        char *start = buf, *nl;
        while ((nl = memchr(start, '\n', len - (size_t)(start - buf))) != NULL) {
            *nl = '\0';
            if (strstr(start, "\"error\"") != NULL)
                errors++;
            got++;
            start = nl + 1;
        }
        len -= (size_t)(start - buf);
        memmove(buf, start, len);
    }
    return errors;
}

START_TEST(bad_input_test_bad_clients_do_not_disturb_members)
{
    struct harness *h = harness_world();
    harness_start_cluster(h, 2, "127.0.0.1", NULL);
    ck_assert(HARNESS_WAIT_UNTIL(harness_converged(h, 2, 2), HARNESS_CONVERGE_MS));
    struct harness_node *nd = &h->nodes[0];

    /* 1,000 malformed lines of every kind on one connection, pipelined. */
    static const char *const bad[] = {"garbage\n",
                                      "{\n",
                                      "[]\n",
                                      "{\"cmd\":42}\n",
                                      "{\"cmd\":\"nope\"}\n",
                                      "\n",
                                      "{\"cmd\":\"join\"}\n",
                                      "{\"cmd\":\"force-leave\",\"name\":\"ghost\"}\n",
                                      "{\"cmd\":\"tags-set\",\"tags\":{\"a=b\":\"c\"}}\n",
                                      "\xff\xfe\x00\x01\n"};
    int fd = harness_raw_client(nd, RAW_TIMEOUT_S);
    for (int i = 0; i < 1000; i++) {
        const char *l = bad[i % 10];
        size_t len = i % 10 == 9 ? 5 : strlen(l);
        harness_send_all(fd, l, len);
        if (i % 100 == 99)
            ck_assert_int_eq(read_lines(fd, 100), 100);
    }
    /* Oversized lines, then a good request on the same connection. */
    size_t big = 200 * 1024;
    char *junk = malloc(big);
    memset(junk, '{', big);
    for (int i = 0; i < 3; i++) {
        harness_send_all(fd, junk, big);
        send_str(fd, "\n");
        ck_assert_int_eq(read_lines(fd, 1), 1);
    }
    free(junk);
    send_str(fd, "{\"cmd\":\"members\"}\n");
    ck_assert_int_eq(read_lines(fd, 1), 0);
    close(fd);

    /* Abrupt disconnects: mid-line, mid-response, with unread answers. */
    for (int i = 0; i < 50; i++) {
        int c = harness_raw_client(nd, RAW_TIMEOUT_S);
        if (i % 3 == 0)
            send_str(c, "{\"cmd\":\"mem");
        else if (i % 3 == 1)
            for (int k = 0; k < 20; k++)
                send_str(c, "{\"cmd\":\"members\"}\n");
        close(c);
    }

    /* members still answers correctly, through the real swimctl too. */
    ck_assert_int_eq(harness_count(nd, "alive"), 2);
    const char *args[] = {"members", "--json", NULL};
    char *out = NULL;
    ck_assert_int_eq(harness_swimctl(h, nd, args, &out), 0);
    json_t *arr = json_loads(out, 0, NULL);
    ck_assert_msg(json_is_array(arr), "swimctl printed: %s", out);
    ck_assert_uint_eq(json_array_size(arr), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "name")), "n1");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 1), "status")), "alive");
    json_decref(arr);
    free(out);
    /* And the cluster did not notice: n2 still sees n1 alive. */
    ck_assert(harness_converged(h, 2, 2));
    ck_assert_int_eq(harness_info_int(nd, "decrypt_failures"), 0);
}
END_TEST

START_TEST(bad_input_test_bad_flags_exit_2_bad_keyring_exits_1)
{
    struct harness *h = harness_world();
    const char *extra[] = {"--bogus", NULL};
    ck_assert_int_ne(harness_start(h, 0, NULL, "127.0.0.1", extra), 0);
    ck_assert(WIFEXITED(h->nodes[0].exit_status));
    ck_assert_int_eq(WEXITSTATUS(h->nodes[0].exit_status), 2);
    ck_assert_ptr_nonnull(strstr(harness_log_tail(&h->nodes[0]), "unknown flag --bogus"));
    const char *kr[] = {"--keyring", "/nonexistent/keys", NULL};
    ck_assert_int_ne(harness_start(h, 1, NULL, "127.0.0.1", kr), 0);
    ck_assert(WIFEXITED(h->nodes[1].exit_status));
    ck_assert_int_eq(WEXITSTATUS(h->nodes[1].exit_status), 1);
    ck_assert_ptr_nonnull(strstr(harness_log_tail(&h->nodes[1]), "/nonexistent/keys"));
}
END_TEST

/* A GOSSIP datagram from "forger" carrying one member record and one user
 * event, encoded with placeholder names of the right length that are then
 * replaced by `member` and `event` (which no encoder would accept). */
static size_t forge(uint8_t *buf, size_t cap, const char *member, const char *event)
{
    char mname[WIRE_NAME_MAX + 1], ename[256];
    memset(mname, 'm', strlen(member));
    mname[strlen(member)] = '\0';
    memset(ename, 'e', strlen(event));
    ename[strlen(event)] = '\0';
    struct wire_header h = {.type = WIRE_GOSSIP, .src = {"forger", 6}, .src_gen = 1, .seq = 1};
    uint8_t a[] = {4, 127, 0, 0, 1, 0x1f, 0x40};
    h.src_addr.len = sizeof(a);
    memcpy(h.src_addr.bytes, a, sizeof(a));
    struct wire_member m = {.name = {mname, (uint8_t)strlen(mname)},
                            .addr = h.src_addr,
                            .gen = 1,
                            .status = WIRE_ALIVE};
    uint8_t payload[300];
    payload[0] = (uint8_t)strlen(ename);
    memcpy(payload + 1, ename, strlen(ename));
    memcpy(payload + 1 + strlen(ename), "x", 1);
    struct wire_user u = {.origin = {"forger", 6},
                          .origin_gen = 1,
                          .id = 1,
                          .len = (uint16_t)(2 + strlen(ename)),
                          .payload = payload};
    uint8_t body[512], *w = buf, *b = body;
    ck_assert_int_eq(wire_encode_header(&w, buf + cap, &h), 0);
    ck_assert_int_eq(wire_encode_member(&b, body + sizeof(body), &m), 0);
    ck_assert_int_eq(wire_encode_item(&w, buf + cap, WIRE_ITEM_MEMBER, body, (size_t)(b - body)),
                     0);
    b = body;
    ck_assert_int_eq(wire_encode_user(&b, body + sizeof(body), &u), 0);
    ck_assert_int_eq(wire_encode_item(&w, buf + cap, WIRE_ITEM_USER, body, (size_t)(b - body)), 0);
    size_t n = (size_t)(w - buf);
    uint8_t *p = memmem(buf, n, mname, strlen(mname));
    ck_assert_ptr_nonnull(p);
    memcpy(p, member, strlen(member));
    p = memmem(buf, n, ename, strlen(ename));
    ck_assert_ptr_nonnull(p);
    memcpy(p, event, strlen(event));
    return n;
}

static void send_udp(const char *to, const uint8_t *buf, size_t len)
{
    struct sockaddr_storage ss;
    size_t n = 0;
    ck_assert_int_eq(addr_resolve(to, -1, 1, &ss, 1, &n), 0);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&ss, sizeof(struct sockaddr_in)),
                     (ssize_t)len);
    close(fd);
}

/* Names with control bytes used to forge log lines and vanish from JSON;
 * now the decoder drops such a record and counts the datagram malformed,
 * and a user event whose name is not text is dropped too. */
START_TEST(bad_input_test_forged_names_never_reach_members_or_the_log)
{
    struct harness *h = harness_world();
    harness_start_node(h, 0, "127.0.0.1", NULL);
    struct harness_node *nd = &h->nodes[0];
    struct harness_proc watch;
    const char *wargs[] = {"watch", "--json", NULL};
    harness_spawn_ctl(h, &watch, nd, "watch", wargs);
    uint8_t dgram[1024];
    const char *forged[] = {"ev\n2024-05-01T00:00:00.000Z error fake-line", "\x1b[2J\x1b[31mred",
                            "\xff\xfe", "two words"};
    for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
        size_t n = forge(dgram, sizeof(dgram), forged[i], "deploy\n2024 error fake");
        send_udp(nd->addr, dgram, n);
    }
    ck_assert(HARNESS_WAIT_UNTIL(harness_info_int(nd, "malformed") >= 4, 5000));
    /* No forged record became a member (nor vanished into one). */
    ck_assert_int_eq(harness_count(nd, NULL), 1);
    char st[16];
    int dups = 0;
    char *log = harness_slurp(nd->log);
    ck_assert_msg(strstr(log, "\n2024-05-01T00:00:00.000Z error") == NULL, "forged line: %s", log);
    ck_assert_msg(strstr(log, "\n2024 error fake") == NULL, "forged line: %s", log);
    ck_assert_msg(strchr(log, '\x1b') == NULL, "raw escape in the log");
    free(log);
    /* The user events were dropped: no watcher saw one. */
    harness_kill_proc(&watch);
    char *seen = harness_slurp(watch.out);
    ck_assert_msg(strstr(seen, "\"user\"") == NULL, "watch saw: %s", seen);
    free(seen);
    /* A valid name with a valid event still arrives. */
    size_t n = forge(dgram, sizeof(dgram), "n-ok", "deploy");
    send_udp(nd->addr, dgram, n);
    ck_assert(HARNESS_WAIT_UNTIL(harness_status(nd, "n-ok", st, sizeof(st), &dups) != NULL, 5000));
}
END_TEST

/* --name must follow the name rule: exit 2 before anything starts. */
START_TEST(bad_input_test_bad_name_exits_2)
{
    struct harness *h = harness_world();
    const char *extra[] = {"--name", "ev\nerror fake-line", NULL};
    ck_assert_int_ne(harness_start(h, 0, NULL, "127.0.0.1", extra), 0);
    ck_assert(WIFEXITED(h->nodes[0].exit_status));
    ck_assert_int_eq(WEXITSTATUS(h->nodes[0].exit_status), 2);
}
END_TEST

/* join used to count 0.0.0.0:0, broadcast and multicast as announced. */
START_TEST(bad_input_test_join_counts_only_peer_addresses)
{
    struct harness *h = harness_world();
    harness_start_node(h, 0, "127.0.0.1", NULL);
    json_t *r = harness_call(&h->nodes[0],
                             json_pack("{s:s,s:[s,s,s,s]}", "cmd", "join", "addrs", "0.0.0.0:0",
                                       "255.255.255.255:7946", "224.0.0.1:7946", "127.0.0.1:0"));
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(json_object_get(r, "error") != NULL, "join answered %s",
                  json_dumps(r, JSON_COMPACT));
    json_decref(r);
    harness_start_node(h, 1, "127.0.0.1", NULL);
    r = harness_call(&h->nodes[0], json_pack("{s:s,s:[s,s]}", "cmd", "join", "addrs",
                                             "224.0.0.1:7946", h->nodes[1].addr));
    ck_assert_int_eq(json_integer_value(json_object_get(r, "announced")), 1);
    json_decref(r);
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"bad_clients", bad_input_test_bad_clients_do_not_disturb_members, 60},
        {"bad_clients", bad_input_test_bad_flags_exit_2_bad_keyring_exits_1, 60},
        {"bad_clients", bad_input_test_bad_name_exits_2, 60},
        {"bad_clients", bad_input_test_join_counts_only_peer_addresses, 60},
        {"forged_names", bad_input_test_forged_names_never_reach_members_or_the_log, 60},
    };
    return harness_run_cases("bad_input", cases, sizeof(cases) / sizeof(cases[0]));
}
