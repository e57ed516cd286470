/*
 * coord_bench.c - how well network coordinates predict round trips, in the
 * simulated world: N lan nodes in three regions (sim_latency_regions: one
 * way 1..5 ms within a region, 20..78 ms between), announced to node 0,
 * then the relative error |estimate - truth| / truth of every pair's round
 * trip, from the two nodes' own coordinates, after each number of periods
 * listed.  Figures are medians (and 90th percentiles) over every pair and
 * SEEDS runs pooled by run: the worst run's median is printed too.
 *
 *   coord_n<N>_p<P>_median_rel_error   median over the runs of each run's median
 *   coord_n<N>_p<P>_worst_rel_error    the worst run's median
 *   coord_n<N>_p<P>_p90_rel_error      median over the runs of each run's p90
 *
 * Usage: coord_bench [seeds] [n]   (default 5 seeds, 100 nodes)
 */
#include <stdio.h>
#include <stdlib.h>

#include "sim.h"

#define SEEDS_DEFAULT 5
#define SEEDS_MAX 64
#define N_DEFAULT 100

static const int periods[] = {10, 30, 60, 120};
#define N_PERIODS (sizeof(periods) / sizeof(periods[0]))

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[n / 2];
}

int main(int argc, char **argv)
{
    int seeds = argc > 1 ? atoi(argv[1]) : SEEDS_DEFAULT;
    int n = argc > 2 ? atoi(argv[2]) : N_DEFAULT;
    static double med[N_PERIODS][SEEDS_MAX], p90[N_PERIODS][SEEDS_MAX];
    struct swim_config cfg;

    if (seeds < 1 || seeds > SEEDS_MAX || n < 2 || n > 5000 ||
        swim_config_profile(&cfg, "lan") != 0) {
        fprintf(stderr, "usage: coord_bench [seeds 1..%d] [n 2..5000]\n", SEEDS_MAX);
        return 2;
    }
    for (int r = 0; r < seeds; r++) {
        struct sim *w = sim_new(0xC00D0001ull + 7919ull * (uint64_t)r);
        if (w == NULL)
            return 1;
        sim_set_log_cap(w, 0);
        if (sim_add_nodes(w, n, "n", &cfg) != 0 || sim_latency_regions(w, 3) != 0 ||
            sim_announce_all(w, 0) != 0) {
            fprintf(stderr, "coord_bench: cannot build the world\n");
            return 1;
        }
        for (size_t k = 0; k < N_PERIODS; k++) {
            struct sim_coord_error e;
            sim_run_until(w, (uint64_t)periods[k] * cfg.probe_interval_ms);
            if (sim_coord_error(w, &e) != 0)
                return 1;
            med[k][r] = e.median;
            p90[k][r] = e.p90;
        }
        sim_delete(w);
    }
    for (size_t k = 0; k < N_PERIODS; k++) {
        double worst = 0;
        for (int r = 0; r < seeds; r++)
            worst = med[k][r] > worst ? med[k][r] : worst;
        printf("coord_n%d_p%d_median_rel_error %.3f ratio\n", n, periods[k], median(med[k], seeds));
        printf("coord_n%d_p%d_worst_rel_error %.3f ratio\n", n, periods[k], worst);
        printf("coord_n%d_p%d_p90_rel_error %.3f ratio\n", n, periods[k], median(p90[k], seeds));
    }
    return 0;
}
