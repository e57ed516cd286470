/*
 * keys_it_test.c - integration: key rotation between real swimd processes
 * (`swimctl keys`, agent/cmd_keys.c over internal queries, agent/keyops.c),
 * each node persisting its own keyring file (tests/agent/agent_harness.h).
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

/* Start node i with its keyring, joining node `join` (itself: none). */
static void start_keyed_via(struct harness *h, size_t i, size_t join)
{
    char path[HARNESS_PATH_MAX];
    ring_path(h, i, path, sizeof(path));
    const char *args[] = {"--keyring", path, "--label", "it", "--join", h->nodes[join].addr, NULL};
    if (i == join)
        args[4] = NULL;
    harness_start_node(h, i, "127.0.0.1", args);
}

/* Start node i with its keyring (and --join node 1 unless it is node 1). */
static void start_keyed(struct harness *h, size_t i)
{
    start_keyed_via(h, i, 0);
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

/* Fresh keys K1 and K2 into k1, k2; then n nodes, each with its own
 * keyring holding K1, started and converged. */
static void start_sealed(struct harness *h, size_t n, char *k1, char *k2)
{
    ck_assert_int_eq(keyring_generate_base64(k1), 0);
    ck_assert_int_eq(keyring_generate_base64(k2), 0);
    for (size_t i = 0; i < n; i++) {
        write_ring(h, i, k1);
        start_keyed(h, i);
    }
    ck_assert(HARNESS_WAIT_UNTIL(harness_converged(h, n, (int)n), HARNESS_CONVERGE_MS));
}

/* Each node rotated on its own (--local), in step, keeps the pair
 * together; the files are rewritten (0600), so a restarted node comes back
 * with the new key; refusals and a plaintext node answer with clear
 * messages. */
START_TEST(keys_test_local_rotation_persists)
{
    struct harness *h = harness_world();
    char k1[KEYRING_B64_MAX], k2[KEYRING_B64_MAX];
    start_sealed(h, 2, k1, k2);

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
    const char *cluster[] = {"keys", "install", k2, NULL};
    ck_assert_int_eq(harness_run_ctl(h, &h->nodes[2], "plain2", cluster, &p), 1);
    err = harness_slurp(p.err);
    ck_assert_ptr_nonnull(strstr(err, "this cluster is not encrypted"));
    free(err);
}
END_TEST

/* swimctl --json keys ARGS on node i: the reply (new reference), and its
 * exit code in *rc. */
static json_t *keys_json(struct harness *h, size_t i, int *rc, const char *op, const char *key)
{
    char *out = NULL;
    *rc = keys(h, i, &out, "--json", op, key);
    json_t *reply = json_loads(out, 0, NULL);
    ck_assert_msg(reply != NULL, "keys %s on n%zu printed no JSON: %s", op, i + 1, out);
    free(out);
    return reply;
}

static long long jint(json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

/* keys list from node i: every one of n nodes answered and holds exactly
 * `key`, as its primary. */
static void assert_only_key(struct harness *h, size_t i, size_t n, const char *key)
{
    int rc;
    json_t *r = keys_json(h, i, &rc, "list", NULL);
    char *text = json_dumps(r, JSON_COMPACT);
    ck_assert_msg(rc == 0 && jint(r, "nodes") == (long long)n &&
                      jint(r, "succeeded") == (long long)n,
                  "list from n%zu: exit %d: %s", i + 1, rc, text);
    free(text);
    ck_assert_int_eq(json_object_size(json_object_get(r, "keys")), 1);
    ck_assert_int_eq(jint(json_object_get(r, "keys"), key), (long long)n);
    ck_assert_int_eq(jint(json_object_get(r, "primary"), key), (long long)n);
    json_decref(r);
}

/* The rotation: five sealed nodes go from K1 to K2 with one node
 * down during the first step (reported failed; it catches up with a second
 * install once back), then K1 is removed; a node with only K2 joins, one
 * with only K1 cannot; after a rolling restart every node still holds K2
 * and only K2.  Last, a stopped member is reported as not answering. */
START_TEST(keys_test_cluster_rotation)
{
    struct harness *h = harness_world();
    char k1[KEYRING_B64_MAX], k2[KEYRING_B64_MAX];
    start_sealed(h, 5, k1, k2);

    /* n5 goes down; install reaches the other four and names n5. */
    harness_signal(&h->nodes[4], SIGKILL);
    ck_assert_int_eq(harness_wait_exit(&h->nodes[4], 5000), 0);
    ck_assert(HARNESS_WAIT_UNTIL(harness_all_see(h, 4, 4, "n5", "failed"),
                                 harness_detection_bound_ms(5)));
    int rc;
    json_t *r = keys_json(h, 0, &rc, "install", k2);
    char *text = json_dumps(r, JSON_COMPACT);
    ck_assert_msg(rc == 1 && jint(r, "nodes") == 5 && jint(r, "succeeded") == 4,
                  "install with n5 down: exit %d: %s", rc, text);
    free(text);
    json_t *failed = json_object_get(r, "failed");
    ck_assert_int_eq(json_array_size(failed), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(failed, 0), "node")), "n5");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(failed, 0), "error")),
                     "member failed: not reached");
    json_decref(r);
    ck_assert(!file_holds(h, 4, k2));

    /* n5 comes back with only K1 (the cluster still seals with K1) and
     * catches up with the same install. */
    start_keyed(h, 4);
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_converged(h, 5, 5), HARNESS_CONVERGE_MS),
                  "n5 did not rejoin: %s", harness_log_tail(&h->nodes[4]));
    keys_ok(h, 0, "install", k2, NULL);
    ck_assert(file_holds(h, 4, k2));
    keys_ok(h, 1, "use", k2, NULL); /* any node may ask */
    keys_ok(h, 2, "remove", k1, NULL);
    assert_only_key(h, 3, 5, k2);
    ck_assert(harness_converged(h, 5, 5));

    /* The primary cannot go: every node says so. */
    r = keys_json(h, 0, &rc, "remove", k2);
    ck_assert_int_eq(rc, 1);
    ck_assert_int_eq(jint(r, "succeeded"), 0);
    ck_assert_int_eq(json_array_size(json_object_get(r, "failed")), 5);
    ck_assert_str_eq(json_string_value(
                         json_object_get(json_array_get(json_object_get(r, "failed"), 0), "error")),
                     "cannot remove the primary key: use another key first");
    json_decref(r);

    /* A new node with only K2 joins; one with only K1 cannot. */
    write_ring(h, 5, k2);
    start_keyed(h, 5);
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_converged(h, 6, 6), HARNESS_CONVERGE_MS),
                  "n6 (K2) did not join: %s", harness_log_tail(&h->nodes[5]));
    write_ring(h, 6, k1);
    start_keyed(h, 6);
    struct swim_config c = harness_local_profile();
    ck_assert(HARNESS_WAIT_UNTIL(harness_info_int(&h->nodes[6], "join_attempts") >= 4,
                                 10u * c.probe_interval_ms + HARNESS_SLACK_MS));
    ck_assert_msg(harness_count(&h->nodes[6], NULL) == 1, "n7 (K1) got in: %s",
                  harness_log_tail(&h->nodes[6]));
    ck_assert(harness_converged(h, 6, 6));
    harness_signal(&h->nodes[6], SIGKILL);
    ck_assert_int_eq(harness_wait_exit(&h->nodes[6], 5000), 0);

    /* A rolling restart: each node comes back from its rewritten file. */
    for (size_t i = 0; i < 5; i++) {
        harness_signal(&h->nodes[i], SIGKILL);
        ck_assert_int_eq(harness_wait_exit(&h->nodes[i], 5000), 0);
        start_keyed_via(h, i, 5);
        ck_assert_msg(HARNESS_WAIT_UNTIL(harness_converged(h, 6, 6), HARNESS_CONVERGE_MS),
                      "n%zu did not rejoin after its restart: %s", i + 1,
                      harness_log_tail(&h->nodes[i]));
    }
    assert_only_key(h, 0, 6, k2);

    /* A member alive when asked that never answers (stopped) is named,
     * once every round has passed. */
    harness_signal(&h->nodes[3], SIGSTOP);
    r = keys_json(h, 0, &rc, "list", NULL);
    harness_signal(&h->nodes[3], SIGCONT);
    text = json_dumps(r, JSON_COMPACT);
    ck_assert_msg(rc == 1 && jint(r, "nodes") == 6 && jint(r, "succeeded") == 5,
                  "list with n4 stopped: exit %d: %s", rc, text);
    free(text);
    failed = json_object_get(r, "failed");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(failed, 0), "node")), "n4");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(failed, 0), "error")),
                     "no response");
    ck_assert_int_eq(jint(json_object_get(r, "keys"), k2), 5);
    json_decref(r);
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"local_rotation", keys_test_local_rotation_persists, 60},
        {"cluster_rotation", keys_test_cluster_rotation, 120},
    };
    return harness_run_cases("keys_it", cases, sizeof(cases) / sizeof(cases[0]));
}
