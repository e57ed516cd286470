/*
 * simbench.h - what the benchmarks that run the protocol in the simulated
 * world (detect_bench, fault_bench, lifeguard_bench, rapid_bench) share.
 *
 * Model: a benchmark builds a converged world of lan nodes (sb_world), gives
 * every node a role (healthy, faulty, crashed), and lets a watcher count
 * the verdicts that matter: FAILED notifications about members that were
 * running when they were declared (false failures), split by whether the
 * subject was healthy or faulty, and, for faulty subjects, how often each
 * observer moved them out of or back into its view.  Figures are printed as
 * `name value unit` lines.  Nothing here is thread-safe; every run owns its
 * world and its watcher.
 */
#ifndef SWIMD_SIMBENCH_H
#define SWIMD_SIMBENCH_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"
#include "swim.h"

/* Roles of the nodes of a run. */
enum sb_role {
    SB_HEALTHY = 0,
    SB_FAULTY, /* running, but slow, paused, deaf or lossy */
    SB_CRASHED,
};

/* The configurations the benchmarks compare, all on lan timings:
 * "swim" (plain SWIM with memberlist's timeouts), "lha-probe",
 * "lha-suspicion", "buddy" (each Lifeguard part alone), "lifeguard" (all
 * three, memberlist's defaults), "swimd" (the lan profile).  0, or -1 for
 * an unknown name. */
int sb_preset(const char *name, struct swim_config *out);

/* A world of n nodes with config c, announced to node 0 and converged
 * within within_ms (exits the program otherwise); notification logs off. */
struct sim *sb_world(uint64_t seed, int n, const struct swim_config *c, uint64_t within_ms);

/* Split a comma-separated list (in place) into at most max items; returns
 * how many (for the benchmarks' command lines). */
int sb_split(char *list, char **out, int max);

/* The p-th percentile (0..100, nearest rank) of v[0..n); sorts v. */
uint64_t sb_percentile(uint64_t *v, size_t n, double p);

/* Counts verdicts; attach with sb_watch_start, free with sb_watch_free. */
struct sb_watch {
    int n;
    uint8_t *role;                     /* per node, enum sb_role; the benchmark keeps it current */
    uint64_t false_healthy;            /* FAILED about a running healthy member, any observer */
    uint64_t false_faulty;             /* FAILED about a running faulty member */
    uint64_t false_healthy_at_healthy; /* of false_healthy, declared by a healthy observer */
    uint64_t false_by_faulty;          /* FAILED (about anyone running) declared by a faulty node */
    uint64_t suspect_healthy;          /* SUSPECT notifications about healthy members */
    uint64_t suspect_faulty;
    /* Faulty subjects' place in each healthy observer's view (in: alive or
     * suspect; out: failed or left), and how often it flipped since
     * sb_watch_episode() last looked; flips_max is the most any one pair
     * (observer, faulty subject) flipped within one episode. */
    uint8_t *out;    /* n x n: observer * n + subject */
    uint16_t *flips; /* n x n */
    uint64_t flips_max, flips_total;
};

void sb_watch_start(struct sb_watch *wa, struct sim *w);
/* An episode ended: fold the flips counted since the last call into
 * flips_max and flips_total, and start counting again. */
void sb_watch_episode(struct sb_watch *wa);
void sb_watch_free(struct sb_watch *wa, struct sim *w);

/* Sum of one swim_stats field over every running node (off: its offset,
 * e.g. offsetof(struct swim_stats, accusations)); nodes with skip[i] set
 * are left out (skip may be NULL). */
uint64_t sb_stat_sum(const struct sim *w, size_t off, const uint8_t *skip);

/* Do the healthy running nodes all see every running node alive?  (A
 * predicate for sim_run_until_pred; ctx is the watcher.) */
int sb_pred_healthy_agree(struct sim *w, void *ctx);

#endif /* SWIMD_SIMBENCH_H */
