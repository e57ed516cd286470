/*
 * metrics_http.h - the Prometheus endpoint: GET /metrics over HTTP.
 *
 * Model: a struct metrics_http is a small HTTP/1.x responder on the loop,
 * listening on --metrics HOST:PORT with its own evconnlistener (libevent
 * 2.1's evhttp has no connection cap, and it owns its listener's callback
 * argument, so no pause on accept errors could be added to it).  GET
 * /metrics (any query string is ignored) answers 200 with metrics_render()'s
 * text; any other path is 404, any other method on /metrics is 405 (with
 * "Allow: GET"), a malformed head 400, a head over METRICS_HTTP_HEADERS_MAX
 * 431.  Every answer says "Connection: close" and ends its connection, so a
 * scrape costs one connection that ends with it; what a client sends after
 * the head (a body) is read and dropped, never interpreted.  The head is
 * checked by http_req.h's parser.
 *
 * What a client can hold is bounded.  Connections: at most
 * METRICS_HTTP_CONNS_MAX open at once, and never more than a quarter of the
 * descriptor limit (RLIMIT_NOFILE), so the control socket, handlers and the
 * snapshot keep theirs; at the cap the listener stops accepting, and new
 * connections wait in the kernel's queue until one closes.  Time: the head
 * must arrive within METRICS_HTTP_TIMEOUT_S of the accept and the answer be
 * taken within METRICS_HTTP_TIMEOUT_S more, or the connection is closed.
 * Memory: the head buffer of each connection and its one answer.  If
 * accept() fails for want of descriptors or memory, accepting pauses
 * (listen_pause.h) rather than spinning.  The endpoint has no
 * authentication; it reveals counters and the node's name, nothing more,
 * but bind it to an interface only the scraper reaches: a client that holds
 * the cap's worth of idle connections delays scrapes by up to the timeout.
 *
 * Threads: none; everything runs on the loop's thread.
 */
#ifndef AGENT_METRICS_HTTP_H
#define AGENT_METRICS_HTTP_H

#include <stddef.h>

#include "log.h"

struct event_base;
struct control_env;

/* A slow or idle scraper's connection is closed after this long (to send
 * its head, then again to take the answer); a scrape on loopback or a LAN
 * takes milliseconds. */
#define METRICS_HTTP_TIMEOUT_S 5
/* Largest request head accepted: a scraper sends a few short headers. */
#define METRICS_HTTP_HEADERS_MAX 8192
/* Connections open at once: a Prometheus server scrapes over one at a time
 * and a few servers or people may look at once, so 64 is ample, and it
 * bounds the endpoint to 64 descriptors and 64 head buffers (512 KiB). */
#define METRICS_HTTP_CONNS_MAX 64
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
