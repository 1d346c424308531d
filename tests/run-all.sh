#!/usr/bin/env bash
# Runs every test tier and ends with one line: "total: N passed, M failed".
#   1. unit tests (cmocka, built with ASan/UBSan) - build/asan/tests/*
#   2. shell tests that need a server of their own - tests/integration/*_test.sh
#   3. black-box suites (pytest) against the real fleet - tests/integration/test_*.py
#   4. the end-to-end suite against the composed containers - tests/e2e (RS_E2E=0 skips it)
# Each tier's counts are read from its runner's own summary; a binary that dies without
# one counts as a failure.
set -u
cd "$(dirname "$0")/.."
passed=0 failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

count() { # $1 = label, reads the runner output in $out
    local p f
    p=$(grep -aoE '\[  PASSED  \] [0-9]+ test' "$out" | awk '{s+=$4} END {print s+0}')
    f=$(grep -aoE '\[  FAILED  \] [0-9]+ test' "$out" | awk '{s+=$4} END {print s+0}')
    echo "$p $f"
}

echo "== unit tests"
for t in build/asan/tests/*; do
    [ -x "$t" ] || continue
    if "$t" >"$out" 2>&1; then rc=0; else rc=$?; fi
    read -r p f < <(count)
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi  # crashed, leaked or sanitizer report
    passed=$((passed + p)); failed=$((failed + f))
    printf '  %-40s %3d passed, %d failed\n' "$(basename "$t")" "$p" "$f"
    [ "$f" -eq 0 ] || sed 's/^/    | /' "$out" | tail -40
done

echo "== shell tests"
for h in tests/integration/*_test.sh; do
    [ -x "$h" ] || continue
    if "$h" >"$out" 2>&1; then rc=0; else rc=$?; fi
    line=$(grep -aE '^[a-z]*:? ?[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
    p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' || echo 0)
    f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+' || echo 0)
    p=${p:-0}; f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)); failed=$((failed + f))
    printf '  %-40s %3d passed, %d failed\n' "$(basename "$h")" "$p" "$f"
    grep -a '^SKIP' "$out" | sed 's/^/    | /'
    [ "$f" -eq 0 ] || sed 's/^/    | /' "$out" | tail -40
done

# pytest_tier <label> <command...>: runs a pytest suite, adds its summary to the totals.
pytest_tier() {
    local label=$1
    shift
    echo "== $label"
    "$@" 2>&1 | tee "$out"
    if grep -aq '^SKIP' "$out"; then return; fi
    local summary p f e
    summary=$(grep -aE '[0-9]+ (passed|failed|error)' "$out" | tail -1)
    p=$(echo "$summary" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+'); p=${p:-0}
    f=$(echo "$summary" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+'); f=${f:-0}
    e=$(echo "$summary" | grep -oE '[0-9]+ errors?' | grep -oE '[0-9]+'); e=${e:-0}
    if [ -z "$summary" ]; then f=1; fi  # the suite died before its summary
    passed=$((passed + p)); failed=$((failed + f + e))
}

# The loopback tier runs the ASan/UBSan builds; any sanitizer report fails the session.
export RS_BIN=${RS_BIN:-$PWD/build/asan}
pytest_tier "black-box tests (pytest, processes on loopback, ASan/UBSan builds)" \
    /usr/bin/python3 -m pytest tests/integration -q -rfE -p no:cacheprovider ${PYTEST_ARGS:-}
if [ "${RS_E2E:-1}" = 1 ]; then
    pytest_tier "end-to-end tests (pytest, docker compose)" tests/e2e/run.sh
fi

echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
