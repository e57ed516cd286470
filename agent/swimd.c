/*
 * swimd.c - the agent's entry point: parse the config, run the agent.
 *
 * Exit codes: 0 after a graceful leave, 1 when the agent cannot start or
 * fails while running, 2 for bad flags or config (a bad --event-handler
 * included: cfg checks its spec, before anything starts).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent.h"
#include "cfg.h"
#include "err.h"
#include "log.h"

#define SWIMD_EXIT_OK 0
#define SWIMD_EXIT_RUNTIME 1
#define SWIMD_EXIT_USAGE 2

#ifndef SWIMD_VERSION
#define SWIMD_VERSION "unknown"
#endif

int main(int argc, char **argv)
{
    struct cfg *cfg = malloc(sizeof(*cfg)); /* a few KiB: kept off the stack */
    enum cfg_action action;
    char err[CFG_ERR_MAX] = "";
    if (cfg == NULL) {
        fprintf(stderr, "swimd: out of memory\n");
        return SWIMD_EXIT_RUNTIME;
    }
    if (cfg_parse_args(cfg, argc, argv, &action, err, sizeof(err)) != 0) {
        fprintf(stderr, "swimd: %s\n", err);
        free(cfg);
        return SWIMD_EXIT_USAGE;
    }
    if (action != CFG_RUN) {
        if (action == CFG_HELP)
            cfg_usage(stdout, "swimd");
        else
            printf("swimd %s\n", SWIMD_VERSION);
        free(cfg);
        return SWIMD_EXIT_OK;
    }
    /* A control client that hangs up must not kill the agent. */
    signal(SIGPIPE, SIG_IGN);
    struct log *lg = log_new(stderr, cfg->log_level);
    if (lg == NULL) {
        fprintf(stderr, "swimd: out of memory\n");
        free(cfg);
        return SWIMD_EXIT_RUNTIME;
    }
    log_set_format(lg, cfg->log_format);
    struct agent *a = agent_new(cfg, argc, argv, lg, err, sizeof(err));
    free(cfg); /* the agent keeps its own copy */
    if (a == NULL) {
        log_msg(lg, LOG_ERROR, "cannot start: %s", err);
        log_delete(lg);
        return SWIMD_EXIT_RUNTIME;
    }
    int rc = agent_run(a);
    agent_delete(a);
    log_delete(lg);
    return rc == 0 ? SWIMD_EXIT_OK : SWIMD_EXIT_RUNTIME;
}
