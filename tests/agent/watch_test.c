/*
 * watch_test.c - integration: `swimctl watch` on a real swimd.  --since
 * replays exactly the events a watcher missed; a watcher too slow for its
 * queue is told it lagged and resumes from the history without a gap;
 * stale, future and unknown arguments are refused with a reason
 * (tests/agent/agent_harness.h).
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent_harness.h"

/* Socket timeouts of raw control clients. */
#define RAW_TIMEOUT_S 10

/* ---- the seqs in `swimctl watch --json` output ---- */

struct seqs {
    size_t n;
    uint64_t v[16384];
    uint64_t max; /* highest seq seen, clock lines included */
    int lagged;
    uint64_t first_missed;
};

static void parse_watch(const char *path, struct seqs *s)
{
    memset(s, 0, sizeof(*s));
    char *text = harness_slurp(path);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        json_t *o = json_loads(line, 0, NULL);
        if (o == NULL)
            continue;
        json_t *seq = json_object_get(o, "seq");
        if (json_is_true(json_object_get(o, "lagged"))) {
            s->lagged = 1;
            s->first_missed = (uint64_t)json_integer_value(json_object_get(o, "first_missed"));
        } else if (json_is_integer(seq)) {
            uint64_t v = (uint64_t)json_integer_value(seq);
            if (json_object_get(o, "type") != NULL && s->n < sizeof(s->v) / sizeof(s->v[0]))
                s->v[s->n++] = v;
            if (v > s->max)
                s->max = v;
        }
        json_decref(o);
    }
    free(text);
}

static uint64_t event_clock(struct harness_node *nd)
{
    long long c = harness_info_int(nd, "event_clock");
    ck_assert_int_ge(c, 0);
    return (uint64_t)c;
}

static int watch_reached(const char *path, uint64_t seq)
{
    struct seqs *s = malloc(sizeof(*s));
    parse_watch(path, s);
    int ok = s->max >= seq;
    free(s);
    return ok;
}

/* ---- raw control connections ---- */

/* `count` user events through one pipelined connection, every answer read;
 * each payload is `unit` repeated `reps` times. */
static void user_events_of(struct harness_node *nd, int count, const char *unit, size_t reps)
{
    size_t ulen = strlen(unit);
    char *line = malloc(ulen * reps + 64);
    int n = snprintf(line, 64, "{\"cmd\":\"event\",\"name\":\"e\",\"payload\":\"");
    for (size_t i = 0; i < reps; i++, n += (int)ulen)
        memcpy(line + n, unit, ulen);
    n += snprintf(line + n, 64, "\"}\n");
    int fd = harness_raw_client(nd, RAW_TIMEOUT_S);
    char buf[4096];
    int answered = 0;
    for (int i = 0; i < count; i++) {
        harness_send_all(fd, line, (size_t)n);
        /* keep at most ~100 answers outstanding */
        while (i + 1 - answered > 100 || (i + 1 == count && answered < count)) {
            ssize_t r = recv(fd, buf, sizeof(buf), 0);
            ck_assert_msg(r > 0, "event answers: %s", r == 0 ? "eof" : strerror(errno));
            for (ssize_t k = 0; k < r; k++)
                answered += buf[k] == '\n';
        }
    }
    ck_assert_msg(strstr(buf, "error") == NULL, "event failed: %.200s", strstr(buf, "error"));
    close(fd);
    free(line);
}

static void user_events(struct harness_node *nd, int count, size_t payload)
{
    user_events_of(nd, count, "p", payload);
}

/* ==== --since: replay, and its errors ==== */

START_TEST(watch_test_since_replays_exactly_the_missed_events)
{
    struct harness *h = harness_world();
    const char *n1[] = {"--event-history", "64", NULL};
    harness_start_node(h, 0, "127.0.0.1", n1);
    harness_start_joiner(h, 1, "127.0.0.1", NULL);
    ck_assert(HARNESS_WAIT_UNTIL(harness_converged(h, 2, 2), HARNESS_CONVERGE_MS));
    /* A watcher that stays connected all along is the reference. */
    struct harness_proc ref, cut, replay, p;
    const char *watch_all[] = {"watch", "--json", NULL};
    harness_spawn_ctl(h, &ref, &h->nodes[0], "ref", watch_all);
    /* Another one goes away after the first events ... */
    harness_spawn_ctl(h, &cut, &h->nodes[0], "cut", watch_all);
    ck_assert(HARNESS_WAIT_UNTIL(harness_count_in_file(ref.out, "first_held") == 1 &&
                                     harness_count_in_file(cut.out, "first_held") == 1,
                                 10000));
    user_events(&h->nodes[0], 3, 10);
    uint64_t c1 = event_clock(&h->nodes[0]);
    ck_assert(HARNESS_WAIT_UNTIL(watch_reached(cut.out, c1) && watch_reached(ref.out, c1), 10000));
    kill(cut.pid, SIGINT);
    ck_assert_int_eq(harness_wait_proc(&cut, HARNESS_CTL_EXIT_MS), 0);
    ck_assert_int_eq(harness_proc_exit_code(&cut), 0);
    struct seqs *sc = malloc(sizeof(*sc)), *sr = malloc(sizeof(*sr)), *sf = malloc(sizeof(*sf));
    parse_watch(cut.out, sc);
    uint64_t last = sc->max;
    /* ... events it misses: user events, a tag change on n2, a member leaving. */
    user_events(&h->nodes[0], 5, 20);
    json_decref(harness_call(&h->nodes[1],
                             json_pack("{s:s,s:{s:s}}", "cmd", "tags-set", "tags", "v", "2")));
    const char *n3[] = {"--event-history", "64", NULL};
    harness_start_joiner(h, 2, "127.0.0.1", n3);
    ck_assert(HARNESS_WAIT_UNTIL(harness_converged(h, 3, 3), HARNESS_CONVERGE_MS));
    /* 5 user events, n2's member-update, n3's member-join */
    ck_assert(HARNESS_WAIT_UNTIL(event_clock(&h->nodes[0]) >= last + 7, 10000));
    uint64_t c2 = event_clock(&h->nodes[0]);
    /* It comes back with --since: exactly (last, c2], as the reference saw it. */
    char since[24];
    snprintf(since, sizeof(since), "%llu", (unsigned long long)last);
    const char *resume[] = {"watch", "--since", since, "--json", NULL};
    harness_spawn_ctl(h, &replay, &h->nodes[0], "replay", resume);
    ck_assert(
        HARNESS_WAIT_UNTIL(watch_reached(replay.out, c2) && watch_reached(ref.out, c2), 10000));
    kill(replay.pid, SIGINT);
    kill(ref.pid, SIGINT);
    ck_assert_int_eq(harness_wait_proc(&replay, HARNESS_CTL_EXIT_MS), 0);
    ck_assert_int_eq(harness_wait_proc(&ref, HARNESS_CTL_EXIT_MS), 0);
    ck_assert_int_eq(harness_proc_exit_code(&replay), 0);
    parse_watch(replay.out, sr);
    parse_watch(ref.out, sf);
    size_t k = 0;
    for (size_t i = 0; i < sf->n; i++) {
        if (sf->v[i] <= last || sf->v[i] > c2)
            continue;
        ck_assert_msg(k < sr->n && sr->v[k] == sf->v[i], "replay differs at %zu: want seq %llu", k,
                      (unsigned long long)sf->v[i]);
        k++;
    }
    ck_assert_uint_eq(k, c2 - last); /* every seq is an event: no gap */
    ck_assert_uint_ge(sr->n, k);
    ck_assert_uint_eq(sr->v[0], last + 1);
    /* The cut watcher's events are the reference's first ones. */
    for (size_t i = 0; i < sc->n; i++)
        ck_assert_uint_eq(sc->v[i], sf->v[i]);

    /* Errors: a seq older than the history names the first one held; one
     * ahead of the clock suggests a restart; a bad type is refused. */
    user_events(&h->nodes[0], 70, 10);
    ck_assert_int_eq(harness_run_ctl(h, &h->nodes[0], "old",
                                     (const char *const[]){"watch", "--since", "1", NULL}, &p),
                     1);
    ck_assert_int_eq(harness_count_in_file(p.err, "first event held is"), 1);
    ck_assert_int_eq(harness_run_ctl(h, &h->nodes[0], "ahead",
                                     (const char *const[]){"watch", "--since", "999999", NULL}, &p),
                     1);
    ck_assert_int_eq(harness_count_in_file(p.err, "swimd restarted?"), 1);
    ck_assert_int_eq(harness_run_ctl(h, &h->nodes[0], "type",
                                     (const char *const[]){"watch", "--type", "bogus", NULL}, &p),
                     1);
    ck_assert_int_eq(harness_count_in_file(p.err, "bogus"), 1);
    free(sc);
    free(sr);
    free(sf);
}
END_TEST

/* ==== a slow watcher lags, is told, and resumes without a gap ==== */

START_TEST(watch_test_slow_watcher_told_lagged_resumes_without_gap)
{
    struct harness *h = harness_world();
    const char *n1[] = {"--watch-queue", "16", "--event-history", "8192", NULL};
    harness_start_node(h, 0, "127.0.0.1", n1);
    struct harness_proc slow, resume;
    const char *watch_all[] = {"watch", "--json", NULL};
    harness_spawn_ctl(h, &slow, &h->nodes[0], "slow", watch_all);
    uint64_t c0 = event_clock(&h->nodes[0]);
    ck_assert(HARNESS_WAIT_UNTIL(harness_count_in_file(slow.out, "first_held") == 1, 10000));
    /* It stops reading (stopped), while 1,000 events pile up well past the
     * kernel's buffers and swimd's output limit: 255 x "\u00e9" is 510
     * payload bytes (the most an event carries) and ~1.6 KB as escaped JSON.
     * (A lone node holds at most 1,024 undelivered broadcasts.) */
    kill(slow.pid, SIGSTOP);
    user_events_of(&h->nodes[0], 1000, "\u00e9", 255);
    uint64_t c1 = event_clock(&h->nodes[0]);
    ck_assert_uint_ge(c1, c0 + 1000);
    kill(slow.pid, SIGCONT);
    ck_assert_msg(harness_wait_proc(&slow, 20000) == 0,
                  "the slow watcher was never told it lagged");
    ck_assert_int_eq(harness_proc_exit_code(&slow), 4);
    struct seqs *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    parse_watch(slow.out, a);
    ck_assert(a->lagged);
    ck_assert_uint_gt(a->first_missed, c0);
    ck_assert_uint_le(a->first_missed, c1);
    char want[96];
    snprintf(want, sizeof(want), "lagged: first missed event %llu; resume with --since %llu",
             (unsigned long long)a->first_missed, (unsigned long long)a->first_missed - 1);
    ck_assert_msg(harness_count_in_file(slow.err, want) == 1, "stderr lacks \"%s\"", want);
    /* Everything before the first missed seq arrived, in order, no gap. */
    ck_assert_uint_eq(a->n, a->first_missed - 1 - c0);
    for (size_t i = 0; i < a->n; i++)
        ck_assert_uint_eq(a->v[i], c0 + 1 + i);
    /* Resume from the history: the union has no gap up to the clock. */
    char since[24];
    snprintf(since, sizeof(since), "%llu", (unsigned long long)a->first_missed - 1);
    const char *again[] = {"watch", "--since", since, "--json", NULL};
    harness_spawn_ctl(h, &resume, &h->nodes[0], "resume", again);
    ck_assert(HARNESS_WAIT_UNTIL(watch_reached(resume.out, c1), 20000));
    kill(resume.pid, SIGINT);
    ck_assert_int_eq(harness_wait_proc(&resume, HARNESS_CTL_EXIT_MS), 0);
    ck_assert_int_eq(harness_proc_exit_code(&resume), 0);
    parse_watch(resume.out, b);
    ck_assert_uint_ge(b->n, c1 - a->first_missed + 1);
    for (size_t i = 0; i < b->n; i++)
        ck_assert_uint_eq(b->v[i], a->first_missed + i);
    free(a);
    free(b);
}
END_TEST

/* One watch request on a new raw connection (kept open in *fd); the reply. */
static json_t *open_watcher(struct harness_node *nd, int *fd)
{
    *fd = harness_raw_client(nd, RAW_TIMEOUT_S);
    const char *req = "{\"cmd\":\"watch\"}\n";
    harness_send_all(*fd, req, strlen(req));
    char buf[1024];
    size_t len = 0;
    for (;;) {
        ssize_t r = recv(*fd, buf + len, sizeof(buf) - 1 - len, 0);
        ck_assert_msg(r > 0, "no watch reply: %s", r == 0 ? "eof" : strerror(errno));
        len += (size_t)r;
        char *nl = memchr(buf, '\n', len);
        if (nl != NULL)
            return json_loadb(buf, (size_t)(nl - buf), 0, NULL);
    }
}

/* Ten stalled watchers of 65,536 events used to take a third of a
 * gigabyte; their queues now share one budget, shown in info. */
START_TEST(watch_test_watchers_share_one_memory_budget)
{
    struct harness *h = harness_world();
    const char *extra[] = {"--watch-queue", "65536", NULL};
    harness_start_node(h, 0, "127.0.0.1", extra);
    struct harness_node *nd = &h->nodes[0];
    long long budget = harness_info_int(nd, "watch_budget_bytes");
    ck_assert_int_gt(budget, 0);
    int fds[12];
    long long first = 0, granted = 0;
    int refused = 0;
    for (int i = 0; i < 12; i++) {
        json_t *r = open_watcher(nd, &fds[i]);
        ck_assert_ptr_nonnull(r);
        json_t *q = json_object_get(r, "queue");
        if (json_is_integer(q)) {
            granted++;
            if (i == 0)
                first = json_integer_value(q);
            else
                ck_assert_int_lt(json_integer_value(q), 65536); /* shrunk to fit */
        } else {
            const char *e = json_string_value(json_object_get(r, "error"));
            ck_assert_msg(e != NULL && strstr(e, "budget") != NULL, "reply %d: %s", i,
                          json_dumps(r, JSON_COMPACT));
            refused++;
        }
        json_decref(r);
        ck_assert_int_le(harness_info_int(nd, "watch_used_bytes"), budget);
    }
    ck_assert_int_eq(first, 65536); /* the first one gets what was asked */
    ck_assert_int_gt(refused, 0);
    ck_assert_int_eq(harness_info_int(nd, "watchers"), granted);
    for (int i = 0; i < 12; i++)
        close(fds[i]);
    /* Closed watchers give their share back. */
    ck_assert(HARNESS_WAIT_UNTIL(harness_info_int(nd, "watch_used_bytes") == 0, 5000));
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"replay", watch_test_since_replays_exactly_the_missed_events, 60},
        {"slow_watcher", watch_test_slow_watcher_told_lagged_resumes_without_gap, 90},
        {"budget", watch_test_watchers_share_one_memory_budget, 60},
    };
    return harness_run_cases("watch", cases, sizeof(cases) / sizeof(cases[0]));
}
