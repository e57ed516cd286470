/*
 * backplane_test.c - Check suite for backplane/: link modes and exactly-once
 * delivery, stopping and faults, stale handles, handlers and re-entrancy, the
 * manage policy, and cascades over a 100,000-device chain and peer ring run on
 * a deliberately small stack.
 *
 * Each test gets a fresh backplane from the fixture.  Fork mode stays on;
 * debug one test with CK_FORK=no CK_RUN_CASE=... .
 */
#include "backplane.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Long enough that a cascade which recursed per device would blow a small
 * stack many times over. */
#define CHAIN_LEN 100000u

/* Far below what 100,000 nested frames need (even at 16 bytes a frame that is
 * 1.6 MB), yet ample for the flat drain loop even with ASan's larger frames. */
#define SMALL_STACK (256u * 1024u)

/* Enough links on one device to exercise list removal at head, middle, tail. */
#define HUB_SPOKES 12u

static struct bp *bp;

static void setup(void)
{
    bp = bp_new();
    ck_assert_ptr_nonnull(bp);
}

static void teardown(void)
{
    bp_delete(bp);
    bp = NULL;
}

static bp_id dev(void *data)
{
    bp_id id = BP_ID_NONE;
    ck_assert_int_eq(bp_device_new(bp, data, &id), 0);
    ck_assert(id != BP_ID_NONE);
    return id;
}

static enum bp_state state_of(bp_id id)
{
    enum bp_state s = 0;
    ck_assert_int_eq(bp_device_state(bp, id, &s), 0);
    return s;
}

static size_t links_of(bp_id id)
{
    size_t n = 99;
    ck_assert_int_eq(bp_device_links(bp, id, &n), 0);
    return n;
}

/* Asserts the inbox of `id` holds exactly one disconnect, from `from`, and
 * returns it. */
static struct bp_disconnect expect_one(bp_id id, bp_id from)
{
    struct bp_disconnect m;
    memset(&m, 0, sizeof(m));
    ck_assert_int_eq(bp_device_recv(bp, id, &m), 0);
    ck_assert(m.id == from);
    struct bp_disconnect extra;
    ck_assert_int_eq(bp_device_recv(bp, id, &extra), ERR_AGAIN);
    return m;
}

static void expect_none(bp_id id)
{
    struct bp_disconnect m;
    ck_assert_int_eq(bp_device_recv(bp, id, &m), ERR_AGAIN);
}

/* What a recording handler saw. */
struct rec {
    int calls;
    int depth;     /* handler calls currently on the stack */
    int max_depth; /* deepest nesting seen */
    bp_id self;
    struct bp_disconnect last;
};

static void rec_handler(struct bp *b, bp_id self, void *data, const struct bp_disconnect *msg)
{
    (void)b;
    struct rec *r = data;
    r->calls++;
    r->self = self;
    r->last = *msg;
}

static int cmp_id(const void *x, const void *y)
{
    bp_id a = *(const bp_id *)x, b = *(const bp_id *)y;
    return (a > b) - (a < b);
}

/* ---- devices and ids ---- */

START_TEST(bp_test_new_device_is_running)
{
    int token = 7;
    bp_id a = dev(&token);
    void *data = NULL;
    ck_assert_int_eq(state_of(a), BP_RUNNING);
    ck_assert_uint_eq(links_of(a), 0);
    ck_assert_int_eq(bp_device_data(bp, a, &data), 0);
    ck_assert_ptr_eq(data, &token);
    struct bp_fault f;
    ck_assert_int_eq(bp_device_fault(bp, a, &f), ERR_STATE);
    ck_assert_uint_eq(bp_device_count(bp), 1);
    expect_none(a);
}
END_TEST

START_TEST(bp_test_ids_are_never_reused)
{
    enum { ROUNDS = 3000 };
    bp_id *ids = calloc(2 * ROUNDS, sizeof(*ids));
    ck_assert_ptr_nonnull(ids);
    bp_id keep = dev(NULL);
    for (int i = 0; i < ROUNDS; i++) {
        /* Delete in both orders so slots are recycled LIFO and out of order. */
        ids[2 * i] = dev(NULL);
        ids[2 * i + 1] = dev(NULL);
        ck_assert_int_eq(bp_device_delete(bp, ids[2 * i + (i & 1)]), 0);
        ck_assert_int_eq(bp_device_delete(bp, ids[2 * i + 1 - (i & 1)]), 0);
    }
    qsort(ids, 2 * ROUNDS, sizeof(*ids), cmp_id);
    for (int i = 1; i < 2 * ROUNDS; i++) {
        ck_assert(ids[i] != ids[i - 1]);
        ck_assert(ids[i] != keep);
    }
    ck_assert_uint_eq(bp_device_count(bp), 1);
    free(ids);
}
END_TEST

/* ---- link modes and exactly-once delivery ---- */

START_TEST(bp_test_monitor_tells_me_once)
{
    bp_id a = dev(NULL), b = dev(NULL);
    ck_assert_int_eq(bp_link(bp, a, b, BP_MONITOR), 0);
    struct bp_fault f = bp_fault_error(ERR_TIMEOUT, "suspicion confirmed");
    ck_assert_int_eq(bp_device_stop(bp, b, &f), 0);
    struct bp_disconnect m = expect_one(a, b);
    ck_assert_int_eq(m.fault.kind, BP_FAULT_ERROR);
    ck_assert_int_eq(m.fault.code, ERR_TIMEOUT);
    ck_assert_str_eq(m.fault.text, "suspicion confirmed");
    ck_assert(m.fault.origin == b);
    expect_none(b);
}
END_TEST

START_TEST(bp_test_monitor_is_one_way)
{
    bp_id a = dev(NULL), b = dev(NULL);
    ck_assert_int_eq(bp_link(bp, a, b, BP_MONITOR), 0);
    ck_assert_int_eq(bp_device_stop(bp, a, NULL), 0);
    expect_none(b);
    expect_none(a);
    ck_assert_uint_eq(links_of(b), 0);
}
END_TEST

START_TEST(bp_test_notify_tells_the_other_once)
{
    bp_id a = dev(NULL), b = dev(NULL);
    ck_assert_int_eq(bp_link(bp, a, b, BP_NOTIFY), 0);
    ck_assert_int_eq(bp_device_stop(bp, a, NULL), 0);
    struct bp_disconnect m = expect_one(b, a);
    ck_assert_int_eq(m.fault.kind, BP_FAULT_NONE);
    expect_none(a);
}
END_TEST

START_TEST(bp_test_notify_is_one_way)
{
    bp_id a = dev(NULL), b = dev(NULL);
    ck_assert_int_eq(bp_link(bp, a, b, BP_NOTIFY), 0);
    ck_assert_int_eq(bp_device_stop(bp, b, NULL), 0);
    expect_none(a);
    expect_none(b);
    ck_assert_uint_eq(links_of(a), 0);
}
END_TEST

START_TEST(bp_test_peer_tells_both_ways)
{
    bp_id a = dev(NULL), b = dev(NULL), c = dev(NULL), d = dev(NULL);
    ck_assert_int_eq(bp_link(bp, a, b, BP_PEER), 0);
    ck_assert_int_eq(bp_link(bp, c, d, BP_PEER), 0);
    ck_assert_int_eq(bp_device_stop(bp, a, NULL), 0);
    ck_assert_int_eq(bp_device_stop(bp, d, NULL), 0);
    expect_one(b, a);
    expect_one(c, d);
    expect_none(a);
    expect_none(d);
}
END_TEST

START_TEST(bp_test_repeated_links_merge_into_one)
{
    bp_id a = dev(NULL), b = dev(NULL);
    unsigned mode = 0;
    ck_assert_int_eq(bp_link(bp, a, b, BP_MONITOR), 0);
    ck_assert_int_eq(bp_link(bp, a, b, BP_MONITOR), 0);
    ck_assert_int_eq(bp_link(bp, b, a, BP_NOTIFY), 0);
    ck_assert_int_eq(bp_link_mode(bp, a, b, &mode), 0);
    ck_assert_uint_eq(mode, BP_MONITOR);
    ck_assert_int_eq(bp_link(bp, b, a, BP_MONITOR), 0);
    ck_assert_int_eq(bp_link_mode(bp, a, b, &mode), 0);
    ck_assert_uint_eq(mode, BP_PEER);
    ck_assert_uint_eq(links_of(a), 1);
    ck_assert_uint_eq(links_of(b), 1);
    ck_assert_int_eq(bp_device_stop(bp, b, NULL), 0);
    expect_one(a, b);
}
END_TEST

START_TEST(bp_test_stop_removes_all_links)
{
    bp_id hub = dev(NULL), spoke[HUB_SPOKES];
    for (unsigned i = 0; i < HUB_SPOKES; i++) {
        spoke[i] = dev(NULL);
        /* Cycle through the three modes as seen from the spoke. */
        enum bp_link_mode mode = (enum bp_link_mode)(1u + i % 3u);
        ck_assert_int_eq(bp_link(bp, spoke[i], hub, mode), 0);
    }
    /* A link between two spokes must survive the hub's stop. */
    ck_assert_int_eq(bp_link(bp, spoke[0], spoke[1], BP_PEER), 0);
    ck_assert_uint_eq(links_of(hub), HUB_SPOKES);
    ck_assert_int_eq(bp_device_stop(bp, hub, NULL), 0);
    ck_assert_uint_eq(links_of(hub), 0);
    for (unsigned i = 0; i < HUB_SPOKES; i++) {
        enum bp_link_mode mode = (enum bp_link_mode)(1u + i % 3u);
        ck_assert_uint_eq(links_of(spoke[i]), i < 2 ? 1 : 0);
        if (mode & BP_MONITOR) {
            expect_one(spoke[i], hub);
        } else {
            expect_none(spoke[i]);
        }
    }
    unsigned mode = 0;
    ck_assert_int_eq(bp_link_mode(bp, spoke[0], spoke[1], &mode), 0);
    ck_assert_uint_eq(mode, BP_PEER);
}
END_TEST

/* ---- stopping ---- */

START_TEST(bp_test_second_stop_is_refused)
{
    bp_id a = dev(NULL), b = dev(NULL);
    ck_assert_int_eq(bp_link(bp, a, b, BP_MONITOR), 0);
    struct bp_fault first = bp_fault_error(ERR_IO, "first");
    struct bp_fault second = bp_fault_error(ERR_SYS, "second");
    ck_assert_int_eq(bp_device_stop(bp, b, &first), 0);
    ck_assert_int_eq(bp_device_stop(bp, b, &second), ERR_STATE);
    ck_assert_int_eq(bp_device_stop(bp, b, NULL), ERR_STATE);
    struct bp_fault f;
    ck_assert_int_eq(bp_device_fault(bp, b, &f), 0);
    ck_assert_int_eq(f.code, ERR_IO);
    ck_assert_str_eq(f.text, "first");
    expect_one(a, b);
}
END_TEST

START_TEST(bp_test_clean_stop_has_no_fault)
{
    bp_id a = dev(NULL);
    ck_assert_int_eq(bp_device_stop(bp, a, NULL), 0);
    struct bp_fault f;
    memset(&f, 0xff, sizeof(f));
    ck_assert_int_eq(bp_device_fault(bp, a, &f), 0);
    ck_assert_int_eq(f.kind, BP_FAULT_NONE);
    ck_assert_int_eq(f.code, 0);
    ck_assert(f.dep == BP_ID_NONE && f.origin == BP_ID_NONE);
    ck_assert_str_eq(f.text, "");
    ck_assert_int_eq(state_of(a), BP_STOPPED);
}
END_TEST

START_TEST(bp_test_long_fault_text_is_truncated)
{
    char text[3 * BP_FAULT_TEXT_MAX];
    memset(text, 'x', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    struct bp_fault f = bp_fault_error(ERR_IO, text);
    ck_assert_uint_eq(strlen(f.text), BP_FAULT_TEXT_MAX - 1);
    ck_assert_int_eq(strncmp(f.text, text, BP_FAULT_TEXT_MAX - 1), 0);
}
END_TEST

START_TEST(bp_test_delete_running_notifies_monitors)
{
    bp_id a = dev(NULL), b = dev(NULL);
    ck_assert_int_eq(bp_link(bp, a, b, BP_MONITOR), 0);
    ck_assert_int_eq(bp_device_delete(bp, b), 0);
    struct bp_disconnect m = expect_one(a, b);
    ck_assert_int_eq(m.fault.kind, BP_FAULT_ERROR);
    ck_assert_int_eq(m.fault.code, ERR_CLOSED);
    ck_assert_uint_eq(bp_device_count(bp), 1);
}
END_TEST

START_TEST(bp_test_bad_arguments_are_invalid)
{
    bp_id a = dev(NULL), b = dev(NULL);
    ck_assert_int_eq(bp_link(bp, a, a, BP_PEER), ERR_INVAL);
    ck_assert_int_eq(bp_link(bp, a, b, (enum bp_link_mode)0), ERR_INVAL);
    ck_assert_int_eq(bp_link(bp, a, b, (enum bp_link_mode)4), ERR_INVAL);
    ck_assert_int_eq(bp_unlink(bp, a, b, (enum bp_link_mode)0), ERR_INVAL);
    struct bp_fault f = bp_fault_none();
    f.kind = (enum bp_fault_kind)42;
    ck_assert_int_eq(bp_device_stop(bp, a, &f), ERR_INVAL);
    ck_assert_int_eq(state_of(a), BP_RUNNING);
    ck_assert_uint_eq(links_of(a), 0);
}
END_TEST

/* ---- stale handles ---- */

START_TEST(bp_test_stale_handle_is_an_error)
{
    bp_id a = dev(NULL), b = dev(NULL);
    ck_assert_int_eq(bp_link(bp, a, b, BP_PEER), 0);
    ck_assert_int_eq(bp_device_delete(bp, b), 0);
    expect_one(a, b);

    enum bp_state s;
    struct bp_fault f = bp_fault_none();
    struct bp_disconnect m;
    void *data;
    size_t n;
    unsigned mode;
    ck_assert_int_eq(bp_device_stop(bp, b, &f), ERR_STALE);
    ck_assert_int_eq(bp_device_delete(bp, b), ERR_STALE);
    ck_assert_int_eq(bp_device_state(bp, b, &s), ERR_STALE);
    ck_assert_int_eq(bp_device_fault(bp, b, &f), ERR_STALE);
    ck_assert_int_eq(bp_device_data(bp, b, &data), ERR_STALE);
    ck_assert_int_eq(bp_device_links(bp, b, &n), ERR_STALE);
    ck_assert_int_eq(bp_device_set_handler(bp, b, rec_handler), ERR_STALE);
    ck_assert_int_eq(bp_device_set_manage(bp, b, true), ERR_STALE);
    ck_assert_int_eq(bp_device_recv(bp, b, &m), ERR_STALE);
    ck_assert_int_eq(bp_link(bp, a, b, BP_MONITOR), ERR_STALE);
    ck_assert_int_eq(bp_link(bp, b, a, BP_MONITOR), ERR_STALE);
    ck_assert_int_eq(bp_unlink(bp, a, b, BP_PEER), ERR_STALE);
    ck_assert_int_eq(bp_link_mode(bp, a, b, &mode), ERR_STALE);

    /* The slot comes back with a new generation; the old handle stays stale. */
    bp_id c = dev(NULL);
    ck_assert((uint32_t)c == (uint32_t)b);
    ck_assert(c != b);
    ck_assert_int_eq(bp_device_state(bp, b, &s), ERR_STALE);
    ck_assert_int_eq(bp_device_stop(bp, b, NULL), ERR_STALE);
    ck_assert_int_eq(state_of(c), BP_RUNNING);

    /* Ids never handed out are refused the same way. */
    ck_assert_int_eq(bp_device_state(bp, BP_ID_NONE, &s), ERR_STALE);
    ck_assert_int_eq(bp_device_state(bp, ((bp_id)1 << 32) | 0x7fffffffu, &s), ERR_STALE);
    ck_assert_int_eq(bp_device_state(bp, c + ((bp_id)1 << 32), &s), ERR_STALE);
}
END_TEST

/* ---- linking to a stopped device ---- */

START_TEST(bp_test_link_to_stopped_delivers_at_once)
{
    bp_id a = dev(NULL), b = dev(NULL);
    struct bp_fault f = bp_fault_error(ERR_TIMEOUT, "gone");
    ck_assert_int_eq(bp_device_stop(bp, b, &f), 0);
    ck_assert_int_eq(bp_link(bp, a, b, BP_MONITOR), 0);
    struct bp_disconnect m = expect_one(a, b);
    ck_assert_int_eq(m.fault.kind, BP_FAULT_ERROR);
    ck_assert_int_eq(m.fault.code, ERR_TIMEOUT);
    ck_assert_str_eq(m.fault.text, "gone");
    ck_assert_uint_eq(links_of(a), 0);
    ck_assert_uint_eq(links_of(b), 0);
}
END_TEST

START_TEST(bp_test_link_to_stopped_runs_handler_before_returning)
{
    struct rec r = {0};
    bp_id a = dev(&r), b = dev(NULL);
    ck_assert_int_eq(bp_device_set_handler(bp, a, rec_handler), 0);
    ck_assert_int_eq(bp_device_stop(bp, b, NULL), 0);
    ck_assert_int_eq(bp_link(bp, a, b, BP_PEER), 0);
    ck_assert_int_eq(r.calls, 1);
    ck_assert(r.last.id == b);
    ck_assert(r.self == a);
    expect_none(a);
}
END_TEST

START_TEST(bp_test_notify_link_to_stopped_sends_nothing)
{
    bp_id a = dev(NULL), b = dev(NULL);
    ck_assert_int_eq(bp_device_stop(bp, b, NULL), 0);
    ck_assert_int_eq(bp_link(bp, a, b, BP_NOTIFY), 0);
    expect_none(a);
    expect_none(b);
    ck_assert_uint_eq(links_of(a), 0);
}
END_TEST

START_TEST(bp_test_link_from_stopped_is_refused)
{
    bp_id a = dev(NULL), b = dev(NULL);
    ck_assert_int_eq(bp_device_stop(bp, a, NULL), 0);
    ck_assert_int_eq(bp_link(bp, a, b, BP_MONITOR), ERR_STATE);
    ck_assert_uint_eq(links_of(b), 0);
    expect_none(a);
}
END_TEST

/* ---- unlinking ---- */

START_TEST(bp_test_unlink_before_stop_sends_nothing)
{
    bp_id a = dev(NULL), b = dev(NULL);
    ck_assert_int_eq(bp_link(bp, a, b, BP_PEER), 0);
    ck_assert_int_eq(bp_unlink(bp, a, b, BP_PEER), 0);
    ck_assert_uint_eq(links_of(a), 0);
    ck_assert_uint_eq(links_of(b), 0);
    ck_assert_int_eq(bp_device_stop(bp, b, NULL), 0);
    ck_assert_int_eq(bp_device_stop(bp, a, NULL), 0);
    expect_none(a);
    expect_none(b);
}
END_TEST

START_TEST(bp_test_unlink_one_direction_keeps_the_other)
{
    bp_id a = dev(NULL), b = dev(NULL);
    unsigned mode = 0;
    ck_assert_int_eq(bp_link(bp, a, b, BP_PEER), 0);
    ck_assert_int_eq(bp_unlink(bp, a, b, BP_MONITOR), 0);
    ck_assert_int_eq(bp_link_mode(bp, a, b, &mode), 0);
    ck_assert_uint_eq(mode, BP_NOTIFY);
    ck_assert_int_eq(bp_link_mode(bp, b, a, &mode), 0);
    ck_assert_uint_eq(mode, BP_MONITOR);
    ck_assert_int_eq(bp_device_stop(bp, a, NULL), 0);
    expect_one(b, a);
    expect_none(a);
}
END_TEST

START_TEST(bp_test_unlink_missing_is_notfound)
{
    bp_id a = dev(NULL), b = dev(NULL);
    unsigned mode = 0;
    ck_assert_int_eq(bp_unlink(bp, a, b, BP_PEER), ERR_NOTFOUND);
    ck_assert_int_eq(bp_link(bp, a, b, BP_MONITOR), 0);
    ck_assert_int_eq(bp_unlink(bp, a, b, BP_NOTIFY), ERR_NOTFOUND);
    ck_assert_int_eq(bp_link_mode(bp, a, b, &mode), 0);
    ck_assert_uint_eq(mode, BP_MONITOR);
}
END_TEST

/* ---- handlers and re-entrancy ---- */

START_TEST(bp_test_handler_replaces_inbox)
{
    struct rec r = {0};
    bp_id a = dev(&r), b = dev(NULL);
    ck_assert_int_eq(bp_device_set_handler(bp, a, rec_handler), 0);
    ck_assert_int_eq(bp_link(bp, a, b, BP_MONITOR), 0);
    struct bp_fault f = bp_fault_error(ERR_IO, "io");
    ck_assert_int_eq(bp_device_stop(bp, b, &f), 0);
    ck_assert_int_eq(r.calls, 1);
    ck_assert(r.self == a);
    ck_assert(r.last.id == b);
    ck_assert_int_eq(r.last.fault.code, ERR_IO);
    expect_none(a);
}
END_TEST

/* Handler for the stop-inside-handler test: on its first disconnect, stops
 * every device in the BP_ID_NONE-terminated list it was given, then itself. */
struct stopper {
    int calls;
    bp_id self;
    bp_id victims[4];
};

static void stopper_handler(struct bp *b, bp_id self, void *data, const struct bp_disconnect *msg)
{
    struct stopper *s = data;
    if (++s->calls > 1) {
        return; /* later disconnects find everything already stopped */
    }
    struct bp_fault f = bp_fault_cascade(msg->id, &msg->fault);
    for (int i = 0; i < 4 && s->victims[i] != BP_ID_NONE; i++) {
        ck_assert_int_eq(bp_device_stop(b, s->victims[i], &f), 0);
    }
    ck_assert_int_eq(bp_device_stop(b, self, &f), 0);
}

START_TEST(bp_test_stop_inside_handler)
{
    struct stopper s = {0};
    bp_id trigger = dev(NULL), x = dev(&s), y = dev(NULL), z = dev(NULL);
    bp_id my = dev(NULL), mz = dev(NULL), mx = dev(NULL);
    s.victims[0] = y;
    s.victims[1] = z;
    ck_assert_int_eq(bp_device_set_handler(bp, x, stopper_handler), 0);
    ck_assert_int_eq(bp_link(bp, x, trigger, BP_MONITOR), 0);
    ck_assert_int_eq(bp_link(bp, my, y, BP_MONITOR), 0);
    ck_assert_int_eq(bp_link(bp, mz, z, BP_MONITOR), 0);
    ck_assert_int_eq(bp_link(bp, mx, x, BP_MONITOR), 0);
    /* y also peers with x: x's stop must not tell y twice, nor y x. */
    ck_assert_int_eq(bp_link(bp, y, x, BP_PEER), 0);
    struct bp_fault f = bp_fault_error(ERR_IO, "trigger");
    ck_assert_int_eq(bp_device_stop(bp, trigger, &f), 0);
    ck_assert_int_eq(s.calls, 2); /* trigger's disconnect, then y's (peer) */
    ck_assert_int_eq(state_of(x), BP_STOPPED);
    ck_assert_int_eq(state_of(y), BP_STOPPED);
    ck_assert_int_eq(state_of(z), BP_STOPPED);
    struct bp_disconnect m = expect_one(my, y);
    ck_assert_int_eq(m.fault.kind, BP_FAULT_CASCADE);
    ck_assert(m.fault.dep == trigger);
    ck_assert(m.fault.origin == trigger);
    expect_one(mz, z);
    expect_one(mx, x);
    expect_none(y);
}
END_TEST

static void delete_self_handler(struct bp *b, bp_id self, void *data,
                                const struct bp_disconnect *msg)
{
    (void)msg;
    struct stopper *s = data;
    s->calls++;
    ck_assert_int_eq(bp_device_delete(b, self), 0);
    for (int i = 0; i < 4 && s->victims[i] != BP_ID_NONE; i++) {
        ck_assert_int_eq(bp_device_delete(b, s->victims[i]), 0);
    }
}

START_TEST(bp_test_delete_inside_handler)
{
    /* x and w both monitor the trigger; whichever handler runs first deletes
     * itself and the other, whose queued disconnect must then be dropped. */
    struct stopper sx = {0}, sw = {0};
    bp_id trigger = dev(NULL), x = dev(&sx), w = dev(&sw), watcher = dev(NULL);
    sx.victims[0] = w;
    sw.victims[0] = x;
    ck_assert_int_eq(bp_device_set_handler(bp, x, delete_self_handler), 0);
    ck_assert_int_eq(bp_device_set_handler(bp, w, delete_self_handler), 0);
    ck_assert_int_eq(bp_link(bp, x, trigger, BP_MONITOR), 0);
    ck_assert_int_eq(bp_link(bp, w, trigger, BP_MONITOR), 0);
    ck_assert_int_eq(bp_link(bp, watcher, w, BP_MONITOR), 0);
    ck_assert_int_eq(bp_device_stop(bp, trigger, NULL), 0);
    ck_assert_int_eq(sx.calls + sw.calls, 1);
    enum bp_state st;
    ck_assert_int_eq(bp_device_state(bp, x, &st), ERR_STALE);
    ck_assert_int_eq(bp_device_state(bp, w, &st), ERR_STALE);
    struct bp_disconnect m = expect_one(watcher, w);
    ck_assert_int_eq(m.fault.code, ERR_CLOSED);
    ck_assert_uint_eq(bp_device_count(bp), 2);
}
END_TEST

/* Links to an already-stopped device from inside a handler, and records how
 * deeply handler calls nest. */
static bp_id nest_dead;

static void nesting_handler(struct bp *b, bp_id self, void *data, const struct bp_disconnect *msg)
{
    struct rec *r = data;
    r->calls++;
    r->depth++;
    if (r->depth > r->max_depth) {
        r->max_depth = r->depth;
    }
    if (msg->id != nest_dead) {
        ck_assert_int_eq(bp_link(b, self, nest_dead, BP_MONITOR), 0);
        ck_assert_int_eq(r->calls, 1); /* not delivered inside this call */
    }
    r->depth--;
}

START_TEST(bp_test_handlers_never_nest)
{
    struct rec r = {0};
    bp_id a = dev(&r), b = dev(NULL);
    nest_dead = dev(NULL);
    ck_assert_int_eq(bp_device_stop(bp, nest_dead, NULL), 0);
    ck_assert_int_eq(bp_device_set_handler(bp, a, nesting_handler), 0);
    ck_assert_int_eq(bp_link(bp, a, b, BP_MONITOR), 0);
    ck_assert_int_eq(bp_device_stop(bp, b, NULL), 0);
    ck_assert_int_eq(r.calls, 2);
    ck_assert_int_eq(r.max_depth, 1);
}
END_TEST

/* ---- the manage policy ---- */

START_TEST(bp_test_manage_cascades_on_fault)
{
    bp_id a = dev(NULL), b = dev(NULL), c = dev(NULL);
    ck_assert_int_eq(bp_device_set_manage(bp, a, true), 0);
    ck_assert_int_eq(bp_link(bp, a, b, BP_MONITOR), 0);
    ck_assert_int_eq(bp_link(bp, c, a, BP_MONITOR), 0);
    struct bp_fault f = bp_fault_error(ERR_TIMEOUT, "member failed");
    ck_assert_int_eq(bp_device_stop(bp, b, &f), 0);
    ck_assert_int_eq(state_of(a), BP_STOPPED);
    struct bp_fault af;
    ck_assert_int_eq(bp_device_fault(bp, a, &af), 0);
    ck_assert_int_eq(af.kind, BP_FAULT_CASCADE);
    ck_assert(af.dep == b);
    ck_assert_int_eq(af.dep_kind, BP_FAULT_ERROR);
    ck_assert(af.origin == b);
    ck_assert_int_eq(af.code, ERR_TIMEOUT);
    ck_assert_str_eq(af.text, "member failed");
    struct bp_disconnect m = expect_one(c, a);
    ck_assert_int_eq(m.fault.kind, BP_FAULT_CASCADE);
    ck_assert(m.fault.dep == b);
    /* With no handler the disconnect still reaches a's inbox. */
    expect_one(a, b);
}
END_TEST

START_TEST(bp_test_manage_stays_running_on_clean_stop)
{
    bp_id a = dev(NULL), b = dev(NULL), c = dev(NULL);
    ck_assert_int_eq(bp_device_set_manage(bp, a, true), 0);
    ck_assert_int_eq(bp_link(bp, a, b, BP_PEER), 0);
    ck_assert_int_eq(bp_link(bp, c, a, BP_MONITOR), 0);
    ck_assert_int_eq(bp_device_stop(bp, b, NULL), 0);
    ck_assert_int_eq(state_of(a), BP_RUNNING);
    ck_assert_uint_eq(links_of(a), 1); /* only c's link is left */
    unsigned mode = 9;
    ck_assert_int_eq(bp_link_mode(bp, a, b, &mode), 0);
    ck_assert_uint_eq(mode, 0);
    struct bp_disconnect m = expect_one(a, b);
    ck_assert_int_eq(m.fault.kind, BP_FAULT_NONE);
    expect_none(c);
}
END_TEST

START_TEST(bp_test_manage_stops_once)
{
    /* x's handler stops b then c, so a's two disconnects are queued before
     * either is handled: the second must find a stopped, not stop it again. */
    struct stopper sx = {0};
    bp_id trigger = dev(NULL), x = dev(&sx), a = dev(NULL), b = dev(NULL), c = dev(NULL);
    sx.victims[0] = b;
    sx.victims[1] = c;
    ck_assert_int_eq(bp_device_set_handler(bp, x, stopper_handler), 0);
    ck_assert_int_eq(bp_link(bp, x, trigger, BP_MONITOR), 0);
    ck_assert_int_eq(bp_device_set_manage(bp, a, true), 0);
    ck_assert_int_eq(bp_link(bp, a, b, BP_MONITOR), 0);
    ck_assert_int_eq(bp_link(bp, a, c, BP_MONITOR), 0);
    struct bp_fault f = bp_fault_error(ERR_IO, "t");
    ck_assert_int_eq(bp_device_stop(bp, trigger, &f), 0);
    struct bp_fault af;
    ck_assert_int_eq(bp_device_fault(bp, a, &af), 0);
    ck_assert_int_eq(af.kind, BP_FAULT_CASCADE);
    ck_assert(af.dep == b);
    struct bp_disconnect m;
    ck_assert_int_eq(bp_device_recv(bp, a, &m), 0);
    ck_assert(m.id == b);
    expect_one(a, c);
}
END_TEST

START_TEST(bp_test_manage_then_handler_sees_message)
{
    struct rec r = {0};
    bp_id a = dev(&r), b = dev(NULL);
    ck_assert_int_eq(bp_device_set_manage(bp, a, true), 0);
    ck_assert_int_eq(bp_device_set_handler(bp, a, rec_handler), 0);
    ck_assert_int_eq(bp_link(bp, a, b, BP_MONITOR), 0);
    struct bp_fault f = bp_fault_error(ERR_IO, "x");
    ck_assert_int_eq(bp_device_stop(bp, b, &f), 0);
    ck_assert_int_eq(r.calls, 1);
    ck_assert(r.last.id == b);
    ck_assert_int_eq(state_of(a), BP_STOPPED); /* policy ran before the handler */
    expect_none(a);
}
END_TEST

/* ---- scale: long chains and rings on a small stack ---- */

struct job {
    bp_id id;
    struct bp_fault fault;
    int rc;
};

static void *job_main(void *p)
{
    struct job *j = p;
    j->rc = bp_device_stop(bp, j->id, &j->fault);
    return NULL;
}

/* Stops `id` on a thread whose stack is far too small for per-device
 * recursion, and returns bp_device_stop's result. */
static int stop_on_small_stack(bp_id id, const struct bp_fault *fault)
{
    struct job j = {.id = id, .fault = *fault, .rc = 1};
    pthread_attr_t attr;
    pthread_t t;
    ck_assert_int_eq(pthread_attr_init(&attr), 0);
    ck_assert_int_eq(pthread_attr_setstacksize(&attr, SMALL_STACK), 0);
    ck_assert_int_eq(pthread_create(&t, &attr, job_main, &j), 0);
    ck_assert_int_eq(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&attr);
    return j.rc;
}

/* Check reports every assertion's location to the parent process, which costs
 * microseconds, so loops over 100,000 devices note the first device that is
 * wrong (and why) and assert once afterwards. */
struct verdict {
    size_t device; /* first wrong device, or SIZE_MAX */
    const char *why;
};

#define VERDICT_OK ((struct verdict){SIZE_MAX, NULL})

#define EXPECT(v, i, cond)                                                                         \
    do {                                                                                           \
        if (!(cond) && (v).device == SIZE_MAX) {                                                   \
            (v).device = (i);                                                                      \
            (v).why = #cond;                                                                       \
        }                                                                                          \
    } while (0)

static void assert_verdict(struct verdict v)
{
    ck_assert_msg(v.device == SIZE_MAX, "device %zu: expected %s", v.device, v.why);
}

/* Counts, per device, the disconnects it received. */
struct counter {
    unsigned *calls; /* indexed by device number */
    bp_id *ids;      /* device number -> id */
    size_t n;
    size_t strays; /* handler calls for a device number out of range */
};

static struct counter counter;

static void count_handler(struct bp *b, bp_id self, void *data, const struct bp_disconnect *msg)
{
    (void)b;
    (void)self;
    (void)msg;
    size_t i = (size_t)(uintptr_t)data;
    if (i < counter.n) {
        counter.calls[i]++;
    } else {
        counter.strays++;
    }
}

static void counter_init(size_t n)
{
    counter.n = n;
    counter.calls = calloc(n, sizeof(*counter.calls));
    counter.ids = calloc(n, sizeof(*counter.ids));
    ck_assert_ptr_nonnull(counter.calls);
    ck_assert_ptr_nonnull(counter.ids);
    ck_assert_int_eq(bp_reserve(bp, n, n), 0);
    struct verdict v = VERDICT_OK;
    for (size_t i = 0; i < n; i++) {
        EXPECT(v, i, bp_device_new(bp, (void *)(uintptr_t)i, &counter.ids[i]) == 0);
        EXPECT(v, i, bp_device_set_manage(bp, counter.ids[i], true) == 0);
        EXPECT(v, i, bp_device_set_handler(bp, counter.ids[i], count_handler) == 0);
    }
    assert_verdict(v);
}

/* Links device i to device (i + 1) % n for i < last, with `mode` seen from i. */
static void counter_link(size_t last, enum bp_link_mode mode)
{
    struct verdict v = VERDICT_OK;
    for (size_t i = 0; i < last; i++) {
        EXPECT(v, i, bp_link(bp, counter.ids[i], counter.ids[(i + 1) % counter.n], mode) == 0);
    }
    assert_verdict(v);
}

static void counter_free(void)
{
    free(counter.calls);
    free(counter.ids);
    memset(&counter, 0, sizeof(counter));
}

START_TEST(bp_test_chain_cascade_100k)
{
    counter_init(CHAIN_LEN);
    bp_id *id = counter.ids;
    /* Device i + 1 depends on (is notified by) device i. */
    counter_link(CHAIN_LEN - 1, BP_NOTIFY);
    struct bp_fault f = bp_fault_error(ERR_IO, "root cause");
    ck_assert_int_eq(stop_on_small_stack(id[0], &f), 0);
    ck_assert_uint_eq(counter.calls[0], 0);
    ck_assert_uint_eq(counter.strays, 0);
    struct verdict v = VERDICT_OK;
    for (size_t i = 1; i < CHAIN_LEN; i++) {
        struct bp_fault df;
        size_t nlinks = 99;
        memset(&df, 0, sizeof(df));
        EXPECT(v, i, counter.calls[i] == 1);
        EXPECT(v, i, bp_device_fault(bp, id[i], &df) == 0);
        EXPECT(v, i, df.kind == BP_FAULT_CASCADE);
        EXPECT(v, i, df.dep == id[i - 1]);
        EXPECT(v, i, df.origin == id[0]);
        EXPECT(v, i, df.dep_kind == (i == 1 ? BP_FAULT_ERROR : BP_FAULT_CASCADE));
        EXPECT(v, i, strcmp(df.text, "root cause") == 0);
        EXPECT(v, i, bp_device_links(bp, id[i], &nlinks) == 0 && nlinks == 0);
    }
    assert_verdict(v);
    counter_free();
}
END_TEST

/* Stops its own device through the public API, as an owner's handler would. */
static void stop_self_handler(struct bp *b, bp_id self, void *data, const struct bp_disconnect *msg)
{
    count_handler(b, self, data, msg);
    struct bp_fault f = bp_fault_cascade(msg->id, &msg->fault);
    if (bp_device_stop(b, self, &f) != 0) {
        counter.strays++;
    }
}

START_TEST(bp_test_chain_of_handler_stops_100k)
{
    counter_init(CHAIN_LEN);
    bp_id *id = counter.ids;
    struct verdict v = VERDICT_OK;
    for (size_t i = 0; i < CHAIN_LEN; i++) {
        EXPECT(v, i, bp_device_set_manage(bp, id[i], false) == 0);
        EXPECT(v, i, bp_device_set_handler(bp, id[i], stop_self_handler) == 0);
    }
    assert_verdict(v);
    counter_link(CHAIN_LEN - 1, BP_NOTIFY);
    struct bp_fault f = bp_fault_error(ERR_IO, "root cause");
    ck_assert_int_eq(stop_on_small_stack(id[0], &f), 0);
    ck_assert_uint_eq(counter.strays, 0);
    for (size_t i = 1; i < CHAIN_LEN; i++) {
        struct bp_fault df;
        memset(&df, 0, sizeof(df));
        EXPECT(v, i, counter.calls[i] == 1);
        EXPECT(v, i, bp_device_fault(bp, id[i], &df) == 0 && df.dep == id[i - 1]);
    }
    assert_verdict(v);
    counter_free();
}
END_TEST

START_TEST(bp_test_chain_cascade_stops_only_dependents)
{
    enum { N = 1000, CUT = 500 };
    counter_init(N);
    bp_id *id = counter.ids;
    counter_link(N - 1, BP_NOTIFY);
    struct bp_fault f = bp_fault_error(ERR_IO, "middle");
    ck_assert_int_eq(bp_device_stop(bp, id[CUT], &f), 0);
    struct verdict v = VERDICT_OK;
    for (size_t i = 0; i < N; i++) {
        enum bp_state st = 0;
        EXPECT(v, i, bp_device_state(bp, id[i], &st) == 0);
        EXPECT(v, i, st == (i < CUT ? BP_RUNNING : BP_STOPPED));
        EXPECT(v, i, counter.calls[i] == (i > CUT ? 1u : 0u));
    }
    assert_verdict(v);
    /* The link between CUT - 1 and CUT went with CUT's stop. */
    ck_assert_uint_eq(links_of(id[CUT - 1]), 1);
    counter_free();
}
END_TEST

START_TEST(bp_test_peer_ring_stops_each_once)
{
    counter_init(CHAIN_LEN);
    bp_id *id = counter.ids;
    counter_link(CHAIN_LEN, BP_PEER);
    struct bp_fault f = bp_fault_error(ERR_IO, "ring");
    ck_assert_int_eq(stop_on_small_stack(id[CHAIN_LEN / 2], &f), 0);
    ck_assert_uint_eq(counter.strays, 0);
    size_t total = 0;
    struct verdict v = VERDICT_OK;
    for (size_t i = 0; i < CHAIN_LEN; i++) {
        enum bp_state st = BP_RUNNING;
        struct bp_fault df;
        size_t nlinks = 99;
        memset(&df, 0, sizeof(df));
        EXPECT(v, i, bp_device_state(bp, id[i], &st) == 0 && st == BP_STOPPED);
        EXPECT(v, i, bp_device_stop(bp, id[i], NULL) == ERR_STATE);
        EXPECT(v, i, counter.calls[i] <= 2); /* at most one per neighbour */
        EXPECT(v, i, bp_device_links(bp, id[i], &nlinks) == 0 && nlinks == 0);
        EXPECT(v, i, bp_device_fault(bp, id[i], &df) == 0);
        EXPECT(v, i, df.origin == id[CHAIN_LEN / 2]);
        total += counter.calls[i];
    }
    assert_verdict(v);
    /* Every link yields exactly one disconnect: N links, N messages. */
    ck_assert_uint_eq(total, CHAIN_LEN);
    ck_assert_uint_eq(counter.calls[CHAIN_LEN / 2], 0);
    counter_free();
}
END_TEST

static Suite *backplane_suite(void)
{
    Suite *s = suite_create("backplane");

    TCase *tc = tcase_create("devices");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, bp_test_new_device_is_running);
    tcase_add_test(tc, bp_test_ids_are_never_reused);
    tcase_add_test(tc, bp_test_stale_handle_is_an_error);
    tcase_add_test(tc, bp_test_bad_arguments_are_invalid);
    suite_add_tcase(s, tc);

    tc = tcase_create("links");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, bp_test_monitor_tells_me_once);
    tcase_add_test(tc, bp_test_monitor_is_one_way);
    tcase_add_test(tc, bp_test_notify_tells_the_other_once);
    tcase_add_test(tc, bp_test_notify_is_one_way);
    tcase_add_test(tc, bp_test_peer_tells_both_ways);
    tcase_add_test(tc, bp_test_repeated_links_merge_into_one);
    tcase_add_test(tc, bp_test_link_to_stopped_delivers_at_once);
    tcase_add_test(tc, bp_test_link_to_stopped_runs_handler_before_returning);
    tcase_add_test(tc, bp_test_notify_link_to_stopped_sends_nothing);
    tcase_add_test(tc, bp_test_link_from_stopped_is_refused);
    tcase_add_test(tc, bp_test_unlink_before_stop_sends_nothing);
    tcase_add_test(tc, bp_test_unlink_one_direction_keeps_the_other);
    tcase_add_test(tc, bp_test_unlink_missing_is_notfound);
    suite_add_tcase(s, tc);

    tc = tcase_create("stopping");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, bp_test_stop_removes_all_links);
    tcase_add_test(tc, bp_test_second_stop_is_refused);
    tcase_add_test(tc, bp_test_clean_stop_has_no_fault);
    tcase_add_test(tc, bp_test_long_fault_text_is_truncated);
    tcase_add_test(tc, bp_test_delete_running_notifies_monitors);
    suite_add_tcase(s, tc);

    tc = tcase_create("handlers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, bp_test_handler_replaces_inbox);
    tcase_add_test(tc, bp_test_stop_inside_handler);
    tcase_add_test(tc, bp_test_delete_inside_handler);
    tcase_add_test(tc, bp_test_handlers_never_nest);
    tcase_add_test(tc, bp_test_manage_cascades_on_fault);
    tcase_add_test(tc, bp_test_manage_stays_running_on_clean_stop);
    tcase_add_test(tc, bp_test_manage_stops_once);
    tcase_add_test(tc, bp_test_manage_then_handler_sees_message);
    suite_add_tcase(s, tc);

    tc = tcase_create("scale");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, bp_test_chain_cascade_100k);
    tcase_add_test(tc, bp_test_chain_of_handler_stops_100k);
    tcase_add_test(tc, bp_test_chain_cascade_stops_only_dependents);
    tcase_add_test(tc, bp_test_peer_ring_stops_each_once);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(backplane_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
