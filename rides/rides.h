/* rides.h - the rides service: routes, handlers and the _count counter (API.md "Rides"). */
#ifndef RS_RIDES_H
#define RS_RIDES_H

#include <jansson.h>

typedef struct rides_svc rides_svc;

struct rides_cfg {
    const char *orch_url;   /* ORCH_URL */
    const char *users_url;  /* USERS_URL: the user list, through the load balancer */
    long db_timeout_ms;     /* DB_TIMEOUT_MS */
    long users_timeout_ms;  /* USERS_TIMEOUT_MS */
    const char *admin_token; /* ADMIN_TOKEN: guards db/clear here, sent on every DB call */
};

/* NULL on failure (logged). */
rides_svc *rides_svc_new(const struct rides_cfg *cfg);
/* Starts serving on port (0 picks one); 0 ok, -1 error. */
int rides_svc_start(rides_svc *svc, int port);
int rides_svc_port(const rides_svc *svc);
void rides_svc_free(rides_svc *svc);

/* 1 when a request on path counts in _count: /api/v1/rides and /api/v1/rides/... */
int rides_counted_path(const char *path);

/* A rideId path segment: ASCII digits without a leading zero, 1..2^63-1.
 * 0 ok, -1 anything else. */
int rides_parse_id(const char *s, json_int_t *out);

#endif
