/* worker_sync_test.c - the slave's sync ordering rules, case by case, plus a run of a
 * realistic message stream across a snapshot, a frozen master and a master change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../worker/sync.h"

static struct sync_state at(int64_t term, int64_t applied)
{
    struct sync_state st;
    sync_reset(&st, term, applied);
    return st;
}

static void test_same_term_writes(void **state)
{
    (void)state;
    struct sync_state st = at(3, 10);
    assert_int_equal(sync_decide(&st, 3, 11, 0), SYNC_APPLY);
    assert_int_equal(sync_decide(&st, 3, 10, 0), SYNC_SKIP);
    assert_int_equal(sync_decide(&st, 3, 1, 0), SYNC_SKIP);
    assert_int_equal(sync_decide(&st, 3, 12, 0), SYNC_RESYNC); /* a gap */
    assert_int_equal(sync_decide(&st, 3, 1000, 0), SYNC_RESYNC);
}

static void test_same_term_begin(void **state)
{
    (void)state;
    struct sync_state st = at(3, 10);
    assert_int_equal(sync_decide(&st, 3, 10, 1), SYNC_SKIP); /* the master reconnected */
    assert_int_equal(sync_decide(&st, 3, 7, 1), SYNC_SKIP);  /* from before our snapshot */
    assert_int_equal(sync_decide(&st, 3, 11, 1), SYNC_RESYNC);
}

static void test_new_term_begin(void **state)
{
    (void)state;
    struct sync_state st = at(3, 10);
    assert_int_equal(sync_decide(&st, 4, 10, 1), SYNC_ADOPT);
    assert_int_equal(sync_decide(&st, 9, 10, 1), SYNC_ADOPT); /* terms may skip numbers */
    assert_int_equal(sync_decide(&st, 4, 9, 1), SYNC_RESYNC);  /* we hold an unanswered write */
    assert_int_equal(sync_decide(&st, 4, 11, 1), SYNC_RESYNC); /* we miss one */
}

static void test_new_term_without_begin(void **state)
{
    (void)state;
    struct sync_state st = at(3, 10);
    assert_int_equal(sync_decide(&st, 4, 11, 0), SYNC_RESYNC); /* its begin never reached us */
    assert_int_equal(sync_decide(&st, 4, 12, 0), SYNC_RESYNC);
    assert_int_equal(sync_decide(&st, 4, 10, 0), SYNC_RESYNC);
}

/* The bug of a frozen master: its write of the old term arrives after the new term began.
 * It was never answered; it is refused whatever its sequence, never skipped as old news. */
static void test_old_term_is_fenced(void **state)
{
    (void)state;
    struct sync_state st = at(4, 10);
    assert_int_equal(sync_decide(&st, 3, 11, 0), SYNC_FENCED);
    assert_int_equal(sync_decide(&st, 3, 10, 0), SYNC_FENCED);
    assert_int_equal(sync_decide(&st, 3, 2, 0), SYNC_FENCED);
    assert_int_equal(sync_decide(&st, 3, 10, 1), SYNC_FENCED);
    assert_int_equal(sync_decide(&st, 1, 11, 1), SYNC_FENCED);
}

static void test_unknown_term(void **state)
{
    (void)state;
    struct sync_state st = at(0, 10);
    assert_int_equal(st.term, 0);
    assert_int_equal(sync_decide(&st, 1, 11, 0), SYNC_APPLY);
    assert_int_equal(sync_decide(&st, 1, 10, 0), SYNC_SKIP);
    assert_int_equal(sync_decide(&st, 1, 12, 0), SYNC_RESYNC);
    assert_int_equal(sync_decide(&st, 1, 10, 1), SYNC_ADOPT);
    assert_int_equal(sync_decide(&st, 1, 11, 1), SYNC_RESYNC);
    st = at(-7, 0); /* a negative term is no term */
    assert_int_equal(st.term, 0);
    assert_int_equal(sync_decide(&st, 1, 1, 0), SYNC_APPLY);
    assert_int_equal(sync_decide(&st, 1, 0, 1), SYNC_ADOPT);
}

static void test_done_updates_state(void **state)
{
    (void)state;
    struct sync_state st = at(0, 10);
    sync_done(&st, SYNC_APPLY, 1, 11);
    assert_int_equal(st.applied, 11);
    assert_int_equal(st.term, 1);
    sync_done(&st, SYNC_SKIP, 9, 5);
    sync_done(&st, SYNC_RESYNC, 9, 50);
    sync_done(&st, SYNC_FENCED, 9, 50);
    assert_int_equal(st.applied, 11);
    assert_int_equal(st.term, 1);
    sync_done(&st, SYNC_ADOPT, 2, 11);
    assert_int_equal(st.applied, 11);
    assert_int_equal(st.term, 2);
    assert_int_equal(sync_decide(&st, 2, 12, 0), SYNC_APPLY);
    assert_int_equal(sync_decide(&st, 1, 12, 0), SYNC_FENCED);
}

/* Every (begin, term relation, seq offset) combination, against the rules written out. */
static void test_exhaustive_table(void **state)
{
    (void)state;
    const int64_t locals[] = {5, 0};
    const int64_t remotes[] = {4, 5, 6};
    for (int li = 0; li < 2; li++)
        for (int ri = 0; ri < 3; ri++)
            for (int begin = 0; begin <= 1; begin++)
                for (int off = -3; off <= 3; off++) {
                    struct sync_state st = at(locals[li], 100);
                    int64_t seq = 100 + off, lt = locals[li], rt = remotes[ri];
                    enum sync_action want;
                    if (rt < lt)
                        want = SYNC_FENCED;
                    else if (begin && rt == lt)
                        want = off <= 0 ? SYNC_SKIP : SYNC_RESYNC;
                    else if (begin)
                        want = off == 0 ? SYNC_ADOPT : SYNC_RESYNC;
                    else if (rt != lt && lt != 0)
                        want = SYNC_RESYNC;
                    else
                        want = off <= 0 ? SYNC_SKIP : off == 1 ? SYNC_APPLY : SYNC_RESYNC;
                    enum sync_action got = sync_decide(&st, rt, seq, begin);
                    if (got != want)
                        fail_msg("local %lld remote %lld begin %d off %d: got %s want %s", (long long)lt,
                                 (long long)rt, begin, off, sync_action_name(got), sync_action_name(want));
                }
}

/* A slave bound its queue while term 1 was at 5 and took a snapshot at 8; the master of
 * term 1 froze, term 2 began at 10, then the frozen master woke and published 11, which
 * it never answered: the stream the slave sees, in queue order. */
static void test_stream_across_snapshot_freeze_and_failover(void **state)
{
    (void)state;
    struct {
        int64_t term, seq;
        int begin;
        enum sync_action want;
    } stream[] = {
        {1, 6, 0, SYNC_SKIP},   {1, 7, 0, SYNC_SKIP},    {1, 8, 0, SYNC_SKIP},
        {1, 9, 0, SYNC_APPLY},  {1, 10, 0, SYNC_APPLY},  {1, 10, 0, SYNC_SKIP}, /* a republished write */
        {2, 10, 1, SYNC_ADOPT}, {1, 11, 0, SYNC_FENCED}, {2, 11, 0, SYNC_APPLY},
        {2, 12, 0, SYNC_APPLY}, {2, 14, 0, SYNC_RESYNC}, /* 13 was lost */
    };
    struct sync_state st = at(1, 8);
    for (size_t i = 0; i < sizeof stream / sizeof stream[0]; i++) {
        enum sync_action a = sync_decide(&st, stream[i].term, stream[i].seq, stream[i].begin);
        if (a != stream[i].want)
            fail_msg("message %zu (term %lld seq %lld): got %s want %s", i, (long long)stream[i].term,
                     (long long)stream[i].seq, sync_action_name(a), sync_action_name(stream[i].want));
        sync_done(&st, a, stream[i].term, stream[i].seq);
    }
    assert_int_equal(st.applied, 12);
    assert_int_equal(st.term, 2);
}

/* The frozen master's write reached this slave before the new term's marker: applied in
 * order, then the marker shows the copy is ahead of the new master, so it resyncs. */
static void test_unanswered_write_before_marker_resyncs(void **state)
{
    (void)state;
    struct sync_state st = at(1, 10);
    assert_int_equal(sync_decide(&st, 1, 11, 0), SYNC_APPLY);
    sync_done(&st, SYNC_APPLY, 1, 11);
    assert_int_equal(sync_decide(&st, 2, 10, 1), SYNC_RESYNC);
}

static void test_extreme_sequences(void **state)
{
    (void)state;
    struct sync_state st = at(1, INT64_MAX);
    assert_int_equal(sync_decide(&st, 1, INT64_MAX, 0), SYNC_SKIP);
    assert_int_equal(sync_decide(&st, 1, INT64_MIN, 0), SYNC_SKIP);
    st = at(1, INT64_MAX - 1);
    assert_int_equal(sync_decide(&st, 1, INT64_MAX, 0), SYNC_APPLY);
    st = at(1, -5); /* never written by us, but a message must not break the rules */
    assert_int_equal(sync_decide(&st, 1, -4, 0), SYNC_APPLY);
    assert_int_equal(sync_decide(&st, 1, INT64_MAX, 0), SYNC_RESYNC);
    assert_int_equal(sync_decide(&st, INT64_MIN, 0, 0), SYNC_FENCED);
}

static void test_action_names(void **state)
{
    (void)state;
    assert_string_equal(sync_action_name(SYNC_APPLY), "apply");
    assert_string_equal(sync_action_name(SYNC_SKIP), "skip");
    assert_string_equal(sync_action_name(SYNC_ADOPT), "adopt");
    assert_string_equal(sync_action_name(SYNC_RESYNC), "resync");
    assert_string_equal(sync_action_name(SYNC_FENCED), "fenced");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_term_writes),
        cmocka_unit_test(test_same_term_begin),
        cmocka_unit_test(test_new_term_begin),
        cmocka_unit_test(test_new_term_without_begin),
        cmocka_unit_test(test_old_term_is_fenced),
        cmocka_unit_test(test_unknown_term),
        cmocka_unit_test(test_done_updates_state),
        cmocka_unit_test(test_exhaustive_table),
        cmocka_unit_test(test_stream_across_snapshot_freeze_and_failover),
        cmocka_unit_test(test_unanswered_write_before_marker_resyncs),
        cmocka_unit_test(test_extreme_sequences),
        cmocka_unit_test(test_action_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
