/* Unit tests for seeding a new master from the freshest database beside it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../worker/query.h"
#include "../../worker/seed.h"
#include "../../worker/store.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/rs-seed-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* A database at dir/name holding n users and applied sequence seq. */
static void make_db(const char *name, int n, int64_t seq)
{
    char path[128], user[32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    store *s = store_new(path);
    assert_non_null(s);
    for (int i = 0; i < n; i++) {
        snprintf(user, sizeof user, "%s-%d", name, i);
        json_t *req = json_pack("{s:s,s:{s:s,s:s}}", "table", "users", "insert", "username", user, "password",
                                "0123456789012345678901234567890123456789");
        json_t *res = NULL;
        char err[128];
        assert_int_equal(query_write(s, req, &res, err, sizeof err), 0);
        json_decref(res);
        json_decref(req);
    }
    assert_int_equal(store_set_applied_seq(s, seq), 0);
    store_free(s);
}

static long users_in(store *s)
{
    json_t *req = json_pack("{s:s,s:b}", "table", "users", "count", 1), *res = NULL;
    char err[128];
    assert_int_equal(query_read(s, req, &res, err, sizeof err), 0);
    long n = (long)json_integer_value(json_object_get(json_array_get(res, 0), "count"));
    json_decref(res);
    json_decref(req);
    return n;
}

/* This worker's own store, <dir>/<name>, its path in path (128 bytes). */
static store *own_store(const char *name, char *path)
{
    snprintf(path, 128, "%s/%s", dir, name);
    store *own = store_new(path);
    assert_non_null(own);
    return own;
}

static void takes_the_highest_sequence(void **state)
{
    (void)state;
    make_db("old.db", 2, 5);
    make_db("fresh.db", 3, 9);
    make_db("mid.db", 4, 7);
    char own_path[128];
    store *own = own_store("new.db", own_path);
    assert_int_equal(seed_from_freshest(own, own_path), 1);
    int64_t seq = 0;
    assert_int_equal(store_applied_seq(own, &seq), 0);
    assert_int_equal(seq, 9);
    assert_int_equal(users_in(own), 3);
    /* a second look finds nothing fresher */
    assert_int_equal(seed_from_freshest(own, own_path), 0);
    store_free(own);
}

static void keeps_its_own_when_it_is_freshest(void **state)
{
    (void)state;
    make_db("other.db", 1, 3);
    make_db("mine.db", 2, 4);
    char own_path[128];
    store *own = own_store("mine.db", own_path);
    assert_int_equal(seed_from_freshest(own, own_path), 0);
    assert_int_equal(users_in(own), 2);
    store_free(own);
}

static void set_term(const char *name, int64_t term)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    store *s = store_new(path);
    assert_non_null(s);
    assert_int_equal(store_set_term(s, term), 0);
    store_free(s);
}

/* A fenced master's file runs ahead in sequence with writes nobody acknowledged; the
 * newer term's copy is the one that holds every answered write. */
static void a_newer_term_beats_a_longer_sequence(void **state)
{
    (void)state;
    make_db("fenced.db", 5, 12);
    set_term("fenced.db", 1);
    make_db("successor.db", 2, 10);
    set_term("successor.db", 2);
    make_db("demoted.db", 6, 20); /* a fenced master demotes its own file to term 0 */
    char own_path[128];
    store *own = own_store("seeder.db", own_path);
    assert_int_equal(seed_from_freshest(own, own_path), 1);
    int64_t seq = 0, term = 0;
    assert_int_equal(store_applied_seq(own, &seq), 0);
    assert_int_equal(store_term(own, &term), 0);
    assert_int_equal(seq, 10);
    assert_int_equal(term, 2);
    assert_int_equal(users_in(own), 2);
    store_free(own);
}

static void ignores_files_that_are_not_databases(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/junk.db", dir);
    FILE *f = fopen(path, "w");
    fputs("not a database at all", f);
    fclose(f);
    char own_path[128];
    store *own = own_store("solo.db", own_path);
    assert_int_equal(seed_from_freshest(own, own_path), 0);
    store_free(own);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(takes_the_highest_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(keeps_its_own_when_it_is_freshest, setup, teardown),
        cmocka_unit_test_setup_teardown(a_newer_term_beats_a_longer_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(ignores_files_that_are_not_databases, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
