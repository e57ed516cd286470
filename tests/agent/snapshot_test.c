/*
 * snapshot_test.c - snapshots (agent/snapshot.c): round trip, atomic
 * replacement, one rejection test per way a file can be wrong, and the
 * coalescing writer policy.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "snapshot.h"

static char dir[64];
static char path[128];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/snap_test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/swimd.snapshot", dir);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static struct snap *sample(void)
{
    struct snap *s = snap_new();
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(snap_set_self(s, "n1", 1714557600123ull, 7), 0);
    ck_assert_int_eq(snap_add(s, "n2", "127.0.0.1:7002", SWIM_ALIVE), 0);
    ck_assert_int_eq(snap_add(s, "n3", "[::1]:7003", SWIM_FAILED), 0);
    ck_assert_int_eq(snap_add(s, "n4", "10.0.0.4:7946", SWIM_LEFT), 0);
    return s;
}

static void put(const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Load `text` as a file; returns the code and leaves the message in err. */
static char err[SNAP_ERR_MAX];
static int load_text(const char *text)
{
    struct snap *s = NULL;
    put(text);
    err[0] = '\0';
    int rc = snap_load(path, &s, err, sizeof(err));
    ck_assert_int_eq(rc == 0, s != NULL);
    snap_delete(s);
    if (rc != 0)
        ck_assert_msg(err[0] != '\0', "no message for rc %d", rc);
    return rc;
}

START_TEST(snap_test_write_then_load_round_trip)
{
    struct snap *s = sample();
    ck_assert_int_eq(snap_write(s, path, err, sizeof(err)), 0);
    struct snap *l = NULL;
    ck_assert_int_eq(snap_load(path, &l, err, sizeof(err)), 0);
    ck_assert_str_eq(snap_name(l), "n1");
    ck_assert_uint_eq(snap_generation(l), 1714557600123ull);
    ck_assert_uint_eq(snap_incarnation(l), 7);
    ck_assert_uint_eq(snap_count(l), 3);
    const struct snap_member *m = snap_member_at(l, 1);
    ck_assert_str_eq(m->name, "n3");
    ck_assert_str_eq(m->addr, "[::1]:7003");
    ck_assert_int_eq(m->status, SWIM_FAILED);
    ck_assert_int_eq(snap_member_at(l, 2)->status, SWIM_LEFT);
    ck_assert_ptr_null(snap_member_at(l, 3));
    snap_delete(l);
    snap_delete(s);
}
END_TEST

START_TEST(snap_test_write_replaces_atomically_and_privately)
{
    put("old contents");
    struct snap *s = sample();
    ck_assert_int_eq(snap_write(s, path, err, sizeof(err)), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    /* Only the snapshot is left: no temporary file. */
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d))
        if (e->d_name[0] != '.')
            entries++;
    closedir(d);
    ck_assert_int_eq(entries, 1);
    struct snap *l = NULL;
    ck_assert_int_eq(snap_load(path, &l, err, sizeof(err)), 0);
    snap_delete(l);
    snap_delete(s);
}
END_TEST

START_TEST(snap_test_failed_write_keeps_old_file)
{
    struct snap *s = sample();
    ck_assert_int_eq(snap_write(s, path, err, sizeof(err)), 0);
    char bad[192];
    snprintf(bad, sizeof(bad), "%s/no/such/dir/snap", dir);
    ck_assert_int_eq(snap_write(s, bad, err, sizeof(err)), ERR_IO);
    ck_assert_ptr_nonnull(strstr(err, "cannot create"));
    /* A snapshot listing a member twice is refused before touching the file. */
    ck_assert_int_eq(snap_add(s, "n2", "127.0.0.1:9", SWIM_ALIVE), 0);
    ck_assert_int_eq(snap_write(s, path, err, sizeof(err)), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "twice"));
    struct snap *l = NULL;
    ck_assert_int_eq(snap_load(path, &l, err, sizeof(err)), 0);
    ck_assert_uint_eq(snap_count(l), 3);
    snap_delete(l);
    snap_delete(s);
}
END_TEST

START_TEST(snap_test_truncated_file_is_reported)
{
    struct snap *s = sample();
    char *text = snap_dump(s);
    ck_assert_ptr_nonnull(text);
    size_t len = strlen(text);
    /* Every cut of the document is refused, almost all as truncated. */
    int truncated = 0;
    for (size_t cut = 0; cut < len - 1; cut++) {
        char saved = text[cut];
        text[cut] = '\0';
        int rc = load_text(text);
        text[cut] = saved;
        ck_assert_msg(rc == ERR_TRUNC || rc == ERR_MALFORMED, "cut at %zu: rc %d", cut, rc);
        truncated += rc == ERR_TRUNC;
    }
    ck_assert_int_gt(truncated, (int)len / 2);
    text[len / 2] = '\0';
    ck_assert_int_eq(load_text(text), ERR_TRUNC);
    ck_assert_ptr_nonnull(strstr(err, "truncated"));
    ck_assert_int_eq(load_text(""), ERR_TRUNC);
    free(text);
    snap_delete(s);
}
END_TEST

START_TEST(snap_test_corrupt_file_is_reported)
{
    ck_assert_int_eq(load_text("\x7f"
                               "ELF garbage"),
                     ERR_MALFORMED);
    ck_assert_int_eq(load_text("[1, 2, 3]"), ERR_MALFORMED);
    ck_assert_int_eq(load_text("{\"version\":1} trailing"), ERR_MALFORMED);
}
END_TEST

START_TEST(snap_test_wrong_version_is_reported)
{
    ck_assert_int_eq(load_text("{\"version\":2,\"name\":\"n1\",\"generation\":1,"
                               "\"incarnation\":0,\"members\":[]}"),
                     ERR_VERSION);
    ck_assert_ptr_nonnull(strstr(err, "version 2"));
    ck_assert_int_eq(load_text("{\"name\":\"n1\"}"), ERR_MALFORMED);
    ck_assert_int_eq(load_text("{\"version\":\"1\"}"), ERR_MALFORMED);
}
END_TEST

START_TEST(snap_test_missing_file_is_not_found)
{
    struct snap *s = NULL;
    ck_assert_int_eq(snap_load(path, &s, err, sizeof(err)), ERR_NOTFOUND);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(snap_test_each_bad_field_is_rejected)
{
    static const char *const bad[] = {
        /* self */
        "{\"version\":1,\"generation\":1,\"incarnation\":0,\"members\":[]}",
        "{\"version\":1,\"name\":\"\",\"generation\":1,\"incarnation\":0,\"members\":[]}",
        "{\"version\":1,\"name\":"
        "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\","
        "\"generation\":1,\"incarnation\":0,\"members\":[]}",
        "{\"version\":1,\"name\":\"a\\u0000b\",\"generation\":1,\"incarnation\":0,\"members\":[]}",
        "{\"version\":1,\"name\":\"n1\",\"generation\":-1,\"incarnation\":0,\"members\":[]}",
        "{\"version\":1,\"name\":\"n1\",\"generation\":\"1\",\"incarnation\":0,\"members\":[]}",
        "{\"version\":1,\"name\":\"n1\",\"generation\":1,\"incarnation\":4294967296,"
        "\"members\":[]}",
        "{\"version\":1,\"name\":\"n1\",\"generation\":1,\"incarnation\":0,\"members\":{}}",
        "{\"version\":1,\"name\":\"n1\",\"generation\":1,\"incarnation\":0}",
        "{\"version\":1,\"name\":\"n1\",\"generation\":1,\"incarnation\":0,\"members\":[],"
        "\"extra\":1}",
        "{\"version\":1,\"name\":\"n1\",\"name\":\"n2\",\"generation\":1,\"incarnation\":0,"
        "\"members\":[]}",
        /* members */
        "{\"version\":1,\"name\":\"n1\",\"generation\":1,\"incarnation\":0,\"members\":[1]}",
        "{\"version\":1,\"name\":\"n1\",\"generation\":1,\"incarnation\":0,\"members\":"
        "[{\"addr\":\"127.0.0.1:1\",\"status\":\"alive\"}]}",
        "{\"version\":1,\"name\":\"n1\",\"generation\":1,\"incarnation\":0,\"members\":"
        "[{\"name\":\"n2\",\"addr\":\"db.example:1\",\"status\":\"alive\"}]}",
        "{\"version\":1,\"name\":\"n1\",\"generation\":1,\"incarnation\":0,\"members\":"
        "[{\"name\":\"n2\",\"addr\":\"127.0.0.1\",\"status\":\"alive\"}]}",
        "{\"version\":1,\"name\":\"n1\",\"generation\":1,\"incarnation\":0,\"members\":"
        "[{\"name\":\"n2\",\"addr\":\"127.0.0.1:1\",\"status\":\"zombie\"}]}",
        "{\"version\":1,\"name\":\"n1\",\"generation\":1,\"incarnation\":0,\"members\":"
        "[{\"name\":\"n2\",\"addr\":\"127.0.0.1:1\",\"status\":\"alive\",\"x\":0}]}",
        "{\"version\":1,\"name\":\"n1\",\"generation\":1,\"incarnation\":0,\"members\":"
        "[{\"name\":\"n2\",\"addr\":\"127.0.0.1:1\",\"status\":\"alive\"},"
        "{\"name\":\"n2\",\"addr\":\"127.0.0.1:2\",\"status\":\"alive\"}]}",
        "{\"version\":1,\"name\":\"n1\",\"generation\":1,\"incarnation\":0,\"members\":"
        "[{\"name\":\"n1\",\"addr\":\"127.0.0.1:1\",\"status\":\"alive\"}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(load_text(bad[i]) == ERR_MALFORMED, "accepted #%zu: %s", i, bad[i]);
    /* The same shape with every field right is accepted. */
    ck_assert_int_eq(
        load_text("{\"version\":1,\"name\":\"n1\",\"generation\":1,"
                  "\"incarnation\":4294967295,\"members\":"
                  "[{\"name\":\"n2\",\"addr\":\"127.0.0.1:1\",\"status\":\"suspect\"}]}"),
        0);
}
END_TEST

START_TEST(snap_test_writer_coalesces_to_one_write_per_interval)
{
    struct snap_writer w;
    uint64_t wait = 99;
    snap_writer_init(&w, 1000);
    ck_assert_int_eq(snap_writer_due(&w, 5000, &wait), 0);
    ck_assert_uint_eq(wait, 0); /* clean: nothing to do */
    snap_writer_mark(&w);
    ck_assert_int_eq(snap_writer_due(&w, 5000, &wait), 1); /* first write: at once */
    snap_writer_done(&w, 5000, 1);
    ck_assert_int_eq(snap_writer_due(&w, 5001, &wait), 0);
    for (int i = 0; i < 100; i++)
        snap_writer_mark(&w); /* a burst */
    ck_assert_int_eq(snap_writer_due(&w, 5300, &wait), 0);
    ck_assert_uint_eq(wait, 700);
    ck_assert_int_eq(snap_writer_due(&w, 6000, &wait), 1);
    snap_writer_done(&w, 6000, 0); /* failed: still dirty, retry after an interval */
    ck_assert_int_eq(snap_writer_due(&w, 6500, &wait), 0);
    ck_assert_uint_eq(wait, 500);
    ck_assert_int_eq(snap_writer_due(&w, 7000, &wait), 1);
    snap_writer_done(&w, 7000, 1);
    ck_assert_int_eq(snap_writer_due(&w, 9000, &wait), 0);
    ck_assert_uint_eq(wait, 0);
}
END_TEST

/* A FIFO at the path is refused at once (never waited on), and it is
 * left where it is. */
START_TEST(snap_test_fifo_neither_blocks_nor_is_replaced)
{
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    struct snap *l = NULL;
    uint64_t t0 = clock_mono_ms();
    ck_assert_int_ne(snap_load(path, &l, err, sizeof(err)), 0);
    ck_assert_uint_lt(clock_mono_ms() - t0, 1000);
    ck_assert_ptr_null(l);
    struct snap *s = sample();
    ck_assert_int_ne(snap_write(s, path, err, sizeof(err)), 0);
    ck_assert_ptr_nonnull(strstr(err, "not a regular file"));
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISFIFO(st.st_mode));
    snap_delete(s);
}
END_TEST

/* A socket, a device node or a link at the path is never replaced by a
 * write (as root, --snapshot /dev/null would destroy the device). */
START_TEST(snap_test_socket_device_and_link_left_untouched)
{
    struct snap *s = sample();
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%.100s", path);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    ck_assert_int_ne(snap_write(s, path, err, sizeof(err)), 0);
    struct stat st;
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    close(fd);
    unlink(path);
    if (geteuid() == 0) { /* a copy of /dev/null, in our folder */
        ck_assert_int_eq(mknod(path, S_IFCHR | 0600, makedev(1, 3)), 0);
        ck_assert_int_ne(snap_write(s, path, err, sizeof(err)), 0);
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert(S_ISCHR(st.st_mode));
        unlink(path);
    }
    char target[160];
    snprintf(target, sizeof(target), "%s/target", dir);
    ck_assert_int_eq(snap_write(s, target, err, sizeof(err)), 0);
    ck_assert_int_eq(symlink(target, path), 0);
    struct snap *l = NULL;
    ck_assert_int_ne(snap_load(path, &l, err, sizeof(err)), 0); /* not followed */
    ck_assert_ptr_nonnull(strstr(err, "symbolic link"));
    ck_assert_int_ne(snap_write(s, path, err, sizeof(err)), 0);
    ck_assert_int_eq(lstat(path, &st), 0);
    ck_assert(S_ISLNK(st.st_mode));
    snap_delete(s);
}
END_TEST

/* The largest generation survives a round trip; a larger one is refused,
 * so a file written is always one that loads. */
START_TEST(snap_test_generation_ceiling_round_trips)
{
    struct snap *s = snap_new();
    ck_assert_int_eq(snap_set_self(s, "n1", SNAP_GENERATION_MAX, 1), 0);
    ck_assert_int_eq(snap_write(s, path, err, sizeof(err)), 0);
    struct snap *l = NULL;
    ck_assert_int_eq(snap_load(path, &l, err, sizeof(err)), 0);
    ck_assert(snap_generation(l) == 9223372036854775807ull);
    snap_delete(l);
    ck_assert_int_eq(snap_set_self(s, "n1", SNAP_GENERATION_MAX + 1, 1), ERR_INVAL);
    ck_assert_int_eq(load_text("{\"version\":1,\"name\":\"n1\",\"generation\":9223372036854775807,"
                               "\"incarnation\":0,\"members\":[]}"),
                     0);
    snap_delete(s);
}
END_TEST

/* Names in a snapshot follow the name rule, like everywhere else. */
START_TEST(snap_test_names_follow_the_name_rule)
{
    ck_assert_int_eq(load_text("{\"version\":1,\"name\":\"two words\",\"generation\":1,"
                               "\"incarnation\":0,\"members\":[]}"),
                     ERR_MALFORMED);
    ck_assert_int_eq(load_text("{\"version\":1,\"name\":\"n1\",\"generation\":1,\"incarnation\":0,"
                               "\"members\":[{\"name\":\"ev\\nerror fake\",\"addr\":"
                               "\"127.0.0.1:1\",\"status\":\"alive\"}]}"),
                     ERR_MALFORMED);
    struct snap *s = snap_new();
    ck_assert_int_eq(snap_set_self(s, "a\x1b[2J", 1, 0), ERR_INVAL);
    ck_assert_int_eq(snap_set_self(s, "n1", 1, 0), 0);
    ck_assert_int_eq(snap_add(s, "\xff", "127.0.0.1:1", SWIM_ALIVE), ERR_INVAL);
    snap_delete(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("snapshot");
    TCase *tc = tcase_create("files");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, snap_test_write_then_load_round_trip);
    tcase_add_test(tc, snap_test_write_replaces_atomically_and_privately);
    tcase_add_test(tc, snap_test_failed_write_keeps_old_file);
    tcase_add_test(tc, snap_test_truncated_file_is_reported);
    tcase_add_test(tc, snap_test_corrupt_file_is_reported);
    tcase_add_test(tc, snap_test_wrong_version_is_reported);
    tcase_add_test(tc, snap_test_missing_file_is_not_found);
    tcase_add_test(tc, snap_test_each_bad_field_is_rejected);
    tcase_add_test(tc, snap_test_fifo_neither_blocks_nor_is_replaced);
    tcase_add_test(tc, snap_test_socket_device_and_link_left_untouched);
    tcase_add_test(tc, snap_test_generation_ceiling_round_trips);
    tcase_add_test(tc, snap_test_names_follow_the_name_rule);
    tcase_add_test(tc, snap_test_writer_coalesces_to_one_write_per_interval);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
