/* forward.h - passes one allowed request on to the Docker Engine's unix socket. */
#ifndef RS_DOCKERPROXY_FORWARD_H
#define RS_DOCKERPROXY_FORWARD_H

#include <stddef.h>

struct dproxy_answer {
    long status;
    char *body; /* malloc'ed, NUL-terminated; the caller frees it */
    size_t len;
    char ctype[96]; /* the engine's Content-Type, "" when none */
};

/* Sends method target (path and query) with body to the engine at sock. 0 with *ans
 * filled, -1 when the engine cannot be reached (logged). */
int dproxy_forward(const char *sock, const char *method, const char *target, const char *body, size_t len,
                   struct dproxy_answer *ans);

#endif
