/*
 * agent_harness.h - real swimd processes for the integration suite and the
 * benchmark.
 *
 * Model: a struct harness is a temporary folder plus up to HARNESS_NODES_MAX
 * swimd children, each with its own control socket and log file in that
 * folder, bound to port 0 on a loopback address (the kernel picks the port,
 * so parallel runs never collide; it is read back through "info").  Every
 * child is started with PR_SET_PDEATHSIG=SIGKILL, so if the test process dies
 * (a failed Check assertion exits it) its swimd children die with it; on the
 * normal path harness_destroy() kills and reaps exactly the PIDs it started.
 * Every wait is bounded in time.
 */
#ifndef TESTS_AGENT_HARNESS_H
#define TESTS_AGENT_HARNESS_H

#include <check.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* scale_bench's 500 agents plus room. */
#define HARNESS_NODES_MAX 512
/* Longest path the harness builds (sun_path allows 108). */
#define HARNESS_PATH_MAX 108
/* Extra swimd arguments per node. */
#define HARNESS_ARGS_MAX 24

struct harness_node {
    pid_t pid; /* 0 when not running */
    char name[32];
    char sock[HARNESS_PATH_MAX];
    char log[HARNESS_PATH_MAX];
    char addr[64];   /* advertised "HOST:PORT", once known */
    int exit_status; /* waitpid status after it was reaped */
};

struct harness {
    char dir[64];
    const char *swimd;
    const char *swimctl;
    size_t n;
    struct harness_node nodes[HARNESS_NODES_MAX];
};

uint64_t harness_now_ms(void);
/* Make the folder and read SWIMD / SWIMCTL from the environment.  0 or -1. */
int harness_create(struct harness *h);
/* Kill (SIGKILL) and reap every node still running, remove the folder
 * (kept, and named on stderr, when HARNESS_KEEP is set: for debugging). */
void harness_destroy(struct harness *h);
/*
 * Start node `idx` (0-based; names are "n<idx+1>" unless given) with
 * --bind bind_host:0 --profile local --socket <dir>/<name>.sock and `extra`
 * arguments (NULL-terminated, may be NULL), then wait (bounded) until its
 * control socket answers and its address is known.  0 or -1.
 */
int harness_start(struct harness *h, size_t idx, const char *name, const char *bind_host,
                  const char *const *extra);
/* One control request (new reference to the reply, or NULL on failure). */
json_t *harness_call(struct harness_node *nd, json_t *req);
/* Status of member `name` as `nd` sees it ("alive", ...), in buf, or NULL
 * when absent; *dups counts entries with that name. */
const char *harness_status(struct harness_node *nd, const char *name, char *buf, size_t cap,
                           int *dups);
/* Members `nd` lists with `status` (NULL: any), or -1 on failure. */
int harness_count(struct harness_node *nd, const char *status);
/* A number from `info`, or -1. */
long long harness_info_int(struct harness_node *nd, const char *key);
/* Send sig to the node's process. */
void harness_signal(struct harness_node *nd, int sig);
/* Reap the node if it exits within timeout_ms; 0 (exit_status set) or -1. */
int harness_wait_exit(struct harness_node *nd, int timeout_ms);
/* Last lines of a node's log, for failure messages (static buffer). */
const char *harness_log_tail(struct harness_node *nd);
/* Run swimctl with args (NULL-terminated) against nd; stdout into out
 * (malloc'd, NUL-terminated).  Returns its exit code or -1. */
int harness_swimctl(struct harness *h, struct harness_node *nd, const char *const *args,
                    char **out);

/* Scheduling and sanitizer slack on top of every protocol-derived bound. */
#define HARNESS_SLACK_MS 3000

/*
 * Worst case from a crash to "failed" everywhere for n nodes on the local
 * profile, plus HARNESS_SLACK_MS: every live node probes the dead one within
 * two rounds of its shuffled list (2(n-1) periods: a reshuffle can put it
 * first in one round and last in the next), which also covers a node that
 * missed the gossip about it; the probe times out and the period ends; it
 * stays suspect for at most the Lifeguard maximum (suspicion_max_mult *
 * suspicion_mult * max(1, log10 n) periods); the verdict spreads within a
 * few gossip intervals.  tests/swim/proto_test.c measures the same tail.
 */
uint64_t harness_detection_bound_ms(size_t n);
/* A raw client of the node's control socket, with send/receive timeouts of
 * timeout_s seconds (fails the test if it cannot connect). */
int harness_raw_client(struct harness_node *nd, int timeout_s);
/* Write all of p to fd or fail the test. */
void harness_send_all(int fd, const char *p, size_t len);

/* One integration scenario: tests with the same name form one Check case,
 * selected by meson through CK_RUN_CASE. */
struct harness_case {
    const char *name;
    const TTest *test;
    int timeout_s;
};
/* Run the scenarios as suite `suite` with the given fixture; every test
 * prints Check's summary.  Returns the process exit status: failure when a
 * test failed or when nothing ran (a CK_RUN_CASE naming no scenario must
 * not pass silently). */
int harness_run_cases(const char *suite, const struct harness_case *cases, size_t n,
                      void (*setup)(void), void (*teardown)(void));

#endif /* TESTS_AGENT_HARNESS_H */
