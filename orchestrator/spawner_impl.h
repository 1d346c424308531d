/* spawner_impl.h - what spawner.c shares with its backends; not for other callers. */
#ifndef RS_SPAWNER_IMPL_H
#define RS_SPAWNER_IMPL_H

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

/* Backend constructors: fill sp->ops and sp->impl; negative on error. */
int spawner_docker_init(struct spawner *sp, const struct spawner_cfg *cfg);
int spawner_process_init(struct spawner *sp, const struct spawner_cfg *cfg);

/* The worker's environment: extra_env first (it wins), then WORKER_ID, WORKER_ROLE,
 * DB_PATH, then the pass-through variables that are set in ours and not given yet.
 * A NULL-terminated array of fresh strings; free with spawner_env_free. */
char **spawner_env(const char *id, const char *role, const char *db_path, const char *const *extra_env);
void spawner_env_free(char **env);

#endif
