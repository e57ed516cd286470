/*
 * events.c - see events.h for the model.
 *
 * Storage.  The history is a byte ring: each event is one packed record (a
 * 30-byte header, struct ev_rec, then the name and either the address and tag
 * block or the user event's name and data, each by its length), written after
 * the newest, and an index gives the record's offset for each sequence held
 * (seq maps to slot seq % cap: every sequence is an event, and the ring holds
 * a contiguous run of them, [first, newest]).  A record is never split: one
 * that does not fit before the end of the ring goes to offset 0.  The ring
 * is bounded twice: by count (`history`) and by bytes (`history_bytes`).  It
 * is one anonymous mapping of the byte bound, of which it uses (and so
 * touches) a first page, growing a sixteenth at a time only while the events
 * held do not fit, so its memory follows what the last `history` events
 * carry (about 55 bytes for a member or user event without tags, plus 4 for
 * the index) and not their worst case.
 *
 * The dispatcher (seed 0, one sender handle) carries the sequence number as
 * its message, and every subscriber queue holding an event is counted in the
 * record's `queued` field: the dispatcher's hold callback counts each copy
 * as the broadcast queues it, the reader gives the copy back once it has
 * decoded the record, and the drop callback gives back copies discarded when
 * a receiver closes.  An event that leaves the history while a queue still
 * holds it is first copied out ("spilled") into a record of its own, kept in
 * a list sorted by sequence until the last queued copy is read or dropped.
 * So an event a subscriber has queued stays readable in full after it left
 * the history, and the history itself costs one packed record per event.
 * Reading a queued event takes the bus's lock (the ring moves under the
 * publisher); it is held for a decode, a copy of at most ~900 bytes.
 *
 * One mutex (bus->lock) makes the ring agree with the dispatcher.  Publishing
 * holds it across disp_broadcast() and the ring append, so whenever the lock
 * is free, every sequence up to the dispatcher's clock is in the ring (or was
 * evicted).  Two readers depend on that:
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
 * disp_broadcast() never blocks.  The hold callback runs inside
 * disp_broadcast(), so under both; the drop callback runs with no dispatcher
 * lock held and takes bus->lock itself.
 *
 * A replay (after --since, or a lag repair) is served lazily, one event per
 * read, from a cursor; if the publisher evicts the cursor's event first, the
 * subscriber is told (LAGGED or LOST) instead of receiving a wrong event.
 */
#include "events.h"

#include <pthread.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "clock.h"
#include "dispatch.h"
#include "err.h"
#include "tags.h"
#include "text.h"

/* Milliseconds and nanoseconds per second, for the timed receive. */
#define EV_MS_PER_S 1000
#define EV_NS_PER_MS 1000000L

/*
 * The header of one stored event.  Records are packed one after another in
 * the ring, so a header is copied in and out (EV_REC_HEAD bytes, up to and
 * including len2), never used in place.  After it come the variable fields
 * without NULs, each as many bytes as its length says: a member or self
 * event keeps its name, address and tag block; a user event its origin's
 * name, the event's name and its data (the other fields of struct ev_event
 * are empty for that kind, and are not stored).  The sequence number is not
 * stored either: the ring's slot and the dispatcher's message carry it.
 */
struct ev_rec {
    uint64_t time_ms;
    uint64_t generation;
    uint32_t id;     /* incarnation (member), user_id (user) */
    uint32_t queued; /* subscriber queues holding a copy not yet read or dropped */
    uint16_t len3;   /* tags_len (member), data_len (user) */
    uint8_t type;
    uint8_t status;
    uint8_t name_len;
    uint8_t len2; /* addr length (member), user_name length (user) */
};
#define EV_REC_HEAD (offsetof(struct ev_rec, len2) + 1)
_Static_assert(EV_REC_HEAD == 30, "the stored header is 30 bytes");

#define EV_MAX(a, b) ((a) > (b) ? (a) : (b))
/* The largest record: every field at its limit. */
#define EV_REC_MAX                                                                                 \
    (EV_REC_HEAD + SWIM_NAME_MAX + EV_MAX(ADDR_TEXT_MAX - 1, EV_USER_NAME_MAX) +                   \
     EV_MAX(SWIM_META_MAX, EV_USER_DATA_MAX))
/* The ring's first size; it grows by a sixteenth (at least the record that
 * did not fit), in whole pages, up to its byte bound: what it holds beyond
 * its events is then at most a page or ~6 %.  The first size is larger than
 * the largest record. */
#define EV_RING_FIRST 4096
#define EV_RING_ROUND 4096
#define EV_RING_STEP 16
_Static_assert(EV_RING_FIRST >= EV_REC_MAX, "the first ring holds any one record");

/* An event that left the history while queued: its record, copied out. */
struct ev_spill {
    uint64_t seq;
    uint8_t *rec;
};

struct ev_bus {
    pthread_mutex_t lock;
    struct disp *d;
    struct disp_tx *tx; /* NULL once ended */
    uint8_t *buf;       /* the history's records */
    size_t size;        /* bytes of buf */
    size_t size_max;    /* the byte bound: size grows up to it */
    size_t map_len;     /* bytes mapped at buf: size_max in whole pages */
    size_t head;        /* where the next record goes (after the newest) */
    size_t wrap_end;    /* while wrapped: the end of the last record before offset 0 */
    uint32_t *off;      /* the record of sequence s is at buf + off[s % cap] */
    size_t cap;
    size_t held;            /* events in the ring, <= cap */
    uint64_t newest;        /* last sequence published */
    struct ev_spill *spill; /* sorted by seq */
    size_t nspill, spill_cap;
    uint32_t pending; /* copies queued by the broadcast in progress */
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

/* The lengths ev's record stores (clamped to the fields' limits), and its
 * size. */
static size_t ev_rec_lens(const struct ev_event *ev, size_t *nl, size_t *l2, size_t *l3)
{
    int user = ev_type_is_message(ev->type);
    *nl = strnlen(ev->name, SWIM_NAME_MAX);
    *l2 = user ? strnlen(ev->user_name, EV_USER_NAME_MAX) : strnlen(ev->addr, ADDR_TEXT_MAX - 1);
    *l3 = user ? ev_min(ev->data_len, EV_USER_DATA_MAX) : ev_min(ev->tags_len, SWIM_META_MAX);
    return EV_REC_HEAD + *nl + *l2 + *l3;
}

/* Write ev's record at p (ev_rec_lens() bytes), with `queued` copies. */
static void ev_rec_write(uint8_t *p, const struct ev_event *ev, uint32_t queued)
{
    int user = ev_type_is_message(ev->type);
    size_t nl, l2, l3;
    ev_rec_lens(ev, &nl, &l2, &l3);
    struct ev_rec h = {
        .time_ms = ev->time_ms,
        .generation = ev->generation,
        .id = user ? ev->user_id : ev->incarnation,
        .queued = queued,
        .len3 = (uint16_t)l3,
        .type = (uint8_t)ev->type,
        .status = (uint8_t)ev->status,
        .name_len = (uint8_t)nl,
        .len2 = (uint8_t)l2,
    };
    memcpy(p, &h, EV_REC_HEAD);
    p += EV_REC_HEAD;
    memcpy(p, ev->name, nl);
    memcpy(p + nl, user ? ev->user_name : ev->addr, l2);
    memcpy(p + nl + l2, user ? ev->data : ev->tags, l3);
}

/* The header of the record at p. */
static struct ev_rec ev_rec_head(const uint8_t *p)
{
    struct ev_rec h;
    memcpy(&h, p, EV_REC_HEAD);
    return h;
}

/* Bytes of the record at p. */
static size_t ev_rec_size(const uint8_t *p)
{
    struct ev_rec h = ev_rec_head(p);
    return EV_REC_HEAD + h.name_len + h.len2 + h.len3;
}

/* Set the count of queued copies of the record at p. */
static void ev_rec_set_queued(uint8_t *p, uint32_t queued)
{
    memcpy(p + offsetof(struct ev_rec, queued), &queued, sizeof(queued));
}

/* Copy len bytes to a NUL-terminated string. */
static void ev_rec_text(char *dst, const uint8_t *src, size_t len)
{
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* The full event of the record at p, under sequence seq. */
static void ev_rec_decode(const uint8_t *p, uint64_t seq, struct ev_event *out)
{
    struct ev_rec r = ev_rec_head(p);
    int user = ev_type_is_message(r.type);
    const uint8_t *name = p + EV_REC_HEAD, *p2 = name + r.name_len, *p3 = p2 + r.len2;
    out->seq = seq;
    out->time_ms = r.time_ms;
    out->generation = r.generation;
    out->incarnation = user ? 0 : r.id;
    out->user_id = user ? r.id : 0;
    out->type = (enum ev_type)r.type;
    out->status = (enum swim_status)r.status;
    out->tags_len = user ? 0 : r.len3;
    out->data_len = user ? r.len3 : 0;
    ev_rec_text(out->name, name, r.name_len);
    ev_rec_text(out->addr, p2, user ? 0 : r.len2);
    ev_rec_text(out->user_name, p2, user ? r.len2 : 0);
    memcpy(user ? out->data : out->tags, p3, r.len3);
}

/* ---- the ring (every function here runs under bus->lock) ---- */

/* The oldest sequence held; newest + 1 when the ring is empty. */
static uint64_t ev_first_locked(const struct ev_bus *bus)
{
    return bus->newest + 1 - bus->held;
}

/* The record of sequence seq, which must be held. */
static uint8_t *ev_ring_at(const struct ev_bus *bus, uint64_t seq)
{
    return bus->buf + bus->off[seq % bus->cap];
}

static int ev_held(const struct ev_bus *bus, uint64_t seq)
{
    return seq > 0 && seq >= ev_first_locked(bus) && seq <= bus->newest;
}

/* Offset of the oldest record (the ring is not empty). */
static size_t ev_ring_start(const struct ev_bus *bus)
{
    return bus->off[ev_first_locked(bus) % bus->cap];
}

/* Whether the records run past the end of buf and on from offset 0.  Not
 * wrapped, the oldest record starts before `head`; wrapped, at or after it. */
static int ev_ring_wrapped(const struct ev_bus *bus)
{
    return bus->held > 0 && ev_ring_start(bus) >= bus->head;
}

/* Where a record of r bytes fits without evicting or growing: 0 and *at, or
 * ERR_NOSPACE. */
static int ev_ring_fit(const struct ev_bus *bus, size_t r, size_t *at)
{
    if (bus->held == 0) {
        *at = 0;
        return r <= bus->size ? 0 : ERR_NOSPACE;
    }
    size_t start = ev_ring_start(bus);
    if (!ev_ring_wrapped(bus)) { /* free: after head, and before start */
        *at = bus->size - bus->head >= r ? bus->head : 0;
        return bus->size - bus->head >= r || start >= r ? 0 : ERR_NOSPACE;
    }
    *at = bus->head; /* free: between head and start */
    return start - bus->head >= r ? 0 : ERR_NOSPACE;
}

/* Grow the ring so that r more bytes fit: by a sixteenth, at least r, in whole
 * pages, at most to size_max (the mapping is that large; its pages past
 * `size` have never been touched).  A wrapped ring's older part moves to the
 * new end, so the free room stays one run after head.  0 or ERR_LIMIT. */
static int ev_ring_grow(struct ev_bus *bus, size_t r)
{
    size_t want = bus->size + EV_MAX(bus->size / EV_RING_STEP, r);
    want = (want + EV_RING_ROUND - 1) / EV_RING_ROUND * EV_RING_ROUND;
    want = ev_min(want, bus->size_max);
    if (want <= bus->size)
        return ERR_LIMIT;
    size_t delta = want - bus->size;
    if (ev_ring_wrapped(bus)) {
        size_t start = ev_ring_start(bus);
        memmove(bus->buf + start + delta, bus->buf + start, bus->wrap_end - start);
        for (uint64_t s = ev_first_locked(bus); s <= bus->newest; s++)
            if (bus->off[s % bus->cap] >= start) /* the part before the wrap */
                bus->off[s % bus->cap] += (uint32_t)delta;
        bus->wrap_end += delta;
    }
    bus->size = want;
    return 0;
}

/* Index of the spilled record of seq, or nspill when there is none. */
static size_t ev_spill_find(const struct ev_bus *bus, uint64_t seq)
{
    size_t lo = 0, hi = bus->nspill;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (bus->spill[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < bus->nspill && bus->spill[lo].seq == seq ? lo : bus->nspill;
}

/* Drop the oldest event from the ring, first copying it out if a queue still
 * holds it.  0 or ERR_NOMEM (then nothing changed). */
static int ev_ring_evict(struct ev_bus *bus)
{
    uint64_t seq = ev_first_locked(bus);
    const uint8_t *p = ev_ring_at(bus, seq);
    if (ev_rec_head(p).queued > 0) {
        if (bus->nspill == bus->spill_cap) {
            size_t ncap = bus->spill_cap > 0 ? 2 * bus->spill_cap : 16;
            struct ev_spill *ns = realloc(bus->spill, ncap * sizeof(*ns));
            if (ns == NULL)
                return ERR_NOMEM;
            bus->spill = ns;
            bus->spill_cap = ncap;
        }
        size_t n = ev_rec_size(p);
        uint8_t *copy = malloc(n);
        if (copy == NULL)
            return ERR_NOMEM;
        memcpy(copy, p, n);
        /* Evicted in sequence order, so appending keeps the list sorted. */
        bus->spill[bus->nspill++] = (struct ev_spill){.seq = seq, .rec = copy};
    }
    if (--bus->held == 0)
        bus->head = 0;
    return 0;
}

/* Make room for one more event of r bytes: evict the oldest while the count
 * is at its bound, then grow buf or evict until r bytes fit.  *at gets the
 * offset.  0 or ERR_NOMEM. */
static int ev_ring_room(struct ev_bus *bus, size_t r, size_t *at)
{
    int rc = bus->held == bus->cap ? ev_ring_evict(bus) : 0;
    while (rc == 0 && ev_ring_fit(bus, r, at) != 0) {
        if (ev_ring_grow(bus, r) == 0)
            continue;
        rc = bus->held > 0 ? ev_ring_evict(bus) : ERR_NOMEM;
    }
    return rc;
}

/* Append the record of ev, sequence newest + 1, at `at` (from
 * ev_ring_room()), with `queued` copies. */
static void ev_ring_append(struct ev_bus *bus, const struct ev_event *ev, size_t r, size_t at,
                           uint32_t queued)
{
    if (bus->held > 0 && at != bus->head) /* it goes to offset 0: the ring wraps */
        bus->wrap_end = bus->head;
    ev_rec_write(bus->buf + at, ev, queued);
    bus->newest++;
    bus->off[bus->newest % bus->cap] = (uint32_t)at;
    bus->head = at + r;
    bus->held++;
}

/* Give back one queued copy of sequence seq, decoding it into *ev (may be
 * NULL) first; *type gets its type.  A spilled record goes with its last
 * copy. */
static void ev_copy_release(struct ev_bus *bus, uint64_t seq, struct ev_event *ev,
                            enum ev_type *type)
{
    size_t i = bus->nspill;
    uint8_t *p = NULL;
    if (ev_held(bus, seq))
        p = ev_ring_at(bus, seq);
    else if ((i = ev_spill_find(bus, seq)) < bus->nspill)
        p = bus->spill[i].rec;
    if (p == NULL) /* not counted as queued: cannot happen */
        return;
    struct ev_rec h = ev_rec_head(p);
    if (ev != NULL)
        ev_rec_decode(p, seq, ev);
    if (type != NULL)
        *type = (enum ev_type)h.type;
    ev_rec_set_queued(p, h.queued - 1);
    if (i < bus->nspill && h.queued == 1) {
        free(p);
        memmove(&bus->spill[i], &bus->spill[i + 1], (bus->nspill - i - 1) * sizeof(*bus->spill));
        bus->nspill--;
    }
}

/* The dispatcher queued a copy of the event (msg is its sequence): count it
 * for the record the broadcast in progress will append.  Runs inside
 * disp_broadcast(), under bus->lock. */
static void ev_copy_hold(void *ctx, const void *msg)
{
    (void)msg;
    struct ev_bus *bus = ctx;
    bus->pending++;
}

/* The dispatcher discarded a queued copy (a subscriber closed). */
static void ev_copy_drop(void *ctx, void *msg)
{
    struct ev_bus *bus = ctx;
    uint64_t seq;
    memcpy(&seq, msg, sizeof(seq));
    pthread_mutex_lock(&bus->lock);
    ev_copy_release(bus, seq, NULL, NULL);
    pthread_mutex_unlock(&bus->lock);
}

/* ---- the bus ---- */

static void ev_ring_unmap(struct ev_bus *bus)
{
    if (bus->buf != NULL)
        munmap(bus->buf, bus->map_len);
}

struct ev_bus *ev_bus_new(const struct ev_bus_config *cfg)
{
    size_t cap = cfg != NULL && cfg->history > 0 ? cfg->history : EV_HISTORY_DEFAULT;
    size_t bytes = cfg != NULL ? cfg->history_bytes : 0;
    if (cap > EV_HISTORY_MAX)
        return NULL;
    struct ev_bus *bus = calloc(1, sizeof(*bus));
    if (bus == NULL)
        return NULL;
    bus->cap = cap;
    bus->size_max = bytes > 0 ? EV_MAX(bytes, (size_t)EV_REC_MAX) : cap * EV_REC_MAX;
    bus->map_len = (bus->size_max + EV_RING_ROUND - 1) / EV_RING_ROUND * EV_RING_ROUND;
    bus->size = ev_min(EV_RING_FIRST, bus->size_max);
    bus->off = calloc(cap, sizeof(*bus->off));
    /* The whole byte bound is mapped, and only the `size` bytes in use are
     * ever touched: growing is then a move within the mapping, and leaves no
     * freed steps behind in the heap. */
    void *m = mmap(NULL, bus->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    bus->buf = m != MAP_FAILED ? m : NULL;
    struct disp_config dc = {.seed = 0,
                             .msg_size = sizeof(uint64_t),
                             .drop = ev_copy_drop,
                             .hold = ev_copy_hold,
                             .drop_ctx = bus};
    bus->d = bus->buf != NULL ? disp_new(&dc) : NULL;
    bus->tx = bus->d != NULL ? disp_tx_new(bus->d) : NULL;
    if (bus->tx == NULL || pthread_mutex_init(&bus->lock, NULL) != 0) {
        disp_tx_close(bus->tx);
        disp_delete(bus->d);
        ev_ring_unmap(bus);
        free(bus->off);
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
    for (size_t i = 0; i < bus->nspill; i++)
        free(bus->spill[i].rec);
    free(bus->spill);
    ev_ring_unmap(bus);
    free(bus->off);
    free(bus);
}

int ev_bus_publish_event(struct ev_bus *bus, struct ev_event *ev, uint64_t *seq)
{
    if (bus == NULL || ev == NULL || (int)ev->type < EV_MEMBER_JOIN || (int)ev->type > EV_TYPE_LAST)
        return ERR_INVAL;
    size_t nl, l2, l3, at = 0;
    size_t r = ev_rec_lens(ev, &nl, &l2, &l3);
    pthread_mutex_lock(&bus->lock);
    int rc = bus->tx == NULL ? ERR_CLOSED : ev_ring_room(bus, r, &at);
    /* The bus is the dispatcher's one sender, and sends under this lock, so
     * the sequence the broadcast gets is newest + 1: the message says it. */
    uint64_t s = bus->newest + 1, got = 0;
    bus->pending = 0;
    if (rc == 0)
        rc = disp_broadcast(bus->tx, &s, &got);
    if (rc == 0)
        ev_ring_append(bus, ev, r, at, bus->pending);
    pthread_mutex_unlock(&bus->lock);
    if (rc != 0)
        return rc;
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
    if (ev_held(b, seq)) {
        ev_rec_decode(ev_ring_at(b, seq), seq, out);
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
    size_t slot = 2 * sizeof(uint64_t); /* the dispatcher's slot: its seq and the message */
    /* Once the event leaves the history, the queue alone keeps its record. */
    size_t spilled = EV_REC_MAX + EV_MALLOC_OVERHEAD + sizeof(struct ev_spill);
    return slot + spilled;
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
        const uint8_t *r = ev_ring_at(bus, s->cursor);
        if (ev != NULL)
            ev_rec_decode(r, s->cursor, ev);
        item->kind = EV_ITEM_EVENT;
        item->type = (enum ev_type)ev_rec_head(r).type;
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
        uint64_t copy = 0; /* DATA: the sequence of a queued copy, ours to give back */
        int wait = timeout_ms;
        if (timeout_ms > 0) {
            int64_t left = deadline - (int64_t)clock_mono_ms();
            wait = left > 0 ? (int)left : 0;
        }
        int rc =
            wait == 0 ? disp_try_recv(s->rx, &m, &copy) : disp_recv_timed(s->rx, &m, &copy, wait);
        if (rc == ERR_AGAIN && timeout_ms != 0)
            rc = ERR_TIMEOUT;
        if (rc != 0)
            return rc;
        switch (m.kind) {
        case DISP_MSG_DATA:
            pthread_mutex_lock(&s->bus->lock);
            ev_copy_release(s->bus, m.seq, ev, &item->type);
            pthread_mutex_unlock(&s->bus->lock);
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
