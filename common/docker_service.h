/* docker_service.h - Docker Swarm services and their tasks, over the Engine API client
 * (docker.h). A manager node's engine answers these calls.
 *
 * A service made here is one supervised container: one replica, and no restart by Swarm
 * (RestartPolicy "none"): whoever created it decides what happens when it stops. Services
 * are named by name or id interchangeably, as the engine accepts both. */
#ifndef RS_DOCKER_SERVICE_H
#define RS_DOCKER_SERVICE_H

#include "docker.h"

/* What to create. Every list is NULL-terminated; NULL lists and fields are left out. */
struct docker_service_spec {
    const char *name;
    const char *image;
    const char *const *cmd;         /* ContainerSpec.Args (the image's CMD); NULL: the image's */
    const char *const *env;         /* "KEY=value" */
    const char *const *labels;      /* "key=value", on the service and on its container */
    const char *network;            /* an overlay network (name or id) to attach to */
    const char *volume;             /* a named volume mounted at volume_target; NULL: none */
    const char *volume_target;
    long long memory_bytes;         /* Resources.Limits.MemoryBytes; 0 none */
    long pids_limit;                /* Resources.Limits.Pids (API 1.41); 0 none */
    const char *spread;             /* Placement.Preferences spread descriptor (node.labels.x) */
    const char *const *constraints; /* Placement.Constraints ("node.role==worker") */
    const char *stop_signal;        /* ContainerSpec.StopSignal, e.g. "SIGKILL"; NULL: the image's */
};

/* The state of a service's task. */
struct docker_task {
    char state[16];      /* Status.State: "new" ... "starting", "running", "complete", "failed", ... */
    long pid;            /* Status.ContainerStatus.PID, on the task's node; 0 when not running */
    int exit_code;       /* Status.ContainerStatus.ExitCode */
    char container[72];  /* Status.ContainerStatus.ContainerID; "" before there is one */
    char node[40];       /* NodeID */
    char err[160];       /* Status.Err, "" when none */
};

/* Creates the service; its id goes to id_out (caller frees; may be NULL). */
int docker_service_create(struct docker *d, const struct docker_service_spec *spec, char **id_out);
/* Removes the service; Swarm then stops its container with the stop signal. */
int docker_service_remove(struct docker *d, const char *service);
/* Services (their name and labels from Spec), as docker_list gives containers. */
docker_lister docker_service_list;
/* The service's current task: the one Swarm wants running, else the newest. DOCKER_ENOTFOUND
 * when the service does not exist or has no task (yet). */
int docker_service_task(struct docker *d, const char *service, struct docker_task *out);
/* 1 when a task in this state has ended for good (complete, failed, shutdown, rejected,
 * orphaned, remove), 0 while it may still run. */
int docker_task_ended(const char *state);

#endif
