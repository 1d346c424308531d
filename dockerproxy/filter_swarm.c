/* filter_swarm.c - the Swarm part of the allow list (orchestrator/spawner_swarm.c). A
 * service create may ask for no more than a worker container create may: the worker image,
 * the fleet's overlay network and volume, resource limits, placement, no restart; and only
 * under the fleet's name prefix, the only names a service may be removed by, so that the
 * orchestrator can neither start anything else nor remove the stack's own services. */
#include <jansson.h>
#include <string.h>

#include "filter_impl.h"

int dproxy_check_service_name(const struct dproxy_rules *r, const char *name, char *why, size_t whylen)
{
    size_t plen = r->service_prefix ? strlen(r->service_prefix) : 0;
    if (plen == 0)
        return dproxy_refuse(why, whylen, "no service may be created or removed here (DOCKERPROXY_SERVICE_PREFIX)");
    if (!name || strncmp(name, r->service_prefix, plen) != 0 || !name[plen] || strchr(name, '/'))
        return dproxy_refuse(why, whylen, "a service's name must start with %s", r->service_prefix);
    return 0;
}

/* One element of a list, already an object with only the allowed keys. */
typedef int element_check(const struct dproxy_rules *r, json_t *e, char *why, size_t whylen);

/* arr an array of objects whose keys are within allowed, each passing check. */
static int check_each(const struct dproxy_rules *r, json_t *arr, const char *what, const char *const *allowed,
                      element_check *check, char *why, size_t whylen)
{
    size_t i;
    json_t *e;
    const char *bad = NULL;
    if (!json_is_array(arr))
        return dproxy_refuse(why, whylen, "%s must be an array", what);
    json_array_foreach(arr, i, e) {
        if (!json_is_object(e) || !dproxy_keys_within(e, allowed, &bad))
            return dproxy_refuse(why, whylen, "%s[].%.40s is not allowed", what, bad ? bad : "(not an object)");
        int rc = check(r, e, why, whylen);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* A mount: the fleet's volume only, as a plain volume mount. */
static int check_mount(const struct dproxy_rules *r, json_t *m, char *why, size_t whylen)
{
    const char *type = json_string_value(json_object_get(m, "Type"));
    const char *src = json_string_value(json_object_get(m, "Source"));
    const char *dst = json_string_value(json_object_get(m, "Target"));
    if (!type || strcmp(type, "volume") != 0 || !src || !*r->volume || strcmp(src, r->volume) != 0 || !dst ||
        dst[0] != '/')
        return dproxy_refuse(why, whylen, "only the volume %s may be mounted", *r->volume ? r->volume : "(none)");
    return 0;
}

static int check_mounts(const struct dproxy_rules *r, json_t *mounts, char *why, size_t whylen)
{
    static const char *const allowed[] = {"Type", "Source", "Target", NULL};
    return check_each(r, mounts, "ContainerSpec.Mounts", allowed, check_mount, why, whylen);
}

static int check_container_spec(const struct dproxy_rules *r, json_t *cs, char *why, size_t whylen)
{
    static const char *const allowed[] = {"Image", "Args", "Env", "Labels", "Mounts", "StopSignal",
                                          "StopGracePeriod", NULL};
    const char *bad = NULL;
    if (!json_is_object(cs) || !dproxy_keys_within(cs, allowed, &bad))
        return dproxy_refuse(why, whylen, "ContainerSpec.%.40s is not allowed", bad ? bad : "(missing)");
    const char *image = json_string_value(json_object_get(cs, "Image"));
    if (!image || strcmp(image, r->image) != 0)
        return dproxy_refuse(why, whylen, "only image %s may be started", r->image);
    if (!dproxy_has_label(r, json_object_get(cs, "Labels")))
        return dproxy_refuse(why, whylen, "a service's container must carry the label %s", r->label);
    json_t *mounts = json_object_get(cs, "Mounts");
    return mounts ? check_mounts(r, mounts, why, whylen) : 0;
}

/* Resources.Limits only (no reservations, no generic resources), no restart by Swarm. */
static int check_limits_and_restart(json_t *tt, char *why, size_t whylen)
{
    static const char *const res_allowed[] = {"Limits", NULL};
    static const char *const lim_allowed[] = {"MemoryBytes", "Pids", "NanoCPUs", NULL};
    static const char *const restart_allowed[] = {"Condition", NULL};
    const char *bad = NULL;
    json_t *res = json_object_get(tt, "Resources"), *lim = json_object_get(res, "Limits");
    if (res && (!json_is_object(res) || !dproxy_keys_within(res, res_allowed, &bad) ||
                (lim && (!json_is_object(lim) || !dproxy_keys_within(lim, lim_allowed, &bad)))))
        return dproxy_refuse(why, whylen, "Resources: %.40s is not allowed", bad ? bad : "(not an object)");
    json_t *rp = json_object_get(tt, "RestartPolicy");
    const char *cond = json_string_value(json_object_get(rp, "Condition"));
    if (!rp || !dproxy_keys_within(rp, restart_allowed, &bad) || !cond || strcmp(cond, "none") != 0)
        return dproxy_refuse(why, whylen, "a worker service must have RestartPolicy {\"Condition\": \"none\"}");
    return 0;
}

/* A network: the fleet's only. */
static int check_network(const struct dproxy_rules *r, json_t *n, char *why, size_t whylen)
{
    const char *target = json_string_value(json_object_get(n, "Target"));
    if (!target || (*r->network && strcmp(target, r->network) != 0))
        return dproxy_refuse(why, whylen, "a worker service may join network %s only", r->network);
    return 0;
}

static int check_networks(const struct dproxy_rules *r, json_t *nets, char *why, size_t whylen)
{
    static const char *const allowed[] = {"Target", NULL};
    return check_each(r, nets, "TaskTemplate.Networks", allowed, check_network, why, whylen);
}

static int check_task_template(const struct dproxy_rules *r, json_t *tt, char *why, size_t whylen)
{
    static const char *const allowed[] = {"ContainerSpec", "Resources", "RestartPolicy", "Placement", "Networks", NULL};
    static const char *const placement_allowed[] = {"Preferences", "Constraints", NULL};
    const char *bad = NULL;
    if (!json_is_object(tt) || !dproxy_keys_within(tt, allowed, &bad))
        return dproxy_refuse(why, whylen, "TaskTemplate.%.40s is not allowed", bad ? bad : "(missing)");
    if (check_container_spec(r, json_object_get(tt, "ContainerSpec"), why, whylen) < 0 ||
        check_limits_and_restart(tt, why, whylen) < 0)
        return -1;
    json_t *pl = json_object_get(tt, "Placement");
    if (pl && (!json_is_object(pl) || !dproxy_keys_within(pl, placement_allowed, &bad)))
        return dproxy_refuse(why, whylen, "Placement.%.40s is not allowed", bad ? bad : "(not an object)");
    json_t *nets = json_object_get(tt, "Networks");
    return nets ? check_networks(r, nets, why, whylen) : 0;
}

int dproxy_check_service_create(const struct dproxy_rules *r, const char *body, size_t len, char *why, size_t whylen)
{
    static const char *const allowed[] = {"Name", "Labels", "TaskTemplate", "Mode", NULL};
    const char *bad = NULL;
    int rc = -1;
    json_t *spec = json_loadb(body, len, 0, NULL);
    if (!json_is_object(spec) || !dproxy_keys_within(spec, allowed, &bad)) {
        dproxy_refuse(why, whylen, "field %.40s is not allowed in a service create", bad ? bad : "(no JSON object)");
        goto out;
    }
    if (dproxy_check_service_name(r, json_string_value(json_object_get(spec, "Name")), why, whylen) < 0)
        goto out;
    if (!dproxy_has_label(r, json_object_get(spec, "Labels"))) {
        dproxy_refuse(why, whylen, "a created service must carry the label %s", r->label);
        goto out;
    }
    json_t *mode = json_object_get(spec, "Mode"), *rep = json_object_get(mode, "Replicated");
    if (json_object_size(mode) != 1 || json_object_size(rep) != 1 ||
        json_integer_value(json_object_get(rep, "Replicas")) != 1) {
        dproxy_refuse(why, whylen, "a worker service must have Mode {\"Replicated\": {\"Replicas\": 1}}");
        goto out;
    }
    rc = check_task_template(r, json_object_get(spec, "TaskTemplate"), why, whylen);
out:
    json_decref(spec);
    return rc;
}
