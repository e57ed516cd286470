/*
 * lifeguard_bench.c - Lifeguard's experiment (Dadgar et al., DSN 2018,
 * section 6) in the simulated world: slow members, and what each part of
 * Lifeguard and swimd's own extensions do about them.
 *
 * A run: N lan nodes, converged; S of them (not node 0) become slow: every
 * datagram that reaches a slow node is handled SLOW_MS to SLOW_MS +
 * SLOW_JITTER_MS after it arrived, in arrival order (its CPU is starved; its
 * timers still fire on time, which is what makes SWIM's slow members accuse
 * healthy ones and miss their refutations).  RUN_MS (10 minutes) of virtual
 * time, during which a random healthy member crashes every CRASH_EVERY_MS
 * from CRASH_FIRST_MS on (it stays down).  Figures per configuration, size
 * and number of slow members:
 *   lg_<cfg>_n<N>_s<S>_fp_healthy   FAILED notifications about running healthy
 *                                   members (any observer)
 *   lg_<cfg>_n<N>_s<S>_fp_all       ... about any running member, slow ones too
 *   lg_<cfg>_n<N>_s<S>_detect_median_ms / _detect_p99_ms
 *                                   crash to FAILED at every healthy survivor
 *   lg_<cfg>_n<N>_s<S>_msgs_per_node_s   datagrams sent per node per second
 * Configurations: swim (plain SWIM, memberlist's timeouts), lha-probe,
 * lha-suspicion, buddy (each Lifeguard part alone), lifeguard (all three,
 * memberlist's defaults), swimd (the lan profile).
 *
 * Usage: lifeguard_bench [N [slow-counts [configs [delay-ms jitter-ms]]]]
 *   e.g. lifeguard_bench 100 1,4,16 swim,swimd   (default: N = 100, about a
 *   minute; 1, 2, 4, 8 and 16 slow members; every configuration; SLOW_MS
 *   plus up to SLOW_JITTER_MS).  N = 1,000 takes about two minutes per
 *   run, an hour for the whole table.  Another delay adds
 *   _d<delay + jitter> to the names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simbench.h"

enum {
    RUN_MS = 600000,
    SLOW_MS = 4000,         /* default processing delay of a slow member ... */
    SLOW_JITTER_MS = 12000, /* ... plus up to this */
    CRASH_FIRST_MS = 30000,
    CRASH_EVERY_MS = 60000,
    CRASHES = 9,
    STEP_MS = 100,
};

struct pending {
    int node;
    uint64_t at;   /* crash time */
    uint64_t took; /* 0 while undetected */
};

/* Does every running healthy node see `dead` failed? */
static int detected(const struct sim *w, const struct sb_watch *wa, int dead)
{
    for (int o = 0; o < wa->n; o++)
        if (o != dead && wa->role[o] == SB_HEALTHY && sim_running(w, o) &&
            sim_status(w, o, dead) != SWIM_FAILED)
            return 0;
    return 1;
}

static void run(const char *cfg, int n, int slow, uint32_t delay, uint32_t jitter)
{
    struct swim_config c;
    if (sb_preset(cfg, &c) != 0) {
        fprintf(stderr, "lifeguard_bench: unknown config %s\n", cfg);
        exit(2);
    }
    struct sim *w = sb_world(9000 + (uint64_t)n * 100 + (uint64_t)slow, n, &c, 120000);
    struct sb_watch wa;
    sb_watch_start(&wa, w);
    /* Slow members: spread over the index range, never node 0. */
    for (int i = 0; i < slow; i++) {
        int x = 1 + (int)((uint64_t)i * (uint64_t)(n - 1) / (uint64_t)slow);
        wa.role[x] = SB_FAULTY;
        sim_set_slow(w, x, delay, jitter);
    }
    struct sim_net_stats net0, net1;
    sim_net_total(w, &net0);
    struct pending crash[CRASHES];
    int crashes = 0;
    uint64_t t0 = sim_now(w);
    for (uint64_t t = 0; t < RUN_MS; t += STEP_MS) {
        if (crashes < CRASHES && t == CRASH_FIRST_MS + (uint64_t)crashes * CRASH_EVERY_MS) {
            int x;
            do
                x = 1 + (int)(sim_rand(w) % (uint64_t)(n - 1));
            while (wa.role[x] != SB_HEALTHY);
            wa.role[x] = SB_CRASHED;
            sim_kill(w, x);
            crash[crashes++] = (struct pending){x, sim_now(w), 0};
        }
        sim_run_for(w, STEP_MS);
        for (int k = 0; k < crashes; k++)
            if (crash[k].took == 0 && detected(w, &wa, crash[k].node))
                crash[k].took = sim_now(w) - crash[k].at;
    }
    sim_net_total(w, &net1);
    uint64_t took[CRASHES];
    int got = 0, missed = 0;
    for (int k = 0; k < crashes; k++) {
        if (crash[k].took != 0)
            took[got++] = crash[k].took;
        else
            missed++;
    }
    double secs = (double)(sim_now(w) - t0) / 1000.0;
    char name[96];
    if (delay == SLOW_MS && jitter == SLOW_JITTER_MS)
        snprintf(name, sizeof(name), "lg_%s_n%d_s%d", cfg, n, slow);
    else
        snprintf(name, sizeof(name), "lg_%s_n%d_s%d_d%u", cfg, n, slow, delay + jitter);
    printf("%s_fp_healthy %llu verdicts\n", name, (unsigned long long)wa.false_healthy);
    printf("%s_fp_all %llu verdicts\n", name,
           (unsigned long long)(wa.false_healthy + wa.false_faulty));
    printf("%s_detect_median_ms %llu ms\n", name,
           (unsigned long long)sb_percentile(took, (size_t)got, 50));
    printf("%s_detect_p99_ms %llu ms\n", name,
           (unsigned long long)sb_percentile(took, (size_t)got, 99));
    if (missed > 0)
        printf("%s_undetected %d crashes\n", name, missed);
    printf("%s_msgs_per_node_s %.2f msgs/s\n", name,
           (double)(net1.sent_packets - net0.sent_packets) / n / secs);
    fflush(stdout);
    sb_watch_free(&wa, w);
    sim_delete(w);
}

int main(int argc, char **argv)
{
    char sizes_d[] = "100", slow_d[] = "1,2,4,8,16";
    char cfgs_d[] = "swim,lha-probe,lha-suspicion,buddy,lifeguard,swimd";
    char *sizes[8], *slows[8], *cfgs[8];
    int ns = sb_split(argc > 1 ? argv[1] : sizes_d, sizes, 8);
    int nl = sb_split(argc > 2 ? argv[2] : slow_d, slows, 8);
    int nc = sb_split(argc > 3 ? argv[3] : cfgs_d, cfgs, 8);
    uint32_t delay = argc > 5 ? (uint32_t)atol(argv[4]) : SLOW_MS;
    uint32_t jitter = argc > 5 ? (uint32_t)atol(argv[5]) : SLOW_JITTER_MS;
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < nl; j++)
            for (int k = 0; k < nc; k++)
                run(cfgs[k], atoi(sizes[i]), atoi(slows[j]), delay, jitter);
    return 0;
}
