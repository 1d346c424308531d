/* fuzz_query.c - JSON request parsing and the DB request compiler (worker/query.c).
 *
 * Each input is parsed as the body of POST /api/v1/db/read|write (jsonx_parse, as the
 * orchestrator and worker do) and compiled both as a read and as a write. A compiled
 * query must hold only whitelisted names (no quote or semicolon can come from a request)
 * and must run on a real store: it is executed inside a savepoint that is rolled back, so
 * the store keeps the same few seed rows for every input. A request the compiler accepts
 * but SQLite cannot run (QUERY_EFAIL, a 500 for a client's request) aborts. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jsonx.h"
#include "log.h"
#include "../../worker/query.h"
#include "../../worker/store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static store *fz_store;
static char fz_path[64];

static void remove_store(void)
{
    char side[96];
    store_free(fz_store);
    unlink(fz_path);
    snprintf(side, sizeof side, "%s-wal", fz_path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", fz_path);
    unlink(side);
}

static void seed_write(const char *text)
{
    char err[256];
    json_t *req = json_loads(text, 0, NULL), *res = NULL;
    if (!req || query_write(fz_store, req, &res, err, sizeof err) != QUERY_OK) {
        fprintf(stderr, "fuzz_query: seed write failed: %s: %s\n", text, err);
        abort();
    }
    json_decref(res);
    json_decref(req);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    log_set_level(LOGL_ERROR);
    snprintf(fz_path, sizeof fz_path, "/tmp/fuzz_query.%ld.db", (long)getpid());
    unlink(fz_path);
    fz_store = store_new(fz_path);
    if (!fz_store)
        abort();
    atexit(remove_store);
    seed_write("{\"table\":\"users\",\"insert\":{\"username\":\"alice\","
               "\"password\":\"0123456789abcdef0123456789abcdef01234567\"}}");
    seed_write("{\"table\":\"users\",\"insert\":{\"username\":\"bob\","
               "\"password\":\"89abcdef0123456789abcdef0123456701234567\"}}");
    seed_write("{\"table\":\"rides\",\"insert\":{\"created_by\":\"alice\",\"timestamp\":\"2024-02-29 12:00:00\","
               "\"source\":1,\"destination\":198}}");
    seed_write("{\"table\":\"ride_users\",\"insert\":{\"ride_id\":1,\"username\":\"bob\"}}");
    return 0;
}

static void check_sql(const query *q)
{
    const char *sql = query_sql(q);
    if (!sql || strpbrk(sql, "';\\") || strstr(sql, "--") || strstr(sql, "/*")) {
        fprintf(stderr, "fuzz_query: unexpected SQL: %s\n", sql ? sql : "(null)");
        abort();
    }
}

static void run(int (*compile)(const json_t *, query **, char *, size_t), const json_t *req)
{
    char err[256] = "";
    query *q = NULL;
    json_t *res = NULL;
    int rc = compile(req, &q, err, sizeof err);
    if (rc != QUERY_OK) {
        if (rc != QUERY_EINVALID || q || !err[0] || !memchr(err, '\0', sizeof err))
            abort(); /* a refusal is always EINVALID with a sentence and no query */
        return;
    }
    check_sql(q);
    if (store_begin(fz_store) != 0)
        abort();
    err[0] = '\0';
    rc = query_exec(q, fz_store, &res, err, sizeof err);
    store_rollback(fz_store);
    if (rc == QUERY_EFAIL) {
        fprintf(stderr, "fuzz_query: compiled SQL failed to run: %s: %s\n", query_sql(q), err);
        abort();
    }
    if ((rc == QUERY_OK) != (res != NULL))
        abort();
    if (res) {
        char *text = jsonx_dump(res); /* the answer must encode */
        if (!text)
            abort();
        free(text);
    }
    json_decref(res);
    query_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[200];
    json_t *req = jsonx_parse((const char *)data, size, why, sizeof why);
    if (!req)
        return 0;
    run(query_compile_read, req);
    run(query_compile_write, req);
    json_decref(req);
    return 0;
}
