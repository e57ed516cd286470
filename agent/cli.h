/*
 * cli.h - swimctl: the command-line client of the control socket.
 *
 * Model: every command is one request line and one response line on a fresh
 * connection to swimd's control socket (ctl.h), except the streaming ones:
 * `watch` prints event lines until interrupted, `monitor` waits for the
 * first report about its members, and `run` starts CMD (posix_spawnp, see
 * proc.h) and waits on the socket, a signalfd (SIGINT, SIGTERM) and CMD's
 * pidfd together, so every wait ends on data, a signal, CMD's exit or a
 * deadline.  The command line is read with getopt_long(): swimctl's own
 * options, then the command's (options before operands; every command takes
 * --socket and --help; "--" ends the options).  cli_main() is the whole
 * program with its streams passed in, so tests can run it in-process; the
 * pieces (connect, request, table formatting) are exposed for tests and the
 * integration helpers.
 *
 * Exit codes (documented in --help and the README):
 *   0 CLI_EXIT_OK        success
 *   1 CLI_EXIT_FAILED    swimd answered with an error
 *   2 CLI_EXIT_USAGE     bad command line
 *   3 CLI_EXIT_CONNECT   swimd is not reachable, or the exchange failed
 *                        (a stream: the connection was lost)
 *   4 CLI_EXIT_LAGGED    watch: the watcher fell behind and missed events
 *  10 CLI_EXIT_PEER_FAILED   monitor / run: a member failed
 *  11 CLI_EXIT_PEER_LEFT     monitor / run: a member left
 *  12 CLI_EXIT_PEER_UNKNOWN  monitor / run: a member is not known
 * 127 CLI_EXIT_EXEC      run: CMD could not be executed
 * `run` otherwise exits with CMD's status, 128 + N when signal N killed it.
 */
#ifndef AGENT_CLI_H
#define AGENT_CLI_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILED 1
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_CONNECT 3
#define CLI_EXIT_LAGGED 4
#define CLI_EXIT_PEER_FAILED 10
#define CLI_EXIT_PEER_LEFT 11
#define CLI_EXIT_PEER_UNKNOWN 12
#define CLI_EXIT_EXEC 127

/* The control socket of swimd run as a service (dist/systemd). */
#define CLI_SERVICE_SOCKET "/run/swimd/swimd.sock"

/* A stalled swimd must not hang a script forever. */
#define CLI_TIMEOUT_MS 5000
/* Largest response accepted: a very large cluster's member list. */
#define CLI_RESPONSE_MAX (64 * 1024 * 1024)
/* Longest error message built. */
#define CLI_ERR_MAX 512

/* Run swimctl.  Returns the exit code.  Uses getopt's globals (reset on
 * every call): one thread at a time. */
int cli_main(int argc, char **argv, FILE *out, FILE *err);
/* The socket used without --socket: $SWIM_SOCKET when set and not empty,
 * else `service` (CLI_SERVICE_SOCKET) when it is a socket or its folder
 * cannot be searched (swimd runs as a service), else CFG_DEFAULT_SOCKET.
 * Never NULL. */
const char *cli_default_socket(const char *service);

/*
 * Send one request object and read one response object on a new connection
 * to `path`, waiting at most timeout_ms.  *resp is a new reference on 0.
 * 0, ERR_IO (cannot connect: the reason is in msg), ERR_TIMEOUT,
 * ERR_CLOSED (swimd hung up), ERR_MALFORMED (response not JSON),
 * ERR_TOOBIG.  msg gets a one-line explanation on failure.
 */
int cli_call(const char *path, json_t *req, json_t **resp, int timeout_ms, char *msg,
             size_t msglen);

/* Filters for cli_print_members; NULL / 0 mean "any". */
struct cli_filter {
    const char *status;
    size_t ntags;
    const char *const *tags; /* "KEY=VALUE" */
};

/* cli_print_members' `how`: bits. */
#define CLI_MEMBERS_JSON 1 /* JSON instead of the table */
#define CLI_MEMBERS_RTT 2  /* the table gets an RTT column ("-" while unknown) */

/* Print the members array (as swimd sends it) as a table sorted by name, or
 * as a JSON array of {name, addr, status, incarnation, rtt_ms, coord, tags}.
 * Members that do not pass the filter are left out. */
void cli_print_members(FILE *out, json_t *members, const struct cli_filter *f, int how);
/* Print an info reply as "key: value" lines, or as JSON. */
void cli_print_info(FILE *out, json_t *info, int as_json);
/* Print an rtt reply as "Estimated A <-> B rtt: 1.234 ms (using
 * coordinates)", or as JSON. */
void cli_print_rtt(FILE *out, json_t *reply, int as_json);

#endif /* AGENT_CLI_H */
