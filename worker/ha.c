/* ha.c - membership, pid and election of one worker (see ha.h). The seams are called on
 * the role's own thread only; the election keeps its state behind its own lock. */
#include "ha.h"

#include "clock.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fleet/election.h"
#include "log.h"
#include "fleet/membership.h"
#include "fleet/term.h"
#include "xalloc.h"

#define CONNECT_WAIT_MS 30000
#define PID_WAIT_MS 30000
#define CLAIM_MAX_MS 30000 /* a hinted master waits at most this long for a master to exist */
#define FENCE_TIMEOUT_MS 2000 /* a term check that takes longer answers "cannot tell" */
#define ORPHAN_CHECK_S 0.5    /* how often an unsynced slave looks for a master */

struct ha {
    struct zk *zk;
    struct election *el; /* NULL while we do not stand */
    int seeder;          /* el stands under the seeders (we hold no synced copy) */
    const char *id;      /* borrowed: WORKER_ID lives as long as the process */
    long pid;
    struct term term;    /* ours once begun (ha_begin_term) */
    int64_t reported_seq; /* what the member node says now */
    double reported_at;
    const char *state;    /* MEMBER_STATE_*, as the role last told us */
    enum member_role role; /* the role in the member node */
    double orphan_since;  /* since when we saw no master and no synced candidate; 0: we did not */
    double orphan_checked;
};

#define HA_REPORT_EVERY_S 1.0

/* At most once a second, and only when the sequence moved: a znode write costs a round
 * trip to ZooKeeper, the loop turns thousands of times a second. */
static void report(enum member_role role, int64_t applied, void *ud)
{
    ha *h = ud;
    double now = clock_mono_s();
    if (applied == h->reported_seq || now - h->reported_at < HA_REPORT_EVERY_S)
        return;
    h->reported_at = now;
    h->role = role;
    if (membership_report(h->zk, h->id, member_role_name(role), h->state, h->pid, (long long)applied) == ZK_OK)
        h->reported_seq = applied;
}

/* A change of state is written at once: the dashboard shows a copy or a resync as it
 * starts, and a role reports its sequence only while it serves. */
static void set_state(const char *state, void *ud)
{
    ha *h = ud;
    if (h->state == state)
        return;
    h->state = state;
    if (membership_report(h->zk, h->id, member_role_name(h->role), state, h->pid, (long long)h->reported_seq) != ZK_OK)
        log_warn("ha: cannot report the state %s of %s", state, h->id);
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
    h->state = MEMBER_STATE_STARTING;
    h->role = MEMBER_SLAVE;
    h->zk = zk_new(hosts, session_ms, CONNECT_WAIT_MS);
    if (!h->zk)
        goto fail;
    if (membership_init(h->zk) < 0 || membership_register(h->zk, id, member_role_name(h->role), 0) < 0) {
        log_error("ha: cannot register %s in ZooKeeper", id);
        goto fail;
    }
    if (strcmp(config_str("WORKER_PID", ""), "self") == 0) {
        h->pid = (long)getpid();
    } else if (membership_wait_pid(h->zk, id, PID_WAIT_MS, &h->pid) < 0) {
        log_error("ha: no pid published for %s within %d s", id, PID_WAIT_MS / 1000);
        goto fail;
    }
    if (membership_report(h->zk, id, member_role_name(h->role), h->state, h->pid, -1) < 0)
        goto fail;
    log_info("ha: %s registered in ZooKeeper with pid %ld", id, h->pid);
    return h;
fail:
    ha_free(h);
    return NULL;
}

static void withdraw(ha *h)
{
    if (!h->el)
        return;
    election_free(h->el);
    h->el = NULL;
    h->seeder = 0;
    log_info("ha: %s left the election", h->id);
}

static int stand(ha *h, int seeder)
{
    if (h->el && h->seeder == seeder)
        return 0;
    withdraw(h);
    h->el = seeder ? election_new_seeder(h->zk, h->id, h->pid, NULL, NULL)
                   : election_new(h->zk, h->id, h->pid, NULL, NULL);
    if (!h->el)
        return -1;
    h->seeder = seeder;
    log_info("ha: %s stands for master (pid %ld%s)", h->id, h->pid, seeder ? ", as a seeder without a synced copy" : "");
    return 0;
}

void ha_free(ha *h)
{
    if (!h)
        return;
    withdraw(h);
    zk_free(h->zk);
    free(h);
}

/* An unsynced slave cannot get a copy while there is no master, and no synced candidate
 * may be left to become one (a slave and the master crashed together). After a session's
 * time without either, it stands as a seeder (election.h). */
static void look_for_orphan(ha *h)
{
    double now = clock_mono_s();
    if (now - h->orphan_checked < ORPHAN_CHECK_S)
        return;
    h->orphan_checked = now;
    struct zk_child *kids = NULL;
    size_t n = 0;
    int master = zk_exists(h->zk, ZKP_MASTER);
    if (master != 0 || zk_children(h->zk, ZKP_ELECTION, &kids, &n) < 0) {
        h->orphan_since = 0; /* a master, or we cannot tell: wait for its snapshot */
        return;
    }
    zk_children_free(kids, n);
    if (n > 0) {
        h->orphan_since = 0;
        return;
    }
    if (h->orphan_since == 0)
        h->orphan_since = now;
    else if (now - h->orphan_since >= (double)zk_session_timeout(h->zk) / 1000 + ORPHAN_CHECK_S && stand(h, 1) < 0)
        log_error("ha: cannot stand as a seeder");
}

static int should_promote(void *ud)
{
    ha *h = ud;
    if (!h->el)
        look_for_orphan(h);
    return h->el && election_is_master(h->el);
}

static void on_synced(int synced, void *ud)
{
    ha *h = ud;
    if (synced) {
        if (stand(h, 0) < 0)
            log_error("ha: cannot enter the election; serving reads only");
    } else {
        withdraw(h); /* a copy that misses data must never become master */
    }
    h->orphan_since = 0;
}

static int holds_master(ha *h)
{
    char *holder = election_master_id(h->zk);
    int ours = holder && strcmp(holder, h->id) == 0;
    free(holder);
    return ours;
}

int ha_begin_term(int64_t floor, int64_t *term, void *ud)
{
    ha *h = ud;
    /* Only the holder of the master node may begin a term. A deposed master that wakes
     * up (frozen past its session) and finds its broker connection gone reconnects and
     * would begin one: the term would move under its successor, whose next term check
     * then fails, and it steps down with its batch unanswered, for nothing. */
    if (!holds_master(h)) {
        log_error("ha: %s does not hold the master node; it begins no term", h->id);
        return -1;
    }
    if (term_begin(h->zk, floor, &h->term) < 0) {
        log_error("ha: %s cannot begin a term in ZooKeeper", h->id);
        return -1;
    }
    /* Read after our own write on the same session: if we still hold the master node now,
     * nobody can have begun a later term before ours. */
    if (!holds_master(h)) {
        log_error("ha: %s lost the election while beginning term %lld", h->id, (long long)h->term.number);
        return -1;
    }
    *term = h->term.number;
    log_info("ha: %s begins term %lld", h->id, (long long)h->term.number);
    return 0;
}

static int fence(void *ud)
{
    ha *h = ud;
    int rc = term_check(h->zk, &h->term, FENCE_TIMEOUT_MS);
    return rc == ZK_OK ? 0 : rc == ZK_EBADVERSION ? 1 : -1;
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
    w->begin_term = ha_begin_term;
    w->fence = fence;
    w->report = report;
    w->set_state = set_state;
    w->seam_ud = h;
}

static int became_master(ha *h)
{
    if (h->el && election_settle(h->el) < 0)
        log_warn("ha: %s cannot move from the seeders to the synced candidates", h->id);
    h->seeder = 0;
    h->reported_seq = -1; /* the update below drops the reported sequence: report it anew */
    h->role = MEMBER_MASTER;
    /* not serving yet: it may still seed its copy, and a frozen predecessor may still hold
     * writeQ; master_run says "serving" once it consumes writeQ (set_state) */
    h->state = MEMBER_STATE_STARTING;
    if (membership_report(h->zk, h->id, member_role_name(h->role), h->state, h->pid, -1) < 0)
        log_warn("ha: cannot mark %s as master in its member node", h->id);
    return 0;
}

int ha_claim(ha *h, long wait_ms)
{
    if (stand(h, 0) < 0)
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
