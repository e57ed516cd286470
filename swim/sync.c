/*
 * sync.c - anti-entropy: finding and repairing what two members' tables
 * hold differently, at a cost that does not grow with the cluster when
 * nothing differs.
 *
 * Gossip delivers almost every change, but not all of them: a member cut off
 * for a while, a record whose retransmissions ran out, the two sides of a
 * healed partition.  memberlist (and this core before) repaired those by
 * sending the whole table to a random member every sync interval and taking
 * its whole table back, so each node's idle traffic grew linearly with N.
 *
 * Digests.  A node's table is summed up in 2^k buckets: a live record (and
 * the node's own) falls in a bucket by the hash of its name, and the
 * bucket's sum is the sum, mod 2^32, of a 64-bit mix of (name, generation,
 * incarnation, status) over its records.  A sum does not depend on the order
 * of the table, so two members that hold the same live records compute the
 * same digest, and a record that differs in any of those fields changes
 * its bucket's sum.  Tombstones stay out: a FAILED record where the other
 * holds the member alive still differs (one side sums it, the other not),
 * two tombstones tell a peer nothing it needs, and tombstones are reaped at
 * a different moment on every node, which would make digests differ for
 * hours around each reap.  The sender picks k so that buckets hold about
 * SWIM_SYNC_BUCKET_MEMBERS live members, up to 2^SWIM_SYNC_LOG2_MAX
 * buckets; the receiver sums its own table the same way.
 *
 * The exchange, A asking B (a push-pull in at most three datagram trips):
 *
 *   1. A -> B  SYNC, WANT_REPLY, a DIGEST of A's table.
 *   2. B: no bucket differs: nothing more (the usual, idle case: one small
 *      datagram per sync interval per node, whatever N).  Otherwise B sends
 *      its records (tombstones included) of the differing buckets, then
 *      its own DIGEST, as SYNC datagrams without WANT_REPLY.
 *   3. A applies those records, then compares B's digest with its table as
 *      it is now: a bucket still differing holds something B lacks, and A
 *      sends its records of those buckets.  B applies them; done.
 *
 * B answers only a member it knows (whatever its status: after a partition
 * each side holds the other failed, and that is how they meet again), and
 * its answers draw on the same token bucket as whole tables.  A takes an
 * answer (step 3) only from the member it asked, once, within a probe
 * interval.  A SYNC without a digest is the whole-table exchange of older
 * nodes: answered with the whole table, as before.
 *
 * Pace.  The exchange is periodic with one timer (SWIM_TIMER_SYNC, its
 * arg32 a sequence number so that a re-armed timer makes the old one
 * stale).  When a table brought us members we did not know, or gossip
 * several at once (SWIM_LEARN_GOSSIP_MIN), or this node has just become
 * active, the next exchange comes after gossip_interval_ms; after each
 * one that brought none the interval doubles, up to
 * sync_interval_ms.  Joins are what gossip serves worst (N new records for
 * every node when a cluster starts); other changes (a suspicion, a verdict)
 * are one record that gossip carries within milliseconds, and an exchange
 * that happens to carry it first must not set every node exchanging at the
 * fast pace.  So a node that is learning members pulls and pushes every
 * gossip round, a settled cluster exchanges one digest per node per sync
 * interval, and a mass join spreads the tables epidemically: members that
 * know much push it to random members, each of which then knows as much
 * and does the same, so all N know all within O(log N) rounds even when
 * every node announced to the same seed at the same instant (the seed's
 * FEEDs are rate-limited, and the first ones hold few members).  Records
 * learned from a table are not queued for gossip (update.c): they travel
 * this way, in full datagrams.  And while a node is learning, a member it
 * first hears of by gossip is passed on SWIM_LEARN_SENDS times, not the
 * full count: each of thousands of joiners re-gossiped in full by every
 * node that heard of it first was an O(N^2) tail outlasting convergence by
 * half a minute (swim_int.h has the figures).  A single join into a
 * settled cluster is gossiped as before.  Every reconnect_interval_ms the
 * same digest goes to a random FAILED member, which answers only if it is
 * alive after all, on the other side of a healed partition.
 */
#include "err.h"
#include "hash.h"
#include "prng.h"
#include "swim_int.h"

/* The one mixing step of a record's hash (splitmix64's finaliser). */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Bucket of a record whose name hashes to nh, among 2^log2. */
static size_t bucket_of(uint64_t nh, uint8_t log2)
{
    return log2 == 0 ? 0 : (size_t)(nh >> (64 - log2));
}

/* m's record's share of its bucket's sum. */
static uint32_t digest_share(const struct swim *s, const struct swim_member *m)
{
    uint64_t nh = swim__name_hash(s, m);
    return (uint32_t)mix64(nh ^ mix64(swim__id(s, m)->gen) ^ ((uint64_t)m->inc << 8 | m->status));
}

void swim__digest_member(struct swim *s, const struct swim_member *m, bool add)
{
    if (!swim__is_live(m->status))
        return;
    uint32_t *sum = &s->digest[bucket_of(swim__name_hash(s, m), WIRE_DIGEST_LOG2_MAX)];
    *sum = add ? *sum + digest_share(s, m) : *sum - digest_share(s, m);
}

/* Our digest in 2^log2 buckets: our own record and every live member's.
 * The members' sums are kept at the finest split (swim__digest_member);
 * a coarser bucket is the sum of the fine ones under it, since a bucket is
 * chosen by the top bits of the name's hash. */
static void digest_compute(const struct swim *s, uint8_t log2, uint32_t *sums)
{
    memset(sums, 0, sizeof(*sums) << log2);
    for (size_t i = 0; i < (size_t)1 << WIRE_DIGEST_LOG2_MAX; i++)
        sums[i >> (WIRE_DIGEST_LOG2_MAX - log2)] += s->digest[i];
    sums[bucket_of(swim__name_hash(s, s->self), log2)] += digest_share(s, s->self);
}

bool swim__digest_consistent(const struct swim *s)
{
    uint32_t sums[1u << WIRE_DIGEST_LOG2_MAX] = {0};
    for (size_t i = 0; i < s->n_all; i++)
        if (swim__is_live(swim__member_at(s, i)->status))
            sums[bucket_of(swim__name_hash(s, swim__member_at(s, i)), WIRE_DIGEST_LOG2_MAX)] +=
                digest_share(s, swim__member_at(s, i));
    for (size_t i = 0; i < sizeof(sums) / sizeof(sums[0]); i++) {
        if (sums[i] != s->digest[i])
            return false;
    }
    return true;
}

/* Buckets for a digest we send: about SWIM_SYNC_BUCKET_MEMBERS live
 * members each. */
static uint8_t digest_log2(const struct swim *s)
{
    uint8_t log2 = 0;
    while (log2 < SWIM_SYNC_LOG2_MAX &&
           ((size_t)SWIM_SYNC_BUCKET_MEMBERS << log2) < swim__cluster_n(s))
        log2++;
    return log2;
}

/* Members ahead whose identities a walk of the table starts reading. */
#define SYNC_AHEAD 8

/* Our records (tombstones too) of the buckets marked in want[], as SYNC
 * datagrams to `to`; then our digest when `sums` is not NULL. */
static void send_buckets(struct swim *s, const struct swim_addr *to, uint8_t log2, const bool *want,
                         const uint32_t *sums)
{
    struct swim_table_out o;
    swim__table_begin(s, &o, to, WIRE_SYNC, 0);
    if (want[bucket_of(swim__name_hash(s, s->self), log2)])
        swim__table_put_member(s, &o, s->self);
    bool every = true; /* (every bucket differs: a joiner's table, say) */
    for (size_t b = 0; b < (size_t)1 << log2; b++)
        every = every && want[b];
    for (uint32_t i = 0; i < s->n_store; i++) {
        const struct swim_member *m = swim__entry_used(s, i);
        if (i + SYNC_AHEAD < s->n_store) { /* the hash is in the identity: start reading it */
            const struct swim_member *ahead = swim__entry_used(s, i + SYNC_AHEAD);
            if (ahead != NULL)
                __builtin_prefetch(swim__id(s, ahead));
        }
        if (m != NULL && (every || want[bucket_of(swim__name_hash(s, m), log2)]))
            swim__table_put_member(s, &o, m);
    }
    if (sums != NULL) {
        uint8_t *p = s->body;
        if (wire_encode_digest(&p, s->body + s->cfg.max_packet, log2, sums) == 0)
            swim__table_put(s, &o, WIRE_ITEM_DIGEST, s->body, (size_t)(p - s->body));
    }
    swim__table_end(s, &o);
}

/* The first DIGEST item of a validated item run, if any. */
static bool find_digest(const uint8_t *p, const uint8_t *end, struct wire_digest *out)
{
    struct wire_item it;
    while (p < end && wire_decode_item(&it, &p, end) == 0) {
        const uint8_t *ip = it.data;
        if (it.kind == WIRE_ITEM_DIGEST && wire_decode_digest(out, &ip, it.data + it.len) == 0)
            return true;
    }
    return false;
}

/* The fastest pace: one exchange per gossip round (never beyond the
 * configured interval). */
static uint32_t sync_fast(const struct swim *s)
{
    uint32_t fast = s->cfg.gossip_interval_ms;
    return fast < s->cfg.sync_interval_ms ? fast : s->cfg.sync_interval_ms;
}

static void sync_arm(struct swim *s, uint32_t delay)
{
    s->sync.every = delay;
    swim__submit(s, SWIM_TIMER_SYNC, s->epoch, ++s->sync.seq, delay);
}

void swim__sync_start(struct swim *s)
{
    if (s->cfg.sync_interval_ms > 0)
        sync_arm(s, s->cfg.sync_interval_ms);
    if (s->cfg.reconnect_interval_ms > 0)
        swim__submit(s, SWIM_TIMER_RECONNECT, s->epoch, 0, s->cfg.reconnect_interval_ms);
}

void swim__sync_soon(struct swim *s)
{
    if (s->cfg.sync_interval_ms == 0 || s->state != SWIM_STATE_RUNNING)
        return;
    s->sync.learned = true;
    if (s->sync.every > sync_fast(s))
        sync_arm(s, sync_fast(s));
}

bool swim__sync_learning(const struct swim *s)
{
    /* (With sync_interval_ms at or below the fast pace there is no slower
     * pace to tell learning from.) */
    return s->cfg.sync_interval_ms > sync_fast(s) && s->state == SWIM_STATE_RUNNING &&
           s->sync.every <= sync_fast(s);
}

/* Send our digest to m, asking for what differs; its answer is taken once
 * (slot 0: the periodic exchange, 1: reconnect). */
static void sync_ask(struct swim *s, const struct swim_member *m, int slot, uint64_t now)
{
    uint32_t sums[1u << SWIM_SYNC_LOG2_MAX];
    uint8_t log2 = digest_log2(s);
    uint8_t *p = s->body;
    digest_compute(s, log2, sums);
    if (wire_encode_digest(&p, s->body + s->cfg.max_packet, log2, sums) != 0)
        return;
    struct swim_table_out o;
    swim__table_begin(s, &o, &swim__id(s, m)->addr, WIRE_SYNC, WIRE_F_WANT_REPLY);
    swim__table_put(s, &o, WIRE_ITEM_DIGEST, s->body, (size_t)(p - s->body));
    swim__table_end(s, &o);
    s->sync.asked[slot].hash = swim__name_hash(s, m);
    s->sync.asked[slot].until = now + s->cfg.probe_interval_ms;
}

void swim__on_sync_timer(struct swim *s, const struct swim_timer *t, uint64_t now)
{
    bool failed = t->kind == SWIM_TIMER_RECONNECT;
    if (failed) {
        swim__submit(s, SWIM_TIMER_RECONNECT, s->epoch, 0, s->cfg.reconnect_interval_ms);
    } else {
        if (t->arg32 != s->sync.seq)
            return; /* re-armed since */
        uint32_t next = s->sync.every * 2;
        if (s->sync.learned || next < s->sync.every)
            next = sync_fast(s);
        sync_arm(s, next < s->cfg.sync_interval_ms ? next : s->cfg.sync_interval_ms);
        s->sync.learned = false;
    }
    if (s->state != SWIM_STATE_RUNNING || s->n_all == 0)
        return;
    struct swim_member *m = NULL;
    if (failed) {
        size_t start = prng_below(&s->rng, s->n_all);
        /* (the draw is made even when no member is failed: the protocol's
         * stream of draws stays the same) */
        for (size_t n = 0; s->n_failed > 0 && n < s->n_all && m == NULL; n++) {
            struct swim_member *c = swim__member_at(s, (start + n) % s->n_all);
            if (c->status == SWIM_FAILED)
                m = c;
        }
    } else if (swim__pick_members(s, &m, 1, NULL, false) == 0) {
        m = NULL;
    }
    if (m != NULL)
        sync_ask(s, m, failed ? 1 : 0, now);
}

/* Is h the answer of a member we asked?  Taken once. */
static bool sync_answer_expected(struct swim *s, const struct wire_header *h, uint64_t now)
{
    uint64_t hash = hash_fnv1a(h->src.ptr, h->src.len);
    for (size_t i = 0; i < sizeof(s->sync.asked) / sizeof(s->sync.asked[0]); i++) {
        if (s->sync.asked[i].hash == hash && now <= s->sync.asked[i].until) {
            s->sync.asked[i].until = 0;
            return true;
        }
    }
    return false;
}

void swim__on_sync(struct swim *s, const struct swim_addr *from, const struct wire_header *h,
                   const struct swim_member *sender, const uint8_t *p, const uint8_t *end,
                   uint64_t now)
{
    bool asks = (h->flags & WIRE_F_WANT_REPLY) != 0;
    struct wire_digest d;
    if (!find_digest(p, end, &d)) {
        /* The whole-table exchange: only a member we know gets ours. */
        if (asks && sender != NULL && swim__table_allowed(s, now))
            swim__send_table(s, from, WIRE_SYNC, 0, false, NULL);
        return;
    }
    if (sender == NULL || (!asks && !sync_answer_expected(s, h, now)))
        return;

    uint32_t sums[1u << WIRE_DIGEST_LOG2_MAX];
    bool want[1u << WIRE_DIGEST_LOG2_MAX];
    size_t differ = 0;
    digest_compute(s, d.log2, sums);
    for (size_t i = 0; i < (size_t)1 << d.log2; i++) {
        want[i] = sums[i] != wire_digest_sum(&d, i);
        differ += want[i];
    }
    if (differ == 0)
        return;
    if (asks) {
        if (swim__table_allowed(s, now))
            send_buckets(s, from, d.log2, want, sums); /* step 2 */
    } else {
        send_buckets(s, from, d.log2, want, NULL); /* step 3 */
    }
}
