/*
 * direct.c - direct messages: one member to another, outside gossip.
 *
 * A direct message (swim_send_direct) is one DIRECT datagram carrying one
 * DIRECT item (the sender's name and generation, a message id, the payload)
 * sent to the addressee's address, with the addressee named in the header's
 * destination so a datagram reaching whoever took over the address is
 * ignored.  With a relay factor k, k more copies go to random live members
 * with the RELAY flag: a relay looks the destination up in its own table
 * and, when it knows it alive (or suspect) and the request comes from a
 * member it knows at that address, forwards the request's first DIRECT
 * item, if it is the requester's own message (its origin is the header's
 * source), once, without RELAY, to the address it knows.  A forwarded copy
 * is never forwarded again, so nothing loops; a relay never sends anywhere
 * but to a member it knows, and one request draws one forward however
 * many items it holds.
 *
 * Who is heard: a DIRECT is delivered only from a member known at the
 * address it comes from (a stranger, or a member's name from elsewhere,
 * cannot plant a message), and only when its item's origin is the
 * datagram's source or, for a relay's forward, a member we know (the relay
 * checked that the origin asked it).
 *
 * One datagram, one message: the addressee reads a DIRECT's first DIRECT item
 * only, as a relay does.
 *
 * Exactly once: the receiver remembers the last SWIM_DIRECT_SEEN (sender,
 * id) pairs and notifies SWIM_EV_DIRECT for the first copy only; ids start
 * at a random value per instance, so a restarted sender (a new generation
 * anyway) is not mistaken for its former self.
 *
 * Bounds: sends and forwards share one token bucket (SWIM_DIRECT_BURST,
 * refilled every SWIM_DIRECT_REFILL_MS), refusals counted in
 * directs_refused; a payload is at most swim_direct_room() bytes, so one
 * message is one datagram of at most max_packet; a request draws at most
 * one forward, of its one item, and only members known at their address
 * may ask for one.
 */
#include "err.h"
#include "hash.h"
#include "swim_int.h"

/* The largest DIRECT header: both names at their longest, the largest
 * address, generations, incarnation, sequence. */
#define DIRECT_HEADER_MAX                                                                          \
    (4 + 1 + WIRE_NAME_MAX + 1 + WIRE_ADDR_MAX + 8 + 4 + 1 + WIRE_NAME_MAX + 8 + 4)
/* An item's framing and fields around its payload. */
#define DIRECT_ITEM_FIELDS (WIRE_ITEM_OVERHEAD + 1 + WIRE_NAME_MAX + 8 + 4 + 2)

size_t swim_direct_room(const struct swim *s)
{
    size_t room = s->cfg.max_packet - DIRECT_HEADER_MAX - DIRECT_ITEM_FIELDS;
    return room < SWIM_DIRECT_MAX ? room : SWIM_DIRECT_MAX;
}

/* One DIRECT datagram to `to` naming dst, carrying the encoded item body
 * [body, body + len).  0 or ERR_TOOBIG. */
static int direct_send(struct swim *s, const struct swim_addr *to, uint8_t flags,
                       const struct swim_member *dst, const uint8_t *body, size_t len)
{
    struct swim_pkt k;
    swim__pkt_begin(s, &k, WIRE_DIRECT, flags, swim__id(s, dst)->name, swim__id(s, dst)->name_len,
                    swim__id(s, dst)->gen, 0);
    if (wire_encode_item(&k.p, k.end, WIRE_ITEM_DIRECT, body, len) != 0)
        return ERR_TOOBIG;
    swim__pkt_send(s, to, &k);
    return 0;
}

int swim_send_direct(struct swim *s, const char *to_name, const uint8_t *payload, size_t len,
                     uint32_t relay_factor, uint64_t now)
{
    if (s->state != SWIM_STATE_RUNNING && s->state != SWIM_STATE_LEAVING)
        return ERR_STATE;
    if (to_name == NULL || (len > 0 && payload == NULL) || relay_factor > SWIM_DIRECT_RELAY_MAX)
        return ERR_INVAL;
    if (len > swim_direct_room(s))
        return ERR_TOOBIG;
    size_t nlen = strnlen(to_name, SWIM_NAME_MAX + 1);
    struct swim_member *m = nlen <= SWIM_NAME_MAX ? swim__member_find(s, to_name, nlen) : NULL;
    if (m == NULL || !swim__is_live(m->status))
        return ERR_NOTFOUND;
    if (!swim__bucket_take_or(&s->directs, SWIM_DIRECT_BURST, SWIM_DIRECT_REFILL_MS, now,
                              &s->stats.directs_refused))
        return ERR_FULL;

    struct wire_user u = {
        .origin = {swim__id(s, s->self)->name, swim__id(s, s->self)->name_len},
        .origin_gen = swim__id(s, s->self)->gen,
        .id = ++s->direct_id,
        .len = (uint16_t)len,
        .payload = payload,
    };
    uint8_t *p = s->body;
    if (wire_encode_direct(&p, s->body + s->cfg.max_packet, &u) != 0)
        return ERR_TOOBIG;
    size_t blen = (size_t)(p - s->body);
    /* s->body is scratch that pkt_begin leaves alone; copies reuse it. */
    int rc = direct_send(s, &swim__id(s, m)->addr, 0, m, s->body, blen);
    if (rc != 0 || relay_factor == 0)
        return rc;
    struct swim_member *helpers[SWIM_DIRECT_RELAY_MAX];
    size_t n = swim__pick_members(s, helpers, relay_factor, m, false);
    for (size_t i = 0; i < n; i++)
        (void)direct_send(s, &swim__id(s, helpers[i])->addr, WIRE_F_RELAY, m, s->body, blen);
    return 0;
}

/* True the first time (origin, id) is seen; remembers it. */
static bool direct_first(struct swim *s, const struct wire_user *u)
{
    uint64_t key =
        hash_fnv1a(u->origin.ptr, u->origin.len) ^ (u->origin_gen * 0x9E3779B97F4A7C15ull);
    key |= 1; /* 0 marks a free slot */
    for (size_t i = 0; i < SWIM_DIRECT_SEEN; i++)
        if (s->direct_seen[i].origin == key && s->direct_seen[i].id == u->id)
            return false;
    s->direct_seen[s->direct_seen_next].origin = key;
    s->direct_seen[s->direct_seen_next].id = u->id;
    s->direct_seen_next = (s->direct_seen_next + 1) % SWIM_DIRECT_SEEN;
    return true;
}

/* The first DIRECT item of [p, end) that decodes, into *it and *u. */
static bool direct_first_item(const uint8_t *p, const uint8_t *end, struct wire_item *it,
                              struct wire_user *u)
{
    while (p < end && wire_decode_item(it, &p, end) == 0) {
        const uint8_t *ip = it->data;
        if (it->kind == WIRE_ITEM_DIRECT && wire_decode_direct(u, &ip, it->data + it->len) == 0)
            return true;
    }
    return false;
}

/* Was u sent by the datagram's source itself (header h)? */
static bool direct_from_source(const struct wire_header *h, const struct wire_user *u)
{
    return u->origin.len == h->src.len && memcmp(u->origin.ptr, h->src.ptr, h->src.len) == 0 &&
           u->origin_gen == h->src_gen;
}

/* As a relay: forward the request's first DIRECT item once, without RELAY,
 * to the member the header names, if we know it live and the item is the
 * requester's own message. */
static void direct_forward(struct swim *s, const struct wire_header *h,
                           const struct swim_member *sender, const uint8_t *p, const uint8_t *end,
                           uint64_t now)
{
    if (sender == NULL || !(h->flags & WIRE_F_HAS_DST) || s->budgeted)
        return; /* only members known at their address may ask */
    struct swim_member *dst = swim__member_find(s, h->dst.ptr, h->dst.len);
    if (dst == NULL || !swim__is_live(dst->status))
        return;
    struct wire_item it;
    struct wire_user u;
    if (!direct_first_item(p, end, &it, &u) || !direct_from_source(h, &u))
        return; /* nothing to forward, or someone else's message */
    if (!swim__bucket_take_or(&s->directs, SWIM_DIRECT_BURST, SWIM_DIRECT_REFILL_MS, now,
                              &s->stats.directs_refused))
        return;
    (void)direct_send(s, &swim__id(s, dst)->addr, 0, dst, it.data, it.len);
}

/* Is u, in a DIRECT (header h) for us, to be heard?  Only from a member
 * known at the address it comes from, and sent by it or forwarded by it
 * for a member we know. */
static bool direct_heard(struct swim *s, const struct wire_header *h, const struct wire_user *u)
{
    if (s->budgeted)
        return false; /* a stranger, or a member's name from another address */
    return direct_from_source(h, u) || swim__member_find(s, u->origin.ptr, u->origin.len) != NULL;
}

void swim__on_direct(struct swim *s, const struct wire_header *h, const struct swim_member *sender,
                     const uint8_t *p, const uint8_t *end, uint64_t now)
{
    if ((h->flags & WIRE_F_RELAY) &&
        !swim__name_is(&h->dst, swim__id(s, s->self)->name, swim__id(s, s->self)->name_len)) {
        direct_forward(s, h, sender, p, end, now);
        return;
    }
    /* One datagram, one message: a sender puts one item in a DIRECT. */
    struct wire_item it;
    struct wire_user u;
    if (direct_first_item(p, end, &it, &u) &&
        !swim__name_is(&u.origin, swim__id(s, s->self)->name, swim__id(s, s->self)->name_len) &&
        direct_heard(s, h, &u) && direct_first(s, &u))
        swim__notify_user(s, SWIM_EV_DIRECT, &u);
}
