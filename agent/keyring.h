/*
 * keyring.h - the cluster keys and the datagram envelope they seal.
 *
 * Model: a keyring holds 1..KEYRING_KEYS_MAX 32-byte keys.  The first key
 * (the primary) seals every outgoing datagram; an incoming one is tried
 * against every key in order, so a cluster rotates keys by installing the new
 * key second everywhere, then first, then removing the old one.  The AEAD is
 * libsodium's XChaCha20-Poly1305 (IETF) with the cluster label as associated
 * data, so two clusters sharing a key but not a label reject each other's
 * traffic.  The 192-bit nonce is a stamp, authenticated with the datagram
 * (changing it breaks the tag) and unique per key: the sealing keyring's
 * random 64-bit sender id (drawn once per process), its wall-clock time in
 * milliseconds and a counter it bumps per datagram.  A receiver reads the
 * stamp back (keyring_stamp) to refuse replays (replay.h).  The envelope is
 *
 *   | 0x02 (envelope version) | sender (8) | sent ms (8) | counter (8) |
 *   | ciphertext + tag (len + 16) |
 *
 * A keyring file is text: one base64 key (standard alphabet, padded) per
 * line; blank lines and lines starting with '#' are ignored.  Key bytes live
 * in sodium_malloc'd memory (guarded, locked, wiped on delete).
 *
 * The key set changes at run time (install, use, remove: keyops.h drives
 * them) and is written back whole with keyring_save_file(), which replaces
 * the file atomically (regfile.h) with a comment line and the keys, primary
 * first.  A keyring has no lock: its owner uses it from one thread (swimd:
 * the loop's, where datagrams are sealed and opened and keys change).
 */
#ifndef AGENT_KEYRING_H
#define AGENT_KEYRING_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of one key (XChaCha20-Poly1305 IETF). */
#define KEYRING_KEY_BYTES 32
/* Keys tried per datagram are bounded: rotation needs two, a few spare. */
#define KEYRING_KEYS_MAX 8
/* Bytes the envelope adds to a datagram: version + nonce + tag. */
#define KEYRING_OVERHEAD (1 + 24 + 16)
/* Base64 text of one key plus NUL ((32 + 2) / 3 * 4 + 1). */
#define KEYRING_B64_MAX 45

struct keyring;

/* An empty keyring; NULL when libsodium cannot start or out of memory. */
struct keyring *keyring_new(void);
/* Wipe and free (NULL is fine). */
void keyring_delete(struct keyring *kr);
/* Append one base64 key (surrounding whitespace ignored).
 * 0, ERR_INVAL (not base64 or not 32 bytes), ERR_LIMIT (keyring full). */
int keyring_add_base64(struct keyring *kr, const char *text);
/* Append every key in a keyring file (a regular file, opened without
 * blocking, of at most 64 KiB).  0, ERR_IO (cannot read, or not such a
 * file: errno kept), ERR_INVAL (a bad line: *bad_line is its 1-based
 * number), ERR_LIMIT, or ERR_NOTFOUND when the file holds no key. */
int keyring_load_file(struct keyring *kr, const char *path, int *bad_line);
/* The same for a keyring's text in memory (len bytes). */
int keyring_load_text(struct keyring *kr, const char *text, size_t len, int *bad_line);
/* Number of keys loaded. */
size_t keyring_count(const struct keyring *kr);

/* Decode one base64 key (surrounding whitespace ignored) into
 * key[0..KEYRING_KEY_BYTES): 0 or ERR_INVAL.  key is wiped on failure. */
int keyring_parse_base64(const char *text, uint8_t *key);
/* Key i (< keyring_count), KEYRING_KEY_BYTES bytes, borrowed until the
 * keyring next changes; key 0 is the primary. */
const uint8_t *keyring_key(const struct keyring *kr, size_t i);
/* The position of key (KEYRING_KEY_BYTES bytes) in the keyring, or
 * ERR_NOTFOUND. */
int keyring_find(const struct keyring *kr, const uint8_t *key);
/* Append key unless held.  0, ERR_EXISTS (held already: unchanged), or
 * ERR_LIMIT (KEYRING_KEYS_MAX keys held). */
int keyring_install(struct keyring *kr, const uint8_t *key);
/* Make a held key the primary; the others keep their order behind it.
 * 0 (also when it is the primary already) or ERR_NOTFOUND. */
int keyring_use(struct keyring *kr, const uint8_t *key);
/* Drop a held key.  0, ERR_NOTFOUND, or ERR_STATE for the primary (it
 * seals every datagram: make another key the primary first). */
int keyring_remove(struct keyring *kr, const uint8_t *key);
/* Make dst's keys a copy of src's, in order (dst's stamps go on). */
void keyring_copy_keys(struct keyring *dst, const struct keyring *src);
/* Replace the keyring file at path with these keys (regfile_replace():
 * atomic, mode 0600; the file's comments are not kept).  0, ERR_STATE for
 * an empty keyring, ERR_NOMEM, or regfile_replace()'s error and *step. */
int keyring_save_file(const struct keyring *kr, const char *path, const char **step);

/* What an envelope's nonce says about its sealing. */
struct keyring_stamp {
    uint64_t sender;  /* the sealing keyring's random id */
    uint64_t sent_ms; /* its wall clock (CLOCK_REALTIME) at sealing */
    uint64_t counter; /* its datagrams sealed before this one */
};

/* Seal `in` into out[0..cap), stamped with the wall clock and the next
 * counter value: ERR_NOSPACE unless cap >= len + KEYRING_OVERHEAD, ERR_STATE
 * for an empty keyring.  *outlen set on 0. */
int keyring_seal(struct keyring *kr, const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len,
                 uint8_t *out, size_t cap, size_t *outlen);
/* Open an envelope into out[0..cap) with any key.  0, ERR_TRUNC (shorter
 * than the overhead), ERR_VERSION (not an envelope), ERR_NOSPACE, or
 * ERR_CRYPTO (no key authenticates it: tampered, other key or label). */
int keyring_open(const struct keyring *kr, const uint8_t *ad, size_t adlen, const uint8_t *in,
                 size_t len, uint8_t *out, size_t cap, size_t *outlen);

/* The stamp of an envelope keyring_open() has just authenticated (its
 * bytes unchanged since).  0, or ERR_TRUNC for a too short one. */
int keyring_stamp(const uint8_t *in, size_t len, struct keyring_stamp *out);

/* Write a fresh random key as base64 into out (KEYRING_B64_MAX bytes).
 * 0 or ERR_SYS when libsodium cannot start. */
int keyring_generate_base64(char *out);

#endif /* AGENT_KEYRING_H */
