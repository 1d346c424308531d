/* spawner_docker.c - workers as containers, found again by their labels. */
#include "spawner_impl.h"

#include "docker.h"
#include "log.h"
#include "xalloc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_ROLE SPAWNER_LABEL_ROLE
#define LABEL_FLEET SPAWNER_LABEL_FLEET
#define LABEL_ID SPAWNER_LABEL_ID
#define LABEL_START_ROLE SPAWNER_LABEL_START_ROLE

struct dspawner {
    struct spawner_engine e;
};

static struct dspawner *impl(struct spawner *sp)
{
    return sp->impl;
}

static int d_inspect(struct spawner *sp, const char *id, struct spawner_worker *out)
{
    struct dspawner *ds = impl(sp);
    char *name = spawner_engine_name(&ds->e, id);
    struct docker_state st;
    int rc = docker_inspect(ds->e.d, name, &st);
    free(name);
    if (rc < 0)
        return spawner_engine_err(rc);
    snprintf(out->id, sizeof out->id, "%s", id);
    out->pid = st.running ? st.pid : 0;
    out->running = st.running;
    out->exit_code = st.exit_code;
    return SPAWNER_OK;
}

static int d_start(struct spawner *sp, const char *id, const char *role, const char *const *extra_env,
                   struct spawner_worker *out)
{
    struct dspawner *ds = impl(sp);
    char *name = spawner_engine_name(&ds->e, id);
    char *db_path = xasprintf("%s/%s.db", ds->e.data_dir, id);
    char **env = spawner_env(id, role, db_path, extra_env);
    char *l_id = xasprintf(LABEL_ID "=%s", id);
    char *l_role = xasprintf(LABEL_START_ROLE "=%s", role);
    const char *labels[] = {LABEL_ROLE "=worker", ds->e.fleet_label, l_id, l_role, NULL};
    char *bind = ds->e.volume ? xasprintf("%s:%s", ds->e.volume, ds->e.data_dir) : NULL;
    const char *binds[] = {bind, NULL};
    const char *volumes[] = {ds->e.data_dir, NULL};
    char *cid = NULL;
    struct docker_spec spec = {
        .image = ds->e.image,
        .name = name,
        .cmd = (const char *const *)ds->e.cmd,
        .env = (const char *const *)env,
        .labels = labels,
        .network = ds->e.network,
        .binds = bind ? binds : NULL,
        .volumes = bind ? NULL : volumes,
        .memory_bytes = ds->e.memory_mb * 1024 * 1024,
        .pids_limit = ds->e.pids_limit,
    };
    int rc = docker_create(ds->e.d, &spec, &cid);
    if (rc < 0)
        goto fail;
    rc = docker_start(ds->e.d, cid);
    if (rc < 0)
        goto fail_remove;
    snprintf(out->role, sizeof out->role, "%s", role);
    snprintf(out->handle, sizeof out->handle, "%s", cid);
    rc = d_inspect(sp, id, out);
    if (rc < 0)
        goto fail_remove;
    if (!out->running)  /* died at once (bad command?): report it, leave it for inspection */
        log_warn("spawner: container %s exited at once with %d", name, out->exit_code);
    rc = SPAWNER_OK;
    goto done;
fail_remove:
    /* A container we could not start is of no use, and must not be left as an orphan. */
    docker_remove(ds->e.d, cid);
fail:
    log_error("spawner: could not start a %s container from %s", role, ds->e.image);
    rc = spawner_engine_err(rc) == SPAWNER_OK ? SPAWNER_ERR : spawner_engine_err(rc);
done:
    free(cid);
    free(bind);
    free(l_role);
    free(l_id);
    spawner_env_free(env);
    free(db_path);
    free(name);
    return rc;
}

static int d_kill(struct spawner *sp, const char *id, int sig)
{
    struct dspawner *ds = impl(sp);
    char *name = spawner_engine_name(&ds->e, id);
    int rc = docker_kill(ds->e.d, name, sig);
    free(name);
    /* The engine answers 409 to a kill of a stopped container. */
    return rc == DOCKER_ECONFLICT ? SPAWNER_ENOTRUNNING : spawner_engine_err(rc);
}

static int d_remove(struct spawner *sp, const char *id)
{
    struct dspawner *ds = impl(sp);
    char *name = spawner_engine_name(&ds->e, id);
    int rc = docker_remove(ds->e.d, name);
    free(name);
    return spawner_engine_err(rc);
}

static int d_list(struct spawner *sp, struct spawner_worker **out, size_t *n)
{
    return spawner_engine_list(sp, &impl(sp)->e, docker_list, out, n);
}

static void d_free(struct spawner *sp)
{
    struct dspawner *ds = impl(sp);
    spawner_engine_free(&ds->e);
    free(ds);
}

static const struct spawner_ops docker_ops = {
    .name = "docker",
    .start = d_start,
    .inspect = d_inspect,
    .kill = d_kill,
    .remove = d_remove,
    .list = d_list,
    .free = d_free,
};

int spawner_docker_init(struct spawner *sp, const struct spawner_cfg *cfg)
{
    struct dspawner *ds = xcalloc(1, sizeof *ds);
    sp->ops = &docker_ops;
    sp->impl = ds;
    if (spawner_engine_init(&ds->e, cfg) == SPAWNER_OK)
        return SPAWNER_OK;
    d_free(sp);
    sp->impl = NULL;
    return SPAWNER_ERR;
}
