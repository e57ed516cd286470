/*
 * cli.c - swimctl's command line (see cli.h; the files are listed in
 * cli_int.h): parsing, the command table and --help, the one-shot commands
 * (members, join, leave, force-leave, info, rtt, tags, event, keygen, keys,
 * metrics),
 * the default socket and cli_main().
 *
 * Parsing.  Every level uses getopt_long() in "+" mode (options end at the
 * first operand or at "--"): first swimctl's own options, then the command
 * named by the first operand parses the rest, starting over (optind = 0).
 * Every command takes --socket and --help besides its own options; opterr is
 * off, so every message goes to the caller's err stream, in one format.  The
 * commands are one table (cli_cmd_table), which --help is printed from.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "cfg.h"
#include "cli_int.h"
#include "keyring.h"
#include "tags.h"
#include "text.h"

/* Filters one `members` may take (--tag). */
#define CLI_ARGS_MAX 256
/* How long keys waits, without --timeout, for swimd's default: three rounds
 * of the query timeout, gossip interval x 16 x ceil(log10(N + 1)) (9.6 s up
 * to 9 members on the lan profile, 38.4 s up to 9,999), before its own
 * CLI_TIMEOUT_MS. */
#define CLI_KEYS_WAIT_MS 60000
/* --help: a command and its arguments fill this many columns before its
 * description; a longer one puts the description on the next lines. */
#define CLI_HELP_COLUMN 26

#ifndef SWIMD_VERSION
#define SWIMD_VERSION "unknown"
#endif

/* ---- command lines ------------------------------------------------------------- */

static void cli_usage(FILE *out);

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

int cli_usage_error(FILE *err, const char *what)
{
    fprintf(err, "swimctl: %s (see swimctl --help)\n", what);
    return CLI_EXIT_USAGE;
}

int cli_opt(struct cli_ctx *c, int argc, char **argv, const struct option *opts, int *code)
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

/* -1 when argv[from..to) are UTF-8 text (what a JSON request can carry),
 * else a usage error naming the first that is not. */
static int cli_utf8_operands(struct cli_ctx *c, char **argv, int from, int to)
{
    for (int i = from; i < to; i++) {
        if (!text_utf8(argv[i], strlen(argv[i]))) {
            char shown[64 * TEXT_ESCAPE_RATIO + 1];
            text_escape(shown, sizeof(shown), argv[i], strnlen(argv[i], 64));
            fprintf(c->err, "swimctl: %s: \"%s\" is not UTF-8 text (see swimctl --help)\n",
                    c->cmd != NULL ? c->cmd->name : "swimctl", shown);
            return CLI_EXIT_USAGE;
        }
    }
    return -1;
}

int cli_operands(struct cli_ctx *c, int argc, char **argv, int min, int max, const char *what)
{
    int n = argc - optind;
    if (n >= min && (max < 0 || n <= max))
        return cli_utf8_operands(c, argv, optind, argc);
    if (what != NULL)
        return cli_usage_error(c->err, what);
    fprintf(c->err, "swimctl: %s: unexpected argument \"%s\" (see swimctl --help)\n", c->cmd->name,
            argv[optind + max]);
    return CLI_EXIT_USAGE;
}

int cli_args(struct cli_ctx *c, int argc, char **argv, int min, int max, const char *what)
{
    int code, o;
    while ((o = cli_opt(c, argc, argv, cli_opts_common, &code)) != -1)
        if (o == CLI_OPT_EXIT)
            return code;
    return cli_operands(c, argc, argv, min, max, what);
}

/* ---- one-shot commands -------------------------------------------------------- */

static int cli_cmd_members(struct cli_ctx *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"status", required_argument, NULL, CLI_OPT_STATUS},
        {"tag", required_argument, NULL, CLI_OPT_TAG},
        {"json", no_argument, NULL, CLI_OPT_JSON},
        {"rtt", no_argument, NULL, CLI_OPT_RTT},
        CLI_OPTS_COMMON,
    };
    struct cli_filter f = {NULL, 0, NULL};
    const char *tagv[CLI_ARGS_MAX];
    int how = 0, code, o;
    while ((o = cli_opt(c, argc, argv, opts, &code)) != -1) {
        if (o == CLI_OPT_EXIT)
            return code;
        if (o == CLI_OPT_JSON) {
            how |= CLI_MEMBERS_JSON;
        } else if (o == CLI_OPT_RTT) {
            how |= CLI_MEMBERS_RTT;
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
    /* The table asks only for what it shows (and filters and sorts by); an
     * older swimd ignores "fields" and sends every field, printed the same. */
    json_t *req = json_pack("{s:s}", "cmd", "members");
    if (req != NULL && !(how & CLI_MEMBERS_JSON)) {
        json_t *fields = json_pack("[s,s,s,s]", "name", "addr", "status", "tags");
        if (how & CLI_MEMBERS_RTT)
            json_array_append_new(fields, json_string("rtt_ms"));
        json_object_set_new(req, "fields", fields);
    }
    json_t *reply;
    int rc = cli_exchange(c->path, req, &reply, c->err);
    if (rc != CLI_EXIT_OK)
        return rc;
    cli_print_members(c->out, json_object_get(reply, "members"), &f, how);
    json_decref(reply);
    return CLI_EXIT_OK;
}

/* The options of a command whose only own option is --json: -1 to go on
 * (*as_json set), or the exit code. */
static int cli_json_opts(struct cli_ctx *c, int argc, char **argv, int *as_json)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, CLI_OPT_JSON},
        CLI_OPTS_COMMON,
    };
    int code, o;
    *as_json = 0;
    while ((o = cli_opt(c, argc, argv, opts, &code)) != -1) {
        if (o == CLI_OPT_EXIT)
            return code;
        *as_json = 1; /* --json */
    }
    return -1;
}

/* Send req; print its reply with print(out, reply, as_json). */
static int cli_cmd_print(struct cli_ctx *c, json_t *req, int as_json,
                         void (*print)(FILE *, json_t *, int))
{
    json_t *reply;
    int rc = cli_exchange(c->path, req, &reply, c->err);
    if (rc != CLI_EXIT_OK)
        return rc;
    print(c->out, reply, as_json);
    json_decref(reply);
    return CLI_EXIT_OK;
}

static int cli_cmd_info(struct cli_ctx *c, int argc, char **argv)
{
    int as_json, code;
    if ((code = cli_json_opts(c, argc, argv, &as_json)) >= 0 ||
        (code = cli_operands(c, argc, argv, 0, 0, "info takes only --json")) >= 0)
        return code;
    return cli_cmd_print(c, json_pack("{s:s}", "cmd", "info"), as_json, cli_print_info);
}

static int cli_cmd_rtt(struct cli_ctx *c, int argc, char **argv)
{
    int as_json, code;
    if ((code = cli_json_opts(c, argc, argv, &as_json)) >= 0 ||
        (code = cli_operands(c, argc, argv, 1, 2, "rtt needs a node NAME and at most one more")) >=
            0)
        return code;
    json_t *req = json_pack("{s:s,s:s}", "cmd", "rtt", "a", argv[optind]);
    if (optind + 1 < argc)
        json_object_set_new(req, "b", json_string(argv[optind + 1]));
    return cli_cmd_print(c, req, as_json, cli_print_rtt);
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

/* event NAME [PAYLOAD]: the name must be text (swimd's rule, text.h); a
 * payload that is not UTF-8 goes as payload_hex, so any bytes can be sent. */
static int cli_cmd_event(struct cli_ctx *c, int argc, char **argv)
{
    static const char *const usage = "event needs NAME and an optional PAYLOAD";
    int code, o;
    while ((o = cli_opt(c, argc, argv, cli_opts_common, &code)) != -1)
        if (o == CLI_OPT_EXIT)
            return code;
    if (argc - optind < 1 || argc - optind > 2)
        return cli_usage_error(c->err, usage);
    const char *name = argv[optind];
    if (!text_valid(name, strlen(name)))
        return cli_usage_error(c->err, "event NAME must be UTF-8 text without control characters");
    const char *payload = optind + 1 < argc ? argv[optind + 1] : "";
    size_t plen = strlen(payload);
    if (text_utf8(payload, plen))
        return cli_cmd_simple(
            c, json_pack("{s:s,s:s,s:s}", "cmd", "event", "name", name, "payload", payload), NULL);
    if (plen > SWIM_USER_MAX)
        return cli_usage_error(c->err, "event PAYLOAD is too large");
    char hex[2 * SWIM_USER_MAX + 1];
    sodium_bin2hex(hex, sizeof(hex), (const unsigned char *)payload, plen);
    return cli_cmd_simple(
        c, json_pack("{s:s,s:s,s:s}", "cmd", "event", "name", name, "payload_hex", hex), NULL);
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

/* keys [--local] [--timeout DURATION] [--json] list | install KEY | use KEY
 * | remove KEY.  The key is checked here too, so a typo is a usage error,
 * not every node's.  swimd answers once every member has (or the query's
 * timeout passed): the wait is that timeout (CLI_KEYS_WAIT_MS when swimd
 * picks it) plus CLI_TIMEOUT_MS. */
static int cli_cmd_keys(struct cli_ctx *c, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, CLI_OPT_JSON},
        {"local", no_argument, NULL, CLI_OPT_LOCAL},
        {"timeout", required_argument, NULL, CLI_OPT_TIMEOUT},
        CLI_OPTS_COMMON,
    };
    static const char *const usage = "keys needs list, or install|use|remove and a KEY";
    int json = 0, local = 0, code, o;
    uint32_t timeout_ms = 0;
    while ((o = cli_opt(c, argc, argv, opts, &code)) != -1) {
        if (o == CLI_OPT_EXIT)
            return code;
        json |= o == CLI_OPT_JSON;
        local |= o == CLI_OPT_LOCAL;
        if (o == CLI_OPT_TIMEOUT && cli_duration_ms(optarg, &timeout_ms) != 0)
            return cli_usage_error(
                c->err, "keys: --timeout takes a duration such as 500ms, 5s or 2m (at most 1h)");
    }
    if ((code = cli_operands(c, argc, argv, 1, 2, usage)) >= 0)
        return code;
    const char *op = argv[optind];
    int is_list = strcmp(op, "list") == 0;
    if (!is_list && strcmp(op, "install") != 0 && strcmp(op, "use") != 0 &&
        strcmp(op, "remove") != 0)
        return cli_usage_error(c->err, usage);
    if (is_list != (argc - optind == 1))
        return cli_usage_error(c->err, is_list ? "keys list takes no KEY" : usage);
    uint8_t key[KEYRING_KEY_BYTES];
    if (!is_list && keyring_parse_base64(argv[optind + 1], key) != 0)
        return cli_usage_error(c->err, "KEY must be a base64 32-byte key");
    sodium_memzero(key, sizeof(key));
    json_t *req = json_pack("{s:s,s:s,s:b}", "cmd", "keys", "op", op, "local", local);
    if (req != NULL && !is_list)
        json_object_set_new(req, "key", json_string(argv[optind + 1]));
    if (req != NULL && timeout_ms > 0)
        json_object_set_new(req, "timeout_ms", json_integer(timeout_ms));
    json_t *reply;
    uint32_t wait = local ? 0 : timeout_ms > 0 ? timeout_ms : CLI_KEYS_WAIT_MS;
    int rc = cli_exchange_within(c->path, req, &reply, c->err, (int)(wait + CLI_TIMEOUT_MS));
    if (rc != CLI_EXIT_OK)
        return rc;
    cli_print_keys(c->out, reply, json);
    long long failed = cli_int(reply, "nodes") - cli_int(reply, "succeeded");
    if (failed > 0)
        fprintf(c->err, "swimctl: keys %s failed on %lld of %lld node(s)\n", op, failed,
                cli_int(reply, "nodes"));
    json_decref(reply);
    return failed > 0 ? CLI_EXIT_FAILED : CLI_EXIT_OK;
}

static int cli_cmd_metrics(struct cli_ctx *c, int argc, char **argv)
{
    int code = cli_args(c, argc, argv, 0, 0, "metrics takes no argument");
    if (code >= 0)
        return code;
    json_t *reply;
    int rc = cli_exchange(c->path, json_pack("{s:s}", "cmd", "metrics"), &reply, c->err);
    if (rc != CLI_EXIT_OK)
        return rc;
    json_t *text = json_object_get(reply, "text");
    fwrite(json_string_value(text) != NULL ? json_string_value(text) : "", 1,
           json_string_length(text), c->out);
    json_decref(reply);
    return CLI_EXIT_OK;
}

/* ---- the program ---------------------------------------------------------------- */

const char *cli_default_socket(const char *service)
{
    const char *env = getenv("SWIM_SOCKET");
    if (env != NULL && env[0] != '\0')
        return env;
    /* A folder the caller may not search (/run/swimd is 0750) still means
     * the service is there: connecting then names the right path. */
    struct stat st;
    if (stat(service, &st) == 0 ? S_ISSOCK(st.st_mode) : errno == EACCES)
        return service;
    return CFG_DEFAULT_SOCKET;
}

static const struct cli_cmd cli_cmd_table[] = {
    {"members", "[--status alive|suspect|failed|left] [--tag KEY=VALUE]... [--rtt] [--json]",
     "the members, as a table sorted by name\n(--rtt: with the smoothed probe round trip) or as "
     "JSON",
     cli_cmd_members},
    {"join", "ADDR...", "announce this node to ADDR (HOST[:PORT])", cli_cmd_join},
    {"leave", "", "leave the cluster; swimd exits when done", cli_cmd_leave},
    {"force-leave", "NAME", "mark a failed member as left now", cli_cmd_force_leave},
    {"info", "[--json]", "this node, member counts, traffic, health, coordinate", cli_cmd_info},
    {"rtt", "NAME [NAME] [--json]",
     "estimated round trip between two nodes (the second: this one) from their coordinates",
     cli_cmd_rtt},
    {"tags", "set KEY=VALUE... | delete KEY...", "set or remove tags on this node", cli_cmd_tags},
    {"event", "NAME [PAYLOAD]", "broadcast a user event to every member", cli_cmd_event},
    {"query",
     "[--node NAME]... [--tag KEY=REGEX]... [--timeout DURATION] [--relay-factor N] [--no-ack] "
     "[--json] NAME [PAYLOAD]",
     "ask every matching member; print each ack and\nresponse as it comes, then the totals. "
     "--tag: the\nmember's tag KEY matches the extended regular\nexpression REGEX (unanchored: "
     "^v$ for exactly v);\n--timeout: 500ms, 5s, 2m (default: gossip interval\nx 16 x "
     "ceil(log10(N+1))); --relay-factor: answers\nalso sent through N (0-5) other members",
     cli_cmd_query},
    {"keygen", "", "print a new random base64 key for a keyring", cli_cmd_keygen},
    {"keys", "[--local] [--timeout DURATION] [--json] list | install KEY | use KEY | remove KEY",
     "list or change the keyring of every alive member\n(--local: of this node only); reports "
     "each node\nthat failed, and exits 1 when one did",
     cli_cmd_keys},
    {"metrics", "", "this node's metrics in Prometheus's text format", cli_cmd_metrics},
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
    fprintf(out,
            "\n"
            "  --socket PATH   control socket (default: $SWIM_SOCKET, else " CLI_SERVICE_SOCKET "\n"
            "                  when it exists, else " CFG_DEFAULT_SOCKET ")\n"
            "  --help, --version   (COMMAND --help: that command's usage)\n"
            "\n"
            "Exit codes:\n"
            "  0   success (watch/monitor/query: stopped by SIGINT or SIGTERM)\n"
            "  1   swimd answered with an error (watch: --since older than the history,\n"
            "      the message names the first event held; bad --type; keys: a node\n"
            "      failed)\n"
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
    struct cli_ctx c = {cli_default_socket(CLI_SERVICE_SOCKET), out, err, NULL};
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
