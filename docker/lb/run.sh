#!/bin/sh
# run.sh - renders nginx.conf.template and runs nginx in the foreground (exec).
# Environment: LB_PORT (8080), USERS_UPSTREAM (127.0.0.1:8001), RIDES_UPSTREAM
# (127.0.0.1:8002), ORCH_UPSTREAM (127.0.0.1:8081), LB_RUN_DIR (a fresh directory under
# /tmp), NGINX (nginx), ADMIN_TOKEN (only whether it is set: without it nginx, published on
# every interface, refuses the dashboard's crash buttons; the token itself is not kept;
# ADMIN_TOKEN_FILE, a Docker secret, counts too when not empty), LB_TEMPLATE (the file
# beside this one to render: nginx.conf.template, or swarm.conf.template for the stack).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${LB_PORT:=8080}" "${USERS_UPSTREAM:=127.0.0.1:8001}" "${RIDES_UPSTREAM:=127.0.0.1:8002}"
: "${LB_RUN_DIR:=$(mktemp -d /tmp/rideshare-lb.XXXXXX)}" "${NGINX:=nginx}"
: "${ORCH_UPSTREAM:=127.0.0.1:8081}"
DASHBOARD_CRASH=""
[ -n "${ADMIN_TOKEN:-}" ] || { [ -n "${ADMIN_TOKEN_FILE:-}" ] && [ -s "$ADMIN_TOKEN_FILE" ]; } || DASHBOARD_CRASH="return 403 '{\"error\":\"crash buttons through the load balancer need ADMIN_TOKEN set; use the orchestrator port\"}';"
unset ADMIN_TOKEN
export LB_PORT USERS_UPSTREAM RIDES_UPSTREAM ORCH_UPSTREAM DASHBOARD_CRASH LB_RUN_DIR
mkdir -p "$LB_RUN_DIR"
envsubst '${LB_PORT} ${USERS_UPSTREAM} ${RIDES_UPSTREAM} ${ORCH_UPSTREAM} ${DASHBOARD_CRASH} ${LB_RUN_DIR}' \
    < "$here/${LB_TEMPLATE:-nginx.conf.template}" > "$LB_RUN_DIR/nginx.conf"
exec "$NGINX" -p "$LB_RUN_DIR" -c "$LB_RUN_DIR/nginx.conf" -e stderr
