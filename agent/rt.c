/*
 * rt.c - see rt.h for the model.
 *
 * Layout: the runtime interface the core calls (send_to with sealing, the
 * timer adapter, notify), the loop-side handlers (UDP readable with
 * opening, the leave deadline), then life cycle and accessors.
 */
#include "rt.h"

#include <errno.h>
#include <event2/event.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "addr.h"
#include "cfg.h"
#include "clock.h"
#include "events.h"
#include "keyring.h"
#include "err.h"
#include "hash.h"
#include "join.h"
#include "replay.h"
#include "udp.h"

/* Datagrams read per wakeup: bounded so timers and the control socket get
 * their turn under a flood (libuv's figure). */
#define RT_READS_PER_WAKEUP 32
/* Datagrams taken per receive call (recvmmsg).  A call that comes back
 * short has emptied the socket, so the usual wakeup, one datagram, costs
 * one call and none that ends in EAGAIN; a burst costs one call per batch.
 * Small, because every slot is a whole RT_DGRAM_MAX (its pages are resident
 * only once a burst has reached them). */
#define RT_RECV_BATCH 4
/* Receive buffer: the largest UDP payload, so no datagram is cut silently. */
#define RT_DGRAM_MAX 65536
/* Added to every timer handed to libevent.  libevent measures a timeout
 * from the loop turn's cached time, which trails clock_mono_ms() (and our
 * whole milliseconds truncate), so an unpadded timer fires up to a
 * millisecond before it is due and has to be armed again: an extra wakeup
 * per timer, several times a second on an idle agent. */
#define RT_TIMER_PAD_MS 1
/* Pending core timers are chained in this many buckets by the hash of their
 * value, so the core's cancel finds one in a short walk: an idle agent has
 * about six pending, one with thousands of suspects three per suspect. */
#define RT_TIMER_BUCKETS 64
/* Housekeeping timers (SYNC, RECONNECT, REAP: periodic anti-entropy and
 * tombstone sweeps, where a little lateness changes nothing) may come back
 * up to 1/RT_CHORE_SLACK_DIV of their delay late, at most one protocol
 * period, so that they ride on a wakeup that comes anyway (a probe tick, a
 * datagram) instead of making one of their own: a settled lan agent was
 * woken eight times a minute for them.  An eighth: the slack Linux's timer
 * wheel gives long timers. */
#define RT_CHORE_SLACK_DIV 8
/* Due housekeeping timers handed back per wakeup at most (a bound on the
 * loop, should one re-arm itself with no delay). */
#define RT_CHORES_PER_WAKEUP 4
/* Extra time after leave_linger_ms before exiting without SELF_IDLE. */
#define RT_LEAVE_GRACE_MS 2000
/* Decrypt-failure log lines: at most this many per window ... */
#define RT_DECRYPT_LOG_BURST 5
/* ... of this length, so a stray or hostile sender cannot flood the log. */
#define RT_DECRYPT_LOG_WINDOW_MS 10000

/* One core timer on the loop. */
struct rt_timer {
    LIST_ENTRY(rt_timer) link;
    LIST_ENTRY(rt_timer) chore_link; /* in rt->chores when `chore` */
    int chore;                       /* a housekeeping kind: may ride on another wakeup */
    struct rt *rt;
    struct event *ev;
    struct swim_timer t;
    uint64_t due; /* clock_mono_ms() + delay at submission: never handed back earlier */
};

struct rt {
    struct event_base *base;
    struct log *log;
    struct ev_bus *bus;
    struct keyring *kr;
    struct replay *replay; /* with a keyring: datagrams admitted once, while fresh */
    char label[CFG_LABEL_MAX + 1];
    struct swim_config scfg;
    struct swim *swim;
    struct join *join;
    struct udp_sock udp;
    struct event *udp_ev;
    struct event *leave_ev;
    void (*on_leave)(void *ctx);
    void *on_leave_ctx;
    rt_intercept_f intercept; /* sees notifications before the bus (queries) */
    void *intercept_ctx;
    LIST_HEAD(rt_timer_list, rt_timer) timers[RT_TIMER_BUCKETS];
    LIST_HEAD(rt_chore_list, rt_timer) chores; /* the pending housekeeping timers */
    size_t ntimers;
    int active;
    int leaving;
    int done;
    int stopped;
    struct rt_stats stats; /* the counters; timers, active, leaving filled on read */
    struct log_limit decrypt_limit;
    uint8_t rx[RT_RECV_BATCH][RT_DGRAM_MAX];
    uint8_t plain[RT_DGRAM_MAX];
    uint8_t tx[RT_DGRAM_MAX];
};

/* ---- runtime interface ------------------------------------------------ */

static void rt_send_to(void *ctx, const struct swim_addr *to, const uint8_t *data, size_t len)
{
    struct rt *rt = ctx;
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (addr_to_sockaddr(&ss, &sslen, to, rt->udp.family) != 0) {
        rt->stats.send_errors++;
        return;
    }
    const uint8_t *out = data;
    size_t outlen = len;
    if (rt->kr != NULL) {
        if (keyring_seal(rt->kr, (const uint8_t *)rt->label, strlen(rt->label), data, len, rt->tx,
                         sizeof(rt->tx), &outlen) != 0) {
            rt->stats.send_errors++;
            return;
        }
        out = rt->tx;
    }
    ssize_t n = sendto(rt->udp.fd, out, outlen, MSG_DONTWAIT, (struct sockaddr *)&ss, sslen);
    if (n < 0) {
        rt->stats.send_errors++;
        if (log_enabled(rt->log, LOG_DEBUG)) {
            char a[ADDR_TEXT_MAX];
            log_msg(rt->log, LOG_DEBUG, "send-error to=%s: %s", addr_format(to, a),
                    strerror(errno));
        }
        return;
    }
    rt->stats.packets_out++;
    rt->stats.bytes_out += (uint64_t)n;
}

/* The bucket of a timer's value (every field the core sets). */
static struct rt_timer_list *rt_timer_bucket(struct rt *rt, const struct swim_timer *t)
{
    uint64_t key[3] = {t->kind | (uint64_t)t->arg32 << 32, t->token,
                       t->hint | (uint64_t)t->reserved << 32};
    return &rt->timers[hash_fnv1a(key, sizeof(key)) % RT_TIMER_BUCKETS];
}

static void rt_timer_free(struct rt *rt, struct rt_timer *tm)
{
    LIST_REMOVE(tm, link);
    if (tm->chore)
        LIST_REMOVE(tm, chore_link);
    rt->ntimers--;
    event_free(tm->ev);
    free(tm);
}

/* Hand a due timer back to the core (it is freed first: the core may
 * submit or cancel timers from inside). */
static void rt_hand_back(struct rt *rt, struct rt_timer *tm, uint64_t now)
{
    struct swim_timer t = tm->t;
    rt_timer_free(rt, tm);
    rt->stats.timers_fired++;
    swim_handle_timer(rt->swim, &t, now);
}

/* On a wakeup that came for something else: hand back the housekeeping
 * timers already due, so they need no wakeup of their own. */
static void rt_run_chores(struct rt *rt)
{
    if (LIST_EMPTY(&rt->chores))
        return;
    uint64_t now = clock_mono_ms();
    for (int i = 0; i < RT_CHORES_PER_WAKEUP && !rt->done && !rt->stopped; i++) {
        struct rt_timer *tm;
        LIST_FOREACH(tm, &rt->chores, chore_link)
        {
            if (tm->due <= now)
                break;
        }
        if (tm == NULL)
            return;
        rt->stats.timers_coalesced++;
        rt_hand_back(rt, tm, now);
    }
}

static void rt_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct rt_timer *tm = arg;
    struct rt *rt = tm->rt;
    uint64_t now = clock_mono_ms();
    if (now < tm->due) {
        /* libevent measures from the loop's cached time, so a timer set late
         * in a busy turn can fire a few ms early by our clock; the core may
         * drop a timer that comes before its deadline (a suspicion would
         * then never end), so wait out the rest. */
        struct timeval tv = clock_tv(tm->due - now + RT_TIMER_PAD_MS);
        evtimer_add(tm->ev, &tv);
        return;
    }
    rt_hand_back(rt, tm, now);
    rt_run_chores(rt);
}

struct event_base *rt_base_new(void)
{
    /* libevent's default clock is CLOCK_MONOTONIC_COARSE, which moves in
     * whole ticks (4 ms at HZ=250): epoll_wait() wakes on time, but the
     * coarse clock has not reached the deadline yet, so the loop waits again
     * in 1 ms steps, two to four wakeups per core timer on an idle agent.
     * The precise clock costs one timerfd_settime() per wakeup instead. */
    struct event_config *ec = event_config_new();
    if (ec == NULL)
        return NULL;
    event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    struct event_base *base = event_base_new_with_config(ec);
    event_config_free(ec);
    return base;
}

static void rt_submit_after(void *ctx, const struct swim_timer *t, uint64_t delay_ms)
{
    struct rt *rt = ctx;
    if (rt->stopped)
        return; /* winding down: the core gets no more time */
    struct rt_timer *tm = calloc(1, sizeof(*tm));
    if (tm != NULL)
        tm->ev = evtimer_new(rt->base, rt_on_timer, tm);
    if (tm == NULL || tm->ev == NULL) {
        free(tm);
        log_msg(rt->log, LOG_ERROR, "out of memory for a timer (kind %u); it is lost",
                (unsigned)t->kind);
        return;
    }
    tm->rt = rt;
    tm->t = *t;
    tm->due = clock_mono_ms() + delay_ms;
    LIST_INSERT_HEAD(rt_timer_bucket(rt, t), tm, link);
    rt->ntimers++;
    uint64_t slack = 0;
    tm->chore =
        t->kind == SWIM_TIMER_SYNC || t->kind == SWIM_TIMER_RECONNECT || t->kind == SWIM_TIMER_REAP;
    if (tm->chore) {
        LIST_INSERT_HEAD(&rt->chores, tm, chore_link);
        slack = delay_ms / RT_CHORE_SLACK_DIV;
        if (slack > rt->scfg.probe_interval_ms)
            slack = rt->scfg.probe_interval_ms;
    }
    struct timeval tv = clock_tv(delay_ms + slack + RT_TIMER_PAD_MS);
    evtimer_add(tm->ev, &tv);
}

/* Free the pending timers equal to *t: they never fire.  One already handed
 * back (freed then) or cancelled before is not found, which is no error. */
static void rt_cancel(void *ctx, const struct swim_timer *t)
{
    struct rt *rt = ctx;
    struct rt_timer_list *b = rt_timer_bucket(rt, t);
    struct rt_timer *tm = LIST_FIRST(b);
    while (tm != NULL) {
        struct rt_timer *next = LIST_NEXT(tm, link);
        if (tm->t.kind == t->kind && tm->t.arg32 == t->arg32 && tm->t.token == t->token &&
            tm->t.hint == t->hint && tm->t.reserved == t->reserved) {
            rt_timer_free(rt, tm);
            rt->stats.timers_cancelled++;
        }
        tm = next;
    }
}

static void rt_log_member(struct rt *rt, enum log_level level, const char *what,
                          const struct swim_member_info *m, uint64_t seq)
{
    char a[ADDR_TEXT_MAX];
    log_msg(rt->log, level, "%s name=%s addr=%s status=%s generation=%llu incarnation=%u seq=%llu",
            what, m->name, addr_format(&m->addr, a), swim_status_name(m->status),
            (unsigned long long)m->generation, (unsigned)m->incarnation, (unsigned long long)seq);
}

/* Printable ASCII of n bytes into out (n + 1 bytes), others as '.'. */
static void rt_printable(char *out, const uint8_t *in, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? (char)in[i] : '.';
    out[n] = '\0';
}

/* A user event as the log shows it; `published` is what the bus said
 * (ERR_MALFORMED: not the agent's format, or a name that is not text). */
static void rt_log_user(struct rt *rt, const struct swim_user_info *u, uint64_t seq, int published)
{
    /* Payload: | u8 name length | name | data |, see cmd_event.c. */
    if (published == ERR_MALFORMED || u->len < 1 || u->payload[0] == 0 ||
        (size_t)u->payload[0] + 1 > u->len) {
        log_msg(rt->log, LOG_WARN, "user-event from=%s: malformed payload (%u bytes), dropped",
                u->origin, (unsigned)u->len);
        return;
    }
    size_t nlen = u->payload[0];
    size_t plen = (size_t)u->len - 1 - nlen;
    char name[256], safe[SWIM_USER_MAX + 1];
    rt_printable(name, u->payload + 1, nlen);
    rt_printable(safe, u->payload + 1 + nlen, plen);
    log_msg(rt->log, LOG_INFO, "user-event name=%s from=%s id=%u payload=%s seq=%llu", name,
            u->origin, (unsigned)u->id, safe, (unsigned long long)seq);
}

static void rt_notify(void *ctx, const struct swim_notification *n)
{
    struct rt *rt = ctx;
    if (rt->intercept != NULL && rt->intercept(rt->intercept_ctx, n))
        return; /* a query or a direct message: the interceptor publishes what is an event */
    /* Every notification goes through the bus first, so it has its place
     * in the one sequence that every local subscriber sees. */
    uint64_t seq = 0;
    int prc = ev_bus_publish(rt->bus, n, clock_wall_ms(), &seq);
    if (prc != 0 && prc != ERR_MALFORMED) /* a malformed user payload is logged below */
        log_msg(rt->log, LOG_WARN, "event not published: %s", err_strerror(prc));
    switch (n->type) {
    case SWIM_EV_MEMBER_JOINED:
    case SWIM_EV_MEMBER_UPDATED:
    case SWIM_EV_MEMBER_ALIVE:
    case SWIM_EV_MEMBER_REAPED:
        rt_log_member(rt, LOG_INFO, swim_event_name(n->type), &n->member, seq);
        break;
    case SWIM_EV_MEMBER_LEFT:
        rt_log_member(rt, LOG_INFO, swim_event_name(n->type), &n->member, seq);
        join_member_lost(rt->join);
        break;
    case SWIM_EV_MEMBER_SUSPECT:
        rt_log_member(rt, LOG_WARN, swim_event_name(n->type), &n->member, seq);
        break;
    case SWIM_EV_MEMBER_FAILED:
        rt_log_member(rt, LOG_WARN, swim_event_name(n->type), &n->member, seq);
        join_member_lost(rt->join);
        break;
    case SWIM_EV_USER:
        rt_log_user(rt, &n->user, seq, prc);
        break;
    case SWIM_EV_SELF_ACTIVE:
        rt->active = 1;
        log_msg(rt->log, LOG_INFO, "%s name=%s seq=%llu", swim_event_name(n->type), n->member.name,
                (unsigned long long)seq);
        join_self_active(rt->join);
        break;
    case SWIM_EV_SELF_IDLE:
        rt->active = 0;
        log_msg(rt->log, LOG_INFO, "%s name=%s seq=%llu", swim_event_name(n->type), n->member.name,
                (unsigned long long)seq);
        if (rt->leaving)
            rt_exit(rt);
        else
            join_self_idle(rt->join);
        break;
    case SWIM_EV_SELF_DEFUNCT:
    case SWIM_EV_SELF_REJOINED:
        log_msg(rt->log, LOG_WARN, "%s name=%s generation=%llu seq=%llu", swim_event_name(n->type),
                n->member.name, (unsigned long long)n->member.generation, (unsigned long long)seq);
        break;
    case SWIM_EV_DIRECT: /* no interceptor: nobody expects direct messages */
        log_msg(rt->log, LOG_DEBUG, "direct message from=%s dropped", n->user.origin);
        break;
    }
}

/* ---- loop handlers -------------------------------------------------------- */

/* Open the sealed datagram in[0..len) into rt->plain; 0, or the error
 * (counted and logged, rate-limited). */
static int rt_open(struct rt *rt, const struct swim_addr *src, const uint8_t *in, size_t len,
                   uint64_t now, size_t *plen)
{
    int rc = keyring_open(rt->kr, (const uint8_t *)rt->label, strlen(rt->label), in, len, rt->plain,
                          sizeof(rt->plain), plen);
    if (rc == 0) {
        /* Authentic, but maybe a replay: its stamp (sender, time, counter)
         * must be fresh and new (replay.h). */
        struct keyring_stamp st;
        if (keyring_stamp(in, len, &st) == 0 && replay_admit(rt->replay, &st, clock_wall_ms()) == 0)
            return 0;
        rt->stats.replays_refused++;
        return ERR_STALE;
    }
    rt->stats.decrypt_failures++;
    uint64_t suppressed = 0;
    if (log_limit_allow(&rt->decrypt_limit, now, &suppressed)) {
        char a[ADDR_TEXT_MAX];
        log_msg(rt->log, LOG_WARN,
                "decrypt-failed from=%s len=%zu reason=\"%s\" total=%llu suppressed=%llu",
                addr_format(src, a), len, err_strerror(rc),
                (unsigned long long)rt->stats.decrypt_failures, (unsigned long long)suppressed);
    }
    return rc;
}

/* One received datagram: counted, opened when sealed, handed to the core. */
static void rt_on_datagram(struct rt *rt, const uint8_t *in, size_t n, const struct sockaddr *from,
                           int truncated)
{
    rt->stats.packets_in++;
    rt->stats.bytes_in += (uint64_t)n;
    if (truncated || n > RT_DGRAM_MAX) {
        rt->stats.dropped_oversize++;
        return;
    }
    struct swim_addr src;
    if (addr_from_sockaddr(&src, from) != 0)
        return;
    uint64_t now = clock_mono_ms();
    const uint8_t *data = in;
    size_t len = n;
    if (rt->kr != NULL) {
        if (rt_open(rt, &src, in, n, now, &len) != 0)
            return;
        data = rt->plain;
    }
    swim_handle_packet(rt->swim, &src, data, len, now);
}

/* Read batches until one comes back short (the socket is empty) or
 * RT_READS_PER_WAKEUP datagrams were taken. */
static void rt_read_udp(struct rt *rt, evutil_socket_t fd)
{
    struct mmsghdr msgs[RT_RECV_BATCH];
    struct iovec iov[RT_RECV_BATCH];
    struct sockaddr_storage from[RT_RECV_BATCH];
    for (int taken = 0; taken < RT_READS_PER_WAKEUP;) {
        unsigned want = RT_READS_PER_WAKEUP - taken < RT_RECV_BATCH
                            ? (unsigned)(RT_READS_PER_WAKEUP - taken)
                            : RT_RECV_BATCH;
        memset(msgs, 0, sizeof(msgs));
        for (unsigned i = 0; i < want; i++) {
            iov[i] = (struct iovec){rt->rx[i], sizeof(rt->rx[i])};
            msgs[i].msg_hdr.msg_name = &from[i];
            msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        /* MSG_TRUNC: msg_len is the datagram's whole length, so an
         * oversized one is counted as such. */
        int n = recvmmsg(fd, msgs, want, MSG_DONTWAIT | MSG_TRUNC, NULL);
        rt->stats.recv_calls++;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_msg(rt->log, LOG_DEBUG, "recvmmsg: %s", strerror(errno));
            return;
        }
        for (int i = 0; i < n; i++) {
            rt_on_datagram(rt, rt->rx[i], msgs[i].msg_len, (const struct sockaddr *)&from[i],
                           (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0);
            if (rt->done)
                return;
        }
        if ((unsigned)n < want)
            return; /* short: nothing more is queued */
        taken += n;
    }
}

/* The socket is readable (level-triggered: libevent calls again while
 * anything is queued). */
static void rt_on_udp(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct rt *rt = arg;
    rt_read_udp(rt, fd);
    rt_run_chores(rt);
}

static void rt_on_leave_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct rt *rt = arg;
    log_msg(rt->log, LOG_WARN, "leave did not finish in time; exiting");
    rt_exit(rt);
}

int rt_leave(struct rt *rt, const char *why)
{
    if (rt->leaving)
        return ERR_STATE;
    rt->leaving = 1;
    join_stop(rt->join);
    log_msg(rt->log, LOG_INFO, "leaving reason=%s", why);
    if (rt->on_leave != NULL)
        rt->on_leave(rt->on_leave_ctx);
    if (swim_leave(rt->swim, clock_mono_ms()) != 0) {
        rt_exit(rt);
        return 0;
    }
    struct timeval tv = clock_tv((uint64_t)rt->scfg.leave_linger_ms + RT_LEAVE_GRACE_MS);
    evtimer_add(rt->leave_ev, &tv);
    return 0;
}

void rt_exit(struct rt *rt)
{
    rt->done = 1;
    event_base_loopexit(rt->base, NULL);
}

/* ---- life cycle ------------------------------------------------------------ */

struct rt *rt_new(const struct rt_config *cfg, char *err, size_t errlen)
{
    struct rt *rt = calloc(1, sizeof(*rt));
    if (rt == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rt->base = cfg->base;
    rt->log = cfg->log;
    rt->bus = cfg->bus;
    rt->kr = cfg->kr;
    rt->scfg = *cfg->scfg;
    rt->on_leave = cfg->on_leave;
    rt->on_leave_ctx = cfg->on_leave_ctx;
    rt->udp.fd = -1;
    for (size_t i = 0; i < RT_TIMER_BUCKETS; i++)
        LIST_INIT(&rt->timers[i]);
    LIST_INIT(&rt->chores);
    snprintf(rt->label, sizeof(rt->label), "%s", cfg->label != NULL ? cfg->label : "");
    log_limit_create(&rt->decrypt_limit, RT_DECRYPT_LOG_WINDOW_MS, RT_DECRYPT_LOG_BURST);
    if (rt->kr != NULL && (rt->replay = replay_new(clock_wall_ms())) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (udp_open(cfg->bind, cfg->advertise, rt->log, &rt->udp, err, errlen) != 0)
        goto fail;
    uint64_t seed;
    randombytes_buf(&seed, sizeof(seed));
    struct swim_runtime vt = {rt, rt_notify, rt_send_to, rt_submit_after, rt_cancel, NULL};
    rt->swim = swim_new(&rt->scfg, cfg->name, &rt->udp.self, cfg->generation, seed, &vt);
    if (rt->swim == NULL) {
        snprintf(err, errlen, "cannot create the SWIM instance (bad name or profile?)");
        goto fail;
    }
    if (cfg->tags_len > 0 &&
        swim_set_meta(rt->swim, cfg->tags, cfg->tags_len, clock_mono_ms()) != 0) {
        snprintf(err, errlen, "tags: rejected by the core");
        goto fail;
    }
    struct join_config jc = {
        .base = rt->base,
        .log = rt->log,
        .core = rt->swim,
        .family = rt->udp.family,
        .self = &rt->udp.self,
        .period_ms = rt->scfg.probe_interval_ms,
        .seeds = cfg->seeds,
        .seed_count = cfg->seed_count,
    };
    rt->join = join_new(&jc);
    rt->udp_ev = event_new(rt->base, rt->udp.fd, EV_READ | EV_PERSIST, rt_on_udp, rt);
    rt->leave_ev = evtimer_new(rt->base, rt_on_leave_deadline, rt);
    if (rt->join == NULL || rt->udp_ev == NULL || rt->leave_ev == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return rt;
fail:
    rt_delete(rt);
    return NULL;
}

int rt_start(struct rt *rt)
{
    event_add(rt->udp_ev, NULL);
    int rc = swim_start(rt->swim, clock_mono_ms());
    if (rc != 0) {
        log_msg(rt->log, LOG_ERROR, "cannot start: %s", err_strerror(rc));
        return rc;
    }
    join_start(rt->join);
    return 0;
}

int rt_run(struct rt *rt)
{
    int rc = rt_start(rt);
    if (rc != 0)
        return rc;
    if (event_base_dispatch(rt->base) < 0) {
        log_msg(rt->log, LOG_ERROR, "event loop failed");
        return ERR_SYS;
    }
    return rt->done ? 0 : ERR_STATE;
}

void rt_stop(struct rt *rt)
{
    if (rt->stopped)
        return;
    rt->stopped = 1;
    if (rt->udp_ev != NULL)
        event_del(rt->udp_ev);
    if (rt->leave_ev != NULL)
        event_del(rt->leave_ev);
    for (size_t i = 0; i < RT_TIMER_BUCKETS; i++)
        while (!LIST_EMPTY(&rt->timers[i]))
            rt_timer_free(rt, LIST_FIRST(&rt->timers[i]));
    if (rt->join != NULL)
        join_stop(rt->join);
}

void rt_delete(struct rt *rt)
{
    if (rt == NULL)
        return;
    rt_stop(rt);
    join_delete(rt->join);
    if (rt->swim != NULL)
        swim_delete(rt->swim);
    if (rt->udp_ev != NULL)
        event_free(rt->udp_ev);
    if (rt->leave_ev != NULL)
        event_free(rt->leave_ev);
    if (rt->udp.fd >= 0)
        close(rt->udp.fd);
    replay_delete(rt->replay);
    free(rt);
}

/* ---- accessors ---------------------------------------------------------------- */

void rt_set_intercept(struct rt *rt, rt_intercept_f f, void *ctx)
{
    rt->intercept = f;
    rt->intercept_ctx = ctx;
}

struct swim *rt_core(struct rt *rt)
{
    return rt->swim;
}

struct join *rt_join(struct rt *rt)
{
    return rt->join;
}

const char *rt_self_text(const struct rt *rt)
{
    return rt->udp.self_text;
}

void rt_get_stats(const struct rt *rt, struct rt_stats *out)
{
    *out = rt->stats;
    out->timers = rt->ntimers;
    out->active = rt->active;
    out->leaving = rt->leaving;
}

const struct swim_config *rt_swim_config(const struct rt *rt)
{
    return &rt->scfg;
}
