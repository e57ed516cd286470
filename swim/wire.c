/*
 * wire.c - bounds-checked codec for swimd datagrams; see wire.h for the
 * packet picture.  Pure: no allocation, no state, no I/O.
 *
 * The reader and writer below are the only places that touch bytes.  Each
 * reader checks the remaining length before it reads; each decoder works on a
 * local cursor and publishes it to *pos only when the whole value decoded, so
 * a failed decode leaves the caller's position untouched.
 */
#include "wire.h"

#include <string.h>

#include "err.h"
#include "swim.h"

struct wire_rd {
    const uint8_t *p;
    const uint8_t *end;
};

static int wire_rd_need(const struct wire_rd *r, size_t n)
{
    return (size_t)(r->end - r->p) >= n ? 0 : ERR_TRUNC;
}

static int wire_rd_u8(struct wire_rd *r, uint8_t *v)
{
    if (wire_rd_need(r, 1) != 0)
        return ERR_TRUNC;
    *v = *r->p++;
    return 0;
}

static int wire_rd_u16(struct wire_rd *r, uint16_t *v)
{
    if (wire_rd_need(r, 2) != 0)
        return ERR_TRUNC;
    *v = (uint16_t)((uint16_t)r->p[0] << 8 | r->p[1]);
    r->p += 2;
    return 0;
}

static int wire_rd_u32(struct wire_rd *r, uint32_t *v)
{
    if (wire_rd_need(r, 4) != 0)
        return ERR_TRUNC;
    *v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    return 0;
}

static int wire_rd_u64(struct wire_rd *r, uint64_t *v)
{
    uint32_t hi = 0, lo = 0;
    if (wire_rd_need(r, 8) != 0)
        return ERR_TRUNC;
    wire_rd_u32(r, &hi);
    wire_rd_u32(r, &lo);
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

static int wire_rd_bytes(struct wire_rd *r, size_t n, const uint8_t **out)
{
    if (wire_rd_need(r, n) != 0)
        return ERR_TRUNC;
    *out = r->p;
    r->p += n;
    return 0;
}

/* A name: 1..WIRE_NAME_MAX bytes, or 0..max when allow_empty. */
static int wire_rd_name(struct wire_rd *r, struct wire_name *out, int allow_empty)
{
    uint8_t len;
    const uint8_t *p;
    int rc = wire_rd_u8(r, &len);
    if (rc != 0)
        return rc;
    if (len > WIRE_NAME_MAX || (len == 0 && !allow_empty))
        return ERR_MALFORMED;
    if ((rc = wire_rd_bytes(r, len, &p)) != 0)
        return rc;
    if (len > 0 && !swim_name_valid((const char *)p, len))
        return ERR_MALFORMED;
    out->ptr = (const char *)p;
    out->len = len;
    return 0;
}

static int wire_rd_addr(struct wire_rd *r, struct swim_addr *out)
{
    uint8_t len;
    const uint8_t *p;
    int rc = wire_rd_u8(r, &len);
    if (rc != 0)
        return rc;
    if (len > WIRE_ADDR_MAX)
        return ERR_MALFORMED;
    if ((rc = wire_rd_bytes(r, len, &p)) != 0)
        return rc;
    out->len = len;
    memcpy(out->bytes, p, len);
    return 0;
}

struct wire_wr {
    uint8_t *p;
    uint8_t *end;
};

static int wire_wr_need(const struct wire_wr *w, size_t n)
{
    return (size_t)(w->end - w->p) >= n ? 0 : ERR_NOSPACE;
}

static void wire_wr_u8(struct wire_wr *w, uint8_t v)
{
    *w->p++ = v;
}

static void wire_wr_u16(struct wire_wr *w, uint16_t v)
{
    w->p[0] = (uint8_t)(v >> 8);
    w->p[1] = (uint8_t)v;
    w->p += 2;
}

static void wire_wr_u32(struct wire_wr *w, uint32_t v)
{
    w->p[0] = (uint8_t)(v >> 24);
    w->p[1] = (uint8_t)(v >> 16);
    w->p[2] = (uint8_t)(v >> 8);
    w->p[3] = (uint8_t)v;
    w->p += 4;
}

static void wire_wr_u64(struct wire_wr *w, uint64_t v)
{
    wire_wr_u32(w, (uint32_t)(v >> 32));
    wire_wr_u32(w, (uint32_t)v);
}

static void wire_wr_bytes(struct wire_wr *w, const void *p, size_t n)
{
    if (n > 0)
        memcpy(w->p, p, n);
    w->p += n;
}

static int wire_name_ok(const struct wire_name *n, int allow_empty)
{
    if (n->len > WIRE_NAME_MAX || (n->len == 0 && !allow_empty))
        return 0;
    return n->len == 0 || swim_name_valid(n->ptr, n->len);
}

static void wire_wr_name(struct wire_wr *w, const struct wire_name *n)
{
    wire_wr_u8(w, n->len);
    wire_wr_bytes(w, n->ptr, n->len);
}

static void wire_wr_addr(struct wire_wr *w, const struct swim_addr *a)
{
    wire_wr_u8(w, a->len);
    wire_wr_bytes(w, a->bytes, a->len);
}

/* RELAY is valid on PING and ACK (which then carry a relay body) and on
 * DIRECT (a request to forward it; no body). */
static int wire_relay_ok(uint8_t type, uint8_t flags)
{
    return !(flags & WIRE_F_RELAY) || type == WIRE_PING || type == WIRE_ACK || type == WIRE_DIRECT;
}

int wire_decode_header(struct wire_header *out, const uint8_t **pos, const uint8_t *end)
{
    struct wire_rd r = {*pos, end};
    struct wire_header h;
    uint8_t magic, version;
    int rc;

    memset(&h, 0, sizeof(h));
    if ((rc = wire_rd_u8(&r, &magic)) != 0 || (rc = wire_rd_u8(&r, &version)) != 0)
        return rc;
    if (magic != WIRE_MAGIC)
        return ERR_MALFORMED;
    if (version != WIRE_VERSION)
        return ERR_VERSION;
    if ((rc = wire_rd_u8(&r, &h.type)) != 0 || (rc = wire_rd_u8(&r, &h.flags)) != 0)
        return rc;
    if (h.type == 0 || h.type > WIRE_TYPE_LAST || !wire_relay_ok(h.type, h.flags))
        return ERR_MALFORMED;
    if ((rc = wire_rd_name(&r, &h.src, 0)) != 0 || (rc = wire_rd_addr(&r, &h.src_addr)) != 0 ||
        (rc = wire_rd_u64(&r, &h.src_gen)) != 0 || (rc = wire_rd_u32(&r, &h.src_inc)) != 0)
        return rc;
    if (h.flags & WIRE_F_HAS_DST) {
        if ((rc = wire_rd_name(&r, &h.dst, 0)) != 0 || (rc = wire_rd_u64(&r, &h.dst_gen)) != 0)
            return rc;
    }
    if ((rc = wire_rd_u32(&r, &h.seq)) != 0)
        return rc;
    *out = h;
    *pos = r.p;
    return 0;
}

int wire_encode_header(uint8_t **pos, uint8_t *end, const struct wire_header *in)
{
    struct wire_wr w = {*pos, end};
    int has_dst = (in->flags & WIRE_F_HAS_DST) != 0;
    size_t need = 4 + 1 + in->src.len + 1 + in->src_addr.len + 8 + 4 + 4;

    if (in->type == 0 || in->type > WIRE_TYPE_LAST || (in->flags & ~WIRE_F_ALL) != 0 ||
        !wire_relay_ok(in->type, in->flags) || !wire_name_ok(&in->src, 0) ||
        in->src_addr.len > WIRE_ADDR_MAX || (has_dst && !wire_name_ok(&in->dst, 0)))
        return ERR_INVAL;
    if (has_dst)
        need += 1 + in->dst.len + 8;
    if (wire_wr_need(&w, need) != 0)
        return ERR_NOSPACE;
    wire_wr_u8(&w, WIRE_MAGIC);
    wire_wr_u8(&w, WIRE_VERSION);
    wire_wr_u8(&w, in->type);
    wire_wr_u8(&w, in->flags);
    wire_wr_name(&w, &in->src);
    wire_wr_addr(&w, &in->src_addr);
    wire_wr_u64(&w, in->src_gen);
    wire_wr_u32(&w, in->src_inc);
    if (has_dst) {
        wire_wr_name(&w, &in->dst);
        wire_wr_u64(&w, in->dst_gen);
    }
    wire_wr_u32(&w, in->seq);
    *pos = w.p;
    return 0;
}

int wire_decode_peer(struct wire_peer *out, uint8_t type, const uint8_t **pos, const uint8_t *end)
{
    struct wire_rd r = {*pos, end};
    struct wire_peer p;
    int rc;

    memset(&p, 0, sizeof(p));
    if ((rc = wire_rd_name(&r, &p.name, 0)) != 0 || (rc = wire_rd_addr(&r, &p.addr)) != 0)
        return rc;
    if (type == WIRE_PING_REQ)
        rc = wire_rd_u64(&r, &p.gen);
    else
        rc = wire_rd_u32(&r, &p.seq);
    if (rc != 0)
        return rc;
    *out = p;
    *pos = r.p;
    return 0;
}

int wire_encode_peer(uint8_t **pos, uint8_t *end, uint8_t type, const struct wire_peer *in)
{
    struct wire_wr w = {*pos, end};
    size_t need = 1 + in->name.len + 1 + in->addr.len + (type == WIRE_PING_REQ ? 8 : 4);

    if (!wire_name_ok(&in->name, 0) || in->addr.len > WIRE_ADDR_MAX)
        return ERR_INVAL;
    if (wire_wr_need(&w, need) != 0)
        return ERR_NOSPACE;
    wire_wr_name(&w, &in->name);
    wire_wr_addr(&w, &in->addr);
    if (type == WIRE_PING_REQ)
        wire_wr_u64(&w, in->gen);
    else
        wire_wr_u32(&w, in->seq);
    *pos = w.p;
    return 0;
}

int wire_decode_item(struct wire_item *out, const uint8_t **pos, const uint8_t *end)
{
    struct wire_rd r = {*pos, end};
    struct wire_item it;
    int rc;

    if ((rc = wire_rd_u8(&r, &it.kind)) != 0 || (rc = wire_rd_u16(&r, &it.len)) != 0 ||
        (rc = wire_rd_bytes(&r, it.len, &it.data)) != 0)
        return rc;
    *out = it;
    *pos = r.p;
    return 0;
}

int wire_encode_item(uint8_t **pos, uint8_t *end, uint8_t kind, const uint8_t *data, size_t len)
{
    struct wire_wr w = {*pos, end};

    if (len > UINT16_MAX || (len > 0 && data == NULL))
        return ERR_INVAL;
    if (wire_wr_need(&w, WIRE_ITEM_OVERHEAD + len) != 0)
        return ERR_NOSPACE;
    wire_wr_u8(&w, kind);
    wire_wr_u16(&w, (uint16_t)len);
    wire_wr_bytes(&w, data, len);
    *pos = w.p;
    return 0;
}

int wire_decode_member(struct wire_member *out, const uint8_t **pos, const uint8_t *end)
{
    struct wire_rd r = {*pos, end};
    struct wire_member m;
    int rc;

    memset(&m, 0, sizeof(m));
    if ((rc = wire_rd_name(&r, &m.name, 0)) != 0 || (rc = wire_rd_addr(&r, &m.addr)) != 0 ||
        (rc = wire_rd_u64(&r, &m.gen)) != 0 || (rc = wire_rd_u32(&r, &m.inc)) != 0 ||
        (rc = wire_rd_u8(&r, &m.status)) != 0 || (rc = wire_rd_u16(&r, &m.meta_len)) != 0)
        return rc;
    if (m.status > WIRE_STATUS_LAST)
        return ERR_MALFORMED;
    if (m.meta_len > WIRE_META_MAX)
        return ERR_TOOBIG;
    if ((rc = wire_rd_bytes(&r, m.meta_len, &m.meta)) != 0)
        return rc;
    /* Optional trailing field: absent in a record that ends here. */
    if (r.p < r.end && (rc = wire_rd_name(&r, &m.by, 1)) != 0)
        return rc;
    *out = m;
    *pos = r.p;
    return 0;
}

size_t wire_member_size(const struct wire_member *in)
{
    return 1 + (size_t)in->name.len + 1 + in->addr.len + 8 + 4 + 1 + 2 + in->meta_len + 1 +
           in->by.len;
}

int wire_encode_member(uint8_t **pos, uint8_t *end, const struct wire_member *in)
{
    struct wire_wr w = {*pos, end};

    if (!wire_name_ok(&in->name, 0) || !wire_name_ok(&in->by, 1) || in->addr.len > WIRE_ADDR_MAX ||
        in->status > WIRE_STATUS_LAST || in->meta_len > WIRE_META_MAX ||
        (in->meta_len > 0 && in->meta == NULL))
        return ERR_INVAL;
    if (wire_wr_need(&w, wire_member_size(in)) != 0)
        return ERR_NOSPACE;
    wire_wr_name(&w, &in->name);
    wire_wr_addr(&w, &in->addr);
    wire_wr_u64(&w, in->gen);
    wire_wr_u32(&w, in->inc);
    wire_wr_u8(&w, in->status);
    wire_wr_u16(&w, in->meta_len);
    wire_wr_bytes(&w, in->meta, in->meta_len);
    wire_wr_name(&w, &in->by);
    *pos = w.p;
    return 0;
}

/* A USER or DIRECT item body: the same fields, payloads up to max bytes. */
static int wire_decode_message(struct wire_user *out, const uint8_t **pos, const uint8_t *end,
                               size_t max)
{
    struct wire_rd r = {*pos, end};
    struct wire_user u;
    int rc;

    memset(&u, 0, sizeof(u));
    if ((rc = wire_rd_name(&r, &u.origin, 0)) != 0 || (rc = wire_rd_u64(&r, &u.origin_gen)) != 0 ||
        (rc = wire_rd_u32(&r, &u.id)) != 0 || (rc = wire_rd_u16(&r, &u.len)) != 0)
        return rc;
    if (u.len > max)
        return ERR_TOOBIG;
    if ((rc = wire_rd_bytes(&r, u.len, &u.payload)) != 0)
        return rc;
    *out = u;
    *pos = r.p;
    return 0;
}

static int wire_encode_message(uint8_t **pos, uint8_t *end, const struct wire_user *in, size_t max)
{
    struct wire_wr w = {*pos, end};

    if (!wire_name_ok(&in->origin, 0) || in->len > max || (in->len > 0 && !in->payload))
        return ERR_INVAL;
    if (wire_wr_need(&w, 1 + in->origin.len + 8 + 4 + 2 + in->len) != 0)
        return ERR_NOSPACE;
    wire_wr_name(&w, &in->origin);
    wire_wr_u64(&w, in->origin_gen);
    wire_wr_u32(&w, in->id);
    wire_wr_u16(&w, in->len);
    wire_wr_bytes(&w, in->payload, in->len);
    *pos = w.p;
    return 0;
}

int wire_decode_user(struct wire_user *out, const uint8_t **pos, const uint8_t *end)
{
    return wire_decode_message(out, pos, end, WIRE_USER_MAX);
}

int wire_encode_user(uint8_t **pos, uint8_t *end, const struct wire_user *in)
{
    return wire_encode_message(pos, end, in, WIRE_USER_MAX);
}

int wire_decode_direct(struct wire_user *out, const uint8_t **pos, const uint8_t *end)
{
    return wire_decode_message(out, pos, end, WIRE_DIRECT_MAX);
}

int wire_encode_direct(uint8_t **pos, uint8_t *end, const struct wire_user *in)
{
    return wire_encode_message(pos, end, in, WIRE_DIRECT_MAX);
}

int wire_decode_digest(struct wire_digest *out, const uint8_t **pos, const uint8_t *end)
{
    struct wire_rd r = {*pos, end};
    struct wire_digest d;
    int rc;

    if ((rc = wire_rd_u8(&r, &d.log2)) != 0)
        return rc;
    if (d.log2 > WIRE_DIGEST_LOG2_MAX)
        return ERR_MALFORMED;
    if ((rc = wire_rd_bytes(&r, (size_t)4 << d.log2, &d.sums)) != 0)
        return rc;
    *out = d;
    *pos = r.end; /* later fields, if any, are skipped */
    return 0;
}

uint32_t wire_digest_sum(const struct wire_digest *d, size_t i)
{
    struct wire_rd r = {d->sums + 4 * i, d->sums + 4 * i + 4};
    uint32_t v = 0;
    (void)wire_rd_u32(&r, &v);
    return v;
}

int wire_encode_digest(uint8_t **pos, uint8_t *end, uint8_t log2, const uint32_t *sums)
{
    struct wire_wr w = {*pos, end};

    if (log2 > WIRE_DIGEST_LOG2_MAX || sums == NULL)
        return ERR_INVAL;
    if (wire_wr_need(&w, 1 + ((size_t)4 << log2)) != 0)
        return ERR_NOSPACE;
    wire_wr_u8(&w, log2);
    for (size_t i = 0; i < (size_t)1 << log2; i++)
        wire_wr_u32(&w, sums[i]);
    *pos = w.p;
    return 0;
}

int wire_decode_cookie(uint64_t *out, const uint8_t **pos, const uint8_t *end)
{
    struct wire_rd r = {*pos, end};
    uint64_t v;
    int rc;

    if ((rc = wire_rd_u64(&r, &v)) != 0)
        return rc;
    *out = v;
    *pos = r.end; /* later fields, if any, are skipped */
    return 0;
}

int wire_encode_cookie(uint8_t **pos, uint8_t *end, uint64_t cookie)
{
    struct wire_wr w = {*pos, end};

    if (wire_wr_need(&w, 8) != 0)
        return ERR_NOSPACE;
    wire_wr_u64(&w, cookie);
    *pos = w.p;
    return 0;
}
