/*
 * listen_pause_test.c - a listener's pause after accept() runs out of
 * descriptors or memory (agent/listen_pause.c): it stops accepting, starts
 * again LISTEN_PAUSE_MS later, logs once per window, and an owner's hold
 * outlasts a pause.  A real listener on loopback and a real loop; the
 * descriptor exhaustion itself is in metrics_it_test.c and
 * control_socket_test.c, against real swimd processes.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listen_pause.h"

struct world {
    struct event_base *base;
    struct evconnlistener *listener;
    struct listen_pause lp;
    struct log *log;
    FILE *log_file;
    int port;
    int accepted;
};

static struct world w;

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len,
                      void *arg)
{
    (void)l, (void)sa, (void)len;
    struct world *wd = arg;
    wd->accepted++;
    evutil_closesocket(fd);
}

static void setup(void)
{
    memset(&w, 0, sizeof(w));
    w.base = event_base_new();
    ck_assert_ptr_nonnull(w.base);
    w.log_file = tmpfile();
    ck_assert_ptr_nonnull(w.log_file);
    w.log = log_new(w.log_file, LOG_DEBUG);
    ck_assert_ptr_nonnull(w.log);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    w.listener = evconnlistener_new_bind(w.base, on_accept, &w,
                                         LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
                                         (struct sockaddr *)&sin, sizeof(sin));
    ck_assert_ptr_nonnull(w.listener);
    socklen_t len = sizeof(sin);
    ck_assert_int_eq(getsockname(evconnlistener_get_fd(w.listener), (struct sockaddr *)&sin, &len),
                     0);
    w.port = ntohs(sin.sin_port);
    ck_assert_int_eq(listen_pause_create(&w.lp, w.base, w.listener, "test", w.log), 0);
}

static void teardown(void)
{
    listen_pause_destroy(&w.lp);
    evconnlistener_free(w.listener);
    log_delete(w.log);
    fclose(w.log_file);
    event_base_free(w.base);
}

/* Run the loop for ms. */
static void run_for(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(w.base, &tv);
    event_base_dispatch(w.base);
}

/* Connect to the listener (the connection waits in its queue if it is not
 * accepting); the client socket. */
static int connect_one(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)w.port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

/* Lines in the log naming `what`. */
static int log_lines(const char *what)
{
    fflush(w.log_file);
    rewind(w.log_file);
    char line[512];
    int n = 0;
    while (fgets(line, sizeof(line), w.log_file) != NULL)
        n += strstr(line, what) != NULL;
    return n;
}

START_TEST(listen_pause_test_emfile_pauses_then_resumes)
{
    ck_assert(listen_pause_accepting(&w.lp));
    listen_pause_on_error(&w.lp, EMFILE);
    ck_assert(!listen_pause_accepting(&w.lp));
    int fd = connect_one();
    run_for(LISTEN_PAUSE_MS / 2);
    ck_assert_int_eq(w.accepted, 0); /* waits in the queue */
    run_for(LISTEN_PAUSE_MS);
    ck_assert(listen_pause_accepting(&w.lp));
    ck_assert_int_eq(w.accepted, 1);
    ck_assert_uint_eq(w.lp.pauses, 1);
    ck_assert_int_eq(log_lines("test accept failed: Too many open files; not accepting"), 1);
    close(fd);
}
END_TEST

START_TEST(listen_pause_test_each_starvation_error_pauses)
{
    const int errs[] = {EMFILE, ENFILE, ENOBUFS, ENOMEM};
    for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
        listen_pause_on_error(&w.lp, errs[i]);
        ck_assert_msg(!listen_pause_accepting(&w.lp), "errno %d", errs[i]);
        run_for(LISTEN_PAUSE_MS + 100);
        ck_assert_msg(listen_pause_accepting(&w.lp), "errno %d", errs[i]);
    }
    ck_assert_uint_eq(w.lp.pauses, 4);
}
END_TEST

START_TEST(listen_pause_test_other_errors_keep_accepting)
{
    listen_pause_on_error(&w.lp, EPROTO);
    listen_pause_on_error(&w.lp, ECONNRESET);
    ck_assert(listen_pause_accepting(&w.lp));
    ck_assert_uint_eq(w.lp.pauses, 0);
    int fd = connect_one();
    run_for(50);
    ck_assert_int_eq(w.accepted, 1);
    ck_assert_int_eq(log_lines("test accept failed"), 1); /* the second is suppressed */
    close(fd);
}
END_TEST

START_TEST(listen_pause_test_logs_once_per_window)
{
    for (int i = 0; i < 20; i++)
        listen_pause_on_error(&w.lp, EMFILE);
    ck_assert_uint_eq(w.lp.pauses, 20);
    ck_assert_int_eq(log_lines("not accepting"), 1);
}
END_TEST

START_TEST(listen_pause_test_hold_outlasts_pause)
{
    listen_pause_hold(&w.lp, 1);
    listen_pause_on_error(&w.lp, EMFILE);
    int fd = connect_one();
    run_for(LISTEN_PAUSE_MS + 100); /* the pause ends, the hold does not */
    ck_assert(!listen_pause_accepting(&w.lp));
    ck_assert_int_eq(w.accepted, 0);
    listen_pause_hold(&w.lp, 0);
    ck_assert(listen_pause_accepting(&w.lp));
    run_for(50);
    ck_assert_int_eq(w.accepted, 1);
    close(fd);
}
END_TEST

START_TEST(listen_pause_test_release_does_not_end_pause)
{
    listen_pause_hold(&w.lp, 1);
    listen_pause_on_error(&w.lp, ENFILE);
    listen_pause_hold(&w.lp, 0);
    ck_assert(!listen_pause_accepting(&w.lp));
    run_for(LISTEN_PAUSE_MS + 100);
    ck_assert(listen_pause_accepting(&w.lp));
}
END_TEST

static Suite *listen_pause_suite(void)
{
    Suite *s = suite_create("listen_pause");
    TCase *tc = tcase_create("pause");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, listen_pause_test_emfile_pauses_then_resumes);
    tcase_add_test(tc, listen_pause_test_each_starvation_error_pauses);
    tcase_add_test(tc, listen_pause_test_other_errors_keep_accepting);
    tcase_add_test(tc, listen_pause_test_logs_once_per_window);
    tcase_add_test(tc, listen_pause_test_hold_outlasts_pause);
    tcase_add_test(tc, listen_pause_test_release_does_not_end_pause);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(listen_pause_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
