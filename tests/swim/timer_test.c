/*
 * timer_test.c - the core's timer contract with a hand-driven runtime.
 *
 * The simulated world fires every timer exactly on time; a real runtime
 * does not (libevent computes deadlines from a cached clock, so a timer can
 * fire a few milliseconds "early" by the clock the agent passes in).  These
 * tests capture every submitted timer and hand it back when and how the test
 * chooses.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "swim.h"
#include "swim_int.h" /* SWIM_REAP_SWEEP_MIN_MS */
#include "testworld.h"
#include "wire.h"

#define TIMERS_MAX 256

struct rt_log {
    struct swim_timer timers[TIMERS_MAX];
    uint64_t due[TIMERS_MAX];
    size_t n;
    struct swim_timer cancelled[TIMERS_MAX];
    size_t nc;
    uint64_t now;
    int failed, suspect;
    size_t sent;             /* datagrams sent */
    struct wire_header last; /* header of the last one (its names point into buf) */
    uint8_t buf[2048];
};

static void on_notify(void *ctx, const struct swim_notification *n)
{
    struct rt_log *l = ctx;
    l->failed += n->type == SWIM_EV_MEMBER_FAILED;
    l->suspect += n->type == SWIM_EV_MEMBER_SUSPECT;
}

static void on_send(void *ctx, const struct swim_addr *to, const uint8_t *d, size_t len)
{
    struct rt_log *l = ctx;
    (void)to;
    ck_assert_uint_le(len, sizeof(l->buf));
    memcpy(l->buf, d, len);
    const uint8_t *p = l->buf;
    ck_assert_int_eq(wire_decode_header(&l->last, &p, l->buf + len), 0);
    l->sent++;
}

static void on_timer(void *ctx, const struct swim_timer *t, uint64_t delay)
{
    struct rt_log *l = ctx;
    ck_assert_uint_lt(l->n, TIMERS_MAX);
    l->timers[l->n] = *t;
    l->due[l->n] = l->now + delay;
    l->n++;
}

static void on_cancel(void *ctx, const struct swim_timer *t)
{
    struct rt_log *l = ctx;
    ck_assert_uint_lt(l->nc, TIMERS_MAX);
    l->cancelled[l->nc++] = *t;
}

/* A GOSSIP from "peer-c" carrying one record about "peer-b". */
static size_t gossip_about_b(uint8_t *buf, size_t cap, uint8_t status)
{
    struct wire_header h;
    struct wire_member m;
    uint8_t body[256];
    memset(&h, 0, sizeof(h));
    memset(&m, 0, sizeof(m));
    h.type = WIRE_GOSSIP;
    h.src.ptr = "peer-c";
    h.src.len = 6;
    h.src_gen = 1;
    m.name.ptr = "peer-b";
    m.name.len = 6;
    m.addr.len = 1;
    m.addr.bytes[0] = 2;
    m.gen = 1;
    m.status = status;
    m.by.ptr = "peer-c";
    m.by.len = status == WIRE_SUSPECT ? 6 : 0;
    uint8_t *p = buf, *b = body;
    ck_assert_int_eq(wire_encode_header(&p, buf + cap, &h), 0);
    ck_assert_int_eq(wire_encode_member(&b, body + sizeof(body), &m), 0);
    ck_assert_int_eq(wire_encode_item(&p, buf + cap, WIRE_ITEM_MEMBER, body, (size_t)(b - body)),
                     0);
    return (size_t)(p - buf);
}

/* peer-a, started, with a runtime that cancels or (NULL) does not. */
static struct swim *node_with(struct rt_log *l, void (*cancel)(void *, const struct swim_timer *))
{
    struct swim_config c;
    struct swim_addr self = {.len = 1, .bytes = {1}};
    struct swim_runtime rt = {l, on_notify, on_send, on_timer, cancel, NULL};
    ck_assert_int_eq(swim_config_profile(&c, "lan"), 0);
    struct swim *s = swim_new(&c, "peer-a", &self, 1, 7, &rt);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(swim_start(s, l->now), 0);
    return s;
}

static struct swim *node(struct rt_log *l)
{
    return node_with(l, on_cancel);
}

/* Index of the last submitted timer of a kind, or -1. */
static int last_timer(const struct rt_log *l, uint32_t kind)
{
    for (size_t i = l->n; i-- > 0;)
        if (l->timers[i].kind == kind)
            return (int)i;
    return -1;
}

/* Hand back the last submitted timer of a kind at its due time. */
static void fire_last(struct swim *s, struct rt_log *l, uint32_t kind)
{
    int i = last_timer(l, kind);
    ck_assert_int_ge(i, 0);
    l->now = l->due[i];
    struct swim_timer t = l->timers[i];
    ck_assert_int_eq(swim_handle_timer(s, &t, l->now), 0);
}

/* peer-b's ACK to our ping with sequence seq, 1 ms later. */
static void ack_from_b(struct swim *s, struct rt_log *l, uint32_t seq)
{
    struct wire_header h;
    memset(&h, 0, sizeof(h));
    h.type = WIRE_ACK;
    h.src.ptr = "peer-b";
    h.src.len = 6;
    h.src_gen = 1;
    h.seq = seq;
    uint8_t buf[256], *p = buf;
    ck_assert_int_eq(wire_encode_header(&p, buf + sizeof(buf), &h), 0);
    struct swim_addr b = {.len = 1, .bytes = {2}};
    l->now += 1;
    ck_assert_int_eq(swim_handle_packet(s, &b, buf, (size_t)(p - buf), l->now), 0);
}

/* peer-a knowing peer-b (alive, from peer-c's gossip), its probe of peer-b
 * started: returns the probe's sequence number. */
static uint32_t probe_b(struct swim *s, struct rt_log *l)
{
    struct swim_addr from = {.len = 1, .bytes = {3}};
    uint8_t buf[512];
    size_t len = gossip_about_b(buf, sizeof(buf), WIRE_ALIVE);
    ck_assert_int_eq(swim_handle_packet(s, &from, buf, len, l->now), 0);
    fire_last(s, l, SWIM_TIMER_PROBE);
    ck_assert_int_eq(l->last.type, WIRE_PING);
    ck_assert_int_eq(l->timers[last_timer(l, SWIM_TIMER_PROBE_TIMEOUT)].token, l->last.seq);
    return l->last.seq;
}

/*
 * A probe answered before its timeout is judged at the answer, and its
 * PROBE_TIMEOUT, moot from then on, is cancelled: exactly that timer, once.
 * Handed back anyway (a runtime that lost the race), it does nothing.
 */
START_TEST(swim_test_timer_cancel_answered_probe)
{
    struct rt_log l;
    memset(&l, 0, sizeof(l));
    l.now = 1000;
    struct swim *s = node(&l);
    uint32_t seq = probe_b(s, &l);
    ck_assert_uint_eq(l.nc, 0);
    ack_from_b(s, &l, seq);
    ck_assert_uint_eq(l.nc, 1);
    ck_assert_uint_eq(l.cancelled[0].kind, SWIM_TIMER_PROBE_TIMEOUT);
    ck_assert_uint_eq(l.cancelled[0].token, seq);
    ck_assert_uint_eq(l.cancelled[0].arg32, 0);
    /* A second ACK (a retried ping's) finds no probe: nothing more. */
    ack_from_b(s, &l, seq);
    ck_assert_uint_eq(l.nc, 1);
    size_t timers = l.n, sent = l.sent;
    fire_last(s, &l, SWIM_TIMER_PROBE_TIMEOUT);
    ck_assert_uint_eq(l.n, timers);
    ck_assert_uint_eq(l.sent, sent);
    ck_assert_uint_eq(l.nc, 1);
    ck_assert_int_eq(l.suspect, 0);
    swim_delete(s);
}
END_TEST

/* An answer that comes after the timeout (it armed the JUDGE timer and
 * sent the PING_REQs) cancels the JUDGE timer instead. */
START_TEST(swim_test_timer_cancel_late_answer_cancels_judge)
{
    struct rt_log l;
    memset(&l, 0, sizeof(l));
    l.now = 1000;
    struct swim *s = node(&l);
    uint32_t seq = probe_b(s, &l);
    fire_last(s, &l, SWIM_TIMER_PROBE_TIMEOUT);
    int j = last_timer(&l, SWIM_TIMER_JUDGE);
    ck_assert_int_ge(j, 0);
    ck_assert_uint_eq(l.timers[j].token, seq);
    ck_assert_uint_eq(l.nc, 0); /* the timeout was handed back: nothing to cancel */
    ack_from_b(s, &l, seq);
    ck_assert_uint_eq(l.nc, 1);
    ck_assert_uint_eq(l.cancelled[0].kind, SWIM_TIMER_JUDGE);
    ck_assert_uint_eq(l.cancelled[0].token, seq);
    fire_last(s, &l, SWIM_TIMER_JUDGE);
    ck_assert_int_eq(l.suspect, 0);
    swim_delete(s);
}
END_TEST

/* Without a cancel hook the core does the same: the moot timers come back
 * and change nothing, timer for timer and datagram for datagram. */
START_TEST(swim_test_timer_cancel_hook_optional)
{
    struct rt_log with, without;
    memset(&with, 0, sizeof(with));
    memset(&without, 0, sizeof(without));
    with.now = without.now = 1000;
    struct swim *a = node(&with);
    struct swim *b = node_with(&without, NULL);
    struct rt_log *logs[2] = {&with, &without};
    struct swim *nodes[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        uint32_t seq = probe_b(nodes[k], logs[k]);
        ack_from_b(nodes[k], logs[k], seq);
        fire_last(nodes[k], logs[k], SWIM_TIMER_PROBE_TIMEOUT);
        seq = probe_b(nodes[k], logs[k]); /* the next period's probe */
        fire_last(nodes[k], logs[k], SWIM_TIMER_PROBE_TIMEOUT);
        ack_from_b(nodes[k], logs[k], seq);
        fire_last(nodes[k], logs[k], SWIM_TIMER_JUDGE);
    }
    ck_assert_uint_eq(with.nc, 2);
    ck_assert_uint_eq(without.nc, 0);
    ck_assert_uint_eq(with.n, without.n);
    ck_assert_int_eq(memcmp(with.timers, without.timers, with.n * sizeof(with.timers[0])), 0);
    ck_assert_int_eq(memcmp(with.due, without.due, with.n * sizeof(with.due[0])), 0);
    ck_assert_uint_eq(with.sent, without.sent);
    ck_assert_int_eq(with.suspect + without.suspect, 0);
    swim_delete(a);
    swim_delete(b);
}
END_TEST

START_TEST(swim_test_early_suspect_timer_rearms)
{
    struct rt_log l;
    memset(&l, 0, sizeof(l));
    l.now = 1000;
    struct swim *s = node(&l);
    struct swim_addr from = {.len = 1, .bytes = {3}};
    uint8_t buf[512];
    size_t len = gossip_about_b(buf, sizeof(buf), WIRE_ALIVE);
    ck_assert_int_eq(swim_handle_packet(s, &from, buf, len, l.now), 0);
    len = gossip_about_b(buf, sizeof(buf), WIRE_SUSPECT);
    ck_assert_int_eq(swim_handle_packet(s, &from, buf, len, l.now), 0);
    ck_assert_int_eq(l.suspect, 1);
    int i = last_timer(&l, SWIM_TIMER_SUSPECT);
    ck_assert_int_ge(i, 0);
    struct swim_timer t = l.timers[i];
    uint64_t due = l.due[i];

    /* Handed back 3 ms early: b stays suspect and a timer for the rest is
     * submitted. */
    size_t before = l.n;
    l.now = due - 3;
    ck_assert_int_eq(swim_handle_timer(s, &t, l.now), 0);
    ck_assert_int_eq(l.failed, 0);
    i = last_timer(&l, SWIM_TIMER_SUSPECT);
    ck_assert_uint_gt(l.n, before);
    ck_assert_uint_eq((size_t)i, l.n - 1);
    ck_assert_uint_eq(l.due[i], due);

    /* On time, the verdict. */
    l.now = due;
    ck_assert_int_eq(swim_handle_timer(s, &l.timers[i], l.now), 0);
    ck_assert_int_eq(l.failed, 1);
    struct swim_member_info mi;
    ck_assert_int_eq(swim_member_find(s, "peer-b", &mi), 0);
    ck_assert_int_eq(mi.status, SWIM_FAILED);
    swim_delete(s);
}
END_TEST

/* A timer from another suspicion (an old epoch) changes nothing. */
START_TEST(swim_test_stale_suspect_timer_ignored)
{
    struct rt_log l;
    memset(&l, 0, sizeof(l));
    l.now = 1000;
    struct swim *s = node(&l);
    struct swim_addr from = {.len = 1, .bytes = {3}};
    uint8_t buf[512];
    size_t len = gossip_about_b(buf, sizeof(buf), WIRE_ALIVE);
    ck_assert_int_eq(swim_handle_packet(s, &from, buf, len, l.now), 0);
    len = gossip_about_b(buf, sizeof(buf), WIRE_SUSPECT);
    ck_assert_int_eq(swim_handle_packet(s, &from, buf, len, l.now), 0);
    int i = last_timer(&l, SWIM_TIMER_SUSPECT);
    struct swim_timer t = l.timers[i];
    t.arg32 += 1; /* another suspicion's epoch */
    size_t before = l.n;
    ck_assert_int_eq(swim_handle_timer(s, &t, l.due[i] + 1), 0);
    ck_assert_int_eq(l.failed, 0);
    ck_assert_uint_eq(l.n, before);
    t.kind = 999; /* not a timer kind at all */
    ck_assert_int_eq(swim_handle_timer(s, &t, l.due[i] + 1), ERR_INVAL);
    swim_delete(s);
}
END_TEST

/*
 * An idle node wakes up for what it does, not for what it might have done.
 * In a converged lan cluster nothing is queued and every probe is answered
 * within a millisecond, so over a virtual minute a node arms, per period,
 * one PROBE and one PROBE_TIMEOUT (the answer judges the probe: no JUDGE
 * timer), no GOSSIP timer at all, and besides only its housekeeping: the
 * SYNC exchanges, RECONNECT and REAP sweeps, each at most once per its
 * interval (plus the one pending when the window opened).  And it is woken
 * by fewer still: every PROBE_TIMEOUT is cancelled by the answer, so none
 * is handed back.  Every node of a 20-node cluster, looped over the seeds.
 */
START_TEST(swim_test_timer_idle_arms_few_timers)
{
    enum { n = 20 };
    const uint64_t window = 60000;
    struct swim_config c = tw_profile("lan");
    const uint64_t periods = window / c.probe_interval_ms;
    const uint64_t chores =
        window / c.sync_interval_ms + window / c.reconnect_interval_ms +
        window / (c.reap_ms / 4 > SWIM_REAP_SWEEP_MIN_MS ? c.reap_ms / 4 : SWIM_REAP_SWEEP_MIN_MS) +
        3;
    for (int i = 0; i < tw_seed_count(); i++) {
        struct sim *w = tw_world(tw_seed_at(i), n, &c);
        sim_set_log_cap(w, 0);
        tw_converge(w, 20000);
        sim_run_for(w, 2 * (uint64_t)c.sync_interval_ms); /* the join's traffic is spent */
        uint64_t before[n][SIM_TIMER_KINDS], fired_before[n][SIM_TIMER_KINDS];
        for (int k = 0; k < n; k++)
            for (uint32_t kind = 0; kind < SIM_TIMER_KINDS; kind++) {
                before[k][kind] = sim_timers_submitted(w, k, kind);
                fired_before[k][kind] = sim_timers_fired(w, k, kind);
            }
        sim_run_for(w, window);
        for (int k = 0; k < n; k++) {
            uint64_t d[SIM_TIMER_KINDS], f[SIM_TIMER_KINDS];
            for (uint32_t kind = 0; kind < SIM_TIMER_KINDS; kind++) {
                d[kind] = sim_timers_submitted(w, k, kind) - before[k][kind];
                f[kind] = sim_timers_fired(w, k, kind) - fired_before[k][kind];
            }
            SIM_ASSERT(
                w, d[SWIM_TIMER_PROBE] <= periods + 1 && d[SWIM_TIMER_PROBE_TIMEOUT] <= periods + 1,
                "node %d: %llu PROBE and %llu PROBE_TIMEOUT timers in %llu periods", k,
                (unsigned long long)d[SWIM_TIMER_PROBE],
                (unsigned long long)d[SWIM_TIMER_PROBE_TIMEOUT], (unsigned long long)periods);
            SIM_ASSERT(w, d[SWIM_TIMER_JUDGE] == 0 && d[SWIM_TIMER_GOSSIP] == 0,
                       "node %d: %llu JUDGE and %llu GOSSIP timers while idle", k,
                       (unsigned long long)d[SWIM_TIMER_JUDGE],
                       (unsigned long long)d[SWIM_TIMER_GOSSIP]);
            SIM_ASSERT(w, d[0] <= 2 * (periods + 1) + chores,
                       "node %d: %llu timers in %llu periods (at most %llu)", k,
                       (unsigned long long)d[0], (unsigned long long)periods,
                       (unsigned long long)(2 * (periods + 1) + chores));
            SIM_ASSERT(w, f[SWIM_TIMER_PROBE_TIMEOUT] == 0 && f[SWIM_TIMER_JUDGE] == 0,
                       "node %d woken by %llu PROBE_TIMEOUT and %llu JUDGE timers while idle", k,
                       (unsigned long long)f[SWIM_TIMER_PROBE_TIMEOUT],
                       (unsigned long long)f[SWIM_TIMER_JUDGE]);
            SIM_ASSERT(w, f[0] <= periods + 1 + chores,
                       "node %d woken by %llu timers in %llu periods (at most %llu)", k,
                       (unsigned long long)f[0], (unsigned long long)periods,
                       (unsigned long long)(periods + 1 + chores));
        }
        sim_delete(w);
    }
}
END_TEST

int main(void)
{
    Suite *su = suite_create("swim_timer");
    TCase *tc = tcase_create("timer");
    tcase_add_test(tc, swim_test_early_suspect_timer_rearms);
    tcase_add_test(tc, swim_test_stale_suspect_timer_ignored);
    tcase_add_test(tc, swim_test_timer_idle_arms_few_timers);
    tcase_add_test(tc, swim_test_timer_cancel_answered_probe);
    tcase_add_test(tc, swim_test_timer_cancel_late_answer_cancels_judge);
    tcase_add_test(tc, swim_test_timer_cancel_hook_optional);
    suite_add_tcase(su, tc);
    SRunner *sr = srunner_create(su);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
