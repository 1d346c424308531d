/* worker_sync_test.c - the slave's sync ordering rules, case by case, plus a run of a
 * realistic message stream across a snapshot and a master change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../worker/sync.h"

static struct sync_state at(const char *epoch, int64_t applied)
{
    struct sync_state st;
    sync_reset(&st, epoch, applied);
    return st;
}

static void test_same_epoch_writes(void **state)
{
    (void)state;
    struct sync_state st = at("A", 10);
    assert_int_equal(sync_decide(&st, "A", 11, 0), SYNC_APPLY);
    assert_int_equal(sync_decide(&st, "A", 10, 0), SYNC_SKIP);
    assert_int_equal(sync_decide(&st, "A", 1, 0), SYNC_SKIP);
    assert_int_equal(sync_decide(&st, "A", 12, 0), SYNC_RESYNC); /* a gap */
    assert_int_equal(sync_decide(&st, "A", 1000, 0), SYNC_RESYNC);
}

static void test_same_epoch_begin(void **state)
{
    (void)state;
    struct sync_state st = at("A", 10);
    assert_int_equal(sync_decide(&st, "A", 10, 1), SYNC_SKIP); /* the master reconnected */
    assert_int_equal(sync_decide(&st, "A", 7, 1), SYNC_SKIP);  /* from before our snapshot */
    assert_int_equal(sync_decide(&st, "A", 11, 1), SYNC_RESYNC);
}

static void test_new_epoch_begin(void **state)
{
    (void)state;
    struct sync_state st = at("A", 10);
    assert_int_equal(sync_decide(&st, "B", 10, 1), SYNC_ADOPT);
    assert_int_equal(sync_decide(&st, "B", 9, 1), SYNC_RESYNC);
    assert_int_equal(sync_decide(&st, "B", 11, 1), SYNC_RESYNC);
}

static void test_new_epoch_without_begin(void **state)
{
    (void)state;
    struct sync_state st = at("A", 10);
    assert_int_equal(sync_decide(&st, "B", 11, 0), SYNC_RESYNC); /* its begin never reached us */
    assert_int_equal(sync_decide(&st, "B", 12, 0), SYNC_RESYNC);
    assert_int_equal(sync_decide(&st, "B", 10, 0), SYNC_SKIP); /* old news whatever the term */
    assert_int_equal(sync_decide(&st, "B", 3, 0), SYNC_SKIP);
}

static void test_unknown_epoch(void **state)
{
    (void)state;
    struct sync_state st = at(NULL, 10);
    assert_string_equal(st.epoch, "");
    assert_int_equal(sync_decide(&st, "A", 11, 0), SYNC_APPLY);
    assert_int_equal(sync_decide(&st, "A", 10, 0), SYNC_SKIP);
    assert_int_equal(sync_decide(&st, "A", 12, 0), SYNC_RESYNC);
    assert_int_equal(sync_decide(&st, "A", 10, 1), SYNC_ADOPT);
    assert_int_equal(sync_decide(&st, "A", 9, 1), SYNC_SKIP);
    assert_int_equal(sync_decide(&st, "A", 11, 1), SYNC_RESYNC);
    st = at("", 0);
    assert_int_equal(sync_decide(&st, "A", 1, 0), SYNC_APPLY);
    assert_int_equal(sync_decide(&st, "A", 0, 1), SYNC_ADOPT);
}

static void test_done_updates_state(void **state)
{
    (void)state;
    struct sync_state st = at(NULL, 10);
    sync_done(&st, SYNC_APPLY, "A", 11);
    assert_int_equal(st.applied, 11);
    assert_string_equal(st.epoch, "A");
    sync_done(&st, SYNC_SKIP, "Z", 5);
    assert_int_equal(st.applied, 11);
    assert_string_equal(st.epoch, "A");
    sync_done(&st, SYNC_RESYNC, "Z", 50);
    assert_int_equal(st.applied, 11);
    assert_string_equal(st.epoch, "A");
    sync_done(&st, SYNC_ADOPT, "B", 11);
    assert_int_equal(st.applied, 11);
    assert_string_equal(st.epoch, "B");
    assert_int_equal(sync_decide(&st, "B", 12, 0), SYNC_APPLY);
    assert_int_equal(sync_decide(&st, "A", 12, 0), SYNC_RESYNC);
}

/* Every (begin, epoch relation, seq offset) combination, against the rules written out. */
static void test_exhaustive_table(void **state)
{
    (void)state;
    const char *locals[] = {"A", ""};
    const char *remotes[] = {"A", "B"};
    for (int li = 0; li < 2; li++)
        for (int ri = 0; ri < 2; ri++)
            for (int begin = 0; begin <= 1; begin++)
                for (int off = -3; off <= 3; off++) {
                    struct sync_state st = at(locals[li], 100);
                    int64_t seq = 100 + off;
                    int unknown = locals[li][0] == '\0';
                    int same = !unknown && strcmp(locals[li], remotes[ri]) == 0;
                    enum sync_action want;
                    if (begin && same)
                        want = off <= 0 ? SYNC_SKIP : SYNC_RESYNC;
                    else if (begin)
                        want = off == 0 ? SYNC_ADOPT : (unknown && off < 0) ? SYNC_SKIP : SYNC_RESYNC;
                    else if (off <= 0)
                        want = SYNC_SKIP;
                    else if (off == 1 && (same || unknown))
                        want = SYNC_APPLY;
                    else
                        want = SYNC_RESYNC;
                    enum sync_action got = sync_decide(&st, remotes[ri], seq, begin);
                    if (got != want)
                        fail_msg("local %s remote %s begin %d off %d: got %s want %s", locals[li], remotes[ri], begin,
                                 off, sync_action_name(got), sync_action_name(want));
                }
}

/* A slave bound its queue while master A was at 5, took a snapshot at 8, then A died at 10
 * and B took over at 10: the stream it sees, in queue order. */
static void test_stream_across_snapshot_and_failover(void **state)
{
    (void)state;
    struct {
        const char *epoch;
        int64_t seq;
        int begin;
        enum sync_action want;
    } stream[] = {
        {"A", 6, 0, SYNC_SKIP},   {"A", 7, 0, SYNC_SKIP},   {"A", 8, 0, SYNC_SKIP},
        {"A", 9, 0, SYNC_APPLY},  {"A", 10, 0, SYNC_APPLY}, {"A", 10, 0, SYNC_SKIP}, /* a republished write */
        {"B", 10, 1, SYNC_ADOPT}, {"B", 11, 0, SYNC_APPLY}, {"B", 12, 0, SYNC_APPLY},
        {"B", 14, 0, SYNC_RESYNC}, /* 13 was lost */
    };
    struct sync_state st = at("A", 8);
    for (size_t i = 0; i < sizeof stream / sizeof stream[0]; i++) {
        enum sync_action a = sync_decide(&st, stream[i].epoch, stream[i].seq, stream[i].begin);
        if (a != stream[i].want)
            fail_msg("message %zu (%s %lld): got %s want %s", i, stream[i].epoch, (long long)stream[i].seq,
                     sync_action_name(a), sync_action_name(stream[i].want));
        sync_done(&st, a, stream[i].epoch, stream[i].seq);
    }
    assert_int_equal(st.applied, 12);
    assert_string_equal(st.epoch, "B");
}

static void test_extreme_sequences(void **state)
{
    (void)state;
    struct sync_state st = at("A", INT64_MAX);
    assert_int_equal(sync_decide(&st, "A", INT64_MAX, 0), SYNC_SKIP);
    assert_int_equal(sync_decide(&st, "A", INT64_MIN, 0), SYNC_SKIP);
    st = at("A", INT64_MAX - 1);
    assert_int_equal(sync_decide(&st, "A", INT64_MAX, 0), SYNC_APPLY);
    st = at("A", -5); /* never written by us, but a message must not break the rules */
    assert_int_equal(sync_decide(&st, "A", -4, 0), SYNC_APPLY);
    assert_int_equal(sync_decide(&st, "A", INT64_MAX, 0), SYNC_RESYNC);
}

static void test_action_names(void **state)
{
    (void)state;
    assert_string_equal(sync_action_name(SYNC_APPLY), "apply");
    assert_string_equal(sync_action_name(SYNC_SKIP), "skip");
    assert_string_equal(sync_action_name(SYNC_ADOPT), "adopt");
    assert_string_equal(sync_action_name(SYNC_RESYNC), "resync");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_epoch_writes),
        cmocka_unit_test(test_same_epoch_begin),
        cmocka_unit_test(test_new_epoch_begin),
        cmocka_unit_test(test_new_epoch_without_begin),
        cmocka_unit_test(test_unknown_epoch),
        cmocka_unit_test(test_done_updates_state),
        cmocka_unit_test(test_exhaustive_table),
        cmocka_unit_test(test_stream_across_snapshot_and_failover),
        cmocka_unit_test(test_extreme_sequences),
        cmocka_unit_test(test_action_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
