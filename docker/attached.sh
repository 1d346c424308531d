#!/bin/sh
# attached.sh - the network half of a healthcheck, for the swarm stack's ZooKeeper and
# RabbitMQ members (docker/stack.yml).
#   attached.sh record   notes this container's addresses (run at start)
#   attached.sh          0 while every address noted is still this container's, 1 once one
#                        is gone
# A container cut off its overlay network loses its address there; reconnected (docker
# network connect) it gets another one, to which Swarm never resolves its name: the others
# could not reach it again. Unhealthy, Swarm replaces it with a task that is attached
# properly; with its volume, the new member catches up and the ensemble or cluster heals.
set -eu
file=/tmp/rs-attached-addresses
if [ "${1:-}" = record ]; then
    hostname -I > "$file"
    exit 0
fi
[ -r "$file" ] || exit 0 # not recorded (started otherwise): no opinion
now=" $(hostname -I) "
for a in $(cat "$file"); do
    case "$now" in
    *" $a "*) ;;
    *) echo "address $a is gone (now:$now)"; exit 1 ;;
    esac
done
