#!/usr/bin/env bash
# fleet.sh - the Rideshare fleet in containers (docker-compose.yml); see docker/README.md.
#
#   scripts/fleet.sh up      install what is missing, build the base image (no registry
#                            needed) and the images, start, wait until lb, users, rides and
#                            the orchestrator answer GET /healthz
#   scripts/fleet.sh down    stop and remove the fleet and every worker container the
#                            orchestrator started (label rideshare.role=worker); keeps data
#   scripts/fleet.sh build   install what is missing and build the images only
#   scripts/fleet.sh clean   down + remove the volumes (wipes the workers' databases)
#   scripts/fleet.sh logs [service...]   follow the logs (workers: docker logs <name>)
#   scripts/fleet.sh ps      compose services and worker containers
#
# Environment: UP_TIMEOUT (s, default 300) and the settings docker-compose.yml passes on
# (SCALE_INTERVAL, LOG_LEVEL, RPC_TIMEOUT_MS, *_HOST_PORT, ...).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-rideshare}
export COMPOSE_FILE="$root/docker-compose.yml"
UP_TIMEOUT=${UP_TIMEOUT:-300}
WORKER_LABEL=rideshare.role=worker
FLEET_LABEL=rideshare.fleet=rideshare # FLEET in docker-compose.yml
NETWORK=rideshare
WORKER_IMAGE=rideshare-worker:latest
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo

log() { printf 'fleet: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

compose() { docker-compose "$@"; }

apt_install() { # apt_install <command> <package>: installs package when command is missing
    command -v "$1" >/dev/null 2>&1 && return 0
    log "installing $2"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$2" >/dev/null
}

ensure_tools() {
    command -v docker >/dev/null 2>&1 || die "docker is not installed"
    docker info >/dev/null 2>&1 || die "the Docker daemon is not reachable (is it running? may $(id -un) use it?)"
    apt_install docker-compose docker-compose
    apt_install curl curl
    [ -x /usr/sbin/debootstrap ] || apt_install debootstrap debootstrap
}

# Workers are started by the orchestrator, not by compose: find them by their labels
# (role and fleet, so test fleets with another FLEET on the same engine are left alone).
remove_containers() { # remove_containers <what> <docker ps filter>...
    local what=$1 ids
    shift
    ids=$(docker ps -aq "$@")
    [ -z "$ids" ] && return 0
    log "removing $(echo "$ids" | wc -l) $what container(s)"
    # shellcheck disable=SC2086
    docker rm -f -v $ids >/dev/null
}
remove_workers() { remove_containers worker --filter "label=$WORKER_LABEL" --filter "label=$FLEET_LABEL"; }

# wait_healthz <name> <url>: polls until 200 or the deadline.
wait_healthz() {
    while :; do
        if curl -fsS -o /dev/null --max-time 2 "$2"; then
            log "$1 answers $2"
            return 0
        fi
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 1
    done
}

# Workers outlive the orchestrator, which adopts the running ones after a restart: after a
# rebuild of the worker image they still run the old one. Say so; replacing them is a choice
# (make down && make up) since the orchestrator starts new workers with new databases.
warn_stale_workers() {
    local img id n=0
    img=$(docker image inspect -f '{{.Id}}' "$WORKER_IMAGE" 2>/dev/null) || return 0
    for id in $(docker ps -q --filter "label=$WORKER_LABEL" --filter "label=$FLEET_LABEL"); do
        [ "$(docker inspect -f '{{.Image}}' "$id")" = "$img" ] || n=$((n + 1))
    done
    [ "$n" -eq 0 ] || log "warning: $n worker(s) still run an older $WORKER_IMAGE" \
        "(the orchestrator keeps running workers); 'make down && make up' replaces them"
}

# The state of every compose service, then the last log lines of those not healthy.
show_unhealthy() {
    local svc id state
    compose ps >&2 || true
    for svc in $(compose config --services); do
        id=$(compose ps -q "$svc" 2>/dev/null) || continue
        [ -n "$id" ] || continue
        state=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")
        [ "$state" = healthy ] && continue
        printf '\n---- %s (%s): last log lines ----\n' "$svc" "$state" >&2
        docker logs --tail=25 "$id" 2>&1 | cut -c1-400 >&2
    done
}

base_stage() { # base_stage <target>: builds and tags rideshare-<target>:latest
    docker build --force-rm --network host --target "$1" -t "rideshare-$1:latest" \
        -f docker/service.Dockerfile .
}

# The images only: the base image, then every image of docker-compose.yml. Also what the
# swarm stack runs (scripts/swarm.sh).
cmd_build() {
    local t0=$SECONDS build_log=${TMPDIR:-/tmp}/rideshare-build.log
    ensure_tools
    "$root/docker/base-image.sh"
    log "building images"
    # Two lanes at once (package installs are mostly I/O): the infrastructure images, and
    # the C images. For the latter the package stages come first, tagged: the four images
    # share them, and the tags keep them from `docker image prune` (docker/service.Dockerfile).
    # The four C images one after the other: built in parallel, their first common steps
    # would be committed four times and a later build might pick another copy as its cache
    # (and recompile); make -j uses the cores anyway.
    # Builds use the host's network (build.network in docker-compose.yml; docker/README.md).
    local infra_log=${build_log%.log}-infra.log infra rc=0
    compose build --force-rm zookeeper rabbitmq lb >"$infra_log" 2>&1 &
    infra=$!
    { base_stage toolchain && base_stage runtime-base &&
      compose build --force-rm dockerproxy orchestrator worker users rides; } >"$build_log" 2>&1 || rc=1
    wait "$infra" || { rc=1; build_log=$infra_log; }
    if [ "$rc" -ne 0 ]; then
        tail -n 40 "$build_log" >&2
        die "image build failed (full logs: $build_log, $infra_log)"
    fi
    # Disk hygiene: earlier versions of the service images (untagged now), and build stages
    # older than a day (recent ones are the compile cache; the toolchain is tagged).
    docker image prune -f --filter label=rideshare.role >/dev/null 2>&1 || true
    docker image prune -f --filter label=rideshare.stage=build --filter until=24h >/dev/null 2>&1 || true
    log "images built ($((SECONDS - t0)) s)"
}

cmd_up() {
    local t0=$SECONDS
    cmd_build
    log "starting"
    deadline=$(( $(date +%s) + UP_TIMEOUT ))
    # Compose itself waits for the healthchecks its depends_on conditions name; but forever
    # when a container crash-loops (its health stays "starting"), hence the timeout.
    if ! timeout "$UP_TIMEOUT" docker-compose up -d --remove-orphans; then
        show_unhealthy
        die "docker-compose up failed or timed out (${UP_TIMEOUT}s); logs of the services that are not healthy above"
    fi
    local name port failed=""
    for name in lb:${LB_HOST_PORT:-8080} users:${USERS_HOST_PORT:-8001} \
                rides:${RIDES_HOST_PORT:-8002} orchestrator:${ORCH_HOST_PORT:-8081}; do
        port=${name#*:}; name=${name%%:*}
        wait_healthz "$name" "http://127.0.0.1:$port/healthz" || failed+=" $name"
    done
    if [ -n "$failed" ]; then
        show_unhealthy
        die "no 200 from GET /healthz within ${UP_TIMEOUT}s:$failed"
    fi
    warn_stale_workers
    log "fleet up in $((SECONDS - t0)) s: lb http://127.0.0.1:${LB_HOST_PORT:-8080}," \
        "orchestrator http://127.0.0.1:${ORCH_HOST_PORT:-8081}"
}

cmd_down() {
    command -v docker-compose >/dev/null 2>&1 || die "docker-compose is not installed"
    # The orchestrator first, so it does not replace the workers we remove; then the workers
    # (they hold the network and the volume), then everything compose knows.
    docker-compose stop -t 10 orchestrator >/dev/null 2>&1 || true
    remove_workers
    if ! docker-compose down --remove-orphans -t 10 "$@"; then
        # Something else still holds the network (a worker started without our labels?).
        remove_containers "leftover" --filter "network=$NETWORK"
        docker-compose down --remove-orphans -t 10 "$@"
    fi
    remove_workers # anything started in between
    local left
    left=$(docker ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")
    [ -z "$left" ] || die "containers left behind: $left"
}

cmd_clean() {
    cmd_down -v
    docker volume rm rideshare-worker-data >/dev/null 2>&1 || true
}

cmd_logs() {
    compose logs -f --tail=100 "$@"
}

cmd_ps() {
    compose ps
    echo
    echo "workers (labels $WORKER_LABEL, $FLEET_LABEL):"
    docker ps -a --filter "label=$WORKER_LABEL" --filter "label=$FLEET_LABEL" \
        --format 'table {{.Names}}\t{{.Status}}\t{{.Image}}\t{{.ID}}'
}

case "${1:-}" in
up | down | build | clean | logs | ps) c=$1; shift; "cmd_$c" "$@" ;;
*) echo "usage: $0 up|down|build|clean|logs|ps" >&2; exit 2 ;;
esac
