#!/usr/bin/env bash
# zk_harness.sh - runs a command against a private, throw-away ZooKeeper.
#
# Usage: tests/integration/zk_harness.sh [command ...]
#   default command: build/asan/tests/common_zk_test (built with `make unit`)
# Starts Debian's ZooKeeper (standalone, tickTime 500 ms so sessions may be short) on a
# free port (never 2181) with its own data dir under /tmp, exports ZK_TEST_HOSTS and
# ZK_HOSTS for the command, and always stops the server and removes the dir afterwards.
set -euo pipefail
cd "$(dirname "$0")/../.."

[ $# -gt 0 ] || set -- build/asan/tests/common_zk_test
if [ ! -r /usr/share/java/zookeeper.jar ] || ! command -v java >/dev/null; then
    echo "SKIP: no ZooKeeper (apt-get install zookeeper)"
    exit 0
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d /tmp/rs-zk-harness-XXXXXX)
java -Xmx128m -Dzookeeper.admin.enableServer=false -cp "/usr/share/java/*:/etc/zookeeper/conf" \
    org.apache.zookeeper.server.ZooKeeperServerMain "$port" "$dir" 500 >"$dir/server.log" 2>&1 &
zk_pid=$!
cleanup() {
    kill "$zk_pid" 2>/dev/null || true
    wait "$zk_pid" 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

# Ready when it answers the "srvr" four-letter word (whitelisted by default).
for _ in $(seq 1 150); do
    if exec 3<>"/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
        printf srvr >&3
        if grep -q "Mode: standalone" <&3; then exec 3<&-; break; fi
        exec 3<&-
    fi
    kill -0 "$zk_pid" 2>/dev/null || { echo "zookeeper died:"; cat "$dir/server.log"; exit 1; }
    sleep 0.2
done
echo "zookeeper on 127.0.0.1:$port (pid $zk_pid, data $dir)"

export ZK_TEST_HOSTS="127.0.0.1:$port" ZK_HOSTS="127.0.0.1:$port"
"$@"
