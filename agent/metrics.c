/*
 * metrics.c - see metrics.h.  Layout: the writer (families, samples, label
 * escaping), then one function per part of swimd that the exposition
 * reads, in the order the families appear.
 */
#include "metrics.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "control.h"
#include "err.h"
#include "events.h"
#include "handlers.h"
#include "query.h"
#include "rt.h"
#include "stream.h"
#include "swim.h"

#ifndef SWIMD_VERSION
#define SWIMD_VERSION "unknown"
#endif

/* The replacement character, for bytes a label value may not hold. */
static const char metrics_fffd[] = "\xef\xbf\xbd";

/* The exposition being written; a failed append is remembered, not
 * checked at every call. */
struct mw {
    struct evbuffer *out;
    int failed;
};

struct mw_label {
    const char *name;
    const char *value;
};

static void mw_printf(struct mw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mw_printf(struct mw *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (evbuffer_add_vprintf(w->out, fmt, ap) < 0)
        w->failed = 1;
    va_end(ap);
}

/* "# HELP" and "# TYPE" of family swimd_<name>. */
static void mw_family(struct mw *w, const char *name, const char *type, const char *help)
{
    mw_printf(w, "# HELP swimd_%s %s\n# TYPE swimd_%s %s\n", name, help, name, type);
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if none. */
static size_t metrics_utf8_len(const unsigned char *p, size_t n)
{
    size_t len;
    uint32_t cp;
    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        len = 2, cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        len = 3, cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        len = 4, cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    /* overlong forms, UTF-16 surrogates, beyond U+10FFFF */
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
        cp > 0x10ffff)
        return 0;
    return len;
}

int metrics_label_value(struct evbuffer *out, const char *value, size_t len)
{
    const unsigned char *p = (const unsigned char *)value;
    int rc = 0;
    for (size_t i = 0; i < len && rc == 0;) {
        size_t n = metrics_utf8_len(p + i, len - i);
        if (p[i] == '\\' || p[i] == '"')
            rc = evbuffer_add_printf(out, "\\%c", p[i]) < 0 ? -1 : 0;
        else if (p[i] == '\n')
            rc = evbuffer_add(out, "\\n", 2);
        else if (n == 0 || p[i] < 0x20 || p[i] == 0x7f)
            rc = evbuffer_add(out, metrics_fffd, sizeof(metrics_fffd) - 1);
        else
            rc = evbuffer_add(out, p + i, n);
        i += n > 0 ? n : 1;
    }
    return rc == 0 ? 0 : ERR_NOMEM;
}

/* One sample: swimd_<name><suffix>{labels} value. */
static void mw_sample(struct mw *w, const char *name, const char *suffix,
                      const struct mw_label *labels, size_t nlabels, const char *value)
{
    mw_printf(w, "swimd_%s%s", name, suffix);
    for (size_t i = 0; i < nlabels; i++) {
        mw_printf(w, "%s%s=\"", i == 0 ? "{" : ",", labels[i].name);
        if (metrics_label_value(w->out, labels[i].value, strlen(labels[i].value)) != 0)
            w->failed = 1;
        mw_printf(w, "\"");
    }
    mw_printf(w, "%s %s\n", nlabels > 0 ? "}" : "", value);
}

static void mw_u64(struct mw *w, const char *name, const struct mw_label *labels, size_t nlabels,
                   uint64_t v)
{
    char text[24];
    snprintf(text, sizeof(text), "%" PRIu64, v);
    mw_sample(w, name, "", labels, nlabels, text);
}

/* A family of one unlabelled sample. */
static void mw_single(struct mw *w, const char *name, const char *type, const char *help,
                      uint64_t v)
{
    mw_family(w, name, type, help);
    mw_u64(w, name, NULL, 0, v);
}

/* A family with one label: values[i] = v[i]. */
static void mw_by(struct mw *w, const char *name, const char *type, const char *help,
                  const char *label, const char *const *values, const uint64_t *v, size_t n)
{
    mw_family(w, name, type, help);
    for (size_t i = 0; i < n; i++) {
        struct mw_label l = {label, values[i]};
        mw_u64(w, name, &l, 1, v[i]);
    }
}

/* ---- the families ------------------------------------------------------ */

static void metrics_info(struct mw *w, const struct control_env *env)
{
    struct mw_label build[] = {
        {"version", SWIMD_VERSION},
        {"libevent", event_get_version()},
        {"libsodium", sodium_version_string()},
        {"jansson", jansson_version_str()},
    };
    mw_family(w, "build_info", "gauge", "swimd's version and its libraries', as labels; always 1.");
    mw_sample(w, "build_info", "", build, sizeof(build) / sizeof(build[0]), "1");
    struct mw_label node[] = {
        {"name", env->cfg->name},
        {"profile", env->cfg->profile},
        {"encrypted", env->kr != NULL ? "true" : "false"},
    };
    mw_family(w, "node_info", "gauge", "This node's name, profile and encryption; always 1.");
    mw_sample(w, "node_info", "", node, sizeof(node) / sizeof(node[0]), "1");
}

static void metrics_members(struct mw *w, const struct control_env *env)
{
    struct swim *core = rt_core(env->rt);
    size_t counts[SWIM_LEFT + 1];
    swim_count_members(core, counts);
    static const char *const status[] = {"alive", "suspect", "failed", "left"};
    uint64_t v[] = {counts[SWIM_ALIVE], counts[SWIM_SUSPECT], counts[SWIM_FAILED],
                    counts[SWIM_LEFT]};
    mw_by(w, "members", "gauge", "Members known by status, this node and tombstones included.",
          "status", status, v, 4);
    struct rt_stats rs;
    rt_get_stats(env->rt, &rs);
    mw_single(w, "active", "gauge", "1 while this node knows at least one live member.",
              rs.active ? 1 : 0);
}

static void metrics_probes(struct mw *w, const struct swim_stats *st)
{
    static const char *const result[] = {"ack", "indirect_ack", "failed"};
    uint64_t v[] = {st->probes_acked, st->probes_acked_indirect, st->probe_failures};
    mw_by(w, "probes_total", "counter",
          "Probes by result: answered directly, answered only through a helper, or not "
          "answered within the protocol period.",
          "result", result, v, 3);

    mw_family(w, "probe_rtt_seconds", "histogram",
              "Round trip of directly answered probes (millisecond resolution).");
    uint64_t cumulative = 0;
    char le[16], text[24];
    for (size_t i = 0; i < SWIM_RTT_BUCKETS; i++) {
        cumulative += st->probe_rtt[i];
        uint32_t bound = swim_rtt_bound_ms(i);
        if (bound == UINT32_MAX)
            snprintf(le, sizeof(le), "+Inf");
        else
            snprintf(le, sizeof(le), "%g", bound / 1000.0);
        struct mw_label l = {"le", le};
        snprintf(text, sizeof(text), "%" PRIu64, cumulative);
        mw_sample(w, "probe_rtt_seconds", "_bucket", &l, 1, text);
    }
    snprintf(text, sizeof(text), "%.3f", st->probe_rtt_sum_ms / 1000.0);
    mw_sample(w, "probe_rtt_seconds", "_sum", NULL, 0, text);
    snprintf(text, sizeof(text), "%" PRIu64, cumulative);
    mw_sample(w, "probe_rtt_seconds", "_count", NULL, 0, text);

    mw_single(w, "suspicions_total", "counter",
              "Times this node marked a member suspect after a failed probe.", st->suspicions);
    mw_single(w, "refutations_total", "counter", "Times this node refuted a suspicion of itself.",
              st->refutations);
    mw_single(w, "suspicions_refuted_total", "counter",
              "Suspicions this node held that the suspect refuted (false alarms).",
              st->suspicions_refuted);
    mw_single(w, "health_score", "gauge",
              "Lifeguard local health: 0 is healthy; probes slow down as it rises.", st->health);
}

/* Datagrams (or their bytes) by direction and type, as the core counts. */
static void metrics_dgrams(struct mw *w, const struct swim_stats *st, int bytes)
{
    const char *name = bytes ? "datagram_bytes_total" : "datagrams_total";
    mw_family(w, name, "counter",
              bytes ? "Bytes of SWIM datagrams by direction and type, before sealing."
                    : "SWIM datagrams by direction and type (unknown: no valid header).");
    for (int out = 0; out <= 1; out++) {
        const struct swim_traffic *t = out ? st->out_by_type : st->in_by_type;
        for (size_t i = 0; i < SWIM_DGRAM_TYPES; i++) {
            struct mw_label l[] = {{"direction", out ? "out" : "in"}, {"type", swim_dgram_name(i)}};
            mw_u64(w, name, l, 2, bytes ? t[i].bytes : t[i].packets);
        }
    }
}

static void metrics_traffic(struct mw *w, const struct control_env *env,
                            const struct swim_stats *st)
{
    metrics_dgrams(w, st, 0);
    metrics_dgrams(w, st, 1);
    struct rt_stats rs;
    rt_get_stats(env->rt, &rs);
    static const char *const dir[] = {"in", "out"};
    uint64_t pk[] = {rs.packets_in, rs.packets_out}, by[] = {rs.bytes_in, rs.bytes_out};
    mw_by(w, "udp_datagrams_total", "counter", "UDP datagrams on the socket, sealed or not.",
          "direction", dir, pk, 2);
    mw_by(w, "udp_bytes_total", "counter", "UDP payload bytes on the socket, sealed or not.",
          "direction", dir, by, 2);
    mw_single(w, "decrypt_failures_total", "counter",
              "Datagrams dropped because no key of the keyring opened them.", rs.decrypt_failures);
    mw_single(w, "malformed_datagrams_total", "counter",
              "Datagrams (or single records) dropped by the decoder.", st->malformed);
    mw_single(w, "send_errors_total", "counter", "Datagrams that could not be sent.",
              rs.send_errors);
    mw_single(w, "oversize_dropped_total", "counter",
              "Datagrams dropped for exceeding the receive buffer.", rs.dropped_oversize);
    mw_single(w, "tables_refused_total", "counter",
              "Whole-table answers refused by the rate limit.", st->tables_refused);
    mw_single(w, "name_conflicts_total", "counter",
              "Records of another live node using this node's name.", st->name_conflicts);
    mw_single(w, "directs_refused_total", "counter",
              "Direct messages (query acks and responses) refused by their rate limit.",
              st->directs_refused);
    mw_single(w, "dissemination_queue_depth", "gauge",
              "Updates waiting to be piggybacked on outgoing datagrams.", st->pending_updates);
}

static void metrics_local(struct mw *w, const struct control_env *env)
{
    mw_single(w, "event_clock", "gauge", "Sequence number of the last event published.",
              ev_bus_clock(env->bus));
    mw_single(w, "watchers", "gauge", "Open swimctl watch streams.",
              streams_watchers(env->streams));
    mw_single(w, "monitors", "gauge", "Open swimctl monitor streams.",
              streams_monitors(env->streams));
    struct hd_stats hs = {0};
    if (env->hd != NULL)
        hd_runner_stats(env->hd, &hs);
    mw_single(w, "handler_runs_total", "counter", "Event handler processes started.", hs.runs);
    mw_single(w, "handler_failures_total", "counter",
              "Event handler runs that exited non-zero or died of a signal.", hs.failures);
    mw_single(w, "handler_timeouts_total", "counter",
              "Event handler runs killed for exceeding the handler timeout.", hs.timeouts);
    struct query_stats qs = {0};
    if (env->query != NULL)
        query_get_stats(env->query, &qs);
    mw_single(w, "queries_pending", "gauge", "Queries of this node waiting for their deadline.",
              qs.pending);
    mw_single(w, "queries_received_total", "counter", "Queries that matched this node.",
              qs.received);
    mw_single(w, "query_responses_total", "counter", "Query responses this node sent.",
              qs.responses);
    mw_family(w, "control_requests_total", "counter",
              "Control socket requests by command (unknown: not a command).");
    for (size_t i = 0; i < control_rows(); i++) {
        struct mw_label l = {"command", control_row_name(i)};
        mw_u64(w, "control_requests_total", &l, 1, control_requests(env->control, i));
    }
}

int metrics_render(const struct control_env *env, struct evbuffer *out)
{
    struct mw w = {out, 0};
    struct swim_stats st;
    swim_get_stats(rt_core(env->rt), &st);
    metrics_info(&w, env);
    metrics_members(&w, env);
    metrics_probes(&w, &st);
    metrics_traffic(&w, env, &st);
    metrics_local(&w, env);
    return w.failed ? ERR_NOMEM : 0;
}
