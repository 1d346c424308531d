/* docker_service.c - Swarm services and tasks as JSON over docker_call (see docker_service.h). */
#include "docker_service.h"

#include "jsonx.h"
#include "log.h"
#include "xalloc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* TaskTemplate.ContainerSpec */
static json_t *container_spec(const struct docker_service_spec *spec)
{
    json_t *c = json_pack("{s:s}", "Image", spec->image);
    if (spec->cmd)
        json_object_set_new(c, "Args", jsonx_str_array(spec->cmd));
    if (spec->env)
        json_object_set_new(c, "Env", jsonx_str_array(spec->env));
    if (spec->labels)
        json_object_set_new(c, "Labels", jsonx_kv_object(spec->labels));
    if (spec->volume && spec->volume_target)
        json_object_set_new(c, "Mounts", json_pack("[{s:s,s:s,s:s}]", "Type", "volume", "Source", spec->volume,
                                                   "Target", spec->volume_target));
    if (spec->stop_signal) {
        json_object_set_new(c, "StopSignal", json_string(spec->stop_signal));
        json_object_set_new(c, "StopGracePeriod", json_integer(0)); /* ns: the signal is the stop */
    }
    return c;
}

/* TaskTemplate: the container, its limits, no restart by Swarm, placement, network. */
static json_t *task_template(const struct docker_service_spec *spec)
{
    json_t *t = json_pack("{s:o,s:{s:s}}", "ContainerSpec", container_spec(spec), "RestartPolicy", "Condition", "none");
    json_t *limits = json_object();
    if (spec->memory_bytes > 0)
        json_object_set_new(limits, "MemoryBytes", json_integer(spec->memory_bytes));
    if (spec->pids_limit > 0)
        json_object_set_new(limits, "Pids", json_integer(spec->pids_limit));
    json_object_set_new(t, "Resources", json_pack("{s:o}", "Limits", limits));
    json_t *placement = json_object();
    if (spec->spread && *spec->spread)
        json_object_set_new(placement, "Preferences",
                            json_pack("[{s:{s:s}}]", "Spread", "SpreadDescriptor", spec->spread));
    if (spec->constraints)
        json_object_set_new(placement, "Constraints", jsonx_str_array(spec->constraints));
    json_object_set_new(t, "Placement", placement);
    if (spec->network && *spec->network)
        json_object_set_new(t, "Networks", json_pack("[{s:s}]", "Target", spec->network));
    return t;
}

int docker_service_create(struct docker *d, const struct docker_service_spec *spec, char **id_out)
{
    json_t *body = json_pack("{s:s,s:o,s:o,s:{s:{s:i}}}", "Name", spec->name, "Labels", jsonx_kv_object(spec->labels),
                             "TaskTemplate", task_template(spec), "Mode", "Replicated", "Replicas", 1);
    json_t *resp = NULL;
    int st = docker_call(d, "POST", "/services/create", body, &resp);
    json_decref(body);
    if (st < 0)
        return st;
    const char *id = json_string_value(json_object_get(resp, "ID"));
    json_t *warnings = json_object_get(resp, "Warnings");
    size_t i;
    json_t *w;
    json_array_foreach(warnings, i, w) {
        if (json_is_string(w))
            log_warn("docker: service %s: %s", spec->name, json_string_value(w));
    }
    if (!id) {
        log_error("docker: service create answered without an ID");
        json_decref(resp);
        return DOCKER_ERR;
    }
    if (id_out)
        *id_out = xstrdup(id);
    json_decref(resp);
    return DOCKER_OK;
}

/* "/<what>/<escaped name>" */
static char *object_path(const char *what, const char *name)
{
    char *esc = curl_easy_escape(NULL, name, 0);
    char *p = xasprintf("/%s/%s", what, esc);
    curl_free(esc);
    return p;
}

int docker_service_remove(struct docker *d, const char *service)
{
    char *path = object_path("services", service);
    int st = docker_call(d, "DELETE", path, NULL, NULL);
    free(path);
    return st;
}

static void parse_service(json_t *s, struct docker_object_src *src)
{
    json_t *spec = json_object_get(s, "Spec");
    src->id = json_string_value(json_object_get(s, "ID"));
    src->name = json_string_value(json_object_get(spec, "Name"));
    src->labels = json_object_get(spec, "Labels");
}

int docker_service_list(struct docker *d, const char *const *labels, struct docker_object **out, size_t *n)
{
    return docker_list_objects(d, "/services", labels, parse_service, out, n);
}

int docker_task_ended(const char *state)
{
    static const char *const ended[] = {"complete", "failed", "shutdown", "rejected", "orphaned", "remove", NULL};
    for (const char *const *e = ended; *e; e++)
        if (strcmp(state, *e) == 0)
            return 1;
    return 0;
}

static void copy_str(char *dst, size_t len, json_t *v)
{
    snprintf(dst, len, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static void task_fill(json_t *t, struct docker_task *out)
{
    json_t *status = json_object_get(t, "Status"), *cs = json_object_get(status, "ContainerStatus");
    memset(out, 0, sizeof *out);
    copy_str(out->state, sizeof out->state, json_object_get(status, "State"));
    copy_str(out->container, sizeof out->container, json_object_get(cs, "ContainerID"));
    copy_str(out->node, sizeof out->node, json_object_get(t, "NodeID"));
    copy_str(out->err, sizeof out->err, json_object_get(status, "Err"));
    out->exit_code = (int)json_integer_value(json_object_get(cs, "ExitCode"));
    if (strcmp(out->state, "running") == 0)
        out->pid = (long)json_integer_value(json_object_get(cs, "PID"));
}

/* The index of the task Swarm wants running, else of the newest (highest version) one. */
static size_t current_task(json_t *tasks)
{
    size_t best = 0, i;
    json_int_t best_version = -1;
    json_t *t;
    json_array_foreach(tasks, i, t) {
        const char *desired = json_string_value(json_object_get(t, "DesiredState"));
        if (desired && strcmp(desired, "running") == 0)
            return i;
        json_int_t v = json_integer_value(json_object_get(json_object_get(t, "Version"), "Index"));
        if (v > best_version) {
            best_version = v;
            best = i;
        }
    }
    return best;
}

int docker_service_task(struct docker *d, const char *service, struct docker_task *out)
{
    const char *names[] = {service, NULL};
    json_t *tasks = NULL;
    /* The engine answers 404 when no service has that name or id. */
    int st = docker_get_filtered(d, "/tasks", "service", names, &tasks);
    if (st < 0)
        return st;
    if (json_array_size(tasks) == 0) {
        json_decref(tasks);
        return DOCKER_ENOTFOUND;
    }
    task_fill(json_array_get(tasks, current_task(tasks)), out);
    json_decref(tasks);
    return DOCKER_OK;
}
