/* spawner_docker.c - workers as containers, found again by their labels. */
#include "spawner_impl.h"

#include "docker.h"
#include "log.h"
#include "xalloc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_ROLE "rideshare.role"          /* = worker: what `make down` removes */
#define LABEL_FLEET "rideshare.fleet"
#define LABEL_ID "rideshare.worker-id"
#define LABEL_START_ROLE "rideshare.worker-role"

struct dspawner {
    struct docker *d;
    char *fleet;
    char *image;
    char *network;
    char *volume;
    char *data_dir;
    char **cmd;  /* NULL: the image's own */
    char *fleet_label;
};

static struct dspawner *impl(struct spawner *sp)
{
    return sp->impl;
}

/* Containers are addressed by name, so a worker id is all the orchestrator has to keep. */
static char *container_name(struct dspawner *ds, const char *id)
{
    return xasprintf("%s-worker-%s", ds->fleet, id);
}

static int map_err(int rc)
{
    return rc == DOCKER_OK ? SPAWNER_OK : rc == DOCKER_ENOTFOUND ? SPAWNER_ENOTFOUND : SPAWNER_ERR;
}

static int d_inspect(struct spawner *sp, const char *id, struct spawner_worker *out)
{
    struct dspawner *ds = impl(sp);
    char *name = container_name(ds, id);
    struct docker_state st;
    int rc = docker_inspect(ds->d, name, &st);
    free(name);
    if (rc < 0)
        return map_err(rc);
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
    char *name = container_name(ds, id);
    char *db_path = xasprintf("%s/%s.db", ds->data_dir, id);
    char **env = spawner_env(id, role, db_path, extra_env);
    char *l_id = xasprintf(LABEL_ID "=%s", id);
    char *l_role = xasprintf(LABEL_START_ROLE "=%s", role);
    const char *labels[] = {LABEL_ROLE "=worker", ds->fleet_label, l_id, l_role, NULL};
    char *bind = ds->volume ? xasprintf("%s:%s", ds->volume, ds->data_dir) : NULL;
    const char *binds[] = {bind, NULL};
    const char *volumes[] = {ds->data_dir, NULL};
    char *cid = NULL;
    struct docker_spec spec = {
        .image = ds->image,
        .name = name,
        .cmd = (const char *const *)ds->cmd,
        .env = (const char *const *)env,
        .labels = labels,
        .network = ds->network,
        .binds = bind ? binds : NULL,
        .volumes = bind ? NULL : volumes,
    };
    int rc = docker_create(ds->d, &spec, &cid);
    if (rc < 0)
        goto fail;
    rc = docker_start(ds->d, cid);
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
    docker_remove(ds->d, cid);
fail:
    log_error("spawner: could not start a %s container from %s", role, ds->image);
    rc = map_err(rc) == SPAWNER_OK ? SPAWNER_ERR : map_err(rc);
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
    char *name = container_name(ds, id);
    int rc = docker_kill(ds->d, name, sig);
    free(name);
    /* The engine answers 409 to a kill of a stopped container. */
    return rc == DOCKER_ECONFLICT ? SPAWNER_ENOTRUNNING : map_err(rc);
}

static int d_remove(struct spawner *sp, const char *id)
{
    struct dspawner *ds = impl(sp);
    char *name = container_name(ds, id);
    int rc = docker_remove(ds->d, name);
    free(name);
    return map_err(rc);
}

static int d_list(struct spawner *sp, struct spawner_worker **out, size_t *n)
{
    struct dspawner *ds = impl(sp);
    const char *labels[] = {LABEL_ROLE "=worker", ds->fleet_label, NULL};
    struct docker_container *list = NULL;
    size_t count = 0;
    int rc = docker_list(ds->d, labels, &list, &count);
    if (rc < 0)
        return map_err(rc);
    struct spawner_worker *ws = count ? xcalloc(count, sizeof *ws) : NULL;
    size_t m = 0;
    for (size_t i = 0; i < count; i++) {
        const char *id = json_string_value(json_object_get(list[i].labels, LABEL_ID));
        const char *role = json_string_value(json_object_get(list[i].labels, LABEL_START_ROLE));
        if (!id)
            continue;  /* labelled as ours but not by us: not a worker we can address */
        struct spawner_worker *w = &ws[m];
        /* The list has no pids; a container removed in between is simply skipped. */
        if (d_inspect(sp, id, w) < 0)
            continue;
        snprintf(w->role, sizeof w->role, "%s", role ? role : "");
        snprintf(w->handle, sizeof w->handle, "%s", list[i].id);
        m++;
    }
    docker_list_free(list, count);
    if (m == 0) {
        free(ws);
        ws = NULL;
    }
    *out = ws;
    *n = m;
    return SPAWNER_OK;
}

static void d_free(struct spawner *sp)
{
    struct dspawner *ds = impl(sp);
    docker_free(ds->d);
    for (char **c = ds->cmd; c && *c; c++)
        free(*c);
    free(ds->cmd);
    free(ds->fleet_label);
    free(ds->data_dir);
    free(ds->volume);
    free(ds->network);
    free(ds->image);
    free(ds->fleet);
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

static char *dup_or_null(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

int spawner_docker_init(struct spawner *sp, const struct spawner_cfg *cfg)
{
    struct dspawner *ds = xcalloc(1, sizeof *ds);
    sp->ops = &docker_ops;
    sp->impl = ds;
    ds->fleet = xstrdup(cfg->fleet && *cfg->fleet ? cfg->fleet : "rideshare");
    ds->image = xstrdup(cfg->image && *cfg->image ? cfg->image : "rideshare-worker:latest");
    ds->network = dup_or_null(cfg->network);
    ds->volume = dup_or_null(cfg->volume);
    ds->data_dir = xstrdup(cfg->container_data_dir && *cfg->container_data_dir ? cfg->container_data_dir : "/data");
    ds->fleet_label = xasprintf(LABEL_FLEET "=%s", ds->fleet);
    if (cfg->cmd) {
        size_t n = 0;
        while (cfg->cmd[n])
            n++;
        ds->cmd = xcalloc(n + 1, sizeof *ds->cmd);
        for (size_t i = 0; i < n; i++)
            ds->cmd[i] = xstrdup(cfg->cmd[i]);
    }
    ds->d = docker_new(cfg->docker_sock);
    if (!ds->d || docker_ping(ds->d) < 0) {
        log_error("spawner: no Docker engine at %s", cfg->docker_sock ? cfg->docker_sock : "(default)");
        goto fail;
    }
    return SPAWNER_OK;
fail:
    d_free(sp);
    sp->impl = NULL;
    return SPAWNER_ERR;
}
