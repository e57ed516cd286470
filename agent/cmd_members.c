/*
 * cmd_members.c - the control command "members": this node and every member
 * of the core's table, as JSON objects, each with its network coordinate
 * (this node's own, and the last each member sent us).
 */
#include "addr.h"
#include "commands.h"
#include "events.h"
#include "rt.h"

json_t *cmd_coord_json(const struct swim_coord *c)
{
    json_t *vec = json_array();
    for (size_t i = 0; i < SWIM_COORD_DIM; i++)
        json_array_append_new(vec, json_real(c->vec[i]));
    return json_pack("{s:o,s:f,s:f,s:f}", "vec", vec, "height", c->height, "error_estimate",
                     c->error, "adjustment", c->adjustment);
}

json_t *cmd_member_json(const struct swim_member_info *m, const struct swim_coord *coord)
{
    char a[ADDR_TEXT_MAX];
    int malformed;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "name", json_string(m->name));
    json_object_set_new(o, "addr", json_string(addr_format(&m->addr, a)));
    json_object_set_new(o, "status", json_string(swim_status_name(m->status)));
    json_object_set_new(o, "incarnation", json_integer(m->incarnation));
    json_object_set_new(o, "generation", ev_json_u64(m->generation));
    /* The smoothed probe round trip in ms, to 0.1 ms; null while unknown. */
    json_object_set_new(o, "rtt_ms",
                        m->rtt_us == SWIM_RTT_UNKNOWN
                            ? json_null()
                            : json_real((double)(((uint64_t)m->rtt_us + 50) / 100) / 10.0));
    json_object_set_new(o, "coord", coord != NULL ? cmd_coord_json(coord) : json_null());
    json_object_set_new(o, "tags", ev_json_tags(m->meta, m->meta_len, &malformed));
    if (malformed)
        json_object_set_new(o, "tags_malformed", json_true());
    return o;
}

json_t *cmd_members(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err)
{
    (void)conn;
    (void)req;
    (void)err;
    struct swim *core = rt_core(env->rt);
    json_t *arr = json_array();
    struct swim_member_info m;
    struct swim_coord c;
    swim_self(core, &m);
    swim_coord_self(core, &c);
    json_array_append_new(arr, cmd_member_json(&m, &c));
    size_t n = swim_member_count(core);
    for (size_t i = 0; i < n; i++)
        if (swim_member_at(core, i, &m) == 0)
            json_array_append_new(
                arr, cmd_member_json(&m, swim_member_coord(core, m.name, &c) == 0 ? &c : NULL));
    json_t *reply = json_object();
    json_object_set_new(reply, "members", arr);
    return reply;
}
