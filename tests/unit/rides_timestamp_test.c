/* rides_timestamp_test.c - strict ride times: format, calendar, clock, round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../rides/timestamp.h"

static int ok_api(const char *s)
{
    struct ride_time t;
    return timestamp_parse_api(s, &t) == 0;
}

static void test_parses_fields(void **state)
{
    (void)state;
    struct ride_time t;
    assert_int_equal(timestamp_parse_api("05-01-2027:30-15-18", &t), 0);
    assert_int_equal(t.day, 5);
    assert_int_equal(t.month, 1);
    assert_int_equal(t.year, 2027);
    assert_int_equal(t.sec, 30);
    assert_int_equal(t.min, 15);
    assert_int_equal(t.hour, 18);
}

static void test_leap_years(void **state)
{
    (void)state;
    assert_true(ok_api("29-02-2024:00-00-00"));
    assert_true(ok_api("29-02-2000:00-00-00"));  /* divisible by 400 */
    assert_false(ok_api("29-02-1900:00-00-00")); /* divisible by 100, not 400 */
    assert_false(ok_api("29-02-2027:00-00-00"));
    assert_false(ok_api("29-02-2100:00-00-00"));
    assert_true(ok_api("28-02-2027:00-00-00"));
    assert_false(ok_api("30-02-2024:00-00-00"));
    assert_int_equal(timestamp_days_in_month(2024, 2), 29);
    assert_int_equal(timestamp_days_in_month(2023, 2), 28);
    assert_true(timestamp_is_leap(2000));
    assert_false(timestamp_is_leap(1900));
}

static void test_month_lengths(void **state)
{
    (void)state;
    assert_true(ok_api("31-01-2027:00-00-00"));
    assert_false(ok_api("31-04-2027:00-00-00"));
    assert_false(ok_api("31-06-2027:00-00-00"));
    assert_false(ok_api("31-09-2027:00-00-00"));
    assert_false(ok_api("31-11-2027:00-00-00"));
    assert_true(ok_api("31-12-2027:00-00-00"));
    assert_false(ok_api("32-01-2027:00-00-00"));
    assert_false(ok_api("00-01-2027:00-00-00"));
    assert_false(ok_api("01-00-2027:00-00-00"));
    assert_false(ok_api("01-13-2027:00-00-00"));
}

static void test_clock(void **state)
{
    (void)state;
    assert_true(ok_api("01-01-2027:59-59-23"));
    assert_true(ok_api("01-01-2027:00-00-00"));
    assert_false(ok_api("01-01-2027:00-00-24")); /* 24:00:00 is not a 24-hour clock time */
    assert_false(ok_api("01-01-2027:00-60-12"));
    assert_false(ok_api("01-01-2027:60-00-12")); /* no leap seconds */
}

static void test_years(void **state)
{
    (void)state;
    assert_false(ok_api("01-01-0000:00-00-00"));
    assert_true(ok_api("01-01-0001:00-00-00"));
    assert_true(ok_api("31-12-9999:59-59-23"));
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "5-01-2027:30-15-18",    /* 1-digit day */
        "05-1-2027:30-15-18",    /* 1-digit month */
        "05-01-27:30-15-18",     /* 2-digit year */
        "05-01-2027:3-15-18",    /* 1-digit second */
        "05-01-2027:30-5-18",    /* 1-digit minute */
        "05-01-2027:30-15-8",    /* 1-digit hour */
        "05-01-2027:30-15-18 ",  /* trailing blank */
        "05-01-2027:30-15-18Z",  /* trailing junk */
        " 05-01-2027:30-15-18",  /* leading blank */
        "05/01/2027:30-15-18",
        "05-01-2027 30-15-18",
        "05-01-2027:30:15:18",
        "2027-01-05 18:15:30",   /* the stored form is not the API form */
        "+5-01-2027:30-15-18",
        "-5-01-2027:30-15-18",
        "05-01-2027:30-15-1x",
        "05-01-02027:30-15-18",
        "05-01-2027:30-15-180",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ok_api(bad[i]))
            fail_msg("accepted \"%s\"", bad[i]);
    }
}

static void test_round_trips(void **state)
{
    (void)state;
    struct ride_time t;
    char db[TS_LEN + 1], api[TS_LEN + 1];
    assert_int_equal(timestamp_parse_api("05-01-2027:30-15-08", &t), 0);
    timestamp_format_db(&t, db);
    assert_string_equal(db, "2027-01-05 08:15:30");
    assert_int_equal(timestamp_db_to_api(db, api), 0);
    assert_string_equal(api, "05-01-2027:30-15-08");
    timestamp_format_api(&t, api);
    assert_string_equal(api, "05-01-2027:30-15-08");
    assert_int_equal(timestamp_db_to_api("2027-01-05T08:15:30", api), -1);
    assert_int_equal(timestamp_db_to_api("2027-02-30 08:15:30", api), -1);
}

static void test_db_of(void **state)
{
    (void)state;
    char db[TS_LEN + 1];
    timestamp_db_of(0, db);
    assert_string_equal(db, "1970-01-01 00:00:00");
    timestamp_db_of(951782400, db); /* 2000-02-29 00:00:00 UTC */
    assert_string_equal(db, "2000-02-29 00:00:00");
    /* The stored form sorts as time. */
    assert_true(strcmp("2027-01-05 18:15:30", "2027-01-05 18:15:31") < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parses_fields), cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_month_lengths), cmocka_unit_test(test_clock),
        cmocka_unit_test(test_years),         cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_round_trips),   cmocka_unit_test(test_db_of),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
