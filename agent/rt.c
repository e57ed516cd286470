/*
 * rt.c - see rt.h for the model.
 *
 * Layout: set-up (socket, addresses, core), the runtime callbacks the core
 * calls, the loop-side handlers (UDP readable, timer fired, signals, join
 * timer), and the control-socket commands, which read the core's member
 * table and answer as JSON.
 */
#include "rt.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <ifaddrs.h>
#include <jansson.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "ctl.h"
#include "err.h"
#include "events.h"
#include "handlers.h"
#include "keyring.h"
#include "replay.h"
#include "links.h"
#include "snapshot.h"
#include "swim.h"
#include "tags.h"

/* Datagrams read per wakeup: bounded so timers and the control socket get
 * their turn under a flood (libuv's figure). */
#define RT_READS_PER_WAKEUP 32
/* Receive buffer: the largest UDP payload, so no datagram is cut silently. */
#define RT_DGRAM_MAX 65536
/* Kernel socket buffers: room for a burst of gossip to a large cluster
 * while the loop is busy (memberlist asks for the same). */
#define RT_SOCKBUF_BYTES (2 * 1024 * 1024)
/* Addresses one seed (a name with many records) may expand to per attempt. */
#define RT_SEED_ADDRS_MAX 8
/* Join backoff starts at one protocol period and doubles up to this many
 * periods, so a lone node keeps looking without flooding a dead seed. */
#define RT_JOIN_BACKOFF_MAX_PERIODS 32
/* While active but smaller than the seed list, re-announce this often (in
 * periods): often enough to heal a partition in well under a minute on a LAN. */
#define RT_REANNOUNCE_PERIODS 30
/* Extra time after leave_linger_ms before exiting without SELF_IDLE. */
#define RT_LEAVE_GRACE_MS 2000
/* Decrypt-failure log lines: at most this many per window ... */
#define RT_DECRYPT_LOG_BURST 5
/* ... of this length, so a stray or hostile sender cannot flood the log. */
#define RT_DECRYPT_LOG_WINDOW_MS 10000
/* User event names are short identifiers, like Serf's. */
#define RT_EVENT_NAME_MAX 64
/* Addresses accepted in one control "join" request. */
#define RT_CTL_JOIN_MAX CFG_JOIN_MAX
/* Rejoin seeds taken from a snapshot: enough to find a live member of a
 * cluster even when most of the recorded ones are gone, few enough that one
 * join attempt stays a handful of datagrams. */
#define RT_SNAP_SEEDS_MAX 64
/* Items read from one subscriber per wakeup (bridge, snapshot, watchers),
 * so a burst of events cannot starve the UDP socket. */
#define RT_ITEMS_PER_WAKEUP 64
/* The bridge's queue: the loop reads it every turn, so a few hundred
 * events cover any burst between two turns; beyond it the history repairs
 * the gap (EV_LAG_RECOVER).  Each slot is ~1.5 KB. */
#define RT_BRIDGE_QUEUE 256
/* The snapshot writer only needs to know that something changed. */
#define RT_SNAPSHOT_QUEUE 64
/* A watcher stops being fed while its client has this much unread output;
 * its queue then fills and it lags rather than growing our heap. */
#define RT_WATCH_OUTPUT_HIGH (CTL_OUTPUT_MAX / 2)

/* One streaming control connection: a watcher and/or a monitor client. */
struct rt_stream {
    struct rt *rt;
    struct ctl_conn *conn;
    uint64_t id; /* the connection's id, also the ml cookie */
    struct ev_sub *sub;
    struct event *sub_ev;
    uint32_t types;
    int paused; /* not reading the subscriber until the output drains */
    int ended;  /* closing; nothing more is sent */
    int has_client;
    uint64_t client;
    int in_monitor;   /* inside ml_client_new() for this stream */
    size_t immediate; /* reports made during ml_client_new() */
    struct rt_stream *prev, *next;
};

struct rt_timer {
    struct rt *rt;
    struct event *ev;
    struct swim_timer t;
    uint64_t due; /* rt_now() + delay at submission: never handed back earlier */
    struct rt_timer *prev, *next;
};

struct rt {
    struct cfg cfg;
    int argc;
    char *const *argv;
    struct log *log;
    struct event_base *base;
    struct swim *swim;
    struct swim_config scfg;
    struct keyring *kr;
    struct tags *tags;
    struct ctl *ctl;
    int fd;
    int family;
    struct event *udp_ev;
    struct event *sig_term, *sig_int, *sig_hup;
    struct event *join_ev;
    struct event *leave_ev;
    struct rt_timer *timers;
    size_t ntimers;
    struct swim_addr self_addr;
    char self_text[ADDR_TEXT_MAX];
    uint64_t generation;
    int active;
    int leaving;
    int done;
    int fatal;
    uint32_t join_backoff_ms;
    uint32_t join_attempts;
    uint64_t packets_in, packets_out, bytes_in, bytes_out;
    uint64_t decrypt_failures, send_errors, dropped_oversize;
    struct replay *replay;    /* with a keyring: datagrams admitted once, while fresh */
    uint64_t replays_refused; /* sealed datagrams replayed, too old, or from too many senders */
    struct log_limit decrypt_limit;
    struct ev_bus *bus;
    struct ml *ml;
    struct hd_runner *hd;
    struct ev_sub *bridge_sub, *snap_sub;
    struct event *bridge_ev, *snap_ev, *snap_timer;
    struct snap_writer snapw;
    size_t seed_count; /* rejoin seeds from the snapshot (used without --join) */
    char seeds[RT_SNAP_SEEDS_MAX][ADDR_TEXT_MAX];
    struct rt_stream *streams;
    uint8_t rx[RT_DGRAM_MAX];
    uint8_t plain[RT_DGRAM_MAX];
    uint8_t tx[RT_DGRAM_MAX];
};

static uint64_t rt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t rt_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct timeval rt_tv(uint64_t ms)
{
    struct timeval tv;
    tv.tv_sec = (time_t)(ms / 1000);
    tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
    return tv;
}

static const char *rt_label(const struct rt *rt, size_t *len)
{
    *len = strlen(rt->cfg.label);
    return rt->cfg.label;
}

/* ---- runtime interface ------------------------------------------------ */

static void rt_send_to(void *ctx, const struct swim_addr *to, const uint8_t *data, size_t len)
{
    struct rt *rt = ctx;
    struct sockaddr_storage ss;
    socklen_t sslen;
    if (addr_to_sockaddr(&ss, &sslen, to, rt->family) != 0) {
        rt->send_errors++;
        return;
    }
    const uint8_t *out = data;
    size_t outlen = len;
    if (rt->kr != NULL) {
        size_t adlen;
        const char *ad = rt_label(rt, &adlen);
        if (keyring_seal(rt->kr, (const uint8_t *)ad, adlen, data, len, rt->tx, sizeof(rt->tx),
                         &outlen) != 0) {
            rt->send_errors++;
            return;
        }
        out = rt->tx;
    }
    ssize_t n = sendto(rt->fd, out, outlen, MSG_DONTWAIT, (struct sockaddr *)&ss, sslen);
    if (n < 0) {
        rt->send_errors++;
        if (log_enabled(rt->log, LOG_DEBUG)) {
            char a[ADDR_TEXT_MAX];
            log_msg(rt->log, LOG_DEBUG, "send-error to=%s: %s", addr_format(to, a),
                    strerror(errno));
        }
        return;
    }
    rt->packets_out++;
    rt->bytes_out += (uint64_t)n;
}

static void rt_on_timer(evutil_socket_t fd, short what, void *arg);

static void rt_submit_after(void *ctx, const struct swim_timer *t, uint64_t delay_ms)
{
    struct rt *rt = ctx;
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
    tm->due = rt_now() + delay_ms;
    tm->next = rt->timers;
    if (rt->timers != NULL)
        rt->timers->prev = tm;
    rt->timers = tm;
    rt->ntimers++;
    struct timeval tv = rt_tv(delay_ms);
    evtimer_add(tm->ev, &tv);
}

static void rt_timer_free(struct rt *rt, struct rt_timer *tm)
{
    if (tm->prev != NULL)
        tm->prev->next = tm->next;
    else
        rt->timers = tm->next;
    if (tm->next != NULL)
        tm->next->prev = tm->prev;
    rt->ntimers--;
    event_free(tm->ev);
    free(tm);
}

static void rt_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct rt_timer *tm = arg;
    struct rt *rt = tm->rt;
    uint64_t now = rt_now();
    if (now < tm->due) {
        /* libevent measures from the loop's cached time, so a timer set late
         * in a busy turn can fire a few ms early by our clock; the core may
         * drop a timer that comes before its deadline (a suspicion would
         * then never end), so wait out the rest. */
        struct timeval tv = rt_tv(tm->due - now);
        evtimer_add(tm->ev, &tv);
        return;
    }
    struct swim_timer t = tm->t;
    rt_timer_free(rt, tm);
    swim_handle_timer(rt->swim, &t, now);
}

static void rt_join_arm(struct rt *rt, uint64_t delay_ms);

/* Join seeds: the --join list, or without one the snapshot's members. */
static size_t rt_join_count(const struct rt *rt)
{
    return rt->cfg.join_count > 0 ? rt->cfg.join_count : rt->seed_count;
}

static const char *rt_join_text(const struct rt *rt, size_t i)
{
    return rt->cfg.join_count > 0 ? rt->cfg.join[i] : rt->seeds[i];
}

static void rt_log_member(struct rt *rt, enum log_level level, const char *what,
                          const struct swim_member_info *m, uint64_t seq)
{
    char a[ADDR_TEXT_MAX];
    log_msg(rt->log, level, "%s name=%s addr=%s status=%s generation=%llu incarnation=%u seq=%llu",
            what, m->name, addr_format(&m->addr, a), swim_status_name(m->status),
            (unsigned long long)m->generation, (unsigned)m->incarnation, (unsigned long long)seq);
}

static void rt_log_user(struct rt *rt, const struct swim_user_info *u, uint64_t seq)
{
    /* Payload: | u8 name length | name | data |, see rt_cmd_event. */
    if (u->len < 1 || u->payload[0] == 0 || (size_t)u->payload[0] + 1 > u->len) {
        log_msg(rt->log, LOG_WARN, "user-event from=%s: malformed payload (%u bytes)", u->origin,
                (unsigned)u->len);
        return;
    }
    int nlen = u->payload[0];
    int plen = (int)u->len - 1 - nlen;
    char safe[SWIM_USER_MAX + 1];
    for (int i = 0; i < plen; i++) {
        unsigned char c = u->payload[1 + nlen + i];
        safe[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
    }
    safe[plen] = '\0';
    char name[256];
    for (int i = 0; i < nlen; i++) {
        unsigned char c = u->payload[1 + i];
        name[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
    }
    name[nlen] = '\0';
    log_msg(rt->log, LOG_INFO, "user-event name=%s from=%s id=%u payload=%s seq=%llu", name,
            u->origin, (unsigned)u->id, safe, (unsigned long long)seq);
}

static void rt_notify(void *ctx, const struct swim_notification *n)
{
    struct rt *rt = ctx;
    /* Every notification goes through the bus first, so it has its place
     * in the one sequence that every local subscriber sees. */
    uint64_t seq = 0;
    int prc = ev_bus_publish(rt->bus, n, rt_wall_ms(), &seq);
    if (prc != 0 && prc != ERR_MALFORMED) /* a malformed user payload is logged below */
        log_msg(rt->log, LOG_WARN, "event not published: %s", err_strerror(prc));
    switch (n->type) {
    case SWIM_EV_MEMBER_JOINED:
    case SWIM_EV_MEMBER_UPDATED:
    case SWIM_EV_MEMBER_ALIVE:
    case SWIM_EV_MEMBER_LEFT:
    case SWIM_EV_MEMBER_REAPED:
        rt_log_member(rt, LOG_INFO, swim_event_name(n->type), &n->member, seq);
        break;
    case SWIM_EV_MEMBER_SUSPECT:
    case SWIM_EV_MEMBER_FAILED:
        rt_log_member(rt, LOG_WARN, swim_event_name(n->type), &n->member, seq);
        break;
    case SWIM_EV_USER:
        rt_log_user(rt, &n->user, seq);
        break;
    case SWIM_EV_SELF_ACTIVE:
        rt->active = 1;
        rt->join_backoff_ms = rt->scfg.probe_interval_ms;
        log_msg(rt->log, LOG_INFO, "%s name=%s seq=%llu", swim_event_name(n->type), n->member.name,
                (unsigned long long)seq);
        if (rt_join_count(rt) > 0 && !rt->leaving)
            rt_join_arm(rt, (uint64_t)rt->scfg.probe_interval_ms * RT_REANNOUNCE_PERIODS);
        break;
    case SWIM_EV_SELF_IDLE:
        rt->active = 0;
        log_msg(rt->log, LOG_INFO, "%s name=%s seq=%llu", swim_event_name(n->type), n->member.name,
                (unsigned long long)seq);
        if (rt->leaving) {
            rt->done = 1;
            event_base_loopexit(rt->base, NULL);
        } else if (rt_join_count(rt) > 0) {
            rt->join_backoff_ms = rt->scfg.probe_interval_ms;
            rt_join_arm(rt, rt->join_backoff_ms);
        }
        break;
    case SWIM_EV_SELF_DEFUNCT:
    case SWIM_EV_SELF_REJOINED:
        log_msg(rt->log, LOG_WARN, "%s name=%s generation=%llu seq=%llu", swim_event_name(n->type),
                n->member.name, (unsigned long long)n->member.generation, (unsigned long long)seq);
        break;
    }
}

/* ---- joining ------------------------------------------------------------ */

/* Announce to every address `text` resolves to; returns how many. */
static int rt_announce_text(struct rt *rt, const char *text, uint64_t now)
{
    struct sockaddr_storage ss[RT_SEED_ADDRS_MAX];
    size_t n = 0;
    if (addr_resolve(text, CFG_DEFAULT_PORT, 1, ss, RT_SEED_ADDRS_MAX, &n) != 0 &&
        addr_resolve(text, CFG_DEFAULT_PORT, 0, ss, RT_SEED_ADDRS_MAX, &n) != 0) {
        log_msg(rt->log, LOG_DEBUG, "join: cannot resolve %s", text);
        return 0;
    }
    int sent = 0;
    for (size_t i = 0; i < n; i++) {
        if (ss[i].ss_family == AF_INET6 && rt->family == AF_INET)
            continue; /* an IPv4 socket cannot reach it */
        struct swim_addr a;
        if (addr_from_sockaddr(&a, (struct sockaddr *)&ss[i]) != 0)
            continue;
        if (a.len == rt->self_addr.len && memcmp(a.bytes, rt->self_addr.bytes, a.len) == 0)
            continue;
        if (rt->family == AF_INET && a.bytes[0] != 4)
            continue;
        if (swim_announce(rt->swim, &a, now) == 0)
            sent++;
    }
    return sent;
}

static void rt_join_arm(struct rt *rt, uint64_t delay_ms)
{
    /* Up to 25% jitter, so nodes restarted together do not announce in step. */
    uint64_t jitter = delay_ms / 4 > 0 ? randombytes_uniform((uint32_t)(delay_ms / 4) + 1) : 0;
    struct timeval tv = rt_tv(delay_ms + jitter);
    evtimer_add(rt->join_ev, &tv);
}

static void rt_on_join(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct rt *rt = arg;
    size_t nseeds = rt_join_count(rt);
    if (rt->leaving || nseeds == 0)
        return;
    uint64_t period = rt->scfg.probe_interval_ms;
    size_t active = swim_active_count(rt->swim);
    if (rt->active && active + 1 >= nseeds) {
        rt_join_arm(rt, period * RT_REANNOUNCE_PERIODS); /* big enough: just look again later */
        return;
    }
    uint64_t now = rt_now();
    int sent = 0;
    for (size_t i = 0; i < nseeds; i++)
        sent += rt_announce_text(rt, rt_join_text(rt, i), now);
    rt->join_attempts++;
    log_msg(rt->log, rt->join_attempts == 1 ? LOG_INFO : LOG_DEBUG,
            "join attempt=%u announced=%d active=%zu", (unsigned)rt->join_attempts, sent, active);
    if (rt->active) {
        rt_join_arm(rt, period * RT_REANNOUNCE_PERIODS);
    } else {
        rt_join_arm(rt, rt->join_backoff_ms);
        uint64_t next = (uint64_t)rt->join_backoff_ms * 2;
        uint64_t max = period * RT_JOIN_BACKOFF_MAX_PERIODS;
        rt->join_backoff_ms = (uint32_t)(next < max ? next : max);
    }
}

/* ---- loop handlers -------------------------------------------------------- */

static void rt_on_udp(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct rt *rt = arg;
    for (int i = 0; i < RT_READS_PER_WAKEUP; i++) {
        struct sockaddr_storage from;
        socklen_t fromlen = sizeof(from);
        ssize_t n = recvfrom(fd, rt->rx, sizeof(rt->rx), MSG_DONTWAIT | MSG_TRUNC,
                             (struct sockaddr *)&from, &fromlen);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                log_msg(rt->log, LOG_DEBUG, "recvfrom: %s", strerror(errno));
            return;
        }
        rt->packets_in++;
        rt->bytes_in += (uint64_t)n;
        if ((size_t)n > sizeof(rt->rx)) {
            rt->dropped_oversize++;
            continue;
        }
        struct swim_addr src;
        if (addr_from_sockaddr(&src, (struct sockaddr *)&from) != 0)
            continue;
        uint64_t now = rt_now();
        const uint8_t *data = rt->rx;
        size_t len = (size_t)n;
        if (rt->kr != NULL) {
            size_t adlen, plen = 0;
            const char *ad = rt_label(rt, &adlen);
            int rc = keyring_open(rt->kr, (const uint8_t *)ad, adlen, rt->rx, len, rt->plain,
                                  sizeof(rt->plain), &plen);
            if (rc != 0) {
                rt->decrypt_failures++;
                uint64_t suppressed = 0;
                if (log_limit_allow(&rt->decrypt_limit, now, &suppressed)) {
                    char a[ADDR_TEXT_MAX];
                    log_msg(rt->log, LOG_WARN,
                            "decrypt-failed from=%s len=%zu reason=\"%s\" total=%llu "
                            "suppressed=%llu",
                            addr_format(&src, a), len, err_strerror(rc),
                            (unsigned long long)rt->decrypt_failures,
                            (unsigned long long)suppressed);
                }
                continue;
            }
            struct keyring_stamp st;
            if (keyring_stamp(rt->rx, len, &st) != 0 ||
                replay_admit(rt->replay, &st, rt_wall_ms()) != 0) {
                rt->replays_refused++;
                continue;
            }
            data = rt->plain;
            len = plen;
        }
        swim_handle_packet(rt->swim, &src, data, len, now);
        if (rt->done)
            return;
    }
}

static void rt_begin_leave(struct rt *rt, const char *why)
{
    if (rt->leaving)
        return;
    rt->leaving = 1;
    evtimer_del(rt->join_ev);
    log_msg(rt->log, LOG_INFO, "leaving reason=%s", why);
    if (swim_leave(rt->swim, rt_now()) != 0) {
        rt->done = 1;
        event_base_loopexit(rt->base, NULL);
        return;
    }
    struct timeval tv = rt_tv((uint64_t)rt->scfg.leave_linger_ms + RT_LEAVE_GRACE_MS);
    evtimer_add(rt->leave_ev, &tv);
}

static void rt_on_leave_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct rt *rt = arg;
    log_msg(rt->log, LOG_WARN, "leave did not finish in time; exiting");
    rt->done = 1;
    event_base_loopexit(rt->base, NULL);
}

static void rt_reload(struct rt *rt)
{
    struct cfg *c = malloc(sizeof(*c));
    char err[CFG_ERR_MAX] = "";
    enum cfg_action action;
    if (c == NULL)
        return;
    if (cfg_parse_args(c, rt->argc, rt->argv, &action, err, sizeof(err)) != 0) {
        log_msg(rt->log, LOG_WARN, "reload failed, keeping the running config: %s", err);
        free(c);
        return;
    }
    log_set_level(rt->log, c->log_level);
    size_t cur_len;
    const uint8_t *cur = tags_bytes(rt->tags, &cur_len);
    if (cur_len != c->tags_len || memcmp(cur, c->tags, cur_len) != 0) {
        tags_load(rt->tags, c->tags, c->tags_len);
        swim_set_meta(rt->swim, c->tags, c->tags_len, rt_now());
        if (rt->hd != NULL)
            hd_runner_set_self(rt->hd, rt->cfg.name, rt->self_text, c->tags, c->tags_len);
    }
    memcpy(rt->cfg.tags, c->tags, c->tags_len);
    rt->cfg.tags_len = c->tags_len;
    rt->cfg.log_level = c->log_level;
    log_msg(rt->log, LOG_INFO, "reloaded log_level=%s tags=%zu", log_level_name(c->log_level),
            tags_count(rt->tags));
    free(c);
}

static void rt_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct rt *rt = arg;
    if (sig == SIGHUP) {
        rt_reload(rt);
        return;
    }
    if (rt->leaving) {
        log_msg(rt->log, LOG_WARN, "second signal: exiting without waiting for the leave");
        rt->done = 1;
        event_base_loopexit(rt->base, NULL);
        return;
    }
    rt_begin_leave(rt, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* ---- control commands ------------------------------------------------------- */

static json_t *rt_member_json(const struct swim_member_info *m)
{
    char a[ADDR_TEXT_MAX];
    int malformed;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    json_object_set_new(o, "name", json_string(m->name));
    json_object_set_new(o, "addr", json_string(addr_format(&m->addr, a)));
    json_object_set_new(o, "status", json_string(swim_status_name(m->status)));
    json_object_set_new(o, "incarnation", json_integer(m->incarnation));
    json_object_set_new(o, "generation", json_integer((json_int_t)m->generation));
    json_object_set_new(o, "tags", ev_json_tags(m->meta, m->meta_len, &malformed));
    if (malformed)
        json_object_set_new(o, "tags_malformed", json_true());
    return o;
}

static json_t *rt_cmd_members(struct rt *rt)
{
    json_t *arr = json_array();
    struct swim_member_info m;
    swim_self(rt->swim, &m);
    json_array_append_new(arr, rt_member_json(&m));
    size_t n = swim_member_count(rt->swim);
    for (size_t i = 0; i < n; i++)
        if (swim_member_at(rt->swim, i, &m) == 0)
            json_array_append_new(arr, rt_member_json(&m));
    json_t *reply = json_object();
    json_object_set_new(reply, "members", arr);
    return reply;
}

static json_t *rt_cmd_info(struct rt *rt)
{
    struct swim_member_info m;
    struct swim_stats st;
    size_t counts[4] = {0, 0, 0, 0};
    swim_self(rt->swim, &m);
    counts[m.status <= SWIM_LEFT ? m.status : 0]++;
    swim_get_stats(rt->swim, &st);
    json_t *self = rt_member_json(&m);
    uint32_t incarnation = m.incarnation;
    size_t n = swim_member_count(rt->swim);
    for (size_t i = 0; i < n; i++)
        if (swim_member_at(rt->swim, i, &m) == 0 && m.status <= SWIM_LEFT)
            counts[m.status]++;
    json_t *c = json_pack("{s:I,s:I,s:I,s:I}", "alive", (json_int_t)counts[SWIM_ALIVE], "suspect",
                          (json_int_t)counts[SWIM_SUSPECT], "failed",
                          (json_int_t)counts[SWIM_FAILED], "left", (json_int_t)counts[SWIM_LEFT]);
    json_t *o = json_object();
    json_object_set_new(o, "self", self);
    json_object_set_new(o, "counts", c);
    json_object_set_new(o, "incarnation", json_integer(incarnation));
    json_object_set_new(o, "packets_in", json_integer((json_int_t)rt->packets_in));
    json_object_set_new(o, "packets_out", json_integer((json_int_t)rt->packets_out));
    json_object_set_new(o, "bytes_in", json_integer((json_int_t)rt->bytes_in));
    json_object_set_new(o, "bytes_out", json_integer((json_int_t)rt->bytes_out));
    json_object_set_new(o, "decrypt_failures", json_integer((json_int_t)rt->decrypt_failures));
    json_object_set_new(o, "replays_refused", json_integer((json_int_t)rt->replays_refused));
    json_object_set_new(o, "malformed", json_integer((json_int_t)st.malformed));
    json_object_set_new(o, "send_errors", json_integer((json_int_t)rt->send_errors));
    json_object_set_new(o, "health", json_integer(st.health));
    json_object_set_new(o, "pending_updates", json_integer(st.pending_updates));
    json_object_set_new(o, "probes", json_integer((json_int_t)st.probes));
    json_object_set_new(o, "probe_failures", json_integer((json_int_t)st.probe_failures));
    json_object_set_new(o, "suspicions", json_integer((json_int_t)st.suspicions));
    json_object_set_new(o, "refutations", json_integer((json_int_t)st.refutations));
    json_object_set_new(o, "tables_refused", json_integer((json_int_t)st.tables_refused));
    json_object_set_new(o, "name_conflicts", json_integer((json_int_t)st.name_conflicts));
    json_object_set_new(o, "max_members", json_integer(rt->scfg.max_members));
    json_object_set_new(o, "members_refused", json_integer((json_int_t)st.members_refused));
    json_object_set_new(o, "answers_capped", json_integer((json_int_t)st.answers_capped));
    json_object_set_new(o, "encrypted", json_boolean(rt->kr != NULL));
    json_object_set_new(o, "keys", json_integer(rt->kr ? (json_int_t)keyring_count(rt->kr) : 0));
    json_object_set_new(o, "label", json_string(rt->cfg.label));
    json_object_set_new(o, "profile", json_string(rt->cfg.profile));
    json_object_set_new(o, "active", json_boolean(rt->active));
    json_object_set_new(o, "leaving", json_boolean(rt->leaving));
    json_object_set_new(o, "timers", json_integer((json_int_t)rt->ntimers));
    json_object_set_new(o, "event_clock", json_integer((json_int_t)ev_bus_clock(rt->bus)));
    json_object_set_new(o, "event_first_held",
                        json_integer((json_int_t)ev_bus_first_held(rt->bus)));
    json_object_set_new(o, "snapshot", json_string(rt->cfg.snapshot));
    if (rt->hd != NULL) {
        struct hd_stats hs;
        hd_runner_stats(rt->hd, &hs);
        json_object_set_new(o, "handlers",
                            json_pack("{s:I,s:I,s:I,s:I,s:I}", "position", (json_int_t)hs.position,
                                      "runs", (json_int_t)hs.runs, "failures",
                                      (json_int_t)hs.failures, "timeouts", (json_int_t)hs.timeouts,
                                      "lost", (json_int_t)hs.lost));
    }
    return o;
}

static json_t *rt_cmd_join(struct rt *rt, json_t *req, char *err)
{
    json_t *addrs = json_object_get(req, "addrs");
    if (!json_is_array(addrs) || json_array_size(addrs) == 0 ||
        json_array_size(addrs) > RT_CTL_JOIN_MAX) {
        snprintf(err, CTL_ERR_MAX, "join needs \"addrs\": an array of 1 to %d strings",
                 RT_CTL_JOIN_MAX);
        return NULL;
    }
    if (rt->leaving) {
        snprintf(err, CTL_ERR_MAX, "this node is leaving");
        return NULL;
    }
    uint64_t now = rt_now();
    int sent = 0;
    size_t i;
    json_t *e;
    json_array_foreach(addrs, i, e)
    {
        if (!json_is_string(e)) {
            snprintf(err, CTL_ERR_MAX, "join: addrs must be strings");
            return NULL;
        }
    }
    json_array_foreach(addrs, i, e)
    {
        sent += rt_announce_text(rt, json_string_value(e), now);
    }
    if (sent == 0) {
        snprintf(err, CTL_ERR_MAX, "join: no address could be resolved and reached");
        return NULL;
    }
    log_msg(rt->log, LOG_INFO, "join requested announced=%d", sent);
    return json_pack("{s:i}", "announced", sent);
}

static json_t *rt_cmd_force_leave(struct rt *rt, json_t *req, char *err)
{
    const char *name = json_string_value(json_object_get(req, "name"));
    if (name == NULL) {
        snprintf(err, CTL_ERR_MAX, "force-leave needs a string \"name\"");
        return NULL;
    }
    int rc = swim_force_leave(rt->swim, name, rt_now());
    if (rc == ERR_NOTFOUND) {
        snprintf(err, CTL_ERR_MAX, "no member named \"%.64s\"", name);
        return NULL;
    }
    if (rc == ERR_STATE) {
        snprintf(err, CTL_ERR_MAX, "member \"%.64s\" is not failed", name);
        return NULL;
    }
    if (rc != 0) {
        snprintf(err, CTL_ERR_MAX, "force-leave: %s", err_strerror(rc));
        return NULL;
    }
    log_msg(rt->log, LOG_INFO, "force-leave name=%s", name);
    return json_object();
}

static json_t *rt_tags_reply(struct rt *rt)
{
    size_t len;
    int malformed;
    const uint8_t *b = tags_bytes(rt->tags, &len);
    return json_pack("{s:o}", "tags", ev_json_tags(b, len, &malformed));
}

/* Apply a tag edit to a copy, then to the node only if all of it is valid. */
static json_t *rt_cmd_tags(struct rt *rt, json_t *req, int set, char *err)
{
    struct tags *t = tags_new();
    if (t == NULL) {
        snprintf(err, CTL_ERR_MAX, "out of memory");
        return NULL;
    }
    size_t len;
    const uint8_t *b = tags_bytes(rt->tags, &len);
    tags_load(t, b, len);
    int rc = 0;
    if (set) {
        json_t *obj = json_object_get(req, "tags");
        const char *k;
        json_t *v;
        if (!json_is_object(obj) || json_object_size(obj) == 0) {
            snprintf(err, CTL_ERR_MAX, "tags-set needs \"tags\": an object of string values");
            rc = ERR_INVAL;
        } else {
            json_object_foreach(obj, k, v)
            {
                const char *s = json_string_value(v);
                if (s == NULL || strlen(s) != json_string_length(v) ||
                    (rc = tags_set(t, k, s)) != 0) {
                    rc = rc == ERR_TOOBIG ? rc : ERR_INVAL;
                    if (rc == ERR_TOOBIG)
                        snprintf(err, CTL_ERR_MAX, "tags would exceed %d encoded bytes",
                                 SWIM_META_MAX);
                    else
                        snprintf(err, CTL_ERR_MAX,
                                 "bad tag \"%.40s\": key 1-255 bytes without '=' or ',', "
                                 "string value up to 255 bytes",
                                 k);
                    break;
                }
            }
        }
    } else {
        json_t *keys = json_object_get(req, "keys");
        size_t i;
        json_t *e;
        if (!json_is_array(keys) || json_array_size(keys) == 0) {
            snprintf(err, CTL_ERR_MAX, "tags-delete needs \"keys\": an array of strings");
            rc = ERR_INVAL;
        } else {
            json_array_foreach(keys, i, e)
            {
                if (!json_is_string(e)) {
                    snprintf(err, CTL_ERR_MAX, "tags-delete: keys must be strings");
                    rc = ERR_INVAL;
                    break;
                }
                tags_unset(t, json_string_value(e)); /* absent keys are fine */
            }
        }
    }
    if (rc == 0) {
        b = tags_bytes(t, &len);
        rc = swim_set_meta(rt->swim, b, len, rt_now());
        if (rc != 0)
            snprintf(err, CTL_ERR_MAX, "cannot set tags: %s", err_strerror(rc));
        else
            tags_load(rt->tags, b, len);
        if (rc == 0 && rt->hd != NULL)
            hd_runner_set_self(rt->hd, rt->cfg.name, rt->self_text, b, len);
    }
    tags_delete(t);
    if (rc != 0)
        return NULL;
    log_msg(rt->log, LOG_INFO, "tags %s count=%zu", set ? "set" : "deleted", tags_count(rt->tags));
    return rt_tags_reply(rt);
}

static json_t *rt_cmd_event(struct rt *rt, json_t *req, char *err)
{
    const char *name = json_string_value(json_object_get(req, "name"));
    json_t *pj = json_object_get(req, "payload");
    const char *payload = pj != NULL ? json_string_value(pj) : "";
    if (name == NULL || name[0] == '\0' || strlen(name) > RT_EVENT_NAME_MAX || payload == NULL) {
        snprintf(err, CTL_ERR_MAX,
                 "event needs a \"name\" (1 to %d bytes) and an optional string \"payload\"",
                 RT_EVENT_NAME_MAX);
        return NULL;
    }
    size_t nlen = strlen(name), plen = pj != NULL ? json_string_length(pj) : 0;
    if (1 + nlen + plen > SWIM_USER_MAX) {
        snprintf(err, CTL_ERR_MAX, "event too large: name and payload exceed %d bytes",
                 SWIM_USER_MAX - 1);
        return NULL;
    }
    uint8_t buf[SWIM_USER_MAX];
    buf[0] = (uint8_t)nlen;
    memcpy(buf + 1, name, nlen);
    memcpy(buf + 1 + nlen, payload, plen);
    int rc = swim_broadcast(rt->swim, buf, 1 + nlen + plen, rt_now());
    if (rc != 0) {
        snprintf(err, CTL_ERR_MAX, "event: %s", err_strerror(rc));
        return NULL;
    }
    return json_object();
}

/* ---- streams: watch and monitor --------------------------------------------- */

static void rt_stream_on_close(void *arg, struct ctl_conn *conn)
{
    (void)conn;
    struct rt_stream *st = arg;
    struct rt *rt = st->rt;
    if (st->sub_ev != NULL)
        event_free(st->sub_ev);
    ev_sub_close(st->sub);
    if (st->has_client)
        ml_client_delete(rt->ml, st->client);
    if (st->prev != NULL)
        st->prev->next = st->next;
    else
        rt->streams = st->next;
    if (st->next != NULL)
        st->next->prev = st->prev;
    log_msg(rt->log, LOG_DEBUG, "stream closed conn=%llu", (unsigned long long)st->id);
    free(st);
}

static void rt_stream_on_drain(void *arg, struct ctl_conn *conn)
{
    (void)conn;
    struct rt_stream *st = arg;
    if (!st->paused || st->ended || st->sub_ev == NULL)
        return;
    st->paused = 0;
    event_add(st->sub_ev, NULL);
    event_active(st->sub_ev, EV_READ, 0); /* what queued up meanwhile */
}

/* The stream of a connection, made on first use.  NULL when out of memory. */
static struct rt_stream *rt_stream_get(struct rt *rt, struct ctl_conn *conn)
{
    for (struct rt_stream *st = rt->streams; st != NULL; st = st->next)
        if (st->conn == conn)
            return st;
    struct rt_stream *st = calloc(1, sizeof(*st));
    if (st == NULL)
        return NULL;
    st->rt = rt;
    st->conn = conn;
    st->id = ctl_conn_id(conn);
    st->next = rt->streams;
    if (rt->streams != NULL)
        rt->streams->prev = st;
    rt->streams = st;
    ctl_conn_set_hooks(conn, rt_stream_on_close, rt_stream_on_drain, st);
    return st;
}

/* Say the last words and close; the close hook frees the stream later. */
static void rt_stream_end(struct rt_stream *st, json_t *last)
{
    if (last != NULL) {
        ctl_conn_send_json(st->conn, last);
        json_decref(last);
    }
    if (st->sub_ev != NULL)
        event_del(st->sub_ev);
    st->ended = 1;
    ctl_conn_close(st->conn);
}

static void rt_stream_send(struct rt_stream *st, json_t *line)
{
    if (line == NULL)
        return; /* out of memory: the client sees a gap in seq and can resume */
    ctl_conn_send_json(st->conn, line);
    json_decref(line);
}

/* A watcher's subscriber is readable.  Filtered-out events and clocks of
 * one batch are merged into one clock line, sent only when no event line
 * already carries a later seq. */
static void rt_on_watch(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct rt_stream *st = arg;
    struct ev_event ev;
    struct ev_item item;
    uint64_t clock = 0;
    if (st->ended)
        return;
    for (int i = 0; i < RT_ITEMS_PER_WAKEUP; i++) {
        if (ctl_conn_unread(st->conn) > RT_WATCH_OUTPUT_HIGH) {
            event_del(st->sub_ev); /* resumed by rt_stream_on_drain */
            st->paused = 1;
            break;
        }
        if (ev_sub_try_recv(st->sub, &item, &ev) != 0)
            break;
        switch (item.kind) {
        case EV_ITEM_EVENT:
            if ((EV_MASK(ev.type) & st->types) == 0) {
                clock = item.seq;
            } else {
                clock = 0;
                rt_stream_send(st, ev_json_event(&ev));
            }
            break;
        case EV_ITEM_CLOCK:
            clock = item.seq;
            break;
        case EV_ITEM_LAGGED:
        case EV_ITEM_LOST:
            if (clock != 0)
                rt_stream_send(st, ev_json_clock(clock));
            log_msg(st->rt->log, LOG_WARN, "watcher conn=%llu lagged first_missed=%llu",
                    (unsigned long long)st->id, (unsigned long long)item.seq);
            rt_stream_end(st, ev_json_lagged(item.seq));
            return;
        case EV_ITEM_END:
            if (clock != 0)
                rt_stream_send(st, ev_json_clock(clock));
            rt_stream_end(st, NULL);
            return;
        }
        if (i + 1 == RT_ITEMS_PER_WAKEUP)
            event_active(st->sub_ev, EV_READ, 0); /* the rest in a later turn */
    }
    if (clock != 0)
        rt_stream_send(st, ev_json_clock(clock));
}

static json_t *rt_cmd_watch(struct rt *rt, struct ctl_conn *conn, json_t *req, char *err)
{
    json_t *jsince = json_object_get(req, "since");
    json_t *jtypes = json_object_get(req, "types");
    uint32_t types = EV_MASK_ALL;
    if (conn == NULL) {
        snprintf(err, CTL_ERR_MAX, "watch needs a connection");
        return NULL;
    }
    if (jsince != NULL && (!json_is_integer(jsince) || json_integer_value(jsince) < 0)) {
        snprintf(err, CTL_ERR_MAX, "watch: \"since\" must be a sequence number (0 or more)");
        return NULL;
    }
    if (jtypes != NULL) {
        char e[CTL_ERR_MAX / 2] = "";
        if (!json_is_string(jtypes) ||
            ev_types_parse(json_string_value(jtypes), &types, e, sizeof(e)) != 0) {
            snprintf(err, CTL_ERR_MAX, "watch: bad \"types\": %s",
                     e[0] != '\0' ? e : "expected a comma list of event types");
            return NULL;
        }
    }
    for (struct rt_stream *st = rt->streams; st != NULL; st = st->next) {
        if (st->conn == conn && st->sub != NULL) {
            snprintf(err, CTL_ERR_MAX, "already watching on this connection");
            return NULL;
        }
    }
    char name[32];
    snprintf(name, sizeof(name), "watch-%llu", (unsigned long long)ctl_conn_id(conn));
    uint64_t since = jsince != NULL ? (uint64_t)json_integer_value(jsince) : 0;
    struct ev_sub_config sc = {name, rt->cfg.watch_queue, EV_LAG_REPORT, jsince != NULL, since};
    struct ev_sub *sub = NULL;
    uint64_t first = 0;
    int rc = ev_sub_open(rt->bus, &sc, &sub, &first);
    if (rc == ERR_STALE) {
        snprintf(err, CTL_ERR_MAX,
                 "since %llu is older than the history: the first event held is %llu",
                 (unsigned long long)since, (unsigned long long)first);
        return NULL;
    }
    if (rc == ERR_INVAL && since > ev_bus_clock(rt->bus)) {
        snprintf(err, CTL_ERR_MAX,
                 "since %llu is ahead of this swimd's clock %llu (swimd restarted?)",
                 (unsigned long long)since, (unsigned long long)ev_bus_clock(rt->bus));
        return NULL;
    }
    if (rc != 0) {
        snprintf(err, CTL_ERR_MAX, "watch: %s", err_strerror(rc));
        return NULL;
    }
    struct rt_stream *st = rt_stream_get(rt, conn);
    int fd = ev_sub_fd(sub);
    struct event *e = st != NULL && fd >= 0
                          ? event_new(rt->base, fd, EV_READ | EV_PERSIST, rt_on_watch, st)
                          : NULL;
    if (e == NULL) {
        ev_sub_close(sub);
        snprintf(err, CTL_ERR_MAX, "watch: out of resources");
        return NULL;
    }
    st->sub = sub;
    st->sub_ev = e;
    st->types = types;
    event_add(e, NULL);
    log_msg(rt->log, LOG_DEBUG, "watch conn=%llu since=%lld", (unsigned long long)st->id,
            jsince != NULL ? (long long)since : -1LL);
    return json_pack("{s:I,s:I}", "clock", (json_int_t)ev_bus_clock(rt->bus), "first_held",
                     (json_int_t)ev_bus_first_held(rt->bus));
}

static void rt_on_link_report(void *ctx, const struct ml_report *rep)
{
    struct rt *rt = ctx;
    struct rt_stream *st = rt->streams;
    while (st != NULL && st->id != rep->cookie)
        st = st->next;
    log_msg(rt->log, LOG_INFO, "link-report member=%s reason=%s conn=%llu", rep->member,
            ml_reason_name(rep->reason), (unsigned long long)rep->cookie);
    if (st == NULL || st->ended)
        return;
    if (st->in_monitor)
        st->immediate++;
    rt_stream_send(
        st, json_pack("{s:s,s:s}", "member", rep->member, "reason", ml_reason_name(rep->reason)));
}

static json_t *rt_cmd_monitor(struct rt *rt, struct ctl_conn *conn, json_t *req, char *err)
{
    json_t *jnames = json_object_get(req, "names");
    const char *names[ML_CLIENT_NAMES_MAX];
    size_t n = json_is_array(jnames) ? json_array_size(jnames) : 0;
    if (conn == NULL || n == 0 || n > ML_CLIENT_NAMES_MAX) {
        snprintf(err, CTL_ERR_MAX, "monitor needs \"names\": an array of 1 to %d member names",
                 ML_CLIENT_NAMES_MAX);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        names[i] = json_string_value(json_array_get(jnames, i));
        if (names[i] == NULL || names[i][0] == '\0') {
            snprintf(err, CTL_ERR_MAX, "monitor: names must be non-empty strings");
            return NULL;
        }
    }
    struct rt_stream *st = rt_stream_get(rt, conn);
    if (st == NULL) {
        snprintf(err, CTL_ERR_MAX, "out of memory");
        return NULL;
    }
    if (st->has_client) {
        snprintf(err, CTL_ERR_MAX, "already monitoring on this connection");
        return NULL;
    }
    uint64_t client = 0;
    st->immediate = 0;
    st->in_monitor = 1; /* reports made now go out right after the reply */
    int rc = ml_client_new(rt->ml, st->id, names, n, &client);
    st->in_monitor = 0;
    if (rc != 0) {
        snprintf(err, CTL_ERR_MAX, "monitor: %s", err_strerror(rc));
        return NULL;
    }
    st->has_client = 1;
    st->client = client;
    log_msg(rt->log, LOG_DEBUG, "monitor conn=%llu names=%zu immediate=%zu",
            (unsigned long long)st->id, n, st->immediate);
    return json_pack("{s:I}", "immediate", (json_int_t)st->immediate);
}

/* ---- the backplane bridge and the snapshot writer ----------------------------- */

/* Bring every member's device to the core's view (after lost events). */
static void rt_bridge_resync(struct rt *rt)
{
    struct swim_member_info m;
    size_t n = swim_member_count(rt->swim);
    for (size_t i = 0; i < n; i++)
        if (swim_member_at(rt->swim, i, &m) == 0)
            ml_member_set(rt->ml, m.name, m.status);
}

static void rt_on_bridge(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct rt *rt = arg;
    struct ev_event ev;
    struct ev_item item;
    for (int i = 0; i < RT_ITEMS_PER_WAKEUP; i++) {
        if (ev_sub_try_recv(rt->bridge_sub, &item, &ev) != 0)
            return;
        if (item.kind == EV_ITEM_EVENT) {
            int rc = ml_apply(rt->ml, &ev);
            if (rc != 0)
                log_msg(rt->log, LOG_WARN, "links: %s for %s seq=%llu: %s", ev_type_name(ev.type),
                        ev.name, (unsigned long long)item.seq, err_strerror(rc));
        } else if (item.kind == EV_ITEM_LOST || item.kind == EV_ITEM_LAGGED) {
            log_msg(rt->log, LOG_WARN,
                    "links: events %llu..%llu lost; resynchronising from the member table",
                    (unsigned long long)item.seq, (unsigned long long)item.last);
            rt_bridge_resync(rt);
        } else if (item.kind == EV_ITEM_END) {
            return;
        }
    }
    event_active(rt->bridge_ev, EV_READ, 0); /* the rest in a later turn */
}

static void rt_snapshot_write(struct rt *rt)
{
    char e[SNAP_ERR_MAX] = "";
    struct swim_member_info m;
    struct snap *sn = snap_new();
    int rc = sn != NULL ? 0 : ERR_NOMEM;
    if (rc == 0) {
        swim_self(rt->swim, &m);
        rc = snap_set_self(sn, rt->cfg.name, m.generation, m.incarnation);
    }
    size_t n = swim_member_count(rt->swim);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char a[ADDR_TEXT_MAX];
        if (swim_member_at(rt->swim, i, &m) != 0 || strcmp(m.name, rt->cfg.name) == 0)
            continue;
        int arc = snap_add(sn, m.name, addr_format(&m.addr, a), m.status);
        if (arc == ERR_LIMIT)
            break; /* the snapshot keeps the first SNAP_MEMBERS_MAX */
        if (arc == ERR_NOMEM)
            rc = arc;
    }
    if (rc == 0)
        rc = snap_write(sn, rt->cfg.snapshot, e, sizeof(e));
    snap_delete(sn);
    snap_writer_done(&rt->snapw, rt_now(), rc == 0);
    if (rc != 0)
        log_msg(rt->log, LOG_WARN, "snapshot %s not written: %s", rt->cfg.snapshot,
                e[0] != '\0' ? e : err_strerror(rc));
    else
        log_msg(rt->log, LOG_DEBUG, "snapshot written members=%zu", n);
}

/* Write now if due, else make sure the timer will ask again. */
static void rt_snapshot_check(struct rt *rt)
{
    uint64_t wait = 0;
    if (snap_writer_due(&rt->snapw, rt_now(), &wait)) {
        rt_snapshot_write(rt);
    } else if (wait > 0 && !evtimer_pending(rt->snap_timer, NULL)) {
        struct timeval tv = rt_tv(wait);
        evtimer_add(rt->snap_timer, &tv);
    }
}

static void rt_on_snapshot_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    rt_snapshot_check(arg);
}

static void rt_on_snapshot_sub(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct rt *rt = arg;
    struct ev_event ev;
    struct ev_item item;
    int i;
    for (i = 0; i < RT_ITEMS_PER_WAKEUP; i++) {
        if (ev_sub_try_recv(rt->snap_sub, &item, &ev) != 0)
            break;
        if ((item.kind == EV_ITEM_EVENT && ev.type != EV_USER) || item.kind == EV_ITEM_LAGGED ||
            item.kind == EV_ITEM_LOST)
            snap_writer_mark(&rt->snapw);
    }
    if (i == RT_ITEMS_PER_WAKEUP)
        event_active(rt->snap_ev, EV_READ, 0);
    rt_snapshot_check(rt);
}

/* Read --snapshot before the core exists: a later generation, and seeds. */
static void rt_snapshot_load(struct rt *rt)
{
    char e[SNAP_ERR_MAX] = "";
    struct snap *sn = NULL;
    int rc = snap_load(rt->cfg.snapshot, &sn, e, sizeof(e));
    if (rc == ERR_NOTFOUND) {
        log_msg(rt->log, LOG_INFO, "snapshot %s: none yet, starting fresh", rt->cfg.snapshot);
        return;
    }
    if (rc != 0) {
        if (e[0] != '\0') /* the message names the file */
            log_msg(rt->log, LOG_WARN, "ignoring snapshot: %s", e);
        else
            log_msg(rt->log, LOG_WARN, "ignoring snapshot %s: %s", rt->cfg.snapshot,
                    err_strerror(rc));
        return;
    }
    if (strcmp(snap_name(sn), rt->cfg.name) != 0) {
        log_msg(rt->log, LOG_WARN, "ignoring snapshot %s: it belongs to node \"%s\", not \"%s\"",
                rt->cfg.snapshot, snap_name(sn), rt->cfg.name);
        snap_delete(sn);
        return;
    }
    if (snap_generation(sn) >= rt->generation)
        rt->generation = snap_generation(sn) + 1; /* the wall clock went back */
    /* Every recorded member is a seed, alive ones first: nodes stopped with
     * SIGTERM appear as "left" in each other's snapshots. */
    size_t n = snap_count(sn);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n && rt->seed_count < RT_SNAP_SEEDS_MAX; i++) {
            const struct snap_member *m = snap_member_at(sn, i);
            if ((m->status == SWIM_ALIVE) == (pass == 0))
                memcpy(rt->seeds[rt->seed_count++], m->addr, ADDR_TEXT_MAX);
        }
    }
    log_msg(rt->log, LOG_INFO,
            "snapshot %s: generation=%llu (was %llu) incarnation=%u members=%zu seeds=%zu%s",
            rt->cfg.snapshot, (unsigned long long)rt->generation,
            (unsigned long long)snap_generation(sn), (unsigned)snap_incarnation(sn), n,
            rt->seed_count, rt->cfg.join_count > 0 ? " (unused: --join given)" : "");
    snap_delete(sn);
}

static json_t *rt_on_request(void *ctx, struct ctl_conn *conn, const char *cmd, json_t *req,
                             char *err)
{
    struct rt *rt = ctx;
    if (strcmp(cmd, "watch") == 0)
        return rt_cmd_watch(rt, conn, req, err);
    if (strcmp(cmd, "monitor") == 0)
        return rt_cmd_monitor(rt, conn, req, err);
    if (strcmp(cmd, "members") == 0)
        return rt_cmd_members(rt);
    if (strcmp(cmd, "info") == 0)
        return rt_cmd_info(rt);
    if (strcmp(cmd, "join") == 0)
        return rt_cmd_join(rt, req, err);
    if (strcmp(cmd, "leave") == 0) {
        if (rt->leaving) {
            snprintf(err, CTL_ERR_MAX, "already leaving");
            return NULL;
        }
        rt_begin_leave(rt, "control");
        return json_pack("{s:b}", "leaving", 1);
    }
    if (strcmp(cmd, "force-leave") == 0)
        return rt_cmd_force_leave(rt, req, err);
    if (strcmp(cmd, "tags-set") == 0)
        return rt_cmd_tags(rt, req, 1, err);
    if (strcmp(cmd, "tags-delete") == 0)
        return rt_cmd_tags(rt, req, 0, err);
    if (strcmp(cmd, "event") == 0)
        return rt_cmd_event(rt, req, err);
    snprintf(err, CTL_ERR_MAX, "unknown command \"%.40s\"", cmd);
    return NULL;
}

/* ---- set-up ------------------------------------------------------------------ */

/* The first non-loopback address of `family` that is up, for advertising
 * a wildcard bind.  0 or ERR_NOTFOUND. */
static int rt_pick_interface_addr(int family, struct sockaddr_storage *out)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return ERR_NOTFOUND;
    int rc = ERR_NOTFOUND;
    for (struct ifaddrs *i = ifs; i != NULL && rc != 0; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != family || !(i->ifa_flags & IFF_UP) ||
            (i->ifa_flags & IFF_LOOPBACK))
            continue;
        if (family == AF_INET6 &&
            IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
            continue;
        memset(out, 0, sizeof(*out));
        memcpy(out, i->ifa_addr,
               family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
        rc = 0;
    }
    freeifaddrs(ifs);
    return rc;
}

static void rt_set_port(struct sockaddr_storage *ss, uint16_t port_be)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = port_be;
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = port_be;
}

static uint16_t rt_get_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_port;
    return ((const struct sockaddr_in6 *)ss)->sin6_port;
}

static int rt_setup_socket(struct rt *rt, char *err, size_t errlen)
{
    struct sockaddr_storage bind_ss;
    size_t n = 0;
    if (addr_resolve(rt->cfg.bind, CFG_DEFAULT_PORT, 0, &bind_ss, 1, &n) != 0) {
        snprintf(err, errlen, "bind: cannot resolve \"%s\"", rt->cfg.bind);
        return ERR_INVAL;
    }
    rt->family = bind_ss.ss_family;
    rt->fd = socket(rt->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (rt->fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return ERR_SYS;
    }
    int one = 1, zero = 0, buf = RT_SOCKBUF_BYTES;
    if (rt->family == AF_INET6) {
        int dual = addr_is_unspecified((struct sockaddr *)&bind_ss);
        setsockopt(rt->fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one, sizeof(int));
    }
    setsockopt(rt->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    setsockopt(rt->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    socklen_t blen =
        rt->family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (bind(rt->fd, (struct sockaddr *)&bind_ss, blen) != 0) {
        snprintf(err, errlen, "bind %s: %s", rt->cfg.bind, strerror(errno));
        return ERR_SYS;
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof(bound);
    getsockname(rt->fd, (struct sockaddr *)&bound, &bl);
    /* The advertised address: --advertise, else the bound one, else (a
     * wildcard bind) this host's first non-loopback address, IPv4 first. */
    struct sockaddr_storage adv;
    if (rt->cfg.advertise[0] != '\0') {
        if (addr_resolve(rt->cfg.advertise, -1, 0, &adv, 1, &n) != 0) {
            snprintf(err, errlen, "advertise: cannot resolve \"%s\"", rt->cfg.advertise);
            return ERR_INVAL;
        }
    } else if (!addr_is_unspecified((struct sockaddr *)&bound)) {
        adv = bound;
    } else {
        /* A dual-stack socket prefers an IPv4 address: IPv4-only peers can
         * reach it too. */
        int fam = rt->family;
        if (rt_pick_interface_addr(AF_INET, &adv) != 0 &&
            (fam != AF_INET6 || rt_pick_interface_addr(AF_INET6, &adv) != 0)) {
            memset(&adv, 0, sizeof(adv));
            if (fam == AF_INET) {
                struct sockaddr_in *s4 = (struct sockaddr_in *)&adv;
                s4->sin_family = AF_INET;
                s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            } else {
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&adv;
                s6->sin6_family = AF_INET6;
                s6->sin6_addr = in6addr_loopback;
            }
        }
        rt_set_port(&adv, rt_get_port(&bound));
    }
    if (adv.ss_family == AF_INET6 && rt->family == AF_INET) {
        snprintf(err, errlen, "advertise: an IPv6 address needs an IPv6 bind");
        return ERR_INVAL;
    }
    addr_from_sockaddr(&rt->self_addr, (struct sockaddr *)&adv);
    addr_format(&rt->self_addr, rt->self_text);
    char btext[ADDR_TEXT_MAX];
    log_msg(rt->log, LOG_INFO, "listening udp=%s advertise=%s",
            addr_format_sockaddr((struct sockaddr *)&bound, btext), rt->self_text);
    return 0;
}

/* The bridge and the snapshot writer: subscribers read from the loop. */
static int rt_setup_subscribers(struct rt *rt, char *err, size_t errlen)
{
    struct ev_sub_config bc = {"bridge", RT_BRIDGE_QUEUE, EV_LAG_RECOVER, 0, 0};
    struct ev_sub_config sc = {"snapshot", RT_SNAPSHOT_QUEUE, EV_LAG_REPORT, 0, 0};
    int rc = ev_sub_open(rt->bus, &bc, &rt->bridge_sub, NULL);
    int fd = rc == 0 ? ev_sub_fd(rt->bridge_sub) : rc;
    if (fd >= 0)
        rt->bridge_ev = event_new(rt->base, fd, EV_READ | EV_PERSIST, rt_on_bridge, rt);
    if (rt->bridge_ev == NULL) {
        snprintf(err, errlen, "event bus: cannot subscribe the member links: %s",
                 err_strerror(fd < 0 ? fd : ERR_NOMEM));
        return ERR_SYS;
    }
    event_add(rt->bridge_ev, NULL);
    if (rt->cfg.snapshot[0] == '\0')
        return 0;
    snap_writer_init(&rt->snapw, SNAP_INTERVAL_DEFAULT_MS);
    rc = ev_sub_open(rt->bus, &sc, &rt->snap_sub, NULL);
    fd = rc == 0 ? ev_sub_fd(rt->snap_sub) : rc;
    if (fd >= 0)
        rt->snap_ev = event_new(rt->base, fd, EV_READ | EV_PERSIST, rt_on_snapshot_sub, rt);
    rt->snap_timer = evtimer_new(rt->base, rt_on_snapshot_timer, rt);
    if (rt->snap_ev == NULL || rt->snap_timer == NULL) {
        snprintf(err, errlen, "event bus: cannot subscribe the snapshot writer: %s",
                 err_strerror(fd < 0 ? fd : ERR_NOMEM));
        return ERR_SYS;
    }
    event_add(rt->snap_ev, NULL);
    return 0;
}

/* Parse the --event-handler specs and start the runner (if any). */
static int rt_setup_handlers(struct rt *rt, char *err, size_t errlen)
{
    if (rt->cfg.handler_count == 0)
        return 0;
    struct hd_spec *specs = calloc(rt->cfg.handler_count, sizeof(*specs));
    if (specs == NULL) {
        snprintf(err, errlen, "out of memory");
        return ERR_NOMEM;
    }
    for (size_t i = 0; i < rt->cfg.handler_count; i++) {
        char e[CFG_ERR_MAX / 2] = "";
        if (hd_spec_parse(rt->cfg.handlers[i], &specs[i], e, sizeof(e)) != 0) {
            snprintf(err, errlen, "--event-handler \"%.80s\": %s", rt->cfg.handlers[i], e);
            free(specs);
            return ERR_INVAL;
        }
    }
    struct hd_config hc = {
        .bus = rt->bus,
        .log = rt->log,
        .specs = specs,
        .count = rt->cfg.handler_count,
        .timeout_ms = rt->cfg.handler_timeout_ms,
        .self_name = rt->cfg.name,
        .self_addr = rt->self_text,
        .self_tags = rt->cfg.tags,
        .self_tags_len = rt->cfg.tags_len,
    };
    int rc = 0;
    rt->hd = hd_runner_new(&hc, &rc);
    free(specs); /* copied by the runner */
    if (rt->hd == NULL) {
        snprintf(err, errlen, "event handlers: cannot start: %s", err_strerror(rc));
        return rc != 0 ? rc : ERR_SYS;
    }
    log_msg(rt->log, LOG_INFO, "event handlers=%zu timeout_ms=%u", rt->cfg.handler_count,
            (unsigned)rt->cfg.handler_timeout_ms);
    return 0;
}

struct rt *rt_new(const struct cfg *cfg, int argc, char *const *argv, struct log *lg, char *err,
                  size_t errlen)
{
    struct rt *rt = calloc(1, sizeof(*rt));
    if (rt == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    rt->cfg = *cfg;
    rt->argc = argc;
    rt->argv = argv;
    rt->log = lg;
    rt->fd = -1;
    log_limit_create(&rt->decrypt_limit, RT_DECRYPT_LOG_WINDOW_MS, RT_DECRYPT_LOG_BURST);
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to start");
        goto fail;
    }
    if (cfg_protocol(cfg, &rt->scfg, err, errlen) != 0)
        goto fail;
    if (cfg->keyring[0] != '\0') {
        int line = 0;
        rt->kr = keyring_new();
        int rc = rt->kr != NULL ? keyring_load_file(rt->kr, cfg->keyring, &line) : ERR_NOMEM;
        if (rc != 0) {
            if (rc == ERR_IO)
                snprintf(err, errlen, "keyring %s: %s", cfg->keyring, strerror(errno));
            else if (rc == ERR_INVAL)
                snprintf(err, errlen, "keyring %s line %d: not a base64 %d-byte key", cfg->keyring,
                         line, KEYRING_KEY_BYTES);
            else if (rc == ERR_NOTFOUND)
                snprintf(err, errlen, "keyring %s: no key in the file", cfg->keyring);
            else
                snprintf(err, errlen, "keyring %s: %s", cfg->keyring, err_strerror(rc));
            goto fail;
        }
        struct stat st;
        if (stat(cfg->keyring, &st) == 0 && (st.st_mode & 077) != 0)
            log_msg(lg, LOG_WARN, "keyring %s is readable by others (mode %03o); use 0600",
                    cfg->keyring, (unsigned)(st.st_mode & 0777));
        rt->replay = replay_new(rt_wall_ms());
        if (rt->replay == NULL) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        /* Keep sealed datagrams within the configured ceiling. */
        if (rt->scfg.max_packet - KEYRING_OVERHEAD >= SWIM_PACKET_MIN)
            rt->scfg.max_packet -= KEYRING_OVERHEAD;
    }
    rt->tags = tags_new();
    if (rt->tags == NULL || tags_load(rt->tags, cfg->tags, cfg->tags_len) != 0) {
        snprintf(err, errlen, "tags: invalid");
        goto fail;
    }
    rt->base = event_base_new();
    if (rt->base == NULL) {
        snprintf(err, errlen, "libevent: cannot create an event base");
        goto fail;
    }
    if (rt_setup_socket(rt, err, errlen) != 0)
        goto fail;
    rt->generation = rt_wall_ms();
    if (cfg->snapshot[0] != '\0')
        rt_snapshot_load(rt);
    struct ev_bus_config bc = {cfg->event_history};
    rt->bus = ev_bus_new(&bc);
    rt->ml = rt->bus != NULL ? ml_new(rt_on_link_report, rt) : NULL;
    if (rt->ml == NULL) {
        snprintf(err, errlen, "out of memory for the event bus");
        goto fail;
    }
    uint64_t seed;
    randombytes_buf(&seed, sizeof(seed));
    struct swim_runtime vt = {rt, rt_notify, rt_send_to, rt_submit_after};
    rt->swim = swim_new(&rt->scfg, cfg->name, &rt->self_addr, rt->generation, seed, &vt);
    if (rt->swim == NULL) {
        snprintf(err, errlen, "cannot create the SWIM instance (bad name or profile?)");
        goto fail;
    }
    if (cfg->tags_len > 0 && swim_set_meta(rt->swim, cfg->tags, cfg->tags_len, rt_now()) != 0) {
        snprintf(err, errlen, "tags: rejected by the core");
        goto fail;
    }
    if (rt_setup_subscribers(rt, err, errlen) != 0 || rt_setup_handlers(rt, err, errlen) != 0)
        goto fail;
    int crc = 0;
    rt->ctl = ctl_new(rt->base, cfg->socket_path, cfg->socket_mode, rt_on_request, rt, lg, &crc);
    if (rt->ctl == NULL) {
        if (crc == ERR_EXISTS)
            snprintf(err, errlen, "socket %s: in use by another process, or not a socket",
                     cfg->socket_path);
        else
            snprintf(err, errlen, "socket %s: %s", cfg->socket_path,
                     crc == ERR_SYS ? strerror(errno) : err_strerror(crc));
        goto fail;
    }
    rt->udp_ev = event_new(rt->base, rt->fd, EV_READ | EV_PERSIST, rt_on_udp, rt);
    rt->sig_term = evsignal_new(rt->base, SIGTERM, rt_on_signal, rt);
    rt->sig_int = evsignal_new(rt->base, SIGINT, rt_on_signal, rt);
    rt->sig_hup = evsignal_new(rt->base, SIGHUP, rt_on_signal, rt);
    rt->join_ev = evtimer_new(rt->base, rt_on_join, rt);
    rt->leave_ev = evtimer_new(rt->base, rt_on_leave_deadline, rt);
    if (rt->udp_ev == NULL || rt->sig_term == NULL || rt->sig_int == NULL || rt->sig_hup == NULL ||
        rt->join_ev == NULL || rt->leave_ev == NULL) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    return rt;
fail:
    rt_delete(rt);
    return NULL;
}

int rt_run(struct rt *rt)
{
    event_add(rt->udp_ev, NULL);
    evsignal_add(rt->sig_term, NULL);
    evsignal_add(rt->sig_int, NULL);
    evsignal_add(rt->sig_hup, NULL);
    log_msg(rt->log, LOG_INFO,
            "started name=%s addr=%s generation=%llu profile=%s encrypted=%s socket=%s",
            rt->cfg.name, rt->self_text, (unsigned long long)rt->generation, rt->cfg.profile,
            rt->kr != NULL ? "yes" : "no", rt->cfg.socket_path);
    if (rt->snap_sub != NULL) { /* record this start's generation at once */
        snap_writer_mark(&rt->snapw);
        rt_snapshot_check(rt);
    }
    int rc = swim_start(rt->swim, rt_now());
    if (rc != 0) {
        log_msg(rt->log, LOG_ERROR, "cannot start: %s", err_strerror(rc));
        return rc;
    }
    if (rt_join_count(rt) > 0) {
        rt->join_backoff_ms = rt->scfg.probe_interval_ms;
        struct timeval now = {0, 0};
        evtimer_add(rt->join_ev, &now);
    }
    if (event_base_dispatch(rt->base) < 0) {
        log_msg(rt->log, LOG_ERROR, "event loop failed");
        return ERR_SYS;
    }
    if (rt->snap_sub != NULL)
        rt_snapshot_write(rt); /* the last word: this run's final view */
    if (!rt->done)
        return ERR_STATE;
    log_msg(rt->log, LOG_INFO, "exiting name=%s", rt->cfg.name);
    return 0;
}

void rt_delete(struct rt *rt)
{
    if (rt == NULL)
        return;
    while (rt->timers != NULL)
        rt_timer_free(rt, rt->timers);
    if (rt->ctl != NULL)
        ctl_delete(rt->ctl); /* closes every stream: watchers, monitor clients */
    hd_runner_delete(rt->hd);
    if (rt->swim != NULL)
        swim_delete(rt->swim);
    struct event *evs[] = {rt->udp_ev,   rt->sig_term,  rt->sig_int, rt->sig_hup,   rt->join_ev,
                           rt->leave_ev, rt->bridge_ev, rt->snap_ev, rt->snap_timer};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i] != NULL)
            event_free(evs[i]);
    ev_sub_close(rt->bridge_sub);
    ev_sub_close(rt->snap_sub);
    ml_delete(rt->ml);
    ev_bus_delete(rt->bus);
    if (rt->fd >= 0)
        close(rt->fd);
    if (rt->base != NULL)
        event_base_free(rt->base);
    tags_delete(rt->tags);
    keyring_delete(rt->kr);
    replay_delete(rt->replay);
    free(rt);
}
