/*
 * links_test.c - member links (agent/links.c): member devices driven by
 * events, client monitors and their once-only reports, re-entrant callbacks.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "events.h"
#include "links.h"

#define REPORTS_MAX 4096

struct rec {
    uint64_t client, cookie;
    char member[SWIM_NAME_MAX + 1];
    enum ml_reason reason;
};

struct reports {
    struct rec r[REPORTS_MAX];
    size_t n;
    struct ml *m;
    int delete_on_report; /* delete the reporting client from the callback */
    int monitor_again;    /* open a new client from the callback */
};

static struct reports *lg;
static struct ml *m;

static void on_report(void *ctx, const struct ml_report *rep)
{
    struct reports *l = ctx;
    ck_assert_uint_lt(l->n, REPORTS_MAX);
    struct rec *r = &l->r[l->n++];
    r->client = rep->client;
    r->cookie = rep->cookie;
    snprintf(r->member, sizeof(r->member), "%s", rep->member);
    r->reason = rep->reason;
    if (l->delete_on_report)
        ck_assert_int_eq(ml_client_delete(l->m, rep->client), 0);
    if (l->monitor_again) {
        l->monitor_again = 0;
        const char *names[] = {"n2"};
        uint64_t id;
        ck_assert_int_eq(ml_client_new(l->m, 99, names, 1, &id), 0);
    }
}

static void setup(void)
{
    lg = calloc(1, sizeof(*lg));
    m = ml_new(on_report, lg);
    ck_assert_ptr_nonnull(m);
    lg->m = m;
}

static void teardown(void)
{
    ml_delete(m);
    free(lg);
}

static void apply(enum ev_type type, const char *name)
{
    struct ev_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = type;
    snprintf(ev.name, sizeof(ev.name), "%s", name);
    ck_assert_int_eq(ml_apply(m, &ev), 0);
}

static uint64_t monitor(uint64_t cookie, const char *a, const char *b)
{
    const char *names[] = {a, b};
    uint64_t id = 0;
    ck_assert_int_eq(ml_client_new(m, cookie, names, b != NULL ? 2 : 1, &id), 0);
    ck_assert_uint_ne(id, 0);
    return id;
}

static void expect(size_t i, uint64_t cookie, const char *member, enum ml_reason reason)
{
    ck_assert_uint_gt(lg->n, i);
    ck_assert_uint_eq(lg->r[i].cookie, cookie);
    ck_assert_str_eq(lg->r[i].member, member);
    ck_assert_str_eq(ml_reason_name(lg->r[i].reason), ml_reason_name(reason));
}

START_TEST(ml_test_join_creates_running_device)
{
    apply(EV_MEMBER_JOIN, "n1");
    apply(EV_MEMBER_UPDATE, "n1");
    apply(EV_MEMBER_SUSPECT, "n1");
    bp_id dev, dev2;
    int running = 0;
    ck_assert_int_eq(ml_member_device(m, "n1", &dev, &running), 0);
    ck_assert_int_eq(running, 1);
    apply(EV_MEMBER_ALIVE, "n1");
    ck_assert_int_eq(ml_member_device(m, "n1", &dev2, &running), 0);
    ck_assert_uint_eq(dev, dev2); /* still the same device */
    ck_assert_uint_eq(ml_member_count(m), 1);
    ck_assert_int_eq(ml_member_device(m, "n9", &dev, &running), ERR_NOTFOUND);
    apply(EV_SELF_ACTIVE, "self"); /* not a member event: ignored */
    ck_assert_uint_eq(ml_member_count(m), 1);
}
END_TEST

START_TEST(ml_test_failure_reports_each_monitor_once)
{
    apply(EV_MEMBER_JOIN, "n1");
    apply(EV_MEMBER_JOIN, "n2");
    uint64_t a = monitor(1, "n1", "n2");
    monitor(2, "n1", "n1"); /* the same name twice counts once */
    ck_assert_uint_eq(lg->n, 0);
    apply(EV_MEMBER_FAILED, "n1");
    ck_assert_uint_eq(lg->n, 2);
    int seen1 = 0, seen2 = 0;
    for (size_t i = 0; i < 2; i++) {
        ck_assert_str_eq(lg->r[i].member, "n1");
        ck_assert_int_eq(lg->r[i].reason, ML_FAILED);
        seen1 += lg->r[i].cookie == 1;
        seen2 += lg->r[i].cookie == 2;
        if (lg->r[i].cookie == 1)
            ck_assert_uint_eq(lg->r[i].client, a);
    }
    ck_assert_int_eq(seen1, 1);
    ck_assert_int_eq(seen2, 1);
    /* A device stops once: nothing more for n1. */
    apply(EV_MEMBER_FAILED, "n1");
    apply(EV_MEMBER_LEAVE, "n1");
    ck_assert_uint_eq(lg->n, 2);
    size_t pending = 9;
    ck_assert_int_eq(ml_client_pending(m, a, &pending), 0);
    ck_assert_uint_eq(pending, 1); /* n2 */
    bp_id dev;
    int running = 1;
    ck_assert_int_eq(ml_member_device(m, "n1", &dev, &running), 0);
    ck_assert_int_eq(running, 0);
    struct bp_fault f;
    ck_assert_int_eq(bp_device_fault(ml_backplane(m), dev, &f), 0);
    ck_assert_int_eq(f.kind, BP_FAULT_ERROR);
    ck_assert_str_eq(f.text, "failed");
}
END_TEST

START_TEST(ml_test_leave_reports_left)
{
    apply(EV_MEMBER_JOIN, "n1");
    apply(EV_MEMBER_JOIN, "n2");
    uint64_t a = monitor(5, "n1", "n2");
    apply(EV_MEMBER_LEAVE, "n2");
    ck_assert_uint_eq(lg->n, 1);
    expect(0, 5, "n2", ML_LEFT);
    ck_assert_uint_eq(lg->r[0].client, a);
    apply(EV_MEMBER_FAILED, "n2"); /* already stopped cleanly */
    ck_assert_uint_eq(lg->n, 1);
    bp_id dev;
    ck_assert_int_eq(ml_member_device(m, "n2", &dev, NULL), 0);
    struct bp_fault f;
    ck_assert_int_eq(bp_device_fault(ml_backplane(m), dev, &f), 0);
    ck_assert_int_eq(f.kind, BP_FAULT_NONE);
}
END_TEST

START_TEST(ml_test_rejoin_after_failure_gets_new_device)
{
    apply(EV_MEMBER_JOIN, "n1");
    monitor(1, "n1", NULL);
    bp_id old, now;
    ml_member_device(m, "n1", &old, NULL);
    apply(EV_MEMBER_FAILED, "n1");
    ck_assert_uint_eq(lg->n, 1);
    apply(EV_MEMBER_ALIVE, "n1"); /* renewed with a new generation */
    int running = 0;
    ck_assert_int_eq(ml_member_device(m, "n1", &now, &running), 0);
    ck_assert_int_eq(running, 1);
    ck_assert_uint_ne(old, now);
    ck_assert_int_eq(bp_device_state(ml_backplane(m), old, &(enum bp_state){0}), ERR_STALE);
    monitor(2, "n1", NULL);
    apply(EV_MEMBER_LEAVE, "n1");
    ck_assert_uint_eq(lg->n, 2); /* only the new monitor: the first was told already */
    expect(1, 2, "n1", ML_LEFT);
}
END_TEST

START_TEST(ml_test_unknown_member_reported_at_once)
{
    apply(EV_MEMBER_JOIN, "n1");
    const char *names[] = {"n1", "ghost"};
    uint64_t id = 0;
    ck_assert_int_eq(ml_client_new(m, 7, names, 2, &id), 0);
    ck_assert_uint_eq(lg->n, 1); /* before ml_client_new returned */
    expect(0, 7, "ghost", ML_UNKNOWN);
    ck_assert_uint_eq(lg->r[0].client, id);
    size_t pending = 0;
    ck_assert_int_eq(ml_client_pending(m, id, &pending), 0);
    ck_assert_uint_eq(pending, 1);
    /* The member appearing later changes nothing for this client. */
    apply(EV_MEMBER_JOIN, "ghost");
    apply(EV_MEMBER_FAILED, "ghost");
    ck_assert_uint_eq(lg->n, 1);
}
END_TEST

START_TEST(ml_test_already_failed_or_left_reported_at_once)
{
    apply(EV_MEMBER_JOIN, "n1");
    apply(EV_MEMBER_JOIN, "n2");
    apply(EV_MEMBER_FAILED, "n1");
    apply(EV_MEMBER_LEAVE, "n2");
    ck_assert_uint_eq(lg->n, 0);
    monitor(3, "n1", "n2");
    ck_assert_uint_eq(lg->n, 2);
    expect(0, 3, "n1", ML_FAILED);
    expect(1, 3, "n2", ML_LEFT);
    /* A failed notice for a member never seen still records how it ended. */
    apply(EV_MEMBER_FAILED, "late");
    monitor(4, "late", NULL);
    expect(2, 4, "late", ML_FAILED);
}
END_TEST

START_TEST(ml_test_removed_client_unlinks_everything)
{
    apply(EV_MEMBER_JOIN, "n1");
    apply(EV_MEMBER_JOIN, "n2");
    uint64_t a = monitor(1, "n1", "n2");
    bp_id dev;
    ml_member_device(m, "n1", &dev, NULL);
    size_t links = 9;
    ck_assert_int_eq(bp_device_links(ml_backplane(m), dev, &links), 0);
    ck_assert_uint_eq(links, 1);
    size_t devices = bp_device_count(ml_backplane(m));
    ck_assert_int_eq(ml_client_delete(m, a), 0);
    ck_assert_int_eq(ml_client_delete(m, a), ERR_NOTFOUND);
    ck_assert_uint_eq(bp_device_count(ml_backplane(m)), devices - 1);
    ck_assert_int_eq(bp_device_links(ml_backplane(m), dev, &links), 0);
    ck_assert_uint_eq(links, 0);
    apply(EV_MEMBER_FAILED, "n1");
    apply(EV_MEMBER_LEAVE, "n2");
    ck_assert_uint_eq(lg->n, 0);
    ck_assert_int_eq(ml_client_delete(m, dev), ERR_NOTFOUND); /* a member is no client */
}
END_TEST

START_TEST(ml_test_reap_forgets_member)
{
    apply(EV_MEMBER_JOIN, "n1");
    apply(EV_MEMBER_FAILED, "n1");
    apply(EV_MEMBER_REAP, "n1");
    ck_assert_uint_eq(ml_member_count(m), 0);
    ck_assert_uint_eq(bp_device_count(ml_backplane(m)), 0);
    apply(EV_MEMBER_REAP, "n1"); /* twice: fine */
    monitor(1, "n1", NULL);
    expect(0, 1, "n1", ML_UNKNOWN);
}
END_TEST

START_TEST(ml_test_callback_may_delete_and_create_clients)
{
    apply(EV_MEMBER_JOIN, "n1");
    apply(EV_MEMBER_JOIN, "n2");
    monitor(1, "n1", "n2");
    monitor(2, "n1", NULL);
    lg->delete_on_report = 1; /* `monitor` exits at its first report */
    apply(EV_MEMBER_FAILED, "n1");
    ck_assert_uint_eq(lg->n, 2);
    lg->delete_on_report = 0;
    apply(EV_MEMBER_FAILED, "n2"); /* client 1 is gone: no report */
    ck_assert_uint_eq(lg->n, 2);
    /* A callback opening a client whose member has already stopped: its
     * immediate report is delivered in the same drain. */
    apply(EV_MEMBER_JOIN, "n3");
    monitor(3, "n3", NULL);
    lg->monitor_again = 1;
    apply(EV_MEMBER_LEAVE, "n3");
    ck_assert_uint_eq(lg->n, 4);
    expect(2, 3, "n3", ML_LEFT);
    expect(3, 99, "n2", ML_FAILED);
}
END_TEST

START_TEST(ml_test_bad_arguments_refused)
{
    const char *many[ML_CLIENT_NAMES_MAX + 1];
    for (size_t i = 0; i <= ML_CLIENT_NAMES_MAX; i++)
        many[i] = "n1";
    uint64_t id;
    ck_assert_int_eq(ml_client_new(m, 1, many, ML_CLIENT_NAMES_MAX + 1, &id), ERR_TOOBIG);
    ck_assert_int_eq(ml_client_new(m, 1, many, 0, &id), ERR_INVAL);
    const char *empty[] = {""};
    ck_assert_int_eq(ml_client_new(m, 1, empty, 1, &id), ERR_INVAL);
    struct ev_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = EV_MEMBER_JOIN;
    ck_assert_int_eq(ml_apply(m, &ev), ERR_INVAL);
    ck_assert_int_eq(ml_member_set(m, "n1", (enum swim_status)77), ERR_INVAL);
    ck_assert_uint_eq(lg->n, 0);
    ck_assert_uint_eq(bp_device_count(ml_backplane(m)), 0);
}
END_TEST

START_TEST(ml_test_many_members_and_clients_each_told_once)
{
    char name[16];
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        ck_assert_int_eq(ml_member_set(m, name, SWIM_ALIVE), 0);
    }
    ck_assert_uint_eq(ml_member_count(m), 3000);
    for (int c = 0; c < 200; c++) {
        const char *names[10];
        char buf[10][16];
        for (int k = 0; k < 10; k++) {
            snprintf(buf[k], sizeof(buf[k]), "m%d", (c * 7 + k * 13) % 3000);
            names[k] = buf[k];
        }
        uint64_t id;
        ck_assert_int_eq(ml_client_new(m, (uint64_t)c, names, 10, &id), 0);
    }
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        ck_assert_int_eq(ml_member_set(m, name, i % 2 ? SWIM_FAILED : SWIM_LEFT), 0);
    }
    ck_assert_uint_eq(lg->n, 2000);
    for (size_t i = 0; i < lg->n; i++) {
        int num = atoi(lg->r[i].member + 1);
        ck_assert_int_eq(lg->r[i].reason, num % 2 ? ML_FAILED : ML_LEFT);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("links");
    TCase *tc = tcase_create("bridge");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, ml_test_join_creates_running_device);
    tcase_add_test(tc, ml_test_failure_reports_each_monitor_once);
    tcase_add_test(tc, ml_test_leave_reports_left);
    tcase_add_test(tc, ml_test_rejoin_after_failure_gets_new_device);
    tcase_add_test(tc, ml_test_unknown_member_reported_at_once);
    tcase_add_test(tc, ml_test_already_failed_or_left_reported_at_once);
    tcase_add_test(tc, ml_test_removed_client_unlinks_everything);
    tcase_add_test(tc, ml_test_reap_forgets_member);
    tcase_add_test(tc, ml_test_callback_may_delete_and_create_clients);
    tcase_add_test(tc, ml_test_bad_arguments_refused);
    tcase_add_test(tc, ml_test_many_members_and_clients_each_told_once);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
