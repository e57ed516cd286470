/*
 * packet.c - one incoming datagram: validation, then its handler.
 *
 * A datagram is decoded and checked whole (header, body, the framing of
 * every item) before any of it is applied: a malformed one is dropped and
 * counted.  Then, in this order: a datagram from ourselves, or addressed to
 * whoever had this address before, is ignored; the sender's standing is
 * reconciled (one we hold as failed is told so and renews, or, speaking at
 * a newer generation, is pinged before it is taken back (guard); one we
 * suspect at an older incarnation is asked for its refutation; one we do
 * not know is asked for its record); its records are applied (update.c);
 * and the
 * handler of its type, on_<type>, answers it.  While leaving, only ACKs are
 * still handled, so probes in flight end cleanly.
 *
 * Join.  ANNOUNCE carries the joiner's record to a seed.  A first one is
 * answered with a cookie only (a FEED whose one item is a COOKIE: a keyed
 * hash of the joiner's address and the time), and changes nothing; the
 * joiner sends its ANNOUNCE again with the cookie, which proves it receives
 * at that address, and the seed answers with a FEED of its live members in
 * as many datagrams as needed (or, when its token buckets are empty, with
 * its own record only).  The cookie costs an honest join one round trip.
 *
 * Anti-amplification (SWIM_AMPLIFY_MAX): while a datagram from a source
 * not proven at its address is handled, everything it makes us send counts
 * against three times its size (send.c enforces it).  A PING from a sender
 * we do not know asks for its record through the ACK's WANT_REPLY flag
 * rather than in a datagram of its own, so the ACK always fits.
 */
#include "err.h"
#include "hash.h"
#include "swim_int.h"

/* The datagram being handled, as every on_<type> handler sees it. */
struct swim_in {
    const struct swim_addr *from;
    const struct wire_header *h;
    const struct wire_peer *peer;   /* decoded body: PING_REQ, or PING/ACK with RELAY */
    struct swim_member *sender;     /* found before the records were applied; may be NULL */
    const uint8_t *items, *end;     /* the item run, already applied */
    const struct swim_coord *coord; /* the sender's coordinate (PING, ACK), or NULL */
    uint64_t now;
};

typedef void (*swim_on_f)(struct swim *s, const struct swim_in *in);

/* ------------------------------------------------------------- cookies */

/* The cookie of address a in time slot `slot`: a keyed mix of its bytes
 * (anti-spoofing, not authentication: see SWIM_AMPLIFY_MAX). */
static uint64_t cookie_of(const struct swim *s, const struct swim_addr *a, uint64_t slot)
{
    uint64_t h = s->cookie_key[0] ^ (slot * 0x9E3779B97F4A7C15ull) ^ a->len;
    for (size_t i = 0; i < a->len && i < SWIM_ADDR_MAX; i++) {
        h = (h ^ a->bytes[i]) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
    }
    h ^= s->cookie_key[1];
    return prng_splitmix64(&h);
}

/* The first item of `kind` in an (already validated) item run. */
static bool find_item(const uint8_t *p, const uint8_t *end, uint8_t kind, struct wire_item *out)
{
    while (p < end && wire_decode_item(out, &p, end) == 0)
        if (out->kind == kind)
            return true;
    return false;
}

/* The first COOKIE item of an item run. */
static bool find_cookie(const uint8_t *p, const uint8_t *end, uint64_t *out)
{
    struct wire_item it;
    if (!find_item(p, end, WIRE_ITEM_COOKIE, &it))
        return false;
    const uint8_t *ip = it.data;
    return wire_decode_cookie(out, &ip, it.data + it.len) == 0;
}

/* The sender's coordinate, from the first COORD item of an item run: false
 * when there is none, or it does not decode or is out of bounds (counted
 * as malformed; the rest of the datagram stands). */
static bool find_coord(struct swim *s, const uint8_t *p, const uint8_t *end, struct swim_coord *out)
{
    struct wire_item it;
    struct wire_coord c;
    if (!find_item(p, end, WIRE_ITEM_COORD, &it))
        return false;
    const uint8_t *ip = it.data;
    if (wire_decode_coord(&c, &ip, it.data + it.len) != 0 || swim__coord_from_wire(out, &c) != 0) {
        s->stats.malformed++;
        return false;
    }
    return true;
}

/* A join request proves its source when it echoes the cookie of this
 * period or the one before. */
static bool cookie_valid(const struct swim *s, const struct swim_addr *from, const uint8_t *p,
                         const uint8_t *end, uint64_t now)
{
    uint64_t c, slot = now / SWIM_COOKIE_PERIOD_MS;
    return find_cookie(p, end, &c) &&
           (c == cookie_of(s, from, slot) || (slot > 0 && c == cookie_of(s, from, slot - 1)));
}

/* ------------------------------------------------------------- handlers */

/* A probe of us: answer with an ACK to the prober (or the helper). */
static void on_ping(struct swim *s, const struct swim_in *in)
{
    const struct wire_header *h = in->h;
    struct swim_pkt k;
    uint8_t flags = in->sender == NULL ? WIRE_F_WANT_REPLY : 0; /* who are you? */
    swim__pkt_begin(s, &k, WIRE_ACK, flags, h->src.ptr, h->src.len, h->src_gen, h->seq);
    swim__pkt_put_coord(s, &k);
    swim__pkt_piggyback(s, &k);
    swim__pkt_send(s, in->from, &k);
}

/* An answer to our probe (direct or relayed), or, as a helper, the
 * target's answer to a ping we relayed: forward it to the prober. */
static void on_ack(struct swim *s, const struct swim_in *in)
{
    const struct wire_header *h = in->h;
    const struct wire_peer *relayed = (h->flags & WIRE_F_RELAY) ? in->peer : NULL;
    if (relayed == NULL && (h->flags & WIRE_F_WANT_REPLY))
        swim__answer_self(s, in->from); /* it did not know us */
    if (swim__probe_answered(s, h, relayed, in->from, in->coord, in->now))
        return;
    if (relayed == NULL)
        swim__relay_answered(s, h);
}

/* A prober asks us to ping its target. */
static void on_ping_req(struct swim *s, const struct swim_in *in)
{
    swim__relay_start(s, in->from, in->h->seq, in->peer);
}

/* A helper could not reach our target either: the problem is not ours. */
static void on_nack(struct swim *s, const struct swim_in *in)
{
    swim__probe_nacked(s, in->h->seq, in->now);
}

/* A join request with a valid cookie (swim_handle_packet answered the
 * others): answer with our live members, from the join bucket when the
 * joiner (or its generation) is new, from the tight one otherwise. */
static void on_announce(struct swim *s, const struct swim_in *in)
{
    const struct wire_header *h = in->h;
    struct swim_member *joiner = swim__member_find(s, h->src.ptr, h->src.len);
    bool fresh = in->sender == NULL || swim__id(s, in->sender)->gen != h->src_gen;
    if (fresh ? swim__bucket_take(s, &s->joins, SWIM_JOIN_BURST, SWIM_JOIN_REFILL_MS, in->now)
              : swim__table_allowed(s, in->now))
        swim__send_table(s, in->from, WIRE_FEED, 0, true, joiner);
    else
        swim__answer_self(s, in->from); /* one datagram: the joiner knows someone */
}

/* A seed's answer: its members (already applied), or a cookie to echo in
 * a join request sent again. */
static void on_feed(struct swim *s, const struct swim_in *in)
{
    uint64_t cookie;
    size_t pending = SWIM_ANNOUNCED_MAX;
    if (!find_cookie(in->items, in->end, &cookie))
        return;
    for (size_t i = 0; i < SWIM_ANNOUNCED_MAX; i++) {
        if (in->now >= s->announced[i].until)
            continue;
        pending = i;
        if (swim__addr_equal(&s->announced[i].addr, in->from)) {
            s->budgeted = false; /* we asked this seed */
            break;
        }
    }
    /* A seed answering from another address (a multi-homed host) is echoed
     * too, within the amplification limit; one echo per announce. */
    if (pending < SWIM_ANNOUNCED_MAX) {
        s->announced[pending].until = 0;
        swim__send_announce(s, in->from, &cookie);
    }
}

/* Records only; WANT_REPLY asks for our own record back. */
static void on_gossip(struct swim *s, const struct swim_in *in)
{
    if (in->h->flags & WIRE_F_WANT_REPLY)
        swim__answer_self(s, in->from);
}

/* Anti-entropy: a digest to compare, or a whole table (sync.c). */
static void on_sync(struct swim *s, const struct swim_in *in)
{
    swim__on_sync(s, in->from, in->h, in->sender, in->items, in->end, in->now);
}

/* Direct messages: deliver, or as a relay forward (direct.c). */
static void on_direct(struct swim *s, const struct swim_in *in)
{
    swim__on_direct(s, in->h, in->sender, in->items, in->end, in->now);
}

/* The handler of each datagram type, run after its records were applied. */
static const swim_on_f on_type[WIRE_TYPE_LAST + 1] = {
    [WIRE_PING] = on_ping,     [WIRE_ACK] = on_ack,           [WIRE_PING_REQ] = on_ping_req,
    [WIRE_NACK] = on_nack,     [WIRE_ANNOUNCE] = on_announce, [WIRE_FEED] = on_feed,
    [WIRE_GOSSIP] = on_gossip, [WIRE_SYNC] = on_sync,         [WIRE_DIRECT] = on_direct,
};

/* ------------------------------------------------------- before handling */

/* A member we do not know spoke to us: send it our record and ask for its
 * own (a GOSSIP with WANT_REPLY), at most once per SWIM_ASK_GAP_MS each. */
static void ask_record(struct swim *s, const struct wire_name *name, const struct swim_addr *from,
                       uint64_t now)
{
    uint64_t h = hash_fnv1a(name->ptr, name->len);
    for (size_t i = 0; i < SWIM_ASKED_MAX; i++)
        if (s->asked[i].hash == h && now < s->asked[i].until)
            return;
    s->asked[s->asked_next].hash = h;
    s->asked[s->asked_next].until = now + SWIM_ASK_GAP_MS;
    s->asked_next = (s->asked_next + 1) % SWIM_ASKED_MAX;

    struct wire_member r;
    swim__member_to_wire(s, s->self, &r);
    (void)swim__send_record(s, from, WIRE_GOSSIP, WIRE_F_WANT_REPLY, &r, false);
}

/* Before its records are applied: a sender we hold as failed at the
 * generation it speaks with is alive after all, and is told so it renews;
 * one we suspect at an older incarnation than it speaks with has lost its
 * refutation, and is asked for it; one we do not know is asked for its
 * record, unless the datagram is one that brings records anyway. */
static void reconcile_sender(struct swim *s, const struct swim_in *in)
{
    const struct wire_header *h = in->h;
    struct swim_member *sender = in->sender;
    uint64_t now = in->now;
    if (s->cfg.guard && sender != NULL && sender->status == SWIM_FAILED &&
        h->src_gen > swim__id(s, sender)->gen &&
        swim__gen_plausible(h->src_gen, swim__id(s, sender)->gen)) {
        /* A failed member speaks at a newer generation: see whether it
         * answers before taking it back. */
        swim__readmit(s, sender, h->src_gen, in->from, now);
    } else if (sender != NULL && sender->status == SWIM_FAILED &&
               swim__id(s, sender)->gen == h->src_gen &&
               swim__notice_take(s, sender, SWIM_NOTICE_GAP_MS, now)) {
        /* It is alive after all: tell it, so it renews and comes back. */
        struct wire_member r;
        swim__member_to_wire(s, sender, &r);
        swim__send_notice(s, in->from, &r);
    } else if (sender != NULL && sender->status == SWIM_SUSPECT &&
               swim__id(s, sender)->gen == h->src_gen && h->src_inc > sender->inc &&
               swim__notice_take(s, sender, SWIM_NOTICE_GAP_MS, now)) {
        /* It speaks with a newer incarnation than the one we suspect: its
         * refutation did not reach us.  Ask for it; it answers directly. */
        swim__tell_suspect(s, sender, NULL, in->from);
    }

    if (sender == NULL && h->type != WIRE_ANNOUNCE && h->type != WIRE_FEED &&
        h->type != WIRE_SYNC && h->type != WIRE_PING &&
        !(h->type == WIRE_GOSSIP && (h->flags & WIRE_F_WANT_REPLY)))
        ask_record(s, &h->src, in->from, now); /* a PING asks in its ACK */
}

/* Check item framing of the whole datagram before applying any of it. */
static int items_valid(const uint8_t *p, const uint8_t *end)
{
    struct wire_item it;
    while (p < end) {
        int rc = wire_decode_item(&it, &p, end);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* A join request without a valid cookie: answer with one, under the
 * amplification limit like any answer to an unproven source. */
static void answer_cookie(struct swim *s, const struct swim_addr *from, size_t len, uint64_t now)
{
    s->budgeted = true;
    s->budget = SWIM_AMPLIFY_MAX * len;
    swim__send_cookie(s, from, cookie_of(s, from, now / SWIM_COOKIE_PERIOD_MS));
    s->budgeted = false;
}

/* A valid datagram, not ours: the sender's standing, its records, then the
 * handler of its type. */
static void handle(struct swim *s, struct swim_in *in)
{
    const struct wire_header *h = in->h;
    reconcile_sender(s, in);
    enum swim_apply_mode mode =
        (h->type == WIRE_SYNC || h->type == WIRE_FEED) ? SWIM_APPLY_MERGE : SWIM_APPLY_GOSSIP;
    size_t added = swim__apply_items(s, in->items, in->end, mode, in->from, in->now);
    /* The items may have evicted the sender (the oldest tombstone, at
     * max_members) and its entry been reused: look it up again.  (A sender
     * the items made known stays NULL, as the handlers expect.) */
    if (in->sender != NULL)
        in->sender = swim__member_find(s, h->src.ptr, h->src.len);
    /* Members are joining: others may lack them too, and we may lack more.
     * A table says so with one; gossip with two in one datagram, or one
     * while we are learning already: a single join into a settled cluster
     * is one new member per datagram, which gossip alone carries. */
    if (added > 0 &&
        (mode == SWIM_APPLY_MERGE || added >= SWIM_LEARN_GOSSIP_MIN || swim__sync_learning(s)))
        swim__sync_soon(s);
    if (in->coord != NULL) {
        /* The sender's own coordinate, taken when it speaks with the
         * generation we hold and from the address we know it at (a forger
         * elsewhere cannot plant one). */
        struct swim_member *m = swim__member_find(s, h->src.ptr, h->src.len);
        if (m != NULL && swim__id(s, m)->gen == h->src_gen &&
            swim__addr_equal(&swim__id(s, m)->addr, in->from))
            swim__coord_heard(s, m, in->coord);
    }

    if (s->state != SWIM_STATE_RUNNING && h->type != WIRE_ACK)
        return;
    if (h->type <= WIRE_TYPE_LAST && on_type[h->type] != NULL)
        on_type[h->type](s, in);
}

int swim_handle_packet(struct swim *s, const struct swim_addr *from, const uint8_t *data,
                       size_t len, uint64_t now)
{
    const uint8_t *p = data, *end = data + len;
    struct wire_header h;
    struct wire_peer peer;
    int rc;

    s->stats.packets_in++;
    s->stats.bytes_in += len;
    if (s->state != SWIM_STATE_RUNNING && s->state != SWIM_STATE_LEAVING)
        return 0;
    if (data == NULL || from == NULL || len > WIRE_PACKET_MAX) {
        s->stats.malformed++;
        swim__count_dgram(s, false, 0, len);
        return ERR_INVAL;
    }
    if ((rc = wire_decode_header(&h, &p, end)) != 0) {
        swim__count_dgram(s, false, 0, len);
        goto bad;
    }
    swim__count_dgram(s, false, h.type, len);
    if (h.type == WIRE_PING_REQ || ((h.flags & WIRE_F_RELAY) && h.type != WIRE_DIRECT)) {
        /* RELAY: PING/ACK carry a body; a DIRECT to forward has none */
        if ((rc = wire_decode_peer(&peer, h.type, &p, end)) != 0)
            goto bad;
    }
    if ((rc = items_valid(p, end)) != 0)
        goto bad;
    if (swim__name_is(&h.src, swim__id(s, s->self)->name, swim__id(s, s->self)->name_len))
        return 0; /* our own datagram, or a twin with our name */
    if ((h.flags & WIRE_F_HAS_DST) &&
        !swim__name_is(&h.dst, swim__id(s, s->self)->name, swim__id(s, s->self)->name_len) &&
        !(h.type == WIRE_DIRECT && (h.flags & WIRE_F_RELAY)))
        return 0; /* meant for whoever had this address before (a DIRECT to relay names
                     the member to forward it to) */

    struct swim_coord coord;
    bool has_coord = (h.type == WIRE_PING || h.type == WIRE_ACK) && find_coord(s, p, end, &coord);
    struct swim_in in = {
        .from = from,
        .h = &h,
        .peer = &peer,
        .sender = swim__member_find(s, h.src.ptr, h.src.len),
        .items = p,
        .end = end,
        .coord = has_coord ? &coord : NULL,
        .now = now,
    };
    if (h.type == WIRE_ANNOUNCE && !cookie_valid(s, from, p, end, now)) {
        /* Unproven: a cookie to echo, and nothing else (its record is not
         * taken). */
        if (s->state == SWIM_STATE_RUNNING)
            answer_cookie(s, from, len, now);
        return 0;
    }
    if (h.type != WIRE_ANNOUNCE &&
        (in.sender == NULL || !swim__addr_equal(&swim__id(s, in.sender)->addr, from))) {
        s->budgeted = true;
        s->budget = SWIM_AMPLIFY_MAX * len;
    }
    handle(s, &in);
    s->budgeted = false;
    return 0;
bad:
    s->stats.malformed++;
    return rc;
}
