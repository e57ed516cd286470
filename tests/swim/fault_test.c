/*
 * fault_test.c - failure detection under faults, in the simulated world:
 * what Lifeguard and swimd's guard, reprobe and probe_retry (swim/probe.c)
 * promise.  A node that hears nothing, handles its input late, or pauses
 * condemns nobody and is not condemned for a pause; loss does not get
 * healthy members declared failed; one forged verdict decides nothing; a
 * node reachable from one peer is declared failed once, not again and
 * again; a crash is declared sooner than Lifeguard's minimum allows.
 *
 * Every test loops over seeds (SIM_SEED=<seed> replays one, SIM_TRACE=1
 * prints every notification); the bounds are derived in the comments.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swim_int.h" /* the core's named bounds */
#include "testworld.h"

/* FAILED notifications, at any observer, about any node but `except`. */
static uint64_t failed_except(struct sim *w, int except)
{
    uint64_t sum = 0;
    for (int k = 0; k < sim_node_count(w); k++)
        if (k != except)
            sum += sim_notified_about(w, -1, SWIM_EV_MEMBER_FAILED, k);
    return sum;
}

static struct swim_stats stats_of(struct sim *w, int node)
{
    struct swim_stats st;
    swim_get_stats(sim_swim(w, node), &st);
    return st;
}

/* Accusations by every running node but `except`. */
static uint64_t accusations_except(struct sim *w, int except)
{
    uint64_t sum = 0;
    for (int k = 0; k < sim_node_count(w); k++)
        if (k != except && sim_running(w, k))
            sum += stats_of(w, k).accusations;
    return sum;
}

/* Send node `to` a GOSSIP from node `from` carrying node x's current
 * record with `status`. */
static void tell(struct sim *w, int from, int to, int x, uint8_t status)
{
    struct swim_member_info self;
    struct wire_member r = tw_self_record(w, x, &self, status);
    uint8_t buf[1400];
    size_t len = tw_forge(w, buf, sizeof(buf), WIRE_GOSSIP, 0, from, &r, 1);
    ck_assert_int_eq(sim_inject(w, from, to, buf, len), 0);
}

/*
 * A deaf node (its ingress cut 40 s, back 20 s, cut 20 s) accuses nobody:
 * its probes fail without a single NACK.  A suspicion it held when it went
 * deaf (of y, whose refutation it cannot hear) runs out while it hears
 * nothing and is held, not turned into a verdict.  No healthy member is
 * declared failed anywhere; afterwards every node sees every other alive
 * within one anti-entropy interval plus a few periods.
 */
START_TEST(swim_test_deaf_node_condemns_nobody)
{
    const int n = 10, x = 9, y = 3;
    struct swim_config c = tw_profile("lan");
    for (int i = 0; i < tw_seed_count(); i++) {
        struct sim *w = tw_world(tw_seed_at(i), n, &c);
        tw_converge(w, 10000);
        const int peer = 1;
        /* x hears only from `peer`, which tells it y is suspect; then x
         * hears nobody, so y's refutation never reaches it. */
        ck_assert_int_eq(sim_reachable_only_from(w, x, &peer, 1), 0);
        tell(w, peer, x, y, WIRE_SUSPECT);
        sim_run_for(w, 5);
        SIM_ASSERT(w, sim_status(w, x, y) == SWIM_SUSPECT, "n%d does not suspect n%d", x, y);
        struct swim_stats st0 = stats_of(w, x);
        for (int e = 0; e < 2; e++) {
            /* The first cut outlasts the suspicion's start (Lifeguard's
             * maximum, 24 s here: nobody confirms a suspicion of y). */
            ck_assert_int_eq(sim_cut(w, -1, x), 0);
            sim_run_for(w, e == 0 ? 40000 : 20000);
            if (e == 0) {
                struct swim_stats st = stats_of(w, x);
                SIM_ASSERT(w, st.verdicts_held > st0.verdicts_held,
                           "the deaf n%d never held its suspicion of n%d", x, y);
                SIM_ASSERT(w, sim_status(w, x, y) == SWIM_SUSPECT, "n%d: n%d is %d", x, y,
                           sim_status(w, x, y));
            }
            ck_assert_int_eq(sim_uncut(w, -1, x), 0);
            sim_run_for(w, 20000);
        }
        struct swim_stats st1 = stats_of(w, x);
        SIM_ASSERT(w, st1.accusations == st0.accusations, "the deaf n%d accused %llu times", x,
                   (unsigned long long)(st1.accusations - st0.accusations));
        SIM_ASSERT(w, sim_notified(w, x, SWIM_EV_MEMBER_FAILED) == 0,
                   "the deaf n%d declared %llu members failed", x,
                   (unsigned long long)sim_notified(w, x, SWIM_EV_MEMBER_FAILED));
        SIM_ASSERT(w, failed_except(w, x) == 0, "%llu healthy members declared failed",
                   (unsigned long long)failed_except(w, x));
        uint64_t bound = c.reconnect_interval_ms + 5 * (uint64_t)c.probe_interval_ms;
        SIM_ASSERT(w,
                   sim_run_until_pred(w, tw_pred_all_alive, NULL, sim_now(w) + bound) != UINT64_MAX,
                   "not all alive within %llu ms of the last cut", (unsigned long long)bound);
        sim_delete(w);
    }
}
END_TEST

/*
 * A node stopped 1.5 s of every 2 s (SIGSTOP, a collector) for 60 s is
 * never declared failed: it refutes within a pause, and the floor of a
 * suspicion (2.5 periods) outlasts one.  It is accused rarely: once it has
 * refuted, every member probes it with a window one period longer, which
 * outlasts its pauses, so the accusations are those of the first suspicion
 * (the accuser and the re-probers, about six of the nine) and of a probe
 * that catches a pause before the refutation spread; we allow 2(N - 1).
 */
START_TEST(swim_test_paused_node_not_condemned)
{
    const int n = 10, x = 9;
    struct swim_config c = tw_profile("lan");
    uint64_t worst = 0;
    for (int i = 0; i < tw_seed_count(); i++) {
        struct sim *w = tw_world(tw_seed_at(i), n, &c);
        tw_converge(w, 10000);
        uint64_t a0 = accusations_except(w, x);
        ck_assert_int_eq(sim_pause_every(w, x, 1500, 2000, 60000), 0);
        sim_run_for(w, 60000 + 10000);
        uint64_t acc = accusations_except(w, x) - a0;
        worst = acc > worst ? acc : worst;
        SIM_ASSERT(w, failed_except(w, -1) == 0, "%llu members declared failed",
                   (unsigned long long)failed_except(w, -1));
        SIM_ASSERT(w, acc <= 2 * (uint64_t)(n - 1), "the paused n%d was accused %llu times", x,
                   (unsigned long long)acc);
        SIM_ASSERT(w, sim_all_see_all(w, SWIM_ALIVE), "not all alive at the end");
        sim_delete(w);
    }
    printf("paused 1.5 s of every 2 s for 60 s: at most %llu accusations of it\n",
           (unsigned long long)worst);
}
END_TEST

/*
 * 25% loss on every datagram, 20 nodes, 60 s: no member is declared
 * failed, and few are accused.  A probe fails only when both direct pings
 * and all four helpers fail, about 1.7% of probes (probe.c), so 20 nodes
 * make about 20 accusations a minute; the bound is 80 in 120 s, we
 * require 40 in 60 s.
 */
START_TEST(swim_test_heavy_loss_condemns_nobody)
{
    const int n = 20;
    struct swim_config c = tw_profile("lan");
    uint64_t worst = 0;
    for (int i = 0; i < 2 && i < tw_seed_count(); i++) {
        struct sim *w = tw_world(tw_seed_at(i), n, &c);
        tw_converge(w, 10000);
        uint64_t a0 = accusations_except(w, -1);
        ck_assert_int_eq(sim_set_loss_default(w, 25), 0);
        sim_run_for(w, 60000);
        uint64_t acc = accusations_except(w, -1) - a0;
        worst = acc > worst ? acc : worst;
        SIM_ASSERT(w, failed_except(w, -1) == 0, "%llu members declared failed",
                   (unsigned long long)failed_except(w, -1));
        SIM_ASSERT(w, acc <= 40, "%llu accusations", (unsigned long long)acc);
        sim_delete(w);
    }
    printf("25%% loss, 20 nodes, 60 s: at most %llu accusations\n", (unsigned long long)worst);
}
END_TEST

/*
 * A slow node (every datagram handled 4 to 16 s after it arrived; its
 * timers on time) accuses nobody and declares nobody failed: the NACKs and
 * ACKs its probes are owed all come too late.  No healthy member is
 * declared failed anywhere (the slow one may be: it does not answer).
 */
START_TEST(swim_test_slow_node_condemns_nobody)
{
    const int n = 10, x = 9;
    struct swim_config c = tw_profile("lan");
    for (int i = 0; i < tw_seed_count(); i++) {
        struct sim *w = tw_world(tw_seed_at(i), n, &c);
        tw_converge(w, 10000);
        struct swim_stats st0 = stats_of(w, x);
        ck_assert_int_eq(sim_set_slow(w, x, 4000, 12000), 0);
        sim_run_for(w, 60000);
        struct swim_stats st1 = stats_of(w, x);
        SIM_ASSERT(w, st1.accusations == st0.accusations, "the slow n%d accused %llu times", x,
                   (unsigned long long)(st1.accusations - st0.accusations));
        SIM_ASSERT(w, failed_except(w, x) == 0, "%llu healthy members declared failed",
                   (unsigned long long)failed_except(w, x));
        sim_delete(w);
    }
}
END_TEST

/*
 * One forged FAILED record about a healthy member, sent to every other
 * node, condemns nobody: each takes it as a suspicion, the subject is told
 * and refutes, and it stays alive everywhere (plain SWIM took the verdict).
 */
START_TEST(swim_test_forged_verdict_decides_nothing)
{
    const int n = 10, y = 4;
    struct swim_config c = tw_profile("lan");
    for (int i = 0; i < tw_seed_count(); i++) {
        struct sim *w = tw_world(tw_seed_at(i), n, &c);
        tw_converge(w, 10000);
        for (int k = 0; k < n; k++)
            if (k != y && k != 1)
                tell(w, 1, k, y, WIRE_FAILED);
        sim_run_for(w, 20000);
        SIM_ASSERT(w, failed_except(w, -1) == 0, "%llu members declared failed",
                   (unsigned long long)failed_except(w, -1));
        struct tw_subject sub = {y, SWIM_ALIVE};
        SIM_ASSERT(w, tw_pred_all_see(w, &sub), "n%d not alive everywhere", y);
        sim_delete(w);
    }
}
END_TEST

/*
 * A node reachable from a single peer (its egress intact) for 60 s.  The
 * others suspect it at almost every probe; it refutes when the peer tells
 * it, so an observer either keeps seeing it refute, or, its suspicion run
 * out first, declares it failed: once.  Its new generation, taken when the
 * peer passes the verdict on, is believed only once it answers a ping,
 * which it cannot while the fault lasts, so no observer takes it back and
 * declares it again.  No healthy member is declared failed.  After the
 * fault every node sees it alive again within the longest gap between
 * readmission checks (32 s) plus one anti-entropy interval and a few
 * periods.
 */
START_TEST(swim_test_partly_reachable_node_failed_once)
{
    const int n = 20, x = 19, peer = 0;
    struct swim_config c = tw_profile("lan");
    uint64_t declared = 0;
    for (int i = 0; i < tw_seed_count(); i++) {
        struct sim *w = tw_world(tw_seed_at(i), n, &c);
        tw_converge(w, 10000);
        ck_assert_int_eq(sim_reachable_only_from(w, x, &peer, 1), 0);
        sim_run_for(w, 60000);
        for (int o = 0; o < n; o++) {
            if (o == x || o == peer)
                continue;
            uint64_t f = sim_notified_about(w, o, SWIM_EV_MEMBER_FAILED, x);
            SIM_ASSERT(w, f <= 1, "n%d declared n%d failed %llu times", o, x,
                       (unsigned long long)f);
            SIM_ASSERT(w, f == 0 || sim_status(w, o, x) == SWIM_FAILED, "n%d took n%d back", o, x);
            declared += f;
        }
        SIM_ASSERT(w, failed_except(w, x) == 0, "%llu healthy members declared failed",
                   (unsigned long long)failed_except(w, x));
        /* The peer reaches x throughout: it takes x's renewals back, and
         * the others' verdicts can make it declare x again; what it has
         * declared by the heal is its allowance after it. */
        uint64_t peer_before = sim_notified_about(w, peer, SWIM_EV_MEMBER_FAILED, x);
        sim_heal(w);
        uint64_t bound = ((uint64_t)SWIM_NOTICE_GAP_MS << SWIM_READMIT_BACKOFF_MAX) +
                         c.reconnect_interval_ms + 5 * (uint64_t)c.probe_interval_ms;
        uint64_t t = sim_run_until_pred(w, tw_pred_all_alive, NULL, sim_now(w) + bound);
        SIM_ASSERT(w, t != UINT64_MAX, "n%d not alive everywhere %llu ms after the fault", x,
                   (unsigned long long)bound);
        for (int o = 0; o < n; o++)
            SIM_ASSERT(w,
                       o == x || sim_notified_about(w, o, SWIM_EV_MEMBER_FAILED, x) <=
                                     (o == peer && peer_before > 1 ? peer_before : 1),
                       "n%d declared n%d failed again", o, x);
        sim_delete(w);
    }
    /* Otherwise the test would not exercise the readmission. */
    ck_assert_uint_gt(declared, 0);
    printf("reachable from one peer: %llu verdicts about it in %d runs, at most one each\n",
           (unsigned long long)declared, tw_seed_count());
}
END_TEST

struct first_suspect {
    int dead;
    uint64_t at;
};

static void note_first_suspect(void *ctx, struct sim *w, int node,
                               const struct swim_notification *nt, uint64_t now)
{
    struct first_suspect *f = ctx;
    (void)node;
    if (nt->type == SWIM_EV_MEMBER_SUSPECT && f->at == UINT64_MAX &&
        sim_node_by_name(w, nt->member.name) == f->dead)
        f->at = now;
}

/*
 * A crash is declared sooner than Lifeguard's minimum allows.  30 nodes:
 * about six holders of the first suspicion re-probe the dead node, every
 * failed probe is a confirmation, and with seven of them the timeout is the
 * floor, 2.5 periods, against Lifeguard's minimum of 4 log10(30) = 5.9.
 * So every survivor declares it within the minimum of the first suspicion
 * (measured: about 3.5 s), and none before the floor.
 */
START_TEST(swim_test_crash_confirmed_below_lifeguard_minimum)
{
    const int n = 30;
    struct swim_config c = tw_profile("lan");
    uint64_t worst = 0;
    for (int i = 0; i < 2 * tw_seed_count(); i++) {
        struct sim *w = tw_world(tw_seed_at(i), n, &c);
        tw_converge(w, 10000);
        sim_run_for(w, sim_rand(w) % 5000);
        struct first_suspect f = {1 + (int)(sim_rand(w) % (n - 1)), UINT64_MAX};
        sim_set_observer(w, note_first_suspect, &f);
        ck_assert_int_eq(sim_kill(w, f.dead), 0);
        struct tw_subject sub = {f.dead, SWIM_FAILED};
        uint64_t t = sim_run_until_pred(w, tw_pred_all_see, &sub, sim_now(w) + 60000);
        SIM_ASSERT(w, t != UINT64_MAX, "n%d never failed everywhere", f.dead);
        uint64_t first_failed = sim_first_notified(w, -1, SWIM_EV_MEMBER_FAILED, f.dead);
        SIM_ASSERT(w, first_failed >= f.at + tw_floor_ms(&c),
                   "failed %llu ms after the first suspicion, below the floor",
                   (unsigned long long)(first_failed - f.at));
        SIM_ASSERT(w, t - f.at < tw_suspicion_ms(&c, n),
                   "all failed %llu ms after the first suspicion (Lifeguard's minimum %llu)",
                   (unsigned long long)(t - f.at), (unsigned long long)tw_suspicion_ms(&c, n));
        worst = t - f.at > worst ? t - f.at : worst;
        SIM_ASSERT(w, failed_except(w, f.dead) == 0, "a live member declared failed");
        sim_delete(w);
    }
    printf("crash at N=30: all failed at most %llu ms after the first suspicion\n",
           (unsigned long long)worst);
}
END_TEST

/*
 * In a cluster of two, the survivor of a crash declares it: no other
 * member is left to answer it, so its silence cannot be told from the
 * crash, and with nobody to confirm the timeout is Lifeguard's minimum.
 * Bound: two periods until the probe, its judgement, the minimum, slack.
 */
START_TEST(swim_test_two_node_survivor_declares)
{
    struct swim_config c = tw_profile("lan");
    for (int i = 0; i < tw_seed_count(); i++) {
        struct sim *w = tw_world(tw_seed_at(i), 2, &c);
        tw_converge(w, 10000);
        ck_assert_int_eq(sim_kill(w, 1), 0);
        uint64_t bound = 2 * (uint64_t)c.probe_interval_ms + tw_judge_ms(&c) +
                         tw_suspicion_ms(&c, 2) + c.probe_interval_ms;
        struct tw_subject sub = {1, SWIM_FAILED};
        SIM_ASSERT(w,
                   sim_run_until_pred(w, tw_pred_all_see, &sub, sim_now(w) + bound) != UINT64_MAX,
                   "the crash not declared within %llu ms", (unsigned long long)bound);
        sim_delete(w);
    }
}
END_TEST

/*
 * The other side of the rule: the survivor of a cluster of three whose two
 * other members crash at once hears nobody, so it cannot tell their deaths
 * from its own deafness, and condemns neither (Rapid, without a quorum,
 * changes no view either).  They come back alive when they restart.
 */
START_TEST(swim_test_lone_survivor_condemns_nobody)
{
    struct swim_config c = tw_profile("lan");
    for (int i = 0; i < tw_seed_count(); i++) {
        struct sim *w = tw_world(tw_seed_at(i), 3, &c);
        tw_converge(w, 10000);
        ck_assert_int_eq(sim_kill(w, 1), 0);
        ck_assert_int_eq(sim_kill(w, 2), 0);
        sim_run_for(w, 60000);
        SIM_ASSERT(w, sim_notified(w, 0, SWIM_EV_MEMBER_FAILED) == 0,
                   "the lone survivor declared %llu failed",
                   (unsigned long long)sim_notified(w, 0, SWIM_EV_MEMBER_FAILED));
        ck_assert_int_eq(sim_restart(w, 1, 0), 0);
        ck_assert_int_eq(sim_restart(w, 2, 0), 0);
        tw_converge(w, 10000);
        sim_delete(w);
    }
}
END_TEST

struct buddy_tap {
    int prober, suspect;
    int pings, carrying;
};

/* Count the prober's PINGs to the suspect, and those whose first item is
 * the suspect's own SUSPECT record. */
static void buddy_observe(void *ctx, struct sim *w, int from, int to, const uint8_t *data,
                          size_t len, int delivered)
{
    struct buddy_tap *b = ctx;
    struct wire_header h;
    struct wire_item it;
    struct wire_member r;
    const uint8_t *p = data, *end = data + len;
    (void)delivered;
    if (from != b->prober || to != b->suspect || wire_decode_header(&h, &p, end) != 0 ||
        h.type != WIRE_PING)
        return;
    b->pings++;
    const uint8_t *ip;
    if (wire_decode_item(&it, &p, end) != 0 || it.kind != WIRE_ITEM_MEMBER)
        return;
    ip = it.data;
    if (wire_decode_member(&r, &ip, it.data + it.len) == 0 && r.status == WIRE_SUSPECT &&
        r.name.len == strlen(sim_name(w, b->suspect)) &&
        memcmp(r.name.ptr, sim_name(w, b->suspect), r.name.len) == 0)
        b->carrying++;
}

/*
 * Lifeguard's buddy system: a ping to a suspect carries its suspicion
 * first, so it refutes at once.  Node 0 is told node 4 is suspect; with
 * five nodes every holder re-probes it (reprobe 6 >= N - 1), so node 0
 * pings it at once, and the suspect, alive, refutes.
 */
START_TEST(swim_test_ping_to_suspect_carries_suspicion)
{
    const int n = 5, x = 4;
    struct swim_config c = tw_profile("lan");
    for (int i = 0; i < tw_seed_count(); i++) {
        struct sim *w = tw_world(tw_seed_at(i), n, &c);
        tw_converge(w, 10000);
        struct buddy_tap b = {0, x, 0, 0};
        sim_set_tap(w, buddy_observe, &b);
        tell(w, 1, 0, x, WIRE_SUSPECT);
        sim_run_for(w, 50);
        SIM_ASSERT(w, b.carrying >= 1, "%d pings to the suspect, %d carried its suspicion", b.pings,
                   b.carrying);
        sim_run_for(w, 5000);
        struct tw_subject sub = {x, SWIM_ALIVE};
        SIM_ASSERT(w, tw_pred_all_see(w, &sub), "n%d not alive everywhere", x);
        sim_delete(w);
    }
}
END_TEST

static Suite *fault_suite(void)
{
    Suite *s = suite_create("swim_fault");
    TCase *tc = tcase_create("fault");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, swim_test_deaf_node_condemns_nobody);
    tcase_add_test(tc, swim_test_paused_node_not_condemned);
    tcase_add_test(tc, swim_test_heavy_loss_condemns_nobody);
    tcase_add_test(tc, swim_test_slow_node_condemns_nobody);
    tcase_add_test(tc, swim_test_forged_verdict_decides_nothing);
    tcase_add_test(tc, swim_test_partly_reachable_node_failed_once);
    tcase_add_test(tc, swim_test_crash_confirmed_below_lifeguard_minimum);
    tcase_add_test(tc, swim_test_two_node_survivor_declares);
    tcase_add_test(tc, swim_test_lone_survivor_condemns_nobody);
    tcase_add_test(tc, swim_test_ping_to_suspect_carries_suspicion);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fault_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
