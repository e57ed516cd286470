/*
 * replay.c - see replay.h.  Senders live in an open-addressing table by id
 * (linear probing, at most half full, backward-shift deletion); each entry
 * is allocated when its sender is first admitted and reused when a stale
 * sender gives way to a new one.
 */
#include "replay.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

#define REPLAY_WORDS (REPLAY_BITS / 64)
#define REPLAY_SLOTS (2 * REPLAY_SENDERS_MAX)
_Static_assert(REPLAY_BITS % 64 == 0, "whole words");
_Static_assert((REPLAY_SLOTS & (REPLAY_SLOTS - 1)) == 0, "a power of two");

struct replay_sender {
    uint64_t id;
    uint64_t newest_ms;          /* the latest stamp admitted: stale once out of the window */
    uint64_t high;               /* the highest counter admitted */
    uint64_t seen[REPLAY_WORDS]; /* bit i: counter high - i was admitted */
};

struct replay {
    uint64_t start_ms;
    size_t count;
    struct replay_sender *slots[REPLAY_SLOTS];
};

struct replay *replay_new(uint64_t start_ms)
{
    struct replay *r = calloc(1, sizeof(*r));
    if (r != NULL)
        r->start_ms = start_ms;
    return r;
}

void replay_delete(struct replay *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < REPLAY_SLOTS; i++)
        free(r->slots[i]);
    free(r);
}

static size_t home(uint64_t id)
{
    id ^= id >> 33; /* ids are random already; fold the high bits in */
    return (size_t)(id * 0x9E3779B97F4A7C15ull >> 40) & (REPLAY_SLOTS - 1);
}

/* The slot of `id`, or the empty slot where it would go. */
static size_t slot_of(const struct replay *r, uint64_t id)
{
    size_t i = home(id);
    while (r->slots[i] != NULL && r->slots[i]->id != id)
        i = (i + 1) & (REPLAY_SLOTS - 1);
    return i;
}

/* Take the entry at slot i out of the table (backward-shift deletion). */
static struct replay_sender *unlink_at(struct replay *r, size_t i)
{
    struct replay_sender *e = r->slots[i];
    r->slots[i] = NULL;
    for (size_t j = (i + 1) & (REPLAY_SLOTS - 1); r->slots[j] != NULL;
         j = (j + 1) & (REPLAY_SLOTS - 1)) {
        size_t h = home(r->slots[j]->id);
        bool stays = i <= j ? (h > i && h <= j) : (h > i || h <= j);
        if (!stays) {
            r->slots[i] = r->slots[j];
            r->slots[j] = NULL;
            i = j;
        }
    }
    r->count--;
    return e;
}

/* Room for a new sender: a fresh allocation, or a stale sender's entry. */
static struct replay_sender *make_room(struct replay *r, uint64_t now_ms)
{
    if (r->count < REPLAY_SENDERS_MAX)
        return malloc(sizeof(struct replay_sender));
    for (size_t i = 0; i < REPLAY_SLOTS; i++)
        if (r->slots[i] != NULL && r->slots[i]->newest_ms + REPLAY_CLOCK_MS < now_ms)
            return unlink_at(r, i);
    return NULL;
}

/* Shift the window up by k counters. */
static void window_shift(struct replay_sender *e, uint64_t k)
{
    if (k >= REPLAY_BITS) {
        memset(e->seen, 0, sizeof(e->seen));
        return;
    }
    size_t words = (size_t)(k / 64), bits = (size_t)(k % 64);
    for (size_t i = REPLAY_WORDS; i-- > 0;) {
        uint64_t v = i >= words ? e->seen[i - words] << bits : 0;
        if (bits > 0 && i > words)
            v |= e->seen[i - words - 1] >> (64 - bits);
        e->seen[i] = v;
    }
}

int replay_admit(struct replay *r, const struct keyring_stamp *st, uint64_t now_ms)
{
    uint64_t t = st->sent_ms;
    if (t < r->start_ms || t + REPLAY_CLOCK_MS < now_ms || t > now_ms + REPLAY_CLOCK_MS)
        return ERR_STALE;
    size_t i = slot_of(r, st->sender);
    struct replay_sender *e = r->slots[i];
    if (e == NULL) {
        if ((e = make_room(r, now_ms)) == NULL)
            return ERR_FULL;
        memset(e, 0, sizeof(*e));
        e->id = st->sender;
        e->high = st->counter;
        e->seen[0] = 1;
        e->newest_ms = t;
        r->slots[slot_of(r, st->sender)] = e; /* the table may have moved */
        r->count++;
        return 0;
    }
    uint64_t c = st->counter;
    if (c > e->high) {
        window_shift(e, c - e->high);
        e->high = c;
        e->seen[0] |= 1;
    } else {
        uint64_t d = e->high - c;
        if (d >= REPLAY_BITS || (e->seen[d / 64] >> (d % 64) & 1))
            return ERR_EXISTS;
        e->seen[d / 64] |= 1ull << (d % 64);
    }
    if (t > e->newest_ms)
        e->newest_ms = t;
    return 0;
}
