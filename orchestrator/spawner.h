/* spawner.h - starts and stops workers, as containers, Swarm services or child processes.
 *
 * SPAWNER=docker (default), SPAWNER=swarm or SPAWNER=process picks the backend. Every worker gets the
 * environment WORKER_ID, WORKER_ROLE, DB_PATH, plus ZK_*, AMQP_*, LOG_LEVEL, ... copied
 * from ours, plus the caller's extra variables (which win).
 *  - docker: one container per worker, labelled rideshare.role=worker,
 *    rideshare.fleet=<fleet>, rideshare.worker-id=<id>; spawner_list asks the engine, so a
 *    restarted orchestrator finds its fleet again. Workers outlive the orchestrator.
 *  - swarm: one Docker Swarm service per worker (spawner_swarm.c): one replica, never
 *    restarted by Swarm, the same labels on the service and its container, on the overlay
 *    network DOCKER_NETWORK, spread over the nodes by the node label WORKER_SPREAD. The pid
 *    is the task's (Status.ContainerStatus.PID), a pid on whichever node it runs: pids of
 *    two nodes may be equal (the election breaks ties by worker id, election.h). A kill
 *    removes the service; spawner_list asks the managers, so a restarted orchestrator, on
 *    any node, finds its fleet again. Needs a manager's engine.
 *  - process: fork/exec of WORKER_BIN; children are reaped by a thread of the spawner
 *    (no zombies), die with the orchestrator (PR_SET_PDEATHSIG), and spawner_list knows
 *    only the children of this process. */
#ifndef RS_SPAWNER_H
#define RS_SPAWNER_H

#include <stddef.h>

#include "fleet/membership.h"

struct spawner;

enum {
    SPAWNER_OK = 0,
    SPAWNER_ERR = -1,
    SPAWNER_ENOTFOUND = -2,  /* no such worker */
    SPAWNER_ENOTRUNNING = -3, /* kill: the worker has already stopped */
};

struct spawner_cfg {
    const char *kind;               /* SPAWNER: "docker" (default), "swarm" or "process" */
    const char *fleet;              /* FLEET, default "rideshare": label value and name prefix */
    /* docker */
    const char *docker_sock;        /* DOCKER_SOCKET or DOCKER_SOCK, default /var/run/docker.sock */
    const char *image;              /* WORKER_IMAGE, default rideshare-worker:latest */
    const char *network;            /* DOCKER_NETWORK; NULL/empty: the engine's default */
    const char *volume;             /* WORKER_VOLUME: named volume shared by workers; empty:
                                     * an anonymous volume per worker, removed with it */
    const char *container_data_dir; /* WORKER_DATA_DIR, default /data: where the volume sits */
    const char *const *cmd;         /* the container's command; NULL: the image's own */
    long memory_mb;                 /* WORKER_MEMORY_MB, default 256: memory (and swap) cap; 0 none */
    long pids_limit;                /* WORKER_PIDS_LIMIT, default 256: process/thread cap; 0 none */
    /* swarm (and the docker fields above but cmd's; memory without a swap cap) */
    const char *spread;             /* WORKER_SPREAD, default node.labels.rideshare.node: the
                                     * placement preference's spread descriptor; "" none */
    long start_timeout_ms;          /* WORKER_START_TIMEOUT_MS, default 60000: until the task runs */
    /* process */
    const char *worker_bin;         /* WORKER_BIN, default build/rel/worker */
    const char *data_dir;           /* DATA_DIR, default /tmp/rideshare-data: <id>.db files */
};

/* One worker as the backend sees it. */
struct spawner_worker {
    char id[MEMBER_ID_MAX];
    char role[8];      /* the role it was started with ("master" / "slave") */
    long pid;          /* container State.Pid, the task's pid (swarm), or the child's pid; 0 when
                        * not running */
    int running;
    int exit_code;     /* meaningful when !running */
    char handle[72];   /* docker: the container id; swarm: the service id; process: "" */
};

/* Fills cfg from the environment (pointers into the environment: do not free). */
void spawner_cfg_from_env(struct spawner_cfg *cfg);

/* NULL on error: unknown kind, or (docker) an engine that does not answer. */
struct spawner *spawner_new(const struct spawner_cfg *cfg);
/* docker: frees only (workers keep running); process: stops and reaps every child. */
void spawner_free(struct spawner *sp);
/* "docker", "swarm" or "process". */
const char *spawner_kind(const struct spawner *sp);

/* Starts a worker in role ("master" or "slave") with a fresh id; extra_env ("K=V",
 * NULL-terminated, may be NULL) is added to its environment. Fills *out, pid included. */
int spawner_start(struct spawner *sp, const char *role, const char *const *extra_env, struct spawner_worker *out);
/* The current state of worker id. */
int spawner_inspect(struct spawner *sp, const char *id, struct spawner_worker *out);
/* Sends signal sig to worker id. */
int spawner_kill(struct spawner *sp, const char *id, int sig);
/* Stops the worker if needed and forgets it: container removed (with an anonymous volume),
 * or child killed and reaped. Database files in DATA_DIR or on WORKER_VOLUME stay, so a
 * fleet that loses every live copy at once restarts from the freshest one. */
int spawner_remove(struct spawner *sp, const char *id);
/* Every worker of this fleet, running or not; *out is one array (free()), NULL when *n == 0. */
int spawner_list(struct spawner *sp, struct spawner_worker **out, size_t *n);

#endif
