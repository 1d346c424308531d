#!/usr/bin/env bash
# Installs the Debian packages that building and testing need; idempotent, non-interactive.
set -euo pipefail
pkgs=(build-essential pkg-config clang
      libmicrohttpd-dev librabbitmq-dev libzookeeper-mt-dev libsqlite3-dev libjansson-dev
      libcurl4-openssl-dev libcmocka-dev
      rabbitmq-server zookeeper nginx wrk curl
      python3 python3-pytest python3-requests busybox-static debootstrap valgrind)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian packages start system-wide daemons; the project runs its own instances.
for svc in rabbitmq-server zookeeper nginx; do
    $SUDO systemctl disable --now "$svc" >/dev/null 2>&1 || true
    $SUDO service "$svc" stop >/dev/null 2>&1 || true
done
