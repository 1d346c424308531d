/* election.h - master election through ZooKeeper, ordered by container pid.
 *
 * Every candidate holds an ephemeral /rideshare/election/<pid, 10 digits>-<worker-id>.
 * Whenever /rideshare/master is missing, the candidate whose node sorts first (the lowest
 * pid that is alive; equal pids, possible across machines, by worker id) creates the
 * ephemeral /rideshare/master with its worker id as data.
 * The create is atomic, so there is never more than one master; a master keeps the role
 * until its session ends, even when a lower pid joins later. Needs only ZooKeeper, so it
 * works while the orchestrator is down. */
#ifndef RS_FLEET_ELECTION_H
#define RS_FLEET_ELECTION_H

#include "zk.h"

struct election;

enum election_role {
    ELECTION_UNKNOWN,  /* disconnected from ZooKeeper: a master must stop taking writes */
    ELECTION_SLAVE,    /* someone else is master, or the election is not ours to win yet */
    ELECTION_MASTER,   /* we hold /rideshare/master */
};

/* Called on every change of role, on the zk dispatcher thread (see zk.h). */
typedef void (*election_cb)(enum election_role role, void *arg);

/* Enters the election as worker_id with pid (> 0); cb may be NULL. NULL on error. */
struct election *election_new(struct zk *zk, const char *worker_id, long pid, election_cb cb, void *arg);
/* Enters as a seeder: a worker without a synced copy, under /rideshare/seeders. It takes a
 * vacant master node only while no synced candidate stands, lowest pid first, and then
 * seeds its copy from the freshest file (worker/seed.h). This is what keeps a fleet that
 * lost every synced copy (a slave and the master crashed together) from waiting forever. */
struct election *election_new_seeder(struct zk *zk, const char *worker_id, long pid, election_cb cb, void *arg);
/* A seeder that won and now holds a complete copy stands as a synced candidate from now
 * on, keeping the master node (a no-op for a synced candidate). Not from the callback. */
int election_settle(struct election *el);
/* Leaves the election: removes our candidate node, and /rideshare/master if we hold it,
 * so a successor is elected at once. Not from the callback. */
void election_free(struct election *el);

enum election_role election_role(struct election *el);
int election_is_master(struct election *el);
/* The current master's worker id (caller frees) or NULL when there is none. */
char *election_master_id(struct zk *zk);

#endif
