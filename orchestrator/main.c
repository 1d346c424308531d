/* main.c - the orchestrator: the DBaaS HTTP front door over RabbitMQ, and, when
 * ZooKeeper is configured, the keeper of the worker fleet. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dbapi.h"
#include "fleetview.h"
#include "http_server.h"
#include "log.h"
#include "fleet/wire.h"
#include "mq.h"
#include "rpc_client.h"
#include "secret.h"
#include "series.h"
#include "signals.h"
#include "spawner.h"
#include "supervisor.h"
#include "zk.h"

/* The fleet routes when no fleet is supervised: nothing to list, nothing to crash. */
static http_reply *no_fleet(http_req *req, void *ud)
{
    (void)ud;
    if (strcmp(http_req_method(req), "GET") == 0)
        return http_reply_json(200, json_array());
    return http_reply_error(400, "no worker fleet is supervised here (ZK_HOSTS is unset)");
}

/* Every DBaaS and fleet route needs ADMIN_TOKEN when it is set (docs/API.md
 * "Admin token"); /healthz and /metrics stay open for probes. */
static const char *const admin_routes[] = {"/api/v1/db/", "/api/v1/crash/", "/api/v1/worker/", "/api/v1/fleet",
                                           "/api/v1/events", NULL};

/* The longest pause between the RPC thread's attempts to reach a lost broker: the pace it
 * had when it had a connect loop of its own. */
#define RPC_BACKOFF_MAX_MS 800

/* Everything the orchestrator runs; each part may be NULL until started. */
struct orch {
    dbapi *db;
    rpc_client *rpc;
    supervisor *sup;
    struct zk *zk;
    struct spawner *sp;
    fleetview *fv;
};

static int ready(void *ud)
{
    return rpc_client_ready(((struct orch *)ud)->rpc);
}

/* GET /metrics: the series of series.h, after the HTTP ones. */
static void render_metrics(sbuf *out, void *ud)
{
    struct orch *o = ud;
    struct rpc_stats st;
    rpc_client_stats(o->rpc, &st);
    metrics *m = metrics_new(orch_series, ORCH_SERIES_COUNT);
    metrics_set(m, S_RPC_CALLS, (double)st.calls);
    metrics_set(m, S_RPC_IN_FLIGHT, (double)st.in_flight);
    metrics_add(m, S_RPC_TIMEOUTS, (double)st.timeouts, "broker=\"up\"");
    metrics_add(m, S_RPC_TIMEOUTS, (double)st.unavailable, "broker=\"down\"");
    metrics_add(m, S_RPC_TIMEOUTS, (double)st.lost, "broker=\"lost\"");
    metrics_set(m, S_WRITE_SEQ, (double)dbapi_seq(o->db));
    if (o->sup)
        supervisor_metrics(o->sup, m, (long long)dbapi_seq(o->db));
    metrics_render(m, out);
    metrics_free(m);
}

/* The DBaaS front door, and with ZooKeeper the fleet's keeper and its view. */
static int orch_start(struct orch *o)
{
    long timeout_ms = config_long("RPC_TIMEOUT_MS", 5000, 100, 600000);
    const char *zk_hosts = config_str("ZK_HOSTS", "");
    int zk_session_ms = (int)config_long("ZK_SESSION_MS", 1500, 200, 60000);
    struct mq_cfg mq;
    mq_cfg_from_env(&mq);
    mq.declare = wire_declare_topology;
    mq.backoff_max_ms = RPC_BACKOFF_MAX_MS;
    struct spawner_cfg spcfg;
    spawner_cfg_from_env(&spcfg);
    struct supervisor_cfg supcfg;
    supervisor_cfg_from_env(&supcfg);
    if (!(o->rpc = rpc_client_new(&mq, WIRE_RESPONSE_QUEUE)))
        return -1;
    o->db = dbapi_new(o->rpc, timeout_ms);
    /* Without ZooKeeper the orchestrator is only the db front door (workers are run by
     * hand or by tests); fleet routes then answer 400 "there is no master/slave". */
    if (*zk_hosts) {
        if (!(o->zk = zk_new(zk_hosts, zk_session_ms, 30000)) || !(o->sp = spawner_new(&spcfg)))
            return -1;
        o->sup = supervisor_new(&supcfg, o->sp, o->zk);
    }
    /* before the supervisor starts, so that its first starts are on the timeline */
    o->fv = fleetview_new(o->rpc, o->db, o->sup, o->zk);
    if (o->sup) {
        if (supervisor_start(o->sup) < 0)
            return -1;
        dbapi_set_read_hook(o->db, supervisor_count_read, o->sup);
    }
    return fleetview_start(o->fv);
}

/* Serves the routes until a stop signal; 0, or -1 when the port cannot be had. */
static int orch_serve(struct orch *o, int port)
{
    supervisor *sup = o->sup;
    const struct http_route routes[] = {
        {"POST", "/api/v1/db/read", dbapi_read, o->db},
        {"POST", "/api/v1/db/write", dbapi_write, o->db},
        {"POST", "/api/v1/db/clear", dbapi_clear, o->db},
        {"POST", "/api/v1/crash/master", sup ? supervisor_crash_master : no_fleet, sup},
        {"POST", "/api/v1/crash/slave", sup ? supervisor_crash_slave : no_fleet, sup},
        {"GET", "/api/v1/worker/list", sup ? supervisor_worker_list : no_fleet, sup},
        {"GET", "/api/v1/fleet", fleetview_fleet, o->fv},
        {"GET", "/api/v1/events", fleetview_events, o->fv},
        {"GET", "/dashboard", fleetview_page, o->fv},
    };
    http_server *srv = http_server_new(routes, sizeof routes / sizeof routes[0], o);
    http_server_require_token(srv, secret_admin_token(), admin_routes);
    http_server_set_health(srv, ready);
    http_server_set_metrics(srv, render_metrics);
    int rc = http_server_start(srv, port);
    if (rc == 0)
        log_info("orchestrator: ready, stopping on signal %d", signals_wait());
    http_server_free(srv); /* first: handlers and streams use everything else */
    return rc < 0 ? -1 : 0;
}

static void orch_stop(struct orch *o)
{
    supervisor_free(o->sup);
    fleetview_free(o->fv); /* after the supervisor, which records on its timeline */
    spawner_free(o->sp);
    zk_free(o->zk);
    rpc_client_free(o->rpc);
    dbapi_free(o->db);
}

int main(void)
{
    signals_block();
    log_init("orchestrator");
    int port = (int)config_long("PORT", 8081, 0, 65535);
    struct orch o = {0};
    int rc = orch_start(&o) == 0 && orch_serve(&o, port) == 0 ? 0 : 1;
    orch_stop(&o);
    return rc;
}
