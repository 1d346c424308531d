/* users_validate_test.c - username rules and SHA-1 password checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../users/users.h"
#include "validate.h"

static void test_usernames(void **state)
{
    (void)state;
    char name[80];
    assert_null(validate_username("alice"));
    assert_null(validate_username("a"));
    assert_null(validate_username("Élodie Ünal"));   /* UTF-8 and blanks are fine */
    assert_null(validate_username("a%2Fb"));         /* only decoded '/' matters */
    assert_null(validate_username("x\xc2\xa0y"));    /* U+00A0 is not a control */
    memset(name, 'a', 64);
    name[64] = '\0';
    assert_null(validate_username(name));
    name[64] = 'a';
    name[65] = '\0';
    assert_non_null(validate_username(name));        /* 65 bytes */
    assert_non_null(validate_username(""));
    assert_non_null(validate_username("a/b"));
    assert_non_null(validate_username("/"));
    assert_non_null(validate_username("a\tb"));
    assert_non_null(validate_username("a\nb"));
    assert_non_null(validate_username("\x1f"));
    assert_non_null(validate_username("a\x7f"));
    assert_non_null(validate_username("a\xc2\x85"));  /* U+0085 NEL, a C1 control */
    assert_non_null(validate_username("a\xc2\x9f"));
}

static void test_passwords(void **state)
{
    (void)state;
    assert_true(validate_password("3d725109c7e7c0bfb9d709836735b56d943d263f"));
    assert_true(validate_password("3D725109C7E7C0BFB9D709836735B56D943D263F"));
    assert_true(validate_password("3D725109c7e7c0bfb9d709836735b56d943d263F"));
    assert_false(validate_password(""));
    assert_false(validate_password("3d725109c7e7c0bfb9d709836735b56d943d263"));   /* 39 */
    assert_false(validate_password("3d725109c7e7c0bfb9d709836735b56d943d263f0")); /* 41 */
    assert_false(validate_password("3d725109c7e7c0bfb9d709836735b56d943d263g"));
    assert_false(validate_password("3d725109c7e7c0bfb9d709836735b56d943d263 "));
    assert_false(validate_password("0x725109c7e7c0bfb9d709836735b56d943d263f"));
}

static void test_password_lower(void **state)
{
    (void)state;
    char out[PASSWORD_LEN + 1];
    validate_password_lower("3D725109C7E7C0BFB9D709836735B56D943D263F", out);
    assert_string_equal(out, "3d725109c7e7c0bfb9d709836735b56d943d263f");
}

static void test_counted(void **state)
{
    (void)state;
    assert_true(users_counted_path("/api/v1/users"));
    assert_true(users_counted_path("/api/v1/users/alice"));
    assert_true(users_counted_path("/api/v1/users/"));
    assert_false(users_counted_path("/api/v1/usersx"));
    assert_false(users_counted_path("/api/v1/_count"));
    assert_false(users_counted_path("/api/v1/db/clear"));
    assert_false(users_counted_path("/healthz"));
    assert_false(users_counted_path("/api/v1/rides"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usernames),
        cmocka_unit_test(test_passwords),
        cmocka_unit_test(test_password_lower),
        cmocka_unit_test(test_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
