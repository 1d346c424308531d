/* fleetview.c - see fleetview.h. The snapshot sent once a second is built once and the
 * same bytes go to every stream; with no stream open the tick only takes its sample. */
#include "fleetview.h"

#include "clock.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jsonx.h"
#include "log.h"
#include "fleet/membership.h"
#include "page.h"
#include "stats.h"
#include "xalloc.h"

#define TICK_MS 1000
#define FLEET_EVENTS 100 /* events in GET /api/v1/fleet */

struct fleetview {
    rpc_client *rpc;
    dbapi *db;
    supervisor *sup;
    struct zk *zk;
    events *ev;
    stats *st;
    pthread_t thread;
    int started, watch, listen;
    atomic_int broker_up, zk_up;

    pthread_mutex_t lock; /* guards what follows, and stop */
    pthread_cond_t wake;
    int stop;
    char master[MEMBER_ID_MAX]; /* who holds /rideshare/master; "" none */
    double master_died;         /* monotonic time the last master died; 0: none pending */
    atomic_int awaiting_write;  /* a new master was elected after a death: time its first write */
};

/* ---- the failover clock ---- */

static void master_down(void *ud)
{
    fleetview *fv = ud;
    pthread_mutex_lock(&fv->lock);
    if (fv->master_died == 0)
        fv->master_died = clock_mono_s();
    pthread_mutex_unlock(&fv->lock);
}

static void on_master(const char *path, const char *data, size_t len, void *ud)
{
    (void)path, (void)len;
    fleetview *fv = ud;
    pthread_mutex_lock(&fv->lock);
    if (!data) {
        if (fv->master[0] && fv->master_died == 0)
            fv->master_died = clock_mono_s(); /* the node vanished: the latest it can have died */
        fv->master[0] = '\0';
        pthread_mutex_unlock(&fv->lock);
        return;
    }
    int same = strcmp(fv->master, data) == 0;
    snprintf(fv->master, sizeof fv->master, "%s", data);
    double died = fv->master_died;
    pthread_mutex_unlock(&fv->lock);
    if (same)
        return;
    if (died == 0) {
        events_emit(fv->ev, "master_elected", json_pack("{s:s}", "worker", data), "worker %s is master", data);
        return;
    }
    atomic_store(&fv->awaiting_write, 1);
    double ms = (clock_mono_s() - died) * 1000;
    events_emit(fv->ev, "master_elected", json_pack("{s:s,s:f}", "worker", data, "since_death_ms", ms),
                "worker %s elected master, %.0f ms after the old master died", data, ms);
}

/* The dbapi's done hook: the charts, and the end of a failover. */
static void on_done(int is_write, int status, double seconds, void *ud)
{
    fleetview *fv = ud;
    stats_observe(fv->st, is_write ? STATS_WRITE : STATS_READ, seconds);
    if (!is_write || status != 200 || !atomic_load(&fv->awaiting_write))
        return;
    if (!atomic_exchange(&fv->awaiting_write, 0))
        return; /* another write got there first */
    pthread_mutex_lock(&fv->lock);
    double ms = (clock_mono_s() - fv->master_died) * 1000;
    fv->master_died = 0;
    char master[MEMBER_ID_MAX];
    snprintf(master, sizeof master, "%s", fv->master);
    pthread_mutex_unlock(&fv->lock);
    events_emit(fv->ev, "first_write", json_pack("{s:s,s:f}", "worker", master, "since_death_ms", ms),
                "failover done: master %s accepted its first write %.0f ms after the old master died", master, ms);
}

static void on_zk_state(enum zk_state state, void *ud)
{
    fleetview *fv = ud;
    int up = state == ZK_STATE_CONNECTED;
    if (atomic_exchange(&fv->zk_up, up) == up)
        return;
    if (up)
        events_emit(fv->ev, "zookeeper_regained", NULL, "ZooKeeper connection regained");
    else
        events_emit(fv->ev, "zookeeper_lost", NULL, "ZooKeeper connection lost (%s)",
                    state == ZK_STATE_EXPIRED ? "session expired" : "disconnected");
}

/* ---- the snapshot ---- */

/* {"time", "broker", "zookeeper", "master", "workers", "autoscaler", "sample"} */
static json_t *snapshot(fleetview *fv, const struct stats_sample *last)
{
    json_t *o = fv->sup ? supervisor_fleet(fv->sup) : json_pack("{s:[],s:n}", "workers", "autoscaler");
    json_object_set_new(o, "time", json_integer((json_int_t)clock_wall_ms()));
    json_object_set_new(o, "broker", json_boolean(rpc_client_ready(fv->rpc)));
    json_object_set_new(o, "zookeeper", fv->zk ? json_boolean(atomic_load(&fv->zk_up)) : json_null());
    pthread_mutex_lock(&fv->lock);
    json_object_set_new(o, "master", fv->master[0] ? json_string(fv->master) : json_null());
    pthread_mutex_unlock(&fv->lock);
    json_object_set_new(o, "acked_seq", json_integer((json_int_t)dbapi_seq(fv->db)));
    if (last)
        json_object_set_new(o, "sample", stats_sample_json(last));
    return o;
}

static void check_broker(fleetview *fv)
{
    int up = rpc_client_ready(fv->rpc) ? 1 : 0;
    if (atomic_exchange(&fv->broker_up, up) == up)
        return;
    if (up)
        events_emit(fv->ev, "broker_regained", NULL, "RabbitMQ connection regained");
    else
        events_emit(fv->ev, "broker_lost", NULL, "RabbitMQ connection lost");
}

static void tick(fleetview *fv, double dt)
{
    struct stats_sample x = {0};
    if (fv->sup)
        supervisor_counts(fv->sup, &x.masters, &x.slaves, &x.starting);
    stats_sample(fv->st, dt, &x);
    check_broker(fv);
    if (events_streams(fv->ev) == 0)
        return; /* nobody is watching: no snapshot to build */
    json_t *o = snapshot(fv, &x);
    char *text = jsonx_dump(o);
    json_decref(o);
    events_broadcast(fv->ev, "fleet", text);
    free(text);
}

static void *run(void *arg)
{
    fleetview *fv = arg;
    double last = clock_mono_s();
    pthread_mutex_lock(&fv->lock);
    while (!fv->stop) {
        struct timespec ts;
        clock_deadline(&ts, TICK_MS);
        pthread_cond_timedwait(&fv->wake, &fv->lock, &ts);
        if (fv->stop)
            break;
        pthread_mutex_unlock(&fv->lock);
        double now = clock_mono_s();
        tick(fv, now - last);
        last = now;
        pthread_mutex_lock(&fv->lock);
    }
    pthread_mutex_unlock(&fv->lock);
    return NULL;
}

/* ---- HTTP ---- */

http_reply *fleetview_page(http_req *req, void *ud)
{
    (void)req, (void)ud;
    size_t len;
    const char *html = page_dashboard(&len);
    char *copy = xmalloc(len + 1);
    memcpy(copy, html, len + 1);
    http_reply *r = http_reply_text(200, "text/html; charset=utf-8", copy, len);
    http_reply_header(r, "Cache-Control", "no-cache");
    return r;
}

http_reply *fleetview_fleet(http_req *req, void *ud)
{
    fleetview *fv = ud;
    json_t *o = snapshot(fv, NULL);
    json_object_set_new(o, "events", events_recent(fv->ev, FLEET_EVENTS));
    const char *h = http_req_query(req, "history");
    if (h && strcmp(h, "1") == 0)
        json_object_set_new(o, "series", stats_series(fv->st));
    return http_reply_json(200, o);
}

/* The stream is handed to the server's loops: this handler thread returns at once. */
http_reply *fleetview_events(http_req *req, void *ud)
{
    fleetview *fv = ud;
    const char *last = http_req_header(req, "Last-Event-ID");
    long long last_id = last ? strtoll(last, NULL, 10) : 0;
    http_stream *st = http_stream_new(1024 * 1024);
    if (events_subscribe(fv->ev, st, last_id < 0 ? 0 : last_id) < 0) {
        http_stream_release(st);
        return http_reply_error(503, "too many event streams are open (at most %d)", EVENTS_MAX_STREAMS);
    }
    /* the first snapshot now, not at the next tick */
    json_t *o = snapshot(fv, NULL);
    char *text = jsonx_dump(o);
    json_decref(o);
    size_t n = strlen(text);
    char *frame = xasprintf("event: fleet\ndata: %.*s\n\n", (int)n, text);
    http_stream_write(st, frame, strlen(frame));
    free(frame);
    free(text);
    http_reply *r = http_reply_stream(st, "text/event-stream");
    http_stream_release(st);
    http_reply_header(r, "Cache-Control", "no-cache");
    http_reply_header(r, "X-Accel-Buffering", "no"); /* nginx: pass each event on at once */
    return r;
}

/* ---- lifecycle ---- */

fleetview *fleetview_new(rpc_client *rpc, dbapi *db, supervisor *sup, struct zk *zk)
{
    fleetview *fv = xcalloc(1, sizeof *fv);
    fv->rpc = rpc;
    fv->db = db;
    fv->sup = sup;
    fv->zk = zk;
    fv->ev = events_new(EVENTS_HISTORY);
    fv->st = stats_new();
    pthread_mutex_init(&fv->lock, NULL);
    clock_cond_init(&fv->wake);
    atomic_store(&fv->zk_up, zk ? zk_is_connected(zk) : 0);
    dbapi_set_done_hook(db, on_done, fv);
    if (sup)
        supervisor_set_events(sup, fv->ev, master_down, fv);
    events_emit(fv->ev, "orchestrator_started", NULL, "orchestrator started (the timeline begins here)");
    return fv;
}

int fleetview_start(fleetview *fv)
{
    if (fv->zk) {
        fv->listen = zk_listen(fv->zk, on_zk_state, fv);
        fv->watch = zk_watch_node(fv->zk, ZKP_MASTER, on_master, fv);
        if (fv->listen < 0 || fv->watch < 0)
            return -1;
    }
    if (pthread_create(&fv->thread, NULL, run, fv) != 0)
        return -1;
    fv->started = 1;
    return 0;
}

void fleetview_free(fleetview *fv)
{
    if (!fv)
        return;
    if (fv->zk && fv->watch > 0)
        zk_unwatch(fv->zk, fv->watch);
    if (fv->zk && fv->listen > 0)
        zk_unwatch(fv->zk, fv->listen);
    if (fv->started) {
        pthread_mutex_lock(&fv->lock);
        fv->stop = 1;
        pthread_cond_signal(&fv->wake);
        pthread_mutex_unlock(&fv->lock);
        pthread_join(fv->thread, NULL);
    }
    events_free(fv->ev);
    stats_free(fv->st);
    pthread_cond_destroy(&fv->wake);
    pthread_mutex_destroy(&fv->lock);
    free(fv);
}
