/*
 * http_req.c - see http_req.h.
 *
 * The buffer is walked one line at a time.  r->line is where the first line
 * not checked yet starts; r->seen how many of its bytes are already known to
 * hold no LF, so the search for the line's end resumes where the last call
 * left it.  A complete line is checked whole (the request line, a header
 * line, or the empty line that ends the head) and r->line moves past it; an
 * incomplete request line has only its method checked, a bounded amount of
 * work per call.
 */
#include "http_req.h"

#include <string.h>

#include "err.h"

/* A byte of a token (RFC 9110 5.6.2): letters, digits, !#$%&'*+-.^_`|~. */
static int http_req_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A visible ASCII byte: what a request target is made of. */
static int http_req_vchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

/* A byte a header value may hold: HTAB, SP, visible ASCII, obs-text. */
static int http_req_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int http_req_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* The path of target t[0..n): from its start (origin form "/...") or from
 * the first '/' after the authority (absolute form "http://host/..."), up to
 * '?' or '#'; empty for any other form. */
static void http_req_path(struct http_req *r, const char *t, size_t n)
{
    size_t start = n;
    if (n > 0 && t[0] == '/') {
        start = 0;
    } else if (n > 0 && http_req_alpha((unsigned char)t[0])) {
        size_t i = 1; /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
        while (i < n && (http_req_alpha((unsigned char)t[i]) || (t[i] >= '0' && t[i] <= '9') ||
                         t[i] == '+' || t[i] == '-' || t[i] == '.'))
            i++;
        if (n - i >= 3 && memcmp(t + i, "://", 3) == 0) {
            for (i += 3; i < n && t[i] != '/' && t[i] != '?' && t[i] != '#'; i++)
                ;
            start = i;
        }
    }
    size_t end = start;
    while (end < n && t[end] != '?' && t[end] != '#')
        end++;
    r->path = t + start;
    r->path_len = end - start;
}

/* The request line s[0..e) (its line end removed).  When it is not complete
 * yet (more may follow e), only the method is checked: ERR_AGAIN while it
 * may still become one. */
static int http_req_line(struct http_req *r, const char *s, const char *e, int complete)
{
    const char *p = s;
    while (p < e && (size_t)(p - s) <= HTTP_REQ_METHOD_MAX && http_req_tchar((unsigned char)*p))
        p++;
    size_t mlen = (size_t)(p - s);
    if (mlen > HTTP_REQ_METHOD_MAX)
        return ERR_MALFORMED;
    if (p == e)
        return complete ? ERR_MALFORMED : ERR_AGAIN;
    if (mlen == 0 || *p != ' ')
        return ERR_MALFORMED;
    if (!complete)
        return ERR_AGAIN;
    const char *t = ++p;
    while (p < e && http_req_vchar((unsigned char)*p))
        p++;
    if (p == t || p == e || *p != ' ')
        return ERR_MALFORMED;
    const char *t_end = p++;
    static const char version[] = "HTTP/1.";
    size_t vlen = sizeof(version) - 1;
    if ((size_t)(e - p) != vlen + 1 || memcmp(p, version, vlen) != 0 || p[vlen] < '0' ||
        p[vlen] > '9')
        return ERR_MALFORMED;
    r->method = s;
    r->method_len = mlen;
    r->minor = p[vlen] - '0';
    http_req_path(r, t, (size_t)(t_end - t));
    return 0;
}

/* One header line s[0..e), not empty: NAME ":" VALUE. */
static int http_req_header(const char *s, const char *e)
{
    const char *p = s;
    while (p < e && http_req_tchar((unsigned char)*p))
        p++;
    if (p == s || p == e || *p != ':')
        return ERR_MALFORMED; /* also a line folded onto the last (it starts with SP or HTAB) */
    for (p++; p < e; p++)
        if (!http_req_value_char((unsigned char)*p))
            return ERR_MALFORMED;
    return 0;
}

void http_req_init(struct http_req *r)
{
    memset(r, 0, sizeof(*r));
}

int http_req_parse(struct http_req *r, const char *buf, size_t len, size_t max)
{
    size_t n = len < max ? len : max;
    while (r->line < n) {
        const char *s = buf + r->line;
        size_t avail = n - r->line;
        const char *nl = r->seen < avail ? memchr(s + r->seen, '\n', avail - r->seen) : NULL;
        if (nl == NULL) {
            r->seen = avail;
            /* An incomplete request line: its method can be refused now.
             * A lone CR may be the start of an empty line's CRLF. */
            if (!r->have_request_line && !(avail == 1 && s[0] == '\r')) {
                int rc = http_req_line(r, s, buf + n, 0);
                if (rc != ERR_AGAIN)
                    return rc;
            }
            break;
        }
        const char *e = nl;
        if (e > s && e[-1] == '\r')
            e--;
        size_t next = (size_t)(nl + 1 - buf);
        int rc = 0;
        if (e == s && r->have_request_line) {
            r->line = r->head_len = next;
            return 0;
        }
        if (e == s)
            rc = 0; /* an empty line before the request line: skipped */
        else if (!r->have_request_line)
            r->have_request_line = (rc = http_req_line(r, s, e, 1)) == 0;
        else
            rc = http_req_header(s, e);
        if (rc != 0)
            return rc;
        r->line = next;
        r->seen = 0;
    }
    return len >= max ? ERR_TOOBIG : ERR_AGAIN;
}

int http_req_method_is(const struct http_req *r, const char *m)
{
    size_t n = strlen(m);
    return r->method_len == n && memcmp(r->method, m, n) == 0;
}

int http_req_path_is(const struct http_req *r, const char *p)
{
    size_t n = strlen(p);
    return r->path_len == n && memcmp(r->path, p, n) == 0;
}
