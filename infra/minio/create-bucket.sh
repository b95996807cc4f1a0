#!/bin/sh
# One-shot job of docker-compose: waits for MinIO, then creates the artifacts bucket (idempotent).
# Runs in the minio/mc image; reads MINIO_ROOT_USER, MINIO_ROOT_PASSWORD, SETRAIN_ARTIFACTS_BUCKET.
set -eu

: "${MINIO_ROOT_USER:?MINIO_ROOT_USER is not set}"
: "${MINIO_ROOT_PASSWORD:?MINIO_ROOT_PASSWORD is not set}"
: "${SETRAIN_ARTIFACTS_BUCKET:?SETRAIN_ARTIFACTS_BUCKET is not set}"
endpoint=${MINIO_ENDPOINT:-http://minio:9000}
attempts=${MINIO_WAIT_ATTEMPTS:-60}

i=0
until mc alias set setrain "$endpoint" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null 2>&1; do
  i=$((i + 1))
  if [ "$i" -ge "$attempts" ]; then
    echo "create-bucket: MinIO at $endpoint did not answer after $attempts attempts" >&2
    exit 1
  fi
  sleep 1
done
mc mb --ignore-existing "setrain/$SETRAIN_ARTIFACTS_BUCKET"
echo "create-bucket: bucket $SETRAIN_ARTIFACTS_BUCKET is ready"
