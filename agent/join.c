/*
 * join.c - see join.h for the model.
 *
 * A lookup (struct join_lookup) is one evdns_getaddrinfo() request; it
 * belongs to a seed, to a control request (struct join_batch), or to
 * neither once its owner is gone.  evdns may answer synchronously (numeric
 * text, /etc/hosts, an immediate failure): the callback then runs inside
 * evdns_getaddrinfo(), so a lookup is freed by whichever of the two ends
 * last (`in_call` tells the callback not to).  Cancelled lookups are
 * answered (EVUTIL_EAI_CANCEL) from a later loop turn, so the evdns base is
 * freed only once every lookup has ended: the daemon runs the loop after
 * join_stop() until join_get_stats() shows none in flight.
 */
#include "join.h"

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "addr.h"
#include "cfg.h"
#include "clock.h"
#include "err.h"

struct join_seed {
    struct join_lookup *lookup; /* in flight, or NULL */
    char text[CFG_HOSTPORT_MAX];
};

struct join_batch {
    LIST_ENTRY(join_batch) link;
    join_done_f done;
    void *arg;
    uint64_t tag;
    size_t waiting; /* lookups not answered yet */
    int announced;
};

struct join_lookup {
    LIST_ENTRY(join_lookup) link;
    struct join *j;
    struct evdns_getaddrinfo_request *req; /* NULL once answered */
    struct join_seed *seed;                /* the seed it resolves, or NULL */
    struct join_batch *batch;              /* the request it belongs to, or NULL */
    int in_call;                           /* inside evdns_getaddrinfo() */
    int answered;
    int sent; /* addresses announced to from the answer */
    char host[ADDR_HOST_MAX];
};

struct join {
    struct event_base *base;
    struct log *log;
    struct swim *core;
    int family;
    struct swim_addr self;
    uint32_t period_ms;
    struct event *timer;
    struct evdns_base *dns; /* made at the first name lookup */
    int dns_failed;         /* evdns_base_new() failed: names do not resolve */
    int active;
    int stopped;
    uint32_t backoff_ms;
    uint32_t attempts;
    size_t nlookups;
    LIST_HEAD(, join_lookup) lookups;
    LIST_HEAD(, join_batch) batches;
    size_t nseeds;
    struct join_seed seeds[];
};

/* ---- announcing ---- */

/* Announce to one resolved address unless it is this node, out of the
 * socket's reach, or not one peer (unspecified, port 0, multicast,
 * broadcast, or scoped: the core's address has no scope).  1 when a
 * datagram went out, else 0. */
static int join_announce_sockaddr(struct join *j, const struct sockaddr *sa, uint64_t now)
{
    struct swim_addr a;
    if (sa->sa_family == AF_INET6 && j->family == AF_INET)
        return 0; /* an IPv4 socket cannot reach it */
    if (!addr_is_peer(sa) || addr_is_scoped(sa) || addr_is_local_broadcast(sa)) {
        char t[ADDR_TEXT_MAX];
        log_msg(j->log, LOG_DEBUG, "join: %s is not a peer's address; skipped",
                addr_format_sockaddr(sa, t));
        return 0;
    }
    if (addr_from_sockaddr(&a, sa) != 0)
        return 0;
    if (a.len == j->self.len && memcmp(a.bytes, j->self.bytes, a.len) == 0)
        return 0;
    if (j->family == AF_INET && a.bytes[0] != 4)
        return 0; /* IPv4-mapped on a v4 socket decodes as v4; anything else cannot go */
    return swim_announce(j->core, &a, now) == 0;
}

/* ---- lookups ---- */

static void join_batch_answer(struct join_batch *b, int sent)
{
    b->announced += sent;
    if (--b->waiting > 0)
        return;
    LIST_REMOVE(b, link);
    if (b->done != NULL)
        b->done(b->arg, b->tag, b->announced);
    free(b);
}

static void join_lookup_free(struct join_lookup *lk)
{
    if (lk->j != NULL) {
        LIST_REMOVE(lk, link);
        lk->j->nlookups--;
    }
    free(lk);
}

static void join_on_lookup(int result, struct evutil_addrinfo *res, void *arg)
{
    struct join_lookup *lk = arg;
    struct join *j = lk->j;
    int sent = 0;
    lk->req = NULL;
    lk->answered = 1;
    if (j != NULL && result == 0 && !j->stopped) {
        uint64_t now = clock_mono_ms();
        int n = 0;
        for (struct evutil_addrinfo *ai = res; ai != NULL && n < JOIN_ADDRS_MAX; ai = ai->ai_next)
            if (ai->ai_addr != NULL) {
                sent += join_announce_sockaddr(j, ai->ai_addr, now);
                n++;
            }
        log_msg(j->log, LOG_DEBUG, "join: %s resolved addresses=%d announced=%d", lk->host, n,
                sent);
    } else if (j != NULL && result != EVUTIL_EAI_CANCEL) {
        log_msg(j->log, LOG_DEBUG, "join: cannot resolve %s: %s", lk->host,
                evutil_gai_strerror(result));
    }
    if (res != NULL)
        evutil_freeaddrinfo(res);
    lk->sent = sent;
    if (lk->in_call)
        return; /* answered at once: join_lookup_start() takes it from here */
    if (j != NULL && lk->seed != NULL)
        lk->seed->lookup = NULL;
    if (j != NULL && lk->batch != NULL)
        join_batch_answer(lk->batch, sent);
    join_lookup_free(lk);
}

static struct evdns_base *join_dns(struct join *j)
{
    if (j->dns == NULL && !j->dns_failed) {
        j->dns = evdns_base_new(j->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
        if (j->dns == NULL) {
            j->dns_failed = 1;
            log_msg(j->log, LOG_WARN,
                    "join: cannot start the DNS resolver; names will not resolve");
        }
    }
    return j->dns;
}

/*
 * Start looking up host:port for a seed or a batch.  Returns how many
 * addresses were announced at once (a synchronous answer), or -1 when the
 * lookup is in flight (the batch, if any, then waits for it).
 */
static int join_lookup_start(struct join *j, const char *host, uint16_t port,
                             struct join_seed *seed, struct join_batch *batch)
{
    struct evdns_base *dns = join_dns(j);
    if (dns == NULL || j->nlookups >= JOIN_LOOKUPS_MAX) {
        log_msg(j->log, LOG_DEBUG, "join: %s not looked up (%s)", host,
                dns == NULL ? "no resolver" : "too many lookups in flight");
        return 0;
    }
    struct join_lookup *lk = calloc(1, sizeof(*lk));
    if (lk == NULL)
        return 0;
    lk->j = j;
    snprintf(lk->host, sizeof(lk->host), "%s", host);
    LIST_INSERT_HEAD(&j->lookups, lk, link);
    j->nlookups++;
    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = j->family == AF_INET ? AF_INET : AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_protocol = IPPROTO_UDP;
    lk->in_call = 1;
    struct evdns_getaddrinfo_request *req =
        evdns_getaddrinfo(dns, lk->host, service, &hints, join_on_lookup, lk);
    lk->in_call = 0;
    if (lk->answered || req == NULL) { /* NULL without an answer: it failed */
        int sent = lk->sent;
        join_lookup_free(lk);
        return sent;
    }
    /* In flight: its owners learn of it only now, so an answer given
     * inside the call above never reached them. */
    lk->req = req;
    lk->seed = seed;
    lk->batch = batch;
    if (seed != NULL)
        seed->lookup = lk;
    if (batch != NULL)
        batch->waiting++;
    return -1;
}

/* Cancel every lookup in flight; the answers come back as EVUTIL_EAI_CANCEL
 * from a later loop turn (or at once), and free them. */
static void join_cancel_lookups(struct join *j)
{
    struct join_lookup *lk = LIST_FIRST(&j->lookups), *next;
    for (; lk != NULL; lk = next) {
        next = LIST_NEXT(lk, link);
        if (lk->req != NULL)
            evdns_getaddrinfo_cancel(lk->req);
    }
}

/*
 * Announce to `text` now (numeric) or start its lookup (a name).  Returns
 * the addresses announced to at once; -1 when a lookup is in flight.
 */
static int join_text(struct join *j, const char *text, struct join_seed *seed,
                     struct join_batch *batch, uint64_t now)
{
    struct sockaddr_storage ss[JOIN_ADDRS_MAX];
    char host[ADDR_HOST_MAX];
    uint16_t port;
    size_t n = 0;
    if (addr_resolve(text, CFG_DEFAULT_PORT, 1, ss, JOIN_ADDRS_MAX, &n) == 0) {
        int sent = 0;
        for (size_t i = 0; i < n; i++)
            sent += join_announce_sockaddr(j, (struct sockaddr *)&ss[i], now);
        return sent;
    }
    if (addr_split(text, CFG_DEFAULT_PORT, host, &port) != 0) {
        log_msg(j->log, LOG_DEBUG, "join: \"%.80s\" is not HOST[:PORT]", text);
        return 0;
    }
    if (seed != NULL && seed->lookup != NULL)
        return -1; /* the previous attempt's lookup has not been answered */
    return join_lookup_start(j, host, port, seed, batch);
}

/* ---- attempts ---- */

static void join_arm(struct join *j, uint64_t delay_ms)
{
    /* Up to 25% jitter, so nodes restarted together do not announce in step. */
    uint64_t jitter = delay_ms / 4 > 0 ? randombytes_uniform((uint32_t)(delay_ms / 4) + 1) : 0;
    struct timeval tv = clock_tv(delay_ms + jitter);
    evtimer_add(j->timer, &tv);
}

static void join_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct join *j = arg;
    if (j->stopped || j->nseeds == 0)
        return;
    uint64_t period = j->period_ms;
    size_t active = swim_active_count(j->core);
    if (j->active && active + 1 >= j->nseeds)
        return; /* big enough: rest until a member is lost (join_member_lost()) */
    uint64_t now = clock_mono_ms();
    int sent = 0;
    for (size_t i = 0; i < j->nseeds; i++) {
        int s = join_text(j, j->seeds[i].text, &j->seeds[i], NULL, now);
        sent += s > 0 ? s : 0;
    }
    j->attempts++;
    log_msg(j->log, j->attempts == 1 ? LOG_INFO : LOG_DEBUG,
            "join attempt=%u announced=%d resolving=%zu active=%zu", (unsigned)j->attempts, sent,
            j->nlookups, active);
    if (j->active) {
        join_arm(j, period * JOIN_REANNOUNCE_PERIODS);
    } else {
        join_arm(j, j->backoff_ms);
        uint64_t next = (uint64_t)j->backoff_ms * 2;
        uint64_t max = period * JOIN_BACKOFF_MAX_PERIODS;
        j->backoff_ms = (uint32_t)(next < max ? next : max);
    }
}

void join_start(struct join *j)
{
    if (j->stopped || j->nseeds == 0)
        return;
    j->backoff_ms = j->period_ms;
    struct timeval now = {0, 0};
    evtimer_add(j->timer, &now);
}

void join_self_active(struct join *j)
{
    j->active = 1;
    j->backoff_ms = j->period_ms;
    if (!j->stopped && j->nseeds > 0)
        join_arm(j, (uint64_t)j->period_ms * JOIN_REANNOUNCE_PERIODS);
}

void join_member_lost(struct join *j)
{
    if (j->stopped || j->nseeds == 0 || !j->active || evtimer_pending(j->timer, NULL))
        return;
    join_arm(j, (uint64_t)j->period_ms * JOIN_REANNOUNCE_PERIODS);
}

void join_self_idle(struct join *j)
{
    j->active = 0;
    if (j->stopped || j->nseeds == 0)
        return;
    j->backoff_ms = j->period_ms;
    join_arm(j, j->backoff_ms);
}

void join_stop(struct join *j)
{
    if (j->stopped)
        return;
    j->stopped = 1;
    evtimer_del(j->timer);
    join_cancel_lookups(j);
}

/* ---- control requests ---- */

int join_request(struct join *j, const char *const *texts, size_t n, join_done_f done, void *arg,
                 uint64_t tag, int *announced)
{
    if (j->stopped)
        return ERR_CLOSED;
    struct join_batch *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return ERR_NOMEM;
    b->done = done;
    b->arg = arg;
    b->tag = tag;
    uint64_t now = clock_mono_ms();
    for (size_t i = 0; i < n; i++) {
        int s = join_text(j, texts[i], NULL, b, now);
        b->announced += s > 0 ? s : 0;
    }
    *announced = b->announced;
    if (b->waiting == 0) {
        free(b);
        return 0;
    }
    LIST_INSERT_HEAD(&j->batches, b, link);
    return ERR_AGAIN;
}

/* ---- life cycle ---- */

struct join *join_new(const struct join_config *cfg)
{
    if (cfg->seed_count > JOIN_SEEDS_MAX)
        return NULL;
    struct join *j = calloc(1, sizeof(*j) + cfg->seed_count * sizeof(j->seeds[0]));
    if (j == NULL)
        return NULL;
    j->base = cfg->base;
    j->log = cfg->log;
    j->core = cfg->core;
    j->family = cfg->family;
    j->self = *cfg->self;
    j->period_ms = cfg->period_ms;
    j->backoff_ms = cfg->period_ms;
    LIST_INIT(&j->lookups);
    LIST_INIT(&j->batches);
    j->nseeds = cfg->seed_count;
    for (size_t i = 0; i < cfg->seed_count; i++)
        snprintf(j->seeds[i].text, sizeof(j->seeds[i].text), "%s", cfg->seeds[i]);
    j->timer = evtimer_new(cfg->base, join_on_timer, j);
    if (j->timer == NULL) {
        free(j);
        return NULL;
    }
    return j;
}

void join_delete(struct join *j)
{
    if (j == NULL)
        return;
    join_stop(j);
    int orphans = !LIST_EMPTY(&j->lookups);
    struct join_lookup *lk;
    while ((lk = LIST_FIRST(&j->lookups)) != NULL) {
        /* Never answered: its callback, should it ever run, frees it alone. */
        LIST_REMOVE(lk, link);
        lk->j = NULL;
        lk->batch = NULL;
    }
    struct join_batch *b;
    while ((b = LIST_FIRST(&j->batches)) != NULL) {
        LIST_REMOVE(b, link);
        free(b);
    }
    if (j->dns != NULL && !orphans)
        evdns_base_free(j->dns, 0);
    else if (orphans)
        log_msg(j->log, LOG_WARN, "join: name lookups did not end; the resolver is left open");
    event_free(j->timer);
    free(j);
}

void join_get_stats(const struct join *j, struct join_stats *out)
{
    out->attempts = j->attempts;
    out->scheduled = evtimer_pending(j->timer, NULL) != 0;
    out->seeds = j->nseeds;
    out->lookups = j->nlookups;
}
