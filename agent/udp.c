/*
 * udp.c - see udp.h for the model.
 */
#include "udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cfg.h"
#include "err.h"

/* Kernel socket buffers: room for a burst of gossip to a large cluster
 * while the loop is busy (memberlist asks for the same). */
#define UDP_SOCKBUF_BYTES (2 * 1024 * 1024)

/* The first non-loopback address of `family` that is up, for advertising
 * a wildcard bind.  0 or ERR_NOTFOUND. */
static int udp_pick_interface_addr(int family, struct sockaddr_storage *out)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return ERR_NOTFOUND;
    int rc = ERR_NOTFOUND;
    for (struct ifaddrs *i = ifs; i != NULL && rc != 0; i = i->ifa_next) {
        if (i->ifa_addr == NULL || i->ifa_addr->sa_family != family || !(i->ifa_flags & IFF_UP) ||
            (i->ifa_flags & IFF_LOOPBACK))
            continue;
        if (family == AF_INET6 &&
            IN6_IS_ADDR_LINKLOCAL(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr))
            continue;
        memset(out, 0, sizeof(*out));
        memcpy(out, i->ifa_addr,
               family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
        rc = 0;
    }
    freeifaddrs(ifs);
    return rc;
}

static void udp_set_port(struct sockaddr_storage *ss, uint16_t port_be)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = port_be;
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = port_be;
}

static uint16_t udp_get_port(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return ((const struct sockaddr_in *)ss)->sin_port;
    return ((const struct sockaddr_in6 *)ss)->sin6_port;
}

/* The loopback address of `family`. */
static void udp_loopback(int family, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    if (family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)out;
        s4->sin_family = AF_INET;
        s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
        s6->sin6_family = AF_INET6;
        s6->sin6_addr = in6addr_loopback;
    }
}

/* The address to advertise for a socket bound to `bound`. */
static int udp_advertised(const char *advertise, const struct sockaddr_storage *bound, int family,
                          struct sockaddr_storage *adv, char *err, size_t errlen)
{
    size_t n = 0;
    if (advertise != NULL && advertise[0] != '\0') {
        if (addr_resolve(advertise, -1, 0, adv, 1, &n) != 0) {
            snprintf(err, errlen, "advertise: cannot resolve \"%s\"", advertise);
            return ERR_INVAL;
        }
    } else if (!addr_is_unspecified((const struct sockaddr *)bound)) {
        *adv = *bound;
    } else {
        /* A dual-stack socket prefers an IPv4 address: IPv4-only peers can
         * reach it too. */
        if (udp_pick_interface_addr(AF_INET, adv) != 0 &&
            (family != AF_INET6 || udp_pick_interface_addr(AF_INET6, adv) != 0))
            udp_loopback(family, adv);
        udp_set_port(adv, udp_get_port(bound));
    }
    if (adv->ss_family == AF_INET6 && family == AF_INET) {
        snprintf(err, errlen, "advertise: an IPv6 address needs an IPv6 bind");
        return ERR_INVAL;
    }
    if (addr_is_scoped((const struct sockaddr *)adv)) {
        /* The core's address has no scope, and another host's interfaces
         * are not ours: refuse rather than advertise half an address. */
        snprintf(err, errlen,
                 "advertise: the address is link-local or scoped; give --advertise an "
                 "address peers can reach");
        return ERR_INVAL;
    }
    return 0;
}

static int udp_bind(const char *bind_text, struct udp_sock *out, struct sockaddr_storage *bound,
                    char *err, size_t errlen)
{
    struct sockaddr_storage bind_ss;
    size_t n = 0;
    if (addr_resolve(bind_text, CFG_DEFAULT_PORT, 0, &bind_ss, 1, &n) != 0) {
        snprintf(err, errlen, "bind: cannot resolve \"%s\"", bind_text);
        return ERR_INVAL;
    }
    out->family = bind_ss.ss_family;
    out->fd = socket(out->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (out->fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return ERR_SYS;
    }
    int one = 1, zero = 0, buf = UDP_SOCKBUF_BYTES;
    if (out->family == AF_INET6) {
        int dual = addr_is_unspecified((struct sockaddr *)&bind_ss);
        setsockopt(out->fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one, sizeof(int));
    }
    setsockopt(out->fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
    setsockopt(out->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
    socklen_t blen =
        out->family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (bind(out->fd, (struct sockaddr *)&bind_ss, blen) != 0) {
        snprintf(err, errlen, "bind %s: %s", bind_text, strerror(errno));
        return ERR_SYS;
    }
    socklen_t bl = sizeof(*bound);
    getsockname(out->fd, (struct sockaddr *)bound, &bl);
    return 0;
}

int udp_open(const char *bind, const char *advertise, struct log *lg, struct udp_sock *out,
             char *err, size_t errlen)
{
    struct sockaddr_storage bound, adv;
    memset(out, 0, sizeof(*out));
    out->fd = -1;
    int rc = udp_bind(bind, out, &bound, err, errlen);
    if (rc == 0)
        rc = udp_advertised(advertise, &bound, out->family, &adv, err, errlen);
    if (rc != 0) {
        if (out->fd >= 0)
            close(out->fd);
        out->fd = -1;
        return rc;
    }
    addr_from_sockaddr(&out->self, (struct sockaddr *)&adv);
    addr_format(&out->self, out->self_text);
    char btext[ADDR_TEXT_MAX];
    log_msg(lg, LOG_INFO, "listening udp=%s advertise=%s",
            addr_format_sockaddr((struct sockaddr *)&bound, btext), out->self_text);
    return 0;
}
