/* spawner_impl.h - what spawner.c shares with its backends; not for other callers. */
#ifndef RS_SPAWNER_IMPL_H
#define RS_SPAWNER_IMPL_H

#include <jansson.h>

#include "docker.h"
#include "spawner.h"

struct spawner_ops {
    const char *name;
    int (*start)(struct spawner *sp, const char *id, const char *role, const char *const *extra_env,
                 struct spawner_worker *out);
    int (*inspect)(struct spawner *sp, const char *id, struct spawner_worker *out);
    int (*kill)(struct spawner *sp, const char *id, int sig);
    int (*remove)(struct spawner *sp, const char *id);
    int (*list)(struct spawner *sp, struct spawner_worker **out, size_t *n);
    void (*free)(struct spawner *sp);
};

struct spawner {
    const struct spawner_ops *ops;
    void *impl;  /* the backend's state */
};

/* The labels of a worker started through the Engine (docker, swarm): its container's or
 * its service's. LABEL_ROLE=worker is what `make down` removes. */
#define SPAWNER_LABEL_ROLE "rideshare.role"
#define SPAWNER_LABEL_FLEET "rideshare.fleet"
#define SPAWNER_LABEL_ID "rideshare.worker-id"
#define SPAWNER_LABEL_START_ROLE "rideshare.worker-role"


/* What both Engine backends (docker, swarm) hold: the Engine client and the settings that
 * every worker they start shares. */
struct spawner_engine {
    struct docker *d;
    char *fleet, *image, *network, *volume, *data_dir;
    char **cmd;                 /* NULL: the image's own */
    char *fleet_label;          /* SPAWNER_LABEL_FLEET=<fleet> */
    long memory_mb, pids_limit; /* 0: no limit */
};
/* Fills e from cfg (with the defaults of README "Configuration") and reaches the Engine:
 * SPAWNER_OK, or SPAWNER_ERR (logged). Either way spawner_engine_free(e) frees its fields. */
int spawner_engine_init(struct spawner_engine *e, const struct spawner_cfg *cfg);
void spawner_engine_free(struct spawner_engine *e);
/* A worker's container or service name, "<fleet>-worker-<id>" (fresh): workers are
 * addressed by name, so a worker id is all the orchestrator has to keep. */
char *spawner_engine_name(const struct spawner_engine *e, const char *id);
/* A DOCKER_* code as a SPAWNER_* one. */
int spawner_engine_err(int docker_rc);
/* An Engine backend's list: the fleet's workers that list (docker_list: containers;
 * docker_service_list: services) finds, each adopted through sp's inspect with the
 * container's or service's id as its handle. One that is not a worker we can address, or
 * that went in between, is left out. */
int spawner_engine_list(struct spawner *sp, const struct spawner_engine *e, docker_lister *list,
                        struct spawner_worker **out, size_t *n);

/* Backend constructors: fill sp->ops and sp->impl; negative on error. */
int spawner_docker_init(struct spawner *sp, const struct spawner_cfg *cfg);
int spawner_process_init(struct spawner *sp, const struct spawner_cfg *cfg);
int spawner_swarm_init(struct spawner *sp, const struct spawner_cfg *cfg);

/* The worker's environment: extra_env first (it wins), then WORKER_ID, WORKER_ROLE,
 * DB_PATH, then the pass-through variables that are set in ours and not given yet.
 * A NULL-terminated array of fresh strings; free with spawner_env_free. */
char **spawner_env(const char *id, const char *role, const char *db_path, const char *const *extra_env);
void spawner_env_free(char **env);

#endif
