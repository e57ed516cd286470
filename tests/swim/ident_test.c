/*
 * ident_test.c - member identities (ident.c): a pool hands out one record
 * per (name, address, generation) and frees it with its last holder, and
 * instances that share a pool (as the simulated world's do) never see each
 * other's changes: a member that moves or renews in one instance is a new
 * identity there, while the others keep the old one.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "swim.h"
#include "swim_int.h" /* swim__ident_get/put, swim__table_consistent */
#include "testworld.h"
#include "wire.h"

START_TEST(swim_test_ident_pool_shares_equal_and_frees_last)
{
    struct swim_idpool *p = swim_idpool_new();
    ck_assert_ptr_nonnull(p);
    struct swim_addr a = {.len = 2, .bytes = {1, 2}}, b = {.len = 2, .bytes = {1, 3}};
    const struct swim_ident *x = swim__ident_get(p, "node", 4, &a, 1);
    const struct swim_ident *y = swim__ident_get(p, "node", 4, &a, 1);
    const struct swim_ident *z = swim__ident_get(p, "node", 4, &b, 1);
    const struct swim_ident *o = swim__ident_get(p, "nodf", 4, &a, 1);
    const struct swim_ident *g = swim__ident_get(p, "node", 4, &a, 2);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_eq(x, y); /* equal: shared */
    ck_assert_ptr_ne(x, z); /* another address: another identity */
    ck_assert_ptr_ne(x, o); /* another name too */
    ck_assert_ptr_ne(x, g); /* and another generation */
    ck_assert_uint_eq(g->gen, 2);
    ck_assert_uint_eq(x->refs, 2);
    ck_assert_str_eq(z->name, "node");
    ck_assert(swim__addr_equal(&z->addr, &b));
    ck_assert_uint_eq(x->hash, hash_fnv1a("node", 4));
    ck_assert_uint_eq(swim_idpool_count(p), 4);
    swim__ident_put(p, g);
    ck_assert_uint_eq(swim_idpool_count(p), 3);
    swim__ident_put(p, y);
    ck_assert_uint_eq(swim_idpool_count(p), 3);
    swim__ident_put(p, x);
    swim__ident_put(p, o);
    ck_assert_uint_eq(swim_idpool_count(p), 1);
    /* Enough to grow the table, then all released: found again each time. */
    const struct swim_ident *many[300];
    char name[16];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        many[i] = swim__ident_get(p, name, (uint8_t)strlen(name), &a, 1);
        ck_assert_ptr_nonnull(many[i]);
    }
    ck_assert_uint_eq(swim_idpool_count(p), 301);
    for (int i = 0; i < 300; i += 2)
        swim__ident_put(p, many[i]);
    for (int i = 1; i < 300; i += 2) {
        snprintf(name, sizeof(name), "m%d", i);
        const struct swim_ident *again = swim__ident_get(p, name, (uint8_t)strlen(name), &a, 1);
        ck_assert_ptr_eq(again, many[i]);
        swim__ident_put(p, again);
        swim__ident_put(p, many[i]);
    }
    swim__ident_put(p, z);
    ck_assert_uint_eq(swim_idpool_count(p), 0);
    swim_idpool_delete(p);
    /* Each identity has its handle in the pool (what member entries hold),
     * distinct while both are held, naming it; a freed one is reused. */
    p = swim_idpool_new();
    ck_assert_ptr_nonnull(p);
    x = swim__ident_get(p, "node", 4, &a, 1);
    y = swim__ident_get(p, "node", 4, &a, 2);
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(y);
    ck_assert_uint_ne(x->handle, 0);
    ck_assert_uint_ne(x->handle, y->handle);
    ck_assert_ptr_eq(swim__handle_obj(&p->ids, x->handle), x);
    ck_assert_ptr_eq(swim__handle_obj(&p->ids, y->handle), y);
    uint32_t hy = y->handle;
    swim__ident_put(p, y);
    y = swim__ident_get(p, "other", 5, &a, 1);
    ck_assert_ptr_nonnull(y);
    ck_assert_uint_eq(y->handle, hy);
    ck_assert_str_eq(y->name, "other");
    swim__ident_put(p, x);
    swim__ident_put(p, y);
    ck_assert_uint_eq(swim_idpool_count(p), 0);
    swim_idpool_delete(p);
}
END_TEST

/* What node `at` holds about node x: its address. */
static struct swim_addr addr_at(struct sim *w, int at, int x)
{
    struct swim_member_info m;
    ck_assert_int_eq(swim_member_find(sim_swim(w, at), sim_name(w, x), &m), 0);
    return m.addr;
}

START_TEST(swim_test_ident_shared_address_change_stays_local)
{
    struct swim_config c = tw_profile("lan");
    for (int i = 0; i < tw_seed_count(); i++) {
        /* The world's instances share one identity pool. */
        struct sim *w = tw_world(tw_seed_at(i), 3, &c);
        tw_converge(w, 10000);
        struct swim_addr old = addr_at(w, 1, 2), moved = {.len = 2, .bytes = {0xEE, 0x02}};
        struct swim_addr before = addr_at(w, 0, 2);
        ck_assert(swim__addr_equal(&old, &before));
        /* Node 0 hears that n2 moved, and can tell no one. */
        ck_assert_int_eq(sim_cut(w, 0, 1), 0);
        ck_assert_int_eq(sim_cut(w, 0, 2), 0);
        struct swim_member_info self;
        struct wire_member r = tw_self_record(w, 2, &self, WIRE_ALIVE);
        r.addr = moved;
        r.inc = self.incarnation + 1;
        uint8_t buf[1400];
        size_t len = tw_forge(w, buf, sizeof(buf), WIRE_GOSSIP, 0, 1, &r, 1);
        ck_assert_int_eq(sim_inject(w, 1, 0, buf, len), 0);
        sim_run_for(w, 50);
        struct swim_addr at0 = addr_at(w, 0, 2), at1 = addr_at(w, 1, 2);
        SIM_ASSERT(w, swim__addr_equal(&at0, &moved), "node 0 did not take n2's move");
        SIM_ASSERT(w, swim__addr_equal(&at1, &old), "node 1 sees node 0's change");
        swim_self(sim_swim(w, 2), &self);
        SIM_ASSERT(w, swim__addr_equal(&self.addr, &old), "n2's own address changed");
        for (int k = 0; k < 3; k++)
            SIM_ASSERT(w, swim__table_consistent(sim_swim(w, k)), "n%d's indexes disagree", k);
        sim_delete(w);
    }
}
END_TEST

/* The generation is part of the identity too: node 0 taking a renewal of
 * n2 that nobody else heard leaves node 1's and n2's own as they were. */
START_TEST(swim_test_ident_shared_generation_change_stays_local)
{
    struct swim_config c = tw_profile("lan");
    for (int i = 0; i < tw_seed_count(); i++) {
        struct sim *w = tw_world(tw_seed_at(i), 3, &c);
        tw_converge(w, 10000);
        ck_assert_int_eq(sim_cut(w, 0, 1), 0);
        ck_assert_int_eq(sim_cut(w, 0, 2), 0);
        struct swim_member_info self, m0, m1;
        struct wire_member r = tw_self_record(w, 2, &self, WIRE_ALIVE);
        uint64_t gen = self.generation;
        r.gen = gen + 1;
        uint8_t buf[1400];
        size_t len = tw_forge(w, buf, sizeof(buf), WIRE_GOSSIP, 0, 1, &r, 1);
        ck_assert_int_eq(sim_inject(w, 1, 0, buf, len), 0);
        sim_run_for(w, 50);
        ck_assert_int_eq(swim_member_find(sim_swim(w, 0), sim_name(w, 2), &m0), 0);
        ck_assert_int_eq(swim_member_find(sim_swim(w, 1), sim_name(w, 2), &m1), 0);
        SIM_ASSERT(w, m0.generation == gen + 1, "node 0 holds n2 at generation %llu",
                   (unsigned long long)m0.generation);
        SIM_ASSERT(w, m1.generation == gen, "node 1 sees node 0's change (%llu)",
                   (unsigned long long)m1.generation);
        swim_self(sim_swim(w, 2), &self);
        SIM_ASSERT(w, self.generation == gen, "n2's own generation changed");
        for (int k = 0; k < 3; k++)
            SIM_ASSERT(w, swim__table_consistent(sim_swim(w, k)), "n%d's indexes disagree", k);
        sim_delete(w);
    }
}
END_TEST

static Suite *ident_suite(void)
{
    Suite *s = suite_create("ident");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, swim_test_ident_pool_shares_equal_and_frees_last);
    tcase_add_test(tc, swim_test_ident_shared_address_change_stays_local);
    tcase_add_test(tc, swim_test_ident_shared_generation_change_stays_local);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ident_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
