/* main.c - the users service: PORT (8001), ORCH_URL, DB_TIMEOUT_MS, ADMIN_TOKEN (or ADMIN_TOKEN_FILE,
 * ADMIN_TOKEN_REQUIRED), COUNT_ZK_HOSTS, LOG_LEVEL. */
#include <stdlib.h>

#include "config.h"
#include "log.h"
#include "secret.h"
#include "signals.h"
#include "users.h"

int main(void)
{
    signals_block(); /* before any thread: only signals_wait below takes them */
    log_init("users");
    struct users_cfg cfg = {
        .orch_url = config_str("ORCH_URL", "http://127.0.0.1:8081"),
        .db_timeout_ms = config_long("DB_TIMEOUT_MS", 10000, 100, 600000),
        .admin_token = secret_admin_token(),
    };
    int port = (int)config_long("PORT", 8001, 0, 65535);

    service *svc = users_service_new(&cfg);
    if (!svc || service_start(svc, port) != 0) {
        service_free(svc);
        return 1;
    }
    log_info("users: serving on port %d, orchestrator at %s", service_port(svc), cfg.orch_url);
    int sig = signals_wait();
    log_info("users: signal %d, stopping", sig);
    service_free(svc);
    return 0;
}
