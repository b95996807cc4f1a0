#!/usr/bin/env bash
# Builds every image `npm run test:docker` runs, from the offline bases (made first if missing):
# api, worker-cpu, worker-gpu-webgpu (built, not run: no GPU here), and the offline Redis,
# Prometheus and S3 images. Docker's layer cache makes a rebuild with unchanged sources quick.
# Prints one line per image: "<image> <seconds> s". Run from anywhere, as root (or docker group).
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${SETRAIN_EXTRA_CA_CERTS:-}" ] && compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  # This machine trusts extra CAs (e.g. a TLS-intercepting proxy): so must the image builds.
  export SETRAIN_EXTRA_CA_CERTS=/usr/local/share/ca-certificates
fi
NODE_IMAGE=$(bash infra/docker/base/make-base-images.sh)
BASE_IMAGE=${SETRAIN_BASE_IMAGE:-setrain/bookworm:bookworm}
export NODE_IMAGE

build() {
  local image=$1 dockerfile=$2
  local started=$SECONDS
  if ! docker build -q -f "$dockerfile" --build-arg "NODE_IMAGE=$NODE_IMAGE" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$image" . >"/tmp/setrain-build-${image//[\/:]/-}.log" 2>&1; then
    echo "build of $image failed:" >&2
    tail -30 "/tmp/setrain-build-${image//[\/:]/-}.log" >&2
    exit 1
  fi
  echo "$image $((SECONDS - started)) s"
}

build setrain/api:dev infra/docker/api.Dockerfile
build setrain/worker-cpu:dev infra/docker/worker-cpu.Dockerfile
build setrain/worker-gpu-webgpu:dev infra/docker/worker-gpu-webgpu.Dockerfile
build setrain/redis-offline:dev infra/offline/redis.Dockerfile
build setrain/prometheus-offline:dev infra/offline/prometheus.Dockerfile
build setrain/s3-offline:dev infra/offline/s3.Dockerfile
