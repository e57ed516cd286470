/*
 * rt_test.c - the runtime (agent/rt.h) between two in-process nodes, each a
 * real runtime on a loopback UDP socket sharing one event loop: the core's
 * timers as libevent runs them, cancellation included; three that find
 * each other through one node's seeds (when the join logic wakes); and one
 * node alone fed raw datagrams: how the socket is read.
 */
#include <check.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "events.h"
#include "join.h"
#include "rt.h"

#define RW_NODES 2
/* A short protocol period, so a window of a few seconds holds many. */
#define RW_PERIOD_MS 100
#define RW_TIMEOUT_MS 50

struct rw {
    struct event_base *base;
    struct swim_config scfg;
    struct ev_bus *bus[RW_NODES];
    struct rt *rt[RW_NODES];
};

/* The protocol every node here runs: lan with a short period. */
static void node_scfg(struct swim_config *c)
{
    ck_assert_int_eq(swim_config_profile(c, "lan"), 0);
    c->probe_interval_ms = RW_PERIOD_MS;
    c->probe_timeout_ms = RW_TIMEOUT_MS;
    ck_assert_int_eq(swim_config_check(c), 0);
}

/* A started runtime on 127.0.0.1 (a free port) publishing on a new *bus;
 * seeds may be NULL. */
static struct rt *node_start(struct event_base *base, const struct swim_config *scfg,
                             const char *name, struct ev_bus **bus, const char *const *seeds,
                             size_t nseeds)
{
    char err[256];
    *bus = ev_bus_new(NULL);
    ck_assert_ptr_nonnull(*bus);
    struct rt_config rc = {
        .base = base,
        .bus = *bus,
        .label = "",
        .name = name,
        .bind = "127.0.0.1:0",
        .scfg = scfg,
        .generation = 1,
        .seeds = seeds,
        .seed_count = nseeds,
    };
    struct rt *rt = rt_new(&rc, err, sizeof(err));
    ck_assert_msg(rt != NULL, "%s", err);
    ck_assert_int_eq(rt_start(rt), 0);
    return rt;
}

static void node_delete(struct rt *rt, struct ev_bus *bus)
{
    rt_delete(rt); /* frees the timers still pending (ASan: no leak) */
    ev_bus_end(bus);
    ev_bus_delete(bus);
}

/* Run base's loop for ms, or until pred(w, arg) holds (pred may be NULL). */
static int loop_run(struct event_base *base, uint64_t ms, int (*pred)(void *, uint64_t), void *w,
                    uint64_t arg)
{
    uint64_t until = clock_mono_ms() + ms;
    while (!(pred != NULL && pred(w, arg)) && clock_mono_ms() < until)
        event_base_loop(base, EVLOOP_ONCE);
    return pred != NULL && pred(w, arg);
}

static int rw_converged(void *arg, uint64_t unused)
{
    (void)unused;
    struct rw *w = arg;
    for (int i = 0; i < RW_NODES; i++)
        if (swim_active_count(rt_core(w->rt[i])) != RW_NODES - 1)
            return 0;
    return 1;
}

static void rw_run(struct rw *w, uint64_t ms)
{
    loop_run(w->base, ms, NULL, w, 0);
}

/* Run the loop for ms with each node's counters read before and after. */
static void rw_window(struct rw *w, uint64_t ms, struct rt_stats *before, struct rt_stats *after)
{
    for (int i = 0; i < RW_NODES; i++)
        rt_get_stats(w->rt[i], &before[i]);
    rw_run(w, ms);
    for (int i = 0; i < RW_NODES; i++)
        rt_get_stats(w->rt[i], &after[i]);
}

/* Two nodes running scfg (NULL: node_scfg()), converged. */
static void rw_start(struct rw *w, const struct swim_config *scfg)
{
    memset(w, 0, sizeof(*w));
    w->base = rt_base_new();
    ck_assert_ptr_nonnull(w->base);
    if (scfg != NULL)
        w->scfg = *scfg;
    else
        node_scfg(&w->scfg);
    for (int i = 0; i < RW_NODES; i++) {
        char name[8];
        snprintf(name, sizeof(name), "r%d", i + 1);
        w->rt[i] = node_start(w->base, &w->scfg, name, &w->bus[i], NULL, 0);
    }
    struct swim_member_info first;
    swim_self(rt_core(w->rt[0]), &first);
    ck_assert_int_eq(swim_announce(rt_core(w->rt[1]), &first.addr, clock_mono_ms()), 0);
    ck_assert_msg(loop_run(w->base, 10000, rw_converged, w, 0), "the nodes did not converge");
}

static void rw_stop(struct rw *w)
{
    for (int i = 0; i < RW_NODES; i++)
        node_delete(w->rt[i], w->bus[i]);
    event_base_free(w->base);
}

/*
 * Two idle nodes probe each other every period and answer at once: each
 * answer cancels the probe's PROBE_TIMEOUT, which libevent then never runs.
 * Over the window a node is woken by about one timer per period (the
 * PROBE), not two; every probe but the one in flight cancelled its timeout.
 */
START_TEST(rt_test_cancelled_timer_never_fires)
{
    struct rw w;
    rw_start(&w, NULL);
    rw_run(&w, 10 * RW_PERIOD_MS); /* the join's gossip is spent */
    const uint64_t window = 3000, periods = window / RW_PERIOD_MS;
    struct rt_stats before[RW_NODES], after[RW_NODES];
    rw_window(&w, window, before, after);
    for (int i = 0; i < RW_NODES; i++) {
        uint64_t fired = after[i].timers_fired - before[i].timers_fired;
        uint64_t cancelled = after[i].timers_cancelled - before[i].timers_cancelled;
        /* A loaded machine may stretch a period; the bounds leave room. */
        ck_assert_msg(cancelled >= periods / 2 && cancelled <= periods + 2,
                      "node %d cancelled %llu timers in %llu periods", i,
                      (unsigned long long)cancelled, (unsigned long long)periods);
        ck_assert_msg(fired <= periods + periods / 4 + 4,
                      "node %d woken by %llu timers in %llu periods", i, (unsigned long long)fired,
                      (unsigned long long)periods);
        ck_assert_uint_le(after[i].timers, 16); /* nothing piles up */
    }
    rw_stop(&w);
}
END_TEST

/* Housekeeping intervals for the test below: long enough for a slack of a
 * whole (short) period, an eighth of each. */
#define RW_RECONNECT_MS (8 * RW_PERIOD_MS)
#define RW_SYNC_MS (16 * RW_PERIOD_MS)

/*
 * SYNC and RECONNECT come due between the wakeups two probing nodes have
 * anyway (a probe tick, a ping, an ack, several per period), so most are
 * handed back on those instead of making a wakeup of their own.
 */
START_TEST(rt_test_chores_ride_on_other_wakeups)
{
    struct swim_config c;
    node_scfg(&c);
    c.reconnect_interval_ms = RW_RECONNECT_MS;
    c.sync_interval_ms = RW_SYNC_MS;
    ck_assert_int_eq(swim_config_check(&c), 0);
    struct rw w;
    rw_start(&w, &c);
    rw_run(&w, 2 * RW_SYNC_MS); /* the join's fast syncs are spent */
    const uint64_t window = 4000;
    const uint64_t chores = window / RW_RECONNECT_MS + window / RW_SYNC_MS;
    struct rt_stats before[RW_NODES], after[RW_NODES];
    rw_window(&w, window, before, after);
    for (int i = 0; i < RW_NODES; i++) {
        uint64_t rode = after[i].timers_coalesced - before[i].timers_coalesced;
        /* A loaded machine may spread the wakeups; most still ride. */
        ck_assert_msg(rode >= chores / 2 && rode <= chores + 2,
                      "node %d: %llu of about %llu chores rode on other wakeups", i,
                      (unsigned long long)rode, (unsigned long long)chores);
    }
    rw_stop(&w);
}
END_TEST

/* ---- three nodes joined through one's seeds ------------------------------ */

#define JW_NODES 3
/* The node that joins through the others (its seeds: both of them and one
 * address where nobody answers, so losing one member leaves it with fewer
 * members than seeds). */
#define JW_JOINER 1
/* The one that leaves. */
#define JW_LEAVER 2
/* One look at the seeds is due this long after it is armed, at most:
 * JOIN_REANNOUNCE_PERIODS plus the 25% jitter (join.c), plus room. */
#define JW_LOOK_MS (JOIN_REANNOUNCE_PERIODS * RW_PERIOD_MS * 5 / 4 + 1500)

struct jw {
    struct event_base *base;
    struct swim_config scfg;
    struct ev_bus *bus[JW_NODES];
    struct rt *rt[JW_NODES];
};

static struct join_stats jw_join(struct jw *w)
{
    struct join_stats js;
    join_get_stats(rt_join(w->rt[JW_JOINER]), &js);
    return js;
}

static int jw_joiner_sees(void *w, uint64_t n)
{
    return swim_active_count(rt_core(((struct jw *)w)->rt[JW_JOINER])) == n;
}

static int jw_attempts(void *w, uint64_t n)
{
    return jw_join(w).attempts >= n;
}

static void jw_start(struct jw *w)
{
    memset(w, 0, sizeof(*w));
    w->base = rt_base_new();
    ck_assert_ptr_nonnull(w->base);
    node_scfg(&w->scfg);
    w->rt[0] = node_start(w->base, &w->scfg, "j1", &w->bus[0], NULL, 0);
    w->rt[2] = node_start(w->base, &w->scfg, "j3", &w->bus[2], NULL, 0);
    const char *seeds[] = {rt_self_text(w->rt[0]), rt_self_text(w->rt[2]),
                           "127.0.0.1:9"}; /* discard: nobody answers */
    w->rt[JW_JOINER] = node_start(w->base, &w->scfg, "j2", &w->bus[JW_JOINER], seeds, 3);
    ck_assert_msg(loop_run(w->base, 10000, jw_joiner_sees, w, JW_NODES - 1),
                  "the nodes did not converge");
}

static void jw_stop(struct jw *w)
{
    for (int i = 0; i < JW_NODES; i++)
        node_delete(w->rt[i], w->bus[i]);
    event_base_free(w->base);
}

/*
 * Once the joiner holds as many members as it has seeds, its join timer
 * rests: a settled node is not woken to count them again.  A member that
 * leaves makes it look once more, and announce to its seeds again, within
 * JOIN_REANNOUNCE_PERIODS.
 */
START_TEST(rt_test_join_rests_until_a_member_is_lost)
{
    struct jw w;
    jw_start(&w);
    uint32_t made = jw_join(&w).attempts;
    ck_assert_uint_ge(made, 1);
    /* The look due after SELF_ACTIVE finds enough members: no attempt, and
     * nothing due after it. */
    ck_assert_msg(!loop_run(w.base, JW_LOOK_MS, jw_attempts, &w, made + 1),
                  "a settled node announced");
    ck_assert_int_eq(jw_join(&w).scheduled, 0);
    ck_assert_int_eq(rt_leave(w.rt[JW_LEAVER], "test"), 0);
    ck_assert_msg(loop_run(w.base, 5000, jw_joiner_sees, &w, JW_NODES - 2),
                  "the leave was not seen");
    ck_assert_int_eq(jw_join(&w).scheduled, 1);
    rt_stop(w.rt[JW_LEAVER]);
    ck_assert_msg(loop_run(w.base, JW_LOOK_MS, jw_attempts, &w, made + 1),
                  "no attempt after a member left");
    jw_stop(&w);
}
END_TEST

/* ---- one node alone, fed raw datagrams ---------------------------------- */

/* A burst longer than one wakeup's share, and two datagrams of the largest
 * size the protocol allows at places a receive batch does not start. */
#define RX_BURST 61
#define RX_BIG_AT_1 5
#define RX_BIG_AT_2 42
#define RX_BIG_LEN 60000
/* What one wakeup reads at most (RT_READS_PER_WAKEUP in rt.c). */
#define RX_PER_WAKEUP 32

struct rx {
    struct event_base *base;
    struct swim_config scfg;
    struct ev_bus *bus;
    struct rt *rt;
    int out; /* the sender's socket */
    struct sockaddr_storage to;
    socklen_t tolen;
};

static void rx_start(struct rx *x)
{
    memset(x, 0, sizeof(*x));
    x->base = rt_base_new();
    ck_assert_ptr_nonnull(x->base);
    node_scfg(&x->scfg);
    x->rt = node_start(x->base, &x->scfg, "alone", &x->bus, NULL, 0);
    struct swim_member_info self;
    swim_self(rt_core(x->rt), &self);
    ck_assert_int_eq(addr_to_sockaddr(&x->to, &x->tolen, &self.addr, AF_INET), 0);
    x->out = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(x->out, 0);
}

static void rx_stop(struct rx *x)
{
    close(x->out);
    node_delete(x->rt, x->bus);
    event_base_free(x->base);
}

/* Send len bytes of junk (the core drops it as malformed). */
static void rx_send(struct rx *x, size_t len)
{
    static uint8_t junk[RX_BIG_LEN];
    ck_assert_uint_le(len, sizeof(junk));
    ck_assert_int_eq(sendto(x->out, junk, len, 0, (struct sockaddr *)&x->to, x->tolen),
                     (ssize_t)len);
}

static struct rt_stats rx_stats(struct rx *x)
{
    struct rt_stats st;
    rt_get_stats(x->rt, &st);
    return st;
}

/*
 * A burst queued at once (loopback delivers before sendto returns) is read
 * RX_PER_WAKEUP datagrams per wakeup, whole, the largest included wherever
 * they sit in a receive batch, until the last is taken.
 */
START_TEST(rt_test_burst_read_whole_in_fair_shares)
{
    struct rx x;
    rx_start(&x);
    struct rt_stats before = rx_stats(&x);
    uint64_t bytes = 0;
    for (int i = 0; i < RX_BURST; i++) {
        size_t len = i == RX_BIG_AT_1 || i == RX_BIG_AT_2 ? RX_BIG_LEN : 64;
        rx_send(&x, len);
        bytes += len;
    }
    event_base_loop(x.base, EVLOOP_ONCE);
    struct rt_stats st = rx_stats(&x);
    ck_assert_uint_eq(st.packets_in - before.packets_in, RX_PER_WAKEUP);
    uint64_t until = clock_mono_ms() + 5000;
    while (st.packets_in - before.packets_in < RX_BURST && clock_mono_ms() < until) {
        event_base_loop(x.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        st = rx_stats(&x);
    }
    ck_assert_uint_eq(st.packets_in - before.packets_in, RX_BURST);
    ck_assert_uint_eq(st.bytes_in - before.bytes_in, bytes);
    ck_assert_uint_eq(st.dropped_oversize, before.dropped_oversize);
    rx_stop(&x);
}
END_TEST

/*
 * The usual wakeup, one datagram, costs one receive call: the batch comes
 * back short, so the socket is known empty without a call that ends in
 * EAGAIN.
 */
START_TEST(rt_test_one_datagram_one_receive_call)
{
    struct rx x;
    rx_start(&x);
    for (int i = 0; i < 3; i++) {
        struct rt_stats before = rx_stats(&x);
        rx_send(&x, 90);
        event_base_loop(x.base, EVLOOP_ONCE);
        struct rt_stats st = rx_stats(&x);
        ck_assert_uint_eq(st.packets_in - before.packets_in, 1);
        ck_assert_uint_eq(st.recv_calls - before.recv_calls, 1);
    }
    rx_stop(&x);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rt");
    TCase *tc = tcase_create("timers");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, rt_test_cancelled_timer_never_fires);
    tcase_add_test(tc, rt_test_chores_ride_on_other_wakeups);
    suite_add_tcase(s, tc);
    TCase *jn = tcase_create("joining");
    tcase_set_timeout(jn, 60);
    tcase_add_test(jn, rt_test_join_rests_until_a_member_is_lost);
    suite_add_tcase(s, jn);
    TCase *rd = tcase_create("reading");
    tcase_set_timeout(rd, 30);
    tcase_add_test(rd, rt_test_burst_read_whole_in_fair_shares);
    tcase_add_test(rd, rt_test_one_datagram_one_receive_call);
    suite_add_tcase(s, rd);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
