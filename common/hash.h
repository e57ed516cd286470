/*
 * hash.h - a non-cryptographic hash of a byte string.
 *
 * Model: 64-bit FNV-1a, the hash of the core's member table, its exactly-once
 * and asked-recently sets, and the simulated world's name index.  Pure and
 * header-only, like err.h.  Not collision-resistant against an adversary:
 * callers bound their probe sequences rather than trust an even spread.
 */
#ifndef SWIMD_HASH_H
#define SWIMD_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a over n bytes at p (p may be NULL when n is 0). */
static inline uint64_t hash_fnv1a(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

#endif /* SWIMD_HASH_H */
