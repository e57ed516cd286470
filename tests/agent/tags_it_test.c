/*
 * tags_it_test.c - integration: tags set by flag and config file spread to
 * the other members; tags-set / tags-delete over the control socket and a
 * SIGHUP reload change them everywhere; a user event reaches the other
 * member exactly once (tests/agent/agent_harness.h).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_harness.h"

/* The tags `nd` lists for member `name`, as "k=v,..." in buf, or NULL. */
static const char *tags_of(struct harness_node *nd, const char *name, char *buf, size_t cap)
{
    json_t *r = harness_call(nd, json_pack("{s:s}", "cmd", "members"));
    const char *found = NULL;
    size_t i;
    json_t *m;
    if (r == NULL)
        return NULL;
    json_array_foreach(json_object_get(r, "members"), i, m)
    {
        const char *n = json_string_value(json_object_get(m, "name"));
        if (n == NULL || strcmp(n, name) != 0)
            continue;
        char *text = json_dumps(json_object_get(m, "tags"), JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(buf, cap, "%s", text != NULL ? text : "");
        free(text);
        found = buf;
    }
    json_decref(r);
    return found;
}

static int has_tags(struct harness_node *nd, const char *name, const char *want)
{
    char buf[256];
    const char *t = tags_of(nd, name, buf, sizeof(buf));
    return t != NULL && strcmp(t, want) == 0;
}

/* Neither node has an update (the user event included) left to gossip, so
 * no copy of it can arrive any more. */
static int gossip_done(struct harness *h)
{
    return harness_info_int(&h->nodes[0], "pending_updates") == 0 &&
           harness_info_int(&h->nodes[1], "pending_updates") == 0;
}

START_TEST(tags_it_test_tags_spread_reload_and_events)
{
    struct harness *h = harness_world();
    struct swim_config c = harness_local_profile();
    char conf[HARNESS_PATH_MAX];
    snprintf(conf, sizeof(conf), "%s/n1.json", h->dir);
    harness_write_file(conf, "{\"tags\": {\"role\": \"web\"}}\n");
    const char *with_conf[] = {"--config", conf, "--tag", "dc=eu", NULL};
    harness_start_node(h, 0, "127.0.0.1", with_conf);
    harness_start_joiner(h, 1, "127.0.0.1", NULL);
    uint64_t spread = 5u * c.probe_interval_ms + HARNESS_SLACK_MS;
    ck_assert(HARNESS_WAIT_UNTIL(harness_converged(h, 2, 2), HARNESS_CONVERGE_MS));
    ck_assert(HARNESS_WAIT_UNTIL(has_tags(&h->nodes[1], "n1", "{\"dc\":\"eu\",\"role\":\"web\"}"),
                                 spread));

    /* tags-set / tags-delete over the control socket reach the peer. */
    json_t *r = harness_call(&h->nodes[0],
                             json_pack("{s:s,s:{s:s}}", "cmd", "tags-set", "tags", "version", "2"));
    ck_assert(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    r = harness_call(&h->nodes[0], json_pack("{s:s,s:[s]}", "cmd", "tags-delete", "keys", "dc"));
    ck_assert(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    ck_assert(HARNESS_WAIT_UNTIL(
        has_tags(&h->nodes[1], "n1", "{\"role\":\"web\",\"version\":\"2\"}"), spread));

    /* SIGHUP: the file's new tags, with the --tag flag still on top. */
    harness_write_file(conf, "{\"tags\": {\"role\": \"db\"}}\n");
    harness_signal(&h->nodes[0], SIGHUP);
    ck_assert_msg(
        HARNESS_WAIT_UNTIL(has_tags(&h->nodes[1], "n1", "{\"dc\":\"eu\",\"role\":\"db\"}"), spread),
        "reload not seen: %s", harness_log_tail(&h->nodes[0]));

    /* A user event reaches the other member once. */
    r = harness_call(&h->nodes[0],
                     json_pack("{s:s,s:s,s:s}", "cmd", "event", "name", "deploy", "payload", "v2"));
    ck_assert(json_is_true(json_object_get(r, "ok")));
    json_decref(r);
    ck_assert(HARNESS_WAIT_UNTIL(
        harness_count_in_file(h->nodes[1].log, "user-event name=deploy from=n1") == 1, spread));
    /* ... and once only, however long it is gossiped. */
    ck_assert(HARNESS_WAIT_UNTIL(gossip_done(h), 10u * c.probe_interval_ms + HARNESS_SLACK_MS));
    ck_assert_int_eq(harness_count_in_file(h->nodes[1].log, "user-event name=deploy from=n1"), 1);
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"spread_reload_events", tags_it_test_tags_spread_reload_and_events, 60},
    };
    return harness_run_cases("tags_it", cases, sizeof(cases) / sizeof(cases[0]));
}
