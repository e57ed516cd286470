/*
 * prng.h - a small, fast, seedable pseudo-random generator.
 *
 * Model: xoshiro256** (Blackman and Vigna, 2018) with its 256-bit state
 * filled from one 64-bit seed through splitmix64, as its authors recommend.
 * The state is a plain value owned by the caller: no global state, no clock,
 * no system entropy, so a run is reproducible from its seed.  The core draws
 * its protocol randomness from one, the simulated world its loss and jitter
 * from another.  Header-only, like err.h, so the pure libraries gain no
 * dependency.  Not for cryptography.
 */
#ifndef SWIMD_PRNG_H
#define SWIMD_PRNG_H

#include <stddef.h>
#include <stdint.h>

struct prng {
    uint64_t s[4];
};

/* One splitmix64 step: advances *x and returns a well-mixed value; also
 * useful alone to derive independent seeds from one. */
static inline uint64_t prng_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Fill the state from seed (any value, 0 included). */
static inline void prng_seed(struct prng *p, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        p->s[i] = prng_splitmix64(&seed);
}

static inline uint64_t prng_rotl_(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* The next 64 random bits. */
static inline uint64_t prng_next(struct prng *p)
{
    uint64_t *s = p->s;
    uint64_t result = prng_rotl_(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = prng_rotl_(s[3], 45);
    return result;
}

/* In [0, n); n > 0.  The modulo bias (n / 2^64) is negligible for table
 * sizes and delays. */
static inline uint64_t prng_below(struct prng *p, uint64_t n)
{
    return prng_next(p) % n;
}

#endif /* SWIMD_PRNG_H */
