/* orchestrator_swarm_test.c - the swarm spawner (orchestrator/spawner_swarm.c) against a
 * fake Engine: an HTTP server on a unix socket (common/http_server.c) that answers the
 * service and task calls as a Swarm manager does, so the tests need no swarm. What the
 * spawner sends is checked (one replica, no restart, labels, network, volume, limits,
 * spread), and what Swarm answers is played back: a task that takes a while to run, one
 * that fails, services left by an earlier orchestrator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "http_server.h"
#include "log.h"
#include "../../orchestrator/spawner.h"
#include "xalloc.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SVC 8

/* One service of the fake engine and its one task. */
struct fsvc {
    char name[96];
    json_t *spec;      /* the create body as received */
    int polls_left;    /* task answers "starting" this many more times, then final_state */
    const char *final_state;
    long pid;
};

static struct {
    pthread_mutex_t mu;
    struct fsvc s[MAX_SVC];
    size_t n;
    long next_pid;
    const char *next_final; /* the state the next created service's task ends in */
    int creates, removes;
} eng = {.mu = PTHREAD_MUTEX_INITIALIZER};

static struct fsvc *find_locked(const char *name)
{
    for (size_t i = 0; i < eng.n; i++)
        if (strcmp(eng.s[i].name, name) == 0 || strcmp(json_string_value(json_object_get(eng.s[i].spec, "ID")), name) == 0)
            return &eng.s[i];
    return NULL;
}

static http_reply *version(http_req *req, void *ud)
{
    (void)req;
    (void)ud;
    return http_reply_json(200, json_pack("{s:s}", "ApiVersion", "1.41"));
}

static http_reply *svc_create(http_req *req, void *ud)
{
    (void)ud;
    http_reply *err = NULL;
    json_t *body = http_req_json_object(req, &err);
    if (!body)
        return err;
    pthread_mutex_lock(&eng.mu);
    struct fsvc *s = &eng.s[eng.n++];
    snprintf(s->name, sizeof s->name, "%s", json_string_value(json_object_get(body, "Name")));
    char id[32];
    snprintf(id, sizeof id, "svc%zu", eng.n);
    json_object_set_new(body, "ID", json_string(id));
    s->spec = body;
    s->polls_left = 3;
    s->final_state = eng.next_final ? eng.next_final : "running";
    s->pid = eng.next_pid++;
    eng.creates++;
    pthread_mutex_unlock(&eng.mu);
    return http_reply_json(201, json_pack("{s:s,s:[]}", "ID", id, "Warnings"));
}

/* The one value of filters' key, e.g. {"service":["x"]} -> "x" (caller frees). */
static char *filter_value(http_req *req, const char *key, size_t i)
{
    const char *f = http_req_query(req, "filters");
    json_t *j = f ? json_loads(f, 0, NULL) : NULL;
    const char *v = json_string_value(json_array_get(json_object_get(j, key), i));
    char *out = v ? xstrdup(v) : NULL;
    json_decref(j);
    return out;
}

static json_t *task_json(struct fsvc *s)
{
    const char *state = s->polls_left > 0 ? "starting" : s->final_state;
    if (s->polls_left > 0)
        s->polls_left--;
    int running = strcmp(state, "running") == 0;
    return json_pack("{s:s,s:s,s:{s:I},s:s,s:{s:s,s:s,s:{s:s,s:I,s:i}}}", "ID", "task1", "NodeID", "node-a", "Version",
                     "Index", (json_int_t)7, "DesiredState", running || s->polls_left ? "running" : "shutdown",
                     "Status", "State", state, "Err", running ? "" : "no such image", "ContainerStatus", "ContainerID",
                     "c0ffee", "PID", (json_int_t)(running ? s->pid : 0), "ExitCode", running ? 0 : 1);
}

static http_reply *tasks(http_req *req, void *ud)
{
    (void)ud;
    char *name = filter_value(req, "service", 0);
    pthread_mutex_lock(&eng.mu);
    struct fsvc *s = name ? find_locked(name) : NULL;
    json_t *out = s ? json_pack("[o]", task_json(s)) : NULL;
    pthread_mutex_unlock(&eng.mu);
    free(name);
    if (!out)
        return http_reply_json(404, json_pack("{s:s}", "message", "service not found"));
    return http_reply_json(200, out);
}

/* The services that carry both label filters (role and fleet). */
static http_reply *services(http_req *req, void *ud)
{
    (void)ud;
    char *want[2] = {filter_value(req, "label", 0), filter_value(req, "label", 1)};
    json_t *out = json_array();
    pthread_mutex_lock(&eng.mu);
    for (size_t i = 0; i < eng.n; i++) {
        json_t *labels = json_object_get(eng.s[i].spec, "Labels");
        int ok = 1;
        for (int k = 0; k < 2; k++) {
            char *eq = want[k] ? strchr(want[k], '=') : NULL;
            if (!eq)
                continue;
            *eq = '\0';
            const char *v = json_string_value(json_object_get(labels, want[k]));
            ok = ok && v && strcmp(v, eq + 1) == 0;
            *eq = '=';
        }
        if (ok)
            json_array_append_new(out, json_pack("{s:O,s:{s:s,s:O}}", "ID", json_object_get(eng.s[i].spec, "ID"),
                                                 "Spec", "Name", eng.s[i].name, "Labels", labels));
    }
    pthread_mutex_unlock(&eng.mu);
    free(want[0]);
    free(want[1]);
    return http_reply_json(200, out);
}

static http_reply *svc_remove(http_req *req, void *ud)
{
    (void)ud;
    pthread_mutex_lock(&eng.mu);
    struct fsvc *s = find_locked(http_req_param(req, 1));
    if (s) {
        json_decref(s->spec);
        *s = eng.s[--eng.n];
        eng.removes++;
    }
    pthread_mutex_unlock(&eng.mu);
    return s ? http_reply_empty(200) : http_reply_json(404, json_pack("{s:s}", "message", "no such service"));
}

static const struct http_route routes[] = {
    {"GET", "/version", version, NULL},
    {"GET", "/*/version", version, NULL},
    {"POST", "/*/services/create", svc_create, NULL},
    {"GET", "/*/services", services, NULL},
    {"GET", "/*/tasks", tasks, NULL},
    {"DELETE", "/*/services/*", svc_remove, NULL},
};

static http_server *srv;
static char sock[64];

static int setup(void **state)
{
    (void)state;
    log_init("orchestrator_swarm_test");
    snprintf(sock, sizeof sock, "/tmp/rs-swarm-test-%ld.sock", (long)getpid());
    srv = http_server_new(routes, sizeof routes / sizeof routes[0], NULL);
    return http_server_start_unix(srv, sock);
}

static int teardown(void **state)
{
    (void)state;
    http_server_free(srv);
    unlink(sock);
    for (size_t i = 0; i < eng.n; i++)
        json_decref(eng.s[i].spec);
    return 0;
}

static struct spawner *new_spawner(void)
{
    struct spawner_cfg cfg = {
        .kind = "swarm", .fleet = "fl", .docker_sock = sock, .image = "rideshare-worker:latest",
        .network = "rideshare-swarm", .volume = "rideshare-swarm-worker-data", .container_data_dir = "/data",
        .memory_mb = 64, .pids_limit = 99, .spread = "node.labels.rideshare.node", .start_timeout_ms = 5000,
    };
    struct spawner *sp = spawner_new(&cfg);
    assert_non_null(sp);
    assert_string_equal(spawner_kind(sp), "swarm");
    return sp;
}

/* The create body of the service named name (lock not needed: the spawner is idle). */
static json_t *spec_of(const char *id)
{
    char name[96];
    snprintf(name, sizeof name, "fl-worker-%s", id);
    struct fsvc *s = find_locked(name);
    assert_non_null(s);
    return s->spec;
}

static int env_has(json_t *env, const char *kv)
{
    size_t i;
    json_t *e;
    json_array_foreach(env, i, e) if (strcmp(json_string_value(e), kv) == 0) return 1;
    return 0;
}

static void test_a_worker_is_a_service_with_one_task(void **state)
{
    (void)state;
    eng.next_pid = 4242;
    struct spawner *sp = new_spawner();
    struct spawner_worker w;
    assert_int_equal(spawner_start(sp, "master", NULL, &w), SPAWNER_OK);
    /* start waited through "starting" until the task ran, and took its pid */
    assert_int_equal(w.pid, 4242);
    assert_true(w.running);
    json_t *spec = spec_of(w.id), *tt = json_object_get(spec, "TaskTemplate");
    json_t *cs = json_object_get(tt, "ContainerSpec");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(spec, "Mode"), "Replicated"),
                                                        "Replicas")),
                     1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(tt, "RestartPolicy"), "Condition")), "none");
    assert_string_equal(json_string_value(json_object_get(json_object_get(spec, "Labels"), "rideshare.fleet")), "fl");
    assert_string_equal(json_string_value(json_object_get(json_object_get(cs, "Labels"), "rideshare.worker-id")), w.id);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(tt, "Networks"), 0), "Target")),
                        "rideshare-swarm");
    json_t *mount = json_array_get(json_object_get(cs, "Mounts"), 0);
    assert_string_equal(json_string_value(json_object_get(mount, "Source")), "rideshare-swarm-worker-data");
    assert_string_equal(json_string_value(json_object_get(mount, "Target")), "/data");
    json_t *lim = json_object_get(json_object_get(tt, "Resources"), "Limits");
    assert_int_equal(json_integer_value(json_object_get(lim, "MemoryBytes")), 64 << 20);
    assert_int_equal(json_integer_value(json_object_get(lim, "Pids")), 99);
    json_t *pref = json_array_get(json_object_get(json_object_get(tt, "Placement"), "Preferences"), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(pref, "Spread"), "SpreadDescriptor")),
                        "node.labels.rideshare.node");
    assert_string_equal(json_string_value(json_object_get(cs, "StopSignal")), "SIGKILL");
    char kv[96];
    snprintf(kv, sizeof kv, "WORKER_ID=%s", w.id);
    assert_true(env_has(json_object_get(cs, "Env"), kv));
    assert_true(env_has(json_object_get(cs, "Env"), "WORKER_ROLE=master"));

    struct spawner_worker st;
    assert_int_equal(spawner_inspect(sp, w.id, &st), SPAWNER_OK);
    assert_true(st.running);
    assert_int_equal(st.pid, 4242);
    /* a kill is the removal of the service; then the worker is gone */
    assert_int_equal(spawner_kill(sp, w.id, SIGKILL), SPAWNER_OK);
    assert_int_equal(spawner_inspect(sp, w.id, &st), SPAWNER_ENOTFOUND);
    assert_int_equal(spawner_kill(sp, w.id, SIGKILL), SPAWNER_ENOTFOUND);
    assert_int_equal(spawner_remove(sp, w.id), SPAWNER_ENOTFOUND);
    spawner_free(sp);
    assert_int_equal(eng.n, 0);
}

static void test_a_task_that_fails_leaves_no_service(void **state)
{
    (void)state;
    struct spawner *sp = new_spawner();
    eng.next_final = "failed";
    struct spawner_worker w;
    int removes = eng.removes;
    assert_int_equal(spawner_start(sp, "slave", NULL, &w), SPAWNER_ERR);
    eng.next_final = NULL;
    assert_int_equal(eng.n, 0);
    assert_int_equal(eng.removes, removes + 1);
    spawner_free(sp);
}

static void test_a_new_orchestrator_finds_the_fleet(void **state)
{
    (void)state;
    eng.next_pid = 700;
    struct spawner *first = new_spawner();
    struct spawner_worker a, b;
    assert_int_equal(spawner_start(first, "master", NULL, &a), SPAWNER_OK);
    assert_int_equal(spawner_start(first, "slave", NULL, &b), SPAWNER_OK);
    spawner_free(first); /* the workers stay */
    assert_int_equal(eng.n, 2);

    struct spawner *second = new_spawner();
    struct spawner_worker *list = NULL;
    size_t n = 0;
    assert_int_equal(spawner_list(second, &list, &n), SPAWNER_OK);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        int is_a = strcmp(list[i].id, a.id) == 0;
        assert_true(is_a || strcmp(list[i].id, b.id) == 0);
        assert_string_equal(list[i].role, is_a ? "master" : "slave");
        assert_int_equal(list[i].pid, is_a ? 700 : 701);
        assert_true(list[i].running);
    }
    free(list);
    assert_int_equal(spawner_remove(second, a.id), SPAWNER_OK);
    assert_int_equal(spawner_remove(second, b.id), SPAWNER_OK);
    assert_int_equal(spawner_list(second, &list, &n), SPAWNER_OK);
    assert_int_equal(n, 0);
    assert_null(list);
    spawner_free(second);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_worker_is_a_service_with_one_task),
        cmocka_unit_test(test_a_task_that_fails_leaves_no_service),
        cmocka_unit_test(test_a_new_orchestrator_finds_the_fleet),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
