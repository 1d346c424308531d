/* query.c - compiles DB requests into SQL over a fixed whitelist and runs them. Names in
 * the SQL come only from the tables below; every value is a bound parameter whose JSON
 * type must match the column's type. */
#include "query.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"
#include "log.h"
#include "sbuf.h"
#include "xalloc.h"

enum col_type { COL_INT, COL_TEXT };

struct col_def {
    const char *name;
    enum col_type type;
    int assigned; /* set by the database on insert; clients may read and filter, not write */
};

struct table_def {
    const char *name;
    const struct col_def *cols;
    size_t ncols;
};

/* docs/DESIGN.md "Storage schema", minus the worker's own tables (meta, write_log). */
static const struct col_def users_cols[] = {
    {"id", COL_INT, 1},
    {"username", COL_TEXT, 0},
    {"password", COL_TEXT, 0},
};
static const struct col_def rides_cols[] = {
    {"id", COL_INT, 1},          {"created_by", COL_TEXT, 0}, {"timestamp", COL_TEXT, 0},
    {"source", COL_INT, 0},      {"destination", COL_INT, 0},
};
static const struct col_def ride_users_cols[] = {
    {"id", COL_INT, 1},
    {"ride_id", COL_INT, 0},
    {"username", COL_TEXT, 0},
};
#define TABLE(n, c) {n, c, sizeof c / sizeof c[0]}
static const struct table_def tables[] = {
    TABLE("users", users_cols),
    TABLE("rides", rides_cols),
    TABLE("ride_users", ride_users_cols),
};

static const char *const ops[] = {"=", "!=", "<", "<=", ">", ">="};

/* Every dimension of a request is bounded by the table it names (docs/API.md
 * "Limits"): a column at most once in columns, order, where, insert and set, so no
 * request compiles to more terms than the table has columns, however large its body. */

enum query_kind { Q_READ, Q_COUNT, Q_INSERT, Q_DELETE, Q_UPDATE };

struct query {
    json_t *req; /* a reference: binds point into it */
    enum query_kind kind;
    char *sql;
    const json_t **binds;
    size_t nbinds, capbinds;
};

static int fail_invalid(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_invalid(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return QUERY_EINVALID;
}

static const struct table_def *find_table(const char *name)
{
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        if (strcmp(tables[i].name, name) == 0)
            return &tables[i];
    return NULL;
}

static const struct col_def *find_col(const struct table_def *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i].name, name) == 0)
            return &t->cols[i];
    return NULL;
}

static void add_bind(query *q, const json_t *v)
{
    if (q->nbinds == q->capbinds) {
        q->capbinds = q->capbinds ? q->capbinds * 2 : 8;
        q->binds = xrealloc(q->binds, q->capbinds * sizeof *q->binds);
    }
    q->binds[q->nbinds++] = v;
}

/* The column named name in t, or QUERY_EINVALID with a message. */
static int get_col(const struct table_def *t, const char *name, const struct col_def **out, char *err,
                   size_t errlen)
{
    *out = find_col(t, name);
    if (!*out)
        return fail_invalid(err, errlen, "unknown column \"%.64s\" in table %s", name, t->name);
    return QUERY_OK;
}

/* QUERY_EINVALID when c, a column of t, was already named in this list (seen: a bit per column). */
static int check_once(const struct table_def *t, const struct col_def *c, unsigned *seen, const char *what,
                      char *err, size_t errlen)
{
    unsigned bit = 1u << (unsigned)(c - t->cols);
    if (*seen & bit)
        return fail_invalid(err, errlen, "%s names column \"%s\" more than once", what, c->name);
    *seen |= bit;
    return QUERY_OK;
}

static int check_value(const struct col_def *c, const json_t *v, char *err, size_t errlen)
{
    if (c->type == COL_INT && !json_is_integer(v))
        return fail_invalid(err, errlen, "column \"%s\" takes an integer", c->name);
    if (c->type == COL_TEXT && !json_is_string(v))
        return fail_invalid(err, errlen, "column \"%s\" takes a string", c->name);
    return QUERY_OK;
}

static int check_writable(const struct col_def *c, char *err, size_t errlen)
{
    if (c->assigned)
        return fail_invalid(err, errlen, "column \"%s\" is assigned by the database", c->name);
    return QUERY_OK;
}

static const char *find_op(const char *op)
{
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (strcmp(ops[i], op) == 0)
            return ops[i];
    return NULL;
}

/* Appends " WHERE ..." for a where object (nothing when empty). Each key is a column whose
 * value is a value (equality) or an object of one or more {op: value}, all joined by AND. */
static int compile_where(query *q, const struct table_def *t, const json_t *w, const char *what,
                         sbuf *sb, char *err, size_t errlen)
{
    const char *name;
    json_t *v;
    int first = 1, rc;
    if (!json_is_object(w))
        return fail_invalid(err, errlen, "%s must be an object of column conditions", what);
    if (json_object_size(w) > t->ncols)
        return fail_invalid(err, errlen, "%s has more conditions than table %s has columns (%zu)", what, t->name,
                            t->ncols);
    json_object_foreach((json_t *)w, name, v) {
        const struct col_def *c;
        if ((rc = get_col(t, name, &c, err, errlen)) < 0)
            return rc;
        if (!json_is_object(v)) {
            if ((rc = check_value(c, v, err, errlen)) < 0)
                return rc;
            sbuf_printf(sb, "%s\"%s\" = ?", first ? " WHERE " : " AND ", c->name);
            add_bind(q, v);
            first = 0;
            continue;
        }
        if (json_object_size(v) == 0)
            return fail_invalid(err, errlen, "the condition on column \"%s\" is empty", c->name);
        const char *opname;
        json_t *ov;
        json_object_foreach(v, opname, ov) {
            const char *op = find_op(opname);
            if (!op)
                return fail_invalid(err, errlen, "unknown operator \"%.16s\"; use one of = != < <= > >=", opname);
            if ((rc = check_value(c, ov, err, errlen)) < 0)
                return rc;
            sbuf_printf(sb, "%s\"%s\" %s ?", first ? " WHERE " : " AND ", c->name, op);
            add_bind(q, ov);
            first = 0;
        }
    }
    return QUERY_OK;
}

static query *query_alloc(const json_t *req, enum query_kind kind)
{
    query *q = xcalloc(1, sizeof *q);
    q->req = json_incref((json_t *)req);
    q->kind = kind;
    return q;
}

void query_free(query *q)
{
    if (!q)
        return;
    json_decref(q->req);
    free(q->sql);
    free(q->binds);
    free(q);
}

const char *query_sql(const query *q)
{
    return q->sql;
}

static int get_table(const json_t *req, const struct table_def **t, char *err, size_t errlen)
{
    const char *name;
    if (!json_is_object(req))
        return fail_invalid(err, errlen, "the request must be a JSON object");
    switch (jsonx_get_str(req, "table", &name)) {
    case -1:
        return fail_invalid(err, errlen, "the request has no \"table\"");
    case -2:
        return fail_invalid(err, errlen, "\"table\" must be a string");
    }
    *t = find_table(name);
    if (!*t)
        return fail_invalid(err, errlen, "unknown table \"%.64s\"", name);
    return QUERY_OK;
}

/* A list of column names of t, each named once: "columns" or, when sort, "order", whose
 * names may start with '-' (descending) and which follows " ORDER BY ". what names the
 * list in refusals. */
static int compile_names(const struct table_def *t, const json_t *list, const char *what, int sort, sbuf *sb,
                         char *err, size_t errlen)
{
    size_t i;
    json_t *v;
    int rc;
    if (!json_is_array(list) || (!sort && json_array_size(list) == 0))
        return fail_invalid(err, errlen, "%s must be %sarray of column names", what, sort ? "an " : "a non-empty ");
    if (json_array_size(list) > t->ncols)
        return fail_invalid(err, errlen, "%s names more columns than table %s has (%zu)", what, t->name, t->ncols);
    unsigned seen = 0; /* a bit per column of t */
    json_array_foreach(list, i, v) {
        const struct col_def *c;
        if (!json_is_string(v))
            return fail_invalid(err, errlen, "%s must hold column names as strings", what);
        const char *name = json_string_value(v);
        int desc = sort && name[0] == '-';
        if ((rc = get_col(t, name + desc, &c, err, errlen)) < 0 || (rc = check_once(t, c, &seen, what, err, errlen)) < 0)
            return rc;
        sbuf_printf(sb, "%s\"%s\"%s", i ? ", " : sort ? " ORDER BY " : "", c->name, desc ? " DESC" : "");
    }
    return QUERY_OK;
}

/* The columns of a read: the ones named, or all of them. */
static int compile_columns(const struct table_def *t, const json_t *cols, sbuf *sb, char *err, size_t errlen)
{
    if (cols)
        return compile_names(t, cols, "\"columns\"", 0, sb, err, errlen);
    for (size_t i = 0; i < t->ncols; i++)
        sbuf_printf(sb, "%s\"%s\"", i ? ", " : "", t->cols[i].name);
    return QUERY_OK;
}

/* Hands q, its SQL taken from sb, to *out when rc is QUERY_OK; otherwise frees both.
 * Returns rc. */
static int finish(query *q, sbuf *sb, int rc, query **out)
{
    if (rc < 0) {
        sbuf_deinit(sb);
        query_free(q);
        return rc;
    }
    q->sql = sbuf_take(sb, NULL);
    *out = q;
    return QUERY_OK;
}

/* The order and limit of a read that is not a count. */
static int compile_order_limit(const struct table_def *t, const json_t *req, sbuf *sb, char *err, size_t errlen)
{
    int rc;
    const json_t *order = json_object_get(req, "order");
    if (order && (rc = compile_names(t, order, "\"order\"", 1, sb, err, errlen)) < 0)
        return rc;
    const json_t *limit = json_object_get(req, "limit");
    if (!limit)
        return QUERY_OK;
    if (!json_is_integer(limit) || json_integer_value(limit) < 1 || json_integer_value(limit) > QUERY_MAX_LIMIT)
        return fail_invalid(err, errlen, "\"limit\" must be an integer from 1 to %d", QUERY_MAX_LIMIT);
    sbuf_printf(sb, " LIMIT %" JSON_INTEGER_FORMAT, json_integer_value(limit));
    return QUERY_OK;
}

int query_compile_read(const json_t *req, query **out, char *err, size_t errlen)
{
    const struct table_def *t;
    sbuf sb; /* the SQL text; the names appended come from the whitelist only */
    int rc;
    *out = NULL;
    if ((rc = get_table(req, &t, err, errlen)) < 0)
        return rc;
    const json_t *count = json_object_get(req, "count");
    if (count && !json_is_boolean(count))
        return fail_invalid(err, errlen, "\"count\" must be true or false");
    int is_count = json_is_true(count);
    query *q = query_alloc(req, is_count ? Q_COUNT : Q_READ);
    sbuf_init(&sb);

    /* A count ignores columns, order and limit: it counts every matching row. */
    if (is_count) {
        sbuf_printf(&sb, "SELECT count(*) AS \"count\"");
    } else {
        sbuf_printf(&sb, "SELECT ");
        if ((rc = compile_columns(t, json_object_get(req, "columns"), &sb, err, errlen)) < 0)
            return finish(q, &sb, rc, out);
    }
    sbuf_printf(&sb, " FROM \"%s\"", t->name);
    const json_t *w = json_object_get(req, "where");
    if (w && (rc = compile_where(q, t, w, "\"where\"", &sb, err, errlen)) < 0)
        return finish(q, &sb, rc, out);
    if (!is_count)
        rc = compile_order_limit(t, req, &sb, err, errlen);
    return finish(q, &sb, rc, out);
}

/* The column/value pairs of an insert or an update's set: each column checked (known,
 * writable, value of its type), written with each_fmt (two %s: separator, column) and its
 * value bound in order. */
static int add_values(query *q, const struct table_def *t, const json_t *values, const char *each_fmt,
                      sbuf *sb, char *err, size_t errlen)
{
    const char *name;
    json_t *v;
    int rc;
    size_t i = 0;
    if (json_object_size(values) > t->ncols)
        return fail_invalid(err, errlen, "more values than table %s has columns (%zu)", t->name, t->ncols);
    json_object_foreach((json_t *)values, name, v) {
        const struct col_def *c;
        if ((rc = get_col(t, name, &c, err, errlen)) < 0 || (rc = check_writable(c, err, errlen)) < 0 ||
            (rc = check_value(c, v, err, errlen)) < 0)
            return rc;
        sbuf_printf(sb, each_fmt, i++ ? ", " : "", c->name);
        add_bind(q, v);
    }
    return QUERY_OK;
}

/* INSERT INTO t (c, ...) VALUES (?, ...) */
static int compile_insert(query *q, const struct table_def *t, const json_t *row, sbuf *sb, char *err,
                          size_t errlen)
{
    int rc;
    if (!json_is_object(row) || json_object_size(row) == 0)
        return fail_invalid(err, errlen, "\"insert\" must be a non-empty object of column values");
    sbuf_printf(sb, "INSERT INTO \"%s\" (", t->name);
    if ((rc = add_values(q, t, row, "%s\"%s\"", sb, err, errlen)) < 0)
        return rc;
    sbuf_printf(sb, ") VALUES (");
    for (size_t i = 0; i < q->nbinds; i++)
        sbuf_printf(sb, "%s?", i ? ", " : "");
    sbuf_printf(sb, ")");
    return QUERY_OK;
}

/* UPDATE t SET c = ?, ... WHERE ... */
static int compile_update(query *q, const struct table_def *t, const json_t *w, const json_t *set,
                          sbuf *sb, char *err, size_t errlen)
{
    int rc;
    if (!json_is_object(set) || json_object_size(set) == 0)
        return fail_invalid(err, errlen, "an update needs a non-empty \"set\" object of column values");
    if (!json_is_object(w) || json_object_size(w) == 0)
        return fail_invalid(err, errlen, "\"update\" must be a non-empty object of column conditions");
    sbuf_printf(sb, "UPDATE \"%s\" SET ", t->name);
    if ((rc = add_values(q, t, set, "%s\"%s\" = ?", sb, err, errlen)) < 0)
        return rc;
    return compile_where(q, t, w, "\"update\"", sb, err, errlen);
}

int query_compile_write(const json_t *req, query **out, char *err, size_t errlen)
{
    const struct table_def *t;
    sbuf sb; /* the SQL text; the names appended come from the whitelist only */
    query *q;
    int rc;
    *out = NULL;
    if ((rc = get_table(req, &t, err, errlen)) < 0)
        return rc;
    const json_t *ins = json_object_get(req, "insert");
    const json_t *del = json_object_get(req, "delete");
    const json_t *upd = json_object_get(req, "update");
    const json_t *set = json_object_get(req, "set");
    if (!!ins + !!del + !!upd != 1)
        return fail_invalid(err, errlen, "a write needs exactly one of \"insert\", \"delete\" or \"update\"");
    if (set && !upd)
        return fail_invalid(err, errlen, "\"set\" is only allowed with \"update\"");

    sbuf_init(&sb);
    if (ins) {
        q = query_alloc(req, Q_INSERT);
        rc = compile_insert(q, t, ins, &sb, err, errlen);
    } else if (del) {
        q = query_alloc(req, Q_DELETE);
        if (!json_is_object(del) || json_object_size(del) == 0) {
            rc = fail_invalid(err, errlen, "\"delete\" must be a non-empty object of column conditions");
        } else {
            sbuf_printf(&sb, "DELETE FROM \"%s\"", t->name);
            rc = compile_where(q, t, del, "\"delete\"", &sb, err, errlen);
        }
    } else {
        q = query_alloc(req, Q_UPDATE);
        rc = compile_update(q, t, upd, set, &sb, err, errlen);
    }
    return finish(q, &sb, rc, out);
}

static int bind_all(query *q, sqlite3_stmt *st)
{
    for (size_t i = 0; i < q->nbinds; i++) {
        const json_t *v = q->binds[i];
        int idx = (int)i + 1, rc;
        if (json_is_integer(v))
            rc = sqlite3_bind_int64(st, idx, json_integer_value(v));
        else /* strings only: the compiler checked every type */
            rc = sqlite3_bind_text64(st, idx, json_string_value(v), json_string_length(v), SQLITE_STATIC,
                                     SQLITE_UTF8);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

static json_t *column_json(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    case SQLITE_TEXT: {
        const char *s = (const char *)sqlite3_column_text(st, i);
        json_t *v = json_stringn(s, (size_t)sqlite3_column_bytes(st, i));
        return v ? v : json_null(); /* not UTF-8: cannot come from a JSON request */
    }
    default:
        return json_null();
    }
}

/* Constraint violations, type mismatches and oversized values are the request's fault. */
static int is_client_error(int rc)
{
    int primary = rc & 0xff;
    return primary == SQLITE_CONSTRAINT || primary == SQLITE_MISMATCH || primary == SQLITE_TOOBIG ||
           primary == SQLITE_RANGE;
}

int query_exec(query *q, store *s, json_t **result, char *err, size_t errlen)
{
    sqlite3 *db = store_handle(s);
    json_t *rows = NULL;
    *result = NULL;
    sqlite3_stmt *st = store_prepare(s, q->sql);
    if (!st) {
        snprintf(err, errlen, "the database could not prepare the request");
        return QUERY_EFAIL;
    }
    int rc = bind_all(q, st);
    if (rc != SQLITE_OK)
        goto fail;

    if (q->kind == Q_READ || q->kind == Q_COUNT) {
        rows = json_array();
        int ncol = sqlite3_column_count(st);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            json_t *row = json_object();
            for (int i = 0; i < ncol; i++)
                json_object_set_new(row, sqlite3_column_name(st, i), column_json(st, i));
            json_array_append_new(rows, row);
        }
        if (rc != SQLITE_DONE)
            goto fail;
        store_done(st);
        *result = rows;
        return QUERY_OK;
    }

    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        goto fail;
    store_done(st);
    *result = json_pack("{s:I,s:I}", "changes", (json_int_t)sqlite3_changes64(db), "lastId",
                        (json_int_t)(q->kind == Q_INSERT ? sqlite3_last_insert_rowid(db) : 0));
    return QUERY_OK;
fail:
    /* Read the message before reset, which may replace it. */
    if (is_client_error(rc)) {
        snprintf(err, errlen, "the request violates a rule of the database: %s", sqlite3_errmsg(db));
        rc = QUERY_EINVALID;
    } else {
        log_error("sqlite: \"%.200s\": %s", q->sql, sqlite3_errmsg(db)); /* a few hundred bytes at most */
        snprintf(err, errlen, "the database failed to run the request");
        rc = QUERY_EFAIL;
    }
    store_done(st);
    json_decref(rows);
    return rc;
}

static int compile_and_run(int (*compile)(const json_t *, query **, char *, size_t), store *s, const json_t *req,
                           json_t **result, char *err, size_t errlen)
{
    query *q;
    *result = NULL;
    int rc = compile(req, &q, err, errlen);
    if (rc < 0)
        return rc;
    rc = query_exec(q, s, result, err, errlen);
    query_free(q);
    return rc;
}

int query_read(store *s, const json_t *req, json_t **result, char *err, size_t errlen)
{
    return compile_and_run(query_compile_read, s, req, result, err, errlen);
}

int query_write(store *s, const json_t *req, json_t **result, char *err, size_t errlen)
{
    return compile_and_run(query_compile_write, s, req, result, err, errlen);
}
