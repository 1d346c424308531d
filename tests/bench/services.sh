#!/usr/bin/env bash
# services.sh - drives a running fleet through its load balancer with wrk:
#   GET /api/v1/rides?source=S&destination=D  and  PUT /api/v1/users (unique names).
# Usage: LB_URL=http://127.0.0.1:8080 tests/bench/services.sh
# Environment: LB_URL (required), SECONDS_EACH (10), CONNECTIONS (32), THREADS (2),
# SOURCE (3), DESTINATION (7), RIDES (50: rides seeded on that route), USERS (20).
# Seeds with unique names, so it never needs (or does) a db/clear.
set -euo pipefail
: "${LB_URL:?set LB_URL, e.g. http://127.0.0.1:8080}"
SECONDS_EACH=${SECONDS_EACH:-10} CONNECTIONS=${CONNECTIONS:-32} THREADS=${THREADS:-2}
SOURCE=${SOURCE:-3} DESTINATION=${DESTINATION:-7} RIDES=${RIDES:-50} USERS=${USERS:-20}
command -v wrk >/dev/null || { echo "services.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }

work=$(mktemp -d /tmp/rideshare-bench-services.XXXXXX)
trap 'rm -rf "$work"' EXIT
run="b$$x$RANDOM"
pw=$(printf 'c%.0s' $(seq 40))

# ---- seed ----
for i in $(seq 1 "$USERS"); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$LB_URL/api/v1/users" \
        -H 'Content-Type: application/json' -d "{\"username\":\"$run-seed$i\",\"password\":\"$pw\"}")
    [ "$code" = 201 ] || { echo "services.sh: seeding user $i answered $code" >&2; exit 1; }
done
for i in $(seq 1 "$RIDES"); do
    sec=$(printf '%02d' $((i % 60)))
    code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$LB_URL/api/v1/rides" \
        -H 'Content-Type: application/json' \
        -d "{\"created_by\":\"$run-seed$(( (i % USERS) + 1 ))\",\"timestamp\":\"01-01-2035:$sec-00-10\",\"source\":$SOURCE,\"destination\":$DESTINATION}")
    [ "$code" = 201 ] || { echo "services.sh: seeding ride $i answered $code" >&2; exit 1; }
done

# ---- wrk scripts ----
cat > "$work/get.lua" <<'LUA'
wrk.method = "GET"
LUA
# Every wrk thread gets its own prefix, and every request a fresh number: names never repeat.
cat > "$work/put_users.lua" <<LUA
local counter = 0
local threads = 0
function setup(thread)
    threads = threads + 1
    thread:set("tid", threads)
end
function init(args)
    n = 0
    prefix = "$run-t" .. tostring(tid) .. "-"
end
request = function()
    n = n + 1
    local body = '{"username":"' .. prefix .. n .. '","password":"$pw"}'
    return wrk.format("PUT", "/api/v1/users", {["Content-Type"] = "application/json"}, body)
end
LUA

to_ms() { # wrk prints 1.23ms, 850.00us or 1.02s
    awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000; printf "%.2f", n }'
}

bench() { # name url script
    local out
    out=$(wrk -t "$THREADS" -c "$CONNECTIONS" -d "${SECONDS_EACH}s" --latency -s "$3" "$2")
    local rps p50 p99 bad
    rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
    printf '| %-44s | %8s | %7s | %7s | %7s |\n' "$1" "$rps" "$p50" "$p99" "${bad:-0}"
}

echo
echo "$CONNECTIONS connections, $THREADS threads, ${SECONDS_EACH}s each, against $LB_URL"
echo
printf '| %-44s | %8s | %7s | %7s | %7s |\n' scenario "req/s" "p50 ms" "p99 ms" "non-2xx"
echo "|----------------------------------------------|----------|---------|---------|---------|"
bench "GET /api/v1/rides?source=$SOURCE&destination=$DESTINATION" \
    "$LB_URL/api/v1/rides?source=$SOURCE&destination=$DESTINATION" "$work/get.lua"
bench "PUT /api/v1/users (unique names)" "$LB_URL/api/v1/users" "$work/put_users.lua"
