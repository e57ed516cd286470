/*
 * replay_test.c - replayed sealed datagrams are refused (replay.h), with
 * stamps read back from real envelopes (keyring.h).
 */
#include <check.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "keyring.h"
#include "replay.h"

#define KEY_A "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static const uint8_t label[] = "prod";
static const uint8_t msg[] = "a core datagram";

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct keyring *ring(void)
{
    struct keyring *kr = keyring_new();
    ck_assert_ptr_nonnull(kr);
    ck_assert_int_eq(keyring_add_base64(kr, KEY_A), 0);
    return kr;
}

/* Seal msg, open it as a receiver would, and return its stamp. */
static struct keyring_stamp sealed_stamp(struct keyring *tx, struct keyring *rx)
{
    uint8_t box[256], plain[256];
    size_t n = 0, m = 0;
    struct keyring_stamp st;
    ck_assert_int_eq(keyring_seal(tx, label, 4, msg, sizeof(msg), box, sizeof(box), &n), 0);
    ck_assert_int_eq(keyring_open(rx, label, 4, box, n, plain, sizeof(plain), &m), 0);
    ck_assert_int_eq(keyring_stamp(box, n, &st), 0);
    return st;
}

/* The stamp is the nonce: authenticated, so it cannot be moved forward. */
START_TEST(replay_test_stamp_authenticated)
{
    struct keyring *kr = ring();
    uint8_t box[256], plain[256];
    size_t n = 0, m = 0;
    uint64_t t0 = wall_ms();
    ck_assert_int_eq(keyring_seal(kr, label, 4, msg, sizeof(msg), box, sizeof(box), &n), 0);
    struct keyring_stamp st, st2;
    ck_assert_int_eq(keyring_stamp(box, n, &st), 0);
    ck_assert_uint_ge(st.sent_ms, t0);
    ck_assert_uint_le(st.sent_ms, wall_ms());
    ck_assert_uint_eq(st.counter, 0);
    for (size_t i = 1; i < 1 + 24; i++) { /* every byte of the stamp */
        box[i] ^= 0x01;
        ck_assert_int_eq(keyring_open(kr, label, 4, box, n, plain, sizeof(plain), &m), ERR_CRYPTO);
        box[i] ^= 0x01;
    }
    ck_assert_int_eq(keyring_seal(kr, label, 4, msg, sizeof(msg), box, sizeof(box), &n), 0);
    ck_assert_int_eq(keyring_stamp(box, n, &st2), 0);
    ck_assert_uint_eq(st2.sender, st.sender);
    ck_assert_uint_eq(st2.counter, 1);
    struct keyring *other = ring();
    ck_assert_uint_ne(sealed_stamp(other, kr).sender, st.sender);
    ck_assert_int_eq(keyring_stamp(box, KEYRING_OVERHEAD - 1, &st2), ERR_TRUNC);
    keyring_delete(other);
    keyring_delete(kr);
}
END_TEST

/* The same datagram twice within the window: admitted once. */
START_TEST(replay_test_twice_within_window_refused)
{
    struct keyring *tx = ring(), *rx = ring();
    struct replay *r = replay_new(wall_ms() - 1000);
    ck_assert_ptr_nonnull(r);
    struct keyring_stamp a = sealed_stamp(tx, rx), b = sealed_stamp(tx, rx);
    uint64_t now = wall_ms();
    ck_assert_int_eq(replay_admit(r, &b, now), 0);
    ck_assert_int_eq(replay_admit(r, &a, now), 0); /* reordered: still fresh */
    ck_assert_int_eq(replay_admit(r, &a, now), ERR_EXISTS);
    ck_assert_int_eq(replay_admit(r, &b, now + 1000), ERR_EXISTS);
    replay_delete(r);
    keyring_delete(tx);
    keyring_delete(rx);
}
END_TEST

/* Captured, then sent again after the window: refused, however many newer
 * datagrams came between (or none did). */
START_TEST(replay_test_after_window_refused)
{
    struct keyring *tx = ring(), *rx = ring();
    uint64_t now = wall_ms();
    struct replay *r = replay_new(now - 1000);
    struct keyring_stamp old = sealed_stamp(tx, rx);
    ck_assert_int_eq(replay_admit(r, &old, now), 0);
    /* 5,000 newer datagrams: the counter window moves past the old one. */
    for (int i = 0; i < 5000; i++) {
        struct keyring_stamp st = sealed_stamp(tx, rx);
        ck_assert_int_eq(replay_admit(r, &st, now), 0);
    }
    ck_assert_int_eq(replay_admit(r, &old, now), ERR_EXISTS);
    /* A receiver that never saw it refuses it once it is out of the window. */
    struct replay *late = replay_new(now - 60000);
    struct keyring_stamp unseen = sealed_stamp(tx, rx);
    ck_assert_int_eq(replay_admit(late, &unseen, unseen.sent_ms + REPLAY_CLOCK_MS + 1), ERR_STALE);
    ck_assert_int_eq(replay_admit(late, &unseen, unseen.sent_ms + REPLAY_CLOCK_MS), 0);
    /* ... and one stamped too far ahead of its clock. */
    ck_assert_int_eq(replay_admit(late, &unseen, unseen.sent_ms - REPLAY_CLOCK_MS - 1), ERR_STALE);
    replay_delete(late);
    replay_delete(r);
    keyring_delete(tx);
    keyring_delete(rx);
}
END_TEST

/* A receiver restarted after the capture forgets its windows, but refuses
 * everything sealed before it started, at once. */
START_TEST(replay_test_after_restart_refused)
{
    struct keyring *tx = ring(), *rx = ring();
    struct keyring_stamp captured = sealed_stamp(tx, rx);
    struct replay *before = replay_new(captured.sent_ms - 10);
    ck_assert_int_eq(replay_admit(before, &captured, captured.sent_ms), 0);
    replay_delete(before);
    struct replay *after = replay_new(captured.sent_ms + 1); /* restarted */
    ck_assert_int_eq(replay_admit(after, &captured, captured.sent_ms + 2), ERR_STALE);
    struct keyring_stamp fresh = captured;
    fresh.sent_ms = captured.sent_ms + 1;
    fresh.counter = captured.counter + 1;
    ck_assert_int_eq(replay_admit(after, &fresh, captured.sent_ms + 2), 0);
    replay_delete(after);
    keyring_delete(tx);
    keyring_delete(rx);
}
END_TEST

/* Counters arriving out of order within REPLAY_BITS are each admitted
 * once; deeper than that they are refused. */
START_TEST(replay_test_window_bounds)
{
    uint64_t now = 1000000;
    struct replay *r = replay_new(now - 1000);
    struct keyring_stamp st = {.sender = 7, .sent_ms = now, .counter = 5000};
    ck_assert_int_eq(replay_admit(r, &st, now), 0);
    for (uint64_t c = 5000 - REPLAY_BITS + 1; c < 5000; c += 3) {
        st.counter = c;
        ck_assert_int_eq(replay_admit(r, &st, now), 0);
        ck_assert_int_eq(replay_admit(r, &st, now), ERR_EXISTS);
    }
    st.counter = 5000 - REPLAY_BITS;
    ck_assert_int_eq(replay_admit(r, &st, now), ERR_EXISTS);
    /* Moving up by 70 (more than a word) keeps what was seen. */
    st.counter = 5070;
    ck_assert_int_eq(replay_admit(r, &st, now), 0);
    st.counter = 5000;
    ck_assert_int_eq(replay_admit(r, &st, now), ERR_EXISTS);
    st.counter = 5001;
    ck_assert_int_eq(replay_admit(r, &st, now), 0);
    st.counter = 5000 - REPLAY_BITS + 1; /* seen before the move */
    ck_assert_int_eq(replay_admit(r, &st, now), ERR_EXISTS);
    replay_delete(r);
}
END_TEST

/* The sender table is bounded: a new sender takes a stale one's place, and
 * is refused while every remembered sender is fresh. */
START_TEST(replay_test_senders_bounded)
{
    uint64_t now = 10000000;
    struct replay *r = replay_new(now - 100000);
    struct keyring_stamp st = {.sent_ms = now - REPLAY_CLOCK_MS, .counter = 1};
    for (uint64_t id = 1; id <= REPLAY_SENDERS_MAX; id++) {
        st.sender = id;
        ck_assert_int_eq(replay_admit(r, &st, now), 0);
    }
    st.sender = REPLAY_SENDERS_MAX + 1;
    st.sent_ms = now;
    ck_assert_int_eq(replay_admit(r, &st, now), ERR_FULL);
    /* A millisecond later the first senders are stale: room again, and
     * their old datagrams are refused by time. */
    ck_assert_int_eq(replay_admit(r, &st, now + 1), 0);
    st.sender = 1;
    st.sent_ms = now - REPLAY_CLOCK_MS;
    ck_assert_int_eq(replay_admit(r, &st, now + 1), ERR_STALE);
    /* The newcomer is remembered, as are senders still in the window. */
    st.sender = REPLAY_SENDERS_MAX + 1;
    st.sent_ms = now;
    ck_assert_int_eq(replay_admit(r, &st, now + 1), ERR_EXISTS);
    st.sender = REPLAY_SENDERS_MAX + 2;
    st.counter = 9;
    ck_assert_int_eq(replay_admit(r, &st, now + 2), 0);
    ck_assert_int_eq(replay_admit(r, &st, now + 2), ERR_EXISTS);
    replay_delete(r);
}
END_TEST

static Suite *replay_suite(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, replay_test_stamp_authenticated);
    tcase_add_test(tc, replay_test_twice_within_window_refused);
    tcase_add_test(tc, replay_test_after_window_refused);
    tcase_add_test(tc, replay_test_after_restart_refused);
    tcase_add_test(tc, replay_test_window_bounds);
    tcase_add_test(tc, replay_test_senders_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(replay_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
