/* http_auth.c - bearer token checks for the admin routes. A plain strcmp stops at the
 * first differing byte, and the time it takes tells an attacker how much of a guess was
 * right; these compare every byte. */
#include "http_auth.h"

#include <string.h>
#include <strings.h>

int http_auth_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    /* Walk the full length of b whatever a is, so a short guess costs as long as a long one. */
    volatile unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < blen; i++) {
        unsigned char x = i < alen ? (unsigned char)a[i] : 0;
        diff |= (unsigned char)(x ^ (unsigned char)b[i]);
    }
    return diff == 0;
}

int http_auth_bearer_ok(const char *header, const char *token)
{
    static const char scheme[] = "Bearer ";
    if (!header || !token || strncasecmp(header, scheme, sizeof scheme - 1) != 0)
        return 0;
    const char *given = header + sizeof scheme - 1;
    while (*given == ' ')
        given++;
    size_t n = strlen(given);
    while (n > 0 && given[n - 1] == ' ')
        n--;
    return http_auth_equal(given, n, token, strlen(token));
}
