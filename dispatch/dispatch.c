/*
 * dispatch.c - the clocked dispatcher.
 *
 * The design follows jonhoo's clocked-dispatch: one dispatcher hands out a
 * global sequence, a receiver gets the messages addressed to it and learns how
 * far the rest of the system has got.  Two changes make it fit an agent that
 * serves slow socket clients: clock updates are not messages but one published
 * value, and a full queue may lag its receiver instead of stalling the sender.
 *
 * Sending.  One mutex (d->lock) serialises every send.  Under it a sender looks
 * up the receiver by address, takes the next sequence number s, copies the
 * message into the receiver's ring, publishes the ring's tail (release) and then
 * publishes the clock d->clock = s (release).  So for any receiver, every data
 * message with a sequence <= the published clock is already in its ring (or
 * recorded as missed in lag_first, which is also written before the clock).
 * That is the whole clock invariant, and it costs one store per send however
 * many receivers there are.
 *
 * Receiving.  Each ring has exactly one producer at a time (whoever holds the
 * lock) and one consumer (the receiver's thread), so the consumer pops without
 * the lock.  When its ring looks empty the receiver loads, in this order, the
 * end flag, the clock and its lag mark (all acquire), then looks at the ring once
 * more.  Anything enqueued or dropped before that clock value is now visible, so
 * if the ring is still empty and nothing was dropped, reporting that clock keeps
 * the invariant.  A receiver reports a clock only when it is above the last
 * sequence it read, which is what makes the sequence it sees strictly increase
 * and lets any number of updates coalesce into one.
 *
 * Waking.  A receiver that wants to sleep (blocking receive) or to be told
 * through its eventfd (event loop) arms itself: under the lock, it joins the
 * armed list and checks once more that nothing is pending.  Every send ends by
 * waking and disarming everyone on the armed list (the clock moved for all of
 * them).  Each wake-up is paid for by one earlier receive call, so the cost of a
 * send does not grow with the number of receivers, only with the number of
 * receive calls that went idle since the previous send.
 *
 * Full rings.  A DISP_BLOCK sender finding the ring full sets the receiver's
 * space_wanted flag, checks the ring again, and sleeps on d->space, releasing the
 * lock (no sequence number is taken, so others keep sending).  The consumer,
 * after each pop, checks the flag and broadcasts d->space.  The two sides form a
 * Dekker pair (each stores, fences, loads), and the fence is made asymmetric:
 * the rare side, a sender about to sleep, calls membarrier(), which puts a full
 * fence into every running thread of the process, so the common side, every
 * pop, needs only a compiler barrier.  That saves a locked instruction per
 * message, which is most of a hop in the daisy chain.  membarrier() needs a
 * one-time, process-wide registration (done in disp_new(), harmless to repeat);
 * without it, both sides use seq_cst atomics.  Every sender re-
 * looks its receiver up after waking, so a receiver closed meanwhile is seen as
 * closed, never as freed memory.  A DISP_LAG ring that is full records the
 * sequence in lag_first and drops the message; later messages are dropped while
 * lag_first is set.  The consumer shows LAGGED only once its ring is empty, so it
 * reads everything before the first missed sequence first.
 */
#include "dispatch.h"
#include "err.h"

#include <errno.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <linux/membarrier.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Separates producer-written and consumer-written fields so the two threads do
 * not bounce one cache line per message. */
#define DISP_CACHE_LINE 64
/* Rings up to this size are pre-faulted at open (see rx_alloc). */
#define DISP_PRETOUCH_MAX (256 * 1024)

/* Polls of an empty ring before a blocking receive sleeps: about as long as a
 * futex sleep and wake-up costs, so a busy stream never pays for one. */
#define DISP_SPIN_ROUNDS 100

/* First size of the receiver table; it doubles as receivers open. */
#define DISP_SLOTS_INITIAL 16u

/* Most receivers open at once: keeps addresses in 32 bits with room to spare
 * and bounds the scans done by open, lookup and broadcast. */
#define DISP_RX_MAX (1u << 20)

/* Bytes before the message value in a ring slot: its sequence number. */
#define DISP_SLOT_HEADER sizeof(uint64_t)

/* Backstop for a sender waiting for room if membarrier() ever failed after
 * registration: it rechecks this often instead of trusting the wake-up. */
#define DISP_UNFENCED_WAIT_MS 1

#define DISP_MS_PER_S 1000
#define DISP_NS_PER_MS 1000000L
#define DISP_NS_PER_S 1000000000L

struct disp_rx {
    /* Fixed at open. */
    struct disp *d;
    char name[DISP_NAME_MAX + 1];
    struct disp_addr addr;
    enum disp_policy policy;
    uint64_t capacity; /* logical bound on queued messages */
    uint64_t mask;     /* ring slots - 1; the slot count is a power of two */
    size_t slot_size;  /* DISP_SLOT_HEADER + message, rounded to 8 */
    unsigned char *ring;

    /* Producer side: written only under d->lock. */
    alignas(DISP_CACHE_LINE) _Atomic uint64_t tail; /* next slot to fill */
    uint64_t head_cache;                            /* the consumer's head, last read */
    _Atomic uint64_t lag_first;                     /* first missed sequence, 0 when not lagging */
    _Atomic bool space_wanted;                      /* a DISP_BLOCK sender waits for room */
    bool armed;                                     /* on d's armed list */
    struct disp_rx *arm_prev;
    struct disp_rx *arm_next;
    int efd;             /* eventfd, -1 until disp_rx_fd() */
    bool efd_signaled;   /* efd's counter is non-zero */
    pthread_cond_t cond; /* the owner sleeps here, with d->lock */

    /* Consumer side: the owner thread only. */
    alignas(DISP_CACHE_LINE) _Atomic uint64_t head; /* next slot to read */
    uint64_t tail_cache;                            /* the producer's tail, last read */
    uint64_t last_seen;                             /* highest sequence handed to the owner */
    bool lag_notified;                              /* LAGGED was read, not yet acknowledged */
    bool end_seen;                                  /* END was read */
};

struct disp_tx {
    struct disp *d;
};

struct disp {
    pthread_mutex_t lock;
    pthread_cond_t space; /* senders waiting for room in a DISP_BLOCK ring */

    /* Under lock. */
    uint64_t seq;           /* last sequence handed out */
    struct disp_rx **slots; /* open receivers by slot; NULL when free */
    uint32_t *gens;         /* generation of each slot, bumped on close */
    uint32_t nslots;
    uint32_t nopen;
    struct disp_rx *armed; /* receivers to wake on the next send */
    size_t senders;        /* open sender handles */
    bool ended;            /* the last sender closed */

    /* Fixed at creation. */
    uint64_t seed;
    size_t msg_size;
    disp_drop_f drop;
    void *drop_ctx;
    disp_hold_f hold;
    bool asym_fence; /* membarrier() is registered: see wait_for_space() */

    /* Read by receivers without the lock. */
    alignas(DISP_CACHE_LINE) _Atomic uint64_t clock; /* last published sequence */
    _Atomic bool ended_pub;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return ERR_SYS;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
    return rc == 0 ? 0 : ERR_SYS;
}

/* ---- armed list (under d->lock) ---------------------------------------- */

static void rx_arm(struct disp *d, struct disp_rx *rx)
{
    if (rx->armed)
        return;
    rx->armed = true;
    rx->arm_prev = NULL;
    rx->arm_next = d->armed;
    if (d->armed)
        d->armed->arm_prev = rx;
    d->armed = rx;
}

static void rx_disarm(struct disp *d, struct disp_rx *rx)
{
    if (!rx->armed)
        return;
    if (rx->arm_prev)
        rx->arm_prev->arm_next = rx->arm_next;
    else
        d->armed = rx->arm_next;
    if (rx->arm_next)
        rx->arm_next->arm_prev = rx->arm_prev;
    rx->armed = false;
    rx->arm_prev = rx->arm_next = NULL;
}

static void rx_wake(struct disp *d, struct disp_rx *rx)
{
    rx_disarm(d, rx);
    if (rx->efd >= 0 && !rx->efd_signaled) {
        uint64_t one = 1;
        /* Cannot fail short of a counter overflow, which one pending write per
         * arming rules out; a failure would only cost a spurious wait. */
        ssize_t n = write(rx->efd, &one, sizeof(one));
        (void)n;
        rx->efd_signaled = true;
    }
    pthread_cond_signal(&rx->cond);
}

/* Wake everyone armed: the loop removes one receiver per pass. */
static void wake_armed(struct disp *d)
{
    while (d->armed)
        rx_wake(d, d->armed);
}

/* ---- the ring ------------------------------------------------------------ */

/* Producer, under d->lock: is the ring at capacity? */
static bool ring_full(struct disp_rx *rx)
{
    uint64_t tail = atomic_load_explicit(&rx->tail, memory_order_relaxed);
    if (tail - rx->head_cache < rx->capacity)
        return false;
    rx->head_cache = atomic_load_explicit(&rx->head, memory_order_acquire);
    return tail - rx->head_cache >= rx->capacity;
}

/* Producer, under d->lock, after ring_full() said no.  The hold callback
 * runs before the tail is published, so the copy is held before its
 * receiver can read (and give back) it. */
static void ring_push(struct disp_rx *rx, uint64_t seq, const void *msg, size_t size)
{
    struct disp *d = rx->d;
    uint64_t tail = atomic_load_explicit(&rx->tail, memory_order_relaxed);
    unsigned char *slot = rx->ring + (tail & rx->mask) * rx->slot_size;
    memcpy(slot, &seq, sizeof(seq));
    memcpy(slot + DISP_SLOT_HEADER, msg, size);
    if (d->hold)
        d->hold(d->drop_ctx, slot + DISP_SLOT_HEADER);
    atomic_store_explicit(&rx->tail, tail + 1, memory_order_release);
}

/* Consumer: pop one message if there is one.  *space_wake is set when a
 * DISP_BLOCK sender waits for the room just made. */
static bool ring_pop(struct disp_rx *rx, struct disp_msg *msg, void *data, bool *space_wake)
{
    uint64_t head = atomic_load_explicit(&rx->head, memory_order_relaxed);
    if (head == rx->tail_cache) {
        rx->tail_cache = atomic_load_explicit(&rx->tail, memory_order_acquire);
        if (head == rx->tail_cache)
            return false;
    }
    const unsigned char *slot = rx->ring + (head & rx->mask) * rx->slot_size;
    memcpy(&msg->seq, slot, sizeof(msg->seq));
    msg->kind = DISP_MSG_DATA;
    if (data)
        memcpy(data, slot + DISP_SLOT_HEADER, rx->d->msg_size);
    rx->last_seen = msg->seq;
    if (rx->policy == DISP_BLOCK && rx->d->asym_fence) {
        /* Store, then load; the waiting sender's membarrier() supplies the
         * full fence between them (see wait_for_space()). */
        atomic_store_explicit(&rx->head, head + 1, memory_order_release);
        atomic_signal_fence(memory_order_seq_cst);
        if (atomic_load_explicit(&rx->space_wanted, memory_order_relaxed))
            *space_wake = true;
    } else if (rx->policy == DISP_BLOCK) {
        /* Store, then load, both seq_cst: pairs with wait_for_space(). */
        atomic_store_explicit(&rx->head, head + 1, memory_order_seq_cst);
        if (atomic_load_explicit(&rx->space_wanted, memory_order_seq_cst))
            *space_wake = true;
    } else {
        atomic_store_explicit(&rx->head, head + 1, memory_order_release);
    }
    return true;
}

/* Under d->lock: tell waiting senders that rx has room. */
static void space_wake_locked(struct disp *d, struct disp_rx *rx)
{
    atomic_store_explicit(&rx->space_wanted, false, memory_order_relaxed);
    pthread_cond_broadcast(&d->space);
}

/* ---- receiving ------------------------------------------------------------ */

/* Consumer: produce the next message for the owner without waiting.  Safe with
 * or without d->lock held; *space_wake as in ring_pop(). */
static int rx_step(struct disp_rx *rx, struct disp_msg *msg, void *data, bool *space_wake)
{
    struct disp *d = rx->d;
    if (rx->lag_notified)
        return ERR_LAGGED;
    if (rx->end_seen) {
        msg->kind = DISP_MSG_END;
        msg->seq = rx->last_seen;
        return 0;
    }
    if (ring_pop(rx, msg, data, space_wake))
        return 0;
    /* Load order matters: see the opening comment. */
    bool ended = atomic_load_explicit(&d->ended_pub, memory_order_acquire);
    uint64_t clock = atomic_load_explicit(&d->clock, memory_order_acquire);
    uint64_t lag = atomic_load_explicit(&rx->lag_first, memory_order_acquire);
    if (ring_pop(rx, msg, data, space_wake))
        return 0;
    if (lag != 0) {
        msg->kind = DISP_MSG_LAGGED;
        msg->seq = lag;
        rx->last_seen = lag;
        rx->lag_notified = true;
        return 0;
    }
    if (clock > rx->last_seen) {
        msg->kind = DISP_MSG_CLOCK;
        msg->seq = clock;
        rx->last_seen = clock;
        return 0;
    }
    if (ended) {
        msg->kind = DISP_MSG_END;
        msg->seq = rx->last_seen;
        rx->end_seen = true;
        return 0;
    }
    return ERR_AGAIN;
}

/* rx_step() without the lock, then wake waiting senders if it made room. */
static int rx_step_unlocked(struct disp_rx *rx, struct disp_msg *msg, void *data)
{
    bool space_wake = false;
    int rc = rx_step(rx, msg, data, &space_wake);
    if (space_wake) {
        pthread_mutex_lock(&rx->d->lock);
        space_wake_locked(rx->d, rx);
        pthread_mutex_unlock(&rx->d->lock);
    }
    return rc;
}

static void deadline_after(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += timeout_ms / DISP_MS_PER_S;
    ts->tv_nsec += (long)(timeout_ms % DISP_MS_PER_S) * DISP_NS_PER_MS;
    if (ts->tv_nsec >= DISP_NS_PER_S) {
        ts->tv_sec += 1;
        ts->tv_nsec -= DISP_NS_PER_S;
    }
}

int disp_recv_timed(struct disp_rx *rx, struct disp_msg *msg, void *data, int timeout_ms)
{
    if (!rx || !msg)
        return ERR_INVAL;
    if (timeout_ms == 0)
        return disp_try_recv(rx, msg, data);
    int rc = rx_step_unlocked(rx, msg, data);
    for (int spin = 0; rc == ERR_AGAIN && spin < DISP_SPIN_ROUNDS; spin++) {
        cpu_relax();
        rc = rx_step_unlocked(rx, msg, data);
    }
    if (rc != ERR_AGAIN)
        return rc;

    struct disp *d = rx->d;
    struct timespec deadline;
    if (timeout_ms > 0)
        deadline_after(&deadline, timeout_ms);
    pthread_mutex_lock(&d->lock);
    /* Each pass either returns or sleeps once: until a sender wakes us, the
     * deadline passes, or (rarely) the wait returns spuriously. */
    for (;;) {
        bool space_wake = false;
        rx_arm(d, rx);
        rc = rx_step(rx, msg, data, &space_wake);
        if (space_wake)
            space_wake_locked(d, rx);
        if (rc != ERR_AGAIN)
            break;
        if (timeout_ms < 0) {
            pthread_cond_wait(&rx->cond, &d->lock);
        } else if (pthread_cond_timedwait(&rx->cond, &d->lock, &deadline) == ETIMEDOUT) {
            space_wake = false;
            rc = rx_step(rx, msg, data, &space_wake);
            if (space_wake)
                space_wake_locked(d, rx);
            if (rc == ERR_AGAIN)
                rc = ERR_TIMEOUT;
            break;
        }
    }
    rx_disarm(d, rx);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int disp_recv(struct disp_rx *rx, struct disp_msg *msg, void *data)
{
    return disp_recv_timed(rx, msg, data, -1);
}

int disp_try_recv(struct disp_rx *rx, struct disp_msg *msg, void *data)
{
    if (!rx || !msg)
        return ERR_INVAL;
    int rc = rx_step_unlocked(rx, msg, data);
    if (rc != ERR_AGAIN || rx->efd < 0)
        return rc;
    /* Event loop: clear the descriptor, then arm and look once more, so that
     * anything arriving from here on makes it readable again. */
    struct disp *d = rx->d;
    bool space_wake = false;
    pthread_mutex_lock(&d->lock);
    if (rx->efd_signaled) {
        uint64_t count;
        ssize_t n = read(rx->efd, &count, sizeof(count));
        (void)n; /* EAGAIN only if already clear, which is what we want */
        rx->efd_signaled = false;
    }
    rc = rx_step(rx, msg, data, &space_wake);
    if (space_wake)
        space_wake_locked(d, rx);
    if (rc == ERR_AGAIN)
        rx_arm(d, rx);
    pthread_mutex_unlock(&d->lock);
    return rc;
}

int disp_rx_ack_lag(struct disp_rx *rx, uint64_t *resume)
{
    if (!rx)
        return ERR_INVAL;
    if (!rx->lag_notified)
        return ERR_STATE;
    struct disp *d = rx->d;
    pthread_mutex_lock(&d->lock);
    /* The ring is empty: nothing is queued while lagging and LAGGED was only
     * shown once the ring drained. */
    atomic_store_explicit(&rx->lag_first, 0, memory_order_relaxed);
    uint64_t at = d->seq;
    pthread_mutex_unlock(&d->lock);
    rx->lag_notified = false;
    rx->last_seen = at;
    if (resume)
        *resume = at;
    return 0;
}

int disp_rx_fd(struct disp_rx *rx)
{
    if (!rx)
        return ERR_INVAL;
    if (rx->efd >= 0)
        return rx->efd;
    struct disp *d = rx->d;
    /* Start readable so the loop's first try_recv arms the receiver. */
    int fd = eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0)
        return ERR_SYS;
    pthread_mutex_lock(&d->lock);
    rx->efd = fd;
    rx->efd_signaled = true;
    pthread_mutex_unlock(&d->lock);
    return fd;
}

/* ---- sending ------------------------------------------------------------- */

/* Under d->lock, rx full under DISP_BLOCK: sleep once until its consumer may
 * have made room (or anything else woke d->space).  The caller looks rx up
 * again afterwards. */
static void wait_for_space(struct disp *d, struct disp_rx *rx)
{
    /* Store, then load, with a full fence between; ring_pop() does the same on
     * its side, so either we see its new head or it sees our flag.  With
     * membarrier() the fence is ours alone and the consumer's is free. */
    atomic_store_explicit(&rx->space_wanted, true, memory_order_seq_cst);
    bool fenced = true;
    if (d->asym_fence)
        fenced = syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
    rx->head_cache = atomic_load_explicit(&rx->head, memory_order_seq_cst);
    uint64_t tail = atomic_load_explicit(&rx->tail, memory_order_relaxed);
    if (tail - rx->head_cache < rx->capacity)
        return;
    if (fenced) {
        pthread_cond_wait(&d->space, &d->lock);
    } else { /* cannot happen once registered; if it does, poll */
        struct timespec deadline;
        deadline_after(&deadline, DISP_UNFENCED_WAIT_MS);
        pthread_cond_timedwait(&d->space, &d->lock, &deadline);
    }
}

static struct disp_rx *lookup_addr(struct disp *d, struct disp_addr to)
{
    if (to.slot >= d->nslots || d->gens[to.slot] != to.gen)
        return NULL;
    return d->slots[to.slot];
}

/* Under d->lock: a sequence number is taken; make it visible. */
static void publish(struct disp *d, uint64_t seq)
{
    atomic_store_explicit(&d->clock, seq, memory_order_release);
    if (d->armed)
        wake_armed(d);
}

static int send_one(struct disp_tx *tx, struct disp_addr to, const void *msg, bool wait,
                    uint64_t *seq_out)
{
    if (!tx || !msg)
        return ERR_INVAL;
    struct disp *d = tx->d;
    uint64_t seq;
    pthread_mutex_lock(&d->lock);
    /* Each pass ends in a send, an error or one wait for room. */
    for (;;) {
        struct disp_rx *rx = lookup_addr(d, to);
        if (!rx) {
            pthread_mutex_unlock(&d->lock);
            return ERR_CLOSED;
        }
        uint64_t lag = atomic_load_explicit(&rx->lag_first, memory_order_relaxed);
        if (lag != 0) { /* lagging: dropped, and the receiver already knows */
            seq = ++d->seq;
            break;
        }
        if (!ring_full(rx)) {
            seq = ++d->seq;
            ring_push(rx, seq, msg, d->msg_size);
            break;
        }
        if (rx->policy == DISP_LAG) {
            seq = ++d->seq;
            atomic_store_explicit(&rx->lag_first, seq, memory_order_relaxed);
            break;
        }
        if (!wait) {
            pthread_mutex_unlock(&d->lock);
            return ERR_FULL;
        }
        wait_for_space(d, rx);
    }
    publish(d, seq);
    pthread_mutex_unlock(&d->lock);
    if (seq_out)
        *seq_out = seq;
    return 0;
}

int disp_send(struct disp_tx *tx, struct disp_addr to, const void *msg, uint64_t *seq)
{
    return send_one(tx, to, msg, true, seq);
}

int disp_try_send(struct disp_tx *tx, struct disp_addr to, const void *msg, uint64_t *seq)
{
    return send_one(tx, to, msg, false, seq);
}

/* Under d->lock: the first open DISP_BLOCK receiver that is full, or NULL. */
static struct disp_rx *find_blocked(struct disp *d)
{
    for (uint32_t i = 0; i < d->nslots; i++) {
        struct disp_rx *rx = d->slots[i];
        if (rx && rx->policy == DISP_BLOCK && ring_full(rx))
            return rx;
    }
    return NULL;
}

static int broadcast(struct disp_tx *tx, const void *msg, bool wait, uint64_t *seq_out)
{
    if (!tx || !msg)
        return ERR_INVAL;
    struct disp *d = tx->d;
    pthread_mutex_lock(&d->lock);
    /* Each pass ends with every DISP_BLOCK ring having room, or in one wait. */
    for (;;) {
        struct disp_rx *blocked = find_blocked(d);
        if (!blocked)
            break;
        if (!wait) {
            pthread_mutex_unlock(&d->lock);
            return ERR_FULL;
        }
        wait_for_space(d, blocked);
    }
    uint64_t seq = ++d->seq;
    for (uint32_t i = 0; i < d->nslots; i++) {
        struct disp_rx *rx = d->slots[i];
        if (!rx || atomic_load_explicit(&rx->lag_first, memory_order_relaxed) != 0)
            continue;
        if (!ring_full(rx))
            ring_push(rx, seq, msg, d->msg_size);
        else /* DISP_LAG: find_blocked() left only those full */
            atomic_store_explicit(&rx->lag_first, seq, memory_order_relaxed);
    }
    publish(d, seq);
    pthread_mutex_unlock(&d->lock);
    if (seq_out)
        *seq_out = seq;
    return 0;
}

int disp_broadcast(struct disp_tx *tx, const void *msg, uint64_t *seq)
{
    return broadcast(tx, msg, true, seq);
}

int disp_try_broadcast(struct disp_tx *tx, const void *msg, uint64_t *seq)
{
    return broadcast(tx, msg, false, seq);
}

/* ---- senders ------------------------------------------------------------- */

struct disp_tx *disp_tx_new(struct disp *d)
{
    if (!d)
        return NULL;
    struct disp_tx *tx = malloc(sizeof(*tx));
    if (!tx)
        return NULL;
    tx->d = d;
    pthread_mutex_lock(&d->lock);
    bool ended = d->ended;
    if (!ended)
        d->senders++;
    pthread_mutex_unlock(&d->lock);
    if (ended) {
        free(tx);
        return NULL;
    }
    return tx;
}

struct disp_tx *disp_tx_clone(const struct disp_tx *tx)
{
    return tx ? disp_tx_new(tx->d) : NULL;
}

void disp_tx_close(struct disp_tx *tx)
{
    if (!tx)
        return;
    struct disp *d = tx->d;
    pthread_mutex_lock(&d->lock);
    if (--d->senders == 0) {
        d->ended = true;
        atomic_store_explicit(&d->ended_pub, true, memory_order_release);
        wake_armed(d);
    }
    pthread_mutex_unlock(&d->lock);
    free(tx);
}

/* ---- receivers ----------------------------------------------------------- */

static uint64_t round_up_pow2(uint64_t n)
{
    uint64_t p = 1;
    while (p < n) /* at most 64 passes */
        p <<= 1;
    return p;
}

static struct disp_rx *rx_alloc(struct disp *d, const char *name, size_t capacity,
                                enum disp_policy policy)
{
    size_t size =
        (sizeof(struct disp_rx) + DISP_CACHE_LINE - 1) / DISP_CACHE_LINE * DISP_CACHE_LINE;
    struct disp_rx *rx = aligned_alloc(DISP_CACHE_LINE, size);
    if (!rx)
        return NULL;
    memset(rx, 0, sizeof(*rx));
    rx->d = d;
    strcpy(rx->name, name);
    rx->policy = policy;
    rx->capacity = capacity;
    uint64_t slots = round_up_pow2(capacity);
    rx->mask = slots - 1;
    rx->slot_size = DISP_SLOT_HEADER + (d->msg_size + 7) / 8 * 8;
    rx->ring = calloc(slots, rx->slot_size);
    rx->efd = -1;
    rx->last_seen = d->seed;
    atomic_init(&rx->tail, 0);
    atomic_init(&rx->head, 0);
    atomic_init(&rx->lag_first, 0);
    atomic_init(&rx->space_wanted, false);
    if (!rx->ring || cond_init_monotonic(&rx->cond) != 0) {
        free(rx->ring);
        free(rx);
        return NULL;
    }
    /* A small ring is touched now, so no send takes a page fault while
     * holding the lock every other send needs.  A large one is left to
     * fault in as it fills: it then costs memory only as far as it is ever
     * used (swimd's RSS target), at one page fault per 4 KiB, once. */
    if (slots * rx->slot_size <= DISP_PRETOUCH_MAX)
        memset(rx->ring, 0, slots * rx->slot_size);
    return rx;
}

static void rx_free(struct disp_rx *rx)
{
    struct disp *d = rx->d;
    if (d->drop) {
        uint64_t head = atomic_load_explicit(&rx->head, memory_order_relaxed);
        uint64_t tail = atomic_load_explicit(&rx->tail, memory_order_acquire);
        /* At most capacity passes. */
        for (; head != tail; head++)
            d->drop(d->drop_ctx, rx->ring + (head & rx->mask) * rx->slot_size + DISP_SLOT_HEADER);
    }
    if (rx->efd >= 0)
        close(rx->efd);
    pthread_cond_destroy(&rx->cond);
    free(rx->ring);
    free(rx);
}

/* Under d->lock: index of the open receiver named name, or -1. */
static long find_name(struct disp *d, const char *name)
{
    for (uint32_t i = 0; i < d->nslots; i++)
        if (d->slots[i] && strcmp(d->slots[i]->name, name) == 0)
            return (long)i;
    return -1;
}

/* Under d->lock: a free slot index, growing the table if needed; -1 on failure
 * with *err set. */
static long take_slot(struct disp *d, int *err)
{
    if (d->nopen < d->nslots)
        for (uint32_t i = 0; i < d->nslots; i++)
            if (!d->slots[i])
                return (long)i;
    if (d->nslots >= DISP_RX_MAX) {
        *err = ERR_LIMIT;
        return -1;
    }
    uint32_t n = d->nslots ? d->nslots * 2 : DISP_SLOTS_INITIAL;
    struct disp_rx **slots = realloc(d->slots, n * sizeof(*slots));
    if (!slots) {
        *err = ERR_NOMEM;
        return -1;
    }
    d->slots = slots;
    uint32_t *gens = realloc(d->gens, n * sizeof(*gens));
    if (!gens) {
        *err = ERR_NOMEM;
        return -1;
    }
    d->gens = gens;
    for (uint32_t i = d->nslots; i < n; i++) {
        d->slots[i] = NULL;
        d->gens[i] = 1; /* generation 0 is never valid, so a zeroed address is */
    }
    long at = (long)d->nslots;
    d->nslots = n;
    return at;
}

int disp_rx_open(struct disp *d, const char *name, size_t capacity, enum disp_policy policy,
                 struct disp_rx **out)
{
    if (!d || !name || !out || capacity == 0 || capacity > DISP_CAPACITY_MAX ||
        (policy != DISP_BLOCK && policy != DISP_LAG))
        return ERR_INVAL;
    if (strlen(name) > DISP_NAME_MAX)
        return ERR_TOOBIG;
    /* Allocate before taking the lock, so the table change cannot fail. */
    struct disp_rx *rx = rx_alloc(d, name, capacity, policy);
    if (!rx)
        return ERR_NOMEM;
    int err = 0;
    pthread_mutex_lock(&d->lock);
    long slot = -1;
    if (find_name(d, name) >= 0)
        err = ERR_EXISTS;
    else
        slot = take_slot(d, &err);
    if (slot >= 0) {
        rx->addr.slot = (uint32_t)slot;
        rx->addr.gen = d->gens[slot];
        d->slots[slot] = rx;
        d->nopen++;
    }
    pthread_mutex_unlock(&d->lock);
    if (slot < 0) {
        rx_free(rx);
        return err;
    }
    *out = rx;
    return 0;
}

void disp_rx_close(struct disp_rx *rx)
{
    if (!rx)
        return;
    struct disp *d = rx->d;
    pthread_mutex_lock(&d->lock);
    d->slots[rx->addr.slot] = NULL;
    d->gens[rx->addr.slot]++;
    if (d->gens[rx->addr.slot] == 0)
        d->gens[rx->addr.slot] = 1;
    d->nopen--;
    rx_disarm(d, rx);
    /* Senders waiting for room in rx look it up again and give up. */
    pthread_cond_broadcast(&d->space);
    pthread_mutex_unlock(&d->lock);
    /* No sender can reach rx any more: drain and free without the lock. */
    rx_free(rx);
}

struct disp_addr disp_rx_addr(const struct disp_rx *rx)
{
    return rx->addr;
}

const char *disp_rx_name(const struct disp_rx *rx)
{
    return rx->name;
}

int disp_lookup(struct disp *d, const char *name, struct disp_addr *out)
{
    if (!d || !name || !out)
        return ERR_INVAL;
    pthread_mutex_lock(&d->lock);
    long i = find_name(d, name);
    if (i >= 0)
        *out = d->slots[i]->addr;
    pthread_mutex_unlock(&d->lock);
    return i >= 0 ? 0 : ERR_NOTFOUND;
}

/* ---- the dispatcher ------------------------------------------------------ */

/* Make membarrier(PRIVATE_EXPEDITED) usable by this process (Linux 4.14+;
 * registering twice is harmless).  False when the kernel or a seccomp filter
 * says no: the dispatcher then pays a full fence on every DISP_BLOCK pop. */
static bool register_membarrier(void)
{
    long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
        return false;
    return syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

struct disp *disp_new(const struct disp_config *cfg)
{
    if (!cfg || cfg->msg_size == 0 || cfg->msg_size > DISP_MSG_SIZE_MAX)
        return NULL;
    size_t size = (sizeof(struct disp) + DISP_CACHE_LINE - 1) / DISP_CACHE_LINE * DISP_CACHE_LINE;
    struct disp *d = aligned_alloc(DISP_CACHE_LINE, size);
    if (!d)
        return NULL;
    memset(d, 0, sizeof(*d));
    if (pthread_mutex_init(&d->lock, NULL) != 0) {
        free(d);
        return NULL;
    }
    if (cond_init_monotonic(&d->space) != 0) {
        pthread_mutex_destroy(&d->lock);
        free(d);
        return NULL;
    }
    d->seed = cfg->seed;
    d->seq = cfg->seed;
    d->msg_size = cfg->msg_size;
    d->drop = cfg->drop;
    d->drop_ctx = cfg->drop_ctx;
    d->hold = cfg->hold;
    d->asym_fence = register_membarrier();
    atomic_init(&d->clock, cfg->seed);
    atomic_init(&d->ended_pub, false);
    return d;
}

void disp_delete(struct disp *d)
{
    if (!d)
        return;
    for (uint32_t i = 0; i < d->nslots; i++) /* bounded by the table */
        if (d->slots[i])
            rx_free(d->slots[i]);
    free(d->slots);
    free(d->gens);
    pthread_cond_destroy(&d->space);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

uint64_t disp_clock(const struct disp *d)
{
    return atomic_load_explicit(&((struct disp *)d)->clock, memory_order_acquire);
}
