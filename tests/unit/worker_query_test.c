/* worker_query_test.c - the request compiler: every read and write form, every refusal,
 * injection strings as data, constraint violations as 400s. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tmpdb.h"

#include "../../worker/query.h"
#include "../../worker/store.h"

#define PW "0123456789abcdef0123456789abcdef01234567"

struct fixture {
    char path[64];
    store *s;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    snprintf(f->path, sizeof f->path, "/tmp/worker_query_test.XXXXXX");
    int fd = mkstemp(f->path);
    if (fd < 0)
        return -1;
    close(fd);
    unlink(f->path); /* SQLite creates it; an empty file is a valid empty database too */
    f->s = store_new(f->path);
    *state = f;
    return f->s ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    store_free(f->s);
    remove_db(f->path);
    free(f);
    return 0;
}

/* Runs a write given as JSON text; returns the status, *out (may be NULL) the result. */
static int write_json(store *s, const char *text, json_t **out, char *err, size_t errlen)
{
    json_t *req = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(req);
    json_t *res = NULL;
    int rc = query_write(s, req, &res, err, errlen);
    json_decref(req);
    if (out)
        *out = res;
    else
        json_decref(res);
    return rc;
}

static int read_json(store *s, const char *text, json_t **out, char *err, size_t errlen)
{
    json_t *req = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(req);
    json_t *res = NULL;
    int rc = query_read(s, req, &res, err, errlen);
    json_decref(req);
    if (out)
        *out = res;
    else
        json_decref(res);
    return rc;
}

/* The write must succeed; returns lastId. */
static json_int_t must_write(store *s, const char *text)
{
    char err[256] = "";
    json_t *res;
    int rc = write_json(s, text, &res, err, sizeof err);
    if (rc != QUERY_OK)
        fail_msg("write %s failed: %s", text, err);
    json_int_t id = json_integer_value(json_object_get(res, "lastId"));
    json_decref(res);
    return id;
}

/* The read must succeed; compares the compact encoding of the rows with expect. */
static void expect_read(store *s, const char *text, const char *expect)
{
    char err[256] = "";
    json_t *rows;
    int rc = read_json(s, text, &rows, err, sizeof err);
    if (rc != QUERY_OK)
        fail_msg("read %s failed: %s", text, err);
    char *got = json_dumps(rows, JSON_COMPACT);
    json_decref(rows);
    if (strcmp(got, expect) != 0) {
        print_error("read %s\n  got  %s\n  want %s\n", text, got, expect);
        free(got);
        fail();
    }
    free(got);
}

static void expect_write_refused(store *s, const char *text)
{
    char err[256] = "";
    int rc = write_json(s, text, NULL, err, sizeof err);
    if (rc != QUERY_EINVALID)
        fail_msg("write %s: expected a refusal, got %d", text, rc);
    assert_true(strlen(err) > 0);
}

static void expect_read_refused(store *s, const char *text)
{
    char err[256] = "";
    int rc = read_json(s, text, NULL, err, sizeof err);
    if (rc != QUERY_EINVALID)
        fail_msg("read %s: expected a refusal, got %d", text, rc);
    assert_true(strlen(err) > 0);
}

static void seed(store *s)
{
    must_write(s, "{\"table\":\"users\",\"insert\":{\"username\":\"alice\",\"password\":\"" PW "\"}}");
    must_write(s, "{\"table\":\"users\",\"insert\":{\"username\":\"bob\",\"password\":\"" PW "\"}}");
    must_write(s, "{\"table\":\"rides\",\"insert\":{\"created_by\":\"alice\",\"timestamp\":\"2030-01-01 10:00:00\","
                  "\"source\":1,\"destination\":9}}");
    must_write(s, "{\"table\":\"rides\",\"insert\":{\"created_by\":\"alice\",\"timestamp\":\"2030-01-02 10:00:00\","
                  "\"source\":2,\"destination\":9}}");
    must_write(s, "{\"table\":\"rides\",\"insert\":{\"created_by\":\"bob\",\"timestamp\":\"2030-01-03 10:00:00\","
                  "\"source\":3,\"destination\":9}}");
}

static void test_insert_answers_changes_and_last_id(void **state)
{
    struct fixture *f = *state;
    char err[256];
    json_t *res;
    assert_int_equal(write_json(f->s, "{\"table\":\"users\",\"insert\":{\"username\":\"a\",\"password\":\"" PW "\"}}",
                                &res, err, sizeof err),
                     QUERY_OK);
    assert_int_equal(json_integer_value(json_object_get(res, "changes")), 1);
    assert_int_equal(json_integer_value(json_object_get(res, "lastId")), 1);
    json_decref(res);
    json_int_t id = must_write(f->s, "{\"table\":\"rides\",\"insert\":{\"created_by\":\"a\",\"timestamp\":"
                                     "\"2030-01-01 00:00:00\",\"source\":1,\"destination\":2}}");
    assert_int_equal(id, 1);
    id = must_write(f->s, "{\"table\":\"ride_users\",\"insert\":{\"ride_id\":1,\"username\":\"a\"}}");
    assert_int_equal(id, 1);
}

static void test_read_forms(void **state)
{
    struct fixture *f = *state;
    seed(f->s);
    /* every column by default, in schema order */
    expect_read(f->s, "{\"table\":\"users\",\"where\":{\"username\":\"bob\"}}",
                "[{\"id\":2,\"username\":\"bob\",\"password\":\"" PW "\"}]");
    expect_read(f->s, "{\"table\":\"users\",\"columns\":[\"username\"],\"order\":[\"id\"]}",
                "[{\"username\":\"alice\"},{\"username\":\"bob\"}]");
    expect_read(f->s, "{\"table\":\"users\",\"columns\":[\"username\"],\"order\":[\"-username\"]}",
                "[{\"username\":\"bob\"},{\"username\":\"alice\"}]");
    expect_read(f->s, "{\"table\":\"rides\",\"columns\":[\"id\"],\"where\":{\"timestamp\":{\">\":\"2030-01-01 10:00:00\"}},"
                      "\"order\":[\"-timestamp\"]}",
                "[{\"id\":3},{\"id\":2}]");
    expect_read(f->s, "{\"table\":\"rides\",\"columns\":[\"id\"],\"where\":{\"source\":{\"!=\":2}},\"order\":[\"id\"],"
                      "\"limit\":1}",
                "[{\"id\":1}]");
    expect_read(f->s, "{\"table\":\"rides\",\"columns\":[\"id\"],\"where\":{\"source\":{\"<\":2}}}", "[{\"id\":1}]");
    expect_read(f->s, "{\"table\":\"rides\",\"columns\":[\"id\"],\"where\":{\"source\":{\"<=\":2}},\"order\":[\"id\"]}",
                "[{\"id\":1},{\"id\":2}]");
    expect_read(f->s, "{\"table\":\"rides\",\"columns\":[\"id\"],\"where\":{\"source\":{\">=\":3}}}", "[{\"id\":3}]");
    expect_read(f->s, "{\"table\":\"rides\",\"columns\":[\"id\"],\"where\":{\"source\":{\"=\":3}}}", "[{\"id\":3}]");
    /* a range: several operators on one column, and several columns, all ANDed */
    expect_read(f->s, "{\"table\":\"rides\",\"columns\":[\"id\"],\"where\":{\"source\":{\">\":1,\"<\":3},"
                      "\"created_by\":\"alice\"}}",
                "[{\"id\":2}]");
    expect_read(f->s, "{\"table\":\"rides\",\"count\":true}", "[{\"count\":3}]");
    expect_read(f->s, "{\"table\":\"rides\",\"count\":true,\"where\":{\"created_by\":\"alice\"}}", "[{\"count\":2}]");
    expect_read(f->s, "{\"table\":\"rides\",\"count\":false,\"columns\":[\"id\"],\"limit\":2,\"order\":[\"-id\"]}",
                "[{\"id\":3},{\"id\":2}]");
    expect_read(f->s, "{\"table\":\"users\",\"where\":{\"username\":\"nobody\"}}", "[]");
    /* unknown extra fields are ignored */
    expect_read(f->s, "{\"table\":\"users\",\"columns\":[\"id\"],\"where\":{},\"extra\":1,\"order\":[]}",
                "[{\"id\":1},{\"id\":2}]");
}

static void test_update_and_delete(void **state)
{
    struct fixture *f = *state;
    char err[256];
    json_t *res;
    seed(f->s);
    assert_int_equal(write_json(f->s, "{\"table\":\"rides\",\"update\":{\"id\":1},\"set\":{\"destination\":42}}", &res,
                                err, sizeof err),
                     QUERY_OK);
    assert_int_equal(json_integer_value(json_object_get(res, "changes")), 1);
    assert_int_equal(json_integer_value(json_object_get(res, "lastId")), 0);
    json_decref(res);
    expect_read(f->s, "{\"table\":\"rides\",\"columns\":[\"destination\"],\"where\":{\"id\":1}}", "[{\"destination\":42}]");
    assert_int_equal(write_json(f->s, "{\"table\":\"rides\",\"delete\":{\"id\":{\"<=\":2}}}", &res, err, sizeof err),
                     QUERY_OK);
    assert_int_equal(json_integer_value(json_object_get(res, "changes")), 2);
    json_decref(res);
    expect_read(f->s, "{\"table\":\"rides\",\"count\":true}", "[{\"count\":1}]");
    /* no match is not an error */
    assert_int_equal(write_json(f->s, "{\"table\":\"users\",\"delete\":{\"username\":\"zed\"}}", &res, err, sizeof err),
                     QUERY_OK);
    assert_int_equal(json_integer_value(json_object_get(res, "changes")), 0);
    json_decref(res);
}

static void test_refusals(void **state)
{
    struct fixture *f = *state;
    static const char *const bad_writes[] = {
        "[]", "\"users\"", "5", "{}", "{\"table\":\"users\"}", "{\"table\":7,\"insert\":{\"username\":\"a\"}}",
        "{\"table\":\"nope\",\"insert\":{\"username\":\"a\"}}",
        "{\"table\":\"meta\",\"insert\":{\"key\":\"a\",\"value\":1}}",
        "{\"table\":\"write_log\",\"delete\":{\"id\":\"x\"}}",
        "{\"table\":\"users; DROP TABLE users\",\"insert\":{\"username\":\"a\",\"password\":\"" PW "\"}}",
        "{\"table\":\"users\",\"insert\":{}}", "{\"table\":\"users\",\"insert\":[\"username\"]}",
        "{\"table\":\"users\",\"insert\":{\"username\":\"a\",\"nope\":1}}",
        "{\"table\":\"users\",\"insert\":{\"username\":7,\"password\":\"" PW "\"}}",
        "{\"table\":\"users\",\"insert\":{\"username\":\"a\",\"password\":null}}",
        "{\"table\":\"users\",\"insert\":{\"username\":\"a\",\"password\":1.5}}",
        "{\"table\":\"users\",\"insert\":{\"id\":5,\"username\":\"a\",\"password\":\"" PW "\"}}",
        "{\"table\":\"users\",\"insert\":{\"username\":\"a\",\"password\":\"" PW "\"},\"delete\":{\"username\":\"a\"}}",
        "{\"table\":\"users\",\"delete\":{}}", "{\"table\":\"users\",\"delete\":\"all\"}",
        "{\"table\":\"users\",\"update\":{\"username\":\"a\"}}",
        "{\"table\":\"users\",\"update\":{},\"set\":{\"password\":\"" PW "\"}}",
        "{\"table\":\"users\",\"update\":{\"username\":\"a\"},\"set\":{}}",
        "{\"table\":\"users\",\"update\":{\"username\":\"a\"},\"set\":{\"username\":{\"x\":1}}}",
        "{\"table\":\"users\",\"update\":{\"username\":\"a\"},\"set\":{\"id\":3}}",
        "{\"table\":\"users\",\"delete\":{\"username\":\"a\"},\"set\":{\"password\":\"x\"}}",
        "{\"table\":\"rides\",\"insert\":{\"created_by\":\"a\",\"timestamp\":\"t\",\"source\":\"1\",\"destination\":2}}",
        "{\"table\":\"rides\",\"insert\":{\"created_by\":\"a\",\"timestamp\":\"t\",\"source\":true,\"destination\":2}}",
        "{\"table\":\"users\",\"delete\":{\"username\":{\"LIKE\":\"%\"}}}",
        "{\"table\":\"users\",\"delete\":{\"username\":{}}}",
        "{\"table\":\"users\",\"delete\":{\"username\":[\"a\"]}}",
    };
    static const char *const bad_reads[] = {
        "[]", "{}", "{\"table\":\"nope\"}", "{\"table\":\"sqlite_schema\"}", "{\"table\":\"meta\"}",
        "{\"table\":\"users\",\"columns\":[\"nope\"]}", "{\"table\":\"users\",\"columns\":\"username\"}",
        "{\"table\":\"users\",\"columns\":[]}", "{\"table\":\"users\",\"columns\":[1]}",
        "{\"table\":\"users\",\"columns\":[\"username; DROP TABLE users\"]}",
        "{\"table\":\"users\",\"columns\":[\"*\"]}",
        "{\"table\":\"users\",\"where\":{\"nope\":1}}", "{\"table\":\"users\",\"where\":{\"username\":{\"~\":\"a\"}}}",
        "{\"table\":\"users\",\"where\":{\"username\":5}}", "{\"table\":\"users\",\"where\":[\"username\"]}",
        "{\"table\":\"users\",\"where\":{\"id\":\"1\"}}", "{\"table\":\"users\",\"where\":{\"id\":null}}",
        "{\"table\":\"users\",\"where\":{\"id\":{\"=\":\"1\"}}}",
        "{\"table\":\"users\",\"order\":[\"nope\"]}", "{\"table\":\"users\",\"order\":\"username\"}",
        "{\"table\":\"users\",\"order\":[\"-\"]}", "{\"table\":\"users\",\"order\":[\"--id\"]}",
        "{\"table\":\"users\",\"order\":[1]}",
        "{\"table\":\"users\",\"limit\":-1}", "{\"table\":\"users\",\"limit\":\"10\"}", "{\"table\":\"users\",\"limit\":0}",
        "{\"table\":\"users\",\"limit\":1.5}", "{\"table\":\"users\",\"count\":1}",
    };
    seed(f->s);
    for (size_t i = 0; i < sizeof bad_writes / sizeof bad_writes[0]; i++)
        expect_write_refused(f->s, bad_writes[i]);
    for (size_t i = 0; i < sizeof bad_reads / sizeof bad_reads[0]; i++)
        expect_read_refused(f->s, bad_reads[i]);
    /* nothing changed */
    expect_read(f->s, "{\"table\":\"users\",\"count\":true}", "[{\"count\":2}]");
    expect_read(f->s, "{\"table\":\"rides\",\"count\":true}", "[{\"count\":3}]");
}

static void test_refusal_messages_name_the_problem(void **state)
{
    struct fixture *f = *state;
    char err[256];
    assert_int_equal(read_json(f->s, "{\"table\":\"nope\"}", NULL, err, sizeof err), QUERY_EINVALID);
    assert_non_null(strstr(err, "unknown table"));
    assert_int_equal(read_json(f->s, "{\"table\":\"users\",\"columns\":[\"pw\"]}", NULL, err, sizeof err),
                     QUERY_EINVALID);
    assert_non_null(strstr(err, "unknown column \"pw\""));
    assert_int_equal(read_json(f->s, "{\"table\":\"users\",\"where\":{\"id\":{\"<>\":1}}}", NULL, err, sizeof err),
                     QUERY_EINVALID);
    assert_non_null(strstr(err, "operator"));
    assert_int_equal(write_json(f->s, "{\"table\":\"rides\",\"insert\":{\"source\":\"1\"}}", NULL, err, sizeof err),
                     QUERY_EINVALID);
    assert_non_null(strstr(err, "takes an integer"));
}

static void test_constraint_violations_are_refusals(void **state)
{
    struct fixture *f = *state;
    char err[256];
    seed(f->s);
    /* UNIQUE */
    assert_int_equal(write_json(f->s, "{\"table\":\"users\",\"insert\":{\"username\":\"alice\",\"password\":\"" PW "\"}}",
                                NULL, err, sizeof err),
                     QUERY_EINVALID);
    assert_non_null(strstr(err, "UNIQUE"));
    /* FOREIGN KEY */
    assert_int_equal(write_json(f->s, "{\"table\":\"rides\",\"insert\":{\"created_by\":\"nobody\",\"timestamp\":\"t\","
                                      "\"source\":1,\"destination\":2}}",
                                NULL, err, sizeof err),
                     QUERY_EINVALID);
    assert_non_null(strstr(err, "FOREIGN KEY"));
    assert_int_equal(write_json(f->s, "{\"table\":\"ride_users\",\"insert\":{\"ride_id\":99,\"username\":\"bob\"}}", NULL,
                                err, sizeof err),
                     QUERY_EINVALID);
    /* CHECK */
    assert_int_equal(write_json(f->s, "{\"table\":\"rides\",\"insert\":{\"created_by\":\"alice\",\"timestamp\":\"t\","
                                      "\"source\":0,\"destination\":2}}",
                                NULL, err, sizeof err),
                     QUERY_EINVALID);
    assert_non_null(strstr(err, "CHECK"));
    assert_int_equal(write_json(f->s, "{\"table\":\"rides\",\"update\":{\"id\":1},\"set\":{\"destination\":199}}", NULL,
                                err, sizeof err),
                     QUERY_EINVALID);
    /* NOT NULL */
    assert_int_equal(write_json(f->s, "{\"table\":\"users\",\"insert\":{\"username\":\"carol\"}}", NULL, err, sizeof err),
                     QUERY_EINVALID);
    assert_non_null(strstr(err, "NOT NULL"));
    /* UNIQUE pair in ride_users */
    must_write(f->s, "{\"table\":\"ride_users\",\"insert\":{\"ride_id\":1,\"username\":\"bob\"}}");
    assert_int_equal(write_json(f->s, "{\"table\":\"ride_users\",\"insert\":{\"ride_id\":1,\"username\":\"bob\"}}", NULL,
                                err, sizeof err),
                     QUERY_EINVALID);
    /* a user with rides cannot be renamed under them */
    assert_int_equal(write_json(f->s, "{\"table\":\"users\",\"update\":{\"username\":\"alice\"},"
                                      "\"set\":{\"username\":\"alicia\"}}",
                                NULL, err, sizeof err),
                     QUERY_EINVALID);
    expect_read(f->s, "{\"table\":\"users\",\"count\":true}", "[{\"count\":2}]");
    expect_read(f->s, "{\"table\":\"rides\",\"count\":true}", "[{\"count\":3}]");
}

static void test_injection_strings_are_data(void **state)
{
    struct fixture *f = *state;
    static const char *const names[] = {"x'; DROP TABLE users; --", "\" OR 1=1 --", "Robert'); DELETE FROM rides;--",
                                        "%s%n%x", "\xc3\xbc\xe2\x98\x83 \xe2\x98\x83", "?", "?1", ":a"};
    char err[256];
    seed(f->s);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *req = json_pack("{s:s,s:{s:s,s:s}}", "table", "users", "insert", "username", names[i], "password", PW);
        json_t *res = NULL;
        assert_int_equal(query_write(f->s, req, &res, err, sizeof err), QUERY_OK);
        json_decref(res);
        json_decref(req);
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        json_t *req = json_pack("{s:s,s:[s],s:{s:s}}", "table", "users", "columns", "username", "where", "username",
                                names[i]);
        json_t *rows = NULL;
        assert_int_equal(query_read(f->s, req, &rows, err, sizeof err), QUERY_OK);
        assert_int_equal(json_array_size(rows), 1);
        assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "username")), names[i]);
        json_decref(rows);
        json_decref(req);
    }
    expect_read(f->s, "{\"table\":\"users\",\"where\":{\"username\":{\"=\":\"x' OR '1'='1\"}}}", "[]");
    expect_read(f->s, "{\"table\":\"users\",\"count\":true}", "[{\"count\":10}]");
    expect_read(f->s, "{\"table\":\"rides\",\"count\":true}", "[{\"count\":3}]");
}

static void test_sql_uses_only_whitelisted_names(void **state)
{
    (void)state;
    char err[256];
    query *q;
    json_t *req = json_loads("{\"table\":\"rides\",\"columns\":[\"id\",\"timestamp\"],\"where\":{\"source\":4,"
                             "\"timestamp\":{\">\":\"2027-01-05 18:15:30\"}},\"order\":[\"timestamp\",\"-id\"],\"limit\":100}",
                             0, NULL);
    assert_int_equal(query_compile_read(req, &q, err, sizeof err), QUERY_OK);
    assert_string_equal(query_sql(q), "SELECT \"id\", \"timestamp\" FROM \"rides\" WHERE \"source\" = ? AND "
                                      "\"timestamp\" > ? ORDER BY \"timestamp\", \"id\" DESC LIMIT 100");
    query_free(q);
    json_decref(req);
    req = json_loads("{\"table\":\"rides\",\"update\":{\"id\":7},\"set\":{\"destination\":9}}", 0, NULL);
    assert_int_equal(query_compile_write(req, &q, err, sizeof err), QUERY_OK);
    assert_string_equal(query_sql(q), "UPDATE \"rides\" SET \"destination\" = ? WHERE \"id\" = ?");
    query_free(q);
    json_decref(req);
}

static void test_big_and_repeated_requests(void **state)
{
    struct fixture *f = *state;
    char err[256];
    char name[32];
    seed(f->s);
    /* more distinct SQL shapes than the statement cache holds, several times over */
    for (int round = 0; round < 3; round++) {
        for (int lim = 1; lim <= 50; lim++) {
            snprintf(name, sizeof name, "%d", lim);
            json_t *req = json_pack("{s:s,s:i}", "table", "users", "limit", lim);
            json_t *rows;
            assert_int_equal(query_read(f->s, req, &rows, err, sizeof err), QUERY_OK);
            assert_int_equal(json_array_size(rows), lim < 2 ? 1 : 2);
            json_decref(rows);
            json_decref(req);
        }
    }
    /* a long value is data */
    char *big = malloc(100001);
    memset(big, 'z', 100000);
    big[100000] = '\0';
    json_t *req = json_pack("{s:s,s:{s:s,s:s}}", "table", "users", "insert", "username", big, "password", PW);
    json_t *res;
    assert_int_equal(query_write(f->s, req, &res, err, sizeof err), QUERY_OK);
    json_decref(res);
    json_decref(req);
    free(big);
}

/* {"table":"rides","<key>":["id","id",...]} with n entries; the caller frees it. */
static json_t *repeated(const char *key, const char *col, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(col));
    return json_pack("{s:s,s:o}", "table", "rides", key, a);
}

/* docs/API.md "Limits": each column at most once, limit at most QUERY_MAX_LIMIT. */
static void test_request_caps(void **state)
{
    (void)state;
    char err[256];
    query *q;
    static const char *const bad[] = {
        "{\"table\":\"users\",\"columns\":[\"id\",\"id\"]}",
        "{\"table\":\"users\",\"columns\":[\"id\",\"username\",\"password\",\"id\"]}",
        "{\"table\":\"users\",\"order\":[\"id\",\"-id\"]}",
        "{\"table\":\"users\",\"order\":[\"username\",\"username\"]}",
        "{\"table\":\"users\",\"limit\":10001}",
        "{\"table\":\"users\",\"limit\":9223372036854775807}",
        "{\"table\":\"users\",\"where\":{\"id\":1,\"username\":\"a\",\"password\":\"b\",\"x\":1}}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *req = json_loads(bad[i], 0, NULL);
        assert_non_null(req);
        err[0] = '\0';
        assert_int_equal(query_compile_read(req, &q, err, sizeof err), QUERY_EINVALID);
        assert_true(strlen(err) > 0);
        json_decref(req);
    }
    /* the 2,001-column request of issue 10, in columns and in order */
    static const char *const keys[] = {"columns", "order"};
    for (size_t k = 0; k < 2; k++) {
        json_t *req = repeated(keys[k], "id", 2001);
        assert_int_equal(query_compile_read(req, &q, err, sizeof err), QUERY_EINVALID);
        assert_non_null(strstr(err, "more columns than"));
        json_decref(req);
    }
    /* every column once, in any order, and the maximum limit are fine */
    json_t *ok = json_loads("{\"table\":\"rides\",\"columns\":[\"destination\",\"id\",\"source\",\"timestamp\","
                            "\"created_by\"],\"order\":[\"-timestamp\",\"id\"],\"limit\":10000}", 0, NULL);
    assert_int_equal(query_compile_read(ok, &q, err, sizeof err), QUERY_OK);
    query_free(q);
    json_decref(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_insert_answers_changes_and_last_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_update_and_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusal_messages_name_the_problem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_constraint_violations_are_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_injection_strings_are_data, setup, teardown),
        cmocka_unit_test(test_sql_uses_only_whitelisted_names),
        cmocka_unit_test_setup_teardown(test_big_and_repeated_requests, setup, teardown),
        cmocka_unit_test(test_request_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
