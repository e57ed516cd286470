/*
 * query.c - see query.h for the model.  Four parts: receiving a query
 * (filters, ack, event or internal answer), answering it (the handler
 * pipe, the inbox of received queries, sending replies), the origin's
 * pending queries (dedupe per responder, the deadline), and set-up.
 *
 * Dedupe at the origin: each pending query keeps an open-addressing set of
 * 64-bit keys, a hash of the responder's name with the reply's kind in the
 * low bit; a key seen before is a copy (a relayed one, or a second
 * handler's answer) and is dropped.  A 64-bit collision between two
 * responders could only undercount.
 */
#include "query.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <regex.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "events.h"
#include "hash.h"
#include "log.h"
#include "rt.h"
#include "tags.h"
#include "text.h"

/* Replies to this node's own queries waiting for the next loop turn: its
 * ack and its internal answer to each query it starts, a few at once. */
#define QUERY_LOCAL_MAX 16
/* Handler answers read from the pipe per wakeup. */
#define QUERY_PIPE_READS 32

/* One handler answer through the pipe: fixed size, below PIPE_BUF, so each
 * write is atomic and each read takes exactly one. */
struct query_out_rec {
    uint64_t seq;
    uint32_t len;
    uint32_t truncated;
    uint8_t data[QUERY_RESPONSE_MAX];
};
_Static_assert(sizeof(struct query_out_rec) <= 4096, "one atomic pipe write");

/* A query this node received and published, until its handlers answer. */
struct query_inbox {
    uint64_t seq; /* its event's sequence; 0: free */
    uint64_t deadline;
    uint32_t id;
    uint8_t relay_factor;
    int responded;
    char origin[SWIM_NAME_MAX + 1];
};

/* A query of this node, in flight. */
struct query_pending {
    int used;
    uint32_t id;
    query_event_f cb;
    void *ctx;
    struct event *timer;
    uint64_t *seen; /* open addressing, 0 = empty; cap a power of two */
    size_t seen_n, seen_cap;
    size_t acks, responses, dropped;
};

/* A reply to this node from itself, delivered in a later turn. */
struct query_local {
    uint8_t kind;
    uint8_t flags;
    uint32_t id;
    size_t len;
    uint8_t data[QUERY_RESPONSE_MAX];
};

struct query_internal {
    char name[QUERY_NAME_MAX + 1];
    query_internal_f f;
    void *ctx;
};

struct query {
    struct query_config cfg;
    char self[SWIM_NAME_MAX + 1];
    int pipe_rd, pipe_wr;
    struct event *pipe_ev;
    struct event *local_ev;
    uint32_t next_id;
    struct query_pending pending[QUERY_PENDING_MAX];
    struct query_inbox inbox[QUERY_INBOX_MAX];
    size_t inbox_next;
    struct query_local local[QUERY_LOCAL_MAX];
    size_t local_n;
    struct query_internal internal[QUERY_INTERNAL_MAX];
    size_t internal_n;
    struct query_stats stats;
};

int query_name_reserved(const char *name, size_t len)
{
    size_t n = sizeof(QUERY_RESERVED_PREFIX) - 1;
    return name != NULL && len >= n && memcmp(name, QUERY_RESERVED_PREFIX, n) == 0;
}

static struct swim *query_core(const struct query *q)
{
    return rt_core(q->cfg.rt);
}

/* ---- origin: pending queries ---------------------------------------------- */

static struct query_pending *query_find(struct query *q, uint32_t id)
{
    for (size_t i = 0; i < QUERY_PENDING_MAX; i++)
        if (q->pending[i].used && q->pending[i].id == id)
            return &q->pending[i];
    return NULL;
}

static void query_pending_free(struct query_pending *p)
{
    if (p->timer != NULL)
        event_free(p->timer);
    free(p->seen);
    memset(p, 0, sizeof(*p));
}

/* Insert key into p's set: 1 when new, 0 when seen before, ERR_LIMIT when
 * the set is full (QUERY_REPLIERS_MAX), ERR_NOMEM. */
static int query_seen_add(struct query_pending *p, uint64_t key)
{
    if (p->seen_n + 1 > p->seen_cap / 2) {
        if (p->seen_cap >= 4 * QUERY_REPLIERS_MAX)
            return ERR_LIMIT; /* 2 keys (ack, response) per responder, half full */
        size_t cap = p->seen_cap > 0 ? p->seen_cap * 2 : 64;
        uint64_t *t = calloc(cap, sizeof(*t));
        if (t == NULL)
            return ERR_NOMEM;
        for (size_t i = 0; i < p->seen_cap; i++) {
            if (p->seen[i] == 0)
                continue;
            size_t j = (size_t)p->seen[i] & (cap - 1);
            while (t[j] != 0)
                j = (j + 1) & (cap - 1);
            t[j] = p->seen[i];
        }
        free(p->seen);
        p->seen = t;
        p->seen_cap = cap;
    }
    size_t j = (size_t)key & (p->seen_cap - 1);
    while (p->seen[j] != 0) {
        if (p->seen[j] == key)
            return 0;
        j = (j + 1) & (p->seen_cap - 1);
    }
    p->seen[j] = key;
    p->seen_n++;
    return 1;
}

/* A reply from `from` to one of our queries: to the caller, once. */
static void query_deliver(struct query *q, const char *from, const struct query_reply *r)
{
    struct query_pending *p = query_find(q, r->id);
    if (p == NULL)
        return; /* late, or not ours */
    uint64_t key = (hash_fnv1a(from, strlen(from)) << 1) | (r->kind == QUERY_KIND_RESPONSE);
    if (key == 0)
        key = 2; /* 0 marks an empty slot */
    int rc = query_seen_add(p, key);
    if (rc == 0)
        return;
    if (rc < 0) {
        p->dropped++;
        return;
    }
    struct query_event ev = {
        .kind = r->kind == QUERY_KIND_ACK ? QUERY_EV_ACK : QUERY_EV_RESPONSE,
        .id = r->id,
        .from = from,
        .payload = r->payload,
        .len = r->len,
        .truncated = (r->flags & QUERY_F_TRUNCATED) != 0,
    };
    if (ev.kind == QUERY_EV_ACK)
        p->acks++;
    else
        p->responses++;
    ev.acks = p->acks;
    ev.responses = p->responses;
    p->cb(p->ctx, &ev);
}

static void query_on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct query_pending *p = arg;
    struct query_event ev = {
        .kind = QUERY_EV_DONE,
        .id = p->id,
        .acks = p->acks,
        .responses = p->responses,
        .dropped = p->dropped,
    };
    query_event_f cb = p->cb;
    void *ctx = p->ctx;
    query_pending_free(p); /* before the callback, which may start another */
    cb(ctx, &ev);
}

uint32_t query_default_timeout_ms(const struct query *q)
{
    uint64_t n = swim_active_count(query_core(q)) + 1, k = 0;
    for (uint64_t v = 1; v < n + 1; v *= 10)
        k++;
    uint64_t ms = (uint64_t)rt_swim_config(q->cfg.rt)->gossip_interval_ms * QUERY_TIMEOUT_MULT * k;
    return ms < QUERY_TIMEOUT_MAX_MS ? (uint32_t)ms : QUERY_TIMEOUT_MAX_MS;
}

/* Check a request and turn it into a message; 0 or ERR_INVAL with err. */
static int query_compose(const struct query_request *req, struct query_msg *m, char *err,
                         size_t errlen)
{
    memset(m, 0, sizeof(*m));
    size_t nlen = req->name != NULL ? strlen(req->name) : 0;
    m->name = (struct query_bytes){req->name, nlen};
    if (nlen == 0 || nlen > QUERY_NAME_MAX || !text_valid(req->name, nlen)) {
        snprintf(err, errlen, "query name must be 1 to %d bytes of text", QUERY_NAME_MAX);
        return ERR_INVAL;
    }
    if (req->node_count > QUERY_NODES_MAX || req->tag_count > QUERY_TAGS_MAX) {
        snprintf(err, errlen, "at most %d node and %d tag filters", QUERY_NODES_MAX,
                 QUERY_TAGS_MAX);
        return ERR_INVAL;
    }
    for (size_t i = 0; i < req->node_count; i++) {
        const char *n = req->nodes[i];
        m->nodes[i] = (struct query_bytes){n, n != NULL ? strlen(n) : 0};
        if (n == NULL || !swim_name_valid(n, m->nodes[i].len)) {
            snprintf(err, errlen, "node filter \"%.64s\" is not a valid node name", n ? n : "");
            return ERR_INVAL;
        }
    }
    for (size_t i = 0; i < req->tag_count; i++) {
        const struct query_tag_filter *t = &req->tags[i];
        char pat[QUERY_PATTERN_MAX + 1];
        regex_t re;
        if (t->key.len == 0 || t->key.len > TAGS_KEY_MAX || t->pattern.len == 0 ||
            t->pattern.len > QUERY_PATTERN_MAX) {
            snprintf(err, errlen, "tag filter needs KEY=PATTERN, a pattern of 1 to %d bytes",
                     QUERY_PATTERN_MAX);
            return ERR_INVAL;
        }
        memcpy(pat, t->pattern.ptr, t->pattern.len);
        pat[t->pattern.len] = '\0';
        if (!query_pattern_ok(t->pattern.ptr, t->pattern.len)) {
            snprintf(err, errlen,
                     "tag filter %.*s: \"%.64s\" is refused: no back-references, repetitions "
                     "nested at most 2 deep, and at most %d "
                     "positions with its repetitions written out",
                     (int)(t->key.len < 64 ? t->key.len : 64), t->key.ptr, pat,
                     QUERY_PATTERN_SIZE_MAX);
            return ERR_INVAL;
        }
        if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB) != 0) {
            snprintf(err, errlen,
                     "tag filter %.*s: \"%.64s\" is not an extended regular expression",
                     (int)(t->key.len < 64 ? t->key.len : 64), t->key.ptr, pat);
            return ERR_INVAL;
        }
        regfree(&re);
        m->tags[i] = *t;
    }
    m->node_count = req->node_count;
    m->tag_count = req->tag_count;
    m->payload = req->payload;
    m->len = req->len;
    m->relay_factor = (uint8_t)req->relay_factor;
    m->flags = req->no_ack ? QUERY_F_NO_ACK : 0;
    if (req->relay_factor > SWIM_DIRECT_RELAY_MAX || req->timeout_ms > QUERY_TIMEOUT_MAX_MS) {
        snprintf(err, errlen, "relay factor at most %d, timeout at most %u ms",
                 SWIM_DIRECT_RELAY_MAX, QUERY_TIMEOUT_MAX_MS);
        return ERR_INVAL;
    }
    return 0;
}

int query_start(struct query *q, const struct query_request *req, query_event_f cb, void *ctx,
                uint32_t *id, uint32_t *timeout_ms, char *err, size_t errlen)
{
    struct query_msg m;
    int rc = query_compose(req, &m, err, errlen);
    if (rc != 0)
        return rc;
    m.timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : query_default_timeout_ms(q);
    struct query_pending *p = NULL;
    for (size_t i = 0; i < QUERY_PENDING_MAX && p == NULL; i++)
        if (!q->pending[i].used)
            p = &q->pending[i];
    if (p == NULL) {
        snprintf(err, errlen, "%d queries are in flight already; try again later",
                 QUERY_PENDING_MAX);
        return ERR_FULL;
    }
    /* Reserve first: the timer, then the id; nothing fails after the
     * broadcast. */
    p->timer = evtimer_new(q->cfg.base, query_on_deadline, p);
    if (p->timer == NULL) {
        snprintf(err, errlen, "out of memory");
        return ERR_NOMEM;
    }
    do
        m.id = q->next_id++;
    while (m.id == 0 || query_find(q, m.id) != NULL);
    uint8_t buf[SWIM_USER_MAX];
    size_t len = 0;
    rc = query_msg_encode(buf, sizeof(buf), &m, &len);
    if (rc == 0) {
        p->used = 1; /* before the broadcast: this node's own ack finds it */
        p->id = m.id;
        p->cb = cb;
        p->ctx = ctx;
        rc = swim_broadcast(query_core(q), buf, len, clock_mono_ms());
    }
    if (rc != 0) {
        if (rc == ERR_TOOBIG || rc == ERR_INVAL)
            snprintf(err, errlen, "query too large: name, filters and payload exceed %d bytes",
                     SWIM_USER_MAX);
        else if (rc == ERR_FULL)
            snprintf(err, errlen, "too many broadcasts in flight; try again shortly");
        else
            snprintf(err, errlen, "%s", err_strerror(rc));
        query_pending_free(p);
        return rc == ERR_INVAL ? ERR_TOOBIG : rc;
    }
    struct timeval tv = clock_tv(m.timeout_ms);
    evtimer_add(p->timer, &tv);
    log_msg(q->cfg.log, LOG_INFO, "query started name=%s id=%u timeout_ms=%u", req->name,
            (unsigned)m.id, (unsigned)m.timeout_ms);
    if (id != NULL)
        *id = m.id;
    if (timeout_ms != NULL)
        *timeout_ms = m.timeout_ms;
    return 0;
}

void query_cancel(struct query *q, uint32_t id)
{
    struct query_pending *p = query_find(q, id);
    if (p != NULL)
        query_pending_free(p);
}

/* ---- answering -------------------------------------------------------------- */

/* Replies from this node to itself, in the order they were made. */
static void query_on_local(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct query *q = arg;
    /* Callbacks may add more; those wait for the next turn. */
    size_t n = q->local_n;
    struct query_local *batch = malloc(n * sizeof(*batch) + 1);
    if (batch == NULL)
        return;
    memcpy(batch, q->local, n * sizeof(*batch));
    q->local_n = 0;
    for (size_t i = 0; i < n; i++) {
        struct query_reply r = {batch[i].kind, batch[i].id, batch[i].flags, batch[i].data,
                                batch[i].len};
        query_deliver(q, q->self, &r);
    }
    free(batch);
}

/* Send one reply to `origin` (ourselves: through the local queue). */
static void query_reply_to(struct query *q, const char *origin, uint8_t relay,
                           const struct query_reply *r)
{
    if (strcmp(origin, q->self) == 0) {
        if (q->local_n == QUERY_LOCAL_MAX) {
            log_msg(q->cfg.log, LOG_WARN, "query id=%u: local reply dropped", (unsigned)r->id);
            return;
        }
        struct query_local *l = &q->local[q->local_n++];
        l->kind = r->kind;
        l->flags = r->flags;
        l->id = r->id;
        l->len = r->len;
        if (r->len > 0)
            memcpy(l->data, r->payload, r->len);
        event_active(q->local_ev, EV_TIMEOUT, 0);
        return;
    }
    uint8_t buf[QUERY_REPLY_HEADER + QUERY_RESPONSE_MAX];
    size_t len = 0;
    int rc = query_reply_encode(buf, sizeof(buf), r, &len);
    if (rc == 0)
        rc = swim_send_direct(query_core(q), origin, buf, len, relay, clock_mono_ms());
    if (rc != 0) {
        q->stats.send_errors++;
        log_msg(q->cfg.log, LOG_DEBUG, "query id=%u: %s to %s not sent: %s", (unsigned)r->id,
                r->kind == QUERY_KIND_ACK ? "ack" : "response", origin, err_strerror(rc));
    }
}

/* A response of len bytes, cut to what one direct message holds. */
static void query_respond(struct query *q, const char *origin, uint32_t id, uint8_t relay,
                          const uint8_t *out, size_t len, int truncated)
{
    size_t room = swim_direct_room(query_core(q)) - QUERY_REPLY_HEADER;
    if (room > QUERY_RESPONSE_MAX)
        room = QUERY_RESPONSE_MAX;
    if (len > room) {
        len = room;
        truncated = 1;
    }
    struct query_reply r = {QUERY_KIND_RESPONSE, id, truncated ? QUERY_F_TRUNCATED : 0, out, len};
    query_reply_to(q, origin, relay, &r);
    q->stats.responses++;
}

void query_handler_output(void *ctx, uint64_t seq, const uint8_t *out, size_t len, int truncated)
{
    struct query *q = ctx;
    struct query_out_rec rec;
    memset(&rec, 0, sizeof(rec));
    rec.seq = seq;
    rec.len = (uint32_t)(len < QUERY_RESPONSE_MAX ? len : QUERY_RESPONSE_MAX);
    rec.truncated = truncated || len > QUERY_RESPONSE_MAX;
    memcpy(rec.data, out, rec.len);
    if (write(q->pipe_wr, &rec, sizeof(rec)) != (ssize_t)sizeof(rec))
        log_msg(q->cfg.log, LOG_WARN, "query seq=%llu: answer dropped: %s", (unsigned long long)seq,
                strerror(errno));
}

static void query_on_pipe(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct query *q = arg;
    struct query_out_rec rec;
    for (int i = 0; i < QUERY_PIPE_READS; i++) {
        if (read(fd, &rec, sizeof(rec)) != (ssize_t)sizeof(rec))
            return;
        struct query_inbox *in = NULL;
        for (size_t j = 0; j < QUERY_INBOX_MAX && in == NULL; j++)
            if (q->inbox[j].seq == rec.seq)
                in = &q->inbox[j];
        if (in == NULL || in->responded || clock_mono_ms() >= in->deadline) {
            log_msg(q->cfg.log, LOG_DEBUG, "query seq=%llu: answer not sent (%s)",
                    (unsigned long long)rec.seq,
                    in == NULL      ? "query forgotten"
                    : in->responded ? "answered already"
                                    : "too late");
            continue;
        }
        in->responded = 1;
        query_respond(q, in->origin, in->id, in->relay_factor, rec.data,
                      rec.len <= QUERY_RESPONSE_MAX ? rec.len : QUERY_RESPONSE_MAX,
                      rec.truncated != 0);
    }
    event_active(q->pipe_ev, EV_READ, 0); /* the rest in a later turn */
}

/* ---- receiving ---------------------------------------------------------------- */

/* Does this node's tag `key` exist with a value matching `pattern`? */
static int query_tag_matches(const struct query *q, const struct query_tag_filter *t)
{
    char pat[QUERY_PATTERN_MAX + 1], val[TAGS_VALUE_MAX + 1];
    struct tags_pair pair;
    for (size_t i = 0; tags_at(q->cfg.tags, i, &pair) == 0; i++) {
        if (pair.klen != t->key.len || memcmp(pair.key, t->key.ptr, pair.klen) != 0)
            continue;
        memcpy(pat, t->pattern.ptr, t->pattern.len);
        pat[t->pattern.len] = '\0';
        memcpy(val, pair.value, pair.vlen);
        val[pair.vlen] = '\0';
        regex_t re;
        if (!query_pattern_ok(t->pattern.ptr, t->pattern.len) ||
            regcomp(&re, pat, REG_EXTENDED | REG_NOSUB) != 0)
            return 0; /* a pattern that does not compile (or may not) matches nothing */
        int rc = regexec(&re, val, 0, NULL, 0);
        regfree(&re);
        return rc == 0;
    }
    return 0;
}

static int query_matches(const struct query *q, const struct query_msg *m)
{
    int named = m->node_count == 0;
    for (size_t i = 0; i < m->node_count && !named; i++)
        named = m->nodes[i].len == strlen(q->self) &&
                memcmp(m->nodes[i].ptr, q->self, m->nodes[i].len) == 0;
    for (size_t i = 0; i < m->tag_count && named; i++)
        named = query_tag_matches(q, &m->tags[i]);
    return named;
}

/* An internal query: its registered callback answers at once. */
static void query_answer_internal(struct query *q, const char *origin, const struct query_msg *m)
{
    for (size_t i = 0; i < q->internal_n; i++) {
        if (strlen(q->internal[i].name) != m->name.len ||
            memcmp(q->internal[i].name, m->name.ptr, m->name.len) != 0)
            continue;
        uint8_t out[QUERY_RESPONSE_MAX];
        size_t len = 0;
        if (q->internal[i].f(q->internal[i].ctx, origin, m->payload, m->len, out, sizeof(out),
                             &len) == 0)
            query_respond(q, origin, m->id, m->relay_factor, out,
                          len <= sizeof(out) ? len : sizeof(out), 0);
        return;
    }
}

/* A user query: an event on the bus, remembered for its handlers. */
static void query_publish(struct query *q, const struct swim_user_info *u,
                          const struct query_msg *m)
{
    struct ev_event *ev = calloc(1, sizeof(*ev));
    if (ev == NULL)
        return;
    ev->type = EV_QUERY;
    ev->time_ms = clock_wall_ms();
    ev->generation = u->origin_generation;
    ev->user_id = m->id;
    ev->status = SWIM_ALIVE;
    snprintf(ev->name, sizeof(ev->name), "%s", u->origin);
    memcpy(ev->user_name, m->name.ptr, m->name.len);
    ev->data_len = (uint16_t)(m->len < EV_USER_DATA_MAX ? m->len : EV_USER_DATA_MAX);
    memcpy(ev->data, m->payload, ev->data_len);
    uint64_t seq = 0;
    int rc = ev_bus_publish_event(q->cfg.bus, ev, &seq);
    free(ev);
    if (rc != 0) {
        log_msg(q->cfg.log, LOG_WARN, "query id=%u from=%s not published: %s", (unsigned)m->id,
                u->origin, err_strerror(rc));
        return;
    }
    struct query_inbox *in = &q->inbox[q->inbox_next];
    q->inbox_next = (q->inbox_next + 1) % QUERY_INBOX_MAX;
    in->seq = seq;
    in->deadline = clock_mono_ms() + m->timeout_ms;
    in->id = m->id;
    in->relay_factor = m->relay_factor;
    in->responded = 0;
    snprintf(in->origin, sizeof(in->origin), "%s", u->origin);
    log_msg(q->cfg.log, LOG_INFO, "query name=%.*s from=%s id=%u seq=%llu", (int)m->name.len,
            m->name.ptr, u->origin, (unsigned)m->id, (unsigned long long)seq);
}

static void query_on_query(struct query *q, const struct swim_user_info *u)
{
    struct query_msg m;
    int rc = query_msg_decode(&m, u->payload, u->len);
    if (rc != 0) {
        log_msg(q->cfg.log, LOG_WARN, "query from=%s: malformed (%s), dropped", u->origin,
                err_strerror(rc));
        return;
    }
    if (!query_matches(q, &m))
        return;
    q->stats.received++;
    if (!(m.flags & QUERY_F_NO_ACK)) {
        struct query_reply ack = {QUERY_KIND_ACK, m.id, 0, NULL, 0};
        query_reply_to(q, u->origin, m.relay_factor, &ack);
    }
    if (query_name_reserved(m.name.ptr, m.name.len))
        query_answer_internal(q, u->origin, &m);
    else
        query_publish(q, u, &m);
}

/* The runtime's interceptor: queries (broadcasts) and replies (direct
 * messages) are ours; everything else goes on to the bus. */
static int query_intercept(void *ctx, const struct swim_notification *n)
{
    struct query *q = ctx;
    if (!query_is_ours(n->user.payload, n->user.len))
        return 0;
    if (n->type == SWIM_EV_USER) {
        query_on_query(q, &n->user);
        return 1;
    }
    if (n->type == SWIM_EV_DIRECT) {
        struct query_reply r;
        if (query_reply_decode(&r, n->user.payload, n->user.len) == 0)
            query_deliver(q, n->user.origin, &r);
        else
            log_msg(q->cfg.log, LOG_DEBUG, "query reply from=%s malformed, dropped",
                    n->user.origin);
        return 1;
    }
    return 0;
}

int query_register(struct query *q, const char *name, query_internal_f f, void *ctx)
{
    size_t len = name != NULL ? strlen(name) : 0;
    if (f == NULL || len > QUERY_NAME_MAX || !query_name_reserved(name, len) ||
        !text_valid(name, len))
        return ERR_INVAL;
    for (size_t i = 0; i < q->internal_n; i++)
        if (strcmp(q->internal[i].name, name) == 0)
            return ERR_EXISTS;
    if (q->internal_n == QUERY_INTERNAL_MAX)
        return ERR_FULL;
    struct query_internal *in = &q->internal[q->internal_n++];
    memcpy(in->name, name, len + 1);
    in->f = f;
    in->ctx = ctx;
    return 0;
}

void query_get_stats(const struct query *q, struct query_stats *out)
{
    *out = q->stats;
    out->pending = 0;
    for (size_t i = 0; i < QUERY_PENDING_MAX; i++)
        out->pending += q->pending[i].used != 0;
}

/* ---- set-up ------------------------------------------------------------------- */

struct query *query_new(const struct query_config *cfg)
{
    struct query *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return NULL;
    q->cfg = *cfg;
    snprintf(q->self, sizeof(q->self), "%s", cfg->self_name);
    q->pipe_rd = q->pipe_wr = -1;
    int p[2];
    if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
        goto fail;
    q->pipe_rd = p[0];
    q->pipe_wr = p[1];
    q->pipe_ev = event_new(cfg->base, q->pipe_rd, EV_READ | EV_PERSIST, query_on_pipe, q);
    q->local_ev = event_new(cfg->base, -1, 0, query_on_local, q);
    if (q->pipe_ev == NULL || q->local_ev == NULL || event_add(q->pipe_ev, NULL) != 0)
        goto fail;
    /* Ids start at random: replies to an earlier run's queries find
     * nothing pending. */
    q->next_id = randombytes_random();
    q->cfg.self_name = q->self;
    rt_set_intercept(cfg->rt, query_intercept, q);
    return q;
fail:
    query_delete(q);
    return NULL;
}

void query_delete(struct query *q)
{
    if (q == NULL)
        return;
    if (q->cfg.rt != NULL)
        rt_set_intercept(q->cfg.rt, NULL, NULL);
    for (size_t i = 0; i < QUERY_PENDING_MAX; i++)
        if (q->pending[i].used)
            query_pending_free(&q->pending[i]);
    if (q->pipe_ev != NULL)
        event_free(q->pipe_ev);
    if (q->local_ev != NULL)
        event_free(q->local_ev);
    if (q->pipe_rd >= 0)
        close(q->pipe_rd);
    if (q->pipe_wr >= 0)
        close(q->pipe_wr);
    free(q);
}
