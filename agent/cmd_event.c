/*
 * cmd_event.c - the control command "event": broadcast a user event.
 *
 * A user event travels as one core broadcast whose payload is
 *
 *   | u8 name length | name | data |
 *
 * (events.h splits it back into name and data on every node).
 */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "commands.h"
#include "err.h"
#include "rt.h"

/* User event names are short identifiers, like Serf's. */
#define CMD_EVENT_NAME_MAX 64

json_t *cmd_event(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err)
{
    (void)conn;
    const char *name = json_string_value(json_object_get(req, "name"));
    json_t *pj = json_object_get(req, "payload");
    const char *payload = pj != NULL ? json_string_value(pj) : "";
    if (name == NULL || name[0] == '\0' || strlen(name) > CMD_EVENT_NAME_MAX || payload == NULL) {
        snprintf(err, CTL_ERR_MAX,
                 "event needs a \"name\" (1 to %d bytes) and an optional string \"payload\"",
                 CMD_EVENT_NAME_MAX);
        return NULL;
    }
    size_t nlen = strlen(name), plen = pj != NULL ? json_string_length(pj) : 0;
    if (1 + nlen + plen > SWIM_USER_MAX) {
        snprintf(err, CTL_ERR_MAX, "event too large: name and payload exceed %d bytes",
                 SWIM_USER_MAX - 1);
        return NULL;
    }
    uint8_t buf[SWIM_USER_MAX];
    buf[0] = (uint8_t)nlen;
    memcpy(buf + 1, name, nlen);
    memcpy(buf + 1 + nlen, payload, plen);
    int rc = swim_broadcast(rt_core(env->rt), buf, 1 + nlen + plen, clock_mono_ms());
    if (rc != 0) {
        snprintf(err, CTL_ERR_MAX, "event: %s", err_strerror(rc));
        return NULL;
    }
    return json_object();
}
