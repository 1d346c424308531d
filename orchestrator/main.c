/* main.c - the orchestrator: the DBaaS HTTP front door over RabbitMQ. */
#include <stdlib.h>

#include "config.h"
#include "dbapi.h"
#include "http_server.h"
#include "log.h"
#include "mq.h"
#include "rpc_client.h"
#include "signals.h"

int main(void)
{
    signals_block();
    log_init("orchestrator");
    int port = (int)config_long("PORT", 8081, 0, 65535);
    long timeout_ms = config_long("RPC_TIMEOUT_MS", 5000, 100, 600000);
    struct mq_cfg mq;
    mq_cfg_from_env(&mq);

    int rc = 1;
    http_server *srv = NULL;
    dbapi *db = NULL;
    rpc_client *rpc = rpc_client_new(&mq, MQ_RESPONSE_QUEUE);
    if (!rpc)
        goto fail;
    db = dbapi_new(rpc, timeout_ms);
    const struct http_route routes[] = {
        {"POST", "/api/v1/db/read", dbapi_read},
        {"POST", "/api/v1/db/write", dbapi_write},
        {"POST", "/api/v1/db/clear", dbapi_clear},
    };
    srv = http_server_new(routes, sizeof routes / sizeof routes[0], db);
    http_server_set_health(srv, dbapi_ready);
    if (http_server_start(srv, port) < 0)
        goto fail;
    log_info("orchestrator: ready, stopping on signal %d", signals_wait());
    rc = 0;
fail:
    http_server_free(srv);
    rpc_client_free(rpc);
    dbapi_free(db);
    return rc;
}
