# The load balancer: Debian's nginx rendering docker/lb/nginx.conf.template at start.
#   docker build -f docker/lb.Dockerfile -t rideshare-lb .
# docker/lb/run.sh renders the template with envsubst (only LB_PORT, USERS_UPSTREAM,
# RIDES_UPSTREAM, LB_RUN_DIR; nginx's own $variables survive) and execs nginx in the
# foreground, logging to stderr. Runs as www-data with a private run dir.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        nginx-light gettext-base curl libcap2-bin \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/* \
 && setcap cap_net_bind_service=+ep /usr/sbin/nginx \
 && mkdir -p /run/lb && chown www-data:www-data /run/lb
COPY docker/lb/nginx.conf.template docker/lb/swarm.conf.template docker/lb/run.sh /etc/rideshare-lb/
ENV LB_PORT=80 \
    USERS_UPSTREAM=users:80 \
    RIDES_UPSTREAM=rides:80 \
    ORCH_UPSTREAM=orchestrator:80 \
    LB_RUN_DIR=/run/lb
USER www-data
EXPOSE 80
HEALTHCHECK --interval=3s --timeout=3s --start-period=10s --retries=20 \
    CMD curl -fsS -o /dev/null "http://127.0.0.1:${LB_PORT}/healthz" || exit 1
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/bin/sh", "/etc/rideshare-lb/run.sh"]
