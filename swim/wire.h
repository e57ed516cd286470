/*
 * wire.h - the swimd datagram codec.
 *
 * Model: a datagram is a fixed header, a small type-specific body, then a run
 * of length-prefixed items (member records and user broadcasts) that fills the
 * rest of the datagram.  Because every item carries its own length, a decoder
 * skips item kinds it does not know and trailing fields it does not know
 * inside a known item: that is how the format grows without a version bump.
 * The version byte changes only when the header itself changes.
 *
 * All integers are big-endian.  Strings are not NUL-terminated on the wire.
 * Every name field holds a name valid by swim_name_valid() (swim.h): the
 * decoders refuse any other (ERR_MALFORMED), so a bad name in the header
 * drops the datagram and one in a record drops that record.
 *
 *   0       1       2       3
 *   +-------+-------+-------+-------+
 *   | magic | ver=1 | type  | flags |          flags: 1 HAS_DST, 2 RELAY,
 *   +-------+-------+-------+-------+                 4 WANT_REPLY
 *   | nlen  | src name (nlen bytes) ...        1 <= nlen <= 64
 *   | alen  | src addr (alen bytes) ...        alen <= 32, opaque to the core
 *   | src generation (u64)  | src incarnation (u32)   |
 *   [HAS_DST:  | nlen | dst name ... | dst generation (u64) |]
 *   | seq (u32)                                          |
 *   +----------------------------------------------------+
 *   | body:  PING/ACK with RELAY: | nlen | name | alen | addr | u32 seq |
 *   |        PING_REQ:            | nlen | name | alen | addr | u64 gen |
 *   |        all others:          (empty)                               |
 *   +----------------------------------------------------+
 *   | items, until the end of the datagram:              |
 *   |   | kind (u8) | len (u16) | len bytes |            |
 *   |   MEMBER: | nlen | name | alen | addr | u64 gen | u32 inc |
 *   |           | status (u8) | mlen (u16) | meta | [bylen | by name] |
 *   |   USER:   | nlen | origin | u64 origin gen | u32 id |
 *   |           | plen (u16) | payload |                   |
 *   |   DIGEST: | log2 B (u8) | B sums (u32 each) |        |
 *   |   COOKIE: | cookie (u64) |                           |
 *   |   DIRECT: | nlen | origin | u64 origin gen | u32 id | |
 *   |           | plen (u16) | payload |                   |
 *   +----------------------------------------------------+
 *
 * DIRECT carries DIRECT items to the member its header names as destination;
 * with RELAY it goes to a helper instead, which forwards it once, without
 * RELAY, to that destination (see swim/direct.c).
 *
 * The RELAY flag is valid on PING, ACK and DIRECT only (anything else is malformed);
 * unknown flag bits are ignored by the decoder, so a later version may add
 * optional ones, and refused by the encoder.
 *
 * Every decoder has the shape wire_decode_x(out, &pos, end): it checks bounds
 * before each read, decodes into a plain value struct whose pointers point
 * into the input buffer (valid while the buffer is), advances *pos only on
 * success, and returns 0 or a negative code from err.h.  Encoders have the
 * shape wire_encode_x(&pos, end, in) and write nothing past end: they return
 * ERR_NOSPACE, leaving *pos where it was, when the value does not fit.
 */
#ifndef SWIM_WIRE_H
#define SWIM_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "swim_addr.h"

/* First byte of every datagram: rejects stray traffic cheaply. */
#define WIRE_MAGIC 0xA7
/* Header layout version; bumped only when the header changes shape. */
#define WIRE_VERSION 1
/* Longest node name (bytes, no NUL), as memberlist and Serf allow. */
#define WIRE_NAME_MAX 64
/* Longest opaque address: the one address type's capacity (swim_addr.h). */
#define WIRE_ADDR_MAX SWIM_ADDR_MAX
/* Largest encoded tag block (the bound on tags). */
#define WIRE_META_MAX 512
/* Largest user broadcast payload, Serf's UserEventSizeLimit. */
#define WIRE_USER_MAX 512
/* Largest direct message payload: what a datagram of the default size holds
 * beside its header and the item's own fields (the sender checks the fit
 * against the configured size). */
#define WIRE_DIRECT_MAX 1200
/* Bytes of item framing: kind (1) + length (2). */
#define WIRE_ITEM_OVERHEAD 3
/* Smallest datagram size a sender may be configured with: a maximal header
 * plus one maximal member record must always fit. */
#define WIRE_PACKET_MIN 1200
/* Default ceiling on datagram size: fits a 1500-byte Ethernet MTU with room
 * for IP/UDP headers and the agent's encryption overhead. */
#define WIRE_PACKET_DEFAULT 1400
/* Upper bound of a configured datagram size (UDP payload limit, rounded). */
#define WIRE_PACKET_MAX 65000

enum wire_type {
    WIRE_PING = 1,     /* direct or relayed probe; answered by ACK */
    WIRE_ACK = 2,      /* answer to PING, or a relayed answer to PING_REQ */
    WIRE_PING_REQ = 3, /* ask a helper to probe the body's target */
    WIRE_NACK = 4,     /* helper could not reach the target in time */
    WIRE_ANNOUNCE = 5, /* join request; the joiner's record is an item */
    WIRE_FEED = 6,     /* answer to ANNOUNCE: active members as items */
    WIRE_GOSSIP = 7,   /* only items */
    WIRE_SYNC = 8,     /* anti-entropy: a chunk of the whole table */
    WIRE_DIRECT = 9,   /* direct messages to one member (or, with RELAY, to forward) */
};
#define WIRE_TYPE_LAST WIRE_DIRECT

enum wire_flag {
    WIRE_F_HAS_DST = 1,
    WIRE_F_RELAY = 2,
    WIRE_F_WANT_REPLY = 4,
};
#define WIRE_F_ALL (WIRE_F_HAS_DST | WIRE_F_RELAY | WIRE_F_WANT_REPLY)

enum wire_item_kind {
    WIRE_ITEM_MEMBER = 1,
    WIRE_ITEM_USER = 2,
    WIRE_ITEM_DIGEST = 3, /* SYNC only: a summary of the sender's table (swim/sync.c) */
    WIRE_ITEM_COOKIE = 4, /* a seed's proof-of-address challenge, echoed in ANNOUNCE */
    /* 5 is taken by network coordinates (another branch) */
    WIRE_ITEM_DIRECT = 6, /* DIRECT only: one direct message */
};

/* A digest splits the table into 2^log2 buckets by name; at most 2^7 (512
 * bytes of sums, which fit a WIRE_PACKET_MIN datagram beside a maximal
 * header). */
#define WIRE_DIGEST_LOG2_MAX 7

/* Member status on the wire; ordered by precedence at equal incarnation. */
enum wire_status {
    WIRE_ALIVE = 0,
    WIRE_SUSPECT = 1,
    WIRE_FAILED = 2,
    WIRE_LEFT = 3,
};
#define WIRE_STATUS_LAST WIRE_LEFT

/* A name that points into a buffer; len in 1..WIRE_NAME_MAX once decoded. */
struct wire_name {
    const char *ptr;
    uint8_t len;
};

struct wire_header {
    uint8_t type;
    uint8_t flags;
    struct wire_name src;
    struct swim_addr src_addr;
    uint64_t src_gen;
    uint32_t src_inc;
    struct wire_name dst; /* valid with WIRE_F_HAS_DST */
    uint64_t dst_gen;
    uint32_t seq;
};

/* Body of a relayed PING/ACK (origin) and of PING_REQ (target). */
struct wire_peer {
    struct wire_name name;
    struct swim_addr addr;
    uint64_t gen; /* PING_REQ target generation */
    uint32_t seq; /* RELAY: the origin's probe sequence */
};

struct wire_item {
    uint8_t kind;
    uint16_t len;
    const uint8_t *data;
};

struct wire_member {
    struct wire_name name;
    struct swim_addr addr;
    uint64_t gen;
    uint32_t inc;
    uint8_t status;
    uint16_t meta_len;
    const uint8_t *meta;
    /* Optional; len 0 when absent.  SUSPECT: who accuses or confirms;
     * FAILED: who declared it; ALIVE: the subject itself on a refutation. */
    struct wire_name by;
};

struct wire_user {
    struct wire_name origin;
    uint64_t origin_gen;
    uint32_t id;
    uint16_t len;
    const uint8_t *payload;
};

/* A table digest: 2^log2 bucket sums (big-endian u32s at `sums`, pointing
 * into the decoded buffer; wire_digest_sum reads one). */
struct wire_digest {
    uint8_t log2;
    const uint8_t *sums;
};

/* Decoders: 0 or ERR_TRUNC / ERR_MALFORMED / ERR_VERSION / ERR_TOOBIG. */
int wire_decode_header(struct wire_header *out, const uint8_t **pos, const uint8_t *end);
/* Relay body of PING/ACK (gen is left 0) or target body of PING_REQ. */
int wire_decode_peer(struct wire_peer *out, uint8_t type, const uint8_t **pos, const uint8_t *end);
int wire_decode_item(struct wire_item *out, const uint8_t **pos, const uint8_t *end);
int wire_decode_member(struct wire_member *out, const uint8_t **pos, const uint8_t *end);
int wire_decode_user(struct wire_user *out, const uint8_t **pos, const uint8_t *end);
/* Bytes after the sums are left for later versions (not an error). */
int wire_decode_digest(struct wire_digest *out, const uint8_t **pos, const uint8_t *end);
/* Bucket i (< 2^log2) of a decoded digest. */
uint32_t wire_digest_sum(const struct wire_digest *d, size_t i);

/* Encoders: 0, ERR_NOSPACE when it does not fit, ERR_INVAL for a value out
 * of range (name empty or too long, status unknown, meta too big). */
int wire_encode_header(uint8_t **pos, uint8_t *end, const struct wire_header *in);
int wire_encode_peer(uint8_t **pos, uint8_t *end, uint8_t type, const struct wire_peer *in);
/* Writes the item frame around an already encoded body of len bytes. */
int wire_encode_item(uint8_t **pos, uint8_t *end, uint8_t kind, const uint8_t *data, size_t len);
int wire_encode_member(uint8_t **pos, uint8_t *end, const struct wire_member *in);
int wire_encode_user(uint8_t **pos, uint8_t *end, const struct wire_user *in);
/* A DIRECT item's body: a wire_user value whose payload may reach
 * WIRE_DIRECT_MAX bytes (origin: the sender, id: its message id). */
int wire_decode_direct(struct wire_user *out, const uint8_t **pos, const uint8_t *end);
int wire_encode_direct(uint8_t **pos, uint8_t *end, const struct wire_user *in);
/* 2^log2 sums (log2 <= WIRE_DIGEST_LOG2_MAX). */
int wire_encode_digest(uint8_t **pos, uint8_t *end, uint8_t log2, const uint32_t *sums);
/* A cookie item's body: one u64 (later bytes are left for later versions). */
int wire_decode_cookie(uint64_t *out, const uint8_t **pos, const uint8_t *end);
int wire_encode_cookie(uint8_t **pos, uint8_t *end, uint64_t cookie);

/* Upper bound of an encoded member body (without item framing). */
size_t wire_member_size(const struct wire_member *in);

#endif /* SWIM_WIRE_H */
