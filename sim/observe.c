/*
 * observe.c - swimsim's measurements of a running world; the model is in
 * observe.h.
 *
 * The counts behind "node o sees every running node alive": alive[o] is
 * how many members o holds ALIVE, dead_alive[o] how many of those are
 * crashed; o has the full view when it runs and alive[o] - dead_alive[o]
 * is the number of other running nodes.  A notification changes one pair
 * and so one observer's counts (O(1)); a crash changes every observer's
 * dead_alive and the number of running nodes (O(N)).
 */
#include "observe.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

/* view[] values: 0 for a member not in the table, else status + 1. */
#define OBS_UNKNOWN 0
#define OBS_AS(st) ((uint8_t)((st) + 1))

struct obs {
    struct sim *w;
    int n;
    uint8_t *view;       /* n x n: observer * n + subject */
    uint8_t *up;         /* running, as far as the observer knows */
    int *alive;          /* per observer: members held ALIVE */
    int *dead_alive;     /* per observer: crashed members held ALIVE */
    uint64_t *killed_at; /* per node: when it crashed, or UINT64_MAX */
    int running, full;
    uint64_t converged_at;
    uint64_t suspicions, failures, false_failures;
    uint64_t *detect;
    size_t n_detect, detect_cap;
    struct obs_sample *samples;
    size_t n_samples, samples_cap;
    uint64_t last_suspicions, last_failures, last_bytes;
};

static int is_full(const struct obs *o, int i)
{
    return o->up[i] && o->alive[i] - o->dead_alive[i] == o->running - 1;
}

static void check_converged(struct obs *o)
{
    if (o->converged_at == UINT64_MAX && o->full == o->running)
        o->converged_at = sim_now(o->w);
}

/* Count the full views again (after a crash changed every one). */
static void recount(struct obs *o)
{
    o->full = 0;
    for (int i = 0; i < o->n; i++)
        o->full += is_full(o, i);
    check_converged(o);
}

static int push_u64(uint64_t **a, size_t *n, size_t *cap, uint64_t v)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 256;
        uint64_t *b = realloc(*a, c * sizeof(*b));
        if (b == NULL)
            return ERR_NOMEM;
        *a = b;
        *cap = c;
    }
    (*a)[(*n)++] = v;
    return 0;
}

static int is_live(uint8_t v)
{
    return v == OBS_AS(SWIM_ALIVE) || v == OBS_AS(SWIM_SUSPECT);
}

/* Observer i now holds subject k at v. */
static void set_view(struct obs *o, int i, int k, uint8_t v, uint64_t now)
{
    uint8_t *p = &o->view[(size_t)i * (size_t)o->n + (size_t)k];
    uint8_t old = *p;
    if (old == v)
        return;
    int was_full = is_full(o, i);
    int crashed = o->killed_at[k] != UINT64_MAX;
    if (old == OBS_AS(SWIM_ALIVE)) {
        o->alive[i]--;
        o->dead_alive[i] -= crashed;
    }
    if (v == OBS_AS(SWIM_ALIVE)) {
        o->alive[i]++;
        o->dead_alive[i] += crashed;
    }
    if (crashed && o->up[i] && is_live(old) && (v == OBS_AS(SWIM_FAILED) || v == OBS_AS(SWIM_LEFT)))
        (void)push_u64(&o->detect, &o->n_detect, &o->detect_cap, now - o->killed_at[k]);
    *p = v;
    o->full += is_full(o, i) - was_full;
    check_converged(o);
}

static void on_notify(void *ctx, struct sim *w, int node, const struct swim_notification *nt,
                      uint64_t now)
{
    struct obs *o = ctx;
    if (node < 0 || node >= o->n || nt->type > SWIM_EV_MEMBER_REAPED)
        return; /* user broadcasts and this node's own events */
    int k = sim_node_of_member(w, &nt->member);
    if (k < 0 || k >= o->n)
        return;
    if (nt->type == SWIM_EV_MEMBER_SUSPECT)
        o->suspicions++;
    if (nt->type == SWIM_EV_MEMBER_FAILED) {
        o->failures++;
        if (o->up[k])
            o->false_failures++;
    }
    uint8_t v = nt->type == SWIM_EV_MEMBER_REAPED ? OBS_UNKNOWN : OBS_AS(nt->member.status);
    set_view(o, node, k, v, now);
}

struct obs *obs_new(struct sim *w)
{
    struct obs *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    o->w = w;
    o->n = sim_node_count(w);
    size_t n = (size_t)o->n;
    o->view = calloc(n * n + 1, 1);
    o->up = calloc(n + 1, 1);
    o->alive = calloc(n + 1, sizeof(*o->alive));
    o->dead_alive = calloc(n + 1, sizeof(*o->dead_alive));
    o->killed_at = malloc((n + 1) * sizeof(*o->killed_at));
    if (o->view == NULL || o->up == NULL || o->alive == NULL || o->dead_alive == NULL ||
        o->killed_at == NULL) {
        obs_delete(o);
        return NULL;
    }
    o->converged_at = UINT64_MAX;
    for (int i = 0; i < o->n; i++) {
        o->killed_at[i] = UINT64_MAX;
        o->up[i] = (uint8_t)(sim_running(w, i) != 0);
        o->running += o->up[i];
    }
    struct sim_net_stats t;
    sim_net_total(w, &t);
    o->last_bytes = t.sent_bytes;
    recount(o);
    sim_set_observer(w, on_notify, o);
    return o;
}

void obs_delete(struct obs *o)
{
    if (o == NULL)
        return;
    if (o->w != NULL)
        sim_set_observer(o->w, NULL, NULL);
    free(o->view);
    free(o->up);
    free(o->alive);
    free(o->dead_alive);
    free(o->killed_at);
    free(o->detect);
    free(o->samples);
    free(o);
}

int obs_kill(struct obs *o, int k)
{
    int rc = sim_kill(o->w, k);
    if (rc != 0)
        return rc;
    o->up[k] = 0;
    o->running--;
    o->killed_at[k] = sim_now(o->w);
    for (int i = 0; i < o->n; i++)
        o->dead_alive[i] += o->view[(size_t)i * (size_t)o->n + (size_t)k] == OBS_AS(SWIM_ALIVE);
    recount(o);
    return 0;
}

int obs_sample(struct obs *o)
{
    if (o->n_samples == o->samples_cap) {
        size_t c = o->samples_cap ? o->samples_cap * 2 : 256;
        struct obs_sample *b = realloc(o->samples, c * sizeof(*b));
        if (b == NULL)
            return ERR_NOMEM;
        o->samples = b;
        o->samples_cap = c;
    }
    struct sim_net_stats t;
    sim_net_total(o->w, &t);
    struct obs_sample *s = &o->samples[o->n_samples++];
    s->at = sim_now(o->w);
    s->running = o->running;
    s->full = o->full;
    s->suspicions = o->suspicions - o->last_suspicions;
    s->failures = o->failures - o->last_failures;
    s->bytes = t.sent_bytes - o->last_bytes;
    o->last_suspicions = o->suspicions;
    o->last_failures = o->failures;
    o->last_bytes = t.sent_bytes;
    return 0;
}

/* Crashed nodes that running observers still hold alive or suspect. */
static uint64_t undetected(const struct obs *o)
{
    uint64_t count = 0;
    for (int k = 0; k < o->n; k++) {
        if (o->killed_at[k] == UINT64_MAX)
            continue;
        for (int i = 0; i < o->n; i++)
            count += o->up[i] && is_live(o->view[(size_t)i * (size_t)o->n + (size_t)k]);
    }
    return count;
}

void obs_results(const struct obs *o, struct obs_results *out)
{
    *out = (struct obs_results){
        .running = o->running,
        .full = o->full,
        .converged_at = o->converged_at,
        .suspicions = o->suspicions,
        .false_failures = o->false_failures,
        .detect = o->detect,
        .n_detect = o->n_detect,
        .undetected = undetected(o),
        .samples = o->samples,
        .n_samples = o->n_samples,
    };
}
