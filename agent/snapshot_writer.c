/*
 * snapshot_writer.c - see snapshot_writer.h for the model.
 */
#include "snapshot_writer.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "clock.h"
#include "err.h"
#include "loop_sub.h"
#include "snapshot.h"

struct snapw {
    struct swim *core;
    struct log *log;
    struct ev_sub *sub;
    struct event *sub_ev;
    struct event *timer;
    struct snap_writer policy;
    char name[SWIM_NAME_MAX + 1];
    char path[CFG_PATH_MAX];
};

void snapw_restore(const char *path, const char *name, int join_given, struct log *lg,
                   struct snapw_restored *out)
{
    char e[SNAP_ERR_MAX] = "";
    struct snap *sn = NULL;
    out->seed_count = 0;
    int rc = snap_load(path, &sn, e, sizeof(e));
    if (rc == ERR_NOTFOUND) {
        log_msg(lg, LOG_INFO, "snapshot %s: none yet, starting fresh", path);
        return;
    }
    if (rc != 0) {
        if (e[0] != '\0') /* the message names the file */
            log_msg(lg, LOG_WARN, "ignoring snapshot: %s", e);
        else
            log_msg(lg, LOG_WARN, "ignoring snapshot %s: %s", path, err_strerror(rc));
        return;
    }
    if (strcmp(snap_name(sn), name) != 0) {
        log_msg(lg, LOG_WARN, "ignoring snapshot %s: it belongs to node \"%s\", not \"%s\"", path,
                snap_name(sn), name);
        snap_delete(sn);
        return;
    }
    if (snap_generation(sn) >= out->generation) {
        /* The wall clock went back: go past the file, but never above the
         * largest generation the core starts at (a peer would not admit a
         * stranger above it).  Peers still holding a higher one for us make
         * the core renew past it when they tell us. */
        if (snap_generation(sn) < SWIM_GENERATION_START_MAX)
            out->generation = snap_generation(sn) + 1;
        else {
            out->generation = SWIM_GENERATION_START_MAX;
            log_msg(lg, LOG_WARN,
                    "snapshot %s: generation %llu is above the largest a node starts at; "
                    "starting at %llu",
                    path, (unsigned long long)snap_generation(sn),
                    (unsigned long long)SWIM_GENERATION_START_MAX);
        }
    }
    size_t n = snap_count(sn);
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n && out->seed_count < JOIN_SEEDS_MAX; i++) {
            const struct snap_member *m = snap_member_at(sn, i);
            if ((m->status == SWIM_ALIVE) == (pass == 0))
                memcpy(out->seeds[out->seed_count++], m->addr, ADDR_TEXT_MAX);
        }
    }
    log_msg(lg, LOG_INFO,
            "snapshot %s: generation=%llu (was %llu) incarnation=%u members=%zu seeds=%zu%s", path,
            (unsigned long long)out->generation, (unsigned long long)snap_generation(sn),
            (unsigned)snap_incarnation(sn), n, out->seed_count,
            join_given ? " (unused: --join given)" : "");
    snap_delete(sn);
}

static void snapw_write(struct snapw *w)
{
    char e[SNAP_ERR_MAX] = "";
    struct swim_member_info m;
    struct snap *sn = snap_new();
    int rc = sn != NULL ? 0 : ERR_NOMEM;
    if (rc == 0) {
        swim_self(w->core, &m);
        /* The core keeps generations within SNAP_GENERATION_MAX; a larger
         * one is recorded as the ceiling, so the file stays readable. */
        uint64_t gen = m.generation < SNAP_GENERATION_MAX ? m.generation : SNAP_GENERATION_MAX;
        rc = snap_set_self(sn, w->name, gen, m.incarnation);
    }
    size_t n = swim_member_count(w->core);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char a[ADDR_TEXT_MAX];
        if (swim_member_at(w->core, i, &m) != 0 || strcmp(m.name, w->name) == 0)
            continue;
        int arc = snap_add(sn, m.name, addr_format(&m.addr, a), m.status);
        if (arc == ERR_LIMIT)
            break; /* the snapshot keeps the first SNAP_MEMBERS_MAX */
        if (arc == ERR_NOMEM)
            rc = arc;
    }
    if (rc == 0)
        rc = snap_write(sn, w->path, e, sizeof(e));
    snap_delete(sn);
    snap_writer_done(&w->policy, clock_mono_ms(), rc == 0);
    if (rc != 0)
        log_msg(w->log, LOG_WARN, "snapshot %s not written: %s", w->path,
                e[0] != '\0' ? e : err_strerror(rc));
    else
        log_msg(w->log, LOG_DEBUG, "snapshot written members=%zu", n);
}

/* Write now if due, else make sure the timer will ask again. */
static void snapw_check(struct snapw *w)
{
    uint64_t wait = 0;
    if (snap_writer_due(&w->policy, clock_mono_ms(), &wait)) {
        snapw_write(w);
    } else if (wait > 0 && !evtimer_pending(w->timer, NULL)) {
        struct timeval tv = clock_tv(wait);
        evtimer_add(w->timer, &tv);
    }
}

static void snapw_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    snapw_check(arg);
}

static void snapw_on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct snapw *w = arg;
    struct ev_item item;
    int i;
    for (i = 0; i < SNAPW_ITEMS_PER_WAKEUP; i++) {
        if (ev_sub_try_recv(w->sub, &item, NULL) != 0) /* the type is all it needs */
            break;
        if (item.kind == EV_ITEM_END) {
            event_del(w->sub_ev); /* the bus has ended; snapw_final() has the last word */
            return;
        }
        if ((item.kind == EV_ITEM_EVENT && !ev_type_is_message(item.type)) ||
            item.kind == EV_ITEM_LAGGED || item.kind == EV_ITEM_LOST)
            snap_writer_mark(&w->policy);
    }
    if (i == SNAPW_ITEMS_PER_WAKEUP)
        event_active(w->sub_ev, EV_READ, 0);
    snapw_check(w);
}

struct snapw *snapw_new(const struct snapw_config *cfg, char *err, size_t errlen)
{
    struct snapw *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->core = cfg->core;
    w->log = cfg->log;
    snprintf(w->name, sizeof(w->name), "%s", cfg->name);
    snprintf(w->path, sizeof(w->path), "%s", cfg->path);
    snap_writer_init(&w->policy, SNAP_INTERVAL_DEFAULT_MS);
    struct ev_sub_config sc = {"snapshot", SNAPW_QUEUE, EV_LAG_REPORT, 0, 0};
    w->timer = evtimer_new(cfg->base, snapw_on_timer, w);
    int rc = w->timer != NULL ? loop_sub_open(cfg->base, cfg->bus, &sc, snapw_on_readable, w,
                                              &w->sub, &w->sub_ev, NULL)
                              : ERR_NOMEM;
    if (rc != 0) {
        snprintf(err, errlen, "event bus: cannot subscribe the snapshot writer: %s",
                 err_strerror(rc));
        snapw_delete(w);
        return NULL;
    }
    return w;
}

void snapw_delete(struct snapw *w)
{
    if (w == NULL)
        return;
    loop_sub_close(w->sub, w->sub_ev);
    if (w->timer != NULL)
        event_free(w->timer);
    free(w);
}

void snapw_start(struct snapw *w)
{
    snap_writer_mark(&w->policy);
    snapw_check(w);
}

void snapw_final(struct snapw *w)
{
    if (w->timer != NULL)
        evtimer_del(w->timer);
    snapw_write(w);
}
