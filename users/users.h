/* users.h - the users service: routes, handlers and the _count counter (API.md "Users"). */
#ifndef RS_USERS_H
#define RS_USERS_H

typedef struct users_svc users_svc;

struct users_cfg {
    const char *orch_url;  /* ORCH_URL */
    long db_timeout_ms;    /* DB_TIMEOUT_MS */
};

/* NULL on failure (logged). */
users_svc *users_svc_new(const struct users_cfg *cfg);
/* Starts serving on port (0 picks one); 0 ok, -1 error. */
int users_svc_start(users_svc *svc, int port);
int users_svc_port(const users_svc *svc);
void users_svc_free(users_svc *svc);

/* 1 when a request on path counts in _count: /api/v1/users and /api/v1/users/... */
int users_counted_path(const char *path);

#endif
