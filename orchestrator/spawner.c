/* spawner.c - picks the backend and holds what both share: ids and the environment. */
#include "spawner_impl.h"

#include "config.h"
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
    "AMQP_HEARTBEAT", "LOG_LEVEL", "READ_PREFETCH", "RPC_TIMEOUT_MS", "PATH", "ASAN_OPTIONS", "UBSAN_OPTIONS",
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
    } else if (strcmp(kind, "process") == 0) {
        rc = spawner_process_init(sp, cfg);
    } else {
        log_error("spawner: unknown SPAWNER \"%s\" (docker or process)", kind);
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
    if (!role || (strcmp(role, "master") != 0 && strcmp(role, "slave") != 0)) {
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
