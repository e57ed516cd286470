/*
 * log_test.c - log lines and the decrypt-failure rate limiter (agent/log.c).
 */
#include <check.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"

START_TEST(log_test_line_has_time_level_message)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    struct log *lg = log_new(f, LOG_INFO);
    log_msg(lg, LOG_WARN, "member-failed name=%s", "n2");
    log_msg(lg, LOG_DEBUG, "not shown");
    fclose(f);
    regex_t re;
    ck_assert_int_eq(regcomp(&re,
                             "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                             "warn  member-failed name=n2\n$",
                             REG_EXTENDED),
                     0);
    ck_assert_msg(regexec(&re, buf, 0, NULL, 0) == 0, "line: %s", buf);
    regfree(&re);
    log_delete(lg);
    free(buf);
}
END_TEST

START_TEST(log_test_level_parse)
{
    enum log_level l;
    ck_assert_int_eq(log_level_parse("debug", &l), 0);
    ck_assert_int_eq(l, LOG_DEBUG);
    ck_assert_int_eq(log_level_parse("DEBUG", &l), ERR_INVAL);
    ck_assert_str_eq(log_level_name(LOG_ERROR), "error");
}
END_TEST

START_TEST(log_test_limit_burst_then_suppress_then_report)
{
    struct log_limit lim;
    uint64_t sup = 99;
    log_limit_create(&lim, 1000, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(log_limit_allow(&lim, 100 + (uint64_t)i, &sup), 1);
        ck_assert_uint_eq(sup, 0);
    }
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(log_limit_allow(&lim, 200, &sup), 0);
    ck_assert_int_eq(log_limit_allow(&lim, 1100, &sup), 1);
    ck_assert_uint_eq(sup, 10);
    ck_assert_int_eq(log_limit_allow(&lim, 1101, &sup), 1);
    ck_assert_uint_eq(sup, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, log_test_line_has_time_level_message);
    tcase_add_test(tc, log_test_level_parse);
    tcase_add_test(tc, log_test_limit_burst_then_suppress_then_report);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
