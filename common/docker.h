/* docker.h - a small Docker Engine API client over the engine's unix socket (libcurl).
 *
 * Never shells out to the docker CLI. Containers are named by id or name interchangeably,
 * as the engine accepts both. One struct docker serialises its requests on one keep-alive
 * connection; it is safe to share between threads. */
#ifndef RS_DOCKER_H
#define RS_DOCKER_H

#include <jansson.h>

struct docker;

enum {
    DOCKER_OK = 0,
    DOCKER_ERR = -1,        /* transport failure or an unexpected answer (logged) */
    DOCKER_ENOTFOUND = -2,  /* no such container or image */
    DOCKER_ECONFLICT = -3,  /* e.g. the name is taken */
};

/* What to create. Every list is NULL-terminated; NULL lists and fields are left out. */
struct docker_spec {
    const char *image;
    const char *name;              /* container name, optional */
    const char *const *cmd;        /* argv; NULL: the image's default */
    const char *const *env;        /* "KEY=value" */
    const char *const *labels;     /* "key=value" */
    const char *network;           /* HostConfig.NetworkMode, e.g. a compose network */
    const char *const *binds;      /* "volume-or-host-path:/container/path[:ro]" */
    const char *const *volumes;    /* container paths that get a fresh anonymous volume */
};

struct docker_state {
    long pid;     /* State.Pid on the host; 0 when not running */
    int running;  /* State.Running */
    int exit_code;
};

/* One entry of docker_list. */
struct docker_container {
    char *id;
    char *name;    /* without the leading '/' */
    char *state;   /* "created", "running", "exited", ... */
    json_t *labels; /* the container's labels, an object (owned by the list) */
};

/* sock: the engine's unix socket (DOCKER_SOCK, default /var/run/docker.sock). Does not
 * contact the engine; see docker_ping. */
struct docker *docker_new(const char *sock);
void docker_free(struct docker *d);

/* 0 when the engine answers; also settles the API version: /v1.41, or the engine's own
 * version if older. */
int docker_ping(struct docker *d);

/* Creates a container; its id goes to id_out (caller frees; may be NULL). */
int docker_create(struct docker *d, const struct docker_spec *spec, char **id_out);
int docker_start(struct docker *d, const char *container);
int docker_inspect(struct docker *d, const char *container, struct docker_state *st);
/* Sends signal sig (a number, e.g. SIGKILL); a container that is not running is an error. */
int docker_kill(struct docker *d, const char *container, int sig);
/* Removes the container, killing it if needed, with its anonymous volumes. */
int docker_remove(struct docker *d, const char *container);
/* Containers (running or not) that carry every label in labels ("key=value", NULL-terminated). */
int docker_list(struct docker *d, const char *const *labels, struct docker_container **out, size_t *n);
void docker_list_free(struct docker_container *list, size_t n);

/* 1 if the image exists locally, 0 if not, negative on error. */
int docker_image_exists(struct docker *d, const char *image);
/* Imports a root filesystem tarball as image repo:tag (POST /images/create?fromSrc=-). */
int docker_image_import(struct docker *d, const char *tar_path, const char *repo, const char *tag);

#endif
