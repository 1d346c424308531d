/* common_http_auth_test.c - the admin token check: exact match only, any case of "Bearer". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http_auth.h"

static void test_bearer(void **state)
{
    (void)state;
    assert_true(http_auth_bearer_ok("Bearer s3cret", "s3cret"));
    assert_true(http_auth_bearer_ok("bearer  s3cret ", "s3cret"));
    assert_false(http_auth_bearer_ok(NULL, "s3cret"));
    assert_false(http_auth_bearer_ok("", "s3cret"));
    assert_false(http_auth_bearer_ok("s3cret", "s3cret"));
    assert_false(http_auth_bearer_ok("Basic s3cret", "s3cret"));
    assert_false(http_auth_bearer_ok("Bearer s3cre", "s3cret"));
    assert_false(http_auth_bearer_ok("Bearer s3crett", "s3cret"));
    assert_false(http_auth_bearer_ok("Bearer S3cret", "s3cret"));
    assert_false(http_auth_bearer_ok("Bearer ", "s3cret"));
    assert_false(http_auth_bearer_ok("Bearer", "s3cret"));
}

static void test_equal(void **state)
{
    (void)state;
    assert_true(http_auth_equal("abc", 3, "abc", 3));
    assert_true(http_auth_equal("", 0, "", 0));
    assert_false(http_auth_equal("abc", 3, "abd", 3));
    assert_false(http_auth_equal("ab", 2, "abc", 3));
    assert_false(http_auth_equal("abcd", 4, "abc", 3));
    assert_false(http_auth_equal("\0bc", 3, "abc", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
