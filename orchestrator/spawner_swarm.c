/* spawner_swarm.c - workers as Docker Swarm services, one task each, found again by their
 * labels (see spawner.h). Swarm places them (spread over a node label) and never restarts
 * them: a worker that stops is the supervisor's to replace, as with the other backends. */
#include "spawner_impl.h"

#include "clock.h"
#include "docker_service.h"
#include "log.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LABEL_ROLE SPAWNER_LABEL_ROLE
#define LABEL_FLEET SPAWNER_LABEL_FLEET
#define LABEL_ID SPAWNER_LABEL_ID
#define LABEL_START_ROLE SPAWNER_LABEL_START_ROLE
#define POLL_MS 100

struct sspawner {
    struct spawner_engine e;
    char *spread;
    long start_timeout_ms;
};

static struct sspawner *impl(struct spawner *sp)
{
    return sp->impl;
}

/* The worker's state from its service's task; a task not yet running counts as stopped
 * (an adopted one is then replaced, and start waits until it runs). */
static int s_inspect(struct spawner *sp, const char *id, struct spawner_worker *out)
{
    struct sspawner *ss = impl(sp);
    char *name = spawner_engine_name(&ss->e, id);
    struct docker_task t;
    int rc = docker_service_task(ss->e.d, name, &t);
    free(name);
    if (rc < 0)
        return spawner_engine_err(rc);
    snprintf(out->id, sizeof out->id, "%s", id);
    out->running = strcmp(t.state, "running") == 0 && t.pid > 0;
    out->pid = out->running ? t.pid : 0;
    out->exit_code = t.exit_code;
    return SPAWNER_OK;
}

/* Waits until the service's task runs (0), has ended or is not there (negative), or the
 * timeout passes (negative). *t holds the last state seen. */
static int wait_running(struct sspawner *ss, const char *name, struct docker_task *t)
{
    int64_t deadline = clock_mono_ms() + ss->start_timeout_ms;
    struct timespec pause = {0, POLL_MS * 1000000L};
    memset(t, 0, sizeof *t);
    for (;;) {
        int rc = docker_service_task(ss->e.d, name, t);
        if (rc == DOCKER_OK && strcmp(t->state, "running") == 0 && t->pid > 0)
            return SPAWNER_OK;
        if (rc == DOCKER_ERR || (rc == DOCKER_OK && docker_task_ended(t->state)))
            return SPAWNER_ERR;
        if (clock_mono_ms() >= deadline) {
            log_error("spawner: the task of %s is still \"%s\" after %ld ms", name, t->state, ss->start_timeout_ms);
            return SPAWNER_ERR;
        }
        nanosleep(&pause, NULL);
    }
}

/* Creates the worker's service; the labels go on the service and on its container. */
static int create_service(struct sspawner *ss, const char *name, const char *id, const char *role,
                          const char *const *extra_env, char **sid)
{
    char *db_path = xasprintf("%s/%s.db", ss->e.data_dir, id);
    char **env = spawner_env(id, role, db_path, extra_env);
    char *l_id = xasprintf(LABEL_ID "=%s", id);
    char *l_role = xasprintf(LABEL_START_ROLE "=%s", role);
    const char *labels[] = {LABEL_ROLE "=worker", ss->e.fleet_label, l_id, l_role, NULL};
    struct docker_service_spec spec = {
        .name = name,
        .image = ss->e.image,
        .cmd = (const char *const *)ss->e.cmd,
        .env = (const char *const *)env,
        .labels = labels,
        .network = ss->e.network,
        .volume = ss->e.volume,
        .volume_target = ss->e.data_dir,
        .memory_bytes = ss->e.memory_mb * 1024 * 1024,
        .pids_limit = ss->e.pids_limit,
        .spread = ss->spread,
        /* a kill is the removal of the service: it must stop the worker at once, as
         * SIGKILL does with the other backends */
        .stop_signal = "SIGKILL",
    };
    int rc = docker_service_create(ss->e.d, &spec, sid);
    free(l_role);
    free(l_id);
    spawner_env_free(env);
    free(db_path);
    return rc;
}

static int s_start(struct spawner *sp, const char *id, const char *role, const char *const *extra_env,
                   struct spawner_worker *out)
{
    struct sspawner *ss = impl(sp);
    char *name = spawner_engine_name(&ss->e, id);
    char *sid = NULL;
    struct docker_task t;
    int rc = create_service(ss, name, id, role, extra_env, &sid);
    if (rc < 0)
        goto fail;
    rc = wait_running(ss, name, &t);
    if (rc < 0)
        goto fail_remove;
    snprintf(out->id, sizeof out->id, "%s", id);
    snprintf(out->role, sizeof out->role, "%s", role);
    snprintf(out->handle, sizeof out->handle, "%s", sid);
    out->pid = t.pid;
    out->running = 1;
    log_info("spawner: worker %s runs as service %s on node %s, pid %ld", id, name, t.node, t.pid);
    rc = SPAWNER_OK;
    goto done;
fail_remove:
    /* A service whose task never ran is of no use, and must not be left as an orphan. */
    log_error("spawner: the task of %s did not run (state \"%s\"%s%s)", name, t.state, *t.err ? ": " : "", t.err);
    docker_service_remove(ss->e.d, name);
fail:
    log_error("spawner: could not start a %s service from %s", role, ss->e.image);
    rc = SPAWNER_ERR;
done:
    free(sid);
    free(name);
    return rc;
}

/* A container on another node cannot be signalled from here: whatever the signal, the
 * service goes, and Swarm stops its container with SIGKILL. */
static int s_kill(struct spawner *sp, const char *id, int sig)
{
    (void)sig;
    struct sspawner *ss = impl(sp);
    char *name = spawner_engine_name(&ss->e, id);
    int rc = docker_service_remove(ss->e.d, name);
    free(name);
    return spawner_engine_err(rc);
}

static int s_remove(struct spawner *sp, const char *id)
{
    return s_kill(sp, id, 0);
}

static int s_list(struct spawner *sp, struct spawner_worker **out, size_t *n)
{
    return spawner_engine_list(sp, &impl(sp)->e, docker_service_list, out, n);
}

static void s_free(struct spawner *sp)
{
    struct sspawner *ss = impl(sp);
    spawner_engine_free(&ss->e);
    free(ss->spread);
    free(ss);
}

static const struct spawner_ops swarm_ops = {
    .name = "swarm",
    .start = s_start,
    .inspect = s_inspect,
    .kill = s_kill,
    .remove = s_remove,
    .list = s_list,
    .free = s_free,
};

int spawner_swarm_init(struct spawner *sp, const struct spawner_cfg *cfg)
{
    struct sspawner *ss = xcalloc(1, sizeof *ss);
    sp->ops = &swarm_ops;
    sp->impl = ss;
    ss->spread = cfg->spread && *cfg->spread ? xstrdup(cfg->spread) : NULL;
    ss->start_timeout_ms = cfg->start_timeout_ms > 0 ? cfg->start_timeout_ms : 60000;
    if (spawner_engine_init(&ss->e, cfg) == SPAWNER_OK)
        return SPAWNER_OK;
    s_free(sp);
    sp->impl = NULL;
    return SPAWNER_ERR;
}
