/*
 * events_test.c - the event bus (agent/events.c): sequence numbers, history
 * replay for --since, lag reporting and repair, thread and fd subscribers,
 * JSON lines and the --type parser.
 */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "events.h"
#include "swim.h"

/* A member notification for "n<i>" at 127.0.0.1:(7000 + i). */
static struct swim_notification member_note(enum swim_event type, int i)
{
    static char names[8][16];
    struct swim_notification n;
    memset(&n, 0, sizeof(n));
    n.type = type;
    snprintf(names[i % 8], sizeof(names[0]), "n%d", i);
    n.member.name = names[i % 8];
    uint16_t port = (uint16_t)(7000 + i);
    uint8_t a[] = {4, 127, 0, 0, 1, (uint8_t)(port >> 8), (uint8_t)port};
    n.member.addr.len = sizeof(a);
    memcpy(n.member.addr.bytes, a, sizeof(a));
    n.member.status = type == SWIM_EV_MEMBER_FAILED ? SWIM_FAILED : SWIM_ALIVE;
    n.member.incarnation = 3;
    n.member.generation = 1000 + (uint64_t)i;
    return n;
}

static void publish_n(struct ev_bus *bus, int count)
{
    for (int i = 0; i < count; i++) {
        struct swim_notification n = member_note(SWIM_EV_MEMBER_JOINED, i);
        ck_assert_int_eq(ev_bus_publish(bus, &n, 5, NULL), 0);
    }
}

static struct ev_sub *open_sub(struct ev_bus *bus, const char *name, size_t cap,
                               enum ev_lag_mode lag)
{
    struct ev_sub_config sc = {.name = name, .capacity = cap, .lag = lag};
    struct ev_sub *s = NULL;
    ck_assert_int_eq(ev_sub_open(bus, &sc, &s, NULL), 0);
    return s;
}

/* Read the next item, which must be the event with sequence want. */
static void expect_event(struct ev_sub *s, uint64_t want, struct ev_event *ev)
{
    struct ev_item it;
    ck_assert_int_eq(ev_sub_try_recv(s, &it, ev), 0);
    ck_assert_int_eq(it.kind, EV_ITEM_EVENT);
    ck_assert_uint_eq(it.seq, want);
    ck_assert_uint_eq(ev->seq, want);
}

START_TEST(ev_test_publish_assigns_consecutive_seqs)
{
    struct ev_bus *bus = ev_bus_new(NULL);
    ck_assert_ptr_nonnull(bus);
    struct ev_sub *s = open_sub(bus, "w", 0, EV_LAG_REPORT);
    for (int i = 0; i < 3; i++) {
        struct swim_notification n = member_note(SWIM_EV_MEMBER_JOINED, i);
        uint64_t seq = 0;
        ck_assert_int_eq(ev_bus_publish(bus, &n, 5, &seq), 0);
        ck_assert_uint_eq(seq, (uint64_t)i + 1);
    }
    ck_assert_uint_eq(ev_bus_clock(bus), 3);
    struct ev_event ev;
    for (uint64_t i = 1; i <= 3; i++)
        expect_event(s, i, &ev);
    struct ev_item it;
    ck_assert_int_eq(ev_sub_try_recv(s, &it, &ev), ERR_AGAIN);
    ev_sub_close(s);
    ev_bus_delete(bus);
}
END_TEST

START_TEST(ev_test_member_notification_fields_copied)
{
    struct ev_event ev;
    struct swim_notification n = member_note(SWIM_EV_MEMBER_FAILED, 2);
    uint8_t meta[] = {2, 'd', 'c', 2, 'e', 'u'};
    n.member.meta = meta;
    n.member.meta_len = sizeof(meta);
    ck_assert_int_eq(ev_from_notification(&ev, &n, 42), 0);
    ck_assert_int_eq(ev.type, EV_MEMBER_FAILED);
    ck_assert_str_eq(ev.name, "n2");
    ck_assert_str_eq(ev.addr, "127.0.0.1:7002");
    ck_assert_int_eq(ev.status, SWIM_FAILED);
    ck_assert_uint_eq(ev.incarnation, 3);
    ck_assert_uint_eq(ev.generation, 1002);
    ck_assert_uint_eq(ev.time_ms, 42);
    ck_assert_uint_eq(ev.tags_len, sizeof(meta));
    ck_assert_mem_eq(ev.tags, meta, sizeof(meta));
}
END_TEST

START_TEST(ev_test_user_payload_split_into_name_and_data)
{
    struct ev_event ev;
    struct swim_notification n;
    memset(&n, 0, sizeof(n));
    n.type = SWIM_EV_USER;
    uint8_t p[] = {6, 'd', 'e', 'p', 'l', 'o', 'y', 'v', '1', '.', '2'};
    n.user.origin = "n7";
    n.user.id = 9;
    n.user.payload = p;
    n.user.len = sizeof(p);
    ck_assert_int_eq(ev_from_notification(&ev, &n, 1), 0);
    ck_assert_int_eq(ev.type, EV_USER);
    ck_assert_str_eq(ev.user_name, "deploy");
    ck_assert_str_eq(ev.name, "n7");
    ck_assert_uint_eq(ev.data_len, 4);
    ck_assert_mem_eq(ev.data, "v1.2", 4);
    /* A name length running past the payload, an empty name, nothing at all. */
    p[0] = 20;
    ck_assert_int_eq(ev_from_notification(&ev, &n, 1), ERR_MALFORMED);
    p[0] = 0;
    ck_assert_int_eq(ev_from_notification(&ev, &n, 1), ERR_MALFORMED);
    n.user.len = 0;
    ck_assert_int_eq(ev_from_notification(&ev, &n, 1), ERR_MALFORMED);
}
END_TEST

START_TEST(ev_test_since_replays_exactly_the_missed_events)
{
    struct ev_bus *bus = ev_bus_new(NULL);
    publish_n(bus, 10);
    struct ev_sub_config sc = {.name = "w", .replay = 1, .since = 4};
    struct ev_sub *s = NULL;
    ck_assert_int_eq(ev_sub_open(bus, &sc, &s, NULL), 0);
    publish_n(bus, 2); /* 11, 12: live, after the replay */
    struct ev_event ev;
    for (uint64_t i = 5; i <= 12; i++)
        expect_event(s, i, &ev);
    ck_assert_str_eq(ev.name, "n1"); /* seq 12 is the second of the live batch */
    struct ev_item it;
    ck_assert_int_eq(ev_sub_try_recv(s, &it, &ev), ERR_AGAIN);
    ck_assert_uint_eq(ev_sub_position(s), 12);
    ev_sub_close(s);
    ev_bus_delete(bus);
}
END_TEST

START_TEST(ev_test_since_zero_replays_whole_history)
{
    struct ev_bus *bus = ev_bus_new(NULL);
    publish_n(bus, 3);
    struct ev_sub_config sc = {.name = "w", .replay = 1, .since = 0};
    struct ev_sub *s = NULL;
    ck_assert_int_eq(ev_sub_open(bus, &sc, &s, NULL), 0);
    struct ev_event ev;
    for (uint64_t i = 1; i <= 3; i++)
        expect_event(s, i, &ev);
    ev_sub_close(s);
    ev_bus_delete(bus);
}
END_TEST

START_TEST(ev_test_since_older_than_history_says_first_held)
{
    struct ev_bus_config bc = {.history = 8};
    struct ev_bus *bus = ev_bus_new(&bc);
    publish_n(bus, 20);
    ck_assert_uint_eq(ev_bus_first_held(bus), 13);
    struct ev_sub_config sc = {.name = "w", .replay = 1, .since = 5};
    struct ev_sub *s = NULL;
    uint64_t first = 0;
    ck_assert_int_eq(ev_sub_open(bus, &sc, &s, &first), ERR_STALE);
    ck_assert_uint_eq(first, 13);
    sc.since = 11; /* needs 12: gone too */
    ck_assert_int_eq(ev_sub_open(bus, &sc, &s, &first), ERR_STALE);
    sc.since = 12; /* needs 13 onwards: all held */
    ck_assert_int_eq(ev_sub_open(bus, &sc, &s, &first), 0);
    struct ev_event ev;
    for (uint64_t i = 13; i <= 20; i++)
        expect_event(s, i, &ev);
    ev_sub_close(s);
    ev_bus_delete(bus);
}
END_TEST

START_TEST(ev_test_since_ahead_of_clock_is_refused)
{
    struct ev_bus *bus = ev_bus_new(NULL);
    publish_n(bus, 3);
    struct ev_sub_config sc = {.name = "w", .replay = 1, .since = 4};
    struct ev_sub *s = NULL;
    ck_assert_int_eq(ev_sub_open(bus, &sc, &s, NULL), ERR_INVAL);
    sc.since = 3; /* up to date: nothing to replay, fine */
    ck_assert_int_eq(ev_sub_open(bus, &sc, &s, NULL), 0);
    struct ev_item it;
    ck_assert_int_eq(ev_sub_try_recv(s, &it, NULL), ERR_AGAIN);
    ev_sub_close(s);
    ev_bus_delete(bus);
}
END_TEST

START_TEST(ev_test_lagging_subscriber_told_first_missed)
{
    struct ev_bus *bus = ev_bus_new(NULL);
    struct ev_sub *s = open_sub(bus, "slow", 4, EV_LAG_REPORT);
    publish_n(bus, 10); /* never blocks although nobody reads */
    struct ev_event ev;
    for (uint64_t i = 1; i <= 4; i++)
        expect_event(s, i, &ev);
    struct ev_item it;
    ck_assert_int_eq(ev_sub_try_recv(s, &it, &ev), 0);
    ck_assert_int_eq(it.kind, EV_ITEM_LAGGED);
    ck_assert_uint_eq(it.seq, 5);
    ck_assert_uint_eq(it.last, 10);
    publish_n(bus, 1);
    expect_event(s, 11, &ev);
    /* The watcher resumes with since = first_missed - 1 and gets every one. */
    struct ev_sub_config sc = {.name = "resumed", .replay = 1, .since = it.seq - 1};
    struct ev_sub *r = NULL;
    ck_assert_int_eq(ev_sub_open(bus, &sc, &r, NULL), 0);
    for (uint64_t i = 5; i <= 11; i++)
        expect_event(r, i, &ev);
    ev_sub_close(r);
    ev_sub_close(s);
    ev_bus_delete(bus);
}
END_TEST

START_TEST(ev_test_recover_subscriber_replays_gap_from_history)
{
    struct ev_bus *bus = ev_bus_new(NULL);
    struct ev_sub *s = open_sub(bus, "runner", 4, EV_LAG_RECOVER);
    publish_n(bus, 10);
    struct ev_event ev;
    for (uint64_t i = 1; i <= 10; i++)
        expect_event(s, i, &ev);
    ck_assert_str_eq(ev.name, "n9"); /* seq 10 is the tenth join */
    ev_sub_close(s);
    ev_bus_delete(bus);
}
END_TEST

START_TEST(ev_test_recover_subscriber_reports_what_left_history)
{
    struct ev_bus_config bc = {.history = 8};
    struct ev_bus *bus = ev_bus_new(&bc);
    struct ev_sub *s = open_sub(bus, "runner", 2, EV_LAG_RECOVER);
    publish_n(bus, 20);
    struct ev_event ev;
    expect_event(s, 1, &ev);
    expect_event(s, 2, &ev);
    struct ev_item it;
    ck_assert_int_eq(ev_sub_try_recv(s, &it, &ev), 0);
    ck_assert_int_eq(it.kind, EV_ITEM_LOST);
    ck_assert_uint_eq(it.seq, 3);
    ck_assert_uint_eq(it.last, 12);
    for (uint64_t i = 13; i <= 20; i++)
        expect_event(s, i, &ev);
    ck_assert_int_eq(ev_sub_try_recv(s, &it, &ev), ERR_AGAIN);
    ev_sub_close(s);
    ev_bus_delete(bus);
}
END_TEST

START_TEST(ev_test_history_get_bounds)
{
    struct ev_bus_config bc = {.history = 4};
    struct ev_bus *bus = ev_bus_new(&bc);
    struct ev_event ev;
    ck_assert_int_eq(ev_bus_history_get(bus, 1, &ev), ERR_NOTFOUND);
    ck_assert_uint_eq(ev_bus_first_held(bus), 1);
    publish_n(bus, 6);
    ck_assert_int_eq(ev_bus_history_get(bus, 2, &ev), ERR_NOTFOUND);
    ck_assert_int_eq(ev_bus_history_get(bus, 3, &ev), 0);
    ck_assert_uint_eq(ev.seq, 3);
    ck_assert_str_eq(ev.name, "n2");
    ck_assert_int_eq(ev_bus_history_get(bus, 7, &ev), ERR_NOTFOUND);
    ev_bus_delete(bus);
    bc.history = EV_HISTORY_MAX + 1;
    ck_assert_ptr_null(ev_bus_new(&bc));
}
END_TEST

/* A member join for "n<i>" carrying a tag block of tag_len bytes, each
 * (i + k) mod 256, so every record has its own size and content. */
static void publish_sized(struct ev_bus *bus, int i, size_t tag_len)
{
    uint8_t meta[SWIM_META_MAX];
    for (size_t k = 0; k < tag_len; k++)
        meta[k] = (uint8_t)(i + (int)k);
    struct swim_notification n = member_note(SWIM_EV_MEMBER_JOINED, i);
    n.member.meta = meta;
    n.member.meta_len = (uint16_t)tag_len;
    ck_assert_int_eq(ev_bus_publish(bus, &n, 5, NULL), 0);
}

/* ev is what publish_sized(bus, i, tag_len) stored. */
static void expect_sized(const struct ev_event *ev, int i, size_t tag_len)
{
    char name[16];
    snprintf(name, sizeof(name), "n%d", i);
    ck_assert_str_eq(ev->name, name);
    ck_assert_uint_eq(ev->generation, 1000 + (uint64_t)i);
    ck_assert_uint_eq(ev->tags_len, tag_len);
    for (size_t k = 0; k < tag_len; k++)
        ck_assert_uint_eq(ev->tags[k], (uint8_t)(i + (int)k));
}

/* The tag length publish_sized() gets for event i in the tests below: sizes
 * that do not divide the ring, so records wrap with room left at its end. */
static size_t sized_len(int i)
{
    return (size_t)(i * 37) % 200;
}

START_TEST(ev_test_history_byte_bound_evicts_oldest)
{
    /* Room for 64 events by count, but 4,000 bytes of records hold fewer of
     * these (each ~50 to 250 bytes): the oldest leave first. */
    struct ev_bus_config bc = {.history = 64, .history_bytes = 4000};
    struct ev_bus *bus = ev_bus_new(&bc);
    for (int i = 0; i < 300; i++)
        publish_sized(bus, i, sized_len(i));
    uint64_t first = ev_bus_first_held(bus), clock = ev_bus_clock(bus);
    ck_assert_uint_eq(clock, 300);
    ck_assert_uint_gt(first, 300 - 64 + 1); /* fewer than the count allows */
    size_t bytes = 0;
    struct ev_event ev;
    for (uint64_t s = first; s <= clock; s++) {
        ck_assert_int_eq(ev_bus_history_get(bus, s, &ev), 0);
        expect_sized(&ev, (int)s - 1, sized_len((int)s - 1));
        bytes += 30 + strlen(ev.name) + strlen(ev.addr) + ev.tags_len;
    }
    ck_assert_uint_le(bytes, 4000);
    ck_assert_int_eq(ev_bus_history_get(bus, first - 1, &ev), ERR_NOTFOUND);
    /* --since before the first held is refused and says where history starts. */
    struct ev_sub_config sc = {.name = "w", .replay = 1, .since = first - 2};
    struct ev_sub *s = NULL;
    uint64_t held = 0;
    ck_assert_int_eq(ev_sub_open(bus, &sc, &s, &held), ERR_STALE);
    ck_assert_uint_eq(held, first);
    ev_bus_delete(bus);
}
END_TEST

/* The tag length of event i after `small` small ones: near the largest. */
static size_t big_len(int i, int small)
{
    return i < small ? sized_len(i) : SWIM_META_MAX - (size_t)(i % 7);
}

START_TEST(ev_test_replay_after_wrap_is_exact)
{
    /* 16 events of 50 to 250 bytes wrap the ring's first 4 KB; then larger
     * ones make it grow, and with one of the run lengths below it grows
     * while wrapped.  Every replay returns the last 16 exactly. */
    for (int small = 16; small < 120; small++) {
        struct ev_bus_config bc = {.history = 16};
        struct ev_bus *bus = ev_bus_new(&bc);
        for (int i = 0; i < small + 40; i++) {
            publish_sized(bus, i, big_len(i, small));
            if (i != small - 1 && i != small + 39)
                continue;
            uint64_t clock = ev_bus_clock(bus);
            ck_assert_uint_eq(ev_bus_first_held(bus), clock - 15);
            struct ev_sub_config sc = {.name = "w", .replay = 1, .since = clock - 16};
            struct ev_sub *s = NULL;
            ck_assert_int_eq(ev_sub_open(bus, &sc, &s, NULL), 0);
            struct ev_event ev;
            for (uint64_t q = clock - 15; q <= clock; q++) {
                expect_event(s, q, &ev);
                expect_sized(&ev, (int)q - 1, big_len((int)q - 1, small));
            }
            struct ev_item it;
            ck_assert_int_eq(ev_sub_try_recv(s, &it, &ev), ERR_AGAIN);
            ev_sub_close(s);
        }
        ev_bus_delete(bus);
    }
}
END_TEST

START_TEST(ev_test_queued_event_outlives_history)
{
    /* Queued events stay readable in full after the history evicted them;
     * a closed subscriber's queued events are given back (ASan: no leak). */
    struct ev_bus_config bc = {.history = 16};
    struct ev_bus *bus = ev_bus_new(&bc);
    struct ev_sub *s = open_sub(bus, "slow", 8, EV_LAG_REPORT);
    struct ev_sub *gone = open_sub(bus, "gone", 8, EV_LAG_REPORT);
    for (int i = 0; i < 200; i++)
        publish_sized(bus, i, sized_len(i));
    ck_assert_uint_eq(ev_bus_first_held(bus), 200 - 15);
    ev_sub_close(gone);
    struct ev_event ev;
    for (uint64_t q = 1; q <= 8; q++) {
        expect_event(s, q, &ev);
        expect_sized(&ev, (int)q - 1, sized_len((int)q - 1));
    }
    struct ev_item it;
    ck_assert_int_eq(ev_sub_try_recv(s, &it, &ev), 0);
    ck_assert_int_eq(it.kind, EV_ITEM_LAGGED);
    ck_assert_uint_eq(it.seq, 9);
    ev_sub_close(s);
    ev_bus_delete(bus);
}
END_TEST

struct reader {
    struct ev_sub *s;
    uint64_t expected;
    int gaps;
    int ended;
};

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    struct ev_event *ev = malloc(sizeof(*ev));
    /* Bounded: every item advances or the bus ends; 10 s of silence fails. */
    for (;;) {
        struct ev_item it;
        int rc = ev_sub_recv_timed(r->s, &it, ev, 10000);
        if (rc != 0)
            break;
        if (it.kind == EV_ITEM_END) {
            r->ended = 1;
            break;
        }
        if (it.kind != EV_ITEM_EVENT || it.seq != r->expected + 1 || ev->seq != it.seq)
            r->gaps++;
        r->expected = it.last;
    }
    free(ev);
    return NULL;
}

START_TEST(ev_test_thread_subscriber_sees_every_seq_in_order)
{
    struct ev_bus_config bc = {.history = EV_HISTORY_MAX};
    struct ev_bus *bus = ev_bus_new(&bc);
    struct reader r = {.s = open_sub(bus, "thread", 16, EV_LAG_RECOVER)};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, reader_main, &r), 0);
    publish_n(bus, 20000); /* far faster than 16 slots: lag repaired from history */
    ev_bus_end(bus);
    pthread_join(th, NULL);
    ck_assert_int_eq(r.gaps, 0);
    ck_assert_uint_eq(r.expected, 20000);
    ck_assert_int_eq(r.ended, 1);
    struct swim_notification n = member_note(SWIM_EV_MEMBER_JOINED, 1);
    ck_assert_int_eq(ev_bus_publish(bus, &n, 0, NULL), ERR_CLOSED);
    ev_sub_close(r.s);
    ev_bus_delete(bus);
}
END_TEST

START_TEST(ev_test_fd_readable_while_pending)
{
    struct ev_bus *bus = ev_bus_new(NULL);
    struct ev_sub *s = open_sub(bus, "loop", 0, EV_LAG_REPORT);
    int fd = ev_sub_fd(s);
    ck_assert_int_ge(fd, 0);
    struct ev_item it;
    struct ev_event ev;
    while (ev_sub_try_recv(s, &it, &ev) == 0)
        ;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ck_assert_int_eq(poll(&p, 1, 0), 0);
    publish_n(bus, 1);
    ck_assert_int_eq(poll(&p, 1, 1000), 1);
    expect_event(s, 1, &ev);
    ck_assert_int_eq(ev_sub_try_recv(s, &it, &ev), ERR_AGAIN);
    ck_assert_int_eq(poll(&p, 1, 0), 0);
    ev_sub_close(s);
    ev_bus_delete(bus);
}
END_TEST

START_TEST(ev_test_names_must_be_unique_and_end_refuses_new)
{
    struct ev_bus *bus = ev_bus_new(NULL);
    struct ev_sub *a = open_sub(bus, "same", 0, EV_LAG_REPORT);
    struct ev_sub_config sc = {.name = "same"};
    struct ev_sub *b = NULL;
    ck_assert_int_eq(ev_sub_open(bus, &sc, &b, NULL), ERR_EXISTS);
    publish_n(bus, 1);
    ev_bus_end(bus);
    sc.name = "late";
    ck_assert_int_eq(ev_sub_open(bus, &sc, &b, NULL), ERR_CLOSED);
    struct ev_event ev;
    struct ev_item it;
    expect_event(a, 1, &ev);
    ck_assert_int_eq(ev_sub_try_recv(a, &it, &ev), 0);
    ck_assert_int_eq(it.kind, EV_ITEM_END);
    ev_sub_close(a);
    ev_bus_delete(bus);
}
END_TEST

static char *dump(json_t *j)
{
    ck_assert_ptr_nonnull(j);
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

START_TEST(ev_test_json_member_event)
{
    struct ev_event ev;
    struct swim_notification n = member_note(SWIM_EV_MEMBER_JOINED, 1);
    uint8_t meta[] = {4, 'r', 'o', 'l', 'e', 3, 'w', 'e', 'b'};
    n.member.meta = meta;
    n.member.meta_len = sizeof(meta);
    ck_assert_int_eq(ev_from_notification(&ev, &n, 77), 0);
    ev.seq = 9;
    char *s = dump(ev_json_event(&ev));
    ck_assert_str_eq(s, "{\"seq\":9,\"type\":\"member-join\",\"time\":77,\"name\":\"n1\","
                        "\"addr\":\"127.0.0.1:7001\",\"status\":\"alive\",\"incarnation\":3,"
                        "\"generation\":1001,\"tags\":{\"role\":\"web\"}}");
    free(s);
    ev.tags[0] = 9; /* the block no longer decodes */
    s = dump(ev_json_event(&ev));
    ck_assert_ptr_nonnull(strstr(s, "\"tags\":{},\"tags_malformed\":true"));
    free(s);
}
END_TEST

START_TEST(ev_test_json_user_event_and_binary_payload)
{
    struct ev_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.seq = 4;
    ev.type = EV_USER;
    ev.time_ms = 1;
    strcpy(ev.name, "n3");
    strcpy(ev.user_name, "deploy");
    ev.user_id = 2;
    memcpy(ev.data, "go", 2);
    ev.data_len = 2;
    char *s = dump(ev_json_event(&ev));
    ck_assert_str_eq(s, "{\"seq\":4,\"type\":\"user\",\"time\":1,\"name\":\"deploy\","
                        "\"origin\":\"n3\",\"id\":2,\"payload\":\"go\"}");
    free(s);
    ev.data[0] = 0xff;
    s = dump(ev_json_event(&ev));
    ck_assert_ptr_nonnull(strstr(s, "\"payload_hex\":\"ff6f\""));
    free(s);
}
END_TEST

START_TEST(ev_test_json_clock_lag_and_filtered_item)
{
    char *s = dump(ev_json_clock(7));
    ck_assert_str_eq(s, "{\"seq\":7,\"clock\":true}");
    free(s);
    s = dump(ev_json_lagged(12));
    ck_assert_str_eq(s, "{\"lagged\":true,\"first_missed\":12}");
    free(s);
    struct ev_event ev;
    struct swim_notification n = member_note(SWIM_EV_MEMBER_JOINED, 1);
    ev_from_notification(&ev, &n, 0);
    ev.seq = 3;
    struct ev_item it = {.kind = EV_ITEM_EVENT, .seq = 3, .last = 3, .type = EV_MEMBER_JOIN};
    s = dump(ev_json_item(&it, &ev, EV_MASK(EV_MEMBER_FAILED)));
    ck_assert_str_eq(s, "{\"seq\":3,\"clock\":true}");
    free(s);
    s = dump(ev_json_item(&it, &ev, EV_MASK(EV_MEMBER_JOIN)));
    ck_assert_ptr_nonnull(strstr(s, "\"type\":\"member-join\""));
    free(s);
    it.kind = EV_ITEM_END;
    ck_assert_ptr_null(ev_json_item(&it, &ev, EV_MASK_ALL));
}
END_TEST

START_TEST(ev_test_item_show_is_the_watchers_rule)
{
    struct ev_event ev;
    struct swim_notification n = member_note(SWIM_EV_MEMBER_JOINED, 1);
    ev_from_notification(&ev, &n, 0);
    struct ev_item it = {.kind = EV_ITEM_EVENT, .seq = 3, .last = 3, .type = EV_MEMBER_JOIN};
    ck_assert_int_eq(ev_item_show(&it, &ev, EV_MASK(EV_MEMBER_JOIN)), EV_SHOW_EVENT);
    ck_assert_int_eq(ev_item_show(&it, &ev, EV_MASK(EV_MEMBER_FAILED)), EV_SHOW_CLOCK);
    it.kind = EV_ITEM_CLOCK;
    ck_assert_int_eq(ev_item_show(&it, NULL, EV_MASK_ALL), EV_SHOW_CLOCK);
    it.kind = EV_ITEM_LAGGED;
    ck_assert_int_eq(ev_item_show(&it, NULL, EV_MASK_ALL), EV_SHOW_LAG);
    it.kind = EV_ITEM_LOST;
    ck_assert_int_eq(ev_item_show(&it, NULL, EV_MASK_ALL), EV_SHOW_LAG);
    it.kind = EV_ITEM_END;
    ck_assert_int_eq(ev_item_show(&it, NULL, EV_MASK_ALL), EV_SHOW_END);
}
END_TEST

START_TEST(ev_test_types_parse_rejects_unknown_names)
{
    uint32_t mask = 0;
    char err[256];
    ck_assert_int_eq(ev_types_parse("member-join,member-failed,user", &mask, err, sizeof(err)), 0);
    ck_assert_uint_eq(mask, EV_MASK(EV_MEMBER_JOIN) | EV_MASK(EV_MEMBER_FAILED) | EV_MASK(EV_USER));
    ck_assert_int_eq(ev_types_parse("member-join,member-joined", &mask, err, sizeof(err)),
                     ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "member-joined"));
    ck_assert_int_eq(ev_types_parse("member-join,,user", &mask, err, sizeof(err)), ERR_INVAL);
    ck_assert_int_eq(ev_types_parse("", &mask, err, sizeof(err)), ERR_INVAL);
    ck_assert_int_eq(ev_types_parse("user,", &mask, err, sizeof(err)), ERR_INVAL);
    ck_assert_int_eq(
        ev_types_parse("a-very-long-unknown-type-name-indeed", &mask, err, sizeof(err)), ERR_INVAL);
}
END_TEST

START_TEST(ev_test_type_names_match_the_core)
{
    /* Every notification but DIRECT (the query module's, never an event). */
    for (int e = SWIM_EV_MEMBER_JOINED; e < SWIM_EV_DIRECT; e++) {
        struct swim_notification n = member_note((enum swim_event)e, 1);
        uint8_t p[] = {1, 'x'};
        n.user.payload = p;
        n.user.len = sizeof(p);
        n.user.origin = "o";
        struct ev_event ev;
        ck_assert_int_eq(ev_from_notification(&ev, &n, 0), 0);
        ck_assert_str_eq(ev_type_name(ev.type), swim_event_name((enum swim_event)e));
        enum ev_type t;
        ck_assert_int_eq(ev_type_parse(swim_event_name((enum swim_event)e), &t), 0);
        ck_assert_int_eq(t, ev.type);
    }
}
END_TEST

/* One vocabulary (evtype.c): a watcher may name every type but no user:NAME,
 * a handler member types, user and user:NAME; each message offers exactly
 * what that entrance allows. */
START_TEST(ev_test_type_lists_offer_what_each_entrance_allows)
{
    uint32_t mask = 0;
    char err[512];
    ck_assert_int_eq(ev_types_parse("user:deploy", &mask, err, sizeof(err)), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "member-join, member-update,"));
    ck_assert_ptr_nonnull(strstr(err, "self-rejoined, query)"));
    ck_assert_ptr_null(strstr(err, "user:NAME"));
    struct ev_handler_spec spec;
    ck_assert_int_eq(ev_handler_spec_parse("self-idle=./x.sh", &spec, err, sizeof(err)), ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "\"self-idle\""));
    ck_assert_ptr_nonnull(strstr(err, "member-reap, user, query, user:NAME, query:NAME)"));
    ck_assert_ptr_null(strstr(err, "self-active"));
    enum ev_type t;
    ck_assert_int_eq(ev_type_from_swim((enum swim_event)0, &t), ERR_INVAL);
    ck_assert_int_eq(ev_type_from_swim((enum swim_event)(SWIM_EV_LAST + 1), &t), ERR_INVAL);
    ck_assert_str_eq(ev_type_name((enum ev_type)0), "unknown");
    ck_assert_int_eq(ev_type_parse("unknown", &t), ERR_NOTFOUND);
    /* A direct message is no event; a query is the agent's own type. */
    ck_assert_int_eq(ev_type_from_swim(SWIM_EV_DIRECT, &t), ERR_INVAL);
    ck_assert_int_eq(ev_type_parse("direct", &t), ERR_NOTFOUND);
    ck_assert_int_eq(ev_type_parse("query", &t), 0);
    ck_assert_int_eq(t, EV_QUERY);
}
END_TEST

/* A user event whose name is not text (from a peer) is not an event. */
START_TEST(ev_test_user_event_name_must_be_text)
{
    struct ev_event ev;
    struct swim_notification n;
    memset(&n, 0, sizeof(n));
    n.type = SWIM_EV_USER;
    uint8_t p[] = {4, 'a', '\n', 'b', 'c', 'x'};
    n.user.origin = "n7";
    n.user.payload = p;
    n.user.len = sizeof(p);
    ck_assert_int_eq(ev_from_notification(&ev, &n, 1), ERR_MALFORMED);
    p[2] = 0xff;
    ck_assert_int_eq(ev_from_notification(&ev, &n, 1), ERR_MALFORMED);
    p[2] = '\0';
    ck_assert_int_eq(ev_from_notification(&ev, &n, 1), ERR_MALFORMED);
    p[2] = '-';
    ck_assert_int_eq(ev_from_notification(&ev, &n, 1), 0);
    ck_assert_str_eq(ev.user_name, "a-bc");
}
END_TEST

/* Generations up to 2^63-1 are exact in JSON; nothing shows negative. */
START_TEST(ev_test_json_u64_exact_and_never_negative)
{
    json_t *v = ev_json_u64(INT64_MAX);
    ck_assert(json_integer_value(v) == INT64_MAX);
    json_decref(v);
    v = ev_json_u64(UINT64_MAX);
    ck_assert(json_integer_value(v) == INT64_MAX);
    json_decref(v);
    char *s;
    struct ev_event ev;
    struct swim_notification n = member_note(SWIM_EV_MEMBER_JOINED, 1);
    n.member.generation = (uint64_t)INT64_MAX;
    ck_assert_int_eq(ev_from_notification(&ev, &n, 0), 0);
    s = dump(ev_json_event(&ev));
    ck_assert_msg(strstr(s, "\"generation\":9223372036854775807") != NULL, "%s", s);
    free(s);
    ev.generation = (uint64_t)INT64_MAX + 1;
    s = dump(ev_json_event(&ev));
    ck_assert_msg(strstr(s, "\"generation\":-") == NULL, "%s", s);
    free(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("events");
    TCase *tc = tcase_create("bus");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, ev_test_publish_assigns_consecutive_seqs);
    tcase_add_test(tc, ev_test_member_notification_fields_copied);
    tcase_add_test(tc, ev_test_user_payload_split_into_name_and_data);
    tcase_add_test(tc, ev_test_since_replays_exactly_the_missed_events);
    tcase_add_test(tc, ev_test_since_zero_replays_whole_history);
    tcase_add_test(tc, ev_test_since_older_than_history_says_first_held);
    tcase_add_test(tc, ev_test_since_ahead_of_clock_is_refused);
    tcase_add_test(tc, ev_test_lagging_subscriber_told_first_missed);
    tcase_add_test(tc, ev_test_recover_subscriber_replays_gap_from_history);
    tcase_add_test(tc, ev_test_recover_subscriber_reports_what_left_history);
    tcase_add_test(tc, ev_test_history_get_bounds);
    tcase_add_test(tc, ev_test_history_byte_bound_evicts_oldest);
    tcase_add_test(tc, ev_test_replay_after_wrap_is_exact);
    tcase_add_test(tc, ev_test_queued_event_outlives_history);
    tcase_add_test(tc, ev_test_thread_subscriber_sees_every_seq_in_order);
    tcase_add_test(tc, ev_test_fd_readable_while_pending);
    tcase_add_test(tc, ev_test_names_must_be_unique_and_end_refuses_new);
    tcase_add_test(tc, ev_test_json_member_event);
    tcase_add_test(tc, ev_test_json_user_event_and_binary_payload);
    tcase_add_test(tc, ev_test_user_event_name_must_be_text);
    tcase_add_test(tc, ev_test_json_u64_exact_and_never_negative);
    tcase_add_test(tc, ev_test_json_clock_lag_and_filtered_item);
    tcase_add_test(tc, ev_test_item_show_is_the_watchers_rule);
    tcase_add_test(tc, ev_test_types_parse_rejects_unknown_names);
    tcase_add_test(tc, ev_test_type_names_match_the_core);
    tcase_add_test(tc, ev_test_type_lists_offer_what_each_entrance_allows);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
