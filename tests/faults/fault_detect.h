/*
 * fault_detect.h - how fast a cluster of lan agents detects a kill -9.
 *
 * Model: in its own child process and namespace (fault_runner.h), start N
 * agents, wait until all see all alive and the join gossip has quieted,
 * watch every survivor, then SIGKILL one agent (not the seed) and time, on
 * this process's monotonic clock from the kill: the first member-suspect
 * about it at any survivor, and the moment the last survivor reports it
 * member-failed.  Events are timed when they are read from the control
 * streams (well under a millisecond after swimd publishes them).
 */
#ifndef TESTS_FAULTS_FAULT_DETECT_H
#define TESTS_FAULTS_FAULT_DETECT_H

#include <stddef.h>

#include "fault_runner.h"

/* How long every survivor has to report the victim failed. */
#define FAULT_DETECT_MS 60000

struct fault_detection {
    struct fault_status status;
    size_t nodes;
    char victim[16];
    long long first_suspect_ms; /* -1: never */
    long long all_failed_ms;    /* -1: not every survivor in FAULT_DETECT_MS */
    size_t failed_seen;         /* survivors that reported it failed */
};

/* One measurement at `nodes` agents (at most FAULT_NODES_MAX); `run` picks
 * the victim (different runs, different agents).  Fills *out (status.ok 0
 * with an error when it could not run).  Returns status.ok. */
int fault_detect_run(size_t nodes, unsigned run, const char *swimd, struct fault_detection *out);

#endif /* TESTS_FAULTS_FAULT_DETECT_H */
