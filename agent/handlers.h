/*
 * handlers.h - Serf-style event handlers: shell commands run for events.
 *
 * Model.  An operator gives `--event-handler [TYPES=]COMMAND` (repeatable);
 * evtype.h parses one into a struct ev_handler_spec (the event types it
 * wants and the command) and says what TYPES may name.
 *
 * A runner (struct hd_runner) owns one thread and one EV_LAG_RECOVER
 * subscriber of the event bus.  For each event, in sequence order and one at
 * a time, it runs every matching handler, in the order given, as
 * `/bin/sh -c COMMAND` (posix_spawn) in its own process group, with:
 *
 *   environment  swimd's own environment minus any SWIM_* variable, plus
 *                SWIM_EVENT (type name), SWIM_SEQ, SWIM_SELF_NAME,
 *                SWIM_SELF_ADDR, SWIM_TAG_<KEY>=VALUE for each of this
 *                node's tags (KEY upper-cased, every byte that is not a
 *                letter or digit turned into '_'), for user events
 *                SWIM_USER_EVENT (its name) and SWIM_USER_ORIGIN, and for
 *                queries SWIM_QUERY_NAME and SWIM_QUERY_ORIGIN;
 *   stdin        member events: one line "name\taddr\tstatus\ttags\n", tags
 *                as k=v pairs joined by ',' in key order; user events and
 *                queries: the payload bytes (raw: the payload is the whole
 *                input);
 *   answer       for a query, stdout (its first HD_ANSWER_MAX bytes, and
 *                whether there was more) goes to hd_config.on_answer after
 *                the run, whatever its exit status (Serf's rule): the
 *                query module sends it to the query's origin;
 *   escaping     names, tag keys and values and user event names, on the
 *                stdin line and in SWIM_* values, pass through
 *                text_escape() (text.h): a control character or a byte that
 *                is not UTF-8 arrives as \xNN and a backslash as \\, so
 *                nothing a peer sends can add a line or a variable;
 *   stdout+err   captured (the first HD_OUTPUT_LOG_MAX bytes) and logged
 *                when the handler fails (for a query, stderr only);
 *   descriptors  none other than 0, 1 and 2; default signal dispositions and
 *                an empty signal mask.
 *
 * A handler still running after the timeout gets SIGTERM (its whole process
 * group), then SIGKILL after the grace period; the runner logs it, reaps the
 * child and goes on with the next handler.  Every wait is bounded.  The
 * runner never holds up the event loop: the bus never blocks its publisher,
 * and when the runner falls behind by more than its queue it replays the
 * gap from the bus history; whatever fell out of the history too is logged
 * as lost (and counted).  Idle, the thread sleeps until the subscriber has
 * something; it finishes by itself once it has read the end of the bus
 * (ev_bus_end(): swimd ends the bus when it shuts down).
 *
 * Threads.  hd_runner_* functions are called from the event loop's thread;
 * the runner's own thread blocks every signal (signals stay with the loop)
 * and uses the log from that thread.  Errors are 0 or a negative ERR_* code.
 */
#ifndef AGENT_HANDLERS_H
#define AGENT_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "evtype.h"
#include "log.h"

/* Handlers per agent (like Serf, one per concern; more is a design smell). */
#define HD_HANDLERS_MAX 32
/* Default time a handler may run: Serf has none, but a hung script must not
 * stall every later event forever; 30 s covers a slow deploy hook. */
#define HD_TIMEOUT_DEFAULT_MS 30000
/* Default time between SIGTERM and SIGKILL: enough to clean up a temp file. */
#define HD_KILL_GRACE_DEFAULT_MS 3000
/* Default runner queue: a burst of this many events is absorbed without a
 * history replay (16 KB: a slot is a reference to the stored event). */
#define HD_QUEUE_DEFAULT 1024
/* Handler output kept for the log line of a failed run. */
#define HD_OUTPUT_LOG_MAX 512
/* A query handler's stdout kept as its answer: Serf's 1 KB response limit
 * (query_codec.h's QUERY_RESPONSE_MAX). */
#define HD_ANSWER_MAX 1024

/* A query handler's answer: its stdout (len bytes, at most HD_ANSWER_MAX;
 * truncated when it wrote more), for the query event with sequence seq.
 * Called on the runner's thread after each query handler run. */
typedef void (*hd_answer_f)(void *ctx, uint64_t seq, const uint8_t *out, size_t len, int truncated);

struct hd_config {
    struct ev_bus *bus;                  /* the runner subscribes to it */
    struct log *log;                     /* not owned; used from the runner's thread */
    const struct ev_handler_spec *specs; /* copied; count <= HD_HANDLERS_MAX */
    size_t count;
    uint32_t timeout_ms;      /* 0 = HD_TIMEOUT_DEFAULT_MS */
    uint32_t kill_grace_ms;   /* 0 = HD_KILL_GRACE_DEFAULT_MS */
    size_t queue;             /* subscriber capacity; 0 = HD_QUEUE_DEFAULT */
    const char *self_name;    /* copied; SWIM_SELF_NAME */
    const char *self_addr;    /* copied; SWIM_SELF_ADDR */
    const uint8_t *self_tags; /* encoded tag block, copied; SWIM_TAG_* */
    size_t self_tags_len;
    hd_answer_f on_answer; /* may be NULL: query answers are dropped */
    void *answer_ctx;
};

struct hd_stats {
    uint64_t position; /* sequence of the last event handled (or skipped) */
    uint64_t runs;     /* handler processes started */
    uint64_t failures; /* runs that exited non-zero or died of a signal */
    uint64_t timeouts; /* runs killed for exceeding the timeout */
    uint64_t lost;     /* events that fell out of the history before the runner saw them */
    uint64_t spawn_errors;
    int ended; /* 1 once the runner read the end of the bus: its thread is done */
};

struct hd_runner;

/*
 * Subscribe (receiving every event published from now on) and start the
 * runner's thread.  Returns NULL with *rc (may be NULL) set: ERR_INVAL (bad
 * config), ERR_SYS (no thread or descriptor), or the errors of ev_sub_open().
 */
struct hd_runner *hd_runner_new(const struct hd_config *cfg, int *rc);
/* Replace this node's name, address and tags for later runs (after a tags
 * change or a reload).  0, ERR_TOOBIG (tags > SWIM_META_MAX) or ERR_INVAL. */
int hd_runner_set_self(struct hd_runner *r, const char *name, const char *addr, const uint8_t *tags,
                       size_t tags_len);
/* A consistent copy of the counters.  Never fails. */
void hd_runner_stats(struct hd_runner *r, struct hd_stats *out);
/*
 * Stop: the thread finishes at once if idle (or already finished at the end
 * of the bus); a running handler gets SIGTERM now and SIGKILL after the grace
 * period, is reaped, and later events are not run.  Joins the thread, closes
 * the subscriber (before the bus is deleted) and frees everything.  Takes at
 * most about the grace period.  NULL is a no-op.
 */
void hd_runner_delete(struct hd_runner *r);

#endif /* AGENT_HANDLERS_H */
