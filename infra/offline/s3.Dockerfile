# An S3-compatible server for the offline compose stack, in place of MinIO: s3rver (npm) run by the
# same entry point as `setrain local` (apps/cli/src/local/s3-server-main.ts, through Node 24's type
# stripping). It creates SETRAIN_ARTIFACTS_BUCKET at start. s3rver accepts only the key pair
# S3RVER/S3RVER: set MINIO_ROOT_USER and MINIO_ROOT_PASSWORD to it. A test server, not storage.
ARG NODE_IMAGE=node:24.11.1-bookworm-slim
FROM ${NODE_IMAGE}
WORKDIR /app
RUN echo '{"type":"module","private":true}' > package.json \
  && npm install --no-audit --no-fund --omit=dev s3rver@3.7.1 \
  && npm cache clean --force \
  && mkdir -p /data && chown node:node /data
COPY apps/cli/src/local/s3-server-main.ts main.ts
ENV SETRAIN_ARTIFACTS_BUCKET=setrain
USER node
EXPOSE 9000
HEALTHCHECK --interval=5s --timeout=3s --retries=20 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9000/').then(() => process.exit(0), () => process.exit(1))"]
CMD ["sh", "-c", "exec node --openssl-legacy-provider --disable-warning=ExperimentalWarning main.ts /data 9000 \"$SETRAIN_ARTIFACTS_BUCKET\" 0.0.0.0"]
