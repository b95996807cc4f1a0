import { MANIFEST_FILE, parseS3Uri } from '@setrain/protocol';

import { CliError, EXIT_CODES } from '../errors.js';

/** A dataset location given as `s3://bucket/prefix` or `s3://bucket/prefix/manifest.jsonl`. */
export function parseDatasetUri(uri: string): {
  bucket: string;
  prefix: string;
  manifestUri: string;
} {
  const location = parseS3Uri(uri);
  if (!location) {
    throw new CliError(
      `"${uri}" is not an S3 dataset URI; use s3://<bucket>/<prefix>, e.g. s3://setrain/datasets/shapes`,
      EXIT_CODES.usage,
    );
  }
  const key = location.key.replace(/\/+$/, '');
  const prefix = key.endsWith(`/${MANIFEST_FILE}`) ? key.slice(0, -MANIFEST_FILE.length - 1) : key;
  return {
    bucket: location.bucket,
    prefix,
    manifestUri: `s3://${location.bucket}/${prefix}/${MANIFEST_FILE}`,
  };
}
