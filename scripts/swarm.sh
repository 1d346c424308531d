#!/usr/bin/env bash
# swarm.sh - the Rideshare fleet as a Docker Swarm stack (docker/stack.yml); docs/DEPLOY.md.
#
#   scripts/swarm.sh up     build the images (scripts/fleet.sh build; SWARM_BUILD=0 skips it),
#                           make this engine a one-node swarm if it is in none (and remember
#                           that), label the nodes, create the secrets, deploy the stack, and
#                           wait until lb, users, rides and the orchestrator answer /healthz
#   scripts/swarm.sh down   remove the stack, the worker services and the secrets; leave the
#                           swarm if `up` made it. Volumes stay (SWARM_CLEAN=1 removes them)
#   scripts/swarm.sh ps     the stack's tasks and the worker services
#
# Environment (defaults in brackets):
#   STACK [rideshare-swarm]  the stack's name (service names are <STACK>_<service>; not
#                            "rideshare", whose volume names are the compose project's)
#   SWARM_NODES [every node of the swarm, in `docker node ls` order]
#                            node hostnames: ZooKeeper and RabbitMQ member i go to the
#                            ((i-1) mod n + 1)-th (node label rideshare.infra.i=true); every
#                            node gets rideshare.node=<hostname> (the workers' spread label)
#   SWARM_ADVERTISE_ADDR [127.0.0.1]  for the one-node swarm `up` makes
#   ADMIN_TOKEN [the content of build/swarm/admin_token, made at random once]
#   UP_TIMEOUT [300]         seconds `up` waits for the stack
#   SWARM_LB_PORT [18080], SWARM_USERS_PORT [18001], SWARM_RIDES_PORT [18002],
#   SWARM_ORCH_PORT [18081]  published ports (every node, every interface)
# and the settings docker/stack.yml passes on (SCALE_INTERVAL, MAX_SLAVES, LOG_LEVEL, ...).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

STACK=${STACK:-rideshare-swarm}
STATE=$root/build/swarm
UP_TIMEOUT=${UP_TIMEOUT:-300}
FLEET=rideshare-swarm # FLEET in docker/stack.yml
NETWORK=rideshare-swarm
SECRETS="rideshare_admin_token rideshare_rabbitmq_cookie"

log() { printf 'swarm: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

swarm_state() { docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null; }

# A one-node swarm on this engine unless it is in one already; build/swarm/initialised
# remembers that we made it, so that `down` leaves it again.
ensure_swarm() {
    local st
    st=$(swarm_state) || die "the Docker daemon is not reachable"
    case "$st" in
    active) return 0 ;;
    inactive) ;;
    *) die "this engine's swarm state is \"$st\"; expected active or inactive" ;;
    esac
    log "docker swarm init --advertise-addr ${SWARM_ADVERTISE_ADDR:-127.0.0.1}"
    docker swarm init --advertise-addr "${SWARM_ADVERTISE_ADDR:-127.0.0.1}" >/dev/null
    mkdir -p "$STATE"
    touch "$STATE/initialised"
    [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" = true ] || die "this node is not a manager"
}

# Labels: rideshare.node=<hostname> on every node; rideshare.infra.i=true on the node of
# member i (i = 1..3), and on no other.
label_nodes() {
    local nodes=() n i h
    if [ -n "${SWARM_NODES:-}" ]; then
        read -r -a nodes <<<"$SWARM_NODES"
    else
        mapfile -t nodes < <(docker node ls --format '{{.Hostname}}')
    fi
    n=${#nodes[@]}
    [ "$n" -gt 0 ] || die "no swarm nodes"
    for h in $(docker node ls --format '{{.Hostname}}'); do
        docker node update --label-add "rideshare.node=$h" \
            --label-rm rideshare.infra.1 --label-rm rideshare.infra.2 --label-rm rideshare.infra.3 \
            "$h" >/dev/null 2>&1 || docker node update --label-add "rideshare.node=$h" "$h" >/dev/null
    done
    for i in 1 2 3; do
        h=${nodes[$(((i - 1) % n))]}
        docker node update --label-add "rideshare.infra.$i=true" "$h" >/dev/null
        log "ZooKeeper zk$i and RabbitMQ rabbitmq$i on node $h"
    done
}

# secret_file <name>: build/swarm/<name>, made with 32 random hex digits when missing.
secret_file() {
    local f=$STATE/$1
    mkdir -p "$STATE"
    if [ ! -s "$f" ]; then
        (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$f")
    fi
    echo "$f"
}

# Secrets are immutable: recreated from the files unless a running service holds them.
make_secrets() {
    local token_file cookie_file
    if [ -n "${ADMIN_TOKEN:-}" ]; then
        mkdir -p "$STATE"
        (umask 077 && printf '%s' "$ADMIN_TOKEN" >"$STATE/admin_token")
    fi
    token_file=$(secret_file admin_token)
    cookie_file=$(secret_file rabbitmq_cookie)
    put_secret rideshare_admin_token "$token_file"
    put_secret rideshare_rabbitmq_cookie "$cookie_file"
    log "admin token in $token_file"
}
put_secret() {
    if docker secret inspect "$1" >/dev/null 2>&1; then
        docker secret rm "$1" >/dev/null 2>&1 || { log "secret $1 is in use: kept"; return 0; }
    fi
    docker secret create "$1" "$2" >/dev/null
}

# wait_healthz <name> <url>: polls until 200 or the deadline.
wait_healthz() {
    while :; do
        if curl -fsS -o /dev/null --max-time 2 "$2" 2>/dev/null; then
            log "$1 answers $2"
            return 0
        fi
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 1
    done
}

show_tasks() {
    docker stack ps --no-trunc --format '{{.Name}} {{.Node}} {{.CurrentState}} {{.Error}}' "$STACK" 2>&1 |
        grep -v ' Shutdown ' | head -40 >&2 || true
}

cmd_up() {
    local t0=$SECONDS name port failed=""
    command -v docker >/dev/null 2>&1 || die "docker is not installed"
    # (build logs under build/swarm: /tmp/rideshare-build*.log may be another checkout's)
    mkdir -p "$STATE"
    [ "${SWARM_BUILD:-1}" = 0 ] || TMPDIR=$STATE "$root/scripts/fleet.sh" build
    ensure_swarm
    label_nodes
    make_secrets
    log "deploying stack $STACK (docker/stack.yml)"
    docker stack deploy --resolve-image never --prune -c docker/stack.yml "$STACK" >/dev/null
    deadline=$(($(date +%s) + UP_TIMEOUT))
    for name in lb:${SWARM_LB_PORT:-18080} users:${SWARM_USERS_PORT:-18001} \
        rides:${SWARM_RIDES_PORT:-18002} orchestrator:${SWARM_ORCH_PORT:-18081}; do
        port=${name#*:}
        name=${name%%:*}
        wait_healthz "$name" "http://127.0.0.1:$port/healthz" || failed+=" $name"
    done
    if [ -n "$failed" ]; then
        show_tasks
        die "no 200 from GET /healthz within ${UP_TIMEOUT}s:$failed"
    fi
    log "stack up in $((SECONDS - t0)) s: lb http://127.0.0.1:${SWARM_LB_PORT:-18080}," \
        "orchestrator http://127.0.0.1:${SWARM_ORCH_PORT:-18081}"
}

worker_services() {
    docker service ls -q --filter label=rideshare.role=worker --filter "label=rideshare.fleet=$FLEET" 2>/dev/null
}

# until_gone <what> <command...>: waits (60 s at most) until the command prints nothing.
until_gone() {
    local what=$1 i
    shift
    for i in $(seq 1 120); do
        [ -z "$("$@" 2>/dev/null)" ] && return 0
        sleep 0.5
    done
    log "warning: $what still there after 60 s"
}

stack_containers() { docker ps -aq --filter "label=com.docker.stack.namespace=$STACK"; }
worker_containers() {
    docker ps -aq --filter label=rideshare.role=worker --filter "label=rideshare.fleet=$FLEET"
}

cmd_down() {
    local ids v
    if [ "$(swarm_state)" != active ]; then
        log "this engine is in no swarm: nothing to remove"
        rm -f "$STATE/initialised"
        return 0
    fi
    # The orchestrator first, so that it starts no worker while they go.
    docker service rm "${STACK}_orchestrator" >/dev/null 2>&1 || true
    ids=$(worker_services)
    if [ -n "$ids" ]; then
        log "removing $(echo "$ids" | wc -l) worker service(s)"
        # shellcheck disable=SC2086
        docker service rm $ids >/dev/null
    fi
    docker stack rm "$STACK" >/dev/null 2>&1 || true
    until_gone "the stack's containers" stack_containers
    until_gone "the worker containers" worker_containers
    until_gone "network $NETWORK" docker network ls -q --filter "name=^${NETWORK}\$"
    for v in $SECRETS; do docker secret rm "$v" >/dev/null 2>&1 || true; done
    if [ "${SWARM_CLEAN:-0}" = 1 ]; then
        ids=$(docker volume ls -q --filter "label=com.docker.stack.namespace=$STACK")
        # shellcheck disable=SC2086
        [ -z "$ids" ] || docker volume rm $ids >/dev/null || log "warning: volumes left: $ids"
        docker volume rm rideshare-swarm-worker-data >/dev/null 2>&1 || true
    fi
    if [ -e "$STATE/initialised" ]; then
        log "docker swarm leave --force (up made this swarm)"
        docker swarm leave --force >/dev/null
        rm -f "$STATE/initialised"
    fi
}

cmd_ps() {
    docker stack ps "$STACK"
    echo
    echo "workers (labels rideshare.role=worker, rideshare.fleet=$FLEET):"
    docker service ls --filter label=rideshare.role=worker --filter "label=rideshare.fleet=$FLEET"
}

case "${1:-}" in
up | down | ps) c=$1; shift; "cmd_$c" "$@" ;;
*) echo "usage: $0 up|down|ps" >&2; exit 2 ;;
esac
