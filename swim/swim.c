/*
 * swim.c - the SWIM protocol state machine.
 *
 * How it works
 * ------------
 * Failure detection (SWIM, Das et al. 2002, with HashiCorp's Lifeguard).
 * Every protocol period (PROBE timer) the node judges the previous probe and
 * starts the next: it walks a shuffled list of the members round-robin, and
 * reshuffles it at the end of each round, so every member is probed once per
 * round and a new member is inserted at a random place in the current one.
 * A probe is a direct PING.  If no ACK comes by the probe timeout
 * (PROBE_TIMEOUT timer), k random members are asked with PING_REQ to ping the
 * target on our behalf; a helper forwards the target's ACK, or sends a NACK
 * when the target did not answer it either (RELAY timer).  A probe with no
 * ACK by the end of the period makes the target SUSPECT.
 *
 * Suspicion.  A suspect becomes FAILED after
 *     min = suspicion_mult * max(1, log10 N) * probe_interval
 * where N counts live members and this node.  With Lifeguard enabled
 * (suspicion_max_mult > 1) the timeout starts at max = suspicion_max_mult*min
 * and shrinks toward min as independent members report the same suspicion:
 *     timeout(c) = max(min, max - (max - min) * log(c + 1) / log(k + 1))
 * with k = suspicion_mult - 2 expected confirmations (memberlist's choice).
 * The suspect is told directly (a GOSSIP carrying its suspect record) so it
 * can refute at once: a node that hears it is suspected at incarnation i
 * takes incarnation i + 1 and spreads ALIVE.
 *
 * Local health (Lifeguard).  An awareness score in 0..awareness_max rises
 * when our probes fail without the expected NACKs (so the problem is likely
 * ours) and when we must refute a suspicion of ourselves, and falls on every
 * successful probe.  Probe interval and timeout are multiplied by score + 1,
 * so a slow node probes less eagerly instead of accusing healthy peers.
 *
 * Records and precedence.  A member record is (name, address, generation,
 * incarnation, status, meta).  A record with a higher generation always
 * wins (the node restarted or renewed).  At equal generation FAILED and LEFT
 * are final; otherwise a higher incarnation wins, and at equal incarnation
 * the status with the higher rank wins (ALIVE < SUSPECT < FAILED < LEFT).
 * A node that learns it was declared FAILED (or LEFT without leaving)
 * reports SELF_DEFUNCT and renews: generation + 1, incarnation 0, ALIVE,
 * then SELF_REJOINED.  Peers accept the newer generation and report the
 * member alive again.
 *
 * Dissemination.  Every accepted change is queued as an encoded record.
 * Every outgoing PING, ACK, PING_REQ, NACK and GOSSIP carries as many queued
 * records as fit, least-sent first; a record is dropped from the queue after
 * retransmit_mult * ceil(log10(N + 1)) sends, and a newer record about the
 * same member replaces the queued one.  While the queue is non-empty a GOSSIP
 * goes to gossip_nodes random members every gossip_interval.
 *
 * Join.  ANNOUNCE carries the joiner's record to a seed, which answers with a
 * FEED of its live members in as many datagrams as needed.
 *
 * Anti-entropy.  Every sync_interval the node sends its whole table (live
 * members and tombstones) to a random live member as SYNC datagrams, asking
 * for the peer's table back; every reconnect_interval it does the same with a
 * random FAILED member, which is how the two sides of a healed partition find
 * each other without an operator.  Records merged from a SYNC or FEED are
 * applied like gossip with one exception taken from memberlist: a FAILED
 * record about a member we believe alive is applied as SUSPECT (our own
 * probing decides), and the subject is sent the FAILED record so that, if it
 * is alive on the other side of a partition, it renews and both sides accept
 * its new generation.
 *
 * Leave.  swim_leave() marks this node LEFT, pushes that record to
 * gossip_nodes members at once, keeps gossiping for leave_linger_ms, then
 * stops all timers and reports SELF_IDLE.
 *
 * User broadcasts travel in the same queue as member records.  Each has an id
 * (origin, origin generation, counter); a bounded ring of recently seen ids
 * makes delivery exactly-once while an id is still in circulation.
 *
 * Tombstones (FAILED, LEFT) are kept reap_ms, then removed with a REAPED
 * notification.
 *
 * Timers.  Periodic timers carry the instance's epoch and are ignored once
 * it changes (leave); PROBE_TIMEOUT and RELAY carry a probe sequence number;
 * SUSPECT carries the member's unique id and its suspicion epoch.  A timer
 * that does not match current state is stale and ignored.
 *
 * Naming.  Every symbol with external linkage and every type here carries
 * the swim_ prefix; the static helper functions do not: they never leave
 * this file, and prefixed they would collide with the public swim_member_*
 * calls they serve (STYLE.md allows leaving a habit where it hurts clarity).
 *
 * Memory.  Each member is one allocation (its meta a second one when
 * non-empty), referenced from an open-addressing hash table by name, an
 * array for iteration, and the probe list.  Tables grow geometrically;
 * growth is reserved before a member is inserted so insertion cannot fail
 * half-way.
 */
#include "swim.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "hash.h"
#include "prng.h"
#include "wire.h"

/* swim.h restates the wire format's limits and status values so that its
 * callers need not include the codec; they must never drift apart. */
_Static_assert(SWIM_NAME_MAX == WIRE_NAME_MAX, "name limit");
_Static_assert(SWIM_ADDR_MAX == WIRE_ADDR_MAX, "address limit");
_Static_assert(SWIM_META_MAX == WIRE_META_MAX, "meta limit");
_Static_assert(SWIM_USER_MAX == WIRE_USER_MAX, "user payload limit");
_Static_assert(SWIM_PACKET_MIN == WIRE_PACKET_MIN, "smallest datagram");
_Static_assert(SWIM_PACKET_DEFAULT == WIRE_PACKET_DEFAULT, "default datagram");
_Static_assert(SWIM_PACKET_MAX == WIRE_PACKET_MAX, "largest datagram");
_Static_assert((int)SWIM_ALIVE == WIRE_ALIVE && (int)SWIM_SUSPECT == WIRE_SUSPECT &&
                   (int)SWIM_FAILED == WIRE_FAILED && (int)SWIM_LEFT == WIRE_LEFT,
               "status values");

/* Relayed probes a helper tracks at once; further PING_REQs are dropped. */
#define SWIM_RELAY_MAX 64
/* Queued updates; beyond this the most-sent one is dropped first. */
#define SWIM_QUEUE_MAX 8192
/* Ceiling on sends per update (retransmit_mult * ceil(log10(N + 1)) stays
 * far below it: 10 * 7 for a million members); one queue bucket per count. */
#define SWIM_TX_MAX 96
/* Queued items tried in vain for one datagram before giving up on filling
 * it: bounds the per-packet work when the queue is long and the room short. */
#define SWIM_PIGGYBACK_MISSES 16
/* Broadcast ids remembered for exactly-once delivery: two generations of
 * this many ids each (hash sets), so between 2,048 and 4,096 recent ids. */
#define SWIM_SEEN_GEN 2048
#define SWIM_SEEN_SLOTS (2 * SWIM_SEEN_GEN)
/* User broadcasts queued at once: a broadcast storm must not evict the
 * membership updates (refutations above all) that share the queue. */
#define SWIM_QUEUE_USER_MAX 1024
/* Whole-table answers allowed in a burst, refilled one per REFILL_MS: one
 * small datagram must not make us send a large table at any rate (UDP
 * sources can be forged).  SYNC replies and repeated join requests share
 * the tight bucket; a join request that introduces a new member or a new
 * generation draws on the join bucket, sized for a whole rack booting at
 * once. */
#define SWIM_TABLE_BURST 8
#define SWIM_TABLE_REFILL_MS 100
#define SWIM_JOIN_BURST 64
#define SWIM_JOIN_REFILL_MS 10
/* Distinct suspicion confirmations remembered per suspect (Lifeguard k is
 * suspicion_mult - 2, at most 4 with the shipped profiles). */
#define SWIM_CONFIRM_MAX 4
/* FAILED notices sent to subjects per received SYNC/FEED datagram, so a
 * single datagram cannot make us send a burst. */
#define SWIM_NOTICES_PER_PACKET 8
/* Hard ceiling on the member table; protects memory from a flood of names. */
#define SWIM_MEMBERS_MAX (1u << 20)
/* Random draws tried when choosing helpers or gossip targets before falling
 * back to a scan; keeps selection O(k) in a large, mostly live cluster. */
#define SWIM_PICK_TRIES 4
/* Most helpers/gossip targets chosen at once. */
#define SWIM_PICK_MAX 16
/* Shortest reap sweep period. */
#define SWIM_REAP_SWEEP_MIN_MS 100
/* A helper sends its NACK at this fraction (percent) of the prober's window
 * for indirect answers, min(probe timeout, interval - timeout), so the NACK
 * reaches the prober before its period ends in every profile. */
#define SWIM_NACK_PCT 80
/* After becoming active, one extra anti-entropy exchange this many gossip
 * intervals later: members that joined at the same moment (a rack booting)
 * and missed each other's records in the gossip find them then, instead of
 * at the next periodic exchange. */
#define SWIM_JOIN_SYNC_GOSSIPS 10
/* Minimum gap between two "you are failed" notices to the same member. */
#define SWIM_NOTICE_GAP_MS 1000
/* Unknown senders we recently asked for their record, and for how long we
 * do not ask again: a joiner and an older member that missed its record find
 * each other on first contact instead of waiting for anti-entropy. */
#define SWIM_ASKED_MAX 16
#define SWIM_ASK_GAP_MS 1000

enum swim_state {
    SWIM_STATE_NEW,
    SWIM_STATE_RUNNING,
    SWIM_STATE_LEAVING,
    SWIM_STATE_IDLE,
};

struct swim_member {
    uint64_t uid; /* never reused within an instance; stale SUSPECT timers check it */
    uint64_t gen;
    uint64_t status_since;
    uint64_t suspect_deadline;
    uint64_t notice_at;
    uint8_t *meta;
    struct swim_bcast *queued; /* its record waiting to be gossiped, or NULL */
    uint32_t inc;
    uint32_t suspect_epoch;
    uint32_t all_idx;
    uint32_t probe_idx;
    uint32_t confirm[SWIM_CONFIRM_MAX]; /* hashes of distinct confirmers */
    uint16_t meta_len;
    uint8_t status;
    uint8_t confirms;
    uint8_t name_len;
    struct swim_addr addr;
    char name[SWIM_NAME_MAX + 1];
};

/* A queued update: an encoded item body, in the bucket of its send count. */
struct swim_bcast {
    struct swim_bcast *next, *prev;
    struct swim_bcast **owner; /* the member's (or self's) pointer to it; NULL for user items */
    uint32_t tx;
    uint16_t len;
    uint8_t kind;
    uint8_t data[];
};

struct swim_relay {
    bool used;
    uint32_t local_seq;
    uint32_t origin_seq;
    struct swim_addr origin;
    uint8_t target_len;
    char target[SWIM_NAME_MAX];
    struct swim_addr target_addr;
};

struct swim {
    struct swim_config cfg;
    struct swim_runtime rt;
    enum swim_state state;
    struct prng rng;
    uint64_t epoch;
    uint64_t next_uid;

    /* self */
    char name[SWIM_NAME_MAX + 1];
    uint8_t name_len;
    struct swim_addr addr;
    uint64_t gen;
    uint32_t inc;
    uint8_t self_status;
    uint8_t *meta;
    uint16_t meta_len;
    uint64_t self_since;
    bool active;

    /* members */
    struct swim_member **slots; /* hash table by name, power-of-two size */
    size_t slot_cap;
    struct swim_member **all;
    size_t n_all, all_cap;
    struct swim_member **probe;
    size_t n_probe, probe_cap, probe_cursor;
    size_t n_active;

    /* probing */
    uint32_t seq;
    uint32_t probe_seq;
    struct swim_member *probe_target; /* NULL when no probe is out */
    bool probe_acked;
    uint32_t probe_nacks, probe_expected_nacks;
    uint32_t health;
    struct swim_relay relays[SWIM_RELAY_MAX];

    /* dissemination */
    struct swim_bcast *bucket[SWIM_TX_MAX]; /* bucket[t]: items sent t times, newest first */
    struct swim_bcast *bucket_tail[SWIM_TX_MAX];
    size_t qn, q_user;
    struct swim_bucket {
        uint32_t tokens;
        uint64_t refill_at;
    } tables, joins;
    struct swim_bcast *self_queued;
    uint32_t user_counter;
    uint64_t seen[2][SWIM_SEEN_SLOTS];
    size_t seen_n;
    int seen_cur;

    struct {
        uint64_t hash;
        uint64_t until;
    } asked[SWIM_ASKED_MAX];
    size_t asked_next;

    struct swim_stats stats;
    uint8_t *buf;  /* one outgoing datagram */
    uint8_t *body; /* scratch for one encoded item */
};

/* ---------------------------------------------------------------- utils */

/* Copy a decoded address into a member or relay: only its len bytes (the
 * rest of a decoded address is left indeterminate by the codec). */
static void addr_copy(struct swim_addr *out, const struct swim_addr *in)
{
    out->len = in->len;
    memcpy(out->bytes, in->bytes, in->len);
}

static bool is_live(uint8_t status)
{
    return status == SWIM_ALIVE || status == SWIM_SUSPECT;
}

static uint32_t scaled(const struct swim *s, uint32_t ms)
{
    return ms * (s->health + 1);
}

/* Cluster size N as the formulas use it: live members plus this node. */
static size_t cluster_n(const struct swim *s)
{
    return s->n_active + 1;
}

static uint32_t retransmit_limit(const struct swim *s)
{
    double n = (double)cluster_n(s) + 1.0;
    uint32_t l = s->cfg.retransmit_mult * (uint32_t)ceil(log10(n));
    return l < 1 ? 1 : l >= SWIM_TX_MAX ? SWIM_TX_MAX - 1 : l;
}

static uint64_t suspicion_min_ms(const struct swim *s)
{
    double f = log10((double)cluster_n(s));
    if (f < 1.0)
        f = 1.0;
    return (uint64_t)(s->cfg.suspicion_mult * f * s->cfg.probe_interval_ms);
}

static uint64_t suspicion_timeout(const struct swim *s, uint32_t confirms)
{
    uint64_t min = suspicion_min_ms(s);
    uint64_t max = min * s->cfg.suspicion_max_mult;
    int64_t k = (int64_t)s->cfg.suspicion_mult - 2;
    if ((int64_t)cluster_n(s) - 2 < k)
        k = (int64_t)cluster_n(s) - 2;
    if (k > SWIM_CONFIRM_MAX)
        k = SWIM_CONFIRM_MAX;
    if (k < 1 || max <= min)
        return max > min ? max : min;
    double frac = log((double)confirms + 1.0) / log((double)k + 1.0);
    double t = (double)max - (double)(max - min) * frac;
    return t < (double)min ? min : (uint64_t)t;
}

static void submit(struct swim *s, uint32_t kind, uint64_t token, uint32_t arg32, uint64_t delay)
{
    struct swim_timer t = {.kind = kind, .arg32 = arg32, .token = token};
    s->rt.submit_after(s->rt.ctx, &t, delay);
}

/* A timer about one member's suspicion: its uid and epoch identify it, its
 * place in the iteration array is the hint that makes the lookup O(1). */
static void submit_suspicion(struct swim *s, uint32_t kind, const struct swim_member *m,
                             uint64_t delay)
{
    struct swim_timer t = {
        .kind = kind, .arg32 = m->suspect_epoch, .token = m->uid, .hint = m->all_idx};
    s->rt.submit_after(s->rt.ctx, &t, delay);
}

/* ---------------------------------------------------------- notifications */

static void member_info(const struct swim_member *m, struct swim_member_info *out)
{
    out->name = m->name;
    out->addr = m->addr;
    out->generation = m->gen;
    out->incarnation = m->inc;
    out->status = (enum swim_status)m->status;
    out->meta = m->meta;
    out->meta_len = m->meta_len;
    out->status_since = m->status_since;
}

static void notify_member(struct swim *s, enum swim_event ev, const struct swim_member *m)
{
    struct swim_notification n;
    memset(&n, 0, sizeof(n));
    n.type = ev;
    member_info(m, &n.member);
    s->rt.notify(s->rt.ctx, &n);
}

static void notify_self(struct swim *s, enum swim_event ev)
{
    struct swim_notification n;
    memset(&n, 0, sizeof(n));
    n.type = ev;
    swim_self(s, &n.member);
    s->rt.notify(s->rt.ctx, &n);
}

static void check_active(struct swim *s)
{
    if (s->state != SWIM_STATE_RUNNING)
        return;
    bool now_active = s->n_active > 0;
    if (now_active == s->active)
        return;
    s->active = now_active;
    if (now_active && s->cfg.sync_interval_ms > 0) /* one-shot: arg32 = 1 */
        submit(s, SWIM_TIMER_SYNC, s->epoch, 1,
               (uint64_t)s->cfg.gossip_interval_ms * SWIM_JOIN_SYNC_GOSSIPS);
    notify_self(s, now_active ? SWIM_EV_SELF_ACTIVE : SWIM_EV_SELF_IDLE);
}

/* ---------------------------------------------------------- member table */

static size_t slot_find(const struct swim *s, const char *name, size_t len)
{
    size_t mask = s->slot_cap - 1;
    size_t i = (size_t)hash_fnv1a(name, len) & mask;
    for (size_t n = 0; n < s->slot_cap; n++, i = (i + 1) & mask) {
        struct swim_member *m = s->slots[i];
        if (m == NULL || (m->name_len == len && memcmp(m->name, name, len) == 0))
            return i;
    }
    return SIZE_MAX; /* unreachable: the table is never full */
}

static struct swim_member *member_find(const struct swim *s, const char *name, size_t len)
{
    size_t i = slot_find(s, name, len);
    return i == SIZE_MAX ? NULL : s->slots[i];
}

static int grow_ptrs(struct swim_member ***arr, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    struct swim_member **n = realloc(*arr, ncap * sizeof(*n));
    if (n == NULL)
        return ERR_NOMEM;
    *arr = n;
    *cap = ncap;
    return 0;
}

static int slots_rehash(struct swim *s, size_t ncap)
{
    struct swim_member **old = s->slots;
    size_t ocap = s->slot_cap;
    struct swim_member **n = calloc(ncap, sizeof(*n));
    if (n == NULL)
        return ERR_NOMEM;
    s->slots = n;
    s->slot_cap = ncap;
    for (size_t i = 0; i < ocap; i++)
        if (old[i] != NULL)
            s->slots[slot_find(s, old[i]->name, old[i]->name_len)] = old[i];
    free(old);
    return 0;
}

/* Reserve room for one more member in every index. */
static int member_reserve(struct swim *s)
{
    size_t need = s->n_all + 1;
    if (need > SWIM_MEMBERS_MAX)
        return ERR_LIMIT;
    if (need * 2 > s->slot_cap && slots_rehash(s, s->slot_cap * 2) != 0)
        return ERR_NOMEM;
    if (grow_ptrs(&s->all, &s->all_cap, need) != 0 || grow_ptrs(&s->probe, &s->probe_cap, need))
        return ERR_NOMEM;
    return 0;
}

/* Insert into the probe list at a random place not yet visited this round. */
static void probe_insert(struct swim *s, struct swim_member *m)
{
    size_t last = s->n_probe++;
    s->probe[last] = m;
    m->probe_idx = (uint32_t)last;
    size_t lo = s->probe_cursor < last ? s->probe_cursor : last;
    size_t j = lo + prng_below(&s->rng, last - lo + 1);
    struct swim_member *o = s->probe[j];
    s->probe[j] = m;
    s->probe[last] = o;
    o->probe_idx = (uint32_t)last;
    m->probe_idx = (uint32_t)j;
}

static void probe_remove(struct swim *s, struct swim_member *m)
{
    /* Keep [0, cursor) the members already probed this round: a hole there
     * is filled from the round's last probed member, so the member moved
     * into the remaining hole is one not yet probed. */
    size_t i = m->probe_idx, last = --s->n_probe;
    if (i < s->probe_cursor) {
        size_t lv = --s->probe_cursor;
        s->probe[i] = s->probe[lv];
        s->probe[i]->probe_idx = (uint32_t)i;
        i = lv;
    }
    s->probe[i] = s->probe[last];
    s->probe[i]->probe_idx = (uint32_t)i;
}

/* Creates a member; member_reserve() must have succeeded. */
static struct swim_member *member_insert(struct swim *s, const struct wire_member *r, uint64_t now)
{
    struct swim_member *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    if (r->meta_len > 0) {
        m->meta = malloc(r->meta_len);
        if (m->meta == NULL) {
            free(m);
            return NULL;
        }
        memcpy(m->meta, r->meta, r->meta_len);
        m->meta_len = r->meta_len;
    }
    m->uid = ++s->next_uid;
    m->gen = r->gen;
    m->inc = r->inc;
    m->status = r->status;
    m->status_since = now;
    m->name_len = r->name.len;
    memcpy(m->name, r->name.ptr, r->name.len);
    m->name[r->name.len] = '\0';
    addr_copy(&m->addr, &r->addr);
    s->slots[slot_find(s, m->name, m->name_len)] = m;
    m->all_idx = (uint32_t)s->n_all;
    s->all[s->n_all++] = m;
    probe_insert(s, m);
    if (is_live(m->status))
        s->n_active++;
    return m;
}

static void queue_free(struct swim *s, struct swim_bcast *b);

static void member_remove(struct swim *s, struct swim_member *m)
{
    if (m->queued != NULL)
        queue_free(s, m->queued);
    /* Backward-shift deletion keeps linear probing free of tombstones. */
    size_t mask = s->slot_cap - 1;
    size_t i = slot_find(s, m->name, m->name_len);
    s->slots[i] = NULL;
    for (size_t j = (i + 1) & mask, n = 0; s->slots[j] != NULL && n < s->slot_cap;
         j = (j + 1) & mask, n++) {
        struct swim_member *o = s->slots[j];
        size_t home = (size_t)hash_fnv1a(o->name, o->name_len) & mask;
        /* o may move to i if its home is not in (i, j] cyclically. */
        bool in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            s->slots[i] = o;
            s->slots[j] = NULL;
            i = j;
        }
    }
    size_t a = m->all_idx, last = --s->n_all;
    s->all[a] = s->all[last];
    s->all[a]->all_idx = (uint32_t)a;
    probe_remove(s, m);
    if (s->probe_target == m)
        s->probe_target = NULL;
    if (is_live(m->status))
        s->n_active--;
    free(m->meta);
    free(m);
}

static int member_set_meta(struct swim_member *m, const uint8_t *meta, uint16_t len)
{
    if (len == m->meta_len && (len == 0 || memcmp(m->meta, meta, len) == 0))
        return 0;
    uint8_t *n = NULL;
    if (len > 0) {
        n = malloc(len);
        if (n == NULL)
            return ERR_NOMEM;
        memcpy(n, meta, len);
    }
    free(m->meta);
    m->meta = n;
    m->meta_len = len;
    return 1;
}

static void member_set_status(struct swim *s, struct swim_member *m, uint8_t status, uint64_t now)
{
    if (is_live(m->status) && !is_live(status))
        s->n_active--;
    else if (!is_live(m->status) && is_live(status))
        s->n_active++;
    if (m->status != status)
        m->status_since = now;
    m->status = status;
}

/* ----------------------------------------------------------- the queue */

static void bucket_push(struct swim *s, struct swim_bcast *b)
{
    struct swim_bcast **head = &s->bucket[b->tx];
    b->prev = NULL;
    b->next = *head;
    if (*head != NULL)
        (*head)->prev = b;
    else
        s->bucket_tail[b->tx] = b;
    *head = b;
}

static void bucket_unlink(struct swim *s, struct swim_bcast *b)
{
    if (b->prev != NULL)
        b->prev->next = b->next;
    else
        s->bucket[b->tx] = b->next;
    if (b->next != NULL)
        b->next->prev = b->prev;
    else
        s->bucket_tail[b->tx] = b->prev;
}

/* Forget an item already unlinked from its bucket. */
static void queue_release(struct swim *s, struct swim_bcast *b)
{
    if (b->owner != NULL)
        *b->owner = NULL;
    if (b->kind == WIRE_ITEM_USER)
        s->q_user--;
    free(b);
    s->qn--;
}

static void queue_free(struct swim *s, struct swim_bcast *b)
{
    bucket_unlink(s, b);
    queue_release(s, b);
}

/* Drop the most-sent item (the oldest of the fullest bucket). */
static void queue_drop_most_sent(struct swim *s)
{
    for (size_t t = SWIM_TX_MAX; t-- > 0;) {
        if (s->bucket_tail[t] != NULL) {
            queue_free(s, s->bucket_tail[t]);
            return;
        }
    }
}

/* Queue an encoded item body as never sent.  owner (NULL for user items)
 * points at the slot naming the owner's queued record, which a newer record
 * replaces.  All memory is taken before anything changes. */
static int queue_put(struct swim *s, uint8_t kind, struct swim_bcast **owner, const uint8_t *body,
                     size_t len)
{
    struct swim_bcast *b = malloc(sizeof(*b) + len);
    if (b == NULL)
        return ERR_NOMEM;
    memcpy(b->data, body, len);
    b->len = (uint16_t)len;
    b->kind = kind;
    b->tx = 0;
    b->owner = owner;
    if (owner != NULL && *owner != NULL)
        queue_free(s, *owner);
    if (s->qn >= SWIM_QUEUE_MAX)
        queue_drop_most_sent(s);
    if (owner != NULL)
        *owner = b;
    bucket_push(s, b);
    s->qn++;
    if (kind == WIRE_ITEM_USER)
        s->q_user++;
    return 0;
}

static void queue_member_record(struct swim *s, const struct wire_member *r,
                                struct swim_bcast **owner)
{
    uint8_t *p = s->body;
    if (wire_encode_member(&p, s->body + s->cfg.max_packet, r) == 0)
        (void)queue_put(s, WIRE_ITEM_MEMBER, owner, s->body, (size_t)(p - s->body));
}

static void member_to_wire(const struct swim_member *m, struct wire_member *out)
{
    memset(out, 0, sizeof(*out));
    out->name.ptr = m->name;
    out->name.len = m->name_len;
    out->addr = m->addr;
    out->gen = m->gen;
    out->inc = m->inc;
    out->status = m->status;
    out->meta = m->meta;
    out->meta_len = m->meta_len;
}

static void self_to_wire(const struct swim *s, struct wire_member *out)
{
    memset(out, 0, sizeof(*out));
    out->name.ptr = s->name;
    out->name.len = s->name_len;
    out->addr = s->addr;
    out->gen = s->gen;
    out->inc = s->inc;
    out->status = s->self_status;
    out->meta = s->meta;
    out->meta_len = s->meta_len;
}

static void queue_member(struct swim *s, struct swim_member *m, const struct wire_name *by)
{
    struct wire_member r;
    member_to_wire(m, &r);
    if (by != NULL)
        r.by = *by;
    queue_member_record(s, &r, &m->queued);
}

static void queue_self(struct swim *s)
{
    struct wire_member r;
    self_to_wire(s, &r);
    queue_member_record(s, &r, &s->self_queued);
}

/* ------------------------------------------------------------- sending */

struct swim_pkt {
    uint8_t *p;
    uint8_t *end;
};

static void pkt_begin(struct swim *s, struct swim_pkt *k, uint8_t type, uint8_t flags,
                      const char *dst, uint8_t dst_len, uint64_t dst_gen, uint32_t seq)
{
    struct wire_header h;
    memset(&h, 0, sizeof(h));
    h.type = type;
    h.flags = flags;
    h.src.ptr = s->name;
    h.src.len = s->name_len;
    h.src_addr = s->addr;
    h.src_gen = s->gen;
    h.src_inc = s->inc;
    if (dst != NULL) {
        h.flags |= WIRE_F_HAS_DST;
        h.dst.ptr = dst;
        h.dst.len = dst_len;
        h.dst_gen = dst_gen;
    }
    h.seq = seq;
    k->p = s->buf;
    k->end = s->buf + s->cfg.max_packet;
    /* Cannot fail: max_packet >= WIRE_PACKET_MIN holds any header. */
    (void)wire_encode_header(&k->p, k->end, &h);
}

/* Fill the rest of the datagram with queued items, least-sent first (and
 * newest first among equals); an item that does not fit waits. */
static void pkt_piggyback(struct swim *s, struct swim_pkt *k)
{
    uint32_t limit = retransmit_limit(s);
    struct swim_bcast *sent = NULL;
    unsigned misses = 0;

    for (uint32_t t = limit; t < SWIM_TX_MAX; t++) /* the limit shrank with N */
        while (s->bucket[t] != NULL)
            queue_free(s, s->bucket[t]);
    for (uint32_t t = 0; t < limit && misses < SWIM_PIGGYBACK_MISSES; t++) {
        struct swim_bcast *b = s->bucket[t];
        while (b != NULL && misses < SWIM_PIGGYBACK_MISSES) {
            struct swim_bcast *next = b->next;
            if (wire_encode_item(&k->p, k->end, b->kind, b->data, b->len) != 0) {
                misses++;
            } else {
                bucket_unlink(s, b);
                b->next = sent;
                sent = b;
            }
            b = next;
        }
    }
    while (sent != NULL) {
        struct swim_bcast *b = sent;
        sent = b->next;
        if (++b->tx >= limit) {
            queue_release(s, b);
        } else {
            bucket_push(s, b);
        }
    }
}

static void pkt_send(struct swim *s, const struct swim_addr *to, const struct swim_pkt *k)
{
    size_t len = (size_t)(k->p - s->buf);
    s->stats.packets_out++;
    s->stats.bytes_out += len;
    s->rt.send_to(s->rt.ctx, to, s->buf, len);
}

static void send_simple(struct swim *s, const struct swim_addr *to, uint8_t type, uint8_t flags,
                        const struct swim_member *dst, uint32_t seq)
{
    struct swim_pkt k;
    pkt_begin(s, &k, type, flags, dst ? dst->name : NULL, dst ? dst->name_len : 0,
              dst ? dst->gen : 0, seq);
    pkt_piggyback(s, &k);
    pkt_send(s, to, &k);
}

/* A GOSSIP carrying exactly one record (a suspicion or failure notice). */
static void send_notice(struct swim *s, const struct swim_addr *to, const struct wire_member *r)
{
    struct swim_pkt k;
    uint8_t *p = s->body;
    if (wire_encode_member(&p, s->body + s->cfg.max_packet, r) != 0)
        return;
    pkt_begin(s, &k, WIRE_GOSSIP, 0, NULL, 0, 0, 0);
    if (wire_encode_item(&k.p, k.end, WIRE_ITEM_MEMBER, s->body, (size_t)(p - s->body)) != 0)
        return;
    pkt_piggyback(s, &k);
    pkt_send(s, to, &k);
}

/* Append one record to a table datagram, sending the datagram and starting
 * the next one (without WANT_REPLY: that is asked once) when it is full. */
static void table_put(struct swim *s, struct swim_pkt *k, size_t *items,
                      const struct wire_member *r, const struct swim_addr *to, uint8_t type,
                      uint8_t flags)
{
    uint8_t *p = s->body;
    if (wire_encode_member(&p, s->body + s->cfg.max_packet, r) != 0)
        return;
    size_t len = (size_t)(p - s->body);
    if (wire_encode_item(&k->p, k->end, WIRE_ITEM_MEMBER, s->body, len) != 0) {
        if (*items == 0)
            return; /* larger than an empty datagram: WIRE_PACKET_MIN rules it out */
        pkt_send(s, to, k);
        pkt_begin(s, k, type, (uint8_t)(flags & ~WIRE_F_WANT_REPLY), NULL, 0, 0, 0);
        *items = 0;
        if (wire_encode_item(&k->p, k->end, WIRE_ITEM_MEMBER, s->body, len) != 0)
            return;
    }
    (*items)++;
}

/* Send the table (self first) as `type` datagrams; only_live limits it to
 * ALIVE/SUSPECT members (a FEED).  `skip` is left out. */
static void send_table(struct swim *s, const struct swim_addr *to, uint8_t type, uint8_t flags,
                       bool only_live, const struct swim_member *skip)
{
    struct swim_pkt k;
    struct wire_member r;
    size_t items = 0;

    pkt_begin(s, &k, type, flags, NULL, 0, 0, 0);
    self_to_wire(s, &r);
    table_put(s, &k, &items, &r, to, type, flags);
    for (size_t i = 0; i < s->n_all; i++) {
        const struct swim_member *m = s->all[i];
        if (m == skip || (only_live && !is_live(m->status)))
            continue;
        member_to_wire(m, &r);
        table_put(s, &k, &items, &r, to, type, flags);
    }
    if (items > 0)
        pkt_send(s, to, &k);
}

/* Token buckets for whole-table answers (see SWIM_TABLE_BURST). */
static bool bucket_take(struct swim *s, struct swim_bucket *b, uint32_t burst, uint64_t refill_ms,
                        uint64_t now)
{
    if (now >= b->refill_at) {
        uint64_t tokens = b->tokens + (now - b->refill_at) / refill_ms + 1;
        b->tokens = (uint32_t)(tokens > burst ? burst : tokens);
        b->refill_at = now + refill_ms;
    }
    if (b->tokens == 0) {
        s->stats.tables_refused++;
        return false;
    }
    b->tokens--;
    return true;
}

static bool table_allowed(struct swim *s, uint64_t now)
{
    return bucket_take(s, &s->tables, SWIM_TABLE_BURST, SWIM_TABLE_REFILL_MS, now);
}

/* Choose up to k distinct members, excluding `not1`: ALIVE ones, or with
 * with_suspects ALIVE and SUSPECT ones (gossip goes to suspects too, so a
 * node that was cut off and suspects everyone still gets its news out). */
static size_t pick_members(struct swim *s, struct swim_member **out, size_t k,
                           const struct swim_member *not1, bool with_suspects)
{
    size_t got = 0;
    if (k > SWIM_PICK_MAX)
        k = SWIM_PICK_MAX;
    if (s->n_all == 0 || k == 0)
        return 0;
    for (size_t t = 0; t < k * SWIM_PICK_TRIES && got < k; t++) {
        struct swim_member *m = s->all[prng_below(&s->rng, s->n_all)];
        bool dup = false;
        if (m == not1 || !(m->status == SWIM_ALIVE || (with_suspects && m->status == SWIM_SUSPECT)))
            continue;
        for (size_t j = 0; j < got; j++)
            dup |= out[j] == m;
        if (!dup)
            out[got++] = m;
    }
    if (got < k) {
        size_t start = prng_below(&s->rng, s->n_all);
        for (size_t n = 0; n < s->n_all && got < k; n++) {
            struct swim_member *m = s->all[(start + n) % s->n_all];
            bool dup = false;
            if (m == not1 ||
                !(m->status == SWIM_ALIVE || (with_suspects && m->status == SWIM_SUSPECT)))
                continue;
            for (size_t j = 0; j < got; j++)
                dup |= out[j] == m;
            if (!dup)
                out[got++] = m;
        }
    }
    return got;
}

/* --------------------------------------------------------- state changes */

static void start_suspicion(struct swim *s, struct swim_member *m, uint64_t now)
{
    uint64_t t = suspicion_timeout(s, 0);
    m->status_since = now; /* the suspicion's start, which confirmations count from */
    m->suspect_epoch++;
    m->confirms = 0;
    m->suspect_deadline = now + t;
    submit_suspicion(s, SWIM_TIMER_SUSPECT, m, t);
    /* Two checks, at a random point of each middle quarter of the timeout:
     * if gossip has not brought the suspect's refutation by then, ask the
     * suspect itself.  Random points keep N holders of the same suspicion
     * from asking at one instant. */
    for (uint64_t q = 1; q <= 2; q++) {
        uint64_t at = t * q / 4 + prng_below(&s->rng, t / 4 + 1);
        submit_suspicion(s, SWIM_TIMER_SUSPECT_CHECK, m, at);
    }
}

static void add_confirmation(struct swim *s, struct swim_member *m, const struct wire_name *by,
                             uint64_t now)
{
    if (by == NULL || by->len == 0)
        return;
    uint32_t h = (uint32_t)hash_fnv1a(by->ptr, by->len);
    for (uint8_t i = 0; i < m->confirms; i++)
        if (m->confirm[i] == h)
            return;
    if (m->confirms >= SWIM_CONFIRM_MAX)
        return;
    m->confirm[m->confirms++] = h;
    uint64_t deadline = m->status_since + suspicion_timeout(s, m->confirms);
    if (deadline < m->suspect_deadline) {
        m->suspect_deadline = deadline;
        submit_suspicion(s, SWIM_TIMER_SUSPECT, m, deadline > now ? deadline - now : 0);
    }
}

/* Tell the member it is suspected: it refutes sooner than gossip would. */
static void tell_suspect(struct swim *s, const struct swim_member *m, const struct wire_name *by,
                         const struct swim_addr *to)
{
    struct wire_member r;
    member_to_wire(m, &r);
    if (by != NULL)
        r.by = *by;
    send_notice(s, to != NULL ? to : &m->addr, &r);
}

static void renew_self(struct swim *s, uint64_t min_gen)
{
    notify_self(s, SWIM_EV_SELF_DEFUNCT);
    s->gen = (min_gen > s->gen ? min_gen : s->gen) + 1;
    s->inc = 0;
    s->self_status = SWIM_ALIVE;
    queue_self(s);
    notify_self(s, SWIM_EV_SELF_REJOINED);
}

/* Send our own current record straight back to whoever told us about an
 * older one: the refutation does not wait for gossip. */
static void answer_self(struct swim *s, const struct swim_addr *from)
{
    struct wire_member r;
    if (from == NULL)
        return;
    self_to_wire(s, &r);
    send_notice(s, from, &r);
}

enum swim_apply_mode {
    SWIM_APPLY_GOSSIP,
    SWIM_APPLY_MERGE, /* SYNC or FEED: FAILED about a live member becomes SUSPECT */
};

/* What one datagram has done so far: however many items it carries, it
 * makes us answer, raise our health and renew at most once. */
struct swim_apply {
    enum swim_apply_mode mode;
    const struct swim_addr *from;
    uint64_t now;
    unsigned notices; /* FAILED notices sent to subjects */
    bool answer;      /* send our record back to `from` after the items */
    bool raised_health;
    bool renewed;
};

/* Refute: take an incarnation above `seen`.  Near the top of the range a
 * new generation is taken instead, so the counter never wraps. */
static void refute(struct swim *s, uint32_t seen)
{
    if (seen >= UINT32_MAX - 1) {
        s->gen++;
        s->inc = 0;
    } else {
        s->inc = seen + 1;
    }
    queue_self(s);
}

/* A record about this node. */
static void apply_self(struct swim *s, const struct wire_member *r, struct swim_apply *c)
{
    if (s->state != SWIM_STATE_RUNNING || r->gen < s->gen)
        return;
    if (r->gen > s->gen) {
        if (is_live(r->status) && (r->addr.len != s->addr.len ||
                                   memcmp(r->addr.bytes, s->addr.bytes, r->addr.len) != 0)) {
            /* Another live node uses our name: renewing past it would make
             * the two leapfrog forever.  Count it for the operator. */
            s->stats.name_conflicts++;
            return;
        }
        if (!c->renewed) { /* our own record, from a clock that went back */
            renew_self(s, r->gen);
            c->renewed = true;
            c->answer = true;
        }
        return;
    }
    switch (r->status) {
    case SWIM_SUSPECT:
        if (r->inc >= s->inc) {
            refute(s, r->inc);
            s->stats.refutations++;
            if (!c->raised_health && s->health < s->cfg.awareness_max)
                s->health++;
            c->raised_health = true;
        } else if (s->self_queued == NULL) {
            /* Someone still suspects an older incarnation: our refutation
             * ran out of retransmits (lost while our links were down). */
            queue_self(s);
        }
        c->answer = true;
        break;
    case SWIM_FAILED:
    case SWIM_LEFT:
        if (!c->renewed)
            renew_self(s, s->gen);
        c->renewed = true;
        c->answer = true;
        break;
    default:
        if (r->inc > s->inc)
            refute(s, r->inc);
        break;
    }
}

/* Apply one member record.  Returns true when it changed our table. */
static bool apply_member(struct swim *s, const struct wire_member *r, struct swim_apply *c)
{
    enum swim_apply_mode mode = c->mode;
    uint64_t now = c->now;
    /* Counters at their ceiling could never be superseded: drop them. */
    if (r->gen == UINT64_MAX || r->inc == UINT32_MAX)
        return false;
    if (r->name.len == s->name_len && memcmp(r->name.ptr, s->name, s->name_len) == 0) {
        apply_self(s, r, c);
        return false;
    }
    struct swim_member *m = member_find(s, r->name.ptr, r->name.len);
    if (m == NULL) {
        /* A tombstone of a member we never knew (or already reaped) is not
         * news: taking it would resurrect reaped members forever. */
        if (!is_live(r->status))
            return false;
        if (member_reserve(s) != 0)
            return false;
        m = member_insert(s, r, now);
        if (m == NULL)
            return false;
        queue_member(s, m, &r->by);
        if (is_live(m->status))
            notify_member(s, SWIM_EV_MEMBER_JOINED, m);
        if (m->status == SWIM_SUSPECT) {
            notify_member(s, SWIM_EV_MEMBER_SUSPECT, m);
            start_suspicion(s, m, now);
        }
        check_active(s);
        return true;
    }

    uint8_t old = m->status;
    uint8_t status = r->status;
    if (r->gen < m->gen)
        return false;
    if (r->gen == m->gen) {
        if (old == SWIM_LEFT || (old == SWIM_FAILED && status != SWIM_LEFT))
            return false; /* final for this generation */
        if (old == SWIM_FAILED && status == SWIM_LEFT) {
            /* an operator's force-leave of a failed member: accept */
        } else if (r->inc < m->inc) {
            return false;
        } else if (r->inc == m->inc && status <= old) {
            if (status == SWIM_SUSPECT && old == SWIM_SUSPECT)
                add_confirmation(s, m, &r->by, now);
            return false;
        }
        if (mode == SWIM_APPLY_MERGE && status == SWIM_FAILED && is_live(old)) {
            /* memberlist's merge rule; also warn the subject (see top). */
            if (c->notices < SWIM_NOTICES_PER_PACKET && now >= m->notice_at) {
                c->notices++;
                m->notice_at = now + SWIM_NOTICE_GAP_MS;
                send_notice(s, &m->addr, r);
            }
            if (old == SWIM_SUSPECT && r->inc == m->inc)
                return false;
            status = SWIM_SUSPECT;
        }
    }

    bool renewed = r->gen != m->gen;
    bool meta_changed = member_set_meta(m, r->meta, r->meta_len) > 0;
    bool addr_changed =
        m->addr.len != r->addr.len || memcmp(m->addr.bytes, r->addr.bytes, r->addr.len) != 0;
    addr_copy(&m->addr, &r->addr);
    m->gen = r->gen;
    m->inc = r->inc;
    member_set_status(s, m, status, now);

    struct wire_member q;
    member_to_wire(m, &q);
    q.by = status == SWIM_SUSPECT ? r->by : (struct wire_name){0};
    queue_member_record(s, &q, &m->queued);

    if (status == SWIM_SUSPECT && (old != SWIM_SUSPECT || renewed)) {
        if (!is_live(old))
            notify_member(s, SWIM_EV_MEMBER_ALIVE, m);
        notify_member(s, SWIM_EV_MEMBER_SUSPECT, m);
        start_suspicion(s, m, now);
        add_confirmation(s, m, &r->by, now);
    } else if (status == SWIM_ALIVE && old != SWIM_ALIVE) {
        notify_member(s, SWIM_EV_MEMBER_ALIVE, m);
    } else if (status == SWIM_FAILED && old != SWIM_FAILED) {
        notify_member(s, SWIM_EV_MEMBER_FAILED, m);
    } else if (status == SWIM_LEFT && old != SWIM_LEFT) {
        notify_member(s, SWIM_EV_MEMBER_LEFT, m);
    }
    if ((meta_changed || addr_changed) && is_live(status) && is_live(old) && !renewed)
        notify_member(s, SWIM_EV_MEMBER_UPDATED, m);
    else if ((meta_changed || addr_changed) && renewed && old == SWIM_ALIVE && status == SWIM_ALIVE)
        notify_member(s, SWIM_EV_MEMBER_UPDATED, m);
    check_active(s);
    return true;
}

static bool seen_in(const uint64_t *set, uint64_t id)
{
    size_t mask = SWIM_SEEN_SLOTS - 1;
    for (size_t i = (size_t)id & mask, n = 0; n < SWIM_SEEN_SLOTS; i = (i + 1) & mask, n++) {
        if (set[i] == id)
            return true;
        if (set[i] == 0)
            return false;
    }
    return false;
}

/* Exactly-once filter: two generations of hash sets; when the current one
 * holds SWIM_SEEN_GEN ids, the older one is cleared and becomes current. */
static bool seen_check_and_add(struct swim *s, uint64_t id)
{
    if (seen_in(s->seen[0], id) || seen_in(s->seen[1], id))
        return true;
    if (s->seen_n == SWIM_SEEN_GEN) {
        s->seen_cur ^= 1;
        memset(s->seen[s->seen_cur], 0, sizeof(s->seen[0]));
        s->seen_n = 0;
    }
    uint64_t *set = s->seen[s->seen_cur];
    size_t mask = SWIM_SEEN_SLOTS - 1, i = (size_t)id & mask;
    while (set[i] != 0) /* at most half full, so a free slot exists */
        i = (i + 1) & mask;
    set[i] = id;
    s->seen_n++;
    return false;
}

static uint64_t user_id(const struct wire_user *u)
{
    uint64_t h = hash_fnv1a(u->origin.ptr, u->origin.len);
    h ^= u->origin_gen * 0x9e3779b97f4a7c15ull;
    h ^= (uint64_t)u->id * 0xc2b2ae3d27d4eb4full;
    return h ? h : 1; /* 0 marks an empty ring slot */
}

static void deliver_user(struct swim *s, const struct wire_user *u, const uint8_t *body, size_t len)
{
    uint64_t id = user_id(u);
    if (seen_check_and_add(s, id))
        return;
    char origin[SWIM_NAME_MAX + 1];
    memcpy(origin, u->origin.ptr, u->origin.len);
    origin[u->origin.len] = '\0';
    if (s->q_user < SWIM_QUEUE_USER_MAX)
        (void)queue_put(s, WIRE_ITEM_USER, NULL, body, len);
    struct swim_notification n;
    memset(&n, 0, sizeof(n));
    n.type = SWIM_EV_USER;
    n.user.origin = origin;
    n.user.origin_generation = u->origin_gen;
    n.user.id = u->id;
    n.user.payload = u->payload;
    n.user.len = u->len;
    s->rt.notify(s->rt.ctx, &n);
}

/* ------------------------------------------------------------- probing */

static void probe_judge(struct swim *s, uint64_t now)
{
    struct swim_member *m = s->probe_target;
    if (m == NULL)
        return;
    s->probe_target = NULL;
    if (s->probe_acked) {
        if (s->health > 0)
            s->health--;
        /* It answers but is still suspect here: its refutation was lost.
         * Remind it; it re-sends its newer incarnation on its next packets. */
        if (m->status == SWIM_SUSPECT)
            tell_suspect(s, m, NULL, NULL);
        return;
    }
    s->stats.probe_failures++;
    uint32_t delta = 1;
    if (s->probe_expected_nacks > 0)
        delta =
            s->probe_expected_nacks > s->probe_nacks ? s->probe_expected_nacks - s->probe_nacks : 0;
    s->health = s->health + delta > s->cfg.awareness_max ? s->cfg.awareness_max : s->health + delta;

    if (m->status != SWIM_ALIVE)
        return;
    struct wire_name by = {.ptr = s->name, .len = s->name_len};
    member_set_status(s, m, SWIM_SUSPECT, now);
    s->stats.suspicions++;
    queue_member(s, m, &by);
    notify_member(s, SWIM_EV_MEMBER_SUSPECT, m);
    start_suspicion(s, m, now);
    tell_suspect(s, m, &by, NULL);
    check_active(s);
}

static struct swim_member *probe_next(struct swim *s)
{
    for (size_t n = 0; n <= s->n_probe; n++) {
        if (s->probe_cursor >= s->n_probe) {
            s->probe_cursor = 0;
            for (size_t i = s->n_probe; i > 1; i--) { /* Fisher-Yates */
                size_t j = prng_below(&s->rng, i);
                struct swim_member *t = s->probe[i - 1];
                s->probe[i - 1] = s->probe[j];
                s->probe[j] = t;
                s->probe[i - 1]->probe_idx = (uint32_t)(i - 1);
                s->probe[j]->probe_idx = (uint32_t)j;
            }
            if (s->n_probe == 0)
                return NULL;
        }
        struct swim_member *m = s->probe[s->probe_cursor++];
        if (is_live(m->status))
            return m;
    }
    return NULL;
}

static void on_probe_tick(struct swim *s, uint64_t now)
{
    probe_judge(s, now);
    submit(s, SWIM_TIMER_PROBE, s->epoch, 0, scaled(s, s->cfg.probe_interval_ms));
    if (s->state != SWIM_STATE_RUNNING)
        return;
    struct swim_member *m = probe_next(s);
    if (m == NULL)
        return;
    s->probe_seq = ++s->seq;
    s->probe_target = m;
    s->probe_acked = false;
    s->probe_nacks = 0;
    s->probe_expected_nacks = 0;
    s->stats.probes++;
    send_simple(s, &m->addr, WIRE_PING, 0, m, s->probe_seq);
    submit(s, SWIM_TIMER_PROBE_TIMEOUT, s->probe_seq, 0, scaled(s, s->cfg.probe_timeout_ms));
}

/* The member a timer names: at its hint, or (moved since) by a scan. */
static struct swim_member *member_by_timer(const struct swim *s, const struct swim_timer *t)
{
    if (t->hint < s->n_all && s->all[t->hint]->uid == t->token)
        return s->all[t->hint];
    for (size_t i = 0; i < s->n_all; i++)
        if (s->all[i]->uid == t->token)
            return s->all[i];
    return NULL;
}

static void on_probe_timeout(struct swim *s, uint32_t seq)
{
    struct swim_member *target = s->probe_target;
    if (seq != s->probe_seq || target == NULL || s->probe_acked)
        return;
    struct swim_member *helpers[SWIM_PICK_MAX];
    size_t n = pick_members(s, helpers, s->cfg.indirect_checks, target, false);
    struct wire_peer body;
    memset(&body, 0, sizeof(body));
    body.name.ptr = target->name;
    body.name.len = target->name_len;
    body.addr = target->addr;
    body.gen = target->gen;
    for (size_t i = 0; i < n; i++) {
        struct swim_pkt k;
        pkt_begin(s, &k, WIRE_PING_REQ, 0, helpers[i]->name, helpers[i]->name_len, helpers[i]->gen,
                  seq);
        if (wire_encode_peer(&k.p, k.end, WIRE_PING_REQ, &body) != 0)
            continue;
        pkt_piggyback(s, &k);
        pkt_send(s, &helpers[i]->addr, &k);
        s->probe_expected_nacks++;
    }
}

static struct swim_relay *relay_by_seq(struct swim *s, uint32_t seq)
{
    for (size_t i = 0; i < SWIM_RELAY_MAX; i++)
        if (s->relays[i].used && s->relays[i].local_seq == seq)
            return &s->relays[i];
    return NULL;
}

static void on_ping_req(struct swim *s, const struct swim_addr *from, const struct wire_header *h,
                        const struct wire_peer *target)
{
    struct swim_relay *r = NULL;
    for (size_t i = 0; i < SWIM_RELAY_MAX && r == NULL; i++)
        if (!s->relays[i].used)
            r = &s->relays[i];
    if (r == NULL)
        return;
    r->used = true;
    r->local_seq = ++s->seq;
    r->origin_seq = h->seq;
    r->origin = *from;
    r->target_len = target->name.len;
    memcpy(r->target, target->name.ptr, target->name.len);
    addr_copy(&r->target_addr, &target->addr);
    struct swim_pkt k;
    pkt_begin(s, &k, WIRE_PING, 0, r->target, r->target_len, target->gen, r->local_seq);
    pkt_piggyback(s, &k);
    pkt_send(s, &r->target_addr, &k);
    uint64_t window = s->cfg.probe_timeout_ms;
    if (s->cfg.probe_interval_ms - s->cfg.probe_timeout_ms < window)
        window = s->cfg.probe_interval_ms - s->cfg.probe_timeout_ms;
    submit(s, SWIM_TIMER_RELAY, r->local_seq, 0, window * SWIM_NACK_PCT / 100);
}

static void on_relay_timeout(struct swim *s, uint32_t seq)
{
    struct swim_relay *r = relay_by_seq(s, seq);
    if (r == NULL)
        return;
    r->used = false;
    send_simple(s, &r->origin, WIRE_NACK, 0, NULL, r->origin_seq);
}

static bool name_is(const struct wire_name *n, const char *name, size_t len)
{
    return n->len == len && memcmp(n->ptr, name, len) == 0;
}

static void on_ack(struct swim *s, const struct wire_header *h, const struct wire_peer *relayed)
{
    struct swim_member *t = s->probe_target;
    if (t != NULL && h->seq == s->probe_seq) {
        const struct wire_name *who = relayed ? &relayed->name : &h->src;
        if (name_is(who, t->name, t->name_len)) {
            s->probe_acked = true;
            return;
        }
    }
    if (relayed != NULL)
        return;
    struct swim_relay *r = relay_by_seq(s, h->seq);
    if (r == NULL || !name_is(&h->src, r->target, r->target_len))
        return;
    r->used = false;
    struct wire_peer body;
    memset(&body, 0, sizeof(body));
    body.name.ptr = r->target;
    body.name.len = r->target_len;
    body.addr = r->target_addr;
    struct swim_pkt k;
    pkt_begin(s, &k, WIRE_ACK, WIRE_F_RELAY, NULL, 0, 0, r->origin_seq);
    if (wire_encode_peer(&k.p, k.end, WIRE_ACK, &body) != 0)
        return;
    pkt_piggyback(s, &k);
    pkt_send(s, &r->origin, &k);
}

/* ---------------------------------------------------------- public API */

int swim_config_profile(struct swim_config *c, const char *profile)
{
    if (profile == NULL)
        return ERR_INVAL;
    memset(c, 0, sizeof(*c));
    /* Shared by all profiles: memberlist's defaults. */
    c->suspicion_max_mult = 1;
    c->awareness_max = 8;
    c->max_packet = SWIM_PACKET_DEFAULT;
    c->reap_ms = 24u * 3600 * 1000; /* Serf keeps tombstones a day */
    if (strcmp(profile, "lan") == 0) {
        c->probe_interval_ms = 1000;
        c->probe_timeout_ms = 500;
        c->suspicion_mult = 4;
        c->retransmit_mult = 4;
        c->gossip_interval_ms = 200;
        c->gossip_nodes = 3;
        c->indirect_checks = 3;
        c->sync_interval_ms = 30000;
        c->reconnect_interval_ms = 10000;
    } else if (strcmp(profile, "wan") == 0) {
        c->probe_interval_ms = 5000;
        c->probe_timeout_ms = 3000;
        c->suspicion_mult = 6;
        c->retransmit_mult = 4;
        c->gossip_interval_ms = 500;
        c->gossip_nodes = 4;
        c->indirect_checks = 3;
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
        c->max_packet > SWIM_PACKET_MAX || c->probe_interval_ms > 3600u * 1000)
        return ERR_INVAL;
    return 0;
}

struct swim *swim_new(const struct swim_config *cfg, const char *name, const struct swim_addr *addr,
                      uint64_t generation, uint64_t seed, const struct swim_runtime *rt)
{
    size_t len = name ? strlen(name) : 0;
    if (cfg == NULL || swim_config_check(cfg) != 0 || len == 0 || len > SWIM_NAME_MAX ||
        addr == NULL || addr->len > SWIM_ADDR_MAX || rt == NULL || rt->notify == NULL ||
        rt->send_to == NULL || rt->submit_after == NULL)
        return NULL;
    struct swim *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->cfg = *cfg;
    s->rt = *rt;
    s->buf = malloc(cfg->max_packet);
    s->body = malloc(cfg->max_packet);
    s->slot_cap = 64;
    s->slots = calloc(s->slot_cap, sizeof(*s->slots));
    if (s->buf == NULL || s->body == NULL || s->slots == NULL) {
        swim_delete(s);
        return NULL;
    }
    memcpy(s->name, name, len);
    s->name_len = (uint8_t)len;
    s->addr = *addr;
    s->gen = generation;
    s->self_status = SWIM_ALIVE;
    s->tables.tokens = SWIM_TABLE_BURST; /* buckets start full */
    s->joins.tokens = SWIM_JOIN_BURST;
    prng_seed(&s->rng, seed);
    return s;
}

void swim_delete(struct swim *s)
{
    if (s == NULL)
        return;
    for (size_t t = 0; t < SWIM_TX_MAX; t++) /* before the members it points into */
        while (s->bucket[t] != NULL)
            queue_free(s, s->bucket[t]);
    for (size_t i = 0; i < s->n_all; i++) {
        free(s->all[i]->meta);
        free(s->all[i]);
    }
    free(s->slots);
    free(s->all);
    free(s->probe);
    free(s->meta);
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
    s->self_since = now;
    queue_self(s);
    /* Stagger the first probe so nodes started together do not probe in
     * lock-step. */
    submit(s, SWIM_TIMER_PROBE, s->epoch, 0, 1 + prng_below(&s->rng, s->cfg.probe_interval_ms));
    submit(s, SWIM_TIMER_GOSSIP, s->epoch, 0, s->cfg.gossip_interval_ms);
    if (s->cfg.sync_interval_ms > 0)
        submit(s, SWIM_TIMER_SYNC, s->epoch, 0, s->cfg.sync_interval_ms);
    if (s->cfg.reconnect_interval_ms > 0)
        submit(s, SWIM_TIMER_RECONNECT, s->epoch, 0, s->cfg.reconnect_interval_ms);
    uint64_t sweep = s->cfg.reap_ms / 4;
    submit(s, SWIM_TIMER_REAP, s->epoch, 0,
           sweep < SWIM_REAP_SWEEP_MIN_MS ? SWIM_REAP_SWEEP_MIN_MS : sweep);
    return 0;
}

int swim_announce(struct swim *s, const struct swim_addr *seed, uint64_t now)
{
    (void)now;
    if (seed == NULL || seed->len > SWIM_ADDR_MAX)
        return ERR_INVAL;
    if (s->state != SWIM_STATE_RUNNING)
        return ERR_STATE;
    struct wire_member r;
    struct swim_pkt k;
    uint8_t *p = s->body;
    self_to_wire(s, &r);
    if (wire_encode_member(&p, s->body + s->cfg.max_packet, &r) != 0)
        return ERR_INVAL;
    pkt_begin(s, &k, WIRE_ANNOUNCE, 0, NULL, 0, 0, 0);
    if (wire_encode_item(&k.p, k.end, WIRE_ITEM_MEMBER, s->body, (size_t)(p - s->body)) != 0)
        return ERR_INVAL;
    pkt_send(s, seed, &k);
    return 0;
}

/* A member we do not know spoke to us: send it our record and ask for its
 * own (a GOSSIP with WANT_REPLY), at most once per SWIM_ASK_GAP_MS each. */
static void ask_record(struct swim *s, const struct wire_name *name, const struct swim_addr *from,
                       uint64_t now)
{
    uint64_t h = hash_fnv1a(name->ptr, name->len);
    for (size_t i = 0; i < SWIM_ASKED_MAX; i++)
        if (s->asked[i].hash == h && now < s->asked[i].until)
            return;
    s->asked[s->asked_next].hash = h;
    s->asked[s->asked_next].until = now + SWIM_ASK_GAP_MS;
    s->asked_next = (s->asked_next + 1) % SWIM_ASKED_MAX;

    struct wire_member r;
    struct swim_pkt k;
    uint8_t *p = s->body;
    self_to_wire(s, &r);
    if (wire_encode_member(&p, s->body + s->cfg.max_packet, &r) != 0)
        return;
    pkt_begin(s, &k, WIRE_GOSSIP, WIRE_F_WANT_REPLY, NULL, 0, 0, 0);
    if (wire_encode_item(&k.p, k.end, WIRE_ITEM_MEMBER, s->body, (size_t)(p - s->body)) != 0)
        return;
    pkt_send(s, from, &k);
}

/* Check item framing of the whole datagram before applying any of it. */
static int items_valid(const uint8_t *p, const uint8_t *end)
{
    struct wire_item it;
    while (p < end) {
        int rc = wire_decode_item(&it, &p, end);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void apply_items(struct swim *s, const uint8_t *p, const uint8_t *end,
                        enum swim_apply_mode mode, const struct swim_addr *from, uint64_t now)
{
    struct wire_item it;
    struct swim_apply c = {.mode = mode, .from = from, .now = now};
    /* Bounded by the datagram: every item consumes at least 3 bytes. */
    while (p < end && wire_decode_item(&it, &p, end) == 0) {
        const uint8_t *ip = it.data, *iend = it.data + it.len;
        if (it.kind == WIRE_ITEM_MEMBER) {
            struct wire_member r;
            if (wire_decode_member(&r, &ip, iend) != 0) {
                s->stats.malformed++; /* one bad member is skipped */
                continue;
            }
            (void)apply_member(s, &r, &c);
        } else if (it.kind == WIRE_ITEM_USER) {
            struct wire_user u;
            if (wire_decode_user(&u, &ip, iend) != 0) {
                s->stats.malformed++;
                continue;
            }
            deliver_user(s, &u, it.data, it.len);
        }
        /* unknown kinds are skipped */
    }
    if (c.answer)
        answer_self(s, from);
}

int swim_handle_packet(struct swim *s, const struct swim_addr *from, const uint8_t *data,
                       size_t len, uint64_t now)
{
    const uint8_t *p = data, *end = data + len;
    struct wire_header h;
    struct wire_peer peer;
    int rc;

    s->stats.packets_in++;
    s->stats.bytes_in += len;
    if (s->state != SWIM_STATE_RUNNING && s->state != SWIM_STATE_LEAVING)
        return 0;
    if (data == NULL || from == NULL || len > WIRE_PACKET_MAX) {
        s->stats.malformed++;
        return ERR_INVAL;
    }
    if ((rc = wire_decode_header(&h, &p, end)) != 0)
        goto bad;
    if (h.type == WIRE_PING_REQ || (h.flags & WIRE_F_RELAY)) { /* RELAY: PING/ACK only */
        if ((rc = wire_decode_peer(&peer, h.type, &p, end)) != 0)
            goto bad;
    }
    if ((rc = items_valid(p, end)) != 0)
        goto bad;
    if (name_is(&h.src, s->name, s->name_len))
        return 0; /* our own datagram, or a twin with our name */
    if ((h.flags & WIRE_F_HAS_DST) && !name_is(&h.dst, s->name, s->name_len))
        return 0; /* meant for whoever had this address before */

    struct swim_member *sender = member_find(s, h.src.ptr, h.src.len);
    if (sender != NULL && sender->status == SWIM_FAILED && sender->gen == h.src_gen &&
        now >= sender->notice_at) {
        /* It is alive after all: tell it, so it renews and comes back. */
        struct wire_member r;
        member_to_wire(sender, &r);
        sender->notice_at = now + SWIM_NOTICE_GAP_MS;
        send_notice(s, from, &r);
    } else if (sender != NULL && sender->status == SWIM_SUSPECT && sender->gen == h.src_gen &&
               h.src_inc > sender->inc && now >= sender->notice_at) {
        /* It speaks with a newer incarnation than the one we suspect: its
         * refutation did not reach us.  Ask for it; it answers directly. */
        sender->notice_at = now + SWIM_NOTICE_GAP_MS;
        tell_suspect(s, sender, NULL, from);
    }

    if (sender == NULL && h.type != WIRE_ANNOUNCE && h.type != WIRE_FEED && h.type != WIRE_SYNC &&
        !(h.type == WIRE_GOSSIP && (h.flags & WIRE_F_WANT_REPLY)))
        ask_record(s, &h.src, from, now);

    enum swim_apply_mode mode =
        (h.type == WIRE_SYNC || h.type == WIRE_FEED) ? SWIM_APPLY_MERGE : SWIM_APPLY_GOSSIP;
    apply_items(s, p, end, mode, from, now);

    if (s->state != SWIM_STATE_RUNNING && h.type != WIRE_ACK)
        return 0;
    switch (h.type) {
    case WIRE_PING: {
        struct swim_pkt k;
        pkt_begin(s, &k, WIRE_ACK, 0, h.src.ptr, h.src.len, h.src_gen, h.seq);
        pkt_piggyback(s, &k);
        pkt_send(s, from, &k);
        break;
    }
    case WIRE_ACK:
        on_ack(s, &h, (h.flags & WIRE_F_RELAY) ? &peer : NULL);
        break;
    case WIRE_PING_REQ:
        on_ping_req(s, from, &h, &peer);
        break;
    case WIRE_NACK:
        if (s->probe_target != NULL && h.seq == s->probe_seq)
            s->probe_nacks++;
        break;
    case WIRE_ANNOUNCE: {
        struct swim_member *joiner = member_find(s, h.src.ptr, h.src.len);
        bool fresh = sender == NULL || sender->gen != h.src_gen;
        if (fresh ? bucket_take(s, &s->joins, SWIM_JOIN_BURST, SWIM_JOIN_REFILL_MS, now)
                  : table_allowed(s, now))
            send_table(s, from, WIRE_FEED, 0, true, joiner);
        else
            answer_self(s, from); /* one datagram: the joiner knows someone */
        break;
    }
    case WIRE_SYNC:
        /* Only a member we know (whatever its status: after a partition
         * both sides hold the other as failed) gets our table back. */
        if ((h.flags & WIRE_F_WANT_REPLY) && sender != NULL && table_allowed(s, now))
            send_table(s, from, WIRE_SYNC, 0, false, NULL);
        break;
    case WIRE_GOSSIP:
        if (h.flags & WIRE_F_WANT_REPLY)
            answer_self(s, from);
        break;
    default:
        break;
    }
    return 0;
bad:
    s->stats.malformed++;
    return rc;
}

static void on_suspect_timer(struct swim *s, const struct swim_timer *t, uint64_t now)
{
    struct swim_member *m = member_by_timer(s, t);
    if (m == NULL || m->status != SWIM_SUSPECT || m->suspect_epoch != t->arg32)
        return;
    if (now < m->suspect_deadline) {
        /* Early: a runtime's clock may run a little behind its timers
         * (libevent's cached time does).  Wait out the rest rather than
         * let the suspicion hang. */
        submit_suspicion(s, SWIM_TIMER_SUSPECT, m, m->suspect_deadline - now);
        return;
    }
    member_set_status(s, m, SWIM_FAILED, now);
    queue_member(s, m, NULL);
    notify_member(s, SWIM_EV_MEMBER_FAILED, m);
    check_active(s);
}

static void on_suspect_check(struct swim *s, const struct swim_timer *t)
{
    struct swim_member *m = member_by_timer(s, t);
    if (m == NULL || m->status != SWIM_SUSPECT || m->suspect_epoch != t->arg32)
        return;
    tell_suspect(s, m, NULL, NULL);
}

static void on_gossip(struct swim *s)
{
    submit(s, SWIM_TIMER_GOSSIP, s->epoch, 0, s->cfg.gossip_interval_ms);
    if (s->qn == 0)
        return;
    struct swim_member *to[SWIM_PICK_MAX];
    size_t n = pick_members(s, to, s->cfg.gossip_nodes, NULL, true);
    for (size_t i = 0; i < n && s->qn > 0; i++)
        send_simple(s, &to[i]->addr, WIRE_GOSSIP, 0, NULL, 0);
}

static void on_sync(struct swim *s, bool failed, bool once)
{
    uint32_t every = failed ? s->cfg.reconnect_interval_ms : s->cfg.sync_interval_ms;
    if (!once)
        submit(s, failed ? SWIM_TIMER_RECONNECT : SWIM_TIMER_SYNC, s->epoch, 0, every);
    if (s->state != SWIM_STATE_RUNNING || s->n_all == 0)
        return;
    struct swim_member *m = NULL;
    if (failed) {
        size_t start = prng_below(&s->rng, s->n_all);
        for (size_t n = 0; n < s->n_all && m == NULL; n++) {
            struct swim_member *c = s->all[(start + n) % s->n_all];
            if (c->status == SWIM_FAILED)
                m = c;
        }
    } else if (pick_members(s, &m, 1, NULL, false) == 0) {
        m = NULL;
    }
    if (m != NULL)
        send_table(s, &m->addr, WIRE_SYNC, WIRE_F_WANT_REPLY, false, NULL);
}

static void on_reap(struct swim *s, uint64_t now)
{
    uint64_t sweep = s->cfg.reap_ms / 4;
    submit(s, SWIM_TIMER_REAP, s->epoch, 0,
           sweep < SWIM_REAP_SWEEP_MIN_MS ? SWIM_REAP_SWEEP_MIN_MS : sweep);
    for (size_t i = s->n_all; i-- > 0;) {
        struct swim_member *m = s->all[i];
        if (is_live(m->status) || now - m->status_since < s->cfg.reap_ms)
            continue;
        notify_member(s, SWIM_EV_MEMBER_REAPED, m);
        member_remove(s, m);
    }
}

int swim_handle_timer(struct swim *s, const struct swim_timer *t, uint64_t now)
{
    if (t == NULL)
        return ERR_INVAL;
    if (s->state != SWIM_STATE_RUNNING && s->state != SWIM_STATE_LEAVING)
        return 0;
    switch (t->kind) {
    case SWIM_TIMER_PROBE:
        if (t->token == s->epoch)
            on_probe_tick(s, now);
        break;
    case SWIM_TIMER_PROBE_TIMEOUT:
        on_probe_timeout(s, (uint32_t)t->token);
        break;
    case SWIM_TIMER_RELAY:
        on_relay_timeout(s, (uint32_t)t->token);
        break;
    case SWIM_TIMER_SUSPECT:
        on_suspect_timer(s, t, now);
        break;
    case SWIM_TIMER_SUSPECT_CHECK:
        on_suspect_check(s, t);
        break;
    case SWIM_TIMER_GOSSIP:
        if (t->token == s->epoch)
            on_gossip(s);
        break;
    case SWIM_TIMER_SYNC:
    case SWIM_TIMER_RECONNECT:
        if (t->token == s->epoch)
            on_sync(s, t->kind == SWIM_TIMER_RECONNECT, t->arg32 == 1);
        break;
    case SWIM_TIMER_REAP:
        if (t->token == s->epoch)
            on_reap(s, now);
        break;
    case SWIM_TIMER_LEAVE:
        if (t->token == s->epoch && s->state == SWIM_STATE_LEAVING) {
            s->state = SWIM_STATE_IDLE;
            s->epoch++;
            notify_self(s, SWIM_EV_SELF_IDLE);
        }
        break;
    default:
        return ERR_INVAL;
    }
    return 0;
}

int swim_leave(struct swim *s, uint64_t now)
{
    (void)now;
    if (s->state != SWIM_STATE_RUNNING)
        return ERR_STATE;
    s->state = SWIM_STATE_LEAVING;
    s->self_status = SWIM_LEFT;
    queue_self(s);
    struct swim_member *to[SWIM_PICK_MAX];
    size_t n = pick_members(s, to, s->cfg.gossip_nodes, NULL, true);
    for (size_t i = 0; i < n; i++)
        send_simple(s, &to[i]->addr, WIRE_GOSSIP, 0, NULL, 0);
    submit(s, SWIM_TIMER_LEAVE, s->epoch, 0, s->cfg.leave_linger_ms);
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
        .origin = {.ptr = s->name, .len = s->name_len},
        .origin_gen = s->gen,
        .id = ++s->user_counter,
        .len = (uint16_t)len,
        .payload = payload,
    };
    uint8_t *p = s->body;
    int rc = wire_encode_user(&p, s->body + s->cfg.max_packet, &u);
    if (rc != 0)
        return rc;
    deliver_user(s, &u, s->body, (size_t)(p - s->body));
    return 0;
}

int swim_set_meta(struct swim *s, const uint8_t *meta, size_t len, uint64_t now)
{
    (void)now;
    if (len > SWIM_META_MAX)
        return ERR_TOOBIG;
    if (len > 0 && meta == NULL)
        return ERR_INVAL;
    uint8_t *n = NULL;
    if (len > 0) {
        n = malloc(len);
        if (n == NULL)
            return ERR_NOMEM;
        memcpy(n, meta, len);
    }
    free(s->meta);
    s->meta = n;
    s->meta_len = (uint16_t)len;
    /* A newer record, so peers replace the old meta; near the top of the
     * incarnation range a new generation instead. */
    if (s->inc >= UINT32_MAX - 1) {
        s->gen++;
        s->inc = 0;
    } else {
        s->inc++;
    }
    if (s->state == SWIM_STATE_RUNNING)
        queue_self(s);
    return 0;
}

int swim_force_leave(struct swim *s, const char *name, uint64_t now)
{
    if (name == NULL)
        return ERR_INVAL;
    size_t len = strlen(name);
    struct swim_member *m = len > 0 && len <= SWIM_NAME_MAX ? member_find(s, name, len) : NULL;
    if (m == NULL)
        return ERR_NOTFOUND;
    if (m->status != SWIM_FAILED)
        return ERR_STATE;
    member_set_status(s, m, SWIM_LEFT, now);
    queue_member(s, m, NULL);
    notify_member(s, SWIM_EV_MEMBER_LEFT, m);
    return 0;
}

void swim_self(const struct swim *s, struct swim_member_info *out)
{
    out->name = s->name;
    out->addr = s->addr;
    out->generation = s->gen;
    out->incarnation = s->inc;
    out->status = (enum swim_status)s->self_status;
    out->meta = s->meta;
    out->meta_len = s->meta_len;
    out->status_since = s->self_since;
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
    member_info(s->all[i], out);
    return 0;
}

int swim_member_find(const struct swim *s, const char *name, struct swim_member_info *out)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > SWIM_NAME_MAX)
        return ERR_NOTFOUND;
    const struct swim_member *m = member_find(s, name, len);
    if (m == NULL)
        return ERR_NOTFOUND;
    member_info(m, out);
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
    }
    return "unknown";
}

size_t swim_member_footprint(void)
{
    /* The entry, plus its pointers in the hash table (kept at most half
     * full, so up to two slots), the iteration array and the probe list. */
    return sizeof(struct swim_member) + 4 * sizeof(struct swim_member *);
}
