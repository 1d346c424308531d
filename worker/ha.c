/* ha.c - membership, pid and election of one worker (see ha.h). The seams are called on
 * the role's own thread only; the election keeps its state behind its own lock. */
#include "ha.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "election.h"
#include "log.h"
#include "membership.h"
#include "xalloc.h"

#define CONNECT_WAIT_MS 30000
#define PID_WAIT_MS 30000
#define CLAIM_MAX_MS 30000 /* a hinted master waits at most this long for a master to exist */

struct ha {
    struct zk *zk;
    struct election *el; /* NULL while we do not stand */
    const char *id;      /* borrowed: WORKER_ID lives as long as the process */
    long pid;
    int64_t reported_seq; /* what the member node says now */
    double reported_at;
};

#define HA_REPORT_EVERY_S 1.0

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* At most once a second, and only when the sequence moved: a znode write costs a round
 * trip to ZooKeeper, the loop turns thousands of times a second. */
static void report(const char *role, int64_t applied, void *ud)
{
    ha *h = ud;
    double now = mono_s();
    if (applied == h->reported_seq || now - h->reported_at < HA_REPORT_EVERY_S)
        return;
    h->reported_at = now;
    if (membership_report(h->zk, h->id, role, h->pid, (long long)applied) == ZK_OK)
        h->reported_seq = applied;
}

static void nap_ms(long ms)
{
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

ha *ha_new(const char *hosts, int session_ms, const char *id)
{
    ha *h = xcalloc(1, sizeof *h);
    h->reported_seq = -1;
    h->id = id;
    h->zk = zk_new(hosts, session_ms, CONNECT_WAIT_MS);
    if (!h->zk)
        goto fail;
    if (membership_init(h->zk) < 0 || membership_register(h->zk, id, "slave", 0) < 0) {
        log_error("ha: cannot register %s in ZooKeeper", id);
        goto fail;
    }
    if (strcmp(config_str("WORKER_PID", ""), "self") == 0) {
        h->pid = (long)getpid();
    } else if (membership_wait_pid(h->zk, id, PID_WAIT_MS, &h->pid) < 0) {
        log_error("ha: no pid published for %s within %d s", id, PID_WAIT_MS / 1000);
        goto fail;
    }
    if (membership_update(h->zk, id, "slave", h->pid) < 0)
        goto fail;
    log_info("ha: %s registered in ZooKeeper with pid %ld", id, h->pid);
    return h;
fail:
    ha_free(h);
    return NULL;
}

static int stand(ha *h)
{
    if (h->el)
        return 0;
    h->el = election_new(h->zk, h->id, h->pid, NULL, NULL);
    if (!h->el)
        return -1;
    log_info("ha: %s stands for master (pid %ld)", h->id, h->pid);
    return 0;
}

static void withdraw(ha *h)
{
    if (!h->el)
        return;
    election_free(h->el);
    h->el = NULL;
    log_info("ha: %s left the election", h->id);
}

void ha_free(ha *h)
{
    if (!h)
        return;
    withdraw(h);
    zk_free(h->zk);
    free(h);
}

static int should_promote(void *ud)
{
    ha *h = ud;
    return h->el && election_is_master(h->el);
}

static void on_synced(int synced, void *ud)
{
    ha *h = ud;
    if (synced) {
        if (stand(h) < 0)
            log_error("ha: cannot enter the election; serving reads only");
    } else {
        withdraw(h); /* a copy that misses data must never become master */
    }
}

/* Anything but MASTER: another master holds /rideshare/master, or we cannot tell
 * (ZooKeeper lost), in which case another may be elected any moment. */
static int should_abdicate(void *ud)
{
    ha *h = ud;
    return !h->el || election_role(h->el) != ELECTION_MASTER;
}

void ha_wire(ha *h, struct worker_ctx *w)
{
    w->should_promote = should_promote;
    w->on_synced = on_synced;
    w->should_abdicate = should_abdicate;
    w->report = report;
    w->seam_ud = h;
}

static int became_master(ha *h)
{
    h->reported_seq = -1; /* the update below drops the reported sequence: report it anew */
    if (membership_update(h->zk, h->id, "master", h->pid) < 0)
        log_warn("ha: cannot mark %s as master in its member node", h->id);
    return 0;
}

int ha_claim(ha *h, long wait_ms)
{
    if (stand(h) < 0)
        return -1;
    /* Normally decided in milliseconds. A master or a lower candidate that is there
     * already may be a dead worker whose session has not expired yet (an orchestrator
     * restarted with its fleet): give it the time to vanish before settling for slave,
     * and never settle while nobody is master (a slave could not sync from anyone). */
    long patience = wait_ms + 2L * zk_session_timeout(h->zk);
    char *holder = NULL;
    for (long waited = 0;; waited += 20) {
        if (election_is_master(h->el)) {
            log_info("ha: %s elected master", h->id);
            return became_master(h) == 0 ? 1 : -1;
        }
        if (waited >= patience) {
            holder = election_master_id(h->zk);
            if (holder || waited >= CLAIM_MAX_MS)
                break;
        }
        nap_ms(20);
    }
    log_info("ha: %s not elected (master: %s); syncing as a slave first", h->id, holder ? holder : "none");
    free(holder);
    withdraw(h);
    return 0;
}

int ha_promoted(ha *h)
{
    if (!should_promote(h)) {
        log_error("ha: %s lost the election while draining its sync queue", h->id);
        return -1;
    }
    return became_master(h);
}
