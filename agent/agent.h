/*
 * agent.h - swimd's wiring: start-up, signals, reload and shutdown.
 *
 * Model: a struct agent builds every part of swimd from the configuration
 * and connects them; it holds no logic of its own beyond their order:
 *
 *   keyring, tags, event loop   from the config (bad keyring: start fails)
 *   event bus (events.h)        every core notification, in sequence order
 *   runtime (rt.h)              the core on UDP: publishes to the bus
 *   streams (stream.h)          watch and monitor connections
 *   bridge (bridge.h)           bus -> member links -> monitor streams
 *   snapshot writer             bus -> --snapshot file (snapshot_writer.h)
 *   handler runner              bus -> --event-handler commands (handlers.h)
 *   control socket (control.h)  requests -> the command table -> the parts
 *   metrics endpoint            GET /metrics -> every part's counters
 *                               (metrics_http.h; only with --metrics)
 *
 * systemd (sdnotify.h; nothing happens without NOTIFY_SOCKET): READY=1 on
 * the loop's first turn, once the UDP socket is bound and the control
 * socket listens; STATUS= with the member counts, every AGENT_STATUS_MS
 * when they changed; WATCHDOG=1 from a timer on the loop every
 * sdn_watchdog_interval_ms() when the unit sets WatchdogSec= (so a stuck
 * loop stops the pings and systemd restarts swimd); STOPPING=1 when a
 * graceful leave begins (signal or control "leave"), or when the loop ends
 * without one.  The variables are removed from the environment at start, so
 * event handlers do not inherit them.
 *
 * Signals: SIGTERM and SIGINT start a graceful leave (rt_leave()); a second
 * one ends the loop at once.  SIGHUP re-parses the same argv (and so
 * re-reads the config file) and applies the new log level and tags; tags
 * changed over the control socket are replaced by the reload.
 *
 * Shutdown, once the loop has ended: the snapshot gets its last write, the
 * runtime stops (no datagram, timer or lookup any more), the bus ends
 * (ev_bus_end(): every subscriber reads EV_ITEM_END after what it has not
 * read yet), and the loop runs on for at most AGENT_DRAIN_MS so watchers
 * send their last lines and close, and cancelled name lookups end.  Then
 * every part is freed, the control socket (and with it every stream) first.
 */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <stddef.h>

#include "cfg.h"
#include "log.h"

/* How long shutdown lets watchers flush their last lines. */
#define AGENT_DRAIN_MS 500
/* How often systemd's STATUS= line is refreshed (when it changed): often
 * enough for `systemctl status`, rare enough to cost nothing. */
#define AGENT_STATUS_MS 2000

struct agent;

/*
 * Build everything without running.  argv is kept (not copied) for SIGHUP
 * reloads and must outlive the agent; cfg is copied.  NULL with a one-line
 * reason in err on failure.
 */
struct agent *agent_new(const struct cfg *cfg, int argc, char *const *argv, struct log *lg,
                        char *err, size_t errlen);
/* Run until the node has left (0) or a fatal error (negative); shuts down
 * (see the model) before returning. */
int agent_run(struct agent *a);
/* Free everything and remove the control socket.  NULL is a no-op. */
void agent_delete(struct agent *a);

#endif /* AGENT_AGENT_H */
