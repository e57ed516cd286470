/*
 * fault_bench.c - swimd under injected faults: 20 real lan agents per
 * scenario, each scenario in its own network namespace, all four in
 * parallel; then kill -9 detection at 100 and 50 agents (registered with
 * meson benchmark(); run it as root from a release build: scripts/faults).
 *
 * Prints one `name value unit` line per figure: fault_<scenario>_<figure>
 * (see tests/faults/fault_scenario.h for every figure) and
 * detect_kill9_n<N>_{first_suspect,all_failed}_ms_median.  Exits 77 (skip)
 * when not root, 1 when a measurement could not be made.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fault_detect.h"
#include "fault_runner.h"
#include "fault_scenario.h"

/* The figures are per 120 s of fault. */
#define BENCH_SECONDS 120
/* Medians of this many kill -9 runs. */
#define BENCH_RUNS 3
/* The most runs a median is taken over. */
#define BENCH_RUNS_MAX 15
/* meson's exit code for a skipped test or benchmark. */
#define BENCH_SKIP 77

/* The kill -9 measurements, by name. */
static const struct {
    const char *name;
    size_t nodes;
} bench_detect[] = {{"kill9_n100", 100}, {"kill9_n50", 50}};
#define BENCH_DETECTS (sizeof(bench_detect) / sizeof(bench_detect[0]))

static void usage(FILE *f)
{
    fprintf(f,
            "usage: fault_bench [--seconds S] [--scenario NAME]... [--runs R] [--help]\n"
            "  --seconds S    seconds of fault per scenario (default %d)\n"
            "  --scenario N   run only N (repeatable): loss10, loss25, ingress_cut,\n"
            "                 sigstop, faults (those four, in parallel), kill9_n100,\n"
            "                 kill9_n50, detect (both kill9), all (default)\n"
            "  --runs R       kill -9 runs per cluster size, median reported (default %d)\n"
            "Needs root (network namespaces, iptables) and SWIMD naming swimd.\n",
            BENCH_SECONDS, BENCH_RUNS);
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static double median(long long *v, size_t n)
{
    qsort(v, n, sizeof(v[0]), cmp_ll);
    return n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2.0;
}

/* `runs` kill -9 measurements at `nodes` agents; prints the medians.  0 or -1. */
static int bench_kill9(const char *name, size_t nodes, unsigned runs, const char *swimd)
{
    long long first[BENCH_RUNS_MAX], all[BENCH_RUNS_MAX];
    for (unsigned r = 0; r < runs; r++) {
        struct fault_detection d;
        if (!fault_detect_run(nodes, r, swimd, &d)) {
            fprintf(stderr, "fault_bench: %s run %u: %s\n", name, r + 1, d.status.error);
            return -1;
        }
        fprintf(stderr, "fault_bench: %s run %u: %s first suspect %lld ms, all failed %lld ms\n",
                name, r + 1, d.victim, d.first_suspect_ms, d.all_failed_ms);
        first[r] = d.first_suspect_ms;
        all[r] = d.all_failed_ms;
    }
    printf("detect_%s_first_suspect_ms_median %.0f ms\n", name, median(first, runs));
    printf("detect_%s_all_failed_ms_median %.0f ms\n", name, median(all, runs));
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"seconds", required_argument, NULL, 's'},
                                         {"scenario", required_argument, NULL, 'c'},
                                         {"runs", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    long seconds = BENCH_SECONDS, runs = BENCH_RUNS;
    int want_fault[8] = {0}, want_detect[BENCH_DETECTS] = {0}, any = 0, opt;
    size_t nfaults = fault_scenario_count();
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 's':
            seconds = strtol(optarg, NULL, 10);
            break;
        case 'r':
            runs = strtol(optarg, NULL, 10);
            break;
        case 'c': {
            int i = fault_scenario_find(optarg), all = strcmp(optarg, "all") == 0, known = i >= 0;
            if (i >= 0)
                want_fault[i] = 1;
            for (size_t k = 0; k < nfaults; k++)
                if (all || strcmp(optarg, "faults") == 0)
                    want_fault[k] = known = 1;
            for (size_t k = 0; k < BENCH_DETECTS; k++)
                if (all || strcmp(optarg, "detect") == 0 ||
                    strcmp(optarg, bench_detect[k].name) == 0)
                    want_detect[k] = known = 1;
            if (!known) {
                fprintf(stderr, "fault_bench: unknown scenario %s\n", optarg);
                usage(stderr);
                return 2;
            }
            any = 1;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || seconds < 1 || seconds > 3600 || runs < 1 || runs > BENCH_RUNS_MAX) {
        usage(stderr);
        return 2;
    }
    for (size_t k = 0; !any && k < nfaults; k++)
        want_fault[k] = 1;
    for (size_t k = 0; !any && k < BENCH_DETECTS; k++)
        want_detect[k] = 1;
    if (!fault_runner_privileged()) {
        fprintf(stderr, "fault_bench: skipped: needs root (network namespaces and iptables)\n");
        return BENCH_SKIP;
    }
    const char *swimd = fault_runner_swimd();
    if (swimd == NULL)
        return 2;

    int rc = 0;
    size_t which[8], n = 0;
    for (size_t k = 0; k < nfaults; k++)
        if (want_fault[k])
            which[n++] = k;
    if (n > 0) {
        struct fault_figures fg[8];
        if (fault_scenarios_run(which, n, (unsigned)seconds, swimd, fg) != n)
            rc = 1;
        for (size_t k = 0; k < n; k++)
            fault_figures_print(stdout, &fg[k]);
        if (n > 0 && fg[0].status.ok)
            fprintf(stderr, "fault_bench: accusations read from info \"%s\"\n",
                    fg[0].from_accusations ? "accusations" : "probe_failures");
        fflush(stdout);
    }
    for (size_t k = 0; k < BENCH_DETECTS; k++)
        if (want_detect[k] &&
            bench_kill9(bench_detect[k].name, bench_detect[k].nodes, (unsigned)runs, swimd) != 0)
            rc = 1;
    return rc;
}
