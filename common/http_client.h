/* http_client.h - a keep-alive HTTP client on libcurl, safe to share between threads. */
#ifndef RS_HTTP_CLIENT_H
#define RS_HTTP_CLIENT_H

#include <jansson.h>
#include <stddef.h>

typedef struct http_client http_client;

/* libcurl's global initialization, done once per process by whoever asks first:
 * http_client_new, docker_new, and any program that uses libcurl directly. Thread-safe. */
void http_client_global_init(void);

/* timeout_ms bounds each whole request. */
http_client *http_client_new(long timeout_ms);
void http_client_free(http_client *c);
/* Sends "Authorization: Bearer <token>" on every request from now on (the admin token of
 * the service called); NULL or "" sends none. Call before the client is shared. */
void http_client_set_bearer(http_client *c, const char *token);

/* Sends one request (body may be NULL). On 0, *status holds the HTTP status and *resp a
 * NUL-terminated body the caller frees (resp may be NULL to discard it). -1: transport error. */
int http_client_request(http_client *c, const char *method, const char *url, const char *body,
                        size_t body_len, long *status, char **resp, size_t *resp_len);
/* The same with JSON in and out: body may be NULL; *out is NULL when the answer has no
 * body or is not JSON; the caller owns *out. */
int http_client_json(http_client *c, const char *method, const char *url, const json_t *body,
                     long *status, json_t **out);

/* http_client_json with extra request headers: a NULL-terminated list of "Name: value". */
int http_client_json_with(http_client *c, const char *method, const char *url, const char *const *headers,
                          const json_t *body, long *status, json_t **out);

#endif
