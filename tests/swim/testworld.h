/*
 * testworld.h - what the protocol tests (proto_test, fault_test) share: a
 * seeded world of lan nodes, the predicates their waiters use, the
 * protocol's timing bounds the windows derive from, and forged datagrams.
 *
 * Every test loops over tw_seed_count() seeds (tw_seed_at(i)); SIM_SEED
 * replays one, SIM_TRACE=1 prints every notification.  Helpers fail the
 * running Check test (naming the seed) instead of returning errors.
 */
#ifndef SWIMD_TESTWORLD_H
#define SWIMD_TESTWORLD_H

#include <stddef.h>
#include <stdint.h>

#include "sim_assert.h"
#include "swim.h"
#include "wire.h"

/* Seeds per test: enough to catch an unlucky interleaving, small enough to
 * keep the suites within seconds. */
#define TW_SEEDS 4

uint64_t tw_seed_at(int i);
int tw_seed_count(void);
/* A profile's config (fails the test for an unknown name). */
struct swim_config tw_profile(const char *name);
/* A world of n nodes named n0..n<n-1>, every one announced to node 0. */
struct sim *tw_world(uint64_t seed, int n, const struct swim_config *cfg);
/* Run until every node sees every other alive (fails after within_ms);
 * returns how long it took. */
uint64_t tw_converge(struct sim *w, uint64_t within_ms);

/* Predicates for sim_run_until_pred. */
struct tw_subject {
    int node;
    enum swim_status status;
};
int tw_pred_all_alive(struct sim *w, void *ctx); /* ctx unused */
int tw_pred_all_see(struct sim *w, void *ctx);   /* struct tw_subject */
int tw_pred_all_see_current_alive(struct sim *w, void *ctx);
/* Every running node sees the subject alive at the generation the subject
 * itself holds now. */
int tw_pred_all_see_self_alive(struct sim *w, void *ctx);

/* Lifeguard's shortest suspicion: mult * max(1, log10 N) * interval. */
uint64_t tw_suspicion_ms(const struct swim_config *c, int n);
/* How long after it began a probe is judged (probe_retry). */
uint64_t tw_judge_ms(const struct swim_config *c);
/* The shortest suspicion, reached with many confirmations (reprobe). */
uint64_t tw_floor_ms(const struct swim_config *c);

/* A datagram from node src of `type` with `items` copies of rec (NULL:
 * none) in buf; returns its length. */
size_t tw_forge(struct sim *w, uint8_t *buf, size_t cap, uint8_t type, uint8_t flags, int src,
                const struct wire_member *rec, int items);
/* Node x's own current record with status `status` (pointers into *self,
 * which the caller keeps). */
struct wire_member tw_self_record(struct sim *w, int x, struct swim_member_info *self,
                                  uint8_t status);

#endif /* SWIMD_TESTWORLD_H */
