/*
 * cli_query.c - `swimctl query` (see cli.h): one query request with its
 * filters, then the acks and responses swimd streams back, as text or as
 * JSON lines, then the totals.
 *
 * Text output: "Query 'NAME' sent (id N, timeout MS ms)", then one line per
 * "Ack from 'NODE'" and "Response from 'NODE': PAYLOAD" (" (truncated)"
 * before the colon when the member's handler said more than 1 KB), as they
 * arrive, then "Total acks: N" and "Total responses: M".  A peer's payload
 * is escaped (text_escape(): control characters and bytes that are not
 * UTF-8 as \xNN), after dropping one trailing newline.  --json prints the
 * reply ({"id":..,"timeout_ms":..}) and then every streamed line as it is
 * (control section of the README).  SIGINT or SIGTERM stops waiting: the
 * totals so far are printed and the exit code is 0.
 */
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cli_int.h"
#include "err.h"
#include "query_codec.h"
#include "tags.h"
#include "text.h"

/* How long past the query's timeout to wait for swimd's totals. */
#define CLI_QUERY_GRACE_MS 5000

int cli_duration_ms(const char *text, uint32_t *ms)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || text[0] == '-')
        return -1;
    unsigned long long mult = 1000;
    if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "m") == 0)
        mult = 60000;
    else if (strcmp(end, "h") == 0)
        mult = 3600000;
    else if (strcmp(end, "s") != 0 && *end != '\0')
        return -1;
    if (v == 0 || v > QUERY_TIMEOUT_MAX_MS / mult)
        return -1;
    *ms = (uint32_t)(v * mult);
    return 0;
}

/* --tag KEY=PATTERN into the request's "tags": -1 when added, else a usage
 * error's exit code. */
static int cli_query_tag(struct cli_ctx *c, json_t *tags, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char key[TAGS_KEY_MAX + 1], pat[QUERY_PATTERN_MAX + 1];
    size_t klen = eq != NULL ? (size_t)(eq - arg) : 0;
    size_t plen = eq != NULL ? strlen(eq + 1) : 0;
    if (klen == 0 || klen > TAGS_KEY_MAX || plen == 0 || plen > QUERY_PATTERN_MAX ||
        json_object_size(tags) >= QUERY_TAGS_MAX) {
        fprintf(c->err,
                "swimctl: query: --tag takes KEY=PATTERN (a pattern of 1 to %d bytes, at most "
                "%d tags)\n",
                QUERY_PATTERN_MAX, QUERY_TAGS_MAX);
        return CLI_EXIT_USAGE;
    }
    memcpy(key, arg, klen);
    key[klen] = '\0';
    memcpy(pat, eq + 1, plen + 1);
    regex_t re;
    if (!query_pattern_ok(pat, plen)) {
        fprintf(c->err,
                "swimctl: query: --tag %s: \"%s\" is refused: no back-references, repetitions "
                "nested at most 2 deep, and at most "
                "%d positions with its repetitions written out\n",
                key, pat, QUERY_PATTERN_SIZE_MAX);
        return CLI_EXIT_USAGE;
    }
    if (!text_utf8(arg, strlen(arg)) || regcomp(&re, pat, REG_EXTENDED | REG_NOSUB) != 0) {
        fprintf(c->err, "swimctl: query: --tag %s: \"%s\" is not an extended regular expression\n",
                key, pat);
        return CLI_EXIT_USAGE;
    }
    regfree(&re);
    json_object_set_new(tags, key, json_string(pat));
    return -1;
}

/* The command line into a request (NULL with *code set). */
static json_t *cli_query_request(struct cli_ctx *c, int argc, char **argv, int *as_json, int *code)
{
    static const struct option opts[] = {
        {"node", required_argument, NULL, CLI_OPT_NODE},
        {"tag", required_argument, NULL, CLI_OPT_TAG},
        {"timeout", required_argument, NULL, CLI_OPT_TIMEOUT},
        {"relay-factor", required_argument, NULL, CLI_OPT_RELAY},
        {"no-ack", no_argument, NULL, CLI_OPT_NOACK},
        {"json", no_argument, NULL, CLI_OPT_JSON},
        CLI_OPTS_COMMON,
    };
    json_t *req = json_pack("{s:s,s:[],s:{}}", "cmd", "query", "nodes", "tags");
    json_t *nodes = json_object_get(req, "nodes"), *tags = json_object_get(req, "tags");
    int o;
    *code = -1;
    while (*code < 0 && (o = cli_opt(c, argc, argv, opts, code)) != -1) {
        uint32_t ms;
        if (o == CLI_OPT_EXIT)
            break;
        *code = -1;
        if (o == CLI_OPT_JSON) {
            *as_json = 1;
        } else if (o == CLI_OPT_NOACK) {
            json_object_set_new(req, "no_ack", json_true());
        } else if (o == CLI_OPT_NODE) {
            if (!swim_name_valid(optarg, strlen(optarg)) ||
                json_array_size(nodes) >= QUERY_NODES_MAX)
                *code = cli_usage_error(c->err, "query: --node takes a node name (at most 16)");
            else
                json_array_append_new(nodes, json_string(optarg));
        } else if (o == CLI_OPT_TAG) {
            *code = cli_query_tag(c, tags, optarg);
        } else if (o == CLI_OPT_TIMEOUT) {
            if (cli_duration_ms(optarg, &ms) != 0)
                *code = cli_usage_error(
                    c->err,
                    "query: --timeout takes a duration such as 500ms, 5s or 2m (at most 1h)");
            else
                json_object_set_new(req, "timeout_ms", json_integer(ms));
        } else if (o == CLI_OPT_RELAY) {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || v < 0 || v > SWIM_DIRECT_RELAY_MAX)
                *code = cli_usage_error(c->err, "query: --relay-factor takes 0 to 5");
            else
                json_object_set_new(req, "relay_factor", json_integer(v));
        }
    }
    if (*code < 0 && (argc - optind < 1 || argc - optind > 2))
        *code = cli_usage_error(c->err, "query needs NAME and an optional PAYLOAD");
    const char *name = *code < 0 ? argv[optind] : "";
    size_t nlen = strlen(name);
    if (*code < 0 && (nlen > QUERY_NAME_MAX || !text_valid(name, nlen)))
        *code = cli_usage_error(
            c->err, "query NAME must be 1 to 64 bytes of UTF-8 text without control characters");
    if (*code < 0 && strncmp(name, "_swim-", 6) == 0)
        *code = cli_usage_error(c->err, "query names starting with \"_swim-\" are reserved");
    const char *payload = *code < 0 && optind + 1 < argc ? argv[optind + 1] : "";
    size_t plen = strlen(payload);
    if (*code < 0 && plen + nlen > SWIM_USER_MAX)
        *code = cli_usage_error(c->err, "query PAYLOAD is too large (name and payload: 512 bytes "
                                        "with the filters)");
    if (*code >= 0) {
        json_decref(req);
        return NULL;
    }
    json_object_set_new(req, "name", json_string(name));
    if (text_utf8(payload, plen)) {
        json_object_set_new(req, "payload", json_string(payload));
    } else {
        char hex[2 * SWIM_USER_MAX + 1];
        sodium_bin2hex(hex, sizeof(hex), (const unsigned char *)payload, plen);
        json_object_set_new(req, "payload_hex", json_string(hex));
    }
    return req;
}

/* One streamed line as text. */
static void cli_query_print(FILE *out, json_t *line)
{
    const char *type = json_string_value(json_object_get(line, "type"));
    const char *from = json_string_value(json_object_get(line, "from"));
    char who[SWIM_NAME_MAX * TEXT_ESCAPE_RATIO + 1];
    text_escape(who, sizeof(who), from != NULL ? from : "?", from != NULL ? strlen(from) : 1);
    if (type != NULL && strcmp(type, "ack") == 0) {
        fprintf(out, "Ack from '%s'\n", who);
        return;
    }
    json_t *pj = json_object_get(line, "payload");
    const char *hex = json_string_value(json_object_get(line, "payload_hex"));
    char raw[QUERY_RESPONSE_MAX];
    size_t len = 0;
    if (pj != NULL) {
        len = json_string_length(pj) < sizeof(raw) ? json_string_length(pj) : sizeof(raw);
        memcpy(raw, json_string_value(pj), len);
    } else if (hex != NULL) {
        sodium_hex2bin((unsigned char *)raw, sizeof(raw), hex, strlen(hex), NULL, &len, NULL);
    }
    if (len > 0 && raw[len - 1] == '\n')
        len--;
    char shown[QUERY_RESPONSE_MAX * TEXT_ESCAPE_RATIO + 1];
    text_escape(shown, sizeof(shown), raw, len);
    fprintf(out, "Response from '%s'%s: %s\n", who,
            json_is_true(json_object_get(line, "truncated")) ? " (truncated)" : "", shown);
}

int cli_cmd_query(struct cli_ctx *c, int argc, char **argv)
{
    int as_json = 0, code;
    json_t *req = cli_query_request(c, argc, argv, &as_json, &code);
    if (req == NULL)
        return code;
    char name[QUERY_NAME_MAX * TEXT_ESCAPE_RATIO + 1];
    text_escape(name, sizeof(name), argv[optind], strlen(argv[optind]));
    struct cli_stream st;
    json_t *reply;
    int rc = cli_stream_open(&st, c->path, req, &reply, c->err);
    if (rc != CLI_EXIT_OK || reply == NULL)
        return rc;
    long long timeout = cli_int(reply, "timeout_ms");
    if (as_json) {
        json_object_del(reply, "ok");
        cli_print_json_line(c->out, reply);
    } else {
        fprintf(c->out, "Query '%s' sent (id %lld, timeout %lld ms)\n", name, cli_int(reply, "id"),
                timeout);
    }
    json_decref(reply);
    fflush(c->out);
    long long acks = 0, responses = 0;
    int done = 0;
    while (!done) {
        json_t *line = NULL;
        enum cli_wake wake;
        int lrc = cli_stream_line(&st, (int)(timeout + CLI_QUERY_GRACE_MS), &line, &wake);
        if (lrc == ERR_AGAIN)
            break; /* interrupted: the totals so far */
        if (lrc != 0) {
            fprintf(c->err, "swimctl: query: swimd closed the stream (%s)\n", err_strerror(lrc));
            rc = CLI_EXIT_CONNECT;
            break;
        }
        const char *type = json_string_value(json_object_get(line, "type"));
        done = type != NULL && strcmp(type, "done") == 0;
        if (done) {
            acks = cli_int(line, "acks");
            responses = cli_int(line, "responses");
        } else if (type != NULL) {
            acks += strcmp(type, "ack") == 0;
            responses += strcmp(type, "response") == 0;
        }
        if (as_json) {
            cli_print_json_line(c->out, line);
        } else if (!done) {
            cli_query_print(c->out, line);
        }
        fflush(c->out);
        json_decref(line);
    }
    if (!as_json && rc == CLI_EXIT_OK)
        fprintf(c->out, "Total acks: %lld\nTotal responses: %lld\n", acks, responses);
    cli_stream_close(&st);
    return rc;
}
