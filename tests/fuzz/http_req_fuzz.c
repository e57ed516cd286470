/*
 * http_req_fuzz.c - libFuzzer target for the metrics endpoint's request
 * head parser (agent/http_req.c), as a client's bytes reach it.
 *
 * Contract, for any bytes and two bounds (the endpoint's and a small one,
 * so the size limit is met often): the verdict is one of the four; "read
 * more" only below the bound and "too big" only at it; a complete head lies
 * within the bound, ends in LF, holds no NUL, and its method (a token of at
 * most HTTP_REQ_METHOD_MAX bytes) and path lie inside it; and feeding the
 * same bytes in pieces, as reads would, gives the same verdict and the same
 * fields as feeding them at once.
 */
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "fuzz.h"
#include "http_req.h"

/* The endpoint's bound (METRICS_HTTP_HEADERS_MAX) and a small one. */
#define HTTP_FUZZ_MAX 8192
#define HTTP_FUZZ_SMALL 64

static void http_fuzz_check(const char *buf, size_t size, size_t max, int rc,
                            const struct http_req *r)
{
    FUZZ_CHECK(rc == 0 || rc == ERR_AGAIN || rc == ERR_MALFORMED || rc == ERR_TOOBIG);
    FUZZ_CHECK(rc != ERR_AGAIN || size < max);
    FUZZ_CHECK(rc != ERR_TOOBIG || size >= max);
    if (rc != 0)
        return;
    FUZZ_CHECK(r->head_len > 0 && r->head_len <= size && r->head_len <= max);
    FUZZ_CHECK(buf[r->head_len - 1] == '\n');
    FUZZ_CHECK(memchr(buf, '\0', r->head_len) == NULL);
    FUZZ_CHECK(r->method_len >= 1 && r->method_len <= HTTP_REQ_METHOD_MAX);
    FUZZ_CHECK(r->method >= buf && r->method + r->method_len <= buf + r->head_len);
    for (size_t i = 0; i < r->method_len; i++)
        FUZZ_CHECK((unsigned char)r->method[i] > 0x20 && (unsigned char)r->method[i] < 0x7f);
    FUZZ_CHECK(r->path >= buf && r->path + r->path_len <= buf + r->head_len);
    FUZZ_CHECK(memchr(r->path, ' ', r->path_len) == NULL);
    FUZZ_CHECK(r->minor >= 0 && r->minor <= 9);
}

/* The same bytes fed in pieces of 1, 2, 3, ... bytes (a read each). */
static int http_fuzz_pieces(struct http_req *r, const char *buf, size_t size, size_t max)
{
    http_req_init(r);
    int rc = ERR_AGAIN;
    size_t len = 0;
    for (size_t step = 1; rc == ERR_AGAIN && len < size; step++) {
        len = size - len < step ? size : len + step;
        rc = http_req_parse(r, buf, len, max);
    }
    return size == 0 ? http_req_parse(r, buf, 0, max) : rc;
}

static void http_fuzz_one(const char *buf, size_t size, size_t max)
{
    struct http_req whole, pieces;
    http_req_init(&whole);
    int rc = http_req_parse(&whole, buf, size, max);
    http_fuzz_check(buf, size, max, rc, &whole);
    FUZZ_CHECK(http_fuzz_pieces(&pieces, buf, size, max) == rc);
    if (rc == 0) {
        FUZZ_CHECK(pieces.head_len == whole.head_len && pieces.minor == whole.minor);
        FUZZ_CHECK(pieces.method == whole.method && pieces.method_len == whole.method_len);
        FUZZ_CHECK(pieces.path == whole.path && pieces.path_len == whole.path_len);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 2 * HTTP_FUZZ_MAX)
        return 0;
    http_fuzz_one((const char *)data, size, HTTP_FUZZ_MAX);
    http_fuzz_one((const char *)data, size, HTTP_FUZZ_SMALL);
    return 0;
}
