/*
 * wire_fuzz.c - libFuzzer target for the datagram decoder and the core's
 * receive path.
 *
 * One input is one datagram.  wire_fuzz_decode() runs the full decode loop a
 * receiver runs (header, the body its type implies, then every item, with
 * MEMBER, USER, DIGEST, COOKIE, COORD and DIRECT items decoded) and checks the decoder's contract
 * on the way: a decoded value points inside the input, respects every length limit, and re-encodes
 * to a value that decodes back equal.  A broken contract calls abort(), which libFuzzer and Check
 * both report.  Then the same bytes go to swim_handle_packet() on a fresh instance whose runtime
 * drops everything (fuzz_core.h), so the core's handling of hostile input is fuzzed too.
 *
 * Built two ways: with -fsanitize=fuzzer as tests/fuzz/wire_fuzz (clang
 * only; libFuzzer provides main), and #included by
 * tests/swim/fuzz_replay_test.c, which calls the entry points directly on
 * seeded inputs so gcc + ASan builds run it too.  No state survives a call.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fuzz.h"
#include "fuzz_core.h"
#include "swim.h"
#include "wire.h"

/* What one input decoded to (for the replay test's assertions). */
struct wire_fuzz_result {
    int header_ok; /* header (and body) decoded */
    int complete;  /* the item loop reached the end of the datagram */
    int members, users, digests, cookies, coords, directs, unknown_items, bad_items;
};

static int wire_fuzz_in(const void *p, size_t len, const uint8_t *lo, const uint8_t *hi)
{
    const uint8_t *q = p;
    return len == 0 || (q >= lo && q <= hi && (size_t)(hi - q) >= len);
}

static void wire_fuzz_check_name(struct wire_name n, int allow_empty, const uint8_t *lo,
                                 const uint8_t *hi)
{
    FUZZ_CHECK(n.len <= WIRE_NAME_MAX);
    FUZZ_CHECK(allow_empty || n.len > 0);
    FUZZ_CHECK(wire_fuzz_in(n.ptr, n.len, lo, hi));
    FUZZ_CHECK(n.len == 0 || swim_name_valid(n.ptr, n.len));
}

static int wire_fuzz_name_eq(struct wire_name a, struct wire_name b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* A decoded member re-encodes and decodes back to the same record. */
static void wire_fuzz_member_roundtrip(const struct wire_member *m)
{
    uint8_t buf[1024], *w = buf;
    const uint8_t *r = buf;
    struct wire_member back;

    FUZZ_CHECK(wire_member_size(m) <= sizeof(buf));
    FUZZ_CHECK(wire_encode_member(&w, buf + sizeof(buf), m) == 0);
    FUZZ_CHECK(wire_decode_member(&back, &r, w) == 0 && r == w);
    FUZZ_CHECK(wire_fuzz_name_eq(back.name, m->name) && wire_fuzz_name_eq(back.by, m->by));
    FUZZ_CHECK(back.addr.len == m->addr.len &&
               memcmp(back.addr.bytes, m->addr.bytes, m->addr.len) == 0);
    FUZZ_CHECK(back.gen == m->gen && back.inc == m->inc && back.status == m->status);
    FUZZ_CHECK(back.meta_len == m->meta_len &&
               (m->meta_len == 0 || memcmp(back.meta, m->meta, m->meta_len) == 0));
}

/* A USER item (direct: a DIRECT item) re-encodes and decodes back equal. */
static void wire_fuzz_user_roundtrip(const struct wire_user *u, int direct)
{
    uint8_t buf[1 + WIRE_NAME_MAX + 8 + 4 + 2 + WIRE_DIRECT_MAX], *w = buf;
    const uint8_t *r = buf;
    struct wire_user back;

    FUZZ_CHECK((direct ? wire_encode_direct : wire_encode_user)(&w, buf + sizeof(buf), u) == 0);
    FUZZ_CHECK((direct ? wire_decode_direct : wire_decode_user)(&back, &r, w) == 0 && r == w);
    FUZZ_CHECK(wire_fuzz_name_eq(back.origin, u->origin));
    FUZZ_CHECK(back.origin_gen == u->origin_gen && back.id == u->id && back.len == u->len);
    FUZZ_CHECK(u->len == 0 || memcmp(back.payload, u->payload, u->len) == 0);
}

static void wire_fuzz_digest_roundtrip(const struct wire_digest *d)
{
    uint32_t sums[1u << WIRE_DIGEST_LOG2_MAX];
    uint8_t buf[1 + sizeof(sums)], *w = buf;
    const uint8_t *r = buf;
    struct wire_digest back;

    FUZZ_CHECK(d->log2 <= WIRE_DIGEST_LOG2_MAX);
    for (size_t i = 0; i < (size_t)1 << d->log2; i++)
        sums[i] = wire_digest_sum(d, i);
    FUZZ_CHECK(wire_encode_digest(&w, buf + sizeof(buf), d->log2, sums) == 0);
    FUZZ_CHECK(wire_decode_digest(&back, &r, w) == 0 && r == w && back.log2 == d->log2);
    FUZZ_CHECK(memcmp(back.sums, d->sums, (size_t)4 << d->log2) == 0);
}

/* A decoded coordinate is finite (binary32 values) and re-encodes to the
 * same bytes' values. */
static void wire_fuzz_coord_roundtrip(const struct wire_coord *c)
{
    uint8_t buf[WIRE_COORD_SIZE], *w = buf;
    const uint8_t *r = buf;
    struct wire_coord back;

    FUZZ_CHECK(wire_encode_coord(&w, buf + sizeof(buf), c) == 0 && w == buf + sizeof(buf));
    FUZZ_CHECK(wire_decode_coord(&back, &r, w) == 0 && r == w);
    FUZZ_CHECK(memcmp(&back, c, sizeof(back)) == 0);
}

/* The receive-path decode loop over one datagram; 0 or the error that
 * stopped it (a bad item is skipped and counted, not an error). */
static int wire_fuzz_decode(const uint8_t *data, size_t size, struct wire_fuzz_result *res)
{
    const uint8_t *pos = data, *end = data + size, *before;
    struct wire_header h;
    struct wire_peer peer;
    size_t i;
    int rc;

    memset(res, 0, sizeof(*res));
    if ((rc = wire_decode_header(&h, &pos, end)) != 0) {
        FUZZ_CHECK(pos == data);
        FUZZ_CHECK(rc == ERR_TRUNC || rc == ERR_MALFORMED || rc == ERR_VERSION);
        return rc;
    }
    FUZZ_CHECK(pos > data && pos <= end);
    FUZZ_CHECK(h.type >= 1 && h.type <= WIRE_TYPE_LAST);
    wire_fuzz_check_name(h.src, 0, data, end);
    FUZZ_CHECK(h.src_addr.len <= WIRE_ADDR_MAX);
    if (h.flags & WIRE_F_HAS_DST)
        wire_fuzz_check_name(h.dst, 0, data, end);
    res->header_ok = 1;

    if (h.type == WIRE_PING_REQ ||
        ((h.type == WIRE_PING || h.type == WIRE_ACK) && (h.flags & WIRE_F_RELAY))) {
        before = pos;
        if ((rc = wire_decode_peer(&peer, h.type, &pos, end)) != 0) {
            FUZZ_CHECK(pos == before);
            return rc;
        }
        wire_fuzz_check_name(peer.name, 0, data, end);
        FUZZ_CHECK(peer.addr.len <= WIRE_ADDR_MAX);
    }

    /* Every item takes at least WIRE_ITEM_OVERHEAD bytes: bounded loop. */
    for (i = 0; pos < end && i <= size / WIRE_ITEM_OVERHEAD; i++) {
        struct wire_item it;
        const uint8_t *ip;
        before = pos;
        if ((rc = wire_decode_item(&it, &pos, end)) != 0) {
            FUZZ_CHECK(pos == before && rc == ERR_TRUNC);
            return rc;
        }
        FUZZ_CHECK(pos == before + WIRE_ITEM_OVERHEAD + it.len);
        FUZZ_CHECK(wire_fuzz_in(it.data, it.len, data, end));
        ip = it.data;
        if (it.kind == WIRE_ITEM_MEMBER) {
            struct wire_member m;
            if (wire_decode_member(&m, &ip, it.data + it.len) == 0) {
                wire_fuzz_check_name(m.name, 0, it.data, it.data + it.len);
                wire_fuzz_check_name(m.by, 1, it.data, it.data + it.len);
                FUZZ_CHECK(m.addr.len <= WIRE_ADDR_MAX);
                FUZZ_CHECK(m.status <= WIRE_STATUS_LAST);
                FUZZ_CHECK(m.meta_len <= WIRE_META_MAX);
                FUZZ_CHECK(wire_fuzz_in(m.meta, m.meta_len, it.data, it.data + it.len));
                wire_fuzz_member_roundtrip(&m);
                res->members++;
            } else {
                FUZZ_CHECK(ip == it.data);
                res->bad_items++;
            }
        } else if (it.kind == WIRE_ITEM_USER) {
            struct wire_user u;
            if (wire_decode_user(&u, &ip, it.data + it.len) == 0) {
                wire_fuzz_check_name(u.origin, 0, it.data, it.data + it.len);
                FUZZ_CHECK(u.len <= WIRE_USER_MAX);
                FUZZ_CHECK(wire_fuzz_in(u.payload, u.len, it.data, it.data + it.len));
                wire_fuzz_user_roundtrip(&u, 0);
                res->users++;
            } else {
                FUZZ_CHECK(ip == it.data);
                res->bad_items++;
            }
        } else if (it.kind == WIRE_ITEM_DIGEST) {
            struct wire_digest d;
            if (wire_decode_digest(&d, &ip, it.data + it.len) == 0) {
                FUZZ_CHECK(wire_fuzz_in(d.sums, (size_t)4 << d.log2, it.data, it.data + it.len));
                wire_fuzz_digest_roundtrip(&d);
                res->digests++;
            } else {
                FUZZ_CHECK(ip == it.data);
                res->bad_items++;
            }
        } else if (it.kind == WIRE_ITEM_COOKIE) {
            uint64_t c, back;
            if (wire_decode_cookie(&c, &ip, it.data + it.len) == 0) {
                uint8_t buf[8], *w = buf;
                const uint8_t *r = buf;
                FUZZ_CHECK(ip == it.data + it.len);
                FUZZ_CHECK(wire_encode_cookie(&w, buf + sizeof(buf), c) == 0 && w == buf + 8);
                FUZZ_CHECK(wire_decode_cookie(&back, &r, w) == 0 && back == c);
                res->cookies++;
            } else {
                FUZZ_CHECK(ip == it.data);
                res->bad_items++;
            }
        } else if (it.kind == WIRE_ITEM_DIRECT) {
            struct wire_user u;
            if (wire_decode_direct(&u, &ip, it.data + it.len) == 0) {
                wire_fuzz_check_name(u.origin, 0, it.data, it.data + it.len);
                FUZZ_CHECK(u.len <= WIRE_DIRECT_MAX);
                FUZZ_CHECK(wire_fuzz_in(u.payload, u.len, it.data, it.data + it.len));
                wire_fuzz_user_roundtrip(&u, 1);
                res->directs++;
            } else {
                FUZZ_CHECK(ip == it.data);
                res->bad_items++;
            }
        } else if (it.kind == WIRE_ITEM_COORD) {
            struct wire_coord c;
            if (wire_decode_coord(&c, &ip, it.data + it.len) == 0) {
                FUZZ_CHECK(ip == it.data + it.len);
                wire_fuzz_coord_roundtrip(&c);
                res->coords++;
            } else {
                FUZZ_CHECK(ip == it.data);
                res->bad_items++;
            }
        } else {
            res->unknown_items++;
        }
    }
    FUZZ_CHECK(pos == end);
    res->complete = 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct wire_fuzz_result res;
    (void)wire_fuzz_decode(data, size, &res);
    (void)fuzz_core_feed(data, size);
    return 0;
}
