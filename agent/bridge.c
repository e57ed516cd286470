/*
 * bridge.c - see bridge.h for the model.
 */
#include "bridge.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "loop_sub.h"

struct bridge {
    char self[SWIM_NAME_MAX + 1]; /* this node, a device of its own */
    struct swim *core;
    struct log *log;
    struct ml *ml;
    struct ev_sub *sub;
    struct event *ev;
};

/* Bring every member's device to the core's view (after lost events). */
static void bridge_resync(struct bridge *b)
{
    struct swim_member_info m;
    size_t n = swim_member_count(b->core);
    for (size_t i = 0; i < n; i++)
        if (swim_member_at(b->core, i, &m) == 0)
            ml_member_set(b->ml, m.name, m.status);
}

static void bridge_on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct bridge *b = arg;
    struct ev_event ev;
    struct ev_item item;
    for (int i = 0; i < BRIDGE_ITEMS_PER_WAKEUP; i++) {
        if (ev_sub_try_recv(b->sub, &item, &ev) != 0)
            return;
        if (item.kind == EV_ITEM_EVENT) {
            int rc = ml_apply(b->ml, &ev);
            if (rc != 0)
                log_msg(b->log, LOG_WARN, "links: %s for %s seq=%llu: %s", ev_type_name(ev.type),
                        ev.name, (unsigned long long)item.seq, err_strerror(rc));
        } else if (item.kind == EV_ITEM_LOST || item.kind == EV_ITEM_LAGGED) {
            log_msg(b->log, LOG_WARN,
                    "links: events %llu..%llu lost; resynchronising from the member table",
                    (unsigned long long)item.seq, (unsigned long long)item.last);
            bridge_resync(b);
        } else if (item.kind == EV_ITEM_END) {
            event_del(b->ev); /* the bus has ended: nothing more will come */
            ml_member_set(b->ml, b->self, SWIM_LEFT); /* this node is going */
            return;
        }
    }
    event_active(b->ev, EV_READ, 0); /* the rest in a later turn */
}

struct bridge *bridge_new(const struct bridge_config *cfg, char *err, size_t errlen)
{
    struct bridge *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    b->core = cfg->core;
    b->log = cfg->log;
    struct swim_member_info self;
    swim_self(cfg->core, &self);
    snprintf(b->self, sizeof(b->self), "%s", self.name);
    b->ml = ml_new(cfg->report, cfg->report_ctx);
    if (b->ml != NULL && ml_member_set(b->ml, b->self, SWIM_ALIVE) != 0) {
        ml_delete(b->ml);
        b->ml = NULL;
    }
    struct ev_sub_config sc = {"bridge", BRIDGE_QUEUE, EV_LAG_RECOVER, 0, 0};
    int rc = b->ml != NULL ? loop_sub_open(cfg->base, cfg->bus, &sc, bridge_on_readable, b, &b->sub,
                                           &b->ev, NULL)
                           : ERR_NOMEM;
    if (rc != 0) {
        snprintf(err, errlen, "event bus: cannot subscribe the member links: %s", err_strerror(rc));
        bridge_delete(b);
        return NULL;
    }
    return b;
}

void bridge_delete(struct bridge *b)
{
    if (b == NULL)
        return;
    loop_sub_close(b->sub, b->ev);
    ml_delete(b->ml);
    free(b);
}

struct ml *bridge_links(struct bridge *b)
{
    return b->ml;
}

uint64_t bridge_position(const struct bridge *b)
{
    return ev_sub_position(b->sub);
}
