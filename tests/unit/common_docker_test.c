/* common_docker_test.c - docker.c against this machine's Docker Engine.
 *
 * Prints "SKIP: no docker engine" and passes when the socket is absent; everything else
 * (an engine that does not answer, a failed call) fails. Containers are labelled with
 * this run's pid and removed at the end, even after a failed test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "docker.h"
#include "docker_test_image.h"
#include "log.h"
#include "xalloc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *sock;
static struct docker *d;
static char run_label[64];  /* rideshare.test-run=<pid>: this run's containers */

static int group_setup(void **state)
{
    (void)state;
    log_init("common_docker_test");
    d = docker_new(sock);
    if (!d || docker_ping(d) != DOCKER_OK)
        return -1;
    snprintf(run_label, sizeof run_label, "rideshare.test-run=%d", (int)getpid());
    return test_image_ensure(d);
}

static int group_teardown(void **state)
{
    (void)state;
    const char *labels[] = {run_label, NULL};
    struct docker_object *list;
    size_t n;
    if (d && docker_list(d, labels, &list, &n) == DOCKER_OK) {
        for (size_t i = 0; i < n; i++)
            docker_remove(d, list[i].id);
        docker_objects_free(list, n);
    }
    docker_free(d);
    return 0;
}

static void test_lifecycle(void **state)
{
    (void)state;
    char name[64], env1[96];
    snprintf(name, sizeof name, "rs-docker-test-%d", (int)getpid());
    snprintf(env1, sizeof env1, "WORKER_ID=%s", name);
    const char *cmd[] = {"/bin/sleep", "300", NULL};
    const char *env[] = {env1, "WORKER_ROLE=slave", NULL};
    const char *labels[] = {"rideshare.role=worker-test", run_label, "rideshare.worker-id=abc", NULL};
    const char *volumes[] = {"/data", NULL};
    struct docker_spec spec = {
        .image = TEST_IMAGE, .name = name, .cmd = cmd, .env = env, .labels = labels,
        .network = "bridge", .volumes = volumes,
    };
    char *id = NULL;
    assert_int_equal(docker_create(d, &spec, &id), DOCKER_OK);
    assert_non_null(id);
    assert_int_equal(strlen(id), 64);
    assert_int_equal(docker_create(d, &spec, NULL), DOCKER_ECONFLICT);  /* the name is taken */

    struct docker_state st;
    assert_int_equal(docker_inspect(d, id, &st), DOCKER_OK);
    assert_false(st.running);
    assert_int_equal(st.pid, 0);

    assert_int_equal(docker_start(d, name), DOCKER_OK);  /* by name works as well as by id */
    assert_int_equal(docker_start(d, id), DOCKER_OK);    /* already started: 304 is fine */
    assert_int_equal(docker_inspect(d, name, &st), DOCKER_OK);
    assert_true(st.running);
    assert_true(st.pid > 1);
    /* The engine's pid is a host pid; when we share the host's pid namespace, it is there. */
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/%ld", st.pid);
    struct stat sb;
    printf("container %s runs as host pid %ld (%s)\n", name, st.pid,
           stat(proc, &sb) == 0 ? "visible here" : "not visible from this pid namespace");

    const char *filter[] = {"rideshare.role=worker-test", run_label, NULL};
    struct docker_object *list;
    size_t n;
    assert_int_equal(docker_list(d, filter, &list, &n), DOCKER_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, id);
    assert_string_equal(list[0].name, name);
    assert_string_equal(list[0].state, "running");
    assert_string_equal(json_string_value(json_object_get(list[0].labels, "rideshare.worker-id")), "abc");
    docker_objects_free(list, n);

    const char *nobody[] = {"rideshare.role=nobody-has-this", NULL};
    assert_int_equal(docker_list(d, nobody, &list, &n), DOCKER_OK);
    assert_int_equal(n, 0);
    docker_objects_free(list, n);

    assert_int_equal(docker_kill(d, id, SIGKILL), DOCKER_OK);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(docker_inspect(d, id, &st), DOCKER_OK);
        if (!st.running)
            break;
        struct timespec pause = {0, 50 * 1000000L};
        nanosleep(&pause, NULL);
    }
    assert_false(st.running);
    assert_int_equal(st.exit_code, 137);
    assert_int_equal(docker_kill(d, id, SIGKILL), DOCKER_ECONFLICT);  /* not running */

    /* Still listed while it exists: a restarted orchestrator sees dead workers too. */
    assert_int_equal(docker_list(d, filter, &list, &n), DOCKER_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].state, "exited");
    docker_objects_free(list, n);

    assert_int_equal(docker_remove(d, id), DOCKER_OK);
    assert_int_equal(docker_inspect(d, id, &st), DOCKER_ENOTFOUND);
    assert_int_equal(docker_remove(d, id), DOCKER_ENOTFOUND);
    assert_int_equal(docker_list(d, filter, &list, &n), DOCKER_OK);
    assert_int_equal(n, 0);
    docker_objects_free(list, n);
    free(id);
}

static void test_remove_running(void **state)
{
    (void)state;
    const char *cmd[] = {"/bin/sleep", "300", NULL};
    const char *labels[] = {run_label, NULL};
    struct docker_spec spec = {.image = TEST_IMAGE, .cmd = cmd, .labels = labels, .network = "none"};
    char *id = NULL;
    assert_int_equal(docker_create(d, &spec, &id), DOCKER_OK);
    assert_int_equal(docker_start(d, id), DOCKER_OK);
    assert_int_equal(docker_remove(d, id), DOCKER_OK);  /* force: kills first */
    struct docker_state st;
    assert_int_equal(docker_inspect(d, id, &st), DOCKER_ENOTFOUND);
    free(id);
}

static void test_errors(void **state)
{
    (void)state;
    struct docker_state st;
    assert_int_equal(docker_inspect(d, "rs-no-such-container", &st), DOCKER_ENOTFOUND);
    assert_int_equal(docker_kill(d, "rs-no-such-container", SIGTERM), DOCKER_ENOTFOUND);
    assert_int_equal(docker_image_exists(d, "rs-no-such-image:nope"), 0);
    struct docker_spec spec = {.image = "rs-no-such-image:nope"};
    assert_int_equal(docker_create(d, &spec, NULL), DOCKER_ENOTFOUND);

    struct docker *bad = docker_new("/nonexistent/docker.sock");
    assert_non_null(bad);
    assert_int_equal(docker_ping(bad), DOCKER_ERR);
    docker_free(bad);
}

int main(void)
{
    sock = getenv("DOCKER_SOCK");
    if (!sock || !*sock)
        sock = "/var/run/docker.sock";
    struct stat sb;
    if (stat(sock, &sb) != 0 || !S_ISSOCK(sb.st_mode)) {
        printf("SKIP: no docker engine (%s is not a socket)\n", sock);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_remove_running),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
