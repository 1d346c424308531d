/* rides_areas_test.c - area numbers as JSON integers and canonical decimal strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../rides/areas.h"

static int from_str(const char *s)
{
    int v = -1;
    return area_from_str(s, &v) == 0 ? v : -1;
}

/* Parses the JSON text and reads it as an area; -1 when rejected. */
static int from_json(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
    assert_non_null(j);
    int v = -1;
    int rc = area_from_json(j, &v);
    json_decref(j);
    return rc == 0 ? v : -1;
}

static void test_table(void **state)
{
    (void)state;
    assert_null(area_name(0));
    assert_string_equal(area_name(1), "Kempegowda Ward");
    assert_string_equal(area_name(198), "Hemmigepura");
    assert_null(area_name(199));
    assert_null(area_name(-1));
    for (int i = AREA_MIN; i <= AREA_MAX; i++)
        assert_non_null(area_name(i));
}

static void test_strings(void **state)
{
    (void)state;
    assert_int_equal(from_str("1"), 1);
    assert_int_equal(from_str("12"), 12);
    assert_int_equal(from_str("198"), 198);
    assert_int_equal(from_str("0"), -1);
    assert_int_equal(from_str("199"), -1);
    assert_int_equal(from_str("012"), -1); /* canonical decimal only: no leading zero */
    assert_int_equal(from_str("-1"), -1);
    assert_int_equal(from_str("+12"), -1);
    assert_int_equal(from_str(" 12"), -1);
    assert_int_equal(from_str("12 "), -1);
    assert_int_equal(from_str("12.0"), -1);
    assert_int_equal(from_str("1e1"), -1);
    assert_int_equal(from_str("0x1"), -1);
    assert_int_equal(from_str(""), -1);
    assert_int_equal(from_str("1000"), -1);
    assert_int_equal(from_str("99999999999999999999"), -1);
}

static void test_json(void **state)
{
    (void)state;
    assert_int_equal(from_json("1"), 1);
    assert_int_equal(from_json("198"), 198);
    assert_int_equal(from_json("\"12\""), 12);
    assert_int_equal(from_json("0"), -1);
    assert_int_equal(from_json("199"), -1);
    assert_int_equal(from_json("-1"), -1);
    assert_int_equal(from_json("12.0"), -1); /* a JSON real is not an area number */
    assert_int_equal(from_json("1e1"), -1);
    assert_int_equal(from_json("\"012\""), -1);
    assert_int_equal(from_json("\"-1\""), -1);
    assert_int_equal(from_json("true"), -1);
    assert_int_equal(from_json("null"), -1);
    assert_int_equal(from_json("[12]"), -1);
    assert_int_equal(from_json("{}"), -1);
    assert_int_equal(from_json("4294967308"), -1); /* 2^32 + 12 must not wrap to 12 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
