/* membership.h - the fleet's layout in ZooKeeper, in one place.
 *
 *   /rideshare/workers/<worker-id>   ephemeral, owned by the worker's session; data
 *                                    {"id": "<worker-id>", "role": "master"|"slave", "pid": <pid or 0>,
 *                                     "seq": <applied write sequence, reported about once a second>,
 *                                     "state": "starting"|"copying"|"serving"|"resyncing"}
 *   /rideshare/pids/<worker-id>      persistent, written by the orchestrator once it knows the
 *                                    worker's host pid (a container cannot see its own); data "<pid>"
 *   /rideshare/election/<pid>-<id>   ephemeral candidates, pid zero-padded to 10 digits (election.h)
 *   /rideshare/master                ephemeral, data "<worker-id>": whoever created it is master
 *   /rideshare/seeders/<pid>-<id>    ephemeral candidates that hold no synced copy: they stand
 *                                    only when the fleet has had no master and no synced
 *                                    candidate for a while, and seed from the freshest file
 *   /rideshare/term                  persistent, data "<n>": the current master's term, the
 *                                    fencing token (term.h); only grows */
#ifndef RS_FLEET_MEMBERSHIP_H
#define RS_FLEET_MEMBERSHIP_H

#include "zk.h"

#define ZKP_ROOT "/rideshare"
#define ZKP_WORKERS "/rideshare/workers"
#define ZKP_PIDS "/rideshare/pids"
#define ZKP_ELECTION "/rideshare/election"
#define ZKP_MASTER "/rideshare/master"
#define ZKP_SEEDERS "/rideshare/seeders"
#define ZKP_TERM "/rideshare/term"

#define MEMBER_ID_MAX 64 /* a worker id and its NUL, wherever one is kept */

/* A worker's role. On the wire (member nodes, WORKER_ROLE, the spawner's labels) it is
 * its name; in the programs, this. */
enum member_role { MEMBER_ROLE_NONE, MEMBER_MASTER, MEMBER_SLAVE };
/* "master", "slave", or "" for none. */
const char *member_role_name(enum member_role role);
/* The role named s; MEMBER_ROLE_NONE for anything else, NULL included. */
enum member_role member_role_of(const char *s);

struct member {
    char id[MEMBER_ID_MAX];
    char role[8];  /* "master" or "slave" */
    long pid;      /* 0 until known */
    long long seq; /* the applied write sequence it last reported; -1: none yet */
    char state[12]; /* MEMBER_STATE_*; "" when the worker reported none */
};

/* What a worker is doing, in its member node (the dashboard shows it). */
#define MEMBER_STATE_STARTING "starting"   /* registered, no copy yet */
#define MEMBER_STATE_COPYING "copying"     /* a new slave waiting for its first snapshot */
#define MEMBER_STATE_SERVING "serving"     /* a slave serving reads, or the master */
#define MEMBER_STATE_RESYNCING "resyncing" /* a slave that lost its place, copying again */

/* The znode of id's election candidate under parent (ZKP_ELECTION or ZKP_SEEDERS), its pid
 * zero-padded to 10 digits so that candidates sort by pid (election.h). The caller frees it. */
char *membership_candidate_path(const char *parent, long pid, const char *id);

/* Creates the persistent parents of the layout; idempotent. */
int membership_init(struct zk *zk);
/* The worker's own znode, re-created by zk.c after a session expiry. */
int membership_register(struct zk *zk, const char *id, const char *role, long pid);
/* Rewrites the worker's znode data (e.g. a slave that became master). */
int membership_update(struct zk *zk, const char *id, const char *role, long pid);
/* The same, with the state (NULL: none) and the applied write sequence (< 0: none), for
 * the orchestrator's lag metrics and dashboard. */
int membership_report(struct zk *zk, const char *id, const char *role, const char *state, long pid, long long seq);
/* Parses one child of ZKP_WORKERS as delivered by zk_watch_children; -1 if malformed. */
int membership_parse(const struct zk_child *kid, struct member *out);

/* Orchestrator: records a worker's host pid (persistent, overwritten if present). */
int membership_publish_pid(struct zk *zk, const char *id, long pid);
/* The pid published for id: ZK_ENONODE until the orchestrator has written it. */
int membership_read_pid(struct zk *zk, const char *id, long *pid);
/* Polls membership_read_pid until it succeeds or timeout_ms passes. */
int membership_wait_pid(struct zk *zk, const char *id, long timeout_ms, long *pid);
/* Removes what a dead worker left in ZooKeeper: its member node, its election candidate
 * and /rideshare/master if it held it, so the fleet reacts now instead of after the dead
 * session times out. Only for a worker known to be dead. */
int membership_evict(struct zk *zk, const char *id, long pid);
/* Drops the pid record of a worker that is gone for good; a missing record is fine. */
int membership_forget_pid(struct zk *zk, const char *id);

#endif
