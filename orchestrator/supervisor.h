/* supervisor.h - keeps the worker fleet whole: one master, the wanted number of slaves.
 *
 * Membership comes from ZooKeeper (/rideshare/workers, watched); liveness from the
 * spawner (docker inspect or waitpid). One thread acts: it respawns what died, publishes
 * the pids of the workers it starts, applies the autoscaler's count and removes what is
 * dead or surplus. Callbacks and HTTP handlers only record facts and wake it.
 *
 * While ZooKeeper is unreachable it does nothing: an unknown fleet is never "repaired".
 * After a restart it adopts the workers the spawner lists (docker labels); the election
 * in ZooKeeper, not this module, picks the master, so a restart never makes a second one. */
#ifndef RS_SUPERVISOR_H
#define RS_SUPERVISOR_H

#include "events.h"
#include "http_server.h"
#include "metrics.h"
#include "spawner.h"
#include "zk.h"

struct supervisor_cfg {
    double scale_interval; /* SCALE_INTERVAL seconds, default 120 */
    int max_slaves;        /* MAX_SLAVES, default 8 */
    long grace_ms;         /* SPAWN_GRACE_MS, default 30000: time a new worker has to register */
};

typedef struct supervisor supervisor;

void supervisor_cfg_from_env(struct supervisor_cfg *cfg);
/* sp and zk are borrowed and must outlive the supervisor. */
supervisor *supervisor_new(const struct supervisor_cfg *cfg, struct spawner *sp, struct zk *zk);
/* Adopts the existing fleet, starts the watch and the acting thread. */
int supervisor_start(supervisor *s);
void supervisor_free(supervisor *s);

/* Records what it does on ev (borrowed; call before supervisor_start), and calls
 * master_down(ud) when it kills or buries the master (the failover clock starts). */
void supervisor_set_events(supervisor *s, events *ev, void (*master_down)(void *ud), void *ud);
/* The fleet for GET /api/v1/fleet: {"workers": [{id, pid, role, state, seq, lag,
 * uptime_s}...], "autoscaler": {reads, seconds_left, interval_s, slaves_wanted,
 * slaves_next, max_slaves}}; and the workers by role, for the charts. */
json_t *supervisor_fleet(supervisor *s);
void supervisor_counts(supervisor *s, int *masters, int *slaves, int *starting);

/* Counts one db/read for the autoscaler (a dbapi read hook; ud is the supervisor). */
void supervisor_count_read(void *ud);

/* Appends the fleet's series (each worker's role, applied sequence and lag behind
 * acked_seq, workers by role, slaves wanted, starts, removals by reason, scale events)
 * in the Prometheus text format. */
void supervisor_metrics(supervisor *s, metrics *m, long long acked_seq);

/* POST /api/v1/crash/master, POST /api/v1/crash/slave, GET /api/v1/worker/list. */
http_reply *supervisor_crash_master(http_req *req, void *ud);
http_reply *supervisor_crash_slave(http_req *req, void *ud);
http_reply *supervisor_worker_list(http_req *req, void *ud);

#endif
