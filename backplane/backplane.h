/*
 * backplane.h - devices, links and fault propagation (after async-backplane).
 *
 * Model.  A backplane (struct bp) is an instance holding devices.  A device
 * stands for something that can stop: a cluster member, a local client, a
 * child process.  It has an id, an inbox and a state, running or stopped.
 *
 *   - Ids.  bp_device_new() hands out a bp_id.  The id is also the handle: it
 *     carries the device's slot and a generation, so looking a device up by id
 *     is an array index plus a compare, and an id whose device has been deleted
 *     is detected (ERR_STALE), never dereferenced.  Ids are never reused within
 *     one backplane instance (the agent has exactly one); BP_ID_NONE (0) is
 *     never issued.
 *   - Links join two running devices.  Modes are seen from the first device:
 *       BP_MONITOR  I am told when it stops;
 *       BP_NOTIFY   it is told when I stop;
 *       BP_PEER     both.
 *     Linking twice merges the modes (there is at most one link per pair);
 *     links can be removed, wholly or one direction at a time.  Linking to a
 *     device that has already stopped (but is not yet deleted) delivers its
 *     disconnect at once instead of creating a link.
 *   - Stopping.  A device stops once, with a fault: none (a clean stop), an
 *     error (a code and a short text), or a cascade (the dependency that
 *     caused it, that dependency's fault kind, and the device whose error
 *     started the chain with its code and text).  Every device that monitors
 *     it receives exactly one Disconnected(id, fault), and all its links are
 *     removed.  Deleting a running device stops it first with the error
 *     (ERR_CLOSED, "deleted while running"), as async-backplane's Fault::Drop.
 *     Disconnects reach one device in the order they were sent; the order in
 *     which the several monitors of one stopping device are told is not
 *     specified.
 *   - Handling.  By default a disconnect lands in the device's inbox and its
 *     owner drains it with bp_device_recv().  A device may instead have a
 *     handler, called with each disconnect.  The ready-made "manage" policy
 *     (bp_device_set_manage) stops the device with a cascade fault when a
 *     dependency fails and leaves it running when a dependency stops cleanly
 *     (the dependency's stop has already removed the link); the disconnect then
 *     goes on to the handler, or to the inbox when there is none.
 *   - Re-entrancy.  Handlers run from a FIFO work queue drained by the
 *     outermost backplane call (bp_device_stop, bp_device_delete, bp_link), so
 *     a handler may stop, delete, create and link devices; anything it causes
 *     is queued and handled after it returns.  Stack depth never grows with
 *     the length of a cascade, and each device stops at most once, so
 *     cascades along 100,000-device chains and around rings of peers
 *     terminate.  A handler must not call bp_delete().
 *   - Memory.  A link is one allocation, and when its device stops that same
 *     cell becomes the disconnect message, so stopping never allocates and
 *     cannot fail half-way.  Cells and device slots come from pools that grow
 *     on demand and are only returned to libc by bp_delete().
 *
 * Threads: none.  The backplane is single-threaded by design: the agent's
 * event loop owns it, and no call may run concurrently with another on the
 * same instance.  It keeps no global state, so separate instances are
 * independent.
 *
 * Errors: functions returning int return 0 or a negative ERR_* code from
 * err.h.  A handle that no longer names a device gives ERR_STALE.
 */
#ifndef SWIMD_BACKPLANE_H
#define SWIMD_BACKPLANE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct bp;

/* A device's id and handle: generation in the high 32 bits, slot in the low. */
typedef uint64_t bp_id;

/* Never issued, so a zeroed field reads as "no device". */
#define BP_ID_NONE ((bp_id)0)

/* Room for a short reason such as "suspicion confirmed" while keeping a
 * fault within one 64-byte cache line; longer texts are truncated. */
#define BP_FAULT_TEXT_MAX 36

/* Link modes, seen from the first device of bp_link(); PEER = MONITOR|NOTIFY. */
enum bp_link_mode {
    BP_MONITOR = 1,
    BP_NOTIFY = 2,
    BP_PEER = 3,
};

enum bp_state {
    BP_RUNNING = 1,
    BP_STOPPED = 2,
};

enum bp_fault_kind {
    BP_FAULT_NONE = 0, /* a clean stop */
    BP_FAULT_ERROR,    /* stopped with an error code and text */
    BP_FAULT_CASCADE,  /* stopped because a dependency disconnected */
};

/*
 * Why a device stopped.  A plain value: copy it freely.
 *   NONE:    every other field is zero.
 *   ERROR:   code and text are the error; origin is the device itself
 *            (filled in by the stop); dep is BP_ID_NONE.
 *   CASCADE: dep is the dependency whose disconnect caused the stop and
 *            dep_kind the kind of its fault; origin, code and text are those
 *            of the error that started the chain (origin is dep and code 0
 *            when cascading from a clean stop).
 */
struct bp_fault {
    bp_id dep;
    bp_id origin;
    enum bp_fault_kind kind;
    enum bp_fault_kind dep_kind;
    int code;
    char text[BP_FAULT_TEXT_MAX];
};

/* The one message a device receives: device `id` stopped with `fault`. */
struct bp_disconnect {
    bp_id id;
    struct bp_fault fault;
};

/*
 * A device's disconnect handler.  `self` is the receiving device (it may have
 * stopped since the message was queued) and `data` the pointer given to
 * bp_device_new().  `msg` is valid only during the call.  The handler may call
 * any bp_ function except bp_delete(), including deleting `self`.
 */
typedef void (*bp_handler_f)(struct bp *bp, bp_id self, void *data,
                             const struct bp_disconnect *msg);

/* ---- faults (pure helpers, never fail) ---- */

/* A clean stop. */
struct bp_fault bp_fault_none(void);

/* An error with `code` (usually a negative ERR_* code) and `text` (may be
 * NULL; copied, truncated to BP_FAULT_TEXT_MAX - 1 bytes). */
struct bp_fault bp_fault_error(int code, const char *text);

/* A cascade caused by `dep` having stopped with `*dep_fault`. */
struct bp_fault bp_fault_cascade(bp_id dep, const struct bp_fault *dep_fault);

/* ---- the backplane ---- */

/* Allocates an empty backplane.  Returns NULL when out of memory. */
struct bp *bp_new(void);

/*
 * Frees the backplane, every device, link and undelivered message.  Calls no
 * handler.  NULL is ignored.  Must not be called from a handler.
 */
void bp_delete(struct bp *bp);

/*
 * Makes sure the next `devices` bp_device_new() calls and `links` link cells
 * (bp_link to a running or stopped device) cannot fail for lack of memory.
 * Returns 0, ERR_NOMEM or ERR_LIMIT; on failure what was reserved stays
 * reserved and nothing else changes.  Never calls back.
 */
int bp_reserve(struct bp *bp, size_t devices, size_t links);

/* Number of devices created and not yet deleted (running or stopped). */
size_t bp_device_count(const struct bp *bp);

/* ---- devices ---- */

/*
 * Creates a running device with an empty inbox, no handler and user pointer
 * `data` (not owned), and stores its id in *out.  Returns 0, ERR_INVAL,
 * ERR_NOMEM or ERR_LIMIT (ids exhausted); on failure *out is untouched.
 * Never calls back.
 */
int bp_device_new(struct bp *bp, void *data, bp_id *out);

/*
 * Stops a running device with `*fault` (NULL means a clean stop): every
 * monitor gets one disconnect and all the device's links are removed.  The
 * device stays (stopped, its inbox readable) until bp_device_delete().
 * Returns 0, ERR_STALE, ERR_STATE (already stopped: a device stops once) or
 * ERR_INVAL (bad fault kind).  Never allocates.  Calls back: when not
 * already inside a handler, runs the handlers of the devices it disconnects
 * (and of anything they stop in turn) before returning.
 */
int bp_device_stop(struct bp *bp, bp_id id, const struct bp_fault *fault);

/*
 * Deletes a device: stops it first if it is running (fault ERR_CLOSED,
 * "deleted while running"), drops its unread inbox and any disconnect still
 * queued for it, and makes `id` stale for good.  Returns 0 or ERR_STALE.  Never allocates.  Calls
 * back as bp_device_stop().  A handler may delete its own device.
 */
int bp_device_delete(struct bp *bp, bp_id id);

/* Stores the device's state in *out.  Returns 0 or ERR_STALE. */
int bp_device_state(const struct bp *bp, bp_id id, enum bp_state *out);

/*
 * Copies the fault a stopped device stopped with into *out.  Returns 0,
 * ERR_STALE or ERR_STATE (still running).
 */
int bp_device_fault(const struct bp *bp, bp_id id, struct bp_fault *out);

/* Stores the device's user pointer in *out.  Returns 0 or ERR_STALE. */
int bp_device_data(const struct bp *bp, bp_id id, void **out);

/* Stores the device's number of links in *out.  Returns 0 or ERR_STALE. */
int bp_device_links(const struct bp *bp, bp_id id, size_t *out);

/*
 * Sets the handler that receives this device's disconnects from now on;
 * NULL sends them to the inbox.  Messages already in the inbox stay there.
 * Returns 0 or ERR_STALE.  Never calls back.
 */
int bp_device_set_handler(struct bp *bp, bp_id id, bp_handler_f handler);

/*
 * Turns the manage policy on or off for this device: on a disconnect with a
 * fault, a running managed device stops with bp_fault_cascade(sender, fault);
 * on a clean disconnect it stays running.  The message then goes to the
 * handler, or to the inbox.  Returns 0 or ERR_STALE.  Never calls back.
 */
int bp_device_set_manage(struct bp *bp, bp_id id, bool on);

/*
 * Takes the oldest disconnect from the device's inbox into *out.  Works on
 * stopped devices too.  Returns 0, ERR_AGAIN (inbox empty) or ERR_STALE.
 * Never calls back.
 */
int bp_device_recv(struct bp *bp, bp_id id, struct bp_disconnect *out);

/* ---- links ---- */

/*
 * Links device `a` to device `b` with `mode` (BP_MONITOR, BP_NOTIFY or
 * BP_PEER, as seen from `a`), merging with any link the pair already has.
 * If `b` has stopped and `mode` includes BP_MONITOR, `a` receives b's
 * disconnect at once instead (the NOTIFY half has nobody left to tell).
 * Returns 0, ERR_INVAL (bad mode, or a == b), ERR_STALE, ERR_STATE (`a` has
 * stopped) or ERR_NOMEM (nothing changed).  Calls back: may run a's handler
 * (when `b` has stopped), as bp_device_stop().
 */
int bp_link(struct bp *bp, bp_id a, bp_id b, enum bp_link_mode mode);

/*
 * Removes the `mode` directions (seen from `a`) of the link between `a` and
 * `b`; the link goes when no direction is left.  Afterwards a stop sends
 * nothing along the removed directions.  Returns 0, ERR_INVAL, ERR_STALE or
 * ERR_NOTFOUND (no such direction was linked).  Never calls back.
 */
int bp_unlink(struct bp *bp, bp_id a, bp_id b, enum bp_link_mode mode);

/*
 * Stores in *out the mode of the link between `a` and `b` as seen from `a`,
 * or 0 when there is none.  Cost: O(fewer links of the two).  Returns 0 or
 * ERR_STALE.
 */
int bp_link_mode(const struct bp *bp, bp_id a, bp_id b, unsigned *out);

#endif /* SWIMD_BACKPLANE_H */
