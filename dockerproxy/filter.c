/* filter.c - the allow list of the Docker socket proxy. A path filter alone would still let
 * a create ask for a privileged container or a bind mount of the host's / (root on the
 * host), so a create's body is checked too: only the fields the spawner sends, the worker
 * image, the fleet's network and volume, resource limits. */
#include "filter_impl.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

void dproxy_rules_from_env(struct dproxy_rules *r)
{
    r->image = config_str("DOCKERPROXY_IMAGE", "rideshare-worker:latest");
    r->network = config_str("DOCKERPROXY_NETWORK", "rideshare");
    r->volume = config_str("DOCKERPROXY_VOLUME", "rideshare-worker-data");
    r->label = config_str("DOCKERPROXY_LABEL", "rideshare.role=worker");
    r->service_prefix = config_str("DOCKERPROXY_SERVICE_PREFIX", "");
}

int dproxy_refuse(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -1;
}

/* 1 when s is made of the characters in set only and 1 <= its length <= max. */
static int token_of(const char *s, size_t len, const char *set, size_t max)
{
    if (len == 0 || len > max)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!strchr(set, s[i]) || s[i] == '\0')
            return 0;
    return 1;
}

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

/* Each "/"-separated segment of path: "v1.NN" after the first "/", container names and
 * ids elsewhere; the router matched the literal ones. */
static int check_segments(const char *path, char *why, size_t whylen)
{
    const char *p = path + 1;
    for (int i = 0; *p; i++) {
        size_t n = strcspn(p, "/");
        if (i == 0 && strncmp(path, "/version", 9) != 0 &&
            !(n >= 4 && n <= 6 && strncmp(p, "v1.", 3) == 0 && token_of(p + 3, n - 3, "0123456789", 3)))
            return dproxy_refuse(why, whylen, "the API version segment must be v1.NN");
        if (!token_of(p, n, ALNUM "_.-", 128))
            return dproxy_refuse(why, whylen, "a path segment holds characters outside [A-Za-z0-9_.-]");
        p += n + (p[n] == '/');
    }
    return 0;
}

/* Every key of query is one of keys (a NUL-separated list ending in ""); a key named
 * numeric must have a decimal value. */
static int check_query(const char *query, const char *keys, const char *numeric, char *why, size_t whylen)
{
    for (const char *q = query; *q;) {
        size_t n = strcspn(q, "&"), k = strcspn(q, "=&");
        int known = 0;
        for (const char *key = keys; *key; key += strlen(key) + 1)
            if (strlen(key) == k && strncmp(q, key, k) == 0)
                known = 1;
        if (!known)
            return dproxy_refuse(why, whylen, "query argument \"%.*s\" is not allowed here", (int)(k > 32 ? 32 : k), q);
        if (numeric && strlen(numeric) == k && strncmp(q, numeric, k) == 0 &&
            !(k < n && token_of(q + k + 1, n - k - 1, "0123456789", 2)))
            return dproxy_refuse(why, whylen, "%s must be a signal number", numeric);
        q += n + (q[n] == '&');
    }
    return 0;
}

/* 1 when every key of obj is in allowed (NULL-terminated). */
int dproxy_keys_within(json_t *obj, const char *const *allowed, const char **bad)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, key) != 0)
            a++;
        if (!*a) {
            *bad = key;
            return 0;
        }
    }
    return 1;
}

static int check_host_config(const struct dproxy_rules *r, json_t *hc, char *why, size_t whylen)
{
    static const char *const allowed[] = {"Binds", "NetworkMode", "Memory", "MemorySwap", "PidsLimit", NULL};
    const char *bad = NULL;
    if (!json_is_object(hc) || !dproxy_keys_within(hc, allowed, &bad))
        return dproxy_refuse(why, whylen, "HostConfig.%.40s is not allowed", bad ? bad : "(not an object)");
    json_t *net = json_object_get(hc, "NetworkMode");
    if (net && *r->network && !(json_is_string(net) && strcmp(json_string_value(net), r->network) == 0))
        return dproxy_refuse(why, whylen, "HostConfig.NetworkMode must be %s", r->network);
    json_t *binds = json_object_get(hc, "Binds"), *b;
    size_t i, vlen = strlen(r->volume);
    if (binds && !json_is_array(binds))
        return dproxy_refuse(why, whylen, "HostConfig.Binds must be an array");
    json_array_foreach(binds, i, b) {
        const char *s = json_string_value(b);
        /* "<volume>:/<path>" with no mode or ",rw"-style options beyond the path */
        if (!s || !vlen || strncmp(s, r->volume, vlen) != 0 || s[vlen] != ':' || s[vlen + 1] != '/' ||
            strchr(s + vlen + 1, ':'))
            return dproxy_refuse(why, whylen, "only the volume %s may be mounted", *r->volume ? r->volume : "(none)");
    }
    return 0;
}

int dproxy_has_label(const struct dproxy_rules *r, json_t *labels)
{
    const char *eq = strchr(r->label, '=');
    char key[128];
    snprintf(key, sizeof key, "%.*s", eq ? (int)(eq - r->label) : (int)strlen(r->label), r->label);
    const char *val = json_string_value(json_object_get(labels, key));
    return val && strcmp(val, eq ? eq + 1 : "") == 0;
}

static int check_create(const struct dproxy_rules *r, const char *body, size_t len, char *why, size_t whylen)
{
    static const char *const allowed[] = {"Image", "Cmd", "Env", "Labels", "Volumes", "HostConfig", NULL};
    const char *bad = NULL;
    int rc = -1;
    json_t *spec = json_loadb(body, len, 0, NULL);
    if (!json_is_object(spec)) {
        dproxy_refuse(why, whylen, "a create needs a JSON object body");
        goto out;
    }
    if (!dproxy_keys_within(spec, allowed, &bad)) {
        dproxy_refuse(why, whylen, "field %.40s is not allowed in a create", bad);
        goto out;
    }
    const char *image = json_string_value(json_object_get(spec, "Image"));
    if (!image || strcmp(image, r->image) != 0) {
        dproxy_refuse(why, whylen, "only image %s may be started", r->image);
        goto out;
    }
    if (!dproxy_has_label(r, json_object_get(spec, "Labels"))) {
        dproxy_refuse(why, whylen, "a created container must carry the label %s", r->label);
        goto out;
    }
    json_t *hc = json_object_get(spec, "HostConfig");
    rc = hc ? check_host_config(r, hc, why, whylen) : 0;
out:
    json_decref(spec);
    return rc;
}

/* 1 when the path's second segment (after the API version) is what: "/v1.41/<what>/...". */
static int second_segment_is(const char *path, const char *what)
{
    const char *p = strchr(path + 1, '/');
    size_t n = strlen(what);
    return p && strncmp(p + 1, what, n) == 0 && (p[1 + n] == '/' || p[1 + n] == '\0');
}

int dproxy_check(const struct dproxy_rules *r, const char *method, const char *path, const char *query,
                 const char *body, size_t len, char *why, size_t whylen)
{
    if (check_segments(path, why, whylen) < 0)
        return -1;
    size_t n = strlen(path);
#define ENDS(s) (n >= sizeof(s) - 1 && strcmp(path + n - (sizeof(s) - 1), s) == 0)
    if (strcmp(method, "POST") == 0 && ENDS("/containers/create")) {
        if (check_query(query, "name\0", NULL, why, whylen) < 0)
            return -1;
        return check_create(r, body, len, why, whylen);
    }
    /* Swarm (orchestrator/spawner_swarm.c, filter_swarm.c): only with a service prefix */
    int svc = second_segment_is(path, "services");
    if ((svc || second_segment_is(path, "tasks")) && !(r->service_prefix && *r->service_prefix))
        return dproxy_refuse(why, whylen, "no service calls here (DOCKERPROXY_SERVICE_PREFIX is unset)");
    if (strcmp(method, "POST") == 0 && ENDS("/services/create")) {
        if (*query)
            return dproxy_refuse(why, whylen, "a service create takes no query arguments");
        return dproxy_check_service_create(r, body, len, why, whylen);
    }
    if (strcmp(method, "GET") == 0 && (ENDS("/services") || ENDS("/tasks")))
        return check_query(query, "filters\0", NULL, why, whylen);
    if (strcmp(method, "DELETE") == 0 && svc) {
        if (*query || len)
            return dproxy_refuse(why, whylen, "a service remove takes no query arguments and no body");
        const char *name = strstr(path + 1, "/services/");
        return dproxy_check_service_name(r, name ? name + strlen("/services/") : NULL, why, whylen);
    }
    if (strcmp(method, "POST") == 0 && ENDS("/kill"))
        return check_query(query, "signal\0", "signal", why, whylen);
    if (strcmp(method, "DELETE") == 0)
        return check_query(query, "force\0v\0", NULL, why, whylen);
    if (strcmp(method, "GET") == 0 && ENDS("/containers/json"))
        return check_query(query, "all\0filters\0", NULL, why, whylen);
#undef ENDS
    /* version, start, inspect: no arguments, no body */
    if (*query || len)
        return dproxy_refuse(why, whylen, "this call takes no query arguments and no body");
    return 0;
}
