/*
 * sim_test.c - Check suite for the simulated world itself (sim.h).
 *
 * The event queue is tested with scheduled callbacks alone; the network
 * with datagrams injected between idle nodes (marked, and followed through
 * the tap, so the instances' own traffic does not disturb the counts); the
 * lifecycle and determinism with real instances running the protocol.
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "sim_assert.h"

#define ST_SEED 0x51D0001ULL
/* Marks injected test datagrams; no swim datagram starts with 'S' (the
 * wire magic is 0xA7), so the instances drop them as malformed. */
static const uint8_t st_marker[] = "SIMTEST";

static struct swim_config st_config(void)
{
    struct swim_config cfg;
    ck_assert_int_eq(swim_config_profile(&cfg, "local"), 0);
    return cfg;
}

static struct sim *st_world(int nodes)
{
    struct sim *w = sim_new(sim_seed_from_env(ST_SEED));
    struct swim_config cfg = st_config();
    ck_assert_ptr_nonnull(w);
    if (nodes > 0)
        ck_assert_int_eq(sim_add_nodes(w, nodes, "n", &cfg), 0);
    return w;
}

/* --- the event queue ---------------------------------------------------- */

#define ST_HEAP_N 2000

struct st_order {
    uint64_t deadline[ST_HEAP_N];
    int label[ST_HEAP_N];
    int n;
    struct st_fired {
        uint64_t at;
        int label;
    } fired[ST_HEAP_N];
    int n_fired;
};

struct st_call {
    struct st_order *o;
    int label;
};

static void st_record(struct sim *w, void *ctx)
{
    struct st_call *c = ctx;
    struct st_order *o = c->o;
    ck_assert_int_lt(o->n_fired, ST_HEAP_N);
    o->fired[o->n_fired].at = sim_now(w);
    o->fired[o->n_fired].label = c->label;
    o->n_fired++;
}

/* Many events with few distinct deadlines (lots of ties), inserted in a
 * random order: they fire sorted by deadline, ties in insertion order. */
START_TEST(sim_test_heap_order_with_ties)
{
    struct sim *w = st_world(0);
    struct st_order *o = calloc(1, sizeof(*o));
    struct st_call *calls = calloc(ST_HEAP_N, sizeof(*calls));
    int i;

    ck_assert_ptr_nonnull(o);
    ck_assert_ptr_nonnull(calls);
    for (i = 0; i < ST_HEAP_N; i++) {
        uint64_t t = 100 + sim_rand(w) % 17;
        calls[i].o = o;
        calls[i].label = i;
        o->deadline[i] = t;
        ck_assert_int_eq(sim_call_at(w, t, st_record, &calls[i]), 0);
    }
    ck_assert_uint_eq(sim_events_pending(w), ST_HEAP_N);
    sim_run_until(w, 1000);
    ck_assert_int_eq(o->n_fired, ST_HEAP_N);
    ck_assert_uint_eq(sim_events_pending(w), 0);
    for (i = 0; i < ST_HEAP_N; i++) {
        const struct st_fired *f = &o->fired[i];
        ck_assert_uint_eq(f->at, o->deadline[f->label]);
        if (i > 0) {
            const struct st_fired *p = &o->fired[i - 1];
            ck_assert_msg(p->at < f->at || (p->at == f->at && p->label < f->label),
                          "event %d (t=%llu, #%d) after (t=%llu, #%d)", i,
                          (unsigned long long)f->at, f->label, (unsigned long long)p->at, p->label);
        }
    }
    ck_assert_uint_eq(sim_now(w), 1000);
    free(calls);
    free(o);
    sim_delete(w);
}
END_TEST

/* Events scheduled while running keep the same order rules: a callback
 * scheduling another at the same instant runs it after the ones already
 * queued for that instant. */
struct st_chain {
    struct st_order *o;
    struct st_call late;
};

static void st_chain_first(struct sim *w, void *ctx)
{
    struct st_chain *c = ctx;
    struct st_call first = {c->o, 0};
    st_record(w, &first);
    ck_assert_int_eq(sim_call_at(w, sim_now(w), st_record, &c->late), 0);
}

START_TEST(sim_test_heap_same_instant_reschedule)
{
    struct sim *w = st_world(0);
    struct st_order *o = calloc(1, sizeof(*o));
    struct st_chain chain;
    struct st_call second;

    ck_assert_ptr_nonnull(o);
    chain.o = o;
    chain.late.o = o;
    chain.late.label = 2;
    second.o = o;
    second.label = 1;
    ck_assert_int_eq(sim_call_at(w, 50, st_chain_first, &chain), 0);
    ck_assert_int_eq(sim_call_at(w, 50, st_record, &second), 0);
    sim_run_until(w, 50);
    ck_assert_int_eq(o->n_fired, 3);
    ck_assert_int_eq(o->fired[0].label, 0);
    ck_assert_int_eq(o->fired[1].label, 1);
    ck_assert_int_eq(o->fired[2].label, 2);
    ck_assert_uint_eq(o->fired[2].at, 50);
    free(o);
    sim_delete(w);
}
END_TEST

START_TEST(sim_test_run_moves_clock)
{
    struct sim *w = st_world(0);
    struct st_order *o = calloc(1, sizeof(*o));
    struct st_call c = {o, 7};

    ck_assert_uint_eq(sim_now(w), 0);
    sim_run_until(w, 300);
    ck_assert_uint_eq(sim_now(w), 300);
    sim_run_for(w, 200);
    ck_assert_uint_eq(sim_now(w), 500);
    sim_run_until(w, 100); /* the past: no-op */
    ck_assert_uint_eq(sim_now(w), 500);
    /* A deadline in the past means now. */
    ck_assert_int_eq(sim_call_at(w, 10, st_record, &c), 0);
    sim_run_for(w, 0);
    ck_assert_int_eq(o->n_fired, 1);
    ck_assert_uint_eq(o->fired[0].at, 500);
    /* An event past the end of a run stays queued. */
    ck_assert_int_eq(sim_call_at(w, 900, st_record, &c), 0);
    sim_run_until(w, 899);
    ck_assert_int_eq(o->n_fired, 1);
    sim_run_until(w, 900);
    ck_assert_int_eq(o->n_fired, 2);
    free(o);
    sim_delete(w);
}
END_TEST

static void st_set_flag(struct sim *w, void *ctx)
{
    (void)w;
    *(int *)ctx = 1;
}

static int st_flag_pred(struct sim *w, void *ctx)
{
    (void)w;
    return *(int *)ctx;
}

START_TEST(sim_test_pred_first_time)
{
    struct sim *w = st_world(0);
    int flag = 0;

    ck_assert_int_eq(sim_call_at(w, 250, st_set_flag, &flag), 0);
    ck_assert_uint_eq(sim_run_until_pred(w, st_flag_pred, &flag, 100), UINT64_MAX);
    ck_assert_uint_eq(sim_now(w), 100);
    ck_assert_uint_eq(sim_run_until_pred(w, st_flag_pred, &flag, 10000), 250);
    ck_assert_uint_eq(sim_now(w), 250);
    /* Already true: returns now without running anything. */
    ck_assert_uint_eq(sim_run_until_pred(w, st_flag_pred, &flag, 10000), 250);
    sim_delete(w);
}
END_TEST

static void st_spin(struct sim *w, void *ctx)
{
    ck_assert_int_eq(sim_call_at(w, sim_now(w), st_spin, ctx), 0);
}

/* A livelock (events that never let time pass) aborts instead of hanging. */
START_TEST(sim_test_event_limit_aborts)
{
    struct sim *w = st_world(0);
    sim_set_event_limit(w, 1000);
    ck_assert_int_eq(sim_call_at(w, 5, st_spin, NULL), 0);
    sim_run_for(w, 10);
    ck_abort_msg("the run should have aborted");
}
END_TEST

START_TEST(sim_test_failmsg_names_seed)
{
    struct sim *w = sim_new(424242);
    char buf[256];

    sim_run_until(w, 77);
    sim_failmsg_(w, buf, sizeof(buf), "x == 1", "x is %d", 2);
    ck_assert_str_eq(buf, "seed=424242 t=77ms: x == 1: x is 2");
    ck_assert_uint_eq(sim_seed(w), 424242);
    sim_delete(w);
}
END_TEST

START_TEST(sim_test_prng_is_seeded)
{
    struct sim *a = sim_new(1), *b = sim_new(1), *c = sim_new(2);
    int i, same_c = 0;
    for (i = 0; i < 100; i++) {
        uint64_t x = sim_rand(a);
        ck_assert_uint_eq(x, sim_rand(b));
        same_c += x == sim_rand(c);
    }
    ck_assert_int_lt(same_c, 2);
    sim_delete(a);
    sim_delete(b);
    sim_delete(c);
}
END_TEST

/* The world's stream is xoshiro256** seeded through splitmix64
 * (common/prng.h), so a seed printed by any version replays the same run.
 * Reference values from an independent implementation of both. */
START_TEST(sim_test_prng_replays_reference_stream)
{
    static const uint64_t want[2][3] = {
        {0x99ec5f36cb75f2b4ULL, 0xbf6e1f784956452aULL, 0x1a5f849d4933e6e0ULL},
        {0xc56a85f12cfcc5bdULL, 0x1d54845c218c1fefULL, 0x4b41a063d36acecbULL},
    };
    static const uint64_t seeds[2] = {0, ST_SEED};
    int i, j;
    for (i = 0; i < 2; i++) {
        struct sim *w = sim_new(seeds[i]);
        ck_assert_ptr_nonnull(w);
        for (j = 0; j < 3; j++)
            ck_assert_uint_eq(sim_rand(w), want[i][j]);
        sim_delete(w);
    }
}
END_TEST

/* Node names are indexed with 64-bit FNV-1a (common/hash.h), checked
 * against the published test vectors. */
START_TEST(sim_test_name_hash_is_fnv1a)
{
    ck_assert_uint_eq(hash_fnv1a(NULL, 0), 0xcbf29ce484222325ULL);
    ck_assert_uint_eq(hash_fnv1a("a", 1), 0xaf63dc4c8601ec8cULL);
    ck_assert_uint_eq(hash_fnv1a("foobar", 6), 0x85944171f73967e8ULL);
}
END_TEST

/* --- the network (injected, marked datagrams) ---------------------------- */

struct st_tap {
    int delivered[4][4], dropped[4][4];
    uint64_t sent_at, min_delay, max_delay;
};

static void st_tap_fn(void *ctx, struct sim *w, int from, int to, const uint8_t *data, size_t len,
                      int delivered)
{
    struct st_tap *t = ctx;
    uint64_t sent;
    if (len < sizeof(st_marker) + 8 || memcmp(data, st_marker, sizeof(st_marker)) != 0)
        return;
    if (from < 0 || from >= 4 || to < 0 || to >= 4)
        ck_abort_msg("marked datagram on a bad link %d -> %d", from, to);
    memcpy(&sent, data + sizeof(st_marker), 8);
    if (delivered) {
        uint64_t d = sim_now(w) - sent;
        t->delivered[from][to]++;
        if (d < t->min_delay)
            t->min_delay = d;
        if (d > t->max_delay)
            t->max_delay = d;
    } else {
        t->dropped[from][to]++;
    }
}

static struct sim *st_net_world(struct st_tap *t)
{
    struct sim *w = st_world(4);
    memset(t, 0, sizeof(*t));
    t->min_delay = UINT64_MAX;
    sim_set_tap(w, st_tap_fn, t);
    return w;
}

/* Inject n marked datagrams from -> to, stamped with the send time. */
static void st_send(struct sim *w, int from, int to, int n)
{
    uint8_t pkt[sizeof(st_marker) + 8];
    uint64_t now = sim_now(w);
    int i;
    memcpy(pkt, st_marker, sizeof(st_marker));
    memcpy(pkt + sizeof(st_marker), &now, 8);
    for (i = 0; i < n; i++)
        if (sim_inject(w, from, to, pkt, sizeof(pkt)) != 0)
            ck_abort_msg("inject %d -> %d failed", from, to);
}

START_TEST(sim_test_default_link_delivers_after_delay)
{
    struct st_tap t;
    struct sim *w = st_net_world(&t);
    struct sim_net_stats s0, s1;

    st_send(w, 0, 1, 10);
    sim_run_for(w, 100);
    ck_assert_int_eq(t.delivered[0][1], 10);
    ck_assert_int_eq(t.dropped[0][1], 0);
    ck_assert_uint_eq(t.min_delay, SIM_DEFAULT_DELAY_MS);
    ck_assert_uint_eq(t.max_delay, SIM_DEFAULT_DELAY_MS);
    sim_net_stats(w, 0, &s0);
    sim_net_stats(w, 1, &s1);
    ck_assert_uint_ge(s0.sent_packets, 10);
    ck_assert_uint_ge(s0.sent_bytes, 10 * (sizeof(st_marker) + 8));
    ck_assert_uint_ge(s1.recv_packets, 10);
    /* The instance saw them and dropped them as malformed. */
    {
        struct swim_stats st;
        swim_get_stats(sim_swim(w, 1), &st);
        ck_assert_uint_ge(st.malformed, 10);
    }
    sim_delete(w);
}
END_TEST

START_TEST(sim_test_loss_is_per_directed_link)
{
    struct st_tap t;
    struct sim *w = st_net_world(&t);
    int n = 4000;

    ck_assert_int_eq(sim_set_loss(w, 0, 1, 25), 0);
    ck_assert_int_eq(sim_set_loss(w, 0, 1, 101), ERR_INVAL);
    st_send(w, 0, 1, n);
    st_send(w, 1, 0, n);
    st_send(w, 0, 2, n);
    sim_run_for(w, 10);
    ck_assert_int_eq(t.delivered[0][1] + t.dropped[0][1], n);
    /* 25% of 4000: mean 1000, sd ~27; +-150 is > 5 sd. */
    ck_assert_msg(t.dropped[0][1] > 850 && t.dropped[0][1] < 1150, "dropped %d", t.dropped[0][1]);
    ck_assert_int_eq(t.delivered[1][0], n);
    ck_assert_int_eq(t.delivered[0][2], n);
    /* 100% drops everything; 0% nothing. */
    ck_assert_int_eq(sim_set_loss(w, 0, 1, 100), 0);
    memset(&t.delivered, 0, sizeof(t.delivered));
    memset(&t.dropped, 0, sizeof(t.dropped));
    st_send(w, 0, 1, 50);
    sim_run_for(w, 10);
    ck_assert_int_eq(t.dropped[0][1], 50);
    ck_assert_int_eq(sim_set_loss(w, 0, 1, 0), 0);
    st_send(w, 0, 1, 50);
    sim_run_for(w, 10);
    ck_assert_int_eq(t.delivered[0][1], 50);
    ck_assert_int_eq(t.dropped[0][1], 50);
    sim_delete(w);
}
END_TEST

START_TEST(sim_test_default_loss_applies_to_every_link)
{
    struct st_tap t;
    struct sim *w = st_net_world(&t);

    ck_assert_int_eq(sim_set_loss_default(w, 100), 0);
    ck_assert_int_eq(sim_set_loss(w, 2, 3, 0), 0); /* an override wins */
    st_send(w, 0, 1, 20);
    st_send(w, 3, 2, 20);
    st_send(w, 2, 3, 20);
    sim_run_for(w, 10);
    ck_assert_int_eq(t.dropped[0][1], 20);
    ck_assert_int_eq(t.dropped[3][2], 20);
    ck_assert_int_eq(t.delivered[2][3], 20);
    sim_delete(w);
}
END_TEST

START_TEST(sim_test_cut_is_one_way)
{
    struct st_tap t;
    struct sim *w = st_net_world(&t);
    struct sim_net_stats s0, s1;

    ck_assert_int_eq(sim_cut(w, 0, 1), 0);
    ck_assert(sim_link_is_down(w, 0, 1));
    ck_assert(!sim_link_is_down(w, 1, 0));
    st_send(w, 0, 1, 5);
    st_send(w, 1, 0, 5);
    sim_run_for(w, 10);
    ck_assert_int_eq(t.dropped[0][1], 5);
    ck_assert_int_eq(t.delivered[0][1], 0);
    ck_assert_int_eq(t.delivered[1][0], 5);
    sim_net_stats(w, 0, &s0);
    sim_net_stats(w, 1, &s1);
    ck_assert_uint_ge(s0.dropped_out_packets, 5);
    ck_assert_uint_ge(s1.dropped_in_packets, 5);
    ck_assert_int_eq(sim_uncut(w, 0, 1), 0);
    st_send(w, 0, 1, 5);
    sim_run_for(w, 10);
    ck_assert_int_eq(t.delivered[0][1], 5);
    sim_delete(w);
}
END_TEST

/* A cut made while a datagram is in flight swallows it. */
START_TEST(sim_test_cut_drops_in_flight)
{
    struct st_tap t;
    struct sim *w = st_net_world(&t);

    ck_assert_int_eq(sim_set_delay(w, 0, 1, 100, 0), 0);
    st_send(w, 0, 1, 3);
    sim_run_for(w, 50);
    ck_assert_int_eq(sim_cut(w, 0, 1), 0);
    sim_run_for(w, 100);
    ck_assert_int_eq(t.delivered[0][1], 0);
    ck_assert_int_eq(t.dropped[0][1], 3);
    sim_delete(w);
}
END_TEST

START_TEST(sim_test_block_drops_in_and_out)
{
    struct st_tap t;
    struct sim *w = st_net_world(&t);

    ck_assert_int_eq(sim_block(w, 1), 0);
    st_send(w, 0, 1, 4);
    st_send(w, 1, 0, 4);
    st_send(w, 1, 2, 4);
    st_send(w, 0, 2, 4);
    sim_run_for(w, 10);
    ck_assert_int_eq(t.dropped[0][1], 4);
    ck_assert_int_eq(t.dropped[1][0], 4);
    ck_assert_int_eq(t.dropped[1][2], 4);
    ck_assert_int_eq(t.delivered[0][2], 4);
    ck_assert_int_eq(sim_unblock(w, 1), 0);
    st_send(w, 0, 1, 4);
    sim_run_for(w, 10);
    ck_assert_int_eq(t.delivered[0][1], 4);
    ck_assert_int_eq(sim_block(w, 9), ERR_INVAL);
    sim_delete(w);
}
END_TEST

START_TEST(sim_test_partition_and_heal)
{
    struct st_tap t;
    struct sim *w = st_net_world(&t);
    const int groups[] = {0, 1, 0, 1};

    ck_assert_int_eq(sim_split(w, 2), 0);
    st_send(w, 0, 1, 1);
    st_send(w, 0, 2, 1);
    st_send(w, 3, 1, 1);
    st_send(w, 2, 3, 1);
    sim_run_for(w, 10);
    /* Groups {0, 1} and {2, 3}: inside a group passes, across is lost. */
    ck_assert_int_eq(t.delivered[0][1], 1);
    ck_assert_int_eq(t.delivered[2][3], 1);
    ck_assert_int_eq(t.dropped[0][2], 1);
    ck_assert_int_eq(t.dropped[3][1], 1);
    ck_assert_int_eq(sim_partition(w, groups, 4), 0);
    ck_assert(sim_link_is_down(w, 0, 1));
    ck_assert(!sim_link_is_down(w, 0, 2));
    ck_assert(!sim_link_is_down(w, 1, 3));
    ck_assert_int_eq(sim_cut(w, 2, 0), 0);
    sim_heal(w);
    ck_assert(!sim_link_is_down(w, 0, 1));
    ck_assert(!sim_link_is_down(w, 2, 0));
    ck_assert(!sim_link_is_down(w, 0, 3));
    st_send(w, 0, 2, 1);
    st_send(w, 2, 0, 1);
    sim_run_for(w, 10);
    ck_assert_int_eq(t.delivered[0][2], 1);
    ck_assert_int_eq(t.delivered[2][0], 1);
    sim_delete(w);
}
END_TEST

START_TEST(sim_test_delay_and_jitter_bounds)
{
    struct st_tap t;
    struct sim *w = st_net_world(&t);

    ck_assert_int_eq(sim_set_delay(w, 0, 1, 40, 20), 0);
    st_send(w, 0, 1, 500);
    sim_run_for(w, 39);
    ck_assert_int_eq(t.delivered[0][1], 0);
    sim_run_for(w, 100);
    ck_assert_int_eq(t.delivered[0][1], 500);
    ck_assert_uint_eq(t.min_delay, 40);
    ck_assert_uint_eq(t.max_delay, 60);
    sim_delete(w);
}
END_TEST

START_TEST(sim_test_kill_drops_datagrams_to_it)
{
    struct st_tap t;
    struct sim *w = st_net_world(&t);
    struct sim_net_stats s1;

    st_send(w, 0, 1, 3); /* in flight when 1 dies */
    ck_assert_int_eq(sim_kill(w, 1), 0);
    ck_assert_int_eq(sim_kill(w, 1), ERR_STATE);
    ck_assert_ptr_null(sim_swim(w, 1));
    st_send(w, 0, 1, 2);
    sim_run_for(w, 10);
    ck_assert_int_eq(t.dropped[0][1], 5);
    sim_net_stats(w, 1, &s1);
    ck_assert_uint_ge(s1.dropped_in_packets, 5);
    ck_assert_uint_eq(s1.recv_packets, 0);
    sim_delete(w);
}
END_TEST

/* --- faults of one node -------------------------------------------------- */

/* Node loss is per direction and adds to the link's. */
START_TEST(sim_test_node_loss_is_per_direction)
{
    struct st_tap t;
    struct sim *w = st_net_world(&t);
    int n = 4000;

    ck_assert_int_eq(sim_set_node_loss(w, 1, 50, 0), 0);
    ck_assert_int_eq(sim_set_node_loss(w, 1, 101, 0), ERR_INVAL);
    ck_assert_int_eq(sim_set_node_loss(w, 9, 0, 0), ERR_INVAL);
    st_send(w, 0, 1, n); /* into 1: 50% */
    st_send(w, 1, 0, n); /* out of 1: none */
    st_send(w, 2, 3, n);
    sim_run_for(w, 10);
    /* 50% of 4000: mean 2000, sd ~32; +-200 is > 6 sd. */
    ck_assert_msg(t.dropped[0][1] > 1800 && t.dropped[0][1] < 2200, "dropped %d", t.dropped[0][1]);
    ck_assert_int_eq(t.delivered[1][0], n);
    ck_assert_int_eq(t.delivered[2][3], n);
    /* Egress 100%, and a link loss on top of an ingress loss. */
    memset(&t.delivered, 0, sizeof(t.delivered));
    memset(&t.dropped, 0, sizeof(t.dropped));
    ck_assert_int_eq(sim_set_node_loss(w, 1, 0, 100), 0);
    ck_assert_int_eq(sim_set_node_loss(w, 3, 50, 0), 0);
    ck_assert_int_eq(sim_set_loss(w, 2, 3, 50), 0);
    st_send(w, 1, 0, 50);
    st_send(w, 0, 1, 50);
    st_send(w, 2, 3, n);
    sim_run_for(w, 10);
    ck_assert_int_eq(t.dropped[1][0], 50);
    ck_assert_int_eq(t.delivered[0][1], 50);
    /* Both must pass: 25% of 4000 delivered, sd ~27. */
    ck_assert_msg(t.delivered[2][3] > 850 && t.delivered[2][3] < 1150, "delivered %d",
                  t.delivered[2][3]);
    sim_delete(w);
}
END_TEST

/* A slow node handles what reached it late, in arrival order; the tap sees
 * it when it is handled. */
START_TEST(sim_test_slow_node_handles_late_in_order)
{
    struct st_tap t;
    struct sim *w = st_net_world(&t);

    ck_assert_int_eq(sim_set_slow(w, 1, 300, 0), 0);
    ck_assert_int_eq(sim_set_slow(w, 7, 300, 0), ERR_INVAL);
    st_send(w, 0, 1, 5);
    st_send(w, 0, 2, 5);
    sim_run_for(w, 300);
    ck_assert_int_eq(t.delivered[0][1], 0);
    ck_assert_int_eq(t.delivered[0][2], 5);
    /* A cut made now no longer swallows what already arrived. */
    ck_assert_int_eq(sim_cut(w, 0, 1), 0);
    sim_run_for(w, 10);
    ck_assert_int_eq(t.delivered[0][1], 5);
    ck_assert_uint_eq(t.max_delay, SIM_DEFAULT_DELAY_MS + 300);
    sim_uncut(w, 0, 1);
    /* With jitter, later arrivals never overtake earlier ones. */
    t.min_delay = UINT64_MAX;
    t.max_delay = 0;
    ck_assert_int_eq(sim_set_slow(w, 1, 100, 200), 0);
    for (int i = 0; i < 200; i++) {
        st_send(w, 0, 1, 1);
        sim_run_for(w, 2);
    }
    sim_run_for(w, 1000);
    ck_assert_int_eq(t.delivered[0][1], 205);
    ck_assert_uint_ge(t.min_delay, SIM_DEFAULT_DELAY_MS + 100);
    ck_assert_uint_le(t.max_delay, SIM_DEFAULT_DELAY_MS + 300 + 2 * 200);
    ck_assert_int_eq(sim_set_slow(w, 1, 0, 0), 0);
    t.min_delay = UINT64_MAX;
    st_send(w, 0, 1, 1);
    sim_run_for(w, 10);
    ck_assert_uint_eq(t.min_delay, SIM_DEFAULT_DELAY_MS);
    sim_delete(w);
}
END_TEST

struct st_pause {
    int order[8];
    int n;
};

static void st_pause_tap(void *ctx, struct sim *w, int from, int to, const uint8_t *data,
                         size_t len, int delivered)
{
    struct st_pause *p = ctx;
    (void)w, (void)from, (void)len;
    if (to == 1 && delivered && data[0] == 'P' && p->n < 8)
        p->order[p->n++] = data[1];
}

/* A paused node does nothing: its timers and datagrams wait for the end of
 * the pause, then run in the order they came due. */
START_TEST(sim_test_pause_holds_timers_and_datagrams)
{
    struct sim *w = st_world(3);
    struct st_pause p = {{0}, 0};
    struct swim_stats before, after;

    sim_set_tap(w, st_pause_tap, &p);
    ck_assert_int_eq(sim_announce_all(w, 0), 0);
    sim_run_for(w, 5000); /* every node has probed, its timers are running */
    swim_get_stats(sim_swim(w, 1), &before);
    ck_assert_int_eq(sim_pause(w, 1, 3000), 0);
    ck_assert(sim_paused(w, 1));
    ck_assert_int_eq(sim_pause(w, 1, 1000), 0); /* a shorter one does not cut it short */
    for (uint8_t i = 1; i <= 3; i++) {
        const uint8_t pkt[] = {'P', i};
        ck_assert_int_eq(sim_inject(w, 0, 1, pkt, sizeof(pkt)), 0);
        sim_run_for(w, 500);
    }
    sim_run_for(w, 1400); /* t+2,900: still paused */
    swim_get_stats(sim_swim(w, 1), &after);
    ck_assert_uint_eq(after.packets_in, before.packets_in);
    ck_assert_uint_eq(after.probes, before.probes);
    ck_assert_int_eq(p.n, 0);
    sim_run_for(w, 101);
    ck_assert(!sim_paused(w, 1));
    ck_assert_int_eq(p.n, 3);
    ck_assert_int_eq(p.order[0], 1);
    ck_assert_int_eq(p.order[2], 3);
    swim_get_stats(sim_swim(w, 1), &after);
    ck_assert_uint_gt(after.packets_in, before.packets_in + 3);
    sim_run_for(w, 2000);
    swim_get_stats(sim_swim(w, 1), &after);
    ck_assert_uint_gt(after.probes, before.probes); /* its timers run again */
    ck_assert_int_eq(sim_pause(w, 5, 10), ERR_INVAL);
    sim_delete(w);
}
END_TEST

/* A pause schedule stops the node for pause_ms of every every_ms, for as
 * long as asked; a new schedule replaces the old one. */
START_TEST(sim_test_pause_every_repeats_then_ends)
{
    struct sim *w = st_world(2);
    int paused = 0, running = 0;

    ck_assert_int_eq(sim_pause_every(w, 1, 2000, 2000, 10000), ERR_INVAL);
    ck_assert_int_eq(sim_pause_every(w, 1, 1500, 2000, 10000), 0);
    /* Sample every 100 ms for 10 s: paused 15 of every 20 samples. */
    for (int i = 0; i < 100; i++) {
        if (sim_paused(w, 1))
            paused++;
        else
            running++;
        sim_run_for(w, 100);
    }
    ck_assert_int_eq(paused, 75);
    ck_assert_int_eq(running, 25);
    sim_run_for(w, 2000); /* the schedule ended */
    ck_assert(!sim_paused(w, 1));
    ck_assert_int_eq(sim_pause_every(w, 1, 500, 1000, 5000), 0);
    ck_assert(sim_paused(w, 1));
    ck_assert_int_eq(sim_pause_every(w, 1, 100, 1000, 0), 0); /* ends it */
    sim_run_for(w, 5000);
    ck_assert(!sim_paused(w, 1));
    sim_delete(w);
}
END_TEST

/* Reachable only from some peers: the others' datagrams to it are lost,
 * its own go everywhere. */
START_TEST(sim_test_reachable_only_from_some_peers)
{
    struct st_tap t;
    struct sim *w = st_net_world(&t);
    const int peers[] = {2};

    ck_assert_int_eq(sim_reachable_only_from(w, 1, peers, 1), 0);
    ck_assert_int_eq(sim_reachable_only_from(w, 1, (const int[]){9}, 1), ERR_INVAL);
    ck_assert(sim_link_is_down(w, 0, 1));
    ck_assert(sim_link_is_down(w, 3, 1));
    ck_assert(!sim_link_is_down(w, 2, 1));
    ck_assert(!sim_link_is_down(w, 1, 0));
    st_send(w, 0, 1, 3);
    st_send(w, 2, 1, 3);
    st_send(w, 1, 3, 3);
    sim_run_for(w, 10);
    ck_assert_int_eq(t.dropped[0][1], 3);
    ck_assert_int_eq(t.delivered[2][1], 3);
    ck_assert_int_eq(t.delivered[1][3], 3);
    ck_assert_int_eq(sim_uncut(w, -1, 1), 0);
    ck_assert(!sim_link_is_down(w, 0, 1));
    sim_delete(w);
}
END_TEST

/* --- nodes ------------------------------------------------------------------- */

START_TEST(sim_test_add_node_rejects_bad_names)
{
    struct sim *w = st_world(1);
    struct swim_config cfg = st_config();
    char long_name[SWIM_NAME_MAX + 2];

    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    ck_assert_int_eq(sim_add_node(w, "n0", &cfg), ERR_EXISTS);
    ck_assert_int_eq(sim_add_node(w, "", &cfg), ERR_INVAL);
    ck_assert_int_eq(sim_add_node(w, long_name, &cfg), ERR_INVAL);
    long_name[SWIM_NAME_MAX] = '\0';
    ck_assert_int_eq(sim_add_node(w, long_name, &cfg), 1);
    ck_assert_int_eq(sim_node_by_name(w, long_name), 1);
    ck_assert_int_eq(sim_node_by_name(w, "n0"), 0);
    ck_assert_int_eq(sim_node_by_name(w, "nope"), -1);
    ck_assert_int_eq(sim_node_count(w), 2);
    cfg.probe_interval_ms = 0;
    ck_assert_int_lt(sim_add_node(w, "bad-config", &cfg), 0);
    ck_assert_int_eq(sim_node_count(w), 2);
    ck_assert_int_eq(sim_node_by_name(w, "bad-config"), -1);
    cfg = st_config();
    ck_assert_int_eq(sim_add_node(w, "after", &cfg), 2);
    sim_delete(w);
}
END_TEST

START_TEST(sim_test_many_names_resolve)
{
    struct sim *w = st_world(300);
    int i;
    for (i = 0; i < 300; i++)
        ck_assert_int_eq(sim_node_by_name(w, sim_name(w, i)), i);
    sim_delete(w);
}
END_TEST

static int st_all_alive(struct sim *w, void *ctx)
{
    (void)ctx;
    return sim_all_see_all(w, SWIM_ALIVE);
}

struct st_obs {
    uint64_t count[SWIM_EV_LAST + 1];
};

static void st_observer(void *ctx, struct sim *w, int node, const struct swim_notification *n,
                        uint64_t now)
{
    struct st_obs *o = ctx;
    ck_assert_uint_eq(now, sim_now(w));
    ck_assert(node >= 0 && node < sim_node_count(w));
    ck_assert((unsigned)n->type <= SWIM_EV_LAST);
    o->count[n->type]++;
}

/* Real instances: 5 nodes announce to node 0 and all see all alive; the
 * observer, counters and logs agree. */
START_TEST(sim_test_join_through_seed)
{
    struct sim *w = st_world(5);
    struct st_obs obs;
    uint64_t t;
    int i, e;

    memset(&obs, 0, sizeof(obs));
    sim_set_observer(w, st_observer, &obs);
    ck_assert(!sim_all_see_all(w, SWIM_ALIVE));
    ck_assert_int_eq(sim_status(w, 1, 2), -1);
    ck_assert_int_eq(sim_status(w, 1, 1), SWIM_ALIVE);
    ck_assert_int_eq(sim_announce_all(w, 0), 0);
    t = sim_run_until_pred(w, st_all_alive, NULL, 30000);
    SIM_ASSERT(w, t != UINT64_MAX, "5 nodes did not converge in 30 s");
    for (i = 1; i < 5; i++) {
        SIM_ASSERT(w, sim_all_see(w, SWIM_ALIVE, i), "node %d", i);
        SIM_ASSERT(w, sim_count_seeing(w, SWIM_ALIVE, i) == 4, "node %d", i);
        SIM_ASSERT(w, sim_notified_about(w, 0, SWIM_EV_MEMBER_JOINED, i) == 1,
                   "seed saw node %d join %llu times", i,
                   (unsigned long long)sim_notified_about(w, 0, SWIM_EV_MEMBER_JOINED, i));
        SIM_ASSERT(w, sim_first_notified(w, -1, SWIM_EV_MEMBER_JOINED, i) <= t, "node %d", i);
    }
    for (e = 1; e <= SWIM_EV_LAST; e++)
        ck_assert_uint_eq(obs.count[e], sim_notified_total(w, (enum swim_event)e));
    ck_assert_uint_ge(sim_notified_total(w, SWIM_EV_MEMBER_JOINED), 20);
    ck_assert_uint_ge(sim_log_count(w, 0), 4);
    ck_assert_ptr_nonnull(sim_log_at(w, 0, 0));
    ck_assert_ptr_null(sim_log_at(w, 0, sim_log_count(w, 0)));
    sim_delete(w);
}
END_TEST

static int st_failed_everywhere(struct sim *w, void *ctx)
{
    return sim_all_see(w, SWIM_FAILED, *(int *)ctx);
}

/* A killed node's timers die with it (ASan would catch a late one), and
 * the others eventually mark it failed; a restart comes back with a higher
 * generation and is seen alive at that generation. */
START_TEST(sim_test_kill_and_restart)
{
    struct sim *w = st_world(4);
    int victim = 3;
    uint64_t gen;

    ck_assert_int_eq(sim_announce_all(w, 0), 0);
    SIM_ASSERT(w, sim_run_until_pred(w, st_all_alive, NULL, 30000) != UINT64_MAX, "join");
    gen = sim_generation(w, victim);
    ck_assert_int_eq(sim_kill(w, victim), 0);
    ck_assert(!sim_running(w, victim));
    SIM_ASSERT(
        w, sim_run_until_pred(w, st_failed_everywhere, &victim, sim_now(w) + 60000) != UINT64_MAX,
        "kill not detected");
    ck_assert_int_eq(sim_restart(w, victim, 0), 0);
    ck_assert_uint_gt(sim_generation(w, victim), gen);
    sim_run_for(w, 30000);
    SIM_ASSERT(w, sim_all_see_current(w, SWIM_ALIVE, victim), "restarted node not alive");
    SIM_ASSERT(w, sim_all_see_all(w, SWIM_ALIVE), "not all alive after restart");
    sim_delete(w);
}
END_TEST

struct st_digest {
    struct sim_net_stats net;
    uint64_t events, notes[SWIM_EV_LAST + 1], now;
    uint64_t log_hash;         /* every node's notification log, in order */
    uint64_t submitted, fired; /* timers, over every node */
};

/* A 12-node run with loss, jitter, a crash, a cut, a pause and a restart;
 * cancel: whether the instances get the cancel hook. */
static void st_run_digest(uint64_t seed, int cancel, struct st_digest *d)
{
    struct sim *w = sim_new(seed);
    struct swim_config cfg = st_config();
    int e;

    sim_set_cancel(w, cancel);
    ck_assert_int_eq(sim_add_nodes(w, 12, "d", &cfg), 0);
    ck_assert_int_eq(sim_set_loss_default(w, 5), 0);
    sim_set_delay_default(w, 1, 5);
    ck_assert_int_eq(sim_announce_all(w, 0), 0);
    sim_run_for(w, 5000);
    ck_assert_int_eq(sim_kill(w, 5), 0);
    ck_assert_int_eq(sim_cut(w, 1, 2), 0);
    sim_run_for(w, 10000);
    ck_assert_int_eq(sim_pause(w, 3, 3000), 0);
    ck_assert_int_eq(sim_restart(w, 5, 0), 0);
    sim_run_for(w, 10000);
    memset(d, 0, sizeof(*d));
    sim_net_total(w, &d->net);
    d->events = sim_events_processed(w);
    d->now = sim_now(w);
    for (e = 1; e <= SWIM_EV_LAST; e++)
        d->notes[e] = sim_notified_total(w, (enum swim_event)e);
    d->log_hash = 0xcbf29ce484222325ull;
    for (int n = 0; n < sim_node_count(w); n++) {
        for (size_t i = 0; i < sim_log_count(w, n); i++)
            d->log_hash =
                (d->log_hash ^ hash_fnv1a(sim_log_at(w, n, i), sizeof(struct sim_log_entry))) *
                0x100000001b3ull;
        d->submitted += sim_timers_submitted(w, n, 0);
        d->fired += sim_timers_fired(w, n, 0);
    }
    sim_delete(w);
}

/* The same seed gives the same run; another seed gives another one. */
START_TEST(sim_test_same_seed_same_run)
{
    struct st_digest a, b, c;
    uint64_t seed = sim_seed_from_env(ST_SEED);

    st_run_digest(seed, 1, &a);
    st_run_digest(seed, 1, &b);
    st_run_digest(seed + 1, 1, &c);
    ck_assert_uint_gt(a.net.sent_packets, 100);
    ck_assert_uint_gt(a.net.dropped_out_packets, 0);
    ck_assert_mem_eq(&a, &b, sizeof(a));
    ck_assert_msg(memcmp(&a.net, &c.net, sizeof(a.net)) != 0,
                  "seeds %llu and %llu gave identical traffic", (unsigned long long)seed,
                  (unsigned long long)seed + 1);
}
END_TEST

/* Cancelling timers changes nothing but the wake-ups: with and without the
 * hook, the same seed sends the same datagrams and notifies the same
 * changes at the same instants (the core ignores a moot timer that comes
 * back), while fewer timers are handed back with it. */
START_TEST(sim_test_cancel_changes_only_wakeups)
{
    struct st_digest with, without;
    uint64_t seed = sim_seed_from_env(ST_SEED);

    st_run_digest(seed, 1, &with);
    st_run_digest(seed, 0, &without);
    ck_assert_mem_eq(&with.net, &without.net, sizeof(with.net));
    ck_assert_mem_eq(with.notes, without.notes, sizeof(with.notes));
    ck_assert_uint_eq(with.log_hash, without.log_hash);
    ck_assert_uint_eq(with.events, without.events); /* cancelled ones are still dequeued */
    ck_assert_uint_eq(with.now, without.now);
    ck_assert_uint_eq(with.submitted, without.submitted);
    ck_assert_msg(with.fired * 10 < without.fired * 9,
                  "%llu timers fired with cancel, %llu without", (unsigned long long)with.fired,
                  (unsigned long long)without.fired);
}
END_TEST

static Suite *sim_suite(void)
{
    Suite *s = suite_create("sim");
    TCase *tc = tcase_create("queue");

    tcase_add_test(tc, sim_test_heap_order_with_ties);
    tcase_add_test(tc, sim_test_heap_same_instant_reschedule);
    tcase_add_test(tc, sim_test_run_moves_clock);
    tcase_add_test(tc, sim_test_pred_first_time);
    tcase_add_test_raise_signal(tc, sim_test_event_limit_aborts, SIGABRT);
    tcase_add_test(tc, sim_test_failmsg_names_seed);
    tcase_add_test(tc, sim_test_prng_is_seeded);
    tcase_add_test(tc, sim_test_prng_replays_reference_stream);
    tcase_add_test(tc, sim_test_name_hash_is_fnv1a);
    suite_add_tcase(s, tc);

    tc = tcase_create("network");
    tcase_add_test(tc, sim_test_default_link_delivers_after_delay);
    tcase_add_test(tc, sim_test_loss_is_per_directed_link);
    tcase_add_test(tc, sim_test_default_loss_applies_to_every_link);
    tcase_add_test(tc, sim_test_cut_is_one_way);
    tcase_add_test(tc, sim_test_cut_drops_in_flight);
    tcase_add_test(tc, sim_test_block_drops_in_and_out);
    tcase_add_test(tc, sim_test_partition_and_heal);
    tcase_add_test(tc, sim_test_delay_and_jitter_bounds);
    tcase_add_test(tc, sim_test_kill_drops_datagrams_to_it);
    suite_add_tcase(s, tc);

    tc = tcase_create("faults");
    tcase_add_test(tc, sim_test_node_loss_is_per_direction);
    tcase_add_test(tc, sim_test_slow_node_handles_late_in_order);
    tcase_add_test(tc, sim_test_pause_holds_timers_and_datagrams);
    tcase_add_test(tc, sim_test_pause_every_repeats_then_ends);
    tcase_add_test(tc, sim_test_reachable_only_from_some_peers);
    suite_add_tcase(s, tc);

    tc = tcase_create("nodes");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sim_test_add_node_rejects_bad_names);
    tcase_add_test(tc, sim_test_many_names_resolve);
    tcase_add_test(tc, sim_test_join_through_seed);
    tcase_add_test(tc, sim_test_kill_and_restart);
    tcase_add_test(tc, sim_test_same_seed_same_run);
    tcase_add_test(tc, sim_test_cancel_changes_only_wakeups);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sim_suite());
    int failed;

    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
