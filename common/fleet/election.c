/* election.c - lowest-pid-wins master election over ZooKeeper (see election.h). */
#include "election.h"

#include "log.h"
#include "membership.h"
#include "xalloc.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct election {
    struct zk *zk;
    char *id;
    char *node;  /* our candidate znode */
    int seeder;  /* standing under ZKP_SEEDERS: only when there is no synced candidate */
    election_cb cb;
    void *arg;
    atomic_int role; /* an enum election_role: written by the dispatcher, read by any thread */
    int sub_state, sub_master, sub_cands, sub_seeders;
};

static void set_role(struct election *el, enum election_role role)
{
    static const char *const names[] = {"unknown", "slave", "master"};
    enum election_role was = (enum election_role)atomic_exchange(&el->role, (int)role);
    if (was == role)
        return;
    log_info("election: %s is now %s (was %s)", el->id, names[role], names[was]);
    if (el->cb)
        el->cb(role, el->arg);
}

/* 1 when our node sorts first among parent's children, 0 when not (or parent is empty:
 * *n says which), negative on error. */
static int lowest_under(struct election *el, const char *parent, size_t *n)
{
    struct zk_child *kids = NULL;
    *n = 0;
    if (zk_children(el->zk, parent, &kids, n) < 0)
        return -1;
    const char *mine = strrchr(el->node, '/') + 1;
    int lowest = *n > 0 && strcmp(kids[0].name, mine) == 0;
    zk_children_free(kids, *n);
    return lowest;
}

/* 1 when it is our turn to take the vacant master node: the lowest synced candidate, or
 * the lowest seeder while no synced candidate stands. 0 when not, negative on error. */
static int our_turn(struct election *el)
{
    size_t synced = 0, seeders = 0;
    int lowest = lowest_under(el, ZKP_ELECTION, &synced);
    if (lowest < 0 || !el->seeder)
        return lowest;
    if (synced > 0)
        return 0; /* a synced copy outranks every seeder */
    return lowest_under(el, ZKP_SEEDERS, &seeders);
}

/* Decides our role from what the server says now. Runs on the dispatcher only, so two
 * evaluations never race; a race with other candidates is settled by the atomic create. */
static void evaluate(struct election *el)
{
    if (!zk_is_connected(el->zk)) {
        set_role(el, ELECTION_UNKNOWN);
        return;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        char *holder = NULL;
        int rc = zk_get(el->zk, ZKP_MASTER, &holder, NULL);
        if (rc == ZK_OK) {
            set_role(el, strcmp(holder, el->id) == 0 ? ELECTION_MASTER : ELECTION_SLAVE);
            free(holder);
            return;
        }
        if (rc != ZK_ENONODE)
            goto unknown;
        int turn = our_turn(el);
        if (turn < 0)
            goto unknown;
        if (!turn) {
            /* The lowest candidate will take it; the master watch tells us when it has. */
            set_role(el, ELECTION_SLAVE);
            return;
        }
        rc = zk_create(el->zk, ZKP_MASTER, el->id, strlen(el->id), ZKF_EPHEMERAL, NULL, 0);
        if (rc == ZK_OK) {
            set_role(el, ELECTION_MASTER);
            return;
        }
        if (rc != ZK_EEXISTS)
            goto unknown;
        /* Someone got there first (it saw a different candidate list): read who. */
    }
unknown:
    set_role(el, ELECTION_UNKNOWN);
}

static void on_state(enum zk_state state, void *arg)
{
    /* Reconnects re-deliver the watches below, which re-evaluate. */
    if (state != ZK_STATE_CONNECTED)
        set_role(arg, ELECTION_UNKNOWN);
}

static void on_master(const char *path, const char *data, size_t len, void *arg)
{
    (void)path;
    (void)data;
    (void)len;
    evaluate(arg);
}

static void on_candidates(const char *path, const struct zk_child *kids, size_t n, void *arg)
{
    (void)path;
    (void)kids;
    (void)n;
    evaluate(arg);
}

static struct election *stand(struct zk *zk, const char *worker_id, long pid, int seeder, election_cb cb, void *arg)
{
    if (pid <= 0 || pid > 9999999999L || !worker_id || !*worker_id || strchr(worker_id, '/')) {
        log_error("election: bad candidate id \"%s\" pid %ld", worker_id ? worker_id : "", pid);
        return NULL;
    }
    struct election *el = xcalloc(1, sizeof *el);
    el->zk = zk;
    el->id = xstrdup(worker_id);
    el->seeder = seeder;
    const char *parent = seeder ? ZKP_SEEDERS : ZKP_ELECTION;
    el->node = membership_candidate_path(parent, pid, worker_id);
    el->cb = cb;
    el->arg = arg;
    atomic_init(&el->role, ELECTION_UNKNOWN);

    if (zk_ensure_path(zk, ZKP_ELECTION) < 0 || zk_ensure_path(zk, ZKP_SEEDERS) < 0)
        goto fail;
    /* Owned: after a session expiry zk.c puts us back in the race with the same name. */
    int rc = zk_create(zk, el->node, el->id, strlen(el->id), ZKF_EPHEMERAL | ZKF_OWNED, NULL, 0);
    if (rc < 0) {
        log_error("election: cannot create %s (%d)", el->node, rc);
        goto fail;
    }
    el->sub_state = zk_listen(zk, on_state, el);
    el->sub_master = zk_watch_node(zk, ZKP_MASTER, on_master, el);
    el->sub_cands = zk_watch_children(zk, ZKP_ELECTION, on_candidates, el);
    if (seeder)
        el->sub_seeders = zk_watch_children(zk, ZKP_SEEDERS, on_candidates, el);
    return el;
fail:
    free(el->node);
    free(el->id);
    free(el);
    return NULL;
}

struct election *election_new(struct zk *zk, const char *worker_id, long pid, election_cb cb, void *arg)
{
    return stand(zk, worker_id, pid, 0, cb, arg);
}

struct election *election_new_seeder(struct zk *zk, const char *worker_id, long pid, election_cb cb, void *arg)
{
    return stand(zk, worker_id, pid, 1, cb, arg);
}

int election_settle(struct election *el)
{
    if (!el->seeder)
        return 0;
    const char *name = strrchr(el->node, '/') + 1;
    char *node = xasprintf(ZKP_ELECTION "/%s", name);
    /* The synced node first: a moment with both is harmless, one with neither is not. */
    int rc = zk_create(el->zk, node, el->id, strlen(el->id), ZKF_EPHEMERAL | ZKF_OWNED, NULL, 0);
    if (rc < 0 && rc != ZK_EEXISTS) {
        free(node);
        return rc;
    }
    if (el->sub_seeders > 0)
        zk_unwatch(el->zk, el->sub_seeders);
    el->sub_seeders = 0;
    zk_delete(el->zk, el->node);
    free(el->node);
    el->node = node;
    el->seeder = 0;
    return 0;
}

void election_free(struct election *el)
{
    if (!el)
        return;
    if (el->sub_seeders > 0)
        zk_unwatch(el->zk, el->sub_seeders);
    zk_unwatch(el->zk, el->sub_cands);
    zk_unwatch(el->zk, el->sub_master);
    zk_unwatch(el->zk, el->sub_state);
    zk_delete(el->zk, el->node);
    char *holder = NULL;
    /* Check-then-delete is safe: only our own session could have created it with our id. */
    if (zk_get(el->zk, ZKP_MASTER, &holder, NULL) == ZK_OK && strcmp(holder, el->id) == 0)
        zk_delete(el->zk, ZKP_MASTER);
    free(holder);
    free(el->node);
    free(el->id);
    free(el);
}

enum election_role election_role(struct election *el)
{
    return (enum election_role)atomic_load(&el->role);
}

int election_is_master(struct election *el)
{
    return election_role(el) == ELECTION_MASTER;
}

char *election_master_id(struct zk *zk)
{
    char *holder = NULL;
    if (zk_get(zk, ZKP_MASTER, &holder, NULL) < 0)
        return NULL;
    return holder;
}
