/*
 * tags_fuzz.c - libFuzzer target for the agent's tag block decoder
 * (agent/tags.c), which reads meta received from untrusted peers.
 *
 * For any input: tags_decode_all() must not read out of bounds; a block it
 * accepts must be canonical, so loading it into a set and encoding it again
 * gives back the same bytes; and tags_at() must agree with the decoder.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "tags.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tags_pair pairs[TAGS_PAIRS_MAX];
    size_t n = 0;
    int rc = tags_decode_all(pairs, TAGS_PAIRS_MAX, &n, data, size);
    if (rc != 0)
        return 0;
    struct tags *t = tags_new();
    if (t == NULL)
        return 0;
    if (tags_load(t, data, size) != 0)
        abort();
    size_t len;
    const uint8_t *b = tags_bytes(t, &len);
    if (len != size || (size > 0 && memcmp(b, data, size) != 0))
        abort();
    /* Rebuilding pair by pair through the editing API gives the same block. */
    struct tags *u = tags_new();
    if (u != NULL) {
        for (size_t i = 0; i < n; i++) {
            char k[TAGS_KEY_MAX + 1], v[TAGS_VALUE_MAX + 1];
            struct tags_pair p;
            if (tags_at(t, i, &p) != 0 || p.klen != pairs[i].klen)
                abort();
            memcpy(k, p.key, p.klen);
            k[p.klen] = '\0';
            memcpy(v, p.value, p.vlen);
            v[p.vlen] = '\0';
            if (tags_set(u, k, v) != 0)
                abort();
        }
        size_t ulen;
        const uint8_t *ub = tags_bytes(u, &ulen);
        if (ulen != size || (size > 0 && memcmp(ub, data, size) != 0))
            abort();
        tags_delete(u);
    }
    tags_delete(t);
    return 0;
}
