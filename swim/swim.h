/*
 * swim.h - the SWIM membership protocol as a pure state machine.
 *
 * Model (after the Rust crate foca): a struct swim is one cluster member's
 * view of the cluster.  It never reads a clock, never touches a socket and
 * never calls rand(): the caller passes `now` (monotonic milliseconds) into
 * every call and a PRNG seed at creation, and the instance reaches the world
 * only through the struct swim_runtime it was created with:
 *
 *   notify(n)              a membership change or a user broadcast
 *   send_to(addr, buf, n)  put one datagram on the wire
 *   submit_after(t, ms)    hand timer t back through swim_handle_timer()
 *                          after ms milliseconds
 *   cancel(t)              optional (may be NULL): forget the pending
 *                          timers equal to t, so they are never handed back
 *
 * Every call into the instance may call back into the runtime, synchronously
 * and from the same thread, before it returns; the runtime must not call back
 * into the same instance from inside a callback.  Data handed to a callback
 * (datagram bytes, notification pointers) is valid only during that callback.
 * Every timer submitted must eventually be handed back (or dropped when the
 * instance is deleted, or cancelled); timers that no longer apply are
 * recognised and ignored, so the runtime never has to cancel anything.  It
 * may, though: an idle node's CPU cost is its wake-ups (each costs the
 * kernel's scheduler and timer programming far more than the protocol's own
 * work; tests/bench/RESULTS.md), and the commonest timer, a probe's deadline,
 * is moot once the probe is answered, often a millisecond after it was
 * armed.  The core calls cancel(t), with the value it submitted, for a timer
 * it knows is still pending and no longer wanted (a probe's PROBE_TIMEOUT
 * or JUDGE once the probe is answered or forgotten, a helper's RELAY once
 * the target answered).  The runtime
 * drops every pending timer equal to t in all its fields; a t that is not
 * pending (handed back already, cancelled before, never submitted) is no
 * error.  The core behaves the same with or without the hook, and whether
 * or not the runtime found the timer: a cancelled timer that comes back
 * anyway is ignored like any stale one.  cancel() is called from inside
 * calls into the instance, like the other callbacks.
 *
 * Identity: a name (unique in the cluster, 1..64 bytes), an address (opaque
 * bytes; the agent stores a family, IP and port), a generation that changes
 * whenever the node restarts or renews itself, and an incarnation the node
 * bumps to refute suspicion.  A record is ordered by (generation, incarnation,
 * status) with ALIVE < SUSPECT < FAILED < LEFT at equal incarnation; FAILED and
 * LEFT are final for a generation, so a node wrongly declared failed renews:
 * it takes generation + 1, and its new record supersedes the old one
 * everywhere (peers report it alive again, never as a duplicate).
 *
 * The protocol itself (probing, suspicion, dissemination, anti-entropy, leave,
 * renewal) is described at the top of swim.c, and each part at the top of
 * the file that implements it.  This header is sealed: callers need neither
 * the codec (wire.h) nor the core's private state (swim_int.h).
 */
#ifndef SWIM_SWIM_H
#define SWIM_SWIM_H

#include <stddef.h>
#include <stdint.h>

#include "swim_addr.h"

/* Limits of the protocol, equal to the wire format's (swim.c checks). */
#define SWIM_NAME_MAX 64 /* longest node name, bytes without NUL */
/* Generations: none exceeds SWIM_GENERATION_MAX (exact as a JSON integer),
 * and swim_new() starts an instance at no more than SWIM_GENERATION_START_MAX,
 * the most a peer accepts for a member it has not seen (swim_int.h says why). */
#define SWIM_GENERATION_MAX ((1ull << 63) - 1)
#define SWIM_GENERATION_START_MAX (1ull << 62)
#define SWIM_META_MAX 512 /* largest encoded tag block */
#define SWIM_USER_MAX 512 /* largest user broadcast payload */
/* Datagram size bounds for swim_config.max_packet: the smallest still holds
 * a maximal header and one maximal member record; the default fits a
 * 1500-byte Ethernet MTU with room for IP/UDP headers and the agent's
 * encryption; the largest is the UDP payload limit, rounded. */
#define SWIM_PACKET_MIN 1200
#define SWIM_PACKET_DEFAULT 1400
#define SWIM_PACKET_MAX 65000
/* swim_config.max_members.  The default bounds what forged names can cost
 * (about 2 KiB of memory each, and a members listing, an anti-entropy table
 * and a probe round that grow with them) at some 16 MiB and a few
 * milliseconds of work per table walk, eight times the largest cluster the
 * profiles were measured at; clusters larger than that raise it.  The limit
 * is the core's hard ceiling. */
#define SWIM_MEMBERS_DEFAULT 8192
#define SWIM_MEMBERS_LIMIT (1u << 20)

struct swim;

/* Member status, ordered by precedence at equal incarnation. */
enum swim_status {
    SWIM_ALIVE = 0,
    SWIM_SUSPECT = 1,
    SWIM_FAILED = 2,
    SWIM_LEFT = 3,
};

/* Notifications.  MEMBER_* carry `member`; USER and DIRECT carry `user`
 * (for DIRECT: origin is the sender, id its message id); SELF_* carry this
 * node's own record in `member`. */
enum swim_event {
    SWIM_EV_MEMBER_JOINED = 1, /* first time seen alive */
    SWIM_EV_MEMBER_UPDATED,    /* tags (meta) or address changed */
    SWIM_EV_MEMBER_SUSPECT,
    SWIM_EV_MEMBER_ALIVE, /* alive again: refuted suspicion, or renewed after failed/left */
    SWIM_EV_MEMBER_FAILED,
    SWIM_EV_MEMBER_LEFT,
    SWIM_EV_MEMBER_REAPED, /* tombstone forgotten */
    SWIM_EV_USER,          /* user broadcast, delivered once per member */
    SWIM_EV_SELF_ACTIVE,   /* this node knows at least one live member */
    SWIM_EV_SELF_IDLE,     /* no live member known, or the leave completed */
    SWIM_EV_SELF_DEFUNCT,  /* this node was declared failed or left by others */
    SWIM_EV_SELF_REJOINED, /* this node renewed its generation after defunct */
    SWIM_EV_DIRECT,        /* a direct message (swim_send_direct) from user.origin */
};
#define SWIM_EV_LAST SWIM_EV_DIRECT

struct swim_member_info {
    const char *name; /* NUL-terminated, valid until the next call into the instance */
    struct swim_addr addr;
    uint64_t generation;
    uint32_t incarnation;
    enum swim_status status;
    const uint8_t *meta; /* encoded tags; may be NULL when meta_len is 0 */
    uint16_t meta_len;
    uint64_t status_since; /* `now` of the call that set the status */
    /* Smoothed round trip of its direct answers to our probes (SRTT, gain
     * 1/8; the first sample sets it), in microseconds; SWIM_RTT_UNKNOWN
     * before the first answer at its current generation, and for self. */
    uint32_t rtt_us;
};
#define SWIM_RTT_UNKNOWN UINT32_MAX

struct swim_user_info {
    const char *origin; /* NUL-terminated */
    uint64_t origin_generation;
    uint32_t id;
    const uint8_t *payload;
    uint16_t len;
};

struct swim_notification {
    enum swim_event type;
    struct swim_member_info member;
    struct swim_user_info user;
};

enum swim_timer_kind {
    SWIM_TIMER_PROBE = 1,     /* protocol period tick: judge last probe, start next */
    SWIM_TIMER_PROBE_TIMEOUT, /* direct ack deadline: ask helpers */
    SWIM_TIMER_RELAY,         /* helper's deadline for a relayed ping: send nack */
    SWIM_TIMER_SUSPECT,       /* a suspect member's deadline */
    SWIM_TIMER_GOSSIP,
    SWIM_TIMER_SYNC,          /* anti-entropy with a random live member */
    SWIM_TIMER_RECONNECT,     /* anti-entropy with a random failed member */
    SWIM_TIMER_REAP,          /* forget old tombstones */
    SWIM_TIMER_LEAVE,         /* leave has had time to spread: go idle */
    SWIM_TIMER_SUSPECT_CHECK, /* mid-suspicion: ask the suspect for its record */
    SWIM_TIMER_JUDGE,         /* a probe's answers are all in (or never will be): judge it */
};

/* A timer is a plain value: the runtime stores a copy and hands it back. */
struct swim_timer {
    uint32_t kind;
    uint32_t arg32;
    uint64_t token;
    uint32_t hint; /* where the core looks first; checked, never trusted */
    uint32_t reserved;
};

/*
 * An identity pool: where instances that share it keep their members'
 * names, addresses and generations, each distinct (name, address,
 * generation) once (ident.c).
 * Only a process running many instances that know the same members (the
 * simulated world) gains from one; the agent passes NULL.  The caller
 * creates it, gives it to every instance through swim_runtime's `ids`,
 * and deletes it after the last of them; the instances must be driven
 * from one thread.  What is shared never changes once made, so one
 * instance can never change what another sees.
 */
struct swim_idpool;
/* NULL when out of memory. */
struct swim_idpool *swim_idpool_new(void);
void swim_idpool_delete(struct swim_idpool *p);
/* Distinct identities held now (for tests). */
size_t swim_idpool_count(const struct swim_idpool *p);

struct swim_runtime {
    void *ctx;
    void (*notify)(void *ctx, const struct swim_notification *n);
    void (*send_to)(void *ctx, const struct swim_addr *to, const uint8_t *data, size_t len);
    void (*submit_after)(void *ctx, const struct swim_timer *t, uint64_t delay_ms);
    void (*cancel)(void *ctx, const struct swim_timer *t); /* optional: NULL never cancels */
    struct swim_idpool *ids; /* optional: NULL, each instance keeps its own */
};

/* Every tunable.  swim_config_profile() fills memberlist's timings with
 * Lifeguard and swimd's own extensions on; each extension can be switched
 * off alone (probe.c says what each does), and with awareness_max = 0,
 * suspicion_max_mult = 1 and buddy, probe_retry, guard, reprobe all 0 the
 * core runs plain SWIM. */
struct swim_config {
    uint32_t probe_interval_ms; /* one protocol period */
    uint32_t probe_timeout_ms;  /* direct ack deadline, before Lifeguard stretching */
    uint32_t suspicion_mult;    /* suspect -> failed after mult*max(1,log10 N)*interval */
    uint32_t
        suspicion_max_mult;   /* Lifeguard: start at max_mult*that, shrink on confirms; 1 = off */
    uint32_t retransmit_mult; /* each update sent mult*ceil(log10(N+1)) times */
    uint32_t gossip_interval_ms;    /* push pending updates this often ... */
    uint32_t gossip_nodes;          /* ... to this many random members */
    uint32_t indirect_checks;       /* k helpers for an indirect probe */
    uint32_t sync_interval_ms;      /* anti-entropy with a live member; 0 = off */
    uint32_t reconnect_interval_ms; /* anti-entropy with a failed member; 0 = off */
    uint32_t reap_ms;               /* tombstones (failed, left) kept this long */
    uint32_t leave_linger_ms;       /* keep gossiping "left" this long before idle */
    uint32_t awareness_max;         /* Lifeguard health score ceiling; 0 = off */
    uint32_t max_packet;            /* datagram ceiling, SWIM_PACKET_MIN..SWIM_PACKET_MAX */
    uint32_t buddy;                 /* Lifeguard: a ping to a suspect carries its suspicion; 0/1 */
    uint32_t probe_retry; /* swimd: pings re-sent within a probe, judged once all answers are
                             in, longer probes of members that refuted lately; 0/1 */
    uint32_t guard;       /* swimd: accusations and verdicts need independent evidence; a
                             failed member comes back only after answering; 0/1 */
    uint32_t reprobe;     /* swimd: about this many holders of a new suspicion probe the
                             suspect too; confirmations beyond Lifeguard's k shorten the
                             timeout below its minimum; 0 = off, at most 16 */
    uint32_t max_members; /* members held at once, tombstones included, 1..SWIM_MEMBERS_LIMIT:
                             a stranger beyond it evicts the oldest tombstone, or is refused
                             (counted) when all are live; live members are never evicted */
};

/* 1 when name[0..len) is a valid node name, else 0: 1..SWIM_NAME_MAX bytes
 * of valid UTF-8 with no control character, no whitespace and no invisible
 * format character (name.c has the full rule).  The decoder drops records
 * with any other name. */
int swim_name_valid(const char *name, size_t len);

/* Fill cfg from a profile: "lan", "wan" or "local".  0 or ERR_INVAL. */
int swim_config_profile(struct swim_config *cfg, const char *profile);
/* The tunables by name, for command lines and files: the i-th field name
 * of struct swim_config ("probe_interval_ms", ...), or NULL past the last.
 * Static strings. */
const char *swim_config_key(size_t i);
/* Set the field named key to value (no range check: swim_config_check).
 * 0, or ERR_NOTFOUND for a name that is no field. */
int swim_config_set(struct swim_config *cfg, const char *key, uint32_t value);
/* The value of the field named key in *value: 0 or ERR_NOTFOUND. */
int swim_config_get(const struct swim_config *cfg, const char *key, uint32_t *value);
/* 0, or ERR_INVAL when a field is out of range (zero interval, timeout >=
 * interval, max_packet outside its bounds, ...). */
int swim_config_check(const struct swim_config *cfg);

/*
 * Create an instance.  name: valid by swim_name_valid(); addr: the
 * address peers reach it at; generation: greater than any earlier run's
 * and at most 2^62 (the agent uses wall-clock milliseconds at start; peers
 * ignore a new member above 2^62 and any record that raises a known
 * generation by more than 2^40); seed: the PRNG seed.
 * The config is copied.  Nothing is sent and no timer is submitted until
 * swim_start().  Returns NULL on bad arguments or out of memory.
 */
struct swim *swim_new(const struct swim_config *cfg, const char *name, const struct swim_addr *addr,
                      uint64_t generation, uint64_t seed, const struct swim_runtime *rt);
/* Free everything.  Timers still held by the runtime become stale. */
void swim_delete(struct swim *s);

/* Every `now` below is milliseconds on the runtime's clock, below 2^56
 * (a member's status time is kept in 56 bits; later times are held at the
 * largest, and suspicions would then end at once). */

/* Arm the periodic timers.  0, or ERR_STATE if already started. */
int swim_start(struct swim *s, uint64_t now);
/* Send a join request to a seed.  May be repeated (the agent retries with
 * backoff).  0, ERR_INVAL, or ERR_STATE after leave. */
int swim_announce(struct swim *s, const struct swim_addr *seed, uint64_t now);
/* One datagram from `from`.  Malformed input is dropped whole and counted;
 * returns 0 or the decode error (never fatal to the instance). */
int swim_handle_packet(struct swim *s, const struct swim_addr *from, const uint8_t *data,
                       size_t len, uint64_t now);
/* A timer the runtime was given.  Stale timers are ignored (returns 0). */
int swim_handle_timer(struct swim *s, const struct swim_timer *t, uint64_t now);
/* Leave gracefully: spread LEFT, then notify SELF_IDLE after leave_linger_ms.
 * 0 or ERR_STATE if already leaving. */
int swim_leave(struct swim *s, uint64_t now);
/* Broadcast an opaque payload (<= SWIM_USER_MAX bytes) to every member,
 * this one included.  0, ERR_TOOBIG, ERR_STATE after leave, ERR_FULL when
 * too many broadcasts are still being disseminated (try again shortly). */
int swim_broadcast(struct swim *s, const uint8_t *payload, size_t len, uint64_t now);
/* Largest direct message payload (swim_send_direct). */
#define SWIM_DIRECT_MAX 1200
/* Most helpers a direct message may also be relayed through (Serf's
 * largest relay factor). */
#define SWIM_DIRECT_RELAY_MAX 5
/*
 * Send payload straight to the live member named to_name (no gossip), and
 * with relay_factor k > 0 also through k random live members, each of which
 * forwards it once to that member (for when the direct path is lost); the
 * receiver is notified (SWIM_EV_DIRECT) once per message, however many
 * copies arrive, and only when the copy comes from a member it knows at
 * that address (a relay forwards a member's own message only).  Best
 * effort, like any datagram: no answer, no retry.
 * 0, ERR_NOTFOUND (no such live member, or to_name is this node), ERR_TOOBIG
 * (above swim_direct_room()), ERR_INVAL (relay_factor above
 * SWIM_DIRECT_RELAY_MAX), ERR_STATE (not running), ERR_FULL (the rate limit
 * on direct sends: try again shortly; counted in directs_refused).
 */
int swim_send_direct(struct swim *s, const char *to_name, const uint8_t *payload, size_t len,
                     uint32_t relay_factor, uint64_t now);
/* The largest payload swim_send_direct() takes with this configuration:
 * what a datagram of max_packet bytes holds beside the largest header and
 * item fields, at most SWIM_DIRECT_MAX.  Never fails. */
size_t swim_direct_room(const struct swim *s);
/* Replace this node's meta (encoded tags, <= SWIM_META_MAX bytes) and spread
 * it.  0, ERR_TOOBIG, ERR_NOMEM. */
int swim_set_meta(struct swim *s, const uint8_t *meta, size_t len, uint64_t now);
/* Operator override: mark a FAILED member LEFT now and spread it.
 * 0, ERR_NOTFOUND, or ERR_STATE when the member is not failed. */
int swim_force_leave(struct swim *s, const char *name, uint64_t now);

/*
 * Network coordinates (coord.c): Vivaldi (Dabek et al. 2004) as Serf and
 * Consul run it, with a height for each node's access link, an adaptive
 * timestep weighted by the two nodes' error estimates, a latency filter
 * (the median of a member's last samples), Serf's adjustment term and a
 * weak gravity toward the origin.  Each node carries its coordinate on its
 * PINGs and ACKs; each direct answer to a probe moves this node's
 * coordinate toward where the round trip says it lies.  The distance
 * between two coordinates estimates the round trip between their nodes,
 * whoever computes it.  Every value is in seconds.
 */
#define SWIM_COORD_DIM 8              /* Euclidean dimensions, Serf's choice */
#define SWIM_COORD_SPAN_S 10.0        /* largest |component|, height and |adjustment| */
#define SWIM_COORD_HEIGHT_MIN_S 10e-6 /* smallest height: 10 us, Serf's */
#define SWIM_COORD_ERROR_MAX 1.5      /* error estimate of a new coordinate, its ceiling */
#define SWIM_COORD_RTT_MAX_MS 10000   /* a longer round trip is no sample (Serf's bound) */

struct swim_coord {
    double vec[SWIM_COORD_DIM];
    double height;     /* SWIM_COORD_HEIGHT_MIN_S..SWIM_COORD_SPAN_S */
    double error;      /* relative error estimate, 0..SWIM_COORD_ERROR_MAX */
    double adjustment; /* Serf's per-node correction, -SPAN..SPAN */
};

/* 1 when every field is finite and within the bounds above, else 0.  Every
 * coordinate read from the wire passes this before it is used. */
int swim_coord_valid(const struct swim_coord *c);
/* The round trip two coordinates predict, in microseconds: the Euclidean
 * distance plus both heights, corrected by both adjustments unless that
 * would make it negative.  0 when either is not valid. */
uint64_t swim_coord_rtt_us(const struct swim_coord *a, const struct swim_coord *b);
/* This node's coordinate (the origin with the largest error until the
 * first sample).  Never fails. */
void swim_coord_self(const struct swim *s, struct swim_coord *out);
/* The last coordinate the member sent us (at its current generation).
 * 0, ERR_NOTFOUND (no such member) or ERR_AGAIN (none heard yet). */
int swim_member_coord(const struct swim *s, const char *name, struct swim_coord *out);

/* Reads.  Pointers in `out` stay valid until the next call into s that
 * is not a read (reads change nothing). */
void swim_self(const struct swim *s, struct swim_member_info *out);
/* Number of known members other than self, tombstones included. */
size_t swim_member_count(const struct swim *s);
/* The i-th member (0 <= i < count); 0 or ERR_NOTFOUND.  In no particular
 * order, which changes with every probe round and every member added or
 * removed: walk 0..count-1 between calls that run the protocol. */
int swim_member_at(const struct swim *s, size_t i, struct swim_member_info *out);
int swim_member_find(const struct swim *s, const char *name, struct swim_member_info *out);
/* Members currently ALIVE or SUSPECT, self excluded. */
size_t swim_active_count(const struct swim *s);
/* Members by status (index: enum swim_status), this node and tombstones
 * included. */
void swim_count_members(const struct swim *s, size_t counts[SWIM_LEFT + 1]);

/* Datagram types as the counters index them: 0 is a datagram whose header
 * did not decode or whose type is unknown, 1..SWIM_DGRAM_TYPES-1 the wire
 * types (swim_dgram_name()). */
#define SWIM_DGRAM_TYPES 10
/* Buckets of the probe round-trip histogram: swim_rtt_bound_ms(i) is bucket
 * i's upper bound, the last bucket has none. */
#define SWIM_RTT_BUCKETS 13

/* Datagrams and their bytes (as the core sees them: before sealing, after
 * opening). */
struct swim_traffic {
    uint64_t packets, bytes;
};

struct swim_stats {
    uint64_t packets_in, packets_out, bytes_in, bytes_out;
    uint64_t malformed;   /* datagrams dropped by the decoder */
    uint64_t suspicions;  /* times this node marked a member suspect */
    uint64_t refutations; /* times this node refuted suspicion of itself */
    uint64_t probes, probe_failures;
    uint64_t accusations;     /* failed probes that raised or confirmed a suspicion */
    uint64_t verdicts_held;   /* suspicion timeouts this node would not turn into a
                                 verdict: it had heard from nobody, or was unhealthy */
    uint64_t tables_refused;  /* FEED/SYNC answers refused by the rate limit */
    uint64_t name_conflicts;  /* records of another live node using our name */
    uint64_t members_refused; /* new members refused: the table was at max_members, all live */
    uint64_t answers_capped;  /* datagrams not sent: 3x what an unproven source sent */
    uint64_t directs_refused; /* direct sends and relay forwards refused by their rate limit */
    uint32_t health;          /* Lifeguard awareness: 0 is healthy */
    uint32_t pending_updates;
    /* Probes by result: answered by the target itself, answered only
     * through a helper, or (probe_failures) not answered in the period. */
    uint64_t probes_acked, probes_acked_indirect;
    /* Members this node held as suspect that refuted it (came back alive
     * at a higher incarnation of the same generation). */
    uint64_t suspicions_refuted;
    /* Direct probes' round trips, from the `now` of the ping to the `now`
     * of its ACK: samples per bucket (not cumulative) and their sum. */
    uint64_t probe_rtt[SWIM_RTT_BUCKETS];
    uint64_t probe_rtt_sum_ms;
    /* packets_in / packets_out split by datagram type (index as above);
     * a datagram handed in while the node is not running is not typed. */
    struct swim_traffic in_by_type[SWIM_DGRAM_TYPES], out_by_type[SWIM_DGRAM_TYPES];
};
void swim_get_stats(const struct swim *s, struct swim_stats *out);
/* Upper bound of probe_rtt bucket i in milliseconds; UINT32_MAX for the
 * last bucket (and beyond). */
uint32_t swim_rtt_bound_ms(size_t i);
/* "ping", "ack", "ping-req", "nack", "announce", "feed", "gossip", "sync",
 * "direct";
 * "unknown" for index 0 and anything else.  Static strings. */
const char *swim_dgram_name(size_t type);

const char *swim_status_name(enum swim_status st); /* "alive", "suspect", "failed", "left" */
/* The one vocabulary of notification names, for logs, JSON and filters:
 * "member-join", "member-update", "member-suspect", "member-alive",
 * "member-failed", "member-leave", "member-reap", "user", "self-active",
 * "self-idle", "self-defunct", "self-rejoined", "direct"; "unknown" for
 * anything else.
 * Static strings. */
const char *swim_event_name(enum swim_event ev);
/* Bytes of memory held per member entry (for the benchmark). */
size_t swim_member_footprint(void);

#endif /* SWIM_SWIM_H */
