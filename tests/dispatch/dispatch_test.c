/*
 * dispatch_test.c - Check suite for the clocked dispatcher: ordering, clock
 * updates, broadcast, end of stream, full-queue policies, descriptors, sender
 * and receiver lifetimes.  The many-thread stress lives in dispatch_stress.c.
 *
 * Every test builds its own dispatcher and frees it; fork mode stays on (debug
 * with CK_FORK=no).
 */
#include "dispatch.h"
#include "err.h"

#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Long enough that a sender that should block has certainly tried. */
#define BLOCK_PROBE_MS 100

/* Upper bound on any wait that must succeed, far above what it needs. */
#define WAIT_LIMIT_MS 5000

/* The silent-receiver test's message count, from the issue. */
#define SILENT_MESSAGES 1000000u

/* Drain the busy receiver this often in the silent-receiver test. */
#define SILENT_DRAIN_EVERY 512u

static struct disp *new_disp(uint64_t seed, disp_drop_f drop, void *ctx)
{
    struct disp_config cfg = {
        .seed = seed, .msg_size = sizeof(uint64_t), .drop = drop, .drop_ctx = ctx};
    struct disp *d = disp_new(&cfg);
    ck_assert_ptr_nonnull(d);
    return d;
}

static struct disp_rx *open_rx(struct disp *d, const char *name, size_t cap,
                               enum disp_policy policy)
{
    struct disp_rx *rx = NULL;
    ck_assert_int_eq(disp_rx_open(d, name, cap, policy, &rx), 0);
    ck_assert_ptr_nonnull(rx);
    return rx;
}

static uint64_t send_val(struct disp_tx *tx, struct disp_rx *rx, uint64_t v)
{
    uint64_t seq = 0;
    ck_assert_int_eq(disp_send(tx, disp_rx_addr(rx), &v, &seq), 0);
    return seq;
}

/* Expect exactly this message next, without waiting. */
static void expect(struct disp_rx *rx, enum disp_msg_kind kind, uint64_t seq)
{
    struct disp_msg m;
    uint64_t data = 0;
    ck_assert_int_eq(disp_try_recv(rx, &m, &data), 0);
    ck_assert_int_eq(m.kind, kind);
    ck_assert_uint_eq(m.seq, seq);
}

static void expect_data(struct disp_rx *rx, uint64_t seq, uint64_t value)
{
    struct disp_msg m;
    uint64_t data = 0;
    ck_assert_int_eq(disp_try_recv(rx, &m, &data), 0);
    ck_assert_int_eq(m.kind, DISP_MSG_DATA);
    ck_assert_uint_eq(m.seq, seq);
    ck_assert_uint_eq(data, value);
}

static void expect_empty(struct disp_rx *rx)
{
    struct disp_msg m;
    ck_assert_int_eq(disp_try_recv(rx, &m, NULL), ERR_AGAIN);
}

static long elapsed_ms(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000 + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static bool fd_readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int n = poll(&p, 1, timeout_ms);
    ck_assert_int_ge(n, 0);
    return n == 1 && (p.revents & POLLIN);
}

/* ---- single thread ------------------------------------------------------- */

START_TEST(disp_test_data_arrives_in_order)
{
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_rx *a = open_rx(d, "a", 128, DISP_BLOCK);
    struct disp_tx *tx = disp_tx_new(d);
    for (uint64_t i = 0; i < 100; i++)
        ck_assert_uint_eq(send_val(tx, a, 1000 + i), i + 1);
    for (uint64_t i = 0; i < 100; i++)
        expect_data(a, i + 1, 1000 + i);
    expect_empty(a);
    disp_tx_close(tx);
    disp_rx_close(a);
    disp_delete(d);
}
END_TEST

START_TEST(disp_test_seed_starts_sequence)
{
    struct disp *d = new_disp(1000, NULL, NULL);
    struct disp_rx *a = open_rx(d, "a", 4, DISP_BLOCK);
    struct disp_tx *tx = disp_tx_new(d);
    ck_assert_uint_eq(disp_clock(d), 1000);
    expect_empty(a); /* the seed is not news */
    ck_assert_uint_eq(send_val(tx, a, 7), 1001);
    ck_assert_uint_eq(disp_clock(d), 1001);
    expect_data(a, 1001, 7);
    disp_tx_close(tx);
    disp_rx_close(a);
    disp_delete(d);
}
END_TEST

START_TEST(disp_test_clock_updates_coalesce)
{
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_rx *a = open_rx(d, "a", 4, DISP_BLOCK);
    struct disp_rx *b = open_rx(d, "b", 2048, DISP_BLOCK);
    struct disp_tx *tx = disp_tx_new(d);
    for (uint64_t i = 0; i < 1000; i++)
        send_val(tx, b, i);
    expect(a, DISP_MSG_CLOCK, 1000); /* one update for a thousand messages */
    expect_empty(a);
    struct disp_rx *late = open_rx(d, "late", 4, DISP_BLOCK);
    expect(late, DISP_MSG_CLOCK, 1000); /* a new receiver learns where we are */
    expect_empty(late);
    disp_rx_close(late);
    send_val(tx, b, 0);
    expect(a, DISP_MSG_CLOCK, 1001);
    expect_empty(a);
    disp_tx_close(tx);
    disp_rx_close(a);
    disp_rx_close(b);
    disp_delete(d);
}
END_TEST

START_TEST(disp_test_clock_never_overtakes_data)
{
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_rx *a = open_rx(d, "a", 8, DISP_BLOCK);
    struct disp_rx *b = open_rx(d, "b", 8, DISP_BLOCK);
    struct disp_tx *tx = disp_tx_new(d);
    send_val(tx, a, 1); /* seq 1 */
    send_val(tx, b, 2); /* seq 2 */
    send_val(tx, a, 3); /* seq 3 */
    send_val(tx, b, 4); /* seq 4 */
    send_val(tx, b, 5); /* seq 5 */
    /* a's clock 5 comes only after its data 1 and 3; b sees no clock at all,
     * since its own data already reached 5. */
    expect_data(a, 1, 1);
    expect_data(a, 3, 3);
    expect(a, DISP_MSG_CLOCK, 5);
    expect_empty(a);
    expect_data(b, 2, 2);
    expect_data(b, 4, 4);
    expect_data(b, 5, 5);
    expect_empty(b);
    disp_tx_close(tx);
    disp_rx_close(a);
    disp_rx_close(b);
    disp_delete(d);
}
END_TEST

START_TEST(disp_test_broadcast_reaches_every_receiver)
{
    enum { N = 5 };
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_rx *rx[N];
    char name[16];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "r%d", i);
        rx[i] = open_rx(d, name, 4, i % 2 ? DISP_LAG : DISP_BLOCK);
    }
    struct disp_tx *tx = disp_tx_new(d);
    send_val(tx, rx[0], 1);
    uint64_t v = 77, seq = 0;
    ck_assert_int_eq(disp_broadcast(tx, &v, &seq), 0);
    ck_assert_uint_eq(seq, 2);
    expect_data(rx[0], 1, 1);
    for (int i = 0; i < N; i++) {
        expect_data(rx[i], 2, 77);
        expect_empty(rx[i]);
    }
    disp_tx_close(tx);
    for (int i = 0; i < N; i++)
        disp_rx_close(rx[i]);
    disp_delete(d);
}
END_TEST

START_TEST(disp_test_end_of_stream_after_drain)
{
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_rx *a = open_rx(d, "a", 8, DISP_BLOCK);
    struct disp_rx *b = open_rx(d, "b", 8, DISP_BLOCK);
    struct disp_tx *tx = disp_tx_new(d);
    send_val(tx, a, 10);
    send_val(tx, a, 11);
    send_val(tx, a, 12);
    send_val(tx, b, 13);
    disp_tx_close(tx);
    expect_data(a, 1, 10);
    expect_data(a, 2, 11);
    expect_data(a, 3, 12);
    expect(a, DISP_MSG_CLOCK, 4);
    expect(a, DISP_MSG_END, 4);
    expect(a, DISP_MSG_END, 4); /* and it stays ended */
    struct disp_msg m;
    ck_assert_int_eq(disp_recv(b, &m, NULL), 0); /* blocking calls drain too */
    ck_assert_int_eq(m.kind, DISP_MSG_DATA);
    ck_assert_int_eq(disp_recv(b, &m, NULL), 0);
    ck_assert_int_eq(m.kind, DISP_MSG_END);
    ck_assert_uint_eq(m.seq, 4);
    ck_assert_ptr_null(disp_tx_new(d)); /* no new sender after the end */
    disp_rx_close(a);
    disp_rx_close(b);
    disp_delete(d);
}
END_TEST

/* ---- a silent receiver ------------------------------------------------------ */

START_TEST(disp_test_silent_receiver_does_not_block_others)
{
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_rx *silent = open_rx(d, "silent", 4, DISP_BLOCK);
    struct disp_rx *busy = open_rx(d, "busy", 2 * SILENT_DRAIN_EVERY, DISP_BLOCK);
    int fd = disp_rx_fd(silent); /* an idle event-loop receiver: armed once */
    ck_assert_int_ge(fd, 0);
    struct disp_msg m;
    ck_assert_int_eq(disp_try_recv(silent, &m, NULL), ERR_AGAIN);
    struct disp_tx *tx = disp_tx_new(d);
    /* Check's assertions each write to a pipe in fork mode: count failures in
     * the hot loop and assert once. */
    uint64_t next = 1, send_errors = 0, bad = 0;
    for (uint64_t i = 0; i < SILENT_MESSAGES; i++) {
        send_errors += disp_try_send(tx, disp_rx_addr(busy), &i, NULL) != 0;
        if ((i + 1) % SILENT_DRAIN_EVERY == 0 || i + 1 == SILENT_MESSAGES) {
            uint64_t v;
            while (disp_try_recv(busy, &m, &v) == 0) { /* at most the batch */
                bad += m.kind != DISP_MSG_DATA || m.seq != next || v != next - 1;
                next++;
            }
        }
    }
    ck_assert_uint_eq(send_errors, 0);
    ck_assert_uint_eq(bad, 0);
    ck_assert_uint_eq(next, SILENT_MESSAGES + 1);
    ck_assert(fd_readable(fd, 0));
    expect(silent, DISP_MSG_CLOCK, SILENT_MESSAGES); /* a million updates, one value */
    expect_empty(silent);
    disp_tx_close(tx);
    disp_rx_close(silent);
    disp_rx_close(busy);
    disp_delete(d);
}
END_TEST

/* ---- full-queue policies ---------------------------------------------------- */

struct sender_job {
    struct disp_tx *tx;
    struct disp_addr to;
    uint64_t value;
    uint64_t seq;
    int rc;
    atomic_bool done;
};

static void *sender_main(void *arg)
{
    struct sender_job *job = arg;
    job->rc = disp_send(job->tx, job->to, &job->value, &job->seq);
    atomic_store(&job->done, true);
    return NULL;
}

START_TEST(disp_test_block_policy_waits_for_room)
{
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_rx *r = open_rx(d, "r", 2, DISP_BLOCK);
    struct disp_rx *o = open_rx(d, "o", 2, DISP_BLOCK);
    struct disp_tx *tx = disp_tx_new(d);
    uint64_t v = 1;
    ck_assert_int_eq(disp_try_send(tx, disp_rx_addr(r), &v, NULL), 0);
    v = 2;
    ck_assert_int_eq(disp_try_send(tx, disp_rx_addr(r), &v, NULL), 0);
    v = 3;
    ck_assert_int_eq(disp_try_send(tx, disp_rx_addr(r), &v, NULL), ERR_FULL);
    ck_assert_int_eq(disp_try_broadcast(tx, &v, NULL), ERR_FULL);
    ck_assert_uint_eq(disp_clock(d), 2); /* refusals take no sequence number */

    struct sender_job job = {.tx = disp_tx_clone(tx), .to = disp_rx_addr(r), .value = 3};
    atomic_init(&job.done, false);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, sender_main, &job), 0);
    sleep_ms(BLOCK_PROBE_MS);
    ck_assert(!atomic_load(&job.done));       /* waiting for room */
    ck_assert_uint_eq(send_val(tx, o, 9), 3); /* and not in anyone else's way */

    expect_data(r, 1, 1); /* makes room */
    pthread_join(t, NULL);
    ck_assert(atomic_load(&job.done));
    ck_assert_int_eq(job.rc, 0);
    ck_assert_uint_eq(job.seq, 4);
    expect_data(r, 2, 2);
    expect_data(r, 4, 3);
    expect_empty(r);
    disp_tx_close(job.tx);
    disp_tx_close(tx);
    disp_rx_close(r);
    disp_rx_close(o);
    disp_delete(d);
}
END_TEST

START_TEST(disp_test_lag_policy_notifies_first_missed)
{
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_rx *l = open_rx(d, "l", 2, DISP_LAG);
    struct disp_rx *b = open_rx(d, "b", 8, DISP_BLOCK);
    struct disp_tx *tx = disp_tx_new(d);
    uint64_t v = 1;
    ck_assert_int_eq(disp_try_send(tx, disp_rx_addr(l), &v, NULL), 0); /* seq 1 */
    v = 2;
    ck_assert_int_eq(disp_try_send(tx, disp_rx_addr(l), &v, NULL), 0); /* seq 2 */
    v = 3;
    ck_assert_int_eq(disp_try_send(tx, disp_rx_addr(l), &v, NULL), 0); /* seq 3: missed */
    send_val(tx, b, 4);                                                /* seq 4 */
    v = 5;
    ck_assert_int_eq(disp_send(tx, disp_rx_addr(l), &v, NULL), 0); /* seq 5: never waits */

    expect_data(l, 1, 1);
    expect_data(l, 2, 2);
    expect(l, DISP_MSG_LAGGED, 3); /* once, naming the first missed */
    struct disp_msg m;
    ck_assert_int_eq(disp_try_recv(l, &m, NULL), ERR_LAGGED);
    ck_assert_int_eq(disp_recv(l, &m, NULL), ERR_LAGGED);
    uint64_t resume = 0;
    ck_assert_int_eq(disp_rx_ack_lag(l, &resume), 0);
    ck_assert_uint_eq(resume, 5);
    ck_assert_int_eq(disp_rx_ack_lag(l, &resume), ERR_STATE);
    expect_empty(l);
    ck_assert_uint_eq(send_val(tx, l, 6), 6);
    expect_data(l, 6, 6);
    send_val(tx, b, 7);
    expect(l, DISP_MSG_CLOCK, 7);
    expect_data(b, 4, 4); /* b never noticed */
    expect_data(b, 7, 7);
    disp_tx_close(tx);
    disp_rx_close(l);
    disp_rx_close(b);
    disp_delete(d);
}
END_TEST

START_TEST(disp_test_broadcast_lags_only_full_receivers)
{
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_rx *l = open_rx(d, "l", 1, DISP_LAG);
    struct disp_rx *b = open_rx(d, "b", 4, DISP_BLOCK);
    struct disp_tx *tx = disp_tx_new(d);
    uint64_t v = 5;
    ck_assert_int_eq(disp_broadcast(tx, &v, NULL), 0);
    ck_assert_int_eq(disp_broadcast(tx, &v, NULL), 0);
    ck_assert_int_eq(disp_broadcast(tx, &v, NULL), 0);
    expect_data(l, 1, 5);
    expect(l, DISP_MSG_LAGGED, 2);
    expect_data(b, 1, 5);
    expect_data(b, 2, 5);
    expect_data(b, 3, 5);
    disp_tx_close(tx);
    disp_rx_close(l);
    disp_rx_close(b);
    disp_delete(d);
}
END_TEST

/* ---- waking receivers ------------------------------------------------------- */

struct delayed_send {
    struct disp_tx *tx;
    struct disp_addr to;
    long delay_ms;
};

static void *delayed_send_main(void *arg)
{
    struct delayed_send *job = arg;
    sleep_ms(job->delay_ms);
    uint64_t v = 42;
    ck_assert_int_eq(disp_send(job->tx, job->to, &v, NULL), 0);
    return NULL;
}

/* Poll a's descriptor while another thread sends to target; return the message
 * that woke it. */
static struct disp_msg fd_wakes_for(struct disp *d, struct disp_rx *a, struct disp_rx *target)
{
    int fd = disp_rx_fd(a);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(disp_rx_fd(a), fd);
    ck_assert(fd_readable(fd, 0)); /* readable at first, to arm it */
    expect_empty(a);
    ck_assert(!fd_readable(fd, 0)); /* cleared by ERR_AGAIN */

    struct disp_tx *tx = disp_tx_new(d);
    struct delayed_send job = {.tx = tx, .to = disp_rx_addr(target), .delay_ms = 50};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, delayed_send_main, &job), 0);
    ck_assert(fd_readable(fd, WAIT_LIMIT_MS));
    pthread_join(t, NULL);
    struct disp_msg m;
    uint64_t v = 0;
    ck_assert_int_eq(disp_try_recv(a, &m, &v), 0);
    expect_empty(a);
    ck_assert(!fd_readable(fd, 0));
    disp_tx_close(tx);
    return m;
}

START_TEST(disp_test_fd_wakes_for_data)
{
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_rx *a = open_rx(d, "a", 4, DISP_LAG);
    struct disp_msg m = fd_wakes_for(d, a, a);
    ck_assert_int_eq(m.kind, DISP_MSG_DATA);
    ck_assert_uint_eq(m.seq, 1);
    disp_rx_close(a);
    disp_delete(d);
}
END_TEST

START_TEST(disp_test_fd_wakes_for_clock_update)
{
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_rx *a = open_rx(d, "a", 4, DISP_LAG);
    struct disp_rx *b = open_rx(d, "b", 4, DISP_LAG);
    struct disp_msg m = fd_wakes_for(d, a, b);
    ck_assert_int_eq(m.kind, DISP_MSG_CLOCK);
    ck_assert_uint_eq(m.seq, 1);
    disp_rx_close(a);
    disp_rx_close(b);
    disp_delete(d);
}
END_TEST

START_TEST(disp_test_blocking_recv_wakes_for_clock_update)
{
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_rx *a = open_rx(d, "a", 4, DISP_BLOCK);
    struct disp_rx *b = open_rx(d, "b", 4, DISP_BLOCK);
    struct disp_tx *tx = disp_tx_new(d);
    struct delayed_send job = {.tx = tx, .to = disp_rx_addr(b), .delay_ms = 50};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, delayed_send_main, &job), 0);
    struct disp_msg m;
    ck_assert_int_eq(disp_recv_timed(a, &m, NULL, WAIT_LIMIT_MS), 0);
    ck_assert_int_eq(m.kind, DISP_MSG_CLOCK);
    ck_assert_uint_eq(m.seq, 1);
    pthread_join(t, NULL);
    disp_tx_close(tx);
    disp_rx_close(a);
    disp_rx_close(b);
    disp_delete(d);
}
END_TEST

START_TEST(disp_test_timed_recv_times_out)
{
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_rx *a = open_rx(d, "a", 4, DISP_BLOCK);
    struct disp_tx *tx = disp_tx_new(d);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    struct disp_msg m;
    ck_assert_int_eq(disp_recv_timed(a, &m, NULL, 50), ERR_TIMEOUT);
    ck_assert_int_ge(elapsed_ms(&start), 49);
    ck_assert_int_eq(disp_recv_timed(a, &m, NULL, 0), ERR_AGAIN);
    disp_tx_close(tx);
    disp_rx_close(a);
    disp_delete(d);
}
END_TEST

struct end_job {
    struct disp_rx *rx;
    struct disp_msg m;
    int rc;
};

static void *recv_main(void *arg)
{
    struct end_job *job = arg;
    job->rc = disp_recv_timed(job->rx, &job->m, NULL, WAIT_LIMIT_MS);
    return NULL;
}

START_TEST(disp_test_end_wakes_blocked_receiver)
{
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_rx *a = open_rx(d, "a", 4, DISP_BLOCK);
    struct disp_tx *tx = disp_tx_new(d);
    struct end_job job = {.rx = a};
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, recv_main, &job), 0);
    sleep_ms(50);
    disp_tx_close(tx);
    pthread_join(t, NULL);
    ck_assert_int_eq(job.rc, 0);
    ck_assert_int_eq(job.m.kind, DISP_MSG_END);
    disp_rx_close(a);
    disp_delete(d);
}
END_TEST

/* ---- sender and receiver lifetimes ------------------------------------------ */

START_TEST(disp_test_sender_clone_and_close)
{
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_rx *a = open_rx(d, "a", 4, DISP_BLOCK);
    struct disp_tx *tx1 = disp_tx_new(d);
    struct disp_tx *tx2 = disp_tx_clone(tx1);
    ck_assert_ptr_nonnull(tx2);
    send_val(tx1, a, 1);
    disp_tx_close(tx1);
    expect_data(a, 1, 1);
    expect_empty(a); /* a clone is still open: no end yet */
    send_val(tx2, a, 2);
    disp_tx_close(tx2);
    expect_data(a, 2, 2);
    expect(a, DISP_MSG_END, 2);
    ck_assert_ptr_null(disp_tx_new(d));
    disp_rx_close(a);
    disp_delete(d);
}
END_TEST

struct drop_log {
    int count;
    uint64_t sum;
};

static void count_drop(void *ctx, void *msg)
{
    struct drop_log *log = ctx;
    uint64_t v;
    memcpy(&v, msg, sizeof(v));
    log->count++;
    log->sum += v;
}

START_TEST(disp_test_closed_receiver_discards_data)
{
    struct drop_log log = {0, 0};
    struct disp *d = new_disp(0, count_drop, &log);
    struct disp_rx *a = open_rx(d, "a", 8, DISP_BLOCK);
    struct disp_rx *b = open_rx(d, "b", 8, DISP_BLOCK);
    struct disp_tx *tx = disp_tx_new(d);
    send_val(tx, a, 10);
    send_val(tx, a, 20);
    send_val(tx, a, 30);
    struct disp_addr old = disp_rx_addr(a);
    disp_rx_close(a);
    ck_assert_int_eq(log.count, 3);
    ck_assert_uint_eq(log.sum, 60);

    uint64_t v = 40;
    ck_assert_int_eq(disp_send(tx, old, &v, NULL), ERR_CLOSED);
    ck_assert_uint_eq(disp_clock(d), 3); /* no sequence number spent */
    struct disp_addr found;
    ck_assert_int_eq(disp_lookup(d, "a", &found), ERR_NOTFOUND);

    struct disp_rx *a2 = open_rx(d, "a", 8, DISP_BLOCK); /* the name is free again */
    ck_assert_int_eq(disp_lookup(d, "a", &found), 0);
    ck_assert(found.slot != old.slot || found.gen != old.gen);
    ck_assert_int_eq(disp_send(tx, old, &v, NULL), ERR_CLOSED); /* the old address stays dead */
    ck_assert_int_eq(disp_broadcast(tx, &v, NULL), 0);          /* seq 4 */
    expect(a2, DISP_MSG_DATA, 4);
    expect(b, DISP_MSG_DATA, 4);
    ck_assert_int_eq(log.count, 3);
    disp_tx_close(tx);
    disp_rx_close(a2);
    disp_rx_close(b);
    disp_delete(d);
}
END_TEST

START_TEST(disp_test_closing_receiver_releases_blocked_sender)
{
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_rx *r = open_rx(d, "r", 1, DISP_BLOCK);
    struct disp_tx *tx = disp_tx_new(d);
    send_val(tx, r, 1);
    struct sender_job job = {.tx = tx, .to = disp_rx_addr(r), .value = 2};
    atomic_init(&job.done, false);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, sender_main, &job), 0);
    sleep_ms(BLOCK_PROBE_MS);
    ck_assert(!atomic_load(&job.done));
    disp_rx_close(r);
    pthread_join(t, NULL);
    ck_assert_int_eq(job.rc, ERR_CLOSED);
    ck_assert_uint_eq(disp_clock(d), 1);
    disp_tx_close(tx);
    disp_delete(d);
}
END_TEST

START_TEST(disp_test_delete_drops_open_receivers)
{
    struct drop_log log = {0, 0};
    struct disp *d = new_disp(0, count_drop, &log);
    struct disp_rx *a = open_rx(d, "a", 8, DISP_LAG);
    struct disp_tx *tx = disp_tx_new(d);
    send_val(tx, a, 5);
    send_val(tx, a, 6);
    disp_tx_close(tx);
    disp_delete(d); /* a is still open */
    ck_assert_int_eq(log.count, 2);
    ck_assert_uint_eq(log.sum, 11);
}
END_TEST

/* Counted references: hold adds to the count of the message's value, drop
 * and the reader take away. */
static void count_hold(void *ctx, const void *msg)
{
    struct drop_log *log = ctx;
    uint64_t v;
    memcpy(&v, msg, sizeof(v));
    log->count--; /* holds count down, drops count up: 0 when balanced */
    log->sum += v;
}

START_TEST(disp_test_hold_once_per_queued_copy)
{
    struct drop_log log = {0, 0};
    struct disp_config cfg = {
        .msg_size = sizeof(uint64_t), .drop = count_drop, .drop_ctx = &log, .hold = count_hold};
    struct disp *d = disp_new(&cfg);
    ck_assert_ptr_nonnull(d);
    struct disp_rx *a = open_rx(d, "a", 4, DISP_BLOCK);
    struct disp_rx *b = open_rx(d, "b", 1, DISP_LAG);
    struct disp_tx *tx = disp_tx_new(d);
    send_val(tx, a, 1); /* one copy: a */
    ck_assert_int_eq(log.count, -1);
    uint64_t v = 10;
    ck_assert_int_eq(disp_broadcast(tx, &v, NULL), 0); /* a and b */
    ck_assert_int_eq(log.count, -3);
    ck_assert_int_eq(disp_broadcast(tx, &v, NULL), 0); /* b is full: a only */
    ck_assert_int_eq(log.count, -4);
    ck_assert_uint_eq(log.sum, 1 + 10 + 10 + 10);
    expect(a, DISP_MSG_DATA, 1); /* read: the reader's to give back, not drop's */
    disp_rx_close(a);            /* drops 2 and 3 */
    ck_assert_int_eq(log.count, -2);
    disp_rx_close(b); /* drops 2 */
    ck_assert_int_eq(log.count, -1);
    disp_tx_close(tx);
    disp_delete(d);
}
END_TEST

START_TEST(disp_test_open_checks_arguments)
{
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_rx *a = open_rx(d, "a", 4, DISP_BLOCK);
    struct disp_rx *x = NULL;
    ck_assert_int_eq(disp_rx_open(d, "a", 4, DISP_BLOCK, &x), ERR_EXISTS);
    ck_assert_int_eq(disp_rx_open(d, "z", 0, DISP_BLOCK, &x), ERR_INVAL);
    ck_assert_int_eq(disp_rx_open(d, "z", 4, (enum disp_policy)0, &x), ERR_INVAL);
    char long_name[DISP_NAME_MAX + 2];
    memset(long_name, 'n', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    ck_assert_int_eq(disp_rx_open(d, long_name, 4, DISP_BLOCK, &x), ERR_TOOBIG);
    ck_assert_ptr_null(x);
    ck_assert_str_eq(disp_rx_name(a), "a");
    struct disp_config bad = {.msg_size = 0};
    ck_assert_ptr_null(disp_new(&bad));
    bad.msg_size = DISP_MSG_SIZE_MAX + 1;
    ck_assert_ptr_null(disp_new(&bad));
    disp_rx_close(a);
    disp_delete(d);
}
END_TEST

START_TEST(disp_test_many_receivers_reuse_slots)
{
    enum { N = 100, ROUNDS = 3 };
    struct disp *d = new_disp(0, NULL, NULL);
    struct disp_tx *tx = disp_tx_new(d);
    struct disp_rx *rx[N];
    struct disp_addr first[N];
    char name[16];
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < N; i++) {
            snprintf(name, sizeof(name), "r%d", i);
            rx[i] = open_rx(d, name, 2, DISP_BLOCK);
            struct disp_addr at = disp_rx_addr(rx[i]);
            if (round == 0) {
                first[i] = at;
            } else { /* closed slots are reused under a new generation */
                ck_assert_uint_lt(at.slot, N);
                ck_assert(at.slot != first[i].slot || at.gen != first[i].gen);
            }
        }
        for (int i = 0; i < N; i++)
            send_val(tx, rx[i], (uint64_t)i);
        for (int i = 0; i < N; i++) {
            struct disp_addr found;
            snprintf(name, sizeof(name), "r%d", i);
            ck_assert_int_eq(disp_lookup(d, name, &found), 0);
            ck_assert_uint_eq(found.slot, disp_rx_addr(rx[i]).slot);
            expect_data(rx[i], (uint64_t)(round * N + i + 1), (uint64_t)i);
            disp_rx_close(rx[i]);
        }
        uint64_t v = 0;
        ck_assert_int_eq(disp_send(tx, first[0], &v, NULL), ERR_CLOSED);
    }
    disp_tx_close(tx);
    disp_delete(d);
}
END_TEST

static Suite *dispatch_suite(void)
{
    Suite *s = suite_create("dispatch");
    TCase *tc = tcase_create("single_thread");
    tcase_add_test(tc, disp_test_data_arrives_in_order);
    tcase_add_test(tc, disp_test_seed_starts_sequence);
    tcase_add_test(tc, disp_test_clock_updates_coalesce);
    tcase_add_test(tc, disp_test_clock_never_overtakes_data);
    tcase_add_test(tc, disp_test_broadcast_reaches_every_receiver);
    tcase_add_test(tc, disp_test_end_of_stream_after_drain);
    suite_add_tcase(s, tc);

    tc = tcase_create("silent_receiver");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, disp_test_silent_receiver_does_not_block_others);
    suite_add_tcase(s, tc);

    tc = tcase_create("policies");
    tcase_add_test(tc, disp_test_block_policy_waits_for_room);
    tcase_add_test(tc, disp_test_lag_policy_notifies_first_missed);
    tcase_add_test(tc, disp_test_broadcast_lags_only_full_receivers);
    suite_add_tcase(s, tc);

    tc = tcase_create("wakeups");
    tcase_set_timeout(tc, 20);
    tcase_add_test(tc, disp_test_fd_wakes_for_data);
    tcase_add_test(tc, disp_test_fd_wakes_for_clock_update);
    tcase_add_test(tc, disp_test_blocking_recv_wakes_for_clock_update);
    tcase_add_test(tc, disp_test_timed_recv_times_out);
    tcase_add_test(tc, disp_test_end_wakes_blocked_receiver);
    suite_add_tcase(s, tc);

    tc = tcase_create("lifetimes");
    tcase_add_test(tc, disp_test_sender_clone_and_close);
    tcase_add_test(tc, disp_test_closed_receiver_discards_data);
    tcase_add_test(tc, disp_test_closing_receiver_releases_blocked_sender);
    tcase_add_test(tc, disp_test_delete_drops_open_receivers);
    tcase_add_test(tc, disp_test_hold_once_per_queued_copy);
    tcase_add_test(tc, disp_test_open_checks_arguments);
    tcase_add_test(tc, disp_test_many_receivers_reuse_slots);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dispatch_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
