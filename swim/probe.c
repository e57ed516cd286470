/*
 * probe.c - failure detection: probing, indirect probes, suspicion,
 * Lifeguard, and what swimd adds so that a node that hears nothing cannot
 * get healthy members declared failed.
 *
 * SWIM (Das et al. 2002).  Every protocol period (PROBE timer) the node
 * probes one member, walking a shuffled list round-robin, reshuffled at the
 * end of each round, so every member is probed once per round and a new
 * member is inserted at a random place in the current one.  A probe is a
 * direct PING; if no ACK comes by the probe timeout (PROBE_TIMEOUT timer), k
 * random members are asked with PING_REQ to ping the target on our behalf;
 * a helper forwards the target's ACK, or sends a NACK when the target did
 * not answer it either (RELAY timer).  A probe with no ACK when it is judged
 * (JUDGE timer; plain SWIM judges at the end of the period) makes an ALIVE
 * target SUSPECT, and a suspect becomes FAILED when nobody refutes in time.
 * A probe is judged as soon as it is answered (nothing can change that
 * verdict), and its pending timer (PROBE_TIMEOUT, or JUDGE when the answer
 * came after the timeout) is cancelled; only a probe still unanswered at its
 * timeout arms its JUDGE timer.  An idle node is thus woken by one timer per
 * period, PROBE, when its runtime cancels, and by two without.
 * The suspect refutes by taking a higher incarnation (update.c).
 *
 * Lifeguard (Dadgar et al., DSN 2018; memberlist's awareness.go and
 * suspicion.go), three parts, each switchable:
 *   - Local health (awareness_max > 0): a score rises when our probes fail
 *     without the NACKs the helpers owed us (so the fault is likely ours)
 *     and when we must refute a suspicion of ourselves, and falls with every
 *     answered probe; probe interval and timeout are multiplied by score+1.
 *   - Dynamic suspicion (suspicion_max_mult > 1): with
 *         min = suspicion_mult * max(1, log10 N) * probe_interval,
 *         max = suspicion_max_mult * min,  k = suspicion_mult - 2,
 *     a suspicion starts at max and shrinks with c independent
 *     confirmations (distinct members other than the accuser):
 *         timeout(c) = max(min, max - (max - min) log(c + 1) / log(k + 1)),
 *     or is min from the start when fewer than k members could confirm.
 *   - Buddy system (buddy): a ping to a suspect carries its suspicion, so it
 *     refutes at once.
 *
 * Beyond Lifeguard (Rapid, ATC 2018, shows memberlist condemning healthy
 * members under partial reachability; "accuracy before speed").
 *   guard: evidence, not one voice.
 *   - An accusation needs evidence that we can hear: a probe that failed
 *     while none of the helpers we asked sent a NACK says more about us than
 *     about the target, so it raises our health score and accuses nobody.
 *     A node whose ingress is cut, or that handles its input too late,
 *     accuses no one.  (The health score itself is no gate: on one side of
 *     a partition the helpers on the other side owe NACKs too, and the score
 *     of every node rises while its verdicts are right.)
 *   - A verdict needs a judge that can hear: a suspicion whose time is up
 *     becomes FAILED only if one of this node's probes was answered in time
 *     (an ACK or a NACK) within SWIM_HEARD_PERIODS periods, or no live
 *     member other than the suspect is left to answer; otherwise it stays
 *     pending (counted in verdicts_held), the suspect is asked again, and
 *     the node looks again a period later.  A node that hears nothing never
 *     condemns: not even the survivor of a cluster whose other members all
 *     died at once, which cannot tell their deaths from its own deafness
 *     (Rapid makes the same choice: without a quorum, no view change).
 *   - No datagram decides a fate: a FAILED record about a member we hold
 *     alive is taken as a suspicion (the declarer its accuser, the subject
 *     told), and about one we already suspect as a confirmation that brings
 *     our deadline to the floor; our own timer, gated as above, decides.
 *   - A failed member comes back only after answering: a new generation of
 *     a member we hold FAILED is believed once the member has answered our
 *     ping at that generation (a READMIT probe), so a node reachable from
 *     few peers is declared failed once, not failed and readmitted again
 *     and again.
 *   reprobe: faster detection from more independent evidence.  A holder of
 *   a suspicion it learnt from another probes the suspect itself with
 *   probability reprobe / (N - 1) (a CHECK probe), so about `reprobe`
 *   members do; each failed probe, ours or theirs, is a confirmation,
 *   gossiped on by whoever learns it first (as memberlist re-gossips).
 *   Confirmations beyond Lifeguard's k shorten the timeout below its
 *   minimum, on the same logarithmic curve, down to SWIM_SUSPECT_FLOOR_PCT
 *   of a period with SWIM_CONFIRM_MAX - 1 of them:
 *       timeout(c > k) = min - (min - floor) log(c - k + 1) / log(C - k + 1).
 *   A crashed member at N = 100 is probed by about one member per period,
 *   so the first suspicion comes a period or two after the crash; half a
 *   period later the re-probes have failed; two and a half periods after
 *   that every member declares it.  A healthy member wrongly suspected
 *   answers the re-probes, so its suspicion keeps Lifeguard's long timeout.
 *   probe_retry: fewer failed probes under loss.  The direct ping is sent
 *   again with the PING_REQs; each helper pings twice (at once and half way
 *   to its NACK); the probe is judged as soon as every answer is due
 *   (timeout plus the helpers' window) instead of at the end of the period.
 *   At 25% loss on every datagram one probe fails with a probability of
 *   about 1.7% instead of 14% (k = 4).  And a member that refuted within
 *   SWIM_STRETCH_PERIODS is probed with a window one period longer, so a
 *   member that pauses (a stop-the-world collector, SIGSTOP) is not accused
 *   again at every probe that lands in a pause.
 *
 * A helper remembers each relayed probe in a fixed table of SWIM_RELAY_MAX
 * entries, keyed by its own ping sequence; a PING_REQ that finds the table
 * full is dropped (the prober counts the helper's missing NACK).  Probes in
 * flight live in SWIM_PROBES_MAX slots, keyed by sequence; a probe that
 * finds no free slot is not started.
 */
#include <math.h>
#include <stdlib.h>

#include "hash.h"
#include "swim_int.h"

/* ------------------------------------------------------------ probe slots */

/* Lifeguard: a node in poor health (score h) probes every (h + 1) periods
 * and waits (h + 1) timeouts, instead of accusing healthy peers. */
static uint64_t scaled(const struct swim *s, uint64_t ms)
{
    return ms * (s->health + 1);
}

static struct swim_probe *probe_by_seq(struct swim *s, uint32_t seq)
{
    for (size_t i = 0; i < SWIM_PROBES_MAX; i++)
        if (s->probes[i].target != NULL && s->probes[i].seq == seq)
            return &s->probes[i];
    return NULL;
}

static bool probing(const struct swim *s, const struct swim_member *m)
{
    for (size_t i = 0; i < SWIM_PROBES_MAX; i++)
        if (s->probes[i].target == m)
            return true;
    return false;
}

/* Free p's slot; its pending timer, if any, is no longer wanted. */
static void probe_end(struct swim *s, struct swim_probe *p)
{
    if (p->timer != 0)
        swim__cancel(s, p->timer, p->seq, 0);
    p->timer = 0;
    p->target = NULL;
}

void swim__probe_forget(struct swim *s, const struct swim_member *m)
{
    for (size_t i = 0; i < SWIM_PROBES_MAX; i++)
        if (s->probes[i].target == m)
            probe_end(s, &s->probes[i]);
}

/* A helper's window for the target's answer: the prober's timeout or the
 * rest of its period, whichever is shorter (profiles agree on it). */
static uint64_t helper_window(const struct swim *s)
{
    uint64_t w = s->cfg.probe_timeout_ms;
    if (s->cfg.probe_interval_ms - s->cfg.probe_timeout_ms < w)
        w = s->cfg.probe_interval_ms - s->cfg.probe_timeout_ms;
    return w;
}

/* The direct-ping deadline of a probe: the (health-scaled) timeout, one
 * period longer for a target that refuted lately. */
static uint64_t probe_timeout(const struct swim *s, const struct swim_probe *p)
{
    uint64_t t = scaled(s, s->cfg.probe_timeout_ms);
    return p->stretched ? t + s->cfg.probe_interval_ms : t;
}

/* A PING to the probe's target; with buddy, a suspect target finds its
 * suspicion in it. */
static void probe_ping(struct swim *s, const struct swim_probe *p)
{
    const struct swim_member *m = p->target;
    bool tell = s->cfg.buddy && m->status == SWIM_SUSPECT && p->kind != SWIM_PROBE_READMIT;
    swim__send_ping(s, &p->addr, swim__id(s, m)->name, swim__id(s, m)->name_len, p->gen, p->seq,
                    tell ? m : NULL);
}

/* Start a probe of m in a free slot; NULL when none is free. */
static struct swim_probe *probe_start(struct swim *s, struct swim_member *m, uint8_t kind,
                                      uint64_t gen, const struct swim_addr *addr, uint64_t now)
{
    struct swim_probe *p = NULL;
    for (size_t i = 0; i < SWIM_PROBES_MAX && p == NULL; i++)
        if (s->probes[i].target == NULL)
            p = &s->probes[i];
    if (p == NULL)
        return NULL;
    memset(p, 0, sizeof(*p));
    p->target = m;
    p->kind = kind;
    p->gen = gen;
    p->inc = m->inc;
    p->seq = ++s->seq;
    p->sent_at = now;
    swim__addr_copy(&p->addr, addr);
    uint64_t refuted_at = swim__rare_get(s, m)->refuted_at;
    p->stretched = s->cfg.probe_retry && kind != SWIM_PROBE_READMIT && refuted_at != 0 &&
                   now - refuted_at < (uint64_t)SWIM_STRETCH_PERIODS * s->cfg.probe_interval_ms;
    s->stats.probes++;
    probe_ping(s, p);
    uint64_t timeout = probe_timeout(s, p);
    swim__submit(s, SWIM_TIMER_PROBE_TIMEOUT, p->seq, 0, timeout);
    p->timer = SWIM_TIMER_PROBE_TIMEOUT;
    /* Plain SWIM judges at the end of the period; with probe_retry, once the
     * helpers' NACKs are due.  The JUDGE timer is armed by the timeout, and
     * only for a probe still unanswered then. */
    p->judge_at = now + (s->cfg.probe_retry ? timeout + helper_window(s)
                                            : scaled(s, s->cfg.probe_interval_ms));
    return p;
}

static void probe_judge(struct swim *s, struct swim_probe *p, bool answered, uint64_t now);

void swim__on_probe_timer(struct swim *s, uint64_t now)
{
    /* The period ended: a probe due now is judged before the next starts
     * (its JUDGE timer, due at the same instant, is cancelled). */
    for (size_t i = 0; i < SWIM_PROBES_MAX; i++)
        if (s->probes[i].target != NULL && s->probes[i].judge_at <= now)
            probe_judge(s, &s->probes[i], false, now);
    swim__submit(s, SWIM_TIMER_PROBE, s->epoch, 0, scaled(s, s->cfg.probe_interval_ms));
    if (s->state != SWIM_STATE_RUNNING)
        return;
    struct swim_member *m = swim__probe_next(s);
    if (m != NULL && !probing(s, m))
        (void)probe_start(s, m, SWIM_PROBE_PERIODIC, swim__id(s, m)->gen, &swim__id(s, m)->addr,
                          now);
}

void swim__on_probe_timeout_timer(struct swim *s, uint32_t seq, uint64_t now)
{
    struct swim_probe *p = probe_by_seq(s, seq);
    if (p == NULL || p->timer != SWIM_TIMER_PROBE_TIMEOUT)
        return; /* answered and judged, or forgotten (a runtime without cancel) */
    /* Unanswered.  The judgement keeps its own deadline, even if the runtime
     * handed this timer back a little early. */
    swim__submit(s, SWIM_TIMER_JUDGE, seq, 0, p->judge_at > now ? p->judge_at - now : 0);
    p->timer = SWIM_TIMER_JUDGE;
    struct swim_member *target = p->target;
    if (s->cfg.probe_retry)
        probe_ping(s, p);
    if (p->kind == SWIM_PROBE_READMIT)
        return; /* its own answer, not a helper's, proves it answers */
    struct swim_member *helpers[SWIM_PICK_MAX];
    size_t n = swim__pick_members(s, helpers, s->cfg.indirect_checks, target, false);
    struct wire_peer body;
    memset(&body, 0, sizeof(body));
    body.name.ptr = swim__id(s, target)->name;
    body.name.len = swim__id(s, target)->name_len;
    body.addr = p->addr;
    body.gen = p->gen;
    for (size_t i = 0; i < n; i++) {
        struct swim_pkt k;
        swim__pkt_begin(s, &k, WIRE_PING_REQ, 0, swim__id(s, helpers[i])->name,
                        swim__id(s, helpers[i])->name_len, swim__id(s, helpers[i])->gen, seq);
        if (wire_encode_peer(&k.p, k.end, WIRE_PING_REQ, &body) != 0)
            continue;
        swim__pkt_piggyback(s, &k);
        swim__pkt_send(s, &swim__id(s, helpers[i])->addr, &k);
        p->expected_nacks++;
    }
}

bool swim__probe_answered(struct swim *s, const struct wire_header *h,
                          const struct wire_peer *relayed, const struct swim_addr *from,
                          const struct swim_coord *coord, uint64_t now)
{
    const struct wire_name *who = relayed != NULL ? &relayed->name : &h->src;
    struct swim_probe *p = probe_by_seq(s, h->seq);
    if (p == NULL ||
        !swim__name_is(who, swim__id(s, p->target)->name, swim__id(s, p->target)->name_len))
        return false;
    s->answered_at = now;
    if (p->kind == SWIM_PROBE_READMIT) {
        /* Its own answer at the new generation: believe it, and ask for its
         * record (which the ACK need not carry). */
        struct swim_member *m = p->target;
        if (relayed != NULL || h->src_gen < p->gen)
            return true;
        struct swim_rare *x = swim__rare_of(s, m); /* held since swim__readmit */
        if (x != NULL && h->src_gen > x->verified_gen)
            x->verified_gen = h->src_gen;
        if (x != NULL)
            x->readmit_tries = 0;
        probe_end(s, p);
        struct wire_member r;
        swim__member_to_wire(s, s->self, &r);
        (void)swim__send_record(s, &p->addr, WIRE_GOSSIP, WIRE_F_WANT_REPLY, &r, false);
        return true;
    }
    /* The first answer ends the probe (a later one finds no probe); only a
     * direct one is timed. */
    if (relayed != NULL) {
        s->stats.probes_acked_indirect++;
    } else {
        s->stats.probes_acked++;
        swim__count_rtt(s, p->sent_at, now);
        /* Timed only when it comes from where the probe went: an ACK in the
         * target's name from elsewhere says nothing of the path, and must
         * not move our coordinate. */
        if (p->gen == swim__id(s, p->target)->gen && swim__addr_equal(from, &p->addr)) {
            swim__member_rtt(s, p->target, p->sent_at, now);
            if (coord != NULL)
                swim__coord_sample(s, p->target, coord, now > p->sent_at ? now - p->sent_at : 0);
        }
    }
    probe_judge(s, p, true, now);
    return true;
}

void swim__probe_nacked(struct swim *s, uint32_t seq, uint64_t now)
{
    struct swim_probe *p = probe_by_seq(s, seq);
    if (p != NULL) {
        p->nacks++;
        s->answered_at = now;
    }
}

/* This node accuses m (ALIVE or SUSPECT at the probed incarnation): raise
 * the suspicion, or add our confirmation to it and pass that on. */
static void accuse(struct swim *s, struct swim_member *m, uint64_t now)
{
    struct wire_name by = {.ptr = swim__id(s, s->self)->name,
                           .len = swim__id(s, s->self)->name_len};
    s->stats.accusations++;
    if (m->status == SWIM_SUSPECT) {
        if (swim__add_confirmation(s, m, &by, now))
            swim__queue_member(s, m, &by);
        return;
    }
    swim__member_set_status(s, m, SWIM_SUSPECT, now);
    s->stats.suspicions++;
    swim__queue_member(s, m, &by);
    swim__notify_member(s, SWIM_EV_MEMBER_SUSPECT, m);
    swim__start_suspicion(s, m, NULL, now);
    swim__tell_suspect(s, m, &by, NULL);
    swim__check_active(s);
}

/* Judge a probe and end it: when it is answered, or when its time is up
 * unanswered.  Answered, our health improves; unanswered, it worsens by
 * the NACKs that did not come (by 1 without helpers), and the target is
 * accused unless guard finds the evidence thin or the target refuted or
 * renewed meanwhile.  Health follows the periodic probes only, as in
 * Lifeguard. */
static void probe_judge(struct swim *s, struct swim_probe *p, bool answered, uint64_t now)
{
    struct swim_member *m = p->target;
    bool periodic = p->kind == SWIM_PROBE_PERIODIC;
    probe_end(s, p);
    if (p->kind == SWIM_PROBE_READMIT)
        return; /* unanswered: it stays failed; the next sign of it asks again */
    if (answered) {
        if (periodic && s->health > 0)
            s->health--;
        /* It answers but is still suspect here: its refutation was lost.
         * Remind it; it re-sends its newer incarnation on its next packets. */
        if (m->status == SWIM_SUSPECT)
            swim__tell_suspect(s, m, NULL, NULL);
        return;
    }
    s->stats.probe_failures++;
    if (periodic) {
        uint32_t missing = 1;
        if (p->expected_nacks > 0)
            missing = p->expected_nacks > p->nacks ? p->expected_nacks - p->nacks : 0;
        s->health =
            s->health + missing > s->cfg.awareness_max ? s->cfg.awareness_max : s->health + missing;
    }
    if (!swim__is_live(m->status) || swim__id(s, m)->gen != p->gen || m->inc != p->inc)
        return; /* it refuted, renewed or was declared meanwhile */
    if (s->cfg.guard && p->expected_nacks > 0 && p->nacks == 0)
        return; /* no helper answered either: the fault is likely ours */
    if (m->status == SWIM_SUSPECT && s->cfg.suspicion_max_mult <= 1 && s->cfg.reprobe == 0)
        return; /* no confirmations to count: a suspect is not accused again */
    accuse(s, m, now);
}

void swim__on_judge_timer(struct swim *s, uint32_t seq, uint64_t now)
{
    struct swim_probe *p = probe_by_seq(s, seq);
    if (p == NULL || p->timer != SWIM_TIMER_JUDGE)
        return;
    p->timer = 0; /* handed back: nothing to cancel */
    probe_judge(s, p, false, now);
}

void swim__reprobe(struct swim *s, struct swim_member *m, uint64_t now)
{
    size_t others = swim__cluster_n(s) - 1;
    if (s->cfg.reprobe == 0 || probing(s, m) || others == 0 ||
        prng_below(&s->rng, others) >= s->cfg.reprobe)
        return;
    (void)probe_start(s, m, SWIM_PROBE_CHECK, swim__id(s, m)->gen, &swim__id(s, m)->addr, now);
}

void swim__readmit(struct swim *s, struct swim_member *m, uint64_t gen,
                   const struct swim_addr *addr, uint64_t now)
{
    if (!swim__notice_take(
            s, m, (uint64_t)SWIM_NOTICE_GAP_MS << swim__rare_get(s, m)->readmit_tries, now))
        return;
    if (probe_start(s, m, SWIM_PROBE_READMIT, gen, addr, now) != NULL &&
        swim__rare_at(s, m)->readmit_tries < SWIM_READMIT_BACKOFF_MAX)
        swim__rare_at(s, m)->readmit_tries++; /* reset when it answers */
}

/* ------------------------------------------------------------ suspicion */

/* The shortest Lifeguard suspicion: suspicion_mult * max(1, log10 N)
 * periods. */
static uint64_t suspicion_min_ms(const struct swim *s)
{
    double f = log10((double)swim__cluster_n(s));
    if (f < 1.0)
        f = 1.0;
    return (uint64_t)(s->cfg.suspicion_mult * f * s->cfg.probe_interval_ms);
}

/* The floor that confirmations beyond k reach (reprobe). */
static uint64_t suspicion_floor_ms(const struct swim *s)
{
    uint64_t floor = (uint64_t)s->cfg.probe_interval_ms * SWIM_SUSPECT_FLOOR_PCT / 100;
    uint64_t min = suspicion_min_ms(s);
    return floor < min ? floor : min;
}

/* The suspicion timeout after c independent confirmations (see the top). */
static uint64_t suspicion_timeout(const struct swim *s, uint32_t c)
{
    uint64_t min = suspicion_min_ms(s);
    uint64_t max = min * s->cfg.suspicion_max_mult;
    int64_t others = (int64_t)swim__cluster_n(s) - 2; /* neither us nor the suspect */
    int64_t k = (int64_t)s->cfg.suspicion_mult - 2;
    if (others < k || k < 1)
        return min; /* too few members to confirm: memberlist's choice */
    if ((int64_t)c <= k || s->cfg.reprobe == 0) {
        if (max <= min)
            return min;
        double frac = log((double)c + 1.0) / log((double)k + 1.0);
        double t = (double)max - (double)(max - min) * frac;
        return t < (double)min ? min : (uint64_t)t;
    }
    int64_t top = SWIM_CONFIRM_MAX - 1; /* the most confirmations counted */
    if (others < top)
        top = others;
    if (top <= k)
        return min;
    uint64_t floor = suspicion_floor_ms(s);
    double frac = log((double)((int64_t)c - k) + 1.0) / log((double)(top - k) + 1.0);
    double t = (double)min - (double)(min - floor) * (frac > 1.0 ? 1.0 : frac);
    return t < (double)floor ? floor : (uint64_t)t;
}

static uint16_t confirmer_hash(const struct wire_name *by)
{
    return (uint16_t)hash_fnv1a(by->ptr, by->len);
}

void swim__start_suspicion(struct swim *s, struct swim_member *m, const struct wire_name *by,
                           uint64_t now)
{
    uint64_t t = suspicion_timeout(s, 0);
    struct wire_name self = {.ptr = swim__id(s, s->self)->name,
                             .len = swim__id(s, s->self)->name_len};
    swim__set_since(m, now); /* the suspicion's start, which confirmations count from */
    struct swim_rare *x = swim__rare_of(s, m);
    if (x == NULL)
        return; /* out of memory: untimed; a probe or a record settles it */
    if (x->uid == 0)
        x->uid = ++s->next_uid;
    x->suspect_epoch++;
    /* The accuser is remembered, not counted (as memberlist does).  A
     * record without one (from a table) names nobody: our own accusation
     * then counts as a confirmation. */
    x->confirm[0] = by == NULL ? confirmer_hash(&self) : by->len > 0 ? confirmer_hash(by) : 0;
    x->confirms = 1;
    x->suspect_deadline = now + t;
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

/* Bring m's deadline forward to `deadline` (never back). */
static void suspicion_shorten(struct swim *s, struct swim_member *m, uint64_t deadline,
                              uint64_t now)
{
    if (m->rare == 0 || deadline >= swim__rare_at(s, m)->suspect_deadline)
        return;
    swim__rare_at(s, m)->suspect_deadline = deadline;
    swim__submit_suspicion(s, SWIM_TIMER_SUSPECT, m, deadline > now ? deadline - now : 0);
}

bool swim__add_confirmation(struct swim *s, struct swim_member *m, const struct wire_name *by,
                            uint64_t now)
{
    if (by == NULL || by->len == 0 || m->rare == 0)
        return false;
    struct swim_rare *x = swim__rare_at(s, m); /* held since the suspicion began */
    uint16_t h = confirmer_hash(by);
    for (uint8_t i = 0; i < x->confirms; i++)
        if (x->confirm[i] == h)
            return false;
    if (x->confirms >= SWIM_CONFIRM_MAX)
        return false;
    x->confirm[x->confirms++] = h;
    suspicion_shorten(s, m, swim__since(m) + suspicion_timeout(s, x->confirms - 1u), now);
    return true;
}

void swim__confirm_verdict(struct swim *s, struct swim_member *m, const struct wire_name *by,
                           uint64_t now)
{
    (void)swim__add_confirmation(s, m, by, now);
    suspicion_shorten(s, m, swim__since(m) + suspicion_floor_ms(s), now);
}

/* guard: may this node turn m's suspicion into a verdict now?  Only when
 * one of its probes was answered in time (an ACK or a NACK) lately, or no
 * live member other than m is left to answer. */
static bool verdict_trusted(const struct swim *s, const struct swim_member *m, uint64_t now)
{
    uint64_t window = scaled(s, (uint64_t)SWIM_HEARD_PERIODS * s->cfg.probe_interval_ms);
    if (s->answered_at != 0 && now - s->answered_at <= window)
        return true;
    return s->n_active <= (swim__is_live(m->status) ? 1u : 0u);
}

void swim__on_suspect_timer(struct swim *s, const struct swim_timer *t, uint64_t now)
{
    struct swim_member *m = swim__member_by_timer(s, t);
    if (m == NULL || m->status != SWIM_SUSPECT || swim__rare_at(s, m)->suspect_epoch != t->arg32)
        return; /* (a member a timer finds has its rare state: the uid is in it) */
    if (now < swim__rare_at(s, m)->suspect_deadline) {
        /* Early: a runtime's clock may run a little behind its timers
         * (libevent's cached time does).  Wait out the rest rather than
         * let the suspicion hang. */
        swim__submit_suspicion(s, SWIM_TIMER_SUSPECT, m,
                               swim__rare_at(s, m)->suspect_deadline - now);
        return;
    }
    if (s->cfg.guard && !verdict_trusted(s, m, now)) {
        /* Held: ask the suspect once more and look again in a period. */
        s->stats.verdicts_held++;
        swim__rare_at(s, m)->suspect_deadline = now + s->cfg.probe_interval_ms;
        swim__submit_suspicion(s, SWIM_TIMER_SUSPECT, m, s->cfg.probe_interval_ms);
        swim__tell_suspect(s, m, NULL, NULL);
        return;
    }
    struct wire_name by = {.ptr = swim__id(s, s->self)->name,
                           .len = swim__id(s, s->self)->name_len};
    swim__member_set_status(s, m, SWIM_FAILED, now);
    swim__queue_member(s, m, s->cfg.guard ? &by : NULL);
    swim__notify_member(s, SWIM_EV_MEMBER_FAILED, m);
    swim__check_active(s);
}

void swim__on_suspect_check_timer(struct swim *s, const struct swim_timer *t)
{
    struct swim_member *m = swim__member_by_timer(s, t);
    if (m == NULL || m->status != SWIM_SUSPECT || swim__rare_at(s, m)->suspect_epoch != t->arg32)
        return;
    swim__tell_suspect(s, m, NULL, NULL);
}

/* --------------------------------------------------- relaying for others */

/* The relay of our ping with sequence seq, or NULL. */
static struct swim_relay *relay_by_seq(struct swim *s, uint32_t seq)
{
    for (size_t i = 0; s->relays != NULL && i < SWIM_RELAY_MAX; i++)
        if (s->relays[i].used && s->relays[i].local_seq == seq)
            return &s->relays[i];
    return NULL;
}

static void relay_ping(struct swim *s, const struct swim_relay *r)
{
    swim__send_ping(s, &r->target_addr, r->target, r->target_len, r->target_gen, r->local_seq,
                    NULL);
}

void swim__relay_start(struct swim *s, const struct swim_addr *origin, uint32_t origin_seq,
                       const struct wire_peer *target)
{
    struct swim_relay *r = NULL;
    if (s->relays == NULL && (s->relays = calloc(SWIM_RELAY_MAX, sizeof(*s->relays))) == NULL)
        return; /* out of memory: dropped, as when the table is full */
    for (size_t i = 0; i < SWIM_RELAY_MAX && r == NULL; i++)
        if (!s->relays[i].used)
            r = &s->relays[i];
    if (r == NULL)
        return;
    r->used = true;
    r->retried = false;
    r->local_seq = ++s->seq;
    r->origin_seq = origin_seq;
    r->origin = *origin;
    r->target_len = target->name.len;
    memcpy(r->target, target->name.ptr, target->name.len);
    swim__addr_copy(&r->target_addr, &target->addr);
    r->target_gen = target->gen;
    relay_ping(s, r);
    uint64_t nack_at = helper_window(s) * SWIM_NACK_PCT / 100;
    if (s->cfg.probe_retry) /* ping again half way to the NACK */
        swim__submit(s, SWIM_TIMER_RELAY, r->local_seq, 1, nack_at / 2);
    swim__submit(s, SWIM_TIMER_RELAY, r->local_seq, 0, nack_at);
}

void swim__relay_answered(struct swim *s, const struct wire_header *h)
{
    struct swim_relay *r = relay_by_seq(s, h->seq);
    if (r == NULL || !swim__name_is(&h->src, r->target, r->target_len))
        return;
    r->used = false;
    swim__cancel(s, SWIM_TIMER_RELAY, r->local_seq, 0);
    if (s->cfg.probe_retry && !r->retried)
        swim__cancel(s, SWIM_TIMER_RELAY, r->local_seq, 1);
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

void swim__on_relay_timer(struct swim *s, uint32_t seq, bool retry)
{
    struct swim_relay *r = relay_by_seq(s, seq);
    if (r == NULL)
        return;
    if (retry) {
        r->retried = true;
        relay_ping(s, r);
        return;
    }
    r->used = false;
    swim__send_simple(s, &r->origin, WIRE_NACK, 0, NULL, r->origin_seq);
}
