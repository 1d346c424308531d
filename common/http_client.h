/* http_client.h - a keep-alive HTTP client on libcurl, safe to share between threads. */
#ifndef RS_HTTP_CLIENT_H
#define RS_HTTP_CLIENT_H

#include <jansson.h>
#include <stddef.h>

typedef struct http_client http_client;

/* timeout_ms bounds each whole request. */
http_client *http_client_new(long timeout_ms);
void http_client_free(http_client *c);

/* Sends one request (body may be NULL). On 0, *status holds the HTTP status and *resp a
 * NUL-terminated body the caller frees (resp may be NULL to discard it). -1: transport error. */
int http_client_request(http_client *c, const char *method, const char *url, const char *body,
                        size_t body_len, long *status, char **resp, size_t *resp_len);
/* The same with JSON in and out: body may be NULL; *out is NULL when the answer has no
 * body or is not JSON; the caller owns *out. */
int http_client_json(http_client *c, const char *method, const char *url, const json_t *body,
                     long *status, json_t **out);

#endif
