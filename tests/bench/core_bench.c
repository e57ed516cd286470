/*
 * core_bench.c - speed and memory of the SWIM core.
 *
 * Prints one `name value unit` line per figure:
 *   core_packets_per_s            PINGs carrying one gossip record each, decoded,
 *                                 applied and answered with an ACK, by one
 *                                 instance holding 1,000 members, on one core
 *   sim_1000_nodes_100_periods_s  wall seconds for the simulated world to run
 *                                 a converged 1,000-node lan cluster for 100
 *                                 protocol periods
 *   sim_1000_nodes_join_s         wall seconds for those 1,000 nodes to join
 *                                 through one seed and converge (setup above)
 *   member_bytes                  memory per member entry, indexes included
 *   member_bytes_measured         the same, measured through mallinfo2 over
 *                                 a 10,000-member table
 *   sim_detect_mean_ms / _max_ms  crash to FAILED everywhere, 10-node lan
 *                                 cluster, over 100 seeded runs
 *   sim_false_failures_10pct_loss FAILED verdicts about live nodes: 50 nodes,
 *                                 300 periods, 10% loss on every link, 5 seeds
 *   sim_suspicions_10pct_loss     suspicion notifications in those runs
 *
 * Usage: core_bench [packets]   (default 2,000,000)
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"
#include "swim.h"
#include "wire.h"

struct sink {
    uint64_t sent;
    uint64_t bytes;
};

static void sink_notify(void *ctx, const struct swim_notification *n)
{
    (void)ctx;
    (void)n;
}

static void sink_send(void *ctx, const struct swim_addr *to, const uint8_t *d, size_t len)
{
    struct sink *k = ctx;
    (void)to;
    (void)d;
    k->sent++;
    k->bytes += len;
}

static void sink_timer(void *ctx, const struct swim_timer *t, uint64_t ms)
{
    (void)ctx;
    (void)t;
    (void)ms;
}

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void name_of(char *buf, size_t size, int i)
{
    snprintf(buf, size, "node-%05d", i);
}

static void addr_of(struct swim_addr *a, int i)
{
    a->len = 6;
    a->bytes[0] = 127;
    a->bytes[1] = 0;
    a->bytes[2] = (uint8_t)(i >> 8);
    a->bytes[3] = (uint8_t)i;
    a->bytes[4] = 0x1f;
    a->bytes[5] = 0x0a;
}

/* A datagram from member `from` of type `type` carrying member `about`'s
 * alive record at incarnation 0. */
static size_t build(uint8_t *buf, size_t cap, uint8_t type, int from, int about, uint32_t seq,
                    const char *dst)
{
    char src[32], subj[32];
    uint8_t body[256];
    struct wire_header h;
    struct wire_member m;
    memset(&h, 0, sizeof(h));
    memset(&m, 0, sizeof(m));
    name_of(src, sizeof(src), from);
    name_of(subj, sizeof(subj), about);
    h.type = type;
    h.src.ptr = src;
    h.src.len = (uint8_t)strlen(src);
    addr_of(&h.src_addr, from);
    h.src_gen = 1;
    h.seq = seq;
    if (dst != NULL) {
        h.flags = WIRE_F_HAS_DST;
        h.dst.ptr = dst;
        h.dst.len = (uint8_t)strlen(dst);
        h.dst_gen = 1;
    }
    m.name.ptr = subj;
    m.name.len = (uint8_t)strlen(subj);
    addr_of(&m.addr, about);
    m.gen = 1;
    m.status = WIRE_ALIVE;
    uint8_t *p = buf, *bp = body;
    if (wire_encode_header(&p, buf + cap, &h) != 0 ||
        wire_encode_member(&bp, body + sizeof(body), &m) != 0 ||
        wire_encode_item(&p, buf + cap, WIRE_ITEM_MEMBER, body, (size_t)(bp - body)) != 0)
        abort();
    return (size_t)(p - buf);
}

static struct swim *instance_with(int members, struct sink *k)
{
    struct swim_config c;
    struct swim_runtime rt = {k, sink_notify, sink_send, sink_timer, NULL, NULL};
    struct swim_addr self = {.len = 6, .bytes = {127, 0, 0, 1, 0x1f, 0x0a}};
    uint8_t buf[1400];
    swim_config_profile(&c, "lan");
    c.max_members = SWIM_MEMBERS_LIMIT;
    struct swim *s = swim_new(&c, "bench-self", &self, 1, 42, &rt);
    if (s == NULL || swim_start(s, 0) != 0)
        abort();
    for (int i = 0; i < members; i++) {
        size_t n = build(buf, sizeof(buf), WIRE_GOSSIP, i, i, 0, NULL);
        struct swim_addr from = {.len = 6};
        swim_handle_packet(s, &from, buf, n, 1);
    }
    if (swim_member_count(s) != (size_t)members)
        abort();
    /* Answer PINGs until the join records have left the queue, as in a
     * steady cluster (bounded: each ACK carries dozens of records). */
    struct swim_stats st;
    swim_get_stats(s, &st);
    for (int i = 0; members > 0 && i < 1000000 && st.pending_updates > 0; i++) {
        size_t n =
            build(buf, sizeof(buf), WIRE_PING, i % members, i % members, (uint32_t)i, "bench-self");
        struct swim_addr from = {.len = 6};
        swim_handle_packet(s, &from, buf, n, 2);
        swim_get_stats(s, &st);
    }
    return s;
}

static void bench_packets(long packets)
{
    enum { MEMBERS = 1000, VARIANTS = 4096 };
    struct sink k = {0, 0};
    struct swim *s = instance_with(MEMBERS, &k);
    static uint8_t pkts[VARIANTS][256];
    static size_t lens[VARIANTS];
    for (int v = 0; v < VARIANTS; v++)
        lens[v] = build(pkts[v], sizeof(pkts[v]), WIRE_PING, v % MEMBERS, (v * 31 + 7) % MEMBERS,
                        (uint32_t)v, "bench-self");
    struct swim_addr from = {.len = 6, .bytes = {127, 0, 0, 2, 0x1f, 0x0a}};
    uint64_t sent0 = k.sent;
    double t0 = wall();
    for (long i = 0; i < packets; i++)
        swim_handle_packet(s, &from, pkts[i % VARIANTS], lens[i % VARIANTS], 10);
    double dt = wall() - t0;
    if (k.sent - sent0 != (uint64_t)packets) {
        fprintf(stderr, "expected one ACK per PING, got %llu for %ld\n",
                (unsigned long long)(k.sent - sent0), packets);
        exit(1);
    }
    printf("core_packets_per_s %.0f packets/s\n", packets / dt);
    swim_delete(s);
}

static int pred_converged(struct sim *w, void *ctx)
{
    (void)ctx;
    return sim_all_see_all(w, SWIM_ALIVE);
}

static void bench_sim(void)
{
    struct swim_config c;
    swim_config_profile(&c, "lan");
    struct sim *w = sim_new(7);
    sim_set_log_cap(w, 0);
    double t0 = wall();
    if (sim_add_nodes(w, 1000, "n", &c) != 0 || sim_announce_all(w, 0) != 0)
        abort();
    /* Check convergence every 100 virtual ms rather than every event: the
     * check itself is N^2 lookups. */
    int converged = 0;
    for (int i = 0; i < 1200 && !converged; i++) {
        sim_run_for(w, 100);
        converged = pred_converged(w, NULL);
    }
    double joined = wall();
    if (!converged) {
        fprintf(stderr, "1,000 nodes did not converge\n");
        exit(1);
    }
    sim_run_for(w, 100 * (uint64_t)c.probe_interval_ms);
    double done = wall();
    if (!sim_all_see_all(w, SWIM_ALIVE)) {
        fprintf(stderr, "1,000 nodes lost convergence\n");
        exit(1);
    }
    printf("sim_1000_nodes_join_s %.2f s\n", joined - t0);
    printf("sim_1000_nodes_100_periods_s %.2f s\n", done - joined);
    sim_delete(w);
}

static void bench_memory(void)
{
    enum { MEMBERS = 10000 };
    printf("member_bytes %zu bytes\n", swim_member_footprint());
    struct sink k = {0, 0};
    struct mallinfo2 a = mallinfo2();
    struct swim *s = instance_with(MEMBERS, &k);
    struct mallinfo2 b = mallinfo2();
    swim_delete(s);
    /* Subtract what an instance holds with no members at all. */
    struct mallinfo2 c0 = mallinfo2();
    struct swim *e = instance_with(0, &k);
    struct mallinfo2 c1 = mallinfo2();
    swim_delete(e);
    double per =
        ((double)(b.uordblks - a.uordblks) - (double)(c1.uordblks - c0.uordblks)) / MEMBERS;
    printf("member_bytes_measured %.0f bytes\n", per);
}

static int pred_failed(struct sim *w, void *ctx)
{
    return sim_all_see(w, SWIM_FAILED, *(const int *)ctx);
}

static void bench_accuracy(void)
{
    enum { RUNS = 100, N = 10 };
    struct swim_config c;
    swim_config_profile(&c, "lan");
    uint64_t sum = 0, max = 0;
    for (int r = 0; r < RUNS; r++) {
        struct sim *w = sim_new(1000 + (uint64_t)r);
        sim_set_log_cap(w, 0);
        if (sim_add_nodes(w, N, "n", &c) != 0 || sim_announce_all(w, 0) != 0)
            abort();
        sim_run_until_pred(w, pred_converged, NULL, 20000);
        sim_run_for(w, sim_rand(w) % c.probe_interval_ms); /* a random phase */
        int dead = N - 1;
        uint64_t t0 = sim_now(w);
        sim_kill(w, dead);
        uint64_t t = sim_run_until_pred(w, pred_failed, &dead, t0 + 120000);
        if (t == UINT64_MAX) {
            fprintf(stderr, "run %d never detected the crash\n", r);
            exit(1);
        }
        sum += t - t0;
        max = t - t0 > max ? t - t0 : max;
        sim_delete(w);
    }
    printf("sim_detect_mean_ms %.0f ms\n", (double)sum / RUNS);
    printf("sim_detect_max_ms %llu ms\n", (unsigned long long)max);

    uint64_t false_failures = 0, suspicions = 0;
    for (int r = 0; r < 5; r++) {
        struct sim *w = sim_new(2000 + (uint64_t)r);
        sim_set_log_cap(w, 0);
        if (sim_add_nodes(w, 50, "n", &c) != 0 || sim_announce_all(w, 0) != 0)
            abort();
        sim_run_until_pred(w, pred_converged, NULL, 30000);
        sim_set_loss_default(w, 10);
        sim_run_for(w, 300 * (uint64_t)c.probe_interval_ms);
        false_failures += sim_notified_total(w, SWIM_EV_MEMBER_FAILED);
        suspicions += sim_notified_total(w, SWIM_EV_MEMBER_SUSPECT);
        sim_delete(w);
    }
    printf("sim_false_failures_10pct_loss %llu verdicts\n", (unsigned long long)false_failures);
    printf("sim_suspicions_10pct_loss %llu notifications\n", (unsigned long long)suspicions);
}

int main(int argc, char **argv)
{
    long packets = argc > 1 ? atol(argv[1]) : 2000000;
    if (argc > 1 && (packets <= 0 || strcmp(argv[1], "--help") == 0)) {
        fprintf(stderr, "usage: core_bench [packets]\n");
        return 2;
    }
    bench_packets(packets);
    bench_memory();
    bench_accuracy();
    bench_sim();
    return 0;
}
