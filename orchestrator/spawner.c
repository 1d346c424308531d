/* spawner.c - picks the backend and holds what they share: ids and the environment. */
#include "spawner_impl.h"

#include "config.h"
#include "docker.h"
#include "fleet/membership.h"
#include "log.h"
#include "xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* Copied into every worker's environment when set in ours. */
static const char *const pass_through[] = {
    "ZK_HOSTS", "ZK_SESSION_MS", "AMQP_HOST", "AMQP_PORT", "AMQP_USER", "AMQP_PASS", "AMQP_VHOST",
    "AMQP_HEARTBEAT", "AMQP_QUEUE_TYPE", "LOG_LEVEL", "READ_PREFETCH", "SYNC_PREFETCH", "WRITE_BATCH", "SNAPSHOT_CHUNK_BYTES",
    "RPC_TIMEOUT_MS", "PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS",
    NULL,
};

void spawner_cfg_from_env(struct spawner_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->kind = config_str("SPAWNER", "docker");
    cfg->fleet = config_str("FLEET", "rideshare");
    cfg->docker_sock = config_str("DOCKER_SOCKET", config_str("DOCKER_SOCK", "/var/run/docker.sock"));
    cfg->image = config_str("WORKER_IMAGE", "rideshare-worker:latest");
    cfg->network = config_str("DOCKER_NETWORK", NULL);
    cfg->volume = config_str("WORKER_VOLUME", NULL);
    cfg->container_data_dir = config_str("WORKER_DATA_DIR", "/data");
    cfg->memory_mb = config_long("WORKER_MEMORY_MB", 256, 0, 1 << 20);
    cfg->pids_limit = config_long("WORKER_PIDS_LIMIT", 256, 0, 1 << 22);
    cfg->spread = config_str("WORKER_SPREAD", "node.labels.rideshare.node");
    cfg->start_timeout_ms = config_long("WORKER_START_TIMEOUT_MS", 60000, 1000, 3600000);
    cfg->worker_bin = config_str("WORKER_BIN", "build/rel/worker");
    cfg->data_dir = config_str("DATA_DIR", "/tmp/rideshare-data");
}

struct spawner *spawner_new(const struct spawner_cfg *cfg)
{
    struct spawner *sp = xcalloc(1, sizeof *sp);
    const char *kind = cfg->kind && *cfg->kind ? cfg->kind : "docker";
    int rc;
    if (strcmp(kind, "docker") == 0) {
        rc = spawner_docker_init(sp, cfg);
    } else if (strcmp(kind, "swarm") == 0) {
        rc = spawner_swarm_init(sp, cfg);
    } else if (strcmp(kind, "process") == 0) {
        rc = spawner_process_init(sp, cfg);
    } else {
        log_error("spawner: unknown SPAWNER \"%s\" (docker, swarm or process)", kind);
        rc = SPAWNER_ERR;
    }
    if (rc < 0) {
        free(sp);
        return NULL;
    }
    log_info("spawner: %s backend ready", sp->ops->name);
    return sp;
}

void spawner_free(struct spawner *sp)
{
    if (!sp)
        return;
    sp->ops->free(sp);
    free(sp);
}

const char *spawner_kind(const struct spawner *sp)
{
    return sp->ops->name;
}

/* "w-" and 12 random hex digits: unique across orchestrator restarts, short enough for
 * container names and znode names alike. */
static void new_worker_id(char *out, size_t len)
{
    unsigned char r[6];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        /* Not expected on Linux >= 3.17; time and a counter are still unique enough here. */
        static unsigned counter;
        unsigned long long t = (unsigned long long)time(NULL) ^ ((unsigned long long)++counter << 32);
        memcpy(r, &t, sizeof r);
    }
    snprintf(out, len, "w-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5]);
}

int spawner_start(struct spawner *sp, const char *role, const char *const *extra_env, struct spawner_worker *out)
{
    if (member_role_of(role) == MEMBER_ROLE_NONE) {
        log_error("spawner: bad role \"%s\"", role ? role : "");
        return SPAWNER_ERR;
    }
    char id[sizeof out->id];
    new_worker_id(id, sizeof id);
    memset(out, 0, sizeof *out);
    int rc = sp->ops->start(sp, id, role, extra_env, out);
    if (rc == SPAWNER_OK)
        log_info("spawner: started %s %s, pid %ld", role, out->id, out->pid);
    return rc;
}

int spawner_inspect(struct spawner *sp, const char *id, struct spawner_worker *out)
{
    memset(out, 0, sizeof *out);
    return sp->ops->inspect(sp, id, out);
}

int spawner_kill(struct spawner *sp, const char *id, int sig)
{
    return sp->ops->kill(sp, id, sig);
}

int spawner_remove(struct spawner *sp, const char *id)
{
    int rc = sp->ops->remove(sp, id);
    if (rc == SPAWNER_OK)
        log_info("spawner: removed %s", id);
    return rc;
}

int spawner_list(struct spawner *sp, struct spawner_worker **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    return sp->ops->list(sp, out, n);
}

/* ---- environment ---- */

/* Whether env[0..n) already sets name. */
static int env_has(char *const *env, size_t n, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < n; i++)
        if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
            return 1;
    return 0;
}

char **spawner_env(const char *id, const char *role, const char *db_path, const char *const *extra_env)
{
    size_t cap = 4 + sizeof pass_through / sizeof pass_through[0];
    for (const char *const *e = extra_env; e && *e; e++)
        cap++;
    char **env = xcalloc(cap, sizeof *env);
    size_t n = 0;
    for (const char *const *e = extra_env; e && *e; e++)
        env[n++] = xstrdup(*e);
    const char *own[][2] = {{"WORKER_ID", id}, {"WORKER_ROLE", role}, {"DB_PATH", db_path}};
    for (size_t i = 0; i < 3; i++)
        if (!env_has(env, n, own[i][0]))
            env[n++] = xasprintf("%s=%s", own[i][0], own[i][1]);
    for (const char *const *p = pass_through; *p; p++) {
        const char *v = getenv(*p);
        if (v && !env_has(env, n, *p))
            env[n++] = xasprintf("%s=%s", *p, v);
    }
    env[n] = NULL;
    return env;
}

void spawner_env_free(char **env)
{
    for (char **e = env; e && *e; e++)
        free(*e);
    free(env);
}

/* One entry of a list into *w: 1 when adopted, 0 when not. */
static int adopt(struct spawner *sp, const json_t *labels, const char *handle, struct spawner_worker *w)
{
    const char *id = json_string_value(json_object_get(labels, SPAWNER_LABEL_ID));
    const char *role = json_string_value(json_object_get(labels, SPAWNER_LABEL_START_ROLE));
    if (!id || sp->ops->inspect(sp, id, w) < 0)
        return 0;
    snprintf(w->role, sizeof w->role, "%s", role ? role : "");
    snprintf(w->handle, sizeof w->handle, "%s", handle);
    return 1;
}

int spawner_engine_list(struct spawner *sp, const struct spawner_engine *e, docker_lister *list,
                        struct spawner_worker **out, size_t *n)
{
    const char *labels[] = {SPAWNER_LABEL_ROLE "=worker", e->fleet_label, NULL};
    struct docker_object *found = NULL;
    size_t count = 0;
    int rc = list(e->d, labels, &found, &count);
    if (rc < 0)
        return spawner_engine_err(rc);
    struct spawner_worker *ws = count ? xcalloc(count, sizeof *ws) : NULL;
    size_t m = 0;
    for (size_t i = 0; i < count; i++)
        m += (size_t)adopt(sp, found[i].labels, found[i].id, &ws[m]);
    docker_objects_free(found, count);
    if (m == 0) {
        free(ws);
        ws = NULL;
    }
    *out = ws;
    *n = m;
    return SPAWNER_OK;
}

static char *dup_or(const char *s, const char *def)
{
    return s && *s ? xstrdup(s) : def ? xstrdup(def) : NULL;
}

int spawner_engine_init(struct spawner_engine *e, const struct spawner_cfg *cfg)
{
    e->fleet = dup_or(cfg->fleet, "rideshare");
    e->image = dup_or(cfg->image, "rideshare-worker:latest");
    e->network = dup_or(cfg->network, NULL);
    e->volume = dup_or(cfg->volume, NULL);
    e->data_dir = dup_or(cfg->container_data_dir, "/data");
    e->fleet_label = xasprintf(SPAWNER_LABEL_FLEET "=%s", e->fleet);
    e->memory_mb = cfg->memory_mb;
    e->pids_limit = cfg->pids_limit;
    if (cfg->cmd) {
        size_t n = 0;
        while (cfg->cmd[n])
            n++;
        e->cmd = xcalloc(n + 1, sizeof *e->cmd);
        for (size_t i = 0; i < n; i++)
            e->cmd[i] = xstrdup(cfg->cmd[i]);
    }
    e->d = docker_new(cfg->docker_sock);
    if (!e->d || docker_ping(e->d) < 0) {
        log_error("spawner: no Docker engine at %s", cfg->docker_sock ? cfg->docker_sock : "(default)");
        return SPAWNER_ERR;
    }
    return SPAWNER_OK;
}

void spawner_engine_free(struct spawner_engine *e)
{
    docker_free(e->d);
    for (char **c = e->cmd; c && *c; c++)
        free(*c);
    free(e->cmd);
    free(e->fleet_label);
    free(e->data_dir);
    free(e->volume);
    free(e->network);
    free(e->image);
    free(e->fleet);
}

char *spawner_engine_name(const struct spawner_engine *e, const char *id)
{
    return xasprintf("%s-worker-%s", e->fleet, id);
}

int spawner_engine_err(int docker_rc)
{
    return docker_rc == DOCKER_OK ? SPAWNER_OK : docker_rc == DOCKER_ENOTFOUND ? SPAWNER_ENOTFOUND : SPAWNER_ERR;
}
