/*
 * cli_test.c - swimctl (agent/cli.c): output formats, filters, usage and
 * connection errors and exit codes, --help for every command, and round
 * trips through a real control socket served by a forked child with canned
 * answers (members, leave, and run with CMD's exit status).
 */
#include <check.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cfg.h"
#include "cli.h"
#include "cli_int.h" /* cli_print_event */
#include "ctl.h"
#include "keyring.h"

/* Two fixed keys (base64 of 32 bytes). */
#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY_B "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

/* What the canned swimd answers to "metrics". */
static const char *metrics_text = "# HELP swimd_members Members.\n# TYPE swimd_members gauge\n"
                                  "swimd_members{status=\"alive\"} 3\n";

static const char *members_json =
    "[{\"name\":\"node-b\",\"addr\":\"127.0.0.1:7002\",\"status\":\"failed\",\"incarnation\":3,"
    "\"generation\":1,\"rtt_ms\":null,\"tags\":{}},"
    "{\"name\":\"a\",\"addr\":\"[::1]:7001\",\"status\":\"alive\",\"incarnation\":0,"
    "\"generation\":1,\"rtt_ms\":0.4,\"tags\":{\"role\":\"web\",\"dc\":\"eu\"}},"
    "{\"name\":\"longer-name-c\",\"addr\":\"10.0.0.3:7946\",\"status\":\"alive\","
    "\"incarnation\":1,\"generation\":2,\"rtt_ms\":40.0,\"tags\":{\"role\":\"db\"}}]";

static char *out_buf, *err_buf;
static size_t out_len, err_len;
static FILE *out, *err;

static void streams_open(void)
{
    out = open_memstream(&out_buf, &out_len);
    err = open_memstream(&err_buf, &err_len);
}

static void streams_close(void)
{
    fclose(out);
    fclose(err);
}

static void streams_free(void)
{
    free(out_buf);
    free(err_buf);
}

static void print_members(const struct cli_filter *f, int how)
{
    json_t *m = json_loads(members_json, 0, NULL);
    ck_assert_ptr_nonnull(m);
    streams_open();
    cli_print_members(out, m, f, how);
    streams_close();
    json_decref(m);
}

START_TEST(cli_test_members_table_aligned_and_sorted)
{
    print_members(NULL, 0);
    const char *want = "NAME           ADDRESS         STATUS  TAGS\n"
                       "a              [::1]:7001      alive   dc=eu,role=web\n"
                       "longer-name-c  10.0.0.3:7946   alive   role=db\n"
                       "node-b         127.0.0.1:7002  failed\n";
    ck_assert_str_eq(out_buf, want);
    streams_free();
}
END_TEST

/* --rtt: an RTT column before the tags, "-" while unknown; --json passes
 * rtt_ms through (null while unknown). */
START_TEST(cli_test_members_rtt_column_and_json)
{
    print_members(NULL, CLI_MEMBERS_RTT);
    const char *want = "NAME           ADDRESS         STATUS  RTT     TAGS\n"
                       "a              [::1]:7001      alive   0.4ms   dc=eu,role=web\n"
                       "longer-name-c  10.0.0.3:7946   alive   40.0ms  role=db\n"
                       "node-b         127.0.0.1:7002  failed  -\n";
    ck_assert_str_eq(out_buf, want);
    streams_free();
    print_members(NULL, CLI_MEMBERS_JSON | CLI_MEMBERS_RTT);
    json_t *arr = json_loads(out_buf, 0, NULL);
    ck_assert_ptr_nonnull(arr);
    ck_assert(json_real_value(json_object_get(json_array_get(arr, 0), "rtt_ms")) == 0.4);
    ck_assert(json_is_null(json_object_get(json_array_get(arr, 2), "rtt_ms")));
    json_decref(arr);
    streams_free();
}
END_TEST

START_TEST(cli_test_members_filtered_by_status_and_tag)
{
    struct cli_filter f = {"alive", 0, NULL};
    print_members(&f, 0);
    ck_assert_ptr_null(strstr(out_buf, "node-b"));
    ck_assert_ptr_nonnull(strstr(out_buf, "longer-name-c"));
    streams_free();
    const char *tags[] = {"role=web"};
    struct cli_filter g = {NULL, 1, tags};
    print_members(&g, 0);
    ck_assert_ptr_nonnull(strstr(out_buf, "\na "));
    ck_assert_ptr_null(strstr(out_buf, "longer-name-c"));
    streams_free();
}
END_TEST

START_TEST(cli_test_members_json_has_the_documented_fields)
{
    print_members(NULL, CLI_MEMBERS_JSON);
    json_t *arr = json_loads(out_buf, 0, NULL);
    ck_assert_ptr_nonnull(arr);
    ck_assert_uint_eq(json_array_size(arr), 3);
    json_t *first = json_array_get(arr, 0);
    ck_assert_str_eq(json_string_value(json_object_get(first, "name")), "a");
    ck_assert_str_eq(json_string_value(json_object_get(first, "addr")), "[::1]:7001");
    ck_assert_str_eq(json_string_value(json_object_get(first, "status")), "alive");
    ck_assert(json_is_integer(json_object_get(first, "incarnation")));
    ck_assert(json_is_real(json_object_get(first, "rtt_ms")));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(first, "tags"), "dc")),
                     "eu");
    ck_assert_ptr_null(json_object_get(first, "generation"));
    json_decref(arr);
    streams_free();
}
END_TEST

static int run(int argc, char **argv)
{
    streams_open();
    int rc = cli_main(argc, argv, out, err);
    streams_close();
    return rc;
}

START_TEST(cli_test_cannot_connect_reports_path_and_reason)
{
    char *argv[] = {"swimctl", "--socket", "/nonexistent/swimd.sock", "members", NULL};
    ck_assert_int_eq(run(4, argv), CLI_EXIT_CONNECT);
    ck_assert_str_eq(err_buf, "swimctl: cannot connect to swimd at /nonexistent/swimd.sock: No "
                              "such file or directory\n");
    streams_free();
    setenv("SWIM_SOCKET", "/nonexistent/env.sock", 1);
    char *argv2[] = {"swimctl", "info", NULL};
    ck_assert_int_eq(run(2, argv2), CLI_EXIT_CONNECT);
    ck_assert_ptr_nonnull(strstr(err_buf, "/nonexistent/env.sock"));
    streams_free();
}
END_TEST

START_TEST(cli_test_usage_errors_exit_2)
{
    char *cases[][4] = {
        {"swimctl", NULL},
        {"swimctl", "frobnicate", NULL},
        {"swimctl", "members", "--status", "zombie"},
        {"swimctl", "force-leave", NULL},
        {"swimctl", "join", NULL},
        {"swimctl", "tags", "set", "novalue"},
        {"swimctl", "info", "--yaml", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int argc = 0;
        while (argc < 4 && cases[i][argc] != NULL)
            argc++;
        ck_assert_int_eq(run(argc, cases[i]), CLI_EXIT_USAGE);
        ck_assert_ptr_nonnull(strstr(err_buf, "swimctl: "));
        streams_free();
    }
    char *help[] = {"swimctl", "--help", NULL};
    ck_assert_int_eq(run(2, help), CLI_EXIT_OK);
    ck_assert_ptr_nonnull(strstr(out_buf, "Exit codes"));
    streams_free();
}
END_TEST

START_TEST(cli_test_stream_commands_usage_errors_exit_2)
{
    char *cases[][7] = {
        {"swimctl", "watch", "--since", "x", NULL},
        {"swimctl", "watch", "--since", "-1", NULL},
        {"swimctl", "watch", "--follow", NULL},
        {"swimctl", "monitor", NULL},
        {"swimctl", "run", "--peer", "n1", "sleep", "1", NULL},
        {"swimctl", "run", "--peer", "n1", "--", NULL},
        {"swimctl", "run", "--", "true", NULL},
        {"swimctl", "run", "--peer", "n1", "--grace", "soon", "--"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int argc = 0;
        while (argc < 7 && cases[i][argc] != NULL)
            argc++;
        ck_assert_msg(run(argc, cases[i]) == CLI_EXIT_USAGE, "case %zu", i);
        ck_assert_ptr_nonnull(strstr(err_buf, "swimctl: "));
        streams_free();
    }
    /* Every exit code is in --help. */
    char *help[] = {"swimctl", "--help", NULL};
    ck_assert_int_eq(run(2, help), CLI_EXIT_OK);
    static const char *const codes[] = {"  4 ", "  10 ", "  11 ", "  12 ", "  127 ", "128+N"};
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        ck_assert_msg(strstr(out_buf, codes[i]) != NULL, "--help lacks \"%s\"", codes[i]);
    streams_free();
}
END_TEST

START_TEST(cli_test_stream_commands_cannot_connect_exit_3)
{
    char *w[] = {"swimctl", "--socket", "/nonexistent/s.sock", "watch", NULL};
    ck_assert_int_eq(run(4, w), CLI_EXIT_CONNECT);
    streams_free();
    char *m[] = {"swimctl", "--socket", "/nonexistent/s.sock", "monitor", "n1", NULL};
    ck_assert_int_eq(run(5, m), CLI_EXIT_CONNECT);
    streams_free();
    char *r[] = {"swimctl", "--socket", "/nonexistent/s.sock", "run", "--peer", "n1", "--",
                 "true",    NULL};
    ck_assert_int_eq(run(8, r), CLI_EXIT_CONNECT);
    ck_assert_ptr_nonnull(strstr(err_buf, "cannot connect"));
    streams_free();
}
END_TEST

START_TEST(cli_test_keygen_prints_a_loadable_key)
{
    char *argv[] = {"swimctl", "keygen", NULL};
    ck_assert_int_eq(run(2, argv), CLI_EXIT_OK);
    ck_assert_uint_eq(strlen(out_buf), 45);
    struct keyring *kr = keyring_new();
    ck_assert_int_eq(keyring_add_base64(kr, out_buf), 0);
    keyring_delete(kr);
    streams_free();
}
END_TEST

/* ---- round trip through a real socket ---------------------------------------- */

/* members_json as a swimd answers a request for `fields` (NULL: all), and
 * the fields asked for written to DIR/fields ("none" without any). */
static json_t *canned_members(const char *dir, json_t *fields)
{
    char path[64];
    snprintf(path, sizeof(path), "%s/fields", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    if (fields != NULL)
        json_dumpf(fields, f, JSON_COMPACT | JSON_ENCODE_ANY);
    else
        fputs("none", f);
    fclose(f);
    json_t *all = json_loads(members_json, 0, NULL), *m, *v;
    size_t i, j;
    if (fields != NULL) {
        json_array_foreach(all, i, m)
        {
            json_t *keep = json_object();
            json_array_foreach(fields, j, v)
            {
                json_t *got = json_object_get(m, json_string_value(v));
                if (got != NULL)
                    json_object_set(keep, json_string_value(v), got);
            }
            json_array_set_new(all, i, keep);
        }
    }
    return json_pack("{s:o}", "members", all);
}

static json_t *canned(void *ctx, struct ctl_conn *conn, const char *cmd, json_t *req, char *e)
{
    (void)conn;
    if (strcmp(cmd, "members") == 0)
        return canned_members(ctx, json_object_get(req, "fields"));
    if (strcmp(cmd, "monitor") == 0)
        return json_object(); /* linked; no member ever fails here */
    if (strcmp(cmd, "metrics") == 0)
        return json_pack("{s:s}", "text", metrics_text);
    if (strcmp(cmd, "event") == 0) { /* say what arrived */
        const char *hex = json_string_value(json_object_get(req, "payload_hex"));
        snprintf(e, CTL_ERR_MAX, "event payload_hex=%s", hex != NULL ? hex : "(none)");
        return NULL;
    }
    snprintf(e, CTL_ERR_MAX, "no %s here", cmd);
    return NULL;
}

/* A control socket in a fresh directory, served with canned answers by a
 * forked child; serve_stop() ends it and removes both. */
struct server {
    char dir[32];
    char path[128];
    pid_t pid;
};

static void serve_start(struct server *sv)
{
    snprintf(sv->dir, sizeof(sv->dir), "/tmp/cli_test_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(sv->dir));
    snprintf(sv->path, sizeof(sv->path), "%s/s.sock", sv->dir);
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    sv->pid = fork();
    ck_assert_int_ge(sv->pid, 0);
    if (sv->pid == 0) {
        signal(SIGPIPE, SIG_IGN); /* as swimd does: see ctl.h */
        struct event_base *b = event_base_new();
        int rc;
        struct ctl *c = ctl_new(b, sv->path, 0600, canned, sv->dir, NULL, &rc);
        char one = c != NULL ? 1 : 0;
        ssize_t w = write(ready[1], &one, 1);
        (void)w;
        struct timeval limit = {20, 0}; /* never outlive the test */
        event_base_loopexit(b, &limit);
        event_base_dispatch(b);
        ctl_delete(c);
        event_base_free(b);
        _exit(0);
    }
    char one = 0;
    ck_assert_int_eq(read(ready[0], &one, 1), 1);
    ck_assert_int_eq(one, 1);
    close(ready[0]);
    close(ready[1]);
}

static void serve_stop(struct server *sv)
{
    char lock[160], fields[64];
    kill(sv->pid, SIGKILL);
    waitpid(sv->pid, NULL, 0);
    unlink(sv->path);
    snprintf(fields, sizeof(fields), "%s/fields", sv->dir);
    unlink(fields);
    snprintf(lock, sizeof(lock), "%s" CTL_LOCK_SUFFIX, sv->path);
    unlink(lock);
    rmdir(sv->dir);
}

/* metrics is printed as swimd sent it, byte for byte. */
START_TEST(cli_test_metrics_prints_the_text)
{
    struct server sv;
    serve_start(&sv);
    char *argv[] = {"swimctl", "--socket", sv.path, "metrics", NULL};
    int rc = run(4, argv);
    ck_assert_int_eq(rc, CLI_EXIT_OK);
    ck_assert_str_eq(out_buf, metrics_text);
    ck_assert_str_eq(err_buf, "");
    streams_free();
    char *extra[] = {"swimctl", "--socket", sv.path, "metrics", "now", NULL};
    rc = run(5, extra);
    serve_stop(&sv);
    ck_assert_int_eq(rc, CLI_EXIT_USAGE);
    ck_assert_ptr_nonnull(strstr(err_buf, "metrics takes no argument"));
    streams_free();
}
END_TEST

/* Without --socket: $SWIM_SOCKET, else the service's socket when it is
 * one, else the default. */
START_TEST(cli_test_default_socket_env_then_service)
{
    unsetenv("SWIM_SOCKET");
    ck_assert_str_eq(cli_default_socket("/nonexistent/swimd.sock"), CFG_DEFAULT_SOCKET);
    struct server sv;
    serve_start(&sv);
    ck_assert_str_eq(cli_default_socket(sv.path), sv.path);
    setenv("SWIM_SOCKET", "", 1); /* empty: as if unset */
    ck_assert_str_eq(cli_default_socket(sv.path), sv.path);
    setenv("SWIM_SOCKET", "/from/env.sock", 1);
    ck_assert_str_eq(cli_default_socket(sv.path), "/from/env.sock");
    unsetenv("SWIM_SOCKET");
    serve_stop(&sv);
    char file[] = "/tmp/cli_test_file_XXXXXX"; /* a file, not a socket */
    int fd = mkstemp(file);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_str_eq(cli_default_socket(file), CFG_DEFAULT_SOCKET);
    unlink(file);
}
END_TEST

START_TEST(cli_test_round_trip_through_socket)
{
    struct server sv;
    serve_start(&sv);
    char *argv[] = {"swimctl", "--socket", sv.path, "members", "--status", "alive", "--rtt", NULL};
    int rc = run(7, argv);
    ck_assert_ptr_nonnull(strstr(out_buf, "40.0ms"));
    char *argv2[] = {"swimctl", "--socket", sv.path, "leave", NULL};
    streams_free();
    ck_assert_int_eq(rc, CLI_EXIT_OK);
    rc = run(4, argv2);
    serve_stop(&sv);
    ck_assert_int_eq(rc, CLI_EXIT_FAILED);
    ck_assert_str_eq(err_buf, "swimctl: no leave here\n");
    streams_free();
}
END_TEST

/* The table asks swimd only for the fields it prints and filters on
 * (rtt_ms too with --rtt), so the coordinates stay home; --json asks for
 * every field.  Each prints what it prints from the whole reply. */
START_TEST(cli_test_members_asks_only_for_what_it_prints)
{
    static const struct {
        const char *opt;
        int how;
        const char *fields;
    } cases[] = {
        {NULL, 0, "[\"name\",\"addr\",\"status\",\"tags\"]"},
        {"--rtt", CLI_MEMBERS_RTT, "[\"name\",\"addr\",\"status\",\"tags\",\"rtt_ms\"]"},
        {"--json", CLI_MEMBERS_JSON, "none"},
    };
    struct server sv;
    serve_start(&sv);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_members(NULL, cases[i].how);
        char *want = strdup(out_buf);
        streams_free();
        char *argv[] = {"swimctl", "--socket", sv.path, "members", (char *)cases[i].opt, NULL};
        int rc = run(cases[i].opt != NULL ? 5 : 4, argv);
        ck_assert_int_eq(rc, CLI_EXIT_OK);
        ck_assert_str_eq(out_buf, want);
        free(want);
        streams_free();
        char path[64], asked[128] = "";
        snprintf(path, sizeof(path), "%s/fields", sv.dir);
        FILE *f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        size_t n = fread(asked, 1, sizeof(asked) - 1, f);
        fclose(f);
        asked[n] = '\0';
        ck_assert_str_eq(asked, cases[i].fields);
    }
    serve_stop(&sv);
}
END_TEST

/* run passes CMD's own status on (128+N for signal N), and says when CMD
 * cannot be executed (127); --socket may also follow the command. */
START_TEST(cli_test_run_exits_with_cmd_status)
{
    struct server sv;
    serve_start(&sv);
    char *exit7[] = {"swimctl", "--socket", sv.path, "run",    "--peer", "n1",
                     "--",      "sh",       "-c",    "exit 7", NULL};
    ck_assert_int_eq(run(10, exit7), 7);
    streams_free();
    char *killed[] = {"swimctl", "run", "--socket", sv.path, "--peer",     "n1",
                      "n2",      "--",  "sh",       "-c",    "kill -9 $$", NULL};
    ck_assert_int_eq(run(11, killed), 128 + SIGKILL);
    streams_free();
    char *missing[] = {"swimctl", "--socket", sv.path, "run", "--peer",
                       "n1",      "--grace",  "1",     "--",  "/nonexistent/cmd",
                       NULL};
    int rc = run(10, missing);
    serve_stop(&sv);
    ck_assert_int_eq(rc, CLI_EXIT_EXEC);
    ck_assert_ptr_nonnull(strstr(err_buf, "cannot run /nonexistent/cmd"));
    streams_free();
}
END_TEST

/* Every command answers --help with its own usage, exit 0. */
START_TEST(cli_test_every_command_has_help)
{
    static const char *const cmds[] = {"members", "join",  "leave",   "force-leave",
                                       "info",    "tags",  "event",   "keygen",
                                       "metrics", "watch", "monitor", "run"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        char *argv[] = {"swimctl", (char *)cmds[i], "--help", NULL};
        char want[64];
        snprintf(want, sizeof(want), "usage: swimctl [--socket PATH] %s", cmds[i]);
        ck_assert_msg(run(3, argv) == CLI_EXIT_OK, "%s --help", cmds[i]);
        ck_assert_msg(strstr(out_buf, want) != NULL, "%s --help printed %s", cmds[i], out_buf);
        streams_free();
    }
    char *version[] = {"swimctl", "--version", NULL};
    ck_assert_int_eq(run(2, version), CLI_EXIT_OK);
    ck_assert_ptr_nonnull(strstr(out_buf, "swimctl "));
    streams_free();
}
END_TEST

/* Names and tags from peers are escaped in the table, and the columns are
 * aligned by display width: é as e + a combining accent is one column,
 * 東京 four. */
START_TEST(cli_test_table_escapes_and_aligns_by_width)
{
    json_t *m = json_loads("[{\"name\":\"\\u6771\\u4eac\",\"addr\":\"1.2.3.4:1\",\"status\":"
                           "\"alive\",\"tags\":{}},"
                           "{\"name\":\"e\\u0301vil\\u001b[2J\",\"addr\":\"5.6.7.8:2\",\"status\":"
                           "\"alive\",\"tags\":{\"k\":\"v\\nw\"}}]",
                           0, NULL);
    ck_assert_ptr_nonnull(m);
    streams_open();
    cli_print_members(out, m, NULL, 0);
    streams_close();
    json_decref(m);
    const char *want = "NAME         ADDRESS    STATUS  TAGS\n"
                       "e\xcc\x81vil\\x1b[2J  5.6.7.8:2  alive   k=v\\x0aw\n"
                       "\xe6\x9d\xb1\xe4\xba\xac         1.2.3.4:1  alive\n";
    ck_assert_str_eq(out_buf, want);
    streams_free();
    /* watch rows too. */
    json_t *ev = json_loads("{\"seq\":1,\"type\":\"user\",\"time\":0,\"name\":\"d\\u001b]0;x\","
                            "\"origin\":\"n1\",\"payload\":\"a\\nb\"}",
                            0, NULL);
    streams_open();
    cli_print_event(out, ev);
    streams_close();
    json_decref(ev);
    ck_assert_ptr_null(strchr(out_buf, '\x1b'));
    ck_assert_ptr_nonnull(strstr(out_buf, "event=d\\x1b]0;x payload=a\\x0ab\n"));
    streams_free();
    /* A query's row names it as a query, with its origin. */
    ev = json_loads("{\"seq\":2,\"type\":\"query\",\"time\":0,\"name\":\"echo\","
                    "\"origin\":\"n4\",\"id\":9,\"payload\":\"hi\\u0007\"}",
                    0, NULL);
    streams_open();
    cli_print_event(out, ev);
    streams_close();
    json_decref(ev);
    ck_assert_ptr_nonnull(strstr(out_buf, "query"));
    ck_assert_ptr_nonnull(strstr(out_buf, "n4"));
    ck_assert_ptr_nonnull(strstr(out_buf, "query=echo payload=hi\\x07\n"));
    streams_free();
}
END_TEST

/* What cannot go into a JSON request is a usage error, not "out of
 * memory"; a payload that is not UTF-8 goes as payload_hex. */
START_TEST(cli_test_arguments_that_json_cannot_carry)
{
    char *cases[][6] = {
        {"swimctl", "--socket", "/nonexistent.sock", "event", "\xff", "x"},
        {"swimctl", "--socket", "/nonexistent.sock", "event", "a\nb", "x"},
        {"swimctl", "--socket", "/nonexistent.sock", "force-leave", "\xfe", NULL},
        {"swimctl", "--socket", "/nonexistent.sock", "tags", "delete", "\xc3"},
        {"swimctl", "--socket", "/nonexistent.sock", "watch", "--since", "18446744073709551615"},
        {"swimctl", "--socket", "/nonexistent.sock", "watch", "--since", "9223372036854775808"},
        {"swimctl", "--socket", "/nonexistent.sock", "monitor", "\xff", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int argc = cases[i][5] != NULL ? 6 : 5;
        ck_assert_msg(run(argc, cases[i]) == CLI_EXIT_USAGE, "case %zu: %s", i, err_buf);
        ck_assert_ptr_null(strstr(err_buf, "out of memory"));
        streams_free();
    }
    struct server sv;
    serve_start(&sv);
    char *bin[] = {"swimctl", "--socket", sv.path, "event", "deploy", "\xff\x01", NULL};
    int rc = run(6, bin);
    serve_stop(&sv);
    ck_assert_int_eq(rc, CLI_EXIT_FAILED);
    ck_assert_str_eq(err_buf, "swimctl: event payload_hex=ff01\n");
    streams_free();
}
END_TEST

/* keys: the table of a list (escaped; n/total per key), the summary, one
 * line per failed node; --json is the reply as one line without "ok". */
START_TEST(cli_test_keys_report_and_failures)
{
    json_t *reply =
        json_loads("{\"ok\":true,\"op\":\"list\",\"nodes\":3,\"succeeded\":2,"
                   "\"failed\":[{\"node\":\"n\\u001b3\",\"error\":\"no response\"}],"
                   "\"keys\":{\"" KEY_B "\":2,\"" KEY_A "\":1},\"primary\":{\"" KEY_B "\":2}}",
                   0, NULL);
    ck_assert_ptr_nonnull(reply);
    streams_open();
    cli_print_keys(out, reply, 0);
    streams_close();
    const char *want = "KEY                                           NODES      PRIMARY\n" KEY_B
                       "  2/3        2/3\n" KEY_A "  1/3        0/3\n"
                       "keys list: 2 of 3 node(s) ok, 1 failed\n"
                       "  failed n\\x1b3: no response\n";
    ck_assert_str_eq(out_buf, want);
    streams_free();
    streams_open();
    cli_print_keys(out, reply, 1);
    streams_close();
    json_t *back = json_loads(out_buf, 0, NULL);
    ck_assert_ptr_nonnull(back);
    ck_assert_ptr_null(json_object_get(back, "ok"));
    ck_assert_int_eq(json_integer_value(json_object_get(back, "succeeded")), 2);
    ck_assert_ptr_nonnull(strchr(out_buf, '\n'));
    ck_assert_ptr_eq(strchr(out_buf, '\n'), out_buf + strlen(out_buf) - 1); /* one line */
    json_decref(back);
    json_decref(reply);
    streams_free();
}
END_TEST

/* keys checks its operation and key before asking swimd. */
START_TEST(cli_test_keys_usage)
{
    char *cases[][6] = {
        {"swimctl", "--socket", "/nonexistent.sock", "keys", NULL, NULL},
        {"swimctl", "--socket", "/nonexistent.sock", "keys", "rotate", NULL},
        {"swimctl", "--socket", "/nonexistent.sock", "keys", "list", KEY_A},
        {"swimctl", "--socket", "/nonexistent.sock", "keys", "install", NULL},
        {"swimctl", "--socket", "/nonexistent.sock", "keys", "use", "bm90IGEga2V5"},
        {"swimctl", "--socket", "/nonexistent.sock", "keys", "remove", "***"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int argc = cases[i][4] == NULL ? 4 : cases[i][5] == NULL ? 5 : 6;
        ck_assert_msg(run(argc, cases[i]) == CLI_EXIT_USAGE, "case %zu: %s", i, err_buf);
        streams_free();
    }
    char *ok[] = {"swimctl", "--socket", "/nonexistent.sock", "keys", "--local", "install", KEY_A};
    ck_assert_int_eq(run(7, ok), CLI_EXIT_CONNECT); /* valid: it got as far as connecting */
    streams_free();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, cli_test_members_table_aligned_and_sorted);
    tcase_add_test(tc, cli_test_members_filtered_by_status_and_tag);
    tcase_add_test(tc, cli_test_members_json_has_the_documented_fields);
    tcase_add_test(tc, cli_test_members_rtt_column_and_json);
    tcase_add_test(tc, cli_test_members_asks_only_for_what_it_prints);
    tcase_add_test(tc, cli_test_cannot_connect_reports_path_and_reason);
    tcase_add_test(tc, cli_test_usage_errors_exit_2);
    tcase_add_test(tc, cli_test_keygen_prints_a_loadable_key);
    tcase_add_test(tc, cli_test_round_trip_through_socket);
    tcase_add_test(tc, cli_test_stream_commands_usage_errors_exit_2);
    tcase_add_test(tc, cli_test_stream_commands_cannot_connect_exit_3);
    tcase_add_test(tc, cli_test_run_exits_with_cmd_status);
    tcase_add_test(tc, cli_test_every_command_has_help);
    tcase_add_test(tc, cli_test_table_escapes_and_aligns_by_width);
    tcase_add_test(tc, cli_test_arguments_that_json_cannot_carry);
    tcase_add_test(tc, cli_test_metrics_prints_the_text);
    tcase_add_test(tc, cli_test_keys_report_and_failures);
    tcase_add_test(tc, cli_test_keys_usage);
    tcase_add_test(tc, cli_test_default_socket_env_then_service);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
