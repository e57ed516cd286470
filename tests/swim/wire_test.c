/*
 * wire_test.c - Check suite for the datagram codec (swim/wire.h).
 *
 * Three kinds of test:
 *  - round trips: every message kind encodes and decodes back to the same
 *    value, consuming exactly what was written;
 *  - hostile input: every truncation, seeded garbage, one oversized or
 *    out-of-range value per field (built byte by byte with a tiny writer,
 *    independent of the encoder), wrong magic and version, unknown item
 *    kinds and unknown trailing bytes;
 *  - encoder limits: ERR_NOSPACE at every short buffer size without a byte
 *    written (a guard region must stay intact), ERR_INVAL per bad field.
 * Decoded inputs are copied into exactly-sized heap buffers so that
 * AddressSanitizer catches any read past the end.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "wire.h"

/* Seeded so a failure replays; the iteration count keeps the suite fast
 * under sanitizers while still covering every header and item path. */
#define WT_GARBAGE_SEED 0x5EED0001ULL
#define WT_GARBAGE_ITERS 100000
#define WT_GUARD 0xEE

/* For hot loops: Check's passing assertions are not free (each one records
 * a mark point with the parent process), so loops of thousands of checks
 * use this, which costs nothing until it fails. */
#define WT_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ck_abort_msg(__VA_ARGS__);                                                             \
    } while (0)

static uint64_t wt_rand(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static struct wire_name wt_name(const char *s)
{
    struct wire_name n = {s, (uint8_t)strlen(s)};
    return n;
}

static struct swim_addr wt_addr(uint8_t len, uint8_t fill)
{
    struct swim_addr a;
    memset(&a, 0, sizeof(a));
    a.len = len;
    memset(a.bytes, fill, len);
    return a;
}

static int wt_name_eq(struct wire_name a, const char *s)
{
    return a.len == strlen(s) && memcmp(a.ptr, s, a.len) == 0;
}

static int wt_addr_eq(const struct swim_addr *a, const struct swim_addr *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* A heap copy of exactly n bytes (n may be 0), so overreads are caught. */
static uint8_t *wt_dup(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    WT_CHECK(q != NULL, "out of memory");
    if (n > 0)
        memcpy(q, p, n);
    return q;
}

/* --- a byte writer independent of wire.c, for hand-built inputs ---------- */

struct wt_buf {
    uint8_t b[4096];
    size_t n;
};

static void tb_u8(struct wt_buf *t, unsigned v)
{
    WT_CHECK(t->n < sizeof(t->b), "test buffer full");
    t->b[t->n++] = (uint8_t)v;
}

static void tb_u16(struct wt_buf *t, unsigned v)
{
    tb_u8(t, v >> 8);
    tb_u8(t, v);
}

static void tb_u32(struct wt_buf *t, uint32_t v)
{
    tb_u16(t, v >> 16);
    tb_u16(t, v & 0xffff);
}

static void tb_u64(struct wt_buf *t, uint64_t v)
{
    tb_u32(t, (uint32_t)(v >> 32));
    tb_u32(t, (uint32_t)v);
}

static void tb_fill(struct wt_buf *t, size_t n, uint8_t c)
{
    size_t i;
    for (i = 0; i < n; i++)
        tb_u8(t, c);
}

/* A name field: length byte, then len letters; nul_at >= 0 puts a NUL. */
static void tb_name(struct wt_buf *t, int len, int nul_at)
{
    int i;
    tb_u8(t, (unsigned)len);
    for (i = 0; i < len; i++)
        tb_u8(t, i == nul_at ? 0 : (unsigned)('a' + i % 26));
}

/* Field values of a hand-built input; the defaults decode fine and each
 * negative case changes exactly one field. */
struct wt_spec {
    int magic, version, type, flags;
    int name_len, name_nul, addr_len;
    int dst_len;
    int status, meta_len, by_len, has_by;
    int user_len;
};

static const struct wt_spec wt_default = {
    .magic = WIRE_MAGIC,
    .version = WIRE_VERSION,
    .type = WIRE_PING,
    .flags = 0,
    .name_len = 5,
    .name_nul = -1,
    .addr_len = 6,
    .dst_len = 4,
    .status = WIRE_SUSPECT,
    .meta_len = 3,
    .by_len = 2,
    .has_by = 1,
    .user_len = 7,
};

static void wt_build_header(struct wt_buf *t, const struct wt_spec *s)
{
    tb_u8(t, (unsigned)s->magic);
    tb_u8(t, (unsigned)s->version);
    tb_u8(t, (unsigned)s->type);
    tb_u8(t, (unsigned)s->flags);
    tb_name(t, s->name_len, s->name_nul);
    tb_u8(t, (unsigned)s->addr_len);
    tb_fill(t, (size_t)s->addr_len, 0x11);
    tb_u64(t, 42);
    tb_u32(t, 7);
    if (s->flags & WIRE_F_HAS_DST) {
        tb_name(t, s->dst_len, -1);
        tb_u64(t, 43);
    }
    tb_u32(t, 99);
}

static void wt_build_peer(struct wt_buf *t, const struct wt_spec *s)
{
    tb_name(t, s->name_len, s->name_nul);
    tb_u8(t, (unsigned)s->addr_len);
    tb_fill(t, (size_t)s->addr_len, 0x22);
    if (s->type == WIRE_PING_REQ)
        tb_u64(t, 1234);
    else
        tb_u32(t, 5678);
}

static void wt_build_member(struct wt_buf *t, const struct wt_spec *s)
{
    tb_name(t, s->name_len, s->name_nul);
    tb_u8(t, (unsigned)s->addr_len);
    tb_fill(t, (size_t)s->addr_len, 0x33);
    tb_u64(t, 1000);
    tb_u32(t, 3);
    tb_u8(t, (unsigned)s->status);
    tb_u16(t, (unsigned)s->meta_len);
    tb_fill(t, (size_t)s->meta_len, 'm');
    if (s->has_by)
        tb_name(t, s->by_len, -1);
}

static void wt_build_user(struct wt_buf *t, const struct wt_spec *s)
{
    tb_name(t, s->name_len, s->name_nul);
    tb_u64(t, 77);
    tb_u32(t, 8);
    tb_u16(t, (unsigned)s->user_len);
    tb_fill(t, (size_t)s->user_len, 'u');
}

enum wt_what { WT_HEADER, WT_PEER, WT_MEMBER, WT_USER, WT_ITEM };

/* Decode buf[0..n) as `what` from an exact heap copy; checks that a failed
 * decode leaves the position alone and a successful one stays in bounds. */
static int wt_decode(enum wt_what what, uint8_t type, const uint8_t *buf, size_t n)
{
    uint8_t *copy = wt_dup(buf, n);
    const uint8_t *pos = copy, *end = copy + n;
    struct wire_header h;
    struct wire_peer p;
    struct wire_member m;
    struct wire_user u;
    struct wire_item it;
    int rc = ERR_INVAL;

    switch (what) {
    case WT_HEADER:
        rc = wire_decode_header(&h, &pos, end);
        break;
    case WT_PEER:
        rc = wire_decode_peer(&p, type, &pos, end);
        break;
    case WT_MEMBER:
        rc = wire_decode_member(&m, &pos, end);
        break;
    case WT_USER:
        rc = wire_decode_user(&u, &pos, end);
        break;
    case WT_ITEM:
        rc = wire_decode_item(&it, &pos, end);
        break;
    }
    if (rc != 0)
        WT_CHECK(pos == copy, "failed decode %d moved the position", rc);
    else
        WT_CHECK(pos > copy && pos <= end, "decode ended out of bounds");
    free(copy);
    return rc;
}

/* --- round trips ----------------------------------------------------------- */

static struct wire_header wt_header(int with_dst)
{
    struct wire_header h;
    memset(&h, 0, sizeof(h));
    h.type = WIRE_PING;
    h.flags = WIRE_F_WANT_REPLY | (with_dst ? WIRE_F_HAS_DST : 0);
    h.src = wt_name("node-a");
    h.src_addr = wt_addr(18, 0xab);
    h.src_gen = 0x0102030405060708ULL;
    h.src_inc = 0xA0B0C0D0;
    if (with_dst) {
        h.dst = wt_name("node-b.example");
        h.dst_gen = 0xFFFFFFFFFFFFFFFEULL;
    }
    h.seq = 0xDEADBEEF;
    return h;
}

static void wt_header_roundtrip(int with_dst)
{
    uint8_t buf[256];
    uint8_t *w = buf;
    const uint8_t *r = buf;
    struct wire_header in = wt_header(with_dst), out;

    ck_assert_int_eq(wire_encode_header(&w, buf + sizeof(buf), &in), 0);
    memset(&out, 0x5a, sizeof(out));
    ck_assert_int_eq(wire_decode_header(&out, &r, w), 0);
    ck_assert_ptr_eq(r, w);
    ck_assert_uint_eq(buf[0], WIRE_MAGIC);
    ck_assert_uint_eq(buf[1], WIRE_VERSION);
    ck_assert_uint_eq(out.type, in.type);
    ck_assert_uint_eq(out.flags, in.flags);
    ck_assert(wt_name_eq(out.src, "node-a"));
    ck_assert(wt_addr_eq(&out.src_addr, &in.src_addr));
    ck_assert_uint_eq(out.src_gen, in.src_gen);
    ck_assert_uint_eq(out.src_inc, in.src_inc);
    ck_assert_uint_eq(out.seq, in.seq);
    if (with_dst) {
        ck_assert(wt_name_eq(out.dst, "node-b.example"));
        ck_assert_uint_eq(out.dst_gen, in.dst_gen);
    } else {
        ck_assert_uint_eq(out.dst.len, 0);
        ck_assert_uint_eq(out.dst_gen, 0);
    }
}

START_TEST(wire_test_header_roundtrip)
{
    wt_header_roundtrip(0);
}
END_TEST

START_TEST(wire_test_header_dst_roundtrip)
{
    wt_header_roundtrip(1);
}
END_TEST

START_TEST(wire_test_header_every_type_roundtrip)
{
    int type;
    for (type = 1; type <= WIRE_TYPE_LAST; type++) {
        uint8_t buf[256], *w = buf;
        const uint8_t *r = buf;
        struct wire_header in = wt_header(type % 2), out;
        in.type = (uint8_t)type;
        in.flags |= (type == WIRE_PING || type == WIRE_ACK) ? WIRE_F_RELAY : 0;
        ck_assert_int_eq(wire_encode_header(&w, buf + sizeof(buf), &in), 0);
        ck_assert_int_eq(wire_decode_header(&out, &r, w), 0);
        ck_assert_uint_eq(out.type, type);
        ck_assert_uint_eq(out.flags, in.flags);
    }
}
END_TEST

static void wt_peer_roundtrip(uint8_t type)
{
    uint8_t buf[256], *w = buf;
    const uint8_t *r = buf;
    struct wire_peer in, out;

    memset(&in, 0, sizeof(in));
    in.name = wt_name("origin-node");
    in.addr = wt_addr(WIRE_ADDR_MAX, 0x7f);
    if (type == WIRE_PING_REQ)
        in.gen = 0x1122334455667788ULL;
    else
        in.seq = 0xCAFEF00D;
    ck_assert_int_eq(wire_encode_peer(&w, buf + sizeof(buf), type, &in), 0);
    ck_assert_int_eq(wire_decode_peer(&out, type, &r, w), 0);
    ck_assert_ptr_eq(r, w);
    ck_assert(wt_name_eq(out.name, "origin-node"));
    ck_assert(wt_addr_eq(&out.addr, &in.addr));
    ck_assert_uint_eq(out.gen, in.gen);
    ck_assert_uint_eq(out.seq, in.seq);
}

START_TEST(wire_test_ping_relay_body_roundtrip)
{
    wt_peer_roundtrip(WIRE_PING);
}
END_TEST

START_TEST(wire_test_ack_relay_body_roundtrip)
{
    wt_peer_roundtrip(WIRE_ACK);
}
END_TEST

START_TEST(wire_test_ping_req_body_roundtrip)
{
    wt_peer_roundtrip(WIRE_PING_REQ);
}
END_TEST

static struct wire_member wt_member(const char *by)
{
    static const uint8_t meta[] = "role=db\0zone=a";
    struct wire_member m;
    memset(&m, 0, sizeof(m));
    m.name = wt_name("member-1");
    m.addr = wt_addr(7, 0x42);
    m.gen = 0x8000000000000001ULL;
    m.inc = 0xFFFFFFFF;
    m.status = WIRE_SUSPECT;
    m.meta = meta;
    m.meta_len = sizeof(meta);
    if (by != NULL)
        m.by = wt_name(by);
    return m;
}

static void wt_member_roundtrip(const char *by)
{
    uint8_t buf[1024], *w = buf;
    const uint8_t *r = buf;
    struct wire_member in = wt_member(by), out;

    ck_assert_int_eq(wire_encode_member(&w, buf + sizeof(buf), &in), 0);
    ck_assert_uint_le((size_t)(w - buf), wire_member_size(&in));
    ck_assert_int_eq(wire_decode_member(&out, &r, w), 0);
    ck_assert_ptr_eq(r, w);
    ck_assert(wt_name_eq(out.name, "member-1"));
    ck_assert(wt_addr_eq(&out.addr, &in.addr));
    ck_assert_uint_eq(out.gen, in.gen);
    ck_assert_uint_eq(out.inc, in.inc);
    ck_assert_uint_eq(out.status, in.status);
    ck_assert_uint_eq(out.meta_len, in.meta_len);
    ck_assert_mem_eq(out.meta, in.meta, in.meta_len);
    if (by != NULL)
        ck_assert(wt_name_eq(out.by, by));
    else
        ck_assert_uint_eq(out.by.len, 0);
}

START_TEST(wire_test_member_with_by_roundtrip)
{
    wt_member_roundtrip("suspector");
}
END_TEST

START_TEST(wire_test_member_without_by_roundtrip)
{
    wt_member_roundtrip(NULL);
}
END_TEST

START_TEST(wire_test_member_every_status_roundtrip)
{
    int st;
    for (st = WIRE_ALIVE; st <= WIRE_STATUS_LAST; st++) {
        uint8_t buf[1024], *w = buf;
        const uint8_t *r = buf;
        struct wire_member in = wt_member(NULL), out;
        in.status = (uint8_t)st;
        in.meta_len = 0;
        in.meta = NULL;
        ck_assert_int_eq(wire_encode_member(&w, buf + sizeof(buf), &in), 0);
        ck_assert_int_eq(wire_decode_member(&out, &r, w), 0);
        ck_assert_uint_eq(out.status, st);
        ck_assert_uint_eq(out.meta_len, 0);
    }
}
END_TEST

/* The `by` field is optional: a record that ends right after meta (an
 * older sender) decodes with by.len == 0. */
START_TEST(wire_test_member_absent_by_decodes)
{
    struct wt_buf t = {.n = 0};
    struct wt_spec s = wt_default;
    struct wire_member out;
    const uint8_t *r;

    s.has_by = 0;
    wt_build_member(&t, &s);
    r = t.b;
    ck_assert_int_eq(wire_decode_member(&out, &r, t.b + t.n), 0);
    ck_assert_ptr_eq(r, t.b + t.n);
    ck_assert_uint_eq(out.by.len, 0);
    ck_assert_uint_eq(out.status, WIRE_SUSPECT);
    ck_assert_uint_eq(out.meta_len, 3);
}
END_TEST

START_TEST(wire_test_user_roundtrip)
{
    uint8_t buf[1024], *w = buf, payload[WIRE_USER_MAX];
    const uint8_t *r = buf;
    struct wire_user in, out;
    size_t i;

    for (i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7);
    memset(&in, 0, sizeof(in));
    in.origin = wt_name("origin");
    in.origin_gen = 5;
    in.id = 0x01020304;
    in.payload = payload;
    in.len = WIRE_USER_MAX;
    ck_assert_int_eq(wire_encode_user(&w, buf + sizeof(buf), &in), 0);
    ck_assert_int_eq(wire_decode_user(&out, &r, w), 0);
    ck_assert_ptr_eq(r, w);
    ck_assert(wt_name_eq(out.origin, "origin"));
    ck_assert_uint_eq(out.origin_gen, 5);
    ck_assert_uint_eq(out.id, in.id);
    ck_assert_uint_eq(out.len, WIRE_USER_MAX);
    ck_assert_mem_eq(out.payload, payload, WIRE_USER_MAX);
}
END_TEST

START_TEST(wire_test_user_empty_roundtrip)
{
    uint8_t buf[128], *w = buf;
    const uint8_t *r = buf;
    struct wire_user in, out;

    memset(&in, 0, sizeof(in));
    in.origin = wt_name("o");
    ck_assert_int_eq(wire_encode_user(&w, buf + sizeof(buf), &in), 0);
    ck_assert_int_eq(wire_decode_user(&out, &r, w), 0);
    ck_assert_uint_eq(out.len, 0);
    ck_assert(wt_name_eq(out.origin, "o"));
}
END_TEST

START_TEST(wire_test_item_roundtrip)
{
    uint8_t buf[64], *w = buf;
    const uint8_t *r = buf;
    const uint8_t body[] = {1, 2, 3, 4, 5};
    struct wire_item it;

    ck_assert_int_eq(wire_encode_item(&w, buf + sizeof(buf), 200, body, sizeof(body)), 0);
    ck_assert_int_eq((int)(w - buf), WIRE_ITEM_OVERHEAD + (int)sizeof(body));
    ck_assert_int_eq(wire_decode_item(&it, &r, w), 0);
    ck_assert_ptr_eq(r, w);
    ck_assert_uint_eq(it.kind, 200);
    ck_assert_uint_eq(it.len, sizeof(body));
    ck_assert_mem_eq(it.data, body, sizeof(body));
}
END_TEST

/* --- a whole datagram and the decode loop ------------------------------- */

struct wt_loop {
    int members, users, unknown, bad_items;
    int rc; /* header/body/framing error, 0 when the loop reached the end */
    uint64_t member_gens, user_ids;
};

/* The receive path a core runs: header, body by type, then every item;
 * a bad item is skipped, a broken item frame ends the datagram. */
static void wt_decode_loop(const uint8_t *data, size_t n, struct wt_loop *out)
{
    const uint8_t *pos = data, *end = data + n;
    struct wire_header h;
    struct wire_peer peer;
    int i;

    memset(out, 0, sizeof(*out));
    if ((out->rc = wire_decode_header(&h, &pos, end)) != 0)
        return;
    if (h.type == WIRE_PING_REQ ||
        ((h.type == WIRE_PING || h.type == WIRE_ACK) && (h.flags & WIRE_F_RELAY))) {
        if ((out->rc = wire_decode_peer(&peer, h.type, &pos, end)) != 0)
            return;
    }
    /* Each item takes at least its 3 framing bytes: n/3 + 1 bounds the loop. */
    for (i = 0; pos < end && i <= (int)(n / WIRE_ITEM_OVERHEAD); i++) {
        struct wire_item it;
        const uint8_t *ip;
        if ((out->rc = wire_decode_item(&it, &pos, end)) != 0)
            return;
        ip = it.data;
        if (it.kind == WIRE_ITEM_MEMBER) {
            struct wire_member m;
            if (wire_decode_member(&m, &ip, it.data + it.len) == 0) {
                out->members++;
                out->member_gens += m.gen;
            } else {
                out->bad_items++;
            }
        } else if (it.kind == WIRE_ITEM_USER) {
            struct wire_user u;
            if (wire_decode_user(&u, &ip, it.data + it.len) == 0) {
                out->users++;
                out->user_ids += u.id;
            } else {
                out->bad_items++;
            }
        } else {
            out->unknown++;
        }
    }
    WT_CHECK(pos == end, "decode loop stopped early");
}

/* Encode an item around a body encoded by the matching encoder. */
static void wt_put_member(uint8_t **w, uint8_t *end, const struct wire_member *m)
{
    uint8_t body[1024], *b = body;
    ck_assert_int_eq(wire_encode_member(&b, body + sizeof(body), m), 0);
    ck_assert_int_eq(wire_encode_item(w, end, WIRE_ITEM_MEMBER, body, (size_t)(b - body)), 0);
}

static void wt_put_user(uint8_t **w, uint8_t *end, const struct wire_user *u)
{
    uint8_t body[1024], *b = body;
    ck_assert_int_eq(wire_encode_user(&b, body + sizeof(body), u), 0);
    ck_assert_int_eq(wire_encode_item(w, end, WIRE_ITEM_USER, body, (size_t)(b - body)), 0);
}

/* PING_REQ + body + 2 members + 1 user: every part of the format. */
static size_t wt_datagram(uint8_t *buf, size_t cap)
{
    uint8_t *w = buf, *end = buf + cap;
    struct wire_header h = wt_header(1);
    struct wire_peer p;
    struct wire_member m1 = wt_member("x"), m2 = wt_member(NULL);
    struct wire_user u;

    h.type = WIRE_PING_REQ;
    memset(&p, 0, sizeof(p));
    p.name = wt_name("target");
    p.addr = wt_addr(4, 9);
    p.gen = 3;
    m2.gen = 2;
    m2.name = wt_name("member-2");
    memset(&u, 0, sizeof(u));
    u.origin = wt_name("origin");
    u.id = 11;
    u.payload = (const uint8_t *)"hello";
    u.len = 5;
    ck_assert_int_eq(wire_encode_header(&w, end, &h), 0);
    ck_assert_int_eq(wire_encode_peer(&w, end, WIRE_PING_REQ, &p), 0);
    wt_put_member(&w, end, &m1);
    wt_put_user(&w, end, &u);
    wt_put_member(&w, end, &m2);
    return (size_t)(w - buf);
}

START_TEST(wire_test_datagram_roundtrip)
{
    uint8_t buf[WIRE_PACKET_DEFAULT];
    size_t n = wt_datagram(buf, sizeof(buf));
    struct wt_loop l;

    wt_decode_loop(buf, n, &l);
    ck_assert_int_eq(l.rc, 0);
    ck_assert_int_eq(l.members, 2);
    ck_assert_int_eq(l.users, 1);
    ck_assert_int_eq(l.unknown, 0);
    ck_assert_int_eq(l.bad_items, 0);
    ck_assert_uint_eq(l.member_gens, 0x8000000000000001ULL + 2);
    ck_assert_uint_eq(l.user_ids, 11);
}
END_TEST

/* --- truncation ------------------------------------------------------------- */

/* Every proper prefix of an encoded value fails to decode (ERR_TRUNC),
 * except where the format makes the rest optional. */
static void wt_truncate_all(enum wt_what what, uint8_t type, const uint8_t *buf, size_t n,
                            size_t optional_from)
{
    size_t k;
    ck_assert_int_eq(wt_decode(what, type, buf, n), 0);
    for (k = 0; k < n; k++) {
        int rc = wt_decode(what, type, buf, k);
        if (k == optional_from)
            WT_CHECK(rc == 0, "prefix %zu/%zu at the optional boundary: %d", k, n, rc);
        else
            WT_CHECK(rc == ERR_TRUNC, "prefix %zu/%zu decoded with %d", k, n, rc);
    }
}

START_TEST(wire_test_header_truncated_every_offset)
{
    int with_dst;
    for (with_dst = 0; with_dst <= 1; with_dst++) {
        uint8_t buf[256], *w = buf;
        struct wire_header h = wt_header(with_dst);
        ck_assert_int_eq(wire_encode_header(&w, buf + sizeof(buf), &h), 0);
        wt_truncate_all(WT_HEADER, 0, buf, (size_t)(w - buf), SIZE_MAX);
    }
}
END_TEST

START_TEST(wire_test_peer_truncated_every_offset)
{
    static const uint8_t types[] = {WIRE_PING, WIRE_ACK, WIRE_PING_REQ};
    size_t i;
    for (i = 0; i < sizeof(types); i++) {
        uint8_t buf[256], *w = buf;
        struct wire_peer p;
        memset(&p, 0, sizeof(p));
        p.name = wt_name("peer");
        p.addr = wt_addr(3, 1);
        ck_assert_int_eq(wire_encode_peer(&w, buf + sizeof(buf), types[i], &p), 0);
        wt_truncate_all(WT_PEER, types[i], buf, (size_t)(w - buf), SIZE_MAX);
    }
}
END_TEST

START_TEST(wire_test_member_truncated_every_offset)
{
    uint8_t buf[1024], *w = buf;
    struct wire_member m = wt_member("by-node");
    size_t n;

    ck_assert_int_eq(wire_encode_member(&w, buf + sizeof(buf), &m), 0);
    n = (size_t)(w - buf);
    /* Cut exactly before the by-length byte: the optional tail is absent. */
    wt_truncate_all(WT_MEMBER, 0, buf, n, n - 1 - strlen("by-node"));
}
END_TEST

START_TEST(wire_test_user_truncated_every_offset)
{
    uint8_t buf[1024], *w = buf;
    struct wire_user u;

    memset(&u, 0, sizeof(u));
    u.origin = wt_name("origin");
    u.payload = (const uint8_t *)"payload";
    u.len = 7;
    ck_assert_int_eq(wire_encode_user(&w, buf + sizeof(buf), &u), 0);
    wt_truncate_all(WT_USER, 0, buf, (size_t)(w - buf), SIZE_MAX);
}
END_TEST

START_TEST(wire_test_item_truncated_every_offset)
{
    uint8_t buf[64], *w = buf;
    ck_assert_int_eq(wire_encode_item(&w, buf + sizeof(buf), 1, (const uint8_t *)"abcdef", 6), 0);
    wt_truncate_all(WT_ITEM, 0, buf, (size_t)(w - buf), SIZE_MAX);
}
END_TEST

/* A whole datagram cut at every offset: the header part fails, and past the
 * header the loop never reports an item it did not fully receive. */
START_TEST(wire_test_datagram_truncated_every_offset)
{
    uint8_t buf[WIRE_PACKET_DEFAULT];
    size_t n = wt_datagram(buf, sizeof(buf)), k;
    struct wt_loop full, l;

    wt_decode_loop(buf, n, &full);
    for (k = 0; k < n; k++) {
        uint8_t *copy = wt_dup(buf, k);
        wt_decode_loop(copy, k, &l);
        free(copy);
        /* A prefix may end on an item boundary and decode cleanly, but
         * then it must have lost at least one item. */
        WT_CHECK(l.rc != 0 || l.members + l.users < full.members + full.users,
                 "prefix %zu/%zu decoded as the whole datagram", k, n);
        WT_CHECK(l.members <= full.members && l.users <= full.users && l.bad_items == 0,
                 "prefix %zu/%zu: %d members, %d users, %d bad", k, n, l.members, l.users,
                 l.bad_items);
    }
}
END_TEST

/* --- garbage ----------------------------------------------------------------- */

START_TEST(wire_test_garbage_never_crashes)
{
    uint64_t x = WT_GARBAGE_SEED;
    int i, ok_headers = 0, ok_items = 0;

    for (i = 0; i < WT_GARBAGE_ITERS; i++) {
        uint8_t buf[300];
        size_t n = (size_t)(wt_rand(&x) % sizeof(buf)), k;
        uint8_t type = (uint8_t)(1 + wt_rand(&x) % WIRE_TYPE_LAST);
        struct wt_loop l;
        uint8_t *copy;

        for (k = 0; k < n; k++)
            buf[k] = (uint8_t)wt_rand(&x);
        /* Half the even inputs are valid (a member record, or a GOSSIP
         * datagram carrying one) with a few bytes changed: random names are
         * almost never valid names (swim_name_valid()), so only mutation
         * reaches the deep paths. */
        if (i % 4 == 2) {
            struct wire_member m = wt_member(i % 8 == 2 ? "node-b" : NULL);
            struct wire_header h = {.type = WIRE_GOSSIP,
                                    .src = wt_name("node-a"),
                                    .src_addr = wt_addr(7, 1),
                                    .src_gen = 1,
                                    .seq = 9};
            uint8_t body[512], *w = buf, *b = body;
            ck_assert_int_eq(wire_encode_member(&b, body + sizeof(body), &m), 0);
            if (i % 16 >= 8) {
                ck_assert_int_eq(wire_encode_header(&w, buf + sizeof(buf), &h), 0);
                ck_assert_int_eq(wire_encode_item(&w, buf + sizeof(buf), WIRE_ITEM_MEMBER, body,
                                                  (size_t)(b - body)),
                                 0);
            } else { /* the record alone */
                memcpy(buf, body, (size_t)(b - body));
                w = buf + (b - body);
            }
            n = (size_t)(w - buf);
            for (k = 1 + wt_rand(&x) % 3; k > 0; k--)
                buf[wt_rand(&x) % n] = (uint8_t)wt_rand(&x);
        }
        /* Half the inputs get a valid magic and version (and small length
         * bytes) so the fuzzing reaches past the first checks. */
        if ((i & 1) && n >= 4) {
            buf[0] = WIRE_MAGIC;
            buf[1] = WIRE_VERSION;
            buf[2] = type;
            for (k = 4; k < n; k++)
                if (wt_rand(&x) % 3 == 0)
                    buf[k] &= 0x0f;
        }
        copy = wt_dup(buf, n);
        wt_decode_loop(copy, n, &l);
        free(copy);
        ok_headers += l.rc == 0 || l.members + l.users + l.unknown > 0;
        ok_items += l.members + l.users;
        (void)wt_decode(WT_HEADER, 0, buf, n);
        (void)wt_decode(WT_PEER, type, buf, n);
        ok_items += wt_decode(WT_MEMBER, 0, buf, n) == 0;
        ok_items += wt_decode(WT_USER, 0, buf, n) == 0;
        (void)wt_decode(WT_ITEM, 0, buf, n);
    }
    /* The generator must reach the deep paths, or the test proves nothing. */
    ck_assert_int_gt(ok_items, 0);
    ck_assert_int_gt(ok_headers, 0);
}
END_TEST

/* --- one negative case per field (decoders) --------------------------------- */

struct wt_neg {
    const char *what;
    enum wt_what kind;
    void (*tweak)(struct wt_spec *s);
    int expect;
};

static void tw_magic(struct wt_spec *s)
{
    s->magic = 0xA6;
}
static void tw_version0(struct wt_spec *s)
{
    s->version = 0;
}
static void tw_version2(struct wt_spec *s)
{
    s->version = WIRE_VERSION + 1;
}
static void tw_type0(struct wt_spec *s)
{
    s->type = 0;
}
static void tw_type_last(struct wt_spec *s)
{
    s->type = WIRE_TYPE_LAST + 1;
}
static void tw_name_empty(struct wt_spec *s)
{
    s->name_len = 0;
}
static void tw_name_long(struct wt_spec *s)
{
    s->name_len = WIRE_NAME_MAX + 1;
}
static void tw_name_nul(struct wt_spec *s)
{
    s->name_nul = 2;
}
static void tw_addr_long(struct wt_spec *s)
{
    s->addr_len = WIRE_ADDR_MAX + 1;
}
static void tw_dst_empty(struct wt_spec *s)
{
    s->flags = WIRE_F_HAS_DST;
    s->dst_len = 0;
}
static void tw_dst_long(struct wt_spec *s)
{
    s->flags = WIRE_F_HAS_DST;
    s->dst_len = WIRE_NAME_MAX + 1;
}
static void tw_status(struct wt_spec *s)
{
    s->status = WIRE_STATUS_LAST + 1;
}
static void tw_meta_long(struct wt_spec *s)
{
    s->meta_len = WIRE_META_MAX + 1;
}
static void tw_by_long(struct wt_spec *s)
{
    s->by_len = WIRE_NAME_MAX + 1;
}
static void tw_user_long(struct wt_spec *s)
{
    s->user_len = WIRE_USER_MAX + 1;
}
static void tw_peer_req(struct wt_spec *s)
{
    s->type = WIRE_PING_REQ;
    s->name_len = WIRE_NAME_MAX + 1;
}

static const struct wt_neg wt_negs[] = {
    {"header magic", WT_HEADER, tw_magic, ERR_MALFORMED},
    {"header version 0", WT_HEADER, tw_version0, ERR_VERSION},
    {"header version 2", WT_HEADER, tw_version2, ERR_VERSION},
    {"header type 0", WT_HEADER, tw_type0, ERR_MALFORMED},
    {"header type > last", WT_HEADER, tw_type_last, ERR_MALFORMED},
    {"header src name empty", WT_HEADER, tw_name_empty, ERR_MALFORMED},
    {"header src name > 64", WT_HEADER, tw_name_long, ERR_MALFORMED},
    {"header src name with NUL", WT_HEADER, tw_name_nul, ERR_MALFORMED},
    {"header src addr > 32", WT_HEADER, tw_addr_long, ERR_MALFORMED},
    {"header dst name empty", WT_HEADER, tw_dst_empty, ERR_MALFORMED},
    {"header dst name > 64", WT_HEADER, tw_dst_long, ERR_MALFORMED},
    {"peer name empty", WT_PEER, tw_name_empty, ERR_MALFORMED},
    {"peer name > 64", WT_PEER, tw_name_long, ERR_MALFORMED},
    {"peer name with NUL", WT_PEER, tw_name_nul, ERR_MALFORMED},
    {"peer addr > 32", WT_PEER, tw_addr_long, ERR_MALFORMED},
    {"ping_req target name > 64", WT_PEER, tw_peer_req, ERR_MALFORMED},
    {"member name empty", WT_MEMBER, tw_name_empty, ERR_MALFORMED},
    {"member name > 64", WT_MEMBER, tw_name_long, ERR_MALFORMED},
    {"member name with NUL", WT_MEMBER, tw_name_nul, ERR_MALFORMED},
    {"member addr > 32", WT_MEMBER, tw_addr_long, ERR_MALFORMED},
    {"member status unknown", WT_MEMBER, tw_status, ERR_MALFORMED},
    {"member meta > 512", WT_MEMBER, tw_meta_long, ERR_TOOBIG},
    {"member by > 64", WT_MEMBER, tw_by_long, ERR_MALFORMED},
    {"user origin empty", WT_USER, tw_name_empty, ERR_MALFORMED},
    {"user origin > 64", WT_USER, tw_name_long, ERR_MALFORMED},
    {"user origin with NUL", WT_USER, tw_name_nul, ERR_MALFORMED},
    {"user payload > 512", WT_USER, tw_user_long, ERR_TOOBIG},
};
#define WT_N_NEGS ((int)(sizeof(wt_negs) / sizeof(wt_negs[0])))

static int wt_build(struct wt_buf *t, enum wt_what kind, const struct wt_spec *s)
{
    t->n = 0;
    switch (kind) {
    case WT_HEADER:
        wt_build_header(t, s);
        return 0;
    case WT_PEER:
        wt_build_peer(t, s);
        return s->type;
    case WT_MEMBER:
        wt_build_member(t, s);
        return 0;
    case WT_USER:
        wt_build_user(t, s);
        return 0;
    default:
        ck_abort_msg("no builder");
    }
    return 0;
}

/* Loop test: entry _i changes one field; the untouched default decodes,
 * the tweaked one fails with the expected code. */
START_TEST(wire_test_decode_rejects_bad_field)
{
    const struct wt_neg *c = &wt_negs[_i];
    struct wt_spec s = wt_default;
    struct wt_buf t;
    int type, rc;

    c->tweak(&s);
    type = wt_build(&t, c->kind, &wt_default);
    ck_assert_msg(wt_decode(c->kind, (uint8_t)type, t.b, t.n) == 0, "%s: default", c->what);
    type = wt_build(&t, c->kind, &s);
    rc = wt_decode(c->kind, (uint8_t)type, t.b, t.n);
    ck_assert_msg(rc == c->expect, "%s: got %d (%s), want %d", c->what, rc, err_strerror(rc),
                  c->expect);
}
END_TEST

/* The limits themselves are accepted: 64-byte names, 32-byte addresses,
 * 512-byte meta and payload. */
START_TEST(wire_test_decode_accepts_max_fields)
{
    struct wt_spec s = wt_default;
    struct wt_buf t;

    s.name_len = WIRE_NAME_MAX;
    s.addr_len = WIRE_ADDR_MAX;
    s.dst_len = WIRE_NAME_MAX;
    s.flags = WIRE_F_HAS_DST;
    s.meta_len = WIRE_META_MAX;
    s.by_len = WIRE_NAME_MAX;
    s.user_len = WIRE_USER_MAX;
    wt_build(&t, WT_HEADER, &s);
    ck_assert_int_eq(wt_decode(WT_HEADER, 0, t.b, t.n), 0);
    s.type = WIRE_PING_REQ;
    wt_build(&t, WT_PEER, &s);
    ck_assert_int_eq(wt_decode(WT_PEER, WIRE_PING_REQ, t.b, t.n), 0);
    wt_build(&t, WT_MEMBER, &s);
    ck_assert_int_eq(wt_decode(WT_MEMBER, 0, t.b, t.n), 0);
    wt_build(&t, WT_USER, &s);
    ck_assert_int_eq(wt_decode(WT_USER, 0, t.b, t.n), 0);
}
END_TEST

START_TEST(wire_test_item_length_past_end)
{
    const uint8_t in[] = {WIRE_ITEM_MEMBER, 0x00, 0x05, 1, 2, 3, 4};
    ck_assert_int_eq(wt_decode(WT_ITEM, 0, in, sizeof(in)), ERR_TRUNC);
}
END_TEST

/* --- forward compatibility ----------------------------------------------- */

START_TEST(wire_test_unknown_item_kind_skipped)
{
    uint8_t buf[WIRE_PACKET_DEFAULT], *w, *end = buf + sizeof(buf);
    const uint8_t junk[] = {0xff, 0x00, 0x13, 0x37, 0xff, 0xff};
    struct wire_member m = wt_member(NULL);
    struct wire_user u;
    struct wire_header h = wt_header(0);
    struct wt_loop l;

    h.type = WIRE_GOSSIP;
    memset(&u, 0, sizeof(u));
    u.origin = wt_name("o");
    u.id = 9;
    w = buf;
    ck_assert_int_eq(wire_encode_header(&w, end, &h), 0);
    wt_put_member(&w, end, &m);
    ck_assert_int_eq(wire_encode_item(&w, end, 99, junk, sizeof(junk)), 0);
    ck_assert_int_eq(wire_encode_item(&w, end, 0, NULL, 0), 0);
    wt_put_user(&w, end, &u);
    wt_decode_loop(buf, (size_t)(w - buf), &l);
    ck_assert_int_eq(l.rc, 0);
    ck_assert_int_eq(l.unknown, 2);
    ck_assert_int_eq(l.members, 1);
    ck_assert_int_eq(l.users, 1);
    ck_assert_uint_eq(l.user_ids, 9);
}
END_TEST

START_TEST(wire_test_member_unknown_trailing_bytes)
{
    uint8_t body[1024], *b = body;
    const uint8_t *r = body;
    struct wire_member in = wt_member("by"), out;

    ck_assert_int_eq(wire_encode_member(&b, body + sizeof(body), &in), 0);
    memcpy(b, "\x01\x02\x03\x04\x05", 5); /* a future field */
    ck_assert_int_eq(wire_decode_member(&out, &r, b + 5), 0);
    ck_assert(wt_name_eq(out.name, "member-1"));
    ck_assert(wt_name_eq(out.by, "by"));
    ck_assert_uint_eq(out.inc, in.inc);
}
END_TEST

START_TEST(wire_test_user_unknown_trailing_bytes)
{
    uint8_t body[1024], *b = body;
    const uint8_t *r = body;
    struct wire_user in, out;

    memset(&in, 0, sizeof(in));
    in.origin = wt_name("origin");
    in.payload = (const uint8_t *)"abc";
    in.len = 3;
    in.id = 4;
    ck_assert_int_eq(wire_encode_user(&b, body + sizeof(body), &in), 0);
    memset(b, 0xAA, 9);
    ck_assert_int_eq(wire_decode_user(&out, &r, b + 9), 0);
    ck_assert_uint_eq(out.len, 3);
    ck_assert_mem_eq(out.payload, "abc", 3);
    ck_assert_uint_eq(out.id, 4);
}
END_TEST

/* The decode loop over a datagram whose member item grew a trailing field. */
START_TEST(wire_test_item_with_trailing_field_in_loop)
{
    uint8_t buf[WIRE_PACKET_DEFAULT], body[1024], *w = buf, *b = body;
    struct wire_header h = wt_header(0);
    struct wire_member m = wt_member(NULL);
    struct wt_loop l;

    h.type = WIRE_SYNC;
    ck_assert_int_eq(wire_encode_header(&w, buf + sizeof(buf), &h), 0);
    ck_assert_int_eq(wire_encode_member(&b, body + sizeof(body), &m), 0);
    memset(b, 0x07, 11);
    b += 11;
    ck_assert_int_eq(
        wire_encode_item(&w, buf + sizeof(buf), WIRE_ITEM_MEMBER, body, (size_t)(b - body)), 0);
    wt_decode_loop(buf, (size_t)(w - buf), &l);
    ck_assert_int_eq(l.rc, 0);
    ck_assert_int_eq(l.members, 1);
    ck_assert_int_eq(l.bad_items, 0);
}
END_TEST

/* --- encoders: no space ------------------------------------------------------ */

enum wt_enc { WE_HEADER, WE_HEADER_DST, WE_PEER, WE_PEER_REQ, WE_MEMBER, WE_USER, WE_ITEM };

static int wt_encode(enum wt_enc e, uint8_t **pos, uint8_t *end)
{
    static const uint8_t payload[WIRE_USER_MAX] = {1};
    struct wire_header h = wt_header(e == WE_HEADER_DST);
    struct wire_peer p;
    struct wire_member m = wt_member("by");
    struct wire_user u;

    memset(&p, 0, sizeof(p));
    p.name = wt_name("peer");
    p.addr = wt_addr(WIRE_ADDR_MAX, 3);
    memset(&u, 0, sizeof(u));
    u.origin = wt_name("origin");
    u.payload = payload;
    u.len = sizeof(payload);
    switch (e) {
    case WE_HEADER:
    case WE_HEADER_DST:
        return wire_encode_header(pos, end, &h);
    case WE_PEER:
        return wire_encode_peer(pos, end, WIRE_PING, &p);
    case WE_PEER_REQ:
        return wire_encode_peer(pos, end, WIRE_PING_REQ, &p);
    case WE_MEMBER:
        return wire_encode_member(pos, end, &m);
    case WE_USER:
        return wire_encode_user(pos, end, &u);
    case WE_ITEM:
        return wire_encode_item(pos, end, WIRE_ITEM_USER, payload, 100);
    }
    return ERR_INVAL;
}

/* Loop test over encoders: every buffer shorter than the encoding gives
 * ERR_NOSPACE with *pos unmoved and not one byte written (the whole buffer
 * is prefilled with guard bytes); the exact size succeeds and stops at end. */
START_TEST(wire_test_encode_nospace_every_size)
{
    enum wt_enc e = (enum wt_enc)_i;
    uint8_t buf[2048], *w = buf;
    size_t need, k, j;
    int rc;

    ck_assert_int_eq(wt_encode(e, &w, buf + sizeof(buf)), 0);
    need = (size_t)(w - buf);
    ck_assert_uint_gt(need, 0);
    for (k = 0; k < need; k++) {
        memset(buf, WT_GUARD, sizeof(buf));
        w = buf;
        rc = wt_encode(e, &w, buf + k);
        WT_CHECK(rc == ERR_NOSPACE, "size %zu/%zu: got %d", k, need, rc);
        WT_CHECK(w == buf, "size %zu/%zu: position moved", k, need);
        for (j = 0; j < sizeof(buf); j++)
            WT_CHECK(buf[j] == WT_GUARD, "size %zu/%zu: byte %zu written", k, need, j);
    }
    memset(buf, WT_GUARD, sizeof(buf));
    w = buf;
    ck_assert_int_eq(wt_encode(e, &w, buf + need), 0);
    ck_assert_ptr_eq(w, buf + need);
    for (j = need; j < sizeof(buf); j++)
        ck_assert_uint_eq(buf[j], WT_GUARD);
}
END_TEST

/* --- encoders: one bad value per field ------------------------------------ */

/* WIRE_NAME_MAX + 1 letters, for names of any length up to one too many. */
static const char wt_long_name[] =
    "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn";

static struct wire_name wt_name_len(size_t len)
{
    struct wire_name n;
    ck_assert_uint_lt(len, sizeof(wt_long_name));
    n.ptr = wt_long_name;
    n.len = (uint8_t)len;
    return n;
}

static int wt_bad_encode(int i, uint8_t **pos, uint8_t *end)
{
    static const uint8_t meta[WIRE_META_MAX + 1];
    struct wire_header h = wt_header(0);
    struct wire_peer p;
    struct wire_member m = wt_member(NULL);
    struct wire_user u;

    memset(&p, 0, sizeof(p));
    p.name = wt_name("peer");
    memset(&u, 0, sizeof(u));
    u.origin = wt_name("origin");
    switch (i) {
    case 0: /* header type 0 */
        h.type = 0;
        return wire_encode_header(pos, end, &h);
    case 1: /* header type past the last */
        h.type = WIRE_TYPE_LAST + 1;
        return wire_encode_header(pos, end, &h);
    case 2: /* header unknown flag */
        h.flags = 8;
        return wire_encode_header(pos, end, &h);
    case 3: /* header src name empty */
        h.src = wt_name("");
        return wire_encode_header(pos, end, &h);
    case 4: /* header src name too long */
        h.src = wt_name_len(WIRE_NAME_MAX + 1);
        return wire_encode_header(pos, end, &h);
    case 5: /* header src name with a NUL */
        h.src.ptr = "a\0b";
        h.src.len = 3;
        return wire_encode_header(pos, end, &h);
    case 6: /* header src addr too long */
        h.src_addr.len = WIRE_ADDR_MAX + 1;
        return wire_encode_header(pos, end, &h);
    case 7: /* header dst name empty */
        h.flags = WIRE_F_HAS_DST;
        h.dst = wt_name("");
        return wire_encode_header(pos, end, &h);
    case 8: /* header dst name too long */
        h.flags = WIRE_F_HAS_DST;
        h.dst = wt_name_len(WIRE_NAME_MAX + 1);
        return wire_encode_header(pos, end, &h);
    case 9: /* peer name empty */
        p.name = wt_name("");
        return wire_encode_peer(pos, end, WIRE_PING, &p);
    case 10: /* peer name too long */
        p.name = wt_name_len(WIRE_NAME_MAX + 1);
        return wire_encode_peer(pos, end, WIRE_PING_REQ, &p);
    case 11: /* peer addr too long */
        p.addr.len = WIRE_ADDR_MAX + 1;
        return wire_encode_peer(pos, end, WIRE_ACK, &p);
    case 12: /* member name empty */
        m.name = wt_name("");
        return wire_encode_member(pos, end, &m);
    case 13: /* member name too long */
        m.name = wt_name_len(WIRE_NAME_MAX + 1);
        return wire_encode_member(pos, end, &m);
    case 14: /* member addr too long */
        m.addr.len = WIRE_ADDR_MAX + 1;
        return wire_encode_member(pos, end, &m);
    case 15: /* member status unknown */
        m.status = WIRE_STATUS_LAST + 1;
        return wire_encode_member(pos, end, &m);
    case 16: /* member meta too big */
        m.meta = meta;
        m.meta_len = WIRE_META_MAX + 1;
        return wire_encode_member(pos, end, &m);
    case 17: /* member meta length without bytes */
        m.meta = NULL;
        m.meta_len = 4;
        return wire_encode_member(pos, end, &m);
    case 18: /* member by too long */
        m.by = wt_name_len(WIRE_NAME_MAX + 1);
        return wire_encode_member(pos, end, &m);
    case 19: /* member by with a NUL */
        m.by.ptr = "\0";
        m.by.len = 1;
        return wire_encode_member(pos, end, &m);
    case 20: /* user origin empty */
        u.origin = wt_name("");
        return wire_encode_user(pos, end, &u);
    case 21: /* user origin too long */
        u.origin = wt_name_len(WIRE_NAME_MAX + 1);
        return wire_encode_user(pos, end, &u);
    case 22: /* user payload too big */
        u.payload = meta;
        u.len = WIRE_USER_MAX + 1;
        return wire_encode_user(pos, end, &u);
    case 23: /* user payload length without bytes */
        u.payload = NULL;
        u.len = 2;
        return wire_encode_user(pos, end, &u);
    case 24: /* item longer than its 16-bit length */
        return wire_encode_item(pos, end, WIRE_ITEM_USER, meta, (size_t)UINT16_MAX + 1);
    }
    ck_abort_msg("no case %d", i);
    return 0;
}
#define WT_N_BAD_ENCODE 25

START_TEST(wire_test_encode_rejects_bad_field)
{
    uint8_t buf[2048], *w = buf;
    int rc;

    memset(buf, WT_GUARD, 64);
    rc = wt_bad_encode(_i, &w, buf + sizeof(buf));
    ck_assert_msg(rc == ERR_INVAL, "case %d: got %d (%s)", _i, rc, err_strerror(rc));
    ck_assert_ptr_eq(w, buf);
    ck_assert_uint_eq(buf[0], WT_GUARD);
}
END_TEST

/* Boundary values the encoder must accept (the case above uses max + 1). */
START_TEST(wire_test_encode_accepts_max_fields)
{
    static const uint8_t blob[WIRE_META_MAX];
    uint8_t buf[2048], *w = buf;
    const uint8_t *r = buf;
    struct wire_member m = wt_member(NULL), out;

    m.name = wt_name_len(WIRE_NAME_MAX);
    m.addr = wt_addr(WIRE_ADDR_MAX, 1);
    m.meta = blob;
    m.meta_len = WIRE_META_MAX;
    m.status = WIRE_STATUS_LAST;
    ck_assert_int_eq(wire_encode_member(&w, buf + sizeof(buf), &m), 0);
    ck_assert_int_eq(wire_decode_member(&out, &r, w), 0);
    ck_assert_uint_eq(out.name.len, WIRE_NAME_MAX);
    ck_assert_uint_eq(out.meta_len, WIRE_META_MAX);
    ck_assert_uint_eq(out.addr.len, WIRE_ADDR_MAX);
    /* The smallest legal datagram holds a maximal header + body + member. */
    ck_assert_uint_le(4 + 1 + WIRE_NAME_MAX + 1 + WIRE_ADDR_MAX + 8 + 4 + 1 + WIRE_NAME_MAX + 8 +
                          4 + 1 + WIRE_NAME_MAX + 1 + WIRE_ADDR_MAX + 8 + WIRE_ITEM_OVERHEAD +
                          wire_member_size(&m),
                      WIRE_PACKET_MIN);
}
END_TEST

/* An item frame around a NULL body of non-zero length is refused, not copied. */
START_TEST(wire_test_encode_item_null_body_is_invalid)
{
    uint8_t buf[32];
    uint8_t *w = buf;
    ck_assert_int_eq(wire_encode_item(&w, buf + sizeof(buf), WIRE_ITEM_MEMBER, NULL, 4), ERR_INVAL);
    ck_assert_ptr_eq(w, buf);
}
END_TEST

/* RELAY is valid on PING, ACK and DIRECT only: refused by the encoder,
 * malformed for the decoder on any other type. */
START_TEST(wire_test_relay_flag_only_on_ping_and_ack)
{
    uint8_t buf[128];
    uint8_t *w = buf;
    struct wire_header h;
    memset(&h, 0, sizeof(h));
    h.type = WIRE_GOSSIP;
    h.flags = WIRE_F_RELAY;
    h.src.ptr = "a";
    h.src.len = 1;
    ck_assert_int_eq(wire_encode_header(&w, buf + sizeof(buf), &h), ERR_INVAL);
    h.flags = 0;
    ck_assert_int_eq(wire_encode_header(&w, buf + sizeof(buf), &h), 0);
    buf[3] = WIRE_F_RELAY; /* the flags byte */
    const uint8_t *r = buf;
    struct wire_header out;
    ck_assert_int_eq(wire_decode_header(&out, &r, w), ERR_MALFORMED);
    buf[2] = WIRE_ACK;
    r = buf;
    ck_assert_int_eq(wire_decode_header(&out, &r, w), 0);
    ck_assert_uint_eq(out.flags, WIRE_F_RELAY);
    buf[2] = WIRE_DIRECT;
    r = buf;
    ck_assert_int_eq(wire_decode_header(&out, &r, w), 0);
    ck_assert_uint_eq(out.type, WIRE_DIRECT);
}
END_TEST

/* A DIRECT item round-trips up to WIRE_DIRECT_MAX bytes of payload (more
 * than a user broadcast may carry) and is refused above it. */
START_TEST(wire_test_direct_item_bounds)
{
    static uint8_t payload[WIRE_DIRECT_MAX + 1];
    uint8_t buf[WIRE_DIRECT_MAX + 128];
    uint8_t *w = buf;
    memset(payload, 'r', sizeof(payload));
    struct wire_user in = {{"origin", 6}, 42, 7, WIRE_DIRECT_MAX, payload}, out;
    ck_assert_int_eq(wire_encode_direct(&w, buf + sizeof(buf), &in), 0);
    ck_assert_int_eq(wire_encode_user(&w, buf + sizeof(buf), &in), ERR_INVAL);
    const uint8_t *r = buf;
    ck_assert_int_eq(wire_decode_direct(&out, &r, w), 0);
    ck_assert_ptr_eq(r, w);
    ck_assert_uint_eq(out.len, WIRE_DIRECT_MAX);
    ck_assert_uint_eq(out.id, 7);
    ck_assert_uint_eq(out.origin_gen, 42);
    ck_assert_mem_eq(out.origin.ptr, "origin", 6);
    ck_assert_mem_eq(out.payload, payload, WIRE_DIRECT_MAX);
    r = buf;
    ck_assert_int_eq(wire_decode_user(&out, &r, w), ERR_TOOBIG); /* too long for a broadcast */
    in.len = WIRE_DIRECT_MAX + 1;
    w = buf;
    ck_assert_int_eq(wire_encode_direct(&w, buf + sizeof(buf), &in), ERR_INVAL);
    ck_assert_ptr_eq(w, buf);
    /* The length field above the bound: refused before reading on. */
    in.len = 1;
    ck_assert_int_eq(wire_encode_direct(&w, buf + sizeof(buf), &in), 0);
    size_t at = 1 + 6 + 8 + 4; /* the u16 length */
    buf[at] = (uint8_t)((WIRE_DIRECT_MAX + 1) >> 8);
    buf[at + 1] = (uint8_t)((WIRE_DIRECT_MAX + 1) & 0xFF);
    r = buf;
    ck_assert_int_eq(wire_decode_direct(&out, &r, w), ERR_TOOBIG);
    for (const uint8_t *end = buf; end < w - 1; end++) {
        r = buf;
        ck_assert_int_ne(wire_decode_direct(&out, &r, end), 0);
    }
}
END_TEST

/* A table digest (swim/sync.c) round-trips at every size. */
START_TEST(wire_test_digest_roundtrip)
{
    for (uint8_t log2 = 0; log2 <= WIRE_DIGEST_LOG2_MAX; log2++) {
        uint32_t sums[1u << WIRE_DIGEST_LOG2_MAX];
        uint8_t buf[1 + sizeof(sums)], *w = buf;
        const uint8_t *r = buf;
        struct wire_digest d;
        size_t n = (size_t)1 << log2;
        for (size_t i = 0; i < n; i++)
            sums[i] = 0x9e3779b9u * (uint32_t)(i + 1);
        ck_assert_int_eq(wire_encode_digest(&w, buf + sizeof(buf), log2, sums), 0);
        ck_assert_uint_eq((size_t)(w - buf), 1 + 4 * n);
        ck_assert_int_eq(wire_decode_digest(&d, &r, w), 0);
        ck_assert_ptr_eq(r, w);
        ck_assert_uint_eq(d.log2, log2);
        for (size_t i = 0; i < n; i++)
            ck_assert_uint_eq(wire_digest_sum(&d, i), sums[i]);
    }
}
END_TEST

/* Every prefix of a digest is truncated (the position untouched), a bucket
 * count beyond the maximum is malformed, and bytes after the sums belong
 * to a later version: skipped. */
START_TEST(wire_test_digest_hostile)
{
    const uint32_t sums[8] = {1, 2, 3, 4, 5, 6, 7, 0xffffffffu};
    uint8_t buf[64], *w = buf;
    const uint8_t *r;
    struct wire_digest d;
    ck_assert_int_eq(wire_encode_digest(&w, buf + sizeof(buf), 3, sums), 0);
    size_t n = (size_t)(w - buf);
    for (size_t k = 0; k < n; k++) {
        r = buf;
        ck_assert_int_eq(wire_decode_digest(&d, &r, buf + k), ERR_TRUNC);
        ck_assert_ptr_eq(r, buf);
    }
    memset(w, 0xAA, 5);
    r = buf;
    ck_assert_int_eq(wire_decode_digest(&d, &r, w + 5), 0);
    ck_assert_ptr_eq(r, w + 5);
    ck_assert_uint_eq(wire_digest_sum(&d, 7), 0xffffffffu);
    buf[0] = WIRE_DIGEST_LOG2_MAX + 1;
    r = buf;
    ck_assert_int_eq(wire_decode_digest(&d, &r, buf + sizeof(buf)), ERR_MALFORMED);
    ck_assert_ptr_eq(r, buf);
}
END_TEST

/* The encoder writes nothing without room, and refuses a bucket count
 * beyond the maximum or missing sums. */
START_TEST(wire_test_digest_encode_refuses)
{
    const uint32_t sums[8] = {0};
    uint8_t buf[64], *w = buf;
    ck_assert_int_eq(wire_encode_digest(&w, buf + 32, 3, sums), ERR_NOSPACE);
    ck_assert_ptr_eq(w, buf);
    ck_assert_int_eq(wire_encode_digest(&w, buf + sizeof(buf), WIRE_DIGEST_LOG2_MAX + 1, sums),
                     ERR_INVAL);
    ck_assert_int_eq(wire_encode_digest(&w, buf + sizeof(buf), 0, NULL), ERR_INVAL);
    ck_assert_ptr_eq(w, buf);
}
END_TEST

static Suite *wire_suite(void)
{
    Suite *s = suite_create("wire");
    TCase *tc = tcase_create("roundtrip");
    tcase_add_test(tc, wire_test_header_roundtrip);
    tcase_add_test(tc, wire_test_header_dst_roundtrip);
    tcase_add_test(tc, wire_test_header_every_type_roundtrip);
    tcase_add_test(tc, wire_test_ping_relay_body_roundtrip);
    tcase_add_test(tc, wire_test_ack_relay_body_roundtrip);
    tcase_add_test(tc, wire_test_ping_req_body_roundtrip);
    tcase_add_test(tc, wire_test_member_with_by_roundtrip);
    tcase_add_test(tc, wire_test_member_without_by_roundtrip);
    tcase_add_test(tc, wire_test_member_every_status_roundtrip);
    tcase_add_test(tc, wire_test_member_absent_by_decodes);
    tcase_add_test(tc, wire_test_user_roundtrip);
    tcase_add_test(tc, wire_test_user_empty_roundtrip);
    tcase_add_test(tc, wire_test_item_roundtrip);
    tcase_add_test(tc, wire_test_datagram_roundtrip);
    tcase_add_test(tc, wire_test_digest_roundtrip);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, wire_test_header_truncated_every_offset);
    tcase_add_test(tc, wire_test_peer_truncated_every_offset);
    tcase_add_test(tc, wire_test_member_truncated_every_offset);
    tcase_add_test(tc, wire_test_user_truncated_every_offset);
    tcase_add_test(tc, wire_test_item_truncated_every_offset);
    tcase_add_test(tc, wire_test_datagram_truncated_every_offset);
    tcase_add_test(tc, wire_test_garbage_never_crashes);
    tcase_add_loop_test(tc, wire_test_decode_rejects_bad_field, 0, WT_N_NEGS);
    tcase_add_test(tc, wire_test_decode_accepts_max_fields);
    tcase_add_test(tc, wire_test_item_length_past_end);
    tcase_add_test(tc, wire_test_digest_hostile);
    suite_add_tcase(s, tc);

    tc = tcase_create("compat");
    tcase_add_test(tc, wire_test_unknown_item_kind_skipped);
    tcase_add_test(tc, wire_test_member_unknown_trailing_bytes);
    tcase_add_test(tc, wire_test_user_unknown_trailing_bytes);
    tcase_add_test(tc, wire_test_item_with_trailing_field_in_loop);
    suite_add_tcase(s, tc);

    tc = tcase_create("encode");
    tcase_add_loop_test(tc, wire_test_encode_nospace_every_size, WE_HEADER, WE_ITEM + 1);
    tcase_add_loop_test(tc, wire_test_encode_rejects_bad_field, 0, WT_N_BAD_ENCODE);
    tcase_add_test(tc, wire_test_encode_accepts_max_fields);
    tcase_add_test(tc, wire_test_encode_item_null_body_is_invalid);
    tcase_add_test(tc, wire_test_relay_flag_only_on_ping_and_ack);
    tcase_add_test(tc, wire_test_direct_item_bounds);
    tcase_add_test(tc, wire_test_digest_encode_refuses);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(wire_suite());
    int failed;

    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
