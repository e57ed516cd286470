/*
 * name.c - the one rule of what a node name may contain (swim.h,
 * swim_name_valid).
 *
 * A name is an identifier that people read in logs, tables and scripts, and
 * that other programs split on whitespace and newlines, so it is printable,
 * visible text: 1..SWIM_NAME_MAX bytes of valid UTF-8 (utf8.h), with no
 * control character (C0, DEL, C1), no whitespace of any kind, and none of
 * the invisible format characters that would let one name pass for another
 * on screen (zero-width characters, soft hyphen, direction marks,
 * embeddings, overrides and isolates, the byte-order mark).  The wire
 * decoder refuses any other name (wire.c), and so do swim_new() and the
 * agent's entrances (--name, control requests, snapshots).
 */
#include <stdint.h>

#include "swim.h"
#include "utf8.h"

/* 1 when code point cp may appear in a name. */
static int swim_name_cp_ok(uint32_t cp)
{
    if (cp <= 0x20 || (cp >= 0x7f && cp <= 0xa0)) /* C0, space, DEL, C1, no-break space */
        return 0;
    if (cp == 0xad || cp == 0x61c || cp == 0x1680 || cp == 0x180e) /* soft hyphen, ALM, spaces */
        return 0;
    if ((cp >= 0x2000 && cp <= 0x200f) || /* spaces, zero-width, LRM, RLM */
        (cp >= 0x2028 && cp <= 0x202f) || /* line/paragraph separators, embeddings */
        (cp >= 0x205f && cp <= 0x206f))   /* math space, invisible operators, isolates */
        return 0;
    if (cp == 0x3000 || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb))
        return 0; /* ideographic space, BOM, interlinear annotation */
    return 1;
}

int swim_name_valid(const char *name, size_t len)
{
    const uint8_t *p = (const uint8_t *)name, *end = p + len;
    if (name == NULL || len == 0 || len > SWIM_NAME_MAX)
        return 0;
    /* Each pass consumes at least one byte. */
    while (p < end) {
        uint32_t cp;
        size_t n = utf8_decode(p, end, &cp);
        if (n == 0 || !swim_name_cp_ok(cp))
            return 0;
        p += n;
    }
    return 1;
}
