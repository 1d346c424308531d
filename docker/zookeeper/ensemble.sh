#!/bin/sh
# ensemble.sh - runs this container as member ZK_MYID of a ZooKeeper ensemble instead of
# the image's standalone server (docker/stack.yml). ZK_SERVERS lists the members'
# hostnames in order ("zk1,zk2,zk3": the i-th is member i); ZK_TICK_MS [500] and ZK_HEAP
# [256m] as for the standalone server. State lives in /data (a volume per member).
set -eu
: "${ZK_MYID:?ZK_MYID is the member number, 1..n}" "${ZK_SERVERS:?ZK_SERVERS lists the members}"
: "${ZK_TICK_MS:=500}" "${ZK_HEAP:=256m}"
conf=/data/conf
mkdir -p "$conf" /data/data
echo "$ZK_MYID" > /data/data/myid
{
    echo "tickTime=$ZK_TICK_MS"
    # 10 s (at 500 ms ticks) for a follower to connect to the leader and catch up; 3 s
    # behind and it is dropped.
    echo "initLimit=20"
    echo "syncLimit=6"
    echo "dataDir=/data/data"
    echo "clientPort=2181"
    # The member's own name resolves to its service's virtual IP, not to an address of
    # this container: listen on every address.
    echo "quorumListenOnAllIPs=true"
    echo "4lw.commands.whitelist=ruok,stat,srvr,mntr"
    echo "admin.enableServer=false"
    echo "autopurge.snapRetainCount=3"
    echo "autopurge.purgeInterval=1"
    i=1
    for h in $(echo "$ZK_SERVERS" | tr ',' ' '); do
        echo "server.$i=$h:2888:3888"
        i=$((i + 1))
    done
} > "$conf/zoo.cfg"
cp /etc/zookeeper/conf/log4j.properties "$conf/"
/usr/local/bin/rs-attached record # for the healthcheck (docker/attached.sh)
cp=$(ls /usr/share/java/*.jar | grep -Ev '/(slf4j-(jdk14|jcl|simple|nop)|log4j-over-slf4j)[^/]*[.]jar$' | tr '\n' :)
exec java -Xmx"$ZK_HEAP" -XX:+UseSerialGC -Dzookeeper.admin.enableServer=false -cp "${cp}${conf}" \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$conf/zoo.cfg"
