# setrain CPU worker. Engine `auto`: the oneDNN addon (engine `native`, from packages/engine-native)
# when it loads, else wasm. Build from the repository root:
#   docker build -f infra/docker/worker-cpu.Dockerfile -t setrain/worker-cpu .
# Base images are pinned to exact version tags (see api.Dockerfile on digests).
ARG NODE_IMAGE=node:24.11.1-bookworm-slim

# ---- build: dependencies from the lockfile, TypeScript, and the oneDNN addon ----
FROM ${NODE_IMAGE} AS build
# Compiler and oneDNN headers for the native addon (node-gyp ships with npm).
RUN apt-get update \
  && apt-get install -y --no-install-recommends g++ make python3 libdnnl-dev \
  && rm -rf /var/lib/apt/lists/*
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
COPY packages/engine-native/tsconfig.json packages/engine-native/binding.gyp packages/engine-native/
COPY packages/engine-native/src packages/engine-native/src
COPY packages/engine-native/csrc packages/engine-native/csrc
COPY packages/engine-native/scripts packages/engine-native/scripts
COPY packages/model/tsconfig.json packages/model/
COPY packages/model/src packages/model/src
COPY packages/storage/tsconfig.json packages/storage/
COPY packages/storage/src packages/storage/src
COPY packages/sweep/tsconfig.json packages/sweep/
COPY packages/sweep/src packages/sweep/src
COPY apps/worker/tsconfig.json apps/worker/
COPY apps/worker/src apps/worker/src
RUN npx tsc -b apps/worker packages/engine-native
# --strict: a CPU image without its native engine is a build error, not a silent wasm fallback.
RUN npm run build:addon --workspace packages/engine-native

# ---- prod-deps: only the worker's production dependencies ----
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
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    --workspace apps/worker --workspace packages/engine-native \
  && npm cache clean --force

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
# oneDNN and the OpenMP runtime the addon links against.
RUN apt-get update \
  && apt-get install -y --no-install-recommends libdnnl2 libgomp1 \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    SETRAIN_ENGINE=auto \
    METRICS_PORT=9464 \
    SETRAIN_CACHE_DIR=/var/cache/setrain
WORKDIR /app
COPY --from=prod-deps /app/node_modules node_modules
COPY --from=prod-deps /app/package.json ./
COPY --from=build /src/packages/protocol/package.json packages/protocol/
COPY --from=build /src/packages/protocol/dist packages/protocol/dist
COPY --from=build /src/packages/engine/package.json packages/engine/
COPY --from=build /src/packages/engine/dist packages/engine/dist
COPY --from=build /src/packages/engine-native/package.json packages/engine-native/
COPY --from=build /src/packages/engine-native/dist packages/engine-native/dist
COPY --from=build /src/packages/engine-native/build/Release/setrain_native.node packages/engine-native/build/Release/
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
# SIGTERM: the running trial stops at its next batch and goes back to the queue, resumable.
STOPSIGNAL SIGTERM
CMD ["node", "apps/worker/dist/main.js"]
