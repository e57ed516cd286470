/*
 * sdnotify_test.c - the sd_notify protocol (agent/sdnotify.c) against a real
 * Unix datagram socket that the test binds and names in NOTIFY_SOCKET, as
 * systemd would: a filesystem path and an abstract '@' name.  Every check
 * reads the exact bytes of the datagram; without NOTIFY_SOCKET nothing may
 * arrive and nothing may fail.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "err.h"
#include "sdnotify.h"

/* The listening socket of one test (a stand-in for systemd's). */
static int lfd = -1;
static char dir[64];
static char path[128];
static char env_name[128]; /* what NOTIFY_SOCKET says: the path or "@name" */

static void clear_env(void)
{
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

/* Bind the listener at a path (abstract == 0) or an abstract name. */
static void listen_on(int abstract)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    lfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(lfd, 0);
    socklen_t len;
    if (abstract) {
        snprintf(env_name, sizeof(env_name), "@swimd-sdnotify-test-%ld", (long)getpid());
        size_t n = strlen(env_name);
        memcpy(sun.sun_path, env_name, n);
        sun.sun_path[0] = '\0';
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    } else {
        snprintf(path, sizeof(path), "%s/notify", dir);
        snprintf(env_name, sizeof(env_name), "%s", path);
        memcpy(sun.sun_path, path, strlen(path) + 1);
        len = (socklen_t)sizeof(sun);
    }
    ck_assert_msg(bind(lfd, (struct sockaddr *)&sun, len) == 0, "bind %s: %s", env_name,
                  strerror(errno));
}

/* Listen, name the listener in NOTIFY_SOCKET and read it into n. */
static void notify_open(int abstract, struct sdn *n)
{
    listen_on(abstract);
    setenv("NOTIFY_SOCKET", env_name, 1);
    ck_assert_int_eq(sdn_create(n, 0), 0);
    ck_assert(n->enabled);
}

static void setup(void)
{
    clear_env();
    snprintf(dir, sizeof(dir), "/tmp/sdnotify_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    path[0] = '\0';
}

static void teardown(void)
{
    if (lfd >= 0)
        close(lfd);
    lfd = -1;
    if (path[0] != '\0')
        unlink(path);
    rmdir(dir);
    clear_env();
}

/* The next datagram, which must be `want`, byte for byte. */
static void expect(const char *want)
{
    char buf[SDN_MESSAGE_MAX + 64];
    ssize_t r = recv(lfd, buf, sizeof(buf), MSG_DONTWAIT);
    ck_assert_msg(r >= 0, "no datagram (wanted \"%s\"): %s", want, strerror(errno));
    ck_assert_int_eq((int)r, (int)strlen(want));
    ck_assert_msg(memcmp(buf, want, (size_t)r) == 0, "got \"%.*s\", want \"%s\"", (int)r, buf,
                  want);
}

/* Nothing more may have arrived. */
static void expect_nothing(void)
{
    char buf[64];
    ck_assert_int_eq((int)recv(lfd, buf, sizeof(buf), MSG_DONTWAIT), -1);
    ck_assert_int_eq(errno, EAGAIN);
}

START_TEST(sdnotify_test_path_socket_gets_exact_bytes)
{
    struct sdn n;
    notify_open(0, &n);
    ck_assert_int_eq(sdn_ready(&n), 0);
    expect("READY=1");
    ck_assert_int_eq(sdn_status(&n, "running name=%s members=%d", "n1", 3), 0);
    expect("STATUS=running name=n1 members=3");
    ck_assert_int_eq(sdn_stopping(&n), 0);
    expect("STOPPING=1");
    ck_assert_int_eq(sdn_send(&n, "READY=1\nSTATUS=up"), 0);
    expect("READY=1\nSTATUS=up");
    expect_nothing();
}
END_TEST

START_TEST(sdnotify_test_abstract_socket_gets_exact_bytes)
{
    struct sdn n;
    notify_open(1, &n);
    ck_assert_int_eq(sdn_ready(&n), 0);
    expect("READY=1");
    ck_assert_int_eq(sdn_stopping(&n), 0);
    expect("STOPPING=1");
    expect_nothing();
}
END_TEST

START_TEST(sdnotify_test_unset_sends_nothing_and_succeeds)
{
    listen_on(0); /* listening, but nobody names it */
    struct sdn n;
    ck_assert_int_eq(sdn_create(&n, 1), 0);
    ck_assert(!n.enabled);
    ck_assert_int_eq(sdn_ready(&n), 0);
    ck_assert_int_eq(sdn_status(&n, "x"), 0);
    ck_assert_int_eq(sdn_stopping(&n), 0);
    ck_assert_int_eq(sdn_watchdog_ping(&n), 0);
    ck_assert_uint_eq(sdn_watchdog_interval_ms(&n), 0);
    setenv("NOTIFY_SOCKET", "", 1); /* empty counts as unset */
    setenv("WATCHDOG_USEC", "1000000", 1);
    ck_assert_int_eq(sdn_create(&n, 0), 0);
    ck_assert(!n.enabled);
    ck_assert_int_eq(sdn_ready(&n), 0);
    ck_assert_int_eq(sdn_watchdog_ping(&n), 0);
    ck_assert_uint_eq(sdn_watchdog_interval_ms(&n), 0);
    expect_nothing();
}
END_TEST

START_TEST(sdnotify_test_status_is_one_line_and_bounded)
{
    struct sdn n;
    notify_open(0, &n);
    ck_assert_int_eq(sdn_status(&n, "a\nREADY=1\tb\x7f"), 0);
    expect("STATUS=a READY=1 b "); /* no second assignment smuggled in */
    char big[2 * SDN_MESSAGE_MAX];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(sdn_status(&n, "%s", big), 0);
    char want[SDN_MESSAGE_MAX + 1];
    memset(want, 'x', sizeof(want));
    memcpy(want, "STATUS=", 7);
    want[SDN_MESSAGE_MAX] = '\0';
    expect(want);
    ck_assert_int_eq(sdn_send(&n, big), ERR_TOOBIG);
    expect_nothing();
}
END_TEST

START_TEST(sdnotify_test_watchdog_interval_and_ping)
{
    setenv("WATCHDOG_USEC", "30000000", 1);
    struct sdn n;
    notify_open(1, &n);
    ck_assert_uint_eq(sdn_watchdog_interval_ms(&n), 15000); /* half of 30 s */
    ck_assert_int_eq(sdn_watchdog_ping(&n), 0);
    expect("WATCHDOG=1");
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    ck_assert_int_eq(sdn_create(&n, 0), 0);
    ck_assert_uint_eq(sdn_watchdog_interval_ms(&n), 15000);
    setenv("WATCHDOG_USEC", "1500", 1); /* 1.5 ms: still pinged, every 1 ms */
    ck_assert_int_eq(sdn_create(&n, 0), 0);
    ck_assert_uint_eq(sdn_watchdog_interval_ms(&n), 1);
    /* Not for this process, or unreadable: no watchdog, no ping, no error. */
    const char *cases[][2] = {{"30000000", "1"}, {"30000000", "12x"}, {"abc", pid},
                              {"0", pid},        {"-5", pid},         {"", NULL}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setenv("WATCHDOG_USEC", cases[i][0], 1);
        if (cases[i][1] != NULL)
            setenv("WATCHDOG_PID", cases[i][1], 1);
        else
            unsetenv("WATCHDOG_PID");
        ck_assert_int_eq(sdn_create(&n, 0), 0);
        ck_assert_msg(sdn_watchdog_interval_ms(&n) == 0, "WATCHDOG_USEC=%s WATCHDOG_PID=%s",
                      cases[i][0], cases[i][1] != NULL ? cases[i][1] : "(unset)");
        ck_assert_int_eq(sdn_watchdog_ping(&n), 0);
    }
    expect_nothing();
}
END_TEST

START_TEST(sdnotify_test_unset_env_hides_it_from_children)
{
    listen_on(0);
    setenv("NOTIFY_SOCKET", env_name, 1);
    setenv("WATCHDOG_USEC", "2000000", 1);
    setenv("WATCHDOG_PID", "1", 1);
    struct sdn n;
    ck_assert_int_eq(sdn_create(&n, 1), 0);
    ck_assert_ptr_null(getenv("NOTIFY_SOCKET"));
    ck_assert_ptr_null(getenv("WATCHDOG_USEC"));
    ck_assert_ptr_null(getenv("WATCHDOG_PID"));
    ck_assert_int_eq(sdn_ready(&n), 0); /* n remembers where to send */
    expect("READY=1");
}
END_TEST

START_TEST(sdnotify_test_bad_address_rejected)
{
    struct sdn n;
    setenv("NOTIFY_SOCKET", "run/relative", 1);
    ck_assert_int_eq(sdn_create(&n, 0), ERR_INVAL);
    ck_assert(!n.enabled);
    ck_assert_int_eq(sdn_ready(&n), 0);
    setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
    ck_assert_int_eq(sdn_create(&n, 0), ERR_INVAL);
    char longpath[sizeof(n.addr.sun_path) + 2];
    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = '\0';
    setenv("NOTIFY_SOCKET", longpath, 1);
    ck_assert_int_eq(sdn_create(&n, 1), ERR_INVAL);
    ck_assert_ptr_null(getenv("NOTIFY_SOCKET")); /* unset even when bad */
}
END_TEST

START_TEST(sdnotify_test_send_fails_when_nobody_listens)
{
    char gone[160];
    snprintf(gone, sizeof(gone), "%s/nobody", dir);
    setenv("NOTIFY_SOCKET", gone, 1);
    struct sdn n;
    ck_assert_int_eq(sdn_create(&n, 0), 0);
    ck_assert_int_eq(sdn_ready(&n), ERR_SYS);
    ck_assert_int_eq(errno, ENOENT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sdnotify");
    TCase *tc = tcase_create("sdnotify");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, sdnotify_test_path_socket_gets_exact_bytes);
    tcase_add_test(tc, sdnotify_test_abstract_socket_gets_exact_bytes);
    tcase_add_test(tc, sdnotify_test_unset_sends_nothing_and_succeeds);
    tcase_add_test(tc, sdnotify_test_status_is_one_line_and_bounded);
    tcase_add_test(tc, sdnotify_test_watchdog_interval_and_ping);
    tcase_add_test(tc, sdnotify_test_unset_env_hides_it_from_children);
    tcase_add_test(tc, sdnotify_test_bad_address_rejected);
    tcase_add_test(tc, sdnotify_test_send_fails_when_nobody_listens);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
