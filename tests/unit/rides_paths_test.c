/* rides_paths_test.c - which paths the rides _count counts, and rideId path segments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../rides/rides.h"

static void test_counted(void **state)
{
    (void)state;
    assert_true(rides_counted_path("/api/v1/rides"));
    assert_true(rides_counted_path("/api/v1/rides/"));
    assert_true(rides_counted_path("/api/v1/rides/7"));
    assert_true(rides_counted_path("/api/v1/rides/count"));
    assert_false(rides_counted_path("/api/v1/ridesx"));
    assert_false(rides_counted_path("/api/v1/_count"));
    assert_false(rides_counted_path("/api/v1/db/clear"));
    assert_false(rides_counted_path("/healthz"));
    assert_false(rides_counted_path("/api/v1/users"));
}

static void test_ride_id(void **state)
{
    (void)state;
    json_int_t id = 0;
    assert_int_equal(rides_parse_id("1", &id), 0);
    assert_int_equal(id, 1);
    assert_int_equal(rides_parse_id("9223372036854775807", &id), 0);
    assert_int_equal(id, INT64_MAX);
    assert_int_equal(rides_parse_id("9223372036854775808", &id), -1);
    assert_int_equal(rides_parse_id("99999999999999999999999", &id), -1);
    assert_int_equal(rides_parse_id("0", &id), -1);
    assert_int_equal(rides_parse_id("01", &id), -1);
    assert_int_equal(rides_parse_id("-1", &id), -1);
    assert_int_equal(rides_parse_id("+1", &id), -1);
    assert_int_equal(rides_parse_id("1.0", &id), -1);
    assert_int_equal(rides_parse_id("1a", &id), -1);
    assert_int_equal(rides_parse_id("abc", &id), -1);
    assert_int_equal(rides_parse_id("", &id), -1);
    assert_int_equal(rides_parse_id(NULL, &id), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counted),
        cmocka_unit_test(test_ride_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
