/* store.h - the worker's SQLite database: schema, cached statements, transactions,
 * the applied write sequence, the write log, clear, and whole-database snapshots.
 *
 * Named "store" rather than "db" because common/fleet/db_client.h already owns the db_
 * prefix (db_clear, db_read, DB_OK, ...) in libcommon.a. */
#ifndef RS_WORKER_STORE_H
#define RS_WORKER_STORE_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

typedef struct store store;

/* Opens (creating if needed) the file at path with WAL, synchronous=NORMAL, foreign keys
 * and a busy timeout, and creates the schema of docs/DESIGN.md when absent. NULL on
 * failure (logged). */
store *store_new(const char *path);
void store_free(store *s);

/* The connection, for modules that step statements themselves (query). Owned by s. */
sqlite3 *store_handle(store *s);

/* A prepared statement for sql, from a small cache keyed by the SQL text; reset and with
 * bindings cleared. Owned by the cache: call store_done() when finished with it and do not
 * keep it across another store_* call. NULL on error (logged). */
sqlite3_stmt *store_prepare(store *s, const char *sql);
/* Resets st so it holds no read transaction open. NULL is fine. */
void store_done(sqlite3_stmt *st);

/* Transactions nest (savepoints): the outermost begin opens the real transaction. */
int store_begin(store *s);
int store_commit(store *s);
/* Undoes everything since the matching begin and ends it; always leaves no savepoint open. */
void store_rollback(store *s);

/* meta.applied_seq: the last write sequence this database holds. */
int store_applied_seq(store *s, int64_t *seq);
/* Sets meta.applied_seq; call inside the transaction that applies the write. */
int store_set_applied_seq(store *s, int64_t seq);
/* meta.term: the master term (common/fleet/term.h) this copy follows; 0 when it never followed
 * one. Together with applied_seq it orders copies: a higher term, then a higher seq. */
int store_term(store *s, int64_t *term);
int store_set_term(store *s, int64_t term);

/* Empties users, rides, ride_users and their sqlite_sequence rows, so ids restart at 1.
 * Runs in its own (nested) transaction; *changes (may be NULL) gets the rows deleted. */
int store_clear(store *s, int64_t *changes);

/* write_log: the answer already given for a write request id (a correlation id, or
 * "k:" and an Idempotency-Key). 1 and *response (the caller frees it) when found, 0 when
 * not, negative on error. */
int store_log_get(store *s, const char *id, int64_t *seq, char **response);
/* Records (or replaces) the answer for id, given at unix time at (the master's clock);
 * call inside the write's transaction. Keeps at least the newest 100,000 entries and
 * every entry younger than 24 hours, pruning now and then. */
int store_log_put(store *s, const char *id, int64_t seq, const char *response, int64_t at);
/* Drops the entries with seq <= below that are also older than before. */
int store_log_prune(store *s, int64_t below, int64_t before);

/* Writes a consistent copy of the whole database to path (replaced if present), and the
 * sequence and term that copy holds. Not inside a transaction. On failure no file is left. */
int store_snapshot_file(store *s, const char *path, int64_t *seq, int64_t *term);
/* A database file of ours opened as it is (no schema is created): a snapshot received or
 * another worker's file. NULL when it is not one of ours or fails its integrity check. */
store *store_open_image(const char *path);
/* Replaces the whole database with the one at path (checked first: on failure the
 * database is unchanged); its applied_seq and term come with it. Not inside a transaction. */
int store_install(store *s, const char *path);

#endif
