/*
 * agent_bench.c - swimd on loopback at cluster scale (registered with meson
 * benchmark(); run it from a release build, see tests/bench/RESULTS.md).
 *
 *   agent_bench [--nodes N] [--members-at M] [--events E] [--idle-ms MS]
 *
 * Starts N swimd (default 100) on 127.0.0.1 with the lan profile, all
 * joining the first, in pods of HARNESS_NODES_MAX (one harness each).
 * Prints one `name value unit` line per figure:
 *   swimctl_members_ms   median wall time of `swimctl members` (fork, exec,
 *                        connect, request, M-row table) while M agents run
 *                        (default 50; 0 skips it)
 *   swimd_cpu_pct_idle   mean CPU per agent over an idle window once all N
 *                        agree (from /proc/PID/schedstat: nanoseconds)
 *   swimd_rss_kib_idle   largest VmRSS of the N agents then
 *   swimd_rss_kib        largest VmRSS once every agent's event clock has
 *                        reached E (default 10,000: user events fired
 *                        through the control sockets, round robin)
 *   swimd_rss_anon_kib   largest RssAnon then (the part that is ours alone;
 *                        the rest is shared library and binary text)
 * Exits non-zero if the cluster does not converge or the events do not
 * arrive in time.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_harness.h"

extern char **environ;

/* The cluster sizes. */
#define BENCH_NODES_DEFAULT 100
#define BENCH_MEMBERS_AT_DEFAULT 50
#define BENCH_EVENTS_DEFAULT 10000
/* Most agents this program starts (the largest run). */
#define BENCH_NODES_MAX 1024
/* Convergence deadline: joining one seed, then gossip; generous for 500
 * agents sharing two cores. */
#define BENCH_CONVERGE_MS 300000
/* Idle CPU window: 30 lan probe periods. */
#define BENCH_IDLE_MS_DEFAULT 30000
/* swimctl runs measured; the median is reported. */
#define BENCH_CTL_RUNS 101
/* Events fired but not yet seen everywhere: keeps every node's user
 * broadcast queue (1,024 places in the core) from overflowing. */
#define BENCH_EVENTS_IN_FLIGHT 400
/* Deadline for the events to reach every agent. */
#define BENCH_EVENTS_MS 600000
/* Pause between two rounds of firing and looking. */
#define BENCH_EVENTS_POLL_MS 250
/* Events fired per round at most. */
#define BENCH_EVENTS_PER_ROUND 100
/* No agent's clock moved for this long although all were fired: fire more. */
#define BENCH_EVENTS_STALL_MS 10000

struct bench {
    struct harness *pods;
    size_t npods;
    size_t n; /* agents started */
};

static struct harness_node *bench_node(struct bench *b, size_t i)
{
    return &b->pods[i / HARNESS_NODES_MAX].nodes[i % HARNESS_NODES_MAX];
}

static long long proc_status_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long long v = -1;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, field, strlen(field)) == 0)
            v = atoll(line + strlen(field) + 1);
    fclose(f);
    return v;
}

/* Nanoseconds the process has run on a CPU (all threads). */
static long long proc_cpu_ns(pid_t pid)
{
    char path[64];
    long long ns = -1;
    snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%lld", &ns) != 1)
        ns = -1;
    fclose(f);
    return ns;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Start agents [b->n, n): the first one alone, the others joining it. */
static int bench_start(struct bench *b, size_t n)
{
    for (size_t i = b->n; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "n%zu", i + 1);
        const char *alone[] = {"--log-level", "warn", "--profile", "lan", NULL};
        const char *joiner[] = {
            "--log-level", "warn", "--profile", "lan", "--join", b->pods[0].nodes[0].addr, NULL};
        if (harness_start(&b->pods[i / HARNESS_NODES_MAX], i % HARNESS_NODES_MAX, name, "127.0.0.1",
                          i == 0 ? alone : joiner) != 0) {
            fprintf(stderr, "bench: node %zu did not start\n", i + 1);
            return -1;
        }
        b->n = i + 1;
    }
    return 0;
}

/* Every 7th agent lists all b->n as alive, within the deadline. */
static int bench_converge(struct bench *b)
{
    uint64_t deadline = clock_mono_ms() + BENCH_CONVERGE_MS;
    while (clock_mono_ms() < deadline) {
        int ok = 1;
        for (size_t i = 0; i < b->n && ok; i += 7)
            ok = harness_count(bench_node(b, i), "alive") == (int)b->n;
        if (ok)
            return 0;
        usleep(500000);
    }
    fprintf(stderr, "bench: no convergence to %zu alive\n", b->n);
    return -1;
}

/* One `swimctl --socket SOCK members` with its output to /dev/null, as
 * `hyperfine -N` runs it: 0 when it exited 0.  Blocks until it exits. */
static int bench_run_members(const char *swimctl, const char *sock)
{
    char *argv[] = {(char *)swimctl, "--socket", (char *)sock, "members", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawn(&pid, swimctl, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    int st = 0;
    if (rc != 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Median wall time of `swimctl members` against the running agents. */
static int bench_members_ms(struct bench *b, double *out)
{
    uint64_t us[BENCH_CTL_RUNS];
    for (int i = 0; i < BENCH_CTL_RUNS; i++) {
        struct harness_node *nd = bench_node(b, (size_t)i % b->n);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int rc = bench_run_members(b->pods[0].swimctl, nd->sock);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (rc != 0) {
            fprintf(stderr, "bench: swimctl members failed against %s\n", nd->name);
            return -1;
        }
        us[i] = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000u +
                (uint64_t)((t1.tv_nsec - t0.tv_nsec) / 1000);
    }
    qsort(us, BENCH_CTL_RUNS, sizeof(us[0]), cmp_u64);
    *out = (double)us[BENCH_CTL_RUNS / 2] / 1000.0;
    return 0;
}

/* Mean CPU per agent, in percent of one core, over window_ms. */
static double bench_idle_cpu(struct bench *b, int window_ms)
{
    long long *t0 = calloc(b->n, sizeof(*t0));
    if (t0 == NULL)
        return -1;
    for (size_t i = 0; i < b->n; i++)
        t0[i] = proc_cpu_ns(bench_node(b, i)->pid);
    uint64_t w0 = clock_mono_ms();
    usleep((useconds_t)window_ms * 1000);
    uint64_t window = clock_mono_ms() - w0;
    long long ns = 0;
    for (size_t i = 0; i < b->n; i++)
        ns += proc_cpu_ns(bench_node(b, i)->pid) - t0[i];
    free(t0);
    return 100.0 * ((double)ns / 1e6) / (double)window / (double)b->n;
}

/* Largest `field` of /proc/PID/status over the agents. */
static long long bench_max_kib(struct bench *b, const char *field)
{
    long long max = 0;
    for (size_t i = 0; i < b->n; i++) {
        long long v = proc_status_kib(bench_node(b, i)->pid, field);
        if (v > max)
            max = v;
    }
    return max;
}

/* Smallest event clock over the agents (-1 when one does not answer). */
static long long bench_min_clock(struct bench *b)
{
    long long min = -1;
    for (size_t i = 0; i < b->n; i++) {
        long long c = harness_info_int(bench_node(b, i), "event_clock");
        if (c < 0)
            return -1;
        if (min < 0 || c < min)
            min = c;
    }
    return min;
}

/* Fire user events round robin until every agent's clock reaches `target`
 * (the clocks count the joins too).  Each pass fires a few, a bounded
 * stretch ahead of the slowest agent, then looks; the deadline bounds the
 * whole. */
static int bench_events(struct bench *b, long long target)
{
    uint64_t deadline = clock_mono_ms() + BENCH_EVENTS_MS;
    long long base = bench_min_clock(b), seen = base, fired = 0;
    long long goal = target - base;
    uint64_t progress_at = clock_mono_ms();
    size_t next = 0;
    while (seen < target) {
        if (seen < 0 || clock_mono_ms() > deadline) {
            fprintf(stderr, "bench: events: every agent has seen %lld of %lld\n", seen, target);
            return -1;
        }
        for (int k = 0; k < BENCH_EVENTS_PER_ROUND && fired < goal &&
                        fired - (seen - base) < BENCH_EVENTS_IN_FLIGHT;
             k++) {
            char payload[32];
            snprintf(payload, sizeof(payload), "deploy v1.%lld", fired);
            json_t *r =
                harness_call(bench_node(b, next), json_pack("{s:s,s:s,s:s}", "cmd", "event", "name",
                                                            "bench", "payload", payload));
            next = (next + 1) % b->n;
            if (r != NULL && json_object_get(r, "error") == NULL)
                fired++;
            json_decref(r);
        }
        usleep(BENCH_EVENTS_POLL_MS * 1000);
        long long now = bench_min_clock(b);
        if (now > seen)
            progress_at = clock_mono_ms();
        seen = now;
        if (fired >= goal && clock_mono_ms() - progress_at > BENCH_EVENTS_STALL_MS)
            goal += BENCH_EVENTS_PER_ROUND; /* some were lost everywhere: fire more */
    }
    return 0;
}

static int bench_args(int argc, char **argv, size_t *nodes, size_t *members_at, long long *events,
                      int *idle_ms)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        long long v = atoll(argv[i + 1]);
        if (strcmp(argv[i], "--nodes") == 0 && v > 0 && v <= BENCH_NODES_MAX)
            *nodes = (size_t)v;
        else if (strcmp(argv[i], "--members-at") == 0 && v >= 0)
            *members_at = (size_t)v;
        else if (strcmp(argv[i], "--events") == 0 && v >= 0)
            *events = v;
        else if (strcmp(argv[i], "--idle-ms") == 0 && v > 0)
            *idle_ms = (int)v;
        else
            return -1;
    }
    if (*members_at > *nodes || (argc - 1) % 2 != 0)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    size_t nodes = BENCH_NODES_DEFAULT, members_at = BENCH_MEMBERS_AT_DEFAULT;
    long long events = BENCH_EVENTS_DEFAULT;
    int idle_ms = BENCH_IDLE_MS_DEFAULT;
    if (bench_args(argc, argv, &nodes, &members_at, &events, &idle_ms) != 0) {
        fprintf(stderr, "usage: agent_bench [--nodes N] [--members-at M] [--events E] "
                        "[--idle-ms MS]\n");
        return 2;
    }
    struct bench b = {.npods = (nodes + HARNESS_NODES_MAX - 1) / HARNESS_NODES_MAX};
    b.pods = calloc(b.npods, sizeof(*b.pods));
    if (b.pods == NULL)
        return 1;
    size_t made = 0;
    int rc = 1;
    for (; made < b.npods; made++)
        if (harness_create(&b.pods[made]) != 0)
            goto out;
    double members_ms = -1;
    if (members_at > 0 && (bench_start(&b, members_at) != 0 || bench_converge(&b) != 0 ||
                           bench_members_ms(&b, &members_ms) != 0))
        goto out;
    if (bench_start(&b, nodes) != 0 || bench_converge(&b) != 0)
        goto out;
    double cpu = bench_idle_cpu(&b, idle_ms);
    long long rss_idle = bench_max_kib(&b, "VmRSS:");
    if (members_at > 0)
        printf("swimctl_members_ms %.2f ms\n", members_ms);
    printf("swimd_cpu_pct_idle %.4f %%\n", cpu);
    printf("swimd_rss_kib_idle %lld KiB\n", rss_idle);
    fflush(stdout);
    if (events > 0) {
        if (bench_events(&b, events) != 0)
            goto out;
        printf("swimd_rss_kib %lld KiB\n", bench_max_kib(&b, "VmRSS:"));
        printf("swimd_rss_anon_kib %lld KiB\n", bench_max_kib(&b, "RssAnon:"));
        printf("swimd_event_clock_min %lld events\n", bench_min_clock(&b));
    }
    rc = 0;
out:
    for (size_t i = 0; i < made; i++)
        harness_destroy(&b.pods[i]);
    free(b.pods);
    return rc;
}
