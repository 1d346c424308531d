/* rides.c - the rides service's HTTP handlers. It has no data of its own: every read and
 * write goes to the orchestrator through db_client, and users are looked up in the users
 * service through userdir; _count and db/clear are the shared ones of fleet/service.h. */
#include "rides.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "areas.h"
#include "fleet/db_client.h"
#include "fleet/service.h"
#include "http_server.h"
#include "jsonx.h"
#include "log.h"
#include "sbuf.h"
#include "timestamp.h"
#include "userdir.h"
#include "fleet/validate.h"
#include "xalloc.h"

#define RIDES_PATH "/api/v1/rides"

struct rides_svc {
    service *base;
    db_client *db; /* the base's */
    userdir *users;
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
static http_reply *area_or_reply(const json_t *body, const char *key, int *out)
{
    json_t *v = json_object_get(body, key);
    if (!v)
        return http_reply_error(400, "%s is missing", key);
    if (area_from_json(v, out) != 0)
        return http_reply_error(400, "%s must be an area number from %d to %d", key, AREA_MIN, AREA_MAX);
    return NULL;
}

/* NULL when name is a user, else the reply: 400 ("<key> is not an existing user", key
 * being the field that named it), or 503 when the users service cannot tell. */
static http_reply *user_or_reply(rides_svc *svc, const char *name, const char *key)
{
    int rc = userdir_exists(svc->users, name);
    if (rc == 1)
        return NULL;
    return rc == 0 ? http_reply_error(400, "%s is not an existing user", key)
                   : http_reply_error(503, "the users service is unavailable, try again later");
}

/* body["timestamp"] as a real date and time; NULL, or the 400 to answer. */
static http_reply *timestamp_or_reply(const json_t *body, struct ride_time *t)
{
    const char *ts;
    http_reply *r = http_field_str_or_reply(body, "timestamp", &ts);
    if (r)
        return r;
    if (timestamp_parse_api(ts, t) != 0)
        return http_reply_error(400, "timestamp must be a real date and time as DD-MM-YYYY:SS-MM-HH");
    return NULL;
}

/* POST /api/v1/rides -> 201 {"rideId": N}. The users service is asked about created_by
 * only once everything else in the body is valid. */
static http_reply *create_ride(http_req *req, void *ud)
{
    rides_svc *svc = ud;
    const json_t *body;
    const char *by;
    int src = 0, dst = 0;
    struct ride_time t;
    http_reply *r;
    if ((r = http_req_object_or_reply(req, &body)) || (r = http_field_str_or_reply(body, "created_by", &by)) ||
        (r = timestamp_or_reply(body, &t)) || (r = area_or_reply(body, "source", &src)) ||
        (r = area_or_reply(body, "destination", &dst)))
        return r;
    if (src == dst)
        return http_reply_error(400, "source and destination must differ");
    if ((r = user_or_reply(svc, by, "created_by")))
        return r;
    char stored[TS_LEN + 1];
    timestamp_format_db(&t, stored);
    json_t *w = json_pack("{s:s, s:{s:s, s:s, s:i, s:i}}", "table", "rides", "insert", "created_by", by,
                          "timestamp", stored, "source", src, "destination", dst);
    json_int_t id = 0;
    int rc = db_write(svc->db, w, NULL, &id);
    json_decref(w);
    if (rc == DB_EREJECTED) /* the FK: the user was deleted since the check */
        return http_reply_error(400, "created_by is not an existing user");
    if (rc != DB_OK)
        return service_db_failure(rc);
    return http_reply_json(201, json_pack("{s:I}", "rideId", id));
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

/* The rows of a rides list as the reply's JSON text in b (initialized here), written
 * straight: this is the hot call, and each row would otherwise be three jansson objects
 * built only to be dumped. 0, or -1 (logged) when a row is malformed. */
static int rides_text(const json_t *rows, sbuf *b)
{
    json_t *row;
    size_t i;
    sbuf_init_cap(b, 16 + json_array_size(rows) * 128);
    sbuf_lit(b, "[");
    json_array_foreach((json_t *)rows, i, row) {
        json_t *id = json_object_get(row, "id"), *by = json_object_get(row, "created_by");
        const char *stored = json_string_value(json_object_get(row, "timestamp"));
        char api[TS_LEN + 1];
        if (!json_is_integer(id) || !json_is_string(by) || !stored || timestamp_db_to_api(stored, api) != 0) {
            log_warn("rides: the database answered a malformed ride row");
            return -1;
        }
        if (i)
            sbuf_lit(b, ",");
        sbuf_lit(b, "{\"rideId\":");
        sbuf_int(b, json_integer_value(id));
        sbuf_lit(b, ",\"username\":");
        sbuf_json_str(b, json_string_value(by));
        sbuf_lit(b, ",\"timestamp\":\"");
        sbuf_append(b, api, TS_LEN);
        sbuf_lit(b, "\"}");
    }
    sbuf_lit(b, "]");
    return 0;
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
        return service_db_failure(rc);
    if (json_array_size(rows) == 0) {
        json_decref(rows);
        return http_reply_empty(204);
    }
    sbuf b;
    int whole = rides_text(rows, &b) == 0;
    json_decref(rows);
    http_reply *r = whole ? http_reply_raw(200, b.data, b.len)
                          : http_reply_error(500, "the database answered a malformed ride");
    sbuf_deinit(&b);
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
        return service_db_failure(rc);
    if (rc == 0)
        return http_reply_empty(204);
    json_t *q = json_pack("{s:s, s:[s], s:{s:I}, s:[s]}", "table", "ride_users", "columns", "username", "where",
                          "ride_id", id, "order", "id");
    json_t *rows = NULL;
    rc = db_read(svc->db, q, &rows);
    json_decref(q);
    if (rc != DB_OK) {
        json_decref(ride);
        return service_db_failure(rc);
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
        return service_db_failure(rc);
    return rc == 0 ? http_reply_empty(204) : http_reply_error(400, "username is not an existing user");
}

/* NULL when name may join ride id, else the reply: 204 when there is no such ride, 400
 * when name created it. */
static http_reply *joinable_or_reply(rides_svc *svc, json_int_t id, const char *name)
{
    json_t *ride = NULL;
    int rc = ride_get(svc, id, json_pack("[s]", "created_by"), &ride);
    if (rc <= 0)
        return rc == 0 ? http_reply_empty(204) : service_db_failure(rc);
    const char *creator = json_string_value(json_object_get(ride, "created_by"));
    int own = creator && strcmp(creator, name) == 0;
    json_decref(ride);
    return own ? http_reply_error(400, "the creator of a ride cannot join it") : NULL;
}

/* The reply to a join the database refused: UNIQUE(ride_id, username), or an FK (the
 * ride or the user went away meanwhile). */
static http_reply *join_refused(rides_svc *svc, json_int_t id, const char *name)
{
    int joined = has_joined(svc, id, name);
    if (joined == 1)
        return http_reply_error(400, "the user has already joined this ride");
    if (joined < 0)
        return service_db_failure(joined);
    return ride_gone_or_user(svc, id);
}

/* POST /api/v1/rides/{rideId} {"username"} -> 200 {}; 204 if no such ride. */
static http_reply *join_ride(http_req *req, void *ud)
{
    rides_svc *svc = ud;
    json_int_t id;
    const json_t *body;
    const char *name;
    http_reply *r;
    if (rides_parse_id(http_req_param(req, 0), &id) != 0)
        return bad_id();
    if ((r = http_req_object_or_reply(req, &body)) || (r = http_field_str_or_reply(body, "username", &name)))
        return r;
    if (validate_username(name)) /* no user can have it: a 400 whether or not the ride exists */
        return http_reply_error(400, "username is not an existing user");
    if ((r = joinable_or_reply(svc, id, name)) || (r = user_or_reply(svc, name, "username")))
        return r;
    json_t *w = json_pack("{s:s, s:{s:I, s:s}}", "table", "ride_users", "insert", "ride_id", id, "username", name);
    int rc = db_write(svc->db, w, NULL, NULL);
    json_decref(w);
    if (rc == DB_EREJECTED)
        return join_refused(svc, id, name);
    if (rc != DB_OK)
        return service_db_failure(rc);
    return http_reply_json(200, json_object());
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
        return service_db_failure(rc);
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
    return rc == DB_OK ? http_reply_json(200, json_pack("[I]", n)) : service_db_failure(rc);
}

/* First match wins, so the literal "count" comes before the "*" routes. */
static const struct http_route routes[] = {
    {"POST", RIDES_PATH, create_ride, NULL},
    {"GET", RIDES_PATH, list_rides, NULL},
    {"GET", RIDES_PATH "/count", count_rides, NULL},
    {"GET", RIDES_PATH "/*", get_ride, NULL},
    {"POST", RIDES_PATH "/*", join_ride, NULL},
    {"DELETE", RIDES_PATH "/*", delete_ride, NULL},
};

rides_svc *rides_svc_new(const struct rides_cfg *cfg)
{
    rides_svc *svc = xcalloc(1, sizeof *svc);
    struct service_cfg sc = {.name = "rides", .routes = routes, .nroutes = sizeof routes / sizeof routes[0],
                             .counted = rides_counted_path, .orch_url = cfg->orch_url,
                             .db_timeout_ms = cfg->db_timeout_ms, .admin_token = cfg->admin_token, .ud = svc};
    svc->users = userdir_new(cfg->users_url, cfg->users_timeout_ms);
    if (!svc->users || !(svc->base = service_new(&sc))) {
        log_error("rides: cannot create the HTTP clients");
        userdir_free(svc->users);
        free(svc);
        return NULL;
    }
    svc->db = service_db(svc->base);
    return svc;
}

int rides_svc_start(rides_svc *svc, int port)
{
    return service_start(svc->base, port);
}

int rides_svc_port(const rides_svc *svc)
{
    return service_port(svc->base);
}

void rides_svc_free(rides_svc *svc)
{
    if (!svc)
        return;
    service_free(svc->base); /* waits for handlers in flight before the users client goes */
    userdir_free(svc->users);
    free(svc);
}
