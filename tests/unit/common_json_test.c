/* Unit tests for the JSON helpers, percent-decoding, path prefixes and the text buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "http_server.h"
#include "jsonx.h"
#include "sbuf.h"

static void parse_gives_a_reason(void **state)
{
    (void)state;
    char err[200] = "";
    json_t *v = jsonx_parse("{\"a\": 1}", 8, err, sizeof err);
    assert_non_null(v);
    json_decref(v);
    assert_null(jsonx_parse("{\"a\": }", 7, err, sizeof err));
    assert_non_null(strstr(err, "invalid JSON at line 1"));
    /* duplicate keys are refused: a request must not mean two things */
    assert_null(jsonx_parse("{\"a\": 1, \"a\": 2}", 16, err, sizeof err));
    assert_null(jsonx_parse("", 0, err, sizeof err));
}

static void typed_getters(void **state)
{
    (void)state;
    json_t *o = json_pack("{s:s,s:i,s:n}", "s", "x", "i", 7, "n");
    const char *s = NULL;
    json_int_t i = 0;
    assert_int_equal(jsonx_get_str(o, "s", &s), 0);
    assert_string_equal(s, "x");
    assert_int_equal(jsonx_get_str(o, "i", &s), -2);
    assert_int_equal(jsonx_get_str(o, "missing", &s), -1);
    assert_int_equal(jsonx_get_int(o, "i", &i), 0);
    assert_int_equal(i, 7);
    assert_int_equal(jsonx_get_int(o, "s", &i), -2);
    assert_int_equal(jsonx_get_int(o, "n", &i), -2);
    assert_int_equal(jsonx_get_int(NULL, "i", &i), -1);
    char *text = jsonx_dump(o);
    assert_string_equal(text, "{\"s\":\"x\",\"i\":7,\"n\":null}");
    free(text);
    json_decref(o);
}

static void percent_decoding(void **state)
{
    (void)state;
    char *d = http_percent_decode("bob%20smith%2Fx", 15, 0);
    assert_string_equal(d, "bob smith/x");
    free(d);
    d = http_percent_decode("a+b", 3, 1);
    assert_string_equal(d, "a b");
    free(d);
    d = http_percent_decode("a+b", 3, 0);
    assert_string_equal(d, "a+b");
    free(d);
    assert_null(http_percent_decode("%zz", 3, 0));
    assert_null(http_percent_decode("%4", 2, 0));
    assert_null(http_percent_decode("x%", 2, 0));
    assert_null(http_percent_decode("%00", 3, 0)); /* a NUL would cut the name short */
}

static void path_prefixes(void **state)
{
    (void)state;
    assert_true(http_path_under("/api/v1/users", "/api/v1/users"));
    assert_true(http_path_under("/api/v1/users/bob", "/api/v1/users"));
    assert_false(http_path_under("/api/v1/usersx", "/api/v1/users"));
    assert_false(http_path_under("/api/v1/_count", "/api/v1/users"));
}

static void sbuf_grows(void **state)
{
    (void)state;
    sbuf b;
    sbuf_init(&b);
    for (int i = 0; i < 1000; i++)
        sbuf_printf(&b, "%d,", i);
    size_t len;
    char *text = sbuf_take(&b, &len);
    assert_int_equal(len, strlen(text));
    assert_memory_equal(text, "0,1,2,", 6);
    assert_non_null(strstr(text, ",999,"));
    free(text);
    assert_int_equal(b.len, 0);
    sbuf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_gives_a_reason), cmocka_unit_test(typed_getters), cmocka_unit_test(percent_decoding),
        cmocka_unit_test(path_prefixes),        cmocka_unit_test(sbuf_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
