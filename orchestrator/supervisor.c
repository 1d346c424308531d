/* supervisor.c - the fleet's keeper. See supervisor.h for the model; the rules:
 *  - a worker is dead when the spawner says it is not running, when its znode has been
 *    gone for longer than the grace period while it still runs (hung), or when it never
 *    registered within the grace period; the dead are evicted from ZooKeeper (so the
 *    election reacts at once), removed, and forgotten;
 *  - an empty fleet gets a worker hinted "master"; otherwise slaves are started or
 *    removed (highest pid first) until their number is what the autoscaler wants;
 *  - nothing is done while ZooKeeper is unreachable. */
#include "supervisor.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "membership.h"
#include "scaler.h"
#include "election.h"
#include "xalloc.h"

#define SUP_MAX_WORKERS 64
#define SUP_TICK_MS 250

struct wk {
    char id[48];
    char hint[8];      /* the role it was started with */
    char role[8];      /* its role in ZooKeeper; "" until it registered */
    long pid;
    long long seq;     /* the applied sequence it reported; -1: none yet */
    int registered;    /* its znode is there now */
    int was_registered;
    double born;       /* when we started or adopted it */
    double gone_since; /* when its znode vanished (0: present or never seen) */
    int doomed;        /* crashed or scaled in: no longer counted, to be buried */
};

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
    unsigned long started_total, scale_events, crashes, removed[4];
};

/* Why a worker was removed; indexes supervisor.removed. */
enum { GONE_DEAD, GONE_HUNG, GONE_NEVER_UP, GONE_CRASHED_OR_SCALED };
static const char *const gone_names[] = {"dead", "hung", "never_registered", "crashed_or_scaled_in"};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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

static struct wk *add(supervisor *s, const char *id, const char *hint, long pid)
{
    if (s->n == SUP_MAX_WORKERS)
        return NULL;
    struct wk *w = &s->w[s->n++];
    memset(w, 0, sizeof *w);
    snprintf(w->id, sizeof w->id, "%s", id);
    snprintf(w->hint, sizeof w->hint, "%s", hint);
    w->pid = pid;
    w->seq = -1;
    w->born = now_s();
    return w;
}

static int is_master(const struct wk *w)
{
    return w->registered && strcmp(w->role, "master") == 0;
}

/* A slave, serving or still starting, that counts toward the wanted number. */
static int is_slave(const struct wk *w)
{
    if (w->doomed)
        return 0;
    if (w->registered)
        return strcmp(w->role, "slave") == 0;
    return strcmp(w->hint, "slave") == 0;
}

/* ---- ZooKeeper watch ---- */

static void on_workers(const char *path, const struct zk_child *kids, size_t n, void *arg)
{
    (void)path;
    supervisor *s = arg;
    double t = now_s();
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
        snprintf(w->role, sizeof w->role, "%s", m.role);
    }
    for (size_t i = 0; i < s->n; i++)
        if (s->w[i].was_registered && !s->w[i].registered && s->w[i].gone_since == 0)
            s->w[i].gone_since = t;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

/* ---- acting (only the supervisor thread and crash handlers call these) ---- */

/* Kills (if needed), evicts and removes a worker, and forgets it. */
static void bury(supervisor *s, const char *id, long pid, int reason, const char *why)
{
    log_info("supervisor: worker %s (pid %ld) %s; removing it", id, pid, why);
    spawner_kill(s->sp, id, SIGKILL);
    membership_evict(s->zk, id, pid);
    spawner_remove(s->sp, id);
    membership_forget_pid(s->zk, id);
    pthread_mutex_lock(&s->lock);
    drop(s, id);
    s->removed[reason]++;
    pthread_mutex_unlock(&s->lock);
}

static void spawn(supervisor *s, const char *role)
{
    struct spawner_worker out;
    if (spawner_start(s->sp, role, NULL, &out) < 0) {
        log_error("supervisor: cannot start a %s worker", role);
        return;
    }
    pthread_mutex_lock(&s->lock);
    struct wk *w = add(s, out.id, role, out.pid);
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
}

/* Buries every worker that is dead, hung, doomed or never came up. */
static void reap(supervisor *s)
{
    struct wk snap[SUP_MAX_WORKERS];
    pthread_mutex_lock(&s->lock);
    size_t n = s->n;
    memcpy(snap, s->w, n * sizeof *snap);
    pthread_mutex_unlock(&s->lock);
    double t = now_s(), grace = (double)s->cfg.grace_ms / 1000;
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

/* Brings the number of slaves to what is wanted, and a master to an empty fleet. */
static void balance(supervisor *s)
{
    pthread_mutex_lock(&s->lock);
    int slaves = 0, others = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (is_slave(&s->w[i]))
            slaves++;
        else if (!s->w[i].doomed)
            others++;
    }
    int want = s->wanted_slaves;
    pthread_mutex_unlock(&s->lock);

    if (slaves == 0 && others == 0) {
        spawn(s, "master");
        return; /* slaves follow on the next tick, once a master is on its way */
    }
    for (; slaves < want; slaves++)
        spawn(s, "slave");
    for (; slaves > want; slaves--) {
        pthread_mutex_lock(&s->lock);
        struct wk *top = NULL;
        for (size_t i = 0; i < s->n; i++)
            if (is_slave(&s->w[i]) && (!top || s->w[i].pid > top->pid))
                top = &s->w[i];
        char id[48] = "";
        long pid = 0;
        if (top) {
            top->doomed = 1;
            snprintf(id, sizeof id, "%s", top->id);
            pid = top->pid;
        }
        pthread_mutex_unlock(&s->lock);
        if (*id)
            bury(s, id, pid, GONE_CRASHED_OR_SCALED, "is no longer needed (scale in)");
    }
}

static void *run(void *arg)
{
    supervisor *s = arg;
    pthread_mutex_lock(&s->lock);
    while (!s->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += SUP_TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&s->wake, &s->lock, &ts);
        if (s->stop)
            break;
        int want = scaler_tick(s->sc, now_s());
        if (want >= 0 && want != s->wanted_slaves) {
            log_info("supervisor: scaling from %d to %d slaves", s->wanted_slaves, want);
            s->wanted_slaves = want;
            s->scale_events++;
        }
        pthread_mutex_unlock(&s->lock);
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
    pthread_cond_init(&s->wake, NULL);
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
        add(s, list[i].id, list[i].role, list[i].pid);
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
    scaler_count_read(s->sc, now_s());
}

/* ---- HTTP ---- */

/* Kills the chosen worker now and evicts it from ZooKeeper, so that an election or a
 * respawn starts at once; the supervisor thread removes what is left.
 * Entered with s->lock held (target points into the table); it marks the target and
 * releases the lock before the slow kill, so it returns unlocked. */
static http_reply *crash(supervisor *s, struct wk *target)
{
    char id[48];
    long pid = target->pid;
    snprintf(id, sizeof id, "%s", target->id);
    target->doomed = 1;
    s->crashes++;
    pthread_mutex_unlock(&s->lock);
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

void supervisor_metrics(supervisor *s, sbuf *out, long long acked_seq)
{
    pthread_mutex_lock(&s->lock);
    sbuf_printf(out, "# HELP rideshare_worker_info A worker of the fleet, by id, role and container pid.\n"
                     "# TYPE rideshare_worker_info gauge\n");
    for (size_t i = 0; i < s->n; i++)
        if (!s->w[i].doomed)
            sbuf_printf(out, "rideshare_worker_info{worker=\"%s\",role=\"%s\",pid=\"%ld\"} 1\n", s->w[i].id,
                        s->w[i].registered ? s->w[i].role : "starting", s->w[i].pid);
    sbuf_printf(out, "# HELP rideshare_worker_applied_seq The write sequence a worker holds (reported each second).\n"
                     "# TYPE rideshare_worker_applied_seq gauge\n"
                     "# HELP rideshare_worker_lag Writes answered that a worker has not applied yet.\n"
                     "# TYPE rideshare_worker_lag gauge\n");
    for (size_t i = 0; i < s->n; i++) {
        const struct wk *w = &s->w[i];
        if (w->doomed || w->seq < 0)
            continue;
        sbuf_printf(out, "rideshare_worker_applied_seq{worker=\"%s\",role=\"%s\"} %lld\n", w->id, w->role, w->seq);
        sbuf_printf(out, "rideshare_worker_lag{worker=\"%s\",role=\"%s\"} %lld\n", w->id, w->role,
                    acked_seq > w->seq ? acked_seq - w->seq : 0);
    }
    int masters = 0, slaves = 0, starting = 0;
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
    sbuf_printf(out, "# HELP rideshare_workers Workers by role (starting: not registered yet).\n"
                     "# TYPE rideshare_workers gauge\n"
                     "rideshare_workers{role=\"master\"} %d\nrideshare_workers{role=\"slave\"} %d\n"
                     "rideshare_workers{role=\"starting\"} %d\n",
                masters, slaves, starting);
    sbuf_printf(out, "# HELP rideshare_slaves_wanted Slaves the autoscaler wants.\n"
                     "# TYPE rideshare_slaves_wanted gauge\nrideshare_slaves_wanted %d\n",
                s->wanted_slaves);
    sbuf_printf(out, "# HELP rideshare_scale_reads db/read requests counted in the interval under way.\n"
                     "# TYPE rideshare_scale_reads gauge\nrideshare_scale_reads %ld\n"
                     "# HELP rideshare_scale_seconds_left Seconds until the autoscaler's interval ends (-1: not started).\n"
                     "# TYPE rideshare_scale_seconds_left gauge\nrideshare_scale_seconds_left %.3f\n",
                scaler_reads(s->sc), scaler_seconds_left(s->sc, now_s()));
    sbuf_printf(out, "# HELP rideshare_workers_started_total Workers started (first start, respawns, scale out).\n"
                     "# TYPE rideshare_workers_started_total counter\nrideshare_workers_started_total %lu\n",
                s->started_total);
    sbuf_printf(out, "# HELP rideshare_workers_removed_total Workers removed, by reason.\n"
                     "# TYPE rideshare_workers_removed_total counter\n");
    for (int r = 0; r < 4; r++)
        sbuf_printf(out, "rideshare_workers_removed_total{reason=\"%s\"} %lu\n", gone_names[r], s->removed[r]);
    sbuf_printf(out, "# HELP rideshare_scale_events_total Changes of the wanted slave count.\n"
                     "# TYPE rideshare_scale_events_total counter\nrideshare_scale_events_total %lu\n"
                     "# HELP rideshare_crashes_total Workers crashed through the crash API.\n"
                     "# TYPE rideshare_crashes_total counter\nrideshare_crashes_total %lu\n",
                s->scale_events, s->crashes);
    pthread_mutex_unlock(&s->lock);
}
