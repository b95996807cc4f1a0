import { StorageError } from './storage-error.js';

/** A string that should be an `s3://bucket/key` URI is not one. */
export class S3UriInvalidError extends StorageError {
  readonly code = 'S3_URI_INVALID' as const;

  constructor(
    readonly uri: string,
    readonly reason: string,
  ) {
    super(`invalid S3 URI ${JSON.stringify(uri)}: ${reason} (expected s3://<bucket>/<key>)`);
  }
}
