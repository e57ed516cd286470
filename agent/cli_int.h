/*
 * cli_int.h - what the files of swimctl (cli.h) share and nobody else sees.
 *
 * swimctl is one program spread over files by job:
 *
 *   cli.c          the command line: getopt_long() parsing, the command
 *                  table and --help, the one-shot commands, cli_main()
 *   cli_conn.c     the control socket: connecting, one request and one
 *                  response (cli_call, cli_exchange), and the streaming
 *                  connection (cli_stream_open / _line / _close)
 *   cli_format.c   what is printed from swimd's replies: the members and
 *                  info tables, tags as text, watch's event rows, keys'
 *                  report
 *   cli_watch.c    the `watch` command: events until interrupted
 *   cli_monitor.c  the commands that wait on member reports: `monitor`,
 *                  and `run`, which also starts CMD and stops it
 *   cli_query.c    the `query` command: a query, its answers, the totals
 *
 * Every command gets a struct cli_ctx and returns an exit code (CLI_EXIT_*,
 * cli.h); messages go to c->err, output to c->out.  Parsing uses getopt's
 * globals: optind is the command's first operand after its options.
 */
#ifndef AGENT_CLI_INT_H
#define AGENT_CLI_INT_H

#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "cli.h"

/* ---- command lines (cli.c) ------------------------------------------------------ */

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

/* Values getopt_long() returns for long options without a letter. */
enum {
    CLI_OPT_SOCKET = 256,
    CLI_OPT_VERSION,
    CLI_OPT_STATUS,
    CLI_OPT_TAG,
    CLI_OPT_JSON,
    CLI_OPT_RTT,
    CLI_OPT_SINCE,
    CLI_OPT_TYPE,
    CLI_OPT_PEER,
    CLI_OPT_GRACE,
    CLI_OPT_NODE,
    CLI_OPT_TIMEOUT,
    CLI_OPT_RELAY,
    CLI_OPT_NOACK,
    CLI_OPT_LOCAL,
};
/* cli_opt(): stop now and exit with *code. */
#define CLI_OPT_EXIT (-2)

/* The options every command takes; ends each command's table (kept on two
 * lines by hand: clang-format would break the terminator over three). */
/* clang-format off */
#define CLI_OPTS_COMMON \
    {"socket", required_argument, NULL, CLI_OPT_SOCKET}, {"help", no_argument, NULL, 'h'}, {0}
/* clang-format on */

/* Print "swimctl: what (see swimctl --help)"; returns CLI_EXIT_USAGE. */
int cli_usage_error(FILE *err, const char *what);

/*
 * The next option of argv (getopt_long() over opts, which ends with
 * CLI_OPTS_COMMON), handling the common ones: --socket sets c->path,
 * --help prints the usage (CLI_OPT_EXIT, *code 0), an unknown option or a
 * missing value is a usage error (CLI_OPT_EXIT, *code 2).  -1 after the
 * last option: optind is then the first operand.
 */
int cli_opt(struct cli_ctx *c, int argc, char **argv, const struct option *opts, int *code);

/*
 * After the options: argv[optind..argc) must hold min..max operands (max
 * -1: no limit).  -1 when they do, else a usage error (its exit code) that
 * says `what`, or names the first extra operand when what is NULL.
 */
int cli_operands(struct cli_ctx *c, int argc, char **argv, int min, int max, const char *what);

/* The command line of a command with only the common options: -1 to go on
 * (its operands from argv[optind]), or the exit code. */
int cli_args(struct cli_ctx *c, int argc, char **argv, int min, int max, const char *what);

/* ---- the control socket (cli_conn.c) -------------------------------------------- */

/* Send req (consumed) with cli_call(), print errors to err; on success hand
 * back the reply (new reference).  CLI_EXIT_OK, CLI_EXIT_CONNECT (no
 * exchange) or CLI_EXIT_FAILED (swimd answered with an error). */
int cli_exchange(const char *path, json_t *req, json_t **reply, FILE *err);
/* The same, waiting up to timeout_ms for the reply rather than
 * CLI_TIMEOUT_MS (a request that swimd answers once the cluster has). */
int cli_exchange_within(const char *path, json_t *req, json_t **reply, FILE *err, int timeout_ms);

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
    sigset_t old_mask; /* the mask before SIGINT and SIGTERM were blocked */
};

/* Why cli_stream_line() came back without a line (ERR_AGAIN). */
enum cli_wake {
    CLI_WAKE_SIGNAL = 1, /* SIGINT or SIGTERM */
    CLI_WAKE_CHILD,      /* child_fd: the child exited */
};

/*
 * Connect, block SIGINT and SIGTERM (read through a signalfd), send req
 * (consumed) and read the reply line.  Returns an exit code: CLI_EXIT_OK
 * with *reply (NULL when a signal came first; st is then closed),
 * CLI_EXIT_CONNECT or CLI_EXIT_FAILED (message printed, st closed).
 */
int cli_stream_open(struct cli_stream *st, const char *path, json_t *req, json_t **reply,
                    FILE *err);

/*
 * The next line (parsed), waiting up to timeout_ms (negative: no limit).
 * 0 (*line is a new reference), ERR_AGAIN (*wake says what came instead),
 * ERR_TIMEOUT, ERR_CLOSED (swimd hung up), ERR_MALFORMED, ERR_TOOBIG,
 * ERR_NOMEM, ERR_IO.
 */
int cli_stream_line(struct cli_stream *st, int timeout_ms, json_t **line, enum cli_wake *wake);

/* Close the connection and the signalfd, restore the signal mask, free the
 * buffer.  Safe to call twice. */
void cli_stream_close(struct cli_stream *st);

/* ---- formatting (cli_format.c) -------------------------------------------------- */

/* o[key] as an integer; 0 when missing or not an integer. */
long long cli_int(json_t *o, const char *key);

/* "k1=v1,k2=v2" with keys sorted, into a malloc'd string ("" for none);
 * NULL when out of memory. */
char *cli_tags_text(json_t *tags);

/* keys' reply as one JSON line (as_json), or as text: for list, a table of
 * the keys (KEY, the NODES that hold it and those that use it as PRIMARY,
 * each "n/total"); then a summary line, then one line per node that
 * failed, with its message. */
void cli_print_keys(FILE *out, json_t *reply, int as_json);

/* o as one compact JSON line (--json of the streaming commands). */
void cli_print_json_line(FILE *out, json_t *o);

/* The header line of `watch`'s table. */
void cli_print_event_head(FILE *out);
/* Print one event line of `watch` as a table row (clock lines are hidden). */
void cli_print_event(FILE *out, json_t *ev);

/* ---- the streaming commands (cli_watch.c, cli_monitor.c, cli_query.c) ---------- */

/* "1500ms", "2s", "1m", "1h", or a bare number of seconds, into *ms (at
 * most QUERY_TIMEOUT_MAX_MS, at least 1).  0 or -1.  (cli_query.c) */
int cli_duration_ms(const char *text, uint32_t *ms);

int cli_cmd_watch(struct cli_ctx *c, int argc, char **argv);
int cli_cmd_monitor(struct cli_ctx *c, int argc, char **argv);
int cli_cmd_run(struct cli_ctx *c, int argc, char **argv);
int cli_cmd_query(struct cli_ctx *c, int argc, char **argv);

#endif /* AGENT_CLI_INT_H */
