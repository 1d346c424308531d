/* main.c - the Docker socket proxy: the orchestrator's only way to the Docker Engine. It
 * serves DOCKERPROXY_SOCKET (a unix socket on a volume shared with the orchestrator alone)
 * and passes on to DOCKER_SOCKET only the calls of dockerproxy/filter.c; every other path
 * is 404 or 405, and an allowed path with refused arguments or body is 403. */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "filter.h"
#include "forward.h"
#include "http_client.h"
#include "http_server.h"
#include "log.h"
#include "signals.h"
#include "xalloc.h"

struct proxy {
    struct dproxy_rules rules;
    const char *engine; /* the real socket */
};

static http_reply *pass(http_req *req, void *ud)
{
    struct proxy *px = ud;
    const char *method = http_req_method(req), *path = http_req_path(req), *query = http_req_query_string(req);
    size_t len;
    const char *body = http_req_body(req, &len);
    char why[200];
    if (dproxy_check(&px->rules, method, path, query, body, len, why, sizeof why) < 0) {
        log_warn("dockerproxy: refused %s %.200s: %s", method, path, why);
        return http_reply_error(403, "refused by the Docker socket proxy: %s", why);
    }
    char *target = xasprintf("%s%s%s", path, *query ? "?" : "", query);
    struct dproxy_answer ans;
    int rc = dproxy_forward(px->engine, method, target, body, len, &ans);
    free(target);
    if (rc < 0)
        return http_reply_error(502, "the Docker Engine cannot be reached");
    if (ans.len == 0) {
        free(ans.body);
        return http_reply_empty((int)ans.status);
    }
    int json = strncmp(ans.ctype, "application/json", 16) == 0;
    return http_reply_text((int)ans.status, json ? "application/json" : "text/plain; charset=utf-8", ans.body,
                           ans.len);
}

/* Exactly the calls of orchestrator/spawner_docker.c (common/docker.c) and
 * spawner_swarm.c (common/docker_service.c), "*" the API version and the container or
 * service; filter.c and filter_swarm.c check their shape, arguments and bodies. */
static const struct http_route routes[] = {
    {"GET", "/version", pass, NULL},
    {"GET", "/*/version", pass, NULL},
    {"GET", "/*/containers/json", pass, NULL},
    {"POST", "/*/containers/create", pass, NULL},
    {"GET", "/*/containers/*/json", pass, NULL},
    {"POST", "/*/containers/*/start", pass, NULL},
    {"POST", "/*/containers/*/kill", pass, NULL},
    {"DELETE", "/*/containers/*", pass, NULL},
    {"POST", "/*/services/create", pass, NULL},
    {"GET", "/*/services", pass, NULL},
    {"GET", "/*/tasks", pass, NULL},
    {"DELETE", "/*/services/*", pass, NULL},
};

int main(void)
{
    signals_block();
    log_init("dockerproxy");
    http_client_global_init();
    struct proxy px = {.engine = config_str("DOCKER_SOCKET", "/var/run/docker.sock")};
    dproxy_rules_from_env(&px.rules);
    const char *listen = config_str("DOCKERPROXY_SOCKET", "/run/dockerproxy/docker.sock");
    http_server *srv = http_server_new(routes, sizeof routes / sizeof routes[0], &px);
    struct http_limits lim;
    http_limits_from_env(&lim);
    lim.threads = 4; /* the orchestrator makes its engine calls one at a time */
    http_server_set_limits(srv, &lim);
    int rc = 1;
    if (http_server_start_unix(srv, listen) < 0)
        goto out;
    log_info("dockerproxy: %s -> %s; creates only of %s on network %s with volume %s", listen, px.engine,
             px.rules.image, *px.rules.network ? px.rules.network : "(any)",
             *px.rules.volume ? px.rules.volume : "(none)");
    log_info("dockerproxy: services only named %s*", *px.rules.service_prefix ? px.rules.service_prefix : "(none)");
    log_info("dockerproxy: stopping on signal %d", signals_wait());
    rc = 0;
out:
    http_server_free(srv);
    curl_global_cleanup();
    return rc;
}
