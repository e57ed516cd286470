/*
 * swimsim - see how a cluster of your size behaves before you deploy it.
 *
 * Runs N instances of the real protocol core (swim/, the code swimd runs)
 * in the simulated world (sim.h) on virtual time: every node starts at
 * once and announces to the first, the run lasts P protocol periods, and
 * the scenario flags crash nodes, split the cluster, make nodes slow or
 * lose datagrams on every link.  The measurements (observe.h) go to files
 * in the output folder (report.h): summary.json, timeseries.csv and three
 * plots; with --sweep, one such run per cluster size and two plots against
 * N.  The same seed gives the same run, event for event.
 *
 * Exit codes: 0 the run(s) completed and every file was written; 1 a run
 * could not be made or a file not written; 2 bad flags (with a message).
 * Program-private symbols carry ss_.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "observe.h"
#include "prng.h"
#include "report.h"
#include "sim.h"
#include "swim.h"

#ifndef SWIMSIM_VERSION
#define SWIMSIM_VERSION "unknown"
#endif

/* Flags of one kind a user may repeat. */
#define SS_REPEAT_MAX 64
/* Cluster sizes one sweep may list. */
#define SS_SWEEP_MAX 32
/* The time series and the convergence curve sample the world this often:
 * fine enough for a curve that rises within a few hundred ms, 20 rows per
 * simulated second. */
#define SS_SAMPLE_MS 50
/* A progress line once a run has taken this long (wall ms), then one per
 * SS_PROGRESS_EVERY_MS. */
#define SS_PROGRESS_AFTER_MS 2000
#define SS_PROGRESS_EVERY_MS 1000

struct ss_kill {
    int count;
    uint64_t at_ms;
};

struct ss_partition {
    unsigned a, b; /* relative sizes of the two sides */
    uint64_t from_ms, to_ms;
};

struct ss_slow {
    int count;
    uint32_t delay_ms;
};

struct ss_opts {
    int nodes;
    uint32_t periods;
    const char *profile;
    uint64_t seed;
    unsigned loss_pct;
    int regions; /* --latency regions: SIM_REGIONS_MAX; 0: every link the default */
    const char *out;
    int quiet;
    struct swim_config cfg;
    int max_members_given; /* --protocol max_members=...: taken as is, not raised to N */
    const char *protocol[SS_REPEAT_MAX];
    size_t n_protocol;
    struct ss_kill kill[SS_REPEAT_MAX];
    const char *kill_s[SS_REPEAT_MAX];
    size_t n_kill;
    struct ss_partition part[SS_REPEAT_MAX];
    const char *part_s[SS_REPEAT_MAX];
    size_t n_part;
    struct ss_slow slow[SS_REPEAT_MAX];
    const char *slow_s[SS_REPEAT_MAX];
    size_t n_slow;
    int sweep[SS_SWEEP_MAX];
    size_t n_sweep;
};

static void ss_usage(FILE *f)
{
    fputs("usage: swimsim --nodes N --periods P --out DIR [options]\n"
          "       swimsim --sweep N,N,... --periods P --out DIR [options]\n"
          "\n"
          "Runs N nodes of the swimd protocol core on virtual time: every node starts at\n"
          "once and joins the first, the run lasts P protocol periods, and the results go\n"
          "to DIR: summary.json, timeseries.csv, convergence.svg, detection.svg, bytes.svg.\n"
          "\n"
          "  -n, --nodes N               cluster size, 1 to 65535\n"
          "  -p, --periods P             protocol periods to run (P x probe_interval_ms of\n"
          "                              virtual time), 1 to 1000000\n"
          "  -o, --out DIR               output folder (made if missing; files replaced)\n"
          "      --profile NAME          lan (default), wan or local: swimd's timings\n"
          "      --protocol KEY=VALUE    override one protocol setting of the profile; may be\n"
          "                              repeated.  KEY is one of:\n",
          f);
    const char *key;
    fputs("                               ", f);
    for (size_t i = 0, col = 31; (key = swim_config_key(i)) != NULL; i++) {
        size_t len = strlen(key) + 1;
        if (col + len > 78) {
            fputs("\n                               ", f);
            col = 31;
        }
        fprintf(f, " %s", key);
        col += len;
    }
    fputs("\n"
          "                              (max_members, the profile's 8192, is raised to N\n"
          "                              for larger runs unless given here)\n"
          "  -s, --seed S                the run's seed (default 1): the same seed, the same run\n"
          "      --loss PCT              lose PCT percent (0 to 100) of datagrams on every link\n"
          "      --latency MODEL         uniform (default: 1 ms one way on every link) or\n"
          "                              regions: three regions, 1-5 ms one way within one,\n"
          "                              20-78 ms between two; the summary then gives the\n"
          "                              network coordinates' error (memory grows with N^2)\n"
          "      --kill K@SECONDS        crash K random running nodes SECONDS into the run;\n"
          "                              may be repeated\n"
          "      --partition A/B@FROM-TO split the nodes in two sides sized A:B (the first\n"
          "                              A/(A+B) of them, the rest) from FROM to TO seconds;\n"
          "                              may be repeated (a later split replaces an earlier)\n"
          "      --slow K@DELAY_MS       K random nodes handle every datagram DELAY_MS late;\n"
          "                              may be repeated\n"
          "      --sweep N,N,...         one run per cluster size instead of --nodes, each in\n"
          "                              DIR/n<N>/; adds DIR/sweep.csv, DIR/sweep.json,\n"
          "                              DIR/bytes_vs_nodes.svg, DIR/convergence_vs_nodes.svg\n"
          "  -q, --quiet                 no progress line on stderr\n"
          "  -h, --help                  this text\n"
          "      --version               the version\n"
          "\n"
          "summary.json: nodes, periods, seed, converged_ms (until every node sees every\n"
          "live node alive; null if never), detect_ms_median, detect_ms_p99 (crash to\n"
          "FAILED, per observer), false_failures (FAILED about running nodes),\n"
          "suspicions, bytes_per_node_per_s (sent per running node per second over the\n"
          "second half of the run, once the join's traffic has drained), wall_s,\n"
          "latency, coord_rel_error_median and coord_rel_error_p90 (|estimated - true|\n"
          "/ true round trip over every pair of running nodes at the end, from their\n"
          "coordinates; null with uniform latency), and more.  Memory grows with N^2 (every node "
          "holds every member): about 1.4 GiB\n"
          "at 5,000 nodes and 3.9 GiB at 10,000.\n"
          "\n"
          "Exit status: 0 done, 1 the run or its files failed, 2 bad flags.\n",
          f);
}

static void ss_bad(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void ss_bad(const char *fmt, ...)
{
    va_list ap;
    fputs("swimsim: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(swimsim --help lists the flags)\n", stderr);
    exit(2);
}

/* A whole number in [lo, hi] that is all of s. */
static int ss_uint(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Seconds (a decimal number >= 0) as milliseconds. */
static int ss_seconds(const char *s, uint64_t *ms)
{
    char *end;
    if (s == NULL || ((*s < '0' || *s > '9') && *s != '.'))
        return -1;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0' || !(v >= 0) || v > 1e9)
        return -1;
    *ms = (uint64_t)llround(v * 1000.0);
    return 0;
}

/* Split "LEFT<sep>RIGHT" of s into buffers; -1 without sep. */
static int ss_split(const char *s, char sep, char *l, char *r, size_t cap)
{
    const char *at = strchr(s, sep);
    if (at == NULL || (size_t)(at - s) >= cap || strlen(at + 1) >= cap)
        return -1;
    memcpy(l, s, (size_t)(at - s));
    l[at - s] = '\0';
    strcpy(r, at + 1);
    return 0;
}

static void ss_parse_kill(struct ss_opts *o, const char *v)
{
    char k[64], t[64];
    uint64_t count, ms;
    if (o->n_kill >= SS_REPEAT_MAX)
        ss_bad("--kill: at most %d", SS_REPEAT_MAX);
    if (ss_split(v, '@', k, t, sizeof(k)) != 0 || ss_uint(k, 1, SIM_MAX_NODES, &count) != 0 ||
        ss_seconds(t, &ms) != 0)
        ss_bad("--kill: expected K@SECONDS (K from 1, e.g. 3@20), got \"%s\"", v);
    o->kill[o->n_kill] = (struct ss_kill){(int)count, ms};
    o->kill_s[o->n_kill++] = v;
}

static void ss_parse_partition(struct ss_opts *o, const char *v)
{
    char sides[64], span[64], a[32], b[32], from[32], to[32];
    uint64_t na, nb, t0, t1;
    if (o->n_part >= SS_REPEAT_MAX)
        ss_bad("--partition: at most %d", SS_REPEAT_MAX);
    if (ss_split(v, '@', sides, span, sizeof(sides)) != 0 ||
        ss_split(sides, '/', a, b, sizeof(a)) != 0 || ss_split(span, '-', from, to, sizeof(from)) ||
        ss_uint(a, 1, 1000000, &na) != 0 || ss_uint(b, 1, 1000000, &nb) != 0 ||
        ss_seconds(from, &t0) != 0 || ss_seconds(to, &t1) != 0 || t1 <= t0)
        ss_bad("--partition: expected A/B@FROM-TO (A, B from 1, FROM < TO seconds, e.g. "
               "50/50@30-60), got \"%s\"",
               v);
    o->part[o->n_part] = (struct ss_partition){(unsigned)na, (unsigned)nb, t0, t1};
    o->part_s[o->n_part++] = v;
}

static void ss_parse_slow(struct ss_opts *o, const char *v)
{
    char k[64], d[64];
    uint64_t count, delay;
    if (o->n_slow >= SS_REPEAT_MAX)
        ss_bad("--slow: at most %d", SS_REPEAT_MAX);
    if (ss_split(v, '@', k, d, sizeof(k)) != 0 || ss_uint(k, 1, SIM_MAX_NODES, &count) != 0 ||
        ss_uint(d, 0, 3600u * 1000, &delay) != 0)
        ss_bad("--slow: expected K@DELAY_MS (e.g. 2@300), got \"%s\"", v);
    o->slow[o->n_slow] = (struct ss_slow){(int)count, (uint32_t)delay};
    o->slow_s[o->n_slow++] = v;
}

static void ss_parse_sweep(struct ss_opts *o, const char *v)
{
    char buf[512];
    if (strlen(v) >= sizeof(buf))
        ss_bad("--sweep: list too long");
    strcpy(buf, v);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        uint64_t n;
        if (o->n_sweep >= SS_SWEEP_MAX)
            ss_bad("--sweep: at most %d sizes", SS_SWEEP_MAX);
        if (ss_uint(t, 1, SIM_MAX_NODES, &n) != 0)
            ss_bad("--sweep: expected sizes 1 to %d separated by commas, got \"%s\"", SIM_MAX_NODES,
                   v);
        o->sweep[o->n_sweep++] = (int)n;
    }
    if (o->n_sweep == 0)
        ss_bad("--sweep: expected sizes separated by commas, got \"%s\"", v);
}

static void ss_parse(int argc, char **argv, struct ss_opts *o)
{
    enum {
        OPT_PROFILE = 256,
        OPT_PROTOCOL,
        OPT_LOSS,
        OPT_LATENCY,
        OPT_KILL,
        OPT_PARTITION,
        OPT_SLOW,
        OPT_SWEEP,
        OPT_VERSION
    };
    static const struct option longopts[] = {
        {"nodes", required_argument, NULL, 'n'},
        {"periods", required_argument, NULL, 'p'},
        {"out", required_argument, NULL, 'o'},
        {"seed", required_argument, NULL, 's'},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"protocol", required_argument, NULL, OPT_PROTOCOL},
        {"loss", required_argument, NULL, OPT_LOSS},
        {"latency", required_argument, NULL, OPT_LATENCY},
        {"kill", required_argument, NULL, OPT_KILL},
        {"partition", required_argument, NULL, OPT_PARTITION},
        {"slow", required_argument, NULL, OPT_SLOW},
        {"sweep", required_argument, NULL, OPT_SWEEP},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    uint64_t v;
    int c;
    memset(o, 0, sizeof(*o));
    o->profile = "lan";
    o->seed = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":n:p:o:s:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (ss_uint(optarg, 1, SIM_MAX_NODES, &v) != 0)
                ss_bad("--nodes: expected 1 to %d, got \"%s\"", SIM_MAX_NODES, optarg);
            o->nodes = (int)v;
            break;
        case 'p':
            if (ss_uint(optarg, 1, 1000000, &v) != 0)
                ss_bad("--periods: expected 1 to 1000000, got \"%s\"", optarg);
            o->periods = (uint32_t)v;
            break;
        case 'o':
            if (optarg[0] == '\0' || strlen(optarg) > PATH_MAX - 64)
                ss_bad("--out: expected a folder");
            o->out = optarg;
            break;
        case 's':
            if (ss_uint(optarg, 0, UINT64_MAX, &v) != 0)
                ss_bad("--seed: expected a whole number, got \"%s\"", optarg);
            o->seed = v;
            break;
        case OPT_PROFILE:
            o->profile = optarg;
            break;
        case OPT_PROTOCOL:
            if (o->n_protocol >= SS_REPEAT_MAX)
                ss_bad("--protocol: at most %d", SS_REPEAT_MAX);
            o->protocol[o->n_protocol++] = optarg;
            break;
        case OPT_LOSS:
            if (ss_uint(optarg, 0, 100, &v) != 0)
                ss_bad("--loss: expected a percentage, 0 to 100, got \"%s\"", optarg);
            o->loss_pct = (unsigned)v;
            break;
        case OPT_LATENCY:
            if (strcmp(optarg, "uniform") != 0 && strcmp(optarg, "regions") != 0)
                ss_bad("--latency: expected uniform or regions, got \"%s\"", optarg);
            o->regions = strcmp(optarg, "regions") == 0 ? SIM_REGIONS_MAX : 0;
            break;
        case OPT_KILL:
            ss_parse_kill(o, optarg);
            break;
        case OPT_PARTITION:
            ss_parse_partition(o, optarg);
            break;
        case OPT_SLOW:
            ss_parse_slow(o, optarg);
            break;
        case OPT_SWEEP:
            ss_parse_sweep(o, optarg);
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            ss_usage(stdout);
            exit(0);
        case OPT_VERSION:
            printf("swimsim %s\n", SWIMSIM_VERSION);
            exit(0);
        case ':':
            ss_bad("%s needs a value", argv[optind - 1]);
        default:
            ss_bad("unknown flag %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        ss_bad("unexpected argument \"%s\"", argv[optind]);
    if ((o->nodes == 0) == (o->n_sweep == 0))
        ss_bad("give either --nodes or --sweep");
    if (o->periods == 0)
        ss_bad("--periods is required");
    if (o->out == NULL)
        ss_bad("--out is required");
    if (swim_config_profile(&o->cfg, o->profile) != 0)
        ss_bad("--profile: expected lan, wan or local, got \"%s\"", o->profile);
    for (size_t i = 0; i < o->n_protocol; i++) {
        char key[64], val[64];
        const char *kv = o->protocol[i];
        if (ss_split(kv, '=', key, val, sizeof(key)) != 0 || ss_uint(val, 0, UINT32_MAX, &v) ||
            swim_config_set(&o->cfg, key, (uint32_t)v) != 0)
            ss_bad("--protocol: expected KEY=VALUE with a KEY --help lists and a whole "
                   "number, got \"%s\"",
                   kv);
        o->max_members_given |= strcmp(key, "max_members") == 0;
    }
    if (swim_config_check(&o->cfg) != 0)
        ss_bad("--protocol: the %s profile with these overrides is not valid (every interval "
               "above 0, probe_timeout_ms below probe_interval_ms, max_packet %d to %d, at most "
               "16 gossip_nodes, indirect_checks and reprobe, flags 0 or 1)",
               o->profile, SWIM_PACKET_MIN, SWIM_PACKET_MAX);
}

/* ---------------------------------------------------------------- a run */

static double ss_wall(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct ss_run {
    const struct ss_opts *o;
    struct sim *w;
    struct obs *obs;
    struct prng rng; /* the scenario's random choices, apart from the world's */
    uint64_t end_ms;
    double wall0, last_progress;
    int failed; /* out of memory while sampling */
};

/* k distinct random nodes among those `want` accepts, into out; how many. */
static int ss_pick(struct ss_run *r, int k, int (*want)(struct ss_run *, int), int *out)
{
    int n = sim_node_count(r->w), got = 0;
    int *pool = malloc((size_t)n * sizeof(*pool));
    if (pool == NULL)
        return 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (want(r, i))
            pool[m++] = i;
    for (; got < k && m > 0; got++) { /* draw without replacement */
        int j = (int)prng_below(&r->rng, (uint64_t)m);
        out[got] = pool[j];
        pool[j] = pool[--m];
    }
    free(pool);
    return got;
}

static int ss_is_running(struct ss_run *r, int i)
{
    return sim_running(r->w, i);
}

/* Scheduled callbacks carry the run and the flag they come from. */
struct ss_call {
    struct ss_run *r;
    size_t i;
};

static void ss_do_kill(struct sim *w, void *ctx)
{
    (void)w;
    struct ss_call *c = ctx;
    struct ss_run *r = c->r;
    int *victims = malloc((size_t)r->o->kill[c->i].count * sizeof(*victims));
    if (victims == NULL) {
        r->failed = 1;
        return;
    }
    int n = ss_pick(r, r->o->kill[c->i].count, ss_is_running, victims);
    for (int i = 0; i < n; i++)
        (void)obs_kill(r->obs, victims[i]);
    free(victims);
}

static void ss_do_split(struct sim *w, void *ctx)
{
    struct ss_call *c = ctx;
    const struct ss_partition *p = &c->r->o->part[c->i];
    int n = sim_node_count(w);
    int *group = malloc((size_t)n * sizeof(*group));
    if (group == NULL) {
        c->r->failed = 1;
        return;
    }
    int first = (int)llround((double)n * p->a / (double)(p->a + p->b));
    for (int i = 0; i < n; i++)
        group[i] = i < first ? 0 : 1;
    (void)sim_partition(w, group, n);
    free(group);
}

static void ss_do_heal(struct sim *w, void *ctx)
{
    (void)ctx;
    sim_heal(w);
}

static void ss_do_sample(struct sim *w, void *ctx)
{
    struct ss_run *r = ctx;
    if (obs_sample(r->obs) != 0)
        r->failed = 1;
    uint64_t next = sim_now(w) + SS_SAMPLE_MS;
    if (next <= r->end_ms && sim_call_at(w, next, ss_do_sample, r) != 0)
        r->failed = 1;
    if (r->o->quiet || sim_now(w) % 1000 != 0)
        return;
    double now = ss_wall();
    if ((now - r->wall0) * 1000 < SS_PROGRESS_AFTER_MS ||
        (now - r->last_progress) * 1000 < SS_PROGRESS_EVERY_MS)
        return;
    r->last_progress = now;
    int tty = isatty(STDERR_FILENO);
    struct obs_results res;
    obs_results(r->obs, &res);
    fprintf(stderr,
            "%sswimsim: %d nodes, %.0f of %.0f virtual s, %d/%d with the full view, %.0f s wall%s",
            tty ? "\r" : "", sim_node_count(w), (double)sim_now(w) / 1000, (double)r->end_ms / 1000,
            res.full, res.running, now - r->wall0, tty ? "   " : "\n");
    fflush(stderr);
}

static int ss_mkdir(const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "swimsim: cannot make %s: %s\n", dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Bytes sent per running node per second, over the samples after
 * from_ms. */
static double ss_bytes_rate(const struct obs_sample *s, size_t n, uint64_t from_ms)
{
    uint64_t bytes = 0;
    double node_ms = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].at <= from_ms)
            continue;
        bytes += s[i].bytes;
        node_ms += (double)s[i].running * SS_SAMPLE_MS;
    }
    return node_ms > 0 ? (double)bytes / (node_ms / 1000.0) : 0.0;
}

/* Whether the last run's world is freed before the process exits.  A
 * world of 10,000 nodes holds 10^8 member entries, and freeing them one by
 * one took 4 s of a 60 s run for memory the process gives back at once on
 * exit; so, as compilers do, the last run's world is left to the exit.
 * Sanitizer builds (the tests') free it, so that leaks still show. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SS_FREE_AT_EXIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(leak_sanitizer)
#define SS_FREE_AT_EXIT 1
#endif
#endif
#ifndef SS_FREE_AT_EXIT
#define SS_FREE_AT_EXIT 0
#endif

/* One run of `nodes` nodes into dir; fills row; `last`: the process's
 * last run.  0 or -1. */
static int ss_run_one(const struct ss_opts *o, int nodes, const char *dir,
                      struct report_sweep_row *row, struct report_run *keep, bool last)
{
    struct ss_run r = {.o = o};
    struct ss_call kills[SS_REPEAT_MAX], parts[SS_REPEAT_MAX];
    int rc = -1;
    r.wall0 = r.last_progress = ss_wall();
    r.end_ms = (uint64_t)o->periods * o->cfg.probe_interval_ms;
    /* The simulated cluster is as large as asked: its table bound with it,
     * unless --protocol set the bound. */
    struct swim_config cfg = o->cfg;
    if (!o->max_members_given && cfg.max_members < (uint32_t)nodes)
        cfg.max_members = (uint32_t)nodes;
    prng_seed(&r.rng, o->seed ^ 0x5157494d53494dull); /* "SWIMSIM" */
    r.w = sim_new(o->seed);
    if (r.w == NULL) {
        fputs("swimsim: out of memory\n", stderr);
        return -1;
    }
    sim_set_log_cap(r.w, 0);
    sim_set_event_limit(r.w, UINT64_MAX);
    sim_set_loss_default(r.w, o->loss_pct);
    /* Names of one length whatever N ("n00042"), as hosts of one cluster
     * tend to have: the bytes per node then compare across sizes. */
    for (int i = 0; i < nodes; i++) {
        char name[16];
        snprintf(name, sizeof(name), "n%05d", i);
        int rc_add = sim_add_node(r.w, name, &cfg);
        if (rc_add < 0) {
            fprintf(stderr, "swimsim: cannot make %d nodes: %s\n", nodes, err_strerror(rc_add));
            goto out;
        }
    }
    if (o->regions > 0 && sim_latency_regions(r.w, o->regions) != 0) {
        fputs("swimsim: out of memory for the latency matrix\n", stderr);
        goto out;
    }
    r.obs = obs_new(r.w);
    if (r.obs == NULL || sim_announce_all(r.w, 0) != 0) {
        fputs("swimsim: out of memory\n", stderr);
        goto out;
    }
    for (size_t i = 0; i < o->n_slow; i++) {
        int *pick = malloc((size_t)o->slow[i].count * sizeof(*pick));
        if (pick == NULL)
            goto out;
        int n = ss_pick(&r, o->slow[i].count, ss_is_running, pick);
        for (int k = 0; k < n; k++)
            (void)sim_set_slow(r.w, pick[k], o->slow[i].delay_ms, 0);
        free(pick);
    }
    for (size_t i = 0; i < o->n_kill; i++) {
        kills[i] = (struct ss_call){&r, i};
        if (sim_call_at(r.w, o->kill[i].at_ms, ss_do_kill, &kills[i]) != 0)
            goto out;
    }
    for (size_t i = 0; i < o->n_part; i++) {
        parts[i] = (struct ss_call){&r, i};
        if (sim_call_at(r.w, o->part[i].from_ms, ss_do_split, &parts[i]) != 0 ||
            sim_call_at(r.w, o->part[i].to_ms, ss_do_heal, &parts[i]) != 0)
            goto out;
    }
    if (obs_sample(r.obs) != 0 || sim_call_at(r.w, SS_SAMPLE_MS, ss_do_sample, &r) != 0)
        goto out; /* the first row is the start */
    sim_run_until(r.w, r.end_ms);
    if (!o->quiet && (ss_wall() - r.wall0) * 1000 >= SS_PROGRESS_AFTER_MS)
        fprintf(stderr, "%s", isatty(STDERR_FILENO) ? "\n" : "");
    if (r.failed) {
        fputs("swimsim: out of memory while running\n", stderr);
        goto out;
    }

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    struct obs_results res;
    obs_results(r.obs, &res);
    uint64_t conv = res.converged_at;
    struct sim_coord_error ce = {0};
    bool has_coord = o->regions > 0 && sim_coord_error(r.w, &ce) == 0;
    struct report_run rep = {
        .nodes = nodes,
        .periods = o->periods,
        .seed = o->seed,
        .profile = o->profile,
        .loss_pct = o->loss_pct,
        .latency = o->regions > 0 ? "regions" : "uniform",
        .has_coord_error = has_coord,
        .coord_error_median = ce.median,
        .coord_error_p90 = ce.p90,
        .cfg = cfg,
        .kills = {o->kill_s, o->n_kill},
        .partitions = {o->part_s, o->n_part},
        .slow = {o->slow_s, o->n_slow},
        .duration_ms = r.end_ms,
        .converged_ms = conv,
        .detect_ms = res.detect,
        .n_detect = res.n_detect,
        .undetected = res.undetected,
        .false_failures = res.false_failures,
        .suspicions = res.suspicions,
        .bytes_per_node_per_s = ss_bytes_rate(res.samples, res.n_samples, r.end_ms / 2),
        .bytes_per_node_per_s_all = ss_bytes_rate(res.samples, res.n_samples, 0),
        .wall_s = ss_wall() - r.wall0,
        .max_rss_kib = ru.ru_maxrss,
        .events = sim_events_processed(r.w),
        .samples = res.samples,
        .n_samples = res.n_samples,
        .sample_ms = SS_SAMPLE_MS,
    };
    char err[PATH_MAX + 128];
    if (ss_mkdir(dir) != 0)
        goto out;
    if (report_write_run(dir, &rep, err, sizeof(err)) != 0) {
        fprintf(stderr, "swimsim: %s\n", err);
        goto out;
    }
    *row = (struct report_sweep_row){
        .nodes = nodes,
        .converged_ms = conv,
        .bytes_per_node_per_s = rep.bytes_per_node_per_s,
        .bytes_per_node_per_s_all = rep.bytes_per_node_per_s_all,
        .false_failures = rep.false_failures,
        .wall_s = rep.wall_s,
        .max_rss_kib = rep.max_rss_kib,
    };
    if (keep != NULL) {
        *keep = rep;
        keep->samples = NULL;
        keep->n_samples = 0;
        keep->detect_ms = NULL;
        keep->n_detect = 0;
    }
    rc = 0;
out:
    if (rc == 0 && last && !SS_FREE_AT_EXIT)
        return rc; /* the process ends now, and its memory with it */
    obs_delete(r.obs);
    sim_delete(r.w);
    return rc;
}

int main(int argc, char **argv)
{
    struct ss_opts o;
    ss_parse(argc, argv, &o);
    if (ss_mkdir(o.out) != 0)
        return 1;
    struct report_sweep_row rows[SS_SWEEP_MAX];
    if (o.n_sweep == 0)
        return ss_run_one(&o, o.nodes, o.out, &rows[0], NULL, true) == 0 ? 0 : 1;

    struct report_run first;
    for (size_t i = 0; i < o.n_sweep; i++) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/n%d", o.out, o.sweep[i]);
        if (ss_run_one(&o, o.sweep[i], dir, &rows[i], i == 0 ? &first : NULL, false) != 0)
            return 1;
        if (!o.quiet)
            fprintf(stderr, "swimsim: %d nodes: converged %s%.2f s, %.1f B/node/s, %.1f s wall\n",
                    rows[i].nodes, rows[i].converged_ms == UINT64_MAX ? "never " : "",
                    rows[i].converged_ms == UINT64_MAX ? 0.0 : rows[i].converged_ms / 1000.0,
                    rows[i].bytes_per_node_per_s, rows[i].wall_s);
    }
    char err[PATH_MAX + 128];
    if (report_write_sweep(o.out, rows, o.n_sweep, &first, err, sizeof(err)) != 0) {
        fprintf(stderr, "swimsim: %s\n", err);
        return 1;
    }
    return 0;
}
