/*
 * clock.h - the clocks the agent and its tests read, in milliseconds.
 *
 * Model: two readings, header-only and stateless.  clock_mono_ms() is
 * CLOCK_MONOTONIC: it never goes back, so it is the time base of every
 * timeout, deadline and the core's `now`.  clock_wall_ms() is CLOCK_REALTIME,
 * for what is shown to people or must outlive the process (event times, a
 * node's generation).  clock_tv() turns a millisecond delay into the struct
 * timeval that libevent and socket options take.
 *
 * Not for swim/: the core reads no clock (time is an input to every call),
 * and tests/swim/purity_test checks that libswim.a never calls clock_gettime.
 */
#ifndef SWIMD_CLOCK_H
#define SWIMD_CLOCK_H

#include <stdint.h>
#include <sys/time.h>
#include <time.h>

/* Milliseconds since an arbitrary fixed point (CLOCK_MONOTONIC). */
static inline uint64_t clock_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
static inline uint64_t clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A delay of `ms` milliseconds as a struct timeval. */
static inline struct timeval clock_tv(uint64_t ms)
{
    struct timeval tv;
    tv.tv_sec = (time_t)(ms / 1000u);
    tv.tv_usec = (suseconds_t)((ms % 1000u) * 1000u);
    return tv;
}

#endif /* SWIMD_CLOCK_H */
