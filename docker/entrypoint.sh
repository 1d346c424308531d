#!/bin/sh
# Runs $SERVICE as the unprivileged rideshare user. A container started as root (only the
# orchestrator's, see docker-compose.yml) gets here only to join the group that owns the
# mounted Docker socket, whatever its gid is on this host, and then drops root for good.
set -eu
bin="/usr/local/bin/${SERVICE}"
[ "$(id -u)" = 0 ] || exec "$bin" "$@"
groups=$(id -g rideshare)
sock=${DOCKER_SOCKET:-/var/run/docker.sock}
if [ -S "$sock" ]; then
    groups="$groups,$(stat -c %g "$sock")"
fi
exec setpriv --reuid=rideshare --regid=rideshare --groups="$groups" --inh-caps=-all -- "$bin" "$@"
