/*
 * handlers_test.c - event handlers (agent/handlers.c): spec parsing
 * (agent/evtype.c), and a real runner executing /bin/sh commands that write
 * into a temporary directory: environment, stdin, order, filters, timeouts,
 * stop, lag, and shutdown by the end of the bus, as swimd does it.  Every
 * wait is bounded (wait_position).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "events.h"
#include "evtype.h"
#include "handlers.h"
#include "log.h"
#include "tags.h"

/* Longest a test waits for the runner to get somewhere (ASan, 2 busy cores). */
#define WAIT_MS 15000

static char dir[64];
static struct log *lg;
static struct ev_bus *bus;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/hd_test.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    lg = log_new(stderr, LOG_WARN);
    struct ev_bus_config bc = {.history = 64};
    bus = ev_bus_new(&bc);
    ck_assert_ptr_nonnull(bus);
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
    ev_bus_delete(bus);
    log_delete(lg);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until the runner has handled seq `want`; fails after WAIT_MS. */
static void wait_position(struct hd_runner *r, uint64_t want)
{
    struct hd_stats st;
    int64_t end = now_ms() + WAIT_MS;
    for (;;) {
        hd_runner_stats(r, &st);
        if (st.position >= want)
            return;
        ck_assert_msg(now_ms() < end, "runner stuck at %llu, want %llu",
                      (unsigned long long)st.position, (unsigned long long)want);
        usleep(5000);
    }
}

/* Wait until the runner's thread has read the end of the bus; fails after
 * WAIT_MS. */
static void wait_ended(struct hd_runner *r)
{
    struct hd_stats st;
    int64_t end = now_ms() + WAIT_MS;
    for (;;) {
        hd_runner_stats(r, &st);
        if (st.ended)
            return;
        ck_assert_msg(now_ms() < end, "runner did not finish at the end of the bus");
        usleep(5000);
    }
}

/* Shut down as swimd does: end the bus, let the runner finish, delete it. */
static void shutdown_runner(struct hd_runner *r)
{
    ev_bus_end(bus);
    wait_ended(r);
    hd_runner_delete(r);
}

/* The whole file (NUL-terminated, static buffer); "" when missing. */
static const char *slurp(const char *name)
{
    static char buf[8192];
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    buf[0] = '\0';
    if (f == NULL)
        return buf;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static struct ev_handler_spec spec(const char *fmt)
{
    char text[EV_SPEC_MAX];
    char err[256];
    struct ev_handler_spec s;
    /* Every %s in fmt is the test directory. */
    snprintf(text, sizeof(text), fmt, dir, dir, dir, dir);
    ck_assert_msg(ev_handler_spec_parse(text, &s, err, sizeof(err)) == 0, "%s", err);
    return s;
}

static struct hd_runner *runner(const struct ev_handler_spec *specs, size_t n, uint32_t timeout_ms,
                                uint32_t grace_ms, size_t queue)
{
    struct tags *t = tags_new();
    ck_assert_int_eq(tags_set(t, "dc-name", "eu-1"), 0);
    ck_assert_int_eq(tags_set(t, "role", "web"), 0);
    size_t len;
    const uint8_t *b = tags_bytes(t, &len);
    struct hd_config c = {
        .bus = bus,
        .log = lg,
        .specs = specs,
        .count = n,
        .timeout_ms = timeout_ms,
        .kill_grace_ms = grace_ms,
        .queue = queue,
        .self_name = "self",
        .self_addr = "127.0.0.1:7946",
        .self_tags = b,
        .self_tags_len = len,
    };
    int rc = -100;
    struct hd_runner *r = hd_runner_new(&c, &rc);
    tags_delete(t);
    ck_assert_int_eq(rc, 0);
    ck_assert_ptr_nonnull(r);
    return r;
}

static uint64_t publish_member(enum ev_type type, const char *name)
{
    struct ev_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    snprintf(ev.name, sizeof(ev.name), "%s", name);
    snprintf(ev.addr, sizeof(ev.addr), "127.0.0.1:7001");
    ev.status = type == EV_MEMBER_FAILED  ? SWIM_FAILED
                : type == EV_MEMBER_LEAVE ? SWIM_LEFT
                                          : SWIM_ALIVE;
    uint8_t meta[] = {2, 'd', 'c', 2, 'e', 'u', 4, 'r', 'o', 'l', 'e', 3, 'd', 'b', '1'};
    memcpy(ev.tags, meta, sizeof(meta));
    ev.tags_len = sizeof(meta);
    uint64_t seq = 0;
    ck_assert_int_eq(ev_bus_publish_event(bus, &ev, &seq), 0);
    return seq;
}

static uint64_t publish_user(const char *name, const char *payload)
{
    struct ev_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = EV_USER;
    snprintf(ev.name, sizeof(ev.name), "origin1");
    snprintf(ev.user_name, sizeof(ev.user_name), "%s", name);
    ev.data_len = (uint16_t)strlen(payload);
    memcpy(ev.data, payload, ev.data_len);
    uint64_t seq = 0;
    ck_assert_int_eq(ev_bus_publish_event(bus, &ev, &seq), 0);
    return seq;
}

START_TEST(hd_test_spec_parses_types_and_command)
{
    struct ev_handler_spec s;
    char err[256];
    ck_assert_int_eq(
        ev_handler_spec_parse("member-join,member-failed=./h.sh a=b", &s, err, sizeof(err)), 0);
    ck_assert_uint_eq(s.types, EV_MASK(EV_MEMBER_JOIN) | EV_MASK(EV_MEMBER_FAILED));
    ck_assert_str_eq(s.command, "./h.sh a=b");
    ck_assert_int_eq(ev_handler_spec_parse("./all.sh", &s, err, sizeof(err)), 0);
    ck_assert_str_eq(s.command, "./all.sh");
    ck_assert_uint_eq(s.types, EV_MASK_MEMBER | EV_MASK(EV_USER));
    ck_assert_int_eq(ev_handler_spec_parse("FOO=1 ./x.sh", &s, err, sizeof(err)), 0);
    ck_assert_str_eq(s.command, "FOO=1 ./x.sh");
    ck_assert_uint_eq(s.types, EV_MASK_MEMBER | EV_MASK(EV_USER));
    ck_assert_int_eq(ev_handler_spec_parse("user:deploy,member-leave=cmd", &s, err, sizeof(err)),
                     0);
    ck_assert_uint_eq(s.types, EV_MASK(EV_MEMBER_LEAVE));
    ck_assert_uint_eq(s.user_count, 1);
    ck_assert_str_eq(s.user_names[0], "deploy");
}
END_TEST

START_TEST(hd_test_spec_rejects_bad_specs)
{
    struct ev_handler_spec s;
    char err[256];
    const char *bad[] = {
        "member-joined=x",
        "self-active=x",
        "user:=x",
        ",member-join=x",
        "member-join,=x",
        "member-join=",
        "member-join= ",
        "",
        "=x",
        "user:a,user:b,user:c,"
        "user:d,user:e,user:f,"
        "user:g,user:h,user:i=x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(ev_handler_spec_parse(bad[i], &s, err, sizeof(err)) == ERR_INVAL,
                      "accepted %s", bad[i]);
        ck_assert_msg(err[0] != '\0', "no message for %s", bad[i]);
    }
    ev_handler_spec_parse("member-joined=x", &s, err, sizeof(err));
    ck_assert_ptr_nonnull(strstr(err, "member-joined"));
}
END_TEST

START_TEST(hd_test_spec_matches_user_names)
{
    struct ev_handler_spec s;
    char err[256];
    ck_assert_int_eq(ev_handler_spec_parse("user:deploy=x", &s, err, sizeof(err)), 0);
    struct ev_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = EV_USER;
    strcpy(ev.user_name, "deploy");
    ck_assert_int_eq(ev_handler_spec_matches(&s, ev.type, ev.user_name), 1);
    strcpy(ev.user_name, "deploy2");
    ck_assert_int_eq(ev_handler_spec_matches(&s, ev.type, ev.user_name), 0);
    ev.type = EV_MEMBER_JOIN;
    ck_assert_int_eq(ev_handler_spec_matches(&s, ev.type, ev.user_name), 0);
    ck_assert_int_eq(ev_handler_spec_parse("x", &s, err, sizeof(err)), 0);
    ev.type = EV_SELF_ACTIVE;
    ck_assert_int_eq(ev_handler_spec_matches(&s, ev.type, ev.user_name),
                     0); /* "all" means member and user events */
}
END_TEST

START_TEST(hd_test_handler_gets_environment_and_member_line)
{
    setenv("SWIM_STALE", "must-not-pass", 1);
    setenv("HD_TEST_INHERITED", "yes", 1);
    struct ev_handler_spec s =
        spec("member-join=cat > %s/in.$SWIM_SEQ; "
             "env | grep -e ^SWIM_ -e ^HD_TEST_ | LC_ALL=C sort > %s/env.$SWIM_SEQ");
    struct hd_runner *r = runner(&s, 1, 0, 0, 0);
    uint64_t seq = publish_member(EV_MEMBER_JOIN, "n1");
    wait_position(r, seq);
    ck_assert_str_eq(slurp("in.1"), "n1\t127.0.0.1:7001\talive\tdc=eu,role=db1\n");
    ck_assert_str_eq(slurp("env.1"), "HD_TEST_INHERITED=yes\n"
                                     "SWIM_EVENT=member-join\n"
                                     "SWIM_SELF_ADDR=127.0.0.1:7946\n"
                                     "SWIM_SELF_NAME=self\n"
                                     "SWIM_SEQ=1\n"
                                     "SWIM_TAG_DC_NAME=eu-1\n"
                                     "SWIM_TAG_ROLE=web\n");
    struct hd_stats st;
    hd_runner_stats(r, &st);
    ck_assert_uint_eq(st.runs, 1);
    ck_assert_uint_eq(st.failures, 0);
    shutdown_runner(r);
}
END_TEST

START_TEST(hd_test_events_run_in_sequence_order_one_at_a_time)
{
    struct ev_handler_spec s[2] = {
        spec("member-join,member-failed,member-leave=echo a$SWIM_SEQ >> %s/log; sleep 0.05; "
             "echo b$SWIM_SEQ >> %s/log"),
        spec("member-join,member-failed,member-leave=echo c$SWIM_SEQ-$SWIM_EVENT >> %s/log"),
    };
    struct hd_runner *r = runner(s, 2, 0, 0, 0);
    publish_member(EV_MEMBER_JOIN, "n1");
    publish_member(EV_MEMBER_FAILED, "n1");
    uint64_t last = publish_member(EV_MEMBER_LEAVE, "n2");
    wait_position(r, last);
    ck_assert_str_eq(slurp("log"), "a1\nb1\nc1-member-join\n"
                                   "a2\nb2\nc2-member-failed\n"
                                   "a3\nb3\nc3-member-leave\n");
    shutdown_runner(r);
}
END_TEST

START_TEST(hd_test_type_filter_skips_other_events)
{
    struct ev_handler_spec s = spec("member-failed=echo $SWIM_SEQ >> %s/log");
    struct hd_runner *r = runner(&s, 1, 0, 0, 0);
    publish_member(EV_MEMBER_JOIN, "n1");
    publish_member(EV_MEMBER_FAILED, "n1");
    publish_member(EV_MEMBER_LEAVE, "n1");
    uint64_t last = publish_user("deploy", "x");
    wait_position(r, last);
    ck_assert_str_eq(slurp("log"), "2\n");
    struct hd_stats st;
    hd_runner_stats(r, &st);
    ck_assert_uint_eq(st.runs, 1);
    shutdown_runner(r);
}
END_TEST

START_TEST(hd_test_user_event_gets_payload_and_name)
{
    struct ev_handler_spec s =
        spec("user:deploy=cat > %s/payload; "
             "echo \"$SWIM_EVENT $SWIM_USER_EVENT $SWIM_USER_ORIGIN\" > %s/name");
    struct hd_runner *r = runner(&s, 1, 0, 0, 0);
    publish_user("deploy", "version=1.2\nsecond line");
    uint64_t last = publish_user("restart", "no");
    wait_position(r, last);
    ck_assert_str_eq(slurp("payload"), "version=1.2\nsecond line");
    ck_assert_str_eq(slurp("name"), "user deploy origin1\n");
    struct hd_stats st;
    hd_runner_stats(r, &st);
    ck_assert_uint_eq(st.runs, 1);
    shutdown_runner(r);
}
END_TEST

START_TEST(hd_test_slow_handler_killed_after_timeout)
{
    struct ev_handler_spec s[2] = {
        spec("member-join=echo $$ > %s/pid; exec sleep 30"),
        spec("member-join=echo next >> %s/log"),
    };
    struct hd_runner *r = runner(s, 2, 300, 5000, 0);
    int64_t t0 = now_ms();
    uint64_t seq = publish_member(EV_MEMBER_JOIN, "n1");
    wait_position(r, seq);
    int64_t took = now_ms() - t0;
    ck_assert_int_ge(took, 300);
    ck_assert_int_lt(took, 4000); /* SIGTERM worked: the 5 s grace was not needed */
    struct hd_stats st;
    hd_runner_stats(r, &st);
    ck_assert_uint_eq(st.timeouts, 1);
    ck_assert_uint_eq(st.failures, 1);
    ck_assert_str_eq(slurp("log"), "next\n"); /* the next handler still ran */
    int pid = atoi(slurp("pid"));
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(kill(pid, 0), -1); /* killed and reaped */
    ck_assert_int_eq(errno, ESRCH);
    shutdown_runner(r);
}
END_TEST

START_TEST(hd_test_handler_ignoring_sigterm_gets_sigkill)
{
    struct ev_handler_spec s = spec("member-join=trap '' TERM; echo $$ > %s/pid; "
                                    "while :; do sleep 0.05; done");
    struct hd_runner *r = runner(&s, 1, 200, 300, 0);
    int64_t t0 = now_ms();
    uint64_t seq = publish_member(EV_MEMBER_JOIN, "n1");
    wait_position(r, seq);
    int64_t took = now_ms() - t0;
    ck_assert_int_ge(took, 500); /* timeout + grace */
    ck_assert_int_lt(took, 5000);
    struct hd_stats st;
    hd_runner_stats(r, &st);
    ck_assert_uint_eq(st.timeouts, 1);
    int pid = atoi(slurp("pid"));
    ck_assert_int_gt(pid, 0);
    ck_assert_int_eq(kill(pid, 0), -1);
    shutdown_runner(r);
}
END_TEST

START_TEST(hd_test_failing_handler_counted_and_next_runs)
{
    struct ev_handler_spec s[2] = {
        spec("member-join=echo oops; exit 3"),
        spec("member-join=echo ran >> %s/log"),
    };
    struct hd_runner *r = runner(s, 2, 0, 0, 0);
    uint64_t seq = publish_member(EV_MEMBER_JOIN, "n1");
    wait_position(r, seq);
    struct hd_stats st;
    hd_runner_stats(r, &st);
    ck_assert_uint_eq(st.runs, 2);
    ck_assert_uint_eq(st.failures, 1);
    ck_assert_uint_eq(st.timeouts, 0);
    ck_assert_str_eq(slurp("log"), "ran\n");
    shutdown_runner(r);
}
END_TEST

START_TEST(hd_test_handler_inherits_no_other_descriptors)
{
    int fd = open("/dev/null", O_RDONLY); /* deliberately not close-on-exec */
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(dup2(fd, 100), 100);
    struct ev_handler_spec s = spec("member-join=if [ -e /proc/$$/fd/100 ]; then echo open; "
                                    "else echo closed; fi > %s/fd");
    struct hd_runner *r = runner(&s, 1, 0, 0, 0);
    uint64_t seq = publish_member(EV_MEMBER_JOIN, "n1");
    wait_position(r, seq);
    ck_assert_str_eq(slurp("fd"), "closed\n");
    shutdown_runner(r);
    close(100);
    close(fd);
}
END_TEST

START_TEST(hd_test_stop_kills_running_handler)
{
    struct ev_handler_spec s = spec("member-join=echo $$ > %s/pid; exec sleep 30");
    struct hd_runner *r = runner(&s, 1, 0, 300, 0);
    publish_member(EV_MEMBER_JOIN, "n1");
    int64_t end = now_ms() + WAIT_MS;
    while (atoi(slurp("pid")) <= 0) {
        ck_assert_msg(now_ms() < end, "handler never started");
        usleep(5000);
    }
    int pid = atoi(slurp("pid"));
    int64_t t0 = now_ms();
    hd_runner_delete(r);
    ck_assert_int_lt(now_ms() - t0, 3000);
    ck_assert_int_eq(kill(pid, 0), -1);
}
END_TEST

START_TEST(hd_test_bus_end_finishes_runner_after_pending_events)
{
    struct ev_handler_spec s = spec("member-join=sleep 0.1; echo $SWIM_SEQ >> %s/log");
    struct hd_runner *r = runner(&s, 1, 0, 0, 0);
    publish_member(EV_MEMBER_JOIN, "n1");
    publish_member(EV_MEMBER_JOIN, "n2");
    uint64_t last = publish_member(EV_MEMBER_JOIN, "n3");
    ev_bus_end(bus);
    wait_ended(r);
    struct hd_stats st;
    hd_runner_stats(r, &st);
    ck_assert_uint_eq(st.position, last); /* everything before the end was handled */
    ck_assert_uint_eq(st.runs, 3);
    ck_assert_str_eq(slurp("log"), "1\n2\n3\n");
    int64_t t0 = now_ms();
    hd_runner_delete(r);
    ck_assert_int_lt(now_ms() - t0, 1000); /* the thread was already done */
}
END_TEST

START_TEST(hd_test_lost_events_are_counted_never_skipped_silently)
{
    /* History 64 (fixture), queue 2, and the first events take 0.2 s each:
     * of 100 events published meanwhile the runner sees the first ones,
     * then loses what the history dropped, then catches up on the rest. */
    struct ev_handler_spec s = spec("member-join=[ \"$SWIM_SEQ\" -le 2 ] && sleep 0.2; true");
    struct hd_runner *r = runner(&s, 1, 0, 0, 2);
    uint64_t last = 0;
    for (int i = 0; i < 100; i++)
        last = publish_member(EV_MEMBER_JOIN, "n1");
    wait_position(r, last);
    struct hd_stats st;
    hd_runner_stats(r, &st);
    ck_assert_uint_gt(st.lost, 0);
    ck_assert_uint_eq(st.runs + st.lost, 100);
    shutdown_runner(r);
}
END_TEST

/* Whatever an event holds (here: bytes no entrance lets through, put on the
 * bus directly), the member line stays one line and every SWIM_* value
 * one printable line. */
START_TEST(hd_test_stdin_and_environment_escaped)
{
    struct ev_handler_spec s =
        spec("cat > %s/in.$SWIM_SEQ; printf '%%s|' \"$SWIM_USER_EVENT\" \"$SWIM_USER_ORIGIN\" "
             "> %s/env.$SWIM_SEQ");
    struct hd_runner *r = runner(&s, 1, 0, 0, 0);
    publish_member(EV_MEMBER_JOIN, "ev\n2024 error fake\tline");
    struct ev_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = EV_USER;
    snprintf(ev.name, sizeof(ev.name), "o\x1b[2J");
    snprintf(ev.user_name, sizeof(ev.user_name), "dep\nloy\\");
    uint64_t seq = 0;
    ck_assert_int_eq(ev_bus_publish_event(bus, &ev, &seq), 0);
    wait_position(r, seq);
    ck_assert_str_eq(slurp("in.1"),
                     "ev\\x0a2024 error fake\\x09line\t127.0.0.1:7001\talive\tdc=eu,role=db1\n");
    ck_assert_str_eq(slurp("env.2"), "dep\\x0aloy\\\\|o\\x1b[2J|");
    shutdown_runner(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("handlers");
    TCase *tc = tcase_create("spec");
    tcase_add_test(tc, hd_test_spec_parses_types_and_command);
    tcase_add_test(tc, hd_test_spec_rejects_bad_specs);
    tcase_add_test(tc, hd_test_spec_matches_user_names);
    suite_add_tcase(s, tc);
    TCase *rc = tcase_create("runner");
    tcase_set_timeout(rc, 30);
    tcase_add_checked_fixture(rc, setup, teardown);
    tcase_add_test(rc, hd_test_handler_gets_environment_and_member_line);
    tcase_add_test(rc, hd_test_events_run_in_sequence_order_one_at_a_time);
    tcase_add_test(rc, hd_test_type_filter_skips_other_events);
    tcase_add_test(rc, hd_test_user_event_gets_payload_and_name);
    tcase_add_test(rc, hd_test_slow_handler_killed_after_timeout);
    tcase_add_test(rc, hd_test_handler_ignoring_sigterm_gets_sigkill);
    tcase_add_test(rc, hd_test_failing_handler_counted_and_next_runs);
    tcase_add_test(rc, hd_test_handler_inherits_no_other_descriptors);
    tcase_add_test(rc, hd_test_stdin_and_environment_escaped);
    tcase_add_test(rc, hd_test_stop_kills_running_handler);
    tcase_add_test(rc, hd_test_lost_events_are_counted_never_skipped_silently);
    tcase_add_test(rc, hd_test_bus_end_finishes_runner_after_pending_events);
    suite_add_tcase(s, rc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
