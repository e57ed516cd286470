/*
 * fault_scenario.h - the four fault scenarios of 20 lan agents, and the
 * figures each one yields.
 *
 * Model: a scenario starts FAULT_AGENTS agents (fault_cluster.h) in the
 * calling process's private namespace, waits until all see all alive, opens a
 * watch on every agent and reads every agent's accusation counter, then
 * injects its fault for `seconds`, removes it, lets the cluster settle for
 * FAULT_SETTLE_MS (suspicions raised at the end run out), and reads the
 * counters again.  The scenarios:
 *   loss10       10% of UDP datagrams dropped (each crosses the rule once)
 *   loss25       25%
 *   ingress_cut  the target agent (n6) hears nothing, 20 s on / 20 s off
 *   sigstop      the target agent is stopped (SIGSTOP) 1.5 s of every 2 s
 * Figures (struct fault_figures, all counts over fault window + settle):
 *   accusations           sum over every agent of its accusation counter:
 *                         info "accusations" when swimd has it, else
 *                         "probe_failures" (from_accusations says which)
 *   accusations_of_target the same summed over every agent but the target:
 *                         in the target scenarios nothing else loses
 *                         packets, so these failed probes are of the target
 *   accusations_by_target the target's own counter
 *   suspect_events        member-suspect events, summed over observers
 *   suspect_events_of_target, suspicions_of_target: those about the target,
 *                         and their distinct (generation, incarnation): one
 *                         per suspicion raised, however many agents saw it
 *   healthy_failed        member-failed events about healthy members (all but
 *                         the target), summed over every observer
 *   healthy_failed_distinct   distinct healthy members declared failed
 *   healthy_failed_by_target  of healthy_failed, those the target declared
 *   target_failed         member-failed events about the target
 *   agents_cpu_pct        CPU of all agents over the fault window, % of a core
 */
#ifndef TESTS_FAULTS_FAULT_SCENARIO_H
#define TESTS_FAULTS_FAULT_SCENARIO_H

#include <stddef.h>
#include <stdio.h>

#include "fault_runner.h"

/* The cluster size. */
#define FAULT_AGENTS 20
/* After the fault: the lan suspicion timeout at 20 agents is
 * 4 * log10(20) * 1 s = 5.2 s; a suspicion raised at the end must run out. */
#define FAULT_SETTLE_MS 10000
/* 20 lan agents joining n1 converge in a few seconds; ASan is slower. */
#define FAULT_CONVERGE_MS 60000

struct fault_figures {
    struct fault_status status;
    char scenario[16];
    unsigned seconds;
    int has_target;
    int from_accusations;
    long long accusations;
    long long accusations_of_target;
    long long accusations_by_target;
    long long suspect_events;
    long long suspect_events_of_target;
    long long suspicions_of_target;
    long long healthy_failed;
    long long healthy_failed_distinct;
    long long healthy_failed_by_target;
    long long target_failed;
    double agents_cpu_pct;
};

/* How many scenarios there are, and the name of the i-th. */
size_t fault_scenario_count(void);
const char *fault_scenario_name(size_t i);
/* Index of the scenario called `name`, or -1. */
int fault_scenario_find(const char *name);
/*
 * Run scenarios which[0..n) in parallel, `seconds` of fault each, every one
 * in its own child process and namespace (fault_runner.h); swimd is the
 * binary.  out[k] gets scenario which[k]'s figures (status.ok == 0 with an
 * error when it could not run).  Returns how many completed.
 */
size_t fault_scenarios_run(const size_t *which, size_t n, unsigned seconds, const char *swimd,
                           struct fault_figures *out);
/* Print fg as `fault_<scenario>_<figure> VALUE UNIT` lines (only the
 * figures that apply to its scenario). */
void fault_figures_print(FILE *f, const struct fault_figures *fg);
/* The figure called `figure` ("accusations", ...) in *value: 0, or -1 when
 * there is no such figure for this scenario. */
int fault_figures_get(const struct fault_figures *fg, const char *figure, double *value);

#endif /* TESTS_FAULTS_FAULT_SCENARIO_H */
