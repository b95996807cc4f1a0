#!/usr/bin/env bash
# `npm run test:docker`: builds the images from offline bases and runs the compose test
# (compose.docker.ts). Starts dockerd when no Docker engine answers (as root; Debian's docker.io,
# installed by scripts/install-system-deps.sh) and stops it again at the end; images stay in
# /var/lib/docker, so the next run's builds come from the layer cache.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$SECONDS

dockerd_pid=
stop_dockerd() {
  if [ -n "$dockerd_pid" ]; then
    kill "$dockerd_pid" 2>/dev/null || true
    wait "$dockerd_pid" 2>/dev/null || true
  fi
}
trap stop_dockerd EXIT

if ! docker info >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ] || ! command -v dockerd >/dev/null; then
    echo "test:docker: no Docker engine answers; install docker.io (scripts/install-system-deps.sh) and run as root" >&2
    exit 1
  fi
  dockerd >/tmp/setrain-dockerd.log 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { tail -20 /tmp/setrain-dockerd.log >&2; exit 1; }
fi

echo "test:docker: building images"
bash test/docker/build-images.sh
echo "test:docker: images built after $((SECONDS - started)) s"
node --conditions=source --import tsx --test --test-reporter=spec test/docker/compose.docker.ts
echo "test:docker: done in $((SECONDS - started)) s"
