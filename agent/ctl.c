/*
 * ctl.c - see ctl.h.
 *
 * Each client is a bufferevent plus a "resume" event.  The read callback
 * answers up to CTL_LINES_PER_WAKEUP complete lines; if more are buffered it
 * activates the resume event, which runs in a later loop turn after other
 * ready events.  Output above CTL_OUTPUT_MAX disables reading until the
 * write callback sees it drained.  Oversized lines switch the client into a
 * discarding state that drops input up to the next newline, then answers
 * one error for the whole line.
 *
 * A new client's events are enabled only after the accept callback has
 * read what it already sent (ctl_answer_early()): a one-shot client such
 * as swimctl, whose request and EOF are usually there by then, is answered
 * with one write and freed in that same callback.
 *
 * Streaming: while a request callback runs, lines it sends for its own
 * connection go to a side buffer (`held`) that is appended to the output
 * after the reply.  A closing connection reads nothing more; it is freed by
 * the write callback once its output is empty, or by the resume event when
 * it already was.  Nothing is freed from inside a public ctl_conn_* call, so
 * a caller's state stays valid until its close hook runs.
 */
#include "ctl.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "listen_pause.h"
#include "sockpath.h"
#include "text.h"

/* Pending connections the kernel may queue for us. */
#define CTL_BACKLOG 16
/* Input buffered per client before reading pauses: above CTL_LINE_MAX, so an
 * oversized line is always detected and discarded. */
#define CTL_READ_HIGH (2 * CTL_LINE_MAX)
/* Refusal log lines: at most this many per window, so a local user who
 * connects in a loop cannot flood the log. */
#define CTL_REFUSE_LOG_BURST 5
#define CTL_REFUSE_LOG_WINDOW_MS 10000
/* A new client's input read at once by the accept callback: more than one
 * request line of any command swimctl sends. */
#define CTL_EARLY_READ 4096
/* Supplementary groups of a peer read at once (SO_PEERGROUPS); more are
 * read into a buffer sized by the kernel's answer. */
#define CTL_PEER_GROUPS 64

struct ctl_conn {
    struct ctl *ctl;
    struct bufferevent *bev;
    struct event *resume;
    LIST_ENTRY(ctl_conn) link;
    struct evbuffer *held; /* lines sent during this connection's request callback */
    uint64_t id;
    uint64_t last_ms;    /* monotonic time of the last line read or answer written */
    int owner;           /* root or swimd's own user: may use the reserved slots */
    int discarding;      /* inside an oversized line */
    int eof;             /* the client half-closed: answer, flush, close */
    int closing;         /* ctl_conn_close(): flush, then free */
    int in_request;      /* inside the request callback for this connection */
    int deferred;        /* a request waits for ctl_reply_later(): answer nothing else */
    json_t *deferred_id; /* that request's "id" (a reference), or NULL */
    ctl_close_f on_close;
    ctl_drain_f on_drain;
    void *hook_arg;
};

struct ctl {
    struct event_base *base;
    struct evconnlistener *listener;
    struct listen_pause pause; /* after accept() runs out of descriptors */
    ctl_request_f handler;
    void *ctx;
    struct log *log;
    LIST_HEAD(, ctl_conn) clients; /* newest first */
    size_t nclients;
    uint64_t next_id;
    struct ctl_stats stats;
    struct log_limit refuse_limit;
    struct event *sweep; /* closes idle clients */
    uint32_t idle_ms;
    long gid;           /* --socket-group, -1 for none */
    uid_t uid;          /* swimd's own user */
    struct sockpath sp; /* the path, owned for the life of the ctl */
};

/* o as one compact line with its newline (malloc'd), or NULL when out of
 * memory.  o is released. */
static char *ctl_dump_line(json_t *o)
{
    if (o == NULL)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    if (s == NULL)
        return NULL;
    size_t n = strlen(s);
    char *line = realloc(s, n + 2);
    if (line == NULL) {
        free(s);
        return NULL;
    }
    line[n] = '\n';
    line[n + 1] = '\0';
    return line;
}

static char *ctl_error_line(const char *msg, json_t *id)
{
    json_t *o = json_object();
    json_t *e = json_string(msg);
    if (e == NULL) { /* a message quoting bytes that are not UTF-8 */
        char safe[CTL_ERR_MAX * TEXT_ESCAPE_RATIO];
        text_escape(safe, sizeof(safe), msg, strlen(msg));
        e = json_string(safe);
    }
    if (o == NULL || e == NULL) {
        json_decref(o);
        json_decref(e);
        return NULL;
    }
    json_object_set_new(o, "error", e);
    if (id != NULL)
        json_object_set(o, "id", id);
    return ctl_dump_line(o);
}

/* The response line for a handler's result: reply (taken) with "ok" and the
 * request's "id", or, when reply is NULL, the error message. */
static char *ctl_reply_line(json_t *reply, const char *err, json_t *id)
{
    if (reply == NULL)
        return ctl_error_line(err != NULL && err[0] != '\0' ? err : "request failed", id);
    json_object_set_new(reply, "ok", json_true());
    if (id != NULL)
        json_object_set(reply, "id", id);
    return ctl_dump_line(reply);
}

/* Answer one line.  NULL when out of memory, or when the handler deferred
 * its reply (conn->deferred is then set and the request's id kept). */
static char *ctl_answer(const char *line, size_t len, ctl_request_f handler, void *ctx,
                        struct ctl_conn *conn)
{
    json_error_t jerr;
    if (len > CTL_LINE_MAX)
        return ctl_error_line("request line too long", NULL);
    json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (req == NULL) {
        char msg[CTL_ERR_MAX];
        snprintf(msg, sizeof(msg), "malformed JSON at column %d: %s", jerr.column, jerr.text);
        return ctl_error_line(msg, NULL);
    }
    char *out = NULL;
    json_t *id = json_is_object(req) ? json_object_get(req, "id") : NULL;
    json_t *cmd = json_is_object(req) ? json_object_get(req, "cmd") : NULL;
    if (!json_is_object(req)) {
        out = ctl_error_line("request must be a JSON object", NULL);
    } else if (!json_is_string(cmd)) {
        out = ctl_error_line("request needs a string \"cmd\"", id);
    } else {
        char err[CTL_ERR_MAX] = "";
        json_t *reply = handler(ctx, conn, json_string_value(cmd), req, err);
        if (conn != NULL && conn->deferred) { /* ctl_conn_defer(): answered later */
            json_decref(reply);
            conn->deferred_id = id != NULL ? json_incref(id) : NULL;
        } else {
            out = ctl_reply_line(reply, err, id);
        }
    }
    json_decref(req);
    return out;
}

char *ctl_answer_line(const char *line, size_t len, ctl_request_f handler, void *ctx)
{
    return ctl_answer(line, len, handler, ctx, NULL);
}

/* Check for idle clients a few times per timeout, while there are any
 * (an agent nobody talks to is not woken for them). */
static void ctl_arm_sweep(struct ctl *c)
{
    event_del(c->sweep);
    if (c->nclients == 0)
        return;
    struct timeval tv = clock_tv(c->idle_ms / 4 > 0 ? c->idle_ms / 4 : 1);
    event_add(c->sweep, &tv);
}

static void ctl_client_free(struct ctl_conn *cl)
{
    struct ctl *c = cl->ctl;
    cl->closing = 1; /* the hook may not send any more */
    if (cl->on_close != NULL) {
        ctl_close_f hook = cl->on_close;
        cl->on_close = NULL;
        hook(cl->hook_arg, cl);
    }
    LIST_REMOVE(cl, link);
    if (--c->nclients == 0)
        event_del(c->sweep); /* nobody to sweep: no wakeups while idle */
    json_decref(cl->deferred_id);
    event_free(cl->resume);
    if (cl->held != NULL)
        evbuffer_free(cl->held);
    bufferevent_free(cl->bev); /* closes the socket (BEV_OPT_CLOSE_ON_FREE) */
    free(cl);
    log_msg(c->log, LOG_DEBUG, "ctl client closed clients=%zu", c->nclients);
}

static void ctl_send(struct ctl_conn *cl, char *line)
{
    if (line == NULL)
        line = ctl_error_line("out of memory", NULL);
    if (line == NULL)
        return;
    bufferevent_write(cl->bev, line, strlen(line));
    free(line);
}

/* Answer up to CTL_LINES_PER_WAKEUP buffered lines; returns 1 if the client
 * was freed. */
static int ctl_client_process(struct ctl_conn *cl)
{
    struct evbuffer *in = bufferevent_get_input(cl->bev);
    struct evbuffer *out = bufferevent_get_output(cl->bev);
    if (cl->closing || cl->deferred)
        return 0; /* a deferred reply resumes processing when it is given */
    for (int n = 0; n < CTL_LINES_PER_WAKEUP; n++) {
        if (evbuffer_get_length(out) > CTL_OUTPUT_MAX) {
            bufferevent_disable(cl->bev, EV_READ); /* resumed by the write callback */
            return 0;
        }
        struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
        size_t have = evbuffer_get_length(in);
        size_t len, consume;
        if (eol.pos >= 0) {
            len = (size_t)eol.pos;
            consume = len + 1;
        } else if (cl->eof && have > 0 && have <= CTL_LINE_MAX && !cl->discarding) {
            /* The client hung up after a last request without a newline
             * (printf ... | nc -U): answer it as if it had one. */
            len = have;
            consume = have;
        } else {
            if (have > CTL_LINE_MAX) {
                if (!cl->discarding)
                    ctl_send(cl, ctl_error_line("request line too long", NULL));
                cl->discarding = 1;
                evbuffer_drain(in, have);
            }
            break;
        }
        if (cl->discarding) {
            evbuffer_drain(in, consume);
            cl->discarding = 0;
            continue;
        }
        if (len > CTL_LINE_MAX) {
            evbuffer_drain(in, consume);
            ctl_send(cl, ctl_error_line("request line too long", NULL));
            continue;
        }
        char *line = (char *)evbuffer_pullup(in, (ev_ssize_t)consume);
        if (line == NULL && consume > 0)
            break;
        if (len > 0 && line[len - 1] == '\r')
            len--;
        cl->in_request = 1;
        char *answer = ctl_answer(line, len, cl->ctl->handler, cl->ctl->ctx, cl);
        cl->in_request = 0;
        evbuffer_drain(in, consume);
        if (cl->deferred)
            return 0; /* nothing more until ctl_reply_later() */
        ctl_send(cl, answer);
        if (cl->held != NULL && evbuffer_get_length(cl->held) > 0)
            evbuffer_add_buffer(out, cl->held); /* after the reply, as promised */
        if (cl->closing)
            break;
    }
    if (cl->closing) {
        if (evbuffer_get_length(out) == 0)
            event_active(cl->resume, 0, 0);
        return 0;
    }
    struct evbuffer_ptr more = evbuffer_search_eol(in, NULL, NULL, EVBUFFER_EOL_LF);
    if (more.pos >= 0) {
        event_active(cl->resume, 0, 0); /* the rest in a later turn */
        return 0;
    }
    if (cl->eof && evbuffer_get_length(out) == 0) {
        ctl_client_free(cl);
        return 1;
    }
    return 0;
}

static void ctl_on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct ctl_conn *cl = arg;
    if (cl->closing) {
        if (evbuffer_get_length(bufferevent_get_output(cl->bev)) == 0)
            ctl_client_free(cl);
        return;
    }
    if (evbuffer_get_length(bufferevent_get_output(cl->bev)) <= CTL_OUTPUT_MAX)
        ctl_client_process(cl);
}

static void ctl_on_read(struct bufferevent *bev, void *arg)
{
    (void)bev;
    struct ctl_conn *cl = arg;
    cl->last_ms = clock_mono_ms();
    ctl_client_process(cl);
}

/* The client's output has been written (all of it, or down to what the
 * write watermark allows): free a closing or finished client, else read
 * and answer what waits and tell a stream.  Returns 1 if it was freed. */
static int ctl_client_written(struct ctl_conn *cl)
{
    struct bufferevent *bev = cl->bev;
    cl->last_ms = clock_mono_ms();
    if (cl->closing) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
            return 0;
        ctl_client_free(cl);
        return 1;
    }
    if (cl->eof) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0 && !cl->deferred &&
            evbuffer_search_eol(bufferevent_get_input(bev), NULL, NULL, EVBUFFER_EOL_LF).pos < 0) {
            ctl_client_free(cl);
            return 1;
        }
        event_active(cl->resume, 0, 0);
        return 0;
    }
    /* Output drained: read again and answer what is waiting. */
    bufferevent_enable(bev, EV_READ);
    event_active(cl->resume, 0, 0);
    if (cl->on_drain != NULL && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        cl->on_drain(cl->hook_arg, cl); /* may send or close; frees nothing now */
    return 0;
}

static void ctl_on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    ctl_client_written(arg);
}

static void ctl_on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct ctl_conn *cl = arg;
    if (what & BEV_EVENT_ERROR) {
        ctl_client_free(cl);
        return;
    }
    if (what & BEV_EVENT_EOF) {
        if (cl->on_close != NULL) { /* a stream's client has gone */
            ctl_client_free(cl);
            return;
        }
        cl->eof = 1;
        ctl_client_process(cl);
    }
}

/* ---- who gets in ---- */

/* What SO_PEERCRED and SO_PEERGROUPS say about a peer. */
struct ctl_peer {
    struct ucred cred;
    int allowed; /* root, the owner or a member of the group */
    int owner;   /* root or the owner */
};

/* 1 when gid is among fd's peer's supplementary groups. */
static int ctl_peer_in_group(int fd, gid_t gid)
{
    gid_t some[CTL_PEER_GROUPS], *groups = some;
    socklen_t len = sizeof(some);
    int found = 0;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0) {
        if (errno != ERANGE || (groups = malloc(len)) == NULL)
            return 0;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
            len = 0;
    }
    for (size_t i = 0; i < len / sizeof(gid_t) && !found; i++)
        found = groups[i] == gid;
    if (groups != some)
        free(groups);
    return found;
}

static void ctl_peer_read(const struct ctl *c, int fd, struct ctl_peer *p)
{
    socklen_t len = sizeof(p->cred);
    memset(p, 0, sizeof(*p));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &p->cred, &len) != 0) {
        p->cred.uid = (uid_t)-1; /* unknown: nobody */
        p->cred.gid = (gid_t)-1;
        return;
    }
    p->owner = p->cred.uid == 0 || p->cred.uid == c->uid;
    p->allowed =
        p->owner ||
        (c->gid >= 0 && (p->cred.gid == (gid_t)c->gid || ctl_peer_in_group(fd, (gid_t)c->gid)));
}

/* Answer one error line on fd without blocking, and close it. */
static void ctl_turn_away(evutil_socket_t fd, const char *line)
{
    ssize_t w = send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    evutil_closesocket(fd);
}

/* Idle: not a stream, no reply pending, nothing buffered either way. */
static int ctl_client_idle(const struct ctl_conn *cl)
{
    return cl->on_close == NULL && !cl->deferred && !cl->closing && !cl->in_request &&
           evbuffer_get_length(bufferevent_get_input(cl->bev)) == 0 &&
           evbuffer_get_length(bufferevent_get_output(cl->bev)) == 0;
}

/* The oldest idle client, a group member's before the owner's; NULL if none. */
static struct ctl_conn *ctl_oldest_idle(struct ctl *c)
{
    struct ctl_conn *cl, *pick = NULL;
    LIST_FOREACH(cl, &c->clients, link) /* newest first: the last match is the oldest */
    if (ctl_client_idle(cl) && (pick == NULL || !cl->owner || pick->owner))
        pick = cl;
    return pick;
}

/* Tell an idle client why and close it. */
static void ctl_close_idle(struct ctl_conn *cl, const char *why)
{
    ctl_send(cl, ctl_error_line(why, NULL));
    ctl_conn_close(cl);
}

/* Slots taken: clients not closing (a closing one is on its way out: its
 * output is flushed, or dropped by the sweep after the idle timeout). */
static size_t ctl_slots_used(const struct ctl *c)
{
    size_t n = 0;
    const struct ctl_conn *cl;
    LIST_FOREACH(cl, &c->clients, link)
    n += !cl->closing;
    return n;
}

/* May a client of this kind take a slot now?  Makes room for the owner. */
static int ctl_room_for(struct ctl *c, int owner)
{
    size_t used = ctl_slots_used(c);
    if (used < CTL_CLIENTS_MAX - CTL_CLIENTS_RESERVED || (owner && used < CTL_CLIENTS_MAX))
        return 1;
    struct ctl_conn *victim = owner ? ctl_oldest_idle(c) : NULL;
    if (victim == NULL)
        return 0;
    c->stats.evicted++;
    log_msg(c->log, LOG_WARN, "ctl closed idle client conn=%llu to make room for the owner",
            (unsigned long long)victim->id);
    ctl_close_idle(victim, "closed: the control socket is full and this connection was idle");
    return 1;
}

static void ctl_log_refusal(struct ctl *c, const struct ctl_peer *p, const char *why)
{
    uint64_t suppressed = 0;
    if (log_limit_allow(&c->refuse_limit, clock_mono_ms(), &suppressed))
        log_msg(c->log, LOG_WARN,
                "ctl refused a client: %s (uid=%ld gid=%ld pid=%ld) suppressed=%llu", why,
                (long)(int)p->cred.uid, (long)(int)p->cred.gid, (long)p->cred.pid,
                (unsigned long long)suppressed);
}

/*
 * A new client's first requests, answered from the accept callback when
 * they are already there: swimctl connects, sends its line and shuts down
 * its writing side, and the kernel usually has all of that before swimd
 * runs.  Read what is waiting (and whether the client's EOF is behind it),
 * answer it, and write the answers straight to the socket, so a one-shot
 * client is served and freed in the wake-up that accepted it rather than
 * over four more turns of the loop (read, write, write done, EOF).  Runs
 * before the bufferevent's events are enabled; what is not finished here
 * goes on through them.  Returns 1 if the client was freed.
 */
static int ctl_answer_early(struct ctl_conn *cl, evutil_socket_t fd)
{
    char buf[CTL_EARLY_READ], peek;
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n <= 0)
        return 0; /* nothing yet: the loop reads it (or its EOF or error) */
    /* A socket bufferevent keeps the end of its input and the start of its
     * output frozen except while it reads or writes itself: this does the
     * same, the same way. */
    struct evbuffer *in = bufferevent_get_input(cl->bev);
    evbuffer_unfreeze(in, 0);
    int added = evbuffer_add(in, buf, (size_t)n);
    evbuffer_freeze(in, 0);
    if (added != 0) {
        ctl_client_free(cl); /* out of memory, and the bytes are gone */
        return 1;
    }
    cl->eof = recv(fd, &peek, 1, MSG_DONTWAIT | MSG_PEEK) == 0;
    if (ctl_client_process(cl))
        return 1;
    struct evbuffer *out = bufferevent_get_output(cl->bev);
    if (evbuffer_get_length(out) == 0)
        return 0;
    evbuffer_unfreeze(out, 1);
    int wrote = evbuffer_write(out, fd);
    evbuffer_freeze(out, 1);
    if (wrote <= 0 || evbuffer_get_length(out) > 0)
        return 0; /* the rest waits for the socket (an error shows there too) */
    return ctl_client_written(cl);
}

static void ctl_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                          int salen, void *arg)
{
    (void)l;
    (void)sa;
    (void)salen;
    struct ctl *c = arg;
    struct ctl_peer peer;
    ctl_peer_read(c, fd, &peer);
    if (!peer.allowed) {
        c->stats.refused_peers++;
        ctl_log_refusal(c, &peer, "not root, swimd's user or in the socket group");
        ctl_turn_away(fd, "{\"error\":\"permission denied\"}\n");
        return;
    }
    if (!ctl_room_for(c, peer.owner)) {
        c->stats.refused_full++;
        ctl_log_refusal(c, &peer, "too many control clients");
        ctl_turn_away(fd, "{\"error\":\"too many control clients\"}\n");
        return;
    }
    struct ctl_conn *cl = calloc(1, sizeof(*cl));
    if (cl == NULL) {
        evutil_closesocket(fd);
        return;
    }
    cl->ctl = c;
    cl->id = ++c->next_id;
    cl->owner = peer.owner;
    cl->last_ms = clock_mono_ms();
    cl->bev = bufferevent_socket_new(c->base, fd, BEV_OPT_CLOSE_ON_FREE);
    cl->resume = event_new(c->base, -1, 0, ctl_on_resume, cl);
    if (cl->bev == NULL || cl->resume == NULL) {
        if (cl->bev != NULL)
            bufferevent_free(cl->bev);
        else
            evutil_closesocket(fd);
        if (cl->resume != NULL)
            event_free(cl->resume);
        free(cl);
        return;
    }
    bufferevent_setcb(cl->bev, ctl_on_read, ctl_on_write, ctl_on_event, cl);
    /* Stop reading a client whose unanswered input already exceeds what a
     * request may be, so a flood is held in the kernel, not in our heap. */
    bufferevent_setwatermark(cl->bev, EV_READ, 0, CTL_READ_HIGH);
    bufferevent_disable(cl->bev, EV_WRITE); /* on from birth; enabled below */
    LIST_INSERT_HEAD(&c->clients, cl, link);
    if (c->nclients++ == 0)
        ctl_arm_sweep(c);
    log_msg(c->log, LOG_DEBUG, "ctl client connected clients=%zu uid=%ld", c->nclients,
            (long)(int)peer.cred.uid);
    if (ctl_answer_early(cl, fd))
        return; /* served and freed */
    /* Reading pauses while closing or above CTL_OUTPUT_MAX, as in
     * ctl_client_process() and ctl_conn_close(). */
    short what = EV_WRITE;
    if (!cl->closing && evbuffer_get_length(bufferevent_get_output(cl->bev)) <= CTL_OUTPUT_MAX)
        what |= EV_READ;
    bufferevent_enable(cl->bev, what);
}

static void ctl_on_accept_error(struct evconnlistener *l, void *arg)
{
    (void)l;
    struct ctl *c = arg;
    listen_pause_on_error(&c->pause, errno);
}

/* Close the clients idle for longer than the timeout, and free those that
 * were closed that long ago and still have not taken their last output. */
static void ctl_on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct ctl *c = arg;
    uint64_t now = clock_mono_ms();
    struct ctl_conn *cl = LIST_FIRST(&c->clients), *next;
    for (; cl != NULL; cl = next) {
        next = LIST_NEXT(cl, link);
        if (now - cl->last_ms < c->idle_ms)
            continue;
        if (cl->closing && !cl->in_request) {
            ctl_client_free(cl); /* its client stopped reading */
        } else if (ctl_client_idle(cl)) {
            c->stats.idle_closed++;
            log_msg(c->log, LOG_DEBUG, "ctl client conn=%llu idle for %ums: closed",
                    (unsigned long long)cl->id, (unsigned)c->idle_ms);
            ctl_close_idle(cl, "idle timeout: closed");
        }
    }
}

struct ctl *ctl_new(struct event_base *base, const char *path, unsigned mode, ctl_request_f handler,
                    void *ctx, struct log *lg, int *rc)
{
    size_t plen = strlen(path);
    struct ctl *c = NULL;
    if (plen == 0 || plen >= sizeof(c->sp.path)) {
        *rc = ERR_INVAL;
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        *rc = ERR_NOMEM;
        return NULL;
    }
    c->base = base;
    LIST_INIT(&c->clients);
    c->handler = handler;
    c->ctx = ctx;
    c->log = lg;
    c->sp.lock_fd = -1;
    c->gid = -1;
    c->uid = geteuid();
    c->idle_ms = CTL_IDLE_DEFAULT_MS;
    log_limit_create(&c->refuse_limit, CTL_REFUSE_LOG_WINDOW_MS, CTL_REFUSE_LOG_BURST);
    int fd = -1;
    *rc = sockpath_claim(&c->sp, path);
    if (*rc == 0) {
        fd = sockpath_listen(&c->sp, mode, CTL_BACKLOG);
        *rc = fd >= 0 ? 0 : ERR_SYS;
    }
    c->sweep = *rc == 0 ? event_new(base, -1, EV_PERSIST, ctl_on_sweep, c) : NULL;
    c->listener = c->sweep != NULL
                      ? evconnlistener_new(base, ctl_on_accept, c, LEV_OPT_CLOSE_ON_FREE, -1, fd)
                      : NULL;
    if (c->listener == NULL || listen_pause_create(&c->pause, base, c->listener, "ctl", lg) != 0) {
        int e = errno;
        if (c->listener != NULL) {
            evconnlistener_free(c->listener); /* closes fd */
            *rc = ERR_NOMEM;
        } else if (*rc == 0) { /* listening, but out of memory for the rest */
            close(fd);
            *rc = ERR_NOMEM;
        }
        if (c->sweep != NULL)
            event_free(c->sweep);
        sockpath_release(&c->sp);
        free(c);
        errno = e;
        return NULL;
    }
    evconnlistener_set_error_cb(c->listener, ctl_on_accept_error);
    return c; /* the sweep is armed by the first client */
}

void ctl_delete(struct ctl *c)
{
    if (c == NULL)
        return;
    while (!LIST_EMPTY(&c->clients))
        ctl_client_free(LIST_FIRST(&c->clients));
    listen_pause_destroy(&c->pause);
    evconnlistener_free(c->listener);
    event_free(c->sweep);
    sockpath_release(&c->sp);
    free(c);
}

size_t ctl_client_count(const struct ctl *c)
{
    return c->nclients;
}

int ctl_set_group(struct ctl *c, long gid)
{
    if (gid >= 0 && chown(c->sp.path, (uid_t)-1, (gid_t)gid) != 0)
        return ERR_SYS;
    c->gid = gid;
    return 0;
}

void ctl_set_idle_timeout(struct ctl *c, uint32_t ms)
{
    c->idle_ms = ms > 0 ? ms : CTL_IDLE_DEFAULT_MS;
    ctl_arm_sweep(c);
}

void ctl_get_stats(const struct ctl *c, struct ctl_stats *out)
{
    *out = c->stats;
}

/* ---- streaming connections ---- */

uint64_t ctl_conn_id(const struct ctl_conn *conn)
{
    return conn->id;
}

void ctl_conn_set_hooks(struct ctl_conn *conn, ctl_close_f close, ctl_drain_f drain, void *arg)
{
    conn->on_close = close;
    conn->on_drain = drain;
    conn->hook_arg = arg;
}

int ctl_conn_send_line(struct ctl_conn *conn, const char *line, size_t len)
{
    if (conn->closing)
        return ERR_CLOSED;
    struct evbuffer *to = bufferevent_get_output(conn->bev);
    if (conn->in_request) {
        if (conn->held == NULL && (conn->held = evbuffer_new()) == NULL)
            return ERR_NOMEM;
        to = conn->held;
    }
    if (evbuffer_expand(to, len + 1) != 0)
        return ERR_NOMEM;
    evbuffer_add(to, line, len);
    evbuffer_add(to, "\n", 1);
    return 0;
}

int ctl_conn_send_json(struct ctl_conn *conn, const json_t *value)
{
    char *s = json_dumps(value, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    if (s == NULL)
        return ERR_NOMEM;
    int rc = ctl_conn_send_line(conn, s, strlen(s));
    free(s);
    return rc;
}

size_t ctl_conn_unread(const struct ctl_conn *conn)
{
    size_t n = evbuffer_get_length(bufferevent_get_output(conn->bev));
    if (conn->held != NULL)
        n += evbuffer_get_length(conn->held);
    return n;
}

void ctl_conn_close(struct ctl_conn *conn)
{
    if (conn->closing)
        return;
    conn->closing = 1;
    conn->last_ms = clock_mono_ms(); /* the sweep drops it if it never drains */
    bufferevent_disable(conn->bev, EV_READ);
    /* Freed by the write callback once flushed, or by the resume event. */
    if (!conn->in_request && evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0)
        event_active(conn->resume, 0, 0);
}

/* ---- deferred replies ---- */

int ctl_conn_defer(struct ctl_conn *conn)
{
    if (conn == NULL || !conn->in_request || conn->deferred || conn->closing)
        return ERR_STATE;
    conn->deferred = 1;
    return 0;
}

int ctl_reply_later(struct ctl *c, uint64_t conn_id, json_t *reply, const char *err)
{
    struct ctl_conn *cl;
    LIST_FOREACH(cl, &c->clients, link)
    if (cl->id == conn_id)
        break;
    if (cl == NULL || !cl->deferred || cl->closing) {
        json_decref(reply);
        return ERR_NOTFOUND;
    }
    json_t *id = cl->deferred_id;
    cl->deferred_id = NULL;
    cl->deferred = 0;
    cl->last_ms = clock_mono_ms();
    ctl_send(cl, ctl_reply_line(reply, err, id));
    json_decref(id);
    if (cl->held != NULL && evbuffer_get_length(cl->held) > 0)
        evbuffer_add_buffer(bufferevent_get_output(cl->bev), cl->held);
    event_active(cl->resume, 0, 0); /* the requests that waited behind it */
    return 0;
}
