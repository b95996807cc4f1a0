# setrain GPU worker on libtensorflow (engine `tensorflow`, @tensorflow/tfjs-node-gpu 4.22.0 with
# libtensorflow 2.9.1). Build from the repository root, supplying libtensorflow (see
# infra/docker/libtensorflow/README.md):
#   docker build -f infra/docker/worker-gpu-tensorflow.Dockerfile -t setrain/worker-gpu-tensorflow .
#   docker build -f infra/docker/worker-gpu-tensorflow.Dockerfile \
#     --build-arg TFJS_NODE_CDN_STORAGE=https://mirror.example/ -t setrain/worker-gpu-tensorflow .
#
# CUDA: libtensorflow 2.9.1 was built for CUDA 11.2 / cuDNN 8.1; CUDA 11.x minor-version
# compatibility lets it run on the 11.8 runtime, whose cuBLAS and cuDNN 8.x carry Hopper (sm_90)
# kernels. TF 2.9's own kernels have no sm_90 code: the driver JIT-compiles their PTX on first use
# (minutes), so CUDA_CACHE_PATH points at a volume and the cache is kept between restarts.
# Base images are pinned to exact version tags (see api.Dockerfile on digests).
ARG NODE_IMAGE=node:24.11.1-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:11.8.0-cudnn8-runtime-ubuntu22.04

FROM ${NODE_IMAGE} AS node

# ---- build: dependencies from the lockfile, TypeScript to dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/engine/package.json packages/engine/
COPY packages/engine-native/package.json packages/engine-native/
COPY packages/model/package.json packages/model/
COPY packages/storage/package.json packages/storage/
COPY packages/sweep/package.json packages/sweep/
COPY packages/testing/package.json packages/testing/
COPY apps/worker/package.json apps/worker/
COPY apps/api/package.json apps/api/
COPY apps/cli/package.json apps/cli/
COPY apps/ui/package.json apps/ui/
COPY test/package.json test/
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json ./
COPY packages/protocol/tsconfig.json packages/protocol/
COPY packages/protocol/src packages/protocol/src
# The engine's tests share packages/testing, which its tsconfig references.
COPY packages/testing/tsconfig.json packages/testing/
COPY packages/testing/src packages/testing/src
COPY packages/engine/tsconfig.json packages/engine/
COPY packages/engine/src packages/engine/src
COPY packages/model/tsconfig.json packages/model/
COPY packages/model/src packages/model/src
COPY packages/storage/tsconfig.json packages/storage/
COPY packages/storage/src packages/storage/src
COPY packages/sweep/tsconfig.json packages/sweep/
COPY packages/sweep/src packages/sweep/src
COPY apps/worker/tsconfig.json apps/worker/
COPY apps/worker/src apps/worker/src
RUN npx tsc -b apps/worker

# ---- cuda-node: the CUDA runtime image with Node 20 (binary, npm and headers from the node image) ----
FROM ${CUDA_IMAGE} AS cuda-node
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/npm
COPY --from=node /usr/local/include/node /usr/local/include/node
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
  && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
  && groupadd --gid 1000 node \
  && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \
  && apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates \
  && rm -rf /var/lib/apt/lists/*

# ---- prod-deps: production dependencies + tfjs-node-gpu built against the supplied libtensorflow ----
FROM cuda-node AS prod-deps
# node-gyp builds the tfjs binding from source (its prebuilt binary lives on the same refusing host);
# it takes Node's headers from /usr/local/include/node instead of downloading them.
RUN apt-get update \
  && apt-get install -y --no-install-recommends g++ make python3 \
  && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local \
    npm_config_node_gyp=/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/protocol/package.json packages/protocol/
COPY packages/engine/package.json packages/engine/
COPY packages/engine-native/package.json packages/engine-native/
COPY packages/model/package.json packages/model/
COPY packages/storage/package.json packages/storage/
COPY packages/sweep/package.json packages/sweep/
COPY packages/testing/package.json packages/testing/
COPY apps/worker/package.json apps/worker/
COPY apps/api/package.json apps/api/
COPY apps/cli/package.json apps/cli/
COPY apps/ui/package.json apps/ui/
COPY test/package.json test/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace apps/worker
# tfjs-node-gpu is an optional peer of @setrain/engine, not in the lockfile: added here only.
ARG TFJS_NODE_GPU_VERSION=4.22.0
RUN npm install --no-save --omit=dev --ignore-scripts --no-audit --no-fund \
    --workspace apps/worker "@tensorflow/tfjs-node-gpu@${TFJS_NODE_GPU_VERSION}"
ARG TFJS_NODE_CDN_STORAGE=""
ARG TFJS_NODE_BASE_URI=""
ARG LIBTENSORFLOW_VERSION=2.9.1
COPY infra/docker/libtensorflow/ /tmp/libtensorflow/
COPY infra/docker/install-libtensorflow.sh /usr/local/bin/install-libtensorflow.sh
RUN TFJS_NODE_DIR=/app/node_modules/@tensorflow/tfjs-node-gpu \
    TFJS_NODE_CDN_STORAGE="${TFJS_NODE_CDN_STORAGE}" \
    TFJS_NODE_BASE_URI="${TFJS_NODE_BASE_URI}" \
    LIBTENSORFLOW_VERSION="${LIBTENSORFLOW_VERSION}" \
    bash /usr/local/bin/install-libtensorflow.sh \
  && rm -rf /tmp/libtensorflow /root/.npm

# ---- runtime ----
FROM cuda-node AS runtime
ENV NODE_ENV=production \
    SETRAIN_ENGINE=tensorflow \
    METRICS_PORT=9464 \
    SETRAIN_CACHE_DIR=/var/cache/setrain \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    TF_FORCE_GPU_ALLOW_GROWTH=true \
    TF_CPP_MIN_LOG_LEVEL=1 \
    CUDA_CACHE_PATH=/var/cache/cuda \
    CUDA_CACHE_MAXSIZE=4294967296
WORKDIR /app
COPY --from=prod-deps /app/node_modules node_modules
COPY --from=prod-deps /app/package.json ./
COPY --from=build /src/packages/protocol/package.json packages/protocol/
COPY --from=build /src/packages/protocol/dist packages/protocol/dist
COPY --from=build /src/packages/engine/package.json packages/engine/
COPY --from=build /src/packages/engine/dist packages/engine/dist
COPY --from=build /src/packages/model/package.json packages/model/
COPY --from=build /src/packages/model/dist packages/model/dist
COPY --from=build /src/packages/storage/package.json packages/storage/
COPY --from=build /src/packages/storage/dist packages/storage/dist
COPY --from=build /src/packages/sweep/package.json packages/sweep/
COPY --from=build /src/packages/sweep/dist packages/sweep/dist
COPY --from=build /src/apps/worker/package.json apps/worker/
COPY --from=build /src/apps/worker/dist apps/worker/dist
RUN mkdir -p /var/cache/setrain /var/cache/cuda && chown node:node /var/cache/setrain /var/cache/cuda
USER node
VOLUME ["/var/cache/setrain", "/var/cache/cuda"]
EXPOSE 9464
# start-period covers the first PTX JIT compile on Hopper when the CUDA cache volume is empty.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.METRICS_PORT || 9464) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "apps/worker/dist/main.js"]
