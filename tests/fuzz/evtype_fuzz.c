/*
 * evtype_fuzz.c - libFuzzer target for handler specs and type lists
 * (agent/evtype.c): --event-handler "[TYPES=]COMMAND" and watch --type.
 *
 * One input is one spec (cut at its first NUL).  Contract: a spec is
 * refused with a message, or accepted with a non-empty command shorter
 * than EV_SPEC_MAX that is a suffix of the input, types only a handler may
 * ask for (queries included), and user:NAME and query:NAME filters that
 * match events of their kind by that name; a type list is refused or gives
 * a mask of known types.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evtype.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ev_handler_spec spec;
    char text[2 * EV_SPEC_MAX], err[256] = "";
    size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    if (ev_handler_spec_parse(text, &spec, err, sizeof(err)) == 0) {
        size_t clen = strnlen(spec.command, EV_SPEC_MAX);
        FUZZ_CHECK(clen > 0 && clen < EV_SPEC_MAX);
        FUZZ_CHECK(clen <= strlen(text) && strcmp(text + strlen(text) - clen, spec.command) == 0);
        FUZZ_CHECK((spec.types & ~EV_MASK_HANDLER_ALLOWED) == 0);
        FUZZ_CHECK(spec.user_count <= EV_SPEC_USER_NAMES_MAX);
        FUZZ_CHECK(spec.query_count <= EV_SPEC_USER_NAMES_MAX);
        for (size_t i = 0; i < spec.user_count; i++) {
            size_t ulen = strnlen(spec.user_names[i], EV_USER_NAME_MAX + 1);
            FUZZ_CHECK(ulen >= 1 && ulen <= EV_USER_NAME_MAX);
            FUZZ_CHECK(ev_handler_spec_matches(&spec, EV_USER, spec.user_names[i]));
        }
        for (size_t i = 0; i < spec.query_count; i++) {
            size_t qlen = strnlen(spec.query_names[i], EV_USER_NAME_MAX + 1);
            FUZZ_CHECK(qlen >= 1 && qlen <= EV_USER_NAME_MAX);
            FUZZ_CHECK(ev_handler_spec_matches(&spec, EV_QUERY, spec.query_names[i]));
        }
    } else {
        FUZZ_CHECK(err[0] != '\0');
    }
    uint32_t mask = 0;
    err[0] = '\0';
    if (ev_types_parse(text, &mask, err, sizeof(err)) == 0)
        FUZZ_CHECK(mask != 0 && (mask & ~EV_MASK_ALL) == 0);
    else
        FUZZ_CHECK(err[0] != '\0');
    return 0;
}
