/*
 * nomem_test.c - the core when an allocation fails: swim_set_meta at the
 * incarnation ceiling, out of memory for its new generation.  Each test
 * drives a testworld world; SIM_SEED=<seed> replays one.
 *
 * The core has no allocation hook, so this executable is linked with
 * --wrap=malloc (tests/swim/meson.build): every malloc of the core and of
 * this file goes through __wrap_malloc, which fails the next allocation of
 * one chosen size once, and otherwise calls the real one.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "sim.h"
#include "swim.h"
#include "swim_int.h" /* struct swim_ident: the size of an identity's allocation */
#include "testworld.h"
#include "wire.h"

/* Test-side state of the wrapper (one process per test in fork mode, and
 * one test at a time without it). */
static size_t fail_size; /* the next malloc of this many bytes fails; 0: none */
static unsigned failed;  /* mallocs failed so far */

void *__real_malloc(size_t n);
void *__wrap_malloc(size_t n);

void *__wrap_malloc(size_t n)
{
    if (fail_size != 0 && n == fail_size) {
        fail_size = 0;
        failed++;
        return NULL;
    }
    return __real_malloc(n);
}

/* Node x's record and meta as it holds them. */
static void assert_self(struct sim *w, int x, uint64_t gen, uint32_t inc, const uint8_t *meta,
                        size_t len)
{
    struct swim_member_info self;
    swim_self(sim_swim(w, x), &self);
    SIM_ASSERT(w, self.status == SWIM_ALIVE && self.generation == gen && self.incarnation == inc,
               "n%d: status %d, generation %llu, incarnation %u (not %llu, %u)", x, self.status,
               (unsigned long long)self.generation, self.incarnation, (unsigned long long)gen, inc);
    SIM_ASSERT(w, self.meta_len == len && memcmp(self.meta, meta, len) == 0,
               "n%d: meta of %u bytes (not %zu), or other bytes", x, self.meta_len, len);
}

/* At the incarnation ceiling a new meta takes a new generation.  Without
 * memory for that generation's identity swim_set_meta says ERR_NOMEM and
 * changes nothing: not the meta, not the incarnation, not the generation.
 * With memory again it takes the generation (incarnation 0) and the meta. */
START_TEST(swim_test_set_meta_nomem_changes_nothing)
{
    static const uint8_t old_meta[] = "old", new_meta[] = "new tags";
    struct swim_config c = tw_profile("lan");
    struct sim *w = tw_world(tw_seed_at(0), 2, &c);
    tw_converge(w, 10000);
    struct swim *x = sim_swim(w, 1);
    ck_assert_int_eq(swim_set_meta(x, old_meta, sizeof(old_meta), sim_now(w)), 0);

    /* To the ceiling: n1 refutes a suspicion at UINT32_MAX - 2. */
    struct swim_member_info self;
    struct wire_member r = tw_self_record(w, 1, &self, WIRE_SUSPECT);
    r.inc = UINT32_MAX - 2;
    uint8_t buf[1400];
    size_t len = tw_forge(w, buf, sizeof(buf), WIRE_GOSSIP, 0, 0, &r, 1);
    ck_assert_int_eq(sim_inject(w, 0, 1, buf, len), 0);
    sim_run_for(w, 1);
    uint64_t gen = self.generation;
    assert_self(w, 1, gen, UINT32_MAX - 1, old_meta, sizeof(old_meta));

    /* The identity of the new generation is the allocation that fails (no
     * other allocation of swim_set_meta has its size). */
    size_t ident_size = offsetof(struct swim_ident, name) + strlen(self.name) + 1;
    ck_assert_uint_ne(ident_size, sizeof(new_meta));
    ck_assert_uint_ne(ident_size, sizeof(struct swim_rare));
    fail_size = ident_size;
    int rc = swim_set_meta(x, new_meta, sizeof(new_meta), sim_now(w));
    fail_size = 0;
    SIM_ASSERT(w, failed == 1, "the identity was not allocated (%u failed)", failed);
    SIM_ASSERT(w, rc == ERR_NOMEM, "swim_set_meta returned %d (%s), not ERR_NOMEM", rc,
               err_strerror(rc));
    assert_self(w, 1, gen, UINT32_MAX - 1, old_meta, sizeof(old_meta));

    /* With memory: the next generation and the new meta. */
    ck_assert_int_eq(swim_set_meta(x, new_meta, sizeof(new_meta), sim_now(w)), 0);
    assert_self(w, 1, gen + 1, 0, new_meta, sizeof(new_meta));
    sim_delete(w);
}
END_TEST

static Suite *nomem_suite(void)
{
    Suite *s = suite_create("nomem");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, swim_test_set_meta_nomem_changes_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(nomem_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed_n = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed_n == 0 ? 0 : 1;
}
