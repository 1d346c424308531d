/* reqcount.c - a request counter, local or a group-committed ZooKeeper counter (reqcount.h). */
#include "reqcount.h"

#include "clock.h"
#include "config.h"
#include "log.h"
#include "xalloc.h"
#include "zk.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNTS_PARENT "/rideshare/counts"
#define CAS_TRIES 50
#define RETRY_MS 100  /* between flush attempts while ZooKeeper is away */
#define SYNC_READ_MS 2000

struct reqcount {
    atomic_llong local;      /* local: the count */
    struct zk *zk;           /* NULL: local */
    char *path;
    long wait_ms;
    pthread_t flusher;
    pthread_mutex_t mu;      /* guards the fields below */
    pthread_cond_t work;     /* the flusher: something to write, or stop */
    pthread_cond_t done;     /* the adders: flushed moved on */
    long long pending;       /* queued, not written yet */
    unsigned long long queued, flushed; /* adds ever queued; of those, how many are written */
    int stop;
};

reqcount *reqcount_new_local(void)
{
    reqcount *c = xcalloc(1, sizeof *c);
    atomic_init(&c->local, 0);
    return c;
}

const char *reqcount_kind(const reqcount *c)
{
    return c->zk ? "zookeeper" : "local";
}

/* Parses the znode's data; anything but a decimal count reads as 0 (and is overwritten). */
static long long parse_count(const char *data)
{
    char *end = NULL;
    errno = 0;
    long long v = data ? strtoll(data, &end, 10) : 0;
    return !data || errno || end == data || *end || v < 0 ? 0 : v;
}

/* Adds n to the shared count with compare-and-set; a ZK_* status. */
static int zk_add(reqcount *c, long long n)
{
    char buf[32];
    for (int i = 0; i < CAS_TRIES; i++) {
        char *data = NULL;
        int version = 0;
        int rc = zk_get_version(c->zk, c->path, &data, &version);
        if (rc == ZK_ENONODE) {
            snprintf(buf, sizeof buf, "%lld", n);
            rc = zk_create(c->zk, c->path, buf, strlen(buf), ZKF_PERSISTENT, NULL, 0);
            if (rc != ZK_EEXISTS)
                return rc;
            continue; /* another replica created it first: add to its value */
        }
        if (rc < 0)
            return rc;
        snprintf(buf, sizeof buf, "%lld", parse_count(data) + n);
        free(data);
        rc = zk_set_version(c->zk, c->path, buf, strlen(buf), version, NULL);
        if (rc != ZK_EBADVERSION)
            return rc;
    }
    log_warn("reqcount: %s changed under %d attempts in a row; trying again", c->path, CAS_TRIES);
    return ZK_EBADVERSION;
}

/* Writes what is queued, one batch at a time, until told to stop with nothing queued. */
static void *flush_loop(void *arg)
{
    reqcount *c = arg;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        while (c->pending == 0 && !c->stop)
            pthread_cond_wait(&c->work, &c->mu);
        if (c->pending == 0)
            break; /* stopping, and everything is written */
        long long n = c->pending;
        unsigned long long upto = c->queued;
        c->pending = 0;
        pthread_mutex_unlock(&c->mu);
        int rc = zk_is_connected(c->zk) ? zk_add(c, n) : ZK_ECONN;
        pthread_mutex_lock(&c->mu);
        if (rc == ZK_OK) {
            c->flushed = upto;
            pthread_cond_broadcast(&c->done);
            continue;
        }
        c->pending += n; /* kept for the next attempt */
        if (c->stop)
            break;
        struct timespec ts;
        clock_deadline(&ts, RETRY_MS);
        pthread_cond_timedwait(&c->work, &c->mu, &ts);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

/* What reqcount_new_zk made besides the flusher thread. */
static void release_zk(reqcount *c)
{
    zk_free(c->zk);
    pthread_cond_destroy(&c->done);
    pthread_cond_destroy(&c->work);
    pthread_mutex_destroy(&c->mu);
    free(c->path);
    free(c);
}

reqcount *reqcount_new_zk(const char *hosts, int session_ms, const char *name, long flush_wait_ms)
{
    reqcount *c = reqcount_new_local();
    c->path = xasprintf(COUNTS_PARENT "/%s", name);
    c->wait_ms = flush_wait_ms;
    pthread_mutex_init(&c->mu, NULL);
    clock_cond_init(&c->work);
    clock_cond_init(&c->done);
    c->zk = zk_new(hosts, session_ms, 30000);
    if (!c->zk || zk_ensure_path(c->zk, COUNTS_PARENT) < 0 || pthread_create(&c->flusher, NULL, flush_loop, c) != 0) {
        log_error("reqcount: cannot keep the count of %s in ZooKeeper at %s", name, hosts);
        release_zk(c);
        return NULL;
    }
    log_info("reqcount: _count of %s shared in ZooKeeper at %s", name, c->path);
    return c;
}

reqcount *reqcount_from_env(const char *name)
{
    const char *hosts = config_str("COUNT_ZK_HOSTS", "");
    if (!*hosts)
        return reqcount_new_local();
    int session_ms = (int)config_long("ZK_SESSION_MS", 5000, 200, 60000);
    long wait_ms = config_long("COUNT_FLUSH_WAIT_MS", 2000, 0, 60000);
    return reqcount_new_zk(hosts, session_ms, name, wait_ms);
}

void reqcount_free(reqcount *c)
{
    if (!c)
        return;
    if (!c->zk) {
        free(c);
        return;
    }
    pthread_mutex_lock(&c->mu);
    /* a last chance for what is queued, as long as an add would have waited */
    struct timespec ts;
    clock_deadline(&ts, c->wait_ms);
    while (c->flushed < c->queued && zk_is_connected(c->zk) &&
           pthread_cond_timedwait(&c->done, &c->mu, &ts) == 0)
        ;
    c->stop = 1;
    pthread_cond_signal(&c->work);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->flusher, NULL);
    if (c->pending)
        log_warn("reqcount: %lld request(s) not written to %s", c->pending, c->path);
    release_zk(c);
}

void reqcount_add(reqcount *c)
{
    if (!c->zk) {
        atomic_fetch_add_explicit(&c->local, 1, memory_order_relaxed);
        return;
    }
    pthread_mutex_lock(&c->mu);
    unsigned long long mine = ++c->queued;
    c->pending++;
    pthread_cond_signal(&c->work);
    struct timespec ts;
    clock_deadline(&ts, c->wait_ms);
    /* Not while ZooKeeper is away: the request is answered now, and counted later. */
    while (c->flushed < mine && zk_is_connected(c->zk) && pthread_cond_timedwait(&c->done, &c->mu, &ts) == 0)
        ;
    pthread_mutex_unlock(&c->mu);
}

int reqcount_get(reqcount *c, long long *out)
{
    if (!c->zk) {
        *out = atomic_load_explicit(&c->local, memory_order_relaxed);
        return 0;
    }
    char *data = NULL;
    /* synced first: the writes of the other replicas may not be on our server yet */
    int rc = zk_sync_get(c->zk, c->path, SYNC_READ_MS, &data, NULL);
    *out = rc == ZK_OK ? parse_count(data) : 0;
    free(data);
    return rc == ZK_OK || rc == ZK_ENONODE ? 0 : -1;
}

int reqcount_reset(reqcount *c)
{
    if (!c->zk) {
        atomic_store_explicit(&c->local, 0, memory_order_relaxed);
        return 0;
    }
    int rc = zk_set(c->zk, c->path, "0", 1);
    if (rc == ZK_ENONODE)
        rc = zk_create(c->zk, c->path, "0", 1, ZKF_PERSISTENT, NULL, 0);
    return rc == ZK_OK || rc == ZK_EEXISTS ? 0 : -1;
}
