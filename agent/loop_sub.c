/*
 * loop_sub.c - see loop_sub.h for the model.
 */
#include "loop_sub.h"

#include "err.h"

int loop_sub_open(struct event_base *base, struct ev_bus *bus, const struct ev_sub_config *cfg,
                  event_callback_fn cb, void *arg, struct ev_sub **sub, struct event **ev,
                  uint64_t *first_held)
{
    *sub = NULL;
    *ev = NULL;
    int rc = ev_sub_open(bus, cfg, sub, first_held);
    if (rc != 0)
        return rc;
    int fd = ev_sub_fd(*sub);
    *ev = fd >= 0 ? event_new(base, fd, EV_READ | EV_PERSIST, cb, arg) : NULL;
    if (*ev == NULL) {
        ev_sub_close(*sub);
        *sub = NULL;
        return fd < 0 ? fd : ERR_NOMEM;
    }
    event_add(*ev, NULL);
    return 0;
}

void loop_sub_close(struct ev_sub *sub, struct event *ev)
{
    if (ev != NULL)
        event_free(ev);
    ev_sub_close(sub);
}
