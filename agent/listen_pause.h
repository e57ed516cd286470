/*
 * listen_pause.h - a listener that stops accepting for a while instead of
 * spinning on accept() errors, and that its owner can hold.
 *
 * Model: when accept() fails because the process is out of descriptors or
 * memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), the connection stays in the
 * kernel's queue and the listening socket stays readable, so a loop that
 * keeps listening wakes at once, fails again and spins at full CPU, and
 * libevent logs every failure.  A struct listen_pause decides whether its
 * evconnlistener is enabled.  The listener's error callback hands it the
 * error (listen_pause_on_error()); on one of those it disables the listener,
 * re-enables it from a timer LISTEN_PAUSE_MS later, and logs the pause (at
 * most one line per LISTEN_PAUSE_LOG_WINDOW_MS, with how many went
 * unlogged).  Any other accept error belongs to one pending connection
 * (Linux reports a pending connection's network errors through accept()):
 * it is logged under the same limit and accepting goes on.  The owner may
 * also hold the listener (listen_pause_hold(): its connection cap is
 * reached); the listener accepts only while neither paused nor held.
 *
 * Users: the metrics endpoint (metrics_http.c) and the control socket
 * (ctl.c).  Threads: none; everything runs on the loop's thread.
 */
#ifndef AGENT_LISTEN_PAUSE_H
#define AGENT_LISTEN_PAUSE_H

#include <stdint.h>

#include "log.h"

struct event;
struct event_base;
struct evconnlistener;

/* How long accepting stops after running out of descriptors or memory: a
 * closing connection or a finished handler frees one within a few loop
 * turns, and 5 tries a second cost nothing while a connection waiting in
 * the queue is delayed by at most this. */
#define LISTEN_PAUSE_MS 200
/* At most one line about accept errors per window per listener, so a
 * starved process does not fill its log. */
#define LISTEN_PAUSE_LOG_WINDOW_MS 10000

struct listen_pause {
    struct evconnlistener *listener; /* borrowed */
    struct event *timer;             /* ends a pause */
    struct log *log;
    const char *what; /* names the listener in the log: "metrics", "ctl" */
    struct log_limit log_limit;
    uint64_t pauses; /* since creation */
    int paused;      /* until the timer fires */
    int held;        /* by the owner */
};

/*
 * Take charge of listener l (borrowed: it must outlive lp; it should be
 * enabled, as evconnlistener_new() leaves it).  `what` (a static string)
 * names it in log lines.  0, or ERR_NOMEM.
 */
int listen_pause_create(struct listen_pause *lp, struct event_base *base, struct evconnlistener *l,
                        const char *what, struct log *lg);
/* Free the timer; the listener is left as it is.  A zeroed struct (never
 * created) is a no-op. */
void listen_pause_destroy(struct listen_pause *lp);
/* From the listener's error callback: accept() failed with errno err. */
void listen_pause_on_error(struct listen_pause *lp, int err);
/* Hold the listener (hold != 0) or release it; releasing does not end a
 * pause early. */
void listen_pause_hold(struct listen_pause *lp, int hold);
/* 1 while the listener accepts (neither paused nor held), else 0. */
int listen_pause_accepting(const struct listen_pause *lp);

#endif /* AGENT_LISTEN_PAUSE_H */
