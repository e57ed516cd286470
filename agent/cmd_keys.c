/*
 * cmd_keys.c - the control command "keys": list, install, use or remove a
 * cluster key, and the reply that tallies each node's answer.
 *
 * Request:  {"cmd":"keys","op":"list"|"install"|"use"|"remove",
 *            "key":BASE64 (not for list), "local":true}
 *
 * With "local": true the operation runs on this node only (keyops.h);
 * without it, it would run on every alive member, which needs the internal
 * queries this build does not have yet: such a request is refused.
 *
 * Reply (one shape for one node or many):
 *
 *   {"op":"install","nodes":N,"succeeded":K,
 *    "failed":[{"node":NAME,"error":MESSAGE},...],
 *    "keys":{BASE64:HOLDERS,...},"primary":{BASE64:NODES,...}}
 *
 * nodes counts the nodes asked, succeeded those that answered done;
 * failed names every other one with its message.  "keys" and "primary" come with list
 * only: for each key, how many nodes hold it and how many use it as their
 * primary.  The keys are base64, as in Serf: the control socket is its
 * owner's only (mode 0600 by default), and whoever may ask could read the
 * keyring file anyway.  A plaintext node refuses the request itself.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "err.h"
#include "keymsg.h"
#include "keyops.h"
#include "keyring.h"

/* o[name] += 1 (an integer member; missing counts as 0). */
static int cmd_keys_bump(json_t *o, const char *name)
{
    json_int_t n = json_integer_value(json_object_get(o, name));
    return json_object_set_new(o, name, json_integer(n + 1)) == 0 ? 0 : ERR_NOMEM;
}

/* Count one more node for key (binary) in o ({BASE64:count}). */
static int cmd_keys_count(json_t *o, const uint8_t *key)
{
    char b64[KEYRING_B64_MAX];
    sodium_bin2base64(b64, sizeof(b64), key, KEYRING_KEY_BYTES, sodium_base64_VARIANT_ORIGINAL);
    int rc = cmd_keys_bump(o, b64);
    sodium_memzero(b64, sizeof(b64));
    return rc;
}

/* An empty tally for op: no node counted yet.  NULL when out of memory. */
static json_t *cmd_keys_reply_new(enum keymsg_op op)
{
    json_t *reply = json_pack("{s:s,s:i,s:i,s:[]}", "op", keymsg_op_name(op), "nodes", 0,
                              "succeeded", 0, "failed");
    if (reply != NULL && op == KEYMSG_LIST &&
        (json_object_set_new(reply, "keys", json_object()) != 0 ||
         json_object_set_new(reply, "primary", json_object()) != 0)) {
        json_decref(reply);
        return NULL;
    }
    return reply;
}

/* Count node's answer resp in reply.  0 or ERR_NOMEM. */
static int cmd_keys_reply_add(json_t *reply, const char *node, const struct keymsg_response *resp)
{
    if (cmd_keys_bump(reply, "nodes") != 0)
        return ERR_NOMEM;
    if (!resp->ok)
        return json_array_append_new(json_object_get(reply, "failed"),
                                     json_pack("{s:s,s:s}", "node", node, "error", resp->error)) ==
                       0
                   ? 0
                   : ERR_NOMEM;
    json_t *keys = json_object_get(reply, "keys"), *primary = json_object_get(reply, "primary");
    int rc = cmd_keys_bump(reply, "succeeded");
    for (size_t i = 0; rc == 0 && keys != NULL && i < resp->count; i++)
        rc = cmd_keys_count(keys, resp->keys[i]);
    if (rc == 0 && primary != NULL && resp->count > 0)
        rc = cmd_keys_count(primary, resp->keys[0]);
    return rc;
}

/* The request's op and key into *out: 0, or -1 with err filled. */
static int cmd_keys_parse(json_t *req, struct keymsg_request *out, char *err)
{
    const char *op = json_string_value(json_object_get(req, "op"));
    json_t *kj = json_object_get(req, "key");
    memset(out, 0, sizeof(*out));
    if (op == NULL || keymsg_op_parse(op, &out->op) != 0) {
        snprintf(err, CTL_ERR_MAX,
                 "keys needs \"op\": \"list\", \"install\", \"use\" or \"remove\"");
        return -1;
    }
    if (out->op == KEYMSG_LIST && kj != NULL) {
        snprintf(err, CTL_ERR_MAX, "keys list takes no \"key\"");
        return -1;
    }
    if (out->op != KEYMSG_LIST &&
        (!json_is_string(kj) || keyring_parse_base64(json_string_value(kj), out->key) != 0)) {
        snprintf(err, CTL_ERR_MAX, "keys %s needs \"key\": a base64 %d-byte key", op,
                 KEYRING_KEY_BYTES);
        return -1;
    }
    return 0;
}

json_t *cmd_keys(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err)
{
    (void)conn;
    struct keymsg_request rq;
    struct keymsg_response resp;
    json_t *local = json_object_get(req, "local");
    if (env->kr == NULL) {
        snprintf(err, CTL_ERR_MAX,
                 "this cluster is not encrypted (swimd runs without --keyring): no keys to manage");
        return NULL;
    }
    if (local != NULL && !json_is_boolean(local)) {
        snprintf(err, CTL_ERR_MAX, "keys: \"local\" must be true or false");
        return NULL;
    }
    if (cmd_keys_parse(req, &rq, err) != 0)
        return NULL;
    if (!json_is_true(local)) {
        snprintf(err, CTL_ERR_MAX,
                 "keys on every member needs internal queries, not in this build; "
                 "use \"local\": true (swimctl keys --local) on each node");
        sodium_memzero(&rq, sizeof(rq));
        return NULL;
    }
    json_t *reply = cmd_keys_reply_new(rq.op);
    keyops_apply(env->keyops, &rq, &resp);
    if (reply != NULL && cmd_keys_reply_add(reply, env->cfg->name, &resp) != 0) {
        json_decref(reply);
        reply = NULL;
    }
    sodium_memzero(&rq, sizeof(rq));
    sodium_memzero(&resp, sizeof(resp));
    if (reply == NULL)
        snprintf(err, CTL_ERR_MAX, "out of memory");
    return reply;
}
