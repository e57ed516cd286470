/*
 * snapshot.c - see snapshot.h for the model and the file format.
 *
 * Validation is strict because the file is ours: an unknown key, a missing
 * one, a number out of range or a member listed twice means the file is not
 * something we wrote, and rejoining from half of it would be worse than
 * starting fresh.  Duplicate detection sorts an index of the names, so a
 * snapshot of SNAP_MEMBERS_MAX members costs n log n, not n squared.
 */
#include "snapshot.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "regfile.h"

/* First size of the member array; it doubles as members are added. */
#define SNAP_INITIAL_CAP 16
/* Numeric addresses resolve to one socket address; room for a stray second. */
#define SNAP_ADDR_RESOLVE_MAX 2

struct snap {
    char name[SWIM_NAME_MAX + 1];
    uint64_t generation;
    uint32_t incarnation;
    size_t count, cap;
    struct snap_member *members;
};

static const char *const snap_status_names[] = {
    [SWIM_ALIVE] = "alive",
    [SWIM_SUSPECT] = "suspect",
    [SWIM_FAILED] = "failed",
    [SWIM_LEFT] = "left",
};

struct snap *snap_new(void)
{
    return calloc(1, sizeof(struct snap));
}

void snap_delete(struct snap *s)
{
    if (s == NULL)
        return;
    free(s->members);
    free(s);
}

static int snap_name_ok(const char *name)
{
    return name != NULL && swim_name_valid(name, strnlen(name, SWIM_NAME_MAX + 1));
}

/* A numeric HOST:PORT that resolves without DNS: what rejoin will need. */
static int snap_addr_ok(const char *addr)
{
    struct sockaddr_storage ss[SNAP_ADDR_RESOLVE_MAX];
    size_t n = 0;
    if (addr == NULL || strnlen(addr, ADDR_TEXT_MAX) >= ADDR_TEXT_MAX)
        return 0;
    return addr_resolve(addr, -1, 1, ss, SNAP_ADDR_RESOLVE_MAX, &n) == 0 && n >= 1;
}

static int snap_status_ok(enum swim_status st)
{
    return (int)st >= SWIM_ALIVE && (int)st <= SWIM_LEFT;
}

int snap_set_self(struct snap *s, const char *name, uint64_t generation, uint32_t incarnation)
{
    if (s == NULL || !snap_name_ok(name) || generation > SNAP_GENERATION_MAX)
        return ERR_INVAL;
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->generation = generation;
    s->incarnation = incarnation;
    return 0;
}

int snap_add(struct snap *s, const char *name, const char *addr, enum swim_status status)
{
    if (s == NULL || !snap_name_ok(name) || !snap_addr_ok(addr) || !snap_status_ok(status))
        return ERR_INVAL;
    if (s->count >= SNAP_MEMBERS_MAX)
        return ERR_LIMIT;
    if (s->count == s->cap) {
        size_t cap = s->cap > 0 ? s->cap * 2 : SNAP_INITIAL_CAP;
        struct snap_member *m = realloc(s->members, cap * sizeof(*m));
        if (m == NULL)
            return ERR_NOMEM;
        s->members = m;
        s->cap = cap;
    }
    struct snap_member *m = &s->members[s->count++];
    memset(m, 0, sizeof(*m));
    snprintf(m->name, sizeof(m->name), "%s", name);
    snprintf(m->addr, sizeof(m->addr), "%s", addr);
    m->status = status;
    return 0;
}

const char *snap_name(const struct snap *s)
{
    return s->name;
}

uint64_t snap_generation(const struct snap *s)
{
    return s->generation;
}

uint32_t snap_incarnation(const struct snap *s)
{
    return s->incarnation;
}

size_t snap_count(const struct snap *s)
{
    return s->count;
}

const struct snap_member *snap_member_at(const struct snap *s, size_t i)
{
    return i < s->count ? &s->members[i] : NULL;
}

static int snap_cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 0 when no member is listed twice and self is not listed; else ERR_INVAL
 * with the offending name in err. */
static int snap_check_unique(const struct snap *s, char *err, size_t errlen)
{
    if (s->count == 0)
        return 0;
    const char **names = malloc(s->count * sizeof(*names));
    if (names == NULL) {
        snprintf(err, errlen, "out of memory");
        return ERR_NOMEM;
    }
    int rc = 0;
    for (size_t i = 0; i < s->count && rc == 0; i++) {
        names[i] = s->members[i].name;
        if (strcmp(names[i], s->name) == 0) {
            snprintf(err, errlen, "this node (\"%s\") is listed as a member", s->name);
            rc = ERR_INVAL;
        }
    }
    if (rc == 0) {
        qsort(names, s->count, sizeof(*names), snap_cmp_names);
        for (size_t i = 1; i < s->count && rc == 0; i++) {
            if (strcmp(names[i - 1], names[i]) == 0) {
                snprintf(err, errlen, "member \"%s\" is listed twice", names[i]);
                rc = ERR_INVAL;
            }
        }
    }
    free(names);
    return rc;
}

char *snap_dump(const struct snap *s)
{
    char err[SNAP_ERR_MAX];
    if (s == NULL || !snap_name_ok(s->name) || snap_check_unique(s, err, sizeof(err)) != 0)
        return NULL;
    json_t *members = json_array();
    json_t *root = json_pack("{s:i,s:s,s:I,s:I}", "version", SNAP_FORMAT_VERSION, "name", s->name,
                             "generation", (json_int_t)s->generation, "incarnation",
                             (json_int_t)s->incarnation);
    int bad = members == NULL || root == NULL;
    for (size_t i = 0; i < s->count && !bad; i++) {
        const struct snap_member *m = &s->members[i];
        json_t *o = json_pack("{s:s,s:s,s:s}", "name", m->name, "addr", m->addr, "status",
                              snap_status_names[m->status]);
        bad = o == NULL || json_array_append_new(members, o) != 0;
    }
    char *text = NULL;
    if (!bad && json_object_set(root, "members", members) == 0)
        text = json_dumps(root, JSON_INDENT(2));
    json_decref(members);
    json_decref(root);
    return text;
}

/* ---- parsing ---- */

/* A string member of o, 1..max bytes without NUL; NULL otherwise. */
static const char *snap_get_string(json_t *o, const char *key, size_t max)
{
    json_t *v = json_object_get(o, key);
    const char *s = json_string_value(v);
    if (s == NULL || json_string_length(v) == 0 || json_string_length(v) > max ||
        strlen(s) != json_string_length(v))
        return NULL;
    return s;
}

/* Every key of o must be one of keys[0..n). */
static const char *snap_unknown_key(json_t *o, const char *const *keys, size_t n)
{
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v)
    {
        size_t i = 0;
        while (i < n && strcmp(k, keys[i]) != 0)
            i++;
        if (i == n)
            return k;
    }
    return NULL;
}

static int snap_parse_status(const char *text, enum swim_status *out)
{
    for (int st = SWIM_ALIVE; st <= SWIM_LEFT; st++) {
        if (strcmp(text, snap_status_names[st]) == 0) {
            *out = (enum swim_status)st;
            return 0;
        }
    }
    return ERR_INVAL;
}

static int snap_parse_member(struct snap *s, json_t *o, size_t i, char *err, size_t errlen)
{
    static const char *const keys[] = {"name", "addr", "status"};
    if (!json_is_object(o)) {
        snprintf(err, errlen, "member %zu is not an object", i);
        return ERR_MALFORMED;
    }
    const char *bad = snap_unknown_key(o, keys, sizeof(keys) / sizeof(keys[0]));
    if (bad != NULL) {
        snprintf(err, errlen, "member %zu: unknown key \"%.40s\"", i, bad);
        return ERR_MALFORMED;
    }
    const char *name = snap_get_string(o, "name", SWIM_NAME_MAX);
    const char *addr = snap_get_string(o, "addr", ADDR_TEXT_MAX - 1);
    const char *status = snap_get_string(o, "status", 16);
    enum swim_status st;
    if (name == NULL) {
        snprintf(err, errlen, "member %zu: \"name\" must be a string of 1 to %d bytes", i,
                 SWIM_NAME_MAX);
        return ERR_MALFORMED;
    }
    if (addr == NULL || !snap_addr_ok(addr)) {
        snprintf(err, errlen, "member %zu (%s): \"addr\" must be a numeric HOST:PORT", i, name);
        return ERR_MALFORMED;
    }
    if (status == NULL || snap_parse_status(status, &st) != 0) {
        snprintf(err, errlen, "member %zu (%s): \"status\" must be alive, suspect, failed or left",
                 i, name);
        return ERR_MALFORMED;
    }
    int rc = snap_add(s, name, addr, st);
    if (rc != 0) {
        snprintf(err, errlen, "member %zu (%s): %s", i, name, err_strerror(rc));
        return rc == ERR_INVAL ? ERR_MALFORMED : rc;
    }
    return 0;
}

static int snap_parse_root(struct snap *s, json_t *root, char *err, size_t errlen)
{
    static const char *const keys[] = {"version", "name", "generation", "incarnation", "members"};
    if (!json_is_object(root)) {
        snprintf(err, errlen, "not a JSON object");
        return ERR_MALFORMED;
    }
    json_t *version = json_object_get(root, "version");
    if (!json_is_integer(version)) {
        snprintf(err, errlen, "no integer \"version\"");
        return ERR_MALFORMED;
    }
    if (json_integer_value(version) != SNAP_FORMAT_VERSION) {
        snprintf(err, errlen, "format version %lld, expected %d",
                 (long long)json_integer_value(version), SNAP_FORMAT_VERSION);
        return ERR_VERSION;
    }
    const char *bad = snap_unknown_key(root, keys, sizeof(keys) / sizeof(keys[0]));
    if (bad != NULL) {
        snprintf(err, errlen, "unknown key \"%.40s\"", bad);
        return ERR_MALFORMED;
    }
    const char *name = snap_get_string(root, "name", SWIM_NAME_MAX);
    json_t *gen = json_object_get(root, "generation");
    json_t *inc = json_object_get(root, "incarnation");
    json_t *members = json_object_get(root, "members");
    if (name == NULL) {
        snprintf(err, errlen, "\"name\" must be a string of 1 to %d bytes", SWIM_NAME_MAX);
        return ERR_MALFORMED;
    }
    if (!json_is_integer(gen) || json_integer_value(gen) < 0) {
        snprintf(err, errlen, "\"generation\" must be a non-negative integer");
        return ERR_MALFORMED;
    }
    if (!json_is_integer(inc) || json_integer_value(inc) < 0 ||
        json_integer_value(inc) > (json_int_t)UINT32_MAX) {
        snprintf(err, errlen, "\"incarnation\" must be an integer from 0 to %u", UINT32_MAX);
        return ERR_MALFORMED;
    }
    if (!json_is_array(members)) {
        snprintf(err, errlen, "\"members\" must be an array");
        return ERR_MALFORMED;
    }
    if (json_array_size(members) > SNAP_MEMBERS_MAX) {
        snprintf(err, errlen, "more than %d members", SNAP_MEMBERS_MAX);
        return ERR_TOOBIG;
    }
    if (snap_set_self(s, name, (uint64_t)json_integer_value(gen),
                      (uint32_t)json_integer_value(inc)) != 0) {
        snprintf(err, errlen, "\"name\" is not a valid node name");
        return ERR_MALFORMED;
    }
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m)
    {
        int rc = snap_parse_member(s, m, i, err, errlen);
        if (rc != 0)
            return rc;
    }
    int rc = snap_check_unique(s, err, errlen);
    return rc == ERR_INVAL ? ERR_MALFORMED : rc;
}

int snap_parse(const char *text, size_t len, struct snap **out, char *err, size_t errlen)
{
    if (text == NULL || out == NULL)
        return ERR_INVAL;
    if (len == 0) {
        snprintf(err, errlen, "empty file");
        return ERR_TRUNC;
    }
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        if (json_error_code(&je) == json_error_premature_end_of_input) {
            snprintf(err, errlen, "truncated at byte %d: %s", je.position, je.text);
            return ERR_TRUNC;
        }
        snprintf(err, errlen, "not valid JSON (line %d): %s", je.line, je.text);
        return ERR_MALFORMED;
    }
    struct snap *s = snap_new();
    int rc = s != NULL ? snap_parse_root(s, root, err, errlen) : ERR_NOMEM;
    json_decref(root);
    if (rc != 0) {
        if (rc == ERR_NOMEM)
            snprintf(err, errlen, "out of memory");
        snap_delete(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ---- files ---- */

int snap_write(const struct snap *s, const char *path, char *err, size_t errlen)
{
    if (s == NULL || path == NULL || path[0] == '\0' ||
        strlen(path) + sizeof(".tmp.XXXXXX") > PATH_MAX) {
        snprintf(err, errlen, "snapshot path missing or too long");
        return ERR_INVAL;
    }
    char why[SNAP_ERR_MAX] = "";
    if (!snap_name_ok(s->name)) {
        snprintf(err, errlen, "snapshot not written: this node's name is not set");
        return ERR_INVAL;
    }
    int vrc = snap_check_unique(s, why, sizeof(why));
    if (vrc != 0) {
        snprintf(err, errlen, "snapshot not written: %s", why);
        return vrc;
    }
    char *text = snap_dump(s);
    size_t len = text != NULL ? strlen(text) : 0;
    if (text == NULL) {
        snprintf(err, errlen, "snapshot not written: out of memory");
        return ERR_NOMEM;
    }
    text[len] = '\n'; /* snap_dump's NUL: the file ends with a newline */
    const char *step = "";
    int rc = regfile_replace(path, text, len + 1, &step);
    if (rc == ERR_INVAL)
        /* A device, socket, FIFO, directory or link is someone else's:
         * replacing it would destroy it (as root, --snapshot /dev/null). */
        snprintf(err, errlen, "snapshot %s: not a regular file; left untouched", path);
    else if (rc != 0)
        snprintf(err, errlen, "snapshot %s: cannot %s: %s", path, step, strerror(errno));
    free(text);
    return rc;
}

int snap_load(const char *path, struct snap **out, char *err, size_t errlen)
{
    if (path == NULL || out == NULL)
        return ERR_INVAL;
    /* Never block (a FIFO) and never follow a link: only a regular file
     * at the path itself is read. */
    int fd = -1;
    size_t size = 0, got = 0;
    int rc = regfile_open(path, SNAP_FILE_MAX, REGFILE_NOFOLLOW, &fd, &size);
    if (rc != 0) {
        int e = errno;
        if (rc == ERR_NOTFOUND)
            snprintf(err, errlen, "snapshot %s: %s", path, strerror(ENOENT));
        else if (rc == ERR_TOOBIG)
            snprintf(err, errlen, "snapshot %s: larger than %u bytes", path, SNAP_FILE_MAX);
        else if (rc == ERR_INVAL)
            snprintf(err, errlen, "snapshot %s: not a regular file", path);
        else if (e == ELOOP)
            snprintf(err, errlen, "snapshot %s: a symbolic link, not a regular file", path);
        else
            snprintf(err, errlen, "snapshot %s: %s", path, strerror(e));
        errno = e;
        return rc == ERR_INVAL ? ERR_IO : rc;
    }
    char *buf = malloc(size + 1);
    if (buf == NULL) {
        snprintf(err, errlen, "snapshot %s: out of memory", path);
        close(fd);
        return ERR_NOMEM;
    }
    /* Reads at most the size seen by fstat; a file that shrinks meanwhile
     * just ends early and is judged as it is. */
    if (regfile_read_close(fd, buf, size, &got) != 0) {
        snprintf(err, errlen, "snapshot %s: read: %s", path, strerror(errno));
        free(buf);
        return ERR_IO;
    }
    char why[SNAP_ERR_MAX] = "";
    rc = snap_parse(buf, got, out, why, sizeof(why));
    free(buf);
    if (rc != 0)
        snprintf(err, errlen, "snapshot %s: %s", path, why);
    return rc;
}

/* ---- writer policy ---- */

void snap_writer_init(struct snap_writer *w, uint32_t interval_ms)
{
    memset(w, 0, sizeof(*w));
    w->interval_ms = interval_ms > 0 ? interval_ms : SNAP_INTERVAL_DEFAULT_MS;
}

void snap_writer_mark(struct snap_writer *w)
{
    w->dirty = 1;
}

int snap_writer_due(const struct snap_writer *w, uint64_t now_ms, uint64_t *wait_ms)
{
    *wait_ms = 0;
    if (!w->dirty)
        return 0;
    if (!w->written || now_ms >= w->last_ms + w->interval_ms)
        return 1;
    *wait_ms = w->last_ms + w->interval_ms - now_ms;
    return 0;
}

void snap_writer_done(struct snap_writer *w, uint64_t now_ms, int ok)
{
    w->written = 1;
    w->last_ms = now_ms;
    if (ok)
        w->dirty = 0;
}
