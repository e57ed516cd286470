/*
 * cmd_join.c - the control command "join": announce this node to the
 * addresses given ("HOST[:PORT]", numeric or names).
 *
 * Names are looked up without blocking the loop (join.h); while a lookup is
 * in flight the reply is deferred (ctl_conn_defer()), so the client still
 * gets the count of addresses announced to, or the error when there was
 * none, and the node keeps probing and answering other clients meanwhile.
 */
#include <stdio.h>

#include "cfg.h"
#include "commands.h"
#include "err.h"
#include "join.h"
#include "rt.h"

/* Addresses accepted in one request: as many as --join takes. */
#define CMD_JOIN_MAX CFG_JOIN_MAX

static json_t *cmd_join_reply(const struct control_env *env, int announced, char *err)
{
    if (announced == 0) {
        snprintf(err, CTL_ERR_MAX, "join: no address could be resolved and reached");
        return NULL;
    }
    log_msg(env->log, LOG_INFO, "join requested announced=%d", announced);
    return json_pack("{s:i}", "announced", announced);
}

/* The lookups of a deferred request have ended (join_done_f). */
static void cmd_join_done(void *arg, uint64_t conn_id, int announced)
{
    const struct control_env *env = arg;
    char err[CTL_ERR_MAX] = "";
    json_t *reply = cmd_join_reply(env, announced, err);
    ctl_reply_later(env->ctl, conn_id, reply, err);
}

json_t *cmd_join(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err)
{
    json_t *addrs = json_object_get(req, "addrs");
    if (!json_is_array(addrs) || json_array_size(addrs) == 0 ||
        json_array_size(addrs) > CMD_JOIN_MAX) {
        snprintf(err, CTL_ERR_MAX, "join needs \"addrs\": an array of 1 to %d strings",
                 CMD_JOIN_MAX);
        return NULL;
    }
    struct rt_stats st;
    rt_get_stats(env->rt, &st);
    if (st.leaving) {
        snprintf(err, CTL_ERR_MAX, "this node is leaving");
        return NULL;
    }
    const char *texts[CMD_JOIN_MAX];
    size_t n = json_array_size(addrs);
    for (size_t i = 0; i < n; i++) {
        texts[i] = json_string_value(json_array_get(addrs, i));
        if (texts[i] == NULL) {
            snprintf(err, CTL_ERR_MAX, "join: addrs must be strings");
            return NULL;
        }
    }
    int announced = 0;
    uint64_t id = conn != NULL ? ctl_conn_id(conn) : 0;
    int rc = join_request(rt_join(env->rt), texts, n, conn != NULL ? cmd_join_done : NULL,
                          (void *)env, id, &announced);
    if (rc == ERR_AGAIN && conn != NULL && ctl_conn_defer(conn) == 0)
        return NULL; /* cmd_join_done() answers */
    if (rc != 0 && rc != ERR_AGAIN) {
        snprintf(err, CTL_ERR_MAX, "join: %s", err_strerror(rc));
        return NULL;
    }
    return cmd_join_reply(env, announced, err);
}
