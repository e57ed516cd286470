/*
 * send.c - building and sending datagrams.
 *
 * Every datagram is built in s->buf: a header naming this node (and, for a
 * probe or its answer, the addressee by name and generation, so a datagram
 * reaching whoever took over an address is ignored), a type-specific body,
 * then items.  Most datagrams end with piggybacked queue items (queue.c).
 * Three shapes are built here: a header with piggyback (PING, ACK, NACK,
 * GOSSIP), one record (a notice to a suspect or a failed member, our own
 * record as an answer, a join request), and a whole table (FEED, SYNC) in
 * as many datagrams as needed (or, for anti-entropy, the records of some
 * buckets of the table: sync.c).  Table answers are rate-limited by token
 * buckets, since one small forged datagram must not pull a large table at
 * will.
 */
#include "err.h"
#include "swim_int.h"

void swim__pkt_begin(struct swim *s, struct swim_pkt *k, uint8_t type, uint8_t flags,
                     const char *dst, uint8_t dst_len, uint64_t dst_gen, uint32_t seq)
{
    struct wire_header h;
    memset(&h, 0, sizeof(h));
    h.type = type;
    h.flags = flags;
    h.src.ptr = swim__id(s, s->self)->name;
    h.src.len = swim__id(s, s->self)->name_len;
    h.src_addr = swim__id(s, s->self)->addr;
    h.src_gen = swim__id(s, s->self)->gen;
    h.src_inc = s->self->inc;
    if (dst != NULL) {
        h.flags |= WIRE_F_HAS_DST;
        h.dst.ptr = dst;
        h.dst.len = dst_len;
        h.dst_gen = dst_gen;
    }
    h.seq = seq;
    k->p = s->buf;
    k->end = s->buf + s->cfg.max_packet;
    k->type = type;
    /* Cannot fail: max_packet >= WIRE_PACKET_MIN holds any header. */
    (void)wire_encode_header(&k->p, k->end, &h);
    /* Answering an unproven source: what follows fits what it may draw. */
    if (s->budgeted && (size_t)(k->end - s->buf) > s->budget)
        k->end = s->budget > (size_t)(k->p - s->buf) ? s->buf + s->budget : k->p;
}

void swim__pkt_send(struct swim *s, const struct swim_addr *to, const struct swim_pkt *k)
{
    size_t len = (size_t)(k->p - s->buf);
    if (s->budgeted) {
        if (len > s->budget) {
            s->stats.answers_capped++;
            return;
        }
        s->budget -= len;
    }
    s->stats.packets_out++;
    s->stats.bytes_out += len;
    swim__count_dgram(s, true, k->type, len);
    s->rt.send_to(s->rt.ctx, to, s->buf, len);
}

void swim__send_simple(struct swim *s, const struct swim_addr *to, uint8_t type, uint8_t flags,
                       const struct swim_member *dst, uint32_t seq)
{
    struct swim_pkt k;
    swim__pkt_begin(s, &k, type, flags, dst ? swim__id(s, dst)->name : NULL,
                    dst ? swim__id(s, dst)->name_len : 0, dst ? swim__id(s, dst)->gen : 0, seq);
    swim__pkt_piggyback(s, &k);
    swim__pkt_send(s, to, &k);
}

int swim__send_record(struct swim *s, const struct swim_addr *to, uint8_t type, uint8_t flags,
                      const struct wire_member *r, bool piggyback)
{
    struct swim_pkt k;
    uint8_t *p = s->body;
    if (wire_encode_member(&p, s->body + s->cfg.max_packet, r) != 0)
        return ERR_INVAL;
    swim__pkt_begin(s, &k, type, flags, NULL, 0, 0, 0);
    if (wire_encode_item(&k.p, k.end, WIRE_ITEM_MEMBER, s->body, (size_t)(p - s->body)) != 0)
        return ERR_INVAL;
    if (piggyback)
        swim__pkt_piggyback(s, &k);
    swim__pkt_send(s, to, &k);
    return 0;
}

void swim__send_notice(struct swim *s, const struct swim_addr *to, const struct wire_member *r)
{
    (void)swim__send_record(s, to, WIRE_GOSSIP, 0, r, true);
}

/* Send our own current record straight back to whoever told us about an
 * older one: the refutation does not wait for gossip. */
void swim__answer_self(struct swim *s, const struct swim_addr *from)
{
    struct wire_member r;
    if (from == NULL)
        return;
    swim__member_to_wire(s, s->self, &r);
    swim__send_notice(s, from, &r);
}

/* Append a cookie item to the datagram being built (dropped when full). */
static void pkt_put_cookie(struct swim *s, struct swim_pkt *k, uint64_t cookie)
{
    uint8_t *p = s->body;
    (void)wire_encode_cookie(&p, s->body + s->cfg.max_packet, cookie);
    (void)wire_encode_item(&k->p, k->end, WIRE_ITEM_COOKIE, s->body, (size_t)(p - s->body));
}

void swim__pkt_put_coord(struct swim *s, struct swim_pkt *k)
{
    struct wire_coord c;
    uint8_t *p = s->body;
    swim__coord_to_wire(s, &c);
    if (wire_encode_coord(&p, s->body + s->cfg.max_packet, &c) == 0)
        (void)wire_encode_item(&k->p, k->end, WIRE_ITEM_COORD, s->body, (size_t)(p - s->body));
}

void swim__send_announce(struct swim *s, const struct swim_addr *to, const uint64_t *cookie)
{
    struct swim_pkt k;
    struct wire_member r;
    uint8_t *p = s->body;
    swim__member_to_wire(s, s->self, &r);
    if (wire_encode_member(&p, s->body + s->cfg.max_packet, &r) != 0)
        return;
    swim__pkt_begin(s, &k, WIRE_ANNOUNCE, 0, NULL, 0, 0, 0);
    if (wire_encode_item(&k.p, k.end, WIRE_ITEM_MEMBER, s->body, (size_t)(p - s->body)) != 0)
        return;
    if (cookie != NULL)
        pkt_put_cookie(s, &k, *cookie);
    swim__pkt_send(s, to, &k);
}

void swim__send_cookie(struct swim *s, const struct swim_addr *to, uint64_t cookie)
{
    struct swim_pkt k;
    swim__pkt_begin(s, &k, WIRE_FEED, 0, NULL, 0, 0, 0);
    pkt_put_cookie(s, &k, cookie);
    swim__pkt_send(s, to, &k);
}

void swim__send_ping(struct swim *s, const struct swim_addr *to, const char *name, uint8_t len,
                     uint64_t gen, uint32_t seq, const struct swim_member *suspect)
{
    struct swim_pkt k;
    swim__pkt_begin(s, &k, WIRE_PING, 0, name, len, gen, seq);
    if (suspect != NULL) {
        struct wire_member r;
        uint8_t *p = s->body;
        swim__member_to_wire(s, suspect, &r);
        if (wire_encode_member(&p, s->body + s->cfg.max_packet, &r) == 0)
            (void)wire_encode_item(&k.p, k.end, WIRE_ITEM_MEMBER, s->body, (size_t)(p - s->body));
    }
    swim__pkt_put_coord(s, &k);
    swim__pkt_piggyback(s, &k);
    swim__pkt_send(s, to, &k);
}

/* Tell the member it is suspected: it refutes sooner than gossip would. */
void swim__tell_suspect(struct swim *s, const struct swim_member *m, const struct wire_name *by,
                        const struct swim_addr *to)
{
    struct wire_member r;
    swim__member_to_wire(s, m, &r);
    if (by != NULL)
        r.by = *by;
    swim__send_notice(s, to != NULL ? to : &swim__id(s, m)->addr, &r);
}

void swim__table_begin(struct swim *s, struct swim_table_out *o, const struct swim_addr *to,
                       uint8_t type, uint8_t flags)
{
    o->to = to;
    o->type = type;
    o->flags = flags;
    o->items = 0;
    swim__pkt_begin(s, &o->k, type, flags, NULL, 0, 0, 0);
}

/* Append one item, sending the datagram and starting the next one (without
 * WANT_REPLY: that is asked once) when it is full. */
void swim__table_put(struct swim *s, struct swim_table_out *o, uint8_t kind, const uint8_t *body,
                     size_t len)
{
    if (wire_encode_item(&o->k.p, o->k.end, kind, body, len) != 0) {
        if (o->items == 0)
            return; /* larger than an empty datagram: WIRE_PACKET_MIN rules it out */
        swim__pkt_send(s, o->to, &o->k);
        swim__pkt_begin(s, &o->k, o->type, (uint8_t)(o->flags & ~WIRE_F_WANT_REPLY), NULL, 0, 0, 0);
        o->items = 0;
        if (wire_encode_item(&o->k.p, o->k.end, kind, body, len) != 0)
            return;
    }
    o->items++;
}

void swim__table_put_member(struct swim *s, struct swim_table_out *o, const struct swim_member *m)
{
    struct wire_member r;
    uint8_t *p = s->body;
    swim__member_to_wire(s, m, &r);
    if (wire_encode_member(&p, s->body + s->cfg.max_packet, &r) == 0)
        swim__table_put(s, o, WIRE_ITEM_MEMBER, s->body, (size_t)(p - s->body));
}

void swim__table_end(struct swim *s, struct swim_table_out *o)
{
    if (o->items > 0)
        swim__pkt_send(s, o->to, &o->k);
}

/* Send the table (self first) as `type` datagrams; only_live limits it to
 * ALIVE/SUSPECT members (a FEED).  `skip` is left out. */
void swim__send_table(struct swim *s, const struct swim_addr *to, uint8_t type, uint8_t flags,
                      bool only_live, const struct swim_member *skip)
{
    struct swim_table_out o;
    swim__table_begin(s, &o, to, type, flags);
    swim__table_put_member(s, &o, s->self);
    for (uint32_t i = 0; i < s->n_store; i++) {
        const struct swim_member *m = swim__entry_used(s, i);
        if (m != NULL && m != skip && (!only_live || swim__is_live(m->status)))
            swim__table_put_member(s, &o, m);
    }
    swim__table_end(s, &o);
}

/* Token buckets for whole-table answers (see SWIM_TABLE_BURST). */
bool swim__bucket_take(struct swim *s, struct swim_bucket *b, uint32_t burst, uint64_t refill_ms,
                       uint64_t now)
{
    return swim__bucket_take_or(b, burst, refill_ms, now, &s->stats.tables_refused);
}

bool swim__bucket_take_or(struct swim_bucket *b, uint32_t burst, uint64_t refill_ms, uint64_t now,
                          uint64_t *refused)
{
    if (now >= b->refill_at) {
        uint64_t tokens = b->tokens + (now - b->refill_at) / refill_ms + 1;
        b->tokens = (uint32_t)(tokens > burst ? burst : tokens);
        b->refill_at = now + refill_ms;
    }
    if (b->tokens == 0) {
        (*refused)++;
        return false;
    }
    b->tokens--;
    return true;
}

bool swim__table_allowed(struct swim *s, uint64_t now)
{
    return swim__bucket_take(s, &s->tables, SWIM_TABLE_BURST, SWIM_TABLE_REFILL_MS, now);
}
