/*
 * replay.h - refusing replayed datagrams in an encrypted cluster.
 *
 * Model: every sealed datagram carries an authenticated stamp (keyring.h):
 * its sender's random per-process id, the sender's wall-clock time and a
 * per-sender counter.  A datagram is admitted once, and only while fresh:
 *
 *   - sealed more than REPLAY_CLOCK_MS from our wall clock (either way):
 *     too old (or from a clock too far off), refused.  Cluster clocks must
 *     agree within REPLAY_CLOCK_MS;
 *   - sealed before this receiver started: refused, so a restart (which
 *     forgets every window) cannot be used to replay old traffic.  The cost:
 *     a member whose clock lags ours by d is not heard for d after we start;
 *   - within the time window, each sender has a window of counters: the
 *     highest admitted and a bitmap of the REPLAY_BITS below it.  A counter
 *     seen before, or older than the bitmap, is refused.
 *
 * Senders are remembered in a fixed table of REPLAY_SENDERS_MAX.  A sender
 * whose newest datagram left the time window can be forgotten safely (all
 * its datagrams we admitted are now refused by time), so a new sender takes
 * the place of such a stale one; when every one is fresh, new senders are
 * refused until one goes stale.  Plaintext clusters have no stamp, and no
 * replay protection.
 */
#ifndef AGENT_REPLAY_H
#define AGENT_REPLAY_H

#include <stdint.h>

#include "keyring.h"

/* The clock allowance: datagrams older (or newer) than this are refused. */
#define REPLAY_CLOCK_MS 30000
/* Counters remembered below a sender's highest: reordering deeper than this
 * (in datagrams the sender sealed, to anyone) is taken for a replay. */
#define REPLAY_BITS 1024
/* Senders remembered: the table bound (swim_config.max_members, 8192 by
 * default) plus restarts within the window. */
#define REPLAY_SENDERS_MAX 16384

struct replay;

/* A filter for a receiver that started at wall-clock start_ms.  NULL when
 * out of memory. */
struct replay *replay_new(uint64_t start_ms);
void replay_delete(struct replay *r);
/* Admit the datagram stamped st, received at wall-clock now_ms: 0 (and it
 * is remembered), ERR_STALE (outside the time window, or sealed before we
 * started), ERR_EXISTS (a counter seen before, or below the window) or
 * ERR_FULL (a new sender while every remembered one is fresh). */
int replay_admit(struct replay *r, const struct keyring_stamp *st, uint64_t now_ms);

#endif /* AGENT_REPLAY_H */
