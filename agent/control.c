/*
 * control.c - see control.h for the model: the command table, the
 * dispatcher, and the control socket's life cycle.
 */
#include "control.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "commands.h"
#include "err.h"
#include "handlers.h"
#include "rt.h"
#include "tags.h"

struct control_command {
    const char *name;
    control_cmd_f run;
};

/* Every control command.  Keep in step with the README's control section. */
static const struct control_command control_commands[] = {
    {"members", cmd_members},
    {"info", cmd_info},
    {"join", cmd_join},
    {"leave", cmd_leave},
    {"force-leave", cmd_force_leave},
    {"tags-set", cmd_tags_set},
    {"tags-delete", cmd_tags_delete},
    {"event", cmd_event},
    {"query", cmd_query},
    {"watch", cmd_watch},
    {"monitor", cmd_monitor},
    {"metrics", cmd_metrics},
    {"rtt", cmd_rtt},
    {"keys", cmd_keys},
};
#define CONTROL_COMMANDS (sizeof(control_commands) / sizeof(control_commands[0]))

struct control {
    struct control_env env;
    uint64_t requests[CONTROL_COMMANDS + 1]; /* per row; the last: unknown commands */
};

/* The table's answer to one request (the ctl_request_f given to ctl.h). */
static json_t *control_dispatch(void *ctx, struct ctl_conn *conn, const char *cmd, json_t *req,
                                char *err)
{
    struct control *c = ctx;
    for (size_t i = 0; i < CONTROL_COMMANDS; i++)
        if (strcmp(cmd, control_commands[i].name) == 0) {
            c->requests[i]++;
            return control_commands[i].run(&c->env, conn, req, err);
        }
    c->requests[CONTROL_COMMANDS]++;
    snprintf(err, CTL_ERR_MAX, "unknown command \"%.40s\"", cmd);
    return NULL;
}

struct control *control_new(struct event_base *base, const struct control_env *env, char *err,
                            size_t errlen)
{
    struct control *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->env = *env;
    c->env.control = c;
    const struct cfg *cfg = env->cfg;
    int rc = 0;
    c->env.ctl =
        ctl_new(base, cfg->socket_path, cfg->socket_mode, control_dispatch, c, env->log, &rc);
    if (c->env.ctl == NULL) {
        if (rc == ERR_EXISTS)
            snprintf(err, errlen,
                     "socket %s: in use by another swimd (it holds %s" CTL_LOCK_SUFFIX
                     "), or not a socket",
                     cfg->socket_path, cfg->socket_path);
        else
            snprintf(err, errlen, "socket %s: %s", cfg->socket_path,
                     rc == ERR_SYS ? strerror(errno) : err_strerror(rc));
        free(c);
        return NULL;
    }
    if (ctl_set_group(c->env.ctl, cfg->socket_gid) != 0) {
        snprintf(err, errlen, "socket %s: cannot give it group %s: %s", cfg->socket_path,
                 cfg->socket_group, strerror(errno));
        ctl_delete(c->env.ctl);
        free(c);
        return NULL;
    }
    c->env.keys_runs = cmd_keys_runs_new();
    c->env.members_cache = cmd_members_cache_new();
    if (c->env.keys_runs == NULL || c->env.members_cache == NULL) {
        snprintf(err, errlen, "out of memory");
        control_delete(c);
        return NULL;
    }
    return c;
}

void control_delete(struct control *c)
{
    if (c == NULL)
        return;
    cmd_keys_runs_delete(c->env.keys_runs, c->env.query);
    cmd_members_cache_delete(c->env.members_cache);
    ctl_delete(c->env.ctl);
    free(c);
}

char *control_answer_line(struct control *c, const char *line, size_t len)
{
    return ctl_answer_line(line, len, control_dispatch, c);
}

const struct control_env *control_get_env(const struct control *c)
{
    return &c->env;
}

size_t control_rows(void)
{
    return CONTROL_COMMANDS + 1;
}

const char *control_row_name(size_t row)
{
    if (row < CONTROL_COMMANDS)
        return control_commands[row].name;
    return row == CONTROL_COMMANDS ? "unknown" : NULL;
}

uint64_t control_requests(const struct control *c, size_t row)
{
    return row <= CONTROL_COMMANDS ? c->requests[row] : 0;
}

int control_set_tags(const struct control_env *env, const uint8_t *tags, size_t len)
{
    int rc = swim_set_meta(rt_core(env->rt), tags, len, clock_mono_ms());
    if (rc != 0)
        return rc;
    tags_load(env->tags, tags, len);
    if (env->hd != NULL)
        hd_runner_set_self(env->hd, env->cfg->name, rt_self_text(env->rt), tags, len);
    return 0;
}
