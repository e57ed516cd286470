/*
 * query_test.c - queries (agent/query.h, query_codec.h): the codec, field
 * by field, and the module itself between three in-process nodes, each a
 * real runtime (rt.h) on a loopback UDP socket sharing one event loop:
 * internal queries answered by their registered callbacks, filters, the
 * event a user query publishes, and the origin counting each responder
 * once.
 */
#include <check.h>
#include <event2/event.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "cfg.h"
#include "clock.h"
#include "err.h"
#include "events.h"
#include "query.h"
#include "rt.h"
#include "tags.h"
#include "wire.h"

/* ---- the codec ------------------------------------------------------------------ */

static struct query_msg sample_msg(void)
{
    static const uint8_t payload[] = "hello\0bytes";
    struct query_msg m;
    memset(&m, 0, sizeof(m));
    m.id = 0xA1B2C3D4u;
    m.flags = QUERY_F_NO_ACK;
    m.relay_factor = 2;
    m.timeout_ms = 2500;
    m.node_count = 2;
    m.nodes[0] = (struct query_bytes){"n1", 2};
    m.nodes[1] = (struct query_bytes){"web-7", 5};
    m.tag_count = 1;
    m.tags[0] = (struct query_tag_filter){{"role", 4}, {"^(web|db)$", 10}};
    m.name = (struct query_bytes){"uptime", 6};
    m.payload = payload;
    m.len = sizeof(payload);
    return m;
}

static size_t encode_sample(uint8_t *buf, size_t cap, const struct query_msg *m)
{
    size_t len = 0;
    ck_assert_int_eq(query_msg_encode(buf, cap, m, &len), 0);
    return len;
}

START_TEST(query_test_codec_round_trip)
{
    struct query_msg m = sample_msg(), out;
    uint8_t buf[SWIM_USER_MAX];
    size_t len = encode_sample(buf, sizeof(buf), &m);
    ck_assert(query_is_ours(buf, len));
    ck_assert_int_eq(query_msg_decode(&out, buf, len), 0);
    ck_assert_uint_eq(out.id, m.id);
    ck_assert_uint_eq(out.flags, m.flags);
    ck_assert_uint_eq(out.relay_factor, 2);
    ck_assert_uint_eq(out.timeout_ms, 2500);
    ck_assert_uint_eq(out.node_count, 2);
    ck_assert_mem_eq(out.nodes[1].ptr, "web-7", 5);
    ck_assert_uint_eq(out.tag_count, 1);
    ck_assert_mem_eq(out.tags[0].key.ptr, "role", 4);
    ck_assert_mem_eq(out.tags[0].pattern.ptr, "^(web|db)$", 10);
    ck_assert_mem_eq(out.name.ptr, "uptime", 6);
    ck_assert_uint_eq(out.len, m.len);
    ck_assert_mem_eq(out.payload, m.payload, m.len);
    /* Every shorter prefix up to the name's end is refused. */
    size_t fixed = len - m.len;
    for (size_t n = 0; n < fixed; n++)
        ck_assert_int_ne(query_msg_decode(&out, buf, n), 0);
    /* A user event (its name's length first) is never taken for a query. */
    const uint8_t event[] = {3, 'a', 'b', 'c'};
    ck_assert(!query_is_ours(event, sizeof(event)));
    /* Too small a buffer: ERR_TOOBIG, nothing claimed. */
    ck_assert_int_eq(query_msg_encode(buf, 10, &m, &len), ERR_TOOBIG);
}
END_TEST

/* One negative case per field: each breaks one byte of a valid query. */
START_TEST(query_test_codec_refuses_each_bad_field)
{
    struct query_msg m = sample_msg(), out;
    uint8_t buf[SWIM_USER_MAX], bad[SWIM_USER_MAX];
    size_t len = encode_sample(buf, sizeof(buf), &m);
    /* Offsets: marker 0, kind 1, id 2..5, flags 6, relay 7, timeout 8..11,
     * node count 12, "n1" length 13. */
    struct {
        size_t at;
        uint8_t value;
        int want;
    } cases[] = {
        {0, 1, ERR_MALFORMED},                         /* marker */
        {1, QUERY_KIND_ACK, ERR_MALFORMED},            /* kind */
        {7, SWIM_DIRECT_RELAY_MAX + 1, ERR_MALFORMED}, /* relay factor */
        {8, 0xFF, ERR_MALFORMED},                      /* timeout above the hour */
        {12, QUERY_NODES_MAX + 1, ERR_TOOBIG},         /* node count */
        {13, 0, ERR_MALFORMED},                        /* empty node name */
        {14, ' ', ERR_MALFORMED},                      /* node name with a space */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memcpy(bad, buf, len);
        bad[cases[i].at] = cases[i].value;
        ck_assert_msg(query_msg_decode(&out, bad, len) == cases[i].want, "case %zu", i);
    }
    /* Timeout 0. */
    memcpy(bad, buf, len);
    memset(bad + 8, 0, 4);
    ck_assert_int_eq(query_msg_decode(&out, bad, len), ERR_MALFORMED);
    /* The encoder refuses what the decoder would. */
    struct query_msg e = m;
    e.timeout_ms = 0;
    ck_assert_int_eq(query_msg_encode(buf, sizeof(buf), &e, &len), ERR_INVAL);
    e = m;
    e.name = (struct query_bytes){"a\nb", 3};
    ck_assert_int_eq(query_msg_encode(buf, sizeof(buf), &e, &len), ERR_INVAL);
    e = m;
    e.tags[0].pattern.len = QUERY_PATTERN_MAX + 1;
    ck_assert_int_eq(query_msg_encode(buf, sizeof(buf), &e, &len), ERR_INVAL);
    e = m;
    e.tags[0].key.len = 0;
    ck_assert_int_eq(query_msg_encode(buf, sizeof(buf), &e, &len), ERR_INVAL);
    e = m;
    e.nodes[0] = (struct query_bytes){"", 0};
    ck_assert_int_eq(query_msg_encode(buf, sizeof(buf), &e, &len), ERR_INVAL);
    e = m;
    e.relay_factor = SWIM_DIRECT_RELAY_MAX + 1;
    ck_assert_int_eq(query_msg_encode(buf, sizeof(buf), &e, &len), ERR_INVAL);
    /* A name that is not text on the wire. */
    e = m;
    e.name = (struct query_bytes){"ab", 2};
    len = encode_sample(buf, sizeof(buf), &e);
    buf[len - m.len - 1] = 0x07;
    ck_assert_int_eq(query_msg_decode(&out, buf, len), ERR_MALFORMED);
}
END_TEST

START_TEST(query_test_reply_codec)
{
    uint8_t buf[QUERY_REPLY_HEADER + QUERY_RESPONSE_MAX + 1], big[QUERY_RESPONSE_MAX + 1];
    size_t len = 0;
    struct query_reply r = {QUERY_KIND_RESPONSE, 77, QUERY_F_TRUNCATED, (const uint8_t *)"ok", 2},
                       out;
    ck_assert_int_eq(query_reply_encode(buf, sizeof(buf), &r, &len), 0);
    ck_assert_uint_eq(len, QUERY_REPLY_HEADER + 2);
    ck_assert_int_eq(query_reply_decode(&out, buf, len), 0);
    ck_assert_uint_eq(out.kind, QUERY_KIND_RESPONSE);
    ck_assert_uint_eq(out.id, 77);
    ck_assert_uint_eq(out.flags, QUERY_F_TRUNCATED);
    ck_assert_mem_eq(out.payload, "ok", 2);
    struct query_reply ack = {QUERY_KIND_ACK, 78, 0, NULL, 0};
    ck_assert_int_eq(query_reply_encode(buf, sizeof(buf), &ack, &len), 0);
    ck_assert_int_eq(query_reply_decode(&out, buf, len), 0);
    ck_assert_uint_eq(out.kind, QUERY_KIND_ACK);
    /* An ack carries nothing; a response at most QUERY_RESPONSE_MAX. */
    ck_assert_int_eq(query_reply_decode(&out, buf, len + 1), ERR_MALFORMED);
    memset(big, 'x', sizeof(big));
    r.payload = big;
    r.len = QUERY_RESPONSE_MAX + 1;
    ck_assert_int_eq(query_reply_encode(buf, sizeof(buf), &r, &len), ERR_INVAL);
    r.len = QUERY_RESPONSE_MAX;
    ck_assert_int_eq(query_reply_encode(buf, sizeof(buf), &r, &len), 0);
    buf[len] = 'x';
    ck_assert_int_eq(query_reply_decode(&out, buf, len + 1), ERR_TOOBIG);
    for (size_t n = 0; n < QUERY_REPLY_HEADER; n++)
        ck_assert_int_eq(query_reply_decode(&out, buf, n), ERR_TRUNC);
    buf[1] = QUERY_KIND_QUERY;
    ck_assert_int_eq(query_reply_decode(&out, buf, len), ERR_MALFORMED);
    ck_assert(query_name_reserved("_swim-keys", 10));
    ck_assert(!query_name_reserved("_swim", 5));
    ck_assert(!query_name_reserved("swim-keys", 9));
}
END_TEST

/* Tag filter patterns every member compiles: back-references (exponential
 * matching in glibc) and repetitions that expand beyond
 * QUERY_PATTERN_SIZE_MAX positions (glibc's regcomp() copies the repeated
 * part: the first refused pattern below crashes it, the second takes half
 * a GiB, "a" and twenty `+` 700 MB; regexec() of "(.?){0,2000}$" 0.7 s)
 * are refused by the check, the decoder and the encoder alike; ordinary
 * patterns pass. */
START_TEST(query_test_codec_refuses_unsafe_patterns)
{
    static const char *const good[] = {
        "^web-[0-9]{1,3}$",
        "^(web|db)$",
        "[\\1{]x",
        "a\\{3",
        "[[:digit:]]{2}",
        "x{16}y{17}",
        "a{255,}",
        "[]{]{4}",
        "a{0}",
        "\\\\1",
        "^[a-z]+-[0-9]+\\.(eu|us)+\\.example\\.com$",
        "(a+)+(b+)+(c+)+(d+)+(e+)+(f+)+(g+)+(h+)+(i+)+",
        "(.{0,15}x){0,16}",
        "(a*){0,255}",
    };
    static const char *const bad[] = {
        "((((((a{0,9}){0,9}){0,9}){0,9}){0,9}){0,9})",
        "a{0,255}{0,255}",
        "(a)\\1",
        "(a|a)*(a|a)*(a|a)*\\1\\2\\3c",
        "a{",
        "a{x}",
        "a{1,2",
        "a{,}",
        "[[:alpha:]]{3000}",
        "a++++++++++++++++++++",
        "(()9m)[{]0{,0})+++++++++++++++++++++++++++",
        "a+?+?+?+?+?+?+?+?+?+?+?+?+?+?+?+?+?+",
        "(.{0,15}x){0,17}",
        "(.?){0,2000}$",
        "((a|b|c)+|d){0,200}e{0,700}",
        "x{0,200}(a{0,200}",
        /* Repetitions nested three deep (stacked ones count): few
         * positions, but regcomp() is exponential in the counts. */
        "((a*){0,5}){0,5}+",
        "((a{0,}){0,9}){0,9}+@a{0,}){0,9}){0,9})@",
        "((a*){0,9}){0,9}",
        "(a*){0,120}+",
        "a***",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        regex_t re;
        ck_assert_msg(query_pattern_ok(good[i], strlen(good[i])), "refused %s", good[i]);
        ck_assert_int_eq(regcomp(&re, good[i], REG_EXTENDED | REG_NOSUB), 0);
        regfree(&re);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!query_pattern_ok(bad[i], strlen(bad[i])), "allowed %s", bad[i]);
    ck_assert(!query_pattern_ok("a\0b", 3));

    /* On the wire: the same message with a safe pattern of the same length
     * decodes; with the bad one written over it, it does not. */
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t plen = strlen(bad[i]);
        char safe[QUERY_PATTERN_MAX + 1];
        memset(safe, 'p', plen);
        safe[plen] = '\0';
        struct query_msg m = sample_msg(), out;
        m.tags[0].pattern = (struct query_bytes){safe, plen};
        uint8_t buf[SWIM_USER_MAX];
        size_t len = encode_sample(buf, sizeof(buf), &m);
        ck_assert_int_eq(query_msg_decode(&out, buf, len), 0);
        uint8_t *at = memmem(buf, len, safe, plen);
        ck_assert_ptr_nonnull(at);
        memcpy(at, bad[i], plen);
        ck_assert_msg(query_msg_decode(&out, buf, len) == ERR_MALFORMED, "decoded %s", bad[i]);
        m.tags[0].pattern = (struct query_bytes){bad[i], plen};
        ck_assert_int_eq(query_msg_encode(buf, sizeof(buf), &m, &len), ERR_INVAL);
    }
}
END_TEST

/* ---- three nodes in one process ------------------------------------------------------ */

#define QW_NODES 3

struct qw {
    struct event_base *base;
    struct swim_config scfg;
    struct ev_bus *bus[QW_NODES];
    struct tags *tags[QW_NODES];
    struct rt *rt[QW_NODES];
    struct query *q[QW_NODES];
    char name[QW_NODES][8];
};

/* What one query's callback saw. */
struct qw_seen {
    int acks, responses, done;
    char from[16][16]; /* "A:name" or "R:name=payload" */
    int n;
    size_t total_acks, total_responses;
};

static void qw_on_event(void *ctx, const struct query_event *ev)
{
    struct qw_seen *s = ctx;
    if (ev->kind == QUERY_EV_DONE) {
        s->done++;
        s->total_acks = ev->acks;
        s->total_responses = ev->responses;
        return;
    }
    if (ev->kind == QUERY_EV_ACK)
        s->acks++;
    else
        s->responses++;
    if (s->n < 16)
        snprintf(s->from[s->n++], sizeof(s->from[0]), "%c:%s%s%.*s",
                 ev->kind == QUERY_EV_ACK ? 'A' : 'R', ev->from,
                 ev->kind == QUERY_EV_RESPONSE ? "=" : "", (int)ev->len,
                 ev->payload != NULL ? (const char *)ev->payload : "");
}

static int qw_has(const struct qw_seen *s, const char *what)
{
    int n = 0;
    for (int i = 0; i < s->n; i++)
        n += strcmp(s->from[i], what) == 0;
    return n;
}

/* Run the loop until cond holds or ms pass; whether it held. */
#define QW_RUN_UNTIL(w, cond, ms)                                                                  \
    ({                                                                                             \
        uint64_t until_ = clock_mono_ms() + (ms);                                                  \
        while (!(cond) && clock_mono_ms() < until_)                                                \
            event_base_loop((w)->base, EVLOOP_ONCE);                                               \
        (cond);                                                                                    \
    })

static int qw_converged(struct qw *w)
{
    for (int i = 0; i < QW_NODES; i++)
        if (swim_active_count(rt_core(w->rt[i])) != QW_NODES - 1)
            return 0;
    return 1;
}

static void qw_start(struct qw *w)
{
    char err[256];
    memset(w, 0, sizeof(*w));
    w->base = rt_base_new();
    ck_assert_ptr_nonnull(w->base);
    ck_assert_int_eq(swim_config_profile(&w->scfg, "local"), 0);
    /* The local profile sends a broadcast twice per holder, which can miss
     * a node when a probe takes one of the two; the tests count exact
     * answers, so the query reaches everyone in the first gossip round. */
    w->scfg.retransmit_mult = 4;
    for (int i = 0; i < QW_NODES; i++) {
        snprintf(w->name[i], sizeof(w->name[i]), "q%d", i + 1);
        w->bus[i] = ev_bus_new(NULL);
        w->tags[i] = tags_new();
        ck_assert(w->bus[i] != NULL && w->tags[i] != NULL);
        struct rt_config rc = {
            .base = w->base,
            .bus = w->bus[i],
            .label = "",
            .name = w->name[i],
            .bind = "127.0.0.1:0",
            .scfg = &w->scfg,
            .generation = 1,
        };
        w->rt[i] = rt_new(&rc, err, sizeof(err));
        ck_assert_msg(w->rt[i] != NULL, "%s", err);
        struct query_config qc = {w->base, w->rt[i], w->bus[i], NULL, w->tags[i], w->name[i]};
        w->q[i] = query_new(&qc);
        ck_assert_ptr_nonnull(w->q[i]);
        ck_assert_int_eq(rt_start(w->rt[i]), 0);
    }
    struct swim_member_info first;
    swim_self(rt_core(w->rt[0]), &first);
    for (int i = 1; i < QW_NODES; i++)
        ck_assert_int_eq(swim_announce(rt_core(w->rt[i]), &first.addr, clock_mono_ms()), 0);
    ck_assert_msg(QW_RUN_UNTIL(w, qw_converged(w), 20000), "the nodes did not converge");
}

static void qw_stop(struct qw *w)
{
    for (int i = 0; i < QW_NODES; i++) {
        query_delete(w->q[i]);
        rt_delete(w->rt[i]);
        ev_bus_end(w->bus[i]);
        ev_bus_delete(w->bus[i]);
        tags_delete(w->tags[i]);
    }
    event_base_free(w->base);
}

/* The internal handler: "NAME:PAYLOAD" back, or only an ack for "quiet". */
static int qw_internal(void *ctx, const char *origin, const uint8_t *payload, size_t len,
                       uint8_t *out, size_t cap, size_t *out_len)
{
    const char *self = ctx;
    (void)origin;
    if (len == 5 && memcmp(payload, "quiet", 5) == 0)
        return -1;
    int n = snprintf((char *)out, cap, "%s:%.*s", self, (int)len, (const char *)payload);
    *out_len = (size_t)n;
    return 0;
}

START_TEST(query_test_internal_query_answered_by_every_node)
{
    struct qw w;
    qw_start(&w);
    for (int i = 0; i < QW_NODES; i++) {
        ck_assert_int_eq(query_register(w.q[i], "_swim-test", qw_internal, w.name[i]), 0);
        ck_assert_int_eq(query_register(w.q[i], "_swim-test", qw_internal, w.name[i]), ERR_EXISTS);
    }
    ck_assert_int_eq(query_register(w.q[0], "user-name", qw_internal, NULL), ERR_INVAL);
    uint64_t clock[QW_NODES];
    for (int i = 0; i < QW_NODES; i++)
        clock[i] = ev_bus_clock(w.bus[i]);
    struct qw_seen s;
    memset(&s, 0, sizeof(s));
    struct query_request req = {
        .name = "_swim-test", .payload = (const uint8_t *)"k1", .len = 2, .timeout_ms = 1500};
    uint32_t id = 0, timeout = 0;
    char err[128];
    uint64_t t0 = clock_mono_ms();
    ck_assert_int_eq(query_start(w.q[0], &req, qw_on_event, &s, &id, &timeout, err, sizeof(err)),
                     0);
    ck_assert_int_eq(s.acks + s.responses, 0); /* never from inside query_start() */
    ck_assert_uint_eq(timeout, 1500);
    ck_assert(QW_RUN_UNTIL(&w, s.done == 1, 5000));
    uint64_t took = clock_mono_ms() - t0;
    ck_assert_msg(took >= 1400 && took < 1500 + 1000, "done after %llu ms",
                  (unsigned long long)took);
    ck_assert_int_eq(s.acks, 3);
    ck_assert_int_eq(s.responses, 3);
    ck_assert_uint_eq(s.total_acks, 3);
    ck_assert_uint_eq(s.total_responses, 3);
    for (int i = 0; i < QW_NODES; i++) {
        char want[32];
        snprintf(want, sizeof(want), "R:%s=%s:k1", w.name[i], w.name[i]);
        ck_assert_msg(qw_has(&s, want) == 1, "no \"%s\"", want);
        /* Internal queries are no events. */
        ck_assert_uint_eq(ev_bus_clock(w.bus[i]), clock[i]);
    }
    /* "quiet": acks only. */
    memset(&s, 0, sizeof(s));
    req.payload = (const uint8_t *)"quiet";
    req.len = 5;
    req.timeout_ms = 800;
    ck_assert_int_eq(query_start(w.q[1], &req, qw_on_event, &s, NULL, NULL, err, sizeof(err)), 0);
    ck_assert(QW_RUN_UNTIL(&w, s.done == 1, 5000));
    ck_assert_int_eq(s.acks, 3);
    ck_assert_int_eq(s.responses, 0);
    qw_stop(&w);
}
END_TEST

/* A user query becomes an event (type, name, origin, id, payload) on each
 * matching node's bus; node and tag filters leave the others silent. */
START_TEST(query_test_filters_and_events)
{
    struct qw w;
    qw_start(&w);
    ck_assert_int_eq(tags_set(w.tags[2], "role", "db"), 0);
    ck_assert_int_eq(tags_set(w.tags[1], "role", "web"), 0);
    uint64_t clock[QW_NODES];
    for (int i = 0; i < QW_NODES; i++)
        clock[i] = ev_bus_clock(w.bus[i]);
    struct qw_seen s;
    memset(&s, 0, sizeof(s));
    const char *nodes[] = {"q2", "q3"};
    struct query_tag_filter tag = {{"role", 4}, {"^w", 2}};
    struct query_request req = {.name = "deploy",
                                .payload = (const uint8_t *)"v42",
                                .len = 3,
                                .nodes = nodes,
                                .node_count = 2,
                                .tags = &tag,
                                .tag_count = 1,
                                .timeout_ms = 1000};
    uint32_t id = 0;
    char err[128];
    ck_assert_int_eq(query_start(w.q[0], &req, qw_on_event, &s, &id, NULL, err, sizeof(err)), 0);
    ck_assert(QW_RUN_UNTIL(&w, s.done == 1, 5000));
    ck_assert_int_eq(s.acks, 1);
    ck_assert_int_eq(qw_has(&s, "A:q2"), 1);
    ck_assert_uint_eq(ev_bus_clock(w.bus[0]), clock[0]);
    ck_assert_uint_eq(ev_bus_clock(w.bus[2]), clock[2]);
    ck_assert_uint_eq(ev_bus_clock(w.bus[1]), clock[1] + 1);
    struct ev_event ev;
    ck_assert_int_eq(ev_bus_history_get(w.bus[1], clock[1] + 1, &ev), 0);
    ck_assert_int_eq(ev.type, EV_QUERY);
    ck_assert_str_eq(ev.user_name, "deploy");
    ck_assert_str_eq(ev.name, "q1");
    ck_assert_uint_eq(ev.user_id, id);
    ck_assert_uint_eq(ev.data_len, 3);
    ck_assert_mem_eq(ev.data, "v42", 3);
    /* A bad pattern is refused at the origin. */
    tag.pattern = (struct query_bytes){"(", 1};
    ck_assert_int_eq(query_start(w.q[0], &req, qw_on_event, &s, NULL, NULL, err, sizeof(err)),
                     ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "regular expression"));
    /* Serf's default timeout: gossip interval x 16 x ceil(log10(3 + 1)). */
    ck_assert_uint_eq(query_default_timeout_ms(w.q[0]), w.scfg.gossip_interval_ms * 16);
    qw_stop(&w);
}
END_TEST

/* Three nodes, and a "ping" query of 1 s from q1 seen by s; its id. */
static uint32_t qw_start_ping(struct qw *w, struct qw_seen *s)
{
    qw_start(w);
    memset(s, 0, sizeof(*s));
    struct query_request req = {.name = "ping", .timeout_ms = 1000};
    uint32_t id = 0;
    char err[128];
    ck_assert_int_eq(query_start(w->q[0], &req, qw_on_event, s, &id, NULL, err, sizeof(err)), 0);
    return id;
}

/* Replies sent twice (a handler answering twice, copies beyond the core's
 * memory) are counted once per responder and kind. */
START_TEST(query_test_origin_counts_each_responder_once)
{
    struct qw w;
    struct qw_seen s;
    uint32_t id = qw_start_ping(&w, &s);
    struct query_request req = {.name = "ping", .timeout_ms = 1000};
    char err[128];
    uint8_t buf[64];
    size_t len = 0;
    struct query_reply r = {QUERY_KIND_RESPONSE, id, 0, (const uint8_t *)"pong", 4};
    ck_assert_int_eq(query_reply_encode(buf, sizeof(buf), &r, &len), 0);
    for (int k = 0; k < 3; k++)
        ck_assert_int_eq(swim_send_direct(rt_core(w.rt[2]), "q1", buf, len, 0, clock_mono_ms()), 0);
    struct query_reply ack = {QUERY_KIND_ACK, id, 0, NULL, 0};
    ck_assert_int_eq(query_reply_encode(buf, sizeof(buf), &ack, &len), 0);
    ck_assert_int_eq(swim_send_direct(rt_core(w.rt[2]), "q1", buf, len, 2, clock_mono_ms()), 0);
    ck_assert(QW_RUN_UNTIL(&w, s.done == 1, 5000));
    ck_assert_int_eq(s.acks, 3);
    ck_assert_int_eq(qw_has(&s, "A:q3"), 1);
    ck_assert_int_eq(s.responses, 1);
    ck_assert_int_eq(qw_has(&s, "R:q3=pong"), 1);
    /* After the deadline, late replies find nothing. */
    ck_assert_int_eq(swim_send_direct(rt_core(w.rt[2]), "q1", buf, len, 0, clock_mono_ms()), 0);
    (void)QW_RUN_UNTIL(&w, 0, 300);
    ck_assert_int_eq(s.acks, 3);
    /* A cancelled query calls back no more. */
    memset(&s, 0, sizeof(s));
    ck_assert_int_eq(query_start(w.q[0], &req, qw_on_event, &s, &id, NULL, err, sizeof(err)), 0);
    query_cancel(w.q[0], id);
    (void)QW_RUN_UNTIL(&w, 0, 1300);
    ck_assert_int_eq(s.acks + s.responses + s.done, 0);
    qw_stop(&w);
}
END_TEST

/* A reply as a raw DIRECT datagram from a socket of the test's own: the
 * header names `src`, the item `origin`. */
static void qw_send_raw_reply(struct qw *w, const char *src, const char *origin,
                              const struct query_reply *r)
{
    uint8_t reply[64], body[128], buf[256];
    size_t rlen = 0;
    ck_assert_int_eq(query_reply_encode(reply, sizeof(reply), r, &rlen), 0);
    struct wire_user u = {{origin, (uint8_t)strlen(origin)}, 1, 77, (uint16_t)rlen, reply};
    uint8_t *b = body, *p = buf;
    ck_assert_int_eq(wire_encode_direct(&b, body + sizeof(body), &u), 0);
    struct wire_header h;
    memset(&h, 0, sizeof(h));
    h.type = WIRE_DIRECT;
    h.flags = WIRE_F_HAS_DST;
    h.src = (struct wire_name){src, (uint8_t)strlen(src)};
    h.src_gen = 1;
    h.dst = (struct wire_name){w->name[0], (uint8_t)strlen(w->name[0])};
    h.dst_gen = 1;
    ck_assert_int_eq(wire_encode_header(&p, buf + sizeof(buf), &h), 0);
    ck_assert_int_eq(
        wire_encode_item(&p, buf + sizeof(buf), WIRE_ITEM_DIRECT, body, (size_t)(b - body)), 0);
    struct swim_member_info first;
    struct sockaddr_storage to;
    socklen_t tolen = 0;
    swim_self(rt_core(w->rt[0]), &first);
    ck_assert_int_eq(addr_to_sockaddr(&to, &tolen, &first.addr, AF_INET), 0);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(sendto(fd, buf, (size_t)(p - buf), 0, (struct sockaddr *)&to, tolen),
                     (ssize_t)(p - buf));
    close(fd);
}

/* Replies count only from members at the address the origin knows them
 * by: a stranger's, or one in a member's name from another address, is
 * neither passed on nor counted, and does not take the member's place. */
START_TEST(query_test_replies_only_from_members)
{
    struct qw w;
    struct qw_seen s;
    uint32_t id = qw_start_ping(&w, &s);
    struct query_reply forged = {QUERY_KIND_RESPONSE, id, 0, (const uint8_t *)"forged", 6};
    qw_send_raw_reply(&w, "q9", "q9", &forged);
    qw_send_raw_reply(&w, w.name[2], w.name[2], &forged);
    (void)QW_RUN_UNTIL(&w, 0, 200);
    uint8_t buf[64];
    size_t len = 0;
    struct query_reply r = {QUERY_KIND_RESPONSE, id, 0, (const uint8_t *)"pong", 4};
    ck_assert_int_eq(query_reply_encode(buf, sizeof(buf), &r, &len), 0);
    ck_assert_int_eq(swim_send_direct(rt_core(w.rt[2]), "q1", buf, len, 0, clock_mono_ms()), 0);
    ck_assert(QW_RUN_UNTIL(&w, s.done == 1, 5000));
    ck_assert_int_eq(s.acks, 3);
    ck_assert_int_eq(qw_has(&s, "R:q9=forged"), 0);
    ck_assert_int_eq(qw_has(&s, "R:q3=forged"), 0);
    ck_assert_int_eq(qw_has(&s, "R:q3=pong"), 1);
    ck_assert_int_eq(s.responses, 1);
    qw_stop(&w);
}
END_TEST

static Suite *query_suite(void)
{
    Suite *s = suite_create("query");
    TCase *codec = tcase_create("codec");
    tcase_add_test(codec, query_test_codec_round_trip);
    tcase_add_test(codec, query_test_codec_refuses_each_bad_field);
    tcase_add_test(codec, query_test_reply_codec);
    tcase_add_test(codec, query_test_codec_refuses_unsafe_patterns);
    suite_add_tcase(s, codec);
    TCase *nodes = tcase_create("nodes");
    tcase_set_timeout(nodes, 60);
    tcase_add_test(nodes, query_test_internal_query_answered_by_every_node);
    tcase_add_test(nodes, query_test_filters_and_events);
    tcase_add_test(nodes, query_test_origin_counts_each_responder_once);
    tcase_add_test(nodes, query_test_replies_only_from_members);
    suite_add_tcase(s, nodes);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(query_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
