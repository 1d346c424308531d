/* membership.c - the fleet's znodes: worker registration and published pids. */
#include "membership.h"

#include "log.h"
#include "xalloc.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int membership_init(struct zk *zk)
{
    const char *paths[] = {ZKP_WORKERS, ZKP_PIDS, ZKP_ELECTION};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        int rc = zk_ensure_path(zk, paths[i]);
        if (rc < 0)
            return rc;
    }
    return ZK_OK;
}

/* seq < 0, state NULL: not reported (yet). */
static char *member_json(const char *id, const char *role, const char *state, long pid, long long seq)
{
    json_t *o = json_pack("{s:s, s:s, s:I}", "id", id, "role", role, "pid", (json_int_t)pid);
    if (o && seq >= 0)
        json_object_set_new(o, "seq", json_integer(seq));
    if (o && state)
        json_object_set_new(o, "state", json_string(state));
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

int membership_register(struct zk *zk, const char *id, const char *role, long pid)
{
    int rc = zk_ensure_path(zk, ZKP_WORKERS);
    if (rc < 0)
        return rc;
    char *path = xasprintf(ZKP_WORKERS "/%s", id);
    char *data = member_json(id, role, MEMBER_STATE_STARTING, pid, -1);
    rc = data ? zk_create(zk, path, data, strlen(data), ZKF_EPHEMERAL | ZKF_OWNED, NULL, 0) : ZK_ERR;
    if (rc == ZK_EEXISTS)
        log_error("membership: %s is already registered by another session", path);
    free(path);
    free(data);
    return rc;
}

int membership_update(struct zk *zk, const char *id, const char *role, long pid)
{
    return membership_report(zk, id, role, NULL, pid, -1);
}

int membership_report(struct zk *zk, const char *id, const char *role, const char *state, long pid, long long seq)
{
    char *path = xasprintf(ZKP_WORKERS "/%s", id);
    char *data = member_json(id, role, state, pid, seq);
    int rc = data ? zk_set(zk, path, data, strlen(data)) : ZK_ERR;
    free(path);
    free(data);
    return rc;
}

const char *member_role_name(enum member_role role)
{
    return role == MEMBER_MASTER ? "master" : role == MEMBER_SLAVE ? "slave" : "";
}

enum member_role member_role_of(const char *s)
{
    if (s && strcmp(s, "master") == 0)
        return MEMBER_MASTER;
    if (s && strcmp(s, "slave") == 0)
        return MEMBER_SLAVE;
    return MEMBER_ROLE_NONE;
}

int membership_parse(const struct zk_child *kid, struct member *out)
{
    memset(out, 0, sizeof *out);
    json_error_t err;
    json_t *o = json_loadb(kid->data, kid->len, 0, &err);
    const char *id = NULL, *role = NULL, *state = "";
    json_int_t pid = 0, seq = -1;
    int rc = -1;
    if (!o || json_unpack(o, "{s:s, s:s, s?:I, s?:I, s?:s}", "id", &id, "role", &role, "pid", &pid, "seq", &seq,
                          "state", &state) != 0) {
        log_warn("membership: malformed worker znode %s", kid->name);
        goto done;
    }
    snprintf(out->id, sizeof out->id, "%s", id);
    snprintf(out->role, sizeof out->role, "%s", role);
    out->pid = (long)pid;
    out->seq = (long long)seq;
    snprintf(out->state, sizeof out->state, "%s", state);
    rc = 0;
done:
    json_decref(o);
    return rc;
}

int membership_publish_pid(struct zk *zk, const char *id, long pid)
{
    char *path = xasprintf(ZKP_PIDS "/%s", id);
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%ld", pid);
    int rc = zk_ensure_path(zk, ZKP_PIDS);
    if (rc == ZK_OK)
        rc = zk_create(zk, path, buf, (size_t)n, ZKF_PERSISTENT, NULL, 0);
    if (rc == ZK_EEXISTS)
        rc = zk_set(zk, path, buf, (size_t)n);
    free(path);
    return rc;
}

int membership_read_pid(struct zk *zk, const char *id, long *pid)
{
    char *path = xasprintf(ZKP_PIDS "/%s", id);
    char *data = NULL;
    int rc = zk_get(zk, path, &data, NULL);
    if (rc == ZK_OK) {
        char *end;
        long v = strtol(data, &end, 10);
        if (end == data || *end || v <= 0) {
            log_error("membership: %s holds no pid: \"%s\"", path, data);
            rc = ZK_ERR;
        } else {
            *pid = v;
        }
    }
    free(data);
    free(path);
    return rc;
}

int membership_wait_pid(struct zk *zk, const char *id, long timeout_ms, long *pid)
{
    for (long waited = 0;; waited += 100) {
        int rc = membership_read_pid(zk, id, pid);
        if (rc == ZK_OK || rc == ZK_ERR || waited >= timeout_ms)
            return rc;
        struct timespec pause = {0, 100 * 1000000L};
        nanosleep(&pause, NULL);
    }
}

int membership_forget_pid(struct zk *zk, const char *id)
{
    char *path = xasprintf(ZKP_PIDS "/%s", id);
    int rc = zk_delete(zk, path);
    free(path);
    return rc == ZK_ENONODE ? ZK_OK : rc;
}

char *membership_candidate_path(const char *parent, long pid, const char *id)
{
    return xasprintf("%s/%010ld-%s", parent, pid, id);
}

int membership_evict(struct zk *zk, const char *id, long pid)
{
    char *path = xasprintf(ZKP_WORKERS "/%s", id);
    int rc = zk_delete(zk, path);
    free(path);
    if (pid > 0) {
        path = membership_candidate_path(ZKP_ELECTION, pid, id);
        int r2 = zk_delete(zk, path);
        free(path);
        if (r2 < 0 && r2 != ZK_ENONODE)
            rc = r2;
    }
    char *master = NULL;
    if (zk_get(zk, ZKP_MASTER, &master, NULL) == ZK_OK && strcmp(master, id) == 0)
        zk_delete(zk, ZKP_MASTER);
    free(master);
    return rc == ZK_ENONODE ? ZK_OK : rc;
}
