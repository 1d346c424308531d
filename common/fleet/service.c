/* service.c - the routes and state every public service shares (see service.h). */
#include "service.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reqcount.h"
#include "xalloc.h"

/* The routes that need ADMIN_TOKEN when it is set (docs/API.md "Admin token"). */
static const char *const admin_routes[] = {"/api/v1/db/", NULL};

struct service {
    db_client *db;
    http_server *http;
    int (*counted)(const char *path);
    reqcount *count; /* requests counted since start or the last reset (owned) */
    struct http_route *routes; /* the service's own, then the shared ones */
};

static void on_request(const http_req *req, void *ud)
{
    service *s = ud;
    if (s->counted(http_req_path(req)))
        reqcount_add(s->count);
}

http_reply *service_db_failure(int rc)
{
    if (rc == DB_EUNAVAILABLE)
        return http_reply_error(503, "the database is unavailable, try again later");
    return http_reply_error(500, "the database rejected the request");
}

/* GET /api/v1/_count -> [n] */
static http_reply *get_count(http_req *req, void *ud)
{
    (void)req;
    service *s = ud;
    long long n = 0;
    if (reqcount_get(s->count, &n) < 0)
        return http_reply_error(503, "the shared request count cannot be read now, try again later");
    return http_reply_json(200, json_pack("[I]", (json_int_t)n));
}

/* DELETE /api/v1/_count -> {} */
static http_reply *reset_count(http_req *req, void *ud)
{
    (void)req;
    service *s = ud;
    if (reqcount_reset(s->count) < 0)
        return http_reply_error(503, "the shared request count cannot be written now, try again later");
    return http_reply_json(200, json_object());
}

/* POST /api/v1/db/clear -> {} */
static http_reply *clear_db(http_req *req, void *ud)
{
    (void)req;
    service *s = ud;
    int rc = db_clear(s->db);
    return rc == DB_OK ? http_reply_json(200, json_object()) : service_db_failure(rc);
}

/* The service's routes, its handlers' ud filled in, then the shared ones. */
static size_t build_routes(service *s, const struct service_cfg *cfg)
{
    const struct http_route shared[] = {
        {"GET", "/api/v1/_count", get_count, s},
        {"DELETE", "/api/v1/_count", reset_count, s},
        {"POST", "/api/v1/db/clear", clear_db, s},
    };
    size_t nshared = sizeof shared / sizeof shared[0];
    s->routes = xcalloc(cfg->nroutes + nshared, sizeof *s->routes);
    for (size_t i = 0; i < cfg->nroutes; i++) {
        s->routes[i] = cfg->routes[i];
        if (!s->routes[i].ud)
            s->routes[i].ud = cfg->ud ? cfg->ud : s;
    }
    memcpy(s->routes + cfg->nroutes, shared, sizeof shared);
    return cfg->nroutes + nshared;
}

service *service_new(const struct service_cfg *cfg)
{
    service *s = xcalloc(1, sizeof *s);
    s->counted = cfg->counted;
    /* COUNT_ZK_HOSTS: _count shared by every replica (reqcount.h); else kept here */
    if (!(s->count = reqcount_from_env(cfg->name))) {
        free(s);
        return NULL;
    }
    s->db = db_client_new(cfg->orch_url, cfg->db_timeout_ms, cfg->admin_token);
    if (!s->db) {
        log_error("%s: cannot create the DB client", cfg->name);
        reqcount_free(s->count);
        free(s);
        return NULL;
    }
    size_t n = build_routes(s, cfg);
    s->http = http_server_new(s->routes, n, s);
    http_server_require_token(s->http, cfg->admin_token, admin_routes);
    http_server_set_observer(s->http, on_request);
    return s;
}

void service_free(service *s)
{
    if (!s)
        return;
    http_server_free(s->http); /* waits for handlers in flight before the DB client goes */
    db_client_free(s->db);
    reqcount_free(s->count);
    free(s->routes);
    free(s);
}

int service_start(service *s, int port)
{
    return http_server_start(s->http, port);
}

int service_port(const service *s)
{
    return http_server_port(s->http);
}

db_client *service_db(const service *s)
{
    return s->db;
}
