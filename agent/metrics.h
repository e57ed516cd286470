/*
 * metrics.h - swimd's numbers in Prometheus's text exposition format 0.0.4.
 *
 * Model: metrics_render() reads every part of swimd through the control
 * environment (the core's and the runtime's counters, the member table, the
 * event bus, the streams, the handler runner, the control socket's request
 * counts) at the moment it is called, and writes one complete exposition:
 * a "# HELP" and a "# TYPE" line per family, then its samples.  Nothing is
 * kept between two calls, so the same text serves the HTTP endpoint
 * (metrics_http.h) and the control command "metrics" (swimctl metrics).
 *
 * Names carry the swimd_ prefix, values are in base units (seconds,
 * bytes), counters end in _total; the families are listed in metrics.c and
 * in the README.  Label values are escaped as the format requires
 * (backslash, double quote and newline), and bytes that are not UTF-8 or
 * are control characters (only a node name can hold them) become U+FFFD,
 * so no input can break a line or the parser.
 *
 * Threads: none; call it on the loop's thread (it reads the core).
 */
#ifndef AGENT_METRICS_H
#define AGENT_METRICS_H

#include <stddef.h>

struct evbuffer;
struct control_env;

/* The Content-Type of the exposition. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Append the whole exposition to out.  0, or ERR_NOMEM (out then holds
 * part of it and should be discarded). */
int metrics_render(const struct control_env *env, struct evbuffer *out);

/* Append `value` (len bytes) to out as the inside of a label value:
 * escaped, control bytes and invalid UTF-8 replaced by U+FFFD.  0 or
 * ERR_NOMEM.  Public for its unit test. */
int metrics_label_value(struct evbuffer *out, const char *value, size_t len);

#endif /* AGENT_METRICS_H */
