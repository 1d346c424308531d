/* main.c - the worker: one SQLite copy of the DBaaS data, serving as master (writes) or
 * slave (reads), chosen at run time. Settings come from the environment (README). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "master.h"
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

/* SIGUSR1 asks a slave to become master: a manual seam until ZooKeeper drives it. */
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

int main(void)
{
    char default_id[128], host[64] = "worker";
    struct worker_ctx w = {.stop = &stop_requested, .should_promote = should_promote};
    int rc;

    log_init("worker");
    install_signals();
    gethostname(host, sizeof host - 1);
    snprintf(default_id, sizeof default_id, "%s-%ld", host, (long)getpid());
    mq_cfg_from_env(&w.mq);
    w.id = config_str("WORKER_ID", default_id);
    w.read_prefetch = (unsigned)config_long("READ_PREFETCH", 1, 1, 65535);
    const char *role = config_str("WORKER_ROLE", "slave");
    const char *path = config_str("DB_PATH", "./worker.db");
    if (strcmp(role, "master") != 0 && strcmp(role, "slave") != 0) {
        log_error("WORKER_ROLE=\"%s\" is neither master nor slave", role);
        return 2;
    }

    store *s = store_new(path);
    if (!s)
        return 1;
    log_info("worker %s starting as %s on %s", w.id, role, path);
    if (strcmp(role, "master") == 0) {
        rc = master_run(s, &w);
    } else {
        rc = slave_run(s, &w);
        if (rc == SLAVE_PROMOTE)
            rc = master_run(s, &w);
    }
    store_free(s);
    log_info("worker %s stopped", w.id);
    return rc < 0 ? 1 : 0;
}
