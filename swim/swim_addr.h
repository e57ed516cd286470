/*
 * swim_addr.h - the one address type of swim/, shared by the core's API
 * (swim.h) and its codec (wire.h) so neither header needs the other.
 *
 * Model: an address is opaque bytes to the core and the codec; they only
 * copy and compare them.  The runtime decides what they mean (the agent
 * stores a family, an IP and a port; the simulated world a node index).
 */
#ifndef SWIM_SWIM_ADDR_H
#define SWIM_SWIM_ADDR_H

#include <stdint.h>

/* Longest opaque address: family + 16-byte IPv6 + port fits with room. */
#define SWIM_ADDR_MAX 32

struct swim_addr {
    uint8_t len; /* 0..SWIM_ADDR_MAX */
    uint8_t bytes[SWIM_ADDR_MAX];
};

#endif /* SWIM_SWIM_ADDR_H */
