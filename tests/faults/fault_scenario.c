/*
 * fault_scenario.c - see fault_scenario.h.
 *
 * A scenario's fault is a function of the time since it began: `wanted`
 * says whether it is on at that instant and `next_change` when that flips,
 * so the injector below never drifts (each SIGSTOP or rule change happens at
 * t0 + k * period, whatever the previous one cost) and between changes it
 * only reads events.
 */
#include "fault_scenario.h"

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_cluster.h"
#include "fault_net.h"
#include "fault_watch.h"

/* The faulty agent of ingress_cut and sigstop: n6, not the seed n1. */
#define FAULT_TARGET 5
/* ingress_cut: the target hears nothing for ON, then everything for OFF. */
#define FAULT_CUT_ON_MS 20000
#define FAULT_CUT_OFF_MS 20000
/* sigstop: stopped for STOP of every PERIOD. */
#define FAULT_STOP_PERIOD_MS 2000
#define FAULT_STOP_MS 1500
/* Longest wait for events between two looks at the fault schedule. */
#define FAULT_SLICE_MS 100
/* Turns of the injector's loop: far more than the events and changes of an
 * hour of fault, so reaching it means a bug, not a busy cluster. */
#define FAULT_TURNS_MAX 10000000
/* Distinct suspicions of the target recorded (one per refutation: 120 s of
 * sigstop raises a few dozen). */
#define FAULT_SUSPICIONS_MAX 4096
/* Slack of the runner's deadline over start, convergence, fault and settle. */
#define FAULT_RUN_SLACK_MS 90000
/* The events the tally reads. */
#define FAULT_WATCH_TYPES "member-suspect,member-failed"

enum fault_kind { FAULT_KIND_LOSS, FAULT_KIND_INGRESS_CUT, FAULT_KIND_SIGSTOP };

struct fault_scenario {
    const char *name;
    enum fault_kind kind;
    double loss; /* FAULT_KIND_LOSS: drop probability */
};

static const struct fault_scenario fault_scenarios[] = {
    {"loss10", FAULT_KIND_LOSS, 0.10},
    {"loss25", FAULT_KIND_LOSS, 0.25},
    {"ingress_cut", FAULT_KIND_INGRESS_CUT, 0},
    {"sigstop", FAULT_KIND_SIGSTOP, 0},
};
#define FAULT_SCENARIOS (sizeof(fault_scenarios) / sizeof(fault_scenarios[0]))

/* One printable figure: where it sits in struct fault_figures. */
struct fault_figure {
    const char *name;
    size_t offset;
    int is_pct;      /* a double, else a long long count */
    int target_only; /* only for scenarios with a faulty agent */
};

#define FAULT_COUNT(f, t)                                                                          \
    {                                                                                              \
#f, offsetof(struct fault_figures, f), 0, t                                                \
    }
static const struct fault_figure fault_figure_table[] = {
    FAULT_COUNT(accusations, 0),
    FAULT_COUNT(accusations_of_target, 1),
    FAULT_COUNT(accusations_by_target, 1),
    FAULT_COUNT(suspect_events, 0),
    FAULT_COUNT(suspect_events_of_target, 1),
    FAULT_COUNT(suspicions_of_target, 1),
    FAULT_COUNT(healthy_failed, 0),
    FAULT_COUNT(healthy_failed_distinct, 0),
    FAULT_COUNT(healthy_failed_by_target, 1),
    FAULT_COUNT(target_failed, 1),
    {"agents_cpu_pct", offsetof(struct fault_figures, agents_cpu_pct), 1, 0},
};
#define FAULT_FIGURES (sizeof(fault_figure_table) / sizeof(fault_figure_table[0]))

/* What one scenario's child needs. */
struct fault_scenario_arg {
    const struct fault_scenario *sc;
    unsigned seconds;
    const char *swimd;
};

/* Events counted while a scenario runs. */
struct fault_tally {
    const struct fault_cluster *c;
    int target; /* index of the faulty agent, or -1 */
    struct fault_figures *fg;
    unsigned char declared[FAULT_NODES_MAX]; /* healthy members declared failed */
    uint64_t suspicion[FAULT_SUSPICIONS_MAX][2];
    size_t suspicions;
};

size_t fault_scenario_count(void)
{
    return FAULT_SCENARIOS;
}

const char *fault_scenario_name(size_t i)
{
    return i < FAULT_SCENARIOS ? fault_scenarios[i].name : NULL;
}

int fault_scenario_find(const char *name)
{
    for (size_t i = 0; i < FAULT_SCENARIOS; i++)
        if (strcmp(fault_scenarios[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int fault_wanted(const struct fault_scenario *sc, uint64_t elapsed)
{
    switch (sc->kind) {
    case FAULT_KIND_INGRESS_CUT:
        return elapsed % (FAULT_CUT_ON_MS + FAULT_CUT_OFF_MS) < FAULT_CUT_ON_MS;
    case FAULT_KIND_SIGSTOP:
        return elapsed % FAULT_STOP_PERIOD_MS < FAULT_STOP_MS;
    default:
        return 1;
    }
}

/* Time since the start at which fault_wanted() next changes (UINT64_MAX:
 * never). */
static uint64_t fault_next_change(const struct fault_scenario *sc, uint64_t elapsed)
{
    uint64_t period, on;
    switch (sc->kind) {
    case FAULT_KIND_INGRESS_CUT:
        period = FAULT_CUT_ON_MS + FAULT_CUT_OFF_MS;
        on = FAULT_CUT_ON_MS;
        break;
    case FAULT_KIND_SIGSTOP:
        period = FAULT_STOP_PERIOD_MS;
        on = FAULT_STOP_MS;
        break;
    default:
        return UINT64_MAX;
    }
    uint64_t start = elapsed - elapsed % period;
    return elapsed - start < on ? start + on : start + period;
}

/* Turn the fault on or off.  0, or -1 with err. */
static int fault_apply(const struct fault_scenario *sc, const struct fault_node *target, int on,
                       char *err, size_t cap)
{
    switch (sc->kind) {
    case FAULT_KIND_LOSS:
        return fault_net_loss(sc->loss, on, err, cap);
    case FAULT_KIND_INGRESS_CUT:
        return fault_net_ingress_cut(target->host, FAULT_PORT, on, err, cap);
    case FAULT_KIND_SIGSTOP:
        if (kill(target->pid, on ? SIGSTOP : SIGCONT) == 0)
            return 0;
        snprintf(err, cap, "cannot signal %s", target->name);
        return -1;
    }
    return -1;
}

static void fault_tally_event(void *ctx, size_t observer, const struct fault_event *ev)
{
    struct fault_tally *t = ctx;
    struct fault_figures *fg = t->fg;
    int about = fault_cluster_find(t->c, ev->name);
    if (about < 0)
        return;
    if (strcmp(ev->type, "member-suspect") == 0) {
        fg->suspect_events++;
        if (about != t->target)
            return;
        fg->suspect_events_of_target++;
        for (size_t i = 0; i < t->suspicions; i++)
            if (t->suspicion[i][0] == ev->generation && t->suspicion[i][1] == ev->incarnation)
                return;
        if (t->suspicions < FAULT_SUSPICIONS_MAX) {
            t->suspicion[t->suspicions][0] = ev->generation;
            t->suspicion[t->suspicions][1] = ev->incarnation;
            t->suspicions++;
        }
        fg->suspicions_of_target = (long long)t->suspicions;
    } else if (strcmp(ev->type, "member-failed") == 0) {
        if (about == t->target) {
            fg->target_failed++;
            return;
        }
        fg->healthy_failed++;
        fg->healthy_failed_by_target += (int)observer == t->target;
        if (!t->declared[about]) {
            t->declared[about] = 1;
            fg->healthy_failed_distinct++;
        }
    }
}

/* Sum of the agents' CPU ticks, or -1 when one cannot be read. */
static long long fault_cpu_ticks(const struct fault_cluster *c)
{
    long long sum = 0;
    for (size_t i = 0; i < c->n; i++) {
        long long t = fault_node_cpu_ticks(&c->nodes[i]);
        if (t < 0)
            return -1;
        sum += t;
    }
    return sum;
}

/* Read every agent's accusation counter into acc[].  0 or -1. */
static int fault_read_accusations(const struct fault_cluster *c, long long *acc, int *from)
{
    for (size_t i = 0; i < c->n; i++)
        if ((acc[i] = fault_node_accusations(&c->nodes[i], from)) < 0)
            return -1;
    return 0;
}

/*
 * Inject the fault from t0 for `ms`, then hold it off until t0 + ms + settle,
 * tallying events throughout.  The CPU window closes when the fault ends.
 * 0, or -1 with fg's error set.
 */
static int fault_drive(const struct fault_scenario *sc, struct fault_cluster *c,
                       struct fault_watch *ws, struct fault_tally *t, uint64_t ms)
{
    struct fault_figures *fg = t->fg;
    struct fault_node *target = &c->nodes[FAULT_TARGET];
    long long ticks0 = fault_cpu_ticks(c);
    uint64_t t0 = fault_now_ms(), end = t0 + ms, settled = end + FAULT_SETTLE_MS;
    int on = 0, rc = 0, cpu_read = 0;
    /* Bounded: a turn waits for events or the next change, at most a slice. */
    for (uint64_t turns = 0;; turns++) {
        uint64_t now = fault_now_ms();
        if (now >= settled)
            break;
        if (turns == FAULT_TURNS_MAX) {
            snprintf(fg->status.error, sizeof(fg->status.error), "injector loop ran away");
            rc = -1;
            break;
        }
        int want = now < end && fault_wanted(sc, now - t0);
        if (want != on) {
            if (fault_apply(sc, target, want, fg->status.error, sizeof(fg->status.error)) != 0) {
                rc = -1;
                break;
            }
            on = want;
        }
        if (now >= end && !cpu_read) {
            long long ticks = fault_cpu_ticks(c);
            fg->agents_cpu_pct = ticks0 < 0 || ticks < 0
                                     ? -1.0
                                     : 100.0 * (double)(ticks - ticks0) /
                                           (double)sysconf(_SC_CLK_TCK) / ((double)ms / 1000.0);
            cpu_read = 1;
        }
        uint64_t next = settled;
        if (now < end) {
            uint64_t change = fault_next_change(sc, now - t0);
            next = change < end - t0 ? t0 + change : end;
        }
        uint64_t wait = next > now ? next - now : 0;
        fault_watch_poll(ws, c->n, (int)(wait < FAULT_SLICE_MS ? wait : FAULT_SLICE_MS),
                         fault_tally_event, t);
    }
    if (on) /* an error left it on; SIGCONT matters before any info call */
        fault_apply(sc, target, 0, fg->status.error, sizeof(fg->status.error));
    return rc;
}

/* One scenario, in the runner's child (already in its own namespace). */
static void fault_scenario_job(const void *arg, const char *dir, void *out)
{
    const struct fault_scenario_arg *a = arg;
    struct fault_figures *fg = out;
    char *err = fg->status.error;
    size_t cap = sizeof(fg->status.error);
    snprintf(fg->scenario, sizeof(fg->scenario), "%s", a->sc->name);
    fg->seconds = a->seconds;
    fg->has_target = a->sc->kind != FAULT_KIND_LOSS;
    long long acc0[FAULT_AGENTS], acc1[FAULT_AGENTS];
    struct fault_watch *ws = NULL;
    struct fault_tally *t = calloc(1, sizeof(*t));
    uint64_t start = fault_now_ms();
    struct fault_cluster *c =
        t != NULL ? fault_cluster_new(a->swimd, dir, FAULT_AGENTS, FAULT_CONVERGE_MS, err, cap)
                  : NULL;
    if (c == NULL || (ws = fault_watch_new(c, FAULT_WATCH_TYPES, -1, err, cap)) == NULL)
        goto out;
    fprintf(stderr, "faults: %s: %d agents converged in %.1f s; %u s of fault\n", a->sc->name,
            FAULT_AGENTS, (double)(fault_now_ms() - start) / 1000.0, a->seconds);
    if (fault_read_accusations(c, acc0, &fg->from_accusations) != 0) {
        snprintf(err, cap, "info failed before the fault");
        goto out;
    }
    t->c = c;
    t->fg = fg;
    t->target = fg->has_target ? FAULT_TARGET : -1;
    if (fault_drive(a->sc, c, ws, t, (uint64_t)a->seconds * 1000u) != 0)
        goto out;
    if (fault_read_accusations(c, acc1, &fg->from_accusations) != 0) {
        snprintf(err, cap, "info failed after the fault");
        goto out;
    }
    for (size_t i = 0; i < FAULT_AGENTS; i++) {
        long long d = acc1[i] - acc0[i];
        fg->accusations += d;
        if (fg->has_target && i == FAULT_TARGET)
            fg->accusations_by_target = d;
        else if (fg->has_target)
            fg->accusations_of_target += d;
    }
    for (size_t i = 0; i < FAULT_AGENTS; i++) {
        if (waitpid(c->nodes[i].pid, NULL, WNOHANG) != 0) {
            c->nodes[i].pid = 0;
            snprintf(err, cap, "agent %s exited during the run", c->nodes[i].name);
            goto out;
        }
    }
    fg->status.ok = 1;
out:
    if (t == NULL)
        snprintf(err, cap, "out of memory");
    fault_watch_delete(ws, FAULT_AGENTS);
    fault_cluster_delete(c);
    free(t);
}

size_t fault_scenarios_run(const size_t *which, size_t n, unsigned seconds, const char *swimd,
                           struct fault_figures *out)
{
    struct fault_scenario_arg args[FAULT_SCENARIOS];
    struct fault_job jobs[FAULT_SCENARIOS];
    if (n > FAULT_SCENARIOS)
        n = FAULT_SCENARIOS;
    for (size_t k = 0; k < n; k++) {
        args[k].sc = &fault_scenarios[which[k] < FAULT_SCENARIOS ? which[k] : 0];
        args[k].seconds = seconds;
        args[k].swimd = swimd;
        jobs[k].fn = fault_scenario_job;
        jobs[k].arg = &args[k];
        jobs[k].out = &out[k];
        jobs[k].out_size = sizeof(out[k]);
    }
    size_t done = fault_runner_run(jobs, n,
                                   (uint64_t)seconds * 1000u + FAULT_CONVERGE_MS + FAULT_SETTLE_MS +
                                       FAULT_RUN_SLACK_MS);
    for (size_t k = 0; k < n; k++) /* named even when the child never reported */
        snprintf(out[k].scenario, sizeof(out[k].scenario), "%s", args[k].sc->name);
    return done;
}

static const struct fault_figure *fault_figure_for(const struct fault_figures *fg,
                                                   const char *figure)
{
    for (size_t i = 0; i < FAULT_FIGURES; i++)
        if (strcmp(fault_figure_table[i].name, figure) == 0)
            return fault_figure_table[i].target_only && !fg->has_target ? NULL
                                                                        : &fault_figure_table[i];
    return NULL;
}

int fault_figures_get(const struct fault_figures *fg, const char *figure, double *value)
{
    const struct fault_figure *f = fault_figure_for(fg, figure);
    if (f == NULL)
        return -1;
    const char *p = (const char *)fg + f->offset;
    if (f->is_pct)
        memcpy(value, p, sizeof(double));
    else {
        long long v;
        memcpy(&v, p, sizeof(v));
        *value = (double)v;
    }
    return 0;
}

void fault_figures_print(FILE *f, const struct fault_figures *fg)
{
    if (!fg->status.ok) {
        fprintf(stderr, "faults: %s: %s\n", fg->scenario, fg->status.error);
        return;
    }
    fprintf(f, "fault_%s_seconds %u s\n", fg->scenario, fg->seconds);
    for (size_t i = 0; i < FAULT_FIGURES; i++) {
        const struct fault_figure *fig = &fault_figure_table[i];
        double v;
        if (fault_figures_get(fg, fig->name, &v) != 0)
            continue;
        if (fig->is_pct)
            fprintf(f, "fault_%s_%s %.1f %%\n", fg->scenario, fig->name, v);
        else
            fprintf(f, "fault_%s_%s %.0f count\n", fg->scenario, fig->name, v);
    }
}
