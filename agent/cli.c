/*
 * cli.c - see cli.h.
 */
#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "err.h"
#include "keyring.h"
#include "tags.h"

/* Read chunk for responses. */
#define CLI_READ_CHUNK 65536
/* Arguments one command may take (join addresses, tags). */
#define CLI_ARGS_MAX 256
/* Longest line of a stream (an event is ~2 KB at most as JSON). */
#define CLI_STREAM_LINE_MAX (1024 * 1024)
/* Member names `run --peer` takes (swimd's per-client limit). */
#define CLI_RUN_PEERS_MAX 64
/* Default and largest grace between SIGTERM and SIGKILL for `run`'s CMD:
 * 10 s lets a service drain; an hour is a mistake, not a grace. */
#define CLI_RUN_GRACE_DEFAULT_S 10.0
#define CLI_RUN_GRACE_MAX_S 3600.0
/* The `watch` table: SEQ TIME TYPE NAME ADDR STATUS, then TAGS. */
#define CLI_WATCH_ROW "%-8lld %-12s %-15s %-16s %-21s %-8s %s"

#ifndef SWIMD_VERSION
#define SWIMD_VERSION "unknown"
#endif

static void cli_usage(FILE *out)
{
    fprintf(out, "usage: swimctl [--socket PATH] COMMAND [ARGS]\n"
                 "\n"
                 "Commands:\n"
                 "  members [--status alive|suspect|failed|left] [--tag KEY=VALUE]... [--json]\n"
                 "  join ADDR...              announce this node to ADDR (HOST[:PORT])\n"
                 "  leave                     leave the cluster; swimd exits when done\n"
                 "  force-leave NAME          mark a failed member as left now\n"
                 "  info [--json]             this node, member counts, traffic, health\n"
                 "  tags set KEY=VALUE...     set tags on this node\n"
                 "  tags delete KEY...        remove tags from this node\n"
                 "  event NAME [PAYLOAD]      broadcast a user event to every member\n"
                 "  keygen                    print a new random base64 key for a keyring\n"
                 "  watch [--since SEQ] [--type TYPE,...] [--json]\n"
                 "                            stream events in sequence order until interrupted;\n"
                 "                            --since replays the history after SEQ\n"
                 "  monitor NAME...           wait until one of the members fails or leaves;\n"
                 "                            prints \"NAME failed|left|unknown\"\n"
                 "  run --peer NAME... [--grace SEC] -- CMD [ARGS...]\n"
                 "                            run CMD linked to the members: if one fails, CMD\n"
                 "                            gets SIGTERM, then SIGKILL after SEC (default 10)\n"
                 "\n"
                 "  --socket PATH   control socket (default: $SWIM_SOCKET, else " CFG_DEFAULT_SOCKET
                 ")\n"
                 "  --help, --version\n"
                 "\n"
                 "Exit codes:\n"
                 "  0   success (watch/monitor: stopped by SIGINT or SIGTERM)\n"
                 "  1   swimd answered with an error (watch: --since older than the history,\n"
                 "      the message names the first event held; bad --type)\n"
                 "  2   bad usage\n"
                 "  3   swimd not reachable (\"cannot connect to swimd at PATH: reason\"), or\n"
                 "      the connection was lost (watch, monitor, run: CMD is stopped first)\n"
                 "  4   watch: too slow, events were missed; resume with --since N-1\n"
                 "  10  monitor/run: a member failed (run: CMD was stopped)\n"
                 "  11  monitor/run: a member left (run: only before CMD started)\n"
                 "  12  monitor/run: no such member (run: CMD was not started)\n"
                 "  127 run: CMD could not be executed\n"
                 "  run otherwise exits with CMD's status (128+N if killed by signal N).\n");
}

static uint64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int cli_wait(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = cli_now_ms();
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

int cli_call(const char *path, json_t *req, json_t **resp, int timeout_ms, char *msg, size_t msglen)
{
    struct sockaddr_un sun;
    *resp = NULL;
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
    uint64_t deadline = cli_now_ms() + (uint64_t)timeout_ms;
    char *line = json_dumps(req, JSON_COMPACT);
    int rc = 0;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (line == NULL) {
        rc = ERR_NOMEM;
        snprintf(msg, msglen, "out of memory");
        goto out;
    }
    size_t n = strlen(line);
    line[n] = '\n'; /* replaces the NUL; length tracked in n + 1 */
    for (size_t off = 0; off < n + 1;) {
        if ((rc = cli_wait(fd, POLLOUT, deadline)) != 0)
            break;
        ssize_t w = send(fd, line + off, n + 1 - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            rc = ERR_IO;
            break;
        }
        off += (size_t)w;
    }
    free(line);
    if (rc != 0) {
        snprintf(msg, msglen, "swimd at %s: %s while sending", path,
                 rc == ERR_TIMEOUT ? "timed out" : strerror(errno));
        goto out;
    }
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

/* ---- formatting ------------------------------------------------------------- */

static int cli_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "k1=v1,k2=v2" with keys sorted, into a malloc'd string. */
static char *cli_tags_text(json_t *tags)
{
    size_t n = json_is_object(tags) ? json_object_size(tags) : 0;
    const char **keys = calloc(n + 1, sizeof(*keys));
    if (keys == NULL)
        return NULL;
    size_t k = 0, total = 1;
    const char *key;
    json_t *v;
    if (n > 0) {
        json_object_foreach(tags, key, v)
        {
            keys[k++] = key;
            total += strlen(key) + 2 + (json_is_string(v) ? json_string_length(v) : 0);
        }
    }
    qsort(keys, k, sizeof(*keys), cli_cmp_str);
    char *s = malloc(total);
    if (s == NULL) {
        free(keys);
        return NULL;
    }
    size_t off = 0;
    for (size_t i = 0; i < k; i++) {
        const char *val = json_string_value(json_object_get(tags, keys[i]));
        off += (size_t)snprintf(s + off, total - off, "%s%s=%s", i > 0 ? "," : "", keys[i],
                                val != NULL ? val : "");
    }
    s[off] = '\0';
    free(keys);
    return s;
}

static int cli_member_matches(json_t *m, const struct cli_filter *f)
{
    if (f == NULL)
        return 1;
    const char *st = json_string_value(json_object_get(m, "status"));
    if (f->status != NULL && (st == NULL || strcmp(st, f->status) != 0))
        return 0;
    json_t *tags = json_object_get(m, "tags");
    for (size_t i = 0; i < f->ntags; i++) {
        const char *eq = strchr(f->tags[i], '=');
        if (eq == NULL)
            return 0;
        char key[TAGS_KEY_MAX + 1];
        size_t klen = (size_t)(eq - f->tags[i]);
        if (klen > TAGS_KEY_MAX)
            return 0;
        memcpy(key, f->tags[i], klen);
        key[klen] = '\0';
        const char *val = json_string_value(json_object_get(tags, key));
        if (val == NULL || strcmp(val, eq + 1) != 0)
            return 0;
    }
    return 1;
}

static int cli_cmp_member(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "name"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "name"));
    return strcmp(x != NULL ? x : "", y != NULL ? y : "");
}

void cli_print_members(FILE *out, json_t *members, const struct cli_filter *f, int as_json)
{
    size_t n = json_is_array(members) ? json_array_size(members) : 0;
    json_t **rows = calloc(n + 1, sizeof(*rows));
    if (rows == NULL)
        return;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(members, i);
        if (json_is_object(m) && cli_member_matches(m, f))
            rows[k++] = m;
    }
    qsort(rows, k, sizeof(*rows), cli_cmp_member);
    if (as_json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < k; i++) {
            json_t *tags = json_object_get(rows[i], "tags");
            json_array_append_new(
                arr,
                json_pack("{s:O?,s:O?,s:O?,s:O?,s:o}", "name", json_object_get(rows[i], "name"),
                          "addr", json_object_get(rows[i], "addr"), "status",
                          json_object_get(rows[i], "status"), "incarnation",
                          json_object_get(rows[i], "incarnation"), "tags",
                          json_is_object(tags) ? json_incref(tags) : json_object()));
        }
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s != NULL)
            fprintf(out, "%s\n", s);
        free(s);
        json_decref(arr);
        free(rows);
        return;
    }
    static const char *const heads[3] = {"NAME", "ADDRESS", "STATUS"};
    static const char *const fields[3] = {"name", "addr", "status"};
    size_t w[3];
    for (int c = 0; c < 3; c++) {
        w[c] = strlen(heads[c]);
        for (size_t i = 0; i < k; i++) {
            const char *v = json_string_value(json_object_get(rows[i], fields[c]));
            size_t l = v != NULL ? strlen(v) : 1;
            if (l > w[c])
                w[c] = l;
        }
    }
    fprintf(out, "%-*s  %-*s  %-*s  TAGS\n", (int)w[0], heads[0], (int)w[1], heads[1], (int)w[2],
            heads[2]);
    for (size_t i = 0; i < k; i++) {
        const char *v[3];
        for (int c = 0; c < 3; c++) {
            v[c] = json_string_value(json_object_get(rows[i], fields[c]));
            if (v[c] == NULL)
                v[c] = "-";
        }
        char *tags = cli_tags_text(json_object_get(rows[i], "tags"));
        if (tags != NULL && tags[0] != '\0')
            fprintf(out, "%-*s  %-*s  %-*s  %s\n", (int)w[0], v[0], (int)w[1], v[1], (int)w[2],
                    v[2], tags);
        else
            fprintf(out, "%-*s  %-*s  %s\n", (int)w[0], v[0], (int)w[1], v[1], v[2]);
        free(tags);
    }
    free(rows);
}

static long long cli_int(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

void cli_print_info(FILE *out, json_t *info, int as_json)
{
    if (as_json) {
        json_t *copy = json_deep_copy(info);
        json_object_del(copy, "ok");
        char *s = json_dumps(copy, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (s != NULL)
            fprintf(out, "%s\n", s);
        free(s);
        json_decref(copy);
        return;
    }
    json_t *self = json_object_get(info, "self");
    json_t *counts = json_object_get(info, "counts");
    char *tags = cli_tags_text(json_object_get(self, "tags"));
    const char *s_name = json_string_value(json_object_get(self, "name"));
    const char *s_addr = json_string_value(json_object_get(self, "addr"));
    const char *s_status = json_string_value(json_object_get(self, "status"));
    const char *label = json_string_value(json_object_get(info, "label"));
    const char *profile = json_string_value(json_object_get(info, "profile"));
    fprintf(out, "name:             %s\n", s_name != NULL ? s_name : "-");
    fprintf(out, "address:          %s\n", s_addr != NULL ? s_addr : "-");
    fprintf(out, "status:           %s\n", s_status != NULL ? s_status : "-");
    fprintf(out, "incarnation:      %lld\n", cli_int(info, "incarnation"));
    fprintf(out, "generation:       %lld\n", cli_int(self, "generation"));
    fprintf(out, "tags:             %s\n", tags != NULL && tags[0] != '\0' ? tags : "-");
    fprintf(out, "members:          alive=%lld suspect=%lld failed=%lld left=%lld\n",
            cli_int(counts, "alive"), cli_int(counts, "suspect"), cli_int(counts, "failed"),
            cli_int(counts, "left"));
    fprintf(out, "packets:          in=%lld out=%lld\n", cli_int(info, "packets_in"),
            cli_int(info, "packets_out"));
    fprintf(out, "bytes:            in=%lld out=%lld\n", cli_int(info, "bytes_in"),
            cli_int(info, "bytes_out"));
    fprintf(out, "decrypt_failures: %lld\n", cli_int(info, "decrypt_failures"));
    fprintf(out, "malformed:        %lld\n", cli_int(info, "malformed"));
    fprintf(out, "health:           %lld\n", cli_int(info, "health"));
    fprintf(out, "name_conflicts:   %lld\n", cli_int(info, "name_conflicts"));
    fprintf(out, "encrypted:        %s\n",
            json_is_true(json_object_get(info, "encrypted")) ? "yes" : "no");
    fprintf(out, "label:            %s\n", label != NULL && label[0] != '\0' ? label : "-");
    fprintf(out, "profile:          %s\n", profile != NULL ? profile : "-");
    free(tags);
}

/* ---- commands ------------------------------------------------------------------ */

/* Send req, print errors; on success hand back the reply (new reference). */
static int cli_exchange(const char *path, json_t *req, json_t **reply, FILE *err)
{
    char msg[CLI_ERR_MAX];
    json_t *resp = NULL;
    int rc = cli_call(path, req, &resp, CLI_TIMEOUT_MS, msg, sizeof(msg));
    json_decref(req);
    if (rc != 0) {
        fprintf(err, "swimctl: %s\n", msg);
        return CLI_EXIT_CONNECT;
    }
    const char *e = json_string_value(json_object_get(resp, "error"));
    if (e != NULL || !json_is_true(json_object_get(resp, "ok"))) {
        fprintf(err, "swimctl: %s\n", e != NULL ? e : "unexpected response");
        json_decref(resp);
        return CLI_EXIT_FAILED;
    }
    *reply = resp;
    return CLI_EXIT_OK;
}

static int cli_usage_error(FILE *err, const char *what)
{
    fprintf(err, "swimctl: %s (see swimctl --help)\n", what);
    return CLI_EXIT_USAGE;
}

static int cli_cmd_members(const char *path, int argc, char **argv, FILE *out, FILE *err)
{
    struct cli_filter f = {NULL, 0, NULL};
    const char *tagv[CLI_ARGS_MAX];
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (strcmp(argv[i], "--status") == 0 && i + 1 < argc) {
            f.status = argv[++i];
            if (strcmp(f.status, "alive") != 0 && strcmp(f.status, "suspect") != 0 &&
                strcmp(f.status, "failed") != 0 && strcmp(f.status, "left") != 0)
                return cli_usage_error(err, "--status takes alive, suspect, failed or left");
        } else if (strcmp(argv[i], "--tag") == 0 && i + 1 < argc) {
            if (strchr(argv[i + 1], '=') == NULL || f.ntags >= CLI_ARGS_MAX)
                return cli_usage_error(err, "--tag takes KEY=VALUE");
            tagv[f.ntags++] = argv[++i];
        } else {
            fprintf(err, "swimctl: members: unexpected argument \"%s\"\n", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    f.tags = tagv;
    json_t *reply;
    int rc = cli_exchange(path, json_pack("{s:s}", "cmd", "members"), &reply, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    cli_print_members(out, json_object_get(reply, "members"), &f, as_json);
    json_decref(reply);
    return CLI_EXIT_OK;
}

static int cli_cmd_simple(const char *path, json_t *req, const char *done, FILE *out, FILE *err)
{
    json_t *reply;
    int rc = cli_exchange(path, req, &reply, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (done != NULL)
        fprintf(out, "%s\n", done);
    json_decref(reply);
    return CLI_EXIT_OK;
}

static int cli_cmd_tags(const char *path, int argc, char **argv, FILE *out, FILE *err)
{
    if (argc < 3)
        return cli_usage_error(err, "tags set KEY=VALUE... | tags delete KEY...");
    json_t *req;
    if (strcmp(argv[1], "set") == 0) {
        json_t *tags = json_object();
        for (int i = 2; i < argc; i++) {
            char k[TAGS_KEY_MAX + 1], v[TAGS_VALUE_MAX + 1];
            if (tags_parse_kv(argv[i], k, v) != 0) {
                json_decref(tags);
                fprintf(err, "swimctl: tags set: bad tag \"%s\" (want KEY=VALUE)\n", argv[i]);
                return CLI_EXIT_USAGE;
            }
            json_object_set_new(tags, k, json_string(v));
        }
        req = json_pack("{s:s,s:o}", "cmd", "tags-set", "tags", tags);
    } else if (strcmp(argv[1], "delete") == 0) {
        json_t *keys = json_array();
        for (int i = 2; i < argc; i++)
            json_array_append_new(keys, json_string(argv[i]));
        req = json_pack("{s:s,s:o}", "cmd", "tags-delete", "keys", keys);
    } else {
        return cli_usage_error(err, "tags set KEY=VALUE... | tags delete KEY...");
    }
    json_t *reply;
    int rc = cli_exchange(path, req, &reply, err);
    if (rc != CLI_EXIT_OK)
        return rc;
    char *text = cli_tags_text(json_object_get(reply, "tags"));
    fprintf(out, "tags: %s\n", text != NULL && text[0] != '\0' ? text : "-");
    free(text);
    json_decref(reply);
    return CLI_EXIT_OK;
}

/* ---- streaming commands: watch, monitor, run ----------------------------------- */

/*
 * A streaming exchange: one request, then lines until the connection ends.
 * Waits are on poll() over the socket and a signalfd (SIGINT, SIGTERM and,
 * for run, SIGCHLD), so they end on data, a signal or a deadline: never a
 * busy loop, never an unbounded wait that a signal cannot cut short.
 */
struct cli_stream {
    int fd;
    int sigfd;
    char *buf;
    size_t len, cap;
    sigset_t old_mask;
};

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

static void cli_stream_close(struct cli_stream *st)
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

/*
 * The next line (parsed), waiting up to timeout_ms (negative: no limit).
 * 0 (*line is a new reference), ERR_AGAIN (a signal came: *signo), ERR_TIMEOUT,
 * ERR_CLOSED (swimd hung up), ERR_MALFORMED, ERR_TOOBIG, ERR_IO.
 */
static int cli_stream_line(struct cli_stream *st, int timeout_ms, json_t **line, int *signo)
{
    uint64_t deadline = cli_now_ms() + (uint64_t)(timeout_ms < 0 ? 0 : timeout_ms);
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
            uint64_t now = cli_now_ms();
            if (now >= deadline)
                return ERR_TIMEOUT;
            wait = (int)(deadline - now);
        }
        struct pollfd p[2] = {{st->fd, POLLIN, 0}, {st->sigfd, POLLIN, 0}};
        int rc = poll(p, 2, wait);
        if (rc < 0 && errno != EINTR)
            return ERR_IO;
        if (rc <= 0)
            continue; /* the deadline check above ends a timeout */
        if (p[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(st->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                *signo = (int)si.ssi_signo;
                return ERR_AGAIN;
            }
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

/*
 * Connect, block the signals the stream waits for (signals: a set), send req
 * (consumed) and read the reply line.  Returns an exit code: CLI_EXIT_OK
 * with *reply, CLI_EXIT_CONNECT or CLI_EXIT_FAILED (message printed).
 */
static int cli_stream_open(struct cli_stream *st, const char *path, json_t *req,
                           const sigset_t *signals, json_t **reply, FILE *err)
{
    char msg[CLI_ERR_MAX];
    memset(st, 0, sizeof(*st));
    st->fd = st->sigfd = -1;
    *reply = NULL;
    char *text = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    int fd = text != NULL ? cli_connect(path, msg, sizeof(msg)) : ERR_NOMEM;
    if (fd < 0) {
        fprintf(err, "swimctl: %s\n", fd == ERR_NOMEM ? "out of memory" : msg);
        free(text);
        return CLI_EXIT_CONNECT;
    }
    st->fd = fd;
    sigprocmask(SIG_BLOCK, signals, &st->old_mask);
    st->sigfd = signalfd(-1, signals, SFD_CLOEXEC | SFD_NONBLOCK);
    if (st->sigfd < 0) {
        sigprocmask(SIG_SETMASK, &st->old_mask, NULL);
        fprintf(err, "swimctl: signalfd: %s\n", strerror(errno));
        free(text);
        cli_stream_close(st);
        return CLI_EXIT_CONNECT;
    }
    size_t n = strlen(text);
    text[n] = '\n'; /* replaces the NUL; length tracked in n + 1 */
    uint64_t deadline = cli_now_ms() + CLI_TIMEOUT_MS;
    int rc = 0;
    for (size_t off = 0; off < n + 1 && rc == 0;) {
        if ((rc = cli_wait(fd, POLLOUT, deadline)) != 0)
            break;
        ssize_t w = send(fd, text + off, n + 1 - off, MSG_NOSIGNAL);
        if (w < 0 && errno != EINTR)
            rc = ERR_IO;
        else if (w > 0)
            off += (size_t)w;
    }
    free(text);
    int signo = 0;
    json_t *r = NULL;
    if (rc == 0)
        rc = cli_stream_line(st, CLI_TIMEOUT_MS, &r, &signo);
    if (rc != 0) {
        if (rc != ERR_AGAIN)
            fprintf(err, "swimctl: swimd at %s: %s\n", path,
                    rc == ERR_TIMEOUT ? "no response in time" : err_strerror(rc));
        cli_stream_close(st);
        return rc == ERR_AGAIN ? CLI_EXIT_OK : CLI_EXIT_CONNECT;
    }
    const char *e = json_string_value(json_object_get(r, "error"));
    if (e != NULL || !json_is_true(json_object_get(r, "ok"))) {
        fprintf(err, "swimctl: %s\n", e != NULL ? e : "unexpected response");
        json_decref(r);
        cli_stream_close(st);
        return CLI_EXIT_FAILED;
    }
    *reply = r;
    return CLI_EXIT_OK;
}

/* Print one event line of `watch` as a table row (clock lines are hidden). */
static void cli_print_event(FILE *out, json_t *ev)
{
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (type == NULL)
        return;
    long long seq = cli_int(ev, "seq");
    time_t secs = (time_t)(cli_int(ev, "time") / 1000);
    struct tm tm;
    char when[32] = "-";
    if (localtime_r(&secs, &tm) != NULL)
        snprintf(when, sizeof(when), "%02d:%02d:%02d.%03lld", tm.tm_hour, tm.tm_min, tm.tm_sec,
                 cli_int(ev, "time") % 1000);
    const char *name = json_string_value(json_object_get(ev, "name"));
    if (strcmp(type, "user") == 0) {
        const char *origin = json_string_value(json_object_get(ev, "origin"));
        const char *payload = json_string_value(json_object_get(ev, "payload"));
        if (payload == NULL)
            payload = json_string_value(json_object_get(ev, "payload_hex"));
        fprintf(out, CLI_WATCH_ROW, seq, when, type, origin != NULL ? origin : "-", "-", "-", "");
        fprintf(out, "event=%s payload=%s\n", name != NULL ? name : "-",
                payload != NULL ? payload : "");
    } else {
        const char *addr = json_string_value(json_object_get(ev, "addr"));
        const char *status = json_string_value(json_object_get(ev, "status"));
        char *tags = cli_tags_text(json_object_get(ev, "tags"));
        fprintf(out, CLI_WATCH_ROW, seq, when, type, name != NULL ? name : "-",
                addr != NULL && addr[0] != '\0' ? addr : "-", status != NULL ? status : "-",
                tags != NULL && tags[0] != '\0' ? tags : "-");
        fputc('\n', out);
        free(tags);
    }
}

static int cli_cmd_watch(const char *path, int argc, char **argv, FILE *out, FILE *err)
{
    int as_json = 0;
    json_t *req = json_pack("{s:s}", "cmd", "watch");
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
            errno = 0;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (errno != 0 || end == argv[i] || *end != '\0' || argv[i][0] == '-') {
                json_decref(req);
                return cli_usage_error(err, "--since takes a sequence number");
            }
            json_object_set_new(req, "since", json_integer((json_int_t)v));
        } else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
            json_object_set_new(req, "types", json_string(argv[++i]));
        } else {
            json_decref(req);
            fprintf(err, "swimctl: watch: unexpected argument \"%s\"\n", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    struct cli_stream st;
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    json_t *reply;
    int rc = cli_stream_open(&st, path, req, &sigs, &reply, err);
    if (rc != CLI_EXIT_OK || reply == NULL)
        return rc;
    if (as_json) {
        json_object_del(reply, "ok");
        char *s = json_dumps(reply, JSON_COMPACT);
        if (s != NULL)
            fprintf(out, "%s\n", s);
        free(s);
    } else {
        fprintf(out, "%-8s %-12s %-15s %-16s %-21s %-8s %s\n", "SEQ", "TIME", "TYPE", "NAME",
                "ADDR", "STATUS", "TAGS");
    }
    json_decref(reply);
    fflush(out);
    for (;;) {
        json_t *line = NULL;
        int signo = 0;
        int lrc = cli_stream_line(&st, -1, &line, &signo);
        if (lrc == ERR_AGAIN) {
            rc = CLI_EXIT_OK; /* interrupted: the normal way to stop watching */
            break;
        }
        if (lrc != 0) {
            fprintf(err, "swimctl: swimd closed the watch (%s)\n", err_strerror(lrc));
            rc = CLI_EXIT_CONNECT;
            break;
        }
        int lagged = json_is_true(json_object_get(line, "lagged"));
        if (as_json) {
            char *s = json_dumps(line, JSON_COMPACT);
            if (s != NULL)
                fprintf(out, "%s\n", s);
            free(s);
        } else if (!lagged && !json_is_true(json_object_get(line, "clock"))) {
            cli_print_event(out, line);
        }
        fflush(out);
        if (lagged) {
            long long first = cli_int(line, "first_missed");
            fprintf(err, "lagged: first missed event %lld; resume with --since %lld\n", first,
                    first - 1);
            json_decref(line);
            rc = CLI_EXIT_LAGGED;
            break;
        }
        json_decref(line);
    }
    cli_stream_close(&st);
    return rc;
}

/* The exit code for a member report. */
static int cli_report_exit(const char *reason)
{
    if (reason != NULL && strcmp(reason, "failed") == 0)
        return CLI_EXIT_PEER_FAILED;
    if (reason != NULL && strcmp(reason, "left") == 0)
        return CLI_EXIT_PEER_LEFT;
    return CLI_EXIT_PEER_UNKNOWN;
}

/* Print a report line; returns its exit code, or -1 if it is not one. */
static int cli_print_report(FILE *out, json_t *line)
{
    const char *member = json_string_value(json_object_get(line, "member"));
    const char *reason = json_string_value(json_object_get(line, "reason"));
    if (member == NULL || reason == NULL)
        return -1;
    fprintf(out, "%s %s\n", member, reason);
    fflush(out);
    return cli_report_exit(reason);
}

/* The monitor request for names[0..n). */
static json_t *cli_monitor_req(char **names, int n)
{
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, json_string(names[i]));
    return json_pack("{s:s,s:o}", "cmd", "monitor", "names", arr);
}

static int cli_cmd_monitor(const char *path, int argc, char **argv, FILE *out, FILE *err)
{
    if (argc < 2)
        return cli_usage_error(err, "monitor needs at least one NAME");
    struct cli_stream st;
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    json_t *reply;
    int rc = cli_stream_open(&st, path, cli_monitor_req(argv + 1, argc - 1), &sigs, &reply, err);
    if (rc != CLI_EXIT_OK || reply == NULL)
        return rc;
    json_decref(reply);
    for (;;) {
        json_t *line = NULL;
        int signo = 0;
        int lrc = cli_stream_line(&st, -1, &line, &signo);
        if (lrc == ERR_AGAIN) {
            rc = CLI_EXIT_OK;
            break;
        }
        if (lrc != 0) {
            fprintf(err, "swimctl: lost the connection to swimd (%s)\n", err_strerror(lrc));
            rc = CLI_EXIT_CONNECT;
            break;
        }
        int code = cli_print_report(out, line);
        json_decref(line);
        if (code >= 0) {
            rc = code;
            break;
        }
    }
    cli_stream_close(&st);
    return rc;
}

/* 0..255 from a wait status: the exit code, or 128 + the signal. */
static int cli_child_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return CLI_EXIT_FAILED;
}

/* SIGTERM the child, SIGKILL it after grace_ms, reap it; its wait status. */
static int cli_stop_child(struct cli_stream *st, pid_t pid, uint64_t grace_ms)
{
    int status = 0;
    kill(pid, SIGTERM);
    uint64_t deadline = cli_now_ms() + grace_ms;
    for (;;) {
        if (waitpid(pid, &status, WNOHANG) == pid)
            return status;
        uint64_t now = cli_now_ms();
        if (now >= deadline)
            break;
        struct pollfd p = {st->sigfd, POLLIN, 0};
        if (poll(&p, 1, (int)(deadline - now)) > 0) {
            struct signalfd_siginfo si;
            ssize_t r = read(st->sigfd, &si, sizeof(si)); /* SIGCHLD (or a repeat SIGINT) */
            (void)r;
        }
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return status;
}

static int cli_cmd_run(const char *path, int argc, char **argv, FILE *out, FILE *err)
{
    char *names[CLI_RUN_PEERS_MAX];
    int nnames = 0, cmd = -1;
    double grace_s = CLI_RUN_GRACE_DEFAULT_S;
    for (int i = 1; i < argc && cmd < 0; i++) {
        if (strcmp(argv[i], "--") == 0) {
            cmd = i + 1;
        } else if (strcmp(argv[i], "--peer") == 0) {
            /* --peer NAME...: every following word up to the next flag */
            int k = 0;
            while (i + 1 < argc && argv[i + 1][0] != '-' && nnames < CLI_RUN_PEERS_MAX) {
                names[nnames++] = argv[++i];
                k++;
            }
            if (k == 0)
                return cli_usage_error(err, "--peer needs at least one NAME");
        } else if (strcmp(argv[i], "--grace") == 0 && i + 1 < argc) {
            char *end = NULL;
            grace_s = strtod(argv[++i], &end);
            if (end == argv[i] || *end != '\0' || !(grace_s >= 0 && grace_s <= CLI_RUN_GRACE_MAX_S))
                return cli_usage_error(err, "--grace takes seconds, 0 to 3600");
        } else {
            fprintf(err, "swimctl: run: unexpected argument \"%s\" (CMD goes after --)\n", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    if (nnames == 0 || cmd < 0 || cmd >= argc)
        return cli_usage_error(err, "run --peer NAME... [--grace SEC] -- CMD [ARGS...]");
    uint64_t grace_ms = (uint64_t)(grace_s * 1000.0);
    struct cli_stream st;
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGCHLD);
    json_t *reply;
    int rc = cli_stream_open(&st, path, cli_monitor_req(names, nnames), &sigs, &reply, err);
    if (rc != CLI_EXIT_OK || reply == NULL)
        return rc;
    long long immediate = cli_int(reply, "immediate");
    json_decref(reply);
    if (immediate > 0) { /* a peer is already gone: CMD is not started */
        json_t *line = NULL;
        int signo = 0;
        int lrc = cli_stream_line(&st, CLI_TIMEOUT_MS, &line, &signo);
        int code = lrc == 0 ? cli_print_report(out, line) : -1;
        json_decref(line);
        cli_stream_close(&st);
        if (code < 0)
            fprintf(err, "swimctl: swimd did not send the report it announced\n");
        return code >= 0 ? code : CLI_EXIT_CONNECT;
    }
    fflush(out);
    fflush(err);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(err, "swimctl: fork: %s\n", strerror(errno));
        cli_stream_close(&st);
        return CLI_EXIT_FAILED;
    }
    if (pid == 0) {
        sigprocmask(SIG_SETMASK, &st.old_mask, NULL);
        char *cargv[CLI_ARGS_MAX + 1]; /* argv is not NULL-terminated */
        int k = 0;
        for (int i = cmd; i < argc; i++)
            cargv[k++] = argv[i];
        cargv[k] = NULL;
        execvp(cargv[0], cargv);
        fprintf(stderr, "swimctl: cannot run %s: %s\n", argv[cmd], strerror(errno));
        _exit(CLI_EXIT_EXEC);
    }
    for (;;) {
        json_t *line = NULL;
        int signo = 0, status = 0;
        int lrc = cli_stream_line(&st, -1, &line, &signo);
        if (lrc == ERR_AGAIN && signo == SIGCHLD) {
            if (waitpid(pid, &status, WNOHANG) == pid) {
                rc = cli_child_code(status);
                break;
            }
            continue;
        }
        if (lrc == ERR_AGAIN) { /* SIGINT/SIGTERM: stop CMD the same gentle way */
            rc = cli_child_code(cli_stop_child(&st, pid, grace_ms));
            break;
        }
        if (lrc != 0) {
            fprintf(err, "swimctl: lost the connection to swimd (%s); stopping %s\n",
                    err_strerror(lrc), argv[cmd]);
            cli_stop_child(&st, pid, grace_ms);
            rc = CLI_EXIT_CONNECT;
            break;
        }
        int code = cli_print_report(out, line);
        json_decref(line);
        if (code == CLI_EXIT_PEER_FAILED) {
            cli_stop_child(&st, pid, grace_ms);
            rc = code;
            break;
        }
        /* a peer that left (or vanished) is reported but does not stop CMD */
    }
    cli_stream_close(&st);
    return rc;
}

int cli_main(int argc, char **argv, FILE *out, FILE *err)
{
    const char *path = getenv("SWIM_SOCKET");
    if (path == NULL || path[0] == '\0')
        path = CFG_DEFAULT_SOCKET;
    char *args[CLI_ARGS_MAX];
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (n > 0 && strcmp(argv[i], "--") == 0) {
            /* run's CMD and its arguments are not swimctl's to parse */
            if (argc - i > CLI_ARGS_MAX - n)
                return cli_usage_error(err, "too many arguments");
            for (; i < argc; i++)
                args[n++] = argv[i];
            break;
        }
        if (strcmp(argv[i], "--socket") == 0) {
            if (i + 1 >= argc)
                return cli_usage_error(err, "--socket needs a path");
            path = argv[++i];
        } else if (strncmp(argv[i], "--socket=", 9) == 0) {
            path = argv[i] + 9;
        } else if (n == 0 && (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)) {
            cli_usage(out);
            return CLI_EXIT_OK;
        } else if (n == 0 && strcmp(argv[i], "--version") == 0) {
            fprintf(out, "swimctl %s\n", SWIMD_VERSION);
            return CLI_EXIT_OK;
        } else if (n >= CLI_ARGS_MAX) {
            return cli_usage_error(err, "too many arguments");
        } else {
            args[n++] = argv[i];
        }
    }
    if (n == 0)
        return cli_usage_error(err, "missing command");
    const char *cmd = args[0];
    if (strcmp(cmd, "members") == 0)
        return cli_cmd_members(path, n, args, out, err);
    if (strcmp(cmd, "info") == 0) {
        int as_json = n == 2 && strcmp(args[1], "--json") == 0;
        if (n > 2 || (n == 2 && !as_json))
            return cli_usage_error(err, "info takes only --json");
        json_t *reply;
        int rc = cli_exchange(path, json_pack("{s:s}", "cmd", "info"), &reply, err);
        if (rc != CLI_EXIT_OK)
            return rc;
        cli_print_info(out, reply, as_json);
        json_decref(reply);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "join") == 0) {
        if (n < 2)
            return cli_usage_error(err, "join needs at least one ADDR");
        json_t *addrs = json_array();
        for (int i = 1; i < n; i++)
            json_array_append_new(addrs, json_string(args[i]));
        json_t *reply;
        int rc =
            cli_exchange(path, json_pack("{s:s,s:o}", "cmd", "join", "addrs", addrs), &reply, err);
        if (rc != CLI_EXIT_OK)
            return rc;
        fprintf(out, "announced to %lld address(es)\n", cli_int(reply, "announced"));
        json_decref(reply);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "leave") == 0) {
        if (n != 1)
            return cli_usage_error(err, "leave takes no argument");
        return cli_cmd_simple(path, json_pack("{s:s}", "cmd", "leave"), "leaving", out, err);
    }
    if (strcmp(cmd, "force-leave") == 0) {
        if (n != 2)
            return cli_usage_error(err, "force-leave needs one NAME");
        return cli_cmd_simple(path, json_pack("{s:s,s:s}", "cmd", "force-leave", "name", args[1]),
                              NULL, out, err);
    }
    if (strcmp(cmd, "tags") == 0)
        return cli_cmd_tags(path, n, args, out, err);
    if (strcmp(cmd, "event") == 0) {
        if (n < 2 || n > 3)
            return cli_usage_error(err, "event needs NAME and an optional PAYLOAD");
        return cli_cmd_simple(path,
                              json_pack("{s:s,s:s,s:s}", "cmd", "event", "name", args[1], "payload",
                                        n == 3 ? args[2] : ""),
                              NULL, out, err);
    }
    if (strcmp(cmd, "watch") == 0)
        return cli_cmd_watch(path, n, args, out, err);
    if (strcmp(cmd, "monitor") == 0)
        return cli_cmd_monitor(path, n, args, out, err);
    if (strcmp(cmd, "run") == 0)
        return cli_cmd_run(path, n, args, out, err);
    if (strcmp(cmd, "keygen") == 0) {
        char key[KEYRING_B64_MAX];
        if (n != 1)
            return cli_usage_error(err, "keygen takes no argument");
        if (keyring_generate_base64(key) != 0) {
            fprintf(err, "swimctl: libsodium failed to start\n");
            return CLI_EXIT_FAILED;
        }
        fprintf(out, "%s\n", key);
        return CLI_EXIT_OK;
    }
    fprintf(err, "swimctl: unknown command \"%s\" (see swimctl --help)\n", cmd);
    return CLI_EXIT_USAGE;
}
