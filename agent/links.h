/*
 * links.h - member links: the backplane bridge between membership events
 * and local clients (swimctl monitor / run).
 *
 * Model.  A struct ml owns a backplane (backplane.h) and keeps one device per
 * known member, by name.  Membership events drive the devices:
 *
 *   member-join, member-alive,     the member's device is running: created
 *   member-update, member-suspect  if the member is new, re-created (a new
 *                                  device, new id) if its old one stopped
 *   member-failed                  stopped with an error fault, text "failed"
 *   member-leave                   stopped cleanly
 *   member-reap                    device deleted, member forgotten
 *
 * A device stops once: a member-leave after member-failed (force-leave)
 * changes nothing, and neither does a failed after a leave.
 *
 * A client (one control connection running `monitor` or `run --peer`) gets a
 * device of its own linked with BP_MONITOR to each named member.  When one of
 * those members' devices stops, the report callback is called once for that
 * (client, member) pair with reason "failed" (stopped with a fault) or "left"
 * (stopped cleanly).  A client keeps running after a report: it learns about
 * each of its members at most once, and nothing more after that member
 * stopped, even if the member comes back (it has a new device then).
 *
 * Naming a member that is already failed or left reports at once, with that
 * reason (the backplane delivers a stopped device's disconnect on link).
 * Naming a member this node does not know (never seen, or reaped) reports at
 * once with reason "unknown", as Erlang's monitor reports noproc: a client
 * must not wait forever for a member that may not exist.  This node itself
 * is a member here only if the caller adds it with ml_member_set() (the
 * bridge does, bridge.h).
 *
 * Reports are queued while the backplane works and delivered, in order,
 * just before the outermost ml_* call returns, so the callback may call
 * ml_client_new(), ml_client_delete() and ml_apply() (not ml_delete()).
 *
 * Threads: none; the event loop owns the struct.  No global state.  Errors
 * are 0 or a negative ERR_* code from err.h.
 */
#ifndef AGENT_LINKS_H
#define AGENT_LINKS_H

#include <stddef.h>
#include <stdint.h>

#include "backplane.h"
#include "events.h"
#include "swim.h"

/* Members one client may name: `monitor`/`run --peer` take a handful;
 * the bound keeps a client to one small allocation. */
#define ML_CLIENT_NAMES_MAX 64

enum ml_reason {
    ML_FAILED = 1, /* the member's device stopped with a fault */
    ML_LEFT,       /* it stopped cleanly (graceful leave) */
    ML_UNKNOWN,    /* no such member is known here */
};

/* One report; member is valid only during the callback. */
struct ml_report {
    uint64_t client; /* the client's id from ml_client_new() */
    uint64_t cookie; /* as given to ml_client_new() */
    const char *member;
    enum ml_reason reason;
};

typedef void (*ml_report_f)(void *ctx, const struct ml_report *rep);

struct ml;

/* An empty bridge calling report(ctx, ...) for every report.  NULL when out
 * of memory or report is NULL. */
struct ml *ml_new(ml_report_f report, void *ctx);
/* Free everything, clients included, without any report.  NULL is a no-op.
 * Not from the callback. */
void ml_delete(struct ml *m);

/* "failed", "left", "unknown". */
const char *ml_reason_name(enum ml_reason r);

/*
 * Apply one event (the table above); events that are not member-* are
 * ignored (0).  May call the report callback.  0, ERR_INVAL (no name),
 * ERR_NOMEM or ERR_LIMIT (a device could not be made; the member stays as
 * it was).
 */
int ml_apply(struct ml *m, const struct ev_event *ev);
/*
 * Bring one member to a status without an event, e.g. to resynchronise
 * from the core's table after the bridge lost events: ALIVE and SUSPECT
 * make sure it has a running device, FAILED and LEFT stop it.  Errors as
 * ml_apply().
 */
int ml_member_set(struct ml *m, const char *name, enum swim_status status);
/* Forget a member (member-reap).  0 or ERR_NOTFOUND. */
int ml_member_forget(struct ml *m, const char *name);
/* The member's current device and whether it runs.  0 or ERR_NOTFOUND. */
int ml_member_device(const struct ml *m, const char *name, bp_id *dev, int *running);
/* Members known (running or stopped). */
size_t ml_member_count(const struct ml *m);

/*
 * A client device monitoring members names[0..n) (1..ML_CLIENT_NAMES_MAX;
 * a name given twice counts once).  *client gets its id before any report
 * for it, and unknown, failed and left members are reported before this
 * returns.  0, ERR_INVAL, ERR_TOOBIG (too many names), ERR_NOMEM (nothing
 * created).
 */
int ml_client_new(struct ml *m, uint64_t cookie, const char *const *names, size_t n,
                  uint64_t *client);
/* Remove a client: its device is deleted and every link with it; no more
 * reports for it.  0 or ERR_NOTFOUND. */
int ml_client_delete(struct ml *m, uint64_t client);
/* Members of the client not yet reported.  0 or ERR_NOTFOUND. */
int ml_client_pending(const struct ml *m, uint64_t client, size_t *out);

/* The backplane, for reading (device states, faults); ml owns it. */
const struct bp *ml_backplane(const struct ml *m);

#endif /* AGENT_LINKS_H */
