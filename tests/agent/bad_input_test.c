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
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_harness.h"

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

int main(void)
{
    const struct harness_case cases[] = {
        {"bad_clients", bad_input_test_bad_clients_do_not_disturb_members, 60},
        {"bad_clients", bad_input_test_bad_flags_exit_2_bad_keyring_exits_1, 60},
    };
    return harness_run_cases("bad_input", cases, sizeof(cases) / sizeof(cases[0]));
}
