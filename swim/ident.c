/*
 * ident.c - member identities: a name, the address it is reached at and a
 * generation, as one immutable record, made alone or interned in a shared
 * pool.
 *
 * A member entry (table.c) points at its identity instead of holding the
 * name, the address and the generation itself.  An identity never changes
 * once made: a member whose address or generation changes is given another
 * identity (update.c gets it before it changes anything, so running out of
 * memory changes nothing; this node's own renewals likewise), and the old
 * one is released.  Each holder counts one reference; the last
 * release frees it.
 *
 * Every instance draws its identities from a pool: its own (the agent's
 * case) or one it shares with others (struct swim_runtime's `ids`, which
 * the simulated world gives its thousands of instances), where an identity
 * asked for again, same name, address and generation, is the one already
 * made, so what every instance holds of a member is stored once.  The pool
 * is an open-addressing table of identities by a hash of all three (linear
 * probing, at most three quarters full, backward-shift deletion; a slot
 * keeps the hash beside the record, so a probe reads a record only when
 * the hashes agree); its size is bounded by the distinct identities held
 * at once.  Each identity also has a handle in the pool (handle.c), which
 * is what a member entry holds: 4 bytes, not a pointer's 8.
 * Sharing can carry nothing between instances: what is shared cannot
 * change, and whatever an instance changes about a member (its status,
 * incarnation, a new address or generation) is in its own entry.
 */
#include <stdlib.h>

#include "err.h"
#include "hash.h"
#include "swim_int.h"

/* First size of a pool's table (a power of two). */
#define IDPOOL_SLOTS_MIN 64

/* A slot keeps its identity's key beside it, so a probe reads an identity
 * only when the keys agree, and moving slots reads none. */
struct idpool_slot {
    struct swim_ident *id; /* NULL: empty */
    uint64_t key;
};

struct swim_idpool *swim_idpool_new(void)
{
    struct swim_idpool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->cap = IDPOOL_SLOTS_MIN;
    p->slots = calloc(p->cap, sizeof(*p->slots));
    if (p->slots == NULL) {
        free(p);
        return NULL;
    }
    return p;
}

void swim_idpool_delete(struct swim_idpool *p)
{
    if (p == NULL)
        return;
    /* Every instance using the pool is gone, so every identity was
     * released; free what a caller that broke that contract left. */
    for (size_t i = 0; i < p->cap; i++)
        free(p->slots[i].id);
    free(p->slots);
    swim__handles_destroy(&p->ids);
    free(p);
}

size_t swim_idpool_count(const struct swim_idpool *p)
{
    return p != NULL ? p->n : 0;
}

/* The pool's key: the name's hash mixed with the address's and the
 * generation. */
static uint64_t key_hash(uint64_t name_hash, const struct swim_addr *addr, uint64_t gen)
{
    uint64_t x = hash_fnv1a(addr->bytes, addr->len) ^ (gen * 0xD1B54A32D192ED03ull);
    return name_hash ^ (x * 0x9E3779B97F4A7C15ull);
}

static bool ident_is(const struct swim_ident *id, uint64_t name_hash, const char *name, uint8_t len,
                     const struct swim_addr *addr, uint64_t gen)
{
    return id->hash == name_hash && id->gen == gen && id->name_len == len &&
           memcmp(id->name, name, len) == 0 && swim__addr_equal(&id->addr, addr);
}

/* The slot holding that identity (its key `key`), or the empty one where
 * it would go. */
static size_t pool_find(const struct swim_idpool *p, uint64_t key, uint64_t name_hash,
                        const char *name, uint8_t len, const struct swim_addr *addr, uint64_t gen)
{
    size_t mask = p->cap - 1, i = (size_t)key & mask;
    while (p->slots[i].id != NULL &&
           (p->slots[i].key != key || !ident_is(p->slots[i].id, name_hash, name, len, addr, gen)))
        i = (i + 1) & mask;
    return i;
}

static int pool_grow(struct swim_idpool *p)
{
    size_t ncap = p->cap * 2, mask = ncap - 1;
    struct idpool_slot *n = calloc(ncap, sizeof(*n));
    if (n == NULL)
        return ERR_NOMEM;
    for (size_t i = 0; i < p->cap; i++) {
        if (p->slots[i].id == NULL)
            continue;
        size_t j = (size_t)p->slots[i].key & mask;
        while (n[j].id != NULL)
            j = (j + 1) & mask;
        n[j] = p->slots[i];
    }
    free(p->slots);
    p->slots = n;
    p->cap = ncap;
    return 0;
}

static struct swim_ident *ident_make(struct swim_idpool *p, uint64_t name_hash, const char *name,
                                     uint8_t len, const struct swim_addr *addr, uint64_t gen)
{
    struct swim_ident *id = malloc(offsetof(struct swim_ident, name) + (size_t)len + 1);
    if (id == NULL)
        return NULL;
    if ((id->handle = swim__handle_put(&p->ids, id)) == 0) {
        free(id);
        return NULL;
    }
    id->hash = name_hash;
    id->gen = gen;
    id->refs = 1;
    id->name_len = len;
    memset(&id->addr, 0, sizeof(id->addr)); /* whole, so copies of it are defined */
    swim__addr_copy(&id->addr, addr);
    memcpy(id->name, name, len);
    id->name[len] = '\0';
    return id;
}

const struct swim_ident *swim__ident_get(struct swim_idpool *p, const char *name, uint8_t len,
                                         const struct swim_addr *addr, uint64_t gen)
{
    uint64_t h = hash_fnv1a(name, len);
    uint64_t key = key_hash(h, addr, gen);
    size_t i = pool_find(p, key, h, name, len, addr, gen);
    if (p->slots[i].id != NULL) {
        p->slots[i].id->refs++;
        return p->slots[i].id;
    }
    if ((p->n + 1) * 4 > p->cap * 3) {
        if (pool_grow(p) != 0)
            return NULL;
        i = pool_find(p, key, h, name, len, addr, gen);
    }
    struct swim_ident *id = ident_make(p, h, name, len, addr, gen);
    if (id == NULL)
        return NULL;
    p->slots[i].id = id;
    p->slots[i].key = key;
    p->n++;
    return id;
}

void swim__ident_put(struct swim_idpool *p, const struct swim_ident *cid)
{
    if (cid == NULL)
        return;
    struct swim_ident *id =
        (struct swim_ident *)cid; /* the count is the holders', not the record's */
    if (--id->refs > 0)
        return;
    /* Its own slot (the same record, not only an equal one), then
     * backward-shift deletion: no tombstone slots. */
    size_t mask = p->cap - 1;
    size_t i = (size_t)key_hash(id->hash, &id->addr, id->gen) & mask;
    while (p->slots[i].id != id)
        i = (i + 1) & mask;
    p->slots[i].id = NULL;
    p->n--;
    for (size_t j = (i + 1) & mask; p->slots[j].id != NULL; j = (j + 1) & mask) {
        size_t home = (size_t)p->slots[j].key & mask;
        bool in_range = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!in_range) {
            p->slots[i] = p->slots[j];
            p->slots[j].id = NULL;
            i = j;
        }
    }
    swim__handle_drop(&p->ids, id->handle);
    free(id);
}

int swim__self_set_gen(struct swim *s, uint64_t gen)
{
    const struct swim_ident *old = swim__id(s, s->self);
    const struct swim_ident *id =
        swim__ident_get(s->ids, old->name, old->name_len, &old->addr, gen);
    if (id == NULL)
        return ERR_NOMEM;
    swim__ident_put(s->ids, old);
    s->self->id = id->handle;
    return 0;
}
