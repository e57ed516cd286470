/*
 * coord_test.c - network coordinates (swim/coord.c): the Vivaldi step on
 * hand-fed samples (two and three nodes converge, hostile samples stay
 * bounded), the checks on every coordinate from the wire (NaN, infinities,
 * huge values, another dimension), and in the simulated world: members
 * learn each other's coordinates from PINGs and ACKs, a poisoned datagram
 * changes nothing, and 100 nodes in three regions estimate their pairwise
 * round trips within the 20% (median relative error) after 60
 * periods.  The world tests print their seed on failure; SIM_SEED=<seed>
 * replays one.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "sim.h"
#include "sim_assert.h"
#include "swim.h"
#include "swim_int.h"
#include "wire.h"

/* ------------------------------------------------ a core fed by hand */

static void ct_notify(void *ctx, const struct swim_notification *n)
{
    (void)ctx;
    (void)n;
}

static void ct_send(void *ctx, const struct swim_addr *to, const uint8_t *data, size_t len)
{
    (void)ctx;
    (void)to;
    (void)data;
    (void)len;
}

static void ct_submit(void *ctx, const struct swim_timer *t, uint64_t delay)
{
    (void)ctx;
    (void)t;
    (void)delay;
}

static struct swim *ct_node(const char *name, uint64_t seed)
{
    static const struct swim_runtime rt = {NULL, ct_notify, ct_send, ct_submit, NULL, NULL};
    struct swim_config cfg;
    struct swim_addr addr = {.len = 1, .bytes = {(uint8_t)seed}};
    ck_assert_int_eq(swim_config_profile(&cfg, "lan"), 0);
    struct swim *s = swim_new(&cfg, name, &addr, 1, seed, &rt);
    ck_assert_ptr_nonnull(s);
    return s;
}

static struct swim_coord ct_self(const struct swim *s)
{
    struct swim_coord c;
    swim_coord_self(s, &c);
    return c;
}

static double ct_est_ms(const struct swim *a, const struct swim *b)
{
    struct swim_coord ca = ct_self(a), cb = ct_self(b);
    return (double)swim_coord_rtt_us(&ca, &cb) / 1000.0;
}

/* Free what samples gave a member entry held by a test (its rare state,
 * with the coordinate record in it). */
static void ct_member_free(struct swim *s, struct swim_member *m)
{
    swim__coord_forget(s, m);
    if (m->rare != 0) {
        free(swim__rare_at(s, m));
        swim__handle_drop(&s->rares, m->rare);
        m->rare = 0;
    }
}

/* a measures b at rtt_ms: one sample, with b's current coordinate. */
static void ct_sample(struct swim *a, struct swim_member *b_at_a, const struct swim *b,
                      uint64_t rtt_ms)
{
    struct swim_coord cb = ct_self(b);
    swim__coord_sample(a, b_at_a, &cb, rtt_ms);
}

static void ct_assert_within(double est, double truth, double rel)
{
    ck_assert_msg(fabs(est - truth) <= rel * truth, "estimate %.3f ms, truth %.3f ms", est, truth);
}

START_TEST(coord_test_new_node_is_origin_and_unsure)
{
    struct swim *a = ct_node("a", 1);
    struct swim_coord c = ct_self(a);
    ck_assert(swim_coord_valid(&c));
    ck_assert(c.error == SWIM_COORD_ERROR_MAX);
    ck_assert(c.height == SWIM_COORD_HEIGHT_MIN_S);
    for (size_t i = 0; i < SWIM_COORD_DIM; i++)
        ck_assert(c.vec[i] == 0);
    /* Two fresh nodes predict the two minimal heights: 20 us. */
    ck_assert_uint_eq(swim_coord_rtt_us(&c, &c), 20);
    swim_delete(a);
}
END_TEST

/* Two nodes and each one's view of the other, settled at rtt_ms by
 * `rounds` samples each way. */
struct ct_pair {
    struct swim *a, *b;
    struct swim_member b_at_a, a_at_b;
};

static void ct_pair_settle(struct ct_pair *p, uint64_t rtt_ms, int rounds)
{
    memset(p, 0, sizeof(*p));
    p->a = ct_node("a", 1);
    p->b = ct_node("b", 2);
    for (int i = 0; i < rounds; i++) {
        ct_sample(p->a, &p->b_at_a, p->b, rtt_ms);
        ct_sample(p->b, &p->a_at_b, p->a, rtt_ms);
    }
}

static void ct_pair_free(struct ct_pair *p)
{
    ct_member_free(p->a, &p->b_at_a);
    ct_member_free(p->b, &p->a_at_b);
    swim_delete(p->a);
    swim_delete(p->b);
}

/* Two nodes sampling each other at rtt_ms settle on an estimate within rel
 * of truth_ms, and both become sure of it. */
static void ct_pair_converges(uint64_t rtt_ms, double truth_ms, double rel)
{
    struct ct_pair p;
    ct_pair_settle(&p, rtt_ms, 100);
    ct_assert_within(ct_est_ms(p.a, p.b), truth_ms, rel);
    ck_assert(ct_self(p.a).error < 0.2 && ct_self(p.b).error < 0.2);
    ct_pair_free(&p);
}

START_TEST(coord_test_two_nodes_converge)
{
    ct_pair_converges(50, 50, 0.05);
}
END_TEST

/* A round trip under the clock's millisecond (a sample of 0 ms) counts as
 * half a millisecond: the two settle there, and their error estimates
 * fall instead of staying at the ceiling. */
START_TEST(coord_test_submillisecond_samples_settle)
{
    ct_pair_converges(0, 0.5, 0.10);
}
END_TEST

START_TEST(coord_test_three_nodes_converge)
{
    struct swim *n[3] = {ct_node("a", 1), ct_node("b", 2), ct_node("c", 3)};
    struct swim_member view[3][3];
    static const uint64_t rtt[3][3] = {{0, 10, 25}, {10, 0, 20}, {25, 20, 0}};
    memset(view, 0, sizeof(view));
    for (int round = 0; round < 200; round++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                if (i != j)
                    ct_sample(n[i], &view[i][j], n[j], rtt[i][j]);
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            ct_assert_within(ct_est_ms(n[i], n[j]), (double)rtt[i][j], 0.10);
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++)
            ct_member_free(n[i], &view[i][j]);
        swim_delete(n[i]);
    }
}
END_TEST

/* One late answer among good ones does not move a settled coordinate
 * (the filter's median), and a round trip beyond the limit is no sample. */
START_TEST(coord_test_outlier_filtered)
{
    struct ct_pair p;
    ct_pair_settle(&p, 40, 100);
    ct_sample(p.a, &p.b_at_a, p.b, 5000);
    ct_assert_within(ct_est_ms(p.a, p.b), 40, 0.05);
    struct swim_coord before = ct_self(p.a);
    ct_sample(p.a, &p.b_at_a, p.b, SWIM_COORD_RTT_MAX_MS + 1);
    struct swim_coord after = ct_self(p.a);
    ck_assert(memcmp(&before, &after, sizeof(before)) == 0);
    ct_pair_free(&p);
}
END_TEST

/* A coordinate that is not valid is no sample, and a stream of hostile
 * but valid ones (at the bounds, claiming no error, with any round trip)
 * leaves our coordinate valid and its error within range. */
START_TEST(coord_test_hostile_samples_bounded)
{
    struct swim *a = ct_node("a", 1);
    struct swim_member m;
    struct prng r;
    memset(&m, 0, sizeof(m));
    prng_seed(&r, 42);

    struct swim_coord bad = ct_self(a), before = ct_self(a);
    bad.vec[3] = NAN;
    swim__coord_sample(a, &m, &bad, 10);
    struct swim_coord after = ct_self(a);
    ck_assert(memcmp(&before, &after, sizeof(before)) == 0);

    for (int i = 0; i < 5000; i++) {
        struct swim_coord h;
        memset(&h, 0, sizeof(h));
        for (size_t d = 0; d < SWIM_COORD_DIM; d++)
            h.vec[d] = (prng_next(&r) & 1) ? SWIM_COORD_SPAN_S : -SWIM_COORD_SPAN_S;
        h.height = (prng_next(&r) & 1) ? SWIM_COORD_SPAN_S : SWIM_COORD_HEIGHT_MIN_S;
        h.error = 0;
        h.adjustment = (prng_next(&r) & 1) ? SWIM_COORD_SPAN_S : -SWIM_COORD_SPAN_S;
        ck_assert(swim_coord_valid(&h));
        swim__coord_sample(a, &m, &h, prng_below(&r, SWIM_COORD_RTT_MAX_MS + 1));
        struct swim_coord c = ct_self(a);
        ck_assert_msg(swim_coord_valid(&c), "sample %d made the coordinate invalid", i);
    }
    ct_member_free(a, &m);
    swim_delete(a);
}
END_TEST

START_TEST(coord_test_valid_rejects_bad_values)
{
    struct swim *a = ct_node("a", 1);
    struct swim_coord ok = ct_self(a), c;
    ck_assert(swim_coord_valid(&ok));
    ck_assert(!swim_coord_valid(NULL));
    static const double bad_vec[] = {NAN,  INFINITY, -INFINITY,
                                     1e30, -1e30,    SWIM_COORD_SPAN_S * 1.0001};
    for (size_t i = 0; i < sizeof(bad_vec) / sizeof(bad_vec[0]); i++) {
        c = ok;
        c.vec[SWIM_COORD_DIM - 1] = bad_vec[i];
        ck_assert(!swim_coord_valid(&c));
        ck_assert_uint_eq(swim_coord_rtt_us(&c, &ok), 0);
        c = ok;
        c.height = bad_vec[i];
        ck_assert(!swim_coord_valid(&c));
        c = ok;
        c.adjustment = bad_vec[i];
        ck_assert(!swim_coord_valid(&c));
        c = ok;
        c.error = bad_vec[i];
        ck_assert(!swim_coord_valid(&c));
    }
    c = ok;
    c.error = -0.01;
    ck_assert(!swim_coord_valid(&c));
    c = ok;
    c.error = SWIM_COORD_ERROR_MAX + 0.01;
    ck_assert(!swim_coord_valid(&c));
    c = ok;
    c.height = SWIM_COORD_HEIGHT_MIN_S / 2;
    ck_assert(!swim_coord_valid(&c));
    swim_delete(a);
}
END_TEST

/* An encoded coordinate body with float slot `slot` (0..DIM+2) replaced
 * by the binary32 bit pattern `bits`. */
static size_t ct_coord_body(uint8_t *buf, size_t cap, int slot, uint32_t bits)
{
    struct wire_coord c;
    memset(&c, 0, sizeof(c));
    c.height = SWIM_COORD_HEIGHT_MIN_S;
    c.error = 1.0;
    uint8_t *p = buf;
    ck_assert_int_eq(wire_encode_coord(&p, buf + cap, &c), 0);
    ck_assert_uint_eq((size_t)(p - buf), WIRE_COORD_SIZE);
    if (slot >= 0) {
        uint8_t *f = buf + 1 + 4 * (size_t)slot;
        f[0] = (uint8_t)(bits >> 24);
        f[1] = (uint8_t)(bits >> 16);
        f[2] = (uint8_t)(bits >> 8);
        f[3] = (uint8_t)bits;
    }
    return (size_t)(p - buf);
}

START_TEST(coord_test_wire_rejects_bad_values)
{
    uint8_t buf[128];
    struct wire_coord out, in;
    struct swim_coord sc;
    const uint8_t *p;

    /* A good one round-trips (binary32 precision) and passes the core. */
    memset(&in, 0, sizeof(in));
    in.vec[0] = 0.0123;
    in.height = SWIM_COORD_HEIGHT_MIN_S;
    in.error = 0.5;
    uint8_t *w = buf;
    ck_assert_int_eq(wire_encode_coord(&w, buf + sizeof(buf), &in), 0);
    p = buf;
    ck_assert_int_eq(wire_decode_coord(&out, &p, w), 0);
    ck_assert(fabs(out.vec[0] - 0.0123) < 1e-8);
    ck_assert_int_eq(swim__coord_from_wire(&sc, &out), 0);
    ck_assert(swim_coord_valid(&sc));
    /* Truncated: every shorter prefix fails. */
    for (size_t n = 0; n < WIRE_COORD_SIZE; n++) {
        p = buf;
        ck_assert_int_eq(wire_decode_coord(&out, &p, buf + n), ERR_TRUNC);
    }

    static const uint32_t nonfinite[] = {0x7FC00000u, 0xFFC00001u, 0x7F800000u, 0xFF800000u};
    for (int slot = 0; slot < WIRE_COORD_DIM + 3; slot++) {
        for (size_t i = 0; i < sizeof(nonfinite) / sizeof(nonfinite[0]); i++) {
            size_t n = ct_coord_body(buf, sizeof(buf), slot, nonfinite[i]);
            p = buf;
            ck_assert_int_eq(wire_decode_coord(&out, &p, buf + n), ERR_MALFORMED);
            ck_assert_ptr_eq(p, buf);
        }
        /* Finite but huge (1e30 as binary32): decodes, the core refuses. */
        size_t n = ct_coord_body(buf, sizeof(buf), slot, 0x7149F2CAu);
        p = buf;
        ck_assert_int_eq(wire_decode_coord(&out, &p, buf + n), 0);
        ck_assert_int_eq(swim__coord_from_wire(&sc, &out), ERR_MALFORMED);
    }
    /* Another dimension. */
    size_t n = ct_coord_body(buf, sizeof(buf), -1, 0);
    buf[0] = WIRE_COORD_DIM - 1;
    p = buf;
    ck_assert_int_eq(wire_decode_coord(&out, &p, buf + n), ERR_MALFORMED);
    /* The encoder refuses what it could not carry. */
    in.vec[2] = NAN;
    w = buf;
    ck_assert_int_eq(wire_encode_coord(&w, buf + sizeof(buf), &in), ERR_INVAL);
    in.vec[2] = 1e300;
    ck_assert_int_eq(wire_encode_coord(&w, buf + sizeof(buf), &in), ERR_INVAL);
    in.vec[2] = 0;
    ck_assert_int_eq(wire_encode_coord(&w, buf + 10, &in), ERR_NOSPACE);
    ck_assert_ptr_eq(w, buf);
}
END_TEST

/* ------------------------------------------------ the simulated world */

#define CT_SEED 0xC00D0001ull

static uint64_t ct_seed_at(int i)
{
    uint64_t env = sim_seed_from_env(0);
    return env != 0 ? env : CT_SEED + 7919ull * (uint64_t)i;
}

static int ct_seed_count(int dflt)
{
    return sim_seed_from_env(0) != 0 ? 1 : dflt;
}

static struct sim *ct_world(uint64_t seed, int n, int regions)
{
    struct swim_config cfg;
    ck_assert_int_eq(swim_config_profile(&cfg, "lan"), 0);
    struct sim *w = sim_new(seed);
    ck_assert_ptr_nonnull(w);
    sim_set_log_cap(w, 0);
    ck_assert_int_eq(sim_add_nodes(w, n, "n", &cfg), 0);
    if (regions > 0)
        ck_assert_int_eq(sim_latency_regions(w, regions), 0);
    ck_assert_int_eq(sim_announce_all(w, 0), 0);
    return w;
}

/* Every node holds a coordinate for every other after a probe round, and
 * none for a name it does not know. */
START_TEST(coord_test_members_learn_coordinates)
{
    struct sim *w = ct_world(ct_seed_at(0), 5, 0);
    struct swim_coord c;
    SIM_ASSERT(w, swim_member_coord(sim_swim(w, 0), "n1", &c) != 0,
               "a coordinate before any probe");
    sim_run_for(w, 10000);
    for (int i = 0; i < 5; i++) {
        for (int j = 0; j < 5; j++) {
            if (i == j)
                continue;
            int rc = swim_member_coord(sim_swim(w, i), sim_name(w, j), &c);
            SIM_ASSERT(w, rc == 0, "n%d has no coordinate for n%d: %d", i, j, rc);
            SIM_ASSERT(w, swim_coord_valid(&c), "n%d holds an invalid coordinate for n%d", i, j);
        }
        SIM_ASSERT(w, swim_member_coord(sim_swim(w, i), "nobody", &c) == ERR_NOTFOUND,
                   "a coordinate for an unknown name");
    }
    sim_delete(w);
}
END_TEST

/* A PING from a known member carrying a coordinate that is not finite, or
 * out of bounds, is counted malformed and changes no coordinate. */
/* Put on the network, from node `from`'s address, a PING to n0 that names
 * node `claimed` as its sender and carries the coordinate body [body, n). */
static void ct_inject(struct sim *w, int from, int claimed, uint8_t type, const uint8_t *body,
                      size_t n, uint32_t seq);
static void ct_inject_ping(struct sim *w, int from, int claimed, const uint8_t *body, size_t n,
                           uint32_t seq)
{
    ct_inject(w, from, claimed, WIRE_PING, body, n, seq);
}

/* The same for any datagram type. */
static void ct_inject(struct sim *w, int from, int claimed, uint8_t type, const uint8_t *body,
                      size_t n, uint32_t seq)
{
    uint8_t pkt[256];
    uint8_t *p = pkt;
    struct wire_header h;
    memset(&h, 0, sizeof(h));
    h.type = type;
    h.flags = WIRE_F_HAS_DST;
    h.src.ptr = sim_name(w, claimed);
    h.src.len = (uint8_t)strlen(h.src.ptr);
    sim_addr(claimed, &h.src_addr);
    h.src_gen = sim_generation(w, claimed);
    h.dst.ptr = sim_name(w, 0);
    h.dst.len = (uint8_t)strlen(h.dst.ptr);
    h.dst_gen = sim_generation(w, 0);
    h.seq = seq;
    ck_assert_int_eq(wire_encode_header(&p, pkt + sizeof(pkt), &h), 0);
    ck_assert_int_eq(wire_encode_item(&p, pkt + sizeof(pkt), WIRE_ITEM_COORD, body, n), 0);
    ck_assert_int_eq(sim_inject(w, from, 0, pkt, (size_t)(p - pkt)), 0);
    sim_run_for(w, 2); /* delivered; no probe of n0's ends this soon */
}

START_TEST(coord_test_poisoned_datagram_ignored)
{
    static const uint32_t poison[] = {0x7FC00000u, 0x7F800000u, 0x7149F2CAu};
    struct sim *w = ct_world(ct_seed_at(0), 2, 0);
    sim_run_for(w, 5000);
    for (size_t k = 0; k < sizeof(poison) / sizeof(poison[0]); k++) {
        struct swim_coord held, held_after, self_after;
        struct swim_stats st0, st1;
        uint8_t body[128];
        SIM_ASSERT(w, swim_member_coord(sim_swim(w, 0), "n1", &held) == 0, "no coordinate yet");
        swim_get_stats(sim_swim(w, 0), &st0);

        size_t n = ct_coord_body(body, sizeof(body), (int)k, poison[k]);
        ct_inject_ping(w, 1, 1, body, n, 0xFFFF0000u + (uint32_t)k);

        swim_get_stats(sim_swim(w, 0), &st1);
        SIM_ASSERT(w, st1.malformed == st0.malformed + 1, "poison %zu not counted", k);
        SIM_ASSERT(w, swim_member_coord(sim_swim(w, 0), "n1", &held_after) == 0, "coordinate lost");
        SIM_ASSERT(w, swim_coord_valid(&held_after), "poison %zu reached n1's coordinate", k);
        swim_coord_self(sim_swim(w, 0), &self_after);
        SIM_ASSERT(w, swim_coord_valid(&self_after), "our coordinate poisoned");
    }
    sim_delete(w);
}
END_TEST

/* A valid coordinate in a PING that names n1 but comes from n2's address
 * is not taken as n1's; the same PING from n1's address is. */
START_TEST(coord_test_forged_source_ignored)
{
    struct sim *w = ct_world(ct_seed_at(0), 3, 0);
    struct swim_coord held;
    uint8_t body[128];
    sim_run_for(w, 5000);
    size_t n = ct_coord_body(body, sizeof(body), 0, 0x40A00000u); /* vec[0] = 5 s */

    ct_inject_ping(w, 2, 1, body, n, 0xFFFF0001u);
    SIM_ASSERT(w, swim_member_coord(sim_swim(w, 0), "n1", &held) == 0, "no coordinate for n1");
    SIM_ASSERT(w, held.vec[0] != 5.0, "a forged source planted n1's coordinate");

    ct_inject_ping(w, 1, 1, body, n, 0xFFFF0002u);
    SIM_ASSERT(w, swim_member_coord(sim_swim(w, 0), "n1", &held) == 0, "no coordinate for n1");
    SIM_ASSERT(w, held.vec[0] == 5.0, "n1's own coordinate not taken: vec[0] %g", held.vec[0]);
    sim_delete(w);
}
END_TEST

/* The seq of n0's latest PING to n1 (tap). */
struct ct_ping_seen {
    uint32_t seq;
    int seen;
};

static void ct_catch_ping(void *ctx, struct sim *w, int from, int to, const uint8_t *data,
                          size_t len, int delivered)
{
    (void)w;
    (void)delivered;
    struct ct_ping_seen *c = ctx;
    struct wire_header h;
    const uint8_t *p = data;
    if (from == 0 && to == 1 && wire_decode_header(&h, &p, data + len) == 0 &&
        h.type == WIRE_PING) {
        c->seq = h.seq;
        c->seen = 1;
    }
}

/* An ACK to n0's probe of n1, in n1's name and with the probe's seq, that
 * comes from n2's address is not timed: n1's RTT and n0's own coordinate
 * stay as they were (before the fix a forger moved both). */
START_TEST(coord_test_forged_ack_not_timed)
{
    struct sim *w = ct_world(ct_seed_at(0), 3, 0);
    sim_run_for(w, 5000);
    struct ct_ping_seen c = {0, 0};
    sim_set_tap(w, ct_catch_ping, &c);
    ck_assert_int_eq(sim_block(w, 1), 0); /* n1 hears nothing: no real answer */
    for (int i = 0; i < 400 && !c.seen; i++)
        sim_run_for(w, 5);
    SIM_ASSERT(w, c.seen, "n0 never probed n1");
    sim_set_tap(w, NULL, NULL);
    struct swim_coord before, after;
    struct swim_member_info mi0, mi1;
    swim_coord_self(sim_swim(w, 0), &before);
    ck_assert_int_eq(swim_member_find(sim_swim(w, 0), "n1", &mi0), 0);
    uint8_t body[128];
    size_t n = ct_coord_body(body, sizeof(body), 0, 0x40A00000u); /* vec[0] = 5 s */
    sim_run_for(w, 3);                                            /* a round trip of a few ms */
    ct_inject(w, 2, 1, WIRE_ACK, body, n, c.seq);
    swim_coord_self(sim_swim(w, 0), &after);
    ck_assert_int_eq(swim_member_find(sim_swim(w, 0), "n1", &mi1), 0);
    SIM_ASSERT(w, memcmp(&before, &after, sizeof(before)) == 0,
               "a forged ACK moved n0's coordinate (vec[0] %g -> %g)", before.vec[0], after.vec[0]);
    SIM_ASSERT(w, mi1.rtt_us == mi0.rtt_us, "a forged ACK changed n1's RTT: %u -> %u", mi0.rtt_us,
               mi1.rtt_us);
    sim_delete(w);
}
END_TEST

/* The figure: 100 nodes in three regions (one-way 1..5 ms within,
 * 20..78 ms between), 60 protocol periods: the median relative error of
 * the estimated round trip over every pair is at most 20%. */
#define CT_ACCURACY_N 100
#define CT_ACCURACY_PERIODS 60
#define CT_ACCURACY_MAX 0.20

START_TEST(coord_test_accuracy_three_regions)
{
    for (int i = 0; i < ct_seed_count(2); i++) {
        struct sim *w = ct_world(ct_seed_at(i), CT_ACCURACY_N, 3);
        sim_run_for(w, CT_ACCURACY_PERIODS * 1000ull);
        struct sim_coord_error e;
        ck_assert_int_eq(sim_coord_error(w, &e), 0);
        SIM_ASSERT(w, e.pairs == CT_ACCURACY_N * (CT_ACCURACY_N - 1) / 2, "%zu pairs", e.pairs);
        SIM_ASSERT(w, e.median <= CT_ACCURACY_MAX, "median relative error %.3f (p90 %.3f)",
                   e.median, e.p90);
        sim_delete(w);
    }
}
END_TEST

static Suite *coord_suite(void)
{
    Suite *s = suite_create("swim_coord");
    TCase *tc = tcase_create("vivaldi");
    tcase_add_test(tc, coord_test_new_node_is_origin_and_unsure);
    tcase_add_test(tc, coord_test_two_nodes_converge);
    tcase_add_test(tc, coord_test_submillisecond_samples_settle);
    tcase_add_test(tc, coord_test_three_nodes_converge);
    tcase_add_test(tc, coord_test_outlier_filtered);
    tcase_add_test(tc, coord_test_hostile_samples_bounded);
    tcase_add_test(tc, coord_test_valid_rejects_bad_values);
    tcase_add_test(tc, coord_test_wire_rejects_bad_values);
    suite_add_tcase(s, tc);
    TCase *world = tcase_create("world");
    tcase_set_timeout(world, 240);
    tcase_add_test(world, coord_test_members_learn_coordinates);
    tcase_add_test(world, coord_test_poisoned_datagram_ignored);
    tcase_add_test(world, coord_test_forged_source_ignored);
    tcase_add_test(world, coord_test_forged_ack_not_timed);
    tcase_add_test(world, coord_test_accuracy_three_regions);
    suite_add_tcase(s, world);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(coord_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
