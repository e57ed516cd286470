/*
 * guard_test.c - hostile input in the simulated world: a flood of forged
 * members against the table bound (max_members), a datagram whose records
 * evict its own sender at that bound, and forged-source join requests
 * against the anti-amplification limit (cookies).
 *
 * Each test loops over the testworld seeds; SIM_SEED=<seed> replays one.
 */
#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "sim.h"
#include "swim.h"
#include "swim_int.h" /* the table's storage, swim__table_consistent */
#include "testworld.h"
#include "wire.h"

/* Forge `count` alive members with fresh names, one GOSSIP datagram each,
 * from node src to node dst (names "forged-<tag>-<i>"). */
static void flood_names(struct sim *w, int src, int dst, int tag, int count)
{
    uint8_t buf[1400];
    char name[32];
    for (int i = 0; i < count; i++) {
        struct wire_member r;
        memset(&r, 0, sizeof(r));
        snprintf(name, sizeof(name), "forged-%d-%d", tag, i);
        r.name.ptr = name;
        r.name.len = (uint8_t)strlen(name);
        r.addr.len = 6;
        r.addr.bytes[0] = 10;
        r.addr.bytes[3] = (uint8_t)i;
        r.gen = 1;
        r.status = WIRE_ALIVE;
        size_t len = tw_forge(w, buf, sizeof(buf), WIRE_GOSSIP, 0, src, &r, 1);
        ck_assert_int_eq(sim_inject(w, src, dst, buf, len), 0);
        if (i % 64 == 63)
            sim_run_for(w, 1);
    }
    sim_run_for(w, 1);
}

/* Every real node of the world is still known to `node`, alive. */
static void assert_world_alive(struct sim *w, int node, int n)
{
    for (int k = 0; k < n; k++)
        if (k != node)
            SIM_ASSERT(w, sim_status(w, node, k) == SWIM_ALIVE, "n%d sees n%d as %d", node, k,
                       sim_status(w, node, k));
}

/* Forged names beyond max_members are refused and counted; the members
 * already known stay, alive. */
START_TEST(swim_test_member_flood_bounded)
{
    const int n = 8, bound = 32;
    for (int si = 0; si < tw_seed_count(); si++) {
        struct swim_config c = tw_profile("lan");
        c.max_members = bound;
        struct sim *w = tw_world(tw_seed_at(si), n, &c);
        tw_converge(w, 20000);
        flood_names(w, 1, 0, 0, 2000);
        struct swim_stats st;
        swim_get_stats(sim_swim(w, 0), &st);
        SIM_ASSERT(w, swim_member_count(sim_swim(w, 0)) <= (size_t)bound, "%zu members held",
                   swim_member_count(sim_swim(w, 0)));
        SIM_ASSERT(w, st.members_refused >= 2000 - bound, "only %llu refused",
                   (unsigned long long)st.members_refused);
        assert_world_alive(w, 0, n);
        /* ... and long after, with the strangers suspected, failed and
         * gossiped about, the table still holds and the cluster is whole. */
        sim_run_for(w, 30000);
        flood_names(w, 2, 0, 1, 500);
        SIM_ASSERT(w, swim_member_count(sim_swim(w, 0)) <= (size_t)bound, "%zu members held",
                   swim_member_count(sim_swim(w, 0)));
        for (int k = 0; k < n; k++)
            SIM_ASSERT(w, swim_member_count(sim_swim(w, k)) <= (size_t)bound,
                       "n%d holds %zu members", k, swim_member_count(sim_swim(w, k)));
        assert_world_alive(w, 0, n);
        sim_delete(w);
    }
}
END_TEST

/* At the bound a stranger takes the place of the oldest tombstone (a reap,
 * notified), never of a live member. */
START_TEST(swim_test_member_bound_evicts_oldest_tombstone)
{
    const int n = 6;
    for (int si = 0; si < tw_seed_count(); si++) {
        struct swim_config c = tw_profile("lan");
        c.max_members = n - 1;
        struct sim *w = tw_world(tw_seed_at(si), n, &c);
        tw_converge(w, 20000);
        ck_assert_int_eq(sim_leave(w, 5), 0);
        struct tw_subject left = {5, SWIM_LEFT};
        ck_assert_uint_lt(sim_run_until_pred(w, tw_pred_all_see, &left, 20000), UINT64_MAX);
        flood_names(w, 1, 0, 0, 1);
        SIM_ASSERT(w, sim_status(w, 0, 5) == -1, "n0 still holds the tombstone of n5");
        SIM_ASSERT(w, sim_notified_about(w, 0, SWIM_EV_MEMBER_REAPED, 5) == 1,
                   "n5's eviction was not notified");
        struct swim_member_info m;
        ck_assert_int_eq(swim_member_find(sim_swim(w, 0), "forged-0-0", &m), 0);
        struct swim_stats st;
        swim_get_stats(sim_swim(w, 0), &st);
        ck_assert_uint_eq(st.members_refused, 0);
        flood_names(w, 1, 0, 1, 100);
        swim_get_stats(sim_swim(w, 0), &st);
        SIM_ASSERT(w, st.members_refused == 100, "%llu refused",
                   (unsigned long long)st.members_refused);
        assert_world_alive(w, 0, n - 1);
        sim_delete(w);
    }
}
END_TEST

/* Round after round of strangers that come, fail and are evicted at the
 * bound: the entries of the evicted are reused, so the table's storage
 * never holds more than max_members entries, and every entry is a
 * member's or free, once (swim__table_consistent). */
START_TEST(swim_test_member_entries_reused_after_eviction)
{
    const int n = 6, bound = 16;
    for (int si = 0; si < tw_seed_count(); si++) {
        struct swim_config c = tw_profile("lan");
        c.max_members = bound;
        struct sim *w = tw_world(tw_seed_at(si), n, &c);
        tw_converge(w, 20000);
        for (int round = 0; round < 4; round++) {
            flood_names(w, 1, 0, round, bound);
            sim_run_for(w, 30000); /* the strangers fail: tombstones to evict */
            for (int k = 0; k < n; k++) {
                const struct swim *x = sim_swim(w, k);
                SIM_ASSERT(w, swim__table_consistent(x), "round %d: n%d's table is inconsistent",
                           round, k);
                SIM_ASSERT(w, x->n_store <= (uint32_t)bound, "round %d: n%d stores %u entries",
                           round, k, x->n_store);
            }
        }
        assert_world_alive(w, 0, n);
        sim_delete(w);
    }
}
END_TEST

/* A partition's worth of tombstones reaped in one sweep costs O(N), not a
 * scan of the probe list per removal (O(N) each, so O(N^2) a sweep): the
 * sweep maps the list's places first (swim__member_sweep_begin).  Every
 * survivor reaps every dead member, its table stays whole, and it probes
 * on without a false failure. */
START_TEST(swim_test_mass_reap_is_linear)
{
    const int n = 100, dead = 60;
    for (int si = 0; si < tw_seed_count(); si++) {
        struct swim_config c = tw_profile("lan");
        c.reap_ms = 20000;
        struct sim *w = tw_world(tw_seed_at(si), n, &c);
        tw_converge(w, 30000);
        uint64_t scanned[100];
        for (int k = 0; k < n; k++)
            scanned[k] = sim_swim(w, k)->probe_scanned;
        for (int k = n - dead; k < n; k++)
            ck_assert_int_eq(sim_kill(w, k), 0);
        sim_run_for(w, 60000);
        for (int k = 0; k < n - dead; k++) {
            struct swim *x = sim_swim(w, k);
            for (int d = n - dead; d < n; d++)
                SIM_ASSERT(w, sim_notified_about(w, k, SWIM_EV_MEMBER_REAPED, d) == 1,
                           "n%d reaped n%d %llu times", k, d,
                           (unsigned long long)sim_notified_about(w, k, SWIM_EV_MEMBER_REAPED, d));
            SIM_ASSERT(w, swim__table_consistent(x), "n%d's table is inconsistent", k);
            /* Sweeps of at most REAP_SCAN_MAX (8) scan: one find per removal
             * (the bound allows two, as before entries kept no place in `all`). */
            uint64_t bound = 2ull * dead * 8;
            SIM_ASSERT(w, x->probe_scanned - scanned[k] <= bound,
                       "n%d read %llu probe list entries to reap %d (bound %llu)", k,
                       (unsigned long long)(x->probe_scanned - scanned[k]), dead,
                       (unsigned long long)bound);
        }
        assert_world_alive(w, 0, n - dead);
        sim_delete(w);
    }
}
END_TEST

/* --------------------------------------------- amplification, one instance */

/* A runtime that records what the instance sends. */
struct capture {
    size_t datagrams, bytes;
    uint8_t last[1400];
    size_t last_len;
    struct swim_addr last_to;
};

static void cap_notify(void *ctx, const struct swim_notification *n)
{
    (void)ctx;
    (void)n;
}

static void cap_send(void *ctx, const struct swim_addr *to, const uint8_t *data, size_t len)
{
    struct capture *c = ctx;
    c->datagrams++;
    c->bytes += len;
    c->last_len = len < sizeof(c->last) ? len : sizeof(c->last);
    memcpy(c->last, data, c->last_len);
    c->last_to = *to;
}

static void cap_timer(void *ctx, const struct swim_timer *t, uint64_t delay_ms)
{
    (void)ctx;
    (void)t;
    (void)delay_ms;
}

static struct swim_addr addr_of(int i)
{
    struct swim_addr a = {.len = 6, .bytes = {10, 0, (uint8_t)(i >> 8), (uint8_t)i, 0x1f, 0x0a}};
    return a;
}

/* name's record at address a with `status` (generation 1). */
static struct wire_member record_of(const char *name, const struct swim_addr *a, uint8_t status)
{
    struct wire_member r;
    memset(&r, 0, sizeof(r));
    r.name.ptr = name;
    r.name.len = (uint8_t)strlen(name);
    r.addr = *a;
    r.gen = 1;
    r.status = status;
    return r;
}

/* A datagram of `type` from `name` at address a, carrying name's alive
 * record (with_record) and a cookie item (cookie != NULL). */
static size_t forge(uint8_t *buf, size_t cap, uint8_t type, uint8_t flags, const char *name,
                    const struct swim_addr *a, bool with_record, const uint64_t *cookie)
{
    struct wire_header h;
    memset(&h, 0, sizeof(h));
    h.type = type;
    h.flags = flags;
    h.src.ptr = name;
    h.src.len = (uint8_t)strlen(name);
    h.src_addr = *a;
    h.src_gen = 1;
    uint8_t *p = buf, body[256], *b = body;
    ck_assert_int_eq(wire_encode_header(&p, buf + cap, &h), 0);
    if (with_record) {
        struct wire_member r = record_of(name, a, WIRE_ALIVE);
        ck_assert_int_eq(wire_encode_member(&b, body + sizeof(body), &r), 0);
        ck_assert_int_eq(
            wire_encode_item(&p, buf + cap, WIRE_ITEM_MEMBER, body, (size_t)(b - body)), 0);
    }
    if (cookie != NULL) {
        b = body;
        ck_assert_int_eq(wire_encode_cookie(&b, body + sizeof(body), *cookie), 0);
        ck_assert_int_eq(
            wire_encode_item(&p, buf + cap, WIRE_ITEM_COOKIE, body, (size_t)(b - body)), 0);
    }
    return (size_t)(p - buf);
}

/* A seed of config cfg and PRNG seed `seed` that knows `members` members
 * (m1, m2, ... at addr_of(1), addr_of(2), ...), each learned from its own
 * GOSSIP (so its queue holds them all: every answer could piggyback a full
 * datagram). */
static struct swim *seed_of(const struct swim_config *cfg, uint64_t seed, int members,
                            struct capture *c)
{
    struct swim_runtime rt = {c, cap_notify, cap_send, cap_timer, NULL, NULL};
    struct swim_addr self = addr_of(0);
    struct swim *s = swim_new(cfg, "seed", &self, 1, seed, &rt);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(swim_start(s, 0), 0);
    uint8_t buf[1400];
    char name[16];
    for (int i = 1; i <= members; i++) {
        struct swim_addr a = addr_of(i);
        snprintf(name, sizeof(name), "m%d", i);
        size_t n = forge(buf, sizeof(buf), WIRE_GOSSIP, 0, name, &a, true, NULL);
        ck_assert_int_eq(swim_handle_packet(s, &a, buf, n, 1), 0);
    }
    ck_assert_uint_eq(swim_member_count(s), (size_t)members);
    return s;
}

/* seed_of in the lan profile. */
static struct swim *seed_with(int members, struct capture *c)
{
    struct swim_config cfg = tw_profile("lan");
    return seed_of(&cfg, 42, members, c);
}

/* The cookie in the last datagram sent (a FEED carrying only a cookie). */
static uint64_t cookie_sent(const struct capture *c)
{
    struct wire_header h;
    struct wire_item it;
    const uint8_t *p = c->last, *end = c->last + c->last_len;
    uint64_t cookie = 0;
    ck_assert_int_eq(wire_decode_header(&h, &p, end), 0);
    ck_assert_uint_eq(h.type, WIRE_FEED);
    ck_assert_int_eq(wire_decode_item(&it, &p, end), 0);
    ck_assert_uint_eq(it.kind, WIRE_ITEM_COOKIE);
    const uint8_t *ip = it.data;
    ck_assert_int_eq(wire_decode_cookie(&cookie, &ip, it.data + it.len), 0);
    ck_assert_ptr_eq(p, end);
    return cookie;
}

/* A join request with a fresh name from a forged source draws at most
 * three times its size, and changes nothing; echoing the cookie from the
 * address it was sent to draws the table. */
START_TEST(swim_test_forged_announce_answer_bounded)
{
    struct capture c = {0};
    struct swim *s = seed_with(30, &c);
    struct swim_addr victim = addr_of(999);
    uint8_t buf[1400];
    size_t len = forge(buf, sizeof(buf), WIRE_ANNOUNCE, 0, "fresh", &victim, true, NULL);
    size_t before = c.bytes;
    ck_assert_int_eq(swim_handle_packet(s, &victim, buf, len, 100), 0);
    ck_assert_uint_eq(c.datagrams > 0, 1);
    ck_assert_uint_le(c.bytes - before, 3 * len);
    struct swim_member_info m;
    ck_assert_int_eq(swim_member_find(s, "fresh", &m), ERR_NOTFOUND);
    ck_assert_uint_eq(swim_member_count(s), 30);

    /* A wrong cookie, or the right one from another address: the same. */
    uint64_t cookie = cookie_sent(&c), wrong = cookie ^ 1;
    len = forge(buf, sizeof(buf), WIRE_ANNOUNCE, 0, "fresh", &victim, true, &wrong);
    before = c.bytes;
    ck_assert_int_eq(swim_handle_packet(s, &victim, buf, len, 200), 0);
    ck_assert_uint_le(c.bytes - before, 3 * len);
    struct swim_addr other = addr_of(998);
    len = forge(buf, sizeof(buf), WIRE_ANNOUNCE, 0, "fresh", &other, true, &cookie);
    before = c.bytes;
    ck_assert_int_eq(swim_handle_packet(s, &other, buf, len, 200), 0);
    ck_assert_uint_le(c.bytes - before, 3 * len);
    ck_assert_int_eq(swim_member_find(s, "fresh", &m), ERR_NOTFOUND);

    /* The joiner that receives at that address echoes it: the table. */
    len = forge(buf, sizeof(buf), WIRE_ANNOUNCE, 0, "fresh", &victim, true, &cookie);
    before = c.bytes;
    ck_assert_int_eq(swim_handle_packet(s, &victim, buf, len, 300), 0);
    ck_assert_uint_gt(c.bytes - before, 3 * len);
    ck_assert_int_eq(swim_member_find(s, "fresh", &m), 0);
    /* ... and the cookie of the period before still holds. */
    len = forge(buf, sizeof(buf), WIRE_ANNOUNCE, 0, "late", &victim, true, &cookie);
    ck_assert_int_eq(swim_handle_packet(s, &victim, buf, len, 10000 + 300), 0); /* a period later */
    ck_assert_int_eq(swim_member_find(s, "late", &m), 0);
    swim_delete(s);
}
END_TEST

/* Every other answer to a source we do not know at its address (an ACK to
 * a PING, our record to a GOSSIP asking for it, an anti-entropy answer)
 * stays within three times the request, however much is queued. */
START_TEST(swim_test_unproven_answers_bounded)
{
    static const struct {
        uint8_t type, flags;
    } asks[] = {
        {WIRE_PING, 0},
        {WIRE_GOSSIP, WIRE_F_WANT_REPLY},
        {WIRE_SYNC, WIRE_F_WANT_REPLY},
        {WIRE_SYNC, 0},
        {WIRE_NACK, 0},
        {WIRE_ACK, WIRE_F_WANT_REPLY},
    };
    struct capture c = {0};
    struct swim *s = seed_with(30, &c);
    struct swim_stats st;
    swim_get_stats(s, &st);
    ck_assert_uint_gt(st.pending_updates, 20); /* a full datagram's worth */
    for (size_t i = 0; i < sizeof(asks) / sizeof(asks[0]); i++) {
        /* A stranger, then a known member's name from another address. */
        for (int known = 0; known <= 1; known++) {
            struct swim_addr victim = addr_of(500 + (int)i);
            uint8_t buf[1400];
            size_t len = forge(buf, sizeof(buf), asks[i].type, asks[i].flags,
                               known ? "m3" : "stranger", &victim, false, NULL);
            size_t before = c.bytes;
            ck_assert_int_eq(swim_handle_packet(s, &victim, buf, len, 1000 + 10 * i), 0);
            ck_assert_msg(c.bytes - before <= 3 * len, "type %u: %zu bytes for %zu", asks[i].type,
                          c.bytes - before, len);
        }
    }
    /* A known member at its address is answered in full. */
    struct swim_addr a3 = addr_of(3);
    uint8_t buf[1400];
    size_t len = forge(buf, sizeof(buf), WIRE_PING, 0, "m3", &a3, false, NULL);
    size_t before = c.bytes;
    ck_assert_int_eq(swim_handle_packet(s, &a3, buf, len, 2000), 0);
    ck_assert_uint_gt(c.bytes - before, 3 * len);
    swim_delete(s);
}
END_TEST

/* A joiner echoes a cookie once per announce: in full to the seed it
 * announced to, within the amplification limit to any other address, and
 * not at all when it announced nothing. */
START_TEST(swim_test_joiner_echoes_only_its_seeds_cookies)
{
    struct capture c = {0};
    struct swim_config cfg = tw_profile("lan");
    struct swim_runtime rt = {&c, cap_notify, cap_send, cap_timer, NULL, NULL};
    struct swim_addr self = addr_of(1), seed = addr_of(2), forger = addr_of(3);
    struct swim *j = swim_new(&cfg, "joiner", &self, 1, 7, &rt);
    ck_assert_ptr_nonnull(j);
    ck_assert_int_eq(swim_start(j, 0), 0);
    uint8_t meta[400] = {0};
    ck_assert_int_eq(swim_set_meta(j, meta, sizeof(meta), 0), 0); /* a large record */
    uint8_t buf[1400];
    uint64_t cookie = 0x1234;
    size_t len = forge(buf, sizeof(buf), WIRE_FEED, 0, "seed", &forger, false, &cookie);
    size_t before = c.datagrams;
    ck_assert_int_eq(swim_handle_packet(j, &forger, buf, len, 10), 0);
    ck_assert_uint_eq(c.datagrams, before); /* announced nothing: no echo */

    ck_assert_int_eq(swim_announce(j, &seed, 20), 0);
    before = c.bytes;
    ck_assert_int_eq(swim_handle_packet(j, &forger, buf, len, 30), 0);
    ck_assert_uint_le(c.bytes - before, 3 * len); /* not the 400-byte record */
    ck_assert_int_eq(swim_announce(j, &seed, 40), 0);
    size_t sent = c.datagrams;
    len = forge(buf, sizeof(buf), WIRE_FEED, 0, "seed", &seed, false, &cookie);
    ck_assert_int_eq(swim_handle_packet(j, &seed, buf, len, 50), 0);
    ck_assert_uint_eq(c.datagrams, sent + 1);
    ck_assert_uint_gt(c.last_len, 400);
    ck_assert_int_eq(memcmp(c.last_to.bytes, seed.bytes, seed.len), 0);
    ck_assert_int_eq(swim_handle_packet(j, &seed, buf, len, 60), 0);
    ck_assert_uint_eq(c.datagrams, sent + 1); /* once per announce */
    swim_delete(j);
}
END_TEST

/* A datagram of `type` from `name` at address a carrying rec and, when
 * `digest`, a one-bucket DIGEST item whose sum is 0. */
static size_t forge_with(uint8_t *buf, size_t cap, uint8_t type, uint8_t flags, const char *name,
                         const struct swim_addr *a, const struct wire_member *rec, bool digest)
{
    uint8_t *p = buf + forge(buf, cap, type, flags, name, a, false, NULL), body[256], *b = body;
    ck_assert_int_eq(wire_encode_member(&b, body + sizeof(body), rec), 0);
    ck_assert_int_eq(wire_encode_item(&p, buf + cap, WIRE_ITEM_MEMBER, body, (size_t)(b - body)),
                     0);
    if (digest) {
        const uint32_t sums[1] = {0};
        b = body;
        ck_assert_int_eq(wire_encode_digest(&b, body + sizeof(body), 0, sums), 0);
        ck_assert_int_eq(
            wire_encode_item(&p, buf + cap, WIRE_ITEM_DIGEST, body, (size_t)(b - body)), 0);
    }
    return (size_t)(p - buf);
}

/* At the bound, the records of a SYNC can evict its own sender (the oldest
 * tombstone, here a member that left), and the entry it had is reused for
 * the stranger they bring.  The SYNC is then from a member no longer
 * known: not answered (only a member we know gets our table, sync.c),
 * whole-table or digest, rather than answered as though the stranger's
 * entry were the sender's. */
START_TEST(swim_test_sync_from_sender_it_evicts_unanswered)
{
    const int bound = 4;
    for (int si = 0; si < tw_seed_count(); si++) {
        uint64_t seed = tw_seed_at(si);
        for (int digest = 0; digest <= 1; digest++) {
            struct capture c = {0};
            struct swim_config cfg = tw_profile("lan");
            cfg.max_members = bound;
            struct swim *s = seed_of(&cfg, seed, bound, &c);
            struct swim_addr a1 = addr_of(1), a9 = addr_of(9);
            uint8_t buf[1400];
            /* m1 leaves: the table's one tombstone, so its oldest. */
            struct wire_member left = record_of("m1", &a1, WIRE_LEFT);
            size_t n = forge_with(buf, sizeof(buf), WIRE_GOSSIP, 0, "m1", &a1, &left, false);
            ck_assert_int_eq(swim_handle_packet(s, &a1, buf, n, 10), 0);
            struct swim_member_info m;
            ck_assert_int_eq(swim_member_find(s, "m1", &m), 0);
            ck_assert_int_eq(m.status, SWIM_LEFT);
            ck_assert_uint_eq(swim_member_count(s), (size_t)bound);

            /* m1, from its address, asks for our table with a stranger's
             * record. */
            struct wire_member stranger = record_of("stranger", &a9, WIRE_ALIVE);
            n = forge_with(buf, sizeof(buf), WIRE_SYNC, WIRE_F_WANT_REPLY, "m1", &a1, &stranger,
                           digest);
            size_t before = c.datagrams;
            ck_assert_int_eq(swim_handle_packet(s, &a1, buf, n, 20), 0);
            ck_assert_msg(swim_member_find(s, "m1", &m) == ERR_NOTFOUND,
                          "seed %llu, digest %d: m1 was not evicted", (unsigned long long)seed,
                          digest);
            ck_assert_msg(swim_member_find(s, "stranger", &m) == 0 && m.status == SWIM_ALIVE,
                          "seed %llu, digest %d: the stranger was not taken",
                          (unsigned long long)seed, digest);
            struct wire_header h = {0};
            const uint8_t *p = c.last;
            if (c.datagrams > before)
                ck_assert_int_eq(wire_decode_header(&h, &p, c.last + c.last_len), 0);
            ck_assert_msg(c.datagrams == before,
                          "seed %llu, digest %d: the evicted sender was answered: %zu datagrams, "
                          "the last of type %u, %zu bytes",
                          (unsigned long long)seed, digest, c.datagrams - before, h.type,
                          c.last_len);
            ck_assert(swim__table_consistent(s));
            swim_delete(s);
        }
    }
}
END_TEST

static Suite *guard_suite(void)
{
    Suite *s = suite_create("guard");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, swim_test_member_flood_bounded);
    tcase_add_test(tc, swim_test_member_bound_evicts_oldest_tombstone);
    tcase_add_test(tc, swim_test_member_entries_reused_after_eviction);
    tcase_add_test(tc, swim_test_sync_from_sender_it_evicts_unanswered);
    tcase_add_test(tc, swim_test_forged_announce_answer_bounded);
    tcase_add_test(tc, swim_test_unproven_answers_bounded);
    tcase_add_test(tc, swim_test_joiner_echoes_only_its_seeds_cookies);
    tcase_add_test(tc, swim_test_mass_reap_is_linear);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(guard_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
