/*
 * bridge.h - the backplane bridge: membership events drive the member
 * links (links.h), as an event subscriber on the loop.
 *
 * Model: a struct bridge owns the member links (struct ml) and one
 * EV_LAG_RECOVER subscriber of the event bus, read from the loop
 * (BRIDGE_QUEUE deep, at most BRIDGE_ITEMS_PER_WAKEUP items per turn).  Each
 * member-* event is applied to the links in sequence order, so a member's
 * device stops when the member fails or leaves and every client monitoring
 * it is told.  Events that fell out of the history before the bridge read
 * them are repaired by bringing every device to the core's member table.
 * The bridge's position (the sequence of the last item applied) is shown by
 * `info` as bridge_position: once it equals event_clock, every event so far
 * is reflected in the links.  This node has a device too (made at
 * bridge_new(), running while swimd runs), so monitoring it is not
 * "unknown": its monitors are told "left" when the bus ends, at shutdown.
 * The bus's end stops the reading.
 *
 * Threads: none.  Errors are 0 or a negative ERR_* code from err.h.
 */
#ifndef AGENT_BRIDGE_H
#define AGENT_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "links.h"
#include "log.h"
#include "swim.h"

struct event_base;

/* The bridge's queue: the loop reads it every turn, so a few hundred events
 * cover any burst between two turns; beyond it the history repairs the gap
 * (EV_LAG_RECOVER).  Each slot is a 16-byte reference to the stored event. */
#define BRIDGE_QUEUE 256
/* Items applied per wakeup, so a burst cannot starve the UDP socket. */
#define BRIDGE_ITEMS_PER_WAKEUP 64

struct bridge_config {
    struct event_base *base;
    struct ev_bus *bus;
    struct swim *core; /* read to resynchronise after lost events */
    struct log *log;
    ml_report_f report; /* member-link reports (monitor clients) */
    void *report_ctx;
};

struct bridge;

/* Subscribe and start reading.  NULL with one line in err. */
struct bridge *bridge_new(const struct bridge_config *cfg, char *err, size_t errlen);
/* Close the subscriber and free the links (no report).  NULL is a no-op. */
void bridge_delete(struct bridge *b);
/* The member links, for monitor clients. */
struct ml *bridge_links(struct bridge *b);
/* Sequence of the last item applied (0 before the first). */
uint64_t bridge_position(const struct bridge *b);

#endif /* AGENT_BRIDGE_H */
