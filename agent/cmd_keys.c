/*
 * cmd_keys.c - the control command "keys": list, install, use or remove a
 * cluster key on every alive member, and the reply that tallies each
 * node's answer.
 *
 * Request:  {"cmd":"keys","op":"list"|"install"|"use"|"remove",
 *            "key":BASE64 (not for list), "local":true, "timeout_ms":MS}
 *
 * The operation goes to every member as the internal query
 * KEYMSG_QUERY_NAME (query.h; payloads keymsg.h), this node included, and
 * each member runs it on its own keyring (keyops.h, registered by agent.c)
 * and answers.  The members asked are those alive or suspect when the
 * request comes; the reply waits until each of them has answered.  A query
 * travels by gossip, which can miss a member, so at the end of a round
 * (the query's timeout: query_default_timeout_ms(), Serf's, or
 * "timeout_ms" / CMD_KEYS_ROUNDS) the silent ones are asked again, up to
 * CMD_KEYS_ROUNDS rounds; then the reply names every one that did not
 * answer ("no response", or "acknowledged but gave no answer" for one that
 * acked only).  Only a member's first answer counts: install and use are
 * idempotent, so asking again is harmless; a remove whose answer was lost
 * on the way would be answered "key not installed" the second time.  A
 * member known as failed at the start is not asked and is reported failed
 * at once ("member failed: not reached"), so the operator learns which
 * nodes must catch up when they come back; a member that left is not
 * counted.  A member that answers without having been counted (it joined
 * meanwhile) is counted too.  With "local": true only this node's keyring
 * is used, at once, without a query.
 *
 * Reply (one shape for one node or many):
 *
 *   {"op":"install","nodes":N,"succeeded":K,
 *    "failed":[{"node":NAME,"error":MESSAGE},...],
 *    "keys":{BASE64:HOLDERS,...},"primary":{BASE64:NODES,...}}
 *
 * nodes counts the nodes asked, succeeded those that answered done;
 * failed names every other one with its message.  "keys" and "primary"
 * come with list only: for each key, how many nodes hold it and how many
 * use it as their primary.  The keys are base64, as in Serf: the control
 * socket is its owner's only (mode 0600 by default), and whoever may ask
 * could read the keyring file anyway.  A plaintext node refuses the
 * request itself.
 *
 * Operations in flight (struct cmd_keys_run, at most CMD_KEYS_RUNS_MAX)
 * are kept in env->keys_runs, so control_delete() can cancel their queries
 * and free them; the reply is deferred (ctl_conn_defer()).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "commands.h"
#include "err.h"
#include "keymsg.h"
#include "keyops.h"
#include "keyring.h"
#include "query.h"
#include "rt.h"

/* Cluster-wide keys operations one node runs at once: rotation is an
 * operator's few steps, and each run holds a list of every member. */
#define CMD_KEYS_RUNS_MAX 8
/* Times a member is asked before it is reported silent: a query travels by
 * gossip, which may miss a member now and then (each node passes it on
 * retransmit_mult x ceil(log10(N + 1)) times: twice in a small cluster on
 * the local profile), so the silent ones are asked again. */
#define CMD_KEYS_ROUNDS 3

/* A member asked, and what it said so far. */
struct cmd_keys_target {
    char name[SWIM_NAME_MAX + 1];
    int acked;
    int answered;
};

/* One cluster-wide operation waiting for its answers. */
struct cmd_keys_run {
    LIST_ENTRY(cmd_keys_run) link;
    const struct control_env *env; /* the control API's (outlives the run) */
    struct cmd_keys_runs *runs;
    uint64_t conn_id;
    uint32_t query_id;                   /* the current round's */
    uint32_t round_ms;                   /* each round's timeout (0: the query default) */
    int round;                           /* 1..CMD_KEYS_ROUNDS */
    uint8_t payload[KEYMSG_REQUEST_MAX]; /* the request (wiped when freed) */
    size_t len;
    json_t *reply;                   /* the tally so far */
    struct cmd_keys_target *targets; /* sorted by name */
    size_t n, answered;
};

struct cmd_keys_runs {
    LIST_HEAD(, cmd_keys_run) all;
    size_t n;
};

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

/* ---- cluster-wide ---- */

struct cmd_keys_runs *cmd_keys_runs_new(void)
{
    struct cmd_keys_runs *r = calloc(1, sizeof(*r));
    if (r != NULL)
        LIST_INIT(&r->all);
    return r;
}

static void cmd_keys_run_free(struct cmd_keys_run *run)
{
    LIST_REMOVE(run, link);
    run->runs->n--;
    sodium_memzero(run->payload, sizeof(run->payload));
    json_decref(run->reply);
    free(run->targets);
    free(run);
}

void cmd_keys_runs_delete(struct cmd_keys_runs *r, struct query *q)
{
    if (r == NULL)
        return;
    /* Each pass frees the first run. */
    while (!LIST_EMPTY(&r->all)) {
        struct cmd_keys_run *run = LIST_FIRST(&r->all);
        query_cancel(q, run->query_id);
        cmd_keys_run_free(run);
    }
    free(r);
}

static int cmd_keys_target_cmp(const void *a, const void *b)
{
    return strcmp(((const struct cmd_keys_target *)a)->name,
                  ((const struct cmd_keys_target *)b)->name);
}

/* An error answer for node, counted in run's tally. */
static int cmd_keys_fail(json_t *reply, const char *node, const char *why)
{
    struct keymsg_response resp = {.ok = 0};
    snprintf(resp.error, sizeof(resp.error), "%s", why);
    return cmd_keys_reply_add(reply, node, &resp);
}

/* The members to ask (alive and suspect, this node first) into
 * run->targets, sorted; failed ones straight into the tally.  0 or
 * ERR_NOMEM. */
static int cmd_keys_targets(struct cmd_keys_run *run)
{
    struct swim *core = rt_core(run->env->rt);
    struct swim_member_info m;
    size_t count = swim_member_count(core);
    run->targets = calloc(count + 1, sizeof(*run->targets));
    if (run->targets == NULL)
        return ERR_NOMEM;
    swim_self(core, &m);
    snprintf(run->targets[run->n++].name, SWIM_NAME_MAX + 1, "%s", m.name);
    for (size_t i = 0; i < count; i++) {
        if (swim_member_at(core, i, &m) != 0)
            continue;
        if (m.status == SWIM_ALIVE || m.status == SWIM_SUSPECT)
            snprintf(run->targets[run->n++].name, SWIM_NAME_MAX + 1, "%s", m.name);
        else if (m.status == SWIM_FAILED &&
                 cmd_keys_fail(run->reply, m.name, "member failed: not reached") != 0)
            return ERR_NOMEM;
    }
    qsort(run->targets, run->n, sizeof(*run->targets), cmd_keys_target_cmp);
    return 0;
}

static int cmd_keys_failed_cmp(const void *a, const void *b)
{
    const char *x = json_string_value(json_object_get(*(json_t *const *)a, "node"));
    const char *y = json_string_value(json_object_get(*(json_t *const *)b, "node"));
    return strcmp(x != NULL ? x : "", y != NULL ? y : "");
}

/* The reply's "failed" sorted by node name, so a report reads the same
 * whatever order the answers came in.  0 or ERR_NOMEM. */
static int cmd_keys_sort_failed(json_t *reply)
{
    json_t *failed = json_object_get(reply, "failed");
    size_t n = json_array_size(failed);
    json_t **items = calloc(n + 1, sizeof(*items)), *sorted = json_array();
    int rc = items != NULL && sorted != NULL ? 0 : ERR_NOMEM;
    for (size_t i = 0; rc == 0 && i < n; i++)
        items[i] = json_array_get(failed, i);
    if (rc == 0)
        qsort(items, n, sizeof(*items), cmd_keys_failed_cmp);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = json_array_append(sorted, items[i]) == 0 ? 0 : ERR_NOMEM;
    if (rc == 0)
        rc = json_object_set(reply, "failed", sorted) == 0 ? 0 : ERR_NOMEM;
    json_decref(sorted);
    free(items);
    return rc;
}

/* Every member asked has answered, or the time is up: name the silent
 * ones, send the reply and free the run (its query cancelled if early). */
static void cmd_keys_finish(struct cmd_keys_run *run, int early)
{
    const struct control_env *env = run->env;
    int rc = 0;
    for (size_t i = 0; i < run->n && rc == 0; i++)
        if (!run->targets[i].answered)
            rc = cmd_keys_fail(run->reply, run->targets[i].name,
                               run->targets[i].acked ? "acknowledged but gave no answer"
                                                     : "no response");
    if (rc == 0)
        rc = cmd_keys_sort_failed(run->reply);
    if (early)
        query_cancel(env->query, run->query_id);
    log_msg(env->log, LOG_INFO, "keys %s: %lld of %lld nodes succeeded",
            json_string_value(json_object_get(run->reply, "op")),
            (long long)json_integer_value(json_object_get(run->reply, "succeeded")),
            (long long)json_integer_value(json_object_get(run->reply, "nodes")));
    json_t *reply = run->reply;
    run->reply = NULL;
    if (rc != 0) {
        json_decref(reply);
        reply = NULL;
    }
    ctl_reply_later(env->ctl, run->conn_id, reply, "out of memory"); /* takes reply */
    cmd_keys_run_free(run);
}

static void cmd_keys_on_event(void *ctx, const struct query_event *ev);

/*
 * The next round: the query to every member (round 1, or when more than
 * QUERY_NODES_MAX are silent; those who answered before are not counted
 * twice) or to the silent ones by name.  0, or an error with e filled.
 */
static int cmd_keys_ask(struct cmd_keys_run *run, char *e, size_t elen)
{
    const char *names[QUERY_NODES_MAX];
    size_t silent = 0;
    for (size_t i = 0; i < run->n; i++)
        if (!run->targets[i].answered && silent++ < QUERY_NODES_MAX)
            names[silent - 1] = run->targets[i].name;
    struct query_request qr = {
        .name = KEYMSG_QUERY_NAME,
        .payload = run->payload,
        .len = run->len,
        .nodes = names,
        .node_count = run->round > 0 && silent <= QUERY_NODES_MAX ? silent : 0,
        .timeout_ms = run->round_ms,
    };
    int rc =
        query_start(run->env->query, &qr, cmd_keys_on_event, run, &run->query_id, NULL, e, elen);
    if (rc == 0 && ++run->round > 1)
        log_msg(run->env->log, LOG_INFO, "keys: asking %zu silent members again (round %d)", silent,
                run->round);
    return rc;
}

/* One member's answer (query_event_f). */
static void cmd_keys_on_event(void *ctx, const struct query_event *ev)
{
    struct cmd_keys_run *run = ctx;
    char e[CTL_ERR_MAX];
    if (ev->kind == QUERY_EV_DONE) {
        if (run->round < CMD_KEYS_ROUNDS && cmd_keys_ask(run, e, sizeof(e)) == 0)
            return; /* the silent ones asked again */
        cmd_keys_finish(run, 0);
        return;
    }
    struct cmd_keys_target key, *t;
    snprintf(key.name, sizeof(key.name), "%s", ev->from);
    t = bsearch(&key, run->targets, run->n, sizeof(*run->targets), cmd_keys_target_cmp);
    if (ev->kind == QUERY_EV_ACK) {
        if (t != NULL)
            t->acked = 1;
        return;
    }
    /* A member's first answer counts; a later round's asks everyone again
     * when many are silent, and a member not asked is counted in round 1
     * only (it is not remembered). */
    if ((t != NULL && t->answered) || (t == NULL && run->round > 1))
        return;
    struct keymsg_response resp;
    const uint8_t *pos = ev->payload;
    if (ev->truncated || keymsg_decode_response(&resp, &pos, ev->payload + ev->len) != 0) {
        memset(&resp, 0, sizeof(resp));
        snprintf(resp.error, sizeof(resp.error), "malformed answer");
    }
    int rc = cmd_keys_reply_add(run->reply, ev->from, &resp);
    sodium_memzero(&resp, sizeof(resp));
    if (rc != 0)
        log_msg(run->env->log, LOG_WARN, "keys: answer of %s not counted: out of memory", ev->from);
    if (t != NULL) {
        t->answered = 1;
        run->answered++;
    }
    if (run->answered == run->n)
        cmd_keys_finish(run, 1);
}

/* Start rq on every member; the reply is deferred.  NULL with err filled
 * when it cannot start. */
static json_t *cmd_keys_cluster(const struct control_env *env, struct ctl_conn *conn,
                                const struct keymsg_request *rq, uint32_t timeout_ms, char *err)
{
    if (conn == NULL || env->query == NULL || env->keys_runs == NULL) {
        snprintf(err, CTL_ERR_MAX, "keys on every member needs a connection");
        return NULL;
    }
    if (env->keys_runs->n >= CMD_KEYS_RUNS_MAX) {
        snprintf(err, CTL_ERR_MAX, "keys: %d operations in flight already; try again shortly",
                 CMD_KEYS_RUNS_MAX);
        return NULL;
    }
    struct cmd_keys_run *run = calloc(1, sizeof(*run));
    if (run == NULL || (run->reply = cmd_keys_reply_new(rq->op)) == NULL) {
        free(run);
        snprintf(err, CTL_ERR_MAX, "out of memory");
        return NULL;
    }
    run->env = env;
    run->runs = env->keys_runs;
    run->conn_id = ctl_conn_id(conn);
    run->round_ms = timeout_ms / CMD_KEYS_ROUNDS;
    LIST_INSERT_HEAD(&env->keys_runs->all, run, link);
    env->keys_runs->n++;
    char e[CTL_ERR_MAX - 16];
    int len = keymsg_encode_request(rq, run->payload, sizeof(run->payload));
    int rc = len < 0 ? len : cmd_keys_targets(run);
    run->len = (size_t)(len > 0 ? len : 0);
    if (rc != 0)
        snprintf(e, sizeof(e), "%s", err_strerror(rc));
    else
        rc = cmd_keys_ask(run, e, sizeof(e));
    if (rc == 0 && ctl_conn_defer(conn) == 0) {
        log_msg(env->log, LOG_INFO, "keys %s: asking %zu members", keymsg_op_name(rq->op), run->n);
        return NULL; /* cmd_keys_finish() answers */
    }
    if (rc == 0) {
        query_cancel(env->query, run->query_id);
        snprintf(e, sizeof(e), "cannot wait for the answers");
    }
    snprintf(err, CTL_ERR_MAX, "keys: %s", e);
    cmd_keys_run_free(run);
    return NULL;
}

/* ---- the command ---- */

json_t *cmd_keys(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err)
{
    struct keymsg_request rq;
    struct keymsg_response resp;
    uint32_t timeout_ms = 0;
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
    if (cmd_uint(req, "keys", "timeout_ms", CMD_KEYS_ROUNDS, QUERY_TIMEOUT_MAX_MS, &timeout_ms,
                 err) != 0 ||
        cmd_keys_parse(req, &rq, err) != 0)
        return NULL;
    if (!json_is_true(local)) {
        json_t *r = cmd_keys_cluster(env, conn, &rq, timeout_ms, err);
        sodium_memzero(&rq, sizeof(rq));
        return r;
    }
    json_t *reply = cmd_keys_reply_new(rq.op);
    keyops_apply(env->keyops, NULL, &rq, &resp);
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
