# setrain API image. Build from the repository root:
#   docker build -f infra/docker/api.Dockerfile -t setrain/api .
# Base images are pinned to exact version tags (no digests: they cannot be resolved from the
# machines this was written on; pin `tag@sha256:...` in your registry mirror if you need
# byte-identical rebuilds).
ARG NODE_IMAGE=node:24.11.1-bookworm-slim

# ---- build: install every dependency from the lockfile, compile TypeScript to dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Every workspace's package.json, so `npm ci` sees the exact tree the lockfile describes.
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
# Install scripts stay off: the API needs no native addon (engine-native's would need oneDNN).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.base.json ./
COPY packages/protocol/tsconfig.json packages/protocol/
COPY packages/protocol/src packages/protocol/src
COPY packages/storage/tsconfig.json packages/storage/
COPY packages/storage/src packages/storage/src
COPY packages/sweep/tsconfig.json packages/sweep/
COPY packages/sweep/src packages/sweep/src
COPY apps/api/tsconfig.json apps/api/
COPY apps/api/src apps/api/src
RUN npx tsc -b apps/api
# The dashboard the API serves at /ui: one esbuild bundle (it reads protocol and sweep sources).
COPY apps/ui/build.mjs apps/ui/
COPY apps/ui/src apps/ui/src
RUN npm run build --workspace apps/ui

# ---- prod-deps: only the API's production dependencies ----
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
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund --workspace apps/api \
  && npm cache clean --force

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0
WORKDIR /app
COPY --from=prod-deps --chown=root:root /app/node_modules node_modules
COPY --from=prod-deps /app/package.json ./
COPY --from=build /src/packages/protocol/package.json packages/protocol/
COPY --from=build /src/packages/protocol/dist packages/protocol/dist
COPY --from=build /src/packages/storage/package.json packages/storage/
COPY --from=build /src/packages/storage/dist packages/storage/dist
COPY --from=build /src/packages/sweep/package.json packages/sweep/
COPY --from=build /src/packages/sweep/dist packages/sweep/dist
COPY --from=build /src/apps/api/package.json apps/api/
COPY --from=build /src/apps/api/dist apps/api/dist
COPY --from=build /src/apps/ui/dist/public apps/ui/dist/public
# The `node` user (uid 1000) ships with the official image; the app files stay root-owned.
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "apps/api/dist/main.js"]
