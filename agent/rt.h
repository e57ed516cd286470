/*
 * rt.h - swimd's runtime: the core on a real UDP socket and a libevent loop.
 *
 * Model: one struct rt owns everything a running agent has: the event base,
 * one UDP socket (IPv4 or IPv6; bound to :: it also serves IPv4 peers), the
 * core instance, the keyring, the tags, the control socket and the signal
 * events.  It implements the core's runtime interface:
 *
 *   send_to       seal (when a keyring is set) and sendto() at once; a send
 *                 that fails is counted and dropped, as UDP would
 *   submit_after  one evtimer allocated per timer, freed when it fires;
 *                 those still pending at shutdown are freed with the rt;
 *                 a timer is never handed back before `now` at submission
 *                 plus its delay (libevent may fire early by its cached
 *                 clock; it is then re-armed for the rest)
 *   notify        one log line per event, plus the join and leave logic
 *
 * and feeds the core: `now` is CLOCK_MONOTONIC in milliseconds; at most
 * RT_READS_PER_WAKEUP datagrams are read per socket wakeup; a datagram that
 * fails to open under every key is dropped, counted and logged (rate-limited).
 * The generation is the wall-clock millisecond at start, so a restarted node
 * supersedes its old record.
 *
 * Joining: the --join seeds are announced to at start and again with
 * exponential backoff (RT_JOIN_BACKOFF_*) until the node becomes active, and
 * every RT_REANNOUNCE periods while fewer members are active than there are
 * seeds, so a node restarted alone, or one side of a healed partition, finds
 * the others.  Seeds given as names are resolved each time (A and AAAA) with
 * getaddrinfo(), which blocks the loop for the lookup; numeric seeds never do.
 *
 * Leaving: SIGTERM, SIGINT or the control "leave" call swim_leave(); the loop
 * ends when the core reports SELF_IDLE or after leave_linger_ms +
 * RT_LEAVE_GRACE_MS, whichever is first.  A second signal ends it at once.
 * SIGHUP re-parses the same argv (and so re-reads the config file) and
 * applies the new tags and log level; tags changed over the control socket
 * are replaced by the reload.
 */
#ifndef AGENT_RT_H
#define AGENT_RT_H

#include <stddef.h>

#include "cfg.h"
#include "log.h"

struct rt;

/*
 * Set up everything (keyring, sockets, core) without running.  argv is kept
 * (not copied) for SIGHUP reloads and must outlive the rt.  Returns NULL with
 * a one-line reason in err on failure.
 */
struct rt *rt_new(const struct cfg *cfg, int argc, char *const *argv, struct log *lg, char *err,
                  size_t errlen);
/* Run the loop until the node has left (0) or a fatal error (negative). */
int rt_run(struct rt *rt);
/* Free everything, pending timers included, and remove the control socket. */
void rt_delete(struct rt *rt);

#endif /* AGENT_RT_H */
