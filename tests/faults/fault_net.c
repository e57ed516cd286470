/*
 * fault_net.c - see fault_net.h.
 */
#include "fault_net.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Seconds iptables may wait for the xtables lock that parallel runs share. */
#define FAULT_NET_LOCK_WAIT "5"
/* How much of iptables' complaint goes into an error message. */
#define FAULT_NET_ERR_READ 200

int fault_net_enter(char *err, size_t cap)
{
    if (unshare(CLONE_NEWNET) != 0) {
        snprintf(err, cap, "unshare(CLONE_NEWNET): %s (needs root)", strerror(errno));
        return -1;
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    int rc = fd >= 0 ? ioctl(fd, SIOCGIFFLAGS, &ifr) : -1;
    if (rc == 0) {
        ifr.ifr_flags |= IFF_UP;
        rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
    }
    if (rc != 0)
        snprintf(err, cap, "bringing lo up: %s", strerror(errno));
    if (fd >= 0)
        close(fd);
    return rc == 0 ? 0 : -1;
}

/* Run `iptables -w 5 ARGS...`; 0 when it exits 0, else -1 with the start of
 * its stderr in err. */
static int fault_net_iptables(const char *const *args, char *err, size_t cap)
{
    const char *argv[24];
    size_t argc = 0;
    argv[argc++] = "iptables";
    argv[argc++] = "-w";
    argv[argc++] = FAULT_NET_LOCK_WAIT;
    for (size_t i = 0; args[i] != NULL && argc < sizeof(argv) / sizeof(argv[0]) - 1; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        snprintf(err, cap, "pipe: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], STDERR_FILENO);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, "iptables", &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        snprintf(err, cap, "cannot run iptables: %s (install iptables)", strerror(rc));
        return -1;
    }
    char msg[FAULT_NET_ERR_READ + 1];
    ssize_t n = read(p[0], msg, FAULT_NET_ERR_READ); /* EOF when iptables exits */
    msg[n > 0 ? n : 0] = '\0';
    close(p[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    msg[strcspn(msg, "\n")] = '\0';
    snprintf(err, cap, "iptables %s %s failed: %s", args[0], args[1] ? args[1] : "", msg);
    return -1;
}

int fault_net_loss(double p, int on, char *err, size_t cap)
{
    char prob[32];
    snprintf(prob, sizeof(prob), "%.4f", p);
    const char *args[] = {
        on ? "-A" : "-D", "OUTPUT",        "-p", "udp", "-m",   "statistic", "--mode",
        "random",         "--probability", prob, "-j",  "DROP", NULL};
    return fault_net_iptables(args, err, cap);
}

int fault_net_ingress_cut(const char *host, int port, int on, char *err, size_t cap)
{
    char dport[16];
    snprintf(dport, sizeof(dport), "%d", port);
    const char *args[] = {on ? "-I" : "-D", "INPUT", "-p", "udp",  "-d", host,
                          "--dport",        dport,   "-j", "DROP", NULL};
    return fault_net_iptables(args, err, cap);
}

int fault_net_cut_pair(const char *src_host, int src_port, const char *dst_host, int dst_port,
                       int on, char *err, size_t cap)
{
    char sport[16], dport[16];
    snprintf(sport, sizeof(sport), "%d", src_port);
    snprintf(dport, sizeof(dport), "%d", dst_port);
    const char *args[] = {on ? "-I" : "-D", "OUTPUT",  "-p",  "udp",  "-s",
                          src_host,         "--sport", sport, "-d",   dst_host,
                          "--dport",        dport,     "-j",  "DROP", NULL};
    return fault_net_iptables(args, err, cap);
}
