/*
 * latency.c - latency models for the simulated world, and how well the
 * nodes' network coordinates predict them.
 *
 * A model is only per-link delays (sim_set_delay), chosen once from the
 * world's PRNG, so a run with a model replays from its seed like any other.
 * The regions model (sim.h) is the one Vivaldi's height vector was made
 * for: sites far apart, and each host behind an access link of its own.
 */
#include <stdlib.h>

#include "sim.h"

/* One-way delays between regions A, B and C (ms). */
static const uint32_t sim_region_base_ms[SIM_REGIONS_MAX][SIM_REGIONS_MAX] = {
    {SIM_INTRA_MS, 20, 74},
    {20, SIM_INTRA_MS, 55},
    {74, 55, SIM_INTRA_MS},
};

int sim_latency_regions(struct sim *w, int regions)
{
    int n = sim_node_count(w);
    if (regions < 1 || regions > SIM_REGIONS_MAX)
        return ERR_INVAL;
    uint8_t *region = malloc(n > 0 ? (size_t)n : 1);
    uint8_t *access = malloc(n > 0 ? (size_t)n : 1);
    int rc = region != NULL && access != NULL ? 0 : ERR_NOMEM;
    for (int i = 0; rc == 0 && i < n; i++) {
        region[i] = (uint8_t)(sim_rand(w) % (uint64_t)regions);
        access[i] = (uint8_t)(sim_rand(w) % (SIM_ACCESS_MAX_MS + 1));
    }
    for (int i = 0; rc == 0 && i < n; i++)
        for (int j = 0; rc == 0 && j < n; j++)
            if (i != j)
                rc = sim_set_delay(
                    w, i, j, sim_region_base_ms[region[i]][region[j]] + access[i] + access[j], 0);
    free(region);
    free(access);
    return rc;
}

static int sim_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int sim_coord_error(const struct sim *w, struct sim_coord_error *out)
{
    int n = sim_node_count(w);
    size_t pairs = 0, cap = n > 1 ? (size_t)n * (size_t)(n - 1) / 2 : 0;
    double *err = cap > 0 ? malloc(cap * sizeof(*err)) : NULL;
    if (cap > 0 && err == NULL)
        return ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        struct swim_coord a, b;
        if (sim_swim(w, i) == NULL)
            continue;
        swim_coord_self(sim_swim(w, i), &a);
        for (int j = i + 1; j < n; j++) {
            if (sim_swim(w, j) == NULL)
                continue;
            swim_coord_self(sim_swim(w, j), &b);
            double truth = 1000.0 * (sim_delay(w, i, j) + sim_delay(w, j, i));
            if (truth <= 0)
                continue; /* a zero-delay link has no relative error */
            double est = (double)swim_coord_rtt_us(&a, &b);
            err[pairs++] = (est > truth ? est - truth : truth - est) / truth;
        }
    }
    if (pairs == 0) {
        free(err);
        return ERR_INVAL;
    }
    qsort(err, pairs, sizeof(*err), sim_cmp_double);
    out->pairs = pairs;
    out->median = err[pairs / 2];
    out->p90 = err[pairs * 9 / 10];
    out->max = err[pairs - 1];
    free(err);
    return 0;
}
