/*
 * events.c - see events.h for the model.
 *
 * Storage.  An event is stored once, as a compact record (struct ev_rec: a
 * 32-byte header, then the name and either the address and tag block or the
 * user event's name and data, each by its length), and shared by the history and every queue it
 * is in.  The bus is a dispatcher (seed 0) whose messages are pointers to
 * records, with one sender handle, plus a ring of pointers to the last
 * `history` records.  A record counts its holders: the history's slot, and
 * one per queued copy (the dispatcher's hold callback takes it as it queues
 * the pointer; the receiver gives it back once it has decoded the record,
 * and the drop callback gives back copies discarded when a receiver
 * closes).  The last holder frees it.  So memory follows what events carry
 * (about 50 bytes for a member event without tags, 64 with malloc's own), a subscriber
 * queue costs 16 bytes a slot, and an event that left the history is still
 * read in full by a subscriber that had it queued.  The ring holds a
 * contiguous run of sequences [first, newest]: every sequence is an event,
 * so seq maps to slot seq % cap.
 *
 * One mutex (bus->lock) makes the ring agree with the dispatcher.  Publishing
 * holds it across disp_broadcast() and the ring append, so whenever the lock
 * is free, every sequence up to the dispatcher's clock is in the ring (or was
 * overwritten).  Two readers depend on that:
 *
 *   - ev_sub_open() reads the clock C and opens its receiver under the lock,
 *     so the receiver gets exactly the sequences above C and the replay covers
 *     (since, C]: no gap, no duplicate;
 *   - lag repair acknowledges the dispatcher's LAGGED notice under the lock,
 *     so the resume point R it gets back is already in the ring, and the gap
 *     [first missed, R] can be replayed from it.
 *
 * The lock order is always bus->lock, then the dispatcher's own lock, and no
 * call under bus->lock can wait for anything: every receiver is DISP_LAG, so
 * disp_broadcast() never blocks.
 *
 * A replay (after --since, or a lag repair) is served lazily, one event per
 * read, from a cursor; if the publisher overwrites the cursor's slot first,
 * the subscriber is told (LAGGED or LOST) instead of receiving a wrong event.
 */
#include "events.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dispatch.h"
#include "err.h"
#include "tags.h"
#include "text.h"

/* Milliseconds and nanoseconds per second, for the timed receive. */
#define EV_MS_PER_S 1000
#define EV_NS_PER_MS 1000000L

/*
 * One event as stored: a 32-byte header, then the variable fields packed
 * without NULs, each as many bytes as its length says.  A member or self
 * event keeps its name, address and tag block; a user event its origin's
 * name, the event's name and its data (the other fields of struct ev_event
 * are empty for that kind, and are not stored).  The sequence number is not
 * stored either: the history's slot and the dispatcher's message carry it.
 */
struct ev_rec {
    atomic_uint refs; /* holders: the history, plus one per queued copy */
    uint32_t id;      /* incarnation (member), user_id (user) */
    uint64_t time_ms;
    uint64_t generation;
    uint16_t len3; /* tags_len (member), data_len (user) */
    uint8_t type;
    uint8_t status;
    uint8_t name_len;
    uint8_t len2;    /* addr length (member), user_name length (user) */
    uint8_t bytes[]; /* name, then addr or user_name, then tags or data */
};
_Static_assert(sizeof(struct ev_rec) == 32, "the stored header is 32 bytes");

struct ev_bus {
    pthread_mutex_t lock;
    struct disp *d;
    struct disp_tx *tx;   /* NULL once ended */
    struct ev_rec **ring; /* the history: one holder's reference per slot */
    size_t cap;
    size_t held;     /* events in the ring, <= cap */
    uint64_t newest; /* last sequence published */
};

struct ev_sub {
    struct ev_bus *bus;
    struct disp_rx *rx;
    enum ev_lag_mode lag;
    uint64_t last;       /* sequence of the last item handed out */
    uint64_t cursor;     /* next sequence to replay ... */
    uint64_t replay_end; /* ... while cursor <= replay_end */
};

/* ---- from the core ---- */

/* Copy a NUL-terminated name of at most cap - 1 bytes, cutting longer ones. */
static void ev_copy_name(char *dst, size_t cap, const char *src)
{
    size_t n = src != NULL ? strnlen(src, cap - 1) : 0;
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

int ev_from_notification(struct ev_event *out, const struct swim_notification *n, uint64_t time_ms)
{
    enum ev_type t;
    if (out == NULL || n == NULL || ev_type_from_swim(n->type, &t) != 0)
        return ERR_INVAL;
    memset(out, 0, sizeof(*out));
    out->type = t;
    out->time_ms = time_ms;
    if (t == EV_USER) {
        const struct swim_user_info *u = &n->user;
        /* | u8 name length | name | data |: bounds first, then copy. */
        if (u->len < 2 || u->len > SWIM_USER_MAX || u->payload == NULL || u->payload[0] == 0 ||
            (size_t)u->payload[0] + 1 > u->len)
            return ERR_MALFORMED;
        size_t nlen = u->payload[0];
        size_t dlen = (size_t)u->len - 1 - nlen;
        if (!text_valid((const char *)u->payload + 1, nlen))
            return ERR_MALFORMED; /* not text: a control character, a NUL, not UTF-8 */
        memcpy(out->user_name, u->payload + 1, nlen);
        out->user_name[nlen] = '\0';
        if (dlen > 0)
            memcpy(out->data, u->payload + 1 + nlen, dlen);
        out->data_len = (uint16_t)dlen;
        out->user_id = u->id;
        out->generation = u->origin_generation;
        out->status = SWIM_ALIVE;
        ev_copy_name(out->name, sizeof(out->name), u->origin);
        return 0;
    }
    const struct swim_member_info *m = &n->member;
    if (m->meta_len > SWIM_META_MAX || (m->meta_len > 0 && m->meta == NULL))
        return ERR_MALFORMED;
    ev_copy_name(out->name, sizeof(out->name), m->name);
    addr_format(&m->addr, out->addr);
    out->status = m->status;
    out->incarnation = m->incarnation;
    out->generation = m->generation;
    if (m->meta_len > 0)
        memcpy(out->tags, m->meta, m->meta_len);
    out->tags_len = m->meta_len;
    return 0;
}

/* ---- records ---- */

static size_t ev_min(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* A record of ev with one holder (the caller's), or NULL when out of
 * memory.  Lengths are clamped to the fields' limits. */
static struct ev_rec *ev_rec_new(const struct ev_event *ev)
{
    int user = ev_type_is_message(ev->type);
    size_t nl = strnlen(ev->name, SWIM_NAME_MAX);
    size_t l2 =
        user ? strnlen(ev->user_name, EV_USER_NAME_MAX) : strnlen(ev->addr, ADDR_TEXT_MAX - 1);
    size_t l3 = user ? ev_min(ev->data_len, EV_USER_DATA_MAX) : ev_min(ev->tags_len, SWIM_META_MAX);
    struct ev_rec *r = malloc(sizeof(*r) + nl + l2 + l3);
    if (r == NULL)
        return NULL;
    atomic_init(&r->refs, 1);
    r->id = user ? ev->user_id : ev->incarnation;
    r->time_ms = ev->time_ms;
    r->generation = ev->generation;
    r->len3 = (uint16_t)l3;
    r->type = (uint8_t)ev->type;
    r->status = (uint8_t)ev->status;
    r->name_len = (uint8_t)nl;
    r->len2 = (uint8_t)l2;
    memcpy(r->bytes, ev->name, nl);
    memcpy(r->bytes + nl, user ? ev->user_name : ev->addr, l2);
    memcpy(r->bytes + nl + l2, user ? ev->data : ev->tags, l3);
    return r;
}

/* Copy len bytes to a NUL-terminated string. */
static void ev_rec_text(char *dst, const uint8_t *src, size_t len)
{
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* The full event of record r, under sequence seq. */
static void ev_rec_decode(const struct ev_rec *r, uint64_t seq, struct ev_event *out)
{
    int user = ev_type_is_message(r->type);
    const uint8_t *p2 = r->bytes + r->name_len, *p3 = p2 + r->len2;
    out->seq = seq;
    out->time_ms = r->time_ms;
    out->generation = r->generation;
    out->incarnation = user ? 0 : r->id;
    out->user_id = user ? r->id : 0;
    out->type = (enum ev_type)r->type;
    out->status = (enum swim_status)r->status;
    out->tags_len = user ? 0 : r->len3;
    out->data_len = user ? r->len3 : 0;
    ev_rec_text(out->name, r->bytes, r->name_len);
    ev_rec_text(out->addr, p2, user ? 0 : r->len2);
    ev_rec_text(out->user_name, p2, user ? r->len2 : 0);
    memcpy(user ? out->data : out->tags, p3, r->len3);
}

/* Give back one holder's reference; the last one frees the record. */
static void ev_rec_release(struct ev_rec *r)
{
    if (r != NULL && atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) == 1)
        free(r);
}

/* The dispatcher queued a copy of the pointer msg: one more holder.  The
 * publisher's own reference keeps the count above zero meanwhile, and the
 * queue's release of the copy orders this before the reader's release. */
static void ev_rec_hold(void *ctx, const void *msg)
{
    (void)ctx;
    struct ev_rec *r;
    memcpy(&r, msg, sizeof(r));
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
}

/* The dispatcher discarded a queued copy (a subscriber closed). */
static void ev_rec_drop(void *ctx, void *msg)
{
    (void)ctx;
    struct ev_rec *r;
    memcpy(&r, msg, sizeof(r));
    ev_rec_release(r);
}

/* ---- the bus ---- */

struct ev_bus *ev_bus_new(const struct ev_bus_config *cfg)
{
    size_t cap = cfg != NULL && cfg->history > 0 ? cfg->history : EV_HISTORY_DEFAULT;
    if (cap > EV_HISTORY_MAX)
        return NULL;
    struct ev_bus *bus = calloc(1, sizeof(*bus));
    if (bus == NULL)
        return NULL;
    bus->cap = cap;
    bus->ring = calloc(cap, sizeof(*bus->ring));
    struct disp_config dc = {
        .seed = 0, .msg_size = sizeof(struct ev_rec *), .drop = ev_rec_drop, .hold = ev_rec_hold};
    bus->d = bus->ring != NULL ? disp_new(&dc) : NULL;
    bus->tx = bus->d != NULL ? disp_tx_new(bus->d) : NULL;
    if (bus->tx == NULL || pthread_mutex_init(&bus->lock, NULL) != 0) {
        disp_tx_close(bus->tx);
        disp_delete(bus->d);
        free(bus->ring);
        free(bus);
        return NULL;
    }
    return bus;
}

void ev_bus_delete(struct ev_bus *bus)
{
    if (bus == NULL)
        return;
    disp_tx_close(bus->tx);
    disp_delete(bus->d);
    pthread_mutex_destroy(&bus->lock);
    for (size_t i = 0; i < bus->cap; i++)
        ev_rec_release(bus->ring[i]);
    free(bus->ring);
    free(bus);
}

int ev_bus_publish_event(struct ev_bus *bus, struct ev_event *ev, uint64_t *seq)
{
    if (bus == NULL || ev == NULL || (int)ev->type < EV_MEMBER_JOIN || (int)ev->type > EV_TYPE_LAST)
        return ERR_INVAL;
    struct ev_rec *rec = ev_rec_new(ev); /* its reference becomes the history's */
    if (rec == NULL)
        return ERR_NOMEM;
    pthread_mutex_lock(&bus->lock);
    if (bus->tx == NULL) {
        pthread_mutex_unlock(&bus->lock);
        ev_rec_release(rec);
        return ERR_CLOSED;
    }
    uint64_t s = 0;
    int rc = disp_broadcast(bus->tx, &rec, &s);
    if (rc == 0) {
        struct ev_rec **slot = &bus->ring[s % bus->cap];
        ev_rec_release(*slot); /* the event falling out of the history, if any */
        *slot = rec;
        bus->newest = s;
        if (bus->held < bus->cap)
            bus->held++;
    }
    pthread_mutex_unlock(&bus->lock);
    if (rc != 0) {
        ev_rec_release(rec);
        return rc;
    }
    ev->seq = s;
    if (seq != NULL)
        *seq = s;
    return 0;
}

int ev_bus_publish(struct ev_bus *bus, const struct swim_notification *n, uint64_t time_ms,
                   uint64_t *seq)
{
    struct ev_event ev;
    if (bus == NULL)
        return ERR_INVAL;
    int rc = ev_from_notification(&ev, n, time_ms);
    if (rc != 0)
        return rc;
    return ev_bus_publish_event(bus, &ev, seq);
}

void ev_bus_end(struct ev_bus *bus)
{
    if (bus == NULL)
        return;
    pthread_mutex_lock(&bus->lock);
    disp_tx_close(bus->tx);
    bus->tx = NULL;
    pthread_mutex_unlock(&bus->lock);
}

/* The readers below take the lock of a bus they were given as const: the lock
 * is the one mutable part of an otherwise read-only query. */
static struct ev_bus *ev_bus_mut(const struct ev_bus *bus)
{
    return (struct ev_bus *)bus;
}

/* Under bus->lock. */
static uint64_t ev_first_locked(const struct ev_bus *bus)
{
    return bus->newest + 1 - bus->held;
}

uint64_t ev_bus_clock(const struct ev_bus *bus)
{
    struct ev_bus *b = ev_bus_mut(bus);
    pthread_mutex_lock(&b->lock);
    uint64_t c = b->newest;
    pthread_mutex_unlock(&b->lock);
    return c;
}

uint64_t ev_bus_first_held(const struct ev_bus *bus)
{
    struct ev_bus *b = ev_bus_mut(bus);
    pthread_mutex_lock(&b->lock);
    uint64_t f = ev_first_locked(b);
    pthread_mutex_unlock(&b->lock);
    return f;
}

int ev_bus_history_get(const struct ev_bus *bus, uint64_t seq, struct ev_event *out)
{
    struct ev_bus *b = ev_bus_mut(bus);
    int rc = ERR_NOTFOUND;
    pthread_mutex_lock(&b->lock);
    if (seq >= ev_first_locked(b) && seq <= b->newest && seq > 0) {
        ev_rec_decode(b->ring[seq % b->cap], seq, out);
        rc = 0;
    }
    pthread_mutex_unlock(&b->lock);
    return rc;
}

/* ---- subscribers ---- */

int ev_sub_open(struct ev_bus *bus, const struct ev_sub_config *cfg, struct ev_sub **out,
                uint64_t *first_held)
{
    if (bus == NULL || cfg == NULL || out == NULL || cfg->name == NULL || cfg->name[0] == '\0' ||
        cfg->capacity > DISP_CAPACITY_MAX ||
        (cfg->lag != 0 && cfg->lag != EV_LAG_REPORT && cfg->lag != EV_LAG_RECOVER))
        return ERR_INVAL;
    struct ev_sub *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return ERR_NOMEM;
    s->bus = bus;
    s->lag = cfg->lag != 0 ? cfg->lag : EV_LAG_REPORT;
    size_t cap = cfg->capacity > 0 ? cfg->capacity : EV_SUB_CAPACITY_DEFAULT;
    int rc = 0;
    pthread_mutex_lock(&bus->lock);
    uint64_t clock = bus->newest;
    uint64_t first = ev_first_locked(bus);
    if (bus->tx == NULL) {
        rc = ERR_CLOSED;
    } else if (cfg->replay && cfg->since > clock) {
        rc = ERR_INVAL;
    } else if (cfg->replay && cfg->since < clock && cfg->since + 1 < first) {
        rc = ERR_STALE;
        if (first_held != NULL)
            *first_held = first;
    } else {
        rc = disp_rx_open(bus->d, cfg->name, cap, DISP_LAG, &s->rx);
        if (rc == ERR_TOOBIG)
            rc = ERR_INVAL;
    }
    if (rc == 0) {
        s->last = cfg->replay ? cfg->since : clock;
        s->cursor = s->last + 1;
        s->replay_end = clock;
    }
    pthread_mutex_unlock(&bus->lock);
    if (rc != 0) {
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* What malloc adds to a block, at most, on the usual allocators. */
#define EV_MALLOC_OVERHEAD 16

size_t ev_sub_queued_bytes_max(void)
{
    size_t slot = sizeof(uint64_t) + sizeof(struct ev_rec *); /* the dispatcher's slot */
    size_t len2 = ADDR_TEXT_MAX > EV_USER_NAME_MAX ? ADDR_TEXT_MAX : EV_USER_NAME_MAX;
    size_t len3 = SWIM_META_MAX > EV_USER_DATA_MAX ? SWIM_META_MAX : EV_USER_DATA_MAX;
    return slot + sizeof(struct ev_rec) + SWIM_NAME_MAX + len2 + len3 + EV_MALLOC_OVERHEAD;
}

void ev_sub_close(struct ev_sub *s)
{
    if (s == NULL)
        return;
    disp_rx_close(s->rx);
    free(s);
}

int ev_sub_fd(struct ev_sub *s)
{
    if (s == NULL)
        return ERR_INVAL;
    return disp_rx_fd(s->rx);
}

uint64_t ev_sub_position(const struct ev_sub *s)
{
    return s->last;
}

/* Hand out the next replayed event, or the gap in front of the cursor. */
static void ev_sub_replay_one(struct ev_sub *s, struct ev_item *item, struct ev_event *ev)
{
    struct ev_bus *bus = s->bus;
    pthread_mutex_lock(&bus->lock);
    uint64_t first = ev_first_locked(bus);
    if (s->cursor < first) {
        uint64_t end = first - 1 < s->replay_end ? first - 1 : s->replay_end;
        item->kind = s->lag == EV_LAG_RECOVER ? EV_ITEM_LOST : EV_ITEM_LAGGED;
        item->seq = s->cursor;
        item->last = end;
        s->cursor = end + 1;
    } else {
        const struct ev_rec *r = bus->ring[s->cursor % bus->cap];
        if (ev != NULL)
            ev_rec_decode(r, s->cursor, ev);
        item->kind = EV_ITEM_EVENT;
        item->type = (enum ev_type)r->type;
        item->seq = s->cursor;
        item->last = s->cursor;
        s->cursor++;
    }
    pthread_mutex_unlock(&bus->lock);
    s->last = item->last;
}

/* Acknowledge the dispatcher's LAGGED notice for first missed sequence
 * `first`; returns the resume point (see the opening comment). */
static uint64_t ev_sub_ack(struct ev_sub *s)
{
    uint64_t resume = 0;
    pthread_mutex_lock(&s->bus->lock);
    disp_rx_ack_lag(s->rx, &resume);
    pthread_mutex_unlock(&s->bus->lock);
    return resume;
}

/* One item: from the replay cursor first, then from the dispatcher, waiting
 * up to timeout_ms there (0: not at all).  Each pass hands out an item or
 * consumes one clock the caller has already passed, which only the first
 * read after opening or after a lag can produce, so the loop is short; the
 * deadline keeps the total wait within timeout_ms. */
static int ev_sub_step(struct ev_sub *s, struct ev_item *item, struct ev_event *ev, int timeout_ms)
{
    int64_t deadline = timeout_ms > 0 ? (int64_t)clock_mono_ms() + timeout_ms : 0;
    if (s == NULL || item == NULL)
        return ERR_INVAL;
    item->type = 0; /* set for events only */
    for (;;) {
        if (s->cursor <= s->replay_end) {
            ev_sub_replay_one(s, item, ev);
            return 0;
        }
        struct disp_msg m;
        struct ev_rec *rec = NULL; /* DATA: a queued copy, ours to give back */
        int wait = timeout_ms;
        if (timeout_ms > 0) {
            int64_t left = deadline - (int64_t)clock_mono_ms();
            wait = left > 0 ? (int)left : 0;
        }
        int rc =
            wait == 0 ? disp_try_recv(s->rx, &m, &rec) : disp_recv_timed(s->rx, &m, &rec, wait);
        if (rc == ERR_AGAIN && timeout_ms != 0)
            rc = ERR_TIMEOUT;
        if (rc != 0)
            return rc;
        switch (m.kind) {
        case DISP_MSG_DATA:
            if (ev != NULL)
                ev_rec_decode(rec, m.seq, ev);
            item->type = (enum ev_type)rec->type;
            ev_rec_release(rec);
            item->kind = EV_ITEM_EVENT;
            item->seq = item->last = m.seq;
            s->last = m.seq;
            return 0;
        case DISP_MSG_CLOCK:
            if (m.seq <= s->last)
                continue;
            item->kind = EV_ITEM_CLOCK;
            item->seq = item->last = m.seq;
            s->last = m.seq;
            return 0;
        case DISP_MSG_LAGGED: {
            uint64_t resume = ev_sub_ack(s);
            if (s->lag == EV_LAG_RECOVER) {
                s->cursor = m.seq;
                s->replay_end = resume;
                continue;
            }
            item->kind = EV_ITEM_LAGGED;
            item->seq = m.seq;
            item->last = resume;
            s->last = resume;
            return 0;
        }
        case DISP_MSG_END:
            item->kind = EV_ITEM_END;
            item->seq = item->last = s->last;
            return 0;
        }
        return ERR_STATE;
    }
}

int ev_sub_try_recv(struct ev_sub *s, struct ev_item *item, struct ev_event *ev)
{
    return ev_sub_step(s, item, ev, 0);
}

int ev_sub_recv_timed(struct ev_sub *s, struct ev_item *item, struct ev_event *ev, int timeout_ms)
{
    if (timeout_ms == 0) {
        int rc = ev_sub_step(s, item, ev, 0);
        return rc == ERR_AGAIN ? ERR_TIMEOUT : rc;
    }
    return ev_sub_step(s, item, ev, timeout_ms);
}

/* ---- JSON ---- */

/* {key: value, ...} from an encoded tag block; *malformed set when it does
 * not decode (the object is then empty). */
json_t *ev_json_tags(const uint8_t *meta, size_t len, int *malformed)
{
    struct tags_pair pairs[TAGS_PAIRS_MAX];
    size_t n = 0;
    json_t *o = json_object();
    *malformed = 0;
    if (o == NULL)
        return NULL;
    if (tags_decode_all(pairs, TAGS_PAIRS_MAX, &n, meta, len) != 0) {
        *malformed = 1;
        return o;
    }
    for (size_t i = 0; i < n; i++) {
        char k[TAGS_KEY_MAX + 1];
        memcpy(k, pairs[i].key, pairs[i].klen);
        k[pairs[i].klen] = '\0';
        json_t *v = json_stringn(pairs[i].value, pairs[i].vlen);
        if (v == NULL) { /* not UTF-8: keep the key, say so */
            *malformed = 1;
            continue;
        }
        json_object_set_new(o, k, v);
    }
    return o;
}

static json_t *ev_json_hex(const uint8_t *data, size_t len)
{
    char buf[2 * EV_USER_DATA_MAX + 1];
    if (len > EV_USER_DATA_MAX)
        len = EV_USER_DATA_MAX;
    return json_string(sodium_bin2hex(buf, sizeof(buf), data, len));
}

json_t *ev_json_event(const struct ev_event *ev)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int bad = 0;
    bad |= json_object_set_new(o, "seq", ev_json_u64(ev->seq));
    bad |= json_object_set_new(o, "type", json_string(ev_type_name(ev->type)));
    bad |= json_object_set_new(o, "time", ev_json_u64(ev->time_ms));
    if (ev_type_is_message(ev->type)) {
        size_t dlen = ev->data_len <= EV_USER_DATA_MAX ? ev->data_len : EV_USER_DATA_MAX;
        json_t *name = json_string(ev->user_name);
        bad |= json_object_set_new(
            o, "name",
            name != NULL ? name
                         : ev_json_hex((const uint8_t *)ev->user_name, strlen(ev->user_name)));
        json_t *origin = json_string(ev->name);
        bad |= json_object_set_new(o, "origin", origin != NULL ? origin : json_string("?"));
        bad |= json_object_set_new(o, "id", json_integer(ev->user_id));
        json_t *p = json_stringn((const char *)ev->data, dlen);
        if (p != NULL)
            bad |= json_object_set_new(o, "payload", p);
        else
            bad |= json_object_set_new(o, "payload_hex", ev_json_hex(ev->data, dlen));
    } else {
        int malformed = 0;
        json_t *name = json_string(ev->name);
        bad |= json_object_set_new(o, "name", name != NULL ? name : json_string("?"));
        bad |= json_object_set_new(o, "addr", json_string(ev->addr));
        bad |= json_object_set_new(o, "status", json_string(swim_status_name(ev->status)));
        bad |= json_object_set_new(o, "incarnation", json_integer(ev->incarnation));
        bad |= json_object_set_new(o, "generation", ev_json_u64(ev->generation));
        size_t tlen = ev->tags_len <= SWIM_META_MAX ? ev->tags_len : SWIM_META_MAX;
        bad |= json_object_set_new(o, "tags", ev_json_tags(ev->tags, tlen, &malformed));
        if (malformed)
            bad |= json_object_set_new(o, "tags_malformed", json_true());
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *ev_json_u64(uint64_t v)
{
    return json_integer(v <= (uint64_t)INT64_MAX ? (json_int_t)v : (json_int_t)INT64_MAX);
}

json_t *ev_json_clock(uint64_t seq)
{
    return json_pack("{s:o,s:b}", "seq", ev_json_u64(seq), "clock", 1);
}

json_t *ev_json_lagged(uint64_t first_missed)
{
    return json_pack("{s:b,s:o}", "lagged", 1, "first_missed", ev_json_u64(first_missed));
}

enum ev_show ev_item_show(const struct ev_item *item, const struct ev_event *ev, uint32_t types)
{
    switch (item->kind) {
    case EV_ITEM_EVENT:
        return ev != NULL && (types & EV_MASK(ev->type)) != 0 ? EV_SHOW_EVENT : EV_SHOW_CLOCK;
    case EV_ITEM_CLOCK:
        return EV_SHOW_CLOCK;
    case EV_ITEM_LAGGED:
    case EV_ITEM_LOST:
        return EV_SHOW_LAG;
    case EV_ITEM_END:
        return EV_SHOW_END;
    }
    return EV_SHOW_END;
}

json_t *ev_json_item(const struct ev_item *item, const struct ev_event *ev, uint32_t types)
{
    switch (ev_item_show(item, ev, types)) {
    case EV_SHOW_EVENT:
        return ev_json_event(ev);
    case EV_SHOW_CLOCK:
        return ev_json_clock(item->seq);
    case EV_SHOW_LAG:
        return ev_json_lagged(item->seq);
    case EV_SHOW_END:
        return NULL;
    }
    return NULL;
}
