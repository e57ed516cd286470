/*
 * text.c - see text.h.  Everything is read through utf8_decode() (utf8.h),
 * so the checker, the escaper and the width agree on what a character is.
 */
#include "text.h"

#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "utf8.h"

/* 1 for a control code point: C0, DEL or C1. */
static int text_is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* 1 when p[0..len) is valid UTF-8 and, with no_controls, has no control
 * character. */
static int text_scan(const char *p, size_t len, int no_controls)
{
    if (len == 0)
        return 1; /* p may be NULL then */
    const uint8_t *b = (const uint8_t *)p, *end = b + len;
    /* Each pass consumes at least one byte. */
    while (b < end) {
        uint32_t cp;
        size_t n = utf8_decode(b, end, &cp);
        if (n == 0 || (no_controls && text_is_control(cp)))
            return 0;
        b += n;
    }
    return 1;
}

int text_utf8(const char *p, size_t len)
{
    return text_scan(p, len, 0);
}

int text_valid(const char *p, size_t len)
{
    return text_scan(p, len, 1);
}

/* The length of the printable character at b (0: escape its first byte). */
static size_t text_printable_at(const uint8_t *b, const uint8_t *end)
{
    uint32_t cp;
    size_t n = utf8_decode(b, end, &cp);
    if (n == 0 || text_is_control(cp) || cp == '\\')
        return 0;
    return n;
}

size_t text_escape(char *out, size_t cap, const char *p, size_t len)
{
    size_t o = 0;
    out[0] = '\0';
    if (len == 0)
        return 0; /* p may be NULL then */
    const uint8_t *b = (const uint8_t *)p, *end = b + len;
    /* Each pass consumes at least one input byte, or stops. */
    while (b < end) {
        size_t n = text_printable_at(b, end);
        char esc[TEXT_ESCAPE_RATIO + 1];
        const char *src = (const char *)b;
        size_t w = n;
        if (n == 0) {
            if (*b == '\\')
                memcpy(esc, "\\\\", 3);
            else
                snprintf(esc, sizeof(esc), "\\x%02x", *b);
            src = esc;
            w = strlen(esc);
            n = 1;
        }
        if (o + w + 1 > cap)
            break;
        memcpy(out + o, src, w);
        o += w;
        b += n;
    }
    out[o] = '\0';
    return o;
}

/* Columns of one printable code point, by the C library's UTF-8 tables,
 * loaded into *utf8 at the first code point beyond ASCII (loading them
 * reads a file: a table of ASCII names needs none). */
static size_t text_cp_width(uint32_t cp, locale_t *utf8, int *tried)
{
    if (cp < 0x80)
        return 1;
    if (!*tried) {
        *tried = 1;
        *utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    }
    if (*utf8 == (locale_t)0)
        return 1;
    locale_t old = uselocale(*utf8);
    int w = wcwidth((wchar_t)cp);
    uselocale(old);
    return w < 0 ? 1 : (size_t)w;
}

size_t text_width(const char *s)
{
    const uint8_t *b = (const uint8_t *)s, *end = b + strlen(s);
    locale_t utf8 = (locale_t)0;
    int tried = 0;
    size_t cols = 0;
    /* Each pass consumes at least one byte. */
    while (b < end) {
        uint32_t cp;
        size_t n = utf8_decode(b, end, &cp);
        if (n == 0) { /* not UTF-8: a terminal shows one replacement */
            cols++;
            b++;
            continue;
        }
        cols += text_is_control(cp) ? 0 : text_cp_width(cp, &utf8, &tried);
        b += n;
    }
    if (utf8 != (locale_t)0)
        freelocale(utf8);
    return cols;
}
