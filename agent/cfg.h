/*
 * cfg.h - swimd's configuration: defaults, a JSON file, command-line flags.
 *
 * Model: struct cfg is a plain value (fixed-size fields, no allocation) so it
 * can be copied, compared and rebuilt freely.  cfg_parse_args() builds one in
 * three layers: defaults, then the JSON file named by --config (if any), then
 * every other flag, which overrides the file.  For the list-valued settings
 * the rule is: --join flags replace the file's join list; --tag flags are
 * merged over the file's tags key by key.  SIGHUP re-runs the same parse
 * with the same argv, so a reload sees the file's new values and the flags
 * still win.
 *
 * The JSON file is an object with these optional members (unknown members
 * are an error, so a typo is not silently ignored):
 *
 *   name, bind, advertise, socket, socket_group, profile, keyring, label,
 *   log_level, log_format, metrics ("HOST:PORT" of the Prometheus endpoint):
 *   string
 *   join: array of strings;  tags: object of string values;
 *   socket_mode: string of octal digits, e.g. "0660"
 *   event_handlers: array of strings ("[TYPES=]COMMAND");  snapshot: string
 *   handler_timeout_ms, event_history, watch_queue, max_members: integers
 *   protocol: object of integers, any of the struct swim_config fields
 *     (probe_interval_ms, probe_timeout_ms, suspicion_mult, ...), applied
 *     over the profile; --protocol KEY=VALUE flags override them one by one
 *
 * --event-handler flags replace the file's list, as --join does.  Handler
 * specs are checked here with the event vocabulary (evtype.h), so a bad one
 * is refused like any other bad setting, and kept as text: struct cfg stays
 * small, and the runtime parses them again when it starts the handlers.
 *
 * What is refused, besides malformed values: a name that breaks the name
 * rule (swim_name_valid()); an --advertise address with an IPv6 scope or a
 * link-local IPv6 address (the scope names an interface of this host,
 * which means nothing to the peers it is advertised to), and a bind to one
 * without --advertise; a numeric --join address that cannot be a peer
 * (unspecified, port 0, multicast, broadcast); a --snapshot path that
 * exists and is not a regular file (a FIFO would block start-up, a device
 * or socket would be replaced); a leave_linger_ms above
 * CFG_LEAVE_LINGER_MAX_MS; a --socket-group that does not exist.
 *
 * Every error is reported as ERR_INVAL plus one human line in `err`, naming
 * the flag or file and what is wrong.
 */
#ifndef AGENT_CFG_H
#define AGENT_CFG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "evtype.h"
#include "log.h"
#include "swim.h"

/* Default UDP port, the one memberlist and Serf use. */
#define CFG_DEFAULT_PORT 7946
/* Default bind: every IPv4 interface on the default port. */
#define CFG_DEFAULT_BIND "0.0.0.0:7946"
/* Default control socket path, shared by swimd and swimctl. */
#define CFG_DEFAULT_SOCKET "/tmp/swimd.sock"
/* Control socket mode: owner only, since the socket can make the node leave. */
#define CFG_DEFAULT_SOCKET_MODE 0600
/* Join seeds are tried one by one each attempt; a short list is plenty. */
#define CFG_JOIN_MAX 16
/* "HOST:PORT" with the longest host and port. */
#define CFG_HOSTPORT_MAX (ADDR_HOST_MAX + 8)
/* File paths; the control socket is further limited by sun_path (108). */
#define CFG_PATH_MAX 256
/* Longest control socket path: sockaddr_un.sun_path holds 108 bytes with NUL. */
#define CFG_SOCKET_PATH_MAX 107
/* Cluster label: bound into every datagram's authentication. */
#define CFG_LABEL_MAX 128
/* Longest profile name ("local"). */
#define CFG_PROFILE_MAX 16
/* Longest error line handed back. */
#define CFG_ERR_MAX 512
/* Event handlers: one per concern, like Serf; 16 is already a smell. */
#define CFG_HANDLERS_MAX 16
/* One handler spec with its NUL (evtype.h's limit). */
#define CFG_HANDLER_MAX EV_SPEC_MAX
/* Default handler timeout (handlers.h's figure: a slow deploy hook fits). */
#define CFG_HANDLER_TIMEOUT_DEFAULT_MS 30000
/* Longest handler timeout: an hour; a longer job is not an event handler. */
#define CFG_HANDLER_TIMEOUT_MAX_MS 3600000u
/* Default and largest event history (events.h: EV_HISTORY_DEFAULT / _MAX). */
#define CFG_EVENT_HISTORY_DEFAULT 4096
#define CFG_EVENT_HISTORY_MAX 65536
/* A history shorter than this cannot cover one loop turn's burst. */
#define CFG_EVENT_HISTORY_MIN 16
/* Default queue of each watcher (events.h: EV_SUB_CAPACITY_DEFAULT); a
 * watcher that falls further behind is told it lagged and resumes from the
 * history.  A queue slot is a 16-byte reference to the stored event,
 * allocated when the watcher connects. */
#define CFG_WATCH_QUEUE_DEFAULT 512
#define CFG_WATCH_QUEUE_MIN 16
#define CFG_WATCH_QUEUE_MAX 65536
/* Slots for protocol overrides: one per struct swim_config field. */
#define CFG_PROTO_MAX 32 /* proto_set's bits; the core names fewer tunables */
/* Longest leave linger: a SIGTERM must end well inside systemd's default
 * stop timeout (90 s), and a minute of gossiping "left" is plenty. */
#define CFG_LEAVE_LINGER_MAX_MS 60000u
/* Longest group name (useradd allows 32). */
#define CFG_GROUP_MAX 64
/* Largest config file read: a config is a few KiB; this bounds a mistake. */
#define CFG_FILE_MAX (1024 * 1024)

struct cfg {
    char name[SWIM_NAME_MAX + 1];
    char bind[CFG_HOSTPORT_MAX];
    char advertise[CFG_HOSTPORT_MAX]; /* "" = derived from bind */
    size_t join_count;
    char join[CFG_JOIN_MAX][CFG_HOSTPORT_MAX];
    char socket_path[CFG_PATH_MAX];
    unsigned socket_mode;
    char socket_group[CFG_GROUP_MAX]; /* "" = none */
    long socket_gid;                  /* that group's id, -1 for none */
    char profile[CFG_PROFILE_MAX];
    char keyring[CFG_PATH_MAX]; /* "" = plaintext */
    char label[CFG_LABEL_MAX + 1];
    size_t tags_len; /* encoded tag block (tags.h) */
    uint8_t tags[SWIM_META_MAX];
    enum log_level log_level;
    enum log_format log_format;     /* read at start only */
    char config_path[CFG_PATH_MAX]; /* "" = none */
    size_t handler_count;
    char handlers[CFG_HANDLERS_MAX][CFG_HANDLER_MAX]; /* raw "[TYPES=]COMMAND" */
    uint32_t handler_timeout_ms;
    uint32_t event_history;
    uint32_t watch_queue;
    char snapshot[CFG_PATH_MAX];    /* "" = none */
    char metrics[CFG_HOSTPORT_MAX]; /* "HOST:PORT" serving GET /metrics; "" = off */
    uint32_t max_members;           /* members held at once; 0 = the core's default */
    uint32_t proto[CFG_PROTO_MAX];  /* protocol overrides, by cfg.c's key table */
    uint32_t proto_set;             /* bit i: proto[i] overrides the profile */
};

enum cfg_action {
    CFG_RUN = 0,
    CFG_HELP,
    CFG_VERSION,
};

/* Fill the defaults; the name is the hostname (cut to SWIM_NAME_MAX). */
void cfg_defaults(struct cfg *c);
/* Apply a JSON config file over c.  The file must be a regular file of at
 * most CFG_FILE_MAX bytes.  0, or ERR_INVAL with a message. */
int cfg_load_json(struct cfg *c, const char *path, char *err, size_t errlen);
/* The same for a document in memory (len bytes; `what` names it in
 * messages).  0, or ERR_INVAL with a message. */
int cfg_load_json_text(struct cfg *c, const char *text, size_t len, const char *what, char *err,
                       size_t errlen);
/*
 * Build c from defaults, --config and flags (argv is not modified).  On
 * --help / --version sets *action and returns 0 without validating.
 * 0, or ERR_INVAL with a message (also for a bad config file).
 */
int cfg_parse_args(struct cfg *c, int argc, char *const *argv, enum cfg_action *action, char *err,
                   size_t errlen);
/* Check every field (called by cfg_parse_args).  0 or ERR_INVAL + message. */
int cfg_check(const struct cfg *c, char *err, size_t errlen);
/* The core's configuration: the profile, then the protocol overrides.
 * 0, or ERR_INVAL + message when the result is not a valid configuration. */
int cfg_protocol(const struct cfg *c, struct swim_config *out, char *err, size_t errlen);
/* The --help text. */
void cfg_usage(FILE *out, const char *prog);

#endif /* AGENT_CFG_H */
