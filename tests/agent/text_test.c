/*
 * text_test.c - what text from outside may contain and how it leaves
 * (agent/text.c), and the core's name rule (swim_name_valid()) that every
 * entrance of a name shares.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "swim.h"
#include "text.h"

static int name_ok(const char *s)
{
    return swim_name_valid(s, strlen(s));
}

START_TEST(text_test_names_are_visible_utf8_words)
{
    ck_assert(name_ok("n1"));
    ck_assert(name_ok("node-2.example.com"));
    ck_assert(name_ok("n\xc3\xa9ud"));              /* é */
    ck_assert(name_ok("\xe6\x9d\xb1\xe4\xba\xac")); /* 東京 */
    ck_assert(name_ok("a\\x0a"));                   /* a backslash is printable */
    char longest[SWIM_NAME_MAX + 2];
    memset(longest, 'x', sizeof(longest));
    longest[SWIM_NAME_MAX] = '\0';
    ck_assert(name_ok(longest));
    longest[SWIM_NAME_MAX] = 'x';
    longest[SWIM_NAME_MAX + 1] = '\0';
    ck_assert(!name_ok(longest));
    ck_assert(!swim_name_valid("", 0));
    ck_assert(!swim_name_valid("a\0b", 3));
}
END_TEST

START_TEST(text_test_names_refuse_controls_spaces_and_invisibles)
{
    const char *bad[] = {
        "ev\n2024-05-01T00:00:00.000Z error fake-line", /* log injection */
        "a b",
        "a\tb",
        "\x1b[31mred",
        "del\x7f",
        "c1\xc2\x9b",       /* U+009B, a C1 CSI */
        "nb\xc2\xa0sp",     /* no-break space */
        "zw\xe2\x80\x8bsp", /* zero-width space */
        "rtl\xe2\x80\xae",  /* right-to-left override */
        "ls\xe2\x80\xa8",   /* line separator */
        "bom\xef\xbb\xbf",  /* byte-order mark */
        "\xff",
        "\xc0\xaf",         /* not UTF-8, overlong */
        "\xed\xa0\x80",     /* a surrogate */
        "\xf4\x90\x80\x80", /* above U+10FFFF */
        "cut\xe6\x9d",      /* a sequence cut short */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!name_ok(bad[i]), "name %zu accepted", i);
}
END_TEST

START_TEST(text_test_valid_is_utf8_without_controls)
{
    ck_assert(text_valid("", 0));
    ck_assert(text_valid("hello world, caf\xc3\xa9", strlen("hello world, caf\xc3\xa9")));
    ck_assert(!text_valid("a\nb", 3));
    ck_assert(!text_valid("a\0b", 3));
    ck_assert(!text_valid("\x7f", 1));
    ck_assert(!text_valid("\xc2\x85", 2)); /* NEL, C1 */
    ck_assert(!text_valid("\xff", 1));
}
END_TEST

static const char *esc(const char *in, size_t len, size_t cap)
{
    static char out[256];
    ck_assert_uint_le(cap, sizeof(out));
    size_t n = text_escape(out, cap, in, len);
    ck_assert_uint_eq(n, strlen(out));
    return out;
}

START_TEST(text_test_escape_makes_one_printable_line)
{
    ck_assert_str_eq(esc("plain", 5, 64), "plain");
    ck_assert_str_eq(esc("ev\nfake", 7, 64), "ev\\x0afake");
    ck_assert_str_eq(esc("\x1b[2J", 4, 64), "\\x1b[2J");
    ck_assert_str_eq(esc("back\\slash", 10, 64), "back\\\\slash");
    ck_assert_str_eq(esc("\xff\xfe", 2, 64), "\\xff\\xfe");
    ck_assert_str_eq(esc("\xc2\x9b", 2, 64), "\\xc2\\x9b"); /* C1 as its bytes */
    ck_assert_str_eq(esc("caf\xc3\xa9", 5, 64), "caf\xc3\xa9");
    ck_assert_str_eq(esc("a\0b", 3, 64), "a\\x00b");
    /* Cut at the capacity, never inside an escape or a character. */
    ck_assert_str_eq(esc("ab\ncd", 5, 5), "ab");
    ck_assert_str_eq(esc("a\xc3\xa9", 3, 3), "a");
    ck_assert_str_eq(esc("abc", 3, 1), "");
    /* Whatever goes in, what comes out is valid text. */
    char in[256];
    for (int i = 0; i < 256; i++)
        in[i] = (char)i;
    const char *out = esc(in, sizeof(in), 256);
    ck_assert(text_valid(out, strlen(out)));
}
END_TEST

START_TEST(text_test_width_counts_columns_not_bytes)
{
    ck_assert_uint_eq(text_width("abc"), 3);
    ck_assert_uint_eq(text_width("caf\xc3\xa9"), 4);              /* é: 2 bytes, 1 column */
    ck_assert_uint_eq(text_width("\xe6\x9d\xb1\xe4\xba\xac"), 4); /* 東京: 2 wide */
    ck_assert_uint_eq(text_width("e\xcc\x81"), 1);                /* e + combining acute */
    ck_assert_uint_eq(text_width("a\\x0a"), 5);
    ck_assert_uint_eq(text_width(""), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("text");
    TCase *tc = tcase_create("text");
    tcase_add_test(tc, text_test_names_are_visible_utf8_words);
    tcase_add_test(tc, text_test_names_refuse_controls_spaces_and_invisibles);
    tcase_add_test(tc, text_test_valid_is_utf8_without_controls);
    tcase_add_test(tc, text_test_escape_makes_one_printable_line);
    tcase_add_test(tc, text_test_width_counts_columns_not_bytes);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
