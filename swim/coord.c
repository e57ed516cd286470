/*
 * coord.c - network coordinates: this node's Vivaldi coordinate, the last
 * coordinate each member sent, and the distance between two of them.
 *
 * How it works
 * ------------
 * Vivaldi (Dabek, Cox, Kaashoek, Morris, SIGCOMM 2004) places every node in
 * a space where the distance between two nodes predicts their round trip.
 * The space is Euclidean in SWIM_COORD_DIM dimensions plus a height: the
 * distance is |a - b| + a.height + b.height, the height standing for the
 * access link a node's every packet crosses, which no Euclidean position
 * can model.  Serf and Consul run it with the constants used below (from
 * Ledlie, Gardner and Seltzer, "Network Coordinates in the Wild", NSDI
 * 2007), and so does swimd:
 *
 *   - A sample is the round trip of a direct probe answer and the answering
 *     node's coordinate, which its ACK carries (in whole milliseconds, the
 *     core's clock: 0 ms counts as half of one).  The round trip fed to the
 *     update is the median of the member's last SWIM_COORD_FILTER samples,
 *     so one delayed answer does not throw the coordinate off.
 *   - Adaptive timestep: each node keeps an error estimate (relative, 1.5 at
 *     the start).  The sample's weight is our error over the sum of both
 *     errors, so a confident node is moved little by an unsure one; our
 *     error moves toward the sample's relative error by SWIM_COORD_CE times
 *     that weight, and the coordinate moves along the line between the two
 *     nodes by SWIM_COORD_CC * weight * (rtt - predicted).  Heights grow and
 *     shrink with the same force, in proportion.
 *   - Serf's adjustment: the mean of the last SWIM_COORD_ADJUST_WINDOW
 *     residuals (rtt minus the raw distance), halved, is added to each
 *     node's distances; it absorbs what the space cannot embed.
 *   - Gravity toward the origin (rho = SWIM_COORD_RHO_S seconds) keeps the
 *     whole cluster from drifting, without changing relative positions.
 *   - Two nodes at the same point are pushed apart along a random direction,
 *     drawn from a PRNG of its own, seeded from the instance's seed (the
 *     protocol's draws, and so its runs, stay what they were).
 *
 * Outside input is hostile.  A coordinate from the wire is finite by the
 * decoder and checked here against swim_coord_valid()'s bounds; a round
 * trip above SWIM_COORD_RTT_MAX_MS is no sample.  With the peer's
 * coordinate bounded, one sample moves us at most SWIM_COORD_CC times the
 * distance it claims, and the filter needs two lying samples out of three;
 * after every update our coordinate is clamped into the bounds (a value that
 * is not finite, which no bounded input produces, resets it to the origin,
 * as Serf does).
 */
#include <math.h>
#include <stdlib.h>

#include "err.h"
#include "swim_int.h"

/* Serf's tuning (Ledlie et al.): the largest share of the error estimate
 * one sample can move, and the largest share of the gap between predicted
 * and measured round trip one sample can close. */
#define SWIM_COORD_CE 0.25
#define SWIM_COORD_CC 0.25
/* Gravity's length scale: the pull is (distance to origin / rho)^2, so at
 * 150 s it is negligible for any real round trip and only stops drift. */
#define SWIM_COORD_RHO_S 150.0
/* Below this (a microsecond) a length counts as zero: no division by it. */
#define SWIM_COORD_ZERO_S 1.0e-6
/* Round trips come from the millisecond clock the core is given, so a
 * sample of 0 ms means "under a millisecond" (a LAN, loopback); it counts
 * as half of one.  Taken at face value (a microsecond, the floor above),
 * every such sample would look hugely wrong against any estimate, and
 * would keep the error estimate at its ceiling. */
#define SWIM_COORD_SUBMS_S 0.0005

static double coord_raw_distance(const struct swim_coord *a, const struct swim_coord *b)
{
    double sum = 0;
    for (size_t i = 0; i < SWIM_COORD_DIM; i++) {
        double d = a->vec[i] - b->vec[i];
        sum += d * d;
    }
    return sqrt(sum) + a->height + b->height;
}

/* Serf's DistanceTo: the raw distance with both adjustments, unless that
 * would make it negative. */
static double coord_distance(const struct swim_coord *a, const struct swim_coord *b)
{
    double raw = coord_raw_distance(a, b);
    double adjusted = raw + a->adjustment + b->adjustment;
    return adjusted > 0 ? adjusted : raw;
}

static bool coord_in(double v, double lo, double hi)
{
    return isfinite(v) && v >= lo && v <= hi;
}

int swim_coord_valid(const struct swim_coord *c)
{
    if (c == NULL)
        return 0;
    for (size_t i = 0; i < SWIM_COORD_DIM; i++)
        if (!coord_in(c->vec[i], -SWIM_COORD_SPAN_S, SWIM_COORD_SPAN_S))
            return 0;
    return coord_in(c->height, SWIM_COORD_HEIGHT_MIN_S, SWIM_COORD_SPAN_S) &&
           coord_in(c->error, 0, SWIM_COORD_ERROR_MAX) &&
           coord_in(c->adjustment, -SWIM_COORD_SPAN_S, SWIM_COORD_SPAN_S);
}

uint64_t swim_coord_rtt_us(const struct swim_coord *a, const struct swim_coord *b)
{
    if (!swim_coord_valid(a) || !swim_coord_valid(b))
        return 0;
    /* Bounded: at most sqrt(DIM) * 2 * SPAN + 4 * SPAN seconds. */
    return (uint64_t)(coord_distance(a, b) * 1e6 + 0.5);
}

/* The origin, as unsure as a coordinate can be. */
static void coord_origin(struct swim_coord *c)
{
    memset(c, 0, sizeof(*c));
    c->height = SWIM_COORD_HEIGHT_MIN_S;
    c->error = SWIM_COORD_ERROR_MAX;
}

void swim__coord_init(struct swim *s, uint64_t seed)
{
    coord_origin(&s->coord.self);
    prng_seed(&s->coord.rng, seed ^ 0x636F6F7264ull); /* "coord" */
}

static double coord_clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Back within the bounds after an update; the origin if anything is not
 * finite. */
static void coord_bound(struct swim_coord *c)
{
    bool finite = isfinite(c->height) && isfinite(c->error) && isfinite(c->adjustment);
    for (size_t i = 0; i < SWIM_COORD_DIM; i++) {
        finite = finite && isfinite(c->vec[i]);
        c->vec[i] = coord_clamp(c->vec[i], -SWIM_COORD_SPAN_S, SWIM_COORD_SPAN_S);
    }
    if (!finite) {
        coord_origin(c);
        return;
    }
    c->height = coord_clamp(c->height, SWIM_COORD_HEIGHT_MIN_S, SWIM_COORD_SPAN_S);
    c->error = coord_clamp(c->error, 0, SWIM_COORD_ERROR_MAX);
    c->adjustment = coord_clamp(c->adjustment, -SWIM_COORD_SPAN_S, SWIM_COORD_SPAN_S);
}

/* Move c by `force` seconds along the line from other to c (away from
 * other when positive); heights scale with it. */
static void coord_apply_force(struct swim *s, struct swim_coord *c, const struct swim_coord *other,
                              double force)
{
    double unit[SWIM_COORD_DIM], mag = 0;
    for (size_t i = 0; i < SWIM_COORD_DIM; i++) {
        unit[i] = c->vec[i] - other->vec[i];
        mag += unit[i] * unit[i];
    }
    mag = sqrt(mag);
    if (mag > SWIM_COORD_ZERO_S) {
        for (size_t i = 0; i < SWIM_COORD_DIM; i++)
            unit[i] /= mag;
    } else {
        /* The same point: a random direction (bounded tries; the chance of
         * a zero draw every time is nil, and the axis is the fallback). */
        double len = 0;
        for (int tries = 0; tries < 4 && len <= SWIM_COORD_ZERO_S; tries++) {
            len = 0;
            for (size_t i = 0; i < SWIM_COORD_DIM; i++) {
                unit[i] = (double)(prng_next(&s->coord.rng) >> 11) / 9007199254740992.0 - 0.5;
                len += unit[i] * unit[i];
            }
            len = sqrt(len);
        }
        for (size_t i = 0; i < SWIM_COORD_DIM; i++)
            unit[i] = len > SWIM_COORD_ZERO_S ? unit[i] / len : (i == 0);
    }
    for (size_t i = 0; i < SWIM_COORD_DIM; i++)
        c->vec[i] += unit[i] * force;
    if (mag > SWIM_COORD_ZERO_S)
        c->height += (c->height + other->height) * force / mag;
    if (c->height < SWIM_COORD_HEIGHT_MIN_S)
        c->height = SWIM_COORD_HEIGHT_MIN_S;
}

/* One Vivaldi step of our coordinate against theirs at round trip rtt. */
static void coord_vivaldi(struct swim *s, const struct swim_coord *theirs, double rtt)
{
    struct swim_coord *c = &s->coord.self;
    if (rtt < SWIM_COORD_ZERO_S)
        rtt = SWIM_COORD_ZERO_S;
    double dist = coord_distance(c, theirs);
    double wrongness = fabs(dist - rtt) / rtt;
    double total = c->error + theirs->error;
    if (total < SWIM_COORD_ZERO_S)
        total = SWIM_COORD_ZERO_S;
    double weight = c->error / total;
    c->error = SWIM_COORD_CE * weight * wrongness + c->error * (1.0 - SWIM_COORD_CE * weight);
    if (c->error > SWIM_COORD_ERROR_MAX)
        c->error = SWIM_COORD_ERROR_MAX;
    coord_apply_force(s, c, theirs, SWIM_COORD_CC * weight * (rtt - dist));
}

/* Serf's adjustment: half the mean residual of the last window. */
static void coord_adjust(struct swim *s, const struct swim_coord *theirs, double rtt)
{
    s->coord.residual[s->coord.next] = rtt - coord_raw_distance(&s->coord.self, theirs);
    s->coord.next = (s->coord.next + 1) % SWIM_COORD_ADJUST_WINDOW;
    double sum = 0;
    for (size_t i = 0; i < SWIM_COORD_ADJUST_WINDOW; i++)
        sum += s->coord.residual[i];
    s->coord.self.adjustment = sum / (2.0 * SWIM_COORD_ADJUST_WINDOW);
}

/* A weak pull toward the origin against drift. */
static void coord_gravity(struct swim *s)
{
    struct swim_coord origin;
    coord_origin(&origin);
    double d = coord_distance(&origin, &s->coord.self) / SWIM_COORD_RHO_S;
    coord_apply_force(s, &s->coord.self, &origin, -(d * d));
}

/* m's record of coordinates, allocated on first use; NULL when out of
 * memory (the sample or coordinate is then dropped). */
static struct swim_coord_peer *coord_peer(struct swim *s, struct swim_member *m)
{
    struct swim_rare *x = swim__rare_of(s, m);
    if (x != NULL && x->coord == NULL)
        x->coord = calloc(1, sizeof(*x->coord));
    return x != NULL ? x->coord : NULL;
}

/* The median of the member's last samples, with `ms` the newest. */
static double coord_filter(struct swim_coord_peer *p, uint16_t ms)
{
    uint16_t v[SWIM_COORD_FILTER];
    p->rtt_ms[p->next] = ms;
    p->next = (uint8_t)((p->next + 1) % SWIM_COORD_FILTER);
    if (p->samples < SWIM_COORD_FILTER)
        p->samples++;
    size_t n = p->samples;
    memcpy(v, p->rtt_ms, sizeof(v));
    for (size_t i = 1; i < n; i++) /* insertion sort of at most 3 */
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint16_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[n / 2] > 0 ? v[n / 2] / 1e3 : SWIM_COORD_SUBMS_S;
}

void swim__coord_sample(struct swim *s, struct swim_member *m, const struct swim_coord *theirs,
                        uint64_t rtt_ms)
{
    _Static_assert(SWIM_COORD_RTT_MAX_MS <= UINT16_MAX, "a sample fits the filter");
    struct swim_coord_peer *p;
    if (rtt_ms > SWIM_COORD_RTT_MAX_MS || !swim_coord_valid(theirs) ||
        (p = coord_peer(s, m)) == NULL)
        return;
    double rtt = coord_filter(p, (uint16_t)rtt_ms);
    coord_vivaldi(s, theirs, rtt);
    coord_adjust(s, theirs, rtt);
    coord_gravity(s);
    coord_bound(&s->coord.self);
}

void swim__coord_heard(struct swim *s, struct swim_member *m, const struct swim_coord *c)
{
    struct swim_coord_peer *p = coord_peer(s, m);
    if (p != NULL) {
        p->coord = *c;
        p->known = true;
    }
}

void swim__coord_forget(struct swim *s, struct swim_member *m)
{
    if (m->rare != 0) {
        free(swim__rare_at(s, m)->coord);
        swim__rare_at(s, m)->coord = NULL;
    }
}

int swim__coord_from_wire(struct swim_coord *out, const struct wire_coord *in)
{
    struct swim_coord c;
    memcpy(c.vec, in->vec, sizeof(c.vec));
    /* binary32 rounds the smallest height to just below it. */
    c.height = in->height >= 0 && in->height < SWIM_COORD_HEIGHT_MIN_S ? SWIM_COORD_HEIGHT_MIN_S
                                                                       : in->height;
    c.error = in->error;
    c.adjustment = in->adjustment;
    if (!swim_coord_valid(&c))
        return ERR_MALFORMED;
    *out = c;
    return 0;
}

void swim__coord_to_wire(const struct swim *s, struct wire_coord *out)
{
    memcpy(out->vec, s->coord.self.vec, sizeof(out->vec));
    out->height = s->coord.self.height;
    out->error = s->coord.self.error;
    out->adjustment = s->coord.self.adjustment;
}

void swim_coord_self(const struct swim *s, struct swim_coord *out)
{
    *out = s->coord.self;
}

int swim_member_coord(const struct swim *s, const char *name, struct swim_coord *out)
{
    const struct swim_member *m = swim__member_named(s, name);
    if (m == NULL)
        return ERR_NOTFOUND;
    const struct swim_coord_peer *p = swim__rare_get(s, m)->coord;
    if (p == NULL || !p->known)
        return ERR_AGAIN;
    *out = p->coord;
    return 0;
}
