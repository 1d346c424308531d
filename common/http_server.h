/* http_server.h - a small routed HTTP/1.1 JSON server on libmicrohttpd. */
#ifndef RS_HTTP_SERVER_H
#define RS_HTTP_SERVER_H

#include <jansson.h>
#include <stddef.h>

#include "http_stream.h"
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

/* The bounds on concurrency (docs/DESIGN.md "Edges"); http_limits_from_env reads them from
 * HTTP_THREADS, HTTP_MAX_CONNECTIONS, HTTP_PER_CLIENT_LIMIT, HTTP_HEADER_TIMEOUT_S and
 * HTTP_IDLE_TIMEOUT_S, with the defaults of the README. */
struct http_limits {
    unsigned threads;         /* handler threads (requests served at once; the rest queue) */
    unsigned max_connections; /* open connections, all clients together */
    unsigned per_client;      /* open connections from one IP address (0: no cap) */
    unsigned header_timeout_s; /* inactivity allowed before a new connection's first request is in */
    unsigned idle_timeout_s;  /* inactivity allowed afterwards (keep-alive) */
};
void http_limits_from_env(struct http_limits *lim);

/* routes must outlive the server. GET /healthz is answered by the server itself. The
 * limits start as http_limits_from_env() gives them. */
http_server *http_server_new(const struct http_route *routes, size_t nroutes, void *ud);
void http_server_set_limits(http_server *srv, const struct http_limits *lim);
/* Routes whose pattern lies under one of prefixes (NULL-terminated, kept by reference)
 * answer 401 unless the request carries "Authorization: Bearer <token>". An empty or NULL
 * token leaves them open and logs one warning. The token is copied. */
void http_server_require_token(http_server *srv, const char *token, const char *const *prefixes);
void http_server_set_observer(http_server *srv, http_observer fn);
/* GET /healthz answers 200 only while fn(ud) is true (default: always). */
void http_server_set_health(http_server *srv, int (*fn)(void *ud));
/* GET /metrics (Prometheus text) lists request counts and latencies by route; fn, when
 * set, appends the service's own series (ud is the server's ud). */
void http_server_set_metrics(http_server *srv, void (*fn)(sbuf *out, void *ud));
/* Binds port (0 picks one) and starts serving; 0 ok, -1 error. */
int http_server_start(http_server *srv, int port);
/* Serves on a unix socket at path instead (replacing a stale one), mode 0660. */
int http_server_start_unix(http_server *srv, const char *path);
/* The port actually bound, after start. */
int http_server_port(const http_server *srv);
/* Stops accepting, waits for handlers in flight, frees everything. */
void http_server_free(http_server *srv);

const char *http_req_method(const http_req *req);
/* The raw path, without the query string. */
const char *http_req_path(const http_req *req);
/* The i-th "*" segment of the route, percent-decoded; NULL past the last. */
const char *http_req_param(const http_req *req, size_t i);
/* The query string as received (still percent-encoded), "" when none; owned by req. */
const char *http_req_query_string(const http_req *req);
/* A query argument, percent-decoded; NULL when absent. */
const char *http_req_query(const http_req *req, const char *key);
const char *http_req_header(const http_req *req, const char *name);
/* The request body and its length (possibly 0). */
const char *http_req_body(const http_req *req, size_t *len);
/* The body as a JSON object, a new reference the caller owns. On failure returns NULL
 * and sets *err to a 400 reply. */
json_t *http_req_json_object(const http_req *req, http_reply **err);

/* "...OrReply" helpers for handlers written as a straight line of early returns: each
 * returns NULL when it filled *out, else the 400 reply to return as it is. */
/* The body as a JSON object, parsed once and owned by req (like the query values). */
http_reply *http_req_object_or_reply(http_req *req, const json_t **out);
/* obj[key] as a string, pointing into obj: "<key> is missing" / "<key> must be a string". */
http_reply *http_field_str_or_reply(const json_t *obj, const char *key, const char **out);

/* Replies. Bodies are stolen. */
http_reply *http_reply_json(int status, json_t *body);
http_reply *http_reply_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A reply with a non-JSON body; text (malloc'ed) is stolen. */
http_reply *http_reply_text(int status, const char *content_type, char *text, size_t len);
/* A reply without a body (204, or a status whose body is irrelevant). */
http_reply *http_reply_empty(int status);
/* A reply with a raw JSON text already encoded; the text is copied. */
http_reply *http_reply_raw(int status, const char *json_text, size_t len);
/* A 200 whose body is st, sent as it is written (Server-Sent Events); the reply takes a
 * reference of its own, and no handler thread is held while it is sent. */
http_reply *http_reply_stream(http_stream *st, const char *content_type);
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
