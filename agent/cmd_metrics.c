/*
 * cmd_metrics.c - the control command "metrics": the same Prometheus text
 * the HTTP endpoint serves (metrics.h), as the reply's "text" string, so
 * `swimctl metrics` works without --metrics and without a network port.
 */
#include <event2/buffer.h>
#include <stdio.h>

#include "commands.h"
#include "metrics.h"

json_t *cmd_metrics(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err)
{
    (void)conn;
    (void)req;
    struct evbuffer *buf = evbuffer_new();
    json_t *reply = NULL;
    if (buf != NULL && metrics_render(env, buf) == 0) {
        size_t len = evbuffer_get_length(buf);
        reply = json_pack("{s:s%}", "text", (const char *)evbuffer_pullup(buf, -1), len);
    }
    if (buf != NULL)
        evbuffer_free(buf);
    if (reply == NULL)
        snprintf(err, CTL_ERR_MAX, "out of memory");
    return reply;
}
