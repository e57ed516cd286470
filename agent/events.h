/*
 * events.h - swimd's event bus: every membership change and user event, in
 * sequence order, to every local subscriber.
 *
 * Model.  An ev_bus is a clocked dispatcher (dispatch.h) carrying events,
 * plus a bounded history of the last events it published.  An event is
 * stored once, compactly (a small header, then its name, address, tags and
 * payload by length), and the history and every subscriber queue holding it
 * share that one copy; a reader gets it decoded into a struct ev_event, the
 * plain value below.  The event loop is the one publisher: for each core
 * notification it calls ev_bus_publish(), which gives the event the next
 * value of the dispatcher's global sequence (1, 2, 3, ...; every sequence
 * number is an event, none is skipped), copies it to every subscriber and
 * into the history ring, and returns the number.  Publishing never blocks:
 * every subscriber is a DISP_LAG receiver, so a subscriber whose queue is
 * full misses events instead of stalling the loop, and is told so.
 *
 * Subscribers (struct ev_sub) are read either from the event loop (ev_sub_fd()
 * is readable while something is pending; drain with ev_sub_try_recv()) or
 * from a thread of their own (ev_sub_recv_timed()).  One read gives one item:
 *
 *   EV_ITEM_EVENT   an event; item.seq is its sequence number
 *   EV_ITEM_CLOCK   no event for me, but the bus has reached item.seq
 *   EV_ITEM_LAGGED  (EV_LAG_REPORT subscribers) events item.seq..item.last
 *                   were skipped because this subscriber fell behind; it
 *                   continues after item.last.  A watcher tells its client
 *                   and the client resumes with since = item.seq - 1.
 *   EV_ITEM_LOST    (EV_LAG_RECOVER subscribers) events item.seq..item.last
 *                   are gone for good: they fell out of the history too.
 *   EV_ITEM_END     the bus ended (ev_bus_end()) and everything was read.
 *
 * A subscriber's queue holds references to stored events, not copies, so an
 * event it has queued stays readable in full even after it has left the
 * history; it is freed once the history and every queue are done with it.
 *
 * Sequence numbers read from one subscriber strictly increase, and every
 * number up to the last one read is accounted for by an event, a LAGGED or a
 * LOST item: nothing is skipped silently.  An EV_LAG_RECOVER subscriber (the
 * handler runner, the backplane bridge) repairs lag on its own: it replays
 * what it missed from the history before anything newer, so it only ever
 * sees LOST when it fell behind by more than the whole history.
 *
 * History and --since.  The bus keeps the last `history` events (default
 * EV_HISTORY_DEFAULT).  A subscriber opened with replay set first receives
 * every event with a sequence above `since` that happened before it opened,
 * then the live stream, with no gap and no duplicate between the two.  When
 * `since` is older than the history, opening fails with ERR_STALE and reports
 * the first sequence still held, so the caller can say precisely what is
 * gone.  Sequence numbers restart at 1 with every swimd process.
 *
 * Threads.  Publishing, ev_bus_end() and opening subscribers are for the
 * publisher's thread; a subscriber is used by one thread at a time (any
 * thread); the history is guarded by the bus's mutex.  Nothing here calls
 * back into the caller.  JSON rendering is pure.  Event types, their names
 * and type lists are evtype.h's.
 *
 * Errors are 0 or a negative ERR_* code from err.h.
 */
#ifndef AGENT_EVENTS_H
#define AGENT_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "evtype.h"
#include "swim.h"

/* Default history: the figure, enough to replay a few minutes of
 * churn in a large cluster.  An event is stored packed in a byte ring, in 30
 * bytes plus what it carries (name, address, tags or payload: 50 to 60 bytes
 * for a member or user event without tags), and 4 bytes a slot for the
 * index, so about 0.25 MB. */
#define EV_HISTORY_DEFAULT 4096
/* Largest history: 65,536 events, ~4 MB of typical events and ~56 MB at
 * worst (full tag blocks or payloads) unless history_bytes bounds it; more
 * than that is a log, not a replay buffer. */
#define EV_HISTORY_MAX 65536
/* Default subscriber queue: room for a burst of a few hundred events between
 * two loop turns.  A queue slot is a reference to the stored event (16
 * bytes), so 8 KB at this size. */
#define EV_SUB_CAPACITY_DEFAULT 512
/* A user event's data: the rest of SWIM_USER_MAX after its name's length
 * byte (evtype.h has the name's limit). */
#define EV_USER_DATA_MAX (SWIM_USER_MAX - 1)

/*
 * One event, a plain value: what a subscriber reads, and what publishing
 * takes.  The bus stores only the bytes the lengths and strings cover, and
 * only the fields of the event's kind: addr, incarnation and tags for member
 * and self events, user_name, user_id and data for user events (a reader
 * gets the others empty).
 * Member and self events fill name .. tags with the member's record; a user
 * event fills name with the origin node, user_name / data / user_id, and
 * status ALIVE.  Past tags_len and data_len the arrays hold nothing useful.
 */
struct ev_event {
    uint64_t seq;        /* set on publish and on receipt */
    uint64_t time_ms;    /* wall-clock milliseconds at publication */
    uint64_t generation; /* member: its generation; user: the origin's */
    uint32_t incarnation;
    uint32_t user_id; /* user: the broadcast's id at its origin */
    enum ev_type type;
    enum swim_status status;
    uint16_t tags_len;
    uint16_t data_len;
    char name[SWIM_NAME_MAX + 1]; /* member name, or a user event's origin */
    char addr[ADDR_TEXT_MAX];     /* "host:port", "" for user events */
    char user_name[EV_USER_NAME_MAX + 1];
    uint8_t tags[SWIM_META_MAX]; /* encoded tag block (tags.h), as received */
    uint8_t data[EV_USER_DATA_MAX];
};

/* ---- from the core ---- */

/*
 * Fill *out from a core notification (its seq is left 0).  Pointers inside n
 * are copied, not kept.  A user notification must carry the agent's user
 * payload format (| u8 name length | name | data |, with a name of text:
 * text_valid(), text.h): ERR_MALFORMED otherwise, and ERR_INVAL for an
 * unknown notification type.
 */
int ev_from_notification(struct ev_event *out, const struct swim_notification *n, uint64_t time_ms);

/* ---- the bus ---- */

struct ev_bus;

/* The history keeps the last `history` events, and fewer when they would
 * take more than `history_bytes` of records (the oldest leave first).  Its
 * memory follows what the events held carry: it grows as needed, up to the
 * byte bound. */
struct ev_bus_config {
    size_t history;       /* events kept for replay; 0 = EV_HISTORY_DEFAULT, max EV_HISTORY_MAX */
    size_t history_bytes; /* 0 = no bound but the count's (every event at its largest); a
                           * bound below one largest event is raised to it */
};

/* A bus with an empty history at sequence 0.  cfg may be NULL (defaults).
 * NULL when out of memory or when history is above EV_HISTORY_MAX. */
struct ev_bus *ev_bus_new(const struct ev_bus_config *cfg);
/* Free the bus.  Every subscriber must have been closed first.  NULL is a
 * no-op. */
void ev_bus_delete(struct ev_bus *bus);

/*
 * Publish a core notification: ev_from_notification() then
 * ev_bus_publish_event().  *seq (may be NULL) gets its sequence.  Never
 * blocks.  Errors: those of ev_from_notification(), ERR_NOMEM, ERR_CLOSED
 * after ev_bus_end().
 */
int ev_bus_publish(struct ev_bus *bus, const struct swim_notification *n, uint64_t time_ms,
                   uint64_t *seq);
/* Publish a ready event (its seq field is ignored and set; ev is copied).
 * Never blocks; 0, ERR_INVAL (unknown type), ERR_NOMEM or ERR_CLOSED. */
int ev_bus_publish_event(struct ev_bus *bus, struct ev_event *ev, uint64_t *seq);
/* End the stream: publishing fails from now on, and subscribers read
 * EV_ITEM_END once they have read everything.  Repeating is a no-op. */
void ev_bus_end(struct ev_bus *bus);

/* The last sequence published (0 before the first).  Never fails. */
uint64_t ev_bus_clock(const struct ev_bus *bus);
/* The oldest sequence still in the history; clock + 1 when it is empty. */
uint64_t ev_bus_first_held(const struct ev_bus *bus);
/* Copy the event with sequence seq out of the history.  0 or ERR_NOTFOUND
 * (never published, or already overwritten). */
int ev_bus_history_get(const struct ev_bus *bus, uint64_t seq, struct ev_event *out);

/* ---- subscribers ---- */

enum ev_lag_mode {
    EV_LAG_REPORT = 1, /* say EV_ITEM_LAGGED, skip the gap, go on */
    EV_LAG_RECOVER,    /* replay the gap from the history; EV_ITEM_LOST for what is gone */
};

struct ev_sub_config {
    const char *name;     /* unique among open subscribers, 1..63 bytes (copied) */
    size_t capacity;      /* queued events; 0 = EV_SUB_CAPACITY_DEFAULT */
    enum ev_lag_mode lag; /* 0 means EV_LAG_REPORT */
    int replay;           /* non-zero: first replay the events after `since` */
    uint64_t since;       /* with replay: 0 replays the whole history */
};

enum ev_item_kind {
    EV_ITEM_EVENT = 1,
    EV_ITEM_CLOCK,
    EV_ITEM_LAGGED,
    EV_ITEM_LOST,
    EV_ITEM_END,
};

/* One read.  seq: the event's sequence, the clock, the first sequence
 * skipped or lost, or the final clock; last: the last skipped or lost;
 * type: the event's type (EV_ITEM_EVENT only, 0 otherwise), so a reader
 * that needs no more than that can pass no struct ev_event. */
struct ev_item {
    enum ev_item_kind kind;
    uint64_t seq;
    uint64_t last;
    enum ev_type type;
};

struct ev_sub;

/*
 * The most memory one queued event can hold: its slot in the queue, plus
 * its stored record with the largest name, address or event name, and tag
 * block or payload, should it leave the history while queued.  A queue of N
 * events holds at most N times this; the streams' budget counts by it.
 */
size_t ev_sub_queued_bytes_max(void);
/*
 * Open a subscriber.  Without replay it receives every event published
 * after this call; with replay, first every event with a sequence in
 * (since, clock] still in the history.  Errors: ERR_INVAL (bad config, or
 * since above the clock: a seq from an earlier swimd process), ERR_STALE
 * (since + 1 is older than the history; *first_held, which may be NULL,
 * gets the first sequence still held), ERR_EXISTS (name taken),
 * ERR_CLOSED (the bus ended), ERR_NOMEM.
 */
int ev_sub_open(struct ev_bus *bus, const struct ev_sub_config *cfg, struct ev_sub **out,
                uint64_t *first_held);
/* Close and free the subscriber (what is queued for it is discarded).
 * NULL is a no-op. */
void ev_sub_close(struct ev_sub *s);
/*
 * A descriptor that is readable while the subscriber has something pending
 * (created on first call, owned by the subscriber).  An event loop must call
 * ev_sub_try_recv() until ERR_AGAIN before waiting on it again; a loop that
 * stops earlier (a per-wakeup bound) must make its event active again so
 * the rest is read on the next turn.  Returns the fd or ERR_SYS.
 */
int ev_sub_fd(struct ev_sub *s);
/* Read one item without waiting: 0 (item filled; for EV_ITEM_EVENT also
 * *ev, which may be NULL) or ERR_AGAIN. */
int ev_sub_try_recv(struct ev_sub *s, struct ev_item *item, struct ev_event *ev);
/* As ev_sub_try_recv() but waits up to timeout_ms (negative: no limit) for
 * something: ERR_TIMEOUT when nothing came.  For a subscriber's own thread. */
int ev_sub_recv_timed(struct ev_sub *s, struct ev_item *item, struct ev_event *ev, int timeout_ms);
/* Sequence of the last item read (0 before the first). */
uint64_t ev_sub_position(const struct ev_sub *s);

/* ---- JSON (jansson; each returns a new reference, NULL when out of memory) ---- */

/*
 * {"seq":N,"type":"member-join","time":MS,"name":..,"addr":..,"status":..,
 *  "incarnation":..,"generation":..,"tags":{..}}  for member and self events
 * ("tags_malformed":true when the block does not decode);
 * {"seq":N,"type":"user","time":MS,"name":EVENT,"origin":NODE,"id":..,
 *  "payload":"..."}  for user events ("payload_hex" instead when the data is
 * not UTF-8).
 */
json_t *ev_json_event(const struct ev_event *ev);
/* An unsigned 64-bit value as a JSON integer (jansson's are signed): a
 * value above INT64_MAX is shown as INT64_MAX, never as a negative.  No
 * counter gets there, and the core keeps generations at or below it, so
 * every value swimd shows is exact and reads back as itself. */
json_t *ev_json_u64(uint64_t v);
/* {"seq":N,"clock":true} */
json_t *ev_json_clock(uint64_t seq);
/* {"lagged":true,"first_missed":N} */
json_t *ev_json_lagged(uint64_t first_missed);
/* How a watcher shows one item (the one rule, used by ev_json_item() and
 * by the watcher that merges clock lines). */
enum ev_show {
    EV_SHOW_EVENT = 1, /* an event of a wanted type: its own line */
    EV_SHOW_CLOCK,     /* an unwanted event or a CLOCK: a clock line */
    EV_SHOW_LAG,       /* LAGGED or LOST: a lag line, then the stream ends */
    EV_SHOW_END,       /* END: nothing, the stream ends */
};
/* The show of `item` for a watcher of `types` (a mask).  Pure. */
enum ev_show ev_item_show(const struct ev_item *item, const struct ev_event *ev, uint32_t types);
/*
 * The line a watcher sends for one item, by ev_item_show(): an event as
 * ev_json_event(), a clock as ev_json_clock(item->seq), a lag as
 * ev_json_lagged(item->seq), END as NULL.
 */
json_t *ev_json_item(const struct ev_item *item, const struct ev_event *ev, uint32_t types);

/* An encoded tag block (tags.h) as a JSON object of strings.  *malformed is
 * set when the block does not decode (the object is then empty) or a value
 * is not UTF-8 (that key is left out).  A new reference; NULL when out of
 * memory. */
json_t *ev_json_tags(const uint8_t *meta, size_t len, int *malformed);

#endif /* AGENT_EVENTS_H */
