/*
 * rapid_bench.c - the partial-reachability scenarios Rapid (Suresh et al.,
 * USENIX ATC 2018) uses against memberlist, in the simulated world.
 *
 * N lan nodes (1,000 by default), converged, then one scenario:
 *   flip   10 nodes lose all ingress, 20 s on / 20 s off, EPISODES times
 *   lossy  1% of the nodes lose 80% of their ingress for LOSSY_MS
 *   single one node is reachable from a single peer (its egress intact)
 *          for SINGLE_MS
 * then the fault ends.  Figures per configuration and scenario:
 *   rapid_<cfg>_<scenario>_healthy_failed   FAILED notifications about healthy
 *                                           members, any observer (want 0)
 *   rapid_<cfg>_<scenario>_changes_max      the most times one healthy observer
 *                                           moved one faulty node out of or back
 *                                           into its view within one episode
 *                                           (failed, then alive again, is 2)
 *   rapid_<cfg>_<scenario>_changes_mean     the same, averaged over observer,
 *                                           faulty node and episode
 *   rapid_<cfg>_<scenario>_faulty_suspicions SUSPECT notifications about the
 *                                           faulty nodes (context, not a verdict)
 *   rapid_<cfg>_<scenario>_agree_ms         from the end of the fault until every
 *                                           healthy node sees every node alive
 *
 * Usage: rapid_bench [N [scenarios [configs]]]   e.g. rapid_bench 200 flip swimd
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simbench.h"

enum {
    EPISODES = 3,
    FLIP_ON_MS = 20000,
    FLIP_OFF_MS = 20000,
    LOSSY_MS = 120000,
    SINGLE_MS = 120000,
    AGREE_MAX_MS = 120000,
    STEP_MS = 100,
};

/* Run until every healthy node sees every node alive; the time it took. */
static uint64_t agree(struct sim *w, struct sb_watch *wa)
{
    uint64_t t0 = sim_now(w);
    while (!sb_pred_healthy_agree(w, wa)) {
        if (sim_now(w) - t0 >= AGREE_MAX_MS)
            return UINT64_MAX;
        sim_run_for(w, STEP_MS);
    }
    return sim_now(w) - t0;
}

/* The faulty nodes: `count` of them spread over the index range (not 0). */
static int faulty_at(int i, int count, int n)
{
    return 1 + (int)((uint64_t)i * (uint64_t)(n - 1) / (uint64_t)count);
}

static void run(const char *cfg, const char *scenario, int n)
{
    struct swim_config c;
    if (sb_preset(cfg, &c) != 0) {
        fprintf(stderr, "rapid_bench: unknown config %s\n", cfg);
        exit(2);
    }
    struct sim *w = sb_world(11000 + (uint64_t)n, n, &c, 120000);
    struct sb_watch wa;
    sb_watch_start(&wa, w);
    int count = strcmp(scenario, "single") == 0 ? 1 : n / 100 > 0 ? n / 100 : 1;
    int episodes = 1;
    uint64_t agree_ms;
    for (int i = 0; i < count; i++)
        wa.role[faulty_at(i, count, n)] = SB_FAULTY;
    if (strcmp(scenario, "flip") == 0) {
        episodes = EPISODES;
        for (int e = 0; e < EPISODES; e++) {
            for (int i = 0; i < count; i++)
                sim_cut(w, -1, faulty_at(i, count, n));
            sim_run_for(w, FLIP_ON_MS);
            for (int i = 0; i < count; i++)
                sim_uncut(w, -1, faulty_at(i, count, n));
            if (e == EPISODES - 1)
                break;
            sim_run_for(w, FLIP_OFF_MS);
            sb_watch_episode(&wa);
        }
    } else if (strcmp(scenario, "lossy") == 0) {
        for (int i = 0; i < count; i++)
            sim_set_node_loss(w, faulty_at(i, count, n), 80, 0);
        sim_run_for(w, LOSSY_MS);
        for (int i = 0; i < count; i++)
            sim_set_node_loss(w, faulty_at(i, count, n), 0, 0);
    } else if (strcmp(scenario, "single") == 0) {
        int x = faulty_at(0, 1, n), peer = 0;
        sim_reachable_only_from(w, x, &peer, 1);
        sim_run_for(w, SINGLE_MS);
        sim_uncut(w, -1, x);
    } else {
        fprintf(stderr, "rapid_bench: unknown scenario %s\n", scenario);
        exit(2);
    }
    agree_ms = agree(w, &wa);
    if (strcmp(scenario, "flip") == 0 && agree_ms < FLIP_OFF_MS)
        sim_run_for(w, FLIP_OFF_MS - agree_ms); /* the last episode's off period */
    sb_watch_episode(&wa);
    uint64_t pairs = (uint64_t)(n - count) * (uint64_t)count * (uint64_t)episodes;
    char name[96];
    snprintf(name, sizeof(name), "rapid_%s_%s", cfg, scenario);
    printf("%s_healthy_failed %llu verdicts\n", name, (unsigned long long)wa.false_healthy);
    printf("%s_changes_max %llu changes\n", name, (unsigned long long)wa.flips_max);
    printf("%s_changes_mean %.2f changes\n", name, (double)wa.flips_total / (double)pairs);
    printf("%s_faulty_suspicions %llu notifications\n", name,
           (unsigned long long)wa.suspect_faulty);
    if (agree_ms == UINT64_MAX)
        printf("%s_agree_ms never (within %d ms)\n", name, AGREE_MAX_MS);
    else
        printf("%s_agree_ms %llu ms\n", name, (unsigned long long)agree_ms);
    fflush(stdout);
    sb_watch_free(&wa, w);
    sim_delete(w);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    char scen_d[] = "flip,lossy,single", cfgs_d[] = "swimd,lifeguard";
    char *scen[4], *cfgs[8];
    int ns = sb_split(argc > 2 ? argv[2] : scen_d, scen, 4);
    int nc = sb_split(argc > 3 ? argv[3] : cfgs_d, cfgs, 8);
    if (n < 3) {
        fprintf(stderr, "usage: rapid_bench [N [scenarios [configs]]]\n");
        return 2;
    }
    for (int k = 0; k < nc; k++)
        for (int i = 0; i < ns; i++)
            run(cfgs[k], scen[i], n);
    return 0;
}
