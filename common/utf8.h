/*
 * utf8.h - decode one UTF-8 sequence, strictly.
 *
 * Model: RFC 3629 UTF-8 only: the shortest form of each code point, no
 * surrogate halves (U+D800..U+DFFF), nothing above U+10FFFF.  Pure and
 * header-only, like hash.h; the core's name rule (swim/name.c) and the
 * agent's text rule and escaping (agent/text.c) both read text through it,
 * so "valid UTF-8" means one thing everywhere.
 */
#ifndef SWIMD_UTF8_H
#define SWIMD_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Longest sequence in bytes. */
#define UTF8_SEQ_MAX 4

/*
 * The sequence at p (p < end): its length (1..4) with *cp set, or 0 when
 * the bytes there are not valid UTF-8 (a stray continuation byte, a lead
 * byte without its continuations, an overlong form, a surrogate, or a code
 * point above U+10FFFF).  Reads no byte at or past end.
 */
static inline size_t utf8_decode(const uint8_t *p, const uint8_t *end, uint32_t *cp)
{
    uint8_t b = p[0];
    size_t n;
    uint32_t c, min;
    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xc2 && b <= 0xdf) {
        n = 2;
        c = b & 0x1f;
        min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
        n = 3;
        c = b & 0x0f;
        min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
        n = 4;
        c = b & 0x07;
        min = 0x10000;
    } else {
        return 0; /* continuation byte, 0xc0/0xc1 (always overlong), or above 0xf4 */
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return n;
}

#endif /* SWIMD_UTF8_H */
