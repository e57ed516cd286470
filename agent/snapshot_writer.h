/*
 * snapshot_writer.h - --snapshot on the loop: restore at start, rewrite
 * after membership changes, as an event subscriber.
 *
 * Model: snapw_restore() reads the file (snapshot.h) before the core
 * exists: a generation at or above the recorded one is bumped past it (the
 * wall clock may have gone back), and the recorded members become join
 * seeds, alive ones first (nodes stopped with SIGTERM appear as "left" in
 * each other's snapshots).  A file that is missing, corrupt or another
 * node's is logged and ignored.
 *
 * A struct snapw is an EV_LAG_REPORT subscriber of the event bus read from
 * the loop: every member or self event, and every lost stretch, marks the
 * snapshot dirty, and the writer policy (struct snap_writer: at most one
 * write per interval) says when to rewrite it, from a timer on the loop.
 * snapw_start() writes at once (recording this start's generation);
 * snapw_final() writes the last view after the loop has ended.
 *
 * Threads: none.  Writing is blocking file I/O on the loop (small files).
 */
#ifndef AGENT_SNAPSHOT_WRITER_H
#define AGENT_SNAPSHOT_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "events.h"
#include "join.h"
#include "log.h"
#include "swim.h"

struct event_base;

/* The snapshot writer's queue: it only needs to know that something changed. */
#define SNAPW_QUEUE 64
/* Items read per wakeup, so a burst cannot starve the UDP socket. */
#define SNAPW_ITEMS_PER_WAKEUP 64

/* What a restart takes from the file; a plain value. */
struct snapw_restored {
    uint64_t generation; /* in: this start's; out: bumped past the file's */
    size_t seed_count;
    char seeds[JOIN_SEEDS_MAX][ADDR_TEXT_MAX];
};

/* Read `path` for node `name` into *out (seed_count 0 when nothing usable);
 * every outcome is logged (join_given: the seeds will not be used, --join
 * wins).  Never fails. */
void snapw_restore(const char *path, const char *name, int join_given, struct log *lg,
                   struct snapw_restored *out);

struct snapw_config {
    struct event_base *base;
    struct ev_bus *bus;
    struct swim *core; /* the view written */
    struct log *log;
    const char *name; /* this node (copied) */
    const char *path; /* the file (copied) */
};

struct snapw;

/* Subscribe and arm nothing yet.  NULL with one line in err. */
struct snapw *snapw_new(const struct snapw_config *cfg, char *err, size_t errlen);
/* Close the subscriber (nothing is written).  NULL is a no-op. */
void snapw_delete(struct snapw *w);
/* Record this start's generation at once. */
void snapw_start(struct snapw *w);
/* Write the final view now (after the loop has ended). */
void snapw_final(struct snapw *w);

#endif /* AGENT_SNAPSHOT_WRITER_H */
