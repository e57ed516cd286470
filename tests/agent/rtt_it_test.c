/*
 * rtt_it_test.c - network coordinates between real swimd processes on
 * loopback: every node learns the others' coordinates from probes and their
 * answers, `swimctl rtt A B` estimates the round trip between two other
 * members from them (and `swimctl rtt A` between A and this node), `info`
 * shows this node's coordinate, and bad or unknown names fail with a
 * message and a non-zero exit.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_harness.h"

/* 1 when nd's members reply gives `name` a coordinate (not null). */
static int has_coord(struct harness_node *nd, const char *name)
{
    json_t *r = harness_call(nd, json_pack("{s:s}", "cmd", "members"));
    int got = 0;
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(r, "members"), i, m)
    {
        const char *n = json_string_value(json_object_get(m, "name"));
        if (n != NULL && strcmp(n, name) == 0)
            got = json_is_object(json_object_get(m, "coord"));
    }
    json_decref(r);
    return got;
}

/* A coordinate object: 8 finite numbers, a positive height, an error in
 * 0..1.5. */
static void assert_coord(json_t *c)
{
    json_t *vec = json_object_get(c, "vec");
    ck_assert_msg(json_is_array(vec) && json_array_size(vec) == SWIM_COORD_DIM, "no vec");
    for (size_t i = 0; i < SWIM_COORD_DIM; i++)
        ck_assert(json_is_number(json_array_get(vec, i)) &&
                  isfinite(json_number_value(json_array_get(vec, i))));
    double height = json_number_value(json_object_get(c, "height"));
    double error = json_number_value(json_object_get(c, "error_estimate"));
    ck_assert_msg(height > 0 && height <= SWIM_COORD_SPAN_S, "height %g", height);
    ck_assert_msg(error >= 0 && error <= SWIM_COORD_ERROR_MAX, "error %g", error);
}

/* Three nodes whose first holds coordinates for the other two. */
static struct harness *rtt_cluster(void)
{
    struct harness *h = harness_world();
    harness_start_cluster(h, 3, "127.0.0.1", NULL);
    ck_assert_msg(HARNESS_WAIT_UNTIL(harness_converged(h, 3, 3), HARNESS_CONVERGE_MS),
                  "no convergence: %s", harness_log_tail(&h->nodes[0]));
    ck_assert_msg(HARNESS_WAIT_UNTIL(has_coord(&h->nodes[0], "n2") && has_coord(&h->nodes[0], "n3"),
                                     HARNESS_CONVERGE_MS),
                  "n1 has no coordinates for n2 and n3: %s", harness_log_tail(&h->nodes[0]));
    return h;
}

START_TEST(rtt_test_estimate_between_members)
{
    struct harness *h = rtt_cluster();
    struct harness_proc p;
    char a[32], b[32], tail[64];
    double ms = -1;

    /* Between two other members, from n1's view. */
    ck_assert_int_eq(harness_run_ctl(h, &h->nodes[0], "rtt23",
                                     (const char *const[]){"rtt", "n2", "n3", NULL}, &p),
                     0);
    char *out = harness_slurp(p.out);
    ck_assert_msg(sscanf(out, "Estimated %31s <-> %31s rtt: %lf ms %63[^\n]", a, b, &ms, tail) == 4,
                  "output: %s", out);
    ck_assert_str_eq(a, "n2");
    ck_assert_str_eq(b, "n3");
    ck_assert_str_eq(tail, "(using coordinates)");
    ck_assert_msg(isfinite(ms) && ms >= 0 && ms < 1000, "estimate %g ms on loopback", ms);
    free(out);

    /* B defaults to this node; --json gives the numbers. */
    ck_assert_int_eq(harness_run_ctl(h, &h->nodes[0], "rtt2",
                                     (const char *const[]){"rtt", "--json", "n2", NULL}, &p),
                     0);
    out = harness_slurp(p.out);
    json_t *j = json_loads(out, 0, NULL);
    ck_assert_msg(j != NULL, "not JSON: %s", out);
    ck_assert_str_eq(json_string_value(json_object_get(j, "a")), "n2");
    ck_assert_str_eq(json_string_value(json_object_get(j, "b")), "n1");
    ck_assert(json_is_number(json_object_get(j, "rtt_ms")));
    ck_assert(json_number_value(json_object_get(j, "rtt_ms")) >= 0);
    ck_assert(json_is_integer(json_object_get(j, "rtt_us")));
    json_decref(j);
    free(out);

    /* info: this node's coordinate, in the reply and in swimctl's text. */
    json_t *info = harness_call(&h->nodes[0], json_pack("{s:s}", "cmd", "info"));
    ck_assert_ptr_nonnull(info);
    assert_coord(json_object_get(info, "coord"));
    assert_coord(json_object_get(json_object_get(info, "self"), "coord"));
    json_decref(info);
    ck_assert_int_eq(
        harness_run_ctl(h, &h->nodes[0], "info", (const char *const[]){"info", NULL}, &p), 0);
    ck_assert_int_eq(harness_count_in_file(p.out, "coordinate:       error="), 1);
}
END_TEST

START_TEST(rtt_test_bad_names_fail)
{
    struct harness *h = rtt_cluster();
    struct harness_proc p;

    ck_assert_int_eq(harness_run_ctl(h, &h->nodes[0], "nobody",
                                     (const char *const[]){"rtt", "nobody", NULL}, &p),
                     1);
    ck_assert_int_eq(harness_count_in_file(p.err, "no member named \"nobody\""), 1);
    ck_assert_int_eq(harness_run_ctl(h, &h->nodes[0], "nobody2",
                                     (const char *const[]){"rtt", "n2", "nobody", NULL}, &p),
                     1);
    ck_assert_int_eq(harness_count_in_file(p.err, "no member named \"nobody\""), 1);
    /* Not a node name (a space), no name, too many names. */
    ck_assert_int_eq(
        harness_run_ctl(h, &h->nodes[0], "space", (const char *const[]){"rtt", "n 2", NULL}, &p),
        1);
    ck_assert_int_eq(harness_count_in_file(p.err, "a node name"), 1);
    ck_assert_int_eq(
        harness_run_ctl(h, &h->nodes[0], "none", (const char *const[]){"rtt", NULL}, &p), 2);
    ck_assert_int_eq(harness_run_ctl(h, &h->nodes[0], "three",
                                     (const char *const[]){"rtt", "n1", "n2", "n3", NULL}, &p),
                     2);
    /* The control request with a name that is not a string. */
    json_t *r = harness_call(&h->nodes[0], json_pack("{s:s,s:i}", "cmd", "rtt", "a", 5));
    ck_assert_ptr_nonnull(r);
    const char *e = json_string_value(json_object_get(r, "error"));
    ck_assert_msg(e != NULL && strstr(e, "a node name") != NULL, "rtt answered %s", e);
    json_decref(r);
}
END_TEST

int main(void)
{
    const struct harness_case cases[] = {
        {"estimate", rtt_test_estimate_between_members, 60},
        {"bad_names", rtt_test_bad_names_fail, 60},
    };
    return harness_run_cases("rtt_it", cases, sizeof(cases) / sizeof(cases[0]));
}
