/*
 * handlers_it_test.c - integration: an --event-handler script on a real
 * swimd runs once per member-join, member-failed and member-leave, in
 * sequence order, with the documented environment and stdin
 * (tests/agent/agent_harness.h).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent_harness.h"

START_TEST(handlers_it_test_handler_sees_join_fail_leave_in_order)
{
    struct harness *h = harness_world();
    struct swim_config c = harness_local_profile();
    char script[HARNESS_PATH_MAX], out[HARNESS_PATH_MAX], spec[2 * HARNESS_PATH_MAX];
    snprintf(script, sizeof(script), "%s/h.sh", h->dir);
    snprintf(out, sizeof(out), "%s/h.out", h->dir);
    FILE *f = fopen(script, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "#!/bin/sh\n"
            "{ printf 'EVENT %%s %%s %%s %%s %%s\\n' \"$SWIM_EVENT\" \"$SWIM_SEQ\" "
            "\"$SWIM_SELF_NAME\" \"$SWIM_TAG_ROLE\" \"$SWIM_SELF_ADDR\"; "
            "sed 's/^/STDIN /'; } >> %s\n",
            out);
    fclose(f);
    chmod(script, 0700);
    snprintf(spec, sizeof(spec), "member-join,member-failed,member-leave=%s", script);
    const char *n1[] = {"--event-handler", spec, "--tag", "role=web", NULL};
    harness_start_node(h, 0, "127.0.0.1", n1);
    harness_start_joiner(h, 1, "127.0.0.1", NULL);
    harness_start_joiner(h, 2, "127.0.0.1", NULL);
    ck_assert(HARNESS_WAIT_UNTIL(harness_converged(h, 3, 3), HARNESS_CONVERGE_MS));
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_count_in_file(out, "EVENT member-join") == 2, 10000),
                  "joins not handled: %s", harness_log_tail(&h->nodes[0]));
    harness_signal(&h->nodes[2], SIGKILL);
    ck_assert_int_eq(harness_wait_exit(&h->nodes[2], 5000), 0);
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_count_in_file(out, "EVENT member-failed") == 1,
                                     harness_detection_bound_ms(3) + HARNESS_SLACK_MS),
                  "failure not handled: %s", harness_log_tail(&h->nodes[0]));
    harness_signal(&h->nodes[1], SIGTERM);
    ck_assert_int_eq(
        harness_wait_exit(&h->nodes[1], (int)(c.leave_linger_ms + 2000 + HARNESS_SLACK_MS)), 0);
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_count_in_file(out, "EVENT member-leave") == 1, 10000),
                  "leave not handled: %s", harness_log_tail(&h->nodes[0]));

    /* Exactly four runs, strictly increasing SWIM_SEQ, each with its member
     * line on stdin and the right environment. */
    char *text = harness_slurp(out);
    const char *want_type[] = {"member-join", "member-join", "member-failed", "member-leave"};
    uint64_t last = 0;
    int runs = 0;
    char *save = NULL;
    char joined[2][32] = {"", ""};
    for (char *l = strtok_r(text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        char type[32], self[32], role[32], addr[64];
        unsigned long long seq;
        if (strncmp(l, "EVENT ", 6) == 0) {
            ck_assert_int_lt(runs, 4);
            ck_assert_int_eq(
                sscanf(l, "EVENT %31s %llu %31s %31s %63s", type, &seq, self, role, addr), 5);
            ck_assert_str_eq(type, want_type[runs]);
            ck_assert_msg(seq > last, "SWIM_SEQ %llu after %llu", seq, (unsigned long long)last);
            last = seq;
            ck_assert_str_eq(self, "n1");
            ck_assert_str_eq(role, "web");
            ck_assert_str_eq(addr, h->nodes[0].addr);
            runs++;
        } else {
            char name[32], maddr[64], status[32];
            ck_assert_msg(sscanf(l, "STDIN %31[^\t]\t%63[^\t]\t%31[^\t\n]", name, maddr, status) ==
                              3,
                          "stdin line \"%s\"", l);
            ck_assert_int_ge(runs, 1);
            const char *want_status[] = {"alive", "alive", "failed", "left"};
            ck_assert_str_eq(status, want_status[runs - 1]);
            if (runs <= 2)
                snprintf(joined[runs - 1], sizeof(joined[0]), "%s", name);
            if (runs == 3)
                ck_assert_str_eq(name, "n3");
            if (runs == 4) {
                ck_assert_str_eq(name, "n2");
                ck_assert_str_eq(maddr, h->nodes[1].addr);
            }
        }
    }
    ck_assert_int_eq(runs, 4);
    ck_assert(strcmp(joined[0], joined[1]) != 0);
    free(text);
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"join_fail_leave", handlers_it_test_handler_sees_join_fail_leave_in_order, 90},
    };
    return harness_run_cases("handlers_it", cases, sizeof(cases) / sizeof(cases[0]));
}
