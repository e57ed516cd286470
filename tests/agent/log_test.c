/*
 * log_test.c - log lines (text, json, for the journal) and the
 * decrypt-failure rate limiter (agent/log.c).
 */
#include <check.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* True when `text` matches the extended regex `pattern`. */
static int matches(const char *pattern, const char *text)
{
    regex_t re;
    ck_assert_int_eq(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    int rc = regexec(&re, text, 0, NULL, 0);
    regfree(&re);
    return rc == 0;
}

/* A logger at `level` and `format` on a memory stream: *buf gets the text. */
struct capture {
    char *buf;
    size_t size;
    FILE *f;
    struct log *lg;
};

static void capture_open(struct capture *c, enum log_level level, enum log_format format)
{
    c->buf = NULL;
    c->size = 0;
    c->f = open_memstream(&c->buf, &c->size);
    ck_assert_ptr_nonnull(c->f);
    c->lg = log_new(c->f, level);
    ck_assert_ptr_nonnull(c->lg);
    log_set_format(c->lg, format);
}

static void capture_close(struct capture *c)
{
    fclose(c->f);
    log_delete(c->lg);
}

START_TEST(log_test_json_line_has_time_level_message)
{
    struct capture c;
    capture_open(&c, LOG_INFO, LOG_FORMAT_JSON);
    log_msg(c.lg, LOG_WARN, "member-failed name=%s", "n2");
    log_msg(c.lg, LOG_DEBUG, "not shown");
    capture_close(&c);
    ck_assert_msg(matches("^\\{[^\n]*\\}\n$", c.buf), "one line: %s", c.buf);
    json_error_t jerr;
    json_t *o = json_loads(c.buf, 0, &jerr);
    ck_assert_msg(o != NULL, "not JSON: %s (%s)", c.buf, jerr.text);
    ck_assert_int_eq(json_object_size(o), 3);
    const char *t = json_string_value(json_object_get(o, "time"));
    ck_assert_ptr_nonnull(t);
    ck_assert(matches("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$", t));
    ck_assert_str_eq(json_string_value(json_object_get(o, "level")), "warn");
    ck_assert_str_eq(json_string_value(json_object_get(o, "message")), "member-failed name=n2");
    json_decref(o);
    free(c.buf);
}
END_TEST

START_TEST(log_test_json_escapes_quotes_controls_and_bad_utf8)
{
    struct capture c;
    capture_open(&c, LOG_DEBUG, LOG_FORMAT_JSON);
    log_msg(c.lg, LOG_INFO, "payload=\"a\"\nb\tc\\");
    log_msg(c.lg, LOG_INFO, "raw=%s", "\xff\xfeok");
    log_msg(c.lg, LOG_INFO, "utf8=%s", "h\xc3\xa9");
    capture_close(&c);
    char *second = strchr(c.buf, '\n') + 1;
    char *third = strchr(second, '\n') + 1;
    ck_assert_ptr_nonnull(strchr(third, '\n'));
    ck_assert_str_eq(strchr(third, '\n') + 1, ""); /* exactly three lines */
    json_t *a = json_loadb(c.buf, (size_t)(second - c.buf), 0, NULL);
    json_t *b = json_loadb(second, (size_t)(third - second), 0, NULL);
    json_t *u = json_loads(third, 0, NULL);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(u);
    ck_assert_str_eq(json_string_value(json_object_get(a, "message")), "payload=\"a\"\nb\tc\\");
    ck_assert_str_eq(json_string_value(json_object_get(b, "message")), "raw=??ok");
    ck_assert_str_eq(json_string_value(json_object_get(u, "message")), "utf8=h\xc3\xa9");
    json_decref(a);
    json_decref(b);
    json_decref(u);
    free(c.buf);
}
END_TEST

/* A temporary file named the journal by JOURNAL_STREAM (or, with
 * `other_inode`, a stream that is not the journal). */
static FILE *journal_file(int other_inode)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    struct stat st;
    ck_assert_int_eq(fstat(fileno(f), &st), 0);
    char js[64];
    snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino + (other_inode ? 1 : 0));
    ck_assert_int_eq(setenv("JOURNAL_STREAM", js, 1), 0);
    return f;
}

/* Everything written to f, as a NUL-terminated string in buf. */
static void read_back(FILE *f, char *buf, size_t cap)
{
    rewind(f);
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
}

START_TEST(log_test_journal_lines_have_priority_and_no_time)
{
    FILE *f = journal_file(0);
    struct log *lg = log_new(f, LOG_DEBUG);
    ck_assert(log_is_journal(lg));
    log_msg(lg, LOG_ERROR, "cannot start: %s", "bind failed");
    log_msg(lg, LOG_WARN, "member-failed name=n2");
    log_msg(lg, LOG_INFO, "started");
    log_msg(lg, LOG_DEBUG, "probe");
    log_set_format(lg, LOG_FORMAT_JSON);
    log_msg(lg, LOG_INFO, "member-join name=n3");
    char buf[1024];
    read_back(f, buf, sizeof(buf));
    ck_assert_str_eq(buf, "<3>error cannot start: bind failed\n"
                          "<4>warn  member-failed name=n2\n"
                          "<6>info  started\n"
                          "<7>debug probe\n"
                          "<6>{\"level\":\"info\",\"message\":\"member-join name=n3\"}\n");
    log_delete(lg);
    fclose(f);
    unsetenv("JOURNAL_STREAM");
}
END_TEST

START_TEST(log_test_journal_only_when_stream_matches)
{
    FILE *f = journal_file(1); /* names another inode */
    ck_assert(!log_stream_is_journal(f));
    struct log *lg = log_new(f, LOG_INFO);
    ck_assert(!log_is_journal(lg));
    log_msg(lg, LOG_INFO, "started");
    char buf[256];
    read_back(f, buf, sizeof(buf));
    ck_assert_msg(matches("^[0-9]{4}-[^ ]+Z info  started\n$", buf), "line: %s", buf);
    log_delete(lg);
    const char *bad[] = {"", "12", "12:", ":34", "12:34x", "x:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        setenv("JOURNAL_STREAM", bad[i], 1);
        ck_assert_msg(!log_stream_is_journal(f), "JOURNAL_STREAM=%s", bad[i]);
    }
    unsetenv("JOURNAL_STREAM");
    ck_assert(!log_stream_is_journal(f));
    fclose(f);
    char *mbuf = NULL;
    size_t msize = 0;
    FILE *m = open_memstream(&mbuf, &msize); /* no descriptor: never the journal */
    setenv("JOURNAL_STREAM", "0:0", 1);
    ck_assert(!log_stream_is_journal(m));
    unsetenv("JOURNAL_STREAM");
    fclose(m);
    free(mbuf);
}
END_TEST

START_TEST(log_test_format_parse)
{
    enum log_format fmt = LOG_FORMAT_TEXT;
    ck_assert_int_eq(log_format_parse("json", &fmt), 0);
    ck_assert_int_eq(fmt, LOG_FORMAT_JSON);
    ck_assert_int_eq(log_format_parse("text", &fmt), 0);
    ck_assert_int_eq(fmt, LOG_FORMAT_TEXT);
    ck_assert_int_eq(log_format_parse("JSON", &fmt), ERR_INVAL);
    ck_assert_int_eq(log_format_parse("", &fmt), ERR_INVAL);
    ck_assert_str_eq(log_format_name(LOG_FORMAT_JSON), "json");
    ck_assert_str_eq(log_format_name((enum log_format)7), "?");
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

/* A name from a peer cannot forge a log line or reach the terminal raw. */
START_TEST(log_test_text_line_escapes_controls_and_bad_utf8)
{
    struct capture c;
    capture_open(&c, LOG_DEBUG, LOG_FORMAT_TEXT);
    log_msg(c.lg, LOG_INFO, "member-join name=%s addr=x",
            "ev\n2024-05-01T00:00:00.000Z error fake-line");
    log_msg(c.lg, LOG_INFO, "payload=%s", "\x1b[2J\xff\\end");
    capture_close(&c);
    char *second = strchr(c.buf, '\n') + 1;
    ck_assert_ptr_nonnull(strchr(second, '\n'));
    ck_assert_str_eq(strchr(second, '\n') + 1, ""); /* exactly two lines */
    ck_assert_msg(strstr(c.buf, "name=ev\\x0a2024-05-01T00:00:00.000Z error fake-line addr=x\n") !=
                      NULL,
                  "log: %s", c.buf);
    ck_assert_msg(strstr(second, "payload=\\x1b[2J\\xff\\\\end\n") != NULL, "log: %s", second);
    free(c.buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, log_test_line_has_time_level_message);
    tcase_add_test(tc, log_test_json_line_has_time_level_message);
    tcase_add_test(tc, log_test_json_escapes_quotes_controls_and_bad_utf8);
    tcase_add_test(tc, log_test_text_line_escapes_controls_and_bad_utf8);
    tcase_add_test(tc, log_test_journal_lines_have_priority_and_no_time);
    tcase_add_test(tc, log_test_journal_only_when_stream_matches);
    tcase_add_test(tc, log_test_format_parse);
    tcase_add_test(tc, log_test_level_parse);
    tcase_add_test(tc, log_test_limit_burst_then_suppress_then_report);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
