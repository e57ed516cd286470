/*
 * cli_conn.c - swimctl's side of the control socket (see cli_int.h).
 *
 * One-shot: connect, send one request line and shut down the writing
 * side, read one response line, all within one deadline (cli_call;
 * cli_exchange adds swimctl's messages and exit codes).  Streaming: the
 * same connection kept open, with SIGINT and SIGTERM read through a
 * signalfd so every wait can be cut short (cli_stream_*).  Every wait is
 * poll() against clock_mono_ms() deadlines.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli_int.h"
#include "clock.h"
#include "err.h"

/* Read chunk for responses. */
#define CLI_READ_CHUNK 65536
/* Longest line of a stream (an event is ~2 KB at most as JSON). */
#define CLI_STREAM_LINE_MAX (1024 * 1024)

static int cli_wait(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = clock_mono_ms();
        if (now >= deadline)
            return ERR_TIMEOUT;
        struct pollfd p = {fd, events, 0};
        int rc = poll(&p, 1, (int)(deadline - now));
        if (rc > 0)
            return 0;
        if (rc == 0)
            return ERR_TIMEOUT;
        if (errno != EINTR)
            return ERR_IO;
    }
}

/* A connected socket to swimd at path, or ERR_IO with the reason in msg. */
static int cli_connect(const char *path, char *msg, size_t msglen)
{
    struct sockaddr_un sun;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(msg, msglen, "cannot connect to swimd at %s: path too long", path);
        return ERR_IO;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(msg, msglen, "cannot connect to swimd at %s: %s", path, strerror(errno));
        return ERR_IO;
    }
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path));
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        snprintf(msg, msglen, "cannot connect to swimd at %s: %s", path, strerror(errno));
        close(fd);
        return ERR_IO;
    }
    return fd;
}

/* Send req as one line before deadline.  0, ERR_NOMEM, ERR_TIMEOUT or ERR_IO. */
static int cli_send_line(int fd, json_t *req, uint64_t deadline)
{
    char *line = json_dumps(req, JSON_COMPACT);
    if (line == NULL)
        return ERR_NOMEM;
    size_t n = strlen(line);
    line[n] = '\n'; /* replaces the NUL; length tracked in n + 1 */
    int rc = 0;
    /* Send first, wait only when the socket is full (a fresh one never is). */
    for (size_t off = 0; off < n + 1;) {
        ssize_t w = send(fd, line + off, n + 1 - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0) {
            off += (size_t)w;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            rc = ERR_IO;
            break;
        }
        if ((rc = cli_wait(fd, POLLOUT, deadline)) != 0)
            break;
    }
    free(line);
    return rc;
}

int cli_call(const char *path, json_t *req, json_t **resp, int timeout_ms, char *msg, size_t msglen)
{
    *resp = NULL;
    int fd = cli_connect(path, msg, msglen);
    if (fd < 0)
        return fd;
    uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = cli_send_line(fd, req, deadline);
    /* Nothing more to send: with the EOF right behind the request, swimd
     * answers and closes in the wake-up that accepts us (ctl.c). */
    if (rc == 0)
        shutdown(fd, SHUT_WR);
    if (rc == ERR_NOMEM) {
        snprintf(msg, msglen, "out of memory");
        goto out;
    }
    int send_errno = errno;
    if (rc == ERR_TIMEOUT) {
        snprintf(msg, msglen, "swimd at %s: timed out while sending", path);
        goto out;
    }
    /* A send that failed (EPIPE) may follow a refusal swimd wrote before it
     * closed ("permission denied", "too many control clients"): read it. */
    int send_rc = rc;
    for (;;) {
        if (len > 0 && memchr(buf, '\n', len) != NULL)
            break;
        if (len >= CLI_RESPONSE_MAX) {
            rc = ERR_TOOBIG;
            snprintf(msg, msglen, "swimd at %s: response larger than %d bytes", path,
                     CLI_RESPONSE_MAX);
            goto out;
        }
        if (cap - len < CLI_READ_CHUNK) {
            char *nb = realloc(buf, cap + CLI_READ_CHUNK);
            if (nb == NULL) {
                rc = ERR_NOMEM;
                snprintf(msg, msglen, "out of memory");
                goto out;
            }
            buf = nb;
            cap += CLI_READ_CHUNK;
        }
        if ((rc = cli_wait(fd, POLLIN, deadline)) != 0) {
            snprintf(msg, msglen, "swimd at %s: no response within %d ms", path, timeout_ms);
            goto out;
        }
        ssize_t r = recv(fd, buf + len, cap - len, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = ERR_CLOSED;
            if (send_rc != 0)
                snprintf(msg, msglen, "swimd at %s: %s while sending", path, strerror(send_errno));
            else
                snprintf(msg, msglen, "swimd at %s closed the connection", path);
            goto out;
        }
        len += (size_t)r;
    }
    json_error_t jerr;
    size_t linelen = (size_t)((char *)memchr(buf, '\n', len) - buf);
    *resp = json_loadb(buf, linelen, 0, &jerr);
    if (*resp == NULL) {
        rc = ERR_MALFORMED;
        snprintf(msg, msglen, "swimd at %s sent malformed JSON: %s", path, jerr.text);
    }
out:
    free(buf);
    close(fd);
    return rc;
}

/* The exit code for a reply: CLI_EXIT_OK when it says ok, else
 * CLI_EXIT_FAILED with swimd's error printed. */
static int cli_reply_check(json_t *reply, FILE *err)
{
    const char *e = json_string_value(json_object_get(reply, "error"));
    if (e == NULL && json_is_true(json_object_get(reply, "ok")))
        return CLI_EXIT_OK;
    fprintf(err, "swimctl: %s\n", e != NULL ? e : "unexpected response");
    return CLI_EXIT_FAILED;
}

int cli_exchange(const char *path, json_t *req, json_t **reply, FILE *err)
{
    return cli_exchange_within(path, req, reply, err, CLI_TIMEOUT_MS);
}

int cli_exchange_within(const char *path, json_t *req, json_t **reply, FILE *err, int timeout_ms)
{
    char msg[CLI_ERR_MAX];
    json_t *resp = NULL;
    int rc = cli_call(path, req, &resp, timeout_ms, msg, sizeof(msg));
    json_decref(req);
    if (rc != 0) {
        fprintf(err, "swimctl: %s\n", msg);
        return CLI_EXIT_CONNECT;
    }
    if ((rc = cli_reply_check(resp, err)) != CLI_EXIT_OK) {
        json_decref(resp);
        return rc;
    }
    *reply = resp;
    return CLI_EXIT_OK;
}

void cli_stream_close(struct cli_stream *st)
{
    if (st->fd >= 0)
        close(st->fd);
    if (st->sigfd >= 0) {
        close(st->sigfd);
        sigprocmask(SIG_SETMASK, &st->old_mask, NULL);
    }
    free(st->buf);
    st->fd = st->sigfd = -1;
    st->buf = NULL;
}

int cli_stream_line(struct cli_stream *st, int timeout_ms, json_t **line, enum cli_wake *wake)
{
    uint64_t deadline = clock_mono_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
    *line = NULL;
    for (;;) {
        char *nl = st->len > 0 ? memchr(st->buf, '\n', st->len) : NULL;
        if (nl != NULL) {
            size_t n = (size_t)(nl - st->buf);
            *line = json_loadb(st->buf, n, 0, NULL);
            memmove(st->buf, nl + 1, st->len - n - 1);
            st->len -= n + 1;
            return *line != NULL ? 0 : ERR_MALFORMED;
        }
        if (st->len >= CLI_STREAM_LINE_MAX)
            return ERR_TOOBIG;
        if (st->cap - st->len < CLI_READ_CHUNK) {
            char *nb = realloc(st->buf, st->cap + CLI_READ_CHUNK);
            if (nb == NULL)
                return ERR_NOMEM;
            st->buf = nb;
            st->cap += CLI_READ_CHUNK;
        }
        int wait = -1;
        if (timeout_ms >= 0) {
            uint64_t now = clock_mono_ms();
            if (now >= deadline)
                return ERR_TIMEOUT;
            wait = (int)(deadline - now);
        }
        struct pollfd p[3] = {
            {st->fd, POLLIN, 0}, {st->sigfd, POLLIN, 0}, {st->child_fd, POLLIN, 0}};
        int rc = poll(p, 3, wait);
        if (rc < 0 && errno != EINTR)
            return ERR_IO;
        if (rc <= 0)
            continue; /* the deadline check above ends a timeout */
        if (p[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(st->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                *wake = CLI_WAKE_SIGNAL;
                return ERR_AGAIN;
            }
        }
        if (p[2].revents != 0) {
            *wake = CLI_WAKE_CHILD;
            return ERR_AGAIN;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = recv(st->fd, st->buf + st->len, st->cap - st->len, 0);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return ERR_CLOSED;
            st->len += (size_t)r;
        }
    }
}

int cli_stream_open(struct cli_stream *st, const char *path, json_t *req, json_t **reply, FILE *err)
{
    char msg[CLI_ERR_MAX];
    memset(st, 0, sizeof(*st));
    st->fd = st->sigfd = st->child_fd = -1;
    *reply = NULL;
    int fd = cli_connect(path, msg, sizeof(msg));
    if (fd < 0) {
        fprintf(err, "swimctl: %s\n", msg);
        json_decref(req);
        return CLI_EXIT_CONNECT;
    }
    st->fd = fd;
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigprocmask(SIG_BLOCK, &signals, &st->old_mask);
    st->sigfd = signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK);
    if (st->sigfd < 0) {
        sigprocmask(SIG_SETMASK, &st->old_mask, NULL);
        fprintf(err, "swimctl: signalfd: %s\n", strerror(errno));
        json_decref(req);
        cli_stream_close(st);
        return CLI_EXIT_CONNECT;
    }
    int rc = cli_send_line(fd, req, clock_mono_ms() + CLI_TIMEOUT_MS);
    json_decref(req);
    enum cli_wake wake;
    json_t *r = NULL;
    if (rc == 0)
        rc = cli_stream_line(st, CLI_TIMEOUT_MS, &r, &wake);
    if (rc != 0) {
        if (rc != ERR_AGAIN)
            fprintf(err, "swimctl: swimd at %s: %s\n", path,
                    rc == ERR_TIMEOUT ? "no response in time" : err_strerror(rc));
        cli_stream_close(st);
        return rc == ERR_AGAIN ? CLI_EXIT_OK : CLI_EXIT_CONNECT;
    }
    if ((rc = cli_reply_check(r, err)) != CLI_EXIT_OK) {
        json_decref(r);
        cli_stream_close(st);
        return rc;
    }
    *reply = r;
    return CLI_EXIT_OK;
}
