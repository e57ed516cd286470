/*
 * control.h - swimd's control API: one table of commands, one function each.
 *
 * Model: control_new() opens the control socket (ctl.h is the transport:
 * lines, JSON, fairness, streaming) and answers every request by looking its
 * "cmd" up in one table (control.c) of {name, handler}.  Each handler lives
 * in a file named for its command: cmd_members.c (members), cmd_info.c
 * (info), cmd_join.c (join), cmd_leave.c (leave, force-leave), cmd_tags.c
 * (tags-set, tags-delete), cmd_event.c (event), cmd_query.c (query),
 * cmd_keys.c (keys), cmd_metrics.c (metrics), cmd_rtt.c (rtt), watch.c
 * (watch) and monitor.c (monitor).  A new command is one row in the
 * table plus one function.  Handlers reach the rest of swimd only through
 * struct control_env: borrowed handles, set up by the daemon (agent.h).
 * Requests are counted by command (a name not in the table counts as
 * "unknown", so a client cannot grow the counters), for the metrics.
 *
 * Threads: none; everything runs on the loop's thread.
 */
#ifndef AGENT_CONTROL_H
#define AGENT_CONTROL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cfg.h"
#include "ctl.h"
#include "log.h"

struct event_base;
struct rt;
struct tags;
struct ev_bus;
struct streams;
struct bridge;
struct hd_runner;
struct keyring;
struct keyops;
struct query;
struct cmd_keys_runs;
struct cmd_members_cache;

/* The parts of swimd a command may use (borrowed; they outlive the
 * control socket). */
struct control_env {
    struct rt *rt;            /* the core, the counters, join and leave */
    struct tags *tags;        /* this node's tags as the control API edits them */
    struct ev_bus *bus;       /* the event clock and history */
    struct streams *streams;  /* watch and monitor connections */
    struct bridge *bridge;    /* member links (monitor) and the bridge's position */
    struct hd_runner *hd;     /* NULL without --event-handler */
    const struct keyring *kr; /* NULL: plaintext */
    struct keyops *keyops;    /* this node's keys command (keyops.h); NULL: plaintext */
    struct query *query;      /* queries (query.h) */
    struct log *log;
    const struct cfg *cfg;                   /* name, label, profile, snapshot, watch queue */
    struct ctl *ctl;                         /* the socket itself (set by control_new) */
    struct cmd_keys_runs *keys_runs;         /* keys operations in flight (set by control_new) */
    struct cmd_members_cache *members_cache; /* members' last list (set by control_new) */
    const struct control *control;           /* the table and its counts (set by control_new) */
};

/*
 * One command: answer `req` (borrowed) that came on `conn` (NULL from
 * ctl_answer_line()).  Returns a new reply object, or NULL with a message in
 * err[0..CTL_ERR_MAX) (or after ctl_conn_defer(): answered later).
 */
typedef json_t *(*control_cmd_f)(const struct control_env *env, struct ctl_conn *conn, json_t *req,
                                 char *err);

struct control;

/*
 * Listen on cfg->socket_path with cfg->socket_mode.  NULL with one line in
 * err when the socket cannot be made (in use, too long, permissions).
 */
struct control *control_new(struct event_base *base, const struct control_env *env, char *err,
                            size_t errlen);
/* Close every client (streams end through their close hooks), stop
 * listening, remove the socket file.  NULL is a no-op. */
void control_delete(struct control *c);
/* Answer one request line as the socket would, with no connection (the
 * fuzz target drives the whole request path through it): the response
 * line, malloc'd; NULL when out of memory. */
char *control_answer_line(struct control *c, const char *line, size_t len);
/* The environment the commands see, control and ctl filled in: for the
 * other readers of swimd's state (the metrics endpoint).  Never NULL. */
const struct control_env *control_get_env(const struct control *c);

/* Rows of the request counts: one per command, in table order, then
 * "unknown".  control_row_name() is a static string (NULL past the last). */
size_t control_rows(void);
const char *control_row_name(size_t row);
/* Requests received for a row so far (0 past the last). */
uint64_t control_requests(const struct control *c, size_t row);

/*
 * Make tags (an encoded block) this node's tags everywhere they are kept:
 * the core (which spreads them), env->tags and the handler runner's
 * environment.  0, or the core's error (nothing changed).
 */
int control_set_tags(const struct control_env *env, const uint8_t *tags, size_t len);

#endif /* AGENT_CONTROL_H */
