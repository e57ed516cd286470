/*
 * watch.c - the control command "watch": events in sequence order on a
 * control connection, from a sequence number (--since) or from now.
 *
 * Lines: the reply {"clock":N,"first_held":M,"queue":Q} (Q: the events
 * this watcher's queue holds, see the budget in stream.h), then one line per
 * item read from the connection's bus subscriber, as ev_item_show() says:
 * an event of a wanted type as itself; unwanted events and clocks as clock lines, merged
 * per batch (one clock line, sent only when no event line of the batch
 * already carries a later seq); a lag as {"lagged":true,"first_missed":N},
 * after which the connection closes and the client resumes with --since;
 * the bus's end closes it too.
 */
#include <event2/event.h>
#include <stdio.h>

#include "commands.h"
#include "err.h"
#include "stream.h"

static void watch_on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct stream *st = arg;
    struct ev_event ev;
    struct ev_item item;
    uint64_t clock = 0; /* a clock line held back, 0 for none */
    if (st->ended)
        return;
    for (int i = 0; i < STREAM_ITEMS_PER_WAKEUP; i++) {
        if (ctl_conn_unread(st->conn) > STREAM_OUTPUT_HIGH) {
            event_del(st->sub_ev); /* resumed by the drain hook */
            st->paused = 1;
            break;
        }
        if (ev_sub_try_recv(st->sub, &item, &ev) != 0)
            break;
        enum ev_show show = ev_item_show(&item, &ev, st->types);
        if (show == EV_SHOW_CLOCK) {
            clock = item.seq;
        } else if (show == EV_SHOW_EVENT) {
            clock = 0;
            stream_send(st, ev_json_item(&item, &ev, st->types));
        } else {
            if (clock != 0)
                stream_send(st, ev_json_clock(clock));
            if (show == EV_SHOW_LAG)
                log_msg(streams_config(st->ss)->log, LOG_WARN,
                        "watcher conn=%llu lagged first_missed=%llu", (unsigned long long)st->id,
                        (unsigned long long)item.seq);
            stream_end(st, ev_json_item(&item, &ev, st->types));
            return;
        }
        if (i + 1 == STREAM_ITEMS_PER_WAKEUP)
            event_active(st->sub_ev, EV_READ, 0); /* the rest in a later turn */
    }
    if (clock != 0)
        stream_send(st, ev_json_clock(clock));
}

/* Parse "since" and "types".  0, or ERR_INVAL with err filled. */
static int watch_parse(json_t *req, int *has_since, uint64_t *since, uint32_t *types, char *err)
{
    json_t *jsince = json_object_get(req, "since");
    json_t *jtypes = json_object_get(req, "types");
    if (jsince != NULL && (!json_is_integer(jsince) || json_integer_value(jsince) < 0)) {
        snprintf(err, CTL_ERR_MAX, "watch: \"since\" must be a sequence number (0 or more)");
        return ERR_INVAL;
    }
    *has_since = jsince != NULL;
    *since = jsince != NULL ? (uint64_t)json_integer_value(jsince) : 0;
    *types = EV_MASK_ALL;
    if (jtypes != NULL) {
        char e[CTL_ERR_MAX / 2] = "";
        if (!json_is_string(jtypes) ||
            ev_types_parse(json_string_value(jtypes), types, e, sizeof(e)) != 0) {
            snprintf(err, CTL_ERR_MAX, "watch: bad \"types\": %s",
                     e[0] != '\0' ? e : "expected a comma list of event types");
            return ERR_INVAL;
        }
    }
    return 0;
}

/* Open the subscriber with a queue of `queue` events; NULL with err filled
 * (the history's bounds named). */
static struct ev_sub *watch_subscribe(const struct streams_config *sc, struct ctl_conn *conn,
                                      size_t queue, int has_since, uint64_t since, char *err)
{
    char name[32];
    snprintf(name, sizeof(name), "watch-%llu", (unsigned long long)ctl_conn_id(conn));
    struct ev_sub_config cfg = {name, queue, EV_LAG_REPORT, has_since, since};
    struct ev_sub *sub = NULL;
    uint64_t first = 0;
    int rc = ev_sub_open(sc->bus, &cfg, &sub, &first);
    if (rc == ERR_STALE)
        snprintf(err, CTL_ERR_MAX,
                 "since %llu is older than the history: the first event held is %llu",
                 (unsigned long long)since, (unsigned long long)first);
    else if (rc == ERR_INVAL && since > ev_bus_clock(sc->bus))
        snprintf(err, CTL_ERR_MAX,
                 "since %llu is ahead of this swimd's clock %llu (swimd restarted?)",
                 (unsigned long long)since, (unsigned long long)ev_bus_clock(sc->bus));
    else if (rc != 0)
        snprintf(err, CTL_ERR_MAX, "watch: %s", err_strerror(rc));
    return rc == 0 ? sub : NULL;
}

json_t *cmd_watch(const struct control_env *env, struct ctl_conn *conn, json_t *req, char *err)
{
    const struct streams_config *sc = streams_config(env->streams);
    int has_since;
    uint64_t since;
    uint32_t types;
    if (conn == NULL) {
        snprintf(err, CTL_ERR_MAX, "watch needs a connection");
        return NULL;
    }
    if (watch_parse(req, &has_since, &since, &types, err) != 0)
        return NULL;
    struct stream *st = stream_find(env->streams, ctl_conn_id(conn));
    if (st != NULL && st->sub != NULL) {
        snprintf(err, CTL_ERR_MAX, "already watching on this connection");
        return NULL;
    }
    size_t queue = streams_watch_grant(env->streams);
    if (queue == 0) {
        snprintf(err, CTL_ERR_MAX,
                 "watch: too many watchers: their queues already take the budget of %u MiB",
                 STREAM_WATCH_BUDGET_BYTES / (1024u * 1024u));
        return NULL;
    }
    struct ev_sub *sub = watch_subscribe(sc, conn, queue, has_since, since, err);
    if (sub == NULL)
        return NULL;
    st = stream_get(env->streams, conn);
    int fd = ev_sub_fd(sub);
    struct event *e = st != NULL && fd >= 0
                          ? event_new(sc->base, fd, EV_READ | EV_PERSIST, watch_on_readable, st)
                          : NULL;
    if (e == NULL) {
        ev_sub_close(sub);
        snprintf(err, CTL_ERR_MAX, "watch: out of resources");
        return NULL;
    }
    st->sub = sub;
    st->sub_ev = e;
    st->types = types;
    stream_watch_charge(st, queue);
    event_add(e, NULL);
    log_msg(sc->log, LOG_DEBUG, "watch conn=%llu since=%lld queue=%zu", (unsigned long long)st->id,
            has_since ? (long long)since : -1LL, queue);
    return json_pack("{s:o,s:o,s:o}", "clock", ev_json_u64(ev_bus_clock(sc->bus)), "first_held",
                     ev_json_u64(ev_bus_first_held(sc->bus)), "queue", ev_json_u64(queue));
}
