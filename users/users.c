/* users.c - the users service's HTTP handlers. It has no data of its own: every read and
 * write goes to the orchestrator through db_client. */
#include "users.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "db_client.h"
#include "http_server.h"
#include "jsonx.h"
#include "log.h"
#include "validate.h"
#include "xalloc.h"

#define USERS_PATH "/api/v1/users"

struct users_svc {
    db_client *db;
    http_server *http;
    atomic_ulong count; /* requests on USERS_PATH since start or the last reset */
};

int users_counted_path(const char *path)
{
    return http_path_under(path, USERS_PATH);
}

static void on_request(const http_req *req, void *ud)
{
    users_svc *svc = ud;
    if (users_counted_path(http_req_path(req)))
        atomic_fetch_add_explicit(&svc->count, 1, memory_order_relaxed);
}

/* The reply for a failed DB call. */
static http_reply *db_failure(int rc)
{
    if (rc == DB_EUNAVAILABLE)
        return http_reply_error(503, "the database is unavailable, try again later");
    return http_reply_error(500, "the database rejected the request");
}

/* 1 when the user exists, 0 when not, or a negative DB_E* code. */
static int user_exists(users_svc *svc, const char *name)
{
    json_t *q = json_pack("{s:s, s:{s:s}}", "table", "users", "where", "username", name);
    json_int_t n = 0;
    int rc = db_count(svc->db, q, &n);
    json_decref(q);
    return rc != DB_OK ? rc : n > 0;
}

/* PUT /api/v1/users {"username", "password"} -> 201 {} */
static http_reply *put_user(http_req *req, void *ud)
{
    users_svc *svc = ud;
    http_reply *err = NULL;
    json_t *body = http_req_json_object(req, &err);
    if (!body)
        return err;
    const char *name, *pw, *why;
    int rc = jsonx_get_str(body, "username", &name);
    if (rc != 0) {
        err = http_reply_error(400, rc == -1 ? "username is missing" : "username must be a string");
        goto out;
    }
    if ((why = validate_username(name))) {
        err = http_reply_error(400, "%s", why);
        goto out;
    }
    rc = jsonx_get_str(body, "password", &pw);
    if (rc != 0) {
        err = http_reply_error(400, rc == -1 ? "password is missing" : "password must be a string");
        goto out;
    }
    if (!validate_password(pw)) {
        err = http_reply_error(400, "password must be a SHA-1 hash: exactly 40 hex digits");
        goto out;
    }
    char lower[PASSWORD_LEN + 1];
    validate_password_lower(pw, lower);
    json_t *w = json_pack("{s:s, s:{s:s, s:s}}", "table", "users", "insert", "username", name, "password", lower);
    rc = db_write(svc->db, w, NULL, NULL);
    json_decref(w);
    if (rc == DB_OK) {
        err = http_reply_json(201, json_object());
    } else if (rc == DB_EREJECTED) {
        /* The UNIQUE constraint said no; make sure that is what happened. */
        int exists = user_exists(svc, name);
        err = exists == 1 ? http_reply_error(400, "user %s already exists", name) : db_failure(exists ? exists : rc);
    } else {
        err = db_failure(rc);
    }
out:
    json_decref(body);
    return err;
}

/* GET /api/v1/users -> 200 ["alice", ...] in creation order, 204 when none */
static http_reply *list_users(http_req *req, void *ud)
{
    (void)req;
    users_svc *svc = ud;
    json_t *q = json_pack("{s:s, s:[s], s:[s]}", "table", "users", "columns", "username", "order", "id");
    json_t *rows = NULL;
    int rc = db_read(svc->db, q, &rows);
    json_decref(q);
    if (rc != DB_OK)
        return db_failure(rc);
    size_t n = json_array_size(rows);
    if (n == 0) {
        json_decref(rows);
        return http_reply_empty(204);
    }
    json_t *names = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *u = json_object_get(json_array_get(rows, i), "username");
        if (json_is_string(u))
            json_array_append(names, u);
    }
    json_decref(rows);
    return http_reply_json(200, names);
}

/* DELETE /api/v1/users/{username} -> 200 {}; the schema's FKs delete the user's rides
 * and joins with it, so one delete is enough. */
static http_reply *delete_user(http_req *req, void *ud)
{
    users_svc *svc = ud;
    const char *name = http_req_param(req, 0);
    json_t *w = json_pack("{s:s, s:{s:s}}", "table", "users", "delete", "username", name);
    if (!w) /* not UTF-8 (json_pack refuses it): no user can have that name */
        return http_reply_error(400, "no such user");
    json_int_t changes = 0;
    int rc = db_write(svc->db, w, &changes, NULL);
    json_decref(w);
    if (rc != DB_OK)
        return db_failure(rc);
    if (changes == 0)
        return validate_username(name) ? http_reply_error(400, "no such user")
                                       : http_reply_error(400, "no such user: %s", name);
    return http_reply_json(200, json_object());
}

static http_reply *get_count(http_req *req, void *ud)
{
    (void)req;
    users_svc *svc = ud;
    unsigned long n = atomic_load_explicit(&svc->count, memory_order_relaxed);
    return http_reply_json(200, json_pack("[I]", (json_int_t)n));
}

static http_reply *reset_count(http_req *req, void *ud)
{
    (void)req;
    users_svc *svc = ud;
    atomic_store_explicit(&svc->count, 0, memory_order_relaxed);
    return http_reply_json(200, json_object());
}

static http_reply *clear_db(http_req *req, void *ud)
{
    (void)req;
    users_svc *svc = ud;
    int rc = db_clear(svc->db);
    return rc == DB_OK ? http_reply_json(200, json_object()) : db_failure(rc);
}

static const struct http_route routes[] = {
    {"PUT", USERS_PATH, put_user, NULL},
    {"GET", USERS_PATH, list_users, NULL},
    {"DELETE", USERS_PATH "/*", delete_user, NULL},
    {"GET", "/api/v1/_count", get_count, NULL},
    {"DELETE", "/api/v1/_count", reset_count, NULL},
    {"POST", "/api/v1/db/clear", clear_db, NULL},
};

users_svc *users_svc_new(const struct users_cfg *cfg)
{
    users_svc *svc = xcalloc(1, sizeof *svc);
    atomic_init(&svc->count, 0);
    svc->db = db_client_new(cfg->orch_url, cfg->db_timeout_ms);
    if (!svc->db) {
        log_error("users: cannot create the DB client");
        free(svc);
        return NULL;
    }
    svc->http = http_server_new(routes, sizeof routes / sizeof routes[0], svc);
    http_server_set_observer(svc->http, on_request);
    return svc;
}

int users_svc_start(users_svc *svc, int port)
{
    return http_server_start(svc->http, port);
}

int users_svc_port(const users_svc *svc)
{
    return http_server_port(svc->http);
}

void users_svc_free(users_svc *svc)
{
    if (!svc)
        return;
    http_server_free(svc->http); /* waits for handlers in flight before the DB client goes */
    db_client_free(svc->db);
    free(svc);
}
