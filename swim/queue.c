/*
 * queue.c - dissemination: what this node still has to tell others.
 *
 * Every accepted change is queued as an encoded item body (a member record
 * or a user broadcast) in the bucket of its send count, newest first.  Each
 * outgoing datagram is filled with as many items as fit, least-sent first;
 * an item is dropped after retransmit_mult * ceil(log10(N + 1)) sends (at
 * least SWIM_RETRANSMIT_MIN), and
 * a newer record about the same member replaces the queued one (each
 * member, and self, points at its queued record).  The queue is bounded:
 * beyond SWIM_QUEUE_MAX the most-sent item goes first, and user broadcasts
 * may take at most SWIM_QUEUE_USER_MAX places.
 *
 * Exactly-once delivery of user broadcasts.  A broadcast's id is (origin,
 * origin generation, counter); the origin numbers its broadcasts 1, 2, 3,
 * ... and every node keeps, per origin, the highest counter seen and a
 * window of SWIM_USER_WINDOW bits below it (an IPsec-style replay window):
 * an id in the window is delivered and queued on once, an id below it
 * counts as seen.  Why the window is large enough: the origin accepts a
 * broadcast only while fewer than SWIM_QUEUE_USER_MAX of its items are
 * queued, and every node queues an item once, on first delivery, and sends
 * the least-sent items first; so an item still travelling can trail the
 * newest id of its origin only by the items queued ahead of it on its way,
 * a few queues' worth.  The window is eight queues deep, and a 5,000-event
 * burst taken as fast as the queue accepts it is delivered exactly once on
 * every node (proto_test).  Memory: 1 KiB per origin, SWIM_ORIGINS_MAX
 * origins (the least recently heard one is forgotten first).
 */
#include <math.h>
#include <stdlib.h>

#include "err.h"
#include "hash.h"
#include "swim_int.h"

/* Sends per item: retransmit_mult * ceil(log10(N + 1)), at least
 * SWIM_RETRANSMIT_MIN, below TX_MAX.  Below N = 10 the formula is the mult
 * itself, and with two sends per node (the local profile's mult,
 * memberlist's) one broadcast in sixteen missed some member of a 5-node
 * cluster with no loss at all.  Measured over 100 seeds of 20 broadcasts
 * at N = 5 (sends at least 4 / 6 / 8): lan 2 / 0 / 0 misses in 10,000
 * deliveries, local 14 / 1 / 0, lan with 5% loss 18 / 2 / 0.  The floor
 * costs bytes only while something is queued, and only below the N where
 * the formula passes it (10 for lan and wan, 100 for local). */
static uint32_t retransmit_limit(const struct swim *s)
{
    double n = (double)swim__cluster_n(s) + 1.0;
    uint32_t l = s->cfg.retransmit_mult * (uint32_t)ceil(log10(n));
    return l < SWIM_RETRANSMIT_MIN ? SWIM_RETRANSMIT_MIN : l >= SWIM_TX_MAX ? SWIM_TX_MAX - 1 : l;
}

static void bucket_push(struct swim *s, struct swim_bcast *b)
{
    struct swim_bcast **head = &s->bucket[b->tx];
    b->prev = NULL;
    b->next = *head;
    if (*head != NULL)
        (*head)->prev = b;
    else
        s->bucket_tail[b->tx] = b;
    *head = b;
}

static void bucket_unlink(struct swim *s, struct swim_bcast *b)
{
    if (b->prev != NULL)
        b->prev->next = b->next;
    else
        s->bucket[b->tx] = b->next;
    if (b->next != NULL)
        b->next->prev = b->prev;
    else
        s->bucket_tail[b->tx] = b->prev;
}

/* Forget an item already unlinked from its bucket. */
static void queue_release(struct swim *s, struct swim_bcast *b)
{
    if (b->owner != NULL) {
        *b->owner = 0;
        swim__handle_drop(&s->bcasts, b->handle);
    }
    if (b->kind == WIRE_ITEM_USER)
        s->q_user--;
    free(b);
    s->qn--;
}

void swim__queue_free(struct swim *s, struct swim_bcast *b)
{
    bucket_unlink(s, b);
    queue_release(s, b);
}

/* Drop every item sent `first` times or more. */
static void queue_drop_from(struct swim *s, uint32_t first)
{
    for (uint32_t t = first; t < SWIM_TX_MAX; t++)
        while (s->bucket[t] != NULL)
            swim__queue_free(s, s->bucket[t]);
}

/* Drop the most-sent item (the oldest of the fullest bucket). */
static void queue_drop_most_sent(struct swim *s)
{
    for (size_t t = SWIM_TX_MAX; t-- > 0;) {
        if (s->bucket_tail[t] != NULL) {
            swim__queue_free(s, s->bucket_tail[t]);
            return;
        }
    }
}

/* Queue an encoded item body as never sent.  owner (NULL for user items)
 * points at the handle naming the owner's queued record (s->bcasts), which
 * a newer record replaces.  All memory is taken before anything changes. */
static int queue_put(struct swim *s, uint8_t kind, uint32_t *owner, const uint8_t *body, size_t len)
{
    struct swim_bcast *b = malloc(sizeof(*b) + len);
    if (b == NULL)
        return ERR_NOMEM;
    b->handle = 0;
    if (owner != NULL && (b->handle = swim__handle_put(&s->bcasts, b)) == 0) {
        free(b);
        return ERR_NOMEM;
    }
    memcpy(b->data, body, len);
    b->len = (uint16_t)len;
    b->kind = kind;
    b->tx = 0;
    b->owner = owner;
    if (owner != NULL && *owner != 0)
        swim__queue_free(s, swim__handle_obj(&s->bcasts, *owner));
    if (s->qn >= SWIM_QUEUE_MAX)
        queue_drop_most_sent(s);
    if (owner != NULL)
        *owner = b->handle;
    bucket_push(s, b);
    s->qn++;
    if (kind == WIRE_ITEM_USER)
        s->q_user++;
    swim__gossip_wake(s);
    return 0;
}

void swim__queue_member_record(struct swim *s, const struct wire_member *r, uint32_t *owner)
{
    uint8_t *p = s->body;
    if (wire_encode_member(&p, s->body + s->cfg.max_packet, r) == 0)
        (void)queue_put(s, WIRE_ITEM_MEMBER, owner, s->body, (size_t)(p - s->body));
}

void swim__queue_member(struct swim *s, struct swim_member *m, const struct wire_name *by)
{
    struct wire_member r;
    swim__member_to_wire(s, m, &r);
    if (by != NULL)
        r.by = *by;
    swim__queue_member_record(s, &r, &m->queued);
}

void swim__queue_demote(struct swim *s, struct swim_bcast *b, uint32_t sends)
{
    uint32_t limit = retransmit_limit(s);
    if (sends >= limit)
        return;
    bucket_unlink(s, b);
    b->tx = limit - sends;
    bucket_push(s, b);
}

/* Fill the rest of the datagram with queued items, least-sent first (and
 * newest first among equals); an item that does not fit waits. */
void swim__pkt_piggyback(struct swim *s, struct swim_pkt *k)
{
    uint32_t limit = retransmit_limit(s);
    struct swim_bcast *sent = NULL;
    unsigned misses = 0;

    queue_drop_from(s, limit); /* the limit shrank with N */
    for (uint32_t t = 0; t < limit && misses < SWIM_PIGGYBACK_MISSES; t++) {
        struct swim_bcast *b = s->bucket[t];
        while (b != NULL && misses < SWIM_PIGGYBACK_MISSES) {
            struct swim_bcast *next = b->next;
            if (next != NULL)
                __builtin_prefetch(next); /* read while this one is copied */
            if (wire_encode_item(&k->p, k->end, b->kind, b->data, b->len) != 0) {
                misses++;
            } else {
                bucket_unlink(s, b);
                b->next = sent;
                sent = b;
            }
            b = next;
        }
    }
    while (sent != NULL) {
        struct swim_bcast *b = sent;
        sent = b->next;
        if (++b->tx >= limit) {
            queue_release(s, b);
        } else {
            bucket_push(s, b);
        }
    }
}

void swim__queue_destroy(struct swim *s)
{
    queue_drop_from(s, 0);
    for (size_t i = 0; i < s->n_origins; i++)
        free(s->origins[i]);
    free(s->origins);
    s->origins = NULL;
    s->n_origins = 0;
    swim__handles_destroy(&s->bcasts);
}

/* ------------------------------------------------- exactly-once delivery */

/* One origin's window: ids in (top - SWIM_USER_WINDOW, top] each have a bit
 * (at id mod the window), set once delivered; ids at or below the window's
 * floor count as delivered.  Ids compare as serial numbers (RFC 1982), so a
 * counter that wraps after 2^32 broadcasts still moves forward. */
struct swim_origin {
    uint64_t hash; /* of the name, to skip most comparisons */
    uint64_t gen;
    uint64_t used; /* s->origin_clock at its last delivery */
    uint32_t top;
    uint8_t name_len;
    char name[SWIM_NAME_MAX];
    uint64_t bits[SWIM_USER_WINDOW / 64];
};

_Static_assert((SWIM_USER_WINDOW & (SWIM_USER_WINDOW - 1)) == 0, "window is a power of two");
_Static_assert(SWIM_USER_WINDOW < (1u << 31), "window within serial-number range");

static bool origin_bit(const struct swim_origin *o, uint32_t id)
{
    uint32_t i = id & (SWIM_USER_WINDOW - 1);
    return (o->bits[i / 64] >> (i % 64)) & 1;
}

static void origin_set(struct swim_origin *o, uint32_t id)
{
    uint32_t i = id & (SWIM_USER_WINDOW - 1);
    o->bits[i / 64] |= 1ull << (i % 64);
}

/* Move the window up to new_top: the slots of the ids it passes are
 * cleared for their new owners. */
static void origin_advance(struct swim_origin *o, uint32_t new_top)
{
    uint32_t d = new_top - o->top;
    if (d >= SWIM_USER_WINDOW) {
        memset(o->bits, 0, sizeof(o->bits));
    } else {
        for (uint32_t id = o->top + 1; id != new_top + 1; id++) {
            uint32_t i = id & (SWIM_USER_WINDOW - 1);
            o->bits[i / 64] &= ~(1ull << (i % 64));
        }
    }
    o->top = new_top;
}

/* The window of u's origin, made (evicting the least recently used one
 * when SWIM_ORIGINS_MAX are held) when new; NULL when out of memory. */
static struct swim_origin *origin_get(struct swim *s, const struct wire_user *u)
{
    uint64_t h = hash_fnv1a(u->origin.ptr, u->origin.len);
    size_t lru = 0;
    for (size_t i = 0; i < s->n_origins; i++) {
        struct swim_origin *o = s->origins[i];
        if (o->hash == h && o->gen == u->origin_gen && o->name_len == u->origin.len &&
            memcmp(o->name, u->origin.ptr, u->origin.len) == 0)
            return o;
        if (o->used < s->origins[lru]->used)
            lru = i;
    }
    struct swim_origin *o = NULL;
    if (s->n_origins < SWIM_ORIGINS_MAX) {
        struct swim_origin **a = realloc(s->origins, (s->n_origins + 1) * sizeof(*a));
        if (a != NULL) {
            s->origins = a;
            if ((o = malloc(sizeof(*o))) != NULL)
                s->origins[s->n_origins++] = o;
        }
    }
    if (o == NULL) { /* full, or out of memory: reuse the stalest */
        if (s->n_origins == 0)
            return NULL;
        o = s->origins[lru];
    }
    memset(o, 0, sizeof(*o));
    o->hash = h;
    o->gen = u->origin_gen;
    o->name_len = u->origin.len;
    memcpy(o->name, u->origin.ptr, u->origin.len);
    o->top = u->id; /* the window starts at the first id seen */
    return o;
}

/* True when u was delivered before (or lies below its window); otherwise
 * records it and returns false.  Out of memory: false, unrecorded. */
static bool seen_check_and_add(struct swim *s, const struct wire_user *u)
{
    struct swim_origin *o = origin_get(s, u);
    if (o == NULL)
        return false;
    o->used = ++s->origin_clock;
    uint32_t behind = o->top - u->id; /* serial arithmetic: above top when >= 2^31 */
    if (behind >= (1u << 31))
        origin_advance(o, u->id);
    else if (behind >= SWIM_USER_WINDOW || origin_bit(o, u->id))
        return true;
    origin_set(o, u->id);
    return false;
}

void swim__deliver_user(struct swim *s, const struct wire_user *u, const uint8_t *body, size_t len)
{
    if (seen_check_and_add(s, u))
        return;
    if (s->q_user < SWIM_QUEUE_USER_MAX)
        (void)queue_put(s, WIRE_ITEM_USER, NULL, body, len);
    swim__notify_user(s, SWIM_EV_USER, u);
}

void swim__notify_user(struct swim *s, enum swim_event type, const struct wire_user *u)
{
    char origin[SWIM_NAME_MAX + 1];
    memcpy(origin, u->origin.ptr, u->origin.len);
    origin[u->origin.len] = '\0';
    struct swim_notification n;
    memset(&n, 0, sizeof(n));
    n.type = type;
    n.user.origin = origin;
    n.user.origin_generation = u->origin_gen;
    n.user.id = u->id;
    n.user.payload = u->payload;
    n.user.len = u->len;
    s->rt.notify(s->rt.ctx, &n);
}
