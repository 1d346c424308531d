/* worker_store_test.c - the worker's SQLite store: schema and pragmas, applied_seq,
 * nested transactions, clear, the write log and its retention, cascades, and snapshot
 * files written and installed. */
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
    char path[2][64];
    store *s[2];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    for (int i = 0; i < 2; i++) {
        snprintf(f->path[i], sizeof f->path[i], "/tmp/worker_store_test.XXXXXX");
        int fd = mkstemp(f->path[i]);
        if (fd < 0)
            return -1;
        close(fd);
        f->s[i] = store_new(f->path[i]);
        if (!f->s[i])
            return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 2; i++) {
        store_free(f->s[i]);
        remove_db(f->path[i]);
    }
    free(f);
    return 0;
}

static json_int_t must_write(store *s, const char *text)
{
    char err[256] = "";
    json_t *req = json_loads(text, 0, NULL), *res = NULL;
    assert_non_null(req);
    if (query_write(s, req, &res, err, sizeof err) != QUERY_OK)
        fail_msg("write %s failed: %s", text, err);
    json_int_t id = json_integer_value(json_object_get(res, "lastId"));
    json_decref(res);
    json_decref(req);
    return id;
}

static int64_t count(store *s, const char *table)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    sqlite3_stmt *st = store_prepare(s, sql);
    assert_non_null(st);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    store_done(st);
    return n;
}

static const char *pragma_text(store *s, const char *sql, char *buf, size_t len)
{
    sqlite3_stmt *st = store_prepare(s, sql);
    assert_non_null(st);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
    store_done(st);
    return buf;
}

static void seed(store *s)
{
    must_write(s, "{\"table\":\"users\",\"insert\":{\"username\":\"alice\",\"password\":\"" PW "\"}}");
    must_write(s, "{\"table\":\"users\",\"insert\":{\"username\":\"bob\",\"password\":\"" PW "\"}}");
    must_write(s, "{\"table\":\"rides\",\"insert\":{\"created_by\":\"alice\",\"timestamp\":\"2030-01-01 10:00:00\","
                  "\"source\":1,\"destination\":9}}");
    must_write(s, "{\"table\":\"rides\",\"insert\":{\"created_by\":\"bob\",\"timestamp\":\"2030-01-02 10:00:00\","
                  "\"source\":2,\"destination\":9}}");
    must_write(s, "{\"table\":\"ride_users\",\"insert\":{\"ride_id\":1,\"username\":\"bob\"}}");
    must_write(s, "{\"table\":\"ride_users\",\"insert\":{\"ride_id\":2,\"username\":\"alice\"}}");
}

static void test_schema_and_pragmas(void **state)
{
    struct fixture *f = *state;
    char buf[32];
    assert_string_equal(pragma_text(f->s[0], "PRAGMA journal_mode", buf, sizeof buf), "wal");
    assert_string_equal(pragma_text(f->s[0], "PRAGMA foreign_keys", buf, sizeof buf), "1");
    assert_string_equal(pragma_text(f->s[0], "PRAGMA synchronous", buf, sizeof buf), "1"); /* NORMAL */
    assert_int_equal(count(f->s[0], "users"), 0);
    assert_int_equal(count(f->s[0], "rides"), 0);
    assert_int_equal(count(f->s[0], "ride_users"), 0);
    assert_int_equal(count(f->s[0], "write_log"), 0);
    int64_t seq = -1;
    assert_int_equal(store_applied_seq(f->s[0], &seq), 0);
    assert_int_equal(seq, 0);
}

static void test_reopen_keeps_data_and_seq(void **state)
{
    struct fixture *f = *state;
    seed(f->s[0]);
    assert_int_equal(store_set_applied_seq(f->s[0], 42), 0);
    store_free(f->s[0]);
    f->s[0] = store_new(f->path[0]); /* the schema statements are idempotent */
    assert_non_null(f->s[0]);
    int64_t seq;
    assert_int_equal(store_applied_seq(f->s[0], &seq), 0);
    assert_int_equal(seq, 42);
    assert_int_equal(count(f->s[0], "users"), 2);
}

static void test_transactions_nest_and_roll_back(void **state)
{
    struct fixture *f = *state;
    store *s = f->s[0];
    assert_int_equal(store_begin(s), 0);
    must_write(s, "{\"table\":\"users\",\"insert\":{\"username\":\"a\",\"password\":\"" PW "\"}}");
    assert_int_equal(store_begin(s), 0);
    must_write(s, "{\"table\":\"users\",\"insert\":{\"username\":\"b\",\"password\":\"" PW "\"}}");
    store_rollback(s); /* the inner one only */
    assert_int_equal(store_set_applied_seq(s, 1), 0);
    assert_int_equal(store_commit(s), 0);
    assert_int_equal(count(s, "users"), 1);

    assert_int_equal(store_begin(s), 0);
    must_write(s, "{\"table\":\"users\",\"insert\":{\"username\":\"c\",\"password\":\"" PW "\"}}");
    assert_int_equal(store_set_applied_seq(s, 2), 0);
    store_rollback(s);
    int64_t seq;
    assert_int_equal(store_applied_seq(s, &seq), 0);
    assert_int_equal(seq, 1);
    assert_int_equal(count(s, "users"), 1);
    store_rollback(s); /* nothing open: harmless */
}

static void test_clear_restarts_ids(void **state)
{
    struct fixture *f = *state;
    store *s = f->s[0];
    seed(s);
    int64_t changes = 0;
    assert_int_equal(store_clear(s, &changes), 0);
    assert_int_equal(changes, 6);
    assert_int_equal(count(s, "users"), 0);
    assert_int_equal(count(s, "rides"), 0);
    assert_int_equal(count(s, "ride_users"), 0);
    assert_int_equal(must_write(s, "{\"table\":\"users\",\"insert\":{\"username\":\"x\",\"password\":\"" PW "\"}}"), 1);
    assert_int_equal(must_write(s, "{\"table\":\"rides\",\"insert\":{\"created_by\":\"x\",\"timestamp\":\"t\","
                                   "\"source\":1,\"destination\":2}}"),
                     1);
    /* clear inside a caller's transaction rolls back with it */
    assert_int_equal(store_begin(s), 0);
    assert_int_equal(store_clear(s, NULL), 0);
    store_rollback(s);
    assert_int_equal(count(s, "users"), 1);
}

static void test_ids_are_not_reused_without_clear(void **state)
{
    struct fixture *f = *state;
    store *s = f->s[0];
    seed(s);
    char err[128];
    json_t *req = json_loads("{\"table\":\"rides\",\"delete\":{\"id\":2}}", 0, NULL), *res;
    assert_int_equal(query_write(s, req, &res, err, sizeof err), QUERY_OK);
    json_decref(res);
    json_decref(req);
    assert_int_equal(must_write(s, "{\"table\":\"rides\",\"insert\":{\"created_by\":\"bob\",\"timestamp\":\"t\","
                                   "\"source\":1,\"destination\":2}}"),
                     3);
}

static void test_deleting_a_user_cascades(void **state)
{
    struct fixture *f = *state;
    store *s = f->s[0];
    char err[128];
    seed(s);
    json_t *req = json_loads("{\"table\":\"users\",\"delete\":{\"username\":\"alice\"}}", 0, NULL), *res;
    assert_int_equal(query_write(s, req, &res, err, sizeof err), QUERY_OK);
    assert_int_equal(json_integer_value(json_object_get(res, "changes")), 1);
    json_decref(res);
    json_decref(req);
    /* alice's ride 1 is gone with bob's join of it; alice's join of bob's ride too */
    assert_int_equal(count(s, "users"), 1);
    assert_int_equal(count(s, "rides"), 1);
    assert_int_equal(count(s, "ride_users"), 0);
    /* deleting a ride removes its joins */
    must_write(s, "{\"table\":\"users\",\"insert\":{\"username\":\"carol\",\"password\":\"" PW "\"}}");
    must_write(s, "{\"table\":\"ride_users\",\"insert\":{\"ride_id\":2,\"username\":\"carol\"}}");
    req = json_loads("{\"table\":\"rides\",\"delete\":{\"id\":2}}", 0, NULL);
    assert_int_equal(query_write(s, req, &res, err, sizeof err), QUERY_OK);
    json_decref(res);
    json_decref(req);
    assert_int_equal(count(s, "ride_users"), 0);
    assert_int_equal(count(s, "users"), 2);
}

static void test_write_log(void **state)
{
    struct fixture *f = *state;
    store *s = f->s[0];
    char *resp = NULL;
    int64_t seq = 0;
    assert_int_equal(store_log_get(s, "req-1", &seq, &resp), 0);
    assert_null(resp);
    assert_int_equal(store_log_put(s, "req-1", 1, "{\"status\":200}", 100), 0);
    assert_int_equal(store_log_put(s, "req-2", 2, "{\"status\":200,\"body\":2}", 100), 0);
    assert_int_equal(store_log_get(s, "req-1", &seq, &resp), 1);
    assert_int_equal(seq, 1);
    assert_string_equal(resp, "{\"status\":200}");
    free(resp);
    assert_int_equal(store_log_put(s, "req-1", 3, "again", 200), 0); /* replaced, not a failure */
    assert_int_equal(store_log_prune(s, 2, 150), 0);
    assert_int_equal(store_log_get(s, "req-2", &seq, &resp), 0);
    assert_int_equal(store_log_get(s, "req-1", &seq, &resp), 1);
    assert_string_equal(resp, "again");
    free(resp);
}

/* Writes n log entries, entry i at unix time at0 + i * step. */
static void fill_log(store *s, int n, int64_t at0, int64_t step)
{
    char id[32];
    assert_int_equal(store_begin(s), 0);
    for (int i = 1; i <= n; i++) {
        snprintf(id, sizeof id, "r%d", i);
        assert_int_equal(store_log_put(s, id, i, "{}", at0 + i * step), 0);
    }
    assert_int_equal(store_commit(s), 0);
}

/* Older than a day and beyond the newest 100,000: gone; either one alone keeps it. */
static void test_write_log_keeps_a_day_or_100000(void **state)
{
    struct fixture *f = *state;
    fill_log(f->s[0], 102400, 0, 10); /* 10 s apart: the oldest are days old */
    assert_int_equal(count(f->s[0], "write_log"), 100000);
    char *resp = NULL;
    assert_int_equal(store_log_get(f->s[0], "r102400", NULL, &resp), 1);
    free(resp);
    assert_int_equal(store_log_get(f->s[0], "r2400", NULL, &resp), 0);
    assert_int_equal(store_log_get(f->s[0], "r2401", NULL, &resp), 1);
    free(resp);
    fill_log(f->s[1], 102400, 1000000, 0); /* all within the day: all kept */
    assert_int_equal(count(f->s[1], "write_log"), 102400);
}

/* A snapshot file of s[0] installed in s[1]. */
static void copy_over(struct fixture *f, int64_t *seq, int64_t *term)
{
    char path[96];
    snprintf(path, sizeof path, "%s.snap", f->path[0]);
    assert_int_equal(store_snapshot_file(f->s[0], path, seq, term), 0);
    assert_int_equal(store_install(f->s[1], path), 0);
    unlink(path);
}

static void test_snapshot_round_trip(void **state)
{
    struct fixture *f = *state;
    int64_t seq = 0, term = 0;
    seed(f->s[0]);
    assert_int_equal(store_log_put(f->s[0], "req-9", 6, "{\"x\":1}", 5), 0);
    assert_int_equal(store_set_applied_seq(f->s[0], 6), 0);
    assert_int_equal(store_set_term(f->s[0], 4), 0);
    /* the target holds other data that must disappear */
    must_write(f->s[1], "{\"table\":\"users\",\"insert\":{\"username\":\"stale\",\"password\":\"" PW "\"}}");
    assert_int_equal(store_set_applied_seq(f->s[1], 99), 0);

    copy_over(f, &seq, &term);
    assert_int_equal(seq, 6);
    assert_int_equal(term, 4);

    int64_t got;
    assert_int_equal(store_applied_seq(f->s[1], &got), 0);
    assert_int_equal(got, 6);
    assert_int_equal(store_term(f->s[1], &got), 0);
    assert_int_equal(got, 4);
    assert_int_equal(count(f->s[1], "users"), 2);
    assert_int_equal(count(f->s[1], "rides"), 2);
    assert_int_equal(count(f->s[1], "ride_users"), 2);
    char *resp = NULL;
    assert_int_equal(store_log_get(f->s[1], "req-9", NULL, &resp), 1);
    free(resp);
    char buf2[32];
    assert_string_equal(pragma_text(f->s[1], "PRAGMA journal_mode", buf2, sizeof buf2), "wal");
    assert_string_equal(pragma_text(f->s[1], "PRAGMA integrity_check", buf2, sizeof buf2), "ok");
    /* ids continue where the source left off, and cascades still work */
    assert_int_equal(must_write(f->s[1], "{\"table\":\"rides\",\"insert\":{\"created_by\":\"bob\",\"timestamp\":\"t\","
                                         "\"source\":1,\"destination\":2}}"),
                     3);
    char err[128];
    json_t *req = json_loads("{\"table\":\"users\",\"delete\":{\"username\":\"bob\"}}", 0, NULL), *res;
    assert_int_equal(query_write(f->s[1], req, &res, err, sizeof err), QUERY_OK);
    json_decref(res);
    json_decref(req);
    assert_int_equal(count(f->s[1], "rides"), 1);
    assert_int_equal(count(f->s[1], "ride_users"), 0);

    /* and the copy survives a reopen */
    store_free(f->s[1]);
    f->s[1] = store_new(f->path[1]);
    assert_non_null(f->s[1]);
    assert_int_equal(count(f->s[1], "users"), 1);
    assert_int_equal(store_applied_seq(f->s[1], &got), 0);
    assert_int_equal(got, 6);
}

/* Writes len bytes of buf to a fresh file; its path. */
static const char *junk_file(const char *path, const void *buf, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(buf, 1, len, fp), len);
    fclose(fp);
    return path;
}

static void test_bad_snapshots_change_nothing(void **state)
{
    struct fixture *f = *state;
    char path[96];
    snprintf(path, sizeof path, "%s.junk", f->path[1]);
    seed(f->s[1]);
    assert_int_equal(store_set_applied_seq(f->s[1], 3), 0);
    static const char junk[] = "this is not a database at all, not even close";
    assert_int_equal(store_install(f->s[1], junk_file(path, junk, sizeof junk)), -1);
    assert_int_equal(store_install(f->s[1], junk_file(path, "", 0)), -1);
    assert_int_equal(store_install(f->s[1], "/nonexistent/dir/x.db"), -1);

    /* a real database without our tables */
    sqlite3 *other;
    unlink(path);
    assert_int_equal(sqlite3_open(path, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "CREATE TABLE t(x); INSERT INTO t VALUES (1);", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    assert_int_equal(store_install(f->s[1], path), -1);

    /* truncated */
    int64_t seq, term;
    seed(f->s[0]);
    char good[96];
    snprintf(good, sizeof good, "%s.snap", f->path[0]);
    assert_int_equal(store_snapshot_file(f->s[0], good, &seq, &term), 0);
    FILE *fp = fopen(good, "rb");
    static unsigned char half[1 << 16];
    size_t n = fread(half, 1, sizeof half, fp);
    fclose(fp);
    unlink(good);
    assert_int_not_equal(store_install(f->s[1], junk_file(path, half, n / 2)), 0);
    remove_db(path);

    int64_t got;
    assert_int_equal(store_applied_seq(f->s[1], &got), 0);
    assert_int_equal(got, 3);
    assert_int_equal(count(f->s[1], "users"), 2);
    assert_int_equal(count(f->s[1], "ride_users"), 2);
}

static void test_statement_cache_survives_many_shapes(void **state)
{
    struct fixture *f = *state;
    char sql[96];
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < 100; i++) {
            snprintf(sql, sizeof sql, "SELECT %d FROM meta", i);
            sqlite3_stmt *st = store_prepare(f->s[0], sql);
            assert_non_null(st);
            assert_int_equal(sqlite3_step(st), SQLITE_ROW);
            assert_int_equal(sqlite3_column_int(st, 0), i);
            store_done(st);
        }
    assert_null(store_prepare(f->s[0], "SELECT nonsense FROM nowhere"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_schema_and_pragmas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_data_and_seq, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions_nest_and_roll_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clear_restarts_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ids_are_not_reused_without_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleting_a_user_cascades, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_log_keeps_a_day_or_100000, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_snapshots_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_statement_cache_survives_many_shapes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
