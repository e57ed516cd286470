/*
 * sealed_fuzz.c - libFuzzer target for sealed datagrams: the envelope
 * (agent/keyring.c) in front of the core's receive path.
 *
 * The first byte chooses how the rest is used:
 *   even   the rest is an envelope as it came off the wire: opened with a
 *          fixed two-key keyring and label, and, should it open, handed to
 *          the core;
 *   odd    the rest is a plaintext datagram: sealed with the keyring's
 *          primary key, then (second byte non-zero) one bit flipped at the
 *          position the second byte chooses, then opened.
 * Contract: an envelope opened unchanged gives back exactly the plaintext,
 * under the right label only; an envelope with any bit flipped never opens;
 * whatever opens goes to the core (fuzz_core.h).  Nonces are random, so a
 * run is not bit-for-bit repeatable, but no path depends on them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fuzz.h"
#include "fuzz_core.h"
#include "keyring.h"

/* Largest datagram tried: the core's ceiling plus the envelope. */
#define SEALED_MAX (SWIM_PACKET_MAX + KEYRING_OVERHEAD)

static const uint8_t sealed_label[] = "fuzz-cluster";

/* The fixed keyring: the primary seals, both open (built once). */
static struct keyring *sealed_keyring(void)
{
    static struct keyring *kr;
    if (kr == NULL) {
        kr = keyring_new();
        if (kr == NULL ||
            keyring_add_base64(kr, "c2VhbGVkLWZ1enotcHJpbWFyeS1rZXktMzItYnl0ZXM=") != 0 ||
            keyring_add_base64(kr, "c2VhbGVkLWZ1enotc2Vjb25kLWtleS0zMi1ieXRlcyE=") != 0)
            abort();
    }
    return kr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t sealed[SEALED_MAX], plain[SEALED_MAX];
    struct keyring *kr = sealed_keyring();
    size_t adlen = sizeof(sealed_label) - 1, plen = 0;
    if (size < 1 || size > SWIM_PACKET_MAX)
        return 0;
    if ((data[0] & 1) == 0) {
        if (keyring_open(kr, sealed_label, adlen, data + 1, size - 1, plain, sizeof(plain),
                         &plen) == 0)
            (void)fuzz_core_feed(plain, plen);
        return 0;
    }
    const uint8_t *msg = data + 1;
    size_t mlen = size - 1, slen = 0;
    uint8_t flip = 0;
    if (mlen > 0) {
        flip = msg[0];
        msg++;
        mlen--;
    }
    FUZZ_CHECK(keyring_seal(kr, sealed_label, adlen, msg, mlen, sealed, sizeof(sealed), &slen) ==
               0);
    FUZZ_CHECK(slen == mlen + KEYRING_OVERHEAD);
    FUZZ_CHECK(keyring_open(kr, (const uint8_t *)"other", 5, sealed, slen, plain, sizeof(plain),
                            &plen) != 0);
    if (flip != 0) {
        size_t bit = (size_t)flip * 7919u % (slen * 8);
        sealed[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        FUZZ_CHECK(
            keyring_open(kr, sealed_label, adlen, sealed, slen, plain, sizeof(plain), &plen) != 0);
        return 0;
    }
    FUZZ_CHECK(keyring_open(kr, sealed_label, adlen, sealed, slen, plain, sizeof(plain), &plen) ==
               0);
    FUZZ_CHECK(plen == mlen && (mlen == 0 || memcmp(plain, msg, mlen) == 0));
    (void)fuzz_core_feed(plain, plen);
    return 0;
}
