/*
 * listen_pause.c - see listen_pause.h.
 */
#include "listen_pause.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <string.h>

#include "clock.h"
#include "err.h"

/* Enable or disable the listener as paused and held say. */
static void listen_pause_apply(struct listen_pause *lp)
{
    if (listen_pause_accepting(lp))
        evconnlistener_enable(lp->listener);
    else
        evconnlistener_disable(lp->listener);
}

static void listen_pause_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct listen_pause *lp = arg;
    lp->paused = 0;
    listen_pause_apply(lp);
}

int listen_pause_create(struct listen_pause *lp, struct event_base *base, struct evconnlistener *l,
                        const char *what, struct log *lg)
{
    memset(lp, 0, sizeof(*lp));
    lp->timer = evtimer_new(base, listen_pause_on_timer, lp);
    if (lp->timer == NULL)
        return ERR_NOMEM;
    lp->listener = l;
    lp->what = what;
    lp->log = lg;
    log_limit_create(&lp->log_limit, LISTEN_PAUSE_LOG_WINDOW_MS, 1);
    return 0;
}

void listen_pause_destroy(struct listen_pause *lp)
{
    if (lp->timer != NULL)
        event_free(lp->timer);
    lp->timer = NULL;
}

void listen_pause_on_error(struct listen_pause *lp, int err)
{
    int starved = err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
    uint64_t suppressed = 0;
    int say = log_limit_allow(&lp->log_limit, clock_mono_ms(), &suppressed);
    if (!starved) {
        if (say)
            log_msg(lp->log, LOG_WARN, "%s accept failed: %s (lines suppressed=%llu)", lp->what,
                    strerror(err), (unsigned long long)suppressed);
        return;
    }
    lp->pauses++;
    if (say)
        log_msg(lp->log, LOG_WARN,
                "%s accept failed: %s; not accepting for %d ms (pauses=%llu, lines "
                "suppressed=%llu)",
                lp->what, strerror(err), LISTEN_PAUSE_MS, (unsigned long long)lp->pauses,
                (unsigned long long)suppressed);
    lp->paused = 1;
    listen_pause_apply(lp);
    struct timeval tv = {LISTEN_PAUSE_MS / 1000, (LISTEN_PAUSE_MS % 1000) * 1000};
    evtimer_add(lp->timer, &tv);
}

void listen_pause_hold(struct listen_pause *lp, int hold)
{
    lp->held = hold != 0;
    listen_pause_apply(lp);
}

int listen_pause_accepting(const struct listen_pause *lp)
{
    return !lp->paused && !lp->held;
}
