/*
 * table.c - the member table: every member this node knows, tombstones
 * included, reachable three ways.
 *
 * Member entries live in the table's storage: segments that never move,
 * growing geometrically up to max_members, entries of removed members
 * reused first (a free list).  A member's name, address and generation are
 * an identity record it names by handle (ident.c: in the instance's pool
 * or a shared one); what not every member needs (suspicion, round trips,
 * tags: struct swim_rare) is an allocation made at its first use, also
 * named by handle.  A member is referenced twice, by its entry's index in
 * the storage (which is also the hint suspicion timers carry): from an
 * open-addressing hash table by name (linear probing, kept at most three
 * quarters full, backward-shift deletion so there are no tombstone slots),
 * and from the probe list, walked round-robin and reshuffled at the end
 * of each round.  The probe list is also the table's iteration order (and
 * random picks draw from it): one array instead of two, 4 bytes a member
 * less, the order of iteration being any that visits each member once.
 * A slot is 32 bits: the entry's index and 11 bits of its name's hash, so
 * a probe reads a member only when those agree; nothing iterates the
 * slots, so their layout never shows in the protocol's order.  Indexes
 * grow geometrically up to max_members; growth is reserved before a member
 * is inserted, so insertion cannot fail half-way.  Here too: random picks
 * of helpers and gossip targets, and a member's (or this node's) record as
 * a wire value.
 */
#include <stddef.h>
#include <stdlib.h>

#include "err.h"
#include "hash.h"
#include "swim_int.h"

const struct swim_rare swim__rare_none = {.srtt_us = SWIM_RTT_UNKNOWN};

_Static_assert(sizeof(struct swim_member) == 24, "a member entry is 24 bytes (swim_int.h)");

struct swim_rare *swim__rare_of(struct swim *s, struct swim_member *m)
{
    if (m->rare != 0)
        return swim__rare_at(s, m);
    struct swim_rare *x = malloc(sizeof(*x));
    if (x == NULL)
        return NULL;
    if ((m->rare = swim__handle_put(&s->rares, x)) == 0) {
        free(x);
        return NULL;
    }
    *x = swim__rare_none;
    return x;
}

bool swim__notice_take(struct swim *s, struct swim_member *m, uint64_t gap, uint64_t now)
{
    if (now < swim__rare_get(s, m)->notice_at || swim__rare_of(s, m) == NULL)
        return false;
    swim__rare_at(s, m)->notice_at = now + gap;
    return true;
}

void swim__member_release(struct swim *s, struct swim_member *m)
{
    swim__coord_forget(s, m);
    if (m->rare != 0) {
        struct swim_rare *x = swim__rare_at(s, m);
        free(x->meta);
        free(x);
        swim__handle_drop(&s->rares, m->rare);
        m->rare = 0;
    }
    if (m->id != 0)
        swim__ident_put(s->ids, swim__id(s, m));
    m->id = 0;
}

/* How many entries segment k of the storage holds (the last one only up
 * to max_members). */
static size_t seg_size(const struct swim *s, unsigned k)
{
    size_t before = ((size_t)SWIM_STORE_SEG0 << k) - SWIM_STORE_SEG0;
    size_t full = (size_t)SWIM_STORE_SEG0 << k;
    return before + full > s->cfg.max_members ? s->cfg.max_members - before : full;
}

/* Room in the storage for one more entry: 0 or ERR_NOMEM. */
static int store_reserve(struct swim *s)
{
    if (s->store_free != 0)
        return 0;
    uint32_t v = s->n_store + SWIM_STORE_SEG0;
    unsigned k = 31u - (unsigned)__builtin_clz(v) - (unsigned)__builtin_ctz(SWIM_STORE_SEG0);
    if (s->store[k] != NULL)
        return 0;
    s->store[k] = malloc(seg_size(s, k) * sizeof(struct swim_member));
    return s->store[k] == NULL ? ERR_NOMEM : 0;
}

/* A zeroed entry (store_reserve() has made room); its index in *idx. */
static struct swim_member *store_take(struct swim *s, uint32_t *idx)
{
    if (s->store_free != 0) {
        *idx = s->store_free - 1;
        s->store_free = swim__entry(s, *idx)->inc;
    } else {
        *idx = s->n_store++;
    }
    struct swim_member *m = swim__entry(s, *idx);
    memset(m, 0, sizeof(*m));
    return m;
}

/* Entry idx is free again. */
static void store_give(struct swim *s, uint32_t idx)
{
    struct swim_member *m = swim__entry(s, idx);
    memset(m, 0, sizeof(*m));
    m->inc = s->store_free;
    s->store_free = idx + 1;
}

uint32_t swim__entry_index(const struct swim *s, const struct swim_member *m)
{
    for (unsigned k = 0; k < SWIM_STORE_SEGS && s->store[k] != NULL; k++) {
        size_t n = seg_size(s, k);
        if (m >= s->store[k] && m < s->store[k] + n)
            return (uint32_t)(((size_t)SWIM_STORE_SEG0 << k) - SWIM_STORE_SEG0) +
                   (uint32_t)(m - s->store[k]);
    }
    return UINT32_MAX; /* unreachable: m is an entry */
}

int swim__table_create(struct swim *s)
{
    s->slot_cap = SWIM_SLOTS_MIN;
    s->slots = calloc(s->slot_cap, sizeof(*s->slots));
    return s->slots == NULL ? ERR_NOMEM : 0;
}

void swim__table_destroy(struct swim *s)
{
    for (uint32_t i = 0; i < s->n_store; i++) {
        struct swim_member *m = swim__entry_used(s, i);
        if (m != NULL)
            swim__member_release(s, m);
    }
    for (size_t k = 0; k < SWIM_STORE_SEGS; k++)
        free(s->store[k]);
    free(s->slots);
    free(s->probe);
}

/* A slot is 32 bits: the index of the member's entry in the storage plus
 * one in the low SLOT_IDX_BITS (0: an empty slot), and the top bits of its
 * name's hash as a tag above them: a lookup reads the slot, the entry and
 * its identity, and a member moving in the probe list leaves its slot
 * alone. */
#define SLOT_IDX_BITS 21
#define SLOT_IDX_MASK ((1u << SLOT_IDX_BITS) - 1)
_Static_assert(SWIM_MEMBERS_LIMIT < SLOT_IDX_MASK, "a slot holds any entry's index plus one");

static uint32_t slot_tag(uint64_t h)
{
    return (uint32_t)(h >> (64 - (32 - SLOT_IDX_BITS))) << SLOT_IDX_BITS;
}

static struct swim_member *slot_member(const struct swim *s, uint32_t v)
{
    return swim__entry(s, (v & SLOT_IDX_MASK) - 1);
}

/* The slot holding the member named name[0..len) (its hash h), or the
 * empty slot where it would go. */
static size_t slot_find(const struct swim *s, const char *name, size_t len, uint64_t h)
{
    size_t mask = s->slot_cap - 1;
    size_t i = (size_t)h & mask;
    uint32_t tag = slot_tag(h);
    for (size_t n = 0; n < s->slot_cap; n++, i = (i + 1) & mask) {
        uint32_t v = s->slots[i];
        if (v == 0)
            return i;
        if ((v & ~SLOT_IDX_MASK) == tag) {
            const struct swim_ident *id = swim__id(s, slot_member(s, v));
            if (id->name_len == len && memcmp(id->name, name, len) == 0)
                return i;
        }
    }
    return SIZE_MAX; /* unreachable: the table is never full */
}

/* The slot pointing at entry idx (a member of hash h). */
static size_t slot_of_index(const struct swim *s, uint64_t h, size_t idx)
{
    size_t mask = s->slot_cap - 1;
    size_t i = (size_t)h & mask;
    while ((s->slots[i] & SLOT_IDX_MASK) != idx + 1)
        i = (i + 1) & mask;
    return i;
}

/* The first empty slot from hash h's home (h not in the table). */
static size_t slot_free(const struct swim *s, uint64_t h)
{
    size_t mask = s->slot_cap - 1;
    size_t i = (size_t)h & mask;
    while (s->slots[i] != 0)
        i = (i + 1) & mask;
    return i;
}

struct swim_member *swim__member_find(const struct swim *s, const char *name, size_t len)
{
    size_t i = slot_find(s, name, len, hash_fnv1a(name, len));
    return i == SIZE_MAX || s->slots[i] == 0 ? NULL : slot_member(s, s->slots[i]);
}

void swim__member_prefetch(const struct swim *s, const struct wire_name *names, size_t n)
{
    size_t mask = s->slot_cap - 1, home[SWIM_PREFETCH_MAX];
    uint32_t tag[SWIM_PREFETCH_MAX];
    if (n > SWIM_PREFETCH_MAX)
        n = SWIM_PREFETCH_MAX;
    for (size_t i = 0; i < n; i++) {
        uint64_t h = hash_fnv1a(names[i].ptr, names[i].len);
        home[i] = (size_t)h & mask;
        tag[i] = slot_tag(h);
        __builtin_prefetch(&s->slots[home[i]]);
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t v = s->slots[home[i]];
        if (v != 0 && (v & ~SLOT_IDX_MASK) == tag[i])
            __builtin_prefetch(slot_member(s, v));
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t v = s->slots[home[i]];
        if (v != 0 && (v & ~SLOT_IDX_MASK) == tag[i])
            __builtin_prefetch(swim__id(s, slot_member(s, v)));
    }
}

struct swim_member *swim__member_named(const struct swim *s, const char *name)
{
    size_t len = name ? strlen(name) : 0;
    return len == 0 || len > SWIM_NAME_MAX ? NULL : swim__member_find(s, name, len);
}

/* Room for `need` elements of `size` bytes in *arr: the capacity doubles,
 * but never beyond `most` (max_members: a table that fills to its bound
 * wastes no room). */
static int grow(void **arr, size_t *cap, size_t need, size_t most, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    if (ncap > most)
        ncap = most > need ? most : need;
    void *n = realloc(*arr, ncap * size);
    if (n == NULL)
        return ERR_NOMEM;
    *arr = n;
    *cap = ncap;
    return 0;
}

/* How many times larger the hash table grows when it is three quarters
 * full: each growth reads every member's identity again, and a table that
 * fills from a few members to thousands in a second (a mass join) grew 8
 * times by doubling, 4 times by quadrupling (a third of the reads); the
 * table is then between 3/16 and 3/4 full. */
#define SLOTS_GROWTH 4

/* The hash table at ncap slots.  Rebuilt from a walk of the storage: in
 * memory order, where a walk of the old slots would read the entries in
 * no order at all (a table of 10,000 rehashed that way waited on memory
 * for most of a simulated mass join). */
static int slots_rehash(struct swim *s, size_t ncap)
{
    uint32_t *n = calloc(ncap, sizeof(*n));
    if (n == NULL)
        return ERR_NOMEM;
    free(s->slots);
    s->slots = n;
    s->slot_cap = ncap;
    for (uint32_t i = 0; i < s->n_store; i++) {
        const struct swim_member *m = swim__entry_used(s, i);
        if (m != NULL) {
            uint64_t h = swim__name_hash(s, m);
            s->slots[slot_free(s, h)] = slot_tag(h) | (i + 1);
        }
    }
    return 0;
}

/* The table is at max_members: forget its oldest tombstone to make room
 * (as the reap sweep would, with its notification).  False when every
 * member is live: strangers never displace a live member. */
static bool evict_tombstone(struct swim *s)
{
    struct swim_member *old = NULL;
    if (s->n_active >= s->n_all)
        return false;
    for (size_t i = 0; i < s->n_all; i++) {
        struct swim_member *m = swim__member_at(s, i);
        if (!swim__is_live(m->status) && (old == NULL || swim__since(m) < swim__since(old)))
            old = m;
    }
    swim__notify_member(s, SWIM_EV_MEMBER_REAPED, old);
    swim__member_remove(s, old);
    return true;
}

bool swim__table_consistent(const struct swim *s)
{
    size_t used = 0;
    for (size_t i = 0; i < s->slot_cap; i++)
        used += s->slots[i] != 0;
    if (used != s->n_all || s->probe_cursor > s->n_all || s->n_all > s->n_store)
        return false;
    /* The probe list names entries of the storage, each once; the free
     * list the others, each once. */
    uint8_t *seen = calloc((size_t)s->n_store + 1, 1);
    bool ok = seen != NULL;
    for (size_t j = 0; ok && j < s->n_all; j++) {
        /* A member's entry has an identity (the storage walks rely on it). */
        ok = s->probe[j] < s->n_store && !seen[s->probe[j]] && swim__entry(s, s->probe[j])->id != 0;
        if (ok)
            seen[s->probe[j]] = 1;
    }
    size_t free_n = 0;
    for (uint32_t f = s->store_free; ok && f != 0;) {
        /* A free entry has none; checked before it is read for the next. */
        ok = f - 1 < s->n_store && !seen[f - 1] && swim__entry(s, f - 1)->id == 0;
        if (!ok)
            break;
        seen[f - 1] = 1;
        free_n++;
        f = swim__entry(s, f - 1)->inc;
    }
    free(seen);
    if (!ok || s->n_all + free_n != s->n_store)
        return false;
    size_t failed = 0;
    for (size_t i = 0; i < s->n_all; i++) {
        const struct swim_member *m = swim__member_at(s, i);
        const struct swim_ident *id = swim__id(s, m);
        failed += m->status == SWIM_FAILED;
        if (swim__entry_index(s, m) != s->probe[i] ||
            swim__member_find(s, id->name, id->name_len) != m)
            return false;
    }
    return failed == s->n_failed;
}

/* Reserve room for one more member in every index. */
int swim__member_reserve(struct swim *s)
{
    if (s->n_all >= s->cfg.max_members && !evict_tombstone(s)) {
        s->stats.members_refused++;
        return ERR_LIMIT;
    }
    size_t need = s->n_all + 1;
    if (need * 4 > s->slot_cap * 3 && slots_rehash(s, s->slot_cap * SLOTS_GROWTH) != 0)
        return ERR_NOMEM;
    if (store_reserve(s) != 0 ||
        grow((void **)&s->probe, &s->probe_cap, need, s->cfg.max_members, sizeof(*s->probe)) != 0)
        return ERR_NOMEM;
    return 0;
}

/* Put entry e at place i of the probe list. */
static void probe_place(struct swim *s, size_t i, uint32_t e)
{
    s->probe[i] = e;
    if (s->probe_pos != NULL)
        s->probe_pos[e] = (uint32_t)i;
}

/* Where entry e is in the probe list.  A scan: entries do not keep their
 * place (the round's shuffle would write every entry), and only a removal
 * asks (an eviction, a reap), O(N) each against the shuffle's O(N) per
 * round; a sweep removing many maps the places first
 * (swim__member_sweep_begin), so that it costs O(N) in all. */
static size_t probe_find(struct swim *s, uint32_t e)
{
    if (s->probe_pos != NULL)
        return s->probe_pos[e];
    size_t i = 0;
    while (i < s->n_all && s->probe[i] != e)
        i++;
    s->probe_scanned += i + 1;
    return i;
}

/* Insert entry e into the probe list at a random place not yet visited
 * this round. */
static void probe_insert(struct swim *s, uint32_t e)
{
    size_t last = s->n_all++;
    probe_place(s, last, e);
    size_t lo = s->probe_cursor < last ? s->probe_cursor : last;
    size_t j = lo + prng_below(&s->rng, last - lo + 1);
    uint32_t o = s->probe[j];
    probe_place(s, j, e);
    probe_place(s, last, o);
}

/* Take entry e out of the probe list.  A walk of the list from its end
 * to its start that removes the member it stands on still visits every
 * other member once: what moves, moves from a place already walked. */
static void probe_remove(struct swim *s, uint32_t e)
{
    /* Keep [0, cursor) the members already probed this round: a hole there
     * is filled from the round's last probed member, so the member moved
     * into the remaining hole is one not yet probed. */
    size_t i = probe_find(s, e), last = --s->n_all;
    if (i < s->probe_cursor) {
        size_t lv = --s->probe_cursor;
        probe_place(s, i, s->probe[lv]);
        i = lv;
    }
    if (i != last) /* (i == last: the hole is past the end, nothing moves) */
        probe_place(s, i, s->probe[last]);
}

/* Creates a member; swim__member_reserve() must have succeeded. */
struct swim_member *swim__member_insert(struct swim *s, const struct wire_member *r, uint64_t now)
{
    uint32_t idx;
    struct swim_member *m = store_take(s, &idx);
    const struct swim_ident *id =
        swim__ident_get(s->ids, r->name.ptr, r->name.len, &r->addr, r->gen);
    if (id == NULL) {
        store_give(s, idx);
        return NULL;
    }
    m->id = id->handle;
    if (r->meta_len > 0 && swim__member_set_meta(s, m, r->meta, r->meta_len) < 0) {
        swim__member_release(s, m);
        store_give(s, idx);
        return NULL;
    }
    m->inc = r->inc;
    m->status = r->status;
    swim__set_since(m, now);
    uint64_t h = id->hash;
    s->slots[slot_free(s, h)] = slot_tag(h) | (idx + 1);
    probe_insert(s, idx);
    if (swim__is_live(m->status))
        s->n_active++;
    s->n_failed += m->status == SWIM_FAILED;
    swim__digest_member(s, m, true);
    return m;
}

void swim__member_remove(struct swim *s, struct swim_member *m)
{
    if (m->queued != 0)
        swim__queue_free(s, swim__queued(s, m));
    uint32_t idx = swim__entry_index(s, m);
    /* Backward-shift deletion keeps linear probing free of tombstones. */
    size_t mask = s->slot_cap - 1;
    size_t i = slot_of_index(s, swim__name_hash(s, m), idx);
    s->slots[i] = 0;
    for (size_t j = (i + 1) & mask, n = 0; s->slots[j] != 0 && n < s->slot_cap;
         j = (j + 1) & mask, n++) {
        size_t home = (size_t)swim__name_hash(s, slot_member(s, s->slots[j])) & mask;
        /* slot j may move to i if its home is not in (i, j] cyclically. */
        bool in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            s->slots[i] = s->slots[j];
            s->slots[j] = 0;
            i = j;
        }
    }
    probe_remove(s, idx);
    swim__probe_forget(s, m);
    if (swim__is_live(m->status))
        s->n_active--;
    s->n_failed -= m->status == SWIM_FAILED;
    swim__digest_member(s, m, false);
    swim__member_release(s, m);
    store_give(s, idx);
}

bool swim__member_sweep_begin(struct swim *s)
{
    if (s->probe_pos != NULL || s->n_all == 0)
        return false;
    s->probe_pos = malloc((size_t)s->n_store * sizeof(*s->probe_pos));
    if (s->probe_pos == NULL)
        return false; /* removals scan the list instead: slower, same result */
    for (size_t i = 0; i < s->n_all; i++)
        s->probe_pos[s->probe[i]] = (uint32_t)i;
    return true;
}

void swim__member_sweep_end(struct swim *s)
{
    free(s->probe_pos);
    s->probe_pos = NULL;
}

int swim__member_set_meta(struct swim *s, struct swim_member *m, const uint8_t *meta, uint16_t len)
{
    const struct swim_rare *x = swim__rare_get(s, m);
    if (len == x->meta_len && (len == 0 || memcmp(x->meta, meta, len) == 0))
        return 0;
    uint8_t *n = NULL;
    if (len > 0) {
        n = malloc(len);
        if (n == NULL)
            return ERR_NOMEM;
        memcpy(n, meta, len);
    }
    struct swim_rare *w = swim__rare_of(s, m);
    if (w == NULL) {
        free(n);
        return ERR_NOMEM;
    }
    free(w->meta);
    w->meta = n;
    w->meta_len = len;
    return 1;
}

static void set_status(struct swim *s, struct swim_member *m, uint8_t status, uint64_t now)
{
    if (swim__is_live(m->status) && !swim__is_live(status))
        s->n_active--;
    else if (!swim__is_live(m->status) && swim__is_live(status))
        s->n_active++;
    if (m->status != status)
        swim__set_since(m, now);
    s->n_failed += (status == SWIM_FAILED) - (m->status == SWIM_FAILED);
    m->status = status;
}

void swim__member_set_status(struct swim *s, struct swim_member *m, uint8_t status, uint64_t now)
{
    swim__digest_member(s, m, false);
    set_status(s, m, status, now);
    swim__digest_member(s, m, true);
}

void swim__member_set_record(struct swim *s, struct swim_member *m, const struct swim_ident *id,
                             uint32_t inc, uint8_t status, uint64_t now)
{
    swim__digest_member(s, m, false);
    if (id->handle != m->id) {
        swim__ident_put(s->ids, swim__id(s, m));
        m->id = id->handle;
    }
    m->inc = inc;
    set_status(s, m, status, now);
    swim__digest_member(s, m, true);
}

void swim__member_info(const struct swim *s, const struct swim_member *m,
                       struct swim_member_info *out)
{
    const struct swim_ident *id = swim__id(s, m);
    const struct swim_rare *x = swim__rare_get(s, m);
    out->name = id->name;
    out->addr = id->addr;
    out->generation = id->gen;
    out->incarnation = m->inc;
    out->status = (enum swim_status)m->status;
    out->meta = x->meta;
    out->meta_len = x->meta_len;
    out->status_since = swim__since(m);
    out->rtt_us = x->srtt_us;
}

/* The member a timer names: at its hint, or (moved since) by a scan. */
struct swim_member *swim__member_by_timer(const struct swim *s, const struct swim_timer *t)
{
    if (t->hint < s->n_store) {
        struct swim_member *m = swim__entry(s, t->hint);
        if (m->rare != 0 && swim__rare_at(s, m)->uid == t->token)
            return m;
    }
    for (size_t i = 0; i < s->n_all; i++) {
        struct swim_member *m = swim__member_at(s, i);
        if (m->rare != 0 && swim__rare_at(s, m)->uid == t->token)
            return m;
    }
    return NULL;
}

/* Add m to the picks when it qualifies and is not among them yet. */
static void pick_add(struct swim_member **out, size_t *got, struct swim_member *m,
                     const struct swim_member *not1, bool with_suspects)
{
    if (m == not1 || !(m->status == SWIM_ALIVE || (with_suspects && m->status == SWIM_SUSPECT)))
        return;
    for (size_t j = 0; j < *got; j++)
        if (out[j] == m)
            return;
    out[(*got)++] = m;
}

/* Choose up to k distinct members, excluding `not1`: ALIVE ones, or with
 * with_suspects ALIVE and SUSPECT ones (gossip goes to suspects too, so a
 * node that was cut off and suspects everyone still gets its news out).
 * Random draws first, then a scan from a random start. */
size_t swim__pick_members(struct swim *s, struct swim_member **out, size_t k,
                          const struct swim_member *not1, bool with_suspects)
{
    size_t got = 0;
    if (k > SWIM_PICK_MAX)
        k = SWIM_PICK_MAX;
    if (s->n_all == 0 || k == 0)
        return 0;
    for (size_t t = 0; t < k * SWIM_PICK_TRIES && got < k; t++)
        pick_add(out, &got, swim__member_at(s, prng_below(&s->rng, s->n_all)), not1, with_suspects);
    if (got < k) {
        size_t start = prng_below(&s->rng, s->n_all);
        for (size_t n = 0; n < s->n_all && got < k; n++)
            pick_add(out, &got, swim__member_at(s, (start + n) % s->n_all), not1, with_suspects);
    }
    return got;
}

/* The next live member of the round; a finished round is reshuffled. */
struct swim_member *swim__probe_next(struct swim *s)
{
    for (size_t n = 0; n <= s->n_all; n++) {
        if (s->probe_cursor >= s->n_all) {
            s->probe_cursor = 0;
            for (size_t i = s->n_all; i > 1; i--) { /* Fisher-Yates */
                size_t j = prng_below(&s->rng, i);
                uint32_t t = s->probe[i - 1];
                probe_place(s, i - 1, s->probe[j]);
                probe_place(s, j, t);
            }
            if (s->n_all == 0)
                return NULL;
        }
        struct swim_member *m = swim__member_at(s, s->probe_cursor++);
        if (swim__is_live(m->status))
            return m;
    }
    return NULL;
}

void swim__member_to_wire(const struct swim *s, const struct swim_member *m,
                          struct wire_member *out)
{
    const struct swim_ident *id = swim__id(s, m);
    const struct swim_rare *x = swim__rare_get(s, m);
    memset(out, 0, sizeof(*out));
    out->name.ptr = id->name;
    out->name.len = id->name_len;
    out->addr = id->addr;
    out->gen = id->gen;
    out->inc = m->inc;
    out->status = m->status;
    out->meta = x->meta;
    out->meta_len = x->meta_len;
}
