/*
 * monitor.c - the control command "monitor": tell a client when any of the
 * named members fails or leaves (swimctl monitor, swimctl run --peer).
 *
 * The connection becomes a client of the member links (links.h) with a
 * BP_MONITOR link to each named member's device; each report is one line
 * {"member":NAME,"reason":"failed"|"left"|"unknown"}.  Members already
 * failed, left or unknown are reported at once: those lines follow the
 * reply, whose "immediate" counts them.  This node's own name is a member
 * too (bridge.h): reported "left" when swimd shuts down.  Names must pass
 * the name rule (swim_name_valid()).
 */
#include <stdio.h>

#include "bridge.h"
#include "commands.h"
#include "err.h"
#include "stream.h"

void monitor_on_report(void *ctx, const struct ml_report *rep)
{
    struct streams *ss = ctx;
    struct stream *st = stream_find(ss, rep->cookie);
    log_msg(streams_config(ss)->log, LOG_INFO, "link-report member=%s reason=%s conn=%llu",
            rep->member, ml_reason_name(rep->reason), (unsigned long long)rep->cookie);
    if (st == NULL || st->ended)
        return;
    if (st->in_monitor)
        st->immediate++;
    stream_send(
        st, json_pack("{s:s,s:s}", "member", rep->member, "reason", ml_reason_name(rep->reason)));
}

json_t *cmd_monitor(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err)
{
    json_t *jnames = json_object_get(req, "names");
    const char *names[ML_CLIENT_NAMES_MAX];
    size_t n = json_is_array(jnames) ? json_array_size(jnames) : 0;
    if (conn == NULL || n == 0 || n > ML_CLIENT_NAMES_MAX) {
        snprintf(err, CTL_ERR_MAX, "monitor needs \"names\": an array of 1 to %d member names",
                 ML_CLIENT_NAMES_MAX);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *jn = json_array_get(jnames, i);
        names[i] = json_string_value(jn);
        if (names[i] == NULL || !swim_name_valid(names[i], json_string_length(jn))) {
            snprintf(err, CTL_ERR_MAX,
                     "monitor: names must be member names (1 to %d bytes of text without "
                     "spaces or control characters)",
                     SWIM_NAME_MAX);
            return NULL;
        }
    }
    struct stream *st = stream_get(env->streams, conn);
    if (st == NULL) {
        snprintf(err, CTL_ERR_MAX, "out of memory");
        return NULL;
    }
    if (st->has_client) {
        snprintf(err, CTL_ERR_MAX, "already monitoring on this connection");
        return NULL;
    }
    uint64_t client = 0;
    st->ml = bridge_links(env->bridge);
    st->immediate = 0;
    st->in_monitor = 1; /* reports made now go out right after the reply */
    int rc = ml_client_new(st->ml, st->id, names, n, &client);
    st->in_monitor = 0;
    if (rc != 0) {
        snprintf(err, CTL_ERR_MAX, "monitor: %s", err_strerror(rc));
        return NULL;
    }
    st->has_client = 1;
    st->client = client;
    log_msg(env->log, LOG_DEBUG, "monitor conn=%llu names=%zu immediate=%zu",
            (unsigned long long)st->id, n, st->immediate);
    return json_pack("{s:I}", "immediate", (json_int_t)st->immediate);
}
