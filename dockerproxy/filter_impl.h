/* filter_impl.h - what filter.c shares with filter_swarm.c; not for other callers. */
#ifndef RS_DOCKERPROXY_FILTER_IMPL_H
#define RS_DOCKERPROXY_FILTER_IMPL_H

#include <jansson.h>
#include <stddef.h>

#include "filter.h"

/* Writes one sentence to why and returns -1. */
int dproxy_refuse(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* 1 when every key of obj is in allowed (NULL-terminated); else 0 with *bad the first other. */
int dproxy_keys_within(json_t *obj, const char *const *allowed, const char **bad);
/* 1 when the labels object carries r->label ("key=value"). */
int dproxy_has_label(const struct dproxy_rules *r, json_t *labels);

/* filter_swarm.c: a service create's body, and a service name (for a remove). */
int dproxy_check_service_create(const struct dproxy_rules *r, const char *body, size_t len, char *why, size_t whylen);
int dproxy_check_service_name(const struct dproxy_rules *r, const char *name, char *why, size_t whylen);

#endif
