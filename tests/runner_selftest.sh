#!/usr/bin/env bash
# runner_selftest.sh - tests/tally.sh, the counting of tests/run-all.sh, on crafted runner
# outputs: a skip never swallows a failure, a skip is counted as a skip, a runner that dies
# without a summary fails. Ends with "N passed, M failed".
set -u
cd "$(dirname "$0")/.."
. tests/tally.sh
out=$(mktemp)
trap 'rm -f "$out"' EXIT
passed=0 failed=0

expect() { # name want-"p f s" function rc output (printf format)
    local name=$1 want=$2 fn=$3 rc=$4 got
    printf "$5" >"$out"
    got=$($fn "$out" "$rc")
    if [ "$got" = "$want" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $name: got \"$got\", want \"$want\""
    fi
}

expect "a failing pytest tier that also prints SKIP" "2 1 0" tally_summary 1 \
    'SKIP: no docker engine for part of it\n..F\n1 failed, 2 passed in 3.0s\n'
expect "a tier that only skips" "0 0 1" tally_summary 0 \
    'SKIP: no docker engine: the end-to-end suite did not run\n'
expect "a tier that skips part and then dies" "0 1 0" tally_summary 1 \
    'SKIP: something\nTraceback (most recent call last):\n'
expect "pytest skips" "3 0 2" tally_summary 0 \
    '3 passed, 2 skipped in 1.2s\n'
expect "pytest errors" "1 1 0" tally_summary 1 \
    '1 passed, 1 error in 1.2s\n'
expect "no summary at all" "0 1 0" tally_summary 5 \
    'collected 0 items\n'
expect "a shell test that exits non-zero after saying 0 failed" "4 1 0" tally_summary 2 \
    '4 passed, 0 failed\n'
expect "cmocka" "3 0 0" tally_cmocka 0 \
    '[  PASSED  ] 3 test(s).\n'
expect "a unit binary that skips" "0 0 1" tally_cmocka 0 \
    'SKIP: no docker engine\n'
expect "a unit binary that skips part and fails" "2 1 1" tally_cmocka 1 \
    'SKIP: no docker engine\n[  PASSED  ] 2 test(s).\n[  FAILED  ] 1 test(s), listed below:\n'
expect "a leak after the tests passed" "5 1 0" tally_cmocka 23 \
    '==123==ERROR: LeakSanitizer: detected memory leaks\n[  PASSED  ] 5 test(s).\n'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
