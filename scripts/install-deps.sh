#!/usr/bin/env bash
# Installs the Debian packages that building and testing need; idempotent, non-interactive.
set -euo pipefail
# libclang-rt-14-dev: clang's libFuzzer and sanitizer runtimes (make fuzz, and the short fuzz
# runs of make test); python3-venv: the end-to-end tier installs schemathesis into a venv;
# chromium, chromium-driver, python3-selenium: the dashboard's real-browser test (e2e tier).
pkgs=(build-essential pkg-config clang libclang-rt-14-dev
      libmicrohttpd-dev librabbitmq-dev libzookeeper-mt-dev libsqlite3-dev libjansson-dev
      libcurl4-openssl-dev libcmocka-dev
      rabbitmq-server zookeeper nginx wrk hey curl
      python3 python3-pytest python3-requests python3-venv busybox-static debootstrap valgrind
      chromium chromium-driver python3-selenium)
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
