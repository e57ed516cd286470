/*
 * agent.c - see agent.h for the model.
 *
 * Layout: set-up of each part in dependency order (agent_new), systemd's
 * notifications next to the set-up that arms them; signals and reload; the
 * run with its shutdown; agent_delete in reverse order.
 */
#include "agent.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bridge.h"
#include "clock.h"
#include "control.h"
#include "err.h"
#include "events.h"
#include "handlers.h"
#include "join.h"
#include "keyops.h"
#include "keyring.h"
#include "metrics_http.h"
#include "rt.h"
#include "sdnotify.h"
#include "snapshot_writer.h"
#include "query.h"
#include "stream.h"
#include "tags.h"

struct agent {
    struct cfg cfg;
    int argc;
    char *const *argv;
    struct log *log;
    struct swim_config scfg;
    uint64_t generation;
    struct event_base *base;
    struct keyring *kr;
    struct keyops *keyops; /* NULL without a keyring */
    struct tags *tags;
    struct ev_bus *bus;
    struct rt *rt;
    struct streams *streams;
    struct bridge *bridge;
    struct snapw *snapw;  /* NULL without --snapshot */
    struct hd_runner *hd; /* NULL without --event-handler */
    struct query *query;
    struct control *control;
    struct control_env env;
    struct metrics_http *metrics; /* NULL without --metrics */
    struct sdn sdn;               /* systemd's notify socket (disabled without one) */
    struct event *sig_term, *sig_int, *sig_hup;
    struct event *drain_timer;
    struct event *watchdog; /* NULL without a systemd watchdog */
    struct event *status_timer;
    char status[SDN_MESSAGE_MAX]; /* the last STATUS= sent */
    int stopping;                 /* STOPPING=1 was sent */
    int draining;
    int drain_over; /* the drain deadline passed, or a signal cut it short */
};

/* ---- set-up ------------------------------------------------------------ */

static int agent_setup_keyring(struct agent *a, char *err, size_t errlen)
{
    const char *path = a->cfg.keyring;
    if (path[0] == '\0')
        return 0;
    int line = 0;
    a->kr = keyring_new();
    int rc = a->kr != NULL ? keyring_load_file(a->kr, path, &line) : ERR_NOMEM;
    if (rc == ERR_IO)
        snprintf(err, errlen, "keyring %s: %s", path, strerror(errno));
    else if (rc == ERR_INVAL)
        snprintf(err, errlen, "keyring %s line %d: not a base64 %d-byte key", path, line,
                 KEYRING_KEY_BYTES);
    else if (rc == ERR_NOTFOUND)
        snprintf(err, errlen, "keyring %s: no key in the file", path);
    else if (rc != 0)
        snprintf(err, errlen, "keyring %s: %s", path, err_strerror(rc));
    if (rc == 0 && (a->keyops = keyops_new(a->kr, path, a->log)) == NULL) {
        snprintf(err, errlen, "keyring %s: out of memory", path);
        rc = ERR_NOMEM;
    }
    if (rc != 0)
        return rc;
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
        log_msg(a->log, LOG_WARN, "keyring %s is readable by others (mode %03o); use 0600", path,
                (unsigned)(st.st_mode & 0777));
    /* Keep sealed datagrams within the configured ceiling. */
    if (a->scfg.max_packet - KEYRING_OVERHEAD >= SWIM_PACKET_MIN)
        a->scfg.max_packet -= KEYRING_OVERHEAD;
    return 0;
}

static void agent_on_leave(void *arg);

/* The runtime, joining the --join seeds or, without them, the snapshot's. */
static int agent_setup_runtime(struct agent *a, char *err, size_t errlen)
{
    struct snapw_restored *restored = calloc(1, sizeof(*restored));
    const char *seeds[JOIN_SEEDS_MAX];
    size_t nseeds = 0;
    if (restored == NULL) {
        snprintf(err, errlen, "out of memory");
        return ERR_NOMEM;
    }
    restored->generation = clock_wall_ms();
    if (a->cfg.snapshot[0] != '\0')
        snapw_restore(a->cfg.snapshot, a->cfg.name, a->cfg.join_count > 0, a->log, restored);
    a->generation = restored->generation;
    for (size_t i = 0; i < a->cfg.join_count; i++)
        seeds[nseeds++] = a->cfg.join[i];
    for (size_t i = 0; a->cfg.join_count == 0 && i < restored->seed_count; i++)
        seeds[nseeds++] = restored->seeds[i];
    struct rt_config rc = {
        .on_leave = agent_on_leave,
        .on_leave_ctx = a,
        .base = a->base,
        .log = a->log,
        .bus = a->bus,
        .kr = a->kr,
        .label = a->cfg.label,
        .name = a->cfg.name,
        .bind = a->cfg.bind,
        .advertise = a->cfg.advertise,
        .scfg = &a->scfg,
        .generation = a->generation,
        .tags = a->cfg.tags,
        .tags_len = a->cfg.tags_len,
        .seeds = seeds,
        .seed_count = nseeds,
    };
    a->rt = rt_new(&rc, err, errlen);
    free(restored);
    return a->rt != NULL ? 0 : ERR_SYS;
}

/* The bus's subscribers on the loop: streams, the bridge, the snapshot. */
static int agent_setup_subscribers(struct agent *a, char *err, size_t errlen)
{
    struct streams_config sc = {a->base, a->bus, a->log, a->cfg.watch_queue};
    a->streams = streams_new(&sc);
    if (a->streams == NULL) {
        snprintf(err, errlen, "out of memory");
        return ERR_NOMEM;
    }
    struct bridge_config bc = {a->base,           a->bus,    rt_core(a->rt), a->log,
                               monitor_on_report, a->streams};
    a->bridge = bridge_new(&bc, err, errlen);
    if (a->bridge == NULL)
        return ERR_SYS;
    if (a->cfg.snapshot[0] == '\0')
        return 0;
    struct snapw_config wc = {a->base, a->bus,      rt_core(a->rt),
                              a->log,  a->cfg.name, a->cfg.snapshot};
    a->snapw = snapw_new(&wc, err, errlen);
    return a->snapw != NULL ? 0 : ERR_SYS;
}

/* Queries: asked through the control socket, answered by handlers. */
/* An internal query's answer from this node's keyring (query_internal_f). */
static int agent_answer_keys(void *ctx, const char *origin, const uint8_t *payload, size_t len,
                             uint8_t *out, size_t cap, size_t *out_len)
{
    int n = keyops_handle(ctx, origin, payload, len, out, cap);
    if (n < 0)
        return n; /* cannot happen: cap is QUERY_RESPONSE_MAX; ack only */
    *out_len = (size_t)n;
    return 0;
}

static int agent_setup_query(struct agent *a, char *err, size_t errlen)
{
    struct query_config qc = {a->base, a->rt, a->bus, a->log, a->tags, a->cfg.name};
    a->query = query_new(&qc);
    if (a->query == NULL) {
        snprintf(err, errlen, "queries: out of memory or descriptors");
        return ERR_NOMEM;
    }
    /* With keys, this node answers `keys` (keyops.h); without, it only acks. */
    int rc = a->keyops != NULL
                 ? query_register(a->query, KEYMSG_QUERY_NAME, agent_answer_keys, a->keyops)
                 : 0;
    if (rc != 0)
        snprintf(err, errlen, "queries: cannot register %s: %s", KEYMSG_QUERY_NAME,
                 err_strerror(rc));
    return rc;
}

/* Parse the --event-handler specs and start the runner (if any). */
static int agent_setup_handlers(struct agent *a, char *err, size_t errlen)
{
    if (a->cfg.handler_count == 0)
        return 0;
    struct ev_handler_spec *specs = calloc(a->cfg.handler_count, sizeof(*specs));
    if (specs == NULL) {
        snprintf(err, errlen, "out of memory");
        return ERR_NOMEM;
    }
    for (size_t i = 0; i < a->cfg.handler_count; i++) {
        char e[CFG_ERR_MAX / 2] = "";
        if (ev_handler_spec_parse(a->cfg.handlers[i], &specs[i], e, sizeof(e)) != 0) {
            snprintf(err, errlen, "--event-handler \"%.80s\": %s", a->cfg.handlers[i], e);
            free(specs);
            return ERR_INVAL;
        }
    }
    struct hd_config hc = {
        .bus = a->bus,
        .log = a->log,
        .specs = specs,
        .count = a->cfg.handler_count,
        .timeout_ms = a->cfg.handler_timeout_ms,
        .self_name = a->cfg.name,
        .self_addr = rt_self_text(a->rt),
        .self_tags = a->cfg.tags,
        .self_tags_len = a->cfg.tags_len,
        .on_answer = query_handler_output,
        .answer_ctx = a->query,
    };
    int rc = 0;
    a->hd = hd_runner_new(&hc, &rc);
    free(specs); /* copied by the runner */
    if (a->hd == NULL) {
        snprintf(err, errlen, "event handlers: cannot start: %s", err_strerror(rc));
        return rc != 0 ? rc : ERR_SYS;
    }
    log_msg(a->log, LOG_INFO, "event handlers=%zu timeout_ms=%u", a->cfg.handler_count,
            (unsigned)a->cfg.handler_timeout_ms);
    return 0;
}

static void agent_on_signal(evutil_socket_t sig, short what, void *arg);
static void agent_on_drain_deadline(evutil_socket_t fd, short what, void *arg);

/* ---- systemd ------------------------------------------------------------ */

/* Members by status for STATUS=, sent only when it changed. */
static void agent_send_status(struct agent *a)
{
    if (!a->sdn.enabled || a->stopping)
        return;
    size_t n[SWIM_LEFT + 1];
    swim_count_members(rt_core(a->rt), n);
    char status[SDN_MESSAGE_MAX];
    snprintf(status, sizeof(status), "%s: %zu alive, %zu suspect, %zu failed, %zu left",
             a->cfg.name, n[SWIM_ALIVE], n[SWIM_SUSPECT], n[SWIM_FAILED], n[SWIM_LEFT]);
    if (strcmp(status, a->status) == 0)
        return;
    memcpy(a->status, status, sizeof(status));
    if (sdn_status(&a->sdn, "%s", status) != 0)
        log_msg(a->log, LOG_DEBUG, "sd_notify STATUS: %s", strerror(errno));
}

static void agent_on_status_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    agent_send_status(arg);
}

/* A loop that runs this timer is not stuck: tell the watchdog. */
static void agent_on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct agent *a = arg;
    if (sdn_watchdog_ping(&a->sdn) != 0)
        log_msg(a->log, LOG_WARN, "sd_notify WATCHDOG: %s", strerror(errno));
}

/* The loop's first turn: the UDP socket is bound and the control socket
 * listens (both since agent_new), so swimd serves from now on. */
static void agent_on_ready(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct agent *a = arg;
    if (a->stopping) /* a signal came first */
        return;
    if (sdn_ready(&a->sdn) != 0)
        log_msg(a->log, LOG_WARN, "sd_notify READY: %s", strerror(errno));
    agent_send_status(a);
    if (a->watchdog != NULL)
        agent_on_watchdog(-1, 0, a);
}

/* STOPPING=1, once: a leave began, or the loop ended without one. */
static void agent_on_leave(void *arg)
{
    struct agent *a = arg;
    if (a->stopping)
        return;
    a->stopping = 1;
    if (sdn_stopping(&a->sdn) != 0 || sdn_status(&a->sdn, "%s: leaving", a->cfg.name) != 0)
        log_msg(a->log, LOG_DEBUG, "sd_notify STOPPING: %s", strerror(errno));
}

/* The watchdog and status timers (when systemd asks for them). */
static int agent_setup_systemd(struct agent *a, char *err, size_t errlen)
{
    if (!a->sdn.enabled)
        return 0;
    a->status_timer = event_new(a->base, -1, EV_PERSIST, agent_on_status_timer, a);
    uint64_t ms = sdn_watchdog_interval_ms(&a->sdn);
    if (ms > 0)
        a->watchdog = event_new(a->base, -1, EV_PERSIST, agent_on_watchdog, a);
    if (a->status_timer == NULL || (ms > 0 && a->watchdog == NULL)) {
        snprintf(err, errlen, "out of memory");
        return ERR_NOMEM;
    }
    if (ms > 0)
        log_msg(a->log, LOG_INFO, "systemd watchdog: a ping every %llu ms", (unsigned long long)ms);
    return 0;
}

static int agent_setup_control(struct agent *a, char *err, size_t errlen)
{
    a->env = (struct control_env){
        .rt = a->rt,
        .tags = a->tags,
        .bus = a->bus,
        .streams = a->streams,
        .bridge = a->bridge,
        .hd = a->hd,
        .kr = a->kr,
        .keyops = a->keyops,
        .query = a->query,
        .log = a->log,
        .cfg = &a->cfg,
    };
    a->control = control_new(a->base, &a->env, err, errlen);
    if (a->control == NULL)
        return ERR_SYS;
    if (a->cfg.metrics[0] != '\0') {
        a->metrics = metrics_http_new(a->base, a->cfg.metrics, control_get_env(a->control), a->log,
                                      err, errlen);
        if (a->metrics == NULL)
            return ERR_SYS;
    }
    a->sig_term = evsignal_new(a->base, SIGTERM, agent_on_signal, a);
    a->sig_int = evsignal_new(a->base, SIGINT, agent_on_signal, a);
    a->sig_hup = evsignal_new(a->base, SIGHUP, agent_on_signal, a);
    a->drain_timer = evtimer_new(a->base, agent_on_drain_deadline, a);
    if (a->sig_term == NULL || a->sig_int == NULL || a->sig_hup == NULL || a->drain_timer == NULL) {
        snprintf(err, errlen, "out of memory");
        return ERR_NOMEM;
    }
    return 0;
}

struct agent *agent_new(const struct cfg *cfg, int argc, char *const *argv, struct log *lg,
                        char *err, size_t errlen)
{
    struct agent *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->cfg = *cfg;
    a->argc = argc;
    a->argv = argv;
    a->log = lg;
    /* Before any thread starts (the handler runner): the variables are
     * removed so that handlers do not inherit them. */
    if (sdn_create(&a->sdn, 1) != 0)
        log_msg(lg, LOG_WARN, "NOTIFY_SOCKET is not an absolute path or @name; not notifying");
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to start");
        goto fail;
    }
    if (cfg_protocol(cfg, &a->scfg, err, errlen) != 0 || agent_setup_keyring(a, err, errlen) != 0)
        goto fail;
    a->tags = tags_new();
    if (a->tags == NULL || tags_load(a->tags, cfg->tags, cfg->tags_len) != 0) {
        snprintf(err, errlen, "tags: invalid");
        goto fail;
    }
    a->base = rt_base_new();
    if (a->base == NULL) {
        snprintf(err, errlen, "libevent: cannot create an event base");
        goto fail;
    }
    struct ev_bus_config bc = {.history = cfg->event_history};
    a->bus = ev_bus_new(&bc);
    if (a->bus == NULL) {
        snprintf(err, errlen, "out of memory for the event bus");
        goto fail;
    }
    if (agent_setup_runtime(a, err, errlen) != 0 || agent_setup_subscribers(a, err, errlen) != 0 ||
        agent_setup_query(a, err, errlen) != 0 || agent_setup_handlers(a, err, errlen) != 0 ||
        agent_setup_control(a, err, errlen) != 0 || agent_setup_systemd(a, err, errlen) != 0)
        goto fail;
    return a;
fail:
    agent_delete(a);
    return NULL;
}

/* ---- signals and reload ---------------------------------------------------- */

static void agent_reload(struct agent *a)
{
    struct cfg *c = malloc(sizeof(*c));
    char err[CFG_ERR_MAX] = "";
    enum cfg_action action;
    if (c == NULL)
        return;
    if (cfg_parse_args(c, a->argc, a->argv, &action, err, sizeof(err)) != 0) {
        log_msg(a->log, LOG_WARN, "reload failed, keeping the running config: %s", err);
        free(c);
        return;
    }
    log_set_level(a->log, c->log_level);
    size_t cur_len;
    const uint8_t *cur = tags_bytes(a->tags, &cur_len);
    if (cur_len != c->tags_len || memcmp(cur, c->tags, cur_len) != 0) {
        int rc = control_set_tags(&a->env, c->tags, c->tags_len);
        if (rc != 0)
            log_msg(a->log, LOG_WARN, "reload: tags not applied: %s", err_strerror(rc));
    }
    memcpy(a->cfg.tags, c->tags, c->tags_len);
    a->cfg.tags_len = c->tags_len;
    a->cfg.log_level = c->log_level;
    log_msg(a->log, LOG_INFO, "reloaded log_level=%s tags=%zu", log_level_name(c->log_level),
            tags_count(a->tags));
    free(c);
}

static void agent_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct agent *a = arg;
    if (sig == SIGHUP) {
        agent_reload(a);
        return;
    }
    if (a->draining) { /* shutting down already: stop waiting for watchers */
        a->drain_over = 1;
        return;
    }
    if (rt_leave(a->rt, sig == SIGTERM ? "SIGTERM" : "SIGINT") == ERR_STATE) {
        log_msg(a->log, LOG_WARN, "second signal: exiting without waiting for the leave");
        rt_exit(a->rt);
    }
}

/* ---- run and shutdown ------------------------------------------------------- */

static void agent_on_drain_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct agent *a = arg;
    a->drain_over = 1;
}

/* Watchers still flushing or name lookups still ending. */
static int agent_draining(const struct agent *a)
{
    struct join_stats js;
    join_get_stats(rt_join(a->rt), &js);
    return streams_watchers(a->streams) > 0 || js.lookups > 0;
}

/* See "Shutdown" in agent.h. */
static void agent_wind_down(struct agent *a)
{
    agent_on_leave(a); /* STOPPING=1, unless the leave sent it */
    if (a->snapw != NULL)
        snapw_final(a->snapw); /* the last word: this run's final view */
    rt_stop(a->rt);
    ev_bus_end(a->bus);
    a->draining = 1;
    struct timeval tv = clock_tv(AGENT_DRAIN_MS);
    evtimer_add(a->drain_timer, &tv);
    /* Each pass runs what is ready, waiting for at least one event; the
     * deadline timer bounds the wait. */
    while (!a->drain_over && agent_draining(a))
        event_base_loop(a->base, EVLOOP_ONCE);
    evtimer_del(a->drain_timer);
}

int agent_run(struct agent *a)
{
    evsignal_add(a->sig_term, NULL);
    evsignal_add(a->sig_int, NULL);
    evsignal_add(a->sig_hup, NULL);
    log_msg(a->log, LOG_INFO,
            "started name=%s addr=%s generation=%llu profile=%s encrypted=%s socket=%s",
            a->cfg.name, rt_self_text(a->rt), (unsigned long long)a->generation, a->cfg.profile,
            a->kr != NULL ? "yes" : "no", a->cfg.socket_path);
    if (a->snapw != NULL) /* record this start's generation at once */
        snapw_start(a->snapw);
    struct timeval now = {0, 0}, status = clock_tv(AGENT_STATUS_MS);
    if (event_base_once(a->base, -1, EV_TIMEOUT, agent_on_ready, a, &now) != 0)
        log_msg(a->log, LOG_WARN, "cannot schedule the READY notification");
    if (a->status_timer != NULL)
        evtimer_add(a->status_timer, &status);
    if (a->watchdog != NULL) {
        struct timeval tv = clock_tv(sdn_watchdog_interval_ms(&a->sdn));
        evtimer_add(a->watchdog, &tv);
    }
    int rc = rt_run(a->rt);
    agent_wind_down(a);
    if (rc == 0)
        log_msg(a->log, LOG_INFO, "exiting name=%s", a->cfg.name);
    return rc;
}

void agent_delete(struct agent *a)
{
    if (a == NULL)
        return;
    metrics_http_delete(a->metrics); /* reads what control_delete() frees */
    control_delete(a->control);      /* closes every stream: watchers, monitor clients */
    streams_delete(a->streams);
    ev_bus_end(a->bus); /* done by the run already; not after a failed start */
    hd_runner_delete(a->hd);
    query_delete(a->query); /* after the runner, which writes its answers */
    snapw_delete(a->snapw);
    bridge_delete(a->bridge);
    rt_delete(a->rt);
    ev_bus_delete(a->bus);
    struct event *evs[] = {a->sig_term,    a->sig_int,  a->sig_hup,
                           a->drain_timer, a->watchdog, a->status_timer};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i] != NULL)
            event_free(evs[i]);
    if (a->base != NULL)
        event_base_free(a->base);
    tags_delete(a->tags);
    keyops_delete(a->keyops);
    keyring_delete(a->kr);
    free(a);
}
