/*
 * tags.h - a node's tags (KEY=VALUE labels) and their encoding as core meta.
 *
 * Model: the core carries meta as opaque bytes (at most SWIM_META_MAX), so
 * the agent defines the format.  A tag block is a run of pairs,
 *
 *   | klen (u8) | key (klen bytes) | vlen (u8) | value (vlen bytes) | ...
 *
 * in strictly ascending byte order of key, with no other framing: the block
 * ends where the bytes end.  The form is canonical (sorted, no duplicate
 * keys), so two nodes with the same tags send the same bytes and the core's
 * "meta changed" test is a plain comparison.  A key is 1..TAGS_KEY_MAX bytes
 * of text (text.h: valid UTF-8, no control character) without '=' or ',';
 * a value is 0..TAGS_VALUE_MAX bytes of text, so both go into JSON as they
 * are and print safely once escaped.
 *
 * Meta received from peers is untrusted: tags_decode_pair() and
 * tags_decode_all() check bounds before every read and reject anything that
 * is not canonical.  struct tags is an owned, editable set kept in encoded
 * form (one buffer, no per-pair allocation).
 */
#ifndef AGENT_TAGS_H
#define AGENT_TAGS_H

#include <stddef.h>
#include <stdint.h>

#include "swim.h"

/* Lengths are one byte on the wire. */
#define TAGS_KEY_MAX 255
#define TAGS_VALUE_MAX 255
/* Most pairs a block can hold: the smallest pair is 3 bytes (1-byte key,
 * empty value). */
#define TAGS_PAIRS_MAX (SWIM_META_MAX / 3)

/* One pair, pointing into the buffer it was decoded from (not NUL-terminated). */
struct tags_pair {
    const char *key;
    uint8_t klen;
    const char *value;
    uint8_t vlen;
};

/* Decode one pair at *pos (< end); advances *pos only on success.
 * 0, ERR_TRUNC, or ERR_MALFORMED (empty key, forbidden byte). */
int tags_decode_pair(struct tags_pair *out, const uint8_t **pos, const uint8_t *end);
/* Encode one pair; ERR_NOSPACE (nothing written) when it does not fit,
 * ERR_INVAL for a bad key or value. */
int tags_encode_pair(uint8_t **pos, uint8_t *end, const struct tags_pair *in);
/* Decode a whole block into out[0..cap), checking canonical order.
 * 0, ERR_TOOBIG (len > SWIM_META_MAX or more than cap pairs), ERR_TRUNC,
 * ERR_MALFORMED (bad pair, unsorted or duplicate key). */
int tags_decode_all(struct tags_pair *out, size_t cap, size_t *count, const uint8_t *buf,
                    size_t len);
/* 0 when key (NUL-terminated) / value are acceptable, else ERR_INVAL. */
int tags_check_key(const char *key);
int tags_check_value(const char *value);

struct tags;

/* An empty set; NULL when out of memory. */
struct tags *tags_new(void);
/* Free the set (NULL is fine). */
void tags_delete(struct tags *t);
/* Replace the set with a decoded block (validated as tags_decode_all). */
int tags_load(struct tags *t, const uint8_t *buf, size_t len);
/* Add or replace one tag.  0, ERR_INVAL (bad key/value), ERR_TOOBIG (the
 * block would exceed SWIM_META_MAX; the set is unchanged). */
int tags_set(struct tags *t, const char *key, const char *value);
/* Remove one tag.  0 or ERR_NOTFOUND. */
int tags_unset(struct tags *t, const char *key);
/* Remove every tag. */
void tags_clear(struct tags *t);
/* The encoded block (owned by the set, valid until the next change). */
const uint8_t *tags_bytes(const struct tags *t, size_t *len);
/* Number of tags. */
size_t tags_count(const struct tags *t);
/* The i-th pair in key order; pointers valid until the next change.
 * 0 or ERR_NOTFOUND. */
int tags_at(const struct tags *t, size_t i, struct tags_pair *out);
/* Parse "KEY=VALUE" (value may be empty) into key/value buffers of
 * TAGS_KEY_MAX+1 and TAGS_VALUE_MAX+1 bytes.  0 or ERR_INVAL. */
int tags_parse_kv(const char *text, char *key, char *value);

#endif /* AGENT_TAGS_H */
