#!/bin/sh
# cluster.sh - runs this container as one node of a RabbitMQ cluster (docker/stack.yml).
#   RABBITMQ_PEERS   the nodes' hostnames in order ("rabbitmq1,rabbitmq2,rabbitmq3"); this
#                    node is rabbit@$(hostname), its hostname one of them
#   RABBITMQ_COOKIE_FILE  the Erlang cookie all nodes share (a Docker secret)
# A node with no data yet that is not the first of the list waits (up to 120 s) for another
# one to answer, so that three nodes booting at once form one cluster, not three; the
# first one starts at once (or joins the others, if they already run without it). Every
# node also adds itself to the quorum queues that lack it (below).
set -eu
: "${RABBITMQ_PEERS:?RABBITMQ_PEERS lists the nodes of the cluster}" "${RABBITMQ_COOKIE_FILE:?}"
me=$(hostname)
export RABBITMQ_NODENAME="rabbit@$me" RABBITMQ_CONFIG_FILE=/tmp/rabbitmq-cluster.conf
# A peer that stops answering is known to be down within about 10 s (Erlang's default: 60),
# so that a node cut off pauses, and the others stop waiting for it, that much sooner.
export RABBITMQ_ADVANCED_CONFIG_FILE=/tmp/rabbitmq-advanced.config
echo '[{kernel, [{net_ticktime, 10}]}].' > "$RABBITMQ_ADVANCED_CONFIG_FILE"
install -m 0400 "$RABBITMQ_COOKIE_FILE" "$HOME/.erlang.cookie"
/usr/local/bin/rs-attached record # for the healthcheck (docker/attached.sh)
{
    cat /etc/rabbitmq/cluster.conf
    i=1
    for p in $(echo "$RABBITMQ_PEERS" | tr ',' ' '); do
        echo "cluster_formation.classic_config.nodes.$i = rabbit@$p"
        i=$((i + 1))
    done
} > "$RABBITMQ_CONFIG_FILE"
# Quorum queues declared while this node was not in the cluster yet (at the first boot,
# or while it was away with its data lost) have no replica here: add one to each (a no-op
# where there is one), once this node runs and again later.
(
    cli=/usr/lib/rabbitmq/bin
    for _ in $(seq 1 60); do
        "$cli/rabbitmqctl" -q await_startup --timeout 10 >/dev/null 2>&1 && break
        sleep 2
    done
    for pause in 5 30 120; do
        sleep "$pause"
        "$cli/rabbitmq-queues" grow "rabbit@$me" all >/dev/null 2>&1 || true
    done
) &
first=$(echo "$RABBITMQ_PEERS" | cut -d, -f1)
if [ "$me" != "$first" ] && [ ! -d "$HOME/mnesia/rabbit@$me" ]; then
    n=0
    while [ "$n" -lt 120 ]; do
        for p in $(echo "$RABBITMQ_PEERS" | tr ',' ' '); do
            [ "$p" = "$me" ] && continue
            if bash -c "</dev/tcp/$p/5672" 2>/dev/null; then
                echo "cluster.sh: $p answers; joining" >&2
                exec /usr/lib/rabbitmq/bin/rabbitmq-server
            fi
        done
        n=$((n + 1))
        sleep 1
    done
    echo "cluster.sh: no other node answered in 120 s; starting anyway" >&2
fi
exec /usr/lib/rabbitmq/bin/rabbitmq-server
