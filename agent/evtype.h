/*
 * evtype.h - the agent's event vocabulary: event types, their names, type
 * lists (`swimctl watch --type`) and handler specs (`--event-handler`).
 *
 * Model.  An event type is one of the core's notifications (swim.h), one for
 * one: enum ev_type takes its values from enum swim_event, and a type's name
 * is the core's (swim_event_name()), so the agent never keeps a second list.
 * Sets of types are bit masks (EV_MASK).  Every entrance that names types
 * goes through this module: a watcher's type list (every type may be named)
 * and a handler spec, "[TYPES=]COMMAND", whose TYPES may name member-* types,
 * "user" (every user event), "user:NAME" (user events called NAME), "query"
 * (every query) and "query:NAME", and with no TYPES means every member and
 * user event (never self-*, never a query).  Type values are the core's
 * notifications one for one, except SWIM_EV_DIRECT (no event), followed by
 * the agent's own EV_QUERY.  Because a
 * command may itself contain '=', the text before the first '=' is read as
 * TYPES only when it looks like a type list (lower-case letters, digits and
 * "-,:_." only; "FOO=1 ./x" is a command); it must then be a valid one.
 *
 * Everything here is pure: no allocation, no state.  Parsers return 0 or
 * ERR_INVAL with one human line in err (errlen bytes, may be 0).
 */
#ifndef AGENT_EVTYPE_H
#define AGENT_EVTYPE_H

#include <stddef.h>
#include <stdint.h>

#include "swim.h"

/* A user event is | u8 name length | name | data | (see events.h), so its
 * name is at most 255 bytes. */
#define EV_USER_NAME_MAX 255
/* Longest type name ("member-suspect", "self-rejoined") plus its NUL. */
#define EV_TYPE_NAME_MAX 16
/* user:NAME filters in one spec; a handler for more names can say "user". */
#define EV_SPEC_USER_NAMES_MAX 8
/* One handler spec with its NUL: a shell line; longer scripts go in a file. */
#define EV_SPEC_MAX 1024

/* Event types: the core's notifications, one for one. */
enum ev_type {
    EV_MEMBER_JOIN = SWIM_EV_MEMBER_JOINED,
    EV_MEMBER_UPDATE = SWIM_EV_MEMBER_UPDATED,
    EV_MEMBER_SUSPECT = SWIM_EV_MEMBER_SUSPECT,
    EV_MEMBER_ALIVE = SWIM_EV_MEMBER_ALIVE,
    EV_MEMBER_FAILED = SWIM_EV_MEMBER_FAILED,
    EV_MEMBER_LEAVE = SWIM_EV_MEMBER_LEFT,
    EV_MEMBER_REAP = SWIM_EV_MEMBER_REAPED,
    EV_USER = SWIM_EV_USER,
    EV_SELF_ACTIVE = SWIM_EV_SELF_ACTIVE,
    EV_SELF_IDLE = SWIM_EV_SELF_IDLE,
    EV_SELF_DEFUNCT = SWIM_EV_SELF_DEFUNCT,
    EV_SELF_REJOINED = SWIM_EV_SELF_REJOINED,
    /* SWIM_EV_DIRECT is no event: direct messages are the query module's
     * (query.h).  The agent's own type follows the core's: */
    EV_QUERY = SWIM_EV_LAST + 1, /* a query (query.h) this node matched */
};
#define EV_TYPE_LAST EV_QUERY
_Static_assert(EV_MEMBER_JOIN == 1 && (int)SWIM_EV_DIRECT == (int)EV_SELF_REJOINED + 1 &&
                   (int)SWIM_EV_LAST == (int)SWIM_EV_DIRECT,
               "every core notification but DIRECT is an event type");
/* The one value in 1..EV_TYPE_LAST that is no event type. */
#define EV_NOT_A_TYPE ((int)SWIM_EV_DIRECT)

/* Type sets are bit masks: EV_MASK(t) for one type. */
#define EV_MASK(t) (1u << (unsigned)(t))
#define EV_MASK_ALL (((1u << (EV_TYPE_LAST + 1)) - 1u) & ~1u & ~EV_MASK(EV_NOT_A_TYPE))
#define EV_MASK_MEMBER                                                                             \
    (EV_MASK(EV_MEMBER_JOIN) | EV_MASK(EV_MEMBER_UPDATE) | EV_MASK(EV_MEMBER_SUSPECT) |            \
     EV_MASK(EV_MEMBER_ALIVE) | EV_MASK(EV_MEMBER_FAILED) | EV_MASK(EV_MEMBER_LEAVE) |             \
     EV_MASK(EV_MEMBER_REAP))
/* What a handler with no TYPES gets: member events and user events. */
#define EV_MASK_HANDLER (EV_MASK_MEMBER | EV_MASK(EV_USER))
/* What a handler may ask for: those and queries (named only: a query's
 * handler's output is its answer, so no catch-all handler answers). */
#define EV_MASK_HANDLER_ALLOWED (EV_MASK_HANDLER | EV_MASK(EV_QUERY))

/* 1 for the types that carry a message (a name, an origin, an id and
 * data) rather than a member's record: user events and queries. */
static inline int ev_type_is_message(enum ev_type t)
{
    return t == EV_USER || t == EV_QUERY;
}

/* "member-join", ..., "self-rejoined" (the core's names), "query";
 * "unknown" for anything else. */
const char *ev_type_name(enum ev_type t);
/* Name -> type.  0 or ERR_NOTFOUND. */
int ev_type_parse(const char *name, enum ev_type *out);
/* The type of a core notification.  0 or ERR_INVAL (not a notification). */
int ev_type_from_swim(enum swim_event e, enum ev_type *out);
/*
 * Parse a watcher's type list such as "member-join,member-failed,user" into
 * a mask.  Every item must be a type name; empty items are refused.
 */
int ev_types_parse(const char *text, uint32_t *mask, char *err, size_t errlen);

/* One parsed "[TYPES=]COMMAND". */
struct ev_handler_spec {
    uint32_t types; /* EV_MASK() bits; EV_MASK(EV_USER) means every user event */
    size_t user_count;
    char user_names[EV_SPEC_USER_NAMES_MAX][EV_USER_NAME_MAX + 1]; /* user:NAME filters */
    size_t query_count;
    char query_names[EV_SPEC_USER_NAMES_MAX][EV_USER_NAME_MAX + 1]; /* query:NAME filters */
    char command[EV_SPEC_MAX];
};

/*
 * Parse "[TYPES=]COMMAND" into *out.  Refused: an empty command, an unknown
 * type, an empty list item, a type not for handlers (self-*), user:NAME with
 * an empty or too long NAME, more than EV_SPEC_USER_NAMES_MAX user:NAME
 * filters, a command longer than EV_SPEC_MAX - 1 bytes.
 */
int ev_handler_spec_parse(const char *text, struct ev_handler_spec *out, char *err, size_t errlen);
/* 1 when the handler wants an event of this type (user_name: a user event's
 * or a query's name, may be NULL for other types), else 0. */
int ev_handler_spec_matches(const struct ev_handler_spec *spec, enum ev_type type,
                            const char *user_name);

#endif /* AGENT_EVTYPE_H */
