/*
 * join.h - finding the cluster: seeds, retries with backoff, and name
 * lookups that never stall the loop.
 *
 * Model.  A struct join (part of the runtime, rt.h) holds the seed list (the
 * --join flags or, without them, the members of the last snapshot) and one
 * timer.  Each attempt announces this node to every seed.  The first attempt
 * is made at join_start(); while the node is not active the attempts repeat
 * with exponential backoff, from one protocol period up to
 * JOIN_BACKOFF_MAX_PERIODS; once active, the seeds are announced to again
 * every JOIN_REANNOUNCE_PERIODS while fewer members are active than there
 * are seeds, so a node restarted alone, or one side of a healed partition,
 * finds the others.  That count is looked at JOIN_REANNOUNCE_PERIODS after
 * the node became active and after each member it lost (failed or left);
 * while it is large enough the timer rests, so a settled node is not woken
 * for it.  SELF_IDLE (all members gone) starts the backoff over.
 *
 * Addresses.  A numeric "HOST:PORT" is announced to at once.  An address
 * that cannot be one peer (unspecified, port 0, multicast, the limited or
 * an interface's broadcast address, or link-local/scoped IPv6) is skipped
 * and not counted, whether given or resolved.  A name is
 * looked up with libevent's evdns on the same loop (evdns_getaddrinfo: A and
 * AAAA, /etc/resolv.conf and /etc/hosts read when the first name is looked
 * up) and announced to when the answer comes, so a slow or silent resolver
 * never stalls probing or the control socket.  A seed has at most one lookup
 * in flight (a later attempt skips it until the answer comes), and at most
 * JOIN_LOOKUPS_MAX lookups are in flight in all.
 *
 * Control joins.  join_request() announces to a list given over the control
 * socket and reports how many addresses it announced to through a callback,
 * once, after the last of its lookups ended (or at once, when no lookup was
 * needed).
 *
 * Threads: none; everything runs on the loop's thread.  Errors are 0 or a
 * negative ERR_* code from err.h.
 */
#ifndef AGENT_JOIN_H
#define AGENT_JOIN_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "swim.h"

struct event_base;

/* Seeds kept: the --join list (CFG_JOIN_MAX) or a snapshot's members, enough
 * to find a live member even when most of the recorded ones are gone. */
#define JOIN_SEEDS_MAX 64
/* Name lookups in flight at once (seeds and control requests together); a
 * resolver that never answers holds at most this many. */
#define JOIN_LOOKUPS_MAX 64
/* Addresses one name may expand to per attempt. */
#define JOIN_ADDRS_MAX 8
/* Backoff: from one protocol period, doubling up to this many periods, so a
 * lone node keeps looking without flooding a dead seed. */
#define JOIN_BACKOFF_MAX_PERIODS 32
/* While active but smaller than the seed list, re-announce this often (in
 * periods): often enough to heal a partition in well under a minute on a LAN. */
#define JOIN_REANNOUNCE_PERIODS 30

struct join_config {
    struct event_base *base;
    struct log *log;
    struct swim *core;            /* announced to; its active count is read */
    int family;                   /* of the UDP socket: AF_INET skips IPv6 answers */
    const struct swim_addr *self; /* never announced to (copied) */
    uint32_t period_ms;           /* the protocol period: the backoff's unit */
    const char *const *seeds;     /* "HOST[:PORT]" (copied), at most JOIN_SEEDS_MAX */
    size_t seed_count;
};

struct join_stats {
    uint32_t attempts; /* seed attempts made */
    int scheduled;     /* a look at the seeds is due (the timer is set) */
    size_t seeds;
    size_t lookups; /* name lookups in flight */
};

struct join;

/* NULL when out of memory or when there are too many seeds. */
struct join *join_new(const struct join_config *cfg);
/*
 * Free everything.  Cancelled lookups end from a later loop turn, so stop
 * first (join_stop()) and run the loop until none is in flight; any still
 * in flight here are abandoned and the resolver left allocated (logged).
 * NULL is a no-op.
 */
void join_delete(struct join *j);

/* The first attempt, now (nothing without seeds). */
void join_start(struct join *j);
/* The core reported SELF_ACTIVE / SELF_IDLE. */
void join_self_active(struct join *j);
void join_self_idle(struct join *j);
/* The core reported a member failed or left: while active, look at the
 * count again JOIN_REANNOUNCE_PERIODS from now (unless a look is already
 * due).  Never fails. */
void join_member_lost(struct join *j);
/* No more attempts or requests; lookups in flight are cancelled (their
 * answers, if any, are dropped; pending requests are reported with what
 * they announced so far).  Repeating is a no-op. */
void join_stop(struct join *j);

/* A control request's result: how many addresses were announced to. */
typedef void (*join_done_f)(void *arg, uint64_t tag, int announced);

/*
 * Announce to each of texts[0..n) ("HOST[:PORT]").  Returns 0 with
 * *announced set when it is complete (no lookup was needed, or every answer
 * came at once), or ERR_AGAIN when lookups are in flight: done(arg, tag,
 * announced) is then called once, from the loop, never from inside this
 * call (done may be NULL: nobody waits).  A text that is neither an address
 * nor a name, or a name beyond JOIN_LOOKUPS_MAX, counts as unreachable.
 * ERR_CLOSED after join_stop(), ERR_NOMEM.
 */
int join_request(struct join *j, const char *const *texts, size_t n, join_done_f done, void *arg,
                 uint64_t tag, int *announced);

/* A copy of the counters.  Never fails. */
void join_get_stats(const struct join *j, struct join_stats *out);

#endif /* AGENT_JOIN_H */
