/*
 * addr.h - host:port text, socket addresses and the core's opaque addresses.
 *
 * Model: the core treats struct swim_addr as opaque bytes it only compares,
 * so the agent chooses the encoding:
 *
 *   IPv4:  | 4 | a b c d | port hi | port lo |            7 bytes
 *   IPv6:  | 6 | 16 address bytes | port hi | port lo |   19 bytes
 *
 * An IPv4-mapped IPv6 address (::ffff:a.b.c.d, as a dual-stack socket
 * reports IPv4 peers) is always encoded as IPv4, so one peer has one
 * encoding whichever socket saw it.  Text forms are "HOST:PORT",
 * "[V6ADDR]:PORT" and, where a default port applies, "HOST" alone.
 *
 * Everything here is pure except addr_resolve(), which calls getaddrinfo()
 * and so may block on DNS for a name (numeric addresses never block): swimd
 * uses it for names only at start-up (--bind, --advertise); names looked up
 * while running (join seeds, the control "join") go through evdns (join.h).
 */
#ifndef AGENT_ADDR_H
#define AGENT_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "swim.h"

/* Room for "[" + the longest IPv6 text (45) + "]:" + 5 port digits + NUL. */
#define ADDR_TEXT_MAX 56
/* Longest host part accepted in HOST:PORT (a DNS name is at most 253). */
#define ADDR_HOST_MAX 256

/*
 * Split "HOST:PORT", "[V6]:PORT" or, when default_port is non-negative,
 * "HOST" / "[V6]" into host and port.  An IPv6 literal needs brackets when
 * a port follows.  host must hold ADDR_HOST_MAX bytes.  0 or ERR_INVAL.
 */
int addr_split(const char *text, int default_port, char *host, uint16_t *port);

/*
 * Resolve text (as for addr_split) into up to `cap` socket addresses, A and
 * AAAA records both, duplicates removed; *count is set to how many.  With
 * `numeric` set, names are refused (ERR_INVAL) and nothing blocks.
 * 0, ERR_INVAL (bad text), ERR_NOTFOUND (name did not resolve).
 */
int addr_resolve(const char *text, int default_port, int numeric, struct sockaddr_storage *out,
                 size_t cap, size_t *count);

/* Encode a socket address (AF_INET or AF_INET6) for the core.  0 or ERR_INVAL. */
int addr_from_sockaddr(struct swim_addr *out, const struct sockaddr *sa);
/* Decode the core's bytes back into a socket address of `family`: an IPv4
 * address becomes IPv4-mapped when family is AF_INET6 (dual-stack socket).
 * 0, ERR_MALFORMED (not one of our encodings), or ERR_INVAL (IPv6 address
 * for an AF_INET socket). */
int addr_to_sockaddr(struct sockaddr_storage *out, socklen_t *len, const struct swim_addr *in,
                     int family);
/* "127.0.0.1:7946" / "[::1]:7946" into buf (ADDR_TEXT_MAX bytes); "?" for
 * bytes that are not one of our encodings.  Returns buf. */
const char *addr_format(const struct swim_addr *a, char *buf);
/* The same for a socket address (AF_INET / AF_INET6; "?" otherwise). */
const char *addr_format_sockaddr(const struct sockaddr *sa, char *buf);
/* 1 when the address is 0.0.0.0 or ::. */
int addr_is_unspecified(const struct sockaddr *sa);
/* 1 when a datagram to sa can reach one peer: a unicast address (not
 * unspecified, multicast, the limited broadcast 255.255.255.255 or the
 * reserved 240.0.0.0/4) with a port other than 0.  Pure. */
int addr_is_peer(const struct sockaddr *sa);
/* 1 when sa is an IPv6 address whose meaning depends on this host: it has a
 * scope (fe80::1%eth0) or is link-local, so it cannot be told to peers. */
int addr_is_scoped(const struct sockaddr *sa);
/* 1 when sa is the broadcast address of one of this host's interfaces
 * (reads the interface list). */
int addr_is_local_broadcast(const struct sockaddr *sa);

#endif /* AGENT_ADDR_H */
