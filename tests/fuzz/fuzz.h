/*
 * fuzz.h - what every fuzz target shares: libFuzzer's entry point and
 * FUZZ_CHECK, which aborts (a crash that libFuzzer, the corpus replays and
 * Check all report) when a contract of the code under test breaks.
 */
#ifndef TESTS_FUZZ_H
#define TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

#endif /* TESTS_FUZZ_H */
