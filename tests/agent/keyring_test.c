/*
 * keyring_test.c - keyring files and the sealed datagram envelope
 * (agent/keyring.c) with real libsodium.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "keyring.h"

/* Two fixed keys (base64 of 32 bytes) so failures are reproducible. */
#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_B "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

static const uint8_t label[] = "prod";
static const uint8_t msg[] = "\xa7\x01hello swim";

static struct keyring *ring(const char *k1, const char *k2)
{
    struct keyring *kr = keyring_new();
    ck_assert_ptr_nonnull(kr);
    if (k1 != NULL)
        ck_assert_int_eq(keyring_add_base64(kr, k1), 0);
    if (k2 != NULL)
        ck_assert_int_eq(keyring_add_base64(kr, k2), 0);
    return kr;
}

static size_t seal(struct keyring *kr, const uint8_t *ad, size_t adlen, uint8_t *out)
{
    size_t n = 0;
    ck_assert_int_eq(keyring_seal(kr, ad, adlen, msg, sizeof(msg), out, 2048, &n), 0);
    ck_assert_uint_eq(n, sizeof(msg) + KEYRING_OVERHEAD);
    return n;
}

START_TEST(keyring_test_round_trip)
{
    struct keyring *kr = ring(KEY_A, NULL);
    uint8_t box[2048], plain[2048];
    size_t n = seal(kr, label, 4, box), m = 0;
    ck_assert_int_eq(keyring_open(kr, label, 4, box, n, plain, sizeof(plain), &m), 0);
    ck_assert_uint_eq(m, sizeof(msg));
    ck_assert_mem_eq(plain, msg, m);
    keyring_delete(kr);
}
END_TEST

START_TEST(keyring_test_tamper_detected)
{
    struct keyring *kr = ring(KEY_A, NULL);
    uint8_t box[2048], plain[2048];
    size_t n = seal(kr, label, 4, box), m;
    /* Flip one bit in every byte position past the version byte: nonce,
     * ciphertext and tag must all be covered by the authentication. */
    for (size_t i = 1; i < n; i++) {
        box[i] ^= 0x01;
        ck_assert_int_eq(keyring_open(kr, label, 4, box, n, plain, sizeof(plain), &m), ERR_CRYPTO);
        box[i] ^= 0x01;
    }
    ck_assert_int_eq(keyring_open(kr, label, 4, box, n - 1, plain, sizeof(plain), &m), ERR_CRYPTO);
    ck_assert_int_eq(keyring_open(kr, label, 4, box, n, plain, sizeof(plain), &m), 0);
    keyring_delete(kr);
}
END_TEST

START_TEST(keyring_test_wrong_label_rejected)
{
    struct keyring *kr = ring(KEY_A, NULL);
    uint8_t box[2048], plain[2048];
    size_t n = seal(kr, label, 4, box), m;
    ck_assert_int_eq(keyring_open(kr, (const uint8_t *)"test", 4, box, n, plain, sizeof(plain), &m),
                     ERR_CRYPTO);
    ck_assert_int_eq(keyring_open(kr, NULL, 0, box, n, plain, sizeof(plain), &m), ERR_CRYPTO);
    keyring_delete(kr);
}
END_TEST

START_TEST(keyring_test_wrong_key_rejected)
{
    struct keyring *a = ring(KEY_A, NULL), *b = ring(KEY_B, NULL);
    uint8_t box[2048], plain[2048];
    size_t n = seal(a, label, 4, box), m;
    ck_assert_int_eq(keyring_open(b, label, 4, box, n, plain, sizeof(plain), &m), ERR_CRYPTO);
    keyring_delete(a);
    keyring_delete(b);
}
END_TEST

START_TEST(keyring_test_every_key_decrypts_first_encrypts)
{
    struct keyring *old = ring(KEY_A, NULL), *rot = ring(KEY_B, KEY_A), *newk = ring(KEY_B, NULL);
    uint8_t box[2048], plain[2048];
    size_t m;
    size_t n = seal(old, label, 4, box);
    ck_assert_int_eq(keyring_open(rot, label, 4, box, n, plain, sizeof(plain), &m), 0);
    n = seal(rot, label, 4, box); /* sealed with B, the primary */
    ck_assert_int_eq(keyring_open(newk, label, 4, box, n, plain, sizeof(plain), &m), 0);
    ck_assert_int_eq(keyring_open(old, label, 4, box, n, plain, sizeof(plain), &m), ERR_CRYPTO);
    keyring_delete(old);
    keyring_delete(rot);
    keyring_delete(newk);
}
END_TEST

START_TEST(keyring_test_nonce_fresh_per_datagram)
{
    struct keyring *kr = ring(KEY_A, NULL);
    uint8_t b1[2048], b2[2048];
    size_t n1 = seal(kr, label, 4, b1), n2 = seal(kr, label, 4, b2);
    ck_assert_uint_eq(n1, n2);
    ck_assert_int_ne(memcmp(b1 + 1, b2 + 1, 24), 0);
    keyring_delete(kr);
}
END_TEST

START_TEST(keyring_test_short_or_plaintext_input_rejected)
{
    struct keyring *kr = ring(KEY_A, NULL);
    uint8_t plain[2048], box[2048];
    size_t m;
    ck_assert_int_eq(keyring_open(kr, label, 4, msg, 3, plain, sizeof(plain), &m), ERR_TRUNC);
    memset(box, 0, sizeof(box));
    box[0] = 0xA7; /* a plaintext core datagram */
    ck_assert_int_eq(keyring_open(kr, label, 4, box, 100, plain, sizeof(plain), &m), ERR_VERSION);
    size_t n = seal(kr, label, 4, box);
    ck_assert_int_eq(keyring_open(kr, label, 4, box, n, plain, 4, &m), ERR_NOSPACE);
    ck_assert_int_eq(keyring_seal(kr, label, 4, msg, sizeof(msg), box, sizeof(msg), &m),
                     ERR_NOSPACE);
    keyring_delete(kr);
}
END_TEST

START_TEST(keyring_test_empty_keyring_cannot_seal)
{
    struct keyring *kr = ring(NULL, NULL);
    uint8_t box[2048];
    size_t m;
    ck_assert_int_eq(keyring_seal(kr, NULL, 0, msg, sizeof(msg), box, sizeof(box), &m), ERR_STATE);
    keyring_delete(kr);
}
END_TEST

START_TEST(keyring_test_bad_base64_rejected)
{
    struct keyring *kr = ring(NULL, NULL);
    ck_assert_int_eq(keyring_add_base64(kr, "not base64!"), ERR_INVAL);
    ck_assert_int_eq(keyring_add_base64(kr, "AAECAwQFBgcICQoLDA0ODw=="), ERR_INVAL); /* 16 bytes */
    ck_assert_int_eq(keyring_add_base64(kr, ""), ERR_INVAL);
    ck_assert_int_eq(keyring_add_base64(kr, "  " KEY_A "\n"), 0);
    ck_assert_uint_eq(keyring_count(kr), 1);
    keyring_delete(kr);
}
END_TEST

START_TEST(keyring_test_limit_enforced)
{
    struct keyring *kr = ring(NULL, NULL);
    for (int i = 0; i < KEYRING_KEYS_MAX; i++)
        ck_assert_int_eq(keyring_add_base64(kr, KEY_A), 0);
    ck_assert_int_eq(keyring_add_base64(kr, KEY_B), ERR_LIMIT);
    keyring_delete(kr);
}
END_TEST

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(keyring_test_file_loaded_with_comments)
{
    char path[] = "/tmp/keyring_test_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    write_file(path, "# cluster keys\n\n" KEY_B "\n   \n" KEY_A "\n");
    struct keyring *kr = ring(NULL, NULL);
    int line;
    ck_assert_int_eq(keyring_load_file(kr, path, &line), 0);
    ck_assert_uint_eq(keyring_count(kr), 2);
    keyring_delete(kr);
    unlink(path);
}
END_TEST

START_TEST(keyring_test_file_errors_reported)
{
    char path[] = "/tmp/keyring_test_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct keyring *kr = ring(NULL, NULL);
    int line;
    write_file(path, KEY_A "\n# ok\nbogus-key\n");
    ck_assert_int_eq(keyring_load_file(kr, path, &line), ERR_INVAL);
    ck_assert_int_eq(line, 3);
    write_file(path, "# nothing\n");
    keyring_delete(kr);
    kr = ring(NULL, NULL);
    ck_assert_int_eq(keyring_load_file(kr, path, &line), ERR_NOTFOUND);
    unlink(path);
    ck_assert_int_eq(keyring_load_file(kr, path, &line), ERR_IO);
    keyring_delete(kr);
}
END_TEST

START_TEST(keyring_test_generated_key_loads)
{
    char k1[KEYRING_B64_MAX], k2[KEYRING_B64_MAX];
    ck_assert_int_eq(keyring_generate_base64(k1), 0);
    ck_assert_int_eq(keyring_generate_base64(k2), 0);
    ck_assert_str_ne(k1, k2);
    ck_assert_uint_eq(strlen(k1), 44);
    struct keyring *kr = ring(k1, NULL);
    keyring_delete(kr);
}
END_TEST

/* A keyring at a FIFO is refused at once, never waited on; the same text
 * in memory loads as the file would. */
START_TEST(keyring_test_fifo_refused_text_loads)
{
    char path[64];
    snprintf(path, sizeof(path), "/tmp/keyring_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(path));
    strcat(path, "/fifo");
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    struct keyring *kr = keyring_new();
    int line = 0;
    uint64_t t0 = clock_mono_ms();
    ck_assert_int_eq(keyring_load_file(kr, path, &line), ERR_IO);
    ck_assert_uint_lt(clock_mono_ms() - t0, 1000);
    unlink(path);
    *strrchr(path, '/') = '\0';
    rmdir(path);
    const char text[] = "# two keys\n"
                        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n"
                        "  ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=  \n";
    ck_assert_int_eq(keyring_load_text(kr, text, strlen(text), &line), 0);
    ck_assert_uint_eq(keyring_count(kr), 2);
    ck_assert_int_eq(keyring_load_text(kr, "x\n", 2, &line), ERR_INVAL);
    ck_assert_int_eq(line, 1);
    ck_assert_int_eq(keyring_load_text(kr, NULL, 0, &line), ERR_NOTFOUND);
    keyring_delete(kr);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("keyring");
    TCase *tc = tcase_create("keyring");
    tcase_add_test(tc, keyring_test_round_trip);
    tcase_add_test(tc, keyring_test_tamper_detected);
    tcase_add_test(tc, keyring_test_wrong_label_rejected);
    tcase_add_test(tc, keyring_test_wrong_key_rejected);
    tcase_add_test(tc, keyring_test_every_key_decrypts_first_encrypts);
    tcase_add_test(tc, keyring_test_nonce_fresh_per_datagram);
    tcase_add_test(tc, keyring_test_short_or_plaintext_input_rejected);
    tcase_add_test(tc, keyring_test_empty_keyring_cannot_seal);
    tcase_add_test(tc, keyring_test_bad_base64_rejected);
    tcase_add_test(tc, keyring_test_limit_enforced);
    tcase_add_test(tc, keyring_test_file_loaded_with_comments);
    tcase_add_test(tc, keyring_test_file_errors_reported);
    tcase_add_test(tc, keyring_test_generated_key_loads);
    tcase_add_test(tc, keyring_test_fifo_refused_text_loads);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
