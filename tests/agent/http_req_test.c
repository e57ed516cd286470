/*
 * http_req_test.c - the request head parser of the metrics endpoint
 * (agent/http_req.c): good heads, methods, targets, bad request lines and
 * header lines, the size bound, input that arrives in pieces, and NUL
 * bytes.  tests/fuzz/http_req_fuzz.c checks the same contracts on any
 * bytes; metrics_it_test.c checks the answers a real swimd gives.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http_req.h"

/* Largest head the tests build. */
#define T_MAX 8192

/* One-shot parse of s[0..len) with bound max. */
static int parse_n(struct http_req *r, const char *s, size_t len, size_t max)
{
    http_req_init(r);
    return http_req_parse(r, s, len, max);
}

#define PARSE(r, lit) parse_n((r), (lit), sizeof(lit) - 1, T_MAX)

/* The request parsed by feeding s one byte more at a time: ERR_AGAIN until
 * the last byte, then the one-shot result. */
static int parse_bytewise(struct http_req *r, const char *s, size_t len)
{
    http_req_init(r);
    int rc = ERR_AGAIN;
    for (size_t i = 1; i <= len && rc == ERR_AGAIN; i++)
        rc = http_req_parse(r, s, i, T_MAX);
    return rc;
}

START_TEST(http_req_test_get_is_complete)
{
    struct http_req r;
    const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9946\r\nAccept: */*\r\n\r\n";
    ck_assert_int_eq(PARSE(&r, req), 0);
    ck_assert(http_req_method_is(&r, "GET"));
    ck_assert(http_req_path_is(&r, "/metrics"));
    ck_assert_int_eq(r.minor, 1);
    ck_assert_uint_eq(r.head_len, sizeof(req) - 1);
}
END_TEST

START_TEST(http_req_test_http10_and_bare_lf)
{
    struct http_req r;
    ck_assert_int_eq(PARSE(&r, "GET /metrics HTTP/1.0\r\n\r\n"), 0);
    ck_assert_int_eq(r.minor, 0);
    ck_assert(http_req_path_is(&r, "/metrics"));
    ck_assert_int_eq(PARSE(&r, "GET /metrics HTTP/1.1\nHost: x\n\n"), 0);
    ck_assert_uint_eq(r.head_len, strlen("GET /metrics HTTP/1.1\nHost: x\n\n"));
    /* Empty lines before the request line are skipped. */
    ck_assert_int_eq(PARSE(&r, "\r\n\nGET / HTTP/1.1\r\n\r\n"), 0);
    ck_assert(http_req_path_is(&r, "/"));
}
END_TEST

START_TEST(http_req_test_body_after_head_not_read)
{
    struct http_req r;
    const char req[] = "POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    ck_assert_int_eq(PARSE(&r, req), 0);
    ck_assert_uint_eq(r.head_len, sizeof(req) - 1 - 5);
}
END_TEST

START_TEST(http_req_test_targets)
{
    struct http_req r;
    ck_assert_int_eq(PARSE(&r, "GET /metrics?name[]=swimd_members HTTP/1.1\r\n\r\n"), 0);
    ck_assert(http_req_path_is(&r, "/metrics"));
    ck_assert_int_eq(PARSE(&r, "GET /metrics#frag HTTP/1.1\r\n\r\n"), 0);
    ck_assert(http_req_path_is(&r, "/metrics"));
    ck_assert_int_eq(PARSE(&r, "GET http://web-1.example:9946/metrics?x=1 HTTP/1.1\r\n\r\n"), 0);
    ck_assert(http_req_path_is(&r, "/metrics"));
    ck_assert_int_eq(PARSE(&r, "GET http://web-1.example:9946 HTTP/1.1\r\n\r\n"), 0);
    ck_assert_uint_eq(r.path_len, 0);
    ck_assert_int_eq(PARSE(&r, "OPTIONS * HTTP/1.1\r\n\r\n"), 0);
    ck_assert_uint_eq(r.path_len, 0);
    ck_assert_int_eq(PARSE(&r, "GET metrics HTTP/1.1\r\n\r\n"), 0);
    ck_assert_uint_eq(r.path_len, 0);
    /* No decoding: an escaped path is another path. */
    ck_assert_int_eq(PARSE(&r, "GET /%6detrics HTTP/1.1\r\n\r\n"), 0);
    ck_assert(!http_req_path_is(&r, "/metrics"));
    ck_assert(!http_req_path_is(&r, "/metric"));
    ck_assert_int_eq(PARSE(&r, "GET /metrics/x HTTP/1.1\r\n\r\n"), 0);
    ck_assert(!http_req_path_is(&r, "/metrics"));
}
END_TEST

START_TEST(http_req_test_other_methods)
{
    const char *const methods[] = {"POST",    "HEAD",  "PUT", "DELETE",
                                   "OPTIONS", "PATCH", "get", "M-SEARCH"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        char req[128];
        snprintf(req, sizeof(req), "%s /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n", methods[i]);
        struct http_req r;
        ck_assert_int_eq(parse_n(&r, req, strlen(req), T_MAX), 0);
        ck_assert_msg(!http_req_method_is(&r, "GET"), "%s", methods[i]);
        ck_assert_msg(http_req_method_is(&r, methods[i]), "%s", methods[i]);
    }
}
END_TEST

START_TEST(http_req_test_method_length_bound)
{
    char req[128];
    struct http_req r;
    memset(req, 'X', HTTP_REQ_METHOD_MAX);
    strcpy(req + HTTP_REQ_METHOD_MAX, " / HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(parse_n(&r, req, strlen(req), T_MAX), 0);
    ck_assert_uint_eq(r.method_len, HTTP_REQ_METHOD_MAX);
    memset(req, 'X', HTTP_REQ_METHOD_MAX + 1);
    strcpy(req + HTTP_REQ_METHOD_MAX + 1, " / HTTP/1.1\r\n\r\n");
    ck_assert_int_eq(parse_n(&r, req, strlen(req), T_MAX), ERR_MALFORMED);
    /* Refused before its line ends. */
    ck_assert_int_eq(parse_n(&r, req, HTTP_REQ_METHOD_MAX + 1, T_MAX), ERR_MALFORMED);
    ck_assert_int_eq(parse_n(&r, req, HTTP_REQ_METHOD_MAX, T_MAX), ERR_AGAIN);
}
END_TEST

START_TEST(http_req_test_bad_request_lines)
{
    const char *const bad[] = {
        "GET /metrics\r\n\r\n",                 /* HTTP/0.9: no version */
        "GET\r\n\r\n",                          /* a method alone */
        "GET  /metrics HTTP/1.1\r\n\r\n",       /* two spaces */
        "GET /metrics  HTTP/1.1\r\n\r\n",       /* two spaces */
        " GET /metrics HTTP/1.1\r\n\r\n",       /* leading space */
        "GET /metrics HTTP/1.1 \r\n\r\n",       /* trailing space */
        "GET /metrics HTTP/2.0\r\n\r\n",        /* another major version */
        "GET /metrics HTTP/1.10\r\n\r\n",       /* two digits */
        "GET /metrics HTTP/1.x\r\n\r\n",        /* not a digit */
        "GET /metrics http/1.1\r\n\r\n",        /* case */
        "GET /metrics HTTP/1.\r\n\r\n",         /* cut */
        "GET\t/metrics HTTP/1.1\r\n\r\n",       /* a tab for the space */
        "GET /a\x7f HTTP/1.1\r\n\r\n",          /* DEL in the target */
        "GET /\xc3\xa9 HTTP/1.1\r\n\r\n",       /* non-ASCII target */
        "G(T / HTTP/1.1\r\n\r\n",               /* not a token */
        "GET / HTTP/1.1\r\r\n\r\n",             /* a CR before the CRLF */
        "GET / HTTP/1.1\rX\r\n\r\n",            /* a lone CR */
        "\x16\x03\x01\x02\x00\x01\x00\x01\xfc", /* a TLS hello */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct http_req r;
        ck_assert_msg(parse_n(&r, bad[i], strlen(bad[i]), T_MAX) == ERR_MALFORMED, "line %zu", i);
    }
}
END_TEST

START_TEST(http_req_test_bad_header_lines)
{
    const char *const bad[] = {
        "Host x",    /* no colon */
        "Host : x",  /* space before the colon */
        ": x",       /* no name */
        " folded",   /* obsolete line folding */
        "\tfolded",  /* the same with a tab */
        "X: a\x01z", /* a control byte */
        "X: a\rz",   /* a lone CR */
        "X: a\x7fz", /* DEL */
        "X(: y",     /* not a token */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char req[256];
        snprintf(req, sizeof(req), "GET /metrics HTTP/1.1\r\nHost: x\r\n%s\r\n\r\n", bad[i]);
        struct http_req r;
        ck_assert_msg(parse_n(&r, req, strlen(req), T_MAX) == ERR_MALFORMED, "header %zu", i);
    }
    /* Values may hold tabs, spaces and bytes above 0x7f; may be empty. */
    struct http_req r;
    ck_assert_int_eq(PARSE(&r, "GET / HTTP/1.1\r\nX:\ta b\xc3\xa9\r\nY:\r\n\r\n"), 0);
}
END_TEST

START_TEST(http_req_test_oversize)
{
    char *buf = malloc(T_MAX + 64);
    ck_assert_ptr_nonnull(buf);
    int n = snprintf(buf, 64, "GET /metrics HTTP/1.1\r\nX-Filler: ");
    memset(buf + n, 'a', T_MAX + 64 - (size_t)n);
    struct http_req r;
    ck_assert_int_eq(parse_n(&r, buf, T_MAX - 1, T_MAX), ERR_AGAIN);
    ck_assert_int_eq(parse_n(&r, buf, T_MAX, T_MAX), ERR_TOOBIG);
    ck_assert_int_eq(parse_n(&r, buf, T_MAX + 64, T_MAX), ERR_TOOBIG);
    /* A head ending exactly at the bound fits; one byte later does not. */
    memcpy(buf + T_MAX - 4, "\r\n\r\n", 4);
    ck_assert_int_eq(parse_n(&r, buf, T_MAX, T_MAX), 0);
    ck_assert_uint_eq(r.head_len, T_MAX);
    memcpy(buf + T_MAX - 4, "aaaa\r\n\r\n", 8);
    ck_assert_int_eq(parse_n(&r, buf, T_MAX + 4, T_MAX), ERR_TOOBIG);
    /* Growing one byte at a time reaches the same verdict. */
    http_req_init(&r);
    int rc = ERR_AGAIN;
    for (size_t i = 1; i <= T_MAX + 64 && rc == ERR_AGAIN; i++)
        rc = http_req_parse(&r, buf, i, T_MAX);
    ck_assert_int_eq(rc, ERR_TOOBIG);
    free(buf);
}
END_TEST

START_TEST(http_req_test_partial_input)
{
    const char req[] = "GET /metrics?x=1 HTTP/1.0\r\nHost: a\r\nAccept: text/plain\r\n\r\n";
    struct http_req one, r;
    ck_assert_int_eq(PARSE(&one, req), 0);
    for (size_t i = 0; i < sizeof(req) - 1; i++) {
        struct http_req p;
        ck_assert_msg(parse_n(&p, req, i, T_MAX) == ERR_AGAIN, "prefix of %zu bytes", i);
    }
    ck_assert_int_eq(parse_bytewise(&r, req, sizeof(req) - 1), 0);
    ck_assert_ptr_eq(r.method, one.method);
    ck_assert_uint_eq(r.method_len, one.method_len);
    ck_assert_ptr_eq(r.path, one.path);
    ck_assert_uint_eq(r.path_len, one.path_len);
    ck_assert_uint_eq(r.head_len, one.head_len);
    ck_assert_int_eq(r.minor, one.minor);
    /* A bad method is refused from its first bad byte; a lone CR waits. */
    ck_assert_int_eq(parse_n(&r, "\x16", 1, T_MAX), ERR_MALFORMED);
    ck_assert_int_eq(parse_n(&r, "GE", 2, T_MAX), ERR_AGAIN);
    ck_assert_int_eq(parse_n(&r, "GE\r", 3, T_MAX), ERR_MALFORMED);
    ck_assert_int_eq(parse_n(&r, "\r", 1, T_MAX), ERR_AGAIN);
    ck_assert_int_eq(parse_n(&r, "\r\r", 2, T_MAX), ERR_MALFORMED);
    ck_assert_int_eq(parse_n(&r, "", 0, T_MAX), ERR_AGAIN);
    /* A bad header line is refused once it is complete. */
    ck_assert_int_eq(parse_bytewise(&r, "GET / HTTP/1.1\r\nBad\r\n\r\n", 23), ERR_MALFORMED);
}
END_TEST

START_TEST(http_req_test_nul_bytes)
{
    struct http_req r;
    ck_assert_int_eq(PARSE(&r, "\0GET / HTTP/1.1\r\n\r\n"), ERR_MALFORMED);
    ck_assert_int_eq(parse_n(&r, "\0", 1, T_MAX), ERR_MALFORMED); /* at once */
    ck_assert_int_eq(PARSE(&r, "GE\0T / HTTP/1.1\r\n\r\n"), ERR_MALFORMED);
    ck_assert_int_eq(PARSE(&r, "GET /met\0rics HTTP/1.1\r\n\r\n"), ERR_MALFORMED);
    ck_assert_int_eq(PARSE(&r, "GET /metrics HTTP/1.1\0\r\n\r\n"), ERR_MALFORMED);
    ck_assert_int_eq(PARSE(&r, "GET /metrics HTTP/1.1\r\nX: a\0b\r\n\r\n"), ERR_MALFORMED);
    ck_assert_int_eq(PARSE(&r, "GET /metrics HTTP/1.1\r\nX\0: b\r\n\r\n"), ERR_MALFORMED);
    /* After the head: a body, not looked at. */
    ck_assert_int_eq(PARSE(&r, "GET /metrics HTTP/1.1\r\n\r\n\0\0"), 0);
}
END_TEST

static Suite *http_req_suite(void)
{
    Suite *s = suite_create("http_req");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, http_req_test_get_is_complete);
    tcase_add_test(tc, http_req_test_http10_and_bare_lf);
    tcase_add_test(tc, http_req_test_body_after_head_not_read);
    tcase_add_test(tc, http_req_test_targets);
    tcase_add_test(tc, http_req_test_other_methods);
    tcase_add_test(tc, http_req_test_method_length_bound);
    tcase_add_test(tc, http_req_test_bad_request_lines);
    tcase_add_test(tc, http_req_test_bad_header_lines);
    tcase_add_test(tc, http_req_test_oversize);
    tcase_add_test(tc, http_req_test_partial_input);
    tcase_add_test(tc, http_req_test_nul_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(http_req_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
