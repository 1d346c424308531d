/* rides_jbuf_test.c - the hand-written JSON writer must agree with jansson's encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "../../rides/jbuf.h"

static void same_as_jansson(const char *s)
{
    struct jbuf b;
    jbuf_init(&b, 1);
    jbuf_str(&b, s);
    json_t *j = json_string(s);
    assert_non_null(j);
    char *want = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
    assert_string_equal(b.data, want);
    assert_int_equal(b.len, strlen(want));
    free(want);
    json_decref(j);
    jbuf_free(&b);
}

static void test_strings(void **state)
{
    (void)state;
    same_as_jansson("");
    same_as_jansson("alice");
    same_as_jansson("bob smith");
    same_as_jansson("quote\" backslash\\ slash/");
    same_as_jansson("\x01\x02\b\f\n\r\t\x1f");
    same_as_jansson("Élodie 日本 \xc2\x85 \x7f");
    char big[300];
    memset(big, '"', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    same_as_jansson(big); /* grows past the hint */
}

static void test_ints_and_text(void **state)
{
    (void)state;
    struct jbuf b;
    jbuf_init(&b, 0);
    jbuf_lit(&b, "[");
    jbuf_int(&b, 0);
    jbuf_lit(&b, ",");
    jbuf_int(&b, 42);
    jbuf_lit(&b, ",");
    jbuf_int(&b, -7);
    jbuf_lit(&b, ",");
    jbuf_int(&b, INT64_MAX);
    jbuf_lit(&b, ",");
    jbuf_int(&b, INT64_MIN);
    jbuf_lit(&b, "]");
    assert_string_equal(b.data, "[0,42,-7,9223372036854775807,-9223372036854775808]");
    json_error_t e;
    json_t *j = json_loadb(b.data, b.len, 0, &e);
    assert_non_null(j);
    json_decref(j);
    jbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_ints_and_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
