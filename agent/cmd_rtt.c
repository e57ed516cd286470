/*
 * cmd_rtt.c - the control command "rtt": the round trip between two nodes
 * as their network coordinates estimate it (swim.h, coord.c), as Serf's
 * and Consul's `rtt` commands do.  Request {"a": NAME, "b": NAME}; b is
 * optional and defaults to this node.  Either name may be this node's own.
 * The coordinates are this node's own and the last each member sent us on
 * a probe or its answer, so any two members this node has exchanged probes
 * with can be compared, not only pairs that include it.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "err.h"
#include "rt.h"

/* The coordinate of the node `key` names in req (this node's when absent
 * and `optional`), its name in *name; NULL with err set when none. */
static int cmd_rtt_coord(struct swim *core, json_t *req, const char *key, int optional,
                         const char **name, struct swim_coord *out, char *err)
{
    struct swim_member_info self;
    json_t *j = json_object_get(req, key);
    swim_self(core, &self);
    if (j == NULL && optional) {
        *name = self.name;
        swim_coord_self(core, out);
        return 0;
    }
    const char *n = json_string_value(j);
    if (n == NULL || !swim_name_valid(n, json_string_length(j))) {
        snprintf(err, CTL_ERR_MAX,
                 "rtt needs \"%s\": a node name (1 to %d bytes of text without spaces or "
                 "control characters)",
                 key, SWIM_NAME_MAX);
        return ERR_INVAL;
    }
    *name = n;
    if (strcmp(n, self.name) == 0) {
        swim_coord_self(core, out);
        return 0;
    }
    int rc = swim_member_coord(core, n, out);
    if (rc == ERR_NOTFOUND)
        snprintf(err, CTL_ERR_MAX, "no member named \"%.64s\"", n);
    else if (rc == ERR_AGAIN)
        snprintf(err, CTL_ERR_MAX, "no coordinate for \"%.64s\" yet (it has not probed us)", n);
    else if (rc != 0)
        snprintf(err, CTL_ERR_MAX, "rtt: %s", err_strerror(rc));
    return rc;
}

json_t *cmd_rtt(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err)
{
    (void)conn;
    struct swim *core = rt_core(env->rt);
    struct swim_coord ca, cb;
    const char *a, *b;
    if (cmd_rtt_coord(core, req, "a", 0, &a, &ca, err) != 0 ||
        cmd_rtt_coord(core, req, "b", 1, &b, &cb, err) != 0)
        return NULL;
    uint64_t us = swim_coord_rtt_us(&ca, &cb);
    return json_pack("{s:s,s:s,s:f,s:I}", "a", a, "b", b, "rtt_ms", (double)us / 1000.0, "rtt_us",
                     (json_int_t)us);
}
