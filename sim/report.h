/*
 * report.h - what swimsim writes: one run's summary.json, timeseries.csv
 * and plots, and a sweep's table and plots.
 *
 * Model: the caller fills a plain struct with the run's configuration and
 * its measurements (observe.h) and names a folder; report_write_run()
 * writes, replacing files of the same names:
 *   summary.json     the configuration and the figures (jansson)
 *   timeseries.csv   one row per simulated second: running nodes, the
 *                    fraction with the full view, suspicions, failures and
 *                    bytes sent in that second
 *   convergence.svg  fraction of nodes with the full view over time
 *   detection.svg    cumulative distribution of crash detection latencies
 *   bytes.svg        bytes sent per running node per second over time
 * A sweep (one run per cluster size) adds sweep.csv, sweep.json and two
 * plots against N: bytes_vs_nodes.svg and convergence_vs_nodes.svg.
 *
 * Errors: 0, or ERR_IO / ERR_NOMEM with a message naming the file in err.
 */
#ifndef SWIMD_SIM_REPORT_H
#define SWIMD_SIM_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "observe.h"
#include "swim.h"

/* Echoed flags: the strings as the user gave them. */
struct report_strings {
    const char *const *v;
    size_t n;
};

struct report_run {
    /* configuration */
    int nodes;
    uint32_t periods;
    uint64_t seed;
    const char *profile;
    unsigned loss_pct;
    const char *latency; /* "uniform" or "regions" */
    /* With a latency model: the coordinates' relative error over every pair
     * at the end (sim_coord_error). */
    bool has_coord_error;
    double coord_error_median, coord_error_p90;
    struct swim_config cfg; /* the profile with every --protocol override */
    struct report_strings kills, partitions, slow;
    /* measurements */
    uint64_t duration_ms;      /* virtual time run */
    uint64_t converged_ms;     /* UINT64_MAX: never */
    const uint64_t *detect_ms; /* per (observer, crashed node) */
    size_t n_detect;
    uint64_t undetected;
    uint64_t false_failures;
    uint64_t suspicions;
    double bytes_per_node_per_s;     /* over the second half of the run */
    double bytes_per_node_per_s_all; /* over the whole run, the join included */
    double wall_s;
    long max_rss_kib;
    uint64_t events;
    const struct obs_sample *samples; /* every sample_ms, from the start */
    size_t n_samples;
    uint64_t sample_ms;
};

/* One line of a sweep. */
struct report_sweep_row {
    int nodes;
    uint64_t converged_ms; /* UINT64_MAX: never */
    double bytes_per_node_per_s;
    double bytes_per_node_per_s_all;
    uint64_t false_failures;
    double wall_s;
    long max_rss_kib;
};

/* The nearest-rank p-th percentile (0 < p <= 100) of v[0..n), which it
 * sorts; 0 when n is 0. */
uint64_t report_percentile(uint64_t *v, size_t n, double p);
int report_write_run(const char *dir, const struct report_run *r, char *err, size_t cap);
int report_write_sweep(const char *dir, const struct report_sweep_row *rows, size_t n,
                       const struct report_run *first, char *err, size_t cap);

#endif /* SWIMD_SIM_REPORT_H */
