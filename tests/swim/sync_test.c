/*
 * sync_test.c - anti-entropy and join convergence in the simulated world:
 * digests keep the idle cost flat in N, an exchange repairs only the
 * buckets that differ, answers are taken only from the member asked, a
 * mass join converges in O(log N) exchange rounds, and news leaves a node
 * at once.  Every test loops over the testworld seeds; SIM_SEED replays one.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swim.h"
#include "swim_int.h" /* the core's named bounds */
#include "testworld.h"
#include "wire.h"

/* Counts SYNC datagrams by shape: with a digest only, or carrying records. */
struct sync_tap {
    uint64_t digests, digest_bytes_max;
    uint64_t tables, table_bytes;
    uint64_t bytes; /* everything sent */
    /* When not NULL, the bytes of records each node sent each other
     * (pair[from * n + to]), for n nodes. */
    uint64_t *pair;
    int n;
};

static void count_sync(void *ctx, struct sim *w, int from, int to, const uint8_t *data, size_t len,
                       int delivered)
{
    (void)w, (void)from, (void)to, (void)delivered;
    struct sync_tap *t = ctx;
    t->bytes += len;
    struct wire_header h;
    const uint8_t *p = data, *end = data + len;
    if (wire_decode_header(&h, &p, end) != 0 || h.type != WIRE_SYNC)
        return;
    struct wire_item it;
    bool records = false;
    while (p < end && wire_decode_item(&it, &p, end) == 0)
        records |= it.kind == WIRE_ITEM_MEMBER;
    if (records) {
        t->tables++;
        t->table_bytes += len;
        if (t->pair != NULL && from >= 0 && from < t->n && to >= 0 && to < t->n)
            t->pair[(size_t)from * (size_t)t->n + (size_t)to] += len;
    } else {
        t->digests++;
        if (len > t->digest_bytes_max)
            t->digest_bytes_max = len;
    }
}

/* A converged world of n lan nodes, run until every node's exchanges have
 * slowed to the sync interval: after convergence the interval doubles from
 * a gossip interval per exchange that teaches nothing, so it reaches the
 * sync interval within about twice that interval. */
static struct sim *settled_world(uint64_t seed, int n, const struct swim_config *c)
{
    struct sim *w = tw_world(seed, n, c);
    sim_set_log_cap(w, 0);
    tw_converge(w, 20000);
    sim_run_for(w, 2 * (uint64_t)c->sync_interval_ms);
    return w;
}

/*
 * Idle cost.  In a settled cluster a node sends, per probe interval, one
 * PING and (on average) one ACK, and per sync interval one digest, which
 * nobody answers since no bucket differs.  So the bytes per node per second
 * must not grow with N: between 10 and 200 nodes they may differ only by
 * what longer names ("n7" against "n187") and the larger digest (at most
 * 2^SWIM_SYNC_LOG2_MAX sums) add, 15% here; no table is sent at all; and
 * each node sends at most one digest per sync interval (plus one for the
 * exchange armed when the window began).
 */
START_TEST(swim_test_sync_idle_cost_flat_in_n)
{
    struct swim_config c = tw_profile("lan");
    const uint64_t window = 4 * (uint64_t)c.sync_interval_ms;
    const int sizes[] = {10, 200};
    double per_node[2];
    for (int i = 0; i < 2 && i < tw_seed_count(); i++) {
        for (int k = 0; k < 2; k++) {
            int n = sizes[k];
            struct sim *w = settled_world(tw_seed_at(i), n, &c);
            struct sync_tap t = {0};
            sim_set_tap(w, count_sync, &t);
            sim_run_for(w, window);
            per_node[k] = (double)t.bytes / n / ((double)window / 1000.0);
            SIM_ASSERT(w, t.tables == 0, "%d nodes: %llu SYNC datagrams with records while idle", n,
                       (unsigned long long)t.tables);
            uint64_t most = (uint64_t)n * (window / c.sync_interval_ms + 1);
            SIM_ASSERT(w, t.digests <= most, "%d nodes: %llu digests in %llu ms (at most %llu)", n,
                       (unsigned long long)t.digests, (unsigned long long)window,
                       (unsigned long long)most);
            uint64_t digest_max = 200 + (4u << SWIM_SYNC_LOG2_MAX);
            SIM_ASSERT(w, t.digest_bytes_max <= digest_max, "a %llu-byte digest (at most %llu)",
                       (unsigned long long)t.digest_bytes_max, (unsigned long long)digest_max);
            sim_delete(w);
        }
        printf("idle: %.1f B/node/s at 10 nodes, %.1f at 200\n", per_node[0], per_node[1]);
        ck_assert_msg(per_node[1] <= 1.15 * per_node[0],
                      "idle bytes per node rose from %.1f to %.1f B/s", per_node[0], per_node[1]);
    }
}
END_TEST

/*
 * A node that missed an update while it heard nothing (3 s: the update's
 * retransmissions are spent by then, and no suspicion of it can run out)
 * gets it from the next exchange that involves it, within one sync
 * interval (it exchanges at least that often itself), and the repair sends
 * the records of the differing buckets only: far less than the whole table
 * a whole-table exchange would send both ways.  The bound is per pair of
 * nodes, one exchange: those that held the cut-off node failed may each
 * reach it with their reconnect exchange, and in the simulated world, where
 * every node started at once, their reconnect timers fire together.
 */
START_TEST(swim_test_sync_repairs_only_differing_buckets)
{
    const int n = 120, x = n - 1, src = 4;
    struct swim_config c = tw_profile("lan");
    int repaired = 0;
    for (int i = 0; i < tw_seed_count(); i++) {
        struct sim *w = settled_world(tw_seed_at(i), n, &c);
        for (int k = 0; k < n - 1; k++)
            sim_cut(w, k, x);
        const uint8_t meta[] = {4, 'r', 'o', 'l', 'e', 2, 'd', 'b'};
        ck_assert_int_eq(swim_set_meta(sim_swim(w, src), meta, sizeof(meta), sim_now(w)), 0);
        sim_run_for(w, 3000);
        sim_heal(w);
        struct swim_member_info mi;
        ck_assert_int_eq(sim_member(w, x, src, &mi), 0);
        SIM_ASSERT(w, mi.meta_len == 0, "x got the update despite the cut");
        struct sync_tap t = {.pair = calloc((size_t)n * n, sizeof(uint64_t)), .n = n};
        ck_assert_ptr_nonnull(t.pair);
        sim_set_tap(w, count_sync, &t);
        uint64_t deadline = sim_now(w) + c.sync_interval_ms + 1000;
        int got = 0;
        while (sim_now(w) < deadline && !got) {
            sim_run_for(w, 50);
            got = sim_member(w, x, src, &mi) == 0 && mi.meta_len == sizeof(meta);
        }
        SIM_ASSERT(w, got, "x never got the missed update");
        if (t.tables == 0) {
            /* Gossip brought it first: src queued its record again (as
             * when it refutes a suspicion x spread after the heal), and
             * no exchange was needed.  Nothing to measure here. */
            free(t.pair);
            sim_delete(w);
            continue;
        }
        repaired++;
        /* A whole table: n records of at least 20 bytes each. */
        uint64_t table = 20 * (uint64_t)n;
        uint64_t most = 0;
        for (size_t k = 0; k < (size_t)n * n; k++)
            most = t.pair[k] > most ? t.pair[k] : most;
        free(t.pair);
        SIM_ASSERT(w, most < table / 2,
                   "the repair sent %llu bytes of records one way (a table is over %llu)",
                   (unsigned long long)most, (unsigned long long)table);
        sim_delete(w);
    }
    printf("repair: %d of %d seeds repaired by an exchange\n", repaired, tw_seed_count());
    ck_assert_msg(2 * repaired >= tw_seed_count(),
                  "only %d of %d seeds were repaired by an exchange", repaired, tw_seed_count());
}
END_TEST

/* A SYNC from node `src` carrying a one-bucket digest that differs from
 * any real one, with `flags`, into buf; returns its length. */
static size_t forge_digest(struct sim *w, int src, uint8_t *buf, size_t cap, uint8_t flags)
{
    size_t len = tw_forge(w, buf, cap, WIRE_SYNC, flags, src, NULL, 0);
    uint32_t sums[1] = {0x12345678};
    uint8_t body[64], *b = body, *p = buf + len;
    ck_assert_int_eq(wire_encode_digest(&b, body + sizeof(body), 0, sums), 0);
    ck_assert_int_eq(wire_encode_item(&p, buf + cap, WIRE_ITEM_DIGEST, body, (size_t)(b - body)),
                     0);
    return (size_t)(p - buf);
}

/*
 * A digest that does not ask (no WANT_REPLY) is taken only as the answer of
 * a member we asked: one that comes from a member we never ask (a FAILED
 * one, with reconnect off) makes us send no SYNC.  A digest that asks is
 * answered with the differing buckets' records and our digest, from the
 * same token bucket as whole tables: a flood of 1,000 gets at most
 * SWIM_TABLE_BURST answers.
 */
START_TEST(swim_test_sync_answers_bounded_and_only_when_asked)
{
    const int n = 30, dead = 1;
    struct swim_config c = tw_profile("lan");
    c.reconnect_interval_ms = 0;
    struct sim *w = tw_world(tw_seed_at(0), n, &c);
    tw_converge(w, 20000);
    ck_assert_int_eq(sim_kill(w, dead), 0);
    struct tw_subject sub = {dead, SWIM_FAILED};
    SIM_ASSERT(w, sim_run_until_pred(w, tw_pred_all_see, &sub, sim_now(w) + 120000) != UINT64_MAX,
               "n%d never failed", dead);
    uint8_t buf[256];
    size_t len = forge_digest(w, dead, buf, sizeof(buf), 0);
    struct sync_tap t = {0};
    sim_set_tap(w, count_sync, &t);
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(sim_inject(w, dead, 0, buf, len), 0);
    sim_run_for(w, 2 * SIM_DEFAULT_DELAY_MS); /* there and back (the tap sees arrivals) */
    SIM_ASSERT(w, t.tables == 0, "an unasked digest drew %llu SYNC datagrams",
               (unsigned long long)t.tables);

    len = forge_digest(w, dead, buf, sizeof(buf), WIRE_F_WANT_REPLY);
    struct swim_stats before, after;
    swim_get_stats(sim_swim(w, 0), &before);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(sim_inject(w, dead, 0, buf, len), 0);
    sim_run_for(w, 2 * SIM_DEFAULT_DELAY_MS);
    /* 30 records and a digest fit one datagram. */
    SIM_ASSERT(w, t.tables >= 1 && t.tables <= SWIM_TABLE_BURST,
               "1,000 asking digests drew %llu answers", (unsigned long long)t.tables);
    swim_get_stats(sim_swim(w, 0), &after);
    SIM_ASSERT(w, after.tables_refused - before.tables_refused >= 1000 - SWIM_TABLE_BURST,
               "only %llu refused",
               (unsigned long long)(after.tables_refused - before.tables_refused));
    sim_delete(w);
}
END_TEST

/*
 * Join at once.  Every node announces to node 0 in the same millisecond;
 * the seed's FEEDs are rate-limited, and the first ones hold few members.
 * Each node that learns from an exchange exchanges again after a gossip
 * interval, with a random member, both ways: the members that know much
 * double in number every round, so all N know all after about log2(N)
 * rounds.  Allowed: twice that many gossip intervals, plus one probe
 * interval for the first FEEDs and gossip to land.  (Before digests the
 * only exchange after a join came 10 gossip intervals later and 1,000
 * nodes took 10.9 s.)  A second after convergence the queues are empty
 * (at most one update a node is allowed): while learning, a member first
 * heard of by gossip is passed on SWIM_LEARN_SENDS times, where passing
 * each on retransmit_limit times left about 45,000 updates queued across
 * the 400 nodes at that moment, gossip nobody needed.
 */
static uint64_t join_rounds_bound_ms(const struct swim_config *c, int n)
{
    return 2 * (uint64_t)ceil(log2((double)n)) * c->gossip_interval_ms + c->probe_interval_ms;
}

START_TEST(swim_test_sync_mass_join_log_rounds)
{
    const int n = 400;
    struct swim_config c = tw_profile("lan");
    uint64_t bound = join_rounds_bound_ms(&c, n), worst = 0;
    for (int i = 0; i < 2 && i < tw_seed_count(); i++) {
        struct sim *w = tw_world(tw_seed_at(i), n, &c);
        sim_set_log_cap(w, 0);
        uint64_t took = tw_converge(w, bound);
        worst = took > worst ? took : worst;
        sim_run_for(w, 1000);
        uint64_t queued = 0;
        for (int k = 0; k < n; k++) {
            struct swim_stats st;
            swim_get_stats(sim_swim(w, k), &st);
            queued += st.pending_updates;
        }
        SIM_ASSERT(w, queued <= (uint64_t)n, "%llu updates still queued a second after the join",
                   (unsigned long long)queued);
        sim_delete(w);
    }
    printf("mass join: %d nodes all alive everywhere in at most %llu ms (bound %llu ms)\n", n,
           (unsigned long long)worst, (unsigned long long)bound);
}
END_TEST

/* The first GOSSIP datagram a node (`from`) sends: the name of its first
 * member record, and how many records it carries; and how many updates it
 * had queued the moment its FEED was applied (before any round it armed
 * then could run). */
struct first_record {
    int from;
    int records;
    int feeds;
    uint32_t queued;
    char name[SWIM_NAME_MAX + 1];
};

/* Runs after the handling of the first FEED with members: the tap sees a datagram before the node
 * handles it, and a call scheduled for now is ordered before the timers the
 * handling submits. */
static void read_queued(struct sim *w, void *ctx)
{
    struct first_record *f = ctx;
    struct swim_stats st;
    swim_get_stats(sim_swim(w, f->from), &st);
    f->queued = st.pending_updates;
}

static void catch_first_record(void *ctx, struct sim *w, int from, int to, const uint8_t *data,
                               size_t len, int delivered)
{
    struct first_record *f = ctx;
    struct wire_header h;
    struct wire_item it;
    struct wire_member m;
    const uint8_t *p = data, *end = data + len;
    if (wire_decode_header(&h, &p, end) != 0)
        return;
    bool feed = to == f->from && delivered && h.type == WIRE_FEED;
    if (!feed && (from != f->from || f->records > 0 || h.type != WIRE_GOSSIP))
        return;
    int records = 0;
    while (p < end && wire_decode_item(&it, &p, end) == 0) {
        const uint8_t *ip = it.data;
        if (it.kind != WIRE_ITEM_MEMBER || wire_decode_member(&m, &ip, it.data + it.len) != 0)
            continue;
        if (!feed && records == 0) {
            memcpy(f->name, m.name.ptr, m.name.len);
            f->name[m.name.len] = '\0';
        }
        records++;
    }
    if (!feed)
        f->records = records;
    else if (records > 0 && f->feeds++ == 0) /* not the cookie: a FEED with members */
        ck_assert_int_eq(sim_call_at(w, sim_now(w), read_queued, f), 0);
}

/*
 * A joiner learns the seed's whole table from its FEED, but the members a
 * table brings are not queued (anti-entropy carries them), so its first
 * gossip, sent the moment it becomes active, carries its own record and
 * nothing else, not the n records every member already has.  With
 * anti-entropy off they are queued as all but spent: gossip alone still
 * spreads them, after the joiner's own record.
 */
START_TEST(swim_test_sync_feed_not_queued_first)
{
    const int n = 40;
    for (int off = 0; off <= 1; off++) {
        /* Only the joiner's setting varies: a cluster started all at once
         * without anti-entropy can miss a member for good (13 of 40 seeds
         * of 40 nodes), so the cluster has it either way. */
        struct swim_config on = tw_profile("lan"), c = on;
        if (off)
            c.sync_interval_ms = 0;
        struct sim *w = settled_world(tw_seed_at(0), n, &on);
        int j = sim_add_node(w, "joiner", &c);
        ck_assert_int_ge(j, 0);
        struct first_record f = {.from = j};
        sim_set_tap(w, catch_first_record, &f);
        ck_assert_int_eq(sim_announce(w, j, 0), 0);
        /* The ANNOUNCE, the seed's cookie, the ANNOUNCE echoing it and the
         * FEED each cross one 1 ms link; the joiner's first gossip leaves
         * as the FEED is applied and crosses a fifth (the tap sees
         * datagrams arrive). */
        sim_run_for(w, 5 * SIM_DEFAULT_DELAY_MS);
        SIM_ASSERT(w, swim_member_count(sim_swim(w, j)) == (size_t)n,
                   "the joiner knows %zu members", swim_member_count(sim_swim(w, j)));
        uint32_t queued = off ? (uint32_t)n + 1 : 1;
        SIM_ASSERT(w, f.feeds >= 1 && f.queued == queued,
                   "the joiner queued %u updates (expected %u) on %d FEEDs", f.queued, queued,
                   f.feeds);
        SIM_ASSERT(w, strcmp(f.name, "joiner") == 0, "the joiner's first record was \"%s\"",
                   f.name);
        SIM_ASSERT(w, off ? f.records > 1 : f.records == 1,
                   "the joiner's first gossip carried %d records", f.records);
        sim_delete(w);
    }
}
END_TEST

/*
 * News leaves at once: a change made on an idle node reaches gossip_nodes
 * members within one link delay, where the periodic round would have
 * waited up to a gossip interval.
 */
START_TEST(swim_test_sync_news_leaves_at_once)
{
    const int n = 30, src = 3;
    struct swim_config c = tw_profile("lan");
    for (int i = 0; i < tw_seed_count(); i++) {
        struct sim *w = settled_world(tw_seed_at(i), n, &c);
        const uint8_t meta[] = {2, 'd', 'c', 1, 'a'};
        ck_assert_int_eq(swim_set_meta(sim_swim(w, src), meta, sizeof(meta), sim_now(w)), 0);
        sim_run_for(w, SIM_DEFAULT_DELAY_MS);
        int got = 0;
        for (int k = 0; k < n; k++) {
            struct swim_member_info mi;
            got += k != src && sim_member(w, k, src, &mi) == 0 && mi.meta_len == sizeof(meta);
        }
        SIM_ASSERT(w, got >= (int)c.gossip_nodes, "%d members had the change after one link delay",
                   got);
        sim_delete(w);
    }
}
END_TEST

/* Every running node's kept digest sums equal a recount of its table, and
 * its table's indexes agree. */
static void assert_digests_kept(struct sim *w, int n, int step)
{
    for (int k = 0; k < n; k++) {
        if (!sim_running(w, k))
            continue;
        SIM_ASSERT(w, swim__digest_consistent(sim_swim(w, k)),
                   "n%d's kept digest differs from a recount after step %d", k, step);
        SIM_ASSERT(w, swim__table_consistent(sim_swim(w, k)),
                   "n%d's table indexes disagree after step %d", k, step);
    }
}

/*
 * The digest sums are kept as members change (table.c calls sync.c at every
 * insertion, removal and change of generation, incarnation or status), not
 * recounted per exchange.  After many random changes of every kind (crashes,
 * restarts with a new generation, leaves, partitions and heals, pauses that
 * cause suspicions and refutations, loss, reaping) every node's kept sums
 * still equal a full recount, and its table's indexes (hash slots, probe
 * list) still agree with its members; and the recount does see a sum that
 * is off.
 */
START_TEST(swim_test_sync_digest_kept_equals_recount)
{
    const int n = 40;
    struct swim_config c = tw_profile("lan");
    c.reap_ms = 20000; /* tombstones go within the run too */
    for (int i = 0; i < tw_seed_count(); i++) {
        struct sim *w = tw_world(tw_seed_at(i), n, &c);
        sim_set_log_cap(w, 0);
        tw_converge(w, 20000);
        assert_digests_kept(w, n, 0);
        for (int step = 1; step <= 60; step++) {
            int x = 1 + (int)(sim_rand(w) % (uint64_t)(n - 1));
            switch (sim_rand(w) % 7) {
            case 0:
                sim_kill(w, x);
                break;
            case 1:
                sim_restart(w, x, 0); /* a new generation, often while held alive */
                break;
            case 2:
                sim_leave(w, x);
                break;
            case 3:
                sim_split(w, n / 2);
                break;
            case 4:
                sim_heal(w);
                break;
            case 5:
                sim_pause(w, x, 3000);
                break;
            default:
                sim_set_loss_default(w, (unsigned)(sim_rand(w) % 20));
                break;
            }
            sim_run_for(w, 500 + sim_rand(w) % 3000);
            assert_digests_kept(w, n, step);
        }
        sim_heal(w);
        sim_set_loss_default(w, 0);
        sim_run_for(w, 30000);
        assert_digests_kept(w, n, 61);
        struct swim *s = sim_swim(w, 0);
        s->digest[0]++;
        SIM_ASSERT(w, !swim__digest_consistent(s), "the recount missed a changed sum");
        s->digest[0]--;
        sim_delete(w);
    }
}
END_TEST

static Suite *sync_suite(void)
{
    Suite *s = suite_create("sync");
    TCase *tc = tcase_create("sync");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, swim_test_sync_idle_cost_flat_in_n);
    tcase_add_test(tc, swim_test_sync_repairs_only_differing_buckets);
    tcase_add_test(tc, swim_test_sync_answers_bounded_and_only_when_asked);
    tcase_add_test(tc, swim_test_sync_mass_join_log_rounds);
    tcase_add_test(tc, swim_test_sync_feed_not_queued_first);
    tcase_add_test(tc, swim_test_sync_news_leaves_at_once);
    tcase_add_test(tc, swim_test_sync_digest_kept_equals_recount);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sync_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
