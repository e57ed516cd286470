/*
 * stats_test.c - the core's counters, in the simulated world: probes by
 * result, the round-trip histogram (measured from the `now` values the
 * world hands in), datagrams by type, and suspicions that were refuted.
 * Loops over seeds like proto_test.c; SIM_SEED=<seed> replays one.
 */
#include <check.h>
#include <stdlib.h>

#include "sim.h"
#include "sim_assert.h"
#include "swim.h"

#define SEEDS 3

static uint64_t seed_at(int i)
{
    uint64_t env = sim_seed_from_env(0);
    return env != 0 ? env : 7000003ull * (uint64_t)(i + 1);
}

static int seed_count(void)
{
    return sim_seed_from_env(0) != 0 ? 1 : SEEDS;
}

static struct sim *world(uint64_t seed, int n)
{
    struct swim_config c;
    ck_assert_int_eq(swim_config_profile(&c, "lan"), 0);
    struct sim *w = sim_new(seed);
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(sim_add_nodes(w, n, "n", &c), 0);
    ck_assert_int_eq(sim_announce_all(w, 0), 0);
    return w;
}

static struct swim_stats stats_of(struct sim *w, int node)
{
    struct swim_stats st;
    swim_get_stats(sim_swim(w, node), &st);
    return st;
}

static uint64_t rtt_samples(const struct swim_stats *st)
{
    uint64_t n = 0;
    for (size_t i = 0; i < SWIM_RTT_BUCKETS; i++)
        n += st->probe_rtt[i];
    return n;
}

/* Every probe has one result, except the one still out. */
static void assert_probe_results(struct sim *w, int node)
{
    struct swim_stats st = stats_of(w, node);
    uint64_t judged = st.probes_acked + st.probes_acked_indirect + st.probe_failures;
    SIM_ASSERT(w, judged <= st.probes && judged + 1 >= st.probes,
               "node %d: %llu probes, %llu results", node, (unsigned long long)st.probes,
               (unsigned long long)judged);
    SIM_ASSERT(w, rtt_samples(&st) == st.probes_acked, "node %d: %llu direct answers, %llu samples",
               node, (unsigned long long)st.probes_acked, (unsigned long long)rtt_samples(&st));
}

/* ms each way between nodes 0 and 1 (and by default). */
static void link_delay(struct sim *w, uint32_t ms)
{
    sim_set_delay_default(w, ms, 0);
    sim_set_delay(w, 0, 1, ms, 0);
    sim_set_delay(w, 1, 0, ms, 0);
}

/* 20 ms each way: every direct probe takes 40 ms of the world's time, so
 * every sample lands in the bucket bounded by 50 ms and the sum is exact. */
START_TEST(swim_test_stats_rtt_from_now)
{
    ck_assert_uint_eq(swim_rtt_bound_ms(4), 25);
    ck_assert_uint_eq(swim_rtt_bound_ms(5), 50);
    ck_assert_uint_eq(swim_rtt_bound_ms(SWIM_RTT_BUCKETS - 1), UINT32_MAX);
    for (int i = 0; i < seed_count(); i++) {
        struct sim *w = world(seed_at(i), 2);
        link_delay(w, 20);
        sim_run_for(w, 30000);
        struct swim_stats st = stats_of(w, 0);
        SIM_ASSERT(w, st.probes_acked >= 25, "only %llu direct answers in 30 s",
                   (unsigned long long)st.probes_acked);
        SIM_ASSERT(w, st.probe_rtt[5] == st.probes_acked, "%llu of %llu samples at <= 50 ms",
                   (unsigned long long)st.probe_rtt[5], (unsigned long long)st.probes_acked);
        SIM_ASSERT(w, st.probe_rtt_sum_ms == 40 * st.probes_acked, "sum %llu ms for %llu samples",
                   (unsigned long long)st.probe_rtt_sum_ms, (unsigned long long)st.probes_acked);
        SIM_ASSERT(w, st.probes_acked_indirect == 0 && st.probe_failures == 0,
                   "a healthy link had %llu indirect answers, %llu failures",
                   (unsigned long long)st.probes_acked_indirect,
                   (unsigned long long)st.probe_failures);
        assert_probe_results(w, 0);
        assert_probe_results(w, 1);
        sim_delete(w);
    }
}
END_TEST

static uint32_t rtt_at(struct sim *w, int node, const char *of)
{
    struct swim_member_info mi;
    ck_assert_int_eq(swim_member_find(sim_swim(w, node), of, &mi), 0);
    return mi.rtt_us;
}

/* The smoothed RTT is unknown until the first direct answer, which sets
 * it; in the 20 ms-each-way world it then holds 40 ms, and after the path
 * changes (5 ms each way first) it converges to the new round trip. Self
 * has none. */
START_TEST(swim_test_stats_member_rtt_converges)
{
    for (int i = 0; i < seed_count(); i++) {
        struct sim *w = world(seed_at(i), 2);
        link_delay(w, 5);
        sim_run_until(w, 1);
        struct swim_member_info mi;
        swim_self(sim_swim(w, 0), &mi);
        SIM_ASSERT(w, mi.rtt_us == SWIM_RTT_UNKNOWN, "self has an RTT: %u us", mi.rtt_us);
        if (swim_member_find(sim_swim(w, 0), "n1", &mi) == 0)
            SIM_ASSERT(w, mi.rtt_us == SWIM_RTT_UNKNOWN, "RTT %u us before any probe", mi.rtt_us);
        sim_run_for(w, 10000);
        SIM_ASSERT(w, rtt_at(w, 0, "n1") == 10000, "RTT %u us on a 5 ms-each-way link",
                   rtt_at(w, 0, "n1"));
        link_delay(w, 20);
        sim_run_for(w, 60000); /* some 60 samples: (7/8)^60 of the 30 ms step is left */
        uint32_t rtt = rtt_at(w, 0, "n1");
        SIM_ASSERT(w, rtt > 39900 && rtt <= 40000, "RTT %u us, not converged to 40 ms", rtt);
        rtt = rtt_at(w, 1, "n0");
        SIM_ASSERT(w, rtt > 39900 && rtt <= 40000, "n1's RTT to n0 %u us", rtt);
        sim_delete(w);
    }
}
END_TEST

/* The split by type adds up to the totals, both ways, and a datagram
 * whose header does not decode is counted under "unknown". */
START_TEST(swim_test_stats_datagrams_by_type)
{
    ck_assert_str_eq(swim_dgram_name(1), "ping");
    ck_assert_str_eq(swim_dgram_name(3), "ping-req");
    ck_assert_str_eq(swim_dgram_name(8), "sync");
    ck_assert_str_eq(swim_dgram_name(SWIM_DGRAM_TYPES - 1), "direct");
    ck_assert_str_eq(swim_dgram_name(0), "unknown");
    ck_assert_str_eq(swim_dgram_name(SWIM_DGRAM_TYPES), "unknown");
    for (int i = 0; i < seed_count(); i++) {
        struct sim *w = world(seed_at(i), 3);
        sim_run_for(w, 20000);
        static const uint8_t junk[] = {0xff, 0xff, 0xff};
        ck_assert_int_eq(sim_inject(w, 1, 0, junk, sizeof(junk)), 0);
        sim_run_for(w, 100);
        for (int k = 0; k < 3; k++) {
            struct swim_stats st = stats_of(w, k);
            struct swim_traffic in = {0}, out = {0};
            for (size_t t = 0; t < SWIM_DGRAM_TYPES; t++) {
                in.packets += st.in_by_type[t].packets;
                in.bytes += st.in_by_type[t].bytes;
                out.packets += st.out_by_type[t].packets;
                out.bytes += st.out_by_type[t].bytes;
            }
            SIM_ASSERT(w, in.packets == st.packets_in && in.bytes == st.bytes_in,
                       "node %d: in %llu/%llu by type, %llu/%llu in all", k,
                       (unsigned long long)in.packets, (unsigned long long)in.bytes,
                       (unsigned long long)st.packets_in, (unsigned long long)st.bytes_in);
            SIM_ASSERT(w, out.packets == st.packets_out && out.bytes == st.bytes_out,
                       "node %d: out %llu/%llu by type, %llu/%llu in all", k,
                       (unsigned long long)out.packets, (unsigned long long)out.bytes,
                       (unsigned long long)st.packets_out, (unsigned long long)st.bytes_out);
            SIM_ASSERT(
                w, st.out_by_type[1].packets >= st.probes, "node %d: %llu pings, %llu probes", k,
                (unsigned long long)st.out_by_type[1].packets, (unsigned long long)st.probes);
            SIM_ASSERT(w, st.in_by_type[2].packets > 0 && st.out_by_type[7].packets > 0,
                       "node %d: no ACK in or GOSSIP out", k);
            SIM_ASSERT(w, st.in_by_type[0].packets == (k == 0 ? 1u : 0u),
                       "node %d: %llu unknown datagrams", k,
                       (unsigned long long)st.in_by_type[0].packets);
            assert_probe_results(w, k);
        }
        sim_delete(w);
    }
}
END_TEST

/* With the direct link between n0 and n1 cut both ways, n0's probes of n1
 * are answered through n2: counted as indirect, and not timed. */
START_TEST(swim_test_stats_indirect_answers)
{
    for (int i = 0; i < seed_count(); i++) {
        struct sim *w = world(seed_at(i), 3);
        sim_run_for(w, 5000);
        struct swim_stats before = stats_of(w, 0);
        sim_cut(w, 0, 1);
        sim_cut(w, 1, 0);
        sim_run_for(w, 20000);
        struct swim_stats st = stats_of(w, 0);
        SIM_ASSERT(w, st.probes_acked_indirect > before.probes_acked_indirect,
                   "no indirect answer in 20 s");
        SIM_ASSERT(w, sim_status(w, 0, 1) == SWIM_ALIVE, "n1 is %d at n0", sim_status(w, 0, 1));
        assert_probe_results(w, 0);
        sim_delete(w);
    }
}
END_TEST

static int pred_n1_suspect(struct sim *w, void *ctx)
{
    (void)ctx;
    return sim_status(w, 0, 1) == SWIM_SUSPECT || sim_status(w, 2, 1) == SWIM_SUSPECT;
}

static int pred_all_alive(struct sim *w, void *ctx)
{
    (void)ctx;
    return sim_all_see_all(w, SWIM_ALIVE);
}

/* n1 goes quiet until someone suspects it, then speaks again and refutes:
 * every suspicion a node held is counted as refuted, and a healthy world
 * counts none. */
START_TEST(swim_test_stats_suspicions_refuted)
{
    for (int i = 0; i < seed_count(); i++) {
        struct sim *w = world(seed_at(i), 3);
        sim_run_for(w, 5000);
        for (int k = 0; k < 3; k++)
            SIM_ASSERT(w, stats_of(w, k).suspicions_refuted == 0,
                       "node %d counted a refutation in a healthy world", k);
        sim_block(w, 1);
        uint64_t t = sim_run_until_pred(w, pred_n1_suspect, NULL, sim_now(w) + 5000);
        SIM_ASSERT(w, t != UINT64_MAX, "nobody suspected a silent n1 in 5 s");
        sim_unblock(w, 1);
        t = sim_run_until_pred(w, pred_all_alive, NULL, sim_now(w) + 3000);
        SIM_ASSERT(w, t != UINT64_MAX, "the suspicions were not refuted within 3 s");
        SIM_ASSERT(w, stats_of(w, 1).refutations >= 1, "n1 counted no refutation");
        /* n1, blocked, may have suspected the others too: they refuted
         * as well.  Every suspicion held ended in a refutation. */
        for (int k = 0; k < 3; k++) {
            uint64_t suspected = sim_notified(w, k, SWIM_EV_MEMBER_SUSPECT);
            uint64_t refuted = stats_of(w, k).suspicions_refuted;
            SIM_ASSERT(w, refuted == suspected, "node %d: held %llu suspicions, %llu refuted", k,
                       (unsigned long long)suspected, (unsigned long long)refuted);
        }
        SIM_ASSERT(w, stats_of(w, 0).suspicions_refuted + stats_of(w, 2).suspicions_refuted >= 1,
                   "no refuted suspicion counted");
        sim_delete(w);
    }
}
END_TEST

static Suite *stats_suite(void)
{
    Suite *s = suite_create("swim_stats");
    TCase *tc = tcase_create("stats");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, swim_test_stats_rtt_from_now);
    tcase_add_test(tc, swim_test_stats_member_rtt_converges);
    tcase_add_test(tc, swim_test_stats_datagrams_by_type);
    tcase_add_test(tc, swim_test_stats_indirect_answers);
    tcase_add_test(tc, swim_test_stats_suspicions_refuted);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stats_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
