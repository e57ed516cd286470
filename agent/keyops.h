/*
 * keyops.h - one node's half of `swimctl keys`: list, install, use or remove
 * a key in this node's keyring, and keep the keyring file in step.
 *
 * Model: a request (keymsg.h) comes from the node where an operator ran
 * `swimctl keys` (this node too); keyops_handle() runs it on the live
 * keyring and answers with a response payload.  The rules:
 *
 *   list     the keys, primary first.
 *   install  append the key unless held (held already: done, unchanged);
 *            refused when KEYRING_KEYS_MAX keys are held.
 *   use      make a held key the primary (the primary already: done);
 *            refused for a key not held, so a node that missed the install
 *            says so rather than cutting itself off.
 *   remove   drop a held key; refused for the primary (it seals every
 *            datagram) and for a key not held.
 *
 * A change is made on a copy, written to the keyring file swimd loaded
 * (--keyring: the only way swimd takes keys, so there is always a file) by
 * keyring_save_file(), atomically, and only then made live: a change that
 * cannot be written (read-only directory, disk full) is refused whole, and
 * both the file and the running keyring keep the old keys.  A restart thus
 * always starts from the keys the last answer reported.  A node without a
 * keyring (plaintext) refuses every request.
 *
 * Threads: none; everything runs on the thread that seals and opens
 * datagrams with the same keyring (swimd's loop), so no lock is needed.
 * A change blocks that thread while the file is written and fsync'd (the
 * file and its directory: milliseconds on a healthy disk): the internal
 * query wants its answer at once, and a rotation is a few operator steps.
 */
#ifndef AGENT_KEYOPS_H
#define AGENT_KEYOPS_H

#include <stddef.h>
#include <stdint.h>

#include "keymsg.h"
#include "log.h"

struct keyops;

/*
 * Operations on kr (borrowed; NULL: a plaintext node) persisted to path
 * (copied; the file kr was loaded from).  lg is borrowed.  NULL when out of
 * memory or path is too long.
 */
struct keyops *keyops_new(struct keyring *kr, const char *path, struct log *lg);
/* Free (NULL is fine); the keyring stays its owner's. */
void keyops_delete(struct keyops *ko);

/*
 * Run one request from node `origin` (named in the log; NULL: this node's
 * control socket) on this node's keyring (see the model) and fill *resp:
 * ok, with the keys for a list; or an error message.  Never fails
 * otherwise.  The caller wipes *resp (it may hold keys).
 */
void keyops_apply(struct keyops *ko, const char *origin, const struct keymsg_request *req,
                  struct keymsg_response *resp);

/*
 * The same from payload to payload: decode req[0..len) (a malformed one is
 * answered with an error response), apply it, and encode the response into
 * out[0..cap) (cap >= KEYMSG_RESPONSE_MAX).  The response's length, or
 * ERR_NOSPACE.
 */
int keyops_handle(struct keyops *ko, const char *origin, const uint8_t *req, size_t len,
                  uint8_t *out, size_t cap);

#endif /* AGENT_KEYOPS_H */
