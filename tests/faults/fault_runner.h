/*
 * fault_runner.h - run measurements side by side, each in a child process
 * with its own network namespace.
 *
 * Model: a job is a function that fills a plain result struct which starts
 * with struct fault_status, given a temporary folder of its own for sockets
 * and logs.  fault_runner_run() makes the folders and forks one child per
 * job; each child dies with the runner (PR_SET_PDEATHSIG), enters a private
 * namespace (fault_net_enter), runs its function and writes the struct back
 * through a pipe.  The runner waits for every result until one deadline (or
 * SIGTERM / SIGINT, which it then re-raises), then kills (SIGKILL, by PID)
 * and reaps the children still running: their agents die with them and the
 * kernel removes their namespaces.  Last it removes the folders (kept and
 * named on stderr when FAULTS_KEEP is set, for debugging).
 */
#ifndef TESTS_FAULTS_FAULT_RUNNER_H
#define TESTS_FAULTS_FAULT_RUNNER_H

#include <stddef.h>
#include <stdint.h>

/* The head of every job result. */
struct fault_status {
    int ok;          /* 1 when the measurement completed */
    char error[256]; /* why not, otherwise */
};

/* Longest folder name a job is given. */
#define FAULT_DIR_MAX 32

/* A job: fn fills out (out_size bytes, starting with struct fault_status);
 * dir is its folder (files directly in it are removed afterwards). */
struct fault_job {
    void (*fn)(const void *arg, const char *dir, void *out);
    const void *arg;
    void *out;
    size_t out_size;
};

/* Run the n jobs in parallel; every out is filled, or has ok == 0 and an
 * error (no namespace, crashed, timed out).  Returns how many completed. */
size_t fault_runner_run(struct fault_job *jobs, size_t n, uint64_t timeout_ms);
/* Whether this process may create network namespaces (root with
 * CAP_SYS_ADMIN: tried in a child). */
int fault_runner_privileged(void);
/* The swimd binary: $SWIMD, or NULL (with a message on stderr). */
const char *fault_runner_swimd(void);

#endif /* TESTS_FAULTS_FAULT_RUNNER_H */
