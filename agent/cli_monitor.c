/*
 * cli_monitor.c - the swimctl commands that wait on member reports (see
 * cli.h): `monitor` prints the first report about its members and exits
 * with its code; `run` starts CMD (proc.h) once swimd accepts the monitor,
 * stops it (SIGTERM, SIGKILL after the grace) when a member fails or on
 * SIGINT / SIGTERM, and otherwise exits with CMD's status.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli_int.h"
#include "err.h"
#include "proc.h"

/* Member names `run --peer` takes (swimd's per-client limit). */
#define CLI_RUN_PEERS_MAX 64
/* Default and largest grace between SIGTERM and SIGKILL for `run`'s CMD:
 * 10 s lets a service drain; an hour is a mistake, not a grace. */
#define CLI_RUN_GRACE_DEFAULT_S 10.0
#define CLI_RUN_GRACE_MAX_S 3600.0

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

int cli_cmd_monitor(struct cli_ctx *c, int argc, char **argv)
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

int cli_cmd_run(struct cli_ctx *c, int argc, char **argv)
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
