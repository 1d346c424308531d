#!/bin/sh
# alive.sh - the liveness half of a cluster node's healthcheck (docker/stack.yml).
# An Erlang node can wedge with its listeners open: the fault test saw a node spin one
# scheduler for minutes after a peer was killed, refuse every CLI connection ("Erlang
# distribution failed") and stall its peers' list_queues, while its ports still took TCP.
# So, at most every RS_PING_EVERY_S [10] seconds, this asks the node itself
# (rabbitmq-diagnostics ping, a healthy node answers in about 0.5 s) and remembers how
# many pings in a row failed; it exits 1 while the last two did, so that one slow ping on
# a loaded machine is no reason, and a wedged node is unhealthy within about 40 s. Swarm then
# replaces it, and the new task catches up from the node's volume.
set -u
state=/tmp/rs-alive
every=${RS_PING_EVERY_S:-10}
now=$(date +%s)
last=0 fails=0
[ -r "$state" ] && read -r last fails < "$state"
if [ $((now - last)) -ge "$every" ]; then
    if timeout 8 rabbitmq-diagnostics -q ping >/dev/null 2>&1; then
        fails=0
    else
        fails=$((fails + 1))
    fi
    echo "$now $fails" > "$state"
fi
if [ "$fails" -ge 2 ]; then
    echo "rabbitmq-diagnostics ping failed $fails times in a row"
    exit 1
fi
exit 0
