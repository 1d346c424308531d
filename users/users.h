/* users.h - the users service: its routes and handlers (API.md "Users") on a
 * fleet/service.h service, which adds _count and db/clear. */
#ifndef RS_USERS_H
#define RS_USERS_H

#include "fleet/service.h"

struct users_cfg {
    const char *orch_url;  /* ORCH_URL */
    long db_timeout_ms;    /* DB_TIMEOUT_MS */
    const char *admin_token; /* ADMIN_TOKEN: guards db/clear here, sent on every DB call */
};

/* Served and stopped with service_start and service_free. NULL on failure (logged). */
service *users_service_new(const struct users_cfg *cfg);

/* 1 when a request on path counts in _count: /api/v1/users and /api/v1/users/... */
int users_counted_path(const char *path);

#endif
