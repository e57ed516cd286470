/*
 * query_codec.h - the wire form of queries and of their acks and responses.
 *
 * Model.  A query travels to every member as one core broadcast (like a
 * user event, swim_broadcast()), and its acks and responses come back to
 * the origin as direct messages (swim_send_direct()).  A user event's
 * payload begins with its name's length, which is never 0; a query's (and
 * a reply's) begins with QUERY_MARKER, 0, so the two can never be taken for
 * each other, and a node that predates queries drops a query as a
 * malformed user event.  All integers are big-endian.
 *
 *   query     | 0x00 | kind=1 | u32 id | u8 flags | u8 relay factor |
 *             | u32 timeout ms | u8 node count | nodes: | u8 len | name | ... |
 *             | u8 tag count | tags: | u8 klen | key | u8 plen | pattern | ... |
 *             | u8 name len | name | payload (the rest) |
 *   ack       | 0x00 | kind=2 | u32 id | u8 flags=0 |
 *   response  | 0x00 | kind=3 | u32 id | u8 flags | payload (the rest) |
 *
 * The origin is not in the query: the core's broadcast says who sent it,
 * and a reply goes to that member by name (the core knows its address), so
 * no one can point replies at a third party.  Query flags: 1 NO_ACK;
 * response flags: 1 TRUNCATED (the handler said more than was sent).
 * Unknown flag bits are ignored.  The timeout is relative (clocks are not
 * shared): a member answers while less than that has passed since it
 * received the query, and the origin takes answers until its own deadline.
 *
 * Decoders check every length before reading, return pointers into the
 * input (valid while it is) and refuse: a short or overlong field, a node
 * name that is not a valid node name, an empty tag key or one longer than
 * TAGS_KEY_MAX, a pattern longer than QUERY_PATTERN_MAX or one that
 * query_pattern_ok() refuses, a query name that
 * is not 1..QUERY_NAME_MAX bytes of text (text_valid()), a relay factor
 * above SWIM_DIRECT_RELAY_MAX, a timeout of 0 or above QUERY_TIMEOUT_MAX_MS,
 * more than QUERY_NODES_MAX nodes or QUERY_TAGS_MAX tags.  Pure: no
 * allocation, no state.  Errors are 0 or a negative ERR_* code.
 */
#ifndef AGENT_QUERY_CODEC_H
#define AGENT_QUERY_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "swim.h"

/* The first byte of a query or reply: a user event name is never empty. */
#define QUERY_MARKER 0x00
/* Query names are short identifiers, like user event names. */
#define QUERY_NAME_MAX 64
/* Filters carried in one query (it must fit a broadcast of SWIM_USER_MAX
 * bytes with its name and payload anyway). */
#define QUERY_NODES_MAX 16
#define QUERY_TAGS_MAX 8
/* A tag filter's regular expression: enough for alternations of a few
 * values; bounded, since every member compiles it. */
#define QUERY_PATTERN_MAX 128
/* Positions a tag filter's pattern may expand to once its repetitions are
 * written out as glibc's regcomp() builds them (see query_pattern_ok()). */
#define QUERY_PATTERN_SIZE_MAX 256
/* The longest time a query may run: an hour; any longer is a job, not a
 * question. */
#define QUERY_TIMEOUT_MAX_MS 3600000u
/* A response's payload: what a handler may answer (Serf's limit is 1 KB). */
#define QUERY_RESPONSE_MAX 1024
/* Bytes of a reply before its payload. */
#define QUERY_REPLY_HEADER 7

enum query_kind {
    QUERY_KIND_QUERY = 1,
    QUERY_KIND_ACK = 2,
    QUERY_KIND_RESPONSE = 3,
};

enum query_flag {
    QUERY_F_NO_ACK = 1,    /* query: members do not ack */
    QUERY_F_TRUNCATED = 1, /* response: cut at the limit */
};

/* Bytes that point into a buffer (not NUL-terminated). */
struct query_bytes {
    const char *ptr;
    size_t len;
};

struct query_tag_filter {
    struct query_bytes key;
    struct query_bytes pattern; /* POSIX extended regular expression */
};

struct query_msg {
    uint32_t id;
    uint8_t flags;
    uint8_t relay_factor;
    uint32_t timeout_ms;
    size_t node_count;
    struct query_bytes nodes[QUERY_NODES_MAX];
    size_t tag_count;
    struct query_tag_filter tags[QUERY_TAGS_MAX];
    struct query_bytes name;
    const uint8_t *payload;
    size_t len;
};

struct query_reply {
    uint8_t kind; /* QUERY_KIND_ACK or QUERY_KIND_RESPONSE */
    uint32_t id;
    uint8_t flags;
    const uint8_t *payload; /* response only */
    size_t len;
};

/*
 * 1 when a tag filter's pattern is one every member may hand to regcomp()
 * and regexec(): 1..QUERY_PATTERN_MAX bytes without NUL, no back-reference
 * (\1..\9, which makes glibc's matching exponential in the value), no
 * repetition nested (or stacked) more than two deep (regcomp() is
 * exponential in those: ((a*){0,5}){0,5}+ takes seconds), every
 * `{` outside a bracket expression the start of a repetition count ({m},
 * {m,}, {m,n}, {,n}), and at most QUERY_PATTERN_SIZE_MAX positions once
 * every repetition is written out: glibc copies the repeated part for each
 * count (m + 1 for an open one) and twice for `+`, so nested or stacked
 * repetitions grow as the product (a 43-byte pattern of nested counts
 * crashes regcomp(), "a" and twenty `+` take 700 MB), and matching a
 * 255-byte value against 2000 positions takes 0.7 s and 150 MB; at 256,
 * a few hundredths of a second and 8 MB.  Else 0.
 */
int query_pattern_ok(const char *p, size_t len);
/* 1 when a broadcast or direct payload is the query module's (its first
 * byte is QUERY_MARKER), else 0. */
int query_is_ours(const uint8_t *buf, size_t len);
/* A query: 0, or ERR_TRUNC / ERR_MALFORMED / ERR_TOOBIG. */
int query_msg_decode(struct query_msg *out, const uint8_t *buf, size_t len);
/* Encode into buf[0..cap): 0 with *len set, ERR_TOOBIG when it does not
 * fit cap, ERR_INVAL for a value the decoder would refuse. */
int query_msg_encode(uint8_t *buf, size_t cap, const struct query_msg *in, size_t *len);
/* An ack or a response: 0, or ERR_TRUNC / ERR_MALFORMED / ERR_TOOBIG
 * (payload above QUERY_RESPONSE_MAX). */
int query_reply_decode(struct query_reply *out, const uint8_t *buf, size_t len);
int query_reply_encode(uint8_t *buf, size_t cap, const struct query_reply *in, size_t *len);

#endif /* AGENT_QUERY_CODEC_H */
