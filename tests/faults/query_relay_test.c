/*
 * query_relay_test.c - a query's ack and answer reach the origin through
 * relays when the responder's direct path to it is cut, between real swimd
 * processes (issue 14: Serf's relay factor).
 *
 * Five agents (tests/agent/agent_harness.h, local profile) on 127.0.0.1-5
 * in a private network namespace (fault_net.h), each answering "echo" with
 * "NAME:PAYLOAD".  An iptables rule drops UDP from the responder's
 * address to the origin's and nothing else, so the origin still hears of
 * the responder through the others (indirect probes) and keeps it alive.
 * With --relay-factor 0 the responder's ack and answer are lost while the
 * others' arrive; with --relay-factor 3 the responder sends copies through
 * the three other members, which forward them, and the origin reports each
 * exactly once.  Needs root: exits 77 (meson's skip) otherwise.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent_harness.h"
#include "fault_net.h"

#define RELAY_NODES 5
#define RELAY_ORIGIN 4    /* n5 asks */
#define RELAY_RESPONDER 2 /* n3's answers are cut off from n5 */
/* meson's exit code for a skipped test. */
#define RELAY_SKIP 77

/* Lines of swimctl's --json output with this type, from `from` and (when
 * not NULL) this payload; every line must be JSON. */
static int relay_json_lines(const char *out, const char *type, const char *from,
                            const char *payload)
{
    int n = 0;
    for (const char *p = out; *p != '\0';) {
        size_t len = strcspn(p, "\n");
        json_error_t e;
        json_t *j = json_loadb(p, len, 0, &e);
        ck_assert_msg(j != NULL, "not JSON: %.*s", (int)len, p);
        const char *t = json_string_value(json_object_get(j, "type"));
        const char *f = json_string_value(json_object_get(j, "from"));
        const char *pl = json_string_value(json_object_get(j, "payload"));
        n += t != NULL && f != NULL && strcmp(t, type) == 0 && strcmp(f, from) == 0 &&
             (payload == NULL || (pl != NULL && strcmp(pl, payload) == 0));
        json_decref(j);
        p += len + (p[len] == '\n');
    }
    return n;
}

/* `swimctl query --json --timeout 2s --relay-factor RELAY echo x` on the
 * origin: its output (exit 0). */
static char *relay_query(struct harness *h, const char *relay)
{
    const char *args[] = {"query", "--json", "--timeout", "2s", "--relay-factor",
                          relay,   "echo",   "x",         NULL};
    char *out = NULL;
    ck_assert_int_eq(harness_swimctl(h, &h->nodes[RELAY_ORIGIN], args, &out), 0);
    ck_assert_ptr_nonnull(out);
    return out;
}

/* Split a node's "HOST:PORT" into host[16] and the port. */
static int relay_host_port(const struct harness_node *nd, char *host)
{
    const char *colon = strrchr(nd->addr, ':');
    ck_assert_msg(colon != NULL && colon - nd->addr < 16, "address %s", nd->addr);
    snprintf(host, 16, "%.*s", (int)(colon - nd->addr), nd->addr);
    return atoi(colon + 1);
}

START_TEST(faults_test_query_relay_when_direct_path_cut)
{
    struct harness *h = harness_world();
    char script[HARNESS_PATH_MAX], spec[2 * HARNESS_PATH_MAX], err[256];
    snprintf(script, sizeof(script), "%s/echo.sh", h->dir);
    harness_write_file(script, "#!/bin/sh\nprintf '%s:' \"$SWIM_SELF_NAME\"; cat\n");
    chmod(script, 0700);
    snprintf(spec, sizeof(spec), "query:echo=%s", script);
    const char *with_echo[] = {"--event-handler", spec, NULL};
    harness_start_node(h, 0, "127.0.0.1", with_echo);
    for (size_t i = 1; i < RELAY_NODES; i++) {
        char host[16];
        snprintf(host, sizeof(host), "127.0.0.%zu", i + 1);
        harness_start_joiner(h, i, host, with_echo);
    }
    ck_assert(
        HARNESS_WAIT_UNTIL(harness_converged(h, RELAY_NODES, RELAY_NODES), HARNESS_CONVERGE_MS));

    struct harness_node *o = &h->nodes[RELAY_ORIGIN], *r = &h->nodes[RELAY_RESPONDER];
    char o_host[16], r_host[16], want[64];
    int o_port = relay_host_port(o, o_host), r_port = relay_host_port(r, r_host);
    ck_assert_msg(fault_net_cut_pair(r_host, r_port, o_host, o_port, 1, err, sizeof(err)) == 0,
                  "%s", err);

    /* Without relays: every answer but the cut responder's. */
    char *out = relay_query(h, "0");
    for (size_t i = 0; i < RELAY_NODES; i++) {
        const char *name = h->nodes[i].name;
        int expect = i != RELAY_RESPONDER;
        snprintf(want, sizeof(want), "%s:x", name);
        ck_assert_msg(relay_json_lines(out, "ack", name, NULL) == expect,
                      "%s acks %d times in:\n%s", name, expect, out);
        if (i != RELAY_ORIGIN)
            ck_assert_msg(relay_json_lines(out, "response", name, want) == expect,
                          "%s answers %d times in:\n%s", name, expect, out);
    }
    free(out);

    /* Through three relays: the responder's ack and answer, once each. */
    out = relay_query(h, "3");
    snprintf(want, sizeof(want), "%s:x", r->name);
    ck_assert_msg(relay_json_lines(out, "ack", r->name, NULL) == 1, "one ack from %s in:\n%s",
                  r->name, out);
    ck_assert_msg(relay_json_lines(out, "response", r->name, want) == 1,
                  "one answer from %s in:\n%s", r->name, out);
    free(out);

    /* The cut cost no verdict: the origin still counts the responder alive. */
    ck_assert(harness_sees(h, RELAY_ORIGIN, r->name, "alive"));
}
END_TEST

int main(void)
{
    char err[256];
    /* Before the tests fork: the swimd agents run in this namespace too. */
    if (fault_net_enter(err, sizeof(err)) != 0) {
        printf("faults_query_relay: skipped: %s\n", err);
        return RELAY_SKIP;
    }
    const struct harness_case cases[] = {
        {"query_relay", faults_test_query_relay_when_direct_path_cut, 60},
    };
    return harness_run_cases("faults_query_relay", cases, 1);
}
