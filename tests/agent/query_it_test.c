/*
 * query_it_test.c - integration: `swimctl query` between real swimd
 * processes (tests/agent/agent_harness.h).  Every member acks; members with
 * a query:NAME (or query) handler answer with its stdout, exactly; the
 * query is an event with a sequence number in `watch`; --node and --tag
 * limit who answers; --json lines parse; an answer over 1 KB is cut and
 * flagged; the timeout is kept; bad input is refused before anything is
 * sent.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent_harness.h"
#include "keyring.h"

/* Write an executable script `name` in the harness folder; its path in
 * path[HARNESS_PATH_MAX]. */
static void write_script(struct harness *h, const char *name, const char *body, char *path)
{
    snprintf(path, HARNESS_PATH_MAX, "%s/%s", h->dir, name);
    harness_write_file(path, body);
    chmod(path, 0700);
}

/* "query:NAME=PATH" (or "query=PATH" when name is NULL) in spec. */
static void handler_spec(char *spec, size_t cap, const char *name, const char *path)
{
    if (name != NULL)
        snprintf(spec, cap, "query:%s=%s", name, path);
    else
        snprintf(spec, cap, "query=%s", path);
}

/* Lines of text that equal line exactly. */
static int count_lines(const char *text, const char *line)
{
    int n = 0;
    size_t len = strlen(line);
    for (const char *p = text; p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t l = nl != NULL ? (size_t)(nl - p) : strlen(p);
        n += l == len && memcmp(p, line, len) == 0;
        p = nl != NULL ? nl + 1 : NULL;
    }
    return n;
}

/* The JSON lines of --json output: acks and responses by member. */
struct json_out {
    long long id, timeout_ms;
    char acks[8][16], responses[8][16];
    char payload[8][2048];
    int truncated[8];
    int nacks, nresp, done, done_acks, done_resp;
};

static void parse_json_lines(const char *text, struct json_out *o)
{
    memset(o, 0, sizeof(*o));
    int first = 1;
    for (const char *p = text; p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t l = nl != NULL ? (size_t)(nl - p) : strlen(p);
        json_error_t e;
        json_t *j = json_loadb(p, l, 0, &e);
        ck_assert_msg(j != NULL, "not JSON: %.*s", (int)l, p);
        const char *type = json_string_value(json_object_get(j, "type"));
        const char *from = json_string_value(json_object_get(j, "from"));
        if (first) {
            ck_assert_ptr_null(type);
            o->id = json_integer_value(json_object_get(j, "id"));
            o->timeout_ms = json_integer_value(json_object_get(j, "timeout_ms"));
            first = 0;
        } else if (strcmp(type, "ack") == 0 && o->nacks < 8) {
            snprintf(o->acks[o->nacks++], 16, "%s", from);
        } else if (strcmp(type, "response") == 0 && o->nresp < 8) {
            snprintf(o->responses[o->nresp], 16, "%s", from);
            snprintf(o->payload[o->nresp], 2048, "%s",
                     json_string_value(json_object_get(j, "payload")));
            o->truncated[o->nresp++] = json_is_true(json_object_get(j, "truncated"));
        } else {
            ck_assert_str_eq(type, "done");
            ck_assert_int_eq(o->done, 0);
            o->done = 1;
            o->done_acks = (int)json_integer_value(json_object_get(j, "acks"));
            o->done_resp = (int)json_integer_value(json_object_get(j, "responses"));
        }
        json_decref(j);
        p = nl != NULL ? nl + 1 : NULL;
    }
    ck_assert_int_eq(o->done, 1);
    ck_assert_int_eq(o->done_acks, o->nacks);
    ck_assert_int_eq(o->done_resp, o->nresp);
}

/* Run `swimctl ARGS` (with --json among them) on nd; it must exit 0; its
 * lines into *o. */
static void query_json(struct harness *h, struct harness_node *nd, const char *const *args,
                       struct json_out *o)
{
    char *out = NULL;
    ck_assert_int_eq(harness_swimctl(h, nd, args, &out), 0);
    parse_json_lines(out, o);
    free(out);
}

static int has(char list[][16], int n, const char *name)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += strcmp(list[i], name) == 0;
    return k;
}

/* Four nodes: n1 and n2 answer "echo" (query:echo), n3 answers every query
 * (query), n4 has no handler.  A query from n4 gets four acks and three
 * responses with the handlers' exact output; on n1 it is an event in
 * `watch` whose seq is the handler's SWIM_SEQ. */
START_TEST(query_it_test_acks_and_responses)
{
    struct harness *h = harness_world();
    char echo[HARNESS_PATH_MAX], all[HARNESS_PATH_MAX], spec[2 * HARNESS_PATH_MAX],
        spec3[2 * HARNESS_PATH_MAX], body[512];
    snprintf(body, sizeof(body),
             "#!/bin/sh\n"
             "echo \"$SWIM_SEQ $SWIM_QUERY_NAME $SWIM_QUERY_ORIGIN\" > %s/seq.$SWIM_SELF_NAME\n"
             "printf '%%s says: ' \"$SWIM_SELF_NAME\"; cat\n",
             h->dir);
    write_script(h, "echo.sh", body, echo);
    write_script(h, "all.sh", "#!/bin/sh\nprintf 'all %s: ' \"$SWIM_QUERY_NAME\"; cat\n", all);
    handler_spec(spec, sizeof(spec), "echo", echo);
    handler_spec(spec3, sizeof(spec3), NULL, all);
    const char *with_echo[] = {"--event-handler", spec, NULL};
    const char *with_all[] = {"--event-handler", spec3, NULL};
    const char *plain[] = {NULL};
    harness_start_node(h, 0, "127.0.0.1", with_echo);
    harness_start_joiner(h, 1, "127.0.0.1", with_echo);
    harness_start_joiner(h, 2, "127.0.0.1", with_all);
    harness_start_joiner(h, 3, "127.0.0.1", plain);
    ck_assert(HARNESS_WAIT_UNTIL(harness_converged(h, 4, 4), HARNESS_CONVERGE_MS));

    char *out = NULL;
    const char *args[] = {"query", "echo", "hello", NULL};
    ck_assert_int_eq(harness_swimctl(h, &h->nodes[3], args, &out), 0);
    ck_assert_ptr_nonnull(out);
    unsigned long long id = 0, timeout = 0;
    ck_assert_msg(sscanf(out, "Query 'echo' sent (id %llu, timeout %llu ms)", &id, &timeout) == 2,
                  "%s", out);
    for (int i = 1; i <= 4; i++) {
        char line[64];
        snprintf(line, sizeof(line), "Ack from 'n%d'", i);
        ck_assert_msg(count_lines(out, line) == 1, "%s once in:\n%s", line, out);
    }
    ck_assert_msg(count_lines(out, "Response from 'n1': n1 says: hello") == 1, "%s", out);
    ck_assert_msg(count_lines(out, "Response from 'n2': n2 says: hello") == 1, "%s", out);
    ck_assert_msg(count_lines(out, "Response from 'n3': all echo: hello") == 1, "%s", out);
    ck_assert_int_eq(count_lines(out, "Total acks: 4"), 1);
    ck_assert_int_eq(count_lines(out, "Total responses: 3"), 1);
    const char *last = strstr(out, "Total acks: 4\nTotal responses: 3\n");
    ck_assert_msg(last != NULL && last[strlen("Total acks: 4\nTotal responses: 3\n")] == '\0',
                  "totals are not last:\n%s", out);
    free(out);

    /* On n1 the query is an event with a sequence number, the one its
     * handler saw as SWIM_SEQ. */
    char path[HARNESS_PATH_MAX];
    snprintf(path, sizeof(path), "%s/seq.n1", h->dir);
    char *seqline = harness_slurp(path);
    unsigned long long seq = 0;
    char qname[16], origin[16];
    ck_assert_msg(sscanf(seqline, "%llu %15s %15s", &seq, qname, origin) == 3, "seq file: %s",
                  seqline);
    ck_assert_str_eq(qname, "echo");
    ck_assert_str_eq(origin, "n4");
    free(seqline);
    struct harness_proc w;
    const char *wargs[] = {"watch", "--since", "0", "--type", "query", "--json", NULL};
    harness_spawn_ctl(h, &w, &h->nodes[0], "watch", wargs);
    ck_assert(HARNESS_WAIT_UNTIL(harness_count_in_file(w.out, "\"type\":\"query\"") == 1, 10000));
    harness_kill_proc(&w);
    char *wout = harness_slurp(w.out);
    char want[256];
    snprintf(want, sizeof(want), "{\"seq\":%llu,\"type\":\"query\",\"time\":", seq);
    ck_assert_msg(strstr(wout, want) != NULL, "no \"%s\" in:\n%s", want, wout);
    snprintf(want, sizeof(want),
             "\"name\":\"echo\",\"origin\":\"n4\",\"id\":%llu,"
             "\"payload\":\"hello\"}",
             id);
    ck_assert_msg(strstr(wout, want) != NULL, "no \"%s\" in:\n%s", want, wout);
    free(wout);
}
END_TEST

/* --node and --tag limit who acks and answers; --no-ack leaves only the
 * answers; --json gives one object per line. */
START_TEST(query_it_test_filters_and_json)
{
    struct harness *h = harness_world();
    char echo[HARNESS_PATH_MAX], spec[2 * HARNESS_PATH_MAX];
    write_script(h, "echo.sh", "#!/bin/sh\nprintf '%s:' \"$SWIM_SELF_NAME\"; cat\n", echo);
    handler_spec(spec, sizeof(spec), "echo", echo);
    const char *web[] = {"--event-handler", spec, "--tag", "role=web", NULL};
    const char *db[] = {"--event-handler", spec, "--tag", "role=db", NULL};
    const char *plain[] = {NULL};
    harness_start_node(h, 0, "127.0.0.1", web);
    harness_start_joiner(h, 1, "127.0.0.1", db);
    harness_start_joiner(h, 2, "127.0.0.1", web);
    harness_start_joiner(h, 3, "127.0.0.1", plain);
    ck_assert(HARNESS_WAIT_UNTIL(harness_converged(h, 4, 4), HARNESS_CONVERGE_MS));
    struct json_out o;

    const char *by_node[] = {"query", "--json", "--node", "n1", "--node", "n2", "echo", "x", NULL};
    query_json(h, &h->nodes[3], by_node, &o);
    ck_assert_int_eq(o.nacks, 2);
    ck_assert(has(o.acks, o.nacks, "n1") == 1 && has(o.acks, o.nacks, "n2") == 1);
    ck_assert_int_eq(o.nresp, 2);
    for (int i = 0; i < o.nresp; i++) {
        char want[32];
        snprintf(want, sizeof(want), "%s:x", o.responses[i]);
        ck_assert_str_eq(o.payload[i], want);
        ck_assert_int_eq(o.truncated[i], 0);
    }

    const char *by_tag[] = {"query", "--json", "--tag", "role=^web$", "echo", "y", NULL};
    query_json(h, &h->nodes[3], by_tag, &o);
    ck_assert_int_eq(o.nacks, 2);
    ck_assert(has(o.acks, o.nacks, "n1") == 1 && has(o.acks, o.nacks, "n3") == 1);
    ck_assert_int_eq(o.nresp, 2);
    ck_assert(has(o.responses, o.nresp, "n1") == 1 && has(o.responses, o.nresp, "n3") == 1);

    const char *no_ack[] = {"query", "--json", "--no-ack", "--relay-factor", "2", "echo", NULL};
    query_json(h, &h->nodes[3], no_ack, &o);
    ck_assert_int_eq(o.nacks, 0);
    ck_assert_int_eq(o.nresp, 3);
    ck_assert(has(o.responses, o.nresp, "n2") == 1);
}
END_TEST

/* An answer over 1 KB arrives cut to 1024 bytes and flagged, on an
 * encrypted cluster (sealed datagrams leave the least room); the query
 * ends at its timeout (and the default follows Serf's rule); bad input is
 * refused with exit 2 and a message, before anything is sent. */
START_TEST(query_it_test_truncation_timeout_bad_input)
{
    struct harness *h = harness_world();
    struct swim_config c = harness_local_profile();
    char big[HARNESS_PATH_MAX], spec[2 * HARNESS_PATH_MAX], kr[HARNESS_PATH_MAX];
    char key[KEYRING_B64_MAX], line[KEYRING_B64_MAX + 1];
    write_script(h, "big.sh", "#!/bin/sh\nhead -c 3000 /dev/zero | tr '\\000' x\n", big);
    handler_spec(spec, sizeof(spec), "big", big);
    ck_assert_int_eq(keyring_generate_base64(key), 0);
    snprintf(kr, sizeof(kr), "%s/keys", h->dir);
    snprintf(line, sizeof(line), "%s\n", key);
    harness_write_file(kr, line);
    const char *with_big[] = {"--event-handler", spec, "--keyring", kr, NULL};
    const char *plain[] = {"--keyring", kr, NULL};
    harness_start_node(h, 0, "127.0.0.1", with_big);
    harness_start_joiner(h, 1, "127.0.0.1", plain);
    ck_assert(HARNESS_WAIT_UNTIL(harness_converged(h, 2, 2), HARNESS_CONVERGE_MS));

    struct json_out o;
    char *out = NULL;
    const char *args[] = {"query", "--json", "--timeout", "2s", "big", NULL};
    uint64_t t0 = clock_mono_ms();
    ck_assert_int_eq(harness_swimctl(h, &h->nodes[1], args, &out), 0);
    uint64_t took = clock_mono_ms() - t0;
    parse_json_lines(out, &o);
    free(out);
    ck_assert_int_eq(o.timeout_ms, 2000);
    ck_assert_msg(took >= 1900 && took < 2000 + HARNESS_SLACK_MS, "query took %llu ms",
                  (unsigned long long)took);
    ck_assert_int_eq(o.nacks, 2);
    ck_assert_int_eq(o.nresp, 1);
    ck_assert_str_eq(o.responses[0], "n1");
    ck_assert_uint_eq(strlen(o.payload[0]), 1024);
    ck_assert_uint_eq(strspn(o.payload[0], "x"), 1024);
    ck_assert_int_eq(o.truncated[0], 1);

    /* The default timeout: gossip interval x 16 x ceil(log10(2 + 1)). */
    const char *dflt[] = {"query", "--json", "--no-ack", "nothing", NULL};
    query_json(h, &h->nodes[1], dflt, &o);
    ck_assert_int_eq(o.timeout_ms, (long long)c.gossip_interval_ms * 16);
    ck_assert_int_eq(o.nacks + o.nresp, 0);

    /* Refused by swimctl, exit 2, with a message on stderr. */
    char longname[80];
    memset(longname, 'a', 65);
    longname[65] = '\0';
    char payload[700];
    memset(payload, 'p', sizeof(payload) - 1);
    payload[sizeof(payload) - 1] = '\0';
    const char *bad[][8] = {
        {"query", "_swim-keys", NULL},
        {"query", "--tag", "role=(", "echo", NULL},
        {"query", "--tag", "role", "echo", NULL},
        {"query", longname, NULL},
        {"query", "echo", payload, NULL},
        {"query", "--timeout", "soon", "echo", NULL},
        {"query", "--relay-factor", "9", "echo", NULL},
        {"query", NULL},
    };
    const char *why[] = {"reserved",  "regular expression", "KEY=PATTERN",    "64 bytes",
                         "too large", "--timeout",          "--relay-factor", "NAME"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct harness_proc p;
        ck_assert_int_eq(harness_run_ctl(h, &h->nodes[1], "bad", bad[i], &p), 2);
        ck_assert_msg(harness_count_in_file(p.err, why[i]) >= 1, "case %zu: no \"%s\" in %s", i,
                      why[i], harness_slurp(p.err));
    }
    /* info counts what each node did. */
    json_t *info = harness_call(&h->nodes[0], json_pack("{s:s}", "cmd", "info"));
    ck_assert_ptr_nonnull(info);
    ck_assert(json_is_true(json_object_get(info, "encrypted")));
    json_t *q = json_object_get(info, "queries");
    ck_assert_int_eq(json_integer_value(json_object_get(q, "received")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(q, "responses")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(q, "pending")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(q, "pending_max")), 64);
    json_decref(info);
    /* swimd refuses a reserved name too (a client other than swimctl). */
    json_t *r =
        harness_call(&h->nodes[1], json_pack("{s:s,s:s}", "cmd", "query", "name", "_swim-keys"));
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_null(json_object_get(r, "ok"));
    ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(r, "error")), "reserved"));
    json_decref(r);
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"acks_responses", query_it_test_acks_and_responses, 90},
        {"filters_json", query_it_test_filters_and_json, 90},
        {"truncation_timeout", query_it_test_truncation_timeout_bad_input, 90},
    };
    return harness_run_cases("query_it", cases, sizeof(cases) / sizeof(cases[0]));
}
