/*
 * fault_detect.c - see fault_detect.h.
 */
#include "fault_detect.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fault_cluster.h"
#include "fault_watch.h"

/* 100 lan agents joining one seed converge within a minute; ASan is slower. */
#define FAULT_DETECT_CONVERGE_MS 120000
/* After convergence: joins are still being retransmitted for a few gossip
 * rounds; the kill comes once they are done. */
#define FAULT_DETECT_QUIET_MS 3000
/* Slack of the runner's deadline over start, convergence and detection. */
#define FAULT_DETECT_SLACK_MS 90000
/* The events the measurement reads. */
#define FAULT_DETECT_TYPES "member-suspect,member-failed"
/* Longest wait for events between two looks at the deadline. */
#define FAULT_DETECT_SLICE_MS 100

struct fault_detect_arg {
    size_t nodes;
    unsigned run;
    const char *swimd;
};

/* The measurement's state while events arrive. */
struct fault_detect_tally {
    const char *victim;
    uint64_t t0;
    struct fault_detection *out;
    unsigned char failed[FAULT_NODES_MAX];
};

static void fault_detect_event(void *ctx, size_t observer, const struct fault_event *ev)
{
    struct fault_detect_tally *t = ctx;
    if (strcmp(ev->name, t->victim) != 0)
        return;
    long long ms = (long long)(fault_now_ms() - t->t0);
    if (strcmp(ev->type, "member-suspect") == 0 && t->out->first_suspect_ms < 0)
        t->out->first_suspect_ms = ms;
    if (strcmp(ev->type, "member-failed") == 0 && !t->failed[observer]) {
        t->failed[observer] = 1;
        t->out->failed_seen++;
        if (t->out->failed_seen + 1 == t->out->nodes)
            t->out->all_failed_ms = ms;
    }
}

static void fault_detect_job(const void *arg, const char *dir, void *out)
{
    const struct fault_detect_arg *a = arg;
    struct fault_detection *d = out;
    char *err = d->status.error;
    size_t cap = sizeof(d->status.error);
    d->nodes = a->nodes;
    d->first_suspect_ms = -1;
    d->all_failed_ms = -1;
    struct fault_watch *ws = NULL;
    struct fault_detect_tally *t = calloc(1, sizeof(*t));
    uint64_t start = fault_now_ms();
    struct fault_cluster *c =
        t != NULL ? fault_cluster_new(a->swimd, dir, a->nodes, FAULT_DETECT_CONVERGE_MS, err, cap)
                  : NULL;
    if (c == NULL)
        goto out;
    usleep(FAULT_DETECT_QUIET_MS * 1000);
    /* Any agent but the seed, a different one per run. */
    size_t victim = 1 + (a->nodes / 2 + a->run * 7) % (a->nodes - 1);
    snprintf(d->victim, sizeof(d->victim), "%s", c->nodes[victim].name);
    if ((ws = fault_watch_new(c, FAULT_DETECT_TYPES, (int)victim, err, cap)) == NULL)
        goto out;
    fprintf(stderr, "faults: kill9 n=%zu run %u: converged in %.1f s; killing %s\n", a->nodes,
            a->run + 1, (double)(fault_now_ms() - start) / 1000.0, d->victim);
    t->victim = d->victim;
    t->out = d;
    t->t0 = fault_now_ms();
    kill(c->nodes[victim].pid, SIGKILL);
    waitpid(c->nodes[victim].pid, NULL, 0);
    c->nodes[victim].pid = 0;
    uint64_t deadline = t->t0 + FAULT_DETECT_MS;
    while (d->all_failed_ms < 0 && fault_now_ms() < deadline)
        fault_watch_poll(ws, a->nodes, FAULT_DETECT_SLICE_MS, fault_detect_event, t);
    if (d->all_failed_ms < 0) {
        snprintf(err, cap, "%zu of %zu survivors reported %s failed within %d ms", d->failed_seen,
                 a->nodes - 1, d->victim, FAULT_DETECT_MS);
        goto out;
    }
    d->status.ok = 1;
out:
    if (t == NULL)
        snprintf(err, cap, "out of memory");
    fault_watch_delete(ws, a->nodes);
    fault_cluster_delete(c);
    free(t);
}

int fault_detect_run(size_t nodes, unsigned run, const char *swimd, struct fault_detection *out)
{
    if (nodes < 3 || nodes > FAULT_NODES_MAX) {
        memset(out, 0, sizeof(*out));
        snprintf(out->status.error, sizeof(out->status.error), "3 to %d agents, not %zu",
                 FAULT_NODES_MAX, nodes);
        return 0;
    }
    struct fault_detect_arg arg = {nodes, run, swimd};
    struct fault_job job = {fault_detect_job, &arg, out, sizeof(*out)};
    fault_runner_run(&job, 1,
                     FAULT_DETECT_CONVERGE_MS + FAULT_DETECT_QUIET_MS + FAULT_DETECT_MS +
                         FAULT_DETECT_SLACK_MS);
    out->nodes = nodes;
    return out->status.ok;
}
