/*
 * swim.c - the core's public API: configuration, lifecycle, the local
 * requests (announce, leave, broadcast, meta, force-leave) and the reads.
 *
 * How it works
 * ------------
 * SWIM (Das et al. 2002) with HashiCorp's Lifeguard, as memberlist and Serf
 * run it, and what swimd adds so that a node that hears nothing cannot get
 * healthy members declared failed, while a crash is declared sooner.  Every
 * protocol period the node probes one member, round-robin over a shuffled
 * list, directly and then through k helpers; a member that answers nobody
 * becomes SUSPECT, and FAILED when nobody refutes in time (probe.c, whose
 * opening essay gives the rules: Lifeguard's local health, dynamic
 * suspicion and buddy system; guard, which asks for independent evidence
 * before an accusation, a verdict or a readmission; reprobe, which gathers
 * that evidence fast; probe_retry, which keeps loss from accusing).  Every record is ordered by
 * (generation, incarnation, status): a node refutes suspicion with a higher incarnation and comes
 * back from a wrong death with a higher generation (update.c).  Every change is queued and
 * piggybacked on the datagrams the node sends anyway, about lambda*log(N) times (queue.c).  A
 * joiner announces itself to a seed that feeds it its members (packet.c); periodic gossip,
 * gossip rounds and the reaping of tombstones run on timers (timer.c); anti-entropy compares
 * table digests with a live and with a failed member (which heals partitions) and repairs what
 * differs, at a pace that quickens while tables differ (sync.c), so a mass join converges in
 * O(log N) rounds.  The member table is table.c and the
 * building of datagrams send.c; each file opens with the essay of its part,
 * and swim_int.h lists the files, the state they share, every bound, and the
 * naming rule.
 *
 * Leave.  swim_leave() marks this node LEFT, pushes that record to
 * gossip_nodes members at once, keeps gossiping for leave_linger_ms, then
 * stops all timers and reports SELF_IDLE.
 *
 * User broadcasts travel in the same queue as member records.  Each has an id
 * (origin, origin generation, counter); a window of ids per origin, sized
 * against the queue, makes delivery exactly-once (queue.c).
 *
 * Generations are bounded (swim_int.h, SWIM_GEN_*): no single record can
 * push a node's generation near the ceiling, so none can exclude it.
 */
#include <stddef.h>
#include <stdlib.h>

#include "err.h"
#include "hash.h"
#include "swim_int.h"

/* swim.h restates the wire format's limits and status values so that its
 * callers need not include the codec; they must never drift apart. */
_Static_assert(SWIM_NAME_MAX == WIRE_NAME_MAX, "name limit");
_Static_assert(SWIM_ADDR_MAX == WIRE_ADDR_MAX, "address limit");
_Static_assert(SWIM_META_MAX == WIRE_META_MAX, "meta limit");
_Static_assert(SWIM_USER_MAX == WIRE_USER_MAX, "user payload limit");
_Static_assert(SWIM_PACKET_MIN == WIRE_PACKET_MIN, "smallest datagram");
_Static_assert(SWIM_PACKET_DEFAULT == WIRE_PACKET_DEFAULT, "default datagram");
_Static_assert(SWIM_PACKET_MAX == WIRE_PACKET_MAX, "largest datagram");
_Static_assert(SWIM_COORD_DIM == WIRE_COORD_DIM, "coordinate dimensions");
_Static_assert((int)SWIM_ALIVE == WIRE_ALIVE && (int)SWIM_SUSPECT == WIRE_SUSPECT &&
                   (int)SWIM_FAILED == WIRE_FAILED && (int)SWIM_LEFT == WIRE_LEFT,
               "status values");

/* ------------------------------------------------------------ configuration */

int swim_config_profile(struct swim_config *c, const char *profile)
{
    if (profile == NULL)
        return ERR_INVAL;
    memset(c, 0, sizeof(*c));
    /* Shared by all profiles: Lifeguard as memberlist ships it (health
     * score up to 8, suspicion starting at six times its minimum, buddy
     * system) and swimd's extensions (probe.c). */
    c->suspicion_max_mult = 6;
    c->awareness_max = 8;
    c->buddy = 1;
    c->probe_retry = 1;
    c->guard = 1;
    c->reprobe = SWIM_REPROBE_DEFAULT;
    c->max_packet = SWIM_PACKET_DEFAULT;
    c->max_members = SWIM_MEMBERS_DEFAULT;
    c->reap_ms = 24u * 3600 * 1000; /* Serf keeps tombstones a day */
    if (strcmp(profile, "lan") == 0) {
        c->probe_interval_ms = 1000;
        c->probe_timeout_ms = SWIM_LAN_TIMEOUT_MS;
        c->suspicion_mult = 4;
        c->retransmit_mult = 4;
        c->gossip_interval_ms = 200;
        c->gossip_nodes = 3;
        c->indirect_checks = 4;
        c->sync_interval_ms = 30000;
        c->reconnect_interval_ms = 10000;
    } else if (strcmp(profile, "wan") == 0) {
        c->probe_interval_ms = 5000;
        c->probe_timeout_ms = 3000;
        c->suspicion_mult = 6;
        c->retransmit_mult = 4;
        c->gossip_interval_ms = 500;
        c->gossip_nodes = 4;
        c->indirect_checks = 4;
        c->sync_interval_ms = 60000;
        c->reconnect_interval_ms = 30000;
    } else if (strcmp(profile, "local") == 0) {
        c->probe_interval_ms = 1000;
        c->probe_timeout_ms = 200;
        c->suspicion_mult = 3;
        c->retransmit_mult = 2;
        c->gossip_interval_ms = 100;
        c->gossip_nodes = 3;
        c->indirect_checks = 1;
        c->sync_interval_ms = 15000;
        c->reconnect_interval_ms = 5000;
    } else {
        return ERR_INVAL;
    }
    c->leave_linger_ms = 3 * c->gossip_interval_ms;
    return 0;
}

int swim_config_check(const struct swim_config *c)
{
    if (c->probe_interval_ms == 0 || c->probe_timeout_ms == 0 ||
        c->probe_timeout_ms >= c->probe_interval_ms || c->suspicion_mult == 0 ||
        c->suspicion_max_mult == 0 || c->retransmit_mult == 0 || c->gossip_interval_ms == 0 ||
        c->indirect_checks > SWIM_PICK_MAX || c->gossip_nodes > SWIM_PICK_MAX ||
        c->awareness_max > 64 || c->max_packet < SWIM_PACKET_MIN ||
        c->max_packet > SWIM_PACKET_MAX || c->probe_interval_ms > 3600u * 1000 || c->buddy > 1 ||
        c->probe_retry > 1 || c->guard > 1 || c->reprobe > SWIM_PICK_MAX || c->max_members == 0 ||
        c->max_members > SWIM_MEMBERS_LIMIT)
        return ERR_INVAL;
    return 0;
}

/* Every field of struct swim_config by name; all are uint32_t, and the
 * assertion below keeps the list complete. */
static const struct {
    const char *key;
    size_t off;
} config_keys[] = {
#define SWIM_CONFIG_KEY(f)                                                                         \
    {                                                                                              \
#f, offsetof(struct swim_config, f)                                                        \
    }
    SWIM_CONFIG_KEY(probe_interval_ms),
    SWIM_CONFIG_KEY(probe_timeout_ms),
    SWIM_CONFIG_KEY(suspicion_mult),
    SWIM_CONFIG_KEY(suspicion_max_mult),
    SWIM_CONFIG_KEY(retransmit_mult),
    SWIM_CONFIG_KEY(gossip_interval_ms),
    SWIM_CONFIG_KEY(gossip_nodes),
    SWIM_CONFIG_KEY(indirect_checks),
    SWIM_CONFIG_KEY(sync_interval_ms),
    SWIM_CONFIG_KEY(reconnect_interval_ms),
    SWIM_CONFIG_KEY(reap_ms),
    SWIM_CONFIG_KEY(leave_linger_ms),
    SWIM_CONFIG_KEY(awareness_max),
    SWIM_CONFIG_KEY(max_packet),
    SWIM_CONFIG_KEY(buddy),
    SWIM_CONFIG_KEY(probe_retry),
    SWIM_CONFIG_KEY(guard),
    SWIM_CONFIG_KEY(reprobe),
    SWIM_CONFIG_KEY(max_members),
#undef SWIM_CONFIG_KEY
};
#define SWIM_CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))
_Static_assert(sizeof(struct swim_config) == SWIM_CONFIG_NKEYS * sizeof(uint32_t),
               "every swim_config field has a key");

const char *swim_config_key(size_t i)
{
    return i < SWIM_CONFIG_NKEYS ? config_keys[i].key : NULL;
}

static int config_find(const char *key)
{
    for (size_t i = 0; key != NULL && i < SWIM_CONFIG_NKEYS; i++)
        if (strcmp(config_keys[i].key, key) == 0)
            return (int)i;
    return ERR_NOTFOUND;
}

int swim_config_set(struct swim_config *c, const char *key, uint32_t value)
{
    int i = config_find(key);
    if (i < 0)
        return i;
    memcpy((char *)c + config_keys[i].off, &value, sizeof(value));
    return 0;
}

int swim_config_get(const struct swim_config *c, const char *key, uint32_t *value)
{
    int i = config_find(key);
    if (i < 0)
        return i;
    memcpy(value, (const char *)c + config_keys[i].off, sizeof(*value));
    return 0;
}

/* ---------------------------------------------------------------- lifecycle */

struct swim *swim_new(const struct swim_config *cfg, const char *name, const struct swim_addr *addr,
                      uint64_t generation, uint64_t seed, const struct swim_runtime *rt)
{
    size_t len = name ? strlen(name) : 0;
    if (cfg == NULL || swim_config_check(cfg) != 0 || !swim_name_valid(name, len) ||
        generation > SWIM_GEN_FIRST_MAX || addr == NULL || addr->len > SWIM_ADDR_MAX ||
        rt == NULL || rt->notify == NULL || rt->send_to == NULL || rt->submit_after == NULL)
        return NULL;
    struct swim *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->cfg = *cfg;
    s->rt = *rt;
    s->buf = malloc(cfg->max_packet);
    s->body = malloc(cfg->max_packet);
    s->self = calloc(1, sizeof(*s->self));
    s->ids = rt->ids;
    if (s->ids == NULL)
        s->ids = s->own_ids = swim_idpool_new();
    const struct swim_ident *id = NULL;
    if (s->buf == NULL || s->body == NULL || s->self == NULL || s->ids == NULL ||
        swim__table_create(s) != 0 ||
        (id = swim__ident_get(s->ids, name, (uint8_t)len, addr, generation)) == NULL) {
        swim_delete(s);
        return NULL;
    }
    s->self->id = id->handle;

    s->self->status = SWIM_ALIVE;
    swim__coord_init(s, seed);
    s->tables.tokens = SWIM_TABLE_BURST; /* buckets start full */
    s->joins.tokens = SWIM_JOIN_BURST;
    prng_seed(&s->rng, seed);
    /* The cookie key from the seed, leaving the PRNG's stream as it was. */
    uint64_t x = seed ^ 0x636F6F6B6965ull; /* "cookie" */
    s->cookie_key[0] = prng_splitmix64(&x);
    s->cookie_key[1] = prng_splitmix64(&x);
    /* Direct message ids start at random, so a restarted node's first
     * messages are not taken for copies of its last ones. */
    s->direct_id = (uint32_t)prng_splitmix64(&x);
    s->directs.tokens = SWIM_DIRECT_BURST;
    return s;
}

void swim_delete(struct swim *s)
{
    if (s == NULL)
        return;
    swim__queue_destroy(s); /* before the members its items point into */
    swim__table_destroy(s);
    if (s->self != NULL)
        swim__member_release(s, s->self);
    free(s->self);
    swim__handles_destroy(&s->rares);
    swim_idpool_delete(s->own_ids);
    free(s->relays);
    free(s->buf);
    free(s->body);
    free(s);
}

int swim_start(struct swim *s, uint64_t now)
{
    if (s->state != SWIM_STATE_NEW)
        return ERR_STATE;
    s->state = SWIM_STATE_RUNNING;
    s->epoch++;
    swim__set_since(s->self, now);
    swim__queue_member(s, s->self, NULL);
    swim__timers_start(s);
    return 0;
}

int swim_announce(struct swim *s, const struct swim_addr *seed, uint64_t now)
{
    if (seed == NULL || seed->len > SWIM_ADDR_MAX)
        return ERR_INVAL;
    if (s->state != SWIM_STATE_RUNNING)
        return ERR_STATE;
    /* The seed answers with a cookie to echo (packet.c): remember it. */
    swim__addr_copy(&s->announced[s->announced_next].addr, seed);
    s->announced[s->announced_next].until = now + SWIM_COOKIE_PERIOD_MS;
    s->announced_next = (s->announced_next + 1) % SWIM_ANNOUNCED_MAX;
    swim__send_announce(s, seed, NULL);
    return 0;
}

/* --------------------------------------------------------- local requests */

int swim_leave(struct swim *s, uint64_t now)
{
    (void)now;
    if (s->state != SWIM_STATE_RUNNING)
        return ERR_STATE;
    s->state = SWIM_STATE_LEAVING;
    s->self->status = SWIM_LEFT;
    swim__queue_member(s, s->self, NULL);
    struct swim_member *to[SWIM_PICK_MAX];
    size_t n = swim__pick_members(s, to, s->cfg.gossip_nodes, NULL, true);
    for (size_t i = 0; i < n; i++)
        swim__send_simple(s, &swim__id(s, to[i])->addr, WIRE_GOSSIP, 0, NULL, 0);
    swim__submit(s, SWIM_TIMER_LEAVE, s->epoch, 0, s->cfg.leave_linger_ms);
    return 0;
}

int swim_broadcast(struct swim *s, const uint8_t *payload, size_t len, uint64_t now)
{
    (void)now;
    if (len > SWIM_USER_MAX)
        return ERR_TOOBIG;
    if (len > 0 && payload == NULL)
        return ERR_INVAL;
    if (s->state != SWIM_STATE_RUNNING)
        return ERR_STATE;
    if (s->q_user >= SWIM_QUEUE_USER_MAX)
        return ERR_FULL;
    struct wire_user u = {
        .origin = {.ptr = swim__id(s, s->self)->name, .len = swim__id(s, s->self)->name_len},
        .origin_gen = swim__id(s, s->self)->gen,
        .id = ++s->user_counter,
        .len = (uint16_t)len,
        .payload = payload,
    };
    uint8_t *p = s->body;
    int rc = wire_encode_user(&p, s->body + s->cfg.max_packet, &u);
    if (rc != 0)
        return rc;
    swim__deliver_user(s, &u, s->body, (size_t)(p - s->body));
    return 0;
}

int swim_set_meta(struct swim *s, const uint8_t *meta, size_t len, uint64_t now)
{
    (void)now;
    if (len > SWIM_META_MAX)
        return ERR_TOOBIG;
    if (len > 0 && meta == NULL)
        return ERR_INVAL;
    /* A newer record, so peers replace the old meta; near the top of the
     * incarnation range a new generation instead, taken first: without
     * memory for its identity nothing changes and the caller is told. */
    if (s->self->inc >= UINT32_MAX - 1) {
        uint64_t gen = swim__id(s, s->self)->gen;
        if (swim__gen_next(&gen)) {
            if (swim__self_set_gen(s, gen) != 0)
                return ERR_NOMEM;
            s->self->inc = 0;
        }
    } else {
        s->self->inc++;
    }
    int rc = swim__member_set_meta(s, s->self, meta, (uint16_t)len) < 0 ? ERR_NOMEM : 0;
    /* (on ERR_NOMEM the newer record still goes out, with the old meta) */
    if (s->state == SWIM_STATE_RUNNING)
        swim__queue_member(s, s->self, NULL);
    return rc;
}

int swim_force_leave(struct swim *s, const char *name, uint64_t now)
{
    if (name == NULL)
        return ERR_INVAL;
    size_t len = strlen(name);
    struct swim_member *m =
        len > 0 && len <= SWIM_NAME_MAX ? swim__member_find(s, name, len) : NULL;
    if (m == NULL)
        return ERR_NOTFOUND;
    if (m->status != SWIM_FAILED)
        return ERR_STATE;
    swim__member_set_status(s, m, SWIM_LEFT, now);
    swim__queue_member(s, m, NULL);
    swim__notify_member(s, SWIM_EV_MEMBER_LEFT, m);
    return 0;
}

/* -------------------------------------------------------------------- reads */

void swim_self(const struct swim *s, struct swim_member_info *out)
{
    swim__member_info(s, s->self, out);
}

size_t swim_member_count(const struct swim *s)
{
    return s->n_all;
}

size_t swim_active_count(const struct swim *s)
{
    return s->n_active;
}

int swim_member_at(const struct swim *s, size_t i, struct swim_member_info *out)
{
    if (i >= s->n_all)
        return ERR_NOTFOUND;
    swim__member_info(s, swim__member_at(s, i), out);
    return 0;
}

int swim_member_find(const struct swim *s, const char *name, struct swim_member_info *out)
{
    const struct swim_member *m = swim__member_named(s, name);
    if (m == NULL)
        return ERR_NOTFOUND;
    swim__member_info(s, m, out);
    return 0;
}

void swim_get_stats(const struct swim *s, struct swim_stats *out)
{
    *out = s->stats;
    out->health = s->health;
    out->pending_updates = (uint32_t)s->qn;
}

const char *swim_status_name(enum swim_status st)
{
    switch (st) {
    case SWIM_ALIVE:
        return "alive";
    case SWIM_SUSPECT:
        return "suspect";
    case SWIM_FAILED:
        return "failed";
    case SWIM_LEFT:
        return "left";
    }
    return "unknown";
}

const char *swim_event_name(enum swim_event ev)
{
    switch (ev) {
    case SWIM_EV_MEMBER_JOINED:
        return "member-join";
    case SWIM_EV_MEMBER_UPDATED:
        return "member-update";
    case SWIM_EV_MEMBER_SUSPECT:
        return "member-suspect";
    case SWIM_EV_MEMBER_ALIVE:
        return "member-alive";
    case SWIM_EV_MEMBER_FAILED:
        return "member-failed";
    case SWIM_EV_MEMBER_LEFT:
        return "member-leave";
    case SWIM_EV_MEMBER_REAPED:
        return "member-reap";
    case SWIM_EV_USER:
        return "user";
    case SWIM_EV_SELF_ACTIVE:
        return "self-active";
    case SWIM_EV_SELF_IDLE:
        return "self-idle";
    case SWIM_EV_SELF_DEFUNCT:
        return "self-defunct";
    case SWIM_EV_SELF_REJOINED:
        return "self-rejoined";
    case SWIM_EV_DIRECT:
        return "direct";
    }
    return "unknown";
}

size_t swim_member_footprint(void)
{
    /* The entry, its identity record with a name of up to 16 bytes (its
     * NUL included; shared when instances share a pool, counted here as
     * the agent holds it, in its own pool), the identity's place in the
     * pool (two slots of a pointer and a key, the pool kept at least three
     * eighths full) and its handle (a pointer), plus the entry's index
     * entries: two 32-bit hash slots and its 32-bit place in the probe
     * list.  A member with rare state (a suspicion, tags, a round trip:
     * struct swim_rare) has that too, with its handle, and one that
     * exchanges probes with this node a coordinate record (struct
     * swim_coord_peer, coord.c), neither counted. */
    return sizeof(struct swim_member) + sizeof(struct swim_ident) + 16 +
           2 * (sizeof(void *) + sizeof(uint64_t)) + sizeof(void *) + 2 * sizeof(uint32_t) +
           sizeof(uint32_t);
}
