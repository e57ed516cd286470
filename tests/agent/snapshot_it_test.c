/*
 * snapshot_it_test.c - integration: --snapshot on real swimd processes.  A
 * cluster stopped whole re-forms from its snapshots alone (no --join), each
 * node with a later generation; a corrupt snapshot is reported and replaced;
 * a FIFO, socket or device is refused and left alone; the largest
 * generation survives restarts (tests/agent/agent_harness.h).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "agent_harness.h"

START_TEST(snapshot_it_test_five_nodes_rejoin_from_snapshots)
{
    struct harness *h = harness_world();
    const size_t n = 5;
    struct swim_config c = harness_local_profile();
    char snaps[5][HARNESS_PATH_MAX], addrs[5][64];
    long long gen[5];
    for (size_t i = 0; i < n; i++) {
        snprintf(snaps[i], sizeof(snaps[i]), "%s/n%zu.snap", h->dir, i + 1);
        const char *extra[] = {"--snapshot", snaps[i], NULL};
        if (i == 0)
            harness_start_node(h, 0, "127.0.0.1", extra);
        else
            harness_start_joiner(h, i, "127.0.0.1", extra);
    }
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_converged(h, n, 5), HARNESS_CONVERGE_MS),
                  "no convergence: %s", harness_log_tail(&h->nodes[0]));
    for (size_t i = 0; i < n; i++) {
        json_t *info = harness_call(&h->nodes[i], json_pack("{s:s}", "cmd", "info"));
        gen[i] = (long long)json_integer_value(
            json_object_get(json_object_get(info, "self"), "generation"));
        json_decref(info);
        snprintf(addrs[i], sizeof(addrs[i]), "%s", h->nodes[i].addr);
    }
    for (size_t i = 0; i < n; i++)
        harness_signal(&h->nodes[i], SIGTERM);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(
            harness_wait_exit(&h->nodes[i], (int)(c.leave_linger_ms + 2000 + HARNESS_SLACK_MS)), 0);
    /* Restart every node on its old address, with its snapshot, no --join. */
    for (size_t i = 0; i < n; i++) {
        char bind[80];
        snprintf(bind, sizeof(bind), "--bind=%s", addrs[i]);
        const char *extra[] = {bind, "--snapshot", snaps[i], NULL};
        harness_start_node(h, i, "127.0.0.1", extra);
    }
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_converged(h, n, 5), HARNESS_CONVERGE_MS + 10000),
                  "no re-formed cluster: %s", harness_log_tail(&h->nodes[0]));
    for (size_t i = 0; i < n; i++) {
        json_t *info = harness_call(&h->nodes[i], json_pack("{s:s}", "cmd", "info"));
        long long g = (long long)json_integer_value(
            json_object_get(json_object_get(info, "self"), "generation"));
        json_decref(info);
        ck_assert_int_gt(g, gen[i]);
    }
}
END_TEST

START_TEST(snapshot_it_test_corrupt_snapshot_warns_and_starts)
{
    struct harness *h = harness_world();
    char snap[HARNESS_PATH_MAX];
    snprintf(snap, sizeof(snap), "%s/n1.snap", h->dir);
    harness_write_file(
        snap, "{\"version\": 1, \"name\": \"n1\", \"generation\": 17, \"members\": [{\"na");
    const char *extra[] = {"--snapshot", snap, NULL};
    harness_start_node(h, 0, "127.0.0.1", extra);
    ck_assert_msg(strstr(harness_log_tail(&h->nodes[0]), "ignoring snapshot") != NULL, "log: %s",
                  harness_log_tail(&h->nodes[0]));
    ck_assert_int_eq(harness_count(&h->nodes[0], NULL), 1);
    /* A fresh, valid snapshot replaces it. */
    ck_assert(HARNESS_WAIT_UNTIL(harness_count_in_file(snap, "\"name\": \"n1\"") == 1 &&
                                     harness_count_in_file(snap, "\"generation\": 17,") == 0,
                                 5000));
    json_t *doc = json_load_file(snap, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    json_decref(doc);
    /* A bad handler spec is a usage error, exit 2, before anything starts. */
    const char *bad[] = {"--event-handler", "member-jion=./x.sh", NULL};
    ck_assert_int_ne(harness_start(h, 1, NULL, "127.0.0.1", bad), 0);
    ck_assert(WIFEXITED(h->nodes[1].exit_status));
    ck_assert_int_eq(WEXITSTATUS(h->nodes[1].exit_status), 2);
    ck_assert_ptr_nonnull(strstr(harness_log_tail(&h->nodes[1]), "member-jion"));
}
END_TEST

/* Exit 2 at once, with the path left as it was. */
static void assert_refused_at_once(struct harness *h, size_t idx, const char *snap)
{
    const char *extra[] = {"--snapshot", snap, NULL};
    uint64_t t0 = clock_mono_ms();
    ck_assert_int_ne(harness_start(h, idx, NULL, "127.0.0.1", extra), 0);
    ck_assert_msg(WIFEXITED(h->nodes[idx].exit_status), "swimd did not exit (blocked?)");
    ck_assert_int_eq(WEXITSTATUS(h->nodes[idx].exit_status), 2);
    ck_assert_uint_lt(clock_mono_ms() - t0, 5000);
    ck_assert_msg(strstr(harness_log_tail(&h->nodes[idx]), "not a regular file") != NULL, "log: %s",
                  harness_log_tail(&h->nodes[idx]));
}

/* --snapshot at a FIFO used to hang start-up; at a socket or a device node
 * the first write replaced it with a regular file. */
START_TEST(snapshot_it_test_special_files_refused_and_untouched)
{
    struct harness *h = harness_world();
    char path[HARNESS_PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "%.60s/fifo", h->dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    assert_refused_at_once(h, 0, path);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISFIFO(st.st_mode));
    /* A running agent's control socket. */
    harness_start_node(h, 1, "127.0.0.1", NULL);
    assert_refused_at_once(h, 2, h->nodes[1].sock);
    ck_assert_int_eq(lstat(h->nodes[1].sock, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    ck_assert_int_eq(harness_count(&h->nodes[1], NULL), 1);
    if (geteuid() == 0) { /* a device node: a copy of /dev/null in our folder */
        snprintf(path, sizeof(path), "%.60s/null", h->dir);
        ck_assert_int_eq(mknod(path, S_IFCHR | 0600, makedev(1, 3)), 0);
        assert_refused_at_once(h, 3, path);
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert(S_ISCHR(st.st_mode));
    }
}
END_TEST

/* A generation at 2^63-1 is shown exactly, written exactly, and a restart
 * from it neither wraps negative nor rejects its own snapshot. */
START_TEST(snapshot_it_test_generation_ceiling)
{
    struct harness *h = harness_world();
    char snap[HARNESS_PATH_MAX];
    snprintf(snap, sizeof(snap), "%.60s/n1.snap", h->dir);
    harness_write_file(snap, "{\"version\": 1, \"name\": \"n1\", \"generation\": "
                             "9223372036854775806, \"incarnation\": 0, \"members\": []}");
    const char *extra[] = {"--snapshot", snap, NULL};
    for (int run = 0; run < 2; run++) {
        harness_start_node(h, 0, "127.0.0.1", extra);
        struct harness_node *nd = &h->nodes[0];
        json_t *info = harness_call(nd, json_pack("{s:s}", "cmd", "info"));
        ck_assert_ptr_nonnull(info);
        json_t *gen = json_object_get(json_object_get(info, "self"), "generation");
        /* The file's 2^63-2 is past what a node may start at: it starts at
         * SWIM_GENERATION_START_MAX (2^62), exact in JSON, never wrapped. */
        ck_assert_msg(json_is_integer(gen) &&
                          (uint64_t)json_integer_value(gen) == SWIM_GENERATION_START_MAX,
                      "run %d: generation %lld", run, (long long)json_integer_value(gen));
        json_decref(info);
        char *log = harness_slurp(nd->log);
        ck_assert_msg(strstr(log, "ignoring snapshot") == NULL, "log: %s", harness_log_tail(nd));
        free(log);
        harness_signal(nd, SIGTERM);
        ck_assert_int_eq(harness_wait_exit(nd, 10000), 0);
        ck_assert_int_eq(harness_count_in_file(snap, "\"generation\": 4611686018427387904"), 1);
        unlink(nd->log);
    }
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"rejoin", snapshot_it_test_five_nodes_rejoin_from_snapshots, 90},
        {"corrupt", snapshot_it_test_corrupt_snapshot_warns_and_starts, 30},
        {"special_files", snapshot_it_test_special_files_refused_and_untouched, 60},
        {"generation_ceiling", snapshot_it_test_generation_ceiling, 60},
    };
    return harness_run_cases("snapshot_it", cases, sizeof(cases) / sizeof(cases[0]));
}
