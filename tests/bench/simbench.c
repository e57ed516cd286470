/*
 * simbench.c - the shared part of the simulated-world benchmarks; the model
 * is in simbench.h.
 */
#include "simbench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sb_preset(const char *name, struct swim_config *out)
{
    if (swim_config_profile(out, "lan") != 0)
        return -1;
    if (strcmp(name, "swimd") == 0)
        return 0;
    /* Plain SWIM on memberlist's lan timings, then Lifeguard's parts. */
    out->probe_timeout_ms = 500;
    out->indirect_checks = 3;
    out->awareness_max = 0;
    out->suspicion_max_mult = 1;
    out->buddy = 0;
    out->probe_retry = 0;
    out->guard = 0;
    out->reprobe = 0;
    int lifeguard = strcmp(name, "lifeguard") == 0;
    if (lifeguard || strcmp(name, "lha-probe") == 0)
        out->awareness_max = 8;
    if (lifeguard || strcmp(name, "lha-suspicion") == 0)
        out->suspicion_max_mult = 6;
    if (lifeguard || strcmp(name, "buddy") == 0)
        out->buddy = 1;
    if (!lifeguard && strcmp(name, "swim") != 0 && strcmp(name, "lha-probe") != 0 &&
        strcmp(name, "lha-suspicion") != 0 && strcmp(name, "buddy") != 0)
        return -1;
    return 0;
}

static int sb_pred_converged(struct sim *w, void *ctx)
{
    (void)ctx;
    return sim_all_see_all(w, SWIM_ALIVE);
}

struct sim *sb_world(uint64_t seed, int n, const struct swim_config *c, uint64_t within_ms)
{
    struct sim *w = sim_new(seed);
    if (w == NULL)
        abort();
    sim_set_log_cap(w, 0);
    if (sim_add_nodes(w, n, "n", c) != 0 || sim_announce_all(w, 0) != 0)
        abort();
    /* Check every 100 virtual ms: the check is N^2 lookups. */
    for (uint64_t t = 0; t < within_ms; t += 100) {
        sim_run_for(w, 100);
        if (sb_pred_converged(w, NULL))
            return w;
    }
    fprintf(stderr, "seed %llu: %d nodes did not converge in %llu ms\n", (unsigned long long)seed,
            n, (unsigned long long)within_ms);
    exit(1);
}

int sb_split(char *list, char **out, int max)
{
    int k = 0;
    for (char *tok = strtok(list, ","); tok != NULL && k < max; tok = strtok(NULL, ","))
        out[k++] = tok;
    return k;
}

static int sb_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

uint64_t sb_percentile(uint64_t *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(*v), sb_cmp_u64);
    size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    return v[rank == 0 ? 0 : (rank > n ? n : rank) - 1];
}

static void sb_observe(void *ctx, struct sim *w, int node, const struct swim_notification *nt,
                       uint64_t now)
{
    struct sb_watch *wa = ctx;
    (void)now;
    if (nt->type == SWIM_EV_USER || nt->type >= SWIM_EV_SELF_ACTIVE)
        return;
    int subj = sim_node_by_name(w, nt->member.name);
    if (subj < 0 || subj == node || subj >= wa->n || node >= wa->n)
        return;
    uint8_t rs = wa->role[subj], ro = wa->role[node];
    if (nt->type == SWIM_EV_MEMBER_FAILED && rs != SB_CRASHED) {
        if (rs == SB_HEALTHY) {
            wa->false_healthy++;
            wa->false_healthy_at_healthy += ro == SB_HEALTHY;
        } else {
            wa->false_faulty++;
        }
        wa->false_by_faulty += ro == SB_FAULTY;
    }
    if (nt->type == SWIM_EV_MEMBER_SUSPECT && rs != SB_CRASHED) {
        if (rs == SB_HEALTHY)
            wa->suspect_healthy++;
        else
            wa->suspect_faulty++;
    }
    if (rs != SB_FAULTY || ro != SB_HEALTHY)
        return;
    size_t pair = (size_t)node * (size_t)wa->n + (size_t)subj;
    uint8_t out = nt->member.status == SWIM_FAILED || nt->member.status == SWIM_LEFT;
    if (nt->type == SWIM_EV_MEMBER_REAPED)
        out = 1;
    if (out != wa->out[pair]) {
        wa->out[pair] = out;
        if (wa->flips[pair] < UINT16_MAX)
            wa->flips[pair]++;
    }
}

void sb_watch_start(struct sb_watch *wa, struct sim *w)
{
    memset(wa, 0, sizeof(*wa));
    wa->n = sim_node_count(w);
    size_t nn = (size_t)wa->n * (size_t)wa->n;
    wa->role = calloc((size_t)wa->n, 1);
    wa->out = calloc(nn, 1);
    wa->flips = calloc(nn, sizeof(*wa->flips));
    if (wa->role == NULL || wa->out == NULL || wa->flips == NULL)
        abort();
    sim_set_observer(w, sb_observe, wa);
}

void sb_watch_episode(struct sb_watch *wa)
{
    size_t nn = (size_t)wa->n * (size_t)wa->n;
    for (size_t i = 0; i < nn; i++) {
        if (wa->flips[i] > wa->flips_max)
            wa->flips_max = wa->flips[i];
        wa->flips_total += wa->flips[i];
        wa->flips[i] = 0;
    }
}

void sb_watch_free(struct sb_watch *wa, struct sim *w)
{
    sim_set_observer(w, NULL, NULL);
    free(wa->role);
    free(wa->out);
    free(wa->flips);
    memset(wa, 0, sizeof(*wa));
}

uint64_t sb_stat_sum(const struct sim *w, size_t off, const uint8_t *skip)
{
    uint64_t sum = 0;
    for (int i = 0; i < sim_node_count(w); i++) {
        struct swim_stats st;
        uint64_t v;
        if (!sim_running(w, i) || (skip != NULL && skip[i]))
            continue;
        swim_get_stats(sim_swim(w, i), &st);
        memcpy(&v, (const char *)&st + off, sizeof(v));
        sum += v;
    }
    return sum;
}

int sb_pred_healthy_agree(struct sim *w, void *ctx)
{
    const struct sb_watch *wa = ctx;
    for (int o = 0; o < wa->n; o++) {
        if (wa->role[o] != SB_HEALTHY || !sim_running(w, o))
            continue;
        for (int s = 0; s < wa->n; s++)
            if (s != o && sim_running(w, s) && sim_status(w, o, s) != SWIM_ALIVE)
                return 0;
    }
    return 1;
}
