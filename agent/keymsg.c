/*
 * keymsg.c - see keymsg.h.
 */
#include "keymsg.h"

#include <string.h>

#include "err.h"
#include "text.h"

/* Response status bytes. */
#define KEYMSG_STATUS_OK 0
#define KEYMSG_STATUS_ERROR 1

static const char *const keymsg_op_names[] = {
    [KEYMSG_LIST] = "list",
    [KEYMSG_INSTALL] = "install",
    [KEYMSG_USE] = "use",
    [KEYMSG_REMOVE] = "remove",
};
#define KEYMSG_OPS (sizeof(keymsg_op_names) / sizeof(keymsg_op_names[0]))

const char *keymsg_op_name(enum keymsg_op op)
{
    return (unsigned)op < KEYMSG_OPS ? keymsg_op_names[op] : NULL;
}

int keymsg_op_parse(const char *name, enum keymsg_op *op)
{
    for (size_t i = KEYMSG_LIST; i < KEYMSG_OPS; i++)
        if (strcmp(name, keymsg_op_names[i]) == 0) {
            *op = (enum keymsg_op)i;
            return 0;
        }
    return ERR_INVAL;
}

int keymsg_encode_request(const struct keymsg_request *req, uint8_t *out, size_t cap)
{
    if (keymsg_op_name(req->op) == NULL)
        return ERR_INVAL;
    size_t len = req->op == KEYMSG_LIST ? 2 : 2 + KEYRING_KEY_BYTES;
    if (cap < len)
        return ERR_NOSPACE;
    out[0] = KEYMSG_VERSION;
    out[1] = (uint8_t)req->op;
    if (req->op != KEYMSG_LIST)
        memcpy(out + 2, req->key, KEYRING_KEY_BYTES);
    return (int)len;
}

int keymsg_encode_response(const struct keymsg_response *resp, uint8_t *out, size_t cap)
{
    size_t n = resp->ok ? resp->count : strnlen(resp->error, sizeof(resp->error));
    if (resp->ok ? n > KEYRING_KEYS_MAX
                 : n == 0 || n > KEYMSG_ERROR_MAX || !text_valid(resp->error, n))
        return ERR_INVAL;
    size_t len = 3 + (resp->ok ? n * KEYRING_KEY_BYTES : n);
    if (cap < len)
        return ERR_NOSPACE;
    out[0] = KEYMSG_VERSION;
    out[1] = resp->ok ? KEYMSG_STATUS_OK : KEYMSG_STATUS_ERROR;
    out[2] = (uint8_t)n;
    if (resp->ok)
        memcpy(out + 3, resp->keys, n * KEYRING_KEY_BYTES);
    else
        memcpy(out + 3, resp->error, n);
    return (int)len;
}

/* The version and the second byte (op or status) of a payload. */
static int keymsg_decode_head(uint8_t *second, const uint8_t **pos, const uint8_t *end)
{
    if (end - *pos < 2)
        return ERR_TRUNC;
    if ((*pos)[0] != KEYMSG_VERSION)
        return ERR_VERSION;
    *second = (*pos)[1];
    *pos += 2;
    return 0;
}

int keymsg_decode_request(struct keymsg_request *out, const uint8_t **pos, const uint8_t *end)
{
    uint8_t op = 0;
    memset(out, 0, sizeof(*out));
    int rc = keymsg_decode_head(&op, pos, end);
    if (rc != 0)
        return rc;
    if (op < KEYMSG_LIST || op >= KEYMSG_OPS)
        return ERR_MALFORMED;
    size_t want = op == KEYMSG_LIST ? 0 : KEYRING_KEY_BYTES;
    if ((size_t)(end - *pos) < want)
        return ERR_TRUNC;
    if ((size_t)(end - *pos) > want)
        return ERR_MALFORMED;
    out->op = (enum keymsg_op)op;
    memcpy(out->key, *pos, want);
    *pos += want;
    return 0;
}

int keymsg_decode_response(struct keymsg_response *out, const uint8_t **pos, const uint8_t *end)
{
    uint8_t status = 0;
    memset(out, 0, sizeof(*out));
    int rc = keymsg_decode_head(&status, pos, end);
    if (rc != 0)
        return rc;
    if (status != KEYMSG_STATUS_OK && status != KEYMSG_STATUS_ERROR)
        return ERR_MALFORMED;
    if (*pos == end)
        return ERR_TRUNC;
    size_t n = *(*pos)++;
    int ok = status == KEYMSG_STATUS_OK;
    size_t want = ok ? n * KEYRING_KEY_BYTES : n;
    if (ok ? n > KEYRING_KEYS_MAX : n == 0 || n > KEYMSG_ERROR_MAX)
        return ERR_MALFORMED;
    if ((size_t)(end - *pos) < want)
        return ERR_TRUNC;
    if ((size_t)(end - *pos) > want || (!ok && !text_valid((const char *)*pos, n)))
        return ERR_MALFORMED;
    out->ok = ok;
    if (ok) {
        out->count = n;
        memcpy(out->keys, *pos, want);
    } else {
        memcpy(out->error, *pos, n);
    }
    *pos += want;
    return 0;
}
