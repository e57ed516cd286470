/*
 * probe.c - failure detection: probing, indirect probes, suspicion and
 * Lifeguard's local health.
 *
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
 * A helper remembers each relayed probe in a fixed table of SWIM_RELAY_MAX
 * entries, keyed by its own probe sequence; a PING_REQ that finds the table
 * full is dropped (the prober counts the helper's missing NACK).
 */
#include <math.h>

#include "hash.h"
#include "swim_int.h"

/* -------------------------------------------------------------- probing */

/* Lifeguard: a node in poor health (score h) probes every (h + 1) periods
 * and waits (h + 1) timeouts, instead of accusing healthy peers. */
static uint32_t scaled(const struct swim *s, uint32_t ms)
{
    return ms * (s->health + 1);
}

/* The period ended: judge its probe.  Answered, our health improves;
 * unanswered, it worsens by the helpers' NACKs that did not come (by 1
 * without helpers), and an ALIVE target becomes SUSPECT. */
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
            swim__tell_suspect(s, m, NULL, NULL);
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
    struct wire_name by = {.ptr = s->self.name, .len = s->self.name_len};
    swim__member_set_status(s, m, SWIM_SUSPECT, now);
    s->stats.suspicions++;
    swim__queue_member(s, m, &by);
    swim__notify_member(s, SWIM_EV_MEMBER_SUSPECT, m);
    swim__start_suspicion(s, m, now);
    swim__tell_suspect(s, m, &by, NULL);
    swim__check_active(s);
}

void swim__on_probe_timer(struct swim *s, uint64_t now)
{
    probe_judge(s, now);
    swim__submit(s, SWIM_TIMER_PROBE, s->epoch, 0, scaled(s, s->cfg.probe_interval_ms));
    if (s->state != SWIM_STATE_RUNNING)
        return;
    struct swim_member *m = swim__probe_next(s);
    if (m == NULL)
        return;
    s->probe_seq = ++s->seq;
    s->probe_target = m;
    s->probe_acked = false;
    s->probe_nacks = 0;
    s->probe_expected_nacks = 0;
    s->stats.probes++;
    s->probe_sent_at = now;
    swim__send_simple(s, &m->addr, WIRE_PING, 0, m, s->probe_seq);
    swim__submit(s, SWIM_TIMER_PROBE_TIMEOUT, s->probe_seq, 0, scaled(s, s->cfg.probe_timeout_ms));
}

void swim__on_probe_timeout_timer(struct swim *s, uint32_t seq)
{
    struct swim_member *target = s->probe_target;
    if (seq != s->probe_seq || target == NULL || s->probe_acked)
        return;
    struct swim_member *helpers[SWIM_PICK_MAX];
    size_t n = swim__pick_members(s, helpers, s->cfg.indirect_checks, target, false);
    struct wire_peer body;
    memset(&body, 0, sizeof(body));
    body.name.ptr = target->name;
    body.name.len = target->name_len;
    body.addr = target->addr;
    body.gen = target->gen;
    for (size_t i = 0; i < n; i++) {
        struct swim_pkt k;
        swim__pkt_begin(s, &k, WIRE_PING_REQ, 0, helpers[i]->name, helpers[i]->name_len,
                        helpers[i]->gen, seq);
        if (wire_encode_peer(&k.p, k.end, WIRE_PING_REQ, &body) != 0)
            continue;
        swim__pkt_piggyback(s, &k);
        swim__pkt_send(s, &helpers[i]->addr, &k);
        s->probe_expected_nacks++;
    }
}

bool swim__probe_answered(struct swim *s, uint32_t seq, const struct wire_name *who, bool relayed,
                          uint64_t now)
{
    struct swim_member *t = s->probe_target;
    if (t == NULL || seq != s->probe_seq || !swim__name_is(who, t->name, t->name_len))
        return false;
    if (!s->probe_acked) { /* the first answer counts; only a direct one is timed */
        if (relayed) {
            s->stats.probes_acked_indirect++;
        } else {
            s->stats.probes_acked++;
            swim__count_rtt(s, s->probe_sent_at, now);
        }
    }
    s->probe_acked = true;
    return true;
}

void swim__probe_nacked(struct swim *s, uint32_t seq)
{
    if (s->probe_target != NULL && seq == s->probe_seq)
        s->probe_nacks++;
}

/* ------------------------------------------------------------ suspicion */

/* The shortest suspicion: suspicion_mult * max(1, log10 N) periods. */
static uint64_t suspicion_min_ms(const struct swim *s)
{
    double f = log10((double)swim__cluster_n(s));
    if (f < 1.0)
        f = 1.0;
    return (uint64_t)(s->cfg.suspicion_mult * f * s->cfg.probe_interval_ms);
}

/* The suspicion timeout after `confirms` independent confirmations (see
 * the formula above). */
static uint64_t suspicion_timeout(const struct swim *s, uint32_t confirms)
{
    uint64_t min = suspicion_min_ms(s);
    uint64_t max = min * s->cfg.suspicion_max_mult;
    int64_t k = (int64_t)s->cfg.suspicion_mult - 2;
    if ((int64_t)swim__cluster_n(s) - 2 < k)
        k = (int64_t)swim__cluster_n(s) - 2;
    if (k > SWIM_CONFIRM_MAX)
        k = SWIM_CONFIRM_MAX;
    if (k < 1 || max <= min)
        return max > min ? max : min;
    double frac = log((double)confirms + 1.0) / log((double)k + 1.0);
    double t = (double)max - (double)(max - min) * frac;
    return t < (double)min ? min : (uint64_t)t;
}

void swim__start_suspicion(struct swim *s, struct swim_member *m, uint64_t now)
{
    uint64_t t = suspicion_timeout(s, 0);
    m->status_since = now; /* the suspicion's start, which confirmations count from */
    m->suspect_epoch++;
    m->confirms = 0;
    m->suspect_deadline = now + t;
    swim__submit_suspicion(s, SWIM_TIMER_SUSPECT, m, t);
    /* Two checks, at a random point of each middle quarter of the timeout:
     * if gossip has not brought the suspect's refutation by then, ask the
     * suspect itself.  Random points keep N holders of the same suspicion
     * from asking at one instant. */
    for (uint64_t q = 1; q <= 2; q++) {
        uint64_t at = t * q / 4 + prng_below(&s->rng, t / 4 + 1);
        swim__submit_suspicion(s, SWIM_TIMER_SUSPECT_CHECK, m, at);
    }
}

void swim__add_confirmation(struct swim *s, struct swim_member *m, const struct wire_name *by,
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
        swim__submit_suspicion(s, SWIM_TIMER_SUSPECT, m, deadline > now ? deadline - now : 0);
    }
}

void swim__on_suspect_timer(struct swim *s, const struct swim_timer *t, uint64_t now)
{
    struct swim_member *m = swim__member_by_timer(s, t);
    if (m == NULL || m->status != SWIM_SUSPECT || m->suspect_epoch != t->arg32)
        return;
    if (now < m->suspect_deadline) {
        /* Early: a runtime's clock may run a little behind its timers
         * (libevent's cached time does).  Wait out the rest rather than
         * let the suspicion hang. */
        swim__submit_suspicion(s, SWIM_TIMER_SUSPECT, m, m->suspect_deadline - now);
        return;
    }
    swim__member_set_status(s, m, SWIM_FAILED, now);
    swim__queue_member(s, m, NULL);
    swim__notify_member(s, SWIM_EV_MEMBER_FAILED, m);
    swim__check_active(s);
}

void swim__on_suspect_check_timer(struct swim *s, const struct swim_timer *t)
{
    struct swim_member *m = swim__member_by_timer(s, t);
    if (m == NULL || m->status != SWIM_SUSPECT || m->suspect_epoch != t->arg32)
        return;
    swim__tell_suspect(s, m, NULL, NULL);
}

/* --------------------------------------------------- relaying for others */

/* The relay of our ping with sequence seq, or NULL. */
static struct swim_relay *relay_by_seq(struct swim *s, uint32_t seq)
{
    for (size_t i = 0; i < SWIM_RELAY_MAX; i++)
        if (s->relays[i].used && s->relays[i].local_seq == seq)
            return &s->relays[i];
    return NULL;
}

void swim__relay_start(struct swim *s, const struct swim_addr *origin, uint32_t origin_seq,
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
    r->origin_seq = origin_seq;
    r->origin = *origin;
    r->target_len = target->name.len;
    memcpy(r->target, target->name.ptr, target->name.len);
    swim__addr_copy(&r->target_addr, &target->addr);
    struct swim_pkt k;
    swim__pkt_begin(s, &k, WIRE_PING, 0, r->target, r->target_len, target->gen, r->local_seq);
    swim__pkt_piggyback(s, &k);
    swim__pkt_send(s, &r->target_addr, &k);
    uint64_t window = s->cfg.probe_timeout_ms;
    if (s->cfg.probe_interval_ms - s->cfg.probe_timeout_ms < window)
        window = s->cfg.probe_interval_ms - s->cfg.probe_timeout_ms;
    swim__submit(s, SWIM_TIMER_RELAY, r->local_seq, 0, window * SWIM_NACK_PCT / 100);
}

void swim__relay_answered(struct swim *s, const struct wire_header *h)
{
    struct swim_relay *r = relay_by_seq(s, h->seq);
    if (r == NULL || !swim__name_is(&h->src, r->target, r->target_len))
        return;
    r->used = false;
    struct wire_peer body;
    memset(&body, 0, sizeof(body));
    body.name.ptr = r->target;
    body.name.len = r->target_len;
    body.addr = r->target_addr;
    struct swim_pkt k;
    swim__pkt_begin(s, &k, WIRE_ACK, WIRE_F_RELAY, NULL, 0, 0, r->origin_seq);
    if (wire_encode_peer(&k.p, k.end, WIRE_ACK, &body) != 0)
        return;
    swim__pkt_piggyback(s, &k);
    swim__pkt_send(s, &r->origin, &k);
}

void swim__on_relay_timer(struct swim *s, uint32_t seq)
{
    struct swim_relay *r = relay_by_seq(s, seq);
    if (r == NULL)
        return;
    r->used = false;
    swim__send_simple(s, &r->origin, WIRE_NACK, 0, NULL, r->origin_seq);
}
