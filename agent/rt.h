/*
 * rt.h - swimd's runtime: the core on a real UDP socket and a libevent loop.
 *
 * Model: struct rt is the only glue between libevent and the core.  It owns
 * the core instance, the UDP socket (udp.h) and the join logic (join.h), and
 * implements the core's runtime interface:
 *
 *   send_to       seal (when a keyring is set) and sendto() at once; a send
 *                 that fails is counted and dropped, as UDP would
 *   submit_after  one evtimer allocated per timer, freed when it fires or
 *                 is cancelled; those still pending at rt_stop() are freed
 *                 then; a timer is never handed back before `now` at
 *                 submission plus its delay (libevent may fire early by its
 *                 cached clock; it is then re-armed for the rest); the
 *                 housekeeping kinds (SYNC, RECONNECT, REAP) may come back
 *                 up to an eighth of their delay (at most a protocol period)
 *                 late, on a wakeup that came for something else
 *   cancel        frees the pending timers equal to the one named (found
 *                 in a hash of pending timers); none pending is a no-op
 *   notify        offered to the interceptor (queries, direct messages:
 *                 rt_set_intercept), else published on the event bus first (the one ordered stream
 *                 every local subscriber reads), then one log line, then the
 *                 join and leave logic (SELF_ACTIVE / SELF_IDLE, a member
 *                 failed or left)
 *
 * and feeds the core: `now` is clock_mono_ms() (CLOCK_MONOTONIC); at most
 * RT_READS_PER_WAKEUP datagrams are read per socket wakeup, RT_RECV_BATCH
 * per receive call, stopping at the first call that comes back short (the
 * socket is then empty, so no call is spent on EAGAIN); a datagram that
 * fails to open under every key is dropped, counted and logged
 * (rate-limited).  Everything else in swimd (control commands, streams, the
 * bridge, the snapshot writer) reads the core through rt_core() and learns
 * about changes from the bus, never from the runtime directly.
 *
 * Leaving: rt_leave() (SIGTERM, SIGINT, the control "leave") calls
 * swim_leave(); the loop ends when the core reports SELF_IDLE or after
 * leave_linger_ms + RT_LEAVE_GRACE_MS, whichever is first; rt_exit() ends it
 * at once.  rt_stop() then detaches the runtime from the loop (no datagram,
 * timer or lookup is handled any more) so the rest of swimd can wind down.
 *
 * Threads: none; everything runs on the loop's thread.
 */
#ifndef AGENT_RT_H
#define AGENT_RT_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "swim.h"

struct event_base;
struct ev_bus;
struct keyring;
struct join;

/* What the runtime is built from; pointers are borrowed and must outlive
 * the rt, strings and arrays are copied. */
struct rt_config {
    struct event_base *base;
    struct log *log;
    struct ev_bus *bus;             /* every notification is published here */
    struct keyring *kr;             /* NULL: plaintext datagrams */
    const char *label;              /* cluster label, bound into every envelope */
    const char *name;               /* this node */
    const char *bind;               /* "HOST:PORT" to bind (udp.h) */
    const char *advertise;          /* "" or NULL: derived (udp.h) */
    const struct swim_config *scfg; /* the protocol (max_packet already net of sealing) */
    uint64_t generation;            /* this run's generation */
    const uint8_t *tags;            /* initial tag block, may be NULL */
    size_t tags_len;
    const char *const *seeds; /* join seeds, "HOST[:PORT]" (join.h) */
    size_t seed_count;        /* at most JOIN_SEEDS_MAX */
    /* Called once when a graceful leave begins (rt_leave()), whoever asked
     * for it; may be NULL. */
    void (*on_leave)(void *ctx);
    void *on_leave_ctx;
};

/* Counters and state for `info`; a plain value. */
struct rt_stats {
    uint64_t packets_in, packets_out, bytes_in, bytes_out;
    uint64_t decrypt_failures, send_errors, dropped_oversize;
    uint64_t replays_refused;  /* sealed datagrams replayed, too old, or from too many senders */
    uint64_t recv_calls;       /* receive system calls on the UDP socket, EAGAIN included */
    size_t timers;             /* core timers pending */
    uint64_t timers_fired;     /* core timers handed back */
    uint64_t timers_cancelled; /* core timers the core cancelled while pending */
    uint64_t timers_coalesced; /* of those fired, housekeeping ones handed back on a wakeup
                                  that came for something else */
    int active;                /* the core reported SELF_ACTIVE last */
    int leaving;
};

struct rt;

/*
 * The event base the runtime's loop should run on: one whose clock is the
 * precise monotonic one, so a core timer costs one wakeup (see rt.c).  NULL
 * when out of memory.  Free with event_base_free().
 */
struct event_base *rt_base_new(void);
/*
 * Bind the socket and create the core, without touching the loop yet.
 * Returns NULL with a one-line reason in err on failure.
 */
struct rt *rt_new(const struct rt_config *cfg, char *err, size_t errlen);
/*
 * Start the core and the join attempts and run the loop until the node has
 * left (0) or the loop failed / ended without a leave (negative).
 */
int rt_run(struct rt *rt);
/* rt_run() without running the loop: the caller runs it (tests drive
 * several runtimes on one loop).  0, or the core's error. */
int rt_start(struct rt *rt);
/* Stop handling datagrams, core timers and joins (lookups are cancelled);
 * the core stays readable.  Repeating is a no-op. */
void rt_stop(struct rt *rt);
/* Free everything: rt_stop() first if needed, then the core and socket. */
void rt_delete(struct rt *rt);
/* The protocol settings the core runs with (profile, overrides, sealing). */
const struct swim_config *rt_swim_config(const struct rt *rt);

/* Begin a graceful leave (see the model); `why` is logged.  0, or
 * ERR_STATE when already leaving. */
int rt_leave(struct rt *rt, const char *why);
/* End the loop now, without waiting for the leave to spread. */
void rt_exit(struct rt *rt);

/* Sees each core notification before anything else does; returns 1 when
 * it took it (nothing else then sees it: not the bus, not the log), 0 to
 * let it through.  Called on the loop's thread from inside the core. */
typedef int (*rt_intercept_f)(void *ctx, const struct swim_notification *n);
/* Install the interceptor (one; NULL removes it).  The query module
 * (query.h) takes direct messages and queries this way. */
void rt_set_intercept(struct rt *rt, rt_intercept_f f, void *ctx);

/* The core, for reads and for calls that take `now` (clock_mono_ms()). */
struct swim *rt_core(struct rt *rt);
/* The join logic (seeds, control "join"). */
struct join *rt_join(struct rt *rt);
/* This node's advertised address as text ("HOST:PORT"). */
const char *rt_self_text(const struct rt *rt);
/* A consistent copy of the counters.  Never fails. */
void rt_get_stats(const struct rt *rt, struct rt_stats *out);

#endif /* AGENT_RT_H */
