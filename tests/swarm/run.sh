#!/usr/bin/env bash
# The swarm tier (issue 14): this engine made a one-node Docker Swarm
# (`docker swarm init --advertise-addr 127.0.0.1`, left again afterwards when this script
# made it), the stack of docker/stack.yml deployed by scripts/swarm.sh, and through it:
#   - the contract suite and the crash/election/scale tests of tests/e2e, pointed at the
#     stack's ports (those that restart compose containers by name are left out: the fault
#     test below restarts the orchestrator, ZooKeeper and RabbitMQ the swarm's way);
#   - tests/swarm: _count across two replicas, the admin token, and the infrastructure
#     faults under a write load, whose figures close the output ("swarm: figures").
# Prints pytest's summary line; one "SKIP: ..." line where this engine cannot run swarm
# mode (no engine, a swarm state other than inactive/active, init or overlay refused).
# Always removes the stack, its volumes and secrets (SWARM_KEEP=1 keeps the stack up).
#
# On a swarm of several machines (docs/DEPLOY.md "The fault test on three machines"),
# deploy with `make up-swarm` there, then run this with SWARM_DEPLOYED=1 (nothing deployed
# or removed here), SWARM_HOST and SWARM_DOCKER_HOSTS (tests/swarm/conftest.py).
set -uo pipefail
cd "$(dirname "$0")/../.."
skip() { echo "SKIP: $*: the swarm tier did not run"; exit 0; }

docker info >/dev/null 2>&1 || skip "no docker engine"
state=$(docker info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null)
made_swarm=0
if [ "${SWARM_DEPLOYED:-0}" != 1 ]; then
    case "$state" in
    active) ;;
    inactive)
        docker swarm init --advertise-addr "${SWARM_ADVERTISE_ADDR:-127.0.0.1}" >/dev/null 2>&1 ||
            skip "docker swarm init was refused"
        made_swarm=1
        ;;
    *) skip "this engine's swarm state is \"$state\"" ;;
    esac
fi

leave() {
    if [ "$made_swarm" = 1 ]; then
        docker swarm leave --force >/dev/null 2>&1 || true
        # swarm mode's bridge, gone with the swarm unless something still holds it
        docker network rm docker_gwbridge >/dev/null 2>&1 || true
    fi
}
if [ "$made_swarm" = 1 ] && ! docker network create -d overlay rs-swarm-probe >/dev/null 2>&1; then
    leave
    skip "this engine cannot create an overlay network"
fi
docker network rm rs-swarm-probe >/dev/null 2>&1 || true

export STACK=${STACK:-rideshare-swarm}
# A short autoscaler interval (a little longer than the compose tier's 15 s: a new slave
# here may take more than 15 s to serve, and would be scaled in before it was counted),
# a ceiling on slaves for 2 cores.
export SCALE_INTERVAL=${SWARM_SCALE_INTERVAL:-20} MAX_SLAVES=${SWARM_MAX_SLAVES:-3}
export ADMIN_TOKEN=${ADMIN_TOKEN:-swarm-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
# tests/e2e finds the fleet by these (tests/e2e/conftest.py)
export LB_HOST_PORT=${SWARM_LB_PORT:-18080} USERS_HOST_PORT=${SWARM_USERS_PORT:-18001}
export RIDES_HOST_PORT=${SWARM_RIDES_PORT:-18002} ORCH_HOST_PORT=${SWARM_ORCH_PORT:-18081}
export SWARM_LB_PORT=$LB_HOST_PORT SWARM_USERS_PORT=$USERS_HOST_PORT SWARM_RIDES_PORT=$RIDES_HOST_PORT
export SWARM_ORCH_PORT=$ORCH_HOST_PORT

down() {
    [ "${SWARM_DEPLOYED:-0}" = 1 ] && return 0
    [ "${SWARM_KEEP:-0}" = 1 ] && { echo "swarm: SWARM_KEEP=1: the stack stays up"; return 0; }
    SWARM_CLEAN=1 scripts/swarm.sh down >/dev/null 2>&1 || true
    leave
}
trap 'echo "swarm: interrupted; removing the stack" >&2; down; exit 1' TERM INT
if [ "${SWARM_DEPLOYED:-0}" != 1 ]; then
    # leftovers of an interrupted run first, then a fresh stack
    SWARM_CLEAN=1 scripts/swarm.sh down >/dev/null 2>&1
    if ! scripts/swarm.sh up; then
        scripts/swarm.sh ps 2>&1 | tail -30
        down
        echo "0 passed, 1 failed"
        exit 1
    fi
fi
/usr/bin/python3 -m pytest tests/e2e/test_2_contract_e2e.py tests/e2e/test_1_fleet_e2e.py tests/swarm \
    -k "not restarted_orchestrator and not infrastructure_restart" -q -rfE -p no:cacheprovider \
    ${SWARM_PYTEST_ARGS:-}
rc=$?
if [ "$rc" -ne 0 ] && [ "${SWARM_DEPLOYED:-0}" != 1 ]; then
    # what the fleet said, for the post-mortem (the stack is removed next)
    diag=build/swarm/diag-$(date +%Y%m%d-%H%M%S)
    mkdir -p "$diag"
    for s in $(docker service ls --format '{{.Name}}' 2>/dev/null); do
        timeout 20 docker service logs --no-task-ids --tail 400 "$s" >"$diag/$s.log" 2>&1 || true
    done
    docker stack ps --no-trunc "$STACK" >"$diag/tasks.txt" 2>&1 || true
    echo "swarm: the services' last log lines are in $diag"
fi
down
exit $rc
