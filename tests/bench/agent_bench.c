/*
 * agent_bench.c - swimd at 50 nodes on loopback (registered with meson
 * benchmark(); run it from a release build, see the README).
 *
 * Prints one `name value unit` line per figure:
 *   swimd_rss_kib       largest VmRSS of the 50 agents once converged
 *   swimd_cpu_pct_idle  mean CPU per agent over an idle window
 *   swimctl_members_ms  median wall time of `swimctl members` (fork, exec,
 *                       connect, request, 50-row table) against one agent
 * Exits non-zero if the cluster does not converge in time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent_harness.h"

/* The cluster size. */
#define BENCH_NODES 50
/* Convergence deadline for 50 agents joining one seed. */
#define BENCH_CONVERGE_MS 90000
/* Idle CPU window: several probe periods of the local profile. */
#define BENCH_IDLE_MS 10000
/* swimctl runs measured; the median is reported. */
#define BENCH_CTL_RUNS 51

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

/* utime + stime of a process, in clock ticks. */
static long long proc_cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (p == NULL)
        return -1;
    long long ut = 0, st = 0;
    /* After ")": state(3) ... utime is field 14, stime 15. */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut, &st) != 2)
        return -1;
    return ut + st;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    struct harness h;
    if (harness_create(&h) != 0)
        return 1;
    int rc = 1;
    const char *quiet[] = {"--log-level", "warn", NULL};
    if (harness_start(&h, 0, NULL, "127.0.0.1", quiet) != 0) {
        fprintf(stderr, "bench: seed did not start\n");
        goto out;
    }
    for (size_t i = 1; i < BENCH_NODES; i++) {
        const char *extra[] = {"--log-level", "warn", "--join", h.nodes[0].addr, NULL};
        if (harness_start(&h, i, NULL, "127.0.0.1", extra) != 0) {
            fprintf(stderr, "bench: node %zu did not start\n", i + 1);
            goto out;
        }
    }
    uint64_t deadline = clock_mono_ms() + BENCH_CONVERGE_MS;
    int converged = 0;
    while (!converged && clock_mono_ms() < deadline) {
        converged = 1;
        for (size_t i = 0; i < BENCH_NODES && converged; i += 7)
            converged = harness_count(&h.nodes[i], "alive") == BENCH_NODES;
        if (!converged)
            usleep(200000);
    }
    if (!converged) {
        fprintf(stderr, "bench: no convergence to %d alive\n", BENCH_NODES);
        goto out;
    }

    long long t0[BENCH_NODES];
    for (size_t i = 0; i < BENCH_NODES; i++)
        t0[i] = proc_cpu_ticks(h.nodes[i].pid);
    uint64_t w0 = clock_mono_ms();
    usleep(BENCH_IDLE_MS * 1000);
    uint64_t window = clock_mono_ms() - w0;
    long long ticks = 0, rss_max = 0;
    for (size_t i = 0; i < BENCH_NODES; i++) {
        ticks += proc_cpu_ticks(h.nodes[i].pid) - t0[i];
        long long rss = proc_status_kib(h.nodes[i].pid, "VmRSS:");
        if (rss > rss_max)
            rss_max = rss;
    }
    double cpu_pct = 100.0 * ((double)ticks / (double)sysconf(_SC_CLK_TCK)) /
                     ((double)window / 1000.0) / BENCH_NODES;

    uint64_t ms[BENCH_CTL_RUNS];
    const char *args[] = {"members", NULL};
    for (int i = 0; i < BENCH_CTL_RUNS; i++) {
        char *out = NULL;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int code = harness_swimctl(&h, &h.nodes[i % BENCH_NODES], args, &out);
        clock_gettime(CLOCK_MONOTONIC, &b);
        free(out);
        if (code != 0) {
            fprintf(stderr, "bench: swimctl members exited %d\n", code);
            goto out;
        }
        ms[i] = (uint64_t)(b.tv_sec - a.tv_sec) * 1000000u +
                (uint64_t)((b.tv_nsec - a.tv_nsec) / 1000); /* microseconds */
    }
    qsort(ms, BENCH_CTL_RUNS, sizeof(ms[0]), cmp_u64);
    printf("swimd_rss_kib %lld KiB\n", rss_max);
    printf("swimd_cpu_pct_idle %.2f %%\n", cpu_pct);
    printf("swimctl_members_ms %.2f ms\n", (double)ms[BENCH_CTL_RUNS / 2] / 1000.0);
    rc = 0;
out:
    harness_destroy(&h);
    return rc;
}
