/* docker.h - a small Docker Engine API client over the engine's unix socket (libcurl).
 *
 * Never shells out to the docker CLI. Containers are named by id or name interchangeably,
 * as the engine accepts both. One struct docker serialises its requests on one keep-alive
 * connection; it is safe to share between threads. */
#ifndef RS_DOCKER_H
#define RS_DOCKER_H

#include <curl/curl.h>
#include <jansson.h>

#include "sbuf.h"

struct docker;

/* The options of one request to an Engine on its unix socket sock, on a fresh (or reset)
 * handle: method, url, the answer's bytes into resp, the timeouts. The docker proxy, which
 * passes requests on to the Engine, sets its requests up the same way. */
void docker_curl_request(CURL *c, const char *sock, const char *method, const char *url, sbuf *resp);

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
    long long memory_bytes;        /* HostConfig.Memory (= MemorySwap: no swap beyond it); 0 none */
    long pids_limit;               /* HostConfig.PidsLimit; 0 none */
};

struct docker_state {
    long pid;     /* State.Pid on the host; 0 when not running */
    int running;  /* State.Running */
    int exit_code;
};

/* One entry of a listing: a container (docker_list) or a service (docker_service_list). */
struct docker_object {
    char *id;
    char *name;     /* a container's without the leading '/' */
    char *state;    /* a container's: "created", "running", "exited", ...; "" for a service */
    json_t *labels; /* its labels (a service's Spec.Labels), an object owned by the list */
};
/* What both listings have in common: the objects carrying every label in labels
 * ("key=value", NULL-terminated). A DOCKER_* status; *out is freed by docker_objects_free. */
typedef int docker_lister(struct docker *d, const char *const *labels, struct docker_object **out, size_t *n);
void docker_objects_free(struct docker_object *list, size_t n);

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
/* Containers, running or not. */
docker_lister docker_list;

/* Any other Engine call (docker_service.c builds on it): method on path under the API
 * version prefix (e.g. "/services/create"), body a JSON document or NULL; the parsed
 * answer goes to *out when out is not NULL (caller decrefs). A DOCKER_* status. */
int docker_call(struct docker *d, const char *method, const char *path, const json_t *body, json_t **out);
/* Where one entry of a listing keeps its parts (borrowed from the answer; NULL: absent). */
struct docker_object_src {
    const char *id, *name, *state;
    json_t *labels;
};
typedef void docker_object_parse(json_t *entry, struct docker_object_src *src);
/* A listing (docker_list, docker_service_list): GET path filtered by labels, each entry
 * read by parse. */
int docker_list_objects(struct docker *d, const char *path, const char *const *labels, docker_object_parse *parse,
                        struct docker_object **out, size_t *n);
/* GET <path> with filters={"<key>": [values...]} (path may hold a query of its own), the
 * answer an array in *out (caller decrefs). A DOCKER_* status. */
int docker_get_filtered(struct docker *d, const char *path, const char *key, const char *const *values, json_t **out);

/* 1 if the image exists locally, 0 if not, negative on error. */
int docker_image_exists(struct docker *d, const char *image);
/* Imports a root filesystem tarball as image repo:tag (POST /images/create?fromSrc=-). */
int docker_image_import(struct docker *d, const char *tar_path, const char *repo, const char *tag);

#endif
