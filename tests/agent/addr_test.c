/*
 * addr_test.c - HOST:PORT text and the agent's address encoding
 * (agent/addr.c).
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "err.h"

START_TEST(addr_test_split_accepts_forms)
{
    char host[ADDR_HOST_MAX];
    uint16_t port;
    ck_assert_int_eq(addr_split("127.0.0.1:7946", -1, host, &port), 0);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_uint_eq(port, 7946);
    ck_assert_int_eq(addr_split("[::1]:0", -1, host, &port), 0);
    ck_assert_str_eq(host, "::1");
    ck_assert_uint_eq(port, 0);
    ck_assert_int_eq(addr_split("seed.example", 7946, host, &port), 0);
    ck_assert_str_eq(host, "seed.example");
    ck_assert_uint_eq(port, 7946);
    ck_assert_int_eq(addr_split("[fe80::1]", 1, host, &port), 0);
    ck_assert_str_eq(host, "fe80::1");
}
END_TEST

START_TEST(addr_test_split_rejects_bad_text)
{
    char host[ADDR_HOST_MAX];
    uint16_t port;
    const char *bad[] = {"",        ":7946",       "host:", "host:65536", "host:-1",
                         "host:7x", "::1:7946",    "[::1",  "[::1]x",     "[host]:1",
                         "ho st:1", "host:123456", "[]:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(addr_split(bad[i], 7946, host, &port) == ERR_INVAL, "accepted \"%s\"",
                      bad[i]);
    ck_assert_int_eq(addr_split("host", -1, host, &port), ERR_INVAL); /* port required */
}
END_TEST

START_TEST(addr_test_v4_round_trip)
{
    struct sockaddr_in in = {0};
    in.sin_family = AF_INET;
    in.sin_port = htons(7946);
    inet_pton(AF_INET, "10.1.2.3", &in.sin_addr);
    struct swim_addr a;
    ck_assert_int_eq(addr_from_sockaddr(&a, (struct sockaddr *)&in), 0);
    ck_assert_uint_eq(a.len, 7);
    ck_assert_uint_eq(a.bytes[0], 4);
    char text[ADDR_TEXT_MAX];
    ck_assert_str_eq(addr_format(&a, text), "10.1.2.3:7946");
    struct sockaddr_storage ss;
    socklen_t len;
    ck_assert_int_eq(addr_to_sockaddr(&ss, &len, &a, AF_INET), 0);
    ck_assert_int_eq(memcmp(&ss, &in, sizeof(in)), 0);
    /* Through a dual-stack socket it becomes IPv4-mapped. */
    ck_assert_int_eq(addr_to_sockaddr(&ss, &len, &a, AF_INET6), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET6);
    ck_assert(IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr));
}
END_TEST

START_TEST(addr_test_v6_round_trip_and_mapped_collapse)
{
    struct sockaddr_in6 in6 = {0};
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(1);
    inet_pton(AF_INET6, "::1", &in6.sin6_addr);
    struct swim_addr a;
    ck_assert_int_eq(addr_from_sockaddr(&a, (struct sockaddr *)&in6), 0);
    ck_assert_uint_eq(a.len, 19);
    char text[ADDR_TEXT_MAX];
    ck_assert_str_eq(addr_format(&a, text), "[::1]:1");
    struct sockaddr_storage ss;
    socklen_t len;
    ck_assert_int_eq(addr_to_sockaddr(&ss, &len, &a, AF_INET), ERR_INVAL);
    inet_pton(AF_INET6, "::ffff:192.168.0.1", &in6.sin6_addr);
    ck_assert_int_eq(addr_from_sockaddr(&a, (struct sockaddr *)&in6), 0);
    ck_assert_uint_eq(a.len, 7);
    ck_assert_str_eq(addr_format(&a, text), "192.168.0.1:1");
}
END_TEST

START_TEST(addr_test_foreign_bytes_rejected)
{
    struct swim_addr a = {0};
    struct sockaddr_storage ss;
    socklen_t len;
    char text[ADDR_TEXT_MAX];
    a.len = 7;
    a.bytes[0] = 6; /* v6 tag with a v4 length */
    ck_assert_int_eq(addr_to_sockaddr(&ss, &len, &a, AF_INET6), ERR_MALFORMED);
    a.len = 0;
    ck_assert_int_eq(addr_to_sockaddr(&ss, &len, &a, AF_INET6), ERR_MALFORMED);
    ck_assert_str_eq(addr_format(&a, text), "?");
}
END_TEST

START_TEST(addr_test_resolve_numeric_and_name)
{
    struct sockaddr_storage ss[8];
    size_t n;
    ck_assert_int_eq(addr_resolve("127.0.0.1:5", -1, 1, ss, 8, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(ss[0].ss_family, AF_INET);
    ck_assert_int_eq(addr_resolve("[::1]:5", -1, 1, ss, 8, &n), 0);
    ck_assert_int_eq(ss[0].ss_family, AF_INET6);
    ck_assert_int_eq(addr_resolve("localhost:5", -1, 1, ss, 8, &n), ERR_INVAL);
    /* "localhost" comes from /etc/hosts: at least its A record. */
    ck_assert_int_eq(addr_resolve("localhost:5", -1, 0, ss, 8, &n), 0);
    ck_assert_uint_ge(n, 1);
    ck_assert_int_eq(addr_resolve("no-such-host.invalid:5", -1, 0, ss, 8, &n), ERR_NOTFOUND);
}
END_TEST

static struct sockaddr_storage numeric(const char *text)
{
    struct sockaddr_storage ss;
    size_t n = 0;
    ck_assert_int_eq(addr_resolve(text, -1, 1, &ss, 1, &n), 0);
    return ss;
}

START_TEST(addr_test_peer_and_scope)
{
    const char *peers[] = {"127.0.0.1:7946", "10.1.2.3:1", "[::1]:7946", "[2001:db8::1]:9",
                           "[::ffff:10.0.0.1]:7946"};
    const char *not_peers[] = {
        "0.0.0.0:7946",           "127.0.0.1:0", "224.0.0.1:7946", "239.255.255.250:1900",
        "255.255.255.255:7946",   "240.0.0.1:1", "[::]:7946",      "[ff02::1]:7946",
        "[::ffff:224.0.0.1]:7946"};
    for (size_t i = 0; i < sizeof(peers) / sizeof(peers[0]); i++) {
        struct sockaddr_storage ss = numeric(peers[i]);
        ck_assert_msg(addr_is_peer((struct sockaddr *)&ss), "%s", peers[i]);
        ck_assert(!addr_is_scoped((struct sockaddr *)&ss));
    }
    for (size_t i = 0; i < sizeof(not_peers) / sizeof(not_peers[0]); i++) {
        struct sockaddr_storage ss = numeric(not_peers[i]);
        ck_assert_msg(!addr_is_peer((struct sockaddr *)&ss), "%s", not_peers[i]);
    }
    struct sockaddr_storage ss = numeric("[fe80::1%1]:7946");
    ck_assert(addr_is_scoped((struct sockaddr *)&ss));
    ss = numeric("[fe80::1]:7946");
    ck_assert(addr_is_scoped((struct sockaddr *)&ss));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("addr");
    TCase *tc = tcase_create("addr");
    tcase_add_test(tc, addr_test_split_accepts_forms);
    tcase_add_test(tc, addr_test_split_rejects_bad_text);
    tcase_add_test(tc, addr_test_v4_round_trip);
    tcase_add_test(tc, addr_test_v6_round_trip_and_mapped_collapse);
    tcase_add_test(tc, addr_test_foreign_bytes_rejected);
    tcase_add_test(tc, addr_test_resolve_numeric_and_name);
    tcase_add_test(tc, addr_test_peer_and_scope);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
