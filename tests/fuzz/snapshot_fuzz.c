/*
 * snapshot_fuzz.c - libFuzzer target for the snapshot file format
 * (agent/snapshot.c, snap_parse()).
 *
 * One input is one file's bytes.  Contract: a document is refused with a
 * message, or accepted; an accepted one holds only valid names (the name
 * rule), numeric addresses and known statuses, dumps to a document that
 * parses back to the same snapshot, and its generation is exact.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[SNAP_ERR_MAX] = "";
    struct snap *s = NULL;
    int rc = snap_parse((const char *)data, size, &s, err, sizeof(err));
    FUZZ_CHECK((rc == 0) == (s != NULL));
    if (rc != 0) {
        FUZZ_CHECK(err[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(swim_name_valid(snap_name(s), strlen(snap_name(s))));
    FUZZ_CHECK(snap_generation(s) <= SNAP_GENERATION_MAX);
    for (size_t i = 0; i < snap_count(s); i++) {
        const struct snap_member *m = snap_member_at(s, i);
        FUZZ_CHECK(swim_name_valid(m->name, strlen(m->name)));
        FUZZ_CHECK((int)m->status >= SWIM_ALIVE && (int)m->status <= SWIM_LEFT);
    }
    char *text = snap_dump(s);
    FUZZ_CHECK(text != NULL);
    struct snap *back = NULL;
    FUZZ_CHECK(snap_parse(text, strlen(text), &back, err, sizeof(err)) == 0);
    FUZZ_CHECK(strcmp(snap_name(back), snap_name(s)) == 0);
    FUZZ_CHECK(snap_generation(back) == snap_generation(s));
    FUZZ_CHECK(snap_incarnation(back) == snap_incarnation(s));
    FUZZ_CHECK(snap_count(back) == snap_count(s));
    for (size_t i = 0; i < snap_count(s); i++) {
        const struct snap_member *a = snap_member_at(s, i), *b = snap_member_at(back, i);
        FUZZ_CHECK(strcmp(a->name, b->name) == 0 && strcmp(a->addr, b->addr) == 0 &&
                   a->status == b->status);
    }
    free(text);
    snap_delete(back);
    snap_delete(s);
    return 0;
}
