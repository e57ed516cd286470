/*
 * http_req.h - the head of an HTTP/1.x request, checked as it arrives.
 *
 * Model: a pure parser (no I/O, no allocation, no libevent) for the
 * metrics endpoint's responder (metrics_http.c).  The caller reads into one
 * buffer and, after every read, calls http_req_parse() with the whole
 * buffer so far; the parser resumes where the last call stopped (struct
 * http_req carries its progress), so a head sent a byte at a time costs
 * linear work.  The answer is: complete and valid, incomplete (read more),
 * malformed, or too big (no end within `max` bytes).
 *
 * A head is a request line, METHOD SP TARGET SP "HTTP/1." DIGIT, then
 * header lines NAME ":" VALUE, then an empty line; every line ends in CRLF
 * or a bare LF (RFC 9112 2.2), and empty lines before the request line are
 * skipped.  METHOD is a token of at most HTTP_REQ_METHOD_MAX bytes, TARGET
 * visible ASCII.  Header lines are checked (NAME a token right before the
 * colon, no control byte but HTAB in a value, no obsolete line folding) but
 * not kept: the endpoint needs none of them.  A method that cannot be one is
 * refused from its first bad byte, without waiting for the line's end, so a
 * client speaking something else (a TLS hello) is answered at once.  Every
 * read of the buffer is bounds-checked; a NUL or any control byte but HTAB
 * in a line makes the head malformed (as soon as the line is complete).
 */
#ifndef AGENT_HTTP_REQ_H
#define AGENT_HTTP_REQ_H

#include <stddef.h>

/* Longest method accepted: the longest registered method has 17 bytes. */
#define HTTP_REQ_METHOD_MAX 32

struct http_req {
    /* The result, once http_req_parse() returned 0; pointers into buf. */
    const char *method; /* not NUL-terminated */
    size_t method_len;
    const char *path; /* the target's path, without query or fragment; */
    size_t path_len;  /* empty for the "*" and authority forms */
    int minor;        /* the d of HTTP/1.d */
    size_t head_len;  /* bytes of the head, its empty line included */
    /* Progress between calls (zeroed by http_req_init()). */
    size_t line; /* offset of the first line not checked yet */
    size_t seen; /* bytes from `line` on known to hold no line end */
    int have_request_line;
};

/* Start a new request.  Never fails. */
void http_req_init(struct http_req *r);

/*
 * Check buf[0..len) (only its first `max` bytes are looked at).  Each call
 * after the first must pass the same buffer with the bytes of the previous
 * call unchanged at its start.  Returns 0 (the head is complete and valid;
 * *r holds it), ERR_AGAIN (valid so far: read more), ERR_MALFORMED, or
 * ERR_TOOBIG (len >= max and no end of head in the first max bytes).  After
 * anything but ERR_AGAIN, *r is final.  Pure: no allocation, no I/O.
 */
int http_req_parse(struct http_req *r, const char *buf, size_t len, size_t max);

/* 1 when the parsed request's method is m exactly (methods are
 * case-sensitive), else 0. */
int http_req_method_is(const struct http_req *r, const char *m);
/* 1 when the parsed request's path is p exactly (no decoding: "/%6detrics"
 * is not "/metrics"), else 0. */
int http_req_path_is(const struct http_req *r, const char *p);

#endif /* AGENT_HTTP_REQ_H */
