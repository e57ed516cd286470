/*
 * err.h - the one list of error codes shared by every swimd module.
 *
 * Model: a function that can fail returns int: 0 on success or one of the
 * negative ERR_* codes below (allocators return NULL instead).  The list is an
 * X-macro so the enum and err_strerror() can never drift apart.  Header-only
 * and free of state, so the pure libraries (swim/, dispatch/, backplane/) can
 * include it without gaining a dependency.
 */
#ifndef SWIMD_ERR_H
#define SWIMD_ERR_H

#define ERR_MAP(X)                                                                                 \
    X(NOMEM, -1, "out of memory")                                                                  \
    X(INVAL, -2, "invalid argument")                                                               \
    X(TRUNC, -3, "input truncated")                                                                \
    X(VERSION, -4, "unsupported wire version")                                                     \
    X(MALFORMED, -5, "malformed input")                                                            \
    X(TOOBIG, -6, "value too large")                                                               \
    X(NOTFOUND, -7, "not found")                                                                   \
    X(EXISTS, -8, "already exists")                                                                \
    X(STATE, -9, "operation not valid in this state")                                              \
    X(STALE, -10, "stale handle")                                                                  \
    X(FULL, -11, "queue full")                                                                     \
    X(AGAIN, -12, "nothing ready, try again")                                                      \
    X(CLOSED, -13, "closed")                                                                       \
    X(TIMEOUT, -14, "timed out")                                                                   \
    X(LAGGED, -15, "receiver lagged behind")                                                       \
    X(CRYPTO, -16, "authentication or decryption failed")                                          \
    X(IO, -17, "input/output error")                                                               \
    X(SYS, -18, "system call failed")                                                              \
    X(NOSPACE, -19, "buffer too small")                                                            \
    X(LIMIT, -20, "limit reached")

enum err_code {
    ERR_OK = 0,
#define ERR_ENUM_(name, value, text) ERR_##name = (value),
    ERR_MAP(ERR_ENUM_)
#undef ERR_ENUM_
};

/* Human text for a code from the list; never NULL, never allocates. */
static inline const char *err_strerror(int code)
{
    switch (code) {
    case ERR_OK:
        return "success";
#define ERR_CASE_(name, value, text)                                                               \
    case (value):                                                                                  \
        return (text);
        ERR_MAP(ERR_CASE_)
#undef ERR_CASE_
    default:
        return "unknown error";
    }
}

#endif /* SWIMD_ERR_H */
