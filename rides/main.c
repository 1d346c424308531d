/* main.c - the rides service: PORT (8002), ORCH_URL, USERS_URL, DB_TIMEOUT_MS,
 * USERS_TIMEOUT_MS, ADMIN_TOKEN (or ADMIN_TOKEN_FILE,
 * ADMIN_TOKEN_REQUIRED), COUNT_ZK_HOSTS, LOG_LEVEL. */
#include <stdlib.h>

#include "config.h"
#include "log.h"
#include "secret.h"
#include "signals.h"
#include "rides.h"

int main(void)
{
    signals_block(); /* before any thread: only signals_wait below takes them */
    log_init("rides");
    struct rides_cfg cfg = {
        .orch_url = config_str("ORCH_URL", "http://127.0.0.1:8081"),
        .users_url = config_str("USERS_URL", "http://127.0.0.1:8080/api/v1/users"),
        .db_timeout_ms = config_long("DB_TIMEOUT_MS", 10000, 100, 600000),
        .admin_token = secret_admin_token(),
        .users_timeout_ms = config_long("USERS_TIMEOUT_MS", 10000, 100, 600000),
    };
    int port = (int)config_long("PORT", 8002, 0, 65535);

    rides_svc *svc = rides_svc_new(&cfg);
    if (!svc || rides_svc_start(svc, port) != 0) {
        rides_svc_free(svc);
        return 1;
    }
    log_info("rides: serving on port %d, orchestrator at %s, users at %s", rides_svc_port(svc), cfg.orch_url,
             cfg.users_url);
    int sig = signals_wait();
    log_info("rides: signal %d, stopping", sig);
    rides_svc_free(svc);
    return 0;
}
