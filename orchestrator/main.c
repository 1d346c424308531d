/* main.c - the orchestrator: the DBaaS HTTP front door over RabbitMQ, and, when
 * ZooKeeper is configured, the keeper of the worker fleet. */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dbapi.h"
#include "http_server.h"
#include "log.h"
#include "mq.h"
#include "rpc_client.h"
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

/* What the health check and /metrics look at. */
struct orch {
    dbapi *db;
    rpc_client *rpc;
    supervisor *sup;
};

static int ready(void *ud)
{
    return rpc_client_ready(((struct orch *)ud)->rpc);
}

static void metrics(sbuf *out, void *ud)
{
    struct orch *o = ud;
    struct rpc_stats st;
    rpc_client_stats(o->rpc, &st);
    sbuf_printf(out, "# HELP rideshare_rpc_calls_total DB requests sent to workers.\n"
                     "# TYPE rideshare_rpc_calls_total counter\nrideshare_rpc_calls_total %lu\n"
                     "# HELP rideshare_rpc_in_flight DB requests waiting for a worker's answer.\n"
                     "# TYPE rideshare_rpc_in_flight gauge\nrideshare_rpc_in_flight %lu\n"
                     "# HELP rideshare_rpc_timeouts_total DB requests no worker answered in time.\n"
                     "# TYPE rideshare_rpc_timeouts_total counter\n"
                     "rideshare_rpc_timeouts_total{broker=\"up\"} %lu\nrideshare_rpc_timeouts_total{broker=\"down\"} %lu\n"
                     "# HELP rideshare_write_seq The highest write sequence answered.\n"
                     "# TYPE rideshare_write_seq gauge\nrideshare_write_seq %lld\n",
                st.calls, st.in_flight, st.timeouts, st.unavailable, (long long)dbapi_seq(o->db));
    if (o->sup)
        supervisor_metrics(o->sup, out, (long long)dbapi_seq(o->db));
}

int main(void)
{
    signals_block();
    log_init("orchestrator");
    int port = (int)config_long("PORT", 8081, 0, 65535);
    long timeout_ms = config_long("RPC_TIMEOUT_MS", 5000, 100, 600000);
    const char *zk_hosts = config_str("ZK_HOSTS", "");
    int zk_session_ms = (int)config_long("ZK_SESSION_MS", 1500, 200, 60000);
    struct mq_cfg mq;
    mq_cfg_from_env(&mq);
    struct spawner_cfg spcfg;
    spawner_cfg_from_env(&spcfg);
    struct supervisor_cfg supcfg;
    supervisor_cfg_from_env(&supcfg);

    int rc = 1;
    http_server *srv = NULL;
    dbapi *db = NULL;
    struct zk *zk = NULL;
    struct spawner *sp = NULL;
    supervisor *sup = NULL;
    rpc_client *rpc = rpc_client_new(&mq, MQ_RESPONSE_QUEUE);
    if (!rpc)
        goto fail;
    db = dbapi_new(rpc, timeout_ms);

    /* Without ZooKeeper the orchestrator is only the db front door (workers are run by
     * hand or by tests); fleet routes then answer 400 "there is no master/slave". */
    if (*zk_hosts) {
        if (!(zk = zk_new(zk_hosts, zk_session_ms, 30000)) || !(sp = spawner_new(&spcfg)))
            goto fail;
        sup = supervisor_new(&supcfg, sp, zk);
        if (supervisor_start(sup) < 0)
            goto fail;
        dbapi_set_read_hook(db, supervisor_count_read, sup);
    }
    const struct http_route routes[] = {
        {"POST", "/api/v1/db/read", dbapi_read, db},
        {"POST", "/api/v1/db/write", dbapi_write, db},
        {"POST", "/api/v1/db/clear", dbapi_clear, db},
        {"POST", "/api/v1/crash/master", sup ? supervisor_crash_master : no_fleet, sup},
        {"POST", "/api/v1/crash/slave", sup ? supervisor_crash_slave : no_fleet, sup},
        {"GET", "/api/v1/worker/list", sup ? supervisor_worker_list : no_fleet, sup},
    };
    struct orch o = {db, rpc, sup};
    srv = http_server_new(routes, sizeof routes / sizeof routes[0], &o);
    http_server_set_health(srv, ready);
    http_server_set_metrics(srv, metrics);
    if (http_server_start(srv, port) < 0)
        goto fail;
    log_info("orchestrator: ready, stopping on signal %d", signals_wait());
    rc = 0;
fail:
    http_server_free(srv);
    supervisor_free(sup);
    spawner_free(sp);
    zk_free(zk);
    rpc_client_free(rpc);
    dbapi_free(db);
    return rc;
}
