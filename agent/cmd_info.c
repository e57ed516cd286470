/*
 * cmd_info.c - the control command "info": this node, its counters and the
 * state of every part of swimd (runtime, core, event bus, streams, bridge,
 * joins, handlers, queries, control clients) with the bounds that apply to them, as
 * one JSON object.
 */
#include "bridge.h"
#include "commands.h"
#include "events.h"
#include "handlers.h"
#include "join.h"
#include "keyring.h"
#include "query.h"
#include "rt.h"
#include "stream.h"

/* Member counts by status, this node included. */
static json_t *cmd_info_counts(struct swim *core)
{
    size_t counts[SWIM_LEFT + 1];
    swim_count_members(core, counts);
    return json_pack("{s:I,s:I,s:I,s:I}", "alive", (json_int_t)counts[SWIM_ALIVE], "suspect",
                     (json_int_t)counts[SWIM_SUSPECT], "failed", (json_int_t)counts[SWIM_FAILED],
                     "left", (json_int_t)counts[SWIM_LEFT]);
}

static void cmd_info_set_int(json_t *o, const char *key, uint64_t v)
{
    json_object_set_new(o, key, ev_json_u64(v));
}

json_t *cmd_info(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err)
{
    (void)conn;
    (void)req;
    (void)err;
    struct swim *core = rt_core(env->rt);
    struct swim_member_info self;
    struct swim_stats st;
    struct rt_stats rs;
    struct join_stats js;
    swim_self(core, &self);
    swim_get_stats(core, &st);
    rt_get_stats(env->rt, &rs);
    join_get_stats(rt_join(env->rt), &js);
    json_t *o = json_object();
    json_object_set_new(o, "self", cmd_member_json(&self));
    json_object_set_new(o, "counts", cmd_info_counts(core));
    cmd_info_set_int(o, "incarnation", self.incarnation);
    cmd_info_set_int(o, "packets_in", rs.packets_in);
    cmd_info_set_int(o, "packets_out", rs.packets_out);
    cmd_info_set_int(o, "bytes_in", rs.bytes_in);
    cmd_info_set_int(o, "bytes_out", rs.bytes_out);
    cmd_info_set_int(o, "decrypt_failures", rs.decrypt_failures);
    cmd_info_set_int(o, "replays_refused", rs.replays_refused);
    cmd_info_set_int(o, "malformed", st.malformed);
    cmd_info_set_int(o, "send_errors", rs.send_errors);
    cmd_info_set_int(o, "health", st.health);
    cmd_info_set_int(o, "pending_updates", st.pending_updates);
    cmd_info_set_int(o, "probes", st.probes);
    cmd_info_set_int(o, "probe_failures", st.probe_failures);
    cmd_info_set_int(o, "accusations", st.accusations);
    cmd_info_set_int(o, "verdicts_held", st.verdicts_held);
    cmd_info_set_int(o, "suspicions", st.suspicions);
    cmd_info_set_int(o, "refutations", st.refutations);
    cmd_info_set_int(o, "suspicions_refuted", st.suspicions_refuted);
    cmd_info_set_int(o, "tables_refused", st.tables_refused);
    cmd_info_set_int(o, "name_conflicts", st.name_conflicts);
    cmd_info_set_int(o, "max_members", rt_swim_config(env->rt)->max_members);
    cmd_info_set_int(o, "members_refused", st.members_refused);
    cmd_info_set_int(o, "answers_capped", st.answers_capped);
    cmd_info_set_int(o, "directs_refused", st.directs_refused);
    json_object_set_new(o, "encrypted", json_boolean(env->kr != NULL));
    cmd_info_set_int(o, "keys", env->kr != NULL ? keyring_count(env->kr) : 0);
    json_object_set_new(o, "label", json_string(env->cfg->label));
    json_object_set_new(o, "profile", json_string(env->cfg->profile));
    json_object_set_new(o, "active", json_boolean(rs.active));
    json_object_set_new(o, "leaving", json_boolean(rs.leaving));
    cmd_info_set_int(o, "timers", rs.timers);
    cmd_info_set_int(o, "join_attempts", js.attempts);
    cmd_info_set_int(o, "resolving", js.lookups);
    cmd_info_set_int(o, "event_clock", ev_bus_clock(env->bus));
    cmd_info_set_int(o, "event_first_held", ev_bus_first_held(env->bus));
    cmd_info_set_int(o, "bridge_position", bridge_position(env->bridge));
    cmd_info_set_int(o, "watchers", streams_watchers(env->streams));
    cmd_info_set_int(o, "watch_budget_bytes", STREAM_WATCH_BUDGET_BYTES);
    cmd_info_set_int(o, "watch_used_bytes", streams_watch_used(env->streams));
    struct ctl_stats cs = {0};
    if (env->ctl != NULL)
        ctl_get_stats(env->ctl, &cs);
    cmd_info_set_int(o, "clients", env->ctl != NULL ? ctl_client_count(env->ctl) : 0);
    cmd_info_set_int(o, "clients_max", CTL_CLIENTS_MAX);
    cmd_info_set_int(o, "clients_reserved", CTL_CLIENTS_RESERVED);
    cmd_info_set_int(o, "clients_refused", cs.refused_peers);
    cmd_info_set_int(o, "clients_refused_full", cs.refused_full);
    cmd_info_set_int(o, "clients_idle_closed", cs.idle_closed);
    cmd_info_set_int(o, "clients_evicted", cs.evicted);
    cmd_info_set_int(o, "monitors", streams_monitors(env->streams));
    json_object_set_new(o, "snapshot", json_string(env->cfg->snapshot));
    if (env->query != NULL) {
        struct query_stats qs;
        query_get_stats(env->query, &qs);
        json_t *q = json_object();
        cmd_info_set_int(q, "pending", qs.pending);
        cmd_info_set_int(q, "pending_max", QUERY_PENDING_MAX);
        cmd_info_set_int(q, "received", qs.received);
        cmd_info_set_int(q, "responses", qs.responses);
        cmd_info_set_int(q, "send_errors", qs.send_errors);
        json_object_set_new(o, "queries", q);
    }
    if (env->hd != NULL) {
        struct hd_stats hs;
        hd_runner_stats(env->hd, &hs);
        json_t *h = json_object();
        cmd_info_set_int(h, "position", hs.position);
        cmd_info_set_int(h, "runs", hs.runs);
        cmd_info_set_int(h, "failures", hs.failures);
        cmd_info_set_int(h, "timeouts", hs.timeouts);
        cmd_info_set_int(h, "lost", hs.lost);
        json_object_set_new(o, "handlers", h);
    }
    return o;
}
