/* dockerproxy_filter_test.c - the Docker socket proxy's allow list: the spawner's calls
 * pass, anything that would give the orchestrator more of the engine is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../dockerproxy/filter.h"

static const struct dproxy_rules rules = {"rideshare-worker:latest", "rideshare", "rideshare-worker-data",
                                          "rideshare.role=worker", ""};

#define WORKER_LABELS "\"Labels\":{\"rideshare.role\":\"worker\",\"rideshare.fleet\":\"rideshare\"}"

static int check(const char *method, const char *path, const char *query, const char *body)
{
    char why[200] = "";
    int rc = dproxy_check(&rules, method, path, query, body, body ? strlen(body) : 0, why, sizeof why);
    if (rc < 0)
        assert_true(strlen(why) > 0);
    return rc;
}

/* What orchestrator/spawner_docker.c sends through common/docker.c. */
static void test_spawner_calls_pass(void **state)
{
    (void)state;
    assert_int_equal(check("GET", "/version", "", NULL), 0);
    assert_int_equal(check("GET", "/v1.41/version", "", NULL), 0);
    assert_int_equal(check("POST", "/v1.41/containers/create", "name=rideshare-worker-slave-1",
                           "{\"Image\":\"rideshare-worker:latest\",\"Env\":[\"A=1\"]," WORKER_LABELS ","
                           "\"HostConfig\":{\"Binds\":[\"rideshare-worker-data:/data\"],\"NetworkMode\":\"rideshare\","
                           "\"Memory\":268435456,\"MemorySwap\":268435456,\"PidsLimit\":128}}"),
                     0);
    assert_int_equal(check("POST", "/v1.41/containers/0123abcd/start", "", NULL), 0);
    assert_int_equal(check("GET", "/v1.41/containers/rideshare-worker-m/json", "", NULL), 0);
    assert_int_equal(check("POST", "/v1.41/containers/0123abcd/kill", "signal=9", NULL), 0);
    assert_int_equal(check("DELETE", "/v1.41/containers/0123abcd", "force=1&v=1", NULL), 0);
    assert_int_equal(check("GET", "/v1.41/containers/json", "all=1&filters=%7B%22label%22%3A%5B%5D%7D", NULL), 0);
}

static void test_bodies_that_would_own_the_host_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "[]", "{\"Image\":\"debian\"," WORKER_LABELS "}", "{\"Image\":\"rideshare-worker:latest\"}",
        "{\"Image\":\"rideshare-worker:latest\",\"Labels\":{\"rideshare.role\":\"users\"}}",
        "{\"Image\":\"rideshare-worker:latest\"," WORKER_LABELS ",\"HostConfig\":{\"Privileged\":true}}",
        "{\"Image\":\"rideshare-worker:latest\"," WORKER_LABELS ",\"HostConfig\":{\"Binds\":[\"/:/host\"]}}",
        "{\"Image\":\"rideshare-worker:latest\"," WORKER_LABELS ",\"HostConfig\":{\"Binds\":[\"/var/run/docker.sock:/s\"]}}",
        "{\"Image\":\"rideshare-worker:latest\"," WORKER_LABELS
        ",\"HostConfig\":{\"Binds\":[\"rideshare-worker-data:/data:rw,rshared\"]}}",
        "{\"Image\":\"rideshare-worker:latest\"," WORKER_LABELS ",\"HostConfig\":{\"NetworkMode\":\"host\"}}",
        "{\"Image\":\"rideshare-worker:latest\"," WORKER_LABELS ",\"HostConfig\":{\"PidMode\":\"host\"}}",
        "{\"Image\":\"rideshare-worker:latest\"," WORKER_LABELS ",\"HostConfig\":{\"CapAdd\":[\"SYS_ADMIN\"]}}",
        "{\"Image\":\"rideshare-worker:latest\"," WORKER_LABELS ",\"HostConfig\":{\"Devices\":[]}}",
        "{\"Image\":\"rideshare-worker:latest\"," WORKER_LABELS ",\"User\":\"root\"}",
        "{\"Image\":\"rideshare-worker:latest\"," WORKER_LABELS ",\"Entrypoint\":[\"/bin/sh\"]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(check("POST", "/v1.41/containers/create", "", bad[i]), -1);
    assert_int_equal(check("POST", "/v1.41/containers/create", "name=x&fromImage=y",
                           "{\"Image\":\"rideshare-worker:latest\"," WORKER_LABELS "}"),
                     -1);
}

static void test_arguments_and_shapes_are_refused(void **state)
{
    (void)state;
    assert_int_equal(check("GET", "/v2.0/version", "", NULL), -1);
    assert_int_equal(check("GET", "/x/version", "", NULL), -1);
    assert_int_equal(check("POST", "/v1.41/containers/a/kill", "signal=KILL", NULL), -1);
    assert_int_equal(check("POST", "/v1.41/containers/a/kill", "signal=9&x=1", NULL), -1);
    assert_int_equal(check("DELETE", "/v1.41/containers/a", "link=1", NULL), -1);
    assert_int_equal(check("POST", "/v1.41/containers/a/start", "detachKeys=x", NULL), -1);
    assert_int_equal(check("POST", "/v1.41/containers/a/start", "", "{\"Binds\":[\"/:/h\"]}"), -1);
    assert_int_equal(check("GET", "/v1.41/containers/a%2F..%2Fb/json", "", NULL), -1);
    assert_int_equal(check("GET", "/v1.41/containers/json", "size=1", NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawner_calls_pass),
        cmocka_unit_test(test_bodies_that_would_own_the_host_are_refused),
        cmocka_unit_test(test_arguments_and_shapes_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
