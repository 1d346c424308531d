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
scripts/fleet.sh up || { scripts/fleet.sh down; echo "0 passed, 1 failed"; exit 1; }
/usr/bin/python3 -m pytest tests/e2e -q -rfE -p no:cacheprovider ${E2E_PYTEST_ARGS:-}
rc=$?
scripts/fleet.sh down >/dev/null 2>&1 || true
exit $rc
