/* service.h - what the public services (users, rides) share: one HTTP server and one db
 * client each, the _count counter of the requests under the service's own path with its
 * two routes (docs/API.md "_count"; kept here, or in ZooKeeper for every replica when
 * COUNT_ZK_HOSTS is set: reqcount.h), POST /api/v1/db/clear, and the reply for a failed db
 * call. A service brings only its own routes. */
#ifndef RS_FLEET_SERVICE_H
#define RS_FLEET_SERVICE_H

#include <stddef.h>

#include "db_client.h"
#include "http_server.h"

typedef struct service service;

struct service_cfg {
    const char *name;                 /* "users", "rides": in log lines and the shared count's znode */
    const struct http_route *routes;  /* the service's own (copied); ud NULL: ud below */
    size_t nroutes;
    int (*counted)(const char *path); /* 1 when a request on path counts in _count */
    const char *orch_url;             /* ORCH_URL */
    long db_timeout_ms;               /* DB_TIMEOUT_MS */
    const char *admin_token;          /* ADMIN_TOKEN: guards db/clear, sent on every db call */
    void *ud;                         /* the ud of the service's own handlers; NULL: the service */
};

/* NULL on failure (logged). */
service *service_new(const struct service_cfg *cfg);
/* Stops the HTTP server, waiting for handlers in flight, then frees the db client. NULL
 * is fine. */
void service_free(service *s);
/* Starts serving on port (0 picks one); 0 ok, -1 error. */
int service_start(service *s, int port);
int service_port(const service *s);
/* The service's db client (the service's, borrowed). */
db_client *service_db(const service *s);

/* The reply for a failed db call: 503 when the database is unavailable, else 500. */
http_reply *service_db_failure(int rc);

#endif
