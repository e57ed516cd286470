/*
 * metrics_test.c - the exposition's label values (agent/metrics.c): the
 * three escapes the text format defines, and every byte that may not stand
 * in a label value (control bytes, invalid UTF-8) replaced, so no node name
 * can break a line or the parser.  The whole exposition is tested against
 * real swimd processes, promtool and Prometheus in metrics_it_test.c.
 */
#include <check.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define FFFD "\xef\xbf\xbd"

/* value (len bytes) as metrics_label_value() writes it, NUL-terminated in
 * a static buffer. */
static const char *label(const char *value, size_t len)
{
    static char out[256];
    struct evbuffer *b = evbuffer_new();
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(metrics_label_value(b, value, len), 0);
    size_t n = evbuffer_get_length(b);
    ck_assert_uint_lt(n, sizeof(out));
    evbuffer_remove(b, out, n);
    out[n] = '\0';
    evbuffer_free(b);
    return out;
}

#define LABEL(s) label((s), sizeof(s) - 1)

START_TEST(metrics_test_label_plain_unchanged)
{
    ck_assert_str_eq(LABEL("alive"), "alive");
    ck_assert_str_eq(LABEL("ping-req"), "ping-req");
    ck_assert_str_eq(LABEL(""), "");
}
END_TEST

START_TEST(metrics_test_label_escapes)
{
    ck_assert_str_eq(LABEL("a\"b"), "a\\\"b");
    ck_assert_str_eq(LABEL("a\\b"), "a\\\\b");
    ck_assert_str_eq(LABEL("a\nb"), "a\\nb");
    ck_assert_str_eq(LABEL("\\\"\n"), "\\\\\\\"\\n");
}
END_TEST

START_TEST(metrics_test_label_control_bytes_replaced)
{
    ck_assert_str_eq(LABEL("a\tb"), "a" FFFD "b");
    ck_assert_str_eq(LABEL("\r\x1b\x7f"), FFFD FFFD FFFD);
    ck_assert_str_eq(LABEL("a\0b"), "a" FFFD "b"); /* a NUL inside the value */
}
END_TEST

START_TEST(metrics_test_label_utf8_kept)
{
    ck_assert_str_eq(LABEL("n\xc5\x93ud"), "n\xc5\x93ud");                           /* 2 bytes */
    ck_assert_str_eq(LABEL("\xe6\x9d\xb1\xe4\xba\xac"), "\xe6\x9d\xb1\xe4\xba\xac"); /* 3 */
    ck_assert_str_eq(LABEL("\xf0\x9f\x99\x82"), "\xf0\x9f\x99\x82");                 /* 4 */
}
END_TEST

START_TEST(metrics_test_label_invalid_utf8_replaced)
{
    ck_assert_str_eq(LABEL("a\xff"), "a" FFFD);
    ck_assert_str_eq(LABEL("\xc0\xaf"), FFFD FFFD);                   /* overlong '/' */
    ck_assert_str_eq(LABEL("\xe0\x80\xaf"), FFFD FFFD FFFD);          /* overlong, 3 bytes */
    ck_assert_str_eq(LABEL("\xed\xa0\x80"), FFFD FFFD FFFD);          /* a UTF-16 surrogate */
    ck_assert_str_eq(LABEL("\xf4\x90\x80\x80"), FFFD FFFD FFFD FFFD); /* above U+10FFFF */
    ck_assert_str_eq(LABEL("x\xe6\x9d"), "x" FFFD FFFD);              /* cut short */
    ck_assert_str_eq(LABEL("\x80z"), FFFD "z");                       /* a lone continuation */
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("label");
    tcase_add_test(tc, metrics_test_label_plain_unchanged);
    tcase_add_test(tc, metrics_test_label_escapes);
    tcase_add_test(tc, metrics_test_label_control_bytes_replaced);
    tcase_add_test(tc, metrics_test_label_utf8_kept);
    tcase_add_test(tc, metrics_test_label_invalid_utf8_replaced);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(metrics_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
