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
 * request to a ctl_request_f given at creation (swimd's command table,
 * control.h), which either returns a reply object or fills an error
 * message.
 *
 * Fairness and bounds: at most CTL_LINES_PER_WAKEUP requests are answered per
 * wakeup of one client (the rest go on in a later loop turn), a client whose
 * unread responses exceed CTL_OUTPUT_MAX is not read from until it catches
 * up, and at most CTL_CLIENTS_MAX clients are served at once.  A client that
 * floods, stalls or disconnects mid-line costs only its own buffers.  When
 * accept() fails for want of descriptors or memory, accepting pauses for
 * LISTEN_PAUSE_MS (listen_pause.h) rather than spinning on the failure.
 *
 * Who gets in.  The socket file's mode is a first fence; the peer's
 * credentials (SO_PEERCRED) are the real one: root, the user swimd runs as
 * (its owner) and members of the group given to ctl_set_group() (primary or
 * supplementary, SO_PEERGROUPS) are served; anyone else gets one error line,
 * is closed and is logged (rate-limited).  The last CTL_CLIENTS_RESERVED
 * slots are for the owner only, and an owner who finds every slot taken
 * closes the oldest idle client (group members' first) to get one.  A
 * client that is not a stream, has no reply pending and has sent nothing
 * for the idle timeout (CTL_IDLE_DEFAULT_MS, ctl_set_idle_timeout()) is
 * told so and closed, so idle connections cannot keep others out (a
 * timer looks a few times per timeout, armed only while a client is
 * connected: a server nobody talks to sets no timer).
 *
 * Owning the path.  Two servers never both believe they own a path: the
 * server holds an exclusive flock(2) on PATH.lock (CTL_LOCK_SUFFIX) for its
 * whole life, so a second one refuses to start even if the socket file has
 * been removed meanwhile.  It removes only what it made: the socket file
 * and the lock file are unlinked at the end only while they are still the
 * files (device and inode) it created; a file someone else put at the path
 * is left alone.
 * A client that half-closes (sends EOF after its requests) still gets every
 * response before the server closes its side; a last request cut short by
 * the EOF is answered as if its newline had been sent.
 *
 * Streaming.  A request callback gets the connection's handle (struct
 * ctl_conn) and may keep it to send more lines later (`watch`, `monitor`):
 * ctl_conn_send_line() queues one line, ctl_conn_unread() says how much
 * output the client has not read yet (backpressure: the sender stops
 * producing above its own threshold and resumes from the drain hook), and
 * ctl_conn_close() ends the connection once its output is flushed.  Lines
 * sent from inside the request callback are written after that request's
 * reply, so a reply always comes first.  A connection with hooks set is a
 * stream: an EOF from the client closes it at once (a streaming client that
 * stops sending has gone), and the close hook runs exactly once, when the
 * connection is freed for any reason (client gone, write error,
 * ctl_conn_close(), ctl_delete()); the handle is invalid after it returns.
 * Other requests on a streaming connection are still answered, between
 * stream lines.
 *
 * Deferred replies.  A request callback that cannot answer at once (a join
 * that waits for a name lookup) calls ctl_conn_defer() and returns NULL; the
 * reply is given later with ctl_reply_later(), from any loop callback.  Until
 * then nothing else on that connection is answered, so replies stay in
 * request order.  A client that half-closed still gets the reply; one that
 * has gone is freed once the reply fails to be written (or at once, for a
 * stream), and a reply for a connection already freed is dropped.
 *
 * libevent writes to sockets without MSG_NOSIGNAL, so a process using this
 * module must ignore SIGPIPE (swimd does, in main) or a client that hangs up
 * before reading its answer would kill it.
 */
#ifndef AGENT_CTL_H
#define AGENT_CTL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "sockpath.h"

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
/* Of those, slots only the owner (root or swimd's user) may take, so group
 * members cannot lock the owner out. */
#define CTL_CLIENTS_RESERVED 8
/* A non-streaming client silent this long is closed: long enough for any
 * script between two requests, short enough that idle connections cannot
 * keep the socket full for long. */
#define CTL_IDLE_DEFAULT_MS 60000
/* The lock file next to the socket: PATH + this. */
#define CTL_LOCK_SUFFIX SOCKPATH_LOCK_SUFFIX
/* Longest error text in a response. */
#define CTL_ERR_MAX 256

/* One client connection of a server (see "Streaming"). */
struct ctl_conn;

/*
 * Handle one request: `cmd` is the request's "cmd", `req` the whole object
 * (borrowed), `conn` the connection it came on (NULL from
 * ctl_answer_line()).  Return a new object for a success reply (ownership
 * passes to the caller), or NULL with a message in err[0..CTL_ERR_MAX) for an
 * error reply.  Called from the event loop; it may do anything but delete
 * the ctl.
 */
typedef json_t *(*ctl_request_f)(void *ctx, struct ctl_conn *conn, const char *cmd, json_t *req,
                                 char *err);
/* The connection is being freed (runs once; do not use conn afterwards). */
typedef void (*ctl_close_f)(void *arg, struct ctl_conn *conn);
/* The connection's output has drained: everything sent was written. */
typedef void (*ctl_drain_f)(void *arg, struct ctl_conn *conn);

/*
 * Turn one request line (without its newline) into the response line (with
 * the newline), as the server does, with no connection (conn is NULL).  The
 * returned string is malloc'd and owned by the caller; NULL only when out of
 * memory.
 */
char *ctl_answer_line(const char *line, size_t len, ctl_request_f handler, void *ctx);

struct ctl;

/*
 * Listen at `path` with permissions `mode` (see "Owning the path": the lock
 * file PATH.lock is made and locked first).  A stale socket file (no one
 * listening) is replaced; a live one or a non-socket file is not.
 * Returns NULL and sets *rc: ERR_EXISTS (in use: the lock is held, someone
 * listens, or the path is not a socket), ERR_INVAL (path too long), ERR_SYS
 * (errno kept), ERR_NOMEM.
 */
struct ctl *ctl_new(struct event_base *base, const char *path, unsigned mode, ctl_request_f handler,
                    void *ctx, struct log *lg, int *rc);
/* Close every client, stop listening, remove the socket file and the lock
 * file (each only if it is still the one this ctl made), release the lock. */
void ctl_delete(struct ctl *c);
/* Clients currently connected. */
size_t ctl_client_count(const struct ctl *c);
/* Admit members of group gid (and give the socket file that group).  0, or
 * ERR_SYS (chown failed; errno kept). */
int ctl_set_group(struct ctl *c, long gid);
/* Close non-streaming clients idle for ms (0: CTL_IDLE_DEFAULT_MS). */
void ctl_set_idle_timeout(struct ctl *c, uint32_t ms);

/* What the server refused or closed, for `info`; a plain value. */
struct ctl_stats {
    uint64_t refused_peers; /* not root, the owner or in the group */
    uint64_t refused_full;  /* no slot for them */
    uint64_t idle_closed;   /* closed by the idle timeout */
    uint64_t evicted;       /* idle clients closed to make room for the owner */
};
void ctl_get_stats(const struct ctl *c, struct ctl_stats *out);

/* ---- streaming connections ---- */

/* The connection's id: unique for the life of the ctl, from 1.  Never fails. */
uint64_t ctl_conn_id(const struct ctl_conn *conn);
/*
 * Make conn a stream: close(arg, conn) runs once when it is freed, and
 * drain(arg, conn) (may be NULL) each time its output has been fully written.
 * Setting them again replaces them.
 */
void ctl_conn_set_hooks(struct ctl_conn *conn, ctl_close_f close, ctl_drain_f drain, void *arg);
/*
 * Queue one line (len bytes without the newline; the newline is added).
 * Never blocks; the output grows without limit here, so a sender checks
 * ctl_conn_unread().  0, ERR_CLOSED (ctl_conn_close() was called) or
 * ERR_NOMEM.
 */
int ctl_conn_send_line(struct ctl_conn *conn, const char *line, size_t len);
/* As ctl_conn_send_line() with a JSON value, written compact on one line. */
int ctl_conn_send_json(struct ctl_conn *conn, const json_t *value);
/* Output bytes queued and not yet written to the client. */
size_t ctl_conn_unread(const struct ctl_conn *conn);
/*
 * End the connection: nothing more is read from it or may be sent, what is
 * queued is written, then it is freed (the close hook runs from a later
 * loop turn, never from inside this call).  Repeating is a no-op.
 */
void ctl_conn_close(struct ctl_conn *conn);

/* ---- deferred replies ---- */

/*
 * From inside the request callback for conn: this request will be answered
 * by ctl_reply_later(conn's id, ...); the callback then returns NULL (what
 * it writes to err is ignored).  0, or ERR_STATE (not inside conn's request
 * callback, already deferred, or closing; the callback must answer now).
 */
int ctl_conn_defer(struct ctl_conn *conn);
/*
 * Answer the deferred request of connection conn_id: reply (taken; "ok" and
 * the request's "id" are added) or, when reply is NULL, an error reply with
 * err.  The connection then goes on with the requests that waited.  0, or
 * ERR_NOTFOUND (the connection has gone or has nothing deferred; reply is
 * released).
 */
int ctl_reply_later(struct ctl *c, uint64_t conn_id, json_t *reply, const char *err);

#endif /* AGENT_CTL_H */
