/*
 * faults_test.c - swimd's accuracy under injected faults, CI-sized: the four
 * scenarios of fault_scenario.h for FAULTS_SECONDS (default 60) each, in
 * parallel, checked against the targets scaled to that duration.
 *
 * The targets live in one table below; every row is printed and asserted
 * (the first runs, before the core's accuracy work, missed six of them: see
 * tests/bench/RESULTS.md).  Needs root: exits 77 (meson's skip) otherwise.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_runner.h"
#include "fault_scenario.h"

/* The targets are per this much fault. */
#define FAULTS_TARGET_SECONDS 120.0
/* Fault per scenario unless FAULTS_SECONDS says otherwise.  Counts this
 * small are noisy: the stopped node's accusations came to 2, 3 and 6 in
 * three 30 s CI runs against a scaled target of 6 (7 to 12 on a loaded
 * machine), and 7 in 120 s in fault_bench; 60 s halves the noise that a
 * scaled target has to absorb, for 30 s more of CI. */
#define FAULTS_SECONDS 60
/* meson's exit code for a skipped test. */
#define FAULTS_SKIP 77

/* One target: figure <= max per FAULTS_TARGET_SECONDS (scaled) or in all. */
struct faults_target {
    const char *scenario;
    const char *figure; /* a fault_figures_get() name */
    double max;
    int scaled; /* a count that grows with the fault's duration */
};

static const struct faults_target faults_targets[] = {
    {"loss10", "accusations", 5, 1},
    {"loss10", "healthy_failed", 0, 0},
    {"loss25", "accusations", 80, 1},
    {"loss25", "healthy_failed", 0, 0},
    /* No healthy member declared failed anywhere, and the deaf node's own
     * suspicions never reach a verdict (it declares nobody failed). */
    {"ingress_cut", "healthy_failed", 0, 0},
    {"ingress_cut", "healthy_failed_by_target", 0, 0},
    /* A node stopped 1.5 s of every 2 s is never declared failed. */
    {"sigstop", "target_failed", 0, 0},
    {"sigstop", "healthy_failed", 0, 0},
    {"sigstop", "accusations_of_target", 22, 1},
};
#define FAULTS_TARGETS (sizeof(faults_targets) / sizeof(faults_targets[0]))

/* Filled once by faults_run() before the tests read it. */
static struct fault_figures faults_results[8];
static size_t faults_n;
static unsigned faults_seconds;

static void faults_run(void)
{
    const char *s = getenv("FAULTS_SECONDS");
    faults_seconds = s != NULL && atoi(s) > 0 ? (unsigned)atoi(s) : FAULTS_SECONDS;
    const char *swimd = fault_runner_swimd();
    size_t which[8];
    faults_n = fault_scenario_count();
    for (size_t i = 0; i < faults_n; i++)
        which[i] = i;
    if (swimd != NULL)
        fault_scenarios_run(which, faults_n, faults_seconds, swimd, faults_results);
    for (size_t i = 0; i < faults_n; i++)
        fault_figures_print(stdout, &faults_results[i]);
    fflush(stdout);
}

/* Check every target row of `scenario`. */
static void faults_check(const char *scenario)
{
    const struct fault_figures *fg = NULL;
    for (size_t i = 0; i < faults_n; i++)
        if (strcmp(faults_results[i].scenario, scenario) == 0)
            fg = &faults_results[i];
    ck_assert_msg(fg != NULL && fg->status.ok, "%s did not run: %s", scenario,
                  fg != NULL ? fg->status.error : "no result");
    for (size_t i = 0; i < FAULTS_TARGETS; i++) {
        const struct faults_target *t = &faults_targets[i];
        if (strcmp(t->scenario, scenario) != 0)
            continue;
        double v, allowed = t->max;
        ck_assert_msg(fault_figures_get(fg, t->figure, &v) == 0, "%s has no figure %s", scenario,
                      t->figure);
        if (t->scaled) /* rounded up: a count cannot be a fraction */
            allowed = ceil(t->max * fg->seconds / FAULTS_TARGET_SECONDS);
        int met = v <= allowed;
        printf("faults: %s %s = %.0f, target <= %.0f in %u s: %s\n", scenario, t->figure, v,
               allowed, fg->seconds, met ? "met" : "MISSED");
        fflush(stdout);
        ck_assert_msg(met, "%s: %s = %.0f, target <= %.0f in %u s", scenario, t->figure, v, allowed,
                      fg->seconds);
    }
}

START_TEST(faults_test_loss10_targets)
{
    faults_check("loss10");
}
END_TEST

START_TEST(faults_test_loss25_targets)
{
    faults_check("loss25");
}
END_TEST

START_TEST(faults_test_ingress_cut_targets)
{
    faults_check("ingress_cut");
}
END_TEST

START_TEST(faults_test_sigstop_targets)
{
    faults_check("sigstop");
}
END_TEST

int main(void)
{
    if (!fault_runner_privileged()) {
        printf("faults: skipped: needs root (network namespaces and iptables)\n");
        return FAULTS_SKIP;
    }
    Suite *s = suite_create("faults");
    TCase *tc = tcase_create("targets");
    /* Unchecked: runs once, in this process, before the tests fork. */
    tcase_add_unchecked_fixture(tc, faults_run, NULL);
    tcase_add_test(tc, faults_test_loss10_targets);
    tcase_add_test(tc, faults_test_loss25_targets);
    tcase_add_test(tc, faults_test_ingress_cut_targets);
    tcase_add_test(tc, faults_test_sigstop_targets);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
