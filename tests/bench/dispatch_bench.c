/*
 * dispatch_bench.c - throughput and latency figures for the clocked dispatcher.
 *
 * Prints one `name value unit` line per figure:
 *   dispatch_msgs_per_s               one thread sends to 8 receivers in turn (each
 *                                     message to one of them) and drains them
 *                                     between batches; counts messages sent and
 *                                     received per second.
 *   dispatch_cross_thread_msgs_per_s  one sender thread, one receiver thread on
 *                                     blocking receives, until end of stream.
 *   daisy_chain_4000x200_ms           4,000 receivers in a chain, each forwarding
 *                                     to the next; 200 messages enter the first;
 *                                     stops when all 200 have left the last.
 *   fanout_1_to_4000_to_1_ms          200 messages to each of 4,000 receivers,
 *                                     each forwarding to one sink receiver; stops
 *                                     when the sink has all 800,000.
 * The chain and the fan-out are driven the way one event loop drives its
 * receivers: a single thread visits each receiver, reads what is pending with
 * disp_try_recv() and forwards it.  Every message still takes the lock, a
 * sequence number and a ring slot, and every receiver reads its clock updates.
 * Timed figures are the median of BENCH_RUNS runs, each on a fresh dispatcher
 * whose set-up is not timed.
 */
#include "dispatch.h"
#include "err.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Runs per figure; the median discards a run disturbed by the scheduler. */
#define BENCH_RUNS 5

/* Single-thread figure: receivers, and messages per receiver between drains
 * (half the queue, so the sender never finds one full). */
#define ST_RECEIVERS 8
#define ST_BATCH 512
#define ST_CAPACITY 1024
#define ST_ROUNDS 5000
#define ST_MESSAGES ((uint64_t)ST_ROUNDS * ST_BATCH * ST_RECEIVERS)

/* Cross-thread figure: messages, and a queue deep enough to absorb jitter. */
#define XT_MESSAGES (10u * 1000 * 1000)
#define XT_CAPACITY 1024

/* Chain and fan-out shape, from the issue. */
#define CHAIN_LENGTH 4000
#define CHAIN_MESSAGES 200
/* Holds all CHAIN_MESSAGES, so a forward never finds a full queue. */
#define CHAIN_CAPACITY 256

#define FAN_WIDTH 4000
#define FAN_MESSAGES 200
#define FAN_CAPACITY 256

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "dispatch_bench: %s: %s\n", what, err_strerror(rc));
    exit(EXIT_FAILURE);
}

static struct disp *make_disp(void)
{
    struct disp_config cfg = {.seed = 0, .msg_size = sizeof(uint64_t)};
    struct disp *d = disp_new(&cfg);
    if (!d)
        die("disp_new", ERR_NOMEM);
    return d;
}

static struct disp_rx **open_many(struct disp *d, int n, size_t capacity)
{
    struct disp_rx **rx = calloc((size_t)n, sizeof(*rx));
    if (!rx)
        die("calloc", ERR_NOMEM);
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "r%d", i);
        int rc = disp_rx_open(d, name, capacity, DISP_BLOCK, &rx[i]);
        if (rc != 0)
            die("disp_rx_open", rc);
    }
    return rx;
}

static void close_many(struct disp_rx **rx, int n)
{
    for (int i = 0; i < n; i++)
        disp_rx_close(rx[i]);
    free(rx);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[n / 2];
}

/* ---- one thread, 8 receivers ------------------------------------------------ */

static double run_single_thread(void)
{
    struct disp *d = make_disp();
    struct disp_rx **rx = open_many(d, ST_RECEIVERS, ST_CAPACITY);
    struct disp_addr to[ST_RECEIVERS];
    for (int i = 0; i < ST_RECEIVERS; i++)
        to[i] = disp_rx_addr(rx[i]);
    struct disp_tx *tx = disp_tx_new(d);
    uint64_t received = 0;
    double t0 = now_s();
    uint64_t sent = 0;
    for (int round = 0; round < ST_ROUNDS; round++) {
        for (int b = 0; b < ST_BATCH * ST_RECEIVERS; b++, sent++) {
            int rc = disp_send(tx, to[sent % ST_RECEIVERS], &sent, NULL);
            if (rc != 0)
                die("disp_send", rc);
        }
        for (int i = 0; i < ST_RECEIVERS; i++) {
            struct disp_msg m;
            uint64_t v;
            while (disp_try_recv(rx[i], &m, &v) == 0) /* at most a batch and a clock */
                received += m.kind == DISP_MSG_DATA;
        }
    }
    double t = now_s() - t0;
    if (received != ST_MESSAGES)
        die("single thread: lost messages", ERR_STATE);
    disp_tx_close(tx);
    close_many(rx, ST_RECEIVERS);
    disp_delete(d);
    return ST_MESSAGES / t;
}

/* ---- one sender thread, one receiver thread ------------------------------------- */

struct xt_rx {
    struct disp_rx *rx;
    uint64_t received;
};

static void *xt_receiver(void *arg)
{
    struct xt_rx *job = arg;
    for (;;) { /* ends at END, after XT_MESSAGES data messages */
        struct disp_msg m;
        uint64_t v;
        int rc = disp_recv(job->rx, &m, &v);
        if (rc != 0)
            die("disp_recv", rc);
        if (m.kind == DISP_MSG_END)
            return NULL;
        job->received += m.kind == DISP_MSG_DATA;
    }
}

struct xt_tx {
    struct disp_tx *tx;
    struct disp_addr to;
};

static void *xt_sender(void *arg)
{
    struct xt_tx *job = arg;
    for (uint64_t i = 0; i < XT_MESSAGES; i++) {
        int rc = disp_send(job->tx, job->to, &i, NULL);
        if (rc != 0)
            die("disp_send", rc);
    }
    disp_tx_close(job->tx);
    return NULL;
}

static double run_cross_thread(void)
{
    struct disp *d = make_disp();
    struct disp_rx **rx = open_many(d, 1, XT_CAPACITY);
    struct xt_rx rj = {.rx = rx[0]};
    struct xt_tx tj = {.tx = disp_tx_new(d), .to = disp_rx_addr(rx[0])};
    pthread_t rt, tt;
    double t0 = now_s();
    if (pthread_create(&rt, NULL, xt_receiver, &rj) != 0 ||
        pthread_create(&tt, NULL, xt_sender, &tj) != 0)
        die("pthread_create", ERR_SYS);
    pthread_join(tt, NULL);
    pthread_join(rt, NULL);
    double t = now_s() - t0;
    if (rj.received != XT_MESSAGES)
        die("cross thread: lost messages", ERR_STATE);
    close_many(rx, 1);
    disp_delete(d);
    return XT_MESSAGES / t;
}

/* ---- daisy chain ------------------------------------------------------------ */

static double run_daisy_chain(void)
{
    struct disp *d = make_disp();
    struct disp_rx **rx = open_many(d, CHAIN_LENGTH, CHAIN_CAPACITY);
    struct disp_tx *tx = disp_tx_new(d);
    int left = 0;
    double t0 = now_s();
    for (uint64_t i = 0; i < CHAIN_MESSAGES; i++) {
        int rc = disp_try_send(tx, disp_rx_addr(rx[0]), &i, NULL);
        if (rc != 0)
            die("disp_try_send", rc);
    }
    /* One pass carries everything to the end: each receiver is visited after
     * its predecessor has forwarded all it had. */
    for (int i = 0; i < CHAIN_LENGTH; i++) {
        struct disp_addr next =
            i + 1 < CHAIN_LENGTH ? disp_rx_addr(rx[i + 1]) : (struct disp_addr){0};
        struct disp_msg m;
        uint64_t v;
        while (disp_try_recv(rx[i], &m, &v) == 0) { /* at most CHAIN_MESSAGES + 1 */
            if (m.kind != DISP_MSG_DATA)
                continue;
            if (i + 1 == CHAIN_LENGTH) {
                left++;
                continue;
            }
            int rc = disp_try_send(tx, next, &v, NULL);
            if (rc != 0)
                die("disp_try_send", rc);
        }
    }
    double t = now_s() - t0;
    if (left != CHAIN_MESSAGES)
        die("daisy chain: lost messages", ERR_STATE);
    disp_tx_close(tx);
    close_many(rx, CHAIN_LENGTH);
    disp_delete(d);
    return t * 1e3;
}

/* ---- fan-out and fan-in ----------------------------------------------------- */

static uint64_t drain_count(struct disp_rx *rx)
{
    uint64_t n = 0;
    struct disp_msg m;
    while (disp_try_recv(rx, &m, NULL) == 0) /* at most capacity + 1 */
        n += m.kind == DISP_MSG_DATA;
    return n;
}

static double run_fanout(void)
{
    struct disp *d = make_disp();
    struct disp_rx **rx = open_many(d, FAN_WIDTH, FAN_CAPACITY);
    struct disp_rx *sink = NULL;
    int rc = disp_rx_open(d, "sink", FAN_CAPACITY, DISP_BLOCK, &sink);
    if (rc != 0)
        die("disp_rx_open", rc);
    struct disp_addr sink_addr = disp_rx_addr(sink);
    struct disp_tx *tx = disp_tx_new(d);
    uint64_t at_sink = 0;
    double t0 = now_s();
    for (uint64_t k = 0; k < FAN_MESSAGES; k++)
        for (int i = 0; i < FAN_WIDTH; i++) {
            rc = disp_try_send(tx, disp_rx_addr(rx[i]), &k, NULL);
            if (rc != 0)
                die("disp_try_send", rc);
        }
    for (int i = 0; i < FAN_WIDTH; i++) {
        struct disp_msg m;
        uint64_t v;
        while (disp_try_recv(rx[i], &m, &v) == 0) { /* at most FAN_MESSAGES + 1 */
            if (m.kind != DISP_MSG_DATA)
                continue;
            rc = disp_try_send(tx, sink_addr, &v, NULL);
            if (rc == ERR_FULL) {
                at_sink += drain_count(sink);
                rc = disp_try_send(tx, sink_addr, &v, NULL);
            }
            if (rc != 0)
                die("disp_try_send", rc);
        }
    }
    at_sink += drain_count(sink);
    double t = now_s() - t0;
    if (at_sink != (uint64_t)FAN_WIDTH * FAN_MESSAGES)
        die("fan-out: lost messages", ERR_STATE);
    disp_tx_close(tx);
    disp_rx_close(sink);
    close_many(rx, FAN_WIDTH);
    disp_delete(d);
    return t * 1e3;
}

int main(void)
{
    double st[BENCH_RUNS], xt[BENCH_RUNS], chain[BENCH_RUNS], fan[BENCH_RUNS];
    for (int r = 0; r < BENCH_RUNS; r++) {
        st[r] = run_single_thread();
        xt[r] = run_cross_thread();
        chain[r] = run_daisy_chain();
        fan[r] = run_fanout();
    }
    printf("dispatch_msgs_per_s %.0f msgs/s\n", median(st, BENCH_RUNS));
    printf("dispatch_cross_thread_msgs_per_s %.0f msgs/s\n", median(xt, BENCH_RUNS));
    printf("daisy_chain_4000x200_ms %.2f ms\n", median(chain, BENCH_RUNS));
    printf("fanout_1_to_4000_to_1_ms %.2f ms\n", median(fan, BENCH_RUNS));
    return EXIT_SUCCESS;
}
