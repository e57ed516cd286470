/*
 * sim.h - a deterministic simulated world for the SWIM core.
 *
 * Model (after Tarantool's test/unit/swim_test_utils.c and its fakesys):
 * one struct sim holds N nodes, each a real struct swim driven on virtual
 * time.  Nothing in the world reads a clock or calls rand(): time is a
 * counter of milliseconds that only moves when the world runs, and every
 * random choice (packet loss, delay jitter, each instance's PRNG seed) comes
 * from the world's own PRNG seeded by the test.  The same seed therefore
 * gives the same run, event for event, and a failing assertion prints it
 * (the tests' SIM_ASSERT) so the run can be replayed with SIM_SEED=<seed>.
 * The world is its own module (sim/, libc and the core only): the Check
 * suites drive it (their assertion is tests/sim/sim_assert.h), and so does
 * swimsim, an installed program (swimsim.c, with observe.h and report.h).
 *
 * The event queue: one binary heap ordered by (deadline, insertion number)
 * holds timers the instances submitted, datagrams in flight and callbacks
 * the test scheduled.  Ties are broken by insertion order, so two events at
 * the same millisecond happen in the order they were created.  A timer
 * remembers the life id of the instance that submitted it: once that
 * instance is killed or restarted, its timers are dropped unseen.  The
 * runtime implements cancel: a cancelled timer is dropped unseen too when it
 * comes due (it keeps its place in the queue, so cancelling changes no
 * other event's order; sim_set_cancel turns the hook off).
 *
 * The network: a node's address is two bytes, its index (big-endian).
 * send_to() copies the datagram into the queue with a delivery time of
 * now + delay (+ jitter); by default every link has SIM_DEFAULT_DELAY_MS and
 * no loss.  A datagram is dropped when its link loses it (one PRNG draw per
 * datagram, at send time), when the link is cut (one-way), when the two
 * nodes sit in different partition groups, when either end is blocked, or
 * when the addressee has no running instance at delivery time.  Cuts,
 * partitions and blocks are checked both at send and at delivery, so a
 * partition also swallows what was in flight.  Every datagram is counted at
 * its sender (sent; dropped_out when lost) and at its addressee (recv when
 * delivered; dropped_in when lost).
 *
 * Faults of one node (what Lifeguard's and Rapid's experiments need): loss
 * on everything it receives or sends (drawn after the link's own loss, one
 * draw each, only when set); a processing delay, so datagrams that reached
 * it are handed to its instance later, in arrival order (a node whose CPU
 * is starved); stop-the-world pauses, during which nothing at the node
 * happens and after which every timer and datagram that came due runs in
 * order (SIGSTOP then SIGCONT); and reachability from only some peers (its
 * ingress cut from everyone else, a per-link cut underneath).  A datagram
 * held by a delay or a pause has already crossed the network: cuts made
 * meanwhile no longer swallow it, and the tap and the recv counters see it
 * when the instance handles it.
 *
 * Notifications: each node keeps a count per event type and a log of
 * (time, type, subject node, generation, incarnation, status); an optional
 * observer sees every notification as it happens.  Observers and taps run
 * inside a call into an instance: they may read the world and the instance
 * tables but must not run the world or change a node's lifecycle.
 *
 * Limits: every run is bounded by an event budget (SIM_DEFAULT_EVENT_LIMIT
 * events per sim_run_* call); a run that exceeds it prints the seed and the
 * time and aborts, so a livelock fails loudly instead of hanging the suite.
 *
 * Errors: functions that can fail return 0 or a negative code from err.h
 * (sim_add_node returns the new node's index instead of 0); node indexes out
 * of range give ERR_INVAL.  The world is not thread-safe; nothing is global.
 */
#ifndef SWIMD_SIM_H
#define SWIMD_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "swim.h"

/* One millisecond of one-way delay on every link: small against every
 * profile's probe timeout (>= 200 ms), yet non-zero, so a reply never
 * arrives in the same instant as its request. */
#define SIM_DEFAULT_DELAY_MS 1
/* Per run call: a 1,000-node world running 100 periods needs a few million
 * events; fifty million means something is spinning. */
#define SIM_DEFAULT_EVENT_LIMIT 50000000ULL
/* Notification log entries kept per node before older runs are no longer
 * logged (counters keep counting).  Bounds memory in large worlds. */
#define SIM_DEFAULT_LOG_CAP 65536
/* Addresses are 2-byte node indexes, so a world has at most this many. */
#define SIM_MAX_NODES 65535
/* Timer kinds counted per node: SWIM_TIMER_* are 1 to SWIM_TIMER_JUDGE. */
#define SIM_TIMER_KINDS (SWIM_TIMER_JUDGE + 1)

struct sim;

/* Called for every notification, after it is counted and logged. */
typedef void (*sim_observer_f)(void *ctx, struct sim *w, int node,
                               const struct swim_notification *n, uint64_t now);
/* Called once per datagram when its fate is decided: delivered (1, just
 * before the addressee handles it) or dropped (0).  from/to are node
 * indexes; to is -1 for an address that names no node. */
typedef void (*sim_tap_f)(void *ctx, struct sim *w, int from, int to, const uint8_t *data,
                          size_t len, int delivered);
/* A predicate over the world for sim_run_until_pred(); nonzero = holds. */
typedef int (*sim_pred_f)(struct sim *w, void *ctx);
/* A test callback scheduled with sim_call_at(); it may do anything. */
typedef void (*sim_call_f)(struct sim *w, void *ctx);

/* Counters of one node's traffic. */
struct sim_net_stats {
    uint64_t sent_packets, sent_bytes;               /* every send_to() by this node */
    uint64_t recv_packets, recv_bytes;               /* delivered to this node */
    uint64_t dropped_out_packets, dropped_out_bytes; /* sent by it, lost */
    uint64_t dropped_in_packets, dropped_in_bytes;   /* addressed to it, lost */
};

/* One logged notification.  subject is the node index the notification is
 * about (the member, the user broadcast's origin, or the node itself for
 * SELF_*), or -1 for a name that is no node of this world. */
struct sim_log_entry {
    uint64_t at;
    uint64_t generation;
    uint32_t incarnation;
    uint32_t user_id;
    int32_t subject;
    uint8_t type;   /* enum swim_event */
    uint8_t status; /* enum swim_status of the member record */
};

/* --- the world --------------------------------------------------------- */

/* A world at time 0 with no nodes.  NULL on out of memory. */
struct sim *sim_new(uint64_t seed);
/* Delete every instance, free every queued event.  NULL is a no-op. */
void sim_delete(struct sim *w);
uint64_t sim_seed(const struct sim *w);
/* A test seed: $SIM_SEED when set (to replay a failure), else dflt. */
uint64_t sim_seed_from_env(uint64_t dflt);
/* The next value of the world's PRNG (xoshiro256**), for tests that need
 * random choices that replay with the seed. */
uint64_t sim_rand(struct sim *w);
void sim_set_observer(struct sim *w, sim_observer_f fn, void *ctx);
void sim_set_tap(struct sim *w, sim_tap_f fn, void *ctx);
/* Events allowed per sim_run_* call before it aborts (0 = default). */
void sim_set_event_limit(struct sim *w, uint64_t limit);
/* Log entries kept per node (0 = log nothing; counters still count). */
void sim_set_log_cap(struct sim *w, size_t cap);
/* Whether instances booted from now on get the runtime's cancel hook (on by
 * default; off: NULL, so every timer comes back, cancelled or not). */
void sim_set_cancel(struct sim *w, int on);

/* --- nodes ------------------------------------------------------------- */

/* Create a node: a struct swim named `name` with the next generation of the
 * world's counter and a seed derived from the world seed and the node index,
 * then swim_start() it.  The config is copied (reused by sim_restart).
 * Returns the node index (>= 0), ERR_INVAL (bad name or config), ERR_EXISTS
 * (name taken), ERR_LIMIT (SIM_MAX_NODES) or ERR_NOMEM. */
int sim_add_node(struct sim *w, const char *name, const struct swim_config *cfg);
/* n nodes named <prefix><index>; returns the first index or an error. */
int sim_add_nodes(struct sim *w, int n, const char *prefix, const struct swim_config *cfg);
int sim_node_count(const struct sim *w);
/* Announce node to seed_node's address.  0, ERR_INVAL, ERR_STATE (node not
 * running) or the instance's error. */
int sim_announce(struct sim *w, int node, int seed_node);
/* Announce every running node other than seed_node to seed_node. */
int sim_announce_all(struct sim *w, int seed_node);
/* swim_leave() the node; it keeps running until killed. */
int sim_leave(struct sim *w, int node);
/* Crash: delete the instance at once.  Its timers die with it, datagrams
 * to it are dropped; datagrams it already sent still arrive.  ERR_STATE if
 * it was not running. */
int sim_kill(struct sim *w, int node);
/* A new instance under the same name and address with a higher generation
 * and a fresh seed, started, then announced to seed_node (< 0: no announce).
 * A running node is killed first. */
int sim_restart(struct sim *w, int node, int seed_node);
/* The node's instance, or NULL while it is killed or the index is bad. */
struct swim *sim_swim(const struct sim *w, int node);
const char *sim_name(const struct sim *w, int node);
/* Index of the node with that name, or -1. */
int sim_node_by_name(const struct sim *w, const char *name);
/* The node a notification's member is: by its address first (a node's
 * address names it; checked against the name), else by name; -1 if none. */
int sim_node_of_member(const struct sim *w, const struct swim_member_info *m);
int sim_running(const struct sim *w, int node);
/* Generation of the node's current (or last) instance; 0 for a bad index. */
uint64_t sim_generation(const struct sim *w, int node);
/* The address the world gives a node (2 bytes, big-endian index). */
void sim_addr(int node, struct swim_addr *out);

/* --- network ----------------------------------------------------------- */

/* Loss percentage (0..100) on the directed link from -> to; -1 for either
 * end means every node that exists now (later nodes get the defaults).  A
 * link without its own setting uses sim_set_loss_default()'s value. */
int sim_set_loss(struct sim *w, int from, int to, unsigned pct);
int sim_set_loss_default(struct sim *w, unsigned pct);
/* One-way delay on from -> to: delay_ms plus a uniform 0..jitter_ms. */
int sim_set_delay(struct sim *w, int from, int to, uint32_t delay_ms, uint32_t jitter_ms);
void sim_set_delay_default(struct sim *w, uint32_t delay_ms, uint32_t jitter_ms);
/* The one-way delay on from -> to without its jitter (the default for a
 * link without its own). */
uint32_t sim_delay(const struct sim *w, int from, int to);
/* Cut or restore the one-way link from -> to (-1 = every node). */
int sim_cut(struct sim *w, int from, int to);
int sim_uncut(struct sim *w, int from, int to);
/* A blocked node neither sends nor receives anything. */
int sim_block(struct sim *w, int node);
int sim_unblock(struct sim *w, int node);
/* Partition: group[i] is node i's group (n entries; nodes past n are in
 * group 0); datagrams between different groups are dropped. */
int sim_partition(struct sim *w, const int *group, int n);
/* Two groups: nodes [0, at) and [at, count). */
int sim_split(struct sim *w, int at);
/* Undo sim_partition/sim_split and every cut.  Blocks and loss stay. */
void sim_heal(struct sim *w);
/* Loss percentages (0..100) on everything the node receives (in_pct) and
 * sends (out_pct), on top of link loss. */
int sim_set_node_loss(struct sim *w, int node, unsigned in_pct, unsigned out_pct);
/* Processing delay: each datagram that reaches the node is handled delay_ms
 * plus a uniform 0..jitter_ms after it arrived, and never before one that
 * arrived earlier (0, 0 restores). */
int sim_set_slow(struct sim *w, int node, uint32_t delay_ms, uint32_t jitter_ms);
/* Stop the node's world for ms from now (a longer pause already running
 * wins): timers and datagrams that come due meanwhile wait for its end,
 * then run in their order. */
int sim_pause(struct sim *w, int node, uint64_t ms);
/* Pause the node for pause_ms of every every_ms (pause_ms < every_ms),
 * starting now, for for_ms (a process stopped and continued by a watchdog,
 * or a collector that stops the world).  A new call replaces the schedule;
 * for_ms = 0 ends it after the pause that is running. */
int sim_pause_every(struct sim *w, int node, uint64_t pause_ms, uint64_t every_ms, uint64_t for_ms);
/* 1 while the node is paused. */
int sim_paused(const struct sim *w, int node);
/* Only the n peers listed reach node: the links from every other node to it
 * are cut, those from the peers restored (its egress is left alone).
 * sim_uncut(w, -1, node) or sim_heal() undoes it. */
int sim_reachable_only_from(struct sim *w, int node, const int *peers, int n);
/* Would a datagram from -> to be dropped by a cut, partition or block now?
 * (Loss is random and not included.) */
int sim_link_is_down(const struct sim *w, int from, int to);
/* Put a datagram on the network as if `from` had sent it (same delay, loss
 * and counters).  ERR_INVAL for bad indexes or len > 65535. */
int sim_inject(struct sim *w, int from, int to, const uint8_t *data, size_t len);
void sim_net_stats(const struct sim *w, int node, struct sim_net_stats *out);
/* Sum over every node. */
void sim_net_total(const struct sim *w, struct sim_net_stats *out);

/* --- latency models (latency.c) ---------------------------------------- */

/* Regions: most of them the world models, and their one-way delays in ms.
 * Node i sits in a region and has an access delay a_i of 0..2 ms, both
 * drawn from the world's PRNG; the one-way delay between i and j is
 * SIM_INTRA_MS + a_i + a_j within a region (1..5 ms) and the regions' base
 * delay + a_i + a_j between two (20..78 ms), the same both ways, no jitter.
 * The bases (20, 55, 74 ms) obey the triangle inequality, as distances
 * between sites do; round trips are twice the one-way delay. */
#define SIM_REGIONS_MAX 3
#define SIM_INTRA_MS 1
#define SIM_ACCESS_MAX_MS 2

/* Give every link between the nodes that exist now its delay from a world
 * of `regions` (1..SIM_REGIONS_MAX) regions.  0, ERR_INVAL or ERR_NOMEM. */
int sim_latency_regions(struct sim *w, int regions);

/* How well the running nodes' own coordinates (swim_coord_self) predict
 * their round trips (the two one-way delays of each pair, sim_delay): the
 * relative error |estimate - truth| / truth over every pair. */
struct sim_coord_error {
    size_t pairs;
    double median, p90, max;
};
/* 0, ERR_INVAL (fewer than two running nodes) or ERR_NOMEM. */
int sim_coord_error(const struct sim *w, struct sim_coord_error *out);

/* --- running ----------------------------------------------------------- */

uint64_t sim_now(const struct sim *w);
/* Process every event with deadline <= t, then set the clock to t (if
 * later).  Aborts after the event limit. */
void sim_run_until(struct sim *w, uint64_t t);
void sim_run_for(struct sim *w, uint64_t ms);
/* Run until pred holds or the clock would pass deadline.  The predicate is
 * checked before the first event and then whenever the clock is about to
 * advance (after the last event of each millisecond), so the returned time
 * is the first virtual millisecond at whose end it held.  Returns that time
 * (the clock stays there), or UINT64_MAX with the clock at deadline. */
uint64_t sim_run_until_pred(struct sim *w, sim_pred_f pred, void *ctx, uint64_t deadline);
/* Schedule fn at absolute time t (now if t < now), ordered with the other
 * events by (t, insertion number).  0 or ERR_NOMEM. */
int sim_call_at(struct sim *w, uint64_t t, sim_call_f fn, void *ctx);
/* Events processed since the world was created. */
uint64_t sim_events_processed(const struct sim *w);
/* Events still queued (timers, datagrams, callbacks, stale ones included). */
size_t sim_events_pending(const struct sim *w);

/* --- queries ----------------------------------------------------------- */

/* The subject's status as the observer sees it (enum swim_status), or -1
 * if the observer does not know the subject or is not running.  A node
 * sees itself with its own status. */
int sim_status(const struct sim *w, int observer, int subject);
/* The observer's record of the subject; 0, ERR_NOTFOUND or ERR_STATE. */
int sim_member(const struct sim *w, int observer, int subject, struct swim_member_info *out);
/* 1 when every running node other than the subject sees it with status
 * (and, when current, at the subject's current generation). */
int sim_all_see(const struct sim *w, enum swim_status status, int subject);
int sim_all_see_current(const struct sim *w, enum swim_status status, int subject);
/* 1 when every running node sees every other running node as status. */
int sim_all_see_all(const struct sim *w, enum swim_status status);
/* 1 when every observer in obs[] sees every subject in subj[] (itself
 * excepted) with status; NULL with n = -1 means every running node. */
int sim_sees(const struct sim *w, const int *obs, int n_obs, const int *subj, int n_subj,
             enum swim_status status);
/* How many running nodes other than the subject see it with status. */
int sim_count_seeing(const struct sim *w, enum swim_status status, int subject);

/* Notifications of a type a node received (counted always, uncapped). */
uint64_t sim_notified(const struct sim *w, int node, enum swim_event type);
/* Sum over every node. */
uint64_t sim_notified_total(const struct sim *w, enum swim_event type);
/* Timers a node's instance submitted since it was added, of one kind
 * (SWIM_TIMER_*), or of every kind when kind is 0 (counted always, across
 * restarts). */
uint64_t sim_timers_submitted(const struct sim *w, int node, uint32_t kind);
/* Timers handed back to a node's instance (its wake-ups), counted the same
 * way: a cancelled timer, or one of a killed instance, is not. */
uint64_t sim_timers_fired(const struct sim *w, int node, uint32_t kind);
/* From the logs: how many notifications of type about subject the observer
 * got (observer -1: every node). */
uint64_t sim_notified_about(const struct sim *w, int observer, enum swim_event type, int subject);
/* Time of the first such notification, or UINT64_MAX. */
uint64_t sim_first_notified(const struct sim *w, int observer, enum swim_event type, int subject);
size_t sim_log_count(const struct sim *w, int node);
const struct sim_log_entry *sim_log_at(const struct sim *w, int node, size_t i);

/* --- assertions -------------------------------------------------------- */

/* Format "seed=<seed> t=<now>ms: <cond>: <message>" into buf (used by the
 * tests' SIM_ASSERT, tests/sim/sim_assert.h; never fails, truncates). */
void sim_failmsg_(const struct sim *w, char *buf, size_t size, const char *cond, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));

#endif /* SWIMD_SIM_H */
