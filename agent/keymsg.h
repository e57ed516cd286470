/*
 * keymsg.h - the payloads of a keyring operation between nodes: one request
 * ("install this key") and each node's response ("done", or why not, and
 * for a listing its keys).
 *
 * Model: `swimctl keys` on one node asks every member to change or list its
 * keyring (keyops.h runs the request there); these are the bytes that
 * travel, inside datagrams sealed with the cluster keys.  Both are small,
 * fixed-layout binary, every length bounded and checked, nothing trailing:
 *
 *   request   | version 0x01 | op (1) | key (32, absent for list) |
 *   response  | version 0x01 | status (1) | body |
 *               status 0 (ok):    | count (1, 0..8) | count x key (32) |
 *                                 (keys only for list, primary first)
 *               status 1 (error): | length (1, 1..KEYMSG_ERROR_MAX) |
 *                                 | message (UTF-8 without controls) |
 *
 * A response carries whole keys, as Serf's does: the origin may hold none
 * of the keys it lists.  Pure: libc and text.h only; no allocation.  Key
 * bytes pass through the caller's structs, which the caller wipes.
 */
#ifndef AGENT_KEYMSG_H
#define AGENT_KEYMSG_H

#include <stddef.h>
#include <stdint.h>

#include "keyring.h"

/* The internal query (query.h) that carries a request to every member;
 * each answers with a response. */
#define KEYMSG_QUERY_NAME "_swim-keys"
#define KEYMSG_VERSION 0x01
/* Longest error message a node sends: one line an operator reads. */
#define KEYMSG_ERROR_MAX 160
/* Largest request and response: the query layer's payloads stay small. */
#define KEYMSG_REQUEST_MAX (2 + KEYRING_KEY_BYTES)
#define KEYMSG_RESPONSE_MAX (3 + KEYRING_KEYS_MAX * KEYRING_KEY_BYTES)

enum keymsg_op {
    KEYMSG_LIST = 1,
    KEYMSG_INSTALL = 2,
    KEYMSG_USE = 3,
    KEYMSG_REMOVE = 4,
};

struct keymsg_request {
    enum keymsg_op op;
    uint8_t key[KEYRING_KEY_BYTES]; /* unused for KEYMSG_LIST */
};

struct keymsg_response {
    int ok;       /* 1: done; 0: error says why */
    size_t count; /* keys (list only), primary first */
    uint8_t keys[KEYRING_KEYS_MAX][KEYRING_KEY_BYTES];
    char error[KEYMSG_ERROR_MAX + 1]; /* NUL-terminated; "" when ok */
};

/* The op's name ("list", "install", "use", "remove"), or NULL. */
const char *keymsg_op_name(enum keymsg_op op);
/* The op named name: 0 with *op set, or ERR_INVAL. */
int keymsg_op_parse(const char *name, enum keymsg_op *op);

/* Encode into out[0..cap): the length written, or ERR_NOSPACE, or
 * ERR_INVAL (an unknown op; a response with more than KEYRING_KEYS_MAX keys
 * or an error message that is empty, too long or not text). */
int keymsg_encode_request(const struct keymsg_request *req, uint8_t *out, size_t cap);
int keymsg_encode_response(const struct keymsg_response *resp, uint8_t *out, size_t cap);

/* Decode the whole of [*pos, end), advancing *pos.  0, or ERR_TRUNC (short),
 * ERR_VERSION, ERR_MALFORMED (unknown op or status, a bad count or message,
 * trailing bytes).  *out is left wiped on failure. */
int keymsg_decode_request(struct keymsg_request *out, const uint8_t **pos, const uint8_t *end);
int keymsg_decode_response(struct keymsg_response *out, const uint8_t **pos, const uint8_t *end);

#endif /* AGENT_KEYMSG_H */
