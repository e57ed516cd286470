/*
 * keys_it_test.c - integration: key rotation between real swimd processes
 * (`swimctl keys`, agent/cmd_keys.c, agent/keyops.c), each node persisting
 * its own keyring file (tests/agent/agent_harness.h).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent_harness.h"
#include "keyring.h"

/* Node i's own keyring file (each node rewrites its own). */
static void ring_path(struct harness *h, size_t i, char *out, size_t cap)
{
    snprintf(out, cap, "%s/ring%zu", h->dir, i + 1);
}

static void write_ring(struct harness *h, size_t i, const char *key)
{
    char path[HARNESS_PATH_MAX], line[KEYRING_B64_MAX + 1];
    ring_path(h, i, path, sizeof(path));
    snprintf(line, sizeof(line), "%s\n", key);
    harness_write_file(path, line);
}

/* Start node i with its keyring (and --join node 1 unless it is node 1). */
static void start_keyed(struct harness *h, size_t i)
{
    char path[HARNESS_PATH_MAX];
    ring_path(h, i, path, sizeof(path));
    const char *args[] = {"--keyring", path, "--label", "it", NULL};
    if (i == 0)
        harness_start_node(h, 0, "127.0.0.1", args);
    else
        harness_start_joiner(h, i, "127.0.0.1", args);
}

/* swimctl keys ARGS... on node i: its exit code, its stdout in *out
 * (malloc'd; the caller frees). */
static int keys(struct harness *h, size_t i, char **out, const char *a1, const char *a2,
                const char *a3)
{
    const char *args[] = {"keys", a1, a2, a3, NULL};
    int rc = harness_swimctl(h, &h->nodes[i], args, out);
    ck_assert_msg(*out != NULL, "swimctl keys %s did not exit", a1);
    return rc;
}

/* Run swimctl keys and require it to succeed. */
static void keys_ok(struct harness *h, size_t i, const char *a1, const char *a2, const char *a3)
{
    char *out = NULL;
    int rc = keys(h, i, &out, a1, a2, a3);
    ck_assert_msg(rc == 0, "swimctl keys %s %s on n%zu: exit %d: %s", a1, a2, i + 1, rc, out);
    free(out);
}

/* Node i's keyring file holds key (as a line). */
static int file_holds(struct harness *h, size_t i, const char *key)
{
    char path[HARNESS_PATH_MAX];
    ring_path(h, i, path, sizeof(path));
    char *text = harness_slurp(path);
    int yes = strstr(text, key) != NULL;
    free(text);
    return yes;
}

/* Phase one of the feature: each node rotated on its own (--local), in
 * step, keeps the pair together; the files are rewritten (0600), so a
 * restarted node comes back with the new key; refusals and a plaintext
 * node answer with clear messages. */
START_TEST(keys_test_local_rotation_persists)
{
    struct harness *h = harness_world();
    char k1[KEYRING_B64_MAX], k2[KEYRING_B64_MAX];
    ck_assert_int_eq(keyring_generate_base64(k1), 0);
    ck_assert_int_eq(keyring_generate_base64(k2), 0);
    for (size_t i = 0; i < 2; i++) {
        write_ring(h, i, k1);
        start_keyed(h, i);
    }
    ck_assert(HARNESS_WAIT_UNTIL(harness_converged(h, 2, 2), HARNESS_CONVERGE_MS));

    const char *steps[][2] = {{"install", k2}, {"use", k2}, {"remove", k1}};
    for (size_t s = 0; s < 3; s++) {
        for (size_t i = 0; i < 2; i++)
            keys_ok(h, i, "--local", steps[s][0], steps[s][1]);
        ck_assert(harness_converged(h, 2, 2));
    }
    for (size_t i = 0; i < 2; i++) {
        ck_assert(file_holds(h, i, k2));
        ck_assert(!file_holds(h, i, k1));
        char path[HARNESS_PATH_MAX];
        struct stat st;
        ring_path(h, i, path, sizeof(path));
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0600);
    }
    char *out = NULL;
    ck_assert_int_eq(keys(h, 0, &out, "--local", "list", NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, k2));
    ck_assert_ptr_null(strstr(out, k1));
    ck_assert_ptr_nonnull(strstr(out, "keys list: 1 of 1 node(s) ok, 0 failed"));
    free(out);
    /* The primary cannot go; the reply names the node and why. */
    ck_assert_int_eq(keys(h, 0, &out, "--local", "remove", k2), 1);
    ck_assert_ptr_nonnull(
        strstr(out, "failed n1: cannot remove the primary key: use another key first"));
    free(out);

    /* n2 restarts from its rewritten file and rejoins. */
    harness_signal(&h->nodes[1], SIGKILL);
    ck_assert_int_eq(harness_wait_exit(&h->nodes[1], 5000), 0);
    start_keyed(h, 1);
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_converged(h, 2, 2), HARNESS_CONVERGE_MS),
                  "n2 did not rejoin with the rewritten keyring: %s",
                  harness_log_tail(&h->nodes[1]));
    ck_assert_int_eq(keys(h, 1, &out, "--local", "--json", "list"), 0);
    json_t *reply = json_loads(out, 0, NULL);
    ck_assert_ptr_nonnull(reply);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(reply, "primary"), k2)), 1);
    ck_assert_int_eq(json_object_size(json_object_get(reply, "keys")), 1);
    json_decref(reply);
    free(out);

    /* A plaintext node says so. */
    harness_start_node(h, 2, "127.0.0.1", NULL);
    const char *args[] = {"keys", "--local", "list", NULL};
    struct harness_proc p;
    ck_assert_int_eq(harness_run_ctl(h, &h->nodes[2], "plain", args, &p), 1);
    char *err = harness_slurp(p.err);
    ck_assert_ptr_nonnull(strstr(err, "this cluster is not encrypted"));
    free(err);
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"local_rotation", keys_test_local_rotation_persists, 60},
    };
    return harness_run_cases("keys_it", cases, sizeof(cases) / sizeof(cases[0]));
}
