/*
 * fault_net.h - a private network namespace and the iptables rules that
 * inject faults into it.
 *
 * Model: the calling process moves itself into a fresh, anonymous network
 * namespace (unshare(CLONE_NEWNET)) with only `lo`, brought up; every child
 * it forks afterwards (swimd agents, iptables) shares it.  The kernel deletes
 * the namespace, its addresses and its rules when the last process in it
 * exits, so nothing outlives a run, even one that is killed.  Faults are
 * iptables rules in this namespace only:
 *   loss      OUTPUT -p udp -m statistic --mode random --probability P -j DROP
 *             (a datagram from 127.0.0.a to 127.0.0.b crosses OUTPUT once)
 *   ingress   INPUT -p udp -d HOST --dport PORT -j DROP (one node hears nothing)
 *   pair      OUTPUT -p udp -s A --sport P -d B --dport Q -j DROP (one direction
 *             of one path: A:P is never heard at B:Q, everything else is)
 * Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and the iptables command.
 */
#ifndef TESTS_FAULTS_FAULT_NET_H
#define TESTS_FAULTS_FAULT_NET_H

#include <stddef.h>

/* Move this process into a new network namespace with `lo` up.  0, or -1
 * with a message in err. */
int fault_net_enter(char *err, size_t cap);
/* Drop UDP datagrams with probability p (0 < p < 1): add (on) or delete the
 * loss rule.  0, or -1 with a message in err. */
int fault_net_loss(double p, int on, char *err, size_t cap);
/* Cut (on) or restore the ingress of UDP to host:port.  0 or -1. */
int fault_net_ingress_cut(const char *host, int port, int on, char *err, size_t cap);
/* Cut (on) or restore UDP from src_host:src_port to dst_host:dst_port only
 * (the reverse direction and every other path stay).  0 or -1. */
int fault_net_cut_pair(const char *src_host, int src_port, const char *dst_host, int dst_port,
                       int on, char *err, size_t cap);

#endif /* TESTS_FAULTS_FAULT_NET_H */
