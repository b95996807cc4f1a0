# setrain GPU worker on WebGPU (engine `webgpu`: tfjs-backend-webgpu on Dawn from the npm package
# `webgpu`, over Vulkan). No CUDA pin: only the NVIDIA driver, which the NVIDIA container toolkit
# mounts when NVIDIA_DRIVER_CAPABILITIES includes `graphics`, and the Vulkan loader below.
# Build from the repository root:
#   docker build -f infra/docker/worker-gpu-webgpu.Dockerfile -t setrain/worker-gpu-webgpu .
# Base images are pinned to exact version tags (see api.Dockerfile on digests).
ARG NODE_IMAGE=node:24.11.1-bookworm-slim

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

# ---- prod-deps: only the worker's production dependencies (Dawn ships prebuilt in `webgpu`) ----
FROM ${NODE_IMAGE} AS prod-deps
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
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace apps/worker \
  && npm cache clean --force

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
# The Vulkan loader; the NVIDIA ICD manifest tells it which driver library to open. Naming that one
# manifest (VK_DRIVER_FILES, and VK_ICD_FILENAMES for older loaders) avoids a second copy of the
# same driver when the container toolkit also mounts one under /etc/vulkan/icd.d.
RUN apt-get update \
  && apt-get install -y --no-install-recommends libvulkan1 \
  && rm -rf /var/lib/apt/lists/*
COPY infra/docker/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json
ENV NODE_ENV=production \
    SETRAIN_ENGINE=webgpu \
    METRICS_PORT=9464 \
    SETRAIN_CACHE_DIR=/var/cache/setrain \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics \
    VK_DRIVER_FILES=/usr/share/vulkan/icd.d/nvidia_icd.json \
    VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/nvidia_icd.json \
    XDG_RUNTIME_DIR=/tmp/setrain-xdg-runtime
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
RUN mkdir -p /var/cache/setrain && chown node:node /var/cache/setrain
USER node
VOLUME ["/var/cache/setrain"]
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.METRICS_PORT || 9464) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "apps/worker/dist/main.js"]
