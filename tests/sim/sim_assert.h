/*
 * sim_assert.h - the Check assertion of the tests that drive the simulated
 * world (sim/sim.h): on failure it names the world's seed and virtual time,
 * so SIM_SEED=<seed> replays the run.  The world itself stays free of Check,
 * since swimsim, an installed program, links it too.
 */
#ifndef SWIMD_TESTS_SIM_ASSERT_H
#define SWIMD_TESTS_SIM_ASSERT_H

#include <check.h>

#include "sim.h"

/* ck_assert_msg that names the world's seed and time on failure:
 * SIM_ASSERT(w, cond, "format", args...) (a format string is required). */
#define SIM_ASSERT(w, cond, ...)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            char sim_msg_[1024];                                                                   \
            sim_failmsg_((w), sim_msg_, sizeof(sim_msg_), #cond, __VA_ARGS__);                     \
            ck_assert_msg(0, "%s", sim_msg_);                                                      \
        }                                                                                          \
    } while (0)

#endif /* SWIMD_TESTS_SIM_ASSERT_H */
