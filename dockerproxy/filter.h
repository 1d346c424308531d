/* filter.h - which Docker Engine API calls the orchestrator may make: exactly those of its
 * spawners (orchestrator/spawner_docker.c, spawner_swarm.c), and a container or service
 * create only for a worker. */
#ifndef RS_DOCKERPROXY_FILTER_H
#define RS_DOCKERPROXY_FILTER_H

#include <stddef.h>

/* What a create may ask for. Strings are kept by reference. */
struct dproxy_rules {
    const char *image;   /* DOCKERPROXY_IMAGE: the one image workers run */
    const char *network; /* DOCKERPROXY_NETWORK: the one network they join ("" any) */
    const char *volume;  /* DOCKERPROXY_VOLUME: the one named volume they may mount ("" none) */
    const char *label;   /* DOCKERPROXY_LABEL: "key=value" every created container carries */
    const char *service_prefix; /* DOCKERPROXY_SERVICE_PREFIX: the only names a service may
                                 * be created or removed by; unset (the default, compose), NULL
                                 * or "": no service or task call at all */
};

void dproxy_rules_from_env(struct dproxy_rules *r);

/* 0 when method path?query with body is one of the calls allowed; -1 otherwise, with one
 * sentence in why. path is the path the router matched (its "*" segments already checked
 * for shape here), query the raw query string ("" when none). */
int dproxy_check(const struct dproxy_rules *r, const char *method, const char *path, const char *query,
                 const char *body, size_t len, char *why, size_t whylen);

#endif
