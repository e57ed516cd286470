/*
 * evtype.c - see evtype.h.  One list parser serves both entrances: a
 * watcher's list (every type, no user:NAME) and a handler's TYPES (member
 * types, user and user:NAME); they differ only in what they allow.
 */
#include "evtype.h"

#include <stdio.h>
#include <string.h>

#include "err.h"

/* The prefix of a user event name filter in a handler's TYPES, and of a
 * query name filter. */
#define EV_USER_PREFIX "user:"
#define EV_USER_PREFIX_LEN (sizeof(EV_USER_PREFIX) - 1)
#define EV_QUERY_PREFIX "query:"
#define EV_QUERY_PREFIX_LEN (sizeof(EV_QUERY_PREFIX) - 1)
/* How much of a bad item a message quotes. */
#define EV_QUOTE_MAX 40
/* The list of allowed names in a message: every type name and ", ". */
#define EV_NAMES_TEXT_MAX ((EV_TYPE_NAME_MAX + 2) * (EV_TYPE_LAST + 1))

const char *ev_type_name(enum ev_type t)
{
    if ((int)t < EV_MEMBER_JOIN || (int)t > EV_TYPE_LAST || (int)t == EV_NOT_A_TYPE)
        return "unknown";
    if (t == EV_QUERY)
        return "query";
    return swim_event_name((enum swim_event)t);
}

int ev_type_parse(const char *name, enum ev_type *out)
{
    if (name == NULL)
        return ERR_NOTFOUND;
    for (int t = EV_MEMBER_JOIN; t <= EV_TYPE_LAST; t++) {
        if (t != EV_NOT_A_TYPE && strcmp(name, ev_type_name((enum ev_type)t)) == 0) {
            *out = (enum ev_type)t;
            return 0;
        }
    }
    return ERR_NOTFOUND;
}

int ev_type_from_swim(enum swim_event e, enum ev_type *out)
{
    if ((int)e < EV_MEMBER_JOIN || (int)e >= EV_NOT_A_TYPE)
        return ERR_INVAL;
    *out = (enum ev_type)e;
    return 0;
}

/* "name, name, ..." for the types in mask, then ", user:NAME" when names
 * are allowed: what an "unknown event type" message offers instead. */
static void ev_names_text(uint32_t mask, int user_names, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int t = EV_MEMBER_JOIN; t <= EV_TYPE_LAST && len < cap; t++)
        if (mask & EV_MASK(t))
            len += (size_t)snprintf(buf + len, cap - len, "%s%s", len > 0 ? ", " : "",
                                    ev_type_name((enum ev_type)t));
    if (user_names && len < cap)
        snprintf(buf + len, cap - len, ", " EV_USER_PREFIX "NAME, " EV_QUERY_PREFIX "NAME");
}

/* One "user:NAME" or "query:NAME" item (n bytes at p, prefix plen bytes)
 * into spec's filters of that kind. */
static int ev_name_add(struct ev_handler_spec *spec, const char *p, size_t n, size_t plen,
                       char *err, size_t errlen)
{
    int query = plen == EV_QUERY_PREFIX_LEN;
    size_t *count = query ? &spec->query_count : &spec->user_count;
    char(*names)[EV_USER_NAME_MAX + 1] = query ? spec->query_names : spec->user_names;
    const char *kind = query ? "query" : "user event";
    size_t nlen = n - plen;
    if (nlen == 0) {
        snprintf(err, errlen, "\"%.*s\" needs a %s name", (int)plen, p, kind);
        return ERR_INVAL;
    }
    if (nlen > EV_USER_NAME_MAX) {
        snprintf(err, errlen, "%s name longer than %d bytes", kind, EV_USER_NAME_MAX);
        return ERR_INVAL;
    }
    if (*count >= EV_SPEC_USER_NAMES_MAX) {
        snprintf(err, errlen, "more than %d %.*sNAME filters", EV_SPEC_USER_NAMES_MAX, (int)plen,
                 p);
        return ERR_INVAL;
    }
    memcpy(names[*count], p + plen, nlen);
    names[*count][nlen] = '\0';
    (*count)++;
    return 0;
}

/*
 * The comma list p[0..len) into *mask.  allowed: the types it may name;
 * spec: where user:NAME items go (NULL: they are not allowed).
 */
static int ev_list_parse(const char *p, size_t len, uint32_t allowed, struct ev_handler_spec *spec,
                         uint32_t *mask, char *err, size_t errlen)
{
    const char *end = p + len;
    uint32_t m = 0;
    /* One item per pass; each pass moves p past at least one byte. */
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma != NULL ? comma : end;
        size_t n = (size_t)(stop - p);
        char item[EV_TYPE_NAME_MAX + 1];
        enum ev_type t;
        if (n == 0) {
            snprintf(err, errlen, "empty event type in \"%.*s\"", (int)len, end - len);
            return ERR_INVAL;
        }
        if (spec != NULL && n >= EV_USER_PREFIX_LEN &&
            memcmp(p, EV_USER_PREFIX, EV_USER_PREFIX_LEN) == 0) {
            int rc = ev_name_add(spec, p, n, EV_USER_PREFIX_LEN, err, errlen);
            if (rc != 0)
                return rc;
        } else if (spec != NULL && n >= EV_QUERY_PREFIX_LEN &&
                   memcmp(p, EV_QUERY_PREFIX, EV_QUERY_PREFIX_LEN) == 0) {
            int rc = ev_name_add(spec, p, n, EV_QUERY_PREFIX_LEN, err, errlen);
            if (rc != 0)
                return rc;
        } else {
            if (n <= EV_TYPE_NAME_MAX) {
                memcpy(item, p, n);
                item[n] = '\0';
            }
            if (n > EV_TYPE_NAME_MAX || ev_type_parse(item, &t) != 0 ||
                (EV_MASK(t) & allowed) == 0) {
                char names[EV_NAMES_TEXT_MAX];
                ev_names_text(allowed, spec != NULL, names, sizeof(names));
                snprintf(err, errlen, "unknown event type \"%.*s\" (%s)",
                         (int)(n < EV_QUOTE_MAX ? n : EV_QUOTE_MAX), p, names);
                return ERR_INVAL;
            }
            m |= EV_MASK(t);
        }
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    *mask = m;
    return 0;
}

int ev_types_parse(const char *text, uint32_t *mask, char *err, size_t errlen)
{
    if (text == NULL || mask == NULL) {
        snprintf(err, errlen, "no type list");
        return ERR_INVAL;
    }
    return ev_list_parse(text, strlen(text), EV_MASK_ALL, NULL, mask, err, errlen);
}

static int ev_is_list_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c != '\0' && strchr("-,:_.", c));
}

int ev_handler_spec_parse(const char *text, struct ev_handler_spec *out, char *err, size_t errlen)
{
    if (text == NULL || out == NULL) {
        snprintf(err, errlen, "no event handler");
        return ERR_INVAL;
    }
    memset(out, 0, sizeof(*out));
    const char *cmd = text;
    const char *eq = strchr(text, '=');
    if (eq == text) {
        snprintf(err, errlen, "\"%.60s\": empty type list before '='", text);
        return ERR_INVAL;
    }
    int has_types = eq != NULL;
    for (const char *p = text; has_types && p < eq; p++)
        has_types = ev_is_list_char(*p);
    if (has_types) {
        int rc = ev_list_parse(text, (size_t)(eq - text), EV_MASK_HANDLER_ALLOWED, out, &out->types,
                               err, errlen);
        if (rc != 0)
            return rc;
        cmd = eq + 1;
    } else {
        out->types = EV_MASK_HANDLER;
    }
    size_t clen = strlen(cmd);
    if (strspn(cmd, " \t") == clen) {
        snprintf(err, errlen, "\"%.60s\": empty command", text);
        return ERR_INVAL;
    }
    if (clen >= EV_SPEC_MAX) {
        snprintf(err, errlen, "command longer than %d bytes", EV_SPEC_MAX - 1);
        return ERR_INVAL;
    }
    memcpy(out->command, cmd, clen + 1);
    return 0;
}

int ev_handler_spec_matches(const struct ev_handler_spec *spec, enum ev_type type,
                            const char *user_name)
{
    if ((int)type < EV_MEMBER_JOIN || (int)type > EV_TYPE_LAST)
        return 0;
    if (spec->types & EV_MASK(type))
        return 1;
    if ((type != EV_USER && type != EV_QUERY) || user_name == NULL)
        return 0;
    size_t count = type == EV_USER ? spec->user_count : spec->query_count;
    const char(*names)[EV_USER_NAME_MAX + 1] =
        type == EV_USER ? spec->user_names : spec->query_names;
    for (size_t i = 0; i < count && i < EV_SPEC_USER_NAMES_MAX; i++)
        if (strcmp(names[i], user_name) == 0)
            return 1;
    return 0;
}
