/*
 * stream.c - see stream.h for the model: the set of streaming connections
 * and the life cycle of one (made on first use, freed by the close hook).
 */
#include "stream.h"

#include <event2/event.h>
#include <stdlib.h>

#include "loop_sub.h"
#include "query.h"

struct streams {
    struct streams_config cfg;
    LIST_HEAD(, stream) all;
    size_t watch_bytes; /* the open watchers' queues */
};

/* The smallest power of two at or above n (n >= 1). */
static size_t stream_pow2(size_t n)
{
    size_t p = 1;
    while (p < n)
        p <<= 1;
    return p;
}

/* The most a queue of capacity events can hold: the dispatcher rounds its
 * slots up to a power of two, and each queued event may keep its stored
 * record alive (events.h). */
static size_t stream_queue_bytes(size_t capacity)
{
    return stream_pow2(capacity) * ev_sub_queued_bytes_max();
}

size_t streams_watch_grant(const struct streams *ss)
{
    size_t room = STREAM_WATCH_BUDGET_BYTES - ss->watch_bytes; /* never above the budget */
    size_t cap = ss->cfg.watch_queue;
    if (stream_queue_bytes(cap) <= room)
        return cap;
    cap = stream_pow2(cap) / 2; /* then the largest power of two that fits */
    while (cap >= STREAM_WATCH_QUEUE_MIN && stream_queue_bytes(cap) > room)
        cap /= 2;
    return cap >= STREAM_WATCH_QUEUE_MIN ? cap : 0;
}

void stream_watch_charge(struct stream *st, size_t capacity)
{
    st->queue_bytes = stream_queue_bytes(capacity);
    st->ss->watch_bytes += st->queue_bytes;
}

size_t streams_watch_used(const struct streams *ss)
{
    return ss->watch_bytes;
}

struct streams *streams_new(const struct streams_config *cfg)
{
    struct streams *ss = calloc(1, sizeof(*ss));
    if (ss == NULL)
        return NULL;
    ss->cfg = *cfg;
    LIST_INIT(&ss->all);
    return ss;
}

void streams_delete(struct streams *ss)
{
    free(ss);
}

const struct streams_config *streams_config(const struct streams *ss)
{
    return &ss->cfg;
}

size_t streams_watchers(const struct streams *ss)
{
    size_t n = 0;
    const struct stream *st;
    LIST_FOREACH(st, &ss->all, link)
    n += st->sub != NULL && !st->ended;
    return n;
}

size_t streams_monitors(const struct streams *ss)
{
    size_t n = 0;
    const struct stream *st;
    LIST_FOREACH(st, &ss->all, link)
    n += st->has_client && !st->ended;
    return n;
}

static void stream_on_close(void *arg, struct ctl_conn *conn)
{
    (void)conn;
    struct stream *st = arg;
    loop_sub_close(st->sub, st->sub_ev);
    st->ss->watch_bytes -= st->queue_bytes;
    if (st->has_client)
        ml_client_delete(st->ml, st->client);
    if (st->query != NULL)
        query_cancel(st->query, st->query_id);
    LIST_REMOVE(st, link);
    log_msg(st->ss->cfg.log, LOG_DEBUG, "stream closed conn=%llu", (unsigned long long)st->id);
    free(st);
}

static void stream_on_drain(void *arg, struct ctl_conn *conn)
{
    (void)conn;
    struct stream *st = arg;
    if (!st->paused || st->ended || st->sub_ev == NULL)
        return;
    st->paused = 0;
    event_add(st->sub_ev, NULL);
    event_active(st->sub_ev, EV_READ, 0); /* what queued up meanwhile */
}

struct stream *stream_get(struct streams *ss, struct ctl_conn *conn)
{
    struct stream *st;
    LIST_FOREACH(st, &ss->all, link)
    if (st->conn == conn)
        return st;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->ss = ss;
    st->conn = conn;
    st->id = ctl_conn_id(conn);
    LIST_INSERT_HEAD(&ss->all, st, link);
    ctl_conn_set_hooks(conn, stream_on_close, stream_on_drain, st);
    return st;
}

struct stream *stream_find(struct streams *ss, uint64_t id)
{
    struct stream *st;
    LIST_FOREACH(st, &ss->all, link)
    if (st->id == id)
        return st;
    return NULL;
}

void stream_send(struct stream *st, json_t *line)
{
    if (line == NULL)
        return;
    ctl_conn_send_json(st->conn, line);
    json_decref(line);
}

void stream_end(struct stream *st, json_t *last)
{
    stream_send(st, last);
    if (st->sub_ev != NULL)
        event_del(st->sub_ev);
    st->ended = 1;
    ctl_conn_close(st->conn);
}
