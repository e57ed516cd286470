/*
 * cmd_members.c - the control command "members": this node and every member
 * of the core's table, as JSON objects, each with its network coordinate
 * (this node's own, and the last each member sent us).
 *
 * A request may name the member fields it wants ("fields": ["name",
 * "status", ...]); without it every field is given.  swimctl's table asks
 * for the four it prints, so the coordinates (eleven numbers a member, most
 * of the reply and most of its cost to write and to parse) are left out.
 *
 * The list made for a field set without "coord" is kept (struct
 * cmd_members_cache) and sent again while nothing it was made from has
 * changed.  What it was made from is its key: the field set, then per
 * member, in the reply's order, the name, address, status, incarnation,
 * generation and tag block, and the round trip when it is shown, as bytes.
 * A request builds the key (no allocation once the buffers have grown) and
 * compares it with the kept one, so no change can be missed, whichever
 * path made it.  Coordinates are not cached: every PING and ACK carries
 * one, and a 50-member table gets several new ones a second.
 *
 * The reply gives this node, then the members sorted by name: the core's
 * own order (swim_member_at) changes with every probe round, and people
 * and scripts reading the list want it stable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "commands.h"
#include "events.h"
#include "rt.h"

/* A member's fields in the order a reply gives them; bit i of a field set
 * is cmd_member_fields[i]. */
static const char *const cmd_member_fields[] = {
    "name", "addr", "status", "incarnation", "generation", "rtt_ms", "coord", "tags",
};
#define CMD_MEMBER_FIELDS (sizeof(cmd_member_fields) / sizeof(cmd_member_fields[0]))
#define CMD_FIELDS_ALL ((1u << CMD_MEMBER_FIELDS) - 1)

enum {
    CMD_F_NAME = 1u << 0,
    CMD_F_ADDR = 1u << 1,
    CMD_F_STATUS = 1u << 2,
    CMD_F_INCARNATION = 1u << 3,
    CMD_F_GENERATION = 1u << 4,
    CMD_F_RTT = 1u << 5,
    CMD_F_COORD = 1u << 6,
    CMD_F_TAGS = 1u << 7,
};

json_t *cmd_coord_json(const struct swim_coord *c)
{
    json_t *vec = json_array();
    for (size_t i = 0; i < SWIM_COORD_DIM; i++)
        json_array_append_new(vec, json_real(c->vec[i]));
    return json_pack("{s:o,s:f,s:f,s:f}", "vec", vec, "height", c->height, "error_estimate",
                     c->error, "adjustment", c->adjustment);
}

/* The fields of m in the set `fields` (CMD_F_*), as one object. */
static json_t *cmd_member_fields_json(const struct swim_member_info *m,
                                      const struct swim_coord *coord, unsigned fields)
{
    char a[ADDR_TEXT_MAX];
    int malformed;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    if (fields & CMD_F_NAME)
        json_object_set_new(o, "name", json_string(m->name));
    if (fields & CMD_F_ADDR)
        json_object_set_new(o, "addr", json_string(addr_format(&m->addr, a)));
    if (fields & CMD_F_STATUS)
        json_object_set_new(o, "status", json_string(swim_status_name(m->status)));
    if (fields & CMD_F_INCARNATION)
        json_object_set_new(o, "incarnation", json_integer(m->incarnation));
    if (fields & CMD_F_GENERATION)
        json_object_set_new(o, "generation", ev_json_u64(m->generation));
    /* The smoothed probe round trip in ms, to 0.1 ms; null while unknown. */
    if (fields & CMD_F_RTT)
        json_object_set_new(o, "rtt_ms",
                            m->rtt_us == SWIM_RTT_UNKNOWN
                                ? json_null()
                                : json_real((double)(((uint64_t)m->rtt_us + 50) / 100) / 10.0));
    if (fields & CMD_F_COORD)
        json_object_set_new(o, "coord", coord != NULL ? cmd_coord_json(coord) : json_null());
    if (fields & CMD_F_TAGS) {
        json_object_set_new(o, "tags", ev_json_tags(m->meta, m->meta_len, &malformed));
        if (malformed)
            json_object_set_new(o, "tags_malformed", json_true());
    }
    return o;
}

json_t *cmd_member_json(const struct swim_member_info *m, const struct swim_coord *coord)
{
    return cmd_member_fields_json(m, coord, CMD_FIELDS_ALL);
}

/* The request's "fields" as a set (every field when absent): 0, or -1 with
 * err filled. */
static int cmd_members_fields(json_t *req, unsigned *out, char *err)
{
    json_t *list = json_object_get(req, "fields"), *f;
    size_t i;
    *out = list == NULL ? CMD_FIELDS_ALL : 0;
    if (list != NULL && !json_is_array(list)) {
        snprintf(err, CTL_ERR_MAX, "members: \"fields\" must be an array of field names");
        return -1;
    }
    json_array_foreach(list, i, f)
    {
        const char *name = json_string_value(f);
        size_t k = 0;
        while (k < CMD_MEMBER_FIELDS && (name == NULL || strcmp(name, cmd_member_fields[k]) != 0))
            k++;
        if (k == CMD_MEMBER_FIELDS) {
            snprintf(err, CTL_ERR_MAX,
                     "members: unknown field \"%.40s\" (name, addr, status, incarnation, "
                     "generation, rtt_ms, coord, tags)",
                     name != NULL ? name : "(not a string)");
            return -1;
        }
        *out |= 1u << k;
    }
    return 0;
}

/* A growable byte string (a cache key). */
struct cmd_bytes {
    uint8_t *p;
    size_t len, cap;
};

struct cmd_members_cache {
    json_t *members;       /* the last list made without coordinates, or NULL */
    struct cmd_bytes key;  /* what it was made from */
    struct cmd_bytes next; /* the key of the request being answered */
};

struct cmd_members_cache *cmd_members_cache_new(void)
{
    return calloc(1, sizeof(struct cmd_members_cache));
}

void cmd_members_cache_delete(struct cmd_members_cache *mc)
{
    if (mc == NULL)
        return;
    json_decref(mc->members);
    free(mc->key.p);
    free(mc->next.p);
    free(mc);
}

/* Append n bytes; 0, or -1 when out of memory. */
static int cmd_bytes_put(struct cmd_bytes *b, const void *data, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap > 0 ? b->cap : 1024;
        while (cap - b->len < n)
            cap *= 2;
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

/* m's part of a cache key for the field set `fields`: 0, or -1. */
static int cmd_key_member(struct cmd_bytes *b, const struct swim_member_info *m, unsigned fields)
{
    uint8_t status = (uint8_t)m->status;
    int rc = cmd_bytes_put(b, m->name, strlen(m->name) + 1);
    rc |= cmd_bytes_put(b, &m->addr.len, 1);
    rc |= cmd_bytes_put(b, m->addr.bytes, m->addr.len);
    rc |= cmd_bytes_put(b, &status, 1);
    rc |= cmd_bytes_put(b, &m->incarnation, sizeof(m->incarnation));
    rc |= cmd_bytes_put(b, &m->generation, sizeof(m->generation));
    rc |= cmd_bytes_put(b, &m->meta_len, sizeof(m->meta_len));
    rc |= cmd_bytes_put(b, m->meta, m->meta_len);
    if (fields & CMD_F_RTT)
        rc |= cmd_bytes_put(b, &m->rtt_us, sizeof(m->rtt_us));
    return rc;
}

static int cmd_by_name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct swim_member_info *)a)->name,
                  ((const struct swim_member_info *)b)->name);
}

/* The table's members sorted by name, read once (*n of them; their
 * pointers point into the core, which reads do not change); NULL when out
 * of memory. */
static struct swim_member_info *cmd_sorted(struct swim *core, size_t *n)
{
    size_t count = swim_member_count(core), k = 0;
    struct swim_member_info *v = malloc((count > 0 ? count : 1) * sizeof(*v));
    if (v == NULL)
        return NULL;
    for (size_t i = 0; i < count; i++)
        if (swim_member_at(core, i, &v[k]) == 0)
            k++;
    qsort(v, k, sizeof(*v), cmd_by_name_cmp);
    *n = k;
    return v;
}

/* The key of what a list for `fields` (without coordinates) is made from:
 * this node, then the members v[0..n), into b; 0, or -1 when out of
 * memory. */
static int cmd_key(struct cmd_bytes *b, struct swim *core, const struct swim_member_info *v,
                   size_t n, unsigned fields)
{
    struct swim_member_info m;
    int rc = 0;
    b->len = 0;
    swim_self(core, &m);
    rc |= cmd_bytes_put(b, &fields, sizeof(fields));
    rc |= cmd_key_member(b, &m, fields);
    for (size_t i = 0; i < n; i++)
        rc |= cmd_key_member(b, &v[i], fields);
    return rc != 0 ? -1 : 0;
}

/* The members list for `fields`: this node, then the members v[0..n);
 * NULL when out of memory. */
static json_t *cmd_members_list(struct swim *core, const struct swim_member_info *v, size_t n,
                                unsigned fields)
{
    struct swim_member_info m;
    struct swim_coord c;
    json_t *arr = json_array();
    if (arr == NULL)
        return NULL;
    swim_self(core, &m);
    swim_coord_self(core, &c);
    json_array_append_new(arr, cmd_member_fields_json(&m, &c, fields));
    for (size_t i = 0; i < n; i++)
        json_array_append_new(
            arr,
            cmd_member_fields_json(
                &v[i],
                (fields & CMD_F_COORD) && swim_member_coord(core, v[i].name, &c) == 0 ? &c : NULL,
                fields));
    return arr;
}

/* The list for `fields` (without coordinates) of the members v[0..n) from
 * the cache, made and kept anew when its key differs. */
static json_t *cmd_members_cached(struct cmd_members_cache *mc, struct swim *core,
                                  const struct swim_member_info *v, size_t n, unsigned fields)
{
    if (cmd_key(&mc->next, core, v, n, fields) != 0) { /* out of memory: no cache */
        json_decref(mc->members);
        mc->members = NULL;
        return cmd_members_list(core, v, n, fields);
    }
    if (mc->members != NULL && mc->next.len == mc->key.len &&
        memcmp(mc->next.p, mc->key.p, mc->key.len) == 0)
        return json_incref(mc->members);
    json_t *arr = cmd_members_list(core, v, n, fields);
    json_decref(mc->members);
    mc->members = json_incref(arr);
    struct cmd_bytes was = mc->key;
    mc->key = mc->next;
    mc->next = was;
    return arr;
}

json_t *cmd_members(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err)
{
    (void)conn;
    unsigned fields;
    if (cmd_members_fields(req, &fields, err) != 0)
        return NULL;
    struct swim *core = rt_core(env->rt);
    size_t n = 0;
    struct swim_member_info *v = cmd_sorted(core, &n);
    json_t *arr = NULL;
    if (v != NULL && !(fields & CMD_F_COORD) && env->members_cache != NULL)
        arr = cmd_members_cached(env->members_cache, core, v, n, fields);
    else if (v != NULL)
        arr = cmd_members_list(core, v, n, fields);
    free(v);
    json_t *reply = json_object();
    /* (json_object_set_new takes arr, NULL or not, even when it fails) */
    if (reply == NULL || json_object_set_new(reply, "members", arr) != 0) {
        if (reply == NULL)
            json_decref(arr);
        json_decref(reply);
        snprintf(err, CTL_ERR_MAX, "out of memory");
        return NULL;
    }
    return reply;
}
