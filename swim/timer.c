/*
 * timer.c - the core's timers: submitting them, arming the periodic ones,
 * and handing each one back to its handler.
 *
 * A timer is a plain value the runtime stores and returns; the core never
 * cancels one, it recognises the ones that no longer apply.  Periodic timers
 * (PROBE, GOSSIP, SYNC, RECONNECT, REAP, LEAVE) carry the instance's epoch
 * and are ignored once it changes (leave); PROBE_TIMEOUT, JUDGE and RELAY
 * carry a probe sequence number (RELAY's arg32 is 1 for the helper's second
 * ping, 0 for its NACK); SUSPECT and SUSPECT_CHECK carry the member's unique
 * id and its suspicion epoch, with the member's index as a hint.  Handlers
 * are named on_<kind>_timer; the probing ones live in probe.c, the
 * housekeeping ones here:
 *
 * Gossip.  While the queue is non-empty a GOSSIP goes to gossip_nodes random
 * members every gossip_interval.
 *
 * Anti-entropy.  Every sync_interval the node sends its whole table (live
 * members and tombstones) to a random live member as SYNC datagrams, asking
 * for the peer's table back; every reconnect_interval it does the same with a
 * random FAILED member, which is how the two sides of a healed partition find
 * each other without an operator.  A node that has just become active makes
 * one extra exchange SWIM_JOIN_SYNC_GOSSIPS gossip intervals later (a
 * one-shot SYNC timer, arg32 = 1), so members that joined together find the
 * records they missed.
 *
 * Tombstones (FAILED, LEFT) are kept reap_ms, then removed with a REAPED
 * notification, by a sweep every reap_ms / 4.
 */
#include "err.h"
#include "swim_int.h"

void swim__submit(struct swim *s, uint32_t kind, uint64_t token, uint32_t arg32, uint64_t delay)
{
    struct swim_timer t = {.kind = kind, .arg32 = arg32, .token = token};
    s->rt.submit_after(s->rt.ctx, &t, delay);
}

/* A timer about one member's suspicion: its uid and epoch identify it, its
 * place in the iteration array is the hint that makes the lookup O(1). */
void swim__submit_suspicion(struct swim *s, uint32_t kind, const struct swim_member *m,
                            uint64_t delay)
{
    struct swim_timer t = {
        .kind = kind, .arg32 = m->suspect_epoch, .token = m->uid, .hint = m->all_idx};
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
    swim__submit(s, SWIM_TIMER_GOSSIP, s->epoch, 0, s->cfg.gossip_interval_ms);
    if (s->cfg.sync_interval_ms > 0)
        swim__submit(s, SWIM_TIMER_SYNC, s->epoch, 0, s->cfg.sync_interval_ms);
    if (s->cfg.reconnect_interval_ms > 0)
        swim__submit(s, SWIM_TIMER_RECONNECT, s->epoch, 0, s->cfg.reconnect_interval_ms);
    swim__submit(s, SWIM_TIMER_REAP, s->epoch, 0, reap_sweep_ms(s));
}

/* Push pending updates to gossip_nodes random members. */
static void on_gossip_timer(struct swim *s)
{
    swim__submit(s, SWIM_TIMER_GOSSIP, s->epoch, 0, s->cfg.gossip_interval_ms);
    if (s->qn == 0)
        return;
    struct swim_member *to[SWIM_PICK_MAX];
    size_t n = swim__pick_members(s, to, s->cfg.gossip_nodes, NULL, true);
    for (size_t i = 0; i < n && s->qn > 0; i++)
        swim__send_simple(s, &to[i]->addr, WIRE_GOSSIP, 0, NULL, 0);
}

/* Anti-entropy with a random live member, or (failed) a random FAILED one;
 * `once` for the one-shot exchange after becoming active. */
static void on_sync_timer(struct swim *s, bool failed, bool once)
{
    uint32_t every = failed ? s->cfg.reconnect_interval_ms : s->cfg.sync_interval_ms;
    if (!once)
        swim__submit(s, failed ? SWIM_TIMER_RECONNECT : SWIM_TIMER_SYNC, s->epoch, 0, every);
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
    } else if (swim__pick_members(s, &m, 1, NULL, false) == 0) {
        m = NULL;
    }
    if (m != NULL)
        swim__send_table(s, &m->addr, WIRE_SYNC, WIRE_F_WANT_REPLY, false, NULL);
}

/* Forget tombstones older than reap_ms. */
static void on_reap_timer(struct swim *s, uint64_t now)
{
    swim__submit(s, SWIM_TIMER_REAP, s->epoch, 0, reap_sweep_ms(s));
    for (size_t i = s->n_all; i-- > 0;) {
        struct swim_member *m = s->all[i];
        if (swim__is_live(m->status) || now - m->status_since < s->cfg.reap_ms)
            continue;
        swim__notify_member(s, SWIM_EV_MEMBER_REAPED, m);
        swim__member_remove(s, m);
    }
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
        swim__on_probe_timeout_timer(s, (uint32_t)t->token);
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
            on_gossip_timer(s);
        break;
    case SWIM_TIMER_SYNC:
    case SWIM_TIMER_RECONNECT:
        if (t->token == s->epoch)
            on_sync_timer(s, t->kind == SWIM_TIMER_RECONNECT, t->arg32 == 1);
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
