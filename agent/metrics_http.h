/*
 * metrics_http.h - the Prometheus endpoint: GET /metrics over HTTP.
 *
 * Model: a struct metrics_http is one libevent evhttp server on the loop,
 * listening on --metrics HOST:PORT.  GET /metrics (any query string is
 * ignored) answers 200 with metrics_render()'s text; any other path is 404,
 * any other method on /metrics is 405 (with "Allow: GET").  Every reply
 * closes its connection, so a scrape costs one connection that ends with
 * it.  What a client can hold is bounded: headers to METRICS_HTTP_HEADERS_MAX
 * bytes, a body to METRICS_HTTP_BODY_MAX, and a connection that stays idle
 * or slow for METRICS_HTTP_TIMEOUT_S is closed; libevent 2.1 has no cap on
 * the number of connections (evhttp_set_max_connections() is 2.2), so that
 * number is bounded by the accept rate times the timeout: bind the endpoint
 * to an interface only the scraper reaches.  The endpoint has no
 * authentication; it reveals counters and the node's name, nothing more.
 *
 * Threads: none; everything runs on the loop's thread.
 */
#ifndef AGENT_METRICS_HTTP_H
#define AGENT_METRICS_HTTP_H

#include <stddef.h>

#include "log.h"

struct event_base;
struct control_env;

/* A slow or idle scraper's connection is closed after this long; a scrape
 * on loopback or a LAN takes milliseconds. */
#define METRICS_HTTP_TIMEOUT_S 5
/* Largest request head accepted: a scraper sends a few short headers. */
#define METRICS_HTTP_HEADERS_MAX 8192
/* Largest request body accepted: a GET carries none. */
#define METRICS_HTTP_BODY_MAX 1024
/* The one path served. */
#define METRICS_HTTP_PATH "/metrics"

struct metrics_http;

/*
 * Listen on hostport ("HOST:PORT", "[V6]:PORT"; port 0 picks one) and serve
 * env (borrowed; it must outlive the server).  Logs the address it listens
 * on.  NULL with one line in err when the address is bad or taken.
 */
struct metrics_http *metrics_http_new(struct event_base *base, const char *hostport,
                                      const struct control_env *env, struct log *lg, char *err,
                                      size_t errlen);
/* The address listened on, "HOST:PORT" (the real port when 0 was asked). */
const char *metrics_http_address(const struct metrics_http *m);
/* Close every connection and stop listening.  NULL is a no-op. */
void metrics_http_delete(struct metrics_http *m);

#endif /* AGENT_METRICS_HTTP_H */
