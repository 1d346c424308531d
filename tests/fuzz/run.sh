#!/usr/bin/env bash
# Builds the libFuzzer targets tests/fuzz/fuzz_<name>.c with clang (ASan + UBSan) straight
# from the project sources each needs, then runs each for FUZZ_SECONDS (default 60).
#   FUZZ_SECONDS=300       time per target
#   FUZZ_TARGETS="query"   only these targets (default: every fuzz_*.c)
#   FUZZ_JOBS=2            targets run at once (default 1; the machine has 2 cores)
#   FUZZ_BUILD_ONLY=1      build, do not run
#   FUZZ_OUT=/tmp/x        where objects, binaries, corpus, crashes and logs go (default
#                          build/fuzz; elsewhere, a concurrent "make clean" cannot end a
#                          long run)
# Seeds: tests/fuzz/corpus/<name>/ (committed, read-only here). The grown corpus goes to
# build/fuzz/corpus/<name>/, crash reproducers to build/fuzz/crashes/<name>/, logs to
# build/fuzz/logs/<name>.log. Prints one line per target; exits 1 if any target crashed.
set -u
cd "$(dirname "$0")/../.."
SECONDS_PER=${FUZZ_SECONDS:-60}
JOBS=${FUZZ_JOBS:-1}
CC=${FUZZ_CC:-clang}
OUT=${FUZZ_OUT:-build/fuzz}
WARN="-Wall -Wextra -Werror -Wformat=2 -Wshadow -Wmissing-prototypes -Wno-format-nonliteral"
CFLAGS="-std=c11 -D_GNU_SOURCE $WARN -Icommon -Icommon/fleet -g -O1 -fno-omit-frame-pointer \
-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"

# The module sources and libraries each target needs; common/ comes from a clang-built
# build/fuzz/libcommon.a (never the gcc-built archives), which adds only what is used.
declare -A SRCS=(
    [query]="worker/query.c worker/store.c"
    [timestamp]="rides/timestamp.c"
    [areas]="rides/areas.c"
    [validate]="" # common/fleet/validate.c, in libcommon.a
    [http]="" # fuzz_http.c #includes common/http_server.c
)
declare -A LIBS=(
    [query]="jansson sqlite3" [timestamp]="" [areas]="jansson" [validate]="jansson"
    [http]="libmicrohttpd jansson"
)

command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (scripts/install-deps.sh)"; exit 2; }
targets=${FUZZ_TARGETS:-$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')}
mkdir -p "$OUT/obj" "$OUT/logs"

# Compiles src into build/fuzz/obj unless the object is newer than every file its
# dependency list (-MMD) names.
compile() { # $1 = source file
    local src=$1 obj=$OUT/obj/${1%.c}.o deps
    mkdir -p "$(dirname "$obj")"
    if [ -f "$obj" ] && [ -f "${obj%.o}.d" ]; then
        deps=$(sed 's/\\$//; s/^[^:]*://' "${obj%.o}.d" | tr ' ' '\n' | sort -u | grep -v '^$')
        # shellcheck disable=SC2086
        [ -z "$(find $deps -newer "$obj" 2>/dev/null)" ] && return 0
    fi
    $CC $CFLAGS -MMD -MP -c "$src" -o "$obj"
}

build() { # $1 = target name
    local t=$1 objs=() src
    [ -n "${SRCS[$t]+x}" ] || { echo "fuzz: no source list for target $t in tests/fuzz/run.sh"; return 1; }
    for src in tests/fuzz/fuzz_$t.c ${SRCS[$t]}; do
        compile "$src" || return 1
        objs+=("$OUT/obj/${src%.c}.o")
    done
    local libs=""
    [ -z "${LIBS[$t]}" ] || libs=$(pkg-config --libs ${LIBS[$t]}) || return 1
    $CC $CFLAGS -o "$OUT/fuzz_$t" "${objs[@]}" "$OUT/libcommon.a" $libs -lpthread -lm
}

# build/fuzz/libcommon.a from common/*.c and common/fleet/*.c, except http_server.c
# (fuzz_http.c includes it).
build_common() {
    local src objs=()
    for src in common/*.c common/fleet/*.c; do
        [ "$src" = common/http_server.c ] && continue
        compile "$src" || return 1
        objs+=("$OUT/obj/${src%.c}.o")
    done
    rm -f "$OUT/libcommon.a"
    ar rcs "$OUT/libcommon.a" "${objs[@]}"
}

# Runs one target; writes "name execs status" to build/fuzz/logs/<name>.result.
run_one() { # $1 = target name
    local t=$1 log=$OUT/logs/$1.log dict=()
    mkdir -p "$OUT/corpus/$t" "$OUT/crashes/$t" "$OUT/logs"
    rm -f "$OUT/crashes/$t"/*
    [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$OUT/fuzz_$t" "$OUT/corpus/$t" "tests/fuzz/corpus/$t" "${dict[@]}" \
        -max_total_time="$SECONDS_PER" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -close_fd_mask=1 -artifact_prefix="$OUT/crashes/$t/" >"$log" 2>&1
    local rc=$? execs status
    execs=$(grep -a 'stat::number_of_executed_units:' "$log" | tail -1 | awk '{print $2}')
    status=ok
    if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$OUT/crashes/$t")" ]; then status=CRASH; fi
    echo "$t ${execs:-0} $status" >"$OUT/logs/$t.result"
}

failed=0
echo "fuzz: building $OUT/libcommon.a"
build_common || { echo "fuzz: build of common/ failed"; exit 2; }
for t in $targets; do
    echo "fuzz: building fuzz_$t"
    build "$t" || { echo "fuzz: build of $t failed"; exit 2; }
done
[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0

echo "fuzz: running each target for ${SECONDS_PER}s, $JOBS at a time"
running=0
for t in $targets; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait

printf '%-12s %14s  %s\n' target execs result
for t in $targets; do
    name=$t execs=0 status="NO RESULT (its output directory vanished?)"
    [ -f "$OUT/logs/$t.result" ] && read -r name execs status <"$OUT/logs/$t.result"
    printf '%-12s %14s  %s\n' "$name" "$execs" "$status"
    if [ "$status" != ok ]; then
        failed=1
        ls "$OUT/crashes/$t"/* 2>/dev/null | sed 's/^/    reproducer: /'
        grep -a -m1 -E 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error|fuzz_[a-z]+: ' "$OUT/logs/$t.log" | sed 's/^/    /'
        echo "    log: $OUT/logs/$t.log"
    fi
done
exit $failed
