/*
 * commands.h - the control commands, one function each (see control.h).
 *
 * Every function has the control_cmd_f shape and lives in the file named
 * for its command; control.c lists them in its table.  Shared by the
 * command files and control.c only.
 */
#ifndef AGENT_COMMANDS_H
#define AGENT_COMMANDS_H

#include <jansson.h>

#include "control.h"
#include "swim.h"

/* cmd_members.c */
json_t *cmd_members(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err);
/* The members lists kept between requests (control_env.members_cache):
 * NULL when out of memory.  Delete frees them; NULL is a no-op. */
struct cmd_members_cache *cmd_members_cache_new(void);
void cmd_members_cache_delete(struct cmd_members_cache *mc);
/* One member as the control API shows it (members, info's "self"), with
 * its coordinate (NULL: not known, shown as null). */
json_t *cmd_member_json(const struct swim_member_info *m, const struct swim_coord *coord);
/* A coordinate as the control API shows it: vec, height, adjustment
 * (seconds) and error_estimate (not "error", a reply's failure key). */
json_t *cmd_coord_json(const struct swim_coord *c);
/* cmd_info.c */
json_t *cmd_info(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err);
/* cmd_join.c */
json_t *cmd_join(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err);
/* cmd_leave.c */
json_t *cmd_leave(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err);
json_t *cmd_force_leave(const struct control_env *env, struct ctl_conn *conn, json_t *req,
                        char *err);
/* cmd_tags.c */
json_t *cmd_tags_set(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err);
json_t *cmd_tags_delete(const struct control_env *env, struct ctl_conn *conn, json_t *req,
                        char *err);
/* cmd_event.c */
json_t *cmd_event(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err);
/* The data of a request ("payload", or "payload_hex" for bytes that are
 * not UTF-8) into buf[0..cap): its length, or -1 with err filled (what:
 * the command, as messages name it; limit: the size they state). */
long cmd_payload(json_t *req, const char *what, uint8_t *buf, size_t cap, size_t limit, char *err);
/* cmd_query.c */
json_t *cmd_query(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err);
/* The optional unsigned field `field` of a request to command `what` into
 * *out (0 when absent): 0, or -1 with err filled when it is not an integer
 * from min to max. */
int cmd_uint(json_t *req, const char *what, const char *field, uint32_t min, uint32_t max,
             uint32_t *out, char *err);
/* watch.c */
json_t *cmd_watch(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err);
/* monitor.c */
json_t *cmd_monitor(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err);
/* cmd_rtt.c */
json_t *cmd_rtt(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err);
/* cmd_keys.c */
json_t *cmd_keys(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err);
/* The keys operations in flight (control_env.keys_runs): NULL when out of
 * memory.  Delete cancels their queries (on q) and frees them, unanswered. */
struct cmd_keys_runs *cmd_keys_runs_new(void);
void cmd_keys_runs_delete(struct cmd_keys_runs *r, struct query *q);
/* cmd_metrics.c */
json_t *cmd_metrics(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err);

#endif /* AGENT_COMMANDS_H */
