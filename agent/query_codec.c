/*
 * query_codec.c - see query_codec.h: the query, ack and response codec.
 * Reads go through a cursor that checks the room before every read.
 */
#include "query_codec.h"

#include <stdbool.h>
#include <string.h>

#include "err.h"
#include "tags.h"
#include "text.h"

/* A bounded reader. */
struct qc_rd {
    const uint8_t *p, *end;
};

static int qc_u8(struct qc_rd *r, uint8_t *out)
{
    if (r->end - r->p < 1)
        return ERR_TRUNC;
    *out = *r->p++;
    return 0;
}

static int qc_u32(struct qc_rd *r, uint32_t *out)
{
    if (r->end - r->p < 4)
        return ERR_TRUNC;
    *out = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    return 0;
}

/* | u8 len | bytes |, len in 1..max. */
static int qc_bytes(struct qc_rd *r, struct query_bytes *out, size_t max)
{
    uint8_t n;
    int rc = qc_u8(r, &n);
    if (rc != 0)
        return rc;
    if (n == 0 || n > max)
        return ERR_MALFORMED;
    if (r->end - r->p < n)
        return ERR_TRUNC;
    out->ptr = (const char *)r->p;
    out->len = n;
    r->p += n;
    return 0;
}

/* A bounded writer; 0 or ERR_TOOBIG. */
struct qc_wr {
    uint8_t *p, *end;
};

static int qc_put(struct qc_wr *w, const void *src, size_t n)
{
    if (n == 0)
        return 0;
    if ((size_t)(w->end - w->p) < n)
        return ERR_TOOBIG;
    memcpy(w->p, src, n);
    w->p += n;
    return 0;
}

static int qc_put_u8(struct qc_wr *w, uint8_t v)
{
    return qc_put(w, &v, 1);
}

static int qc_put_u32(struct qc_wr *w, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return qc_put(w, b, 4);
}

static int qc_put_bytes(struct qc_wr *w, const struct query_bytes *b)
{
    int rc = qc_put_u8(w, (uint8_t)b->len);
    return rc != 0 ? rc : qc_put(w, b->ptr, b->len);
}

/* Past the bracket expression opening at p[i] == '[': the index of its
 * closing ']' (len when it has none: regcomp() refuses it).  A ']' first
 * (or after '^') is a member, and [:class:], [.coll.] and [=equiv=] may
 * hold one; a backslash inside is an ordinary character. */
static size_t qc_bracket_end(const char *p, size_t len, size_t i)
{
    size_t j = i + 1;
    if (j < len && p[j] == '^')
        j++;
    if (j < len && p[j] == ']')
        j++;
    while (j < len && p[j] != ']') {
        if (p[j] == '[' && j + 1 < len && (p[j + 1] == ':' || p[j + 1] == '.' || p[j + 1] == '=')) {
            char c = p[j + 1];
            for (j += 2; j + 1 < len && !(p[j] == c && p[j + 1] == ']'); j++)
                ;
            j += 2;
        } else {
            j++;
        }
    }
    return j < len ? j : len;
}

/* The repetition count opening at p[*i] == '{': its cost (the largest
 * count, or m + 1 for an open {m,}), with *i moved to its '}'; -1 when
 * p[*i..] is not a count. */
static long qc_count(const char *p, size_t len, size_t *i)
{
    unsigned long n[2] = {0, 0};
    int digits[2] = {0, 0}, part = 0;
    size_t j;
    for (j = *i + 1; j < len && p[j] != '}'; j++) {
        if (p[j] == ',' && part == 0) {
            part = 1;
        } else if (p[j] >= '0' && p[j] <= '9') {
            n[part] = n[part] * 10 + (unsigned long)(p[j] - '0');
            if (n[part] > 65535)
                return -1; /* beyond RE_DUP_MAX anyway */
            digits[part] = 1;
        } else {
            return -1;
        }
    }
    if (j == len || (!digits[0] && !digits[1]))
        return -1;
    *i = j;
    if (part == 0)
        return (long)n[0];
    if (!digits[1])
        return (long)n[0] + 1;
    return (long)(n[1] > n[0] ? n[1] : n[0]);
}

/* Repetitions one atom may nest: a repeated group holding a repetition
 * holding a repetition (((a*){0,5}){0,5}+, 17 bytes) makes glibc's
 * regcomp() exponential in the counts (over 20 minutes for a 40-byte
 * pattern the fuzzer found) though it expands to few positions. */
#define QC_NESTED_MAX 2

/* One parenthesised group (or the whole pattern) being sized: positions
 * so far, and those of its last atom, which a repetition applies to. */
struct qc_group {
    unsigned long size, last;
    /* Repetitions nested in the last atom (stacked ones count too: glibc
     * builds x{2}+ as (x{2})+), and the most in any atom of the group. */
    unsigned qlast, qmax;
};

/* Repeat the current group's last atom k times over (k >= 1). */
static void qc_repeat(struct qc_group *g, unsigned long k)
{
    g->size += g->last * (k - 1);
    g->last *= k;
}

/* Close group g into its parent: the group is the parent's last atom. */
static void qc_close(struct qc_group *parent, const struct qc_group *g)
{
    parent->last = g->size > 0 ? g->size : 1;
    parent->size += parent->last;
    parent->qlast = g->qmax;
}

int query_pattern_ok(const char *p, size_t len)
{
    struct qc_group stack[QUERY_PATTERN_MAX + 1];
    size_t depth = 0;
    if (p == NULL || len == 0 || len > QUERY_PATTERN_MAX || memchr(p, '\0', len) != NULL)
        return 0;
    memset(&stack[0], 0, sizeof(stack[0]));
    for (size_t i = 0; i < len; i++) {
        struct qc_group *g = &stack[depth];
        long k = 1;
        if (p[i] == '\\' && i + 1 < len && p[i + 1] >= '1' && p[i + 1] <= '9')
            return 0; /* a back-reference */
        if (p[i] == '(') {
            memset(&stack[++depth], 0, sizeof(stack[0]));
            continue;
        }
        bool repeat = true;
        if (p[i] == ')' && depth > 0) {
            qc_close(&stack[depth - 1], g);
            depth--;
            repeat = false;
        } else if (p[i] == '|') {
            g->last = 0; /* an alternative's positions add up */
            g->qlast = 0;
            repeat = false;
        } else if (p[i] == '+') {
            k = 2; /* glibc builds x+ as x x* */
        } else if (p[i] == '{') {
            k = qc_count(p, len, &i);
            if (k < 0)
                return 0;
        } else if (p[i] != '*' && p[i] != '?') {
            if (p[i] == '\\')
                i++; /* the escaped character stands for itself */
            else if (p[i] == '[')
                i = qc_bracket_end(p, len, i);
            g->last = 1;
            g->qlast = 0;
            g->size++;
            repeat = false;
        }
        if (repeat) {
            g = &stack[depth];
            if (++g->qlast > QC_NESTED_MAX)
                return 0;
            g->qmax = g->qlast > g->qmax ? g->qlast : g->qmax;
        }
        if (k > 1)
            qc_repeat(&stack[depth], (unsigned long)k);
        if (stack[depth].size > QUERY_PATTERN_SIZE_MAX)
            return 0;
    }
    while (depth > 0) { /* unclosed: regcomp() refuses it, but size it anyway */
        qc_close(&stack[depth - 1], &stack[depth]);
        depth--;
        if (stack[depth].size > QUERY_PATTERN_SIZE_MAX)
            return 0;
    }
    return 1;
}

int query_is_ours(const uint8_t *buf, size_t len)
{
    return buf != NULL && len >= 1 && buf[0] == QUERY_MARKER;
}

/* The values both directions check. */
static int qc_name_ok(const struct query_bytes *n)
{
    return n->ptr != NULL && n->len >= 1 && n->len <= QUERY_NAME_MAX && text_valid(n->ptr, n->len);
}

static int qc_filter_ok(const struct query_tag_filter *t)
{
    return t->key.ptr != NULL && t->key.len >= 1 && t->key.len <= TAGS_KEY_MAX &&
           query_pattern_ok(t->pattern.ptr, t->pattern.len);
}

static int qc_limits_ok(const struct query_msg *m)
{
    return m->relay_factor <= SWIM_DIRECT_RELAY_MAX && m->timeout_ms > 0 &&
           m->timeout_ms <= QUERY_TIMEOUT_MAX_MS;
}

/* The header, the filters and the name (the payload is the rest). */
static int qc_msg_fields(struct query_msg *m, struct qc_rd *r)
{
    uint8_t marker, kind, count;
    int rc;
    if ((rc = qc_u8(r, &marker)) != 0 || (rc = qc_u8(r, &kind)) != 0)
        return rc;
    if (marker != QUERY_MARKER || kind != QUERY_KIND_QUERY)
        return ERR_MALFORMED;
    if ((rc = qc_u32(r, &m->id)) != 0 || (rc = qc_u8(r, &m->flags)) != 0 ||
        (rc = qc_u8(r, &m->relay_factor)) != 0 || (rc = qc_u32(r, &m->timeout_ms)) != 0)
        return rc;
    if (!qc_limits_ok(m))
        return ERR_MALFORMED;
    if ((rc = qc_u8(r, &count)) != 0)
        return rc;
    if (count > QUERY_NODES_MAX)
        return ERR_TOOBIG;
    for (m->node_count = 0; m->node_count < count; m->node_count++) {
        struct query_bytes *n = &m->nodes[m->node_count];
        if ((rc = qc_bytes(r, n, SWIM_NAME_MAX)) != 0)
            return rc;
        if (!swim_name_valid(n->ptr, n->len))
            return ERR_MALFORMED;
    }
    if ((rc = qc_u8(r, &count)) != 0)
        return rc;
    if (count > QUERY_TAGS_MAX)
        return ERR_TOOBIG;
    for (m->tag_count = 0; m->tag_count < count; m->tag_count++) {
        struct query_tag_filter *t = &m->tags[m->tag_count];
        if ((rc = qc_bytes(r, &t->key, TAGS_KEY_MAX)) != 0 ||
            (rc = qc_bytes(r, &t->pattern, QUERY_PATTERN_MAX)) != 0)
            return rc;
        if (!query_pattern_ok(t->pattern.ptr, t->pattern.len))
            return ERR_MALFORMED;
    }
    if ((rc = qc_bytes(r, &m->name, QUERY_NAME_MAX)) != 0)
        return rc;
    return qc_name_ok(&m->name) ? 0 : ERR_MALFORMED;
}

int query_msg_decode(struct query_msg *out, const uint8_t *buf, size_t len)
{
    struct qc_rd r = {buf, buf + len};
    struct query_msg m;
    memset(&m, 0, sizeof(m));
    if (buf == NULL)
        return ERR_TRUNC;
    int rc = qc_msg_fields(&m, &r);
    if (rc != 0)
        return rc;
    m.payload = r.p;
    m.len = (size_t)(r.end - r.p);
    *out = m;
    return 0;
}

int query_msg_encode(uint8_t *buf, size_t cap, const struct query_msg *in, size_t *len)
{
    struct qc_wr w = {buf, buf + cap};
    if (!qc_limits_ok(in) || !qc_name_ok(&in->name) || in->node_count > QUERY_NODES_MAX ||
        in->tag_count > QUERY_TAGS_MAX || (in->len > 0 && in->payload == NULL))
        return ERR_INVAL;
    for (size_t i = 0; i < in->node_count; i++)
        if (in->nodes[i].ptr == NULL || !swim_name_valid(in->nodes[i].ptr, in->nodes[i].len))
            return ERR_INVAL;
    for (size_t i = 0; i < in->tag_count; i++)
        if (!qc_filter_ok(&in->tags[i]))
            return ERR_INVAL;
    int rc = qc_put_u8(&w, QUERY_MARKER);
    rc = rc != 0 ? rc : qc_put_u8(&w, QUERY_KIND_QUERY);
    rc = rc != 0 ? rc : qc_put_u32(&w, in->id);
    rc = rc != 0 ? rc : qc_put_u8(&w, in->flags);
    rc = rc != 0 ? rc : qc_put_u8(&w, in->relay_factor);
    rc = rc != 0 ? rc : qc_put_u32(&w, in->timeout_ms);
    rc = rc != 0 ? rc : qc_put_u8(&w, (uint8_t)in->node_count);
    for (size_t i = 0; rc == 0 && i < in->node_count; i++)
        rc = qc_put_bytes(&w, &in->nodes[i]);
    rc = rc != 0 ? rc : qc_put_u8(&w, (uint8_t)in->tag_count);
    for (size_t i = 0; rc == 0 && i < in->tag_count; i++) {
        rc = qc_put_bytes(&w, &in->tags[i].key);
        rc = rc != 0 ? rc : qc_put_bytes(&w, &in->tags[i].pattern);
    }
    rc = rc != 0 ? rc : qc_put_bytes(&w, &in->name);
    rc = rc != 0 ? rc : qc_put(&w, in->payload, in->len);
    if (rc != 0)
        return rc;
    *len = (size_t)(w.p - buf);
    return 0;
}

int query_reply_decode(struct query_reply *out, const uint8_t *buf, size_t len)
{
    struct qc_rd r = {buf, buf + len};
    struct query_reply m;
    uint8_t marker;
    int rc;
    memset(&m, 0, sizeof(m));
    if (buf == NULL)
        return ERR_TRUNC;
    if ((rc = qc_u8(&r, &marker)) != 0 || (rc = qc_u8(&r, &m.kind)) != 0 ||
        (rc = qc_u32(&r, &m.id)) != 0 || (rc = qc_u8(&r, &m.flags)) != 0)
        return rc;
    if (marker != QUERY_MARKER || (m.kind != QUERY_KIND_ACK && m.kind != QUERY_KIND_RESPONSE) ||
        (m.kind == QUERY_KIND_ACK && r.p != r.end))
        return ERR_MALFORMED;
    m.payload = r.p;
    m.len = (size_t)(r.end - r.p);
    if (m.len > QUERY_RESPONSE_MAX)
        return ERR_TOOBIG;
    *out = m;
    return 0;
}

int query_reply_encode(uint8_t *buf, size_t cap, const struct query_reply *in, size_t *len)
{
    struct qc_wr w = {buf, buf + cap};
    if ((in->kind != QUERY_KIND_ACK && in->kind != QUERY_KIND_RESPONSE) ||
        in->len > QUERY_RESPONSE_MAX || (in->kind == QUERY_KIND_ACK && in->len > 0) ||
        (in->len > 0 && in->payload == NULL))
        return ERR_INVAL;
    int rc = qc_put_u8(&w, QUERY_MARKER);
    rc = rc != 0 ? rc : qc_put_u8(&w, in->kind);
    rc = rc != 0 ? rc : qc_put_u32(&w, in->id);
    rc = rc != 0 ? rc : qc_put_u8(&w, in->kind == QUERY_KIND_ACK ? 0 : in->flags);
    rc = rc != 0 ? rc : qc_put(&w, in->payload, in->len);
    if (rc != 0)
        return rc;
    *len = (size_t)(w.p - buf);
    return 0;
}
