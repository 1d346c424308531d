/* db_client.h - calls the orchestrator's DBaaS (POST /api/v1/db/read|write|clear) on behalf
 * of the users and rides services; request bodies follow docs/DESIGN.md "DB requests". */
#ifndef RS_FLEET_DB_CLIENT_H
#define RS_FLEET_DB_CLIENT_H

#include <jansson.h>

typedef struct db_client db_client;

enum {
    DB_OK = 0,
    DB_EUNAVAILABLE = -1, /* transport error, timeout, 503 or an unexpected answer */
    DB_EREJECTED = -2,    /* the orchestrator answered 400 (bad request, constraint violation) */
};

/* orch_url is the orchestrator's base URL ("http://127.0.0.1:8081"); timeout_ms bounds
 * each call; token, when not NULL or empty, is the orchestrator's ADMIN_TOKEN, sent as a
 * bearer token. The client keeps connections alive and is safe to share between threads. */
db_client *db_client_new(const char *orch_url, long timeout_ms, const char *token);
void db_client_free(db_client *db);

/* A read request; on DB_OK *rows is the answered JSON array, owned by the caller. */
int db_read(db_client *db, const json_t *req, json_t **rows);
/* A read request with "count": true added; on DB_OK *n is the count. */
int db_count(db_client *db, json_t *req, json_int_t *n);
/* A write request; changes and last_id may be NULL. */
int db_write(db_client *db, const json_t *req, json_int_t *changes, json_int_t *last_id);
/* Empties users, rides and ride_users. */
int db_clear(db_client *db);

#endif
