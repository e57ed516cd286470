/*
 * text_fuzz.c - libFuzzer target for the text rules every entrance and exit
 * shares: the name rule (swim/name.c) and the agent's text checks and
 * escaping (agent/text.c).
 *
 * Contract, for any bytes: a valid name is valid text, and text is UTF-8;
 * text_escape() always gives text (nothing a terminal or a log line could
 * take as a control), within its capacity, and gives the input back
 * unchanged when it is text without a backslash; text_width() of the
 * escape is at most its length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "swim.h"
#include "text.h"

/* Longest input tried; an escape takes up to TEXT_ESCAPE_RATIO per byte. */
#define TEXT_FUZZ_MAX 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[TEXT_FUZZ_MAX * TEXT_ESCAPE_RATIO + 1];
    const char *p = (const char *)data;
    if (size > TEXT_FUZZ_MAX)
        return 0;
    int name = swim_name_valid(p, size), text = text_valid(p, size), utf8 = text_utf8(p, size);
    FUZZ_CHECK(!name || text);
    FUZZ_CHECK(!text || utf8);
    FUZZ_CHECK(!name || (size >= 1 && size <= SWIM_NAME_MAX));
    size_t n = text_escape(out, sizeof(out), p, size);
    FUZZ_CHECK(n < sizeof(out) && out[n] == '\0' && strlen(out) == n);
    FUZZ_CHECK(text_valid(out, n));
    if (text && memchr(p, '\\', size) == NULL && memchr(p, '\0', size) == NULL)
        FUZZ_CHECK(n == size && memcmp(out, p, size) == 0);
    FUZZ_CHECK(text_width(out) <= n);
    /* A small capacity cuts cleanly: still text, never past it. */
    char small[9];
    size_t m = text_escape(small, sizeof(small), p, size);
    FUZZ_CHECK(m < sizeof(small) && text_valid(small, m));
    return 0;
}
