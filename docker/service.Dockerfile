# One image per C service, from one Dockerfile:
#   docker build -f docker/service.Dockerfile --build-arg SERVICE=users -t rideshare-users .
# SERVICE is users | rides | orchestrator | worker (the worker image serves master and slaves).
# Build context: the repository root (see ../.dockerignore).
#
# Layer order is for the cache: packages first (shared by all four images), sources last,
# and only the sources the service needs (Makefile, common/, <service>/).
# (No "# syntax=" line: BuildKit would try to pull the frontend image from a registry.)
#
# scripts/fleet.sh builds the two package stages first and tags them (rideshare-toolchain,
# rideshare-runtime-base): the four service builds, run in parallel, then share those layers
# instead of each installing its own copy, and `docker image prune` cannot delete them (the
# legacy builder leaves build stages as untagged images). Both come before any stage that
# needs SERVICE, because the legacy builder builds every stage up to --target.

# ---- toolchain: build-essential + the -dev packages -------------------------------------------
FROM debian:bookworm-slim AS toolchain
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        build-essential pkg-config \
        libmicrohttpd-dev librabbitmq-dev libzookeeper-mt-dev libsqlite3-dev \
        libjansson-dev libcurl4-openssl-dev \
 && rm -rf /var/lib/apt/lists/*

# ---- runtime-base: runtime libraries and the non-root user ------------------------------------
# Every binary links every library (one LDLIBS in the Makefile), so this layer is the same
# for all four images and stored once. curl is for healthchecks; libcap2-bin for setcap.
FROM debian:bookworm-slim AS runtime-base
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libmicrohttpd12 librabbitmq4 libzookeeper-mt2 libsqlite3-0 libjansson4 libcurl4 \
        ca-certificates curl libcap2-bin \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 rideshare \
 && useradd --system --uid 10001 --gid rideshare --home-dir /data --shell /usr/sbin/nologin rideshare \
 && mkdir -p /data && chown rideshare:rideshare /data && chmod 0750 /data

# ---- build: compiled with the top-level Makefile ------------------------------------------------
FROM toolchain AS build
LABEL rideshare.stage=build
WORKDIR /src
ARG SERVICE
RUN test -n "$SERVICE" || { echo "build with --build-arg SERVICE=users|rides|orchestrator|worker" >&2; exit 1; }
COPY Makefile ./
COPY common/ common/
COPY ${SERVICE}/ ${SERVICE}/
RUN make -j"$(nproc)" "build/rel/${SERVICE}" && strip --strip-debug -o "/${SERVICE}" "build/rel/${SERVICE}"

# ---- runtime: the binary on runtime-base, non-root ---------------------------------------------
FROM runtime-base AS runtime
ARG SERVICE
ENV SERVICE=${SERVICE} \
    PORT=80 \
    WORKER_DATA_DIR=/data
COPY --from=build /${SERVICE} /usr/local/bin/${SERVICE}
# Inside the network every service listens on port 80 as a non-root user. Docker >= 20.10
# already sets net.ipv4.ip_unprivileged_port_start=0 in a container's own network namespace;
# the file capability also covers older engines and containers started without it.
COPY docker/entrypoint.sh /usr/local/bin/rideshare-entrypoint
# /run/dockerproxy: owned by rideshare, so the named volume mounted there (its content and
# owner come from the image on first use) takes the proxy's socket (docker-compose.yml).
RUN setcap cap_net_bind_service=+ep "/usr/local/bin/${SERVICE}" \
 && mkdir -p /run/dockerproxy && chown rideshare:rideshare /run/dockerproxy && chmod 0750 /run/dockerproxy
# Containers inherit these labels (the orchestrator adds rideshare.fleet to its workers;
# `scripts/fleet.sh down` removes containers labelled rideshare.role=worker + rideshare.fleet).
LABEL org.opencontainers.image.title="rideshare-${SERVICE}" rideshare.role="${SERVICE}"
USER rideshare
WORKDIR /data
EXPOSE 80
STOPSIGNAL SIGTERM
# exec all the way: the service is PID 1 and gets SIGTERM directly; arguments pass on.
ENTRYPOINT ["/usr/local/bin/rideshare-entrypoint"]
