#!/usr/bin/env bash
# Runs every test tier and ends with one line: "total: N passed, M failed, K skipped".
#   0. the self-test of this runner's counting - tests/runner_selftest.sh (tests/tally.sh)
#   1. unit tests (cmocka, built with ASan/UBSan) - build/asan/tests/*
#   2. shell tests that need a server of their own - tests/integration/*_test.sh
#   3. black-box suites (pytest) against the real fleet - tests/integration/test_*.py
#   4. every libFuzzer target for FUZZ_SMOKE_SECONDS (10) each - tests/fuzz (the long runs
#      are `make fuzz`); RS_FUZZ=0 skips it
#   5. the end-to-end suite against the composed containers - tests/e2e (RS_E2E=0 skips it)
#   6. the same fleet as a Docker Swarm stack on a one-node swarm made for it, with the
#      infrastructure faults - tests/swarm (RS_SWARM=0 skips it)
# Each tier's counts are read from its runner's own summary (tests/tally.sh): a runner
# that dies without one counts as a failure, and a skip is counted as a skip, never in
# place of a failure.
set -u
cd "$(dirname "$0")/.."
. tests/tally.sh
passed=0 failed=0 skipped=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# add "p f s": adds one runner's counts to the totals.
add() {
    passed=$((passed + $1)); failed=$((failed + $2)); skipped=$((skipped + $3))
}

# one <name> <tally function> <command...>: runs a runner with its output in $out, prints
# one line for it (and its output when it failed or skipped), adds its counts.
one() {
    local name=$1 fn=$2 rc p f s
    shift 2
    if "$@" >"$out" 2>&1; then rc=0; else rc=$?; fi
    read -r p f s < <($fn "$out" "$rc")
    add "$p" "$f" "$s"
    printf '  %-40s %3d passed, %d failed, %d skipped\n' "$name" "$p" "$f" "$s"
    grep -a '^SKIP' "$out" | sed 's/^/    | /'
    [ "$f" -eq 0 ] || sed 's/^/    | /' "$out" | tail -40
}

echo "== the runner's own counting"
one runner_selftest.sh tally_summary tests/runner_selftest.sh

echo "== unit tests"
for t in build/asan/tests/*; do
    [ -x "$t" ] || continue
    one "$(basename "$t")" tally_cmocka "$t"
done

echo "== shell tests"
for h in tests/integration/*_test.sh; do
    [ -x "$h" ] || continue
    one "$(basename "$h")" tally_summary "$h"
done

# pytest_tier <label> <command...>: runs a pytest suite (output shown as it runs), adds
# its summary to the totals.
pytest_tier() {
    local label=$1 rc p f s
    shift
    echo "== $label"
    "$@" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    read -r p f s < <(tally_summary "$out" "$rc")
    add "$p" "$f" "$s"
}

# The loopback tier runs the ASan/UBSan builds; any sanitizer report fails the session.
export RS_BIN=${RS_BIN:-$PWD/build/asan}
pytest_tier "black-box tests (pytest, processes on loopback, ASan/UBSan builds)" \
    /usr/bin/python3 -m pytest tests/integration -q -rfE -p no:cacheprovider ${PYTEST_ARGS:-}
# Short fuzz runs, so that the targets keep building and the seeds keep passing; each
# target is one test. The corpus grows in build/fuzz-smoke, apart from make fuzz's.
if [ "${RS_FUZZ:-1}" = 1 ]; then
    echo "== fuzz targets (libFuzzer, ${FUZZ_SMOKE_SECONDS:-10} s each)"
    FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-10} FUZZ_OUT=build/fuzz-smoke tests/fuzz/run.sh >"$out" 2>&1
    rc=$?
    sed 's/^/  /' "$out" | grep -v '^  fuzz: building'
    p=$(grep -cE '^[a-z]+ +[0-9]+  ok$' "$out")
    f=$(grep -cE '^[a-z]+ +[0-9]+  (CRASH|NO RESULT)' "$out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi  # the build failed
    passed=$((passed + p)); failed=$((failed + f))
fi

if [ "${RS_E2E:-1}" = 1 ]; then
    pytest_tier "end-to-end tests (pytest, docker compose)" tests/e2e/run.sh
fi

if [ "${RS_SWARM:-1}" = 1 ]; then
    pytest_tier "swarm tests (pytest, a one-node Docker Swarm, docker/stack.yml)" tests/swarm/run.sh
fi

echo "total: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
