/*
 * loop_sub.h - an event bus subscriber read from the libevent loop.
 *
 * Model: the bridge, the snapshot writer and every watcher read the bus on
 * the loop's thread: a subscriber (events.h) plus one persistent EV_READ
 * event on its descriptor, added to the loop at once.  The callback must
 * drain with ev_sub_try_recv() until ERR_AGAIN, or make the event active
 * again when it stops at its per-wakeup bound (see ev_sub_fd()).
 */
#ifndef AGENT_LOOP_SUB_H
#define AGENT_LOOP_SUB_H

#include <event2/event.h>
#include <stdint.h>

#include "events.h"

/*
 * Open a subscriber of bus (cfg as ev_sub_open()) and its event, calling
 * cb(fd, what, arg) when something is pending.  0 with *sub and *ev set, or
 * the errors of ev_sub_open() (*first_held as there; may be NULL) or
 * ERR_NOMEM; nothing stays open on failure.
 */
int loop_sub_open(struct event_base *base, struct ev_bus *bus, const struct ev_sub_config *cfg,
                  event_callback_fn cb, void *arg, struct ev_sub **sub, struct event **ev,
                  uint64_t *first_held);
/* Free the event and close the subscriber (either may be NULL). */
void loop_sub_close(struct ev_sub *sub, struct event *ev);

#endif /* AGENT_LOOP_SUB_H */
