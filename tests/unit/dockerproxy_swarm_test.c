/* dockerproxy_swarm_test.c - the Swarm part of the Docker socket proxy's allow list: what
 * orchestrator/spawner_swarm.c sends passes, a service that would get more than a worker
 * container may (other images, host mounts, capabilities, another network, restarts, the
 * stack's own services) is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../dockerproxy/filter.h"

static const struct dproxy_rules rules = {"rideshare-worker:latest", "rideshare-swarm", "rideshare-swarm-worker-data",
                                          "rideshare.role=worker", "rideshare-swarm-worker-"};

static int check(const char *method, const char *path, const char *query, const char *body)
{
    char why[200] = "";
    int rc = dproxy_check(&rules, method, path, query, body, body ? strlen(body) : 0, why, sizeof why);
    if (rc < 0)
        assert_true(strlen(why) > 0);
    return rc;
}

#define LABELS "{\"rideshare.role\":\"worker\",\"rideshare.fleet\":\"rideshare-swarm\"}"
#define CSPEC_OK                                                                                                    \
    "\"Image\":\"rideshare-worker:latest\",\"Env\":[\"A=1\"],\"Labels\":" LABELS ",\"Mounts\":[{\"Type\":\"volume\"," \
    "\"Source\":\"rideshare-swarm-worker-data\",\"Target\":\"/data\"}],\"StopSignal\":\"SIGKILL\",\"StopGracePeriod\":0"
#define REST_OK                                                                                                     \
    "\"RestartPolicy\":{\"Condition\":\"none\"},\"Resources\":{\"Limits\":{\"MemoryBytes\":268435456,\"Pids\":256}},"  \
    "\"Placement\":{\"Preferences\":[{\"Spread\":{\"SpreadDescriptor\":\"node.labels.rideshare.node\"}}]},"           \
    "\"Networks\":[{\"Target\":\"rideshare-swarm\"}]"

/* A service create body with cspec as the ContainerSpec's fields and rest as the rest of
 * the TaskTemplate. */
static int create(const char *name, const char *cspec, const char *rest, const char *mode)
{
    char body[4096];
    snprintf(body, sizeof body,
             "{\"Name\":\"%s\",\"Labels\":" LABELS ",\"TaskTemplate\":{\"ContainerSpec\":{%s},%s},\"Mode\":%s}", name,
             cspec, rest, mode);
    return check("POST", "/v1.41/services/create", "", body);
}

static void test_the_swarm_spawners_calls_pass(void **state)
{
    (void)state;
    assert_int_equal(create("rideshare-swarm-worker-w-0123", CSPEC_OK, REST_OK, "{\"Replicated\":{\"Replicas\":1}}"),
                     0);
    assert_int_equal(check("GET", "/v1.41/services", "filters=%7B%22label%22%3A%5B%5D%7D", NULL), 0);
    assert_int_equal(check("GET", "/v1.41/tasks", "filters=%7B%22service%22%3A%5B%22x%22%5D%7D", NULL), 0);
    assert_int_equal(check("DELETE", "/v1.41/services/rideshare-swarm-worker-w-0123", "", NULL), 0);
}

static void test_services_beyond_a_worker_are_refused(void **state)
{
    (void)state;
    const char *rep1 = "{\"Replicated\":{\"Replicas\":1}}";
    const char *w = "rideshare-swarm-worker-w-1";
    /* names: the stack's services, or none at all */
    assert_int_equal(create("rideshare_orchestrator", CSPEC_OK, REST_OK, rep1), -1);
    assert_int_equal(create("rideshare-swarm-worker-", CSPEC_OK, REST_OK, rep1), -1);
    /* modes: global, more replicas */
    assert_int_equal(create(w, CSPEC_OK, REST_OK, "{\"Global\":{}}"), -1);
    assert_int_equal(create(w, CSPEC_OK, REST_OK, "{\"Replicated\":{\"Replicas\":5}}"), -1);
    /* the container: another image, a bind mount, privileges, capabilities, no label */
    static const char *const bad_cspecs[] = {
        "\"Image\":\"debian:bookworm-slim\",\"Labels\":" LABELS,
        "\"Image\":\"rideshare-worker:latest\"",
        "\"Image\":\"rideshare-worker:latest\",\"Labels\":" LABELS
        ",\"Mounts\":[{\"Type\":\"bind\",\"Source\":\"/\",\"Target\":\"/host\"}]",
        "\"Image\":\"rideshare-worker:latest\",\"Labels\":" LABELS
        ",\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"rideshare_zk1-data\",\"Target\":\"/data\"}]",
        "\"Image\":\"rideshare-worker:latest\",\"Labels\":" LABELS
        ",\"Mounts\":[{\"Type\":\"volume\",\"Source\":\"rideshare-swarm-worker-data\",\"Target\":\"/data\","
        "\"VolumeOptions\":{\"DriverConfig\":{\"Name\":\"local\",\"Options\":{\"device\":\"/\"}}}}]",
        "\"Image\":\"rideshare-worker:latest\",\"Labels\":" LABELS ",\"Privileges\":{}",
        "\"Image\":\"rideshare-worker:latest\",\"Labels\":" LABELS ",\"CapabilityAdd\":[\"SYS_ADMIN\"]",
        "\"Image\":\"rideshare-worker:latest\",\"Labels\":" LABELS ",\"User\":\"root\"",
        "\"Image\":\"rideshare-worker:latest\",\"Labels\":" LABELS ",\"Command\":[\"/bin/sh\"]",
    };
    for (size_t i = 0; i < sizeof bad_cspecs / sizeof bad_cspecs[0]; i++) {
        if (create(w, bad_cspecs[i], REST_OK, rep1) != -1)
            fail_msg("container spec %zu passed: %s", i, bad_cspecs[i]);
    }
    /* the task: restarts by Swarm, another network, reservations, log drivers */
    static const char *const bad_rests[] = {
        "\"RestartPolicy\":{\"Condition\":\"any\"}",
        "\"Resources\":{}",
        "\"RestartPolicy\":{\"Condition\":\"none\"},\"Networks\":[{\"Target\":\"host\"}]",
        "\"RestartPolicy\":{\"Condition\":\"none\"},\"Networks\":[{\"Target\":\"rideshare-swarm\",\"Aliases\":[\"zk1\"]}]",
        "\"RestartPolicy\":{\"Condition\":\"none\"},\"Resources\":{\"Reservations\":{\"MemoryBytes\":1}}",
        "\"RestartPolicy\":{\"Condition\":\"none\"},\"LogDriver\":{\"Name\":\"syslog\"}",
        "\"RestartPolicy\":{\"Condition\":\"none\"},\"Placement\":{\"Platforms\":[]}",
    };
    for (size_t i = 0; i < sizeof bad_rests / sizeof bad_rests[0]; i++) {
        if (create(w, CSPEC_OK, bad_rests[i], rep1) != -1)
            fail_msg("task template %zu passed: %s", i, bad_rests[i]);
    }
    /* extra top-level fields: published ports (EndpointSpec), update settings */
    char body[4096];
    snprintf(body, sizeof body,
             "{\"Name\":\"%s\",\"Labels\":" LABELS ",\"TaskTemplate\":{\"ContainerSpec\":{" CSPEC_OK "}," REST_OK
             "},\"Mode\":%s,\"EndpointSpec\":{\"Ports\":[{\"TargetPort\":22,\"PublishedPort\":22}]}}",
             w, rep1);
    assert_int_equal(check("POST", "/v1.41/services/create", "", body), -1);
    assert_int_equal(check("POST", "/v1.41/services/create", "", "[]"), -1);
    assert_int_equal(check("POST", "/v1.41/services/create", "x=1", "{}"), -1);
}

static void test_only_worker_services_may_be_removed(void **state)
{
    (void)state;
    assert_int_equal(check("DELETE", "/v1.41/services/rideshare_zk1", "", NULL), -1);
    assert_int_equal(check("DELETE", "/v1.41/services/rideshare_dockerproxy", "", NULL), -1);
    assert_int_equal(check("DELETE", "/v1.41/services/rideshare-swarm-worker-", "", NULL), -1);
    assert_int_equal(check("DELETE", "/v1.41/services/rideshare-swarm-worker-w-1", "force=1", NULL), -1);
    assert_int_equal(check("GET", "/v1.41/tasks", "all=1", NULL), -1);
    /* no prefix configured: no service calls at all */
    struct dproxy_rules none = rules;
    none.service_prefix = "";
    char why[200];
    assert_int_equal(dproxy_check(&none, "DELETE", "/v1.41/services/rideshare-swarm-worker-w-1", "", NULL, 0, why,
                                  sizeof why),
                     -1);
    assert_int_equal(dproxy_check(&none, "GET", "/v1.41/services", "", NULL, 0, why, sizeof why), -1);
    assert_int_equal(dproxy_check(&none, "GET", "/v1.41/tasks", "", NULL, 0, why, sizeof why), -1);
    none.service_prefix = NULL;
    assert_int_equal(dproxy_check(&none, "GET", "/v1.41/tasks", "", NULL, 0, why, sizeof why), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_swarm_spawners_calls_pass),
        cmocka_unit_test(test_services_beyond_a_worker_are_refused),
        cmocka_unit_test(test_only_worker_services_may_be_removed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
