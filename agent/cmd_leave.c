/*
 * cmd_leave.c - the control commands "leave" (this node leaves gracefully)
 * and "force-leave" (a failed member is marked left for everyone).
 */
#include <stdio.h>

#include "clock.h"
#include "commands.h"
#include "err.h"
#include "rt.h"

json_t *cmd_leave(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err)
{
    (void)conn;
    (void)req;
    if (rt_leave(env->rt, "control") != 0) {
        snprintf(err, CTL_ERR_MAX, "already leaving");
        return NULL;
    }
    return json_pack("{s:b}", "leaving", 1);
}

json_t *cmd_force_leave(const struct control_env *env, struct ctl_conn *conn, json_t *req,
                        char *err)
{
    (void)conn;
    json_t *jname = json_object_get(req, "name");
    const char *name = json_string_value(jname);
    if (name == NULL || !swim_name_valid(name, json_string_length(jname))) {
        snprintf(err, CTL_ERR_MAX,
                 "force-leave needs a \"name\": a member name (1 to %d bytes of text without "
                 "spaces or control characters)",
                 SWIM_NAME_MAX);
        return NULL;
    }
    int rc = swim_force_leave(rt_core(env->rt), name, clock_mono_ms());
    if (rc == ERR_NOTFOUND) {
        snprintf(err, CTL_ERR_MAX, "no member named \"%.64s\"", name);
        return NULL;
    }
    if (rc == ERR_STATE) {
        snprintf(err, CTL_ERR_MAX, "member \"%.64s\" is not failed", name);
        return NULL;
    }
    if (rc != 0) {
        snprintf(err, CTL_ERR_MAX, "force-leave: %s", err_strerror(rc));
        return NULL;
    }
    log_msg(env->log, LOG_INFO, "force-leave name=%s", name);
    return json_object();
}
