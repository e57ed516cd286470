/*
 * update.c - state changes: applying the records a datagram carries, and
 * the notifications they raise.
 *
 * Precedence.  A record with a higher generation always wins (the node
 * restarted or renewed).  At equal generation FAILED and LEFT are final;
 * otherwise a higher incarnation wins, and at equal incarnation the status
 * with the higher rank wins (ALIVE < SUSPECT < FAILED < LEFT).  A record
 * that wins replaces ours, is queued for dissemination, and raises the
 * notification its change means.
 *
 * Records about this node: a suspicion at our incarnation or above is
 * refuted with a higher incarnation; FAILED or LEFT (without our leaving)
 * makes this node SELF_DEFUNCT, and it renews with generation + 1, then
 * SELF_REJOINED.  A live record with our name and another address is a
 * twin: counted in name_conflicts, never fought over.
 *
 * Merge (records from SYNC and FEED): a FAILED record about a member we
 * believe alive is applied as SUSPECT (our own probing decides), and the
 * subject is sent the FAILED record so that, if it is alive on the other
 * side of a partition, it renews.  With guard (probe.c) every FAILED
 * record is taken that way, as a suspicion or, about a member we already
 * suspect, a confirmation; and a new generation of a member we hold FAILED
 * is taken only once the member has answered our ping at it (probe.c's
 * READMIT probes).  A confirmation we did not have is passed on.  A
 * refutation carries the subject's own name as "by": whoever applies it
 * notes that the member refuted lately (probe_retry gives it a longer probe
 * window).  However many records one datagram carries, it makes this node
 * answer, raise its health and renew at most once.
 * A member first learned from a table is not queued: anti-entropy
 * spreads tables (sync.c), and a joiner's FEED would otherwise fill its
 * queue with records everyone has, ahead of its own; with anti-entropy
 * off, gossip is all there is, and it is queued as all but spent (sent
 * once more, after everything else).
 */
#include "swim_int.h"

/* ---------------------------------------------------------- notifications */

void swim__notify_member(struct swim *s, enum swim_event ev, const struct swim_member *m)
{
    struct swim_notification n;
    memset(&n, 0, sizeof(n));
    n.type = ev;
    swim__member_info(s, m, &n.member);
    s->rt.notify(s->rt.ctx, &n);
}

void swim__notify_self(struct swim *s, enum swim_event ev)
{
    struct swim_notification n;
    memset(&n, 0, sizeof(n));
    n.type = ev;
    swim_self(s, &n.member);
    s->rt.notify(s->rt.ctx, &n);
}

void swim__check_active(struct swim *s)
{
    if (s->state != SWIM_STATE_RUNNING)
        return;
    bool now_active = s->n_active > 0;
    if (now_active == s->active)
        return;
    s->active = now_active;
    if (now_active) {
        swim__sync_soon(s);  /* members that joined together find each other */
        swim__gossip_now(s); /* and the others hear of this node at once */
    }
    swim__notify_self(s, now_active ? SWIM_EV_SELF_ACTIVE : SWIM_EV_SELF_IDLE);
}

/* ------------------------------------------------------- applying records */

/* Others hold this node as failed (or left, though it did not leave):
 * report it, come back with a generation above min_gen, report that. */
static void renew_self(struct swim *s, uint64_t min_gen)
{
    uint64_t gen = min_gen > swim__id(s, s->self)->gen ? min_gen : swim__id(s, s->self)->gen;
    swim__notify_self(s, SWIM_EV_SELF_DEFUNCT);
    /* At the ceiling (or out of memory for the new identity): stays
     * defunct until tombstones are reaped. */
    if (!swim__gen_next(&gen) || swim__self_set_gen(s, gen) != 0)
        return;

    s->self->inc = 0;
    s->self->status = SWIM_ALIVE;
    swim__queue_member(s, s->self, NULL);
    swim__notify_self(s, SWIM_EV_SELF_REJOINED);
}

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
    size_t inserted; /* members the items made known */
};

/* Refute: take an incarnation above `seen`.  Near the top of the range a
 * new generation is taken instead, so the counter never wraps. */
static void refute(struct swim *s, uint32_t seen)
{
    if (seen >= UINT32_MAX - 1) {
        uint64_t gen = swim__id(s, s->self)->gen;
        if (!swim__gen_next(&gen) || swim__self_set_gen(s, gen) != 0)
            return;
        s->self->inc = 0;
    } else {
        s->self->inc = seen + 1;
    }
    /* Marked as a refutation ("by" ourselves): members that see it give
     * us a longer probe window for a while (probe.c, probe_retry). */
    struct wire_name by = {.ptr = swim__id(s, s->self)->name,
                           .len = swim__id(s, s->self)->name_len};
    swim__queue_member(s, s->self, &by);
}

/* A record about this node. */
static void apply_self(struct swim *s, const struct wire_member *r, struct swim_apply *c)
{
    if (s->state != SWIM_STATE_RUNNING || r->gen < swim__id(s, s->self)->gen ||
        !swim__gen_plausible(r->gen, swim__id(s, s->self)->gen))
        return;
    if (r->gen > swim__id(s, s->self)->gen) {
        if (swim__is_live(r->status) &&
            (r->addr.len != swim__id(s, s->self)->addr.len ||
             memcmp(r->addr.bytes, swim__id(s, s->self)->addr.bytes, r->addr.len) != 0)) {
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
        if (r->inc >= s->self->inc) {
            refute(s, r->inc);
            s->stats.refutations++;
            if (!c->raised_health && s->health < s->cfg.awareness_max)
                s->health++;
            c->raised_health = true;
        } else if (s->self->queued == 0) {
            /* Someone still suspects an older incarnation: our refutation
             * ran out of retransmits (lost while our links were down). */
            swim__queue_member(s, s->self, NULL);
        }
        c->answer = true;
        break;
    case SWIM_FAILED:
    case SWIM_LEFT:
        if (!c->renewed)
            renew_self(s, swim__id(s, s->self)->gen);
        c->renewed = true;
        c->answer = true;
        break;
    default:
        if (r->inc > s->self->inc)
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
    if (r->gen > SWIM_GEN_MAX || r->inc == UINT32_MAX)
        return false;
    if (swim__name_is(&r->name, swim__id(s, s->self)->name, swim__id(s, s->self)->name_len)) {
        apply_self(s, r, c);
        return false;
    }
    struct swim_member *m = swim__member_find(s, r->name.ptr, r->name.len);
    if (m == NULL) {
        /* A tombstone of a member we never knew (or already reaped) is not
         * news: taking it would resurrect reaped members forever. */
        if (!swim__is_live(r->status) || r->gen > SWIM_GEN_FIRST_MAX)
            return false;
        if (swim__member_reserve(s) != 0)
            return false;
        m = swim__member_insert(s, r, now);
        if (m == NULL)
            return false;
        c->inserted++;
        /* A member first heard of: from a table it travels on in tables
         * (sync.c), so it is not queued, or passed on once, last, without
         * anti-entropy; by gossip while this node is learning members from
         * tables (members are joining in numbers) it is passed on
         * SWIM_LEARN_SENDS times, last; otherwise it is news to spread. */
        if (c->mode != SWIM_APPLY_MERGE || s->cfg.sync_interval_ms == 0)
            swim__queue_member(s, m, &r->by);
        if (c->mode == SWIM_APPLY_MERGE && m->queued != 0)
            swim__queue_demote(s, swim__queued(s, m), 1);
        else if (m->queued != 0 && swim__sync_learning(s))
            swim__queue_demote(s, swim__queued(s, m), SWIM_LEARN_SENDS);
        if (swim__is_live(m->status))
            swim__notify_member(s, SWIM_EV_MEMBER_JOINED, m);
        if (m->status == SWIM_SUSPECT) {
            swim__notify_member(s, SWIM_EV_MEMBER_SUSPECT, m);
            swim__start_suspicion(s, m, &r->by, now);
        }
        swim__check_active(s);
        return true;
    }

    uint8_t old = m->status;
    uint8_t status = r->status;
    bool verdict = false; /* a FAILED record taken as a suspicion (guard) */
    if (r->gen < swim__id(s, m)->gen || !swim__gen_plausible(r->gen, swim__id(s, m)->gen))
        return false;
    if (r->gen == swim__id(s, m)->gen) {
        if (old == SWIM_LEFT || (old == SWIM_FAILED && status != SWIM_LEFT))
            return false; /* final for this generation */
        if (old == SWIM_FAILED && status == SWIM_LEFT) {
            /* an operator's force-leave of a failed member: accept */
        } else if (r->inc < m->inc) {
            return false;
        } else if (r->inc == m->inc && status <= old) {
            /* A confirmation we did not have yet goes on, as memberlist
             * re-gossips it, so independent confirmations reach everyone. */
            if (status == SWIM_SUSPECT && old == SWIM_SUSPECT &&
                swim__add_confirmation(s, m, &r->by, now) &&
                (s->cfg.suspicion_max_mult > 1 || s->cfg.reprobe > 0))
                swim__queue_member(s, m, &r->by);
            return false;
        }
    } else if (s->cfg.guard && old == SWIM_FAILED && swim__is_live(status) &&
               r->gen > swim__rare_get(s, m)->verified_gen) {
        /* A failed member's new generation: only once it answers us. */
        swim__readmit(s, m, r->gen, &r->addr, now);
        return false;
    }
    if (status == SWIM_FAILED && swim__is_live(old) && (mode == SWIM_APPLY_MERGE || s->cfg.guard)) {
        /* Another's verdict about a member we hold alive: a suspicion here
         * (memberlist's merge rule, and with guard every FAILED record);
         * the subject is warned, so that, alive on the other side of a
         * partition, it renews. */
        if (c->notices < SWIM_NOTICES_PER_PACKET &&
            swim__notice_take(s, m, SWIM_NOTICE_GAP_MS, now)) {
            c->notices++;
            swim__send_notice(s, &swim__id(s, m)->addr, r);
        }
        verdict = s->cfg.guard;
        if (old == SWIM_SUSPECT && r->gen == swim__id(s, m)->gen && r->inc == m->inc) {
            if (verdict)
                swim__confirm_verdict(s, m, &r->by, now);
            return false;
        }
        status = SWIM_SUSPECT;
    }

    /* A new address or generation is a new identity (ident.c), got before
     * anything changes: out of memory, the record is not taken. */
    const struct swim_ident *id = swim__id(s, m);
    bool addr_changed = !swim__addr_equal(&id->addr, &r->addr);
    bool renewed = r->gen != id->gen;
    if ((addr_changed || renewed) &&
        (id = swim__ident_get(s->ids, id->name, id->name_len, &r->addr, r->gen)) == NULL)
        return false;
    bool meta_changed = swim__member_set_meta(s, m, r->meta, r->meta_len) > 0;
    /* A refutation (its marker: ALIVE "by" the subject itself) or a
     * renewal after a verdict: the member was slow or away lately. */
    bool refuted = status == SWIM_ALIVE &&
                   (old != SWIM_ALIVE ||
                    swim__name_is(&r->by, swim__id(s, m)->name, swim__id(s, m)->name_len));

    if (renewed && m->rare != 0) {
        swim__rare_at(s, m)->srtt_us = SWIM_RTT_UNKNOWN; /* another process: its path may differ */
        swim__coord_forget(s, m);
    }
    swim__member_set_record(s, m, id, r->inc, status, now);
    if (refuted && swim__rare_of(s, m) != NULL)
        swim__rare_at(s, m)->refuted_at = now;

    struct wire_member q;
    swim__member_to_wire(s, m, &q);
    if (status != SWIM_ALIVE ||
        swim__name_is(&r->by, swim__id(s, m)->name, swim__id(s, m)->name_len))
        q.by = r->by;
    swim__queue_member_record(s, &q, &m->queued);

    if (old == SWIM_SUSPECT && status == SWIM_ALIVE && !renewed)
        s->stats.suspicions_refuted++;
    if (status == SWIM_SUSPECT && (old != SWIM_SUSPECT || renewed)) {
        if (!swim__is_live(old))
            swim__notify_member(s, SWIM_EV_MEMBER_ALIVE, m);
        swim__notify_member(s, SWIM_EV_MEMBER_SUSPECT, m);
        swim__start_suspicion(s, m, &r->by, now);
        if (verdict)
            swim__confirm_verdict(s, m, NULL, now);
        swim__reprobe(s, m, now);
    } else if (status == SWIM_SUSPECT && verdict) {
        swim__confirm_verdict(s, m, &r->by, now);
    } else if (status == SWIM_ALIVE && old != SWIM_ALIVE) {
        swim__notify_member(s, SWIM_EV_MEMBER_ALIVE, m);
    } else if (status == SWIM_FAILED && old != SWIM_FAILED) {
        swim__notify_member(s, SWIM_EV_MEMBER_FAILED, m);
    } else if (status == SWIM_LEFT && old != SWIM_LEFT) {
        swim__notify_member(s, SWIM_EV_MEMBER_LEFT, m);
    }
    if ((meta_changed || addr_changed) && swim__is_live(status) && swim__is_live(old) && !renewed)
        swim__notify_member(s, SWIM_EV_MEMBER_UPDATED, m);
    else if ((meta_changed || addr_changed) && renewed && old == SWIM_ALIVE && status == SWIM_ALIVE)
        swim__notify_member(s, SWIM_EV_MEMBER_UPDATED, m);
    swim__check_active(s);
    return true;
}

/* Items of one datagram, framing already checked: a bad record is skipped,
 * unknown kinds too; our record goes back to `from` at most once. */
size_t swim__apply_items(struct swim *s, const uint8_t *p, const uint8_t *end,
                         enum swim_apply_mode mode, const struct swim_addr *from, uint64_t now)
{
    struct wire_item it;
    struct swim_apply c = {.mode = mode, .from = from, .now = now};
    /* The first SWIM_PREFETCH_MAX member records are decoded first and the
     * members they name looked up together: in a large table each lookup
     * waits on memory, and together the waits overlap.  They are applied
     * in the datagram's order below, as decoded here. */
    struct wire_member recs[SWIM_PREFETCH_MAX];
    struct wire_name names[SWIM_PREFETCH_MAX];
    bool decoded[SWIM_PREFETCH_MAX];
    size_t n = 0, named = 0, next = 0;
    for (const uint8_t *q = p;
         q < end && n < SWIM_PREFETCH_MAX && wire_decode_item(&it, &q, end) == 0;) {
        const uint8_t *ip = it.data;
        if (it.kind != WIRE_ITEM_MEMBER)
            continue;
        decoded[n] = wire_decode_member(&recs[n], &ip, it.data + it.len) == 0;
        if (decoded[n])
            names[named++] = recs[n].name;
        n++;
    }
    swim__member_prefetch(s, names, named);
    /* Bounded by the datagram: every item consumes at least 3 bytes. */
    while (p < end && wire_decode_item(&it, &p, end) == 0) {
        const uint8_t *ip = it.data, *iend = it.data + it.len;
        if (it.kind == WIRE_ITEM_MEMBER) {
            struct wire_member later;
            const struct wire_member *r = next < n ? &recs[next] : &later;
            bool ok = next < n ? decoded[next] : wire_decode_member(&later, &ip, iend) == 0;
            next++;
            if (!ok) {
                s->stats.malformed++; /* one bad member is skipped */
                continue;
            }
            (void)apply_member(s, r, &c);
        } else if (it.kind == WIRE_ITEM_USER) {
            struct wire_user u;
            if (wire_decode_user(&u, &ip, iend) != 0) {
                s->stats.malformed++;
                continue;
            }
            swim__deliver_user(s, &u, it.data, it.len);
        }
        /* unknown kinds are skipped */
    }
    if (c.answer)
        swim__answer_self(s, from);
    return c.inserted;
}
