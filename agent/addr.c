/*
 * addr.c - see addr.h for the encoding.
 */
#include "addr.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

/* Family tags, the first byte of an encoded address. */
#define ADDR_TAG_V4 4
#define ADDR_TAG_V6 6
#define ADDR_LEN_V4 (1 + 4 + 2)
#define ADDR_LEN_V6 (1 + 16 + 2)

static int addr_parse_port(const char *text, uint16_t *port)
{
    if (*text == '\0')
        return ERR_INVAL;
    unsigned long v = 0;
    for (const char *p = text; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || p - text >= 5)
            return ERR_INVAL;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > 65535)
        return ERR_INVAL;
    *port = (uint16_t)v;
    return 0;
}

int addr_split(const char *text, int default_port, char *host, uint16_t *port)
{
    size_t len = strlen(text);
    const char *port_text = NULL;
    const char *h = text;
    size_t hlen;
    if (len == 0)
        return ERR_INVAL;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (close == NULL)
            return ERR_INVAL;
        h = text + 1;
        hlen = (size_t)(close - h);
        if (close[1] == ':')
            port_text = close + 2;
        else if (close[1] != '\0')
            return ERR_INVAL;
        /* Brackets only make sense around an IPv6 literal. */
        if (memchr(h, ':', hlen) == NULL)
            return ERR_INVAL;
    } else {
        const char *colon = strrchr(text, ':');
        if (colon != NULL && strchr(text, ':') != colon)
            return ERR_INVAL; /* bare IPv6 literal: ambiguous without brackets */
        hlen = colon != NULL ? (size_t)(colon - text) : len;
        if (colon != NULL)
            port_text = colon + 1;
    }
    if (hlen == 0 || hlen >= ADDR_HOST_MAX)
        return ERR_INVAL;
    if (port_text != NULL) {
        if (addr_parse_port(port_text, port) != 0)
            return ERR_INVAL;
    } else if (default_port >= 0 && default_port <= 65535) {
        *port = (uint16_t)default_port;
    } else {
        return ERR_INVAL;
    }
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    for (size_t i = 0; i < hlen; i++) {
        unsigned char c = (unsigned char)host[i];
        if (c <= ' ' || c >= 0x7f)
            return ERR_INVAL;
    }
    return 0;
}

static int addr_same(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    struct swim_addr x, y;
    if (addr_from_sockaddr(&x, (const struct sockaddr *)a) != 0 ||
        addr_from_sockaddr(&y, (const struct sockaddr *)b) != 0)
        return 0;
    return x.len == y.len && memcmp(x.bytes, y.bytes, x.len) == 0;
}

int addr_resolve(const char *text, int default_port, int numeric, struct sockaddr_storage *out,
                 size_t cap, size_t *count)
{
    char host[ADDR_HOST_MAX];
    uint16_t port;
    *count = 0;
    if (addr_split(text, default_port, host, &port) != 0)
        return ERR_INVAL;
    char service[8];
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV | (numeric ? AI_NUMERICHOST : 0);
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0)
        return numeric ? ERR_INVAL : ERR_NOTFOUND;
    for (struct addrinfo *ai = res; ai != NULL && *count < cap; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(struct sockaddr_storage))
            continue;
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof(ss));
        memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
        int dup = 0;
        for (size_t i = 0; i < *count && !dup; i++)
            dup = addr_same(&out[i], &ss);
        if (!dup)
            out[(*count)++] = ss;
    }
    freeaddrinfo(res);
    return *count > 0 ? 0 : ERR_NOTFOUND;
}

int addr_from_sockaddr(struct swim_addr *out, const struct sockaddr *sa)
{
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        out->bytes[0] = ADDR_TAG_V4;
        memcpy(out->bytes + 1, &in->sin_addr, 4);
        memcpy(out->bytes + 5, &in->sin_port, 2); /* already big-endian */
        out->len = ADDR_LEN_V4;
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            out->bytes[0] = ADDR_TAG_V4;
            memcpy(out->bytes + 1, in6->sin6_addr.s6_addr + 12, 4);
            memcpy(out->bytes + 5, &in6->sin6_port, 2);
            out->len = ADDR_LEN_V4;
            return 0;
        }
        out->bytes[0] = ADDR_TAG_V6;
        memcpy(out->bytes + 1, &in6->sin6_addr, 16);
        memcpy(out->bytes + 17, &in6->sin6_port, 2);
        out->len = ADDR_LEN_V6;
        return 0;
    }
    return ERR_INVAL;
}

int addr_to_sockaddr(struct sockaddr_storage *out, socklen_t *len, const struct swim_addr *in,
                     int family)
{
    memset(out, 0, sizeof(*out));
    if (in->len == ADDR_LEN_V4 && in->bytes[0] == ADDR_TAG_V4) {
        if (family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
            s6->sin6_family = AF_INET6;
            s6->sin6_addr.s6_addr[10] = 0xff;
            s6->sin6_addr.s6_addr[11] = 0xff;
            memcpy(s6->sin6_addr.s6_addr + 12, in->bytes + 1, 4);
            memcpy(&s6->sin6_port, in->bytes + 5, 2);
            *len = sizeof(*s6);
            return 0;
        }
        struct sockaddr_in *s4 = (struct sockaddr_in *)out;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, in->bytes + 1, 4);
        memcpy(&s4->sin_port, in->bytes + 5, 2);
        *len = sizeof(*s4);
        return 0;
    }
    if (in->len == ADDR_LEN_V6 && in->bytes[0] == ADDR_TAG_V6) {
        if (family == AF_INET)
            return ERR_INVAL;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)out;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, in->bytes + 1, 16);
        memcpy(&s6->sin6_port, in->bytes + 17, 2);
        *len = sizeof(*s6);
        return 0;
    }
    return ERR_MALFORMED;
}

const char *addr_format_sockaddr(const struct sockaddr *sa, char *buf)
{
    char ip[INET6_ADDRSTRLEN];
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(buf, ADDR_TEXT_MAX, "%s:%u", ip, (unsigned)ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
        snprintf(buf, ADDR_TEXT_MAX, "[%s]:%u", ip, (unsigned)ntohs(in6->sin6_port));
    } else {
        snprintf(buf, ADDR_TEXT_MAX, "?");
    }
    return buf;
}

const char *addr_format(const struct swim_addr *a, char *buf)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (addr_to_sockaddr(&ss, &len, a, AF_UNSPEC) != 0) {
        snprintf(buf, ADDR_TEXT_MAX, "?");
        return buf;
    }
    return addr_format_sockaddr((const struct sockaddr *)&ss, buf);
}

int addr_is_unspecified(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ((const struct sockaddr_in *)sa)->sin_addr.s_addr == htonl(INADDR_ANY);
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)sa)->sin6_addr);
    return 0;
}

int addr_is_peer(const struct sockaddr *sa)
{
    if (addr_is_unspecified(sa))
        return 0;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        uint32_t a = ntohl(in->sin_addr.s_addr);
        /* 224.0.0.0/4 multicast; 240.0.0.0/4 reserved, with 255.255.255.255 */
        return in->sin_port != 0 && (a >> 28) != 0xe && (a >> 28) != 0xf;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            struct sockaddr_in v4;
            memset(&v4, 0, sizeof(v4));
            v4.sin_family = AF_INET;
            v4.sin_port = in6->sin6_port;
            memcpy(&v4.sin_addr, in6->sin6_addr.s6_addr + 12, 4);
            return addr_is_peer((const struct sockaddr *)&v4);
        }
        return in6->sin6_port != 0 && !IN6_IS_ADDR_MULTICAST(&in6->sin6_addr);
    }
    return 0;
}

int addr_is_scoped(const struct sockaddr *sa)
{
    if (sa->sa_family != AF_INET6)
        return 0;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    return in6->sin6_scope_id != 0 || IN6_IS_ADDR_LINKLOCAL(&in6->sin6_addr);
}

int addr_is_local_broadcast(const struct sockaddr *sa)
{
    struct swim_addr want;
    struct ifaddrs *ifs = NULL;
    int found = 0;
    /* addr_from_sockaddr() turns IPv4-mapped IPv6 into IPv4, so both match. */
    if ((sa->sa_family != AF_INET && sa->sa_family != AF_INET6) ||
        addr_from_sockaddr(&want, sa) != 0 || want.bytes[0] != ADDR_TAG_V4 || getifaddrs(&ifs) != 0)
        return 0;
    for (struct ifaddrs *i = ifs; i != NULL && !found; i = i->ifa_next) {
        if ((i->ifa_flags & IFF_BROADCAST) && i->ifa_broadaddr != NULL &&
            i->ifa_broadaddr->sa_family == AF_INET)
            found = memcmp(&((const struct sockaddr_in *)i->ifa_broadaddr)->sin_addr,
                           want.bytes + 1, 4) == 0;
    }
    freeifaddrs(ifs);
    return found;
}
