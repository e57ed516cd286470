/*
 * config_test.c - the tunables by name (swim_config_key, _set, _get): every
 * field of struct swim_config has a key, each key sets and reads exactly
 * its own field, and an unknown name is refused.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "swim.h"

/* Every key sets its own field and no other; the keys cover the whole
 * struct (each of its uint32_t words changes once). */
START_TEST(swim_test_config_every_key_sets_its_field)
{
    size_t n = 0;
    const char *key;
    uint32_t seen[sizeof(struct swim_config) / sizeof(uint32_t)] = {0};
    for (; (key = swim_config_key(n)) != NULL; n++) {
        struct swim_config c, before;
        ck_assert_int_eq(swim_config_profile(&c, "lan"), 0);
        before = c;
        ck_assert_int_eq(swim_config_set(&c, key, 0xA5A5A5A5u), 0);
        uint32_t v = 0;
        ck_assert_int_eq(swim_config_get(&c, key, &v), 0);
        ck_assert_uint_eq(v, 0xA5A5A5A5u);
        const uint32_t *a = (const uint32_t *)&before, *b = (const uint32_t *)&c;
        int changed = 0;
        for (size_t w = 0; w < sizeof(seen) / sizeof(seen[0]); w++) {
            if (a[w] != b[w]) {
                changed++;
                seen[w]++;
            }
        }
        ck_assert_msg(changed == 1, "%s changed %d fields", key, changed);
    }
    ck_assert_uint_eq(n, sizeof(seen) / sizeof(seen[0]));
    for (size_t w = 0; w < n; w++)
        ck_assert_msg(seen[w] == 1, "field %zu set by %u keys", w, seen[w]);
}
END_TEST

/* Unknown names (and NULL) are refused and change nothing. */
START_TEST(swim_test_config_unknown_key_refused)
{
    struct swim_config c, before;
    ck_assert_int_eq(swim_config_profile(&c, "wan"), 0);
    before = c;
    uint32_t v = 7;
    ck_assert_int_eq(swim_config_set(&c, "probe_interval", 1), ERR_NOTFOUND);
    ck_assert_int_eq(swim_config_set(&c, "", 1), ERR_NOTFOUND);
    ck_assert_int_eq(swim_config_set(&c, NULL, 1), ERR_NOTFOUND);
    ck_assert_int_eq(swim_config_get(&c, "PROBE_INTERVAL_MS", &v), ERR_NOTFOUND);
    ck_assert_uint_eq(v, 7);
    ck_assert_mem_eq(&c, &before, sizeof(c));
    ck_assert_str_eq(swim_config_key(0), "probe_interval_ms");
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("keys");
    tcase_add_test(tc, swim_test_config_every_key_sets_its_field);
    tcase_add_test(tc, swim_test_config_unknown_key_refused);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
