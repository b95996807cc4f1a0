# Prometheus for the offline compose stack: Debian's prometheus package on the local base.
ARG BASE_IMAGE=setrain/bookworm:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
  && apt-get install -y --no-install-recommends prometheus \
  && rm -rf /var/lib/apt/lists/* /usr/share/prometheus/consoles* \
  && mkdir -p /prometheus && chown prometheus:prometheus /prometheus
USER prometheus
EXPOSE 9090
# No curl or wget in the base: bash's /dev/tcp asks /-/healthy.
HEALTHCHECK --interval=10s --timeout=5s --retries=6 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/9090 && printf 'GET /-/healthy HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q '200 OK' <&3"]
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
