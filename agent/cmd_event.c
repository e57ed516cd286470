/*
 * cmd_event.c - the control command "event": broadcast a user event.
 *
 * A user event travels as one core broadcast whose payload is
 *
 *   | u8 name length | name | data |
 *
 * (events.h splits it back into name and data on every node).  The name is
 * text (text_valid(), text.h); the data is opaque bytes, given either as
 * the string "payload" or, for bytes that are not UTF-8, as "payload_hex"
 * (what `watch` shows such a payload as).
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "commands.h"
#include "err.h"
#include "rt.h"
#include "text.h"

/* User event names are short identifiers, like Serf's. */
#define CMD_EVENT_NAME_MAX 64

long cmd_payload(json_t *req, const char *what, uint8_t *buf, size_t cap, size_t limit, char *err)
{
    json_t *pj = json_object_get(req, "payload");
    json_t *hj = json_object_get(req, "payload_hex");
    if (pj != NULL && hj != NULL) {
        snprintf(err, CTL_ERR_MAX, "%s takes \"payload\" or \"payload_hex\", not both", what);
        return -1;
    }
    if (hj != NULL) {
        size_t n = 0;
        const char *hex = json_string_value(hj);
        if (hex == NULL || json_string_length(hj) % 2 != 0 ||
            sodium_hex2bin(buf, cap, hex, json_string_length(hj), NULL, &n, NULL) != 0 ||
            n * 2 != json_string_length(hj)) {
            snprintf(err, CTL_ERR_MAX,
                     "%s: \"payload_hex\" must be hex digits (two per byte) that fit the "
                     "%s (%zu bytes with its name)",
                     what, what, limit);
            return -1;
        }
        return (long)n;
    }
    if (pj != NULL && !json_is_string(pj)) {
        snprintf(err, CTL_ERR_MAX, "%s: \"payload\" must be a string", what);
        return -1;
    }
    size_t n = pj != NULL ? json_string_length(pj) : 0;
    if (n > cap) {
        snprintf(err, CTL_ERR_MAX, "%s too large: name and payload exceed %zu bytes", what, limit);
        return -1;
    }
    if (n > 0)
        memcpy(buf, json_string_value(pj), n);
    return (long)n;
}

json_t *cmd_event(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err)
{
    (void)conn;
    json_t *nj = json_object_get(req, "name");
    const char *name = json_string_value(nj);
    size_t nlen = name != NULL ? json_string_length(nj) : 0;
    if (name == NULL || nlen == 0 || nlen > CMD_EVENT_NAME_MAX || !text_valid(name, nlen)) {
        snprintf(err, CTL_ERR_MAX,
                 "event needs a \"name\" (1 to %d bytes of text without control characters) "
                 "and an optional string \"payload\" or \"payload_hex\"",
                 CMD_EVENT_NAME_MAX);
        return NULL;
    }
    uint8_t buf[SWIM_USER_MAX];
    buf[0] = (uint8_t)nlen;
    memcpy(buf + 1, name, nlen);
    long plen =
        cmd_payload(req, "event", buf + 1 + nlen, sizeof(buf) - 1 - nlen, SWIM_USER_MAX - 1, err);
    if (plen < 0)
        return NULL;
    int rc = swim_broadcast(rt_core(env->rt), buf, 1 + nlen + (size_t)plen, clock_mono_ms());
    if (rc != 0) {
        snprintf(err, CTL_ERR_MAX, "event: %s", err_strerror(rc));
        return NULL;
    }
    return json_object();
}
