/* http_server.h - a small routed HTTP/1.1 JSON server on libmicrohttpd. */
#ifndef RS_HTTP_SERVER_H
#define RS_HTTP_SERVER_H

#include <jansson.h>
#include <stddef.h>

#include "sbuf.h"

#define HTTP_MAX_BODY (64 * 1024)
#define HTTP_MAX_PARAMS 4
#define HTTP_MAX_HEADERS 4

typedef struct http_server http_server;
typedef struct http_req http_req;
typedef struct http_reply http_reply;

/* A handler returns the reply it built with one of the http_reply_* calls; never NULL. */
typedef http_reply *(*http_handler)(http_req *req, void *ud);

/* pattern: a literal path whose segments may be "*"; each "*" captures one
 * percent-decoded segment, read back with http_req_param(). */
struct http_route {
    const char *method;
    const char *pattern;
    http_handler handler;
    void *ud; /* handed to the handler; NULL: the server's ud */
};

/* Called once per request before routing (for request counters); must be thread-safe. */
typedef void (*http_observer)(const http_req *req, void *ud);

/* routes must outlive the server. GET /healthz is answered by the server itself. */
http_server *http_server_new(const struct http_route *routes, size_t nroutes, void *ud);
void http_server_set_observer(http_server *srv, http_observer fn);
/* GET /healthz answers 200 only while fn(ud) is true (default: always). */
void http_server_set_health(http_server *srv, int (*fn)(void *ud));
/* GET /metrics (Prometheus text) lists request counts and latencies by route; fn, when
 * set, appends the service's own series (ud is the server's ud). */
void http_server_set_metrics(http_server *srv, void (*fn)(sbuf *out, void *ud));
/* Binds port (0 picks one) and starts serving; 0 ok, -1 error. */
int http_server_start(http_server *srv, int port);
/* The port actually bound, after start. */
int http_server_port(const http_server *srv);
/* Stops accepting, waits for handlers in flight, frees everything. */
void http_server_free(http_server *srv);

const char *http_req_method(const http_req *req);
/* The raw path, without the query string. */
const char *http_req_path(const http_req *req);
/* The i-th "*" segment of the route, percent-decoded; NULL past the last. */
const char *http_req_param(const http_req *req, size_t i);
/* A query argument, percent-decoded; NULL when absent. */
const char *http_req_query(const http_req *req, const char *key);
const char *http_req_header(const http_req *req, const char *name);
/* The request body and its length (possibly 0). */
const char *http_req_body(const http_req *req, size_t *len);
/* The body as a JSON object. On failure returns NULL and sets *err to a 400 reply. */
json_t *http_req_json_object(const http_req *req, http_reply **err);

/* Replies. Bodies are stolen. */
http_reply *http_reply_json(int status, json_t *body);
http_reply *http_reply_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A reply with a non-JSON body; text (malloc'ed) is stolen. */
http_reply *http_reply_text(int status, const char *content_type, char *text, size_t len);
/* A reply without a body (204, or a status whose body is irrelevant). */
http_reply *http_reply_empty(int status);
/* A reply with a raw JSON text already encoded; the text is copied. */
http_reply *http_reply_raw(int status, const char *json_text, size_t len);
/* Adds a response header (at most HTTP_MAX_HEADERS; more are dropped). */
void http_reply_header(http_reply *r, const char *name, const char *value);
int http_reply_status(const http_reply *r);
void http_reply_free(http_reply *r);

/* True when path is prefix itself or lies below it ("/a" and "/a/b", not "/ab"). */
int http_path_under(const char *path, const char *prefix);

/* Decodes %XX (and '+' as space when plus_is_space) into a fresh string; NULL when a
 * %-escape is malformed or decodes to a NUL byte. */
char *http_percent_decode(const char *s, size_t len, int plus_is_space);

#endif
