/*
 * query.h - Serf-like queries: ask every matching member, collect acks and
 * responses at the origin.
 *
 * Model.  A query (query_codec.h has its bytes) goes out as one core
 * broadcast, so it reaches every member by gossip with the limits of a user
 * event (SWIM_USER_MAX bytes, the core's broadcast queue, exactly-once
 * delivery).  The module takes it from the runtime before the event bus
 * (rt_set_intercept()) and, on every member including the origin:
 *
 *   filters  a member answers only when its name is in the query's node
 *            list (if it has one) and, for every tag filter KEY=PATTERN,
 *            it has tag KEY and its value matches PATTERN, a POSIX
 *            extended regular expression, unanchored as in Serf ("^web$"
 *            for an exact value); a member that does not match neither
 *            acks, nor publishes, nor runs a handler;
 *   ack      unless the query says NO_ACK, an ack straight to the origin
 *            (swim_send_direct(), with the query's relay factor);
 *   event    a user query (any name not reserved) is published on the
 *            event bus as an EV_QUERY event: it takes the next sequence
 *            number, shows in `watch` ("type":"query") and reaches the
 *            handler runner, which runs the `query` / `query:NAME`
 *            handlers with the payload on stdin and sends the first run's
 *            stdout back here (query_handler_output(), from its thread,
 *            through a pipe to the loop); that output, cut at
 *            QUERY_RESPONSE_MAX bytes (or what one datagram holds, if
 *            less) and flagged when cut, goes straight to the origin as
 *            the member's response, if the query's time has not run out
 *            since it was received;
 *   internal a reserved name (QUERY_RESERVED_PREFIX) never reaches the bus
 *            or a handler: the C callback registered for it
 *            (query_register()) computes the response on the loop thread
 *            at once; with no callback registered the member only acks.
 *
 * At the origin, query_start() keeps a pending entry until the deadline;
 * each ack and response is passed to the caller's callback once per
 * responder (a relayed copy, or a second handler's output, is dropped: the
 * entry remembers who answered), then QUERY_EV_DONE with the totals.
 * Replies to this node itself (it is a member too) are delivered from a
 * later loop turn, never from inside query_start().
 *
 * Bounds: QUERY_PENDING_MAX queries in flight from this node; replies
 * remembered per query up to QUERY_REPLIERS_MAX responders; the last
 * QUERY_INBOX_MAX received queries kept for their handlers' answers; the
 * handler pipe holds what the kernel gives a pipe (a full one drops the
 * answer, logged).
 *
 * Threads: everything runs on the loop's thread except
 * query_handler_output(), which the handler runner calls from its own.
 * Errors are 0 or a negative ERR_* code.
 */
#ifndef AGENT_QUERY_H
#define AGENT_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "query_codec.h"

struct event_base;
struct rt;
struct ev_bus;
struct log;
struct tags;

/* Names reserved for swimd's own (internal) queries: `swimctl query`
 * refuses them and user handlers never see them. */
#define QUERY_RESERVED_PREFIX "_swim-"
/* Queries this node may have in flight at once. */
#define QUERY_PENDING_MAX 64
/* Responders one query remembers (acks and responses are counted once
 * each); beyond that, further ones are dropped and the query says so. */
#define QUERY_REPLIERS_MAX 16384
/* Received queries remembered for their handlers' answers. */
#define QUERY_INBOX_MAX 256
/* Internal query names that may be registered. */
#define QUERY_INTERNAL_MAX 16
/* Serf's default timeout: gossip interval x this x ceil(log10(N + 1)). */
#define QUERY_TIMEOUT_MULT 16

struct query_config {
    struct event_base *base;
    struct rt *rt;      /* the core; the module installs the rt's interceptor */
    struct ev_bus *bus; /* user queries are published here */
    struct log *log;
    const struct tags *tags; /* this node's tags, as the tag filters see them */
    const char *self_name;   /* copied */
};

struct query;

/* NULL when out of memory or no pipe can be made. */
struct query *query_new(const struct query_config *cfg);
/* Remove the interceptor and free everything; pending queries end without
 * a callback.  The handler runner must be gone first.  NULL is a no-op. */
void query_delete(struct query *q);

/* ---- asking ---- */

struct query_request {
    const char *name; /* 1..QUERY_NAME_MAX bytes of text (NUL-terminated) */
    const uint8_t *payload;
    size_t len;
    const char *const *nodes; /* node names; 0..QUERY_NODES_MAX */
    size_t node_count;
    const struct query_tag_filter *tags; /* 0..QUERY_TAGS_MAX */
    size_t tag_count;
    uint32_t timeout_ms;   /* 0: query_default_timeout_ms(); at most QUERY_TIMEOUT_MAX_MS */
    uint32_t relay_factor; /* replies also sent through this many members; <= 5 */
    int no_ack;            /* members do not ack */
};

enum query_event_kind {
    QUERY_EV_ACK = 1,
    QUERY_EV_RESPONSE,
    QUERY_EV_DONE, /* the deadline passed: the last event of the query */
};

struct query_event {
    enum query_event_kind kind;
    uint32_t id;
    const char *from;       /* ACK, RESPONSE: the member (NUL-terminated) */
    const uint8_t *payload; /* RESPONSE; valid during the callback */
    size_t len;
    int truncated;          /* RESPONSE: the member's handler said more */
    size_t acks, responses; /* counted so far; DONE: the totals */
    size_t dropped;         /* DONE: repliers beyond QUERY_REPLIERS_MAX */
};

/* Called on the loop's thread, never from inside query_start(). */
typedef void (*query_event_f)(void *ctx, const struct query_event *ev);

/*
 * Start a query; cb(ctx, ...) gets each ack and response once per member
 * as it arrives, then QUERY_EV_DONE at the deadline.  *id (may be NULL)
 * gets its id and *timeout_ms (may be NULL) the timeout it runs with.
 * Errors, with one line in err: ERR_INVAL (a bad name, node or filter:
 * a pattern that does not compile), ERR_TOOBIG (name, filters and payload
 * exceed one broadcast), ERR_FULL (QUERY_PENDING_MAX in flight, or the
 * core's broadcast queue is full), ERR_STATE (this node is leaving).
 * Reserved names are allowed here: refusing them is the control
 * command's business.
 */
int query_start(struct query *q, const struct query_request *req, query_event_f cb, void *ctx,
                uint32_t *id, uint32_t *timeout_ms, char *err, size_t errlen);
/* Forget a pending query now: no more callbacks (its caller went away).
 * An unknown id is a no-op. */
void query_cancel(struct query *q, uint32_t id);
/* gossip interval x QUERY_TIMEOUT_MULT x ceil(log10(N + 1)), N the live
 * members and this node, capped at QUERY_TIMEOUT_MAX_MS. */
uint32_t query_default_timeout_ms(const struct query *q);
/* 1 when name[0..len) starts with QUERY_RESERVED_PREFIX. */
int query_name_reserved(const char *name, size_t len);

/* ---- answering ---- */

/*
 * An internal query's handler: the query from `origin` with its payload;
 * write the response into out[0..cap) and set *out_len (cap is at most
 * QUERY_RESPONSE_MAX; more cannot be sent).  Return 0 to respond, or a
 * negative value to ack only.  Runs on the loop's thread, from inside the
 * core: it must not call into the core or block.
 */
typedef int (*query_internal_f)(void *ctx, const char *origin, const uint8_t *payload, size_t len,
                                uint8_t *out, size_t cap, size_t *out_len);
/* Answer queries named `name` (reserved: QUERY_RESERVED_PREFIX...) with f.
 * 0, ERR_INVAL (not a reserved name), ERR_EXISTS, ERR_FULL. */
int query_register(struct query *q, const char *name, query_internal_f f, void *ctx);

/*
 * The handler runner's answer to the query event with sequence seq: out
 * (len bytes, already cut at QUERY_RESPONSE_MAX; truncated when the
 * handler said more).  Thread-safe and non-blocking (ctx: the query).
 */
void query_handler_output(void *ctx, uint64_t seq, const uint8_t *out, size_t len, int truncated);

/* Counters for `info`. */
struct query_stats {
    size_t pending;       /* queries of this node in flight */
    uint64_t received;    /* queries received that matched this node */
    uint64_t responses;   /* responses sent */
    uint64_t send_errors; /* acks and responses the core would not send */
};
void query_get_stats(const struct query *q, struct query_stats *out);

#endif /* AGENT_QUERY_H */
