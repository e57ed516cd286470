/*
 * stats.c - the counters that need more than an increment: datagrams by
 * type and the histogram of probe round trips, with the names and bounds
 * that readers (the agent's metrics) label them by; and members by status.
 *
 * Round trips are measured from the `now` values the core is handed (the
 * ping's and its ACK's), so they have the caller's resolution (the agent's
 * milliseconds: a loopback probe counts as 0 ms) and no clock is read here.
 * The buckets run from 1 ms (a LAN) to 5 s (the wan profile's period); an
 * answer later than that still counts, in the last bucket.  Each direct
 * answer also feeds its member's smoothed RTT (swim__member_rtt()), which
 * starts over when the member's generation changes (update.c).
 */
#include "swim_int.h"

static const uint32_t rtt_bounds_ms[SWIM_RTT_BUCKETS - 1] = {1,   2,   5,   10,   25,   50,
                                                             100, 250, 500, 1000, 2500, 5000};

static const char *const dgram_names[SWIM_DGRAM_TYPES] = {
    [0] = "unknown",      [WIRE_PING] = "ping",
    [WIRE_ACK] = "ack",   [WIRE_PING_REQ] = "ping-req",
    [WIRE_NACK] = "nack", [WIRE_ANNOUNCE] = "announce",
    [WIRE_FEED] = "feed", [WIRE_GOSSIP] = "gossip",
    [WIRE_SYNC] = "sync", [WIRE_DIRECT] = "direct",
};
_Static_assert(SWIM_DGRAM_TYPES == WIRE_TYPE_LAST + 1, "one counter per datagram type");

uint32_t swim_rtt_bound_ms(size_t i)
{
    return i < SWIM_RTT_BUCKETS - 1 ? rtt_bounds_ms[i] : UINT32_MAX;
}

const char *swim_dgram_name(size_t type)
{
    return type < SWIM_DGRAM_TYPES ? dgram_names[type] : dgram_names[0];
}

void swim_count_members(const struct swim *s, size_t counts[SWIM_LEFT + 1])
{
    memset(counts, 0, (SWIM_LEFT + 1) * sizeof(counts[0]));
    counts[s->self->status <= SWIM_LEFT ? s->self->status : SWIM_ALIVE]++;
    for (size_t i = 0; i < s->n_all; i++)
        if (swim__member_at(s, i)->status <= SWIM_LEFT)
            counts[swim__member_at(s, i)->status]++;
}

void swim__count_dgram(struct swim *s, bool out, uint8_t type, size_t len)
{
    struct swim_traffic *t = out ? s->stats.out_by_type : s->stats.in_by_type;
    size_t i = type < SWIM_DGRAM_TYPES ? type : 0;
    t[i].packets++;
    t[i].bytes += len;
}

void swim__count_rtt(struct swim *s, uint64_t sent, uint64_t now)
{
    uint64_t ms = now > sent ? now - sent : 0;
    size_t i = 0;
    while (i < SWIM_RTT_BUCKETS - 1 && ms > rtt_bounds_ms[i])
        i++;
    s->stats.probe_rtt[i]++;
    s->stats.probe_rtt_sum_ms += ms;
}

/* TCP's SRTT (RFC 6298): srtt += (sample - srtt) / 8, in microseconds from
 * the millisecond clock the core is given. */
void swim__member_rtt(struct swim *s, struct swim_member *m, uint64_t sent, uint64_t now)
{
    uint64_t ms = now > sent ? now - sent : 0;
    int64_t us = ms < (SWIM_RTT_UNKNOWN - 1) / 1000 ? (int64_t)(ms * 1000) : SWIM_RTT_UNKNOWN - 1;
    struct swim_rare *x = swim__rare_of(s, m);
    if (x == NULL)
        return;
    if (x->srtt_us == SWIM_RTT_UNKNOWN)
        x->srtt_us = (uint32_t)us;
    else
        x->srtt_us = (uint32_t)((int64_t)x->srtt_us + (us - (int64_t)x->srtt_us) / 8);
}
