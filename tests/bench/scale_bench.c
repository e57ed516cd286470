/*
 * scale_bench.c - real swimd processes on loopback at N = 20, 100 and 500
 * (registered with meson benchmark(); run it from a release build, see
 * tests/bench/RESULTS.md): how long a cluster takes to converge once its
 * last agent started, and what an idle agent sends.
 *
 * Every agent (n001, n002, ...: names of one length, so the bytes compare
 * across sizes) binds its own loopback address (127.0.0.2, .3, ... then
 * 127.0.1.x) on a port the kernel picks, runs the lan profile and joins
 * the first.  They are started one after the other, each waited for until
 * its control socket answers (tests/agent/agent_harness.c).
 *
 * Prints one `name value unit` line per figure and size, each the median
 * of the runs:
 *   convergence_ms_N        from the start of the last agent until every
 *                           agent sees every other alive: the latest, over
 *                           the agents, of the time (wall clock, from the
 *                           agent's own event stream) of the member-join
 *                           or member-alive event that completed its view
 *   idle_bytes_per_agent_per_s_N
 *                           mean over the agents of info's bytes_out over
 *                           an idle window of BENCH_IDLE_MS, which starts
 *                           BENCH_SETTLE_MS after convergence (the join's
 *                           gossip has drained and anti-entropy has slowed
 *                           to its sync interval by then)
 *
 * Usage: scale_bench [RUNS [N,N,...]]  (default: 3 runs of 20,100,500).
 * Exits non-zero if a cluster does not converge within BENCH_CONVERGE_MS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent_harness.h"
#include "clock.h"

/* Sizes at most (HARNESS_NODES_MAX). */
#define BENCH_SIZES_MAX 8
#define BENCH_RUNS_MAX 9
/* From the last start until every agent counts every other alive. */
#define BENCH_CONVERGE_MS 120000
/* After convergence, before the idle window: anti-entropy's interval
 * doubles from 200 ms to 30 s in about 51 s, and the join's gossip is
 * spent well before. */
#define BENCH_SETTLE_MS 60000
/* The idle window: one lan sync interval. */
#define BENCH_IDLE_MS 30000

static uint64_t wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

/* The wall-clock time of the latest member-join or member-alive event in
 * the node's history (the moment its view last grew), or 0. */
static uint64_t last_alive_event(struct harness_node *nd)
{
    /* A stream on the control socket (harness_raw_client is for Check
     * tests only: it asserts). */
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", nd->sock);
    struct timeval tv = {10, 0};
    const char *req = "{\"cmd\":\"watch\",\"since\":0,\"types\":\"member-join,member-alive\"}\n";
    FILE *f = NULL;
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
        send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req) ||
        (f = fdopen(fd, "r")) == NULL) {
        if (fd >= 0)
            close(fd);
        return 0;
    }
    char line[4096];
    json_int_t clock = -1;
    uint64_t latest = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        json_t *j = json_loads(line, 0, NULL);
        if (j == NULL)
            break;
        if (clock < 0) {
            clock = json_integer_value(json_object_get(j, "clock"));
        } else {
            json_int_t t = json_integer_value(json_object_get(j, "time"));
            if ((uint64_t)t > latest)
                latest = (uint64_t)t;
        }
        json_int_t seq = json_integer_value(json_object_get(j, "seq"));
        json_decref(j);
        if (clock >= 0 && seq >= clock)
            break; /* the history is read */
    }
    fclose(f);
    return latest;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t median(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_u64);
    return v[n / 2];
}

/* One cluster of n agents: its convergence (ms) and idle bytes per agent
 * per second (times 10, to keep a decimal).  0 or -1. */
static int bench_once(size_t n, uint64_t *conv_ms, uint64_t *idle_x10)
{
    struct harness h;
    if (harness_create(&h) != 0)
        return -1;
    int rc = -1;
    uint64_t t_last = 0;
    for (size_t i = 0; i < n; i++) {
        char host[32];
        snprintf(host, sizeof(host), "127.0.%zu.%zu", (i + 1) / 254, (i + 1) % 254 + 1);
        const char *seed[] = {"--profile", "lan", "--log-level", "warn", NULL};
        const char *join[] = {"--profile", "lan",           "--log-level", "warn",
                              "--join",    h.nodes[0].addr, NULL};
        if (i == n - 1)
            t_last = wall_ms();
        char name[32]; /* one length at every N, so the bytes compare across sizes */
        snprintf(name, sizeof(name), "n%03zu", i + 1);
        if (harness_start(&h, i, name, host, i == 0 ? seed : join) != 0) {
            fprintf(stderr, "scale_bench: agent %zu of %zu did not start\n", i + 1, n);
            goto out;
        }
    }
    /* Wait until every agent counts all n alive (itself included). */
    uint64_t deadline = clock_mono_ms() + BENCH_CONVERGE_MS;
    size_t done = 0;
    while (done < n && clock_mono_ms() < deadline) {
        long long alive = -1;
        json_t *info = harness_call(&h.nodes[done], json_pack("{s:s}", "cmd", "info"));
        if (info != NULL) {
            alive = json_integer_value(json_object_get(json_object_get(info, "counts"), "alive"));
            json_decref(info);
        }
        if (alive == (long long)n)
            done++;
        else
            usleep(20000);
    }
    if (done < n) {
        fprintf(stderr, "scale_bench: %zu agents did not converge (agent %zu sees too few)\n", n,
                done + 1);
        goto out;
    }
    uint64_t latest = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t t = last_alive_event(&h.nodes[i]);
        if (t > latest)
            latest = t;
    }
    *conv_ms = latest > t_last ? latest - t_last : 0;

    usleep(BENCH_SETTLE_MS * 1000);
    long long *b0 = calloc(n, sizeof(*b0));
    if (b0 == NULL)
        goto out;
    for (size_t i = 0; i < n; i++)
        b0[i] = harness_info_int(&h.nodes[i], "bytes_out");
    uint64_t w0 = clock_mono_ms();
    usleep(BENCH_IDLE_MS * 1000);
    double secs = (double)(clock_mono_ms() - w0) / 1000.0;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += (double)(harness_info_int(&h.nodes[i], "bytes_out") - b0[i]);
    free(b0);
    *idle_x10 = (uint64_t)(10.0 * sum / (double)n / secs + 0.5);
    rc = 0;
out:
    harness_destroy(&h);
    return rc;
}

int main(int argc, char **argv)
{
    size_t runs = 3, sizes[BENCH_SIZES_MAX] = {20, 100, 500}, n_sizes = 3;
    if (argc > 1)
        runs = (size_t)atoi(argv[1]);
    if (argc > 2) {
        n_sizes = 0;
        for (char *t = strtok(argv[2], ","); t != NULL && n_sizes < BENCH_SIZES_MAX;
             t = strtok(NULL, ","))
            sizes[n_sizes++] = (size_t)atoi(t);
    }
    if (runs < 1 || runs > BENCH_RUNS_MAX) {
        fprintf(stderr, "usage: scale_bench [RUNS (1 to %d) [N,N,...]]\n", BENCH_RUNS_MAX);
        return 2;
    }
    for (size_t s = 0; s < n_sizes; s++) {
        if (sizes[s] < 2 || sizes[s] > HARNESS_NODES_MAX) {
            fprintf(stderr, "scale_bench: sizes are 2 to %d\n", HARNESS_NODES_MAX);
            return 2;
        }
        uint64_t conv[BENCH_RUNS_MAX], idle[BENCH_RUNS_MAX];
        for (size_t r = 0; r < runs; r++) {
            if (bench_once(sizes[s], &conv[r], &idle[r]) != 0)
                return 1;
            fprintf(stderr, "scale_bench: N=%zu run %zu: %llu ms, %.1f B/s\n", sizes[s], r + 1,
                    (unsigned long long)conv[r], (double)idle[r] / 10.0);
        }
        printf("convergence_ms_%zu %llu ms\n", sizes[s], (unsigned long long)median(conv, runs));
        printf("idle_bytes_per_agent_per_s_%zu %.1f B/s\n", sizes[s],
               (double)median(idle, runs) / 10.0);
        fflush(stdout);
    }
    return 0;
}
