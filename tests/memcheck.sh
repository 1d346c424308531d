#!/usr/bin/env bash
# Runs the black-box suites test_dbaas.py and test_users_rides_api.py with every service
# of ours (orchestrator, workers, users, rides) under valgrind's memcheck, then reads each
# process's valgrind log. Only memory errors and definite leaks count ("still reachable"
# and "possibly lost" blocks of libcurl, librabbitmq, libmicrohttpd and glibc do not).
# Services are stopped with SIGTERM, so each exits through its own cleanup; a log without
# valgrind's final summary means the process did not exit by itself (killed after the
# stop timeout, or crashed) and counts as a failure.
#   build/memcheck/<name>.<pid>.log   one valgrind log per process
#   build/memcheck/pytest.log         the suites' output
#   build/memcheck/bin/               the binaries under test, copied from build/rel so
#                                     that a concurrent rebuild cannot swap them mid-run
# Exit 0 only when the suites pass and every log is complete and clean.
# Settings: MEMCHECK_TESTS (default: the two suites), PYTEST_ARGS, RS_TIMEOUT_SCALE,
# MEMCHECK_OUT (default build/memcheck).
set -u
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "memcheck: valgrind not found (scripts/install-deps.sh)"; exit 2; }
for b in orchestrator worker users rides; do
    [ -x "build/rel/$b" ] || { echo "memcheck: build/rel/$b missing (make all)"; exit 2; }
done
OUT=${MEMCHECK_OUT:-build/memcheck}
rm -rf "$OUT"
mkdir -p "$OUT/bin"
cp build/rel/orchestrator build/rel/worker build/rel/users build/rel/rides "$OUT/bin/"
OUT=$(cd "$OUT" && pwd)
export RS_BIN=$OUT/bin

export RS_WRAP="valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
--errors-for-leak-kinds=definite --error-exitcode=99 --num-callers=30 \
--suppressions=$PWD/tests/valgrind.supp --log-file=$OUT/%q{RS_PROC}.%p.log"
export RS_TIMEOUT_SCALE=${RS_TIMEOUT_SCALE:-10}
tests=${MEMCHECK_TESTS:-tests/integration/test_dbaas.py tests/integration/test_users_rides_api.py}

echo "memcheck: running $tests under valgrind (logs in $OUT/)"
# shellcheck disable=SC2086
/usr/bin/python3 -m pytest $tests -q -rfE -p no:cacheprovider ${PYTEST_ARGS:-} >"$OUT/pytest.log" 2>&1
pytest_rc=$?
summary=$(grep -aE '[0-9]+ (passed|failed|error)' "$OUT/pytest.log" | tail -1)
echo "memcheck: suites: ${summary:-no pytest summary} (exit $pytest_rc)"
[ "$pytest_rc" -eq 0 ] || grep -aE '^(FAILED|ERROR) ' "$OUT/pytest.log" | sed 's/^/    /'

bad=0 n=0
printf '%-24s %8s %8s %14s  %s\n' process pid errors "definitely" result
for log in "$OUT"/*.*.log; do
    [ -f "$log" ] || continue
    n=$((n + 1))
    base=$(basename "$log" .log)
    name=${base%.*} pid=${base##*.}
    errs=$(grep -aoE 'ERROR SUMMARY: [0-9]+ errors' "$log" | tail -1 | awk '{print $3}')
    lost=$(grep -aoE 'definitely lost: [0-9,]+ bytes in [0-9,]+ blocks' "$log" | tail -1 | awk '{print $3}')
    if [ -z "$errs" ]; then
        result="INCOMPLETE (no valgrind summary: did not exit on SIGTERM, or crashed)"
        bad=1
    elif [ "$errs" -ne 0 ]; then
        result=FAIL
        bad=1
    else
        result=ok
    fi
    printf '%-24s %8s %8s %14s  %s\n' "$name" "$pid" "${errs:--}" "${lost:-0}" "$result"
    if [ "$result" != ok ]; then
        # The first error or leak record with its stack, then where the whole log is.
        awk '/^==[0-9]+== (Invalid|Conditional|Use of|Syscall param|Mismatched|Source and dest|Argument|[0-9,]+ bytes in [0-9,]+ blocks are definitely)/ {p=1}
             p && /^==[0-9]+== $/ {exit} p {print "    " $0}' "$log" | head -30
        echo "    log: $log"
    fi
done
if [ "$n" -eq 0 ]; then
    echo "memcheck: no valgrind logs were written"
    bad=1
fi
if [ "$pytest_rc" -ne 0 ] || [ "$bad" -ne 0 ]; then
    echo "memcheck: FAILED ($n processes checked)"
    exit 1
fi
echo "memcheck: ok ($n processes, no memory errors, no definite leaks)"
