/*
 * udp.h - swimd's UDP socket: bind it and choose the address to advertise.
 *
 * Model: udp_open() resolves the --bind text (numeric or a name, at start-up
 * only), opens one non-blocking datagram socket of that family with large
 * kernel buffers, binds it, and picks the address other members are told to
 * use: --advertise when given, else the bound address, else (a wildcard
 * bind) this host's first non-loopback interface address that is up, IPv4
 * first (a dual-stack socket bound to :: serves IPv4 peers too), else
 * loopback.  The caller owns the socket afterwards.
 */
#ifndef AGENT_UDP_H
#define AGENT_UDP_H

#include <stddef.h>

#include "addr.h"
#include "log.h"
#include "swim.h"

/* An open socket and what it advertises; a plain value. */
struct udp_sock {
    int fd;
    int family; /* AF_INET or AF_INET6 */
    struct swim_addr self;
    char self_text[ADDR_TEXT_MAX];
};

/*
 * Open, bind and pick the advertised address (advertise may be NULL or "").
 * Logs one "listening" line.  0, or ERR_INVAL (bad or unresolvable text,
 * IPv6 advertised on an IPv4 socket) / ERR_SYS (socket or bind failed) with
 * one line in err; out->fd is -1 then and nothing stays open.
 */
int udp_open(const char *bind, const char *advertise, struct log *lg, struct udp_sock *out,
             char *err, size_t errlen);

#endif /* AGENT_UDP_H */
