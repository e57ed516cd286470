/*
 * keyring.c - see keyring.h.
 */
#include "keyring.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "err.h"
#include "regfile.h"

/* First byte of a sealed datagram (plaintext core datagrams start 0xA7);
 * 0x01 had a random nonce, and no stamp to refuse replays with. */
#define KEYRING_ENVELOPE_VERSION 0x02
/* Longest keyring file line considered; a key is 44 characters. */
#define KEYRING_LINE_MAX 256
/* Largest keyring file read: KEYRING_KEYS_MAX keys with generous comments. */
#define KEYRING_FILE_MAX (64 * 1024)

#define KEYRING_NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define KEYRING_TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES

_Static_assert(KEYRING_KEY_BYTES == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "key size");
_Static_assert(KEYRING_OVERHEAD == 1 + KEYRING_NONCE_BYTES + KEYRING_TAG_BYTES, "overhead");

_Static_assert(KEYRING_NONCE_BYTES == 3 * 8, "the nonce is a stamp");

struct keyring {
    size_t count;
    uint8_t keys[KEYRING_KEYS_MAX][KEYRING_KEY_BYTES];
    uint64_t sender;  /* random, drawn once: this process's stamps */
    uint64_t counter; /* datagrams sealed */
};

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

struct keyring *keyring_new(void)
{
    if (sodium_init() < 0)
        return NULL;
    struct keyring *kr = sodium_malloc(sizeof(*kr));
    if (kr == NULL)
        return NULL;
    sodium_memzero(kr, sizeof(*kr));
    randombytes_buf(&kr->sender, sizeof(kr->sender));
    return kr;
}

void keyring_delete(struct keyring *kr)
{
    if (kr != NULL)
        sodium_free(kr); /* wipes before unmapping */
}

int keyring_parse_base64(const char *text, uint8_t *key)
{
    while (*text == ' ' || *text == '\t')
        text++;
    size_t len = strlen(text);
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t' || text[len - 1] == '\n' ||
                       text[len - 1] == '\r'))
        len--;
    uint8_t buf[KEYRING_KEY_BYTES + 1];
    size_t keylen = 0;
    const char *b64end = NULL;
    int rc = 0;
    if (len == 0 ||
        sodium_base642bin(buf, sizeof(buf), text, len, NULL, &keylen, &b64end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        b64end != text + len || keylen != KEYRING_KEY_BYTES)
        rc = ERR_INVAL;
    if (rc == 0)
        memcpy(key, buf, KEYRING_KEY_BYTES);
    else
        sodium_memzero(key, KEYRING_KEY_BYTES);
    sodium_memzero(buf, sizeof(buf));
    return rc;
}

int keyring_add_base64(struct keyring *kr, const char *text)
{
    uint8_t key[KEYRING_KEY_BYTES];
    int rc = keyring_parse_base64(text, key);
    if (rc == 0 && kr->count >= KEYRING_KEYS_MAX)
        rc = ERR_LIMIT;
    if (rc == 0)
        memcpy(kr->keys[kr->count++], key, KEYRING_KEY_BYTES);
    sodium_memzero(key, sizeof(key));
    return rc;
}

int keyring_load_text(struct keyring *kr, const char *text, size_t len, int *bad_line)
{
    char line[KEYRING_LINE_MAX];
    int lineno = 0, added = 0, rc = 0;
    *bad_line = 0;
    if (len == 0)
        return ERR_NOTFOUND; /* text may be NULL then */
    const char *p = text, *end = text + len;
    /* One line per pass. */
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        lineno++;
        if (n >= sizeof(line) - 1) {
            rc = ERR_INVAL; /* a line longer than any key */
            break;
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p += n + (nl != NULL);
        const char *q = line;
        while (*q == ' ' || *q == '\t')
            q++;
        if (*q == '#' || *q == '\r' || *q == '\0')
            continue;
        rc = keyring_add_base64(kr, q);
        added += rc == 0;
    }
    sodium_memzero(line, sizeof(line));
    if (rc == ERR_INVAL)
        *bad_line = lineno;
    if (rc == 0 && added == 0)
        rc = ERR_NOTFOUND;
    return rc;
}

int keyring_load_file(struct keyring *kr, const char *path, int *bad_line)
{
    int fd = -1;
    size_t size = 0, got = 0;
    *bad_line = 0;
    int rc = regfile_open(path, KEYRING_FILE_MAX, 0, &fd, &size);
    if (rc != 0) {
        if (rc != ERR_IO && rc != ERR_NOTFOUND)
            errno = EINVAL; /* not a regular file, or too large */
        else if (rc == ERR_NOTFOUND)
            errno = ENOENT;
        return ERR_IO;
    }
    char *text = sodium_malloc(size + 1); /* keys: guarded and wiped */
    if (text == NULL) {
        close(fd);
        return ERR_NOMEM;
    }
    rc = regfile_read_close(fd, text, size, &got);
    int e = errno;
    if (rc == 0)
        rc = keyring_load_text(kr, text, got, bad_line);
    sodium_free(text);
    errno = e;
    return rc;
}

size_t keyring_count(const struct keyring *kr)
{
    return kr->count;
}

const uint8_t *keyring_key(const struct keyring *kr, size_t i)
{
    return kr->keys[i];
}

int keyring_find(const struct keyring *kr, const uint8_t *key)
{
    for (size_t i = 0; i < kr->count; i++)
        if (sodium_memcmp(kr->keys[i], key, KEYRING_KEY_BYTES) == 0)
            return (int)i;
    return ERR_NOTFOUND;
}

int keyring_install(struct keyring *kr, const uint8_t *key)
{
    if (keyring_find(kr, key) >= 0)
        return ERR_EXISTS;
    if (kr->count >= KEYRING_KEYS_MAX)
        return ERR_LIMIT;
    memcpy(kr->keys[kr->count++], key, KEYRING_KEY_BYTES);
    return 0;
}

int keyring_use(struct keyring *kr, const uint8_t *key)
{
    int at = keyring_find(kr, key);
    if (at < 0)
        return at;
    uint8_t held[KEYRING_KEY_BYTES];
    memcpy(held, kr->keys[at], sizeof(held));
    memmove(kr->keys[1], kr->keys[0], (size_t)at * KEYRING_KEY_BYTES);
    memcpy(kr->keys[0], held, sizeof(held));
    sodium_memzero(held, sizeof(held));
    return 0;
}

int keyring_remove(struct keyring *kr, const uint8_t *key)
{
    int at = keyring_find(kr, key);
    if (at < 0)
        return at;
    if (at == 0)
        return ERR_STATE;
    size_t i = (size_t)at;
    memmove(kr->keys[i], kr->keys[i + 1], (kr->count - i - 1) * KEYRING_KEY_BYTES);
    kr->count--;
    sodium_memzero(kr->keys[kr->count], KEYRING_KEY_BYTES);
    return 0;
}

void keyring_copy_keys(struct keyring *dst, const struct keyring *src)
{
    memcpy(dst->keys, src->keys, sizeof(dst->keys));
    dst->count = src->count;
}

int keyring_save_file(const struct keyring *kr, const char *path, const char **step)
{
    static const char head[] = "# swimd keyring: one base64 key per line, the first seals\n";
    *step = "write an empty keyring";
    if (kr->count == 0)
        return ERR_STATE;
    size_t cap = sizeof(head) + KEYRING_KEYS_MAX * KEYRING_B64_MAX, len = sizeof(head) - 1;
    char *text = sodium_malloc(cap); /* keys: guarded and wiped */
    *step = "allocate";
    if (text == NULL)
        return ERR_NOMEM;
    memcpy(text, head, len);
    for (size_t i = 0; i < kr->count; i++) {
        sodium_bin2base64(text + len, KEYRING_B64_MAX, kr->keys[i], KEYRING_KEY_BYTES,
                          sodium_base64_VARIANT_ORIGINAL);
        len += strlen(text + len);
        text[len++] = '\n'; /* over the NUL; KEYRING_B64_MAX counted it */
    }
    int rc = regfile_replace(path, text, len, step);
    int e = errno;
    sodium_free(text);
    errno = e;
    return rc;
}

int keyring_seal(struct keyring *kr, const uint8_t *ad, size_t adlen, const uint8_t *in, size_t len,
                 uint8_t *out, size_t cap, size_t *outlen)
{
    if (kr->count == 0)
        return ERR_STATE;
    if (cap < KEYRING_OVERHEAD || cap - KEYRING_OVERHEAD < len)
        return ERR_NOSPACE;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint8_t *nonce = out + 1;
    out[0] = KEYRING_ENVELOPE_VERSION;
    put_u64(nonce, kr->sender);
    put_u64(nonce + 8, (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
    put_u64(nonce + 16, kr->counter++); /* unique per key with the sender id */
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + 1 + KEYRING_NONCE_BYTES, &clen, in, len, ad,
                                               adlen, NULL, nonce, kr->keys[0]);
    *outlen = 1 + KEYRING_NONCE_BYTES + (size_t)clen;
    return 0;
}

int keyring_open(const struct keyring *kr, const uint8_t *ad, size_t adlen, const uint8_t *in,
                 size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
    if (len < KEYRING_OVERHEAD)
        return ERR_TRUNC;
    if (in[0] != KEYRING_ENVELOPE_VERSION)
        return ERR_VERSION;
    size_t plain = len - KEYRING_OVERHEAD;
    if (cap < plain)
        return ERR_NOSPACE;
    const uint8_t *nonce = in + 1;
    const uint8_t *ct = in + 1 + KEYRING_NONCE_BYTES;
    size_t ctlen = len - 1 - KEYRING_NONCE_BYTES;
    for (size_t i = 0; i < kr->count; i++) {
        unsigned long long mlen = 0;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, &mlen, NULL, ct, ctlen, ad, adlen,
                                                       nonce, kr->keys[i]) == 0) {
            *outlen = (size_t)mlen;
            return 0;
        }
    }
    return ERR_CRYPTO;
}

int keyring_stamp(const uint8_t *in, size_t len, struct keyring_stamp *out)
{
    if (len < KEYRING_OVERHEAD)
        return ERR_TRUNC;
    out->sender = get_u64(in + 1);
    out->sent_ms = get_u64(in + 9);
    out->counter = get_u64(in + 17);
    return 0;
}

int keyring_generate_base64(char *out)
{
    if (sodium_init() < 0)
        return ERR_SYS;
    uint8_t key[KEYRING_KEY_BYTES];
    crypto_aead_xchacha20poly1305_ietf_keygen(key);
    sodium_bin2base64(out, KEYRING_B64_MAX, key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(key, sizeof(key));
    return 0;
}
