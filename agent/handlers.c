/*
 * handlers.c - see handlers.h for the model.
 *
 * One run, step by step (hd_run):
 *   1. Build argv and envp, and two pipes, both close-on-exec and above fd 2:
 *      the child's stdin and its combined stdout/stderr.
 *   2. posix_spawn /bin/sh -c COMMAND (proc.h): the file actions move the
 *      pipes to 0, 1 and 2 and close every other descriptor; the attributes
 *      give it its own process group, default signal dispositions and an
 *      empty mask (this thread blocks everything).  A pidfd watches it.
 *   3. The parent writes stdin without blocking (at most ~2 KB, well inside
 *      a pipe's buffer; a child that exits before reading makes the write
 *      fail with EPIPE, and the SIGPIPE it raises is blocked in this thread
 *      and consumed), then closes it.
 *   4. It polls the pidfd, the output pipe and the stop eventfd, each wait
 *      ending at the next deadline: at the timeout (or on stop) SIGTERM goes
 *      to the group; after the grace, SIGKILL; after HD_REAP_WAIT_MS more
 *      the runner gives up on the child (logged; it cannot happen unless the
 *      kernel holds the process).  So each run ends within timeout + grace +
 *      HD_REAP_WAIT_MS.
 *
 * The thread sleeps in poll() on the subscriber's descriptor and the stop
 * eventfd: an event, the end of the bus or hd_runner_delete() wakes it, so
 * there is no polling interval anywhere.  The eventfd stays readable once
 * written, which is how every later look at it sees the stop.
 */
#include "handlers.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "proc.h"
#include "tags.h"
#include "text.h"

/* The shell every handler runs under, as Serf does. */
#define HD_SHELL "/bin/sh"
/* After SIGKILL, how long to wait for the child to be reapable. */
#define HD_REAP_WAIT_MS 5000
/* Inherited environment entries passed on; the rest are dropped (logged). */
#define HD_ENV_INHERIT_MAX 512
/* SWIM_* entries we add: 6 fixed ones plus one per tag. */
#define HD_ENV_OWN_MAX (8 + TAGS_PAIRS_MAX)
/* A member's stdin line: name, addr, status, and tags as text (every tag
 * byte plus its '=' and ','), with tabs and newline; names and tags
 * escaped, so each byte may take TEXT_ESCAPE_RATIO. */
#define HD_STDIN_MAX                                                                               \
    ((SWIM_NAME_MAX + 2 * SWIM_META_MAX) * TEXT_ESCAPE_RATIO + ADDR_TEXT_MAX + 16 + 8)
/* Longest environment value: a tag value or a user event name. */
#define HD_ENV_VALUE_MAX 255
/* Output reads after the child exits: drains what is left in the pipe
 * without waiting for descendants that kept it open. */
#define HD_DRAIN_READS 16

extern char **environ;

/* ---- the runner ---- */

struct hd_runner {
    struct log *log;
    struct ev_sub *sub;
    int sub_fd;  /* readable while the subscriber has something pending */
    int stop_fd; /* eventfd, readable once hd_runner_delete() asked to stop */
    struct ev_handler_spec *specs;
    size_t count;
    uint32_t timeout_ms;
    uint32_t grace_ms;
    hd_answer_f on_answer;
    void *answer_ctx;
    pthread_t thread;
    pthread_mutex_t lock; /* guards self_* and stats */
    char self_name[SWIM_NAME_MAX + 1];
    char self_addr[ADDR_TEXT_MAX];
    uint8_t self_tags[SWIM_META_MAX];
    size_t self_tags_len;
    struct hd_stats stats;
};

/* One output of a run being captured: up to cap bytes into buf. */
struct hd_capture {
    int fd; /* -1: none, or closed */
    char *buf;
    size_t len, cap;
    int truncated; /* more came than cap */
};

static void hd_count(struct hd_runner *r, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&r->lock);
    *field += n;
    pthread_mutex_unlock(&r->lock);
}

/* Owned environment strings for one run. */
struct hd_env {
    char **v;
    size_t n, cap;
};

static int hd_env_add(struct hd_env *e, char *s)
{
    if (s == NULL || e->n + 1 >= e->cap) {
        free(s);
        return ERR_NOMEM;
    }
    e->v[e->n++] = s;
    e->v[e->n] = NULL;
    return 0;
}

/* KEY=VALUE with the value escaped (text.h): a peer's tag or event name
 * reaches a shell's environment as one printable line.  Every value is at
 * most HD_ENV_VALUE_MAX bytes. */
static int hd_env_addf(struct hd_env *e, const char *key, const char *value, size_t vlen)
{
    char safe[HD_ENV_VALUE_MAX * TEXT_ESCAPE_RATIO + 1];
    char *s = NULL;
    text_escape(safe, sizeof(safe), value, vlen < HD_ENV_VALUE_MAX ? vlen : HD_ENV_VALUE_MAX);
    if (asprintf(&s, "%s=%s", key, safe) < 0)
        s = NULL;
    return hd_env_add(e, s);
}

static void hd_env_free(struct hd_env *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
}

static int hd_build_env(struct hd_runner *r, const struct ev_event *ev, struct hd_env *e)
{
    size_t inherit = 0;
    for (char **p = environ; p != NULL && *p != NULL && inherit < HD_ENV_INHERIT_MAX; p++)
        inherit++;
    e->cap = inherit + HD_ENV_OWN_MAX + 1;
    e->n = 0;
    e->v = calloc(e->cap, sizeof(char *));
    if (e->v == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < inherit; i++) {
        if (strncmp(environ[i], "SWIM_", 5) == 0)
            continue;
        if (hd_env_add(e, strdup(environ[i])) != 0)
            return ERR_NOMEM;
    }
    char seq[24];
    snprintf(seq, sizeof(seq), "%llu", (unsigned long long)ev->seq);
    const char *type = ev_type_name(ev->type);
    pthread_mutex_lock(&r->lock);
    char name[SWIM_NAME_MAX + 1], addr[ADDR_TEXT_MAX];
    uint8_t tags[SWIM_META_MAX];
    size_t tlen = r->self_tags_len;
    memcpy(name, r->self_name, sizeof(name));
    memcpy(addr, r->self_addr, sizeof(addr));
    memcpy(tags, r->self_tags, tlen);
    pthread_mutex_unlock(&r->lock);
    int rc = 0;
    rc |= hd_env_addf(e, "SWIM_EVENT", type, strlen(type));
    rc |= hd_env_addf(e, "SWIM_SEQ", seq, strlen(seq));
    rc |= hd_env_addf(e, "SWIM_SELF_NAME", name, strlen(name));
    rc |= hd_env_addf(e, "SWIM_SELF_ADDR", addr, strlen(addr));
    if (ev->type == EV_USER) {
        rc |= hd_env_addf(e, "SWIM_USER_EVENT", ev->user_name, strlen(ev->user_name));
        rc |= hd_env_addf(e, "SWIM_USER_ORIGIN", ev->name, strlen(ev->name));
    } else if (ev->type == EV_QUERY) {
        rc |= hd_env_addf(e, "SWIM_QUERY_NAME", ev->user_name, strlen(ev->user_name));
        rc |= hd_env_addf(e, "SWIM_QUERY_ORIGIN", ev->name, strlen(ev->name));
    }
    struct tags_pair pairs[TAGS_PAIRS_MAX];
    size_t n = 0;
    if (tags_decode_all(pairs, TAGS_PAIRS_MAX, &n, tags, tlen) != 0)
        n = 0; /* our own tags were validated when set; nothing to export otherwise */
    for (size_t i = 0; i < n && rc == 0; i++) {
        char key[sizeof("SWIM_TAG_") + TAGS_KEY_MAX];
        size_t k = strlen("SWIM_TAG_");
        memcpy(key, "SWIM_TAG_", k);
        for (size_t j = 0; j < pairs[i].klen; j++) {
            unsigned char c = (unsigned char)pairs[i].key[j];
            key[k + j] = isalnum(c) && c < 0x80 ? (char)toupper(c) : '_';
        }
        key[k + pairs[i].klen] = '\0';
        rc |= hd_env_addf(e, key, pairs[i].value, pairs[i].vlen);
    }
    return rc != 0 ? ERR_NOMEM : 0;
}

/* What goes to the handler's stdin; returns its length. */
static size_t hd_build_stdin(const struct ev_event *ev, char *buf, size_t cap)
{
    if (ev_type_is_message(ev->type)) {
        size_t n = ev->data_len <= EV_USER_DATA_MAX ? ev->data_len : EV_USER_DATA_MAX;
        n = n < cap ? n : cap;
        memcpy(buf, ev->data, n);
        return n;
    }
    /* Names and tags were checked on entry (they hold no tab or newline);
     * escaped again here, so no byte can ever start another line. */
    char name[SWIM_NAME_MAX * TEXT_ESCAPE_RATIO + 1];
    text_escape(name, sizeof(name), ev->name, strnlen(ev->name, sizeof(ev->name)));
    int w = snprintf(buf, cap, "%s\t%s\t%s\t", name, ev->addr, swim_status_name(ev->status));
    size_t len = w > 0 && (size_t)w < cap ? (size_t)w : 0;
    struct tags_pair pairs[TAGS_PAIRS_MAX];
    size_t n = 0;
    size_t tlen = ev->tags_len <= SWIM_META_MAX ? ev->tags_len : SWIM_META_MAX;
    if (tags_decode_all(pairs, TAGS_PAIRS_MAX, &n, ev->tags, tlen) != 0)
        n = 0; /* malformed tags from a peer: the line says none */
    for (size_t i = 0; i < n; i++) {
        char k[TAGS_KEY_MAX * TEXT_ESCAPE_RATIO + 1], v[TAGS_VALUE_MAX * TEXT_ESCAPE_RATIO + 1];
        text_escape(k, sizeof(k), pairs[i].key, pairs[i].klen);
        text_escape(v, sizeof(v), pairs[i].value, pairs[i].vlen);
        w = snprintf(buf + len, cap - len, "%s%s=%s", i > 0 ? "," : "", k, v);
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
    if (len + 1 < cap)
        buf[len++] = '\n';
    return len;
}

/* pipe2 with both ends close-on-exec and above 2, so the child's dup2 onto
 * 0..2 never meets its own source. */
static int hd_pipe(int p[2])
{
    if (pipe2(p, O_CLOEXEC) != 0)
        return ERR_SYS;
    for (int i = 0; i < 2; i++) {
        if (p[i] > 2)
            continue;
        int fd = fcntl(p[i], F_DUPFD_CLOEXEC, 3);
        if (fd < 0) {
            close(p[0]);
            close(p[1]);
            return ERR_SYS;
        }
        close(p[i]);
        p[i] = fd;
    }
    return 0;
}

/* Write stdin without ever blocking, then close it. */
static void hd_feed(int fd, const char *buf, size_t len)
{
    size_t off = 0;
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    /* Each pass writes something or stops; at most len passes. */
    while (off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* EPIPE: the handler did not read; EAGAIN: cannot happen at this size */
        off += (size_t)n;
    }
    close(fd);
    /* A write to a closed pipe raised SIGPIPE, blocked in this thread:
     * consume it so it never reaches anyone. */
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe_set, NULL, &zero) == SIGPIPE)
        ;
}

/* Append what c's pipe has to its buffer (up to its cap; beyond it the
 * bytes are read and dropped, and c is marked truncated); returns 0 at EOF
 * or error (the caller closes it), 1 while it may have more. */
static int hd_read_output(struct hd_capture *c)
{
    char buf[1024];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n < 0)
        return errno == EAGAIN || errno == EINTR;
    if (n == 0)
        return 0;
    size_t room = c->cap - c->len;
    size_t take = (size_t)n < room ? (size_t)n : room;
    memcpy(c->buf + c->len, buf, take);
    c->len += take;
    c->truncated |= take < (size_t)n;
    return 1;
}

/* Printable copy of handler output for one log line. */
static void hd_printable(char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            s[i] = ' ';
    }
    s[len] = '\0';
}

/* 1 once hd_runner_delete() asked the runner to stop. */
static int hd_stopping(const struct hd_runner *r)
{
    struct pollfd p = {r->stop_fd, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
}

/* Start spec's command with stdin from in_fd, stdout to out_fd and stderr
 * to err_fd. */
static int hd_spawn(struct proc *child, const struct ev_handler_spec *spec, char **envp, int in_fd,
                    int out_fd, int err_fd)
{
    char *argv[] = {"sh", "-c", (char *)spec->command, NULL};
    sigset_t none;
    sigemptyset(&none);
    struct proc_spec ps = {
        .path = HD_SHELL,
        .argv = argv,
        .envp = envp,
        .in = in_fd,
        .out = out_fd,
        .err = err_fd,
        .own_group = 1,
        .close_others = 1,
        .mask = &none,
        .default_signals = 1,
    };
    return proc_spawn(child, &ps);
}

enum hd_phase { HD_RUNNING, HD_TERMED, HD_KILLED };

/* How one run ended. */
struct hd_end {
    int reaped;
    int status; /* wait status, when reaped */
    int timed_out;
};

/*
 * Wait for the child, reading its outputs into cap[0] (the log's) and cap[1]
 * (a query's answer; fd -1 when there is none), and stop it at the timeout
 * or on a stop request.  Bounded by time: each poll() waits at most until
 * the next phase change, and the phases end by timeout + grace +
 * HD_REAP_WAIT_MS.  Closes the capture descriptors.
 */
static struct hd_end hd_wait(struct hd_runner *r, struct proc *child, struct hd_capture cap[2],
                             const char *type, uint64_t seq, const char *command)
{
    struct hd_end end = {0, 0, 0};
    uint64_t next = clock_mono_ms() + r->timeout_ms; /* the next phase change */
    enum hd_phase phase = HD_RUNNING;
    for (;;) {
        struct pollfd pfd[4] = {
            {child->fd, POLLIN, 0},
            {phase == HD_RUNNING ? r->stop_fd : -1, POLLIN, 0},
            {cap[0].fd, POLLIN, 0},
            {cap[1].fd, POLLIN, 0},
        };
        uint64_t now = clock_mono_ms();
        poll(pfd, 4, next > now ? (int)(next - now) : 0); /* EINTR: the checks below */
        for (int i = 0; i < 2; i++)
            if (pfd[2 + i].revents != 0 && !hd_read_output(&cap[i])) {
                close(cap[i].fd);
                cap[i].fd = -1;
            }
        if (pfd[0].revents != 0) {
            /* Exited; not reaped only if someone else did (ECHILD). */
            end.reaped = proc_wait(child, 0, &end.status) == 0;
            break;
        }
        now = clock_mono_ms();
        if (phase == HD_RUNNING && (now >= next || pfd[1].revents != 0)) {
            end.timed_out = now >= next;
            proc_signal(child, SIGTERM);
            if (end.timed_out)
                log_msg(r->log, LOG_WARN,
                        "handler timed out event=%s seq=%llu after=%ums command=\"%.80s\": "
                        "SIGTERM",
                        type, (unsigned long long)seq, (unsigned)r->timeout_ms, command);
            phase = HD_TERMED;
            next = now + r->grace_ms;
        } else if (phase == HD_TERMED && now >= next) {
            proc_signal(child, SIGKILL);
            log_msg(r->log, LOG_WARN, "handler still running %ums after SIGTERM seq=%llu: SIGKILL",
                    (unsigned)r->grace_ms, (unsigned long long)seq);
            phase = HD_KILLED;
            next = now + HD_REAP_WAIT_MS;
        } else if (phase == HD_KILLED && now >= next) {
            log_msg(r->log, LOG_ERROR, "handler pid=%d cannot be reaped; giving up on it",
                    (int)child->pid);
            proc_abandon(child);
            break;
        }
    }
    for (int c = 0; c < 2; c++) {
        for (int i = 0; i < HD_DRAIN_READS && cap[c].fd >= 0; i++)
            if (!hd_read_output(&cap[c]))
                break;
        if (cap[c].fd >= 0)
            close(cap[c].fd);
        cap[c].fd = -1;
    }
    return end;
}

/* Count and log how a run ended. */
static void hd_report(struct hd_runner *r, const struct hd_end *end, const char *type, uint64_t seq,
                      unsigned ms, const char *command, const char *output)
{
    if (end->timed_out)
        hd_count(r, &r->stats.timeouts, 1);
    if (end->reaped && WIFEXITED(end->status) && WEXITSTATUS(end->status) == 0) {
        log_msg(r->log, LOG_DEBUG, "handler done event=%s seq=%llu ms=%u", type,
                (unsigned long long)seq, ms);
        return;
    }
    hd_count(r, &r->stats.failures, 1);
    if (end->reaped && WIFEXITED(end->status))
        log_msg(r->log, LOG_WARN,
                "handler failed event=%s seq=%llu exit=%d ms=%u command=\"%.80s\" "
                "output=\"%s\"",
                type, (unsigned long long)seq, WEXITSTATUS(end->status), ms, command, output);
    else if (end->reaped && WIFSIGNALED(end->status))
        log_msg(r->log, LOG_WARN,
                "handler killed event=%s seq=%llu signal=%d ms=%u command=\"%.80s\" "
                "output=\"%s\"",
                type, (unsigned long long)seq, WTERMSIG(end->status), ms, command, output);
}

static void hd_run(struct hd_runner *r, const struct ev_handler_spec *spec,
                   const struct ev_event *ev)
{
    struct hd_env env = {0};
    char input[HD_STDIN_MAX];
    int in[2] = {-1, -1}, out[2] = {-1, -1}, ans[2] = {-1, -1};
    const char *type = ev_type_name(ev->type);
    int query = ev->type == EV_QUERY; /* stdout is the answer, stderr the log's */
    struct proc child;
    if (hd_build_env(r, ev, &env) != 0 || hd_pipe(in) != 0 || hd_pipe(out) != 0 ||
        (query && hd_pipe(ans) != 0)) {
        log_msg(r->log, LOG_ERROR, "handler not run event=%s seq=%llu: %s", type,
                (unsigned long long)ev->seq, strerror(errno));
        goto fail;
    }
    size_t inlen = hd_build_stdin(ev, input, sizeof(input));
    uint64_t start = clock_mono_ms();
    if (hd_spawn(&child, spec, env.v, in[0], query ? ans[1] : out[1], out[1]) != 0) {
        log_msg(r->log, LOG_ERROR, "handler not run event=%s seq=%llu: spawn: %s", type,
                (unsigned long long)ev->seq, strerror(errno));
        goto fail;
    }
    hd_count(r, &r->stats.runs, 1);
    close(in[0]);
    close(out[1]);
    if (ans[1] >= 0)
        close(ans[1]);
    in[0] = out[1] = ans[1] = -1;
    hd_feed(in[1], input, inlen);
    in[1] = -1;
    char output[HD_OUTPUT_LOG_MAX + 1], answer[HD_ANSWER_MAX];
    struct hd_capture cap[2] = {
        {out[0], output, 0, HD_OUTPUT_LOG_MAX, 0},
        {ans[0], answer, 0, HD_ANSWER_MAX, 0},
    };
    for (int i = 0; i < 2; i++) {
        int flags = cap[i].fd >= 0 ? fcntl(cap[i].fd, F_GETFL) : -1;
        if (flags >= 0)
            fcntl(cap[i].fd, F_SETFL, flags | O_NONBLOCK);
    }
    struct hd_end end = hd_wait(r, &child, cap, type, ev->seq, spec->command);
    out[0] = ans[0] = -1; /* closed by hd_wait */
    if (query && r->on_answer != NULL)
        r->on_answer(r->answer_ctx, ev->seq, (const uint8_t *)answer, cap[1].len, cap[1].truncated);
    hd_printable(output, cap[0].len);
    hd_report(r, &end, type, ev->seq, (unsigned)(clock_mono_ms() - start), spec->command, output);
    goto done;
fail:
    hd_count(r, &r->stats.spawn_errors, 1);
done:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
        if (ans[i] >= 0)
            close(ans[i]);
    }
    hd_env_free(&env);
}

static void hd_set_position(struct hd_runner *r, uint64_t seq)
{
    pthread_mutex_lock(&r->lock);
    r->stats.position = seq;
    pthread_mutex_unlock(&r->lock);
}

/* Run the matching handlers for one item (or count what it says was lost). */
static void hd_handle(struct hd_runner *r, const struct ev_item *item, const struct ev_event *ev)
{
    if (item->kind == EV_ITEM_LOST || item->kind == EV_ITEM_LAGGED) {
        log_msg(r->log, LOG_WARN,
                "handler runner fell behind: events %llu..%llu were lost and not handled",
                (unsigned long long)item->seq, (unsigned long long)item->last);
        hd_count(r, &r->stats.lost, item->last - item->seq + 1);
    }
    for (size_t i = 0; item->kind == EV_ITEM_EVENT && i < r->count; i++) {
        if (hd_stopping(r))
            return;
        if (ev_handler_spec_matches(&r->specs[i], ev->type, ev->user_name))
            hd_run(r, &r->specs[i], ev);
    }
    hd_set_position(r, item->last);
}

static void *hd_thread(void *arg)
{
    struct hd_runner *r = arg;
    struct ev_event *ev = malloc(sizeof(*ev));
    if (ev == NULL) {
        log_msg(r->log, LOG_ERROR, "handler runner: out of memory; no handler will run");
        return NULL;
    }
    /* One item per pass.  Idle, the thread sleeps until the subscriber has
     * something or a stop is asked for; between items it looks at the stop. */
    while (!hd_stopping(r)) {
        struct ev_item item;
        int rc = ev_sub_try_recv(r->sub, &item, ev);
        if (rc == ERR_AGAIN) {
            struct pollfd pfd[2] = {{r->sub_fd, POLLIN, 0}, {r->stop_fd, POLLIN, 0}};
            if (poll(pfd, 2, -1) < 0 && errno != EINTR) {
                log_msg(r->log, LOG_ERROR, "handler runner stops: poll: %s", strerror(errno));
                break;
            }
            continue;
        }
        if (rc != 0) {
            log_msg(r->log, LOG_ERROR, "handler runner stops: %s", err_strerror(rc));
            break;
        }
        if (item.kind == EV_ITEM_END) {
            pthread_mutex_lock(&r->lock);
            r->stats.ended = 1;
            pthread_mutex_unlock(&r->lock);
            break;
        }
        hd_handle(r, &item, ev);
    }
    free(ev);
    return NULL;
}

int hd_runner_set_self(struct hd_runner *r, const char *name, const char *addr, const uint8_t *tags,
                       size_t tags_len)
{
    if (r == NULL || name == NULL || addr == NULL || (tags_len > 0 && tags == NULL))
        return ERR_INVAL;
    if (tags_len > SWIM_META_MAX)
        return ERR_TOOBIG;
    pthread_mutex_lock(&r->lock);
    snprintf(r->self_name, sizeof(r->self_name), "%s", name);
    snprintf(r->self_addr, sizeof(r->self_addr), "%s", addr);
    if (tags_len > 0)
        memcpy(r->self_tags, tags, tags_len);
    r->self_tags_len = tags_len;
    pthread_mutex_unlock(&r->lock);
    return 0;
}

/* Subscribe and make the descriptors the thread sleeps on. */
static int hd_open_sub(struct hd_runner *r, const struct hd_config *cfg)
{
    struct ev_sub_config sc = {
        .name = "handlers",
        .capacity = cfg->queue > 0 ? cfg->queue : HD_QUEUE_DEFAULT,
        .lag = EV_LAG_RECOVER,
    };
    int err = ev_sub_open(cfg->bus, &sc, &r->sub, NULL);
    if (err != 0)
        return err;
    /* Made here, before the thread starts; from then on only it reads them. */
    r->sub_fd = ev_sub_fd(r->sub);
    r->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->sub_fd < 0 || r->stop_fd < 0) {
        if (r->stop_fd >= 0)
            close(r->stop_fd);
        ev_sub_close(r->sub);
        return ERR_SYS;
    }
    return 0;
}

struct hd_runner *hd_runner_new(const struct hd_config *cfg, int *rc)
{
    int err = ERR_INVAL;
    struct hd_runner *r = NULL;
    if (cfg == NULL || cfg->bus == NULL || cfg->count > HD_HANDLERS_MAX ||
        (cfg->count > 0 && cfg->specs == NULL) || cfg->self_name == NULL || cfg->self_addr == NULL)
        goto fail;
    err = ERR_NOMEM;
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        goto fail;
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r);
        r = NULL;
        goto fail;
    }
    r->log = cfg->log;
    r->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : HD_TIMEOUT_DEFAULT_MS;
    r->grace_ms = cfg->kill_grace_ms > 0 ? cfg->kill_grace_ms : HD_KILL_GRACE_DEFAULT_MS;
    r->count = cfg->count;
    r->on_answer = cfg->on_answer;
    r->answer_ctx = cfg->answer_ctx;
    r->specs = calloc(cfg->count > 0 ? cfg->count : 1, sizeof(*r->specs));
    if (r->specs == NULL)
        goto fail_r;
    if (cfg->count > 0)
        memcpy(r->specs, cfg->specs, cfg->count * sizeof(*r->specs));
    err = hd_runner_set_self(r, cfg->self_name, cfg->self_addr, cfg->self_tags, cfg->self_tags_len);
    if (err == 0)
        err = hd_open_sub(r, cfg);
    if (err != 0)
        goto fail_r;
    /* The thread starts with every signal blocked, so process signals stay
     * with the event loop and SIGPIPE from a handler's stdin is ours to eat. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int prc = pthread_create(&r->thread, NULL, hd_thread, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (prc != 0) {
        err = ERR_SYS;
        close(r->stop_fd);
        ev_sub_close(r->sub);
        goto fail_r;
    }
    if (rc != NULL)
        *rc = 0;
    return r;
fail_r:
    pthread_mutex_destroy(&r->lock);
    free(r->specs);
    free(r);
fail:
    if (rc != NULL)
        *rc = err;
    return NULL;
}

void hd_runner_stats(struct hd_runner *r, struct hd_stats *out)
{
    pthread_mutex_lock(&r->lock);
    *out = r->stats;
    pthread_mutex_unlock(&r->lock);
}

void hd_runner_delete(struct hd_runner *r)
{
    if (r == NULL)
        return;
    uint64_t one = 1;
    if (write(r->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
        log_msg(r->log, LOG_ERROR, "handler runner: cannot signal stop: %s", strerror(errno));
    pthread_join(r->thread, NULL);
    ev_sub_close(r->sub);
    close(r->stop_fd);
    pthread_mutex_destroy(&r->lock);
    free(r->specs);
    free(r);
}
