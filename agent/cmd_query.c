/*
 * cmd_query.c - the control command "query": ask the cluster (query.h)
 * and stream the answers on the connection.
 *
 * Request:
 *   {"cmd":"query","name":NAME,"payload":"..." | "payload_hex":"..",
 *    "nodes":[NODE,...],"tags":{"KEY":"PATTERN",...},"timeout_ms":MS,
 *    "relay_factor":K,"no_ack":true}
 * every field but "name" optional; a name with the reserved prefix
 * ("_swim-") is refused.  Reply: {"id":N,"timeout_ms":MS} (the timeout the
 * query runs with: the default when none was given).  Then one line per
 * ack {"type":"ack","from":NODE} and per response
 * {"type":"response","from":NODE,"payload":"..","truncated":false}
 * ("payload_hex" instead when the bytes are not UTF-8), as they arrive,
 * each member once; and at the deadline
 * {"type":"done","acks":N,"responses":M}, after which the connection
 * closes.  Closing the connection early cancels the query.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "err.h"
#include "query.h"
#include "stream.h"

/* The bytes as a JSON string, or as "payload_hex" when not UTF-8. */
static void cmd_query_payload(json_t *o, const uint8_t *p, size_t len)
{
    json_t *s = json_stringn((const char *)p, len);
    if (s != NULL) {
        json_object_set_new(o, "payload", s);
        return;
    }
    char hex[2 * QUERY_RESPONSE_MAX + 1];
    size_t n = len <= QUERY_RESPONSE_MAX ? len : QUERY_RESPONSE_MAX;
    json_object_set_new(o, "payload_hex", json_string(sodium_bin2hex(hex, sizeof(hex), p, n)));
}

static void cmd_query_on_event(void *ctx, const struct query_event *ev)
{
    struct stream *st = ctx;
    if (ev->kind == QUERY_EV_DONE) {
        st->query = NULL; /* over: nothing to cancel */
        json_t *o = json_pack("{s:s,s:I,s:I}", "type", "done", "acks", (json_int_t)ev->acks,
                              "responses", (json_int_t)ev->responses);
        if (o != NULL && ev->dropped > 0)
            json_object_set_new(o, "dropped", json_integer((json_int_t)ev->dropped));
        stream_end(st, o);
        return;
    }
    json_t *o = json_pack("{s:s,s:s}", "type", ev->kind == QUERY_EV_ACK ? "ack" : "response",
                          "from", ev->from);
    if (o != NULL && ev->kind == QUERY_EV_RESPONSE) {
        cmd_query_payload(o, ev->payload, ev->len);
        json_object_set_new(o, "truncated", json_boolean(ev->truncated));
    }
    stream_send(st, o);
}

/* "nodes" into names[]; 0 or -1 with err filled. */
static int cmd_query_nodes(json_t *req, const char **names, size_t *count, char *err)
{
    json_t *nj = json_object_get(req, "nodes");
    *count = 0;
    if (nj == NULL)
        return 0;
    if (!json_is_array(nj) || json_array_size(nj) > QUERY_NODES_MAX) {
        snprintf(err, CTL_ERR_MAX, "query: \"nodes\" must be an array of at most %d node names",
                 QUERY_NODES_MAX);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(nj); i++) {
        names[i] = json_string_value(json_array_get(nj, i));
        if (names[i] == NULL) {
            snprintf(err, CTL_ERR_MAX, "query: \"nodes\" must hold strings");
            return -1;
        }
    }
    *count = json_array_size(nj);
    return 0;
}

/* "tags" into filters[] (pointing into req); 0 or -1 with err filled. */
static int cmd_query_tags(json_t *req, struct query_tag_filter *tags, size_t *count, char *err)
{
    json_t *tj = json_object_get(req, "tags");
    const char *key;
    json_t *v;
    *count = 0;
    if (tj == NULL)
        return 0;
    if (!json_is_object(tj) || json_object_size(tj) > QUERY_TAGS_MAX) {
        snprintf(err, CTL_ERR_MAX,
                 "query: \"tags\" must be an object of at most %d KEY: PATTERN strings",
                 QUERY_TAGS_MAX);
        return -1;
    }
    json_object_foreach(tj, key, v)
    {
        if (!json_is_string(v)) {
            snprintf(err, CTL_ERR_MAX, "query: tag filter \"%.64s\" must be a string", key);
            return -1;
        }
        tags[*count].key = (struct query_bytes){key, strlen(key)};
        tags[*count].pattern = (struct query_bytes){json_string_value(v), json_string_length(v)};
        (*count)++;
    }
    return 0;
}

/* An optional non-negative integer field at most max: 0 or -1 with err. */
int cmd_uint(json_t *req, const char *what, const char *field, uint32_t min, uint32_t max,
             uint32_t *out, char *err)
{
    json_t *j = json_object_get(req, field);
    *out = 0;
    if (j == NULL)
        return 0;
    if (!json_is_integer(j) || json_integer_value(j) < min || json_integer_value(j) > max) {
        snprintf(err, CTL_ERR_MAX, "%s: \"%s\" must be an integer from %u to %u", what, field,
                 (unsigned)min, (unsigned)max);
        return -1;
    }
    *out = (uint32_t)json_integer_value(j);
    return 0;
}

json_t *cmd_query(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err)
{
    if (conn == NULL || env->query == NULL) {
        snprintf(err, CTL_ERR_MAX, "query needs a connection");
        return NULL;
    }
    const char *name = json_string_value(json_object_get(req, "name"));
    if (name == NULL || query_name_reserved(name, strlen(name))) {
        snprintf(err, CTL_ERR_MAX,
                 name == NULL ? "query needs a \"name\""
                              : "query: names starting with \"" QUERY_RESERVED_PREFIX
                                "\" are reserved for swimd");
        return NULL;
    }
    struct stream *st = stream_find(env->streams, ctl_conn_id(conn));
    if (st != NULL && (st->query != NULL || st->sub != NULL || st->has_client)) {
        snprintf(err, CTL_ERR_MAX, "this connection is streaming already");
        return NULL;
    }
    const char *nodes[QUERY_NODES_MAX];
    struct query_tag_filter tags[QUERY_TAGS_MAX];
    uint8_t payload[SWIM_USER_MAX];
    struct query_request qr = {.name = name, .nodes = nodes, .tags = tags, .payload = payload};
    long plen = cmd_payload(req, "query", payload, sizeof(payload), SWIM_USER_MAX, err);
    json_t *no_ack = json_object_get(req, "no_ack");
    if (plen < 0 || cmd_query_nodes(req, nodes, &qr.node_count, err) != 0 ||
        cmd_query_tags(req, tags, &qr.tag_count, err) != 0 ||
        cmd_uint(req, "query", "timeout_ms", 0, QUERY_TIMEOUT_MAX_MS, &qr.timeout_ms, err) != 0 ||
        cmd_uint(req, "query", "relay_factor", 0, SWIM_DIRECT_RELAY_MAX, &qr.relay_factor, err) !=
            0)
        return NULL;
    if (no_ack != NULL && !json_is_boolean(no_ack)) {
        snprintf(err, CTL_ERR_MAX, "query: \"no_ack\" must be true or false");
        return NULL;
    }
    qr.len = (size_t)plen;
    qr.no_ack = json_is_true(no_ack);
    st = stream_get(env->streams, conn);
    if (st == NULL) {
        snprintf(err, CTL_ERR_MAX, "query: out of memory");
        return NULL;
    }
    uint32_t id = 0, timeout_ms = 0;
    char e[CTL_ERR_MAX - 8];
    if (query_start(env->query, &qr, cmd_query_on_event, st, &id, &timeout_ms, e, sizeof(e)) != 0) {
        snprintf(err, CTL_ERR_MAX, "query: %s", e);
        return NULL;
    }
    st->query = env->query;
    st->query_id = id;
    return json_pack("{s:I,s:I}", "id", (json_int_t)id, "timeout_ms", (json_int_t)timeout_ms);
}
