/* http_auth.h - the admin token check: "Authorization: Bearer <token>", compared in
 * constant time. */
#ifndef RS_HTTP_AUTH_H
#define RS_HTTP_AUTH_H

#include <stddef.h>

/* 1 when header (an Authorization value, may be NULL) is "Bearer <token>" with exactly
 * token; 0 otherwise. The time taken depends on the lengths only, never on where the
 * bytes first differ. */
int http_auth_bearer_ok(const char *header, const char *token);

/* 1 when a and b (of lengths alen, blen) are equal, in time that depends on the lengths
 * only. */
int http_auth_equal(const char *a, size_t alen, const char *b, size_t blen);

#endif
