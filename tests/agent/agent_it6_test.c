/*
 * agent_it6_test.c - integration for issue 6: ordered events, handlers,
 * watch / replay / lag, member links (monitor, run) and snapshots, on real
 * swimd processes on loopback (tests/agent/agent_harness.h).
 *
 * Like agent_it_test.c, each tcase is one scenario run on its own by meson
 * (CK_RUN_CASE).  Every wait is bounded; the only processes signalled are
 * the ones this test started (swimd through the harness, swimctl and its
 * children through spawn_ctl()).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_harness.h"
#include "swim.h"

/* Scheduling and sanitizer slack on top of every protocol-derived bound. */
#define SLACK_MS HARNESS_SLACK_MS
/* Socket timeouts of raw control clients. */
#define RAW_TIMEOUT_S 10
/* Convergence of a fresh loopback cluster: join, then a few gossip rounds. */
#define CONVERGE_MS 20000
/* Poll period of every wait. */
#define POLL_MS 50
/* A swimctl that should answer at once. */
#define CTL_EXIT_MS 10000

static struct harness h;

static void setup(void)
{
    ck_assert_int_eq(harness_create(&h), 0);
}

static void teardown(void)
{
    harness_destroy(&h);
}

#define WAIT_UNTIL(cond, ms)                                                                       \
    ({                                                                                             \
        uint64_t deadline_ = harness_now_ms() + (ms);                                              \
        int ok_ = 0;                                                                               \
        while (!(ok_ = (cond)) && harness_now_ms() < deadline_)                                    \
            usleep(POLL_MS * 1000);                                                                \
        ok_;                                                                                       \
    })

static struct swim_config local_profile(void)
{
    struct swim_config c;
    ck_assert_int_eq(swim_config_profile(&c, "local"), 0);
    return c;
}

static void start_node(size_t idx, const char *const *extra)
{
    int rc = harness_start(&h, idx, NULL, "127.0.0.1", extra);
    ck_assert_msg(rc == 0, "node %zu did not start: %s", idx + 1, harness_log_tail(&h.nodes[idx]));
}

/* Node idx joining node 1, with `more` extra arguments (may be NULL). */
static void start_joiner(size_t idx, const char *const *more)
{
    const char *extra[HARNESS_ARGS_MAX + 1];
    int k = 0;
    for (int j = 0; more != NULL && more[j] != NULL; j++)
        extra[k++] = more[j];
    extra[k++] = "--join";
    extra[k++] = h.nodes[0].addr;
    extra[k] = NULL;
    start_node(idx, extra);
}

static int converged(size_t n, int want)
{
    for (size_t i = 0; i < n; i++)
        if (harness_count(&h.nodes[i], "alive") != want || harness_count(&h.nodes[i], NULL) != want)
            return 0;
    return 1;
}

static int sees(size_t i, const char *name, const char *status)
{
    char buf[16];
    int dups;
    const char *st = harness_status(&h.nodes[i], name, buf, sizeof(buf), &dups);
    return st != NULL && strcmp(st, status) == 0;
}

/* A whole file as a NUL-terminated malloc'd string ("" when absent). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t len = 0;
    if (f != NULL) {
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        buf = malloc((size_t)size + 1);
        len = fread(buf, 1, (size_t)size, f);
        fclose(f);
    } else {
        buf = malloc(1);
    }
    buf[len] = '\0';
    return buf;
}

static int count_in_file(const char *path, const char *what)
{
    char *s = slurp(path);
    int n = 0;
    for (char *p = strstr(s, what); p != NULL; p = strstr(p + 1, what))
        n++;
    free(s);
    return n;
}

/* ---- swimctl as a child of the test ---- */

struct proc {
    pid_t pid;
    int status;
    char out[HARNESS_PATH_MAX];
    char err[HARNESS_PATH_MAX];
};

/* Start swimctl --socket <nd> args... with stdout/stderr in <dir>/<tag>.out/.err. */
static void spawn_ctl(struct proc *p, struct harness_node *nd, const char *tag,
                      const char *const *args)
{
    const char *argv[40];
    int argc = 0;
    argv[argc++] = h.swimctl;
    argv[argc++] = "--socket";
    argv[argc++] = nd->sock;
    for (int i = 0; args[i] != NULL && argc < 39; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;
    snprintf(p->out, sizeof(p->out), "%.60s/%.30s.out", h.dir, tag);
    snprintf(p->err, sizeof(p->err), "%.60s/%.30s.err", h.dir, tag);
    pid_t parent = getpid();
    p->pid = fork();
    ck_assert_int_ge(p->pid, 0);
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int o = open(p->out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(p->err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(o, STDOUT_FILENO);
        dup2(e, STDERR_FILENO);
        execv(h.swimctl, (char *const *)argv);
        _exit(127);
    }
}

/* Reap p if it exits within ms: 0 (p->status set) or -1. */
static int wait_proc(struct proc *p, uint64_t ms)
{
    uint64_t deadline = harness_now_ms() + ms;
    for (;;) {
        pid_t r = waitpid(p->pid, &p->status, WNOHANG);
        if (r == p->pid) {
            p->pid = 0;
            return 0;
        }
        if (harness_now_ms() >= deadline)
            return -1;
        usleep(10000);
    }
}

static int exit_code(const struct proc *p)
{
    return WIFEXITED(p->status) ? WEXITSTATUS(p->status) : -1;
}

static void kill_proc(struct proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
}

/* Run swimctl to completion (bounded); returns its exit code. */
static int run_ctl(struct harness_node *nd, const char *tag, const char *const *args,
                   struct proc *p)
{
    spawn_ctl(p, nd, tag, args);
    if (wait_proc(p, CTL_EXIT_MS) != 0) {
        kill_proc(p);
        ck_abort_msg("swimctl %s did not exit", args[0]);
    }
    return exit_code(p);
}

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
    char *text = slurp(path);
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

/* ==== handlers ==== */

START_TEST(agent_it6_test_handler_sees_join_fail_leave_in_order)
{
    struct swim_config c = local_profile();
    char script[HARNESS_PATH_MAX], out[HARNESS_PATH_MAX], spec[2 * HARNESS_PATH_MAX];
    snprintf(script, sizeof(script), "%s/h.sh", h.dir);
    snprintf(out, sizeof(out), "%s/h.out", h.dir);
    FILE *f = fopen(script, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f,
            "#!/bin/sh\n"
            "{ printf 'EVENT %%s %%s %%s %%s %%s\\n' \"$SWIM_EVENT\" \"$SWIM_SEQ\" "
            "\"$SWIM_SELF_NAME\" \"$SWIM_TAG_ROLE\" \"$SWIM_SELF_ADDR\"; "
            "sed 's/^/STDIN /'; } >> %s\n",
            out);
    fclose(f);
    chmod(script, 0700);
    snprintf(spec, sizeof(spec), "member-join,member-failed,member-leave=%s", script);
    const char *n1[] = {"--event-handler", spec, "--tag", "role=web", NULL};
    start_node(0, n1);
    start_joiner(1, NULL);
    start_joiner(2, NULL);
    ck_assert(WAIT_UNTIL(converged(3, 3), CONVERGE_MS));
    ck_assert_msg(WAIT_UNTIL(count_in_file(out, "EVENT member-join") == 2, 10000),
                  "joins not handled: %s", harness_log_tail(&h.nodes[0]));
    harness_signal(&h.nodes[2], SIGKILL);
    ck_assert_int_eq(harness_wait_exit(&h.nodes[2], 5000), 0);
    ck_assert_msg(WAIT_UNTIL(count_in_file(out, "EVENT member-failed") == 1,
                             harness_detection_bound_ms(3) + SLACK_MS),
                  "failure not handled: %s", harness_log_tail(&h.nodes[0]));
    harness_signal(&h.nodes[1], SIGTERM);
    ck_assert_int_eq(harness_wait_exit(&h.nodes[1], (int)(c.leave_linger_ms + 2000 + SLACK_MS)), 0);
    ck_assert_msg(WAIT_UNTIL(count_in_file(out, "EVENT member-leave") == 1, 10000),
                  "leave not handled: %s", harness_log_tail(&h.nodes[0]));

    /* Exactly four runs, strictly increasing SWIM_SEQ, each with its member
     * line on stdin and the right environment. */
    char *text = slurp(out);
    const char *want_type[] = {"member-join", "member-join", "member-failed", "member-leave"};
    uint64_t last = 0;
    int runs = 0;
    char *save = NULL;
    char joined[2][32] = {"", ""};
    for (char *l = strtok_r(text, "\n", &save); l != NULL; l = strtok_r(NULL, "\n", &save)) {
        char type[32], self[32], role[32], addr[64];
        unsigned long long seq;
        if (strncmp(l, "EVENT ", 6) == 0) {
            ck_assert_int_lt(runs, 4);
            ck_assert_int_eq(
                sscanf(l, "EVENT %31s %llu %31s %31s %63s", type, &seq, self, role, addr), 5);
            ck_assert_str_eq(type, want_type[runs]);
            ck_assert_msg(seq > last, "SWIM_SEQ %llu after %llu", seq, (unsigned long long)last);
            last = seq;
            ck_assert_str_eq(self, "n1");
            ck_assert_str_eq(role, "web");
            ck_assert_str_eq(addr, h.nodes[0].addr);
            runs++;
        } else {
            char name[32], maddr[64], status[32];
            ck_assert_msg(sscanf(l, "STDIN %31[^\t]\t%63[^\t]\t%31[^\t\n]", name, maddr, status) ==
                              3,
                          "stdin line \"%s\"", l);
            ck_assert_int_ge(runs, 1);
            const char *want_status[] = {"alive", "alive", "failed", "left"};
            ck_assert_str_eq(status, want_status[runs - 1]);
            if (runs <= 2)
                snprintf(joined[runs - 1], sizeof(joined[0]), "%s", name);
            if (runs == 3)
                ck_assert_str_eq(name, "n3");
            if (runs == 4) {
                ck_assert_str_eq(name, "n2");
                ck_assert_str_eq(maddr, h.nodes[1].addr);
            }
        }
    }
    ck_assert_int_eq(runs, 4);
    ck_assert(strcmp(joined[0], joined[1]) != 0);
    free(text);
}
END_TEST

/* ==== watch --since: replay, and its errors ==== */

START_TEST(agent_it6_test_watch_since_replays_exactly_the_missed_events)
{
    const char *n1[] = {"--event-history", "64", NULL};
    start_node(0, n1);
    start_joiner(1, NULL);
    ck_assert(WAIT_UNTIL(converged(2, 2), CONVERGE_MS));
    /* A watcher that stays connected all along is the reference. */
    struct proc ref, cut, replay, p;
    const char *watch_all[] = {"watch", "--json", NULL};
    spawn_ctl(&ref, &h.nodes[0], "ref", watch_all);
    /* Another one goes away after the first events ... */
    spawn_ctl(&cut, &h.nodes[0], "cut", watch_all);
    ck_assert(WAIT_UNTIL(count_in_file(ref.out, "first_held") == 1 &&
                             count_in_file(cut.out, "first_held") == 1,
                         10000));
    user_events(&h.nodes[0], 3, 10);
    uint64_t c1 = event_clock(&h.nodes[0]);
    ck_assert(WAIT_UNTIL(watch_reached(cut.out, c1) && watch_reached(ref.out, c1), 10000));
    kill(cut.pid, SIGINT);
    ck_assert_int_eq(wait_proc(&cut, CTL_EXIT_MS), 0);
    ck_assert_int_eq(exit_code(&cut), 0);
    struct seqs *sc = malloc(sizeof(*sc)), *sr = malloc(sizeof(*sr)), *sf = malloc(sizeof(*sf));
    parse_watch(cut.out, sc);
    uint64_t last = sc->max;
    /* ... events it misses: user events, a tag change on n2, a member leaving. */
    user_events(&h.nodes[0], 5, 20);
    json_decref(
        harness_call(&h.nodes[1], json_pack("{s:s,s:{s:s}}", "cmd", "tags-set", "tags", "v", "2")));
    const char *n3[] = {"--event-history", "64", NULL};
    start_joiner(2, n3);
    ck_assert(WAIT_UNTIL(converged(3, 3), CONVERGE_MS));
    /* 5 user events, n2's member-update, n3's member-join */
    ck_assert(WAIT_UNTIL(event_clock(&h.nodes[0]) >= last + 7, 10000));
    uint64_t c2 = event_clock(&h.nodes[0]);
    /* It comes back with --since: exactly (last, c2], as the reference saw it. */
    char since[24];
    snprintf(since, sizeof(since), "%llu", (unsigned long long)last);
    const char *resume[] = {"watch", "--since", since, "--json", NULL};
    spawn_ctl(&replay, &h.nodes[0], "replay", resume);
    ck_assert(WAIT_UNTIL(watch_reached(replay.out, c2) && watch_reached(ref.out, c2), 10000));
    kill(replay.pid, SIGINT);
    kill(ref.pid, SIGINT);
    ck_assert_int_eq(wait_proc(&replay, CTL_EXIT_MS), 0);
    ck_assert_int_eq(wait_proc(&ref, CTL_EXIT_MS), 0);
    ck_assert_int_eq(exit_code(&replay), 0);
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
    user_events(&h.nodes[0], 70, 10);
    ck_assert_int_eq(
        run_ctl(&h.nodes[0], "old", (const char *const[]){"watch", "--since", "1", NULL}, &p), 1);
    ck_assert_int_eq(count_in_file(p.err, "first event held is"), 1);
    ck_assert_int_eq(run_ctl(&h.nodes[0], "ahead",
                             (const char *const[]){"watch", "--since", "999999", NULL}, &p),
                     1);
    ck_assert_int_eq(count_in_file(p.err, "swimd restarted?"), 1);
    ck_assert_int_eq(
        run_ctl(&h.nodes[0], "type", (const char *const[]){"watch", "--type", "bogus", NULL}, &p),
        1);
    ck_assert_int_eq(count_in_file(p.err, "bogus"), 1);
    free(sc);
    free(sr);
    free(sf);
}
END_TEST

/* ==== a slow watcher lags, is told, and resumes without a gap ==== */

START_TEST(agent_it6_test_slow_watcher_told_lagged_resumes_without_gap)
{
    const char *n1[] = {"--watch-queue", "16", "--event-history", "8192", NULL};
    start_node(0, n1);
    struct proc slow, resume;
    const char *watch_all[] = {"watch", "--json", NULL};
    spawn_ctl(&slow, &h.nodes[0], "slow", watch_all);
    uint64_t c0 = event_clock(&h.nodes[0]);
    ck_assert(WAIT_UNTIL(count_in_file(slow.out, "first_held") == 1, 10000));
    /* It stops reading (stopped), while 1,000 events pile up well past the
     * kernel's buffers and swimd's output limit: 255 x "\u00e9" is 510
     * payload bytes (the most an event carries) and ~1.6 KB as escaped JSON.
     * (A lone node holds at most 1,024 undelivered broadcasts.) */
    kill(slow.pid, SIGSTOP);
    user_events_of(&h.nodes[0], 1000, "\u00e9", 255);
    uint64_t c1 = event_clock(&h.nodes[0]);
    ck_assert_uint_ge(c1, c0 + 1000);
    kill(slow.pid, SIGCONT);
    ck_assert_msg(wait_proc(&slow, 20000) == 0, "the slow watcher was never told it lagged");
    ck_assert_int_eq(exit_code(&slow), 4);
    struct seqs *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    parse_watch(slow.out, a);
    ck_assert(a->lagged);
    ck_assert_uint_gt(a->first_missed, c0);
    ck_assert_uint_le(a->first_missed, c1);
    char want[96];
    snprintf(want, sizeof(want), "lagged: first missed event %llu; resume with --since %llu",
             (unsigned long long)a->first_missed, (unsigned long long)a->first_missed - 1);
    ck_assert_msg(count_in_file(slow.err, want) == 1, "stderr lacks \"%s\"", want);
    /* Everything before the first missed seq arrived, in order, no gap. */
    ck_assert_uint_eq(a->n, a->first_missed - 1 - c0);
    for (size_t i = 0; i < a->n; i++)
        ck_assert_uint_eq(a->v[i], c0 + 1 + i);
    /* Resume from the history: the union has no gap up to the clock. */
    char since[24];
    snprintf(since, sizeof(since), "%llu", (unsigned long long)a->first_missed - 1);
    const char *again[] = {"watch", "--since", since, "--json", NULL};
    spawn_ctl(&resume, &h.nodes[0], "resume", again);
    ck_assert(WAIT_UNTIL(watch_reached(resume.out, c1), 20000));
    kill(resume.pid, SIGINT);
    ck_assert_int_eq(wait_proc(&resume, CTL_EXIT_MS), 0);
    ck_assert_int_eq(exit_code(&resume), 0);
    parse_watch(resume.out, b);
    ck_assert_uint_ge(b->n, c1 - a->first_missed + 1);
    for (size_t i = 0; i < b->n; i++)
        ck_assert_uint_eq(b->v[i], a->first_missed + i);
    free(a);
    free(b);
}
END_TEST

/* ==== monitor ==== */

START_TEST(agent_it6_test_monitor_exits_on_failure_then_on_leave)
{
    struct swim_config c = local_profile();
    start_node(0, NULL);
    start_joiner(1, NULL);
    start_joiner(2, NULL);
    ck_assert(WAIT_UNTIL(converged(3, 3), CONVERGE_MS));
    struct proc mon, p;
    /* An unknown name is reported at once. */
    ck_assert_int_eq(
        run_ctl(&h.nodes[0], "ghost", (const char *const[]){"monitor", "ghost", NULL}, &p), 12);
    ck_assert_int_eq(count_in_file(p.out, "ghost unknown"), 1);
    /* kill -9: "n3 failed", exit 10. */
    const char *args[] = {"monitor", "n3", NULL};
    spawn_ctl(&mon, &h.nodes[0], "mon1", args);
    usleep(300 * 1000);
    ck_assert_int_ne(wait_proc(&mon, 0), 0); /* still waiting */
    harness_signal(&h.nodes[2], SIGKILL);
    ck_assert_int_eq(harness_wait_exit(&h.nodes[2], 5000), 0);
    ck_assert_msg(wait_proc(&mon, harness_detection_bound_ms(3)) == 0, "monitor did not exit: %s",
                  harness_log_tail(&h.nodes[0]));
    ck_assert_int_eq(exit_code(&mon), 10);
    ck_assert_int_eq(count_in_file(mon.out, "n3 failed"), 1);
    /* n3 comes back; SIGTERM makes it leave: "n3 left", exit 11. */
    start_joiner(2, NULL);
    ck_assert(WAIT_UNTIL(converged(3, 3), CONVERGE_MS));
    ck_assert(WAIT_UNTIL(sees(0, "n3", "alive"), CONVERGE_MS));
    usleep(300 * 1000); /* the bridge applies the join a loop turn after the core */
    spawn_ctl(&mon, &h.nodes[0], "mon2", args);
    usleep(300 * 1000);
    ck_assert_int_ne(wait_proc(&mon, 0), 0);
    harness_signal(&h.nodes[2], SIGTERM);
    ck_assert_msg(wait_proc(&mon, c.leave_linger_ms + 5u * c.probe_interval_ms + SLACK_MS) == 0,
                  "monitor did not see the leave: %s", harness_log_tail(&h.nodes[0]));
    ck_assert_int_eq(exit_code(&mon), 11);
    ck_assert_int_eq(count_in_file(mon.out, "n3 left"), 1);
}
END_TEST

/* ==== run --peer ==== */

/* The first child of pid (Linux /proc), or 0. */
static pid_t child_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)pid, (int)pid);
    FILE *f = fopen(path, "r");
    int c = 0;
    if (f != NULL) {
        if (fscanf(f, "%d", &c) != 1)
            c = 0;
        fclose(f);
    }
    return (pid_t)c;
}

START_TEST(agent_it6_test_run_kills_child_when_peer_is_killed)
{
    start_node(0, NULL);
    start_joiner(1, NULL);
    start_joiner(2, NULL);
    ck_assert(WAIT_UNTIL(converged(3, 3), CONVERGE_MS));
    struct proc run, p;
    char marker[HARNESS_PATH_MAX];
    snprintf(marker, sizeof(marker), "%s/started", h.dir);
    /* A peer that does not exist: CMD never starts. */
    ck_assert_int_eq(
        run_ctl(&h.nodes[0], "ghost",
                (const char *const[]){"run", "--peer", "ghost", "--", "touch", marker, NULL}, &p),
        12);
    ck_assert_int_ne(access(marker, F_OK), 0);
    /* CMD exits first: its status. */
    ck_assert_int_eq(
        run_ctl(&h.nodes[0], "exit7",
                (const char *const[]){"run", "--peer", "n2", "--", "sh", "-c", "exit 7", NULL}, &p),
        7);
    /* The peer is killed: SIGTERM to CMD, exit 10, CMD gone. */
    const char *args[] = {"run", "--peer", "n3", "--grace", "2", "--", "sleep", "60", NULL};
    spawn_ctl(&run, &h.nodes[0], "run", args);
    pid_t child = 0;
    ck_assert(WAIT_UNTIL((child = child_of(run.pid)) > 0, 5000));
    harness_signal(&h.nodes[2], SIGKILL);
    ck_assert_int_eq(harness_wait_exit(&h.nodes[2], 5000), 0);
    ck_assert_msg(wait_proc(&run, harness_detection_bound_ms(3) + 2000) == 0,
                  "run did not exit: %s", harness_log_tail(&h.nodes[0]));
    ck_assert_int_eq(exit_code(&run), 10);
    ck_assert_int_eq(count_in_file(run.out, "n3 failed"), 1);
    /* swimctl reaped it: the pid no longer exists. */
    ck_assert_int_ne(kill(child, 0), 0);
    ck_assert_int_eq(errno, ESRCH);
}
END_TEST

/* ==== snapshots ==== */

START_TEST(agent_it6_test_five_nodes_rejoin_from_snapshots)
{
    const size_t n = 5;
    struct swim_config c = local_profile();
    char snaps[5][HARNESS_PATH_MAX], addrs[5][64];
    long long gen[5];
    for (size_t i = 0; i < n; i++) {
        snprintf(snaps[i], sizeof(snaps[i]), "%s/n%zu.snap", h.dir, i + 1);
        const char *extra[] = {"--snapshot", snaps[i], NULL};
        if (i == 0)
            start_node(0, extra);
        else
            start_joiner(i, extra);
    }
    ck_assert_msg(WAIT_UNTIL(converged(n, 5), CONVERGE_MS), "no convergence: %s",
                  harness_log_tail(&h.nodes[0]));
    for (size_t i = 0; i < n; i++) {
        json_t *info = harness_call(&h.nodes[i], json_pack("{s:s}", "cmd", "info"));
        gen[i] = (long long)json_integer_value(
            json_object_get(json_object_get(info, "self"), "generation"));
        json_decref(info);
        snprintf(addrs[i], sizeof(addrs[i]), "%s", h.nodes[i].addr);
    }
    for (size_t i = 0; i < n; i++)
        harness_signal(&h.nodes[i], SIGTERM);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(harness_wait_exit(&h.nodes[i], (int)(c.leave_linger_ms + 2000 + SLACK_MS)),
                         0);
    /* Restart every node on its old address, with its snapshot, no --join. */
    for (size_t i = 0; i < n; i++) {
        char bind[80];
        snprintf(bind, sizeof(bind), "--bind=%s", addrs[i]);
        const char *extra[] = {bind, "--snapshot", snaps[i], NULL};
        start_node(i, extra);
    }
    ck_assert_msg(WAIT_UNTIL(converged(n, 5), CONVERGE_MS + 10000), "no re-formed cluster: %s",
                  harness_log_tail(&h.nodes[0]));
    for (size_t i = 0; i < n; i++) {
        json_t *info = harness_call(&h.nodes[i], json_pack("{s:s}", "cmd", "info"));
        long long g = (long long)json_integer_value(
            json_object_get(json_object_get(info, "self"), "generation"));
        json_decref(info);
        ck_assert_int_gt(g, gen[i]);
    }
}
END_TEST

START_TEST(agent_it6_test_corrupt_snapshot_warns_and_starts)
{
    char snap[HARNESS_PATH_MAX];
    snprintf(snap, sizeof(snap), "%s/n1.snap", h.dir);
    FILE *f = fopen(snap, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"version\": 1, \"name\": \"n1\", \"generation\": 17, \"members\": [{\"na", f);
    fclose(f);
    const char *extra[] = {"--snapshot", snap, NULL};
    start_node(0, extra);
    ck_assert_msg(strstr(harness_log_tail(&h.nodes[0]), "ignoring snapshot") != NULL, "log: %s",
                  harness_log_tail(&h.nodes[0]));
    ck_assert_int_eq(harness_count(&h.nodes[0], NULL), 1);
    /* A fresh, valid snapshot replaces it. */
    ck_assert(WAIT_UNTIL(count_in_file(snap, "\"name\": \"n1\"") == 1 &&
                             count_in_file(snap, "\"generation\": 17,") == 0,
                         5000));
    json_t *doc = json_load_file(snap, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    json_decref(doc);
    /* A bad handler spec is a usage error, exit 2, before anything starts. */
    const char *bad[] = {"--event-handler", "member-jion=./x.sh", NULL};
    ck_assert_int_ne(harness_start(&h, 1, NULL, "127.0.0.1", bad), 0);
    ck_assert(WIFEXITED(h.nodes[1].exit_status));
    ck_assert_int_eq(WEXITSTATUS(h.nodes[1].exit_status), 2);
    ck_assert_ptr_nonnull(strstr(harness_log_tail(&h.nodes[1]), "member-jion"));
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"handlers", agent_it6_test_handler_sees_join_fail_leave_in_order, 90},
        {"replay", agent_it6_test_watch_since_replays_exactly_the_missed_events, 60},
        {"slow_watcher", agent_it6_test_slow_watcher_told_lagged_resumes_without_gap, 90},
        {"monitor", agent_it6_test_monitor_exits_on_failure_then_on_leave, 90},
        {"run", agent_it6_test_run_kills_child_when_peer_is_killed, 60},
        {"snapshot_rejoin", agent_it6_test_five_nodes_rejoin_from_snapshots, 90},
        {"snapshot_corrupt", agent_it6_test_corrupt_snapshot_warns_and_starts, 30},
    };
    return harness_run_cases("agent_it6", cases, sizeof(cases) / sizeof(cases[0]), setup, teardown);
}
