/*
 * keyops.c - see keyops.h.
 */
#include "keyops.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "keyring.h"

struct keyops {
    struct keyring *kr; /* NULL: plaintext */
    struct log *log;
    char path[PATH_MAX];
};

struct keyops *keyops_new(struct keyring *kr, const char *path, struct log *lg)
{
    if (strlen(path) >= PATH_MAX)
        return NULL;
    struct keyops *ko = calloc(1, sizeof(*ko));
    if (ko == NULL)
        return NULL;
    ko->kr = kr;
    ko->log = lg;
    memcpy(ko->path, path, strlen(path) + 1);
    return ko;
}

void keyops_delete(struct keyops *ko)
{
    free(ko);
}

static void keyops_fail(struct keymsg_response *resp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* An error response (its message cut to KEYMSG_ERROR_MAX). */
static void keyops_fail(struct keymsg_response *resp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(resp->error, sizeof(resp->error), fmt, ap);
    va_end(ap);
    resp->ok = 0;
}

/* The change req asks of `copy` (this node's keys): 0, ERR_EXISTS when
 * nothing needs to change, or an error with *resp filled. */
static int keyops_change(struct keyring *copy, const struct keymsg_request *req,
                         struct keymsg_response *resp)
{
    int rc = 0;
    switch (req->op) {
    case KEYMSG_INSTALL:
        rc = keyring_install(copy, req->key);
        if (rc == ERR_LIMIT)
            keyops_fail(resp, "keyring full (%d keys): remove one first", KEYRING_KEYS_MAX);
        return rc;
    case KEYMSG_USE:
        rc = keyring_find(copy, req->key);
        if (rc == 0)
            return ERR_EXISTS; /* the primary already */
        if (rc < 0)
            keyops_fail(resp, "key not installed: install it first");
        return rc < 0 ? rc : keyring_use(copy, req->key);
    case KEYMSG_REMOVE:
        rc = keyring_remove(copy, req->key);
        if (rc == ERR_STATE)
            keyops_fail(resp, "cannot remove the primary key: use another key first");
        else if (rc == ERR_NOTFOUND)
            keyops_fail(resp, "key not installed");
        return rc;
    default:
        keyops_fail(resp, "unknown keys operation");
        return ERR_INVAL;
    }
}

/* Apply a change: on a copy, written to the file, then made live. */
static void keyops_edit(struct keyops *ko, const char *origin, const struct keymsg_request *req,
                        struct keymsg_response *resp)
{
    const char *op = keymsg_op_name(req->op);
    struct keyring *copy = keyring_new();
    if (copy == NULL) {
        keyops_fail(resp, "out of memory");
        return;
    }
    keyring_copy_keys(copy, ko->kr);
    int rc = keyops_change(copy, req, resp);
    if (rc == ERR_EXISTS) { /* nothing to do: done */
        keyring_delete(copy);
        return;
    }
    const char *step = "";
    if (rc == 0) {
        rc = keyring_save_file(copy, ko->path, &step);
        if (rc == ERR_INVAL)
            keyops_fail(resp, "keyring %.60s: not a regular file; nothing changed", ko->path);
        else if (rc != 0)
            keyops_fail(resp, "keyring %.60s: cannot %s: %s; nothing changed", ko->path, step,
                        rc == ERR_IO ? strerror(errno) : err_strerror(rc));
    }
    if (rc == 0)
        keyring_copy_keys(ko->kr, copy);
    keyring_delete(copy);
    if (rc == 0)
        log_msg(ko->log, LOG_INFO, "keys %s from=%s: done; %zu keys, %s written", op, origin,
                keyring_count(ko->kr), ko->path);
    else
        log_msg(ko->log, LOG_WARN, "keys %s from=%s: refused: %s", op != NULL ? op : "?", origin,
                resp->error);
}

void keyops_apply(struct keyops *ko, const char *origin, const struct keymsg_request *req,
                  struct keymsg_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->ok = 1;
    if (ko == NULL || ko->kr == NULL) {
        keyops_fail(resp, "this node runs without a keyring (plaintext): no keys to manage");
        return;
    }
    if (req->op != KEYMSG_LIST) {
        keyops_edit(ko, origin != NULL ? origin : "(control socket)", req, resp);
        return;
    }
    resp->count = keyring_count(ko->kr);
    for (size_t i = 0; i < resp->count; i++)
        memcpy(resp->keys[i], keyring_key(ko->kr, i), KEYRING_KEY_BYTES);
}

int keyops_handle(struct keyops *ko, const char *origin, const uint8_t *req, size_t len,
                  uint8_t *out, size_t cap)
{
    struct keymsg_request rq;
    struct keymsg_response resp;
    const uint8_t *pos = req;
    if (keymsg_decode_request(&rq, &pos, req + len) == 0) {
        keyops_apply(ko, origin, &rq, &resp);
    } else {
        memset(&resp, 0, sizeof(resp));
        keyops_fail(&resp, "malformed keys request");
    }
    int n = keymsg_encode_response(&resp, out, cap);
    sodium_memzero(&rq, sizeof(rq));
    sodium_memzero(&resp, sizeof(resp));
    return n;
}
