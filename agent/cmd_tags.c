/*
 * cmd_tags.c - the control commands "tags-set" and "tags-delete": edit this
 * node's tags.  An edit is made on a copy and applied (control_set_tags())
 * only when all of it is valid; the reply is the resulting tag set.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "err.h"
#include "events.h"
#include "tags.h"

/* Apply tags-set's "tags" object to t.  0, or an error with err filled. */
static int cmd_tags_set_all(struct tags *t, json_t *req, char *err)
{
    json_t *obj = json_object_get(req, "tags");
    const char *k;
    json_t *v;
    if (!json_is_object(obj) || json_object_size(obj) == 0) {
        snprintf(err, CTL_ERR_MAX, "tags-set needs \"tags\": an object of string values");
        return ERR_INVAL;
    }
    json_object_foreach(obj, k, v)
    {
        const char *s = json_string_value(v);
        int rc = s != NULL && strlen(s) == json_string_length(v) ? tags_set(t, k, s) : ERR_INVAL;
        if (rc == ERR_TOOBIG) {
            snprintf(err, CTL_ERR_MAX, "tags would exceed %d encoded bytes", SWIM_META_MAX);
            return rc;
        }
        if (rc != 0) {
            snprintf(err, CTL_ERR_MAX,
                     "bad tag \"%.40s\": key 1-255 bytes without '=' or ',', "
                     "string value up to 255 bytes",
                     k);
            return ERR_INVAL;
        }
    }
    return 0;
}

/* Apply tags-delete's "keys" array to t.  0, or ERR_INVAL with err filled. */
static int cmd_tags_delete_all(struct tags *t, json_t *req, char *err)
{
    json_t *keys = json_object_get(req, "keys");
    size_t i;
    json_t *e;
    if (!json_is_array(keys) || json_array_size(keys) == 0) {
        snprintf(err, CTL_ERR_MAX, "tags-delete needs \"keys\": an array of strings");
        return ERR_INVAL;
    }
    json_array_foreach(keys, i, e)
    {
        if (!json_is_string(e)) {
            snprintf(err, CTL_ERR_MAX, "tags-delete: keys must be strings");
            return ERR_INVAL;
        }
        tags_unset(t, json_string_value(e)); /* absent keys are fine */
    }
    return 0;
}

/* Edit a copy of the node's tags with `edit`, then apply it as a whole. */
static json_t *cmd_tags_edit(const struct control_env *env, json_t *req, char *err,
                             int (*edit)(struct tags *, json_t *, char *), const char *what)
{
    struct tags *t = tags_new();
    if (t == NULL) {
        snprintf(err, CTL_ERR_MAX, "out of memory");
        return NULL;
    }
    size_t len;
    const uint8_t *b = tags_bytes(env->tags, &len);
    tags_load(t, b, len);
    int rc = edit(t, req, err);
    if (rc == 0) {
        b = tags_bytes(t, &len);
        rc = control_set_tags(env, b, len);
        if (rc != 0)
            snprintf(err, CTL_ERR_MAX, "cannot set tags: %s", err_strerror(rc));
    }
    tags_delete(t);
    if (rc != 0)
        return NULL;
    log_msg(env->log, LOG_INFO, "tags %s count=%zu", what, tags_count(env->tags));
    int malformed;
    b = tags_bytes(env->tags, &len);
    return json_pack("{s:o}", "tags", ev_json_tags(b, len, &malformed));
}

json_t *cmd_tags_set(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err)
{
    (void)conn;
    return cmd_tags_edit(env, req, err, cmd_tags_set_all, "set");
}

json_t *cmd_tags_delete(const struct control_env *env, struct ctl_conn *conn, json_t *req,
                        char *err)
{
    (void)conn;
    return cmd_tags_edit(env, req, err, cmd_tags_delete_all, "deleted");
}
