/*
 * cli_watch.c - `swimctl watch` (see cli.h): a watch request with --since
 * and --type, then swimd's event lines as a table or as JSON lines until
 * SIGINT or SIGTERM (exit 0), a lost connection (3) or a lag report (4:
 * the events missed, and the --since that resumes after them).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "err.h"
#include "text.h"

int cli_cmd_watch(struct cli_ctx *c, int argc, char **argv)
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
            /* Sequence numbers are JSON integers: at most INT64_MAX. */
            if (errno != 0 || end == optarg || *end != '\0' || optarg[0] == '-' ||
                v > (unsigned long long)INT64_MAX) {
                json_decref(req);
                return cli_usage_error(c->err,
                                       "--since takes a sequence number, 0 to 9223372036854775807");
            }
            json_object_set_new(req, "since", json_integer((json_int_t)v));
        } else if (o == CLI_OPT_TYPE) {
            /* swimd checks the names (evtype.h): a bad list is its error, exit 1 */
            if (!text_utf8(optarg, strlen(optarg))) {
                json_decref(req);
                return cli_usage_error(c->err, "--type takes a comma list of event types");
            }
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
        cli_print_json_line(c->out, reply);
    } else {
        cli_print_event_head(c->out);
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
            cli_print_json_line(c->out, line);
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
