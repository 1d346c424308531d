/* zk.c - a ZooKeeper session that survives connection loss and expiry (see zk.h).
 *
 * Threads: the library's IO and completion threads call our watcher functions, which only
 * queue an event; one dispatcher thread of ours pops events, talks to the server with the
 * synchronous API, re-arms watches and runs user callbacks. Two reasons for the extra
 * thread: zookeeper_close() of an expired handle cannot run on that handle's own
 * completion thread, and user callbacks must be free to call zk_* without deadlocking. */
#include "zk.h"

#include "clock.h"

#include "log.h"
#include "xalloc.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
/* The synchronous API exists only in the multi-threaded library (-lzookeeper_mt). */
#define THREADED 1
#include <zookeeper/zookeeper.h>

enum sub_kind { SUB_STATE, SUB_CHILDREN, SUB_NODE };
enum ev_kind { EV_SESSION, EV_SUB };

/* A listener or watch; pending collapses a burst of events into one refetch. */
struct zk_sub {
    int id;
    enum sub_kind kind;
    char *path;
    zk_state_cb state_cb;
    zk_children_cb children_cb;
    zk_node_cb node_cb;
    void *arg;
    int pending;
    struct zk_sub *next;
};

/* An ephemeral node that we re-create on every new session. */
struct zk_owned {
    char *path;
    char *data;
    size_t len;
    struct zk_owned *next;
};

struct zk_event {
    enum ev_kind kind;
    unsigned gen;   /* EV_SESSION: which handle reported it */
    int state;      /* EV_SESSION: ZOO_*_STATE */
    int sub_id;     /* EV_SUB */
    struct zk_event *next;
};

/* The context of one library handle; outlives nothing but that handle. */
struct zk_hctx {
    struct zk *zk;
    unsigned gen;
};

struct zk {
    char *hosts;
    int session_ms;

    /* Readers: every call on zh. Writer: the dispatcher swapping handles after expiry. */
    pthread_rwlock_t hlock;
    zhandle_t *zh;
    struct zk_hctx *hctx;

    /* mu guards everything below. */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    unsigned gen;
    struct zk_event *qhead, *qtail;
    struct zk_sub *subs;
    int next_id;
    int running_id;      /* the subscription whose callback runs now, 0 if none */
    struct zk_owned *owned;
    int connected;
    long long session_id;
    int granted_ms;
    int reported;        /* last state told to listeners, -1 none */
    int stop;
    pthread_t thread;
};

/* ---- small helpers ---- */

static void lib_log(const char *message)
{
    size_t n = strlen(message);
    while (n > 0 && (message[n - 1] == '\n' || message[n - 1] == '\r'))
        n--;
    log_warn("zookeeper: %.*s", (int)n, message);
}

/* Translates a library code into ours, logging what failed once. */
static int zk_status(int rc, const char *op, const char *path)
{
    if (rc == ZOK)
        return ZK_OK;
    if (rc == ZNONODE)
        return ZK_ENONODE;
    if (rc == ZNODEEXISTS)
        return ZK_EEXISTS;
    if (rc == ZNOTEMPTY)
        return ZK_ENOTEMPTY;
    if (rc == ZBADVERSION)
        return ZK_EBADVERSION;
    if (rc == ZCONNECTIONLOSS || rc == ZSESSIONEXPIRED || rc == ZINVALIDSTATE || rc == ZOPERATIONTIMEOUT ||
        rc == ZCLOSING || rc == ZSESSIONMOVED) {
        log_warn("zk %s %s: %s", op, path, zerror(rc));
        return ZK_ECONN;
    }
    log_error("zk %s %s: %s", op, path, zerror(rc));
    return ZK_ERR;
}

/* Queues an event; the caller holds mu. */
static void push_locked(struct zk *zk, enum ev_kind kind, unsigned gen, int state, int sub_id)
{
    struct zk_event *ev = xcalloc(1, sizeof *ev);
    ev->kind = kind;
    ev->gen = gen;
    ev->state = state;
    ev->sub_id = sub_id;
    if (zk->qtail)
        zk->qtail->next = ev;
    else
        zk->qhead = ev;
    zk->qtail = ev;
    pthread_cond_broadcast(&zk->cond);
}

/* Queues a refetch of sub unless one is already waiting; the caller holds mu. */
static void poke_locked(struct zk *zk, struct zk_sub *s)
{
    if (s->kind == SUB_STATE || s->pending)
        return;
    s->pending = 1;
    push_locked(zk, EV_SUB, 0, 0, s->id);
}

static struct zk_sub *find_sub_locked(struct zk *zk, int id)
{
    for (struct zk_sub *s = zk->subs; s; s = s->next)
        if (s->id == id)
            return s;
    return NULL;
}

/* ---- watchers: run on the library's threads, so they only queue ---- */

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)path;
    struct zk_hctx *h = ctx;
    if (type != ZOO_SESSION_EVENT)
        return;
    pthread_mutex_lock(&h->zk->mu);
    push_locked(h->zk, EV_SESSION, h->gen, state, 0);
    pthread_mutex_unlock(&h->zk->mu);
}

static void sub_watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)state;
    (void)path;
    /* Session events also reach one-shot watchers; the session watcher handles those. */
    if (type == ZOO_SESSION_EVENT)
        return;
    const struct zk_hctx *h = zoo_get_context(zh);
    struct zk *zk = h->zk;
    pthread_mutex_lock(&zk->mu);
    struct zk_sub *s = find_sub_locked(zk, (int)(intptr_t)ctx);
    if (s)
        poke_locked(zk, s);
    pthread_mutex_unlock(&zk->mu);
}

/* ---- handles ---- */

/* Opens a fresh library handle (a new session); the caller holds hlock for writing. */
static int open_handle(struct zk *zk)
{
    pthread_mutex_lock(&zk->mu);
    unsigned gen = ++zk->gen;
    pthread_mutex_unlock(&zk->mu);

    struct zk_hctx *h = xcalloc(1, sizeof *h);
    h->zk = zk;
    h->gen = gen;
    zhandle_t *zh = zookeeper_init2(zk->hosts, session_watcher, zk->session_ms, NULL, h, 0, lib_log);
    if (!zh) {
        log_error("zk: cannot open a session to %s: %s", zk->hosts, strerror(errno));
        free(h);
        return ZK_ERR;
    }
    /* Names are looked up again only when the connection is lost, not on every poll of
     * the socket (the library's default). A lookup that stalls (the swarm tier saw one
     * take 3.7 s, over and over, after a member was cut off its network) stalls the
     * library's I/O thread with it, and a healthy session misses its pings and expires. */
    if (zoo_set_servers_resolution_delay(zh, -1) != ZOK)
        log_warn("zk: cannot turn off routine name lookups; a slow DNS may expire sessions");
    zk->zh = zh;
    zk->hctx = h;
    return ZK_OK;
}

static void close_handle(struct zk *zk)
{
    if (zk->zh)
        zookeeper_close(zk->zh);  /* joins the library's threads: no watcher runs after */
    free(zk->hctx);
    zk->zh = NULL;
    zk->hctx = NULL;
}

/* ---- synchronous operations ---- */

int zk_ensure_path(struct zk *zk, const char *path)
{
    if (!path || path[0] != '/')
        return ZK_ERR;
    char *p = xstrdup(path);
    int rc = ZK_OK;
    for (char *slash = strchr(p + 1, '/');; slash = strchr(slash + 1, '/')) {
        if (slash)
            *slash = '\0';
        rc = zk_create(zk, p, NULL, 0, ZKF_PERSISTENT, NULL, 0);
        if (rc == ZK_EEXISTS)
            rc = ZK_OK;
        if (rc < 0 || !slash)
            break;
        *slash = '/';
    }
    free(p);
    return rc;
}

static void owned_put_locked(struct zk *zk, const char *path, const void *data, size_t len)
{
    struct zk_owned *o;
    for (o = zk->owned; o; o = o->next)
        if (strcmp(o->path, path) == 0)
            break;
    if (!o) {
        o = xcalloc(1, sizeof *o);
        o->path = xstrdup(path);
        o->next = zk->owned;
        zk->owned = o;
    }
    free(o->data);
    o->data = xmalloc(len + 1);
    if (len)
        memcpy(o->data, data, len);
    o->len = len;
}

int zk_create(struct zk *zk, const char *path, const void *data, size_t len, int flags, char *out, size_t outlen)
{
    if ((flags & ZKF_OWNED) && (!(flags & ZKF_EPHEMERAL) || (flags & ZKF_SEQUENCE))) {
        log_error("zk create %s: ZKF_OWNED needs an ephemeral, non-sequential node", path);
        return ZK_ERR;
    }
    int mode = (flags & ZKF_EPHEMERAL) ? ((flags & ZKF_SEQUENCE) ? ZOO_EPHEMERAL_SEQUENTIAL : ZOO_EPHEMERAL)
                                       : ((flags & ZKF_SEQUENCE) ? ZOO_PERSISTENT_SEQUENTIAL : ZOO_PERSISTENT);
    char created[1024];
    pthread_rwlock_rdlock(&zk->hlock);
    int rc = zk->zh ? zoo_create(zk->zh, path, data, data ? (int)len : -1, &ZOO_OPEN_ACL_UNSAFE, mode, created,
                                 sizeof created)
                    : ZINVALIDSTATE;
    pthread_rwlock_unlock(&zk->hlock);
    /* An existing node is often the caller's expected case (ensure_path, elections). */
    int st = rc == ZNODEEXISTS ? ZK_EEXISTS : zk_status(rc, "create", path);
    if (st < 0)
        return st;
    if (out && outlen)
        snprintf(out, outlen, "%s", created);
    if (flags & ZKF_OWNED) {
        pthread_mutex_lock(&zk->mu);
        owned_put_locked(zk, path, data, data ? len : 0);
        pthread_mutex_unlock(&zk->mu);
    }
    return ZK_OK;
}

/* zoo_get into a growing buffer; with watch set, leaves a data watch for sub id. */
static int get_data(struct zk *zk, const char *path, int watch_id, char **data, size_t *len, int *version)
{
    int cap = 4096, rc;
    char *buf = NULL;
    for (;;) {
        struct Stat st;
        int n = cap;
        buf = xrealloc(buf, (size_t)cap + 1);
        pthread_rwlock_rdlock(&zk->hlock);
        if (!zk->zh)
            rc = ZINVALIDSTATE;
        else if (watch_id)
            rc = zoo_wget(zk->zh, path, sub_watcher, (void *)(intptr_t)watch_id, buf, &n, &st);
        else
            rc = zoo_get(zk->zh, path, 0, buf, &n, &st);
        pthread_rwlock_unlock(&zk->hlock);
        if (rc != ZOK)
            break;
        if (st.dataLength > cap) {  /* truncated: ask again with room for all of it */
            cap = st.dataLength;
            continue;
        }
        if (n < 0)  /* a node created with NULL data */
            n = 0;
        buf[n] = '\0';
        *data = buf;
        if (len)
            *len = (size_t)n;
        if (version)
            *version = st.version;
        return ZK_OK;
    }
    free(buf);
    return rc == ZNONODE ? ZK_ENONODE : zk_status(rc, "get", path);
}

int zk_get(struct zk *zk, const char *path, char **data, size_t *len)
{
    return get_data(zk, path, 0, data, len, NULL);
}

int zk_get_version(struct zk *zk, const char *path, char **data, int *version)
{
    return get_data(zk, path, 0, data, NULL, version);
}

int zk_set_version(struct zk *zk, const char *path, const void *data, size_t len, int version, int *new_version)
{
    struct Stat st;
    pthread_rwlock_rdlock(&zk->hlock);
    int rc = zk->zh ? zoo_set2(zk->zh, path, data, (int)len, version, &st) : ZINVALIDSTATE;
    pthread_rwlock_unlock(&zk->hlock);
    if (rc == ZBADVERSION)
        return ZK_EBADVERSION; /* the caller's expected race: not worth an error line */
    int s = zk_status(rc, "set", path);
    if (s == ZK_OK && new_version)
        *new_version = st.version;
    return s;
}

/* The completion of one zoo_async call: the library's completion thread signals it. */
struct sync_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, rc;
};

static void sync_done(int rc, const char *value, const void *data)
{
    (void)value;
    struct sync_wait *w = (struct sync_wait *)data;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    w->rc = rc;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Waits for a zoo_async completion; the waiter must outlive the call, so a timeout waits
 * for the library to give up on it too (it always completes, with ZOPERATIONTIMEOUT or a
 * connection loss at worst) rather than return with the completion still pending. */
static int sync_wait_done(struct sync_wait *w, long timeout_ms)
{
    struct timespec dl;
    clock_deadline(&dl, timeout_ms);
    int timed_out = 0;
    pthread_mutex_lock(&w->mu);
    while (!w->done) {
        if (pthread_cond_timedwait(&w->cv, &w->mu, &dl) == ETIMEDOUT) {
            timed_out = 1;
            clock_deadline(&dl, 1000);
        }
    }
    int rc = w->rc;
    pthread_mutex_unlock(&w->mu);
    return timed_out ? ZOPERATIONTIMEOUT : rc;
}

int zk_sync_get(struct zk *zk, const char *path, long timeout_ms, char **data, int *version)
{
    struct sync_wait w = {.rc = ZOK};
    clock_cond_init(&w.cv);
    pthread_mutex_init(&w.mu, NULL);
    pthread_rwlock_rdlock(&zk->hlock);
    int rc = zk->zh ? zoo_async(zk->zh, path, sync_done, &w) : ZINVALIDSTATE;
    if (rc == ZOK)
        rc = sync_wait_done(&w, timeout_ms);
    pthread_rwlock_unlock(&zk->hlock);
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    if (rc != ZOK)
        return zk_status(rc, "sync", path);
    return get_data(zk, path, 0, data, NULL, version);
}

int zk_set(struct zk *zk, const char *path, const void *data, size_t len)
{
    pthread_rwlock_rdlock(&zk->hlock);
    int rc = zk->zh ? zoo_set(zk->zh, path, data, (int)len, -1) : ZINVALIDSTATE;
    pthread_rwlock_unlock(&zk->hlock);
    int st = zk_status(rc, "set", path);
    if (st < 0)
        return st;
    pthread_mutex_lock(&zk->mu);
    for (struct zk_owned *o = zk->owned; o; o = o->next)
        if (strcmp(o->path, path) == 0) {
            owned_put_locked(zk, path, data, len);
            break;
        }
    pthread_mutex_unlock(&zk->mu);
    return ZK_OK;
}

int zk_delete(struct zk *zk, const char *path)
{
    /* Forget it first, so that a new session cannot bring it back halfway. */
    pthread_mutex_lock(&zk->mu);
    for (struct zk_owned **pp = &zk->owned; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->path, path) == 0) {
            struct zk_owned *o = *pp;
            *pp = o->next;
            free(o->path);
            free(o->data);
            free(o);
            break;
        }
    pthread_mutex_unlock(&zk->mu);

    pthread_rwlock_rdlock(&zk->hlock);
    int rc = zk->zh ? zoo_delete(zk->zh, path, -1) : ZINVALIDSTATE;
    pthread_rwlock_unlock(&zk->hlock);
    return rc == ZNONODE ? ZK_ENONODE : zk_status(rc, "delete", path);
}

/* zoo_exists, optionally leaving a watch (for creation or deletion) for sub id. */
static int exists_watch(struct zk *zk, const char *path, int watch_id)
{
    struct Stat st;
    pthread_rwlock_rdlock(&zk->hlock);
    int rc = !zk->zh ? ZINVALIDSTATE
             : watch_id ? zoo_wexists(zk->zh, path, sub_watcher, (void *)(intptr_t)watch_id, &st)
                        : zoo_exists(zk->zh, path, 0, &st);
    pthread_rwlock_unlock(&zk->hlock);
    if (rc == ZOK)
        return 1;
    if (rc == ZNONODE)
        return 0;
    return zk_status(rc, "exists", path);
}

int zk_exists(struct zk *zk, const char *path)
{
    return exists_watch(zk, path, 0);
}

void zk_children_free(struct zk_child *kids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kids[i].name);
        free(kids[i].data);
    }
    free(kids);
}

static int child_cmp(const void *a, const void *b)
{
    return strcmp(((const struct zk_child *)a)->name, ((const struct zk_child *)b)->name);
}

/* Lists path's children and their data; with watch_id, leaves a child watch on path and a
 * data watch on every child, all feeding the same subscription. A child deleted between
 * the list and its read is simply left out: the deletion will fire the watch again. */
static int list_children(struct zk *zk, const char *path, int watch_id, struct zk_child **kids, size_t *n)
{
    struct String_vector sv = {0, NULL};
    *kids = NULL;
    *n = 0;
    pthread_rwlock_rdlock(&zk->hlock);
    int rc = !zk->zh ? ZINVALIDSTATE
             : watch_id ? zoo_wget_children(zk->zh, path, sub_watcher, (void *)(intptr_t)watch_id, &sv)
                        : zoo_get_children(zk->zh, path, 0, &sv);
    pthread_rwlock_unlock(&zk->hlock);
    if (rc != ZOK)
        return rc == ZNONODE ? ZK_ENONODE : zk_status(rc, "children", path);

    struct zk_child *out = xcalloc((size_t)sv.count + 1, sizeof *out);
    size_t m = 0;
    int st = ZK_OK;
    for (int i = 0; i < sv.count; i++) {
        char *child = xasprintf("%s/%s", strcmp(path, "/") == 0 ? "" : path, sv.data[i]);
        char *data = NULL;
        size_t len = 0;
        int r = get_data(zk, child, watch_id, &data, &len, NULL);
        free(child);
        if (r == ZK_ENONODE)
            continue;
        if (r < 0) {
            st = r;
            goto fail;
        }
        out[m].name = xstrdup(sv.data[i]);
        out[m].data = data;
        out[m].len = len;
        m++;
    }
    deallocate_String_vector(&sv);
    qsort(out, m, sizeof *out, child_cmp);
    *kids = out;
    *n = m;
    return ZK_OK;
fail:
    deallocate_String_vector(&sv);
    zk_children_free(out, m);
    return st;
}

int zk_children(struct zk *zk, const char *path, struct zk_child **kids, size_t *n)
{
    return list_children(zk, path, 0, kids, n);
}

/* ---- the dispatcher ---- */

/* Fetches what sub watches (re-arming its server-side watches) and runs its callback. */
static void deliver(struct zk *zk, int id)
{
    pthread_mutex_lock(&zk->mu);
    struct zk_sub *s = find_sub_locked(zk, id);
    if (!s || s->kind == SUB_STATE) {
        pthread_mutex_unlock(&zk->mu);
        return;
    }
    s->pending = 0;  /* events from now on queue a new fetch */
    struct zk_sub copy = *s;
    copy.path = xstrdup(s->path);  /* the sub may be unwatched from its own callback */
    zk->running_id = id;
    pthread_mutex_unlock(&zk->mu);

    if (copy.kind == SUB_CHILDREN) {
        struct zk_child *kids = NULL;
        size_t n = 0;
        int rc = list_children(zk, copy.path, id, &kids, &n);
        if (rc == ZK_ENONODE) {
            /* Not there yet: watch for its creation. If it appeared meanwhile, go again. */
            int ex = exists_watch(zk, copy.path, id);
            if (ex == 1) {
                pthread_mutex_lock(&zk->mu);
                if ((s = find_sub_locked(zk, id)))
                    poke_locked(zk, s);
                pthread_mutex_unlock(&zk->mu);
                goto done;
            }
            if (ex == 0)
                rc = ZK_OK;  /* an empty list until it is created */
        }
        /* On connection loss nothing is armed; the reconnect refetches every watch. */
        if (rc == ZK_OK)
            copy.children_cb(copy.path, kids, n, copy.arg);
        zk_children_free(kids, n);
    } else {
        int ex = exists_watch(zk, copy.path, id);
        if (ex == 1) {
            char *data = NULL;
            size_t len = 0;
            int rc = get_data(zk, copy.path, id, &data, &len, NULL);
            if (rc == ZK_OK)
                copy.node_cb(copy.path, data, len, copy.arg);
            else if (rc == ZK_ENONODE)  /* deleted in between: its watch has fired */
                copy.node_cb(copy.path, NULL, 0, copy.arg);
            free(data);
        } else if (ex == 0) {
            copy.node_cb(copy.path, NULL, 0, copy.arg);
        }
    }
done:
    free(copy.path);
    pthread_mutex_lock(&zk->mu);
    zk->running_id = 0;
    pthread_cond_broadcast(&zk->cond);
    pthread_mutex_unlock(&zk->mu);
}

/* Tells every state listener, one at a time, without holding mu during the callback. */
static void notify_state(struct zk *zk, enum zk_state state)
{
    pthread_mutex_lock(&zk->mu);
    if (zk->reported == (int)state) {
        pthread_mutex_unlock(&zk->mu);
        return;
    }
    zk->reported = (int)state;
    int last = 0;
    for (;;) {
        /* Next listener by id after the last one called: the list may change meanwhile. */
        struct zk_sub *next = NULL;
        for (struct zk_sub *s = zk->subs; s; s = s->next)
            if (s->kind == SUB_STATE && s->id > last && (!next || s->id < next->id))
                next = s;
        if (!next)
            break;
        last = next->id;
        zk_state_cb cb = next->state_cb;
        void *arg = next->arg;
        zk->running_id = last;
        pthread_mutex_unlock(&zk->mu);
        cb(state, arg);
        pthread_mutex_lock(&zk->mu);
        zk->running_id = 0;
        pthread_cond_broadcast(&zk->cond);
    }
    pthread_mutex_unlock(&zk->mu);
}

/* Re-creates our ephemerals in a new session. */
static void reregister(struct zk *zk)
{
    pthread_mutex_lock(&zk->mu);
    struct zk_owned *copy = NULL;
    for (struct zk_owned *o = zk->owned; o; o = o->next) {
        struct zk_owned *c = xcalloc(1, sizeof *c);
        c->path = xstrdup(o->path);
        c->data = xmalloc(o->len + 1);
        memcpy(c->data, o->data, o->len);
        c->len = o->len;
        c->next = copy;
        copy = c;
    }
    pthread_mutex_unlock(&zk->mu);

    while (copy) {
        struct zk_owned *c = copy;
        copy = c->next;
        int rc = zk_create(zk, c->path, c->data, c->len, ZKF_EPHEMERAL, NULL, 0);
        if (rc == ZK_EEXISTS)  /* someone else's node under our name: do not steal it */
            log_warn("zk: %s exists in another session; not re-created", c->path);
        else if (rc == ZK_OK)
            log_info("zk: re-created %s in the new session", c->path);
        free(c->path);
        free(c->data);
        free(c);
    }
}

/* A (re)connection: a new session re-creates what we own; every watch is refetched,
 * which catches what changed while we were away and re-arms the watches of a new session
 * (the old session's watches died with it). */
static void on_connected(struct zk *zk)
{
    pthread_rwlock_rdlock(&zk->hlock);
    long long sid = (long long)zoo_client_id(zk->zh)->client_id;
    int granted = zoo_recv_timeout(zk->zh);
    pthread_rwlock_unlock(&zk->hlock);

    pthread_mutex_lock(&zk->mu);
    int renewed = zk->session_id != 0 && sid != zk->session_id;
    zk->session_id = sid;
    zk->granted_ms = granted;
    pthread_mutex_unlock(&zk->mu);

    log_info("zk: connected, session 0x%llx, timeout %d ms", sid, granted);
    if (renewed)
        reregister(zk);

    pthread_mutex_lock(&zk->mu);
    zk->connected = 1;
    for (struct zk_sub *s = zk->subs; s; s = s->next)
        poke_locked(zk, s);
    pthread_cond_broadcast(&zk->cond);
    pthread_mutex_unlock(&zk->mu);
    notify_state(zk, ZK_STATE_CONNECTED);
}

/* The server expired the session: its ephemerals are gone; open a new one. */
static void on_expired(struct zk *zk)
{
    log_warn("zk: session expired; opening a new one");
    pthread_mutex_lock(&zk->mu);
    zk->connected = 0;
    pthread_mutex_unlock(&zk->mu);
    notify_state(zk, ZK_STATE_EXPIRED);

    pthread_rwlock_wrlock(&zk->hlock);
    close_handle(zk);
    int rc = open_handle(zk);
    pthread_rwlock_unlock(&zk->hlock);
    if (rc < 0) {
        /* Try again in a second by queueing a fake expiry for the (new) generation. */
        struct timespec pause = {1, 0};
        nanosleep(&pause, NULL);
        pthread_mutex_lock(&zk->mu);
        push_locked(zk, EV_SESSION, zk->gen, ZOO_EXPIRED_SESSION_STATE, 0);
        pthread_mutex_unlock(&zk->mu);
    }
}

/* CONNECTING / ASSOCIATING: the connection is lost; the library reconnects by itself, and
 * the session survives if it is back in time. */
static void on_disconnected(struct zk *zk)
{
    pthread_mutex_lock(&zk->mu);
    int was = zk->connected;
    zk->connected = 0;
    pthread_mutex_unlock(&zk->mu);
    if (was)
        log_warn("zk: connection lost; reconnecting");
    notify_state(zk, ZK_STATE_DISCONNECTED);
}

static void on_session(struct zk *zk, unsigned gen, int state)
{
    pthread_mutex_lock(&zk->mu);
    int stale = gen != zk->gen;
    pthread_mutex_unlock(&zk->mu);
    if (stale) /* from a handle we have already replaced */
        return;
    if (state == ZOO_CONNECTED_STATE)
        on_connected(zk);
    else if (state == ZOO_EXPIRED_SESSION_STATE)
        on_expired(zk);
    else if (state == ZOO_AUTH_FAILED_STATE)
        log_error("zk: authentication failed");
    else
        on_disconnected(zk);
}

static void *dispatcher(void *arg)
{
    struct zk *zk = arg;
    pthread_mutex_lock(&zk->mu);
    for (;;) {
        while (!zk->qhead && !zk->stop)
            pthread_cond_wait(&zk->cond, &zk->mu);
        if (zk->stop)
            break;
        struct zk_event *ev = zk->qhead;
        zk->qhead = ev->next;
        if (!zk->qhead)
            zk->qtail = NULL;
        pthread_mutex_unlock(&zk->mu);

        if (ev->kind == EV_SESSION)
            on_session(zk, ev->gen, ev->state);
        else
            deliver(zk, ev->sub_id);
        free(ev);
        pthread_mutex_lock(&zk->mu);
    }
    pthread_mutex_unlock(&zk->mu);
    return NULL;
}

/* ---- lifecycle ---- */

struct zk *zk_new(const char *hosts, int session_ms, long wait_ms)
{
    struct zk *zk = xcalloc(1, sizeof *zk);
    int thread_started = 0;

    /* The library logs every failed connect attempt at ERROR; keep warnings and up. */
    zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
    zk->hosts = xstrdup(hosts);
    zk->session_ms = session_ms;
    zk->reported = -1;
    pthread_rwlock_init(&zk->hlock, NULL);
    pthread_mutex_init(&zk->mu, NULL);
    clock_cond_init(&zk->cond);

    if (pthread_create(&zk->thread, NULL, dispatcher, zk) != 0) {
        log_error("zk: cannot start the dispatcher thread");
        goto fail;
    }
    thread_started = 1;
    pthread_rwlock_wrlock(&zk->hlock);
    int rc = open_handle(zk);
    pthread_rwlock_unlock(&zk->hlock);
    if (rc < 0)
        goto fail;

    if (wait_ms > 0) {
        struct timespec until;
        clock_deadline(&until, wait_ms);
        pthread_mutex_lock(&zk->mu);
        int err = 0;
        while (!zk->connected && err != ETIMEDOUT)
            err = pthread_cond_timedwait(&zk->cond, &zk->mu, &until);
        int ok = zk->connected;
        pthread_mutex_unlock(&zk->mu);
        if (!ok) {
            log_error("zk: no connection to %s within %ld ms", hosts, wait_ms);
            goto fail;
        }
    }
    return zk;
fail:
    if (!thread_started) {
        free(zk->hosts);
        free(zk);
        return NULL;
    }
    zk_free(zk);
    return NULL;
}

void zk_free(struct zk *zk)
{
    if (!zk)
        return;
    pthread_mutex_lock(&zk->mu);
    zk->stop = 1;
    pthread_cond_broadcast(&zk->cond);
    pthread_mutex_unlock(&zk->mu);
    pthread_join(zk->thread, NULL);

    pthread_rwlock_wrlock(&zk->hlock);
    close_handle(zk);  /* a clean close: the server drops our ephemerals now */
    pthread_rwlock_unlock(&zk->hlock);

    while (zk->qhead) {
        struct zk_event *ev = zk->qhead;
        zk->qhead = ev->next;
        free(ev);
    }
    while (zk->subs) {
        struct zk_sub *s = zk->subs;
        zk->subs = s->next;
        free(s->path);
        free(s);
    }
    while (zk->owned) {
        struct zk_owned *o = zk->owned;
        zk->owned = o->next;
        free(o->path);
        free(o->data);
        free(o);
    }
    pthread_cond_destroy(&zk->cond);
    pthread_mutex_destroy(&zk->mu);
    pthread_rwlock_destroy(&zk->hlock);
    free(zk->hosts);
    free(zk);
}

int zk_is_connected(struct zk *zk)
{
    pthread_mutex_lock(&zk->mu);
    int c = zk->connected;
    pthread_mutex_unlock(&zk->mu);
    return c;
}

long long zk_session_id(struct zk *zk)
{
    pthread_mutex_lock(&zk->mu);
    long long sid = zk->session_id;
    pthread_mutex_unlock(&zk->mu);
    return sid;
}

int zk_session_timeout(struct zk *zk)
{
    pthread_mutex_lock(&zk->mu);
    int ms = zk->granted_ms ? zk->granted_ms : zk->session_ms;
    pthread_mutex_unlock(&zk->mu);
    return ms;
}

/* ---- subscriptions ---- */

static int add_sub(struct zk *zk, enum sub_kind kind, const char *path, void *arg, zk_state_cb scb,
                   zk_children_cb ccb, zk_node_cb ncb)
{
    struct zk_sub *s = xcalloc(1, sizeof *s);
    s->kind = kind;
    s->path = path ? xstrdup(path) : NULL;
    s->state_cb = scb;
    s->children_cb = ccb;
    s->node_cb = ncb;
    s->arg = arg;
    pthread_mutex_lock(&zk->mu);
    s->id = ++zk->next_id;
    /* Append, so that listeners run in the order they were added. */
    struct zk_sub **pp = &zk->subs;
    while (*pp)
        pp = &(*pp)->next;
    *pp = s;
    /* The first delivery goes through the queue too: callbacks only ever run on the
     * dispatcher. When not connected, the next connect delivers it. */
    if (zk->connected)
        poke_locked(zk, s);
    int id = s->id;
    pthread_mutex_unlock(&zk->mu);
    return id;
}

int zk_listen(struct zk *zk, zk_state_cb cb, void *arg)
{
    return add_sub(zk, SUB_STATE, NULL, arg, cb, NULL, NULL);
}

int zk_watch_children(struct zk *zk, const char *path, zk_children_cb cb, void *arg)
{
    return add_sub(zk, SUB_CHILDREN, path, arg, NULL, cb, NULL);
}

int zk_watch_node(struct zk *zk, const char *path, zk_node_cb cb, void *arg)
{
    return add_sub(zk, SUB_NODE, path, arg, NULL, NULL, cb);
}

void zk_unwatch(struct zk *zk, int id)
{
    pthread_mutex_lock(&zk->mu);
    struct zk_sub *gone = NULL;
    for (struct zk_sub **pp = &zk->subs; *pp; pp = &(*pp)->next)
        if ((*pp)->id == id) {
            gone = *pp;
            *pp = gone->next;
            break;
        }
    /* Wait out a callback in flight, unless we are that callback. Its server-side watches
     * stay armed until they fire; events for an unknown id are dropped. */
    if (!pthread_equal(pthread_self(), zk->thread))
        while (zk->running_id == id)
            pthread_cond_wait(&zk->cond, &zk->mu);
    pthread_mutex_unlock(&zk->mu);
    if (gone) {
        free(gone->path);
        free(gone);
    }
}

/* ---- test seam ---- */

int zk_test_expire(struct zk *zk)
{
    clientid_t cid;
    pthread_rwlock_rdlock(&zk->hlock);
    if (!zk->zh) {
        pthread_rwlock_unlock(&zk->hlock);
        return ZK_ECONN;
    }
    cid = *zoo_client_id(zk->zh);
    pthread_rwlock_unlock(&zk->hlock);
    if (cid.client_id == 0)
        return ZK_ECONN;

    /* A second handle on the same session, closed cleanly: the server ends the session,
     * and our own handle learns it is expired when it reconnects. */
    zhandle_t *twin = zookeeper_init2(zk->hosts, NULL, zk->session_ms, &cid, NULL, 0, lib_log);
    if (!twin)
        return ZK_ERR;
    for (int i = 0; i < 100 && zoo_state(twin) != ZOO_CONNECTED_STATE; i++) {
        struct timespec pause = {0, 50 * 1000000L};
        nanosleep(&pause, NULL);
    }
    int ok = zoo_state(twin) == ZOO_CONNECTED_STATE;
    zookeeper_close(twin);
    return ok ? ZK_OK : ZK_ERR;
}

void zk_test_close(struct zk *zk)
{
    pthread_rwlock_wrlock(&zk->hlock);
    close_handle(zk);
    pthread_rwlock_unlock(&zk->hlock);
    pthread_mutex_lock(&zk->mu);
    zk->connected = 0;
    zk->gen++;  /* anything still queued from the closed handle is stale */
    pthread_mutex_unlock(&zk->mu);
}
