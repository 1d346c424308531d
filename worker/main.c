/* main.c - the worker: one SQLite copy of the DBaaS data, serving as master (writes) or
 * slave (reads). Without ZK_HOSTS, WORKER_ROLE decides for life (SIGUSR1 promotes a
 * slave); with it, the ZooKeeper election does (ha.h). Settings: the environment (README). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "ha.h"
#include "log.h"
#include "master.h"
#include "seed.h"
#include "slave.h"
#include "store.h"
#include "worker.h"

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t promote_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
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

/* Runs the role: a master until it stops or abdicates, a slave until it stops or is
 * promoted, then a master on the same store. */
static int run(store *s, struct worker_ctx *w, int master, ha *h)
{
    int rc;
    if (!master) {
        rc = slave_run(s, w);
        if (rc != SLAVE_PROMOTE)
            return rc;
        if (h && ha_promoted(h) < 0)
            return MASTER_ABDICATED;
    }
    rc = master_run(s, w);
    if (rc == MASTER_ABDICATED)
        log_error("worker %s: lost the master role in ZooKeeper; exiting so that it is replaced", w->id);
    return rc;
}

int main(void)
{
    char default_id[128], host[64] = "worker";
    struct worker_ctx w = {.stop = &stop_requested, .should_promote = should_promote};
    ha *h = NULL;
    int rc;

    log_init("worker");
    install_signals();
    gethostname(host, sizeof host - 1);
    snprintf(default_id, sizeof default_id, "%s-%ld", host, (long)getpid());
    mq_cfg_from_env(&w.mq);
    w.id = config_str("WORKER_ID", default_id);
    w.read_prefetch = (unsigned)config_long("READ_PREFETCH", 1, 1, 65535);
    w.bench_echo = (int)config_long("WORKER_BENCH_ECHO", 0, 0, 1);
    const char *role = config_str("WORKER_ROLE", "slave");
    const char *path = config_str("DB_PATH", "./worker.db");
    const char *zk_hosts = config_str("ZK_HOSTS", "");
    int session_ms = (int)config_long("ZK_SESSION_MS", 1500, 200, 600000);
    if (strcmp(role, "master") != 0 && strcmp(role, "slave") != 0) {
        log_error("WORKER_ROLE=\"%s\" is neither master nor slave", role);
        return 2;
    }

    store *s = store_new(path);
    if (!s)
        return 1;
    int master = strcmp(role, "master") == 0;
    log_info("worker %s starting as %s on %s%s%s", w.id, role, path, zk_hosts[0] ? ", ZooKeeper " : "", zk_hosts);
    if (zk_hosts[0]) {
        h = ha_new(zk_hosts, session_ms, w.id);
        if (!h) {
            store_free(s);
            return 1;
        }
        ha_wire(h, &w);
        /* WORKER_ROLE=master means "the fleet has no master yet": stand at once. A slave
         * stands only once its copy is complete (the on_synced seam). */
        if (master && (master = ha_claim(h, 1000)) < 0) {
            ha_free(h);
            store_free(s);
            return 1;
        }
    }
    /* A master that leads from the start is leading an empty fleet: it takes the freshest
     * copy left beside it, so `make down`/`make up` or a restarted orchestrator loses nothing. */
    if (master && seed_from_freshest(s, path) < 0)
        log_warn("worker %s: could not look for a fresher database beside %s", w.id, path);
    rc = run(s, &w, master, h);
    ha_free(h); /* a master hands over at once */
    store_free(s);
    log_info("worker %s stopped", w.id);
    if (rc == MASTER_ABDICATED)
        return 3;
    return rc < 0 ? 1 : 0;
}
