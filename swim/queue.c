/*
 * queue.c - dissemination: what this node still has to tell others.
 *
 * Every accepted change is queued as an encoded item body (a member record
 * or a user broadcast) in the bucket of its send count, newest first.  Each
 * outgoing datagram is filled with as many items as fit, least-sent first;
 * an item is dropped after retransmit_mult * ceil(log10(N + 1)) sends, and
 * a newer record about the same member replaces the queued one (each
 * member, and self, points at its queued record).  The queue is bounded:
 * beyond SWIM_QUEUE_MAX the most-sent item goes first, and user broadcasts
 * may take at most SWIM_QUEUE_USER_MAX places.
 *
 * Exactly-once delivery of user broadcasts: a broadcast id (origin, origin
 * generation, counter) is remembered in two generations of hash sets; an
 * id seen again while still in circulation is neither delivered nor queued.
 */
#include <math.h>
#include <stdlib.h>

#include "err.h"
#include "hash.h"
#include "swim_int.h"

/* Sends per item: retransmit_mult * ceil(log10(N + 1)), within 1..TX_MAX-1. */
static uint32_t retransmit_limit(const struct swim *s)
{
    double n = (double)swim__cluster_n(s) + 1.0;
    uint32_t l = s->cfg.retransmit_mult * (uint32_t)ceil(log10(n));
    return l < 1 ? 1 : l >= SWIM_TX_MAX ? SWIM_TX_MAX - 1 : l;
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
    if (b->owner != NULL)
        *b->owner = NULL;
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
 * points at the slot naming the owner's queued record, which a newer record
 * replaces.  All memory is taken before anything changes. */
static int queue_put(struct swim *s, uint8_t kind, struct swim_bcast **owner, const uint8_t *body,
                     size_t len)
{
    struct swim_bcast *b = malloc(sizeof(*b) + len);
    if (b == NULL)
        return ERR_NOMEM;
    memcpy(b->data, body, len);
    b->len = (uint16_t)len;
    b->kind = kind;
    b->tx = 0;
    b->owner = owner;
    if (owner != NULL && *owner != NULL)
        swim__queue_free(s, *owner);
    if (s->qn >= SWIM_QUEUE_MAX)
        queue_drop_most_sent(s);
    if (owner != NULL)
        *owner = b;
    bucket_push(s, b);
    s->qn++;
    if (kind == WIRE_ITEM_USER)
        s->q_user++;
    return 0;
}

void swim__queue_member_record(struct swim *s, const struct wire_member *r,
                               struct swim_bcast **owner)
{
    uint8_t *p = s->body;
    if (wire_encode_member(&p, s->body + s->cfg.max_packet, r) == 0)
        (void)queue_put(s, WIRE_ITEM_MEMBER, owner, s->body, (size_t)(p - s->body));
}

void swim__queue_member(struct swim *s, struct swim_member *m, const struct wire_name *by)
{
    struct wire_member r;
    swim__member_to_wire(m, &r);
    if (by != NULL)
        r.by = *by;
    swim__queue_member_record(s, &r, &m->queued);
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
}

/* ------------------------------------------------- exactly-once delivery */

/* Is id in one generation (an open-addressing set, 0 = empty slot)? */
static bool seen_in(const uint64_t *set, uint64_t id)
{
    size_t mask = SWIM_SEEN_SLOTS - 1;
    for (size_t i = (size_t)id & mask, n = 0; n < SWIM_SEEN_SLOTS; i = (i + 1) & mask, n++) {
        if (set[i] == id)
            return true;
        if (set[i] == 0)
            return false;
    }
    return false;
}

/* Exactly-once filter: two generations of hash sets; when the current one
 * holds SWIM_SEEN_GEN ids, the older one is cleared and becomes current. */
static bool seen_check_and_add(struct swim *s, uint64_t id)
{
    if (seen_in(s->seen[0], id) || seen_in(s->seen[1], id))
        return true;
    if (s->seen_n == SWIM_SEEN_GEN) {
        s->seen_cur ^= 1;
        memset(s->seen[s->seen_cur], 0, sizeof(s->seen[0]));
        s->seen_n = 0;
    }
    uint64_t *set = s->seen[s->seen_cur];
    size_t mask = SWIM_SEEN_SLOTS - 1, i = (size_t)id & mask;
    while (set[i] != 0) /* at most half full, so a free slot exists */
        i = (i + 1) & mask;
    set[i] = id;
    s->seen_n++;
    return false;
}

/* A broadcast's id, never 0: origin name, origin generation and counter. */
static uint64_t user_id(const struct wire_user *u)
{
    uint64_t h = hash_fnv1a(u->origin.ptr, u->origin.len);
    h ^= u->origin_gen * 0x9e3779b97f4a7c15ull;
    h ^= (uint64_t)u->id * 0xc2b2ae3d27d4eb4full;
    return h ? h : 1; /* 0 marks an empty ring slot */
}

void swim__deliver_user(struct swim *s, const struct wire_user *u, const uint8_t *body, size_t len)
{
    uint64_t id = user_id(u);
    if (seen_check_and_add(s, id))
        return;
    char origin[SWIM_NAME_MAX + 1];
    memcpy(origin, u->origin.ptr, u->origin.len);
    origin[u->origin.len] = '\0';
    if (s->q_user < SWIM_QUEUE_USER_MAX)
        (void)queue_put(s, WIRE_ITEM_USER, NULL, body, len);
    struct swim_notification n;
    memset(&n, 0, sizeof(n));
    n.type = SWIM_EV_USER;
    n.user.origin = origin;
    n.user.origin_generation = u->origin_gen;
    n.user.id = u->id;
    n.user.payload = u->payload;
    n.user.len = u->len;
    s->rt.notify(s->rt.ctx, &n);
}
