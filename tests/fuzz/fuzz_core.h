/*
 * fuzz_core.h - one datagram into a fresh core instance, for the fuzz
 * targets that end in the core's receive path (wire_fuzz, sealed_fuzz).
 *
 * The instance is started with the lan profile and a runtime that drops
 * everything (notifications are counted, datagrams and timers ignored), so
 * the core may call it freely; the datagram is handed over twice, so a
 * replay takes the duplicate paths too.  No state survives a call.
 * Header-only: each target (and tests/swim/fuzz_replay_test.c, through
 * wire_fuzz.c) compiles its own copy.
 */
#ifndef TESTS_FUZZ_CORE_H
#define TESTS_FUZZ_CORE_H

#include <stdint.h>
#include <stdlib.h>

#include "swim.h"

static void fuzz_core_notify(void *ctx, const struct swim_notification *n)
{
    size_t *count = ctx;
    (void)n;
    (*count)++;
}

static void fuzz_core_send_to(void *ctx, const struct swim_addr *to, const uint8_t *data,
                              size_t len)
{
    (void)ctx;
    (void)to;
    (void)data;
    (void)len;
}

static void fuzz_core_submit_after(void *ctx, const struct swim_timer *t, uint64_t delay_ms)
{
    (void)ctx;
    (void)t;
    (void)delay_ms;
}

static void fuzz_core_cancel(void *ctx, const struct swim_timer *t)
{
    (void)ctx;
    (void)t;
}

/* One datagram into a fresh, started instance; returns its result. */
static int fuzz_core_feed(const uint8_t *data, size_t size)
{
    size_t notified = 0;
    struct swim_runtime rt = {&notified,         fuzz_core_notify,
                              fuzz_core_send_to, fuzz_core_submit_after,
                              fuzz_core_cancel,  NULL};
    struct swim_config cfg;
    struct swim_addr self = {2, {0, 1}}, from = {2, {0, 2}};
    struct swim *s;
    int rc;

    if (swim_config_profile(&cfg, "lan") != 0)
        abort();
    s = swim_new(&cfg, "fuzz-self", &self, 1, 0x5EED, &rt);
    if (s == NULL)
        abort();
    if (swim_start(s, 0) != 0)
        abort();
    rc = swim_handle_packet(s, &from, data, size, 1000);
    /* Twice: the instance must stay usable after any input, and a replayed
     * datagram takes the duplicate paths. */
    (void)swim_handle_packet(s, &from, data, size, 1001);
    swim_delete(s);
    return rc;
}

#endif /* TESTS_FUZZ_CORE_H */
