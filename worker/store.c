/* store.c - the worker's SQLite database. Every SQLite failure is logged here, once, with
 * SQLite's own message, and becomes -1 for the caller. */
#include "store.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xalloc.h"

/* Reads and writes repeat a handful of shapes, so a small cache keeps nearly every
 * statement prepared; the least recently used one is finalized when it is full. */
#define STORE_CACHE_SIZE 32
#define STORE_BUSY_MS 5000
/* A redelivered write comes back within seconds; ten thousand answers is ample. */
#define STORE_LOG_KEEP 10000
#define STORE_LOG_PRUNE_EVERY 256

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
    "CREATE TABLE IF NOT EXISTS write_log("
    " id TEXT PRIMARY KEY, seq INTEGER NOT NULL, response TEXT NOT NULL) STRICT;"
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
    if (exec_sql(s->db, "COMMIT;", "schema") < 0)
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
        log_error("sqlite: prepare \"%s\": %s", sql, sqlite3_errmsg(s->db));
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

int store_applied_seq(store *s, int64_t *seq)
{
    sqlite3_stmt *st = store_prepare(s, "SELECT value FROM meta WHERE key = 'applied_seq'");
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        log_error("sqlite: reading applied_seq: %s", rc == SQLITE_DONE ? "no row" : sqlite3_errmsg(s->db));
        store_done(st);
        return -1;
    }
    *seq = sqlite3_column_int64(st, 0);
    store_done(st);
    return 0;
}

int store_set_applied_seq(store *s, int64_t seq)
{
    sqlite3_stmt *st = store_prepare(s, "UPDATE meta SET value = ? WHERE key = 'applied_seq'");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, seq);
    return step_done(s, st, "setting applied_seq");
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

int store_log_put(store *s, const char *id, int64_t seq, const char *response)
{
    sqlite3_stmt *st = store_prepare(s, "INSERT OR REPLACE INTO write_log(id, seq, response) VALUES (?, ?, ?)");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, seq);
    sqlite3_bind_text(st, 3, response, -1, SQLITE_STATIC);
    if (step_done(s, st, "writing write_log") < 0)
        return -1;
    /* Pruning in batches keeps the cost off most writes. */
    if (seq % STORE_LOG_PRUNE_EVERY == 0 && seq > STORE_LOG_KEEP)
        return store_log_prune(s, seq - STORE_LOG_KEEP);
    return 0;
}

int store_log_prune(store *s, int64_t below)
{
    sqlite3_stmt *st = store_prepare(s, "DELETE FROM write_log WHERE seq <= ?");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, below);
    return step_done(s, st, "pruning write_log");
}

/* Bytes 18 and 19 of the header say WAL (2) or rollback journal (1). A snapshot must be a
 * plain file: an in-memory database cannot open a WAL-mode image. The backup into our own
 * WAL file sets them back to 2. */
static void header_to_rollback(unsigned char *buf, size_t len)
{
    if (len >= 100) {
        buf[18] = 1;
        buf[19] = 1;
    }
}

int store_snapshot_out(store *s, unsigned char **buf, size_t *len, int64_t *seq)
{
    /* One read transaction, so the bytes and the sequence agree. */
    if (store_begin(s) < 0)
        return -1;
    if (store_applied_seq(s, seq) < 0)
        goto fail;
    sqlite3_int64 size = 0;
    unsigned char *p = sqlite3_serialize(s->db, "main", &size, 0);
    if (!p) {
        log_error("sqlite: serialize: %s", sqlite3_errmsg(s->db));
        goto fail;
    }
    store_commit(s);
    header_to_rollback(p, (size_t)size);
    *buf = p;
    *len = (size_t)size;
    return 0;
fail:
    store_rollback(s);
    return -1;
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

int store_snapshot_in(store *s, const void *buf, size_t len, int64_t seq)
{
    sqlite3 *img = NULL;
    sqlite3_backup *bk = NULL;
    if (s->depth) {
        log_error("sqlite: snapshot_in inside a transaction");
        return -1;
    }
    if (sqlite3_open_v2(":memory:", &img, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        log_error("sqlite: opening a memory database failed");
        goto fail;
    }
    /* deserialize takes ownership of an sqlite3_malloc'd copy (FREEONCLOSE). */
    unsigned char *copy = sqlite3_malloc64(len ? len : 1);
    if (!copy) {
        log_error("sqlite: out of memory for a %zu-byte snapshot", len);
        goto fail;
    }
    memcpy(copy, buf, len);
    header_to_rollback(copy, len);
    if (sqlite3_deserialize(img, "main", copy, (sqlite3_int64)len, (sqlite3_int64)len,
                            SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_RESIZEABLE) != SQLITE_OK) {
        log_error("sqlite: deserialize: %s", sqlite3_errmsg(img));
        goto fail;
    }
    if (snapshot_check(img) < 0)
        goto fail;
    /* The header's seq is the authority; written into the image so that the copy and its
     * sequence land in our file together. */
    char *sql = sqlite3_mprintf("UPDATE meta SET value = %lld WHERE key = 'applied_seq'", (long long)seq);
    int rc = exec_sql(img, sql, "snapshot seq");
    sqlite3_free(sql);
    if (rc < 0)
        goto fail;
    /* Cached statements refer to the old schema; the backup replaces it. */
    cache_flush(s);
    bk = sqlite3_backup_init(s->db, "main", img, "main");
    if (!bk) {
        log_error("sqlite: backup_init: %s", sqlite3_errmsg(s->db));
        goto fail;
    }
    rc = sqlite3_backup_step(bk, -1);
    sqlite3_backup_finish(bk);
    if (rc != SQLITE_DONE) {
        log_error("sqlite: installing snapshot: %s", sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_close(img);
    return 0;
fail:
    sqlite3_close(img);
    return -1;
}
