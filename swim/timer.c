/*
 * timer.c - the core's timers: submitting them, arming the periodic ones,
 * and handing each one back to its handler.
 *
 * A timer is a plain value the runtime stores and returns; the core
 * recognises the ones that no longer apply, and tells a runtime that has a
 * cancel hook about the few it knows are moot while still pending (a probe's
 * deadline once the probe is answered, a helper's NACK deadline once the
 * target answered: probe.c), so an idle node is not woken for them; without
 * the hook they come back and are ignored.  Periodic timers
 * (PROBE, GOSSIP, SYNC, RECONNECT, REAP, LEAVE) carry the instance's epoch
 * and are ignored once it changes (leave); SYNC carries a sequence number
 * too, since it is re-armed early (sync.c); PROBE_TIMEOUT, JUDGE and RELAY
 * carry a probe sequence number (RELAY's arg32 is 1 for the helper's second
 * ping, 0 for its NACK); SUSPECT and SUSPECT_CHECK carry the member's unique
 * id and its suspicion epoch, with the member's index as a hint.  Handlers
 * are named on_<kind>_timer; the probing ones live in probe.c, the
 * anti-entropy ones in sync.c, the housekeeping ones here:
 *
 * Gossip.  While the queue is non-empty a GOSSIP goes to gossip_nodes random
 * members every gossip_interval.  The first round after the queue was empty
 * runs at once (a GOSSIP timer with no delay, armed when something is
 * queued): news leaves a node in the millisecond it arrives instead of up
 * to a gossip interval later, which, hop after hop, is most of the time a
 * join or a verdict takes to reach everyone.  The rate stays one round per
 * gossip interval, and an idle node arms no gossip timer at all.  A node
 * that becomes active (a joiner fed by its seed) adds one round of its own
 * (GOSSIP with arg32 = 1, beside the periodic ones): its record leaves at
 * once, where the periodic round, busy while many join, could be up to a
 * gossip interval away.  (A like round at the seed, once it fed a new
 * member, is left out: with it, sync_test's repair case for seed 4000012
 * saw ten digests reach the healed node in one millisecond and sent 13.7
 * kB of records where one bucket's worth is the bound.)
 *
 * Tombstones (FAILED, LEFT) are kept reap_ms, then removed with a REAPED
 * notification, by a sweep every reap_ms / 4.
 */
#include "err.h"
#include "swim_int.h"

/* Reaping at most this many members in one sweep, each removal scans the
 * probe list; more, and the sweep maps the list first (table.c). */
#define REAP_SCAN_MAX 8

void swim__submit(struct swim *s, uint32_t kind, uint64_t token, uint32_t arg32, uint64_t delay)
{
    struct swim_timer t = {.kind = kind, .arg32 = arg32, .token = token};
    s->rt.submit_after(s->rt.ctx, &t, delay);
}

void swim__cancel(struct swim *s, uint32_t kind, uint64_t token, uint32_t arg32)
{
    if (s->rt.cancel == NULL)
        return;
    struct swim_timer t = {.kind = kind, .arg32 = arg32, .token = token};
    s->rt.cancel(s->rt.ctx, &t);
}

/* A timer about one member's suspicion: its uid and epoch identify it, its
 * entry's index in the storage is the hint that makes the lookup O(1). */
void swim__submit_suspicion(struct swim *s, uint32_t kind, const struct swim_member *m,
                            uint64_t delay)
{
    const struct swim_rare *x = swim__rare_get(s, m);
    struct swim_timer t = {
        .kind = kind, .arg32 = x->suspect_epoch, .token = x->uid, .hint = swim__entry_index(s, m)};
    s->rt.submit_after(s->rt.ctx, &t, delay);
}

/* Period of the tombstone sweep: a quarter of reap_ms, at least
 * SWIM_REAP_SWEEP_MIN_MS. */
static uint64_t reap_sweep_ms(const struct swim *s)
{
    uint64_t sweep = s->cfg.reap_ms / 4;
    return sweep < SWIM_REAP_SWEEP_MIN_MS ? SWIM_REAP_SWEEP_MIN_MS : sweep;
}

void swim__timers_start(struct swim *s)
{
    /* Stagger the first probe so nodes started together do not probe in
     * lock-step. */
    swim__submit(s, SWIM_TIMER_PROBE, s->epoch, 0,
                 1 + prng_below(&s->rng, s->cfg.probe_interval_ms));
    if (s->qn > 0)
        swim__gossip_wake(s);
    swim__sync_start(s);
    swim__submit(s, SWIM_TIMER_REAP, s->epoch, 0, reap_sweep_ms(s));
}

void swim__gossip_wake(struct swim *s)
{
    if (s->gossip_armed || (s->state != SWIM_STATE_RUNNING && s->state != SWIM_STATE_LEAVING))
        return;
    s->gossip_armed = true;
    swim__submit(s, SWIM_TIMER_GOSSIP, s->epoch, 0, 0);
}

void swim__gossip_now(struct swim *s)
{
    swim__submit(s, SWIM_TIMER_GOSSIP, s->epoch, 1, 0);
}

/* Push pending updates to gossip_nodes random members; come back after a
 * gossip interval while anything is left.  `extra`: a round of its own
 * (swim__gossip_now), which leaves the periodic rounds alone. */
static void on_gossip_timer(struct swim *s, bool extra)
{
    if (!extra)
        s->gossip_armed = false;
    if (s->qn == 0)
        return;
    struct swim_member *to[SWIM_PICK_MAX];
    size_t n = swim__pick_members(s, to, s->cfg.gossip_nodes, NULL, true);
    for (size_t i = 0; i < n && s->qn > 0; i++)
        swim__send_simple(s, &swim__id(s, to[i])->addr, WIRE_GOSSIP, 0, NULL, 0);
    if (extra)
        return;
    s->gossip_armed = true;
    swim__submit(s, SWIM_TIMER_GOSSIP, s->epoch, 0, s->cfg.gossip_interval_ms);
}

/* Forget tombstones older than reap_ms. */
static void on_reap_timer(struct swim *s, uint64_t now)
{
    swim__submit(s, SWIM_TIMER_REAP, s->epoch, 0, reap_sweep_ms(s));
    size_t due = 0;
    for (size_t i = 0; i < s->n_all; i++) {
        const struct swim_member *m = swim__member_at(s, i);
        due += !swim__is_live(m->status) && now - swim__since(m) >= s->cfg.reap_ms;
    }
    /* A removal finds its place in the probe list by a scan: with many due
     * at once (a partition's worth of tombstones) that would be O(N) each. */
    bool mapped = due > REAP_SCAN_MAX && swim__member_sweep_begin(s);
    for (size_t i = s->n_all; i-- > 0 && due > 0;) {
        struct swim_member *m = swim__member_at(s, i);
        if (swim__is_live(m->status) || now - swim__since(m) < s->cfg.reap_ms)
            continue;
        swim__notify_member(s, SWIM_EV_MEMBER_REAPED, m);
        swim__member_remove(s, m);
        due--;
    }
    if (mapped)
        swim__member_sweep_end(s);
}

/* The leave has had time to spread: go idle. */
static void on_leave_timer(struct swim *s)
{
    if (s->state != SWIM_STATE_LEAVING)
        return;
    s->state = SWIM_STATE_IDLE;
    s->epoch++;
    swim__notify_self(s, SWIM_EV_SELF_IDLE);
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
            swim__on_probe_timer(s, now);
        break;
    case SWIM_TIMER_PROBE_TIMEOUT:
        swim__on_probe_timeout_timer(s, (uint32_t)t->token, now);
        break;
    case SWIM_TIMER_RELAY:
        swim__on_relay_timer(s, (uint32_t)t->token, t->arg32 == 1);
        break;
    case SWIM_TIMER_JUDGE:
        swim__on_judge_timer(s, (uint32_t)t->token, now);
        break;
    case SWIM_TIMER_SUSPECT:
        swim__on_suspect_timer(s, t, now);
        break;
    case SWIM_TIMER_SUSPECT_CHECK:
        swim__on_suspect_check_timer(s, t);
        break;
    case SWIM_TIMER_GOSSIP:
        if (t->token == s->epoch)
            on_gossip_timer(s, t->arg32 == 1);
        break;
    case SWIM_TIMER_SYNC:
    case SWIM_TIMER_RECONNECT:
        if (t->token == s->epoch)
            swim__on_sync_timer(s, t, now);
        break;
    case SWIM_TIMER_REAP:
        if (t->token == s->epoch)
            on_reap_timer(s, now);
        break;
    case SWIM_TIMER_LEAVE:
        if (t->token == s->epoch)
            on_leave_timer(s);
        break;
    default:
        return ERR_INVAL;
    }
    return 0;
}
