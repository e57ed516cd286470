/*
 * observe.h - what swimsim measures in a running world: who sees whom,
 * how fast crashes are detected, what was wrongly declared, and a sample of
 * all that per simulated second.
 *
 * Model: an observer is attached to one world (it takes the world's
 * notification observer) and keeps, for every ordered pair of nodes, the
 * status the first holds the second at (one byte per pair, so N^2 bytes:
 * 100 MB at 10,000 nodes), updated from the notifications as they happen.
 * From those it keeps counts that make "does node o see every running node
 * alive?" an O(1) question, and so the number of nodes with that full view
 * is always current; the first moment it equals the number of running
 * nodes is the convergence time.  Crashes go through obs_kill(), which
 * kills the node and starts the clock of its detection: each running
 * observer's FAILED (or LEFT) notification about it is one detection
 * latency.  A FAILED notification about a node that is running is a false
 * failure.  obs_sample() records one row of the time series; the caller
 * decides how often.
 *
 * Errors: obs_new returns NULL on out of memory; nothing else fails.
 * Prefix obs_; not thread-safe, like the world.
 */
#ifndef SWIMD_SIM_OBSERVE_H
#define SWIMD_SIM_OBSERVE_H

#include <stddef.h>
#include <stdint.h>

#include "sim.h"

/* One row of the time series: the state at `at`, counts since the row
 * before. */
struct obs_sample {
    uint64_t at;         /* virtual ms */
    int running;         /* nodes running */
    int full;            /* running nodes that see every running node alive */
    uint64_t suspicions; /* SUSPECT notifications since the previous row */
    uint64_t failures;   /* FAILED notifications since the previous row */
    uint64_t bytes;      /* bytes sent by every node since the previous row */
};

struct obs;

/* Attach to w, whose nodes must all exist already (nodes added later are
 * not observed).  NULL on out of memory. */
struct obs *obs_new(struct sim *w);
/* Detach from the world and free. */
void obs_delete(struct obs *o);

/* Kill node k now (sim_kill) and start the clock of its detection.
 * 0 or sim_kill's error. */
int obs_kill(struct obs *o, int k);
/* Append a row (see struct obs_sample); ERR_NOMEM when it cannot. */
int obs_sample(struct obs *o);

/* Everything measured so far.  Pointers stay valid until the next call
 * into the observer. */
struct obs_results {
    int running;           /* nodes running */
    int full;              /* of them, seeing every running node alive */
    uint64_t converged_at; /* the first time full == running, or UINT64_MAX */
    uint64_t suspicions;   /* SUSPECT notifications */
    uint64_t false_failures;
    const uint64_t *detect; /* detection latencies (ms), in the order they came */
    size_t n_detect;
    uint64_t undetected; /* (running observer, crashed node) pairs not declared (yet) */
    const struct obs_sample *samples;
    size_t n_samples;
};
void obs_results(const struct obs *o, struct obs_results *out);

#endif /* SWIMD_SIM_OBSERVE_H */
