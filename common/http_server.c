/* http_server.c - routed JSON server on libmicrohttpd.
 *
 * Threading: one thread per connection (MHD_USE_THREAD_PER_CONNECTION). Every handler
 * in this project blocks on a downstream call (orchestrator -> RabbitMQ -> worker), so a
 * pool of event-loop threads would let one slow call stall every connection that shares
 * its thread. With keep-alive clients (nginx upstream keepalive, libcurl, wrk) threads are
 * created once per connection, not per request, and MHD's connection limit bounds them. */
#include "http_server.h"

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_metrics.h"
#include "jsonx.h"
#include "log.h"
#include "xalloc.h"

#define HTTP_MAX_CONNECTIONS 2048
#define HTTP_IDLE_TIMEOUT_S 120

struct http_server {
    const struct http_route *routes;
    size_t nroutes;
    void *ud;
    http_observer observer;
    int (*health)(void *ud);
    struct MHD_Daemon *daemon;
    int port;
    http_metrics *metrics;
    void (*metrics_extra)(sbuf *out, void *ud);
};

struct http_req {
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    char *body;
    size_t body_len;
    int too_large;
    char *params[HTTP_MAX_PARAMS];
    size_t nparams;
    char **owned; /* decoded query values handed out by http_req_query */
    size_t nowned;
    int route; /* the route that took it, -1 for none */
    struct timespec start;
};

struct http_reply {
    int status;
    char *body; /* malloc'ed JSON text or NULL; handed to MHD, which frees it */
    size_t len;
    const char *ctype; /* NULL: application/json */
    char allow[64];
    char *hname[HTTP_MAX_HEADERS], *hvalue[HTTP_MAX_HEADERS];
    size_t nheaders;
};

/* ---- replies ---- */

static http_reply *reply_new(int status)
{
    http_reply *r = xcalloc(1, sizeof *r);
    r->status = status;
    return r;
}

http_reply *http_reply_json(int status, json_t *body)
{
    http_reply *r = reply_new(status);
    r->body = jsonx_dump(body);
    r->len = r->body ? strlen(r->body) : 0;
    json_decref(body);
    return r;
}

http_reply *http_reply_error(int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *body = json_pack("{s:s}", "error", msg);
    if (!body) { /* msg quotes request bytes that are not UTF-8, or was cut inside a character */
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        body = json_pack("{s:s}", "error", msg);
    }
    return http_reply_json(status, body);
}

http_reply *http_reply_text(int status, const char *content_type, char *text, size_t len)
{
    http_reply *r = reply_new(status);
    r->body = text;
    r->len = len;
    r->ctype = content_type;
    return r;
}

http_reply *http_reply_empty(int status)
{
    return reply_new(status);
}

http_reply *http_reply_raw(int status, const char *json_text, size_t len)
{
    http_reply *r = reply_new(status);
    r->body = malloc(len + 1);
    if (!r->body) {
        free(r);
        return http_reply_error(500, "out of memory");
    }
    memcpy(r->body, json_text, len);
    r->body[len] = '\0';
    r->len = len;
    return r;
}

void http_reply_header(http_reply *r, const char *name, const char *value)
{
    if (r->nheaders == HTTP_MAX_HEADERS)
        return;
    r->hname[r->nheaders] = xstrdup(name);
    r->hvalue[r->nheaders++] = xstrdup(value);
}

int http_reply_status(const http_reply *r)
{
    return r->status;
}

void http_reply_free(http_reply *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->hname[i]);
        free(r->hvalue[i]);
    }
    free(r->body);
    free(r);
}

/* ---- request accessors ---- */

const char *http_req_method(const http_req *req) { return req->method; }
const char *http_req_path(const http_req *req) { return req->path; }

const char *http_req_param(const http_req *req, size_t i)
{
    return i < req->nparams ? req->params[i] : NULL;
}

const char *http_req_header(const http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_req_body(const http_req *req, size_t *len)
{
    *len = req->body_len;
    return req->body ? req->body : "";
}

/* Query values arrive raw (see unescape_none); the decoded copy belongs to the request. */
const char *http_req_query(const http_req *req, const char *key)
{
    const char *raw = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
    if (!raw)
        return NULL;
    char *dec = http_percent_decode(raw, strlen(raw), 1);
    if (!dec)
        return NULL;
    http_req *owner = (http_req *)req; /* ownership only: the request itself is unchanged */
    owner->owned = xrealloc(owner->owned, (owner->nowned + 1) * sizeof *owner->owned);
    owner->owned[owner->nowned++] = dec;
    return dec;
}

json_t *http_req_json_object(const http_req *req, http_reply **err)
{
    char why[200];
    if (req->body_len == 0) {
        *err = http_reply_error(400, "the request body must be a JSON object");
        return NULL;
    }
    json_t *v = jsonx_parse(req->body, req->body_len, why, sizeof why);
    if (!v) {
        *err = http_reply_error(400, "%s", why);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        *err = http_reply_error(400, "the request body must be a JSON object");
        return NULL;
    }
    return v;
}

int http_path_under(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *http_percent_decode(const char *s, size_t len, int plus_is_space)
{
    char *out = xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len) {
                free(out);
                return NULL;
            }
            int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(h * 16 + l);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out[o++] = ' ';
        } else {
            out[o++] = c;
        }
    }
    out[o] = '\0';
    return out;
}

/* ---- routing ---- */

/* Matches path against pattern segment by segment; "*" captures one non-empty,
 * percent-decoded segment. Returns 1 on a match, 0 on none, -1 on a bad escape. */
static int route_match(const char *pattern, const char *path, http_req *req, int capture)
{
    size_t n = 0;
    const char *p = pattern, *q = path;
    for (;;) {
        const char *pe = strchrnul(p, '/'), *qe = strchrnul(q, '/');
        size_t plen = (size_t)(pe - p), qlen = (size_t)(qe - q);
        if (plen == 1 && *p == '*') {
            if (qlen == 0)
                return 0;
            if (capture && n < HTTP_MAX_PARAMS) {
                char *dec = http_percent_decode(q, qlen, 0);
                if (!dec)
                    return -1;
                req->params[n] = dec;
                req->nparams = ++n;
            }
        } else if (plen != qlen || strncmp(p, q, plen) != 0) {
            return 0;
        }
        if (!*pe || !*qe)
            return !*pe && !*qe;
        p = pe + 1;
        q = qe + 1;
    }
}

static http_reply *metrics_reply(http_server *srv)
{
    sbuf b;
    sbuf_init(&b);
    http_metrics_render(srv->metrics, &b);
    if (srv->metrics_extra)
        srv->metrics_extra(&b, srv->ud);
    size_t len;
    char *text = sbuf_take(&b, &len);
    return http_reply_text(200, "text/plain; version=0.0.4", text, len);
}

static http_reply *dispatch(http_server *srv, http_req *req)
{
    if (strcmp(req->path, "/healthz") == 0) {
        if (strcmp(req->method, "GET") != 0) {
            http_reply *r = http_reply_error(405, "method %s is not allowed here", req->method);
            snprintf(r->allow, sizeof r->allow, "GET");
            return r;
        }
        if (srv->health && !srv->health(srv->ud))
            return http_reply_error(503, "the service is not ready yet");
        return http_reply_json(200, json_pack("{s:s}", "status", "ok"));
    }
    if (strcmp(req->path, "/metrics") == 0 && strcmp(req->method, "GET") == 0)
        return metrics_reply(srv);
    char allow[64] = "";
    for (size_t i = 0; i < srv->nroutes; i++) {
        const struct http_route *rt = &srv->routes[i];
        if (route_match(rt->pattern, req->path, req, 0) != 1)
            continue;
        if (strcmp(rt->method, req->method) == 0) {
            req->route = (int)i;
            if (route_match(rt->pattern, req->path, req, 1) < 0)
                return http_reply_error(400, "the path holds a malformed percent-escape");
            return rt->handler(req, rt->ud ? rt->ud : srv->ud);
        }
        if (!strstr(allow, rt->method) && strlen(allow) + strlen(rt->method) + 3 < sizeof allow) {
            if (*allow)
                strcat(allow, ", ");
            strcat(allow, rt->method);
        }
    }
    if (!*allow)
        return http_reply_error(404, "no such resource: %s", req->path);
    http_reply *r = http_reply_error(405, "method %s is not allowed here", req->method);
    snprintf(r->allow, sizeof r->allow, "%s", allow);
    return r;
}

/* ---- libmicrohttpd glue ---- */

static enum MHD_Result send_reply(struct MHD_Connection *conn, http_reply *r)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        http_reply_free(r);
        return MHD_NO;
    }
    r->body = NULL; /* now MHD's */
    if (r->len)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->ctype ? r->ctype : "application/json");
    if (*r->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
    for (size_t i = 0; i < r->nheaders; i++)
        MHD_add_response_header(resp, r->hname[i], r->hvalue[i]);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    http_reply_free(r);
    return ret;
}

static http_req *req_new(struct MHD_Connection *conn, const char *method, const char *url)
{
    http_req *req = xcalloc(1, sizeof *req);
    req->conn = conn;
    req->method = method;
    req->path = url;
    req->route = -1;
    clock_gettime(CLOCK_MONOTONIC, &req->start);
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > HTTP_MAX_BODY)
        req->too_large = 1;
    return req;
}

static void req_free(http_req *req)
{
    for (size_t i = 0; i < req->nparams; i++)
        free(req->params[i]);
    for (size_t i = 0; i < req->nowned; i++)
        free(req->owned[i]);
    free(req->owned);
    free(req->body);
    free(req);
}

/* Buffers the body up to HTTP_MAX_BODY; anything larger is drained and answered 413. */
static void req_append(http_req *req, const char *data, size_t len)
{
    if (req->too_large || req->body_len + len > HTTP_MAX_BODY) {
        req->too_large = 1;
        return;
    }
    req->body = xrealloc(req->body, req->body_len + len + 1);
    memcpy(req->body + req->body_len, data, len);
    req->body_len += len;
    req->body[req->body_len] = '\0';
}

/* The caller's X-Request-Id when it is a sane token, else a new one: it follows the
 * request through every service, queue and worker, and into their log lines. */
static void request_id(struct MHD_Connection *conn, char *out, size_t len)
{
    static atomic_ulong counter;
    const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
    size_t n = given ? strlen(given) : 0;
    if (n > 0 && n < len && strspn(given, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == n) {
        memcpy(out, given, n + 1);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, len, "%08lx%06lx-%lx", (unsigned long)ts.tv_sec & 0xffffffffUL,
             (unsigned long)(ts.tv_nsec / 1000) & 0xffffffUL, atomic_fetch_add(&counter, 1));
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    http_server *srv = cls;
    http_req *req = *con_cls;
    if (!req) {
        *con_cls = req_new(conn, method, url);
        return MHD_YES;
    }
    if (*upload_data_size) {
        req_append(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    char id[40];
    request_id(conn, id, sizeof id);
    log_set_request_id(id);
    if (srv->observer)
        srv->observer(req, srv->ud);
    http_reply *r = req->too_large ? http_reply_error(413, "the request body is larger than %d bytes", HTTP_MAX_BODY)
                                   : dispatch(srv, req);
    http_reply_header(r, "X-Request-Id", id);
    struct timespec end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    http_metrics_observe(srv->metrics, req->route, r->status,
                         (double)(end.tv_sec - req->start.tv_sec) + (double)(end.tv_nsec - req->start.tv_nsec) / 1e9);
    log_set_request_id(NULL);
    return send_reply(conn, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    if (*con_cls)
        req_free(*con_cls);
    *con_cls = NULL;
}

/* Leave escapes alone: paths are split on '/' before decoding, so an encoded "%2F" in a
 * username stays inside its segment, and query values are decoded on demand. */
static size_t unescape_none(void *cls, struct MHD_Connection *conn, char *s)
{
    (void)cls, (void)conn;
    return strlen(s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    if (n > 0 && (size_t)n < sizeof msg && msg[n - 1] == '\n')
        msg[n - 1] = '\0';
    log_warn("microhttpd: %s", msg);
}

http_server *http_server_new(const struct http_route *routes, size_t nroutes, void *ud)
{
    http_server *srv = xcalloc(1, sizeof *srv);
    srv->routes = routes;
    srv->nroutes = nroutes;
    srv->ud = ud;
    srv->metrics = http_metrics_new(routes, nroutes);
    return srv;
}

void http_server_set_metrics(http_server *srv, void (*fn)(sbuf *out, void *ud))
{
    srv->metrics_extra = fn;
}

void http_server_set_observer(http_server *srv, http_observer fn) { srv->observer = fn; }
void http_server_set_health(http_server *srv, int (*fn)(void *ud)) { srv->health = fn; }
int http_server_port(const http_server *srv) { return srv->port; }

int http_server_start(http_server *srv, int port)
{
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
                     MHD_USE_ERROR_LOG;
    srv->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, srv,
                                   MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                                   MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                   MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL,
                                   MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_TIMEOUT_S,
                                   MHD_OPTION_END);
    if (!srv->daemon) {
        log_error("http: cannot listen on port %d", port);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : port;
    log_info("http: listening on port %d", srv->port);
    return 0;
}

void http_server_free(http_server *srv)
{
    if (!srv)
        return;
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    http_metrics_free(srv->metrics);
    free(srv);
}
