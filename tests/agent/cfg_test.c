/*
 * cfg_test.c - swimd's flags and JSON config (agent/cfg.c): defaults, every
 * kind of bad value gives ERR_INVAL and a message naming it, and flags
 * override the file.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"

#include "cfg.h"
#include "err.h"
#include "tags.h"

static struct cfg c;
static char err[CFG_ERR_MAX];
static enum cfg_action action;
static char json_path[64];

static void setup(void)
{
    memset(&c, 0, sizeof(c));
    err[0] = '\0';
    snprintf(json_path, sizeof(json_path), "/tmp/cfg_test_XXXXXX");
    int fd = mkstemp(json_path);
    ck_assert_int_ge(fd, 0);
    close(fd);
}

static void teardown(void)
{
    unlink(json_path);
}

static void write_json(const char *text)
{
    FILE *f = fopen(json_path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

#define PARSE(...)                                                                                 \
    ({                                                                                             \
        char *argv_[] = {"swimd", __VA_ARGS__, NULL};                                              \
        cfg_parse_args(&c, (int)(sizeof(argv_) / sizeof(argv_[0])) - 1, argv_, &action, err,       \
                       sizeof(err));                                                               \
    })

/* The value of tag `key`, or NULL. */
static const char *tag(const char *key)
{
    static char v[TAGS_VALUE_MAX + 1];
    struct tags *t = tags_new();
    tags_load(t, c.tags, c.tags_len);
    const char *found = NULL;
    struct tags_pair p;
    for (size_t i = 0; tags_at(t, i, &p) == 0; i++) {
        if (p.klen == strlen(key) && memcmp(p.key, key, p.klen) == 0) {
            memcpy(v, p.value, p.vlen);
            v[p.vlen] = '\0';
            found = v;
        }
    }
    tags_delete(t);
    return found;
}

START_TEST(cfg_test_defaults)
{
    char *argv[] = {"swimd", NULL};
    ck_assert_int_eq(cfg_parse_args(&c, 1, argv, &action, err, sizeof(err)), 0);
    ck_assert_int_eq(action, CFG_RUN);
    ck_assert_str_eq(c.bind, "0.0.0.0:7946");
    ck_assert_str_eq(c.profile, "lan");
    ck_assert_str_eq(c.socket_path, CFG_DEFAULT_SOCKET);
    ck_assert_uint_eq(c.socket_mode, 0600);
    ck_assert_int_eq(c.log_level, LOG_INFO);
    ck_assert_uint_eq(c.join_count, 0);
    ck_assert_uint_gt(strlen(c.name), 0); /* the hostname */
    ck_assert_str_eq(c.keyring, "");
}
END_TEST

START_TEST(cfg_test_flags_parsed_in_both_forms)
{
    ck_assert_int_eq(PARSE("--name", "n1", "--bind=127.0.0.1:0", "--advertise", "[::1]:7000",
                           "--profile=local", "--keyring", "/k", "--label", "prod",
                           "--socket=/tmp/s.sock", "--socket-mode", "0660", "--log-level", "debug",
                           "--tag", "role=web", "--tag=dc=eu"),
                     0);
    ck_assert_str_eq(c.name, "n1");
    ck_assert_str_eq(c.bind, "127.0.0.1:0");
    ck_assert_str_eq(c.advertise, "[::1]:7000");
    ck_assert_str_eq(c.profile, "local");
    ck_assert_str_eq(c.keyring, "/k");
    ck_assert_str_eq(c.label, "prod");
    ck_assert_str_eq(c.socket_path, "/tmp/s.sock");
    ck_assert_uint_eq(c.socket_mode, 0660);
    ck_assert_int_eq(c.log_level, LOG_DEBUG);
    ck_assert_str_eq(tag("role"), "web");
    ck_assert_str_eq(tag("dc"), "eu");
}
END_TEST

START_TEST(cfg_test_join_repeatable_and_bounded)
{
    ck_assert_int_eq(PARSE("--join", "10.0.0.1", "--join", "[::1]:7001", "--join", "seed:9"), 0);
    ck_assert_uint_eq(c.join_count, 3);
    ck_assert_str_eq(c.join[1], "[::1]:7001");
    char *argv[2 + 2 * (CFG_JOIN_MAX + 1)];
    int argc = 0;
    argv[argc++] = "swimd";
    for (int i = 0; i <= CFG_JOIN_MAX; i++) {
        argv[argc++] = "--join";
        argv[argc++] = "10.0.0.1:1";
    }
    argv[argc] = NULL;
    ck_assert_int_eq(cfg_parse_args(&c, argc, argv, &action, err, sizeof(err)), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "--join"));
}
END_TEST

START_TEST(cfg_test_unknown_flag_rejected)
{
    ck_assert_int_eq(PARSE("--nmae", "x"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "unknown flag --nmae"));
    ck_assert_int_eq(PARSE("stray"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "unexpected argument"));
}
END_TEST

START_TEST(cfg_test_missing_value_rejected)
{
    ck_assert_int_eq(PARSE("--name"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "--name: missing value"));
}
END_TEST

START_TEST(cfg_test_bad_addresses_rejected)
{
    ck_assert_int_eq(PARSE("--bind", "127.0.0.1:99999"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "--bind"));
    ck_assert_int_eq(PARSE("--bind", "::1:7946"), ERR_INVAL);      /* needs brackets */
    ck_assert_int_eq(PARSE("--advertise", "10.0.0.1"), ERR_INVAL); /* needs a port */
    ck_assert_int_eq(PARSE("--advertise", "10.0.0.1:0"), ERR_INVAL);
    ck_assert_int_eq(PARSE("--join", "host:port"), ERR_INVAL);
    ck_assert_int_eq(PARSE("--bind", "[::1]:7946"), 0);
}
END_TEST

START_TEST(cfg_test_bad_values_rejected)
{
    ck_assert_int_eq(PARSE("--profile", "fast"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "lan, wan or local"));
    ck_assert_int_eq(PARSE("--log-level", "loud"), ERR_INVAL);
    ck_assert_int_eq(PARSE("--tag", "novalue"), ERR_INVAL);
    ck_assert_int_eq(PARSE("--tag", "a,b=c"), ERR_INVAL);
    ck_assert_int_eq(PARSE("--name", ""), ERR_INVAL);
    ck_assert_int_eq(PARSE("--name", "x23456789012345678901234567890123456789012345678901234567890"
                                     "12345"),
                     ERR_INVAL);
    ck_assert_int_eq(PARSE("--socket-mode", "0644x"), ERR_INVAL);
    ck_assert_int_eq(PARSE("--socket-mode", "0400"), ERR_INVAL); /* owner cannot connect */
    char longpath[200];
    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    ck_assert_int_eq(PARSE("--socket", longpath), ERR_INVAL);
}
END_TEST

START_TEST(cfg_test_log_format_flag_and_file_key)
{
    ck_assert_int_eq(PARSE("--name", "n1"), 0);
    ck_assert_int_eq(c.log_format, LOG_FORMAT_TEXT); /* the default */
    ck_assert_int_eq(PARSE("--log-format", "json"), 0);
    ck_assert_int_eq(c.log_format, LOG_FORMAT_JSON);
    write_json("{\"log_format\": \"json\"}");
    ck_assert_int_eq(PARSE("--config", json_path), 0);
    ck_assert_int_eq(c.log_format, LOG_FORMAT_JSON);
    ck_assert_int_eq(PARSE("--config", json_path, "--log-format=text"), 0);
    ck_assert_int_eq(c.log_format, LOG_FORMAT_TEXT); /* the flag wins */
    ck_assert_int_eq(PARSE("--log-format", "xml"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "--log-format"));
    ck_assert_ptr_nonnull(strstr(err, "text or json"));
    write_json("{\"log_format\": 1}");
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "log_format"));
}
END_TEST

START_TEST(cfg_test_metrics_flag_and_file_key)
{
    ck_assert_int_eq(PARSE("--name", "n1"), 0);
    ck_assert_str_eq(c.metrics, ""); /* off by default */
    ck_assert_int_eq(PARSE("--metrics", "127.0.0.1:9946"), 0);
    ck_assert_str_eq(c.metrics, "127.0.0.1:9946");
    ck_assert_int_eq(PARSE("--metrics=[::1]:0"), 0);
    ck_assert_str_eq(c.metrics, "[::1]:0");
    write_json("{\"metrics\": \"localhost:9946\"}");
    ck_assert_int_eq(PARSE("--config", json_path), 0);
    ck_assert_str_eq(c.metrics, "localhost:9946");
    ck_assert_int_eq(PARSE("--config", json_path, "--metrics", "0.0.0.0:9100"), 0);
    ck_assert_str_eq(c.metrics, "0.0.0.0:9100"); /* the flag wins */
    char *bad[] = {"localhost", "127.0.0.1:", "127.0.0.1:70000", "::1:9946", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(PARSE("--metrics", bad[i]) == ERR_INVAL, "\"%s\" accepted", bad[i]);
        ck_assert_ptr_nonnull(strstr(err, "--metrics"));
        ck_assert_ptr_nonnull(strstr(err, "HOST:PORT"));
    }
    write_json("{\"metrics\": 9946}");
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "metrics"));
}
END_TEST

START_TEST(cfg_test_help_and_version_actions)
{
    ck_assert_int_eq(PARSE("--bogus", "--help"), 0);
    ck_assert_int_eq(action, CFG_HELP);
    ck_assert_int_eq(PARSE("--version"), 0);
    ck_assert_int_eq(action, CFG_VERSION);
}
END_TEST

START_TEST(cfg_test_json_loaded)
{
    write_json("{\"name\": \"j1\", \"bind\": \"127.0.0.1:7001\", \"join\": [\"127.0.0.1:7002\", "
               "\"[::1]:7003\"], \"profile\": \"wan\", \"label\": \"L\", \"tags\": {\"b\": \"2\", "
               "\"a\": \"1\"}, \"socket\": \"/tmp/j.sock\", \"socket_mode\": \"0660\", "
               "\"log_level\": \"warn\", \"keyring\": \"/etc/k\"}");
    ck_assert_int_eq(PARSE("--config", json_path), 0);
    ck_assert_str_eq(c.name, "j1");
    ck_assert_str_eq(c.bind, "127.0.0.1:7001");
    ck_assert_uint_eq(c.join_count, 2);
    ck_assert_str_eq(c.profile, "wan");
    ck_assert_str_eq(c.label, "L");
    ck_assert_str_eq(tag("a"), "1");
    ck_assert_str_eq(tag("b"), "2");
    ck_assert_uint_eq(c.socket_mode, 0660);
    ck_assert_int_eq(c.log_level, LOG_WARN);
    ck_assert_str_eq(c.keyring, "/etc/k");
}
END_TEST

START_TEST(cfg_test_flags_override_json)
{
    write_json("{\"name\": \"j1\", \"bind\": \"127.0.0.1:7001\", \"join\": [\"127.0.0.1:7002\"], "
               "\"tags\": {\"role\": \"db\", \"dc\": \"eu\"}}");
    ck_assert_int_eq(PARSE("--name", "flag", "--config", json_path, "--join", "127.0.0.1:9",
                           "--tag", "role=web"),
                     0);
    ck_assert_str_eq(c.name, "flag");
    ck_assert_str_eq(c.bind, "127.0.0.1:7001");
    ck_assert_uint_eq(c.join_count, 1);
    ck_assert_str_eq(c.join[0], "127.0.0.1:9");
    ck_assert_str_eq(tag("role"), "web");
    ck_assert_str_eq(tag("dc"), "eu");
}
END_TEST

START_TEST(cfg_test_json_syntax_error_names_line)
{
    write_json("{\n  \"name\": \"x\",\n  \"bind\" \"oops\"\n}\n");
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, json_path));
    ck_assert_ptr_nonnull(strstr(err, "line 3"));
}
END_TEST

START_TEST(cfg_test_json_unknown_key_rejected)
{
    write_json("{\"nmae\": \"x\"}");
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "nmae: unknown setting"));
}
END_TEST

START_TEST(cfg_test_json_wrong_types_rejected)
{
    write_json("{\"bind\": 7946}");
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "expected a string"));
    write_json("{\"join\": \"127.0.0.1:1\"}");
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
    write_json("{\"tags\": {\"k\": 1}}");
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
    write_json("{\"tags\": {\"a=b\": \"c\"}}");
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
    write_json("[1, 2]");
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
    write_json("{\"name\": \"a\", \"name\": \"b\"}");
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
}
END_TEST

START_TEST(cfg_test_missing_config_file_rejected)
{
    ck_assert_int_eq(PARSE("--config", "/nonexistent/swimd.json"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/swimd.json"));
}
END_TEST

START_TEST(cfg_test_event_defaults)
{
    ck_assert_int_eq(PARSE("--name", "a"), 0);
    ck_assert_uint_eq(c.handler_count, 0);
    ck_assert_uint_eq(c.handler_timeout_ms, CFG_HANDLER_TIMEOUT_DEFAULT_MS);
    ck_assert_uint_eq(c.event_history, CFG_EVENT_HISTORY_DEFAULT);
    ck_assert_uint_eq(c.watch_queue, CFG_WATCH_QUEUE_DEFAULT);
    ck_assert_str_eq(c.snapshot, "");
}
END_TEST

START_TEST(cfg_test_event_handler_repeatable_raw_and_bounded)
{
    ck_assert_int_eq(PARSE("--event-handler", "member-join=./a.sh x=1", "--event-handler=./b.sh"),
                     0);
    ck_assert_uint_eq(c.handler_count, 2);
    ck_assert_str_eq(c.handlers[0], "member-join=./a.sh x=1"); /* kept as text */
    ck_assert_str_eq(c.handlers[1], "./b.sh");
    ck_assert_int_eq(PARSE("--event-handler", ""), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "--event-handler"));
    char *argv[2 + 2 * (CFG_HANDLERS_MAX + 1)];
    int argc = 0;
    argv[argc++] = "swimd";
    for (int i = 0; i <= CFG_HANDLERS_MAX; i++) {
        argv[argc++] = "--event-handler";
        argv[argc++] = "./h.sh";
    }
    argv[argc] = NULL;
    ck_assert_int_eq(cfg_parse_args(&c, argc, argv, &action, err, sizeof(err)), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "at most"));
    static char big[CFG_HANDLER_MAX + 8];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(PARSE("--event-handler", big), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "bytes"));
}
END_TEST

/* A handler spec is checked where it is given (evtype.h): the message names
 * the flag or the file's key, and what is wrong. */
START_TEST(cfg_test_event_handler_spec_checked_where_given)
{
    ck_assert_int_eq(PARSE("--event-handler", "member-jion=./x.sh"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "--event-handler"));
    ck_assert_ptr_nonnull(strstr(err, "member-jion"));
    ck_assert_int_eq(PARSE("--event-handler", "self-active=./x.sh"), ERR_INVAL);
    ck_assert_int_eq(PARSE("--event-handler", "member-join= "), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "empty command"));
    write_json("{\"event_handlers\": [\"./ok.sh\", \"user:=./x.sh\"]}");
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "event_handlers"));
    ck_assert_ptr_nonnull(strstr(err, "user:"));
    ck_assert_int_eq(PARSE("--event-handler", "FOO=1 ./x.sh"), 0); /* a command, not types */
    ck_assert_str_eq(c.handlers[0], "FOO=1 ./x.sh");
}
END_TEST

START_TEST(cfg_test_event_numbers_parsed_and_checked)
{
    ck_assert_int_eq(PARSE("--handler-timeout", "1500", "--event-history=100", "--watch-queue",
                           "16", "--snapshot", "/var/lib/swimd/snap.json"),
                     0);
    ck_assert_uint_eq(c.handler_timeout_ms, 1500);
    ck_assert_uint_eq(c.event_history, 100);
    ck_assert_uint_eq(c.watch_queue, 16);
    ck_assert_str_eq(c.snapshot, "/var/lib/swimd/snap.json");
    static const char *const bad[][2] = {
        {"--handler-timeout", "0"},   {"--handler-timeout", "-5"}, {"--handler-timeout", "1s"},
        {"--event-history", "65537"}, {"--event-history", "8"},    {"--event-history", ""},
        {"--watch-queue", "15"},      {"--watch-queue", "x"},      {"--snapshot", ""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_msg(PARSE((char *)bad[i][0], (char *)bad[i][1]) == ERR_INVAL, "%s %s accepted",
                      bad[i][0], bad[i][1]);
        ck_assert_msg(strstr(err, bad[i][0]) != NULL, "message \"%s\" lacks %s", err, bad[i][0]);
    }
    ck_assert_int_eq(PARSE("--event-history", "65536"), 0);
}
END_TEST

START_TEST(cfg_test_json_event_settings_and_flag_override)
{
    write_json("{\"event_handlers\": [\"user:deploy=./d.sh\", \"./all.sh\"],"
               " \"handler_timeout_ms\": 2000, \"event_history\": 512,"
               " \"watch_queue\": 64, \"snapshot\": \"/tmp/s.json\"}");
    ck_assert_int_eq(PARSE("--config", json_path), 0);
    ck_assert_uint_eq(c.handler_count, 2);
    ck_assert_str_eq(c.handlers[0], "user:deploy=./d.sh");
    ck_assert_uint_eq(c.handler_timeout_ms, 2000);
    ck_assert_uint_eq(c.event_history, 512);
    ck_assert_uint_eq(c.watch_queue, 64);
    ck_assert_str_eq(c.snapshot, "/tmp/s.json");
    /* --event-handler flags replace the file's list, as --join does. */
    ck_assert_int_eq(PARSE("--config", json_path, "--event-handler", "./only.sh"), 0);
    ck_assert_uint_eq(c.handler_count, 1);
    ck_assert_str_eq(c.handlers[0], "./only.sh");
    write_json("{\"event_history\": \"many\"}");
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "event_history"));
    write_json("{\"event_handlers\": \"./x.sh\"}");
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "array"));
}
END_TEST

/* --protocol and the file's "protocol" object override the profile field by
 * field; the flag wins over the file. */
START_TEST(cfg_test_protocol_overrides_profile)
{
    struct swim_config sc, lan;
    ck_assert_int_eq(swim_config_profile(&lan, "lan"), 0);
    write_json("{\"protocol\": {\"probe_interval_ms\": 2000, \"suspicion_mult\": 5}}");
    ck_assert_int_eq(
        PARSE("--config", json_path, "--protocol", "suspicion_mult=7", "--protocol=reap_ms=60000"),
        0);
    ck_assert_int_eq(cfg_protocol(&c, &sc, err, sizeof(err)), 0);
    ck_assert_uint_eq(sc.probe_interval_ms, 2000);
    ck_assert_uint_eq(sc.suspicion_mult, 7);
    ck_assert_uint_eq(sc.reap_ms, 60000);
    ck_assert_uint_eq(sc.probe_timeout_ms, lan.probe_timeout_ms); /* untouched */
}
END_TEST

/* --max-members and the file's max_members bound the core's table; the
 * default is the core's. */
START_TEST(cfg_test_max_members_flag_and_file_key)
{
    struct swim_config sc;
    ck_assert_int_eq(PARSE("--name", "x"), 0);
    ck_assert_int_eq(cfg_protocol(&c, &sc, err, sizeof(err)), 0);
    ck_assert_uint_eq(sc.max_members, SWIM_MEMBERS_DEFAULT);
    write_json("{\"max_members\": 300}");
    ck_assert_int_eq(PARSE("--config", json_path), 0);
    ck_assert_int_eq(cfg_protocol(&c, &sc, err, sizeof(err)), 0);
    ck_assert_uint_eq(sc.max_members, 300);
    ck_assert_int_eq(PARSE("--config", json_path, "--max-members=20000"), 0);
    ck_assert_int_eq(cfg_protocol(&c, &sc, err, sizeof(err)), 0);
    ck_assert_uint_eq(sc.max_members, 20000);
    ck_assert_int_eq(PARSE("--max-members", "0"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "--max-members"));
    ck_assert_int_eq(PARSE("--max-members", "99999999"), ERR_INVAL);
    write_json("{\"max_members\": \"many\"}");
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
}
END_TEST

/* Every tunable the core names is a --protocol key, the Lifeguard and
 * guard switches among them, so each can be turned off for an experiment. */
START_TEST(cfg_test_protocol_takes_every_core_tunable)
{
    struct swim_config sc;
    ck_assert_int_eq(PARSE("--protocol", "guard=0", "--protocol", "reprobe=0", "--protocol",
                           "buddy=0", "--protocol", "probe_retry=0"),
                     0);
    ck_assert_int_eq(cfg_protocol(&c, &sc, err, sizeof(err)), 0);
    ck_assert_uint_eq(sc.guard, 0);
    ck_assert_uint_eq(sc.reprobe, 0);
    ck_assert_uint_eq(sc.buddy, 0);
    ck_assert_uint_eq(sc.probe_retry, 0);
    for (size_t i = 0; swim_config_key(i) != NULL; i++) {
        ck_assert_uint_lt(i, CFG_PROTO_MAX);
        uint32_t v = 0;
        ck_assert_int_eq(swim_config_get(&sc, swim_config_key(i), &v), 0);
        char kv[96];
        snprintf(kv, sizeof(kv), "%s=%u", swim_config_key(i), v);
        ck_assert_msg(PARSE("--protocol", kv) == 0, "%s: %s", kv, err);
    }
}
END_TEST

START_TEST(cfg_test_protocol_bad_values_rejected)
{
    ck_assert_int_eq(PARSE("--protocol", "probe_interval=5"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "probe_interval_ms"));
    ck_assert_int_eq(PARSE("--protocol", "reap_ms=-1"), ERR_INVAL);
    ck_assert_int_eq(PARSE("--protocol", "reap_ms"), ERR_INVAL);
    /* Each value is fine alone; together with the profile it is not. */
    ck_assert_int_eq(PARSE("--protocol", "probe_timeout_ms=1500"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "probe_timeout_ms below probe_interval_ms"));
    ck_assert_int_eq(PARSE("--protocol", "max_packet=100"), ERR_INVAL);
    write_json("{\"protocol\": {\"probe_interval_ms\": \"fast\"}}");
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
    write_json("{\"protocol\": {\"nope\": 1}}");
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
}
END_TEST

START_TEST(cfg_test_missing_config_file_says_why)
{
    ck_assert_int_eq(PARSE("--config", "/nonexistent/swimd.json"), ERR_INVAL);
    ck_assert_msg(strstr(err, "No such file or directory") != NULL, "err: %s", err);
    ck_assert_msg(strstr(err, "line -1") == NULL, "err: %s", err);
}
END_TEST

/* A FIFO as the config file is refused at once, never waited on. */
START_TEST(cfg_test_config_fifo_refused_without_blocking)
{
    unlink(json_path);
    ck_assert_int_eq(mkfifo(json_path, 0600), 0);
    uint64_t t0 = clock_mono_ms();
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
    ck_assert_uint_lt(clock_mono_ms() - t0, 1000);
    ck_assert_ptr_nonnull(strstr(err, "regular file"));
}
END_TEST

START_TEST(cfg_test_names_follow_the_name_rule)
{
    const char *bad[] = {"ev\n2024-05-01T00:00:00.000Z error fake-line",
                         "a b",
                         "tab\there",
                         "\xff\xfe",
                         "bell\a",
                         "esc\x1b[2J",
                         "c1\xc2\x9b",
                         "rtl\xe2\x80\xae",
                         "zw\xe2\x80\x8bsp",
                         "x\x7f"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(PARSE("--name", (char *)bad[i]) == ERR_INVAL, "accepted name %zu", i);
        ck_assert_ptr_nonnull(strstr(err, "--name"));
    }
    ck_assert_int_eq(PARSE("--name", "n\xc3\xa9ud-1.example"), 0); /* UTF-8 letters are fine */
    ck_assert_str_eq(c.name, "n\xc3\xa9ud-1.example");
    write_json("{\"name\": \"two words\"}");
    ck_assert_int_eq(PARSE("--config", json_path), ERR_INVAL);
    /* The label is shown by info: text too. */
    ck_assert_int_eq(PARSE("--label", "prod\x1b[2J"), ERR_INVAL);
    ck_assert_int_eq(PARSE("--label", "\xff"), ERR_INVAL);
    ck_assert_int_eq(PARSE("--label", "prod eu-1"), 0);
}
END_TEST

START_TEST(cfg_test_scoped_ipv6_advertise_refused)
{
    ck_assert_int_eq(PARSE("--bind", "[::1]:0", "--advertise", "[fe80::1%lo]:7946"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "scoped"));
    ck_assert_int_eq(PARSE("--bind", "[::1]:0", "--advertise", "[fe80::1]:7946"), ERR_INVAL);
    /* A bind to one, with nothing else to advertise, is refused too. */
    ck_assert_int_eq(PARSE("--bind", "[fe80::1%lo]:7946"), ERR_INVAL);
    ck_assert_int_eq(PARSE("--bind", "[fe80::1%lo]:7946", "--advertise", "[2001:db8::1]:7946"), 0);
    ck_assert_int_eq(PARSE("--advertise", "224.0.0.1:7946"), ERR_INVAL);
    ck_assert_int_eq(PARSE("--bind", "[::1]:0", "--advertise", "[2001:db8::1]:7946"), 0);
}
END_TEST

START_TEST(cfg_test_join_addresses_must_be_peers)
{
    const char *bad[] = {"0.0.0.0:7946",         "127.0.0.1:0", "224.0.0.1:7946",
                         "255.255.255.255:7946", "[::]:7946",   "[ff02::1]:7946"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(PARSE("--join", (char *)bad[i]) == ERR_INVAL, "accepted --join %s", bad[i]);
    ck_assert_int_eq(PARSE("--join", "127.0.0.1", "--join", "seed.example:7946"), 0);
}
END_TEST

START_TEST(cfg_test_leave_linger_bounded)
{
    ck_assert_int_eq(PARSE("--protocol", "leave_linger_ms=4294967295"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "leave_linger_ms"));
    char ok[64];
    snprintf(ok, sizeof(ok), "leave_linger_ms=%u", CFG_LEAVE_LINGER_MAX_MS);
    ck_assert_int_eq(PARSE("--protocol", ok), 0);
}
END_TEST

/* --snapshot at a path that exists and is not a regular file: refused,
 * and the path is left as it was. */
START_TEST(cfg_test_snapshot_must_be_a_regular_file)
{
    char dir[64], p[128];
    snprintf(dir, sizeof(dir), "/tmp/cfg_test_snap_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(p, sizeof(p), "%s/fifo", dir);
    ck_assert_int_eq(mkfifo(p, 0600), 0);
    ck_assert_int_eq(PARSE("--snapshot", p), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "FIFO"));
    unlink(p);
    snprintf(p, sizeof(p), "%s/sock", dir);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%.100s", p);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    close(fd);
    ck_assert_int_eq(PARSE("--snapshot", p), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "socket"));
    unlink(p);
    snprintf(p, sizeof(p), "%s/link", dir);
    ck_assert_int_eq(symlink("/dev/null", p), 0);
    ck_assert_int_eq(PARSE("--snapshot", p), ERR_INVAL);
    unlink(p);
    ck_assert_int_eq(PARSE("--snapshot", "/dev/null"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "device"));
    snprintf(p, sizeof(p), "%s/none-yet", dir);
    ck_assert_int_eq(PARSE("--snapshot", p), 0);         /* made by the first write */
    ck_assert_int_eq(PARSE("--snapshot", json_path), 0); /* a regular file */
    rmdir(dir);
}
END_TEST

START_TEST(cfg_test_socket_group)
{
    ck_assert_int_eq(PARSE("--name", "a"), 0);
    ck_assert_int_eq(c.socket_gid, -1);
    ck_assert_int_eq(PARSE("--socket-group", "4242"), 0);
    ck_assert_int_eq(c.socket_gid, 4242);
    ck_assert_int_eq(PARSE("--socket-group", "root"), 0);
    ck_assert_int_eq(c.socket_gid, 0);
    ck_assert_int_eq(PARSE("--socket-group", "no-such-group-swimd"), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "no such group"));
    write_json("{\"socket_group\": \"4243\"}");
    ck_assert_int_eq(PARSE("--config", json_path), 0);
    ck_assert_int_eq(c.socket_gid, 4243);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cfg");
    TCase *tc = tcase_create("cfg");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, cfg_test_defaults);
    tcase_add_test(tc, cfg_test_flags_parsed_in_both_forms);
    tcase_add_test(tc, cfg_test_join_repeatable_and_bounded);
    tcase_add_test(tc, cfg_test_unknown_flag_rejected);
    tcase_add_test(tc, cfg_test_missing_value_rejected);
    tcase_add_test(tc, cfg_test_bad_addresses_rejected);
    tcase_add_test(tc, cfg_test_bad_values_rejected);
    tcase_add_test(tc, cfg_test_log_format_flag_and_file_key);
    tcase_add_test(tc, cfg_test_help_and_version_actions);
    tcase_add_test(tc, cfg_test_json_loaded);
    tcase_add_test(tc, cfg_test_flags_override_json);
    tcase_add_test(tc, cfg_test_json_syntax_error_names_line);
    tcase_add_test(tc, cfg_test_json_unknown_key_rejected);
    tcase_add_test(tc, cfg_test_json_wrong_types_rejected);
    tcase_add_test(tc, cfg_test_missing_config_file_rejected);
    tcase_add_test(tc, cfg_test_event_defaults);
    tcase_add_test(tc, cfg_test_event_handler_repeatable_raw_and_bounded);
    tcase_add_test(tc, cfg_test_event_handler_spec_checked_where_given);
    tcase_add_test(tc, cfg_test_event_numbers_parsed_and_checked);
    tcase_add_test(tc, cfg_test_json_event_settings_and_flag_override);
    tcase_add_test(tc, cfg_test_protocol_overrides_profile);
    tcase_add_test(tc, cfg_test_protocol_bad_values_rejected);
    tcase_add_test(tc, cfg_test_protocol_takes_every_core_tunable);
    tcase_add_test(tc, cfg_test_missing_config_file_says_why);
    tcase_add_test(tc, cfg_test_config_fifo_refused_without_blocking);
    tcase_add_test(tc, cfg_test_names_follow_the_name_rule);
    tcase_add_test(tc, cfg_test_scoped_ipv6_advertise_refused);
    tcase_add_test(tc, cfg_test_join_addresses_must_be_peers);
    tcase_add_test(tc, cfg_test_leave_linger_bounded);
    tcase_add_test(tc, cfg_test_snapshot_must_be_a_regular_file);
    tcase_add_test(tc, cfg_test_socket_group);
    tcase_add_test(tc, cfg_test_metrics_flag_and_file_key);
    tcase_add_test(tc, cfg_test_max_members_flag_and_file_key);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
