/*
 * ctl.h - the control socket: newline-delimited JSON over a Unix stream socket.
 *
 * Model: one request per line, one response per line, in order.  A request
 * is a JSON object with a string member "cmd" and command-specific members;
 * an optional "id" (any JSON value) is echoed back in the response.  A
 * successful response is an object with "ok": true plus the command's
 * members; a failed one is {"error": "..."}.  A line that is not JSON, not
 * an object, has no "cmd", names an unknown command or is longer than
 * CTL_LINE_MAX gets an error response and the connection stays usable (an
 * oversized line is discarded up to its newline).
 *
 * The server knows nothing about commands: it hands every well-formed
 * request to a ctl_request_f given at creation (the runtime), which either
 * returns a reply object or fills an error message.
 *
 * Fairness and bounds: at most CTL_LINES_PER_WAKEUP requests are answered per
 * wakeup of one client (the rest go on in a later loop turn), a client whose
 * unread responses exceed CTL_OUTPUT_MAX is not read from until it catches
 * up, and at most CTL_CLIENTS_MAX clients are served at once.  A client that
 * floods, stalls or disconnects mid-line costs only its own buffers.
 * A client that half-closes (sends EOF after its requests) still gets every
 * response before the server closes its side; a last request cut short by
 * the EOF is answered as if its newline had been sent.
 *
 * libevent writes to sockets without MSG_NOSIGNAL, so a process using this
 * module must ignore SIGPIPE (swimd does, in main) or a client that hangs up
 * before reading its answer would kill it.
 */
#ifndef AGENT_CTL_H
#define AGENT_CTL_H

#include <jansson.h>
#include <stddef.h>

#include "log.h"

struct event_base;

/* Longest request line: a tags-set of every possible tag fits many times. */
#define CTL_LINE_MAX 65536
/* Requests answered per client wakeup, so one flooding client cannot starve
 * the UDP socket or the other clients. */
#define CTL_LINES_PER_WAKEUP 64
/* Unread response bytes held for one client before reading from it stops. */
#define CTL_OUTPUT_MAX (1024 * 1024)
/* Concurrent clients; more are answered with an error and closed. */
#define CTL_CLIENTS_MAX 64
/* Longest error text in a response. */
#define CTL_ERR_MAX 256

/*
 * Handle one request: `cmd` is the request's "cmd", `req` the whole object
 * (borrowed).  Return a new object for a success reply (ownership passes to
 * the caller), or NULL with a message in err[0..CTL_ERR_MAX) for an error
 * reply.  Called from the event loop; it may do anything but delete the ctl.
 */
typedef json_t *(*ctl_request_f)(void *ctx, const char *cmd, json_t *req, char *err);

/*
 * Turn one request line (without its newline) into the response line (with
 * the newline), as the server does.  The returned string is malloc'd and
 * owned by the caller; NULL only when out of memory.
 */
char *ctl_answer_line(const char *line, size_t len, ctl_request_f handler, void *ctx);

struct ctl;

/*
 * Listen at `path` with permissions `mode`.  A stale socket file (no one
 * listening) is replaced; a live one or a non-socket file is not.
 * Returns NULL and sets *rc: ERR_EXISTS (in use / not a socket),
 * ERR_INVAL (path too long), ERR_SYS (errno kept), ERR_NOMEM.
 */
struct ctl *ctl_new(struct event_base *base, const char *path, unsigned mode, ctl_request_f handler,
                    void *ctx, struct log *lg, int *rc);
/* Close every client, stop listening and remove the socket file. */
void ctl_delete(struct ctl *c);
/* Clients currently connected. */
size_t ctl_client_count(const struct ctl *c);

#endif /* AGENT_CTL_H */
