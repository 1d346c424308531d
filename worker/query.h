/* query.h - the request compiler: a read or write request of docs/DESIGN.md ("DB requests")
 * becomes SQL text over whitelisted tables and columns plus typed bound values, and runs on
 * a store. No SQL text from a request ever reaches SQLite. */
#ifndef RS_WORKER_QUERY_H
#define RS_WORKER_QUERY_H

#include <jansson.h>
#include <stddef.h>

#include "store.h"

typedef struct query query;

/* The largest "limit" a read may ask for (docs/API.md "Limits"; docs/DESIGN.md). */
#define QUERY_MAX_LIMIT 10000

enum {
    QUERY_OK = 0,
    QUERY_EFAIL = -1,   /* the database failed: a 500-class error, logged here */
    QUERY_EINVALID = -2 /* a bad request or a constraint violation: answer 400 with err */
};

/* Compiles a request. On QUERY_OK *out is a query the caller frees with query_free();
 * on QUERY_EINVALID err holds one sentence saying what is wrong. The query keeps a
 * reference to req. */
int query_compile_read(const json_t *req, query **out, char *err, size_t errlen);
int query_compile_write(const json_t *req, query **out, char *err, size_t errlen);
void query_free(query *q);

/* The generated SQL text (for logs and tests). Owned by q. */
const char *query_sql(const query *q);

/* Runs q on s. A read gives a JSON array of row objects (integers, strings, null); a write
 * gives {"changes": n, "lastId": id}. *result is new, owned by the caller. A write runs
 * in the caller's transaction, if any. Returns QUERY_OK, QUERY_EINVALID (with err: a
 * constraint violation) or QUERY_EFAIL. */
int query_exec(query *q, store *s, json_t **result, char *err, size_t errlen);

/* Compile and run in one call. */
int query_read(store *s, const json_t *req, json_t **result, char *err, size_t errlen);
int query_write(store *s, const json_t *req, json_t **result, char *err, size_t errlen);

#endif
