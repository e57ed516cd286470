/*
 * encryption_test.c - integration: a sealed cluster keeps out a node with
 * the wrong key, a plaintext node and a node with the wrong label, and says
 * so in its counters and (rate-limited) log (tests/agent/agent_harness.h).
 */
#include <check.h>
#include <stdio.h>

#include "agent_harness.h"
#include "keyring.h"

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

int main(void)
{
    const struct harness_case cases[] = {
        {"wrong_keys", encryption_test_wrong_key_and_plaintext_cannot_join, 60},
    };
    return harness_run_cases("encryption", cases, sizeof(cases) / sizeof(cases[0]));
}
