#!/usr/bin/env bash
# Supplies libtensorflow to @tensorflow/tfjs-node-gpu and builds its Node binding, inside the
# worker-gpu-tensorflow image build. Sources, in order:
#   1. a tarball in the build context ($LIBTENSORFLOW_DIR/$LIBTENSORFLOW_FILE)
#   2. a mirror: TFJS_NODE_CDN_STORAGE or TFJS_NODE_BASE_URI (tfjs-node's install script honours both)
# Google's own host refuses downloads (tensorflow/tfjs#8742), so without one of these it fails.
set -euo pipefail

: "${TFJS_NODE_DIR:?set TFJS_NODE_DIR to the installed @tensorflow/tfjs-node-gpu directory}"
LIBTENSORFLOW_DIR=${LIBTENSORFLOW_DIR:-/tmp/libtensorflow}
LIBTENSORFLOW_VERSION=${LIBTENSORFLOW_VERSION:-2.9.1}
LIBTENSORFLOW_FILE=${LIBTENSORFLOW_FILE:-libtensorflow-gpu-linux-x86_64-${LIBTENSORFLOW_VERSION}.tar.gz}
tarball="$LIBTENSORFLOW_DIR/$LIBTENSORFLOW_FILE"

if [ ! -d "$TFJS_NODE_DIR" ]; then
  echo "install-libtensorflow: $TFJS_NODE_DIR does not exist; install @tensorflow/tfjs-node-gpu first" >&2
  exit 1
fi
cd "$TFJS_NODE_DIR"
# The install script runs `node-pre-gyp` by name, as npm would with node_modules/.bin on PATH.
PATH="$TFJS_NODE_DIR/node_modules/.bin:$TFJS_NODE_DIR/../../.bin:$PATH"
export PATH

if [ -f "$tarball" ]; then
  echo "install-libtensorflow: using $LIBTENSORFLOW_FILE from the build context"
  rm -rf deps
  mkdir -p deps
  tar -xzf "$tarball" -C deps
  if [ ! -f "deps/lib/libtensorflow.so.$LIBTENSORFLOW_VERSION" ]; then
    echo "install-libtensorflow: $LIBTENSORFLOW_FILE holds no lib/libtensorflow.so.$LIBTENSORFLOW_VERSION;" \
      "tfjs-node-gpu 4.22.0 needs libtensorflow $LIBTENSORFLOW_VERSION (GPU, linux x86_64)" >&2
    exit 1
  fi
  # deps/ is populated: the install script skips the download and builds the binding.
  node scripts/install.js gpu
elif [ -n "${TFJS_NODE_CDN_STORAGE:-}" ] || [ -n "${TFJS_NODE_BASE_URI:-}" ]; then
  echo "install-libtensorflow: downloading libtensorflow from ${TFJS_NODE_BASE_URI:-$TFJS_NODE_CDN_STORAGE}"
  node scripts/install.js gpu download
else
  cat >&2 <<MESSAGE
install-libtensorflow: no libtensorflow supplied.
  The worker-gpu-tensorflow image needs libtensorflow $LIBTENSORFLOW_VERSION (GPU, linux x86_64), and
  Google's host refuses downloads (tensorflow/tfjs#8742). Supply it in one of these ways:
    - put $LIBTENSORFLOW_FILE in infra/docker/libtensorflow/ (build context), or
    - docker build --build-arg TFJS_NODE_CDN_STORAGE=https://your-mirror/ ...
      (serving tensorflow/libtensorflow/$LIBTENSORFLOW_FILE), or
    - docker build --build-arg TFJS_NODE_BASE_URI=https://your-mirror/path/libtensorflow- ...
  Or build infra/docker/worker-gpu-webgpu.Dockerfile, which needs no libtensorflow.
MESSAGE
  exit 1
fi

if [ ! -f "deps/lib/libtensorflow.so.$LIBTENSORFLOW_VERSION" ]; then
  echo "install-libtensorflow: libtensorflow.so.$LIBTENSORFLOW_VERSION is missing after the install" >&2
  exit 1
fi
# The binding must load (CUDA itself is only opened when a GPU op runs, so no GPU is needed here).
node -e "require('@tensorflow/tfjs-node-gpu')" || {
  echo "install-libtensorflow: @tensorflow/tfjs-node-gpu was built but does not load" >&2
  exit 1
}
echo "install-libtensorflow: @tensorflow/tfjs-node-gpu is ready"
