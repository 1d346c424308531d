/* main.c - the worker: one SQLite copy of the DBaaS data, serving as master (writes) or
 * slave (reads). Without ZK_HOSTS, WORKER_ROLE decides for life (SIGUSR1 promotes a
 * slave); with it, the ZooKeeper election does (ha.h). Settings: the environment (README). */
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "fleet/wire.h"
#include "ha.h"
#include "log.h"
#include "master.h"
#include "seed.h"
#include "slave.h"
#include "store.h"
#include "worker.h"

/* An atomic_int, the kind of stop flag mq_connect's loop takes (the orchestrator's RPC
 * thread has one too); lock-free, so a signal handler may set it. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the stop flag is set from a signal handler");
static atomic_int stop_requested;

/* The longest pause between a worker's attempts to reach a lost broker: the pace the
 * worker had when it had a connect loop of its own (the fault suite's broker nemesis was
 * measured with it). */
#define WORKER_BACKOFF_MAX_MS 5000
static volatile sig_atomic_t promote_requested;

static void on_stop(int sig)
{
    (void)sig;
    atomic_store(&stop_requested, 1);
}

/* SIGUSR1 asks a slave to become master: the manual seam when ZooKeeper is not used. */
static void on_promote(int sig)
{
    (void)sig;
    promote_requested = 1;
}

static int should_promote(void *ud)
{
    (void)ud;
    return promote_requested;
}

/* Without ZooKeeper there is nobody to fence against: a term is the copy's plus one. */
static int local_term(int64_t floor, int64_t *term, void *ud)
{
    (void)ud;
    *term = floor + 1;
    return 0;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_promote;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* A master that did not come from a drained slave (a claim, a seeder): its copy becomes
 * the freshest beside it, then it begins a term above whatever that copy followed. */
static int lead_from_seed(store *s, const struct worker_ctx *w)
{
    int64_t floor, term;
    if (seed_from_freshest(s, w->db_path) < 0)
        log_warn("worker %s: could not look for a fresher database beside %s", w->id, w->db_path);
    if (store_term(s, &floor) < 0 || w->begin_term(floor, &term, w->seam_ud) < 0 || store_set_term(s, term) < 0)
        return -1;
    return 0;
}

/* How the worker ends: its exit status. Each role's own codes stay inside run(). */
enum { EXIT_STOPPED = 0, EXIT_FAILED = 1, EXIT_BAD_ROLE = 2, EXIT_ABDICATED = 3 };

/* Runs the role: a master until it stops or abdicates, a slave until it stops or is
 * promoted, then a master on the same store. The exit status. */
static int run(store *s, struct worker_ctx *w, int master, ha *h)
{
    int seed = 1; /* a master that did not come from a drained slave leads from a seed */
    if (!master) {
        int slave = slave_run(s, w);
        if (slave != SLAVE_PROMOTE && slave != SLAVE_SEED)
            return slave < 0 ? EXIT_FAILED : EXIT_STOPPED;
        if (h && ha_promoted(h) < 0)
            return EXIT_ABDICATED;
        seed = slave == SLAVE_SEED;
    }
    if (seed && lead_from_seed(s, w) < 0)
        return EXIT_ABDICATED;
    int rc = master_run(s, w);
    if (rc == MASTER_ABDICATED) {
        log_error("worker %s: lost the master role in ZooKeeper; exiting so that it is replaced", w->id);
        return EXIT_ABDICATED;
    }
    return rc < 0 ? EXIT_FAILED : EXIT_STOPPED;
}

int main(void)
{
    char default_id[128], host[64] = "worker";
    struct worker_ctx w = {.stop = &stop_requested, .should_promote = should_promote, .begin_term = local_term};
    ha *h = NULL;

    log_init("worker");
    install_signals();
    gethostname(host, sizeof host - 1);
    snprintf(default_id, sizeof default_id, "%s-%ld", host, (long)getpid());
    mq_cfg_from_env(&w.mq);
    w.mq.declare = wire_declare_topology;
    w.mq.backoff_max_ms = WORKER_BACKOFF_MAX_MS;
    w.id = config_str("WORKER_ID", default_id);
    w.read_prefetch = (unsigned)config_long("READ_PREFETCH", 1, 1, 65535);
    w.bench_echo = (int)config_long("WORKER_BENCH_ECHO", 0, 0, 1);
    const char *role_name = config_str("WORKER_ROLE", "slave");
    enum member_role role = member_role_of(role_name);
    const char *path = config_str("DB_PATH", "./worker.db");
    w.db_path = path;
    w.sync_prefetch = (unsigned)config_long("SYNC_PREFETCH", 256, 1, 65535);
    w.write_batch = (unsigned)config_long("WRITE_BATCH", 64, 1, 1024);
    w.snapshot_chunk = (size_t)config_long("SNAPSHOT_CHUNK_BYTES", 8L << 20, 4096, 64L << 20);
    const char *zk_hosts = config_str("ZK_HOSTS", "");
    int session_ms = (int)config_long("ZK_SESSION_MS", 1500, 200, 600000);
    if (role == MEMBER_ROLE_NONE) {
        log_error("WORKER_ROLE=\"%s\" is neither master nor slave", role_name);
        return EXIT_BAD_ROLE;
    }

    store *s = store_new(path);
    if (!s)
        return EXIT_FAILED;
    int master = role == MEMBER_MASTER;
    log_info("worker %s starting as %s on %s%s%s", w.id, role_name, path, zk_hosts[0] ? ", ZooKeeper " : "", zk_hosts);
    if (zk_hosts[0]) {
        h = ha_new(zk_hosts, session_ms, w.id);
        if (!h) {
            store_free(s);
            return EXIT_FAILED;
        }
        ha_wire(h, &w);
        /* WORKER_ROLE=master means "the fleet has no master yet": stand at once. A slave
         * stands only once its copy is complete (the on_synced seam). */
        if (master && (master = ha_claim(h, 1000)) < 0) {
            ha_free(h);
            store_free(s);
            return EXIT_FAILED;
        }
    }
    /* A master that leads from the start is leading an empty fleet: it takes the freshest
     * copy left beside it, so `make down`/`make up` or a restarted orchestrator loses nothing. */
    int status = run(s, &w, master, h);
    ha_free(h); /* a master hands over at once */
    store_free(s);
    log_info("worker %s stopped", w.id);
    return status;
}
