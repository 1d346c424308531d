/* store.c - the worker's SQLite database. Every SQLite failure is logged here, once, with
 * SQLite's own message, and becomes -1 for the caller. */
#include "store.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "xalloc.h"

/* Reads and writes repeat a handful of shapes, so a small cache keeps nearly every
 * statement prepared; the least recently used one is finalized when it is full. */
#define STORE_CACHE_SIZE 32
#define STORE_BUSY_MS 5000
/* Answers are kept for redeliveries and for Idempotency-Key retries: at least the newest
 * STORE_LOG_KEEP writes and everything younger than STORE_LOG_KEEP_S (docs/API.md). */
#define STORE_LOG_KEEP 100000
#define STORE_LOG_KEEP_S 86400
#define STORE_LOG_PRUNE_EVERY 1024

struct cached_stmt {
    char *sql;
    sqlite3_stmt *st;
    uint64_t last_use;
};

struct store {
    sqlite3 *db;
    struct cached_stmt cache[STORE_CACHE_SIZE];
    uint64_t clock; /* ticks on every cache hit or miss, for LRU */
    int depth;      /* open savepoints */
};

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS users("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " username TEXT NOT NULL UNIQUE,"
    " password TEXT NOT NULL) STRICT;"
    "CREATE TABLE IF NOT EXISTS rides("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " created_by TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,"
    " timestamp TEXT NOT NULL,"
    " source INTEGER NOT NULL CHECK (source BETWEEN 1 AND 198),"
    " destination INTEGER NOT NULL CHECK (destination BETWEEN 1 AND 198)) STRICT;"
    "CREATE INDEX IF NOT EXISTS rides_created_by ON rides(created_by);"
    "CREATE INDEX IF NOT EXISTS rides_route ON rides(source, destination, timestamp);"
    "CREATE TABLE IF NOT EXISTS ride_users("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " ride_id INTEGER NOT NULL REFERENCES rides(id) ON DELETE CASCADE,"
    " username TEXT NOT NULL REFERENCES users(username) ON DELETE CASCADE,"
    " UNIQUE (ride_id, username)) STRICT;"
    "CREATE INDEX IF NOT EXISTS ride_users_username ON ride_users(username);"
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;"
    "INSERT OR IGNORE INTO meta(key, value) VALUES ('applied_seq', 0);"
    "INSERT OR IGNORE INTO meta(key, value) VALUES ('term', 0);"
    "CREATE TABLE IF NOT EXISTS write_log("
    " id TEXT PRIMARY KEY, seq INTEGER NOT NULL, response TEXT NOT NULL, at INTEGER NOT NULL DEFAULT 0) STRICT;"
    "CREATE INDEX IF NOT EXISTS write_log_seq ON write_log(seq);";

/* Runs SQL text without results; logs SQLite's message. */
static int exec_sql(sqlite3 *db, const char *sql, const char *what)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        log_error("sqlite: %s: %s", what, msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Databases made before write_log had its time column get it (an existing file keeps its
 * table as it was created). */
static int migrate(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT at FROM write_log LIMIT 0", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_finalize(st);
        return 0;
    }
    return exec_sql(db, "ALTER TABLE write_log ADD COLUMN at INTEGER NOT NULL DEFAULT 0", "migrating write_log");
}

static void cache_flush(store *s)
{
    for (int i = 0; i < STORE_CACHE_SIZE; i++) {
        sqlite3_finalize(s->cache[i].st);
        free(s->cache[i].sql);
        s->cache[i] = (struct cached_stmt){0};
    }
}

store *store_new(const char *path)
{
    store *s = xcalloc(1, sizeof *s);
    int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        log_error("sqlite: cannot open %s: %s", path, s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
    /* journal_mode answers with a row; sqlite3_exec discards it, so check it separately. */
    if (exec_sql(s->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                 "pragmas") < 0)
        goto fail;
    if (exec_sql(s->db, "BEGIN IMMEDIATE;", "schema") < 0)
        goto fail;
    if (exec_sql(s->db, schema_sql, "schema") < 0) {
        exec_sql(s->db, "ROLLBACK;", "schema rollback");
        goto fail;
    }
    if (exec_sql(s->db, "COMMIT;", "schema") < 0 || migrate(s->db) < 0)
        goto fail;
    return s;
fail:
    store_free(s);
    return NULL;
}

void store_free(store *s)
{
    if (!s)
        return;
    cache_flush(s);
    sqlite3_close(s->db);
    free(s);
}

sqlite3 *store_handle(store *s)
{
    return s->db;
}

sqlite3_stmt *store_prepare(store *s, const char *sql)
{
    int victim = 0;
    s->clock++;
    for (int i = 0; i < STORE_CACHE_SIZE; i++) {
        struct cached_stmt *c = &s->cache[i];
        if (c->sql && strcmp(c->sql, sql) == 0) {
            c->last_use = s->clock;
            sqlite3_reset(c->st);
            sqlite3_clear_bindings(c->st);
            return c->st;
        }
        if (!c->sql || (s->cache[victim].sql && c->last_use < s->cache[victim].last_use))
            victim = i;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
        log_error("sqlite: prepare \"%.200s\": %s", sql, sqlite3_errmsg(s->db)); /* the start is enough */
        return NULL;
    }
    struct cached_stmt *c = &s->cache[victim];
    sqlite3_finalize(c->st);
    free(c->sql);
    *c = (struct cached_stmt){xstrdup(sql), st, s->clock};
    return st;
}

void store_done(sqlite3_stmt *st)
{
    if (!st)
        return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

int store_begin(store *s)
{
    if (exec_sql(s->db, "SAVEPOINT tx;", "begin") < 0)
        return -1;
    s->depth++;
    return 0;
}

int store_commit(store *s)
{
    if (exec_sql(s->db, "RELEASE tx;", "commit") < 0) {
        store_rollback(s);
        return -1;
    }
    s->depth--;
    return 0;
}

void store_rollback(store *s)
{
    if (s->depth == 0)
        return;
    exec_sql(s->db, "ROLLBACK TO tx; RELEASE tx;", "rollback");
    s->depth--;
}

/* Runs a statement that returns no rows (after the caller bound it) and resets it. */
static int step_done(store *s, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    store_done(st);
    if (rc != SQLITE_DONE) {
        log_error("sqlite: %s: %s", what, sqlite3_errmsg(s->db));
        return -1;
    }
    return 0;
}

/* One meta row by key. */
static int meta_get(store *s, const char *key, int64_t *value)
{
    sqlite3_stmt *st = store_prepare(s, "SELECT value FROM meta WHERE key = ?");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *value = sqlite3_column_int64(st, 0);
    else
        log_error("sqlite: reading %s: %s", key, rc == SQLITE_DONE ? "no row" : sqlite3_errmsg(s->db));
    store_done(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

static int meta_set(store *s, const char *key, int64_t value)
{
    sqlite3_stmt *st = store_prepare(s, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, value);
    return step_done(s, st, "setting meta");
}

int store_applied_seq(store *s, int64_t *seq)
{
    return meta_get(s, "applied_seq", seq);
}

int store_set_applied_seq(store *s, int64_t seq)
{
    return meta_set(s, "applied_seq", seq);
}

int store_term(store *s, int64_t *term)
{
    return meta_get(s, "term", term);
}

int store_set_term(store *s, int64_t term)
{
    return meta_set(s, "term", term);
}

int store_clear(store *s, int64_t *changes)
{
    /* Children first, although the cascades would do it, so that changes counts rows once. */
    static const char *const stmts[] = {
        "DELETE FROM ride_users",
        "DELETE FROM rides",
        "DELETE FROM users",
        "DELETE FROM sqlite_sequence WHERE name IN ('users', 'rides', 'ride_users')",
    };
    int64_t n = 0;
    if (store_begin(s) < 0)
        return -1;
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
        sqlite3_stmt *st = store_prepare(s, stmts[i]);
        if (!st || step_done(s, st, "clear") < 0)
            goto fail;
        if (i < 3)
            n += sqlite3_changes64(s->db);
    }
    if (store_commit(s) < 0)
        return -1;
    if (changes)
        *changes = n;
    return 0;
fail:
    store_rollback(s);
    return -1;
}

int store_log_get(store *s, const char *id, int64_t *seq, char **response)
{
    sqlite3_stmt *st = store_prepare(s, "SELECT seq, response FROM write_log WHERE id = ?");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int found = 0;
    if (rc == SQLITE_ROW) {
        if (seq)
            *seq = sqlite3_column_int64(st, 0);
        *response = xstrdup((const char *)sqlite3_column_text(st, 1));
        found = 1;
    } else if (rc != SQLITE_DONE) {
        log_error("sqlite: reading write_log: %s", sqlite3_errmsg(s->db));
        found = -1;
    }
    store_done(st);
    return found;
}

int store_log_put(store *s, const char *id, int64_t seq, const char *response, int64_t at)
{
    sqlite3_stmt *st =
        store_prepare(s, "INSERT OR REPLACE INTO write_log(id, seq, response, at) VALUES (?, ?, ?, ?)");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, seq);
    sqlite3_bind_text(st, 3, response, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, at);
    if (step_done(s, st, "writing write_log") < 0)
        return -1;
    /* Pruning in batches keeps the cost off most writes. */
    if (seq % STORE_LOG_PRUNE_EVERY == 0 && seq > STORE_LOG_KEEP)
        return store_log_prune(s, seq - STORE_LOG_KEEP, at - STORE_LOG_KEEP_S);
    return 0;
}

int store_log_prune(store *s, int64_t below, int64_t before)
{
    sqlite3_stmt *st = store_prepare(s, "DELETE FROM write_log WHERE seq <= ? AND at < ?");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, below);
    sqlite3_bind_int64(st, 2, before);
    return step_done(s, st, "pruning write_log");
}

int store_snapshot_file(store *s, const char *path, int64_t *seq, int64_t *term)
{
    if (s->depth) {
        log_error("sqlite: a snapshot inside a transaction");
        return -1;
    }
    unlink(path);
    /* VACUUM INTO copies one read transaction: the copy's own meta rows say what it holds. */
    char *sql = sqlite3_mprintf("VACUUM INTO %Q", path);
    int rc = exec_sql(s->db, sql, "snapshot");
    sqlite3_free(sql);
    if (rc < 0)
        return -1;
    store *copy = store_open_image(path);
    if (!copy || store_applied_seq(copy, seq) < 0 || store_term(copy, term) < 0)
        rc = -1;
    store_free(copy);
    if (rc < 0)
        unlink(path);
    return rc;
}

/* 0 when the opened image has our five tables and is intact. */
static int snapshot_check(sqlite3 *img)
{
    sqlite3_stmt *st = NULL;
    int ok = -1;
    if (sqlite3_prepare_v2(img,
                           "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
                           " ('users', 'rides', 'ride_users', 'meta', 'write_log')",
                           -1, &st, NULL) != SQLITE_OK) {
        log_error("sqlite: snapshot is not a database: %s", sqlite3_errmsg(img));
        return -1;
    }
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 5)
        ok = 0;
    else
        log_error("sqlite: snapshot lacks the worker's tables");
    sqlite3_finalize(st);
    if (ok < 0)
        return -1;
    /* A damaged image must not replace a good copy: a quick check reads every page. */
    ok = -1;
    if (sqlite3_prepare_v2(img, "PRAGMA quick_check(1)", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW &&
        strcmp((const char *)sqlite3_column_text(st, 0), "ok") == 0)
        ok = 0;
    else
        log_error("sqlite: snapshot fails its integrity check: %s", sqlite3_errmsg(img));
    sqlite3_finalize(st);
    return ok;
}

store *store_open_image(const char *path)
{
    store *s = xcalloc(1, sizeof *s);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
        log_error("sqlite: cannot open the image %s: %s", path, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        store_free(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
    if (snapshot_check(s->db) < 0) {
        store_free(s);
        return NULL;
    }
    return s;
}

int store_install(store *s, const char *path)
{
    if (s->depth) {
        log_error("sqlite: installing a copy inside a transaction");
        return -1;
    }
    store *img = store_open_image(path);
    if (!img)
        return -1;
    /* Cached statements refer to the old schema; the backup replaces it. */
    cache_flush(s);
    int rc = -1;
    sqlite3_backup *bk = sqlite3_backup_init(s->db, "main", img->db, "main");
    if (!bk) {
        log_error("sqlite: backup_init: %s", sqlite3_errmsg(s->db));
    } else {
        int st = sqlite3_backup_step(bk, -1);
        sqlite3_backup_finish(bk);
        if (st == SQLITE_DONE)
            rc = migrate(s->db);
        else
            log_error("sqlite: installing %s: %s", path, sqlite3_errstr(st));
    }
    store_free(img);
    return rc;
}
