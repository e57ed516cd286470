/*
 * agent_harness.h - real swimd processes for the integration suites and the
 * benchmark.
 *
 * Model: a struct harness is a temporary folder plus up to HARNESS_NODES_MAX
 * swimd children, each with its own control socket and log file in that
 * folder, bound to port 0 on a loopback address (the kernel picks the port,
 * so parallel runs never collide; it is read back through "info").  Every
 * child is started with PR_SET_PDEATHSIG=SIGKILL, so if the test process dies
 * (a failed Check assertion exits it) its swimd children die with it; on the
 * normal path harness_destroy() kills and reaps exactly the PIDs it started.
 * A harness may run its nodes through a wrapper command (`wrap`, e.g.
 * "ip netns exec NAME"), which must exec swimd in place, and may give its
 * nodes a lower descriptor limit (`nofile`, set in the child before exec).
 * Every wait is bounded in time; HARNESS_WAIT_UNTIL polls a condition until
 * a deadline.
 *
 * Each suite is one executable whose scenarios (Check tcases) meson runs one
 * at a time through CK_RUN_CASE (harness_run_cases()), so scenarios run in
 * parallel and each has its own timeout.  Timing bounds come from the local
 * profile itself (harness_local_profile()) plus HARNESS_SLACK_MS.
 */
#ifndef TESTS_AGENT_HARNESS_H
#define TESTS_AGENT_HARNESS_H

#include <check.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

#include "clock.h"
#include "swim.h"

/* scale_bench's 500 agents plus room. */
#define HARNESS_NODES_MAX 512
/* Longest path the harness builds (sun_path allows 108). */
#define HARNESS_PATH_MAX 108
/* Extra swimd arguments per node. */
#define HARNESS_ARGS_MAX 24
/* Words of a wrapper command. */
#define HARNESS_WRAP_MAX 8
/* Scheduling and sanitizer slack on top of every protocol-derived bound. */
#define HARNESS_SLACK_MS 3000
/* Convergence of a fresh loopback cluster: join, then a few gossip rounds. */
#define HARNESS_CONVERGE_MS 20000
/* Poll period of every wait. */
#define HARNESS_POLL_MS 50
/* A swimctl that should answer at once. */
#define HARNESS_CTL_EXIT_MS 10000

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
    const char *wrap[HARNESS_WRAP_MAX + 1]; /* NULL-terminated; empty: run swimd itself */
    unsigned long nofile; /* RLIMIT_NOFILE of nodes started from now on; 0: the test's own */
    size_t n;
    struct harness_node nodes[HARNESS_NODES_MAX];
};

/* Poll `cond` every HARNESS_POLL_MS until it holds or `ms` have passed;
 * evaluates to whether it held. */
#define HARNESS_WAIT_UNTIL(cond, ms)                                                               \
    ({                                                                                             \
        uint64_t deadline_ = clock_mono_ms() + (ms);                                               \
        int ok_ = 0;                                                                               \
        while (!(ok_ = (cond)) && clock_mono_ms() < deadline_)                                     \
            usleep(HARNESS_POLL_MS * 1000);                                                        \
        ok_;                                                                                       \
    })

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
/* harness_start() with the default name that fails the test (with the
 * node's log) when the node does not start. */
void harness_start_node(struct harness *h, size_t idx, const char *bind_host,
                        const char *const *extra);
/* Node idx joining node 1 (--join), with `more` arguments (may be NULL). */
void harness_start_joiner(struct harness *h, size_t idx, const char *bind_host,
                          const char *const *more);
/* Start n nodes on bind_host, all joining node 1, each with `common`. */
void harness_start_cluster(struct harness *h, size_t n, const char *bind_host,
                           const char *const *common);

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
/* Every node in [0, n) lists exactly `want` members, all alive. */
int harness_converged(struct harness *h, size_t n, int want);
/* Every running node in [0, n) but `skip` sees `name` with `status`, once. */
int harness_all_see(struct harness *h, size_t n, size_t skip, const char *name, const char *status);
/* Node i sees `name` with `status`. */
int harness_sees(struct harness *h, size_t i, const char *name, const char *status);
/* The local profile's configuration (fails the test if it cannot). */
struct swim_config harness_local_profile(void);

/* Send sig to the node's process. */
void harness_signal(struct harness_node *nd, int sig);
/* Reap the node if it exits within timeout_ms; 0 (exit_status set) or -1. */
int harness_wait_exit(struct harness_node *nd, int timeout_ms);
/* CPU time (user + system) the process has used so far, in milliseconds
 * (/proc/PID/stat), or -1 when it cannot be read. */
long long harness_cpu_ms(pid_t pid);
/* Descriptors the process has open (/proc/PID/fd), or -1. */
int harness_fd_count(pid_t pid);
/* Last lines of a node's log, for failure messages (static buffer). */
const char *harness_log_tail(struct harness_node *nd);
/* A whole file as a NUL-terminated malloc'd string ("" when absent). */
char *harness_slurp(const char *path);
/* Occurrences of `what` in the file at `path` (0 when absent). */
int harness_count_in_file(const char *path, const char *what);
/* Replace the file at path with text (mode 0600), or fail the test. */
void harness_write_file(const char *path, const char *text);
/* Run swimctl with args (NULL-terminated) against nd, bounded by
 * HARNESS_CTL_EXIT_MS; stdout into out (malloc'd, NUL-terminated; NULL when
 * it did not exit).  Returns its exit code or -1. */
int harness_swimctl(struct harness *h, struct harness_node *nd, const char *const *args,
                    char **out);

/* ---- swimctl as a child of the test, its output in files ---- */

struct harness_proc {
    pid_t pid;
    int status;
    char out[HARNESS_PATH_MAX];
    char err[HARNESS_PATH_MAX];
};

/* Start swimctl --socket <nd> args... with stdout/stderr in
 * <dir>/<tag>.out / .err. */
void harness_spawn_ctl(struct harness *h, struct harness_proc *p, struct harness_node *nd,
                       const char *tag, const char *const *args);
/* Reap p if it exits within ms: 0 (p->status set) or -1. */
int harness_wait_proc(struct harness_proc *p, uint64_t ms);
/* p's exit code, or -1 when it did not exit normally. */
int harness_proc_exit_code(const struct harness_proc *p);
/* SIGKILL and reap p if it still runs. */
void harness_kill_proc(struct harness_proc *p);
/* Run swimctl to completion within HARNESS_CTL_EXIT_MS (fails the test
 * otherwise); returns its exit code. */
int harness_run_ctl(struct harness *h, struct harness_node *nd, const char *tag,
                    const char *const *args, struct harness_proc *p);

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
/* Run the scenarios as suite `suite`; each test gets a fresh harness (see
 * harness_world()).  Every test prints Check's summary.  Returns the process
 * exit status: failure when a test failed or when nothing ran (a
 * CK_RUN_CASE naming no scenario must not pass silently). */
int harness_run_cases(const char *suite, const struct harness_case *cases, size_t n);
/* The harness of the running test: created before it, destroyed after. */
struct harness *harness_world(void);

#endif /* TESTS_AGENT_HARNESS_H */
