/*
 * fault_cluster.h - a cluster of real swimd agents on the lan profile, one per
 * loopback address of a private network namespace (see fault_net.h).
 *
 * Model: node i (0-based) is named "n<i+1>", binds 127.0.0.<i+1>:FAULT_PORT
 * (a fixed port: the namespace is ours, so nothing else uses it) and joins
 * n1.  Its control socket and its log (stderr, level info) live in a folder
 * the caller owns.  Every agent is a child of the caller started
 * with PR_SET_PDEATHSIG=SIGKILL, so agents die with the process that runs
 * them; fault_cluster_destroy() kills and reaps exactly the PIDs it started.
 * Control requests go straight to the socket (one connection per request,
 * one JSON line each way, bounded by FAULT_CALL_MS).  Every wait is bounded.
 */
#ifndef TESTS_FAULTS_FAULT_CLUSTER_H
#define TESTS_FAULTS_FAULT_CLUSTER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The kill -9 measurement's 100 agents, with room. */
#define FAULT_NODES_MAX 128
/* Every agent's UDP port (memberlist's and swimd's default). */
#define FAULT_PORT 7946
/* Deadline of one control request. */
#define FAULT_CALL_MS 5000
/* sun_path allows 108 bytes. */
#define FAULT_PATH_MAX 108

struct fault_node {
    pid_t pid; /* 0 when not running */
    char name[16];
    char host[16]; /* "127.0.0.<i+1>" */
    char sock[FAULT_PATH_MAX];
    char log[FAULT_PATH_MAX];
};

struct fault_cluster {
    const char *dir;
    const char *swimd;
    size_t n;
    struct fault_node nodes[FAULT_NODES_MAX];
};

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t fault_now_ms(void);
/*
 * Start agents n1..nN (N <= FAULT_NODES_MAX) with
 * `--profile lan`, each waited for until its control socket answers, then
 * wait (at most converge_ms) until every agent counts all N alive.  The
 * cluster, or NULL with err (whatever was started is stopped again).
 */
struct fault_cluster *fault_cluster_new(const char *swimd, const char *dir, size_t n,
                                        uint64_t converge_ms, char *err, size_t cap);
/* Kill (SIGKILL) and reap every agent still running and free c (the folder
 * and the logs in it stay).  NULL is a no-op. */
void fault_cluster_delete(struct fault_cluster *c);

/* Connect to a node's control socket with FAULT_CALL_MS send and receive
 * timeouts: the descriptor, or -1. */
int fault_ctl_connect(const struct fault_node *nd);
/* One request {"cmd": cmd}: a new reference to the reply, or NULL (no
 * answer in time, or an error reply). */
json_t *fault_ctl_call(const struct fault_node *nd, const char *cmd);
/*
 * The node's accusation counter from `info`: "accusations" when the agent
 * has it, else "probe_failures" (failed probes, each raising or confirming
 * a suspicion); *from_accusations says which.  -1 when info failed.
 */
long long fault_node_accusations(const struct fault_node *nd, int *from_accusations);
/* utime + stime of the node's process in clock ticks, or -1. */
long long fault_node_cpu_ticks(const struct fault_node *nd);
/* Index of the node named `name`, or -1. */
int fault_cluster_find(const struct fault_cluster *c, const char *name);

#endif /* TESTS_FAULTS_FAULT_CLUSTER_H */
