/*
 * swim_int.h - what the files of the core share and nobody else sees.
 *
 * The core is one state machine (struct swim) spread over files by job:
 *
 *   swim.c    the public API: configuration, lifecycle, local requests,
 *             reads; the protocol essay and the static checks on the limits
 *   table.c   the member table: 24-byte entries in segmented storage, hash
 *             by name, the shuffled probe list (also the iteration order),
 *             random picks, a member's record as a wire value
 *   handle.c  32-bit handles for what an entry refers to
 *   ident.c   member identities (name, address, generation), pooled
 *   queue.c   dissemination: the update queue by send count, piggybacking,
 *             and exactly-once delivery of user broadcasts (per-origin windows)
 *   send.c    building and sending datagrams: headers, one-record notices,
 *             whole tables, and the token buckets that limit table answers
 *   update.c  state changes from records: precedence, refutation, renewal,
 *             merge rules, and the notifications they raise
 *   probe.c   failure detection: probe slots (periodic, re-probes of suspects,
 *             readmission checks), indirect probes and the relay table,
 *             suspicion and its timeout, Lifeguard, and swimd's guard
 *   packet.c  one incoming datagram: validation, then one on_<type> handler
 *             per datagram type (on_ping, on_ack, ..., on_sync)
 *   timer.c   timers: submitting, arming, dispatching to the on_<kind>_timer
 *             handlers, and the gossip rounds and reaping
 *   stats.c   counters beyond an increment: datagrams by type, probe round
 *             trips
 *   sync.c    anti-entropy: table digests, the exchanges that repair what
 *             differs, and their pace
 *   direct.c  direct messages: sending (and through relays), forwarding as
 *             a relay, delivering each once
 *   coord.c   network coordinates: Vivaldi from probe round trips, the
 *             members' last coordinates, distances between them
 *
 * Naming, the one rule for every file of swim/: public symbols carry
 * swim_ (declared in swim.h); symbols shared between these files carry
 * swim__ (two underscores, libuv's uv__ habit) and are declared only here;
 * a function used in one file is static and carries no prefix, so it never
 * leaves that file and never collides with the public swim_member_* calls.
 * Handlers are named on_<wire type> for datagrams and on_<timer kind>_timer
 * for timers.
 *
 * Every bound of the core is listed here, each with its reason.
 */
#ifndef SWIM_SWIM_INT_H
#define SWIM_SWIM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hash.h"
#include "prng.h"
#include "swim.h"
#include "wire.h"

/* ------------------------------------------------------ bounds, tunables */
/* Relayed probes a helper tracks at once; further PING_REQs are dropped. */
#define SWIM_RELAY_MAX 64
/* Queued updates; beyond this the most-sent one is dropped first. */
#define SWIM_QUEUE_MAX 8192
/* Ceiling on sends per update (retransmit_mult * ceil(log10(N + 1)) stays
 * far below it: 10 * 7 for a million members); one queue bucket per count. */
#define SWIM_TX_MAX 96
/* Fewest sends per update, whatever N and the mult (queue.c says why). */
#define SWIM_RETRANSMIT_MIN 8
/* Sends of a member first heard of by gossip while this node is learning
 * members from tables (sync.c): when thousands join at once, the tables
 * carry every member to every node, and each node re-gossiping each joiner
 * it happened to hear of first, retransmit_limit times, was an O(N^2) tail
 * that outlasted convergence by half a minute.  Two sends still seed the
 * tables' epidemic.  swimsim, 3,000 nodes joining at once (lan, 100
 * periods): 1, 2, 4, 8 and 16 (the full count) sends gave convergence in
 * 5.5, 2.2, 2.0, 2.0 and 2.2 s with 1,118, 1,325, 2,545, 4,602 and 5,494
 * bytes per node per second over the run. */
#define SWIM_LEARN_SENDS 2
/* New members one gossip datagram must bring to quicken anti-entropy
 * (sync.c) on a node not yet learning: a single join into a settled
 * cluster brings one, which gossip carries on its own (quickening for it
 * would cost every node about seven extra exchanges per join), while
 * nodes in a mass join hear of several at once.  swimsim, 3,000 nodes: 2
 * converged in 2.21 s against 1 in 2.27 s, 1,000 nodes 1.81 s both. */
#define SWIM_LEARN_GOSSIP_MIN 2
/* Queued items tried in vain for one datagram before giving up on filling
 * it: bounds the per-packet work when the queue is long and the room short. */
#define SWIM_PIGGYBACK_MISSES 16
/* User broadcasts queued at once: a broadcast storm must not evict the
 * membership updates (refutations above all) that share the queue. */
#define SWIM_QUEUE_USER_MAX 1024
/* Exactly-once delivery keeps, per origin (name and generation), a window
 * of this many ids below the highest one seen; ids below it count as seen.
 * Eight times the user queue: an id that one node still queues trails the
 * newest id of its origin by at most the broadcasts queued ahead of it
 * along the path it travelled (see queue.c). */
#define SWIM_USER_WINDOW (8 * SWIM_QUEUE_USER_MAX)
/* Origins remembered at once (1 KiB of window each); beyond it the one
 * unheard from longest is forgotten. */
#define SWIM_ORIGINS_MAX 256
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
/* Distinct members remembered per suspicion: the accuser and up to seven
 * confirmations (Lifeguard's k is suspicion_mult - 2, 4 at most with the
 * shipped profiles; the confirmations beyond k shorten the timeout toward
 * SWIM_SUSPECT_FLOOR_PCT when reprobe is on).  16-bit hashes of the names:
 * a collision can only undercount. */
#define SWIM_CONFIRM_MAX 8
/* The shortest suspicion, in percent of a probe interval, reached with
 * SWIM_CONFIRM_MAX - 1 independent confirmations: longer than a suspect
 * needs to hear of it and refute through a pause of one and a half periods
 * (the suspect is told at once, and a refutation reaches N = 100 members in
 * about half a period), so only a member silent to many can be condemned
 * this fast. */
#define SWIM_SUSPECT_FLOOR_PCT 250
/* reprobe in the profiles: about six holders of a new suspicion probe the
 * suspect, so with the accuser's own and the periodic probes a crashed
 * member collects the seven confirmations of the floor within about a
 * period, while a healthy one, answering them, collects none. */
#define SWIM_REPROBE_DEFAULT 6
/* The lan profile's direct-ping timeout: a LAN answers in well under a
 * millisecond, and with the helpers' window after it a probe is judged
 * 0.6 s after it began, so the first suspicion of a crash comes sooner
 * than memberlist's (500 ms, judged at the end of the period). */
#define SWIM_LAN_TIMEOUT_MS 300
/* Probes in flight at once: the periodic one (two while a stretched one is
 * still being judged), re-probes of suspects and readmission checks. */
#define SWIM_PROBES_MAX 8
/* A member that refuted a suspicion (or renewed after one) is probed with a
 * window one period longer for this many periods: it was slow or paused, and
 * waiting for its late answer costs a period of detection, where a second
 * accusation costs the cluster a suspicion. */
#define SWIM_STRETCH_PERIODS 300
/* guard: a node none of whose probes was answered in time (by an ACK or a
 * NACK) for this many (health-scaled) probe intervals does not trust its
 * own verdicts: a node that hears gets an answer to nearly every probe. */
#define SWIM_HEARD_PERIODS 2
/* FAILED notices sent to subjects per received SYNC/FEED datagram, so a
 * single datagram cannot make us send a burst. */
#define SWIM_NOTICES_PER_PACKET 8
/* Generations.  The agent takes wall-clock milliseconds (about 2^40.6 in
 * 2024), the simulated world a counter.  No single record may push one
 * near the ceiling, or its subject could never renew past it: a record
 * more than SWIM_GEN_JUMP above the generation held (35 years of
 * milliseconds) is ignored, about a known member and about this node
 * alike; a member first seen must lie at or below SWIM_GEN_FIRST_MAX; and
 * nothing exceeds SWIM_GEN_MAX, which JSON carries exactly (int64).  From
 * the first-seen bound, reaching the ceiling takes 2^22 accepted jumps. */
#define SWIM_GEN_MAX SWIM_GENERATION_MAX
#define SWIM_GEN_FIRST_MAX SWIM_GENERATION_START_MAX
#define SWIM_GEN_JUMP (1ull << 40)
/* Records of one datagram whose lookups are started together (update.c,
 * table.c): a 1400-byte datagram of swimsim's records holds a few dozen;
 * records beyond the first 64 are looked up without the head start. */
#define SWIM_PREFETCH_MAX 64
/* Member entries are stored in segments that never move (so a member's
 * address is fixed while it lives): the first holds SWIM_STORE_SEG0, each
 * next one twice as many, the last only up to max_members; enough of them
 * for SWIM_MEMBERS_LIMIT.  A small table wastes little, a large one needs
 * few segments. */
#define SWIM_STORE_SEG0 16
#define SWIM_STORE_SEGS 17
_Static_assert(((uint64_t)SWIM_STORE_SEG0 << SWIM_STORE_SEGS) - SWIM_STORE_SEG0 >=
                   SWIM_MEMBERS_LIMIT,
               "the segments hold SWIM_MEMBERS_LIMIT members");
/* First size of the member hash table (a power of two; kept at most three
 * quarters full, so up to 48 members never rehash). */
#define SWIM_SLOTS_MIN 64
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
/* Anti-entropy digests (sync.c) aim at this many live members per bucket,
 * so that a difference costs the records of a few members, with at most
 * 2^SWIM_SYNC_LOG2_MAX buckets: 64 bytes of sums, the largest digest a node
 * sends once per sync interval, 2 bytes a second on the lan profile, so a
 * node's idle traffic stays within a few percent of its probes' whatever
 * N.  At 10,000 members a difference then costs one sixteenth of the table,
 * once, where memberlist's push-pull sends all of it every interval. */
#define SWIM_SYNC_BUCKET_MEMBERS 8
#define SWIM_SYNC_LOG2_MAX 4
/* Minimum gap between two "you are failed" notices, or two readmission
 * checks (guard), to the same member; the gap between readmission checks
 * doubles with each one unanswered, up to 2^SWIM_READMIT_BACKOFF_MAX times
 * (32 s): a member reachable from few peers keeps knocking, and every
 * knock would cost each of its peers a ping. */
#define SWIM_NOTICE_GAP_MS 1000
#define SWIM_READMIT_BACKOFF_MAX 5
/* Anti-amplification, after QUIC (RFC 9000 section 8.1): what one datagram
 * from a source not yet proven to receive at its address makes us send, to
 * anyone, is at most SWIM_AMPLIFY_MAX times its size; further datagrams are
 * not sent (answers_capped) and piggyback shrinks to fit.  A source is
 * proven when it is a member we know at that address, or when its join
 * request echoes a cookie we sent there: a keyed hash of the address and
 * the current SWIM_COOKIE_PERIOD_MS slot (the one before is accepted too).
 * The hash is anti-spoofing, not authentication: an attacker who cannot
 * read traffic to an address cannot learn its cookie. */
#define SWIM_AMPLIFY_MAX 3
#define SWIM_COOKIE_PERIOD_MS 10000
/* Seeds a joiner remembers having announced to, for one cookie period: a
 * cookie is echoed once per announce, and in full only to the address
 * announced to; from elsewhere (a seed on a multi-homed host answering from
 * another address, or a forger) the echo is held to the amplification
 * limit.  The agent tries at most 16 seeds per attempt. */
#define SWIM_ANNOUNCED_MAX 16

/* Direct messages (direct.c): sends and relay forwards allowed in a burst,
 * refilled one per REFILL_MS (500 a second: every member of a large
 * cluster answering one query, while a forged flood of relay requests
 * cannot make a node send more than that); and the messages remembered per
 * node to deliver each once though relays bring copies: the copies of one
 * message arrive within a relay hop of each other, so the last 128 cover
 * a burst of 128 messages in that time (2 KiB per instance, which
 * simulated worlds of thousands of nodes multiply; the query module
 * dedupes its replies again, by responder). */
#define SWIM_DIRECT_BURST 256
#define SWIM_DIRECT_REFILL_MS 2
#define SWIM_DIRECT_SEEN 128

/* Unknown senders we recently asked for their record, and for how long we
 * do not ask again: a joiner and an older member that missed its record find
 * each other on first contact instead of waiting for anti-entropy. */
#define SWIM_ASKED_MAX 16
#define SWIM_ASK_GAP_MS 1000

/* Round trips per member whose median feeds a coordinate update: Serf's
 * latency filter, so one late answer does not move us. */
#define SWIM_COORD_FILTER 3
/* Residuals in Serf's adjustment window: enough to average out noise, few
 * enough to follow a path that changes within a minute of probes. */
#define SWIM_COORD_ADJUST_WINDOW 20

/* ------------------------------------------------------------- the state */

/* What this node keeps of a member's network position (coord.c), apart
 * from the member entry: only members that talk to us directly have one,
 * and the entry stays small for the many that do not. */
struct swim_coord_peer {
    struct swim_coord coord;            /* the last it sent, when known */
    uint16_t rtt_ms[SWIM_COORD_FILTER]; /* its latest round trips */
    uint8_t samples, next;
    bool known;
};

enum swim_state {
    SWIM_STATE_NEW,
    SWIM_STATE_RUNNING,
    SWIM_STATE_LEAVING,
    SWIM_STATE_IDLE,
};

/* What not every member needs, kept out of the entry so that the many
 * that never need it stay small (every node of a simulated world holds
 * every member): suspicion, notices and readmission (probe.c, packet.c,
 * update.c), the round trip and coordinates of members probed directly
 * (stats.c, coord.c), and tags (meta).  Allocated at the first write of
 * any of it, freed with the member; until then it reads as
 * swim__rare_none: zeros, srtt_us SWIM_RTT_UNKNOWN. */
struct swim_rare {
    uint64_t uid; /* taken at the first suspicion; never reused within an instance:
                     stale SUSPECT timers check it (0: never suspected) */
    uint64_t suspect_deadline;
    uint64_t notice_at;
    uint64_t refuted_at;           /* when it last refuted or renewed (probe_retry stretches) */
    uint64_t verified_gen;         /* guard: a generation it proved it answers at (readmission) */
    struct swim_coord_peer *coord; /* coord.c: allocated with its first coordinate */
    uint32_t srtt_us; /* smoothed direct-probe round trip; SWIM_RTT_UNKNOWN: none at gen */
    uint32_t suspect_epoch;
    uint8_t *meta; /* its tags (SWIM_META_MAX bytes at most), or NULL */
    uint16_t meta_len;
    uint16_t confirm[SWIM_CONFIRM_MAX]; /* [0] the accuser, then distinct confirmers */
    uint8_t confirms;
    uint8_t readmit_tries; /* guard: readmission checks unanswered in a row */
};

/* A member's identity: its name, the address it is reached at and its
 * generation, immutable once made, interned in a pool (ident.c) that is
 * the instance's own or shared by instances.  refs counts its holders
 * (member entries, self); `handle` names it in the pool. */
struct swim_ident {
    uint64_t hash; /* hash_fnv1a of the name: its place in the member table */
    uint64_t gen;
    uint32_t refs;
    uint32_t handle;
    uint8_t name_len;
    struct swim_addr addr;
    char name[]; /* name_len bytes and a NUL */
};

/* Handles (handle.c): a 32-bit name for a heap object a member entry
 * refers to; at[h - 1] is handle h's object, 0 names none. */
struct swim_handles {
    void **at;
    uint32_t cap;
    uint32_t free; /* a free handle, 0: none; a free place links the next */
};

/* An identity pool (ident.c): the identities by a hash of all three
 * fields, and their handles. */
struct swim_idpool {
    struct idpool_slot *slots;
    size_t cap, n;
    struct swim_handles ids;
};

/* A member entry: what every member needs, 24 bytes in the table's
 * storage (no allocation of its own; a simulated world of 10,000 nodes
 * holds 10^8 of them).  Its name, address and generation are its
 * identity's; its queued record, rare state and identity are named by
 * handles, not pointers.  A free entry of the storage chains the next
 * free one through `inc`. */
struct swim_member {
    uint32_t since_lo;      /* status_since (swim__since), low 32 bits */
    uint32_t since_hi : 24; /* and the 24 above them: 2^56 ms */
    uint32_t status : 8;
    uint32_t queued; /* its record waiting to be gossiped (s->bcasts), 0: none */
    uint32_t rare;   /* its rare state (s->rares), 0: none yet */
    uint32_t id;     /* its identity (s->ids); another one when it changes */
    uint32_t inc;
};

/* A queued update: an encoded item body, in the bucket of its send count. */
struct swim_bcast {
    struct swim_bcast *next, *prev;
    uint32_t *owner; /* the member's (or self's) handle of it; NULL for user items */
    uint32_t handle; /* its handle in s->bcasts (0 for user items) */
    uint32_t tx;
    uint16_t len;
    uint8_t kind;
    uint8_t data[];
};

/* What a probe is for. */
enum swim_probe_kind {
    SWIM_PROBE_PERIODIC, /* this period's member of the round */
    SWIM_PROBE_CHECK,    /* reprobe: a suspect others accuse */
    SWIM_PROBE_READMIT,  /* guard: a failed member's new generation, before taking it */
};

/* One probe in flight. */
struct swim_probe {
    struct swim_member *target; /* NULL: the slot is free */
    uint64_t gen;               /* the target's generation (READMIT: the new one) */
    uint64_t judge_at;
    uint32_t inc; /* its incarnation when the probe began */
    uint32_t seq;
    uint32_t nacks, expected_nacks;
    uint64_t sent_at; /* `now` of its first ping: the round trip's start */
    uint8_t kind;
    uint8_t timer;  /* kind of its pending timer (PROBE_TIMEOUT, then JUDGE), 0: none */
    bool stretched; /* probe_retry: the target refuted lately */
    struct swim_addr addr;
};

struct swim_relay {
    bool used;
    bool retried; /* its second ping went (probe_retry): no RELAY timer 1 pending */
    uint32_t local_seq;
    uint32_t origin_seq;
    struct swim_addr origin;
    uint8_t target_len;
    char target[SWIM_NAME_MAX];
    struct swim_addr target_addr;
    uint64_t target_gen;
};

struct swim {
    struct swim_config cfg;
    struct swim_runtime rt;
    enum swim_state state;
    struct prng rng;
    uint64_t epoch;
    uint64_t next_uid;

    /* This node's own record, kept in the shape of a member's (its rare
     * state holds its tags; it is in no index, and not in the storage). */
    struct swim_member *self;
    bool active;

    /* members */
    uint32_t *slots; /* hash table by name, power-of-two size (table.c) */
    size_t slot_cap;
    struct swim_member *store[SWIM_STORE_SEGS]; /* entries; segment k holds SWIM_STORE_SEG0 << k */
    uint32_t n_store;                           /* entries ever handed out */
    uint32_t store_free;                        /* a free entry's index plus one; 0: none */
    /* Every member's entry (by index), in this probe round's order: the
     * probe list is also the table's iteration order (table.c). */
    uint32_t *probe;
    size_t n_all, probe_cap, probe_cursor;
    size_t n_active;
    size_t n_failed; /* members held FAILED (the reconnect exchange looks for one) */
    /* During a reap sweep that removes many members, each entry's place in
     * the probe list, by entry index (table.c), so that a removal finds
     * its place at once; NULL otherwise (a removal scans the list). */
    uint32_t *probe_pos;
    struct swim_idpool *ids;     /* identities: the runtime's shared pool, or own_ids */
    struct swim_idpool *own_ids; /* this instance's own pool, or NULL */
    struct swim_handles rares;   /* members' rare state */
    struct swim_handles bcasts;  /* queued member records */
    uint64_t probe_scanned;      /* probe list entries read by those scans (a test's bound) */

    /* probing */
    uint32_t seq;
    struct swim_probe probes[SWIM_PROBES_MAX];
    uint32_t health;
    uint64_t answered_at; /* guard: the last ACK or NACK to a probe still in flight */
    /* SWIM_RELAY_MAX relays, allocated at the first PING_REQ taken (10 KiB
     * that most instances of a simulated world never need), or NULL. */
    struct swim_relay *relays;

    /* dissemination */
    struct swim_bcast *bucket[SWIM_TX_MAX]; /* bucket[t]: items sent t times, newest first */
    struct swim_bcast *bucket_tail[SWIM_TX_MAX];
    size_t qn, q_user;
    struct swim_bucket {
        uint32_t tokens;
        uint64_t refill_at;
    } tables, joins;
    uint32_t user_counter;
    struct swim_origin **origins; /* exactly-once windows, SWIM_ORIGINS_MAX at most */
    size_t n_origins;
    uint64_t origin_clock; /* ticks on every delivery: the origins' LRU order */

    struct {
        uint64_t hash;
        uint64_t until;
    } asked[SWIM_ASKED_MAX];
    size_t asked_next;

    /* anti-entropy (sync.c) */
    uint32_t digest[1u << WIRE_DIGEST_LOG2_MAX]; /* live members' sums, kept as they change */
    struct {
        uint32_t every; /* delay of the SYNC timer armed now */
        uint32_t seq;   /* that timer's arg32; the others are stale */
        bool learned;   /* an exchange changed our table since it was armed */
        struct {
            uint64_t hash;  /* the name of the member asked */
            uint64_t until; /* its answer is taken until then, once */
        } asked[2];         /* [0] the periodic exchange, [1] reconnect */
    } sync;
    bool gossip_armed; /* a GOSSIP timer is pending (timer.c) */

    /* direct messages (direct.c) */
    uint32_t direct_id; /* the last id sent; starts at a random value */
    struct swim_bucket directs;
    struct {
        uint64_t origin; /* hash of the sender's name and generation; 0: free */
        uint32_t id;
    } direct_seen[SWIM_DIRECT_SEEN];
    size_t direct_seen_next;

    /* anti-amplification (packet.c, send.c) */
    uint64_t cookie_key[2];
    bool budgeted; /* handling a datagram from an unproven source ... */
    size_t budget; /* ... which may make us send this many more bytes */
    struct {
        struct swim_addr addr;
        uint64_t until;
    } announced[SWIM_ANNOUNCED_MAX]; /* seeds whose cookies we echo */
    size_t announced_next;

    /* network coordinates (coord.c) */
    struct {
        struct swim_coord self;
        double residual[SWIM_COORD_ADJUST_WINDOW]; /* adjustment window */
        uint32_t next;
        struct prng rng; /* its own stream: the protocol's draws stay as they were */
    } coord;

    struct swim_stats stats;
    uint8_t *buf;  /* one outgoing datagram */
    uint8_t *body; /* scratch for one encoded item */
};

/* One outgoing datagram being filled (in s->buf). */
struct swim_pkt {
    uint8_t *p;
    uint8_t *end;
    uint8_t type; /* its wire type, for the counters */
};

/* A table (or part of one) being sent as datagrams of one type. */
struct swim_table_out {
    struct swim_pkt k;
    const struct swim_addr *to;
    size_t items; /* in the datagram being filled */
    uint8_t type;
    uint8_t flags; /* of the first datagram; WANT_REPLY is asked once */
};

/* How records from a datagram are applied. */
enum swim_apply_mode {
    SWIM_APPLY_GOSSIP,
    SWIM_APPLY_MERGE, /* SYNC or FEED: FAILED about a live member becomes SUSPECT */
};

/* ---------------------------------------------------- small shared helpers */

/* The rare state of a member that has none (table.c). */
extern const struct swim_rare swim__rare_none;

/* m's rare state, to read. */
/* The object of handle h (not 0) in table t (handle.c). */
static inline void *swim__handle_obj(const struct swim_handles *t, uint32_t h)
{
    return t->at[h - 1];
}

static inline const struct swim_rare *swim__rare_get(const struct swim *s,
                                                     const struct swim_member *m)
{
    return m->rare != 0 ? swim__handle_obj(&s->rares, m->rare) : &swim__rare_none;
}

/* m's rare state, to write, when it has one (m->rare != 0). */
static inline struct swim_rare *swim__rare_at(const struct swim *s, const struct swim_member *m)
{
    return swim__handle_obj(&s->rares, m->rare);
}

/* m's queued record, or NULL. */
static inline struct swim_bcast *swim__queued(const struct swim *s, const struct swim_member *m)
{
    return m->queued != 0 ? swim__handle_obj(&s->bcasts, m->queued) : NULL;
}

/* m's identity: name, address, generation. */
static inline const struct swim_ident *swim__id(const struct swim *s, const struct swim_member *m)
{
    return swim__handle_obj(&s->ids->ids, m->id);
}

/* When m's status was set (`now` of that call; times the core is given
 * stay below 2^56 ms, beyond which they are held at the largest). */
static inline uint64_t swim__since(const struct swim_member *m)
{
    return (uint64_t)m->since_hi << 32 | m->since_lo;
}

static inline void swim__set_since(struct swim_member *m, uint64_t t)
{
    if (t >> 56 != 0)
        t = (1ull << 56) - 1;
    m->since_lo = (uint32_t)t;
    m->since_hi = (uint32_t)(t >> 32) & 0xFFFFFFu;
}

static inline bool swim__is_live(uint8_t status)
{
    return status == SWIM_ALIVE || status == SWIM_SUSPECT;
}

/* Cluster size N as the formulas use it: live members plus this node. */
static inline size_t swim__cluster_n(const struct swim *s)
{
    return s->n_active + 1;
}

/* Copy a decoded address into a member or relay: only its len bytes (the
 * rest of a decoded address is left indeterminate by the codec). */
static inline void swim__addr_copy(struct swim_addr *out, const struct swim_addr *in)
{
    out->len = in->len;
    memcpy(out->bytes, in->bytes, in->len);
}

/* The same address (len bytes; the rest of a decoded one is indeterminate). */
static inline bool swim__addr_equal(const struct swim_addr *a, const struct swim_addr *b)
{
    return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

/* A generation one above gen, within the ceiling: false (gen unchanged)
 * when gen is already at it, which only 2^22 accepted jumps can cause. */
static inline bool swim__gen_next(uint64_t *gen)
{
    if (*gen >= SWIM_GEN_MAX)
        return false;
    (*gen)++;
    return true;
}

/* May a record with generation `gen` replace one with `held`?  Not when it
 * jumps too far (see SWIM_GEN_JUMP). */
static inline bool swim__gen_plausible(uint64_t gen, uint64_t held)
{
    return gen <= SWIM_GEN_MAX && (gen <= held || gen - held <= SWIM_GEN_JUMP);
}

/* The hash of m's name: its place in the table, its digest bucket. */
static inline uint64_t swim__name_hash(const struct swim *s, const struct swim_member *m)
{
    return swim__id(s, m)->hash;
}

static inline bool swim__name_is(const struct wire_name *n, const char *name, size_t len)
{
    return n->len == len && memcmp(n->ptr, name, len) == 0;
}

/* The entry at index i of the storage (table.c). */
static inline struct swim_member *swim__entry(const struct swim *s, uint32_t i)
{
    uint32_t v = i + SWIM_STORE_SEG0;
    unsigned k = 31u - (unsigned)__builtin_clz(v) - (unsigned)__builtin_ctz(SWIM_STORE_SEG0);
    return &s->store[k][v - ((uint32_t)SWIM_STORE_SEG0 << k)];
}

/* Entry i (< n_store) of the storage when a member holds it, else NULL (a
 * free entry has no identity).  Walking the storage in index order visits
 * every member once, in memory order (where the probe order jumps about
 * it), and removing the member it stands on moves no other. */
static inline struct swim_member *swim__entry_used(const struct swim *s, uint32_t i)
{
    struct swim_member *m = swim__entry(s, i);
    return m->id != 0 ? m : NULL;
}

/* The i-th member in this round's probe order (i < n_all). */
static inline struct swim_member *swim__member_at(const struct swim *s, size_t i)
{
    return swim__entry(s, s->probe[i]);
}

/* ------------------------------------------------------ handle.c */

/* A handle for obj (not NULL), or 0 when out of memory. */
uint32_t swim__handle_put(struct swim_handles *t, void *obj);
/* Handle h is free again. */
void swim__handle_drop(struct swim_handles *t, uint32_t h);
void swim__handles_destroy(struct swim_handles *t);

/* ------------------------------------------------------ ident.c */

/* The identity (name[0..len), addr, gen) in pool p, with one more
 * reference.  NULL when out of memory. */
const struct swim_ident *swim__ident_get(struct swim_idpool *p, const char *name, uint8_t len,
                                         const struct swim_addr *addr, uint64_t gen);
/* Drop one reference to id (from pool p); the last frees it.  NULL:
 * nothing. */
void swim__ident_put(struct swim_idpool *p, const struct swim_ident *id);
/* This node's own record at generation gen (a new identity): 0, or
 * ERR_NOMEM with nothing changed. */
int swim__self_set_gen(struct swim *s, uint64_t gen);

/* ------------------------------------------------------ table.c */

/* The hash table's first slots; 0 or ERR_NOMEM.  Destroy frees every
 * member (the queue must be emptied first: its items point into members). */
int swim__table_create(struct swim *s);
void swim__table_destroy(struct swim *s);
/* The member named name[0..len), or NULL. */
struct swim_member *swim__member_find(const struct swim *s, const char *name, size_t len);
/* Start reading, all at once, what finding these members (at most
 * SWIM_PREFETCH_MAX: a datagram's records) will read one after another:
 * their hash slots, then the entries, then their identities.  A hint
 * to the processor only; it changes nothing. */
void swim__member_prefetch(const struct swim *s, const struct wire_name *names, size_t n);
/* The member named by a NUL-terminated string (the public reads), or NULL. */
struct swim_member *swim__member_named(const struct swim *s, const char *name);
/* Reserve room for one more member in every index: 0, ERR_LIMIT (the table
 * holds max_members, all live; counted in members_refused; at the bound the
 * oldest tombstone is evicted instead, notified as reaped) or ERR_NOMEM.
 * Insertion after a successful reserve cannot fail half-way. */
int swim__member_reserve(struct swim *s);
/* A new member from its record; NULL when out of memory. */
struct swim_member *swim__member_insert(struct swim *s, const struct wire_member *r, uint64_t now);
/* m's rare state, to write: allocated at first use (as swim__rare_none
 * reads); NULL when out of memory, and the caller then changes nothing. */
struct swim_rare *swim__rare_of(struct swim *s, struct swim_member *m);
/* Is a notice to (or readmission check of) m due at `now`?  Then the next
 * one is due `gap` ms later.  False when not due, or out of memory. */
bool swim__notice_take(struct swim *s, struct swim_member *m, uint64_t gap, uint64_t now);
/* Free what a member (or s->self) owns, not the entry itself; it must be
 * in no index. */
void swim__member_release(struct swim *s, struct swim_member *m);
/* Unlink from every index, drop its queued record, free it. */
void swim__member_remove(struct swim *s, struct swim_member *m);
/* Around many removals in a row, with no insertion between (a reap sweep):
 * begin builds the probe list's place map that makes each removal O(1)
 * instead of a scan of the list, end frees it.  begin returns false (and
 * end need not be called, though it may be) when there is nothing to map
 * or no memory for it; removals then scan, with the same result. */
bool swim__member_sweep_begin(struct swim *s);
void swim__member_sweep_end(struct swim *s);
/* 1 when the meta changed, 0 when equal, ERR_NOMEM. */
int swim__member_set_meta(struct swim *s, struct swim_member *m, const uint8_t *meta, uint16_t len);
/* Set the status, keeping n_active, status_since and the digest right. */
void swim__member_set_status(struct swim *s, struct swim_member *m, uint8_t status, uint64_t now);
/* Set identity (name, address, generation: id, whose reference m takes
 * over), incarnation and status from a record taken. */
void swim__member_set_record(struct swim *s, struct swim_member *m, const struct swim_ident *id,
                             uint32_t inc, uint8_t status, uint64_t now);
void swim__member_info(const struct swim *s, const struct swim_member *m,
                       struct swim_member_info *out);
/* Does every index agree (each member in the probe list once, found by its
 * name, every other entry of the storage free once, the counts right)?
 * For the tests. */
bool swim__table_consistent(const struct swim *s);
/* The member a SUSPECT/SUSPECT_CHECK timer names (its rare state held),
 * or NULL. */
struct swim_member *swim__member_by_timer(const struct swim *s, const struct swim_timer *t);
/* Up to k (<= SWIM_PICK_MAX) distinct random members other than not1. */
size_t swim__pick_members(struct swim *s, struct swim_member **out, size_t k,
                          const struct swim_member *not1, bool with_suspects);
/* The next live member of the probe round (reshuffled at its end), or NULL. */
struct swim_member *swim__probe_next(struct swim *s);
/* A member's (or s->self's) record as a wire value; pointers into the
 * member stay valid until it changes. */
void swim__member_to_wire(const struct swim *s, const struct swim_member *m,
                          struct wire_member *out);
/* The index of entry m in the storage (the hint suspicion timers carry). */
uint32_t swim__entry_index(const struct swim *s, const struct swim_member *m);

/* ------------------------------------------------------ queue.c */

/* Free every queued item and every exactly-once window. */
void swim__queue_destroy(struct swim *s);
/* Drop one queued item. */
void swim__queue_free(struct swim *s, struct swim_bcast *b);
/* Queue a record; *owner names the one it replaces.  Out of memory or too
 * big to encode: not queued (anti-entropy repairs it). */
void swim__queue_member_record(struct swim *s, const struct wire_member *r, uint32_t *owner);
/* Queue m's (or s->self's) current record, with `by` when not NULL. */
void swim__queue_member(struct swim *s, struct swim_member *m, const struct wire_name *by);
/* Count a queued item as sent all but `sends` times: it goes out that many
 * more times, after every other item (fewer already left: unchanged). */
void swim__queue_demote(struct swim *s, struct swim_bcast *b, uint32_t sends);
/* Fill the rest of the datagram with queued items, least-sent first. */
void swim__pkt_piggyback(struct swim *s, struct swim_pkt *k);
/* Deliver a user broadcast once (notify, queue it on); body is its encoded
 * item.  Already seen: nothing. */
void swim__deliver_user(struct swim *s, const struct wire_user *u, const uint8_t *body, size_t len);
/* Notify the runtime of u as a `type` notification (SWIM_EV_USER, or
 * SWIM_EV_DIRECT), its origin NUL-terminated. */
void swim__notify_user(struct swim *s, enum swim_event type, const struct wire_user *u);

/* ------------------------------------------------------ send.c */

/* Start a datagram in s->buf: header (with a destination when dst != NULL). */
void swim__pkt_begin(struct swim *s, struct swim_pkt *k, uint8_t type, uint8_t flags,
                     const char *dst, uint8_t dst_len, uint64_t dst_gen, uint32_t seq);
void swim__pkt_send(struct swim *s, const struct swim_addr *to, const struct swim_pkt *k);
/* A header plus piggybacked items. */
void swim__send_simple(struct swim *s, const struct swim_addr *to, uint8_t type, uint8_t flags,
                       const struct swim_member *dst, uint32_t seq);
/* A datagram of `type` carrying exactly one record, then (with piggyback)
 * queued items.  0, or ERR_INVAL when the record does not fit. */
int swim__send_record(struct swim *s, const struct swim_addr *to, uint8_t type, uint8_t flags,
                      const struct wire_member *r, bool piggyback);
/* A GOSSIP carrying exactly one record (a suspicion or failure notice). */
void swim__send_notice(struct swim *s, const struct swim_addr *to, const struct wire_member *r);
/* Our current record straight back to `from` (nothing when NULL). */
void swim__answer_self(struct swim *s, const struct swim_addr *from);
/* Append this node's coordinate (a COORD item) to a PING or ACK being
 * built; left out when it does not fit. */
void swim__pkt_put_coord(struct swim *s, struct swim_pkt *k);
/* A join request: our record, then (when not NULL) the seed's cookie. */
void swim__send_announce(struct swim *s, const struct swim_addr *to, const uint64_t *cookie);
/* The answer to a join request without a valid cookie: a FEED carrying
 * only the cookie the joiner must echo. */
void swim__send_cookie(struct swim *s, const struct swim_addr *to, uint64_t cookie);
/* A PING to a member named name[0..len) at generation gen; `suspect`, when
 * not NULL, is its suspicion, carried first (Lifeguard's buddy system). */
void swim__send_ping(struct swim *s, const struct swim_addr *to, const char *name, uint8_t len,
                     uint64_t gen, uint32_t seq, const struct swim_member *suspect);
/* Tell m it is suspected (at `to`, or its own address when NULL). */
void swim__tell_suspect(struct swim *s, const struct swim_member *m, const struct wire_name *by,
                        const struct swim_addr *to);
/* The table (self first) as `type` datagrams; only_live: a FEED. */
void swim__send_table(struct swim *s, const struct swim_addr *to, uint8_t type, uint8_t flags,
                      bool only_live, const struct swim_member *skip);
/* A table piece by piece: begin, put items (records, a digest), end.  A
 * full datagram is sent and the next begun as items come; end sends the
 * last one (nothing when it holds no item). */
void swim__table_begin(struct swim *s, struct swim_table_out *o, const struct swim_addr *to,
                       uint8_t type, uint8_t flags);
void swim__table_put(struct swim *s, struct swim_table_out *o, uint8_t kind, const uint8_t *body,
                     size_t len);
void swim__table_put_member(struct swim *s, struct swim_table_out *o, const struct swim_member *m);
void swim__table_end(struct swim *s, struct swim_table_out *o);
/* Take a token from b (burst, one more per refill_ms); false and counted
 * in tables_refused when empty. */
bool swim__bucket_take(struct swim *s, struct swim_bucket *b, uint32_t burst, uint64_t refill_ms,
                       uint64_t now);
/* The same, counting a refusal in *refused instead. */
bool swim__bucket_take_or(struct swim_bucket *b, uint32_t burst, uint64_t refill_ms, uint64_t now,
                          uint64_t *refused);
/* May we send a whole table now (the tight bucket)? */
bool swim__table_allowed(struct swim *s, uint64_t now);

/* ------------------------------------------------------ update.c */

void swim__notify_member(struct swim *s, enum swim_event ev, const struct swim_member *m);
void swim__notify_self(struct swim *s, enum swim_event ev);
/* Report SELF_ACTIVE / SELF_IDLE when "some live member is known" flips. */
void swim__check_active(struct swim *s);
/* Apply every item of an already validated item run; returns the members
 * it made known (an eviction at max_members may have made room for each). */
size_t swim__apply_items(struct swim *s, const uint8_t *p, const uint8_t *end,
                         enum swim_apply_mode mode, const struct swim_addr *from, uint64_t now);

/* ------------------------------------------------------ probe.c */

/* m just became SUSPECT, accused by `by` (NULL: by this node): arm its
 * deadline and mid-suspicion checks. */
void swim__start_suspicion(struct swim *s, struct swim_member *m, const struct wire_name *by,
                           uint64_t now);
/* A distinct member confirms m's suspicion: shorten its deadline.  True
 * when the confirmation is new (worth passing on). */
bool swim__add_confirmation(struct swim *s, struct swim_member *m, const struct wire_name *by,
                            uint64_t now);
/* guard: a FAILED record by `by` about m, which we hold SUSPECT: a
 * confirmation that also brings our deadline to the floor. */
void swim__confirm_verdict(struct swim *s, struct swim_member *m, const struct wire_name *by,
                           uint64_t now);
/* reprobe: m has just become suspect here on another's word: probe it
 * ourselves with probability reprobe / (N - 1). */
void swim__reprobe(struct swim *s, struct swim_member *m, uint64_t now);
/* guard: m is FAILED here and says it lives at generation gen, reachable at
 * addr: ping it there before believing it (checks spaced as
 * SWIM_READMIT_BACKOFF_MAX says). */
void swim__readmit(struct swim *s, struct swim_member *m, uint64_t gen,
                   const struct swim_addr *addr, uint64_t now);
/* An ACK (header h; relayed: the body naming the target a helper reached,
 * or NULL for the target's own; from: where it came from; coord: the
 * coordinate it carried, or NULL): true when it answers one of our probes.
 * A direct answer is timed (RTT, coordinate) only from the probed address. */
bool swim__probe_answered(struct swim *s, const struct wire_header *h,
                          const struct wire_peer *relayed, const struct swim_addr *from,
                          const struct swim_coord *coord, uint64_t now);
/* A helper's NACK for probe `seq`. */
void swim__probe_nacked(struct swim *s, uint32_t seq, uint64_t now);
/* m is being removed: forget the probes of it. */
void swim__probe_forget(struct swim *s, const struct swim_member *m);
/* As a helper: ping `target` for `origin`'s probe origin_seq.  Dropped when
 * the relay table is full. */
void swim__relay_start(struct swim *s, const struct swim_addr *origin, uint32_t origin_seq,
                       const struct wire_peer *target);
/* A direct ACK (header h) that may answer a relayed ping: forward it. */
void swim__relay_answered(struct swim *s, const struct wire_header *h);
void swim__on_probe_timer(struct swim *s, uint64_t now);
void swim__on_probe_timeout_timer(struct swim *s, uint32_t seq, uint64_t now);
void swim__on_judge_timer(struct swim *s, uint32_t seq, uint64_t now);
void swim__on_relay_timer(struct swim *s, uint32_t seq, bool retry);
void swim__on_suspect_timer(struct swim *s, const struct swim_timer *t, uint64_t now);
void swim__on_suspect_check_timer(struct swim *s, const struct swim_timer *t);

/* ------------------------------------------------------ timer.c */

void swim__submit(struct swim *s, uint32_t kind, uint64_t token, uint32_t arg32, uint64_t delay);
/* Tell the runtime that the pending timer submitted with these values is no
 * longer wanted (nothing when it has no cancel hook); it may still come
 * back, and must then be ignored as stale. */
void swim__cancel(struct swim *s, uint32_t kind, uint64_t token, uint32_t arg32);
/* A timer about m's suspicion (uid, epoch, and its index as the hint). */
void swim__submit_suspicion(struct swim *s, uint32_t kind, const struct swim_member *m,
                            uint64_t delay);
/* Arm the periodic timers of a new epoch (swim_start). */
void swim__timers_start(struct swim *s);
/* Something was queued: if no gossip round is pending, run one at once
 * (through a timer with no delay), then every gossip_interval while the
 * queue holds anything. */
void swim__gossip_wake(struct swim *s);
/* One gossip round of its own, at once (after the current call returns),
 * beside the periodic ones: for a joiner, once active. */
void swim__gossip_now(struct swim *s);

/* ------------------------------------------------------ sync.c */

/* Arm the periodic exchange (swim_start). */
void swim__sync_start(struct swim *s);
/* A datagram brought us members we did not know (or this node became
 * active): exchange again soon. */
void swim__sync_soon(struct swim *s);
/* Is this node learning members: its exchanges at the fast pace, because
 * the latest datagrams brought members it did not know? */
bool swim__sync_learning(const struct swim *s);
/* m's record enters (add) or leaves the digest sums: called by table.c
 * around every change of a member's generation, incarnation or status,
 * and at insertion and removal; a tombstone counts nothing. */
void swim__digest_member(struct swim *s, const struct swim_member *m, bool add);
/* Do the kept sums equal a full recount of the table?  For the tests. */
bool swim__digest_consistent(const struct swim *s);
/* The SYNC or RECONNECT timer. */
void swim__on_sync_timer(struct swim *s, const struct swim_timer *t, uint64_t now);
/* A SYNC datagram from `from` (header h, items [p, end), already applied;
 * sender: who sent it, found before they were applied, or NULL). */
void swim__on_sync(struct swim *s, const struct swim_addr *from, const struct wire_header *h,
                   const struct swim_member *sender, const uint8_t *p, const uint8_t *end,
                   uint64_t now);

/* ------------------------------------------------------ direct.c */

/* A DIRECT datagram (header h, items [p, end), already validated) from
 * `from`, sent by `sender` (known before its records applied, or NULL). */
void swim__on_direct(struct swim *s, const struct wire_header *h, const struct swim_member *sender,
                     const uint8_t *p, const uint8_t *end, uint64_t now);

/* ------------------------------------------------------ stats.c */

/* One datagram of wire type `type` (0: undecoded), len bytes, in or out. */
void swim__count_dgram(struct swim *s, bool out, uint8_t type, size_t len);
/* A direct probe answered: its ping went out at `sent`, the ACK came at now. */
void swim__count_rtt(struct swim *s, uint64_t sent, uint64_t now);
/* Folds one direct answer's round trip into m's smoothed RTT. */
void swim__member_rtt(struct swim *s, struct swim_member *m, uint64_t sent, uint64_t now);

/* ------------------------------------------------------ coord.c */

/* This node's coordinate: the origin, with the largest error; its PRNG
 * derived from the instance's seed. */
void swim__coord_init(struct swim *s, uint64_t seed);
/* A direct answer from m after rtt_ms, carrying its coordinate `theirs`:
 * one Vivaldi step of ours.  Ignored beyond SWIM_COORD_RTT_MAX_MS or for
 * a coordinate that is not valid. */
void swim__coord_sample(struct swim *s, struct swim_member *m, const struct swim_coord *theirs,
                        uint64_t rtt_ms);
/* m sent its coordinate c (valid): remember it (not when out of memory). */
void swim__coord_heard(struct swim *s, struct swim_member *m, const struct swim_coord *c);
/* m is another process now (a new generation), or is being freed: forget
 * its coordinate and its round trips. */
void swim__coord_forget(struct swim *s, struct swim_member *m);
/* A decoded coordinate, checked: 0 or ERR_MALFORMED (out of bounds). */
int swim__coord_from_wire(struct swim_coord *out, const struct wire_coord *in);
void swim__coord_to_wire(const struct swim *s, struct wire_coord *out);

#endif /* SWIM_SWIM_INT_H */
