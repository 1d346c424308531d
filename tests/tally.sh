# tally.sh - reads a test runner's output and says what it counted, for tests/run-all.sh
# (sourced; tests/runner_selftest.sh feeds it crafted outputs). Every function prints
# "passed failed skipped". A runner that printed a SKIP line but also counted a failure
# keeps the failure: a skip never hides one.

# tally_cmocka FILE RC: a cmocka binary's output and exit code.
tally_cmocka() {
    local file=$1 rc=$2 p f s=0
    p=$(grep -aoE '\[  PASSED  \] [0-9]+ test' "$file" | awk '{s+=$4} END {print s+0}')
    f=$(grep -aoE '\[  FAILED  \] [0-9]+ test' "$file" | awk '{s+=$4} END {print s+0}')
    s=$(grep -acE '^SKIP' "$file")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi  # crashed, leaked or sanitizer report
    echo "$p $f $s"
}

# tally_summary FILE RC: a runner that ends with pytest's summary or "N passed, N failed"
# (pytest, the e2e tier, shell tests). No summary: a SKIP line counts one skipped when the
# runner succeeded; anything else (died before its summary) is a failure.
tally_summary() {
    local file=$1 rc=$2 line p f e s
    line=$(grep -aE '(^|[ =])[0-9]+ (passed|failed|errors?|skipped)' "$file" | tail -1)
    p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+'); p=${p:-0}
    f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+'); f=${f:-0}
    e=$(echo "$line" | grep -oE '[0-9]+ errors?' | grep -oE '[0-9]+'); e=${e:-0}
    s=$(echo "$line" | grep -oE '[0-9]+ skipped' | grep -oE '[0-9]+'); s=${s:-0}
    f=$((f + e))
    if [ -z "$line" ]; then
        if [ "$rc" -eq 0 ] && grep -aqE '^SKIP' "$file"; then s=1; else f=1; fi
    elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        f=1  # it said nothing failed, yet it failed
    fi
    echo "$p $f $s"
}
