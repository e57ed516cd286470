/*
 * encryption_test.c - integration: a sealed cluster keeps out a node with
 * the wrong key, a plaintext node and a node with the wrong label, and says
 * so in its counters and (rate-limited) log (tests/agent/agent_harness.h).
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_harness.h"
#include "keyring.h"
#include "wire.h"

/* Join attempts a shut-out node makes before the test looks (its backoff
 * puts them at 0, 1, 3 and 7 periods). */
#define ENCRYPTION_ATTEMPTS 4

static void write_keyring(const char *path, const char *key)
{
    char line[KEYRING_B64_MAX + 1];
    snprintf(line, sizeof(line), "%s\n", key);
    harness_write_file(path, line);
}

/* Every shut-out node (2..4) has tried ENCRYPTION_ATTEMPTS times. */
static int all_tried(struct harness *h)
{
    for (size_t i = 2; i < 5; i++)
        if (harness_info_int(&h->nodes[i], "join_attempts") < ENCRYPTION_ATTEMPTS)
            return 0;
    return 1;
}

START_TEST(encryption_test_wrong_key_and_plaintext_cannot_join)
{
    struct harness *h = harness_world();
    char k1[KEYRING_B64_MAX], k2[KEYRING_B64_MAX];
    char p1[HARNESS_PATH_MAX], p2[HARNESS_PATH_MAX];
    ck_assert_int_eq(keyring_generate_base64(k1), 0);
    ck_assert_int_eq(keyring_generate_base64(k2), 0);
    snprintf(p1, sizeof(p1), "%s/k1", h->dir);
    snprintf(p2, sizeof(p2), "%s/k2", h->dir);
    write_keyring(p1, k1);
    write_keyring(p2, k2);
    struct swim_config c = harness_local_profile();

    const char *good[] = {"--keyring", p1, "--label", "it", NULL};
    harness_start_cluster(h, 2, "127.0.0.1", good);
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_converged(h, 2, 2), HARNESS_CONVERGE_MS),
                  "encrypted pair did not converge: %s", harness_log_tail(&h->nodes[1]));

    const char *wrong_key[] = {"--keyring", p2, "--label", "it", "--join", h->nodes[0].addr, NULL};
    const char *plain[] = {"--join", h->nodes[0].addr, NULL};
    const char *wrong_label[] = {"--keyring",      p1,  "--label", "other", "--join",
                                 h->nodes[0].addr, NULL};
    harness_start_node(h, 2, "127.0.0.1", wrong_key);
    harness_start_node(h, 3, "127.0.0.1", plain);
    harness_start_node(h, 4, "127.0.0.1", wrong_label);

    /* All three keep announcing; node 1 must drop and count every try. */
    ck_assert(HARNESS_WAIT_UNTIL(harness_info_int(&h->nodes[0], "decrypt_failures") >= 3,
                                 10u * c.probe_interval_ms + HARNESS_SLACK_MS));
    /* Give them several join attempts to get in. */
    ck_assert(HARNESS_WAIT_UNTIL(all_tried(h), 10u * c.probe_interval_ms + HARNESS_SLACK_MS));
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(harness_count(&h->nodes[i], NULL), 2);
        char buf[16];
        int dups;
        ck_assert_ptr_null(harness_status(&h->nodes[i], "n3", buf, sizeof(buf), &dups));
        ck_assert_ptr_null(harness_status(&h->nodes[i], "n4", buf, sizeof(buf), &dups));
        ck_assert_ptr_null(harness_status(&h->nodes[i], "n5", buf, sizeof(buf), &dups));
    }
    for (size_t i = 2; i < 5; i++)
        ck_assert_msg(harness_count(&h->nodes[i], NULL) == 1, "n%zu got in: %s", i + 1,
                      harness_log_tail(&h->nodes[i]));
    ck_assert_int_ge(harness_info_int(&h->nodes[0], "decrypt_failures"), 3);
    /* Logged, but rate-limited: a few lines per 10 s window, however many
     * datagrams fail. */
    int lines = harness_count_in_file(h->nodes[0].log, "decrypt-failed");
    ck_assert_int_ge(lines, 1);
    ck_assert_int_le(lines, 15);
    /* The plaintext node sees sealed answers, if any, as malformed: never
     * as members.  The good pair still agrees. */
    ck_assert(harness_converged(h, 2, 2));
}
END_TEST

/* A GOSSIP from `name` carrying its own alive record, sealed with kr. */
static size_t sealed_gossip(struct keyring *kr, const char *name, uint8_t *out, size_t cap)
{
    struct wire_header hd;
    struct wire_member r;
    uint8_t dgram[512], body[256], *p = dgram, *b = body;
    memset(&hd, 0, sizeof(hd));
    memset(&r, 0, sizeof(r));
    hd.type = WIRE_GOSSIP;
    hd.src.ptr = name;
    hd.src.len = (uint8_t)strlen(name);
    hd.src_addr.len = 6;
    hd.src_addr.bytes[0] = 127;
    hd.src_addr.bytes[3] = 1;
    hd.src_addr.bytes[5] = 9; /* port 9: nobody answers there */
    hd.src_gen = 1;
    r.name = hd.src;
    r.addr = hd.src_addr;
    r.gen = 1;
    r.status = WIRE_ALIVE;
    ck_assert_int_eq(wire_encode_header(&p, dgram + sizeof(dgram), &hd), 0);
    ck_assert_int_eq(wire_encode_member(&b, body + sizeof(body), &r), 0);
    ck_assert_int_eq(
        wire_encode_item(&p, dgram + sizeof(dgram), WIRE_ITEM_MEMBER, body, (size_t)(b - body)), 0);
    size_t n = 0;
    ck_assert_int_eq(
        keyring_seal(kr, (const uint8_t *)"it", 2, dgram, (size_t)(p - dgram), out, cap, &n), 0);
    return n;
}

/* Send one datagram to a node's advertised IPv4 "HOST:PORT". */
static void send_udp(struct harness_node *nd, const uint8_t *data, size_t len)
{
    char host[64];
    snprintf(host, sizeof(host), "%s", nd->addr);
    char *colon = strrchr(host, ':');
    ck_assert_ptr_nonnull(colon);
    *colon = '\0';
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    ck_assert_int_eq(inet_pton(AF_INET, host, &sa.sin_addr), 1);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(sendto(fd, data, len, 0, (struct sockaddr *)&sa, sizeof(sa)), (ssize_t)len);
    close(fd);
}

static int sees(struct harness_node *nd, const char *name)
{
    char buf[16];
    int dups;
    return harness_status(nd, name, buf, sizeof(buf), &dups) != NULL;
}

/* A sealed datagram captured and sent again (twice at once, then after the
 * receiver restarted) changes nothing and is counted; fresh ones still
 * get in. */
START_TEST(encryption_test_replayed_datagrams_refused)
{
    struct harness *h = harness_world();
    char key[KEYRING_B64_MAX], path[HARNESS_PATH_MAX];
    ck_assert_int_eq(keyring_generate_base64(key), 0);
    snprintf(path, sizeof(path), "%s/k", h->dir);
    write_keyring(path, key);
    struct keyring *kr = keyring_new();
    ck_assert_ptr_nonnull(kr);
    ck_assert_int_eq(keyring_add_base64(kr, key), 0);
    const char *args[] = {"--keyring", path, "--label", "it", NULL};
    harness_start_node(h, 0, "127.0.0.1", args);
    struct harness_node *nd = &h->nodes[0];

    uint8_t captured[1024], fresh[1024];
    size_t n = sealed_gossip(kr, "ghost", captured, sizeof(captured));
    send_udp(nd, captured, n);
    ck_assert_msg(HARNESS_WAIT_UNTIL(sees(nd, "ghost"), 5000), "the first copy was not taken: %s",
                  harness_log_tail(nd));
    ck_assert_int_eq(harness_info_int(nd, "replays_refused"), 0);
    send_udp(nd, captured, n);
    send_udp(nd, captured, n);
    ck_assert(HARNESS_WAIT_UNTIL(harness_info_int(nd, "replays_refused") == 2, 5000));

    /* Restart the receiver on the same address: its windows are gone, but
     * the captured datagram was sealed before it started. */
    char bind[80];
    snprintf(bind, sizeof(bind), "--bind=%s", nd->addr);
    harness_signal(nd, SIGKILL);
    harness_wait_exit(nd, 5000);
    const char *again[] = {"--keyring", path, "--label", "it", bind, NULL};
    harness_start_node(h, 0, "127.0.0.1", again);
    send_udp(nd, captured, n);
    size_t m = sealed_gossip(kr, "ghost-2", fresh, sizeof(fresh));
    send_udp(nd, fresh, m);
    ck_assert_msg(HARNESS_WAIT_UNTIL(sees(nd, "ghost-2"), 5000),
                  "a fresh datagram was not taken: %s", harness_log_tail(nd));
    ck_assert(HARNESS_WAIT_UNTIL(harness_info_int(nd, "replays_refused") == 1, 5000));
    ck_assert_msg(!sees(nd, "ghost"), "the replay brought ghost back after the restart");
    keyring_delete(kr);
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"wrong_keys", encryption_test_wrong_key_and_plaintext_cannot_join, 60},
        {"replay_sealed", encryption_test_replayed_datagrams_refused, 60},
    };
    return harness_run_cases("encryption", cases, sizeof(cases) / sizeof(cases[0]));
}
