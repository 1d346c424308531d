/* Unit tests for the autoscaler's arithmetic and interval clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../orchestrator/scaler.h"

static void target_follows_the_contract_table(void **state)
{
    (void)state;
    assert_int_equal(scaler_target(0, 10), 1);
    assert_int_equal(scaler_target(1, 10), 1);
    assert_int_equal(scaler_target(20, 10), 1);
    assert_int_equal(scaler_target(21, 10), 2);
    assert_int_equal(scaler_target(40, 10), 2);
    assert_int_equal(scaler_target(41, 10), 3);
    assert_int_equal(scaler_target(60, 10), 3);
    assert_int_equal(scaler_target(61, 10), 4);
    assert_int_equal(scaler_target(100000, 10), 10);
    assert_int_equal(scaler_target(100, 0), 1);
}

static void clock_starts_at_first_read(void **state)
{
    (void)state;
    scaler *s = scaler_new(120, 10);
    assert_int_equal(scaler_tick(s, 1000), -1); /* no read yet: nothing scales */
    assert_true(scaler_seconds_left(s, 1000) < 0);
    scaler_count_read(s, 1000);
    assert_true(scaler_seconds_left(s, 1030) > 89.9 && scaler_seconds_left(s, 1030) < 90.1);
    assert_true(scaler_seconds_left(s, 1130) > 109.9 && scaler_seconds_left(s, 1130) < 110.1);
    assert_int_equal(scaler_tick(s, 1119.9), -1);
    for (int i = 0; i < 44; i++)
        scaler_count_read(s, 1100);
    assert_int_equal(scaler_tick(s, 1120), 3); /* 45 reads -> 3 slaves */
    assert_int_equal(scaler_reads(s), 0);      /* the count was reset */
    assert_int_equal(scaler_tick(s, 1200), -1);
    assert_int_equal(scaler_tick(s, 1240), 1); /* a quiet interval scales back to one */
    scaler_free(s);
}

static void late_ticks_catch_up_one_interval_at_a_time(void **state)
{
    (void)state;
    scaler *s = scaler_new(10, 5);
    scaler_count_read(s, 5);
    for (int i = 0; i < 30; i++)
        scaler_count_read(s, 6);
    assert_int_equal(scaler_tick(s, 40), 2); /* boundary 15: 31 reads */
    assert_int_equal(scaler_tick(s, 40), 1); /* boundary 25 */
    assert_int_equal(scaler_tick(s, 40), 1); /* boundary 35 */
    assert_int_equal(scaler_tick(s, 40), -1);
    scaler_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(target_follows_the_contract_table),
        cmocka_unit_test(clock_starts_at_first_read),
        cmocka_unit_test(late_ticks_catch_up_one_interval_at_a_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
