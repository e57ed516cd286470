/*
 * dispatch.h - the clocked dispatcher: sequence-numbered channels.
 *
 * Model.  A dispatcher (struct disp) owns one global sequence.  Every data
 * message sent through it takes the next value, starting at seed + 1.  Messages
 * are fixed-size values (msg_size bytes, chosen at creation) copied into the
 * bounded queue of the receiver they are addressed to; a broadcast copies one
 * message, under one sequence number, into every open receiver.
 *
 * A receiver reads four kinds of message, and the sequence numbers it reads
 * strictly increase:
 *   DISP_MSG_DATA    a message addressed to it, with its sequence number;
 *   DISP_MSG_CLOCK   the sequence the whole system has reached, when messages
 *                    went to other receivers.  Reading clock c means every data
 *                    message addressed to this receiver with a sequence <= c has
 *                    already been handed over.  Clock updates coalesce: the
 *                    pending clock is one published value, read when the queue is
 *                    empty, so a send costs the same with 1 or 4,000 receivers, it
 *                    never blocks or allocates for them, and a receiver that never
 *                    reads slows nobody down;
 *   DISP_MSG_LAGGED  its queue was full under policy DISP_LAG (below);
 *   DISP_MSG_END     every sender is gone and everything queued was read.
 *
 * Full queues.  Each receiver has a policy.  DISP_BLOCK (thread receivers): a
 * sender waits for room, without holding anything that stops other sends.
 * DISP_LAG (event-loop receivers such as socket clients): a sender never waits;
 * the message keeps its sequence number but is dropped for that receiver, and so
 * is every later message to it, until it acknowledges.  The receiver first reads
 * what was queued, then exactly one DISP_MSG_LAGGED whose seq is the first
 * sequence it missed; from then on its receive calls return ERR_LAGGED until it
 * calls disp_rx_ack_lag(), which names the sequence delivery resumes after.
 * Nothing is dropped without the receiver being told.
 *
 * Receiving.  Blocking (disp_recv), timed (disp_recv_timed) or non-blocking
 * (disp_try_recv) calls on the receiver's own thread; or, from an event loop,
 * disp_rx_fd(): a descriptor that is readable whenever something is pending.
 * An event loop must call disp_try_recv() until ERR_AGAIN before polling again.
 *
 * Addressing.  Receivers are opened under a unique name and addressed by a
 * struct disp_addr value (slot and generation), so a sender holding the address
 * of a receiver that has since closed gets ERR_CLOSED, never freed memory.  A
 * closed receiver's queued data is discarded (through the drop callback).
 *
 * Senders and end of stream.  Sending goes through a sender handle; handles are
 * created, cloned and closed.  When the last one closes, the stream has ended:
 * receivers drain their queues, read the final clock, then DISP_MSG_END, and no
 * new sender can be made.
 *
 * Threads.  Every function is thread-safe, with two limits: a receiver handle is
 * used by one thread at a time, and a handle is not used concurrently with its
 * own close.  A thread must not block sending to a DISP_BLOCK receiver that only
 * it reads (use disp_try_send).  No function calls back into the caller except
 * the drop callback, which runs with no lock held, and the hold callback,
 * which runs under the dispatcher's lock.
 *
 * Errors are 0 or a negative ERR_* code from err.h.
 */
#ifndef SWIMD_DISPATCH_H
#define SWIMD_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

/* Largest message value; messages are copied per receiver, so big payloads
 * belong behind a pointer or handle inside the value. */
#define DISP_MSG_SIZE_MAX 4096

/* Longest receiver name, without the terminating NUL; names are for lookup and
 * diagnostics, so a short bound keeps receivers to one allocation each. */
#define DISP_NAME_MAX 63

/* Largest queue capacity; the queue is allocated up front at open. */
#define DISP_CAPACITY_MAX (1u << 24)

struct disp;
struct disp_rx;
struct disp_tx;

/* Called for each queued message copy the dispatcher discards (closing a
 * receiver, deleting the dispatcher).  msg is valid only during the call. */
typedef void (*disp_drop_f)(void *ctx, void *msg);

/* Called for each copy of a message queued for a receiver (one per send,
 * one per receiver a broadcast reaches; none for a copy dropped by a
 * lagging receiver), before the receiver can read it.  With hold and drop,
 * a message may be a counted reference: hold takes one per copy, and the
 * receiver gives it back after reading the copy, or drop when discarding
 * it.  Runs under the dispatcher's lock: it must be quick and must not call
 * the dispatcher.  msg is valid only during the call. */
typedef void (*disp_hold_f)(void *ctx, const void *msg);

struct disp_config {
    uint64_t seed;    /* the first message gets seed + 1 */
    size_t msg_size;  /* bytes per message value, 1..DISP_MSG_SIZE_MAX */
    disp_drop_f drop; /* may be NULL */
    void *drop_ctx;   /* passed to drop and hold */
    disp_hold_f hold; /* may be NULL */
};

enum disp_policy {
    DISP_BLOCK = 1, /* a full queue makes the sender wait */
    DISP_LAG,       /* a full queue drops data for this receiver and says so */
};

enum disp_msg_kind {
    DISP_MSG_DATA = 1, /* seq: the message's sequence; data buffer filled */
    DISP_MSG_CLOCK,    /* seq: the system's clock */
    DISP_MSG_LAGGED,   /* seq: the first sequence this receiver missed */
    DISP_MSG_END,      /* seq: the final clock; repeats on every later call */
};

struct disp_msg {
    enum disp_msg_kind kind;
    uint64_t seq;
};

/* A receiver's address: plain value, safe to copy to any thread. */
struct disp_addr {
    uint32_t slot;
    uint32_t gen;
};

/* Create a dispatcher.  Returns NULL when out of memory or when cfg is invalid
 * (NULL, msg_size 0 or above DISP_MSG_SIZE_MAX).  cfg is copied. */
struct disp *disp_new(const struct disp_config *cfg);

/* Free the dispatcher, closing every receiver still open (their queued data goes
 * to the drop callback, their handles become invalid).  Every sender handle must
 * be closed first and no thread may be inside a dispatcher call.  NULL is a
 * no-op. */
void disp_delete(struct disp *d);

/* The sequence the system has reached (seed before any message).  Never fails. */
uint64_t disp_clock(const struct disp *d);

/* Open a receiver named name (copied) with a queue of capacity messages
 * (1..DISP_CAPACITY_MAX) and a full-queue policy.  On success *out is a handle
 * owned by the caller until disp_rx_close().  Its first read, if nothing is
 * queued for it, is the current clock (when any message was ever sent).  Errors: ERR_INVAL (bad
 * argument), ERR_TOOBIG (name longer than DISP_NAME_MAX), ERR_EXISTS (name taken by an open
 * receiver), ERR_LIMIT (too many receivers), ERR_NOMEM. */
int disp_rx_open(struct disp *d, const char *name, size_t capacity, enum disp_policy policy,
                 struct disp_rx **out);

/* Close and free the receiver: later sends to its address return ERR_CLOSED,
 * senders waiting for room in it give up with ERR_CLOSED, and its queued data is
 * passed to the drop callback on this thread.  NULL is a no-op. */
void disp_rx_close(struct disp_rx *rx);

/* The receiver's address and name (valid while it is open).  Never fail. */
struct disp_addr disp_rx_addr(const struct disp_rx *rx);
const char *disp_rx_name(const struct disp_rx *rx);

/* Find the open receiver named name.  Errors: ERR_INVAL, ERR_NOTFOUND.  Costs a
 * scan of the receivers: resolve once, then send by address. */
int disp_lookup(struct disp *d, const char *name, struct disp_addr *out);

/* A descriptor (eventfd) that is readable whenever the receiver has something
 * pending; created on first call, owned and closed by the receiver.  It is
 * readable right after creation; read with disp_try_recv() until ERR_AGAIN.
 * Returns the descriptor or ERR_SYS. */
int disp_rx_fd(struct disp_rx *rx);

/* Receive one message, waiting as long as it takes.  msg is filled; for
 * DISP_MSG_DATA, msg_size bytes are copied to data (which may be NULL to
 * discard them).  Returns 0, or ERR_LAGGED after a LAGGED notice until
 * disp_rx_ack_lag(). */
int disp_recv(struct disp_rx *rx, struct disp_msg *msg, void *data);

/* As disp_recv(), waiting at most timeout_ms (0: do not wait; negative: no
 * limit).  Extra error: ERR_TIMEOUT when nothing arrived in time (ERR_AGAIN when
 * timeout_ms is 0). */
int disp_recv_timed(struct disp_rx *rx, struct disp_msg *msg, void *data, int timeout_ms);

/* As disp_recv() but never waits: ERR_AGAIN when nothing is pending.  With a
 * descriptor, ERR_AGAIN also clears it until something new is pending. */
int disp_try_recv(struct disp_rx *rx, struct disp_msg *msg, void *data);

/* Acknowledge a LAGGED notice: delivery resumes with the first message after
 * *resume (may be NULL); data between the notice's seq and *resume was dropped.
 * Errors: ERR_STATE when no LAGGED notice is outstanding. */
int disp_rx_ack_lag(struct disp_rx *rx, uint64_t *resume);

/* A new sender handle.  Returns NULL when out of memory or when the stream has
 * ended (the last sender closed). */
struct disp_tx *disp_tx_new(struct disp *d);

/* A second handle on the same dispatcher, for another thread.  NULL when out of
 * memory. */
struct disp_tx *disp_tx_clone(const struct disp_tx *tx);

/* Release and free a sender handle; closing the last one ends the stream.  NULL
 * is a no-op. */
void disp_tx_close(struct disp_tx *tx);

/* Send msg (msg_size bytes, copied) to the receiver at to.  On success *seq (may
 * be NULL) is its sequence number.  A DISP_BLOCK receiver's full queue makes
 * this wait; a DISP_LAG receiver's full queue drops the copy for it (still 0: the
 * receiver will be told).  Errors: ERR_INVAL, ERR_CLOSED (no such receiver
 * open, or it closed while we waited); no sequence number is used on error. */
int disp_send(struct disp_tx *tx, struct disp_addr to, const void *msg, uint64_t *seq);

/* As disp_send() but never waits: ERR_FULL when a DISP_BLOCK queue is full. */
int disp_try_send(struct disp_tx *tx, struct disp_addr to, const void *msg, uint64_t *seq);

/* Send one copy of msg, under one sequence number, to every open receiver,
 * waiting while any DISP_BLOCK receiver is full.  With no receiver open the
 * message still takes a sequence number.  Costs one copy per receiver.  Errors:
 * ERR_INVAL. */
int disp_broadcast(struct disp_tx *tx, const void *msg, uint64_t *seq);

/* As disp_broadcast() but never waits: ERR_FULL when a DISP_BLOCK queue is full
 * (then nobody gets it). */
int disp_try_broadcast(struct disp_tx *tx, const void *msg, uint64_t *seq);

#endif /* SWIMD_DISPATCH_H */
