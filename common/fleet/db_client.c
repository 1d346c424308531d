/* db_client.c - the DBaaS calls of the users and rides services over one keep-alive
 * http_client. Every failure is translated into DB_EUNAVAILABLE or DB_EREJECTED here and
 * logged once. */
#include "db_client.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "http_client.h"
#include "log.h"
#include "xalloc.h"

#define DB_WRITE_RETRIES 1

/* Keys must not repeat across processes and restarts: the kernel's randomness. */
static uint64_t random_u64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
        v ^= (uint64_t)(uintptr_t)&v ^ (uint64_t)rand();
    return v;
}

struct db_client {
    http_client *http;
    char *read_url;  /* built once, not per request */
    char *write_url;
    char *clear_url;
};

db_client *db_client_new(const char *orch_url, long timeout_ms, const char *token)
{
    size_t n = strlen(orch_url);
    while (n > 0 && orch_url[n - 1] == '/')
        n--;
    db_client *db = xcalloc(1, sizeof *db);
    db->http = http_client_new(timeout_ms);
    if (!db->http) {
        free(db);
        return NULL;
    }
    http_client_set_bearer(db->http, token);
    db->read_url = xasprintf("%.*s/api/v1/db/read", (int)n, orch_url);
    db->write_url = xasprintf("%.*s/api/v1/db/write", (int)n, orch_url);
    db->clear_url = xasprintf("%.*s/api/v1/db/clear", (int)n, orch_url);
    return db;
}

void db_client_free(db_client *db)
{
    if (!db)
        return;
    http_client_free(db->http);
    free(db->read_url);
    free(db->write_url);
    free(db->clear_url);
    free(db);
}

/* POSTs req to url with the extra headers (may be NULL); DB_OK with *out (owned by the
 * caller, may be NULL) on 200. */
static int db_call_with(db_client *db, const char *url, const char *const *headers, const json_t *req, json_t **out)
{
    long status = 0;
    json_t *body = NULL;
    *out = NULL;
    if (http_client_json_with(db->http, "POST", url, headers, req, &status, &body) != 0) {
        log_warn("db: %s: the orchestrator cannot be reached", url);
        return DB_EUNAVAILABLE;
    }
    if (status == 200) {
        *out = body;
        return DB_OK;
    }
    const char *why = "";
    if (json_is_object(body) && json_is_string(json_object_get(body, "error")))
        why = json_string_value(json_object_get(body, "error"));
    int rc = status == 400 ? DB_EREJECTED : DB_EUNAVAILABLE;
    if (rc == DB_EREJECTED)
        log_debug("db: %s answered 400: %s", url, why);
    else
        log_warn("db: %s answered %ld: %s", url, status, why);
    json_decref(body);
    return rc;
}

static int db_call(db_client *db, const char *url, const json_t *req, json_t **out)
{
    return db_call_with(db, url, NULL, req, out);
}

/* A write is sent with a fresh Idempotency-Key and retried once with the same key when it
 * was not answered (503 or no answer): the master applies it at most once whichever of
 * the two reached it, and the second gets the first one's answer. */
static int write_once(db_client *db, const json_t *req, json_t **out)
{
    char line[96];
    snprintf(line, sizeof line, "Idempotency-Key: %016llx%016llx", (unsigned long long)random_u64(),
             (unsigned long long)random_u64());
    const char *headers[] = {line, NULL};
    int rc = db_call_with(db, db->write_url, headers, req, out);
    for (int retry = 0; rc == DB_EUNAVAILABLE && retry < DB_WRITE_RETRIES; retry++) {
        log_info("db: retrying a write with its %s", line);
        rc = db_call_with(db, db->write_url, headers, req, out);
    }
    return rc;
}

int db_read(db_client *db, const json_t *req, json_t **rows)
{
    json_t *out;
    int rc = db_call(db, db->read_url, req, &out);
    if (rc != DB_OK)
        return rc;
    if (!json_is_array(out)) {
        log_warn("db: a read answer is not a JSON array");
        json_decref(out);
        return DB_EUNAVAILABLE;
    }
    *rows = out;
    return DB_OK;
}

int db_count(db_client *db, json_t *req, json_int_t *n)
{
    json_t *rows;
    json_object_set_new(req, "count", json_true());
    int rc = db_read(db, req, &rows);
    if (rc != DB_OK)
        return rc;
    json_t *c = json_object_get(json_array_get(rows, 0), "count");
    if (!json_is_integer(c)) {
        log_warn("db: a count answer has no integer count");
        json_decref(rows);
        return DB_EUNAVAILABLE;
    }
    *n = json_integer_value(c);
    json_decref(rows);
    return DB_OK;
}

int db_write(db_client *db, const json_t *req, json_int_t *changes, json_int_t *last_id)
{
    json_t *out;
    int rc = write_once(db, req, &out);
    if (rc != DB_OK)
        return rc;
    json_t *c = json_object_get(out, "changes"), *id = json_object_get(out, "lastId");
    if (!json_is_integer(c)) {
        log_warn("db: a write answer has no integer changes");
        json_decref(out);
        return DB_EUNAVAILABLE;
    }
    if (changes)
        *changes = json_integer_value(c);
    if (last_id)
        *last_id = json_is_integer(id) ? json_integer_value(id) : 0;
    json_decref(out);
    return DB_OK;
}

int db_clear(db_client *db)
{
    json_t *out;
    int rc = db_call(db, db->clear_url, NULL, &out);
    json_decref(out);
    return rc;
}
