/*
 * keyops_test.c - one node's keyring operations (agent/keyops.c): the
 * install / use / remove / list rules, and the keyring file written
 * atomically after each change (agent/keyring.c, agent/regfile.c).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "keymsg.h"
#include "keyops.h"
#include "keyring.h"
#include "log.h"

/* Fixed keys (base64 of 32 bytes) so failures are reproducible. */
#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_B "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="
#define KEY_C "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8="

/* The world of one test: a directory, a keyring file holding KEY_A, the
 * keyring loaded from it, and the operations on it. */
static char dir[64], path[96];
static struct keyring *kr;
static struct keyops *ko;
static struct log *lg;

static void write_file(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}

static char *read_file(const char *p)
{
    static char buf[4096];
    FILE *f = fopen(p, "r");
    ck_assert_ptr_nonnull(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/keyops_test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/keyring", dir);
    write_file(path, "# the first key\n" KEY_A "\n");
    kr = keyring_new();
    ck_assert_ptr_nonnull(kr);
    int line = 0;
    ck_assert_int_eq(keyring_load_file(kr, path, &line), 0);
    lg = log_new(stderr, LOG_ERROR);
    ko = keyops_new(kr, path, lg);
    ck_assert_ptr_nonnull(ko);
}

static void teardown(void)
{
    keyops_delete(ko);
    keyring_delete(kr);
    log_delete(lg);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Run op with key (base64, or NULL for list) on the fixture's node. */
static struct keymsg_response run(enum keymsg_op op, const char *key)
{
    struct keymsg_request req = {.op = op};
    struct keymsg_response resp;
    if (key != NULL)
        ck_assert_int_eq(keyring_parse_base64(key, req.key), 0);
    keyops_apply(ko, NULL, &req, &resp);
    return resp;
}

/* Assert the keyring holds exactly the keys given (base64, primary first),
 * and so does a keyring loaded again from its file. */
static void assert_keys(const char *const *want, size_t n)
{
    struct keyring *again = keyring_new();
    int line = 0;
    ck_assert_int_eq(keyring_load_file(again, path, &line), 0);
    const struct keyring *both[] = {kr, again};
    for (size_t r = 0; r < 2; r++) {
        ck_assert_uint_eq(keyring_count(both[r]), n);
        for (size_t i = 0; i < n; i++) {
            uint8_t key[KEYRING_KEY_BYTES];
            ck_assert_int_eq(keyring_parse_base64(want[i], key), 0);
            ck_assert_int_eq(keyring_find(both[r], key), (int)i);
        }
    }
    keyring_delete(again);
}

START_TEST(keyops_test_install_appends_once)
{
    struct keymsg_response r = run(KEYMSG_INSTALL, KEY_B);
    ck_assert_int_eq(r.ok, 1);
    ck_assert_str_eq(r.error, "");
    const char *const ab[] = {KEY_A, KEY_B};
    assert_keys(ab, 2);
    /* Idempotent: installing again is done and changes nothing. */
    struct stat before, after;
    ck_assert_int_eq(stat(path, &before), 0);
    r = run(KEYMSG_INSTALL, KEY_B);
    ck_assert_int_eq(r.ok, 1);
    ck_assert_int_eq(stat(path, &after), 0);
    ck_assert_uint_eq(before.st_ino, after.st_ino); /* not rewritten */
    assert_keys(ab, 2);
    r = run(KEYMSG_INSTALL, KEY_A);
    ck_assert_int_eq(r.ok, 1);
    assert_keys(ab, 2);
}
END_TEST

START_TEST(keyops_test_use_needs_installed_key)
{
    struct keymsg_response r = run(KEYMSG_USE, KEY_B);
    ck_assert_int_eq(r.ok, 0);
    ck_assert_str_eq(r.error, "key not installed: install it first");
    const char *const a[] = {KEY_A};
    assert_keys(a, 1);
    ck_assert_int_eq(run(KEYMSG_INSTALL, KEY_B).ok, 1);
    ck_assert_int_eq(run(KEYMSG_INSTALL, KEY_C).ok, 1);
    r = run(KEYMSG_USE, KEY_C);
    ck_assert_int_eq(r.ok, 1);
    const char *const cab[] = {KEY_C, KEY_A, KEY_B}; /* the others keep their order */
    assert_keys(cab, 3);
    ck_assert_int_eq(run(KEYMSG_USE, KEY_C).ok, 1); /* the primary already */
    assert_keys(cab, 3);
}
END_TEST

START_TEST(keyops_test_use_changes_the_sealing_key)
{
    struct keyring *only_b = keyring_new();
    ck_assert_int_eq(keyring_add_base64(only_b, KEY_B), 0);
    uint8_t msg[] = "hello", box[128], plain[128];
    size_t n = 0, m = 0;
    ck_assert_int_eq(run(KEYMSG_INSTALL, KEY_B).ok, 1);
    ck_assert_int_eq(keyring_seal(kr, NULL, 0, msg, sizeof(msg), box, sizeof(box), &n), 0);
    ck_assert_int_eq(keyring_open(only_b, NULL, 0, box, n, plain, sizeof(plain), &m), ERR_CRYPTO);
    ck_assert_int_eq(run(KEYMSG_USE, KEY_B).ok, 1);
    ck_assert_int_eq(keyring_seal(kr, NULL, 0, msg, sizeof(msg), box, sizeof(box), &n), 0);
    ck_assert_int_eq(keyring_open(only_b, NULL, 0, box, n, plain, sizeof(plain), &m), 0);
    keyring_delete(only_b);
}
END_TEST

START_TEST(keyops_test_remove_refuses_primary_and_absent)
{
    struct keymsg_response r = run(KEYMSG_REMOVE, KEY_A);
    ck_assert_int_eq(r.ok, 0);
    ck_assert_str_eq(r.error, "cannot remove the primary key: use another key first");
    r = run(KEYMSG_REMOVE, KEY_B);
    ck_assert_int_eq(r.ok, 0);
    ck_assert_str_eq(r.error, "key not installed");
    const char *const a[] = {KEY_A};
    assert_keys(a, 1);
    ck_assert_int_eq(run(KEYMSG_INSTALL, KEY_B).ok, 1);
    ck_assert_int_eq(run(KEYMSG_INSTALL, KEY_C).ok, 1);
    ck_assert_int_eq(run(KEYMSG_REMOVE, KEY_B).ok, 1);
    const char *const ac[] = {KEY_A, KEY_C};
    assert_keys(ac, 2);
}
END_TEST

START_TEST(keyops_test_rotation_leaves_only_the_new_key)
{
    ck_assert_int_eq(run(KEYMSG_INSTALL, KEY_B).ok, 1);
    ck_assert_int_eq(run(KEYMSG_USE, KEY_B).ok, 1);
    ck_assert_int_eq(run(KEYMSG_REMOVE, KEY_A).ok, 1);
    const char *const b[] = {KEY_B};
    assert_keys(b, 1);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    ck_assert_ptr_null(strstr(read_file(path), KEY_A));
}
END_TEST

START_TEST(keyops_test_list_primary_first)
{
    ck_assert_int_eq(run(KEYMSG_INSTALL, KEY_B).ok, 1);
    ck_assert_int_eq(run(KEYMSG_USE, KEY_B).ok, 1);
    struct keymsg_response r = run(KEYMSG_LIST, NULL);
    ck_assert_int_eq(r.ok, 1);
    ck_assert_uint_eq(r.count, 2);
    uint8_t a[KEYRING_KEY_BYTES], b[KEYRING_KEY_BYTES];
    keyring_parse_base64(KEY_A, a);
    keyring_parse_base64(KEY_B, b);
    ck_assert_mem_eq(r.keys[0], b, sizeof(b));
    ck_assert_mem_eq(r.keys[1], a, sizeof(a));
    /* Only list carries keys. */
    ck_assert_uint_eq(run(KEYMSG_INSTALL, KEY_C).count, 0);
}
END_TEST

START_TEST(keyops_test_full_keyring_refuses_install)
{
    char b64[KEYRING_B64_MAX];
    for (int i = 1; i < KEYRING_KEYS_MAX; i++) {
        ck_assert_int_eq(keyring_generate_base64(b64), 0);
        ck_assert_int_eq(run(KEYMSG_INSTALL, b64).ok, 1);
    }
    struct keymsg_response r = run(KEYMSG_INSTALL, KEY_B);
    ck_assert_int_eq(r.ok, 0);
    ck_assert_str_eq(r.error, "keyring full (8 keys): remove one first");
    ck_assert_uint_eq(keyring_count(kr), KEYRING_KEYS_MAX);
}
END_TEST

START_TEST(keyops_test_failed_write_keeps_old_file_and_keys)
{
    char before[4096];
    snprintf(before, sizeof(before), "%s", read_file(path));
    /* A file size limit makes the write fail part-way, even for root
     * (who ignores a read-only directory's mode).  No check runs under it:
     * Check itself writes each assertion's place to a file. */
    struct keymsg_request req = {.op = KEYMSG_INSTALL};
    struct keymsg_response r;
    ck_assert_int_eq(keyring_parse_base64(KEY_B, req.key), 0);
    struct rlimit old;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    struct rlimit lim = {16, old.rlim_max}; /* the soft limit only: it goes back */
    signal(SIGXFSZ, SIG_IGN);
    int set = setrlimit(RLIMIT_FSIZE, &lim);
    keyops_apply(ko, NULL, &req, &r);
    int reset = setrlimit(RLIMIT_FSIZE, &old);
    ck_assert_int_eq(set, 0);
    ck_assert_int_eq(reset, 0);
    ck_assert_int_eq(r.ok, 0);
    ck_assert_ptr_nonnull(strstr(r.error, "cannot write: File too large; nothing changed"));
    ck_assert_str_eq(read_file(path), before);
    const char *const a[] = {KEY_A};
    assert_keys(a, 1);
    /* No temporary file is left beside it. */
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 1", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(keyops_test_missing_dir_refused)
{
    /* The keys came from path; the file to write is somewhere that cannot
     * take it (its directory is gone). */
    char gone[128];
    snprintf(gone, sizeof(gone), "%s/gone/keyring", dir);
    struct keyops *elsewhere = keyops_new(kr, gone, lg);
    struct keymsg_request req = {.op = KEYMSG_INSTALL};
    struct keymsg_response r;
    keyring_parse_base64(KEY_B, req.key);
    keyops_apply(elsewhere, "n2", &req, &r);
    keyops_delete(elsewhere);
    ck_assert_int_eq(r.ok, 0);
    ck_assert_ptr_nonnull(
        strstr(r.error, "cannot create a temporary file: No such file or directory"));
    ck_assert_uint_eq(keyring_count(kr), 1);
}
END_TEST

START_TEST(keyops_test_link_left_alone)
{
    char real[128];
    snprintf(real, sizeof(real), "%s/real", dir);
    ck_assert_int_eq(rename(path, real), 0);
    ck_assert_int_eq(symlink(real, path), 0);
    struct keymsg_response r = run(KEYMSG_INSTALL, KEY_B);
    ck_assert_int_eq(r.ok, 0);
    ck_assert_ptr_nonnull(strstr(r.error, "not a regular file; nothing changed"));
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    ck_assert_ptr_null(strstr(read_file(real), KEY_B));
    ck_assert_uint_eq(keyring_count(kr), 1);
}
END_TEST

START_TEST(keyops_test_plaintext_node_refuses)
{
    struct keyops *plain = keyops_new(NULL, "", lg);
    struct keymsg_request req = {.op = KEYMSG_LIST};
    struct keymsg_response r;
    keyops_apply(plain, NULL, &req, &r);
    ck_assert_int_eq(r.ok, 0);
    ck_assert_ptr_nonnull(strstr(r.error, "without a keyring (plaintext)"));
    keyops_delete(plain);
}
END_TEST

START_TEST(keyops_test_payload_in_payload_out)
{
    struct keymsg_request req = {.op = KEYMSG_INSTALL};
    keyring_parse_base64(KEY_B, req.key);
    uint8_t in[KEYMSG_REQUEST_MAX], out[KEYMSG_RESPONSE_MAX];
    int n = keymsg_encode_request(&req, in, sizeof(in));
    ck_assert_int_eq(n, KEYMSG_REQUEST_MAX);
    int m = keyops_handle(ko, "n2", in, (size_t)n, out, sizeof(out));
    ck_assert_int_gt(m, 0);
    struct keymsg_response r;
    const uint8_t *pos = out;
    ck_assert_int_eq(keymsg_decode_response(&r, &pos, out + m), 0);
    ck_assert_int_eq(r.ok, 1);
    ck_assert_uint_eq(keyring_count(kr), 2);
    /* A malformed request is answered, not applied. */
    m = keyops_handle(ko, "n2", in, (size_t)n - 1, out, sizeof(out));
    pos = out;
    ck_assert_int_eq(keymsg_decode_response(&r, &pos, out + m), 0);
    ck_assert_int_eq(r.ok, 0);
    ck_assert_str_eq(r.error, "malformed keys request");
    ck_assert_int_eq(keyops_handle(ko, "n2", in, (size_t)n, out, 2), ERR_NOSPACE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("keyops");
    TCase *tc = tcase_create("keyops");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, keyops_test_install_appends_once);
    tcase_add_test(tc, keyops_test_use_needs_installed_key);
    tcase_add_test(tc, keyops_test_use_changes_the_sealing_key);
    tcase_add_test(tc, keyops_test_remove_refuses_primary_and_absent);
    tcase_add_test(tc, keyops_test_rotation_leaves_only_the_new_key);
    tcase_add_test(tc, keyops_test_list_primary_first);
    tcase_add_test(tc, keyops_test_full_keyring_refuses_install);
    tcase_add_test(tc, keyops_test_failed_write_keeps_old_file_and_keys);
    tcase_add_test(tc, keyops_test_missing_dir_refused);
    tcase_add_test(tc, keyops_test_link_left_alone);
    tcase_add_test(tc, keyops_test_plaintext_node_refuses);
    tcase_add_test(tc, keyops_test_payload_in_payload_out);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
