/* common_zk_test.c - zk.c, membership.c and election.c against a real ZooKeeper.
 *
 * Uses ZK_TEST_HOSTS when set; otherwise starts Debian's ZooKeeper itself on a free port
 * with a private data dir under /tmp (tests/integration/zk_harness.sh does the same from
 * the outside). Prints "SKIP: ..." and passes only when no ZooKeeper can be had at all. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "election.h"
#include "log.h"
#include "membership.h"
#include "xalloc.h"
#include "zk.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SESSION_MS 4000

static char hosts[64];
static pid_t server_pid;
static char server_dir[64];

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls cond(arg) every 20 ms for up to ms; its last answer. */
static int wait_for(int (*cond)(void *), void *arg, long ms)
{
    for (long t = 0; t < ms; t += 20) {
        if (cond(arg))
            return 1;
        sleep_ms(20);
    }
    return cond(arg);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* Starts a standalone ZooKeeper (tickTime 500 ms) that dies with this process. */
static int start_server(void)
{
    if (access("/usr/share/java/zookeeper.jar", R_OK) != 0 || access("/usr/bin/java", X_OK) != 0)
        return -1;
    int port = free_port();
    snprintf(server_dir, sizeof server_dir, "/tmp/rs-zk-test-XXXXXX");
    if (port < 0 || !mkdtemp(server_dir))
        return -1;
    char portstr[16], logpath[96];
    snprintf(portstr, sizeof portstr, "%d", port);
    snprintf(logpath, sizeof logpath, "%s/server.log", server_dir);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl("/usr/bin/java", "java", "-Xmx128m", "-Dzookeeper.admin.enableServer=false",
              "-cp", "/usr/share/java/*:/etc/zookeeper/conf", "org.apache.zookeeper.server.ZooKeeperServerMain",
              portstr, server_dir, "500", (char *)NULL);
        _exit(127);
    }
    server_pid = pid;
    snprintf(hosts, sizeof hosts, "127.0.0.1:%d", port);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    log_init("common_zk_test");
    const char *env = getenv("ZK_TEST_HOSTS");
    if (env && *env)
        snprintf(hosts, sizeof hosts, "%s", env);
    else if (start_server() < 0)
        return -1;
    /* The JVM takes a few seconds to listen; zk_new keeps retrying meanwhile. */
    struct zk *probe = zk_new(hosts, SESSION_MS, 30000);
    if (!probe)
        return -1;
    zk_free(probe);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", server_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", server_dir);
    }
    return 0;
}

/* ---- basic operations ---- */

static void test_crud(void **state)
{
    (void)state;
    struct zk *zk = zk_new(hosts, SESSION_MS, 10000);
    assert_non_null(zk);
    assert_true(zk_session_id(zk) != 0);
    assert_int_equal(zk_ensure_path(zk, "/t/crud/a/b"), ZK_OK);
    assert_int_equal(zk_ensure_path(zk, "/t/crud/a/b"), ZK_OK);
    assert_int_equal(zk_exists(zk, "/t/crud/a/b"), 1);
    assert_int_equal(zk_exists(zk, "/t/crud/nope"), 0);

    assert_int_equal(zk_create(zk, "/t/crud/x", "hello", 5, ZKF_PERSISTENT, NULL, 0), ZK_OK);
    assert_int_equal(zk_create(zk, "/t/crud/x", "again", 5, ZKF_PERSISTENT, NULL, 0), ZK_EEXISTS);
    assert_int_equal(zk_create(zk, "/t/crud/missing/x", "", 0, ZKF_PERSISTENT, NULL, 0), ZK_ENONODE);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(zk_get(zk, "/t/crud/x", &data, &len), ZK_OK);
    assert_string_equal(data, "hello");
    assert_int_equal(len, 5);
    free(data);

    /* Bigger than the first read buffer: the read must grow. */
    size_t big = 100000;
    char *blob = xmalloc(big);
    memset(blob, 'z', big);
    assert_int_equal(zk_set(zk, "/t/crud/x", blob, big), ZK_OK);
    assert_int_equal(zk_get(zk, "/t/crud/x", &data, &len), ZK_OK);
    assert_int_equal(len, big);
    assert_memory_equal(data, blob, big);
    free(data);
    free(blob);

    char seq[128];
    assert_int_equal(zk_create(zk, "/t/crud/s-", "1", 1, ZKF_EPHEMERAL | ZKF_SEQUENCE, seq, sizeof seq), ZK_OK);
    assert_int_equal(strncmp(seq, "/t/crud/s-", 10), 0);
    assert_int_equal(strlen(seq), strlen("/t/crud/s-") + 10);
    assert_int_equal(zk_create(zk, "/t/crud/o", "", 0, ZKF_OWNED | ZKF_SEQUENCE | ZKF_EPHEMERAL, NULL, 0), ZK_ERR);

    assert_int_equal(zk_delete(zk, "/t/crud/a"), ZK_ENOTEMPTY);
    assert_int_equal(zk_delete(zk, "/t/crud/x"), ZK_OK);
    assert_int_equal(zk_delete(zk, "/t/crud/x"), ZK_ENONODE);
    assert_int_equal(zk_get(zk, "/t/crud/x", &data, NULL), ZK_ENONODE);

    struct zk_child *kids;
    size_t n;
    assert_int_equal(zk_children(zk, "/t/crud", &kids, &n), ZK_OK);
    assert_int_equal(n, 2);  /* a, s-000... sorted */
    assert_string_equal(kids[0].name, "a");
    zk_children_free(kids, n);
    zk_free(zk);
}

static void test_ephemeral_vanishes_on_close(void **state)
{
    (void)state;
    struct zk *a = zk_new(hosts, SESSION_MS, 10000);
    struct zk *b = zk_new(hosts, SESSION_MS, 10000);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(zk_ensure_path(a, "/t/eph"), ZK_OK);
    assert_int_equal(zk_create(a, "/t/eph/one", "1", 1, ZKF_EPHEMERAL | ZKF_OWNED, NULL, 0), ZK_OK);
    assert_int_equal(zk_create(a, "/t/eph/two", "2", 1, ZKF_EPHEMERAL, NULL, 0), ZK_OK);
    assert_int_equal(zk_exists(b, "/t/eph/one"), 1);
    zk_free(a);  /* a clean close ends the session now, not after the timeout */
    assert_int_equal(zk_exists(b, "/t/eph/one"), 0);
    assert_int_equal(zk_exists(b, "/t/eph/two"), 0);
    zk_free(b);
}

/* ---- watches ---- */

struct seen {
    pthread_mutex_t mu;
    int deliveries;
    char names[512];  /* "name=data," for each child of the last delivery */
    int exists;       /* node watch: 1 if the last delivery had the node */
    int states[8];
    int nstates;
};

static void seen_init(struct seen *s)
{
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
}

static void on_kids(const char *path, const struct zk_child *kids, size_t n, void *arg)
{
    (void)path;
    struct seen *s = arg;
    pthread_mutex_lock(&s->mu);
    s->deliveries++;
    s->names[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(s->names);
        snprintf(s->names + used, sizeof s->names - used, "%s=%s,", kids[i].name, kids[i].data);
    }
    pthread_mutex_unlock(&s->mu);
}

static void on_node(const char *path, const char *data, size_t len, void *arg)
{
    (void)path;
    (void)len;
    struct seen *s = arg;
    pthread_mutex_lock(&s->mu);
    s->deliveries++;
    s->exists = data != NULL;
    snprintf(s->names, sizeof s->names, "%s", data ? data : "");
    pthread_mutex_unlock(&s->mu);
}

static void on_state(enum zk_state st, void *arg)
{
    struct seen *s = arg;
    pthread_mutex_lock(&s->mu);
    if (s->nstates < 8)
        s->states[s->nstates++] = (int)st;
    pthread_mutex_unlock(&s->mu);
}

struct expect {
    struct seen *s;
    const char *names;
};

static int names_are(void *arg)
{
    struct expect *e = arg;
    pthread_mutex_lock(&e->s->mu);
    int ok = strcmp(e->s->names, e->names) == 0;
    pthread_mutex_unlock(&e->s->mu);
    return ok;
}

static void expect_names(struct seen *s, const char *names)
{
    struct expect e = {s, names};
    if (!wait_for(names_are, &e, 5000))
        fail_msg("watch delivered \"%s\", expected \"%s\"", s->names, names);
}

static void test_child_watch_rearms(void **state)
{
    (void)state;
    struct zk *w = zk_new(hosts, SESSION_MS, 10000);
    struct zk *c = zk_new(hosts, SESSION_MS, 10000);
    struct seen s;
    seen_init(&s);
    /* Watching a path that does not exist yet: an empty list, then its children. */
    int id = zk_watch_children(w, "/t/kids", on_kids, &s);
    assert_true(id > 0);
    expect_names(&s, "");
    assert_int_equal(zk_ensure_path(c, "/t/kids"), ZK_OK);

    char path[64], want[512] = "";
    for (int i = 0; i < 6; i++) {  /* one watch, many events: it must re-arm each time */
        snprintf(path, sizeof path, "/t/kids/k%d", i);
        assert_int_equal(zk_create(c, path, "v", 1, ZKF_EPHEMERAL, NULL, 0), ZK_OK);
        size_t used = strlen(want);
        snprintf(want + used, sizeof want - used, "k%d=v,", i);
        expect_names(&s, want);
    }
    /* A child's data change is an event too. */
    assert_int_equal(zk_set(c, "/t/kids/k2", "NEW", 3), ZK_OK);
    expect_names(&s, "k0=v,k1=v,k2=NEW,k3=v,k4=v,k5=v,");
    assert_int_equal(zk_delete(c, "/t/kids/k0"), ZK_OK);
    expect_names(&s, "k1=v,k2=NEW,k3=v,k4=v,k5=v,");
    /* The creator's session closes: all its children go, and the watcher sees it. */
    zk_free(c);
    expect_names(&s, "");

    /* After unwatch, no more deliveries. */
    zk_unwatch(w, id);
    pthread_mutex_lock(&s.mu);
    int before = s.deliveries;
    pthread_mutex_unlock(&s.mu);
    assert_int_equal(zk_create(w, "/t/kids/late", "", 0, ZKF_EPHEMERAL, NULL, 0), ZK_OK);
    sleep_ms(300);
    pthread_mutex_lock(&s.mu);
    assert_int_equal(s.deliveries, before);
    pthread_mutex_unlock(&s.mu);
    zk_free(w);
}

static void test_node_watch(void **state)
{
    (void)state;
    struct zk *w = zk_new(hosts, SESSION_MS, 10000);
    struct seen s;
    seen_init(&s);
    assert_int_equal(zk_ensure_path(w, "/t/node"), ZK_OK);
    int id = zk_watch_node(w, "/t/node/n", on_node, &s);
    assert_true(id > 0);
    expect_names(&s, "");
    assert_int_equal(zk_create(w, "/t/node/n", "a", 1, ZKF_PERSISTENT, NULL, 0), ZK_OK);
    expect_names(&s, "a");
    assert_int_equal(zk_set(w, "/t/node/n", "b", 1), ZK_OK);
    expect_names(&s, "b");
    assert_int_equal(zk_delete(w, "/t/node/n"), ZK_OK);
    expect_names(&s, "");
    assert_int_equal(s.exists, 0);
    zk_unwatch(w, id);
    zk_free(w);
}

static int has_state_seq(void *arg)
{
    struct seen *s = arg;
    pthread_mutex_lock(&s->mu);
    int expired = 0, back = 0;
    for (int i = 0; i < s->nstates; i++) {
        if (s->states[i] == ZK_STATE_EXPIRED)
            expired = 1;
        else if (expired && s->states[i] == ZK_STATE_CONNECTED)
            back = 1;
    }
    pthread_mutex_unlock(&s->mu);
    return back;
}

struct exists_arg {
    struct zk *zk;
    const char *path;
};

static int node_exists(void *arg)
{
    struct exists_arg *e = arg;
    return zk_exists(e->zk, e->path) == 1;
}

static void test_session_expiry(void **state)
{
    (void)state;
    struct zk *a = zk_new(hosts, SESSION_MS, 10000);
    struct zk *b = zk_new(hosts, SESSION_MS, 10000);
    struct seen st, kids;
    seen_init(&st);
    seen_init(&kids);
    assert_int_equal(zk_listen(a, on_state, &st) > 0, 1);
    assert_int_equal(zk_ensure_path(a, "/t/exp/kids"), ZK_OK);
    assert_int_equal(zk_create(a, "/t/exp/owned", "v1", 2, ZKF_EPHEMERAL | ZKF_OWNED, NULL, 0), ZK_OK);
    assert_int_equal(zk_set(a, "/t/exp/owned", "v2", 2), ZK_OK);  /* re-created with v2 */
    assert_int_equal(zk_create(a, "/t/exp/plain", "", 0, ZKF_EPHEMERAL, NULL, 0), ZK_OK);
    assert_true(zk_watch_children(a, "/t/exp/kids", on_kids, &kids) > 0);
    expect_names(&kids, "");
    long long sid = zk_session_id(a);

    assert_int_equal(zk_test_expire(a), ZK_OK);
    assert_true(wait_for(has_state_seq, &st, 20000));
    assert_true(zk_session_id(a) != sid);

    /* The owned ephemeral is back, with its latest data; the plain one is not. */
    struct exists_arg e = {b, "/t/exp/owned"};
    assert_true(wait_for(node_exists, &e, 5000));
    char *data = NULL;
    assert_int_equal(zk_get(b, "/t/exp/owned", &data, NULL), ZK_OK);
    assert_string_equal(data, "v2");
    free(data);
    assert_int_equal(zk_exists(b, "/t/exp/plain"), 0);

    /* And the watch works in the new session. */
    assert_int_equal(zk_create(b, "/t/exp/kids/x", "1", 1, ZKF_EPHEMERAL, NULL, 0), ZK_OK);
    expect_names(&kids, "x=1,");
    zk_free(b);
    expect_names(&kids, "");
    zk_free(a);
}

/* ---- membership ---- */

static void test_membership(void **state)
{
    (void)state;
    struct zk *zk = zk_new(hosts, SESSION_MS, 10000);
    struct seen s;
    seen_init(&s);
    assert_int_equal(membership_init(zk), ZK_OK);
    long pid = 0;
    assert_int_equal(membership_read_pid(zk, "w-m1", &pid), ZK_ENONODE);
    assert_int_equal(membership_register(zk, "w-m1", "slave", 0), ZK_OK);
    assert_int_equal(membership_register(zk, "w-m1", "slave", 0), ZK_EEXISTS);
    assert_int_equal(membership_publish_pid(zk, "w-m1", 4242), ZK_OK);
    assert_int_equal(membership_publish_pid(zk, "w-m1", 4243), ZK_OK);
    assert_int_equal(membership_wait_pid(zk, "w-m1", 1000, &pid), ZK_OK);
    assert_int_equal(pid, 4243);
    assert_int_equal(membership_update(zk, "w-m1", "master", pid), ZK_OK);

    struct zk_child *kids;
    size_t n;
    assert_int_equal(zk_children(zk, ZKP_WORKERS, &kids, &n), ZK_OK);
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        struct member m;
        if (strcmp(kids[i].name, "w-m1") != 0)
            continue;
        assert_int_equal(membership_parse(&kids[i], &m), 0);
        assert_string_equal(m.id, "w-m1");
        assert_string_equal(m.role, "master");
        assert_int_equal(m.pid, 4243);
        found = 1;
    }
    zk_children_free(kids, n);
    assert_true(found);
    struct zk_child bad = {"x", "not json", 8};
    struct member m;
    assert_int_equal(membership_parse(&bad, &m), -1);
    assert_int_equal(membership_forget_pid(zk, "w-m1"), ZK_OK);
    assert_int_equal(membership_forget_pid(zk, "w-m1"), ZK_OK);
    zk_free(zk);
}

/* ---- election ---- */

static atomic_int masters_now;  /* candidates that currently believe they are master */
static atomic_int masters_max;

struct cand {
    const char *id;
    long pid;
    struct zk *zk;
    struct election *el;
    atomic_int role;
};

static void on_role(enum election_role role, void *arg)
{
    struct cand *c = arg;
    int was = atomic_exchange(&c->role, (int)role);
    if (role == ELECTION_MASTER && was != ELECTION_MASTER) {
        int now = atomic_fetch_add(&masters_now, 1) + 1;
        int max = atomic_load(&masters_max);
        while (now > max && !atomic_compare_exchange_weak(&masters_max, &max, now))
            ;
    } else if (role != ELECTION_MASTER && was == ELECTION_MASTER) {
        atomic_fetch_sub(&masters_now, 1);
    }
}

struct master_is {
    struct zk *zk;
    const char *id;
};

static int master_is(void *arg)
{
    struct master_is *m = arg;
    char *holder = election_master_id(m->zk);
    int ok = holder && strcmp(holder, m->id) == 0;
    free(holder);
    return ok;
}

static int cand_is_master(void *arg)
{
    return atomic_load(&((struct cand *)arg)->role) == ELECTION_MASTER;
}

static int cand_is_slave(void *arg)
{
    return atomic_load(&((struct cand *)arg)->role) == ELECTION_SLAVE;
}

static void cand_start(struct cand *c)
{
    c->zk = zk_new(hosts, SESSION_MS, 10000);
    assert_non_null(c->zk);
    atomic_store(&c->role, ELECTION_UNKNOWN);
    c->el = election_new(c->zk, c->id, c->pid, on_role, c);
    assert_non_null(c->el);
}

/* A crash, as ZooKeeper sees it: the session ends without a word from the election. */
static void cand_crash(struct cand *c)
{
    if (atomic_load(&c->role) == ELECTION_MASTER)
        atomic_fetch_sub(&masters_now, 1);  /* the dead do not call back */
    atomic_store(&c->role, ELECTION_UNKNOWN);
    zk_test_close(c->zk);  /* the server drops its ephemerals now */
    election_free(c->el);  /* finds nothing left to clean up */
    zk_free(c->zk);
    c->el = NULL;
    c->zk = NULL;
}

static void test_election(void **state)
{
    (void)state;
    struct zk *admin = zk_new(hosts, SESSION_MS, 10000);
    assert_non_null(admin);
    assert_int_equal(zk_ensure_path(admin, ZKP_ELECTION), ZK_OK);
    /* A master from before: the candidates must wait for it to vanish, whatever their pid. */
    assert_int_equal(zk_create(admin, ZKP_MASTER, "old", 3, ZKF_EPHEMERAL, NULL, 0), ZK_OK);

    struct cand c[3] = {{.id = "w-c", .pid = 300}, {.id = "w-a", .pid = 100}, {.id = "w-b", .pid = 200}};
    for (int i = 0; i < 3; i++)
        cand_start(&c[i]);
    sleep_ms(300);
    for (int i = 0; i < 3; i++)
        assert_false(election_is_master(c[i].el));

    /* The old master dies: the lowest pid (100) takes over, whoever joined first. */
    assert_int_equal(zk_delete(admin, ZKP_MASTER), ZK_OK);
    assert_true(wait_for(cand_is_master, &c[1], 5000));
    struct master_is mi = {admin, "w-a"};
    assert_true(master_is(&mi));
    sleep_ms(200);
    assert_int_equal(election_role(c[0].el), ELECTION_SLAVE);
    assert_int_equal(election_role(c[2].el), ELECTION_SLAVE);

    /* The master crashes: the next lowest pid (200) takes over. */
    cand_crash(&c[1]);
    assert_true(wait_for(cand_is_master, &c[2], 5000));
    mi.id = "w-b";
    assert_true(master_is(&mi));
    assert_int_equal(election_role(c[0].el), ELECTION_SLAVE);

    /* A lower pid joining later does not depose a live master. */
    struct cand low = {.id = "w-low", .pid = 50};
    cand_start(&low);
    sleep_ms(500);
    assert_int_equal(election_role(low.el), ELECTION_SLAVE);
    assert_true(master_is(&mi));

    /* Up to here every hand-over went through a closed session: never two masters. */
    assert_true(atomic_load(&masters_max) <= 1);

    /* The master's session expires (a partition): exactly one candidate ends up master;
     * w-low (pid 50) is now the lowest. The old master learns of the expiry only when it
     * next hears from the server (its next ping, within a third of the session timeout),
     * so here it may still believe itself master for that long: the znode is the truth. */
    assert_int_equal(zk_test_expire(c[2].zk), ZK_OK);
    mi.id = "w-low";
    assert_true(wait_for(master_is, &mi, 20000));
    assert_true(wait_for(cand_is_master, &low, 5000));
    assert_true(wait_for(cand_is_slave, &c[2], SESSION_MS));
    assert_int_equal(election_role(c[2].el), ELECTION_SLAVE);
    assert_int_equal(election_role(c[0].el), ELECTION_SLAVE);
    atomic_store(&masters_max, atomic_load(&masters_now));

    /* A graceful leave hands over at once. */
    election_free(low.el);
    low.el = NULL;
    if (atomic_load(&low.role) == ELECTION_MASTER)
        atomic_fetch_sub(&masters_now, 1);
    mi.id = "w-b";
    assert_true(wait_for(master_is, &mi, 5000));

    assert_true(atomic_load(&masters_max) <= 1);

    zk_free(low.zk);
    for (int i = 0; i < 3; i++)
        if (c[i].zk) {
            election_free(c[i].el);
            zk_free(c[i].zk);
        }
    zk_free(admin);
}

/* Workers on different nodes (SPAWNER=swarm) may have the same host pid: the election
 * stays ordered by pid, and equal pids are ordered by worker id, the same on every node. */
static void test_election_equal_pids(void **state)
{
    (void)state;
    struct zk *admin = zk_new(hosts, SESSION_MS, 10000);
    assert_non_null(admin);
    atomic_store(&masters_now, 0);
    atomic_store(&masters_max, 0);
    /* held while they join, so that the first to join does not simply take it */
    assert_int_equal(zk_create(admin, ZKP_MASTER, "old", 3, ZKF_EPHEMERAL, NULL, 0), ZK_OK);
    struct cand c[3] = {{.id = "w-bb", .pid = 4242}, {.id = "w-aa", .pid = 4242}, {.id = "w-cc", .pid = 4243}};
    for (int i = 0; i < 3; i++)
        cand_start(&c[i]);
    sleep_ms(300);
    assert_int_equal(zk_delete(admin, ZKP_MASTER), ZK_OK);
    /* 4242 twice: w-aa before w-bb; 4243 after both */
    struct master_is mi = {admin, "w-aa"};
    assert_true(wait_for(master_is, &mi, 5000));
    assert_true(wait_for(cand_is_master, &c[1], 5000));
    assert_true(wait_for(cand_is_slave, &c[0], 5000));
    cand_crash(&c[1]);
    mi.id = "w-bb";
    assert_true(wait_for(master_is, &mi, 5000));
    assert_true(wait_for(cand_is_slave, &c[2], 5000));
    assert_true(atomic_load(&masters_max) <= 1);
    for (int i = 0; i < 3; i++)
        if (c[i].zk) {
            election_free(c[i].el);
            zk_free(c[i].zk);
        }
    zk_free(admin);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crud),
        cmocka_unit_test(test_ephemeral_vanishes_on_close),
        cmocka_unit_test(test_child_watch_rearms),
        cmocka_unit_test(test_node_watch),
        cmocka_unit_test(test_session_expiry),
        cmocka_unit_test(test_membership),
        cmocka_unit_test(test_election),
        cmocka_unit_test(test_election_equal_pids),
    };
    if (!getenv("ZK_TEST_HOSTS") && access("/usr/share/java/zookeeper.jar", R_OK) != 0) {
        printf("SKIP: no ZooKeeper (set ZK_TEST_HOSTS or install the zookeeper package)\n");
        return 0;
    }
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
