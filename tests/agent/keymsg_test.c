/*
 * keymsg_test.c - the payloads of keyring operations between nodes
 * (agent/keymsg.c): round trips, and one refusal per field.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "keymsg.h"

static int decode_req(const uint8_t *p, size_t n, struct keymsg_request *out)
{
    const uint8_t *pos = p;
    return keymsg_decode_request(out, &pos, p + n);
}

static int decode_resp(const uint8_t *p, size_t n, struct keymsg_response *out)
{
    const uint8_t *pos = p;
    return keymsg_decode_response(out, &pos, p + n);
}

START_TEST(keymsg_test_request_round_trip)
{
    uint8_t buf[KEYMSG_REQUEST_MAX];
    struct keymsg_request in = {.op = KEYMSG_USE}, out;
    for (size_t i = 0; i < sizeof(in.key); i++)
        in.key[i] = (uint8_t)(i * 7);
    int n = keymsg_encode_request(&in, buf, sizeof(buf));
    ck_assert_int_eq(n, KEYMSG_REQUEST_MAX);
    ck_assert_int_eq(decode_req(buf, (size_t)n, &out), 0);
    ck_assert_int_eq(out.op, KEYMSG_USE);
    ck_assert_mem_eq(out.key, in.key, sizeof(in.key));
    in.op = KEYMSG_LIST; /* no key */
    ck_assert_int_eq(keymsg_encode_request(&in, buf, sizeof(buf)), 2);
    ck_assert_int_eq(decode_req(buf, 2, &out), 0);
    ck_assert_int_eq(out.op, KEYMSG_LIST);
    ck_assert_int_eq(keymsg_encode_request(&in, buf, 1), ERR_NOSPACE);
    in.op = (enum keymsg_op)9;
    ck_assert_int_eq(keymsg_encode_request(&in, buf, sizeof(buf)), ERR_INVAL);
}
END_TEST

START_TEST(keymsg_test_request_fields_checked)
{
    uint8_t buf[KEYMSG_REQUEST_MAX + 1] = {KEYMSG_VERSION, KEYMSG_INSTALL};
    struct keymsg_request out;
    ck_assert_int_eq(decode_req(buf, 1, &out), ERR_TRUNC);
    ck_assert_int_eq(decode_req(buf, KEYMSG_REQUEST_MAX - 1, &out), ERR_TRUNC);     /* short key */
    ck_assert_int_eq(decode_req(buf, KEYMSG_REQUEST_MAX + 1, &out), ERR_MALFORMED); /* trailing */
    buf[1] = 0;
    ck_assert_int_eq(decode_req(buf, KEYMSG_REQUEST_MAX, &out), ERR_MALFORMED); /* op */
    buf[1] = KEYMSG_REMOVE + 1;
    ck_assert_int_eq(decode_req(buf, KEYMSG_REQUEST_MAX, &out), ERR_MALFORMED);
    buf[1] = KEYMSG_LIST;
    ck_assert_int_eq(decode_req(buf, 3, &out), ERR_MALFORMED); /* list with a key byte */
    buf[0] = KEYMSG_VERSION + 1;
    ck_assert_int_eq(decode_req(buf, 2, &out), ERR_VERSION);
}
END_TEST

START_TEST(keymsg_test_response_round_trip)
{
    uint8_t buf[KEYMSG_RESPONSE_MAX];
    struct keymsg_response in = {.ok = 1, .count = KEYRING_KEYS_MAX}, out;
    for (size_t k = 0; k < KEYRING_KEYS_MAX; k++)
        memset(in.keys[k], (int)k + 1, KEYRING_KEY_BYTES);
    int n = keymsg_encode_response(&in, buf, sizeof(buf));
    ck_assert_int_eq(n, KEYMSG_RESPONSE_MAX);
    ck_assert_int_eq(decode_resp(buf, (size_t)n, &out), 0);
    ck_assert_int_eq(out.ok, 1);
    ck_assert_uint_eq(out.count, KEYRING_KEYS_MAX);
    ck_assert_mem_eq(out.keys, in.keys, sizeof(in.keys));
    ck_assert_int_eq(keymsg_encode_response(&in, buf, (size_t)n - 1), ERR_NOSPACE);
    struct keymsg_response err = {.ok = 0};
    strcpy(err.error, "key not installed");
    n = keymsg_encode_response(&err, buf, sizeof(buf));
    ck_assert_int_eq(n, 3 + 17);
    ck_assert_int_eq(decode_resp(buf, (size_t)n, &out), 0);
    ck_assert_int_eq(out.ok, 0);
    ck_assert_str_eq(out.error, "key not installed");
}
END_TEST

START_TEST(keymsg_test_response_fields_checked)
{
    struct keymsg_response in = {.ok = 0}, out;
    uint8_t buf[KEYMSG_RESPONSE_MAX + 1];
    ck_assert_int_eq(keymsg_encode_response(&in, buf, sizeof(buf)), ERR_INVAL); /* empty */
    strcpy(in.error, "bad\nline");
    ck_assert_int_eq(keymsg_encode_response(&in, buf, sizeof(buf)), ERR_INVAL); /* control */
    in.ok = 1;
    in.count = KEYRING_KEYS_MAX + 1;
    ck_assert_int_eq(keymsg_encode_response(&in, buf, sizeof(buf)), ERR_INVAL);
    /* Decoding: one refusal per field. */
    uint8_t ok[] = {KEYMSG_VERSION, 0, 1};
    ck_assert_int_eq(decode_resp(ok, 2, &out), ERR_TRUNC); /* no count */
    ck_assert_int_eq(decode_resp(ok, 3, &out), ERR_TRUNC); /* no key */
    ok[2] = KEYRING_KEYS_MAX + 1;
    ck_assert_int_eq(decode_resp(ok, 3, &out), ERR_MALFORMED); /* count */
    ok[1] = 2;
    ck_assert_int_eq(decode_resp(ok, 3, &out), ERR_MALFORMED); /* status */
    ok[0] = 0;
    ck_assert_int_eq(decode_resp(ok, 3, &out), ERR_VERSION);
    uint8_t e[] = {KEYMSG_VERSION, 1, 3, 'a', 0x1b, 'b', 'x'};
    ck_assert_int_eq(decode_resp(e, 6, &out), ERR_MALFORMED); /* an escape */
    e[4] = 'c';
    ck_assert_int_eq(decode_resp(e, 6, &out), 0);
    ck_assert_str_eq(out.error, "acb");
    ck_assert_int_eq(decode_resp(e, 7, &out), ERR_MALFORMED); /* trailing */
    ck_assert_int_eq(decode_resp(e, 5, &out), ERR_TRUNC);
    e[2] = 0;
    ck_assert_int_eq(decode_resp(e, 3, &out), ERR_MALFORMED); /* empty message */
    ck_assert_int_eq(out.ok, 0);
    ck_assert_str_eq(out.error, ""); /* left wiped */
}
END_TEST

START_TEST(keymsg_test_op_names)
{
    enum keymsg_op op;
    const char *names[] = {"list", "install", "use", "remove"};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(keymsg_op_parse(names[i], &op), 0);
        ck_assert_str_eq(keymsg_op_name(op), names[i]);
    }
    ck_assert_int_eq(keymsg_op_parse("rotate", &op), ERR_INVAL);
    ck_assert_ptr_null(keymsg_op_name((enum keymsg_op)0));
    ck_assert_ptr_null(keymsg_op_name((enum keymsg_op)5));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("keymsg");
    TCase *tc = tcase_create("keymsg");
    tcase_add_test(tc, keymsg_test_request_round_trip);
    tcase_add_test(tc, keymsg_test_request_fields_checked);
    tcase_add_test(tc, keymsg_test_response_round_trip);
    tcase_add_test(tc, keymsg_test_response_fields_checked);
    tcase_add_test(tc, keymsg_test_op_names);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
