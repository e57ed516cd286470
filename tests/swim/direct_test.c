/*
 * direct_test.c - direct messages (swim/direct.c) in the simulated world:
 * a message reaches its addressee once, however many relayed copies
 * arrive; relays carry it when the direct path is cut; a relay forwards
 * only for members it knows and only to live ones; the sender's checks and
 * rate limit hold.
 *
 * Every test loops over seeds (SIM_SEED=<seed> replays one, SIM_TRACE=1
 * prints every notification).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "swim_int.h" /* the core's named bounds */
#include "testworld.h"

/* Direct notifications per node, and the last one's origin and payload. */
struct seen {
    int count[8];
    char origin[8][SWIM_NAME_MAX + 1];
    uint8_t payload[8][SWIM_DIRECT_MAX];
    size_t len[8];
};

static void seen_observe(void *ctx, struct sim *w, int node, const struct swim_notification *n,
                         uint64_t now)
{
    (void)w, (void)now;
    struct seen *s = ctx;
    if (n->type != SWIM_EV_DIRECT || node >= 8)
        return;
    s->count[node]++;
    snprintf(s->origin[node], sizeof(s->origin[node]), "%s", n->user.origin);
    memcpy(s->payload[node], n->user.payload, n->user.len);
    s->len[node] = n->user.len;
}

/* DIRECT datagrams on the wire (the type is the header's third byte). */
static void count_direct(void *ctx, struct sim *w, int from, int to, const uint8_t *data,
                         size_t len, int delivered)
{
    (void)w, (void)from, (void)to, (void)delivered;
    if (len > 2 && data[2] == WIRE_DIRECT)
        (*(int *)ctx)++;
}

static struct sim *direct_world(uint64_t seed, int n, struct seen *s)
{
    struct swim_config c = tw_profile("lan");
    struct sim *w = tw_world(seed, n, &c);
    tw_converge(w, 20000);
    memset(s, 0, sizeof(*s));
    sim_set_observer(w, seen_observe, s);
    return w;
}

/* With every other member relaying, the addressee is still told once, with
 * the sender's name and the exact bytes; nobody else is told; and the wire
 * carries exactly the direct copy, the three relay requests and their three
 * forwards: a forwarded copy is never forwarded again. */
START_TEST(swim_test_direct_delivered_once)
{
    for (int i = 0; i < tw_seed_count(); i++) {
        struct seen s;
        struct sim *w = direct_world(tw_seed_at(i), 5, &s);
        int datagrams = 0;
        sim_set_tap(w, count_direct, &datagrams);
        const uint8_t msg[] = "response: hello\n";
        ck_assert_int_eq(
            swim_send_direct(sim_swim(w, 1), sim_name(w, 3), msg, sizeof(msg), 3, sim_now(w)), 0);
        sim_run_for(w, 2000);
        for (int k = 0; k < 5; k++)
            SIM_ASSERT(w, s.count[k] == (k == 3), "n%d told %d times", k, s.count[k]);
        ck_assert_str_eq(s.origin[3], sim_name(w, 1));
        ck_assert_uint_eq(s.len[3], sizeof(msg));
        ck_assert_mem_eq(s.payload[3], msg, sizeof(msg));
        SIM_ASSERT(w, datagrams == 1 + 3 + 3, "%d DIRECT datagrams for one message", datagrams);
        /* A second message is a new one. */
        ck_assert_int_eq(swim_send_direct(sim_swim(w, 1), sim_name(w, 3), msg, 1, 2, sim_now(w)),
                         0);
        sim_run_for(w, 2000);
        SIM_ASSERT(w, s.count[3] == 2, "second message told %d times in all", s.count[3]);
        sim_delete(w);
    }
}
END_TEST

/* The sender cannot reach the addressee (a one-way cut): without relays
 * the message is lost; with them it arrives, once. */
START_TEST(swim_test_direct_relayed_when_direct_path_lost)
{
    for (int i = 0; i < tw_seed_count(); i++) {
        struct seen s;
        struct sim *w = direct_world(tw_seed_at(i), 5, &s);
        ck_assert_int_eq(sim_cut(w, 0, 4), 0);
        const uint8_t msg[] = "ack";
        ck_assert_int_eq(
            swim_send_direct(sim_swim(w, 0), sim_name(w, 4), msg, sizeof(msg), 0, sim_now(w)), 0);
        sim_run_for(w, 500);
        SIM_ASSERT(w, s.count[4] == 0, "arrived over a cut link");
        ck_assert_int_eq(
            swim_send_direct(sim_swim(w, 0), sim_name(w, 4), msg, sizeof(msg), 2, sim_now(w)), 0);
        sim_run_for(w, 500);
        SIM_ASSERT(w, s.count[4] == 1, "relayed message told %d times", s.count[4]);
        ck_assert_str_eq(s.origin[4], sim_name(w, 0));
        sim_delete(w);
    }
}
END_TEST

/* The sender's checks: unknown or self addressee, too large, too many
 * relays; and the rate limit, counted. */
START_TEST(swim_test_direct_send_checks_and_rate_limit)
{
    struct seen s;
    struct sim *w = direct_world(tw_seed_at(0), 3, &s);
    struct swim *a = sim_swim(w, 0);
    uint8_t big[SWIM_DIRECT_MAX + 1] = {0};
    uint64_t now = sim_now(w);
    ck_assert_int_eq(swim_send_direct(a, "nobody", big, 1, 0, now), ERR_NOTFOUND);
    ck_assert_int_eq(swim_send_direct(a, sim_name(w, 0), big, 1, 0, now), ERR_NOTFOUND);
    ck_assert_int_eq(swim_send_direct(a, sim_name(w, 1), big, swim_direct_room(a) + 1, 0, now),
                     ERR_TOOBIG);
    ck_assert_int_eq(swim_send_direct(a, sim_name(w, 1), big, 1, SWIM_DIRECT_RELAY_MAX + 1, now),
                     ERR_INVAL);
    ck_assert_uint_le(swim_direct_room(a), SWIM_DIRECT_MAX);
    ck_assert_uint_ge(swim_direct_room(a), 1024); /* a query's answer fits the default size */
    ck_assert_int_eq(swim_send_direct(a, sim_name(w, 1), big, swim_direct_room(a), 0, now), 0);
    int sent = 1, refused = 0;
    for (int k = 0; k < 2 * SWIM_DIRECT_BURST; k++) {
        int rc = swim_send_direct(a, sim_name(w, 1), big, 8, 0, now);
        ck_assert(rc == 0 || rc == ERR_FULL);
        sent += rc == 0;
        refused += rc == ERR_FULL;
    }
    ck_assert_int_eq(sent, SWIM_DIRECT_BURST);
    struct swim_stats st;
    swim_get_stats(a, &st);
    ck_assert_uint_eq(st.directs_refused, (uint64_t)refused);
    sim_run_for(w, 2000);
    SIM_ASSERT(w, s.count[1] == sent, "n1 told %d of %d", s.count[1], sent);
    sim_delete(w);
}
END_TEST

/* A relay request from a stranger (a name no member has) is not
 * forwarded. */
START_TEST(swim_test_direct_relay_only_for_members)
{
    for (int i = 0; i < tw_seed_count(); i++) {
        struct seen s;
        struct sim *w = direct_world(tw_seed_at(i), 4, &s);
        /* A datagram from n0's address asks n1 to relay to n2, naming a
         * stranger as its source. */
        uint8_t body[64], buf[256];
        struct wire_user u = {{"stranger", 8}, 1, 7, 3, (const uint8_t *)"hey"};
        uint8_t *p = body;
        ck_assert_int_eq(wire_encode_direct(&p, body + sizeof(body), &u), 0);
        struct wire_header h;
        memset(&h, 0, sizeof(h));
        h.type = WIRE_DIRECT;
        h.flags = WIRE_F_RELAY | WIRE_F_HAS_DST;
        h.src = (struct wire_name){"stranger", 8};
        sim_addr(9, &h.src_addr);
        h.src_gen = 1;
        h.dst = (struct wire_name){sim_name(w, 2), (uint8_t)strlen(sim_name(w, 2))};
        uint8_t *q = buf;
        ck_assert_int_eq(wire_encode_header(&q, buf + sizeof(buf), &h), 0);
        ck_assert_int_eq(
            wire_encode_item(&q, buf + sizeof(buf), WIRE_ITEM_DIRECT, body, (size_t)(p - body)), 0);
        ck_assert_int_eq(sim_inject(w, 0, 1, buf, (size_t)(q - buf)), 0);
        sim_run_for(w, 1000);
        SIM_ASSERT(w, s.count[2] == 0, "forwarded for a stranger");
        sim_delete(w);
    }
}
END_TEST

/* A name and generation, as a header's source or an item's origin. */
struct who {
    const char *name;
    uint64_t gen;
};

static struct who node_who(struct sim *w, int node)
{
    return (struct who){sim_name(w, node), sim_generation(w, node)};
}

/* One DIRECT datagram from `src` to node dst (flags: RELAY or 0), with one
 * DIRECT item per origin (ids 100, 101, ...); its length. */
static size_t direct_dgram(struct sim *w, uint8_t *buf, size_t cap, struct who src, uint8_t flags,
                           int dst, const struct who *origins, int n)
{
    struct wire_header h;
    memset(&h, 0, sizeof(h));
    h.type = WIRE_DIRECT;
    h.flags = flags | WIRE_F_HAS_DST;
    h.src = (struct wire_name){src.name, (uint8_t)strlen(src.name)};
    sim_addr(9, &h.src_addr);
    h.src_gen = src.gen;
    h.dst = (struct wire_name){sim_name(w, dst), (uint8_t)strlen(sim_name(w, dst))};
    h.dst_gen = sim_generation(w, dst);
    uint8_t *q = buf;
    ck_assert_int_eq(wire_encode_header(&q, buf + cap, &h), 0);
    for (int i = 0; i < n; i++) {
        uint8_t body[128];
        uint8_t *p = body;
        struct wire_user u = {{origins[i].name, (uint8_t)strlen(origins[i].name)},
                              origins[i].gen,
                              (uint32_t)(100 + i),
                              2,
                              (const uint8_t *)"hi"};
        ck_assert_int_eq(wire_encode_direct(&p, body + sizeof(body), &u), 0);
        ck_assert_int_eq(
            wire_encode_item(&q, buf + cap, WIRE_ITEM_DIRECT, body, (size_t)(p - body)), 0);
    }
    return (size_t)(q - buf);
}

/* DIRECT datagrams from one node to another. */
struct link_count {
    int from, to, n;
};

static void count_link(void *ctx, struct sim *w, int from, int to, const uint8_t *data, size_t len,
                       int delivered)
{
    (void)w, (void)delivered;
    struct link_count *c = ctx;
    if (from == c->from && to == c->to && len > 2 && data[2] == WIRE_DIRECT)
        c->n++;
}

/* A relay request holding many items draws one forward (of the first), not
 * one per item: a member's small datagram cannot make a relay send many. */
START_TEST(swim_test_direct_relay_forwards_one_item_per_request)
{
    for (int i = 0; i < tw_seed_count(); i++) {
        struct seen s;
        struct sim *w = direct_world(tw_seed_at(i), 4, &s);
        struct link_count c = {1, 2, 0};
        sim_set_tap(w, count_link, &c);
        struct who self = node_who(w, 0);
        const struct who origins[] = {self, self, self, self, self, self, self, self};
        uint8_t buf[512];
        size_t len = direct_dgram(w, buf, sizeof(buf), self, WIRE_F_RELAY, 2, origins, 8);
        ck_assert_int_eq(sim_inject(w, 0, 1, buf, len), 0);
        sim_run_for(w, 1000);
        SIM_ASSERT(w, c.n == 1, "%d forwards for one request", c.n);
        SIM_ASSERT(w, s.count[2] == 1, "n2 told %d times", s.count[2]);
        ck_assert_str_eq(s.origin[2], sim_name(w, 0));
        sim_delete(w);
    }
}
END_TEST

/* The addressee, too, reads one message per datagram: eight items from n0
 * (ids 100..107) in one DIRECT tell n2 once, of the first. */
START_TEST(swim_test_direct_one_message_per_datagram)
{
    for (int i = 0; i < tw_seed_count(); i++) {
        struct seen s;
        struct sim *w = direct_world(tw_seed_at(i), 4, &s);
        struct who n0 = node_who(w, 0);
        const struct who origins[] = {n0, n0, n0, n0, n0, n0, n0, n0};
        uint8_t buf[512];
        size_t len = direct_dgram(w, buf, sizeof(buf), n0, 0, 2, origins, 8);
        ck_assert_int_eq(sim_inject(w, 0, 2, buf, len), 0);
        sim_run_for(w, 500);
        SIM_ASSERT(w, s.count[2] == 1, "n2 told %d times by one datagram", s.count[2]);
        ck_assert_str_eq(s.origin[2], sim_name(w, 0));
        sim_delete(w);
    }
}
END_TEST

/* A relay forwards only the requester's own message: a member asking it to
 * pass on one in another member's name is refused. */
START_TEST(swim_test_direct_relay_refuses_others_messages)
{
    for (int i = 0; i < tw_seed_count(); i++) {
        struct seen s;
        struct sim *w = direct_world(tw_seed_at(i), 4, &s);
        struct link_count c = {1, 2, 0};
        sim_set_tap(w, count_link, &c);
        const struct who forged[] = {node_who(w, 3)};
        uint8_t buf[256];
        size_t len = direct_dgram(w, buf, sizeof(buf), node_who(w, 0), WIRE_F_RELAY, 2, forged, 1);
        ck_assert_int_eq(sim_inject(w, 0, 1, buf, len), 0);
        sim_run_for(w, 1000);
        SIM_ASSERT(w, c.n == 0, "%d forwards of n3's message asked by n0", c.n);
        SIM_ASSERT(w, s.count[2] == 0, "n2 told %d times", s.count[2]);
        sim_delete(w);
    }
}
END_TEST

/* A direct message is heard from a member at its known address (its own,
 * or one it forwards for a member we know), never from a stranger, a
 * member's name spoken from another address, or for an origin nobody
 * knows. */
START_TEST(swim_test_direct_heard_only_from_members_at_their_address)
{
    for (int i = 0; i < tw_seed_count(); i++) {
        struct seen s;
        struct sim *w = direct_world(tw_seed_at(i), 4, &s);
        struct who n0 = node_who(w, 0), stranger = {"stranger", 1}, ghost = {"ghost", 1};
        uint8_t buf[256];
        size_t len = direct_dgram(w, buf, sizeof(buf), stranger, 0, 2, &stranger, 1);
        ck_assert_int_eq(sim_inject(w, 0, 2, buf, len), 0);
        sim_run_for(w, 500);
        SIM_ASSERT(w, s.count[2] == 0, "told by a stranger");
        /* n0's name, from n3's address. */
        len = direct_dgram(w, buf, sizeof(buf), n0, 0, 2, &n0, 1);
        ck_assert_int_eq(sim_inject(w, 3, 2, buf, len), 0);
        sim_run_for(w, 500);
        SIM_ASSERT(w, s.count[2] == 0, "told by n0's name from n3's address");
        /* n0 forwarding for nobody we know. */
        len = direct_dgram(w, buf, sizeof(buf), n0, 0, 2, &ghost, 1);
        ck_assert_int_eq(sim_inject(w, 0, 2, buf, len), 0);
        sim_run_for(w, 500);
        SIM_ASSERT(w, s.count[2] == 0, "told for an unknown origin");
        /* The same from n0's own address: heard. */
        len = direct_dgram(w, buf, sizeof(buf), n0, 0, 2, &n0, 1);
        ck_assert_int_eq(sim_inject(w, 0, 2, buf, len), 0);
        sim_run_for(w, 500);
        SIM_ASSERT(w, s.count[2] == 1, "n0's own message told %d times", s.count[2]);
        ck_assert_str_eq(s.origin[2], sim_name(w, 0));
        /* A forward by n0 for n3, a member. */
        struct who n3 = node_who(w, 3);
        len = direct_dgram(w, buf, sizeof(buf), n0, 0, 2, &n3, 1);
        ck_assert_int_eq(sim_inject(w, 0, 2, buf, len), 0);
        sim_run_for(w, 500);
        SIM_ASSERT(w, s.count[2] == 2, "n3's forwarded message told %d times in all", s.count[2]);
        ck_assert_str_eq(s.origin[2], sim_name(w, 3));
        sim_delete(w);
    }
}
END_TEST

static Suite *direct_suite(void)
{
    Suite *s = suite_create("direct");
    TCase *tc = tcase_create("direct");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, swim_test_direct_delivered_once);
    tcase_add_test(tc, swim_test_direct_relayed_when_direct_path_lost);
    tcase_add_test(tc, swim_test_direct_send_checks_and_rate_limit);
    tcase_add_test(tc, swim_test_direct_relay_only_for_members);
    tcase_add_test(tc, swim_test_direct_relay_forwards_one_item_per_request);
    tcase_add_test(tc, swim_test_direct_one_message_per_datagram);
    tcase_add_test(tc, swim_test_direct_relay_refuses_others_messages);
    tcase_add_test(tc, swim_test_direct_heard_only_from_members_at_their_address);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(direct_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
