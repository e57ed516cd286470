/*
 * tags.c - see tags.h for the format.  Edits decode the current block into
 * pair views, build the new block in a scratch buffer and copy it back only
 * when it fits, so a failed edit leaves the set as it was.
 */
#include "tags.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "text.h"

struct tags {
    size_t len;
    uint8_t buf[SWIM_META_MAX];
};

/* A key: text (text.h) without '=' or ','. */
static int tags_key_ok(const char *key, size_t len)
{
    return len > 0 && len <= TAGS_KEY_MAX && text_valid(key, len) &&
           memchr(key, '=', len) == NULL && memchr(key, ',', len) == NULL;
}

static int tags_value_ok(const char *value, size_t len)
{
    return len <= TAGS_VALUE_MAX && text_valid(value, len);
}

/* Byte order on keys, the shorter first on a common prefix. */
static int tags_keycmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return (alen > blen) - (alen < blen);
}

int tags_decode_pair(struct tags_pair *out, const uint8_t **pos, const uint8_t *end)
{
    const uint8_t *p = *pos;
    if (p >= end)
        return ERR_TRUNC;
    uint8_t klen = *p++;
    if (klen == 0)
        return ERR_MALFORMED;
    if ((size_t)(end - p) < (size_t)klen + 1)
        return ERR_TRUNC;
    const uint8_t *key = p;
    p += klen;
    uint8_t vlen = *p++;
    if ((size_t)(end - p) < vlen)
        return ERR_TRUNC;
    const uint8_t *value = p;
    p += vlen;
    if (!tags_key_ok((const char *)key, klen) || !tags_value_ok((const char *)value, vlen))
        return ERR_MALFORMED;
    out->key = (const char *)key;
    out->klen = klen;
    out->value = (const char *)value;
    out->vlen = vlen;
    *pos = p;
    return 0;
}

int tags_encode_pair(uint8_t **pos, uint8_t *end, const struct tags_pair *in)
{
    if (in->klen == 0)
        return ERR_INVAL;
    size_t need = 2 + (size_t)in->klen + in->vlen;
    if ((size_t)(end - *pos) < need)
        return ERR_NOSPACE;
    uint8_t *p = *pos;
    *p++ = in->klen;
    memcpy(p, in->key, in->klen);
    p += in->klen;
    *p++ = in->vlen;
    if (in->vlen > 0)
        memcpy(p, in->value, in->vlen);
    p += in->vlen;
    *pos = p;
    return 0;
}

int tags_decode_all(struct tags_pair *out, size_t cap, size_t *count, const uint8_t *buf,
                    size_t len)
{
    *count = 0;
    if (len > SWIM_META_MAX)
        return ERR_TOOBIG;
    if (len == 0)
        return 0; /* buf may be NULL then (a member without tags) */
    const uint8_t *pos = buf, *end = buf + len;
    while (pos < end) {
        if (*count >= cap)
            return ERR_TOOBIG;
        struct tags_pair *pair = &out[*count];
        int rc = tags_decode_pair(pair, &pos, end);
        if (rc != 0)
            return rc;
        if (*count > 0) {
            const struct tags_pair *prev = &out[*count - 1];
            if (tags_keycmp(prev->key, prev->klen, pair->key, pair->klen) >= 0)
                return ERR_MALFORMED;
        }
        (*count)++;
    }
    return 0;
}

int tags_check_key(const char *key)
{
    return tags_key_ok(key, strnlen(key, TAGS_KEY_MAX + 1)) ? 0 : ERR_INVAL;
}

int tags_check_value(const char *value)
{
    return tags_value_ok(value, strnlen(value, TAGS_VALUE_MAX + 1)) ? 0 : ERR_INVAL;
}

struct tags *tags_new(void)
{
    return calloc(1, sizeof(struct tags));
}

void tags_delete(struct tags *t)
{
    free(t);
}

int tags_load(struct tags *t, const uint8_t *buf, size_t len)
{
    struct tags_pair pairs[TAGS_PAIRS_MAX];
    size_t n;
    int rc = tags_decode_all(pairs, TAGS_PAIRS_MAX, &n, buf, len);
    if (rc != 0)
        return rc;
    if (len > 0)
        memmove(t->buf, buf, len);
    t->len = len;
    return 0;
}

/*
 * Rebuild the block with `key` replaced by `value` (value NULL: removed).
 * *found reports whether the key was there.
 */
static int tags_rebuild(struct tags *t, const char *key, const char *value, int *found)
{
    struct tags_pair pairs[TAGS_PAIRS_MAX];
    size_t n;
    int rc = tags_decode_all(pairs, TAGS_PAIRS_MAX, &n, t->buf, t->len);
    if (rc != 0)
        return rc; /* cannot happen: the block is only ever set validated */
    uint8_t scratch[SWIM_META_MAX];
    uint8_t *pos = scratch, *end = scratch + sizeof(scratch);
    struct tags_pair mine = {key, (uint8_t)strlen(key), value, 0};
    if (value != NULL)
        mine.vlen = (uint8_t)strlen(value);
    int placed = 0;
    *found = 0;
    for (size_t i = 0; i <= n; i++) {
        int cmp = i < n ? tags_keycmp(pairs[i].key, pairs[i].klen, mine.key, mine.klen) : 1;
        if (cmp == 0)
            *found = 1;
        if (cmp >= 0 && !placed) {
            placed = 1;
            if (value != NULL && tags_encode_pair(&pos, end, &mine) != 0)
                return ERR_TOOBIG;
        }
        if (i < n && cmp != 0 && tags_encode_pair(&pos, end, &pairs[i]) != 0)
            return ERR_TOOBIG;
    }
    t->len = (size_t)(pos - scratch);
    memcpy(t->buf, scratch, t->len);
    return 0;
}

int tags_set(struct tags *t, const char *key, const char *value)
{
    if (tags_check_key(key) != 0 || tags_check_value(value) != 0)
        return ERR_INVAL;
    int found;
    return tags_rebuild(t, key, value, &found);
}

int tags_unset(struct tags *t, const char *key)
{
    if (tags_check_key(key) != 0)
        return ERR_NOTFOUND;
    struct tags saved = *t;
    int found;
    int rc = tags_rebuild(t, key, NULL, &found);
    if (rc != 0)
        return rc;
    if (!found) {
        *t = saved;
        return ERR_NOTFOUND;
    }
    return 0;
}

void tags_clear(struct tags *t)
{
    t->len = 0;
}

const uint8_t *tags_bytes(const struct tags *t, size_t *len)
{
    *len = t->len;
    return t->buf;
}

size_t tags_count(const struct tags *t)
{
    struct tags_pair pairs[TAGS_PAIRS_MAX];
    size_t n;
    if (tags_decode_all(pairs, TAGS_PAIRS_MAX, &n, t->buf, t->len) != 0)
        return 0;
    return n;
}

int tags_at(const struct tags *t, size_t i, struct tags_pair *out)
{
    const uint8_t *pos = t->buf, *end = t->buf + t->len;
    for (size_t k = 0; pos < end; k++) {
        if (tags_decode_pair(out, &pos, end) != 0)
            return ERR_NOTFOUND;
        if (k == i)
            return 0;
    }
    return ERR_NOTFOUND;
}

int tags_parse_kv(const char *text, char *key, char *value)
{
    const char *eq = strchr(text, '=');
    if (eq == NULL)
        return ERR_INVAL;
    size_t klen = (size_t)(eq - text);
    size_t vlen = strlen(eq + 1);
    if (klen == 0 || klen > TAGS_KEY_MAX || vlen > TAGS_VALUE_MAX)
        return ERR_INVAL;
    memcpy(key, text, klen);
    key[klen] = '\0';
    memcpy(value, eq + 1, vlen + 1);
    if (tags_check_key(key) != 0 || tags_check_value(value) != 0)
        return ERR_INVAL;
    return 0;
}
