/* rides.c - the rides service's HTTP handlers. It has no data of its own: every read and
 * write goes to the orchestrator through db_client, and users are looked up in the users
 * service through userdir. */
#include "rides.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "areas.h"
#include "db_client.h"
#include "http_server.h"
#include "jbuf.h"
#include "jsonx.h"
#include "log.h"
#include "timestamp.h"
#include "userdir.h"
#include "xalloc.h"

#define RIDES_PATH "/api/v1/rides"

struct rides_svc {
    db_client *db;
    userdir *users;
    http_server *http;
    atomic_ulong count; /* requests on RIDES_PATH since start or the last reset */
};

int rides_counted_path(const char *path)
{
    return http_path_under(path, RIDES_PATH);
}

int rides_parse_id(const char *s, json_int_t *out)
{
    if (!s || s[0] < '1' || s[0] > '9')
        return -1;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > INT64_MAX)
            return -1;
    }
    *out = (json_int_t)v;
    return 0;
}

static void on_request(const http_req *req, void *ud)
{
    rides_svc *svc = ud;
    if (rides_counted_path(http_req_path(req)))
        atomic_fetch_add_explicit(&svc->count, 1, memory_order_relaxed);
}

static http_reply *db_failure(int rc)
{
    if (rc == DB_EUNAVAILABLE)
        return http_reply_error(503, "the database is unavailable, try again later");
    return http_reply_error(500, "the database rejected the request");
}

/* The ride's row (columns as asked) in *row: 1 found, 0 none, or a negative DB_E* code. */
static int ride_get(rides_svc *svc, json_int_t id, json_t *columns, json_t **row)
{
    json_t *q = json_pack("{s:s, s:o, s:{s:I}}", "table", "rides", "columns", columns, "where", "id", id);
    json_t *rows = NULL;
    int rc = db_read(svc->db, q, &rows);
    json_decref(q);
    if (rc != DB_OK)
        return rc;
    *row = json_incref(json_array_get(rows, 0));
    json_decref(rows);
    return *row != NULL;
}

static http_reply *bad_id(void)
{
    return http_reply_error(400, "rideId must be a positive integer");
}

/* Reads body[key] as an area; NULL when fine, else the 400 reply. */
static http_reply *get_area(const json_t *body, const char *key, int *out)
{
    json_t *v = json_object_get(body, key);
    if (!v)
        return http_reply_error(400, "%s is missing", key);
    if (area_from_json(v, out) != 0)
        return http_reply_error(400, "%s must be an area number from %d to %d", key, AREA_MIN, AREA_MAX);
    return NULL;
}

/* POST /api/v1/rides -> 201 {"rideId": N}. The users service is asked about created_by
 * only once everything else in the body is valid. */
static http_reply *create_ride(http_req *req, void *ud)
{
    rides_svc *svc = ud;
    http_reply *r = NULL;
    json_t *body = http_req_json_object(req, &r);
    if (!body)
        return r;
    const char *by, *ts;
    int src = 0, dst = 0, rc;
    struct ride_time t;
    if ((rc = jsonx_get_str(body, "created_by", &by)) != 0) {
        r = http_reply_error(400, rc == -1 ? "created_by is missing" : "created_by must be a string");
        goto out;
    }
    if ((rc = jsonx_get_str(body, "timestamp", &ts)) != 0) {
        r = http_reply_error(400, rc == -1 ? "timestamp is missing" : "timestamp must be a string");
        goto out;
    }
    if (timestamp_parse_api(ts, &t) != 0) {
        r = http_reply_error(400, "timestamp must be a real date and time as DD-MM-YYYY:SS-MM-HH");
        goto out;
    }
    if ((r = get_area(body, "source", &src)) || (r = get_area(body, "destination", &dst)))
        goto out;
    if (src == dst) {
        r = http_reply_error(400, "source and destination must differ");
        goto out;
    }
    if ((rc = userdir_exists(svc->users, by)) != 1) {
        r = rc == 0 ? http_reply_error(400, "created_by is not an existing user")
                    : http_reply_error(503, "the users service is unavailable, try again later");
        goto out;
    }
    char stored[TS_LEN + 1];
    timestamp_format_db(&t, stored);
    json_t *w = json_pack("{s:s, s:{s:s, s:s, s:i, s:i}}", "table", "rides", "insert", "created_by", by,
                          "timestamp", stored, "source", src, "destination", dst);
    json_int_t id = 0;
    rc = db_write(svc->db, w, NULL, &id);
    json_decref(w);
    if (rc == DB_EREJECTED) /* the FK: the user was deleted since the check */
        r = http_reply_error(400, "created_by is not an existing user");
    else if (rc != DB_OK)
        r = db_failure(rc);
    else
        r = http_reply_json(201, json_pack("{s:I}", "rideId", id));
out:
    json_decref(body);
    return r;
}

/* Adds the API form of a stored timestamp to obj. */
static void set_timestamp(json_t *obj, json_t *stored)
{
    char api[TS_LEN + 1];
    const char *s = json_is_string(stored) ? json_string_value(stored) : "";
    if (timestamp_db_to_api(s, api) != 0) {
        log_warn("rides: a stored timestamp is malformed: \"%s\"", s);
        json_object_set(obj, "timestamp", stored ? stored : json_null());
        return;
    }
    json_object_set_new(obj, "timestamp", json_stringn(api, TS_LEN));
}

/* GET /api/v1/rides?source=S&destination=D -> upcoming rides, by timestamp then rideId. */
static http_reply *list_rides(http_req *req, void *ud)
{
    rides_svc *svc = ud;
    static const char *const keys[2] = {"source", "destination"};
    int area[2];
    for (int i = 0; i < 2; i++) {
        const char *v = http_req_query(req, keys[i]);
        if (!v)
            return http_reply_error(400, "the query parameter %s is missing", keys[i]);
        if (area_from_str(v, &area[i]) != 0)
            return http_reply_error(400, "%s must be an area number from %d to %d", keys[i], AREA_MIN, AREA_MAX);
    }
    char now[TS_LEN + 1];
    timestamp_db_of(time(NULL), now);
    json_t *q = json_pack("{s:s, s:[sss], s:{s:i, s:i, s:{s:s}}, s:[ss]}", "table", "rides", "columns", "id",
                          "created_by", "timestamp", "where", "source", area[0], "destination", area[1],
                          "timestamp", ">", now, "order", "timestamp", "id");
    json_t *rows = NULL;
    int rc = db_read(svc->db, q, &rows);
    json_decref(q);
    if (rc != DB_OK)
        return db_failure(rc);
    if (json_array_size(rows) == 0) {
        json_decref(rows);
        return http_reply_empty(204);
    }
    /* Written straight as text: this is the hot call, and each row would otherwise be
     * three jansson objects built only to be dumped. */
    struct jbuf b;
    jbuf_init(&b, 16 + json_array_size(rows) * 128);
    jbuf_lit(&b, "[");
    json_t *row;
    size_t i;
    json_array_foreach(rows, i, row) {
        json_t *id = json_object_get(row, "id"), *by = json_object_get(row, "created_by");
        const char *stored = json_string_value(json_object_get(row, "timestamp"));
        char api[TS_LEN + 1];
        if (!json_is_integer(id) || !json_is_string(by) || !stored || timestamp_db_to_api(stored, api) != 0) {
            log_warn("rides: the database answered a malformed ride row");
            jbuf_free(&b);
            json_decref(rows);
            return http_reply_error(500, "the database answered a malformed ride");
        }
        if (i)
            jbuf_lit(&b, ",");
        jbuf_lit(&b, "{\"rideId\":");
        jbuf_int(&b, json_integer_value(id));
        jbuf_lit(&b, ",\"username\":");
        jbuf_str(&b, json_string_value(by));
        jbuf_lit(&b, ",\"timestamp\":\"");
        jbuf_raw(&b, api, TS_LEN);
        jbuf_lit(&b, "\"}");
    }
    jbuf_lit(&b, "]");
    json_decref(rows);
    http_reply *r = http_reply_raw(200, b.data, b.len);
    jbuf_free(&b);
    return r;
}

/* GET /api/v1/rides/{rideId} -> the ride with its joined users in join order; 204 if none. */
static http_reply *get_ride(http_req *req, void *ud)
{
    rides_svc *svc = ud;
    json_int_t id;
    if (rides_parse_id(http_req_param(req, 0), &id) != 0)
        return bad_id();
    json_t *ride = NULL;
    int rc = ride_get(svc, id, json_pack("[sssss]", "id", "created_by", "timestamp", "source", "destination"), &ride);
    if (rc < 0)
        return db_failure(rc);
    if (rc == 0)
        return http_reply_empty(204);
    json_t *q = json_pack("{s:s, s:[s], s:{s:I}, s:[s]}", "table", "ride_users", "columns", "username", "where",
                          "ride_id", id, "order", "id");
    json_t *rows = NULL;
    rc = db_read(svc->db, q, &rows);
    json_decref(q);
    if (rc != DB_OK) {
        json_decref(ride);
        return db_failure(rc);
    }
    json_t *users = json_array(), *row;
    size_t i;
    json_array_foreach(rows, i, row) {
        json_array_append(users, json_object_get(row, "username"));
    }
    json_decref(rows);
    json_t *out = json_object();
    json_object_set(out, "rideId", json_object_get(ride, "id"));
    json_object_set(out, "created_by", json_object_get(ride, "created_by"));
    json_object_set_new(out, "users", users);
    set_timestamp(out, json_object_get(ride, "timestamp"));
    json_object_set(out, "source", json_object_get(ride, "source"));
    json_object_set(out, "destination", json_object_get(ride, "destination"));
    json_decref(ride);
    return http_reply_json(200, out);
}

/* 1 when username has joined ride id, 0 when not, or a negative DB_E* code. */
static int has_joined(rides_svc *svc, json_int_t id, const char *name)
{
    json_t *q = json_pack("{s:s, s:{s:I, s:s}}", "table", "ride_users", "where", "ride_id", id, "username", name);
    json_int_t n = 0;
    int rc = db_count(svc->db, q, &n);
    json_decref(q);
    return rc != DB_OK ? rc : n > 0;
}

/* After a rejected join that was not a duplicate: 204 if the ride went away meanwhile,
 * else the user did. */
static http_reply *ride_gone_or_user(rides_svc *svc, json_int_t id)
{
    json_t *ride = NULL;
    int rc = ride_get(svc, id, json_pack("[s]", "id"), &ride);
    json_decref(ride);
    if (rc < 0)
        return db_failure(rc);
    return rc == 0 ? http_reply_empty(204) : http_reply_error(400, "username is not an existing user");
}

/* POST /api/v1/rides/{rideId} {"username"} -> 200 {}; 204 if no such ride. */
static http_reply *join_ride(http_req *req, void *ud)
{
    rides_svc *svc = ud;
    json_int_t id;
    if (rides_parse_id(http_req_param(req, 0), &id) != 0)
        return bad_id();
    http_reply *r = NULL;
    json_t *body = http_req_json_object(req, &r), *ride = NULL;
    if (!body)
        return r;
    const char *name;
    int rc = jsonx_get_str(body, "username", &name);
    if (rc != 0) {
        r = http_reply_error(400, rc == -1 ? "username is missing" : "username must be a string");
        goto out;
    }
    rc = ride_get(svc, id, json_pack("[s]", "created_by"), &ride);
    if (rc <= 0) {
        r = rc == 0 ? http_reply_empty(204) : db_failure(rc);
        goto out;
    }
    const char *creator = json_string_value(json_object_get(ride, "created_by"));
    if (creator && strcmp(creator, name) == 0) {
        r = http_reply_error(400, "the creator of a ride cannot join it");
        goto out;
    }
    if ((rc = userdir_exists(svc->users, name)) != 1) {
        r = rc == 0 ? http_reply_error(400, "username is not an existing user")
                    : http_reply_error(503, "the users service is unavailable, try again later");
        goto out;
    }
    json_t *w = json_pack("{s:s, s:{s:I, s:s}}", "table", "ride_users", "insert", "ride_id", id, "username", name);
    rc = db_write(svc->db, w, NULL, NULL);
    json_decref(w);
    if (rc == DB_OK) {
        r = http_reply_json(200, json_object());
    } else if (rc == DB_EREJECTED) {
        /* UNIQUE(ride_id, username), or an FK: the ride or the user went away meanwhile. */
        int joined = has_joined(svc, id, name);
        if (joined == 1)
            r = http_reply_error(400, "the user has already joined this ride");
        else if (joined < 0)
            r = db_failure(joined);
        else
            r = ride_gone_or_user(svc, id);
    } else {
        r = db_failure(rc);
    }
out:
    json_decref(ride);
    json_decref(body);
    return r;
}

/* DELETE /api/v1/rides/{rideId} -> 200 {}; the FK removes its joins. */
static http_reply *delete_ride(http_req *req, void *ud)
{
    rides_svc *svc = ud;
    json_int_t id, changes = 0;
    if (rides_parse_id(http_req_param(req, 0), &id) != 0)
        return bad_id();
    json_t *w = json_pack("{s:s, s:{s:I}}", "table", "rides", "delete", "id", id);
    int rc = db_write(svc->db, w, &changes, NULL);
    json_decref(w);
    if (rc != DB_OK)
        return db_failure(rc);
    if (changes == 0)
        return http_reply_error(400, "no such ride: %lld", (long long)id);
    return http_reply_json(200, json_object());
}

/* GET /api/v1/rides/count -> [n], every ride past and upcoming. */
static http_reply *count_rides(http_req *req, void *ud)
{
    (void)req;
    rides_svc *svc = ud;
    json_t *q = json_pack("{s:s}", "table", "rides");
    json_int_t n = 0;
    int rc = db_count(svc->db, q, &n);
    json_decref(q);
    return rc == DB_OK ? http_reply_json(200, json_pack("[I]", n)) : db_failure(rc);
}

static http_reply *get_count(http_req *req, void *ud)
{
    (void)req;
    rides_svc *svc = ud;
    unsigned long n = atomic_load_explicit(&svc->count, memory_order_relaxed);
    return http_reply_json(200, json_pack("[I]", (json_int_t)n));
}

static http_reply *reset_count(http_req *req, void *ud)
{
    (void)req;
    rides_svc *svc = ud;
    atomic_store_explicit(&svc->count, 0, memory_order_relaxed);
    return http_reply_json(200, json_object());
}

static http_reply *clear_db(http_req *req, void *ud)
{
    (void)req;
    rides_svc *svc = ud;
    int rc = db_clear(svc->db);
    return rc == DB_OK ? http_reply_json(200, json_object()) : db_failure(rc);
}

/* First match wins, so the literal "count" comes before the "*" routes. */
static const struct http_route routes[] = {
    {"POST", RIDES_PATH, create_ride, NULL},
    {"GET", RIDES_PATH, list_rides, NULL},
    {"GET", RIDES_PATH "/count", count_rides, NULL},
    {"GET", RIDES_PATH "/*", get_ride, NULL},
    {"POST", RIDES_PATH "/*", join_ride, NULL},
    {"DELETE", RIDES_PATH "/*", delete_ride, NULL},
    {"GET", "/api/v1/_count", get_count, NULL},
    {"DELETE", "/api/v1/_count", reset_count, NULL},
    {"POST", "/api/v1/db/clear", clear_db, NULL},
};

rides_svc *rides_svc_new(const struct rides_cfg *cfg)
{
    rides_svc *svc = xcalloc(1, sizeof *svc);
    atomic_init(&svc->count, 0);
    svc->db = db_client_new(cfg->orch_url, cfg->db_timeout_ms);
    svc->users = userdir_new(cfg->users_url, cfg->users_timeout_ms);
    if (!svc->db || !svc->users) {
        log_error("rides: cannot create the HTTP clients");
        db_client_free(svc->db);
        userdir_free(svc->users);
        free(svc);
        return NULL;
    }
    svc->http = http_server_new(routes, sizeof routes / sizeof routes[0], svc);
    http_server_set_observer(svc->http, on_request);
    return svc;
}

int rides_svc_start(rides_svc *svc, int port)
{
    return http_server_start(svc->http, port);
}

int rides_svc_port(const rides_svc *svc)
{
    return http_server_port(svc->http);
}

void rides_svc_free(rides_svc *svc)
{
    if (!svc)
        return;
    http_server_free(svc->http); /* waits for handlers in flight before the clients go */
    db_client_free(svc->db);
    userdir_free(svc->users);
    free(svc);
}
