/*
 * stream.h - control connections that stay open: watch and monitor.
 *
 * Model: struct streams keeps one record (struct stream) per control
 * connection that has become a stream, made on its first `watch` or
 * `monitor` request; one connection may do both.  A record ends with its
 * connection: ctl.h's close hook frees it, whatever closed the connection.
 *
 *   watch    (watch.c) a bus subscriber (EV_LAG_REPORT, --watch-queue
 *            deep) read from the loop; every item becomes a line: events of
 *            the wanted types, merged clock lines, then a lag line or the
 *            bus's end, after which the connection closes.  A watcher whose
 *            client has more than STREAM_OUTPUT_HIGH bytes unread is not read
 *            until the output drains: its queue fills and it lags, rather
 *            than growing our heap.  The queues of all watchers together
 *            hold at most STREAM_WATCH_BUDGET_BYTES: a new watcher gets
 *            --watch-queue events while they fit, a shorter queue (a power
 *            of two) when only that fits, and is refused when not even
 *            STREAM_WATCH_QUEUE_MIN events fit; `info` shows the budget and
 *            what is in use, and the watch reply the queue granted.
 *   query    (cmd_query.c) one query's acks and responses as they come,
 *            then its totals; the connection then closes.  A client that
 *            goes away cancels its query.
 *   monitor  (monitor.c) a client of the member links (links.h); each
 *            report is one line {"member":..,"reason":..}.  Reports made
 *            while the request is answered follow the reply.
 *
 * The record is shared by stream.c, watch.c, monitor.c and cmd_query.c only; the rest of
 * swimd sees struct streams through the functions below.  Threads: none.
 */
#ifndef AGENT_STREAM_H
#define AGENT_STREAM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "ctl.h"
#include "events.h"
#include "links.h"
#include "log.h"

struct event_base;
struct event;

/* A watcher's unread output above which it is paused (see the model). */
#define STREAM_OUTPUT_HIGH (CTL_OUTPUT_MAX / 2)
/* Items read from one subscriber per wakeup, so a burst of events cannot
 * starve the UDP socket. */
#define STREAM_ITEMS_PER_WAKEUP 64
/* Memory every watcher's queue may hold, together, at worst (each queued
 * event counted at ev_sub_queued_bytes_max(), ~0.9 KB: its slot and a
 * record no one else holds): one maximal queue (65,536 events) fits, and
 * with the default queue (512) more watchers than the control socket has
 * clients; ten stalled maximal watchers no longer take a third of a
 * gigabyte. */
#define STREAM_WATCH_BUDGET_BYTES (64u * 1024u * 1024u)
/* A shorter queue would lag at once: such a watcher is refused instead. */
#define STREAM_WATCH_QUEUE_MIN 16

struct streams_config {
    struct event_base *base;
    struct ev_bus *bus;
    struct log *log;
    uint32_t watch_queue; /* each watcher's subscriber capacity */
};

struct streams;

/* One streaming connection (for stream.c, watch.c and monitor.c). */
struct stream {
    LIST_ENTRY(stream) link;
    struct streams *ss;
    struct ctl_conn *conn;
    uint64_t id; /* the connection's id, also the links' cookie */
    int ended;   /* closing; nothing more is sent */
    /* watch */
    struct ev_sub *sub;
    struct event *sub_ev;
    uint32_t types;
    int paused;         /* not reading the subscriber until the output drains */
    size_t queue_bytes; /* its share of STREAM_WATCH_BUDGET_BYTES */
    /* monitor */
    struct ml *ml;
    int has_client;
    uint64_t client;
    int in_monitor;   /* inside ml_client_new() for this stream */
    size_t immediate; /* reports made during ml_client_new() */
    /* query (cmd_query.c) */
    struct query *query; /* set while a query of this connection runs */
    uint32_t query_id;
};

/* NULL when out of memory. */
struct streams *streams_new(const struct streams_config *cfg);
/* Free the set; every connection must have closed first (ctl_delete()).
 * NULL is a no-op. */
void streams_delete(struct streams *ss);
/* Connections watching / monitoring now (ending ones excluded). */
size_t streams_watchers(const struct streams *ss);
size_t streams_monitors(const struct streams *ss);
/* Bytes of the watch budget the open watchers' queues take now. */
size_t streams_watch_used(const struct streams *ss);

/* ---- for watch.c and monitor.c ---- */

/* The loop, bus, log and watch queue given at creation. */
const struct streams_config *streams_config(const struct streams *ss);
/* The record of conn, made (with its hooks set) on first use.  NULL when
 * out of memory. */
struct stream *stream_get(struct streams *ss, struct ctl_conn *conn);
/* The queue a new watcher may have now (see the model): --watch-queue or
 * less, or 0 when the budget has no room for one. */
size_t streams_watch_grant(const struct streams *ss);
/* Charge st for a queue of `capacity` events (given back when st closes). */
void stream_watch_charge(struct stream *st, size_t capacity);
/* The record whose connection id is id, or NULL. */
struct stream *stream_find(struct streams *ss, uint64_t id);
/* Send one line (taken; NULL is skipped: out of memory leaves a gap in seq
 * that the client can resume across). */
void stream_send(struct stream *st, json_t *line);
/* Send `last` (taken, may be NULL) and close; the record is freed by the
 * close hook in a later turn. */
void stream_end(struct stream *st, json_t *last);
/* A member-link report for a monitor client (monitor.c): the ml_report_f to
 * give the member links, with the streams as ctx. */
void monitor_on_report(void *ctx, const struct ml_report *rep);

#endif /* AGENT_STREAM_H */
