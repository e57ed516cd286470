/*
 * guard_test.c - hostile input in the simulated world: a flood of forged
 * members against the table bound (max_members), and forged-source join
 * requests against the anti-amplification limit (cookies).
 *
 * Each test loops over the testworld seeds; SIM_SEED=<seed> replays one.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"
#include "swim.h"
#include "testworld.h"
#include "wire.h"

/* Forge `count` alive members with fresh names, one GOSSIP datagram each,
 * from node src to node dst (names "forged-<tag>-<i>"). */
static void flood_names(struct sim *w, int src, int dst, int tag, int count)
{
    uint8_t buf[1400];
    char name[32];
    for (int i = 0; i < count; i++) {
        struct wire_member r;
        memset(&r, 0, sizeof(r));
        snprintf(name, sizeof(name), "forged-%d-%d", tag, i);
        r.name.ptr = name;
        r.name.len = (uint8_t)strlen(name);
        r.addr.len = 6;
        r.addr.bytes[0] = 10;
        r.addr.bytes[3] = (uint8_t)i;
        r.gen = 1;
        r.status = WIRE_ALIVE;
        size_t len = tw_forge(w, buf, sizeof(buf), WIRE_GOSSIP, 0, src, &r, 1);
        ck_assert_int_eq(sim_inject(w, src, dst, buf, len), 0);
        if (i % 64 == 63)
            sim_run_for(w, 1);
    }
    sim_run_for(w, 1);
}

/* Every real node of the world is still known to `node`, alive. */
static void assert_world_alive(struct sim *w, int node, int n)
{
    for (int k = 0; k < n; k++)
        if (k != node)
            SIM_ASSERT(w, sim_status(w, node, k) == SWIM_ALIVE, "n%d sees n%d as %d", node, k,
                       sim_status(w, node, k));
}

/* Forged names beyond max_members are refused and counted; the members
 * already known stay, alive. */
START_TEST(swim_test_member_flood_bounded)
{
    const int n = 8, bound = 32;
    for (int si = 0; si < tw_seed_count(); si++) {
        struct swim_config c = tw_profile("lan");
        c.max_members = bound;
        struct sim *w = tw_world(tw_seed_at(si), n, &c);
        tw_converge(w, 20000);
        flood_names(w, 1, 0, 0, 2000);
        struct swim_stats st;
        swim_get_stats(sim_swim(w, 0), &st);
        SIM_ASSERT(w, swim_member_count(sim_swim(w, 0)) <= (size_t)bound, "%zu members held",
                   swim_member_count(sim_swim(w, 0)));
        SIM_ASSERT(w, st.members_refused >= 2000 - bound, "only %llu refused",
                   (unsigned long long)st.members_refused);
        assert_world_alive(w, 0, n);
        /* ... and long after, with the strangers suspected, failed and
         * gossiped about, the table still holds and the cluster is whole. */
        sim_run_for(w, 30000);
        flood_names(w, 2, 0, 1, 500);
        SIM_ASSERT(w, swim_member_count(sim_swim(w, 0)) <= (size_t)bound, "%zu members held",
                   swim_member_count(sim_swim(w, 0)));
        for (int k = 0; k < n; k++)
            SIM_ASSERT(w, swim_member_count(sim_swim(w, k)) <= (size_t)bound,
                       "n%d holds %zu members", k, swim_member_count(sim_swim(w, k)));
        assert_world_alive(w, 0, n);
        sim_delete(w);
    }
}
END_TEST

/* At the bound a stranger takes the place of the oldest tombstone (a reap,
 * notified), never of a live member. */
START_TEST(swim_test_member_bound_evicts_oldest_tombstone)
{
    const int n = 6;
    for (int si = 0; si < tw_seed_count(); si++) {
        struct swim_config c = tw_profile("lan");
        c.max_members = n - 1;
        struct sim *w = tw_world(tw_seed_at(si), n, &c);
        tw_converge(w, 20000);
        ck_assert_int_eq(sim_leave(w, 5), 0);
        struct tw_subject left = {5, SWIM_LEFT};
        ck_assert_uint_lt(sim_run_until_pred(w, tw_pred_all_see, &left, 20000), UINT64_MAX);
        flood_names(w, 1, 0, 0, 1);
        SIM_ASSERT(w, sim_status(w, 0, 5) == -1, "n0 still holds the tombstone of n5");
        SIM_ASSERT(w, sim_notified_about(w, 0, SWIM_EV_MEMBER_REAPED, 5) == 1,
                   "n5's eviction was not notified");
        struct swim_member_info m;
        ck_assert_int_eq(swim_member_find(sim_swim(w, 0), "forged-0-0", &m), 0);
        struct swim_stats st;
        swim_get_stats(sim_swim(w, 0), &st);
        ck_assert_uint_eq(st.members_refused, 0);
        flood_names(w, 1, 0, 1, 100);
        swim_get_stats(sim_swim(w, 0), &st);
        SIM_ASSERT(w, st.members_refused == 100, "%llu refused",
                   (unsigned long long)st.members_refused);
        assert_world_alive(w, 0, n - 1);
        sim_delete(w);
    }
}
END_TEST

static Suite *guard_suite(void)
{
    Suite *s = suite_create("guard");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, swim_test_member_flood_bounded);
    tcase_add_test(tc, swim_test_member_bound_evicts_oldest_tombstone);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(guard_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
