/*
 * sdnotify.h - tell systemd how swimd is doing (sd_notify(3)'s protocol).
 *
 * Model: under a Type=notify unit, systemd passes the path of a Unix
 * datagram socket in NOTIFY_SOCKET; the service sends it newline-separated
 * "KEY=VALUE" assignments, one datagram each: READY=1 once it serves,
 * STOPPING=1 when it begins to shut down, STATUS=... for `systemctl status`,
 * WATCHDOG=1 as a keep-alive when the unit sets WatchdogSec= (systemd then
 * passes WATCHDOG_USEC, and WATCHDOG_PID naming the process meant).  A path
 * starting with '@' is in the abstract namespace ('@' stands for the leading
 * NUL byte).  The protocol is documented as stable (sd_notify(3), "Notes").
 *
 * Why not libsystemd's sd_notify(): the whole protocol is one sendto() of a
 * short string, so a new dependency (and a package to install, and a library
 * to load on systems without systemd) buys nothing; this file also keeps the
 * parts it needs (the abstract '@' form, WATCHDOG_USEC/WATCHDOG_PID) in view
 * and under test.  Not supported: "vsock:" addresses (systemd 253, for VMs)
 * and passing file descriptors (FDSTORE); swimd needs neither.
 *
 * struct sdn is a plain value read once from the environment by
 * sdn_create(); it holds no resources (every send opens and closes its own
 * socket), so there is nothing to destroy.  Without NOTIFY_SOCKET every call
 * does nothing and succeeds, so swimd calls them unconditionally.
 */
#ifndef AGENT_SDNOTIFY_H
#define AGENT_SDNOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Longest datagram sent: a status line is one short sentence. */
#define SDN_MESSAGE_MAX 512

struct sdn {
    int enabled; /* NOTIFY_SOCKET was set to a usable address */
    struct sockaddr_un addr;
    socklen_t addr_len;
    uint64_t watchdog_usec; /* 0: no watchdog for this process */
};

/*
 * Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID into n.  With
 * `unset_env`, remove the three variables so that children (event handlers)
 * do not inherit them; call it before any thread starts, as unsetenv() is
 * not thread-safe.  0 (also when NOTIFY_SOCKET is unset or empty: n is then
 * disabled), or ERR_INVAL when NOTIFY_SOCKET is neither an absolute path nor
 * '@'-abstract, or is too long (n is disabled, the caller may log it).  A
 * malformed WATCHDOG_USEC, or a WATCHDOG_PID naming another process, leaves
 * the watchdog off without an error.
 */
int sdn_create(struct sdn *n, int unset_env);

/* Send `state` ("KEY=VALUE" lines joined by '\n') as one datagram.  0 (also
 * when n is disabled), ERR_TOOBIG (over SDN_MESSAGE_MAX) or ERR_SYS (errno
 * set: the socket is gone or refused it). */
int sdn_send(const struct sdn *n, const char *state);

/* READY=1: startup is done (the UDP socket is bound, the control socket
 * listens).  Errors as sdn_send. */
int sdn_ready(const struct sdn *n);
/* STOPPING=1: a graceful shutdown (the leave) has begun.  As sdn_send. */
int sdn_stopping(const struct sdn *n);
/* STATUS=<text>: one line shown by `systemctl status`; control characters
 * (a newline would start another assignment) become spaces and a longer
 * text is cut.  Errors as sdn_send. */
int sdn_status(const struct sdn *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* How often to call sdn_watchdog_ping(), in milliseconds: half the unit's
 * WatchdogSec (sd_watchdog_enabled(3)'s advice), at least 1; 0 when there
 * is no watchdog for this process. */
uint64_t sdn_watchdog_interval_ms(const struct sdn *n);
/* WATCHDOG=1: still alive (a no-op without a watchdog).  As sdn_send. */
int sdn_watchdog_ping(const struct sdn *n);

#endif /* AGENT_SDNOTIFY_H */
