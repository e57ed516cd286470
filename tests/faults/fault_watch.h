/*
 * fault_watch.h - membership events streamed from agents' control sockets.
 *
 * Model: one `watch` request per agent (types filtered by swimd), read
 * without blocking; complete JSON lines become struct fault_event values
 * handed to a callback with the index of the watcher that saw them, at the
 * moment they are read, so a caller can timestamp them on its own monotonic
 * clock.  Clock lines ({"seq":N,"clock":true}) are skipped.  A stream that
 * ends (the agent died, or it dropped a lagging watcher) closes its watcher.
 */
#ifndef TESTS_FAULTS_FAULT_WATCH_H
#define TESTS_FAULTS_FAULT_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "fault_cluster.h"

/* Longer than any member event line (tags are empty here). */
#define FAULT_WATCH_BUF 16384

struct fault_watch {
    int fd; /* -1 when closed */
    size_t used;
    char buf[FAULT_WATCH_BUF];
};

/* One member event: type ("member-suspect", ...), the member it is about. */
struct fault_event {
    char type[24];
    char name[72];
    uint64_t generation;
    uint32_t incarnation;
};

/* Called for each event read from watcher `idx`. */
typedef void (*fault_event_f)(void *ctx, size_t idx, const struct fault_event *ev);

/* Watch every agent of c but index `skip` (-1: none; its watcher stays
 * closed) for events of `types` (a comma list), replies awaited: an array
 * of c->n watchers indexed like c->nodes, or NULL with err. */
struct fault_watch *fault_watch_new(const struct fault_cluster *c, const char *types, int skip,
                                    char *err, size_t cap);
/* Close and free the n watchers (NULL is a no-op). */
void fault_watch_delete(struct fault_watch *ws, size_t n);
/* Wait at most timeout_ms for any of the n watchers to have data, then
 * hand every complete event to fn.  Returns how many events were handed. */
int fault_watch_poll(struct fault_watch *ws, size_t n, int timeout_ms, fault_event_f fn, void *ctx);

#endif /* TESTS_FAULTS_FAULT_WATCH_H */
