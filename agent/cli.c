/*
 * cli.c - see cli.h.
 *
 * Parsing.  Every level uses getopt_long() in "+" mode (options end at the
 * first operand or at "--"): first swimctl's own options, then the command
 * named by the first operand parses the rest, starting over (optind = 0).
 * Every command takes --socket and --help besides its own options; opterr is
 * off, so every message goes to the caller's err stream, in one format.  The
 * commands are one table (cli_cmds), which --help is printed from.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cfg.h"
#include "err.h"
#include "keyring.h"
#include "proc.h"
#include "tags.h"

/* Read chunk for responses. */
#define CLI_READ_CHUNK 65536
/* Filters one `members` may take (--tag). */
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
/* --help: a command and its arguments fill this many columns before its
 * description; a longer one puts the description on the next lines. */
#define CLI_HELP_COLUMN 26

#ifndef SWIMD_VERSION
#define SWIMD_VERSION "unknown"
#endif

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
    return rc;
}

int cli_call(const char *path, json_t *req, json_t **resp, int timeout_ms, char *msg, size_t msglen)
{
    *resp = NULL;
    int fd = cli_connect(path, msg, msglen);
    if (fd < 0)
        return fd;
    uint64_t deadline = cli_now_ms() + (uint64_t)timeout_ms;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = cli_send_line(fd, req, deadline);
    if (rc == ERR_NOMEM) {
        snprintf(msg, msglen, "out of memory");
        goto out;
    }
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
    fprintf(out, "replays_refused:  %lld\n", cli_int(info, "replays_refused"));
    fprintf(out, "malformed:        %lld\n", cli_int(info, "malformed"));
    fprintf(out, "health:           %lld\n", cli_int(info, "health"));
    fprintf(out, "name_conflicts:   %lld\n", cli_int(info, "name_conflicts"));
    fprintf(out, "max_members:      %lld (refused=%lld)\n", cli_int(info, "max_members"),
            cli_int(info, "members_refused"));
    fprintf(out, "encrypted:        %s\n",
            json_is_true(json_object_get(info, "encrypted")) ? "yes" : "no");
    fprintf(out, "label:            %s\n", label != NULL && label[0] != '\0' ? label : "-");
    fprintf(out, "profile:          %s\n", profile != NULL ? profile : "-");
    free(tags);
}

/* ---- command lines ------------------------------------------------------------- */

/* What every command gets: the socket, the streams, and its table entry. */
struct cli_ctx {
    const char *path;
    FILE *out, *err;
    const struct cli_cmd *cmd; /* NULL while swimctl's own options are parsed */
};

typedef int (*cli_cmd_f)(struct cli_ctx *c, int argc, char **argv);

struct cli_cmd {
    const char *name;
    const char *args; /* its usage after the name */
    const char *help; /* what it does; '\n' between lines */
    cli_cmd_f run;    /* argv[0] is the name; returns the exit code */
};

static void cli_usage(FILE *out);

/* Values getopt_long() returns for long options without a letter. */
enum {
    CLI_OPT_SOCKET = 256,
    CLI_OPT_VERSION,
    CLI_OPT_STATUS,
    CLI_OPT_TAG,
    CLI_OPT_JSON,
    CLI_OPT_SINCE,
    CLI_OPT_TYPE,
    CLI_OPT_PEER,
    CLI_OPT_GRACE,
};
/* cli_opt(): stop now and exit with *code. */
#define CLI_OPT_EXIT (-2)

/* The options every command takes; ends each command's table (kept on two
 * lines by hand: clang-format would break the terminator over three). */
/* clang-format off */
#define CLI_OPTS_COMMON \
    {"socket", required_argument, NULL, CLI_OPT_SOCKET}, {"help", no_argument, NULL, 'h'}, {0}
/* clang-format on */

static const struct option cli_opts_common[] = {CLI_OPTS_COMMON};

/* text's lines ('\n' between them), each after indent spaces. */
static void cli_print_lines(FILE *out, const char *text, int indent)
{
    /* One line per pass. */
    while (*text != '\0') {
        size_t n = strcspn(text, "\n");
        fprintf(out, "%*s%.*s\n", indent, "", (int)n, text);
        text += n + (text[n] != '\0');
    }
}

/* One command's entry in swimctl --help. */
static void cli_print_cmd(FILE *out, const struct cli_cmd *cmd)
{
    char head[128];
    snprintf(head, sizeof(head), "%s%s%s", cmd->name, cmd->args[0] != '\0' ? " " : "", cmd->args);
    const char *rest = cmd->help;
    if (strlen(head) < CLI_HELP_COLUMN) { /* the first help line beside it */
        size_t n = strcspn(rest, "\n");
        fprintf(out, "  %-*s%.*s\n", CLI_HELP_COLUMN, head, (int)n, rest);
        rest += n + (rest[n] != '\0');
    } else {
        fprintf(out, "  %s\n", head);
    }
    cli_print_lines(out, rest, CLI_HELP_COLUMN + 2);
}

/* swimctl COMMAND --help. */
static void cli_cmd_usage(FILE *out, const struct cli_cmd *cmd)
{
    fprintf(out, "usage: swimctl [--socket PATH] %s%s%s\n\n", cmd->name,
            cmd->args[0] != '\0' ? " " : "", cmd->args);
    cli_print_lines(out, cmd->help, 2);
}

static int cli_usage_error(FILE *err, const char *what)
{
    fprintf(err, "swimctl: %s (see swimctl --help)\n", what);
    return CLI_EXIT_USAGE;
}

/*
 * The next option of argv (getopt_long() over opts, which ends with
 * CLI_OPTS_COMMON), handling the common ones: --socket sets c->path,
 * --help prints the usage (CLI_OPT_EXIT, *code 0), an unknown option or a
 * missing value is a usage error (CLI_OPT_EXIT, *code 2).  -1 after the
 * last option: optind is then the first operand.
 */
static int cli_opt(struct cli_ctx *c, int argc, char **argv, const struct option *opts, int *code)
{
    for (;;) {
        int o = getopt_long(argc, argv, "+:h", opts, NULL);
        if (o == CLI_OPT_SOCKET) {
            c->path = optarg;
            continue;
        }
        if (o == 'h') {
            if (c->cmd == NULL)
                cli_usage(c->out);
            else
                cli_cmd_usage(c->out, c->cmd);
            *code = CLI_EXIT_OK;
            return CLI_OPT_EXIT;
        }
        if (o == '?' || o == ':') {
            /* The option as given: a long one is the whole word. */
            const char *bad = argv[optind - 1];
            char letter[3] = {'-', (char)optopt, '\0'};
            if (o == '?' && optopt != 0 && strncmp(bad, "--", 2) != 0)
                bad = letter;
            fprintf(c->err, "swimctl: %s%s%s \"%s\" (see swimctl --help)\n",
                    c->cmd != NULL ? c->cmd->name : "", c->cmd != NULL ? ": " : "",
                    o == ':' ? "missing value for" : "unknown option", bad);
            *code = CLI_EXIT_USAGE;
            return CLI_OPT_EXIT;
        }
        return o;
    }
}

/*
 * After the options: argv[optind..argc) must hold min..max operands (max
 * -1: no limit).  -1 when they do, else a usage error (its exit code) that
 * says `what`, or names the first extra operand when what is NULL.
 */
static int cli_operands(struct cli_ctx *c, int argc, char **argv, int min, int max,
                        const char *what)
{
    int n = argc - optind;
    if (n >= min && (max < 0 || n <= max))
        return -1;
    if (what != NULL)
        return cli_usage_error(c->err, what);
    fprintf(c->err, "swimctl: %s: unexpected argument \"%s\" (see swimctl --help)\n", c->cmd->name,
            argv[optind + max]);
    return CLI_EXIT_USAGE;
}

/* The command line of a command with only the common options: -1 to go on
 * (its operands from argv[optind]), or the exit code. */
static int cli_args(struct cli_ctx *c, int argc, char **argv, int min, int max, const char *what)
{
    int code, o;
    while ((o = cli_opt(c, argc, argv, cli_opts_common, &code)) != -1)
        if (o == CLI_OPT_EXIT)
            return code;
    return cli_operands(c, argc, argv, min, max, what);
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

static int cli_cmd_members(struct cli_ctx *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"status", required_argument, NULL, CLI_OPT_STATUS},
        {"tag", required_argument, NULL, CLI_OPT_TAG},
        {"json", no_argument, NULL, CLI_OPT_JSON},
        CLI_OPTS_COMMON,
    };
    struct cli_filter f = {NULL, 0, NULL};
    const char *tagv[CLI_ARGS_MAX];
    int as_json = 0, code, o;
    while ((o = cli_opt(c, argc, argv, opts, &code)) != -1) {
        if (o == CLI_OPT_EXIT)
            return code;
        if (o == CLI_OPT_JSON) {
            as_json = 1;
        } else if (o == CLI_OPT_STATUS) {
            f.status = optarg;
            if (strcmp(f.status, "alive") != 0 && strcmp(f.status, "suspect") != 0 &&
                strcmp(f.status, "failed") != 0 && strcmp(f.status, "left") != 0)
                return cli_usage_error(c->err, "--status takes alive, suspect, failed or left");
        } else if (o == CLI_OPT_TAG) {
            if (strchr(optarg, '=') == NULL || f.ntags >= CLI_ARGS_MAX)
                return cli_usage_error(c->err, "--tag takes KEY=VALUE");
            tagv[f.ntags++] = optarg;
        }
    }
    if ((code = cli_operands(c, argc, argv, 0, 0, NULL)) >= 0)
        return code;
    f.tags = tagv;
    json_t *reply;
    int rc = cli_exchange(c->path, json_pack("{s:s}", "cmd", "members"), &reply, c->err);
    if (rc != CLI_EXIT_OK)
        return rc;
    cli_print_members(c->out, json_object_get(reply, "members"), &f, as_json);
    json_decref(reply);
    return CLI_EXIT_OK;
}

static int cli_cmd_info(struct cli_ctx *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, CLI_OPT_JSON},
        CLI_OPTS_COMMON,
    };
    int as_json = 0, code, o;
    while ((o = cli_opt(c, argc, argv, opts, &code)) != -1) {
        if (o == CLI_OPT_EXIT)
            return code;
        as_json = 1; /* --json */
    }
    if ((code = cli_operands(c, argc, argv, 0, 0, "info takes only --json")) >= 0)
        return code;
    json_t *reply;
    int rc = cli_exchange(c->path, json_pack("{s:s}", "cmd", "info"), &reply, c->err);
    if (rc != CLI_EXIT_OK)
        return rc;
    cli_print_info(c->out, reply, as_json);
    json_decref(reply);
    return CLI_EXIT_OK;
}

static int cli_cmd_simple(struct cli_ctx *c, json_t *req, const char *done)
{
    json_t *reply;
    int rc = cli_exchange(c->path, req, &reply, c->err);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (done != NULL)
        fprintf(c->out, "%s\n", done);
    json_decref(reply);
    return CLI_EXIT_OK;
}

static int cli_cmd_join(struct cli_ctx *c, int argc, char **argv)
{
    int code = cli_args(c, argc, argv, 1, -1, "join needs at least one ADDR");
    if (code >= 0)
        return code;
    json_t *addrs = json_array();
    for (int i = optind; i < argc; i++)
        json_array_append_new(addrs, json_string(argv[i]));
    json_t *reply;
    int rc = cli_exchange(c->path, json_pack("{s:s,s:o}", "cmd", "join", "addrs", addrs), &reply,
                          c->err);
    if (rc != CLI_EXIT_OK)
        return rc;
    fprintf(c->out, "announced to %lld address(es)\n", cli_int(reply, "announced"));
    json_decref(reply);
    return CLI_EXIT_OK;
}

static int cli_cmd_leave(struct cli_ctx *c, int argc, char **argv)
{
    int code = cli_args(c, argc, argv, 0, 0, "leave takes no argument");
    if (code >= 0)
        return code;
    return cli_cmd_simple(c, json_pack("{s:s}", "cmd", "leave"), "leaving");
}

static int cli_cmd_force_leave(struct cli_ctx *c, int argc, char **argv)
{
    int code = cli_args(c, argc, argv, 1, 1, "force-leave needs one NAME");
    if (code >= 0)
        return code;
    return cli_cmd_simple(c, json_pack("{s:s,s:s}", "cmd", "force-leave", "name", argv[optind]),
                          NULL);
}

static int cli_cmd_tags(struct cli_ctx *c, int argc, char **argv)
{
    static const char *const usage = "tags set KEY=VALUE... | tags delete KEY...";
    int code = cli_args(c, argc, argv, 2, -1, usage);
    if (code >= 0)
        return code;
    json_t *req;
    const char *verb = argv[optind];
    if (strcmp(verb, "set") == 0) {
        json_t *tags = json_object();
        for (int i = optind + 1; i < argc; i++) {
            char k[TAGS_KEY_MAX + 1], v[TAGS_VALUE_MAX + 1];
            if (tags_parse_kv(argv[i], k, v) != 0) {
                json_decref(tags);
                fprintf(c->err, "swimctl: tags set: bad tag \"%s\" (want KEY=VALUE)\n", argv[i]);
                return CLI_EXIT_USAGE;
            }
            json_object_set_new(tags, k, json_string(v));
        }
        req = json_pack("{s:s,s:o}", "cmd", "tags-set", "tags", tags);
    } else if (strcmp(verb, "delete") == 0) {
        json_t *keys = json_array();
        for (int i = optind + 1; i < argc; i++)
            json_array_append_new(keys, json_string(argv[i]));
        req = json_pack("{s:s,s:o}", "cmd", "tags-delete", "keys", keys);
    } else {
        return cli_usage_error(c->err, usage);
    }
    json_t *reply;
    int rc = cli_exchange(c->path, req, &reply, c->err);
    if (rc != CLI_EXIT_OK)
        return rc;
    char *text = cli_tags_text(json_object_get(reply, "tags"));
    fprintf(c->out, "tags: %s\n", text != NULL && text[0] != '\0' ? text : "-");
    free(text);
    json_decref(reply);
    return CLI_EXIT_OK;
}

static int cli_cmd_event(struct cli_ctx *c, int argc, char **argv)
{
    int code = cli_args(c, argc, argv, 1, 2, "event needs NAME and an optional PAYLOAD");
    if (code >= 0)
        return code;
    const char *payload = optind + 1 < argc ? argv[optind + 1] : "";
    return cli_cmd_simple(
        c, json_pack("{s:s,s:s,s:s}", "cmd", "event", "name", argv[optind], "payload", payload),
        NULL);
}

static int cli_cmd_keygen(struct cli_ctx *c, int argc, char **argv)
{
    char key[KEYRING_B64_MAX];
    int code = cli_args(c, argc, argv, 0, 0, "keygen takes no argument");
    if (code >= 0)
        return code;
    if (keyring_generate_base64(key) != 0) {
        fprintf(c->err, "swimctl: libsodium failed to start\n");
        return CLI_EXIT_FAILED;
    }
    fprintf(c->out, "%s\n", key);
    return CLI_EXIT_OK;
}

/* ---- streaming commands: watch, monitor, run ----------------------------------- */

/*
 * A streaming exchange: one request, then lines until the connection ends.
 * Waits are on poll() over the socket, a signalfd (SIGINT, SIGTERM) and, for
 * run, CMD's pidfd, so they end on data, a signal, CMD's exit or a deadline:
 * never a busy loop, never an unbounded wait that a signal cannot cut short.
 */
struct cli_stream {
    int fd;
    int sigfd;
    int child_fd; /* a pidfd the waits also end on, or -1 */
    char *buf;
    size_t len, cap;
    sigset_t old_mask;
};

/* Why cli_stream_line() came back without a line (ERR_AGAIN). */
enum cli_wake {
    CLI_WAKE_SIGNAL = 1, /* SIGINT or SIGTERM */
    CLI_WAKE_CHILD,      /* child_fd: the child exited */
};

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
 * 0 (*line is a new reference), ERR_AGAIN (*wake says what came instead),
 * ERR_TIMEOUT, ERR_CLOSED (swimd hung up), ERR_MALFORMED, ERR_TOOBIG, ERR_IO.
 */
static int cli_stream_line(struct cli_stream *st, int timeout_ms, json_t **line,
                           enum cli_wake *wake)
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

/*
 * Connect, block SIGINT and SIGTERM (read through a signalfd), send req
 * (consumed) and read the reply line.  Returns an exit code: CLI_EXIT_OK
 * with *reply (NULL when a signal came first), CLI_EXIT_CONNECT or
 * CLI_EXIT_FAILED (message printed).
 */
static int cli_stream_open(struct cli_stream *st, const char *path, json_t *req, json_t **reply,
                           FILE *err)
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
    int rc = cli_send_line(fd, req, cli_now_ms() + CLI_TIMEOUT_MS);
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

static int cli_cmd_watch(struct cli_ctx *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"since", required_argument, NULL, CLI_OPT_SINCE},
        {"type", required_argument, NULL, CLI_OPT_TYPE},
        {"json", no_argument, NULL, CLI_OPT_JSON},
        CLI_OPTS_COMMON,
    };
    int as_json = 0, code, o;
    json_t *req = json_pack("{s:s}", "cmd", "watch");
    while ((o = cli_opt(c, argc, argv, opts, &code)) != -1) {
        char *end = NULL;
        if (o == CLI_OPT_EXIT) {
            json_decref(req);
            return code;
        }
        if (o == CLI_OPT_JSON) {
            as_json = 1;
        } else if (o == CLI_OPT_SINCE) {
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-') {
                json_decref(req);
                return cli_usage_error(c->err, "--since takes a sequence number");
            }
            json_object_set_new(req, "since", json_integer((json_int_t)v));
        } else if (o == CLI_OPT_TYPE) {
            /* swimd checks the names (evtype.h): a bad list is its error, exit 1 */
            json_object_set_new(req, "types", json_string(optarg));
        }
    }
    if ((code = cli_operands(c, argc, argv, 0, 0, NULL)) >= 0) {
        json_decref(req);
        return code;
    }
    struct cli_stream st;
    json_t *reply;
    int rc = cli_stream_open(&st, c->path, req, &reply, c->err);
    if (rc != CLI_EXIT_OK || reply == NULL)
        return rc;
    if (as_json) {
        json_object_del(reply, "ok");
        char *s = json_dumps(reply, JSON_COMPACT);
        if (s != NULL)
            fprintf(c->out, "%s\n", s);
        free(s);
    } else {
        fprintf(c->out, "%-8s %-12s %-15s %-16s %-21s %-8s %s\n", "SEQ", "TIME", "TYPE", "NAME",
                "ADDR", "STATUS", "TAGS");
    }
    json_decref(reply);
    fflush(c->out);
    for (;;) {
        json_t *line = NULL;
        enum cli_wake wake;
        int lrc = cli_stream_line(&st, -1, &line, &wake);
        if (lrc == ERR_AGAIN) {
            rc = CLI_EXIT_OK; /* interrupted: the normal way to stop watching */
            break;
        }
        if (lrc != 0) {
            fprintf(c->err, "swimctl: swimd closed the watch (%s)\n", err_strerror(lrc));
            rc = CLI_EXIT_CONNECT;
            break;
        }
        int lagged = json_is_true(json_object_get(line, "lagged"));
        if (as_json) {
            char *s = json_dumps(line, JSON_COMPACT);
            if (s != NULL)
                fprintf(c->out, "%s\n", s);
            free(s);
        } else if (!lagged && !json_is_true(json_object_get(line, "clock"))) {
            cli_print_event(c->out, line);
        }
        fflush(c->out);
        if (lagged) {
            long long first = cli_int(line, "first_missed");
            fprintf(c->err, "lagged: first missed event %lld; resume with --since %lld\n", first,
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

static int cli_cmd_monitor(struct cli_ctx *c, int argc, char **argv)
{
    int code = cli_args(c, argc, argv, 1, -1, "monitor needs at least one NAME");
    if (code >= 0)
        return code;
    struct cli_stream st;
    json_t *reply;
    int rc = cli_stream_open(&st, c->path, cli_monitor_req(argv + optind, argc - optind), &reply,
                             c->err);
    if (rc != CLI_EXIT_OK || reply == NULL)
        return rc;
    json_decref(reply);
    for (;;) {
        json_t *line = NULL;
        enum cli_wake wake;
        int lrc = cli_stream_line(&st, -1, &line, &wake);
        if (lrc == ERR_AGAIN) {
            rc = CLI_EXIT_OK;
            break;
        }
        if (lrc != 0) {
            fprintf(c->err, "swimctl: lost the connection to swimd (%s)\n", err_strerror(lrc));
            rc = CLI_EXIT_CONNECT;
            break;
        }
        int code = cli_print_report(c->out, line);
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

/* CMD's exit code once it is stopped (grace_ms: SIGTERM first) or has
 * exited (grace_ms unused); CLI_EXIT_FAILED when it cannot be reaped. */
static int cli_child_end(struct proc *child, int stop, uint64_t grace_ms)
{
    int status = 0;
    int rc = stop ? proc_stop(child, (uint32_t)grace_ms, &status) : proc_wait(child, -1, &status);
    return rc == 0 ? cli_child_code(status) : CLI_EXIT_FAILED;
}

/* The command line of run: peers and grace, CMD from argv[*cmd]. */
static int cli_run_args(struct cli_ctx *c, int argc, char **argv, char **names, int *nnames,
                        uint64_t *grace_ms, int *cmd)
{
    static const struct option opts[] = {
        {"peer", required_argument, NULL, CLI_OPT_PEER},
        {"grace", required_argument, NULL, CLI_OPT_GRACE},
        CLI_OPTS_COMMON,
    };
    static const char *const usage = "run --peer NAME... [--grace SEC] -- CMD [ARGS...]";
    double grace_s = CLI_RUN_GRACE_DEFAULT_S;
    int code, o;
    *nnames = 0;
    while ((o = cli_opt(c, argc, argv, opts, &code)) != -1) {
        char *end = NULL;
        if (o == CLI_OPT_EXIT)
            return code;
        if (o == CLI_OPT_PEER) {
            /* --peer NAME...: its value and every following word up to the
             * next option (each pass takes one word) */
            if (optarg[0] == '-')
                return cli_usage_error(c->err, "--peer needs at least one NAME");
            names[(*nnames)++] = optarg;
            for (; optind < argc && argv[optind][0] != '-'; optind++) {
                if (*nnames >= CLI_RUN_PEERS_MAX)
                    return cli_usage_error(c->err, "run takes at most 64 peers");
                names[(*nnames)++] = argv[optind];
            }
        } else if (o == CLI_OPT_GRACE) {
            grace_s = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(grace_s >= 0 && grace_s <= CLI_RUN_GRACE_MAX_S))
                return cli_usage_error(c->err, "--grace takes seconds, 0 to 3600");
        }
    }
    /* CMD is what follows "--", which getopt_long() consumed. */
    if (optind < argc && strcmp(argv[optind - 1], "--") != 0) {
        fprintf(c->err, "swimctl: run: unexpected argument \"%s\" (CMD goes after --)\n",
                argv[optind]);
        return CLI_EXIT_USAGE;
    }
    if (*nnames == 0 || optind >= argc)
        return cli_usage_error(c->err, usage);
    *grace_ms = (uint64_t)(grace_s * 1000.0);
    *cmd = optind;
    return -1;
}

/* Start CMD (argv[0..argc), searched in PATH) with the signal mask swimctl
 * had before it blocked its own.  0, or the exit code with a message. */
static int cli_run_start(struct cli_ctx *c, int argc, char **argv, const sigset_t *mask,
                         struct proc *child)
{
    char **cargv = calloc((size_t)argc + 1, sizeof(*cargv)); /* argv may lack its NULL */
    if (cargv == NULL) {
        fprintf(c->err, "swimctl: out of memory\n");
        return CLI_EXIT_FAILED;
    }
    memcpy(cargv, argv, (size_t)argc * sizeof(*cargv));
    struct proc_spec ps = {
        .path = cargv[0],
        .search = 1,
        .argv = cargv,
        .in = -1,
        .out = -1,
        .err = -1,
        .mask = mask,
    };
    fflush(c->out);
    fflush(c->err);
    int rc = proc_spawn(child, &ps);
    free(cargv);
    if (rc == 0)
        return 0;
    fprintf(c->err, "swimctl: cannot run %s: %s\n", argv[0], strerror(errno));
    return errno == EAGAIN || errno == ENOMEM ? CLI_EXIT_FAILED : CLI_EXIT_EXEC;
}

static int cli_cmd_run(struct cli_ctx *c, int argc, char **argv)
{
    char *names[CLI_RUN_PEERS_MAX];
    int nnames = 0, cmd = 0;
    uint64_t grace_ms = 0;
    int code = cli_run_args(c, argc, argv, names, &nnames, &grace_ms, &cmd);
    if (code >= 0)
        return code;
    struct cli_stream st;
    json_t *reply;
    int rc = cli_stream_open(&st, c->path, cli_monitor_req(names, nnames), &reply, c->err);
    if (rc != CLI_EXIT_OK || reply == NULL)
        return rc;
    long long immediate = cli_int(reply, "immediate");
    json_decref(reply);
    if (immediate > 0) { /* a peer is already gone: CMD is not started */
        json_t *line = NULL;
        enum cli_wake wake;
        int lrc = cli_stream_line(&st, CLI_TIMEOUT_MS, &line, &wake);
        code = lrc == 0 ? cli_print_report(c->out, line) : -1;
        json_decref(line);
        cli_stream_close(&st);
        if (code < 0)
            fprintf(c->err, "swimctl: swimd did not send the report it announced\n");
        return code >= 0 ? code : CLI_EXIT_CONNECT;
    }
    struct proc child;
    if ((code = cli_run_start(c, argc - cmd, argv + cmd, &st.old_mask, &child)) != 0) {
        cli_stream_close(&st);
        return code;
    }
    st.child_fd = child.fd;
    for (;;) {
        json_t *line = NULL;
        enum cli_wake wake = CLI_WAKE_SIGNAL;
        int lrc = cli_stream_line(&st, -1, &line, &wake);
        if (lrc == ERR_AGAIN) { /* CMD exited, or SIGINT/SIGTERM: stop CMD the gentle way */
            rc = cli_child_end(&child, wake == CLI_WAKE_SIGNAL, grace_ms);
            break;
        }
        if (lrc != 0) {
            fprintf(c->err, "swimctl: lost the connection to swimd (%s); stopping %s\n",
                    err_strerror(lrc), argv[cmd]);
            cli_child_end(&child, 1, grace_ms);
            rc = CLI_EXIT_CONNECT;
            break;
        }
        code = cli_print_report(c->out, line);
        json_decref(line);
        if (code == CLI_EXIT_PEER_FAILED) {
            cli_child_end(&child, 1, grace_ms);
            rc = code;
            break;
        }
        /* a peer that left (or vanished) is reported but does not stop CMD */
    }
    cli_stream_close(&st);
    return rc;
}

/* ---- the program ---------------------------------------------------------------- */

static const struct cli_cmd cli_cmd_table[] = {
    {"members", "[--status alive|suspect|failed|left] [--tag KEY=VALUE]... [--json]",
     "the members, as a table sorted by name or as JSON", cli_cmd_members},
    {"join", "ADDR...", "announce this node to ADDR (HOST[:PORT])", cli_cmd_join},
    {"leave", "", "leave the cluster; swimd exits when done", cli_cmd_leave},
    {"force-leave", "NAME", "mark a failed member as left now", cli_cmd_force_leave},
    {"info", "[--json]", "this node, member counts, traffic, health", cli_cmd_info},
    {"tags", "set KEY=VALUE... | delete KEY...", "set or remove tags on this node", cli_cmd_tags},
    {"event", "NAME [PAYLOAD]", "broadcast a user event to every member", cli_cmd_event},
    {"keygen", "", "print a new random base64 key for a keyring", cli_cmd_keygen},
    {"watch", "[--since SEQ] [--type TYPE,...] [--json]",
     "stream events in sequence order until interrupted;\n--since replays the history after SEQ",
     cli_cmd_watch},
    {"monitor", "NAME...",
     "wait until one of the members fails or leaves;\nprints \"NAME failed|left|unknown\"",
     cli_cmd_monitor},
    {"run", "--peer NAME... [--grace SEC] -- CMD [ARGS...]",
     "run CMD linked to the members: if one fails, CMD\ngets SIGTERM, then SIGKILL after SEC "
     "(default 10)",
     cli_cmd_run},
};
#define CLI_NCMDS (sizeof(cli_cmd_table) / sizeof(cli_cmd_table[0]))

static void cli_usage(FILE *out)
{
    fprintf(out, "usage: swimctl [--socket PATH] COMMAND [ARGS]\n"
                 "\n"
                 "Commands:\n");
    for (size_t i = 0; i < CLI_NCMDS; i++)
        cli_print_cmd(out, &cli_cmd_table[i]);
    fprintf(out, "\n"
                 "  --socket PATH   control socket (default: $SWIM_SOCKET, else " CFG_DEFAULT_SOCKET
                 ")\n"
                 "  --help, --version   (COMMAND --help: that command's usage)\n"
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

int cli_main(int argc, char **argv, FILE *out, FILE *err)
{
    static const struct option opts[] = {
        {"version", no_argument, NULL, CLI_OPT_VERSION},
        CLI_OPTS_COMMON,
    };
    struct cli_ctx c = {getenv("SWIM_SOCKET"), out, err, NULL};
    if (c.path == NULL || c.path[0] == '\0')
        c.path = CFG_DEFAULT_SOCKET;
    int code, o;
    opterr = 0;
    optind = 0; /* getopt's full reset: cli_main may run more than once */
    while ((o = cli_opt(&c, argc, argv, opts, &code)) != -1) {
        if (o == CLI_OPT_EXIT)
            return code;
        fprintf(out, "swimctl %s\n", SWIMD_VERSION); /* --version */
        return CLI_EXIT_OK;
    }
    if (optind >= argc)
        return cli_usage_error(err, "missing command");
    for (size_t i = 0; i < CLI_NCMDS; i++) {
        if (strcmp(argv[optind], cli_cmd_table[i].name) != 0)
            continue;
        c.cmd = &cli_cmd_table[i];
        int first = optind;
        optind = 0; /* the command parses its own words from the start */
        return c.cmd->run(&c, argc - first, argv + first);
    }
    fprintf(err, "swimctl: unknown command \"%s\" (see swimctl --help)\n", argv[optind]);
    return CLI_EXIT_USAGE;
}
