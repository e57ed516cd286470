/*
 * dispatch_stress.c - many senders, many receivers, every invariant checked.
 *
 * 4 sender threads send 250,000 messages each to 16 receiver threads (targets
 * drawn from a per-sender xorshift, so the run is the same every time up to
 * thread interleaving).  Each receiver checks that the sequence numbers it reads
 * strictly increase, that each sender's messages reach it in the order sent, and
 * marks every message and every sequence number in shared tables so that the
 * main thread can check each was delivered exactly once.  At the end every
 * receiver's last clock must equal the total count.
 *
 * It runs at full size under ThreadSanitizer too (suite 'tsan'): about 6 s on
 * two cores.
 */
#include "dispatch.h"
#include "err.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define STRESS_SENDERS 4
#define STRESS_RECEIVERS 16
#define STRESS_PER_SENDER 250000u
#define STRESS_TOTAL ((uint64_t)STRESS_SENDERS * STRESS_PER_SENDER)

/* Small enough that senders really do block on full queues now and then. */
#define STRESS_CAPACITY 64

/* Message value: sender in bits 40.., target in 32..39, index in 0..31. */
#define VAL_SENDER_SHIFT 40
#define VAL_TARGET_SHIFT 32
#define VAL_INDEX_MASK 0xffffffffu
#define VAL_TARGET_MASK 0xffu

struct stress {
    struct disp *d;
    struct disp_addr addr[STRESS_RECEIVERS];
    atomic_uchar *msg_seen; /* [sender * STRESS_PER_SENDER + index] */
    atomic_uchar *seq_seen; /* [seq], seq 1..STRESS_TOTAL */
};

struct rx_job {
    struct stress *st;
    struct disp_rx *rx;
    int index;
    /* Results, read by the main thread after join. */
    uint64_t data;
    uint64_t last_clock;
    uint64_t end_seq;
    int errors;
    char first_error[160];
};

struct tx_job {
    struct stress *st;
    struct disp_tx *tx;
    int index;
    int errors;
};

static void rx_fail(struct rx_job *job, const char *what, uint64_t a, uint64_t b)
{
    if (job->errors++ == 0)
        snprintf(job->first_error, sizeof(job->first_error), "receiver %d: %s (%llu, %llu)",
                 job->index, what, (unsigned long long)a, (unsigned long long)b);
}

static void *receiver_main(void *arg)
{
    struct rx_job *job = arg;
    uint64_t last = 0;
    uint64_t last_index[STRESS_SENDERS];
    bool any[STRESS_SENDERS] = {false};
    /* Ends at END, which comes once every sender has closed; bounded by the
     * number of sequence numbers plus one clock read between them. */
    for (uint64_t reads = 0; reads <= 2 * STRESS_TOTAL + 2; reads++) {
        struct disp_msg m;
        uint64_t v = 0;
        int rc = disp_recv(job->rx, &m, &v);
        if (rc != 0) {
            rx_fail(job, "recv failed", (uint64_t)-rc, 0);
            return NULL;
        }
        if (m.kind == DISP_MSG_END) {
            job->end_seq = m.seq;
            return NULL;
        }
        if (m.seq <= last)
            rx_fail(job, "sequence went backwards", last, m.seq);
        last = m.seq;
        if (m.kind == DISP_MSG_CLOCK) {
            job->last_clock = m.seq;
            continue;
        }
        if (m.kind != DISP_MSG_DATA) {
            rx_fail(job, "unexpected kind", (uint64_t)m.kind, m.seq);
            continue;
        }
        job->last_clock = m.seq;
        job->data++;
        uint64_t sender = v >> VAL_SENDER_SHIFT;
        uint64_t target = (v >> VAL_TARGET_SHIFT) & VAL_TARGET_MASK;
        uint64_t index = v & VAL_INDEX_MASK;
        if (sender >= STRESS_SENDERS || index >= STRESS_PER_SENDER || m.seq > STRESS_TOTAL) {
            rx_fail(job, "value out of range", v, m.seq);
            continue;
        }
        if (target != (uint64_t)job->index)
            rx_fail(job, "delivered to the wrong receiver", target, m.seq);
        if (any[sender] && index <= last_index[sender])
            rx_fail(job, "a sender's messages out of order", last_index[sender], index);
        any[sender] = true;
        last_index[sender] = index;
        if (atomic_exchange(&job->st->msg_seen[sender * STRESS_PER_SENDER + index], 1) != 0)
            rx_fail(job, "message delivered twice", sender, index);
        if (atomic_exchange(&job->st->seq_seen[m.seq], 1) != 0)
            rx_fail(job, "sequence delivered twice", m.seq, 0);
    }
    rx_fail(job, "no end of stream", last, 0);
    return NULL;
}

static void *sender_main(void *arg)
{
    struct tx_job *job = arg;
    uint64_t x = 0x9e3779b97f4a7c15ull * (uint64_t)(job->index + 1);
    for (uint32_t i = 0; i < STRESS_PER_SENDER; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint64_t target = x % STRESS_RECEIVERS;
        uint64_t v = ((uint64_t)job->index << VAL_SENDER_SHIFT) | (target << VAL_TARGET_SHIFT) | i;
        if (disp_send(job->tx, job->st->addr[target], &v, NULL) != 0)
            job->errors++;
    }
    disp_tx_close(job->tx);
    return NULL;
}

START_TEST(disp_test_stress_exactly_once_in_order)
{
    struct stress st;
    struct disp_config cfg = {.seed = 0, .msg_size = sizeof(uint64_t)};
    st.d = disp_new(&cfg);
    ck_assert_ptr_nonnull(st.d);
    st.msg_seen = calloc(STRESS_TOTAL, sizeof(*st.msg_seen));
    st.seq_seen = calloc(STRESS_TOTAL + 1, sizeof(*st.seq_seen));
    ck_assert_ptr_nonnull(st.msg_seen);
    ck_assert_ptr_nonnull(st.seq_seen);

    struct rx_job rj[STRESS_RECEIVERS] = {0};
    pthread_t rt[STRESS_RECEIVERS];
    for (int i = 0; i < STRESS_RECEIVERS; i++) {
        char name[16];
        snprintf(name, sizeof(name), "rx%d", i);
        rj[i].st = &st;
        rj[i].index = i;
        ck_assert_int_eq(disp_rx_open(st.d, name, STRESS_CAPACITY, DISP_BLOCK, &rj[i].rx), 0);
        st.addr[i] = disp_rx_addr(rj[i].rx);
    }
    struct disp_tx *root = disp_tx_new(st.d);
    ck_assert_ptr_nonnull(root);
    struct tx_job tj[STRESS_SENDERS] = {0};
    pthread_t tt[STRESS_SENDERS];
    for (int i = 0; i < STRESS_SENDERS; i++) {
        tj[i].st = &st;
        tj[i].index = i;
        tj[i].tx = disp_tx_clone(root);
        ck_assert_ptr_nonnull(tj[i].tx);
    }
    disp_tx_close(root); /* the clones keep the stream open */
    for (int i = 0; i < STRESS_RECEIVERS; i++)
        ck_assert_int_eq(pthread_create(&rt[i], NULL, receiver_main, &rj[i]), 0);
    for (int i = 0; i < STRESS_SENDERS; i++)
        ck_assert_int_eq(pthread_create(&tt[i], NULL, sender_main, &tj[i]), 0);
    for (int i = 0; i < STRESS_SENDERS; i++)
        pthread_join(tt[i], NULL);
    for (int i = 0; i < STRESS_RECEIVERS; i++)
        pthread_join(rt[i], NULL);

    for (int i = 0; i < STRESS_SENDERS; i++)
        ck_assert_int_eq(tj[i].errors, 0);
    uint64_t delivered = 0;
    for (int i = 0; i < STRESS_RECEIVERS; i++) {
        ck_assert_msg(rj[i].errors == 0, "%d errors, first: %s", rj[i].errors, rj[i].first_error);
        ck_assert_uint_eq(rj[i].last_clock, STRESS_TOTAL);
        ck_assert_uint_eq(rj[i].end_seq, STRESS_TOTAL);
        ck_assert_uint_gt(rj[i].data, 0);
        delivered += rj[i].data;
    }
    ck_assert_uint_eq(delivered, STRESS_TOTAL);
    ck_assert_uint_eq(disp_clock(st.d), STRESS_TOTAL);
    /* One assertion per table: each Check assertion writes to a pipe. */
    uint64_t missing_msg = 0, missing_seq = 0;
    for (uint64_t i = 0; i < STRESS_TOTAL; i++)
        missing_msg += atomic_load(&st.msg_seen[i]) != 1;
    for (uint64_t s = 1; s <= STRESS_TOTAL; s++)
        missing_seq += atomic_load(&st.seq_seen[s]) != 1;
    ck_assert_uint_eq(missing_msg, 0);
    ck_assert_uint_eq(missing_seq, 0);

    for (int i = 0; i < STRESS_RECEIVERS; i++)
        disp_rx_close(rj[i].rx);
    disp_delete(st.d);
    free(st.msg_seen);
    free(st.seq_seen);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dispatch_stress");
    TCase *tc = tcase_create("stress");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, disp_test_stress_exactly_once_in_order);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
