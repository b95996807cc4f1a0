# Redis for the offline compose stack (docker-compose.offline.yml): Debian's redis-server on the
# base made by infra/docker/base/make-base-images.sh, for machines that cannot pull redis:7.
ARG BASE_IMAGE=setrain/bookworm:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
  && apt-get install -y --no-install-recommends redis-server \
  && rm -rf /var/lib/apt/lists/* \
  && mkdir -p /data && chown redis:redis /data
WORKDIR /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--protected-mode", "no"]
