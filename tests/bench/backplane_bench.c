/*
 * backplane_bench.c - the seed's device benchmarks (async-backplane
 * benches/device.rs), in ns per iteration.  Prints one "name value unit" line
 * per figure.
 *
 *   create_destroy              create a device, delete it
 *   device_monitor_drop         create d1, d2; d1 monitors d2; delete d2
 *                               (d1's inbox gets the disconnect); delete d1
 *   device_monitor_drop_notify  the same, but d1 reads the disconnect first
 *   device_peer_drop_notify     the same with a peer link
 *
 * Each figure is the best of BENCH_RUNS runs of BENCH_ITERS iterations on one
 * backplane, so the slot and cell pools are warm as in a long-running agent.
 * Build it without sanitizers for meaningful numbers, e.g.
 *   meson setup /tmp/build-bp-rel -Dbuildtype=release -Db_sanitize=none
 */
#include "backplane.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* A million iterations take tens of milliseconds: long enough to swamp clock
 * overhead, short enough that all the runs finish within a few seconds. */
#define BENCH_ITERS 1000000L

/* The best of many short runs filters out scheduler noise on a shared machine. */
#define BENCH_RUNS 15

typedef int (*bench_f)(struct bp *bp);

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int create_destroy(struct bp *bp)
{
    bp_id d;
    int rc = bp_device_new(bp, NULL, &d);
    return rc != 0 ? rc : bp_device_delete(bp, d);
}

/* Creates d1 and d2, links them, deletes d2, optionally reads d1's inbox, and
 * deletes d1.  Every step is checked so a broken build cannot look fast. */
static int pair_drop(struct bp *bp, enum bp_link_mode mode, int read)
{
    bp_id d1, d2;
    struct bp_disconnect m;
    int rc = bp_device_new(bp, NULL, &d1);
    if (rc == 0) {
        rc = bp_device_new(bp, NULL, &d2);
    }
    if (rc == 0) {
        rc = bp_link(bp, d1, d2, mode);
    }
    if (rc == 0) {
        rc = bp_device_delete(bp, d2);
    }
    if (rc == 0 && read) {
        rc = bp_device_recv(bp, d1, &m);
        if (rc == 0 && m.id != d2) {
            rc = ERR_STATE;
        }
    }
    if (rc == 0) {
        rc = bp_device_delete(bp, d1);
    }
    return rc;
}

static int device_monitor_drop(struct bp *bp)
{
    return pair_drop(bp, BP_MONITOR, 0);
}

static int device_monitor_drop_notify(struct bp *bp)
{
    return pair_drop(bp, BP_MONITOR, 1);
}

static int device_peer_drop_notify(struct bp *bp)
{
    return pair_drop(bp, BP_PEER, 1);
}

static int run(const char *name, bench_f fn)
{
    struct bp *bp = bp_new();
    if (bp == NULL) {
        fprintf(stderr, "%s: out of memory\n", name);
        return 1;
    }
    double best = 0;
    for (int r = 0; r < BENCH_RUNS; r++) {
        double t0 = now_ns();
        for (long i = 0; i < BENCH_ITERS; i++) {
            int rc = fn(bp);
            if (rc != 0) {
                fprintf(stderr, "%s: iteration %ld failed: %s\n", name, i, err_strerror(rc));
                bp_delete(bp);
                return 1;
            }
        }
        double per = (now_ns() - t0) / (double)BENCH_ITERS;
        if (r == 0 || per < best) {
            best = per;
        }
    }
    bp_delete(bp);
    printf("%s %.1f ns\n", name, best);
    fflush(stdout);
    return 0;
}

int main(void)
{
    int failed = 0;
    failed |= run("create_destroy", create_destroy);
    failed |= run("device_monitor_drop", device_monitor_drop);
    failed |= run("device_monitor_drop_notify", device_monitor_drop_notify);
    failed |= run("device_peer_drop_notify", device_peer_drop_notify);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
