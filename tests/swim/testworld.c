/*
 * testworld.c - the simulated worlds and forged datagrams the protocol
 * tests share; the model is in testworld.h.
 */
#include "testworld.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swim_int.h"

uint64_t tw_seed_at(int i)
{
    uint64_t env = sim_seed_from_env(0);
    return env != 0 ? env : 1000003ull * (uint64_t)(i + 1);
}

int tw_seed_count(void)
{
    return sim_seed_from_env(0) != 0 ? 1 : TW_SEEDS;
}

struct swim_config tw_profile(const char *name)
{
    struct swim_config c;
    ck_assert_int_eq(swim_config_profile(&c, name), 0);
    return c;
}

/* SIM_TRACE=1 prints every notification: the first tool when a seed fails. */
static void trace(void *ctx, struct sim *w, int node, const struct swim_notification *n,
                  uint64_t now)
{
    (void)ctx;
    const char *about = n->type == SWIM_EV_USER ? n->user.origin : n->member.name;
    fprintf(stderr, "%8llu %s: %s %s gen=%llu inc=%u\n", (unsigned long long)now, sim_name(w, node),
            swim_event_name(n->type), about ? about : "", (unsigned long long)n->member.generation,
            n->member.incarnation);
}

/* A world of n nodes named n0..n<n-1>, every one announced to node 0. */
struct sim *tw_world(uint64_t seed, int n, const struct swim_config *cfg)
{
    struct sim *w = sim_new(seed);
    ck_assert_ptr_nonnull(w);
    if (getenv("SIM_TRACE") != NULL)
        sim_set_observer(w, trace, NULL);
    ck_assert_int_eq(sim_add_nodes(w, n, "n", cfg), 0);
    ck_assert_int_eq(sim_announce_all(w, 0), 0);
    return w;
}

int tw_pred_all_alive(struct sim *w, void *ctx)
{
    (void)ctx;
    return sim_all_see_all(w, SWIM_ALIVE);
}

int tw_pred_all_see(struct sim *w, void *ctx)
{
    const struct tw_subject *s = ctx;
    return sim_all_see(w, s->status, s->node);
}

int tw_pred_all_see_current_alive(struct sim *w, void *ctx)
{
    const struct tw_subject *s = ctx;
    return sim_all_see_current(w, SWIM_ALIVE, s->node);
}

/* Every running node sees the subject alive at the generation the subject
 * itself holds now. */
int tw_pred_all_see_self_alive(struct sim *w, void *ctx)
{
    const struct tw_subject *s = ctx;
    struct swim_member_info self, mi;
    swim_self(sim_swim(w, s->node), &self);
    for (int k = 0; k < sim_node_count(w); k++)
        if (k != s->node && sim_running(w, k) &&
            (sim_member(w, k, s->node, &mi) != 0 || mi.status != SWIM_ALIVE ||
             mi.generation != self.generation))
            return 0;
    return 1;
}

uint64_t tw_converge(struct sim *w, uint64_t within_ms)
{
    uint64_t t0 = sim_now(w);
    uint64_t t = sim_run_until_pred(w, tw_pred_all_alive, NULL, t0 + within_ms);
    SIM_ASSERT(w, t != UINT64_MAX, "cluster of %d did not converge within %llu ms",
               sim_node_count(w), (unsigned long long)within_ms);
    return t - t0;
}

/* Suspicion timeout of the core: mult * max(1, log10 N) * interval. */
uint64_t tw_suspicion_ms(const struct swim_config *c, int n)
{
    double f = log10((double)n);
    return (uint64_t)(c->suspicion_mult * (f < 1.0 ? 1.0 : f) * c->probe_interval_ms);
}

/* How long after it began a probe is judged (probe_retry): the direct
 * timeout, then the helpers' window, min(timeout, interval - timeout). */
uint64_t tw_judge_ms(const struct swim_config *c)
{
    uint64_t w = c->probe_timeout_ms;
    if (c->probe_interval_ms - c->probe_timeout_ms < w)
        w = c->probe_interval_ms - c->probe_timeout_ms;
    return c->probe_timeout_ms + w;
}

/* The shortest suspicion, reached with many confirmations (reprobe). */
uint64_t tw_floor_ms(const struct swim_config *c)
{
    return (uint64_t)c->probe_interval_ms * SWIM_SUSPECT_FLOOR_PCT / 100;
}

/* Build a datagram from `src` (a node of the world) of `type` with `items`
 * copies of one member record; returns its length. */
size_t tw_forge(struct sim *w, uint8_t *buf, size_t cap, uint8_t type, uint8_t flags, int src,
                const struct wire_member *rec, int items)
{
    struct wire_header h;
    struct swim_addr a;
    uint8_t body[1400];
    memset(&h, 0, sizeof(h));
    h.type = type;
    h.flags = flags;
    h.src.ptr = sim_name(w, src);
    h.src.len = (uint8_t)strlen(sim_name(w, src));
    sim_addr(src, &a);
    h.src_addr.len = a.len;
    memcpy(h.src_addr.bytes, a.bytes, a.len);
    h.src_gen = sim_generation(w, src);
    uint8_t *p = buf, *b = body;
    ck_assert_int_eq(wire_encode_header(&p, buf + cap, &h), 0);
    if (rec != NULL) {
        ck_assert_int_eq(wire_encode_member(&b, body + sizeof(body), rec), 0);
        for (int i = 0; i < items; i++)
            ck_assert_int_eq(
                wire_encode_item(&p, buf + cap, WIRE_ITEM_MEMBER, body, (size_t)(b - body)), 0);
    }
    return (size_t)(p - buf);
}

/* Node x's own current record as a wire value, with status `status`
 * (pointers into *self, which the caller keeps). */
struct wire_member tw_self_record(struct sim *w, int x, struct swim_member_info *self,
                                  uint8_t status)
{
    struct wire_member r;
    swim_self(sim_swim(w, x), self);
    memset(&r, 0, sizeof(r));
    r.name.ptr = self->name;
    r.name.len = (uint8_t)strlen(self->name);
    r.addr.len = self->addr.len;
    memcpy(r.addr.bytes, self->addr.bytes, self->addr.len);
    r.gen = self->generation;
    r.inc = self->incarnation;
    r.status = status;
    return r;
}
