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
 * the sender's name and the exact bytes; nobody else is told. */
START_TEST(swim_test_direct_delivered_once)
{
    for (int i = 0; i < tw_seed_count(); i++) {
        struct seen s;
        struct sim *w = direct_world(tw_seed_at(i), 5, &s);
        const uint8_t msg[] = "response: hello\n";
        ck_assert_int_eq(
            swim_send_direct(sim_swim(w, 1), sim_name(w, 3), msg, sizeof(msg), 3, sim_now(w)), 0);
        sim_run_for(w, 2000);
        for (int k = 0; k < 5; k++)
            SIM_ASSERT(w, s.count[k] == (k == 3), "n%d told %d times", k, s.count[k]);
        ck_assert_str_eq(s.origin[3], sim_name(w, 1));
        ck_assert_uint_eq(s.len[3], sizeof(msg));
        ck_assert_mem_eq(s.payload[3], msg, sizeof(msg));
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

static Suite *direct_suite(void)
{
    Suite *s = suite_create("direct");
    TCase *tc = tcase_create("direct");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, swim_test_direct_delivered_once);
    tcase_add_test(tc, swim_test_direct_relayed_when_direct_path_lost);
    tcase_add_test(tc, swim_test_direct_send_checks_and_rate_limit);
    tcase_add_test(tc, swim_test_direct_relay_only_for_members);
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
