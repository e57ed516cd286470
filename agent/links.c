/*
 * links.c - see links.h for the model.
 *
 * Members live in a chained hash table keyed by name (FNV-1a), each entry
 * one allocation holding the name and the current device id.  A client is one
 * allocation too: its targets (name, the member device it linked to, done
 * flag) follow it, and its device's user pointer is the client, so a
 * disconnect finds its target by comparing device ids within the client:
 * that works even after the member has been forgotten.
 *
 * Re-entrancy: backplane handlers only queue reports; the outermost ml_*
 * call (depth 0 again) delivers them.  Room in the queue is reserved before
 * each backplane call that can produce reports (a member stop: one per link;
 * a new client: one per name), so a report is never lost for lack of memory.
 */
#include "links.h"

#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "err.h"

/* First bucket count; the table doubles when it holds more than two entries
 * a bucket, so lookups stay short in a cluster of any size. */
#define ML_BUCKETS_INITIAL 64
#define ML_LOAD_MAX 2
/* Fault code of a failed member's device: failure detection is, in the end,
 * a timeout. */
#define ML_FAIL_CODE ERR_TIMEOUT
#define ML_FAIL_TEXT "failed"
/* First report queue size; it grows by reservation. */
#define ML_REPORTS_INITIAL 16

struct ml_member {
    SLIST_ENTRY(ml_member) chain; /* its hash bucket */
    bp_id dev;
    char name[SWIM_NAME_MAX + 1];
};

struct ml_target {
    bp_id dev; /* BP_ID_NONE: unknown when linked */
    int done;
    char name[SWIM_NAME_MAX + 1];
};

struct ml_client {
    struct ml *m;
    LIST_ENTRY(ml_client) link; /* every live client, for ml_delete() */
    uint64_t cookie;
    bp_id dev;
    size_t n;
    struct ml_target t[];
};

struct ml_pending {
    uint64_t client, cookie;
    enum ml_reason reason;
    char member[SWIM_NAME_MAX + 1];
};

SLIST_HEAD(ml_bucket, ml_member);

struct ml {
    struct bp *bp;
    ml_report_f report;
    void *ctx;
    struct ml_bucket *buckets;
    size_t nbuckets, nmembers;
    LIST_HEAD(, ml_client) clients;
    struct ml_pending *q;
    size_t qlen, qcap, qhead;
    int depth;
};

static uint64_t ml_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; s[i] != '\0' && i < SWIM_NAME_MAX; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

const char *ml_reason_name(enum ml_reason r)
{
    switch (r) {
    case ML_FAILED:
        return "failed";
    case ML_LEFT:
        return "left";
    case ML_UNKNOWN:
        return "unknown";
    }
    return "?";
}

struct ml *ml_new(ml_report_f report, void *ctx)
{
    if (report == NULL)
        return NULL;
    struct ml *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->report = report;
    m->ctx = ctx;
    LIST_INIT(&m->clients);
    m->bp = bp_new();
    m->nbuckets = ML_BUCKETS_INITIAL;
    m->buckets = calloc(m->nbuckets, sizeof(*m->buckets)); /* all-zero: empty SLISTs */
    if (m->bp == NULL || m->buckets == NULL) {
        bp_delete(m->bp);
        free(m->buckets);
        free(m);
        return NULL;
    }
    return m;
}

void ml_delete(struct ml *m)
{
    if (m == NULL)
        return;
    struct ml_client *c;
    while ((c = LIST_FIRST(&m->clients)) != NULL) {
        LIST_REMOVE(c, link);
        free(c);
    }
    for (size_t b = 0; b < m->nbuckets; b++) {
        struct ml_member *e;
        while ((e = SLIST_FIRST(&m->buckets[b])) != NULL) {
            SLIST_REMOVE_HEAD(&m->buckets[b], chain);
            free(e);
        }
    }
    free(m->buckets);
    free(m->q);
    bp_delete(m->bp);
    free(m);
}

/* ---- the report queue ---- */

static int ml_reserve(struct ml *m, size_t more)
{
    size_t need = m->qlen + more;
    if (need <= m->qcap)
        return 0;
    size_t cap = m->qcap > 0 ? m->qcap : ML_REPORTS_INITIAL;
    while (cap < need)
        cap *= 2;
    struct ml_pending *q = realloc(m->q, cap * sizeof(*q));
    if (q == NULL)
        return ERR_NOMEM;
    m->q = q;
    m->qcap = cap;
    return 0;
}

/* Room was reserved; the check only guards against a bug. */
static void ml_queue(struct ml *m, const struct ml_client *c, const char *member,
                     enum ml_reason reason)
{
    if (m->qlen >= m->qcap && ml_reserve(m, 1) != 0)
        return;
    struct ml_pending *p = &m->q[m->qlen++];
    p->client = c->dev;
    p->cookie = c->cookie;
    p->reason = reason;
    memcpy(p->member, member, sizeof(p->member));
}

static void ml_enter(struct ml *m)
{
    m->depth++;
}

/* Leave an ml_* call; the outermost delivers the queue.  The callback may
 * queue more (a new client's immediate reports); each is delivered once and
 * the total is bounded by the calls the callback makes. */
static void ml_leave(struct ml *m)
{
    if (m->depth > 1) {
        m->depth--;
        return;
    }
    while (m->qhead < m->qlen) {
        struct ml_pending p = m->q[m->qhead++];
        struct ml_report rep = {p.client, p.cookie, p.member, p.reason};
        m->report(m->ctx, &rep);
    }
    m->qhead = m->qlen = 0;
    m->depth = 0;
}

/* ---- members ---- */

static struct ml_bucket *ml_bucket_of(const struct ml *m, const char *name)
{
    return &m->buckets[ml_hash(name) % m->nbuckets];
}

static struct ml_member *ml_find(const struct ml *m, const char *name)
{
    struct ml_member *e;
    SLIST_FOREACH(e, ml_bucket_of(m, name), chain)
    if (strcmp(e->name, name) == 0)
        return e;
    return NULL;
}

static void ml_grow(struct ml *m)
{
    size_t nb = m->nbuckets * 2;
    struct ml_bucket *b = calloc(nb, sizeof(*b));
    if (b == NULL)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct ml_member *e;
        while ((e = SLIST_FIRST(&m->buckets[i])) != NULL) {
            SLIST_REMOVE_HEAD(&m->buckets[i], chain);
            SLIST_INSERT_HEAD(&b[ml_hash(e->name) % nb], e, chain);
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
}

static int ml_valid_name(const char *name)
{
    size_t n = name != NULL ? strnlen(name, SWIM_NAME_MAX + 1) : 0;
    return n >= 1 && n <= SWIM_NAME_MAX;
}

/* A running device for `name`: reuse, re-create or create. */
static int ml_ensure_running(struct ml *m, const char *name)
{
    struct ml_member *e = ml_find(m, name);
    enum bp_state st;
    if (e != NULL && bp_device_state(m->bp, e->dev, &st) == 0 && st == BP_RUNNING)
        return 0;
    bp_id dev;
    int rc = bp_device_new(m->bp, NULL, &dev);
    if (rc != 0)
        return rc;
    if (e != NULL) {
        bp_device_delete(m->bp, e->dev); /* stopped: tells nobody */
        e->dev = dev;
        return 0;
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL) {
        bp_device_delete(m->bp, dev);
        return ERR_NOMEM;
    }
    memcpy(e->name, name, strlen(name) + 1);
    e->dev = dev;
    if (m->nmembers + 1 > m->nbuckets * ML_LOAD_MAX)
        ml_grow(m);
    SLIST_INSERT_HEAD(ml_bucket_of(m, name), e, chain);
    m->nmembers++;
    return 0;
}

/* Stop the member's running device (fault NULL: cleanly).  A member never
 * seen gets a device that is stopped at once, so later monitors learn how it
 * ended rather than "unknown". */
static int ml_stop(struct ml *m, const char *name, const struct bp_fault *fault)
{
    struct ml_member *e = ml_find(m, name);
    enum bp_state st;
    if (e == NULL) {
        int rc = ml_ensure_running(m, name);
        if (rc != 0)
            return rc;
        e = ml_find(m, name);
    }
    if (bp_device_state(m->bp, e->dev, &st) != 0 || st != BP_RUNNING)
        return 0; /* a device stops once */
    size_t links = 0;
    bp_device_links(m->bp, e->dev, &links);
    int rc = ml_reserve(m, links);
    if (rc != 0)
        return rc;
    return bp_device_stop(m->bp, e->dev, fault);
}

static int ml_set_locked(struct ml *m, const char *name, enum swim_status status)
{
    struct bp_fault fail = bp_fault_error(ML_FAIL_CODE, ML_FAIL_TEXT);
    switch (status) {
    case SWIM_ALIVE:
    case SWIM_SUSPECT:
        return ml_ensure_running(m, name);
    case SWIM_FAILED:
        return ml_stop(m, name, &fail);
    case SWIM_LEFT:
        return ml_stop(m, name, NULL);
    }
    return ERR_INVAL;
}

int ml_member_set(struct ml *m, const char *name, enum swim_status status)
{
    if (m == NULL || !ml_valid_name(name))
        return ERR_INVAL;
    ml_enter(m);
    int rc = ml_set_locked(m, name, status);
    ml_leave(m);
    return rc;
}

int ml_member_forget(struct ml *m, const char *name)
{
    if (m == NULL || !ml_valid_name(name))
        return ERR_INVAL;
    struct ml_member *e = ml_find(m, name);
    if (e == NULL)
        return ERR_NOTFOUND;
    ml_enter(m);
    /* A reaped member was failed or left, so its device has stopped; if not
     * (events lost), deleting it reports it as failed to its monitors. */
    size_t links = 0;
    bp_device_links(m->bp, e->dev, &links);
    ml_reserve(m, links); /* on failure a report may be short; the device must go */
    bp_device_delete(m->bp, e->dev);
    SLIST_REMOVE(ml_bucket_of(m, name), e, ml_member, chain);
    free(e);
    m->nmembers--;
    ml_leave(m);
    return 0;
}

int ml_apply(struct ml *m, const struct ev_event *ev)
{
    if (m == NULL || ev == NULL)
        return ERR_INVAL;
    if ((EV_MASK(ev->type) & EV_MASK_MEMBER) == 0)
        return 0;
    if (!ml_valid_name(ev->name))
        return ERR_INVAL;
    if (ev->type == EV_MEMBER_REAP) {
        int rc = ml_member_forget(m, ev->name);
        return rc == ERR_NOTFOUND ? 0 : rc;
    }
    enum swim_status st = SWIM_ALIVE;
    if (ev->type == EV_MEMBER_FAILED)
        st = SWIM_FAILED;
    else if (ev->type == EV_MEMBER_LEAVE)
        st = SWIM_LEFT;
    return ml_member_set(m, ev->name, st);
}

int ml_member_device(const struct ml *m, const char *name, bp_id *dev, int *running)
{
    if (m == NULL || !ml_valid_name(name))
        return ERR_INVAL;
    const struct ml_member *e = ml_find(m, name);
    if (e == NULL)
        return ERR_NOTFOUND;
    enum bp_state st = BP_STOPPED;
    bp_device_state(m->bp, e->dev, &st);
    if (dev != NULL)
        *dev = e->dev;
    if (running != NULL)
        *running = st == BP_RUNNING;
    return 0;
}

size_t ml_member_count(const struct ml *m)
{
    return m->nmembers;
}

/* ---- clients ---- */

static void ml_on_disconnect(struct bp *bp, bp_id self, void *data, const struct bp_disconnect *msg)
{
    (void)bp;
    (void)self;
    struct ml_client *c = data;
    for (size_t i = 0; i < c->n; i++) {
        struct ml_target *t = &c->t[i];
        if (t->dev != msg->id || t->done)
            continue;
        t->done = 1;
        ml_queue(c->m, c, t->name, msg->fault.kind == BP_FAULT_NONE ? ML_LEFT : ML_FAILED);
        return;
    }
}

static struct ml_client *ml_client_get(const struct ml *m, uint64_t client)
{
    void *data = NULL;
    if (bp_device_data(m->bp, (bp_id)client, &data) != 0 || data == NULL)
        return NULL;
    struct ml_client *c = data;
    return c->dev == client && c->m == m ? c : NULL;
}

int ml_client_new(struct ml *m, uint64_t cookie, const char *const *names, size_t n,
                  uint64_t *client)
{
    if (m == NULL || names == NULL || client == NULL || n == 0)
        return ERR_INVAL;
    if (n > ML_CLIENT_NAMES_MAX)
        return ERR_TOOBIG;
    for (size_t i = 0; i < n; i++)
        if (!ml_valid_name(names[i]))
            return ERR_INVAL;
    struct ml_client *c = calloc(1, sizeof(*c) + n * sizeof(c->t[0]));
    if (c == NULL)
        return ERR_NOMEM;
    c->m = m;
    c->cookie = cookie;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < c->n && strcmp(c->t[j].name, names[i]) != 0)
            j++;
        if (j == c->n)
            memcpy(c->t[c->n++].name, names[i], strlen(names[i]) + 1);
    }
    /* Reserve everything first: the device, a link cell per name and a
     * report per name, so the linking below cannot fail half-way. */
    int rc = ml_reserve(m, c->n);
    if (rc == 0)
        rc = bp_reserve(m->bp, 1, c->n);
    if (rc == 0)
        rc = bp_device_new(m->bp, c, &c->dev);
    if (rc != 0) {
        free(c);
        return rc == ERR_LIMIT ? ERR_NOMEM : rc;
    }
    bp_device_set_handler(m->bp, c->dev, ml_on_disconnect);
    LIST_INSERT_HEAD(&m->clients, c, link);
    *client = c->dev;
    ml_enter(m);
    for (size_t i = 0; i < c->n; i++) {
        struct ml_target *t = &c->t[i];
        struct ml_member *e = ml_find(m, t->name);
        if (e == NULL) {
            t->done = 1;
            ml_queue(m, c, t->name, ML_UNKNOWN);
            continue;
        }
        t->dev = e->dev;
        bp_link(m->bp, c->dev, e->dev, BP_MONITOR); /* reserved: cannot fail */
    }
    ml_leave(m);
    return 0;
}

int ml_client_delete(struct ml *m, uint64_t client)
{
    struct ml_client *c = m != NULL ? ml_client_get(m, client) : NULL;
    if (c == NULL)
        return ERR_NOTFOUND;
    ml_enter(m);
    /* Nobody monitors a client device, so deleting it reports nothing; it
     * drops the client's links and any disconnect still queued for it. */
    bp_device_delete(m->bp, c->dev);
    LIST_REMOVE(c, link);
    free(c);
    /* Reports already queued for it are still delivered (they happened). */
    ml_leave(m);
    return 0;
}

int ml_client_pending(const struct ml *m, uint64_t client, size_t *out)
{
    const struct ml_client *c = m != NULL ? ml_client_get(m, client) : NULL;
    if (c == NULL)
        return ERR_NOTFOUND;
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        n += !c->t[i].done;
    *out = n;
    return 0;
}

const struct bp *ml_backplane(const struct ml *m)
{
    return m->bp;
}
