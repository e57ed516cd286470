/*
 * metrics_http.c - see metrics_http.h.
 */
#include "metrics_http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "metrics.h"

/* Every method evhttp knows: those it is not allowed to pass on it answers
 * itself with 501, and a scraper with the wrong method should read 405. */
#define METRICS_HTTP_METHODS                                                                       \
    (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |     \
     EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH)

struct metrics_http {
    struct evhttp *http;
    const struct control_env *env;
    struct log *log;
    char addr[ADDR_TEXT_MAX];
};

/* A short plain-text answer that ends the connection. */
static void metrics_http_reply(struct evhttp_request *req, int code, const char *reason,
                               struct evbuffer *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Connection", "close");
    if (evhttp_find_header(h, "Content-Type") == NULL)
        evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
    evhttp_send_reply(req, code, reason, body);
}

static void metrics_http_on_request(struct evhttp_request *req, void *arg)
{
    struct metrics_http *m = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    struct evbuffer *body = evbuffer_new();
    if (body == NULL) {
        evhttp_send_error(req, HTTP_INTERNAL, NULL);
        return;
    }
    if (path == NULL || strcmp(path, METRICS_HTTP_PATH) != 0) {
        evbuffer_add_printf(body, "not found: only %s is served\n", METRICS_HTTP_PATH);
        metrics_http_reply(req, HTTP_NOTFOUND, "Not Found", body);
    } else if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
        evbuffer_add_printf(body, "method not allowed: use GET\n");
        metrics_http_reply(req, 405, "Method Not Allowed", body);
    } else if (metrics_render(m->env, body) != 0) {
        evbuffer_drain(body, evbuffer_get_length(body));
        evbuffer_add_printf(body, "out of memory\n");
        metrics_http_reply(req, HTTP_INTERNAL, "Internal Server Error", body);
    } else {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                          METRICS_CONTENT_TYPE);
        metrics_http_reply(req, HTTP_OK, "OK", body);
    }
    evbuffer_free(body);
}

/* The address the bound socket really has ("?" if unknown). */
static void metrics_http_bound_text(struct evhttp_bound_socket *bound, char *out)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    struct swim_addr a;
    evutil_socket_t fd = evhttp_bound_socket_get_fd(bound);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
        addr_from_sockaddr(&a, (struct sockaddr *)&ss) != 0) {
        snprintf(out, ADDR_TEXT_MAX, "?");
        return;
    }
    addr_format(&a, out);
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
    struct metrics_http *m = calloc(1, sizeof(*m));
    if (m == NULL || (m->http = evhttp_new(base)) == NULL) {
        free(m);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->env = env;
    m->log = lg;
    evhttp_set_timeout(m->http, METRICS_HTTP_TIMEOUT_S);
    evhttp_set_max_headers_size(m->http, METRICS_HTTP_HEADERS_MAX);
    evhttp_set_max_body_size(m->http, METRICS_HTTP_BODY_MAX);
    evhttp_set_allowed_methods(m->http, METRICS_HTTP_METHODS);
    evhttp_set_gencb(m->http, metrics_http_on_request, m);
    errno = 0;
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(m->http, host, port);
    if (bound == NULL) {
        snprintf(err, errlen, "metrics %s: cannot listen: %s", hostport,
                 errno != 0 ? strerror(errno) : "address not usable");
        metrics_http_delete(m);
        return NULL;
    }
    metrics_http_bound_text(bound, m->addr);
    log_msg(lg, LOG_INFO, "metrics listening on http://%s%s", m->addr, METRICS_HTTP_PATH);
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
    evhttp_free(m->http);
    free(m);
}
