/*
 * ctl_test.c - the control socket (agent/ctl.c): the line protocol as a pure
 * function, then a real server on a Unix socket driven from the test's own
 * event loop, with a fake command handler.
 */
#include <check.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "ctl.h"
#include "err.h"

/* Every wait in this file ends after this long. */
#define WAIT_MS 5000

/* The streaming connection of the current test (fork mode: one per test). */
static struct {
    struct ctl_conn *conn;
    int closes;
    int drains;
} stream;

static void stream_on_close(void *arg, struct ctl_conn *conn)
{
    ck_assert_ptr_eq(arg, &stream);
    ck_assert_ptr_eq(conn, stream.conn);
    stream.closes++;
    stream.conn = NULL;
}

static void stream_on_drain(void *arg, struct ctl_conn *conn)
{
    (void)arg;
    (void)conn;
    stream.drains++;
}

/* The connection whose "later" request waits for its reply (0: none). */
static uint64_t deferred_conn;

/* Fake commands: "echo" returns the request's "v", "fail" fails, "stream"
 * makes the connection a stream and sends two lines before its reply
 * returns (they must arrive after it), "later" defers its reply. */
static json_t *fake_handler(void *ctx, struct ctl_conn *conn, const char *cmd, json_t *req,
                            char *err)
{
    int *calls = ctx;
    if (calls != NULL)
        (*calls)++;
    if (strcmp(cmd, "later") == 0 && conn != NULL) {
        ck_assert_int_eq(ctl_conn_defer(conn), 0);
        ck_assert_int_eq(ctl_conn_defer(conn), ERR_STATE); /* once */
        deferred_conn = ctl_conn_id(conn);
        snprintf(err, CTL_ERR_MAX, "ignored");
        return NULL;
    }
    if (strcmp(cmd, "stream") == 0 && conn != NULL) {
        stream.conn = conn;
        ctl_conn_set_hooks(conn, stream_on_close, stream_on_drain, &stream);
        ck_assert_int_eq(ctl_conn_send_line(conn, "{\"n\":1}", 7), 0);
        json_t *two = json_pack("{s:i}", "n", 2);
        ck_assert_int_eq(ctl_conn_send_json(conn, two), 0);
        json_decref(two);
        return json_pack("{s:I}", "conn", (json_int_t)ctl_conn_id(conn));
    }
    if (strcmp(cmd, "echo") == 0)
        return json_pack("{s:O?}", "v", json_object_get(req, "v"));
    if (strcmp(cmd, "fail") == 0) {
        snprintf(err, CTL_ERR_MAX, "it failed");
        return NULL;
    }
    snprintf(err, CTL_ERR_MAX, "unknown command \"%s\"", cmd);
    return NULL;
}

static json_t *answer(const char *line)
{
    char *s = ctl_answer_line(line, strlen(line), fake_handler, NULL);
    ck_assert_ptr_nonnull(s);
    size_t n = strlen(s);
    ck_assert_int_eq(s[n - 1], '\n');
    ck_assert_ptr_null(memchr(s, '\n', n - 1));
    json_t *o = json_loads(s, 0, NULL);
    ck_assert_ptr_nonnull(o);
    free(s);
    return o;
}

static void assert_error(json_t *o, const char *fragment)
{
    const char *e = json_string_value(json_object_get(o, "error"));
    ck_assert_msg(e != NULL && strstr(e, fragment) != NULL, "error \"%s\" lacks \"%s\"",
                  e ? e : "(none)", fragment);
    json_decref(o);
}

START_TEST(ctl_test_answer_success_has_ok_and_id)
{
    json_t *o = answer("{\"cmd\":\"echo\",\"v\":7,\"id\":\"abc\"}");
    ck_assert(json_is_true(json_object_get(o, "ok")));
    ck_assert_int_eq(json_integer_value(json_object_get(o, "v")), 7);
    ck_assert_str_eq(json_string_value(json_object_get(o, "id")), "abc");
    json_decref(o);
}
END_TEST

START_TEST(ctl_test_answer_rejects_malformed_requests)
{
    assert_error(answer("{not json"), "malformed JSON");
    assert_error(answer(""), "malformed JSON");
    assert_error(answer("[1,2]"), "JSON object");
    assert_error(answer("{\"cmd\":7}"), "\"cmd\"");
    assert_error(answer("{\"v\":1}"), "\"cmd\"");
    assert_error(answer("{\"cmd\":\"a\",\"cmd\":\"b\"}"), "malformed JSON");
    assert_error(answer("{\"cmd\":\"nope\"}"), "unknown command");
    json_t *o = answer("{\"cmd\":\"fail\",\"id\":3}");
    ck_assert_int_eq(json_integer_value(json_object_get(o, "id")), 3);
    assert_error(o, "it failed");
}
END_TEST

/* ---- a live server ------------------------------------------------------------ */

static struct event_base *base;
static struct ctl *srv;
static char dir[64], path[128];
static int calls;

static void srv_setup(void)
{
    signal(SIGPIPE, SIG_IGN); /* as swimd does: see ctl.h */
    snprintf(dir, sizeof(dir), "/tmp/ctl_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/ctl.sock", dir);
    base = event_base_new();
    int rc = -1;
    calls = 0;
    srv = ctl_new(base, path, 0600, fake_handler, &calls, NULL, &rc);
    ck_assert_ptr_nonnull(srv);
    ck_assert_int_eq(rc, 0);
}

static void srv_teardown(void)
{
    ctl_delete(srv);
    event_base_free(base);
    rmdir(dir);
}

static int client(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {0};
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%.100s", path);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

static void pump(void)
{
    event_base_loop(base, EVLOOP_NONBLOCK);
}

/* Send everything, running the server loop while the socket is full. */
static void send_all(int fd, const char *data, size_t len)
{
    uint64_t deadline = clock_mono_ms() + WAIT_MS;
    while (len > 0) {
        ck_assert_msg(clock_mono_ms() < deadline, "send timed out");
        ssize_t w = send(fd, data, len, MSG_NOSIGNAL);
        if (w > 0) {
            data += w;
            len -= (size_t)w;
        } else {
            ck_assert_int_eq(errno, EAGAIN);
            pump();
        }
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

/* Per-client read buffers: what was received but not yet returned. */
static char rbuf[4][1 << 16];
static size_t rlen[4];

/* The next response line on client slot k (pumping the server), parsed. */
static json_t *read_response(int k, int fd)
{
    uint64_t deadline = clock_mono_ms() + WAIT_MS;
    for (;;) {
        char *nl = memchr(rbuf[k], '\n', rlen[k]);
        if (nl != NULL) {
            size_t n = (size_t)(nl - rbuf[k]);
            json_t *o = json_loadb(rbuf[k], n, 0, NULL);
            memmove(rbuf[k], nl + 1, rlen[k] - n - 1);
            rlen[k] -= n + 1;
            ck_assert_ptr_nonnull(o);
            return o;
        }
        ck_assert_msg(clock_mono_ms() < deadline, "no response in %d ms", WAIT_MS);
        pump();
        ssize_t r = recv(fd, rbuf[k] + rlen[k], sizeof(rbuf[k]) - rlen[k], 0);
        if (r > 0)
            rlen[k] += (size_t)r;
        else if (r == 0)
            ck_abort_msg("server closed the connection");
        else
            usleep(500);
    }
}

static void assert_echo(json_t *o, int v)
{
    ck_assert(json_is_true(json_object_get(o, "ok")));
    ck_assert_int_eq(json_integer_value(json_object_get(o, "v")), v);
    json_decref(o);
}

START_TEST(ctl_test_socket_mode_applied)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert(S_ISSOCK(st.st_mode));
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
}
END_TEST

START_TEST(ctl_test_malformed_line_keeps_connection)
{
    rlen[0] = 0;
    int fd = client();
    send_str(fd, "garbage\n");
    assert_error(read_response(0, fd), "malformed JSON");
    send_str(fd, "{\"cmd\":\"echo\",\"v\":1}\r\n");
    assert_echo(read_response(0, fd), 1);
    close(fd);
}
END_TEST

START_TEST(ctl_test_oversized_line_rejected_then_usable)
{
    rlen[0] = 0;
    int fd = client();
    size_t big = 3 * CTL_LINE_MAX;
    char *junk = malloc(big);
    memset(junk, 'x', big);
    send_all(fd, junk, big);
    send_str(fd, "\n{\"cmd\":\"echo\",\"v\":2}\n");
    assert_error(read_response(0, fd), "too long");
    assert_echo(read_response(0, fd), 2);
    /* Just over the limit, newline included in one piece. */
    junk[CTL_LINE_MAX + 1] = '\n';
    send_all(fd, junk, CTL_LINE_MAX + 2);
    assert_error(read_response(0, fd), "too long");
    send_str(fd, "{\"cmd\":\"echo\",\"v\":3}\n");
    assert_echo(read_response(0, fd), 3);
    free(junk);
    close(fd);
}
END_TEST

START_TEST(ctl_test_pipelined_requests_answered_in_order)
{
    rlen[0] = 0;
    int fd = client();
    enum { N = 500 }; /* several CTL_LINES_PER_WAKEUP batches */
    char line[64];
    for (int i = 0; i < N; i++) {
        int n = snprintf(line, sizeof(line), "{\"cmd\":\"echo\",\"v\":%d}\n", i);
        send_all(fd, line, (size_t)n);
    }
    for (int i = 0; i < N; i++)
        assert_echo(read_response(0, fd), i);
    ck_assert_int_eq(calls, N);
    close(fd);
}
END_TEST

START_TEST(ctl_test_abrupt_disconnect_leaves_others_served)
{
    rlen[0] = rlen[1] = 0;
    int good = client();
    for (int i = 0; i < 20; i++) {
        int bad = client();
        send_str(bad, "{\"cmd\":\"echo\",\"v\":"); /* mid-line */
        if (i % 2 == 0)
            send_str(bad, "1}\n{\"cmd\":\"echo\"}\n"); /* unread answers */
        pump();
        close(bad);
        pump();
    }
    send_str(good, "{\"cmd\":\"echo\",\"v\":9}\n");
    assert_echo(read_response(1, good), 9);
    uint64_t deadline = clock_mono_ms() + WAIT_MS;
    while (ctl_client_count(srv) != 1 && clock_mono_ms() < deadline)
        pump();
    ck_assert_uint_eq(ctl_client_count(srv), 1);
    close(good);
}
END_TEST

START_TEST(ctl_test_half_close_still_answered)
{
    rlen[0] = 0;
    int fd = client();
    send_str(fd, "{\"cmd\":\"echo\",\"v\":4}\n{\"cmd\":\"echo\",\"v\":5}\n");
    shutdown(fd, SHUT_WR);
    assert_echo(read_response(0, fd), 4);
    assert_echo(read_response(0, fd), 5);
    /* Then the server closes its side. */
    uint64_t deadline = clock_mono_ms() + WAIT_MS;
    char c;
    ssize_t r;
    while ((r = recv(fd, &c, 1, 0)) < 0 && clock_mono_ms() < deadline) {
        pump();
        usleep(500);
    }
    ck_assert_int_eq(r, 0);
    close(fd);
}
END_TEST

START_TEST(ctl_test_last_line_without_newline_answered_at_eof)
{
    rlen[0] = 0;
    int fd = client();
    send_str(fd, "{\"cmd\":\"echo\",\"v\":6}");
    shutdown(fd, SHUT_WR);
    assert_echo(read_response(0, fd), 6);
    close(fd);
}
END_TEST

START_TEST(ctl_test_live_socket_not_replaced)
{
    int rc = 0;
    struct ctl *again = ctl_new(base, path, 0600, fake_handler, NULL, NULL, &rc);
    ck_assert_ptr_null(again);
    ck_assert_int_eq(rc, ERR_EXISTS);
}
END_TEST

START_TEST(ctl_test_stale_socket_replaced)
{
    char stale[160];
    snprintf(stale, sizeof(stale), "%s/stale.sock", dir);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {0};
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%.100s", stale);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(fd); /* bound, never listened: like a swimd killed with -9 */
    int rc = -1;
    struct ctl *c = ctl_new(base, stale, 0600, fake_handler, NULL, NULL, &rc);
    ck_assert_ptr_nonnull(c);
    ctl_delete(c);
    ck_assert_int_ne(access(stale, F_OK), 0); /* removed on delete */
    /* A regular file is never replaced. */
    FILE *f = fopen(stale, "w");
    fclose(f);
    c = ctl_new(base, stale, 0600, fake_handler, NULL, NULL, &rc);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(rc, ERR_EXISTS);
    unlink(stale);
}
END_TEST

/* ---- streaming ---------------------------------------------------------------- */

static void assert_n(json_t *o, int n)
{
    ck_assert_int_eq(json_integer_value(json_object_get(o, "n")), n);
    json_decref(o);
}

/* Wait (pumping the server) until the client sees EOF. */
static void assert_eof(int fd)
{
    uint64_t deadline = clock_mono_ms() + WAIT_MS;
    char c;
    ssize_t r;
    while ((r = recv(fd, &c, 1, 0)) < 0 && clock_mono_ms() < deadline) {
        pump();
        usleep(500);
    }
    ck_assert_int_eq(r, 0);
}

/* Everything a client is sent until the server closes, without running
 * the server's loop (it must already have been written). */
static size_t read_to_eof(int fd, char *buf, size_t cap)
{
    uint64_t deadline = clock_mono_ms() + 1000;
    size_t len = 0;
    for (;;) {
        ck_assert_msg(clock_mono_ms() < deadline, "no EOF without the loop; got \"%.*s\"", (int)len,
                      buf);
        ck_assert_uint_lt(len, cap);
        ssize_t r = recv(fd, buf + len, cap - len, 0);
        if (r == 0)
            return len;
        if (r > 0)
            len += (size_t)r;
        else
            usleep(1000);
    }
}

/* A one-shot client, its requests and its EOF sent before the server runs
 * (as swimctl does), is answered and closed in the loop turn that accepts
 * it, even a last line without its newline. */
START_TEST(ctl_test_one_shot_client_served_in_the_accepting_turn)
{
    int fd = client();
    send_str(fd, "{\"cmd\":\"echo\",\"v\":1}\n{\"cmd\":\"echo\",\"v\":2}");
    shutdown(fd, SHUT_WR);
    event_base_loop(base, EVLOOP_ONCE);
    ck_assert_uint_eq(ctl_client_count(srv), 0);
    char buf[256];
    size_t n = read_to_eof(fd, buf, sizeof(buf));
    buf[n] = '\0';
    ck_assert_str_eq(buf, "{\"v\":1,\"ok\":true}\n{\"v\":2,\"ok\":true}\n");
    ck_assert_int_eq(calls, 2);
    close(fd);
}
END_TEST

/* A client accepted before it sent anything is served through the loop:
 * several requests on one connection, then its EOF closes it. */
START_TEST(ctl_test_client_silent_at_accept_served_later)
{
    rlen[0] = 0;
    int fd = client();
    event_base_loop(base, EVLOOP_ONCE);
    ck_assert_uint_eq(ctl_client_count(srv), 1);
    send_str(fd, "{\"cmd\":\"echo\",\"v\":1}\n");
    assert_echo(read_response(0, fd), 1);
    send_str(fd, "{\"cmd\":\"echo\",\"v\":2}\n");
    assert_echo(read_response(0, fd), 2);
    shutdown(fd, SHUT_WR);
    assert_eof(fd);
    ck_assert_uint_eq(ctl_client_count(srv), 0);
    close(fd);
}
END_TEST

START_TEST(ctl_test_stream_lines_follow_reply_then_close)
{
    rlen[0] = 0;
    int fd = client();
    send_str(fd, "{\"cmd\":\"stream\"}\n");
    json_t *r = read_response(0, fd);
    ck_assert(json_is_true(json_object_get(r, "ok")));
    ck_assert_int_ge(json_integer_value(json_object_get(r, "conn")), 1);
    json_decref(r);
    assert_n(read_response(0, fd), 1);
    assert_n(read_response(0, fd), 2);
    /* Later lines, sent from outside any request. */
    ck_assert_ptr_nonnull(stream.conn);
    ck_assert_int_eq(ctl_conn_send_line(stream.conn, "{\"n\":3}", 7), 0);
    assert_n(read_response(0, fd), 3);
    /* Other requests are still answered on a stream. */
    send_str(fd, "{\"cmd\":\"echo\",\"v\":8}\n");
    assert_echo(read_response(0, fd), 8);
    /* Close: the queued line is flushed first, then EOF; the hook runs
     * once, never from inside ctl_conn_close(). */
    ck_assert_int_eq(ctl_conn_send_line(stream.conn, "{\"n\":4}", 7), 0);
    struct ctl_conn *conn = stream.conn;
    ctl_conn_close(conn);
    ctl_conn_close(conn);
    ck_assert_int_eq(stream.closes, 0);
    ck_assert_int_eq(ctl_conn_send_line(conn, "{}", 2), ERR_CLOSED);
    assert_n(read_response(0, fd), 4);
    assert_eof(fd);
    ck_assert_int_eq(stream.closes, 1);
    ck_assert_uint_eq(ctl_client_count(srv), 0);
    close(fd);
}
END_TEST

START_TEST(ctl_test_stream_client_gone_runs_close_hook)
{
    rlen[0] = 0;
    int fd = client();
    send_str(fd, "{\"cmd\":\"stream\"}\n");
    json_decref(read_response(0, fd));
    close(fd);
    uint64_t deadline = clock_mono_ms() + WAIT_MS;
    while (stream.closes == 0 && clock_mono_ms() < deadline)
        pump();
    ck_assert_int_eq(stream.closes, 1);
    ck_assert_uint_eq(ctl_client_count(srv), 0);
}
END_TEST

START_TEST(ctl_test_stream_unread_grows_then_drain_hook)
{
    rlen[0] = 0;
    int fd = client();
    send_str(fd, "{\"cmd\":\"stream\"}\n");
    json_decref(read_response(0, fd));
    assert_n(read_response(0, fd), 1);
    assert_n(read_response(0, fd), 2);
    int drains = stream.drains;
    /* The client stops reading: output piles up past the kernel's buffers. */
    enum { LINES = 4000 };
    char line[1024];
    memset(line, ' ', sizeof(line));
    memcpy(line, "{\"n\":5", 6);
    line[sizeof(line) - 1] = '}';
    for (int i = 0; i < LINES; i++) {
        ck_assert_int_eq(ctl_conn_send_line(stream.conn, line, sizeof(line)), 0);
        if (i % 100 == 0)
            pump();
    }
    for (int i = 0; i < 50; i++)
        pump();
    size_t unread = ctl_conn_unread(stream.conn);
    ck_assert_msg(unread > CTL_OUTPUT_MAX, "only %zu bytes unread", unread);
    /* It reads everything: the output drains and the hook says so. */
    for (int i = 0; i < LINES; i++)
        assert_n(read_response(0, fd), 5);
    uint64_t deadline = clock_mono_ms() + WAIT_MS;
    while ((stream.drains == drains || ctl_conn_unread(stream.conn) != 0) &&
           clock_mono_ms() < deadline)
        pump();
    ck_assert_int_gt(stream.drains, drains);
    ck_assert_uint_eq(ctl_conn_unread(stream.conn), 0);
    close(fd);
}
END_TEST

START_TEST(ctl_test_stream_ctl_delete_runs_close_hook)
{
    rlen[0] = 0;
    int fd = client();
    send_str(fd, "{\"cmd\":\"stream\"}\n");
    json_decref(read_response(0, fd));
    ctl_delete(srv);
    ck_assert_int_eq(stream.closes, 1);
    int rc = -1;
    srv = ctl_new(base, path, 0600, fake_handler, &calls, NULL, &rc); /* for the teardown */
    ck_assert_ptr_nonnull(srv);
    close(fd);
}
END_TEST

/* Nothing arrives on client slot k for `ms` (the server pumped meanwhile). */
static void assert_silent(int k, int fd, uint64_t ms)
{
    uint64_t end = clock_mono_ms() + ms;
    while (clock_mono_ms() < end) {
        pump();
        ssize_t r = recv(fd, rbuf[k] + rlen[k], sizeof(rbuf[k]) - rlen[k], 0);
        if (r > 0)
            rlen[k] += (size_t)r;
        usleep(500);
    }
    ck_assert_uint_eq(rlen[k], 0);
}

START_TEST(ctl_test_deferred_reply_keeps_request_order)
{
    rlen[0] = rlen[1] = 0;
    deferred_conn = 0;
    int fd = client(), other = client();
    send_str(fd, "{\"cmd\":\"later\",\"id\":\"a\"}\n{\"cmd\":\"echo\",\"v\":1}\n");
    /* The deferred request holds back its connection's next answer ... */
    assert_silent(0, fd, 50);
    ck_assert_uint_ne(deferred_conn, 0);
    ck_assert_int_eq(calls, 1);
    /* ... but no other client. */
    send_str(other, "{\"cmd\":\"echo\",\"v\":2}\n");
    assert_echo(read_response(1, other), 2);
    /* The reply comes with "ok" and the request's id, then the rest. */
    ck_assert_int_eq(ctl_reply_later(srv, deferred_conn, json_pack("{s:i}", "x", 5), NULL), 0);
    json_t *o = read_response(0, fd);
    ck_assert(json_is_true(json_object_get(o, "ok")));
    ck_assert_int_eq(json_integer_value(json_object_get(o, "x")), 5);
    ck_assert_str_eq(json_string_value(json_object_get(o, "id")), "a");
    json_decref(o);
    assert_echo(read_response(0, fd), 1);
    /* Nothing is deferred any more. */
    ck_assert_int_eq(ctl_reply_later(srv, deferred_conn, json_object(), NULL), ERR_NOTFOUND);
    close(fd);
    close(other);
}
END_TEST

START_TEST(ctl_test_deferred_error_half_close_and_gone_client)
{
    rlen[0] = 0;
    deferred_conn = 0;
    int fd = client();
    send_str(fd, "{\"cmd\":\"later\",\"id\":7}\n");
    assert_silent(0, fd, 20);
    ck_assert_int_eq(ctl_reply_later(srv, deferred_conn, NULL, "it failed later"), 0);
    json_t *o = read_response(0, fd);
    ck_assert_int_eq(json_integer_value(json_object_get(o, "id")), 7);
    assert_error(o, "it failed later");
    /* A client that half-closes after its request still gets the reply. */
    send_str(fd, "{\"cmd\":\"later\"}\n");
    shutdown(fd, SHUT_WR);
    assert_silent(0, fd, 20);
    ck_assert_int_eq(ctl_reply_later(srv, deferred_conn, json_pack("{s:i}", "v", 8), NULL), 0);
    assert_echo(read_response(0, fd), 8);
    close(fd);
    /* One that has gone is freed once its reply is written. */
    fd = client();
    send_str(fd, "{\"cmd\":\"later\"}\n");
    assert_silent(0, fd, 20);
    close(fd);
    ck_assert_int_eq(ctl_reply_later(srv, deferred_conn, json_object(), NULL), 0);
    uint64_t deadline = clock_mono_ms() + WAIT_MS;
    while (ctl_client_count(srv) != 0 && clock_mono_ms() < deadline)
        pump();
    ck_assert_uint_eq(ctl_client_count(srv), 0);
}
END_TEST

START_TEST(ctl_test_answer_line_passes_no_connection)
{
    json_t *o = answer("{\"cmd\":\"stream\"}");
    assert_error(o, "unknown command");
}
END_TEST

/* ---- owning the path ---------------------------------------------------------- */

/* The socket file removed under a running server: a second one still may
 * not take the path (the lock is held), so two never both own it. */
START_TEST(ctl_test_second_server_refused_after_socket_removed)
{
    char lock[160];
    snprintf(lock, sizeof(lock), "%s" CTL_LOCK_SUFFIX, path);
    ck_assert_int_eq(access(lock, F_OK), 0);
    ck_assert_int_eq(unlink(path), 0);
    int rc = 0;
    struct ctl *again = ctl_new(base, path, 0600, fake_handler, NULL, NULL, &rc);
    ck_assert_ptr_null(again);
    ck_assert_int_eq(rc, ERR_EXISTS);
    ck_assert_int_ne(access(path, F_OK), 0); /* the refused one made nothing */
}
END_TEST

/* A server removes only the files it made: a socket and a lock file put at
 * its paths by someone else survive its end. */
START_TEST(ctl_test_delete_leaves_files_it_did_not_make)
{
    char lock[160];
    snprintf(lock, sizeof(lock), "%s" CTL_LOCK_SUFFIX, path);
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(unlink(lock), 0);
    /* A second server takes the path now: its files are live. */
    int rc = -1;
    struct ctl *b = ctl_new(base, path, 0600, fake_handler, NULL, NULL, &rc);
    ck_assert_ptr_nonnull(b);
    ctl_delete(srv);
    srv = b; /* for the teardown */
    ck_assert_int_eq(access(path, F_OK), 0);
    ck_assert_int_eq(access(lock, F_OK), 0);
    rlen[0] = 0;
    int fd = client();
    send_str(fd, "{\"cmd\":\"echo\",\"v\":1}\n");
    assert_echo(read_response(0, fd), 1);
    close(fd);
    /* Its own end removes both. */
    ctl_delete(srv);
    ck_assert_int_ne(access(path, F_OK), 0);
    ck_assert_int_ne(access(lock, F_OK), 0);
    srv = ctl_new(base, path, 0600, fake_handler, &calls, NULL, &rc);
    ck_assert_ptr_nonnull(srv);
}
END_TEST

/* ---- who gets in -------------------------------------------------------------- */

/* The next line on fd within WAIT_MS (pumping the server), or NULL at EOF. */
static json_t *line_or_eof(int fd)
{
    char buf[512];
    size_t n = 0;
    uint64_t deadline = clock_mono_ms() + WAIT_MS;
    while (clock_mono_ms() < deadline) {
        pump();
        ssize_t r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
        if (r == 0)
            return NULL;
        if (r > 0)
            n += (size_t)r;
        char *nl = memchr(buf, '\n', n);
        if (nl != NULL)
            return json_loadb(buf, (size_t)(nl - buf), 0, NULL);
        if (r < 0)
            usleep(500);
    }
    ck_abort_msg("nothing on the connection in %d ms", WAIT_MS);
    return NULL;
}

START_TEST(ctl_test_idle_client_closed_streams_kept)
{
    ctl_set_idle_timeout(srv, 200);
    int idle = client();
    rlen[1] = 0;
    int st = client();
    send_str(st, "{\"cmd\":\"stream\"}\n");
    json_decref(read_response(1, st));
    uint64_t t0 = clock_mono_ms();
    json_t *o = line_or_eof(idle);
    ck_assert_ptr_nonnull(o);
    assert_error(o, "idle");
    ck_assert_uint_ge(clock_mono_ms() - t0, 150);
    ck_assert_ptr_null(line_or_eof(idle)); /* then closed */
    struct ctl_stats cs;
    ctl_get_stats(srv, &cs);
    ck_assert_uint_eq(cs.idle_closed, 1);
    ck_assert_uint_eq(ctl_client_count(srv), 1); /* the stream stays */
    close(idle);
    close(st);
}
END_TEST

/* Count the base's events waiting on a timeout. */
static int count_timer(const struct event_base *b, const struct event *ev, void *arg)
{
    (void)b;
    if (event_pending(ev, EV_TIMEOUT, NULL))
        ++*(int *)arg;
    return 0;
}

static int timers_pending(void)
{
    int n = 0;
    event_base_foreach_event(base, count_timer, &n);
    return n;
}

/* The idle sweep is a timer only while someone is connected: a server
 * nobody talks to never wakes the loop. */
START_TEST(ctl_test_no_timer_without_clients)
{
    ck_assert_int_eq(timers_pending(), 0);
    int fd = client();
    send_str(fd, "{\"cmd\":\"echo\",\"v\":1}\n");
    assert_echo(read_response(0, fd), 1);
    ck_assert_int_eq(timers_pending(), 1);
    close(fd);
    uint64_t deadline = clock_mono_ms() + WAIT_MS;
    while (ctl_client_count(srv) > 0 && clock_mono_ms() < deadline)
        pump();
    ck_assert_uint_eq(ctl_client_count(srv), 0);
    ck_assert_int_eq(timers_pending(), 0);
    ctl_set_idle_timeout(srv, 200); /* a new timeout arms nothing either */
    ck_assert_int_eq(timers_pending(), 0);
}
END_TEST

START_TEST(ctl_test_owner_closes_oldest_idle_client_when_full)
{
    int fds[CTL_CLIENTS_MAX];
    for (int i = 0; i < CTL_CLIENTS_MAX; i++) {
        fds[i] = client();
        pump();
    }
    uint64_t deadline = clock_mono_ms() + WAIT_MS;
    while (ctl_client_count(srv) < CTL_CLIENTS_MAX && clock_mono_ms() < deadline)
        pump();
    ck_assert_uint_eq(ctl_client_count(srv), CTL_CLIENTS_MAX);
    /* The test runs as the socket's owner (swimd's user): one more gets in. */
    rlen[0] = 0;
    int fd = client();
    send_str(fd, "{\"cmd\":\"echo\",\"v\":3}\n");
    assert_echo(read_response(0, fd), 3);
    json_t *o = line_or_eof(fds[0]); /* the oldest idle one made room */
    ck_assert_ptr_nonnull(o);
    assert_error(o, "full");
    struct ctl_stats cs;
    ctl_get_stats(srv, &cs);
    ck_assert_uint_eq(cs.evicted, 1);
    for (int i = 0; i < CTL_CLIENTS_MAX; i++)
        close(fds[i]);
    close(fd);
}
END_TEST

/* Run fn(arg) in a child as uid 65534 with primary group gid; 0 when it
 * exited 0.  The server loop is pumped meanwhile. */
static int as_other_user(gid_t gid, int (*fn)(void *), void *arg)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        gid_t none[1] = {gid};
        if (setgroups(1, none) != 0 || setgid(gid) != 0 || setuid(65534) != 0)
            _exit(90);
        _exit(fn(arg));
    }
    int status = 0;
    uint64_t deadline = clock_mono_ms() + WAIT_MS;
    while (waitpid(pid, &status, WNOHANG) == 0 && clock_mono_ms() < deadline) {
        pump();
        usleep(500);
    }
    ck_assert_msg(clock_mono_ms() < deadline, "child did not finish");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* In the child: connect and read the first line into a flag: 0 when it was
 * "permission denied" and the connection ended, 1 when it was served. */
static int try_echo(void *arg)
{
    (void)arg;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%.100s", path);
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
        return 10;
    const char *req = "{\"cmd\":\"echo\",\"v\":5}\n";
    if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
        return 0; /* refused and closed already */
    char buf[256] = "";
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
    if (n > 0 && strstr(buf, "permission denied") != NULL)
        return 0;
    return n > 0 && strstr(buf, "\"v\":5") != NULL ? 1 : 11;
}

START_TEST(ctl_test_peer_credentials_decide_who_gets_in)
{
    if (geteuid() != 0)
        return; /* needs another user to test against */
    /* The file mode lets anyone connect: the credentials must stop them. */
    ck_assert_int_eq(chmod(dir, 0755), 0);
    ck_assert_int_eq(chmod(path, 0666), 0);
    ck_assert_int_eq(as_other_user(4242, try_echo, NULL), 0);
    struct ctl_stats cs;
    ctl_get_stats(srv, &cs);
    ck_assert_uint_eq(cs.refused_peers, 1);
    /* A member of the socket group gets in (its primary group here). */
    ck_assert_int_eq(ctl_set_group(srv, 4242), 0);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(st.st_gid, 4242);
    ck_assert_int_eq(as_other_user(4242, try_echo, NULL), 1);
    ck_assert_int_eq(as_other_user(4243, try_echo, NULL), 0);
}
END_TEST

/* In the child: hold `*n` connections open until the parent's pipe closes,
 * reporting on the other pipe how many got a "too many" line. */
struct flood {
    int n;
    int done[2], go[2];
};

static int flood_connect(void *arg)
{
    struct flood *f = arg;
    int fds[CTL_CLIENTS_MAX + 8], refused = 0;
    for (int i = 0; i < f->n; i++) {
        fds[i] = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        snprintf(sun.sun_path, sizeof(sun.sun_path), "%.100s", path);
        if (connect(fds[i], (struct sockaddr *)&sun, sizeof(sun)) != 0)
            return 10;
    }
    usleep(500 * 1000); /* the parent answers meanwhile */
    for (int i = 0; i < f->n; i++) {
        char buf[128] = "";
        ssize_t r = recv(fds[i], buf, sizeof(buf) - 1, MSG_DONTWAIT);
        refused += r > 0 && strstr(buf, "too many") != NULL;
    }
    char c = (char)refused;
    if (write(f->done[1], &c, 1) != 1)
        return 11;
    if (read(f->go[0], &c, 1) < 0) /* until the parent is done */
        return 12;
    return 0;
}

/* Group members fill what they may; the last slots stay the owner's. */
START_TEST(ctl_test_reserved_slots_keep_the_owner_in)
{
    if (geteuid() != 0)
        return;
    ck_assert_int_eq(chmod(dir, 0755), 0);
    ck_assert_int_eq(chmod(path, 0660), 0);
    ck_assert_int_eq(ctl_set_group(srv, 4242), 0);
    struct flood f = {.n = CTL_CLIENTS_MAX};
    ck_assert_int_eq(pipe(f.done), 0);
    ck_assert_int_eq(pipe(f.go), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        gid_t g[1] = {4242};
        if (setgroups(1, g) != 0 || setgid(4242) != 0 || setuid(65534) != 0)
            _exit(90);
        close(f.go[1]);
        _exit(flood_connect(&f));
    }
    close(f.go[0]);
    char refused = -1;
    uint64_t deadline = clock_mono_ms() + WAIT_MS;
    fcntl(f.done[0], F_SETFL, O_NONBLOCK);
    while (read(f.done[0], &refused, 1) != 1 && clock_mono_ms() < deadline) {
        pump();
        usleep(500);
    }
    ck_assert_int_eq(refused, CTL_CLIENTS_RESERVED);
    ck_assert_uint_eq(ctl_client_count(srv), CTL_CLIENTS_MAX - CTL_CLIENTS_RESERVED);
    /* The owner still gets in, all the way to the last slot and beyond. */
    int fds[CTL_CLIENTS_RESERVED + 1];
    for (int i = 0; i <= CTL_CLIENTS_RESERVED; i++) {
        rlen[0] = 0;
        fds[i] = client();
        send_str(fds[i], "{\"cmd\":\"echo\",\"v\":9}\n");
        assert_echo(read_response(0, fds[i]), 9);
    }
    struct ctl_stats cs;
    ctl_get_stats(srv, &cs);
    ck_assert_uint_eq(cs.evicted, 1); /* a group member's idle connection */
    ck_assert_uint_eq(cs.refused_full, CTL_CLIENTS_RESERVED);
    close(f.go[1]);
    int status;
    waitpid(pid, &status, 0);
    for (int i = 0; i <= CTL_CLIENTS_RESERVED; i++)
        close(fds[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ctl");
    TCase *pure = tcase_create("protocol");
    tcase_add_test(pure, ctl_test_answer_success_has_ok_and_id);
    tcase_add_test(pure, ctl_test_answer_rejects_malformed_requests);
    suite_add_tcase(s, pure);
    TCase *live = tcase_create("server");
    tcase_add_checked_fixture(live, srv_setup, srv_teardown);
    tcase_set_timeout(live, 30);
    tcase_add_test(live, ctl_test_socket_mode_applied);
    tcase_add_test(live, ctl_test_malformed_line_keeps_connection);
    tcase_add_test(live, ctl_test_oversized_line_rejected_then_usable);
    tcase_add_test(live, ctl_test_pipelined_requests_answered_in_order);
    tcase_add_test(live, ctl_test_abrupt_disconnect_leaves_others_served);
    tcase_add_test(live, ctl_test_half_close_still_answered);
    tcase_add_test(live, ctl_test_last_line_without_newline_answered_at_eof);
    tcase_add_test(live, ctl_test_one_shot_client_served_in_the_accepting_turn);
    tcase_add_test(live, ctl_test_client_silent_at_accept_served_later);
    tcase_add_test(live, ctl_test_live_socket_not_replaced);
    tcase_add_test(live, ctl_test_stale_socket_replaced);
    tcase_add_test(live, ctl_test_second_server_refused_after_socket_removed);
    tcase_add_test(live, ctl_test_delete_leaves_files_it_did_not_make);
    tcase_add_test(live, ctl_test_idle_client_closed_streams_kept);
    tcase_add_test(live, ctl_test_no_timer_without_clients);
    tcase_add_test(live, ctl_test_owner_closes_oldest_idle_client_when_full);
    tcase_add_test(live, ctl_test_peer_credentials_decide_who_gets_in);
    tcase_add_test(live, ctl_test_reserved_slots_keep_the_owner_in);
    tcase_add_test(live, ctl_test_stream_lines_follow_reply_then_close);
    tcase_add_test(live, ctl_test_stream_client_gone_runs_close_hook);
    tcase_add_test(live, ctl_test_stream_unread_grows_then_drain_hook);
    tcase_add_test(live, ctl_test_stream_ctl_delete_runs_close_hook);
    tcase_add_test(live, ctl_test_deferred_reply_keeps_request_order);
    tcase_add_test(live, ctl_test_deferred_error_half_close_and_gone_client);
    tcase_add_test(pure, ctl_test_answer_line_passes_no_connection);
    suite_add_tcase(s, live);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
