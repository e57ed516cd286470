/*
 * metrics_http.c - see metrics_http.h.
 *
 * A connection lives through three phases, each waiting on one event of its
 * socket with a deadline:
 *
 *   reading    recv() into head[] and ask http_req_parse() after each read,
 *              until it decides; the whole head within METRICS_HTTP_TIMEOUT_S
 *              of the accept (a deadline, not an idle timer, so a client
 *              sending a byte now and then gains nothing);
 *   writing    the answer, made whole at once in an evbuffer, written as the
 *              socket takes it, all of it within METRICS_HTTP_TIMEOUT_S;
 *   lingering  our side shut down (the client sees the end of the answer),
 *              whatever it still sends is read and dropped until it closes,
 *              for at most METRICS_HTTP_LINGER_MS: closing a socket with
 *              unread input makes the kernel send a reset, and a reset can
 *              destroy the answer before the client has read it (a body, or
 *              the rest of an oversized head, would do that);
 *
 * then it is closed.  An idle or silent client is closed at its deadline,
 * without an answer.
 *
 * At the cap the listener is disabled (listen_pause_hold()) rather than
 * accepting and closing at once: connections beyond the cap wait in the
 * kernel's queue (METRICS_HTTP_BACKLOG) and are served in turn as slots
 * free, so a scraper behind a burst is delayed by at most the timeout
 * instead of refused, and a client opening connections in a loop costs
 * swimd no wake-up at all.
 */
#include "metrics_http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"
#include "clock.h"
#include "err.h"
#include "http_req.h"
#include "listen_pause.h"
#include "metrics.h"

/* Connections the kernel queues while the listener is at the cap or
 * paused: what evhttp asked for before. */
#define METRICS_HTTP_BACKLOG 128
/* How long a client may take to close after the answer: one that reads
 * the answer closes within a round trip. */
#define METRICS_HTTP_LINGER_MS 1000
/* Reads of METRICS_HTTP_DRAIN_BYTES per wake-up while lingering, so one
 * client that keeps sending cannot hold the loop. */
#define METRICS_HTTP_LINGER_READS 4
#define METRICS_HTTP_DRAIN_BYTES 4096
/* The endpoint takes at most 1/METRICS_HTTP_FD_SHARE of the descriptor
 * limit, leaving the rest to everything else swimd does. */
#define METRICS_HTTP_FD_SHARE 4

enum metrics_phase { METRICS_READING, METRICS_WRITING, METRICS_LINGERING };

struct metrics_conn {
    struct metrics_http *m;
    LIST_ENTRY(metrics_conn) link;
    evutil_socket_t fd;
    struct event *ev;
    struct evbuffer *out; /* the answer, once made */
    enum metrics_phase phase;
    uint64_t deadline_ms; /* of the phase */
    struct http_req req;
    size_t len;
    char head[METRICS_HTTP_HEADERS_MAX];
};

struct metrics_http {
    struct event_base *base;
    struct evconnlistener *listener;
    struct listen_pause pause;
    const struct control_env *env;
    struct log *log;
    LIST_HEAD(, metrics_conn) conns;
    size_t nconns;
    size_t conns_max;
    char addr[ADDR_TEXT_MAX];
};

static void metrics_conn_on_event(evutil_socket_t fd, short what, void *arg);

/* A read or write that failed for now only. */
static int metrics_http_retry(int e)
{
    return e == EAGAIN || e == EWOULDBLOCK || e == EINTR;
}

static void metrics_conn_close(struct metrics_conn *c)
{
    struct metrics_http *m = c->m;
    LIST_REMOVE(c, link);
    event_free(c->ev);
    evutil_closesocket(c->fd);
    if (c->out != NULL)
        evbuffer_free(c->out);
    free(c);
    if (m->nconns-- == m->conns_max)
        listen_pause_hold(&m->pause, 0);
}

/* Wait for `what` on the socket until the phase's deadline. */
static void metrics_conn_wait(struct metrics_conn *c, short what)
{
    uint64_t now = clock_mono_ms();
    uint64_t left = c->deadline_ms > now ? c->deadline_ms - now : 0;
    struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
    /* The event is not pending here (it fires once), so it may be reset. */
    if (event_assign(c->ev, c->m->base, c->fd, what, metrics_conn_on_event, c) != 0 ||
        event_add(c->ev, &tv) != 0)
        metrics_conn_close(c);
}

static void metrics_conn_linger(struct metrics_conn *c)
{
    char drop[METRICS_HTTP_DRAIN_BYTES];
    for (int i = 0; i < METRICS_HTTP_LINGER_READS; i++) {
        ssize_t n = recv(c->fd, drop, sizeof(drop), 0);
        if (n > 0)
            continue;
        if (n < 0 && metrics_http_retry(errno))
            break;
        metrics_conn_close(c); /* the client closed, or an error */
        return;
    }
    metrics_conn_wait(c, EV_READ);
}

static void metrics_conn_write(struct metrics_conn *c)
{
    if (evbuffer_write(c->out, c->fd) < 0 && !metrics_http_retry(errno)) {
        metrics_conn_close(c);
        return;
    }
    if (evbuffer_get_length(c->out) > 0) {
        metrics_conn_wait(c, EV_WRITE);
        return;
    }
    shutdown(c->fd, SHUT_WR);
    c->phase = METRICS_LINGERING;
    c->deadline_ms = clock_mono_ms() + METRICS_HTTP_LINGER_MS;
    metrics_conn_linger(c);
}

/* The HTTP date of now, as a Date header wants it. */
static void metrics_http_date(char *out, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0)
        snprintf(out, cap, "Thu, 01 Jan 1970 00:00:00 GMT");
}

/*
 * Make the answer to a head that http_req_parse() judged with rc into
 * c->out: status line, headers, body.  0 or ERR_NOMEM.
 */
static int metrics_conn_answer(struct metrics_conn *c, int rc)
{
    struct evbuffer *body = evbuffer_new();
    c->out = evbuffer_new();
    if (body == NULL || c->out == NULL) {
        if (body != NULL)
            evbuffer_free(body);
        return ERR_NOMEM;
    }
    int code = 200, fail = 0;
    const char *reason = "OK", *allow = "";
    if (rc == ERR_TOOBIG) {
        code = 431;
        reason = "Request Header Fields Too Large";
        fail =
            evbuffer_add_printf(body, "request head over %d bytes\n", METRICS_HTTP_HEADERS_MAX) < 0;
    } else if (rc != 0) {
        code = 400;
        reason = "Bad Request";
        fail = evbuffer_add_printf(body, "bad request\n") < 0;
    } else if (!http_req_path_is(&c->req, METRICS_HTTP_PATH)) {
        code = 404;
        reason = "Not Found";
        fail = evbuffer_add_printf(body, "not found: only %s is served\n", METRICS_HTTP_PATH) < 0;
    } else if (!http_req_method_is(&c->req, "GET")) {
        code = 405;
        reason = "Method Not Allowed";
        allow = "Allow: GET\r\n";
        fail = evbuffer_add_printf(body, "method not allowed: use GET\n") < 0;
    } else if (metrics_render(c->m->env, body) != 0) {
        evbuffer_drain(body, evbuffer_get_length(body));
        code = 500;
        reason = "Internal Server Error";
        fail = evbuffer_add_printf(body, "out of memory\n") < 0;
    }
    const char *type = code == 200 ? METRICS_CONTENT_TYPE : "text/plain; charset=utf-8";
    char date[64];
    metrics_http_date(date, sizeof(date));
    fail =
        fail || evbuffer_add_printf(c->out,
                                    "HTTP/1.1 %d %s\r\nDate: %s\r\nContent-Type: %s\r\n"
                                    "Content-Length: %zu\r\n%sConnection: close\r\n\r\n",
                                    code, reason, date, type, evbuffer_get_length(body), allow) < 0;
    fail = fail || evbuffer_add_buffer(c->out, body) != 0;
    evbuffer_free(body);
    return fail ? ERR_NOMEM : 0;
}

static void metrics_conn_read(struct metrics_conn *c)
{
    ssize_t n = recv(c->fd, c->head + c->len, sizeof(c->head) - c->len, 0);
    if (n == 0 || (n < 0 && !metrics_http_retry(errno))) {
        metrics_conn_close(c); /* gone before its head was complete */
        return;
    }
    c->len += n > 0 ? (size_t)n : 0;
    int rc = http_req_parse(&c->req, c->head, c->len, sizeof(c->head));
    if (rc == ERR_AGAIN) {
        metrics_conn_wait(c, EV_READ);
        return;
    }
    if (metrics_conn_answer(c, rc) != 0) {
        metrics_conn_close(c);
        return;
    }
    c->phase = METRICS_WRITING;
    c->deadline_ms = clock_mono_ms() + METRICS_HTTP_TIMEOUT_S * 1000;
    metrics_conn_write(c);
}

static void metrics_conn_on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    struct metrics_conn *c = arg;
    if (what & EV_TIMEOUT) {
        metrics_conn_close(c);
        return;
    }
    switch (c->phase) {
    case METRICS_READING:
        metrics_conn_read(c);
        break;
    case METRICS_WRITING:
        metrics_conn_write(c);
        break;
    case METRICS_LINGERING:
        metrics_conn_linger(c);
        break;
    }
}

static void metrics_http_on_accept(struct evconnlistener *l, evutil_socket_t fd,
                                   struct sockaddr *sa, int salen, void *arg)
{
    (void)l;
    (void)sa;
    (void)salen;
    struct metrics_http *m = arg;
    struct metrics_conn *c = m->nconns < m->conns_max ? calloc(1, sizeof(*c)) : NULL;
    if (c != NULL)
        c->ev = event_new(m->base, fd, EV_READ, metrics_conn_on_event, c);
    if (c == NULL || c->ev == NULL) {
        free(c); /* out of memory, or (never, as it is held there) past the cap */
        evutil_closesocket(fd);
        return;
    }
    c->m = m;
    c->fd = fd;
    c->phase = METRICS_READING;
    c->deadline_ms = clock_mono_ms() + METRICS_HTTP_TIMEOUT_S * 1000;
    http_req_init(&c->req);
    LIST_INSERT_HEAD(&m->conns, c, link);
    if (++m->nconns == m->conns_max)
        listen_pause_hold(&m->pause, 1);
    metrics_conn_wait(c, EV_READ);
}

static void metrics_http_on_accept_error(struct evconnlistener *l, void *arg)
{
    (void)l;
    struct metrics_http *m = arg;
    listen_pause_on_error(&m->pause, errno);
}

/* METRICS_HTTP_CONNS_MAX, or a share of a lower descriptor limit. */
static size_t metrics_http_conns_max(void)
{
    struct rlimit rl;
    size_t max = METRICS_HTTP_CONNS_MAX;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        rl.rlim_cur / METRICS_HTTP_FD_SHARE < max)
        max = (size_t)(rl.rlim_cur / METRICS_HTTP_FD_SHARE);
    return max > 0 ? max : 1;
}

/* The address the listening socket really has ("?" if unknown). */
static void metrics_http_bound_text(struct evconnlistener *l, char *out)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &len) != 0) {
        snprintf(out, ADDR_TEXT_MAX, "?");
        return;
    }
    addr_format_sockaddr((struct sockaddr *)&ss, out);
}

struct metrics_http *metrics_http_new(struct event_base *base, const char *hostport,
                                      const struct control_env *env, struct log *lg, char *err,
                                      size_t errlen)
{
    char host[ADDR_HOST_MAX];
    uint16_t port;
    if (addr_split(hostport, -1, host, &port) != 0) {
        snprintf(err, errlen, "metrics \"%s\": expected HOST:PORT", hostport);
        return NULL;
    }
    struct sockaddr_storage ss;
    size_t count = 0;
    if (addr_resolve(hostport, -1, 0, &ss, 1, &count) != 0) {
        snprintf(err, errlen, "metrics %s: cannot listen: address not usable", hostport);
        return NULL;
    }
    struct metrics_http *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->base = base;
    m->env = env;
    m->log = lg;
    m->conns_max = metrics_http_conns_max();
    LIST_INIT(&m->conns);
    socklen_t sslen =
        ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    errno = 0;
    m->listener =
        evconnlistener_new_bind(base, metrics_http_on_accept, m,
                                LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE,
                                METRICS_HTTP_BACKLOG, (struct sockaddr *)&ss, (int)sslen);
    if (m->listener == NULL) {
        snprintf(err, errlen, "metrics %s: cannot listen: %s", hostport,
                 errno != 0 ? strerror(errno) : "address not usable");
        free(m);
        return NULL;
    }
    evconnlistener_set_error_cb(m->listener, metrics_http_on_accept_error);
    if (listen_pause_create(&m->pause, base, m->listener, "metrics", lg) != 0) {
        snprintf(err, errlen, "out of memory");
        metrics_http_delete(m);
        return NULL;
    }
    metrics_http_bound_text(m->listener, m->addr);
    log_msg(lg, LOG_INFO, "metrics listening on http://%s%s (connections max=%zu)", m->addr,
            METRICS_HTTP_PATH, m->conns_max);
    return m;
}

const char *metrics_http_address(const struct metrics_http *m)
{
    return m->addr;
}

void metrics_http_delete(struct metrics_http *m)
{
    if (m == NULL)
        return;
    while (!LIST_EMPTY(&m->conns))
        metrics_conn_close(LIST_FIRST(&m->conns));
    listen_pause_destroy(&m->pause);
    evconnlistener_free(m->listener);
    free(m);
}
