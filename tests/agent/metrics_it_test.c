/*
 * metrics_it_test.c - integration: the Prometheus endpoint of real swimd
 * processes (tests/agent/agent_harness.h).
 *
 *   endpoint      GET /metrics answers the text format 0.0.4 with counters
 *                 that move; promtool accepts it; the control command
 *                 "metrics" gives the same families; other paths are 404,
 *                 other methods 405, a malformed head 400; an oversized
 *                 head is refused and an idle connection closed.
 *   descriptors   a swimd with 64 descriptors and more idle connections
 *                 than that: it stays idle (CPU time), its control socket
 *                 answers, and once they close a scrape is answered.
 *   connection_cap  more idle connections than METRICS_HTTP_CONNS_MAX:
 *                 swimd holds no more than the cap open, and a scrape
 *                 waiting behind them is answered once they time out.
 *   bad_address   a malformed --metrics is a usage error (exit 2), a port
 *                 in use a start failure (exit 1).
 *   prometheus    a real Prometheus server, started here on loopback with
 *                 a generated config, scrapes three agents; its query API
 *                 says each sees 3 alive members.
 *
 * promtool and prometheus come from the Debian package `prometheus`
 * (scripts/lib/common.sh installs it); without them those checks print
 * why they were skipped and pass.  Every wait is bounded; only the PIDs
 * started here are signalled.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent_harness.h"
#include "metrics_http.h"

/* Largest HTTP answer read (a scrape is ~8 KB, a query answer less). */
#define IT_HTTP_MAX (256 * 1024)
/* Each HTTP exchange's deadline. */
#define IT_HTTP_MS 5000
/* swimd's idle timeout (METRICS_HTTP_TIMEOUT_S) and a bit. */
#define IT_IDLE_CLOSE_MS (5000 + HARNESS_SLACK_MS)
/* Prometheus: start, first scrapes, query; the whole test stays < 30 s. */
#define IT_PROMETHEUS_MS 25000
#define IT_CONTENT_TYPE "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"

/* The descriptor limit of the starved swimd (`ulimit -n 64`), and how many
 * idle connections it is sent: more than it has descriptors. */
#define IT_NOFILE 64
#define IT_IDLE_CONNS 100
/* The window over which swimd's CPU time is measured, and the share of one
 * core it may use meanwhile: an idle swimd on the local profile under ASan
 * uses a few percent; one spinning on a failing accept() uses all of it. */
#define IT_CPU_WINDOW_MS 2000
#define IT_CPU_MAX_PERCENT 25

static const char *const with_metrics[] = {"--metrics", "127.0.0.1:0", NULL};

/* ---- helpers ----------------------------------------------------------- */

/* Connect to 127.0.0.1:port with send/receive timeouts of ms (they bound
 * connect() too); the socket, or -1 with errno set. */
static int it_try_connect(int port, int ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* it_try_connect() that fails the test when it cannot connect. */
static int it_connect(int port, int ms)
{
    int fd = it_try_connect(port, ms);
    ck_assert_msg(fd >= 0, "connect :%d: %s", port, strerror(errno));
    return fd;
}

/* Read until the peer closes, within ms; a malloc'd NUL-terminated string
 * ("" when nothing came). */
static char *it_read_all(int fd, int ms)
{
    char *buf = malloc(IT_HTTP_MAX + 1);
    ck_assert_ptr_nonnull(buf);
    size_t len = 0;
    uint64_t deadline = clock_mono_ms() + (uint64_t)ms;
    while (len < IT_HTTP_MAX && clock_mono_ms() < deadline) {
        ssize_t n = recv(fd, buf + len, IT_HTTP_MAX - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return buf;
}

/* One request (sent whole), the whole answer (the server closes). */
static char *it_http(int port, const char *request)
{
    int fd = it_connect(port, IT_HTTP_MS);
    harness_send_all(fd, request, strlen(request));
    char *resp = it_read_all(fd, IT_HTTP_MS);
    close(fd);
    return resp;
}

static char *it_get(int port, const char *path)
{
    char req[512];
    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    return it_http(port, req);
}

/* The status code of an HTTP answer, 0 if there is none. */
static int it_status(const char *resp)
{
    int code = 0;
    return sscanf(resp, "HTTP/1.%*d %d", &code) == 1 ? code : 0;
}

static const char *it_body(const char *resp)
{
    const char *b = strstr(resp, "\r\n\r\n");
    return b != NULL ? b + 4 : "";
}

/* The port of the node's metrics endpoint, from its log line. */
static int it_metrics_port(struct harness_node *nd)
{
    char *log = harness_slurp(nd->log);
    const char *p = strstr(log, "metrics listening on http://127.0.0.1:");
    int port = p != NULL ? atoi(p + strlen("metrics listening on http://127.0.0.1:")) : 0;
    free(log);
    ck_assert_msg(port > 0, "no metrics address in the log: %s", harness_log_tail(nd));
    return port;
}

/* The value of the sample whose name and labels are `series`, or -1. */
static double it_sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return -1;
}

static double it_scrape_sample(int port, const char *series)
{
    char *resp = it_get(port, "/metrics");
    double v = it_status(resp) == 200 ? it_sample(it_body(resp), series) : -1;
    free(resp);
    return v;
}

/* Every line is a "# HELP" / "# TYPE" of a swimd_ family or a swimd_
 * sample ending in a number, and the text ends with a newline. */
static void it_check_lines(const char *text)
{
    ck_assert_msg(text[0] != '\0' && text[strlen(text) - 1] == '\n', "no final newline");
    int samples = 0;
    for (const char *p = text; *p != '\0';) {
        const char *end = strchr(p, '\n');
        ck_assert_ptr_nonnull(end);
        if (strncmp(p, "# HELP swimd_", 13) != 0 && strncmp(p, "# TYPE swimd_", 13) != 0) {
            ck_assert_msg(strncmp(p, "swimd_", 6) == 0, "line \"%.*s\"", (int)(end - p), p);
            const char *sp = end;
            while (sp > p && sp[-1] != ' ')
                sp--;
            char *num_end;
            strtod(sp, &num_end);
            ck_assert_msg(num_end == end && sp < end, "no value: \"%.*s\"", (int)(end - p), p);
            samples++;
        }
        p = end + 1;
    }
    ck_assert_int_gt(samples, 50);
}

/* The "# TYPE" lines of an exposition, joined, in a malloc'd string. */
static char *it_types(const char *text)
{
    char *out = calloc(1, strlen(text) + 1);
    ck_assert_ptr_nonnull(out);
    for (const char *p = strstr(text, "# TYPE "); p != NULL; p = strstr(p + 1, "\n# TYPE ")) {
        p += (*p == '\n');
        strncat(out, p, (size_t)(strchr(p, '\n') - p) + 1);
    }
    return out;
}

/* Is prog an executable in $PATH? */
static int it_in_path(const char *prog)
{
    const char *path = getenv("PATH");
    char dir[512], full[1024];
    while (path != NULL && *path != '\0') {
        size_t n = strcspn(path, ":");
        snprintf(dir, sizeof(dir), "%.*s", (int)n, path);
        snprintf(full, sizeof(full), "%s/%s", dir, prog);
        if (access(full, X_OK) == 0)
            return 1;
        path += n + (path[n] == ':');
    }
    return 0;
}

/* Start argv with stdin from in_path (NULL: /dev/null) and stdout and
 * stderr into out_path; it dies with the test (PR_SET_PDEATHSIG). */
static pid_t it_spawn(const char *const *argv, const char *in_path, const char *out_path)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int in = open(in_path != NULL ? in_path : "/dev/null", O_RDONLY);
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (in < 0 || out < 0)
            _exit(127);
        dup2(in, STDIN_FILENO);
        dup2(out, STDOUT_FILENO);
        dup2(out, STDERR_FILENO);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Wait for pid (a child not reaped yet) at most ms, then SIGKILL it; its
 * exit code, or -1. */
static int it_reap(pid_t pid, uint64_t ms)
{
    int st = 0;
    uint64_t deadline = clock_mono_ms() + ms;
    pid_t w;
    while ((w = waitpid(pid, &st, WNOHANG)) != pid) {
        if (w < 0)
            return -1;
        if (clock_mono_ms() >= deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            return -1;
        }
        usleep(20000);
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- endpoint ---------------------------------------------------------- */

/* promtool's verdict on an exposition (skipped without promtool). */
static void it_promtool(struct harness *h, const char *text)
{
    if (!it_in_path("promtool")) {
        printf("skip: promtool not installed (Debian package prometheus); "
               "format checked by this test only\n");
        return;
    }
    char in[HARNESS_PATH_MAX], out[HARNESS_PATH_MAX];
    snprintf(in, sizeof(in), "%s/scrape.txt", h->dir);
    snprintf(out, sizeof(out), "%s/promtool.txt", h->dir);
    harness_write_file(in, text);
    const char *argv[] = {"promtool", "check", "metrics", NULL};
    int rc = it_reap(it_spawn(argv, in, out), 20000);
    char *said = harness_slurp(out);
    printf("promtool check metrics: exit %d, output: \"%s\"\n", rc, said);
    ck_assert_msg(rc == 0 && said[0] == '\0', "promtool: exit %d: %s", rc, said);
    free(said);
}

START_TEST(metrics_it_test_endpoint)
{
    struct harness *h = harness_world();
    harness_start_cluster(h, 2, "127.0.0.1", with_metrics);
    ck_assert(HARNESS_WAIT_UNTIL(harness_converged(h, 2, 2), HARNESS_CONVERGE_MS));
    int port = it_metrics_port(&h->nodes[0]);

    /* Counters move: probes are answered, members counted. */
    ck_assert(HARNESS_WAIT_UNTIL(it_scrape_sample(port, "swimd_probes_total{result=\"ack\"}") > 0,
                                 HARNESS_CONVERGE_MS));
    char *resp = it_get(port, "/metrics");
    const char *text = it_body(resp);
    ck_assert_int_eq(it_status(resp), 200);
    ck_assert_msg(strstr(resp, IT_CONTENT_TYPE) != NULL, "content type: %.300s", resp);
    it_check_lines(text);
    ck_assert(it_sample(text, "swimd_members{status=\"alive\"}") == 2);
    ck_assert(it_sample(text, "swimd_members{status=\"failed\"}") == 0);
    ck_assert(
        it_sample(text, "swimd_node_info{name=\"n1\",profile=\"local\",encrypted=\"false\"}") == 1);
    ck_assert(it_sample(text, "swimd_probe_rtt_seconds_count") > 0);
    ck_assert(it_sample(text, "swimd_probe_rtt_seconds_bucket{le=\"+Inf\"}") ==
              it_sample(text, "swimd_probe_rtt_seconds_count"));
    ck_assert(it_sample(text, "swimd_datagrams_total{direction=\"out\",type=\"ping\"}") > 0);
    ck_assert(it_sample(text, "swimd_datagram_bytes_total{direction=\"in\",type=\"ack\"}") > 0);
    ck_assert(it_sample(text, "swimd_control_requests_total{command=\"members\"}") > 0);
    ck_assert(it_sample(text, "swimd_active") == 1);
    it_promtool(h, text);

    /* The control command gives the same families; an unknown command is
     * counted under "unknown" (and nothing else grows). */
    json_t *bogus = harness_call(&h->nodes[0], json_pack("{s:s}", "cmd", "no-such-command"));
    json_decref(bogus);
    json_t *r = harness_call(&h->nodes[0], json_pack("{s:s}", "cmd", "metrics"));
    ck_assert_ptr_nonnull(r);
    const char *ctl_text = json_string_value(json_object_get(r, "text"));
    ck_assert_ptr_nonnull(ctl_text);
    char *t1 = it_types(text), *t2 = it_types(ctl_text);
    ck_assert_str_eq(t1, t2);
    ck_assert(it_sample(ctl_text, "swimd_control_requests_total{command=\"unknown\"}") == 1);
    ck_assert(it_sample(ctl_text, "swimd_control_requests_total{command=\"metrics\"}") == 1);
    ck_assert(strstr(ctl_text, "no-such-command") == NULL);
    free(t1);
    free(t2);
    json_decref(r);
    free(resp);

    /* Only GET /metrics. */
    resp = it_get(port, "/");
    ck_assert_int_eq(it_status(resp), 404);
    free(resp);
    resp = it_get(port, "/metrics/x");
    ck_assert_int_eq(it_status(resp), 404);
    free(resp);
    resp = it_get(port, "/metrics?name[]=swimd_members");
    ck_assert_int_eq(it_status(resp), 200);
    free(resp);
    const char *methods[] = {"POST", "HEAD", "PUT", "DELETE", "OPTIONS"};
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
        char req[256];
        snprintf(req, sizeof(req), "%s /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
                 methods[i]);
        resp = it_http(port, req);
        ck_assert_msg(it_status(resp) == 405, "%s: %.200s", methods[i], resp);
        ck_assert_msg(strstr(resp, "Allow: GET\r\n") != NULL, "%s: %.300s", methods[i], resp);
        free(resp);
    }

    /* A malformed head is 400, at once even when it does not end (a TLS
     * hello); a head that comes in pieces is served. */
    resp = it_http(port, "BLAH\r\n\r\n");
    ck_assert_msg(it_status(resp) == 400, "malformed: %.200s", resp);
    free(resp);
    resp = it_http(port, "\x16\x03\x01\x02");
    ck_assert_msg(it_status(resp) == 400, "TLS hello: %.200s", resp);
    free(resp);
    const char *pieces[] = {"GET /met", "rics HTTP/1.0\r\nHo", "st: x\r\n", "\r\n"};
    int pfd = it_connect(port, IT_HTTP_MS);
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        harness_send_all(pfd, pieces[i], strlen(pieces[i]));
        usleep(100 * 1000);
    }
    resp = it_read_all(pfd, IT_HTTP_MS);
    close(pfd);
    ck_assert_msg(it_status(resp) == 200, "in pieces: %.200s", resp);
    free(resp);

    /* A head over the limit is refused, not served. */
    size_t big = 16 * 1024;
    char *req = malloc(big + 128);
    ck_assert_ptr_nonnull(req);
    int n = snprintf(req, 128, "GET /metrics HTTP/1.1\r\nX-Filler: ");
    memset(req + n, 'a', big);
    strcpy(req + n + big, "\r\n\r\n");
    int fd = it_connect(port, IT_HTTP_MS);
    send(fd, req, strlen(req), MSG_NOSIGNAL); /* may be cut short by the server */
    resp = it_read_all(fd, IT_HTTP_MS);
    close(fd);
    ck_assert_msg(it_status(resp) != 200, "oversized head served: %.200s", resp);
    free(resp);
    free(req);

    /* A connection that sends nothing is closed after the timeout. */
    fd = it_connect(port, IT_IDLE_CLOSE_MS);
    uint64_t t0 = clock_mono_ms();
    char c;
    ssize_t got = recv(fd, &c, 1, 0);
    uint64_t took = clock_mono_ms() - t0;
    close(fd);
    ck_assert_msg(got == 0, "idle connection: recv %zd after %llu ms", got,
                  (unsigned long long)took);

    /* The endpoint still answers afterwards. */
    ck_assert(it_scrape_sample(port, "swimd_members{status=\"alive\"}") == 2);
}
END_TEST

/* ---- descriptors and the connection cap --------------------------------- */

/* Open up to n idle connections to port (each connect bounded); how many
 * opened. */
static int it_open_idle(int port, int *fds, int n)
{
    int opened = 0;
    for (int i = 0; i < n; i++)
        if ((fds[opened] = it_try_connect(port, 2000)) >= 0)
            opened++;
    return opened;
}

static void it_close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        close(fds[i]);
}

/* Share of one core (percent) pid used over IT_CPU_WINDOW_MS from now. */
static long long it_cpu_percent(pid_t pid)
{
    long long before = harness_cpu_ms(pid);
    usleep(IT_CPU_WINDOW_MS * 1000);
    long long after = harness_cpu_ms(pid);
    ck_assert(before >= 0 && after >= 0);
    printf("swimd pid %ld: %lld ms of CPU in %d ms\n", (long)pid, after - before, IT_CPU_WINDOW_MS);
    fflush(stdout);
    return (after - before) * 100 / IT_CPU_WINDOW_MS;
}

/* Before the cap, swimd with `ulimit -n 64` and 100 idle connections spun
 * at 100% CPU on accept() failing with EMFILE, logged libevent's warning
 * millions of times, and its control socket stopped answering. */
START_TEST(metrics_it_test_descriptors)
{
    struct harness *h = harness_world();
    h->nofile = IT_NOFILE;
    harness_start_node(h, 0, "127.0.0.1", with_metrics);
    struct harness_node *nd = &h->nodes[0];
    int port = it_metrics_port(nd);

    int fds[IT_IDLE_CONNS];
    int opened = it_open_idle(port, fds, IT_IDLE_CONNS);
    usleep(300 * 1000); /* let swimd take what it takes */
    printf("%d idle connections open, swimd holds %d descriptors\n", opened,
           harness_fd_count(nd->pid));
    fflush(stdout);
    ck_assert_int_gt(opened, IT_NOFILE);

    long long cpu = it_cpu_percent(nd->pid);
    const char *args[] = {"info", NULL};
    char *out = NULL;
    int rc = harness_swimctl(h, nd, args, &out);
    printf("swimctl info while they are open: exit %d\n", rc);
    fflush(stdout);
    ck_assert_msg(cpu < IT_CPU_MAX_PERCENT, "swimd used %lld%% of a core with %d idle connections",
                  cpu, opened);
    ck_assert_msg(rc == 0 && out != NULL && strstr(out, "n1") != NULL, "swimctl info: exit %d: %s",
                  rc, out != NULL ? out : "(did not exit)");
    free(out);

    it_close_all(fds, opened);
    ck_assert(HARNESS_WAIT_UNTIL(it_scrape_sample(port, "swimd_active") >= 0, IT_HTTP_MS));
    int warnings = harness_count_in_file(nd->log, "Too many open files");
    printf("log lines naming EMFILE: %d\n", warnings);
    fflush(stdout);
    ck_assert_int_le(warnings, 10);
}
END_TEST

/* Idle connections beyond the cap wait in the kernel's queue, not in
 * swimd: it holds at most METRICS_HTTP_CONNS_MAX, and serves the queue in
 * turn as the held ones time out. */
START_TEST(metrics_it_test_connection_cap)
{
    struct harness *h = harness_world();
    harness_start_node(h, 0, "127.0.0.1", with_metrics);
    struct harness_node *nd = &h->nodes[0];
    int port = it_metrics_port(nd);
    int base = harness_fd_count(nd->pid);

    enum { over = METRICS_HTTP_CONNS_MAX + 16 };
    int fds[over];
    int opened = it_open_idle(port, fds, over);
    ck_assert_int_eq(opened, over);
    /* A scrape behind them. */
    int fd = it_connect(port, IT_IDLE_CLOSE_MS + IT_HTTP_MS);
    const char *get = "GET /metrics HTTP/1.0\r\n\r\n";
    harness_send_all(fd, get, strlen(get));
    usleep(500 * 1000);
    int held = harness_fd_count(nd->pid) - base;
    printf("%d idle connections open, swimd holds %d more descriptors than before\n", opened, held);
    fflush(stdout);
    ck_assert_int_le(held, METRICS_HTTP_CONNS_MAX);
    ck_assert_int_ge(held, METRICS_HTTP_CONNS_MAX / 2);

    uint64_t t0 = clock_mono_ms();
    char *resp = it_read_all(fd, IT_IDLE_CLOSE_MS + IT_HTTP_MS);
    printf("the scrape behind them answered %d after %llu ms\n", it_status(resp),
           (unsigned long long)(clock_mono_ms() - t0));
    fflush(stdout);
    ck_assert_int_eq(it_status(resp), 200);
    free(resp);
    close(fd);
    it_close_all(fds, opened);
}
END_TEST

/* ---- bad addresses ----------------------------------------------------- */

START_TEST(metrics_it_test_bad_address)
{
    struct harness *h = harness_world();
    const char *malformed[] = {"--metrics", "no-port-here", NULL};
    ck_assert_int_eq(harness_start(h, 0, NULL, "127.0.0.1", malformed), -1);
    ck_assert(WIFEXITED(h->nodes[0].exit_status));
    ck_assert_int_eq(WEXITSTATUS(h->nodes[0].exit_status), 2);

    /* A port this test holds. */
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sin);
    ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(lfd, 1), 0);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);
    char taken[32];
    snprintf(taken, sizeof(taken), "127.0.0.1:%d", ntohs(sin.sin_port));
    const char *in_use[] = {"--metrics", taken, NULL};
    ck_assert_int_eq(harness_start(h, 1, NULL, "127.0.0.1", in_use), -1);
    close(lfd);
    ck_assert(WIFEXITED(h->nodes[1].exit_status));
    ck_assert_int_eq(WEXITSTATUS(h->nodes[1].exit_status), 1);
    ck_assert_int_eq(harness_count_in_file(h->nodes[1].log, "cannot listen"), 1);
}
END_TEST

/* ---- a real Prometheus --------------------------------------------------- */

/* A TCP port free on loopback right now. */
static int it_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sin);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd);
    return ntohs(sin.sin_port);
}

static int it_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

/* How many of the ports' instances the query answer shows with value
 * `want`. */
static int it_instances_with(const char *answer, const int *ports, size_t n, const char *want)
{
    json_t *root = json_loads(answer, 0, NULL);
    json_t *result = json_object_get(json_object_get(root, "data"), "result");
    int found = 0;
    size_t i;
    json_t *e;
    json_array_foreach(result, i, e)
    {
        const char *inst =
            json_string_value(json_object_get(json_object_get(e, "metric"), "instance"));
        const char *v = json_string_value(json_array_get(json_object_get(e, "value"), 1));
        for (size_t k = 0; inst != NULL && v != NULL && k < n; k++) {
            char target[32];
            snprintf(target, sizeof(target), "127.0.0.1:%d", ports[k]);
            found += strcmp(inst, target) == 0 && strcmp(v, want) == 0;
        }
    }
    json_decref(root);
    return found;
}

START_TEST(metrics_it_test_prometheus)
{
    if (!it_in_path("prometheus")) {
        printf("skip: prometheus not installed (Debian package prometheus, installed by "
               "scripts/lib/common.sh)\n");
        return;
    }
    struct harness *h = harness_world();
    harness_start_cluster(h, 3, "127.0.0.1", with_metrics);
    ck_assert(HARNESS_WAIT_UNTIL(harness_converged(h, 3, 3), HARNESS_CONVERGE_MS));
    int ports[3];
    for (int i = 0; i < 3; i++)
        ports[i] = it_metrics_port(&h->nodes[i]);

    char conf[HARNESS_PATH_MAX], log[HARNESS_PATH_MAX], text[1024];
    snprintf(conf, sizeof(conf), "%s/prometheus.yml", h->dir);
    snprintf(log, sizeof(log), "%s/prometheus.log", h->dir);
    snprintf(text, sizeof(text),
             "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
             "scrape_configs:\n  - job_name: swimd\n    static_configs:\n"
             "      - targets: ['127.0.0.1:%d', '127.0.0.1:%d', '127.0.0.1:%d']\n",
             ports[0], ports[1], ports[2]);
    harness_write_file(conf, text);
    char tsdb[] = "/tmp/swimd-it-tsdb-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(tsdb));
    int web = it_free_port();
    char a_conf[HARNESS_PATH_MAX + 16], a_tsdb[64], a_web[64];
    snprintf(a_conf, sizeof(a_conf), "--config.file=%s", conf);
    snprintf(a_tsdb, sizeof(a_tsdb), "--storage.tsdb.path=%s", tsdb);
    snprintf(a_web, sizeof(a_web), "--web.listen-address=127.0.0.1:%d", web);
    const char *argv[] = {"prometheus", a_conf, a_tsdb, a_web, "--log.level=warn", NULL};
    pid_t prom = it_spawn(argv, NULL, log);

    /* Ask until every instance reports 3 alive members. */
    const char *query = "/api/v1/query?query=swimd_members%7Bstatus%3D%22alive%22%7D";
    char *answer = NULL;
    int seen = 0;
    uint64_t t0 = clock_mono_ms();
    int early = -1; /* prometheus's status if it exited by itself (then reaped) */
    while (clock_mono_ms() - t0 < IT_PROMETHEUS_MS && seen < 3) {
        if (waitpid(prom, &early, WNOHANG) == prom)
            break;
        early = -1;
        usleep(500 * 1000);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)web)};
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int up = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
        close(fd);
        if (!up)
            continue;
        free(answer);
        char *resp = it_get(web, query);
        answer = strdup(it_body(resp));
        free(resp);
        seen = it_instances_with(answer, ports, 3, "3");
    }
    printf("prometheus: %d of 3 instances report 3 alive after %llu ms; answer: %s\n", seen,
           (unsigned long long)(clock_mono_ms() - t0), answer != NULL ? answer : "(none)");
    int prc = -1;
    if (early == -1) { /* still ours to signal */
        kill(prom, SIGTERM);
        prc = it_reap(prom, 10000);
    }
    nftw(tsdb, it_rm, 16, FTW_DEPTH | FTW_PHYS);
    char *plog = harness_slurp(log);
    ck_assert_msg(early == -1, "prometheus exited by itself (status %d): %.1500s", early, plog);
    ck_assert_msg(seen == 3, "prometheus saw %d of 3; answer %s; its log: %.1500s", seen,
                  answer != NULL ? answer : "(none)", plog);
    ck_assert_msg(prc == 0, "prometheus exited %d on SIGTERM: %.1500s", prc, plog);
    free(plog);
    free(answer);
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"endpoint", metrics_it_test_endpoint, 60},
        {"bad_address", metrics_it_test_bad_address, 30},
        {"prometheus", metrics_it_test_prometheus, 60},
        {"descriptors", metrics_it_test_descriptors, 60},
        {"connection_cap", metrics_it_test_connection_cap, 60},
    };
    return harness_run_cases("metrics_it", cases, sizeof(cases) / sizeof(cases[0]));
}
