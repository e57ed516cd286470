/*
 * agent_it_test.c - integration: real swimd processes on loopback, real UDP,
 * real libsodium and jansson, driven through their control sockets.
 *
 * Each tcase is one scenario and is run by meson on its own (CK_RUN_CASE),
 * so scenarios run in parallel.  Timing bounds come from the local profile
 * itself (swim_config_profile("local")), plus a fixed slack for a loaded,
 * sanitized build.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_harness.h"
#include "keyring.h"
#include "swim.h"
#include "wire.h"

/* Scheduling and sanitizer slack on top of every protocol-derived bound. */
#define SLACK_MS HARNESS_SLACK_MS
/* Socket timeouts of raw control clients. */
#define RAW_TIMEOUT_S 5
/* Convergence of a fresh loopback cluster: join, then a few gossip rounds. */
#define CONVERGE_MS 20000
/* Poll period of every wait. */
#define POLL_MS 50

static struct harness h;

static void setup(void)
{
    ck_assert_int_eq(harness_create(&h), 0);
}

static void teardown(void)
{
    harness_destroy(&h);
}

static struct swim_config local_profile(void)
{
    struct swim_config c;
    ck_assert_int_eq(swim_config_profile(&c, "local"), 0);
    return c;
}

/* Does every node in [0, n) except `skip` see `name` with `status` (and once)? */
static int all_see(size_t n, size_t skip, const char *name, const char *status)
{
    for (size_t i = 0; i < n; i++) {
        if (i == skip || h.nodes[i].pid == 0)
            continue;
        char buf[16];
        int dups;
        const char *st = harness_status(&h.nodes[i], name, buf, sizeof(buf), &dups);
        if (st == NULL || strcmp(st, status) != 0 || dups != 1)
            return 0;
    }
    return 1;
}

/* Every node in [0, n) lists exactly `want` members, all alive. */
static int converged(size_t n, int want)
{
    for (size_t i = 0; i < n; i++) {
        if (harness_count(&h.nodes[i], "alive") != want || harness_count(&h.nodes[i], NULL) != want)
            return 0;
    }
    return 1;
}

#define WAIT_UNTIL(cond, ms)                                                                       \
    ({                                                                                             \
        uint64_t deadline_ = harness_now_ms() + (ms);                                              \
        int ok_ = 0;                                                                               \
        while (!(ok_ = (cond)) && harness_now_ms() < deadline_)                                    \
            usleep(POLL_MS * 1000);                                                                \
        ok_;                                                                                       \
    })

static void start_node(size_t idx, const char *host, const char *const *extra)
{
    int rc = harness_start(&h, idx, NULL, host, extra);
    ck_assert_msg(rc == 0, "node %zu did not start: %s", idx + 1, harness_log_tail(&h.nodes[idx]));
}

/* Start n nodes on host, all joining node 1, with `common` extra arguments. */
static void start_cluster(size_t n, const char *host, const char *const *common)
{
    start_node(0, host, common);
    for (size_t i = 1; i < n; i++) {
        const char *extra[HARNESS_ARGS_MAX + 1];
        int k = 0;
        for (int j = 0; common != NULL && common[j] != NULL; j++)
            extra[k++] = common[j];
        extra[k++] = "--join";
        extra[k++] = h.nodes[0].addr;
        extra[k] = NULL;
        start_node(i, host, extra);
    }
}

START_TEST(agent_it_test_five_nodes_detect_kill_and_restart)
{
    const size_t n = 5;
    start_cluster(n, "127.0.0.1", NULL);
    ck_assert_msg(WAIT_UNTIL(converged(n, 5), CONVERGE_MS), "no convergence to 5 alive: %s",
                  harness_log_tail(&h.nodes[0]));

    /* kill -9 the last node: every other node must call it failed in time. */
    uint64_t bound = harness_detection_bound_ms(n);
    uint64_t t0 = harness_now_ms();
    harness_signal(&h.nodes[4], SIGKILL);
    ck_assert_int_eq(harness_wait_exit(&h.nodes[4], 5000), 0);
    int ok = WAIT_UNTIL(all_see(n, 4, "n5", "failed"), bound);
    uint64_t took = harness_now_ms() - t0;
    ck_assert_msg(ok, "n5 not failed everywhere within %llu ms: %s", (unsigned long long)bound,
                  harness_log_tail(&h.nodes[0]));
    fprintf(stderr, "detection took %llu ms (bound %llu ms)\n", (unsigned long long)took,
            (unsigned long long)bound);

    /* Restart under the same name and address (a new generation): alive
     * everywhere, listed once. */
    char bind[80];
    snprintf(bind, sizeof(bind), "--bind=%s", h.nodes[4].addr);
    const char *extra[] = {bind, "--join", h.nodes[0].addr, NULL};
    start_node(4, "127.0.0.1", extra);
    ck_assert_msg(WAIT_UNTIL(all_see(n, SIZE_MAX, "n5", "alive") && converged(n, 5), CONVERGE_MS),
                  "restarted n5 not alive everywhere without duplicates: %s",
                  harness_log_tail(&h.nodes[4]));
}
END_TEST

START_TEST(agent_it_test_sigterm_shows_left_everywhere)
{
    const size_t n = 3;
    struct swim_config c = local_profile();
    start_cluster(n, "127.0.0.1", NULL);
    ck_assert_msg(WAIT_UNTIL(converged(n, 3), CONVERGE_MS), "no convergence: %s",
                  harness_log_tail(&h.nodes[0]));
    harness_signal(&h.nodes[2], SIGTERM);
    /* swimd exits 0 once the leave has spread (bounded by the linger). */
    int exited = harness_wait_exit(&h.nodes[2], (int)(c.leave_linger_ms + 2000 + SLACK_MS));
    ck_assert_msg(exited == 0, "swimd did not exit after SIGTERM: %s",
                  harness_log_tail(&h.nodes[2]));
    ck_assert(WIFEXITED(h.nodes[2].exit_status));
    ck_assert_int_eq(WEXITSTATUS(h.nodes[2].exit_status), 0);
    ck_assert_msg(WAIT_UNTIL(all_see(n, 2, "n3", "left"), 5u * c.probe_interval_ms + SLACK_MS),
                  "n3 not left everywhere: %s", harness_log_tail(&h.nodes[0]));
}
END_TEST

static void write_keyring(const char *path, const char *key)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%s\n", key);
    fclose(f);
    chmod(path, 0600);
}

/* Lines of a node's log that contain `what`. */
static int log_lines(struct harness_node *nd, const char *what)
{
    FILE *f = fopen(nd->log, "r");
    char line[1024];
    int n = 0;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strstr(line, what) != NULL)
            n++;
    fclose(f);
    return n;
}

START_TEST(agent_it_test_wrong_key_and_plaintext_cannot_join)
{
    char k1[KEYRING_B64_MAX], k2[KEYRING_B64_MAX];
    char p1[HARNESS_PATH_MAX], p2[HARNESS_PATH_MAX];
    ck_assert_int_eq(keyring_generate_base64(k1), 0);
    ck_assert_int_eq(keyring_generate_base64(k2), 0);
    snprintf(p1, sizeof(p1), "%s/k1", h.dir);
    snprintf(p2, sizeof(p2), "%s/k2", h.dir);
    write_keyring(p1, k1);
    write_keyring(p2, k2);
    struct swim_config c = local_profile();

    const char *good[] = {"--keyring", p1, "--label", "it", NULL};
    start_cluster(2, "127.0.0.1", good);
    ck_assert_msg(WAIT_UNTIL(converged(2, 2), CONVERGE_MS), "encrypted pair did not converge: %s",
                  harness_log_tail(&h.nodes[1]));

    const char *wrong_key[] = {"--keyring", p2, "--label", "it", "--join", h.nodes[0].addr, NULL};
    const char *plain[] = {"--join", h.nodes[0].addr, NULL};
    const char *wrong_label[] = {"--keyring",     p1,  "--label", "other", "--join",
                                 h.nodes[0].addr, NULL};
    start_node(2, "127.0.0.1", wrong_key);
    start_node(3, "127.0.0.1", plain);
    start_node(4, "127.0.0.1", wrong_label);

    /* All three keep announcing; node 1 must drop and count every try. */
    ck_assert(WAIT_UNTIL(harness_info_int(&h.nodes[0], "decrypt_failures") >= 3,
                         10u * c.probe_interval_ms + SLACK_MS));
    /* Give them several join attempts and probe periods to get in. */
    usleep((useconds_t)(10u * c.probe_interval_ms) * 1000u);
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(harness_count(&h.nodes[i], NULL), 2);
        char buf[16];
        int dups;
        ck_assert_ptr_null(harness_status(&h.nodes[i], "n3", buf, sizeof(buf), &dups));
        ck_assert_ptr_null(harness_status(&h.nodes[i], "n4", buf, sizeof(buf), &dups));
        ck_assert_ptr_null(harness_status(&h.nodes[i], "n5", buf, sizeof(buf), &dups));
    }
    for (size_t i = 2; i < 5; i++)
        ck_assert_msg(harness_count(&h.nodes[i], NULL) == 1, "n%zu got in: %s", i + 1,
                      harness_log_tail(&h.nodes[i]));
    ck_assert_int_ge(harness_info_int(&h.nodes[0], "decrypt_failures"), 3);
    /* Logged, but rate-limited: a few lines per 10 s window, however many
     * datagrams fail. */
    int lines = log_lines(&h.nodes[0], "decrypt-failed");
    ck_assert_int_ge(lines, 1);
    ck_assert_int_le(lines, 15);
    /* The plaintext node sees sealed answers, if any, as malformed: never
     * as members.  The good pair still agrees. */
    ck_assert(converged(2, 2));
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
START_TEST(agent_it_test_replayed_datagrams_refused)
{
    char key[KEYRING_B64_MAX], path[HARNESS_PATH_MAX];
    ck_assert_int_eq(keyring_generate_base64(key), 0);
    snprintf(path, sizeof(path), "%s/k", h.dir);
    write_keyring(path, key);
    struct keyring *kr = keyring_new();
    ck_assert_ptr_nonnull(kr);
    ck_assert_int_eq(keyring_add_base64(kr, key), 0);
    const char *args[] = {"--keyring", path, "--label", "it", NULL};
    start_node(0, "127.0.0.1", args);
    struct harness_node *nd = &h.nodes[0];

    uint8_t captured[1024], fresh[1024];
    size_t n = sealed_gossip(kr, "ghost", captured, sizeof(captured));
    send_udp(nd, captured, n);
    ck_assert_msg(WAIT_UNTIL(sees(nd, "ghost"), 5000), "the first copy was not taken: %s",
                  harness_log_tail(nd));
    ck_assert_int_eq(harness_info_int(nd, "replays_refused"), 0);
    send_udp(nd, captured, n);
    send_udp(nd, captured, n);
    ck_assert(WAIT_UNTIL(harness_info_int(nd, "replays_refused") == 2, 5000));

    /* Restart the receiver on the same address: its windows are gone, but
     * the captured datagram was sealed before it started. */
    char bind[80];
    snprintf(bind, sizeof(bind), "--bind=%s", nd->addr);
    harness_signal(nd, SIGKILL);
    ck_assert_int_eq(harness_wait_exit(nd, 5000), 0);
    const char *again[] = {"--keyring", path, "--label", "it", bind, NULL};
    start_node(0, "127.0.0.1", again);
    send_udp(nd, captured, n);
    size_t m = sealed_gossip(kr, "ghost-2", fresh, sizeof(fresh));
    send_udp(nd, fresh, m);
    ck_assert_msg(WAIT_UNTIL(sees(nd, "ghost-2"), 5000), "a fresh datagram was not taken: %s",
                  harness_log_tail(nd));
    ck_assert(WAIT_UNTIL(harness_info_int(nd, "replays_refused") == 1, 5000));
    ck_assert_msg(!sees(nd, "ghost"), "the replay brought ghost back after the restart");
    keyring_delete(kr);
}
END_TEST

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

START_TEST(agent_it_test_bad_clients_do_not_disturb_members)
{
    start_cluster(2, "127.0.0.1", NULL);
    ck_assert(WAIT_UNTIL(converged(2, 2), CONVERGE_MS));
    struct harness_node *nd = &h.nodes[0];

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
    ck_assert_int_eq(harness_swimctl(&h, nd, args, &out), 0);
    json_t *arr = json_loads(out, 0, NULL);
    ck_assert_msg(json_is_array(arr), "swimctl printed: %s", out);
    ck_assert_uint_eq(json_array_size(arr), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 0), "name")), "n1");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(arr, 1), "status")), "alive");
    json_decref(arr);
    free(out);
    /* And the cluster did not notice: n2 still sees n1 alive. */
    ck_assert(converged(2, 2));
    ck_assert_int_eq(harness_info_int(nd, "decrypt_failures"), 0);
}
END_TEST

START_TEST(agent_it_test_bad_flags_exit_2_bad_keyring_exits_1)
{
    const char *extra[] = {"--bogus", NULL};
    ck_assert_int_ne(harness_start(&h, 0, NULL, "127.0.0.1", extra), 0);
    ck_assert(WIFEXITED(h.nodes[0].exit_status));
    ck_assert_int_eq(WEXITSTATUS(h.nodes[0].exit_status), 2);
    ck_assert_ptr_nonnull(strstr(harness_log_tail(&h.nodes[0]), "unknown flag --bogus"));
    const char *kr[] = {"--keyring", "/nonexistent/keys", NULL};
    ck_assert_int_ne(harness_start(&h, 1, NULL, "127.0.0.1", kr), 0);
    ck_assert(WIFEXITED(h.nodes[1].exit_status));
    ck_assert_int_eq(WEXITSTATUS(h.nodes[1].exit_status), 1);
    ck_assert_ptr_nonnull(strstr(harness_log_tail(&h.nodes[1]), "/nonexistent/keys"));
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

START_TEST(agent_it_test_join_retried_until_seed_appears)
{
    struct swim_config c = local_profile();
    char seed[32], bind[48];
    int port = free_udp_port();
    snprintf(seed, sizeof(seed), "127.0.0.1:%d", port);
    snprintf(bind, sizeof(bind), "--bind=%s", seed);
    /* n1 joins a seed that is not there yet ... */
    const char *joiner[] = {"--join", seed, NULL};
    start_node(0, "127.0.0.1", joiner);
    usleep((useconds_t)(2u * c.probe_interval_ms) * 1000u);
    ck_assert_int_eq(harness_count(&h.nodes[0], NULL), 1);
    /* ... which starts later: the retries (backoff 1, 2, 4 ... periods) find it. */
    const char *late[] = {bind, NULL};
    start_node(1, "127.0.0.1", late);
    ck_assert_msg(WAIT_UNTIL(converged(2, 2), 8u * c.probe_interval_ms + SLACK_MS),
                  "the join was not retried: %s", harness_log_tail(&h.nodes[0]));
}
END_TEST

/* The tags `nd` lists for member `name`, as "k=v,..." in buf, or NULL. */
static const char *tags_of(struct harness_node *nd, const char *name, char *buf, size_t cap)
{
    json_t *r = harness_call(nd, json_pack("{s:s}", "cmd", "members"));
    const char *found = NULL;
    size_t i;
    json_t *m;
    if (r == NULL)
        return NULL;
    json_array_foreach(json_object_get(r, "members"), i, m)
    {
        const char *n = json_string_value(json_object_get(m, "name"));
        if (n == NULL || strcmp(n, name) != 0)
            continue;
        char *text = json_dumps(json_object_get(m, "tags"), JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(buf, cap, "%s", text != NULL ? text : "");
        free(text);
        found = buf;
    }
    json_decref(r);
    return found;
}

static int has_tags(struct harness_node *nd, const char *name, const char *want)
{
    char buf[256];
    const char *t = tags_of(nd, name, buf, sizeof(buf));
    return t != NULL && strcmp(t, want) == 0;
}

START_TEST(agent_it_test_tags_spread_reload_and_events)
{
    struct swim_config c = local_profile();
    char conf[HARNESS_PATH_MAX];
    snprintf(conf, sizeof(conf), "%s/n1.json", h.dir);
    FILE *f = fopen(conf, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"tags\": {\"role\": \"web\"}}\n", f);
    fclose(f);
    const char *with_conf[] = {"--config", conf, "--tag", "dc=eu", NULL};
    start_node(0, "127.0.0.1", with_conf);
    const char *join[] = {"--join", h.nodes[0].addr, NULL};
    start_node(1, "127.0.0.1", join);
    uint64_t spread = 5u * c.probe_interval_ms + SLACK_MS;
    ck_assert(WAIT_UNTIL(converged(2, 2), CONVERGE_MS));
    ck_assert(WAIT_UNTIL(has_tags(&h.nodes[1], "n1", "{\"dc\":\"eu\",\"role\":\"web\"}"), spread));

    /* tags-set / tags-delete over the control socket reach the peer. */
    json_t *r = harness_call(&h.nodes[0],
                             json_pack("{s:s,s:{s:s}}", "cmd", "tags-set", "tags", "version", "2"));
    ck_assert(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    r = harness_call(&h.nodes[0], json_pack("{s:s,s:[s]}", "cmd", "tags-delete", "keys", "dc"));
    ck_assert(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    ck_assert(
        WAIT_UNTIL(has_tags(&h.nodes[1], "n1", "{\"role\":\"web\",\"version\":\"2\"}"), spread));

    /* SIGHUP: the file's new tags, with the --tag flag still on top. */
    f = fopen(conf, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"tags\": {\"role\": \"db\"}}\n", f);
    fclose(f);
    harness_signal(&h.nodes[0], SIGHUP);
    ck_assert_msg(
        WAIT_UNTIL(has_tags(&h.nodes[1], "n1", "{\"dc\":\"eu\",\"role\":\"db\"}"), spread),
        "reload not seen: %s", harness_log_tail(&h.nodes[0]));

    /* A user event reaches the other member once. */
    r = harness_call(&h.nodes[0],
                     json_pack("{s:s,s:s,s:s}", "cmd", "event", "name", "deploy", "payload", "v2"));
    ck_assert(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    ck_assert(WAIT_UNTIL(log_lines(&h.nodes[1], "user-event name=deploy from=n1") == 1, spread));
    usleep((useconds_t)(2u * c.probe_interval_ms) * 1000u);
    ck_assert_int_eq(log_lines(&h.nodes[1], "user-event name=deploy from=n1"), 1);
}
END_TEST

START_TEST(agent_it_test_ipv6_three_nodes_converge)
{
    start_cluster(3, "::1", NULL);
    ck_assert_msg(h.nodes[0].addr[0] == '[', "advertised %s", h.nodes[0].addr);
    ck_assert_msg(WAIT_UNTIL(converged(3, 3), CONVERGE_MS), "no IPv6 convergence: %s",
                  harness_log_tail(&h.nodes[0]));
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"failure_restart", agent_it_test_five_nodes_detect_kill_and_restart, 120},
        {"graceful_leave", agent_it_test_sigterm_shows_left_everywhere, 60},
        {"join_retry", agent_it_test_join_retried_until_seed_appears, 60},
        {"tags", agent_it_test_tags_spread_reload_and_events, 60},
        {"encryption", agent_it_test_wrong_key_and_plaintext_cannot_join, 60},
        {"replay_sealed", agent_it_test_replayed_datagrams_refused, 60},
        {"bad_clients", agent_it_test_bad_clients_do_not_disturb_members, 60},
        {"bad_clients", agent_it_test_bad_flags_exit_2_bad_keyring_exits_1, 60},
        {"ipv6", agent_it_test_ipv6_three_nodes_converge, 60},
    };
    return harness_run_cases("agent_it", cases, sizeof(cases) / sizeof(cases[0]), setup, teardown);
}
