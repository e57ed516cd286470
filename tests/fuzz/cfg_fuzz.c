/*
 * cfg_fuzz.c - libFuzzer target for swimd's JSON config file
 * (agent/cfg.c, cfg_load_json_text()).
 *
 * One input is one config document, applied over the defaults.  Contract:
 * it is accepted or refused with a message, never half-read into a broken
 * struct: whatever it leaves in struct cfg is NUL-terminated where it is
 * text and within its bounds (join and handler counts, the tag block, the
 * socket gid), and a document that loads leaves a configuration cfg_check()
 * can judge.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "fuzz.h"
#include "tags.h"

static int cfg_fuzz_terminated(const char *field, size_t cap)
{
    return memchr(field, '\0', cap) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cfg c; /* a few KiB: off the stack */
    char err[CFG_ERR_MAX] = "";
    cfg_defaults(&c);
    int rc = cfg_load_json_text(&c, (const char *)data, size, "fuzz.json", err, sizeof(err));
    FUZZ_CHECK(rc == 0 || err[0] != '\0');
    FUZZ_CHECK(cfg_fuzz_terminated(c.name, sizeof(c.name)));
    FUZZ_CHECK(cfg_fuzz_terminated(c.bind, sizeof(c.bind)));
    FUZZ_CHECK(cfg_fuzz_terminated(c.advertise, sizeof(c.advertise)));
    FUZZ_CHECK(cfg_fuzz_terminated(c.socket_path, sizeof(c.socket_path)));
    FUZZ_CHECK(cfg_fuzz_terminated(c.snapshot, sizeof(c.snapshot)));
    FUZZ_CHECK(cfg_fuzz_terminated(c.label, sizeof(c.label)));
    FUZZ_CHECK(c.join_count <= CFG_JOIN_MAX && c.handler_count <= CFG_HANDLERS_MAX);
    for (size_t i = 0; i < c.join_count; i++)
        FUZZ_CHECK(cfg_fuzz_terminated(c.join[i], sizeof(c.join[i])));
    for (size_t i = 0; i < c.handler_count; i++)
        FUZZ_CHECK(cfg_fuzz_terminated(c.handlers[i], sizeof(c.handlers[i])));
    FUZZ_CHECK(c.tags_len <= SWIM_META_MAX);
    struct tags_pair pairs[TAGS_PAIRS_MAX];
    size_t n = 0;
    FUZZ_CHECK(tags_decode_all(pairs, TAGS_PAIRS_MAX, &n, c.tags, c.tags_len) == 0);
    FUZZ_CHECK(c.socket_gid >= -1);
    if (rc == 0) {
        err[0] = '\0';
        FUZZ_CHECK(cfg_check(&c, err, sizeof(err)) == 0 || err[0] != '\0');
    }
    return 0;
}
