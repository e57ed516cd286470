/*
 * detect_bench.c - how fast a crash is detected, in the simulated world.
 *
 * For each configuration (swimd's lan profile, and Lifeguard as memberlist
 * ships it) and cluster size: RUNS worlds, each converged, run on for a
 * random 0..10 s (a random phase), then one random member killed (kill -9:
 * it stops at once); measured until every survivor reports it failed.
 * Prints, per configuration and size:
 *   detect_<cfg>_n<N>_first_suspect_median_ms  crash to the first SUSPECT anywhere
 *   detect_<cfg>_n<N>_all_failed_median_ms     crash to FAILED at every survivor
 *   detect_<cfg>_n<N>_all_failed_p99_ms
 *   detect_<cfg>_n<N>_all_failed_max_ms
 *   detect_<cfg>_n<N>_false_failures           FAILED about a member still running
 *
 * Usage: detect_bench [runs] [sizes...]   (default 100 runs; N = 100 and 50)
 */
#include <stdio.h>
#include <stdlib.h>

#include "simbench.h"

struct crash {
    int dead;
    uint64_t first_suspect; /* UINT64_MAX until someone suspects it */
};

static void crash_observe(void *ctx, struct sim *w, int node, const struct swim_notification *nt,
                          uint64_t now)
{
    struct crash *c = ctx;
    (void)node;
    if (nt->type == SWIM_EV_MEMBER_SUSPECT && c->first_suspect == UINT64_MAX &&
        sim_node_by_name(w, nt->member.name) == c->dead)
        c->first_suspect = now;
}

static int pred_failed(struct sim *w, void *ctx)
{
    return sim_all_see(w, SWIM_FAILED, ((const struct crash *)ctx)->dead);
}

static void run(const char *cfg_name, int n, int runs)
{
    struct swim_config c;
    if (sb_preset(cfg_name, &c) != 0)
        abort();
    uint64_t *first = calloc((size_t)runs, sizeof(*first));
    uint64_t *all = calloc((size_t)runs, sizeof(*all));
    uint64_t false_failures = 0;
    if (first == NULL || all == NULL)
        abort();
    for (int r = 0; r < runs; r++) {
        struct sim *w = sb_world(5000 + (uint64_t)r, n, &c, 60000);
        sim_run_for(w, sim_rand(w) % 10000);
        struct crash cr = {.dead = 1 + (int)(sim_rand(w) % (uint64_t)(n - 1)),
                           .first_suspect = UINT64_MAX};
        sim_set_observer(w, crash_observe, &cr);
        uint64_t t0 = sim_now(w);
        sim_kill(w, cr.dead);
        uint64_t t = sim_run_until_pred(w, pred_failed, &cr, t0 + 300000);
        if (t == UINT64_MAX) {
            fprintf(stderr, "%s n=%d run %d: the crash was never detected\n", cfg_name, n, r);
            exit(1);
        }
        first[r] = cr.first_suspect - t0;
        all[r] = t - t0;
        if (getenv("DETECT_VERBOSE") != NULL)
            fprintf(stderr, "%s n=%d run %d: first suspect %llu ms, all failed %llu ms\n", cfg_name,
                    n, r, (unsigned long long)first[r], (unsigned long long)all[r]);
        for (int k = 0; k < n; k++)
            if (k != cr.dead)
                false_failures += (uint64_t)sim_count_seeing(w, SWIM_FAILED, k);
        sim_delete(w);
    }
    printf("detect_%s_n%d_first_suspect_median_ms %llu ms\n", cfg_name, n,
           (unsigned long long)sb_percentile(first, (size_t)runs, 50));
    printf("detect_%s_n%d_all_failed_median_ms %llu ms\n", cfg_name, n,
           (unsigned long long)sb_percentile(all, (size_t)runs, 50));
    printf("detect_%s_n%d_all_failed_p99_ms %llu ms\n", cfg_name, n,
           (unsigned long long)sb_percentile(all, (size_t)runs, 99));
    printf("detect_%s_n%d_all_failed_max_ms %llu ms\n", cfg_name, n,
           (unsigned long long)sb_percentile(all, (size_t)runs, 100));
    printf("detect_%s_n%d_false_failures %llu verdicts\n", cfg_name, n,
           (unsigned long long)false_failures);
    fflush(stdout);
    free(first);
    free(all);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 100;
    int sizes[8] = {100, 50};
    int n_sizes = 2;
    if (runs <= 0) {
        fprintf(stderr, "usage: detect_bench [runs] [sizes...]\n");
        return 2;
    }
    if (argc > 2) {
        n_sizes = 0;
        for (int i = 2; i < argc && n_sizes < 8; i++)
            sizes[n_sizes++] = atoi(argv[i]);
    }
    const char *cfgs[] = {"swimd", "lifeguard"};
    for (int s = 0; s < n_sizes; s++)
        for (size_t k = 0; k < sizeof(cfgs) / sizeof(cfgs[0]); k++)
            run(cfgs[k], sizes[s], runs);
    return 0;
}
