/*
 * rt_test.c - the runtime (agent/rt.h) between two in-process nodes, each a
 * real runtime on a loopback UDP socket sharing one event loop: the core's
 * timers as libevent runs them, cancellation included.
 */
#include <check.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "events.h"
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

static int rw_converged(struct rw *w)
{
    for (int i = 0; i < RW_NODES; i++)
        if (swim_active_count(rt_core(w->rt[i])) != RW_NODES - 1)
            return 0;
    return 1;
}

/* Run the loop for ms, or until pred holds (pred may be NULL). */
static int rw_run(struct rw *w, uint64_t ms, int (*pred)(struct rw *))
{
    uint64_t until = clock_mono_ms() + ms;
    while (!(pred != NULL && pred(w)) && clock_mono_ms() < until)
        event_base_loop(w->base, EVLOOP_ONCE);
    return pred != NULL && pred(w);
}

static void rw_start(struct rw *w)
{
    char err[256];
    memset(w, 0, sizeof(*w));
    w->base = rt_base_new();
    ck_assert_ptr_nonnull(w->base);
    ck_assert_int_eq(swim_config_profile(&w->scfg, "lan"), 0);
    w->scfg.probe_interval_ms = RW_PERIOD_MS;
    w->scfg.probe_timeout_ms = RW_TIMEOUT_MS;
    ck_assert_int_eq(swim_config_check(&w->scfg), 0);
    for (int i = 0; i < RW_NODES; i++) {
        char name[8];
        snprintf(name, sizeof(name), "r%d", i + 1);
        w->bus[i] = ev_bus_new(NULL);
        ck_assert_ptr_nonnull(w->bus[i]);
        struct rt_config rc = {
            .base = w->base,
            .bus = w->bus[i],
            .label = "",
            .name = name,
            .bind = "127.0.0.1:0",
            .scfg = &w->scfg,
            .generation = 1,
        };
        w->rt[i] = rt_new(&rc, err, sizeof(err));
        ck_assert_msg(w->rt[i] != NULL, "%s", err);
        ck_assert_int_eq(rt_start(w->rt[i]), 0);
    }
    struct swim_member_info first;
    swim_self(rt_core(w->rt[0]), &first);
    ck_assert_int_eq(swim_announce(rt_core(w->rt[1]), &first.addr, clock_mono_ms()), 0);
    ck_assert_msg(rw_run(w, 10000, rw_converged), "the nodes did not converge");
}

static void rw_stop(struct rw *w)
{
    for (int i = 0; i < RW_NODES; i++) {
        rt_delete(w->rt[i]); /* frees the timers still pending (ASan: no leak) */
        ev_bus_end(w->bus[i]);
        ev_bus_delete(w->bus[i]);
    }
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
    rw_start(&w);
    rw_run(&w, 10 * RW_PERIOD_MS, NULL); /* the join's gossip is spent */
    const uint64_t window = 3000, periods = window / RW_PERIOD_MS;
    struct rt_stats before[RW_NODES], after[RW_NODES];
    for (int i = 0; i < RW_NODES; i++)
        rt_get_stats(w.rt[i], &before[i]);
    rw_run(&w, window, NULL);
    for (int i = 0; i < RW_NODES; i++) {
        rt_get_stats(w.rt[i], &after[i]);
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

int main(void)
{
    Suite *s = suite_create("rt");
    TCase *tc = tcase_create("timers");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, rt_test_cancelled_timer_never_fires);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
