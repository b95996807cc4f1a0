#!/usr/bin/env bash
# Installs the Debian packages setrain's demo and tests run for real (as root, on Debian bookworm).
# Skips what is already installed, so it is cheap to re-run.
#   redis-server        BullMQ queues (the demo and the test harness start their own on a free port)
#   redis-sentinel      the chaos suite's Sentinel failover scenario (npm run chaos)
#   prometheus          metrics and dashboard tests (prometheus + promtool)
#   docker-compose      static check of infra/docker-compose.yml, and the compose test
#   docker.io, debootstrap  the Docker engine and the offline base images `npm run test:docker` builds
#   the shellcheck linter, run on every shell script
#   mesa-vulkan-drivers >= 25 from bookworm-backports: lavapipe, so the webgpu engine runs on a CPU
#   libdnnl-dev, g++, make  oneDNN and a compiler: npm ci builds the native engine's addon
#   chromium            headless browser the dashboard tests (test/ui*.test.ts) drive with puppeteer-core
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-system-deps: run as root (sudo bash scripts/install-system-deps.sh)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive

apt_packages=(redis-server redis-sentinel prometheus docker-compose docker.io debootstrap shellcheck libvulkan1 libdnnl-dev g++ make)
apt_packages+=(chromium) # the dashboard's browser tests
backports_packages=(mesa-vulkan-drivers)

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
for pkg in "${apt_packages[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done
mesa_version=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
need_mesa=1
case "$mesa_version" in 2[5-9].* | [3-9][0-9].*) need_mesa=0 ;; esac

if [ ${#missing[@]} -eq 0 ] && [ "$need_mesa" -eq 0 ]; then
  echo "install-system-deps: everything is already installed"
  exit 0
fi

if ! grep -rqs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
  echo 'deb http://deb.debian.org/debian bookworm-backports main' >/etc/apt/sources.list.d/bookworm-backports.list
fi
apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-system-deps: installing ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "$need_mesa" -eq 1 ]; then
  echo "install-system-deps: installing mesa-vulkan-drivers from bookworm-backports"
  apt-get install -y -qq --no-install-recommends -t bookworm-backports "${backports_packages[@]}" >/dev/null
fi

# The demo and tests start their own redis-server and prometheus; Debian's services are not needed.
# (test:docker uses a running Docker engine, or starts dockerd itself.)
if command -v service >/dev/null; then
  service redis-server stop >/dev/null 2>&1 || true
  service redis-sentinel stop >/dev/null 2>&1 || true
  service prometheus stop >/dev/null 2>&1 || true
fi
