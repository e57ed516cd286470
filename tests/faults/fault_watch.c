/*
 * fault_watch.c - see fault_watch.h.
 */
#include "fault_watch.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Most watchers polled at once (a 100-agent cluster's survivors). */
#define FAULT_WATCH_POLL_MAX FAULT_NODES_MAX
/* Reads per watcher per poll: bounds one turn when a stream is busy. */
#define FAULT_WATCH_READS 16

static void fault_watch_close(struct fault_watch *w)
{
    if (w->fd >= 0)
        close(w->fd);
    w->fd = -1;
    w->used = 0;
}

/* Start watching node nd; waits for the reply.  0, or -1 (w->fd stays -1). */
static int fault_watch_open(struct fault_watch *w, const struct fault_node *nd, const char *types)
{
    w->fd = -1;
    w->used = 0;
    json_t *req = json_pack("{s:s,s:s}", "cmd", "watch", "types", types);
    char *line = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    int fd = line != NULL ? fault_ctl_connect(nd) : -1;
    int ok = fd >= 0 && send(fd, line, strlen(line), MSG_NOSIGNAL) == (ssize_t)strlen(line) &&
             send(fd, "\n", 1, MSG_NOSIGNAL) == 1;
    free(line);
    /* The reply line, byte by byte so that no event after it is consumed
     * (bounded: the socket has a receive timeout, the line a length). */
    char reply[512];
    size_t n = 0;
    while (ok && n < sizeof(reply) - 1) {
        if (recv(fd, &reply[n], 1, 0) != 1) {
            ok = 0;
            break;
        }
        if (reply[n++] == '\n')
            break;
    }
    reply[n] = '\0';
    json_t *r = ok ? json_loads(reply, 0, NULL) : NULL;
    ok = json_object_get(r, "ok") == json_true();
    json_decref(r);
    if (!ok || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    w->fd = fd;
    return 0;
}

/* Parse one line; 0 when it is a member event. */
static int fault_watch_parse(const char *line, struct fault_event *ev)
{
    json_t *o = json_loads(line, 0, NULL);
    const char *type = json_string_value(json_object_get(o, "type"));
    const char *name = json_string_value(json_object_get(o, "name"));
    int rc = -1;
    if (type != NULL && name != NULL) {
        snprintf(ev->type, sizeof(ev->type), "%s", type);
        snprintf(ev->name, sizeof(ev->name), "%s", name);
        ev->generation = (uint64_t)json_integer_value(json_object_get(o, "generation"));
        ev->incarnation = (uint32_t)json_integer_value(json_object_get(o, "incarnation"));
        rc = 0;
    }
    json_decref(o);
    return rc;
}

/* Read what watcher idx has and hand its complete lines to fn. */
static int fault_watch_drain(struct fault_watch *w, size_t idx, fault_event_f fn, void *ctx)
{
    int events = 0;
    for (int reads = 0; reads < FAULT_WATCH_READS && w->fd >= 0; reads++) {
        ssize_t r = recv(w->fd, w->buf + w->used, sizeof(w->buf) - 1 - w->used, 0);
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            break;
        if (r <= 0) {
            fault_watch_close(w);
            break;
        }
        w->used += (size_t)r;
        w->buf[w->used] = '\0';
        char *start = w->buf, *nl;
        while ((nl = strchr(start, '\n')) != NULL) {
            *nl = '\0';
            struct fault_event ev;
            if (fault_watch_parse(start, &ev) == 0) {
                fn(ctx, idx, &ev);
                events++;
            }
            start = nl + 1;
        }
        w->used -= (size_t)(start - w->buf);
        memmove(w->buf, start, w->used);
        if (w->used == sizeof(w->buf) - 1)
            w->used = 0; /* a line longer than the buffer: not an event we read */
    }
    return events;
}

int fault_watch_poll(struct fault_watch *ws, size_t n, int timeout_ms, fault_event_f fn, void *ctx)
{
    struct pollfd pfd[FAULT_WATCH_POLL_MAX];
    if (n > FAULT_WATCH_POLL_MAX)
        n = FAULT_WATCH_POLL_MAX;
    for (size_t i = 0; i < n; i++) {
        pfd[i].fd = ws[i].fd; /* poll skips negative descriptors */
        pfd[i].events = POLLIN;
        pfd[i].revents = 0;
    }
    if (poll(pfd, (nfds_t)n, timeout_ms < 0 ? 0 : timeout_ms) <= 0)
        return 0;
    int events = 0;
    for (size_t i = 0; i < n; i++)
        if (pfd[i].revents != 0)
            events += fault_watch_drain(&ws[i], i, fn, ctx);
    return events;
}

void fault_watch_delete(struct fault_watch *ws, size_t n)
{
    for (size_t i = 0; ws != NULL && i < n; i++)
        fault_watch_close(&ws[i]);
    free(ws);
}

struct fault_watch *fault_watch_new(const struct fault_cluster *c, const char *types, int skip,
                                    char *err, size_t cap)
{
    struct fault_watch *ws = calloc(c->n, sizeof(*ws));
    if (ws == NULL) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < c->n; i++)
        ws[i].fd = -1;
    for (size_t i = 0; i < c->n; i++) {
        if ((int)i != skip && fault_watch_open(&ws[i], &c->nodes[i], types) != 0) {
            snprintf(err, cap, "cannot watch %s", c->nodes[i].name);
            fault_watch_delete(ws, c->n);
            return NULL;
        }
    }
    return ws;
}
