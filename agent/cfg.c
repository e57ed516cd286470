/*
 * cfg.c - see cfg.h.  Flags are parsed by hand rather than with getopt so
 * that a reload can parse the same argv again (getopt keeps global state)
 * and so that every message names the offending flag the same way.  Both
 * "--flag value" and "--flag=value" are accepted.
 */
#include "cfg.h"

#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "evtype.h"
#include "regfile.h"
#include "tags.h"
#include "text.h"

#include <sys/un.h>

_Static_assert(CFG_SOCKET_PATH_MAX + 1 == sizeof(((struct sockaddr_un *)0)->sun_path),
               "socket path limit");

static int cfg_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int cfg_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return ERR_INVAL;
}

/* Copy src into a fixed field; ERR_TOOBIG when it does not fit. */
static int cfg_copy(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        return ERR_TOOBIG;
    memcpy(dst, src, n + 1);
    return 0;
}

void cfg_defaults(struct cfg *c)
{
    memset(c, 0, sizeof(*c));
    char host[256] = "";
    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "swimd");
    host[SWIM_NAME_MAX] = '\0';
    if (!swim_name_valid(host, strlen(host)))
        snprintf(host, sizeof(host), "swimd"); /* a hostname no name may be */
    snprintf(c->name, sizeof(c->name), "%s", host);
    snprintf(c->bind, sizeof(c->bind), "%s", CFG_DEFAULT_BIND);
    snprintf(c->socket_path, sizeof(c->socket_path), "%s", CFG_DEFAULT_SOCKET);
    c->socket_mode = CFG_DEFAULT_SOCKET_MODE;
    c->socket_gid = -1;
    snprintf(c->profile, sizeof(c->profile), "lan");
    c->log_level = LOG_INFO;
    c->log_format = LOG_FORMAT_TEXT;
    c->handler_timeout_ms = CFG_HANDLER_TIMEOUT_DEFAULT_MS;
    c->event_history = CFG_EVENT_HISTORY_DEFAULT;
    c->watch_queue = CFG_WATCH_QUEUE_DEFAULT;
}

/* A decimal integer in [min, max], nothing else. */
static int cfg_parse_uint(const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
    if (*text == '\0' || strlen(text) > 10)
        return ERR_INVAL;
    uint64_t v = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return ERR_INVAL;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v < min || v > max)
        return ERR_INVAL;
    *out = (uint32_t)v;
    return 0;
}

static int cfg_parse_mode(const char *text, unsigned *mode)
{
    if (*text == '\0' || strlen(text) > 4)
        return ERR_INVAL;
    unsigned v = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '7')
            return ERR_INVAL;
        v = v * 8 + (unsigned)(*p - '0');
    }
    if (v > 0777 || (v & 0600) != 0600)
        return ERR_INVAL; /* the owner must be able to connect */
    *mode = v;
    return 0;
}

/* A group by name or number into c; ERR_INVAL when there is no such group
 * (a number is taken as it is: the kernel needs no entry for it). */
static int cfg_parse_group(struct cfg *c, const char *text)
{
    uint32_t gid;
    if (text[0] == '\0' || cfg_copy(c->socket_group, sizeof(c->socket_group), text) != 0)
        return ERR_INVAL;
    if (cfg_parse_uint(text, 0, INT32_MAX, &gid) == 0) {
        c->socket_gid = (long)gid;
        return 0;
    }
    struct group gr, *found = NULL;
    char buf[16384];
    if (getgrnam_r(text, &gr, buf, sizeof(buf), &found) != 0 || found == NULL)
        return ERR_INVAL;
    c->socket_gid = (long)found->gr_gid;
    return 0;
}

/* Add/replace tags in the encoded block of c. */
static int cfg_tag_set(struct cfg *c, const char *key, const char *value)
{
    struct tags *t = tags_new();
    if (t == NULL)
        return ERR_NOMEM;
    int rc = tags_load(t, c->tags, c->tags_len);
    if (rc == 0)
        rc = tags_set(t, key, value);
    if (rc == 0) {
        size_t len;
        const uint8_t *b = tags_bytes(t, &len);
        memcpy(c->tags, b, len);
        c->tags_len = len;
    }
    tags_delete(t);
    return rc;
}

/* Count the handler just copied in if its spec parses (evtype.h), so a bad
 * one is refused where it was given. */
static int cfg_handler_check(struct cfg *c, const char *value, const char *what, char *err,
                             size_t errlen)
{
    struct ev_handler_spec spec; /* checked, not kept: the runtime parses the text */
    char why[CFG_ERR_MAX / 2];
    if (ev_handler_spec_parse(value, &spec, why, sizeof(why)) != 0)
        return cfg_fail(err, errlen, "%s: %s", what, why);
    c->handler_count++;
    return 0;
}

/*
 * One setting by name, from the file or a flag.  `what` names the source in
 * messages ("--bind", "config.json: bind").
 */
enum cfg_key {
    CFG_K_NAME,
    CFG_K_BIND,
    CFG_K_ADVERTISE,
    CFG_K_JOIN,
    CFG_K_SOCKET,
    CFG_K_SOCKET_MODE,
    CFG_K_SOCKET_GROUP,
    CFG_K_PROFILE,
    CFG_K_KEYRING,
    CFG_K_LABEL,
    CFG_K_TAG,
    CFG_K_LOG_LEVEL,
    CFG_K_LOG_FORMAT,
    CFG_K_HANDLER,
    CFG_K_HANDLER_TIMEOUT,
    CFG_K_EVENT_HISTORY,
    CFG_K_WATCH_QUEUE,
    CFG_K_SNAPSHOT,
    CFG_K_PROTOCOL,
    CFG_K_METRICS,
    CFG_K_MAX_MEMBERS,
};

/* The protocol tunables an operator may set over the profile: every field
 * of struct swim_config, by the names the core gives them
 * (swim_config_key), so a new tunable needs no change here. */

/* "KEY=VALUE" for a protocol field; the value is a decimal uint32. */
static int cfg_proto_set(struct cfg *c, const char *kv, const char *what, char *err, size_t errlen)
{
    const char *eq = strchr(kv, '=');
    size_t klen = eq != NULL ? (size_t)(eq - kv) : 0;
    const char *key;
    for (size_t i = 0; eq != NULL && i < CFG_PROTO_MAX && (key = swim_config_key(i)) != NULL; i++) {
        if (strlen(key) != klen || strncmp(key, kv, klen) != 0)
            continue;
        if (cfg_parse_uint(eq + 1, 0, UINT32_MAX, &c->proto[i]) != 0)
            return cfg_fail(err, errlen, "%s: %s: expected a whole number, got \"%s\"", what, key,
                            eq + 1);
        c->proto_set |= 1u << i;
        return 0;
    }
    char keys[CFG_ERR_MAX - 128] = ""; /* room for the rest of the message */
    size_t used = 0;
    for (size_t i = 0; i < CFG_PROTO_MAX && (key = swim_config_key(i)) != NULL; i++) {
        int n = snprintf(keys + used, sizeof(keys) - used, "%s%s", i > 0 ? ", " : "", key);
        if (n < 0 || (size_t)n >= sizeof(keys) - used)
            break;
        used += (size_t)n;
    }
    return cfg_fail(err, errlen, "%s: expected KEY=VALUE with KEY one of %s; got \"%.64s\"", what,
                    keys, kv);
}

int cfg_protocol(const struct cfg *c, struct swim_config *out, char *err, size_t errlen)
{
    if (swim_config_profile(out, c->profile) != 0)
        return cfg_fail(err, errlen, "profile: unknown \"%s\"", c->profile);
    for (size_t i = 0; i < CFG_PROTO_MAX && swim_config_key(i) != NULL; i++)
        if (c->proto_set & (1u << i))
            (void)swim_config_set(out, swim_config_key(i), c->proto[i]);
    if (c->max_members != 0)
        out->max_members = c->max_members;
    if (swim_config_check(out) != 0)
        return cfg_fail(err, errlen,
                        "protocol: the %s profile with these overrides is not valid (every "
                        "interval above 0, probe_timeout_ms below probe_interval_ms, "
                        "max_packet %d to %d, at most 16 gossip_nodes / indirect_checks)",
                        c->profile, SWIM_PACKET_MIN, SWIM_PACKET_MAX);
    if (out->leave_linger_ms > CFG_LEAVE_LINGER_MAX_MS)
        return cfg_fail(err, errlen,
                        "protocol: leave_linger_ms is at most %u (a leave must end in time)",
                        CFG_LEAVE_LINGER_MAX_MS);
    return 0;
}

static int cfg_apply(struct cfg *c, enum cfg_key key, const char *value, const char *what,
                     char *err, size_t errlen)
{
    char host[ADDR_HOST_MAX];
    uint16_t port;
    switch (key) {
    case CFG_K_NAME:
        if (!swim_name_valid(value, strlen(value)) ||
            cfg_copy(c->name, sizeof(c->name), value) != 0)
            return cfg_fail(err, errlen,
                            "%s: a name is 1 to %d bytes of UTF-8 text without spaces, control or "
                            "invisible characters",
                            what, SWIM_NAME_MAX);
        return 0;
    case CFG_K_BIND:
    case CFG_K_ADVERTISE:
        if (addr_split(value, key == CFG_K_BIND ? CFG_DEFAULT_PORT : -1, host, &port) != 0)
            return cfg_fail(err, errlen, "%s: expected HOST:PORT or [IPV6]:PORT, got \"%s\"", what,
                            value);
        return cfg_copy(key == CFG_K_BIND ? c->bind : c->advertise, CFG_HOSTPORT_MAX, value);
    case CFG_K_JOIN:
        if (addr_split(value, CFG_DEFAULT_PORT, host, &port) != 0)
            return cfg_fail(err, errlen, "%s: expected HOST[:PORT] or [IPV6]:PORT, got \"%s\"",
                            what, value);
        if (c->join_count >= CFG_JOIN_MAX)
            return cfg_fail(err, errlen, "%s: at most %d join addresses", what, CFG_JOIN_MAX);
        return cfg_copy(c->join[c->join_count++], CFG_HOSTPORT_MAX, value);
    case CFG_K_SOCKET:
        if (value[0] == '\0' || strlen(value) > CFG_SOCKET_PATH_MAX)
            return cfg_fail(err, errlen, "%s: a socket path is 1 to %d bytes", what,
                            CFG_SOCKET_PATH_MAX);
        return cfg_copy(c->socket_path, sizeof(c->socket_path), value);
    case CFG_K_SOCKET_MODE:
        if (cfg_parse_mode(value, &c->socket_mode) != 0)
            return cfg_fail(err, errlen,
                            "%s: expected an octal mode with owner read/write, e.g. 0600, got "
                            "\"%s\"",
                            what, value);
        return 0;
    case CFG_K_SOCKET_GROUP:
        if (cfg_parse_group(c, value) != 0)
            return cfg_fail(err, errlen, "%s: no such group \"%.64s\"", what, value);
        return 0;
    case CFG_K_PROFILE:
        if (strcmp(value, "lan") != 0 && strcmp(value, "wan") != 0 && strcmp(value, "local") != 0)
            return cfg_fail(err, errlen, "%s: expected lan, wan or local, got \"%s\"", what, value);
        return cfg_copy(c->profile, sizeof(c->profile), value);
    case CFG_K_KEYRING:
        if (cfg_copy(c->keyring, sizeof(c->keyring), value) != 0)
            return cfg_fail(err, errlen, "%s: path too long", what);
        return 0;
    case CFG_K_LABEL:
        if (!text_valid(value, strlen(value)) || cfg_copy(c->label, sizeof(c->label), value) != 0)
            return cfg_fail(err, errlen,
                            "%s: a label is at most %d bytes of UTF-8 text without control "
                            "characters",
                            what, CFG_LABEL_MAX);
        return 0;
    case CFG_K_TAG: {
        char k[TAGS_KEY_MAX + 1], v[TAGS_VALUE_MAX + 1];
        if (tags_parse_kv(value, k, v) != 0)
            return cfg_fail(err, errlen,
                            "%s: expected KEY=VALUE (key 1-255 bytes without '=' or ','), got "
                            "\"%s\"",
                            what, value);
        int rc = cfg_tag_set(c, k, v);
        if (rc == ERR_TOOBIG)
            return cfg_fail(err, errlen, "%s: tags exceed %d encoded bytes", what, SWIM_META_MAX);
        if (rc != 0)
            return cfg_fail(err, errlen, "%s: %s", what, err_strerror(rc));
        return 0;
    }
    case CFG_K_LOG_LEVEL:
        if (log_level_parse(value, &c->log_level) != 0)
            return cfg_fail(err, errlen, "%s: expected error, warn, info or debug, got \"%s\"",
                            what, value);
        return 0;
    case CFG_K_LOG_FORMAT:
        if (log_format_parse(value, &c->log_format) != 0)
            return cfg_fail(err, errlen, "%s: expected text or json, got \"%s\"", what, value);
        return 0;
    case CFG_K_HANDLER:
        if (value[0] == '\0')
            return cfg_fail(err, errlen, "%s: expected [TYPES=]COMMAND, got an empty value", what);
        if (c->handler_count >= CFG_HANDLERS_MAX)
            return cfg_fail(err, errlen, "%s: at most %d event handlers", what, CFG_HANDLERS_MAX);
        if (cfg_copy(c->handlers[c->handler_count], CFG_HANDLER_MAX, value) != 0)
            return cfg_fail(err, errlen, "%s: a handler is at most %d bytes", what,
                            CFG_HANDLER_MAX - 1);
        return cfg_handler_check(c, value, what, err, errlen);
    case CFG_K_HANDLER_TIMEOUT:
        if (cfg_parse_uint(value, 1, CFG_HANDLER_TIMEOUT_MAX_MS, &c->handler_timeout_ms) != 0)
            return cfg_fail(err, errlen, "%s: expected milliseconds, 1 to %u, got \"%s\"", what,
                            CFG_HANDLER_TIMEOUT_MAX_MS, value);
        return 0;
    case CFG_K_EVENT_HISTORY:
        if (cfg_parse_uint(value, CFG_EVENT_HISTORY_MIN, CFG_EVENT_HISTORY_MAX,
                           &c->event_history) != 0)
            return cfg_fail(err, errlen, "%s: expected a number of events, %d to %d, got \"%s\"",
                            what, CFG_EVENT_HISTORY_MIN, CFG_EVENT_HISTORY_MAX, value);
        return 0;
    case CFG_K_WATCH_QUEUE:
        if (cfg_parse_uint(value, CFG_WATCH_QUEUE_MIN, CFG_WATCH_QUEUE_MAX, &c->watch_queue) != 0)
            return cfg_fail(err, errlen, "%s: expected a number of events, %d to %d, got \"%s\"",
                            what, CFG_WATCH_QUEUE_MIN, CFG_WATCH_QUEUE_MAX, value);
        return 0;
    case CFG_K_SNAPSHOT:
        if (value[0] == '\0' || cfg_copy(c->snapshot, sizeof(c->snapshot), value) != 0)
            return cfg_fail(err, errlen, "%s: a path is 1 to %d bytes", what, CFG_PATH_MAX - 1);
        return 0;
    case CFG_K_PROTOCOL:
        return cfg_proto_set(c, value, what, err, errlen);
    case CFG_K_METRICS:
        if (addr_split(value, -1, host, &port) != 0)
            return cfg_fail(err, errlen, "%s: expected HOST:PORT or [IPV6]:PORT, got \"%s\"", what,
                            value);
        return cfg_copy(c->metrics, sizeof(c->metrics), value);
    case CFG_K_MAX_MEMBERS:
        if (cfg_parse_uint(value, 1, SWIM_MEMBERS_LIMIT, &c->max_members) != 0)
            return cfg_fail(err, errlen, "%s: expected a number of members, 1 to %u, got \"%s\"",
                            what, SWIM_MEMBERS_LIMIT, value);
        return 0;
    }
    return cfg_fail(err, errlen, "%s: unknown setting", what);
}

struct cfg_flag {
    const char *flag;
    const char *json;
    enum cfg_key key;
};

static const struct cfg_flag cfg_flags[] = {
    {"--name", "name", CFG_K_NAME},
    {"--bind", "bind", CFG_K_BIND},
    {"--advertise", "advertise", CFG_K_ADVERTISE},
    {"--join", "join", CFG_K_JOIN},
    {"--socket", "socket", CFG_K_SOCKET},
    {"--socket-mode", "socket_mode", CFG_K_SOCKET_MODE},
    {"--socket-group", "socket_group", CFG_K_SOCKET_GROUP},
    {"--profile", "profile", CFG_K_PROFILE},
    {"--keyring", "keyring", CFG_K_KEYRING},
    {"--label", "label", CFG_K_LABEL},
    {"--tag", "tags", CFG_K_TAG},
    {"--log-level", "log_level", CFG_K_LOG_LEVEL},
    {"--log-format", "log_format", CFG_K_LOG_FORMAT},
    {"--event-handler", "event_handlers", CFG_K_HANDLER},
    {"--handler-timeout", "handler_timeout_ms", CFG_K_HANDLER_TIMEOUT},
    {"--event-history", "event_history", CFG_K_EVENT_HISTORY},
    {"--watch-queue", "watch_queue", CFG_K_WATCH_QUEUE},
    {"--snapshot", "snapshot", CFG_K_SNAPSHOT},
    {"--protocol", "protocol", CFG_K_PROTOCOL},
    {"--metrics", "metrics", CFG_K_METRICS},
    {"--max-members", "max_members", CFG_K_MAX_MEMBERS},
};
#define CFG_NFLAGS (sizeof(cfg_flags) / sizeof(cfg_flags[0]))

int cfg_load_json(struct cfg *c, const char *path, char *err, size_t errlen)
{
    int fd = -1;
    size_t size = 0, got = 0;
    int rc = regfile_open(path, CFG_FILE_MAX, 0, &fd, &size);
    if (rc == ERR_INVAL || rc == ERR_TOOBIG)
        return cfg_fail(err, errlen, "config %s: not a regular file of at most %d bytes", path,
                        CFG_FILE_MAX);
    if (rc != 0)
        return cfg_fail(err, errlen, "config %s: cannot read: %s", path,
                        strerror(rc == ERR_NOTFOUND ? ENOENT : errno));
    char *text = malloc(size + 1);
    if (text == NULL) {
        close(fd);
        return cfg_fail(err, errlen, "config %s: out of memory", path);
    }
    if (regfile_read_close(fd, text, size, &got) != 0)
        rc = cfg_fail(err, errlen, "config %s: cannot read: %s", path, strerror(errno));
    else
        rc = cfg_load_json_text(c, text, got, path, err, errlen);
    free(text);
    return rc;
}

int cfg_load_json_text(struct cfg *c, const char *text, size_t len, const char *path, char *err,
                       size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return cfg_fail(err, errlen, "config %s: line %d column %d: %s", path, jerr.line,
                        jerr.column, jerr.text);
    int rc = 0;
    if (!json_is_object(root)) {
        rc = cfg_fail(err, errlen, "config %s: expected a JSON object", path);
        goto out;
    }
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v)
    {
        const struct cfg_flag *f = NULL;
        for (size_t i = 0; i < CFG_NFLAGS; i++)
            if (strcmp(cfg_flags[i].json, k) == 0)
                f = &cfg_flags[i];
        char what[CFG_PATH_MAX + 64];
        snprintf(what, sizeof(what), "config %s: %.40s", path, k);
        if (f == NULL) {
            rc = cfg_fail(err, errlen, "%s: unknown setting", what);
            goto out;
        }
        if (f->key == CFG_K_JOIN || f->key == CFG_K_HANDLER) {
            if (!json_is_array(v)) {
                rc = cfg_fail(err, errlen, "%s: expected an array of strings", what);
                goto out;
            }
            if (f->key == CFG_K_JOIN)
                c->join_count = 0;
            else
                c->handler_count = 0;
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e)
            {
                if (!json_is_string(e)) {
                    rc = cfg_fail(err, errlen, "%s: expected strings", what);
                    goto out;
                }
                if ((rc = cfg_apply(c, f->key, json_string_value(e), what, err, errlen)) != 0)
                    goto out;
            }
        } else if (f->key == CFG_K_TAG) {
            if (!json_is_object(v)) {
                rc = cfg_fail(err, errlen, "%s: expected an object of string values", what);
                goto out;
            }
            c->tags_len = 0;
            const char *tk;
            json_t *tv;
            json_object_foreach(v, tk, tv)
            {
                if (!json_is_string(tv) || tags_check_key(tk) != 0 ||
                    strlen(json_string_value(tv)) != json_string_length(tv) ||
                    tags_check_value(json_string_value(tv)) != 0) {
                    rc = cfg_fail(err, errlen,
                                  "%s: bad tag \"%.40s\" (key 1-255 bytes without '=' or ',', "
                                  "string value up to 255 bytes)",
                                  what, tk);
                    goto out;
                }
                rc = cfg_tag_set(c, tk, json_string_value(tv));
                if (rc != 0) {
                    rc = cfg_fail(err, errlen, "%s: tags exceed %d encoded bytes", what,
                                  SWIM_META_MAX);
                    goto out;
                }
            }
        } else if (f->key == CFG_K_PROTOCOL) {
            if (!json_is_object(v)) {
                rc = cfg_fail(err, errlen, "%s: expected an object of integers", what);
                goto out;
            }
            const char *pk;
            json_t *pv;
            json_object_foreach(v, pk, pv)
            {
                char kv[96];
                if (!json_is_integer(pv) || json_integer_value(pv) < 0 ||
                    json_integer_value(pv) > (json_int_t)UINT32_MAX) {
                    rc = cfg_fail(err, errlen, "%s: %.40s: expected a whole number", what, pk);
                    goto out;
                }
                snprintf(kv, sizeof(kv), "%.40s=%lld", pk, (long long)json_integer_value(pv));
                if ((rc = cfg_proto_set(c, kv, what, err, errlen)) != 0)
                    goto out;
            }
        } else if (f->key == CFG_K_HANDLER_TIMEOUT || f->key == CFG_K_EVENT_HISTORY ||
                   f->key == CFG_K_WATCH_QUEUE || f->key == CFG_K_MAX_MEMBERS) {
            char num[24];
            if (!json_is_integer(v) || json_integer_value(v) < 0) {
                rc = cfg_fail(err, errlen, "%s: expected a non-negative integer", what);
                goto out;
            }
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
            if ((rc = cfg_apply(c, f->key, num, what, err, errlen)) != 0)
                goto out;
        } else {
            if (!json_is_string(v)) {
                rc = cfg_fail(err, errlen, "%s: expected a string", what);
                goto out;
            }
            if ((rc = cfg_apply(c, f->key, json_string_value(v), what, err, errlen)) != 0)
                goto out;
        }
    }
out:
    json_decref(root);
    return rc;
}

/* Match argv[*i] against a value flag; sets *value (from "=..." or the next
 * argument).  Returns 1 on a match, 0 if not this flag, ERR_INVAL when the
 * value is missing. */
static int cfg_match(const char *flag, int argc, char *const *argv, int *i, const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(flag);
    if (strncmp(arg, flag, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return ERR_INVAL;
    *value = argv[++*i];
    return 1;
}

int cfg_parse_args(struct cfg *c, int argc, char *const *argv, enum cfg_action *action, char *err,
                   size_t errlen)
{
    *action = CFG_RUN;
    cfg_defaults(c);
    /* Pass 1: --help, --version, --config. */
    for (int i = 1; i < argc; i++) {
        const char *value;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            *action = CFG_HELP;
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            *action = CFG_VERSION;
            return 0;
        }
        int m = cfg_match("--config", argc, argv, &i, &value);
        if (m < 0)
            return cfg_fail(err, errlen, "--config: missing value");
        if (m > 0 && cfg_copy(c->config_path, sizeof(c->config_path), value) != 0)
            return cfg_fail(err, errlen, "--config: path too long");
    }
    if (c->config_path[0] != '\0') {
        int rc = cfg_load_json(c, c->config_path, err, errlen);
        if (rc != 0)
            return rc;
    }
    /* Pass 2: every other flag, over the file. */
    int joins_from_flags = 0, handlers_from_flags = 0;
    for (int i = 1; i < argc; i++) {
        const char *value = NULL;
        int m = cfg_match("--config", argc, argv, &i, &value);
        if (m > 0)
            continue;
        const struct cfg_flag *f = NULL;
        for (size_t k = 0; k < CFG_NFLAGS && f == NULL; k++) {
            m = cfg_match(cfg_flags[k].flag, argc, argv, &i, &value);
            if (m < 0)
                return cfg_fail(err, errlen, "%s: missing value", cfg_flags[k].flag);
            if (m > 0)
                f = &cfg_flags[k];
        }
        if (f == NULL) {
            if (argv[i][0] == '-')
                return cfg_fail(err, errlen, "unknown flag %s (see --help)", argv[i]);
            return cfg_fail(err, errlen, "unexpected argument \"%s\" (see --help)", argv[i]);
        }
        if (f->key == CFG_K_JOIN && !joins_from_flags) {
            joins_from_flags = 1;
            c->join_count = 0;
        }
        if (f->key == CFG_K_HANDLER && !handlers_from_flags) {
            handlers_from_flags = 1;
            c->handler_count = 0;
        }
        int rc = cfg_apply(c, f->key, value, f->flag, err, errlen);
        if (rc != 0)
            return rc;
    }
    return cfg_check(c, err, errlen);
}

/* The numeric address text resolves to, or 0 when it is a name (checked
 * when it is looked up).  1 on success. */
static int cfg_numeric(const char *text, int default_port, struct sockaddr_storage *ss)
{
    size_t n = 0;
    return addr_resolve(text, default_port, 1, ss, 1, &n) == 0 && n == 1;
}

/* The addresses: bind, advertise and the numeric join seeds. */
static int cfg_check_addrs(const struct cfg *c, char *err, size_t errlen)
{
    char host[ADDR_HOST_MAX];
    uint16_t port;
    struct sockaddr_storage ss;
    const struct sockaddr *sa = (const struct sockaddr *)&ss;
    if (addr_split(c->bind, CFG_DEFAULT_PORT, host, &port) != 0)
        return cfg_fail(err, errlen, "bind: bad address \"%s\"", c->bind);
    if (c->advertise[0] == '\0' && cfg_numeric(c->bind, CFG_DEFAULT_PORT, &ss) &&
        addr_is_scoped(sa))
        return cfg_fail(err, errlen,
                        "bind: \"%s\" is link-local or scoped; give --advertise an address "
                        "peers can reach",
                        c->bind);
    if (c->advertise[0] != '\0') {
        if (addr_split(c->advertise, -1, host, &port) != 0)
            return cfg_fail(err, errlen, "advertise: bad address \"%s\"", c->advertise);
        if (port == 0)
            return cfg_fail(err, errlen, "advertise: port 0 cannot be reached");
        if (cfg_numeric(c->advertise, -1, &ss) && addr_is_scoped(sa))
            return cfg_fail(err, errlen,
                            "advertise: \"%s\" is link-local or scoped: its scope means nothing "
                            "to other hosts",
                            c->advertise);
        if (cfg_numeric(c->advertise, -1, &ss) && !addr_is_peer(sa))
            return cfg_fail(err, errlen,
                            "advertise: \"%s\" is not a unicast address peers can reach",
                            c->advertise);
    }
    for (size_t i = 0; i < c->join_count; i++)
        if (cfg_numeric(c->join[i], CFG_DEFAULT_PORT, &ss) && !addr_is_peer(sa))
            return cfg_fail(err, errlen,
                            "join: \"%s\" is not a unicast address with a port (unspecified, "
                            "port 0, multicast or broadcast)",
                            c->join[i]);
    return 0;
}

/* A --snapshot path that exists must be a regular file (not a symbolic
 * link): a FIFO would block start-up, and the first write would replace a
 * device or a socket with a regular file. */
static int cfg_check_snapshot(const struct cfg *c, char *err, size_t errlen)
{
    struct stat st;
    if (c->snapshot[0] == '\0' || lstat(c->snapshot, &st) != 0)
        return 0; /* none, or not there yet: the first write makes it */
    if (!S_ISREG(st.st_mode))
        return cfg_fail(err, errlen, "snapshot: %s exists and is not a regular file (%s)",
                        c->snapshot,
                        S_ISLNK(st.st_mode)    ? "a symbolic link; give its target"
                        : S_ISFIFO(st.st_mode) ? "a FIFO"
                        : S_ISSOCK(st.st_mode) ? "a socket"
                        : S_ISDIR(st.st_mode)  ? "a directory"
                                               : "a device");
    return 0;
}

int cfg_check(const struct cfg *c, char *err, size_t errlen)
{
    if (!swim_name_valid(c->name, strnlen(c->name, sizeof(c->name))))
        return cfg_fail(err, errlen,
                        "name: 1 to %d bytes of UTF-8 text without spaces, control or invisible "
                        "characters",
                        SWIM_NAME_MAX);
    int rc = cfg_check_addrs(c, err, errlen);
    if (rc != 0)
        return rc;
    if (c->socket_path[0] == '\0' || strlen(c->socket_path) > CFG_SOCKET_PATH_MAX)
        return cfg_fail(err, errlen, "socket: a socket path is 1 to %d bytes", CFG_SOCKET_PATH_MAX);
    if ((rc = cfg_check_snapshot(c, err, errlen)) != 0)
        return rc;
    struct swim_config sc;
    return cfg_protocol(c, &sc, err, errlen);
}

void cfg_usage(FILE *out, const char *prog)
{
    fprintf(out,
            "usage: %s [flags]\n"
            "\n"
            "Run a SWIM membership agent: join a cluster over UDP, detect failed members,\n"
            "spread changes by gossip, and answer swimctl on a Unix socket.\n"
            "\n"
            "  --name NAME            node name, unique in the cluster (default: hostname)\n"
            "  --bind HOST:PORT       UDP address to bind, IPv4 or [IPv6]; port 0 picks one\n"
            "                         (default " CFG_DEFAULT_BIND ")\n"
            "  --advertise HOST:PORT  address peers should use (default: the bound address,\n"
            "                         or this host's first non-loopback address)\n"
            "  --join HOST[:PORT]     a member to join through; repeatable; names resolve to\n"
            "                         A and AAAA records (default port %d)\n"
            "  --socket PATH          control socket (default " CFG_DEFAULT_SOCKET ")\n"
            "  --socket-mode MODE     control socket mode, octal (default 0600)\n"
            "  --socket-group GROUP   the control socket's group: its members may use it\n"
            "                         (root and swimd's user always may; nobody else)\n"
            "  --profile lan|wan|local  protocol timings (default lan)\n"
            "  --protocol KEY=VALUE   override one protocol setting of the profile, e.g.\n"
            "                         probe_interval_ms=500 (repeatable; see README)\n"
            "  --keyring FILE         base64 keys, one per line; the first encrypts\n"
            "  --label TEXT           cluster label, bound into every datagram\n"
            "  --tag KEY=VALUE        a tag on this node; repeatable\n"
            "  --config FILE          JSON config file; flags override it\n"
            "  --log-level LEVEL      error, warn, info or debug (default info)\n"
            "  --log-format text|json one line per event: text, or a JSON object (default\n"
            "                         text); when stderr is the journal, lines start\n"
            "                         with <N> priorities and carry no time\n"
            "  --event-handler [TYPES=]COMMAND  run COMMAND (/bin/sh -c) for each event of\n"
            "                         TYPES (comma list: member-join, member-update,\n"
            "                         member-suspect, member-alive, member-failed,\n"
            "                         member-leave, member-reap, user, user:NAME, query,\n"
            "                         query:NAME; default every member and user event);\n"
            "                         a query handler's stdout (1 KB) is its answer;\n"
            "                         repeatable, at most %d\n"
            "  --handler-timeout MS   kill a handler still running after MS (default %d)\n"
            "  --event-history N      events kept for `swimctl watch --since` (default %d,\n"
            "                         %d to %d)\n"
            "  --watch-queue N        events queued per watcher before it lags (default %d)\n"
            "  --snapshot FILE        record known members in FILE; on restart, rejoin them\n"
            "                         without --join\n"
            "  --metrics HOST:PORT    serve Prometheus metrics at http://HOST:PORT/metrics\n"
            "                         (default: off)\n"
            "  --max-members N        members held at once, tombstones included (default\n"
            "                         %d): the oldest tombstone makes room, and new\n"
            "                         names are refused while all are live\n"
            "  --help, --version\n"
            "\n"
            "Signals: SIGTERM/SIGINT leave gracefully, then exit 0; SIGHUP reloads tags and\n"
            "the log level from the config file (handlers, history and snapshot are read\n"
            "at start only).\n"
            "Exit codes: 0 left cleanly, 1 runtime failure, 2 bad flags or config.\n",
            prog, CFG_DEFAULT_PORT, CFG_HANDLERS_MAX, CFG_HANDLER_TIMEOUT_DEFAULT_MS,
            CFG_EVENT_HISTORY_DEFAULT, CFG_EVENT_HISTORY_MIN, CFG_EVENT_HISTORY_MAX,
            CFG_WATCH_QUEUE_DEFAULT, SWIM_MEMBERS_DEFAULT);
}
