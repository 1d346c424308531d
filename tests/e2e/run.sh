#!/usr/bin/env bash
# The end-to-end suite: brings the composed fleet up (scripts/fleet.sh up), runs
# tests/e2e against it, and always brings it down. Prints pytest's summary line.
# Without a Docker engine it says so and runs nothing.
set -uo pipefail
cd "$(dirname "$0")/../.."
if ! docker info >/dev/null 2>&1; then
    echo "SKIP: no docker engine: the end-to-end suite did not run"
    exit 0
fi
# A short interval, so scaling is seen within the test; a ceiling, so the contract suite's
# reads do not fill this 2-core machine with slaves.
export SCALE_INTERVAL=${E2E_SCALE_INTERVAL:-15} MAX_SLAVES=${E2E_MAX_SLAVES:-4}
# The fleet runs with an admin token (`ADMIN_TOKEN=... make up`); the suite sends it.
export ADMIN_TOKEN=${ADMIN_TOKEN:-e2e-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')}
# schemathesis (PyPI), pinned, in a venv of its own under build/ (test_4_edges_e2e.py).
ST_VENV=${ST_VENV:-$PWD/build/schemathesis-venv}
if [ ! -x "$ST_VENV/bin/schemathesis" ]; then
    /usr/bin/python3 -m venv "$ST_VENV" && "$ST_VENV/bin/pip" install -q "schemathesis==4.32.5" \
        || echo "e2e: could not install schemathesis into $ST_VENV (needs PyPI); its tests will fail"
fi
export ST_BIN=$ST_VENV/bin/schemathesis
scripts/fleet.sh up || { scripts/fleet.sh down; echo "0 passed, 1 failed"; exit 1; }
/usr/bin/python3 -m pytest tests/e2e -q -rfE -p no:cacheprovider ${E2E_PYTEST_ARGS:-}
rc=$?
if [ "$rc" -ne 0 ]; then
    # What the fleet said about it, for a failure seen only in CI: the warnings and errors of
    # the orchestrator and the workers (their last lines; the full logs go with `down`).
    echo "---- e2e failed: warnings and errors of the orchestrator and the workers ----"
    for id in $(docker ps -aq --filter label=rideshare.role=worker --filter label=rideshare.fleet=rideshare) \
              $(docker-compose ps -q orchestrator 2>/dev/null); do
        echo "-- $(docker inspect -f '{{.Name}}' "$id")"
        docker logs "$id" 2>&1 | grep -E '"level":"(warn|error)"' | tail -n 12 | cut -c1-300
    done
fi
scripts/fleet.sh down >/dev/null 2>&1 || true
exit $rc
