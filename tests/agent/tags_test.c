/*
 * tags_test.c - the tag block codec (agent/tags.c): canonical encoding,
 * edits, and one rejection test per way a received block can be wrong.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "tags.h"

static struct tags *t;

static void setup(void)
{
    t = tags_new();
    ck_assert_ptr_nonnull(t);
}

static void teardown(void)
{
    tags_delete(t);
}

START_TEST(tags_test_set_encodes_sorted)
{
    ck_assert_int_eq(tags_set(t, "role", "web"), 0);
    ck_assert_int_eq(tags_set(t, "dc", "eu"), 0);
    ck_assert_int_eq(tags_set(t, "empty", ""), 0);
    size_t len;
    const uint8_t *b = tags_bytes(t, &len);
    static const uint8_t want[] = {2,   'd', 'c', 2,   'e', 'u', 5,   'e', 'm', 'p', 't',
                                   'y', 0,   4,   'r', 'o', 'l', 'e', 3,   'w', 'e', 'b'};
    ck_assert_uint_eq(len, sizeof(want));
    ck_assert_mem_eq(b, want, sizeof(want));
    ck_assert_uint_eq(tags_count(t), 3);
    struct tags_pair p;
    ck_assert_int_eq(tags_at(t, 1, &p), 0);
    ck_assert_uint_eq(p.klen, 5);
    ck_assert_int_eq(memcmp(p.key, "empty", 5), 0);
    ck_assert_int_eq(tags_at(t, 3, &p), ERR_NOTFOUND);
}
END_TEST

START_TEST(tags_test_prefix_key_sorts_first)
{
    ck_assert_int_eq(tags_set(t, "ab", "2"), 0);
    ck_assert_int_eq(tags_set(t, "a", "1"), 0);
    struct tags_pair p;
    ck_assert_int_eq(tags_at(t, 0, &p), 0);
    ck_assert_uint_eq(p.klen, 1);
}
END_TEST

START_TEST(tags_test_set_replaces_value)
{
    ck_assert_int_eq(tags_set(t, "k", "v1"), 0);
    ck_assert_int_eq(tags_set(t, "k", "value2"), 0);
    ck_assert_uint_eq(tags_count(t), 1);
    struct tags_pair p;
    ck_assert_int_eq(tags_at(t, 0, &p), 0);
    ck_assert_uint_eq(p.vlen, 6);
    ck_assert_int_eq(memcmp(p.value, "value2", 6), 0);
}
END_TEST

START_TEST(tags_test_unset_removes_only_that_key)
{
    tags_set(t, "a", "1");
    tags_set(t, "b", "2");
    tags_set(t, "c", "3");
    ck_assert_int_eq(tags_unset(t, "b"), 0);
    ck_assert_uint_eq(tags_count(t), 2);
    ck_assert_int_eq(tags_unset(t, "b"), ERR_NOTFOUND);
    ck_assert_uint_eq(tags_count(t), 2);
    tags_clear(t);
    ck_assert_uint_eq(tags_count(t), 0);
}
END_TEST

START_TEST(tags_test_load_round_trip)
{
    tags_set(t, "x", "1");
    tags_set(t, "y", "22");
    size_t len;
    const uint8_t *b = tags_bytes(t, &len);
    uint8_t copy[SWIM_META_MAX];
    memcpy(copy, b, len);
    struct tags *u = tags_new();
    ck_assert_int_eq(tags_load(u, copy, len), 0);
    size_t len2;
    const uint8_t *b2 = tags_bytes(u, &len2);
    ck_assert_uint_eq(len2, len);
    ck_assert_mem_eq(b2, copy, len);
    tags_delete(u);
}
END_TEST

START_TEST(tags_test_truncated_block_rejected)
{
    tags_set(t, "key", "value");
    tags_set(t, "zz", "");
    size_t len;
    const uint8_t *b = tags_bytes(t, &len);
    struct tags_pair pairs[TAGS_PAIRS_MAX];
    size_t n;
    /* Every cut that is not at a pair boundary is truncated input. */
    size_t boundary = 1 + 3 + 1 + 5;
    for (size_t cut = 1; cut < len; cut++) {
        int rc = tags_decode_all(pairs, TAGS_PAIRS_MAX, &n, b, cut);
        if (cut == boundary)
            ck_assert_int_eq(rc, 0);
        else
            ck_assert_int_eq(rc, ERR_TRUNC);
    }
}
END_TEST

START_TEST(tags_test_decode_pair_does_not_advance_on_error)
{
    static const uint8_t bad[] = {3, 'a', 'b'};
    const uint8_t *pos = bad;
    struct tags_pair p;
    ck_assert_int_eq(tags_decode_pair(&p, &pos, bad + sizeof(bad)), ERR_TRUNC);
    ck_assert_ptr_eq(pos, bad);
    ck_assert_int_eq(tags_decode_pair(&p, &pos, bad), ERR_TRUNC);
}
END_TEST

START_TEST(tags_test_unsorted_or_duplicate_rejected)
{
    static const uint8_t unsorted[] = {1, 'b', 0, 1, 'a', 0};
    static const uint8_t dup[] = {1, 'a', 1, 'x', 1, 'a', 1, 'y'};
    ck_assert_int_eq(tags_load(t, unsorted, sizeof(unsorted)), ERR_MALFORMED);
    ck_assert_int_eq(tags_load(t, dup, sizeof(dup)), ERR_MALFORMED);
    ck_assert_uint_eq(tags_count(t), 0);
}
END_TEST

START_TEST(tags_test_empty_key_rejected)
{
    static const uint8_t empty[] = {0, 1, 'v'};
    ck_assert_int_eq(tags_load(t, empty, sizeof(empty)), ERR_MALFORMED);
    ck_assert_int_eq(tags_set(t, "", "v"), ERR_INVAL);
}
END_TEST

START_TEST(tags_test_forbidden_bytes_rejected)
{
    static const uint8_t nul_key[] = {2, 'a', 0, 0};
    static const uint8_t eq_key[] = {2, 'a', '=', 0};
    static const uint8_t ctl_value[] = {1, 'a', 2, 'x', '\n'};
    ck_assert_int_eq(tags_load(t, nul_key, sizeof(nul_key)), ERR_MALFORMED);
    ck_assert_int_eq(tags_load(t, eq_key, sizeof(eq_key)), ERR_MALFORMED);
    ck_assert_int_eq(tags_load(t, ctl_value, sizeof(ctl_value)), ERR_MALFORMED);
    ck_assert_int_eq(tags_set(t, "a,b", "v"), ERR_INVAL);
    ck_assert_int_eq(tags_set(t, "a", "line\nbreak"), ERR_INVAL);
}
END_TEST

START_TEST(tags_test_oversized_block_rejected)
{
    uint8_t big[SWIM_META_MAX + 3];
    memset(big, 'a', sizeof(big));
    ck_assert_int_eq(tags_load(t, big, sizeof(big)), ERR_TOOBIG);
}
END_TEST

START_TEST(tags_test_too_big_edit_leaves_set_unchanged)
{
    char key[8], value[TAGS_VALUE_MAX + 1];
    memset(value, 'v', 200);
    value[200] = '\0';
    ck_assert_int_eq(tags_set(t, "k1", value), 0); /* 204 bytes */
    ck_assert_int_eq(tags_set(t, "k2", value), 0); /* 408 bytes */
    size_t before;
    tags_bytes(t, &before);
    snprintf(key, sizeof(key), "k3");
    ck_assert_int_eq(tags_set(t, key, value), ERR_TOOBIG);
    size_t after;
    tags_bytes(t, &after);
    ck_assert_uint_eq(before, after);
    ck_assert_uint_eq(tags_count(t), 2);
}
END_TEST

START_TEST(tags_test_exact_meta_max_fits)
{
    /* 2 pairs of 256 bytes: klen 1 + key 1 + vlen 1 + value 253. */
    char value[254];
    memset(value, 'v', 253);
    value[253] = '\0';
    ck_assert_int_eq(tags_set(t, "a", value), 0);
    ck_assert_int_eq(tags_set(t, "b", value), 0);
    size_t len;
    tags_bytes(t, &len);
    ck_assert_uint_eq(len, SWIM_META_MAX);
    ck_assert_int_eq(tags_set(t, "c", ""), ERR_TOOBIG);
}
END_TEST

START_TEST(tags_test_parse_kv)
{
    char k[TAGS_KEY_MAX + 1], v[TAGS_VALUE_MAX + 1];
    ck_assert_int_eq(tags_parse_kv("role=web", k, v), 0);
    ck_assert_str_eq(k, "role");
    ck_assert_str_eq(v, "web");
    ck_assert_int_eq(tags_parse_kv("url=a=b", k, v), 0);
    ck_assert_str_eq(v, "a=b");
    ck_assert_int_eq(tags_parse_kv("empty=", k, v), 0);
    ck_assert_str_eq(v, "");
    ck_assert_int_eq(tags_parse_kv("novalue", k, v), ERR_INVAL);
    ck_assert_int_eq(tags_parse_kv("=v", k, v), ERR_INVAL);
}
END_TEST

/* Keys and values are text: valid UTF-8 without control characters, on the
 * wire and through the editing API alike. */
START_TEST(tags_test_keys_and_values_are_text)
{
    static const uint8_t c1_value[] = {1, 'a', 2, 0xc2, 0x9b}; /* U+009B CSI */
    static const uint8_t raw_value[] = {1, 'a', 1, 0x9b};      /* not UTF-8 */
    static const uint8_t esc_key[] = {2, 0x1b, 'k', 0};
    static const uint8_t utf8_ok[] = {1, 'a', 2, 0xc3, 0xa9}; /* é */
    ck_assert_int_eq(tags_load(t, c1_value, sizeof(c1_value)), ERR_MALFORMED);
    ck_assert_int_eq(tags_load(t, raw_value, sizeof(raw_value)), ERR_MALFORMED);
    ck_assert_int_eq(tags_load(t, esc_key, sizeof(esc_key)), ERR_MALFORMED);
    ck_assert_int_eq(tags_load(t, utf8_ok, sizeof(utf8_ok)), 0);
    ck_assert_int_eq(tags_set(t, "k", "\xff"), ERR_INVAL);
    ck_assert_int_eq(tags_set(t, "k", "\xc2\x85"), ERR_INVAL);
    ck_assert_int_eq(tags_set(t, "\xe2\x82", "v"), ERR_INVAL); /* cut sequence */
    ck_assert_int_eq(tags_set(t, "r\xc3\xb4le", "caf\xc3\xa9 au lait"), 0);
    ck_assert_int_eq(tags_check_value("tab\there"), ERR_INVAL);
    /* A member without tags has no block at all (found by control_fuzz). */
    struct tags_pair pairs[1];
    size_t n = 9;
    ck_assert_int_eq(tags_decode_all(pairs, 1, &n, NULL, 0), 0);
    ck_assert_uint_eq(n, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tags");
    TCase *tc = tcase_create("codec");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, tags_test_set_encodes_sorted);
    tcase_add_test(tc, tags_test_prefix_key_sorts_first);
    tcase_add_test(tc, tags_test_set_replaces_value);
    tcase_add_test(tc, tags_test_unset_removes_only_that_key);
    tcase_add_test(tc, tags_test_load_round_trip);
    tcase_add_test(tc, tags_test_truncated_block_rejected);
    tcase_add_test(tc, tags_test_decode_pair_does_not_advance_on_error);
    tcase_add_test(tc, tags_test_unsorted_or_duplicate_rejected);
    tcase_add_test(tc, tags_test_empty_key_rejected);
    tcase_add_test(tc, tags_test_forbidden_bytes_rejected);
    tcase_add_test(tc, tags_test_keys_and_values_are_text);
    tcase_add_test(tc, tags_test_oversized_block_rejected);
    tcase_add_test(tc, tags_test_too_big_edit_leaves_set_unchanged);
    tcase_add_test(tc, tags_test_exact_meta_max_fits);
    tcase_add_test(tc, tags_test_parse_kv);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
