#!/bin/sh
# run.sh - renders nginx.conf.template and runs nginx in the foreground (exec).
# Environment: LB_PORT (8080), USERS_UPSTREAM (127.0.0.1:8001), RIDES_UPSTREAM
# (127.0.0.1:8002), LB_RUN_DIR (a fresh directory under /tmp), NGINX (nginx).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
: "${LB_PORT:=8080}" "${USERS_UPSTREAM:=127.0.0.1:8001}" "${RIDES_UPSTREAM:=127.0.0.1:8002}"
: "${LB_RUN_DIR:=$(mktemp -d /tmp/rideshare-lb.XXXXXX)}" "${NGINX:=nginx}"
export LB_PORT USERS_UPSTREAM RIDES_UPSTREAM LB_RUN_DIR
mkdir -p "$LB_RUN_DIR"
envsubst '${LB_PORT} ${USERS_UPSTREAM} ${RIDES_UPSTREAM} ${LB_RUN_DIR}' \
    < "$here/nginx.conf.template" > "$LB_RUN_DIR/nginx.conf"
exec "$NGINX" -p "$LB_RUN_DIR" -c "$LB_RUN_DIR/nginx.conf" -e stderr
