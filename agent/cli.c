/*
 * cli.c - see cli.h.
 */
#include "cli.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
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
                 "\n"
                 "  --socket PATH   control socket (default: $SWIM_SOCKET, else " CFG_DEFAULT_SOCKET
                 ")\n"
                 "  --help, --version\n"
                 "\n"
                 "Exit codes: 0 success, 1 swimd answered with an error, 2 bad usage,\n"
                 "3 swimd not reachable (\"cannot connect to swimd at PATH: reason\").\n");
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

int cli_main(int argc, char **argv, FILE *out, FILE *err)
{
    const char *path = getenv("SWIM_SOCKET");
    if (path == NULL || path[0] == '\0')
        path = CFG_DEFAULT_SOCKET;
    char *args[CLI_ARGS_MAX];
    int n = 0;
    for (int i = 1; i < argc; i++) {
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
