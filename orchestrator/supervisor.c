/* supervisor.c - the fleet's keeper. See supervisor.h for the model; the rules:
 *  - a worker is dead when the spawner says it is not running, when its znode has been
 *    gone for longer than the grace period while it still runs (hung), or when it never
 *    registered within the grace period; the dead are evicted from ZooKeeper (so the
 *    election reacts at once), removed, and forgotten;
 *  - an empty fleet gets a worker hinted "master"; otherwise slaves are started or
 *    removed (highest pid first) until their number is what the autoscaler wants;
 *  - nothing is done while ZooKeeper is unreachable. */
#include "supervisor.h"

#include "clock.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "fleet/membership.h"
#include "scaler.h"
#include "series.h"
#include "fleet/election.h"
#include "xalloc.h"

#define SUP_MAX_WORKERS 64
#define SUP_TICK_MS 250

struct wk {
    char id[MEMBER_ID_MAX];
    enum member_role hint; /* the role it was started with */
    enum member_role role; /* its role in ZooKeeper; none until it registered */
    long pid;
    long long seq;     /* the applied sequence it reported; -1: none yet */
    int registered;    /* its znode is there now */
    int was_registered;
    double born;       /* when we started or adopted it */
    double gone_since; /* when its znode vanished (0: present or never seen) */
    int doomed;        /* crashed or scaled in: no longer counted, to be buried */
    char state[12];    /* what its member node says (membership.h MEMBER_STATE_*) */
    const char *doom;  /* "crashed" or "scaled_in", for the removal event */
};

/* Why a worker was removed; indexes supervisor.removed. */
enum { GONE_DEAD, GONE_HUNG, GONE_NEVER_UP, GONE_CRASHED_OR_SCALED, GONE_COUNT };
static const char *const gone_names[GONE_COUNT] = {"dead", "hung", "never_registered", "crashed_or_scaled_in"};

struct supervisor {
    struct supervisor_cfg cfg;
    struct spawner *sp;
    struct zk *zk;
    scaler *sc;
    pthread_t thread;
    int started;
    int watch;

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;
    struct wk w[SUP_MAX_WORKERS];
    size_t n;
    int wanted_slaves;
    int stop;
    /* counters for /metrics */
    unsigned long started_total, scale_events, crashes, removed[GONE_COUNT];
    events *ev;                    /* the timeline; NULL: none */
    void (*master_down)(void *ud); /* told when we kill or bury the master */
    void *master_down_ud;
};

void supervisor_cfg_from_env(struct supervisor_cfg *cfg)
{
    cfg->scale_interval = (double)config_long("SCALE_INTERVAL", 120, 1, 86400);
    cfg->max_slaves = (int)config_long("MAX_SLAVES", 8, 1, SUP_MAX_WORKERS - 2);
    cfg->grace_ms = config_long("SPAWN_GRACE_MS", 30000, 1000, 600000);
}

/* ---- the table (lock held) ---- */

static struct wk *find(supervisor *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->w[i].id, id) == 0)
            return &s->w[i];
    return NULL;
}

static void drop(supervisor *s, const char *id)
{
    struct wk *w = find(s, id);
    if (w)
        *w = s->w[--s->n];
}

static struct wk *add(supervisor *s, const char *id, enum member_role hint, long pid)
{
    if (s->n == SUP_MAX_WORKERS)
        return NULL;
    struct wk *w = &s->w[s->n++];
    memset(w, 0, sizeof *w);
    snprintf(w->id, sizeof w->id, "%s", id);
    w->hint = hint;
    w->pid = pid;
    w->seq = -1;
    w->born = clock_mono_s();
    return w;
}

static int is_master(const struct wk *w)
{
    return w->registered && w->role == MEMBER_MASTER;
}

/* A slave, serving or still starting, that counts toward the wanted number. One whose
 * znode vanished is in limbo (frozen, or dying): it counts as nothing, so that scaling
 * never removes a live slave because of it; it is buried once its grace runs out. */
static int is_slave(const struct wk *w)
{
    if (w->doomed)
        return 0;
    if (w->registered)
        return w->role == MEMBER_SLAVE;
    return !w->was_registered && w->hint == MEMBER_SLAVE;
}

/* A slave that has served reads: a candidate for master. */
static int is_synced_slave(const struct wk *w)
{
    return !w->doomed && w->registered && w->role == MEMBER_SLAVE && w->seq >= 0;
}

/* ---- ZooKeeper watch ---- */

static void on_workers(const char *path, const struct zk_child *kids, size_t n, void *arg)
{
    (void)path;
    supervisor *s = arg;
    double t = clock_mono_s();
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++)
        s->w[i].registered = 0;
    for (size_t k = 0; k < n; k++) {
        struct member m;
        struct wk *w;
        if (membership_parse(&kids[k], &m) < 0 || !(w = find(s, m.id)))
            continue; /* not ours (another fleet, or one we already buried) */
        w->registered = w->was_registered = 1;
        w->gone_since = 0;
        w->seq = m.seq;
        w->role = member_role_of(m.role);
        snprintf(w->state, sizeof w->state, "%s", m.state);
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->w[i].was_registered && !s->w[i].registered && s->w[i].gone_since == 0)
            s->w[i].gone_since = t;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

/* ---- acting (only the supervisor thread and crash handlers call these) ---- */

static void emit(supervisor *s, const char *type, json_t *fields, const char *msg)
{
    if (s->ev)
        events_emit(s->ev, type, fields, "%s", msg);
    else
        json_decref(fields);
}

/* Lock held. The timeline's word for why w goes. */
static const char *removal_reason(const struct wk *w, int reason)
{
    return reason == GONE_CRASHED_OR_SCALED && w && w->doom ? w->doom : gone_names[reason];
}

/* Kills (if needed), evicts and removes a worker, and forgets it. */
static void bury(supervisor *s, const char *id, long pid, int reason, const char *why)
{
    log_info("supervisor: worker %s (pid %ld) %s; removing it", id, pid, why);
    pthread_mutex_lock(&s->lock);
    struct wk *w = find(s, id);
    int was_master = w && is_master(w) && !w->doomed;
    const char *code = removal_reason(w, reason);
    pthread_mutex_unlock(&s->lock);
    if (was_master && s->master_down)
        s->master_down(s->master_down_ud);
    char msg[200];
    if (reason == GONE_DEAD) {
        snprintf(msg, sizeof msg, "worker %s (pid %ld) crashed: it is not running", id, pid);
        emit(s, "worker_crashed", json_pack("{s:s,s:I,s:s}", "worker", id, "pid", (json_int_t)pid, "role",
                                             was_master ? "master" : "slave"), msg);
    }
    snprintf(msg, sizeof msg, "worker %s (pid %ld) removed: %s", id, pid, why);
    emit(s, "worker_removed", json_pack("{s:s,s:I,s:s}", "worker", id, "pid", (json_int_t)pid, "reason", code), msg);
    spawner_kill(s->sp, id, SIGKILL);
    membership_evict(s->zk, id, pid);
    spawner_remove(s->sp, id);
    membership_forget_pid(s->zk, id);
    pthread_mutex_lock(&s->lock);
    drop(s, id);
    s->removed[reason]++;
    pthread_mutex_unlock(&s->lock);
}

static void spawn(supervisor *s, enum member_role hint)
{
    struct spawner_worker out;
    const char *role = member_role_name(hint);
    if (spawner_start(s->sp, role, NULL, &out) < 0) {
        log_error("supervisor: cannot start a %s worker", role);
        return;
    }
    pthread_mutex_lock(&s->lock);
    struct wk *w = add(s, out.id, hint, out.pid);
    s->started_total++;
    pthread_mutex_unlock(&s->lock);
    if (!w) {
        spawner_remove(s->sp, out.id);
        return;
    }
    /* a container cannot see its host pid: the worker waits for this before the election */
    if (membership_publish_pid(s->zk, out.id, out.pid) < 0)
        log_warn("supervisor: cannot publish the pid of %s", out.id);
    log_info("supervisor: started %s worker %s, pid %ld", role, out.id, out.pid);
    char msg[200];
    snprintf(msg, sizeof msg, "worker %s started as %s, pid %ld", out.id, role, out.pid);
    emit(s, "worker_started", json_pack("{s:s,s:I,s:s}", "worker", out.id, "pid", (json_int_t)out.pid, "role", role),
         msg);
}

/* Buries every worker that is dead, hung, doomed or never came up. */
static void reap(supervisor *s)
{
    struct wk snap[SUP_MAX_WORKERS];
    pthread_mutex_lock(&s->lock);
    size_t n = s->n;
    memcpy(snap, s->w, n * sizeof *snap);
    pthread_mutex_unlock(&s->lock);
    double t = clock_mono_s(), grace = (double)s->cfg.grace_ms / 1000;
    for (size_t i = 0; i < n; i++) {
        struct wk *w = &snap[i];
        struct spawner_worker st;
        int rc = spawner_inspect(s->sp, w->id, &st);
        if (w->doomed)
            bury(s, w->id, w->pid, GONE_CRASHED_OR_SCALED, "was crashed or scaled in");
        else if (rc == SPAWNER_ENOTFOUND || (rc == 0 && !st.running))
            bury(s, w->id, w->pid, GONE_DEAD, "is not running");
        else if (rc == 0 && w->gone_since > 0 && t - w->gone_since > grace)
            bury(s, w->id, w->pid, GONE_HUNG, "left ZooKeeper but still runs");
        else if (rc == 0 && !w->was_registered && t - w->born > grace)
            bury(s, w->id, w->pid, GONE_NEVER_UP, "never registered");
    }
}

/* The slave to remove when scaling in (lock held): one still starting before a synced
 * one, the highest pid first, and never the last synced slave, the only one that could
 * take over from the master. NULL when none may go. */
static struct wk *scale_in_victim(supervisor *s)
{
    struct wk *top = NULL;
    int synced = 0;
    for (size_t i = 0; i < s->n; i++)
        synced += is_synced_slave(&s->w[i]);
    for (size_t i = 0; i < s->n; i++) {
        struct wk *w = &s->w[i];
        if (!is_slave(w) || (is_synced_slave(w) && synced <= 1))
            continue;
        int better = !top || (is_synced_slave(top) && !is_synced_slave(w)) ||
                     (is_synced_slave(top) == is_synced_slave(w) && w->pid > top->pid);
        if (better)
            top = w;
    }
    return top;
}

/* Removes one surplus slave; 0 when none may go now. */
static int scale_in_one(supervisor *s)
{
    pthread_mutex_lock(&s->lock);
    struct wk *top = scale_in_victim(s);
    char id[MEMBER_ID_MAX] = "";
    long pid = 0;
    if (top) {
        top->doomed = 1;
        top->doom = "scaled_in";
        snprintf(id, sizeof id, "%s", top->id);
        pid = top->pid;
    }
    pthread_mutex_unlock(&s->lock);
    if (!*id)
        return 0;
    bury(s, id, pid, GONE_CRASHED_OR_SCALED, "is no longer needed (scale in)");
    return 1;
}

/* Brings the number of slaves to what is wanted, and a master to an empty fleet. Scales
 * in only while a master is registered: a fleet without one needs every candidate. */
static void balance(supervisor *s)
{
    pthread_mutex_lock(&s->lock);
    int slaves = 0, others = 0, masters = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (is_slave(&s->w[i]))
            slaves++;
        else if (!s->w[i].doomed)
            others++;
        masters += !s->w[i].doomed && is_master(&s->w[i]);
    }
    int want = s->wanted_slaves;
    pthread_mutex_unlock(&s->lock);

    if (slaves == 0 && others == 0) {
        spawn(s, MEMBER_MASTER);
        return; /* slaves follow on the next tick, once a master is on its way */
    }
    for (; slaves < want; slaves++)
        spawn(s, MEMBER_SLAVE);
    for (; slaves > want && masters > 0; slaves--)
        if (!scale_in_one(s))
            break;
}

static void scale_event(supervisor *s, int from, int to)
{
    long reads = scaler_last_reads(s->sc);
    char msg[200];
    snprintf(msg, sizeof msg, "scale %s: %d -> %d slaves (%ld reads in the last %g s interval)",
             to > from ? "out" : "in", from, to, reads, s->cfg.scale_interval);
    emit(s, to > from ? "scale_out" : "scale_in",
         json_pack("{s:i,s:i,s:I,s:f}", "from", from, "to", to, "reads", (json_int_t)reads, "interval_s",
                   s->cfg.scale_interval),
         msg);
}

static void *run(void *arg)
{
    supervisor *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        struct timespec ts;
        clock_deadline(&ts, SUP_TICK_MS);
        pthread_cond_timedwait(&s->wake, &s->lock, &ts);
        if (s->stop)
            break;
        int want = scaler_tick(s->sc, clock_mono_s()), from = s->wanted_slaves;
        if (want >= 0 && want != s->wanted_slaves) {
            log_info("supervisor: scaling from %d to %d slaves", s->wanted_slaves, want);
            s->wanted_slaves = want;
            s->scale_events++;
        }
        pthread_mutex_unlock(&s->lock);
        if (want >= 0 && want != from)
            scale_event(s, from, want);
        if (zk_is_connected(s->zk)) {
            reap(s);
            balance(s);
        }
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* ---- lifecycle ---- */

supervisor *supervisor_new(const struct supervisor_cfg *cfg, struct spawner *sp, struct zk *zk)
{
    supervisor *s = xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    s->sp = sp;
    s->zk = zk;
    s->sc = scaler_new(cfg->scale_interval, cfg->max_slaves);
    s->wanted_slaves = 1;
    pthread_mutex_init(&s->lock, NULL);
    clock_cond_init(&s->wake);
    return s;
}

/* Takes over the workers a previous orchestrator left running; removes stopped ones. */
static void adopt(supervisor *s)
{
    struct spawner_worker *list = NULL;
    size_t n = 0;
    if (spawner_list(s->sp, &list, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        if (!list[i].running) {
            spawner_remove(s->sp, list[i].id);
            continue;
        }
        pthread_mutex_lock(&s->lock);
        add(s, list[i].id, member_role_of(list[i].role), list[i].pid);
        pthread_mutex_unlock(&s->lock);
        membership_publish_pid(s->zk, list[i].id, list[i].pid);
        log_info("supervisor: adopted %s worker %s, pid %ld", list[i].role, list[i].id, list[i].pid);
    }
    free(list);
}

int supervisor_start(supervisor *s)
{
    if (membership_init(s->zk) < 0)
        return -1;
    adopt(s);
    s->watch = zk_watch_children(s->zk, ZKP_WORKERS, on_workers, s);
    if (s->watch < 0 || pthread_create(&s->thread, NULL, run, s) != 0)
        return -1;
    s->started = 1;
    return 0;
}

void supervisor_free(supervisor *s)
{
    if (!s)
        return;
    if (s->watch > 0)
        zk_unwatch(s->zk, s->watch);
    if (s->started) {
        pthread_mutex_lock(&s->lock);
        s->stop = 1;
        pthread_cond_signal(&s->wake);
        pthread_mutex_unlock(&s->lock);
        pthread_join(s->thread, NULL);
    }
    scaler_free(s->sc);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void supervisor_count_read(void *ud)
{
    supervisor *s = ud;
    scaler_count_read(s->sc, clock_mono_s());
}

/* ---- HTTP ---- */

/* Kills the chosen worker now and evicts it from ZooKeeper, so that an election or a
 * respawn starts at once; the supervisor thread removes what is left.
 * Entered with s->lock held (target points into the table); it marks the target and
 * releases the lock before the slow kill, so it returns unlocked. */
static http_reply *crash(supervisor *s, struct wk *target)
{
    char id[MEMBER_ID_MAX];
    long pid = target->pid;
    snprintf(id, sizeof id, "%s", target->id);
    int was_master = is_master(target);
    const char *role = member_role_name(target->registered ? target->role : target->hint);
    char msg[200];
    snprintf(msg, sizeof msg, "worker %s (pid %ld, %s) crashed through the crash API", id, pid, role);
    json_t *fields = json_pack("{s:s,s:I,s:s,s:s}", "worker", id, "pid", (json_int_t)pid, "role", role, "via", "api");
    target->doomed = 1;
    target->doom = "crashed";
    s->crashes++;
    pthread_mutex_unlock(&s->lock);
    if (was_master && s->master_down)
        s->master_down(s->master_down_ud);
    emit(s, "worker_crashed", fields, msg);
    spawner_kill(s->sp, id, SIGKILL);
    membership_evict(s->zk, id, pid);
    pthread_mutex_lock(&s->lock);
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    log_info("supervisor: crashed worker %s, pid %ld", id, pid);
    char buf[32];
    snprintf(buf, sizeof buf, "%ld", pid);
    return http_reply_json(200, json_pack("[s]", buf));
}

http_reply *supervisor_crash_master(http_req *req, void *ud)
{
    (void)req;
    supervisor *s = ud;
    char *master_id = election_master_id(s->zk);
    pthread_mutex_lock(&s->lock);
    struct wk *target = NULL;
    for (size_t i = 0; i < s->n && !target; i++)
        if (!s->w[i].doomed && (is_master(&s->w[i]) || (master_id && strcmp(master_id, s->w[i].id) == 0)))
            target = &s->w[i];
    free(master_id);
    if (!target) {
        pthread_mutex_unlock(&s->lock);
        return http_reply_error(400, "there is no master to crash");
    }
    return crash(s, target);
}

http_reply *supervisor_crash_slave(http_req *req, void *ud)
{
    (void)req;
    supervisor *s = ud;
    pthread_mutex_lock(&s->lock);
    struct wk *target = NULL;
    for (size_t i = 0; i < s->n; i++)
        if (is_slave(&s->w[i]) && s->w[i].pid > 0 && (!target || s->w[i].pid > target->pid))
            target = &s->w[i];
    if (!target) {
        pthread_mutex_unlock(&s->lock);
        return http_reply_error(400, "there is no slave to crash");
    }
    return crash(s, target);
}

static int cmp_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

http_reply *supervisor_worker_list(http_req *req, void *ud)
{
    (void)req;
    supervisor *s = ud;
    long pids[SUP_MAX_WORKERS];
    size_t n = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++)
        if (!s->w[i].doomed && s->w[i].pid > 0)
            pids[n++] = s->w[i].pid;
    pthread_mutex_unlock(&s->lock);
    qsort(pids, n, sizeof *pids, cmp_long);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_integer(pids[i]));
    return http_reply_json(200, arr);
}

/* Lock held: every worker's series. */
static void worker_series(supervisor *s, metrics *m, long long acked_seq)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct wk *w = &s->w[i];
        if (w->doomed)
            continue;
        metrics_add(m, S_WORKER_INFO, 1, "worker=\"%s\",role=\"%s\",pid=\"%ld\"", w->id,
                    w->registered ? member_role_name(w->role) : "starting", w->pid);
        if (w->seq < 0)
            continue;
        const char *role = member_role_name(w->role);
        metrics_add(m, S_WORKER_APPLIED_SEQ, (double)w->seq, "worker=\"%s\",role=\"%s\"", w->id, role);
        metrics_add(m, S_WORKER_LAG, (double)(acked_seq > w->seq ? acked_seq - w->seq : 0),
                    "worker=\"%s\",role=\"%s\"", w->id, role);
    }
}

void supervisor_metrics(supervisor *s, metrics *m, long long acked_seq)
{
    int masters = 0, slaves = 0, starting = 0;
    pthread_mutex_lock(&s->lock);
    worker_series(s, m, acked_seq);
    for (size_t i = 0; i < s->n; i++) {
        if (s->w[i].doomed)
            continue;
        if (is_master(&s->w[i]))
            masters++;
        else if (s->w[i].registered)
            slaves++;
        else
            starting++;
    }
    metrics_add(m, S_WORKERS, masters, "role=\"master\"");
    metrics_add(m, S_WORKERS, slaves, "role=\"slave\"");
    metrics_add(m, S_WORKERS, starting, "role=\"starting\"");
    metrics_set(m, S_SLAVES_WANTED, s->wanted_slaves);
    metrics_set(m, S_SCALE_READS, (double)scaler_reads(s->sc));
    metrics_set(m, S_SCALE_SECONDS_LEFT, scaler_seconds_left(s->sc, clock_mono_s()));
    metrics_set(m, S_WORKERS_STARTED, (double)s->started_total);
    for (int r = 0; r < GONE_COUNT; r++)
        metrics_add(m, S_WORKERS_REMOVED, (double)s->removed[r], "reason=\"%s\"", gone_names[r]);
    metrics_set(m, S_SCALE_EVENTS, (double)s->scale_events);
    metrics_set(m, S_CRASHES, (double)s->crashes);
    pthread_mutex_unlock(&s->lock);
}

/* ---- the fleet view ---- */

void supervisor_set_events(supervisor *s, events *ev, void (*master_down)(void *ud), void *ud)
{
    s->ev = ev;
    s->master_down = master_down;
    s->master_down_ud = ud;
}

/* Lock held. "starting" until the worker registered; "missing" while its znode is gone. */
static const char *state_of(const struct wk *w)
{
    if (!w->registered)
        return w->was_registered ? "missing" : MEMBER_STATE_STARTING;
    return w->state[0] ? w->state : MEMBER_STATE_STARTING;
}

/* Lock held. The highest sequence a registered master reported; -1: none. */
static long long master_seq(const supervisor *s)
{
    long long seq = -1;
    for (size_t i = 0; i < s->n; i++)
        if (!s->w[i].doomed && is_master(&s->w[i]) && s->w[i].seq > seq)
            seq = s->w[i].seq;
    return seq;
}

static json_t *worker_json(const struct wk *w, long long mseq, double now)
{
    json_t *o = json_pack("{s:s,s:I,s:s,s:s,s:f}", "id", w->id, "pid", (json_int_t)w->pid, "role",
                          member_role_name(w->registered ? w->role : w->hint), "state", state_of(w), "uptime_s",
                          now - w->born);
    json_object_set_new(o, "seq", w->seq >= 0 ? json_integer(w->seq) : json_null());
    json_object_set_new(o, "lag", w->seq >= 0 && mseq >= 0 ? json_integer(mseq > w->seq ? mseq - w->seq : 0)
                                                           : json_null());
    json_object_set_new(o, "registered", json_boolean(w->registered));
    return o;
}

json_t *supervisor_fleet(supervisor *s)
{
    double now = clock_mono_s();
    json_t *workers = json_array();
    pthread_mutex_lock(&s->lock);
    long long mseq = master_seq(s);
    for (size_t i = 0; i < s->n; i++)
        if (!s->w[i].doomed)
            json_array_append_new(workers, worker_json(&s->w[i], mseq, now));
    long reads = scaler_reads(s->sc);
    json_t *scale = json_pack("{s:I,s:f,s:f,s:i,s:i,s:i}", "reads", (json_int_t)reads, "seconds_left",
                              scaler_seconds_left(s->sc, now), "interval_s", s->cfg.scale_interval, "slaves_wanted",
                              s->wanted_slaves, "slaves_next", scaler_target(reads, s->cfg.max_slaves), "max_slaves",
                              s->cfg.max_slaves);
    pthread_mutex_unlock(&s->lock);
    return json_pack("{s:o,s:o}", "workers", workers, "autoscaler", scale);
}

void supervisor_counts(supervisor *s, int *masters, int *slaves, int *starting)
{
    *masters = *slaves = *starting = 0;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++) {
        const struct wk *w = &s->w[i];
        if (w->doomed)
            continue;
        if (is_master(w))
            (*masters)++;
        else if (w->registered && strcmp(state_of(w), MEMBER_STATE_SERVING) == 0)
            (*slaves)++;
        else
            (*starting)++;
    }
    pthread_mutex_unlock(&s->lock);
}
