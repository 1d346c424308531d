/* orchestrator_spawner_test.c - both spawner backends, with real processes and containers.
 *
 * process: WORKER_BIN is a small shell script that dumps its environment and sleeps.
 * docker: needs this machine's engine (prints "SKIP: no docker engine" without one) and
 * makes its own busybox image (docker_test_image.h); its fleet label is unique per run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "docker.h"
#include "docker_test_image.h"
#include "log.h"
#include "../../orchestrator/spawner.h"
#include "xalloc.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[64];

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* SIGKILLs the worker and waits until it shows as stopped (pid 0) in *w. */
static void kill_until_stopped(struct spawner *sp, const char *id, struct spawner_worker *w)
{
    assert_int_equal(spawner_kill(sp, id, SIGKILL), SPAWNER_OK);
    for (int i = 0; i < 100; i++) {
        assert_int_equal(spawner_inspect(sp, id, w), SPAWNER_OK);
        if (!w->running)
            break;
        sleep_ms(50);
    }
    assert_false(w->running);
    assert_int_equal(w->pid, 0);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = xcalloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* 'Z' for a zombie, 0 when the pid is gone, else its state letter. */
static char proc_state(long pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    char *s = slurp(path);
    if (!s)
        return 0;
    char *close_paren = strrchr(s, ')');
    char st = close_paren && close_paren[1] ? close_paren[2] : '?';
    free(s);
    return st;
}

static int process_setup(void **state)
{
    (void)state;
    log_init("orchestrator_spawner_test");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/rs-spawner-test-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    char path[128];
    snprintf(path, sizeof path, "%s/fake-worker", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    /* exec: the pid the spawner reports is the one that sleeps. */
    fprintf(f, "#!/bin/sh\nenv > \"$DB_PATH.env.tmp\" && mv \"$DB_PATH.env.tmp\" \"$DB_PATH.env\"\nexec sleep 300\n");
    fclose(f);
    chmod(path, 0755);
    return 0;
}

static int process_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct spawner *process_spawner(void)
{
    char bin[128], data[128];
    snprintf(bin, sizeof bin, "%s/fake-worker", tmpdir);
    snprintf(data, sizeof data, "%s/data/sub", tmpdir);
    struct spawner_cfg cfg = {.kind = "process", .worker_bin = bin, .data_dir = data};
    return spawner_new(&cfg);
}

static void test_process_lifecycle(void **state)
{
    (void)state;
    setenv("ZK_HOSTS", "zk-test:1234", 1);
    setenv("AMQP_HOST", "mq-test", 1);
    struct spawner *sp = process_spawner();
    assert_non_null(sp);
    assert_string_equal(spawner_kind(sp), "process");

    struct spawner_worker m, s;
    const char *extra[] = {"EXTRA=1", "AMQP_HOST=override", NULL};
    assert_int_equal(spawner_start(sp, "master", extra, &m), SPAWNER_OK);
    assert_int_equal(spawner_start(sp, "boss", NULL, &s), SPAWNER_ERR);
    assert_int_equal(spawner_start(sp, "slave", NULL, &s), SPAWNER_OK);
    assert_true(m.pid > 1 && s.pid > 1 && m.pid != s.pid);
    assert_true(m.running);
    assert_string_not_equal(m.id, s.id);
    assert_int_equal(strncmp(m.id, "w-", 2), 0);

    /* The worker's environment: ours, its own, and the caller's (which wins). */
    char envpath[256];
    snprintf(envpath, sizeof envpath, "%s/data/sub/%s.db.env", tmpdir, m.id);
    char *env = NULL;
    for (int i = 0; i < 100 && !(env = slurp(envpath)); i++)
        sleep_ms(20);
    assert_non_null(env);
    char want[160];
    snprintf(want, sizeof want, "WORKER_ID=%s\n", m.id);
    assert_non_null(strstr(env, want));
    assert_non_null(strstr(env, "WORKER_ROLE=master\n"));
    snprintf(want, sizeof want, "DB_PATH=%s/data/sub/%s.db\n", tmpdir, m.id);
    assert_non_null(strstr(env, want));
    assert_non_null(strstr(env, "ZK_HOSTS=zk-test:1234\n"));
    assert_non_null(strstr(env, "AMQP_HOST=override\n"));
    assert_null(strstr(env, "AMQP_HOST=mq-test"));
    assert_non_null(strstr(env, "EXTRA=1\n"));
    free(env);

    struct spawner_worker *list;
    size_t n;
    assert_int_equal(spawner_list(sp, &list, &n), SPAWNER_OK);
    assert_int_equal(n, 2);
    assert_true(list[0].running && list[1].running);
    free(list);

    /* A crash: the child is reaped (no zombie) and shows as stopped until removed. */
    struct spawner_worker w;
    kill_until_stopped(sp, m.id, &w);
    assert_int_equal(w.exit_code, 128 + SIGKILL);
    assert_int_equal(proc_state(m.pid), 0);  /* gone, not a zombie */
    assert_int_equal(spawner_kill(sp, m.id, SIGKILL), SPAWNER_ENOTRUNNING);

    /* A child that exits by itself is reaped by the keeper thread, unasked. */
    assert_int_equal(spawner_kill(sp, s.id, SIGTERM), SPAWNER_OK);
    char st = 'R';
    for (int i = 0; i < 100 && (st = proc_state(s.pid)) != 0; i++)
        sleep_ms(20);
    assert_int_equal(st, 0);

    assert_int_equal(spawner_remove(sp, m.id), SPAWNER_OK);
    assert_int_equal(access(envpath, F_OK), 0);  /* only the .db files are the worker's */
    assert_int_equal(spawner_remove(sp, m.id), SPAWNER_ENOTFOUND);
    assert_int_equal(spawner_inspect(sp, m.id, &w), SPAWNER_ENOTFOUND);
    assert_int_equal(spawner_kill(sp, "w-nobody", SIGKILL), SPAWNER_ENOTFOUND);
    assert_int_equal(spawner_list(sp, &list, &n), SPAWNER_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, s.id);
    free(list);
    spawner_free(sp);
}

static void test_process_free_stops_children(void **state)
{
    (void)state;
    struct spawner *sp = process_spawner();
    assert_non_null(sp);
    struct spawner_worker a, b;
    assert_int_equal(spawner_start(sp, "slave", NULL, &a), SPAWNER_OK);
    assert_int_equal(spawner_start(sp, "slave", NULL, &b), SPAWNER_OK);
    /* A db file, to see remove keep it: the next master may need to seed from it. */
    char db[256];
    snprintf(db, sizeof db, "%s/data/sub/%s.db", tmpdir, a.id);
    FILE *f = fopen(db, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(spawner_remove(sp, a.id), SPAWNER_OK);
    assert_int_equal(access(db, F_OK), 0);
    assert_int_equal(proc_state(a.pid), 0);
    spawner_free(sp);  /* no orphans: b is stopped and reaped */
    assert_int_equal(proc_state(b.pid), 0);
}

static void test_process_bad_bin(void **state)
{
    (void)state;
    struct spawner_cfg cfg = {.kind = "process", .worker_bin = "/nonexistent/worker"};
    assert_null(spawner_new(&cfg));
    cfg.kind = "kubernetes";
    assert_null(spawner_new(&cfg));

    /* Executable but not runnable (no interpreter): exec fails, and start says so. */
    char bin[128];
    snprintf(bin, sizeof bin, "%s/broken", tmpdir);
    FILE *f = fopen(bin, "w");
    assert_non_null(f);
    fprintf(f, "#!/nonexistent/interpreter\n");
    fclose(f);
    chmod(bin, 0755);
    cfg.kind = "process";
    cfg.worker_bin = bin;
    cfg.data_dir = tmpdir;
    struct spawner *sp = spawner_new(&cfg);
    assert_non_null(sp);
    struct spawner_worker w;
    assert_int_equal(spawner_start(sp, "slave", NULL, &w), SPAWNER_ERR);
    struct spawner_worker *list;
    size_t n;
    assert_int_equal(spawner_list(sp, &list, &n), SPAWNER_OK);
    assert_int_equal(n, 0);
    spawner_free(sp);
}

/* ---- docker ---- */

static char fleet[64];
static const char *docker_cmd[] = {"/bin/sh", "-c", "echo worker $WORKER_ID $WORKER_ROLE $DB_PATH; exec sleep 300", NULL};

static struct spawner *docker_spawner(void)
{
    struct spawner_cfg cfg;
    spawner_cfg_from_env(&cfg);
    cfg.kind = "docker";
    cfg.fleet = fleet;
    cfg.image = TEST_IMAGE;
    cfg.network = "none";
    cfg.volume = NULL;
    cfg.cmd = docker_cmd;
    return spawner_new(&cfg);
}

static int docker_setup(void **state)
{
    (void)state;
    snprintf(fleet, sizeof fleet, "rs-spawner-test-%d", (int)getpid());
    const char *sock = getenv("DOCKER_SOCK");
    struct docker *d = docker_new(sock && *sock ? sock : "/var/run/docker.sock");
    int rc = d && docker_ping(d) == DOCKER_OK ? test_image_ensure(d) : -1;
    docker_free(d);
    return rc;
}

static int docker_teardown(void **state)
{
    (void)state;
    struct spawner *sp = docker_spawner();
    struct spawner_worker *list;
    size_t n;
    if (sp && spawner_list(sp, &list, &n) == SPAWNER_OK) {
        for (size_t i = 0; i < n; i++)
            spawner_remove(sp, list[i].id);
        free(list);
    }
    spawner_free(sp);
    return 0;
}

static void test_docker_fleet(void **state)
{
    (void)state;
    struct spawner *sp = docker_spawner();
    assert_non_null(sp);
    assert_string_equal(spawner_kind(sp), "docker");
    struct spawner_worker m, s;
    assert_int_equal(spawner_start(sp, "master", NULL, &m), SPAWNER_OK);
    assert_int_equal(spawner_start(sp, "slave", NULL, &s), SPAWNER_OK);
    assert_true(m.running && s.running);
    assert_true(m.pid > 1 && s.pid > 1 && m.pid != s.pid);
    assert_int_equal(strlen(m.handle), 64);

    /* A restarted orchestrator: a new spawner finds the fleet by its labels. */
    spawner_free(sp);
    sp = docker_spawner();
    assert_non_null(sp);
    struct spawner_worker *list;
    size_t n;
    assert_int_equal(spawner_list(sp, &list, &n), SPAWNER_OK);
    if (n != 2)  /* e.g. `make down` meanwhile: it removes every rideshare.role=worker */
        for (size_t i = 0; i < n; i++)
            printf("listed: %s %s pid %ld\n", list[i].id, list[i].role, list[i].pid);
    assert_int_equal(n, 2);
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].id, m.id) == 0) {
            assert_string_equal(list[i].role, "master");
            assert_int_equal(list[i].pid, m.pid);
            seen |= 1;
        } else if (strcmp(list[i].id, s.id) == 0) {
            assert_string_equal(list[i].role, "slave");
            assert_int_equal(list[i].pid, s.pid);
            seen |= 2;
        }
        assert_true(list[i].running);
    }
    assert_int_equal(seen, 3);
    free(list);

    /* Crash the master: stopped, still listed, pid 0, until removed. */
    struct spawner_worker w;
    kill_until_stopped(sp, m.id, &w);
    assert_int_equal(spawner_kill(sp, m.id, SIGKILL), SPAWNER_ENOTRUNNING);
    assert_int_equal(spawner_remove(sp, m.id), SPAWNER_OK);
    assert_int_equal(spawner_inspect(sp, m.id, &w), SPAWNER_ENOTFOUND);
    assert_int_equal(spawner_remove(sp, s.id), SPAWNER_OK);  /* running: forced */
    assert_int_equal(spawner_list(sp, &list, &n), SPAWNER_OK);
    assert_int_equal(n, 0);
    assert_null(list);
    spawner_free(sp);
}

int main(void)
{
    const struct CMUnitTest process_tests[] = {
        cmocka_unit_test(test_process_lifecycle),
        cmocka_unit_test(test_process_free_stops_children),
        cmocka_unit_test(test_process_bad_bin),
    };
    const struct CMUnitTest docker_tests[] = {
        cmocka_unit_test(test_docker_fleet),
    };
    int failed = cmocka_run_group_tests_name("spawner_process", process_tests, process_setup, process_teardown);
    const char *sock = getenv("DOCKER_SOCK");
    struct stat sb;
    if (stat(sock && *sock ? sock : "/var/run/docker.sock", &sb) != 0 || !S_ISSOCK(sb.st_mode)) {
        printf("SKIP: no docker engine (spawner docker backend not tested)\n");
        return failed;
    }
    failed += cmocka_run_group_tests_name("spawner_docker", docker_tests, docker_setup, docker_teardown);
    return failed;
}
