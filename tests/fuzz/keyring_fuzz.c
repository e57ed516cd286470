/*
 * keyring_fuzz.c - libFuzzer target for keyring files (agent/keyring.c,
 * keyring_load_text()).
 *
 * One input is one file's bytes.  Contract: the file loads or is refused
 * (a bad line is named by number); a keyring that loads holds 1 to
 * KEYRING_KEYS_MAX keys, and what its primary key seals, the keyring opens
 * back to the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fuzz.h"
#include "keyring.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keyring *kr = keyring_new();
    int line = -1;
    FUZZ_CHECK(kr != NULL);
    int rc = keyring_load_text(kr, (const char *)data, size, &line);
    FUZZ_CHECK(rc == 0 || rc == ERR_INVAL || rc == ERR_LIMIT || rc == ERR_NOTFOUND);
    FUZZ_CHECK(rc != ERR_INVAL || line >= 1);
    FUZZ_CHECK(keyring_count(kr) <= KEYRING_KEYS_MAX);
    if (rc == 0) {
        static const uint8_t msg[] = "a datagram";
        uint8_t sealed[sizeof(msg) + KEYRING_OVERHEAD], plain[sizeof(msg)];
        size_t slen = 0, plen = 0;
        FUZZ_CHECK(keyring_count(kr) >= 1);
        FUZZ_CHECK(keyring_seal(kr, NULL, 0, msg, sizeof(msg), sealed, sizeof(sealed), &slen) == 0);
        FUZZ_CHECK(keyring_open(kr, NULL, 0, sealed, slen, plain, sizeof(plain), &plen) == 0);
        FUZZ_CHECK(plen == sizeof(msg) && memcmp(plain, msg, plen) == 0);
    }
    keyring_delete(kr);
    return 0;
}
