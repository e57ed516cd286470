/*
 * proc_cpu.h - the CPU time a process has used so far, read from
 * /proc/PID/stat, for the suites that watch real swimd processes (the
 * agent harness, tests/agent/agent_harness.c, and the fault harness,
 * tests/faults/fault_cluster.c).  Header-only, as those two harnesses are
 * separate libraries.
 */
#ifndef TESTS_PROC_CPU_H
#define TESTS_PROC_CPU_H

#include <stdio.h>
#include <string.h>
#include <sys/types.h>

/* User plus system time of pid in clock ticks (sysconf(_SC_CLK_TCK) a
 * second), or -1 when /proc cannot tell. */
static inline long long proc_cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* "pid (comm) state ...": comm may hold spaces, so count from its
     * closing parenthesis; utime and stime are fields 14 and 15. */
    const char *p = strrchr(buf, ')');
    long long ut = 0, st = 0;
    if (p == NULL ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &ut, &st) != 2)
        return -1;
    return ut + st;
}

#endif /* TESTS_PROC_CPU_H */
