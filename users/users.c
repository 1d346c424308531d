/* users.c - the users service's HTTP handlers. It has no data of its own: every read and
 * write goes to the orchestrator through db_client; _count and db/clear are the shared
 * ones of fleet/service.h. */
#include "users.h"

#include "fleet/db_client.h"
#include "fleet/service.h"
#include "fleet/validate.h"
#include "http_server.h"

#define USERS_PATH "/api/v1/users"

int users_counted_path(const char *path)
{
    return http_path_under(path, USERS_PATH);
}

/* 1 when the user exists, 0 when not, or a negative DB_E* code. */
static int user_exists(db_client *db, const char *name)
{
    json_t *q = json_pack("{s:s, s:{s:s}}", "table", "users", "where", "username", name);
    json_int_t n = 0;
    int rc = db_count(db, q, &n);
    json_decref(q);
    return rc != DB_OK ? rc : n > 0;
}

/* The body's password, valid and lower-cased into out; NULL, or the 400 to answer. */
static http_reply *password_or_reply(const json_t *body, char out[PASSWORD_LEN + 1])
{
    const char *pw;
    http_reply *r = http_field_str_or_reply(body, "password", &pw);
    if (r)
        return r;
    if (!validate_password(pw))
        return http_reply_error(400, "password must be a SHA-1 hash: exactly 40 hex digits");
    validate_password_lower(pw, out);
    return NULL;
}

/* PUT /api/v1/users {"username", "password"} -> 201 {} */
static http_reply *put_user(http_req *req, void *ud)
{
    db_client *db = service_db(ud);
    const json_t *body;
    const char *name, *why;
    char pw[PASSWORD_LEN + 1];
    http_reply *r;
    if ((r = http_req_object_or_reply(req, &body)) || (r = http_field_str_or_reply(body, "username", &name)))
        return r;
    if ((why = validate_username(name)))
        return http_reply_error(400, "%s", why);
    if ((r = password_or_reply(body, pw)))
        return r;
    json_t *w = json_pack("{s:s, s:{s:s, s:s}}", "table", "users", "insert", "username", name, "password", pw);
    int rc = db_write(db, w, NULL, NULL);
    json_decref(w);
    if (rc == DB_OK)
        return http_reply_json(201, json_object());
    if (rc != DB_EREJECTED)
        return service_db_failure(rc);
    /* The UNIQUE constraint said no; make sure that is what happened. */
    int exists = user_exists(db, name);
    return exists == 1 ? http_reply_error(400, "user %s already exists", name) : service_db_failure(exists ? exists : rc);
}

/* GET /api/v1/users -> 200 ["alice", ...] in creation order, 204 when none */
static http_reply *list_users(http_req *req, void *ud)
{
    (void)req;
    json_t *q = json_pack("{s:s, s:[s], s:[s]}", "table", "users", "columns", "username", "order", "id");
    json_t *rows = NULL;
    int rc = db_read(service_db(ud), q, &rows);
    json_decref(q);
    if (rc != DB_OK)
        return service_db_failure(rc);
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
    const char *name = http_req_param(req, 0);
    json_t *w = json_pack("{s:s, s:{s:s}}", "table", "users", "delete", "username", name);
    if (!w) /* not UTF-8 (json_pack refuses it): no user can have that name */
        return http_reply_error(400, "no such user");
    json_int_t changes = 0;
    int rc = db_write(service_db(ud), w, &changes, NULL);
    json_decref(w);
    if (rc != DB_OK)
        return service_db_failure(rc);
    if (changes == 0)
        return validate_username(name) ? http_reply_error(400, "no such user")
                                       : http_reply_error(400, "no such user: %s", name);
    return http_reply_json(200, json_object());
}

static const struct http_route routes[] = {
    {"PUT", USERS_PATH, put_user, NULL},
    {"GET", USERS_PATH, list_users, NULL},
    {"DELETE", USERS_PATH "/*", delete_user, NULL},
};

service *users_service_new(const struct users_cfg *cfg)
{
    struct service_cfg sc = {.name = "users", .routes = routes, .nroutes = sizeof routes / sizeof routes[0],
                             .counted = users_counted_path, .orch_url = cfg->orch_url,
                             .db_timeout_ms = cfg->db_timeout_ms, .admin_token = cfg->admin_token};
    return service_new(&sc);
}
