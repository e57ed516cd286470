/*
 * fuzz_replay_test.c - runs the libFuzzer entry of tests/fuzz/wire_fuzz.c on
 * seeded inputs, so every build (gcc + ASan/UBSan included) exercises the
 * decoder contract checks and the core's receive path without clang.
 *
 * wire_fuzz.c is #included: its entry points are static apart from
 * LLVMFuzzerTestOneInput, and a contract violation aborts, which Check
 * reports as an error in fork mode.  Inputs are of two kinds: random bytes
 * (half of them behind a valid magic and version), and valid datagrams
 * built with the encoders, then mutated (byte flips, boundary values in
 * length fields, truncation, insertion, duplication), the way a fuzzer's
 * mutators explore.  Fixed seeds keep every run identical; set
 * WIRE_FUZZ_SEED to explore others.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire_fuzz.c"

#define FR_SEED 0xF022ULL
/* 10,000 random + 10,000 mutated inputs: the brief's ~20,000, a few
 * seconds under sanitizers. */
#define FR_RANDOM_INPUTS 10000
#define FR_MUTATED_INPUTS 10000
#define FR_VALID_INPUTS 1000
#define FR_MAX_LEN 1400

/* Check's passing assertions are not free (each records a mark point with
 * the parent process); loops over thousands of inputs use this instead. */
#define FR_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ck_abort_msg(__VA_ARGS__);                                                             \
    } while (0)

static uint64_t fr_rand(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t fr_seed(void)
{
    const char *s = getenv("WIRE_FUZZ_SEED");
    return s != NULL && *s != '\0' ? strtoull(s, NULL, 0) : FR_SEED;
}

static const char *const fr_names[] = {"fuzz-self", "n1", "node-two", "a-much-longer-node-name"};

static struct wire_name fr_name(uint64_t *x)
{
    const char *s = fr_names[fr_rand(x) % (sizeof(fr_names) / sizeof(fr_names[0]))];
    struct wire_name n = {s, (uint8_t)strlen(s)};
    return n;
}

static struct swim_addr fr_addr(uint64_t *x)
{
    struct swim_addr a;
    memset(&a, 0, sizeof(a));
    a.len = 2;
    a.bytes[1] = (uint8_t)(fr_rand(x) % 4);
    return a;
}

/* What a valid datagram should decode to. */
struct fr_expect {
    int members, users, cookies, coords, directs, unknown;
};

/* A valid datagram of a random type with random items, fitting in cap. */
static size_t fr_valid(uint64_t *x, uint8_t *buf, size_t cap, struct fr_expect *exp)
{
    static const uint8_t blob[WIRE_META_MAX] = {'k', '=', 'v'};
    uint8_t *w = buf, *end = buf + cap;
    struct wire_header h;
    int i, n_items = (int)(fr_rand(x) % 8);

    memset(exp, 0, sizeof(*exp));
    memset(&h, 0, sizeof(h));
    h.type = (uint8_t)(1 + fr_rand(x) % WIRE_TYPE_LAST);
    h.flags = (uint8_t)(fr_rand(x) & WIRE_F_ALL);
    /* wire.h: only PING and ACK carry a relay body. */
    if (h.type != WIRE_PING && h.type != WIRE_ACK)
        h.flags &= (uint8_t)~WIRE_F_RELAY;
    h.src = fr_name(x);
    h.src_addr = fr_addr(x);
    h.src_gen = fr_rand(x) % 3;
    h.src_inc = (uint32_t)(fr_rand(x) % 3);
    h.dst = fr_name(x);
    h.dst_gen = fr_rand(x) % 3;
    h.seq = (uint32_t)fr_rand(x);
    FR_CHECK(wire_encode_header(&w, end, &h) == 0, "encoder failed");
    if (h.type == WIRE_PING_REQ ||
        ((h.type == WIRE_PING || h.type == WIRE_ACK) && (h.flags & WIRE_F_RELAY))) {
        struct wire_peer p;
        memset(&p, 0, sizeof(p));
        p.name = fr_name(x);
        p.addr = fr_addr(x);
        p.gen = fr_rand(x) % 3;
        p.seq = (uint32_t)fr_rand(x);
        FR_CHECK(wire_encode_peer(&w, end, h.type, &p) == 0, "encoder failed");
    }
    for (i = 0; i < n_items; i++) {
        uint8_t body[1024], *b = body;
        unsigned kind = (unsigned)(fr_rand(x) % 8);
        if (kind <= 1) {
            struct wire_member m;
            memset(&m, 0, sizeof(m));
            m.name = fr_name(x);
            m.addr = fr_addr(x);
            m.gen = fr_rand(x) % 3;
            m.inc = (uint32_t)(fr_rand(x) % 3);
            m.status = (uint8_t)(fr_rand(x) % (WIRE_STATUS_LAST + 1));
            m.meta = blob;
            m.meta_len = (uint16_t)(fr_rand(x) % 2 ? 3 : fr_rand(x) % 64);
            if (kind == 1)
                m.by = fr_name(x);
            FR_CHECK(wire_encode_member(&b, body + sizeof(body), &m) == 0, "encoder failed");
            kind = WIRE_ITEM_MEMBER;
        } else if (kind == 2) {
            struct wire_user u;
            memset(&u, 0, sizeof(u));
            u.origin = fr_name(x);
            u.origin_gen = fr_rand(x) % 3;
            u.id = (uint32_t)(fr_rand(x) % 5);
            u.payload = blob;
            u.len = (uint16_t)(fr_rand(x) % 40);
            FR_CHECK(wire_encode_user(&b, body + sizeof(body), &u) == 0, "encoder failed");
            kind = WIRE_ITEM_USER;
        } else if (kind == 3) {
            FR_CHECK(wire_encode_cookie(&b, body + sizeof(body), fr_rand(x)) == 0,
                     "encoder failed");
            kind = WIRE_ITEM_COOKIE;
        } else if (kind == 4) {
            struct wire_coord c;
            memset(&c, 0, sizeof(c));
            for (size_t d = 0; d < WIRE_COORD_DIM; d++)
                c.vec[d] = (double)(int64_t)(fr_rand(x) % 2001) / 1000.0 - 1.0;
            c.height = 1e-5;
            c.error = (double)(fr_rand(x) % 16) / 10.0;
            FR_CHECK(wire_encode_coord(&b, body + sizeof(body), &c) == 0, "encoder failed");
            kind = WIRE_ITEM_COORD;
        } else if (kind == 5) {
            struct wire_user u;
            memset(&u, 0, sizeof(u));
            u.origin = fr_name(x);
            u.origin_gen = fr_rand(x) % 3;
            u.id = (uint32_t)(fr_rand(x) % 5);
            u.payload = blob;
            u.len = (uint16_t)(fr_rand(x) % 2 ? 3 : fr_rand(x) % WIRE_META_MAX);
            FR_CHECK(wire_encode_direct(&b, body + sizeof(body), &u) == 0, "encoder failed");
            kind = WIRE_ITEM_DIRECT;
        } else {
            size_t k, n = (size_t)(fr_rand(x) % 16);
            for (k = 0; k < n; k++)
                *b++ = (uint8_t)fr_rand(x);
            kind = WIRE_ITEM_DIRECT + 1 + (unsigned)(fr_rand(x) % 249); /* unknown */
        }
        if (wire_encode_item(&w, end, (uint8_t)kind, body, (size_t)(b - body)) != 0)
            break; /* full: the datagram ends here, as a sender's would */
        exp->members += kind == WIRE_ITEM_MEMBER;
        exp->users += kind == WIRE_ITEM_USER;
        exp->cookies += kind == WIRE_ITEM_COOKIE;
        exp->coords += kind == WIRE_ITEM_COORD;
        exp->directs += kind == WIRE_ITEM_DIRECT;
        exp->unknown += kind != WIRE_ITEM_MEMBER && kind != WIRE_ITEM_USER &&
                        kind != WIRE_ITEM_COOKIE && kind != WIRE_ITEM_COORD &&
                        kind != WIRE_ITEM_DIRECT;
    }
    return (size_t)(w - buf);
}

/* One to four mutations of the kinds libFuzzer's mutators apply. */
static size_t fr_mutate(uint64_t *x, uint8_t *buf, size_t n, size_t cap)
{
    static const uint8_t interesting[] = {0, 1, 2, 0x3f, 0x40, 0x41, 0x7f, 0x80, 0xfe, 0xff};
    int m, rounds = 1 + (int)(fr_rand(x) % 4);

    for (m = 0; m < rounds; m++) {
        size_t at = n ? (size_t)(fr_rand(x) % n) : 0, len;
        switch (fr_rand(x) % 6) {
        case 0: /* flip a bit */
            if (n)
                buf[at] ^= (uint8_t)(1u << (fr_rand(x) % 8));
            break;
        case 1: /* an interesting byte (length fields live on boundaries) */
            if (n)
                buf[at] = interesting[fr_rand(x) % sizeof(interesting)];
            break;
        case 2: /* truncate */
            n = at;
            break;
        case 3: /* insert random bytes */
            len = 1 + (size_t)(fr_rand(x) % 8);
            if (n + len <= cap) {
                size_t k;
                memmove(buf + at + len, buf + at, n - at);
                for (k = 0; k < len; k++)
                    buf[at + k] = (uint8_t)fr_rand(x);
                n += len;
            }
            break;
        case 4: /* duplicate a region at the end */
            len = n - at < 64 ? n - at : 64;
            if (n + len <= cap) {
                memmove(buf + n, buf + at, len);
                n += len;
            }
            break;
        default: /* random 16-bit value (item lengths, meta lengths) */
            if (n >= 2 && at + 1 < n) {
                uint16_t v = (uint16_t)fr_rand(x);
                buf[at] = (uint8_t)(v >> 8);
                buf[at + 1] = (uint8_t)v;
            }
            break;
        }
    }
    return n;
}

/* Run one input through the fuzz entry from an exactly-sized heap copy, so
 * AddressSanitizer sees any read past its end. */
static void fr_run(const uint8_t *data, size_t n, struct wire_fuzz_result *res)
{
    uint8_t *copy = malloc(n ? n : 1);
    FR_CHECK(copy != NULL, "out of memory");
    if (n)
        memcpy(copy, data, n);
    FR_CHECK(LLVMFuzzerTestOneInput(copy, n) == 0, "fuzz entry returned nonzero");
    (void)wire_fuzz_decode(copy, n, res);
    free(copy);
}

/* The generator and the harness's oracle agree on valid input. */
START_TEST(wire_test_fuzz_replay_valid)
{
    uint64_t x = fr_seed();
    int i, rc;

    for (i = 0; i < FR_VALID_INPUTS; i++) {
        uint8_t buf[FR_MAX_LEN];
        struct fr_expect exp;
        struct wire_fuzz_result res;
        size_t n = fr_valid(&x, buf, sizeof(buf), &exp);

        fr_run(buf, n, &res);
        FR_CHECK(res.header_ok && res.complete, "valid input %d did not decode", i);
        /* The core accepts every well-formed datagram. */
        rc = fuzz_core_feed(buf, n);
        FR_CHECK(rc == 0, "valid input %d (type %u, flags %u): core returned %d", i, buf[2], buf[3],
                 rc);
        FR_CHECK(
            res.members == exp.members && res.users == exp.users && res.cookies == exp.cookies &&
                res.coords == exp.coords && res.directs == exp.directs &&
                res.unknown_items == exp.unknown && res.bad_items == 0,
            "input %d: %d/%d members, %d/%d users, %d/%d cookies, %d/%d coords, %d/%d "
            "directs, %d/%d unknown, %d bad",
            i, res.members, exp.members, res.users, exp.users, res.cookies, exp.cookies, res.coords,
            exp.coords, res.directs, exp.directs, res.unknown_items, exp.unknown, res.bad_items);
    }
}
END_TEST

START_TEST(wire_test_fuzz_replay)
{
    uint64_t x = fr_seed() ^ 0xA5A5A5A5ULL;
    int i, complete = 0, failed = 0, bad_items = 0, deep = 0;

    for (i = 0; i < FR_RANDOM_INPUTS + FR_MUTATED_INPUTS; i++) {
        uint8_t buf[FR_MAX_LEN + 64];
        struct wire_fuzz_result res;
        size_t n, k;

        if (i < FR_RANDOM_INPUTS) {
            n = (size_t)(fr_rand(&x) % 600);
            for (k = 0; k < n; k++)
                buf[k] = (uint8_t)fr_rand(&x);
            if ((i & 1) && n >= 3) {
                buf[0] = WIRE_MAGIC;
                buf[1] = WIRE_VERSION;
                buf[2] = (uint8_t)(1 + fr_rand(&x) % WIRE_TYPE_LAST);
            }
        } else {
            struct fr_expect exp;
            n = fr_valid(&x, buf, FR_MAX_LEN, &exp);
            n = fr_mutate(&x, buf, n, sizeof(buf));
        }
        fr_run(buf, n, &res);
        complete += res.complete;
        failed += !res.complete;
        bad_items += res.bad_items;
        deep += res.members + res.users > 0;
    }
    /* Both outcomes must occur, or the inputs explore nothing. */
    ck_assert_int_gt(complete, 100);
    ck_assert_int_gt(failed, 100);
    ck_assert_int_gt(bad_items, 0);
    ck_assert_int_gt(deep, 100);
}
END_TEST

/* Edge inputs: empty, one byte, header-only prefixes of a valid datagram. */
START_TEST(wire_test_fuzz_replay_edges)
{
    uint64_t x = fr_seed() + 1;
    uint8_t buf[FR_MAX_LEN];
    struct fr_expect exp;
    struct wire_fuzz_result res;
    size_t n = fr_valid(&x, buf, sizeof(buf), &exp), k;

    fr_run(buf, 0, &res);
    ck_assert_int_eq(res.header_ok, 0);
    for (k = 0; k <= n; k++)
        fr_run(buf, k, &res);
    ck_assert_int_eq(res.complete, 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fuzz_replay");
    TCase *tc = tcase_create("replay");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 150);
    tcase_add_test(tc, wire_test_fuzz_replay_valid);
    tcase_add_test(tc, wire_test_fuzz_replay);
    tcase_add_test(tc, wire_test_fuzz_replay_edges);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
