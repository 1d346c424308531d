#!/usr/bin/env bash
# Ensures the Docker image debian:bookworm-slim exists, without needing a registry.
#
#   1. `docker image inspect` finds it            -> done (the usual case; ~50 ms)
#   2. `docker pull` succeeds within PULL_TIMEOUT  -> done (Docker Hub reachable)
#   3. else debootstrap --variant=minbase bookworm from Debian's archive into a temp
#      dir, apply the same minimizing config as the official "slim" image, tar it and
#      `docker import` it as debian:bookworm-slim. The Dockerfiles stay unchanged.
#
# Idempotent; safe to run concurrently-ish (a lock file serializes builds).
# Environment: BASE_IMAGE (default debian:bookworm-slim), DEBIAN_MIRROR and
# SECURITY_MIRROR (default: the mirrors this machine's own apt sources name for bookworm and
# bookworm-security, so that the image follows whatever mirror or proxy apt-get here uses),
# PULL_TIMEOUT (s, default 15). apt's own proxy setting, if any, is used by debootstrap too.
set -euo pipefail

IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
SUITE=bookworm
PULL_TIMEOUT=${PULL_TIMEOUT:-15}

log() { echo "base-image: $*" >&2; }

# apt_sources: "uri suite" for every deb line of this machine's apt sources, both formats.
apt_sources() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -r "$f" ] && awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++;
                                          print $i, $(i + 1) }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -r "$f" ] && awk 'BEGIN { RS = ""; FS = "\n" }
            { t = ""; u = ""; s = ""
              for (i = 1; i <= NF; i++) {
                  if ($i ~ /^Types:/) t = $i; if ($i ~ /^URIs:/) u = $i; if ($i ~ /^Suites:/) s = $i }
              if (t !~ /(^|[ \t])deb([ \t]|$)/) next
              split(u, us, /[ \t]+/); n = split(s, ss, /[ \t]+/)
              for (j = 2; j <= n; j++) print us[2], ss[j] }' "$f"
    done
}

# apt_mirror SUITE: the first source of this machine that serves exactly that suite.
apt_mirror() {
    apt_sources | awk -v want="$1" '$2 == want { print $1; exit }'
}

MIRROR=${DEBIAN_MIRROR:-$(apt_mirror "$SUITE")}
SECURITY_MIRROR=${SECURITY_MIRROR:-$(apt_mirror "$SUITE-security")}
proxy=$(apt-config dump 2>/dev/null | awk -F'"' '/^Acquire::http::Proxy /{print $2; exit}')
[ -n "$proxy" ] && [ -z "${http_proxy:-}" ] && export http_proxy=$proxy
have_image() { docker image inspect "$IMAGE" >/dev/null 2>&1; }

have_image && exit 0

exec 9>/tmp/rideshare-base-image.lock
flock 9
have_image && exit 0 # someone else built it while we waited

log "$IMAGE not found locally; trying docker pull (timeout ${PULL_TIMEOUT}s)"
if timeout "$PULL_TIMEOUT" docker pull -q "$IMAGE" >/dev/null 2>&1 && have_image; then
    log "pulled $IMAGE"
    exit 0
fi

if [ -z "$MIRROR" ]; then
    log "no apt source of this machine serves $SUITE; set DEBIAN_MIRROR to a Debian mirror"
    exit 1
fi
log "no registry; building $IMAGE with debootstrap from $MIRROR"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
if ! command -v debootstrap >/dev/null 2>&1 && [ ! -x /usr/sbin/debootstrap ]; then
    log "installing debootstrap"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
DEBOOTSTRAP=$(command -v debootstrap || echo /usr/sbin/debootstrap)

work=$(mktemp -d /tmp/rideshare-rootfs.XXXXXX)
cleanup() { $SUDO rm -rf --one-file-system "$work"; }
trap cleanup EXIT
root="$work/rootfs"

start=$(date +%s)
$SUDO "$DEBOOTSTRAP" --variant=minbase --arch=amd64 "$SUITE" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    log "debootstrap failed"
    exit 1
}

# The same minimizing config the official debian:*-slim images carry (debuerreotype).
{
    echo "deb $MIRROR $SUITE main"
    echo "deb $MIRROR $SUITE-updates main"
    [ -z "$SECURITY_MIRROR" ] || echo "deb $SECURITY_MIRROR $SUITE-security main"
} | $SUDO tee "$root/etc/apt/sources.list" >/dev/null
$SUDO tee "$root/usr/sbin/policy-rc.d" >/dev/null <<'EOF'
#!/bin/sh
# Daemons installed during image builds must not start.
exit 101
EOF
$SUDO chmod 755 "$root/usr/sbin/policy-rc.d"
$SUDO tee "$root/etc/apt/apt.conf.d/docker-clean" >/dev/null <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::GzipIndexes "true";' | $SUDO tee "$root/etc/apt/apt.conf.d/docker-gzip-indexes" >/dev/null
echo 'Acquire::Languages "none";' | $SUDO tee "$root/etc/apt/apt.conf.d/docker-no-languages" >/dev/null
echo 'Apt::AutoRemove::SuggestsImportant "false";' | $SUDO tee "$root/etc/apt/apt.conf.d/docker-autoremove-suggests" >/dev/null
$SUDO mkdir -p "$root/etc/dpkg/dpkg.cfg.d"
$SUDO tee "$root/etc/dpkg/dpkg.cfg.d/docker" >/dev/null <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
EOF
# Trim what the excludes would have kept out, plus caches and host-specific files.
$SUDO find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
$SUDO find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
$SUDO rm -rf "$root"/usr/share/{info,man,locale,groff,linda,lintian}/* \
    "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
    "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/var/log/apt/* \
    "$root"/tmp/* "$root"/var/tmp/*
$SUDO truncate -s 0 "$root/etc/resolv.conf" "$root/etc/hostname" 2>/dev/null || true
$SUDO rm -f "$root/etc/machine-id" && $SUDO touch "$root/etc/machine-id"

log "importing rootfs as $IMAGE"
$SUDO tar --numeric-owner --xattrs -C "$root" -c . |
    docker import \
        --change 'CMD ["bash"]' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --message "debootstrap --variant=minbase $SUITE $MIRROR" \
        - "$IMAGE" >/dev/null
have_image || { log "import failed"; exit 1; }
log "built $IMAGE in $(( $(date +%s) - start ))s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
