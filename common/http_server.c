/* http_server.c - routed JSON server on libmicrohttpd.
 *
 * Concurrency is bounded (docs/DESIGN.md "Edges"). HTTP_IO_THREADS epoll loops read and
 * write every connection, so an idle or slow connection costs a descriptor and a little
 * memory, never a thread. A request whose headers and body are in is suspended and handed
 * to a fixed pool of HTTP_THREADS handler threads (workpool): handlers block on downstream
 * calls (another service, a broker, a database), and run there they stall no loop and no
 * other connection. A per-client connection cap and short timeouts keep one client from
 * holding the slots. */
#include "http_server.h"

#include <errno.h>
#include <microhttpd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "http_auth.h"
#include "http_metrics.h"
#include "http_stream.h"
#include "jsonx.h"
#include "log.h"
#include "workpool.h"
#include "xalloc.h"

/* Event loops; they only parse and send, so one per core is plenty here. */
#define HTTP_IO_THREADS 2u


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
    struct http_limits lim;
    workpool *pool;               /* runs the handlers; NULL until started */
    char *token;                  /* NULL: admin routes are open */
    const char *const *protected; /* path prefixes of the admin routes */
    http_stream_set *streams;     /* streamed bodies being sent, ended before the loops stop */
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
    char *query; /* the raw query string, built on demand */
    json_t *object; /* the body parsed by http_req_object_or_reply; NULL until then */
    int route; /* the route that took it, -1 for none */
    http_reply *reply; /* set by the handler thread, sent by the event loop */
    double start; /* clock_mono_s() when its headers were in */
};

struct http_reply {
    int status;
    char *body; /* malloc'ed JSON text or NULL; handed to MHD, which frees it */
    size_t len;
    const char *ctype; /* NULL: application/json */
    char allow[64];
    char *hname[HTTP_MAX_HEADERS], *hvalue[HTTP_MAX_HEADERS];
    size_t nheaders;
    http_stream *stream; /* a streamed body instead of body (a reference of its own) */
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

http_reply *http_reply_stream(http_stream *st, const char *content_type)
{
    http_reply *r = reply_new(200);
    r->ctype = content_type;
    r->stream = st;
    http_stream_ref(st);
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
    http_stream_release(r->stream);
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

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    sbuf *b = cls;
    sbuf_printf(b, "%s%s%s%s", b->len ? "&" : "", key, value ? "=" : "", value ? value : "");
    return MHD_YES;
}

/* MHD has split the query into arguments, left undecoded (unescape_none): join them again. */
const char *http_req_query_string(const http_req *req)
{
    http_req *owner = (http_req *)req; /* a cache only: the request itself is unchanged */
    if (!owner->query) {
        sbuf b;
        sbuf_init(&b);
        MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, add_arg, &b);
        owner->query = b.len ? sbuf_take(&b, NULL) : xstrdup("");
        sbuf_deinit(&b);
    }
    return owner->query ? owner->query : "";
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

http_reply *http_req_object_or_reply(http_req *req, const json_t **out)
{
    http_reply *err = NULL;
    if (!req->object && !(req->object = http_req_json_object(req, &err)))
        return err;
    *out = req->object;
    return NULL;
}

http_reply *http_field_str_or_reply(const json_t *obj, const char *key, const char **out)
{
    int rc = jsonx_get_str(obj, key, out);
    if (rc == 0)
        return NULL;
    return rc == -1 ? http_reply_error(400, "%s is missing", key) : http_reply_error(400, "%s must be a string", key);
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

/* 1 when the route of pattern needs the admin token and req lacks it. */
static int unauthorized(const http_server *srv, const char *pattern, const http_req *req)
{
    if (!srv->token)
        return 0;
    for (const char *const *p = srv->protected; p && *p; p++)
        if (strncmp(pattern, *p, strlen(*p)) == 0)
            return !http_auth_bearer_ok(http_req_header(req, MHD_HTTP_HEADER_AUTHORIZATION), srv->token);
    return 0;
}

static http_reply *reply_unauthorized(void)
{
    http_reply *r = http_reply_error(401, "this route needs the admin token: Authorization: Bearer <ADMIN_TOKEN>");
    http_reply_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    return r;
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
    /* A literal route owns its path: with GET /a/count and POST /a/<star>, POST /a/count is
     * a 405 (Allow: GET), not the POST of an item named "count". */
    const char *literal = NULL;
    for (size_t i = 0; i < srv->nroutes && !literal; i++)
        if (strcmp(srv->routes[i].pattern, req->path) == 0)
            literal = srv->routes[i].pattern;
    for (size_t i = 0; i < srv->nroutes; i++) {
        const struct http_route *rt = &srv->routes[i];
        if (literal ? strcmp(rt->pattern, literal) != 0 : route_match(rt->pattern, req->path, req, 0) != 1)
            continue;
        if (strcmp(rt->method, req->method) == 0) {
            req->route = (int)i;
            if (unauthorized(srv, rt->pattern, req))
                return reply_unauthorized();
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

/* A streamed body is sent from the stream as it is written (http_stream.h). */
static struct MHD_Response *reply_body(http_server *srv, struct MHD_Connection *conn, http_reply *r)
{
    if (r->stream)
        return http_stream_response(r->stream, srv->streams, conn);
    struct MHD_Response *resp = MHD_create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);
    if (resp)
        r->body = NULL; /* now MHD's */
    return resp;
}

static enum MHD_Result send_reply(http_server *srv, struct MHD_Connection *conn, http_reply *r)
{
    struct MHD_Response *resp = reply_body(srv, conn, r);
    if (!resp) {
        http_reply_free(r);
        return MHD_NO;
    }
    if (r->len || r->stream)
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
    req->start = clock_mono_s();
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
    json_decref(req->object);
    free(req->query);
    free(req->body);
    http_reply_free(req->reply);
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
 * request through every service and queue it reaches, and into their log lines. */
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

/* Routes one complete request to its handler; runs on a handler thread. */
static http_reply *handle(http_server *srv, http_req *req)
{
    char id[40];
    request_id(req->conn, id, sizeof id);
    log_set_request_id(id);
    if (srv->observer)
        srv->observer(req, srv->ud);
    http_reply *r = req->too_large ? http_reply_error(413, "the request body is larger than %d bytes", HTTP_MAX_BODY)
                                   : dispatch(srv, req);
    http_reply_header(r, "X-Request-Id", id);
    http_metrics_observe(srv->metrics, req->route, r->status, clock_mono_s() - req->start);
    log_set_request_id(NULL);
    return r;
}

/* A workpool job: the reply is left on the request, and resuming the connection makes
 * MHD call on_request again, on its own loop, which sends it. */
static void handle_job(void *job, void *ud)
{
    http_req *req = job;
    req->reply = handle(ud, req);
    MHD_resume_connection(req->conn);
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
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, srv->lim.idle_timeout_s);
        return MHD_YES;
    }
    if (*upload_data_size) {
        req_append(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->reply) {
        http_reply *r = req->reply;
        req->reply = NULL;
        return send_reply(srv, conn, r);
    }
    /* Suspend before submitting: the handler thread may resume at once. */
    MHD_suspend_connection(conn);
    if (workpool_submit(srv->pool, req) < 0) /* the server is stopping: answer here */
        handle_job(req, srv);
    return MHD_YES;
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
    srv->streams = http_stream_set_new();
    http_limits_from_env(&srv->lim);
    return srv;
}

void http_limits_from_env(struct http_limits *lim)
{
    lim->threads = (unsigned)config_long("HTTP_THREADS", 32, 1, 1024);
    lim->max_connections = (unsigned)config_long("HTTP_MAX_CONNECTIONS", 4000, 16, 1000000);
    lim->per_client = (unsigned)config_long("HTTP_PER_CLIENT_LIMIT", 256, 0, 1000000);
    lim->header_timeout_s = (unsigned)config_long("HTTP_HEADER_TIMEOUT_S", 5, 1, 3600);
    lim->idle_timeout_s = (unsigned)config_long("HTTP_IDLE_TIMEOUT_S", 30, 1, 3600);
}

void http_server_set_limits(http_server *srv, const struct http_limits *lim)
{
    srv->lim = *lim;
}

void http_server_require_token(http_server *srv, const char *token, const char *const *prefixes)
{
    free(srv->token);
    srv->token = token && *token ? xstrdup(token) : NULL;
    srv->protected = prefixes;
    if (!srv->token)
        log_warn("http: ADMIN_TOKEN is unset: the admin routes (%s...) are open to anyone who reaches this port; "
                 "publish it on loopback only (the compose default) or set ADMIN_TOKEN",
                 prefixes && prefixes[0] ? prefixes[0] : "none");
}

void http_server_set_metrics(http_server *srv, void (*fn)(sbuf *out, void *ud))
{
    srv->metrics_extra = fn;
}

void http_server_set_observer(http_server *srv, http_observer fn) { srv->observer = fn; }
void http_server_set_health(http_server *srv, int (*fn)(void *ud)) { srv->health = fn; }
int http_server_port(const http_server *srv) { return srv->port; }

/* A new connection gets the short header timeout; on_request lengthens it once the first
 * request's headers are in, so a client that trickles its headers is cut off soon. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    http_server *srv = cls;
    (void)socket_context;
    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, srv->lim.header_timeout_s);
}

/* fd: a listening socket to serve on, or -1 to bind port. */
static int start_daemon(http_server *srv, int port, int fd)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (!(srv->pool = workpool_new(srv->lim.threads, handle_job, srv)))
        return -1;
    srv->daemon = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, srv,
                                   MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                                   MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                   MHD_OPTION_NOTIFY_CONNECTION, on_connection, srv,
                                   MHD_OPTION_UNESCAPE_CALLBACK, unescape_none, NULL,
                                   MHD_OPTION_THREAD_POOL_SIZE, HTTP_IO_THREADS,
                                   MHD_OPTION_CONNECTION_LIMIT, srv->lim.max_connections,
                                   MHD_OPTION_PER_IP_CONNECTION_LIMIT, fd < 0 ? srv->lim.per_client : 0u,
                                   MHD_OPTION_CONNECTION_TIMEOUT, srv->lim.idle_timeout_s,
                                   MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
                                   fd < 0 ? MHD_OPTION_END : MHD_OPTION_LISTEN_SOCKET, fd,
                                   MHD_OPTION_END);
    if (!srv->daemon) {
        workpool_free(srv->pool);
        srv->pool = NULL;
        return -1;
    }
    return 0;
}

int http_server_start(http_server *srv, int port)
{
    if (start_daemon(srv, port, -1) < 0) {
        log_error("http: cannot listen on port %d", port);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = info ? info->port : port;
    log_info("http: listening on port %d (%u threads, at most %u connections, %u per client, timeouts %u/%u s)",
             srv->port, srv->lim.threads, srv->lim.max_connections, srv->lim.per_client,
             srv->lim.header_timeout_s, srv->lim.idle_timeout_s);
    return 0;
}

int http_server_start_unix(http_server *srv, const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        log_error("http: socket path %s is too long", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    unlink(path); /* a socket left by an earlier run */
    mode_t old = umask(0117);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc < 0 || listen(fd, 128) < 0)
        goto fail;
    if (start_daemon(srv, 0, fd) < 0)
        goto fail; /* MHD closes fd only once started */
    log_info("http: listening on %s", path);
    return 0;
fail:
    log_error("http: cannot listen on %s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

void http_server_free(http_server *srv)
{
    if (!srv)
        return;
    /* Handlers first: every suspended request is answered and resumed (later ones are
     * answered on the loops), since MHD must not stop with a connection suspended. */
    workpool_free(srv->pool);
    /* and every stream ended: a suspended stream's connection must be resumed too */
    http_stream_set_free(srv->streams, 2000);
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon);
    http_metrics_free(srv->metrics);
    free(srv->token);
    free(srv);
}
